/* request.h — one HTTP request as handlers see it.
 *
 * The server copies what a handler needs out of libmicrohttpd (method, path,
 * query, a few headers, body) before it suspends the connection, so
 * handlers may run on any thread.  A handler ends the request with exactly
 * one mm_request_finish_*() call, from any thread; that resumes the
 * connection and the server sends the response.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct _MmRequest MmRequest;

MmRequest *mm_request_ref (MmRequest *req);
void mm_request_unref (MmRequest *req);

/* All (transfer none), valid while the caller holds a reference. */
const char *mm_request_method (MmRequest *req);
const char *mm_request_path (MmRequest *req);
const char *mm_request_param (MmRequest *req, const char *name);   /* from the route */
const char *mm_request_query (MmRequest *req, const char *name);
/* The client's address (behind a trusted proxy: from X-Forwarded-For),
 * "unknown" if there is none. */
const char *mm_request_client_ip (MmRequest *req);
/* The TCP peer's address (the proxy's, behind one), "unknown" if none. */
const char *mm_request_peer_ip (MmRequest *req);
/* TRUE when a trusted proxy said the request came over HTTPS. */
gboolean mm_request_is_https (MmRequest *req);
/* The request says it was forwarded (X-Forwarded-For) by a peer that is
 * not a trusted proxy: its client address is that peer's, not the
 * client's, and must not grant anything by address. */
gboolean mm_request_via_untrusted_proxy (MmRequest *req);
/* The token of "Authorization: Bearer TOKEN", or NULL. */
const char *mm_request_bearer (MmRequest *req);
const guint8 *mm_request_body (MmRequest *req, gsize *len);

/* The body parsed as a JSON object (depth and size limited).
 * Returns: (transfer none) or NULL with @error (malformed_json,
 * invalid_input, unsupported_media_type). */
JsonObject *mm_request_json (MmRequest *req, GError **error);

/* Add a response header (before finishing). */
void mm_request_add_header (MmRequest *req, const char *name, const char *value);

/* The Range header, or NULL.  (transfer none) */
const char *mm_request_range (MmRequest *req);

typedef enum {
  MM_RANGE_NONE,            /* send the whole file (no Range, or one to ignore) */
  MM_RANGE_OK,              /* send *start .. *start + *length - 1 */
  MM_RANGE_UNSATISFIABLE,   /* 416 */
} MmRange;

/* Read a Range header for a file of @size bytes (one byte range). */
MmRange mm_http_parse_range (const char *header, gint64 size, gint64 *start, gint64 *length);

/* Finish with @len bytes of the open file @fd from @offset, as @type with
 * Cache-Control @cache (NULL: no-store).  @fd: (transfer full) */
void mm_request_finish_file (MmRequest *req, guint status, const char *type, int fd,
                             goffset offset, gsize len, const char *cache);

/* Finish with @status and @node as JSON.  @node: (transfer full) (nullable) */
void mm_request_finish_json (MmRequest *req, guint status, JsonNode *node);
/* Finish with @status and @body, which is already JSON text.  (transfer full) */
void mm_request_finish_json_text (MmRequest *req, guint status, char *body);
/* Finish with @len bytes of @body (transfer full) as @type. */
void mm_request_finish_text (MmRequest *req, guint status, const char *type, char *body,
                             gsize len);
/* Finish with an empty body (204). */
void mm_request_finish_empty (MmRequest *req, guint status);
/* Finish with the status and JSON error body that @error maps to. */
void mm_request_finish_error (MmRequest *req, const GError *error);
/* Convenience: build the GError and finish with it. */
void mm_request_finish_error_literal (MmRequest *req, gint code, const char *message);
void mm_request_finish_errorf (MmRequest *req, gint code, const char *format, ...) G_GNUC_PRINTF (3, 4);

/* TRUE once a finish call has been made. */
gboolean mm_request_is_finished (MmRequest *req);

/* An opaque pointer for the code that finishes the request (e.g. the
 * long-poll waiter); not freed by the request. */
void mm_request_set_data (MmRequest *req, gpointer data);
gpointer mm_request_get_data (MmRequest *req);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MmRequest, mm_request_unref)

G_END_DECLS
