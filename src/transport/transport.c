/* transport.c — the UDP socket, the transport thread and the demux.
 *
 * Threads, and who may touch what:
 *   - One transport thread per MmTransport runs its own GMainContext: it
 *     receives every datagram (recvmmsg, 32 at a time; on a 1 ms clock
 *     while they come fast, rx_dispatch), answers STUN,
 *     drives every endpoint's DTLS (and its retransmission timer), turns
 *     SRTP and SRTCP from remotes into callbacks, answers NACKs, and once
 *     a second checks consent and sends receiver reports and REMB.
 *   - The tables: the ufrag table, the list of live endpoints and the
 *     endpoints' ICE credentials are under MmTransport.lock, since
 *     mm_endpoint_new and mm_endpoint_restart_ice run on other threads; the
 *     address table is the transport thread's alone (only checks add
 *     addresses, only that thread removes them).
 *   - An endpoint's DTLS, inbound SRTP and RTCP-out SRTP are used only on
 *     the transport thread; feedback asked for on another thread is
 *     handed over with g_main_context_invoke.
 *   - A stream is under its own mutex: mm_stream_send runs on the room's
 *     streaming thread, NACK answers on the transport thread; each
 *     subscription's outbound SRTP is used only under that mutex.
 *   - Counters are atomics; any thread may read them.
 *
 * On a wildcard address each datagram tells which local address it came
 * to (IP_PKTINFO / IPV6_PKTINFO in recvmmsg's control buffers); an
 * address entry is that pair, and all we send over it leaves from that
 * address (docs/transport.md, "A wildcard address").
 */
/* recvmmsg, sendmmsg */
#define _GNU_SOURCE
#include "config.h"

#include "transport/transport-private.h"
#include "transport/demux.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <nice/interfaces.h>
#include <stun/stunmessage.h>
#include <string.h>
#include <unistd.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-transport"

#define SOCKET_BUFFER (4 * 1024 * 1024)
/* Receive batches per wake-up before timers get a turn. */
#define RX_ROUNDS 8
/* Datagrams closer than this read on a clock of this period (rx_dispatch). */
#define RX_PACE_US 1000

/* ---- addresses ----------------------------------------------------------- */

gboolean
mm_addr_set (MmAddr *a, const struct sockaddr *sa, socklen_t len, const MmLocalAddr *local)
{
  memset (a, 0, sizeof *a);
  if (sa->sa_family == AF_INET && len >= sizeof (struct sockaddr_in))
    {
      const struct sockaddr_in *in = (const struct sockaddr_in *) sa;

      a->key.b[0] = AF_INET;
      memcpy (a->key.b + 2, &in->sin_port, 2);
      memcpy (a->key.b + 8, &in->sin_addr, 4);
      memcpy (&a->sa, sa, sizeof *in);
      a->len = sizeof *in;
    }
  else if (sa->sa_family == AF_INET6 && len >= sizeof (struct sockaddr_in6))
    {
      const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;

      a->key.b[0] = AF_INET6;
      memcpy (a->key.b + 2, &in6->sin6_port, 2);
      memcpy (a->key.b + 4, &in6->sin6_scope_id, 4);
      memcpy (a->key.b + 8, &in6->sin6_addr, 16);
      memcpy (&a->sa, sa, sizeof *in6);
      a->len = sizeof *in6;
    }
  else
    return FALSE;
  if (local != NULL && local->family == AF_INET)
    {
      a->local = *local;
      a->key.b[1] = AF_INET;
      memcpy (a->key.b + 24, &local->addr.v4, 4);
    }
  else if (local != NULL && local->family == AF_INET6)
    {
      a->local = *local;
      a->key.b[1] = AF_INET6;
      memcpy (a->key.b + 24, &local->addr.v6, 16);
    }
  return TRUE;
}

void
mm_addr_set_source (const MmAddr *a, struct msghdr *msg, MmSourceControl *ctl)
{
  struct cmsghdr *c;

  msg->msg_control = NULL;
  msg->msg_controllen = 0;
  if (a->local.family != AF_INET && a->local.family != AF_INET6)
    return;
  memset (ctl, 0, sizeof *ctl);
  msg->msg_control = ctl->buf;
  msg->msg_controllen = sizeof ctl->buf;
  c = CMSG_FIRSTHDR (msg);
  if (a->local.family == AF_INET)
    {
      struct in_pktinfo pi = { 0 };

      /* The source address; the route picks the interface. */
      pi.ipi_spec_dst = a->local.addr.v4;
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN (sizeof pi);
      memcpy (CMSG_DATA (c), &pi, sizeof pi);
      msg->msg_controllen = CMSG_SPACE (sizeof pi);
    }
  else
    {
      struct in6_pktinfo pi = { 0 };

      /* IPv4 peers of a dual-stack socket too (a mapped address). */
      pi.ipi6_addr = a->local.addr.v6;
      pi.ipi6_ifindex = a->local.ifindex;
      c->cmsg_level = IPPROTO_IPV6;
      c->cmsg_type = IPV6_PKTINFO;
      c->cmsg_len = CMSG_LEN (sizeof pi);
      memcpy (CMSG_DATA (c), &pi, sizeof pi);
      msg->msg_controllen = CMSG_SPACE (sizeof pi);
    }
}

const char *
mm_addr_local_to_string (const MmAddr *a, char *buf, gsize size)
{
  char host[INET6_ADDRSTRLEN];

  if (a->local.family == AF_INET)
    inet_ntop (AF_INET, &a->local.addr.v4, host, sizeof host);
  else if (a->local.family == AF_INET6)
    inet_ntop (AF_INET6, &a->local.addr.v6, host, sizeof host);
  else
    g_strlcpy (host, "any", sizeof host);
  g_strlcpy (buf, host, size);
  return buf;
}

guint
mm_addr_key_hash (gconstpointer key)
{
  const MmAddrKey *k = key;
  guint32 h = 2166136261u;

  for (gsize i = 0; i < sizeof k->b; i++)
    h = (h ^ k->b[i]) * 16777619u;
  return h;
}

gboolean
mm_addr_key_equal (gconstpointer a, gconstpointer b)
{
  return memcmp (a, b, sizeof (MmAddrKey)) == 0;
}

const char *
mm_addr_to_string (const struct sockaddr *sa, char *buf, gsize size)
{
  char host[INET6_ADDRSTRLEN];

  if (sa == NULL)
    g_snprintf (buf, size, "?");
  else if (sa->sa_family == AF_INET)
    {
      const struct sockaddr_in *in = (const struct sockaddr_in *) sa;

      inet_ntop (AF_INET, &in->sin_addr, host, sizeof host);
      g_snprintf (buf, size, "%s:%u", host, ntohs (in->sin_port));
    }
  else if (sa->sa_family == AF_INET6)
    {
      const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;

      inet_ntop (AF_INET6, &in6->sin6_addr, host, sizeof host);
      g_snprintf (buf, size, "[%s]:%u", host, ntohs (in6->sin6_port));
    }
  else
    g_snprintf (buf, size, "(family %d)", sa->sa_family);
  return buf;
}

/* ---- counters and logs ------------------------------------------------- */

static guint64 *
drop_counter (MmTransport *t, MmDropKind kind)
{
  switch (kind)
    {
    case MM_DROP_UNKNOWN: return &t->stats.unknown;
    case MM_DROP_STUN_REFUSED: return &t->stats.stun_refused;
    case MM_DROP_UNKNOWN_ADDRESS: return &t->stats.unknown_address;
    case MM_DROP_DTLS_BAD: return &t->stats.dtls_bad;
    case MM_DROP_SRTP_AUTH: return &t->stats.srtp_auth;
    case MM_DROP_SRTP_REPLAY: return &t->stats.srtp_replay;
    case MM_DROP_RTCP_MALFORMED: return &t->stats.rtcp_malformed;
    case MM_DROP_SEND_ERROR: return &t->stats.send_errors;
    case MM_DROP_N_KINDS: break;
    }
  g_assert_not_reached ();
}

void
mm_transport_drop (MmTransport *t, MmDropKind kind, const struct sockaddr *from, const char *what)
{
  gint bit = 1 << kind;
  char addr[INET6_ADDRSTRLEN + 16];

  mm_counter_add (drop_counter (t, kind), 1);
  if ((g_atomic_int_or (&t->logged, bit) & bit) != 0)
    return;
  /* Outside input, not our bug: information, once per kind. */
  g_info ("port %u: %s from %s (dropped; further ones are only counted)", t->port, what,
          mm_addr_to_string (from, addr, sizeof addr));
}

void
mm_transport_get_stats (MmTransport *t, MmTransportStats *out)
{
  const MmTransportStats *s = &t->stats;

  out->datagrams_in = mm_counter_get (&s->datagrams_in);
  out->bytes_in = mm_counter_get (&s->bytes_in);
  out->datagrams_out = mm_counter_get (&s->datagrams_out);
  out->bytes_out = mm_counter_get (&s->bytes_out);
  out->stun_answered = mm_counter_get (&s->stun_answered);
  out->rtp_in = mm_counter_get (&s->rtp_in);
  out->rtp_bytes_in = mm_counter_get (&s->rtp_bytes_in);
  out->rtp_out = mm_counter_get (&s->rtp_out);
  out->rtp_bytes_out = mm_counter_get (&s->rtp_bytes_out);
  out->rtp_lost = mm_counter_get (&s->rtp_lost);
  out->pli_in = mm_counter_get (&s->pli_in);
  out->fir_in = mm_counter_get (&s->fir_in);
  out->unknown = mm_counter_get (&s->unknown);
  out->stun_refused = mm_counter_get (&s->stun_refused);
  out->unknown_address = mm_counter_get (&s->unknown_address);
  out->dtls_bad = mm_counter_get (&s->dtls_bad);
  out->srtp_auth = mm_counter_get (&s->srtp_auth);
  out->srtp_replay = mm_counter_get (&s->srtp_replay);
  out->rtcp_malformed = mm_counter_get (&s->rtcp_malformed);
  out->send_errors = mm_counter_get (&s->send_errors);
  g_mutex_lock (&t->lock);
  out->n_endpoints = t->live->len;
  g_mutex_unlock (&t->lock);
}

gboolean
mm_transport_send (MmTransport *t, const guint8 *buf, gsize len, const MmAddr *to)
{
  struct iovec iov = { (void *) buf, len };
  struct msghdr msg = { 0 };
  MmSourceControl control;
  ssize_t r;

  msg.msg_name = (void *) &to->sa;
  msg.msg_namelen = to->len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  mm_addr_set_source (to, &msg, &control);
  do
    r = sendmsg (t->fd, &msg, MSG_DONTWAIT);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    {
      mm_transport_drop (t, MM_DROP_SEND_ERROR, (const struct sockaddr *) &to->sa,
                         g_strerror (errno));
      return FALSE;
    }
  mm_counter_add (&t->stats.datagrams_out, 1);
  mm_counter_add (&t->stats.bytes_out, len);
  return TRUE;
}

gboolean
mm_transport_is_thread (MmTransport *t)
{
  return g_main_context_is_owner (t->ctx);
}

/* ---- STUN ---------------------------------------------------------------- */

typedef struct {
  const char *ufrag;
  const char *pwd;
} StunLookup;

static const char *
stun_lookup (const char *ufrag, gpointer data)
{
  StunLookup *l = data;

  return strcmp (ufrag, l->ufrag) == 0 ? l->pwd : NULL;
}

/* USERNAME "OURS:THEIRS" of the STUN message @buf, split; FALSE if it has
 * none that reads so. */
static gboolean
stun_username (const guint8 *buf, gsize len, char *ours, char *theirs)
{
  StunMessage msg = { 0 };
  const guint8 *u, *colon;
  uint16_t ulen = 0;

  if (len > G_MAXUINT16 || stun_message_validate_buffer_length (buf, len, TRUE) != (int) len)
    return FALSE;
  msg.buffer = (uint8_t *) buf;
  msg.buffer_len = len;
  u = stun_message_find (&msg, STUN_ATTRIBUTE_USERNAME, &ulen);
  if (u == NULL || ulen == 0)
    return FALSE;
  colon = memchr (u, ':', ulen);
  if (colon == NULL || colon == u || (gsize) (colon - u) > MM_STUN_MAX_UFRAG
      || (gsize) (u + ulen - colon - 1) > MM_STUN_MAX_UFRAG)
    return FALSE;
  memcpy (ours, u, colon - u);
  ours[colon - u] = '\0';
  memcpy (theirs, colon + 1, u + ulen - colon - 1);
  theirs[u + ulen - colon - 1] = '\0';
  return strlen (ours) == (gsize) (colon - u)
         && strlen (theirs) == (gsize) (u + ulen - colon - 1);
}

static void
handle_stun (MmTransport *t, const guint8 *buf, gsize len, const MmAddr *pair)
{
  const struct sockaddr *from = (const struct sockaddr *) &pair->sa;
  char ours[MM_STUN_MAX_UFRAG + 1], theirs[MM_STUN_MAX_UFRAG + 1];
  guint8 reply[1280];
  MmStunCheck check;
  MmEndpoint *ep = NULL;
  StunLookup l = { NULL, NULL };
  gsize n;

  if (!stun_username (buf, len, ours, theirs))
    {
      mm_transport_drop (t, MM_DROP_STUN_REFUSED, from, "STUN without a USERNAME we can read");
      return;
    }
  g_mutex_lock (&t->lock);
  ep = g_hash_table_lookup (t->by_ufrag, ours);
  if (ep != NULL && (ep->remote_ufrag == NULL || strcmp (ep->remote_ufrag, theirs) == 0))
    {
      mm_endpoint_ref (ep);
      /* The strings stay valid: earlier credentials are kept until the
       * endpoint is freed. */
      l.ufrag = ep->ufrag;
      l.pwd = ep->pwd;
    }
  else
    ep = NULL;
  g_mutex_unlock (&t->lock);
  if (ep == NULL)
    {
      mm_transport_drop (t, MM_DROP_STUN_REFUSED, from,
                         "STUN for an unknown ufrag or remote ufrag");
      return;
    }
  memset (&check, 0, sizeof check);
  n = mm_stun_handle (t->stun, buf, len, from, pair->len, stun_lookup, &l, reply, sizeof reply,
                      &check);
  if (n == 0)
    {
      mm_transport_drop (t, MM_DROP_STUN_REFUSED, from,
                         "STUN refused (integrity, fingerprint, not a Binding request)");
      mm_endpoint_unref (ep);
      return;
    }
  /* From the address it was sent to. */
  if (mm_transport_send (t, reply, n, pair))
    mm_counter_add (&t->stats.stun_answered, 1);
  if (mm_endpoint_is_live (ep))
    mm_endpoint_on_check (ep, pair, check.use_candidate);
  mm_endpoint_unref (ep);
}

/* ---- receiving ----------------------------------------------------------- */

/* The local address the datagram @h came to, from its IP_PKTINFO or
 * IPV6_PKTINFO; family 0 if it has none. */
static void
local_of (const struct msghdr *h, MmLocalAddr *out)
{
  memset (out, 0, sizeof *out);
  if ((h->msg_flags & MSG_CTRUNC) != 0)
    return;
  for (struct cmsghdr *c = CMSG_FIRSTHDR (h); c != NULL; c = CMSG_NXTHDR ((struct msghdr *) h, c))
    {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO
          && c->cmsg_len >= CMSG_LEN (sizeof (struct in_pktinfo)))
        {
          struct in_pktinfo pi;

          memcpy (&pi, CMSG_DATA (c), sizeof pi);
          out->family = AF_INET;
          /* The header's destination: the address the remote sent to. */
          out->addr.v4 = pi.ipi_addr;
          return;
        }
      if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO
          && c->cmsg_len >= CMSG_LEN (sizeof (struct in6_pktinfo)))
        {
          struct in6_pktinfo pi;

          memcpy (&pi, CMSG_DATA (c), sizeof pi);
          out->family = AF_INET6;
          out->addr.v6 = pi.ipi6_addr;
          /* Only a link-local address needs its interface; otherwise the
           * route picks it, as for any reply. */
          if (IN6_IS_ADDR_LINKLOCAL (&pi.ipi6_addr))
            out->ifindex = pi.ipi6_ifindex;
          return;
        }
    }
}

/* When the datagram of @h came: the kernel's receive time (SO_TIMESTAMPNS,
 * wall clock) moved to the monotonic clock, or @now_us (monotonic) when
 * it has none.  Transport-wide feedback says when each packet arrived:
 * the time the transport thread got to it would add its scheduling delay
 * (and the paced reads' millisecond) to the sender's delay estimate. */
static gint64
arrival_of (const MmTransport *t, const struct msghdr *h, gint64 now_us, gint64 real_now_us)
{
  if (!t->rx_stamps || (h->msg_flags & MSG_CTRUNC) != 0)
    return now_us;
  for (struct cmsghdr *c = CMSG_FIRSTHDR (h); c != NULL; c = CMSG_NXTHDR ((struct msghdr *) h, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS
        && c->cmsg_len >= CMSG_LEN (sizeof (struct timespec)))
      {
        struct timespec ts;
        gint64 age;

        memcpy (&ts, CMSG_DATA (c), sizeof ts);
        age = real_now_us - ((gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000);
        /* A wall clock that stepped meanwhile: the time it was read. */
        return age >= 0 && age < G_USEC_PER_SEC ? now_us - age : now_us;
      }
  return now_us;
}

static void
handle_datagram (MmTransport *t, guint8 *buf, gsize len, const struct msghdr *h,
                 gint64 arrival_us)
{
  const struct sockaddr *from = h->msg_name;
  MmPacketKind kind = mm_packet_classify (buf, len);
  MmLocalAddr local;
  MmEndpoint *ep;
  MmAddr a;

  mm_counter_add (&t->stats.datagrams_in, 1);
  mm_counter_add (&t->stats.bytes_in, len);
  switch (kind)
    {
    case MM_PACKET_UNKNOWN:
      mm_transport_drop (t, MM_DROP_UNKNOWN, from, "a datagram that is no STUN, DTLS or RTP");
      return;
    case MM_PACKET_STUN:
    case MM_PACKET_DTLS:
    case MM_PACKET_RTP:
    case MM_PACKET_RTCP:
      break;
    }
  if (t->pktinfo)
    local_of (h, &local);
  if (!mm_addr_set (&a, from, h->msg_namelen, t->pktinfo ? &local : NULL))
    {
      mm_transport_drop (t, MM_DROP_UNKNOWN_ADDRESS, from,
                         "a datagram from no IPv4 or IPv6 address");
      return;
    }
  if (kind == MM_PACKET_STUN)
    {
      handle_stun (t, buf, len, &a);
      return;
    }
  if ((ep = g_hash_table_lookup (t->by_addr, &a.key)) == NULL)
    {
      mm_transport_drop (t, MM_DROP_UNKNOWN_ADDRESS, from,
                         "DTLS or SRTP from an address that did no ICE");
      return;
    }
  if (!mm_endpoint_is_live (ep))
    return;
  /* What it does may close it, and drop the tables' reference. */
  mm_endpoint_ref (ep);
  if (kind == MM_PACKET_DTLS)
    mm_endpoint_handle_dtls (ep, buf, len, from);
  else if (kind == MM_PACKET_RTP)
    mm_endpoint_handle_rtp (ep, buf, len, from, arrival_us);
  else
    mm_endpoint_handle_rtcp (ep, buf, len, from);
  mm_endpoint_unref (ep);
}

/* Read what has arrived (RX_ROUNDS batches at most); returns how many
 * datagrams. */
static guint
read_datagrams (MmTransport *t)
{
  guint total = 0;
  int fd = t->fd;

  for (guint round = 0; round < RX_ROUNDS; round++)
    {
      gint64 now, real_now;
      int n;

      for (guint i = 0; i < MM_RX_BATCH; i++)
        {
          t->rx_msgs[i].msg_hdr.msg_namelen = sizeof t->rx_addr[i];
          if (t->pktinfo || t->rx_stamps)
            t->rx_msgs[i].msg_hdr.msg_controllen = sizeof t->rx_control[i].buf;
          t->rx_msgs[i].msg_hdr.msg_flags = 0;
          t->rx_msgs[i].msg_len = 0;
        }
      n = recvmmsg (fd, t->rx_msgs, MM_RX_BATCH, MSG_DONTWAIT, NULL);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK)
            g_debug ("recvmmsg: %s", g_strerror (errno));
          break;
        }
      now = g_get_monotonic_time ();
      real_now = t->rx_stamps ? g_get_real_time () : 0;
      for (int i = 0; i < n; i++)
        {
          struct msghdr *h = &t->rx_msgs[i].msg_hdr;

          if ((h->msg_flags & MSG_TRUNC) != 0)
            {
              mm_counter_add (&t->stats.datagrams_in, 1);
              mm_transport_drop (t, MM_DROP_UNKNOWN, h->msg_name, "an oversized datagram");
              continue;
            }
          handle_datagram (t, h->msg_iov->iov_base, t->rx_msgs[i].msg_len, h,
                           arrival_of (t, h, now, real_now));
        }
      total += (guint) n;
      if (n < MM_RX_BATCH)
        break;
    }
  return total;
}

/* The socket's source.  Woken by each datagram, the thread would switch
 * in and out for every one of them: at thousands of datagrams a second
 * (two hundred speakers send 10,000) the switches cost more than the
 * datagrams.  So when datagrams come closer than RX_PACE_US apart, the
 * socket is read on a clock of that period instead, a batch each time,
 * until a read finds nothing: then the socket wakes the thread again.  A
 * datagram waits RX_PACE_US at most. */
typedef struct {
  GSource source;
  MmTransport *t;
} RxSource;

static gboolean
rx_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  MmTransport *t = ((RxSource *) source)->t;
  gint64 now = g_get_monotonic_time ();
  gboolean by_fd = !t->io_paced && (g_source_query_unix_fd (source, t->io_tag) & G_IO_IN) != 0;
  guint n;

  (void) callback;
  (void) data;
  if (!by_fd && !t->io_paced)
    return G_SOURCE_CONTINUE;
  n = read_datagrams (t);
  if (by_fd && now - t->io_woken_us < RX_PACE_US)
    {
      /* Busy: read on the clock from now on. */
      t->io_paced = TRUE;
      g_source_modify_unix_fd (source, t->io_tag, 0);
    }
  else if (t->io_paced && n == 0)
    {
      /* Quiet again: wait for the socket. */
      t->io_paced = FALSE;
      g_source_modify_unix_fd (source, t->io_tag, G_IO_IN);
    }
  if (by_fd)
    t->io_woken_us = now;
  g_source_set_ready_time (source, t->io_paced ? now + RX_PACE_US : -1);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs rx_funcs = { .dispatch = rx_dispatch };

static GSource *
rx_source_new (MmTransport *t)
{
  GSource *source = g_source_new (&rx_funcs, sizeof (RxSource));

  ((RxSource *) source)->t = t;
  g_source_set_name (source, "mm-transport-rx");
  t->io_tag = g_source_add_unix_fd (source, t->fd, G_IO_IN);
  return source;
}

/* ---- timers -------------------------------------------------------------- */

static gboolean
on_dtls_timer (gpointer data)
{
  MmTransport *t = data;
  gint64 now = g_get_monotonic_time ();

  for (guint i = 0; i < t->handshaking->len;)
    {
      MmEndpoint *ep = g_ptr_array_index (t->handshaking, i);

      if (mm_endpoint_dtls_timer (ep, now))
        i++;
      else
        {
          ep->in_handshaking = FALSE;
          g_ptr_array_remove_index_fast (t->handshaking, i);
          mm_endpoint_unref (ep);
        }
    }
  if (t->handshaking->len > 0)
    return G_SOURCE_CONTINUE;
  g_source_unref (t->dtls_source);
  t->dtls_source = NULL;
  return G_SOURCE_REMOVE;
}

void
mm_transport_dtls_timer_start (MmTransport *t)
{
  if (t->dtls_source != NULL)
    return;
  /* Retransmission timeouts start at a second: 20 ms is precise enough. */
  t->dtls_source = g_timeout_source_new (20);
  g_source_set_callback (t->dtls_source, on_dtls_timer, t, NULL);
  g_source_attach (t->dtls_source, t->ctx);
}

static gboolean
on_tick (gpointer data)
{
  MmTransport *t = data;
  g_autoptr (GPtrArray) eps = g_ptr_array_new_with_free_func ((GDestroyNotify) mm_endpoint_unref);
  gint64 now = g_get_monotonic_time ();

  g_mutex_lock (&t->lock);
  for (guint i = 0; i < t->live->len; i++)
    g_ptr_array_add (eps, mm_endpoint_ref (g_ptr_array_index (t->live, i)));
  g_mutex_unlock (&t->lock);
  for (guint i = 0; i < eps->len; i++)
    mm_endpoint_tick (g_ptr_array_index (eps, i), now);
  return G_SOURCE_CONTINUE;
}

/* ---- registration -------------------------------------------------------- */

void
mm_transport_unregister (MmTransport *t, MmEndpoint *ep)
{
  gboolean was;

  g_mutex_lock (&t->lock);
  was = ep->registered;
  if (was)
    {
      ep->registered = FALSE;
      g_hash_table_remove (t->by_ufrag, ep->ufrag);
      g_ptr_array_remove_fast (t->live, ep);
    }
  g_mutex_unlock (&t->lock);
  for (guint i = 0; i < ep->n_addrs; i++)
    {
      if (g_hash_table_lookup (t->by_addr, &ep->addrs[i]->key) == ep)
        g_hash_table_remove (t->by_addr, &ep->addrs[i]->key);
      g_free (ep->addrs[i]);
    }
  ep->n_addrs = 0;
  /* The DTLS timer lets go of it on its next run. */
  if (was)
    mm_endpoint_unref (ep);
}

/* ---- the thread ---------------------------------------------------------- */

static gpointer
run (gpointer data)
{
  MmTransport *t = data;

  g_main_context_push_thread_default (t->ctx);
  g_main_loop_run (t->loop);
  g_main_context_pop_thread_default (t->ctx);
  return NULL;
}

static gboolean
quit (gpointer data)
{
  MmTransport *t = data;

  g_main_loop_quit (t->loop);
  return G_SOURCE_REMOVE;
}

/* ---- candidates ---------------------------------------------------------- */

static gboolean
is_wildcard (const char *address)
{
  return strcmp (address, "0.0.0.0") == 0 || strcmp (address, "::") == 0;
}

static GStrv
make_candidates (MmTransport *t, const char *bound, const char *const *announce)
{
  g_autoptr (GPtrArray) addrs = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();

  if (announce != NULL)
    for (guint i = 0; announce[i] != NULL; i++)
      g_ptr_array_add (addrs, g_strdup (announce[i]));
  else if (!is_wildcard (bound))
    g_ptr_array_add (addrs, g_strdup (bound));
  else
    {
      GList *ips = nice_interfaces_get_local_ips (FALSE);

      for (GList *l = ips; l != NULL; l = l->next)
        {
          const char *ip = l->data;
          gboolean v6 = strchr (ip, ':') != NULL;

          /* A link-local address needs a scope no SDP candidate carries. */
          if (v6 && (t->family != AF_INET6 || g_ascii_strncasecmp (ip, "fe80:", 5) == 0))
            continue;
          g_ptr_array_add (addrs, g_strdup (ip));
        }
      g_list_free_full (ips, g_free);
      g_ptr_array_add (addrs, g_strdup ("127.0.0.1"));
      if (t->family == AF_INET6)
        g_ptr_array_add (addrs, g_strdup ("::1"));
    }
  for (guint i = 0; i < addrs->len; i++)
    {
      g_autofree char *c = g_strdup_printf ("candidate:%u 1 udp 2130706431 %s %u typ host", i + 1,
                                            (const char *) g_ptr_array_index (addrs, i), t->port);

      g_strv_builder_add (b, c);
    }
  return g_strv_builder_end (b);
}

/* ---- the transport ------------------------------------------------------- */

static void
set_buffer (int fd, int force, int plain)
{
  int size = SOCKET_BUFFER;

  /* The forced size needs CAP_NET_ADMIN; otherwise rmem_max/wmem_max cap it. */
  if (setsockopt (fd, SOL_SOCKET, force, &size, sizeof size) != 0)
    (void) setsockopt (fd, SOL_SOCKET, plain, &size, sizeof size);
}

/* On a socket bound to a wildcard address, have every datagram say
 * which local address it came to (IP_PKTINFO, IPV6_RECVPKTINFO, which
 * covers the IPv4 peers of a dual-stack socket too): replies must leave
 * from it, not from whichever address the route to the remote prefers.
 * Returns whether they will. */
static gboolean
want_pktinfo (int fd, const struct sockaddr_storage *ss)
{
  int on = 1, r;

  if (ss->ss_family == AF_INET)
    {
      if (((const struct sockaddr_in *) ss)->sin_addr.s_addr != htonl (INADDR_ANY))
        return FALSE;
      r = setsockopt (fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on);
    }
  else
    {
      if (!IN6_IS_ADDR_UNSPECIFIED (&((const struct sockaddr_in6 *) ss)->sin6_addr))
        return FALSE;
      r = setsockopt (fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on);
    }
  if (r != 0)
    {
      g_warning ("media socket: cannot learn the local address of datagrams (%s): on a "
                 "machine with several addresses, bind [media] address to one",
                 g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

static int
open_socket (const char *address, guint16 port, int *family, guint16 *bound_port,
             gboolean *pktinfo, GError **error)
{
  struct sockaddr_storage ss;
  socklen_t len;
  int fd, saved;

  memset (&ss, 0, sizeof ss);
  if (inet_pton (AF_INET, address, &((struct sockaddr_in *) &ss)->sin_addr) == 1)
    {
      ((struct sockaddr_in *) &ss)->sin_family = AF_INET;
      ((struct sockaddr_in *) &ss)->sin_port = htons (port);
      len = sizeof (struct sockaddr_in);
    }
  else if (inet_pton (AF_INET6, address, &((struct sockaddr_in6 *) &ss)->sin6_addr) == 1)
    {
      ((struct sockaddr_in6 *) &ss)->sin6_family = AF_INET6;
      ((struct sockaddr_in6 *) &ss)->sin6_port = htons (port);
      len = sizeof (struct sockaddr_in6);
    }
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "media address “%s” is not an IPv4 or IPv6 address", address);
      return -1;
    }
  *family = ss.ss_family;
  fd = socket (ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (fd < 0)
    goto fail;
  if (ss.ss_family == AF_INET6)
    {
      int off = 0;

      /* "::" takes IPv4 peers too (as mapped addresses). */
      (void) setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    }
  set_buffer (fd, SO_RCVBUFFORCE, SO_RCVBUF);
  set_buffer (fd, SO_SNDBUFFORCE, SO_SNDBUF);
  *pktinfo = want_pktinfo (fd, &ss);
  if (bind (fd, (struct sockaddr *) &ss, len) != 0)
    goto fail;
  len = sizeof ss;
  if (getsockname (fd, (struct sockaddr *) &ss, &len) != 0)
    goto fail;
  *bound_port = ntohs (ss.ss_family == AF_INET ? ((struct sockaddr_in *) &ss)->sin_port
                                               : ((struct sockaddr_in6 *) &ss)->sin6_port);
  return fd;

fail:
  saved = errno;
  if (fd >= 0)
    close (fd);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "media port %s:%u: %s",
               address, port, g_strerror (saved));
  return -1;
}

MmTransport *
mm_transport_new (const MmTransportConfig *config, GError **error)
{
  MmTransport *t;
  MmDtlsIdentity *identity;
  const char *address = config->address != NULL ? config->address : "0.0.0.0";
  int fd, family = AF_INET;
  guint16 port = 0;
  gboolean pktinfo = FALSE;

  if (!mm_srtp_init (error))
    return NULL;
  identity = mm_dtls_identity_new (error);
  if (identity == NULL)
    return NULL;
  fd = open_socket (address, config->port, &family, &port, &pktinfo, error);
  if (fd < 0)
    {
      mm_dtls_identity_unref (identity);
      return NULL;
    }

  t = g_new0 (MmTransport, 1);
  t->fd = fd;
  t->family = family;
  t->port = port;
  t->pktinfo = pktinfo;
  {
    int on = 1;

    /* Each datagram's receive time (arrival_of); without it, the time it is read. */
    t->rx_stamps = setsockopt (fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) == 0;
  }
  t->consent_timeout_s = config->consent_timeout_s > 0 ? config->consent_timeout_s : 30;
  t->identity = identity;
  t->candidates = make_candidates (t, address, config->announce);
  g_mutex_init (&t->lock);
  t->by_ufrag = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  t->live = g_ptr_array_new ();
  t->by_addr = g_hash_table_new (mm_addr_key_hash, mm_addr_key_equal);
  t->handshaking = g_ptr_array_new ();
  t->stun = mm_stun_new ();
  t->rtcp = mm_rtcp_parser_new ();
  t->rx_buf = g_malloc (MM_RX_BATCH * MM_RX_SIZE);
  for (guint i = 0; i < MM_RX_BATCH; i++)
    {
      t->rx_iov[i].iov_base = t->rx_buf + i * MM_RX_SIZE;
      t->rx_iov[i].iov_len = MM_RX_SIZE;
      t->rx_msgs[i].msg_hdr.msg_iov = &t->rx_iov[i];
      t->rx_msgs[i].msg_hdr.msg_iovlen = 1;
      t->rx_msgs[i].msg_hdr.msg_name = &t->rx_addr[i];
      if (t->pktinfo || t->rx_stamps)
        t->rx_msgs[i].msg_hdr.msg_control = t->rx_control[i].buf;
    }

  t->ctx = g_main_context_new ();
  t->loop = g_main_loop_new (t->ctx, FALSE);
  t->io_source = rx_source_new (t);
  g_source_attach (t->io_source, t->ctx);
  t->tick_source = g_timeout_source_new_seconds (1);
  g_source_set_callback (t->tick_source, on_tick, t, NULL);
  g_source_attach (t->tick_source, t->ctx);
  t->thread = g_thread_new ("mm-transport", run, t);
  return t;
}

void
mm_transport_free (MmTransport *t)
{
  GSource *q;

  if (t == NULL)
    return;
  /* After what is queued (the last closes' destroy notifications). */
  q = g_idle_source_new ();
  g_source_set_priority (q, G_PRIORITY_LOW);
  g_source_set_callback (q, quit, t, NULL);
  g_source_attach (q, t->ctx);
  g_source_unref (q);
  g_thread_join (t->thread);

  g_source_destroy (t->io_source);
  g_source_unref (t->io_source);
  g_source_destroy (t->tick_source);
  g_source_unref (t->tick_source);
  /* Whatever was still queued runs here, the thread being gone. */
  g_main_context_push_thread_default (t->ctx);
  while (g_main_context_iteration (t->ctx, FALSE))
    ;
  if (t->live->len > 0)
    {
      g_autoptr (GPtrArray) open =
        g_ptr_array_new_with_free_func ((GDestroyNotify) mm_endpoint_unref);

      g_warning ("mm_transport_free: %u endpoints still open", t->live->len);
      for (guint i = 0; i < t->live->len; i++)
        g_ptr_array_add (open, mm_endpoint_ref (g_ptr_array_index (t->live, i)));
      for (guint i = 0; i < open->len; i++)
        mm_endpoint_close (g_ptr_array_index (open, i));
      while (g_main_context_iteration (t->ctx, FALSE))
        ;
    }
  if (t->dtls_source != NULL)
    {
      g_source_destroy (t->dtls_source);
      g_source_unref (t->dtls_source);
    }
  g_main_context_pop_thread_default (t->ctx);
  for (guint i = 0; i < t->handshaking->len; i++)
    mm_endpoint_unref (g_ptr_array_index (t->handshaking, i));
  g_ptr_array_unref (t->handshaking);

  g_main_loop_unref (t->loop);
  g_main_context_unref (t->ctx);
  close (t->fd);
  g_hash_table_unref (t->by_ufrag);
  g_hash_table_unref (t->by_addr);
  g_ptr_array_unref (t->live);
  g_mutex_clear (&t->lock);
  mm_stun_free (t->stun);
  mm_rtcp_parser_free (t->rtcp);
  g_free (t->rx_buf);
  g_strfreev (t->candidates);
  mm_dtls_identity_unref (t->identity);
  g_free (t);
}

guint16
mm_transport_port (MmTransport *t)
{
  return t->port;
}

const char *
mm_transport_fingerprint (MmTransport *t)
{
  return mm_dtls_identity_fingerprint (t->identity);
}

GStrv
mm_transport_candidates (MmTransport *t)
{
  return g_strdupv (t->candidates);
}
