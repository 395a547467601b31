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
 * RTP: each webrtcbin's rtpbin keeps per-SSRC counters in its internal
 * RTPSession ("stats" → "source-stats").  They vanish with their source
 * or connection, so each poll adds only what grew since the last one, per
 * SSRC, to the process-wide totals; a webrtcbin is polled a last time when
 * it leaves the pipeline.
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
#define MAX_SESSIONS 8                  /* RTP sessions looked at per webrtcbin */

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

typedef struct {
  guint64 packets_in, bytes_in, packets_out, bytes_out, lost, pli, fir;
} Last;

typedef struct {
  GstElement *webrtc;     /* owned ref */
  GHashTable *last;       /* session << 33 | internal << 32 | ssrc → Last* */
} Track;

struct _MmMediaStats {
  GstElement *pipeline;   /* owned ref */
  Video *video;           /* shared with the probes */
  GstPad *pads[3];        /* compositor src, encoder sink, encoder src */
  gulong probes[4];
  GMutex lock;            /* guards tracks (bins may change on any thread) */
  GPtrArray *tracks;      /* Track* */
  gulong added_id, removed_id;
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
static void
grow (guint64 cur, guint64 *last, guint64 *total)
{
  *total += cur >= *last ? cur - *last : cur;
  *last = cur;
}

static void
account_source (Track *t, guint session, const GstStructure *s, MmMediaTotals *d)
{
  guint ssrc = 0, pli = 0, fir = 0;
  gboolean internal = FALSE;
  guint64 packets = 0, octets = 0, key;
  gint lost = 0;
  Last *l;

  gst_structure_get_uint (s, "ssrc", &ssrc);
  gst_structure_get_boolean (s, "internal", &internal);
  key = ((guint64) session << 33) | ((guint64) (internal ? 1 : 0) << 32) | ssrc;
  l = g_hash_table_lookup (t->last, &key);
  if (l == NULL)
    {
      guint64 *k = g_memdup2 (&key, sizeof key);

      l = g_new0 (Last, 1);
      g_hash_table_insert (t->last, k, l);
    }
  /* Each PLI or FIR received is counted once, on the source it is about. */
  gst_structure_get_uint (s, "recv-pli-count", &pli);
  gst_structure_get_uint (s, "recv-fir-count", &fir);
  grow (pli, &l->pli, &d->pli_received);
  grow (fir, &l->fir, &d->fir_received);
  if (internal)
    {
      /* Ours: what we send. */
      gst_structure_get_uint64 (s, "packets-sent", &packets);
      gst_structure_get_uint64 (s, "octets-sent", &octets);
      grow (packets, &l->packets_out, &d->packets_out);
      grow (octets, &l->bytes_out, &d->bytes_out);
    }
  else
    {
      gst_structure_get_uint64 (s, "packets-received", &packets);
      gst_structure_get_uint64 (s, "octets-received", &octets);
      gst_structure_get_int (s, "packets-lost", &lost);
      grow (packets, &l->packets_in, &d->packets_in);
      grow (octets, &l->bytes_in, &d->bytes_in);
      grow ((guint64) MAX (lost, 0), &l->lost, &d->packets_lost);
    }
}

static void
poll_track (Track *t, MmMediaTotals *d)
{
  GstElement *rtpbin = gst_bin_get_by_name (GST_BIN (t->webrtc), "rtpbin");

  if (rtpbin == NULL)
    return;
  for (guint id = 0; id < MAX_SESSIONS; id++)
    {
      GObject *session = NULL;
      GstStructure *st = NULL;
      const GValue *sources;

      g_signal_emit_by_name (rtpbin, "get-internal-session", id, &session);
      if (session == NULL)
        continue;
      g_object_get (session, "stats", &st, NULL);
      g_object_unref (session);
      if (st == NULL)
        continue;
      sources = gst_structure_get_value (st, "source-stats");
      G_GNUC_BEGIN_IGNORE_DEPRECATIONS
      if (sources != NULL && G_VALUE_HOLDS (sources, g_value_array_get_type ()))
        {
          GValueArray *a = g_value_get_boxed (sources);

          for (guint i = 0; a != NULL && i < a->n_values; i++)
            {
              const GValue *v = g_value_array_get_nth (a, i);

              if (GST_VALUE_HOLDS_STRUCTURE (v))
                account_source (t, id, gst_value_get_structure (v), d);
            }
        }
      G_GNUC_END_IGNORE_DEPRECATIONS
      gst_structure_free (st);
    }
  gst_object_unref (rtpbin);
}

static void
track_free (gpointer data)
{
  Track *t = data;

  gst_object_unref (t->webrtc);
  g_hash_table_unref (t->last);
  g_free (t);
}

static gboolean
is_webrtcbin (GstElement *el)
{
  GstElementFactory *f = gst_element_get_factory (el);

  return f != NULL && g_strcmp0 (GST_OBJECT_NAME (f), "webrtcbin") == 0;
}

static void
track_add (MmMediaStats *s, GstElement *el)
{
  Track *t;

  if (!is_webrtcbin (el))
    return;
  t = g_new0 (Track, 1);
  t->webrtc = gst_object_ref (el);
  t->last = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  g_ptr_array_add (s->tracks, t);
}

static void
on_element_added (GstBin *bin, GstElement *el, gpointer data)
{
  MmMediaStats *s = data;

  g_mutex_lock (&s->lock);
  track_add (s, el);
  g_mutex_unlock (&s->lock);
}

static void
on_element_removed (GstBin *bin, GstElement *el, gpointer data)
{
  MmMediaStats *s = data;
  MmMediaTotals d = { 0 };

  g_mutex_lock (&s->lock);
  for (guint i = 0; i < s->tracks->len; i++)
    {
      Track *t = s->tracks->pdata[i];

      if (t->webrtc == el)
        {
          poll_track (t, &d);
          g_ptr_array_remove_index_fast (s->tracks, i);
          break;
        }
    }
  g_mutex_unlock (&s->lock);
  mm_metrics_media_add (&d);
}

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
  GstIterator *it;
  GValue item = G_VALUE_INIT;

  s->pipeline = gst_object_ref (pipeline);
  g_mutex_init (&s->lock);
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

  s->tracks = g_ptr_array_new_with_free_func (track_free);
  it = gst_bin_iterate_elements (GST_BIN (pipeline));
  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK)
    {
      track_add (s, g_value_get_object (&item));
      g_value_reset (&item);
    }
  g_value_unset (&item);
  gst_iterator_free (it);
  s->added_id = g_signal_connect (pipeline, "element-added", G_CALLBACK (on_element_added), s);
  s->removed_id = g_signal_connect (pipeline, "element-removed",
                                    G_CALLBACK (on_element_removed), s);
  return s;
}

void
mm_media_stats_poll (MmMediaStats *s)
{
  MmMediaTotals d = { 0 };

  g_mutex_lock (&s->lock);
  for (guint i = 0; i < s->tracks->len; i++)
    poll_track (s->tracks->pdata[i], &d);
  g_mutex_unlock (&s->lock);
  mm_metrics_media_add (&d);
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
  mm_media_stats_poll (s);
  g_signal_handler_disconnect (s->pipeline, s->added_id);
  g_signal_handler_disconnect (s->pipeline, s->removed_id);
  for (guint i = 0; i < G_N_ELEMENTS (s->probes); i++)
    if (s->probes[i] != 0)
      gst_pad_remove_probe (s->pads[i < 2 ? i : 2], s->probes[i]);
  for (guint i = 0; i < G_N_ELEMENTS (s->pads); i++)
    g_clear_object (&s->pads[i]);
  g_ptr_array_unref (s->tracks);
  g_mutex_clear (&s->lock);
  video_unref (s->video);
  gst_object_unref (s->pipeline);
  g_free (s);
}
