/* test-negotiation.c — offers, answers and ICE between clients and a real
 * mixmeetd (with a real PostgreSQL) and its own transport (ICE-lite,
 * DTLS-SRTP on one UDP port: docs/transport.md): offers the server cannot
 * take are refused at once with a reason (400), never answered in
 * silence; valid SDP in its less common forms is accepted; a re-offer may
 * change directions but must keep its m-lines; the answer has the shape
 * of an ICE-lite server's, with every candidate in it (there are no "ice"
 * events) on the one media port; a client on loopback connects with the
 * default addresses, and [media] public-ip is what clients are told.
 *
 * The clients are mixmeet-bot processes (webrtcbin) where media must
 * flow, and this program itself where only the signalling is looked at:
 * it posts offers written from one a mixmeet-bot made, altered as each
 * test needs, and reads its events from the long poll. */
#include "config.h"

#include "bots.h"
#include "harness.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static MmHarness h;
static char *base_config;   /* the harness's config, ICE on every address */

/* An offer as mixmeet-bot's webrtcbin makes it (max-bundle, trickle),
 * receive-only: the server answers it without any media from us.  The
 * ICE credentials and the video direction are filled in. */
#define FINGERPRINT \
  "sha-256 68:DB:F2:F2:92:72:DF:42:2F:49:3B:94:04:99:9F:63:7E:5E:53:00:35:6C:B9:35:23:9B:" \
  "F7:EA:2F:8C:09:E9"
#define OTHER_FINGERPRINT \
  "sha-256 11:DB:F2:F2:92:72:DF:42:2F:49:3B:94:04:99:9F:63:7E:5E:53:00:35:6C:B9:35:23:9B:" \
  "F7:EA:2F:8C:09:E9"
#define OFFER_TEMPLATE \
  "v=0\r\n" \
  "o=- 5522140479113713420 0 IN IP4 0.0.0.0\r\n" \
  "s=-\r\n" \
  "t=0 0\r\n" \
  "a=ice-options:trickle\r\n" \
  "a=group:BUNDLE video0 audio1\r\n" \
  "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" \
  "c=IN IP4 0.0.0.0\r\n" \
  "a=setup:actpass\r\n" \
  "a=ice-ufrag:@UFRAG@\r\n" \
  "a=ice-pwd:qGr2kTua689hPg9UxZksyiUYmqn7dQVz\r\n" \
  "a=rtcp-mux\r\n" \
  "a=rtcp-rsize\r\n" \
  "a=@VIDEO_DIR@\r\n" \
  "a=rtpmap:96 VP8/90000\r\n" \
  "a=rtcp-fb:96 nack\r\n" \
  "a=rtcp-fb:96 nack pli\r\n" \
  "a=rtcp-fb:96 ccm fir\r\n" \
  "a=framerate:30\r\n" \
  "a=mid:video0\r\n" \
  "a=fingerprint:" FINGERPRINT "\r\n" \
  "a=rtcp-mux-only\r\n" \
  "m=audio 0 UDP/TLS/RTP/SAVPF 111\r\n" \
  "c=IN IP4 0.0.0.0\r\n" \
  "a=setup:actpass\r\n" \
  "a=ice-ufrag:@UFRAG@\r\n" \
  "a=ice-pwd:qGr2kTua689hPg9UxZksyiUYmqn7dQVz\r\n" \
  "a=bundle-only\r\n" \
  "a=rtcp-mux\r\n" \
  "a=rtcp-rsize\r\n" \
  "a=recvonly\r\n" \
  "a=rtpmap:111 OPUS/48000/2\r\n" \
  "a=fmtp:111 sprop-stereo=0;sprop-maxcapturerate=48000\r\n" \
  "a=mid:audio1\r\n" \
  "a=fingerprint:" FINGERPRINT "\r\n" \
  "a=rtcp-mux-only\r\n"

/* The offer with @ufrag and the video m-line's @video_dir.
 * Returns: (transfer full) */
static char *
offer_text (const char *ufrag, const char *video_dir)
{
  GString *s = g_string_new (OFFER_TEMPLATE);

  g_string_replace (s, "@UFRAG@", ufrag, 0);
  g_string_replace (s, "@VIDEO_DIR@", video_dir, 0);
  return g_string_free (s, FALSE);
}

/* @sdp without its lines that start with @prefix.  Returns: (transfer full) */
static char *
without_lines (const char *sdp, const char *prefix)
{
  g_auto (GStrv) lines = g_strsplit (sdp, "\r\n", -1);
  GString *out = g_string_new (NULL);

  for (guint i = 0; lines[i] != NULL; i++)
    if (*lines[i] != '\0' && !g_str_has_prefix (lines[i], prefix))
      g_string_append_printf (out, "%s\r\n", lines[i]);
  return g_string_free (out, FALSE);
}

/* @sdp with the first @from replaced by @to.  Returns: (transfer full) */
static char *
replaced (const char *sdp, const char *from, const char *to)
{
  GString *s = g_string_new (sdp);

  g_assert_cmpuint (g_string_replace (s, from, to, 1), ==, 1);
  return g_string_free (s, FALSE);
}

/* ---- a participant driven from here ------------------------------------- */

typedef struct {
  MmJoined j;
  gint64 seq;
  guint ice_events;        /* "ice" events read: an ICE-lite server sends none */
} Client;

static void
client_join (Client *c, const char *code, const char *name)
{
  memset (c, 0, sizeof *c);
  mm_test_join (&h, code, NULL, name, &c->j);
}

/* Leave the room (the last one out closes its media, which would
 * otherwise keep encoding until the presence timeout) and free. */
static void
client_clear (Client *c)
{
  g_auto (MmResponse) r = { 0 };

  mm_http (&h, "POST", c->j.leave, c->j.secret, NULL, &r);
  g_assert_cmpint (r.status / 100, ==, 2);
  g_assert_cmpuint (c->ice_events, ==, 0);
  mm_joined_clear (&c->j);
}

static void
post_offer (Client *c, const char *sdp, MmResponse *r)
{
  g_autoptr (JsonObject) o = json_object_new ();
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *body = NULL;

  json_object_set_string_member (o, "type", "offer");
  json_object_set_string_member (o, "sdp", sdp);
  json_node_set_object (node, o);
  body = json_to_string (node, FALSE);
  mm_http (&h, "POST", c->j.messages, c->j.secret, body, r);
}

/* Read events until one of type @a or @b (nullable) arrives or
 * @timeout_s passes.  Returns that event (transfer full) or NULL. */
static JsonObject *
wait_event (Client *c, const char *a, const char *b, guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline)
    {
      g_auto (MmResponse) r = { 0 };
      g_autofree char *path = g_strdup_printf ("%s?since=%" G_GINT64_FORMAT "&timeout=1",
                                               c->j.events, c->seq);
      JsonNode *events;
      JsonArray *arr;

      mm_http (&h, "GET", path, c->j.secret, NULL, &r);
      g_assert_cmpint (r.status, ==, 200);
      events = mm_json_at (&r, "events");
      g_assert_nonnull (events);
      arr = json_node_get_array (events);
      for (guint i = 0; i < json_array_get_length (arr); i++)
        {
          JsonObject *ev = json_array_get_object_element (arr, i);
          const char *type = json_object_get_string_member (ev, "type");

          c->seq = json_object_get_int_member (ev, "seq");
          if (g_strcmp0 (type, "ice") == 0)
            c->ice_events++;
          if (g_strcmp0 (type, a) == 0 || (b != NULL && g_strcmp0 (type, b) == 0))
            return json_object_ref (ev);
        }
    }
  return NULL;
}

/* The offer is taken (202) and answered: an "answer" event, not
 * "media-failed".  Returns: (transfer full) the answer's SDP. */
static char *
answered (Client *c, const char *sdp)
{
  g_auto (MmResponse) r = { 0 };
  g_autoptr (JsonObject) ev = NULL;

  post_offer (c, sdp, &r);
  g_assert_cmpint (r.status, ==, 202);
  ev = wait_event (c, "answer", "media-failed", 30);
  g_assert_nonnull (ev);
  if (g_strcmp0 (json_object_get_string_member (ev, "type"), "answer") != 0)
    g_error ("media-failed instead of an answer: %s",
             json_object_get_string_member (ev, "reason"));
  g_assert_nonnull (strstr (json_object_get_string_member (ev, "sdp"), "m=video"));
  return g_strdup (json_object_get_string_member (ev, "sdp"));
}

static void
assert_answered (Client *c, const char *sdp)
{
  g_free (answered (c, sdp));
}

/* The lines of @sdp that start with @prefix, without it.
 * Returns: (transfer full) */
static GStrv
lines_with (const char *sdp, const char *prefix)
{
  g_auto (GStrv) lines = g_strsplit (sdp, "\r\n", -1);
  GPtrArray *out = g_ptr_array_new ();

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], prefix))
      g_ptr_array_add (out, g_strdup (lines[i] + strlen (prefix)));
  g_ptr_array_add (out, NULL);
  return (GStrv) g_ptr_array_free (out, FALSE);
}

/* The m-section of @sdp that starts with "m=@kind" (up to the next m=
 * line), or NULL.  Returns: (transfer full) */
static char *
section (const char *sdp, const char *kind)
{
  g_autofree char *start = g_strdup_printf ("\r\nm=%s ", kind);
  const char *from = strstr (sdp, start);
  const char *to;

  if (from == NULL)
    return NULL;
  from += 2;
  to = strstr (from, "\r\nm=");
  return to != NULL ? g_strndup (from, to - from + 2) : g_strdup (from);
}

static char *
new_room (void)
{
  g_autofree char *token = mm_test_register (&h, "Negotiation host", NULL);

  return mm_test_room (&h, token, "{\"title\":\"Negotiation test\"}");
}

/* Restart mixmeetd with @media_config (nullable) in its [media] group in
 * place of the harness's ice-addresses=127.0.0.1. */
static void
restart_server (const char *media_config)
{
  g_autofree char *text = g_strdup_printf ("%s\n[media]\n%s\n", base_config,
                                           media_config ? media_config : "");
  g_autoptr (GError) error = NULL;

  mm_harness_stop_server (&h);
  if (!g_file_set_contents (h.config, text, -1, &error))
    g_error ("%s", error->message);
  mm_harness_start_server (&h);
}

/* ---- 1. what the server cannot serve is refused at once, with a reason --- */

static void
assert_refused (Client *c, const char *sdp, const char *words)
{
  g_auto (MmResponse) r = { 0 };
  const char *message;

  post_offer (c, sdp, &r);
  g_assert_cmpint (r.status, ==, 400);
  message = mm_json_str (&r, "error.message");
  g_assert_nonnull (message);
  if (strstr (message, words) == NULL)
    g_error ("expected \"%s\" in the error, got: %s", words, message);
}

/* One offer per reason of the SDP parser's (src/transport/sdp.c).  An
 * m-line without a=mid whose mid the BUNDLE group still names is refused
 * for the group's unknown mid (the group is read first), which is also
 * what a group naming a mid no m-line has gets: one case of it; the
 * m-line without a=mid outside any group is the other reason. */
static void
test_checked_offers (void)
{
  g_autofree char *code = new_room ();
  g_autofree char *good = offer_text ("checkedUfragAAAA", "recvonly");
  g_autofree char *no_fp = without_lines (good, "a=fingerprint:");
  g_autofree char *other_fp = replaced (good, "a=fingerprint:" FINGERPRINT "\r\na=rtcp-mux-only\r\n"
                                        "m=audio",
                                        "a=fingerprint:" OTHER_FINGERPRINT "\r\na=rtcp-mux-only\r\n"
                                        "m=audio");
  g_autofree char *no_mid = without_lines (good, "a=mid:audio1");
  g_autofree char *no_mid_ungrouped = replaced (no_mid, "BUNDLE video0 audio1", "BUNDLE video0");
  g_autofree char *no_pwd = without_lines (good, "a=ice-pwd:");
  g_autofree char *no_setup = without_lines (good, "a=setup:");
  g_autofree char *k_line = replaced (good, "t=0 0\r\n", "t=0 0\r\nk=clear:secret\r\n");
  Client c;

  client_join (&c, code, "checked");
  assert_refused (&c, no_fp, "fingerprint");
  assert_refused (&c, other_fp, "fingerprint of m-line 1");
  assert_refused (&c, no_mid, "BUNDLE group names mid audio1");
  assert_refused (&c, no_mid_ungrouped, "m-line 1 has no a=mid");
  assert_refused (&c, no_pwd, "ICE credentials");
  assert_refused (&c, no_setup, "a=setup");
  assert_refused (&c, k_line, "k=");
  /* None of them left anything behind: the good offer is answered. */
  assert_answered (&c, good);
  /* With the room's media running (checked on the way in as well). */
  assert_refused (&c, no_fp, "fingerprint");
  assert_refused (&c, no_mid, "BUNDLE group names mid audio1");
  client_clear (&c);
}

/* ---- 2. valid SDP in its less common forms ---------------------------------- */

/* A fingerprint at session level and on the m-lines, an a=setup at
 * session level only, and m-lines of the BUNDLE group with ICE
 * credentials of their own (RFC 8843: the first m-line's stand for the
 * group).  (webrtcbin 1.22 refused all three; the server kept them as
 * regression cases.) */
static void
test_rewritten_offers (void)
{
  g_autofree char *code = new_room ();
  g_autofree char *good = offer_text ("rewrittenUfragAA", "recvonly");
  g_autofree char *both_fp = replaced (good, "a=ice-options:trickle\r\n",
                                       "a=ice-options:trickle\r\n"
                                       "a=fingerprint:" FINGERPRINT "\r\n");
  g_autofree char *no_media_setup = without_lines (good, "a=setup:");
  g_autofree char *session_setup = replaced (no_media_setup, "a=ice-options:trickle\r\n",
                                             "a=ice-options:trickle\r\na=setup:actpass\r\n");
  g_autofree char *own_ice = NULL;
  Client c1, c2, c3;

  {
    g_autofree char *a = replaced (good, "a=ice-ufrag:rewrittenUfragAA\r\n"
                                   "a=ice-pwd:qGr2kTua689hPg9UxZksyiUYmqn7dQVz\r\na=bundle-only",
                                   "a=ice-ufrag:audioOwnUfragBBB\r\n"
                                   "a=ice-pwd:audioOwnPasswordBBBBBBBBBBBB\r\na=bundle-only");
    own_ice = g_steal_pointer (&a);
  }
  client_join (&c1, code, "both fingerprints");
  assert_answered (&c1, both_fp);
  client_join (&c2, code, "session setup");
  assert_answered (&c2, session_setup);
  client_join (&c3, code, "own ICE");
  assert_answered (&c3, own_ice);
  client_clear (&c1);
  client_clear (&c2);
  client_clear (&c3);
}

/* ---- 3. re-offers on the same connection -------------------------------- */

/* A receive-only client that re-offers on the same connection (the same
 * ICE credentials) with its video m-line turned sendrecv, as a browser
 * does when it adds a track to a receive-only transceiver: the answer's
 * video m-line is a=sendrecv (the composite goes on going out, the
 * camera comes in).  webrtcbin 1.22 could not change a transceiver's
 * direction and failed with "media-failed"; the transport has no such
 * limit. */
static void
test_reoffer_direction (void)
{
  g_autofree char *code = new_room ();
  g_autofree char *first = offer_text ("reofferUfragAAAA", "recvonly");
  g_autofree char *turned = offer_text ("reofferUfragAAAA", "sendrecv");
  g_autofree char *answer1 = NULL;
  g_autofree char *answer2 = NULL;
  g_autofree char *video1 = NULL;
  g_autofree char *video2 = NULL;
  Client c;

  client_join (&c, code, "re-offers");
  answer1 = answered (&c, first);
  video1 = section (answer1, "video");
  g_assert_nonnull (video1);
  g_assert_nonnull (strstr (video1, "\r\na=sendonly\r\n"));
  answer2 = answered (&c, turned);
  video2 = section (answer2, "video");
  g_assert_nonnull (video2);
  if (strstr (video2, "\r\na=sendrecv\r\n") == NULL)
    g_error ("the answer's video m-line is not a=sendrecv:\n%s", video2);
  client_clear (&c);
}

/* A re-offer that drops an m-line of the connection: JSEP keeps every
 * m-line (one no longer used is rejected with port 0), so the server
 * refuses it at once (400), saying how many there must be, and the next
 * offer that keeps them is answered.  (webrtcbin took the offer and
 * failed later with "media-failed".) */
static void
test_reoffer_mlines (void)
{
  g_autofree char *code = new_room ();
  g_autofree char *two = offer_text ("mlinesUfragAAAAA", "recvonly");
  g_autofree char *three = NULL;
  g_autofree char *three_unused = NULL;
  g_auto (MmResponse) r = { 0 };
  const char *message;
  Client c;

  {
    g_autofree char *grouped = replaced (two, "BUNDLE video0 audio1",
                                         "BUNDLE video0 audio1 video2");

    three = g_strconcat (grouped,
                         "m=video 0 UDP/TLS/RTP/SAVPF 96\r\n"
                         "c=IN IP4 0.0.0.0\r\n"
                         "a=setup:actpass\r\n"
                         "a=ice-ufrag:mlinesUfragAAAAA\r\n"
                         "a=ice-pwd:qGr2kTua689hPg9UxZksyiUYmqn7dQVz\r\n"
                         "a=bundle-only\r\n"
                         "a=rtcp-mux\r\n"
                         "a=sendonly\r\n"
                         "a=rtpmap:96 VP8/90000\r\n"
                         "a=mid:video2\r\n"
                         "a=fingerprint:" FINGERPRINT "\r\n"
                         "a=rtcp-mux-only\r\n", NULL);
  }
  /* The third m-line no longer used: inactive (still bundled). */
  three_unused = replaced (three, "a=sendonly\r\na=rtpmap:96 VP8/90000\r\na=mid:video2",
                           "a=inactive\r\na=rtpmap:96 VP8/90000\r\na=mid:video2");
  client_join (&c, code, "drops an m-line");
  assert_answered (&c, three);
  post_offer (&c, two, &r);
  g_assert_cmpint (r.status, ==, 400);
  message = mm_json_str (&r, "error.message");
  g_assert_nonnull (message);
  g_test_message ("refused: %s", message);
  g_assert_nonnull (strstr (message, "must keep every m-line"));
  g_assert_nonnull (strstr (message, "(3)"));
  g_assert_nonnull (strstr (message, "it has 2"));
  assert_answered (&c, three_unused);
  client_clear (&c);
}

/* ---- 4. a real client with per-m-line ICE credentials ------------------- */

typedef struct {
  const char *names[2];
  int rgb[2][3];
  double hear;
} Expect;

/* Frames coming (no rate asserted: the machine may be busy), the colours
 * in their cells, and the tone heard when one is expected. */
static gboolean
sees (JsonObject *line, gpointer data)
{
  const Expect *e = data;

  if (mm_bot_fps (line) < 5)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (e->names) && e->names[i] != NULL; i++)
    {
      int rgb[3];

      if (!mm_bot_cell (line, e->names[i], rgb)
          || !mm_rgb_near (rgb, e->rgb[i][0], e->rgb[i][1], e->rgb[i][2], 60))
        return FALSE;
    }
  return e->hear <= 0 || isfinite (mm_bot_peak_db (line, e->hear));
}

#define RED { 255, 0, 0 }
#define BLUE { 0, 0, 255 }

/* mixmeet-bot --offer-per-mline-ice sends its audio m-line with ICE
 * credentials of its own, as aiortc does: the server bundles on the first
 * m-line's and media flows both ways. */
static void
test_per_mline_ice (void)
{
  g_autofree char *code = new_room ();
  const char *red_args[] = { "--name", "red", "--color", "ff0000", "--tone", "440",
                             "--offer-per-mline-ice", NULL };
  const char *blue_args[] = { "--name", "blue", "--color", "0000ff", "--tone", "880", NULL };
  MmBot *red = mm_bot_start (&h, code, red_args);
  MmBot *blue = mm_bot_start (&h, code, blue_args);
  Expect for_red = { { "red", "blue" }, { RED, BLUE }, 880 };
  Expect for_blue = { { "red", "blue" }, { RED, BLUE }, 440 };

  g_assert_nonnull (mm_bot_wait (red, sees, &for_red, 60));
  g_assert_nonnull (mm_bot_wait (blue, sees, &for_blue, 30));
  mm_bot_free (red);
  mm_bot_free (blue);
}

/* ---- ICE addresses ------------------------------------------------------- */

/* An IPv4 address of this machine other than loopback, or NULL.
 * Returns: (transfer full) */
static char *
other_local_address (void)
{
  struct ifaddrs *ifs = NULL;
  char *found = NULL;

  if (getifaddrs (&ifs) != 0)
    return NULL;
  for (struct ifaddrs *i = ifs; i != NULL && found == NULL; i = i->ifa_next)
    if (i->ifa_addr != NULL && i->ifa_addr->sa_family == AF_INET && (i->ifa_flags & IFF_UP)
        && !(i->ifa_flags & IFF_LOOPBACK))
      {
        char text[INET_ADDRSTRLEN];

        if (inet_ntop (AF_INET, &((struct sockaddr_in *) i->ifa_addr)->sin_addr, text,
                       sizeof text) != NULL)
          found = g_strdup (text);
      }
  freeifaddrs (ifs);
  return found;
}

/* The answer's candidates: one host candidate per announced address,
 * each "candidate:F 1 udp PRIO ADDR PORT typ host" in every accepted
 * m-line (a=end-of-candidates after them).  Returns: (transfer full) */
static GStrv
answer_candidates (const char *answer)
{
  g_autofree char *video = section (answer, "video");
  g_auto (GStrv) all = lines_with (answer, "a=candidate:");
  g_auto (GStrv) in_video = NULL;

  g_assert_nonnull (video);
  in_video = lines_with (video, "a=candidate:");
  g_assert_cmpuint (g_strv_length (in_video), >=, 1);
  for (guint i = 0; all[i] != NULL; i++)
    {
      g_auto (GStrv) f = g_strsplit (all[i], " ", -1);

      g_test_message ("candidate: %s", all[i]);
      g_assert_cmpuint (g_strv_length (f), ==, 8);
      g_assert_cmpstr (f[2], ==, "udp");
      g_assert_cmpstr (f[6], ==, "typ");
      g_assert_cmpstr (f[7], ==, "host");
    }
  return g_steal_pointer (&in_video);
}

/* Does every candidate carry @addr? */
static gboolean
candidates_all (GStrv candidates, const char *addr)
{
  for (guint i = 0; candidates[i] != NULL; i++)
    {
      g_auto (GStrv) f = g_strsplit (candidates[i], " ", -1);

      if (g_strcmp0 (f[4], addr) != 0)
        return FALSE;
    }
  return candidates[0] != NULL;
}

/* The port of every candidate in @candidates, which must be one. */
static guint
candidates_port (GStrv candidates)
{
  guint port = 0;

  for (guint i = 0; candidates[i] != NULL; i++)
    {
      g_auto (GStrv) f = g_strsplit (candidates[i], " ", -1);
      guint p = (guint) g_ascii_strtoull (f[5], NULL, 10);

      g_assert_cmpuint (p, >, 0);
      if (port != 0)
        g_assert_cmpuint (p, ==, port);
      port = p;
    }
  return port;
}

/* 5. With [media] address and ice-addresses empty and the HTTP server on
 * 127.0.0.1, the media socket is bound to every address (clients reach it
 * from the network even when HTTP is behind a proxy): the answer announces
 * loopback among the interfaces' addresses, all on one port, and a client
 * on this machine that gathers on 127.0.0.1 only connects.  (A browser on
 * the same machine checks from its LAN address: that works too, replies
 * leave from the address checked.) */
static void
test_loopback_default (void)
{
  g_autofree char *code = NULL;
  g_autofree char *sdp = offer_text ("loopbackUfragAAA", "recvonly");
  g_autofree char *answer = NULL;
  g_auto (GStrv) candidates = NULL;
  const char *args[] = { "--name", "red", "--color", "ff0000", "--tone", "440",
                         "--ice-address", "127.0.0.1", NULL };
  Expect own = { { "red" }, { RED }, 0 };
  MmBot *red;
  Client c;

  restart_server ("ice-addresses=");
  code = new_room ();
  client_join (&c, code, "watcher");
  answer = answered (&c, sdp);
  candidates = answer_candidates (answer);
  g_assert_cmpuint (g_strv_length (candidates), >=, 1);
  {
    gboolean loopback = FALSE;

    for (guint i = 0; candidates[i] != NULL; i++)
      {
        g_auto (GStrv) f = g_strsplit (candidates[i], " ", -1);

        loopback = loopback || (g_strv_length (f) > 5 && g_str_equal (f[4], "127.0.0.1"));
      }
    g_assert_true (loopback);
  }
  red = mm_bot_start (&h, code, args);
  g_assert_nonnull (mm_bot_wait (red, sees, &own, 60));
  mm_bot_free (red);
  client_clear (&c);
}

/* 6. public-ip: the server binds 127.0.0.1 and announces another address
 * of this machine: every candidate of the answer carries it, never
 * 127.0.0.1.  No client connects there: nothing listens at that address
 * (the socket is bound to loopback, no NAT maps it back).  (With
 * webrtcbin a bot still connected, through the peer-reflexive candidate
 * the server's own checks revealed; an ICE-lite server sends no checks,
 * so only the announced address can reach it, as across a 1:1 NAT.)
 * Then the server binds 0.0.0.0 with the same public-ip, and a bot that
 * gathers on 127.0.0.1 only checks that address: it connects and sees
 * its colour, since every reply leaves from the address it sent to (the
 * route to 127.0.0.1 would pick 127.0.0.1, whose answers it discards). */
static void
test_public_ip (void)
{
  g_autofree char *addr = other_local_address ();
  g_autofree char *config = NULL;
  g_autofree char *code = NULL;
  g_autofree char *sdp = offer_text ("publicIpUfragAAA", "recvonly");
  g_autofree char *answer = NULL;
  g_auto (GStrv) candidates = NULL;
  const char *args[] = { "--name", "red", "--color", "ff0000", "--tone", "440",
                         "--ice-address", "127.0.0.1", NULL };
  Expect own = { { "red" }, { RED }, 0 };
  MmBot *red;
  Client c;

  if (addr == NULL)
    {
      g_test_skip ("this machine has no IPv4 address but loopback");
      return;
    }
  config = g_strdup_printf ("ice-addresses=127.0.0.1\npublic-ip=%s", addr);
  restart_server (config);
  code = new_room ();
  client_join (&c, code, "watcher");
  answer = answered (&c, sdp);
  candidates = answer_candidates (answer);
  g_assert_true (candidates_all (candidates, addr));
  g_assert_null (strstr (answer, " 127.0.0.1 "));
  client_clear (&c);

  g_clear_pointer (&config, g_free);
  g_clear_pointer (&code, g_free);
  config = g_strdup_printf ("address=0.0.0.0\npublic-ip=%s", addr);
  restart_server (config);
  code = new_room ();
  red = mm_bot_start (&h, code, args);
  g_assert_nonnull (mm_bot_wait (red, sees, &own, 60));
  mm_bot_free (red);
}

/* A UDP port on 127.0.0.1 that was free a moment ago. */
static guint16
free_udp_port (void)
{
  struct sockaddr_in sin = { 0 };
  socklen_t len = sizeof sin;
  int fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &sin, &len), ==, 0);
  close (fd);
  return ntohs (sin.sin_port);
}

/* The answer of an ICE-lite server (RFC 8445 2.5, RFC 8839): a=ice-lite
 * at session level, one BUNDLE group, a=setup:passive to an actpass
 * offer and a=setup:active to a passive one, a SHA-256 fingerprint, every
 * candidate and a=end-of-candidates in it (no "ice" events follow), all
 * on the server's one media port: the same for every client, and the
 * [media] port set. */
static void
assert_answer_shape (const char *answer, const char *setup, guint *port)
{
  g_autofree char *session = g_strndup (answer, strstr (answer, "\r\nm=") - answer + 2);
  g_auto (GStrv) groups = lines_with (answer, "a=group:");
  g_auto (GStrv) setups = lines_with (answer, "a=setup:");
  g_auto (GStrv) fingerprints = lines_with (answer, "a=fingerprint:");
  g_auto (GStrv) candidates = answer_candidates (answer);
  g_autofree char *video = section (answer, "video");
  g_autofree char *audio = section (answer, "audio");

  g_assert_nonnull (strstr (session, "\r\na=ice-lite\r\n"));
  g_assert_cmpuint (g_strv_length (groups), ==, 1);
  g_assert_true (g_str_has_prefix (groups[0], "BUNDLE "));
  g_assert_nonnull (strstr (groups[0], "video0"));
  g_assert_cmpuint (g_strv_length (setups), >=, 1);
  for (guint i = 0; setups[i] != NULL; i++)
    g_assert_cmpstr (setups[i], ==, setup);
  g_assert_cmpuint (g_strv_length (fingerprints), >=, 1);
  for (guint i = 0; fingerprints[i] != NULL; i++)
    {
      g_assert_true (g_str_has_prefix (fingerprints[i], "sha-256 "));
      g_assert_cmpuint (strlen (fingerprints[i]), ==, strlen ("sha-256 ") + 32 * 3 - 1);
    }
  for (const char *m = video; m != NULL; m = m == video ? audio : NULL)
    if (strstr (m, " 0 UDP/") == NULL)   /* accepted */
      g_assert_nonnull (strstr (m, "\r\na=end-of-candidates\r\n"));
  *port = candidates_port (candidates);
}

static void
test_answer_shape (void)
{
  g_autofree char *code = NULL;
  g_autofree char *code2 = NULL;
  g_autofree char *actpass = offer_text ("shapeUfragAAAAAA", "recvonly");
  g_autofree char *passive = NULL;
  g_autofree char *config = NULL;
  guint16 fixed = free_udp_port ();
  guint port1, port2, port3;
  Client c1, c2, c3;

  {
    g_autofree char *text = offer_text ("shapeUfragBBBBBB", "recvonly");
    GString *s = g_string_new (text);

    g_string_replace (s, "a=setup:actpass", "a=setup:passive", 0);
    passive = g_string_free (s, FALSE);
  }
  restart_server ("ice-addresses=127.0.0.1");
  code = new_room ();
  client_join (&c1, code, "actpass");
  {
    g_autofree char *a = answered (&c1, actpass);

    assert_answer_shape (a, "passive", &port1);
  }
  client_join (&c2, code, "passive");
  {
    g_autofree char *a = answered (&c2, passive);

    assert_answer_shape (a, "active", &port2);
  }
  /* [media] port=0 (the harness's) picked one port, the same for both. */
  g_assert_cmpuint (port1, ==, port2);
  /* No "ice" events came after the answers. */
  g_assert_null (wait_event (&c1, "ice", NULL, 2));
  client_clear (&c1);
  client_clear (&c2);

  /* The port set is the port announced. */
  g_test_message ("[media] port=%u", fixed);
  config = g_strdup_printf ("ice-addresses=127.0.0.1\nport=%u", fixed);
  restart_server (config);
  code2 = new_room ();
  client_join (&c3, code2, "fixed port");
  {
    g_autofree char *a = answered (&c3, actpass);

    assert_answer_shape (a, "passive", &port3);
  }
  g_assert_cmpuint (port3, ==, fixed);
  client_clear (&c3);
}

/* ---- 7. settings that are not addresses stop the server at once ---------- */

static void
assert_refuses_to_start (const char *media_config, const char *words)
{
  g_autofree char *path = g_build_filename (h.dir, "bad.conf", NULL);
  g_autofree char *text = g_strdup_printf ("%s\n[media]\n%s\n", base_config, media_config);
  const char *bin = g_getenv ("MM_TEST_MIXMEETD") ? g_getenv ("MM_TEST_MIXMEETD") : "./mixmeetd";
  const char *argv[] = { bin, "--config", path, NULL };
  g_autofree char *err = NULL;
  g_autoptr (GError) error = NULL;
  int status = 0;

  if (!g_file_set_contents (path, text, -1, &error))
    g_error ("%s", error->message);
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                     &err, &status, &error))
    g_error ("cannot start %s: %s", bin, error->message);
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  if (strstr (err, words) == NULL)
    g_error ("expected \"%s\" in what mixmeetd said, got: %s", words, err);
}

static void
test_bad_settings (void)
{
  assert_refuses_to_start ("public-ip=my.public.host", "public-ip: my.public.host");
  assert_refuses_to_start ("ice-addresses=127.0.0.1, eth0", "ice-addresses: eth0");
}

int
main (int argc, char **argv)
{
  g_autofree char *text = NULL;
  GString *s;
  int rc;

  g_test_init (&argc, &argv, NULL);
  mm_harness_start (&h, "[signalling]\nlong-poll-timeout=2\npresence-timeout=20\n");
  if (!g_file_get_contents (h.config, &text, NULL, NULL))
    g_error ("cannot read %s", h.config);
  s = g_string_new (text);
  g_string_replace (s, "ice-addresses=127.0.0.1\n", "", 0);
  base_config = g_string_free (s, FALSE);
  g_test_add_func ("/negotiation/checked-offers", test_checked_offers);
  g_test_add_func ("/negotiation/rewritten-offers", test_rewritten_offers);
  g_test_add_func ("/negotiation/reoffer-direction", test_reoffer_direction);
  g_test_add_func ("/negotiation/reoffer-mlines", test_reoffer_mlines);
  g_test_add_func ("/negotiation/per-mline-ice", test_per_mline_ice);
  g_test_add_func ("/negotiation/loopback-default", test_loopback_default);
  g_test_add_func ("/negotiation/public-ip", test_public_ip);
  g_test_add_func ("/negotiation/answer-shape", test_answer_shape);
  g_test_add_func ("/negotiation/bad-settings", test_bad_settings);
  rc = g_test_run ();
  g_free (base_config);
  mm_harness_stop (&h);
  return rc;
}
