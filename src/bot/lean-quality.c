/* lean-quality.c — which quality tier a lean viewer gets, and how smooth.
 *
 * The server sends each receiver one of its shared encodes of the
 * composite (1280x720, 640x360, 320x180, or audio only), switching at a
 * keyframe.  The viewer tells them apart by the size in each keyframe's
 * header (read from the first packet of the frame, once decrypted), and
 * tells audio only by no video packet for 2 s.  The latest change is when
 * the tier "settled"; the figures after it (frame rate, the longest wait
 * between two whole frames, freezes over 300 ms, the longest wait between
 * two audio packets, the video bit rate) say what watching that tier was
 * like.  Every time is the packet's delivery time (after --link).
 */
#include "config.h"

#include "bot/lean.h"

#include <string.h>

const char *
mm_lean_tier_name (MmLeanTier tier)
{
  static const char *const names[MM_LEAN_N_TIERS] = {
    "none", "high", "medium", "low", "audio-only"
  };

  return (guint) tier < MM_LEAN_N_TIERS ? names[tier] : "none";
}

MmLeanTier
mm_lean_tier_of_height (guint height)
{
  if (height >= 540)
    return MM_LEAN_TIER_HIGH;
  if (height >= 270)
    return MM_LEAN_TIER_MEDIUM;
  return MM_LEAN_TIER_LOW;
}

gboolean
mm_lean_vp8_keyframe_size (const guint8 *payload, gsize len, guint *width, guint *height)
{
  gsize off = 1;
  const guint8 *f;

  /* The payload descriptor (RFC 7741 4.2): X R N S R PID. */
  if (len < 1 || (payload[0] & 0x10) == 0 || (payload[0] & 0x07) != 0)
    return FALSE;   /* not the start of partition 0: not a frame's first packet */
  if (payload[0] & 0x80)
    {
      guint8 x;

      if (len < 2)
        return FALSE;
      x = payload[1];
      off = 2;
      if (x & 0x80)   /* I: a picture ID of 7 bits, or 15 with M */
        {
          if (len < off + 1)
            return FALSE;
          off += (payload[off] & 0x80) ? 2 : 1;
        }
      if (x & 0x40)   /* L: TL0PICIDX */
        off++;
      if (x & 0x30)   /* T or K: TID, Y, KEYIDX */
        off++;
    }
  /* The frame (RFC 6386 9.1): a 3-byte tag whose lowest bit is 0 for a
   * keyframe, the start code, then 14 bits of width and of height
   * (little-endian, two bits of scaling above each). */
  if (len < off + 10)
    return FALSE;
  f = payload + off;
  if ((f[0] & 0x01) != 0 || f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a)
    return FALSE;
  *width = (f[6] | f[7] << 8) & 0x3fff;
  *height = (f[8] | f[9] << 8) & 0x3fff;
  return TRUE;
}

void
mm_lean_quality_init (MmLeanQuality *q)
{
  memset (q, 0, sizeof *q);
}

/* The tier is now @tier (since @at_us; seen at @now_us): the figures
 * "after" start again. */
static void
change (MmLeanQuality *q, MmLeanTier tier, gint64 at_us, gint64 now_us)
{
  if (q->tier != MM_LEAN_TIER_NONE)
    q->changes++;
  q->tier = tier;
  q->changed_us = at_us;
  q->since_us = now_us;
  q->last_frame_us = now_us;
  q->frames = 0;
  q->after_bytes = 0;
  q->max_frame_gap_us = 0;
  q->max_audio_gap_us = 0;
  q->max_audio_gap_at_us = 0;
  q->max_frame_gap_at_us = 0;
  q->freezes = 0;
  q->keyframes = 0;
  q->max_keyframe_bytes = 0;
}

static gboolean
video_tier (MmLeanTier tier)
{
  return tier == MM_LEAN_TIER_HIGH || tier == MM_LEAN_TIER_MEDIUM || tier == MM_LEAN_TIER_LOW;
}

void
mm_lean_quality_video (MmLeanQuality *q, const guint8 *payload, gsize len, gsize bytes,
                       gint64 now_us)
{
  guint w, h;

  if (q->media_us == 0)
    q->media_us = now_us;
  q->last_video_us = now_us;
  if (payload != NULL && mm_lean_vp8_keyframe_size (payload, len, &w, &h))
    {
      MmLeanTier tier = mm_lean_tier_of_height (h);

      q->width = w;
      q->height = h;
      if (tier != q->tier)
        change (q, tier, now_us, now_us);
      q->keyframes++;
      q->frame_key = TRUE;
      q->frame_bytes = 0;
    }
  q->frame_bytes += bytes;
  q->video_bytes += bytes;
  q->after_bytes += bytes;
}

void
mm_lean_quality_frame (MmLeanQuality *q, gint64 now_us)
{
  gint64 gap;

  if (!video_tier (q->tier))
    return;
  gap = now_us - q->last_frame_us;
  if (gap > q->max_frame_gap_us)
    {
      q->max_frame_gap_us = gap;
      q->max_frame_gap_at_us = now_us;
    }
  if (q->frame_key)
    q->max_keyframe_bytes = MAX (q->max_keyframe_bytes, q->frame_bytes);
  q->frame_key = FALSE;
  q->frame_bytes = 0;
  if (gap > MM_LEAN_FREEZE_US)
    q->freezes++;
  q->last_frame_us = now_us;
  q->frames++;
}

void
mm_lean_quality_audio (MmLeanQuality *q, gint64 now_us)
{
  if (q->media_us == 0)
    q->media_us = now_us;
  if (q->tier != MM_LEAN_TIER_NONE && q->last_audio_us != 0
      && now_us - MAX (q->last_audio_us, q->since_us) > q->max_audio_gap_us)
    {
      q->max_audio_gap_us = now_us - MAX (q->last_audio_us, q->since_us);
      q->max_audio_gap_at_us = now_us;
    }
  q->last_audio_us = now_us;
}

void
mm_lean_quality_tick (MmLeanQuality *q, gint64 now_us)
{
  gint64 video = MAX (q->last_video_us, q->media_us);

  if (q->media_us != 0 && q->tier != MM_LEAN_TIER_AUDIO_ONLY
      && now_us - video >= MM_LEAN_AUDIO_ONLY_US)
    change (q, MM_LEAN_TIER_AUDIO_ONLY, video, now_us);
}

static void
append_number (GString *out, const char *name, const char *format, double v, gboolean valid)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_string_append_printf (out, ",\"%s\":%s", name,
                          valid ? g_ascii_formatd (buf, sizeof buf, format, v) : "null");
}

void
mm_lean_quality_append (const MmLeanQuality *q, GString *out, gint64 now_us)
{
  gboolean named = q->tier != MM_LEAN_TIER_NONE;
  gboolean video = video_tier (q->tier);
  double after_s = named ? (now_us - q->since_us) / 1e6 : 0;
  gint64 frame_gap = q->max_frame_gap_us, audio_gap = q->max_audio_gap_us;
  guint freezes = q->freezes;

  /* A wait still going on counts. */
  if (video && now_us - q->last_frame_us > frame_gap)
    frame_gap = now_us - q->last_frame_us;
  if (video && now_us - q->last_frame_us > MM_LEAN_FREEZE_US)
    freezes++;
  if (named && q->last_audio_us != 0)
    audio_gap = MAX (audio_gap, now_us - MAX (q->last_audio_us, q->since_us));
  g_string_append_printf (out, ",\"tier\":\"%s\",\"width\":%u,\"height\":%u,\"tier_changes\":%u",
                          mm_lean_tier_name (q->tier), q->width, q->height, q->changes);
  append_number (out, "settled_s", "%.3f", (q->changed_us - q->media_us) / 1e6, named);
  append_number (out, "after_s", "%.3f", after_s, named);
  append_number (out, "fps", "%.1f", after_s > 0 ? q->frames / after_s : 0, named);
  append_number (out, "max_frame_gap_ms", "%.1f", frame_gap / 1e3, video);
  append_number (out, "max_frame_gap_at_s", "%.3f", (q->max_frame_gap_at_us - q->media_us) / 1e6,
                 video && q->max_frame_gap_at_us != 0);
  if (video)
    g_string_append_printf (out, ",\"keyframes\":%u,\"max_keyframe_bytes\":%" G_GUINT64_FORMAT,
                            q->keyframes, q->max_keyframe_bytes);
  if (video)
    g_string_append_printf (out, ",\"freezes\":%u", freezes);
  else
    g_string_append (out, ",\"freezes\":null");
  append_number (out, "max_audio_gap_ms", "%.1f", audio_gap / 1e3,
                 named && q->last_audio_us != 0);
  /* When it ended, from the first packet: a probe, a keyframe, ... */
  append_number (out, "max_audio_gap_at_s", "%.3f", (q->max_audio_gap_at_us - q->media_us) / 1e6,
                 named && q->max_audio_gap_at_us != 0);
  append_number (out, "video_kbps", "%.1f", after_s > 0 ? q->after_bytes * 8 / after_s / 1e3 : 0,
                 named);
  g_string_append_printf (out, ",\"video_bytes\":%" G_GUINT64_FORMAT, q->video_bytes);
}
