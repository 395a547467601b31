/* srtp.c — SRTP and SRTCP with libsrtp2, and outbound AES-GCM RTP on
 * OpenSSL.
 *
 * Debian's libsrtp2 (2.5) does its crypto with NSS, and every key it
 * imports (two per libsrtp session with AES-GCM, four with AES-CM and
 * HMAC) keeps a PKCS#11 session and a key object open in NSS's softoken
 * for as long as the libsrtp session lives.  Each packet then opens a
 * PKCS#11 session (PK11_Encrypt for GCM, a new PK11Context for AES-CM),
 * and softoken walks one bucket of its session hash table to find a free
 * handle, and another of its object table to find the key.  When libsrtp
 * initialises NSS itself it asks for NSS_INIT_OPTIMIZESPACE, which gives
 * those tables 32 buckets: the chains grow with every endpoint.  With
 * N outbound and N inbound sessions alive (bench/srtp-sessions), a GCM
 * protect of 1,200 bytes cost 1.5 us for N = 1, 2.5 us for 100, 8.0 us
 * for 1,000 and 46 us for 4,000 (AES-CM: 11, 13, 69 and 400 us), and
 * perf put half of the fan-out's sending thread in that one loop.  So we
 * initialise NSS first, without that flag, and softoken makes 1,024
 * buckets: 1.3, 1.3, 2.5 and 2.9 us (AES-CM 12, 9.4, 9.6 and 13.5 us).
 * The chains still grow, 32 times more slowly.  libsrtp's own
 * NSS_InitContext calls then find NSS initialised and add nothing.
 *
 * Even so, softoken opens a PKCS#11 session per packet and NSPR locks and
 * mallocs around it, and a GCM protect stayed at 2.5-3 us with 1,000 and
 * more sessions alive.  The fan-out sends every packet once per receiver,
 * so the one path that matters, outbound RTP with AEAD_AES_128_GCM, is
 * ours on OpenSSL's EVP (RFC 7714): the session key and salt derived here
 * (RFC 3711 §4.3), one EVP_CIPHER_CTX keyed once, and per packet only its
 * IV set.  The packet index of each SSRC is guessed as libsrtp's sender
 * guesses it, so that the bytes are libsrtp's (tests/unit-srtp.c compares
 * them).  libsrtp still does the rest: inbound, RTCP, AES-CM.
 * bench/srtp-sessions gcm (N out + N in, us per protect on one, then
 * round-robin): N = 1, 100, 1,000, 4,000 took 2.2, 2.8, 3.0, 5.2 and 2.4,
 * 2.8, 4.1, 9.1 us on libsrtp, and 1.1, 1.0, 0.6, 0.9 and 1.1, 1.1, 0.7,
 * 1.2 us on EVP.  bench/transport-fanout N (us per protected+sent packet,
 * the sending thread, three runs each): N = 100 went from 8.2, 7.8, 8.0
 * to 6.0, 5.8, 6.2; 1,000 from 7.2, 7.9, 9.1 to 5.7, 5.6, 4.9; 2,000 from
 * 12.4, 11.5, 10.8 to 4.8, 5.5, 5.5, and the sender, a whole core either
 * way at 2,000, now sends 180,000-210,000 datagrams a second instead of
 * 75,000-90,000.
 */
#include "config.h"

#include "transport/srtp.h"

#include "core/error.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <srtp2/srtp.h>
#include <string.h>

#ifdef MM_SRTP_ON_NSS
#include <nss.h>
#include <stdlib.h>
#endif

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-srtp"

#define RTP_HEADER 12
#define RTCP_HEADER 8
#define SRTCP_INDEX 4   /* the E flag and SRTCP index after the payload */

/* We use no MKI, so libsrtp appends at most a tag (and for RTCP the
 * index): SRTP_MAX_TRAILER_LEN also counts an MKI of up to 128 bytes. */
G_STATIC_ASSERT (SRTP_MAX_TAG_LEN + SRTCP_INDEX <= MM_SRTP_MAX_TRAILER);

/* Outbound RTP with AEAD_AES_128_GCM on OpenSSL (RFC 7714). */
#define GCM_KEY 16
#define GCM_SALT 12
#define GCM_TAG 16
/* SSRCs whose packet index we keep.  A stream sends one SSRC per
 * subscription; an SSRC beyond these goes to libsrtp (all its packets, so
 * that only one of the two ever counts its index). */
#define GCM_SSRCS 4
/* libsrtp's replay window, both ways; its sender refuses to protect a
 * packet whose index is this far behind the highest it sent. */
#define REPLAY_WINDOW 1024
#define SEQ_HALF 0x8000

typedef struct {
  guint32 ssrc;     /* as in the packet: network order */
  guint64 highest;  /* the highest packet index sent (ROC << 16 | SEQ) */
} GcmSsrc;

typedef struct {
  EVP_CIPHER_CTX *ctx;       /* keyed once with the session key */
  guint8 salt[GCM_SALT];     /* the session salt */
  GcmSsrc ssrcs[GCM_SSRCS];
  guint n_ssrcs;
} GcmTx;

struct _MmSrtp {
  srtp_t session;
  gboolean outbound;
  gsize rtp_trailer;    /* what protecting adds to an RTP packet */
  gsize rtcp_trailer;   /* and to an RTCP packet */
  GcmTx *gcm;           /* outbound GCM RTP, or NULL: libsrtp protects it */
};

/* For tests only (tests/srtp-hooks.h declares them too): an MmSrtp that
 * leaves everything to libsrtp, the reference; and an outbound GCM one
 * given its session key and salt instead of deriving them, for RFC 7714's
 * test vectors. */
MmSrtp *mm_srtp_test_new_libsrtp (const MmSrtpKeys *keys, gboolean outbound, GError **error);
gboolean mm_srtp_test_set_session_key (MmSrtp *s, const guint8 *key, const guint8 *salt);

static srtp_err_status_t init_status;

#ifdef MM_SRTP_ON_NSS
/* Ours, kept until the process ends. */
static NSSInitContext *nss;

/* NSS ends when its last context does: ours at exit, libsrtp's (one per
 * key) when their sessions are freed, whichever comes later.  Without
 * this, valgrind finds a block of NSS's initialisation lost at exit. */
static void
shutdown_nss (void)
{
  NSS_ShutdownContext (nss);
  nss = NULL;
}

/* NSS as NSS_NoDB_Init sets it up, but with softoken's time-optimised
 * (large) hash tables. */
static void
init_nss (void)
{
  if (NSS_IsInitialized ())
    {
      g_info ("NSS was initialised before libsrtp: its softoken tables may be small, "
              "and SRTP slower with many sessions");
      return;
    }
  nss = NSS_InitContext ("", "", "", "", NULL,
                         NSS_INIT_READONLY | NSS_INIT_NOCERTDB | NSS_INIT_NOMODDB
                         | NSS_INIT_FORCEOPEN | NSS_INIT_NOROOTINIT);
  if (nss != NULL)
    atexit (shutdown_nss);
  else
    g_warning ("NSS failed to initialise (error %d): libsrtp will do it, with small tables",
               (int) PORT_GetError ());
}
#endif

static gpointer
init_once (gpointer data)
{
#ifdef MM_SRTP_ON_NSS
  init_nss ();
#endif
  init_status = srtp_init ();
  return NULL;
}

gboolean
mm_srtp_init (GError **error)
{
  static GOnce once = G_ONCE_INIT;

  g_once (&once, init_once, NULL);
  if (init_status != srtp_err_status_ok)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INTERNAL, "libsrtp failed to initialise (status %d)",
                   (int) init_status);
      return FALSE;
    }
  return TRUE;
}

/* ---- outbound RTP with AES-GCM on OpenSSL ------------------------------- */

/* RFC 3711 §4.3 with a key_derivation_rate of 0: the session key (label
 * 0x00) or salt (label 0x02) is the start of the AES-CM keystream under
 * the master key whose IV is the master salt with the label XORed into
 * its octet 7, followed by a 16-bit block counter from 0.  GCM's master
 * salt has 96 bits, not the 112 of RFC 3711 (RFC 7714 §11): it is
 * followed by two zero octets, as libsrtp, and with it browsers, do. */
static gboolean
derive (const guint8 *master_key, const guint8 *master_salt, guint8 label, guint8 *out, gsize len)
{
  static const guint8 zeros[GCM_KEY];
  guint8 iv[16] = { 0 };
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new ();
  int n = 0, fin = 0;
  gboolean ok;

  g_assert (len <= sizeof zeros);
  memcpy (iv, master_salt, GCM_SALT);
  iv[7] ^= label;
  ok = ctx != NULL && EVP_EncryptInit_ex (ctx, EVP_aes_128_ctr (), NULL, master_key, iv) == 1
       && EVP_EncryptUpdate (ctx, out, &n, zeros, (int) len) == 1
       && EVP_EncryptFinal_ex (ctx, out + n, &fin) == 1 && (gsize) (n + fin) == len;
  EVP_CIPHER_CTX_free (ctx);
  return ok;
}

static void
gcm_free (GcmTx *g)
{
  if (g == NULL)
    return;
  EVP_CIPHER_CTX_free (g->ctx);
  OPENSSL_cleanse (g, sizeof *g);
  g_free (g);
}

/* Keyed with the session key and salt.  Returns: (transfer full) or NULL. */
static GcmTx *
gcm_new_session (const guint8 *key, const guint8 *salt)
{
  GcmTx *g = g_new0 (GcmTx, 1);

  g->ctx = EVP_CIPHER_CTX_new ();
  if (g->ctx == NULL || EVP_EncryptInit_ex (g->ctx, EVP_aes_128_gcm (), NULL, key, NULL) != 1)
    {
      gcm_free (g);
      return NULL;
    }
  memcpy (g->salt, salt, GCM_SALT);
  return g;
}

/* From the master key and salt.  Returns: (transfer full) or NULL. */
static GcmTx *
gcm_new (const guint8 *master_key, const guint8 *master_salt)
{
  guint8 key[GCM_KEY], salt[GCM_SALT];
  GcmTx *g = NULL;

  if (derive (master_key, master_salt, 0x00, key, sizeof key)
      && derive (master_key, master_salt, 0x02, salt, sizeof salt))
    g = gcm_new_session (key, salt);
  OPENSSL_cleanse (key, sizeof key);
  OPENSSL_cleanse (salt, sizeof salt);
  return g;
}

/* The packet index of sequence number @seq, estimated against the highest
 * index sent (RFC 3711 §3.3.1): the ROC is the highest's, one less (an
 * older packet from before a wrap, but never less than 0) or one more (the
 * sequence number wrapped).  This is libsrtp's sender's guess too, whose
 * output must not differ from ours. */
static guint64
estimate_index (guint64 highest, guint16 seq)
{
  guint64 roc = highest >> 16;
  guint16 s_l = highest & 0xffff;

  if (s_l < SEQ_HALF)
    {
      if (seq - s_l > SEQ_HALF && roc > 0)
        roc--;
    }
  else if (s_l - SEQ_HALF > seq)
    roc++;
  return roc << 16 | seq;
}

/* Where the payload starts (after the CSRCs and the header extension), or
 * 0 when the header does not fit in @len bytes. */
static gsize
rtp_header_len (const guint8 *buf, gsize len)
{
  gsize h = RTP_HEADER + 4 * (buf[0] & 0x0f);

  if (buf[0] & 0x10)
    {
      if (h + 4 > len)
        return 0;
      h += 4 + 4 * (gsize) (buf[h + 2] << 8 | buf[h + 3]);
    }
  return h <= len ? h : 0;
}

/* The packet's SSRC, NULL when it is not ours (the table is full). */
static GcmSsrc *
gcm_ssrc (GcmTx *g, guint32 ssrc)
{
  for (guint i = 0; i < g->n_ssrcs; i++)
    if (g->ssrcs[i].ssrc == ssrc)
      return &g->ssrcs[i];
  if (g->n_ssrcs == GCM_SSRCS)
    return NULL;
  /* A new SSRC starts at index 0, as libsrtp's streams do. */
  g->ssrcs[g->n_ssrcs] = (GcmSsrc) { ssrc, 0 };
  return &g->ssrcs[g->n_ssrcs++];
}

/* RFC 7714: the header (with CSRCs and extension) is the AAD, the rest
 * (with any padding) is encrypted in place, and the 16-byte tag follows.
 * The caller checked the room for the tag.  Returns MM_SRTP_OK, an error,
 * or -1 when libsrtp is to protect the packet (an SSRC beyond the table). */
static int
gcm_protect (GcmTx *g, guint8 *buf, gsize *len)
{
  guint8 iv[GCM_SALT];
  gsize h = rtp_header_len (buf, *len);
  guint32 ssrc;
  guint16 seq;
  guint64 index;
  GcmSsrc *e;
  int n = 0, fin = 0;
  guint8 scratch[16];

  if (h == 0)
    return MM_SRTP_ERROR_MALFORMED;
  memcpy (&ssrc, buf + 8, 4);
  e = gcm_ssrc (g, ssrc);
  if (e == NULL)
    return -1;
  seq = buf[2] << 8 | buf[3];
  index = estimate_index (e->highest, seq);
  /* A resend (a NACK) is protected with the index it was first sent
   * with, unless it is further back than libsrtp's sender would go. */
  if (index < e->highest && e->highest - index >= REPLAY_WINDOW)
    return MM_SRTP_ERROR_REPLAY;
  if (index >> 48 != 0)
    return MM_SRTP_ERROR_OTHER;     /* 2^48 packets: the key is spent */

  /* IV = (00 00 || SSRC || ROC || SEQ) XOR salt (RFC 7714 §8.1). */
  iv[0] = 0;
  iv[1] = 0;
  memcpy (iv + 2, &ssrc, 4);
  iv[6] = index >> 40;
  iv[7] = index >> 32;
  iv[8] = index >> 24;
  iv[9] = index >> 16;
  iv[10] = index >> 8;
  iv[11] = index;
  for (guint i = 0; i < GCM_SALT; i++)
    iv[i] ^= g->salt[i];

  if (EVP_EncryptInit_ex (g->ctx, NULL, NULL, NULL, iv) != 1
      || EVP_EncryptUpdate (g->ctx, NULL, &n, buf, (int) h) != 1
      || (*len > h && EVP_EncryptUpdate (g->ctx, buf + h, &n, buf + h, (int) (*len - h)) != 1)
      || EVP_EncryptFinal_ex (g->ctx, scratch, &fin) != 1
      || EVP_CIPHER_CTX_ctrl (g->ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG, buf + *len) != 1)
    return MM_SRTP_ERROR_OTHER;
  if (index > e->highest)
    e->highest = index;
  *len += GCM_TAG;
  return MM_SRTP_OK;
}

/* ---- sessions ----------------------------------------------------------- */

static MmSrtp *
srtp_new (const MmSrtpKeys *keys, gboolean outbound, gboolean evp, GError **error)
{
  g_autoptr (MmSrtp) s = g_new0 (MmSrtp, 1);
  guint8 master[MM_SRTP_MAX_KEY + MM_SRTP_MAX_SALT];
  srtp_policy_t policy;
  srtp_err_status_t status;
  gsize salt_len;

  if (!mm_srtp_init (error))
    return NULL;
  memset (&policy, 0, sizeof policy);
  switch (keys->profile)
    {
    case MM_SRTP_PROFILE_AES128_CM_SHA1_80:
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80 (&policy.rtp);
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80 (&policy.rtcp);
      salt_len = 14;
      break;
    case MM_SRTP_PROFILE_AEAD_AES_128_GCM:
      srtp_crypto_policy_set_aes_gcm_128_16_auth (&policy.rtp);
      srtp_crypto_policy_set_aes_gcm_128_16_auth (&policy.rtcp);
      salt_len = 12;
      break;
    case MM_SRTP_PROFILE_NONE:
    default:
      g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT, "unknown SRTP profile %d",
                   (int) keys->profile);
      return NULL;
    }
  if (keys->key_len != 16 || keys->salt_len != salt_len)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                   "SRTP key of %" G_GSIZE_FORMAT " and salt of %" G_GSIZE_FORMAT
                   " bytes do not fit the profile", keys->key_len, keys->salt_len);
      return NULL;
    }
  /* libsrtp takes the master key and salt as one buffer. */
  if (outbound)
    {
      memcpy (master, keys->local_key, keys->key_len);
      memcpy (master + keys->key_len, keys->local_salt, salt_len);
    }
  else
    {
      memcpy (master, keys->remote_key, keys->key_len);
      memcpy (master + keys->key_len, keys->remote_salt, salt_len);
    }
  if (evp && outbound && keys->profile == MM_SRTP_PROFILE_AEAD_AES_128_GCM)
    {
      G_STATIC_ASSERT (GCM_TAG <= MM_SRTP_MAX_TRAILER);
      g_assert (keys->key_len == GCM_KEY && salt_len == GCM_SALT);
      s->gcm = gcm_new (master, master + GCM_KEY);
      if (s->gcm == NULL)
        {
          OPENSSL_cleanse (master, sizeof master);
          g_set_error (error, MM_ERROR, MM_ERROR_INTERNAL, "OpenSSL refused the AES-GCM key");
          return NULL;
        }
    }
  policy.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
  policy.key = master;
  policy.window_size = REPLAY_WINDOW;
  /* A NACKed packet is resent with its sequence number. */
  policy.allow_repeat_tx = outbound ? 1 : 0;
  status = srtp_create (&s->session, &policy);
  OPENSSL_cleanse (master, sizeof master);
  if (status != srtp_err_status_ok)
    {
      s->session = NULL;
      g_set_error (error, MM_ERROR, MM_ERROR_INTERNAL, "libsrtp refused the session (status %d)",
                   (int) status);
      return NULL;
    }
  s->outbound = outbound;
  s->rtp_trailer = policy.rtp.auth_tag_len;
  s->rtcp_trailer = policy.rtcp.auth_tag_len + SRTCP_INDEX;
  g_assert (s->rtp_trailer <= MM_SRTP_MAX_TRAILER && s->rtcp_trailer <= MM_SRTP_MAX_TRAILER);
  g_assert (s->gcm == NULL || s->rtp_trailer == GCM_TAG);
  return g_steal_pointer (&s);
}

MmSrtp *
mm_srtp_new (const MmSrtpKeys *keys, gboolean outbound, GError **error)
{
  return srtp_new (keys, outbound, TRUE, error);
}

MmSrtp *
mm_srtp_test_new_libsrtp (const MmSrtpKeys *keys, gboolean outbound, GError **error)
{
  return srtp_new (keys, outbound, FALSE, error);
}

gboolean
mm_srtp_test_set_session_key (MmSrtp *s, const guint8 *key, const guint8 *salt)
{
  GcmTx *g;

  if (s->gcm == NULL || (g = gcm_new_session (key, salt)) == NULL)
    return FALSE;
  gcm_free (s->gcm);
  s->gcm = g;
  return TRUE;
}

void
mm_srtp_free (MmSrtp *s)
{
  if (s == NULL)
    return;
  if (s->session != NULL)
    srtp_dealloc (s->session);
  gcm_free (s->gcm);
  g_free (s);
}

static MmSrtpResult
result (srtp_err_status_t status)
{
  switch (status)
    {
    case srtp_err_status_ok:
      return MM_SRTP_OK;
    case srtp_err_status_auth_fail:
      return MM_SRTP_ERROR_AUTH;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old:
      return MM_SRTP_ERROR_REPLAY;
    case srtp_err_status_bad_param:
    case srtp_err_status_parse_err:
      return MM_SRTP_ERROR_MALFORMED;
    default:
      return MM_SRTP_ERROR_OTHER;
    }
}

/* libsrtp 2 is told only the packet's length and writes its trailer
 * behind it unchecked: the room must be checked here. */
static MmSrtpResult
protect (MmSrtp *s, guint8 *buf, gsize *len, gsize size, gsize header, gsize trailer,
         gboolean rtcp)
{
  int n;
  srtp_err_status_t status;

  g_return_val_if_fail (s->outbound, MM_SRTP_ERROR_OTHER);
  g_return_val_if_fail (*len <= size, MM_SRTP_ERROR_OTHER);
  if (*len < header || *len > G_MAXINT - MM_SRTP_MAX_TRAILER)
    return MM_SRTP_ERROR_MALFORMED;
  if (size - *len < trailer)
    return MM_SRTP_ERROR_OTHER;
  if (!rtcp && s->gcm != NULL)
    {
      int r = gcm_protect (s->gcm, buf, len);

      if (r >= 0)
        return r;
    }
  n = (int) *len;
  status = rtcp ? srtp_protect_rtcp (s->session, buf, &n) : srtp_protect (s->session, buf, &n);
  if (status != srtp_err_status_ok)
    return result (status);
  g_assert ((gsize) n <= *len + trailer);
  *len = n;
  return MM_SRTP_OK;
}

static MmSrtpResult
unprotect (MmSrtp *s, guint8 *buf, gsize *len, gsize header, gboolean rtcp)
{
  int n;
  srtp_err_status_t status;

  g_return_val_if_fail (!s->outbound, MM_SRTP_ERROR_OTHER);
  if (*len < header || *len > G_MAXINT)
    return MM_SRTP_ERROR_MALFORMED;
  n = (int) *len;
  status = rtcp ? srtp_unprotect_rtcp (s->session, buf, &n)
                : srtp_unprotect (s->session, buf, &n);
  if (status != srtp_err_status_ok)
    return result (status);
  *len = n;
  return MM_SRTP_OK;
}

MmSrtpResult
mm_srtp_protect_rtp (MmSrtp *s, guint8 *buf, gsize *len, gsize size)
{
  return protect (s, buf, len, size, RTP_HEADER, s->rtp_trailer, FALSE);
}

MmSrtpResult
mm_srtp_protect_rtcp (MmSrtp *s, guint8 *buf, gsize *len, gsize size)
{
  return protect (s, buf, len, size, RTCP_HEADER, s->rtcp_trailer, TRUE);
}

MmSrtpResult
mm_srtp_unprotect_rtp (MmSrtp *s, guint8 *buf, gsize *len)
{
  return unprotect (s, buf, len, RTP_HEADER, FALSE);
}

MmSrtpResult
mm_srtp_unprotect_rtcp (MmSrtp *s, guint8 *buf, gsize *len)
{
  return unprotect (s, buf, len, RTCP_HEADER, TRUE);
}

const char *
mm_srtp_result_name (MmSrtpResult r)
{
  switch (r)
    {
    case MM_SRTP_OK:
      return "ok";
    case MM_SRTP_ERROR_AUTH:
      return "auth";
    case MM_SRTP_ERROR_REPLAY:
      return "replay";
    case MM_SRTP_ERROR_MALFORMED:
      return "malformed";
    case MM_SRTP_ERROR_OTHER:
      return "other";
    }
  return "unknown";
}
