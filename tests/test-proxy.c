/* test-proxy.c — mixmeetd behind the sample nginx site
 * (data/nginx-mixmeet.conf, with only its addresses, ports and paths
 * replaced): HTTPS with HTTP/2, the redirect from plain HTTP, the long
 * poll through the proxy, the body limit, assets served by nginx, Range
 * through the proxy, the client's address from X-Forwarded-For (login
 * throttling per client behind one proxy, forged headers ignored) and the
 * security headers, HSTS only via the TLS proxy.
 *
 * Test clients take different loopback source addresses (127.0.0.2-4), so
 * that nginx and mixmeetd see different peers; mixmeetd trusts only
 * 127.0.0.1, the address nginx connects from. */
#include "config.h"

#include "harness.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static MmHarness h;
static char *web_root;      /* a small web root of our own, with assets */
static char *cert, *key;

typedef struct {
  GPid pid;
  guint16 https_port, http_port;
  char *dir;
} Nginx;

static Nginx nginx;

/* ---- requests ---------------------------------------------------------- */

typedef struct {
  long status;
  long http_version;
  GHashTable *headers;   /* lower-case name → value (the last one) */
  GString *body;
  gdouble seconds;
} Resp;

static void
resp_clear (Resp *r)
{
  g_clear_pointer (&r->headers, g_hash_table_unref);
  if (r->body != NULL)
    g_string_free (r->body, TRUE);
  r->body = NULL;
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Resp, resp_clear)

static size_t
on_body (char *data, size_t size, size_t n, void *user)
{
  g_string_append_len (((Resp *) user)->body, data, (gssize) (size * n));
  return size * n;
}

static size_t
on_header (char *data, size_t size, size_t n, void *user)
{
  Resp *r = user;
  g_autofree char *line = g_strndup (data, size * n);
  char *colon = strchr (line, ':');

  if (colon != NULL)
    {
      *colon = '\0';
      g_hash_table_replace (r->headers, g_ascii_strdown (g_strstrip (line), -1),
                            g_strdup (g_strstrip (colon + 1)));
    }
  return size * n;
}

/* One request from source address @from (NULL: any) with extra @headers
 * (NULL-terminated, may be NULL).  HTTPS is verified against our
 * certificate; HTTP/2 is offered. */
static void
request (const char *method, const char *url, const char *from, const char *const *headers,
         const char *body, gsize body_len, Resp *out)
{
  CURL *curl = curl_easy_init ();
  struct curl_slist *list = NULL;
  g_autofree char *iface = from != NULL ? g_strdup_printf ("host!%s", from) : NULL;
  CURLcode rc;

  out->headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  out->body = g_string_new (NULL);
  curl_easy_setopt (curl, CURLOPT_URL, url);
  curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt (curl, CURLOPT_WRITEDATA, out);
  curl_easy_setopt (curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt (curl, CURLOPT_HEADERDATA, out);
  curl_easy_setopt (curl, CURLOPT_TIMEOUT, 90L);
  curl_easy_setopt (curl, CURLOPT_CAINFO, cert);
  curl_easy_setopt (curl, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
  if (iface != NULL)
    curl_easy_setopt (curl, CURLOPT_INTERFACE, iface);
  if (g_str_equal (method, "HEAD"))
    curl_easy_setopt (curl, CURLOPT_NOBODY, 1L);
  for (guint i = 0; headers != NULL && headers[i] != NULL; i++)
    list = curl_slist_append (list, headers[i]);
  if (body != NULL)
    {
      list = curl_slist_append (list, "Content-Type: application/json");
      curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body);
      curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) body_len);
    }
  curl_easy_setopt (curl, CURLOPT_HTTPHEADER, list);
  rc = curl_easy_perform (curl);
  if (rc != CURLE_OK)
    g_error ("%s %s (from %s): %s", method, url, from ? from : "any", curl_easy_strerror (rc));
  curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &out->status);
  curl_easy_getinfo (curl, CURLINFO_HTTP_VERSION, &out->http_version);
  curl_easy_getinfo (curl, CURLINFO_TOTAL_TIME, &out->seconds);
  curl_slist_free_all (list);
  curl_easy_cleanup (curl);
}

static char *
proxy_url (const char *path)
{
  return g_strdup_printf ("https://127.0.0.1:%u%s", nginx.https_port, path);
}

static char *
direct_url (const char *path)
{
  return g_strdup_printf ("%s%s", h.base_url, path);
}

static const char *
header (Resp *r, const char *name)
{
  return g_hash_table_lookup (r->headers, name);
}

/* ---- nginx with the sample site ---------------------------------------- */

static void
replace (GString *text, const char *what, const char *with)
{
  if (strstr (text->str, what) == NULL)
    g_error ("data/nginx-mixmeet.conf no longer has \"%s\": update tests/test-proxy.c", what);
  g_string_replace (text, what, with, 0);
}

static guint16
free_port (void)
{
  g_autoptr (GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                        G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;

  g_assert_true (g_socket_bind (s, any, TRUE, NULL));
  bound = g_socket_get_local_address (s, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static void
make_certificate (const char *dir)
{
  cert = g_build_filename (dir, "cert.pem", NULL);
  key = g_build_filename (dir, "key.pem", NULL);
  mm_test_make_certificate (cert, key);
}

static void
nginx_start (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *sample = mm_test_src_path ("data", "nginx-mixmeet.conf", NULL);
  g_autofree char *text = NULL;
  g_autofree char *site = NULL;
  g_autofree char *conf = NULL;
  g_autofree char *main_text = NULL;
  g_autofree char *tmp = NULL;
  g_autoptr (GString) s = NULL;
  g_autofree char *v = NULL;

  nginx.dir = g_build_filename (h.dir, "nginx", NULL);
  tmp = g_build_filename (nginx.dir, "tmp", NULL);
  g_mkdir_with_parents (tmp, 0755);
  make_certificate (nginx.dir);
  if (!g_file_get_contents (sample, &text, NULL, &error))
    g_error ("%s", error->message);
  nginx.https_port = free_port ();
  do
    nginx.http_port = free_port ();
  while (nginx.http_port == nginx.https_port);
  s = g_string_new (text);
  v = g_strdup_printf ("listen 127.0.0.1:%u;", nginx.http_port);
  replace (s, "listen 80;", v);
  replace (s, "listen [::]:80;", "");
  g_free (v);
  v = g_strdup_printf ("listen 127.0.0.1:%u ssl http2;", nginx.https_port);
  replace (s, "listen 443 ssl http2;", v);
  replace (s, "listen [::]:443 ssl http2;", "");
  g_free (v);
  v = g_strdup_printf ("server 127.0.0.1:%u;", h.port);
  replace (s, "server 127.0.0.1:8080;", v);
  replace (s, "/etc/ssl/certs/meet.example.com.pem", cert);
  replace (s, "/etc/ssl/private/meet.example.com.key", key);
  replace (s, "/usr/local/share/mixmeet/www", web_root);
  replace (s, "/var/www/letsencrypt", nginx.dir);
  site = g_build_filename (nginx.dir, "mixmeet-site.conf", NULL);
  g_assert_true (g_file_set_contents (site, s->str, -1, NULL));

  /* What /etc/nginx/nginx.conf gives a site, with paths of our own. */
  main_text = g_strdup_printf (
    "daemon off;\nmaster_process off;\n"
    "error_log %s/nginx-error.log info;\npid %s/nginx.pid;\n"
    "events { worker_connections 256; }\n"
    "http {\n"
    "  include /etc/nginx/mime.types;\n  default_type application/octet-stream;\n"
    "  sendfile on;\n"
    "  access_log %s/nginx-access.log;\n"
    "  client_body_temp_path %s/body;\n  proxy_temp_path %s/proxy;\n"
    "  fastcgi_temp_path %s/fastcgi;\n  uwsgi_temp_path %s/uwsgi;\n  scgi_temp_path %s/scgi;\n"
    "  include %s;\n"
    "}\n", nginx.dir, nginx.dir, nginx.dir, tmp, tmp, tmp, tmp, tmp, site);
  conf = g_build_filename (nginx.dir, "nginx.conf", NULL);
  g_assert_true (g_file_set_contents (conf, main_text, -1, NULL));
  {
    const char *argv[] = { "nginx", "-p", nginx.dir, "-c", conf, "-e", "stderr", NULL };
    g_autofree char *out = g_build_filename (nginx.dir, "nginx-stderr.log", NULL);
    g_autofree char *log = g_build_filename (nginx.dir, "nginx-error.log", NULL);

    nginx.pid = mm_test_spawn_logged (argv, out, "nginx-light");
    mm_test_wait_tcp (nginx.https_port, 10, "nginx", log);
    mm_test_wait_tcp (nginx.http_port, 10, "nginx", log);
  }
}

static void
kill_nginx_on_abort (void)
{
  if (nginx.pid > 0)
    kill (nginx.pid, SIGKILL);
}

/* ---- tests ------------------------------------------------------------- */

/* TLS works, HTTP/2 is what the browser gets, plain HTTP redirects. */
static void
test_https (void)
{
  g_autofree char *url = proxy_url ("/healthz");
  g_autofree char *http = g_strdup_printf ("http://127.0.0.1:%u/abc-defg-hij?x=1",
                                           nginx.http_port);
  g_auto (Resp) r = { 0 };
  g_auto (Resp) redirect = { 0 };

  request ("GET", url, NULL, NULL, NULL, 0, &r);
  g_assert_cmpint (r.status, ==, 200);
  g_assert_cmpint (r.http_version, ==, CURL_HTTP_VERSION_2_0);
  request ("GET", http, NULL, NULL, NULL, 0, &redirect);
  g_assert_cmpint (redirect.status, ==, 301);
  g_assert_cmpstr (header (&redirect, "location"), ==, "https://127.0.0.1/abc-defg-hij?x=1");
}

static void
assert_common_headers (Resp *r)
{
  g_assert_cmpstr (header (r, "x-content-type-options"), ==, "nosniff");
  g_assert_cmpstr (header (r, "x-frame-options"), ==, "DENY");
  g_assert_cmpstr (header (r, "referrer-policy"), ==, "no-referrer");
  g_assert_nonnull (header (r, "content-security-policy"));
  g_assert_nonnull (strstr (header (r, "content-security-policy"), "frame-ancestors 'none'"));
}

/* Every response has the security headers; pages have the client's CSP;
 * HSTS comes only when the request reached nginx over TLS. */
static void
test_headers (void)
{
  static const char *const forged_proto[] = { "X-Forwarded-Proto: https", NULL };
  g_autofree char *page = proxy_url ("/abc-defg-hij");
  g_autofree char *api = proxy_url ("/api/v1/rooms/abc-defg-hij");
  g_autofree char *direct_page = direct_url ("/");
  g_autofree char *direct_api = direct_url ("/api/v1/nothing");
  g_auto (Resp) p = { 0 };
  g_auto (Resp) a = { 0 };
  g_auto (Resp) dp = { 0 };
  g_auto (Resp) da = { 0 };
  g_auto (Resp) forged = { 0 };
  const char *csp;

  request ("GET", page, NULL, NULL, NULL, 0, &p);
  g_assert_cmpint (p.status, ==, 200);
  g_assert_true (g_str_has_prefix (header (&p, "content-type"), "text/html"));
  assert_common_headers (&p);
  csp = header (&p, "content-security-policy");
  g_assert_nonnull (strstr (csp, "default-src 'self'"));
  g_assert_nonnull (strstr (csp, "connect-src 'self'"));
  g_assert_nonnull (strstr (csp, "media-src 'self' blob:"));
  g_assert_null (strstr (csp, "script-src 'self' 'unsafe-inline'"));
  g_assert_cmpstr (header (&p, "strict-transport-security"), ==, "max-age=31536000");

  request ("GET", api, NULL, NULL, NULL, 0, &a);
  g_assert_cmpint (a.status, ==, 404);
  assert_common_headers (&a);
  g_assert_cmpstr (header (&a, "content-security-policy"), ==,
                   "default-src 'none'; frame-ancestors 'none'");
  g_assert_nonnull (header (&a, "strict-transport-security"));

  /* Straight to mixmeetd: no TLS, no HSTS; the other headers all the same. */
  request ("GET", direct_page, "127.0.0.2", NULL, NULL, 0, &dp);
  g_assert_cmpint (dp.status, ==, 200);
  assert_common_headers (&dp);
  g_assert_null (header (&dp, "strict-transport-security"));
  request ("GET", direct_api, "127.0.0.2", NULL, NULL, 0, &da);
  g_assert_cmpint (da.status, ==, 404);
  assert_common_headers (&da);
  g_assert_null (header (&da, "strict-transport-security"));
  /* A client that is not a proxy cannot claim HTTPS. */
  request ("GET", direct_page, "127.0.0.2", forged_proto, NULL, 0, &forged);
  g_assert_cmpint (forged.status, ==, 200);
  g_assert_null (header (&forged, "strict-transport-security"));
}

/* The hashed assets come from nginx itself: cached for a year, and the
 * .gz beside a file is sent as it is to a client that takes gzip. */
static void
test_assets (void)
{
  static const char *const gzip[] = { "Accept-Encoding: gzip", NULL };
  g_autofree char *url = proxy_url ("/assets/app-1a2b3c.js");
  g_autofree char *gz_path = g_build_filename (web_root, "assets", "app-1a2b3c.js.gz", NULL);
  g_autofree char *gz = NULL;
  gsize gz_len;
  g_auto (Resp) plain = { 0 };
  g_auto (Resp) packed = { 0 };
  g_auto (Resp) missing = { 0 };
  g_autofree char *missing_url = proxy_url ("/assets/none-000.js");

  g_assert_true (g_file_get_contents (gz_path, &gz, &gz_len, NULL));
  request ("GET", url, NULL, NULL, NULL, 0, &plain);
  g_assert_cmpint (plain.status, ==, 200);
  g_assert_nonnull (strstr (plain.body->str, "console.log"));
  g_assert_nonnull (strstr (header (&plain, "cache-control"), "immutable"));
  g_assert_cmpstr (header (&plain, "x-content-type-options"), ==, "nosniff");
  g_assert_nonnull (header (&plain, "strict-transport-security"));
  request ("GET", url, NULL, gzip, NULL, 0, &packed);
  g_assert_cmpint (packed.status, ==, 200);
  g_assert_cmpstr (header (&packed, "content-encoding"), ==, "gzip");
  g_assert_cmpuint (packed.body->len, ==, gz_len);
  g_assert_true (memcmp (packed.body->str, gz, gz_len) == 0);
  request ("GET", missing_url, NULL, NULL, NULL, 0, &missing);
  g_assert_cmpint (missing.status, ==, 404);
}

/* A body over max-body is refused by nginx already (413); one under it
 * reaches mixmeetd. */
static void
test_body_limit (void)
{
  g_autofree char *url = proxy_url ("/api/v1/auth/login");
  g_autofree char *big = g_strnfill (70000, 'x');
  g_auto (Resp) r = { 0 };
  g_auto (Resp) small = { 0 };

  request ("POST", url, NULL, NULL, big, strlen (big), &r);
  g_assert_cmpint (r.status, ==, 413);
  request ("POST", url, NULL, NULL, "{}", 2, &small);
  g_assert_cmpint (small.status, ==, 400);
}

/* The last_seq of an events answer. */
static guint64
last_seq (Resp *r)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o;

  g_assert_true (json_parser_load_from_data (parser, r->body->str, -1, NULL));
  o = json_node_get_object (json_parser_get_root (parser));
  return (guint64) json_object_get_int_member (o, "last_seq");
}

static guint
n_events (Resp *r)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o;

  g_assert_true (json_parser_load_from_data (parser, r->body->str, -1, NULL));
  o = json_node_get_object (json_parser_get_root (parser));
  return json_array_get_length (json_object_get_array_member (o, "events"));
}

typedef struct {
  char *messages;
  char *secret;
} Chat;

static gpointer
chat_later (gpointer data)
{
  Chat *c = data;
  g_auto (MmResponse) r = { 0 };

  g_usleep (2 * G_USEC_PER_SEC);
  mm_http (&h, "POST", c->messages, c->secret, "{\"type\":\"chat\",\"text\":\"through\"}", &r);
  g_assert_cmpint (r.status, <, 300);
  return NULL;
}

/* The long poll waits its full timeout through nginx (the sample's
 * proxy_read_timeout is longer than the default long-poll-timeout, 25 s),
 * and an event gets through while one waits (no buffering). */
static void
test_long_poll (void)
{
  g_autofree char *token = mm_test_register (&h, "Poller", NULL);
  g_autofree char *code = mm_test_room (&h, token, NULL);
  g_auto (MmJoined) a = { 0 };
  g_auto (MmJoined) b = { 0 };
  g_autofree char *auth = NULL;
  g_autofree char *first_url = NULL;
  g_autofree char *wait_url = NULL;
  g_autofree char *path = NULL;
  g_auto (Resp) first = { 0 };
  g_auto (Resp) quiet = { 0 };
  g_auto (Resp) woken = { 0 };
  Chat chat;
  GThread *chatter;

  mm_test_join (&h, code, token, NULL, &a);
  mm_test_join (&h, code, NULL, "Guest", &b);
  auth = g_strdup_printf ("Authorization: Bearer %s", a.secret);
  {
    const char *const headers[] = { auth, NULL };

    path = g_strdup_printf ("%s?since=0", a.events);
    first_url = proxy_url (path);
    request ("GET", first_url, NULL, headers, NULL, 0, &first);
    g_assert_cmpint (first.status, ==, 200);
    g_free (path);
    path = g_strdup_printf ("%s?since=%" G_GUINT64_FORMAT, a.events, last_seq (&first));
    wait_url = proxy_url (path);
    request ("GET", wait_url, NULL, headers, NULL, 0, &quiet);
    g_test_message ("an empty long poll through nginx took %.1f s", quiet.seconds);
    g_assert_cmpint (quiet.status, ==, 200);
    g_assert_cmpfloat (quiet.seconds, >=, 24.0);
    g_assert_cmpuint (n_events (&quiet), ==, 0);

    chat.messages = b.messages;
    chat.secret = b.secret;
    chatter = g_thread_new ("chat", chat_later, &chat);
    request ("GET", wait_url, NULL, headers, NULL, 0, &woken);
    g_thread_join (chatter);
    g_test_message ("a long poll that a chat message ended took %.1f s", woken.seconds);
    g_assert_cmpint (woken.status, ==, 200);
    g_assert_cmpuint (n_events (&woken), >=, 1);
    g_assert_nonnull (strstr (woken.body->str, "through"));
    g_assert_cmpfloat (woken.seconds, <, 20.0);
  }
}

static void
login (const char *base_is_proxy, const char *from, const char *forwarded_for,
       const char *email, const char *password, Resp *out)
{
  g_autofree char *xff = forwarded_for ? g_strdup_printf ("X-Forwarded-For: %s", forwarded_for)
                                       : NULL;
  const char *const headers[] = { xff, NULL };
  g_autofree char *url = base_is_proxy ? proxy_url ("/api/v1/auth/login")
                                       : direct_url ("/api/v1/auth/login");
  g_autofree char *body = g_strdup_printf ("{\"email\":\"%s\",\"password\":\"%s\"}",
                                           email, password);

  request ("POST", url, from, headers, body, strlen (body), out);
}

static gboolean
log_has (const char *needle)
{
  g_autofree char *path = g_build_filename (h.dir, "mixmeetd.log", NULL);
  g_autofree char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return strstr (text, needle) != NULL;
}

/* login-max-failures=2: an address is blocked after 8 failures (four
 * times as many), each with another e-mail address so that only the
 * address counts. */
#define PER_ADDRESS 8

/* Behind nginx, two clients are throttled apart: the one that fails
 * (whatever X-Forwarded-For it makes up) is blocked, the other logs in. */
static void
test_throttle_behind_proxy (void)
{
  g_autofree char *email = NULL;
  g_autofree char *token = mm_test_register (&h, "Bea", &email);
  g_auto (Resp) blocked = { 0 };
  g_auto (Resp) still = { 0 };
  g_auto (Resp) other = { 0 };
  g_auto (Resp) other_ok = { 0 };

  for (guint i = 0; i < PER_ADDRESS; i++)
    {
      g_auto (Resp) r = { 0 };
      g_autofree char *who = g_strdup_printf ("nobody%u@proxy.example", i);
      g_autofree char *forged = g_strdup_printf ("198.51.100.%u", i + 1);

      login ("proxy", "127.0.0.3", forged, who, "wrong-password", &r);
      g_assert_cmpint (r.status, ==, 401);
    }
  login ("proxy", "127.0.0.3", NULL, "someone@proxy.example", "wrong-password", &blocked);
  g_assert_cmpint (blocked.status, ==, 429);
  g_assert_nonnull (header (&blocked, "retry-after"));
  /* A made-up X-Forwarded-For is left of nginx's entry: no way out. */
  login ("proxy", "127.0.0.3", "203.0.113.77", email, "wrong-password", &still);
  g_assert_cmpint (still.status, ==, 429);
  /* Another client through the same nginx is not blocked. */
  login ("proxy", "127.0.0.4", NULL, "other@proxy.example", "wrong-password", &other);
  g_assert_cmpint (other.status, ==, 401);
  login ("proxy", "127.0.0.4", NULL, email, "correct horse", &other_ok);
  g_assert_cmpint (other_ok.status, ==, 200);
  /* The log names the clients, not the proxy. */
  g_assert_true (log_has ("failed login from 127.0.0.3"));
  g_assert_true (log_has ("failed login from 127.0.0.4"));
  g_assert_false (log_has ("failed login from 127.0.0.1"));
}

/* Straight to mixmeetd from an address that is not a trusted proxy,
 * X-Forwarded-For is ignored: changing it each time does not escape. */
static void
test_forged_forwarded_for (void)
{
  g_auto (Resp) blocked = { 0 };

  for (guint i = 0; i < PER_ADDRESS; i++)
    {
      g_auto (Resp) r = { 0 };
      g_autofree char *who = g_strdup_printf ("nobody%u@direct.example", i);
      g_autofree char *forged = g_strdup_printf ("192.0.2.%u", i + 1);

      login (NULL, "127.0.0.2", forged, who, "wrong-password", &r);
      g_assert_cmpint (r.status, ==, 401);
    }
  login (NULL, "127.0.0.2", "192.0.2.200", "fresh@direct.example", "wrong-password", &blocked);
  g_assert_cmpint (blocked.status, ==, 429);
  g_assert_true (log_has ("failed login from 127.0.0.2"));
  g_assert_false (log_has ("failed login from 192.0.2."));
}

/* A recording streams through nginx with Range (seeking in <video>). */
static void
test_recording_range (void)
{
  g_autofree char *token = mm_test_register (&h, "Rec", NULL);
  g_autofree char *code = mm_test_room (&h, token, NULL);
  g_autofree char *sql = NULL;
  g_autofree char *id = NULL;
  g_autofree char *dir = g_build_filename (h.dir, "data", "recordings", NULL);
  g_autofree char *file = g_build_filename (dir, "proxy-range.webm", NULL);
  g_autofree char *path = NULL;
  g_autofree char *url = NULL;
  g_autofree char *auth = g_strdup_printf ("Authorization: Bearer %s", token);
  const char *const headers[] = { auth, "Range: bytes=100000-100009", NULL };
  g_autofree char *data = g_malloc (300000);
  g_auto (Resp) r = { 0 };

  for (guint i = 0; i < 300000; i++)
    data[i] = (char) ('a' + i % 26);
  g_mkdir_with_parents (dir, 0755);
  g_assert_true (g_file_set_contents (file, data, 300000, NULL));
  sql = g_strdup_printf ("INSERT INTO recordings (room_id, started_by, started_by_name, file, "
                         "started_at, ended_at, duration_ms, bytes, status) "
                         "SELECT id, host_id, 'Rec', 'proxy-range.webm', now() - interval '1 minute', "
                         "now(), 60000, 300000, 'complete' FROM rooms WHERE code = '%s' "
                         "RETURNING id", code);
  id = mm_harness_sql (&h, sql);
  g_assert_nonnull (id);
  path = g_strdup_printf ("/api/v1/recordings/%s/file", id);
  url = proxy_url (path);
  request ("GET", url, NULL, headers, NULL, 0, &r);
  g_assert_cmpint (r.status, ==, 206);
  g_assert_cmpstr (header (&r, "content-range"), ==, "bytes 100000-100009/300000");
  g_assert_cmpuint (r.body->len, ==, 10);
  g_assert_true (memcmp (r.body->str, data + 100000, 10) == 0);
}

/* A trusted-proxies entry that is not an address or range stops start-up,
 * naming the entry. */
static void
test_bad_trusted_proxies (void)
{
  const char *bin = g_getenv ("MM_TEST_MIXMEETD") ? g_getenv ("MM_TEST_MIXMEETD") : "./mixmeetd";
  static const char *const bad[] = { "127.0.0.1, 10.0.0.0/33", "proxy.example.com", "::1,," };
  static const char *const named[] = { "\"10.0.0.0/33\"", "\"proxy.example.com\"", "is empty" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *opt = g_strdup_printf ("--trusted-proxies=%s", bad[i]);
      const char *argv[] = { bin, "--config", h.config, "--port", "0", opt, NULL };
      g_autofree char *err = NULL;
      g_autoptr (GError) error = NULL;
      int status;

      g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                                   NULL, NULL, &err, &status, &error));
      g_test_message ("%s", err);
      g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 2);
      g_assert_nonnull (strstr (err, "trusted-proxies"));
      g_assert_nonnull (strstr (err, named[i]));
    }
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *assets = NULL;
  g_autofree char *js = NULL;
  int rc;

  g_test_init (&argc, &argv, NULL);
  if (g_find_program_in_path ("nginx") == NULL || g_find_program_in_path ("openssl") == NULL)
    {
      if (g_getenv ("CI") != NULL)
        g_error ("the proxy test needs nginx and openssl (Debian: nginx-light openssl)");
      g_test_skip ("needs nginx and openssl (./quickstart.sh check installs them)");
      return g_test_run ();
    }
  /* A web root of our own: a page, and a hashed asset with its .gz. */
  web_root = g_dir_make_tmp ("mixmeet-proxy-www-XXXXXX", &error);
  g_assert_no_error (error);
  g_chmod (web_root, 0755);
  assets = g_build_filename (web_root, "assets", NULL);
  g_mkdir_with_parents (assets, 0755);
  {
    g_autofree char *index = g_build_filename (web_root, "index.html", NULL);
    g_autofree char *gz = g_build_filename (assets, "app-1a2b3c.js.gz", NULL);
    g_autofree char *cmd = NULL;

    js = g_build_filename (assets, "app-1a2b3c.js", NULL);
    g_assert_true (g_file_set_contents (index, "<!doctype html><title>mixmeet</title>"
                                        "<script type=\"module\" src=\"/assets/app-1a2b3c.js\">"
                                        "</script>", -1, NULL));
    g_assert_true (g_file_set_contents (js, "console.log('mixmeet');\n", -1, NULL));
    cmd = g_strdup_printf ("gzip -c '%s' > '%s'", js, gz);
    g_assert_cmpint (system (cmd), ==, 0);
  }
  g_setenv ("MM_TEST_WEB_ROOT", web_root, TRUE);
  mm_harness_start (&h, "[server]\ntrusted-proxies=127.0.0.1\n"
                        "[auth]\nlogin-max-failures=2\n");
  mm_harness_abort_hook = kill_nginx_on_abort;
  nginx_start ();
  g_test_add_func ("/proxy/https", test_https);
  g_test_add_func ("/proxy/headers", test_headers);
  g_test_add_func ("/proxy/assets", test_assets);
  g_test_add_func ("/proxy/body-limit", test_body_limit);
  g_test_add_func ("/proxy/throttle", test_throttle_behind_proxy);
  g_test_add_func ("/proxy/forged-forwarded-for", test_forged_forwarded_for);
  g_test_add_func ("/proxy/recording-range", test_recording_range);
  g_test_add_func ("/proxy/bad-trusted-proxies", test_bad_trusted_proxies);
  g_test_add_func ("/proxy/long-poll", test_long_poll);
  rc = g_test_run ();
  mm_test_stop_child (&nginx.pid, SIGTERM);
  mm_harness_stop (&h);
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", web_root);
    if (system (cmd) != 0)
      g_printerr ("# could not remove %s\n", web_root);
  }
  return rc;
}
