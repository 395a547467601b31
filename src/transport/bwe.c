/* bwe.c — a receiver's link, read from its transport-wide feedback
 * (bwe.h).
 */
#include "config.h"

#include "transport/bwe.h"

#include <string.h>

#define SENT_SLOTS 512             /* sent packets kept for their feedback: ~3 s of the high tier */
#define SAMPLES 64                 /* feedback summaries: 3-6 s of them */
#define TRAINS 32
#define WINDOW_US G_USEC_PER_SEC
#define TRAIN_WINDOW_US (5 * G_USEC_PER_SEC)
#define BASE_SECONDS 10            /* the lowest delay of the last 10 s is the base */
#define TRAIN_GAP_US 1000          /* packets sent this close together make a train */
#define BURST_BYTES 1500           /* what a link may let through at once */
#define CONGESTED_LOSS MM_BWE_CONGESTED_LOSS
#define CONGESTED_QUEUE_MS MM_BWE_CONGESTED_QUEUE_MS

typedef struct {
  gint64 send_us;                  /* 0: free */
  guint16 seq;
  guint16 size;
} Sent;

typedef struct {
  gint64 at_us;
  guint reported, lost;
  guint64 bytes;                   /* delivered */
  gint64 delay_us;                 /* mean one-way delay (with the clocks' offset) */
} Sample;

typedef struct {
  gint64 at_us;
  guint64 bps;
} Train;

/* A train being read from one feedback packet. */
#define TRAIN_MAX 64
typedef struct {
  guint len;
  gint64 last_send_us;
  gint64 arrival[TRAIN_MAX];
  guint size[TRAIN_MAX];
} TrainRead;

struct _MmBwe {
  GMutex lock;
  Sent sent[SENT_SLOTS];
  Sample samples[SAMPLES];
  guint next_sample;
  Train trains[TRAINS];
  guint next_train;
  gint64 base_min[BASE_SECONDS];   /* lowest delay per second, by second */
  gint64 base_second[BASE_SECONDS];
  gint64 last_feedback_us;
};

MmBwe *
mm_bwe_new (void)
{
  MmBwe *b = g_new0 (MmBwe, 1);

  g_mutex_init (&b->lock);
  return b;
}

void
mm_bwe_free (MmBwe *b)
{
  if (b == NULL)
    return;
  g_mutex_clear (&b->lock);
  g_free (b);
}

void
mm_bwe_note_sent (MmBwe *b, guint16 seq, gsize size, gint64 now_us)
{
  Sent *s;

  if (b == NULL)
    return;
  g_mutex_lock (&b->lock);
  s = &b->sent[seq % SENT_SLOTS];
  s->seq = seq;
  s->size = (guint16) MIN (size, G_MAXUINT16);
  s->send_us = MAX (now_us, 1);
  g_mutex_unlock (&b->lock);
}

static void
note_base (MmBwe *b, gint64 delay_us, gint64 now_us)
{
  gint64 second = now_us / G_USEC_PER_SEC;
  guint i = (guint) (second % BASE_SECONDS);

  if (b->base_second[i] != second)
    {
      b->base_second[i] = second;
      b->base_min[i] = delay_us;
    }
  else if (delay_us < b->base_min[i])
    b->base_min[i] = delay_us;
}

static gboolean
base_delay (MmBwe *b, gint64 now_us, gint64 *out)
{
  gint64 second = now_us / G_USEC_PER_SEC;
  gboolean any = FALSE;

  for (guint i = 0; i < BASE_SECONDS; i++)
    if (b->base_second[i] != 0 && second - b->base_second[i] < BASE_SECONDS)
      {
        if (!any || b->base_min[i] < *out)
          *out = b->base_min[i];
        any = TRUE;
      }
  return any;
}

/* The rate a train shows: from its second half only, and only past its
 * first BURST_BYTES, because a link that allows a burst (a token bucket
 * of an MTU or so) lets the head of a train through at once and spaces
 * the rest at its rate.  A train is four packets or more, with two past
 * its head: a frame of two or three, or a few late voice packets sent at
 * once by a busy server (~700 bytes), fit in such a burst and would read
 * as a fast link. */
static void
add_train (MmBwe *b, const TrainRead *r, gint64 now_us)
{
  Train *t;
  guint first = r->len / 2;
  guint64 head = 0, bytes = 0;
  gint64 span_us;

  if (r->len < 4)
    return;
  for (guint i = 0; i < r->len && head < BURST_BYTES; i++)
    {
      head += r->size[i];
      if (head >= BURST_BYTES)
        first = MAX (first, i + 1);
    }
  if (head < BURST_BYTES || first + 2 > r->len)
    return;
  span_us = r->arrival[r->len - 1] - r->arrival[first];
  for (guint i = first + 1; i < r->len; i++)
    bytes += r->size[i];
  t = &b->trains[b->next_train++ % TRAINS];
  t->at_us = now_us;
  /* Feedback tells arrival times in steps of 250 µs. */
  t->bps = span_us < 250 ? MM_BWE_FAST_LINK : MIN (bytes * 8 * G_USEC_PER_SEC / span_us,
                                                  MM_BWE_FAST_LINK);
}

void
mm_bwe_on_feedback (MmBwe *b, guint16 base_seq, guint16 count, gint32 reference_time,
                    const guint8 *received, const gint32 *delta_us, gint64 now_us)
{
  Sample *smp;
  gint64 arrival = (gint64) reference_time * 64000, delay_sum = 0;
  guint delays = 0;
  /* The current train: packets known, sent back to back, all arrived. */
  TrainRead tr = { 0 };

  if (b == NULL || count == 0)
    return;
  g_mutex_lock (&b->lock);
  smp = &b->samples[b->next_sample++ % SAMPLES];
  memset (smp, 0, sizeof *smp);
  smp->at_us = now_us;
  b->last_feedback_us = now_us;
  for (guint i = 0; i < count; i++)
    {
      guint16 seq = (guint16) (base_seq + i);
      Sent *s = &b->sent[seq % SENT_SLOTS];
      gboolean known = s->send_us != 0 && s->seq == seq;
      gboolean got = received[i] != 0;

      if (got)
        arrival += delta_us[i];
      if (!known)
        {
          tr.len = 0;
          continue;
        }
      smp->reported++;
      if (!got)
        {
          smp->lost++;
          tr.len = 0;
          continue;
        }
      smp->bytes += s->size;
      delay_sum += arrival - s->send_us;
      delays++;
      note_base (b, arrival - s->send_us, now_us);
      if (!(tr.len > 0 && tr.len < TRAIN_MAX && s->send_us - tr.last_send_us <= TRAIN_GAP_US
            && arrival >= tr.arrival[tr.len - 1]))
        {
          add_train (b, &tr, now_us);
          tr.len = 0;
        }
      tr.arrival[tr.len] = arrival;
      tr.size[tr.len] = s->size;
      tr.len++;
      tr.last_send_us = s->send_us;
      /* Not counted twice when a later feedback reports it again. */
      s->send_us = 0;
    }
  add_train (b, &tr, now_us);
  smp->delay_us = delays > 0 ? delay_sum / delays : G_MININT64;
  g_mutex_unlock (&b->lock);
}

static gint
compare_u64 (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;

  return x < y ? -1 : x > y;
}

void
mm_bwe_get (MmBwe *b, gint64 now_us, MmBweState *out)
{
  guint reported = 0, lost = 0;
  guint64 bytes = 0, rates[TRAINS];
  gint64 oldest = now_us;
  guint n_rates = 0;
  gint64 recent_delay = 0, base = 0;
  guint n_delay = 0;

  memset (out, 0, sizeof *out);
  if (b == NULL)
    return;
  g_mutex_lock (&b->lock);
  out->fed = b->last_feedback_us != 0 && now_us - b->last_feedback_us < 2 * G_USEC_PER_SEC;
  for (guint i = 0; i < SAMPLES; i++)
    {
      const Sample *s = &b->samples[i];

      if (s->at_us == 0 || now_us - s->at_us > WINDOW_US)
        continue;
      reported += s->reported;
      lost += s->lost;
      bytes += s->bytes;
      oldest = MIN (oldest, s->at_us);
      /* The queue now: the delays of the last 200 ms. */
      if (now_us - s->at_us <= WINDOW_US / 5 && s->delay_us != G_MININT64)
        {
          recent_delay += s->delay_us;
          n_delay++;
        }
    }
  for (guint i = 0; i < TRAINS; i++)
    if (b->trains[i].at_us != 0 && now_us - b->trains[i].at_us <= TRAIN_WINDOW_US)
      rates[n_rates++] = b->trains[i].bps;
  /* The latest three, for a decision to send more: one train can be
   * fooled (a burst the link allowed, a lull in other traffic). */
  for (guint k = 1; k <= 3 && k <= b->next_train; k++)
    {
      const Train *t = &b->trains[(b->next_train - k) % TRAINS];

      if (t->at_us != 0 && now_us - t->at_us <= TRAIN_WINDOW_US)
        out->capacity_low_bps = out->capacity_low_bps == 0 ? t->bps
                                                           : MIN (out->capacity_low_bps, t->bps);
    }
  if (n_delay > 0 && base_delay (b, now_us, &base))
    out->queue_ms = (guint) MAX (0, (recent_delay / n_delay - base) / 1000);
  g_mutex_unlock (&b->lock);

  /* Over the time the feedback covers: the window, or less just after
   * the first feedback (each tells about the ~100 ms before it). */
  out->delivered_bps = bytes * 8 * G_USEC_PER_SEC
                       / (guint64) CLAMP (now_us - oldest + 100000, 200000, WINDOW_US);
  out->loss_permille = reported > 0 ? lost * 1000 / reported : 0;
  if (n_rates > 0)
    {
      qsort (rates, n_rates, sizeof rates[0], compare_u64);
      out->capacity_bps = rates[n_rates / 2];
    }
  out->congested = reported > 0 && (out->loss_permille > CONGESTED_LOSS
                                    || out->queue_ms > CONGESTED_QUEUE_MS);
  out->estimate_bps = out->capacity_bps != 0 ? out->capacity_bps : out->delivered_bps;
  if (out->congested)
    out->estimate_bps = MIN (out->estimate_bps, out->delivered_bps);
}
