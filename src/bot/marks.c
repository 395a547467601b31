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

#include <gst/video/video.h>
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

static GstPadProbeReturn
on_camera_frame (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  MmBot *bot = data;
  gint64 now = g_get_real_time ();
  gint64 period = (gint64) bot->app->opts.blink_ms * 1000;
  gboolean alt;
  GstBuffer *buf;

  g_mutex_lock (&bot->lock);
  if (bot->blink_next_us == 0)
    bot->blink_next_us = now + period;
  if (now >= bot->blink_next_us)
    {
      bot->blink_alt = !bot->blink_alt;
      bot->blink_seq++;
      bot->blink_next_us = MAX (bot->blink_next_us + period, now + period / 2);
      bot->blink_pts = GST_BUFFER_PTS (GST_PAD_PROBE_INFO_BUFFER (info));
      bot->blink_painted_us = now;
      bot->blink_pending = TRUE;
    }
  alt = bot->blink_alt;
  g_mutex_unlock (&bot->lock);
  if (!alt)
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

static void
note_sent (MmBot *bot, GstBuffer *buf)
{
  guint8 head[12];
  g_autoptr (GString) out = NULL;
  gint64 now = g_get_real_time ();
  guint seq;
  gboolean alt;
  gint64 painted;

  if (gst_buffer_extract (buf, 0, head, sizeof head) != sizeof head)
    return;
  g_mutex_lock (&bot->lock);
  if (!bot->blink_pending || GST_BUFFER_PTS (buf) != bot->blink_pts)
    {
      g_mutex_unlock (&bot->lock);
      return;
    }
  bot->blink_pending = FALSE;
  seq = bot->blink_seq;
  alt = bot->blink_alt;
  painted = bot->blink_painted_us;
  g_mutex_unlock (&bot->lock);
  out = g_string_new (NULL);
  g_string_append_printf (out, "{\"bot\":%u,\"event\":\"change\",\"seq\":%u,\"rgb\":\"%06x\","
                          "\"painted_us\":%" G_GINT64_FORMAT ",\"sent_us\":%" G_GINT64_FORMAT
                          ",\"rtp_ts\":%u,\"ssrc\":%u}",
                          bot->index, seq, alt ? mm_bot_marks_blink_rgb (bot) : bot->rgb,
                          painted, now, GST_READ_UINT32_BE (head + 4),
                          GST_READ_UINT32_BE (head + 8));
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

void
mm_bot_marks_sender (MmBot *bot, GstElement *video_bin)
{
  g_autoptr (GstElement) camera = gst_bin_get_by_name (GST_BIN (video_bin), "camera");
  g_autoptr (GstElement) pay = gst_bin_get_by_name (GST_BIN (video_bin), "pay");
  g_autoptr (GstPad) camera_src = NULL;
  g_autoptr (GstPad) pay_src = NULL;

  if (bot->app->opts.blink_ms <= 0 || camera == NULL || pay == NULL)
    return;
  camera_src = gst_element_get_static_pad (camera, "src");
  pay_src = gst_element_get_static_pad (pay, "src");
  gst_pad_add_probe (camera_src, GST_PAD_PROBE_TYPE_BUFFER, on_camera_frame, bot, NULL);
  gst_pad_add_probe (pay_src, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                     on_packets, bot, NULL);
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
  g_autoptr (GString) out = NULL;
  guint seq;

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
  g_mutex_lock (&bot->lock);
  if (found == bot->watch_present)
    {
      g_mutex_unlock (&bot->lock);
      return;
    }
  bot->watch_present = found;
  seq = ++bot->watch_seq;
  g_mutex_unlock (&bot->lock);
  out = g_string_new (NULL);
  g_string_append_printf (out, "{\"bot\":%u,\"event\":\"seen\",\"seq\":%u,\"present\":%s,"
                          "\"us\":%" G_GINT64_FORMAT "}",
                          bot->index, seq, found ? "true" : "false", now);
  mm_bot_print_line (out);
}
