/* test-auth.c — accounts over HTTP against real PostgreSQL and mixmeetd:
 * register, login, logout, current user, wrong password, duplicate e-mail,
 * invalid and expired tokens, login throttling. */
#include "config.h"

#include "harness.h"

#include <string.h>

static MmHarness h;

static void
test_register_login_logout (void)
{
  g_autofree char *email = NULL;
  g_autofree char *token = mm_test_register (&h, "Ada", &email);
  g_autofree char *body = g_strdup_printf ("{\"email\":\"%s\",\"password\":\"correct horse\"}", email);
  g_autofree char *upper = g_ascii_strup (email, -1);
  g_autofree char *body_upper = g_strdup_printf ("{\"email\":\"%s\",\"password\":\"correct horse\"}", upper);
  g_autofree char *token2 = NULL;
  g_auto (MmResponse) me = { 0 };
  g_auto (MmResponse) login = { 0 };
  g_auto (MmResponse) login2 = { 0 };
  g_auto (MmResponse) out = { 0 };
  g_auto (MmResponse) after = { 0 };
  g_auto (MmResponse) still = { 0 };

  g_assert_cmpuint (strlen (token), ==, 43);
  mm_http (&h, "GET", "/api/v1/auth/me", token, NULL, &me);
  g_assert_cmpint (me.status, ==, 200);
  g_assert_cmpstr (mm_json_str (&me, "user.name"), ==, "Ada");
  g_assert_cmpstr (mm_json_str (&me, "user.email"), ==, email);
  g_assert_null (mm_json_at (&me, "user.password_hash"));

  mm_http (&h, "POST", "/api/v1/auth/login", NULL, body, &login);
  g_assert_cmpint (login.status, ==, 200);
  token2 = g_strdup (mm_json_str (&login, "token"));
  g_assert_nonnull (token2);
  g_assert_cmpstr (token2, !=, token);
  g_assert_nonnull (mm_json_str (&login, "expires_at"));

  /* E-mail addresses compare without case. */
  mm_http (&h, "POST", "/api/v1/auth/login", NULL, body_upper, &login2);
  g_assert_cmpint (login2.status, ==, 200);

  mm_http (&h, "POST", "/api/v1/auth/logout", token, NULL, &out);
  g_assert_cmpint (out.status, ==, 204);
  mm_http (&h, "GET", "/api/v1/auth/me", token, NULL, &after);
  g_assert_cmpint (after.status, ==, 401);
  g_assert_cmpstr (mm_error_code (&after), ==, "invalid_token");
  /* The other session is untouched. */
  mm_http (&h, "GET", "/api/v1/auth/me", token2, NULL, &still);
  g_assert_cmpint (still.status, ==, 200);
}

static void
test_stored_as_hashes (void)
{
  g_autofree char *email = NULL;
  g_autofree char *token = mm_test_register (&h, "Hash", &email);
  g_autofree char *sql = g_strdup_printf ("SELECT password_hash FROM users WHERE email = '%s'", email);
  g_autofree char *hash = mm_harness_sql (&h, sql);
  g_autofree char *n_plain = NULL;
  g_autofree char *q = g_strdup_printf ("SELECT count(*) FROM sessions WHERE token_hash = '%s'", token);

  g_assert_true (g_str_has_prefix (hash, "$2b$04$"));
  g_assert_null (strstr (hash, "correct horse"));
  n_plain = mm_harness_sql (&h, q);
  g_assert_cmpstr (n_plain, ==, "0");
}

static void
test_wrong_password (void)
{
  g_autofree char *email = NULL;
  g_autofree char *token = mm_test_register (&h, "Bob", &email);
  g_autofree char *body = g_strdup_printf ("{\"email\":\"%s\",\"password\":\"wrong horse\"}", email);
  g_auto (MmResponse) r = { 0 };
  g_auto (MmResponse) unknown = { 0 };

  mm_http (&h, "POST", "/api/v1/auth/login", NULL, body, &r);
  g_assert_cmpint (r.status, ==, 401);
  g_assert_cmpstr (mm_error_code (&r), ==, "invalid_credentials");
  g_assert_null (mm_json_at (&r, "token"));

  mm_http (&h, "POST", "/api/v1/auth/login", NULL,
           "{\"email\":\"nobody-here@example.com\",\"password\":\"whatever1\"}", &unknown);
  g_assert_cmpint (unknown.status, ==, 401);
  g_assert_cmpstr (mm_error_code (&unknown), ==, "invalid_credentials");
}

static void
test_duplicate_email (void)
{
  g_autofree char *email = NULL;
  g_autofree char *token = mm_test_register (&h, "Cy", &email);
  g_autofree char *upper = g_ascii_strup (email, -1);
  g_autofree char *body = g_strdup_printf ("{\"name\":\"Cy2\",\"email\":\"%s\",\"password\":\"another one\"}", upper);
  g_auto (MmResponse) r = { 0 };

  mm_http (&h, "POST", "/api/v1/auth/register", NULL, body, &r);
  g_assert_cmpint (r.status, ==, 409);
  g_assert_cmpstr (mm_error_code (&r), ==, "email_taken");
}

static void
test_invalid_tokens (void)
{
  static const char *const tokens[] = {
    "not-a-token",
    "oupAhmx7Nfz-Xp2EVWLwrom9ssYPqyojre0pKeu6QaU",
    "' OR 1=1 --",
  };
  g_auto (MmResponse) none = { 0 };

  for (gsize i = 0; i < G_N_ELEMENTS (tokens); i++)
    {
      g_auto (MmResponse) r = { 0 };

      mm_http (&h, "GET", "/api/v1/auth/me", tokens[i], NULL, &r);
      g_assert_cmpint (r.status, ==, 401);
      g_assert_cmpstr (mm_error_code (&r), ==, "invalid_token");
    }
  mm_http (&h, "GET", "/api/v1/auth/me", NULL, NULL, &none);
  g_assert_cmpint (none.status, ==, 401);
  g_assert_cmpstr (mm_error_code (&none), ==, "unauthorized");
}

static void
test_expired_token (void)
{
  g_autofree char *email = NULL;
  g_autofree char *token = mm_test_register (&h, "Old", &email);
  g_autofree char *sql = g_strdup_printf (
      "UPDATE sessions SET created_at = now() - interval '2 days', "
      "expires_at = now() - interval '1 second' "
      "WHERE user_id = (SELECT id FROM users WHERE email = '%s')", email);
  g_auto (MmResponse) before = { 0 };
  g_auto (MmResponse) r = { 0 };

  mm_http (&h, "GET", "/api/v1/auth/me", token, NULL, &before);
  g_assert_cmpint (before.status, ==, 200);
  g_free (mm_harness_sql (&h, sql));
  mm_http (&h, "GET", "/api/v1/auth/me", token, NULL, &r);
  g_assert_cmpint (r.status, ==, 401);
  g_assert_cmpstr (mm_error_code (&r), ==, "invalid_token");
}

static void
test_throttling (void)
{
  g_autofree char *email = NULL;
  g_autofree char *token = mm_test_register (&h, "Target", &email);
  g_autofree char *wrong = g_strdup_printf ("{\"email\":\"%s\",\"password\":\"guess guess\"}", email);
  g_autofree char *right = g_strdup_printf ("{\"email\":\"%s\",\"password\":\"correct horse\"}", email);
  g_auto (MmResponse) blocked = { 0 };
  g_auto (MmResponse) other = { 0 };
  g_autofree char *other_email = NULL;
  g_autofree char *other_token = mm_test_register (&h, "Other", &other_email);
  g_autofree char *other_body = g_strdup_printf ("{\"email\":\"%s\",\"password\":\"correct horse\"}", other_email);

  /* The harness allows 5 failures per address in the window. */
  for (int i = 0; i < 5; i++)
    {
      g_auto (MmResponse) r = { 0 };

      mm_http (&h, "POST", "/api/v1/auth/login", NULL, wrong, &r);
      g_assert_cmpint (r.status, ==, 401);
    }
  /* Now even the right password is refused, with a Retry-After. */
  mm_http (&h, "POST", "/api/v1/auth/login", NULL, right, &blocked);
  g_assert_cmpint (blocked.status, ==, 429);
  g_assert_cmpstr (mm_error_code (&blocked), ==, "too_many_requests");
  g_assert_nonnull (blocked.retry_after);
  g_assert_cmpint (g_ascii_strtoll (blocked.retry_after, NULL, 10), >, 0);
  /* Another account is not affected. */
  mm_http (&h, "POST", "/api/v1/auth/login", NULL, other_body, &other);
  g_assert_cmpint (other.status, ==, 200);
}

static void
test_register_validation (void)
{
  static const struct {
    const char *body;
    const char *needle;
  } cases[] = {
    { "{\"email\":\"a@b.example\",\"password\":\"long enough\"}", "name" },
    { "{\"name\":\"X\",\"password\":\"long enough\"}", "email" },
    { "{\"name\":\"X\",\"email\":\"not-an-address\",\"password\":\"long enough\"}", "email" },
    { "{\"name\":\"X\",\"email\":\"short@pw.example\",\"password\":\"short\"}", "password" },
    { "{\"name\":\"\",\"email\":\"e@x.example\",\"password\":\"long enough\"}", "name" },
    { "{\"name\":42,\"email\":\"e@x.example\",\"password\":\"long enough\"}", "name" },
    { "{\"name\":\"X\",\"email\":[\"e@x.example\"],\"password\":\"long enough\"}", "email" },
    { "{\"name\":\"a\\u0000b\",\"email\":\"e@x.example\",\"password\":\"long enough\"}", "NUL" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto (MmResponse) r = { 0 };

      mm_http (&h, "POST", "/api/v1/auth/register", NULL, cases[i].body, &r);
      g_assert_cmpint (r.status, ==, 400);
      g_assert_cmpstr (mm_error_code (&r), ==, "invalid_input");
      g_assert_nonnull (strstr (mm_json_str (&r, "error.message"), cases[i].needle));
    }
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  mm_harness_start (&h, "[auth]\nlogin-max-failures=5\n");
  g_test_add_func ("/auth/register-login-logout", test_register_login_logout);
  g_test_add_func ("/auth/stored-as-hashes", test_stored_as_hashes);
  g_test_add_func ("/auth/wrong-password", test_wrong_password);
  g_test_add_func ("/auth/duplicate-email", test_duplicate_email);
  g_test_add_func ("/auth/invalid-tokens", test_invalid_tokens);
  g_test_add_func ("/auth/expired-token", test_expired_token);
  g_test_add_func ("/auth/throttling", test_throttling);
  g_test_add_func ("/auth/register-validation", test_register_validation);
  rc = g_test_run ();
  mm_harness_stop (&h);
  return rc;
}
