/* throttle.c — sliding-window failure counter.
 *
 * Each key keeps the times of its recent failures (at most max_failures of
 * them).  The table is bounded: every PRUNE_EVERY new keys, and past
 * MAX_KEYS, entries whose failures have all left the window are dropped
 * (the [limits] throttles count every request of a key, not only
 * failures, and see many keys).
 */
#include "config.h"

#include "core/throttle.h"

#define MAX_KEYS 100000
#define PRUNE_EVERY 1024

struct _MmThrottle {
  GMutex lock;
  guint max_failures;
  gint64 window_us;
  GHashTable *keys;   /* char* → GQueue of gint64 (as pointers to heap) */
  guint new_keys;     /* since the last prune */
};

static void
times_free (gpointer p)
{
  GQueue *q = p;
  g_queue_free_full (q, g_free);
}

MmThrottle *
mm_throttle_new (guint max_failures, gint64 window_us)
{
  MmThrottle *t = g_new0 (MmThrottle, 1);

  g_mutex_init (&t->lock);
  t->max_failures = MAX (max_failures, 1);
  t->window_us = window_us;
  t->keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, times_free);
  return t;
}

void
mm_throttle_free (MmThrottle *t)
{
  if (t == NULL)
    return;
  g_hash_table_unref (t->keys);
  g_mutex_clear (&t->lock);
  g_free (t);
}

/* Drop failures older than the window; lock held. */
static void
expire (MmThrottle *t, GQueue *q, gint64 now_us)
{
  while (!g_queue_is_empty (q) && *(gint64 *) g_queue_peek_head (q) <= now_us - t->window_us)
    g_free (g_queue_pop_head (q));
}

gboolean
mm_throttle_blocked (MmThrottle *t, const char *key, gint64 now_us, gint *retry_after_s)
{
  gboolean blocked = FALSE;
  GQueue *q;

  g_mutex_lock (&t->lock);
  q = g_hash_table_lookup (t->keys, key);
  if (q != NULL)
    {
      expire (t, q, now_us);
      if (g_queue_get_length (q) >= t->max_failures)
        {
          gint64 oldest = *(gint64 *) g_queue_peek_head (q);
          gint64 wait_us = oldest + t->window_us - now_us;

          blocked = TRUE;
          if (retry_after_s != NULL)
            *retry_after_s = (gint) MAX (1, (wait_us + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
        }
      else if (g_queue_is_empty (q))
        g_hash_table_remove (t->keys, key);
    }
  g_mutex_unlock (&t->lock);
  return blocked;
}

static void
prune (MmThrottle *t, gint64 now_us)
{
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, t->keys);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      expire (t, value, now_us);
      if (g_queue_is_empty (value))
        g_hash_table_iter_remove (&it);
    }
}

void
mm_throttle_fail (MmThrottle *t, const char *key, gint64 now_us)
{
  GQueue *q;
  gint64 *when;

  g_mutex_lock (&t->lock);
  q = g_hash_table_lookup (t->keys, key);
  if (q == NULL)
    {
      if (g_hash_table_size (t->keys) >= MAX_KEYS || ++t->new_keys >= PRUNE_EVERY)
        {
          prune (t, now_us);
          t->new_keys = 0;
        }
      if (g_hash_table_size (t->keys) >= MAX_KEYS)
        {
          /* Still full of live keys (a flood): forget one to stay bounded. */
          GHashTableIter it;

          g_hash_table_iter_init (&it, t->keys);
          if (g_hash_table_iter_next (&it, NULL, NULL))
            g_hash_table_iter_remove (&it);
        }
      q = g_queue_new ();
      g_hash_table_insert (t->keys, g_strdup (key), q);
    }
  expire (t, q, now_us);
  when = g_new (gint64, 1);
  *when = now_us;
  g_queue_push_tail (q, when);
  while (g_queue_get_length (q) > t->max_failures)
    g_free (g_queue_pop_head (q));
  g_mutex_unlock (&t->lock);
}

void
mm_throttle_clear (MmThrottle *t, const char *key)
{
  g_mutex_lock (&t->lock);
  g_hash_table_remove (t->keys, key);
  g_mutex_unlock (&t->lock);
}

guint
mm_throttle_size (MmThrottle *t)
{
  guint n;

  g_mutex_lock (&t->lock);
  n = g_hash_table_size (t->keys);
  g_mutex_unlock (&t->lock);
  return n;
}
