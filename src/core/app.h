/* app.h — the process-wide state of mixmeetd, and how work crosses
 * between threads.
 *
 * Threads: libmicrohttpd's polling thread parses, validates and suspends;
 * a pool of worker threads runs handlers that touch the database or hash
 * passwords; the main loop (app->ctx) owns rooms, participants and their
 * event queues.  mm_app_run_main() and mm_app_run_worker() hand work over.
 */
#pragma once

#include <glib.h>

#include "core/cidr.h"
#include "core/options.h"
#include "core/throttle.h"
#include "http/router.h"

G_BEGIN_DECLS

typedef struct _MmDb MmDb;
typedef struct _MmRooms MmRooms;
typedef struct _MmServer MmServer;
typedef struct _MmTransport MmTransport;

struct _MmApp {
  MmOptions *opts;           /* owned */
  GMainContext *ctx;         /* the main loop's context */
  GMainLoop *loop;
  MmDb *db;                  /* thread-safe pool */
  GThreadPool *workers;
  MmRooms *rooms;            /* main loop only */
  MmThrottle *login_by_email;
  MmThrottle *login_by_ip;
  MmThrottle *register_by_ip;  /* [limits]: counts of requests, not failures */
  MmThrottle *rooms_by_user;
  MmThrottle *joins_by_ip;
  MmThrottle *chat_by_participant;
  MmCidrList *trusted_proxies; /* [server] trusted-proxies, parsed */
  MmServer *server;
  gint shutting_down;        /* atomic */
  gint db_ready;             /* atomic: migrations applied */
  guint8 link_key[32];       /* signs links to recordings; new each start */
  MmCidrList *metrics_allow; /* [metrics] allow, parsed (owned) */
  MmTransport *transport;    /* every room's WebRTC, on one UDP port (owned) */
};

typedef void (*MmWorkFunc) (MmApp *app, gpointer data);

/* Run @func(@app, @data) on the main loop; @destroy frees @data after. */
void mm_app_run_main (MmApp *app, MmWorkFunc func, gpointer data, GDestroyNotify destroy);

/* Run @func(@app, @data) on a worker thread; @destroy frees @data after. */
void mm_app_run_worker (MmApp *app, MmWorkFunc func, gpointer data, GDestroyNotify destroy);

/* The function of app->workers, a GThreadPool created with it. */
void mm_app_worker_thread (gpointer work, gpointer unused);

/* Run @route's handler for @req where the route says. */
void mm_app_dispatch (MmApp *app, const MmRoute *route, MmRequest *req);

/* Monotonic time in milliseconds and wall-clock time in ms since the epoch. */
gint64 mm_now_ms (void);
gint64 mm_wall_ms (void);

/* @wall_ms as the API shows times: "2026-11-22T04:39:31.780Z".
 * Returns: (transfer full) */
char *mm_iso8601 (gint64 wall_ms);

G_END_DECLS
