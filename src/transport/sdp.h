/* sdp.h — the SDP our own transport speaks: an offer read into a plain
 * struct, our answer (the ICE-lite server) and a receive-only offer (a lean
 * client), on GStreamer's GstSDPMessage (gst/sdp/sdp.h).
 *
 * Only what mixmeet uses is read: per m-line VP8 or Opus, its feedback,
 * the extensions we echo, the remote's SSRCs; for the session the ICE
 * credentials and DTLS fingerprint of the BUNDLE transport.  An offer we
 * cannot serve is an MM_ERROR_INVALID_INPUT error whose message says why,
 * never a crash: the text comes from the network.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Limits on what mm_sdp_parse accepts; its errors name them. */
#define MM_SDP_MAX_TEXT (64 * 1024)      /* bytes of SDP */
#define MM_SDP_MAX_MEDIA 16              /* m-lines */
#define MM_SDP_MIN_UFRAG 4               /* RFC 8839 */
#define MM_SDP_MAX_UFRAG 256
#define MM_SDP_MIN_PWD 22
#define MM_SDP_MAX_PWD 256
#define MM_SDP_MAX_MID 64

typedef enum {
  MM_SDP_SETUP_NONE,
  MM_SDP_SETUP_ACTPASS,
  MM_SDP_SETUP_ACTIVE,
  MM_SDP_SETUP_PASSIVE,
} MmSdpSetup;

typedef enum {
  MM_SDP_AUDIO,
  MM_SDP_VIDEO,
  MM_SDP_OTHER,     /* application (data channels), text, ...: always rejected */
} MmSdpKind;

typedef struct {
  guint index;                   /* of the m-line, from 0 */
  MmSdpKind kind;
  char *mid;
  /* Port 0 and not bundle-only, or no codec we take (VP8 for video, Opus
   * for audio). */
  gboolean rejected;
  /* The remote's direction, from ITS point of view: sendrecv → both,
   * sendonly → sends, recvonly → receives, inactive → neither. */
  gboolean sends, receives;
  guint8 pt;                     /* the VP8 or Opus payload type (first offered) */
  /* a=rtcp-fb for pt (or *): nack, nack pli, ccm fir, goog-remb, transport-cc */
  gboolean fb_nack, fb_pli, fb_fir, fb_remb, fb_twcc;
  /* a=extmap ids, 0 if absent (ext_audio_level: audio m-lines only) */
  guint8 ext_mid, ext_twcc, ext_abs_send_time, ext_audio_level;
  /* The remote's media SSRC (a=ssrc; with a=ssrc-group:FID the first of the
   * group), 0 if none; the FID's second (its retransmissions), 0 if none. */
  guint32 ssrc;
  guint32 rtx_ssrc;
  char *msid;                    /* a=msid ("stream track"), or NULL */
  /* The m= line as offered ("video", "UDP/TLS/RTP/SAVPF", "96 97 ..."):
   * what an answer repeats for an m-line it rejects. */
  char *media, *proto, *formats;
} MmSdpMedia;

typedef struct {
  /* Of the BUNDLE transport: the first m-line of the group (RFC 8843),
   * else the session level, else the first m-line's. */
  char *ice_ufrag, *ice_pwd;
  gboolean ice_lite;
  char *fingerprint;             /* "sha-256 AB:CD:..." (hash lowercase, hex uppercase) */
  MmSdpSetup setup;
  gboolean bundle;               /* a=group:BUNDLE covers every accepted m-line */
  GPtrArray *media;              /* (element-type MmSdpMedia), in m-line order */
  /* "candidate:..." strings (without "a=") of any m-line, for a full ICE
   * client reading our answer; empty, never NULL. */
  GStrv candidates;
} MmSdpSession;

/* Read @text, an offer or an answer.
 * Returns: (transfer full) or NULL with @error (MM_ERROR_INVALID_INPUT). */
MmSdpSession *mm_sdp_parse (const char *text, GError **error);
void mm_sdp_session_free (MmSdpSession *s);

/* The first m-line of @kind that is not rejected, or NULL.
 * Returns: (transfer none) */
const MmSdpMedia *mm_sdp_first (const MmSdpSession *s, MmSdpKind kind);

/* What we answer for one offered m-line. */
typedef struct {
  gboolean accept;               /* FALSE: port 0, no attribute but a=mid */
  gboolean we_send, we_receive;
  guint32 ssrc;                  /* ours, when we_send */
  const char *msid_stream, *msid_track;  /* when we_send */
} MmSdpAnswerMedia;

typedef struct {
  const char *ice_ufrag, *ice_pwd;
  const char *fingerprint;       /* "sha-256 AB:CD:..." */
  MmSdpSetup setup;              /* ACTIVE or PASSIVE: mm_sdp_answer_setup */
  const char *const *candidates; /* "candidate:..." without "a=" (NULL-terminated) */
  const char *cname;
  const MmSdpAnswerMedia *media; /* one per offered m-line */
  guint n_media;
} MmSdpAnswerParams;

/* Our answer to @offer as the ICE-lite server: session-level a=ice-lite,
 * BUNDLE of the accepted m-lines, each with the single chosen payload type,
 * the feedback and extensions the offer had that we use, our SSRC when we
 * send, every candidate and a=end-of-candidates.  An m-line the offer
 * rejected, or past @p->n_media, is rejected.
 * Returns: (transfer full): the text, lines ending in CRLF. */
char *mm_sdp_build_answer (const MmSdpSession *offer, const MmSdpAnswerParams *p);

typedef struct {
  const char *ice_ufrag, *ice_pwd;
  const char *fingerprint;       /* "sha-256 AB:CD:..." */
  gboolean audio, video;         /* which m-lines (audio first) */
  guint8 audio_pt, video_pt;     /* 0: 111 and 96 */
  gboolean twcc;                 /* offer transport-cc and its extension */
  guint32 audio_ssrc;            /* non-zero: we send audio too, from this SSRC */
  guint8 ext_audio_level;        /* non-zero: offer ssrc-audio-level with this id */
} MmSdpOfferParams;

/* An offer for the client role: BUNDLE, rtcp-mux, setup:actpass, no
 * candidates (the server is ICE-lite: we send the checks to the
 * candidates of its answer).  Receive-only, but for audio sendrecv with
 * a=ssrc and a=msid when @p->audio_ssrc is set.
 * Returns: (transfer full): the text, lines ending in CRLF. */
char *mm_sdp_build_offer (const MmSdpOfferParams *p);

/* The setup we take in answer to @offered: ACTPASS → PASSIVE (the browser
 * starts DTLS), ACTIVE → PASSIVE, PASSIVE → ACTIVE; NONE → PASSIVE. */
MmSdpSetup mm_sdp_answer_setup (MmSdpSetup offered);

/* "actpass", "active", "passive" or NULL for NONE.
 * Returns: (transfer none) */
const char *mm_sdp_setup_to_string (MmSdpSetup setup);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MmSdpSession, mm_sdp_session_free)

G_END_DECLS
