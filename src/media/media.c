/* media.c — a room's media: one pipeline with one composite, mix-minus
 * audio, and every participant's connection on the transport
 * (transport/transport.h).  This file holds the room: made, started and
 * freed, its bus, the composite's keyframes, the recording and egress
 * hooks, and the public setters; media-private.h says which file holds
 * the rest.
 *
 * Structure.  The fixed parts are bins parsed from the files in pipelines/
 * (pipeline.c): the composite (video-mix: compositor → vp8enc → tee
 * "vtee" → one payloader → "vsend"), the full mix (audio-mix: audiomixer
 * → opusenc → tee "atee" → one payloader → "asend") and one mix-minus per
 * participant who sends audio (mix.c).  What reaches a "send" sink goes
 * to an MmStream (send.c).  Each participant's incoming video and audio
 * enter an appsrc at the head of a bin ending in a tee (input.c).  Every
 * connection between a tee and a consumer is a Branch (branch.c).
 *
 * Threads.  Everything runs on the main loop, except the GStreamer
 * callbacks marked "streaming thread" and the endpoint callbacks marked
 * "transport thread", which touch only what is theirs (an input under
 * the peer's in_lock) and hand over to the main loop with
 * mm_app_run_main().
 */
#include "config.h"

#include "media/media-private.h"
#include "media/log.h"
#include "core/error.h"

#include <gio/gio.h>
#include <gst/video/video.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-media"

/* ---- logging (media/log.h) ---------------------------------------------- */

static void G_GNUC_PRINTF (4, 5)
media_log (MmMedia *m, const char *pid, GLogLevelFlags level, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  mm_media_logv (m->code, pid, level, format, args);
  va_end (args);
}

void
mm_media_room_log (MmMedia *m, GLogLevelFlags level, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  mm_media_logv (m->code, NULL, level, format, args);
  va_end (args);
}

/* ---- keyframes --------------------------------------------------------- */

/* Keyframe requests (a joiner, a receiver's PLI/FIR) reach vp8enc as
 * upstream force-key-unit events; let one through per keyframe-interval. */
static GstPadProbeReturn
limit_keyframes (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  MmMedia *m = data;
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  gint64 now = g_get_monotonic_time ();

  if (!gst_video_event_is_force_key_unit (ev))
    return GST_PAD_PROBE_OK;
  if (now - m->last_keyframe_us < (gint64) m->app->opts->keyframe_interval * 1000)
    return GST_PAD_PROBE_DROP;
  m->last_keyframe_us = now;
  return GST_PAD_PROBE_OK;
}

void
mm_media_force_keyframe (MmMedia *m)
{
  GstPad *src = gst_element_get_static_pad (m->venc, "src");

  gst_pad_send_event (src, gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE,
                                                                         TRUE, 0));
  gst_object_unref (src);
}

/* Streaming thread: frames go into the composite's encoder only while
 * someone needs what it makes: a receiver of the high tier, a recording,
 * an egress (the other tiers take the raw composite before it).  An
 * audio-only room so encodes no video.  The first frame after a pause is
 * a keyframe. */
static GstPadProbeReturn
venc_gate (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  MmMedia *m = data;

  (void) info;
  if (g_atomic_int_get (&m->venc_taps) == 0 && mm_stream_n_receivers (m->video_stream) == 0)
    {
      m->venc_idle = TRUE;
      return GST_PAD_PROBE_DROP;
    }
  if (m->venc_idle)
    {
      m->venc_idle = FALSE;
      gst_pad_send_event (pad, gst_video_event_new_downstream_force_key_unit (
                                 GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE,
                                 TRUE, 0));
    }
  return GST_PAD_PROBE_OK;
}

/* Main loop: a recording or an egress started or stopped. */
static void
count_venc_taps (MmMedia *m)
{
  g_atomic_int_set (&m->venc_taps, (m->recorder != NULL) + (m->egress[0] != NULL)
                                     + (m->egress[1] != NULL));
}

/* Transport thread: a receiver lost part of the composite (PLI, FIR). */
static void
keyframe_requested (MmStream *stream, gpointer data)
{
  mm_media_force_keyframe (data);
}

/* ---- bus --------------------------------------------------------------- */

/* A participant's media failed (its connection or one of its own
 * elements): close it and tell the client, which offers again. */
static void
peer_failed (MmMedia *m, GstObject *src, const char *why)
{
  Peer *p = mm_peer_of (m, src);

  if (p == NULL || p->removed)
    return;
  mm_peer_close (p, why);
}

static gboolean
on_bus (GstBus *bus, GstMessage *msg, gpointer data)
{
  MmMedia *m = data;

  switch (GST_MESSAGE_TYPE (msg))
    {
    case GST_MESSAGE_ERROR:
      {
        g_autoptr (GError) err = NULL;
        g_autofree char *dbg = NULL;
        g_autofree char *name = gst_object_get_path_string (GST_MESSAGE_SRC (msg));

        gst_message_parse_error (msg, &err, &dbg);
        if (m->recorder != NULL && mm_recorder_owns (m->recorder, GST_MESSAGE_SRC (msg)))
          {
            /* The recording's own failure (a full disk): it stops, the
             * meeting goes on (its sync watch already keeps the error
             * from the tees). */
            media_log (m, NULL, G_LOG_LEVEL_WARNING, "%s: %s (%s)", name, err->message,
                       dbg ? dbg : "");
            mm_recorder_fail (g_steal_pointer (&m->recorder), err->message, m->recorded,
                              m->recorded_data);
            count_venc_taps (m);
            break;
          }
        {
          Peer *p = mm_peer_of (m, GST_MESSAGE_SRC (msg));

          media_log (m, p != NULL ? p->id : NULL, G_LOG_LEVEL_WARNING, "%s: %s (%s)", name,
                     err->message, dbg ? dbg : "");
        }
        GST_DEBUG_BIN_TO_DOT_FILE_WITH_TS (GST_BIN (m->pipeline), GST_DEBUG_GRAPH_SHOW_ALL,
                                           "mixmeet-error");
        peer_failed (m, GST_MESSAGE_SRC (msg), err->message);
        break;
      }
    case GST_MESSAGE_WARNING:
      {
        g_autoptr (GError) err = NULL;
        g_autofree char *name = gst_object_get_path_string (GST_MESSAGE_SRC (msg));

        gst_message_parse_warning (msg, &err, NULL);
        mm_media_room_log (m, G_LOG_LEVEL_DEBUG, "%s: %s", name, err->message);
        break;
      }
    case GST_MESSAGE_LATENCY:
      {
        GstQuery *q = gst_query_new_latency ();
        GstPad *src = gst_element_get_static_pad (m->compositor, "src");
        GstClockTime min = 0;

        gst_bin_recalculate_latency (GST_BIN (m->pipeline));
        /* Received packet to composite frame: jitterbuffer, decoding and
         * the compositor's own wait. */
        if (gst_pad_query (src, q))
          gst_query_parse_latency (q, NULL, &min, NULL);
        gst_query_unref (q);
        gst_object_unref (src);
        mm_media_room_log (m, G_LOG_LEVEL_INFO,
                           "latency up to the composite %" G_GUINT64_FORMAT " ms",
                           (guint64) (min / GST_MSECOND));
        break;
      }
    case GST_MESSAGE_ELEMENT:
      if (gst_message_has_name (msg, "level"))
        mm_mix_on_level (m, msg);
      break;
    default:
      break;
    }
  return G_SOURCE_CONTINUE;
}

/* ---- the room ---------------------------------------------------------- */

gboolean
mm_media_check_elements (GError **error)
{
  static const struct {
    const char *element;
    const char *package;
  } needed[] = {
    { "appsrc", "gstreamer1.0-plugins-base" },
    { "rtpjitterbuffer", "gstreamer1.0-plugins-good" },
    { "fakesink", "libgstreamer1.0-0" },
    { "compositor", "gstreamer1.0-plugins-base" },
    { "audiomixer", "gstreamer1.0-plugins-base" },
    { "videotestsrc", "gstreamer1.0-plugins-base" },
    { "audiotestsrc", "gstreamer1.0-plugins-base" },
    { "videoconvert", "gstreamer1.0-plugins-base" },
    { "audioconvert", "gstreamer1.0-plugins-base" },
    { "audioresample", "gstreamer1.0-plugins-base" },
    { "textoverlay", "gstreamer1.0-x" },
    { "vp8enc", "gstreamer1.0-plugins-good" },
    { "vp8dec", "gstreamer1.0-plugins-good" },
    { "rtpvp8pay", "gstreamer1.0-plugins-good" },
    { "rtpvp8depay", "gstreamer1.0-plugins-good" },
    { "opusenc", "gstreamer1.0-plugins-base" },
    { "opusdec", "gstreamer1.0-plugins-base" },
    { "rtpopuspay", "gstreamer1.0-plugins-good" },
    { "rtpopusdepay", "gstreamer1.0-plugins-good" },
    { "level", "gstreamer1.0-plugins-good" },
    { "tee", "libgstreamer1.0-0" },
    { "queue", "libgstreamer1.0-0" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (needed); i++)
    {
      GstElementFactory *f = gst_element_factory_find (needed[i].element);

      if (f == NULL)
        {
          g_set_error (error, MM_ERROR, MM_ERROR_INTERNAL,
                       "the GStreamer element %s is missing: apt-get install %s",
                       needed[i].element, needed[i].package);
          return FALSE;
        }
      gst_object_unref (f);
    }
  return TRUE;
}

static const char *const egress_names[] = { "hls", "rtmp" };
static char *egress_description (MmMedia *m, MmEgressKind kind, GError **error);

gboolean
mm_media_check_pipelines (MmApp *app, GError **error)
{
  static const char *const names[] = { "video-mix", "audio-mix", "video-in", "audio-in",
                                        "tile-in", "voice-in", "placeholder", "tier" };
  const char *vars[] = { "WIDTH", "640", "HEIGHT", "360", "FRAMERATE", "30", "BITRATE", "32000",
                         "LATENCY", "40", NULL };
  MmMedia fake = { .app = app };
  g_autoptr (GInetAddress) addr = NULL;

  g_auto (GStrv) listed = g_strsplit (app->opts->ice_addresses, ",", -1);

  if (*app->opts->public_ip != '\0'
      && (addr = g_inet_address_new_from_string (app->opts->public_ip)) == NULL)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                   "media.public-ip: %s is not an IP address", app->opts->public_ip);
      return FALSE;
    }
  for (guint i = 0; listed[i] != NULL; i++)
    {
      const char *a = g_strstrip (listed[i]);

      g_autoptr (GInetAddress) one = *a != '\0' ? g_inet_address_new_from_string (a) : NULL;

      if (*a != '\0' && one == NULL)
        {
          g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                       "media.ice-addresses: %s is not an IP address", a);
          return FALSE;
        }
    }
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      GstBin *bin = mm_pipeline_make_bin (&fake, names[i], vars, error);

      if (bin == NULL)
        return FALSE;
      gst_object_unref (gst_object_ref_sink (bin));
    }
  /* Egress is optional: without its elements the rest still works. */
  for (int k = 0; k < 2; k++)
    {
      g_autoptr (GError) e = NULL;
      g_autofree char *desc = egress_description (&fake, k, &e);
      GstElement *pipe = desc ? gst_parse_launch (desc, &e) : NULL;

      if (pipe == NULL || e != NULL)
        g_warning ("pipelines/%s.pipeline: %s; %s egress is not available", egress_names[k],
                   e ? e->message : "cannot be built",
                   k == MM_EGRESS_HLS ? "HLS" : "RTMP");
      if (pipe != NULL)
        gst_object_unref (gst_object_ref_sink (pipe));
    }
  return TRUE;
}

/* Packets of the composite kept for NACKs: about 2 s at 1.5 Mbit/s. */
#define MM_VIDEO_HISTORY 512

MmMedia *
mm_media_new (MmApp *app, const char *code, const MmMediaSink *sink, GError **error)
{
  MmMedia *m = g_new0 (MmMedia, 1);
  const MmOptions *o = app->opts;
  g_autofree char *w = g_strdup_printf ("%d", o->video_width);
  g_autofree char *h = g_strdup_printf ("%d", o->video_height);
  g_autofree char *fps = g_strdup_printf ("%d", o->video_framerate);
  g_autofree char *vbr = g_strdup_printf ("%d", o->video_bitrate * 1000);
  g_autofree char *abr = g_strdup_printf ("%d", o->audio_bitrate * 1000);
  const char *vvars[] = { "WIDTH", w, "HEIGHT", h, "FRAMERATE", fps, "BITRATE", vbr, NULL };
  const char *avars[] = { "BITRATE", abr, NULL };
  g_autofree char *name = g_strdup_printf ("room-%s", code);
  GstBus *bus;
  GstPad *venc_src;

  m->ref_count = 1;
  m->app = app;
  m->code = g_strdup (code);
  m->sink = *sink;
  m->layout = MM_LAYOUT_GRID;
  m->peers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, mm_peer_unref);
  m->leaving = g_ptr_array_new ();
  m->pipeline = gst_pipeline_new (name);
  m->video_mix = mm_pipeline_make_bin (m, "video-mix", vvars, error);
  m->full_mix = m->video_mix ? mm_pipeline_make_bin (m, "audio-mix", avars, error) : NULL;
  if (m->full_mix == NULL)
    {
      if (m->video_mix != NULL)
        gst_object_unref (gst_object_ref_sink (m->video_mix));
      mm_media_free (m);
      return NULL;
    }
  gst_bin_add (GST_BIN (m->pipeline), GST_ELEMENT (m->video_mix));
  gst_bin_add (GST_BIN (m->pipeline), GST_ELEMENT (m->full_mix));
  m->compositor = gst_bin_get_by_name (m->video_mix, "vmix");
  m->venc = gst_bin_get_by_name (m->video_mix, "venc");
  m->vtee = gst_bin_get_by_name (m->video_mix, "vtee");
  if (m->compositor == NULL || m->venc == NULL || m->vtee == NULL
      || gst_bin_get_by_name (m->full_mix, "amix") == NULL)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INTERNAL,
                           "pipelines/video-mix.pipeline must name vmix, venc and vtee, "
                           "and audio-mix.pipeline amix and atee");
      mm_media_free (m);
      return NULL;
    }
  m->video_stream = mm_stream_new (app->transport, 90000, MM_VIDEO_HISTORY, keyframe_requested, m);
  m->audio_stream = mm_stream_new (app->transport, 48000, 0, NULL, NULL);
  if (!mm_send_attach (m->video_mix, "vsend", m->video_stream, "*", error)
      || !mm_send_attach (m->full_mix, "asend", m->audio_stream, "*", error))
    {
      mm_media_free (m);
      return NULL;
    }
  mm_mix_start (m);
  venc_src = gst_element_get_static_pad (m->venc, "src");
  gst_pad_add_probe (venc_src, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, limit_keyframes, m, NULL);
  gst_object_unref (venc_src);
  {
    GstPad *venc_sink = gst_element_get_static_pad (m->venc, "sink");

    m->venc_idle = TRUE;
    gst_pad_add_probe (venc_sink, GST_PAD_PROBE_TYPE_BUFFER, venc_gate, m, NULL);
    gst_object_unref (venc_sink);
  }
  mm_probe_composite (m->compositor, m->venc);
  if (!mm_tiers_build (m, error))
    {
      mm_media_free (m);
      return NULL;
    }

  bus = gst_pipeline_get_bus (GST_PIPELINE (m->pipeline));
  m->bus_watch = gst_bus_add_watch (bus, on_bus, m);
  gst_object_unref (bus);
  if (gst_element_set_state (m->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INTERNAL, "room %s: the pipeline did not start", code);
      mm_media_free (m);
      return NULL;
    }
  mm_tiers_start (m);
  mm_media_room_log (m, G_LOG_LEVEL_INFO, "media pipeline started (%dx%d at %d fps)",
                     o->video_width, o->video_height, o->video_framerate);
  return m;
}

void
mm_media_unref (MmMedia *m)
{
  GHashTableIter it;
  gpointer value;

  if (!g_atomic_int_dec_and_test (&m->ref_count))
    return;
  /* The pipeline is stopped: what is left goes without ceremony. */
  g_hash_table_iter_init (&it, m->peers);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      Peer *p = value;

      if (p->tile != NULL)
        mm_branch_free_now (p->tile, TRUE);
      if (p->screen_tile != NULL)
        mm_branch_free_now (p->screen_tile, TRUE);
      p->screen_tile = NULL;
      mm_compose_remove_card (m, p);
      mm_mix_free_voices (p);
      p->tile = NULL;
    }
  g_hash_table_remove_all (m->peers);
  g_hash_table_unref (m->peers);
  g_ptr_array_unref (m->leaving);
  g_clear_object (&m->compositor);
  g_clear_object (&m->venc);
  g_clear_object (&m->vtee);
  g_clear_object (&m->pipeline);
  mm_tiers_free (m);
  mm_mix_free (m);
  g_clear_pointer (&m->video_stream, mm_stream_free);
  g_clear_pointer (&m->audio_stream, mm_stream_free);
  g_free (m->code);
  g_free (m->active_speaker);
  g_free (m->speaker_candidate);
  g_clear_pointer (&m->layout_event, json_object_unref);
  g_free (m);
}

void
mm_media_free (MmMedia *m)
{
  GHashTableIter it;
  gpointer value;
  gint64 t0;

  if (m == NULL)
    return;
  t0 = g_get_monotonic_time ();
  m->closed = TRUE;
  /* The recording is finished before the pipeline stops. */
  if (m->recorder != NULL)
    mm_recorder_stop_now (g_steal_pointer (&m->recorder), 3000, m->recorded, m->recorded_data);
  for (int k = 0; k < 2; k++)
    if (m->egress[k] != NULL)
      mm_egress_stop (g_steal_pointer (&m->egress[k]), TRUE);
  /* The connections first: nothing is sent or taken any more. */
  g_hash_table_iter_init (&it, m->peers);
  while (g_hash_table_iter_next (&it, NULL, &value))
    mm_peer_stop_connection (value);
  for (guint i = 0; i < m->leaving->len; i++)
    mm_peer_stop_connection (m->leaving->pdata[i]);
  if (m->pipeline != NULL)
    gst_element_set_state (m->pipeline, GST_STATE_NULL);
  if (m->bus_watch != 0)
    g_source_remove (m->bus_watch);
  m->bus_watch = 0;
  if (m->tier_timer != 0)
    g_source_remove (m->tier_timer);
  m->tier_timer = 0;
  mm_mix_stop (m);
  /* Work already handed to the main loop sees the peers gone. */
  g_hash_table_iter_init (&it, m->peers);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      ((Peer *) value)->removed = TRUE;
    }
  mm_media_room_log (m, G_LOG_LEVEL_INFO, "media closed (%" G_GINT64_FORMAT " ms)",
                     (g_get_monotonic_time () - t0) / 1000);
  mm_media_unref (m);
}

/* ---- egress ---------------------------------------------------------------- */

static char *
egress_description (MmMedia *m, MmEgressKind kind, GError **error)
{
  const MmOptions *o = m->app->opts;
  g_autofree char *br = g_strdup_printf ("%d", o->egress_bitrate);
  g_autofree char *keyint = g_strdup_printf ("%d", o->video_framerate * 2);
  const char *vars[] = { "BITRATE", br, "KEYINT", keyint, "SEGMENT", "2", NULL };

  return mm_pipeline_load_description (m, egress_names[kind], vars, error);
}

gboolean
mm_media_egress_start (MmMedia *m, MmEgressKind kind, const char *target, MmEgressState state,
                       gpointer data, GError **error)
{
  g_autofree char *desc = NULL;

  if (m->egress[kind] != NULL)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_CONFLICT, "%s is on already",
                   kind == MM_EGRESS_HLS ? "HLS" : "the RTMP push");
      return FALSE;
    }
  desc = egress_description (m, kind, error);
  if (desc != NULL)
    m->egress[kind] = mm_egress_start (m->app->ctx, m->pipeline, m->video_mix, m->full_mix, kind,
                                       desc, target, state, data, error);
  count_venc_taps (m);
  if (m->egress[kind] == NULL)
    {
      if (error != NULL && *error != NULL && (*error)->domain != MM_ERROR)
        {
          GError *e = g_error_new (MM_ERROR, MM_ERROR_INTERNAL, "room %s: %s: %s", m->code,
                                   egress_names[kind], (*error)->message);

          g_clear_error (error);
          g_propagate_error (error, e);
        }
      return FALSE;
    }
  /* Each segment and the encoder's start want a keyframe of their own,
   * which x264 makes; the room's VP8 goes on as it was. */
  return TRUE;
}

gboolean
mm_media_egress_stop (MmMedia *m, MmEgressKind kind, GError **error)
{
  if (m->egress[kind] == NULL)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_CONFLICT, "%s is not on",
                   kind == MM_EGRESS_HLS ? "HLS" : "the RTMP push");
      return FALSE;
    }
  mm_egress_stop (g_steal_pointer (&m->egress[kind]), FALSE);
  count_venc_taps (m);
  return TRUE;
}

gboolean
mm_media_egress_on (MmMedia *m, MmEgressKind kind)
{
  return m->egress[kind] != NULL;
}

/* ---- recording ---------------------------------------------------------- */

static void
keyframe_now (gpointer data)
{
  MmMedia *m = data;

  m->last_keyframe_us = 0;   /* not held back by the rate limit */
  mm_media_force_keyframe (m);
}

gboolean
mm_media_record_start (MmMedia *m, const char *path, MmMediaRecorded done, gpointer data,
                       GError **error)
{
  if (m->recorder != NULL)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_CONFLICT, "the room is being recorded already");
      return FALSE;
    }
  m->recorder = mm_recorder_start (m->app->ctx, m->pipeline, m->video_mix, m->full_mix, path,
                                   keyframe_now, m, error);
  count_venc_taps (m);
  if (m->recorder == NULL)
    {
      g_prefix_error (error, "room %s: ", m->code);
      if (error != NULL && *error != NULL && (*error)->domain != MM_ERROR)
        {
          GError *e = g_error_new_literal (MM_ERROR, MM_ERROR_INTERNAL, (*error)->message);

          g_clear_error (error);
          g_propagate_error (error, e);
        }
      return FALSE;
    }
  m->recorded = done;
  m->recorded_data = data;
  return TRUE;
}

gboolean
mm_media_record_stop (MmMedia *m, GError **error)
{
  if (m->recorder == NULL)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_CONFLICT, "the room is not being recorded");
      return FALSE;
    }
  mm_recorder_stop (g_steal_pointer (&m->recorder), m->recorded, m->recorded_data);
  count_venc_taps (m);
  return TRUE;
}

gboolean
mm_media_is_recording (MmMedia *m)
{
  return m->recorder != NULL;
}

gboolean
mm_media_has_peer (MmMedia *m, const char *pid)
{
  return g_hash_table_contains (m->peers, pid);
}

guint
mm_media_n_peers (MmMedia *m)
{
  return g_hash_table_size (m->peers);
}

/* ---- the public setters ------------------------------------------------ */

void
mm_media_set_audio_muted (MmMedia *m, const char *pid, gboolean muted)
{
  Peer *p = g_hash_table_lookup (m->peers, pid);

  if (p == NULL || p->removed)
    return;
  p->audio_muted = muted;
  mm_mix_set_voice_muted (p);
}

void
mm_media_set_may_publish (MmMedia *m, const char *pid, gboolean may)
{
  Peer *p = g_hash_table_lookup (m->peers, pid);

  if (p == NULL || p->removed || p->blocked == !may)
    return;
  p->blocked = !may;
  mm_mix_set_voice_muted (p);
  mm_compose_hide_peer (p);
  mm_compose_screens_changed (m);
}

void
mm_media_set_presenting (MmMedia *m, const char *pid, gboolean presenting)
{
  Peer *p = g_hash_table_lookup (m->peers, pid);
  gboolean showed;

  if (p == NULL || p->removed)
    return;
  showed = mm_compose_shows_screen (p);
  p->screen_paused = !presenting;
  if (showed != mm_compose_shows_screen (p))
    mm_compose_screens_changed (m);
}

void
mm_media_set_video_muted (MmMedia *m, const char *pid, gboolean muted)
{
  Peer *p = g_hash_table_lookup (m->peers, pid);

  if (p == NULL || p->removed)
    return;
  p->video_muted = muted;
  if (p->tile != NULL)
    mm_compose_relayout (m);
}

GstElement *
mm_media_pipeline (MmMedia *m)
{
  return m->pipeline;
}
