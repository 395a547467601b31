/* lean-rtp.c — what a lean viewer counts of one received RTP stream.
 *
 * Sequence numbers are extended to 32 bits (starting at 65536 so that a
 * packet from before the first one still fits).  A window of the last
 * MM_LEAN_WINDOW numbers says which arrived: a number that leaves the
 * window without having arrived is lost for good — after any NACK had the
 * time to bring it back — so "lost" is loss after recovery, settled about
 * a window late.
 *
 * Frames (video, VP8 as the server sends it): a frame ends at a packet
 * with the marker bit, and starts after the previous frame's marker.  It
 * is whole when every number from the previous marker (excluded) to its
 * own arrived; a frame whose start is not known (the first one, or one
 * after a lost marker) does not count.  The payload is not looked at, so
 * this works on packets that were not decrypted (--auth-sample).
 */
#include "config.h"

#include "bot/lean.h"

#include <string.h>

gboolean
mm_lean_rtp_read (const guint8 *buf, gsize len, MmLeanRtp *h)
{
  if (len < 12 || (buf[0] >> 6) != 2)
    return FALSE;
  h->marker = (buf[1] & 0x80) != 0;
  h->pt = buf[1] & 0x7f;
  h->seq = (guint16) ((buf[2] << 8) | buf[3]);
  h->ts = ((guint32) buf[4] << 24) | ((guint32) buf[5] << 16) | ((guint32) buf[6] << 8) | buf[7];
  h->ssrc = ((guint32) buf[8] << 24) | ((guint32) buf[9] << 16) | ((guint32) buf[10] << 8)
            | buf[11];
  return TRUE;
}

void
mm_lean_stream_init (MmLeanStream *s, gboolean video)
{
  memset (s, 0, sizeof *s);
  s->video = video;
}

#define SLOT(ext) ((ext) & (MM_LEAN_WINDOW - 1))

guint32
mm_lean_seq_extend (guint32 highest, guint16 seq)
{
  gint32 delta = (gint16) (guint16) (seq - (guint16) highest);

  if (delta < 0 && (guint32) -delta > highest)
    return 0;
  return highest + (guint32) delta;
}

/* A new SSRC (the server restarted its stream): counting starts again,
 * the totals stay. */
static void
restart (MmLeanStream *s, const MmLeanRtp *h)
{
  s->started = TRUE;
  s->ssrc = h->ssrc;
  s->base = s->max = (guint32) h->seq + 65536;
  /* A packet of the old stream may leave a slot that matches a number of
   * the new one: forget them all. */
  memset (s->slot, 0, sizeof s->slot);
  memset (s->dropped_slot, 0, sizeof s->dropped_slot);
  s->n_markers = 0;
  s->n_nacks = 0;
  s->rr_expected_prior = 0;
  s->rr_received_prior = s->received;
}

gboolean
mm_lean_stream_drop (MmLeanStream *s, const MmLeanRtp *h, double percent)
{
  guint32 ext;

  if (percent <= 0 || !s->started || h->ssrc != s->ssrc)
    return FALSE;
  ext = mm_lean_seq_extend (s->max, h->seq);
  if (ext == 0 || ext + MM_LEAN_WINDOW <= s->max)
    return FALSE;
  /* Its retransmission, or a packet we have: never again. */
  if (s->dropped_slot[SLOT (ext)] == ext + 1 || s->slot[SLOT (ext)] == ext + 1)
    return FALSE;
  if (g_random_double_range (0, 100) >= percent)
    return FALSE;
  s->dropped_slot[SLOT (ext)] = ext + 1;
  s->dropped++;
  /* The next packet shows the gap, and it is NACKed as any other. */
  return TRUE;
}

static void
add_nack (MmLeanStream *s, guint32 ext, gint64 now_us)
{
  if (s->n_nacks == MM_LEAN_NACKS)
    return;
  s->nacks[s->n_nacks].ext = ext;
  s->nacks[s->n_nacks].tries = 0;
  s->nacks[s->n_nacks].next_us = now_us;
  s->n_nacks++;
}

/* Every number from @after (excluded) to @end arrived. */
static gboolean
whole (const MmLeanStream *s, guint32 after, guint32 end)
{
  if (end <= after || end - after > MM_LEAN_WINDOW / 2 || end + MM_LEAN_WINDOW <= s->max + 1)
    return FALSE;
  for (guint32 e = after + 1; e <= end; e++)
    if (s->slot[SLOT (e)] != e + 1)
      return FALSE;
  return TRUE;
}

/* Count the frame that ends at marker @i if it is whole now. */
static gboolean
check_frame (MmLeanStream *s, guint i, gint64 now_us)
{
  if (i == 0 || i >= s->n_markers || s->marker_counted[i]
      || !whole (s, s->markers[i - 1], s->markers[i]))
    return FALSE;
  s->marker_counted[i] = TRUE;
  s->frames++;
  if (s->last_frame_us != 0 && now_us - s->last_frame_us > s->max_gap_us)
    s->max_gap_us = now_us - s->last_frame_us;
  s->last_frame_us = now_us;
  return TRUE;
}

/* Insert the marker @ext in order; returns its index. */
static guint
insert_marker (MmLeanStream *s, guint32 ext)
{
  guint i;

  if (s->n_markers == MM_LEAN_MARKERS)
    {
      memmove (s->markers, s->markers + 1, (MM_LEAN_MARKERS - 1) * sizeof s->markers[0]);
      memmove (s->marker_counted, s->marker_counted + 1,
               (MM_LEAN_MARKERS - 1) * sizeof s->marker_counted[0]);
      s->n_markers--;
    }
  i = s->n_markers;
  while (i > 0 && s->markers[i - 1] > ext)
    i--;
  memmove (s->markers + i + 1, s->markers + i, (s->n_markers - i) * sizeof s->markers[0]);
  memmove (s->marker_counted + i + 1, s->marker_counted + i,
           (s->n_markers - i) * sizeof s->marker_counted[0]);
  s->markers[i] = ext;
  s->marker_counted[i] = FALSE;
  s->n_markers++;
  return i;
}

gboolean
mm_lean_stream_packet (MmLeanStream *s, const MmLeanRtp *h, gint64 now_us)
{
  gboolean frame = FALSE;
  guint32 ext;

  if (!s->started || h->ssrc != s->ssrc)
    restart (s, h);
  ext = mm_lean_seq_extend (s->max, h->seq);
  if (ext == 0 || ext + MM_LEAN_WINDOW <= s->max)
    {
      s->late++;
      return FALSE;
    }
  if (ext > s->max)
    {
      guint32 jump = ext - s->max;

      /* Numbers that leave the window: lost unless they arrived. */
      for (guint32 e = s->max + 1; e <= ext && e - s->max <= MM_LEAN_WINDOW; e++)
        {
          guint32 old = e - MM_LEAN_WINDOW;

          if (e >= s->base + MM_LEAN_WINDOW && s->slot[SLOT (e)] != old + 1)
            s->lost++;
          s->slot[SLOT (e)] = 0;
        }
      if (jump > MM_LEAN_WINDOW)
        s->lost += jump - MM_LEAN_WINDOW;
      if (s->video)
        for (guint32 e = s->max + 1; e < ext && e - s->max <= 64; e++)
          add_nack (s, e, now_us);
      s->max = ext;
    }
  if (s->slot[SLOT (ext)] == ext + 1)
    {
      s->duplicates++;
      return FALSE;
    }
  s->slot[SLOT (ext)] = ext + 1;
  s->received++;
  if (!s->video)
    return FALSE;
  if (s->dropped_slot[SLOT (ext)] == ext + 1)
    s->recovered++;
  if (h->marker)
    {
      guint i = insert_marker (s, ext);

      frame |= check_frame (s, i, now_us);
      frame |= check_frame (s, i + 1, now_us);
    }
  else
    {
      for (guint i = 0; i < s->n_markers; i++)
        if (s->markers[i] > ext)
          {
            frame |= check_frame (s, i, now_us);
            break;
          }
    }
  return frame;
}

guint
mm_lean_stream_due_nacks (MmLeanStream *s, gint64 now_us, gint64 retry_us, guint16 *seqs,
                          guint max)
{
  guint n = 0, kept = 0;

  for (guint i = 0; i < s->n_nacks; i++)
    {
      MmLeanNack *k = &s->nacks[i];

      /* Arrived, out of the window, or asked for three times. */
      if (s->slot[SLOT (k->ext)] == k->ext + 1 || k->ext + MM_LEAN_WINDOW <= s->max
          || k->tries >= 3)
        continue;
      if (k->next_us <= now_us && n < max)
        {
          seqs[n++] = (guint16) k->ext;
          k->tries++;
          k->next_us = now_us + retry_us;
          s->nacked++;
        }
      s->nacks[kept++] = *k;
    }
  s->n_nacks = kept;
  return n;
}

guint64
mm_lean_stream_expected (const MmLeanStream *s)
{
  return s->started ? (guint64) (s->max - s->base) + 1 : 0;
}

void
mm_lean_stream_report_block (MmLeanStream *s, guint32 lsr, guint32 dlsr, MmRtcpReportBlock *b)
{
  guint32 expected = s->max - s->base + 1;
  guint32 exp_interval = expected - s->rr_expected_prior;
  guint64 rec_interval = s->received - s->rr_received_prior;
  gint64 lost_interval = (gint64) exp_interval - (gint64) rec_interval;

  memset (b, 0, sizeof *b);
  b->ssrc = s->ssrc;
  b->fraction_lost = exp_interval == 0 || lost_interval <= 0
                       ? 0 : (guint8) MIN (255, (lost_interval << 8) / exp_interval);
  b->cumulative_lost = (gint32) MIN (s->lost, 0x7fffff);
  b->highest_seq = s->max - 65536;
  b->lsr = lsr;
  b->dlsr = dlsr;
  s->rr_expected_prior = expected;
  s->rr_received_prior = s->received;
}
