/* db.h — a small pool of libpq connections, parameterised queries only.
 *
 * Never call these from the main loop: they block.  A connection that is
 * found broken is reset when it is next acquired, so service comes back by
 * itself when the database does; until then callers get
 * MM_ERROR_DATABASE_UNAVAILABLE (503).
 */
#pragma once

#include <glib.h>
#include <libpq-fe.h>

#include "core/app.h"

G_BEGIN_DECLS

typedef struct _MmDbConn MmDbConn;

/* Returns: (transfer full).  Connections are opened lazily. */
MmDb *mm_db_new (const char *conninfo, guint size);
void mm_db_free (MmDb *db);

/* Take a connection (waits up to a few seconds for a free one); a broken
 * one is reset first.  NULL with MM_ERROR_DATABASE_UNAVAILABLE. */
MmDbConn *mm_db_acquire (MmDb *db, GError **error);
void mm_db_release (MmDbConn *conn);

/* Run @sql with text parameters @params (@n of them, NULL entries are SQL
 * NULL).  Returns: (transfer full) a result with PGRES_TUPLES_OK or
 * PGRES_COMMAND_OK, or NULL with @error: unique violations are
 * MM_ERROR_CONFLICT, lost connections MM_ERROR_DATABASE_UNAVAILABLE,
 * anything else MM_ERROR_INTERNAL (logged). */
PGresult *mm_db_exec (MmDbConn *conn, const char *sql, int n, const char *const *params,
                      GError **error);

/* Convenience: run a statement whose result is not needed. */
gboolean mm_db_run (MmDbConn *conn, const char *sql, int n, const char *const *params,
                    GError **error);

/* Run @func inside BEGIN … COMMIT, retrying serialisation failures and
 * deadlocks a few times; ROLLBACK when it fails. */
typedef gboolean (*MmDbTxFunc) (MmDbConn *conn, gpointer data, GError **error);
gboolean mm_db_transaction (MmDbConn *conn, MmDbTxFunc func, gpointer data, GError **error);

/* Run @sql (several statements, no parameters) as one simple query. */
gboolean mm_db_exec_script (MmDbConn *conn, const char *sql, GError **error);

/* Value of column @name in row @row: (transfer none), NULL when SQL NULL. */
const char *mm_db_get (PGresult *res, int row, const char *name);
gint64 mm_db_get_int (PGresult *res, int row, const char *name);
gboolean mm_db_get_bool (PGresult *res, int row, const char *name);

/* Check that a connection can be made and answers SELECT 1. */
gboolean mm_db_ping (MmDb *db, GError **error);

/* libpq's message for the last failed connection attempt, for the log
 * (it may name hosts and sockets: never send it to clients).
 * Returns: (transfer full) (nullable) */
char *mm_db_last_error (MmDb *db);

/* @conninfo without its password, for messages.  Returns: (transfer full) */
char *mm_db_describe (const char *conninfo);

/* Connections of the pool taken now, and the pool's size.  Any thread. */
void mm_db_pool_stats (MmDb *db, guint *in_use, guint *size);

/* The raw connection, for start-up code (migrations). */
PGconn *mm_db_conn_pg (MmDbConn *conn);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PGresult, PQclear)

G_END_DECLS
