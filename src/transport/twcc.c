/* twcc.c — transport-wide congestion control feedback for what we
 * receive; see twcc.h. */
#include "config.h"

#include "transport/twcc.h"
#include "transport/rtcp.h"

#include <string.h>

/* The reference time's unit (64 ms) in the deltas' units (250 µs). */
#define UNITS_PER_REFERENCE 256
#define UNIT_US 250

void
mm_twcc_recorder_init (MmTwccRecorder *r)
{
  memset (r, 0, sizeof *r);
}

void
mm_twcc_recorder_note (MmTwccRecorder *r, guint16 seq, gint64 at_us)
{
  guint16 off;

  if (!r->started)
    {
      r->started = TRUE;
      r->base = seq;
      r->n = 0;
    }
  off = (guint16) (seq - r->base);
  if (off >= 0x8000)
    {
      r->late++;   /* before the first undescribed number: described already */
      return;
    }
  if (off >= MM_TWCC_SPAN)
    {
      /* Further than one feedback reaches: start again from this one. */
      r->skipped += off;
      r->base = seq;
      r->n = 0;
      off = 0;
    }
  if (off >= r->n)
    {
      memset (r->arrival_us + r->n, 0, (off + 1 - r->n) * sizeof r->arrival_us[0]);
      r->n = off + 1u;
    }
  if (r->arrival_us[off] == 0)
    r->arrival_us[off] = MAX (at_us, 1);
}

gboolean
mm_twcc_recorder_pending (const MmTwccRecorder *r)
{
  return r->n > 0;
}

gsize
mm_twcc_recorder_write (MmTwccRecorder *r, guint8 *out, gsize size, guint32 sender_ssrc,
                        guint32 media_ssrc)
{
  guint8 received[MM_TWCC_SPAN];
  gint32 delta_us[MM_TWCC_SPAN];
  gint64 reference = -1, prev = 0;
  gsize len;

  if (r->n == 0)
    return 0;
  for (guint i = 0; i < r->n; i++)
    {
      gint64 units;

      received[i] = r->arrival_us[i] != 0;
      delta_us[i] = 0;
      if (!received[i])
        continue;
      units = r->arrival_us[i] / UNIT_US;
      if (reference < 0)
        {
          reference = r->arrival_us[i] / (UNITS_PER_REFERENCE * UNIT_US);
          prev = reference * UNITS_PER_REFERENCE;
        }
      delta_us[i] = (gint32) CLAMP ((units - prev) * UNIT_US, G_MININT32 / 2, G_MAXINT32 / 2);
      prev = units;
    }
  len = mm_rtcp_write_twcc (out, size, sender_ssrc, media_ssrc, r->base, (guint16) r->n,
                            (gint32) (reference & 0xffffff), r->fb_count, received, delta_us);
  if (len == 0)
    return 0;
  r->base += (guint16) r->n;
  r->n = 0;
  r->fb_count++;
  return len;
}
