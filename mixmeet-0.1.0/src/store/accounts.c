/* accounts.c — SQL for users and sessions. */
#include "config.h"

#include "store/accounts.h"
#include "core/error.h"

void
mm_user_clear (MmUser *u)
{
  g_clear_pointer (&u->name, g_free);
  g_clear_pointer (&u->email, g_free);
  g_clear_pointer (&u->created_at, g_free);
  u->id = 0;
}

JsonNode *
mm_user_to_json (const MmUser *u)
{
  g_autoptr (JsonObject) o = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_object_set_int_member (o, "id", u->id);
  json_object_set_string_member (o, "name", u->name);
  json_object_set_string_member (o, "email", u->email);
  json_object_set_string_member (o, "created_at", u->created_at);
  json_node_set_object (node, o);
  return node;
}

static void
user_from_row (PGresult *res, MmUser *out)
{
  out->id = mm_db_get_int (res, 0, "id");
  out->name = g_strdup (mm_db_get (res, 0, "name"));
  out->email = g_strdup (mm_db_get (res, 0, "email"));
  out->created_at = g_strdup (mm_db_get (res, 0, "created_at"));
}

gboolean
mm_store_user_create (MmDbConn *c, const char *name, const char *email,
                      const char *password_hash, MmUser *out, GError **error)
{
  const char *params[] = { name, email, password_hash };
  g_autoptr (GError) local = NULL;
  g_autoptr (PGresult) res = mm_db_exec (c,
      "INSERT INTO users (name, email, password_hash) VALUES ($1, $2, $3) "
      "RETURNING id, name, email, iso8601(created_at) AS created_at",
      3, params, &local);

  if (res == NULL)
    {
      if (g_error_matches (local, MM_ERROR, MM_ERROR_CONFLICT))
        g_set_error_literal (error, MM_ERROR, MM_ERROR_EMAIL_TAKEN,
                             "an account with this e-mail address already exists");
      else
        g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  user_from_row (res, out);
  return TRUE;
}

gboolean
mm_store_user_by_email (MmDbConn *c, const char *email, MmUser *out, char **password_hash,
                        GError **error)
{
  const char *params[] = { email };
  g_autoptr (PGresult) res = mm_db_exec (c,
      "SELECT id, name, email, iso8601(created_at) AS created_at, password_hash "
      "FROM users WHERE lower(email) = lower($1)",
      1, params, error);

  if (res == NULL || PQntuples (res) == 0)
    return FALSE;
  user_from_row (res, out);
  *password_hash = g_strdup (mm_db_get (res, 0, "password_hash"));
  return TRUE;
}

gboolean
mm_store_session_create (MmDbConn *c, gint64 user_id, const char *token_hash,
                         gint lifetime_s, char **expires_at, GError **error)
{
  g_autofree char *uid = g_strdup_printf ("%" G_GINT64_FORMAT, user_id);
  g_autofree char *life = g_strdup_printf ("%d", lifetime_s);
  const char *params[] = { token_hash, uid, life };
  g_autoptr (PGresult) res = mm_db_exec (c,
      "INSERT INTO sessions (token_hash, user_id, expires_at) "
      "VALUES ($1, $2, now() + make_interval(secs => $3::int)) "
      "RETURNING iso8601(expires_at) AS expires_at",
      3, params, error);

  if (res == NULL)
    return FALSE;
  *expires_at = g_strdup (mm_db_get (res, 0, "expires_at"));
  /* Expired sessions of this user are cleaned up as new ones appear. */
  {
    const char *p[] = { uid };
    mm_db_run (c, "DELETE FROM sessions WHERE user_id = $1 AND expires_at < now()", 1, p, NULL);
  }
  return TRUE;
}

gboolean
mm_store_session_user (MmDbConn *c, const char *token_hash, MmUser *out, GError **error)
{
  const char *params[] = { token_hash };
  g_autoptr (PGresult) res = mm_db_exec (c,
      "SELECT u.id, u.name, u.email, iso8601(u.created_at) AS created_at "
      "FROM sessions s JOIN users u ON u.id = s.user_id "
      "WHERE s.token_hash = $1 AND s.expires_at > now()",
      1, params, error);

  if (res == NULL)
    return FALSE;
  if (PQntuples (res) == 0)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INVALID_TOKEN,
                           "the token is invalid or has expired");
      return FALSE;
    }
  user_from_row (res, out);
  return TRUE;
}

gboolean
mm_store_session_delete (MmDbConn *c, const char *token_hash, GError **error)
{
  const char *params[] = { token_hash };
  return mm_db_run (c, "DELETE FROM sessions WHERE token_hash = $1", 1, params, error);
}
