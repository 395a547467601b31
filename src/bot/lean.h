/* lean.h — mixmeet-bot --viewers: many receive-only viewers on our own
 * transport code, in the client role, on one thread.
 *
 * Each viewer joins through the REST and long-poll API (signal.c's
 * MmBotHttp: one HTTP thread for all), offers receive-only audio and
 * video (sdp.h), does full ICE as the controlling agent with libnice's
 * STUN library on a UDP socket of its own, DTLS (dtls.h) in the role the
 * answer implies, and SRTP (srtp.h) inbound; it sends receiver reports
 * and NACKs (rtcp.h) and counts what arrives (lean-rtp.c).
 *
 * Threads: everything here belongs to the thread that runs
 * mm_bot_lean_run (the default GMainContext): sockets are read there
 * through one epoll descriptor with recvmmsg, timers are one 20 ms tick
 * over all viewers.  Only signal.c's HTTP thread runs elsewhere and it
 * hands its results back to this context.
 *
 * Files: lean.c (the process: options, the loop, the output),
 * lean-viewer.c (one viewer: signalling, DTLS, SRTP), lean-ice.c (its
 * ICE: checks, answers, consent), lean-rtp.c
 * (receive statistics of one RTP stream: loss, frames, NACK), lean-twcc.c
 * (transport-wide cc feedback), lean-link.c (--link: a simulated slow
 * link in the receive path), lean-quality.c (the quality tier a viewer
 * gets and how smooth it is).
 */
#pragma once

#include "bot/bot.h"
#include "transport/dtls.h"
#include "transport/rtcp.h"
#include "transport/srtp.h"

#include <netinet/in.h>
#include <stun/stunagent.h>
#include <sys/socket.h>

/* Packets kept per stream to tell duplicates, gaps and whole frames
 * (a power of two; ~2 s of 720p video at 1.2 Mbit/s). */
#define MM_LEAN_WINDOW 256
#define MM_LEAN_MARKERS 64
#define MM_LEAN_NACKS 128
#define MM_LEAN_MAX_CANDIDATES 8

/* ---- lean-rtp.c: one received stream ---------------------------------- */

typedef struct {
  guint32 ext;               /* extended sequence number */
  guint8 tries;              /* NACKs sent for it */
  gint64 next_us;            /* when to send the next */
} MmLeanNack;

typedef struct {
  gboolean video;            /* count frames and NACK gaps */
  gboolean started;
  guint32 ssrc;
  guint32 base;              /* first extended sequence number */
  guint32 max;               /* highest */
  guint32 slot[MM_LEAN_WINDOW];   /* ext of the packet received in each slot, +1 (0: none) */
  guint64 received;          /* distinct packets */
  guint64 lost;              /* gone out of the window without arriving */
  guint64 late;              /* arrived too old for the window */
  guint64 duplicates;
  /* For the receiver report: at the previous report. */
  guint32 rr_expected_prior;
  guint64 rr_received_prior;
  /* Frames (video): the marker packets seen, in ext order. */
  guint32 markers[MM_LEAN_MARKERS];
  gboolean marker_counted[MM_LEAN_MARKERS];
  guint n_markers;
  guint64 frames;            /* whole frames */
  gint64 last_frame_us;      /* monotonic, 0 before the first */
  gint64 max_gap_us;         /* longest time between two frames, this period */
  /* NACK (video) */
  MmLeanNack nacks[MM_LEAN_NACKS];
  guint n_nacks;
  guint64 nacked;            /* sequence numbers asked for */
  /* --drop-percent */
  guint32 dropped_slot[MM_LEAN_WINDOW];   /* ext + 1 of a packet dropped on purpose */
  guint64 dropped, recovered;
} MmLeanStream;

/* The fixed RTP header fields (the header is not encrypted by SRTP). */
typedef struct {
  gboolean marker;
  guint8 pt;
  guint16 seq;
  guint32 ts;
  guint32 ssrc;
} MmLeanRtp;

gboolean mm_lean_rtp_read (const guint8 *buf, gsize len, MmLeanRtp *h);
/* The 32-bit extension of the 16-bit number @seq nearest @highest (an
 * extended number), or 0 when that would be below 1. */
guint32 mm_lean_seq_extend (guint32 highest, guint16 seq);

void mm_lean_stream_init (MmLeanStream *s, gboolean video);
/* Whether the packet @seq is one this stream has not seen and should be
 * dropped on purpose (--drop-percent; never one dropped before: that is
 * its retransmission).  Counts it when it is dropped. */
gboolean mm_lean_stream_drop (MmLeanStream *s, const MmLeanRtp *h, double percent);
/* A packet of the stream arrived (authenticated or not checked).
 * Returns TRUE when it completed a frame. */
gboolean mm_lean_stream_packet (MmLeanStream *s, const MmLeanRtp *h, gint64 now_us);
/* The sequence numbers whose NACK is due at @now_us, at most @max.
 * Returns how many were written to @seqs. */
guint mm_lean_stream_due_nacks (MmLeanStream *s, gint64 now_us, gint64 retry_us, guint16 *seqs,
                                guint max);
/* A report block on this stream (for a receiver report).  @lsr, @dlsr:
 * from the latest sender report, 0 if none. */
void mm_lean_stream_report_block (MmLeanStream *s, guint32 lsr, guint32 dlsr,
                                  MmRtcpReportBlock *b);
/* Expected and lost so far (lost: settled, gone out of the window). */
guint64 mm_lean_stream_expected (const MmLeanStream *s);

/* ---- lean-twcc.c: transport-wide cc feedback ------------------------- */

/* Transport sequence numbers one feedback describes at most (~5,000
 * packets a second at one feedback every 100 ms). */
#define MM_LEAN_TWCC_SPAN 512

typedef struct {
  guint8 ext_id;             /* the answer's transport-cc extension, 0: none */
  gboolean started;
  guint32 last;              /* highest extended number seen */
  guint32 base;              /* extended number of the next feedback's first status */
  guint n;                   /* statuses recorded for it (from base) */
  gint64 arrival_us[MM_LEAN_TWCC_SPAN];   /* by number - base; 0: not arrived */
  guint8 fb_count;           /* feedback packet count, as sent next */
  guint64 recorded, late, overflows, feedbacks;
} MmLeanTwcc;

void mm_lean_twcc_init (MmLeanTwcc *t, guint8 ext_id);
/* A packet with transport sequence number @seq arrived at @at_us.  One
 * older than what the latest feedback described is late (reported lost
 * already); one more than MM_LEAN_TWCC_SPAN past the first unreported
 * number starts the next feedback anew (the statuses before are given
 * up: an overflow). */
void mm_lean_twcc_record (MmLeanTwcc *t, guint16 seq, gint64 at_us);
/* The feedback on every number from the first unreported one to the
 * highest arrived (those that did not arrive as lost), into @out; the
 * reference time is the first arrived packet's, the deltas in 250 µs
 * units of the monotonic clock.  Returns its length, 0 when nothing
 * arrived since the latest (or @size is too small). */
gsize mm_lean_twcc_write (MmLeanTwcc *t, guint8 *out, gsize size, guint32 sender_ssrc,
                          guint32 media_ssrc);

/* ---- lean-link.c: --link, a simulated slow link ------------------------ */

/* One MTU: the token bucket's depth, so that the link lets out no burst
 * larger than one full packet. */
#define MM_LEAN_LINK_BUCKET 1500

typedef struct {
  gint64 due_us;             /* when the link lets it out */
  gsize len;
  struct sockaddr_storage from;
  socklen_t from_len;
  guint8 data[];
} MmLeanLinkPacket;

/* @p is the link's (transfer none), its data may be changed in place. */
typedef void (*MmLeanLinkDeliver) (MmLeanLinkPacket *p, gpointer data);

typedef struct {
  double bytes_per_us;       /* the rate */
  gsize limit;               /* bytes the queue holds at most */
  double loss_percent;
  GRand *rand;
  gboolean started;
  double tokens;             /* bytes in the bucket at last_us */
  double last_us;            /* the latest departure (at first: the first arrival) */
  GQueue queue;              /* of MmLeanLinkPacket*, owned, in departure order */
  gsize queued;              /* bytes in it */
  guint64 arrived, delivered, delivered_bytes, queue_drops, random_drops;
  gint64 max_delay_us;       /* the longest a packet waited */
  /* mm_lean_link_attach */
  MmLeanLinkDeliver deliver;
  gpointer data;
  GSource *timer;
} MmLeanLink;

/* A link of @kbps (token bucket of MM_LEAN_LINK_BUCKET bytes), a drop-tail
 * queue of @queue_ms at that rate (one MTU at least), and @loss_percent
 * of the arriving datagrams lost at random (from @seed).
 * Returns: (transfer full) */
MmLeanLink *mm_lean_link_new (guint kbps, guint queue_ms, double loss_percent, guint32 seed);
void mm_lean_link_free (MmLeanLink *l);
/* The model, on any clock.  A datagram arrives at @now_us (no earlier
 * than the previous one): it is lost, dropped (the queue is full) or
 * queued; returns when the link lets it out, or -1. */
gint64 mm_lean_link_push (MmLeanLink *l, const guint8 *buf, gsize len,
                          const struct sockaddr_storage *from, socklen_t from_len, gint64 now_us);
/* The next packet out if the link has let it out by @now_us, else NULL.
 * Returns: (transfer full) (free with g_free) */
MmLeanLinkPacket *mm_lean_link_pop (MmLeanLink *l, gint64 now_us);
/* On the default main context: @deliver gets every packet when the link
 * lets it out (from mm_lean_link_receive or a timer). */
void mm_lean_link_attach (MmLeanLink *l, MmLeanLinkDeliver deliver, gpointer data);
/* A datagram arrived (push, then deliver what is due). */
void mm_lean_link_receive (MmLeanLink *l, const guint8 *buf, gsize len,
                           const struct sockaddr_storage *from, socklen_t from_len,
                           gint64 now_us);

/* ---- lean-quality.c: the tier a viewer gets ----------------------------- */

typedef enum {
  MM_LEAN_TIER_NONE,         /* no keyframe yet */
  MM_LEAN_TIER_HIGH,         /* 540 lines or more (1280x720) */
  MM_LEAN_TIER_MEDIUM,       /* 270 or more (640x360) */
  MM_LEAN_TIER_LOW,          /* fewer (320x180) */
  MM_LEAN_TIER_AUDIO_ONLY,   /* no video packet for MM_LEAN_AUDIO_ONLY_US */
  MM_LEAN_N_TIERS
} MmLeanTier;

#define MM_LEAN_AUDIO_ONLY_US (2 * G_USEC_PER_SEC)
#define MM_LEAN_FREEZE_US (300 * 1000)

/* What the viewer saw of the tiers; the figures "after" are since the
 * latest tier change (counted from when it was seen: a keyframe of the
 * new size, or 2 s without video). */
typedef struct {
  MmLeanTier tier;
  guint width, height;       /* of the latest keyframe */
  guint changes;
  gint64 media_us;           /* the first RTP packet, 0: none yet */
  gint64 changed_us;         /* when the latest change happened (its keyframe, the last video) */
  gint64 last_video_us, last_audio_us;
  guint64 video_bytes;       /* all along */
  /* After the latest change. */
  gint64 since_us;
  gint64 last_frame_us;      /* the latest whole frame (at first: since_us) */
  guint64 frames, after_bytes;
  gint64 max_frame_gap_us, max_audio_gap_us;
  gint64 max_audio_gap_at_us;  /* when the longest audio wait ended */
  gint64 max_frame_gap_at_us;  /* when the longest frame wait ended */
  guint freezes;             /* frame gaps over MM_LEAN_FREEZE_US */
  guint keyframes;           /* their first packets seen (the one of the change too) */
  guint64 frame_bytes;       /* of the frame being received (from its first packet) */
  gboolean frame_key;        /* which is a keyframe */
  guint64 max_keyframe_bytes;
} MmLeanQuality;

/* "high", "medium", "low", "audio-only" or "none".  Returns: (transfer none) */
const char *mm_lean_tier_name (MmLeanTier tier);
MmLeanTier mm_lean_tier_of_height (guint height);
/* Whether the VP8 RTP payload @payload (RFC 7741: descriptor, then the
 * frame) is the first packet of a keyframe, and its size (RFC 6386 9.1). */
gboolean mm_lean_vp8_keyframe_size (const guint8 *payload, gsize len, guint *width,
                                    guint *height);
void mm_lean_quality_init (MmLeanQuality *q);
/* A video packet of @bytes arrived at @now_us; @payload (its decrypted
 * VP8 payload, or NULL when it was not decrypted) is looked at for a
 * keyframe's size. */
void mm_lean_quality_video (MmLeanQuality *q, const guint8 *payload, gsize len, gsize bytes,
                            gint64 now_us);
void mm_lean_quality_frame (MmLeanQuality *q, gint64 now_us);
void mm_lean_quality_audio (MmLeanQuality *q, gint64 now_us);
/* Notice a video that stopped (audio-only). */
void mm_lean_quality_tick (MmLeanQuality *q, gint64 now_us);
/* ,"tier":...,"settled_s":...: the figures at @now_us (gaps still going
 * on count), as JSON members. */
void mm_lean_quality_append (const MmLeanQuality *q, GString *out, gint64 now_us);

/* ---- lean-viewer.c: one viewer ---------------------------------------- */

typedef enum {
  MM_LEAN_STEP_JOINED,       /* the REST join answered */
  MM_LEAN_STEP_OFFER,        /* the offer posted */
  MM_LEAN_STEP_ANSWER,       /* the answer arrived */
  MM_LEAN_STEP_ICE,          /* a check of ours was answered */
  MM_LEAN_STEP_DTLS,         /* DTLS connected: SRTP keys */
  MM_LEAN_STEP_FIRST_PACKET, /* the first video packet */
  MM_LEAN_STEP_FIRST_FRAME,  /* the first whole video frame */
  MM_LEAN_N_STEPS
} MmLeanStep;

typedef enum {
  MM_LEAN_IDLE,              /* not started: waits for its turn to join */
  MM_LEAN_JOINING,
  MM_LEAN_NEGOTIATING,       /* offer out, waiting for the answer */
  MM_LEAN_CHECKING,          /* ICE checks out */
  MM_LEAN_DTLS,
  MM_LEAN_CONNECTED,
  MM_LEAN_FAILED,            /* for good (it says why on stderr) */
} MmLeanState;

typedef struct {
  struct sockaddr_storage addr;
  socklen_t addr_len;
  guint8 request[256];       /* the check, resent as is until answered */
  gsize request_len;
  gint64 next_us;
} MmLeanCandidate;

typedef struct _MmLean MmLean;

typedef struct {
  MmLean *lean;
  guint index;
  char *name;
  MmLeanState state;
  gint64 join_start_us;
  gint64 step_us[MM_LEAN_N_STEPS];   /* monotonic, 0: not yet */

  /* Signalling */
  MmBotSession session;
  gboolean joined;
  gboolean polling;          /* a long-poll is out */
  gint64 next_poll_us;       /* when connected: not before */
  gboolean leaving;
  gboolean left;
  guint offers;              /* made so far (a media-failed makes another) */
  gint64 offer_us;           /* when the latest was made */

  /* ICE */
  int fd;
  struct sockaddr_storage local;
  socklen_t local_len;
  char ufrag[9];
  char pwd[25];
  guint64 tie;
  StunAgent stun;
  char *remote_ufrag, *remote_pwd, *remote_fingerprint;
  MmLeanCandidate cands[MM_LEAN_MAX_CANDIDATES];
  guint n_cands;
  int selected;              /* index in cands, -1 before ICE */
  gint64 checks_since_us;    /* ICE gives up 30 s after */
  gint64 next_consent_us;
  gint64 consent_ok_us;
  guint8 consent_request[256];
  gsize consent_len;
  StunTransactionId consent_id;
  gboolean consent_out;
  guint64 consent_lost;      /* consent checks with no answer */

  /* DTLS, SRTP */
  MmDtlsRole role;
  MmDtls *dtls;
  MmSrtp *srtp_in, *srtp_out;
  MmSrtpProfile profile;

  /* Media */
  guint8 video_pt, audio_pt;
  guint32 ssrc;              /* ours, for RTCP */
  MmLeanStream video, audio;
  guint32 sr_lsr[2];         /* middle 32 bits of the latest SR's NTP, video / audio */
  gint64 sr_at_us[2];
  gint64 next_rr_us;
  guint64 packets, bytes;    /* RTP received (after any drop on purpose) */
  guint64 srtp_auth, srtp_replay, srtp_other;   /* unprotect failures */
  guint64 verified, unverified;
  guint64 rtcp_in, rtcp_bad;
  MmLeanTwcc twcc;
  gint64 next_twcc_us;
  gint64 next_remb_us;
  MmLeanQuality quality;
  MmLeanLink *link;          /* --link, or NULL */
  /* Sending audio (--audio-only without --recv-only; lean-speak.c) */
  guint32 audio_ssrc;        /* ours, 0: receive-only */
  gboolean speaker;          /* a tone, else silence */
  guint8 level_ext;          /* the answer's ssrc-audio-level id, 0: none */
  guint16 audio_seq;
  guint32 audio_ts;
  guint tone_at;             /* the next tone frame */
  gint64 next_audio_us;
  guint64 audio_sent, audio_skipped;
  /* The figures of the current period (lean.c reads and resets them). */
  guint period_frames;
  guint period_audio;        /* audio packets received */
  gint64 last_audio_us;      /* the latest one, 0: none yet */
  gint64 audio_gap_us;       /* the longest wait between two, this period */
} MmLeanViewer;

MmLeanViewer *mm_lean_viewer_new (MmLean *lean, guint index, GError **error);
void mm_lean_viewer_free (MmLeanViewer *v);
/* Start joining (the HTTP pool bounds how many at once). */
void mm_lean_viewer_start (MmLeanViewer *v);
/* Every datagram the viewer's socket got. */
void mm_lean_viewer_datagram (MmLeanViewer *v, guint8 *buf, gsize len,
                              const struct sockaddr_storage *from, socklen_t from_len,
                              gint64 now_us);
/* Timers: checks, DTLS, consent, reports, NACK, polls. */
void mm_lean_viewer_tick (MmLeanViewer *v, gint64 now_us);
/* Send @buf to @to from the viewer's socket (a failure is only logged). */
void mm_lean_viewer_send_to (MmLeanViewer *v, const guint8 *buf, gsize len,
                             const struct sockaddr_storage *to, socklen_t to_len);
/* ICE connected on candidate @i: DTLS starts. */
void mm_lean_viewer_ice_connected (MmLeanViewer *v, guint i);
/* Leave the room (a bounded request); @left becomes TRUE when done. */
void mm_lean_viewer_leave (MmLeanViewer *v);
/* The longest wait for a frame now, counting one still going on, and
 * restart the period. */
gint64 mm_lean_viewer_take_gap (MmLeanViewer *v, gint64 now_us);

/* ---- lean-ice.c: one viewer's ICE ---------------------------------------- */

/* No candidates, no selected pair, a fresh STUN agent (a new offer). */
void mm_lean_ice_reset (MmLeanViewer *v);
/* A new ufrag, password and tie-breaker for the next offer. */
void mm_lean_ice_new_credentials (MmLeanViewer *v);
/* "candidate:F 1 udp PRIO ADDR PORT typ host ..." (with or without "a="):
 * check it from now on if it is a UDP candidate of component 1 of our
 * address family; anything else is ignored. */
void mm_lean_ice_add_candidate_text (MmLeanViewer *v, const char *text);
/* A STUN datagram: a check of the server's is answered, an answer to one
 * of ours may connect ICE (mm_lean_viewer_ice_connected). */
void mm_lean_ice_stun (MmLeanViewer *v, const guint8 *buf, gsize len,
                       const struct sockaddr_storage *from, socklen_t from_len);
/* While checking: (re)send the checks that are due. */
void mm_lean_ice_send_checks (MmLeanViewer *v, gint64 now_us);
/* A consent check on the selected pair (the previous one unanswered is
 * counted lost). */
void mm_lean_ice_send_consent (MmLeanViewer *v);

/* ---- lean-speak.c: sending audio ------------------------------------------ */

/* The largest Opus packet sent. */
#define MM_LEAN_MAX_OPUS 400

/* Encode @lean's tone (TONE_FRAMES Opus frames of a @freq Hz sine at
 * @volume) and its level. */
gboolean mm_lean_tone_encode (MmLean *lean, double volume, guint freq, GError **error);
/* Connected: start sending at a random phase. */
void mm_lean_speak_start (MmLeanViewer *v, gint64 now_us);
/* Send the packets due at @now_us. */
void mm_lean_speak (MmLeanViewer *v, gint64 now_us);

/* ---- lean.c: the process ------------------------------------------------ */

struct _MmLean {
  MmBotApp *app;
  const MmBotOptions *opts;
  MmBotHttp *http;
  MmDtlsIdentity *identity;
  MmRtcpParser *rtcp;
  GPtrArray *viewers;        /* of MmLeanViewer*, owned */
  GPtrArray *tone;           /* of GBytes: Opus frames, for speakers (NULL: none send) */
  guint8 tone_level;         /* -dBov */
  int epfd;
  gboolean stopping;
  guint64 dtls_failures, ice_failures, answer_timeouts;
};

void mm_lean_log (MmLeanViewer *v, const char *format, ...) G_GNUC_PRINTF (2, 3);
void mm_lean_debug (MmLeanViewer *v, const char *format, ...) G_GNUC_PRINTF (2, 3);
