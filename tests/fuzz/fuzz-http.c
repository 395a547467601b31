/* fuzz-http.c — libFuzzer target: what a client controls in a request
 * beyond its body, line by line of the input: the method and path
 * matched against a route table of the same shapes as src/api/routes.c
 * (placeholders, HEAD, 404 and 405 with an Allow list), a Range header
 * against a file's size, and an X-Forwarded-For list read through a
 * trusted-proxy list (also from the input, as an operator's setting
 * would be).  Each must answer or refuse without a crash, a leak or a
 * GLib critical, and what it answers must make sense.
 */
#include "config.h"

#include "glib-fatal.h"

#include "core/cidr.h"
#include "http/request-private.h"
#include "http/router.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
handler (MmApp *app, MmRequest *req)
{
  (void) app;
  (void) req;
}

/* The shapes of src/api/routes.c's table (its handlers need the app). */
static const MmRoute routes[] = {
  { "GET", "/healthz", handler, MM_RUN_MAIN },
  { "POST", "/api/v1/auth/register", handler, MM_RUN_WORKER },
  { "POST", "/api/v1/rooms", handler, MM_RUN_WORKER },
  { "GET", "/api/v1/rooms/{code}", handler, MM_RUN_WORKER },
  { "POST", "/api/v1/rooms/{code}/join", handler, MM_RUN_WORKER },
  { "GET", "/api/v1/rooms/{code}/hls/{file}", handler, MM_RUN_WORKER },
  { "GET", "/api/v1/rooms/{code}/participants/{pid}/events", handler, MM_RUN_MAIN },
  { "POST", "/api/v1/rooms/{code}/participants/{pid}/messages", handler, MM_RUN_MAIN },
  { "DELETE", "/api/v1/rooms/{code}/participants/{pid}", handler, MM_RUN_MAIN },
};

typedef struct {
  guint n;
} Params;

static void
set_param (gpointer data, const char *name, const char *value)
{
  Params *p = data;

  if (name == NULL || value == NULL || *value == '\0' || strchr (value, '/') != NULL)
    abort ();   /* a placeholder takes one whole, non-empty segment */
  p->n++;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_auto (GStrv) lines = g_strsplit (text, "\n", 5);
  const char *method = lines[0] != NULL ? lines[0] : "";
  const char *path = method[0] != '\0' && lines[1] != NULL ? lines[1] : "/";
  const char *range = lines[0] != NULL && lines[1] != NULL ? lines[2] : NULL;
  const char *forwarded = range != NULL ? lines[3] : NULL;
  const char *trusted_text = forwarded != NULL ? lines[4] : NULL;
  const MmRoute *route = NULL;
  g_autofree char *allow = NULL;
  Params params = { 0 };
  MmRouteMatch m;
  gint64 start = -1, length = -1;
  const gint64 sizes[] = { 0, 1, 1000, G_MAXINT64 };

  mm_fuzz_fatal_glib ();
  m = mm_router_match (routes, G_N_ELEMENTS (routes), method, path, &route, set_param, &params,
                       &allow);
  if ((m == MM_ROUTE_FOUND) != (route != NULL))
    abort ();
  if (m == MM_ROUTE_NO_METHOD && (allow == NULL || allow[0] == '\0'))
    abort ();   /* a 405 says what is allowed */
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      MmRange r = mm_http_parse_range (range, sizes[i], &start, &length);

      if (r == MM_RANGE_OK
          && (start < 0 || length <= 0 || start >= sizes[i] || length > sizes[i] - start))
        abort ();   /* a range we serve lies inside the file */
    }
  if (forwarded != NULL)
    {
      g_autoptr (GError) error = NULL;
      MmCidrList *trusted = mm_cidr_list_parse (trusted_text != NULL ? trusted_text : "", &error);
      g_autofree char *client = NULL;
      guint8 a[16];

      if (trusted == NULL && error == NULL)
        abort ();
      client = mm_request_forwarded_client ("192.0.2.1", forwarded, trusted);
      /* Who the client is: the peer, or an address a trusted hop wrote. */
      if (client == NULL || !mm_cidr_parse_address (client, a))
        abort ();
      mm_cidr_list_free (trusted);
    }
  return 0;
}
