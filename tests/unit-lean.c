/* unit-lean.c — what mixmeet-bot --viewers counts of a received stream
 * (src/bot/lean-rtp.c): whole frames, loss after NACK recovery, NACKs,
 * sequence number wrap, duplicates, a new SSRC, and numbers from anywhere;
 * the simulated link of --link (lean-link.c) on a clock of our own: its
 * rate, its queue's limit, its random loss; the transport-wide cc
 * feedback (lean-twcc.c) read back by the server's parser; and the tier
 * and smoothness figures (lean-quality.c).
 */
#include "config.h"

#include "bot/lean.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define T0 1000000

static MmLeanRtp
pkt (guint16 seq, gboolean marker)
{
  MmLeanRtp h = { marker, 96, seq, 0, 0x1234 };

  return h;
}

/* Frames of @per packets from @seq, @n frames, all arriving; returns the
 * frames counted. */
static guint
feed_frames (MmLeanStream *s, guint16 seq, guint n, guint per, gint64 *now)
{
  guint frames = 0;

  for (guint f = 0; f < n; f++)
    for (guint k = 0; k < per; k++)
      {
        MmLeanRtp h = pkt ((guint16) (seq + f * per + k), k == per - 1);

        frames += mm_lean_stream_packet (s, &h, *now);
        *now += 1000;
      }
  return frames;
}

static void
test_whole_frames (void)
{
  MmLeanStream s;
  gint64 now = T0;

  mm_lean_stream_init (&s, TRUE);
  /* The first frame has no known start: it does not count. */
  g_assert_cmpuint (feed_frames (&s, 100, 10, 3, &now), ==, 9);
  g_assert_cmpuint (s.frames, ==, 9);
  g_assert_cmpuint (s.received, ==, 30);
  g_assert_cmpuint (mm_lean_stream_expected (&s), ==, 30);
  g_assert_cmpuint (s.lost, ==, 0);
}

static void
test_lost_packet_and_nack (void)
{
  MmLeanStream s;
  gint64 now = T0;
  guint16 seqs[16];
  MmLeanRtp h;
  guint n;

  mm_lean_stream_init (&s, TRUE);
  feed_frames (&s, 0, 2, 3, &now);   /* 0..5, one frame counted */
  g_assert_cmpuint (s.frames, ==, 1);
  /* Frame 6..8 without 7. */
  h = pkt (6, FALSE);
  g_assert_false (mm_lean_stream_packet (&s, &h, now));
  h = pkt (8, TRUE);
  g_assert_false (mm_lean_stream_packet (&s, &h, now));
  g_assert_cmpuint (s.frames, ==, 1);
  /* 7 is NACKed at once, then not again before the retry time. */
  n = mm_lean_stream_due_nacks (&s, now, 100000, seqs, G_N_ELEMENTS (seqs));
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpuint (seqs[0], ==, 7);
  g_assert_cmpuint (mm_lean_stream_due_nacks (&s, now + 50000, 100000, seqs, 16), ==, 0);
  g_assert_cmpuint (mm_lean_stream_due_nacks (&s, now + 100000, 100000, seqs, 16), ==, 1);
  /* Its retransmission completes the frame. */
  h = pkt (7, FALSE);
  g_assert_true (mm_lean_stream_packet (&s, &h, now + 120000));
  g_assert_cmpuint (s.frames, ==, 2);
  /* Arrived: no more NACKs for it. */
  g_assert_cmpuint (mm_lean_stream_due_nacks (&s, now + 500000, 100000, seqs, 16), ==, 0);
  /* Nothing is lost once the window has moved on. */
  now += 200000;
  feed_frames (&s, 9, 200, 3, &now);
  g_assert_cmpuint (s.lost, ==, 0);
  g_assert_cmpuint (s.nacked, ==, 2);
}

static void
test_loss_settles (void)
{
  MmLeanStream s;
  gint64 now = T0;
  guint16 seqs[64];

  mm_lean_stream_init (&s, TRUE);
  for (guint i = 0; i < 1000; i++)
    if (i % 100 != 50)   /* ten lost */
      {
        MmLeanRtp h = pkt ((guint16) i, TRUE);

        mm_lean_stream_packet (&s, &h, now);
        now += 1000;
      }
  /* Asked three times each at most, then given up. */
  for (guint r = 0; r < 5; r++)
    mm_lean_stream_due_nacks (&s, now + r * 200000, 100000, seqs, 64);
  g_assert_cmpuint (s.n_nacks, ==, 0);
  /* Those older than the window are counted lost; the last one is not yet. */
  g_assert_cmpuint (s.lost, ==, 7);
  g_assert_cmpuint (mm_lean_stream_expected (&s), ==, 1000);
  g_assert_cmpuint (s.received, ==, 990);
  /* A frame of one packet after a lost one has no known start. */
  g_assert_cmpuint (s.frames, ==, 999 - 10 - 10);
}

static void
test_wrap_and_duplicates (void)
{
  MmLeanStream s;
  gint64 now = T0;
  MmLeanRtp h;

  mm_lean_stream_init (&s, TRUE);
  g_assert_cmpuint (feed_frames (&s, 65530, 10, 2, &now), ==, 9);
  g_assert_cmpuint (s.received, ==, 20);
  g_assert_cmpuint (mm_lean_stream_expected (&s), ==, 20);
  h = pkt (3, FALSE);   /* 65530 + 9 - 65536: a duplicate, after the wrap */
  g_assert_false (mm_lean_stream_packet (&s, &h, now));
  g_assert_cmpuint (s.duplicates, ==, 1);
  /* Far in the past: late, not counted. */
  h = pkt ((guint16) (13 - 1000), FALSE);
  g_assert_false (mm_lean_stream_packet (&s, &h, now));
  g_assert_cmpuint (s.late, ==, 1);
  g_assert_cmpuint (s.received, ==, 20);
}

static void
test_new_ssrc (void)
{
  MmLeanStream s;
  gint64 now = T0;
  MmLeanRtp h;

  mm_lean_stream_init (&s, TRUE);
  feed_frames (&s, 100, 5, 2, &now);
  h = pkt (40000, TRUE);
  h.ssrc = 0x9999;
  mm_lean_stream_packet (&s, &h, now);
  g_assert_cmpuint (s.ssrc, ==, 0x9999);
  g_assert_cmpuint (s.received, ==, 11);
  g_assert_cmpuint (s.lost, ==, 0);
}

static void
test_drop_on_purpose (void)
{
  MmLeanStream s;
  gint64 now = T0;
  MmLeanRtp h;
  guint dropped = 0;

  mm_lean_stream_init (&s, TRUE);
  feed_frames (&s, 0, 2, 2, &now);
  /* 100%: every new packet is dropped, a packet we have never is. */
  h = pkt (4, TRUE);
  g_assert_true (mm_lean_stream_drop (&s, &h, 50 + 50));
  dropped++;
  h = pkt (3, TRUE);
  g_assert_false (mm_lean_stream_drop (&s, &h, 100));
  /* Its retransmission is not dropped again, and counts as recovered. */
  h = pkt (4, TRUE);
  g_assert_false (mm_lean_stream_drop (&s, &h, 100));
  g_assert_true (mm_lean_stream_packet (&s, &h, now));
  g_assert_cmpuint (s.dropped, ==, dropped);
  g_assert_cmpuint (s.recovered, ==, 1);
}

/* Sequence numbers from anywhere, markers at random: nothing breaks, the
 * counts stay consistent. */
static void
test_random_numbers (void)
{
  MmLeanStream s;
  gint64 now = T0;
  guint16 seqs[64];
  GRand *r = g_rand_new_with_seed (7);

  mm_lean_stream_init (&s, TRUE);
  for (guint i = 0; i < 200000; i++)
    {
      MmLeanRtp h = pkt ((guint16) g_rand_int (r), g_rand_boolean (r));

      if (g_rand_int_range (r, 0, 4) == 0)
        h.seq = (guint16) (s.max + g_rand_int_range (r, -300, 300));
      if (g_rand_int_range (r, 0, 1000) == 0)
        h.ssrc = g_rand_int (r);
      mm_lean_stream_drop (&s, &h, 5);
      mm_lean_stream_packet (&s, &h, now);
      mm_lean_stream_due_nacks (&s, now, 100000, seqs, 64);
      now += 100;
      g_assert_cmpuint (s.n_markers, <=, MM_LEAN_MARKERS);
      g_assert_cmpuint (s.n_nacks, <=, MM_LEAN_NACKS);
    }
  g_rand_free (r);
}

static void
test_rtp_read (void)
{
  const guint8 good[12] = { 0x80, 0xe0, 0x12, 0x34, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef };
  guint8 bad[12];
  MmLeanRtp h;

  g_assert_true (mm_lean_rtp_read (good, sizeof good, &h));
  g_assert_true (h.marker);
  g_assert_cmpuint (h.pt, ==, 96);
  g_assert_cmpuint (h.seq, ==, 0x1234);
  g_assert_cmpuint (h.ts, ==, 1);
  g_assert_cmpuint (h.ssrc, ==, 0xdeadbeef);
  g_assert_false (mm_lean_rtp_read (good, 11, &h));
  memcpy (bad, good, sizeof bad);
  bad[0] = 0x40;
  g_assert_false (mm_lean_rtp_read (bad, sizeof bad, &h));
}

/* ---- lean-link.c ------------------------------------------------------------ */

static gint64
push (MmLeanLink *l, gsize len, gint64 now)
{
  guint8 buf[2048];

  memset (buf, 0x5a, sizeof buf);
  return mm_lean_link_push (l, buf, len, NULL, 0, now);
}

/* 800 kbit/s is 100 bytes a millisecond: a burst leaves spread at that
 * rate, after the one packet the full bucket lets through at once; an
 * idle link refills its bucket to one MTU and no more. */
static void
test_link_rate (void)
{
  MmLeanLink *l = mm_lean_link_new (800, 10000, 0, 1);
  MmLeanLinkPacket *p;
  guint n = 0;

  /* 1,000 bytes: the first leaves at once (1,500 in the bucket), the
   * second when 500 more have come (5 ms), then one every 10 ms. */
  g_assert_cmpint (push (l, 1000, 0), ==, 0);
  g_assert_cmpint (push (l, 1000, 0), ==, 5000);
  for (guint k = 2; k < 50; k++)
    g_assert_cmpint (push (l, 1000, 0), ==, 5000 + (k - 1) * 10000);
  g_assert_cmpuint (l->queue_drops, ==, 0);
  /* Let out in order, each when due and not before. */
  while ((p = mm_lean_link_pop (l, 14999)) != NULL)
    {
      g_assert_cmpint (p->due_us, <=, 14999);
      g_assert_cmpuint (p->len, ==, 1000);
      g_assert_cmpuint (p->data[999], ==, 0x5a);
      g_free (p);
      n++;
    }
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpuint (l->delivered, ==, 2);
  /* Idle for a second: a full bucket of 1,500 bytes, not more. */
  g_assert_cmpint (push (l, 1000, 2000000), ==, 2000000);
  g_assert_cmpint (push (l, 1000, 2000000), ==, 2005000);
  g_assert_cmpint (push (l, 1000, 2000000), ==, 2015000);
  /* A packet that arrives while the bucket fills leaves when it holds its
   * bytes: 1,000 from empty at 2,015 ms are there at 2,025 ms. */
  g_assert_cmpint (push (l, 1000, 2020000), ==, 2025000);
  mm_lean_link_free (l);

  /* Offered 1 MB/s for 10 s, an 800 kbit/s link delivers 100 kB/s: what
   * is out by the end is 10 s of it (plus the first bucket), the rest was
   * dropped at the queue, which never held more than 300 ms. */
  l = mm_lean_link_new (800, 300, 0, 1);
  for (gint64 t = 0; t < 10000000; t += 1000)
    {
      push (l, 1000, t);
      while ((p = mm_lean_link_pop (l, t)) != NULL)
        g_free (p);
    }
  g_assert_cmpuint (l->delivered_bytes, >=, 1000000 - 1000);
  g_assert_cmpuint (l->delivered_bytes, <=, 1000000 + 1500);
  g_assert_cmpuint (l->delivered + l->queue_drops + g_queue_get_length (&l->queue), ==, 10000);
  g_assert_cmpint (l->max_delay_us, <=, 300000 + 10000);
  g_assert_cmpint (l->max_delay_us, >=, 300000 - 10000);
  mm_lean_link_free (l);
}

/* 80 kbit/s with 300 ms of queue holds 3,000 bytes: of a burst of ten
 * 1,200-byte packets the first leaves at once, two wait, seven are
 * dropped; once the queue has drained, packets are taken again. */
static void
test_link_queue_limit (void)
{
  MmLeanLink *l = mm_lean_link_new (80, 300, 0, 1);
  guint taken = 0;
  gint64 last = -1;

  for (guint i = 0; i < 10; i++)
    {
      gint64 due = push (l, 1200, 0);

      if (due >= 0)
        {
          taken++;
          last = due;
        }
    }
  g_assert_cmpuint (taken, ==, 3);
  g_assert_cmpuint (l->queue_drops, ==, 7);
  /* 1,200 bytes at 10 bytes a ms, after the 300 left in the bucket. */
  g_assert_cmpint (last, ==, 90000 + 120000);
  g_assert_cmpint (push (l, 1200, 50000), ==, -1);   /* still 2,400 queued */
  g_assert_cmpint (push (l, 1200, 100000), ==, 330000);   /* 1,200 queued */
  g_assert_cmpuint (l->queue_drops, ==, 8);
  /* A link slower than one MTU in its queue still takes one packet. */
  mm_lean_link_free (l);
  l = mm_lean_link_new (8, 100, 0, 1);
  g_assert_cmpuint (l->limit, ==, MM_LEAN_LINK_BUCKET);
  g_assert_cmpint (push (l, 1400, 0), ==, 0);
  g_assert_cmpint (push (l, 1400, 0), ==, 1300000);
  mm_lean_link_free (l);
}

/* 3 % loss over 100,000 packets on a link fast enough to queue none:
 * about 3,000 lost (the binomial's sigma is 54), and the same ones for
 * the same seed. */
static void
test_link_loss (void)
{
  MmLeanLink *a = mm_lean_link_new (1000000, 300, 3, 42);
  MmLeanLink *b = mm_lean_link_new (1000000, 300, 3, 42);
  MmLeanLinkPacket *p;

  for (gint64 t = 0; t < 100000 * 100; t += 100)
    {
      g_assert_cmpint (push (a, 200, t) < 0, ==, push (b, 200, t) < 0);
      while ((p = mm_lean_link_pop (a, t)) != NULL)
        g_free (p);
      while ((p = mm_lean_link_pop (b, t)) != NULL)
        g_free (p);
    }
  g_assert_cmpuint (a->arrived, ==, 100000);
  g_assert_cmpuint (a->queue_drops, ==, 0);
  g_assert_cmpuint (a->random_drops, >=, 2700);
  g_assert_cmpuint (a->random_drops, <=, 3300);
  g_assert_cmpuint (a->delivered + a->random_drops + g_queue_get_length (&a->queue), ==, 100000);
  mm_lean_link_free (a);
  mm_lean_link_free (b);

  /* None lost at 0 %. */
  a = mm_lean_link_new (1000000, 300, 0, 42);
  for (gint64 t = 0; t < 1000 * 100; t += 100)
    push (a, 200, t);
  g_assert_cmpuint (a->random_drops, ==, 0);
  mm_lean_link_free (a);
}

/* ---- lean-twcc.c ------------------------------------------------------------ */

typedef struct {
  guint n;
  MmRtcpItem item;
  guint8 received[MM_LEAN_TWCC_SPAN];
  gint32 delta_us[MM_LEAN_TWCC_SPAN];
} Feedback;

static void
on_item (const MmRtcpItem *item, gpointer data)
{
  Feedback *f = data;

  g_assert_cmpint (item->kind, ==, MM_RTCP_TWCC);
  g_assert_cmpuint (item->u.twcc.count, <=, MM_LEAN_TWCC_SPAN);
  f->n++;
  f->item = *item;
  memcpy (f->received, item->u.twcc.received, item->u.twcc.count);
  memcpy (f->delta_us, item->u.twcc.delta_us, item->u.twcc.count * sizeof (gint32));
}

/* The next feedback of @t, as the server reads it; FALSE if none. */
static gboolean
feedback (MmLeanTwcc *t, Feedback *f)
{
  g_autoptr (MmRtcpParser) parser = mm_rtcp_parser_new ();
  guint8 buf[4096];
  gsize len = mm_lean_twcc_write (t, buf, sizeof buf, 0x1111, 0x2222);

  memset (f, 0, sizeof *f);
  if (len == 0)
    return FALSE;
  g_assert_true (mm_rtcp_parse (parser, buf, len, on_item, f));
  g_assert_cmpuint (f->n, ==, 1);
  g_assert_cmphex (f->item.sender_ssrc, ==, 0x1111);
  g_assert_cmphex (f->item.media_ssrc, ==, 0x2222);
  return TRUE;
}

/* The arrival times a feedback gives back, in µs from its reference
 * time's start (the server adds up the deltas). */
static void
arrivals (const Feedback *f, gint64 *at)
{
  gint64 t = (gint64) f->item.u.twcc.reference_time * 64000;

  for (guint i = 0; i < f->item.u.twcc.count; i++)
    {
      t += f->delta_us[i];
      at[i] = f->received[i] ? t : -1;
    }
}

static void
test_twcc_feedback (void)
{
  MmLeanTwcc t;
  Feedback f;
  gint64 at[MM_LEAN_TWCC_SPAN];
  /* Arrivals on a clock that does not start at a multiple of 64 ms. */
  const gint64 t0 = 1000 * 64000 + 12345;

  mm_lean_twcc_init (&t, 3);
  g_assert_false (feedback (&t, &f));
  /* 65534, 65535, (0 lost), 2 before 1, then 3 twice. */
  mm_lean_twcc_record (&t, 65534, t0);
  mm_lean_twcc_record (&t, 65535, t0 + 1000);
  mm_lean_twcc_record (&t, 2, t0 + 70000);
  mm_lean_twcc_record (&t, 1, t0 + 70250);
  mm_lean_twcc_record (&t, 3, t0 + 200000);
  mm_lean_twcc_record (&t, 3, t0 + 300000);
  g_assert_true (feedback (&t, &f));
  g_assert_cmpuint (f.item.u.twcc.base_seq, ==, 65534);
  g_assert_cmpuint (f.item.u.twcc.count, ==, 6);
  g_assert_cmpint (f.item.u.twcc.reference_time, ==, 1000);
  g_assert_cmpuint (f.item.u.twcc.fb_pkt_count, ==, 0);
  arrivals (&f, at);
  /* Back to the 250 µs unit below each arrival. */
  g_assert_cmpint (at[0], ==, 1000 * 64000 + 12250);
  g_assert_cmpint (at[1], ==, 1000 * 64000 + 13250);
  g_assert_cmpint (at[2], ==, -1);
  g_assert_cmpint (at[3], ==, 1000 * 64000 + 82500);   /* 1: after 2, a negative delta */
  g_assert_cmpint (at[4], ==, 1000 * 64000 + 82250);
  g_assert_cmpint (at[5], ==, 1000 * 64000 + 212250);  /* the first of the two */
  g_assert_cmpuint (t.recorded, ==, 5);

  /* 0 comes now: too late, it was reported lost.  The next feedback
   * starts after 3, at its own reference time, with the next count. */
  mm_lean_twcc_record (&t, 0, t0 + 400000);
  g_assert_cmpuint (t.late, ==, 1);
  g_assert_false (feedback (&t, &f));
  mm_lean_twcc_record (&t, 6, t0 + 500000);
  g_assert_true (feedback (&t, &f));
  g_assert_cmpuint (f.item.u.twcc.base_seq, ==, 4);
  g_assert_cmpuint (f.item.u.twcc.count, ==, 3);
  g_assert_cmpuint (f.item.u.twcc.fb_pkt_count, ==, 1);
  g_assert_cmpint (f.item.u.twcc.reference_time, ==, (t0 + 500000) / 64000);
  arrivals (&f, at);
  g_assert_cmpint (at[0], ==, -1);
  g_assert_cmpint (at[1], ==, -1);
  g_assert_cmpint (at[2], ==, (t0 + 500000) / 250 * 250);

  /* A jump past what one feedback holds starts the next one there. */
  mm_lean_twcc_record (&t, 7, t0 + 600000);
  mm_lean_twcc_record (&t, 7 + MM_LEAN_TWCC_SPAN, t0 + 600250);
  g_assert_cmpuint (t.overflows, ==, 1);
  g_assert_true (feedback (&t, &f));
  g_assert_cmpuint (f.item.u.twcc.base_seq, ==, 7 + MM_LEAN_TWCC_SPAN);
  g_assert_cmpuint (f.item.u.twcc.count, ==, 1);

  /* A second of ~140 packets across the wrap, 10 % lost, in feedback
   * every 100 ms: every number from the first arrived to the last is
   * described once, lost or not. */
  {
    guint16 seq = 65500, first = 0, last = 0;
    guint described = 0, received = 0;
    gboolean any = FALSE;

    mm_lean_twcc_init (&t, 3);
    for (guint ms = 0; ms < 1000; ms++)
      {
        if (ms % 7 == 0)
          {
            if (seq % 10 != 0)
              {
                mm_lean_twcc_record (&t, seq, t0 + ms * 1000);
                first = any ? first : seq;
                any = TRUE;
                last = seq;
              }
            seq++;
          }
        if (ms % 100 == 99 && feedback (&t, &f))
          for (guint i = 0; i < f.item.u.twcc.count; i++)
            {
              described++;
              received += f.received[i];
            }
      }
    g_assert_cmpuint (described, ==, (guint16) (last - first) + 1u);
    g_assert_cmpuint (received, ==, t.recorded);
    g_assert_cmpuint (t.feedbacks, ==, 10);
    g_assert_cmpuint (t.late + t.overflows, ==, 0);
  }
}

/* ---- lean-quality.c --------------------------------------------------------- */

/* A VP8 RTP payload: the descriptor @desc, then the start of a keyframe
 * (or of an interframe when @key is FALSE) of @w x @h. */
static gsize
vp8_payload (guint8 *out, const guint8 *desc, gsize desc_len, gboolean key, guint w, guint h)
{
  const guint8 frame[] = { key ? 0x50 : 0x51, 0x2c, 0x01, 0x9d, 0x01, 0x2a,
                           w & 0xff, w >> 8, h & 0xff, h >> 8, 0x00, 0x11 };

  memcpy (out, desc, desc_len);
  memcpy (out + desc_len, frame, sizeof frame);
  return desc_len + sizeof frame;
}

static void
test_vp8_keyframe_size (void)
{
  /* Descriptors: the shortest; X with a 7-bit picture ID; X with a 15-bit
   * one, TL0PICIDX and TID/KEYIDX (what libvpx's payloader writes). */
  const guint8 plain[] = { 0x10 };
  const guint8 pic7[] = { 0x90, 0x80, 0x12 };
  const guint8 full[] = { 0x90, 0xf0, 0x81, 0x23, 0x05, 0x40 };
  const struct {
    const guint8 *desc;
    gsize len;
  } descs[] = { { plain, sizeof plain }, { pic7, sizeof pic7 }, { full, sizeof full } };
  guint8 p[64];
  guint w = 0, h = 0;
  gsize n;

  for (guint i = 0; i < G_N_ELEMENTS (descs); i++)
    {
      n = vp8_payload (p, descs[i].desc, descs[i].len, TRUE, 1280, 720);
      g_assert_true (mm_lean_vp8_keyframe_size (p, n, &w, &h));
      g_assert_cmpuint (w, ==, 1280);
      g_assert_cmpuint (h, ==, 720);
      /* Cut anywhere before the height's end: not read. */
      for (gsize k = 0; k < descs[i].len + 10; k++)
        g_assert_false (mm_lean_vp8_keyframe_size (p, k, &w, &h));
      /* An interframe has no size. */
      n = vp8_payload (p, descs[i].desc, descs[i].len, FALSE, 1280, 720);
      g_assert_false (mm_lean_vp8_keyframe_size (p, n, &w, &h));
    }
  /* The scaling bits above the 14 of the size are not part of it. */
  n = vp8_payload (p, plain, sizeof plain, TRUE, 320 | 0x4000, 180 | 0xc000);
  g_assert_true (mm_lean_vp8_keyframe_size (p, n, &w, &h));
  g_assert_cmpuint (w, ==, 320);
  g_assert_cmpuint (h, ==, 180);
  /* Not the start of a frame (S=0), or of another partition. */
  n = vp8_payload (p, (const guint8[]) { 0x00 }, 1, TRUE, 640, 360);
  g_assert_false (mm_lean_vp8_keyframe_size (p, n, &w, &h));
  n = vp8_payload (p, (const guint8[]) { 0x11 }, 1, TRUE, 640, 360);
  g_assert_false (mm_lean_vp8_keyframe_size (p, n, &w, &h));

  g_assert_cmpint (mm_lean_tier_of_height (720), ==, MM_LEAN_TIER_HIGH);
  g_assert_cmpint (mm_lean_tier_of_height (540), ==, MM_LEAN_TIER_HIGH);
  g_assert_cmpint (mm_lean_tier_of_height (539), ==, MM_LEAN_TIER_MEDIUM);
  g_assert_cmpint (mm_lean_tier_of_height (360), ==, MM_LEAN_TIER_MEDIUM);
  g_assert_cmpint (mm_lean_tier_of_height (270), ==, MM_LEAN_TIER_MEDIUM);
  g_assert_cmpint (mm_lean_tier_of_height (180), ==, MM_LEAN_TIER_LOW);
  g_assert_cmpstr (mm_lean_tier_name (MM_LEAN_TIER_AUDIO_ONLY), ==, "audio-only");
}

/* The figures of @q at @now_us, as a JSON object. */
static JsonObject *
figures (const MmLeanQuality *q, gint64 now_us)
{
  g_autoptr (GString) out = g_string_new ("{\"x\":0");
  g_autoptr (GError) error = NULL;
  JsonNode *node;
  JsonObject *o;

  mm_lean_quality_append (q, out, now_us);
  g_string_append_c (out, '}');
  node = json_from_string (out->str, &error);
  g_assert_no_error (error);
  o = json_object_ref (json_node_get_object (node));
  json_node_unref (node);
  return o;
}

/* Audio every 20 ms all along; video on high, then on low from 5 s with a
 * 400 ms freeze, then none from 10 s: audio-only is seen at 12 s and
 * dated 10 s. */
static void
test_quality (void)
{
  MmLeanQuality q;
  guint8 key[64], inter[64];
  gsize key_len, inter_len;
  g_autoptr (JsonObject) o = NULL;
  const gint64 t0 = 5000000;
  gint64 t;

  mm_lean_quality_init (&q);
  inter_len = vp8_payload (inter, (const guint8[]) { 0x10 }, 1, FALSE, 0, 0);
  for (t = 0; t < 12000000; t += 1000)
    {
      gint64 now = t0 + t;
      gboolean low = t >= 5000000;
      gint64 period = low ? 66000 : 33000;

      if (t % 20000 == 0)
        mm_lean_quality_audio (&q, now);
      mm_lean_quality_tick (&q, now);
      if (t >= 10000000 || (t >= 7000000 && t < 7400000) || t % period != 0)
        continue;
      if (t == 0 || t == 5016000)
        {
          key_len = vp8_payload (key, (const guint8[]) { 0x10 }, 1, TRUE, low ? 320 : 1280,
                                 low ? 180 : 720);
          mm_lean_quality_video (&q, key, key_len, 1000, now);
        }
      else
        mm_lean_quality_video (&q, inter, inter_len, 1000, now);
      mm_lean_quality_frame (&q, now);
      if (t == 3003000)
        {
          o = figures (&q, now);
          g_assert_cmpstr (json_object_get_string_member (o, "tier"), ==, "high");
          g_assert_cmpint (json_object_get_int_member (o, "height"), ==, 720);
          g_assert_cmpfloat (json_object_get_double_member (o, "settled_s"), ==, 0);
          g_assert_cmpfloat_with_epsilon (json_object_get_double_member (o, "fps"), 30.3, 0.5);
          g_assert_cmpint (json_object_get_int_member (o, "freezes"), ==, 0);
          g_clear_pointer (&o, json_object_unref);
        }
      if (t == 9966000)
        {
          o = figures (&q, now);
          g_assert_cmpstr (json_object_get_string_member (o, "tier"), ==, "low");
          g_assert_cmpint (json_object_get_int_member (o, "width"), ==, 320);
          g_assert_cmpint (json_object_get_int_member (o, "tier_changes"), ==, 1);
          g_assert_cmpfloat_with_epsilon (json_object_get_double_member (o, "settled_s"), 5.016,
                                          0.001);
          g_assert_cmpint (json_object_get_int_member (o, "freezes"), ==, 1);
          g_assert_cmpfloat (json_object_get_double_member (o, "max_frame_gap_ms"), >=, 400);
          g_assert_cmpfloat (json_object_get_double_member (o, "max_frame_gap_ms"), <=, 470);
          g_assert_cmpfloat_with_epsilon (json_object_get_double_member (o, "fps"), 14.4, 0.5);
          g_assert_cmpfloat (json_object_get_double_member (o, "max_audio_gap_ms"), ==, 20);
          g_assert_cmpfloat_with_epsilon (json_object_get_double_member (o, "video_kbps"),
                                          14.4 * 8, 5);
          g_clear_pointer (&o, json_object_unref);
        }
    }
  /* Video stopped at 9.966 s: audio-only from 11.966 s on, dated then. */
  g_assert_cmpint (q.tier, ==, MM_LEAN_TIER_AUDIO_ONLY);
  o = figures (&q, t0 + t);
  g_assert_cmpstr (json_object_get_string_member (o, "tier"), ==, "audio-only");
  g_assert_cmpint (json_object_get_int_member (o, "tier_changes"), ==, 2);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (o, "settled_s"), 9.966, 0.001);
  g_assert_true (json_object_get_null_member (o, "freezes"));
  g_assert_true (json_object_get_null_member (o, "max_frame_gap_ms"));
  g_assert_cmpfloat (json_object_get_double_member (o, "max_audio_gap_ms"), <=, 20);
  g_assert_cmpint (json_object_get_int_member (o, "video_bytes"), ==, (gint64) q.video_bytes);
  g_clear_pointer (&o, json_object_unref);

  /* Nothing yet: no tier, no figures. */
  mm_lean_quality_init (&q);
  o = figures (&q, t0);
  g_assert_cmpstr (json_object_get_string_member (o, "tier"), ==, "none");
  g_assert_true (json_object_get_null_member (o, "settled_s"));
  g_assert_true (json_object_get_null_member (o, "fps"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lean/whole-frames", test_whole_frames);
  g_test_add_func ("/lean/lost-packet-and-nack", test_lost_packet_and_nack);
  g_test_add_func ("/lean/loss-settles", test_loss_settles);
  g_test_add_func ("/lean/wrap-and-duplicates", test_wrap_and_duplicates);
  g_test_add_func ("/lean/new-ssrc", test_new_ssrc);
  g_test_add_func ("/lean/drop-on-purpose", test_drop_on_purpose);
  g_test_add_func ("/lean/random-numbers", test_random_numbers);
  g_test_add_func ("/lean/rtp-read", test_rtp_read);
  g_test_add_func ("/lean/link/rate", test_link_rate);
  g_test_add_func ("/lean/link/queue-limit", test_link_queue_limit);
  g_test_add_func ("/lean/link/loss", test_link_loss);
  g_test_add_func ("/lean/twcc/feedback", test_twcc_feedback);
  g_test_add_func ("/lean/quality/vp8-keyframe", test_vp8_keyframe_size);
  g_test_add_func ("/lean/quality/tiers", test_quality);
  return g_test_run ();
}
