/* test-recovery.c — mixmeetd when PostgreSQL goes away and comes back,
 * when it is down at start-up, and when the server is stopped with
 * long-polls waiting.  Its own harness: it stops the database. */
#include "config.h"

#include "harness.h"

#include <glib/gstdio.h>
#include <string.h>

static MmHarness h;

static double
seconds_since (gint64 t)
{
  return (double) (g_get_monotonic_time () - t) / G_USEC_PER_SEC;
}

/* One request, timed; returns the seconds it took. */
static double
timed_http (const char *method, const char *path, const char *token, const char *body,
            MmResponse *r)
{
  gint64 t0 = g_get_monotonic_time ();

  mm_http (&h, method, path, token, body, r);
  return seconds_since (t0);
}

/* @path needs the database: a 503 database_unavailable, not a hang (the
 * bounds here are generous, for a busy machine: a hang is a request held
 * until a timeout of the database client, or for ever). */
static void
expect_db_unavailable (const char *method, const char *path, const char *token, const char *body)
{
  g_auto (MmResponse) r = { 0 };
  double took = timed_http (method, path, token, body, &r);

  if (r.status != 503)
    g_test_message ("%s %s: %s", method, path, r.body);
  g_assert_cmpint (r.status, ==, 503);
  g_assert_cmpstr (mm_error_code (&r), ==, "database_unavailable");
  g_assert_cmpfloat (took, <, 10);
}

static void
expect_status (const char *method, const char *path, const char *token, const char *body,
               long status)
{
  g_auto (MmResponse) r = { 0 };

  mm_http (&h, method, path, token, body, &r);
  if (r.status != status)
    g_test_message ("%s %s: %s", method, path, r.body);
  g_assert_cmpint (r.status, ==, status);
}

/* Poll /readyz until it answers 200, for at most @timeout_s; returns the
 * seconds it took, or -1. */
static double
wait_ready (guint timeout_s)
{
  gint64 t0 = g_get_monotonic_time ();

  while (seconds_since (t0) < timeout_s)
    {
      g_auto (MmResponse) r = { 0 };

      mm_http (&h, "GET", "/readyz", NULL, NULL, &r);
      if (r.status == 200)
        return seconds_since (t0);
      g_assert_cmpint (r.status, ==, 503);
      g_assert_cmpstr (mm_error_code (&r), ==, "database_unavailable");
      g_usleep (100000);
    }
  return -1;
}

/* ---- the server log -------------------------------------------------- */

static char *
log_path (void)
{
  return g_build_filename (h.dir, "mixmeetd.log", NULL);
}

static gsize
log_size (void)
{
  g_autofree char *path = log_path ();
  GStatBuf st;

  return g_stat (path, &st) == 0 ? (gsize) st.st_size : 0;
}

/* What the server logged from byte @offset on.  (transfer full) */
static char *
log_since (gsize offset)
{
  g_autofree char *path = log_path ();
  g_autofree char *text = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &text, &len, NULL) || offset > len)
    return g_strdup ("");
  return g_strdup (text + offset);
}

/* Wait until the log after @offset contains @needle. */
static gboolean
wait_log (gsize offset, const char *needle, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  for (;;)
    {
      g_autofree char *text = log_since (offset);

      if (strstr (text, needle) != NULL)
        return TRUE;
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_usleep (50000);
    }
}

/* ---- common steps ---------------------------------------------------- */

static char *
login_body (const char *email)
{
  return g_strdup_printf ("{\"email\":\"%s\",\"password\":\"correct horse\"}", email);
}

/* @n concurrent GET /api/v1/auth/me: more than the pool has connections,
 * so every pooled connection is used. */
static void
expect_me_concurrently (const char *token, guint n, long status)
{
  g_autoptr (MmMulti) m = mm_multi_new (&h);

  for (guint i = 0; i < n; i++)
    mm_multi_add (m, "GET", "/api/v1/auth/me", token, NULL);
  g_assert_true (mm_multi_run (m, 20000, MM_MULTI_ALL_DONE));
  for (guint i = 0; i < n; i++)
    {
      MmResponse *r = mm_multi_response (m, i);

      if (r->status != status)
        g_test_message ("concurrent request %u of %u: %s", i, n, r->body);
      g_assert_cmpint (r->status, ==, status);
    }
}

static char *
events_path (MmJoined *j, guint64 since, int timeout)
{
  if (timeout >= 0)
    return g_strdup_printf ("%s?since=%" G_GUINT64_FORMAT "&timeout=%d", j->events, since,
                            timeout);
  return g_strdup_printf ("%s?since=%" G_GUINT64_FORMAT, j->events, since);
}

/* ---- 1. the database goes away while the server runs ------------------ */

static void
test_database_stopped (void)
{
  g_autofree char *email = NULL;
  g_autofree char *token = mm_test_register (&h, "Rita", &email);
  g_autofree char *login = login_body (email);
  g_autofree char *code = mm_test_room (&h, token, NULL);
  g_autofree char *room_path = g_strdup_printf ("/api/v1/rooms/%s", code);
  g_autofree char *join_path = g_strdup_printf ("/api/v1/rooms/%s/join", code);
  g_autofree char *waiting = NULL;
  g_autofree char *state_seen = NULL;
  g_auto (MmJoined) a = { 0 };
  g_auto (MmJoined) b = { 0 };
  g_auto (MmResponse) health = { 0 };
  g_auto (MmResponse) poll = { 0 };
  g_auto (MmResponse) state = { 0 };
  g_auto (MmResponse) seen = { 0 };
  g_auto (MmResponse) relogin = { 0 };
  g_auto (MmResponse) chat_back = { 0 };
  double took;

  mm_test_join (&h, code, token, NULL, &a);
  mm_test_join (&h, code, NULL, "Guest", &b);
  /* Open every pooled connection: they all go stale below. */
  expect_me_concurrently (token, 12, 200);

  mm_harness_pg_stop (&h);

  for (int round = 0; round < 2; round++)
    {
      expect_db_unavailable ("POST", "/api/v1/auth/login", NULL, login);
      expect_db_unavailable ("GET", "/api/v1/auth/me", token, NULL);
      expect_db_unavailable ("POST", "/api/v1/rooms", token, "{\"title\":\"During the outage\"}");
      expect_db_unavailable ("GET", room_path, NULL, NULL);
      expect_db_unavailable ("POST", join_path, NULL, "{\"display_name\":\"Late\"}");
      expect_db_unavailable ("GET", "/readyz", NULL, NULL);
      expect_db_unavailable ("POST", a.messages, a.secret, "{\"type\":\"chat\",\"text\":\"hi\"}");
    }
  /* Under load too: no request waits for long. */
  {
    g_autoptr (MmMulti) m = mm_multi_new (&h);
    gint64 t0 = g_get_monotonic_time ();

    for (guint i = 0; i < 12; i++)
      mm_multi_add (m, "POST", "/api/v1/auth/login", NULL, login);
    g_assert_true (mm_multi_run (m, 30000, MM_MULTI_ALL_DONE));
    g_assert_cmpfloat (seconds_since (t0), <, 10);
    for (guint i = 0; i < 12; i++)
      {
        g_assert_cmpint (mm_multi_response (m, i)->status, ==, 503);
        g_assert_cmpstr (mm_error_code (mm_multi_response (m, i)), ==, "database_unavailable");
      }
  }

  /* Liveness does not depend on the database ... */
  took = timed_http ("GET", "/healthz", NULL, NULL, &health);
  g_assert_cmpint (health.status, ==, 200);
  g_assert_cmpfloat (took, <, 10);
  /* ... nor does signalling: A has B's arrival (seq 1), then nothing. */
  waiting = events_path (&a, 1, 1);
  took = timed_http ("GET", waiting, a.secret, NULL, &poll);
  g_assert_cmpint (poll.status, ==, 200);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (mm_json_at (&poll, "events"))), ==, 0);
  g_assert_cmpint (mm_json_int (&poll, "last_seq"), ==, 1);
  g_assert_cmpfloat (took, <, 10);
  mm_http (&h, "POST", b.messages, b.secret, "{\"type\":\"state\",\"hand_raised\":true}", &state);
  g_assert_cmpint (state.status, ==, 200);
  state_seen = events_path (&a, 1, 1);
  mm_http (&h, "GET", state_seen, a.secret, NULL, &seen);
  g_assert_cmpint (seen.status, ==, 200);
  g_assert_cmpstr (mm_json_str (&seen, "events.0.type"), ==, "participant-state");
  g_assert_cmpstr (mm_json_str (&seen, "events.0.participant.id"), ==, b.id);

  /* The database comes back: the same server recovers by itself. */
  mm_harness_pg_start (&h);
  took = wait_ready (60);
  g_test_message ("ready again %.3f s after PostgreSQL restarted", took);
  g_assert_cmpfloat (took, >=, 0);
  mm_http (&h, "POST", "/api/v1/auth/login", NULL, login, &relogin);
  g_assert_cmpint (relogin.status, ==, 200);
  g_assert_nonnull (mm_json_str (&relogin, "token"));
  /* Every pooled connection works again, not only the one /readyz used. */
  expect_me_concurrently (token, 12, 200);
  mm_http (&h, "POST", a.messages, a.secret, "{\"type\":\"chat\",\"text\":\"back\"}", &chat_back);
  g_assert_cmpint (chat_back.status, ==, 201);
}

/* ---- 2. the database is down when the server starts ------------------- */

static void
test_database_down_at_start (void)
{
  g_autofree char *email = NULL;
  g_autofree char *token = mm_test_register (&h, "Stan", &email);
  g_autofree char *login = login_body (email);
  g_autofree char *text = NULL;
  g_auto (MmResponse) health = { 0 };
  g_auto (MmResponse) relogin = { 0 };
  gsize offset;
  gint64 t_pg;
  double took;

  g_assert_cmpint (mm_harness_stop_server (&h), ==, 0);
  mm_harness_pg_stop (&h);
  offset = log_size ();
  mm_harness_start_server_nowait (&h);

  took = timed_http ("GET", "/healthz", NULL, NULL, &health);
  g_assert_cmpint (health.status, ==, 200);
  g_assert_cmpfloat (took, <, 10);
  expect_db_unavailable ("GET", "/readyz", NULL, NULL);
  expect_db_unavailable ("POST", "/api/v1/auth/login", NULL, login);
  expect_db_unavailable ("GET", "/api/v1/auth/me", token, NULL);

  /* It says why, and keeps trying with back-off: the second attempt comes
   * a second after the first and announces a 2 s wait. */
  g_assert_true (wait_log (offset, "cannot reach the database", 60000));
  g_assert_true (wait_log (offset, "retrying in 2 s", 60000));
  expect_db_unavailable ("GET", "/readyz", NULL, NULL);

  mm_harness_pg_start (&h);
  t_pg = g_get_monotonic_time ();
  took = wait_ready (90);
  g_test_message ("ready %.3f s after PostgreSQL started", seconds_since (t_pg));
  g_assert_cmpfloat (took, >=, 0);
  text = log_since (offset);
  g_assert_nonnull (strstr (text, "database ready (0 migrations applied now)"));
  mm_http (&h, "POST", "/api/v1/auth/login", NULL, login, &relogin);
  g_assert_cmpint (relogin.status, ==, 200);
}

/* ---- 3. SIGTERM with long-polls waiting ------------------------------- */

typedef struct {
  int status;
  double took;
} Stop;

static gpointer
stop_server (gpointer data)
{
  Stop *s = data;
  gint64 t0 = g_get_monotonic_time ();

  s->status = mm_harness_stop_server (&h);
  s->took = seconds_since (t0);
  return NULL;
}

static guint
count_migration_files (void)
{
  const char *src = g_getenv ("MM_TEST_SRCDIR");
  g_autofree char *dir = g_build_filename (src != NULL && *src != '\0' ? src : ".", "sql", NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr (GRegex) re = g_regex_new ("^[0-9]{3,}_.*\\.sql$", 0, 0, NULL);
  const char *name;
  guint n = 0;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    if (g_regex_match (re, name, 0, NULL))
      {
        g_autofree char *sql = g_strdup_printf (
            "SELECT count(*) FROM schema_migrations WHERE name = '%s'", name);
        g_autofree char *count = mm_harness_sql (&h, sql);

        g_assert_cmpstr (count, ==, "1");
        n++;
      }
  return n;
}

static void
test_sigterm (void)
{
  g_autofree char *email = NULL;
  g_autofree char *token = mm_test_register (&h, "Tess", &email);
  g_autofree char *login = login_body (email);
  g_autofree char *code = mm_test_room (&h, token, NULL);
  g_autofree char *ids = NULL;
  g_autofree char *sql = NULL;
  g_autofree char *closed = NULL;
  g_autofree char *open_p = NULL;
  g_autofree char *open_m = NULL;
  g_autofree char *n_applied = NULL;
  g_autofree char *text = NULL;
  g_autofree char *old_events = NULL;
  g_autoptr (MmMulti) m = mm_multi_new (&h);
  MmJoined people[3] = { 0 };
  g_auto (MmJoined) fresh = { 0 };
  g_auto (MmResponse) relogin = { 0 };
  g_auto (MmResponse) gone = { 0 };
  g_autofree char *fresh_code = NULL;
  /* Each one's last seq: everyone who joined later announced itself. */
  const guint64 seqs[3] = { 2, 1, 0 };
  Stop stop = { 0 };
  GThread *thread;
  gsize offset;
  guint n_files;

  mm_test_join (&h, code, token, NULL, &people[0]);
  mm_test_join (&h, code, NULL, "Guest B", &people[1]);
  mm_test_join (&h, code, NULL, "Guest C", &people[2]);
  for (guint i = 0; i < 6; i++)
    {
      g_autofree char *path = events_path (&people[i % 3], seqs[i % 3], -1);
      mm_multi_add (m, "GET", path, people[i % 3].secret, NULL);
    }
  g_assert_true (mm_multi_run (m, 5000, MM_MULTI_ALL_SENT));
  /* They are all held (the long-poll timeout is the default 25 s). */
  g_assert_false (mm_multi_run (m, 300, MM_MULTI_ANY_DONE));

  thread = g_thread_new ("stop", stop_server, &stop);
  /* Answered before their 25 s timeout, and the server stopped well
   * before it too (generous bounds, for a busy machine). */
  g_assert_true (mm_multi_run (m, 20000, MM_MULTI_ALL_DONE));
  g_thread_join (thread);
  g_test_message ("stopped with status %d in %.3f s", stop.status, stop.took);
  g_assert_cmpint (stop.status, ==, 0);
  g_assert_cmpfloat (stop.took, <, 15);
  for (guint i = 0; i < 6; i++)
    {
      MmResponse *r = mm_multi_response (m, i);

      if (r->status == 200)
        {
          g_assert_cmpuint (json_array_get_length (json_node_get_array (mm_json_at (r, "events"))), ==, 0);
          g_assert_cmpint (mm_json_int (r, "last_seq"), ==, (gint64) seqs[i % 3]);
        }
      else if (r->status == 503)
        g_assert_cmpstr (mm_error_code (r), ==, "shutting_down");
      else
        {
          /* -1: the connection broke without an answer. */
          g_test_message ("waiting poll %u: %s", i, r->body);
          g_assert_cmpint (r->status, ==, 200);
        }
    }

  /* The store knows that they all left when the server stopped. */
  ids = g_strdup_printf ("'%s', '%s', '%s'", people[0].id, people[1].id, people[2].id);
  sql = g_strdup_printf ("SELECT count(*) FROM participations WHERE id IN (%s) "
                         "AND left_at IS NOT NULL AND left_reason = 'shutdown'", ids);
  closed = mm_harness_sql (&h, sql);
  g_assert_cmpstr (closed, ==, "3");
  open_p = mm_harness_sql (&h, "SELECT count(*) FROM participations WHERE left_at IS NULL");
  g_assert_cmpstr (open_p, ==, "0");
  open_m = mm_harness_sql (&h, "SELECT count(*) FROM meetings WHERE ended_at IS NULL");
  g_assert_cmpstr (open_m, ==, "0");

  /* A restarted server serves again, without applying a migration twice
   * and with nothing left open to clean up. */
  offset = log_size ();
  mm_harness_start_server (&h);
  g_assert_true (wait_log (offset, "database ready", 30000));
  text = log_since (offset);
  g_assert_nonnull (strstr (text, "database ready (0 migrations applied now)"));
  g_assert_null (strstr (text, "applied migration"));
  g_assert_null (strstr (text, "left open by an earlier run"));
  n_files = count_migration_files ();
  g_assert_cmpuint (n_files, >=, 1);
  n_applied = mm_harness_sql (&h, "SELECT count(*) FROM schema_migrations");
  g_assert_cmpint (g_ascii_strtoll (n_applied, NULL, 10), ==, n_files);

  mm_http (&h, "POST", "/api/v1/auth/login", NULL, login, &relogin);
  g_assert_cmpint (relogin.status, ==, 200);
  fresh_code = mm_test_room (&h, token, NULL);
  mm_test_join (&h, fresh_code, token, NULL, &fresh);
  expect_status ("POST", fresh.leave, fresh.secret, NULL, 204);
  /* Participants do not outlive the server. */
  old_events = events_path (&people[0], 0, 1);
  mm_http (&h, "GET", old_events, people[0].secret, NULL, &gone);
  g_assert_cmpint (gone.status, ==, 404);
  g_assert_cmpstr (mm_error_code (&gone), ==, "participant_not_found");
  for (guint i = 0; i < 3; i++)
    mm_joined_clear (&people[i]);
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  mm_harness_start (&h, NULL);
  g_test_add_func ("/recovery/database-stopped", test_database_stopped);
  g_test_add_func ("/recovery/database-down-at-start", test_database_down_at_start);
  g_test_add_func ("/recovery/sigterm", test_sigterm);
  rc = g_test_run ();
  mm_harness_stop (&h);
  return rc;
}
