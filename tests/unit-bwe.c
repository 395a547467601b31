/* unit-bwe.c — what transport/bwe.c reads from transport-wide feedback,
 * on simulated links: a sender of video frames (packets back to back)
 * and audio, a bottleneck with a rate, a drop-tail queue and random loss,
 * and a receiver that reports every 100 ms what arrived and when, as
 * Chrome does.  Also feedback that lies.
 */
#include "config.h"

#include "transport/bwe.h"

#include <string.h>

#define T0 (1000 * G_USEC_PER_SEC)

typedef struct {
  guint64 rate_bps;        /* of the bottleneck */
  gint64 queue_us;         /* its queue holds this long at most */
  guint loss_percent;      /* random, after the queue */
  gsize burst;             /* bytes a token bucket lets through at once after a pause */
} Link;

typedef struct {
  gint64 sent_us, arrival_us;   /* arrival 0: lost */
  gsize size;
} Pkt;

typedef struct {
  MmBwe *bwe;
  Link link;
  GArray *pkts;            /* Pkt, by transport-wide sequence number */
  gint64 busy_until_us;    /* the bottleneck sends its queue until then */
  guint next_report;       /* the first sequence number not reported */
  GRand *rand;
} Sim;

static void
sim_init (Sim *s, const Link *link)
{
  memset (s, 0, sizeof *s);
  s->bwe = mm_bwe_new ();
  s->link = *link;
  s->pkts = g_array_new (FALSE, TRUE, sizeof (Pkt));
  s->busy_until_us = T0;
  s->rand = g_rand_new_with_seed (7);
}

static void
sim_clear (Sim *s)
{
  mm_bwe_free (s->bwe);
  g_array_unref (s->pkts);
  g_rand_free (s->rand);
}

static void
send_packet (Sim *s, gint64 now, gsize size)
{
  Pkt p = { now, 0, size };
  gint64 credit = (gint64) (s->link.burst * 8 * G_USEC_PER_SEC / s->link.rate_bps);
  gint64 start = MAX (now - credit, s->busy_until_us);
  gint64 service = (gint64) (size * 8 * G_USEC_PER_SEC / s->link.rate_bps);

  mm_bwe_note_sent (s->bwe, (guint16) s->pkts->len, size, now);
  if (start - now <= s->link.queue_us)
    {
      s->busy_until_us = start + service;
      if ((guint) g_rand_int_range (s->rand, 0, 100) >= s->link.loss_percent)
        p.arrival_us = MAX (s->busy_until_us, now) + 20000;   /* and 20 ms of propagation */
    }
  g_array_append_val (s->pkts, p);
}

/* The receiver's feedback at @now: everything up to the newest arrival. */
static void
report (Sim *s, gint64 now)
{
  guint last = s->next_report, count;
  g_autofree guint8 *received = NULL;
  g_autofree gint32 *delta = NULL;
  gint64 ref = 0, prev;
  gboolean have_ref = FALSE;

  for (guint i = s->next_report; i < s->pkts->len; i++)
    {
      const Pkt *p = &g_array_index (s->pkts, Pkt, i);

      if (p->arrival_us != 0 && p->arrival_us <= now)
        last = i + 1;
    }
  count = last - s->next_report;
  if (count == 0)
    return;
  received = g_new0 (guint8, count);
  delta = g_new0 (gint32, count);
  for (guint i = 0; i < count; i++)
    {
      const Pkt *p = &g_array_index (s->pkts, Pkt, s->next_report + i);

      if (p->arrival_us != 0 && !have_ref)
        {
          ref = p->arrival_us / 64000;
          have_ref = TRUE;
        }
    }
  prev = ref * 64000;
  for (guint i = 0; i < count; i++)
    {
      const Pkt *p = &g_array_index (s->pkts, Pkt, s->next_report + i);

      if (p->arrival_us == 0 || p->arrival_us > now)
        continue;
      received[i] = 1;
      /* In steps of 250 µs, as the wire carries them. */
      delta[i] = (gint32) ((p->arrival_us - prev) / 250 * 250);
      prev += delta[i];
    }
  mm_bwe_on_feedback (s->bwe, (guint16) s->next_report, (guint16) count, (gint32) ref, received,
                      delta, now + 20000);
  s->next_report = last;
}

/* @video_bps in frames of 30 fps and 32 kbit/s of audio, for @seconds. */
static void
run (Sim *s, guint64 video_bps, gdouble seconds, MmBweState *out)
{
  gint64 end = T0 + (gint64) (seconds * G_USEC_PER_SEC);
  gint64 next_frame = T0, next_audio = T0, next_report = T0 + 100000;

  for (gint64 now = T0; now < end; now += 1000)
    {
      if (now >= next_frame)
        {
          gsize frame = video_bps / 8 / 30, off = 0;

          /* The packets of one frame go out together. */
          for (gint64 t = now; off < frame; t += 5)
            {
              gsize n = MIN (1200, frame - off);

              send_packet (s, t, n + 40);
              off += n;
            }
          next_frame += G_USEC_PER_SEC / 30;
        }
      if (now >= next_audio)
        {
          send_packet (s, now, 120);
          next_audio += 20000;
        }
      if (now >= next_report)
        {
          report (s, now);
          next_report += 100000;
        }
    }
  mm_bwe_get (s->bwe, end + 20000, out);
}

static void
test_unshaped (void)
{
  Link link = { 1000000000, 300000, 0, 0 };
  MmBweState st;
  Sim s;

  sim_init (&s, &link);
  run (&s, 1200000, 4, &st);
  g_assert_true (st.fed);
  g_assert_false (st.congested);
  g_assert_cmpuint (st.loss_permille, ==, 0);
  g_assert_cmpuint (st.queue_ms, <, 10);
  /* Frames arrive as fast as they left: far more than they need. */
  g_assert_cmpuint (st.capacity_bps, >=, 10000000);
  g_assert_cmpuint (st.estimate_bps, >=, 10000000);
  /* What arrived in the last second: the video and the audio. */
  g_assert_cmpuint (st.delivered_bps, >, 1100000);
  g_assert_cmpuint (st.delivered_bps, <, 1500000);
  sim_clear (&s);
}

static void
test_congested (void)
{
  Link link = { 250000, 300000, 0, 0 };
  MmBweState st;
  Sim s;

  sim_init (&s, &link);
  run (&s, 1200000, 4, &st);
  g_assert_true (st.fed);
  g_assert_true (st.congested);
  g_assert_cmpuint (st.loss_permille, >, 500);
  g_assert_cmpuint (st.queue_ms, >, 150);
  /* The link's rate, give or take: the packets' own overhead is counted. */
  g_assert_cmpuint (st.estimate_bps, >, 200000);
  g_assert_cmpuint (st.estimate_bps, <, 300000);
  sim_clear (&s);
}

static void
test_lossy_but_roomy (void)
{
  Link link = { 600000, 300000, 3, 0 };
  MmBweState st;
  Sim s;

  sim_init (&s, &link);
  run (&s, 450000, 6, &st);
  g_assert_true (st.fed);
  /* 3% random loss and no queue: not congestion. */
  g_assert_false (st.congested);
  g_assert_cmpuint (st.loss_permille, >, 5);
  g_assert_cmpuint (st.loss_permille, <, 80);
  g_assert_cmpuint (st.queue_ms, <, 60);
  /* Frames of two packets are no trains (a burst could carry them): the
   * capacity is unknown, the estimate what arrives. */
  g_assert_cmpuint (st.capacity_bps, ==, 0);
  g_assert_cmpuint (st.estimate_bps, ==, st.delivered_bps);
  g_assert_cmpuint (st.delivered_bps, >, 400000);
  g_assert_cmpuint (st.delivered_bps, <, 560000);
  sim_clear (&s);
}

/* Audio only behind 80 kbit/s with a token bucket of one MTU: trains of
 * padding every 3 s must not read as a fast link, though their head
 * passes at once. */
static void
test_probe_through_bucket (void)
{
  Link link = { 80000, 300000, 0, 1500 };
  gint64 end = T0 + 10 * G_USEC_PER_SEC, next_probe = T0 + 500000, next_report = T0 + 100000;
  MmBweState st;
  Sim s;

  sim_init (&s, &link);
  for (gint64 now = T0; now < end; now += 20000)
    {
      send_packet (&s, now, 120);
      if (now >= next_probe)
        {
          for (guint i = 0; i < 8; i++)
            send_packet (&s, now + i * 5, 280);
          next_probe += 3 * G_USEC_PER_SEC;
        }
      if (now >= next_report)
        {
          report (&s, now);
          next_report += 100000;
        }
    }
  mm_bwe_get (s.bwe, end, &st);
  g_test_message ("capacity %" G_GUINT64_FORMAT " bit/s", st.capacity_bps);
  g_assert_cmpuint (st.capacity_bps, >, 40000);
  g_assert_cmpuint (st.capacity_bps, <, 130000);
  sim_clear (&s);
}

/* Audio only behind 80 kbit/s with a token bucket of one MTU, from a
 * server that falls behind now and then (a busy machine) and sends what
 * it owes at once: six packets of voice, ~700 bytes, pass the bucket
 * together.  That is no train: the link's rate is unknown, and never
 * read as a fast link (it once moved such a receiver up to video). */
static void
test_late_audio_through_bucket (void)
{
  Link link = { 80000, 300000, 0, 1500 };
  gint64 end = T0 + 10 * G_USEC_PER_SEC, next_report = T0 + 100000;
  MmBweState st;
  Sim s;

  sim_init (&s, &link);
  for (gint64 now = T0; now < end; now += 20000)
    {
      /* Every second, 100 ms late: five packets owed and the current one. */
      if ((now - T0) % G_USEC_PER_SEC >= 100000 && (now - T0) % G_USEC_PER_SEC < 200000)
        continue;
      if ((now - T0) % G_USEC_PER_SEC == 200000)
        for (guint i = 0; i < 5; i++)
          send_packet (&s, now + i * 5, 120);
      send_packet (&s, now + 30, 120);
      if (now >= next_report)
        {
          report (&s, now);
          next_report += 100000;
        }
    }
  mm_bwe_get (s.bwe, end, &st);
  g_test_message ("capacity %" G_GUINT64_FORMAT " bit/s, lowest of the latest %" G_GUINT64_FORMAT,
                  st.capacity_bps, st.capacity_low_bps);
  g_assert_cmpuint (st.capacity_bps, <, 130000);
  g_assert_cmpuint (st.capacity_low_bps, <, 130000);
  sim_clear (&s);
}

static void
test_nothing_known (void)
{
  MmBwe *b = mm_bwe_new ();
  MmBweState st;

  mm_bwe_get (b, T0, &st);
  g_assert_false (st.fed);
  g_assert_cmpuint (st.estimate_bps, ==, 0);
  mm_bwe_note_sent (NULL, 1, 100, T0);   /* no feedback negotiated */
  mm_bwe_get (NULL, T0, &st);
  g_assert_cmpuint (st.estimate_bps, ==, 0);
  mm_bwe_free (b);
}

/* Feedback that lies: packets never sent, absurd times, every count. */
static void
test_lies (void)
{
  MmBwe *b = mm_bwe_new ();
  g_autofree guint8 *received = g_new (guint8, 65535);
  g_autofree gint32 *delta = g_new (gint32, 65535);
  MmBweState st;

  memset (received, 1, 65535);
  for (guint i = 0; i < 65535; i++)
    delta[i] = (i & 1) ? -8192000 : 8191750;
  /* Nothing sent: nothing learnt. */
  mm_bwe_on_feedback (b, 0, 65535, G_MININT32 / 256, received, delta, T0);
  mm_bwe_get (b, T0, &st);
  g_assert_cmpuint (st.delivered_bps, ==, 0);
  g_assert_cmpuint (st.loss_permille, ==, 0);
  /* Packets sent, then reported with absurd arrival times. */
  for (guint i = 0; i < 3000; i++)
    mm_bwe_note_sent (b, (guint16) i, 1200, T0 + i);
  mm_bwe_on_feedback (b, 0, 3000, 0x7fffff, received, delta, T0 + 10000);
  mm_bwe_on_feedback (b, 65000, 65535, -0x800000, received, delta, T0 + 20000);
  mm_bwe_on_feedback (b, 5, 0, 0, received, delta, T0 + 30000);
  mm_bwe_get (b, T0 + 40000, &st);
  /* Figures stay figures: bounded, no division by zero. */
  g_assert_cmpuint (st.capacity_bps, <=, MM_BWE_FAST_LINK);
  g_assert_cmpuint (st.loss_permille, <=, 1000);
  g_assert_cmpuint (st.estimate_bps, <=, MM_BWE_FAST_LINK);
  mm_bwe_free (b);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/bwe/unshaped", test_unshaped);
  g_test_add_func ("/bwe/congested", test_congested);
  g_test_add_func ("/bwe/lossy-but-roomy", test_lossy_but_roomy);
  g_test_add_func ("/bwe/probe-through-bucket", test_probe_through_bucket);
  g_test_add_func ("/bwe/late-audio-through-bucket", test_late_audio_through_bucket);
  g_test_add_func ("/bwe/nothing-known", test_nothing_known);
  g_test_add_func ("/bwe/lies", test_lies);
  return g_test_run ();
}
