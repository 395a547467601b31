/* json.c — bounded JSON input. */
#include "config.h"

#include "http/json.h"
#include "core/error.h"

#include <string.h>

/* Does a string in @text escape a NUL (\u0000)?  C strings would cut it. */
static gboolean
has_escaped_nul (const char *text, gsize len)
{
  gboolean in_string = FALSE;

  for (gsize i = 0; i < len; i++)
    {
      if (!in_string)
        {
          in_string = text[i] == '"';
          continue;
        }
      if (text[i] == '"')
        in_string = FALSE;
      else if (text[i] == '\\' && i + 1 < len)
        {
          if (text[i + 1] == 'u' && i + 5 < len && strncmp (text + i + 2, "0000", 4) == 0)
            return TRUE;
          i++;
        }
    }
  return FALSE;
}

/* Is there anything but white space after the first complete top-level
 * object or array?  json-glib would silently ignore a second object. */
static gboolean
has_trailing_value (const char *text, gsize len)
{
  guint depth = 0;
  gboolean in_string = FALSE, started = FALSE;
  gsize i;

  for (i = 0; i < len; i++)
    {
      char c = text[i];

      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }
      if (c == '"')
        in_string = TRUE;
      else if (c == '{' || c == '[')
        {
          depth++;
          started = TRUE;
        }
      else if ((c == '}' || c == ']') && depth > 0 && --depth == 0 && started)
        break;
    }
  for (i++; i < len; i++)
    if (!g_ascii_isspace (text[i]))
      return TRUE;
  return FALSE;
}

guint
mm_json_depth (const char *text, gsize len)
{
  guint depth = 0, deepest = 0;
  gboolean in_string = FALSE;

  for (gsize i = 0; i < len; i++)
    {
      char c = text[i];

      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }
      if (c == '"')
        in_string = TRUE;
      else if (c == '{' || c == '[')
        {
          depth++;
          deepest = MAX (deepest, depth);
        }
      else if ((c == '}' || c == ']') && depth > 0)
        depth--;
    }
  return deepest;
}

JsonNode *
mm_json_parse_object (const char *text, gsize len, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) local = NULL;
  JsonNode *root;
  gsize start;

  if (len == 0)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_MALFORMED_JSON,
                           "the request needs a JSON object body");
      return NULL;
    }
  if (mm_json_depth (text, len) > MM_JSON_MAX_DEPTH)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                   "JSON nested deeper than %d levels", MM_JSON_MAX_DEPTH);
      return NULL;
    }
  if (memchr (text, '\0', len) != NULL || has_escaped_nul (text, len))
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                           "strings must not contain NUL characters");
      return NULL;
    }
  /* Before json-glib: a value followed by an object or array makes
   * json-glib 1.6 leak the first when it refuses the body, so the body
   * must start as an object and end with it. */
  for (start = 0; start < len && g_ascii_isspace (text[start]); start++)
    ;
  if (start == len || text[start] != '{')
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_MALFORMED_JSON,
                           "the body must be a JSON object");
      return NULL;
    }
  if (has_trailing_value (text, len))
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_MALFORMED_JSON,
                           "the body has more after its JSON object");
      return NULL;
    }
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, text, (gssize) len, &local))
    {
      g_set_error (error, MM_ERROR, MM_ERROR_MALFORMED_JSON,
                   "the body is not valid JSON: %s", local->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_MALFORMED_JSON,
                           "the body must be a JSON object");
      return NULL;
    }
  return json_node_ref (root);
}

glong
mm_text_length (const char *text, gboolean multiline)
{
  glong n = 0;

  /* json-glib lets invalid UTF-8 through (a lone lead byte before the
   * end): stepping by characters would then read past the string. */
  if (!g_utf8_validate (text, -1, NULL))
    return -1;
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (multiline && (c == '\n' || c == '\r' || c == '\t'))
        ;
      else if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
        return -1;
      n++;
    }
  return n;
}

const char *
mm_json_get_text (JsonObject *obj, const char *name, gboolean required,
                  guint min, guint max, gboolean multiline, GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);
  const char *value;
  glong len;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      if (required)
        g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT, "%s is required", name);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT, "%s must be a string", name);
      return NULL;
    }
  value = json_node_get_string (node);
  if (strlen (value) > (gsize) max * 4)
    len = G_MAXLONG;
  else
    len = mm_text_length (value, multiline);
  if (len < 0)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                   "%s must not contain control characters", name);
      return NULL;
    }
  if (len < (glong) min || len > (glong) max)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                   "%s must be %u to %u characters long", name, min, max);
      return NULL;
    }
  return value;
}

const char *
mm_json_get_string (JsonObject *obj, const char *name, gboolean required,
                    guint min, guint max, GError **error)
{
  return mm_json_get_text (obj, name, required, min, max, FALSE, error);
}

gboolean
mm_json_get_bool (JsonObject *obj, const char *name, gboolean fallback,
                  gboolean *out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      *out = fallback;
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT, "%s must be true or false", name);
      return FALSE;
    }
  *out = json_node_get_boolean (node);
  return TRUE;
}

char *
mm_json_to_text (JsonNode *node)
{
  return json_to_string (node, FALSE);
}
