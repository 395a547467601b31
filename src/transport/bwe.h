/* bwe.h — what a receiver's transport-wide congestion control feedback
 * says about its link: delivered rate, loss, queueing delay and capacity.
 *
 * Every packet sent to an endpoint that negotiated the transport-wide
 * sequence number is noted with its size and send time; the receiver's
 * feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01) tells
 * which arrived and when.  From that, over the last second:
 *
 *   delivered   bytes that arrived, per second;
 *   loss        packets reported missing, of those reported;
 *   queue       one-way delay above the lowest of the last 10 s (the
 *               queue building up at the bottleneck);
 *   capacity    from packet trains: four or more packets sent back to
 *               back (a large video frame, or a probe) arrive spaced by
 *               the bottleneck's rate, read from the train's second half
 *               (a link may let a burst through at once); the median
 *               over the last 5 s.
 *
 * The estimate is the capacity when known, else the delivered rate, and
 * never more than the delivered rate while the link is congested (loss
 * over 10% or a queue over 150 ms).  Which tier that allows is the room's
 * business (src/media/tiers.c).
 *
 * Thread-safe: packets are noted from the sending threads, feedback comes
 * on the transport thread, the state is read from the main loop.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MmBwe MmBwe;

/* Returns: (transfer full) */
MmBwe *mm_bwe_new (void);
void mm_bwe_free (MmBwe *b);

/* A packet of @size bytes on the wire with transport-wide sequence number
 * @seq left at @now_us (monotonic).  @b may be NULL (no feedback
 * negotiated): nothing happens. */
void mm_bwe_note_sent (MmBwe *b, guint16 seq, gsize size, gint64 now_us);

/* A feedback packet: @count packets from @base_seq, @received[i] 1 when
 * packet i arrived, @delta_us[i] its arrival after the previous arrived
 * one (the first after @reference_time, in multiples of 64 ms). */
void mm_bwe_on_feedback (MmBwe *b, guint16 base_seq, guint16 count, gint32 reference_time,
                         const guint8 *received, const gint32 *delta_us, gint64 now_us);

typedef struct {
  gboolean fed;            /* feedback came in the last 2 s */
  guint64 estimate_bps;    /* 0: nothing known */
  guint64 delivered_bps;   /* over the last second */
  guint64 capacity_bps;    /* from trains of the last 5 s, 0: none */
  guint64 capacity_low_bps;  /* the lowest of the latest three trains' (fewer: of them) */
  guint loss_permille;     /* over the last second */
  guint queue_ms;
  gboolean congested;
} MmBweState;

void mm_bwe_get (MmBwe *b, gint64 now_us, MmBweState *out);

/* The capacity a train shows when its packets arrive closer together than
 * feedback can tell (250 µs): the link is far from full. */
#define MM_BWE_FAST_LINK 100000000u

/* Congested: losing more than this (per mille) or queueing longer (ms). */
#define MM_BWE_CONGESTED_LOSS 100
#define MM_BWE_CONGESTED_QUEUE_MS 150

G_END_DECLS
