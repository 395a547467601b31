/* migrate.c — applying sql/NNN_name.sql files. */
#include "config.h"

#include "store/migrate.h"
#include "core/error.h"

#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-db"

/* "NNN_name.sql" with three or more digits. */
static gboolean
is_migration (const char *name)
{
  gsize digits = 0;

  while (g_ascii_isdigit (name[digits]))
    digits++;
  return digits >= 3 && name[digits] == '_' && g_str_has_suffix (name, ".sql");
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  const char *x = *(const char *const *) a, *y = *(const char *const *) b;
  gint64 nx = g_ascii_strtoll (x, NULL, 10), ny = g_ascii_strtoll (y, NULL, 10);

  return nx < ny ? -1 : nx > ny ? 1 : strcmp (x, y);
}

GPtrArray *
mm_migrate_list (const char *dir, GError **error)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, error);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (d == NULL)
    {
      g_prefix_error (error, "migrations: ");
      return NULL;
    }
  while ((name = g_dir_read_name (d)) != NULL)
    if (is_migration (name))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  for (guint i = 1; i < names->len; i++)
    if (g_ascii_strtoll (names->pdata[i], NULL, 10) == g_ascii_strtoll (names->pdata[i - 1], NULL, 10))
      {
        g_set_error (error, MM_ERROR, MM_ERROR_INTERNAL,
                     "migrations %s and %s have the same number",
                     (char *) names->pdata[i - 1], (char *) names->pdata[i]);
        return NULL;
      }
  return g_steal_pointer (&names);
}

typedef struct {
  const char *name;
  const char *sql;
} Migration;

static gboolean
apply_one (MmDbConn *c, gpointer data, GError **error)
{
  Migration *m = data;
  g_autofree char *version = g_strdup_printf ("%" G_GINT64_FORMAT, g_ascii_strtoll (m->name, NULL, 10));
  const char *params[] = { version, m->name };

  return mm_db_exec_script (c, m->sql, error)
         && mm_db_run (c, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                       2, params, error);
}

gboolean
mm_migrate_apply (MmDb *db, const char *dir, guint *applied, GError **error)
{
  g_autoptr (GPtrArray) names = mm_migrate_list (dir, error);
  g_autoptr (PGresult) done = NULL;
  MmDbConn *c;
  gboolean ok = FALSE;

  *applied = 0;
  if (names == NULL)
    return FALSE;
  c = mm_db_acquire (db, error);
  if (c == NULL)
    return FALSE;
  if (!mm_db_run (c, "SELECT pg_advisory_lock(4242424201)", 0, NULL, error))
    goto out;
  if (!mm_db_exec_script (c,
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "  version integer PRIMARY KEY,"
        "  name text NOT NULL,"
        "  applied_at timestamptz NOT NULL DEFAULT now());"
        "COMMENT ON TABLE schema_migrations IS 'Migrations from sql/ that have been applied';",
        error))
    goto unlock;
  done = mm_db_exec (c, "SELECT version FROM schema_migrations", 0, NULL, error);
  if (done == NULL)
    goto unlock;
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      gint64 version = g_ascii_strtoll (name, NULL, 10);
      g_autofree char *path = NULL;
      g_autofree char *sql = NULL;
      gboolean seen = FALSE;
      Migration m;

      for (int r = 0; r < PQntuples (done) && !seen; r++)
        seen = mm_db_get_int (done, r, "version") == version;
      if (seen)
        continue;
      path = g_build_filename (dir, name, NULL);
      if (!g_file_get_contents (path, &sql, NULL, error))
        goto unlock;
      m.name = name;
      m.sql = sql;
      if (!mm_db_transaction (c, apply_one, &m, error))
        {
          g_prefix_error (error, "migration %s: ", name);
          goto unlock;
        }
      g_message ("applied migration %s", name);
      (*applied)++;
    }
  ok = TRUE;
unlock:
  if (PQstatus (mm_db_conn_pg (c)) == CONNECTION_OK)
    PQclear (PQexec (mm_db_conn_pg (c), "SELECT pg_advisory_unlock(4242424201)"));
out:
  mm_db_release (c);
  return ok;
}
