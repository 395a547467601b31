/* test-input.c — bad input gets a clear error, never a crash or a hang:
 * malformed JSON, oversized bodies, huge strings, wrong types, deep
 * nesting, unknown routes and methods, content types, SQL-injection text
 * stored literally; and the static file server (MIME types, cache headers,
 * client-route fallback, no escape from the web root). */
#include "config.h"

#include "harness.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static MmHarness h;
static char *web_root;
static char *outside_file;

static void
assert_error (MmResponse *r, long status, const char *code)
{
  g_assert_cmpint (r->status, ==, status);
  g_assert_nonnull (r->json);
  g_assert_cmpstr (mm_error_code (r), ==, code);
  g_assert_nonnull (mm_json_str (r, "error.message"));
  g_assert_cmpuint (strlen (mm_json_str (r, "error.message")), >, 0);
}

static void
test_malformed_json (void)
{
  const char *bodies[] = { "{", "{\"name\":}", "not json", "{\"a\":1}}", "[1,2,3]", "\"text\"",
                           "{\"name\":\"x\",}", "\xff\xfe{}" };

  for (gsize i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      g_auto (MmResponse) r = { 0 };

      mm_http (&h, "POST", "/api/v1/auth/register", NULL, bodies[i], &r);
      assert_error (&r, 400, "malformed_json");
    }
}

static void
test_empty_body (void)
{
  g_auto (MmResponse) r = { 0 };

  mm_http (&h, "POST", "/api/v1/auth/login", NULL, NULL, &r);
  assert_error (&r, 400, "malformed_json");
}

static void
test_oversized_body (void)
{
  gsize len = 200 * 1024;
  g_autofree char *big = g_malloc (len + 1);
  g_auto (MmResponse) r = { 0 };
  g_auto (MmResponse) after = { 0 };

  memset (big, 'a', len);
  big[0] = '{';
  big[len] = '\0';
  mm_http_raw (&h, "POST", "/api/v1/auth/register", NULL, "application/json", big, len, &r);
  assert_error (&r, 413, "payload_too_large");
  /* The server is fine afterwards. */
  mm_http (&h, "GET", "/healthz", NULL, NULL, &after);
  g_assert_cmpint (after.status, ==, 200);
}

static void
test_huge_strings (void)
{
  g_autofree char *name = g_strnfill (30000, 'n');
  g_autofree char *body = g_strdup_printf ("{\"name\":\"%s\",\"email\":\"huge@example.com\","
                                           "\"password\":\"long enough\"}", name);
  g_autofree char *pw = g_strnfill (73, 'p');
  g_autofree char *body2 = g_strdup_printf ("{\"name\":\"n\",\"email\":\"huge2@example.com\","
                                            "\"password\":\"%s\"}", pw);
  g_autofree char *email = g_strnfill (300, 'e');
  g_autofree char *body3 = g_strdup_printf ("{\"name\":\"n\",\"email\":\"%s@x.example\","
                                            "\"password\":\"long enough\"}", email);
  g_auto (MmResponse) r = { 0 };
  g_auto (MmResponse) r2 = { 0 };
  g_auto (MmResponse) r3 = { 0 };

  mm_http (&h, "POST", "/api/v1/auth/register", NULL, body, &r);
  assert_error (&r, 400, "invalid_input");
  g_assert_nonnull (strstr (mm_json_str (&r, "error.message"), "name"));
  mm_http (&h, "POST", "/api/v1/auth/register", NULL, body2, &r2);
  assert_error (&r2, 400, "invalid_input");
  g_assert_nonnull (strstr (mm_json_str (&r2, "error.message"), "password"));
  mm_http (&h, "POST", "/api/v1/auth/register", NULL, body3, &r3);
  assert_error (&r3, 400, "invalid_input");
}

static void
test_wrong_types (void)
{
  const char *bodies[] = {
    "{\"name\":1,\"email\":\"t@x.example\",\"password\":\"long enough\"}",
    "{\"name\":\"n\",\"email\":true,\"password\":\"long enough\"}",
    "{\"name\":\"n\",\"email\":\"t@x.example\",\"password\":{\"x\":1}}",
    "{\"name\":null,\"email\":\"t@x.example\",\"password\":\"long enough\"}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      g_auto (MmResponse) r = { 0 };

      mm_http (&h, "POST", "/api/v1/auth/register", NULL, bodies[i], &r);
      assert_error (&r, 400, "invalid_input");
    }
}

static void
test_deep_json (void)
{
  GString *s = g_string_new ("{\"name\":");
  g_auto (MmResponse) r = { 0 };

  for (int i = 0; i < 5000; i++)
    g_string_append_c (s, '[');
  for (int i = 0; i < 5000; i++)
    g_string_append_c (s, ']');
  g_string_append_c (s, '}');
  mm_http (&h, "POST", "/api/v1/auth/register", NULL, s->str, &r);
  assert_error (&r, 400, "invalid_input");
  g_assert_nonnull (strstr (mm_json_str (&r, "error.message"), "deeper"));
  g_string_free (s, TRUE);
}

static void
test_content_type (void)
{
  const char *body = "{\"email\":\"a@b.example\",\"password\":\"x\"}";
  g_auto (MmResponse) r = { 0 };

  mm_http_raw (&h, "POST", "/api/v1/auth/login", NULL, "text/plain", body, strlen (body), &r);
  assert_error (&r, 415, "unsupported_media_type");
}

static void
test_unknown_routes_and_methods (void)
{
  static const char *const unknown[] = { "/api/v1/nothing", "/api/v2/rooms", "/api/v1/rooms/abc-defg-hij/zzz",
                                         "/api", "/api/v1/auth/login/extra" };
  g_auto (MmResponse) m = { 0 };
  g_auto (MmResponse) m2 = { 0 };

  for (gsize i = 0; i < G_N_ELEMENTS (unknown); i++)
    {
      g_auto (MmResponse) r = { 0 };

      mm_http (&h, "GET", unknown[i], NULL, NULL, &r);
      assert_error (&r, 404, "not_found");
    }
  mm_http (&h, "DELETE", "/api/v1/rooms", NULL, NULL, &m);
  assert_error (&m, 405, "method_not_allowed");
  g_assert_cmpstr (m.allow, ==, "POST");
  mm_http (&h, "PUT", "/api/v1/auth/me", NULL, "{}", &m2);
  assert_error (&m2, 405, "method_not_allowed");
  g_assert_cmpstr (m2.allow, ==, "GET, HEAD");
}

static void
test_sql_injection_stored_literally (void)
{
  const char *evil_name = "Robert'); DROP TABLE users;--";
  const char *evil_title = "x' OR '1'='1\"; DELETE FROM rooms; --";
  g_autofree char *email = g_strdup_printf ("bobby%u@example.com", g_random_int ());
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *body = NULL;
  g_autofree char *room_body = NULL;
  g_autofree char *token = NULL;
  g_autofree char *path = NULL;
  g_autofree char *users = NULL;
  g_auto (MmResponse) r = { 0 };
  g_auto (MmResponse) room = { 0 };
  g_auto (MmResponse) got = { 0 };

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, evil_name);
  json_builder_set_member_name (b, "email");
  json_builder_add_string_value (b, email);
  json_builder_set_member_name (b, "password");
  json_builder_add_string_value (b, "' OR ''='");
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  body = json_to_string (root, FALSE);
  mm_http (&h, "POST", "/api/v1/auth/register", NULL, body, &r);
  g_assert_cmpint (r.status, ==, 201);
  g_assert_cmpstr (mm_json_str (&r, "user.name"), ==, evil_name);
  token = g_strdup (mm_json_str (&r, "token"));

  {
    g_autoptr (JsonBuilder) rb = json_builder_new ();
    g_autoptr (JsonNode) rroot = NULL;

    json_builder_begin_object (rb);
    json_builder_set_member_name (rb, "title");
    json_builder_add_string_value (rb, evil_title);
    json_builder_end_object (rb);
    rroot = json_builder_get_root (rb);
    room_body = json_to_string (rroot, FALSE);
  }
  mm_http (&h, "POST", "/api/v1/rooms", token, room_body, &room);
  g_assert_cmpint (room.status, ==, 201);
  path = g_strdup_printf ("/api/v1/rooms/%s", mm_json_str (&room, "room.code"));
  mm_http (&h, "GET", path, NULL, NULL, &got);
  g_assert_cmpstr (mm_json_str (&got, "room.title"), ==, evil_title);
  g_assert_cmpstr (mm_json_str (&got, "room.host.name"), ==, evil_name);
  users = mm_harness_sql (&h, "SELECT count(*) FROM users");
  g_assert_cmpint (g_ascii_strtoll (users, NULL, 10), >=, 1);
}

static void
test_bad_query_values (void)
{
  g_autofree char *token = mm_test_register (&h, "Q", NULL);
  g_autofree char *code = mm_test_room (&h, token, NULL);
  g_auto (MmJoined) j = { 0 };
  const char *queries[] = { "?since=-1", "?since=abc", "?since=1e3", "?timeout=9999", "?since=99999999999999999999" };

  mm_test_join (&h, code, token, NULL, &j);
  for (gsize i = 0; i < G_N_ELEMENTS (queries); i++)
    {
      g_autofree char *path = g_strdup_printf ("%s%s", j.events, queries[i]);
      g_auto (MmResponse) r = { 0 };

      mm_http (&h, "GET", path, j.secret, NULL, &r);
      assert_error (&r, 400, "invalid_input");
    }
}

/* ---- static files -------------------------------------------------------- */

static void
test_static_files (void)
{
  g_auto (MmResponse) index = { 0 };
  g_auto (MmResponse) js = { 0 };
  g_auto (MmResponse) css = { 0 };
  g_auto (MmResponse) route = { 0 };
  g_auto (MmResponse) missing = { 0 };
  g_auto (MmResponse) post = { 0 };
  g_auto (MmResponse) head = { 0 };

  mm_http (&h, "GET", "/", NULL, NULL, &index);
  g_assert_cmpint (index.status, ==, 200);
  g_assert_cmpstr (index.content_type, ==, "text/html; charset=utf-8");
  g_assert_cmpstr (index.cache_control, ==, "no-cache");
  g_assert_nonnull (strstr (index.body, "test index"));

  mm_http (&h, "GET", "/assets/app-1234.js", NULL, NULL, &js);
  g_assert_cmpint (js.status, ==, 200);
  g_assert_cmpstr (js.content_type, ==, "text/javascript; charset=utf-8");
  g_assert_cmpstr (js.cache_control, ==, "public, max-age=31536000, immutable");
  g_assert_cmpstr (js.body, ==, "console.log(1);\n");

  mm_http (&h, "GET", "/style.css", NULL, NULL, &css);
  g_assert_cmpint (css.status, ==, 200);
  g_assert_cmpstr (css.content_type, ==, "text/css; charset=utf-8");

  /* Client routes (no extension) get index.html. */
  mm_http (&h, "GET", "/meet/abc-defg-hij", NULL, NULL, &route);
  g_assert_cmpint (route.status, ==, 200);
  g_assert_nonnull (strstr (route.body, "test index"));

  mm_http (&h, "GET", "/assets/missing.js", NULL, NULL, &missing);
  g_assert_cmpint (missing.status, ==, 404);

  mm_http (&h, "POST", "/index.html", NULL, "{}", &post);
  g_assert_cmpint (post.status, ==, 405);

  mm_http (&h, "HEAD", "/style.css", NULL, NULL, &head);
  g_assert_cmpint (head.status, ==, 200);
}

static void
test_static_no_escape (void)
{
  g_autofree char *base = g_path_get_basename (outside_file);
  g_autofree char *p1 = g_strdup_printf ("/../%s", base);
  g_autofree char *p2 = g_strdup_printf ("/%%2e%%2e/%s", base);
  g_autofree char *p3 = g_strdup_printf ("/assets/..%%2f..%%2f%s", base);
  g_autofree char *p4 = g_strdup_printf ("/..\\%s", base);
  const char *paths[] = { p1, p2, p3, p4, "/escape/secret.txt", "/../../../../etc/passwd" };

  for (gsize i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_auto (MmResponse) r = { 0 };

      mm_http (&h, "GET", paths[i], NULL, NULL, &r);
      g_assert_cmpint (r.status, !=, -1);
      g_assert_null (strstr (r.body ? r.body : "", "TOP SECRET"));
      g_assert_null (strstr (r.body ? r.body : "", "root:"));
      g_assert_cmpint (r.status, !=, 500);
    }
}

static void
make_web_root (const char *dir)
{
  g_autofree char *assets = g_build_filename (dir, "www", "assets", NULL);
  g_autofree char *index = NULL;
  g_autofree char *js = NULL;
  g_autofree char *css = NULL;
  g_autofree char *link = NULL;

  g_mkdir_with_parents (assets, 0755);
  web_root = g_build_filename (dir, "www", NULL);
  index = g_build_filename (web_root, "index.html", NULL);
  js = g_build_filename (assets, "app-1234.js", NULL);
  css = g_build_filename (web_root, "style.css", NULL);
  outside_file = g_build_filename (dir, "secret.txt", NULL);
  g_assert_true (g_file_set_contents (index, "<!doctype html><title>test index</title>\n", -1, NULL));
  g_assert_true (g_file_set_contents (js, "console.log(1);\n", -1, NULL));
  g_assert_true (g_file_set_contents (css, "body{}\n", -1, NULL));
  g_assert_true (g_file_set_contents (outside_file, "TOP SECRET\n", -1, NULL));
  /* A symlink inside the web root pointing out of it. */
  link = g_build_filename (web_root, "escape", NULL);
  g_assert_cmpint (symlink (dir, link), ==, 0);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = NULL;
  int rc;

  g_test_init (&argc, &argv, NULL);
  dir = g_dir_make_tmp ("mixmeet-www-XXXXXX", &error);
  g_assert_no_error (error);
  make_web_root (dir);
  g_setenv ("MM_TEST_WEB_ROOT", web_root, TRUE);
  mm_harness_start (&h, NULL);
  g_test_add_func ("/input/malformed-json", test_malformed_json);
  g_test_add_func ("/input/empty-body", test_empty_body);
  g_test_add_func ("/input/oversized-body", test_oversized_body);
  g_test_add_func ("/input/huge-strings", test_huge_strings);
  g_test_add_func ("/input/wrong-types", test_wrong_types);
  g_test_add_func ("/input/deep-json", test_deep_json);
  g_test_add_func ("/input/content-type", test_content_type);
  g_test_add_func ("/input/unknown-routes-and-methods", test_unknown_routes_and_methods);
  g_test_add_func ("/input/sql-injection-stored-literally", test_sql_injection_stored_literally);
  g_test_add_func ("/input/bad-query-values", test_bad_query_values);
  g_test_add_func ("/static/files", test_static_files);
  g_test_add_func ("/static/no-escape", test_static_no_escape);
  rc = g_test_run ();
  mm_harness_stop (&h);
  {
    const char *rm[] = { "rm", "-rf", dir, NULL };
    g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
  }
  g_free (web_root);
  g_free (outside_file);
  return rc;
}
