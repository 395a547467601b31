/* srtp.c — SRTP and SRTCP with libsrtp2. */
#include "config.h"

#include "transport/srtp.h"

#include "core/error.h"

#include <srtp2/srtp.h>
#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-srtp"

#define RTP_HEADER 12
#define RTCP_HEADER 8
#define SRTCP_INDEX 4   /* the E flag and SRTCP index after the payload */

/* We use no MKI, so libsrtp appends at most a tag (and for RTCP the
 * index): SRTP_MAX_TRAILER_LEN also counts an MKI of up to 128 bytes. */
G_STATIC_ASSERT (SRTP_MAX_TAG_LEN + SRTCP_INDEX <= MM_SRTP_MAX_TRAILER);

struct _MmSrtp {
  srtp_t session;
  gboolean outbound;
  gsize rtp_trailer;    /* what protecting adds to an RTP packet */
  gsize rtcp_trailer;   /* and to an RTCP packet */
};

static srtp_err_status_t init_status;

static gpointer
init_once (gpointer data)
{
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

MmSrtp *
mm_srtp_new (const MmSrtpKeys *keys, gboolean outbound, GError **error)
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
  policy.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
  policy.key = master;
  policy.window_size = 1024;
  /* A NACKed packet is resent with its sequence number. */
  policy.allow_repeat_tx = outbound ? 1 : 0;
  status = srtp_create (&s->session, &policy);
  memset (master, 0, sizeof master);
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
  return g_steal_pointer (&s);
}

void
mm_srtp_free (MmSrtp *s)
{
  if (s == NULL)
    return;
  if (s->session != NULL)
    srtp_dealloc (s->session);
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
