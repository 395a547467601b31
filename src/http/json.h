/* json.h — parsing request bodies with limits, and typed field access
 * that turns every wrong input into a 400 naming the field. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define MM_JSON_MAX_DEPTH 16

/* Deepest nesting of arrays/objects in @text (strings are skipped). */
guint mm_json_depth (const char *text, gsize len);

/* Parse @text as a JSON object no deeper than MM_JSON_MAX_DEPTH.
 * Returns: (transfer full) a node holding an object, or NULL with @error. */
JsonNode *mm_json_parse_object (const char *text, gsize len, GError **error);

/* A string member of at least @min and at most @max characters, without
 * control characters.  Absent: NULL, and an error only if @required.
 * Returns: (transfer none) */
const char *mm_json_get_string (JsonObject *obj, const char *name, gboolean required,
                                guint min, guint max, GError **error);

/* Like mm_json_get_string(); @multiline also allows newlines and tabs. */
const char *mm_json_get_text (JsonObject *obj, const char *name, gboolean required,
                              guint min, guint max, gboolean multiline, GError **error);

/* A boolean member; absent gives @fallback. */
gboolean mm_json_get_bool (JsonObject *obj, const char *name, gboolean fallback,
                           gboolean *out, GError **error);

/* Number of characters, or -1 if @text is not valid UTF-8 or has control
 * characters (newlines and tabs allowed when @multiline). */
glong mm_text_length (const char *text, gboolean multiline);

/* Serialise @node.  Returns: (transfer full) */
char *mm_json_to_text (JsonNode *node);

G_END_DECLS
