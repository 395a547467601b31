/* media.h — a room's media: one GStreamer pipeline per room.
 *
 * Every participant's WebRTC is an endpoint of the process's transport
 * (transport/transport.h, one UDP port); video is decoded and placed on
 * one compositor, encoded and packetised once (VP8) and sent to everyone;
 * audio is decoded and mixed: each participant who sends audio gets a mix
 * of everyone but themselves, everyone else shares one full mix; each mix
 * is encoded once (Opus).
 *
 * Main loop only.  Events for clients (SDP answers, ICE candidates,
 * layout, active speaker) go out through an MmMediaSink.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <gst/gst.h>

#include "core/app.h"
#include "media/egress.h"
#include "media/layout.h"
#include "media/tiers.h"

G_BEGIN_DECLS

typedef struct _MmMedia MmMedia;

typedef struct {
  /* An event for participant @pid only.  @fields: (transfer none) */
  void (*send) (gpointer data, const char *pid, const char *type, JsonObject *fields);
  /* An event for everyone in the room.  @fields: (transfer none) */
  void (*broadcast) (gpointer data, const char *type, JsonObject *fields);
  gpointer data;
  /* (nullable) An event for the room's hosts.  @fields: (transfer none) */
  void (*hosts) (gpointer data, const char *type, JsonObject *fields);
} MmMediaSink;

/* Check that every GStreamer element the media core needs exists; the
 * error names the Debian package of the first one missing. */
gboolean mm_media_check_elements (GError **error);

/* Check that every file of the pipelines directory parses, and that
 * [media] public-ip and ice-addresses are addresses. */
gboolean mm_media_check_pipelines (MmApp *app, GError **error);

/* Build the room's pipeline (composite and full mix) and start it.
 * Returns: (transfer full) or NULL with @error. */
MmMedia *mm_media_new (MmApp *app, const char *code, const MmMediaSink *sink, GError **error);
void mm_media_free (MmMedia *m);

/* Answer @sdp, the offer of participant @pid (VP8 and/or Opus, BUNDLE).
 * An offer mixmeet cannot serve is an error here (MM_ERROR_INVALID_INPUT,
 * naming what is wrong).  The answer (ICE-lite: every candidate in it)
 * goes out through the sink; a connection that fails later (DTLS, no
 * STUN for 30 s) is closed with a "media-failed" event whose "reason"
 * says why, and the client may offer again at once.  From someone
 * already connected, an offer with the same ICE credentials renegotiates
 * that connection (a viewer who starts sending; a second video m-line is a
 * shared screen, shown in the presentation layout while it sends); one
 * with new credentials and the same DTLS certificate is an ICE restart;
 * one with another certificate replaces the connection. */
gboolean mm_media_offer (MmMedia *m, const char *pid, const char *display_name,
                         const char *sdp, GError **error);

/* Is @sdp an offer mixmeet can answer (SDP with VP8 video or Opus audio,
 * bundled, with ICE credentials, a DTLS fingerprint and setup)?
 * *@sends (nullable): does the client send media in it?  Without @sends
 * the offer is checked in full: the error names what is missing or wrong.
 * With @sends only its codecs are, so that a caller may refuse a sender
 * first (mm_media_offer checks the rest). */
gboolean mm_media_check_offer (const char *sdp, gboolean *sends, GError **error);

/* A remote ICE candidate of @pid for m-line @mline: accepted and not
 * needed (ICE-lite learns the client's addresses from its checks). */
gboolean mm_media_add_ice (MmMedia *m, const char *pid, guint mline, const char *candidate,
                           GError **error);

/* Take @pid out of the composite and every mix and close its connection. */
void mm_media_remove (MmMedia *m, const char *pid);

/* Drop @pid's voice from every mix (or put it back). */
void mm_media_set_audio_muted (MmMedia *m, const char *pid, gboolean muted);
/* Let @pid's media into the composite and the mixes, or keep it out (a
 * lecture's presenter made a viewer again). */
void mm_media_set_may_publish (MmMedia *m, const char *pid, gboolean may);
/* Hide @pid's shared screen (or show it again, if it is still sent). */
void mm_media_set_presenting (MmMedia *m, const char *pid, gboolean presenting);
/* Hide @pid's tile (or show it again). */
void mm_media_set_video_muted (MmMedia *m, const char *pid, gboolean muted);

gboolean mm_media_set_layout (MmMedia *m, MmLayoutKind kind);

/* What @pid receives of the composite (media/tiers.h): its @quality and
 * the best tier the host allows it (@cap; MM_TIER_HIGH for no cap).  Say
 * it before each offer of @pid and whenever it changes: a change moves it
 * at once where it can.  A "tier" event tells it where it is, a
 * "receiver" event the hosts. */
void mm_media_set_quality (MmMedia *m, const char *pid, MmQuality quality, MmTier cap);
/* Is tier @t being encoded now (someone receives it, or did lately)? */
gboolean mm_media_tier_active (MmMedia *m, MmTier t);
/* What each receiver gets: participant_id, display_name, tier, quality,
 * estimate_kbps, loss_percent.  Returns: (transfer full) */
JsonArray *mm_media_receivers (MmMedia *m);
/* Receivers on @t, with those about to switch to it. */
guint mm_media_tier_receivers (MmMedia *m, MmTier t);

/* Recording: a tap on the encoded composite and the full mix, written to
 * @path as WebM (media/recorder.h).  @done is called on the main loop once
 * the file is finished: after mm_media_record_stop, or when the room's
 * media closes (the last one left, the server stops). */
typedef void (*MmMediaRecorded) (const char *path, gint64 bytes, gint64 duration_ms,
                                 const char *error, gpointer data);
gboolean mm_media_record_start (MmMedia *m, const char *path, MmMediaRecorded done,
                                gpointer data, GError **error);
gboolean mm_media_record_stop (MmMedia *m, GError **error);
gboolean mm_media_is_recording (MmMedia *m);

/* Egress (media/egress.h): HLS into the directory @target, or an RTMP
 * push to the URL @target, encoded from the raw composite and full mix
 * while it runs.  @state hears how it goes until it is stopped (not when
 * the room's media closes). */
gboolean mm_media_egress_start (MmMedia *m, MmEgressKind kind, const char *target,
                                MmEgressState state, gpointer data, GError **error);
gboolean mm_media_egress_stop (MmMedia *m, MmEgressKind kind, GError **error);
gboolean mm_media_egress_on (MmMedia *m, MmEgressKind kind);

guint mm_media_n_peers (MmMedia *m);
/* Does @pid have a connection (not one being closed)? */
gboolean mm_media_has_peer (MmMedia *m, const char *pid);

/* The room's pipeline, for readers of its figures (media/stats.h).
 * Returns: (transfer none) */
GstElement *mm_media_pipeline (MmMedia *m);

G_END_DECLS
