/* server.h — the libmicrohttpd daemon: routing, bodies, suspension. */
#pragma once

#include <glib.h>

#include "core/app.h"
#include "http/router.h"

G_BEGIN_DECLS

/* Start listening on app->opts->listen:port.  @routes must outlive the
 * server.  Returns: (transfer full) or NULL with @error. */
MmServer *mm_server_new (MmApp *app, const MmRoute *routes, gsize n_routes, GError **error);

/* The port actually bound (useful with port 0). */
guint16 mm_server_port (MmServer *server);

/* Stop accepting new connections; requests in flight go on. */
void mm_server_quiesce (MmServer *server);

/* Requests suspended and not yet finished. */
guint mm_server_in_flight (MmServer *server);

/* Stop the daemon (every suspended request must have been finished). */
void mm_server_free (MmServer *server);

G_END_DECLS
