/* migrate.h — schema migrations: sql/NNN_name.sql, applied in order, each
 * in its own transaction, recorded in schema_migrations. */
#pragma once

#include <glib.h>

#include "store/db.h"

G_BEGIN_DECLS

/* The migration files of @dir in order (transfer full), or NULL with @error. */
GPtrArray *mm_migrate_list (const char *dir, GError **error);

/* Apply what is not yet applied.  *@applied counts them.  Concurrent
 * servers are serialised with an advisory lock. */
gboolean mm_migrate_apply (MmDb *db, const char *dir, guint *applied, GError **error);

G_END_DECLS
