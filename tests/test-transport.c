/* test-transport.c — mixmeetd's own WebRTC transport against a real
 * mixmeetd (with a real PostgreSQL), from the outside: viewers made of the
 * test client (tests/transport-client.c: a loopback WebRTC peer with
 * libnice's STUN agent, MmDtls and MmSrtp) join a room through REST, post
 * an offer built with mm_sdp_build_offer, read the answer from the long
 * poll, connect to the answer's candidate and receive the composite while
 * a mixmeet-bot publishes its camera.
 *
 * What it shows: media in both DTLS roles; a client that stops its
 * consent checks is closed after the consent timeout with a
 * "media-failed" event; bad datagrams are counted in
 * mixmeet_transport_dropped_total and never stall a good receiver; a
 * NACKed packet comes again; a client whose address changed gets its
 * media at the new one; and Chromium's ICE restart keeps media flowing
 * (tests/browser/ice-restart.mjs).
 *
 * The machine may be busy (two CPU-bound processes beside the suite):
 * every wait is a loop until a condition holds, bounded by tens of
 * seconds, and no rate is asserted. */
#include "config.h"

#include "bots.h"
#include "harness.h"
#include "transport-client.h"
#include "transport/rtcp.h"
#include "transport/sdp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stun/stunagent.h>
#include <stun/usages/ice.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* The server closes an endpoint with no valid check and no authenticated
 * RTCP for this long (src/main.c; there is no setting for it). */
#define CONSENT_TIMEOUT_S 30
/* The longest wait for a state that must come (connected, frames). */
#define WAIT_S 60

static MmHarness h;
static GMainContext *ctx;      /* the test clients' */
static char *room;             /* where the publisher is */
static MmBot *publisher;

/* ---- the room and its publisher ------------------------------------------ */

static gboolean
bot_receiving (JsonObject *line, gpointer data)
{
  return mm_bot_receiving (line) && mm_bot_n_cells (line) >= 1;
}

/* The room every test joins, with a mixmeet-bot sending its camera: the
 * composite is encoded and sent to every viewer. */
static const char *
publishing_room (void)
{
  const char *args[] = { "--name", "red", "--color", "ff0000", "--tone", "440", NULL };
  g_autofree char *token = NULL;

  if (room != NULL)
    return room;
  token = mm_test_register (&h, "Transport host", NULL);
  room = mm_test_room (&h, token, "{\"title\":\"Transport test\"}");
  publisher = mm_bot_start (&h, room, args);
  g_assert_nonnull (mm_bot_wait (publisher, bot_receiving, NULL, MM_TEST_WAIT_S));
  return room;
}

/* ---- a viewer: the test client, joined through REST ---------------------- */

typedef struct {
  MmJoined j;
  gint64 seq;                  /* of the last event read */
  MmTestClient *c;
  char *answer;                /* the answer's SDP */
  guint16 port;                /* of its candidate: the server's media port */
  guint8 pt;                   /* the answer's VP8 payload type */
  guint32 ssrc;                /* the composite's SSRC, from the answer */
  /* What came (pump): */
  guint packets, frames;       /* RTP packets; frames ended (marker bit) */
  guint back;                  /* packets whose seq did not advance */
  gboolean have_seq;
  guint16 max_seq;
  gint64 last_rx_us, max_gap_us;
  guint8 seen[65536 / 8];      /* sequence numbers received */
} Viewer;

static void
post_offer (Viewer *v, const char *sdp, MmResponse *r)
{
  g_autoptr (JsonObject) o = json_object_new ();
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *body = NULL;

  json_object_set_string_member (o, "type", "offer");
  json_object_set_string_member (o, "sdp", sdp);
  json_node_set_object (node, o);
  body = json_to_string (node, FALSE);
  mm_http (&h, "POST", v->j.messages, v->j.secret, body, r);
}

/* Read events until one of type @a or @b (nullable) arrives or
 * @timeout_s passes.  Returns that event (transfer full) or NULL. */
static JsonObject *
wait_event (Viewer *v, const char *a, const char *b, guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline)
    {
      g_auto (MmResponse) r = { 0 };
      g_autofree char *path = g_strdup_printf ("%s?since=%" G_GINT64_FORMAT "&timeout=1",
                                               v->j.events, v->seq);
      JsonArray *arr;

      mm_http (&h, "GET", path, v->j.secret, NULL, &r);
      g_assert_cmpint (r.status, ==, 200);
      g_assert_nonnull (mm_json_at (&r, "events"));
      arr = json_node_get_array (mm_json_at (&r, "events"));
      for (guint i = 0; i < json_array_get_length (arr); i++)
        {
          JsonObject *ev = json_array_get_object_element (arr, i);
          const char *type = json_object_get_string_member (ev, "type");

          v->seq = json_object_get_int_member (ev, "seq");
          if (g_strcmp0 (type, a) == 0 || (b != NULL && g_strcmp0 (type, b) == 0))
            return json_object_ref (ev);
        }
    }
  return NULL;
}

static gboolean
client_connected (gpointer data)
{
  return mm_test_client_connected (data);
}

/* Offer from a new test client in DTLS @role (the offer says
 * a=setup:actpass for the client role, a=setup:passive for the server
 * role), read the answer and connect to its candidate. */
static void
viewer_offer (Viewer *v, MmDtlsRole role)
{
  g_autoptr (MmSdpSession) answer = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) ev = NULL;
  g_auto (MmResponse) r = { 0 };
  g_autofree char *offer = NULL;
  MmSdpOfferParams op = { 0 };
  const MmSdpMedia *video;
  GString *s;

  g_clear_pointer (&v->c, mm_test_client_free);
  g_clear_pointer (&v->answer, g_free);
  /* A new connection is a new stream: its sequence numbers start anew. */
  v->have_seq = FALSE;
  v->c = mm_test_client_new (ctx, NULL, role);
  op.ice_ufrag = mm_test_client_ufrag (v->c);
  op.ice_pwd = mm_test_client_pwd (v->c);
  op.fingerprint = mm_test_client_fingerprint (v->c);
  op.video = TRUE;
  offer = mm_sdp_build_offer (&op);
  s = g_string_new (offer);
  g_free (offer);
  if (role == MM_DTLS_SERVER)
    g_assert_cmpuint (g_string_replace (s, "a=setup:actpass", "a=setup:passive", 0), >=, 1);
  offer = g_string_free (s, FALSE);
  post_offer (v, offer, &r);
  g_assert_cmpint (r.status, ==, 202);
  ev = wait_event (v, "answer", "media-failed", WAIT_S);
  g_assert_nonnull (ev);
  g_assert_cmpstr (json_object_get_string_member (ev, "type"), ==, "answer");
  v->answer = g_strdup (json_object_get_string_member (ev, "sdp"));
  answer = mm_sdp_parse (v->answer, &error);
  g_assert_no_error (error);
  g_assert_true (answer->ice_lite);
  g_assert_cmpstr (mm_sdp_setup_to_string (answer->setup), ==,
                   role == MM_DTLS_CLIENT ? "passive" : "active");
  video = mm_sdp_first (answer, MM_SDP_VIDEO);
  g_assert_nonnull (video);
  g_assert_true (video->sends);
  v->pt = video->pt;
  v->ssrc = video->ssrc;
  g_assert_cmpuint (v->ssrc, !=, 0);
  /* One host candidate, 127.0.0.1 (the harness's ice-addresses). */
  g_assert_cmpuint (g_strv_length (answer->candidates), ==, 1);
  {
    g_auto (GStrv) f = g_strsplit (answer->candidates[0], " ", -1);

    g_assert_cmpuint (g_strv_length (f), >=, 8);
    g_assert_cmpstr (f[4], ==, "127.0.0.1");
    g_assert_cmpstr (f[7], ==, "host");
    v->port = (guint16) g_ascii_strtoull (f[5], NULL, 10);
    g_assert_cmpuint (v->port, >, 0);
  }
  mm_test_client_start (v->c, v->port, answer->ice_ufrag, answer->ice_pwd, answer->fingerprint);
  if (!mm_test_wait (ctx, client_connected, v->c, WAIT_S * 1000))
    g_error ("the test client did not connect (ICE %s)",
             mm_test_client_stun_ok (v->c) ? "done, DTLS not" : "not done");
}

static Viewer *
viewer_new (const char *name, MmDtlsRole role)
{
  Viewer *v = g_new0 (Viewer, 1);

  mm_test_join (&h, publishing_room (), NULL, name, &v->j);
  viewer_offer (v, role);
  return v;
}

/* Leave (whatever its connection's state) and free. */
static void
viewer_free (Viewer *v)
{
  g_auto (MmResponse) r = { 0 };

  mm_http (&h, "POST", v->j.leave, v->j.secret, NULL, &r);
  g_assert_cmpint (r.status / 100, ==, 2);
  mm_joined_clear (&v->j);
  mm_test_client_free (v->c);
  g_free (v->answer);
  g_free (v);
}

static void
mark_seen (Viewer *v, guint16 seq, gboolean on)
{
  if (on)
    v->seen[seq / 8] |= 1u << (seq % 8);
  else
    v->seen[seq / 8] &= ~(1u << (seq % 8));
}

static gboolean
was_seen (Viewer *v, guint16 seq)
{
  return (v->seen[seq / 8] & (1u << (seq % 8))) != 0;
}

/* Iterate the clients for about @ms and take what came to @v: every
 * packet is the composite (the answer's payload type and SSRC). */
static void
pump (Viewer *v, guint ms)
{
  GBytes *b;

  mm_test_iterate (ctx, ms);
  while ((b = mm_test_client_pop_rtp (v->c)) != NULL)
    {
      gsize len;
      const guint8 *d = g_bytes_get_data (b, &len);
      gint64 now = g_get_monotonic_time ();
      MmRtpHeader rh;

      g_assert_true (mm_rtp_parse (d, len, &rh));
      g_assert_cmpuint (rh.pt, ==, v->pt);
      g_assert_cmpuint (rh.ssrc, ==, v->ssrc);
      if (v->last_rx_us != 0)
        v->max_gap_us = MAX (v->max_gap_us, now - v->last_rx_us);
      v->last_rx_us = now;
      v->packets++;
      v->frames += rh.marker;
      if (!v->have_seq || (gint16) (rh.seq - v->max_seq) > 0)
        v->max_seq = rh.seq;
      else
        v->back++;
      v->have_seq = TRUE;
      mark_seen (v, rh.seq, TRUE);
      g_bytes_unref (b);
    }
}

/* Pump until @n more frames came to @v: FALSE after @timeout_s. */
static gboolean
wait_frames (Viewer *v, guint n, guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;
  guint want = v->frames + n;

  while (v->frames < want)
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      pump (v, 20);
    }
  return TRUE;
}

/* Frames flow to @v: more come, their sequence numbers going up. */
static void
assert_frames (Viewer *v, guint n)
{
  guint back = v->back;

  if (!wait_frames (v, n, WAIT_S))
    g_error ("%u frames in %u s (%u packets)", v->frames, WAIT_S, v->packets);
  g_assert_cmpuint (v->back, ==, back);
}

/* ---- /metrics --------------------------------------------------------- */

/* The value of the sample @series ("name{label=\"value\"}") in GET
 * /metrics, or -1. */
static gdouble
metric (const char *series)
{
  g_auto (MmResponse) r = { 0 };
  g_auto (GStrv) lines = NULL;

  mm_http (&h, "GET", "/metrics", NULL, NULL, &r);
  g_assert_cmpint (r.status, ==, 200);
  lines = g_strsplit (r.body, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], series) && lines[i][strlen (series)] == ' ')
      return g_ascii_strtod (lines[i] + strlen (series) + 1, NULL);
  return -1;
}

static gdouble
dropped (const char *reason)
{
  g_autofree char *series = g_strdup_printf ("mixmeet_transport_dropped_total{reason=\"%s\"}",
                                             reason);

  return metric (series);
}

/* ---- 1. both DTLS roles -------------------------------------------------- */

/* An actpass offer makes the server DTLS server (a=setup:passive) and the
 * client start the handshake; a passive one makes the server start it
 * (a=setup:active).  Media comes either way. */
static void
test_dtls_roles (void)
{
  Viewer *client = viewer_new ("dtls client", MM_DTLS_CLIENT);
  Viewer *server = viewer_new ("dtls server", MM_DTLS_SERVER);

  g_assert_nonnull (strstr (client->answer, "a=setup:passive\r\n"));
  g_assert_nonnull (strstr (server->answer, "a=setup:active\r\n"));
  /* One port for every endpoint. */
  g_assert_cmpuint (client->port, ==, server->port);
  assert_frames (client, 10);
  assert_frames (server, 10);
  viewer_free (client);
  viewer_free (server);
}

/* ---- 2. consent ------------------------------------------------------------ */

/* A connected client that stops its consent checks (RFC 7675) and sends
 * no RTCP (which counts as consent too) is closed after the consent
 * timeout: media.c's close_peer tells it in a
 * "media-failed" event (its participant stays in the room, free to offer
 * again), and the transport has one endpoint fewer.  Its next offer is
 * answered at once and connects. */
static void
test_consent_timeout (void)
{
  Viewer *v = viewer_new ("goes silent", MM_DTLS_CLIENT);
  g_autoptr (JsonObject) failed = NULL;
  gdouble endpoints;
  gint64 start, elapsed;
  const char *reason;

  assert_frames (v, 5);
  endpoints = metric ("mixmeet_transport_endpoints");
  g_assert_cmpfloat (endpoints, >=, 2);   /* the publisher's and ours */
  mm_test_client_set_consent_interval (v->c, 0);
  start = g_get_monotonic_time ();
  /* The long poll, not the client, from now on: nothing reaches the
   * server from it. */
  failed = wait_event (v, "media-failed", "answer", CONSENT_TIMEOUT_S + 60);
  elapsed = g_get_monotonic_time () - start;
  g_assert_nonnull (failed);
  g_assert_cmpstr (json_object_get_string_member (failed, "type"), ==, "media-failed");
  reason = json_object_get_string_member (failed, "reason");
  g_test_message ("media-failed after %.1f s: %s", elapsed / 1e6, reason);
  g_assert_nonnull (strstr (reason, "consent"));
  /* Its last check went at most a second before the start. */
  g_assert_cmpint (elapsed, >=, (CONSENT_TIMEOUT_S - 2) * G_USEC_PER_SEC);
  for (guint i = 0; metric ("mixmeet_transport_endpoints") != endpoints - 1; i++)
    {
      g_assert_cmpuint (i, <, 200);
      g_usleep (100 * 1000);
    }
  viewer_offer (v, MM_DTLS_CLIENT);
  assert_frames (v, 5);
  viewer_free (v);
}

/* ---- 3. bad input ----------------------------------------------------------- */

/* A UDP socket on a free port of 127.0.0.1 that never did ICE. */
static int
stranger (void)
{
  struct sockaddr_in sin = { 0 };
  int fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  return fd;
}

static void
send_to (int fd, guint16 port, const guint8 *buf, gsize len)
{
  struct sockaddr_in to = { 0 };

  to.sin_family = AF_INET;
  to.sin_port = htons (port);
  to.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (sendto (fd, buf, len, 0, (struct sockaddr *) &to, sizeof to), ==, (gssize) len);
}

/* A Binding request as a browser's check, with @username and the key
 * @pwd, in @buf.  Returns its length. */
static gsize
binding_request (guint8 *buf, gsize size, const char *username, const char *pwd)
{
  static const uint16_t attrs[] = { STUN_ATTRIBUTE_USERNAME, 0 };
  StunAgent agent;
  StunMessage msg;
  gsize n;

  stun_agent_init (&agent, attrs, STUN_COMPATIBILITY_RFC5389,
                   STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);
  n = stun_usage_ice_conncheck_create (&agent, &msg, buf, size, (const uint8_t *) username,
                                       strlen (username), (const uint8_t *) pwd, strlen (pwd),
                                       TRUE, TRUE, 1, 2, NULL,
                                       STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
  g_assert_cmpuint (n, >, 40);
  return n;
}

static gsize
make_rtp (guint8 *buf, guint16 seq, guint32 ssrc)
{
  memset (buf, 0, 112);
  buf[0] = 0x80;
  buf[1] = 96;
  buf[2] = seq >> 8;
  buf[3] = seq & 0xff;
  buf[8] = ssrc >> 24;
  buf[9] = ssrc >> 16;
  buf[10] = ssrc >> 8;
  buf[11] = ssrc & 0xff;
  return 112;
}

static const char *const drop_reasons[] = {
  "unknown", "stun_refused", "unknown_address", "dtls_bad", "srtp_auth", "srtp_replay",
  "rtcp_malformed", NULL
};

/* While a viewer receives the composite, datagrams of every bad kind
 * reach the media port: from sockets that never did ICE (garbage,
 * truncated STUN, checks with an unknown ufrag or the wrong password,
 * DTLS and SRTP) and from the viewer's own address (DTLS records that do
 * not add up, SRTP that is forged or replayed, RTCP whose length lies).
 * Each is counted under its reason in /metrics; the viewer's frames keep
 * coming, never more than MM_TEST_MAX_GAP_MS apart, and the server is
 * ready. */
static void
test_bad_input (void)
{
  Viewer *v = viewer_new ("receives", MM_DTLS_CLIENT);
  g_autoptr (MmSdpSession) answer = mm_sdp_parse (v->answer, NULL);
  g_autofree char *user = g_strdup_printf ("%s:%s", answer->ice_ufrag,
                                           mm_test_client_ufrag (v->c));
  g_autofree char *unknown_user = g_strdup_printf ("nobody0:%s", mm_test_client_ufrag (v->c));
  gdouble before[G_N_ELEMENTS (drop_reasons)], want[G_N_ELEMENTS (drop_reasons)];
  GRand *rand = g_rand_new_with_seed (7);
  int fd = stranger ();
  guint8 buf[1500];
  gsize n;
  gint64 deadline;
  gboolean reached = FALSE;
  g_auto (MmResponse) ready = { 0 };

  assert_frames (v, 5);
  for (guint i = 0; drop_reasons[i] != NULL; i++)
    {
      before[i] = dropped (drop_reasons[i]);
      g_assert_cmpfloat (before[i], >=, 0);
      want[i] = before[i];
    }
  v->max_gap_us = 0;
  pump (v, 200);

  /* Garbage: no first byte of STUN, DTLS or RTP (RFC 7983), and too
   * short for any. */
  for (guint i = 0; i < 50; i++)
    {
      n = g_rand_int_range (rand, 1, 300);
      for (gsize j = 0; j < n; j++)
        buf[j] = g_rand_int_range (rand, 0, 256);
      buf[0] = g_rand_int_range (rand, 64, 128);
      send_to (fd, v->port, buf, n);
    }
  send_to (fd, v->port, (const guint8 *) "\x00\x01", 2);
  want[0] += 51;
  pump (v, 50);

  /* STUN: a real check cut short, one for a ufrag nobody has, one with
   * our endpoint's ufrag and a key that is not its password. */
  n = binding_request (buf, sizeof buf, user, "not-the-password-of-it-at-all");
  for (gsize m = 20; m < n; m += 7)
    {
      send_to (fd, v->port, buf, m);
      want[1] += 1;
    }
  send_to (fd, v->port, buf, n);
  n = binding_request (buf, sizeof buf, unknown_user, "client-password-00000000");
  send_to (fd, v->port, buf, n);
  want[1] += 2;
  pump (v, 50);

  /* DTLS and SRTP from an address that never did ICE. */
  memcpy (buf, "\x16\xfe\xfd\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10", 13);
  memset (buf + 13, 0x55, 16);
  send_to (fd, v->port, buf, 29);
  n = make_rtp (buf, 1, 0x1234);
  send_to (fd, v->port, buf, n);
  want[2] += 2;

  /* From the viewer's own address: DTLS records that do not add up. */
  memcpy (buf, "\x17\xfe\xfd\x00\x01\x00\x00\x00\x00\x00\x07\x01\x00", 13);
  mm_test_client_send_raw (v->c, buf, 40);
  want[3] += 1;
  /* SRTP that does not authenticate; then one packet sent twice. */
  n = make_rtp (buf, 700, 0x4321);
  g_assert_true (mm_test_client_protect_rtp (v->c, buf, &n, sizeof buf));
  buf[30] ^= 0xff;
  mm_test_client_send_raw (v->c, buf, n);
  want[4] += 1;
  n = make_rtp (buf, 701, 0x4321);
  g_assert_true (mm_test_client_protect_rtp (v->c, buf, &n, sizeof buf));
  mm_test_client_send_raw (v->c, buf, n);
  mm_test_client_send_raw (v->c, buf, n);
  want[5] += 1;
  /* RTCP whose length says more than it holds, properly protected. */
  n = mm_rtcp_write_rr (buf, sizeof buf, 0x4321, NULL, 0);
  buf[3] = 40;
  mm_test_client_send_rtcp (v->c, buf, n);
  want[6] += 1;

  deadline = g_get_monotonic_time () + WAIT_S * G_USEC_PER_SEC;
  while (!reached && g_get_monotonic_time () < deadline)
    {
      pump (v, 100);
      reached = TRUE;
      for (guint i = 0; drop_reasons[i] != NULL && reached; i++)
        reached = dropped (drop_reasons[i]) >= want[i];
    }
  for (guint i = 0; drop_reasons[i] != NULL; i++)
    {
      gdouble now = dropped (drop_reasons[i]);

      g_test_message ("dropped %s: %.0f -> %.0f (want %.0f)", drop_reasons[i], before[i], now,
                      want[i]);
      g_assert_cmpfloat (now, >=, want[i]);
    }
  /* Frames kept coming, and still do. */
  assert_frames (v, 30);
  g_test_message ("longest gap between packets: %.0f ms", v->max_gap_us / 1e3);
  g_assert_cmpint (v->max_gap_us, <=, MM_TEST_MAX_GAP_MS * 1000);
  mm_http (&h, "GET", "/readyz", NULL, NULL, &ready);
  g_assert_cmpint (ready.status, ==, 200);
  close (fd);
  g_rand_free (rand);
  viewer_free (v);
}

/* ---- 4. NACK ------------------------------------------------------------------ */

/* The viewer loses three video packets on purpose (dropped unread, before
 * unprotecting), asks for them with a generic NACK over SRTCP, and gets
 * them again: the same sequence numbers, from the server's history. */
static void
test_nack (void)
{
  Viewer *v = viewer_new ("loses packets", MM_DTLS_CLIENT);
  guint16 lost[3];
  guint8 rtcp[256];
  gsize n;
  gint64 deadline;
  gboolean all;

  assert_frames (v, 5);
  lost[0] = v->max_seq + 20;
  lost[1] = v->max_seq + 21;
  lost[2] = v->max_seq + 23;
  for (guint i = 0; i < G_N_ELEMENTS (lost); i++)
    {
      mark_seen (v, lost[i], FALSE);
      mm_test_client_lose_rtp (v->c, lost[i]);
    }
  deadline = g_get_monotonic_time () + WAIT_S * G_USEC_PER_SEC;
  while ((gint16) (v->max_seq - lost[2]) <= 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      pump (v, 10);
    }
  for (guint i = 0; i < G_N_ELEMENTS (lost); i++)
    g_assert_false (was_seen (v, lost[i]));
  /* Asked for again every second until they come (a NACK is a datagram
   * like any other). */
  n = mm_rtcp_write_rr (rtcp, sizeof rtcp, 0x5eed, NULL, 0);
  n += mm_rtcp_write_nack (rtcp + n, sizeof rtcp - n, 0x5eed, v->ssrc, lost, G_N_ELEMENTS (lost));
  do
    {
      mm_test_client_send_rtcp (v->c, rtcp, n);
      for (guint k = 0; k < 50; k++)
        pump (v, 20);
      all = TRUE;
      for (guint i = 0; i < G_N_ELEMENTS (lost); i++)
        all = all && was_seen (v, lost[i]);
    }
  while (!all && g_get_monotonic_time () < deadline);
  for (guint i = 0; i < G_N_ELEMENTS (lost); i++)
    if (!was_seen (v, lost[i]))
      g_error ("packet %u was not sent again", lost[i]);
  /* They came late: behind the newest. */
  g_assert_cmpuint (v->back, >=, G_N_ELEMENTS (lost));
  viewer_free (v);
}

/* ---- 5. a network change ------------------------------------------------------- */

/* The viewer's address changes (a new socket, a new port) and it sends a
 * nominated check from there: media follows to the new address (the old
 * socket is closed: whatever comes, comes to the new one). */
static void
test_new_address (void)
{
  Viewer *v = viewer_new ("moves", MM_DTLS_CLIENT);
  guint16 before;
  guint64 datagrams;

  assert_frames (v, 5);
  before = mm_test_client_local_port (v->c);
  mm_test_client_move (v->c);
  g_assert_cmpuint (mm_test_client_local_port (v->c), !=, before);
  datagrams = mm_test_client_datagrams (v->c);
  assert_frames (v, 10);
  g_assert_cmpuint (mm_test_client_datagrams (v->c), >, datagrams);
  /* And it stays: consent checks from the new address keep it. */
  pump (v, 3000);
  assert_frames (v, 10);
  viewer_free (v);
}

/* ---- 6. a refused ICE restart ------------------------------------------------- */

/* An offer with new ICE credentials and the same certificate (an ICE
 * restart) that the server refuses (400: it moves the video m-line) must
 * leave the connection as it was: the client, whose offer was not
 * answered, goes on with its old credentials, and its consent checks are
 * still answered (none is counted as refused STUN) and media flows. */
static void
test_refused_restart (void)
{
  Viewer *v = viewer_new ("refused restart", MM_DTLS_CLIENT);
  MmSdpOfferParams op = { 0 };
  g_autofree char *offer = NULL;
  g_auto (MmResponse) r = { 0 };
  gdouble refused;

  assert_frames (v, 5);
  op.ice_ufrag = "restartUfrag";
  op.ice_pwd = "restart-password-0123456789";
  op.fingerprint = mm_test_client_fingerprint (v->c);
  op.audio = TRUE;   /* audio first: the video m-line moves */
  op.video = TRUE;
  offer = mm_sdp_build_offer (&op);
  refused = dropped ("stun_refused");
  post_offer (v, offer, &r);
  g_assert_cmpint (r.status, ==, 400);
  g_test_message ("refused: %s", mm_json_str (&r, "error.message"));
  /* Three consent checks or more, all answered. */
  for (guint i = 0; i < 4; i++)
    pump (v, 1000);
  g_assert_cmpfloat (dropped ("stun_refused"), ==, refused);
  assert_frames (v, 10);
  viewer_free (v);
}

/* ---- 7. Chromium's ICE restart ------------------------------------------------ */

/* The interop page (tests/browser/interop.html) joins the room, plays the
 * composite, then calls pc.restartIce() and sends the new offer (new ICE
 * credentials, the same certificate: mm_media_offer takes it as an ICE
 * restart).  The answer carries new credentials, and the frames decoded
 * keep increasing after it; getStats' selected candidate pair has the
 * server's media port as its remote port. */
static void
test_browser_ice_restart (void)
{
  g_autofree char *dir = mm_test_src_path ("tests", "browser", NULL);
  g_autofree char *script = g_build_filename (dir, "ice-restart.mjs", NULL);
  g_autofree char *node = mm_test_browser_node ("the ICE restart test");
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *port = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *r;
  Viewer *v;
  guint16 media_port;
  int status = 0;

  if (node == NULL)
    return;
  /* The server's media port, as a viewer of ours sees it. */
  v = viewer_new ("port probe", MM_DTLS_CLIENT);
  media_port = v->port;
  port = g_strdup_printf ("%u", media_port);
  viewer_free (v);
  {
    const char *argv[] = { node, script, h.base_url, publishing_room (), port, NULL };

    if (!g_spawn_sync (dir, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                       &status, &error))
      g_error ("cannot run node: %s", error->message);
  }
  if (!json_parser_load_from_data (parser, out, -1, NULL)
      || json_parser_get_root (parser) == NULL
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    g_error ("the browser test printed no result: %s\n%s", out, err);
  g_test_message ("chromium: %s", out);
  r = json_node_get_object (json_parser_get_root (parser));
  if (!json_object_get_boolean_member_with_default (r, "ok", FALSE))
    g_error ("ICE restart in Chromium: %s\n%s", out, err);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  /* What ok stands for, asserted one by one for a clear failure. */
  g_assert_cmpstr (json_object_get_string_member (r, "ufrag_before"), !=,
                   json_object_get_string_member (r, "ufrag_after"));
  g_assert_cmpstr (json_object_get_string_member (r, "server_ufrag_before"), !=,
                   json_object_get_string_member (r, "server_ufrag_after"));
  g_assert_cmpint (json_object_get_int_member (r, "decoded_after"), >, 10);
  g_assert_cmpint (json_object_get_int_member (r, "remote_port"), ==, media_port);
  /* The pair in use is one checked with the new credentials (Chromium
   * names the transport's local ufrag in getStats). */
  {
    JsonObject *pair = json_object_get_object_member (r, "pair");
    const char *ufrag = json_object_get_string_member_with_default (pair, "localUfrag", NULL);

    if (ufrag != NULL)
      g_assert_cmpstr (ufrag, ==, json_object_get_string_member (r, "ufrag_after"));
  }
}

int
main (int argc, char **argv)
{
  g_autofree char *www = mm_test_src_path ("tests", "browser", NULL);
  int rc;

  g_test_init (&argc, &argv, NULL);
  /* The web root holds the browser test's page. */
  g_setenv ("MM_TEST_WEB_ROOT", www, TRUE);
  /* Viewers read their events only now and then. */
  mm_harness_start (&h, "[signalling]\nlong-poll-timeout=2\npresence-timeout=300\n");
  ctx = g_main_context_new ();
  g_test_add_func ("/transport/dtls-roles", test_dtls_roles);
  g_test_add_func ("/transport/bad-input", test_bad_input);
  g_test_add_func ("/transport/nack", test_nack);
  g_test_add_func ("/transport/new-address", test_new_address);
  g_test_add_func ("/transport/refused-restart", test_refused_restart);
  g_test_add_func ("/transport/consent-timeout", test_consent_timeout);
  g_test_add_func ("/transport/browser-ice-restart", test_browser_ice_restart);
  rc = g_test_run ();
  if (publisher != NULL)
    mm_bot_free (publisher);
  g_free (room);
  g_main_context_unref (ctx);
  mm_harness_stop (&h);
  return rc;
}
