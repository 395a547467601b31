/* server.c — libmicrohttpd in its own polling thread (epoll), with
 * suspend/resume: every API request is suspended once routed and resumed
 * when its handler finishes, so a waiting long-poll holds no thread. */
#include "config.h"

#include "http/server.h"
#include "http/request-private.h"
#include "http/security.h"
#include "http/static.h"
#include "core/error.h"
#include "core/metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_QUERY_ARGS 32


struct _MmServer {
  MmApp *app;
  struct MHD_Daemon *daemon;
  const MmRoute *routes;
  gsize n_routes;
  gint in_flight;          /* atomic: suspended, not yet finished */
  guint16 port;
  GMutex per_address_lock;
  GHashTable *per_address; /* client address text → open connections */
};

static void
set_param (gpointer data, const char *name, const char *value)
{
  mm_request_set_param (data, name, value);
}

static enum MHD_Result
copy_query (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
  MmRequest *req = cls;

  if (g_hash_table_size (req->query) >= MAX_QUERY_ARGS)
    return MHD_NO;
  g_hash_table_replace (req->query, g_strdup (key), g_strdup (value ? value : ""));
  return MHD_YES;
}

static enum MHD_Result
queue_response (MmRequest *req)
{
  struct MHD_Response *r;
  enum MHD_Result ret;

  g_mutex_lock (&req->lock);
  if (req->resp_fd >= 0)
    {
      /* libmicrohttpd owns the descriptor from here. */
      r = MHD_create_response_from_fd_at_offset64 ((uint64_t) req->resp_len, req->resp_fd,
                                                   (uint64_t) req->resp_offset);
      if (r != NULL)
        req->resp_fd = -1;
    }
  else
    r = MHD_create_response_from_buffer (req->resp_len, req->resp_body ? req->resp_body : "",
                                         MHD_RESPMEM_MUST_COPY);
  if (r == NULL)
    {
      g_atomic_int_set (&req->state, MM_REQUEST_SENT);
      g_mutex_unlock (&req->lock);
      return MHD_NO;
    }
  if (req->resp_type != NULL)
    MHD_add_response_header (r, "Content-Type", req->resp_type);
  MHD_add_response_header (r, "Cache-Control", req->resp_cache ? req->resp_cache : "no-store");
  for (guint i = 0; i + 1 < req->resp_headers->len; i += 2)
    MHD_add_response_header (r, g_ptr_array_index (req->resp_headers, i),
                             g_ptr_array_index (req->resp_headers, i + 1));
  mm_http_add_security_headers (r, req->resp_type, req->https);
  g_atomic_int_set (&req->state, MM_REQUEST_SENT);
  g_mutex_unlock (&req->lock);
  ret = MHD_queue_response (req->conn, req->status, r);
  MHD_destroy_response (r);
  return ret;
}

/* Answer at once, without suspending (in the polling thread). */
static enum MHD_Result
reply_now (MmRequest *req, gint code, const char *message)
{
  mm_request_finish_error_literal (req, code, message);
  return queue_response (req);
}

static void
on_finish (MmRequest *req, gpointer data)
{
  MmServer *server = data;

  MHD_resume_connection (req->conn);
  g_atomic_int_add (&server->in_flight, -1);
}

static gboolean
is_api_path (const char *url)
{
  return g_str_has_prefix (url, "/api/") || g_str_equal (url, "/api")
         || g_str_equal (url, "/healthz") || g_str_equal (url, "/readyz")
         || g_str_equal (url, "/metrics");
}

static enum MHD_Result
route_request (MmServer *server, MmRequest *req)
{
  const MmRoute *route = NULL;
  g_autofree char *allow = NULL;
  MmRouteMatch m;

  if (req->too_large)
    return reply_now (req, MM_ERROR_PAYLOAD_TOO_LARGE, "the request body is too large");
  m = mm_router_match (server->routes, server->n_routes, req->method, req->path, &route,
                       set_param, req, &allow);
  if (m == MM_ROUTE_NO_PATH)
    return reply_now (req, MM_ERROR_NOT_FOUND, "no such API endpoint");
  if (m == MM_ROUTE_NO_METHOD)
    {
      g_autofree char *msg = g_strdup_printf ("method %s is not allowed here", req->method);

      mm_request_add_header (req, "Allow", allow);
      return reply_now (req, MM_ERROR_METHOD_NOT_ALLOWED, msg);
    }
  if (g_atomic_int_get (&server->app->shutting_down))
    return reply_now (req, MM_ERROR_SHUTTING_DOWN, "the server is shutting down");

  req->route = route->pattern;
  /* Suspend first, then hand over: the handler may finish (and resume)
   * at once on another thread. */
  req->on_finish = on_finish;
  req->on_finish_data = server;
  g_atomic_int_set (&req->state, MM_REQUEST_WAITING);
  g_atomic_int_inc (&server->in_flight);
  MHD_suspend_connection (req->conn);
  mm_app_dispatch (server->app, route, req);
  return MHD_YES;
}

static enum MHD_Result
on_access (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size,
           void **con_cls)
{
  MmServer *server = cls;
  MmRequest *req = *con_cls;

  /* The first call only sets up: libmicrohttpd 0.9.75 closes the
   * connection after a response queued from it. */
  if (req == NULL)
    {
      const char *len_text;
      guint64 len;

      if (!is_api_path (url))
        {
          req = mm_request_new (conn, method, url, 0);
          req->started_us = g_get_monotonic_time ();
          req->route = "static";
          req->is_static = TRUE;
          mm_request_read_client (req, conn, server->app->trusted_proxies);
          *con_cls = req;
          return MHD_YES;
        }
      req = mm_request_new (conn, method, url, (gsize) server->app->opts->max_body);
      req->started_us = g_get_monotonic_time ();
      *con_cls = req;
      req->authorization = g_strdup (MHD_lookup_connection_value (conn, MHD_HEADER_KIND,
                                                                  MHD_HTTP_HEADER_AUTHORIZATION));
      req->content_type = g_strdup (MHD_lookup_connection_value (conn, MHD_HEADER_KIND,
                                                                 MHD_HTTP_HEADER_CONTENT_TYPE));
      req->range = g_strndup (MHD_lookup_connection_value (conn, MHD_HEADER_KIND,
                                                           MHD_HTTP_HEADER_RANGE), 256);
      mm_request_read_client (req, conn, server->app->trusted_proxies);
      MHD_get_connection_values (conn, MHD_GET_ARGUMENT_KIND, copy_query, req);
      len_text = MHD_lookup_connection_value (conn, MHD_HEADER_KIND,
                                              MHD_HTTP_HEADER_CONTENT_LENGTH);
      if (len_text != NULL
          && g_ascii_string_to_unsigned (len_text, 10, 0, G_MAXUINT64, &len, NULL)
          && len > req->max_body)
        return reply_now (req, MM_ERROR_PAYLOAD_TOO_LARGE, "the request body is too large");
      return MHD_YES;
    }

  switch (g_atomic_int_get (&req->state))
    {
    case MM_REQUEST_RECEIVING:
      if (req->is_static)
        {
          if (*upload_data_size > 0)
            {
              *upload_data_size = 0;   /* a body on a file request is ignored */
              return MHD_YES;
            }
          if (!g_str_equal (method, "GET") && !g_str_equal (method, "HEAD"))
            {
              mm_request_add_header (req, "Allow", "GET, HEAD");
              return reply_now (req, MM_ERROR_METHOD_NOT_ALLOWED,
                                "only GET and HEAD are allowed for files");
            }
          g_atomic_int_set (&req->state, MM_REQUEST_SENT);
          return mm_static_serve (server->app->opts->web_root, conn, url, req->https);
        }
      if (*upload_data_size > 0)
        {
          if (!req->too_large && req->body->len + *upload_data_size <= req->max_body)
            g_byte_array_append (req->body, (const guint8 *) upload_data,
                                 (guint) *upload_data_size);
          else
            {
              req->too_large = TRUE;
              g_byte_array_set_size (req->body, 0);
            }
          *upload_data_size = 0;
          return MHD_YES;
        }
      return route_request (server, req);
    case MM_REQUEST_DONE:
      return queue_response (req);
    default:
      /* Already answered (reply_now) or still waiting. */
      return MHD_YES;
    }
}

static void
on_completed (void *cls, struct MHD_Connection *conn, void **con_cls,
              enum MHD_RequestTerminationCode toe)
{
  MmRequest *req = *con_cls;

  if (req != NULL)
    {
      const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (conn, MHD_CONNECTION_INFO_HTTP_STATUS);

      mm_metrics_http_request (req->method, req->route ? req->route : "unmatched",
                               info != NULL ? info->http_status : 0,
                               (gdouble) (g_get_monotonic_time () - req->started_us)
                               / G_USEC_PER_SEC);
      *con_cls = NULL;
      mm_request_unref (req);
    }
}

/* The address of @sa without its port ("192.0.2.1", "2001:db8::1"; an
 * IPv4-mapped IPv6 address as IPv4).  Returns: (transfer full) */
static char *
address_text (const struct sockaddr *sa)
{
  char text[INET6_ADDRSTRLEN] = "";

  if (sa == NULL)
    return g_strdup ("?");
  if (sa->sa_family == AF_INET)
    inet_ntop (AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, text, sizeof text);
  else if (sa->sa_family == AF_INET6)
    {
      const struct in6_addr *a = &((const struct sockaddr_in6 *) sa)->sin6_addr;

      if (IN6_IS_ADDR_V4MAPPED (a))
        inet_ntop (AF_INET, &a->s6_addr[12], text, sizeof text);
      else
        inet_ntop (AF_INET6, a, text, sizeof text);
    }
  return g_strdup (text[0] != '\0' ? text : "?");
}

/* [server] max-connections-per-address: a client that opens many
 * connections (slow, trickling or half-open ones) fills only its own
 * share of max-connections, and others still get in.  A trusted proxy
 * carries everyone's connections and is not limited. */
static enum MHD_Result
on_accept (void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
  MmServer *server = cls;
  guint max = (guint) server->app->opts->max_per_address;
  g_autofree char *key = NULL;
  guint n;

  if (max == 0 || addr == NULL
      || mm_cidr_list_match_sockaddr (server->app->trusted_proxies, addr))
    return MHD_YES;
  key = address_text (addr);
  g_mutex_lock (&server->per_address_lock);
  n = GPOINTER_TO_UINT (g_hash_table_lookup (server->per_address, key));
  g_mutex_unlock (&server->per_address_lock);
  if (n < max)
    return MHD_YES;
  mm_metrics_connection_refused ();
  g_info ("refused a connection from %s: it has %u open", key, n);
  return MHD_NO;
}

static void
on_connection (void *cls, struct MHD_Connection *conn, void **socket_context,
               enum MHD_ConnectionNotificationCode code)
{
  MmServer *server = cls;
  char *key = *socket_context;
  guint n;

  if (code == MHD_CONNECTION_NOTIFY_STARTED)
    {
      const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

      key = address_text (info != NULL ? info->client_addr : NULL);
      *socket_context = key;
      g_mutex_lock (&server->per_address_lock);
      n = GPOINTER_TO_UINT (g_hash_table_lookup (server->per_address, key));
      g_hash_table_replace (server->per_address, g_strdup (key), GUINT_TO_POINTER (n + 1));
      g_mutex_unlock (&server->per_address_lock);
    }
  else if (key != NULL)
    {
      g_mutex_lock (&server->per_address_lock);
      n = GPOINTER_TO_UINT (g_hash_table_lookup (server->per_address, key));
      if (n <= 1)
        g_hash_table_remove (server->per_address, key);
      else
        g_hash_table_replace (server->per_address, g_strdup (key), GUINT_TO_POINTER (n - 1));
      g_mutex_unlock (&server->per_address_lock);
      g_free (key);
      *socket_context = NULL;
    }
}

static void
log_mhd (void *cls, const char *fmt, va_list ap)
{
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  g_info ("libmicrohttpd: %s", g_strchomp (msg));
}

MmServer *
mm_server_new (MmApp *app, const MmRoute *routes, gsize n_routes, GError **error)
{
  g_autofree MmServer *server = g_new0 (MmServer, 1);
  struct addrinfo hints = { 0 }, *res = NULL;
  g_autofree char *port_text = g_strdup_printf ("%d", app->opts->port);
  unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL
                       | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  const union MHD_DaemonInfo *info;
  int rc;

  server->app = app;
  server->routes = routes;
  server->n_routes = n_routes;
  g_mutex_init (&server->per_address_lock);
  server->per_address = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  rc = getaddrinfo (app->opts->listen, port_text, &hints, &res);
  if (rc != 0)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                   "cannot use listen address %s: %s", app->opts->listen, gai_strerror (rc));
      return NULL;
    }
  if (res->ai_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  server->daemon = MHD_start_daemon (flags, 0, on_accept, server, on_access, server,
                                     MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
                                     MHD_OPTION_NOTIFY_CONNECTION, on_connection, server,
                                     MHD_OPTION_SOCK_ADDR, res->ai_addr,
                                     MHD_OPTION_NOTIFY_COMPLETED, on_completed, server,
                                     MHD_OPTION_CONNECTION_LIMIT,
                                     (unsigned int) app->opts->max_connections,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 120,
                                     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) 64 * 1024,
                                     MHD_OPTION_END);
  freeaddrinfo (res);
  if (server->daemon == NULL)
    {
      g_hash_table_unref (server->per_address);
      g_mutex_clear (&server->per_address_lock);
      g_set_error (error, MM_ERROR, MM_ERROR_INTERNAL,
                   "cannot listen on %s port %d (in use, or not an address of this machine?)",
                   app->opts->listen, app->opts->port);
      return NULL;
    }
  info = MHD_get_daemon_info (server->daemon, MHD_DAEMON_INFO_BIND_PORT);
  server->port = info != NULL ? info->port : (guint16) app->opts->port;
  return g_steal_pointer (&server);
}

guint16
mm_server_port (MmServer *server)
{
  return server->port;
}

void
mm_server_quiesce (MmServer *server)
{
  MHD_socket fd = MHD_quiesce_daemon (server->daemon);

  if (fd != MHD_INVALID_SOCKET)
    close (fd);
}

guint
mm_server_in_flight (MmServer *server)
{
  return (guint) g_atomic_int_get (&server->in_flight);
}

void
mm_server_free (MmServer *server)
{
  if (server == NULL)
    return;
  MHD_stop_daemon (server->daemon);
  g_hash_table_unref (server->per_address);
  g_mutex_clear (&server->per_address_lock);
  g_free (server);
}
