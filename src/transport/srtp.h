/* srtp.h — SRTP and SRTCP with libsrtp2 (RFC 3711, RFC 7714); outbound
 * RTP with AEAD_AES_128_GCM is protected on OpenSSL instead (srtp.c says
 * why), with the same bytes as libsrtp's.
 *
 * An MmSrtp is one direction of one endpoint: an outbound one protects
 * what we send with the local key of MmSrtpKeys, an inbound one
 * unprotects what we receive with the remote key.  Streams are keyed by
 * any SSRC (ssrc_any_outbound / ssrc_any_inbound), replay protection is on
 * for inbound packets (a window of 1024), and an outbound MmSrtp may
 * protect the same sequence number again (a NACKed packet resent).
 *
 * Protection works in place: the buffer must have MM_SRTP_MAX_TRAILER
 * bytes free after the packet for the authentication tag (and SRTCP
 * index).  Not thread-safe: one thread at a time per MmSrtp.
 */
#pragma once

#include <glib.h>

#include "transport/dtls.h"

G_BEGIN_DECLS

#define MM_SRTP_MAX_TRAILER 32

typedef struct _MmSrtp MmSrtp;

typedef enum {
  MM_SRTP_OK = 0,
  MM_SRTP_ERROR_AUTH,      /* authentication failed (wrong key, tampered) */
  MM_SRTP_ERROR_REPLAY,    /* replayed or too old */
  MM_SRTP_ERROR_MALFORMED, /* too short or not RTP/RTCP */
  MM_SRTP_ERROR_OTHER,
} MmSrtpResult;

/* Initialise libsrtp once per process (idempotent, thread-safe). */
gboolean mm_srtp_init (GError **error);

/* Returns: (transfer full) or NULL with @error (unknown profile). */
MmSrtp *mm_srtp_new (const MmSrtpKeys *keys, gboolean outbound, GError **error);
void mm_srtp_free (MmSrtp *s);

/* Outbound only.  @buf holds @*len bytes of RTP (RTCP) and has room for
 * @size; on MM_SRTP_OK *@len is the protected length. */
MmSrtpResult mm_srtp_protect_rtp (MmSrtp *s, guint8 *buf, gsize *len, gsize size);
MmSrtpResult mm_srtp_protect_rtcp (MmSrtp *s, guint8 *buf, gsize *len, gsize size);

/* Inbound only.  On MM_SRTP_OK *@len is the plain length. */
MmSrtpResult mm_srtp_unprotect_rtp (MmSrtp *s, guint8 *buf, gsize *len);
MmSrtpResult mm_srtp_unprotect_rtcp (MmSrtp *s, guint8 *buf, gsize *len);

const char *mm_srtp_result_name (MmSrtpResult r);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MmSrtp, mm_srtp_free)

G_END_DECLS
