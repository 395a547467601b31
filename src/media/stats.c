/* stats.c — a room's media figures, read from its pipeline; see stats.h.
 *
 * Video: a buffer probe on the compositor's output counts composite
 * frames; probes on the encoder's input and output time each frame
 * through it (matched by PTS) and count encoded frames and keyframes; an
 * upstream event probe on the encoder's output, added after the one of
 * media.c that lets one force-key-unit through per keyframe-interval,
 * counts the ones the encoder acts on (a probe that drops an event stops
 * the later ones from seeing it).
 *
 * RTP figures are the transport's (transport/transport.h).
 */
#include "config.h"

#include "media/stats.h"
#include "core/metrics.h"

#include <gst/video/video.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-media"

#define RING 256                        /* frame times kept for the rate */
#define RATE_WINDOW_US (5 * G_USEC_PER_SEC)
#define PENDING 16                      /* frames inside the encoder at most */

/* Seconds in the encoder per frame: 720p VP8 takes a few milliseconds. */
static const gdouble encode_bounds[] = {
  0.001, 0.0025, 0.005, 0.01, 0.02, 0.033, 0.05, 0.1, 0.25,
};

typedef struct {
  gint64 times[RING];     /* monotonic µs of the latest frames */
  guint64 n;              /* frames so far */
} Rate;

typedef struct {
  gint ref_count;
  GMutex lock;
  Rate composite;
  Rate encoded;
  guint64 keyframes;
  struct {
    GstClockTime pts;
    gint64 t;             /* when it entered the encoder */
  } pending[PENDING];
  guint next_pending;
  MmHistogram *encode;
} Video;

struct _MmMediaStats {
  GstElement *pipeline;   /* owned ref */
  Video *video;           /* shared with the probes */
  GstPad *pads[3];        /* compositor src, encoder sink, encoder src */
  gulong probes[4];
};

static Video *
video_ref (Video *v)
{
  g_atomic_int_inc (&v->ref_count);
  return v;
}

static void
video_unref (gpointer data)
{
  Video *v = data;

  if (!g_atomic_int_dec_and_test (&v->ref_count))
    return;
  mm_histogram_free (v->encode);
  g_mutex_clear (&v->lock);
  g_free (v);
}

static void
rate_tick (Rate *r, gint64 now)
{
  r->times[r->n % RING] = now;
  r->n++;
}

static gdouble
rate_per_second (const Rate *r, gint64 now)
{
  guint64 k = 0;
  gint64 oldest = now;

  while (k < r->n && k < RING && r->times[(r->n - 1 - k) % RING] > now - RATE_WINDOW_US)
    {
      oldest = r->times[(r->n - 1 - k) % RING];
      k++;
    }
  if (k < 2)
    return 0;
  /* Over the window, or since the first frame when that is more recent. */
  return (gdouble) k * G_USEC_PER_SEC / (gdouble) MAX (now - oldest, G_USEC_PER_SEC);
}

/* ---- probes (streaming threads) ---------------------------------------- */

static GstPadProbeReturn
on_composite (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Video *v = data;

  g_mutex_lock (&v->lock);
  rate_tick (&v->composite, g_get_monotonic_time ());
  g_mutex_unlock (&v->lock);
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
on_encoder_in (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Video *v = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

  g_mutex_lock (&v->lock);
  v->pending[v->next_pending].pts = GST_BUFFER_PTS (buf);
  v->pending[v->next_pending].t = g_get_monotonic_time ();
  v->next_pending = (v->next_pending + 1) % PENDING;
  g_mutex_unlock (&v->lock);
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
on_encoder_out (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Video *v = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstClockTime pts = GST_BUFFER_PTS (buf);
  gint64 now = g_get_monotonic_time ();

  g_mutex_lock (&v->lock);
  rate_tick (&v->encoded, now);
  if (!GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT))
    v->keyframes++;
  for (guint i = 0; GST_CLOCK_TIME_IS_VALID (pts) && i < PENDING; i++)
    if (v->pending[i].pts == pts)
      {
        mm_histogram_observe (v->encode, (gdouble) (now - v->pending[i].t) / G_USEC_PER_SEC);
        v->pending[i].pts = GST_CLOCK_TIME_NONE;
        break;
      }
  g_mutex_unlock (&v->lock);
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
on_encoder_event (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  MmMediaTotals one = { .keyframes_forced = 1 };

  if (gst_video_event_is_force_key_unit (GST_PAD_PROBE_INFO_EVENT (info)))
    mm_metrics_media_add (&one);
  return GST_PAD_PROBE_OK;
}

/* ---- RTP sessions (main loop) ------------------------------------------ */

/* Add what @cur has grown beyond *@last to *@total.  A counter that went
 * back belongs to a new source that took the old one's SSRC. */
/* ---- the object -------------------------------------------------------- */

static void
add_probe (MmMediaStats *s, guint slot, guint pad, GstElement *el, const char *pad_name,
           GstPadProbeType type, GstPadProbeCallback cb)
{
  if (s->pads[pad] == NULL)
    s->pads[pad] = gst_element_get_static_pad (el, pad_name);
  if (s->pads[pad] != NULL)
    s->probes[slot] = gst_pad_add_probe (s->pads[pad], type, cb, video_ref (s->video),
                                         video_unref);
}

MmMediaStats *
mm_media_stats_new (GstElement *pipeline)
{
  MmMediaStats *s = g_new0 (MmMediaStats, 1);
  GstElement *vmix = gst_bin_get_by_name (GST_BIN (pipeline), "vmix");
  GstElement *venc = gst_bin_get_by_name (GST_BIN (pipeline), "venc");

  s->pipeline = gst_object_ref (pipeline);
  s->video = g_new0 (Video, 1);
  s->video->ref_count = 1;
  g_mutex_init (&s->video->lock);
  s->video->encode = mm_histogram_new (encode_bounds, G_N_ELEMENTS (encode_bounds));
  for (guint i = 0; i < PENDING; i++)
    s->video->pending[i].pts = GST_CLOCK_TIME_NONE;
  if (vmix != NULL)
    add_probe (s, 0, 0, vmix, "src", GST_PAD_PROBE_TYPE_BUFFER, on_composite);
  if (venc != NULL)
    {
      add_probe (s, 1, 1, venc, "sink", GST_PAD_PROBE_TYPE_BUFFER, on_encoder_in);
      add_probe (s, 2, 2, venc, "src", GST_PAD_PROBE_TYPE_BUFFER, on_encoder_out);
      add_probe (s, 3, 2, venc, "src", GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, on_encoder_event);
    }
  g_clear_object (&vmix);
  g_clear_object (&venc);

  return s;
}

void
mm_media_stats_read (MmMediaStats *s, MmMediaVideoStats *out)
{
  Video *v = s->video;
  gint64 now = g_get_monotonic_time ();

  g_mutex_lock (&v->lock);
  out->composite_frames = v->composite.n;
  out->encoded_frames = v->encoded.n;
  out->keyframes = v->keyframes;
  out->composite_fps = rate_per_second (&v->composite, now);
  out->encoded_fps = rate_per_second (&v->encoded, now);
  out->encode_seconds = mm_histogram_copy (v->encode);
  g_mutex_unlock (&v->lock);
}

void
mm_media_stats_free (MmMediaStats *s)
{
  if (s == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (s->probes); i++)
    if (s->probes[i] != 0)
      gst_pad_remove_probe (s->pads[i < 2 ? i : 2], s->probes[i]);
  for (guint i = 0; i < G_N_ELEMENTS (s->pads); i++)
    g_clear_object (&s->pads[i]);
  video_unref (s->video);
  gst_object_unref (s->pipeline);
  g_free (s);
}
