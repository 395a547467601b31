/* lean-speak.c — mixmeet-bot --viewers --audio-only: lean participants
 * that send audio, as a browser with its microphone on does.
 *
 * Every 20 ms each of them sends one Opus packet, SRTP-protected, with
 * its level in the ssrc-audio-level extension (RFC 6464).  A speaker
 * (the first --speakers of the process) sends a tone; the others send
 * Opus silence and claim it (level 127, no voice activity): a microphone
 * that is on in a quiet room.  The tone is encoded once per process, at
 * start, by a GStreamer pipeline (audiotestsrc → opusenc), and its frames
 * are sent round and round: the server decodes what it sends, and a
 * claimed level the audio does not bear out would be distrusted.
 *
 * Packets go out on the lean thread's 2 ms read timer: each participant
 * keeps its own schedule from a random phase, so a crowd does not send in
 * one burst, and catches up after a late wake-up so that its rate is the
 * RTP clock's.
 */
#include "config.h"

#include "bot/lean.h"
#include "transport/bytes.h"

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <math.h>
#include <string.h>

#define FRAME_US (20 * 1000)
#define FRAME_TS 960            /* 20 ms at 48 kHz */
#define TONE_FRAMES 100         /* 2 s, sent round and round */
#define MAX_LATE_FRAMES 5       /* after a longer stall, skip ahead */

/* An Opus packet of one 20 ms CELT frame of silence (TOC 0xf8: CELT
 * fullband 20 ms, mono, one frame), as browsers send for silence. */
static const guint8 silence[] = { 0xf8, 0xff, 0xfe };

gboolean
mm_lean_tone_encode (MmLean *lean, double volume, guint freq, GError **error)
{
  g_autofree char *desc = g_strdup_printf (
    "audiotestsrc wave=sine freq=%u volume=%.3f samplesperbuffer=960 num-buffers=%d "
    "! audio/x-raw,rate=48000,channels=1 ! opusenc frame-size=20 "
    "! appsink name=out sync=false", freq, volume, TONE_FRAMES + 2);
  g_autoptr (GstElement) pipeline = gst_parse_launch (desc, error);
  g_autoptr (GstElement) sink = NULL;
  GstSample *sample;

  if (pipeline == NULL)
    return FALSE;
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "out");
  lean->tone = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  while (lean->tone->len < TONE_FRAMES
         && (sample = gst_app_sink_pull_sample (GST_APP_SINK (sink))) != NULL)
    {
      GstBuffer *buf = gst_sample_get_buffer (sample);
      GstMapInfo map;

      if (buf != NULL && gst_buffer_map (buf, &map, GST_MAP_READ))
        {
          if (map.size > 0 && map.size <= MM_LEAN_MAX_OPUS)
            g_ptr_array_add (lean->tone, g_bytes_new (map.data, map.size));
          gst_buffer_unmap (buf, &map);
        }
      gst_sample_unref (sample);
    }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  if (lean->tone->len == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           "the tone encoded to nothing (is gstreamer1.0-plugins-base's opusenc "
                           "there?)");
      return FALSE;
    }
  /* A sine of amplitude A has an RMS of A/sqrt 2: its level in -dBov. */
  lean->tone_level = volume <= 0 ? 127
                                 : (guint8) CLAMP (lround (-20 * log10 (volume / G_SQRT2)), 0, 127);
  return TRUE;
}

void
mm_lean_speak_start (MmLeanViewer *v, gint64 now_us)
{
  v->audio_seq = (guint16) g_random_int ();
  v->audio_ts = g_random_int ();
  v->tone_at = g_random_int_range (0, (gint32) MAX (v->lean->tone->len, 1));
  v->next_audio_us = now_us + g_random_int_range (0, FRAME_US);
}

/* One packet: the RTP header, the level extension, @payload; protected
 * into @buf (room for MM_LEAN_MAX_OPUS and the SRTP trailer). */
static gsize
write_packet (MmLeanViewer *v, guint8 *buf, gsize size, const guint8 *payload, gsize len,
              guint8 level)
{
  gsize n = 0;

  buf[0] = 0x90;                                    /* V=2, X=1 */
  buf[1] = v->audio_pt & 0x7f;
  mm_wr16 (buf + 2, v->audio_seq);
  mm_wr32 (buf + 4, v->audio_ts);
  mm_wr32 (buf + 8, v->audio_ssrc);
  n = 12;
  if (v->level_ext != 0)
    {
      buf[n++] = 0xbe;                              /* one-byte header extension */
      buf[n++] = 0xde;
      buf[n++] = 0;
      buf[n++] = 1;                                 /* one 32-bit word */
      buf[n++] = (guint8) (v->level_ext << 4);      /* id, length 1 - 1 */
      buf[n++] = level;
      buf[n++] = 0;                                 /* padding */
      buf[n++] = 0;
    }
  else
    buf[0] = 0x80;
  memcpy (buf + n, payload, len);
  n += len;
  if (mm_srtp_protect_rtp (v->srtp_out, buf, &n, size) != MM_SRTP_OK)
    return 0;
  return n;
}

void
mm_lean_speak (MmLeanViewer *v, gint64 now_us)
{
  guint8 buf[12 + 8 + MM_LEAN_MAX_OPUS + MM_SRTP_MAX_TRAILER];
  const struct sockaddr_storage *to;
  socklen_t to_len;

  if (v->audio_ssrc == 0 || v->state != MM_LEAN_CONNECTED || v->srtp_out == NULL
      || v->selected < 0 || now_us < v->next_audio_us)
    return;
  if (now_us - v->next_audio_us > MAX_LATE_FRAMES * FRAME_US)
    {
      /* A long stall (the machine was busy): what was not sent is lost,
       * as a browser's would be; the timestamps keep to the clock. */
      gint64 skip = (now_us - v->next_audio_us) / FRAME_US;

      v->audio_ts += (guint32) (skip * FRAME_TS);
      v->next_audio_us += skip * FRAME_US;
      v->audio_skipped += (guint64) skip;
    }
  to = &v->cands[v->selected].addr;
  to_len = v->cands[v->selected].addr_len;
  while (v->next_audio_us <= now_us)
    {
      const guint8 *payload = silence;
      gsize len = sizeof silence, n;
      guint8 level = 127;

      if (v->speaker && v->lean->tone->len > 0)
        {
          GBytes *frame = g_ptr_array_index (v->lean->tone, v->tone_at);

          payload = g_bytes_get_data (frame, &len);
          level = 0x80 | v->lean->tone_level;
          v->tone_at = (v->tone_at + 1) % v->lean->tone->len;
        }
      n = write_packet (v, buf, sizeof buf, payload, len, level);
      if (n > 0)
        {
          mm_lean_viewer_send_to (v, buf, n, to, to_len);
          v->audio_sent++;
        }
      v->audio_seq++;
      v->audio_ts += FRAME_TS;
      v->next_audio_us += FRAME_US;
    }
}
