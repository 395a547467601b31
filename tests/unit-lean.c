/* unit-lean.c — what mixmeet-bot --viewers counts of a received stream
 * (src/bot/lean-rtp.c): whole frames, loss after NACK recovery, NACKs,
 * sequence number wrap, duplicates, a new SSRC, and numbers from anywhere.
 */
#include "config.h"

#include "bot/lean.h"

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
  return g_test_run ();
}
