/* router.h — requests are routed through a table of
 * {method, path pattern, handler, thread}.  Patterns are paths whose
 * segments may be "{name}" placeholders: "/api/v1/rooms/{code}/join".
 */
#pragma once

#include <glib.h>

#include "http/request.h"

G_BEGIN_DECLS

typedef struct _MmApp MmApp;

typedef void (*MmHandlerFunc) (MmApp *app, MmRequest *req);

typedef enum {
  MM_RUN_WORKER,   /* a worker thread: may block on the database or bcrypt */
  MM_RUN_MAIN,     /* the main loop: owns rooms and signalling queues */
} MmRunOn;

typedef struct {
  const char *method;
  const char *pattern;
  MmHandlerFunc handler;
  MmRunOn run_on;
} MmRoute;

typedef enum {
  MM_ROUTE_FOUND,
  MM_ROUTE_NO_PATH,      /* 404 */
  MM_ROUTE_NO_METHOD,    /* 405; *allow lists the methods that exist */
} MmRouteMatch;

/* Find the route for @method and @path in @routes (@n entries).  On a
 * match, *@route is set and each placeholder's value is passed to
 * @set_param.  On MM_ROUTE_NO_METHOD, *@allow (transfer full) is the
 * comma-separated list for the Allow header.  HEAD matches GET routes. */
MmRouteMatch mm_router_match (const MmRoute *routes, gsize n, const char *method,
                              const char *path, const MmRoute **route,
                              void (*set_param) (gpointer, const char *, const char *),
                              gpointer data, char **allow);

G_END_DECLS
