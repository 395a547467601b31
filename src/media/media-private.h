/* media-private.h — what the files of a room's media share: the room
 * (MmMedia), its participants (Peer) with their inputs, and the branches
 * between tees and consumers; and the functions that cross those files.
 * media.h is the public API; nothing outside src/media/ includes this.
 *
 *   media.c     the room: made and freed, bus, keyframes, recording and
 *               egress hooks, the public setters
 *   pipeline.c  pipeline files into bins, request pads, latency
 *   branch.c    tee → consumer branches: made, contained, detached
 *   send.c      payloaded packets of a sink, to an MmStream
 *   compose.c   the composite: layout, tiles, screens, name cards
 *   mix.c       the mixes, the voices in them, the active speaker
 *   peer.c      a participant: its endpoint, closing, leaving
 *   input.c     a participant's incoming media: appsrc bins, feedback
 *   offer.c     offers and answers
 *
 * Threads: the main loop, unless a prototype says otherwise.
 */
#pragma once

#include "core/options.h"
#include "media/media.h"
#include "media/probe.h"
#include "media/tiers.h"
#include "media/recorder.h"
#include "transport/sdp.h"
#include "transport/transport.h"

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct _Peer Peer;

typedef struct {
  MmMedia *m;
  GstElement *bin;        /* the branch's own elements, in the pipeline */
  GstBin *src_bin;        /* holds the tee */
  GstElement *tee;
  GstPad *tee_pad;        /* request pad of the tee */
  GstPad *src_ghost;      /* on src_bin, targets tee_pad */
  GstBin *sink_bin;       /* holds the consumer, or NULL for a top-level one */
  GstElement *sink_el;    /* compositor or audiomixer */
  GstPad *sink_pad;       /* request pad of the consumer */
  GstPad *sink_ghost;     /* on sink_bin, targets sink_pad (or NULL) */
  Peer *owner;            /* a removal that waits for this branch */
  gint detaching;         /* TRUE, then 2 once unlinked (atomic) */
  gint failed;            /* its first failure was posted (atomic) */
} Branch;

/* A mix of voices (mix.c): the room's shared one, or a speaker's slot. */
typedef struct {
  GstBin *bin;                /* pipelines/audio-mix */
  MmStream *stream;           /* its packets, to whoever hears it */
  gboolean ready;             /* its output is negotiated: voices may join */
  Peer *listener;             /* a slot's speaker (no ref), NULL: free, or the shared mix */
  GPtrArray *voices;          /* Voice*: the voices in it (not those fading out) */
  GstPad *caps_pad;           /* its mixer's output, watched until it has caps */
  gulong caps_handler;
} Mix;

typedef struct _Fade Fade;

/* One voice in one mix: a branch from its decoder's tee into the mix's
 * audiomixer, which fades in when it is made and out before it goes. */
typedef struct {
  Branch *branch;
  Peer *from;                 /* no ref: it lives in from->voices */
  Mix *mix;                   /* NULL once it fades out */
  Fade *fade;                 /* the probe's state (the probe owns it) */
  gboolean fading;            /* out of its mix; a timer detaches it */
} Voice;

/* What a participant sends: its camera, its voice, a shared screen. */
typedef enum {
  IN_CAMERA,
  IN_VOICE,
  IN_SCREEN,
  N_INPUTS
} InputRole;

/* Feedback from an input to the participant who sends it (input_feedback). */
typedef struct {
  MmEndpoint *ep;           /* owned */
  gint ssrc;                /* atomic: the sender's SSRC once known, else 0 */
  gint64 last_request_us;   /* of a keyframe (its streaming thread only) */
} Feedback;

/* An input as the transport thread sees it: under the peer's in_lock. */
typedef struct {
  GstElement *appsrc;       /* owned: the packets go in here; NULL once stopped */
  Feedback *fb;             /* owned by the appsrc's pad probe */
  guint8 pt;
  guint32 ssrc;             /* 0 until known (a=ssrc, or the first packet) */
  char mid[MM_SDP_MAX_MID + 1];   /* of its m-line (the MID header extension) */
  gboolean seen;            /* a packet arrived: the bin is in use */
  /* A voice's level as its sender says (RFC 6464 ssrc-audio-level). */
  guint8 level_ext;         /* the extension's id, 0: not negotiated */
  guint loudness;           /* 127 + dBov, held and falling 1 dB a packet */
  gint64 claimed_us;        /* its latest packet with a level */
  gboolean skip;            /* not decoded: its packets are dropped here (mix.c) */
} Input;

struct _Peer {
  gint ref_count;
  MmMedia *m;
  MmApp *app;
  char *id;
  char *name;
  guint order;
  gboolean removed;

  MmEndpoint *ep;             /* its connection (owned) */
  gboolean connected;         /* ICE and DTLS done */
  char *ice_ufrag;            /* of the client's offer: the same in a re-offer
                               * means the same connection, renegotiated */
  char *fingerprint;          /* of its certificate: the same with another ufrag
                               * is an ICE restart */
  MmSdpSetup setup;           /* our DTLS role, kept for every answer */
  guint32 video_ssrc;         /* ours towards it */
  guint32 audio_ssrc;
  gboolean video_sub;         /* it receives m->video_stream */
  MmStream *audio_stream;     /* the mix it hears (the shared one or its
                               * slot's), or NULL */
  GMutex in_lock;
  Input inputs[N_INPUTS];     /* under in_lock */
  GstBin *input_bins[N_INPUTS];   /* owned refs, main loop */
  guint8 mid_ext;             /* the MID header extension's id, or 0 */
  guint n_mlines;             /* of the last offer: a new one may not have fewer */
  MmProbeRtp *probe_in;

  gboolean sends_audio, sends_video, wants_audio, wants_video;
  gint video_mline, audio_mline;  /* m-lines of the composite and the mix out, or -1 */
  gint screen_mline;          /* a second video m-line: a shared screen, or -1 */
  gboolean presenting;        /* the client sends on it */
  gboolean screen_paused;     /* the client said it stopped (state presenting=false) */
  GstBin *screen_in;          /* its decoder bin, once it arrives */
  Branch *screen_tile;        /* screen_in → compositor */

  /* K+1 mixing (mix.c). */
  gint slot;                  /* its place among the K speakers in the mix, or -1 */
  gint64 set_since_us;        /* when it took it */
  gint64 left_set_us;         /* when it left it (it hears the shared mix a little later) */
  gint64 spoke_us;            /* its voice was last above the speech threshold */
  guint louder_ticks;         /* ticks it has been louder than the quietest speaker */
  gboolean decoding;          /* its voice is decoded (else only its claims are read) */
  gint64 decode_since_us;     /* decoded, or not, since */
  gint64 false_claim_since_us;   /* claims speech, decodes to silence, since */
  gint64 distrust_until_us;   /* its claims do not make it a candidate until then */
  GstBin *video_in;           /* decoder bins (of input_bins), once media arrives */
  GstBin *audio_in;
  Branch *tile;               /* video_in → compositor */
  GstElement *card;           /* placeholder under the tile (name card) */
  GstPad *card_pad;           /* its compositor pad, and the ghost of it */
  GstPad *card_ghost;
  gulong card_block;          /* holds its first frame until it is linked, or 0 */
  GPtrArray *voices;          /* Voice*: audio_in → mixes (those fading out too) */

  gboolean audio_muted;
  gboolean video_muted;
  gboolean blocked;           /* may not publish now (a lecture's viewer) */
  gdouble level_db;           /* smoothed */
  guint pending_detach;       /* branches still detaching before teardown */

  /* What it receives of the composite (tiers.c). */
  MmQuality quality;          /* its choice */
  MmTier cap;                 /* the best the host allows it */
  MmTier tier;                /* the tier it receives, as last seen */
  MmTier want;                /* the tier it was last asked to go to */
  gboolean told;              /* "tier" was sent since it connected */
  MmTier told_tier;           /* and which */
  gint64 tier_since_us;       /* when it reached @tier or was asked to move */
  gint64 bad_since_us;        /* since when its link is too weak for @tier, or 0 */
  gboolean draining;          /* moved down from a queue, which has not drained yet */
  gint64 keyframe_at_us;      /* the keyframe of that move is asked for from then on */
  gint64 next_up_us;          /* no move up before this */
  guint up_backoff_s;         /* doubles when a move up fails soon */
  gint64 last_up_us;
  gint64 last_probe_us;
  MmEndpointLink link;        /* the latest reading */
  /* Its uplink (tiers.c): asked to send less while it loses. */
  gint64 uplink_bad_since_us;
  gint64 uplink_good_since_us;
  guint uplink_step;          /* 0: no limit; 1, 2: lower and lower */
  /* The size of its camera's tile (since when), and what it was last
   * asked to send at most (compose.c: "video-size"), 0: not asked. */
  gint tile_width, tile_height;
  gint64 tile_since_us;
  gint asked_width, asked_height;
};

/* One tier of the composite: its encoder and stream (tiers.c). */
typedef struct {
  gboolean exists;
  gint width, height, framerate, bitrate_kbps;
  GstElement *bin;            /* medium and low: scaler and encoder, or NULL */
  GstElement *venc;           /* (owned) NULL for audio only */
  GstPad *tee_pad;            /* (owned) its request pad on "vraw", or NULL */
  GstPad *gate_ghost;
  GstPad *gate;               /* (owned) where frames are let on, or NULL (always on) */
  gint active;                /* atomic: frames go in */
  gint64 idle_since_us;       /* no receiver since, or 0 */
  gint64 last_keyframe_us;    /* streaming threads */
  gint keyframe_pending;      /* atomic: one was asked for within the interval */
  guint64 measured_bps;       /* what it sent over a second lately, 0: never ran */
  MmStream *stream;           /* high: the room's video_stream (not owned here) */
  MmMedia *m;
} Tier;

struct _MmMedia {
  gint ref_count;
  gboolean closed;
  MmApp *app;
  char *code;
  MmMediaSink sink;
  GstElement *pipeline;
  GstBin *video_mix;
  GstElement *compositor;
  GstElement *venc;
  GstElement *vtee;
  GstBin *full_mix;           /* the shared mix's bin (egress and recordings tap it) */
  MmStream *video_stream;     /* the composite's packets, to every receiver */
  MmStream *audio_stream;     /* the shared mix's, to everyone not among the K */
  Mix shared;                 /* the K speakers, for everyone else */
  Mix *slots[MM_MIX_MAX_SPEAKERS];  /* each speaker's: the other K-1; made when first needed */
  guint mix_timer;
  GHashTable *peers;          /* id → Peer* (owned ref) */
  GPtrArray *leaving;         /* Peer*: out of peers, not torn down yet (no ref) */
  guint next_order;
  guint bus_watch;
  gint64 last_keyframe_us;
  gint venc_taps;             /* atomic: recording and egresses, which need the encoder */
  gboolean venc_idle;         /* its streaming thread: no frame went in lately */
  MmLayoutKind layout;
  char *active_speaker;
  guint speaker_candidate_ticks;
  char *speaker_candidate;
  JsonObject *layout_event;   /* the latest "layout", for newcomers */
  MmRecorder *recorder;       /* while recording */
  MmEgress *egress[2];        /* by MmEgressKind, while on */
  MmMediaRecorded recorded;   /* told when a recording is finished */
  gpointer recorded_data;
  gboolean auto_presentation; /* a screen share switched to presentation */
  MmLayoutKind layout_before; /* and the layout to go back to after it */
  Tier tiers[MM_N_TIERS];     /* high, medium, low, audio only */
  guint tier_timer;
  GHashTable *prefs;          /* pid → what mm_media_set_quality said (packed) */
};

/* A participant's work handed to the main loop (mm_app_run_main). */
typedef struct {
  Peer *p;                  /* a reference */
  char *text;
  InputRole role;
} Hop;

/* ---- media.c: the room ------------------------------------------------- */

/* Log for room @m (media/log.h). */
void mm_media_room_log (MmMedia *m, GLogLevelFlags level, const char *format, ...)
  G_GNUC_PRINTF (3, 4);

/* Drop a reference to @m (mm_media_new's, or one a branch being detached
 * took): the last one frees what the stopped pipeline leaves. */
void mm_media_unref (MmMedia *m);

/* Ask the composite's encoder for a keyframe (held to one per
 * keyframe-interval).  Main loop or transport thread. */
void mm_media_force_keyframe (MmMedia *m);

/* ---- tiers.c: the composite's tiers and who receives which ------------- */

/* Build the medium and low tiers (pipelines/tier.pipeline) from the raw
 * composite, and the streams of all four, siblings of m->video_stream. */
gboolean mm_tiers_build (MmMedia *m, GError **error);
/* Start choosing: a timer on the main loop. */
void mm_tiers_start (MmMedia *m);
/* Stop the timer and free the streams but high's (the pipeline has stopped). */
void mm_tiers_free (MmMedia *m);
/* @p receives the composite as payload type @pt: on the tier its
 * choice allows first. */
void mm_tiers_add_receiver (Peer *p, guint8 pt);
/* A keyframe of the tier @p receives (it connected). */
void mm_tiers_keyframe_for (Peer *p);

/* ---- pipeline.c: pipeline files, request pads, latency ----------------- */

/* Read pipelines/@name.pipeline: comments dropped, ${VAR} replaced from
 * @vars (NULL-terminated name, value pairs).
 * Returns: (transfer full) or NULL with @error. */
char *mm_pipeline_load_description (MmMedia *m, const char *name, const char *const *vars,
                                    GError **error);
/* pipelines/@name.pipeline parsed into a bin with "sink" and "src" ghost
 * pads where it has such unlinked pads.
 * Returns: (transfer floating) or NULL with @error. */
GstBin *mm_pipeline_make_bin (MmMedia *m, const char *name, const char *const *vars,
                              GError **error);
/* A request pad of @el (inside @bin, or top-level when @bin is NULL),
 * ghosted on @bin as *@ghost (transfer none: the bin's) so that things
 * outside can link to it.  Returns: (transfer full) */
GstPad *mm_pipeline_request_pad (GstBin *bin, GstElement *el, const char *templ, GstCaps *caps,
                                 GstPad **ghost);
/* Release what mm_pipeline_request_pad gave; takes @pad's reference. */
void mm_pipeline_release_pad (GstBin *bin, GstElement *el, GstPad *pad, GstPad *ghost);
/* Stop @bin (nullable) and take it out of the room's pipeline. */
void mm_pipeline_remove_bin (MmMedia *m, GstElement *bin);
/* A mixer has a new input: work the pipeline's latency out again. */
void mm_pipeline_relatency (MmMedia *m);
/* Give @mixer the latency floor every input's decoding needs. */
void mm_pipeline_set_upstream_floor (MmMedia *m, GstElement *mixer);

/* ---- branch.c: tee → consumer ----------------------------------------- */

/* Connect tee @tee_name of @src_bin through a new bin from pipelines/@desc
 * to @sink_pad, a request pad of @sink_el (inside @sink_bin or top-level).
 * Takes ownership of @sink_pad (and @sink_ghost), also on failure.
 * Returns: (transfer full) or NULL with @error. */
Branch *mm_branch_new (MmMedia *m, GstBin *src_bin, const char *tee_name, const char *desc,
                       const char *const *vars, GstBin *sink_bin, GstElement *sink_el,
                       GstPad *sink_pad, GstPad *sink_ghost, GError **error);
/* Take @b (transfer full) out now: its tee carries no data any more, or
 * its consumer goes with it. */
void mm_branch_free_now (Branch *b, gboolean release_sink);
/* Detach @b (transfer full) from a tee that keeps running for others;
 * @owner (nullable) hears mm_peer_detach_done once it is gone. */
void mm_branch_detach (Branch *b, Peer *owner, gboolean release_sink);
/* @b (nullable) is about to stop: its failures are no longer reported. */
void mm_branch_quiet (Branch *b);
/* The source of @b has stopped for good: an end of stream through it, so
 * that its consumer waits for it no more (a compositor or mixer in live
 * mode waits for every pad up to its latency, each frame: the composite
 * would stall for a participant who left until its tile is taken out). */
void mm_branch_end (Branch *b);

/* ---- send.c: to the transport ----------------------------------------- */

/* Hand what reaches the sink @name of @bin to @stream (transfer none: it
 * must outlive the bin's data flow), noting packets for @probe_name
 * (nullable).  Streaming thread from then on. */
gboolean mm_send_attach (GstBin *bin, const char *name, MmStream *stream, const char *probe_name,
                         GError **error);

/* ---- compose.c: the composite ----------------------------------------- */

/* Does @p's shared screen show in the composite? */
gboolean mm_compose_shows_screen (const Peer *p);
/* Hide everything of @p's on the compositor: camera, name card, screen. */
void mm_compose_hide_peer (Peer *p);
/* Place every tile again and tell everyone the "layout". */
void mm_compose_relayout (MmMedia *m);
/* Twice a second (tiers.c): @p is asked for its camera's tile size once
 * the tile has kept it for a while. */
void mm_compose_tick (Peer *p, gint64 now);
/* A screen share started or ended: the layout may switch; relayout. */
void mm_compose_screens_changed (MmMedia *m);
/* @bin (transfer none: @p's input bin) is @p's camera, or its shared
 * screen, now carrying media: a tile of its own. */
void mm_compose_add_camera (MmMedia *m, Peer *p, GstBin *bin);
/* Every frame into @compositor's sink @pad (both transfer none) stamped
 * with its arrival and a long duration, and no latency said for it: the
 * compositor shows it at once, until a newer one comes (compose.c). */
void mm_compose_tile_timing (GstElement *compositor, GstPad *pad);
/* @bin's (transfer none) "size" capsfilter to @width x @height, made
 * even: at once if its branch has not negotiated yet, otherwise before
 * the branch's next frame, in its streaming thread. */
void mm_compose_size_branch (GstElement *bin, gint width, gint height);
void mm_compose_add_screen (MmMedia *m, Peer *p, GstBin *bin);
/* @p's name card, under its camera's tile; added and removed. */
void mm_compose_add_card (MmMedia *m, Peer *p);
void mm_compose_remove_card (MmMedia *m, Peer *p);

/* A voice's level as its sender says, in dBFS (-127: silent or quiet for
 * a while), if it says any (FALSE: no ssrc-audio-level extension). */
gboolean mm_input_voice_claim (Peer *p, gdouble *db);
/* Decode @p's voice, or drop its packets before its jitter buffer (the
 * buffer starts afresh when they come back: pipelines/audio-in). */
void mm_input_set_decode (Peer *p, gboolean decode);

/* ---- mix.c: the mixes and the active speaker -------------------------- */

/* The shared mix (m->full_mix, m->audio_stream), and the choice of the
 * K speakers every 100 ms from then on. */
void mm_mix_start (MmMedia *m);
/* Before the pipeline stops: no more choices. */
void mm_mix_stop (MmMedia *m);
/* Everything of the mixes, and of @p's voices, without ceremony (the
 * pipeline is stopped). */
void mm_mix_free (MmMedia *m);
void mm_mix_free_voices (Peer *p);
/* The stream @p should hear: its slot's, or the shared mix's. */
MmStream *mm_mix_stream_for (Peer *p);
/* @bin (transfer none: @p's input bin) is @p's voice, now carrying media:
 * a candidate for the mix. */
void mm_mix_add_voice (MmMedia *m, Peer *p, GstBin *bin);
/* @p was muted, unmuted, blocked or unblocked: in or out of the mix. */
void mm_mix_set_voice_muted (Peer *p);
/* @p leaves the room: out of the mix, its voices detached (owner @p). */
void mm_mix_remove_peer (Peer *p);
/* Whether @o is the bin of one of @p's voices. */
gboolean mm_mix_is_voice_of (Peer *p, GstObject *o);
/* A "level" element message of a voice: the active speaker may change. */
void mm_mix_on_level (MmMedia *m, GstMessage *msg);

/* ---- peer.c: a participant -------------------------------------------- */

/* Log for participant @p of its room (media/log.h). */
void mm_peer_log (Peer *p, GLogLevelFlags level, const char *format, ...) G_GNUC_PRINTF (3, 4);

/* A participant and its endpoint, from @offer (transfer none); not in
 * the room's table yet.  Returns: (transfer full) or NULL with @error. */
Peer *mm_peer_new (MmMedia *m, const char *pid, const char *display_name,
                   const MmSdpSession *offer, GError **error);
/* Any thread.  Returns: (transfer full) */
Peer *mm_peer_ref (Peer *p);
/* Main loop (a peer's last reference is dropped there). */
void mm_peer_unref (gpointer p);
/* A Hop holding a reference to @p; freed with mm_peer_hop_free.
 * Any thread.  Returns: (transfer full) */
Hop *mm_peer_hop_new (Peer *p);
void mm_peer_hop_free (gpointer hop);
/* The peer whose elements include @obj, or NULL.  Returns: (transfer none) */
Peer *mm_peer_of (MmMedia *m, GstObject *obj);
/* Close @p's connection and tell its client why ("media-failed"). */
void mm_peer_close (Peer *p, const char *why);
/* Close @p's connection as the room closes: nothing goes to it any more
 * and its inputs stop. */
void mm_peer_stop_connection (Peer *p);
/* One of the branches @p waited for is gone: the last tears @p down. */
void mm_peer_detach_done (Peer *p);

/* ---- input.c: incoming media ------------------------------------------ */

/* The receiving end of the m-line @md (transfer none) @p sends on. */
gboolean mm_input_add (Peer *p, InputRole role, const MmSdpMedia *md, GError **error);
/* No packet reaches @p's inputs any more, and their bins stop. */
void mm_input_stop_all (Peer *p);
/* Transport thread: an RTP packet from @p (@data), unprotected. */
void mm_input_on_rtp (MmEndpoint *ep, const guint8 *buf, gsize len, gpointer data);

G_END_DECLS
