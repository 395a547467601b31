/* dtls.h — DTLS-SRTP key agreement with OpenSSL (RFC 5763, 5764).
 *
 * One MmDtlsIdentity per process: an ECDSA P-256 key and a self-signed
 * certificate, whose SHA-256 fingerprint goes into every SDP we write.
 * One MmDtls per endpoint: an SSL object on memory BIOs.  Datagrams from
 * the remote are fed in with mm_dtls_handle; what OpenSSL wants to send
 * goes out through the MmDtlsSend callback (one call per datagram, never
 * larger than MM_DTLS_MTU).  Nothing here touches a socket or a clock
 * source: the owner asks mm_dtls_timeout_us when to call
 * mm_dtls_handle_timeout (handshake retransmission, RFC 6347 4.2.4).
 *
 * The remote's certificate is accepted when its digest matches the
 * a=fingerprint of its SDP (any of sha-1, sha-224, sha-256, sha-384,
 * sha-512); anything else fails the handshake.  The SRTP profiles offered
 * and accepted are SRTP_AEAD_AES_128_GCM (preferred) and
 * SRTP_AES128_CM_SHA1_80.
 *
 * An MmDtls is used by one thread at a time (its endpoint's); an
 * MmDtlsIdentity is immutable once made and may be shared by any thread.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MM_DTLS_MTU 1200

typedef struct _MmDtlsIdentity MmDtlsIdentity;
typedef struct _MmDtls MmDtls;

typedef enum {
  MM_DTLS_CLIENT,   /* a=setup:active: we send the ClientHello */
  MM_DTLS_SERVER,   /* a=setup:passive: we wait for it */
} MmDtlsRole;

typedef enum {
  MM_DTLS_HANDSHAKING,
  MM_DTLS_CONNECTED,   /* keys available (mm_dtls_srtp_keys) */
  MM_DTLS_FAILED,      /* mm_dtls_error says why */
  MM_DTLS_CLOSED,      /* the remote sent close_notify */
} MmDtlsState;

typedef enum {
  MM_SRTP_PROFILE_NONE = 0,
  MM_SRTP_PROFILE_AES128_CM_SHA1_80,   /* key 16, salt 14 */
  MM_SRTP_PROFILE_AEAD_AES_128_GCM,    /* key 16, salt 12 */
} MmSrtpProfile;

#define MM_SRTP_MAX_KEY 16
#define MM_SRTP_MAX_SALT 14

/* The keying material of a connected MmDtls, already split by role:
 * "local" protects what we send, "remote" unprotects what we receive. */
typedef struct {
  MmSrtpProfile profile;
  guint8 local_key[MM_SRTP_MAX_KEY];
  guint8 local_salt[MM_SRTP_MAX_SALT];
  guint8 remote_key[MM_SRTP_MAX_KEY];
  guint8 remote_salt[MM_SRTP_MAX_SALT];
  gsize key_len;    /* 16 */
  gsize salt_len;   /* 14 (AES-CM) or 12 (GCM) */
} MmSrtpKeys;

/* A new key and certificate.  Returns: (transfer full) or NULL with @error. */
MmDtlsIdentity *mm_dtls_identity_new (GError **error);
MmDtlsIdentity *mm_dtls_identity_ref (MmDtlsIdentity *id);
void mm_dtls_identity_unref (MmDtlsIdentity *id);
/* "sha-256 AB:CD:...", as a=fingerprint carries it.  Returns: (transfer none) */
const char *mm_dtls_identity_fingerprint (MmDtlsIdentity *id);

/* One datagram to send to the remote.  @buf: (transfer none) */
typedef void (*MmDtlsSend) (const guint8 *buf, gsize len, gpointer data);

/* A new DTLS connection in @role whose remote must present a certificate
 * matching @remote_fingerprint ("sha-256 AB:CD:..."; the hash name is
 * case-insensitive).  Returns: (transfer full) or NULL with @error when
 * the fingerprint cannot be read. */
MmDtls *mm_dtls_new (MmDtlsIdentity *id, MmDtlsRole role, const char *remote_fingerprint,
                     MmDtlsSend send, gpointer data, GError **error);
void mm_dtls_free (MmDtls *d);

/* Start the handshake: a client sends its ClientHello; a server does
 * nothing until one arrives. */
MmDtlsState mm_dtls_start (MmDtls *d);

/* Feed one datagram from the remote (a DTLS record, first byte 20..63).
 * Garbage fails nothing by itself: OpenSSL drops records it cannot read. */
MmDtlsState mm_dtls_handle (MmDtls *d, const guint8 *buf, gsize len);

/* Monotonic time (g_get_monotonic_time) at which mm_dtls_handle_timeout
 * is due, or -1 when no timer runs (connected, failed, not started). */
gint64 mm_dtls_timeout_us (MmDtls *d);
/* Retransmit what is due.  A handshake that has not completed after about
 * 30 s of retransmissions fails. */
MmDtlsState mm_dtls_handle_timeout (MmDtls *d);

MmDtlsState mm_dtls_state (MmDtls *d);
/* Why the connection failed, or NULL.  Returns: (transfer none) */
const char *mm_dtls_error (MmDtls *d);

/* The SRTP keys of a connected MmDtls; FALSE before. */
gboolean mm_dtls_srtp_keys (MmDtls *d, MmSrtpKeys *keys);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MmDtlsIdentity, mm_dtls_identity_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MmDtls, mm_dtls_free)

G_END_DECLS
