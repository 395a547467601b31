/* egress.c — HLS and RTMP egress: a pipeline of its own fed from the
 * room's raw composite and mix (see egress.h). */
#include "config.h"

#include "media/egress.h"
#include "media/log.h"
#include "media/tap.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-media"

#define BACKOFF_MAX_S 30
#define STOP_WAIT_MS 3000
/* An RTMP push is live once the ingest has taken this much (rtmp2sink
 * sends media only after its publish was accepted): more than the
 * handshake and commands, less than a second of media. */
#define RTMP_LIVE_BYTES 16384

/* One tap on a room tee: queue ! appsink, in the room's pipeline.  The
 * appsink owns this struct (its callbacks' destroy notify frees it), so a
 * streaming thread never sees it freed. */
typedef struct {
  GMutex lock;
  GstElement *dst;          /* under lock: the egress appsrc, or NULL */
} Tap;

typedef struct {
  GstElement *room;
  GstBin *src_bin;          /* holds the tee */
  GstElement *tee;
  GstPad *tee_pad;
  GstPad *src_ghost;        /* on src_bin */
  GstElement *bin;          /* the tap's bin, in the room */
  Tap *tap;                 /* (owned by the appsink) */
  GMainContext *ctx;
  gint unlinked;            /* atomic */
} Link;

struct _MmEgress {
  GMainContext *ctx;
  GstElement *room;
  MmEgressKind kind;
  char *description;
  char *target;
  char *code;               /* its room's code, for the log */
  MmEgressState state;
  gpointer state_data;
  Link *video, *audio;
  GstElement *pipe;
  guint watch;
  guint retry;
  guint stop_timeout;
  guint live_poll;
  guint backoff_s;
  gboolean live;
  gboolean stopping;
};

static void
tap_free (gpointer data)
{
  Tap *t = data;

  g_mutex_clear (&t->lock);
  g_clear_object (&t->dst);
  g_free (t);
}

static void
tap_set_dst (Tap *t, GstElement *dst)
{
  g_mutex_lock (&t->lock);
  g_clear_object (&t->dst);
  t->dst = dst ? gst_object_ref (dst) : NULL;
  g_mutex_unlock (&t->lock);
}

/* Room streaming thread: hand the sample on (a reference, not a copy). */
static GstFlowReturn
on_sample (GstAppSink *sink, gpointer data)
{
  Tap *t = data;
  GstSample *s = gst_app_sink_pull_sample (sink);
  GstElement *dst;

  if (s == NULL)
    return GST_FLOW_OK;
  g_mutex_lock (&t->lock);
  dst = t->dst ? gst_object_ref (t->dst) : NULL;
  g_mutex_unlock (&t->lock);
  if (dst != NULL)
    {
      gst_app_src_push_sample (GST_APP_SRC (dst), s);
      gst_object_unref (dst);
    }
  gst_sample_unref (s);
  /* The egress's trouble is never the room's. */
  return GST_FLOW_OK;
}

static Link *
link_new (GMainContext *ctx, GstElement *room, GstBin *src_bin, const char *tee_name,
          GError **error)
{
  Link *l = g_new0 (Link, 1);
  GstAppSinkCallbacks cb = { .new_sample = on_sample };
  g_autoptr (GstElement) sink = NULL;
  g_autoptr (GstPad) sink_pad = NULL;
  GstPadLinkReturn link;

  l->ctx = ctx;
  l->room = gst_object_ref (room);
  l->src_bin = GST_BIN (gst_object_ref (src_bin));
  l->tee = gst_bin_get_by_name (src_bin, tee_name);
  if (l->tee == NULL)
    {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED, "the room has no %s", tee_name);
      return l;
    }
  /* Raw video is large: a second of it at most, the oldest dropped. */
  l->bin = gst_parse_bin_from_description (
    "queue leaky=downstream max-size-time=1000000000 max-size-buffers=0 max-size-bytes=0 "
    "! appsink name=sink sync=false async=false enable-last-sample=false", TRUE, error);
  if (l->bin == NULL)
    return l;
  gst_object_ref_sink (l->bin);
  sink = gst_bin_get_by_name (GST_BIN (l->bin), "sink");
  l->tap = g_new0 (Tap, 1);
  g_mutex_init (&l->tap->lock);
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &cb, l->tap, tap_free);
  gst_bin_add (GST_BIN (room), l->bin);
  /* Playing before the tee reaches it (a tee pushing into an inactive
   * pad gets FLUSHING back and the room's branch would stop). */
  gst_element_sync_state_with_parent (l->bin);
  sink_pad = gst_element_get_static_pad (l->bin, "sink");
  l->tee_pad = mm_tap_tee (src_bin, l->tee, sink_pad, &l->src_ghost, &link);
  if (link != GST_PAD_LINK_OK)
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION, "cannot tap %s", tee_name);
  return l;
}

/* Main loop: the tap is unlinked (or the room closes): take it away. */
static void
link_free (Link *l, gboolean remove)
{
  if (remove && l->tee_pad != NULL)
    {
      gst_element_remove_pad (GST_ELEMENT (l->src_bin), l->src_ghost);
      gst_element_release_request_pad (l->tee, l->tee_pad);
    }
  if (remove && l->bin != NULL)
    {
      gst_element_set_locked_state (l->bin, TRUE);
      gst_element_set_state (l->bin, GST_STATE_NULL);
      gst_bin_remove (GST_BIN (l->room), l->bin);
    }
  g_clear_object (&l->tee_pad);
  g_clear_object (&l->bin);
  g_clear_object (&l->tee);
  g_clear_object (&l->src_bin);
  g_clear_object (&l->room);
  g_free (l);
}

static gboolean
link_free_idle (gpointer data)
{
  link_free (data, TRUE);
  return G_SOURCE_REMOVE;
}

/* Any thread: the tee pad is idle. */
static GstPadProbeReturn
unlink_idle (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Link *l = data;
  GSource *s;

  if (!g_atomic_int_compare_and_exchange (&l->unlinked, FALSE, TRUE))
    return GST_PAD_PROBE_REMOVE;
  mm_tap_cut (l->src_ghost);
  s = g_idle_source_new ();
  g_source_set_callback (s, link_free_idle, l, NULL);
  g_source_attach (s, l->ctx);
  g_source_unref (s);
  return GST_PAD_PROBE_REMOVE;
}

static void
link_detach (Link *l)
{
  if (l == NULL)
    return;
  if (l->tap != NULL)
    tap_set_dst (l->tap, NULL);
  if (l->tee_pad == NULL || !gst_pad_is_linked (l->src_ghost))
    {
      link_free (l, TRUE);
      return;
    }
  gst_pad_add_probe (l->tee_pad, GST_PAD_PROBE_TYPE_IDLE, unlink_idle, l, NULL);
}

/* ---- the egress pipeline ---------------------------------------------- */

static void egress_free (MmEgress *e);
static gboolean bus_cb (GstBus *bus, GstMessage *msg, gpointer data);

static void
tell (MmEgress *e, const char *state, const char *detail)
{
  if (e->state != NULL)
    e->state (e->kind, state, detail, e->state_data);
}

static void
pipe_down (MmEgress *e)
{
  tap_set_dst (e->video->tap, NULL);
  tap_set_dst (e->audio->tap, NULL);
  if (e->live_poll != 0)
    g_source_remove (e->live_poll);
  e->live_poll = 0;
  if (e->watch != 0)
    g_source_remove (e->watch);
  e->watch = 0;
  if (e->pipe != NULL)
    {
      gst_element_set_state (e->pipe, GST_STATE_NULL);
      g_clear_object (&e->pipe);
    }
}

static GstElement *
get_src (GstElement *pipe, const char *name)
{
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipe), name);

  if (src == NULL || !GST_IS_APP_SRC (src))
    {
      g_clear_object (&src);
      return NULL;
    }
  /* Live, in the room's running time; a stalled encoder loses the oldest
   * frames, never holds back the room. */
  g_object_set (src, "is-live", TRUE, "format", GST_FORMAT_TIME, "max-buffers", (guint64) 60,
                "leaky-type", 2 /* downstream */, NULL);
  return src;
}

static gboolean
pipe_up (MmEgress *e, GError **error)
{
  g_autoptr (GstElement) v = NULL;
  g_autoptr (GstElement) a = NULL;
  g_autoptr (GstElement) out = NULL;
  g_autoptr (GstClock) clock = NULL;
  g_autoptr (GstBus) bus = NULL;
  GSource *watch;

  e->pipe = gst_parse_launch (e->description, error);
  if (e->pipe == NULL)
    return FALSE;
  gst_object_ref_sink (e->pipe);
  v = get_src (e->pipe, "video");
  a = get_src (e->pipe, "audio");
  out = gst_bin_get_by_name (GST_BIN (e->pipe), e->kind == MM_EGRESS_HLS ? "hls" : "rtmp");
  if (v == NULL || a == NULL || out == NULL)
    {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED,
                   "the egress pipeline needs appsrc \"video\" and \"audio\" and %s",
                   e->kind == MM_EGRESS_HLS ? "hlssink2 \"hls\"" : "rtmp2sink \"rtmp\"");
      g_clear_object (&e->pipe);
      return FALSE;
    }
  if (e->kind == MM_EGRESS_HLS)
    {
      g_autofree char *segments = g_build_filename (e->target, "seg%05d.ts", NULL);
      g_autofree char *playlist = g_build_filename (e->target, "index.m3u8", NULL);

      g_object_set (out, "location", segments, "playlist-location", playlist, NULL);
    }
  else
    g_object_set (out, "location", e->target, NULL);
  /* The room's clock and base time: its timestamps are ours. */
  clock = gst_pipeline_get_clock (GST_PIPELINE (e->room));
  if (clock != NULL)
    gst_pipeline_use_clock (GST_PIPELINE (e->pipe), clock);
  gst_element_set_start_time (e->pipe, GST_CLOCK_TIME_NONE);
  gst_element_set_base_time (e->pipe, gst_element_get_base_time (e->room));
  bus = gst_element_get_bus (e->pipe);
  watch = gst_bus_create_watch (bus);
  g_source_set_callback (watch, (GSourceFunc) (void (*) (void)) bus_cb, e, NULL);
  e->watch = g_source_attach (watch, e->ctx);
  g_source_unref (watch);
  if (gst_element_set_state (e->pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_STATE_CHANGE,
                   "the egress pipeline did not start");
      pipe_down (e);
      return FALSE;
    }
  tap_set_dst (e->video->tap, v);
  tap_set_dst (e->audio->tap, a);
  return TRUE;
}

static gboolean
retry_cb (gpointer data)
{
  MmEgress *e = data;
  g_autoptr (GError) error = NULL;

  e->retry = 0;
  if (!pipe_up (e, &error))
    {
      e->backoff_s = MIN (MAX (e->backoff_s * 2, 1), BACKOFF_MAX_S);
      mm_media_log (e->code, NULL, G_LOG_LEVEL_WARNING, "egress to %s: %s; again in %u s",
                    e->target, error->message, e->backoff_s);
      e->retry = g_timeout_add_seconds (e->backoff_s, retry_cb, e);
    }
  return G_SOURCE_REMOVE;
}

static gboolean
stop_timeout_cb (gpointer data)
{
  MmEgress *e = data;

  e->stop_timeout = 0;
  mm_media_log (e->code, NULL, G_LOG_LEVEL_WARNING, "egress to %s: did not finish in %u ms",
                e->target, STOP_WAIT_MS);
  egress_free (e);
  return G_SOURCE_REMOVE;
}

static void
set_live (MmEgress *e)
{
  e->live = TRUE;
  e->backoff_s = 0;
  mm_media_log (e->code, NULL, G_LOG_LEVEL_MESSAGE, "egress to %s: live", e->target);
  tell (e, "live", NULL);
}

static gboolean
rtmp_poll_cb (gpointer data)
{
  MmEgress *e = data;
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (e->pipe), "rtmp");
  GstStructure *stats = NULL;
  guint64 out = 0;

  if (sink != NULL)
    g_object_get (sink, "stats", &stats, NULL);
  if (stats != NULL)
    {
      gst_structure_get_uint64 (stats, "out-bytes-total", &out);
      gst_structure_free (stats);
    }
  if (out < RTMP_LIVE_BYTES)
    return G_SOURCE_CONTINUE;
  e->live_poll = 0;
  set_live (e);
  return G_SOURCE_REMOVE;
}

static gboolean
bus_cb (GstBus *bus, GstMessage *msg, gpointer data)
{
  MmEgress *e = data;

  switch (GST_MESSAGE_TYPE (msg))
    {
    case GST_MESSAGE_ERROR:
      {
        g_autoptr (GError) err = NULL;

        gst_message_parse_error (msg, &err, NULL);
        pipe_down (e);
        if (e->stopping)
          {
            egress_free (e);
            return G_SOURCE_REMOVE;
          }
        e->live = FALSE;
        e->backoff_s = MIN (MAX (e->backoff_s * 2, 1), BACKOFF_MAX_S);
        mm_media_log (e->code, NULL, G_LOG_LEVEL_WARNING, "egress to %s: %s; again in %u s",
                      e->target, err->message, e->backoff_s);
        tell (e, "retrying", err->message);
        e->retry = g_timeout_add_seconds (e->backoff_s, retry_cb, e);
        return G_SOURCE_REMOVE;   /* pipe_down removed this watch */
      }
    case GST_MESSAGE_EOS:
      if (e->stopping)
        {
          egress_free (e);
          return G_SOURCE_REMOVE;
        }
      break;
    case GST_MESSAGE_STATE_CHANGED:
      if (GST_MESSAGE_SRC (msg) == GST_OBJECT (e->pipe) && !e->live && !e->stopping)
        {
          GstState new_state;

          gst_message_parse_state_changed (msg, NULL, &new_state, NULL);
          /* HLS is live when its pipeline plays; rtmp2sink connects in
           * the background, so an RTMP push is live when media leaves. */
          if (new_state == GST_STATE_PLAYING && e->kind == MM_EGRESS_HLS)
            set_live (e);
          else if (new_state == GST_STATE_PLAYING && e->live_poll == 0)
            e->live_poll = g_timeout_add (250, rtmp_poll_cb, e);
        }
      break;
    default:
      break;
    }
  return G_SOURCE_CONTINUE;
}

MmEgress *
mm_egress_start (GMainContext *ctx, GstElement *room, GstBin *video_mix, GstBin *audio_mix,
                 MmEgressKind kind, const char *description, const char *target,
                 MmEgressState state, gpointer data, GError **error)
{
  MmEgress *e = g_new0 (MmEgress, 1);

  e->ctx = ctx;
  e->room = gst_object_ref (room);
  e->kind = kind;
  e->description = g_strdup (description);
  e->target = g_strdup (target);
  e->code = mm_media_log_room (room);
  e->video = link_new (ctx, room, video_mix, "vraw", error);
  if (error == NULL || *error == NULL)
    e->audio = link_new (ctx, room, audio_mix, "atee", error);
  if ((error != NULL && *error != NULL) || !pipe_up (e, error))
    {
      egress_free (e);
      return NULL;
    }
  /* Only now: a failed start says nothing. */
  e->state = state;
  e->state_data = data;
  return e;
}

static void
egress_free (MmEgress *e)
{
  pipe_down (e);
  if (e->retry != 0)
    g_source_remove (e->retry);
  if (e->stop_timeout != 0)
    g_source_remove (e->stop_timeout);
  if (e->video != NULL)
    link_detach (e->video);
  if (e->audio != NULL)
    link_detach (e->audio);
  tell (e, "stopped", NULL);
  g_object_unref (e->room);
  g_free (e->description);
  g_free (e->target);
  g_free (e->code);
  g_free (e);
}

void
mm_egress_stop (MmEgress *e, gboolean quiet)
{
  g_autoptr (GstElement) v = NULL;
  g_autoptr (GstElement) a = NULL;

  if (quiet)
    e->state = NULL;
  if (e->stopping)
    return;
  e->stopping = TRUE;
  if (e->pipe == NULL)
    {
      egress_free (e);
      return;
    }
  /* No more room data; end the streams so the playlist gets its end. */
  tap_set_dst (e->video->tap, NULL);
  tap_set_dst (e->audio->tap, NULL);
  v = gst_bin_get_by_name (GST_BIN (e->pipe), "video");
  a = gst_bin_get_by_name (GST_BIN (e->pipe), "audio");
  gst_app_src_end_of_stream (GST_APP_SRC (v));
  gst_app_src_end_of_stream (GST_APP_SRC (a));
  e->stop_timeout = g_timeout_add (STOP_WAIT_MS, stop_timeout_cb, e);
}
