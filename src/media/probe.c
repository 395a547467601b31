/* probe.c — timestamps for the latency benchmark; see probe.h.
 *
 * Threads: the probes run on streaming threads; the log file is shared
 * under log_lock, and each pad's own state under its PadState's lock.
 */
#include "config.h"

#include "media/probe.h"

#include <gst/video/video.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-media"

#define MAX_SSRCS 8
#define GRID_X 32
#define GRID_Y 18
#define TOLERANCE 40
#define MAX_PENDING 8

static GMutex log_lock;
static FILE *log_file;
static int video_pt = 96;
static int audio_pt = 111;
static gboolean have_colour;
static guint8 colour_yuv[3];

static gboolean
probe_enabled (void)
{
  static gsize once;

  if (g_once_init_enter (&once))
    {
      const char *path = g_getenv ("MIXMEET_PROBE_LOG");
      const char *pt = g_getenv ("MIXMEET_PROBE_PT");
      const char *apt = g_getenv ("MIXMEET_PROBE_APT");
      const char *colour = g_getenv ("MIXMEET_PROBE_COLOR");

      if (path != NULL && *path != '\0')
        {
          log_file = fopen (path, "a");
          if (log_file == NULL)
            g_warning ("MIXMEET_PROBE_LOG: cannot open %s", path);
        }
      if (pt != NULL)
        video_pt = atoi (pt);
      if (apt != NULL)
        audio_pt = atoi (apt);
      if (colour != NULL && strlen (colour) == 6
          && strspn (colour, "0123456789abcdefABCDEF") == 6)
        {
          guint32 rgb = (guint32) g_ascii_strtoull (colour, NULL, 16);
          double r = rgb >> 16, g = (rgb >> 8) & 0xff, b = rgb & 0xff;

          /* BT.601, limited range: what videoconvert makes of RGB. */
          colour_yuv[0] = (guint8) (16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255);
          colour_yuv[1] = (guint8) (128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255);
          colour_yuv[2] = (guint8) (128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255);
          have_colour = TRUE;
        }
      g_once_init_leave (&once, 1);
    }
  return log_file != NULL;
}

static void
log_line (const char *format, ...) G_GNUC_PRINTF (1, 2);

static void
log_line (const char *format, ...)
{
  va_list ap;

  g_mutex_lock (&log_lock);
  va_start (ap, format);
  vfprintf (log_file, format, ap);
  va_end (ap);
  fflush (log_file);
  g_mutex_unlock (&log_lock);
}

/* ---- packets ------------------------------------------------------------ */

struct _MmProbeRtp {
  GMutex lock;
  char *peer_id;
  gboolean out;
  guint n;
  guint32 ssrc[MAX_SSRCS];
  guint32 ts[MAX_SSRCS];
};

MmProbeRtp *
mm_probe_rtp_new (const char *peer_id, gboolean out)
{
  MmProbeRtp *s;

  if (!probe_enabled ())
    return NULL;
  s = g_new0 (MmProbeRtp, 1);
  g_mutex_init (&s->lock);
  s->peer_id = g_strdup (peer_id);
  s->out = out;
  return s;
}

void
mm_probe_rtp_free (MmProbeRtp *s)
{
  if (s == NULL)
    return;
  g_mutex_clear (&s->lock);
  g_free (s->peer_id);
  g_free (s);
}

void
mm_probe_rtp_note (MmProbeRtp *s, const guint8 *head, gsize len)
{
  guint32 ssrc, ts;
  gboolean fresh = TRUE;
  const char *kind;

  if (s == NULL || len < 12 || head[0] >> 6 != 2)
    return;
  if ((head[1] & 0x7f) == video_pt)
    kind = s->out ? "out" : "in";
  else if ((head[1] & 0x7f) == audio_pt)
    kind = s->out ? "aout" : "ain";
  else
    return;
  ts = GST_READ_UINT32_BE (head + 4);
  ssrc = GST_READ_UINT32_BE (head + 8);
  g_mutex_lock (&s->lock);
  for (guint i = 0; i < s->n; i++)
    if (s->ssrc[i] == ssrc)
      {
        fresh = s->ts[i] != ts;
        s->ts[i] = ts;
        goto done;
      }
  if (s->n < MAX_SSRCS)
    {
      s->ssrc[s->n] = ssrc;
      s->ts[s->n++] = ts;
    }
done:
  g_mutex_unlock (&s->lock);
  if (fresh)
    log_line ("%s %s %u %u %" G_GINT64_FORMAT "\n", kind, s->peer_id, ssrc, ts,
              g_get_real_time ());
}

/* ---- the composite ------------------------------------------------------ */

typedef struct {
  GMutex lock;
  gboolean present;
  GstClockTime pending[MAX_PENDING];   /* PTS of frames not yet encoded */
  guint n_pending;
} MixState;

static MixState mix_state;

/* Note @present for the frame or buffer at @pts: TRUE if that changes
 * @s, whose change then waits for its encoder (on_encoded). */
static gboolean
mix_changed (MixState *s, gboolean present, GstClockTime pts)
{
  gboolean changed;

  g_mutex_lock (&s->lock);
  changed = present != s->present;
  if (changed)
    {
      s->present = present;
      if (s->n_pending < MAX_PENDING)
        s->pending[s->n_pending++] = pts;
    }
  g_mutex_unlock (&s->lock);
  return changed;
}

static gboolean
shows_colour (GstBuffer *buf, const GstVideoInfo *vi)
{
  GstVideoFrame frame;
  gboolean found = FALSE;

  if (!gst_video_frame_map (&frame, vi, buf, GST_MAP_READ))
    return FALSE;
  for (guint gy = 0; gy < GRID_Y && !found; gy++)
    for (guint gx = 0; gx < GRID_X && !found; gx++)
      {
        int x = (int) ((gx + 0.5) * GST_VIDEO_INFO_WIDTH (vi) / GRID_X) & ~1;
        int y = (int) ((gy + 0.5) * GST_VIDEO_INFO_HEIGHT (vi) / GRID_Y) & ~1;
        const guint8 *yp = GST_VIDEO_FRAME_COMP_DATA (&frame, 0);
        const guint8 *up = GST_VIDEO_FRAME_COMP_DATA (&frame, 1);
        const guint8 *vp = GST_VIDEO_FRAME_COMP_DATA (&frame, 2);
        int yv = yp[y * GST_VIDEO_FRAME_COMP_STRIDE (&frame, 0) + x];
        int uv = up[(y / 2) * GST_VIDEO_FRAME_COMP_STRIDE (&frame, 1) + x / 2];
        int vv = vp[(y / 2) * GST_VIDEO_FRAME_COMP_STRIDE (&frame, 2) + x / 2];

        found = ABS (yv - colour_yuv[0]) <= TOLERANCE && ABS (uv - colour_yuv[1]) <= TOLERANCE
                && ABS (vv - colour_yuv[2]) <= TOLERANCE;
      }
  gst_video_frame_unmap (&frame);
  return found;
}

static GstPadProbeReturn
on_composite (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  GstVideoInfo vi;
  gboolean present;

  (void) data;
  if (caps == NULL || !gst_video_info_from_caps (&vi, caps)
      || GST_VIDEO_INFO_FORMAT (&vi) != GST_VIDEO_FORMAT_I420)
    return GST_PAD_PROBE_OK;
  present = shows_colour (buf, &vi);
  if (mix_changed (&mix_state, present, GST_BUFFER_PTS (buf)))
    log_line ("mix %" G_GUINT64_FORMAT " %d %" G_GINT64_FORMAT "\n", GST_BUFFER_PTS (buf),
              present, g_get_real_time ());
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
on_encoded (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstClockTime pts = GST_BUFFER_PTS (GST_PAD_PROBE_INFO_BUFFER (info));
  gboolean hit = FALSE;

  (void) pad;
  (void) data;
  g_mutex_lock (&mix_state.lock);
  for (guint i = 0; i < mix_state.n_pending; i++)
    if (mix_state.pending[i] <= pts)
      {
        hit = hit || mix_state.pending[i] == pts;
        /* Encoded or dropped before the encoder: done with it. */
        memmove (mix_state.pending + i, mix_state.pending + i + 1,
                 (mix_state.n_pending - i - 1) * sizeof mix_state.pending[0]);
        mix_state.n_pending--;
        i--;
      }
  g_mutex_unlock (&mix_state.lock);
  if (hit)
    log_line ("enc %" G_GUINT64_FORMAT " %" G_GINT64_FORMAT "\n", pts, g_get_real_time ());
  return GST_PAD_PROBE_OK;
}

void
mm_probe_composite (GstElement *compositor, GstElement *encoder)
{
  GstPad *pad;

  if (!probe_enabled () || !have_colour)
    return;
  pad = gst_element_get_static_pad (compositor, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_composite, NULL, NULL);
  gst_object_unref (pad);
  pad = gst_element_get_static_pad (encoder, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_encoded, NULL, NULL);
  gst_object_unref (pad);
}

/* ---- the audio mix ------------------------------------------------------ */

/* Loud above -30 dBFS, quiet again below -40, as mixmeet-bot's --watch-tone. */
#define LOUD_RMS 0.0316
#define QUIET_RMS 0.01

static MixState amix_state;

/* RMS of an S16LE buffer (audio-in and audio-mix.pipeline's caps), or -1. */
static double
rms_s16 (GstBuffer *buf)
{
  GstMapInfo map;
  double sum = 0;
  gsize n;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    return -1;
  for (n = 0; n < map.size / 2; n++)
    {
      double x = (gint16) GST_READ_UINT16_LE (map.data + 2 * n) / 32768.0;

      sum += x * x;
    }
  gst_buffer_unmap (buf, &map);
  return n > 0 ? sqrt (sum / n) : -1;
}

/* Loud or quiet with hysteresis, from the previous state. */
static gboolean
loud_now (double rms, gboolean was)
{
  return was ? rms >= QUIET_RMS : rms >= LOUD_RMS;
}

/* The running time of @pad's element now, for comparing with PTS. */
static GstClockTime
running_now (GstPad *pad)
{
  GstElement *el = GST_ELEMENT (gst_pad_get_parent (pad));
  GstClockTime t = GST_CLOCK_TIME_NONE;

  if (el != NULL)
    {
      GstClock *clock = gst_element_get_clock (el);

      if (clock != NULL)
        {
          t = gst_clock_get_time (clock) - gst_element_get_base_time (el);
          gst_object_unref (clock);
        }
      gst_object_unref (el);
    }
  return t;
}

static GstPadProbeReturn
on_audio_mix (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  double rms = rms_s16 (buf);
  gboolean loud;

  (void) data;
  if (rms < 0)
    return GST_PAD_PROBE_OK;
  g_mutex_lock (&amix_state.lock);
  loud = loud_now (rms, amix_state.present);
  g_mutex_unlock (&amix_state.lock);
  if (mix_changed (&amix_state, loud, GST_BUFFER_PTS (buf)))
    log_line ("amix %" G_GUINT64_FORMAT " %d %" G_GINT64_FORMAT " %" G_GUINT64_FORMAT "\n",
              GST_BUFFER_PTS (buf), loud, g_get_real_time (), running_now (pad));
  return GST_PAD_PROBE_OK;
}

typedef struct {
  char *peer_id;
  gboolean loud;               /* streaming thread only */
} VoiceState;

static void
voice_state_free (gpointer data)
{
  VoiceState *v = data;

  g_free (v->peer_id);
  g_free (v);
}

static GstPadProbeReturn
on_voice (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  VoiceState *v = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  double rms = rms_s16 (buf);

  if (rms < 0 || loud_now (rms, v->loud) == v->loud)
    return GST_PAD_PROBE_OK;
  v->loud = !v->loud;
  log_line ("adec %s %" G_GUINT64_FORMAT " %d %" G_GINT64_FORMAT " %" G_GUINT64_FORMAT "\n",
            v->peer_id, GST_BUFFER_PTS (buf), v->loud, g_get_real_time (), running_now (pad));
  return GST_PAD_PROBE_OK;
}

void
mm_probe_voice (GstElement *decoded, const char *peer_id)
{
  GstPad *pad;
  VoiceState *v;

  if (!probe_enabled ())
    return;
  pad = gst_element_get_static_pad (decoded, "src");
  v = g_new0 (VoiceState, 1);
  v->peer_id = g_strdup (peer_id);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_voice, v, voice_state_free);
  gst_object_unref (pad);
}

/* The first encoded frame that reaches a change's PTS carries it. */
static GstPadProbeReturn
on_audio_encoded (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstClockTime end = GST_BUFFER_PTS (buf) + (GST_BUFFER_DURATION_IS_VALID (buf)
                                             ? GST_BUFFER_DURATION (buf) : 0);
  GstClockTime hit = GST_CLOCK_TIME_NONE;

  (void) pad;
  (void) data;
  g_mutex_lock (&amix_state.lock);
  if (amix_state.n_pending > 0 && amix_state.pending[0] < end)
    {
      hit = amix_state.pending[0];
      memmove (amix_state.pending, amix_state.pending + 1,
               (amix_state.n_pending - 1) * sizeof amix_state.pending[0]);
      amix_state.n_pending--;
    }
  g_mutex_unlock (&amix_state.lock);
  if (hit != GST_CLOCK_TIME_NONE)
    log_line ("aenc %" G_GUINT64_FORMAT " %" G_GINT64_FORMAT "\n", hit, g_get_real_time ());
  return GST_PAD_PROBE_OK;
}

void
mm_probe_audio_mix (GstElement *mixer, GstElement *encoder)
{
  GstPad *pad;

  if (!probe_enabled ())
    return;
  pad = gst_element_get_static_pad (mixer, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_audio_mix, NULL, NULL);
  gst_object_unref (pad);
  pad = gst_element_get_static_pad (encoder, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_audio_encoded, NULL, NULL);
  gst_object_unref (pad);
}
