/* secret.h — tokens from a CSPRNG, stored only as SHA-256 hashes. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MM_SECRET_BYTES 32          /* 256 random bits */
#define MM_SECRET_HASH_HEX_LEN 64   /* SHA-256 as hex */

/* A new token: 256 bits from OpenSSL's RAND_bytes, base64url without
 * padding (43 characters).  NULL with @error if the CSPRNG fails.
 * Returns: (transfer full) */
char *mm_secret_new_token (GError **error);

/* Lower-case hex SHA-256 of @text.  Returns: (transfer full) */
char *mm_secret_hash (const char *text);

/* Constant-time comparison of two NUL-terminated strings of equal length. */
gboolean mm_secret_equal (const char *a, const char *b);

/* Fill @buf with @len random bytes from OpenSSL. */
gboolean mm_secret_random (guint8 *buf, gsize len, GError **error);

G_END_DECLS
