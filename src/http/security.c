/* security.c — security headers on every response (see security.h). */
#include "config.h"

#include "http/security.h"

void
mm_http_add_security_headers (struct MHD_Response *r, const char *content_type,
                              gboolean https)
{
  gboolean page = content_type != NULL
                  && g_ascii_strncasecmp (content_type, "text/html", 9) == 0;

  MHD_add_response_header (r, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header (r, "Referrer-Policy", "no-referrer");
  MHD_add_response_header (r, "X-Frame-Options", "DENY");
  MHD_add_response_header (r, "Content-Security-Policy", page ? MM_CSP_PAGE : MM_CSP_OTHER);
  if (https)
    MHD_add_response_header (r, "Strict-Transport-Security", MM_HSTS);
}
