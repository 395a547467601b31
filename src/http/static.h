/* static.h — serving the built web client from the web root. */
#pragma once

#include <glib.h>
#include <microhttpd.h>

G_BEGIN_DECLS

/* The MIME type for @path's extension (transfer none). */
const char *mm_static_mime_type (const char *path);

/* Map @url (already percent-decoded) under @web_root.  Returns the file to
 * send (transfer full), or NULL if the path is unsafe ("..", backslash...).
 * *@fallback is set when the path has no file extension and so is a client
 * route that index.html handles. */
char *mm_static_resolve (const char *web_root, const char *url, gboolean *fallback);

/* Answer a GET or HEAD for @url from @web_root; @https: the request came
 * over HTTPS (through a trusted proxy), so HSTS is sent. */
enum MHD_Result mm_static_serve (const char *web_root, struct MHD_Connection *conn,
                                 const char *url, gboolean https);

G_END_DECLS
