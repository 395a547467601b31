/* accounts.h — users and their login sessions in PostgreSQL. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "store/db.h"

G_BEGIN_DECLS

typedef struct {
  gint64 id;
  char *name;
  char *email;
  char *created_at;
} MmUser;

void mm_user_clear (MmUser *user);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MmUser, mm_user_clear)

/* {"id", "name", "email", "created_at"}.  Returns: (transfer full) */
JsonNode *mm_user_to_json (const MmUser *user);

/* Create a user; MM_ERROR_EMAIL_TAKEN if the address (any case) exists. */
gboolean mm_store_user_create (MmDbConn *c, const char *name, const char *email,
                               const char *password_hash, MmUser *out, GError **error);

/* Look a user up by e-mail (any case).  FALSE without @error set when
 * there is none.  *@password_hash: (transfer full) */
gboolean mm_store_user_by_email (MmDbConn *c, const char *email, MmUser *out,
                                 char **password_hash, GError **error);

/* Store a session for @token_hash valid @lifetime_s seconds.
 * *@expires_at: (transfer full) ISO 8601. */
gboolean mm_store_session_create (MmDbConn *c, gint64 user_id, const char *token_hash,
                                  gint lifetime_s, char **expires_at, GError **error);

/* The user of an unexpired session, or MM_ERROR_INVALID_TOKEN. */
gboolean mm_store_session_user (MmDbConn *c, const char *token_hash, MmUser *out,
                                GError **error);

gboolean mm_store_session_delete (MmDbConn *c, const char *token_hash, GError **error);

G_END_DECLS
