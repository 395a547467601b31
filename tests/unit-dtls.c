/* unit-dtls.c — DTLS-SRTP key agreement and SRTP protection, with real
 * OpenSSL on both sides of every handshake: two MmDtls wired to each
 * other, or one MmDtls and a plain OpenSSL peer written here (which can
 * offer only AES-CM, send close_notify, and export the keys on its own for
 * an independent check of RFC 5764's key split).  Datagrams travel through
 * queues the tests pump, so that they can drop, corrupt or inspect them.
 */
#include "config.h"

#include "core/error.h"
#include "transport/dtls.h"
#include "transport/srtp.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>

/* ---- two ends and the wire between them --------------------------------- */

typedef struct _Side Side;
struct _Side {
  Side *peer;
  MmDtls *dtls;      /* this end is an MmDtls ... */
  SSL *ssl;          /* ... or a plain OpenSSL peer */
  gboolean client;
  GQueue inbox;      /* GBytes: datagrams sent to this end, not yet delivered */
  gboolean drop;     /* what this end sends now is lost */
  guint sent;
  gboolean raw_failed;
};

typedef struct {
  MmDtlsIdentity *id[2];
  Side side[2];
  SSL_CTX *raw_ctx;
  char *raw_fingerprint;   /* "sha-256 ..." of the plain peer's certificate */
  X509 *raw_cert;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < 2; i++)
    {
      f->id[i] = mm_dtls_identity_new (&error);
      g_assert_no_error (error);
      g_queue_init (&f->side[i].inbox);
      f->side[i].peer = &f->side[1 - i];
    }
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < 2; i++)
    {
      mm_dtls_free (f->side[i].dtls);
      SSL_free (f->side[i].ssl);
      g_queue_clear_full (&f->side[i].inbox, (GDestroyNotify) g_bytes_unref);
      mm_dtls_identity_unref (f->id[i]);
    }
  SSL_CTX_free (f->raw_ctx);
  X509_free (f->raw_cert);
  g_free (f->raw_fingerprint);
}

/* MmDtlsSend: every datagram is checked, then queued for the other end. */
static void
on_send (const guint8 *buf, gsize len, gpointer data)
{
  Side *s = data;

  g_assert_cmpuint (len, >, 0);
  g_assert_cmpuint (len, <=, MM_DTLS_MTU);
  /* Whole records: the last one ends where the datagram does. */
  for (gsize at = 0; at < len;)
    {
      g_assert_cmpuint (len - at, >=, 13);
      g_assert_cmpint (buf[at], >=, 20);
      g_assert_cmpint (buf[at], <=, 63);
      at += 13 + ((gsize) buf[at + 11] << 8 | buf[at + 12]);
      g_assert_cmpuint (at, <=, len);
    }
  s->sent++;
  if (!s->drop)
    g_queue_push_tail (&s->peer->inbox, g_bytes_new (buf, len));
}

static MmDtls *
dtls_new (MmDtlsIdentity *id, MmDtlsRole role, const char *fingerprint, Side *s)
{
  g_autoptr (GError) error = NULL;
  MmDtls *d = mm_dtls_new (id, role, fingerprint, on_send, s, &error);

  g_assert_no_error (error);
  g_assert_nonnull (d);
  s->client = role == MM_DTLS_CLIENT;
  s->dtls = d;
  return d;
}

/* Two MmDtls; side 0 is the client when @zero_is_client. */
static void
dtls_pair (Fixture *f, gboolean zero_is_client)
{
  for (guint i = 0; i < 2; i++)
    {
      gboolean client = (i == 0) == zero_is_client;

      dtls_new (f->id[i], client ? MM_DTLS_CLIENT : MM_DTLS_SERVER,
                mm_dtls_identity_fingerprint (f->id[1 - i]), &f->side[i]);
    }
}

/* ---- a plain OpenSSL peer ----------------------------------------------- */

static int
accept_any (int preverify_ok, X509_STORE_CTX *store)
{
  return 1;
}

static char *
fingerprint_of (X509 *cert, const EVP_MD *md, const char *name)
{
  guint8 buf[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  GString *s = g_string_new (name);

  g_assert_true (X509_digest (cert, md, buf, &len));
  for (guint i = 0; i < len; i++)
    g_string_append_printf (s, "%c%02X", i == 0 ? ' ' : ':', buf[i]);
  return g_string_free (s, FALSE);
}

/* Its own key and self-signed certificate, offering @profiles. */
static void
raw_context (Fixture *f, const char *profiles)
{
  EVP_PKEY *key = EVP_EC_gen ("P-256");
  X509 *cert = X509_new ();
  X509_NAME *name = X509_get_subject_name (cert);

  g_assert_nonnull (key);
  g_assert_true (ASN1_INTEGER_set (X509_get_serialNumber (cert), 7));
  g_assert_nonnull (X509_gmtime_adj (X509_getm_notBefore (cert), -3600));
  g_assert_nonnull (X509_gmtime_adj (X509_getm_notAfter (cert), 3600));
  g_assert_true (X509_set_pubkey (cert, key));
  g_assert_true (X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_ASC,
                                             (const unsigned char *) "peer", -1, -1, 0));
  g_assert_true (X509_set_issuer_name (cert, name));
  g_assert_cmpint (X509_sign (cert, key, EVP_sha256 ()), >, 0);

  f->raw_ctx = SSL_CTX_new (DTLS_method ());
  g_assert_true (SSL_CTX_use_certificate (f->raw_ctx, cert));
  g_assert_true (SSL_CTX_use_PrivateKey (f->raw_ctx, key));
  g_assert_cmpint (SSL_CTX_set_tlsext_use_srtp (f->raw_ctx, profiles), ==, 0);
  SSL_CTX_set_verify (f->raw_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any);
  f->raw_fingerprint = fingerprint_of (cert, EVP_sha256 (), "sha-256");
  f->raw_cert = cert;
  EVP_PKEY_free (key);
}

static void
raw_new (Fixture *f, Side *s, gboolean client)
{
  BIO *rbio = BIO_new (BIO_s_mem ());

  BIO_set_mem_eof_return (rbio, -1);
  s->ssl = SSL_new (f->raw_ctx);
  SSL_set_bio (s->ssl, rbio, BIO_new (BIO_s_mem ()));
  SSL_set_options (s->ssl, SSL_OP_NO_QUERY_MTU);
  SSL_set_mtu (s->ssl, MM_DTLS_MTU);
  s->client = client;
  if (client)
    SSL_set_connect_state (s->ssl);
  else
    SSL_set_accept_state (s->ssl);
}

/* What the plain peer wrote goes out as one datagram: an MmDtls takes
 * records back to back as a datagram may carry them. */
static void
raw_flush (Side *s)
{
  BIO *w = SSL_get_wbio (s->ssl);
  size_t n = BIO_ctrl_pending (w);

  if (n == 0)
    return;
  g_autofree guint8 *buf = g_malloc (n);
  g_assert_cmpint (BIO_read (w, buf, n), ==, (int) n);
  s->sent++;
  if (!s->drop)
    g_queue_push_tail (&s->peer->inbox, g_bytes_new (buf, n));
}

static void
raw_step (Side *s)
{
  int ret;

  ERR_clear_error ();
  if (!SSL_is_init_finished (s->ssl))
    ret = SSL_do_handshake (s->ssl);
  else
    {
      guint8 scratch[2048];

      while ((ret = SSL_read (s->ssl, scratch, sizeof scratch)) > 0)
        ;
    }
  if (ret <= 0)
    {
      int e = SSL_get_error (s->ssl, ret);

      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_ZERO_RETURN)
        s->raw_failed = TRUE;
    }
  ERR_clear_error ();
  raw_flush (s);
}

/* The SRTP keys as the plain peer sees them, split here on our own. */
static void
raw_keys (Side *s, MmSrtpKeys *k)
{
  const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile (s->ssl);
  guint8 m[60];
  gsize kl = 16, sl;

  g_assert_nonnull (p);
  memset (k, 0, sizeof *k);
  k->profile = p->id == SRTP_AEAD_AES_128_GCM ? MM_SRTP_PROFILE_AEAD_AES_128_GCM
                                              : MM_SRTP_PROFILE_AES128_CM_SHA1_80;
  sl = k->profile == MM_SRTP_PROFILE_AEAD_AES_128_GCM ? 12 : 14;
  k->key_len = kl;
  k->salt_len = sl;
  g_assert_true (SSL_export_keying_material (s->ssl, m, 2 * (kl + sl), "EXTRACTOR-dtls_srtp",
                                             19, NULL, 0, 0));
  memcpy (k->local_key, m + (s->client ? 0 : kl), kl);
  memcpy (k->remote_key, m + (s->client ? kl : 0), kl);
  memcpy (k->local_salt, m + 2 * kl + (s->client ? 0 : sl), sl);
  memcpy (k->remote_salt, m + 2 * kl + (s->client ? sl : 0), sl);
}

/* ---- driving ------------------------------------------------------------ */

static void
start (Side *s)
{
  if (s->dtls != NULL)
    mm_dtls_start (s->dtls);
  else
    raw_step (s);
}

static void
deliver (Side *s, const guint8 *buf, gsize len)
{
  if (s->dtls != NULL)
    {
      mm_dtls_handle (s->dtls, buf, len);
      return;
    }
  BIO_write (SSL_get_rbio (s->ssl), buf, len);
  raw_step (s);
}

/* Delivers queued datagrams until there are none. */
static void
pump (Fixture *f)
{
  for (guint n = 0; n < 1000; n++)
    {
      Side *s = !g_queue_is_empty (&f->side[0].inbox) ? &f->side[0]
                : !g_queue_is_empty (&f->side[1].inbox) ? &f->side[1]
                : NULL;
      g_autoptr (GBytes) b = NULL;
      gsize len;
      const guint8 *buf;

      if (s == NULL)
        return;
      b = g_queue_pop_head (&s->inbox);
      buf = g_bytes_get_data (b, &len);
      deliver (s, buf, len);
    }
  g_assert_not_reached ();
}

static gboolean
side_done (Side *s)
{
  if (s->dtls != NULL)
    return mm_dtls_state (s->dtls) != MM_DTLS_HANDSHAKING;
  return s->raw_failed || SSL_is_init_finished (s->ssl);
}

/* Pumps, and runs the MmDtls timers when the wire falls silent before
 * both ends are done.  Returns: how many timers fired. */
static guint
settle (Fixture *f)
{
  guint fired = 0;

  for (guint round = 0; round < 20; round++)
    {
      gint64 due = -1, now;

      pump (f);
      if (side_done (&f->side[0]) && side_done (&f->side[1]))
        break;
      for (guint i = 0; i < 2; i++)
        {
          gint64 t = f->side[i].dtls != NULL ? mm_dtls_timeout_us (f->side[i].dtls) : -1;

          if (t >= 0 && (due < 0 || t < due))
            due = t;
        }
      g_assert_cmpint (due, >=, 0);
      /* Short of the 30 s limit: a retransmission, not the give-up. */
      g_assert_cmpint (due - g_get_monotonic_time (), <, 10 * G_USEC_PER_SEC);
      now = g_get_monotonic_time ();
      /* A little late: OpenSSL checks its own clock. */
      if (due > now)
        g_usleep (due - now + 2000);
      for (guint i = 0; i < 2; i++)
        {
          gint64 t = f->side[i].dtls != NULL ? mm_dtls_timeout_us (f->side[i].dtls) : -1;

          if (t >= 0 && t <= g_get_monotonic_time ())
            {
              mm_dtls_handle_timeout (f->side[i].dtls);
              fired++;
            }
        }
    }
  return fired;
}

static void
assert_connected (Side *s)
{
  g_assert_null (mm_dtls_error (s->dtls));
  g_assert_cmpint (mm_dtls_state (s->dtls), ==, MM_DTLS_CONNECTED);
  g_assert_cmpint (mm_dtls_timeout_us (s->dtls), ==, -1);
}

/* @a's keys are @b's the other way round. */
static void
assert_crosswise (const MmSrtpKeys *a, const MmSrtpKeys *b)
{
  static const guint8 zero[MM_SRTP_MAX_KEY] = { 0 };

  g_assert_cmpint (a->profile, ==, b->profile);
  g_assert_cmpuint (a->key_len, ==, 16);
  g_assert_cmpuint (a->key_len, ==, b->key_len);
  g_assert_cmpuint (a->salt_len, ==, b->salt_len);
  g_assert_cmpmem (a->local_key, a->key_len, b->remote_key, b->key_len);
  g_assert_cmpmem (a->remote_key, a->key_len, b->local_key, b->key_len);
  g_assert_cmpmem (a->local_salt, a->salt_len, b->remote_salt, b->salt_len);
  g_assert_cmpmem (a->remote_salt, a->salt_len, b->local_salt, b->salt_len);
  /* Two directions, two keys; and keys at all. */
  g_assert_true (memcmp (a->local_key, a->remote_key, a->key_len) != 0);
  g_assert_true (memcmp (a->local_key, zero, a->key_len) != 0);
}

/* ---- identity and fingerprints ------------------------------------------ */

static void
test_identity (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MmDtlsIdentity) a = mm_dtls_identity_new (&error);
  g_autoptr (MmDtlsIdentity) b = mm_dtls_identity_new (&error);
  const char *fp;

  g_assert_no_error (error);
  fp = mm_dtls_identity_fingerprint (a);
  g_assert_true (g_str_has_prefix (fp, "sha-256 "));
  /* 32 bytes: two uppercase hex digits each, colons between. */
  g_assert_cmpuint (strlen (fp), ==, 8 + 32 * 3 - 1);
  for (gsize i = 8; fp[i] != '\0'; i++)
    {
      if ((i - 8) % 3 == 2)
        g_assert_cmpint (fp[i], ==, ':');
      else
        g_assert_true (g_ascii_isdigit (fp[i]) || (fp[i] >= 'A' && fp[i] <= 'F'));
    }
  g_assert_cmpstr (fp, !=, mm_dtls_identity_fingerprint (b));
  g_assert_true (mm_dtls_identity_ref (a) == a);
  mm_dtls_identity_unref (a);
  g_assert_cmpstr (mm_dtls_identity_fingerprint (a), ==, fp);
}

static void
ignore_send (const guint8 *buf, gsize len, gpointer data)
{
}

static void
test_fingerprint_syntax (Fixture *f, gconstpointer data)
{
  const char *fp = mm_dtls_identity_fingerprint (f->id[1]);
  g_autofree char *upper = g_ascii_strup (fp, -1);
  g_autofree char *lower = g_ascii_strdown (fp, -1);
  g_autofree char *short_one = g_strndup (fp, strlen (fp) - 3);
  g_autofree char *trailing = g_strconcat (fp, ":", NULL);
  g_autofree char *longer = g_strconcat (fp, ":AB", NULL);
  g_autofree char *sha1_len = g_strconcat ("sha-1", fp + 7, NULL);
  g_autofree char *odd = g_strdup (fp);
  const char *good[] = { fp, upper, lower };
  const char *bad[] = {
    "", "sha-256", "sha-256 ", "md5 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89",
    "sha-2561 AB", short_one, trailing, longer, sha1_len, odd, "sha-256 GG",
  };

  odd[9] = ':';   /* "C::84" */
  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (MmDtls) d = mm_dtls_new (f->id[0], MM_DTLS_CLIENT, good[i], ignore_send,
                                          NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (d);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (MmDtls) d = mm_dtls_new (f->id[0], MM_DTLS_SERVER, bad[i], ignore_send,
                                          NULL, &error);

      g_test_message ("bad fingerprint \"%s\"", bad[i]);
      g_assert_null (d);
      g_assert_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT);
    }
  {
    g_autoptr (GError) error = NULL;

    g_assert_null (mm_dtls_new (f->id[0], MM_DTLS_SERVER, NULL, ignore_send, NULL, &error));
    g_assert_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT);
  }
}

/* ---- handshakes between two MmDtls -------------------------------------- */

static void
test_handshake (Fixture *f, gconstpointer data)
{
  gboolean zero_is_client = GPOINTER_TO_INT (data);
  Side *client = &f->side[zero_is_client ? 0 : 1];
  Side *server = &f->side[zero_is_client ? 1 : 0];
  MmSrtpKeys ck, sk;

  dtls_pair (f, zero_is_client);
  /* Nothing runs before the start, and a server starts by listening. */
  g_assert_cmpint (mm_dtls_timeout_us (client->dtls), ==, -1);
  g_assert_false (mm_dtls_srtp_keys (client->dtls, &ck));
  g_assert_cmpint (mm_dtls_start (server->dtls), ==, MM_DTLS_HANDSHAKING);
  g_assert_cmpuint (server->sent, ==, 0);
  g_assert_cmpint (mm_dtls_timeout_us (server->dtls), ==, -1);
  g_assert_cmpint (mm_dtls_start (client->dtls), ==, MM_DTLS_HANDSHAKING);
  g_assert_cmpuint (client->sent, ==, 1);
  g_assert_cmpint (mm_dtls_timeout_us (client->dtls), >, g_get_monotonic_time ());

  g_assert_cmpuint (settle (f), ==, 0);
  assert_connected (client);
  assert_connected (server);
  g_assert_true (mm_dtls_srtp_keys (client->dtls, &ck));
  g_assert_true (mm_dtls_srtp_keys (server->dtls, &sk));
  assert_crosswise (&ck, &sk);
  /* Both offer GCM, and it is preferred. */
  g_assert_cmpint (ck.profile, ==, MM_SRTP_PROFILE_AEAD_AES_128_GCM);
  g_assert_cmpuint (ck.salt_len, ==, 12);
  /* A flight of more than one record went into datagrams. */
  g_assert_cmpuint (client->sent + server->sent, >=, 4);
  /* Starting again changes nothing. */
  g_assert_cmpint (mm_dtls_start (client->dtls), ==, MM_DTLS_CONNECTED);
  g_assert_cmpint (mm_dtls_handle_timeout (client->dtls), ==, MM_DTLS_CONNECTED);
}

/* The remote's certificate is not the one its SDP announced. */
static void
test_wrong_fingerprint (Fixture *f, gconstpointer data)
{
  gboolean client_checks = GPOINTER_TO_INT (data);
  g_autoptr (GError) error = NULL;
  g_autoptr (MmDtlsIdentity) other = mm_dtls_identity_new (&error);
  const char *wrong = mm_dtls_identity_fingerprint (other);
  Side *checker = &f->side[client_checks ? 0 : 1];

  g_assert_no_error (error);
  dtls_new (f->id[0], MM_DTLS_CLIENT, client_checks ? wrong : mm_dtls_identity_fingerprint (f->id[1]),
            &f->side[0]);
  dtls_new (f->id[1], MM_DTLS_SERVER, client_checks ? mm_dtls_identity_fingerprint (f->id[0]) : wrong,
            &f->side[1]);
  mm_dtls_start (f->side[0].dtls);
  settle (f);
  g_assert_cmpint (mm_dtls_state (checker->dtls), ==, MM_DTLS_FAILED);
  g_test_message ("error: %s", mm_dtls_error (checker->dtls));
  g_assert_nonnull (strstr (mm_dtls_error (checker->dtls), wrong));
  g_assert_false (mm_dtls_srtp_keys (checker->dtls, &(MmSrtpKeys) { 0 }));
  g_assert_cmpint (mm_dtls_timeout_us (checker->dtls), ==, -1);
  /* The other end hears of it by an alert. */
  g_assert_cmpint (mm_dtls_state (checker->peer->dtls), ==, MM_DTLS_FAILED);
  g_assert_nonnull (mm_dtls_error (checker->peer->dtls));
  g_test_message ("other end: %s", mm_dtls_error (checker->peer->dtls));
  /* A failed MmDtls stays failed. */
  g_assert_cmpint (mm_dtls_handle (checker->dtls, (const guint8 *) "\x16\xfe\xfd", 3), ==,
                   MM_DTLS_FAILED);
}

/* The server's first flight is lost; the retransmission timer recovers. */
static void
test_lost_flight (Fixture *f, gconstpointer data)
{
  Side *client = &f->side[0], *server = &f->side[1];
  g_autoptr (GBytes) hello = NULL;
  const guint8 *buf;
  gsize len;
  MmSrtpKeys ck, sk;
  gint64 due;

  dtls_pair (f, TRUE);
  mm_dtls_start (client->dtls);
  hello = g_queue_pop_head (&server->inbox);
  g_assert_nonnull (hello);
  buf = g_bytes_get_data (hello, &len);
  server->drop = TRUE;
  mm_dtls_handle (server->dtls, buf, len);
  server->drop = FALSE;
  g_assert_cmpuint (server->sent, >=, 1);
  g_assert_true (g_queue_is_empty (&client->inbox));

  /* Silence: nothing happens before the timer is due. */
  due = mm_dtls_timeout_us (client->dtls);
  g_assert_cmpint (due, >, g_get_monotonic_time ());
  g_assert_cmpint (mm_dtls_timeout_us (server->dtls), >, 0);
  g_assert_cmpint (mm_dtls_handle_timeout (client->dtls), ==, MM_DTLS_HANDSHAKING);
  g_assert_cmpuint (client->sent, ==, 1);

  g_assert_cmpuint (settle (f), >=, 1);
  assert_connected (client);
  assert_connected (server);
  g_assert_true (mm_dtls_srtp_keys (client->dtls, &ck));
  g_assert_true (mm_dtls_srtp_keys (server->dtls, &sk));
  assert_crosswise (&ck, &sk);
}

/* Datagrams that are not good DTLS, from a seeded generator and cut from
 * real ones.  Unless @framed, every record is one that OpenSSL cannot
 * read (a wrong version, a length beyond the datagram); when @framed,
 * random records whose headers are right come too: a plaintext record of
 * epoch 0 that is well framed but out of place does fail a handshake (as
 * RFC 6347 lets it; only an established connection authenticates all it
 * accepts). */
static void
feed_garbage (MmDtls *d, GRand *r, GBytes *real, gboolean framed)
{
  guint8 buf[1500];
  gsize real_len = 0;
  const guint8 *real_buf = real != NULL ? g_bytes_get_data (real, &real_len) : NULL;

  for (guint i = 0; i < 2000; i++)
    {
      gsize len = g_rand_int_range (r, 1, sizeof buf);

      for (gsize j = 0; j < len; j++)
        buf[j] = g_rand_int_range (r, 0, 256);
      buf[0] = g_rand_int_range (r, 20, 64);
      if (i % 2 == 0 && len >= 13)
        {
          /* A record header of DTLS 1.2 or 1.0, epoch 0 or 1, whose length
           * is too long, or right or too short (which frames the record). */
          gsize body = len - 13 + (framed ? g_rand_int_range (r, -2, 3)
                                          : g_rand_int_range (r, 1, 300));

          buf[0] = g_rand_int_range (r, 20, 26);
          buf[1] = 0xfe;
          buf[2] = g_rand_boolean (r) ? 0xfd : 0xff;
          buf[3] = 0;
          buf[4] = g_rand_int_range (r, 0, 2);
          buf[11] = body >> 8;
          buf[12] = body & 0xff;
        }
      mm_dtls_handle (d, buf, len);
    }
  /* Truncated copies of a real datagram: its last record is cut. */
  for (gsize cut = 1; cut < real_len; cut += (cut < 20 ? 1 : 37))
    mm_dtls_handle (d, real_buf, cut);
  mm_dtls_handle (d, NULL, 0);
}

static void
test_garbage_handshaking (Fixture *f, gconstpointer data)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (5764);
  Side *client = &f->side[0], *server = &f->side[1];
  MmSrtpKeys ck, sk;

  dtls_pair (f, TRUE);
  /* Before the ClientHello: nothing for the server to do. */
  feed_garbage (server->dtls, r, NULL, FALSE);
  g_assert_cmpint (mm_dtls_state (server->dtls), ==, MM_DTLS_HANDSHAKING);
  mm_dtls_start (client->dtls);
  /* Before every real datagram, garbage and cut copies of it. */
  for (guint n = 0; n < 100; n++)
    {
      Side *s = !g_queue_is_empty (&server->inbox) ? server
                : !g_queue_is_empty (&client->inbox) ? client
                : NULL;
      g_autoptr (GBytes) b = NULL;
      const guint8 *buf;
      gsize len;

      if (s == NULL)
        break;
      b = g_queue_pop_head (&s->inbox);
      feed_garbage (s->dtls, r, b, FALSE);
      g_assert_cmpint (mm_dtls_state (s->dtls), ==, MM_DTLS_HANDSHAKING);
      buf = g_bytes_get_data (b, &len);
      mm_dtls_handle (s->dtls, buf, len);
    }
  settle (f);
  assert_connected (client);
  assert_connected (server);
  g_assert_true (mm_dtls_srtp_keys (client->dtls, &ck));
  g_assert_true (mm_dtls_srtp_keys (server->dtls, &sk));
  assert_crosswise (&ck, &sk);
}

static void
test_garbage_connected (Fixture *f, gconstpointer data)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (6347);
  MmSrtpKeys before, after;
  g_autoptr (GBytes) last = NULL;

  dtls_pair (f, TRUE);
  mm_dtls_start (f->side[0].dtls);
  /* Keep the server's last flight: its copy is a real record of epoch 1. */
  for (guint n = 0; n < 100; n++)
    {
      Side *s = !g_queue_is_empty (&f->side[0].inbox) ? &f->side[0]
                : !g_queue_is_empty (&f->side[1].inbox) ? &f->side[1]
                : NULL;
      g_autoptr (GBytes) b = NULL;
      const guint8 *buf;
      gsize len;

      if (s == NULL)
        break;
      b = g_queue_pop_head (&s->inbox);
      if (s == &f->side[0])
        {
          g_clear_pointer (&last, g_bytes_unref);
          last = g_bytes_ref (b);
        }
      buf = g_bytes_get_data (b, &len);
      mm_dtls_handle (s->dtls, buf, len);
    }
  /* The server's final flight again (as if the client's answer was lost):
   * the client takes it in its stride. */
  mm_dtls_handle (f->side[0].dtls, g_bytes_get_data (last, NULL), g_bytes_get_size (last));
  pump (f);
  assert_connected (&f->side[0]);
  assert_connected (&f->side[1]);
  for (guint i = 0; i < 2; i++)
    {
      MmDtls *d = f->side[i].dtls;
      guint sent = f->side[i].sent;

      g_assert_true (mm_dtls_srtp_keys (d, &before));
      feed_garbage (d, r, last, TRUE);
      assert_connected (&f->side[i]);
      g_assert_true (mm_dtls_srtp_keys (d, &after));
      g_assert_cmpmem (&before, sizeof before, &after, sizeof after);
      /* No alert went out: a forged datagram must not end the call by
       * way of the remote either. */
      g_assert_cmpuint (f->side[i].sent, ==, sent);
    }
}

/* ---- against a plain OpenSSL peer --------------------------------------- */

/* The peer offers only AES-CM; keys and fingerprints are checked against
 * what OpenSSL says on the other side.  Also with other hash names in the
 * expected fingerprint. */
static void
test_plain_peer (Fixture *f, gconstpointer data)
{
  gboolean mm_is_client = GPOINTER_TO_INT (data);
  Side *mm = &f->side[0], *raw = &f->side[1];
  g_autofree char *fp = NULL;
  g_autofree char *mine = NULL;
  MmSrtpKeys mk, rk;

  raw_context (f, "SRTP_AES128_CM_SHA1_80");
  fp = mm_is_client ? fingerprint_of (f->raw_cert, EVP_sha512 (), "SHA-512")
                    : fingerprint_of (f->raw_cert, EVP_sha1 (), "sha-1");
  dtls_new (f->id[0], mm_is_client ? MM_DTLS_CLIENT : MM_DTLS_SERVER, fp, mm);
  raw_new (f, raw, !mm_is_client);
  start (mm_is_client ? mm : raw);
  settle (f);
  assert_connected (mm);
  g_assert_false (raw->raw_failed);
  g_assert_true (SSL_is_init_finished (raw->ssl));

  /* What the peer received is the certificate our SDP would announce. */
  mine = fingerprint_of (SSL_get0_peer_certificate (raw->ssl), EVP_sha256 (), "sha-256");
  g_assert_cmpstr (mine, ==, mm_dtls_identity_fingerprint (f->id[0]));
  g_assert_true (mm_dtls_srtp_keys (mm->dtls, &mk));
  raw_keys (raw, &rk);
  assert_crosswise (&mk, &rk);
  g_assert_cmpint (mk.profile, ==, MM_SRTP_PROFILE_AES128_CM_SHA1_80);
  g_assert_cmpuint (mk.salt_len, ==, 14);

  /* Application data is no business of ours. */
  g_assert_cmpint (SSL_write (raw->ssl, "hello", 5), ==, 5);
  raw_flush (raw);
  pump (f);
  assert_connected (mm);

  /* The peer closes: close_notify. */
  g_assert_cmpint (SSL_shutdown (raw->ssl), >=, 0);
  raw_flush (raw);
  g_assert_false (g_queue_is_empty (&mm->inbox));
  pump (f);
  g_assert_cmpint (mm_dtls_state (mm->dtls), ==, MM_DTLS_CLOSED);
  g_assert_false (mm_dtls_srtp_keys (mm->dtls, &mk));
  g_assert_cmpint (mm_dtls_timeout_us (mm->dtls), ==, -1);
  g_assert_cmpint (mm_dtls_handle (mm->dtls, (const guint8 *) "\x15", 1), ==, MM_DTLS_CLOSED);
}

/* A peer that offers no SRTP profile of ours. */
static void
test_no_common_profile (Fixture *f, gconstpointer data)
{
  Side *mm = &f->side[0], *raw = &f->side[1];

  raw_context (f, "SRTP_AES128_CM_SHA1_32");
  dtls_new (f->id[0], MM_DTLS_CLIENT, f->raw_fingerprint, mm);
  raw_new (f, raw, FALSE);
  start (mm);
  settle (f);
  g_assert_cmpint (mm_dtls_state (mm->dtls), ==, MM_DTLS_FAILED);
  g_test_message ("error: %s", mm_dtls_error (mm->dtls));
  g_assert_nonnull (strstr (mm_dtls_error (mm->dtls), "SRTP"));
}

/* ---- SRTP --------------------------------------------------------------- */

typedef struct {
  Fixture f;
  MmSrtpKeys a, b;          /* the two ends' keys, from a real handshake */
  MmSrtp *a_out, *b_in;     /* a sends to b */
  MmSrtp *b_out, *a_in;
} SrtpFixture;

static void
srtp_setup (SrtpFixture *s, gconstpointer data)
{
  MmSrtpProfile profile = GPOINTER_TO_INT (data);
  g_autoptr (GError) error = NULL;
  Fixture *f = &s->f;

  g_assert_true (mm_srtp_init (&error));
  g_assert_true (mm_srtp_init (&error));
  fixture_setup (f, NULL);
  if (profile == MM_SRTP_PROFILE_AEAD_AES_128_GCM)
    {
      dtls_pair (f, TRUE);
      mm_dtls_start (f->side[0].dtls);
      settle (f);
      g_assert_true (mm_dtls_srtp_keys (f->side[1].dtls, &s->b));
    }
  else
    {
      raw_context (f, "SRTP_AES128_CM_SHA1_80");
      dtls_new (f->id[0], MM_DTLS_CLIENT, f->raw_fingerprint, &f->side[0]);
      raw_new (f, &f->side[1], FALSE);
      mm_dtls_start (f->side[0].dtls);
      settle (f);
      raw_keys (&f->side[1], &s->b);
    }
  g_assert_true (mm_dtls_srtp_keys (f->side[0].dtls, &s->a));
  g_assert_cmpint (s->a.profile, ==, profile);
  s->a_out = mm_srtp_new (&s->a, TRUE, &error);
  g_assert_no_error (error);
  s->a_in = mm_srtp_new (&s->a, FALSE, &error);
  g_assert_no_error (error);
  s->b_out = mm_srtp_new (&s->b, TRUE, &error);
  g_assert_no_error (error);
  s->b_in = mm_srtp_new (&s->b, FALSE, &error);
  g_assert_no_error (error);
}

static void
srtp_teardown (SrtpFixture *s, gconstpointer data)
{
  mm_srtp_free (s->a_out);
  mm_srtp_free (s->a_in);
  mm_srtp_free (s->b_out);
  mm_srtp_free (s->b_in);
  fixture_teardown (&s->f, NULL);
}

static gsize
rtp_trailer (const MmSrtpKeys *k)
{
  return k->profile == MM_SRTP_PROFILE_AEAD_AES_128_GCM ? 16 : 10;
}

/* An RTP packet of VP8's payload type, with @payload bytes, in a buffer
 * with exactly @room bytes free behind it.  Returns: (transfer full) */
static guint8 *
make_rtp (guint16 seq, gsize payload, gsize room, gsize *len)
{
  guint8 *p = g_malloc (12 + payload + room);

  p[0] = 0x80;
  p[1] = 96;
  p[2] = seq >> 8;
  p[3] = seq & 0xff;
  memcpy (p + 4, "\x00\x01\x02\x03" "\x11\x22\x33\x44", 8);   /* timestamp, SSRC */
  for (gsize i = 0; i < payload; i++)
    p[12 + i] = i & 0xff;
  *len = 12 + payload;
  return p;
}

/* A receiver report with one report block. */
static guint8 *
make_rtcp (gsize room, gsize *len)
{
  guint8 *p = g_malloc (32 + room);

  memset (p, 0, 32);
  p[0] = 0x81;
  p[1] = 201;
  p[3] = 7;                                   /* 8 words - 1 */
  memcpy (p + 4, "\x11\x22\x33\x44" "\x55\x66\x77\x88", 8);
  p[20] = 0x42;
  *len = 32;
  return p;
}

static void
test_srtp_rtp (SrtpFixture *s, gconstpointer data)
{
  gsize trailer = rtp_trailer (&s->a);

  for (guint dir = 0; dir < 2; dir++)
    {
      MmSrtp *out = dir == 0 ? s->a_out : s->b_out;
      MmSrtp *in = dir == 0 ? s->b_in : s->a_in;

      for (guint16 seq = 65530; seq != 10; seq++)
        {
          gsize len, plain_len;
          /* Exactly the trailer's room: a write past it is an error in
           * valgrind or ASan. */
          g_autofree guint8 *p = make_rtp (seq, 160, trailer, &len);
          g_autofree guint8 *plain = g_memdup2 (p, len);

          plain_len = len;
          g_assert_cmpint (mm_srtp_protect_rtp (out, p, &len, len + trailer), ==, MM_SRTP_OK);
          g_assert_cmpuint (len, ==, plain_len + trailer);
          g_assert_cmpmem (p, 12, plain, 12);                  /* header in clear */
          g_assert_true (memcmp (p + 12, plain + 12, 160) != 0); /* payload not */
          g_assert_cmpint (mm_srtp_unprotect_rtp (in, p, &len), ==, MM_SRTP_OK);
          g_assert_cmpmem (p, len, plain, plain_len);
        }
    }
}

static void
test_srtp_rtcp (SrtpFixture *s, gconstpointer data)
{
  gsize trailer = rtp_trailer (&s->a) + 4;

  for (guint dir = 0; dir < 2; dir++)
    {
      MmSrtp *out = dir == 0 ? s->a_out : s->b_out;
      MmSrtp *in = dir == 0 ? s->b_in : s->a_in;

      for (guint i = 0; i < 5; i++)
        {
          gsize len;
          g_autofree guint8 *p = make_rtcp (trailer, &len);
          g_autofree guint8 *plain = g_memdup2 (p, len);
          g_autofree guint8 *copy = NULL;

          g_assert_cmpint (mm_srtp_protect_rtcp (out, p, &len, len + trailer), ==, MM_SRTP_OK);
          g_assert_cmpuint (len, ==, 32 + trailer);
          g_assert_true (memcmp (p + 8, plain + 8, 24) != 0);
          copy = g_memdup2 (p, len);
          g_assert_cmpint (mm_srtp_unprotect_rtcp (in, p, &len), ==, MM_SRTP_OK);
          g_assert_cmpmem (p, len, plain, 32);
          /* The SRTCP index is not accepted twice. */
          len = 32 + trailer;
          g_assert_cmpint (mm_srtp_unprotect_rtcp (in, copy, &len), ==, MM_SRTP_ERROR_REPLAY);
        }
    }
}

static void
test_srtp_replay (SrtpFixture *s, gconstpointer data)
{
  gsize trailer = rtp_trailer (&s->a);
  gsize len, len2;
  g_autofree guint8 *p = make_rtp (3000, 50, MM_SRTP_MAX_TRAILER, &len);
  g_autofree guint8 *copy = NULL;
  g_autofree guint8 *old = NULL;
  g_autoptr (MmSrtp) fresh = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (mm_srtp_protect_rtp (s->a_out, p, &len, len + MM_SRTP_MAX_TRAILER), ==,
                   MM_SRTP_OK);
  copy = g_memdup2 (p, len);
  len2 = len;
  g_assert_cmpint (mm_srtp_unprotect_rtp (s->b_in, p, &len), ==, MM_SRTP_OK);
  g_assert_cmpint (mm_srtp_unprotect_rtp (s->b_in, copy, &len2), ==, MM_SRTP_ERROR_REPLAY);

  /* Far behind the window of 1024.  (The sender refuses to go back so far
   * itself: a second sender with the same keys.) */
  old = make_rtp (1800, 50, trailer, &len);
  fresh = mm_srtp_new (&s->a, TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (mm_srtp_protect_rtp (fresh, old, &len, len + trailer), ==, MM_SRTP_OK);
  g_assert_cmpint (mm_srtp_unprotect_rtp (s->b_in, old, &len), ==, MM_SRTP_ERROR_REPLAY);
}

/* A NACKed packet is protected again with its sequence number. */
static void
test_srtp_resend (SrtpFixture *s, gconstpointer data)
{
  gsize trailer = rtp_trailer (&s->a);

  for (guint i = 0; i < 2; i++)
    {
      gsize len;
      g_autofree guint8 *p = make_rtp (i == 0 ? 500 : 499, 80, trailer, &len);

      g_assert_cmpint (mm_srtp_protect_rtp (s->a_out, p, &len, len + trailer), ==, MM_SRTP_OK);
    }
  for (guint i = 0; i < 2; i++)
    {
      gsize len;
      g_autofree guint8 *p = make_rtp (499, 80, trailer, &len);

      g_assert_cmpint (mm_srtp_protect_rtp (s->a_out, p, &len, len + trailer), ==, MM_SRTP_OK);
      /* The receiver has not seen 499: the resend arrives. */
      g_assert_cmpint (mm_srtp_unprotect_rtp (s->b_in, p, &len), ==,
                       i == 0 ? MM_SRTP_OK : MM_SRTP_ERROR_REPLAY);
    }
}

static void
test_srtp_tampered (SrtpFixture *s, gconstpointer data)
{
  gsize trailer = rtp_trailer (&s->a);
  gsize len;
  g_autofree guint8 *p = make_rtp (7, 100, trailer, &len);
  gsize plen;
  g_autofree guint8 *good = NULL;

  g_assert_cmpint (mm_srtp_protect_rtp (s->a_out, p, &len, len + trailer), ==, MM_SRTP_OK);
  good = g_memdup2 (p, len);
  plen = len;
  /* A flipped bit in the header, the payload or the tag. */
  for (gsize at = 1; at < plen; at += 13)
    {
      g_autofree guint8 *bad = g_memdup2 (good, plen);
      gsize blen = plen;

      bad[at] ^= 0x01;
      g_assert_cmpint (mm_srtp_unprotect_rtp (s->b_in, bad, &blen), ==, MM_SRTP_ERROR_AUTH);
    }
  /* Failures did not spend the sequence number. */
  g_assert_cmpint (mm_srtp_unprotect_rtp (s->b_in, good, &plen), ==, MM_SRTP_OK);
  /* Keyed for the other direction: not ours. */
  {
    gsize l2;
    g_autofree guint8 *q = make_rtp (8, 100, trailer, &l2);

    g_assert_cmpint (mm_srtp_protect_rtp (s->a_out, q, &l2, l2 + trailer), ==, MM_SRTP_OK);
    g_assert_cmpint (mm_srtp_unprotect_rtp (s->a_in, q, &l2), ==, MM_SRTP_ERROR_AUTH);
  }
  /* RTCP too. */
  {
    gsize l3;
    g_autofree guint8 *c = make_rtcp (trailer + 4, &l3);

    g_assert_cmpint (mm_srtp_protect_rtcp (s->a_out, c, &l3, l3 + trailer + 4), ==, MM_SRTP_OK);
    c[12] ^= 0x80;
    g_assert_cmpint (mm_srtp_unprotect_rtcp (s->b_in, c, &l3), ==, MM_SRTP_ERROR_AUTH);
  }
}

/* Too little room behind the packet is refused, and nothing is written:
 * the buffers are exactly as large as asked, for valgrind and ASan. */
static void
test_srtp_room (SrtpFixture *s, gconstpointer data)
{
  gsize trailer = rtp_trailer (&s->a);
  gsize len, plain_len;
  g_autofree guint8 *p = make_rtp (42, 60, trailer - 1, &len);
  g_autofree guint8 *plain = g_memdup2 (p, len);
  g_autofree guint8 *c = NULL;
  g_autofree guint8 *cplain = NULL;

  plain_len = len;
  g_assert_cmpint (mm_srtp_protect_rtp (s->a_out, p, &len, len + trailer - 1), ==,
                   MM_SRTP_ERROR_OTHER);
  g_assert_cmpmem (p, len, plain, plain_len);
  g_assert_cmpint (mm_srtp_protect_rtp (s->a_out, p, &len, len), ==, MM_SRTP_ERROR_OTHER);

  c = make_rtcp (trailer + 3, &len);
  cplain = g_memdup2 (c, len);
  g_assert_cmpint (mm_srtp_protect_rtcp (s->a_out, c, &len, len + trailer + 3), ==,
                   MM_SRTP_ERROR_OTHER);
  g_assert_cmpmem (c, len, cplain, 32);
}

static void
test_srtp_malformed (SrtpFixture *s, gconstpointer data)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (3711);
  guint8 buf[200 + MM_SRTP_MAX_TRAILER];
  gsize len;

  /* Shorter than a header, either way. */
  memset (buf, 0, sizeof buf);
  buf[0] = 0x80;
  for (len = 0; len < 12; len++)
    {
      gsize l = len;

      g_assert_cmpint (mm_srtp_protect_rtp (s->a_out, buf, &l, sizeof buf), ==,
                       MM_SRTP_ERROR_MALFORMED);
      l = len;
      g_assert_cmpint (mm_srtp_unprotect_rtp (s->b_in, buf, &l), ==, MM_SRTP_ERROR_MALFORMED);
    }
  for (len = 0; len < 8; len++)
    {
      gsize l = len;

      g_assert_cmpint (mm_srtp_unprotect_rtcp (s->b_in, buf, &l), ==, MM_SRTP_ERROR_MALFORMED);
    }
  /* Noise is never accepted. */
  for (guint i = 0; i < 2000; i++)
    {
      gsize l = g_rand_int_range (r, 0, 200);
      MmSrtpResult res;

      for (gsize j = 0; j < l; j++)
        buf[j] = g_rand_int_range (r, 0, 256);
      buf[0] = 0x80 | (buf[0] & 0x3f);
      res = i % 2 ? mm_srtp_unprotect_rtp (s->b_in, buf, &l)
                  : mm_srtp_unprotect_rtcp (s->b_in, buf, &l);
      g_assert_cmpint (res, !=, MM_SRTP_OK);
    }
}

static void
test_srtp_new (void)
{
  g_autoptr (GError) error = NULL;
  MmSrtpKeys k;

  memset (&k, 0, sizeof k);
  g_assert_null (mm_srtp_new (&k, TRUE, &error));
  g_assert_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT);
  g_clear_error (&error);
  k.profile = MM_SRTP_PROFILE_AEAD_AES_128_GCM;
  k.key_len = 16;
  k.salt_len = 14;   /* AES-CM's */
  g_assert_null (mm_srtp_new (&k, FALSE, &error));
  g_assert_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT);
  g_clear_error (&error);
  k.salt_len = 12;
  {
    g_autoptr (MmSrtp) s = mm_srtp_new (&k, FALSE, &error);

    g_assert_no_error (error);
    g_assert_nonnull (s);
  }
  g_assert_cmpstr (mm_srtp_result_name (MM_SRTP_OK), ==, "ok");
  g_assert_cmpstr (mm_srtp_result_name (MM_SRTP_ERROR_REPLAY), ==, "replay");
  g_assert_cmpstr (mm_srtp_result_name (MM_SRTP_ERROR_AUTH), ==, "auth");
  g_assert_cmpstr (mm_srtp_result_name (MM_SRTP_ERROR_MALFORMED), ==, "malformed");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/dtls/identity", test_identity);
#define DTLS_TEST(path, func, data) \
  g_test_add (path, Fixture, GINT_TO_POINTER (data), fixture_setup, func, fixture_teardown)
  DTLS_TEST ("/dtls/fingerprint/syntax", test_fingerprint_syntax, 0);
  DTLS_TEST ("/dtls/handshake/first-is-client", test_handshake, TRUE);
  DTLS_TEST ("/dtls/handshake/first-is-server", test_handshake, FALSE);
  DTLS_TEST ("/dtls/handshake/wrong-fingerprint/client-checks", test_wrong_fingerprint, TRUE);
  DTLS_TEST ("/dtls/handshake/wrong-fingerprint/server-checks", test_wrong_fingerprint, FALSE);
  DTLS_TEST ("/dtls/handshake/lost-flight", test_lost_flight, 0);
  DTLS_TEST ("/dtls/garbage/handshaking", test_garbage_handshaking, 0);
  DTLS_TEST ("/dtls/garbage/connected", test_garbage_connected, 0);
  DTLS_TEST ("/dtls/plain-peer/we-are-client", test_plain_peer, TRUE);
  DTLS_TEST ("/dtls/plain-peer/we-are-server", test_plain_peer, FALSE);
  DTLS_TEST ("/dtls/plain-peer/no-common-profile", test_no_common_profile, 0);
#undef DTLS_TEST
  g_test_add_func ("/srtp/new", test_srtp_new);
#define SRTP_TEST(path, func) \
  g_test_add ("/srtp/gcm/" path, SrtpFixture, GINT_TO_POINTER (MM_SRTP_PROFILE_AEAD_AES_128_GCM), \
              srtp_setup, func, srtp_teardown); \
  g_test_add ("/srtp/aes-cm/" path, SrtpFixture, \
              GINT_TO_POINTER (MM_SRTP_PROFILE_AES128_CM_SHA1_80), srtp_setup, func, srtp_teardown)
  SRTP_TEST ("rtp", test_srtp_rtp);
  SRTP_TEST ("rtcp", test_srtp_rtcp);
  SRTP_TEST ("replay", test_srtp_replay);
  SRTP_TEST ("resend", test_srtp_resend);
  SRTP_TEST ("tampered", test_srtp_tampered);
  SRTP_TEST ("room", test_srtp_room);
  SRTP_TEST ("malformed", test_srtp_malformed);
#undef SRTP_TEST
  return g_test_run ();
}
