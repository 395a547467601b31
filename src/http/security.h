/* security.h — the headers every response carries: no MIME sniffing, no
 * referrer, no framing, a Content-Security-Policy (the web client's for
 * pages, "nothing" for everything else), and HSTS when the request came
 * over HTTPS through a trusted proxy. */
#pragma once

#include <glib.h>
#include <microhttpd.h>

G_BEGIN_DECLS

/* The policy of the web client's pages: its own scripts, styles (MUI's
 * Emotion inserts <style> elements, hence 'unsafe-inline' for styles
 * only), images, media and API; never framed. */
#define MM_CSP_PAGE \
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " \
  "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; " \
  "font-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; " \
  "frame-ancestors 'none'"
/* Everything that is not a page (JSON, media, scripts): nothing may run. */
#define MM_CSP_OTHER "default-src 'none'; frame-ancestors 'none'"
#define MM_HSTS "max-age=31536000"

/* Add the headers to @r, which is sent as @content_type (NULL if none);
 * @https adds Strict-Transport-Security. */
void mm_http_add_security_headers (struct MHD_Response *r, const char *content_type,
                                   gboolean https);

G_END_DECLS
