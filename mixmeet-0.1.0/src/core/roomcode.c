/* roomcode.c — generation and validation of room codes. */
#include "config.h"

#include "core/roomcode.h"
#include "core/secret.h"

char *
mm_room_code_new (GError **error)
{
  char code[MM_ROOM_CODE_LEN + 1];
  gsize filled = 0;

  while (filled < MM_ROOM_CODE_LEN)
    {
      guint8 raw[32];

      if (!mm_secret_random (raw, sizeof raw, error))
        return NULL;
      for (gsize i = 0; i < sizeof raw && filled < MM_ROOM_CODE_LEN; i++)
        {
          if (filled == 3 || filled == 8)
            code[filled++] = '-';
          /* Rejection sampling keeps the 26 letters equally likely. */
          if (raw[i] >= 26 * 9)
            continue;
          code[filled++] = 'a' + raw[i] % 26;
        }
    }
  code[MM_ROOM_CODE_LEN] = '\0';
  return g_strdup (code);
}

gboolean
mm_room_code_valid (const char *text)
{
  if (text == NULL)
    return FALSE;
  for (gsize i = 0; i < MM_ROOM_CODE_LEN; i++)
    {
      if (i == 3 || i == 8)
        {
          if (text[i] != '-')
            return FALSE;
        }
      else if (text[i] < 'a' || text[i] > 'z')
        return FALSE;
    }
  return text[MM_ROOM_CODE_LEN] == '\0';
}
