/* history.c — a ring of the last RTP packets sent, indexed by sequence
 * number modulo a power of two. */
#include "config.h"

#include "transport/history.h"

#include <string.h>

typedef struct {
  guint16 seq;
  guint16 len;   /* 0: empty */
} Slot;

struct _MmRtpHistory {
  guint mask;       /* capacity - 1 */
  Slot *slots;
  guint8 *data;     /* capacity × MM_HISTORY_MAX_PACKET, allocated once */
};

/* More slots than sequence numbers would never be used. */
#define MAX_CAPACITY 65536

MmRtpHistory *
mm_rtp_history_new (guint capacity)
{
  MmRtpHistory *h = g_new0 (MmRtpHistory, 1);
  guint n = 1;

  capacity = CLAMP (capacity, 1, MAX_CAPACITY);
  while (n < capacity)
    n <<= 1;
  h->mask = n - 1;
  h->slots = g_new0 (Slot, n);
  h->data = g_malloc ((gsize) n * MM_HISTORY_MAX_PACKET);
  return h;
}

void
mm_rtp_history_free (MmRtpHistory *h)
{
  if (h == NULL)
    return;
  g_free (h->slots);
  g_free (h->data);
  g_free (h);
}

void
mm_rtp_history_put (MmRtpHistory *h, const guint8 *buf, gsize len)
{
  guint16 seq;
  Slot *slot;

  if (len < 12)
    return;
  seq = (guint16) ((buf[2] << 8) | buf[3]);
  slot = &h->slots[seq & h->mask];
  if (len > MM_HISTORY_MAX_PACKET)
    {
      /* Not kept, and what the slot held is older than the ring now
       * reaches: a NACK for this number must not get that back. */
      slot->len = 0;
      return;
    }
  memcpy (h->data + (gsize) (seq & h->mask) * MM_HISTORY_MAX_PACKET, buf, len);
  slot->seq = seq;
  slot->len = (guint16) len;
}

const guint8 *
mm_rtp_history_get (MmRtpHistory *h, guint16 seq, gsize *len)
{
  const Slot *slot = &h->slots[seq & h->mask];

  if (slot->len == 0 || slot->seq != seq)
    return NULL;
  *len = slot->len;
  return h->data + (gsize) (seq & h->mask) * MM_HISTORY_MAX_PACKET;
}
