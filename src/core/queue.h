/* queue.h — a participant's ordered event queue with a bounded backlog.
 *
 * Events get increasing sequence numbers starting at 1.  A reader asks for
 * the events after the last one it saw; when some of those were already
 * dropped from the backlog (or its cursor is ahead of the queue) it is told
 * so, and the caller sends a resync instead.  Main-loop only: no locking.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct _MmQueue MmQueue;

typedef enum {
  MM_QUEUE_EVENTS,  /* events were appended */
  MM_QUEUE_EMPTY,   /* nothing after the cursor yet */
  MM_QUEUE_GAP,     /* events after the cursor were dropped, or cursor ahead */
} MmQueueResult;

MmQueue *mm_queue_new (guint backlog);
void mm_queue_free (MmQueue *q);

/* Append an event {"seq": N, "type": @type, "at": @at_ms, ...@fields}.
 * @fields: (transfer none) (nullable).  Returns the new sequence number. */
guint64 mm_queue_push (MmQueue *q, const char *type, JsonObject *fields, gint64 at_ms);

/* An event as queues hold it, without its sequence number: written once
 * and shared by every queue it is pushed to (a broadcast to a thousand
 * participants keeps one copy, not a thousand).
 * Returns: (transfer full) */
typedef struct _MmQueueEvent MmQueueEvent;
MmQueueEvent *mm_queue_event_new (const char *type, JsonObject *fields, gint64 at_ms);
void mm_queue_event_unref (MmQueueEvent *e);
/* Append @e (a reference is taken).  Returns the new sequence number. */
guint64 mm_queue_push_event (MmQueue *q, MmQueueEvent *e);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MmQueueEvent, mm_queue_event_unref)

/* Append to @out the JSON of up to @max events after @since, separated by
 * commas (no brackets).  *@last_seq gets the sequence of the last event
 * appended, or the queue's last sequence when none were. */
MmQueueResult mm_queue_collect (MmQueue *q, guint64 since, guint max,
                                GString *out, guint64 *last_seq);

guint64 mm_queue_last_seq (MmQueue *q);
guint mm_queue_length (MmQueue *q);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MmQueue, mm_queue_free)

G_END_DECLS
