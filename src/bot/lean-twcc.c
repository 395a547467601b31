/* lean-twcc.c — transport-wide congestion control feedback from a lean
 * viewer (draft-holmer-rmcat-transport-wide-cc-extensions-01), as a
 * browser sends it: every packet that carries the transport sequence
 * number is recorded with its arrival time, and every ~100 ms one RTCP
 * feedback describes the numbers from the first not yet described to the
 * highest arrived, those missing as not received.
 *
 * Numbers are extended to 32 bits as lean-rtp.c does (from 65536, so that
 * one from before the first still fits).  A packet that arrives after a
 * feedback described it as lost stays lost (the server has acted on it),
 * as in libwebrtc's receive-side proxy.
 */
#include "config.h"

#include "bot/lean.h"

#include <string.h>

/* 64 ms, the reference time's unit, in the deltas' units of 250 µs. */
#define UNITS_PER_REFERENCE 256

void
mm_lean_twcc_init (MmLeanTwcc *t, guint8 ext_id)
{
  memset (t, 0, sizeof *t);
  t->ext_id = ext_id;
}

void
mm_lean_twcc_record (MmLeanTwcc *t, guint16 seq, gint64 at_us)
{
  guint32 ext;

  if (!t->started)
    {
      t->started = TRUE;
      t->last = t->base = (guint32) seq + 65536;
    }
  ext = mm_lean_seq_extend (t->last, seq);
  if (ext > t->last)
    t->last = ext;
  if (ext < t->base)
    {
      t->late++;
      return;
    }
  if (ext - t->base >= MM_LEAN_TWCC_SPAN)
    {
      /* A jump further than one feedback holds: start again from it. */
      t->overflows++;
      memset (t->arrival_us, 0, t->n * sizeof t->arrival_us[0]);
      t->base = ext;
      t->n = 0;
    }
  if (ext - t->base >= t->n)
    {
      /* Slots between the previous highest and this one: not arrived. */
      memset (t->arrival_us + t->n, 0, (ext - t->base + 1 - t->n) * sizeof t->arrival_us[0]);
      t->n = ext - t->base + 1;
    }
  if (t->arrival_us[ext - t->base] == 0)
    {
      t->arrival_us[ext - t->base] = MAX (at_us, 1);
      t->recorded++;
    }
}

gsize
mm_lean_twcc_write (MmLeanTwcc *t, guint8 *out, gsize size, guint32 sender_ssrc,
                    guint32 media_ssrc)
{
  guint8 received[MM_LEAN_TWCC_SPAN];
  gint32 delta_us[MM_LEAN_TWCC_SPAN];
  gint64 reference = -1, prev = 0;
  gsize len;

  if (t->n == 0)
    return 0;
  for (guint i = 0; i < t->n; i++)
    {
      gint64 at = t->arrival_us[i];

      received[i] = at != 0;
      delta_us[i] = 0;
      if (at == 0)
        continue;
      if (reference < 0)
        {
          reference = at / (64 * 1000);
          prev = reference * UNITS_PER_REFERENCE;
        }
      /* Whole units of the clock, so that the deltas add up to it. */
      delta_us[i] = (gint32) CLAMP ((at / 250 - prev) * 250, G_MININT32 / 2, G_MAXINT32 / 2);
      prev = at / 250;
    }
  len = mm_rtcp_write_twcc (out, size, sender_ssrc, media_ssrc, (guint16) t->base,
                            (guint16) t->n, (gint32) (reference & 0xffffff), t->fb_count,
                            received, delta_us);
  if (len == 0)
    return 0;
  t->base += t->n;
  memset (t->arrival_us, 0, t->n * sizeof t->arrival_us[0]);
  t->n = 0;
  t->fb_count++;
  t->feedbacks++;
  return len;
}
