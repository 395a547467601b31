/* transport-client.c — a WebRTC peer of the transport on a plain UDP
 * socket, for tests/unit-transport and bench/transport-fanout. */
#include "config.h"

#include "transport-client.h"
#include "transport/demux.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib-unix.h>
#include <netinet/in.h>
#include <stun/stunagent.h>
#include <stun/usages/ice.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONNECT_TICK_MS 50
#define CHECK_RESEND_US (200 * 1000)
#define MAX_LOSSES 16

struct _MmTestClient {
  GMainContext *ctx;
  int fd;
  char *local;               /* the socket's address (nullable: 127.0.0.1) */
  struct sockaddr_storage server;   /* only what comes from there is read */
  socklen_t server_len;
  guint64 strangers;         /* datagrams from elsewhere, unread */
  gboolean started;
  MmDtlsRole role;
  char ufrag[16], pwd[32];
  char *username;            /* "SERVER:CLIENT" */
  char *server_pwd;
  StunAgent agent;
  gboolean stun_ok, nominated;
  gint64 last_check_us;
  guint consent_ms;
  MmDtlsIdentity *id;
  MmDtls *dtls;
  MmSrtp *srtp_in, *srtp_out;
  gboolean connected;
  GSource *io, *timer;
  guint timer_ms;
  gboolean receiving, decrypt;
  GQueue rtp, rtcp;          /* GBytes */
  guint64 datagrams;
  guint16 lose[MAX_LOSSES];  /* sequence numbers to drop once each */
  guint n_lose;
  gboolean renominate;       /* moved: nominate the new address until answered */
  guint8 buf[2048];
};

static const uint16_t known_attributes[] = {
  STUN_ATTRIBUTE_USERNAME, STUN_ATTRIBUTE_MESSAGE_INTEGRITY, STUN_ATTRIBUTE_FINGERPRINT,
  STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS, STUN_ATTRIBUTE_ERROR_CODE, 0
};

static void
send_raw (MmTestClient *c, const guint8 *buf, gsize len)
{
  (void) sendto (c->fd, buf, len, MSG_DONTWAIT, (struct sockaddr *) &c->server, c->server_len);
}

/* @ip:@port into @ss: its length, 0 if @ip is no address. */
static socklen_t
parse_address (const char *ip, guint16 port, struct sockaddr_storage *ss)
{
  struct sockaddr_in *in = (struct sockaddr_in *) ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ss;

  memset (ss, 0, sizeof *ss);
  if (inet_pton (AF_INET, ip, &in->sin_addr) == 1)
    {
      in->sin_family = AF_INET;
      in->sin_port = htons (port);
      return sizeof *in;
    }
  if (inet_pton (AF_INET6, ip, &in6->sin6_addr) == 1)
    {
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons (port);
      return sizeof *in6;
    }
  return 0;
}

/* Whether @sa is the server's address and port: an ICE agent takes a
 * response from no other (RFC 8445 7.2.5.2.1), nor media. */
static gboolean
from_server (MmTestClient *c, const struct sockaddr_storage *sa)
{
  const struct sockaddr_storage *s = &c->server;

  if (sa->ss_family != s->ss_family)
    return FALSE;
  if (sa->ss_family == AF_INET)
    return ((struct sockaddr_in *) sa)->sin_port == ((struct sockaddr_in *) s)->sin_port
           && ((struct sockaddr_in *) sa)->sin_addr.s_addr
                == ((struct sockaddr_in *) s)->sin_addr.s_addr;
  return ((struct sockaddr_in6 *) sa)->sin6_port == ((struct sockaddr_in6 *) s)->sin6_port
         && memcmp (&((struct sockaddr_in6 *) sa)->sin6_addr,
                    &((struct sockaddr_in6 *) s)->sin6_addr, sizeof (struct in6_addr)) == 0;
}

void
mm_test_client_send_raw (MmTestClient *c, const guint8 *buf, gsize len)
{
  send_raw (c, buf, len);
}

static void
dtls_send (const guint8 *buf, gsize len, gpointer data)
{
  send_raw (data, buf, len);
}

static void
send_check_full (MmTestClient *c, const char *username, const char *pwd, gboolean nominate)
{
  guint8 req[1280];
  StunMessage msg;
  gsize len;

  len = stun_usage_ice_conncheck_create (&c->agent, &msg, req, sizeof req,
                                         (const uint8_t *) username, strlen (username),
                                         (const uint8_t *) pwd, strlen (pwd), nominate, TRUE,
                                         0x6e7f00ff, 0x1122334455667788ULL, NULL,
                                         STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
  if (len > 0)
    send_raw (c, req, len);
}

void
mm_test_client_send_check (MmTestClient *c, const char *username, const char *pwd)
{
  send_check_full (c, username, pwd, FALSE);
}

static void
set_timer (MmTestClient *c, guint ms);

static void
on_dtls_state (MmTestClient *c, MmDtlsState st)
{
  MmSrtpKeys keys;

  if (st != MM_DTLS_CONNECTED || c->connected)
    return;
  if (!mm_dtls_srtp_keys (c->dtls, &keys))
    return;
  c->srtp_in = mm_srtp_new (&keys, FALSE, NULL);
  c->srtp_out = mm_srtp_new (&keys, TRUE, NULL);
  c->connected = c->srtp_in != NULL && c->srtp_out != NULL;
  if (c->connected)
    set_timer (c, c->consent_ms);
}

static void
handle_stun (MmTestClient *c, const guint8 *buf, gsize len)
{
  StunMessage msg;
  StunDefaultValidaterData key[2] = {
    { (uint8_t *) c->username, strlen (c->username), (uint8_t *) c->server_pwd,
      strlen (c->server_pwd) },
    { NULL, 0, NULL, 0 }
  };
  struct sockaddr_storage mapped;
  socklen_t mapped_len = sizeof mapped;

  if (stun_agent_validate (&c->agent, &msg, buf, len, stun_agent_default_validater, key)
      != STUN_VALIDATION_SUCCESS)
    return;
  if (stun_usage_ice_conncheck_process (&msg, &mapped, &mapped_len,
                                        STUN_USAGE_ICE_COMPATIBILITY_RFC5245)
      != STUN_USAGE_ICE_RETURN_SUCCESS)
    return;
  c->renominate = FALSE;
  if (!c->stun_ok)
    {
      c->stun_ok = TRUE;
      if (c->role == MM_DTLS_CLIENT)
        on_dtls_state (c, mm_dtls_start (c->dtls));
    }
}

/* Whether @seq is one to lose (then it is lost, once). */
static gboolean
lost (MmTestClient *c, guint16 seq)
{
  for (guint i = 0; i < c->n_lose; i++)
    if (c->lose[i] == seq)
      {
        c->lose[i] = c->lose[--c->n_lose];
        return TRUE;
      }
  return FALSE;
}

static void
handle_datagram (MmTestClient *c, guint8 *buf, gsize len)
{
  gsize n = len;

  c->datagrams++;
  switch (mm_packet_classify (buf, len))
    {
    case MM_PACKET_STUN:
      handle_stun (c, buf, len);
      break;
    case MM_PACKET_DTLS:
      if (c->dtls != NULL)
        on_dtls_state (c, mm_dtls_handle (c->dtls, buf, len));
      break;
    case MM_PACKET_RTP:
      if (lost (c, (guint16) (buf[2] << 8 | buf[3])))
        break;
      if (c->decrypt && c->srtp_in != NULL
          && mm_srtp_unprotect_rtp (c->srtp_in, buf, &n) == MM_SRTP_OK)
        g_queue_push_tail (&c->rtp, g_bytes_new (buf, n));
      break;
    case MM_PACKET_RTCP:
      if (c->decrypt && c->srtp_in != NULL
          && mm_srtp_unprotect_rtcp (c->srtp_in, buf, &n) == MM_SRTP_OK)
        g_queue_push_tail (&c->rtcp, g_bytes_new (buf, n));
      break;
    case MM_PACKET_UNKNOWN:
      break;
    }
}

static gboolean
on_readable (gint fd, GIOCondition cond, gpointer data)
{
  MmTestClient *c = data;

  for (guint i = 0; i < 256; i++)
    {
      struct sockaddr_storage from;
      socklen_t from_len = sizeof from;
      ssize_t r = recvfrom (fd, c->buf, sizeof c->buf, MSG_DONTWAIT, (struct sockaddr *) &from,
                            &from_len);

      if (r < 0)
        break;
      if (!from_server (c, &from))
        c->strangers++;
      else
        handle_datagram (c, c->buf, r);
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_timer (gpointer data)
{
  MmTestClient *c = data;
  gint64 now = g_get_monotonic_time ();

  if (!c->started)
    return G_SOURCE_CONTINUE;
  if (!c->connected)
    {
      gint64 due;

      if (!c->stun_ok && now - c->last_check_us >= CHECK_RESEND_US)
        {
          c->last_check_us = now;
          send_check_full (c, c->username, c->server_pwd, TRUE);
        }
      due = c->dtls != NULL ? mm_dtls_timeout_us (c->dtls) : -1;
      if (due >= 0 && due <= now)
        on_dtls_state (c, mm_dtls_handle_timeout (c->dtls));
      return G_SOURCE_CONTINUE;
    }
  if (c->consent_ms > 0 || c->renominate)
    send_check_full (c, c->username, c->server_pwd, c->renominate);
  return G_SOURCE_CONTINUE;
}

static void
set_timer (MmTestClient *c, guint ms)
{
  if (c->timer != NULL)
    {
      g_source_destroy (c->timer);
      g_source_unref (c->timer);
      c->timer = NULL;
    }
  c->timer_ms = ms;
  if (ms == 0)
    return;
  c->timer = g_timeout_source_new (ms);
  g_source_set_callback (c->timer, on_timer, c, NULL);
  g_source_attach (c->timer, c->ctx);
}

/* A new socket on a free port of 127.0.0.1 (or c->local), read when
 * receiving. */
static void
open_socket (MmTestClient *c)
{
  struct sockaddr_storage ss;
  socklen_t len = parse_address (c->local != NULL ? c->local : "127.0.0.1", 0, &ss);
  int size = c->receiving ? 256 * 1024 : 4096;

  g_assert (len > 0);
  c->fd = socket (ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  g_assert (c->fd >= 0);
  (void) setsockopt (c->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  g_assert (bind (c->fd, (struct sockaddr *) &ss, len) == 0);
  if (!c->receiving)
    return;
  c->io = g_unix_fd_source_new (c->fd, G_IO_IN);
  g_source_set_callback (c->io, G_SOURCE_FUNC (on_readable), c, NULL);
  g_source_attach (c->io, c->ctx);
}

static void
close_socket (MmTestClient *c)
{
  if (c->io != NULL)
    {
      g_source_destroy (c->io);
      g_source_unref (c->io);
      c->io = NULL;
    }
  close (c->fd);
  c->fd = -1;
}

MmTestClient *
mm_test_client_new (GMainContext *ctx, MmDtlsIdentity *id, MmDtlsRole role)
{
  static gint counter;
  MmTestClient *c = g_new0 (MmTestClient, 1);
  guint n = g_atomic_int_add (&counter, 1);

  c->ctx = g_main_context_ref (ctx);
  c->role = role;
  c->id = id != NULL ? mm_dtls_identity_ref (id) : mm_dtls_identity_new (NULL);
  g_assert (c->id != NULL);
  g_snprintf (c->ufrag, sizeof c->ufrag, "cli%u", n);
  g_snprintf (c->pwd, sizeof c->pwd, "client-password-%08u", n);
  c->consent_ms = 1000;
  c->receiving = c->decrypt = TRUE;
  g_queue_init (&c->rtp);
  g_queue_init (&c->rtcp);
  stun_agent_init (&c->agent, known_attributes, STUN_COMPATIBILITY_RFC5389,
                   STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);

  open_socket (c);
  return c;
}

void
mm_test_client_free (MmTestClient *c)
{
  if (c == NULL)
    return;
  set_timer (c, 0);
  close_socket (c);
  g_queue_clear_full (&c->rtp, (GDestroyNotify) g_bytes_unref);
  g_queue_clear_full (&c->rtcp, (GDestroyNotify) g_bytes_unref);
  mm_dtls_free (c->dtls);
  mm_srtp_free (c->srtp_in);
  mm_srtp_free (c->srtp_out);
  mm_dtls_identity_unref (c->id);
  g_free (c->username);
  g_free (c->server_pwd);
  g_free (c->local);
  g_main_context_unref (c->ctx);
  g_free (c);
}

const char *
mm_test_client_ufrag (MmTestClient *c)
{
  return c->ufrag;
}

const char *
mm_test_client_pwd (MmTestClient *c)
{
  return c->pwd;
}

const char *
mm_test_client_fingerprint (MmTestClient *c)
{
  return mm_dtls_identity_fingerprint (c->id);
}

void
mm_test_client_start (MmTestClient *c, guint16 port, const char *server_ufrag,
                      const char *server_pwd, const char *server_fingerprint)
{
  if (c->server_len == 0)
    c->server_len = parse_address ("127.0.0.1", port, &c->server);
  else if (c->server.ss_family == AF_INET)
    ((struct sockaddr_in *) &c->server)->sin_port = htons (port);
  else
    ((struct sockaddr_in6 *) &c->server)->sin6_port = htons (port);
  c->username = g_strdup_printf ("%s:%s", server_ufrag, c->ufrag);
  c->server_pwd = g_strdup (server_pwd);
  c->dtls = mm_dtls_new (c->id, c->role, server_fingerprint, dtls_send, c, NULL);
  g_assert (c->dtls != NULL);
  c->started = TRUE;
  c->last_check_us = g_get_monotonic_time ();
  send_check_full (c, c->username, c->server_pwd, TRUE);
  set_timer (c, CONNECT_TICK_MS);
}

gboolean
mm_test_client_connected (MmTestClient *c)
{
  return c->connected;
}

gboolean
mm_test_client_stun_ok (MmTestClient *c)
{
  return c->stun_ok;
}

guint16
mm_test_client_local_port (MmTestClient *c)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;

  g_assert (getsockname (c->fd, (struct sockaddr *) &ss, &len) == 0);
  return ntohs (ss.ss_family == AF_INET ? ((struct sockaddr_in *) &ss)->sin_port
                                        : ((struct sockaddr_in6 *) &ss)->sin6_port);
}

void
mm_test_client_set_addresses (MmTestClient *c, const char *local, const char *server)
{
  g_assert (!c->started);
  g_free (c->local);
  c->local = g_strdup (local);
  c->server_len = parse_address (server, 0, &c->server);
  g_assert (c->server_len > 0);
  close_socket (c);
  open_socket (c);
}

guint64
mm_test_client_strangers (MmTestClient *c)
{
  return c->strangers;
}

void
mm_test_client_move (MmTestClient *c)
{
  g_assert (c->started);
  close_socket (c);
  open_socket (c);
  c->renominate = TRUE;
  send_check_full (c, c->username, c->server_pwd, TRUE);
  if (c->connected && c->timer_ms == 0)
    set_timer (c, 1000);
}

void
mm_test_client_set_consent_interval (MmTestClient *c, guint ms)
{
  c->consent_ms = ms;
  if (c->connected)
    set_timer (c, ms);
}

void
mm_test_client_set_receiving (MmTestClient *c, gboolean receiving, gboolean decrypt)
{
  int size = receiving ? 256 * 1024 : 4096;

  c->decrypt = decrypt;
  if (!decrypt)
    {
      /* Nothing to unprotect or protect any more: fewer SRTP sessions in
       * the process (libsrtp2 on NSS slows down with their number). */
      g_clear_pointer (&c->srtp_in, mm_srtp_free);
      g_clear_pointer (&c->srtp_out, mm_srtp_free);
    }
  if (receiving == c->receiving)
    return;
  c->receiving = receiving;
  /* Not reading: the kernel keeps little for it. */
  (void) setsockopt (c->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if (receiving)
    {
      c->io = g_unix_fd_source_new (c->fd, G_IO_IN);
      g_source_set_callback (c->io, G_SOURCE_FUNC (on_readable), c, NULL);
      g_source_attach (c->io, c->ctx);
    }
  else
    {
      g_source_destroy (c->io);
      g_source_unref (c->io);
      c->io = NULL;
    }
}

void
mm_test_client_lose_rtp (MmTestClient *c, guint16 seq)
{
  g_assert (c->n_lose < MAX_LOSSES);
  c->lose[c->n_lose++] = seq;
}

gboolean
mm_test_client_protect_rtp (MmTestClient *c, guint8 *buf, gsize *len, gsize size)
{
  return c->srtp_out != NULL && mm_srtp_protect_rtp (c->srtp_out, buf, len, size) == MM_SRTP_OK;
}

gboolean
mm_test_client_protect_rtcp (MmTestClient *c, guint8 *buf, gsize *len, gsize size)
{
  return c->srtp_out != NULL && mm_srtp_protect_rtcp (c->srtp_out, buf, len, size) == MM_SRTP_OK;
}

void
mm_test_client_send_rtcp (MmTestClient *c, const guint8 *buf, gsize len)
{
  guint8 tmp[2048];
  gsize n = len;

  g_assert (len + MM_SRTP_MAX_TRAILER <= sizeof tmp);
  memcpy (tmp, buf, len);
  if (mm_test_client_protect_rtcp (c, tmp, &n, sizeof tmp))
    send_raw (c, tmp, n);
}

void
mm_test_client_send_rtp (MmTestClient *c, const guint8 *buf, gsize len)
{
  guint8 tmp[2048];
  gsize n = len;

  g_assert (len + MM_SRTP_MAX_TRAILER <= sizeof tmp);
  memcpy (tmp, buf, len);
  if (mm_test_client_protect_rtp (c, tmp, &n, sizeof tmp))
    send_raw (c, tmp, n);
}

GBytes *
mm_test_client_pop_rtp (MmTestClient *c)
{
  return g_queue_pop_head (&c->rtp);
}

GBytes *
mm_test_client_pop_rtcp (MmTestClient *c)
{
  return g_queue_pop_head (&c->rtcp);
}

guint
mm_test_client_n_rtp (MmTestClient *c)
{
  return c->rtp.length;
}

guint64
mm_test_client_datagrams (MmTestClient *c)
{
  return c->datagrams;
}

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

void
mm_test_iterate (GMainContext *ctx, guint ms)
{
  gboolean done = FALSE;
  GSource *t = g_timeout_source_new (ms);

  g_source_set_callback (t, set_flag, &done, NULL);
  g_source_attach (t, ctx);
  while (!done)
    g_main_context_iteration (ctx, TRUE);
  g_source_destroy (t);
  g_source_unref (t);
}

gboolean
mm_test_wait (GMainContext *ctx, gboolean (*done) (gpointer data), gpointer data, guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  while (!done (data))
    {
      if (g_get_monotonic_time () >= end)
        return done (data);
      mm_test_iterate (ctx, 10);
    }
  return TRUE;
}
