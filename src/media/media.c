/* media.c — the room pipeline: one composite, mix-minus audio, and every
 * participant's connection on the transport (transport/transport.h).
 *
 * Structure.  The fixed parts are bins parsed from the files in pipelines/:
 * the composite (video-mix: compositor → vp8enc → tee "vtee" → one
 * payloader → "vsend"), the full mix (audio-mix: audiomixer → opusenc →
 * tee "atee" → one payloader → "asend") and one mix-minus per participant
 * who sends audio.  What reaches a "send" sink goes to an MmStream, which
 * protects and sends the same packets to every endpoint subscribed to it:
 * no element, queue or thread per receiver.  Each participant's incoming
 * video and audio enter an appsrc at the head of a bin (video-in,
 * audio-in: jitter buffer, depayloader, decoder) ending in a tee; the
 * transport's thread pushes the unprotected packets there.  Every
 * connection between a tee and a consumer is a Branch: a small bin of its
 * own (a queue, a label) between a request pad on the tee and a request
 * pad on the consumer (compositor, audiomixer).  Branches are detached
 * with an IDLE probe on the tee pad, which cuts the tee pad from the
 * branch before any pad is removed, so a shared tee never stops for
 * someone leaving.  A branch that fails is contained: the tee goes on for
 * the others and the participant it served is closed (its client offers
 * again).
 *
 * Threads.  Everything here runs on the main loop, except the GStreamer
 * callbacks marked "streaming thread" and the endpoint callbacks marked
 * "transport thread", which touch only what is theirs (an input under
 * the peer's in_lock) and hand over to the main loop with
 * mm_app_run_main().
 */
#include "config.h"

#include "media/media-private.h"
#include "media/log.h"
#include "media/probe.h"
#include "media/recorder.h"
#include "media/tap.h"
#include "core/error.h"

#include "transport/rtcp.h"
#include "transport/sdp.h"
#include "transport/transport.h"

#include <gio/gio.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/video/video.h>
#include <math.h>
#include <string.h>

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

void
mm_peer_log (Peer *p, GLogLevelFlags level, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  mm_media_logv (p->m->code, p->id, level, format, args);
  va_end (args);
}

/* ---- small helpers ----------------------------------------------------- */

Peer *
mm_peer_ref (Peer *p)
{
  g_atomic_int_inc (&p->ref_count);
  return p;
}

void
mm_peer_unref (gpointer data)
{
  Peer *p = data;

  if (p == NULL || !g_atomic_int_dec_and_test (&p->ref_count))
    return;
  g_free (p->id);
  g_free (p->name);
  g_free (p->ice_ufrag);
  g_free (p->fingerprint);
  for (guint i = 0; i < N_INPUTS; i++)
    {
      g_clear_object (&p->inputs[i].appsrc);
      g_clear_object (&p->input_bins[i]);
    }
  g_mutex_clear (&p->in_lock);
  if (p->ep != NULL)
    mm_endpoint_unref (p->ep);
  mm_probe_rtp_free (p->probe_in);
  g_ptr_array_unref (p->voices);
  g_ptr_array_unref (p->mix_inputs);
  g_free (p);
}

/* ---- to the transport ------------------------------------------------- */

/* Packets of the composite kept for NACKs: about 2 s at 1.5 Mbit/s. */
#define MM_VIDEO_HISTORY 512

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

/* Transport thread: a receiver lost part of the composite (PLI, FIR). */
static void
keyframe_requested (MmStream *stream, gpointer data)
{
  mm_media_force_keyframe (data);
}

/* ---- bus --------------------------------------------------------------- */

static gboolean
branch_is (const Branch *b, GstObject *o)
{
  return b != NULL && o == GST_OBJECT (b->bin);
}

/* The peer a failed branch serves: the owner of a tile, the listener of
 * a mix-minus input. */
static gboolean
branch_of_peer (Peer *p, GstObject *o)
{
  if (branch_is (p->tile, o) || branch_is (p->screen_tile, o))
    return TRUE;
  for (guint i = 0; i < p->mix_inputs->len; i++)
    if (branch_is (p->mix_inputs->pdata[i], o))
      return TRUE;
  return FALSE;
}

/* The peer whose elements include @obj, or NULL. */
Peer *
mm_peer_of (MmMedia *m, GstObject *obj)
{
  for (GstObject *o = obj; o != NULL; o = GST_OBJECT_PARENT (o))
    {
      GHashTableIter it;
      gpointer value;

      g_hash_table_iter_init (&it, m->peers);
      while (g_hash_table_iter_next (&it, NULL, &value))
        {
          Peer *p = value;

          if (o == GST_OBJECT (p->mix) || o == GST_OBJECT (p->card) || branch_of_peer (p, o))
            return p;
          for (guint i = 0; i < N_INPUTS; i++)
            if (p->input_bins[i] != NULL && o == GST_OBJECT (p->input_bins[i]))
              return p;
        }
    }
  return NULL;
}

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
                                        "tile-in", "voice-in", "placeholder" };
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
  mm_pipeline_set_upstream_floor (m, m->compositor);
  {
    GstElement *amix = gst_bin_get_by_name (m->full_mix, "amix");
    GstElement *aenc = gst_bin_get_by_name (m->full_mix, "aenc");

    mm_pipeline_set_upstream_floor (m, amix);
    if (aenc != NULL)
      mm_probe_audio_mix (amix, aenc);
    gst_object_unref (amix);
    g_clear_object (&aenc);
  }
  venc_src = gst_element_get_static_pad (m->venc, "src");
  gst_pad_add_probe (venc_src, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, limit_keyframes, m, NULL);
  gst_object_unref (venc_src);
  mm_probe_composite (m->compositor, m->venc);

  bus = gst_pipeline_get_bus (GST_PIPELINE (m->pipeline));
  m->bus_watch = gst_bus_add_watch (bus, on_bus, m);
  gst_object_unref (bus);
  if (gst_element_set_state (m->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INTERNAL, "room %s: the pipeline did not start", code);
      mm_media_free (m);
      return NULL;
    }
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
      for (guint i = 0; i < p->voices->len; i++)
        mm_branch_free_now (p->voices->pdata[i], TRUE);
      p->tile = NULL;
      g_clear_pointer (&p->mix_stream, mm_stream_free);
      g_ptr_array_set_size (p->voices, 0);
      g_ptr_array_set_size (p->mix_inputs, 0);
    }
  g_hash_table_remove_all (m->peers);
  g_hash_table_unref (m->peers);
  g_ptr_array_unref (m->leaving);
  g_clear_object (&m->compositor);
  g_clear_object (&m->venc);
  g_clear_object (&m->vtee);
  g_clear_object (&m->pipeline);
  g_clear_pointer (&m->video_stream, mm_stream_free);
  g_clear_pointer (&m->audio_stream, mm_stream_free);
  g_free (m->code);
  g_free (m->active_speaker);
  g_free (m->speaker_candidate);
  g_clear_pointer (&m->layout_event, json_object_unref);
  g_free (m);
}

/* Close @p's connection as the room closes: nothing goes to it any more
 * and its inputs stop. */
void
mm_peer_stop_connection (Peer *p)
{
  MmMedia *m = p->m;

  if (p->video_sub)
    mm_stream_remove (m->video_stream, p->ep);
  if (p->audio_stream != NULL)
    mm_stream_remove (p->audio_stream, p->ep);
  p->video_sub = FALSE;
  p->audio_stream = NULL;
  if (p->ep != NULL)
    mm_endpoint_close (p->ep);
  mm_input_stop_all (p);
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

/* ---- a participant's connection --------------------------------------- */

void
mm_peer_hop_free (gpointer data)
{
  Hop *h = data;

  mm_peer_unref (h->p);
  g_free (h->text);
  g_free (h);
}

Hop *
mm_peer_hop_new (Peer *p)
{
  Hop *h = g_new0 (Hop, 1);
  h->p = mm_peer_ref (p);
  return h;
}

/* Close @p's connection and tell its client why in a "media-failed"
 * event: it is free to offer again at once. */
void
mm_peer_close (Peer *p, const char *why)
{
  MmMedia *m = p->m;
  g_autofree char *pid = g_strdup (p->id);
  g_autoptr (JsonObject) ev = json_object_new ();

  mm_peer_log (p, G_LOG_LEVEL_WARNING, "%s: closing its connection; the client may offer again",
               why);
  json_object_set_string_member (ev, "reason", why);
  m->sink.send (m->sink.data, pid, "media-failed", ev);
  mm_media_remove (m, pid);
}

/* Main loop: the endpoint connected (no @h->text) or closed for good. */
static void
endpoint_changed (MmApp *app, gpointer data)
{
  Hop *h = data;
  Peer *p = h->p;

  if (p->removed)
    return;
  if (h->text != NULL)
    {
      mm_peer_close (p, h->text);
      return;
    }
  p->connected = TRUE;
  mm_peer_log (p, G_LOG_LEVEL_INFO, "connected");
  /* A receiver decodes from a keyframe on. */
  if (p->video_sub)
    mm_media_force_keyframe (p->m);
}

/* Transport thread. */
static void
on_endpoint_state (MmEndpoint *ep, MmEndpointState state, const char *reason, gpointer data)
{
  Peer *p = data;
  Hop *h;

  if (state == MM_ENDPOINT_CHECKING)
    return;
  h = mm_peer_hop_new (p);
  if (state == MM_ENDPOINT_CLOSED)
    h->text = g_strdup (reason != NULL ? reason : "the connection closed");
  mm_app_run_main (p->app, endpoint_changed, h, mm_peer_hop_free);
}

static void
nothing (MmApp *app, gpointer data)
{
}

/* Transport thread: no callback of the endpoint runs any more; its
 * reference to the peer is dropped on the main loop, which owns peers. */
static void
endpoint_destroyed (gpointer data)
{
  Peer *p = data;

  mm_app_run_main (p->app, nothing, p, mm_peer_unref);
}

/* ---- the offer --------------------------------------------------------- */

static guint32
random_ssrc (guint32 other)
{
  guint32 s;

  do
    s = g_random_int ();
  while (s == 0 || s == other);
  return s;
}

Peer *
mm_peer_new (MmMedia *m, const char *pid, const char *display_name, const MmSdpSession *offer,
             GError **error)
{
  MmEndpointConfig ec = { 0 };
  MmEndpointCallbacks cb = { 0 };
  Peer *p;

  p = g_new0 (Peer, 1);
  p->ref_count = 1;
  p->m = m;
  p->app = m->app;
  p->id = g_strdup (pid);
  p->name = g_strdup (display_name);
  p->order = m->next_order++;
  g_mutex_init (&p->in_lock);
  p->voices = g_ptr_array_new ();
  p->mix_inputs = g_ptr_array_new ();
  p->video_mline = p->audio_mline = p->screen_mline = -1;
  p->ice_ufrag = g_strdup (offer->ice_ufrag);
  p->fingerprint = g_strdup (offer->fingerprint);
  p->setup = mm_sdp_answer_setup (offer->setup);
  p->video_ssrc = random_ssrc (0);
  p->audio_ssrc = random_ssrc (p->video_ssrc);
  p->level_db = -100;
  p->probe_in = mm_probe_rtp_new (pid, FALSE);

  ec.remote_ufrag = offer->ice_ufrag;
  ec.remote_pwd = offer->ice_pwd;
  ec.remote_fingerprint = offer->fingerprint;
  ec.role = p->setup == MM_SDP_SETUP_ACTIVE ? MM_DTLS_CLIENT : MM_DTLS_SERVER;
  for (guint i = 0; i < offer->media->len && ec.twcc_ext_id == 0; i++)
    {
      const MmSdpMedia *md = offer->media->pdata[i];

      if (!md->rejected && md->fb_twcc)
        ec.twcc_ext_id = md->ext_twcc;
    }
  cb.state = on_endpoint_state;
  cb.rtp = mm_input_on_rtp;
  cb.data = mm_peer_ref (p);
  cb.destroy = endpoint_destroyed;
  p->ep = mm_endpoint_new (m->app->transport, &ec, &cb, error);
  if (p->ep == NULL)
    {
      mm_peer_unref (p);
      mm_peer_unref (p);
      return NULL;
    }
  return p;
}

/* ---- leaving ----------------------------------------------------------- */

/* Take @b, a voice going into someone's mix, out of its source's list of
 * voices (@voice TRUE) or out of its listener's list of mix inputs.  The
 * peers that are leaving count: one may still own @b until its teardown,
 * and forgetting it there too freed a branch twice when many left at
 * once (a crash). */
static void
forget_branch (MmMedia *m, Branch *b, gboolean voice)
{
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, m->peers);
  while (g_hash_table_iter_next (&it, NULL, &value))
    g_ptr_array_remove (voice ? ((Peer *) value)->voices : ((Peer *) value)->mix_inputs, b);
  for (guint i = 0; i < m->leaving->len; i++)
    {
      Peer *q = m->leaving->pdata[i];

      g_ptr_array_remove (voice ? q->voices : q->mix_inputs, b);
    }
}

/* Everything of @p that only @p uses: no data flows into it any more
 * (its inputs were stopped by mm_media_remove). */
static void
peer_teardown (Peer *p)
{
  MmMedia *m = p->m;

  /* Branches out of p's decoders: their source has stopped. */
  if (p->tile != NULL)
    mm_branch_free_now (p->tile, TRUE);
  if (p->screen_tile != NULL)
    mm_branch_free_now (p->screen_tile, TRUE);
  p->screen_tile = NULL;
  g_ptr_array_remove (m->leaving, p);
  for (guint i = 0; i < p->voices->len; i++)
    {
      Branch *b = p->voices->pdata[i];

      forget_branch (m, b, FALSE);
      mm_branch_free_now (b, TRUE);
    }
  g_ptr_array_set_size (p->voices, 0);
  p->tile = NULL;
  mm_compose_remove_card (m, p);
  for (guint i = 0; i < N_INPUTS; i++)
    if (p->input_bins[i] != NULL)
      {
        mm_pipeline_remove_bin (m, GST_ELEMENT (p->input_bins[i]));
        gst_object_unref (p->input_bins[i]);
        p->input_bins[i] = NULL;
      }
  p->screen_in = NULL;
  if (p->mix != NULL)
    mm_pipeline_remove_bin (m, GST_ELEMENT (p->mix));
  /* Stopped: its sender no longer hands packets to the stream. */
  g_clear_pointer (&p->mix_stream, mm_stream_free);
  p->video_in = p->audio_in = p->mix = NULL;
  mm_peer_unref (p);   /* the reference the table had (stolen by mm_media_remove) */
}

void
mm_peer_detach_done (Peer *p)
{
  g_assert (p->pending_detach > 0);
  if (--p->pending_detach == 0)
    {
      peer_teardown (p);
      mm_peer_unref (p);
    }
}

void
mm_media_remove (MmMedia *m, const char *pid)
{
  Peer *p = g_hash_table_lookup (m->peers, pid);
  gboolean had_tile;

  if (p == NULL || p->removed)
    return;
  p->removed = TRUE;
  had_tile = p->tile != NULL || p->card != NULL || p->screen_tile != NULL;
  mm_compose_hide_peer (p);
  /* What p's branches return from now on is no failure to report. */
  mm_branch_quiet (p->tile);
  mm_branch_quiet (p->screen_tile);
  for (guint i = 0; i < p->mix_inputs->len; i++)
    mm_branch_quiet (p->mix_inputs->pdata[i]);
  /* Its connection first: nothing is sent to it or taken from it any
   * more, and its inputs stop, so that the branches out of them can go. */
  if (p->video_sub)
    mm_stream_remove (m->video_stream, p->ep);
  if (p->audio_stream != NULL)
    mm_stream_remove (p->audio_stream, p->ep);
  p->video_sub = FALSE;
  p->audio_stream = NULL;
  mm_endpoint_close (p->ep);
  mm_input_stop_all (p);
  mm_peer_ref (p);
  p->pending_detach = 1;   /* released below, after scheduling the rest */
  for (guint i = 0; i < p->mix_inputs->len; i++)
    {
      Branch *b = p->mix_inputs->pdata[i];

      /* The source's list of voices must forget this branch now. */
      forget_branch (m, b, TRUE);
      mm_branch_detach (b, p, FALSE);
    }
  g_ptr_array_set_size (p->mix_inputs, 0);
  if (g_strcmp0 (m->active_speaker, pid) == 0)
    g_clear_pointer (&m->active_speaker, g_free);
  /* Out of the table now: the id is free for a new connection, and
   * nothing iterating the peers sees this one again. */
  g_hash_table_steal (m->peers, pid);
  g_ptr_array_add (m->leaving, p);
  /* The tile goes with the teardown; lay out the others now. */
  if (had_tile)
    mm_compose_screens_changed (m);
  mm_peer_detach_done (p);
}

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
