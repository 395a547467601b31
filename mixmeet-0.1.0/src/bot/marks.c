/* marks.c — mixmeet-bot: timed colour changes for latency measurements.
 *
 * --blink=MS: every MS ms the camera's frames switch between the bot's
 * colour and --blink-color (the complement by default).  The first frame
 * of each change is painted by a probe on the camera's output; when its
 * first RTP packet leaves the payloader the bot prints
 *
 *   {"bot":0,"event":"change","seq":1,"rgb":"00ffff","painted_us":...,
 *    "sent_us":...,"rtp_ts":...,"ssrc":...}
 *
 * Its microphone follows: the tone sounds only while the camera shows the
 * other colour (silence otherwise), and each start or stop prints
 *
 *   {"bot":0,"event":"burst","seq":1,"on":true,"made_us":...,
 *    "sent_us":...,"rtp_ts":...,"ssrc":...}
 *
 * --watch-tone: the RMS of every decoded audio buffer (20 ms); when it
 * rises above -30 dBFS or falls below -40 the bot prints
 *
 *   {"bot":0,"event":"heard","seq":1,"present":true,"us":...}
 *
 * --watch-color=RRGGBB: every decoded frame of the composite is sampled
 * on a 32x18 grid; when the colour first appears anywhere, or is gone
 * everywhere, the bot prints
 *
 *   {"bot":0,"event":"seen","seq":1,"present":true,"us":...}
 *
 * Times are wall-clock microseconds (g_get_real_time), comparable with
 * other processes on the same machine.  Streaming threads only; the
 * members of MmBot used here are under MmBot.lock.
 */
#include "config.h"

#include "bot/bot.h"

#include <gst/audio/audio.h>
#include <gst/video/video.h>
#include <math.h>
#include <string.h>

#define GRID_X 32
#define GRID_Y 18
#define TOLERANCE 48

guint32
mm_bot_marks_blink_rgb (MmBot *bot)
{
  const char *c = bot->app->opts.blink_color;

  return c != NULL ? mm_bot_parse_rgb (c) : (bot->rgb ^ 0xffffff);
}

/* Fill an I420 frame with @rgb (BT.601, limited range). */
static void
paint (GstVideoFrame *frame, guint32 rgb)
{
  double r = rgb >> 16, g = (rgb >> 8) & 0xff, b = rgb & 0xff;
  guint8 v[3];

  v[0] = (guint8) (16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255);
  v[1] = (guint8) (128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255);
  v[2] = (guint8) (128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255);
  for (guint c = 0; c < 3; c++)
    {
      guint8 *data = GST_VIDEO_FRAME_COMP_DATA (frame, c);
      int stride = GST_VIDEO_FRAME_COMP_STRIDE (frame, c);
      int w = GST_VIDEO_FRAME_COMP_WIDTH (frame, c);
      int h = GST_VIDEO_FRAME_COMP_HEIGHT (frame, c);

      for (int y = 0; y < h; y++)
        memset (data + y * stride, v[c], (size_t) w);
    }
}

/* Streaming thread: whether @buf starts a change of @mark (the camera or the
 * microphone following bot->blink_alt); returns the state to apply. */
static gboolean
mark_follow (MmBot *bot, MmBotMark *mark, GstBuffer *buf, gint64 now)
{
  gboolean alt;

  g_mutex_lock (&bot->lock);
  alt = bot->blink_alt;
  if (alt != mark->alt)
    {
      mark->alt = alt;
      mark->seq++;
      mark->pts = GST_BUFFER_PTS (buf);
      mark->made_us = now;
      mark->pending = TRUE;
    }
  g_mutex_unlock (&bot->lock);
  return alt;
}

static GstPadProbeReturn
on_camera_frame (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  MmBot *bot = data;
  gint64 now = g_get_real_time ();
  gint64 period = (gint64) bot->app->opts.blink_ms * 1000;
  GstBuffer *buf;

  /* The camera's clock sets the pace; the microphone follows. */
  g_mutex_lock (&bot->lock);
  if (bot->blink_next_us == 0)
    bot->blink_next_us = now + period;
  if (now >= bot->blink_next_us)
    {
      bot->blink_alt = !bot->blink_alt;
      bot->blink_next_us = MAX (bot->blink_next_us + period, now + period / 2);
    }
  g_mutex_unlock (&bot->lock);
  if (!mark_follow (bot, &bot->colour_mark, GST_PAD_PROBE_INFO_BUFFER (info), now))
    return GST_PAD_PROBE_OK;

  buf = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER (info));
  GST_PAD_PROBE_INFO_DATA (info) = buf;
  {
    g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
    GstVideoInfo vi;
    GstVideoFrame frame;

    if (caps != NULL && gst_video_info_from_caps (&vi, caps)
        && GST_VIDEO_INFO_FORMAT (&vi) == GST_VIDEO_FORMAT_I420
        && gst_video_frame_map (&frame, &vi, buf, GST_MAP_WRITE))
      {
        paint (&frame, mm_bot_marks_blink_rgb (bot));
        gst_video_frame_unmap (&frame);
      }
  }
  return GST_PAD_PROBE_OK;
}

/* The tone sounds only while the camera shows the other colour. */
static GstPadProbeReturn
on_mic_buffer (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  MmBot *bot = data;
  GstBuffer *buf;
  GstMapInfo map;

  (void) pad;
  if (mark_follow (bot, &bot->tone_mark, GST_PAD_PROBE_INFO_BUFFER (info), g_get_real_time ()))
    return GST_PAD_PROBE_OK;
  buf = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER (info));
  GST_PAD_PROBE_INFO_DATA (info) = buf;
  if (gst_buffer_map (buf, &map, GST_MAP_WRITE))
    {
      memset (map.data, 0, map.size);   /* silence in any sample format */
      gst_buffer_unmap (buf, &map);
    }
  return GST_PAD_PROBE_OK;
}

typedef struct {
  MmBot *bot;
  MmBotMark *mark;
  gboolean audio;
} Sender;

/* Whether packet @buf carries the first changed buffer of @mark.  A video
 * frame keeps its PTS through encoder and payloader; the Opus encoder
 * shifts its frames by its look-ahead, so for audio it is the first
 * packet whose frame reaches past the change. */
static gboolean
carries_mark (GstBuffer *buf, const MmBotMark *mark, gboolean audio)
{
  GstClockTime pts = GST_BUFFER_PTS (buf);

  if (!audio)
    return pts == mark->pts;
  return GST_CLOCK_TIME_IS_VALID (pts)
         && pts + (GST_BUFFER_DURATION_IS_VALID (buf) ? GST_BUFFER_DURATION (buf)
                                                       : 20 * GST_MSECOND) > mark->pts;
}

static void
note_sent (const Sender *s, GstBuffer *buf)
{
  MmBot *bot = s->bot;
  guint8 head[12];
  g_autoptr (GString) out = NULL;
  gint64 now = g_get_real_time ();
  MmBotMark mark;
  gboolean carries;

  if (gst_buffer_extract (buf, 0, head, sizeof head) != sizeof head)
    return;
  g_mutex_lock (&bot->lock);
  mark = *s->mark;
  carries = mark.pending && carries_mark (buf, &mark, s->audio);
  if (carries)
    s->mark->pending = FALSE;
  g_mutex_unlock (&bot->lock);
  if (!carries)
    return;
  out = g_string_new (NULL);
  if (s->audio)
    g_string_append_printf (out, "{\"bot\":%u,\"event\":\"burst\",\"seq\":%u,\"on\":%s,"
                            "\"made_us\":%" G_GINT64_FORMAT, bot->index, mark.seq,
                            mark.alt ? "true" : "false", mark.made_us);
  else
    g_string_append_printf (out, "{\"bot\":%u,\"event\":\"change\",\"seq\":%u,\"rgb\":\"%06x\","
                            "\"painted_us\":%" G_GINT64_FORMAT, bot->index, mark.seq,
                            mark.alt ? mm_bot_marks_blink_rgb (bot) : bot->rgb, mark.made_us);
  g_string_append_printf (out, ",\"sent_us\":%" G_GINT64_FORMAT ",\"rtp_ts\":%u,\"ssrc\":%u}",
                          now, GST_READ_UINT32_BE (head + 4), GST_READ_UINT32_BE (head + 8));
  mm_bot_print_line (out);
}

static gboolean
note_sent_in_list (GstBuffer **buf, guint idx, gpointer data)
{
  (void) idx;
  note_sent (data, *buf);
  return FALSE;              /* the first packet of the list is enough */
}

static GstPadProbeReturn
on_packets (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  (void) pad;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    gst_buffer_list_foreach (GST_PAD_PROBE_INFO_BUFFER_LIST (info), note_sent_in_list, data);
  else
    note_sent (data, GST_PAD_PROBE_INFO_BUFFER (info));
  return GST_PAD_PROBE_OK;
}

/* Probes on @bin's @source (raw buffers, changed by @on_raw) and "pay". */
static void
watch_sender (MmBot *bot, GstElement *bin, const char *source, GstPadProbeCallback on_raw,
              MmBotMark *mark, gboolean audio)
{
  g_autoptr (GstElement) src = gst_bin_get_by_name (GST_BIN (bin), source);
  g_autoptr (GstElement) pay = gst_bin_get_by_name (GST_BIN (bin), "pay");
  g_autoptr (GstPad) raw = NULL;
  g_autoptr (GstPad) packets = NULL;
  Sender *s;

  if (src == NULL || pay == NULL)
    {
      g_warning ("--blink: the sender has no elements named %s and pay", source);
      return;
    }
  raw = gst_element_get_static_pad (src, "src");
  packets = gst_element_get_static_pad (pay, "src");
  s = g_new (Sender, 1);
  *s = (Sender) { bot, mark, audio };
  gst_pad_add_probe (raw, GST_PAD_PROBE_TYPE_BUFFER, on_raw, bot, NULL);
  gst_pad_add_probe (packets, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                     on_packets, s, g_free);
}

void
mm_bot_marks_sender (MmBot *bot, GstElement *video_bin, GstElement *audio_bin)
{
  if (bot->app->opts.blink_ms <= 0)
    return;
  watch_sender (bot, video_bin, "camera", on_camera_frame, &bot->colour_mark, FALSE);
  watch_sender (bot, audio_bin, "mic", on_mic_buffer, &bot->tone_mark, TRUE);
}

/* Streaming thread: @present is what the latest frame or buffer shows;
 * when it differs from *@state print @event with the next *@seq.  Both
 * are members of @bot under its lock. */
static void
note_presence (MmBot *bot, const char *event, gboolean *state, guint *seq, gboolean present,
               gint64 now)
{
  g_autoptr (GString) out = NULL;
  guint n;

  g_mutex_lock (&bot->lock);
  if (present == *state)
    {
      g_mutex_unlock (&bot->lock);
      return;
    }
  *state = present;
  n = ++*seq;
  g_mutex_unlock (&bot->lock);
  out = g_string_new (NULL);
  g_string_append_printf (out, "{\"bot\":%u,\"event\":\"%s\",\"seq\":%u,\"present\":%s,"
                          "\"us\":%" G_GINT64_FORMAT "}",
                          bot->index, event, n, present ? "true" : "false", now);
  mm_bot_print_line (out);
}

/* Loud above -30 dBFS, quiet again below -40. */
#define LOUD_RMS 0.0316
#define QUIET_RMS 0.01

static GstPadProbeReturn
on_heard (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  MmBot *bot = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  gint64 now = g_get_real_time ();
  GstAudioInfo ai;
  GstMapInfo map;
  double sum = 0, rms;
  gsize n = 0;
  gboolean loud;

  if (caps == NULL || !gst_audio_info_from_caps (&ai, caps)
      || !gst_buffer_map (buf, &map, GST_MAP_READ))
    return GST_PAD_PROBE_OK;
  if (GST_AUDIO_INFO_FORMAT (&ai) == GST_AUDIO_FORMAT_S16)
    for (n = 0; n < map.size / 2; n++)
      {
        double x = ((const gint16 *) map.data)[n] / 32768.0;

        sum += x * x;
      }
  else if (GST_AUDIO_INFO_FORMAT (&ai) == GST_AUDIO_FORMAT_F32)
    for (n = 0; n < map.size / 4; n++)
      sum += ((const float *) map.data)[n] * (double) ((const float *) map.data)[n];
  gst_buffer_unmap (buf, &map);
  if (n == 0)
    return GST_PAD_PROBE_OK;
  rms = sqrt (sum / n);
  g_mutex_lock (&bot->lock);
  loud = bot->heard_present ? rms >= QUIET_RMS : rms >= LOUD_RMS;
  g_mutex_unlock (&bot->lock);
  note_presence (bot, "heard", &bot->heard_present, &bot->heard_seq, loud, now);
  return GST_PAD_PROBE_OK;
}

void
mm_bot_marks_listen (MmBot *bot, GstPad *pad)
{
  if (bot->app->opts.watch_tone)
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_heard, bot, NULL);
}

void
mm_bot_marks_frame (MmBot *bot, GstSample *sample)
{
  GstCaps *caps = gst_sample_get_caps (sample);
  GstBuffer *buf = gst_sample_get_buffer (sample);
  guint32 rgb = mm_bot_parse_rgb (bot->app->opts.watch_color);
  int want[3] = { rgb >> 16, (rgb >> 8) & 0xff, rgb & 0xff };
  gint64 now = g_get_real_time ();
  GstVideoInfo vi;
  GstVideoFrame frame;
  gboolean found = FALSE;

  if (caps == NULL || buf == NULL || !gst_video_info_from_caps (&vi, caps)
      || GST_VIDEO_INFO_FORMAT (&vi) != GST_VIDEO_FORMAT_RGBx
      || !gst_video_frame_map (&frame, &vi, buf, GST_MAP_READ))
    return;
  for (guint gy = 0; gy < GRID_Y && !found; gy++)
    for (guint gx = 0; gx < GRID_X && !found; gx++)
      {
        int x = (int) ((gx + 0.5) * GST_VIDEO_INFO_WIDTH (&vi) / GRID_X);
        int y = (int) ((gy + 0.5) * GST_VIDEO_INFO_HEIGHT (&vi) / GRID_Y);
        const guint8 *p = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0)
                          + y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0) + x * 4;

        found = ABS (p[0] - want[0]) <= TOLERANCE && ABS (p[1] - want[1]) <= TOLERANCE
                && ABS (p[2] - want[2]) <= TOLERANCE;
      }
  gst_video_frame_unmap (&frame);
  note_presence (bot, "seen", &bot->watch_present, &bot->watch_seq, found, now);
}
