/* secret.c — CSPRNG tokens and their hashes (OpenSSL). */
#include "config.h"

#include "core/secret.h"
#include "core/error.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

gboolean
mm_secret_random (guint8 *buf, gsize len, GError **error)
{
  if (RAND_bytes (buf, (int) len) != 1)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INTERNAL,
                           "the random number generator failed");
      return FALSE;
    }
  return TRUE;
}

char *
mm_secret_new_token (GError **error)
{
  guint8 raw[MM_SECRET_BYTES];
  char *text;

  if (!mm_secret_random (raw, sizeof raw, error))
    return NULL;
  /* base64url without padding: 32 bytes give 43 characters. */
  text = g_base64_encode (raw, sizeof raw);
  OPENSSL_cleanse (raw, sizeof raw);
  for (char *p = text; *p != '\0'; p++)
    {
      if (*p == '+')
        *p = '-';
      else if (*p == '/')
        *p = '_';
      else if (*p == '=')
        {
          *p = '\0';
          break;
        }
    }
  return text;
}

char *
mm_secret_hash (const char *text)
{
  guint8 md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  char *hex;

  if (EVP_Digest (text, strlen (text), md, &md_len, EVP_sha256 (), NULL) != 1)
    g_error ("SHA-256 is not available in this OpenSSL");
  hex = g_malloc (md_len * 2 + 1);
  for (unsigned int i = 0; i < md_len; i++)
    g_snprintf (hex + 2 * i, 3, "%02x", md[i]);
  return hex;
}

gboolean
mm_secret_equal (const char *a, const char *b)
{
  gsize la = strlen (a), lb = strlen (b);

  if (la != lb)
    return FALSE;
  return CRYPTO_memcmp (a, b, la) == 0;
}
