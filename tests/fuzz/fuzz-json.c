/* fuzz-json.c — libFuzzer target: any bytes as a request body.  Every
 * route reads its body through mm_json_parse_object (depth, NUL and
 * trailing-value checks, then json-glib) and its fields through
 * mm_json_get_string, _text and _bool: each must read or refuse the
 * input with an error, without a crash, a leak or a GLib critical.  Each
 * member of an object that parses is read as all three, with the limits
 * the routes use; a refusal must say why.
 */
#include "config.h"

#include "glib-fatal.h"

#include "http/json.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GList) names = NULL;
  g_autofree char *text = NULL;
  g_autofree char *again = NULL;
  JsonObject *obj;

  mm_fuzz_fatal_glib ();
  /* As the server hands a body over: its bytes and their length. */
  (void) mm_json_depth ((const char *) data, size);
  root = mm_json_parse_object ((const char *) data, size, &error);
  if (root == NULL)
    {
      if (error == NULL || error->message[0] == '\0')
        abort ();   /* a refusal names its reason */
      return 0;
    }
  obj = json_node_get_object (root);
  names = json_object_get_members (obj);
  for (GList *l = names; l != NULL; l = l->next)
    {
      const char *name = l->data;
      gboolean b = FALSE;
      const char *s;

      g_clear_error (&error);
      s = mm_json_get_string (obj, name, TRUE, 1, 64, &error);
      if ((s == NULL) == (error == NULL))
        abort ();   /* a value or an error, never both nor neither */
      if (s != NULL && (strlen (s) == 0 || mm_text_length (s, FALSE) < 1
                        || mm_text_length (s, FALSE) > 64))
        abort ();   /* what is returned keeps the limits asked for */
      g_clear_error (&error);
      s = mm_json_get_text (obj, name, FALSE, 0, 4000, TRUE, &error);
      if (s != NULL && mm_text_length (s, TRUE) < 0)
        abort ();
      g_clear_error (&error);
      (void) mm_json_get_bool (obj, name, FALSE, &b, &error);
    }
  g_clear_error (&error);
  /* A missing field: absent is no error unless required. */
  if (mm_json_get_string (obj, "\x01not-a-member", FALSE, 0, 10, &error) != NULL || error != NULL)
    abort ();
  /* What we echo back serialises. */
  again = mm_json_to_text (root);
  if (again == NULL)
    abort ();
  text = g_strndup ((const char *) data, size);
  return 0;
}
