/* lean-link.c — mixmeet-bot --link: a simulated slow link in front of a
 * lean viewer, as a bottleneck router would be.
 *
 * What arrives is lost at random (LOSS_PERCENT), or dropped when the
 * queue holds QUEUE_MS worth of bytes at the link's rate already (drop
 * tail), or queued.  A token bucket of one MTU at the rate lets the queue
 * out: a burst of packets from the server leaves spread at the link's
 * rate, as it would from a real bottleneck.  Because the queue is FIFO
 * and the bucket is deterministic, each packet's departure is known when
 * it arrives: it is computed then, and the packet is delivered (to the
 * viewer's SRTP, counters and TWCC record) with that time, by a timer on
 * the main context or by the next arrival, whichever comes first.
 */
#include "config.h"

#include "bot/lean.h"

#include <string.h>

MmLeanLink *
mm_lean_link_new (guint kbps, guint queue_ms, double loss_percent, guint32 seed)
{
  MmLeanLink *l;

  g_return_val_if_fail (kbps > 0, NULL);
  l = g_new0 (MmLeanLink, 1);
  l->bytes_per_us = kbps / 8000.0;
  l->limit = MAX ((gsize) kbps * queue_ms / 8, MM_LEAN_LINK_BUCKET);
  l->loss_percent = loss_percent;
  l->rand = g_rand_new_with_seed (seed);
  g_queue_init (&l->queue);
  return l;
}

void
mm_lean_link_free (MmLeanLink *l)
{
  if (l == NULL)
    return;
  if (l->timer != NULL)
    {
      g_source_destroy (l->timer);
      g_source_unref (l->timer);
    }
  g_queue_clear_full (&l->queue, g_free);
  g_rand_free (l->rand);
  g_free (l);
}

gint64
mm_lean_link_push (MmLeanLink *l, const guint8 *buf, gsize len,
                   const struct sockaddr_storage *from, socklen_t from_len, gint64 now_us)
{
  MmLeanLinkPacket *p;
  gsize backlog = l->queued;
  double need = MIN ((double) len, (double) MM_LEAN_LINK_BUCKET);
  double wait_us, at;

  l->arrived++;
  if (l->loss_percent > 0 && g_rand_double_range (l->rand, 0, 100) < l->loss_percent)
    {
      l->random_drops++;
      return -1;
    }
  /* What is still queued at @now_us: the packets out by then (not yet
   * popped) are not. */
  for (GList *e = l->queue.head; e != NULL; e = e->next)
    {
      MmLeanLinkPacket *q = e->data;

      if (q->due_us > now_us)
        break;
      backlog -= q->len;
    }
  if (backlog + len > l->limit)
    {
      l->queue_drops++;
      return -1;
    }
  if (!l->started)
    {
      l->started = TRUE;
      l->tokens = MM_LEAN_LINK_BUCKET;
      l->last_us = (double) now_us;
    }
  /* Out when both it has arrived and the bucket (filling from the latest
   * departure, up to its depth) holds its bytes; a packet larger than
   * the bucket takes a full one. */
  wait_us = l->tokens < need ? (need - l->tokens) / l->bytes_per_us : 0;
  at = MAX ((double) now_us, l->last_us + wait_us);
  l->tokens = MIN ((double) MM_LEAN_LINK_BUCKET, l->tokens + (at - l->last_us) * l->bytes_per_us)
              - need;
  l->last_us = at;

  p = g_malloc (sizeof *p + len);
  p->due_us = (gint64) (at + 0.5);   /* to the nearest µs */
  p->len = len;
  memset (&p->from, 0, sizeof p->from);
  if (from != NULL)
    memcpy (&p->from, from, MIN ((gsize) from_len, sizeof p->from));
  p->from_len = from_len;
  memcpy (p->data, buf, len);
  g_queue_push_tail (&l->queue, p);
  l->queued += len;
  l->max_delay_us = MAX (l->max_delay_us, p->due_us - now_us);
  return p->due_us;
}

MmLeanLinkPacket *
mm_lean_link_pop (MmLeanLink *l, gint64 now_us)
{
  MmLeanLinkPacket *p = g_queue_peek_head (&l->queue);

  if (p == NULL || p->due_us > now_us)
    return NULL;
  g_queue_pop_head (&l->queue);
  l->queued -= p->len;
  l->delivered++;
  l->delivered_bytes += p->len;
  return p;
}

/* ---- on the main context ---------------------------------------------------- */

static void arm (MmLeanLink *l, gint64 now_us);

static void
flush (MmLeanLink *l, gint64 now_us)
{
  MmLeanLinkPacket *p;

  while ((p = mm_lean_link_pop (l, now_us)) != NULL)
    {
      l->deliver (p, l->data);
      g_free (p);
    }
}

static gboolean
on_timer (gpointer data)
{
  MmLeanLink *l = data;
  gint64 now = g_get_monotonic_time ();

  g_source_unref (l->timer);
  l->timer = NULL;
  flush (l, now);
  arm (l, now);
  return G_SOURCE_REMOVE;
}

/* A timer for the head of the queue, unless one is set: the head only
 * ever leaves later than the one before it. */
static void
arm (MmLeanLink *l, gint64 now_us)
{
  MmLeanLinkPacket *p = g_queue_peek_head (&l->queue);

  if (p == NULL || l->timer != NULL)
    return;
  l->timer = g_timeout_source_new ((guint) MAX ((p->due_us - now_us + 999) / 1000, 1));
  g_source_set_callback (l->timer, on_timer, l, NULL);
  g_source_attach (l->timer, NULL);
}

void
mm_lean_link_attach (MmLeanLink *l, MmLeanLinkDeliver deliver, gpointer data)
{
  l->deliver = deliver;
  l->data = data;
}

void
mm_lean_link_receive (MmLeanLink *l, const guint8 *buf, gsize len,
                      const struct sockaddr_storage *from, socklen_t from_len, gint64 now_us)
{
  g_return_if_fail (l->deliver != NULL);
  mm_lean_link_push (l, buf, len, from, from_len, now_us);
  flush (l, now_us);
  arm (l, now_us);
}
