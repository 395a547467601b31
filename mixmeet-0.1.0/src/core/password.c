/* password.c — bcrypt via libxcrypt's reentrant calls. */
#include "config.h"

#include "core/password.h"
#include "core/error.h"
#include "core/secret.h"

#include <crypt.h>
#include <string.h>

char *
mm_password_hash (const char *password, gint cost, GError **error)
{
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  g_autofree struct crypt_data *data = g_new0 (struct crypt_data, 1);
  const char *out;

  /* NULL random bytes: libxcrypt draws the salt from the OS CSPRNG. */
  if (crypt_gensalt_rn ("$2b$", (unsigned long) cost, NULL, 0, setting, sizeof setting) == NULL)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INTERNAL, "could not generate a bcrypt salt");
      return NULL;
    }
  out = crypt_rn (password, setting, data, sizeof *data);
  if (out == NULL || out[0] == '*')
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INTERNAL, "bcrypt hashing failed");
      return NULL;
    }
  return g_strdup (out);
}

gboolean
mm_password_verify (const char *password, const char *hash, gint cost)
{
  g_autofree struct crypt_data *data = g_new0 (struct crypt_data, 1);
  g_autofree char *dummy = NULL;
  const char *out;

  if (hash == NULL)
    {
      /* Same work as a real check, then fail. */
      dummy = mm_password_hash ("not-a-password", cost, NULL);
      if (dummy != NULL)
        crypt_rn (password, dummy, data, sizeof *data);
      return FALSE;
    }
  out = crypt_rn (password, hash, data, sizeof *data);
  if (out == NULL || out[0] == '*')
    return FALSE;
  return mm_secret_equal (out, hash);
}
