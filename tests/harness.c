/* harness.c — PostgreSQL, mixmeetd and HTTP for the tests. */
#include "config.h"

#include "harness.h"

#include <curl/curl.h>
#include <gio/gio.h>
#include <stdarg.h>
#include <fcntl.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *
env_or (const char *name, const char *fallback)
{
  const char *v = g_getenv (name);
  return v != NULL && *v != '\0' ? v : fallback;
}

static char *
pg_script (void)
{
  return g_build_filename (env_or ("MM_TEST_SRCDIR", "."), "tests", "pg.sh", NULL);
}

static char *
run_pg (MmHarness *h, const char *cmd)
{
  g_autofree char *script = pg_script ();
  const char *argv[] = { "/bin/sh", script, cmd, h->pg_dir, NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr (GError) error = NULL;
  int status = 0;
  g_auto (GStrv) env = g_get_environ ();

  env = g_environ_setenv (env, "PG_FAST", "1", TRUE);
  if (!g_spawn_sync (NULL, (char **) argv, env, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                     &status, &error)
      || !g_spawn_check_wait_status (status, &error))
    g_error ("pg.sh %s failed: %s\n%s", cmd, error->message, err ? err : "");
  return g_strstrip (g_steal_pointer (&out));
}

void
mm_harness_pg_start (MmHarness *h)
{
  g_free (h->conninfo);
  h->conninfo = run_pg (h, "start");
}

void
mm_harness_pg_stop (MmHarness *h)
{
  g_free (run_pg (h, "stop"));
}

static gboolean
ready (MmHarness *h)
{
  g_auto (MmResponse) r = { 0 };

  mm_http (h, "GET", "/readyz", NULL, NULL, &r);
  return r.status == 200;
}

void
mm_harness_start_server_nowait (MmHarness *h)
{
  g_autofree char *port_file = g_build_filename (h->dir, "port", NULL);
  const char *bin = env_or ("MM_TEST_MIXMEETD", "./mixmeetd");
  g_autofree char *log = g_build_filename (h->dir, "mixmeetd.log", NULL);
  const char *argv[] = { bin, "--config", h->config, "--port-file", port_file, NULL };
  g_autoptr (GError) error = NULL;
  gint64 deadline;
  int log_fd;

  g_unlink (port_file);
  log_fd = g_open (log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (!g_spawn_async_with_fds (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                               &h->pid, -1, log_fd, log_fd, &error))
    g_error ("cannot start %s: %s", bin, error->message);
  close (log_fd);
  deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  for (;;)
    {
      g_autofree char *text = NULL;

      if (g_file_get_contents (port_file, &text, NULL, NULL) && strchr (text, '\n'))
        {
          h->port = (guint16) g_ascii_strtoull (text, NULL, 10);
          break;
        }
      if (waitpid (h->pid, NULL, WNOHANG) == h->pid)
        {
          h->pid = 0;
          g_error ("mixmeetd exited at start; see %s", log);
        }
      if (g_get_monotonic_time () > deadline)
        g_error ("mixmeetd did not start; see %s", log);
      g_usleep (20000);
    }
  g_free (h->base_url);
  h->base_url = g_strdup_printf ("http://127.0.0.1:%u", h->port);
}

void
mm_harness_start_server (MmHarness *h)
{
  /* Generous: a busy machine starts slowly; the wait ends when ready. */
  gint64 deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;

  mm_harness_start_server_nowait (h);
  while (!ready (h))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("mixmeetd did not become ready; see %s/mixmeetd.log", h->dir);
      g_usleep (50000);
    }
}

/* A failed assertion aborts the test program: take the server and the
 * cluster down with it rather than leave them running. */
static MmHarness *current;
void (*mm_harness_abort_hook) (void);

static void
on_abort (int sig)
{
  if (current != NULL)
    {
      g_autofree char *script = pg_script ();
      g_autofree char *cmd = g_strdup_printf ("/bin/sh '%s' stop '%s' >/dev/null 2>&1", script,
                                              current->pg_dir);

      if (current->pid > 0 && g_getenv ("MM_TEST_GDB") != NULL)
        {
          /* For debugging a hang: every thread of the server, to a file. */
          g_autofree char *gdb = g_strdup_printf ("gdb -batch -p %d -ex 'thread apply all bt' "
                                                  "> '%s/threads.txt' 2>&1", (int) current->pid,
                                                  current->dir);
          if (system (gdb) != 0)
            g_printerr ("# gdb could not list the server's threads\n");
        }
      if (current->pid > 0)
        kill (current->pid, SIGKILL);
      if (mm_harness_abort_hook != NULL)
        mm_harness_abort_hook ();
      if (system (cmd) != 0)
        g_printerr ("# could not stop the test cluster in %s\n", current->pg_dir);
      g_printerr ("# test files kept in %s\n", current->dir);
    }
  signal (sig, SIG_DFL);
  raise (sig);
}

void
mm_harness_start (MmHarness *h, const char *extra_config)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  const char *src = env_or ("MM_TEST_SRCDIR", ".");
  g_autofree char *sql = g_build_filename (src, "sql", NULL);
  /* The built web client when there is one, else the sources' www/. */
  g_autofree char *www_dist = g_build_filename (src, "www", "dist", NULL);
  g_autofree char *www = g_file_test (www_dist, G_FILE_TEST_IS_DIR)
                         ? g_strdup (www_dist) : g_build_filename (src, "www", NULL);
  g_autofree char *pipelines = g_build_filename (src, "pipelines", NULL);
  g_autofree char *data = NULL;

  memset (h, 0, sizeof *h);
  current = h;
  signal (SIGABRT, on_abort);
  signal (SIGSEGV, on_abort);
  signal (SIGTRAP, on_abort);   /* g_error() */
  curl_global_init (CURL_GLOBAL_DEFAULT);
  h->dir = g_dir_make_tmp ("mixmeet-test-XXXXXX", &error);
  g_assert_no_error (error);
  g_chmod (h->dir, 0755);
  h->pg_dir = g_build_filename (h->dir, "pg", NULL);
  data = g_build_filename (h->dir, "data", NULL);
  mm_harness_pg_start (h);
  h->config = g_build_filename (h->dir, "mixmeetd.conf", NULL);
  text = g_strdup_printf ("[server]\nlisten=127.0.0.1\nport=0\nsql-dir=%s\nweb-root=%s\n"
                          "data-dir=%s\nlog-level=%s\n"
                          "[database]\nurl=%s\n"
                          "[auth]\nbcrypt-cost=4\n"
                          /* Every test client is 127.0.0.1: tests/test-limits.c
                           * sets these low for itself. */
                          "[server]\nmax-connections-per-address=0\n"
                          "[limits]\nregistrations-per-hour=1000000\nrooms-per-hour=1000000\n"
                          "joins-per-minute=1000000\nchat-per-minute=100000\n"
                          "meetings=1000000\nroom-participants=100000\nviewers=10000000\n"
                          "[media]\npipelines-dir=%s\nport=0\nice-addresses=127.0.0.1\n%s\n",
                          sql, env_or ("MM_TEST_WEB_ROOT", www), data,
                          env_or ("MM_TEST_LOG_LEVEL", "message"), h->conninfo, pipelines,
                          extra_config ? extra_config : "");
  if (!g_file_set_contents (h->config, text, -1, &error))
    g_error ("%s", error->message);
  mm_harness_start_server (h);
}

int
mm_harness_stop_server (MmHarness *h)
{
  int status = -1;
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  if (h->pid <= 0)
    return -1;
  kill (h->pid, SIGTERM);
  while (g_get_monotonic_time () < deadline)
    {
      pid_t r = waitpid (h->pid, &status, WNOHANG);

      if (r == h->pid)
        {
          h->pid = 0;
          return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
        }
      g_usleep (10000);
    }
  kill (h->pid, SIGKILL);
  waitpid (h->pid, &status, 0);
  h->pid = 0;
  return -1;
}

/* Restart mixmeetd with @from replaced by @to in its configuration;
 * fails the test if the configuration has no @from. */
void
mm_harness_restart_with (MmHarness *h, const char *from, const char *to)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  GString *s;

  if (!g_file_get_contents (h->config, &text, NULL, &error))
    g_error ("%s", error->message);
  s = g_string_new (text);
  if (g_string_replace (s, from, to, 1) != 1)
    g_error ("the server's configuration has no \"%s\"", from);
  mm_harness_stop_server (h);
  if (!g_file_set_contents (h->config, s->str, -1, &error))
    g_error ("%s", error->message);
  g_string_free (s, TRUE);
  mm_harness_start_server (h);
}

void
mm_harness_kill_server (MmHarness *h)
{
  int status;

  if (h->pid <= 0)
    return;
  kill (h->pid, SIGKILL);
  waitpid (h->pid, &status, 0);
  h->pid = 0;
}

static void
remove_tree (const char *path)
{
  const char *argv[] = { "rm", "-rf", path, NULL };
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
}

/* A sanitizer build's report in the server's log (tests/sanitizers.sh):
 * the test fails with it, whatever it asserted. */
static void
check_sanitizer_reports (MmHarness *h)
{
  g_autofree char *log = g_build_filename (h->dir, "mixmeetd.log", NULL);
  g_autofree char *text = NULL;
  const char *hit = NULL;

  if (!g_file_get_contents (log, &text, NULL, NULL))
    return;
  if ((hit = strstr (text, "ERROR: AddressSanitizer")) == NULL
      && (hit = strstr (text, "ERROR: LeakSanitizer")) == NULL)
    hit = strstr (text, "runtime error:");
  if (hit == NULL)
    return;
  /* From the start of the report's line, as much as a log can take. */
  while (hit > text && hit[-1] != '\n')
    hit--;
  g_printerr ("%.*s\n", (int) MIN (strlen (hit), 16384), hit);
  g_error ("mixmeetd's log has a sanitizer report (above; %s)", log);
}

void
mm_harness_stop (MmHarness *h)
{
  current = NULL;
  mm_harness_stop_server (h);
  mm_harness_pg_stop (h);
  check_sanitizer_reports (h);
  if (g_getenv ("MM_TEST_KEEP") == NULL)
    remove_tree (h->dir);
  else
    g_printerr ("# kept %s\n", h->dir);
  g_free (h->dir);
  g_free (h->pg_dir);
  g_free (h->conninfo);
  g_free (h->config);
  g_free (h->base_url);
  curl_global_cleanup ();
}

char *
mm_harness_sql (MmHarness *h, const char *sql)
{
  PGconn *c = PQconnectdb (h->conninfo);
  PGresult *res;
  char *out = NULL;

  if (PQstatus (c) != CONNECTION_OK)
    g_error ("test connection failed: %s", PQerrorMessage (c));
  res = PQexec (c, sql);
  if (PQresultStatus (res) != PGRES_TUPLES_OK && PQresultStatus (res) != PGRES_COMMAND_OK)
    g_error ("test SQL failed: %s", PQerrorMessage (c));
  if (PQresultStatus (res) == PGRES_TUPLES_OK && PQntuples (res) > 0 && !PQgetisnull (res, 0, 0))
    out = g_strdup (PQgetvalue (res, 0, 0));
  PQclear (res);
  PQfinish (c);
  return out;
}

/* ---- HTTP --------------------------------------------------------------- */

void
mm_response_clear (MmResponse *r)
{
  g_clear_pointer (&r->body, g_free);
  g_clear_pointer (&r->json, json_node_unref);
  g_clear_pointer (&r->content_type, g_free);
  g_clear_pointer (&r->allow, g_free);
  g_clear_pointer (&r->retry_after, g_free);
  g_clear_pointer (&r->cache_control, g_free);
  g_clear_pointer (&r->content_range, g_free);
  g_clear_pointer (&r->accept_ranges, g_free);
  r->body_len = 0;
  r->status = 0;
}

static void
set_str (char **field, const char *value)
{
  g_free (*field);
  *field = g_strdup (value);
}

static size_t
on_body (char *data, size_t size, size_t n, void *user)
{
  g_string_append_len (user, data, (gssize) (size * n));
  return size * n;
}

static size_t
on_header (char *data, size_t size, size_t n, void *user)
{
  MmResponse *r = user;
  g_autofree char *line = g_strndup (data, size * n);
  char *colon = strchr (line, ':');

  if (colon != NULL)
    {
      char *value = g_strstrip (colon + 1);

      *colon = '\0';
      if (g_ascii_strcasecmp (line, "Allow") == 0)
        set_str (&r->allow, value);
      else if (g_ascii_strcasecmp (line, "Retry-After") == 0)
        set_str (&r->retry_after, value);
      else if (g_ascii_strcasecmp (line, "Cache-Control") == 0)
        set_str (&r->cache_control, value);
      else if (g_ascii_strcasecmp (line, "Content-Range") == 0)
        set_str (&r->content_range, value);
      else if (g_ascii_strcasecmp (line, "Accept-Ranges") == 0)
        set_str (&r->accept_ranges, value);
    }
  return size * n;
}

/* A configured easy handle for one request; its body goes to @buf and its
 * headers to @out.  *@headers must be freed after the transfer.  @body is
 * not copied: it must outlive the transfer. */
static CURL *
easy_new (MmHarness *h, const char *method, const char *path, const char *token,
          const char *content_type, const char *body, gsize len, GString *buf,
          MmResponse *out, struct curl_slist **headers)
{
  CURL *curl = curl_easy_init ();
  g_autofree char *url = g_strdup_printf ("%s%s", h->base_url, path);

  *headers = NULL;
  curl_easy_setopt (curl, CURLOPT_URL, url);
  curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt (curl, CURLOPT_PATH_AS_IS, 1L);
  if (g_str_equal (method, "HEAD"))
    curl_easy_setopt (curl, CURLOPT_NOBODY, 1L);
  curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt (curl, CURLOPT_WRITEDATA, buf);
  curl_easy_setopt (curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt (curl, CURLOPT_HEADERDATA, out);
  curl_easy_setopt (curl, CURLOPT_TIMEOUT, 60L);
  if (token != NULL)
    {
      g_autofree char *auth = g_strdup_printf ("Authorization: Bearer %s", token);
      *headers = curl_slist_append (*headers, auth);
    }
  if (body != NULL)
    {
      g_autofree char *ctype = g_strdup_printf ("Content-Type: %s", content_type);
      *headers = curl_slist_append (*headers, ctype);
      curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body);
      curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
    }
  if (h->forwarded_for != NULL)
    {
      g_autofree char *xff = g_strdup_printf ("X-Forwarded-For: %s", h->forwarded_for);
      *headers = curl_slist_append (*headers, xff);
    }
  *headers = curl_slist_append (*headers, "Expect:");
  curl_easy_setopt (curl, CURLOPT_HTTPHEADER, *headers);
  return curl;
}

/* Fill @out from a finished transfer; takes @buf. */
static void
response_done (CURL *curl, CURLcode rc, GString *buf, MmResponse *out)
{
  const char *ct = NULL;

  if (rc != CURLE_OK)
    out->status = -1;
  else
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &out->status);
  if (curl_easy_getinfo (curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL)
    out->content_type = g_strdup (ct);
  out->body_len = buf->len;
  out->body = g_string_free (buf, FALSE);
  if (out->content_type != NULL && g_str_has_prefix (out->content_type, "application/json"))
    {
      g_autoptr (JsonParser) p = json_parser_new ();

      if (json_parser_load_from_data (p, out->body, -1, NULL) && json_parser_get_root (p))
        out->json = json_node_ref (json_parser_get_root (p));
    }
}

void
mm_http_raw (MmHarness *h, const char *method, const char *path, const char *token,
             const char *content_type, const char *body, gsize len, MmResponse *out)
{
  GString *buf = g_string_new (NULL);
  struct curl_slist *headers = NULL;
  CURL *curl;
  CURLcode rc;

  memset (out, 0, sizeof *out);
  curl = easy_new (h, method, path, token, content_type, body, len, buf, out, &headers);
  rc = curl_easy_perform (curl);
  response_done (curl, rc, buf, out);
  curl_slist_free_all (headers);
  curl_easy_cleanup (curl);
}

void
mm_http_range (MmHarness *h, const char *path, const char *token, const char *range,
               MmResponse *out)
{
  GString *buf = g_string_new (NULL);
  struct curl_slist *headers = NULL;
  CURL *curl;
  CURLcode rc;

  memset (out, 0, sizeof *out);
  curl = easy_new (h, "GET", path, token, NULL, NULL, 0, buf, out, &headers);
  if (range != NULL)
    curl_easy_setopt (curl, CURLOPT_RANGE, range);
  rc = curl_easy_perform (curl);
  response_done (curl, rc, buf, out);
  curl_slist_free_all (headers);
  curl_easy_cleanup (curl);
}

void
mm_http (MmHarness *h, const char *method, const char *path, const char *token,
         const char *body, MmResponse *out)
{
  mm_http_raw (h, method, path, token, "application/json", body, body ? strlen (body) : 0, out);
}

JsonNode *
mm_json_at (MmResponse *r, const char *path)
{
  g_auto (GStrv) parts = g_strsplit (path, ".", -1);
  JsonNode *node = r->json;

  for (guint i = 0; parts[i] != NULL && node != NULL; i++)
    {
      if (JSON_NODE_HOLDS_OBJECT (node))
        node = json_object_get_member (json_node_get_object (node), parts[i]);
      else if (JSON_NODE_HOLDS_ARRAY (node) && g_ascii_isdigit (parts[i][0]))
        {
          JsonArray *a = json_node_get_array (node);
          guint idx = (guint) g_ascii_strtoull (parts[i], NULL, 10);
          node = idx < json_array_get_length (a) ? json_array_get_element (a, idx) : NULL;
        }
      else
        node = NULL;
    }
  return node;
}

const char *
mm_json_str (MmResponse *r, const char *path)
{
  JsonNode *n = mm_json_at (r, path);
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
           ? json_node_get_string (n) : NULL;
}

gint64
mm_json_int (MmResponse *r, const char *path)
{
  JsonNode *n = mm_json_at (r, path);
  return n && JSON_NODE_HOLDS_VALUE (n) ? json_node_get_int (n) : -1;
}

const char *
mm_error_code (MmResponse *r)
{
  return mm_json_str (r, "error.code");
}

/* ---- common steps ------------------------------------------------------ */

char *
mm_test_register (MmHarness *h, const char *name, char **email_out)
{
  static gint counter;
  g_autofree char *email = g_strdup_printf ("user%d-%u@example.com",
                                            g_atomic_int_add (&counter, 1), g_random_int ());
  g_autofree char *body = g_strdup_printf ("{\"name\":\"%s\",\"email\":\"%s\","
                                           "\"password\":\"correct horse\"}", name, email);
  g_auto (MmResponse) r = { 0 };

  mm_http (h, "POST", "/api/v1/auth/register", NULL, body, &r);
  g_assert_cmpint (r.status, ==, 201);
  if (email_out != NULL)
    *email_out = g_steal_pointer (&email);
  return g_strdup (mm_json_str (&r, "token"));
}

char *
mm_test_room (MmHarness *h, const char *token, const char *body)
{
  g_auto (MmResponse) r = { 0 };

  mm_http (h, "POST", "/api/v1/rooms", token, body ? body : "{\"title\":\"Test room\"}", &r);
  g_assert_cmpint (r.status, ==, 201);
  return g_strdup (mm_json_str (&r, "room.code"));
}

void
mm_joined_clear (MmJoined *j)
{
  g_clear_pointer (&j->id, g_free);
  g_clear_pointer (&j->secret, g_free);
  g_clear_pointer (&j->events, g_free);
  g_clear_pointer (&j->messages, g_free);
  g_clear_pointer (&j->leave, g_free);
}

void
mm_test_join (MmHarness *h, const char *code, const char *token, const char *name,
              MmJoined *out)
{
  g_autofree char *path = g_strdup_printf ("/api/v1/rooms/%s/join", code);
  g_autofree char *body = name ? g_strdup_printf ("{\"display_name\":\"%s\"}", name) : NULL;
  g_auto (MmResponse) r = { 0 };

  mm_http (h, "POST", path, token, body, &r);
  g_assert_cmpint (r.status, ==, 201);
  out->id = g_strdup (mm_json_str (&r, "participant.id"));
  out->secret = g_strdup (mm_json_str (&r, "secret"));
  out->events = g_strdup (mm_json_str (&r, "signalling.events"));
  out->messages = g_strdup (mm_json_str (&r, "signalling.messages"));
  out->leave = g_strdup (mm_json_str (&r, "signalling.leave"));
  g_assert_nonnull (out->secret);
}

/* ---- many requests at once --------------------------------------------- */

typedef struct {
  MmMulti *multi;
  CURL *curl;
  struct curl_slist *headers;
  GString *buf;
  char *body;
  MmResponse resp;
  gboolean sent;
  gboolean done;
  gint64 done_at;
} MultiReq;

struct _MmMulti {
  MmHarness *h;
  CURLM *curlm;
  GPtrArray *reqs;       /* MultiReq* (owned) */
  guint n_settled;        /* sent, or finished without being sent */
  guint n_done;
};

static void
multi_req_free (gpointer data)
{
  MultiReq *r = data;

  if (r->curl != NULL)
    {
      curl_multi_remove_handle (r->multi->curlm, r->curl);
      curl_easy_cleanup (r->curl);
    }
  if (r->buf != NULL)
    g_string_free (r->buf, TRUE);
  curl_slist_free_all (r->headers);
  g_free (r->body);
  mm_response_clear (&r->resp);
  g_free (r);
}

MmMulti *
mm_multi_new (MmHarness *h)
{
  MmMulti *m = g_new0 (MmMulti, 1);

  m->h = h;
  m->curlm = curl_multi_init ();
  m->reqs = g_ptr_array_new_with_free_func (multi_req_free);
  return m;
}

void
mm_multi_free (MmMulti *m)
{
  if (m == NULL)
    return;
  g_ptr_array_unref (m->reqs);
  curl_multi_cleanup (m->curlm);
  g_free (m);
}

/* The request line and headers went out: the request has been sent. */
static int
on_debug (CURL *curl, curl_infotype type, char *data, size_t size, void *user)
{
  MultiReq *r = user;

  if (type == CURLINFO_HEADER_OUT && !r->sent)
    {
      r->sent = TRUE;
      r->multi->n_settled++;
    }
  return 0;
}

guint
mm_multi_add (MmMulti *m, const char *method, const char *path, const char *token,
              const char *body)
{
  MultiReq *r = g_new0 (MultiReq, 1);

  r->multi = m;
  r->buf = g_string_new (NULL);
  r->body = g_strdup (body);
  r->curl = easy_new (m->h, method, path, token, "application/json", r->body,
                      body ? strlen (body) : 0, r->buf, &r->resp, &r->headers);
  curl_easy_setopt (r->curl, CURLOPT_PRIVATE, r);
  curl_easy_setopt (r->curl, CURLOPT_DEBUGFUNCTION, on_debug);
  curl_easy_setopt (r->curl, CURLOPT_DEBUGDATA, r);
  curl_easy_setopt (r->curl, CURLOPT_VERBOSE, 1L);
  curl_multi_add_handle (m->curlm, r->curl);
  g_ptr_array_add (m->reqs, r);
  return m->reqs->len - 1;
}

static void
multi_req_done (MultiReq *r, CURLcode rc)
{
  response_done (r->curl, rc, g_steal_pointer (&r->buf), &r->resp);
  curl_multi_remove_handle (r->multi->curlm, r->curl);
  curl_easy_cleanup (g_steal_pointer (&r->curl));
  if (!r->sent)
    r->multi->n_settled++;
  r->done = TRUE;
  r->done_at = g_get_monotonic_time ();
  r->multi->n_done++;
}

static gboolean
multi_reached (MmMulti *m, MmMultiUntil until, guint done_before)
{
  switch (until)
    {
    case MM_MULTI_ALL_SENT:
      return m->n_settled == m->reqs->len;
    case MM_MULTI_ALL_DONE:
      return m->n_done == m->reqs->len;
    case MM_MULTI_ANY_DONE:
      return m->n_done > done_before;
    }
  return TRUE;
}

gboolean
mm_multi_run (MmMulti *m, guint timeout_ms, MmMultiUntil until)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  guint done_before = m->n_done;

  for (;;)
    {
      CURLMsg *msg;
      int running, left;
      gint64 now;

      curl_multi_perform (m->curlm, &running);
      while ((msg = curl_multi_info_read (m->curlm, &left)) != NULL)
        if (msg->msg == CURLMSG_DONE)
          {
            MultiReq *r = NULL;

            curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, (char **) &r);
            multi_req_done (r, msg->data.result);
          }
      if (multi_reached (m, until, done_before))
        return TRUE;
      now = g_get_monotonic_time ();
      if (now >= deadline)
        return FALSE;
      curl_multi_poll (m->curlm, NULL, 0, (int) MIN (100, (deadline - now + 999) / 1000), NULL);
    }
}

guint
mm_multi_n_done (MmMulti *m)
{
  return m->n_done;
}

MmResponse *
mm_multi_response (MmMulti *m, guint i)
{
  MultiReq *r = g_ptr_array_index (m->reqs, i);

  return r->done ? &r->resp : NULL;
}

gint64
mm_multi_done_at (MmMulti *m, guint i)
{
  MultiReq *r = g_ptr_array_index (m->reqs, i);

  return r->done_at;
}

/* ---- helpers of the tests with other servers --------------------------- */

char *
mm_test_src_path (const char *first, ...)
{
  const char *src = env_or ("MM_TEST_SRCDIR", ".");
  g_autofree char *cwd = g_get_current_dir ();
  g_autofree char *top = g_path_is_absolute (src) ? g_strdup (src)
                                                  : g_build_filename (cwd, src, NULL);
  g_autoptr (GString) path = g_string_new (top);
  va_list ap;

  va_start (ap, first);
  for (const char *p = first; p != NULL; p = va_arg (ap, const char *))
    {
      g_string_append_c (path, G_DIR_SEPARATOR);
      g_string_append (path, p);
    }
  va_end (ap);
  return g_string_free (g_steal_pointer (&path), FALSE);
}

void
mm_test_make_certificate (const char *cert, const char *key)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *err = NULL;
  const char *argv[] = { "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                         "-days", "2", "-subj", "/CN=localhost",
                         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                         "-keyout", key, "-out", cert, NULL };
  int status;

  if (!g_spawn_sync (NULL, (char **) argv, NULL,
                     G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err,
                     &status, &error))
    g_error ("cannot run openssl (Debian: openssl): %s", error->message);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("openssl req failed: %s", err);
}

void
mm_test_wait_tcp (guint16 port, guint timeout_s, const char *what, const char *log)
{
  for (guint i = 0; i < timeout_s * 20; i++)
    {
      g_autoptr (GSocketClient) c = g_socket_client_new ();
      g_autoptr (GSocketConnection) conn =
        g_socket_client_connect_to_host (c, "127.0.0.1", port, NULL, NULL);

      if (conn != NULL)
        return;
      g_usleep (50000);
    }
  g_error ("%s did not listen on port %u; see %s", what, port, log);
}

/* The child dies with the test program, even a killed one. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

GPid
mm_test_spawn_logged (const char *const *argv, const char *log, const char *package)
{
  g_autoptr (GError) error = NULL;
  int fd = g_open (log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  GPid pid = 0;

  if (fd < 0)
    g_error ("cannot open %s: %s", log, g_strerror (errno));
  if (!g_spawn_async_with_fds (NULL, (char **) argv, NULL,
                               G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, die_with_parent,
                               NULL, &pid, -1, fd, fd, &error))
    g_error ("cannot start %s (Debian: %s): %s", argv[0], package, error->message);
  close (fd);
  return pid;
}

void
mm_test_stop_child (GPid *pid, int sig)
{
  int status;

  if (*pid <= 0)
    return;
  kill (*pid, sig);
  waitpid (*pid, &status, 0);
  g_spawn_close_pid (*pid);
  *pid = 0;
}

char *
mm_test_web_client_dir (void)
{
  g_autofree char *cwd = g_get_current_dir ();
  g_autofree char *built = g_build_filename (cwd, "www", "dist", NULL);

  if (g_file_test (built, G_FILE_TEST_IS_DIR))
    return g_steal_pointer (&built);
  return mm_test_src_path ("www", "dist", NULL);
}

char *
mm_test_browser_node (const char *what)
{
  g_autofree char *modules = mm_test_src_path ("tests", "browser", "node_modules",
                                               "playwright-core", NULL);
  g_autofree char *node = g_find_program_in_path ("node");

  if (node != NULL && g_file_test (modules, G_FILE_TEST_IS_DIR)
      && g_file_test ("/usr/bin/chromium", G_FILE_TEST_IS_EXECUTABLE))
    return g_steal_pointer (&node);
  /* CI installs them (quickstart.sh): there the test must run. */
  if (g_getenv ("CI") != NULL)
    g_error ("%s needs node, tests/browser/node_modules and /usr/bin/chromium", what);
  g_test_skip ("needs node, npm ci in tests/browser and Debian's chromium "
               "(./quickstart.sh check installs them)");
  return NULL;
}
