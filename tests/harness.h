/* harness.h — a real PostgreSQL and a real mixmeetd for the tests.
 *
 * mm_harness_start() makes a private cluster in a temporary directory
 * (tests/pg.sh), writes a config file and starts the built mixmeetd on
 * 127.0.0.1 with a free port, then waits until /readyz answers 200.
 * Requests go over HTTP with libcurl.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct {
  char *dir;          /* temporary directory, removed by stop */
  char *pg_dir;
  char *conninfo;
  char *config;       /* path of the config file */
  GPid pid;           /* mixmeetd */
  guint16 port;
  char *base_url;     /* http://127.0.0.1:PORT */
  const char *forwarded_for; /* (nullable) sent as X-Forwarded-For by mm_http */
} MmHarness;

/* Start PostgreSQL and mixmeetd.  @extra_config: (nullable) more GKeyFile
 * text appended to the generated config (e.g. "[signalling]\n...").
 * Aborts the test program with a message if anything fails. */
void mm_harness_start (MmHarness *h, const char *extra_config);
/* SIGTERM mixmeetd and wait; returns its exit status (or -1). */
int mm_harness_stop_server (MmHarness *h);
/* Start mixmeetd again on a new port (same database). */
void mm_harness_start_server (MmHarness *h);
/* Restart it with @from replaced by @to in its configuration file. */
void mm_harness_restart_with (MmHarness *h, const char *from, const char *to);
/* SIGKILL mixmeetd (a crash) and reap it. */
void mm_harness_kill_server (MmHarness *h);
/* The same, but wait only until it listens (its port file), not until
 * /readyz answers 200: for a server whose database is down. */
void mm_harness_start_server_nowait (MmHarness *h);
void mm_harness_stop (MmHarness *h);

/* Called when a failed assertion aborts the test program, after the
 * server is killed (bots.c kills its bots here). */
extern void (*mm_harness_abort_hook) (void);

void mm_harness_pg_stop (MmHarness *h);
void mm_harness_pg_start (MmHarness *h);

/* Run @sql through libpq on the test database; returns the first column
 * of the first row (transfer full) or NULL. */
char *mm_harness_sql (MmHarness *h, const char *sql);

typedef struct {
  long status;
  char *body;          /* raw body (transfer full in the struct) */
  JsonNode *json;      /* parsed body, NULL if not JSON */
  char *content_type;
  char *allow;         /* Allow header */
  char *retry_after;   /* Retry-After header */
  char *cache_control;
  char *content_range;
  char *accept_ranges;
  gsize body_len;      /* bytes in body (it may hold NULs) */
} MmResponse;

void mm_response_clear (MmResponse *r);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MmResponse, mm_response_clear)

/* One request.  @token: (nullable) sent as "Authorization: Bearer".
 * @body: (nullable) sent with Content-Type: application/json. */
void mm_http (MmHarness *h, const char *method, const char *path, const char *token,
              const char *body, MmResponse *out);

/* Same with a raw body of @len bytes and an explicit content type. */
void mm_http_raw (MmHarness *h, const char *method, const char *path, const char *token,
                  const char *content_type, const char *body, gsize len, MmResponse *out);

/* A GET of @path with "Range: bytes=@range" (@range as in "0-99", "-500";
 * NULL for none).  @path may carry its own query. */
void mm_http_range (MmHarness *h, const char *path, const char *token, const char *range,
                    MmResponse *out);

/* Helpers on the parsed JSON: a member by a path like "room.code". */
const char *mm_json_str (MmResponse *r, const char *path);
gint64 mm_json_int (MmResponse *r, const char *path);
JsonNode *mm_json_at (MmResponse *r, const char *path);   /* transfer none */
/* The error code of {"error": {"code": ...}} or NULL. */
const char *mm_error_code (MmResponse *r);

/* Register a new user with a unique e-mail; returns the token (transfer full). */
char *mm_test_register (MmHarness *h, const char *name, char **email_out);
/* Create a room as @token; returns its code (transfer full). */
char *mm_test_room (MmHarness *h, const char *token, const char *body);

typedef struct {
  char *id;
  char *secret;
  char *events;     /* path of the events endpoint */
  char *messages;
  char *leave;
} MmJoined;

void mm_joined_clear (MmJoined *j);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MmJoined, mm_joined_clear)

/* Join @code as @token's user or, with @token NULL, as guest @name. */
void mm_test_join (MmHarness *h, const char *code, const char *token, const char *name,
                   MmJoined *out);

/* Many requests at once over libcurl's multi interface, driven by
 * mm_multi_run() in the calling thread (for long-polls that must all be
 * waiting together). */
typedef struct _MmMulti MmMulti;

MmMulti *mm_multi_new (MmHarness *h);
void mm_multi_free (MmMulti *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MmMulti, mm_multi_free)

/* Queue a request as mm_http() would make it (@body is copied); it starts
 * on the next mm_multi_run().  Returns its index. */
guint mm_multi_add (MmMulti *m, const char *method, const char *path, const char *token,
                    const char *body);

typedef enum {
  MM_MULTI_ALL_SENT,   /* every request went out (or failed before) */
  MM_MULTI_ALL_DONE,   /* every request was answered (or failed) */
  MM_MULTI_ANY_DONE,   /* at least one more request finished in this call */
} MmMultiUntil;

/* Run the transfers until @until holds or @timeout_ms passed; TRUE if it
 * holds. */
gboolean mm_multi_run (MmMulti *m, guint timeout_ms, MmMultiUntil until);
guint mm_multi_n_done (MmMulti *m);
/* The response of request @i (status -1 on a transport error), or NULL
 * while it runs.  (transfer none) */
MmResponse *mm_multi_response (MmMulti *m, guint i);
/* When request @i finished (monotonic µs), 0 while it runs. */
gint64 mm_multi_done_at (MmMulti *m, guint i);

/* A path under the source tree (MM_TEST_SRCDIR, made absolute): the
 * components up to a NULL.  Returns: (transfer full) */
char *mm_test_src_path (const char *first, ...) G_GNUC_NULL_TERMINATED;

/* A self-signed certificate for localhost and 127.0.0.1, written by
 * `openssl req` to @cert with its key in @key (PEM).  Aborts if openssl
 * fails. */
void mm_test_make_certificate (const char *cert, const char *key);

/* Wait until something accepts TCP connections on 127.0.0.1:@port, at
 * most @timeout_s seconds; abort naming @what and @log otherwise. */
void mm_test_wait_tcp (guint16 port, guint timeout_s, const char *what, const char *log);

/* Start another server of a test (nginx, coturn): @argv looked up in PATH,
 * its stdout and stderr appended to @log, and killed by the kernel when the
 * test program dies, even killed.  Aborts naming @package (the Debian
 * package to install) if it cannot start.  Returns its pid; stop it with
 * mm_test_stop_child. */
GPid mm_test_spawn_logged (const char *const *argv, const char *log, const char *package);

/* Send @sig to *@pid (if > 0), reap it and set *@pid to 0. */
void mm_test_stop_child (GPid *pid, int sig);

/* The built web client: www/dist of the build directory (a VPATH build
 * makes it there), else of the source tree.  Returns: (transfer full) */
char *mm_test_web_client_dir (void);

/* The node program for a browser test (playwright-core in tests/browser,
 * Debian's chromium), or NULL when they are missing: then the test is
 * skipped, except under CI (where quickstart.sh installs them), where it
 * aborts naming @what.  Returns: (transfer full) */
char *mm_test_browser_node (const char *what);

G_END_DECLS
