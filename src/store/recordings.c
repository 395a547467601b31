/* recordings.c — SQL for recordings' metadata. */
#include "config.h"

#include "store/recordings.h"
#include "core/error.h"

#include <glib/gstdio.h>
#include <string.h>

#define RECORDING_COLUMNS \
  "id, file, status, meeting_id, started_by_name, iso8601(started_at) AS started_at, " \
  "iso8601(ended_at) AS ended_at, duration_ms, bytes"

static char *
int_or_null (gint64 v)
{
  return v != 0 ? g_strdup_printf ("%" G_GINT64_FORMAT, v) : NULL;
}

static char *
ms_text (gint64 ms)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT ".%03d", ms / 1000, (int) (ms % 1000));
}

/* The upsert both writes share: $1 file, $2 room, $3 meeting, $4 user,
 * $5 name, $6 start (s since the epoch), then what @tail adds. */
static gboolean
upsert (MmDbConn *c, const MmRecordingInfo *info, gboolean end, GError **error)
{
  g_autofree char *room = g_strdup_printf ("%" G_GINT64_FORMAT, info->room_id);
  g_autofree char *meeting = int_or_null (info->meeting_id);
  g_autofree char *user = int_or_null (info->user_id);
  g_autofree char *started = ms_text (info->started_at_ms);
  g_autofree char *ended = end ? ms_text (MAX (info->ended_at_ms, info->started_at_ms)) : NULL;
  g_autofree char *duration = end ? g_strdup_printf ("%" G_GINT64_FORMAT, MAX (info->duration_ms, 0)) : NULL;
  g_autofree char *bytes = end ? g_strdup_printf ("%" G_GINT64_FORMAT, MAX (info->bytes, 0)) : NULL;
  const char *params[] = { info->file, room, meeting, user, info->started_by_name, started,
                           ended, duration, bytes,
                           info->interrupted ? "interrupted" : "complete" };

  if (!end)
    return mm_db_run (c,
        "INSERT INTO recordings (file, room_id, meeting_id, started_by, started_by_name, "
        "                        started_at, status) "
        "VALUES ($1, $2, $3, $4, $5, to_timestamp($6::double precision), 'recording') "
        "ON CONFLICT (file) DO NOTHING", 6, params, error);
  return mm_db_run (c,
      "INSERT INTO recordings (file, room_id, meeting_id, started_by, started_by_name, "
      "                        started_at, ended_at, duration_ms, bytes, status) "
      "VALUES ($1, $2, $3, $4, $5, to_timestamp($6::double precision), "
      "        to_timestamp($7::double precision), $8, $9, $10) "
      "ON CONFLICT (file) DO UPDATE SET ended_at = EXCLUDED.ended_at, "
      "  duration_ms = EXCLUDED.duration_ms, bytes = EXCLUDED.bytes, status = EXCLUDED.status",
      10, params, error);
}

gboolean
mm_store_recording_begin (MmDbConn *c, const MmRecordingInfo *info, GError **error)
{
  return upsert (c, info, FALSE, error);
}

gboolean
mm_store_recording_end (MmDbConn *c, const MmRecordingInfo *info, GError **error)
{
  return upsert (c, info, TRUE, error);
}

gboolean
mm_store_recordings_interrupted (MmDbConn *c, const char *dir, guint *closed, GError **error)
{
  g_autoptr (PGresult) res = mm_db_exec (c,
      "SELECT id, file, extract(epoch FROM started_at)::double precision AS started "
      "FROM recordings WHERE status = 'recording'", 0, NULL, error);

  *closed = 0;
  if (res == NULL)
    return FALSE;
  for (int i = 0; i < PQntuples (res); i++)
    {
      g_autofree char *path = g_build_filename (dir, mm_db_get (res, i, "file"), NULL);
      double started = g_ascii_strtod (mm_db_get (res, i, "started"), NULL);
      double ended = started;
      gint64 bytes = 0;
      GStatBuf st;
      g_autofree char *ended_text = NULL;
      g_autofree char *bytes_text = NULL;
      g_autofree char *duration_text = NULL;
      const char *params[4];

      /* The last write is as near as we can tell to where it stopped. */
      if (g_stat (path, &st) == 0)
        {
          bytes = st.st_size;
          ended = MAX (started, (double) st.st_mtime);
        }
      ended_text = g_strdup_printf ("%.3f", ended);
      bytes_text = g_strdup_printf ("%" G_GINT64_FORMAT, bytes);
      duration_text = g_strdup_printf ("%" G_GINT64_FORMAT, (gint64) ((ended - started) * 1000));
      params[0] = mm_db_get (res, i, "id");
      params[1] = ended_text;
      params[2] = bytes_text;
      params[3] = duration_text;
      if (!mm_db_run (c,
              "UPDATE recordings SET status = 'interrupted', "
              "  ended_at = to_timestamp($2::double precision), bytes = $3, duration_ms = $4 "
              "WHERE id = $1 AND status = 'recording'", 4, params, error))
        return FALSE;
      (*closed)++;
    }
  return TRUE;
}

static JsonNode *
recording_json (PGresult *res, int i)
{
  g_autoptr (JsonObject) o = json_object_new ();
  g_autoptr (JsonObject) by = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  const char *ended = mm_db_get (res, i, "ended_at");
  const char *meeting = mm_db_get (res, i, "meeting_id");

  json_object_set_string_member (o, "id", mm_db_get (res, i, "id"));
  json_object_set_string_member (o, "file", mm_db_get (res, i, "file"));
  json_object_set_string_member (o, "status", mm_db_get (res, i, "status"));
  if (meeting != NULL)
    json_object_set_int_member (o, "meeting_id", g_ascii_strtoll (meeting, NULL, 10));
  else
    json_object_set_null_member (o, "meeting_id");
  json_object_set_string_member (o, "started_at", mm_db_get (res, i, "started_at"));
  if (ended != NULL)
    {
      json_object_set_string_member (o, "ended_at", ended);
      json_object_set_int_member (o, "duration_ms", mm_db_get_int (res, i, "duration_ms"));
      json_object_set_int_member (o, "bytes", mm_db_get_int (res, i, "bytes"));
    }
  else
    {
      json_object_set_null_member (o, "ended_at");
      json_object_set_null_member (o, "duration_ms");
      json_object_set_null_member (o, "bytes");
    }
  json_object_set_string_member (by, "name", mm_db_get (res, i, "started_by_name"));
  json_object_set_object_member (o, "started_by", g_steal_pointer (&by));
  json_node_set_object (node, o);
  return node;
}

JsonNode *
mm_store_room_recordings (MmDbConn *c, gint64 room_id, GError **error)
{
  g_autofree char *room = g_strdup_printf ("%" G_GINT64_FORMAT, room_id);
  const char *params[] = { room };
  g_autoptr (PGresult) res = mm_db_exec (c,
      "SELECT " RECORDING_COLUMNS " FROM recordings WHERE room_id = $1 "
      "ORDER BY started_at, file LIMIT 1000", 1, params, error);
  JsonArray *arr;
  JsonNode *node;

  if (res == NULL)
    return NULL;
  arr = json_array_sized_new ((guint) PQntuples (res));
  for (int i = 0; i < PQntuples (res); i++)
    json_array_add_element (arr, recording_json (res, i));
  node = json_node_new (JSON_NODE_ARRAY);
  json_node_take_array (node, arr);
  return node;
}

gboolean
mm_store_add_meeting_recordings (MmDbConn *c, JsonArray *meetings, GError **error)
{
  g_autoptr (GString) ids = g_string_new ("{");
  g_autoptr (PGresult) res = NULL;
  guint n = json_array_get_length (meetings);
  const char *params[1];

  if (n == 0)
    return TRUE;
  for (guint i = 0; i < n; i++)
    {
      JsonObject *m = json_array_get_object_element (meetings, i);
      JsonArray *list = json_array_new ();

      json_object_set_array_member (m, "recordings", list);
      g_string_append_printf (ids, "%s%" G_GINT64_FORMAT, i ? "," : "",
                              json_object_get_int_member (m, "id"));
    }
  g_string_append_c (ids, '}');
  params[0] = ids->str;
  res = mm_db_exec (c,
      "SELECT " RECORDING_COLUMNS " FROM recordings WHERE meeting_id = ANY ($1::bigint[]) "
      "ORDER BY started_at, file", 1, params, error);
  if (res == NULL)
    return FALSE;
  for (int r = 0; r < PQntuples (res); r++)
    {
      gint64 meeting = mm_db_get_int (res, r, "meeting_id");

      for (guint i = 0; i < n; i++)
        {
          JsonObject *m = json_array_get_object_element (meetings, i);

          if (json_object_get_int_member (m, "id") == meeting)
            json_array_add_element (json_object_get_array_member (m, "recordings"),
                                    recording_json (res, r));
        }
    }
  return TRUE;
}

void
mm_recording_row_clear (MmRecordingRow *row)
{
  g_clear_pointer (&row->id, g_free);
  g_clear_pointer (&row->file, g_free);
  g_clear_pointer (&row->status, g_free);
}

static gboolean
is_uuid (const char *s)
{
  if (s == NULL || strlen (s) != 36)
    return FALSE;
  for (int i = 0; i < 36; i++)
    {
      gboolean dash = i == 8 || i == 13 || i == 18 || i == 23;

      if (dash ? s[i] != '-' : !g_ascii_isxdigit (s[i]))
        return FALSE;
    }
  return TRUE;
}

gboolean
mm_store_recording_by_id (MmDbConn *c, const char *id, MmRecordingRow *out, GError **error)
{
  const char *params[] = { id };
  g_autoptr (PGresult) res = NULL;

  if (!is_uuid (id))
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_NOT_FOUND, "no such recording");
      return FALSE;
    }
  res = mm_db_exec (c, "SELECT id, room_id, file, status FROM recordings WHERE id = $1",
                    1, params, error);
  if (res == NULL)
    return FALSE;
  if (PQntuples (res) == 0)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_NOT_FOUND, "no such recording");
      return FALSE;
    }
  out->id = g_strdup (mm_db_get (res, 0, "id"));
  out->room_id = mm_db_get_int (res, 0, "room_id");
  out->file = g_strdup (mm_db_get (res, 0, "file"));
  out->status = g_strdup (mm_db_get (res, 0, "status"));
  return TRUE;
}

gboolean
mm_store_room_member (MmDbConn *c, gint64 room_id, gint64 user_id, gboolean *member,
                      GError **error)
{
  g_autofree char *room = g_strdup_printf ("%" G_GINT64_FORMAT, room_id);
  g_autofree char *user = g_strdup_printf ("%" G_GINT64_FORMAT, user_id);
  const char *params[] = { room, user };
  g_autoptr (PGresult) res = mm_db_exec (c,
      "SELECT EXISTS (SELECT 1 FROM rooms WHERE id = $1 AND host_id = $2) "
      "    OR EXISTS (SELECT 1 FROM participations p JOIN meetings m ON m.id = p.meeting_id "
      "               WHERE m.room_id = $1 AND p.user_id = $2) AS member",
      2, params, error);

  if (res == NULL)
    return FALSE;
  *member = mm_db_get_bool (res, 0, "member");
  return TRUE;
}
