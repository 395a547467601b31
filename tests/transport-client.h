/* transport-client.h — a WebRTC peer of the transport for tests and
 * benchmarks, on a plain UDP socket: the controlling ICE agent (libnice's
 * STUN library), DTLS in either role and SRTP (the transport's own
 * dtls.c and srtp.c, as the other side), nothing else.
 *
 * A client lives on the GMainContext given to mm_test_client_new; the
 * caller iterates it (mm_test_iterate).
 */
#pragma once

#include "transport/dtls.h"
#include "transport/srtp.h"

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MmTestClient MmTestClient;

/* A client in DTLS @role (@id: nullable; a new identity when NULL).
 * Returns: (transfer full) */
MmTestClient *mm_test_client_new (GMainContext *ctx, MmDtlsIdentity *id, MmDtlsRole role);
void mm_test_client_free (MmTestClient *c);

/* Its ICE credentials and certificate fingerprint, for the endpoint's
 * config.  Returns: (transfer none) */
const char *mm_test_client_ufrag (MmTestClient *c);
const char *mm_test_client_pwd (MmTestClient *c);
const char *mm_test_client_fingerprint (MmTestClient *c);

/* Start checks (with USE-CANDIDATE) towards 127.0.0.1:@port with the
 * server endpoint's credentials, then DTLS. */
void mm_test_client_start (MmTestClient *c, guint16 port, const char *server_ufrag,
                           const char *server_pwd, const char *server_fingerprint);
/* Before mm_test_client_start: a socket on @local (an IPv4 or IPv6
 * address, any port) in place of 127.0.0.1's, and checks to @server in
 * place of 127.0.0.1.  Whatever the addresses, only datagrams from the
 * server's address and port are read, as an ICE agent does; the others
 * are counted (mm_test_client_strangers). */
void mm_test_client_set_addresses (MmTestClient *c, const char *local, const char *server);
guint64 mm_test_client_strangers (MmTestClient *c);
/* TRUE once a check was answered and authenticated, and DTLS connected. */
gboolean mm_test_client_connected (MmTestClient *c);
gboolean mm_test_client_stun_ok (MmTestClient *c);
/* The port of its socket (on 127.0.0.1 unless set otherwise). */
guint16 mm_test_client_local_port (MmTestClient *c);
/* A network change: a new socket (a new port) in place of the old one,
 * from which nominated checks (USE-CANDIDATE) go until one is answered,
 * then the consent checks. */
void mm_test_client_move (MmTestClient *c);
/* Consent checks every @ms once connected (0: none; 1000 by default). */
void mm_test_client_set_consent_interval (MmTestClient *c, guint ms);
/* Whether to read its socket at all (a benchmark's viewers need not);
 * when @decrypt is FALSE datagrams are only counted. */
void mm_test_client_set_receiving (MmTestClient *c, gboolean receiving, gboolean decrypt);

/* Drop the next RTP packet with sequence number @seq unread, as if the
 * network lost it (a retransmission must not look like a replay).  Up to
 * 16 such numbers may wait at once. */
void mm_test_client_lose_rtp (MmTestClient *c, guint16 seq);

/* Send a datagram as it is. */
void mm_test_client_send_raw (MmTestClient *c, const guint8 *buf, gsize len);
/* Protect RTP / RTCP in place (@buf of @size bytes, MM_SRTP_MAX_TRAILER
 * more than *@len) with the client's keys. */
gboolean mm_test_client_protect_rtp (MmTestClient *c, guint8 *buf, gsize *len, gsize size);
gboolean mm_test_client_protect_rtcp (MmTestClient *c, guint8 *buf, gsize *len, gsize size);
/* Protect and send. */
void mm_test_client_send_rtcp (MmTestClient *c, const guint8 *buf, gsize len);
void mm_test_client_send_rtp (MmTestClient *c, const guint8 *buf, gsize len);
/* A binding request to the server with @username and @pwd (a wrong one,
 * for tests), without USE-CANDIDATE. */
void mm_test_client_send_check (MmTestClient *c, const char *username, const char *pwd);

/* What came, unprotected: the oldest RTP / RTCP packet, or NULL.
 * Returns: (transfer full) (nullable) */
GBytes *mm_test_client_pop_rtp (MmTestClient *c);
GBytes *mm_test_client_pop_rtcp (MmTestClient *c);
guint mm_test_client_n_rtp (MmTestClient *c);
/* Datagrams read (decrypted or not). */
guint64 mm_test_client_datagrams (MmTestClient *c);

/* Iterate @ctx for about @ms milliseconds. */
void mm_test_iterate (GMainContext *ctx, guint ms);
/* Iterate @ctx until @done (polled every 10 ms) or @ms passed: @done's
 * answer. */
gboolean mm_test_wait (GMainContext *ctx, gboolean (*done) (gpointer data), gpointer data,
                       guint ms);

G_END_DECLS
