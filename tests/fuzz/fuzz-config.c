/* fuzz-config.c — libFuzzer target: any bytes as mixmeetd.conf.  An
 * operator's file is read by mm_options_load_data (GKeyFile, then every
 * section, key and value checked) and the result by
 * mm_options_validate: each must load it or say what is wrong (naming
 * the file), without a crash, a leak or a GLib critical.  Seeds:
 * data/mixmeetd.conf with its settings set, and smaller files.
 */
#include "config.h"

#include "glib-fatal.h"

#include "core/options.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  MmOptions *o;

  mm_fuzz_fatal_glib ();
  /* As g_file_get_contents gives a file: its bytes, NUL-terminated. */
  text = g_malloc (size + 1);
  memcpy (text, data, size);
  text[size] = '\0';
  o = mm_options_new_default ();
  if (!mm_options_load_data (o, text, size, "fuzz.conf", &error))
    {
      if (error == NULL || strstr (error->message, "fuzz.conf") == NULL)
        abort ();   /* an operator is told which file */
    }
  else if (!mm_options_validate (o, &error) && error == NULL)
    abort ();
  mm_options_free (o);
  return 0;
}
