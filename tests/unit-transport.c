/* unit-transport.c — the pure parts of mixmeetd's own WebRTC transport:
 * RFC 7983 demultiplexing and the ICE-lite Binding responder, checked
 * against requests made and responses verified by libnice's STUN library
 * (the one browsers' peers such as libnice itself use).
 */
#include "config.h"

#include "transport/demux.h"
#include "transport/stun.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stun/stunagent.h>
#include <stun/usages/ice.h>
#include <string.h>

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
  return g_test_run ();
}
