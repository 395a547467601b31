/* request-private.h — the request as the server (server.c) builds it. */
#pragma once

#include "http/request.h"
#include "core/cidr.h"

#include <microhttpd.h>

G_BEGIN_DECLS

typedef enum {
  MM_REQUEST_RECEIVING,  /* body arriving */
  MM_REQUEST_WAITING,    /* suspended, a handler runs */
  MM_REQUEST_DONE,       /* response ready */
  MM_REQUEST_SENT,       /* response queued to libmicrohttpd */
} MmRequestState;

typedef void (*MmRequestResumeFunc) (MmRequest *req, gpointer user_data);

struct _MmRequest {
  gint ref_count;
  struct MHD_Connection *conn;
  char *method;
  char *path;
  GHashTable *query;
  GHashTable *params;
  char *authorization;
  char *content_type;
  char *range;               /* the Range header, or NULL */
  char *client_ip;           /* who the client is (see mm_request_read_client) */
  char *peer_ip;             /* the TCP peer: the client, or a proxy */
  gboolean https;            /* a trusted proxy says it came over HTTPS */
  gboolean proxied_untrusted; /* has X-Forwarded-For from a peer not trusted */
  GByteArray *body;
  gsize max_body;
  gboolean too_large;
  gboolean is_static;  /* a file of the web root, not the API */
  JsonNode *json;
  gpointer data;

  GMutex lock;
  gint state;          /* MmRequestState, atomic */
  guint status;
  char *resp_type;
  char *resp_body;
  gsize resp_len;
  int resp_fd;               /* a file to send instead of resp_body, or -1 */
  goffset resp_offset;       /* where in resp_fd (resp_len bytes) */
  char *resp_cache;          /* Cache-Control, or NULL for no-store */
  GPtrArray *resp_headers;   /* name, value, name, value ... */

  MmRequestResumeFunc on_finish;   /* called after the state becomes DONE */
  gpointer on_finish_data;

  gint64 started_us;         /* monotonic, at its first byte (for /metrics) */
  const char *route;         /* route pattern, "static", or NULL (unmatched) */
};

MmRequest *mm_request_new (struct MHD_Connection *conn, const char *method,
                           const char *path, gsize max_body);
void mm_request_set_param (MmRequest *req, const char *name, const char *value);

/* Fill in client_ip, peer_ip and https from the connection.  When the TCP
 * peer is in @trusted (a reverse proxy), the client is the right-most
 * address of X-Forwarded-For that is not itself in @trusted, and
 * X-Forwarded-Proto says whether it came over HTTPS; from any other peer
 * both headers are ignored and the peer is the client. */
void mm_request_read_client (MmRequest *req, struct MHD_Connection *conn,
                             const MmCidrList *trusted);
/* The client address as given in @forwarded_for, seen from @peer, under
 * the rule above; for the tests.  Returns: (transfer full) */
char *mm_request_forwarded_client (const char *peer, const char *forwarded_for,
                                   const MmCidrList *trusted);

G_END_DECLS
