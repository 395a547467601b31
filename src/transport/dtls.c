/* dtls.c — DTLS-SRTP key agreement with OpenSSL on memory BIOs. */
#include "config.h"

#include "transport/dtls.h"

#include "core/error.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/srtp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-dtls"

#define RECORD_HEADER 13                        /* RFC 6347 4.1 */
#define HANDSHAKE_LIMIT_US (30 * G_USEC_PER_SEC)
#define MAX_DATAGRAM 16384
#define CERT_SERIAL_BITS 63                      /* positive and fits 8 bytes */

struct _MmDtlsIdentity {
  gatomicrefcount ref;
  SSL_CTX *ctx;       /* holds the key and certificate */
  char *fingerprint;  /* "sha-256 AB:CD:..." */
};

struct _MmDtls {
  MmDtlsIdentity *id;   /* a reference: its SSL_CTX must outlive ssl */
  SSL *ssl;
  BIO *rbio, *wbio;     /* owned by ssl */
  MmDtlsRole role;
  MmDtlsState state;
  MmDtlsSend send;
  gpointer data;
  /* What the remote's certificate must hash to. */
  const EVP_MD *md;
  guint8 expected[EVP_MAX_MD_SIZE];
  guint expected_len;
  char *expected_text;
  gint64 started_us;    /* when the handshake began; 0 before */
  gboolean alert_received;   /* the remote sent a fatal alert */
  gboolean ssl_dead;    /* OpenSSL failed on a record after the handshake */
  char *error;
  MmSrtpKeys keys;
};

/* The profiles in our order of preference; as a server OpenSSL picks the
 * first of ours that the client offers. */
static const char srtp_profiles[] = "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80";

/* Forward secrecy only.  The RSA suites are for a remote whose certificate
 * is RSA (browsers may be configured so); ours is ECDSA. */
static const char cipher_list[] =
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
  "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
  "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA";

static const struct {
  const char *name;
  const EVP_MD *(*md) (void);
} hashes[] = {
  { "sha-1", EVP_sha1 },
  { "sha-224", EVP_sha224 },
  { "sha-256", EVP_sha256 },
  { "sha-384", EVP_sha384 },
  { "sha-512", EVP_sha512 },
};

/* Everything on this thread's OpenSSL error queue as one line (emptying
 * it), after @what. */
static char *
take_openssl_errors (const char *what)
{
  GString *s = g_string_new (what);
  unsigned long e;

  while ((e = ERR_get_error ()) != 0)
    {
      char buf[256];

      ERR_error_string_n (e, buf, sizeof buf);
      g_string_append_printf (s, ": %s", buf);
    }
  return g_string_free (s, FALSE);
}

static void
set_openssl_error (GError **error, const char *what)
{
  g_autofree char *msg = take_openssl_errors (what);

  g_set_error_literal (error, MM_ERROR, MM_ERROR_INTERNAL, msg);
}

/* "AB:CD:..." of @len bytes.  Returns: (transfer full) */
static char *
hex_colons (const guint8 *md, guint len)
{
  GString *s = g_string_sized_new (len * 3);

  for (guint i = 0; i < len; i++)
    g_string_append_printf (s, i == 0 ? "%02X" : ":%02X", md[i]);
  return g_string_free (s, FALSE);
}

/* ---- identity ----------------------------------------------------------- */

/* A self-signed certificate for @key.  Browsers check only its digest
 * against our a=fingerprint, so the name and dates matter only in that
 * they must be valid now.  Returns: (transfer full) or NULL. */
static X509 *
make_certificate (EVP_PKEY *key)
{
  X509 *cert = X509_new ();
  BIGNUM *serial = BN_new ();
  X509_NAME *name;
  gboolean ok;

  ok = cert != NULL && serial != NULL
       && X509_set_version (cert, X509_VERSION_3)
       && BN_rand (serial, CERT_SERIAL_BITS, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)
       && BN_to_ASN1_INTEGER (serial, X509_get_serialNumber (cert)) != NULL
       /* A day back: the remote's clock may be behind ours. */
       && X509_gmtime_adj (X509_getm_notBefore (cert), -24 * 3600) != NULL
       && X509_gmtime_adj (X509_getm_notAfter (cert), 30L * 24 * 3600) != NULL
       && X509_set_pubkey (cert, key);
  if (ok)
    {
      name = X509_get_subject_name (cert);
      ok = X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_ASC,
                                       (const unsigned char *) "mixmeet", -1, -1, 0)
           && X509_set_issuer_name (cert, name)
           && X509_sign (cert, key, EVP_sha256 ()) > 0;
    }
  BN_free (serial);
  if (!ok)
    {
      X509_free (cert);
      return NULL;
    }
  return cert;
}

static int verify_certificate (int preverify_ok, X509_STORE_CTX *store);

static SSL_CTX *
make_context (EVP_PKEY *key, X509 *cert)
{
  SSL_CTX *ctx = SSL_CTX_new (DTLS_method ());

  if (ctx == NULL)
    return NULL;
  /* SSL_CTX_set_tlsext_use_srtp returns 0 on success. */
  if (!SSL_CTX_set_min_proto_version (ctx, DTLS1_2_VERSION)
      || !SSL_CTX_use_certificate (ctx, cert)
      || !SSL_CTX_use_PrivateKey (ctx, key)
      || !SSL_CTX_check_private_key (ctx)
      || SSL_CTX_set_tlsext_use_srtp (ctx, srtp_profiles) != 0
      || !SSL_CTX_set_cipher_list (ctx, cipher_list)
      || !SSL_CTX_set1_groups_list (ctx, "X25519:P-256:P-384"))
    {
      SSL_CTX_free (ctx);
      return NULL;
    }
  /* Every connection is a fresh handshake: no resumption, and no
   * renegotiation that could change the keys under SRTP. */
  SSL_CTX_set_options (ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION
                            | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode (ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_verify (ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                      verify_certificate);
  return ctx;
}

MmDtlsIdentity *
mm_dtls_identity_new (GError **error)
{
  g_autoptr (MmDtlsIdentity) id = g_new0 (MmDtlsIdentity, 1);
  EVP_PKEY *key;
  X509 *cert = NULL;
  guint8 md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  g_autofree char *hex = NULL;

  g_atomic_ref_count_init (&id->ref);
  ERR_clear_error ();
  key = EVP_EC_gen ("P-256");
  if (key != NULL)
    cert = make_certificate (key);
  if (cert != NULL)
    id->ctx = make_context (key, cert);
  if (id->ctx == NULL || !X509_digest (cert, EVP_sha256 (), md, &md_len))
    {
      set_openssl_error (error, "cannot make a DTLS certificate");
      X509_free (cert);
      EVP_PKEY_free (key);
      return NULL;
    }
  hex = hex_colons (md, md_len);
  id->fingerprint = g_strconcat ("sha-256 ", hex, NULL);
  /* The context holds its own references. */
  X509_free (cert);
  EVP_PKEY_free (key);
  return g_steal_pointer (&id);
}

MmDtlsIdentity *
mm_dtls_identity_ref (MmDtlsIdentity *id)
{
  g_atomic_ref_count_inc (&id->ref);
  return id;
}

void
mm_dtls_identity_unref (MmDtlsIdentity *id)
{
  if (id == NULL || !g_atomic_ref_count_dec (&id->ref))
    return;
  SSL_CTX_free (id->ctx);
  g_free (id->fingerprint);
  g_free (id);
}

const char *
mm_dtls_identity_fingerprint (MmDtlsIdentity *id)
{
  return id->fingerprint;
}

/* ---- fingerprints ------------------------------------------------------- */

static int
hex_digit (char c)
{
  return g_ascii_xdigit_value (c);
}

/* Reads "sha-256 AB:CD:..." into @d. */
static gboolean
parse_fingerprint (MmDtls *d, const char *text, GError **error)
{
  const char *space, *p;
  guint n = 0;

  d->md = NULL;
  if (text == NULL || (space = strchr (text, ' ')) == NULL)
    goto bad;
  for (gsize i = 0; i < G_N_ELEMENTS (hashes); i++)
    if (strlen (hashes[i].name) == (gsize) (space - text)
        && g_ascii_strncasecmp (text, hashes[i].name, space - text) == 0)
      d->md = hashes[i].md ();
  if (d->md == NULL)
    goto bad;
  for (p = space + 1; *p == ' '; p++)
    ;
  /* Pairs of hex digits separated by single colons, nothing else. */
  for (;;)
    {
      if (n == EVP_MAX_MD_SIZE || hex_digit (p[0]) < 0 || hex_digit (p[1]) < 0)
        goto bad;
      d->expected[n++] = hex_digit (p[0]) << 4 | hex_digit (p[1]);
      p += 2;
      if (*p == '\0')
        break;
      if (*p++ != ':')
        goto bad;
    }
  if (n != (guint) EVP_MD_get_size (d->md))
    goto bad;
  d->expected_len = n;
  d->expected_text = g_strdup (text);
  return TRUE;

bad:
  g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT, "unreadable DTLS fingerprint \"%s\"",
               text != NULL ? text : "(none)");
  return FALSE;
}

/* Whether @cert hashes to the fingerprint of @d; if not, why in @d->error. */
static gboolean
check_fingerprint (MmDtls *d, X509 *cert)
{
  guint8 md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  g_autofree char *got = NULL;

  if (cert == NULL)
    {
      g_free (d->error);
      d->error = g_strdup ("the remote sent no certificate");
      return FALSE;
    }
  if (X509_digest (cert, d->md, md, &len) && len == d->expected_len
      && CRYPTO_memcmp (md, d->expected, len) == 0)
    return TRUE;
  got = hex_colons (md, len);
  g_free (d->error);
  d->error = g_strdup_printf ("the remote's certificate does not match fingerprint %s"
                              " (its digest is %s)", d->expected_text, got);
  return FALSE;
}

/* OpenSSL's chain checks are meaningless for the self-signed certificates
 * of WebRTC: accept any chain, but the leaf only if it is the one the
 * remote's SDP announced.  Refusing here (rather than after the
 * handshake) lets OpenSSL send the remote a bad_certificate alert. */
static int
verify_certificate (int preverify_ok, X509_STORE_CTX *store)
{
  SSL *ssl = X509_STORE_CTX_get_ex_data (store, SSL_get_ex_data_X509_STORE_CTX_idx ());
  MmDtls *d = ssl != NULL ? SSL_get_app_data (ssl) : NULL;

  if (d == NULL)
    return 0;
  if (X509_STORE_CTX_get_error_depth (store) != 0)
    return 1;
  if (!check_fingerprint (d, X509_STORE_CTX_get_current_cert (store)))
    {
      X509_STORE_CTX_set_error (store, X509_V_ERR_CERT_REJECTED);
      return 0;
    }
  X509_STORE_CTX_set_error (store, X509_V_OK);
  return 1;
}

/* Notes alerts from the remote, to tell its failure from ours. */
static void
on_info (const SSL *ssl, int where, int ret)
{
  MmDtls *d = SSL_get_app_data (ssl);

  if ((where & SSL_CB_READ_ALERT) == SSL_CB_READ_ALERT && d != NULL
      && (ret >> 8) == SSL3_AL_FATAL)
    d->alert_received = TRUE;
}

/* ---- connection --------------------------------------------------------- */

MmDtls *
mm_dtls_new (MmDtlsIdentity *id, MmDtlsRole role, const char *remote_fingerprint,
             MmDtlsSend send, gpointer data, GError **error)
{
  g_autoptr (MmDtls) d = g_new0 (MmDtls, 1);

  g_return_val_if_fail (id != NULL && send != NULL, NULL);
  d->id = mm_dtls_identity_ref (id);
  d->role = role;
  d->state = MM_DTLS_HANDSHAKING;
  d->send = send;
  d->data = data;
  if (!parse_fingerprint (d, remote_fingerprint, error))
    return NULL;

  ERR_clear_error ();
  d->ssl = SSL_new (id->ctx);
  d->rbio = BIO_new (BIO_s_mem ());
  d->wbio = BIO_new (BIO_s_mem ());
  if (d->ssl == NULL || d->rbio == NULL || d->wbio == NULL)
    {
      BIO_free (d->rbio);
      BIO_free (d->wbio);
      d->rbio = d->wbio = NULL;
      set_openssl_error (error, "cannot make a DTLS connection");
      return NULL;
    }
  /* An empty read BIO means "no datagram yet", not end of file. */
  BIO_set_mem_eof_return (d->rbio, -1);
  SSL_set_bio (d->ssl, d->rbio, d->wbio);
  SSL_set_app_data (d->ssl, d);
  SSL_set_info_callback (d->ssl, on_info);
  /* A memory BIO knows no path MTU: fragment handshake messages for ours,
   * which leaves room for IP, UDP and TURN headers. */
  SSL_set_options (d->ssl, SSL_OP_NO_QUERY_MTU);
  SSL_set_mtu (d->ssl, MM_DTLS_MTU);
  if (role == MM_DTLS_CLIENT)
    SSL_set_connect_state (d->ssl);
  else
    SSL_set_accept_state (d->ssl);
  return g_steal_pointer (&d);
}

void
mm_dtls_free (MmDtls *d)
{
  if (d == NULL)
    return;
  SSL_free (d->ssl);   /* and the BIOs */
  mm_dtls_identity_unref (d->id);
  g_free (d->expected_text);
  g_free (d->error);
  OPENSSL_cleanse (&d->keys, sizeof d->keys);
  g_free (d);
}

/* Sends what OpenSSL wrote.  A memory BIO has no datagram boundaries: the
 * records of a whole flight lie in it back to back, each no larger than
 * the MTU.  Whole records are packed into datagrams of at most
 * MM_DTLS_MTU bytes, as a datagram BIO would have written them. */
static void
flush (MmDtls *d)
{
  guint8 dgram[MM_DTLS_MTU];
  gsize used = 0;

  for (;;)
    {
      size_t pending = BIO_ctrl_pending (d->wbio);
      char *head = NULL;
      gsize record;

      if (pending == 0)
        break;
      BIO_get_mem_data (d->wbio, &head);
      record = pending >= RECORD_HEADER
               ? RECORD_HEADER + ((gsize) (guint8) head[11] << 8 | (guint8) head[12])
               : pending;
      /* OpenSSL writes whole records; anything else would be its bug, and
       * is sent as it is rather than lost. */
      record = MIN (record, pending);
      if (used > 0 && used + record > sizeof dgram)
        {
          d->send (dgram, used, d->data);
          used = 0;
        }
      if (record > sizeof dgram)
        {
          g_autofree guint8 *big = g_malloc (record);

          g_warning ("a DTLS record of %" G_GSIZE_FORMAT " bytes exceeds the MTU", record);
          BIO_read (d->wbio, big, record);
          d->send (big, record, d->data);
          continue;
        }
      BIO_read (d->wbio, dgram + used, record);
      used += record;
    }
  if (used > 0)
    d->send (dgram, used, d->data);
}

static void
fail (MmDtls *d, const char *what)
{
  d->state = MM_DTLS_FAILED;
  if (d->error == NULL)
    d->error = take_openssl_errors (what);
  else
    ERR_clear_error ();
  g_debug ("DTLS failed: %s", d->error);
}

/* The handshake is done: check who we talk to and take the keys. */
static void
complete (MmDtls *d)
{
  const SRTP_PROTECTION_PROFILE *profile = SSL_get_selected_srtp_profile (d->ssl);
  guint8 material[2 * (MM_SRTP_MAX_KEY + MM_SRTP_MAX_SALT)];
  MmSrtpKeys *k = &d->keys;
  const guint8 *client_key, *server_key, *client_salt, *server_salt;

  /* The verify callback has checked this already; a resumed session or a
   * callback skipped would not have, so check the certificate in use. */
  if (!check_fingerprint (d, SSL_get0_peer_certificate (d->ssl)))
    {
      fail (d, "fingerprint");
      return;
    }
  memset (k, 0, sizeof *k);
  k->key_len = 16;
  if (profile != NULL && profile->id == SRTP_AEAD_AES_128_GCM)
    {
      k->profile = MM_SRTP_PROFILE_AEAD_AES_128_GCM;
      k->salt_len = 12;
    }
  else if (profile != NULL && profile->id == SRTP_AES128_CM_SHA1_80)
    {
      k->profile = MM_SRTP_PROFILE_AES128_CM_SHA1_80;
      k->salt_len = 14;
    }
  else
    {
      fail (d, "the remote agreed to no SRTP profile of ours");
      return;
    }
  if (!SSL_export_keying_material (d->ssl, material, 2 * (k->key_len + k->salt_len),
                                   "EXTRACTOR-dtls_srtp", strlen ("EXTRACTOR-dtls_srtp"),
                                   NULL, 0, 0))
    {
      fail (d, "cannot export the SRTP keys");
      return;
    }
  /* RFC 5764 4.2: client key, server key, client salt, server salt. */
  client_key = material;
  server_key = client_key + k->key_len;
  client_salt = server_key + k->key_len;
  server_salt = client_salt + k->salt_len;
  if (d->role == MM_DTLS_CLIENT)
    {
      memcpy (k->local_key, client_key, k->key_len);
      memcpy (k->local_salt, client_salt, k->salt_len);
      memcpy (k->remote_key, server_key, k->key_len);
      memcpy (k->remote_salt, server_salt, k->salt_len);
    }
  else
    {
      memcpy (k->local_key, server_key, k->key_len);
      memcpy (k->local_salt, server_salt, k->salt_len);
      memcpy (k->remote_key, client_key, k->key_len);
      memcpy (k->remote_salt, client_salt, k->salt_len);
    }
  OPENSSL_cleanse (material, sizeof material);
  d->state = MM_DTLS_CONNECTED;
  g_debug ("DTLS connected (%s, %s)", SSL_get_cipher_name (d->ssl), profile->name);
}

/* What an SSL call that returned @ret means for the state. */
static void
after_call (MmDtls *d, int ret, const char *what)
{
  switch (SSL_get_error (d->ssl, ret))
    {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      break;
    case SSL_ERROR_ZERO_RETURN:
      d->state = MM_DTLS_CLOSED;
      ERR_clear_error ();
      break;
    default:
      fail (d, what);
      break;
    }
}

static void
handshake (MmDtls *d)
{
  int ret;

  ERR_clear_error ();
  ret = SSL_do_handshake (d->ssl);
  if (ret == 1)
    complete (d);
  else
    after_call (d, ret, "DTLS handshake failed");
}

/* Records after the handshake: a close_notify, a fatal alert, or the
 * remote's last flight again (its copy of ours was lost, and OpenSSL
 * answers it).  Application data has no use here and is dropped. */
static void
read_records (MmDtls *d)
{
  guint8 scratch[2048];
  int ret;

  ERR_clear_error ();
  while ((ret = SSL_read (d->ssl, scratch, sizeof scratch)) > 0)
    ;
  after_call (d, ret, "DTLS connection failed");
  if (d->state == MM_DTLS_FAILED && !d->alert_received)
    {
      /* OpenSSL 3.0 fails the connection on some records it cannot
       * decrypt (RFC 6347 4.1.2.7 would have them dropped), so a forged
       * datagram could end a call.  The SRTP keys stay good: keep them,
       * do not send the alert OpenSSL wrote, and read no more records. */
      g_debug ("DTLS record dropped, no more are read: %s", d->error);
      g_clear_pointer (&d->error, g_free);
      (void) BIO_reset (d->wbio);
      d->state = MM_DTLS_CONNECTED;
      d->ssl_dead = TRUE;
      return;
    }
  if (d->state == MM_DTLS_CLOSED)
    {
      /* Answer with ours, as RFC 5246 7.2.1 asks. */
      SSL_shutdown (d->ssl);
      ERR_clear_error ();
    }
}

MmDtlsState
mm_dtls_start (MmDtls *d)
{
  if (d->state != MM_DTLS_HANDSHAKING || d->started_us != 0 || d->role != MM_DTLS_CLIENT)
    return d->state;
  d->started_us = g_get_monotonic_time ();
  handshake (d);
  flush (d);
  return d->state;
}

MmDtlsState
mm_dtls_handle (MmDtls *d, const guint8 *buf, gsize len)
{
  if (d->state != MM_DTLS_HANDSHAKING && d->state != MM_DTLS_CONNECTED)
    return d->state;
  /* Larger than any record: OpenSSL would read it in two pieces and take
   * the second for a datagram of its own. */
  if (buf == NULL || len == 0 || len > MAX_DATAGRAM)
    return d->state;
  BIO_write (d->rbio, buf, len);
  if (d->state == MM_DTLS_HANDSHAKING)
    {
      if (d->started_us == 0)
        d->started_us = g_get_monotonic_time ();
      handshake (d);
    }
  /* Also right after the handshake: the datagram that completed it may
   * carry more records. */
  if (d->state == MM_DTLS_CONNECTED && !d->ssl_dead)
    read_records (d);
  /* OpenSSL reads a datagram from a memory BIO as all that is in it; what
   * it left (a partial record) must not run into the next datagram. */
  if (BIO_ctrl_pending (d->rbio) > 0)
    (void) BIO_reset (d->rbio);
  flush (d);
  return d->state;
}

gint64
mm_dtls_timeout_us (MmDtls *d)
{
  struct timeval tv;
  gint64 deadline;

  if (d->state != MM_DTLS_HANDSHAKING || d->started_us == 0)
    return -1;
  deadline = d->started_us + HANDSHAKE_LIMIT_US;
  if (DTLSv1_get_timeout (d->ssl, &tv))
    deadline = MIN (deadline, g_get_monotonic_time () + (gint64) tv.tv_sec * G_USEC_PER_SEC
                                + tv.tv_usec);
  return deadline;
}

MmDtlsState
mm_dtls_handle_timeout (MmDtls *d)
{
  if (d->state != MM_DTLS_HANDSHAKING || d->started_us == 0)
    return d->state;
  if (g_get_monotonic_time () - d->started_us >= HANDSHAKE_LIMIT_US)
    {
      g_free (d->error);
      d->error = g_strdup_printf ("the DTLS handshake did not complete in %d s",
                                  (int) (HANDSHAKE_LIMIT_US / G_USEC_PER_SEC));
      fail (d, NULL);
      return d->state;
    }
  ERR_clear_error ();
  /* OpenSSL keeps its own clock: early, this does nothing. */
  if (DTLSv1_handle_timeout (d->ssl) < 0)
    fail (d, "DTLS retransmission failed");
  flush (d);
  return d->state;
}

MmDtlsState
mm_dtls_state (MmDtls *d)
{
  return d->state;
}

const char *
mm_dtls_error (MmDtls *d)
{
  return d->error;
}

gboolean
mm_dtls_srtp_keys (MmDtls *d, MmSrtpKeys *keys)
{
  if (d->state != MM_DTLS_CONNECTED)
    return FALSE;
  *keys = d->keys;
  return TRUE;
}
