/* unit-transport.c — mixmeetd's own WebRTC transport: RFC 7983
 * demultiplexing and the ICE-lite Binding responder, checked against
 * requests made and responses verified by libnice's STUN library (the one
 * browsers' peers such as libnice itself use); then the whole transport
 * over loopback against a test client (tests/transport-client.c) that does
 * ICE with libnice's agent, DTLS in either role and SRTP.
 */
/* transport-private.h: struct mmsghdr */
#define _GNU_SOURCE
#include "config.h"

#include "transport/demux.h"
#include "transport/rtcp.h"
#include "transport/stun.h"
#include "transport/transport.h"
#include "transport/transport-private.h"
#include "transport-client.h"

#include <arpa/inet.h>
#include <gio/gio.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stun/stunagent.h>
#include <stun/usages/ice.h>
#include <string.h>
#include <unistd.h>

/* ---- demultiplexing --------------------------------------------------- */

static void
test_classify (void)
{
  guint8 b[64];
  const struct {
    guint8 first, second;
    gsize len;
    MmPacketKind kind;
  } cases[] = {
    { 0x00, 0x01, 20, MM_PACKET_STUN },      /* Binding request */
    { 0x01, 0x01, 32, MM_PACKET_STUN },      /* Binding success */
    { 0x00, 0x01, 19, MM_PACKET_UNKNOWN },   /* shorter than a STUN header */
    { 22, 0xfe, 13, MM_PACKET_DTLS },        /* handshake record */
    { 23, 0xfe, 40, MM_PACKET_DTLS },        /* application data */
    { 20, 0xfe, 12, MM_PACKET_UNKNOWN },     /* shorter than a record header */
    { 0x80, 96, 12, MM_PACKET_RTP },         /* VP8, no marker */
    { 0x80, 96 | 0x80, 12, MM_PACKET_RTP },  /* VP8 with marker: 224, not RTCP */
    { 0x80, 111, 11, MM_PACKET_UNKNOWN },    /* shorter than an RTP header */
    { 0x80, 200, 28, MM_PACKET_RTCP },       /* SR */
    { 0x81, 201, 8, MM_PACKET_RTCP },        /* RR */
    { 0x81, 205, 12, MM_PACKET_RTCP },       /* RTPFB (NACK, TWCC) */
    { 0x81, 206, 12, MM_PACKET_RTCP },       /* PSFB (PLI, FIR, REMB) */
    { 0x80, 223, 8, MM_PACKET_RTCP },
    { 0x80, 192, 7, MM_PACKET_UNKNOWN },
    { 16, 0, 40, MM_PACKET_UNKNOWN },        /* ZRTP */
    { 64, 0, 40, MM_PACKET_UNKNOWN },        /* TURN channel data */
    { 4, 0, 40, MM_PACKET_UNKNOWN },
    { 0x40, 0, 40, MM_PACKET_UNKNOWN },      /* RTP version 1 */
    { 0xc0, 0, 40, MM_PACKET_UNKNOWN },      /* RTP version 3 */
  };

  memset (b, 0, sizeof b);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      b[0] = cases[i].first;
      b[1] = cases[i].second;
      g_test_message ("case %" G_GSIZE_FORMAT ": %u %u len %" G_GSIZE_FORMAT, i,
                      cases[i].first, cases[i].second, cases[i].len);
      g_assert_cmpint (mm_packet_classify (b, cases[i].len), ==, cases[i].kind);
    }
  g_assert_cmpint (mm_packet_classify (NULL, 0), ==, MM_PACKET_UNKNOWN);
  g_assert_cmpint (mm_packet_classify (b, 0), ==, MM_PACKET_UNKNOWN);
  g_assert_cmpstr (mm_packet_kind_name (MM_PACKET_RTCP), ==, "rtcp");
}

/* ---- ICE-lite Binding responses ----------------------------------------- */

#define SERVER_UFRAG "srvU"
#define SERVER_PWD "server-password-0123456789ab"
#define CLIENT_UFRAG "cliU"

static const char *
lookup (const char *ufrag, gpointer data)
{
  GHashTable *known = data;

  return g_hash_table_lookup (known, ufrag);
}

typedef struct {
  StunAgent client;            /* the browser's side: libnice's agent */
  MmStun *server;
  GHashTable *known;           /* local ufrag -> password */
  struct sockaddr_in from;     /* where the request came from */
} StunFixture;

static void
stun_setup (StunFixture *f, gconstpointer data)
{
  static const uint16_t attrs[] = {
    STUN_ATTRIBUTE_USERNAME, STUN_ATTRIBUTE_MESSAGE_INTEGRITY, STUN_ATTRIBUTE_FINGERPRINT,
    STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS, STUN_ATTRIBUTE_ERROR_CODE, 0
  };

  stun_agent_init (&f->client, attrs, STUN_COMPATIBILITY_RFC5389,
                   STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);
  f->server = mm_stun_new ();
  f->known = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (f->known, (gpointer) SERVER_UFRAG, (gpointer) SERVER_PWD);
  f->from.sin_family = AF_INET;
  f->from.sin_port = htons (50123);
  inet_pton (AF_INET, "192.0.2.7", &f->from.sin_addr);
}

static void
stun_teardown (StunFixture *f, gconstpointer data)
{
  mm_stun_free (f->server);
  g_hash_table_unref (f->known);
}

/* A connectivity check as the controlling browser sends it. */
static gsize
make_check (StunFixture *f, guint8 *buf, gsize size, const char *username, const char *pwd,
            gboolean nominate, StunMessage *msg)
{
  return stun_usage_ice_conncheck_create (&f->client, msg, buf, size,
                                          (const uint8_t *) username, strlen (username),
                                          (const uint8_t *) pwd, strlen (pwd),
                                          nominate, TRUE, 0x6e7f00ff, 0x1122334455667788ULL,
                                          NULL, STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
}

static gsize
answer (StunFixture *f, const guint8 *req, gsize len, guint8 *reply, MmStunCheck *check)
{
  return mm_stun_handle (f->server, req, len, (struct sockaddr *) &f->from, sizeof f->from,
                         lookup, f->known, reply, 1280, check);
}

/* A check with the right credentials gets a success response that the
 * client's STUN agent accepts (integrity with our password, fingerprint),
 * carrying the address the request came from. */
static void
test_stun_answer (StunFixture *f, gconstpointer data)
{
  guint8 req[1280], reply[1280];
  StunMessage msg, res;
  MmStunCheck check;
  struct sockaddr_storage mapped;
  socklen_t mapped_len = sizeof mapped;
  StunDefaultValidaterData key = { (uint8_t *) SERVER_UFRAG ":" CLIENT_UFRAG,
                                   strlen (SERVER_UFRAG ":" CLIENT_UFRAG),
                                   (uint8_t *) SERVER_PWD, strlen (SERVER_PWD) };
  gsize len = make_check (f, req, sizeof req, SERVER_UFRAG ":" CLIENT_UFRAG, SERVER_PWD,
                          TRUE, &msg);
  gsize n;

  memset (&check, 0, sizeof check);
  g_assert_cmpuint (len, >, 20);
  g_assert_cmpint (mm_packet_classify (req, len), ==, MM_PACKET_STUN);
  n = answer (f, req, len, reply, &check);
  g_assert_cmpuint (n, >, 20);
  g_assert_cmpstr (check.ufrag, ==, SERVER_UFRAG);
  g_assert_true (check.use_candidate);
  g_assert_cmpuint (check.priority, ==, 0x6e7f00ff);

  g_assert_cmpint (stun_agent_validate (&f->client, &res, reply, n,
                                        stun_agent_default_validater, &key),
                   ==, STUN_VALIDATION_SUCCESS);
  g_assert_cmpint (stun_message_get_class (&res), ==, STUN_RESPONSE);
  g_assert_cmpint (stun_usage_ice_conncheck_process (&res, &mapped, &mapped_len,
                                                     STUN_USAGE_ICE_COMPATIBILITY_RFC5245),
                   ==, STUN_USAGE_ICE_RETURN_SUCCESS);
  g_assert_cmpint (mapped.ss_family, ==, AF_INET);
  g_assert_cmpuint (((struct sockaddr_in *) &mapped)->sin_port, ==, f->from.sin_port);
  g_assert_cmpuint (((struct sockaddr_in *) &mapped)->sin_addr.s_addr, ==,
                    f->from.sin_addr.s_addr);

  /* Without USE-CANDIDATE: answered, not a nomination. */
  len = make_check (f, req, sizeof req, SERVER_UFRAG ":" CLIENT_UFRAG, SERVER_PWD, FALSE, &msg);
  g_assert_cmpuint (answer (f, req, len, reply, &check), >, 0);
  g_assert_false (check.use_candidate);
}

/* No answer for what is not a valid check of a known endpoint. */
static void
test_stun_silence (StunFixture *f, gconstpointer data)
{
  guint8 req[1280], reply[1280];
  StunMessage msg;
  MmStunCheck check;
  gsize len;

  memset (&check, 0, sizeof check);
  /* An unknown ufrag. */
  len = make_check (f, req, sizeof req, "nope:" CLIENT_UFRAG, SERVER_PWD, TRUE, &msg);
  g_assert_cmpuint (answer (f, req, len, reply, &check), ==, 0);
  /* A known ufrag, the wrong password. */
  len = make_check (f, req, sizeof req, SERVER_UFRAG ":" CLIENT_UFRAG, "wrong-password", TRUE,
                    &msg);
  g_assert_cmpuint (answer (f, req, len, reply, &check), ==, 0);
  /* No colon in USERNAME. */
  len = make_check (f, req, sizeof req, SERVER_UFRAG, SERVER_PWD, TRUE, &msg);
  g_assert_cmpuint (answer (f, req, len, reply, &check), ==, 0);
  /* A right one, altered in transit: integrity or fingerprint fails. */
  len = make_check (f, req, sizeof req, SERVER_UFRAG ":" CLIENT_UFRAG, SERVER_PWD, TRUE, &msg);
  req[len - 12] ^= 0x01;
  g_assert_cmpuint (answer (f, req, len, reply, &check), ==, 0);
  /* Cut short, and every shorter prefix. */
  len = make_check (f, req, sizeof req, SERVER_UFRAG ":" CLIENT_UFRAG, SERVER_PWD, TRUE, &msg);
  for (gsize cut = 0; cut < len; cut++)
    g_assert_cmpuint (answer (f, req, cut, reply, &check), ==, 0);
  /* Not STUN at all. */
  memset (req, 0x80, 64);
  g_assert_cmpuint (answer (f, req, 64, reply, &check), ==, 0);
  g_assert_cmpstr (check.ufrag, ==, "");
}

/* Random bytes that look like STUN never crash it nor get an answer. */
static void
test_stun_noise (StunFixture *f, gconstpointer data)
{
  guint8 buf[600], reply[1280];
  MmStunCheck check;
  GRand *r = g_rand_new_with_seed (7983);

  memset (&check, 0, sizeof check);

  for (guint i = 0; i < 20000; i++)
    {
      gsize len = g_rand_int_range (r, 0, sizeof buf);

      for (gsize j = 0; j < len; j++)
        buf[j] = g_rand_int_range (r, 0, 256);
      if (len >= 8)
        {
          /* A STUN header's shape: class/method, length, magic cookie. */
          buf[0] = 0;
          buf[1] = 1;
          buf[2] = (len - 20) >> 8;
          buf[3] = (len - 20) & 0xff;
          buf[4] = 0x21; buf[5] = 0x12; buf[6] = 0xa4; buf[7] = 0x42;
        }
      g_assert_cmpuint (answer (f, buf, len, reply, &check), ==, 0);
    }
  g_rand_free (r);
}

/* ---- the transport over loopback ------------------------------------------ */

/* Whether a UDP socket can be bound to @ip (any port). */
static gboolean
can_bind (const char *ip)
{
  g_autoptr (GInetAddress) a = g_inet_address_new_from_string (ip);
  g_autoptr (GSocketAddress) sa = NULL;
  g_autoptr (GSocket) sock = NULL;

  if (a == NULL)
    return FALSE;
  sa = g_inet_socket_address_new (a, 0);
  sock = g_socket_new (g_inet_address_get_family (a), G_SOCKET_TYPE_DATAGRAM,
                       G_SOCKET_PROTOCOL_UDP, NULL);
  return sock != NULL && g_socket_bind (sock, sa, FALSE, NULL);
}

#define WAIT_MS 10000          /* generous: a loaded machine */
#define SRC_SSRC 0x1234
#define SRC_PT 100

/* What an endpoint's callbacks saw (they run on the transport thread). */
typedef struct {
  GMutex lock;
  gint connected, closed, destroyed, rtp;
  char *reason;
  MmEndpoint *ep;
} Recorder;

typedef struct {
  GMainContext *ctx;
  MmTransport *t;
  Recorder rec[2];
  MmTestClient *client[2];
  MmEndpoint *ep[2];
  gint keyframes;
} Fx;

static void
on_state (MmEndpoint *ep, MmEndpointState state, const char *reason, gpointer data)
{
  Recorder *r = data;

  g_mutex_lock (&r->lock);
  if (state == MM_ENDPOINT_CONNECTED)
    r->connected++;
  else if (state == MM_ENDPOINT_CLOSED)
    {
      r->closed++;
      g_free (r->reason);
      r->reason = g_strdup (reason);
    }
  g_mutex_unlock (&r->lock);
}

static void
on_rtp (MmEndpoint *ep, const guint8 *buf, gsize len, gpointer data)
{
  Recorder *r = data;

  g_atomic_int_inc (&r->rtp);
}

static void
on_destroy (gpointer data)
{
  Recorder *r = data;

  g_atomic_int_inc (&r->destroyed);
}

static void
on_keyframe (MmStream *s, gpointer data)
{
  Fx *f = data;

  g_atomic_int_inc (&f->keyframes);
}

/* Everything but the transport (the test makes it). */
static void
fx_setup_bare (Fx *f, gconstpointer data)
{
  memset (f, 0, sizeof *f);
  f->ctx = g_main_context_new ();
  for (guint i = 0; i < G_N_ELEMENTS (f->rec); i++)
    g_mutex_init (&f->rec[i].lock);
}

static void
fx_setup (Fx *f, gconstpointer data)
{
  MmTransportConfig config = { "127.0.0.1", 0, NULL, GPOINTER_TO_UINT (data) };
  g_autoptr (GError) error = NULL;

  fx_setup_bare (f, data);
  if (config.consent_timeout_s == 0)
    config.consent_timeout_s = 30;
  f->t = mm_transport_new (&config, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->t);
}

static gboolean
all_destroyed (gpointer data)
{
  Fx *f = data;

  for (guint i = 0; i < G_N_ELEMENTS (f->ep); i++)
    if (f->ep[i] != NULL && g_atomic_int_get (&f->rec[i].destroyed) == 0)
      return FALSE;
  return TRUE;
}

static void
fx_teardown (Fx *f, gconstpointer data)
{
  for (guint i = 0; i < G_N_ELEMENTS (f->ep); i++)
    if (f->ep[i] != NULL)
      mm_endpoint_close (f->ep[i]);
  g_assert_true (mm_test_wait (f->ctx, all_destroyed, f, WAIT_MS));
  for (guint i = 0; i < G_N_ELEMENTS (f->ep); i++)
    {
      g_assert_cmpint (g_atomic_int_get (&f->rec[i].destroyed), <=, 1);
      g_clear_pointer (&f->ep[i], mm_endpoint_unref);
      g_clear_pointer (&f->client[i], mm_test_client_free);
      g_free (f->rec[i].reason);
      g_mutex_clear (&f->rec[i].lock);
    }
  mm_transport_free (f->t);
  g_main_context_unref (f->ctx);
}

typedef struct {
  Fx *f;
  guint i;
} Which;

static gboolean
is_connected (gpointer data)
{
  Which *w = data;

  return mm_test_client_connected (w->f->client[w->i])
         && g_atomic_int_get (&w->f->rec[w->i].connected) == 1;
}

/* Client @i in DTLS @role against a new endpoint of the transport in the
 * other, connected: from a socket on @local to @server (NULL, NULL: both
 * 127.0.0.1). */
static void
fx_connect_at (Fx *f, guint i, MmDtlsRole client_role, guint8 twcc_ext_id, const char *local,
               const char *server)
{
  MmTestClient *c = mm_test_client_new (f->ctx, NULL, client_role);
  MmEndpointConfig config = { mm_test_client_ufrag (c), mm_test_client_pwd (c),
                              mm_test_client_fingerprint (c),
                              client_role == MM_DTLS_CLIENT ? MM_DTLS_SERVER : MM_DTLS_CLIENT,
                              twcc_ext_id };
  MmEndpointCallbacks cb = { on_state, on_rtp, &f->rec[i], on_destroy };
  g_autoptr (GError) error = NULL;
  Which w = { f, i };

  f->client[i] = c;
  if (server != NULL)
    mm_test_client_set_addresses (c, local, server);
  f->ep[i] = mm_endpoint_new (f->t, &config, &cb, &error);
  g_assert_no_error (error);
  f->rec[i].ep = f->ep[i];
  g_assert_cmpint (mm_endpoint_state (f->ep[i]), ==, MM_ENDPOINT_CHECKING);
  g_assert_cmpuint (strlen (mm_endpoint_ufrag (f->ep[i])), >=, 8);
  g_assert_cmpuint (strlen (mm_endpoint_pwd (f->ep[i])), >=, 22);
  mm_test_client_start (c, mm_transport_port (f->t), mm_endpoint_ufrag (f->ep[i]),
                        mm_endpoint_pwd (f->ep[i]), mm_transport_fingerprint (f->t));
  g_assert_true (mm_test_wait (f->ctx, is_connected, &w, WAIT_MS));
  g_assert_true (mm_test_client_stun_ok (c));
  g_assert_cmpint (mm_endpoint_state (f->ep[i]), ==, MM_ENDPOINT_CONNECTED);
}

static void
fx_connect (Fx *f, guint i, MmDtlsRole client_role, guint8 twcc_ext_id)
{
  fx_connect_at (f, i, client_role, twcc_ext_id, NULL, NULL);
}

static gsize
make_rtp (guint8 *buf, guint16 seq, guint32 ts, gboolean marker, gsize payload)
{
  buf[0] = 0x80;
  buf[1] = SRC_PT | (marker ? 0x80 : 0);
  buf[2] = seq >> 8;
  buf[3] = seq & 0xff;
  buf[4] = ts >> 24;
  buf[5] = (ts >> 16) & 0xff;
  buf[6] = (ts >> 8) & 0xff;
  buf[7] = ts & 0xff;
  buf[8] = 0;
  buf[9] = 0;
  buf[10] = SRC_SSRC >> 8;
  buf[11] = SRC_SSRC & 0xff;
  for (gsize i = 0; i < payload; i++)
    buf[12 + i] = (guint8) (seq + i);
  return 12 + payload;
}

/* Send @n packets from @seq on: 3 per frame of 3000 ticks. */
static void
send_packets (MmStream *s, guint16 seq, guint32 ts, guint n, gsize payload)
{
  guint8 bufs[16][1500];
  MmPacket p[16];

  g_assert_cmpuint (n, <=, 16);
  for (guint i = 0; i < n; i++)
    {
      p[i].data = bufs[i];
      p[i].len = make_rtp (bufs[i], seq + i, ts + (i / 3) * 3000, i % 3 == 2, payload);
    }
  mm_stream_send (s, p, n);
}

typedef struct {
  MmTestClient *c;
  guint n;
} Count;

static gboolean
has_rtp (gpointer data)
{
  Count *c = data;

  return mm_test_client_n_rtp (c->c) >= c->n;
}

static void
wait_rtp (Fx *f, guint i, guint n)
{
  Count c = { f->client[i], n };

  g_assert_true (mm_test_wait (f->ctx, has_rtp, &c, WAIT_MS));
}

/* The payload that make_rtp wrote for @seq. */
static void
assert_payload (const MmRtpHeader *h, const guint8 *buf, guint16 seq, gsize payload)
{
  g_assert_cmpuint (h->payload_len, ==, payload);
  for (gsize i = 0; i < payload; i++)
    if (buf[h->header_len + i] != (guint8) (seq + i))
      g_error ("payload byte %" G_GSIZE_FORMAT " of %u differs", i, seq);
}

/* Receive @n packets sent from @seq as @ssrc, pt 96: rewritten seq
 * consecutive from the first one's, timestamps keeping their spacing.
 * Returns the first sequence number. */
static guint16
receive_packets_ts (Fx *f, guint i, guint16 seq, guint n, guint32 ssrc, gsize payload,
                    guint8 twcc_id, guint16 *twcc_first, guint32 *ts_first)
{
  guint16 base = 0;
  guint32 ts_base = 0;
  guint16 twcc_prev = 0;

  wait_rtp (f, i, n);
  for (guint k = 0; k < n; k++)
    {
      g_autoptr (GBytes) b = mm_test_client_pop_rtp (f->client[i]);
      gsize len;
      const guint8 *d = g_bytes_get_data (b, &len);
      MmRtpHeader h;

      g_assert_true (mm_rtp_parse (d, len, &h));
      g_assert_cmpuint (h.pt, ==, 96);
      g_assert_cmpuint (h.ssrc, ==, ssrc);
      g_assert_cmpint (h.marker, ==, k % 3 == 2);
      if (k == 0)
        {
          base = h.seq;
          ts_base = h.ts;
          if (ts_first != NULL)
            *ts_first = h.ts;
        }
      g_assert_cmpuint (h.seq, ==, (guint16) (base + k));
      g_assert_cmpuint (h.ts - ts_base, ==, (k / 3) * 3000);
      assert_payload (&h, d, seq + k, payload);
      if (twcc_id != 0)
        {
          gsize elen = 0;
          const guint8 *e = mm_rtp_find_extension (&h, twcc_id, &elen);
          guint16 tw;

          g_assert_nonnull (e);
          g_assert_cmpuint (elen, ==, 2);
          tw = (guint16) (e[0] << 8 | e[1]);
          if (k == 0 && twcc_first != NULL)
            *twcc_first = tw;
          if (k > 0)
            g_assert_cmpuint (tw, ==, (guint16) (twcc_prev + 1));
          twcc_prev = tw;
        }
      else
        g_assert_null (h.ext);
    }
  return base;
}

static guint16
receive_packets (Fx *f, guint i, guint16 seq, guint n, guint32 ssrc, gsize payload,
                 guint8 twcc_id, guint16 *twcc_first)
{
  return receive_packets_ts (f, i, seq, n, ssrc, payload, twcc_id, twcc_first, NULL);
}

typedef struct {
  gboolean sr;
  guint32 ssrc;
  gboolean pli;
  gboolean rr;
  guint n_blocks;
  MmRtcpReportBlock block;
  gboolean nack;
  guint16 nack_pid;
  gboolean remb;
  guint64 remb_bps;
  gboolean twcc;
  guint twcc_received;            /* statuses "received", over every feedback seen */
  guint twcc_lost;                /* and "not received" */
  guint16 twcc_first;             /* the first feedback's base */
  gint64 twcc_min_delta_us;       /* the smallest receive delta but each feedback's first */
} Seen;

static void
visit_seen (const MmRtcpItem *it, gpointer data)
{
  Seen *s = data;

  switch (it->kind)
    {
    case MM_RTCP_SR:
      s->sr = TRUE;
      s->ssrc = it->sender_ssrc;
      break;
    case MM_RTCP_RR:
      s->rr = TRUE;
      s->n_blocks = it->u.report.n_blocks;
      if (it->u.report.n_blocks > 0)
        s->block = it->u.report.blocks[0];
      break;
    case MM_RTCP_PLI:
      s->pli = TRUE;
      s->ssrc = it->media_ssrc;
      break;
    case MM_RTCP_NACK:
      s->nack = TRUE;
      s->nack_pid = it->u.nack.pid;
      break;
    case MM_RTCP_REMB:
      s->remb = TRUE;
      s->remb_bps = it->u.remb.bitrate;
      break;
    case MM_RTCP_TWCC:
      if (s->twcc_received + s->twcc_lost == 0)
        s->twcc_first = it->u.twcc.base_seq;
      s->twcc = TRUE;
      for (guint i = 0, n = 0; i < it->u.twcc.count; i++)
        {
          if (it->u.twcc.received[i])
            {
              s->twcc_received++;
              if (n++ > 0 && (s->twcc_min_delta_us == 0
                              || it->u.twcc.delta_us[i] < s->twcc_min_delta_us))
                s->twcc_min_delta_us = it->u.twcc.delta_us[i];
            }
          else
            s->twcc_lost++;
        }
      break;
    default:
      break;
    }
}

/* Read the client's RTCP until an item like @want's flag shows up. */
static gboolean
find_rtcp (Fx *f, guint i, Seen *seen, gboolean *flag, guint ms)
{
  g_autoptr (MmRtcpParser) p = mm_rtcp_parser_new ();
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  while (!*flag && g_get_monotonic_time () < end)
    {
      GBytes *b;

      mm_test_iterate (f->ctx, 10);
      while (!*flag && (b = mm_test_client_pop_rtcp (f->client[i])) != NULL)
        {
          gsize len;
          const guint8 *d = g_bytes_get_data (b, &len);

          g_assert_true (mm_rtcp_parse (p, d, len, visit_seen, seen));
          g_bytes_unref (b);
        }
    }
  return *flag;
}

/* (1) ICE, DTLS, then RTP rewritten and protected for the receiver, and a
 * sender report with it. */
static void
test_connect (Fx *f, gconstpointer data)
{
  MmStream *s = mm_stream_new (f->t, 90000, 256, on_keyframe, f);
  MmTransportStats ts;
  MmEndpointStats es;
  Seen seen = { 0 };
  g_auto (GStrv) cands = mm_transport_candidates (f->t);
  g_autofree char *want = g_strdup_printf ("candidate:1 1 udp 2130706431 127.0.0.1 %u typ host",
                                           mm_transport_port (f->t));

  g_assert_cmpuint (g_strv_length (cands), ==, 1);
  g_assert_cmpstr (cands[0], ==, want);
  g_assert_true (g_str_has_prefix (mm_transport_fingerprint (f->t), "sha-256 "));

  fx_connect (f, 0, MM_DTLS_CLIENT, 0);
  mm_stream_add (s, f->ep[0], 96, 0xabcd0001);
  g_assert_cmpuint (mm_stream_n_receivers (s), ==, 1);
  send_packets (s, 1000, 90000, 9, 1000);
  receive_packets (f, 0, 1000, 9, 0xabcd0001, 1000, 0, NULL);
  g_assert_true (find_rtcp (f, 0, &seen, &seen.sr, WAIT_MS));
  g_assert_cmpuint (seen.ssrc, ==, 0xabcd0001);

  mm_transport_get_stats (f->t, &ts);
  g_assert_cmpuint (ts.stun_answered, >=, 1);
  g_assert_cmpuint (ts.n_endpoints, ==, 1);
  g_assert_cmpuint (ts.datagrams_out, >=, 10);
  mm_endpoint_get_stats (f->ep[0], &es);
  g_assert_cmpuint (es.packets_out, >=, 9);
  g_assert_cmpint (es.connected_us, >, 0);

  mm_stream_remove (s, f->ep[0]);
  g_assert_cmpuint (mm_stream_n_receivers (s), ==, 0);
  mm_stream_free (s);
}

/* (2) The transport's endpoint as the DTLS client. */
static void
test_dtls_client (Fx *f, gconstpointer data)
{
  MmStream *s = mm_stream_new (f->t, 90000, 0, NULL, NULL);

  fx_connect (f, 0, MM_DTLS_SERVER, 0);
  mm_stream_add (s, f->ep[0], 96, 0x51);
  send_packets (s, 65530, 1, 12, 200);   /* across the wrap */
  receive_packets (f, 0, 65530, 12, 0x51, 200, 0, NULL);
  mm_stream_free (s);
}

/* (3) The transport-wide sequence number, added to packets with no
 * extension and to those with one; the payload intact. */
static void
test_twcc (Fx *f, gconstpointer data)
{
  MmStream *s = mm_stream_new (f->t, 90000, 0, NULL, NULL);
  guint8 buf[1500];
  MmPacket p = { buf, 0 };
  guint16 first = 0;
  g_autoptr (GBytes) b = NULL;
  MmRtpHeader h;
  const guint8 *d, *e;
  gsize len, elen;

  fx_connect (f, 0, MM_DTLS_CLIENT, 3);
  mm_stream_add (s, f->ep[0], 96, 0x77);
  send_packets (s, 10, 1000, 6, 500);
  receive_packets (f, 0, 10, 6, 0x77, 500, 3, &first);

  /* A packet that has an extension block: element 1 kept, ours added. */
  len = make_rtp (buf, 16, 7000, FALSE, 0);
  buf[0] |= 0x10;
  memcpy (buf + 12, "\xbe\xde\x00\x01\x10\x2a\x00\x00", 8);
  for (gsize i = 0; i < 300; i++)
    buf[20 + i] = (guint8) (16 + i);
  p.len = len + 8 + 300;
  mm_stream_send (s, &p, 1);
  wait_rtp (f, 0, 1);
  b = mm_test_client_pop_rtp (f->client[0]);
  d = g_bytes_get_data (b, &len);
  g_assert_true (mm_rtp_parse (d, len, &h));
  g_assert_cmpuint (h.ext_profile, ==, 0xBEDE);
  e = mm_rtp_find_extension (&h, 1, &elen);
  g_assert_nonnull (e);
  g_assert_cmpuint (elen, ==, 1);
  g_assert_cmpuint (e[0], ==, 0x2a);
  e = mm_rtp_find_extension (&h, 3, &elen);
  g_assert_nonnull (e);
  g_assert_cmpuint (elen, ==, 2);
  g_assert_cmpuint ((guint16) (e[0] << 8 | e[1]), ==, (guint16) (first + 6));
  g_assert_cmpuint (h.header_len % 4, ==, 0);
  assert_payload (&h, d, 16, 300);
  mm_stream_free (s);
}

/* The rewriting alone: the two-byte form, an element of our id replaced,
 * CSRCs and padding kept, bad input refused. */
static void
test_rewrite (void)
{
  guint8 in[200], out[256];
  MmRtpHeader h;
  const guint8 *e;
  gsize len, n, elen;

  /* Two-byte header extension with id 3 (2 bytes) and id 20 (3 bytes). */
  len = make_rtp (in, 5, 6, TRUE, 0);
  in[0] |= 0x10 | 0x01;   /* X, one CSRC */
  memcpy (in + 12, "\x00\x00\x00\x09", 4);
  memcpy (in + 16, "\x10\x00\x00\x03\x03\x02\xaa\xbb\x14\x03\x01\x02\x03\x00\x00\x00", 16);
  for (guint i = 0; i < 40; i++)
    in[32 + i] = i;
  len = 32 + 40;
  n = mm_rtp_rewrite (in, len, out, sizeof out, 111, 0xfeed, 77, 88, 3, 0x1234);
  g_assert_cmpuint (n, >, 0);
  g_assert_true (mm_rtp_parse (out, n, &h));
  g_assert_true (h.marker);
  g_assert_cmpuint (h.pt, ==, 111);
  g_assert_cmpuint (h.seq, ==, 77);
  g_assert_cmpuint (h.ts, ==, 88);
  g_assert_cmpuint (h.ssrc, ==, 0xfeed);
  g_assert_cmpuint ((h.ext_profile & 0xfff0), ==, 0x1000);
  e = mm_rtp_find_extension (&h, 3, &elen);
  g_assert_nonnull (e);
  g_assert_cmpuint (elen, ==, 2);
  g_assert_cmpuint (e[0], ==, 0x12);
  g_assert_cmpuint (e[1], ==, 0x34);
  e = mm_rtp_find_extension (&h, 20, &elen);
  g_assert_nonnull (e);
  g_assert_cmpuint (elen, ==, 3);
  g_assert_cmpmem (out + 12, 4, "\x00\x00\x00\x09", 4);
  g_assert_cmpuint (h.payload_len, ==, 40);
  g_assert_cmpmem (out + h.header_len, 40, in + 32, 40);

  /* No twcc: the packet as it is, but the fields. */
  n = mm_rtp_rewrite (in, len, out, sizeof out, 96, 1, 2, 3, 0, 0);
  g_assert_cmpuint (n, ==, len);
  g_assert_cmpmem (out + 12, len - 12, in + 12, len - 12);

  /* Lying lengths, wrong versions, too small an output. */
  for (gsize cut = 0; cut < 32; cut++)
    g_assert_cmpuint (mm_rtp_rewrite (in, cut, out, sizeof out, 96, 1, 2, 3, 3, 0), ==, 0);
  in[0] = 0x40;
  g_assert_cmpuint (mm_rtp_rewrite (in, len, out, sizeof out, 96, 1, 2, 3, 3, 0), ==, 0);
  len = make_rtp (in, 5, 6, FALSE, 100);
  g_assert_cmpuint (mm_rtp_rewrite (in, len, out, len + 4, 96, 1, 2, 3, 3, 0), ==, 0);
  in[0] |= 0x10;   /* an extension block longer than the packet */
  g_assert_cmpuint (mm_rtp_rewrite (in, len, out, sizeof out, 96, 1, 2, 3, 3, 0), ==, 0);
}

/* (4) A NACK gets the same packet again. */
static void
test_nack (Fx *f, gconstpointer data)
{
  MmStream *s = mm_stream_new (f->t, 90000, 64, NULL, NULL);
  guint8 rtcp[128];
  guint16 base, lost;
  gsize n;
  MmEndpointStats es;
  g_autoptr (GBytes) b = NULL;
  MmRtpHeader h;
  const guint8 *d;
  gsize len;

  fx_connect (f, 0, MM_DTLS_CLIENT, 0);
  mm_stream_add (s, f->ep[0], 96, 0x99);
  send_packets (s, 300, 5000, 3, 800);
  base = receive_packets (f, 0, 300, 3, 0x99, 800, 0, NULL);
  lost = base + 3 + 4;
  mm_test_client_lose_rtp (f->client[0], lost);
  send_packets (s, 303, 5000 + 3000, 9, 800);
  for (guint k = 0; k < 8; k++)
    {
      wait_rtp (f, 0, 1);
      g_bytes_unref (mm_test_client_pop_rtp (f->client[0]));
    }
  n = mm_rtcp_write_rr (rtcp, sizeof rtcp, 0x5555, NULL, 0);
  n += mm_rtcp_write_nack (rtcp + n, sizeof rtcp - n, 0x5555, 0x99, &lost, 1);
  mm_test_client_send_rtcp (f->client[0], rtcp, n);
  wait_rtp (f, 0, 1);
  b = mm_test_client_pop_rtp (f->client[0]);
  d = g_bytes_get_data (b, &len);
  g_assert_true (mm_rtp_parse (d, len, &h));
  g_assert_cmpuint (h.seq, ==, lost);
  g_assert_cmpuint (h.ssrc, ==, 0x99);
  assert_payload (&h, d, 307, 800);
  mm_endpoint_get_stats (f->ep[0], &es);
  g_assert_cmpuint (es.nacks_in, ==, 1);
  g_assert_cmpuint (es.retransmits, ==, 1);
  mm_stream_free (s);
}

static gboolean
has_keyframe (gpointer data)
{
  Fx *f = data;

  return g_atomic_int_get (&f->keyframes) > 0;
}

static gboolean
has_two_keyframes (gpointer data)
{
  Fx *f = data;

  return g_atomic_int_get (&f->keyframes) >= 2;
}

/* (5) A PLI or FIR for the SSRC we send reaches the stream. */
static void
test_pli (Fx *f, gconstpointer data)
{
  MmStream *s = mm_stream_new (f->t, 90000, 0, on_keyframe, f);
  guint8 rtcp[128];
  gsize n;
  MmEndpointStats es;

  fx_connect (f, 0, MM_DTLS_CLIENT, 0);
  mm_stream_add (s, f->ep[0], 96, 0x42);
  /* For an SSRC it is not sent: no callback. */
  n = mm_rtcp_write_rr (rtcp, sizeof rtcp, 0x5555, NULL, 0);
  n += mm_rtcp_write_pli (rtcp + n, sizeof rtcp - n, 0x5555, 0x43);
  mm_test_client_send_rtcp (f->client[0], rtcp, n);
  n = mm_rtcp_write_rr (rtcp, sizeof rtcp, 0x5555, NULL, 0);
  n += mm_rtcp_write_pli (rtcp + n, sizeof rtcp - n, 0x5555, 0x42);
  mm_test_client_send_rtcp (f->client[0], rtcp, n);
  g_assert_true (mm_test_wait (f->ctx, has_keyframe, f, WAIT_MS));
  g_assert_cmpint (g_atomic_int_get (&f->keyframes), ==, 1);
  n = mm_rtcp_write_rr (rtcp, sizeof rtcp, 0x5555, NULL, 0);
  n += mm_rtcp_write_fir (rtcp + n, sizeof rtcp - n, 0x5555, 0x42, 1);
  mm_test_client_send_rtcp (f->client[0], rtcp, n);
  g_assert_true (mm_test_wait (f->ctx, has_two_keyframes, f, WAIT_MS));
  mm_endpoint_get_stats (f->ep[0], &es);
  g_assert_cmpuint (es.keyframe_requests_in, ==, 3);
  mm_stream_free (s);
}

static gboolean
is_closed (gpointer data)
{
  Recorder *r = data;
  gboolean closed;

  g_mutex_lock (&r->lock);
  closed = r->closed > 0;
  g_mutex_unlock (&r->lock);
  return closed;
}

/* (6) A client that stops its consent checks is closed. */
static void
test_consent (Fx *f, gconstpointer data)
{
  gint64 start;

  fx_connect (f, 0, MM_DTLS_CLIENT, 0);
  mm_test_client_set_consent_interval (f->client[0], 0);
  start = g_get_monotonic_time ();
  g_assert_true (mm_test_wait (f->ctx, is_closed, &f->rec[0], 8000));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, G_USEC_PER_SEC);
  g_assert_nonnull (strstr (f->rec[0].reason, "consent"));
  g_assert_cmpint (f->rec[0].closed, ==, 1);
  g_assert_cmpint (mm_endpoint_state (f->ep[0]), ==, MM_ENDPOINT_CLOSED);
}

/* A client kept alive by its checks is not. */
static void
test_consent_kept (Fx *f, gconstpointer data)
{
  fx_connect (f, 0, MM_DTLS_CLIENT, 0);
  mm_test_client_set_consent_interval (f->client[0], 300);
  mm_test_iterate (f->ctx, 3500);
  g_assert_false (is_closed (&f->rec[0]));
  g_assert_cmpint (mm_endpoint_state (f->ep[0]), ==, MM_ENDPOINT_CONNECTED);
}

typedef struct {
  MmTransport *t;
  MmTransportStats want;
} StatsWait;

static gboolean
stats_reached (gpointer data)
{
  StatsWait *w = data;
  MmTransportStats s;

  mm_transport_get_stats (w->t, &s);
  return s.unknown >= w->want.unknown && s.stun_refused >= w->want.stun_refused
         && s.unknown_address >= w->want.unknown_address && s.dtls_bad >= w->want.dtls_bad
         && s.srtp_auth >= w->want.srtp_auth && s.srtp_replay >= w->want.srtp_replay
         && s.rtcp_malformed >= w->want.rtcp_malformed;
}

static int
stranger_socket (struct sockaddr_in *to, guint16 port)
{
  struct sockaddr_in sin = { 0 };
  int fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  *to = sin;
  to->sin_port = htons (port);
  return fd;
}

/* (7) Bad input: counted, nothing crashes, the good client goes on. */
static void
test_bad_input (Fx *f, gconstpointer data)
{
  MmStream *s = mm_stream_new (f->t, 90000, 0, NULL, NULL);
  guint16 port = mm_transport_port (f->t);
  g_autofree char *user = NULL;
  g_autofree char *unknown_user = NULL;
  StatsWait w = { f->t, { 0 } };
  struct sockaddr_in to;
  int stranger = stranger_socket (&to, port);
  guint8 buf[1500];
  StunAgent agent;
  StunMessage msg;
  gsize n, m;
  GRand *r = g_rand_new_with_seed (42);
  static const uint16_t attrs[] = { STUN_ATTRIBUTE_USERNAME, 0 };

  fx_connect (f, 0, MM_DTLS_CLIENT, 0);
  mm_stream_add (s, f->ep[0], 96, 0x61);
  mm_transport_get_stats (f->t, &w.want);
  user = g_strdup_printf ("%s:%s", mm_endpoint_ufrag (f->ep[0]),
                          mm_test_client_ufrag (f->client[0]));
  unknown_user = g_strdup_printf ("nobody:%s", mm_test_client_ufrag (f->client[0]));

  /* Garbage of every first byte, from the client's own address. */
  for (guint i = 0; i < 256; i++)
    {
      n = g_rand_int_range (r, 1, 300);
      for (gsize j = 0; j < n; j++)
        buf[j] = g_rand_int_range (r, 0, 256);
      buf[0] = i;
      mm_test_client_send_raw (f->client[0], buf, n);
    }
  /* Empty-ish and unknown kinds. */
  mm_test_client_send_raw (f->client[0], (const guint8 *) "\x10\x00", 2);
  w.want.unknown += 1;

  /* Truncated STUN: a check cut short. */
  stun_agent_init (&agent, attrs, STUN_COMPATIBILITY_RFC5389,
                   STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);
  n = stun_usage_ice_conncheck_create (&agent, &msg, buf, sizeof buf, (const uint8_t *) user,
                                       strlen (user), (const uint8_t *) mm_endpoint_pwd (f->ep[0]),
                                       strlen (mm_endpoint_pwd (f->ep[0])), TRUE, TRUE, 1, 2,
                                       NULL, STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
  g_assert_cmpuint (n, >, 40);
  for (m = 20; m < n; m += 7)
    mm_test_client_send_raw (f->client[0], buf, m);
  w.want.stun_refused += (n - 20 + 6) / 7;
  /* The right ufrag, a wrong password; an unknown ufrag. */
  mm_test_client_send_check (f->client[0], user, "not-the-password-at-all");
  mm_test_client_send_check (f->client[0], unknown_user, mm_endpoint_pwd (f->ep[0]));
  w.want.stun_refused += 2;

  /* DTLS and RTP from an address that did no ICE. */
  memcpy (buf, "\x16\xfe\xfd\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10", 13);
  memset (buf + 13, 0x55, 16);
  g_assert_cmpint (sendto (stranger, buf, 29, 0, (struct sockaddr *) &to, sizeof to), ==, 29);
  n = make_rtp (buf, 1, 1, FALSE, 100);
  g_assert_cmpint (sendto (stranger, buf, n, 0, (struct sockaddr *) &to, sizeof to), ==, n);
  w.want.unknown_address += 2;

  /* DTLS garbage from the client: records that do not add up. */
  memcpy (buf, "\x16\xfe\xfd\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00", 13);
  mm_test_client_send_raw (f->client[0], buf, 40);
  w.want.dtls_bad += 1;

  /* SRTP: one packet twice, then one forged. */
  n = make_rtp (buf, 500, 1, FALSE, 100);
  buf[11] = 0x77;
  g_assert_true (mm_test_client_protect_rtp (f->client[0], buf, &n, sizeof buf));
  mm_test_client_send_raw (f->client[0], buf, n);
  mm_test_client_send_raw (f->client[0], buf, n);
  w.want.srtp_replay += 1;
  n = make_rtp (buf, 501, 1, FALSE, 100);
  g_assert_true (mm_test_client_protect_rtp (f->client[0], buf, &n, sizeof buf));
  buf[20] ^= 0xff;
  mm_test_client_send_raw (f->client[0], buf, n);
  w.want.srtp_auth += 1;

  /* RTCP whose length says more than it holds, properly protected. */
  n = mm_rtcp_write_rr (buf, sizeof buf, 0x5555, NULL, 0);
  buf[3] = 40;
  mm_test_client_send_rtcp (f->client[0], buf, n);
  w.want.rtcp_malformed += 1;

  g_assert_true (mm_test_wait (f->ctx, stats_reached, &w, WAIT_MS));
  g_assert_cmpint (g_atomic_int_get (&f->rec[0].rtp), ==, 1);

  /* Still connected, still receiving. */
  g_assert_cmpint (mm_endpoint_state (f->ep[0]), ==, MM_ENDPOINT_CONNECTED);
  send_packets (s, 40, 400, 6, 700);
  receive_packets (f, 0, 40, 6, 0x61, 700, 0, NULL);
  close (stranger);
  g_rand_free (r);
  mm_stream_free (s);
}

/* (8) Moving a receiver between streams: one continuous stream to it,
 * its timestamps advanced by the time that passed. */
static void
test_move (Fx *f, gconstpointer data)
{
  MmStream *a = mm_stream_new (f->t, 90000, 32, NULL, NULL);
  MmStream *b = mm_stream_new (f->t, 90000, 32, NULL, NULL);
  guint16 base, next;
  guint32 ts_a, ts_b;
  gint64 moved, elapsed;
  guint32 advance;

  fx_connect (f, 0, MM_DTLS_CLIENT, 0);
  mm_stream_add (a, f->ep[0], 96, 0x88);
  moved = g_get_monotonic_time ();   /* before the last packet's time */
  send_packets (a, 100, 1000, 6, 100);
  base = receive_packets_ts (f, 0, 100, 6, 0x88, 100, 0, NULL, &ts_a);
  ts_a += 3000;   /* the last packet's */

  mm_stream_move (a, b, f->ep[0]);
  g_assert_cmpuint (mm_stream_n_receivers (a), ==, 0);
  g_assert_cmpuint (mm_stream_n_receivers (b), ==, 1);
  g_usleep (100 * 1000);
  /* Far from where a was, in both sequence number and timestamp. */
  send_packets (b, 50000, 3000000000u, 6, 100);
  elapsed = g_get_monotonic_time () - moved;
  next = receive_packets_ts (f, 0, 50000, 6, 0x88, 100, 0, NULL, &ts_b);
  g_assert_cmpuint (next, ==, (guint16) (base + 6));
  advance = ts_b - ts_a;
  g_test_message ("advance %u ticks after %" G_GINT64_FORMAT " us", advance, elapsed);
  g_assert_cmpuint (advance, >=, 100 * 90 * 9 / 10);
  g_assert_cmpuint (advance, <=, (guint32) (elapsed * 90 / 1000) + 90);

  /* And back: a NACK for a packet sent from b is not answered from a. */
  mm_stream_move (b, a, f->ep[0]);
  send_packets (a, 106, 1000 + 6000, 3, 100);
  g_assert_cmpuint (receive_packets (f, 0, 106, 3, 0x88, 100, 0, NULL), ==,
                    (guint16) (base + 12));
  mm_stream_free (a);
  mm_stream_free (b);
}

/* VP8 packets (RFC 7741): @n of them from @seq, the one at @key (or
 * none, -1) the start of a key frame, the others delta frames' starts. */
static void
send_vp8 (MmStream *s, guint16 seq, guint32 ts, guint n, gint key)
{
  guint8 bufs[16][200];
  MmPacket p[16];

  g_assert_cmpuint (n, <=, 16);
  for (guint i = 0; i < n; i++)
    {
      p[i].data = bufs[i];
      p[i].len = make_rtp (bufs[i], seq + i, ts + i * 3000, TRUE, 100);
      bufs[i][12] = 0x10;                        /* S, partition 0 */
      bufs[i][13] = (gint) i == key ? 0x00 : 0x01;   /* P: 0 for a key frame */
    }
  mm_stream_send (s, p, n);
}

/* Pop @n packets for client @i: their sequence numbers, which must follow
 * @after (the last one seen before, or -1 for any), and whether each is
 * padding only. */
static guint16
pop_seqs (Fx *f, guint i, guint n, gint after, gboolean padding)
{
  guint16 last = 0;

  wait_rtp (f, i, n);
  for (guint k = 0; k < n; k++)
    {
      g_autoptr (GBytes) b = mm_test_client_pop_rtp (f->client[i]);
      gsize len;
      const guint8 *d = g_bytes_get_data (b, &len);
      MmRtpHeader h;

      g_assert_true (mm_rtp_parse (d, len, &h));
      g_assert_cmpuint (h.ssrc, ==, 0x88);
      if (after >= 0 || k > 0)
        g_assert_cmpuint (h.seq, ==, (guint16) ((k == 0 ? (guint16) after : last) + 1));
      g_assert_cmpint ((d[0] & 0x20) != 0, ==, padding);
      if (padding)
        g_assert_cmpuint (h.payload_len, ==, 0);
      last = h.seq;
    }
  return last;
}

/* (8b) Siblings: a receiver switches to another member of the group at
 * that member's next key frame, with nothing of the old one after it;
 * to a member that sends nothing at once; padding probes continue its
 * sequence numbers. */
static void
test_switch (Fx *f, gconstpointer data)
{
  MmStream *a = mm_stream_new (f->t, 90000, 32, NULL, NULL);
  MmStream *b = mm_stream_new_sibling (a, 90000, 32, NULL, NULL);
  MmStream *quiet = mm_stream_new_sibling (a, 90000, 0, NULL, NULL);
  MmStream *pending = NULL;
  guint16 last;

  fx_connect (f, 0, MM_DTLS_CLIENT, 0);
  mm_stream_add (a, f->ep[0], 96, 0x88);
  send_vp8 (a, 100, 1000, 3, 0);
  last = pop_seqs (f, 0, 3, -1, FALSE);

  mm_stream_switch (b, f->ep[0], TRUE);
  g_assert_true (mm_stream_current (b, f->ep[0], &pending) == a);
  g_assert_true (pending == b);
  g_assert_cmpuint (mm_stream_n_receivers (b), ==, 1);
  /* No key frame of b yet: a goes on. */
  send_vp8 (b, 7000, 50000, 4, -1);
  send_vp8 (a, 103, 10000, 2, -1);
  last = pop_seqs (f, 0, 2, last, FALSE);
  g_assert_cmpuint (mm_test_client_n_rtp (f->client[0]), ==, 0);
  /* b's key frame, third in its batch: from there on, b. */
  send_vp8 (b, 7004, 62000, 5, 2);
  last = pop_seqs (f, 0, 3, last, FALSE);
  g_assert_true (mm_stream_current (a, f->ep[0], &pending) == b);
  g_assert_null (pending);
  send_vp8 (a, 105, 16000, 2, 0);
  g_usleep (50 * 1000);
  g_assert_cmpuint (mm_test_client_n_rtp (f->client[0]), ==, 0);

  /* To a member that sends nothing: at once; probes still reach it. */
  mm_stream_switch (quiet, f->ep[0], FALSE);
  g_assert_true (mm_stream_current (a, f->ep[0], NULL) == quiet);
  send_vp8 (b, 7009, 77000, 2, 0);
  mm_stream_probe (a, f->ep[0], 700);
  last = pop_seqs (f, 0, 3, last, TRUE);
  /* And back, at a key frame: the sequence goes on after the probe. */
  mm_stream_switch (b, f->ep[0], TRUE);
  send_vp8 (b, 7011, 83000, 2, 1);
  pop_seqs (f, 0, 1, last, FALSE);
  mm_stream_remove (a, f->ep[0]);   /* found in whichever member holds it */
  g_assert_cmpuint (mm_stream_n_receivers (b), ==, 0);
  mm_stream_free (quiet);
  mm_stream_free (b);
  mm_stream_free (a);
}

static void
test_vp8_keyframe (void)
{
  guint8 buf[64];
  gsize n = make_rtp (buf, 1, 1, FALSE, 20);

  buf[12] = 0x10;
  buf[13] = 0x00;
  g_assert_true (mm_rtp_vp8_keyframe_start (buf, n));
  buf[13] = 0x01;                      /* inter frame */
  g_assert_false (mm_rtp_vp8_keyframe_start (buf, n));
  buf[12] = 0x00;                      /* not the start */
  buf[13] = 0x00;
  g_assert_false (mm_rtp_vp8_keyframe_start (buf, n));
  buf[12] = 0x11;                      /* partition 1 */
  g_assert_false (mm_rtp_vp8_keyframe_start (buf, n));
  /* X with a 15-bit picture id, TL0PICIDX and TID: the header after them. */
  buf[12] = 0x90;
  buf[13] = 0xE0;
  buf[14] = 0x80;
  buf[15] = 0x01;
  buf[16] = 0x05;
  buf[17] = 0x20;
  buf[18] = 0x00;
  g_assert_true (mm_rtp_vp8_keyframe_start (buf, n));
  buf[18] = 0x01;
  g_assert_false (mm_rtp_vp8_keyframe_start (buf, n));
  /* Cut short: no answer from beyond the end. */
  g_assert_false (mm_rtp_vp8_keyframe_start (buf, 18));
  g_assert_false (mm_rtp_vp8_keyframe_start (buf, 13));
}

/* (9) Two receivers of one stream, each under its own SSRC. */
static void
test_two_receivers (Fx *f, gconstpointer data)
{
  MmStream *s = mm_stream_new (f->t, 48000, 0, NULL, NULL);

  fx_connect (f, 0, MM_DTLS_CLIENT, 0);
  fx_connect (f, 1, MM_DTLS_SERVER, 5);
  mm_stream_add (s, f->ep[0], 96, 0xa);
  mm_stream_add (s, f->ep[1], 96, 0xb);
  send_packets (s, 7, 70, 9, 160);
  receive_packets (f, 0, 7, 9, 0xa, 160, 0, NULL);
  receive_packets (f, 1, 7, 9, 0xb, 160, 5, NULL);
  mm_stream_free (s);
}

static gboolean
is_destroyed (gpointer data)
{
  Recorder *r = data;

  return g_atomic_int_get (&r->destroyed) > 0;
}

/* (10) A closed endpoint: destroy called once, nothing sent to it. */
static void
test_close (Fx *f, gconstpointer data)
{
  MmStream *s = mm_stream_new (f->t, 90000, 0, NULL, NULL);
  MmTransportStats ts;

  fx_connect (f, 0, MM_DTLS_CLIENT, 0);
  fx_connect (f, 1, MM_DTLS_CLIENT, 0);
  mm_stream_add (s, f->ep[0], 96, 0xc);
  mm_stream_add (s, f->ep[1], 96, 0xd);
  mm_endpoint_close (f->ep[0]);
  mm_endpoint_close (f->ep[0]);
  g_assert_cmpint (mm_endpoint_state (f->ep[0]), ==, MM_ENDPOINT_CLOSED);
  g_assert_true (mm_test_wait (f->ctx, is_destroyed, &f->rec[0], WAIT_MS));
  send_packets (s, 1, 1, 3, 100);
  receive_packets (f, 1, 1, 3, 0xd, 100, 0, NULL);
  mm_test_iterate (f->ctx, 300);
  g_assert_cmpuint (mm_test_client_n_rtp (f->client[0]), ==, 0);
  g_assert_cmpint (g_atomic_int_get (&f->rec[0].destroyed), ==, 1);
  g_assert_cmpint (f->rec[0].closed, ==, 0);   /* no state callback for a close */
  mm_transport_get_stats (f->t, &ts);
  g_assert_cmpuint (ts.n_endpoints, ==, 1);
  mm_stream_free (s);
}

/* ICE restart: new local credentials, the old ones refused, DTLS kept. */
static void
test_restart (Fx *f, gconstpointer data)
{
  MmStream *s = mm_stream_new (f->t, 90000, 0, NULL, NULL);
  g_autofree char *old_ufrag = NULL;
  g_autofree char *user = NULL;
  StatsWait w = { f->t, { 0 } };

  fx_connect (f, 0, MM_DTLS_CLIENT, 0);
  old_ufrag = g_strdup (mm_endpoint_ufrag (f->ep[0]));
  mm_endpoint_restart_ice (f->ep[0], "newremote", "new-remote-password-0123456");
  g_assert_cmpstr (mm_endpoint_ufrag (f->ep[0]), !=, old_ufrag);
  mm_transport_get_stats (f->t, &w.want);
  user = g_strdup_printf ("%s:%s", old_ufrag, mm_test_client_ufrag (f->client[0]));
  mm_test_client_send_check (f->client[0], user, "whatever-it-was-0123456789");
  w.want.stun_refused += 1;
  g_assert_true (mm_test_wait (f->ctx, stats_reached, &w, WAIT_MS));
  /* Media still flows to the address already selected. */
  mm_stream_add (s, f->ep[0], 96, 0xe);
  send_packets (s, 1, 1, 3, 100);
  receive_packets (f, 0, 1, 3, 0xe, 100, 0, NULL);
  g_assert_cmpint (mm_endpoint_state (f->ep[0]), ==, MM_ENDPOINT_CONNECTED);
  mm_stream_free (s);
}

/* Feedback we send: PLI and NACK on request, receiver reports and REMB
 * once a second about what the remote sends. */
static void
test_feedback (Fx *f, gconstpointer data)
{
  Seen seen = { 0 };
  guint8 buf[1500];
  guint16 lost[] = { 9, 10 };
  gsize n;

  fx_connect (f, 0, MM_DTLS_CLIENT, 0);
  for (guint i = 0; i < 5; i++)
    {
      n = make_rtp (buf, 20 + i + (i >= 3), 100 * i, FALSE, 50);
      mm_test_client_send_rtp (f->client[0], buf, n);
    }
  mm_endpoint_request_keyframe (f->ep[0], SRC_SSRC);
  g_assert_true (find_rtcp (f, 0, &seen, &seen.pli, WAIT_MS));
  g_assert_cmpuint (seen.ssrc, ==, SRC_SSRC);
  mm_endpoint_nack (f->ep[0], SRC_SSRC, lost, 2);
  g_assert_true (find_rtcp (f, 0, &seen, &seen.nack, WAIT_MS));
  g_assert_cmpuint (seen.nack_pid, ==, 9);
  mm_endpoint_set_max_bitrate (f->ep[0], 800000);
  g_assert_true (find_rtcp (f, 0, &seen, &seen.remb, WAIT_MS));
  g_assert_cmpuint (seen.remb_bps, >=, 790000);
  g_assert_cmpuint (seen.remb_bps, <=, 800000);
  seen.rr = FALSE;
  while (!(seen.rr && seen.n_blocks > 0))
    {
      seen.rr = FALSE;
      g_assert_true (find_rtcp (f, 0, &seen, &seen.rr, WAIT_MS));
    }
  g_assert_cmpuint (seen.block.ssrc, ==, SRC_SSRC);
  g_assert_cmpuint (seen.block.highest_seq, ==, 25);
  g_assert_cmpint (seen.block.cumulative_lost, ==, 1);
  g_assert_cmpint (g_atomic_int_get (&f->rec[0].rtp), ==, 5);
}

/* Transport-wide feedback on what the remote sends us with the
 * transport-wide number: every number described once, the missing one
 * as lost, the receive deltas those of the arrivals (the kernel's
 * receive times, SO_TIMESTAMPNS); packets without the extension are not
 * described. */
static void
test_twcc_feedback (Fx *f, gconstpointer data)
{
  Seen seen = { 0 };
  guint8 buf[1500];
  gsize n;

  fx_connect (f, 0, MM_DTLS_CLIENT, 5);
  /* Transport-wide numbers 300 to 309 but 304, over ~250 ms (feedback is
   * due every 100 ms, and at the tick a second for the last ones). */
  for (guint i = 0; i < 10; i++)
    {
      if (i == 4)
        continue;
      make_rtp (buf, 20 + i, 3000 * i, FALSE, 0);
      buf[0] |= 0x10;
      /* One element, id 5, two bytes: the number; then a padding byte. */
      memcpy (buf + 12, "\xbe\xde\x00\x01\x51\x00\x00\x00", 8);
      buf[17] = (guint8) ((300 + i) >> 8);
      buf[18] = (guint8) ((300 + i) & 0xff);
      memset (buf + 20, 0xab, 100);
      mm_test_client_send_rtp (f->client[0], buf, 20 + 100);
      mm_test_iterate (f->ctx, 30);
    }
  /* A packet without the extension. */
  n = make_rtp (buf, 30, 30000, FALSE, 100);
  mm_test_client_send_rtp (f->client[0], buf, n);
  while (seen.twcc_received + seen.twcc_lost < 10)
    {
      seen.twcc = FALSE;
      g_assert_true (find_rtcp (f, 0, &seen, &seen.twcc, 3000));
    }
  g_assert_cmpuint (seen.twcc_first, ==, 300);
  /* Sent ~30 ms apart: so they arrived (a bad clock would give 0). */
  g_assert_cmpint (seen.twcc_min_delta_us, >=, 20 * 1000);
  g_assert_cmpuint (seen.twcc_received, ==, 9);
  g_assert_cmpuint (seen.twcc_lost, ==, 1);
  g_assert_cmpint (g_atomic_int_get (&f->rec[0].rtp), ==, 10);
}

/* ---- a wildcard address on a machine with several ------------------------ */

/* An address of this machine of @family other than loopback (for IPv6,
 * nor link-local), that a socket can be bound to; NULL if none. */
static char *
other_local_address (int family)
{
  struct ifaddrs *ifs;
  char *found = NULL;

  if (getifaddrs (&ifs) != 0)
    return NULL;
  for (struct ifaddrs *i = ifs; i != NULL && found == NULL; i = i->ifa_next)
    {
      char host[INET6_ADDRSTRLEN];

      if (i->ifa_addr == NULL || i->ifa_addr->sa_family != family
          || (i->ifa_flags & IFF_UP) == 0 || (i->ifa_flags & IFF_LOOPBACK) != 0)
        continue;
      if (family == AF_INET)
        {
          const struct in_addr *a = &((struct sockaddr_in *) i->ifa_addr)->sin_addr;

          if ((ntohl (a->s_addr) >> 24) == 127)
            continue;
          inet_ntop (AF_INET, a, host, sizeof host);
        }
      else
        {
          const struct in6_addr *a = &((struct sockaddr_in6 *) i->ifa_addr)->sin6_addr;

          if (IN6_IS_ADDR_LOOPBACK (a) || IN6_IS_ADDR_LINKLOCAL (a) || IN6_IS_ADDR_V4MAPPED (a))
            continue;
          inet_ntop (AF_INET6, a, host, sizeof host);
        }
      if (can_bind (host))
        found = g_strdup (host);
    }
  freeifaddrs (ifs);
  return found;
}

typedef struct {
  const char *bind;        /* the transport's: a wildcard address */
  const char *client;      /* the clients' sockets' address */
  int other;               /* client 0 checks this machine's other address of
                            * this family; 0: the clients' own address */
} Wildcard;

/* (11) A transport bound to a wildcard address on a machine with several
 * addresses: client 0, on loopback, checks another address of the
 * machine, to which the route from the kernel's point of view would pick
 * loopback as the source; client 1 checks loopback.  Each gets its STUN
 * responses, DTLS and media (in one sendmmsg batch for both) from
 * exactly the address and port it sent to, and nothing from any other
 * (an ICE agent discards a response from elsewhere, RFC 8445 7.2.5.2.1). */
static void
test_wildcard (Fx *f, gconstpointer data)
{
  const Wildcard *w = data;
  g_autofree char *target = w->other != 0 ? other_local_address (w->other) : g_strdup (w->client);
  const char *announce[] = { target, w->client, NULL };
  MmTransportConfig config = { w->bind, 0, announce, 30 };
  g_autoptr (GError) error = NULL;
  MmTransportStats ts;
  Seen seen = { 0 };
  MmStream *s;

  if (target == NULL)
    {
      g_test_skip (w->other == AF_INET ? "this machine has no IPv4 address but loopback"
                                       : "this machine has no IPv6 address but loopback and "
                                         "link-local ones");
      return;
    }
  if (!can_bind (w->client))
    {
      g_autofree char *why = g_strdup_printf ("no socket can be bound to %s: no IPv6?",
                                              w->client);

      g_test_skip (why);
      return;
    }
  f->t = mm_transport_new (&config, &error);
  if (f->t == NULL && strchr (w->bind, ':') != NULL)
    {
      g_autofree char *why = g_strdup_printf ("no IPv6 wildcard: %s", error->message);

      g_test_skip (why);
      return;
    }
  g_assert_no_error (error);
  g_test_message ("bound to %s port %u; client 0: %s to %s, client 1: %s to %s", w->bind,
                  mm_transport_port (f->t), w->client, target, w->client, w->client);

  /* The transport as DTLS server for one, as client for the other. */
  fx_connect_at (f, 0, MM_DTLS_CLIENT, 0, w->client, target);
  fx_connect_at (f, 1, MM_DTLS_SERVER, 3, w->client, w->client);
  s = mm_stream_new (f->t, 90000, 256, on_keyframe, f);
  mm_stream_add (s, f->ep[0], 96, 0xc0);
  mm_stream_add (s, f->ep[1], 96, 0xc1);
  send_packets (s, 500, 9000, 9, 800);
  receive_packets (f, 0, 500, 9, 0xc0, 800, 0, NULL);
  receive_packets (f, 1, 500, 9, 0xc1, 800, 3, NULL);
  g_assert_true (find_rtcp (f, 0, &seen, &seen.sr, WAIT_MS));
  g_assert_cmpuint (seen.ssrc, ==, 0xc0);
  for (guint i = 0; i < 2; i++)
    g_assert_cmpuint (mm_test_client_strangers (f->client[i]), ==, 0);
  mm_transport_get_stats (f->t, &ts);
  g_assert_cmpuint (ts.send_errors, ==, 0);
  g_assert_cmpuint (ts.unknown_address, ==, 0);
  mm_stream_free (s);
}

/* Announced addresses and the wildcard's. */
static void
test_candidates (void)
{
  const char *const announce[] = { "192.0.2.1", "2001:db8::1", NULL };
  MmTransportConfig config = { "0.0.0.0", 0, announce, 30 };
  g_autoptr (GError) error = NULL;
  MmTransport *t = mm_transport_new (&config, &error);
  g_auto (GStrv) c = NULL;
  g_autofree char *want = NULL;

  g_assert_no_error (error);
  c = mm_transport_candidates (t);
  g_assert_cmpuint (g_strv_length (c), ==, 2);
  want = g_strdup_printf ("candidate:2 1 udp 2130706431 2001:db8::1 %u typ host",
                          mm_transport_port (t));
  g_assert_cmpstr (c[1], ==, want);
  mm_transport_free (t);
  g_clear_pointer (&c, g_strfreev);

  config.announce = NULL;
  t = mm_transport_new (&config, &error);
  g_assert_no_error (error);
  c = mm_transport_candidates (t);
  g_assert_cmpuint (g_strv_length (c), >=, 1);
  for (guint i = 0; c[i] != NULL; i++)
    g_assert_null (strstr (c[i], " ::"));
  g_assert_nonnull (strstr (c[g_strv_length (c) - 1], " 127.0.0.1 "));
  mm_transport_free (t);

  config.address = "not-an-address";
  g_assert_null (mm_transport_new (&config, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/transport/classify", test_classify);
#define STUN_TEST(path, func) \
  g_test_add (path, StunFixture, NULL, stun_setup, func, stun_teardown)
  STUN_TEST ("/transport/stun/answer", test_stun_answer);
  STUN_TEST ("/transport/stun/silence", test_stun_silence);
  STUN_TEST ("/transport/stun/noise", test_stun_noise);
#undef STUN_TEST
  g_test_add_func ("/transport/rewrite", test_rewrite);
  g_test_add_func ("/transport/vp8-keyframe", test_vp8_keyframe);
  g_test_add_func ("/transport/candidates", test_candidates);
#define FX_TEST(path, func, consent) \
  g_test_add (path, Fx, GUINT_TO_POINTER (consent), fx_setup, func, fx_teardown)
  FX_TEST ("/transport/connect", test_connect, 30);
  FX_TEST ("/transport/dtls-client", test_dtls_client, 30);
  FX_TEST ("/transport/twcc", test_twcc, 30);
  FX_TEST ("/transport/nack", test_nack, 30);
  FX_TEST ("/transport/pli", test_pli, 30);
  FX_TEST ("/transport/consent", test_consent, 2);
  FX_TEST ("/transport/consent-kept", test_consent_kept, 2);
  FX_TEST ("/transport/bad-input", test_bad_input, 30);
  FX_TEST ("/transport/move", test_move, 30);
  FX_TEST ("/transport/switch", test_switch, 30);
  FX_TEST ("/transport/two-receivers", test_two_receivers, 30);
  FX_TEST ("/transport/close", test_close, 30);
  FX_TEST ("/transport/restart", test_restart, 30);
  FX_TEST ("/transport/feedback", test_feedback, 30);
  FX_TEST ("/transport/twcc-feedback", test_twcc_feedback, 30);
#undef FX_TEST
#define WILDCARD_TEST(path, bind, client, other) \
  do { \
    static const Wildcard w = { bind, client, other }; \
    g_test_add (path, Fx, &w, fx_setup_bare, test_wildcard, fx_teardown); \
  } while (0)
  WILDCARD_TEST ("/transport/wildcard/ipv4", "0.0.0.0", "127.0.0.1", AF_INET);
  WILDCARD_TEST ("/transport/wildcard/ipv6-loopback", "::", "::1", 0);
  WILDCARD_TEST ("/transport/wildcard/ipv6", "::", "::1", AF_INET6);
  WILDCARD_TEST ("/transport/wildcard/dual-stack", "::", "127.0.0.1", AF_INET);
#undef WILDCARD_TEST
  return g_test_run ();
}
