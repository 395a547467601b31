/* media.c — the bot's GStreamer pipeline and what it measures.
 *
 * One pipeline per bot, one bus watch per pipeline (main loop).
 *
 *   send:    videotestsrc (solid colour) ! vp8enc ! rtpvp8pay  ─┐
 *            audiotestsrc (sine)         ! opusenc ! rtpopuspay ─┴─▶ webrtcbin
 *   receive: webrtcbin ─▶ rtpvp8depay ! vp8dec ! videoconvert ! RGBx appsink
 *                     └─▶ rtpopusdepay ! opusdec ! … ! level ! spectrum ! fakesink
 *
 * With --loopback-test there is no webrtcbin: the payloaders feed the
 * receive chains directly, so the analysis can be checked without a server.
 *
 * The bot is the offerer.  It creates the offer only once every sink pad of
 * webrtcbin has caps carrying the SSRC (shared/MEDIA-FACTS.md, pitfall 1),
 * sends it after set-local-description has succeeded, and trickles its
 * candidates after it (webrtcbin emits them from its own task queue, after
 * that operation).  Remote candidates wait until the answer is set.
 */
#include "config.h"

#include "bot/bot.h"

#include <gst/app/gstappsink.h>
#include <gst/rtp/rtp.h>
#include <gst/sdp/sdp.h>
#include <gst/video/video.h>
#ifndef GST_USE_UNSTABLE_API
#define GST_USE_UNSTABLE_API         /* gst/webrtc is "unstable" API in 1.22 */
#endif
#include <gst/webrtc/webrtc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define VIDEO_PT 96
#define AUDIO_PT 111
#define AUDIO_RATE 48000
#define SPECTRUM_BANDS 1024
#define SPECTRUM_THRESHOLD_DB (-60)
#define PEAK_ABOVE_MEDIAN_DB 15.0
#define LEVEL_FLOOR_DB (-120.0)           /* what silence reports */
#define PATCH 5                       /* pixels sampled per cell: PATCH × PATCH */
#define SSRC_WAIT_MS 20
#define SSRC_WAIT_MAX_TICKS (5000 / SSRC_WAIT_MS)

#define VIDEO_RTP_CAPS \
  "application/x-rtp,media=(string)video,encoding-name=(string)VP8,payload=(int)96," \
  "clock-rate=(int)90000,rtcp-fb-nack=(boolean)true,rtcp-fb-nack-pli=(boolean)true," \
  "rtcp-fb-ccm-fir=(boolean)true"
#define AUDIO_RTP_CAPS \
  "application/x-rtp,media=(string)audio,encoding-name=(string)OPUS,payload=(int)111," \
  "clock-rate=(int)48000"
/* What the microphone sends: with the level of each packet (RFC 6464), as
 * a browser does. */
#define AUDIO_LEVEL_EXT 5
#define AUDIO_SEND_CAPS \
  AUDIO_RTP_CAPS ",extmap-5=(string)urn:ietf:params:rtp-hdrext:ssrc-audio-level"

G_STATIC_ASSERT (VIDEO_PT == 96 && AUDIO_PT == 111);   /* as in the caps above */

/* ---- elements ----------------------------------------------------------- */

static const struct {
  const char *factory;
  const char *package;
  gboolean webrtc_only;
} needed[] = {
  { "videotestsrc", "gstreamer1.0-plugins-base", FALSE },
  { "audiotestsrc", "gstreamer1.0-plugins-base", FALSE },
  { "videoconvert", "gstreamer1.0-plugins-base", FALSE },
  { "audioconvert", "gstreamer1.0-plugins-base", FALSE },
  { "audioresample", "gstreamer1.0-plugins-base", FALSE },
  { "appsink", "gstreamer1.0-plugins-base", FALSE },
  { "opusenc", "gstreamer1.0-plugins-base", FALSE },
  { "opusdec", "gstreamer1.0-plugins-base", FALSE },
  { "vp8enc", "gstreamer1.0-plugins-good", FALSE },
  { "vp8dec", "gstreamer1.0-plugins-good", FALSE },
  { "rtpvp8pay", "gstreamer1.0-plugins-good", FALSE },
  { "rtpvp8depay", "gstreamer1.0-plugins-good", FALSE },
  { "rtpopuspay", "gstreamer1.0-plugins-good", FALSE },
  { "rtpopusdepay", "gstreamer1.0-plugins-good", FALSE },
  { "level", "gstreamer1.0-plugins-good", FALSE },
  { "spectrum", "gstreamer1.0-plugins-good", FALSE },
  { "fakesink", "libgstreamer1.0-0", FALSE },
  { "webrtcbin", "gstreamer1.0-plugins-bad", TRUE },
  { "rtpbin", "gstreamer1.0-plugins-good", TRUE },
  { "dtlssrtpenc", "gstreamer1.0-plugins-bad", TRUE },
  { "srtpenc", "gstreamer1.0-plugins-bad", TRUE },
  { "nicesrc", "gstreamer1.0-nice", TRUE },
};

gboolean
mm_bot_media_check (const MmBotOptions *opts, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (needed); i++)
    {
      g_autoptr (GstElementFactory) f = NULL;

      if (needed[i].webrtc_only && opts->loopback)
        continue;
      f = gst_element_factory_find (needed[i].factory);
      if (f == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                       "GStreamer element %s not found: install the Debian package %s",
                       needed[i].factory, needed[i].package);
          return FALSE;
        }
    }
  return TRUE;
}

/* ---- pipeline fragments ------------------------------------------------- */

/* A solid colour @rgb (0xRRGGBB) as VP8 RTP: the camera, or a "screen";
 * with @busy a moving zone plate instead (detail VP8 can still bring down
 * to its bitrate: noise it cannot, 6.6 Mbit/s at a 600 kbit/s target). */
#define CAMERA_BITRATE 600000   /* bit/s */

/* The caps of what a sender sends, with its SSRC: the payloader takes it
 * from them, and webrtcbin from the same caps, as codec preferences, writes
 * it into the offer before the first frame exists.  Returns: (transfer full) */
static char *
sender_caps (const char *caps, guint32 ssrc)
{
  return g_strdup_printf ("%s,ssrc=(uint)%u", caps, ssrc);
}

static guint32
pick_ssrc (guint32 *ssrc)
{
  while (*ssrc == 0)
    *ssrc = g_random_int ();
  return *ssrc;
}

/* The picture is made at --width x --height and scaled by the capsfilter
 * @size_name to what the server asks for ("video-size": the camera's tile
 * in the composite), as a browser's sender scales its track down. */
static char *
colour_send_description (MmBot *bot, guint32 rgb, gboolean busy, guint32 ssrc,
                         const char *size_name)
{
  const MmBotOptions *o = &bot->app->opts;
  g_autofree char *caps = sender_caps (VIDEO_RTP_CAPS, ssrc);

  return g_strdup_printf (
    "videotestsrc name=camera is-live=true pattern=%s foreground-color=0x%08x "
    "! video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1 "
    "! videoscale ! capsfilter name=%s caps-change-mode=delayed "
    "  caps=video/x-raw,width=%d,height=%d "
    "! vp8enc name=venc deadline=1 cpu-used=-16 threads=1 end-usage=cbr target-bitrate=%d "
    "  keyframe-max-dist=%d error-resilient=default lag-in-frames=0 "
    "! rtpvp8pay name=pay pt=%d picture-id-mode=15-bit mtu=1200 "
    "! capsfilter caps=\"%s\"",
    busy ? "zone-plate kx2=20 ky2=20 kt=1" : "solid-color", 0xff000000u | rgb, o->width, o->height,
    o->fps, size_name, o->width, o->height, CAMERA_BITRATE, o->fps * 3, VIDEO_PT, caps);
}

static char *
video_send_description (MmBot *bot)
{
  return colour_send_description (bot, bot->rgb, bot->app->opts.busy,
                                  pick_ssrc (&bot->ssrc_video), "camsize");
}

/* The "screen": a second video of one colour, as a shared screen. */
static char *
screen_send_description (MmBot *bot)
{
  const MmBotOptions *o = &bot->app->opts;

  return colour_send_description (bot, o->screen_color == NULL ? 0xffff00
                                                               : mm_bot_parse_rgb (o->screen_color),
                                  FALSE, pick_ssrc (&bot->ssrc_screen), "screensize");
}

static char *
audio_send_description (MmBot *bot)
{
  g_autofree char *caps = sender_caps (AUDIO_SEND_CAPS, pick_ssrc (&bot->ssrc_audio));

  return g_strdup_printf (
    "audiotestsrc name=mic is-live=true wave=sine freq=%d volume=%.3f samplesperbuffer=960 "
    "! audio/x-raw,rate=%d,channels=1 "
    "! opusenc frame-size=20 "
    "! rtpopuspay name=pay pt=%d auto-header-extension=false "
    "! capsfilter caps=\"%s\"",
    bot->tone, bot->app->opts.tone_volume, AUDIO_RATE, AUDIO_PT, caps);
}

/* Each packet of the microphone says its level (RFC 6464: the V bit, then
 * -dBov): the tone's, from its volume (a sine of amplitude A has an RMS
 * of A/sqrt 2), or what --claim-level says, whatever is sent. */
static GstPadProbeReturn
claim_level (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  MmBot *bot = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  GstElement *mic = NULL;
  gdouble volume = 0;
  guint8 level;

  (void) pad;
  if (bot->app->opts.claim_level >= 0)
    level = 0x80 | (guint8) bot->app->opts.claim_level;
  else
    {
      if (bot->pipeline != NULL && (mic = gst_bin_get_by_name (GST_BIN (bot->pipeline), "mic")))
        {
          g_object_get (mic, "volume", &volume, NULL);
          gst_object_unref (mic);
        }
      level = volume <= 0 ? 127
                          : (0x80 | (guint8) CLAMP (lround (-20 * log10 (volume / G_SQRT2)), 0, 127));
    }
  buf = gst_buffer_make_writable (buf);
  if (gst_rtp_buffer_map (buf, GST_MAP_READWRITE, &rtp))
    {
      gst_rtp_buffer_add_extension_onebyte_header (&rtp, AUDIO_LEVEL_EXT, &level, 1);
      gst_rtp_buffer_unmap (&rtp);
    }
  GST_PAD_PROBE_INFO_DATA (info) = buf;
  return GST_PAD_PROBE_OK;
}

/* The microphone: a bin ending in RTP with levels.  Transfer floating. */
static GstElement *
audio_send_bin (MmBot *bot, GError **error)
{
  g_autofree char *desc = audio_send_description (bot);
  GstElement *bin = gst_parse_bin_from_description (desc, TRUE, error);
  GstElement *pay;
  GstPad *src;

  if (bin == NULL)
    return NULL;
  pay = gst_bin_get_by_name (GST_BIN (bin), "pay");
  src = gst_element_get_static_pad (pay, "src");
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER, claim_level, bot, NULL);
  gst_object_unref (src);
  gst_object_unref (pay);
  return bin;
}

/* --louder-after, SIGUSR1: the microphone's tone at --louder-volume from
 * now on. */
void
mm_bot_media_louder (MmBot *bot)
{
  GstElement *mic;

  if (bot->pipeline != NULL && (mic = gst_bin_get_by_name (GST_BIN (bot->pipeline), "mic")) != NULL)
    {
      g_object_set (mic, "volume", bot->app->opts.louder_volume, NULL);
      gst_object_unref (mic);
      mm_bot_debug (bot, "the tone at volume %.2f", bot->app->opts.louder_volume);
    }
}

static gboolean
get_louder (gpointer data)
{
  MmBot *bot = data;

  bot->louder_id = 0;
  mm_bot_media_louder (bot);
  return G_SOURCE_REMOVE;
}

#define VIDEO_RECV_DESCRIPTION \
  "rtpvp8depay request-keyframe=true wait-for-keyframe=true " \
  "! vp8dec max-errors=-1 " \
  "! videoconvert " \
  "! video/x-raw,format=RGBx " \
  "! appsink name=frames sync=false async=false max-buffers=2 drop=true"

/* --no-decode: whole VP8 frames, not decoded. */
#define VIDEO_COUNT_DESCRIPTION \
  "rtpvp8depay request-keyframe=true wait-for-keyframe=true " \
  "! appsink name=frames sync=false async=false max-buffers=2 drop=true"
#define AUDIO_COUNT_DESCRIPTION "rtpopusdepay ! fakesink sync=false async=false"

static char *
audio_recv_description (void)
{
  return g_strdup_printf (
    "rtpopusdepay "
    "! opusdec plc=true "
    "! audioconvert ! audioresample "
    "! audio/x-raw,rate=%d,channels=1 "
    "! level name=level interval=100000000 post-messages=true "
    "! spectrum bands=%d threshold=%d interval=100000000 post-messages=true "
    "  message-magnitude=true message-phase=false "
    "! fakesink sync=false async=false",
    AUDIO_RATE, SPECTRUM_BANDS, SPECTRUM_THRESHOLD_DB);
}

/* ---- receiving ---------------------------------------------------------- */

static gboolean start_publishing (gpointer data);

/* Main loop: --publish-after counts from the connection's first frame of
 * the composite, so that the bot has watched for that long (not less on a
 * busy machine, where the first frame comes late). */
static gboolean
arm_publishing (gpointer data)
{
  MmBot *bot = data;

  if (!bot->stopped && bot->webrtc != NULL && bot->present_id == 0 && !bot->publish_armed)
    {
      bot->publish_armed = TRUE;
      bot->present_id = g_timeout_add_seconds ((guint) bot->app->opts.publish_after,
                                               start_publishing, bot);
    }
  return G_SOURCE_REMOVE;
}

static GstFlowReturn
on_new_sample (GstAppSink *sink, gpointer user_data)
{
  MmBot *bot = user_data;
  GstSample *sample = gst_app_sink_pull_sample (sink);
  GstSample *old;
  gboolean first = FALSE, first_here;

  if (sample == NULL)
    return GST_FLOW_OK;
  if (bot->app->opts.no_decode)
    {
      /* A VP8 keyframe (RFC 6386 9.1) carries the size after its start code. */
      GstBuffer *buf = gst_sample_get_buffer (sample);
      GstMapInfo map;

      if (buf != NULL && gst_buffer_map (buf, &map, GST_MAP_READ))
        {
          const guint8 *d = map.data;

          if (map.size >= 10 && (d[0] & 1) == 0 && d[3] == 0x9d && d[4] == 0x01 && d[5] == 0x2a)
            {
              g_mutex_lock (&bot->lock);
              bot->coded_width = (d[6] | d[7] << 8) & 0x3fff;
              bot->coded_height = (d[8] | d[9] << 8) & 0x3fff;
              g_mutex_unlock (&bot->lock);
            }
          gst_buffer_unmap (buf, &map);
        }
      gst_sample_unref (sample);
      sample = NULL;
    }
  else if (bot->app->opts.watch_color != NULL)
    mm_bot_marks_frame (bot, sample);
  g_mutex_lock (&bot->lock);
  if (bot->first_frame_us == 0)
    {
      bot->first_frame_us = g_get_monotonic_time ();
      first = TRUE;
    }
  bot->frames++;
  first_here = !bot->got_frame;
  bot->got_frame = TRUE;
  {
    gint64 now = g_get_monotonic_time ();

    if (bot->last_frame_us != 0)
      bot->max_gap_us = MAX (bot->max_gap_us, now - bot->last_frame_us);
    bot->last_frame_us = now;
  }
  old = bot->last_frame;
  bot->last_frame = sample;
  g_mutex_unlock (&bot->lock);
  if (old != NULL)
    gst_sample_unref (old);
  if (first)
    mm_bot_debug (bot, "first video frame decoded");
  if (first_here && bot->app->opts.publish_after > 0)
    g_main_context_invoke (NULL, arm_publishing, bot);
  return GST_FLOW_OK;
}

/* A receive chain as a bin with a ghost sink pad.  Transfer floating. */
static GstElement *
make_receiver (MmBot *bot, gboolean video, GError **error)
{
  gboolean count = bot->app->opts.no_decode;
  g_autofree char *audio = video || count ? NULL : audio_recv_description ();
  GstElement *bin = gst_parse_bin_from_description (
    video ? (count ? VIDEO_COUNT_DESCRIPTION : VIDEO_RECV_DESCRIPTION)
          : (count ? AUDIO_COUNT_DESCRIPTION : audio), TRUE, error);

  if (bin == NULL)
    return NULL;
  if (video)
    {
      GstAppSinkCallbacks cbs = { .new_sample = on_new_sample };
      g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (bin), "frames");

      gst_app_sink_set_callbacks (GST_APP_SINK (sink), &cbs, bot, NULL);
    }
  else if (!count)
    {
      g_autoptr (GstElement) level = gst_bin_get_by_name (GST_BIN (bin), "level");
      g_autoptr (GstPad) pad = gst_element_get_static_pad (level, "sink");

      mm_bot_marks_listen (bot, pad);
    }
  return bin;
}

static GstPadProbeReturn
on_first_packet (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  (void) pad;
  (void) info;
  mm_bot_step (data, MM_BOT_STEP_FIRST_PACKET);
  return GST_PAD_PROBE_REMOVE;
}

/* Add a receive chain to the running pipeline and feed it from @src.
 * Any thread (webrtcbin's pad-added comes from a streaming thread). */
static gboolean
attach_receiver (MmBot *bot, GstPad *src, gboolean video, GError **error)
{
  GstElement *bin = make_receiver (bot, video, error);
  g_autoptr (GstPad) sink = NULL;
  GstPadLinkReturn ret;

  if (bin == NULL)
    return FALSE;
  gst_bin_add (GST_BIN (bot->pipeline), bin);
  gst_element_sync_state_with_parent (bin);
  sink = gst_element_get_static_pad (bin, "sink");
  if (video)
    gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                       on_first_packet, bot, NULL);
  ret = gst_pad_link (src, sink);
  if (ret != GST_PAD_LINK_OK)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot link the %s receiver: %s",
                   video ? "video" : "audio", gst_pad_link_get_name (ret));
      return FALSE;
    }
  return TRUE;
}

/* Which kind of media an incoming webrtcbin pad carries: 1 video, 0 audio,
 * -1 unknown. */
static int
pad_kind (GstPad *pad)
{
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  g_autoptr (GstWebRTCRTPTransceiver) trans = NULL;
  GstWebRTCKind kind = GST_WEBRTC_KIND_UNKNOWN;

  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  for (guint i = 0; caps != NULL && i < gst_caps_get_size (caps); i++)
    {
      const GstStructure *s = gst_caps_get_structure (caps, i);
      const char *enc = gst_structure_get_string (s, "encoding-name");
      const char *media = gst_structure_get_string (s, "media");

      if (g_strcmp0 (enc, "VP8") == 0 || g_strcmp0 (media, "video") == 0)
        return 1;
      if (g_strcmp0 (enc, "OPUS") == 0 || g_strcmp0 (media, "audio") == 0)
        return 0;
    }
  g_object_get (pad, "transceiver", &trans, NULL);
  if (trans != NULL)
    g_object_get (trans, "kind", &kind, NULL);
  return kind == GST_WEBRTC_KIND_VIDEO ? 1 : kind == GST_WEBRTC_KIND_AUDIO ? 0 : -1;
}

static void
on_pad_added (GstElement *webrtc, GstPad *pad, gpointer user_data)
{
  MmBot *bot = user_data;
  g_autoptr (GError) error = NULL;
  int kind;

  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  kind = pad_kind (pad);
  if (kind < 0)
    {
      mm_bot_log (bot, "incoming pad %s of unknown media: ignored", GST_PAD_NAME (pad));
      return;
    }
  mm_bot_debug (bot, "receiving %s on %s", kind ? "video" : "audio", GST_PAD_NAME (pad));
  if (!attach_receiver (bot, pad, kind == 1, &error))
    mm_bot_log (bot, "%s", error->message);
}

/* ---- analysis: bus messages (main loop) --------------------------------- */

static void
on_level (MmBot *bot, const GstStructure *s)
{
  const GValue *v = gst_structure_get_value (s, "rms");
  double power = 0;
  guint n;

  /* level still posts a GValueArray (deprecated in GLib). */
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  {
    GValueArray *rms = v != NULL && G_VALUE_HOLDS (v, g_value_array_get_type ())
                         ? g_value_get_boxed (v) : NULL;

    n = rms != NULL ? rms->n_values : 0;
    for (guint i = 0; i < n; i++)
      {
        const GValue *c = g_value_array_get_nth (rms, i);

        if (G_VALUE_HOLDS_DOUBLE (c))
          power += pow (10.0, g_value_get_double (c) / 10.0);
      }
  }
  G_GNUC_END_IGNORE_DEPRECATIONS
  if (n == 0)
    return;
  bot->level_power += power / n;
  bot->level_msgs++;
}

static void
on_spectrum (MmBot *bot, const GstStructure *s)
{
  const GValue *mags = gst_structure_get_value (s, "magnitude");
  guint n;

  if (mags == NULL || !GST_VALUE_HOLDS_LIST (mags))
    return;
  n = gst_value_list_get_size (mags);
  if (n < 3)
    return;
  if (bot->band_power == NULL || bot->n_bands != n)
    {
      g_free (bot->band_power);
      bot->band_power = g_new0 (double, n);
      bot->n_bands = n;
      bot->spectrum_msgs = 0;
    }
  for (guint i = 0; i < n; i++)
    {
      const GValue *m = gst_value_list_get_value (mags, i);

      if (G_VALUE_HOLDS_FLOAT (m))
        bot->band_power[i] += pow (10.0, g_value_get_float (m) / 10.0);
    }
  bot->spectrum_msgs++;
}

static gboolean
on_bus_message (GstBus *bus, GstMessage *msg, gpointer user_data)
{
  MmBot *bot = user_data;

  switch (GST_MESSAGE_TYPE (msg))
    {
    case GST_MESSAGE_ELEMENT:
      {
        const GstStructure *s = gst_message_get_structure (msg);

        if (gst_structure_has_name (s, "level"))
          on_level (bot, s);
        else if (gst_structure_has_name (s, "spectrum"))
          on_spectrum (bot, s);
      }
      break;
    case GST_MESSAGE_ERROR:
      {
        g_autoptr (GError) error = NULL;
        g_autofree char *debug = NULL;
        g_autofree char *why = NULL;

        gst_message_parse_error (msg, &error, &debug);
        GST_DEBUG_BIN_TO_DOT_FILE_WITH_TS (GST_BIN (bot->pipeline), GST_DEBUG_GRAPH_SHOW_ALL,
                                           "mixmeet-bot-error");
        why = g_strdup_printf ("media error from %s: %s (%s)", GST_OBJECT_NAME (msg->src),
                               error->message, debug ? debug : "no details");
        mm_bot_stop (bot, why);
        return G_SOURCE_REMOVE;
      }
    case GST_MESSAGE_WARNING:
      {
        g_autoptr (GError) error = NULL;
        g_autofree char *debug = NULL;

        gst_message_parse_warning (msg, &error, &debug);
        mm_bot_debug (bot, "warning from %s: %s", GST_OBJECT_NAME (msg->src), error->message);
      }
      break;
    default:
      break;
    }
  return G_SOURCE_CONTINUE;
}

/* ---- negotiation -------------------------------------------------------- */

typedef struct {
  MmBot *bot;
  char *sdp;
} LocalOffer;

static void
local_offer_free (gpointer data)
{
  LocalOffer *lo = data;

  g_free (lo->sdp);
  g_free (lo);
}

/* The error a webrtcbin promise was answered with, or NULL.  Transfer full. */
static GError *
promise_error (GstPromise *promise)
{
  const GstStructure *reply;
  GError *error = NULL;

  if (gst_promise_wait (promise) != GST_PROMISE_RESULT_REPLIED)
    return g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "no reply (interrupted)");
  reply = gst_promise_get_reply (promise);
  if (reply != NULL && gst_structure_has_field (reply, "error"))
    gst_structure_get (reply, "error", G_TYPE_ERROR, &error, NULL);
  return error;
}

/* --offer-per-mline-ice: the offer as a client sends it that gives every
 * m-line a transport of its own until BUNDLE is agreed (RFC 8843, aiortc):
 * the m-lines after the first get ICE credentials of their own.  Our
 * webrtcbin keeps using the first m-line's, which a server that accepts
 * the bundle uses for all.  Returns (transfer full). */
static char *
per_mline_ice (const char *sdp)
{
  g_auto (GStrv) lines = g_strsplit (sdp, "\r\n", -1);
  GString *out = g_string_new (NULL);
  int mline = -1;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *l = lines[i];

      if (g_str_has_prefix (l, "m="))
        mline++;
      if (mline > 0 && (g_str_has_prefix (l, "a=ice-ufrag:") || g_str_has_prefix (l, "a=ice-pwd:")))
        g_string_append_printf (out, "%sM%d", l, mline);
      else
        g_string_append (out, l);
      if (lines[i + 1] != NULL)
        g_string_append (out, "\r\n");
    }
  return g_string_free (out, FALSE);
}

/* webrtcbin's thread: the offer is our local description; send it. */
static void
on_local_description_set (GstPromise *promise, gpointer user_data)
{
  LocalOffer *lo = user_data;
  g_autoptr (GError) error = promise_error (promise);
  JsonObject *msg;

  gst_promise_unref (promise);
  if (error != NULL)
    {
      mm_bot_log (lo->bot, "set-local-description failed: %s", error->message);
      return;
    }
  if (lo->bot->app->opts.offer_per_mline_ice)
    {
      char *munged = per_mline_ice (lo->sdp);

      g_free (lo->sdp);
      lo->sdp = munged;
    }
  msg = json_object_new ();
  json_object_set_string_member (msg, "type", "offer");
  json_object_set_string_member (msg, "sdp", lo->sdp);
  mm_bot_debug (lo->bot, "sending the offer:\n%s", lo->sdp);
  mm_bot_step (lo->bot, MM_BOT_STEP_OFFER);
  mm_bot_signal_send (lo->bot, msg);
}

static void
on_offer_created (GstPromise *promise, gpointer user_data)
{
  MmBot *bot = user_data;
  g_autoptr (GError) error = promise_error (promise);
  GstWebRTCSessionDescription *offer = NULL;
  const GstStructure *reply;
  LocalOffer *lo;

  reply = error == NULL ? gst_promise_get_reply (promise) : NULL;
  if (reply != NULL)
    gst_structure_get (reply, "offer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &offer, NULL);
  gst_promise_unref (promise);
  if (offer == NULL)
    {
      mm_bot_log (bot, "create-offer failed: %s", error ? error->message : "no offer in the reply");
      return;
    }
  lo = g_new0 (LocalOffer, 1);
  lo->bot = bot;
  lo->sdp = gst_sdp_message_as_text (offer->sdp);
  promise = gst_promise_new_with_change_func (on_local_description_set, lo, local_offer_free);
  g_signal_emit_by_name (bot->webrtc, "set-local-description", offer, promise);
  gst_webrtc_session_description_free (offer);
}

static void
create_offer (MmBot *bot)
{
  GstPromise *promise = gst_promise_new_with_change_func (on_offer_created, bot, NULL);

  g_signal_emit_by_name (bot->webrtc, "create-offer", NULL, promise);
}

static gboolean
has_ssrc (const GstCaps *caps)
{
  return caps != NULL && gst_caps_get_size (caps) > 0
         && gst_structure_has_field (gst_caps_get_structure (caps, 0), "ssrc");
}

/* A sink pad whose SSRC webrtcbin knows: from the caps that reached it, or
 * from its transceiver's codec preferences (the bot's own senders give it
 * there, before any media). */
static gboolean
sink_pad_has_ssrc (GstElement *element, GstPad *pad, gpointer user_data)
{
  gboolean *all = user_data;
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  g_autoptr (GstCaps) prefs = NULL;
  g_autoptr (GstWebRTCRTPTransceiver) trans = NULL;

  (void) element;
  if (!has_ssrc (caps))
    {
      g_object_get (pad, "transceiver", &trans, NULL);
      if (trans != NULL)
        g_object_get (trans, "codec-preferences", &prefs, NULL);
    }
  if (!has_ssrc (caps) && !has_ssrc (prefs))
    {
      *all = FALSE;
      return FALSE;
    }
  return TRUE;
}

/* Main loop, every SSRC_WAIT_MS until every sink pad has its SSRC. */
static gboolean
wait_for_ssrc (gpointer user_data)
{
  MmBot *bot = user_data;
  gboolean all = TRUE;

  gst_element_foreach_sink_pad (bot->webrtc, sink_pad_has_ssrc, &all);
  if (!all && ++bot->caps_wait_ticks < SSRC_WAIT_MAX_TICKS)
    return G_SOURCE_CONTINUE;
  if (!all)
    mm_bot_log (bot, "no SSRC in the sink caps after %d ms: offering anyway (the SDP will "
                "lack a=ssrc lines)", SSRC_WAIT_MAX_TICKS * SSRC_WAIT_MS);
  bot->caps_wait = 0;
  create_offer (bot);
  return G_SOURCE_REMOVE;
}

static void
on_ice_candidate (GstElement *webrtc, guint mline, const char *candidate, gpointer user_data)
{
  MmBot *bot = user_data;
  JsonObject *msg;

  if (candidate == NULL || candidate[0] == '\0')
    return;
  if (g_str_has_prefix (candidate, "a="))
    candidate += 2;
  msg = json_object_new ();
  json_object_set_string_member (msg, "type", "ice");
  json_object_set_string_member (msg, "candidate", candidate);
  json_object_set_int_member (msg, "sdp_mline_index", mline);
  mm_bot_signal_send (bot, msg);
}

static void
on_connection_state (GObject *webrtc, GParamSpec *pspec, gpointer user_data)
{
  MmBot *bot = user_data;
  GstWebRTCPeerConnectionState state;
  g_autoptr (GEnumClass) klass = g_type_class_ref (GST_TYPE_WEBRTC_PEER_CONNECTION_STATE);
  GEnumValue *v;

  g_object_get (webrtc, "connection-state", &state, NULL);
  v = g_enum_get_value (klass, state);
  /* (Once the bot has left, the server's side goes away: not news.) */
  if (state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED)
    mm_bot_step (bot, MM_BOT_STEP_CONNECTED);
  if (state == GST_WEBRTC_PEER_CONNECTION_STATE_FAILED && !bot->app->stopping)
    mm_bot_log (bot, "connection failed");
  else
    mm_bot_debug (bot, "connection %s", v ? v->value_nick : "?");
}

static void
on_ice_state (GObject *webrtc, GParamSpec *pspec, gpointer user_data)
{
  GstWebRTCICEConnectionState state;

  (void) pspec;
  g_object_get (webrtc, "ice-connection-state", &state, NULL);
  if (state == GST_WEBRTC_ICE_CONNECTION_STATE_CONNECTED
      || state == GST_WEBRTC_ICE_CONNECTION_STATE_COMPLETED)
    mm_bot_step (user_data, MM_BOT_STEP_ICE);
}

typedef struct {
  guint mline;
  char *candidate;
} Candidate;

static void
candidate_free (gpointer data)
{
  Candidate *c = data;

  g_free (c->candidate);
  g_free (c);
}

static void
add_candidate_now (MmBot *bot, guint mline, const char *candidate)
{
  if (g_str_has_prefix (candidate, "a="))
    candidate += 2;
  g_signal_emit_by_name (bot->webrtc, "add-ice-candidate", mline, candidate);
}

void
mm_bot_media_add_candidate (MmBot *bot, guint mline, const char *candidate)
{
  Candidate *c;

  if (bot->webrtc == NULL)
    return;
  if (bot->remote_set)
    {
      add_candidate_now (bot, mline, candidate);
      return;
    }
  c = g_new0 (Candidate, 1);
  c->mline = mline;
  c->candidate = g_strdup (candidate);
  if (bot->pending_candidates == NULL)
    bot->pending_candidates = g_ptr_array_new_with_free_func (candidate_free);
  g_ptr_array_add (bot->pending_candidates, c);
}

static void
on_remote_description_set (GstPromise *promise, gpointer user_data)
{
  MmBot *bot = user_data;
  g_autoptr (GError) error = promise_error (promise);

  gst_promise_unref (promise);
  if (error != NULL)
    mm_bot_log (bot, "set-remote-description (the answer) failed: %s", error->message);
  else
    mm_bot_debug (bot, "answer set");
}

static gboolean start_presenting (gpointer data);
static gboolean add_send_only (MmBot *bot, GstElement *bin, const char *caps_text, guint32 ssrc,
                               GstObject **trans_out);
static gboolean build_senders (MmBot *bot, GstElement **video, GstElement **audio,
                               GError **error);

void
mm_bot_media_set_answer (MmBot *bot, const char *sdp)
{
  gboolean first = !bot->remote_set;

  GstSDPMessage *msg = NULL;
  GstWebRTCSessionDescription *answer;
  GstPromise *promise;

  if (bot->webrtc == NULL)
    return;
  mm_bot_step (bot, MM_BOT_STEP_ANSWER);
  if (bot->remote_set && !bot->renegotiating)
    {
      mm_bot_log (bot, "an answer to no offer: ignored");
      return;
    }
  bot->renegotiating = FALSE;
  mm_bot_debug (bot, "the answer:\n%s", sdp);
  if (gst_sdp_message_new_from_text (sdp, &msg) != GST_SDP_OK)
    {
      mm_bot_log (bot, "the answer is not valid SDP: ignored");
      if (msg != NULL)
        gst_sdp_message_free (msg);
      return;
    }
  answer = gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_ANSWER, msg);
  promise = gst_promise_new_with_change_func (on_remote_description_set, bot, NULL);
  g_signal_emit_by_name (bot->webrtc, "set-remote-description", answer, promise);
  gst_webrtc_session_description_free (answer);
  bot->remote_set = TRUE;
  if (first && bot->app->opts.louder_after > 0 && bot->louder_id == 0)
    bot->louder_id = g_timeout_add_seconds ((guint) bot->app->opts.louder_after, get_louder, bot);
  if (first && bot->app->opts.present_after > 0 && bot->screen_trans == NULL
      && bot->present_id == 0)
    bot->present_id = g_timeout_add_seconds ((guint) bot->app->opts.present_after,
                                             start_presenting, bot);
  /* webrtcbin runs its operations in order: these come after the answer. */
  if (bot->pending_candidates != NULL)
    {
      for (guint i = 0; i < bot->pending_candidates->len; i++)
        {
          Candidate *c = g_ptr_array_index (bot->pending_candidates, i);
          add_candidate_now (bot, c->mline, c->candidate);
        }
      g_clear_pointer (&bot->pending_candidates, g_ptr_array_unref);
    }
}

/* ---- sharing a screen: renegotiation ------------------------------------- */

/* A new offer on the same connection, once every sink pad has its SSRC. */
static void
renegotiate (MmBot *bot)
{
  bot->renegotiating = TRUE;
  bot->caps_wait_ticks = 0;
  if (bot->caps_wait == 0)
    bot->caps_wait = g_timeout_add (SSRC_WAIT_MS, wait_for_ssrc, bot);
}

static GstPadProbeReturn
drop_buffers (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  return GST_PAD_PROBE_DROP;
}

/* Stop sharing as a browser does with replaceTrack(null): the screen's
 * m-line stays, nothing more is sent on it, and the room is told. */
static gboolean
stop_presenting (gpointer data)
{
  MmBot *bot = data;
  JsonObject *msg;

  bot->present_id = 0;
  if (bot->webrtc == NULL || bot->screen_src == NULL)
    return G_SOURCE_REMOVE;
  gst_pad_add_probe (bot->screen_src, GST_PAD_PROBE_TYPE_BUFFER, drop_buffers, NULL, NULL);
  msg = json_object_new ();
  json_object_set_string_member (msg, "type", "state");
  json_object_set_boolean_member (msg, "presenting", FALSE);
  mm_bot_signal_send (bot, msg);
  mm_bot_debug (bot, "stopped sharing the screen");
  return G_SOURCE_REMOVE;
}

/* A second video sender, send-only, and a new offer for it. */
static gboolean
start_presenting (gpointer data)
{
  MmBot *bot = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *desc = screen_send_description (bot);
  GstElement *bin;

  bot->present_id = 0;
  if (bot->webrtc == NULL || bot->screen_trans != NULL)
    return G_SOURCE_REMOVE;
  bin = gst_parse_bin_from_description (desc, TRUE, &error);
  if (bin == NULL)
    {
      mm_bot_log (bot, "cannot build the screen: %s", error->message);
      return G_SOURCE_REMOVE;
    }
  if (!add_send_only (bot, bin, VIDEO_RTP_CAPS, bot->ssrc_screen, &bot->screen_trans))
    mm_bot_log (bot, "cannot link the screen to webrtcbin");
  bot->screen_src = gst_element_get_static_pad (bin, "src");
  mm_bot_debug (bot, "sharing a screen");
  renegotiate (bot);
  if (bot->app->opts.present_for > 0)
    bot->present_id = g_timeout_add_seconds ((guint) bot->app->opts.present_for,
                                             stop_presenting, bot);
  return G_SOURCE_REMOVE;
}

/* Link @bin to a new send-only transceiver. */
static gboolean
add_send_only (MmBot *bot, GstElement *bin, const char *caps_text, guint32 ssrc,
               GstObject **trans_out)
{
  g_autofree char *with_ssrc = sender_caps (caps_text, ssrc);
  g_autoptr (GstCaps) caps = gst_caps_from_string (with_ssrc);
  GstPad *sink, *src;
  GstWebRTCRTPTransceiver *trans = NULL;
  gboolean ok;

  gst_bin_add (GST_BIN (bot->pipeline), bin);
  sink = gst_element_request_pad (bot->webrtc,
                                  gst_element_get_pad_template (bot->webrtc, "sink_%u"), NULL,
                                  caps);
  if (sink == NULL)
    return FALSE;
  g_object_get (sink, "transceiver", &trans, NULL);
  if (trans != NULL)
    g_object_set (trans, "direction", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, NULL);
  if (trans_out != NULL)
    *trans_out = GST_OBJECT (trans);
  else if (trans != NULL)
    gst_object_unref (trans);
  src = gst_element_get_static_pad (bin, "src");
  ok = gst_pad_link (src, sink) == GST_PAD_LINK_OK;
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_element_sync_state_with_parent (bin);
  return ok;
}

/* A receive-only bot starts sending on the same connection, as a browser
 * viewer does who turns on camera and microphone: new send-only m-lines
 * (webrtcbin 1.22 cannot change the direction of the receiving ones). */
static gboolean
start_publishing (gpointer data)
{
  MmBot *bot = data;
  g_autoptr (GError) error = NULL;
  GstElement *video, *audio;

  bot->present_id = 0;
  if (bot->webrtc == NULL)
    return G_SOURCE_REMOVE;
  if (!build_senders (bot, &video, &audio, &error))
    {
      mm_bot_log (bot, "cannot build the senders: %s", error->message);
      return G_SOURCE_REMOVE;
    }
  if (!add_send_only (bot, video, VIDEO_RTP_CAPS, bot->ssrc_video, NULL)
      || !add_send_only (bot, audio, AUDIO_SEND_CAPS, bot->ssrc_audio, NULL))
    mm_bot_log (bot, "cannot link the senders to webrtcbin");
  mm_bot_debug (bot, "publishing on the same connection");
  renegotiate (bot);
  return G_SOURCE_REMOVE;
}

/* ---- statistics --------------------------------------------------------- */

static gboolean
sum_packets_lost (GQuark field, const GValue *value, gpointer user_data)
{
  gint64 *sum = user_data;
  const GstStructure *s;
  GstWebRTCStatsType type;
  const GValue *lost;
  GValue as_int = G_VALUE_INIT;

  if (!GST_VALUE_HOLDS_STRUCTURE (value))
    return TRUE;
  s = gst_value_get_structure (value);
  if (!gst_structure_get_enum (s, "type", GST_TYPE_WEBRTC_STATS_TYPE, (gint *) &type)
      || type != GST_WEBRTC_STATS_INBOUND_RTP)
    return TRUE;
  lost = gst_structure_get_value (s, "packets-lost");
  if (lost == NULL)
    return TRUE;
  g_value_init (&as_int, G_TYPE_INT64);
  if (g_value_transform (lost, &as_int))
    *sum += MAX (g_value_get_int64 (&as_int), 0);
  g_value_unset (&as_int);
  return TRUE;
}

/* webrtcbin's thread. */
static void
on_stats (GstPromise *promise, gpointer user_data)
{
  MmBot *bot = user_data;
  const GstStructure *reply = NULL;
  gint64 lost = 0;

  if (gst_promise_wait (promise) == GST_PROMISE_RESULT_REPLIED)
    reply = gst_promise_get_reply (promise);
  if (reply != NULL)
    {
      gst_structure_foreach (reply, sum_packets_lost, &lost);
      g_mutex_lock (&bot->lock);
      bot->have_lost = TRUE;
      bot->packets_lost = lost;
      g_mutex_unlock (&bot->lock);
    }
  gst_promise_unref (promise);
}

void
mm_bot_media_poll_stats (MmBot *bot)
{
  if (bot->webrtc != NULL && bot->remote_set)
    g_signal_emit_by_name (bot->webrtc, "get-stats", NULL,
                           gst_promise_new_with_change_func (on_stats, bot, NULL));
}

/* ---- start and stop ----------------------------------------------------- */

static gboolean
restrict_ice (MmBot *bot, const char *address, GError **error)
{
  GObject *ice = NULL;
  gboolean ok = FALSE;

  /* The ICE object is floating (MEDIA-FACTS): get, use, unref; no ref_sink.
   * GstWebRTCNice's action signal calls nice_agent_add_local_address, after
   * which the agent gathers on the added addresses only. */
  g_object_get (bot->webrtc, "ice-agent", &ice, NULL);
  if (ice != NULL && g_signal_lookup ("add-local-ip-address", G_OBJECT_TYPE (ice)) != 0)
    g_signal_emit_by_name (ice, "add-local-ip-address", address, &ok);
  g_clear_object (&ice);
  if (!ok)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "cannot restrict ICE to the address %s", address);
  return ok;
}

/* No UPnP port mappings for a test client: libnice would look for a
 * router on every connection (and warn when it cannot listen for one).
 * Through GObject properties: the bot does not link libnice itself. */
static void
no_upnp (MmBot *bot)
{
  GObject *ice = NULL;
  GObject *agent = NULL;

  g_object_get (bot->webrtc, "ice-agent", &ice, NULL);
  if (ice != NULL && g_object_class_find_property (G_OBJECT_GET_CLASS (ice), "agent") != NULL)
    g_object_get (ice, "agent", &agent, NULL);
  if (agent != NULL && g_object_class_find_property (G_OBJECT_GET_CLASS (agent), "upnp") != NULL)
    g_object_set (agent, "upnp", FALSE, NULL);
  g_clear_object (&agent);
  g_clear_object (&ice);
}

/* Add a sending chain and link it to a new webrtcbin sink pad requested
 * with @caps; the transceiver sends and receives. */
static gboolean
add_sender (MmBot *bot, GstElement *bin, const char *caps_text, guint32 ssrc, GError **error)
{
  g_autofree char *with_ssrc = sender_caps (caps_text, ssrc);
  g_autoptr (GstCaps) caps = gst_caps_from_string (with_ssrc);
  GstPadTemplate *templ = gst_element_get_pad_template (bot->webrtc, "sink_%u");
  g_autoptr (GstPad) src = NULL;
  g_autoptr (GstWebRTCRTPTransceiver) trans = NULL;
  GstPad *sink;
  GstPadLinkReturn ret;

  gst_bin_add (GST_BIN (bot->pipeline), bin);
  sink = gst_element_request_pad (bot->webrtc, templ, NULL, caps);
  if (sink == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "webrtcbin gave no sink pad for %s",
                   caps_text);
      return FALSE;
    }
  g_object_get (sink, "transceiver", &trans, NULL);
  if (trans != NULL)
    g_object_set (trans, "direction", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDRECV, NULL);
  src = gst_element_get_static_pad (bin, "src");
  ret = gst_pad_link (src, sink);
  /* The element keeps its request pad; we give back our reference. */
  gst_object_unref (sink);
  if (ret != GST_PAD_LINK_OK)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot link a sender to webrtcbin: %s",
                   gst_pad_link_get_name (ret));
      return FALSE;
    }
  return TRUE;
}

static void
add_receive_transceiver (MmBot *bot, const char *caps_text)
{
  g_autoptr (GstCaps) caps = gst_caps_from_string (caps_text);
  GstWebRTCRTPTransceiver *trans = NULL;

  g_signal_emit_by_name (bot->webrtc, "add-transceiver",
                         GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, caps, &trans);
  if (trans != NULL)
    gst_object_unref (trans);
}

static gboolean
lose_one (GstBuffer **buf, guint idx, gpointer data)
{
  MmBot *bot = data;

  (void) idx;
  if (g_random_double_range (0, 100) < bot->app->opts.send_loss)
    gst_buffer_replace (buf, NULL);   /* removed from the list */
  return TRUE;
}

/* --send-loss: the camera's packets lost on their way out, after the
 * payloader numbered them (streaming thread). */
static GstPadProbeReturn
lose_some (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  MmBot *bot = data;

  (void) pad;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    {
      GstBufferList *list = gst_buffer_list_make_writable (GST_PAD_PROBE_INFO_BUFFER_LIST (info));

      gst_buffer_list_foreach (list, lose_one, bot);
      GST_PAD_PROBE_INFO_DATA (info) = list;
      return gst_buffer_list_length (list) > 0 ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
    }
  return g_random_double_range (0, 100) < bot->app->opts.send_loss ? GST_PAD_PROBE_DROP
                                                                     : GST_PAD_PROBE_OK;
}

static gboolean
build_senders (MmBot *bot, GstElement **video, GstElement **audio, GError **error)
{
  g_autofree char *vdesc = video_send_description (bot);

  *video = gst_parse_bin_from_description (vdesc, TRUE, error);
  if (*video == NULL)
    return FALSE;
  *audio = audio_send_bin (bot, error);
  if (*audio == NULL)
    {
      gst_object_unref (gst_object_ref_sink (*video));
      *video = NULL;
      return FALSE;
    }
  mm_bot_marks_sender (bot, *video, *audio);
  if (bot->app->opts.send_loss > 0)
    {
      g_autoptr (GstElement) pay = gst_bin_get_by_name (GST_BIN (*video), "pay");
      g_autoptr (GstPad) src = gst_element_get_static_pad (pay, "src");

      gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                         lose_some, bot, NULL);
    }
  return TRUE;
}

/* An "uplink" event: the server asks for at most @bps (0: no limit) of
 * video.  Main loop. */
void
mm_bot_media_limit_uplink (MmBot *bot, guint64 bps)
{
  GstElement *venc;

  if (bot->pipeline == NULL
      || (venc = gst_bin_get_by_name (GST_BIN (bot->pipeline), "venc")) == NULL)
    return;
  g_object_set (venc, "target-bitrate",
                (gint) (bps > 0 ? MIN (bps, (guint64) CAMERA_BITRATE) : CAMERA_BITRATE), NULL);
  gst_object_unref (venc);
}

/* A "video-size" event: the camera at no more than @max_w x @max_h (its
 * tile), its shape kept; at most the size it is made at.  Main loop.
 * Returns the size now sent in *@w, *@h (0 when there is no camera). */
void
mm_bot_media_video_size (MmBot *bot, gint max_w, gint max_h, gint *w, gint *h)
{
  const MmBotOptions *o = &bot->app->opts;
  GstElement *size;
  gdouble scale = 1.0;
  g_autoptr (GstCaps) caps = NULL;

  *w = *h = 0;
  if (bot->pipeline == NULL
      || (size = gst_bin_get_by_name (GST_BIN (bot->pipeline), "camsize")) == NULL)
    return;
  if (max_w > 0)
    scale = MIN (scale, (gdouble) max_w / o->width);
  if (max_h > 0)
    scale = MIN (scale, (gdouble) max_h / o->height);
  *w = MAX (16, (gint) (o->width * scale) & ~1);
  *h = MAX (16, (gint) (o->height * scale) & ~1);
  caps = gst_caps_new_simple ("video/x-raw", "width", G_TYPE_INT, *w, "height", G_TYPE_INT, *h,
                              NULL);
  g_object_set (size, "caps", caps, NULL);
  gst_object_unref (size);
}

static gboolean
build_webrtc (MmBot *bot, GError **error)
{
  const MmBotOptions *o = &bot->app->opts;

  bot->webrtc = gst_element_factory_make ("webrtcbin", "webrtc");
  if (bot->webrtc == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "cannot create webrtcbin");
      return FALSE;
    }
  g_object_set (bot->webrtc, "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, NULL);
  if (o->latency >= 0)
    g_object_set (bot->webrtc, "latency", (guint) o->latency, NULL);
  gst_bin_add (GST_BIN (bot->pipeline), bot->webrtc);
  no_upnp (bot);
  if (o->ice_address != NULL && !restrict_ice (bot, o->ice_address, error))
    return FALSE;
  g_signal_connect (bot->webrtc, "on-ice-candidate", G_CALLBACK (on_ice_candidate), bot);
  g_signal_connect (bot->webrtc, "pad-added", G_CALLBACK (on_pad_added), bot);
  g_signal_connect (bot->webrtc, "notify::connection-state", G_CALLBACK (on_connection_state),
                    bot);
  g_signal_connect (bot->webrtc, "notify::ice-connection-state", G_CALLBACK (on_ice_state), bot);
  if (o->recv_only)
    {
      if (!o->audio_only)
        add_receive_transceiver (bot, VIDEO_RTP_CAPS);
      add_receive_transceiver (bot, AUDIO_RTP_CAPS);
    }
  else if (o->audio_only)
    {
      GstElement *audio = audio_send_bin (bot, error);

      if (audio == NULL || !add_sender (bot, audio, AUDIO_SEND_CAPS, bot->ssrc_audio, error))
        return FALSE;
    }
  else
    {
      GstElement *video, *audio;

      if (!build_senders (bot, &video, &audio, error))
        return FALSE;
      if (!add_sender (bot, video, VIDEO_RTP_CAPS, bot->ssrc_video, error)
          || !add_sender (bot, audio, AUDIO_SEND_CAPS, bot->ssrc_audio, error))
        return FALSE;
    }
  return TRUE;
}

/* --loopback-test: payloaders straight into the receive chains, and one
 * cell covering the whole frame. */
static gboolean
build_loopback (MmBot *bot, GError **error)
{
  GstElement *vsend, *asend;
  g_autoptr (GstPad) vsrc = NULL;
  g_autoptr (GstPad) asrc = NULL;
  JsonObject *tile = json_object_new ();
  JsonArray *tiles = json_array_new ();

  if (!build_senders (bot, &vsend, &asend, error))
    return FALSE;
  gst_bin_add_many (GST_BIN (bot->pipeline), vsend, asend, NULL);
  vsrc = gst_element_get_static_pad (vsend, "src");
  asrc = gst_element_get_static_pad (asend, "src");
  if (!attach_receiver (bot, vsrc, TRUE, error) || !attach_receiver (bot, asrc, FALSE, error))
    return FALSE;

  json_object_set_null_member (tile, "participant_id");
  json_object_set_string_member (tile, "display_name", bot->name ? bot->name : "loopback");
  json_object_set_int_member (tile, "x", 0);
  json_object_set_int_member (tile, "y", 0);
  json_object_set_int_member (tile, "width", 1);
  json_object_set_int_member (tile, "height", 1);
  json_array_add_object_element (tiles, tile);
  g_clear_pointer (&bot->layout, json_object_unref);
  bot->layout = json_object_new ();
  json_object_set_string_member (bot->layout, "type", "layout");
  json_object_set_int_member (bot->layout, "width", 1);
  json_object_set_int_member (bot->layout, "height", 1);
  json_object_set_array_member (bot->layout, "tiles", tiles);
  return TRUE;
}

/* A browser that gets no answer, or no connection, or whose connection
 * fails, tries again: so does the bot (and says so on stderr).  A
 * connection on its way is given the time a browser gives it: on a busy
 * machine the server's DTLS handshakes with many newcomers at once take
 * tens of seconds after ICE is through, and offering again then would
 * only add to the load (every bot of a large audience offering anew every
 * few seconds, none ever connected). */
#define WATCHDOG_TICK_S 5
#define ANSWER_TIMEOUT_S 20        /* no answer to the offer */
#define ICE_TIMEOUT_S 30           /* answered, ICE not through */
#define DTLS_TIMEOUT_S 120         /* ICE through, not connected */

static gboolean
watchdog (gpointer data)
{
  MmBot *bot = data;
  GstWebRTCPeerConnectionState state = GST_WEBRTC_PEER_CONNECTION_STATE_NEW;
  GstWebRTCICEConnectionState ice = GST_WEBRTC_ICE_CONNECTION_STATE_NEW;
  gboolean ice_through, failed;
  guint waited;

  if (bot->webrtc != NULL)
    g_object_get (bot->webrtc, "connection-state", &state, "ice-connection-state", &ice, NULL);
  if (bot->stopped || (bot->remote_set && state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED))
    {
      bot->watchdog_id = 0;
      return G_SOURCE_REMOVE;
    }
  bot->watchdog_ticks++;
  waited = bot->watchdog_ticks * WATCHDOG_TICK_S;
  ice_through = ice == GST_WEBRTC_ICE_CONNECTION_STATE_CONNECTED
                || ice == GST_WEBRTC_ICE_CONNECTION_STATE_COMPLETED;
  failed = state == GST_WEBRTC_PEER_CONNECTION_STATE_FAILED
           || state == GST_WEBRTC_PEER_CONNECTION_STATE_CLOSED;
  if (!failed && waited < (!bot->remote_set ? ANSWER_TIMEOUT_S
                           : ice_through ? DTLS_TIMEOUT_S : ICE_TIMEOUT_S))
    return G_SOURCE_CONTINUE;
  bot->watchdog_id = 0;
  mm_bot_log (bot, "%s after %u s: offering again",
              failed ? "connection failed" : !bot->remote_set ? "no answer"
              : ice_through ? "no DTLS connection" : "no ICE connection", waited);
  mm_bot_media_restart (bot);
  return G_SOURCE_REMOVE;
}

gboolean
mm_bot_media_start (MmBot *bot, GError **error)
{
  g_autofree char *name = g_strdup_printf ("bot-%u", bot->index);
  g_autoptr (GstBus) bus = NULL;
  gboolean ok;

  bot->pipeline = gst_pipeline_new (name);
  bus = gst_pipeline_get_bus (GST_PIPELINE (bot->pipeline));
  bot->bus_watch = gst_bus_add_watch (bus, on_bus_message, bot);
  bot->last_report_us = g_get_monotonic_time ();
  if (bot->app->opts.loopback)
    {
      bot->join_start_us = g_get_monotonic_time ();
      ok = build_loopback (bot, error);
    }
  else
    ok = build_webrtc (bot, error);
  if (!ok)
    {
      mm_bot_media_stop (bot);
      return FALSE;
    }
  if (gst_element_set_state (bot->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           "the pipeline refused to start (run with GST_DEBUG=3 for details)");
      mm_bot_media_stop (bot);
      return FALSE;
    }
  if (bot->webrtc != NULL)
    {
      bot->connections++;
      bot->caps_wait = g_timeout_add (SSRC_WAIT_MS, wait_for_ssrc, bot);
      bot->watchdog_ticks = 0;
      bot->watchdog_id = g_timeout_add_seconds (WATCHDOG_TICK_S, watchdog, bot);
    }
  return TRUE;
}

void
mm_bot_media_stop (MmBot *bot)
{
  GstSample *frame;

  if (bot->louder_id != 0)
    g_source_remove (bot->louder_id);
  bot->louder_id = 0;

  if (bot->caps_wait != 0)
    g_source_remove (bot->caps_wait);
  bot->caps_wait = 0;
  if (bot->watchdog_id != 0)
    g_source_remove (bot->watchdog_id);
  bot->watchdog_id = 0;
  if (bot->present_id != 0)
    g_source_remove (bot->present_id);
  bot->present_id = 0;
  gst_clear_object (&bot->screen_trans);
  gst_clear_object (&bot->screen_src);
  bot->renegotiating = FALSE;
  if (bot->bus_watch != 0)
    g_source_remove (bot->bus_watch);
  bot->bus_watch = 0;
  if (bot->pipeline != NULL)
    {
      gst_element_set_state (bot->pipeline, GST_STATE_NULL);
      gst_clear_object (&bot->pipeline);
    }
  bot->webrtc = NULL;          /* owned by the pipeline */
  bot->remote_set = FALSE;
  bot->caps_wait_ticks = 0;
  g_clear_pointer (&bot->pending_candidates, g_ptr_array_unref);
  bot->publish_armed = FALSE;
  g_mutex_lock (&bot->lock);
  frame = g_steal_pointer (&bot->last_frame);
  bot->got_frame = FALSE;
  g_mutex_unlock (&bot->lock);
  if (frame != NULL)
    gst_sample_unref (frame);
}

/* ---- the report --------------------------------------------------------- */

static gboolean
obj_num (JsonObject *o, const char *name, double *value)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, name) : NULL;
  GType t;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n))
    return FALSE;
  t = json_node_get_value_type (n);
  if (t == G_TYPE_INT64)
    *value = (double) json_node_get_int (n);
  else if (t == G_TYPE_DOUBLE)
    *value = json_node_get_double (n);
  else
    return FALSE;
  return TRUE;
}

static const char *
obj_str (JsonObject *o, const char *name)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, name) : NULL;

  return n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
           ? json_node_get_string (n) : NULL;
}

/* Average a PATCH × PATCH square of an RGBx frame around (@cx, @cy). */
static void
sample_patch (GstVideoFrame *frame, double cx, double cy, guint8 rgb[3])
{
  int w = GST_VIDEO_FRAME_WIDTH (frame), h = GST_VIDEO_FRAME_HEIGHT (frame);
  const guint8 *data = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
  int stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  int x0 = CLAMP ((int) floor (cx) - PATCH / 2, 0, MAX (w - PATCH, 0));
  int y0 = CLAMP ((int) floor (cy) - PATCH / 2, 0, MAX (h - PATCH, 0));
  guint sum[3] = { 0, 0, 0 }, n = 0;

  for (int y = y0; y < MIN (y0 + PATCH, h); y++)
    for (int x = x0; x < MIN (x0 + PATCH, w); x++)
      {
        const guint8 *p = data + (gsize) y * stride + (gsize) x * 4;

        sum[0] += p[0];
        sum[1] += p[1];
        sum[2] += p[2];
        n++;
      }
  for (int i = 0; i < 3; i++)
    rgb[i] = n > 0 ? (guint8) ((sum[i] + n / 2) / n) : 0;
}

/* One cell per tile of the latest layout, sampled from @frame if any. */
static void
fill_cells (MmBot *bot, GstVideoFrame *frame, GArray *cells)
{
  JsonNode *tiles_node = bot->layout ? json_object_get_member (bot->layout, "tiles") : NULL;
  double lw = 0, lh = 0;
  JsonArray *tiles;

  if (tiles_node == NULL || !JSON_NODE_HOLDS_ARRAY (tiles_node))
    return;
  if (!obj_num (bot->layout, "width", &lw) || !obj_num (bot->layout, "height", &lh)
      || lw <= 0 || lh <= 0)
    return;
  tiles = json_node_get_array (tiles_node);
  for (guint i = 0; i < json_array_get_length (tiles); i++)
    {
      JsonNode *tn = json_array_get_element (tiles, i);
      JsonObject *t = JSON_NODE_HOLDS_OBJECT (tn) ? json_node_get_object (tn) : NULL;
      MmBotCell cell = { 0 };
      double x, y, w, h;

      if (t == NULL || !obj_num (t, "x", &x) || !obj_num (t, "y", &y)
          || !obj_num (t, "width", &w) || !obj_num (t, "height", &h))
        continue;
      cell.participant_id = g_strdup (obj_str (t, "participant_id"));
      cell.display_name = g_strdup (obj_str (t, "display_name"));
      cell.screen = json_object_has_member (t, "screen")
                    && JSON_NODE_HOLDS_VALUE (json_object_get_member (t, "screen"))
                    && json_object_get_boolean_member (t, "screen");
      if (frame != NULL)
        {
          double sx = GST_VIDEO_FRAME_WIDTH (frame) / lw;
          double sy = GST_VIDEO_FRAME_HEIGHT (frame) / lh;

          sample_patch (frame, (x + w / 2) * sx, (y + h / 2) * sy, cell.rgb);
          cell.have_rgb = TRUE;
        }
      g_array_append_val (cells, cell);
    }
}

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y ? 1 : 0;
}

static int
compare_peak_db_desc (const void *a, const void *b)
{
  const MmBotPeak *x = a, *y = b;
  return x->db > y->db ? -1 : x->db < y->db ? 1 : 0;
}

/* The strongest local maxima of the averaged spectrum, at least
 * PEAK_ABOVE_MEDIAN_DB above its median.  Frequencies: band i is centred on
 * i × rate / nfft with nfft = 2 × bands − 2 (gstspectrum.c); the peak is
 * refined by a parabola through the three bands around it. */
static void
find_peaks (MmBot *bot, MmBotReport *r)
{
  guint n = bot->n_bands;
  g_autofree double *db = g_new (double, n);
  g_autofree double *sorted = NULL;
  g_autoptr (GArray) found = g_array_new (FALSE, FALSE, sizeof (MmBotPeak));
  double median, bin_hz = (double) AUDIO_RATE / (2.0 * n - 2.0);

  for (guint i = 0; i < n; i++)
    db[i] = 10.0 * log10 (MAX (bot->band_power[i] / bot->spectrum_msgs, 1e-30));
  sorted = g_memdup2 (db, n * sizeof (double));
  qsort (sorted, n, sizeof (double), compare_double);
  median = sorted[n / 2];
  for (guint i = 1; i + 1 < n; i++)
    {
      MmBotPeak p;
      double denom, shift = 0;
      gboolean is_max = db[i] >= median + PEAK_ABOVE_MEDIAN_DB;

      /* The highest within two bands on either side (first of a plateau). */
      for (guint j = (i >= 2 ? i - 2 : 0); is_max && j <= MIN (i + 2, n - 1); j++)
        if (j != i && (j < i ? db[j] >= db[i] : db[j] > db[i]))
          is_max = FALSE;
      if (!is_max)
        continue;
      denom = db[i - 1] - 2 * db[i] + db[i + 1];
      if (denom < 0)
        shift = CLAMP (0.5 * (db[i - 1] - db[i + 1]) / denom, -0.5, 0.5);
      p.hz = (i + shift) * bin_hz;
      p.db = db[i];
      g_array_append_val (found, p);
    }
  g_array_sort (found, compare_peak_db_desc);
  r->n_peaks = MIN (found->len, MM_BOT_MAX_PEAKS);
  for (guint i = 0; i < r->n_peaks; i++)
    r->peaks[i] = g_array_index (found, MmBotPeak, i);
}

void
mm_bot_media_report (MmBot *bot, MmBotReport *r)
{
  gint64 now = g_get_monotonic_time ();
  GstSample *sample;
  gint64 first_us;
  double elapsed;

  memset (r, 0, sizeof *r);
  r->cells = g_array_new (FALSE, TRUE, sizeof (MmBotCell));
  r->first_frame_ms = -1;
  g_mutex_lock (&bot->lock);
  r->frames = bot->frames;
  bot->frames = 0;
  /* A stall still going on counts up to now. */
  r->max_gap_ms = bot->last_frame_us == 0
                    ? -1 : MAX (bot->max_gap_us, now - bot->last_frame_us) / 1000;
  bot->max_gap_us = 0;
  sample = bot->last_frame ? gst_sample_ref (bot->last_frame) : NULL;
  first_us = bot->first_frame_us;
  r->have_lost = bot->have_lost;
  r->packets_lost = bot->packets_lost;
  if (bot->app->opts.no_decode)
    {
      r->width = bot->coded_width;
      r->height = bot->coded_height;
    }
  g_mutex_unlock (&bot->lock);

  elapsed = bot->last_report_us > 0 ? (now - bot->last_report_us) / 1e6 : 0;
  bot->last_report_us = now;
  r->fps = elapsed > 0.05 ? r->frames / elapsed : 0;
  if (first_us != 0 && bot->join_start_us != 0)
    r->first_frame_ms = MAX ((first_us - bot->join_start_us) / 1000, 0);
  g_mutex_lock (&bot->lock);
  for (guint i = 0; i < MM_BOT_N_STEPS; i++)
    r->steps_ms[i] = bot->step_us[i] != 0 && bot->join_start_us != 0
                       ? MAX ((bot->step_us[i] - bot->join_start_us) / 1000, 0) : -1;
  g_mutex_unlock (&bot->lock);
  if (bot->webrtc != NULL)
    {
      GstWebRTCPeerConnectionState state;

      g_object_get (bot->webrtc, "connection-state", &state, NULL);
      r->connected = state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED;
    }

  if (sample != NULL)
    {
      GstVideoInfo info;
      GstVideoFrame frame;
      GstCaps *caps = gst_sample_get_caps (sample);
      GstBuffer *buf = gst_sample_get_buffer (sample);

      if (caps != NULL && buf != NULL && gst_video_info_from_caps (&info, caps)
          && GST_VIDEO_INFO_FORMAT (&info) == GST_VIDEO_FORMAT_RGBx
          && gst_video_frame_map (&frame, &info, buf, GST_MAP_READ))
        {
          r->width = GST_VIDEO_INFO_WIDTH (&info);
          r->height = GST_VIDEO_INFO_HEIGHT (&info);
          fill_cells (bot, &frame, r->cells);
          gst_video_frame_unmap (&frame);
        }
      else
        fill_cells (bot, NULL, r->cells);
      gst_sample_unref (sample);
    }
  else
    fill_cells (bot, NULL, r->cells);

  if (bot->spectrum_msgs > 0 && bot->band_power != NULL)
    {
      find_peaks (bot, r);
      memset (bot->band_power, 0, bot->n_bands * sizeof (double));
      bot->spectrum_msgs = 0;
    }
  if (bot->level_msgs > 0)
    {
      r->have_level = TRUE;
      r->level_db = MAX (10.0 * log10 (MAX (bot->level_power / bot->level_msgs, 1e-30)),
                         LEVEL_FLOOR_DB);
      bot->level_power = 0;
      bot->level_msgs = 0;
    }
}

void
mm_bot_report_clear (MmBotReport *r)
{
  if (r->cells == NULL)
    return;
  for (guint i = 0; i < r->cells->len; i++)
    {
      MmBotCell *c = &g_array_index (r->cells, MmBotCell, i);

      g_free (c->participant_id);
      g_free (c->display_name);
    }
  g_clear_pointer (&r->cells, g_array_unref);
}

static gboolean
restart_media (gpointer data)
{
  MmBot *bot = data;
  g_autoptr (GError) error = NULL;

  bot->restart_id = 0;
  if (bot->stopped)
    return G_SOURCE_REMOVE;
  if (!mm_bot_media_start (bot, &error))
    mm_bot_stop (bot, error->message);
  return G_SOURCE_REMOVE;
}

void
mm_bot_media_restart (MmBot *bot)
{
  mm_bot_media_stop (bot);
  if (bot->restart_id == 0)
    bot->restart_id = g_timeout_add (300, restart_media, bot);
}
