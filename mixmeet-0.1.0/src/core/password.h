/* password.h — bcrypt ($2b$) through libxcrypt.  Both calls are slow on
 * purpose (tens to hundreds of ms): call them from a worker thread only. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MM_PASSWORD_MIN_BYTES 8
#define MM_PASSWORD_MAX_BYTES 72   /* bcrypt reads at most 72 bytes */

/* Hash @password with a fresh salt at @cost.  Returns: (transfer full) */
char *mm_password_hash (const char *password, gint cost, GError **error);

/* TRUE if @password matches @hash.  With @hash NULL, hashes against a
 * dummy so that unknown accounts take as long as known ones. */
gboolean mm_password_verify (const char *password, const char *hash, gint cost);

G_END_DECLS
