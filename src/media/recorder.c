/* recorder.c — a recording: the room's encoded composite and full mix,
 * muxed into a live WebM file.
 *
 * The recorder's bin holds a queue per stream, webmmux and filesink.  Its
 * two sink pads are fed by request pads of the room's tees ("vtee",
 * "atee"), ghosted on the bins that hold them.  Until the first keyframe
 * both streams are dropped, so the file starts on one.  Stopping unlinks
 * the tee pads when idle (the tees go on for everyone else), sends EOS
 * into the bin and finishes once the filesink has seen it.
 */
#include "config.h"

#include "media/recorder.h"
#include "media/log.h"
#include "media/tap.h"

#include <errno.h>
#include <glib/gstdio.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-media"

typedef struct {
  MmRecorder *r;
  GstBin *src_bin;          /* holds the tee */
  GstElement *tee;
  GstPad *tee_pad;
  GstPad *src_ghost;        /* on src_bin */
  GstPad *sink;             /* the recorder bin's ghost sink pad */
  gint unlinked;            /* atomic */
} Input;

/* The error watch: a sync-message handler on the pipeline's bus, called
 * in the streaming thread that posts the error, before the failed element
 * returns its error upstream.  Owned by the handler's closure, which
 * outlives any call in progress when it is disconnected. */
typedef struct {
  gint failed;              /* atomic */
  GstObject *bin;           /* (owned) */
} Watch;

struct _MmRecorder {
  GMainContext *ctx;
  GstElement *pipeline;
  GstElement *bin;
  char *path;
  char *room;               /* its code, for the log */
  Input video, audio;
  gint started;             /* atomic: the first keyframe has passed */
  GMutex lock;
  GCond cond;
  gboolean eos;             /* under lock: the filesink saw EOS */
  gboolean finishing;       /* main loop: a finish is scheduled */
  GstClockTime first_pts, last_pts;   /* under lock, video */
  MmRecorderDone done;
  gpointer done_data;
  Watch *watch;             /* (owned by the handler) */
  GstBus *bus;              /* (owned) the pipeline's, while watched */
  gulong watch_id;
  char *error;              /* why it failed, or NULL */
  gint cut;                 /* atomic: inputs cut after a failure */
};

const char *
mm_recorder_path (MmRecorder *r)
{
  return r->path;
}

static void
watch_free (gpointer data, GClosure *closure)
{
  Watch *w = data;

  gst_object_unref (w->bin);
  g_free (w);
}

/* Any streaming thread: an element of the recorder failed (a full disk):
 * from now on nothing goes in. */
static void
on_sync_error (GstBus *bus, GstMessage *msg, gpointer data)
{
  Watch *w = data;

  if (gst_object_has_as_ancestor (GST_MESSAGE_SRC (msg), w->bin))
    g_atomic_int_set (&w->failed, TRUE);
}

gboolean
mm_recorder_owns (MmRecorder *r, GstObject *obj)
{
  return gst_object_has_as_ancestor (obj, GST_OBJECT (r->bin));
}

/* Streaming thread: once failed, the tees' buffers and events are dropped
 * here (and the tee is told all went well): a queue whose file failed
 * would answer them with its error, and the tee would pass that to the
 * room's encoder, stopping the meeting. */
static GstPadProbeReturn
gate_failed (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  MmRecorder *r = data;

  return g_atomic_int_get (&r->watch->failed) ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

/* Streaming thread: nothing goes in before the first keyframe. */
static GstPadProbeReturn
gate_video (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  MmRecorder *r = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

  if (g_atomic_int_get (&r->watch->failed))
    return GST_PAD_PROBE_DROP;
  if (!g_atomic_int_get (&r->started))
    {
      if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT))
        return GST_PAD_PROBE_DROP;
      g_atomic_int_set (&r->started, TRUE);
    }
  g_mutex_lock (&r->lock);
  if (GST_BUFFER_PTS_IS_VALID (buf))
    {
      if (r->first_pts == GST_CLOCK_TIME_NONE)
        r->first_pts = GST_BUFFER_PTS (buf);
      r->last_pts = GST_BUFFER_PTS (buf);
    }
  g_mutex_unlock (&r->lock);
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
gate_audio (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  MmRecorder *r = data;

  return g_atomic_int_get (&r->started) && !g_atomic_int_get (&r->watch->failed)
         ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
}

static void
recorder_free (MmRecorder *r)
{
  if (r->bus != NULL)
    {
      g_signal_handler_disconnect (r->bus, r->watch_id);
      gst_bus_disable_sync_message_emission (r->bus);
      gst_object_unref (r->bus);
    }
  g_free (r->error);
  g_mutex_clear (&r->lock);
  g_cond_clear (&r->cond);
  gst_object_unref (r->pipeline);
  g_free (r->path);
  g_free (r->room);
  g_free (r);
}

/* Any thread: rewrite the live file at @path as a seekable one (with its
 * duration and cues), without decoding anything.  On failure the live file
 * stays as it is: it plays, but a player cannot seek in it. */
static gboolean
remux_seekable (const char *path, GError **error)
{
  g_autofree char *tmp = g_strdup_printf ("%s.part", path);
  g_autoptr (GstElement) pipe = NULL;
  g_autoptr (GstBus) bus = NULL;
  g_autoptr (GstMessage) msg = NULL;
  GstElement *e;
  gboolean ok;

  /* Unbounded queues: the muxer waits for both tracks, and a live file may
   * hold more than a queue's worth of one track before the other starts
   * (a track that stayed empty holds nothing until the end).  Bounded, the
   * demuxer blocks on the full queue and the rewrite never ends. */
  pipe = gst_parse_launch ("filesrc name=src ! matroskademux name=d "
                           "d.video_0 ! queue max-size-time=0 max-size-buffers=0 "
                           "max-size-bytes=0 ! m.video_0 "
                           "d.audio_0 ! queue max-size-time=0 max-size-buffers=0 "
                           "max-size-bytes=0 ! m.audio_0 "
                           "webmmux name=m writing-app=mixmeet ! filesink name=dst",
                           error);
  if (pipe == NULL)
    return FALSE;
  e = gst_bin_get_by_name (GST_BIN (pipe), "src");
  g_object_set (e, "location", path, NULL);
  gst_object_unref (e);
  e = gst_bin_get_by_name (GST_BIN (pipe), "dst");
  g_object_set (e, "location", tmp, NULL);
  gst_object_unref (e);
  bus = gst_element_get_bus (pipe);
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  /* Reading and writing only: hundreds of MB a second. */
  msg = gst_bus_timed_pop_filtered (bus, 600 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  ok = msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS;
  if (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
    gst_message_parse_error (msg, error, NULL);
  else if (msg == NULL)
    g_set_error_literal (error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED, "it took too long");
  gst_element_set_state (pipe, GST_STATE_NULL);
  if (ok && g_rename (tmp, path) != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "cannot rename: %s",
                   g_strerror (errno));
      ok = FALSE;
    }
  if (!ok)
    g_unlink (tmp);
  return ok;
}

typedef struct {
  GMainContext *ctx;
  char *path;
  char *room;
  gint64 duration_ms;
  char *error;
  MmRecorderDone done;
  gpointer done_data;
} Finished;

static void
finished_free (Finished *f)
{
  g_free (f->error);
  g_free (f->path);
  g_free (f->room);
  g_free (f);
}

/* Main loop: tell the owner. */
static gboolean
report_idle (gpointer data)
{
  Finished *f = data;
  GStatBuf st;
  gint64 bytes = 0;

  if (g_stat (f->path, &st) == 0)
    bytes = st.st_size;
  mm_media_log (f->room, NULL, G_LOG_LEVEL_INFO,
                "recording %s finished: %" G_GINT64_FORMAT " bytes, %" G_GINT64_FORMAT " ms",
                f->path, bytes, f->duration_ms);
  if (f->done != NULL)
    f->done (f->path, bytes, f->duration_ms, f->error, f->done_data);
  finished_free (f);
  return G_SOURCE_REMOVE;
}

static void
make_seekable (Finished *f)
{
  g_autoptr (GError) error = NULL;
  gint64 t0 = g_get_monotonic_time ();

  if (remux_seekable (f->path, &error))
    mm_media_log (f->room, NULL, G_LOG_LEVEL_INFO,
                  "recording %s: made seekable in %" G_GINT64_FORMAT " ms", f->path,
                  (g_get_monotonic_time () - t0) / 1000);
  else
    mm_media_log (f->room, NULL, G_LOG_LEVEL_WARNING,
                  "recording %s: could not add its index (%s); it plays, without seeking",
                  f->path, error->message);
}

static gpointer
remux_thread (gpointer data)
{
  Finished *f = data;
  GSource *s = g_idle_source_new ();

  make_seekable (f);
  g_source_set_callback (s, report_idle, f, NULL);
  g_source_attach (s, f->ctx);
  g_source_unref (s);
  return NULL;
}

/* Main loop: the live file is finished (or we stopped waiting).  It is
 * made seekable on a thread of its own, or here with @now; then done is
 * called on the main loop. */
static void
finish (MmRecorder *r, gboolean now)
{
  Finished *f = g_new0 (Finished, 1);

  for (int i = 0; i < 2; i++)
    {
      Input *in = i == 0 ? &r->video : &r->audio;

      if (in->tee_pad != NULL)
        {
          if (in->src_ghost != NULL)
            gst_element_remove_pad (GST_ELEMENT (in->src_bin), in->src_ghost);
          gst_element_release_request_pad (in->tee, in->tee_pad);
          gst_object_unref (in->tee_pad);
        }
      g_clear_object (&in->tee);
      g_clear_object (&in->sink);
    }
  gst_element_set_locked_state (r->bin, TRUE);
  gst_element_set_state (r->bin, GST_STATE_NULL);
  gst_bin_remove (GST_BIN (r->pipeline), r->bin);
  f->ctx = r->ctx;
  f->path = g_strdup (r->path);
  f->room = g_strdup (r->room);
  f->done = r->done;
  f->done_data = r->done_data;
  f->error = g_strdup (r->error);
  g_mutex_lock (&r->lock);
  if (r->first_pts != GST_CLOCK_TIME_NONE)
    f->duration_ms = (gint64) ((r->last_pts - r->first_pts) / GST_MSECOND);
  g_mutex_unlock (&r->lock);
  recorder_free (r);
  if (f->done == NULL)
    {
      /* A start that failed: nothing worth keeping. */
      finished_free (f);
      return;
    }
  if (f->error != NULL)
    {
      /* Cut off (a full disk): it plays up to its last cluster, and a
       * rewrite would not fit. */
      report_idle (f);
      return;
    }
  if (now)
    {
      make_seekable (f);
      report_idle (f);
      return;
    }
  g_thread_unref (g_thread_new ("mixmeet-remux", remux_thread, f));
}

static gboolean
finish_idle (gpointer data)
{
  finish (data, FALSE);
  return G_SOURCE_REMOVE;
}

/* Streaming thread: the last of the file is written. */
static GstPadProbeReturn
on_sink_event (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  MmRecorder *r = data;

  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) != GST_EVENT_EOS)
    return GST_PAD_PROBE_OK;
  g_mutex_lock (&r->lock);
  r->eos = TRUE;
  g_cond_broadcast (&r->cond);
  if (r->done != NULL || r->finishing)
    {
      /* mm_recorder_stop: finish on the main loop. */
      GSource *s = g_idle_source_new ();

      g_source_set_callback (s, finish_idle, r, NULL);
      g_source_attach (s, r->ctx);
      g_source_unref (s);
    }
  g_mutex_unlock (&r->lock);
  return GST_PAD_PROBE_OK;
}

static gboolean
link_input (MmRecorder *r, Input *in, GstBin *src_bin, const char *tee_name, const char *sink_name,
            GError **error)
{
  GstPadLinkReturn link;

  in->r = r;
  in->src_bin = src_bin;
  in->tee = gst_bin_get_by_name (src_bin, tee_name);
  in->sink = gst_element_get_static_pad (r->bin, sink_name);
  if (in->tee == NULL)
    {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED, "the room has no %s", tee_name);
      return FALSE;
    }
  in->tee_pad = mm_tap_tee (src_bin, in->tee, in->sink, &in->src_ghost, &link);
  if (link != GST_PAD_LINK_OK)
    {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
                   "cannot link the recorder to %s", tee_name);
      return FALSE;
    }
  return TRUE;
}

MmRecorder *
mm_recorder_start (GMainContext *ctx, GstElement *pipeline, GstBin *video_mix, GstBin *audio_mix,
                   const char *path, void (*keyframe) (gpointer), gpointer data, GError **error)
{
  MmRecorder *r = g_new0 (MmRecorder, 1);
  GstElement *mux, *sink;
  GstPad *pad;

  r->ctx = ctx;
  /* A finish may come after the room's media has closed. */
  r->pipeline = gst_object_ref (pipeline);
  r->path = g_strdup (path);
  r->room = mm_media_log_room (pipeline);
  r->first_pts = r->last_pts = GST_CLOCK_TIME_NONE;
  g_mutex_init (&r->lock);
  g_cond_init (&r->cond);
  /* Queues hold a few seconds: the disk may stall, the room must not. */
  r->bin = gst_parse_bin_from_description (
    "queue name=vq max-size-time=3000000000 max-size-buffers=0 max-size-bytes=0 leaky=downstream "
    "! mux.video_%u "
    "queue name=aq max-size-time=3000000000 max-size-buffers=0 max-size-bytes=0 leaky=downstream "
    "! mux.audio_%u "
    "webmmux name=mux streamable=true ! filesink name=file sync=false async=false buffer-mode=unbuffered",
    FALSE, error);
  if (r->bin == NULL)
    {
      recorder_free (r);
      return NULL;
    }
  for (int i = 0; i < 2; i++)
    {
      GstElement *q = gst_bin_get_by_name (GST_BIN (r->bin), i == 0 ? "vq" : "aq");
      GstPad *qsink = gst_element_get_static_pad (q, "sink");
      GstPad *ghost = gst_ghost_pad_new (i == 0 ? "video" : "audio", qsink);

      gst_pad_set_active (ghost, TRUE);
      gst_element_add_pad (r->bin, ghost);
      gst_pad_add_probe (ghost, GST_PAD_PROBE_TYPE_BUFFER, i == 0 ? gate_video : gate_audio, r,
                         NULL);
      gst_pad_add_probe (ghost, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                         gate_failed, r, NULL);
      gst_object_unref (qsink);
      gst_object_unref (q);
    }
  mux = gst_bin_get_by_name (GST_BIN (r->bin), "mux");
  g_object_set (mux, "writing-app", "mixmeet", NULL);
  gst_object_unref (mux);
  sink = gst_bin_get_by_name (GST_BIN (r->bin), "file");
  g_object_set (sink, "location", path, NULL);
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_sink_event, r, NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);
  r->watch = g_new0 (Watch, 1);
  r->watch->bin = gst_object_ref (GST_OBJECT (r->bin));
  r->bus = gst_element_get_bus (pipeline);
  gst_bus_enable_sync_message_emission (r->bus);
  r->watch_id = g_signal_connect_data (r->bus, "sync-message::error", G_CALLBACK (on_sync_error),
                                       r->watch, watch_free, 0);
  gst_bin_add (GST_BIN (pipeline), r->bin);
  /* Playing before the tees reach it: a tee pushing into a pad not yet
   * active gets FLUSHING back, and the room's encoder would stop. */
  if (!gst_element_sync_state_with_parent (r->bin)
      || !link_input (r, &r->video, video_mix, "vtee", "video", error)
      || !link_input (r, &r->audio, audio_mix, "atee", "audio", error))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_STATE_CHANGE,
                     "the recorder did not start (can %s be written?)", path);
      r->done = NULL;
      finish (r, TRUE);
      return NULL;
    }
  if (keyframe != NULL)
    keyframe (data);
  mm_media_log (r->room, NULL, G_LOG_LEVEL_INFO, "recording to %s", path);
  return r;
}

/* Streaming thread (or here): the tee pad is idle: unlink, end the stream. */
static GstPadProbeReturn
unlink_idle (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Input *in = data;

  MmRecorder *r = in->r;

  if (!g_atomic_int_compare_and_exchange (&in->unlinked, FALSE, TRUE))
    return GST_PAD_PROBE_REMOVE;
  mm_tap_cut (in->src_ghost);
  if (!g_atomic_int_get (&r->watch->failed))
    gst_pad_send_event (in->sink, gst_event_new_eos ());
  else if (g_atomic_int_add (&r->cut, 1) == 1)
    {
      /* Failed: no EOS will reach the file; both inputs are cut, finish. */
      GSource *src = g_idle_source_new ();

      g_source_set_callback (src, finish_idle, r, NULL);
      g_source_attach (src, r->ctx);
      g_source_unref (src);
    }
  return GST_PAD_PROBE_REMOVE;
}

void
mm_recorder_stop (MmRecorder *r, MmRecorderDone done, gpointer data)
{
  g_mutex_lock (&r->lock);
  r->done = done;
  r->done_data = data;
  r->finishing = TRUE;
  g_mutex_unlock (&r->lock);
  gst_pad_add_probe (r->video.tee_pad, GST_PAD_PROBE_TYPE_IDLE, unlink_idle, &r->video, NULL);
  gst_pad_add_probe (r->audio.tee_pad, GST_PAD_PROBE_TYPE_IDLE, unlink_idle, &r->audio, NULL);
}

void
mm_recorder_fail (MmRecorder *r, const char *why, MmRecorderDone done, gpointer data)
{
  g_atomic_int_set (&r->watch->failed, TRUE);
  g_mutex_lock (&r->lock);
  g_free (r->error);
  r->error = g_strdup (why);
  g_mutex_unlock (&r->lock);
  mm_media_log (r->room, NULL, G_LOG_LEVEL_WARNING, "recording %s failed: %s", r->path, why);
  mm_recorder_stop (r, done, data);
}

void
mm_recorder_stop_now (MmRecorder *r, guint timeout_ms, MmRecorderDone done, gpointer data)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  /* No finish from the streaming thread: this one does it. */
  g_mutex_lock (&r->lock);
  r->done = NULL;
  r->finishing = FALSE;
  g_mutex_unlock (&r->lock);
  for (int i = 0; i < 2; i++)
    {
      Input *in = i == 0 ? &r->video : &r->audio;

      if (g_atomic_int_compare_and_exchange (&in->unlinked, FALSE, TRUE))
        {
          mm_tap_cut (in->src_ghost);
          gst_pad_send_event (in->sink, gst_event_new_eos ());
        }
    }
  g_mutex_lock (&r->lock);
  while (!r->eos && !g_atomic_int_get (&r->watch->failed)
         && g_cond_wait_until (&r->cond, &r->lock, deadline))
    ;
  if (!r->eos && !g_atomic_int_get (&r->watch->failed))
    mm_media_log (r->room, NULL, G_LOG_LEVEL_WARNING,
                  "recording %s: not finished after %u ms; it plays up to its last cluster",
                  r->path, timeout_ms);
  g_mutex_unlock (&r->lock);
  r->done = done;
  r->done_data = data;
  finish (r, TRUE);
}
