/* test-turn.c — TURN for clients: the join answer's ice_servers carry
 * credentials made as coturn's use-auth-secret expects, and a real coturn
 * (Debian's coturn, on loopback ports, with a TLS listener) relays the
 * web client's media in Chromium told to use relays only
 * (tests/browser/turn.mjs), while a mixmeet-bot publishes into the room.
 * coturn refuses a wrong password and an expired username. */
#include "config.h"

#include "bots.h"
#include "harness.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET "turn-test-secret-4f1c"
#define TTL 600

static MmHarness h;

static struct {
  GPid pid;
  guint16 port, tls_port, alt_port, alt_tls_port, relay_min;
  char *dir;
} turn;

/* ---- coturn ------------------------------------------------------------ */

static gboolean
port_free (int type, guint16 port)
{
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons (port) };
  int fd = socket (AF_INET, type, 0);
  gboolean ok;

  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  ok = fd >= 0 && bind (fd, (struct sockaddr *) &a, sizeof a) == 0;
  if (fd >= 0)
    close (fd);
  return ok;
}

/* A port free for both TCP and UDP, not one of @taken. */
static guint16
pick_port (const guint16 *taken, guint n)
{
  for (;;)
    {
      guint16 p = (guint16) g_random_int_range (20000, 45000);
      gboolean clash = FALSE;

      for (guint i = 0; i < n; i++)
        clash |= taken[i] == p;
      if (!clash && port_free (SOCK_STREAM, p) && port_free (SOCK_DGRAM, p))
        return p;
    }
}

static void
pick_ports (void)
{
  guint16 taken[4] = { 0 };

  turn.port = taken[0] = pick_port (taken, 0);
  turn.tls_port = taken[1] = pick_port (taken, 1);
  turn.alt_port = taken[2] = pick_port (taken, 2);
  turn.alt_tls_port = taken[3] = pick_port (taken, 3);
  turn.relay_min = (guint16) (46000 + 200 * g_random_int_range (0, 40));
}

static void
coturn_start (void)
{
  g_autofree char *cert = NULL;
  g_autofree char *key = NULL;
  g_autofree char *conf = NULL;
  g_autofree char *text = NULL;
  g_autofree char *log = NULL;

  turn.dir = g_build_filename (h.dir, "turn", NULL);
  g_mkdir_with_parents (turn.dir, 0755);
  cert = g_build_filename (turn.dir, "cert.pem", NULL);
  key = g_build_filename (turn.dir, "key.pem", NULL);
  mm_test_make_certificate (cert, key);
  /* Loopback only; loopback peers allowed (mixmeetd is on 127.0.0.1);
   * multicast peers are not refused (no-multicast-peers is not set). */
  text = g_strdup_printf ("listening-ip=127.0.0.1\nrelay-ip=127.0.0.1\n"
                          "listening-port=%u\ntls-listening-port=%u\n"
                          "alt-listening-port=%u\nalt-tls-listening-port=%u\n"
                          "min-port=%u\nmax-port=%u\n"
                          "realm=mixmeet.test\nuse-auth-secret\nstatic-auth-secret=" SECRET "\n"
                          "cert=%s\npkey=%s\n"
                          "allow-loopback-peers\nno-cli\nfingerprint\n"
                          "userdb=%s/turndb\npidfile=%s/turnserver.pid\n"
                          "log-file=stdout\nsimple-log\nverbose\n",
                          turn.port, turn.tls_port, turn.alt_port, turn.alt_tls_port,
                          turn.relay_min, turn.relay_min + 199, cert, key, turn.dir, turn.dir);
  conf = g_build_filename (turn.dir, "turnserver.conf", NULL);
  g_assert_true (g_file_set_contents (conf, text, -1, NULL));
  log = g_build_filename (turn.dir, "turnserver.log", NULL);
  {
    const char *argv[] = { "turnserver", "-c", conf, NULL };

    turn.pid = mm_test_spawn_logged (argv, log, "coturn");
  }
  mm_test_wait_tcp (turn.port, 10, "coturn", log);
  mm_test_wait_tcp (turn.tls_port, 10, "coturn", log);
}

static void (*bots_abort_hook) (void);

static void
kill_coturn_on_abort (void)
{
  if (turn.pid > 0)
    kill (turn.pid, SIGKILL);
  if (bots_abort_hook != NULL)
    bots_abort_hook ();
}

/* ---- credentials --------------------------------------------------------- */

/* base64(HMAC-SHA1(secret, username)) with OpenSSL: computed here on its
 * own, not with the server's code. */
static char *
expected_credential (const char *username)
{
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;

  g_assert_nonnull (HMAC (EVP_sha1 (), SECRET, (int) strlen (SECRET),
                          (const unsigned char *) username, strlen (username), digest, &len));
  g_assert_cmpuint (len, ==, 20);
  return g_base64_encode (digest, len);
}

/* The TURN entry of the join answer's ice_servers (transfer none). */
static JsonObject *
turn_server_of (MmResponse *join)
{
  JsonNode *n = mm_json_at (join, "media.ice_servers");
  JsonArray *servers;

  if (n == NULL)
    n = mm_json_at (join, "ice_servers");
  servers = json_node_get_array (n);

  for (guint i = 0; i < json_array_get_length (servers); i++)
    {
      JsonObject *s = json_array_get_object_element (servers, i);

      if (json_object_has_member (s, "username"))
        return s;
    }
  return NULL;
}

static char *
uris (void)
{
  return g_strdup_printf ("turn:127.0.0.1:%u?transport=udp,turn:127.0.0.1:%u?transport=tcp,"
                          "turns:127.0.0.1:%u?transport=tcp",
                          turn.port, turn.port, turn.tls_port);
}

/* The join answer: one RTCIceServer with every configured URI, a username
 * "EXPIRY:PARTICIPANT" that expires turn-ttl from now, and the HMAC. */
static void
test_credentials (void)
{
  g_autofree char *token = mm_test_register (&h, "Host", NULL);
  g_autofree char *code = mm_test_room (&h, token, NULL);
  g_autofree char *path = g_strdup_printf ("/api/v1/rooms/%s/join", code);
  g_autofree char *want_uris = uris ();
  g_auto (GStrv) want = g_strsplit (want_uris, ",", -1);
  g_autofree char *expected = NULL;
  g_auto (MmResponse) r = { 0 };
  g_auto (MmResponse) r2 = { 0 };
  g_auto (MmResponse) fresh = { 0 };
  g_auto (MmResponse) stranger = { 0 };
  g_auto (MmResponse) nobody = { 0 };
  JsonObject *s, *s2;
  JsonArray *urls;
  const char *username, *colon;
  gint64 expiry, now = g_get_real_time () / G_USEC_PER_SEC;

  mm_http (&h, "POST", path, NULL, "{\"display_name\":\"Tess\"}", &r);
  g_assert_cmpint (r.status, ==, 201);
  s = turn_server_of (&r);
  g_assert_nonnull (s);
  urls = json_object_get_array_member (s, "urls");
  g_assert_cmpuint (json_array_get_length (urls), ==, g_strv_length (want));
  for (guint i = 0; want[i] != NULL; i++)
    g_assert_cmpstr (json_array_get_string_element (urls, i), ==, want[i]);
  username = json_object_get_string_member (s, "username");
  colon = strchr (username, ':');
  g_assert_nonnull (colon);
  expiry = g_ascii_strtoll (username, NULL, 10);
  g_test_message ("username %s, expires in %" G_GINT64_FORMAT " s", username, expiry - now);
  g_assert_cmpint (expiry, >=, now + TTL - 5);
  g_assert_cmpint (expiry, <=, now + TTL + 5);
  g_assert_cmpstr (colon + 1, ==, mm_json_str (&r, "participant.id"));
  expected = expected_credential (username);
  g_assert_cmpstr (json_object_get_string_member (s, "credential"), ==, expected);
  /* Nothing secret in the username: no token, no secret. */
  g_assert_null (strstr (username, mm_json_str (&r, "secret")));

  /* Everyone gets credentials of their own. */
  mm_http (&h, "POST", path, NULL, "{\"display_name\":\"Theo\"}", &r2);
  g_assert_cmpint (r2.status, ==, 201);
  s2 = turn_server_of (&r2);
  g_assert_cmpstr (json_object_get_string_member (s2, "username"), !=, username);
  g_assert_cmpstr (json_object_get_string_member (s2, "credential"), !=,
                   json_object_get_string_member (s, "credential"));

  /* Fresh ones for a connection that outlives them, to the participant
   * only. */
  {
    const char *url = mm_json_str (&r, "signalling.ice_servers");
    JsonObject *f;
    g_autofree char *fresh_expected = NULL;
    const char *fresh_user;

    g_assert_nonnull (url);
    g_assert_true (g_str_has_suffix (url, "/ice-servers"));
    mm_http (&h, "GET", url, mm_json_str (&r, "secret"), NULL, &fresh);
    g_assert_cmpint (fresh.status, ==, 200);
    f = turn_server_of (&fresh);
    g_assert_nonnull (f);
    fresh_user = json_object_get_string_member (f, "username");
    g_assert_true (g_str_has_suffix (fresh_user, mm_json_str (&r, "participant.id")));
    g_assert_cmpint (g_ascii_strtoll (fresh_user, NULL, 10), >=, expiry);
    fresh_expected = expected_credential (fresh_user);
    g_assert_cmpstr (json_object_get_string_member (f, "credential"), ==, fresh_expected);
    mm_http (&h, "GET", url, mm_json_str (&r2, "secret"), NULL, &stranger);
    g_assert_cmpint (stranger.status, >=, 400);
    g_assert_null (mm_json_at (&stranger, "ice_servers"));
    mm_http (&h, "GET", url, NULL, NULL, &nobody);
    g_assert_cmpint (nobody.status, ==, 401);
  }
}

/* A turn-uris entry that is not a TURN URI, or TURN without a secret,
 * stops start-up with a message naming it. */
static void
test_bad_settings (void)
{
  static const struct {
    const char *uris, *secret, *message;
  } cases[] = {
    { "stun:127.0.0.1:3478", "s", "\"stun:127.0.0.1:3478\" is not a TURN URI" },
    { "turn:127.0.0.1:3478, http://x", "s", "\"http://x\" is not a TURN URI" },
    { "turn:127.0.0.1:3478", "", "turn-uris needs turn-secret" },
  };
  const char *bin = g_getenv ("MM_TEST_MIXMEETD") ? g_getenv ("MM_TEST_MIXMEETD") : "./mixmeetd";

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *u = g_strdup_printf ("--turn-uris=%s", cases[i].uris);
      g_autofree char *sec = g_strdup_printf ("--turn-secret=%s", cases[i].secret);
      const char *argv[] = { bin, "--config", h.config, "--port", "0", u, sec, NULL };
      g_autofree char *err = NULL;
      g_autoptr (GError) error = NULL;
      int status;

      g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                                   NULL, NULL, &err, &status, &error));
      g_test_message ("%s", err);
      g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 2);
      g_assert_nonnull (strstr (err, cases[i].message));
    }
}

static gboolean
two_people (JsonObject *line, gpointer data)
{
  return mm_bot_n_cells (line) >= 2 && mm_bot_fps (line) >= 10;
}

static char *
server_json (const char *url, const char *username, const char *credential)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "urls");
  json_builder_add_string_value (b, url);
  json_builder_set_member_name (b, "username");
  json_builder_add_string_value (b, username);
  json_builder_set_member_name (b, "credential");
  json_builder_add_string_value (b, credential);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

static gboolean
has_error (JsonObject *gather, gint code)
{
  JsonArray *errors = json_object_get_array_member (gather, "errors");

  for (guint i = 0; i < json_array_get_length (errors); i++)
    if (json_object_get_int_member (json_array_get_object_element (errors, i), "code") == code)
      return TRUE;
  return FALSE;
}

/* Chromium with relays only receives the composite through coturn while
 * a bot publishes, and the bot sees the browser's camera; coturn refuses
 * a wrong password and an expired username. */
static void
test_browser_relay (void)
{
  g_autofree char *dir = mm_test_src_path ("tests", "browser", NULL);
  g_autofree char *script = g_build_filename (dir, "turn.mjs", NULL);
  g_autofree char *node = NULL;
  g_autofree char *token = NULL;
  g_autofree char *code = NULL;
  g_autofree char *udp = g_strdup_printf ("turn:127.0.0.1:%u?transport=udp", turn.port);
  g_autofree char *tls = g_strdup_printf ("turns:localhost:%u?transport=tcp", turn.tls_port);
  g_autofree char *expired_user = NULL;
  g_autofree char *expired_cred = NULL;
  g_autofree char *good_user = NULL;
  g_autofree char *good_cred = NULL;
  g_autofree char *wrong = NULL;
  g_autofree char *expired = NULL;
  g_autofree char *tls_server = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) result = NULL;
  g_auto (GStrv) env = NULL;
  gboolean bot_saw_browser = FALSE;
  const char *args[] = { "--name", "red", "--color", "ff0000", "--tone", "440", NULL };
  MmBot *bot;
  GPid pid;
  int out_fd, status = 0;
  FILE *out;
  char *buf = NULL;
  size_t cap = 0;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  node = mm_test_browser_node ("the TURN browser test");
  if (node == NULL)
    return;
  {
    g_autofree char *index = g_build_filename (g_getenv ("MM_TEST_WEB_ROOT"), "index.html", NULL);

    if (!g_file_test (index, G_FILE_TEST_IS_REGULAR))
      {
        g_test_skip ("needs the built web client (./configure without --disable-web-client)");
        return;
      }
  }
  token = mm_test_register (&h, "Host", NULL);
  code = mm_test_room (&h, token, NULL);
  bot = mm_bot_start (&h, code, args);
  /* bots.c put its own hook in: run both. */
  if (mm_harness_abort_hook != kill_coturn_on_abort)
    {
      bots_abort_hook = mm_harness_abort_hook;
      mm_harness_abort_hook = kill_coturn_on_abort;
    }

  /* Credentials to try against coturn directly: a wrong password, a
   * right one for a username whose time has passed, and good ones. */
  good_user = g_strdup_printf ("%" G_GINT64_FORMAT ":probe", now + 300);
  good_cred = expected_credential (good_user);
  wrong = server_json (udp, good_user, "d3JvbmcgcGFzc3dvcmQ=");
  expired_user = g_strdup_printf ("%" G_GINT64_FORMAT ":probe", now - 60);
  expired_cred = expected_credential (expired_user);
  expired = server_json (udp, expired_user, expired_cred);
  tls_server = server_json (tls, good_user, good_cred);
  env = g_get_environ ();
  env = g_environ_setenv (env, "TURN_WRONG", wrong, TRUE);
  env = g_environ_setenv (env, "TURN_EXPIRED", expired, TRUE);
  env = g_environ_setenv (env, "TURN_TLS", tls_server, TRUE);
  {
    const char *argv[] = { node, script, h.base_url, code, NULL };

    if (!g_spawn_async_with_pipes (dir, (char **) argv, env, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                   NULL, &pid, NULL, &out_fd, NULL, &error))
      g_error ("cannot run node: %s", error->message);
  }
  out = fdopen (out_fd, "r");
  while (getline (&buf, &cap, out) > 0)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      JsonObject *o;

      g_printerr ("# turn: %s", buf);
      if (!json_parser_load_from_data (parser, buf, -1, NULL)
          || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        continue;
      o = json_node_get_object (json_parser_get_root (parser));
      /* Media goes up through the relay too: the bot sees the browser. */
      if (json_object_has_member (o, "step")
          && g_strcmp0 (json_object_get_string_member (o, "step"), "connected") == 0)
        bot_saw_browser = mm_bot_wait (bot, two_people, NULL, 30) != NULL;
      if (json_object_has_member (o, "ok"))
        {
          g_clear_pointer (&result, json_object_unref);
          result = json_object_ref (o);
        }
    }
  free (buf);
  fclose (out);
  waitpid (pid, &status, 0);
  g_spawn_close_pid (pid);
  mm_bot_free (bot);

  g_assert_nonnull (result);
  if (!json_object_get_boolean_member (result, "ok"))
    g_error ("the browser failed: %s", json_object_has_member (result, "error")
             ? json_object_get_string_member (result, "error") : "(no message)");
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  g_assert_cmpstr (json_object_get_string_member (result, "ice_transport_policy"), ==, "relay");
  g_assert_cmpint (json_object_get_int_member (result, "frames_decoded"), >=, 30);
  g_assert_cmpstr (json_object_get_string_member (result, "local_candidate_type"), ==, "relay");
  g_assert_cmpint (json_object_get_int_member (result, "composite_width"), ==, 1280);
  g_assert_true (bot_saw_browser);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (result, "csp_violations")),
                    ==, 0);
  /* coturn refuses a wrong password and an expired username (401). */
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (result, "wrong"),
                                               "relays"), ==, 0);
  g_assert_true (has_error (json_object_get_object_member (result, "wrong"), 401));
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (result, "expired"),
                                               "relays"), ==, 0);
  g_assert_true (has_error (json_object_get_object_member (result, "expired"), 401));
  /* The TLS listener relays with good credentials. */
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (result, "tls"),
                                               "relays"), >, 0);
}

int
main (int argc, char **argv)
{
  g_autofree char *www = mm_test_web_client_dir ();
  g_autofree char *extra = NULL;
  g_autofree char *turn_uris = NULL;
  int rc;

  g_test_init (&argc, &argv, NULL);
  if (g_find_program_in_path ("turnserver") == NULL || g_find_program_in_path ("openssl") == NULL)
    {
      if (g_getenv ("CI") != NULL)
        g_error ("the TURN test needs coturn and openssl (Debian: coturn openssl)");
      g_test_skip ("needs coturn and openssl (./quickstart.sh check installs them)");
      return g_test_run ();
    }
  if (g_getenv ("MM_TEST_WEB_ROOT") == NULL)
    g_setenv ("MM_TEST_WEB_ROOT", www, TRUE);
  pick_ports ();
  turn_uris = uris ();
  extra = g_strdup_printf ("[media]\nturn-uris=%s\nturn-secret=" SECRET "\nturn-ttl=%d\n", turn_uris, TTL);
  mm_harness_start (&h, extra);
  mm_harness_abort_hook = kill_coturn_on_abort;
  coturn_start ();
  g_test_add_func ("/turn/credentials", test_credentials);
  g_test_add_func ("/turn/bad-settings", test_bad_settings);
  g_test_add_func ("/turn/browser-relay", test_browser_relay);
  rc = g_test_run ();
  mm_test_stop_child (&turn.pid, SIGTERM);
  mm_harness_stop (&h);
  return rc;
}
