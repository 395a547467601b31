/* unit-srtp.c — outbound SRTP with AEAD_AES_128_GCM on OpenSSL (RFC 7714)
 * against libsrtp2, the reference: every packet ours protects is also
 * protected by an MmSrtp that leaves it to libsrtp (the same keys, the
 * same packets in the same order) and must come out byte for byte the
 * same, and is then unprotected by an inbound MmSrtp (libsrtp) that must
 * give the plaintext back.  Keys are random here (tests/unit-dtls.c does
 * the same with keys from a real handshake); RFC 7714's own example and
 * an independent decryption (OpenSSL, with the ROC the test expects)
 * check what both could share.
 */
#include "config.h"

#include "srtp-hooks.h"

#include <openssl/evp.h>
#include <string.h>

#define TAG 16

typedef struct {
  MmSrtpKeys keys;   /* local == remote: one set sends and receives */
  MmSrtp *ours;      /* outbound, RTP on OpenSSL */
  MmSrtp *ref;       /* outbound, libsrtp only */
  MmSrtp *in;        /* inbound (libsrtp) */
  GRand *rand;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->rand = g_rand_new_with_seed (7714 + GPOINTER_TO_UINT (data));
  f->keys.profile = MM_SRTP_PROFILE_AEAD_AES_128_GCM;
  f->keys.key_len = 16;
  f->keys.salt_len = 12;
  for (guint i = 0; i < 16; i++)
    f->keys.local_key[i] = f->keys.remote_key[i] = g_rand_int_range (f->rand, 0, 256);
  for (guint i = 0; i < 12; i++)
    f->keys.local_salt[i] = f->keys.remote_salt[i] = g_rand_int_range (f->rand, 0, 256);
  f->ours = mm_srtp_new (&f->keys, TRUE, &error);
  g_assert_no_error (error);
  f->ref = mm_srtp_test_new_libsrtp (&f->keys, TRUE, &error);
  g_assert_no_error (error);
  f->in = mm_srtp_new (&f->keys, FALSE, &error);
  g_assert_no_error (error);
  /* The reference is not on OpenSSL, ours is. */
  g_assert_false (mm_srtp_test_set_session_key (f->ref, f->keys.local_key, f->keys.local_salt));
  g_assert_false (mm_srtp_test_set_session_key (f->in, f->keys.local_key, f->keys.local_salt));
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  mm_srtp_free (f->ours);
  mm_srtp_free (f->ref);
  mm_srtp_free (f->in);
  g_rand_free (f->rand);
}

typedef enum { EXT_NONE, EXT_ONE_BYTE, EXT_TWO_BYTE } Ext;

typedef struct {
  guint32 ssrc;
  guint16 seq;
  guint csrcs;       /* 0..15 */
  Ext ext;
  guint ext_words;   /* the extension's length in 32-bit words */
  gsize payload;     /* with the padding */
  guint8 padding;    /* 0, or the padding's length (<= payload) */
} Shape;

/* An RTP packet of @shape, in a buffer with exactly TAG bytes behind it
 * (valgrind and ASan see a write past them).  Returns: (transfer full) */
static guint8 *
make_rtp (const Shape *shape, gsize *len)
{
  gsize h = 12 + 4 * shape->csrcs + (shape->ext != EXT_NONE ? 4 + 4 * shape->ext_words : 0);
  guint8 *p = g_malloc (h + shape->payload + TAG);
  gsize at = 12;

  g_assert (shape->padding <= shape->payload);
  p[0] = 0x80 | (shape->padding ? 0x20 : 0) | (shape->ext != EXT_NONE ? 0x10 : 0) | shape->csrcs;
  p[1] = 96 | (shape->seq % 3 == 0 ? 0x80 : 0);
  p[2] = shape->seq >> 8;
  p[3] = shape->seq & 0xff;
  p[4] = 0x01;
  p[5] = shape->seq & 0x7f;
  p[6] = 0x02;
  p[7] = 0x03;
  p[8] = shape->ssrc >> 24;
  p[9] = (shape->ssrc >> 16) & 0xff;
  p[10] = (shape->ssrc >> 8) & 0xff;
  p[11] = shape->ssrc & 0xff;
  for (guint i = 0; i < shape->csrcs; i++, at += 4)
    memcpy (p + at, (guint8[]) { 0xc5, 0x00, 0x00, i }, 4);
  if (shape->ext != EXT_NONE)
    {
      /* RFC 8285: 0xBEDE (one-byte elements) or 0x100 (two-byte).  The
       * elements' content does not matter to SRTP, only the length. */
      p[at] = shape->ext == EXT_ONE_BYTE ? 0xbe : 0x10;
      p[at + 1] = shape->ext == EXT_ONE_BYTE ? 0xde : 0x00;
      p[at + 2] = shape->ext_words >> 8;
      p[at + 3] = shape->ext_words & 0xff;
      at += 4;
      for (guint i = 0; i < 4 * shape->ext_words; i++)
        p[at++] = shape->ext == EXT_ONE_BYTE ? (i % 4 == 0 ? 0x10 | 2 : i) : (i % 4 == 0 ? 3 : i);
    }
  g_assert_cmpuint (at, ==, h);
  for (gsize i = 0; i < shape->payload; i++)
    p[at + i] = (i * 7 + shape->seq) & 0xff;
  if (shape->padding)
    {
      memset (p + h + shape->payload - shape->padding, 0, shape->padding);
      p[h + shape->payload - 1] = shape->padding;
    }
  memset (p + h + shape->payload, 0, TAG);
  *len = h + shape->payload;
  return p;
}

/* Ours and libsrtp protect the packet alike; libsrtp unprotects it (when
 * @deliver) with @expect.  Returns: (transfer full) what ours sent, of
 * *@out_len bytes. */
static guint8 *
send_one (Fixture *f, const Shape *shape, gboolean deliver, MmSrtpResult expect, gsize *out_len)
{
  gsize len, len2, plain_len;
  guint8 *p = make_rtp (shape, &len);
  g_autofree guint8 *q = g_memdup2 (p, len + TAG);
  g_autofree guint8 *plain = g_memdup2 (p, len);
  g_autofree guint8 *copy = NULL;

  plain_len = len2 = len;
  g_assert_cmpint (mm_srtp_protect_rtp (f->ours, p, &len, len + TAG), ==, MM_SRTP_OK);
  g_assert_cmpint (mm_srtp_protect_rtp (f->ref, q, &len2, len2 + TAG), ==, MM_SRTP_OK);
  g_assert_cmpuint (len, ==, plain_len + TAG);
  g_assert_cmpmem (p, len, q, len2);
  if (deliver)
    {
      gsize n = len;

      copy = g_memdup2 (p, len);
      g_assert_cmpint (mm_srtp_unprotect_rtp (f->in, copy, &n), ==, expect);
      if (expect == MM_SRTP_OK)
        g_assert_cmpmem (copy, n, plain, plain_len);
    }
  *out_len = len;
  return p;
}

static void
send_and_check (Fixture *f, const Shape *shape)
{
  gsize len;

  g_free (send_one (f, shape, TRUE, MM_SRTP_OK, &len));
}

/* Every payload size from 1 to 1400 bytes, with CSRCs, both kinds of
 * header extension and padding in turn. */
static void
test_shapes (Fixture *f, gconstpointer data)
{
  for (gsize size = 1; size <= 1400; size++)
    {
      Shape s = { 0x5501a0b2, (guint16) (1000 + size), 0, EXT_NONE, 0, size, 0 };

      s.csrcs = size % 5 == 0 ? size % 16 : 0;
      s.ext = (Ext) (size % 3);
      s.ext_words = s.ext != EXT_NONE ? (size / 3) % 6 : 0;
      if (size % 4 == 1)
        s.padding = MIN (size, 1 + size % 255);
      send_and_check (f, &s);
    }
  /* A header alone, and a header with an empty extension. */
  {
    Shape s = { 0x5501a0b2, 3000, 0, EXT_NONE, 0, 0, 0 };

    send_and_check (f, &s);
    s.seq++;
    s.ext = EXT_TWO_BYTE;
    s.csrcs = 15;
    send_and_check (f, &s);
  }
}

/* Across the wrap 65530 -> 10 (ROC 0 -> 1), then on across a second one
 * (ROC 1 -> 2) in steps the receiver can follow. */
static void
test_wraps (Fixture *f, gconstpointer data)
{
  guint64 index = 65530;

  while (index < 2 * 65536 + 10)
    {
      guint16 seq = index & 0xffff;
      Shape s = { 0x11223344, seq, seq % 3, (Ext) (seq % 3), 1, 20 + seq % 1000, 0 };

      send_and_check (f, &s);
      /* One by one near a wrap, in long steps between. */
      index += seq >= 64500 || seq < 40 ? 1 : 997;
    }
}

/* Both senders refuse the packet (too old), and write nothing. */
static void
refused (Fixture *f, guint32 ssrc, guint16 seq)
{
  Shape old = { ssrc, seq, 0, EXT_NONE, 0, 10, 0 };
  gsize l1, l2;
  g_autofree guint8 *p = make_rtp (&old, &l1);
  g_autofree guint8 *q = make_rtp (&old, &l2);

  g_assert_cmpint (mm_srtp_protect_rtp (f->ours, p, &l1, l1 + TAG), ==, MM_SRTP_ERROR_REPLAY);
  g_assert_cmpint (mm_srtp_protect_rtp (f->ref, q, &l2, l2 + TAG), ==, MM_SRTP_ERROR_REPLAY);
  g_assert_cmpmem (p, l1 + TAG, q, l2 + TAG);
}

/* A NACKed packet resent after a wrap is protected with the index it was
 * first sent with. */
static void
test_nack (Fixture *f, gconstpointer data)
{
  Shape s = { 0x0badcafe, 0, 0, EXT_ONE_BYTE, 2, 300, 0 };
  gsize len;
  g_autofree guint8 *lost = NULL;
  g_autofree guint8 *resent = NULL;

  for (guint i = 0; i < 80; i++)
    {
      s.seq = (guint16) (65500 + i);
      /* 65533 is lost on the way; 65534 arrives. */
      if (s.seq == 65533)
        lost = send_one (f, &s, FALSE, MM_SRTP_OK, &len);
      else
        send_and_check (f, &s);
    }
  /* Now at 43 of ROC 1: the resend of 65533 is of ROC 0, and arrives. */
  s.seq = 65533;
  resent = send_one (f, &s, TRUE, MM_SRTP_OK, &len);
  g_assert_cmpmem (resent, len, lost, len);
  /* One that arrived before is a replay to the receiver, but the same
   * bytes. */
  s.seq = 65534;
  g_free (send_one (f, &s, TRUE, MM_SRTP_ERROR_REPLAY, &len));
  s.seq = 10;
  g_free (send_one (f, &s, TRUE, MM_SRTP_ERROR_REPLAY, &len));
  /* Sending goes on where it was. */
  s.seq = 44;
  send_and_check (f, &s);

  /* Too far back: both senders refuse, and nothing changes. */
  for (guint i = 0; i < 1100; i++)
    {
      s.seq = (guint16) (45 + i);
      s.payload = 10;
      send_and_check (f, &s);
    }
  /* The highest is 1144 of ROC 1: 1024 back is too far, 1023 is not. */
  refused (f, s.ssrc, 44);
  refused (f, s.ssrc, 65535);
  refused (f, s.ssrc, 1144 - 1024);
  s.seq = 1144 - 1023;
  g_free (send_one (f, &s, TRUE, MM_SRTP_ERROR_REPLAY, &len));
  /* A resend does not move the window back. */
  refused (f, s.ssrc, 1144 - 1030);
  s.seq = 1145;
  send_and_check (f, &s);
}

/* The ROC guess at its edges (RFC 3711 §3.3.1): from a highest sequence
 * number below 2^15, one more than 2^15 ahead is taken for a packet of the
 * previous ROC (too old to send), 2^15 ahead for one of this ROC; from one
 * above, one less than highest - 2^15 is of the next ROC.  Each case from
 * a fresh pair of sessions, both sides alike, whatever the result. */
static void
test_edges (Fixture *f, gconstpointer data)
{
  static const struct {
    guint16 before[3];   /* sent first (0 ends) */
    guint16 seq;
    MmSrtpResult expect;
  } cases[] = {
    { { 100 }, 100 + 0x8000, MM_SRTP_OK },
    { { 65535, 100 }, 100 + 0x8000, MM_SRTP_OK },
    { { 65535, 100 }, 100 + 0x8001, MM_SRTP_ERROR_REPLAY },
    /* The window across a wrap: the highest is 65536 + 100. */
    { { 65535, 100 }, 65536 + 100 - 1023, MM_SRTP_OK },
    { { 65535, 100 }, 65536 + 100 - 1024, MM_SRTP_ERROR_REPLAY },
    { { 40000 }, 40000 - 0x8000 - 1, MM_SRTP_OK },
    { { 40000 }, 40000 - 0x8000, MM_SRTP_ERROR_REPLAY },
    { { 40000 }, 40000 - 1023, MM_SRTP_OK },
    { { 40000 }, 40000 - 1024, MM_SRTP_ERROR_REPLAY },
    { { 0x8000 }, 65535, MM_SRTP_OK },
    { { 0x8000 }, 0, MM_SRTP_ERROR_REPLAY },
    { { 0x8001 }, 0, MM_SRTP_OK },
    /* At the start, with nothing sent, ROC 0 is never guessed less. */
    { { 0 }, 65535, MM_SRTP_OK },
    { { 5 }, 60000, MM_SRTP_OK },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      MmSrtp *ours = mm_srtp_new (&f->keys, TRUE, &error);
      MmSrtp *ref = mm_srtp_test_new_libsrtp (&f->keys, TRUE, &error);
      gsize l1, l2;

      g_assert_no_error (error);
      for (guint j = 0; j <= G_N_ELEMENTS (cases[i].before); j++)
        {
          gboolean last = j == G_N_ELEMENTS (cases[i].before) || cases[i].before[j] == 0;
          Shape s = { 0x0e0e0e0e, last ? cases[i].seq : cases[i].before[j], 0, EXT_NONE, 0,
                      40, 0 };
          g_autofree guint8 *p = make_rtp (&s, &l1);
          g_autofree guint8 *q = make_rtp (&s, &l2);
          MmSrtpResult r = mm_srtp_protect_rtp (ours, p, &l1, l1 + TAG);

          g_assert_cmpint (mm_srtp_protect_rtp (ref, q, &l2, l2 + TAG), ==, r);
          /* Refused, neither wrote anything. */
          g_assert_cmpmem (p, r == MM_SRTP_OK ? l1 : l1 + TAG, q, r == MM_SRTP_OK ? l2 : l2 + TAG);
          if (last)
            {
              g_assert_cmpint (r, ==, cases[i].expect);
              break;
            }
          g_assert_cmpint (r, ==, MM_SRTP_OK);
        }
      mm_srtp_free (ours);
      mm_srtp_free (ref);
    }
}

/* Two SSRCs in one session, one of them wrapping, each with its own ROC;
 * and more SSRCs than ours keeps (the rest go to libsrtp), still alike. */
static void
test_ssrcs (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < 200; i++)
    {
      Shape a = { 0xaaaa0001, (guint16) (65450 + i), 0, EXT_NONE, 0, 100 + i, 0 };
      Shape b = { 0xbbbb0002, (guint16) (7 + i), 2, EXT_TWO_BYTE, 1, 900, 0 };

      send_and_check (f, &a);
      send_and_check (f, &b);
    }
  for (guint i = 0; i < 300; i++)
    {
      Shape s = { 0x10000 + i % 9, (guint16) (65400 + i / 9 * 7), 0, EXT_NONE, 0, 50, 0 };

      send_and_check (f, &s);
    }
}

/* Random packets with random keys. */
static void
test_random (Fixture *f, gconstpointer data)
{
  guint16 seq[3];

  for (guint i = 0; i < G_N_ELEMENTS (seq); i++)
    seq[i] = g_rand_int_range (f->rand, 0, 65536);
  for (guint i = 0; i < 3000; i++)
    {
      guint k = g_rand_int_range (f->rand, 0, G_N_ELEMENTS (seq));
      Shape s = { 0x7000 + k, seq[k], 0, EXT_NONE, 0, 0, 0 };

      seq[k] += g_rand_int_range (f->rand, 1, 40);
      s.csrcs = g_rand_boolean (f->rand) ? 0 : g_rand_int_range (f->rand, 0, 16);
      s.ext = (Ext) g_rand_int_range (f->rand, 0, 3);
      s.ext_words = g_rand_int_range (f->rand, 0, 8);
      s.payload = g_rand_int_range (f->rand, 1, 1401);
      if (g_rand_boolean (f->rand))
        s.padding = g_rand_int_range (f->rand, 1, MIN (s.payload, 255) + 1);
      send_and_check (f, &s);
    }
}

/* A changed bit anywhere (header, extension, payload, tag) fails. */
static void
test_tampered (Fixture *f, gconstpointer data)
{
  Shape s = { 0x5501a0b2, 4242, 3, EXT_ONE_BYTE, 2, 200, 5 };
  gsize len;
  g_autofree guint8 *good = send_one (f, &s, FALSE, MM_SRTP_OK, &len);

  for (gsize at = 0; at < len; at++)
    {
      g_autofree guint8 *bad = g_memdup2 (good, len);
      gsize n = len;

      bad[at] ^= 1 << (at % 8);
      /* A changed CSRC count or extension length may make the header
       * longer than the packet: malformed rather than forged. */
      if (at == 0 || at == 26 || at == 27)
        g_assert_cmpint (mm_srtp_unprotect_rtp (f->in, bad, &n), !=, MM_SRTP_OK);
      else
        g_assert_cmpint (mm_srtp_unprotect_rtp (f->in, bad, &n), ==, MM_SRTP_ERROR_AUTH);
    }
  /* A tag cut short. */
  {
    g_autofree guint8 *cut = g_memdup2 (good, len);
    gsize n = len - 1;

    g_assert_cmpint (mm_srtp_unprotect_rtp (f->in, cut, &n), !=, MM_SRTP_OK);
  }
  {
    gsize n = len;

    g_assert_cmpint (mm_srtp_unprotect_rtp (f->in, good, &n), ==, MM_SRTP_OK);
  }
}

/* Headers that lie about their length, and too little room: refused by
 * ours as by libsrtp, with nothing written. */
static void
test_malformed (Fixture *f, gconstpointer data)
{
  Shape s = { 0x5501a0b2, 100, 4, EXT_TWO_BYTE, 3, 0, 0 };
  gsize full;
  g_autofree guint8 *p = make_rtp (&s, &full);

  /* Cut in the CSRCs, in the extension's header and in its body. */
  for (gsize len = 12; len < full; len++)
    {
      g_autofree guint8 *a = g_memdup2 (p, full + TAG);
      g_autofree guint8 *b = g_memdup2 (p, full + TAG);
      gsize la = len, lb = len;

      g_assert_cmpint (mm_srtp_protect_rtp (f->ours, a, &la, len + TAG), ==,
                       MM_SRTP_ERROR_MALFORMED);
      g_assert_cmpint (mm_srtp_protect_rtp (f->ref, b, &lb, len + TAG), ==,
                       MM_SRTP_ERROR_MALFORMED);
      g_assert_cmpmem (a, full + TAG, p, full + TAG);
    }
  /* The whole header and no payload is fine. */
  s.seq++;
  send_and_check (f, &s);
  /* One byte too little room. */
  {
    Shape t = { 0x5501a0b2, 102, 0, EXT_NONE, 0, 33, 0 };
    gsize len;
    g_autofree guint8 *q = make_rtp (&t, &len);
    g_autofree guint8 *plain = g_memdup2 (q, len + TAG);

    g_assert_cmpint (mm_srtp_protect_rtp (f->ours, q, &len, len + TAG - 1), ==,
                     MM_SRTP_ERROR_OTHER);
    g_assert_cmpmem (q, len + TAG, plain, len + TAG);
  }
  /* Nothing was spent: the next packet is still alike. */
  s.seq++;
  send_and_check (f, &s);
}

/* ---- ours alone, against RFC 7714 and OpenSSL --------------------------- */

static guint8 *
unhex (const char *hex, gsize *len)
{
  gsize n = strlen (hex) / 2;
  guint8 *out = g_malloc (n + TAG);

  for (gsize i = 0; i < n; i++)
    out[i] = g_ascii_xdigit_value (hex[2 * i]) << 4 | g_ascii_xdigit_value (hex[2 * i + 1]);
  *len = n;
  return out;
}

/* RFC 7714 §16.1.1: AEAD_AES_128_GCM, SSRC 0x5501a0b2, SEQ 0xf17b, ROC 0,
 * with the session key and salt given. */
static void
test_rfc7714 (Fixture *f, gconstpointer data)
{
  gsize kl, sl, len, el;
  g_autofree guint8 *key = unhex ("000102030405060708090a0b0c0d0e0f", &kl);
  g_autofree guint8 *salt = unhex ("517569642070726f2071756f", &sl);
  g_autofree guint8 *p = unhex ("8040f17b8041f8d35501a0b2"
                                "47616c6c696120657374206f6d6e69732064697669736120696e"
                                "207061727465732074726573", &len);
  g_autofree guint8 *expected = unhex ("8040f17b8041f8d35501a0b2"
                                       "f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5"
                                       "f47a51c7d19b36de3adf8833"
                                       "899d7f27beb16a9152cf765ee4390cce", &el);

  g_assert_true (mm_srtp_test_set_session_key (f->ours, key, salt));
  g_assert_cmpint (mm_srtp_protect_rtp (f->ours, p, &len, len + TAG), ==, MM_SRTP_OK);
  g_assert_cmpmem (p, len, expected, el);
}

/* Decrypts @p (@len bytes, protected) on OpenSSL with the IV of @roc: TRUE
 * when the tag is right. */
static gboolean
opens_with_roc (const guint8 *key, const guint8 *salt, const guint8 *p, gsize len, gsize header,
                guint32 roc)
{
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new ();
  g_autofree guint8 *out = g_malloc (len);
  guint8 iv[12] = { 0 }, tag[TAG];
  int n = 0;
  gboolean ok;

  memcpy (iv + 2, p + 8, 4);
  iv[6] = roc >> 24;
  iv[7] = (roc >> 16) & 0xff;
  iv[8] = (roc >> 8) & 0xff;
  iv[9] = roc & 0xff;
  memcpy (iv + 10, p + 2, 2);
  for (guint i = 0; i < 12; i++)
    iv[i] ^= salt[i];
  memcpy (tag, p + len - TAG, TAG);
  ok = EVP_DecryptInit_ex (ctx, EVP_aes_128_gcm (), NULL, key, iv) == 1
       && EVP_DecryptUpdate (ctx, NULL, &n, p, (int) header) == 1
       && EVP_DecryptUpdate (ctx, out, &n, p + header, (int) (len - TAG - header)) == 1
       && EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_SET_TAG, TAG, tag) == 1
       && EVP_DecryptFinal_ex (ctx, out + n, &n) == 1;
  EVP_CIPHER_CTX_free (ctx);
  return ok;
}

/* The ROC of each packet, seen by decrypting with the IV the test expects:
 * 0 -> 1 at the first wrap, 2 at the second, and a resend of ROC 1 after
 * it. */
static void
test_roc (Fixture *f, gconstpointer data)
{
  static const guint8 key[16] = { 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
                                  0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66 };
  static const guint8 salt[12] = { 0x73, 0x61, 0x6c, 0x74, 0x20, 0x6f,
                                   0x66, 0x20, 0x47, 0x43, 0x4d, 0x21 };
  static const struct {
    guint16 seq;
    guint32 roc;
  } steps[] = {
    { 65530, 0 }, { 65535, 0 }, { 0, 1 }, { 10, 1 }, { 65534, 0 }, { 30000, 1 }, { 60000, 1 },
    { 65535, 1 }, { 5, 2 }, { 65000, 1 }, { 32000, 2 }, { 60000, 2 },
    { 65535, 2 }, { 1, 3 },
  };

  g_assert_true (mm_srtp_test_set_session_key (f->ours, key, salt));
  /* Two SSRCs, each with its own ROC, the second a step behind the first,
   * both on OpenSSL (libsrtp does not know this key). */
  for (guint j = 0; j <= G_N_ELEMENTS (steps); j++)
    for (guint k = 0; k < 2; k++)
      {
        guint at = j - k;
        Shape s = { 0x01020304 + k, 0, 1, EXT_ONE_BYTE, 1, 64, 0 };
        gsize len, header;
        g_autofree guint8 *p = NULL;

        if ((k == 0 && j == G_N_ELEMENTS (steps)) || (k == 1 && j == 0))
          continue;
        s.seq = steps[at].seq;
        p = make_rtp (&s, &len);
        header = len - 64;
        g_assert_cmpint (mm_srtp_protect_rtp (f->ours, p, &len, len + TAG), ==, MM_SRTP_OK);
        g_assert_true (opens_with_roc (key, salt, p, len, header, steps[at].roc));
        g_assert_false (opens_with_roc (key, salt, p, len, header, steps[at].roc + 1));
      }
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  g_test_init (&argc, &argv, NULL);
  g_assert_true (mm_srtp_init (&error));
#define TEST(path, func, seed) \
  g_test_add ("/srtp/gcm-evp/" path, Fixture, GUINT_TO_POINTER (seed), fixture_setup, func, \
              fixture_teardown)
  TEST ("shapes", test_shapes, 1);
  TEST ("wraps", test_wraps, 2);
  TEST ("nack", test_nack, 3);
  TEST ("ssrcs", test_ssrcs, 4);
  TEST ("edges", test_edges, 12);
  TEST ("random/1", test_random, 5);
  TEST ("random/2", test_random, 6);
  TEST ("random/3", test_random, 7);
  TEST ("tampered", test_tampered, 8);
  TEST ("malformed", test_malformed, 9);
  TEST ("rfc7714", test_rfc7714, 10);
  TEST ("roc", test_roc, 11);
#undef TEST
  return g_test_run ();
}
