/* egress.h — the room's composite and full mix, encoded once more for
 * broadcast infrastructure: HLS segments in a directory, or an RTMP push.
 *
 * The egress is a pipeline of its own, fed from the room's raw composite
 * ("vraw" tee of the video mix) and the full mix's Opus ("atee", decoded
 * again: a tee before each mix's encoder broke mix-minus rooms) through
 * appsink/appsrc, on the room's clock and base time so its
 * timestamps stay the room's.  Its errors (an ingest that drops) never
 * reach the room: an RTMP push starts again after a back-off of 1, 2, 4 …
 * 30 s.  It costs one H.264 + AAC encode only while it runs.
 * Main loop only.
 */
#pragma once

#include <glib.h>
#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct _MmEgress MmEgress;

typedef enum {
  MM_EGRESS_HLS,    /* target: a directory, index.m3u8 and segNNNNN.ts */
  MM_EGRESS_RTMP,   /* target: rtmp://… URL */
} MmEgressKind;

/* How it goes: "live" once data flows out, "retrying" after an error
 * (with @detail), "stopped". */
typedef void (*MmEgressState) (MmEgressKind kind, const char *state, const char *detail,
                               gpointer data);

/* Start from @description (a pipelines/ text with appsrc "video" and
 * "audio", and hlssink2 "hls" or rtmp2sink "rtmp").
 * Returns: (transfer full) or NULL with @error. */
MmEgress *mm_egress_start (GMainContext *ctx, GstElement *room, GstBin *video_mix,
                           GstBin *audio_mix, MmEgressKind kind, const char *description,
                           const char *target, MmEgressState state, gpointer data,
                           GError **error);

/* Stop and free: the taps leave the room's tees, the egress ends its
 * stream (an HLS playlist gets its end tag) within a second or two, then
 * says "stopped" (unless @quiet: the room is closing). */
void mm_egress_stop (MmEgress *e, gboolean quiet);

G_END_DECLS
