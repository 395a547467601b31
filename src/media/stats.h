/* stats.h — a room's media figures for /metrics, read from its pipeline
 * from the outside: pad probes on the compositor and the encoder (frames,
 * encode time, keyframes).  RTP figures are the transport's.
 *
 * Threads: new, poll, read and free on the main loop; the probes run on
 * streaming threads and keep their figures under a lock of their own.
 */
#pragma once

#include <gst/gst.h>

#include "core/prom.h"

G_BEGIN_DECLS

typedef struct _MmMediaStats MmMediaStats;

/* Watch @pipeline (transfer none; a ref is kept), a room's pipeline with
 * elements named "vmix" (compositor) and "venc" (encoder).
 * Returns: (transfer full) */
MmMediaStats *mm_media_stats_new (GstElement *pipeline);

typedef struct {
  guint64 composite_frames;    /* out of the compositor */
  guint64 encoded_frames;      /* out of the encoder */
  guint64 keyframes;           /* encoded keyframes */
  gdouble composite_fps;       /* over the last few seconds */
  gdouble encoded_fps;
  MmHistogram *encode_seconds; /* (transfer full) time in the encoder per frame */
} MmMediaVideoStats;

/* The video figures now.  Free out->encode_seconds. */
void mm_media_stats_read (MmMediaStats *s, MmMediaVideoStats *out);

/* Stop watching. */
void mm_media_stats_free (MmMediaStats *s);

G_END_DECLS
