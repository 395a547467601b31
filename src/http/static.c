/* static.c — files of the web root with MIME types, cache headers and
 * ETags; unknown client routes fall back to index.html; nothing outside
 * the web root is ever opened (".." segments are refused and the resolved
 * path must stay under the resolved root, so symlinks cannot escape). */
#include "config.h"

#include "http/static.h"
#include "http/security.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
  const char *ext;
  const char *type;
} mime_types[] = {
  { "html", "text/html; charset=utf-8" },
  { "js", "text/javascript; charset=utf-8" },
  { "mjs", "text/javascript; charset=utf-8" },
  { "css", "text/css; charset=utf-8" },
  { "json", "application/json" },
  { "map", "application/json" },
  { "webmanifest", "application/manifest+json" },
  { "txt", "text/plain; charset=utf-8" },
  { "svg", "image/svg+xml" },
  { "png", "image/png" },
  { "jpg", "image/jpeg" },
  { "jpeg", "image/jpeg" },
  { "gif", "image/gif" },
  { "webp", "image/webp" },
  { "ico", "image/x-icon" },
  { "woff", "font/woff" },
  { "woff2", "font/woff2" },
  { "ttf", "font/ttf" },
  { "wasm", "application/wasm" },
  { "webm", "video/webm" },
  { "mp4", "video/mp4" },
  { "m3u8", "application/vnd.apple.mpegurl" },
  { "ts", "video/mp2t" },
};

const char *
mm_static_mime_type (const char *path)
{
  const char *slash = strrchr (path, '/');
  const char *dot = strrchr (slash ? slash : path, '.');

  if (dot != NULL)
    for (gsize i = 0; i < G_N_ELEMENTS (mime_types); i++)
      if (g_ascii_strcasecmp (dot + 1, mime_types[i].ext) == 0)
        return mime_types[i].type;
  return "application/octet-stream";
}

char *
mm_static_resolve (const char *web_root, const char *url, gboolean *fallback)
{
  g_auto (GStrv) segments = NULL;
  const char *last;

  *fallback = FALSE;
  if (url == NULL || url[0] != '/' || strchr (url, '\\') != NULL || strlen (url) > 1024)
    return NULL;
  segments = g_strsplit (url, "/", -1);
  for (guint i = 0; segments[i] != NULL; i++)
    if (g_str_equal (segments[i], "..") || g_str_equal (segments[i], "."))
      return NULL;
  last = strrchr (url, '/') + 1;
  /* No extension (or a trailing slash): a client route unless a file or
   * a directory's index.html is there. */
  if (strchr (last, '.') == NULL)
    *fallback = TRUE;
  if (*last == '\0')
    return g_build_filename (web_root, url, "index.html", NULL);
  return g_build_filename (web_root, url, NULL);
}

static enum MHD_Result
send_text (struct MHD_Connection *conn, guint status, const char *type, const char *body,
           gboolean https)
{
  struct MHD_Response *r = MHD_create_response_from_buffer (strlen (body), (void *) body,
                                                            MHD_RESPMEM_MUST_COPY);
  enum MHD_Result ret;

  MHD_add_response_header (r, "Content-Type", type);
  MHD_add_response_header (r, "Cache-Control", "no-store");
  mm_http_add_security_headers (r, type, https);
  ret = MHD_queue_response (conn, status, r);
  MHD_destroy_response (r);
  return ret;
}

static gboolean
under_root (const char *root_real, const char *path)
{
  char resolved[PATH_MAX];
  gsize n = strlen (root_real);

  if (realpath (path, resolved) == NULL)
    return FALSE;
  return strncmp (resolved, root_real, n) == 0 && (resolved[n] == '/' || resolved[n] == '\0');
}

/* Open @path if it is a regular file under the root. */
static int
open_file (const char *root_real, const char *path, struct stat *st)
{
  int fd;

  if (!under_root (root_real, path))
    return -1;
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  if (fstat (fd, st) != 0 || !S_ISREG (st->st_mode))
    {
      close (fd);
      return -1;
    }
  return fd;
}

enum MHD_Result
mm_static_serve (const char *web_root, struct MHD_Connection *conn, const char *url,
                 gboolean https)
{
  char root_real[PATH_MAX];
  g_autofree char *path = NULL;
  g_autofree char *etag = NULL;
  const char *cache, *inm;
  gboolean fallback;
  struct stat st;
  struct MHD_Response *r;
  enum MHD_Result ret;
  int fd = -1;

  if (realpath (web_root, root_real) == NULL)
    return send_text (conn, 404, "application/json",
                      "{\"error\":{\"code\":\"not_found\",\"message\":\"no web client is installed\"}}",
                      https);
  path = mm_static_resolve (root_real, url, &fallback);
  if (path == NULL)
    return send_text (conn, 400, "application/json",
                      "{\"error\":{\"code\":\"invalid_input\",\"message\":\"invalid path\"}}",
                      https);
  fd = open_file (root_real, path, &st);
  if (fd < 0)
    {
      /* A directory: its index.html. */
      g_autofree char *index = g_build_filename (path, "index.html", NULL);
      fd = open_file (root_real, index, &st);
      if (fd >= 0)
        {
          g_free (path);
          path = g_steal_pointer (&index);
        }
    }
  if (fd < 0 && fallback)
    {
      g_free (path);
      path = g_build_filename (root_real, "index.html", NULL);
      fd = open_file (root_real, path, &st);
    }
  if (fd < 0)
    return send_text (conn, 404, "application/json",
                      "{\"error\":{\"code\":\"not_found\",\"message\":\"no such file\"}}",
                      https);

  if (g_str_has_suffix (path, ".html"))
    cache = "no-cache";
  else if (g_str_has_prefix (url, "/assets/"))
    cache = "public, max-age=31536000, immutable";
  else
    cache = "public, max-age=3600";
  etag = g_strdup_printf ("\"%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x\"",
                          (gint64) st.st_mtime, (gint64) st.st_size);
  inm = MHD_lookup_connection_value (conn, MHD_HEADER_KIND, "If-None-Match");
  if (inm != NULL && g_str_equal (inm, etag))
    {
      close (fd);
      r = MHD_create_response_from_buffer (0, NULL, MHD_RESPMEM_PERSISTENT);
      MHD_add_response_header (r, "ETag", etag);
      MHD_add_response_header (r, "Cache-Control", cache);
      mm_http_add_security_headers (r, mm_static_mime_type (path), https);
      ret = MHD_queue_response (conn, MHD_HTTP_NOT_MODIFIED, r);
      MHD_destroy_response (r);
      return ret;
    }
  r = MHD_create_response_from_fd ((uint64_t) st.st_size, fd);
  if (r == NULL)
    {
      close (fd);
      return MHD_NO;
    }
  MHD_add_response_header (r, "Content-Type", mm_static_mime_type (path));
  MHD_add_response_header (r, "Cache-Control", cache);
  MHD_add_response_header (r, "ETag", etag);
  mm_http_add_security_headers (r, mm_static_mime_type (path), https);
  ret = MHD_queue_response (conn, MHD_HTTP_OK, r);
  MHD_destroy_response (r);
  return ret;
}
