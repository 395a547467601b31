/* roomcode.h — Meet-style room codes: three, four and three lower-case
 * letters, "abc-defg-hij" (26^10 ≈ 1.4e14 codes). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MM_ROOM_CODE_LEN 12

/* A new random code from the CSPRNG.  Returns: (transfer full) */
char *mm_room_code_new (GError **error);

/* TRUE if @text is a well-formed code. */
gboolean mm_room_code_valid (const char *text);

G_END_DECLS
