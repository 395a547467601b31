/* unit-rtcp.c — RTP header reading, RTCP parsing and writing, and the
 * NACK history: every writer through the parser, packets built by hand
 * from the RFCs' figures, and inputs that lie about their lengths.
 *
 * Inputs are copied into buffers of exactly their length, so that a read
 * past the end shows under --enable-sanitizers (or valgrind).
 */
#include "config.h"

#include "transport/history.h"
#include "transport/rtcp.h"
#include "transport/twcc.h"

#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

/* What a parse visited, with the TWCC arrays copied out of the parser. */
typedef struct {
  MmRtcpItem item;
  guint8 *received;
  gint32 *delta_us;
} Visited;

typedef struct {
  GArray *items;   /* of Visited */
} Collect;

static void
visited_clear (gpointer data)
{
  Visited *v = data;

  g_free (v->received);
  g_free (v->delta_us);
}

static void
collect (const MmRtcpItem *item, gpointer data)
{
  Collect *c = data;
  Visited v = { *item, NULL, NULL };

  if (item->kind == MM_RTCP_TWCC)
    {
      v.received = g_memdup2 (item->u.twcc.received, item->u.twcc.count);
      v.delta_us = g_memdup2 (item->u.twcc.delta_us, item->u.twcc.count * sizeof (gint32));
    }
  g_array_append_val (c->items, v);
}

/* Parse @len bytes of @buf from an exact-size copy; the items visited are
 * left in *@items (free with g_array_unref). */
static gboolean
parse (const guint8 *buf, gsize len, GArray **items)
{
  g_autoptr (MmRtcpParser) p = mm_rtcp_parser_new ();
  g_autofree guint8 *copy = g_memdup2 (buf, len);
  Collect c;
  gboolean ok;

  c.items = g_array_new (FALSE, TRUE, sizeof (Visited));
  g_array_set_clear_func (c.items, visited_clear);
  ok = mm_rtcp_parse (p, copy, len, collect, &c);
  *items = c.items;
  return ok;
}

static const Visited *
nth (GArray *items, guint i)
{
  g_assert_cmpuint (i, <, items->len);
  return &g_array_index (items, Visited, i);
}

static void
put16 (guint8 *p, guint16 v)
{
  p[0] = v >> 8;
  p[1] = v & 0xff;
}

static void
put32 (guint8 *p, guint32 v)
{
  put16 (p, v >> 16);
  put16 (p + 2, v & 0xffff);
}

/* Every writer returns 0 for every buffer shorter than what it writes. */
#define ASSERT_TOO_SMALL(need, call_with_size)                                  \
  G_STMT_START {                                                                \
    for (gsize size_ = 0; size_ < (need); size_++)                              \
      {                                                                         \
        gsize size = size_;                                                     \
        g_assert_cmpuint ((call_with_size), ==, 0);                             \
      }                                                                         \
  } G_STMT_END

/* ---- RTP header ----------------------------------------------------------- */

static void
test_rtp_basic (void)
{
  /* V=2 P=1 X=1 CC=2, marker, PT 96, seq 0x1234, ts, ssrc, two CSRCs, a
   * one-byte extension of one word, 3 bytes payload, 2 bytes padding. */
  const guint8 pkt[] = {
    0xb2, 0xe0, 0x12, 0x34, 0x00, 0x00, 0x10, 0x00, 0xde, 0xad, 0xbe, 0xef,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
    0xbe, 0xde, 0x00, 0x01, 0x10, 0xaa, 0x00, 0x00,
    'a', 'b', 'c', 0x00, 0x02,
  };
  g_autofree guint8 *b = g_memdup2 (pkt, sizeof pkt);
  MmRtpHeader h;

  g_assert_true (mm_rtp_parse (b, sizeof pkt, &h));
  g_assert_true (h.marker);
  g_assert_cmpuint (h.pt, ==, 96);
  g_assert_cmpuint (h.seq, ==, 0x1234);
  g_assert_cmpuint (h.ts, ==, 0x1000);
  g_assert_cmphex (h.ssrc, ==, 0xdeadbeef);
  g_assert_cmpuint (h.header_len, ==, 28);
  g_assert_cmpuint (h.payload_len, ==, 3);
  g_assert_true (h.ext == b + 24);
  g_assert_cmpuint (h.ext_len, ==, 4);
  g_assert_cmphex (h.ext_profile, ==, 0xBEDE);

  /* No extension, no CSRCs, no padding: an empty payload is fine. */
  b[0] = 0x80;
  g_assert_true (mm_rtp_parse (b, 12, &h));
  g_assert_cmpuint (h.header_len, ==, 12);
  g_assert_cmpuint (h.payload_len, ==, 0);
  g_assert_null (h.ext);

  /* Every cut of the first packet: what is left must still add up. */
  memcpy (b, pkt, sizeof pkt);
  for (gsize cut = 0; cut < sizeof pkt; cut++)
    {
      g_autofree guint8 *c = g_memdup2 (pkt, cut);

      if (mm_rtp_parse (c, cut, &h))
        g_assert_cmpuint (h.header_len + h.payload_len, <=, cut);
    }
}

static void
test_rtp_malformed (void)
{
  guint8 pkt[64];
  MmRtpHeader h;

  memset (pkt, 0, sizeof pkt);
  pkt[0] = 0x80;
  g_assert_false (mm_rtp_parse (pkt, 11, &h));
  g_assert_false (mm_rtp_parse (NULL, 0, &h));

  /* Versions other than 2. */
  pkt[0] = 0x40;
  g_assert_false (mm_rtp_parse (pkt, 20, &h));
  pkt[0] = 0xc0;
  g_assert_false (mm_rtp_parse (pkt, 20, &h));

  /* 15 CSRCs need 72 bytes. */
  pkt[0] = 0x8f;
  g_assert_false (mm_rtp_parse (pkt, 64, &h));
  {
    guint8 big[72];

    memset (big, 0, sizeof big);
    big[0] = 0x8f;
    g_assert_false (mm_rtp_parse (big, 71, &h));
    g_assert_true (mm_rtp_parse (big, 72, &h));
    g_assert_cmpuint (h.header_len, ==, 72);
  }

  /* The extension header itself cut, then its length past the end. */
  pkt[0] = 0x90;
  g_assert_false (mm_rtp_parse (pkt, 14, &h));
  put16 (pkt + 12, 0xBEDE);
  put16 (pkt + 14, 3);   /* 12 bytes of extension after its header */
  g_assert_false (mm_rtp_parse (pkt, 16 + 11, &h));
  g_assert_true (mm_rtp_parse (pkt, 16 + 12, &h));
  put16 (pkt + 14, 0xffff);
  g_assert_false (mm_rtp_parse (pkt, sizeof pkt, &h));

  /* Padding: larger than the payload, zero, exactly the payload. */
  pkt[0] = 0xa0;
  pkt[19] = 9;           /* 8 bytes of payload after the 12 of header */
  g_assert_false (mm_rtp_parse (pkt, 20, &h));
  pkt[19] = 0;
  g_assert_false (mm_rtp_parse (pkt, 20, &h));
  pkt[19] = 8;
  g_assert_true (mm_rtp_parse (pkt, 20, &h));
  g_assert_cmpuint (h.payload_len, ==, 0);
  /* A padded packet with nothing after the header has no count octet. */
  g_assert_false (mm_rtp_parse (pkt, 12, &h));
}

static MmRtpHeader
header_with_ext (const guint8 *ext, gsize len, guint16 profile)
{
  MmRtpHeader h;

  memset (&h, 0, sizeof h);
  h.ext = ext;
  h.ext_len = len;
  h.ext_profile = profile;
  return h;
}

static void
test_rtp_extension_one_byte (void)
{
  /* Padding, id 1 (1 byte), id 3 (4 bytes: length field 3), padding,
   * id 5 (2 bytes), padding to the word. */
  const guint8 ext[] = { 0x00, 0x10, 0x11, 0x33, 0xa1, 0xa2, 0xa3, 0xa4, 0x00,
                         0x51, 0xb1, 0xb2 };
  g_autofree guint8 *e = g_memdup2 (ext, sizeof ext);
  MmRtpHeader h = header_with_ext (e, sizeof ext, 0xBEDE);
  const guint8 *d;
  gsize len = 0;

  d = mm_rtp_find_extension (&h, 1, &len);
  g_assert_true (d == e + 2);
  g_assert_cmpuint (len, ==, 1);
  d = mm_rtp_find_extension (&h, 3, &len);
  g_assert_true (d == e + 4);
  g_assert_cmpuint (len, ==, 4);
  d = mm_rtp_find_extension (&h, 5, &len);
  g_assert_true (d == e + 10);
  g_assert_cmpuint (len, ==, 2);
  g_assert_null (mm_rtp_find_extension (&h, 2, &len));
  g_assert_null (mm_rtp_find_extension (&h, 0, &len));
  g_assert_null (mm_rtp_find_extension (&h, 15, &len));

  /* Id 15 stops the walk: id 5 after it is not looked at. */
  e[3] = 0xf3;
  g_assert_nonnull (mm_rtp_find_extension (&h, 1, &len));
  g_assert_null (mm_rtp_find_extension (&h, 5, &len));

  /* An element longer than what is left. */
  e[3] = 0x33;
  h.ext_len = 7;
  g_assert_null (mm_rtp_find_extension (&h, 3, &len));
  g_assert_nonnull (mm_rtp_find_extension (&h, 1, &len));

  /* No extension, another profile. */
  h = header_with_ext (NULL, 0, 0xBEDE);
  g_assert_null (mm_rtp_find_extension (&h, 1, &len));
  h = header_with_ext (e, sizeof ext, 0x1234);
  g_assert_null (mm_rtp_find_extension (&h, 1, &len));
}

static void
test_rtp_extension_two_byte (void)
{
  /* Id 1 with no data, padding, id 20 with 3 bytes, id 7 with 1 byte,
   * padding. */
  const guint8 ext[] = { 0x01, 0x00, 0x00, 0x14, 0x03, 0xc1, 0xc2, 0xc3, 0x07, 0x01, 0xd1,
                         0x00 };
  g_autofree guint8 *e = g_memdup2 (ext, sizeof ext);
  MmRtpHeader h = header_with_ext (e, sizeof ext, 0x1003);   /* appbits 3 */
  const guint8 *d;
  gsize len = 99;

  d = mm_rtp_find_extension (&h, 1, &len);
  g_assert_true (d == e + 2);
  g_assert_cmpuint (len, ==, 0);
  d = mm_rtp_find_extension (&h, 20, &len);
  g_assert_true (d == e + 5);
  g_assert_cmpuint (len, ==, 3);
  d = mm_rtp_find_extension (&h, 7, &len);
  g_assert_true (d == e + 10);
  g_assert_cmpuint (len, ==, 1);
  g_assert_null (mm_rtp_find_extension (&h, 15, &len));

  /* Through mm_rtp_parse: the profile keeps its application bits. */
  {
    guint8 pkt[12 + 4 + sizeof ext];
    MmRtpHeader p;

    memset (pkt, 0, sizeof pkt);
    pkt[0] = 0x90;
    put16 (pkt + 12, 0x1003);
    put16 (pkt + 14, sizeof ext / 4);
    memcpy (pkt + 16, ext, sizeof ext);
    g_assert_true (mm_rtp_parse (pkt, sizeof pkt, &p));
    g_assert_cmphex (p.ext_profile, ==, 0x1003);
    g_assert_cmpuint (p.ext_len, ==, sizeof ext);
    d = mm_rtp_find_extension (&p, 20, &len);
    g_assert_true (d == pkt + 16 + 5);
  }

  /* Cut inside id 20's data, then between an id and its length. */
  h.ext_len = 6;
  g_assert_null (mm_rtp_find_extension (&h, 20, &len));
  h.ext_len = 4;
  g_assert_null (mm_rtp_find_extension (&h, 20, &len));
  g_assert_nonnull (mm_rtp_find_extension (&h, 1, &len));
}

/* ---- writers through the parser ----------------------------------------- */

static void
test_sr_round_trip (void)
{
  guint8 out[64];
  g_autoptr (GArray) items = NULL;
  const Visited *v;
  gsize n = mm_rtcp_write_sr (out, sizeof out, 0x11223344, 0x0123456789abcdefULL, 90000,
                              1234, 567890);

  g_assert_cmpuint (n, ==, 28);
  ASSERT_TOO_SMALL (28, mm_rtcp_write_sr (out, size, 1, 2, 3, 4, 5));
  g_assert_true (parse (out, n, &items));
  g_assert_cmpuint (items->len, ==, 1);
  v = nth (items, 0);
  g_assert_cmpint (v->item.kind, ==, MM_RTCP_SR);
  g_assert_cmphex (v->item.sender_ssrc, ==, 0x11223344);
  g_assert_cmphex (v->item.u.report.ntp, ==, 0x0123456789abcdefULL);
  g_assert_cmpuint (v->item.u.report.rtp_ts, ==, 90000);
  g_assert_cmpuint (v->item.u.report.packets, ==, 1234);
  g_assert_cmpuint (v->item.u.report.octets, ==, 567890);
  g_assert_cmpuint (v->item.u.report.n_blocks, ==, 0);
}

static void
test_rr_round_trip (void)
{
  MmRtcpReportBlock blocks[MM_RTCP_MAX_REPORT_BLOCKS];
  guint8 out[8 + 24 * MM_RTCP_MAX_REPORT_BLOCKS];
  g_autoptr (GArray) items = NULL;
  const Visited *v;
  gsize n;

  for (guint i = 0; i < G_N_ELEMENTS (blocks); i++)
    {
      blocks[i].ssrc = 0x1000 + i;
      blocks[i].fraction_lost = i * 8;
      blocks[i].cumulative_lost = (i % 2) ? -(gint32) i * 1000 : (gint32) i * 1000;
      blocks[i].highest_seq = 0x10000 * i + 7;
      blocks[i].jitter = i * 3;
      blocks[i].lsr = 0xabcd0000 + i;
      blocks[i].dlsr = 0x10000 * i;
    }
  /* The extremes of the 24-bit signed count; beyond them it saturates. */
  blocks[0].cumulative_lost = 0x7fffff;
  blocks[1].cumulative_lost = -0x800000;
  blocks[2].cumulative_lost = 0x1000000;

  n = mm_rtcp_write_rr (out, sizeof out, 0xcafe, blocks, G_N_ELEMENTS (blocks));
  g_assert_cmpuint (n, ==, sizeof out);
  ASSERT_TOO_SMALL (sizeof out, mm_rtcp_write_rr (out, size, 1, blocks, G_N_ELEMENTS (blocks)));
  g_assert_true (parse (out, n, &items));
  g_assert_cmpuint (items->len, ==, 1);
  v = nth (items, 0);
  g_assert_cmpint (v->item.kind, ==, MM_RTCP_RR);
  g_assert_cmphex (v->item.sender_ssrc, ==, 0xcafe);
  g_assert_cmpuint (v->item.u.report.n_blocks, ==, MM_RTCP_MAX_REPORT_BLOCKS);
  blocks[2].cumulative_lost = 0x7fffff;
  for (guint i = 0; i < G_N_ELEMENTS (blocks); i++)
    {
      const MmRtcpReportBlock *rb = &v->item.u.report.blocks[i];

      g_assert_cmphex (rb->ssrc, ==, blocks[i].ssrc);
      g_assert_cmpuint (rb->fraction_lost, ==, blocks[i].fraction_lost);
      g_assert_cmpint (rb->cumulative_lost, ==, blocks[i].cumulative_lost);
      g_assert_cmpuint (rb->highest_seq, ==, blocks[i].highest_seq);
      g_assert_cmpuint (rb->jitter, ==, blocks[i].jitter);
      g_assert_cmpuint (rb->lsr, ==, blocks[i].lsr);
      g_assert_cmpuint (rb->dlsr, ==, blocks[i].dlsr);
    }

  /* No blocks at all: an empty RR, as a receiver with nothing to report
   * sends first in a compound. */
  g_clear_pointer (&items, g_array_unref);
  n = mm_rtcp_write_rr (out, sizeof out, 0xcafe, NULL, 0);
  g_assert_cmpuint (n, ==, 8);
  g_assert_true (parse (out, n, &items));
  g_assert_cmpuint (nth (items, 0)->item.u.report.n_blocks, ==, 0);
}

static void
test_pli_fir_round_trip (void)
{
  guint8 out[32];
  g_autoptr (GArray) items = NULL;
  gsize n;

  n = mm_rtcp_write_pli (out, sizeof out, 0xa, 0xb);
  g_assert_cmpuint (n, ==, 12);
  ASSERT_TOO_SMALL (12, mm_rtcp_write_pli (out, size, 1, 2));
  g_assert_true (parse (out, n, &items));
  g_assert_cmpuint (items->len, ==, 1);
  g_assert_cmpint (nth (items, 0)->item.kind, ==, MM_RTCP_PLI);
  g_assert_cmphex (nth (items, 0)->item.sender_ssrc, ==, 0xa);
  g_assert_cmphex (nth (items, 0)->item.media_ssrc, ==, 0xb);
  g_clear_pointer (&items, g_array_unref);

  n = mm_rtcp_write_fir (out, sizeof out, 0xa, 0xb, 201);
  g_assert_cmpuint (n, ==, 20);
  ASSERT_TOO_SMALL (20, mm_rtcp_write_fir (out, size, 1, 2, 3));
  g_assert_true (parse (out, n, &items));
  g_assert_cmpuint (items->len, ==, 1);
  g_assert_cmpint (nth (items, 0)->item.kind, ==, MM_RTCP_FIR);
  g_assert_cmphex (nth (items, 0)->item.sender_ssrc, ==, 0xa);
  g_assert_cmphex (nth (items, 0)->item.media_ssrc, ==, 0xb);
  g_assert_cmpuint (nth (items, 0)->item.u.fir.seq_nr, ==, 201);
}

/* The set of sequence numbers the NACK items in @items ask for. */
static GHashTable *
nacked (GArray *items)
{
  GHashTable *set = g_hash_table_new (NULL, NULL);

  for (guint i = 0; i < items->len; i++)
    {
      const MmRtcpItem *it = &nth (items, i)->item;

      g_assert_cmpint (it->kind, ==, MM_RTCP_NACK);
      g_hash_table_add (set, GUINT_TO_POINTER (it->u.nack.pid));
      for (guint b = 0; b < 16; b++)
        if (it->u.nack.blp & (1 << b))
          g_hash_table_add (set, GUINT_TO_POINTER ((guint16) (it->u.nack.pid + b + 1)));
    }
  return set;
}

static void
test_nack_round_trip (void)
{
  guint8 out[2048];
  g_autoptr (GArray) items = NULL;
  GRand *r = g_rand_new_with_seed (4585);
  gsize n;

  /* Unsorted with a duplicate: one FCI, pid 1000, blp 1001 1003 1016. */
  {
    const guint16 seqs[] = { 1016, 1000, 1003, 1001, 1000 };
    const guint8 want[] = { 0x81, 205, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2,
                            0x03, 0xe8, 0x80, 0x05 };

    n = mm_rtcp_write_nack (out, sizeof out, 1, 2, seqs, G_N_ELEMENTS (seqs));
    g_assert_cmpmem (out, n, want, sizeof want);
    ASSERT_TOO_SMALL (16, mm_rtcp_write_nack (out, size, 1, 2, seqs, G_N_ELEMENTS (seqs)));
    g_assert_true (parse (out, n, &items));
    g_assert_cmpuint (items->len, ==, 1);
    g_assert_cmphex (nth (items, 0)->item.sender_ssrc, ==, 1);
    g_assert_cmphex (nth (items, 0)->item.media_ssrc, ==, 2);
    g_assert_cmpuint (nth (items, 0)->item.u.nack.pid, ==, 1000);
    g_assert_cmphex (nth (items, 0)->item.u.nack.blp, ==, 0x8005);
    g_clear_pointer (&items, g_array_unref);
  }

  /* Across the wrap of the sequence numbers: still one FCI. */
  {
    const guint16 seqs[] = { 3, 0, 65535 };

    n = mm_rtcp_write_nack (out, sizeof out, 1, 2, seqs, G_N_ELEMENTS (seqs));
    g_assert_cmpuint (n, ==, 16);
    g_assert_true (parse (out, n, &items));
    g_assert_cmpuint (nth (items, 0)->item.u.nack.pid, ==, 65535);
    g_assert_cmphex (nth (items, 0)->item.u.nack.blp, ==, 0x0009);
    g_clear_pointer (&items, g_array_unref);
  }

  /* 17 apart does not fit one FCI. */
  {
    const guint16 seqs[] = { 1, 18, 100 };

    n = mm_rtcp_write_nack (out, sizeof out, 1, 2, seqs, G_N_ELEMENTS (seqs));
    g_assert_cmpuint (n, ==, 12 + 3 * 4);
    g_assert_true (parse (out, n, &items));
    g_assert_cmpuint (items->len, ==, 3);
    g_clear_pointer (&items, g_array_unref);
  }

  g_assert_cmpuint (mm_rtcp_write_nack (out, sizeof out, 1, 2, NULL, 0), ==, 0);

  /* Random sets near a random point: the same set comes back, in no more
   * FCIs than numbers. */
  for (guint round = 0; round < 500; round++)
    {
      guint16 seqs[200];
      guint m = g_rand_int_range (r, 1, G_N_ELEMENTS (seqs));
      guint16 base = g_rand_int_range (r, 0, 65536);
      guint span = g_rand_int_range (r, 1, 400);
      g_autoptr (GHashTable) want = g_hash_table_new (NULL, NULL);
      g_autoptr (GHashTable) got = NULL;
      GHashTableIter it;
      gpointer key;

      for (guint i = 0; i < m; i++)
        {
          seqs[i] = base + g_rand_int_range (r, 0, span);
          g_hash_table_add (want, GUINT_TO_POINTER (seqs[i]));
        }
      n = mm_rtcp_write_nack (out, sizeof out, 1, 2, seqs, m);
      g_assert_cmpuint (n, >=, 16);
      g_assert_cmpuint ((n - 12) / 4, <=, g_hash_table_size (want));
      g_assert_true (parse (out, n, &items));
      got = nacked (items);
      g_assert_cmpuint (g_hash_table_size (got), ==, g_hash_table_size (want));
      g_hash_table_iter_init (&it, want);
      while (g_hash_table_iter_next (&it, &key, NULL))
        g_assert_true (g_hash_table_contains (got, key));
      g_clear_pointer (&items, g_array_unref);
    }
  g_rand_free (r);
}

static void
test_remb_round_trip (void)
{
  const guint32 ssrcs[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
  const guint64 rates[] = { 0, 1, 0x3ffff, 0x40000, 1500000, 30000000, 2500000000ULL };
  guint8 out[128];
  gsize n;

  for (guint i = 0; i < G_N_ELEMENTS (rates); i++)
    for (guint k = 0; k <= 16; k += 4)
      {
        g_autoptr (GArray) items = NULL;
        const MmRtcpItem *it;
        guint64 got;

        n = mm_rtcp_write_remb (out, sizeof out, 0x55, rates[i], ssrcs, k);
        g_assert_cmpuint (n, ==, 20 + 4 * k);
        g_assert_true (parse (out, n, &items));
        g_assert_cmpuint (items->len, ==, 1);
        it = &nth (items, 0)->item;
        g_assert_cmpint (it->kind, ==, MM_RTCP_REMB);
        g_assert_cmphex (it->sender_ssrc, ==, 0x55);
        g_assert_cmpuint (it->u.remb.n_ssrcs, ==, k);
        g_assert_cmpmem (it->u.remb.ssrcs, k * 4, ssrcs, k * 4);
        /* Rounded down to 18 significant bits. */
        got = it->u.remb.bitrate;
        g_assert_cmpuint (got, <=, rates[i]);
        g_assert_cmpuint (rates[i] - got, <=, rates[i] >> 17);
      }
  ASSERT_TOO_SMALL (24, mm_rtcp_write_remb (out, size, 1, 1000, ssrcs, 1));

  /* 1.5 Mbit/s is 187500 × 2^3: exactly as libwebrtc writes it. */
  {
    const guint8 want[] = { 0x8f, 206, 0x00, 0x05, 0, 0, 0, 0x55, 0, 0, 0, 0,
                            'R', 'E', 'M', 'B', 0x01, 0x0e, 0xdc, 0x6c, 0, 0, 0, 1 };

    n = mm_rtcp_write_remb (out, sizeof out, 0x55, 1500000, ssrcs, 1);
    g_assert_cmpmem (out, n, want, sizeof want);
  }
}

static void
test_sdes (void)
{
  guint8 out[300];
  const char *name = "abcdefghij";

  for (gsize l = 0; l <= 10; l++)
    {
      g_autofree char *cname = g_strndup (name, l);
      g_autoptr (GArray) items = NULL;
      gsize n = mm_rtcp_write_sdes (out, sizeof out, 0x77, cname);

      /* Header, SSRC, type, length, text, at least one null, whole words. */
      g_assert_cmpuint (n % 4, ==, 0);
      g_assert_cmpuint (n, >=, 4 + 4 + 2 + l + 1);
      g_assert_cmpuint (n, <, 4 + 4 + 2 + l + 1 + 4);
      g_assert_cmpuint (out[0], ==, 0x81);
      g_assert_cmpuint (out[1], ==, 202);
      g_assert_cmpuint ((out[2] << 8 | out[3]), ==, n / 4 - 1);
      g_assert_cmpuint (out[8], ==, 1);
      g_assert_cmpuint (out[9], ==, l);
      g_assert_cmpmem (out + 10, l, cname, l);
      for (gsize i = 10 + l; i < n; i++)
        g_assert_cmpuint (out[i], ==, 0);
      ASSERT_TOO_SMALL (n, mm_rtcp_write_sdes (out, size, 0x77, cname));
      /* Skipped by the parser, but well formed. */
      g_assert_true (parse (out, n, &items));
      g_assert_cmpuint (items->len, ==, 0);
    }
}

static void
test_ntp (void)
{
  const guint64 epoch = G_GUINT64_CONSTANT (2208988800) << 32;

  g_assert_cmphex (mm_rtcp_ntp_from_real_us (0), ==, epoch);
  g_assert_cmphex (mm_rtcp_ntp_from_real_us (1500000), ==, epoch + (G_GUINT64_CONSTANT (1) << 32)
                   + 0x80000000);
  g_assert_cmphex (mm_rtcp_ntp_from_real_us (-500000), ==, epoch - 0x80000000);
  /* 2024-01-01T00:00:00Z, 250 ms. */
  g_assert_cmphex (mm_rtcp_ntp_from_real_us (G_GINT64_CONSTANT (1704067200250000)), ==,
                   (G_GUINT64_CONSTANT (3913056000) << 32) | 0x40000000);
}

/* ---- hand-built packets --------------------------------------------------- */

/* RFC 3550 6.4.1: an SR with two report blocks, field by field. */
static void
test_sr_blocks (void)
{
  guint8 pkt[28 + 2 * 24];
  g_autoptr (GArray) items = NULL;
  const MmRtcpItem *it;

  memset (pkt, 0, sizeof pkt);
  pkt[0] = 0x82;                       /* V=2, RC=2 */
  pkt[1] = 200;
  put16 (pkt + 2, sizeof pkt / 4 - 1);
  put32 (pkt + 4, 0x01020304);         /* SSRC of sender */
  put32 (pkt + 8, 0xe9a1b2c3);         /* NTP seconds */
  put32 (pkt + 12, 0x80000000);        /* NTP fraction */
  put32 (pkt + 16, 123456);            /* RTP timestamp */
  put32 (pkt + 20, 100);               /* packets */
  put32 (pkt + 24, 120000);            /* octets */
  put32 (pkt + 28, 0xaaaa0001);        /* block 1: SSRC */
  pkt[32] = 64;                        /* fraction lost 25 % */
  pkt[33] = 0x00; pkt[34] = 0x01; pkt[35] = 0x00;   /* cumulative 256 */
  put32 (pkt + 36, 0x00020010);        /* cycles 2, seq 16 */
  put32 (pkt + 40, 33);                /* jitter */
  put32 (pkt + 44, 0xa1b2c3d4);        /* LSR */
  put32 (pkt + 48, 0x00010000);        /* DLSR: 1 s */
  put32 (pkt + 52, 0xaaaa0002);        /* block 2 */
  pkt[56] = 0;
  pkt[57] = 0xff; pkt[58] = 0xff; pkt[59] = 0xfe;   /* cumulative -2 (duplicates) */

  g_assert_true (parse (pkt, sizeof pkt, &items));
  g_assert_cmpuint (items->len, ==, 1);
  it = &nth (items, 0)->item;
  g_assert_cmpint (it->kind, ==, MM_RTCP_SR);
  g_assert_cmphex (it->sender_ssrc, ==, 0x01020304);
  g_assert_cmphex (it->u.report.ntp, ==, 0xe9a1b2c380000000ULL);
  g_assert_cmpuint (it->u.report.rtp_ts, ==, 123456);
  g_assert_cmpuint (it->u.report.packets, ==, 100);
  g_assert_cmpuint (it->u.report.octets, ==, 120000);
  g_assert_cmpuint (it->u.report.n_blocks, ==, 2);
  g_assert_cmphex (it->u.report.blocks[0].ssrc, ==, 0xaaaa0001);
  g_assert_cmpuint (it->u.report.blocks[0].fraction_lost, ==, 64);
  g_assert_cmpint (it->u.report.blocks[0].cumulative_lost, ==, 256);
  g_assert_cmphex (it->u.report.blocks[0].highest_seq, ==, 0x00020010);
  g_assert_cmpuint (it->u.report.blocks[0].jitter, ==, 33);
  g_assert_cmphex (it->u.report.blocks[0].lsr, ==, 0xa1b2c3d4);
  g_assert_cmphex (it->u.report.blocks[0].dlsr, ==, 0x10000);
  g_assert_cmphex (it->u.report.blocks[1].ssrc, ==, 0xaaaa0002);
  g_assert_cmpint (it->u.report.blocks[1].cumulative_lost, ==, -2);

  /* RC says 3 blocks, the length holds 2. */
  g_clear_pointer (&items, g_array_unref);
  pkt[0] = 0x83;
  g_assert_false (parse (pkt, sizeof pkt, &items));
  g_assert_cmpuint (items->len, ==, 0);
}

/* RFC 4585 6.2.1 and RFC 5104 4.3.1: two NACK FCIs, two FIR entries. */
static void
test_nack_fir_fci (void)
{
  const guint8 nack[] = { 0x81, 205, 0x00, 0x04, 0, 0, 0, 9, 0, 0, 0, 8,
                          0x00, 0x64, 0x00, 0x01,    /* 100, 101 */
                          0xff, 0xff, 0x80, 0x00 };  /* 65535, 15 */
  const guint8 fir[] = { 0x84, 206, 0x00, 0x06, 0, 0, 0, 9, 0, 0, 0, 0,
                         0, 0, 0, 0x21, 5, 0, 0, 0,
                         0, 0, 0, 0x22, 6, 0, 0, 0 };
  g_autoptr (GArray) items = NULL;

  g_assert_true (parse (nack, sizeof nack, &items));
  g_assert_cmpuint (items->len, ==, 2);
  g_assert_cmpuint (nth (items, 0)->item.u.nack.pid, ==, 100);
  g_assert_cmphex (nth (items, 0)->item.u.nack.blp, ==, 0x0001);
  g_assert_cmpuint (nth (items, 1)->item.u.nack.pid, ==, 65535);
  g_assert_cmphex (nth (items, 1)->item.u.nack.blp, ==, 0x8000);
  g_assert_cmphex (nth (items, 1)->item.media_ssrc, ==, 8);
  {
    g_autoptr (GHashTable) set = nacked (items);

    g_assert_cmpuint (g_hash_table_size (set), ==, 4);
    g_assert_true (g_hash_table_contains (set, GUINT_TO_POINTER (15)));
  }
  g_clear_pointer (&items, g_array_unref);

  g_assert_true (parse (fir, sizeof fir, &items));
  g_assert_cmpuint (items->len, ==, 2);
  g_assert_cmpint (nth (items, 0)->item.kind, ==, MM_RTCP_FIR);
  g_assert_cmphex (nth (items, 0)->item.media_ssrc, ==, 0x21);
  g_assert_cmpuint (nth (items, 0)->item.u.fir.seq_nr, ==, 5);
  g_assert_cmphex (nth (items, 1)->item.media_ssrc, ==, 0x22);
  g_assert_cmpuint (nth (items, 1)->item.u.fir.seq_nr, ==, 6);
}

/* draft-alvestrand-rmcat-remb 2.2. */
static void
test_remb_fci (void)
{
  guint8 pkt[] = { 0x8f, 206, 0x00, 0x06, 0, 0, 0, 1, 0, 0, 0, 0,
                   'R', 'E', 'M', 'B', 0x02, 0x0e, 0xdc, 0x6c,
                   0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22 };
  g_autoptr (GArray) items = NULL;

  g_assert_true (parse (pkt, sizeof pkt, &items));
  g_assert_cmpuint (items->len, ==, 1);
  g_assert_cmpuint (nth (items, 0)->item.u.remb.bitrate, ==, 1500000);
  g_assert_cmpuint (nth (items, 0)->item.u.remb.n_ssrcs, ==, 2);
  g_assert_cmphex (nth (items, 0)->item.u.remb.ssrcs[1], ==, 0x22222222);
  g_clear_pointer (&items, g_array_unref);

  /* Exponent 63 with a full mantissa: saturates, does not wrap. */
  pkt[17] = 0xff; pkt[18] = 0xff; pkt[19] = 0xff;
  g_assert_true (parse (pkt, sizeof pkt, &items));
  g_assert_cmpuint (nth (items, 0)->item.u.remb.bitrate, ==, G_MAXUINT64);
  g_clear_pointer (&items, g_array_unref);

  /* Three SSRCs said, two there. */
  pkt[16] = 3;
  g_assert_false (parse (pkt, sizeof pkt, &items));
  g_assert_cmpuint (items->len, ==, 0);
  g_clear_pointer (&items, g_array_unref);

  /* Other application feedback is skipped. */
  pkt[12] = 'X';
  g_assert_true (parse (pkt, sizeof pkt, &items));
  g_assert_cmpuint (items->len, ==, 0);
}

/* Transport-wide cc feedback with the three kinds of chunk:
 *   run length: 3 × "small delta";
 *   1-bit vector: 1 0 1 1 0 0 0 0 0 0 0 0 0 1;
 *   2-bit vector: large, not received, small, large, small (and two
 *   symbols past the count, ignored). */
static const guint8 twcc_pkt[] = {
  0x8f, 205, 0x00, 0x09,
  0x00, 0x00, 0x00, 0x01,             /* sender */
  0x00, 0x00, 0x00, 0x02,             /* media */
  0x00, 0x64, 0x00, 0x16,             /* base 100, count 22 */
  0xff, 0xff, 0xfe, 0x07,             /* reference time -2, fb count 7 */
  0x20, 0x03,                         /* run: symbol 1 × 3 */
  0xac, 0x01,                         /* 1-bit vector */
  0xe1, 0x90,                         /* 2-bit vector */
  0x04, 0x00, 0xff,                   /* small: 1 ms, 0, 63.75 ms */
  0x08, 0x01, 0x02, 0x03,             /* small ×4 */
  0xff, 0xfc,                         /* large: -1 ms */
  0x0a,                               /* small */
  0x10, 0x00,                         /* large: 1.024 s */
  0x14,                               /* small */
  0x00,                               /* padding to the word */
};

static void
test_twcc (void)
{
  const guint8 want_received[22] = { 1, 1, 1,
                                     1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                                     1, 0, 1, 1, 1 };
  const gint32 want_delta[22] = { 1000, 0, 63750,
                                  2000, 0, 250, 500, 0, 0, 0, 0, 0, 0, 0, 0, 0, 750,
                                  -1000, 0, 2500, 1024000, 5000 };
  g_autoptr (GArray) items = NULL;
  const Visited *v;

  g_assert_cmpuint (sizeof twcc_pkt, ==, 40);
  g_assert_true (parse (twcc_pkt, sizeof twcc_pkt, &items));
  g_assert_cmpuint (items->len, ==, 1);
  v = nth (items, 0);
  g_assert_cmpint (v->item.kind, ==, MM_RTCP_TWCC);
  g_assert_cmphex (v->item.sender_ssrc, ==, 1);
  g_assert_cmphex (v->item.media_ssrc, ==, 2);
  g_assert_cmpuint (v->item.u.twcc.base_seq, ==, 100);
  g_assert_cmpuint (v->item.u.twcc.count, ==, 22);
  g_assert_cmpint (v->item.u.twcc.reference_time, ==, -2);
  g_assert_cmpuint (v->item.u.twcc.fb_pkt_count, ==, 7);
  g_assert_cmpmem (v->received, 22, want_received, sizeof want_received);
  g_assert_cmpmem (v->delta_us, 22 * sizeof (gint32), want_delta, sizeof want_delta);
}

static void
test_twcc_malformed (void)
{
  guint8 pkt[64];
  g_autoptr (GArray) items = NULL;

  /* Count 22, but the deltas of the last received packets missing: the
   * same packet with its length cut by one word (and more). */
  memcpy (pkt, twcc_pkt, sizeof twcc_pkt);
  for (guint words = 4; words <= 8; words++)
    {
      put16 (pkt + 2, words);
      g_assert_false (parse (pkt, 4 * (words + 1), &items));
      g_clear_pointer (&items, g_array_unref);
    }

  /* Count 30000 and one run-length chunk of 8191: the next "chunks" are
   * the padding, then the packet ends. */
  memset (pkt, 0, sizeof pkt);
  pkt[0] = 0x8f;
  pkt[1] = 205;
  put16 (pkt + 2, 5);
  put16 (pkt + 14, 30000);
  put16 (pkt + 20, 0x1fff);   /* run: not received × 8191 */
  g_assert_false (parse (pkt, 24, &items));
  g_clear_pointer (&items, g_array_unref);

  /* Nine run-length chunks describe 65535 packets, none received: the
   * most a packet can describe. */
  put16 (pkt + 2, 9);
  put16 (pkt + 14, 65535);
  for (guint i = 0; i < 9; i++)
    put16 (pkt + 20 + 2 * i, 0x1fff);
  g_assert_true (parse (pkt, 40, &items));
  g_assert_cmpuint (items->len, ==, 1);
  g_assert_cmpuint (nth (items, 0)->item.u.twcc.count, ==, 65535);
  g_assert_cmpuint (nth (items, 0)->received[65534], ==, 0);
  g_clear_pointer (&items, g_array_unref);

  /* Eight chunks are one run of 7 short. */
  put16 (pkt + 2, 8);
  g_assert_false (parse (pkt, 36, &items));
  g_clear_pointer (&items, g_array_unref);

  /* The reserved symbol 3, in a run and in a 2-bit vector. */
  memset (pkt, 0, sizeof pkt);
  pkt[0] = 0x8f;
  pkt[1] = 205;
  put16 (pkt + 2, 5);
  put16 (pkt + 14, 1);
  put16 (pkt + 20, 0x6001);
  g_assert_false (parse (pkt, 24, &items));
  g_clear_pointer (&items, g_array_unref);
  put16 (pkt + 20, 0xf000);
  g_assert_false (parse (pkt, 24, &items));
  g_clear_pointer (&items, g_array_unref);

  /* Shorter than the TWCC header. */
  put16 (pkt + 2, 3);
  g_assert_false (parse (pkt, 16, &items));
}

/* Write a TWCC packet of @count statuses, parse it back, and check that
 * every field and every status and delta came back.  The deltas are
 * whole 250 µs units, so they come back exactly. */
static gsize
twcc_round_trip (guint16 base, guint count, gint32 reference, guint8 fb_count,
                 const guint8 *received, const gint32 *delta_us)
{
  gsize size = 20 + 4 * (gsize) count + 4;
  g_autofree guint8 *out = g_malloc (size);
  g_autoptr (GArray) items = NULL;
  const Visited *v;
  gsize n;

  n = mm_rtcp_write_twcc (out, size, 0x5eed, 0xface, base, (guint16) count, reference, fb_count,
                          received, delta_us);
  g_assert_cmpuint (n, >=, 20);
  g_assert_cmpuint (n % 4, ==, 0);
  g_assert_cmpuint ((out[2] << 8 | out[3]), ==, n / 4 - 1);
  g_assert_true (parse (out, n, &items));
  g_assert_cmpuint (items->len, ==, 1);
  v = nth (items, 0);
  g_assert_cmpint (v->item.kind, ==, MM_RTCP_TWCC);
  g_assert_cmphex (v->item.sender_ssrc, ==, 0x5eed);
  g_assert_cmphex (v->item.media_ssrc, ==, 0xface);
  g_assert_cmpuint (v->item.u.twcc.base_seq, ==, base);
  g_assert_cmpuint (v->item.u.twcc.count, ==, count);
  g_assert_cmpint (v->item.u.twcc.reference_time, ==, reference);
  g_assert_cmpuint (v->item.u.twcc.fb_pkt_count, ==, fb_count);
  for (guint i = 0; i < count; i++)
    {
      g_assert_cmpuint (v->received[i], ==, received[i] ? 1 : 0);
      g_assert_cmpint (v->delta_us[i], ==, received[i] ? delta_us[i] : 0);
    }
  return n;
}

static void
test_twcc_round_trip (void)
{
  GRand *r = g_rand_new_with_seed (8888);

  /* Three received with small deltas: one run-length chunk, byte for byte. */
  {
    const guint8 received[] = { 1, 1, 1 };
    const gint32 delta[] = { 1000, 0, 63750 };
    const guint8 want[] = { 0x8f, 205, 0x00, 0x06, 0, 0, 0, 1, 0, 0, 0, 2,
                            0x00, 0x64, 0x00, 0x03, 0x00, 0x00, 0x05, 0x09,
                            0x20, 0x03, 0x04, 0x00, 0xff, 0x00, 0x00, 0x00 };
    guint8 out[64];
    gsize n = mm_rtcp_write_twcc (out, sizeof out, 1, 2, 100, 3, 5, 9, received, delta);

    g_assert_cmpmem (out, n, want, sizeof want);
    ASSERT_TOO_SMALL (sizeof want, mm_rtcp_write_twcc (out, size, 1, 2, 100, 3, 5, 9, received,
                                                       delta));
  }

  /* The statuses and deltas of the hand-built packet (all three kinds of
   * chunk, lost packets, a negative and a large delta) come back, though
   * the writer chunks them its own way; a 63.75 ms delta stays small, the
   * next unit up is large. */
  {
    const guint8 received[] = { 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                                1, 0, 1, 1, 1, 1 };
    const gint32 delta[] = { 1000, 0, 63750, 2000, 0, 250, 500, 0, 0, 0, 0, 0, 0, 0, 0, 0, 750,
                             -1000, 0, 2500, 1024000, 5000, 64000 };

    twcc_round_trip (65530, G_N_ELEMENTS (received), -2, 7, received, delta);
    twcc_round_trip (0, G_N_ELEMENTS (received), 0x7fffff, 255, received, delta);
    twcc_round_trip (1, G_N_ELEMENTS (received), -0x800000, 0, received, delta);
  }

  /* Nothing described, and one packet, lost or received. */
  {
    const guint8 lost[] = { 0 }, got[] = { 1 };
    const gint32 delta[] = { -8192000 };

    g_assert_cmpuint (twcc_round_trip (7, 0, 0, 0, lost, delta), ==, 20);
    g_assert_cmpuint (twcc_round_trip (7, 1, 0, 0, lost, delta), ==, 24);
    g_assert_cmpuint (twcc_round_trip (7, 1, 0, 0, got, delta), ==, 24);
  }

  /* Deltas between units round to the nearest, halves away from zero;
   * those past two bytes are clamped. */
  {
    const guint8 received[] = { 1, 1, 1, 1, 1, 1 };
    const gint32 delta[] = { 374, 375, -125, -124, 10000000, -10000000 };
    const gint32 want[] = { 250, 500, -250, 0, 32767 * 250, -32768 * 250 };
    guint8 out[64];
    g_autoptr (GArray) items = NULL;
    gsize n = mm_rtcp_write_twcc (out, sizeof out, 1, 2, 0, 6, 0, 0, received, delta);

    g_assert_true (parse (out, n, &items));
    g_assert_cmpmem (nth (items, 0)->delta_us, sizeof want, want, sizeof want);
  }

  /* Random feedback of up to a few hundred packets: losses in bursts or
   * scattered, deltas small, large, negative, in any mix; and the rare
   * long run of losses past what one run-length chunk holds. */
  for (guint round = 0; round < 2000; round++)
    {
      guint count = round < 1990 ? (guint) g_rand_int_range (r, 1, 600)
                                 : (guint) g_rand_int_range (r, 8000, 20000);
      g_autofree guint8 *received = g_malloc (count);
      g_autofree gint32 *delta = g_malloc (count * sizeof (gint32));
      guint loss = g_rand_int_range (r, 0, 101);
      guint large = g_rand_int_range (r, 0, 30);
      gboolean burst = FALSE;

      for (guint i = 0; i < count; i++)
        {
          if (g_rand_int_range (r, 0, 20) == 0)
            burst = !burst;
          received[i] = round >= 1990 ? (i == 0 || i == count - 1)
                        : burst ? (guint) g_rand_int_range (r, 0, 100) >= loss
                                : (guint) g_rand_int_range (r, 0, 100) >= loss / 10;
          if ((guint) g_rand_int_range (r, 0, 100) < large)
            delta[i] = 250 * g_rand_int_range (r, G_MININT16, G_MAXINT16 + 1);
          else
            delta[i] = 250 * g_rand_int_range (r, 0, 256);
        }
      twcc_round_trip ((guint16) g_rand_int (r), count,
                       g_rand_int_range (r, -0x800000, 0x800000), (guint8) round, received, delta);
    }
  g_rand_free (r);
}

/* The feedback we send on what we receive (transport/twcc.h): what was
 * noted comes back from the parser, arrival times to the 250 µs unit,
 * and the next feedback starts where the previous one ended. */
static void
test_twcc_recorder (void)
{
  MmTwccRecorder *r = g_new (MmTwccRecorder, 1);
  guint8 out[1500];
  g_autoptr (GArray) items = NULL;
  const Visited *v;
  const gint64 t0 = 1000 * 64000 + 12345;   /* µs, monotonic */
  gint64 at;
  gsize n;

  mm_twcc_recorder_init (r);
  g_assert_false (mm_twcc_recorder_pending (r));
  g_assert_cmpuint (mm_twcc_recorder_write (r, out, sizeof out, 1, 2), ==, 0);
  /* 65534 to 3 across the wrap, 65535 and 1 missing, 2 before 0 (reordered). */
  mm_twcc_recorder_note (r, 65534, t0);
  mm_twcc_recorder_note (r, 0, t0 + 5000);
  mm_twcc_recorder_note (r, 2, t0 + 4000);
  mm_twcc_recorder_note (r, 2, t0 + 9000);   /* a duplicate: the first time counts */
  mm_twcc_recorder_note (r, 3, t0 + 70000);
  g_assert_true (mm_twcc_recorder_pending (r));
  ASSERT_TOO_SMALL (20, mm_twcc_recorder_write (r, out, size, 1, 2));
  n = mm_twcc_recorder_write (r, out, sizeof out, 0x5eed, 0xface);
  g_assert_cmpuint (n, >, 20);
  g_assert_false (mm_twcc_recorder_pending (r));
  g_assert_true (parse (out, n, &items));
  v = nth (items, 0);
  g_assert_cmpint (v->item.kind, ==, MM_RTCP_TWCC);
  g_assert_cmphex (v->item.sender_ssrc, ==, 0x5eed);
  g_assert_cmphex (v->item.media_ssrc, ==, 0xface);
  g_assert_cmpuint (v->item.u.twcc.base_seq, ==, 65534);
  g_assert_cmpuint (v->item.u.twcc.count, ==, 6);
  g_assert_cmpuint (v->item.u.twcc.fb_pkt_count, ==, 0);
  g_assert_cmpint (v->item.u.twcc.reference_time, ==, t0 / 64000);
  {
    const guint8 want_received[] = { 1, 0, 1, 0, 1, 1 };
    const gint64 want_at[] = { t0, 0, t0 + 5000, 0, t0 + 4000, t0 + 70000 };

    at = (gint64) v->item.u.twcc.reference_time * 64000;
    for (guint i = 0; i < 6; i++)
      {
        g_assert_cmpuint (v->received[i], ==, want_received[i]);
        if (!want_received[i])
          continue;
        at += v->delta_us[i];
        g_assert_cmpint (at, ==, want_at[i] / 250 * 250);
      }
  }
  g_clear_pointer (&items, g_array_unref);

  /* The next one starts at 4; 1 and 65535 come too late and stay lost. */
  mm_twcc_recorder_note (r, 1, t0 + 80000);
  mm_twcc_recorder_note (r, 65535, t0 + 80000);
  g_assert_false (mm_twcc_recorder_pending (r));
  g_assert_cmpuint (r->late, ==, 2);
  mm_twcc_recorder_note (r, 5, t0 + 90000);
  n = mm_twcc_recorder_write (r, out, sizeof out, 1, 2);
  g_assert_true (parse (out, n, &items));
  v = nth (items, 0);
  g_assert_cmpuint (v->item.u.twcc.base_seq, ==, 4);
  g_assert_cmpuint (v->item.u.twcc.count, ==, 2);
  g_assert_cmpuint (v->item.u.twcc.fb_pkt_count, ==, 1);
  g_assert_cmpuint (v->received[0], ==, 0);
  g_assert_cmpuint (v->received[1], ==, 1);
  g_clear_pointer (&items, g_array_unref);

  /* A jump past what one feedback holds: it starts again from there. */
  mm_twcc_recorder_note (r, 7, t0 + 100000);
  mm_twcc_recorder_note (r, 7 + MM_TWCC_SPAN + 10, t0 + 110000);
  n = mm_twcc_recorder_write (r, out, sizeof out, 1, 2);
  g_assert_true (parse (out, n, &items));
  v = nth (items, 0);
  g_assert_cmpuint (v->item.u.twcc.base_seq, ==, 7 + MM_TWCC_SPAN + 10);
  g_assert_cmpuint (v->item.u.twcc.count, ==, 1);
  g_free (r);
}

/* ---- compound packets ------------------------------------------------------ */

/* SR with two blocks, SDES, PLI, NACK, REMB, FIR, TWCC: as a browser's
 * compound might be, each packet written by our writers. */
static gsize
make_compound (guint8 *out, gsize size, gsize *bounds, guint *n_bounds)
{
  const guint16 seqs[] = { 7, 9, 40 };
  const guint32 ssrcs[] = { 0x99 };
  MmRtcpReportBlock rb[2];
  gsize off = 0, n;

  memset (rb, 0, sizeof rb);
  rb[0].ssrc = 0x31;
  rb[1].ssrc = 0x32;
  rb[1].cumulative_lost = -5;
  *n_bounds = 0;

  /* An SR with blocks: write the RR form and turn it into an SR. */
  n = mm_rtcp_write_sr (out + off, size - off, 0x10, 0x1122334455667788ULL, 1, 2, 3);
  g_assert_cmpuint (n, >, 0);
  n += mm_rtcp_write_rr (out + off + n, size - off - n, 0x10, rb, 2) - 8;
  memmove (out + off + 28, out + off + 28 + 8, 48);
  out[off] = 0x82;
  out[off + 3] = n / 4 - 1;
  off += n;
  bounds[(*n_bounds)++] = off;
  off += mm_rtcp_write_sdes (out + off, size - off, 0x10, "mixmeet");
  bounds[(*n_bounds)++] = off;
  off += mm_rtcp_write_pli (out + off, size - off, 0x10, 0x20);
  bounds[(*n_bounds)++] = off;
  off += mm_rtcp_write_nack (out + off, size - off, 0x10, 0x20, seqs, G_N_ELEMENTS (seqs));
  bounds[(*n_bounds)++] = off;
  off += mm_rtcp_write_remb (out + off, size - off, 0x10, 800000, ssrcs, 1);
  bounds[(*n_bounds)++] = off;
  off += mm_rtcp_write_fir (out + off, size - off, 0x10, 0x20, 3);
  bounds[(*n_bounds)++] = off;
  memcpy (out + off, twcc_pkt, sizeof twcc_pkt);
  off += sizeof twcc_pkt;
  bounds[(*n_bounds)++] = off;
  return off;
}

static void
test_compound (void)
{
  guint8 buf[512];
  gsize bounds[16];
  guint n_bounds;
  gsize len = make_compound (buf, sizeof buf, bounds, &n_bounds);
  g_autoptr (GArray) items = NULL;
  const MmRtcpKind kinds[] = { MM_RTCP_SR, MM_RTCP_PLI, MM_RTCP_NACK, MM_RTCP_NACK,
                               MM_RTCP_REMB, MM_RTCP_FIR, MM_RTCP_TWCC };
  /* How many items the packets up to each boundary make. */
  const guint items_at[] = { 1, 1, 2, 4, 5, 6, 7 };

  g_assert_true (parse (buf, len, &items));
  g_assert_cmpuint (items->len, ==, G_N_ELEMENTS (kinds));
  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    g_assert_cmpint (nth (items, i)->item.kind, ==, kinds[i]);
  g_assert_cmpuint (nth (items, 0)->item.u.report.n_blocks, ==, 2);
  g_assert_cmpint (nth (items, 0)->item.u.report.blocks[1].cumulative_lost, ==, -5);
  g_assert_cmphex (nth (items, 0)->item.u.report.ntp, ==, 0x1122334455667788ULL);
  g_assert_cmpuint (nth (items, 3)->item.u.nack.pid, ==, 40);

  /* Every truncation: at a packet boundary, a shorter valid compound
   * whose items are the first ones; anywhere else FALSE, with only the
   * items of the whole packets before the cut visited (a NACK's FCIs
   * are visited only once its packet is known to be whole). */
  for (gsize cut = 0; cut < len; cut++)
    {
      g_autoptr (GArray) part = NULL;
      gboolean ok = parse (buf, cut, &part);
      guint whole = 0, expect = 0;

      for (guint b = 0; b < n_bounds; b++)
        if (bounds[b] <= cut)
          {
            whole = b + 1;
            expect = items_at[b];
          }
      g_test_message ("cut %" G_GSIZE_FORMAT ": %s, %u items", cut, ok ? "ok" : "bad",
                      part->len);
      if (cut > 0 && whole > 0 && bounds[whole - 1] == cut)
        g_assert_true (ok);
      else
        g_assert_false (ok);
      g_assert_cmpuint (part->len, ==, expect);
      for (guint i = 0; i < part->len; i++)
        {
          const MmRtcpItem *a = &nth (part, i)->item, *b = &nth (items, i)->item;

          g_assert_cmpint (a->kind, ==, b->kind);
          g_assert_cmphex (a->sender_ssrc, ==, b->sender_ssrc);
          g_assert_cmphex (a->media_ssrc, ==, b->media_ssrc);
        }
    }
}

static void
test_malformed (void)
{
  guint8 buf[512];
  gsize bounds[16];
  guint n_bounds;
  gsize len = make_compound (buf, sizeof buf, bounds, &n_bounds);
  g_autoptr (GArray) items = NULL;

  g_assert_false (parse (buf, 0, &items));
  g_clear_pointer (&items, g_array_unref);

  /* The SDES (second packet) says it is one word longer than the rest of
   * the datagram: the SR before it was visited. */
  {
    guint8 b[512];
    guint words = (len - bounds[0]) / 4;

    memcpy (b, buf, len);
    put16 (b + bounds[0] + 2, words);
    g_assert_false (parse (b, len, &items));
    g_assert_cmpuint (items->len, ==, 1);
    g_clear_pointer (&items, g_array_unref);
    /* Its length 0xffff. */
    put16 (b + bounds[0] + 2, 0xffff);
    g_assert_false (parse (b, len, &items));
    g_clear_pointer (&items, g_array_unref);
  }

  /* A bad version in the PLI: SR seen, nothing after. */
  {
    guint8 b[512];

    memcpy (b, buf, len);
    b[bounds[1]] = 0x41;
    g_assert_false (parse (b, len, &items));
    g_assert_cmpuint (items->len, ==, 1);
    g_clear_pointer (&items, g_array_unref);
  }

  /* Feedback shorter than its SSRCs: a PLI of length 1. */
  {
    const guint8 pli[] = { 0x81, 206, 0x00, 0x01, 0, 0, 0, 1 };

    g_assert_false (parse (pli, sizeof pli, &items));
    g_clear_pointer (&items, g_array_unref);
  }

  /* NACK and FIR without a whole FCI. */
  {
    const guint8 nack[] = { 0x81, 205, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2 };
    const guint8 fir[] = { 0x84, 206, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5 };

    g_assert_false (parse (nack, sizeof nack, &items));
    g_clear_pointer (&items, g_array_unref);
    g_assert_false (parse (fir, sizeof fir, &items));
    g_clear_pointer (&items, g_array_unref);
  }

  /* Padding: an RR padded by one word is fine; a count of 0 or one
   * reaching into the header is not. */
  {
    guint8 rr[] = { 0xa0, 201, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 4 };

    g_assert_true (parse (rr, sizeof rr, &items));
    g_assert_cmpuint (items->len, ==, 1);
    g_clear_pointer (&items, g_array_unref);
    rr[11] = 0;
    g_assert_false (parse (rr, sizeof rr, &items));
    g_clear_pointer (&items, g_array_unref);
    rr[11] = 12;
    g_assert_false (parse (rr, sizeof rr, &items));
    g_clear_pointer (&items, g_array_unref);
    /* 8 leaves only the header: too short for an RR. */
    rr[11] = 8;
    g_assert_false (parse (rr, sizeof rr, &items));
    g_clear_pointer (&items, g_array_unref);
  }

  /* Unknown types and formats are skipped: APP, BYE, XR, RTPFB 3. */
  {
    const guint8 skip[] = { 0x80, 204, 0x00, 0x02, 0, 0, 0, 1, 'n', 'a', 'm', 'e',
                            0x81, 203, 0x00, 0x01, 0, 0, 0, 1,
                            0x80, 207, 0x00, 0x01, 0, 0, 0, 1,
                            0x83, 205, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2,
                            0x80, 201, 0x00, 0x01, 0, 0, 0, 1 };

    g_assert_true (parse (skip, sizeof skip, &items));
    g_assert_cmpuint (items->len, ==, 1);
    g_assert_cmpint (nth (items, 0)->item.kind, ==, MM_RTCP_RR);
    g_clear_pointer (&items, g_array_unref);
  }

  /* Random bytes with RTCP's first byte: never a crash, and a parser
   * reused across packets. */
  {
    g_autoptr (MmRtcpParser) p = mm_rtcp_parser_new ();
    GRand *r = g_rand_new_with_seed (3550);
    Collect c;

    c.items = g_array_new (FALSE, TRUE, sizeof (Visited));
    g_array_set_clear_func (c.items, visited_clear);
    for (guint i = 0; i < 20000; i++)
      {
        gsize n = g_rand_int_range (r, 0, 200);
        g_autofree guint8 *b = g_malloc (n + 1);

        for (gsize j = 0; j < n; j++)
          b[j] = g_rand_int_range (r, 0, 256);
        if (n > 4)
          {
            b[0] = 0x80 | (b[0] & 0x3f);
            b[1] = 200 + g_rand_int_range (r, 0, 8);
            put16 (b + 2, g_rand_int_range (r, 0, n / 4 + 2));
          }
        mm_rtcp_parse (p, b, n, collect, &c);
        g_array_set_size (c.items, 0);
      }
    g_array_unref (c.items);
    g_rand_free (r);
  }
}

/* ---- history ---------------------------------------------------------------- */

static void
make_rtp (guint8 *pkt, gsize len, guint16 seq)
{
  memset (pkt, (guint8) seq, len);
  pkt[0] = 0x80;
  pkt[1] = 96;
  put16 (pkt + 2, seq);
}

static void
test_history (void)
{
  g_autoptr (MmRtpHistory) h = mm_rtp_history_new (100);   /* 128 slots */
  guint8 pkt[MM_HISTORY_MAX_PACKET + 1];
  const guint8 *got;
  gsize len = 0;

  g_assert_null (mm_rtp_history_get (h, 0, &len));

  for (guint s = 0; s < 128; s++)
    {
      make_rtp (pkt, 100 + s, s);
      mm_rtp_history_put (h, pkt, 100 + s);
    }
  for (guint s = 0; s < 128; s++)
    {
      got = mm_rtp_history_get (h, s, &len);
      g_assert_nonnull (got);
      g_assert_cmpuint (len, ==, 100 + s);
      make_rtp (pkt, len, s);
      g_assert_cmpmem (got, len, pkt, len);
    }

  /* 128 takes 0's slot: 0 is gone, and so is any other number of that
   * slot. */
  make_rtp (pkt, 200, 128);
  mm_rtp_history_put (h, pkt, 200);
  g_assert_null (mm_rtp_history_get (h, 0, &len));
  g_assert_null (mm_rtp_history_get (h, 256, &len));
  g_assert_nonnull (mm_rtp_history_get (h, 128, &len));
  g_assert_cmpuint (len, ==, 200);
  g_assert_nonnull (mm_rtp_history_get (h, 1, &len));

  /* The largest packet kept; one byte more is not, and leaves nothing
   * behind for its number; too short for an RTP header neither. */
  make_rtp (pkt, MM_HISTORY_MAX_PACKET, 5);
  mm_rtp_history_put (h, pkt, MM_HISTORY_MAX_PACKET);
  g_assert_nonnull (mm_rtp_history_get (h, 5, &len));
  g_assert_cmpuint (len, ==, MM_HISTORY_MAX_PACKET);
  make_rtp (pkt, sizeof pkt, 5);
  mm_rtp_history_put (h, pkt, sizeof pkt);
  g_assert_null (mm_rtp_history_get (h, 5, &len));
  make_rtp (pkt, sizeof pkt, 6);
  mm_rtp_history_put (h, pkt, 11);
  g_assert_nonnull (mm_rtp_history_get (h, 6, &len));
  g_assert_cmpuint (len, ==, 106);
}

static void
test_history_wrap (void)
{
  g_autoptr (MmRtpHistory) h = mm_rtp_history_new (16);
  guint8 pkt[64];
  gsize len;

  /* Across the 16-bit wrap. */
  for (guint i = 0; i < 16; i++)
    {
      guint16 seq = 65528 + i;

      make_rtp (pkt, 20, seq);
      mm_rtp_history_put (h, pkt, 20);
    }
  for (guint i = 0; i < 16; i++)
    {
      guint16 seq = 65528 + i;
      const guint8 *got = mm_rtp_history_get (h, seq, &len);

      g_assert_nonnull (got);
      g_assert_cmpuint ((got[2] << 8 | got[3]), ==, seq);
    }
  /* A number 16 or 65536 - 16 away shares the slot but is not there. */
  g_assert_null (mm_rtp_history_get (h, 65528 - 16, &len));
  g_assert_null (mm_rtp_history_get (h, 8 + 16, &len));

  /* Capacity 1 and 0 still work, as one slot. */
  {
    g_autoptr (MmRtpHistory) one = mm_rtp_history_new (0);

    make_rtp (pkt, 20, 9);
    mm_rtp_history_put (one, pkt, 20);
    g_assert_nonnull (mm_rtp_history_get (one, 9, &len));
    make_rtp (pkt, 20, 10);
    mm_rtp_history_put (one, pkt, 20);
    g_assert_null (mm_rtp_history_get (one, 9, &len));
    g_assert_nonnull (mm_rtp_history_get (one, 10, &len));
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/rtp/parse", test_rtp_basic);
  g_test_add_func ("/rtp/parse-malformed", test_rtp_malformed);
  g_test_add_func ("/rtp/extension/one-byte", test_rtp_extension_one_byte);
  g_test_add_func ("/rtp/extension/two-byte", test_rtp_extension_two_byte);
  g_test_add_func ("/rtcp/write/sr", test_sr_round_trip);
  g_test_add_func ("/rtcp/write/rr", test_rr_round_trip);
  g_test_add_func ("/rtcp/write/pli-fir", test_pli_fir_round_trip);
  g_test_add_func ("/rtcp/write/nack", test_nack_round_trip);
  g_test_add_func ("/rtcp/write/remb", test_remb_round_trip);
  g_test_add_func ("/rtcp/write/sdes", test_sdes);
  g_test_add_func ("/rtcp/write/twcc", test_twcc_round_trip);
  g_test_add_func ("/rtcp/write/twcc-recorder", test_twcc_recorder);
  g_test_add_func ("/rtcp/ntp", test_ntp);
  g_test_add_func ("/rtcp/parse/sr-blocks", test_sr_blocks);
  g_test_add_func ("/rtcp/parse/nack-fir", test_nack_fir_fci);
  g_test_add_func ("/rtcp/parse/remb", test_remb_fci);
  g_test_add_func ("/rtcp/parse/twcc", test_twcc);
  g_test_add_func ("/rtcp/parse/twcc-malformed", test_twcc_malformed);
  g_test_add_func ("/rtcp/parse/compound", test_compound);
  g_test_add_func ("/rtcp/parse/malformed", test_malformed);
  g_test_add_func ("/history/put-get", test_history);
  g_test_add_func ("/history/wrap", test_history_wrap);
  return g_test_run ();
}
