/* db.c — the libpq connection pool. */
#include "config.h"

#include "store/db.h"
#include "core/error.h"

#include <poll.h>
#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-db"

#define ACQUIRE_TIMEOUT_US (5 * G_USEC_PER_SEC)

struct _MmDbConn {
  MmDb *db;
  PGconn *pg;
  gboolean busy;
};

struct _MmDb {
  char *conninfo;
  char *last_error;     /* libpq's words for the last failed connect (lock) */
  GMutex lock;
  GCond cond;
  guint size;
  MmDbConn *conns;
};

MmDb *
mm_db_new (const char *conninfo, guint size)
{
  MmDb *db = g_new0 (MmDb, 1);

  db->conninfo = g_strdup (conninfo);
  db->size = size;
  db->conns = g_new0 (MmDbConn, size);
  for (guint i = 0; i < size; i++)
    db->conns[i].db = db;
  g_mutex_init (&db->lock);
  g_cond_init (&db->cond);
  return db;
}

void
mm_db_free (MmDb *db)
{
  if (db == NULL)
    return;
  for (guint i = 0; i < db->size; i++)
    if (db->conns[i].pg != NULL)
      PQfinish (db->conns[i].pg);
  g_free (db->conns);
  g_free (db->conninfo);
  g_free (db->last_error);
  g_mutex_clear (&db->lock);
  g_cond_clear (&db->cond);
  g_free (db);
}

/* Server notices ("relation already exists, skipping") go to the debug log. */
static void
on_notice (void *data, const char *message)
{
  g_autofree char *text = g_strchomp (g_strdup (message));
  g_debug ("postgres: %s", text);
}

static PGconn *
connect_db (const char *conninfo)
{
  const char *keys[] = { "dbname", "connect_timeout", "application_name", NULL };
  const char *values[] = { conninfo, "5", "mixmeetd", NULL };

  /* expand_dbname: the conninfo string or URI in "dbname" is expanded,
   * and the other keys apply unless it sets them itself. */
  PGconn *pg = PQconnectdbParams (keys, values, 1);

  PQsetNoticeProcessor (pg, on_notice, NULL);
  return pg;
}

/* Whether the server has closed idle connection @pg (it restarted, or
 * ended the session): libpq only finds out by reading.  An idle connection
 * has nothing to read unless the server said something (before closing, a
 * FATAL message) or hung up; read until the socket is quiet.  Never blocks. */
static gboolean
idle_connection_lost (PGconn *pg)
{
  struct pollfd pfd = { .fd = PQsocket (pg), .events = POLLIN };

  while (poll (&pfd, 1, 0) > 0)
    if (!PQconsumeInput (pg) || PQstatus (pg) != CONNECTION_OK)
      return TRUE;
  return FALSE;
}

/* Make sure @c has a working connection; lock not held. */
static gboolean
ensure_connected (MmDbConn *c, GError **error)
{
  g_autofree char *msg = NULL;

  if (c->pg != NULL && PQstatus (c->pg) == CONNECTION_OK && !idle_connection_lost (c->pg))
    return TRUE;
  if (c->pg != NULL)
    PQreset (c->pg);
  else
    c->pg = connect_db (c->db->conninfo);
  if (PQstatus (c->pg) == CONNECTION_OK)
    return TRUE;
  msg = g_strdup (PQerrorMessage (c->pg));
  g_strchomp (msg);
  g_info ("database connection failed: %s", msg);
  g_mutex_lock (&c->db->lock);
  g_free (c->db->last_error);
  c->db->last_error = g_steal_pointer (&msg);
  g_mutex_unlock (&c->db->lock);
  g_set_error_literal (error, MM_ERROR, MM_ERROR_DATABASE_UNAVAILABLE,
                       "the database is unavailable");
  PQfinish (c->pg);
  c->pg = NULL;
  return FALSE;
}

MmDbConn *
mm_db_acquire (MmDb *db, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + ACQUIRE_TIMEOUT_US;
  MmDbConn *c = NULL;

  g_mutex_lock (&db->lock);
  while (c == NULL)
    {
      for (guint i = 0; i < db->size && c == NULL; i++)
        if (!db->conns[i].busy)
          c = &db->conns[i];
      if (c == NULL && !g_cond_wait_until (&db->cond, &db->lock, deadline))
        {
          g_mutex_unlock (&db->lock);
          g_set_error_literal (error, MM_ERROR, MM_ERROR_DATABASE_UNAVAILABLE,
                               "the database is busy: no connection was free in time");
          return NULL;
        }
    }
  c->busy = TRUE;
  g_mutex_unlock (&db->lock);
  if (!ensure_connected (c, error))
    {
      mm_db_release (c);
      return NULL;
    }
  return c;
}

void
mm_db_release (MmDbConn *c)
{
  MmDb *db;

  if (c == NULL)
    return;
  db = c->db;
  /* A connection left inside a transaction by a failed path is rolled
   * back before anyone else gets it. */
  if (c->pg != NULL && PQstatus (c->pg) == CONNECTION_OK
      && PQtransactionStatus (c->pg) != PQTRANS_IDLE)
    PQclear (PQexec (c->pg, "ROLLBACK"));
  g_mutex_lock (&db->lock);
  c->busy = FALSE;
  g_cond_signal (&db->cond);
  g_mutex_unlock (&db->lock);
}

PGconn *
mm_db_conn_pg (MmDbConn *c)
{
  return c->pg;
}

static gboolean
check_result (MmDbConn *c, PGresult *res, const char *sql, GError **error)
{
  ExecStatusType st = res ? PQresultStatus (res) : PGRES_FATAL_ERROR;
  const char *state;

  if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
    return TRUE;
  if (PQstatus (c->pg) != CONNECTION_OK)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_DATABASE_UNAVAILABLE,
                           "the connection to the database was lost");
      return FALSE;
    }
  state = res ? PQresultErrorField (res, PG_DIAG_SQLSTATE) : NULL;
  if (state != NULL && g_str_equal (state, "23505"))
    {
      g_set_error (error, MM_ERROR, MM_ERROR_CONFLICT, "%s",
                   PQresultErrorField (res, PG_DIAG_CONSTRAINT_NAME)
                     ? PQresultErrorField (res, PG_DIAG_CONSTRAINT_NAME) : "unique violation");
      return FALSE;
    }
  if (state != NULL && (g_str_equal (state, "40001") || g_str_equal (state, "40P01")))
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_CONFLICT, "serialization_failure");
      return FALSE;
    }
  if (state != NULL && (g_str_has_prefix (state, "08") || g_str_has_prefix (state, "57P")))
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_DATABASE_UNAVAILABLE,
                           "the database is unavailable");
      return FALSE;
    }
  g_warning ("query failed (%s): %s [%.80s]", state ? state : "?",
             res ? PQresultErrorMessage (res) : PQerrorMessage (c->pg), sql);
  g_set_error_literal (error, MM_ERROR, MM_ERROR_INTERNAL, "a database query failed");
  return FALSE;
}

PGresult *
mm_db_exec (MmDbConn *c, const char *sql, int n, const char *const *params, GError **error)
{
  PGresult *res = PQexecParams (c->pg, sql, n, NULL, params, NULL, NULL, 0);

  if (!check_result (c, res, sql, error))
    {
      PQclear (res);
      return NULL;
    }
  return res;
}

gboolean
mm_db_run (MmDbConn *c, const char *sql, int n, const char *const *params, GError **error)
{
  PGresult *res = mm_db_exec (c, sql, n, params, error);

  PQclear (res);
  return res != NULL;
}

gboolean
mm_db_exec_script (MmDbConn *c, const char *sql, GError **error)
{
  PGresult *res = PQexec (c->pg, sql);
  gboolean ok = check_result (c, res, "script", error);

  PQclear (res);
  return ok;
}

gboolean
mm_db_transaction (MmDbConn *c, MmDbTxFunc func, gpointer data, GError **error)
{
  for (int attempt = 0;; attempt++)
    {
      g_autoptr (GError) local = NULL;

      if (!mm_db_run (c, "BEGIN", 0, NULL, error))
        return FALSE;
      if (func (c, data, &local) && mm_db_run (c, "COMMIT", 0, NULL, &local))
        return TRUE;
      if (PQstatus (c->pg) == CONNECTION_OK)
        PQclear (PQexec (c->pg, "ROLLBACK"));
      if (attempt < 4 && g_error_matches (local, MM_ERROR, MM_ERROR_CONFLICT)
          && g_str_equal (local->message, "serialization_failure"))
        continue;
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
}

const char *
mm_db_get (PGresult *res, int row, const char *name)
{
  int col = PQfnumber (res, name);

  g_assert (col >= 0);   /* our own queries name their columns */
  if (row >= PQntuples (res) || PQgetisnull (res, row, col))
    return NULL;
  return PQgetvalue (res, row, col);
}

gint64
mm_db_get_int (PGresult *res, int row, const char *name)
{
  const char *v = mm_db_get (res, row, name);
  return v ? g_ascii_strtoll (v, NULL, 10) : 0;
}

gboolean
mm_db_get_bool (PGresult *res, int row, const char *name)
{
  const char *v = mm_db_get (res, row, name);
  return v != NULL && v[0] == 't';
}

gboolean
mm_db_ping (MmDb *db, GError **error)
{
  MmDbConn *c = mm_db_acquire (db, error);
  gboolean ok;

  if (c == NULL)
    return FALSE;
  ok = mm_db_run (c, "SELECT 1", 0, NULL, error);
  mm_db_release (c);
  return ok;
}

char *
mm_db_last_error (MmDb *db)
{
  char *text;

  g_mutex_lock (&db->lock);
  text = g_strdup (db->last_error);
  g_mutex_unlock (&db->lock);
  return text;
}

char *
mm_db_describe (const char *conninfo)
{
  PQconninfoOption *opts = PQconninfoParse (conninfo, NULL);
  GString *out = g_string_new (NULL);

  if (opts == NULL)
    return g_string_free (out, FALSE);
  for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
    {
      if (o->val == NULL || *o->val == '\0' || g_str_equal (o->keyword, "password"))
        continue;
      g_string_append_printf (out, "%s%s=%s", out->len ? " " : "", o->keyword, o->val);
    }
  PQconninfoFree (opts);
  return g_string_free (out, FALSE);
}

void
mm_db_pool_stats (MmDb *db, guint *in_use, guint *size)
{
  guint n = 0;

  g_mutex_lock (&db->lock);
  for (guint i = 0; i < db->size; i++)
    if (db->conns[i].busy)
      n++;
  g_mutex_unlock (&db->lock);
  *in_use = n;
  *size = db->size;
}
