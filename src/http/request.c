/* request.c — request accessors and the finish calls. */
#include "config.h"

#include "http/request-private.h"
#include "http/json.h"
#include "core/error.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

MmRequest *
mm_request_new (struct MHD_Connection *conn, const char *method, const char *path,
                gsize max_body)
{
  MmRequest *req = g_new0 (MmRequest, 1);

  req->ref_count = 1;
  req->conn = conn;
  req->method = g_strdup (method);
  req->path = g_strdup (path);
  req->query = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  req->params = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  req->body = g_byte_array_new ();
  req->max_body = max_body;
  req->resp_headers = g_ptr_array_new_with_free_func (g_free);
  req->resp_fd = -1;
  g_mutex_init (&req->lock);
  req->state = MM_REQUEST_RECEIVING;
  return req;
}

MmRequest *
mm_request_ref (MmRequest *req)
{
  g_atomic_int_inc (&req->ref_count);
  return req;
}

void
mm_request_unref (MmRequest *req)
{
  if (req == NULL || !g_atomic_int_dec_and_test (&req->ref_count))
    return;
  g_free (req->method);
  g_free (req->path);
  g_hash_table_unref (req->query);
  g_hash_table_unref (req->params);
  g_free (req->authorization);
  g_free (req->content_type);
  g_free (req->range);
  g_free (req->client_ip);
  g_free (req->peer_ip);
  if (req->resp_fd >= 0)
    close (req->resp_fd);
  g_free (req->resp_cache);
  g_byte_array_unref (req->body);
  if (req->json != NULL)
    json_node_unref (req->json);
  g_free (req->resp_type);
  g_free (req->resp_body);
  g_ptr_array_unref (req->resp_headers);
  g_mutex_clear (&req->lock);
  g_free (req);
}

void
mm_request_set_param (MmRequest *req, const char *name, const char *value)
{
  g_hash_table_replace (req->params, g_strdup (name), g_strdup (value));
}

const char *mm_request_method (MmRequest *req) { return req->method; }
const char *mm_request_path (MmRequest *req) { return req->path; }
const char *mm_request_client_ip (MmRequest *req) { return req->client_ip ? req->client_ip : "unknown"; }
const char *mm_request_peer_ip (MmRequest *req) { return req->peer_ip ? req->peer_ip : "unknown"; }
gboolean mm_request_is_https (MmRequest *req) { return req->https; }
gboolean mm_request_via_untrusted_proxy (MmRequest *req) { return req->proxied_untrusted; }

/* ---- who the client is ------------------------------------------------ */

#define MAX_FORWARDED_LEN 2048

char *
mm_request_forwarded_client (const char *peer, const char *forwarded_for,
                             const MmCidrList *trusted)
{
  g_auto (GStrv) hops = NULL;
  char *client = g_strdup (peer);
  guint n;

  if (forwarded_for == NULL || !mm_cidr_list_match_string (trusted, peer))
    return client;
  hops = g_strsplit (forwarded_for, ",", 64);
  n = g_strv_length (hops);
  /* From the right: each hop was written by the proxy after it.  Stop at
   * the first one no trusted proxy stands for; a hop that is not an
   * address (a misconfigured proxy) leaves the last one we could trust. */
  while (n-- > 0)
    {
      guint8 a[16];

      if (!mm_cidr_parse_address (hops[n], a))
        break;
      g_free (client);
      client = mm_cidr_address_to_string (a);
      if (!mm_cidr_list_match_string (trusted, client))
        break;
    }
  return client;
}

typedef struct {
  GString *forwarded_for;
  const char *forwarded_proto;
} Forwarded;

/* Several X-Forwarded-For headers are one list, in order (RFC 9110 5.3). */
static enum MHD_Result
collect_forwarded (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
  Forwarded *f = cls;

  if (value == NULL)
    return MHD_YES;
  if (g_ascii_strcasecmp (key, "X-Forwarded-For") == 0
      && f->forwarded_for->len + strlen (value) < MAX_FORWARDED_LEN)
    {
      if (f->forwarded_for->len > 0)
        g_string_append_c (f->forwarded_for, ',');
      g_string_append (f->forwarded_for, value);
    }
  else if (g_ascii_strcasecmp (key, "X-Forwarded-Proto") == 0)
    f->forwarded_proto = value;
  return MHD_YES;
}

void
mm_request_read_client (MmRequest *req, struct MHD_Connection *conn, const MmCidrList *trusted)
{
  const union MHD_ConnectionInfo *info =
    MHD_get_connection_info (conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  const struct sockaddr *sa = info != NULL ? info->client_addr : NULL;
  g_autoptr (GString) ff = g_string_new (NULL);
  Forwarded f = { ff, NULL };
  guint8 a[16];

  if (sa == NULL)
    return;
  if (sa->sa_family == AF_INET)
    {
      memset (a, 0, 10);
      a[10] = a[11] = 0xff;
      memcpy (a + 12, &((const struct sockaddr_in *) sa)->sin_addr, 4);
    }
  else if (sa->sa_family == AF_INET6)
    memcpy (a, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);
  else
    return;
  g_free (req->peer_ip);
  req->peer_ip = mm_cidr_address_to_string (a);
  g_free (req->client_ip);
  if (!mm_cidr_list_match_sockaddr (trusted, sa))
    {
      req->client_ip = g_strdup (req->peer_ip);
      req->https = FALSE;
      req->proxied_untrusted =
        MHD_lookup_connection_value (conn, MHD_HEADER_KIND, "X-Forwarded-For") != NULL;
      return;
    }
  MHD_get_connection_values (conn, MHD_HEADER_KIND, collect_forwarded, &f);
  req->client_ip = mm_request_forwarded_client (req->peer_ip, ff->len > 0 ? ff->str : NULL,
                                                trusted);
  if (f.forwarded_proto != NULL)
    {
      /* Through several proxies: the one nearest the client is first. */
      g_auto (GStrv) protos = g_strsplit (f.forwarded_proto, ",", 2);
      req->https = g_ascii_strcasecmp (g_strstrip (protos[0]), "https") == 0;
    }
}

const char *
mm_request_param (MmRequest *req, const char *name)
{
  return g_hash_table_lookup (req->params, name);
}

const char *
mm_request_query (MmRequest *req, const char *name)
{
  return g_hash_table_lookup (req->query, name);
}

const char *
mm_request_bearer (MmRequest *req)
{
  const char *h = req->authorization;

  if (h == NULL || g_ascii_strncasecmp (h, "Bearer ", 7) != 0)
    return NULL;
  h += 7;
  while (*h == ' ')
    h++;
  return *h != '\0' ? h : NULL;
}

const guint8 *
mm_request_body (MmRequest *req, gsize *len)
{
  *len = req->body->len;
  return req->body->data;
}

JsonObject *
mm_request_json (MmRequest *req, GError **error)
{
  if (req->json == NULL)
    {
      if (req->content_type != NULL
          && !(g_ascii_strncasecmp (req->content_type, "application/json", 16) == 0
               && strchr ("; \t", req->content_type[16]) != NULL))
        {
          g_set_error (error, MM_ERROR, MM_ERROR_UNSUPPORTED_MEDIA_TYPE,
                       "the body must be application/json, not %.64s", req->content_type);
          return NULL;
        }
      req->json = mm_json_parse_object ((const char *) req->body->data, req->body->len, error);
      if (req->json == NULL)
        return NULL;
    }
  return json_node_get_object (req->json);
}

void
mm_request_add_header (MmRequest *req, const char *name, const char *value)
{
  g_mutex_lock (&req->lock);
  g_ptr_array_add (req->resp_headers, g_strdup (name));
  g_ptr_array_add (req->resp_headers, g_strdup (value));
  g_mutex_unlock (&req->lock);
}

gboolean
mm_request_is_finished (MmRequest *req)
{
  return g_atomic_int_get (&req->state) >= MM_REQUEST_DONE;
}

void mm_request_set_data (MmRequest *req, gpointer data) { req->data = data; }
gpointer mm_request_get_data (MmRequest *req) { return req->data; }

static void
finish (MmRequest *req, guint status, const char *type, char *body, gsize len)
{
  MmRequestResumeFunc cb;

  g_mutex_lock (&req->lock);
  if (g_atomic_int_get (&req->state) >= MM_REQUEST_DONE)
    {
      g_mutex_unlock (&req->lock);
      g_critical ("request %s %s finished twice", req->method, req->path);
      g_free (body);
      return;
    }
  req->status = status;
  req->resp_type = g_strdup (type);
  req->resp_body = body;
  req->resp_len = len;
  g_atomic_int_set (&req->state, MM_REQUEST_DONE);
  cb = req->on_finish;
  g_mutex_unlock (&req->lock);
  if (cb != NULL)
    cb (req, req->on_finish_data);
}

void
mm_request_finish_file (MmRequest *req, guint status, const char *type, int fd, goffset offset,
                        gsize len, const char *cache)
{
  g_mutex_lock (&req->lock);
  if (g_atomic_int_get (&req->state) >= MM_REQUEST_DONE)
    {
      g_mutex_unlock (&req->lock);
      g_critical ("request %s %s finished twice", req->method, req->path);
      close (fd);
      return;
    }
  req->resp_fd = fd;
  req->resp_offset = offset;
  req->resp_cache = g_strdup (cache);
  g_mutex_unlock (&req->lock);
  finish (req, status, type, NULL, len);
}

const char *
mm_request_range (MmRequest *req)
{
  return req->range;
}

/* "bytes=FIRST-LAST", "bytes=FIRST-" or "bytes=-SUFFIX"; anything else
 * (other units, several ranges, bad syntax) is ignored as RFC 9110 allows. */
MmRange
mm_http_parse_range (const char *header, gint64 size, gint64 *start, gint64 *length)
{
  const char *spec, *dash;
  guint64 first = 0, last = 0;
  gboolean has_first, has_last;
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;

  if (header == NULL || g_ascii_strncasecmp (header, "bytes=", 6) != 0)
    return MM_RANGE_NONE;
  spec = header + 6;
  while (*spec == ' ' || *spec == '\t')
    spec++;
  dash = strchr (spec, '-');
  if (dash == NULL || strchr (spec, ',') != NULL)
    return MM_RANGE_NONE;
  a = g_strstrip (g_strndup (spec, (gsize) (dash - spec)));
  b = g_strstrip (g_strdup (dash + 1));
  has_first = *a != '\0';
  has_last = *b != '\0';
  if ((!has_first && !has_last)
      || (has_first && !g_ascii_string_to_unsigned (a, 10, 0, G_MAXINT64, &first, NULL))
      || (has_last && !g_ascii_string_to_unsigned (b, 10, 0, G_MAXINT64, &last, NULL))
      || (has_first && has_last && last < first))
    return MM_RANGE_NONE;
  if (!has_first)
    {
      /* The last SUFFIX bytes. */
      if (last == 0 || size == 0)
        return MM_RANGE_UNSATISFIABLE;
      *length = (gint64) MIN (last, (guint64) size);
      *start = size - *length;
      return MM_RANGE_OK;
    }
  if (first >= (guint64) size)
    return MM_RANGE_UNSATISFIABLE;
  if (!has_last || last >= (guint64) size)
    last = (guint64) size - 1;
  *start = (gint64) first;
  *length = (gint64) (last - first + 1);
  return MM_RANGE_OK;
}

void
mm_request_finish_json_text (MmRequest *req, guint status, char *body)
{
  finish (req, status, "application/json", body, body ? strlen (body) : 0);
}

void
mm_request_finish_json (MmRequest *req, guint status, JsonNode *node)
{
  char *text = node != NULL ? json_to_string (node, FALSE) : g_strdup ("{}");

  if (node != NULL)
    json_node_unref (node);
  mm_request_finish_json_text (req, status, text);
}

void
mm_request_finish_empty (MmRequest *req, guint status)
{
  finish (req, status, NULL, NULL, 0);
}

void
mm_request_finish_error (MmRequest *req, const GError *error)
{
  gint code = error->domain == MM_ERROR ? error->code : MM_ERROR_INTERNAL;
  g_autoptr (JsonBuilder) b = json_builder_new ();

  if (error->domain != MM_ERROR)
    g_warning ("%s %s: unexpected error: %s", req->method, req->path, error->message);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "code");
  json_builder_add_string_value (b, mm_error_json_code (code));
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, error->domain == MM_ERROR ? error->message
                                                              : "internal server error");
  json_builder_end_object (b);
  json_builder_end_object (b);
  mm_request_finish_json (req, mm_error_http_status (code), json_builder_get_root (b));
}

void
mm_request_finish_error_literal (MmRequest *req, gint code, const char *message)
{
  g_autoptr (GError) error = g_error_new_literal (MM_ERROR, code, message);
  mm_request_finish_error (req, error);
}

void
mm_request_finish_errorf (MmRequest *req, gint code, const char *format, ...)
{
  g_autoptr (GError) error = NULL;
  va_list ap;

  va_start (ap, format);
  error = g_error_new_valist (MM_ERROR, code, format, ap);
  va_end (ap);
  mm_request_finish_error (req, error);
}

void
mm_request_finish_text (MmRequest *req, guint status, const char *type, char *body, gsize len)
{
  finish (req, status, type, body, len);
}
