/* queue.c — the per-participant event queue. */
#include "config.h"

#include "core/queue.h"

/* An event's JSON without "seq": '{"type":…,"at":…,…}', shared. */
struct _MmQueueEvent {
  gint ref;     /* main loop only, like the queues */
  char *json;
};

typedef struct {
  guint64 seq;
  MmQueueEvent *body;   /* a reference */
} Event;

struct _MmQueue {
  guint backlog;
  guint64 last_seq;
  GQueue events;   /* Event*, oldest first */
};

static void
event_free (gpointer p)
{
  Event *e = p;
  mm_queue_event_unref (e->body);
  g_free (e);
}

MmQueue *
mm_queue_new (guint backlog)
{
  MmQueue *q = g_new0 (MmQueue, 1);

  q->backlog = MAX (backlog, 1);
  g_queue_init (&q->events);
  return q;
}

void
mm_queue_free (MmQueue *q)
{
  if (q == NULL)
    return;
  g_queue_clear_full (&q->events, event_free);
  g_free (q);
}

MmQueueEvent *
mm_queue_event_new (const char *type, JsonObject *fields, gint64 at_ms)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, type);
  json_builder_set_member_name (b, "at");
  json_builder_add_int_value (b, at_ms);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  if (fields != NULL)
    {
      JsonObject *obj = json_node_get_object (root);
      JsonObjectIter it;
      const char *name;
      JsonNode *value;

      json_object_iter_init (&it, fields);
      while (json_object_iter_next (&it, &name, &value))
        if (!json_object_has_member (obj, name) && g_strcmp0 (name, "seq") != 0)
          json_object_set_member (obj, name, json_node_copy (value));
    }
  {
    MmQueueEvent *ev = g_new0 (MmQueueEvent, 1);

    ev->ref = 1;
    ev->json = json_to_string (root, FALSE);
    return ev;
  }
}

void
mm_queue_event_unref (MmQueueEvent *e)
{
  if (e == NULL || --e->ref > 0)
    return;
  g_free (e->json);
  g_free (e);
}

guint64
mm_queue_push_event (MmQueue *q, MmQueueEvent *ev)
{
  Event *e = g_new0 (Event, 1);

  e->seq = ++q->last_seq;
  ev->ref++;
  e->body = ev;
  g_queue_push_tail (&q->events, e);
  while (g_queue_get_length (&q->events) > q->backlog)
    event_free (g_queue_pop_head (&q->events));
  return e->seq;
}

guint64
mm_queue_push (MmQueue *q, const char *type, JsonObject *fields, gint64 at_ms)
{
  g_autoptr (MmQueueEvent) ev = mm_queue_event_new (type, fields, at_ms);

  return mm_queue_push_event (q, ev);
}

MmQueueResult
mm_queue_collect (MmQueue *q, guint64 since, guint max, GString *out, guint64 *last_seq)
{
  Event *oldest = g_queue_peek_head (&q->events);
  guint appended = 0;
  GList *l;

  *last_seq = q->last_seq;
  if (since > q->last_seq)
    return MM_QUEUE_GAP;
  if (since == q->last_seq)
    return MM_QUEUE_EMPTY;
  /* Sequence numbers in the backlog are contiguous, oldest->seq .. last. */
  if (oldest == NULL || oldest->seq > since + 1)
    return MM_QUEUE_GAP;
  if (max == 0)
    {
      *last_seq = since;
      return MM_QUEUE_EMPTY;
    }
  l = g_queue_peek_nth_link (&q->events, (guint) (since + 1 - oldest->seq));
  for (; l != NULL && appended < max; l = l->next, appended++)
    {
      Event *e = l->data;

      if (appended > 0)
        g_string_append_c (out, ',');
      /* The body is an object of at least "type" and "at": seq goes first. */
      g_string_append_printf (out, "{\"seq\":%" G_GUINT64_FORMAT ",%s", e->seq, e->body->json + 1);
      *last_seq = e->seq;
    }
  return MM_QUEUE_EVENTS;
}

guint64
mm_queue_last_seq (MmQueue *q)
{
  return q->last_seq;
}

guint
mm_queue_length (MmQueue *q)
{
  return g_queue_get_length (&q->events);
}
