/* auth.c — register, login, logout, current user (worker threads). */
#include "config.h"

#include "api/api.h"
#include "core/error.h"
#include "core/password.h"
#include "core/secret.h"
#include "http/json.h"
#include "store/accounts.h"

#include <string.h>

static gboolean
valid_email (const char *email)
{
  const char *at = strchr (email, '@');

  return at != NULL && at != email && strchr (at + 1, '@') == NULL
         && strchr (at + 1, '.') != NULL && at[1] != '.' && !g_str_has_suffix (email, ".")
         && strpbrk (email, " \t<>()[]\\,;:\"") == NULL;
}

static gboolean
check_password (const char *password, GError **error)
{
  gsize len = strlen (password);

  if (len < MM_PASSWORD_MIN_BYTES || len > MM_PASSWORD_MAX_BYTES)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                   "password must be %d to %d bytes long", MM_PASSWORD_MIN_BYTES,
                   MM_PASSWORD_MAX_BYTES);
      return FALSE;
    }
  return TRUE;
}

static void
finish_with_session (MmApp *app, MmRequest *req, MmDbConn *c, const MmUser *user, guint status)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *token = mm_secret_new_token (&error);
  g_autofree char *hash = NULL;
  g_autofree char *expires = NULL;
  g_autoptr (JsonObject) o = NULL;
  JsonNode *node;

  if (token == NULL)
    {
      mm_request_finish_error (req, error);
      return;
    }
  hash = mm_secret_hash (token);
  if (!mm_store_session_create (c, user->id, hash, app->opts->token_lifetime, &expires, &error))
    {
      mm_request_finish_error (req, error);
      return;
    }
  o = json_object_new ();
  json_object_set_member (o, "user", mm_user_to_json (user));
  json_object_set_string_member (o, "token", token);
  json_object_set_string_member (o, "expires_at", expires);
  node = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (node, o);
  mm_request_finish_json (req, status, node);
}

void
mm_api_register (MmApp *app, MmRequest *req)
{
  g_autoptr (GError) error = NULL;
  g_auto (MmUser) user = { 0 };
  g_autofree char *hash = NULL;
  JsonObject *body = mm_request_json (req, &error);
  const char *name = NULL, *email = NULL, *password = NULL;
  MmDbConn *c;

  if (body == NULL
      || (name = mm_json_get_string (body, "name", TRUE, 1, MM_MAX_NAME, &error)) == NULL
      || (email = mm_json_get_string (body, "email", TRUE, 3, MM_MAX_EMAIL, &error)) == NULL
      || (password = mm_json_get_text (body, "password", TRUE, 1, 1024, TRUE, &error)) == NULL
      || !check_password (password, &error))
    {
      mm_request_finish_error (req, error);
      return;
    }
  if (!valid_email (email))
    {
      mm_request_finish_error_literal (req, MM_ERROR_INVALID_INPUT,
                                       "email is not a valid e-mail address");
      return;
    }
  if (mm_api_over_limit (req, app->register_by_ip, mm_request_client_ip (req),
                         "accounts made from this address"))
    return;
  /* Hash before taking a database connection: the pool is not held
   * while bcrypt works. */
  hash = mm_password_hash (password, app->opts->bcrypt_cost, &error);
  if (hash == NULL)
    {
      mm_request_finish_error (req, error);
      return;
    }
  c = mm_api_db (app, req);
  if (c == NULL)
    return;
  if (!mm_store_user_create (c, name, email, hash, &user, &error))
    mm_request_finish_error (req, error);
  else
    finish_with_session (app, req, c, &user, 201);
  mm_db_release (c);
}

void
mm_api_login (MmApp *app, MmRequest *req)
{
  g_autoptr (GError) error = NULL;
  g_auto (MmUser) user = { 0 };
  g_autofree char *hash = NULL;
  g_autofree char *email_key = NULL;
  g_autofree char *retry = NULL;
  JsonObject *body = mm_request_json (req, &error);
  const char *email = NULL, *password = NULL;
  gint64 now = g_get_monotonic_time ();
  gint wait_s = 0;
  gboolean found, ok;
  MmDbConn *c;

  if (body == NULL
      || (email = mm_json_get_string (body, "email", TRUE, 1, MM_MAX_EMAIL, &error)) == NULL
      || (password = mm_json_get_text (body, "password", TRUE, 1, 1024, TRUE, &error)) == NULL)
    {
      mm_request_finish_error (req, error);
      return;
    }
  email_key = g_utf8_strdown (email, -1);
  if (mm_throttle_blocked (app->login_by_email, email_key, now, &wait_s)
      || mm_throttle_blocked (app->login_by_ip, mm_request_client_ip (req), now, &wait_s))
    {
      retry = g_strdup_printf ("%d", wait_s);
      mm_request_add_header (req, "Retry-After", retry);
      mm_request_finish_errorf (req, MM_ERROR_TOO_MANY_REQUESTS,
                                "too many failed logins: try again in %d s", wait_s);
      return;
    }
  c = mm_api_db (app, req);
  if (c == NULL)
    return;
  found = mm_store_user_by_email (c, email, &user, &hash, &error);
  mm_db_release (c);
  if (error != NULL)
    {
      mm_request_finish_error (req, error);
      return;
    }
  /* Unknown addresses cost a bcrypt too, so timing tells nothing. */
  ok = strlen (password) <= MM_PASSWORD_MAX_BYTES
       && mm_password_verify (password, found ? hash : NULL, app->opts->bcrypt_cost)
       && found;
  if (!ok)
    {
      mm_throttle_fail (app->login_by_email, email_key, g_get_monotonic_time ());
      mm_throttle_fail (app->login_by_ip, mm_request_client_ip (req), g_get_monotonic_time ());
      /* For the operator (and tools like fail2ban): who, not which account. */
      g_message ("failed login from %s", mm_request_client_ip (req));
      mm_request_finish_error_literal (req, MM_ERROR_INVALID_CREDENTIALS,
                                       "wrong e-mail address or password");
      return;
    }
  mm_throttle_clear (app->login_by_email, email_key);
  c = mm_api_db (app, req);
  if (c == NULL)
    return;
  finish_with_session (app, req, c, &user, 200);
  mm_db_release (c);
}

gboolean
mm_api_user (MmDbConn *c, MmRequest *req, gboolean required, MmUser *out, GError **error)
{
  const char *token = mm_request_bearer (req);
  g_autofree char *hash = NULL;

  out->id = 0;
  if (token == NULL)
    {
      if (!required)
        return TRUE;
      g_set_error_literal (error, MM_ERROR, MM_ERROR_UNAUTHORIZED,
                           "sign in first: this needs Authorization: Bearer TOKEN");
      return FALSE;
    }
  if (strlen (token) > 256)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INVALID_TOKEN, "the token is invalid");
      return FALSE;
    }
  hash = mm_secret_hash (token);
  return mm_store_session_user (c, hash, out, error);
}

void
mm_api_logout (MmApp *app, MmRequest *req)
{
  g_autoptr (GError) error = NULL;
  g_auto (MmUser) user = { 0 };
  g_autofree char *hash = NULL;
  MmDbConn *c = mm_api_db (app, req);

  if (c == NULL)
    return;
  if (!mm_api_user (c, req, TRUE, &user, &error))
    mm_request_finish_error (req, error);
  else
    {
      hash = mm_secret_hash (mm_request_bearer (req));
      if (!mm_store_session_delete (c, hash, &error))
        mm_request_finish_error (req, error);
      else
        mm_request_finish_empty (req, 204);
    }
  mm_db_release (c);
}

void
mm_api_me (MmApp *app, MmRequest *req)
{
  g_autoptr (GError) error = NULL;
  g_auto (MmUser) user = { 0 };
  MmDbConn *c = mm_api_db (app, req);
  g_autoptr (JsonObject) o = NULL;
  JsonNode *node;

  if (c == NULL)
    return;
  if (!mm_api_user (c, req, TRUE, &user, &error))
    {
      mm_db_release (c);
      mm_request_finish_error (req, error);
      return;
    }
  mm_db_release (c);
  o = json_object_new ();
  json_object_set_member (o, "user", mm_user_to_json (&user));
  node = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (node, o);
  mm_request_finish_json (req, 200, node);
}
