/* transport-private.h — what transport.c, endpoint.c and stream.c share.
 *
 * Threads and locks (see transport.c for the whole picture):
 *   - MmTransport.lock guards the ufrag table, the list of live endpoints
 *     and every endpoint's ICE credentials;
 *   - the address table, an endpoint's DTLS, inbound SRTP, RTCP-out SRTP,
 *     addresses and receive statistics belong to the transport thread;
 *   - MmEndpoint.lock guards its selected address, its list of
 *     subscriptions and its maximum bitrate;
 *   - MmStream.lock guards the stream's subscriptions (and so each
 *     subscription's outbound SRTP), its history and its send arena.
 * Lock order: a stream's lock (two streams: lower address first), then
 * the transport's, then an endpoint's.  Counters are atomics.
 */
#pragma once

#include "transport/transport.h"
#include "transport/bwe.h"
#include "transport/dtls.h"
#include "transport/history.h"
#include "transport/rtcp.h"
#include "transport/srtp.h"
#include "transport/stun.h"
#include "transport/twcc.h"

#include <netinet/in.h>
#include <sys/socket.h>

G_BEGIN_DECLS

/* ---- addresses ----------------------------------------------------------- */

/* The local side of a pair: the address the remote's datagrams came to,
 * learnt with IP_PKTINFO / IPV6_PKTINFO when the socket is bound to a
 * wildcard address, and so the source of what we send it (a client
 * discards an answer from another address than the one it checked).
 * On a socket bound to one address it is unknown and not needed. */
typedef struct {
  int family;              /* the socket's: AF_INET or AF_INET6 (IPv4 peers
                            * mapped); 0: unknown, the kernel chooses */
  guint ifindex;           /* an IPv6 link-local address's interface, else 0 */
  union {
    struct in_addr v4;
    struct in6_addr v6;
  } addr;
} MmLocalAddr;

/* A pair as a hash key: the remote transport address (family, port,
 * scope, address bytes) and the local address it sent to (zeros when
 * unknown), zero-filled, so equal pairs have equal bytes. */
typedef struct {
  guint8 b[40];
} MmAddrKey;

typedef struct {
  MmAddrKey key;
  struct sockaddr_storage sa;    /* the remote */
  socklen_t len;
  MmLocalAddr local;
} MmAddr;

/* FALSE for a family other than IPv4 and IPv6.  @local: (nullable) where
 * the remote's datagram came to. */
gboolean mm_addr_set (MmAddr *a, const struct sockaddr *sa, socklen_t len,
                      const MmLocalAddr *local);
guint mm_addr_key_hash (gconstpointer key);
gboolean mm_addr_key_equal (gconstpointer a, gconstpointer b);

/* Room for the one control message that sets a datagram's source. */
typedef union {
  struct cmsghdr align;
  guint8 buf[CMSG_SPACE (sizeof (struct in6_pktinfo))];
} MmSourceControl;

/* Room for what a received datagram's control may hold: its local
 * address and its receive time. */
typedef union {
  struct cmsghdr align;
  guint8 buf[CMSG_SPACE (sizeof (struct in6_pktinfo)) + CMSG_SPACE (sizeof (struct timespec))];
} MmRxControl;

/* Point @msg's control at @ctl holding @a's local address as the source
 * (IP_PKTINFO ipi_spec_dst / IPV6_PKTINFO ipi6_addr), or at nothing when
 * it is unknown. */
void mm_addr_set_source (const MmAddr *a, struct msghdr *msg, MmSourceControl *ctl);
/* The local address of @a ("192.0.2.1", "any") into @buf. */
const char *mm_addr_local_to_string (const MmAddr *a, char *buf, gsize size);
/* "192.0.2.1:5000" / "[2001:db8::1]:5000" into @buf. */
const char *mm_addr_to_string (const struct sockaddr *sa, char *buf, gsize size);

/* ---- counters ------------------------------------------------------------ */

static inline void
mm_counter_add (guint64 *c, guint64 n)
{
  __atomic_fetch_add (c, n, __ATOMIC_RELAXED);
}

static inline guint64
mm_counter_get (const guint64 *c)
{
  return __atomic_load_n (c, __ATOMIC_RELAXED);
}

/* What is dropped, each logged the first time it happens. */
typedef enum {
  MM_DROP_UNKNOWN,
  MM_DROP_STUN_REFUSED,
  MM_DROP_UNKNOWN_ADDRESS,
  MM_DROP_DTLS_BAD,
  MM_DROP_SRTP_AUTH,
  MM_DROP_SRTP_REPLAY,
  MM_DROP_RTCP_MALFORMED,
  MM_DROP_SEND_ERROR,
  MM_DROP_N_KINDS
} MmDropKind;

/* ---- the transport ------------------------------------------------------- */

#define MM_RX_BATCH 32
#define MM_RX_SIZE 2048
/* Room for a packet, a header extension we add and the SRTP trailer. */
#define MM_TX_SLOT (MM_HISTORY_MAX_PACKET + 16 + MM_SRTP_MAX_TRAILER)

struct _MmTransport {
  int fd;
  int family;
  guint16 port;
  gboolean pktinfo;              /* bound to a wildcard: datagrams tell their local address */
  guint consent_timeout_s;
  MmDtlsIdentity *identity;
  GStrv candidates;

  GMainContext *ctx;
  GMainLoop *loop;
  GThread *thread;
  GSource *io_source, *tick_source;
  gpointer io_tag;               /* io_source's watch of fd */
  gint64 io_woken_us;            /* the latest wake-up of io_source by fd */
  gboolean io_paced;             /* read on a 1 ms clock, fd not watched */
  GSource *dtls_source;          /* transport thread: runs while handshakes do */

  GMutex lock;
  GHashTable *by_ufrag;          /* (lock) local ufrag (owned) -> MmEndpoint* */
  GPtrArray *live;               /* (lock) registered endpoints, each holding a ref */

  /* Transport thread only. */
  GHashTable *by_addr;           /* MmAddrKey* (the endpoint's MmAddr: a pair) -> MmEndpoint* */
  GPtrArray *handshaking;        /* endpoints whose DTLS timer may run */
  MmStun *stun;
  MmRtcpParser *rtcp;
  struct mmsghdr rx_msgs[MM_RX_BATCH];
  struct iovec rx_iov[MM_RX_BATCH];
  struct sockaddr_storage rx_addr[MM_RX_BATCH];
  MmRxControl rx_control[MM_RX_BATCH];
  gboolean rx_stamps;            /* datagrams carry the kernel's receive time (SO_TIMESTAMPNS) */
  guint8 *rx_buf;                /* MM_RX_BATCH * MM_RX_SIZE */
  guint8 tx_buf[MM_TX_SLOT + 256];

  MmTransportStats stats;        /* atomics */
  gint logged;                   /* bit per MmDropKind: already logged */
};

/* Count a dropped datagram from @from (nullable) and log the first of its
 * kind. */
void mm_transport_drop (MmTransport *t, MmDropKind kind, const struct sockaddr *from,
                        const char *what);
/* Send one datagram now (transport thread, or any thread for a datagram
 * that needs no order with others).  FALSE if it was not sent. */
gboolean mm_transport_send (MmTransport *t, const guint8 *buf, gsize len, const MmAddr *to);
/* Whether the caller is the transport thread. */
gboolean mm_transport_is_thread (MmTransport *t);
/* Transport thread: make sure the DTLS timer runs. */
void mm_transport_dtls_timer_start (MmTransport *t);
/* Transport thread: remove @ep from the tables (once) and drop their ref. */
void mm_transport_unregister (MmTransport *t, MmEndpoint *ep);

/* ---- endpoints ----------------------------------------------------------- */

/* Pairs (local and remote address) an endpoint keeps: a browser checks
 * each of its candidates against each of ours. */
#define MM_MAX_ADDRS 16
#define MM_MAX_RECV_SOURCES 8

/* One SSRC the remote sends us: what a receiver report says of it. */
typedef struct {
  guint32 ssrc;
  gboolean used;           /* the slot is this SSRC's */
  gboolean active;         /* a packet came: the sequence state is set */
  gint64 last_us;          /* its last packet or report, monotonic */
  guint16 base_seq, max_seq;
  guint32 cycles;
  guint32 received, received_prior, expected_prior;
  guint32 jitter;          /* RFC 3550 A.8, times 16, in RTP units */
  gint64 transit;
  gboolean have_transit;
  guint clock_rate;        /* estimated from two sender reports, 0 until then */
  guint32 lsr;             /* middle 32 bits of its last SR's NTP time */
  gint64 lsr_us;           /* when it came, monotonic; 0 for none */
  guint64 sr_ntp;          /* the last SR, for the clock rate */
  guint32 sr_rtp;
} MmRecvSource;

/* A subscription as its endpoint sees it: which stream sends it @ssrc. */
typedef struct {
  MmStream *stream;        /* a ref */
  guint32 ssrc;
} MmEndpointSub;

typedef struct {
  guint16 base_seq, count, n_received;
  gint32 reference_time;
  gint64 at_us;
} MmTwccSummary;

struct _MmEndpoint {
  gint ref;                      /* atomic */
  MmTransport *t;
  MmEndpointCallbacks cb;
  MmDtlsRole role;
  guint8 twcc_ext_id;
  guint32 rtcp_ssrc;
  gint closed;                   /* atomic: mm_endpoint_close was called */
  gint state;                    /* atomic MmEndpointState */
  gint twcc_seq;                 /* atomic: the next transport-wide sequence number */

  /* (t->lock) */
  char *ufrag, *pwd;
  char *remote_ufrag, *remote_pwd;   /* nullable: any */
  GPtrArray *old_creds;          /* earlier local credentials, still readable */
  gboolean registered;           /* in the ufrag table and t->live */

  GMutex lock;
  MmAddr selected;               /* (lock) the pair media goes over */
  gboolean has_selected;         /* (lock) */
  GArray *subs;                  /* (lock) MmEndpointSub */
  guint64 max_bitrate;           /* (lock) REMB, 0: none */

  /* Transport thread only. */
  gboolean checked;              /* a valid connectivity check came */
  gint64 last_check_us;
  MmAddr *addrs[MM_MAX_ADDRS];
  guint n_addrs;
  MmDtls *dtls;
  gboolean in_handshaking;
  MmSrtp *srtp_in, *rtcp_out;
  MmRecvSource recv[MM_MAX_RECV_SOURCES];
  MmTwccSummary twcc_last;
  MmBwe *bwe;                    /* when it negotiated transport-wide feedback, else NULL */
  MmTwccRecorder *twcc_in;       /* what it sends us with transport-wide numbers, once
                                  * it has (our feedback to it), else NULL */
  guint32 twcc_in_ssrc;          /* the media SSRC of its latest such packet */
  gint64 twcc_in_sent_us;        /* when we last sent it that feedback */

  /* Written on the transport thread before state turns CONNECTED, then
   * read-only. */
  MmSrtpKeys keys;

  MmEndpointStats stats;         /* atomics */
  /* The lowest round trip of the current and the previous 15-s window
   * (transport thread). */
  guint32 rtt_min_cur, rtt_min_prev;
  gint64 rtt_window_us;
};

/* A valid check came over the pair @from. */
void mm_endpoint_on_check (MmEndpoint *ep, const MmAddr *from, gboolean use_candidate);
void mm_endpoint_handle_dtls (MmEndpoint *ep, const guint8 *buf, gsize len,
                              const struct sockaddr *from);
/* @arrival_us: when it came (monotonic; the kernel's receive time when
 * known), for receiver reports' jitter and transport-wide feedback. */
void mm_endpoint_handle_rtp (MmEndpoint *ep, guint8 *buf, gsize len, const struct sockaddr *from,
                             gint64 arrival_us);
void mm_endpoint_handle_rtcp (MmEndpoint *ep, guint8 *buf, gsize len,
                              const struct sockaddr *from);
/* The DTLS timer fired: TRUE while it should keep running for @ep. */
gboolean mm_endpoint_dtls_timer (MmEndpoint *ep, gint64 now);
/* Once a second: consent, receiver reports, REMB. */
void mm_endpoint_tick (MmEndpoint *ep, gint64 now);
/* Copy the selected pair: FALSE if there is none. */
gboolean mm_endpoint_get_dest (MmEndpoint *ep, MmAddr *out);
gboolean mm_endpoint_is_live (MmEndpoint *ep);

/* ---- streams ------------------------------------------------------------- */

/* Internal references, so that the transport thread may hold a stream
 * while it answers a NACK or passes on a PLI. */
MmStream *mm_stream_ref_internal (MmStream *s);
void mm_stream_unref_internal (MmStream *s);
/* Transport thread: resend @n packets of @s that @ep asked for. */
void mm_stream_resend (MmStream *s, MmEndpoint *ep, const guint16 *seqs, guint n);
/* Transport thread: a receiver asked for a keyframe. */
void mm_stream_keyframe_requested (MmStream *s);

/* RTP rewriting, exposed for tests: copy the RTP packet @in to @out (of
 * @out_size bytes) with payload type @pt (marker kept), SSRC, sequence
 * number and timestamp replaced, and when @twcc_id is not 0 a
 * transport-wide sequence number element of that id set to @twcc_seq.
 * Returns the new length, or 0 when @in is not RTP or @out is too
 * small. */
/* Whether the RTP packet @pkt carries the start of a VP8 key frame
 * (RFC 7741).  Exposed for tests. */
gboolean mm_rtp_vp8_keyframe_start (const guint8 *pkt, gsize len);

gsize mm_rtp_rewrite (const guint8 *in, gsize len, guint8 *out, gsize out_size, guint8 pt,
                      guint32 ssrc, guint16 seq, guint32 ts, guint8 twcc_id, guint16 twcc_seq);

G_END_DECLS
