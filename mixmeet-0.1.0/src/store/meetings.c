/* meetings.c — SQL for rooms, meetings, participations and chat. */
#include "config.h"

#include "store/meetings.h"
#include "core/error.h"
#include "core/roomcode.h"

#define ROOM_COLUMNS \
  "r.id, r.code, r.title, r.mode, r.allow_guests, r.lobby, r.host_id, u.name AS host_name, " \
  "iso8601(r.created_at) AS created_at"

void
mm_room_row_clear (MmRoomRow *row)
{
  g_clear_pointer (&row->code, g_free);
  g_clear_pointer (&row->title, g_free);
  g_clear_pointer (&row->mode, g_free);
  g_clear_pointer (&row->host_name, g_free);
  g_clear_pointer (&row->created_at, g_free);
}

static void
room_from_row (PGresult *res, MmRoomRow *out)
{
  out->id = mm_db_get_int (res, 0, "id");
  out->code = g_strdup (mm_db_get (res, 0, "code"));
  out->title = g_strdup (mm_db_get (res, 0, "title"));
  out->mode = g_strdup (mm_db_get (res, 0, "mode"));
  out->allow_guests = mm_db_get_bool (res, 0, "allow_guests");
  out->lobby = mm_db_get_bool (res, 0, "lobby");
  out->host_id = mm_db_get_int (res, 0, "host_id");
  out->host_name = g_strdup (mm_db_get (res, 0, "host_name"));
  out->created_at = g_strdup (mm_db_get (res, 0, "created_at"));
}

JsonNode *
mm_room_row_to_json (const MmRoomRow *row)
{
  g_autoptr (JsonObject) o = json_object_new ();
  g_autoptr (JsonObject) host = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_object_set_string_member (o, "code", row->code);
  json_object_set_string_member (o, "title", row->title);
  json_object_set_string_member (o, "mode", row->mode);
  json_object_set_boolean_member (o, "allow_guests", row->allow_guests);
  json_object_set_boolean_member (o, "lobby", row->lobby);
  json_object_set_int_member (host, "id", row->host_id);
  json_object_set_string_member (host, "name", row->host_name);
  json_object_set_object_member (o, "host", g_steal_pointer (&host));
  json_object_set_string_member (o, "created_at", row->created_at);
  json_node_set_object (node, o);
  return node;
}

gboolean
mm_store_room_create (MmDbConn *c, const char *title, const char *mode, gboolean allow_guests,
                      gboolean lobby, gint64 host_id, MmRoomRow *out, GError **error)
{
  g_autofree char *host = g_strdup_printf ("%" G_GINT64_FORMAT, host_id);

  for (int attempt = 0; attempt < 5; attempt++)
    {
      g_autofree char *code = mm_room_code_new (error);
      g_autoptr (GError) local = NULL;
      g_autoptr (PGresult) res = NULL;
      const char *params[6];

      if (code == NULL)
        return FALSE;
      params[0] = code;
      params[1] = title;
      params[2] = mode;
      params[3] = allow_guests ? "true" : "false";
      params[4] = host;
      params[5] = lobby ? "true" : "false";
      res = mm_db_exec (c,
          "WITH r AS (INSERT INTO rooms (code, title, mode, allow_guests, host_id, lobby) "
          "           VALUES ($1, $2, $3, $4, $5, $6) RETURNING *) "
          "SELECT " ROOM_COLUMNS " FROM r JOIN users u ON u.id = r.host_id",
          6, params, &local);
      if (res != NULL)
        {
          room_from_row (res, out);
          return TRUE;
        }
      if (!g_error_matches (local, MM_ERROR, MM_ERROR_CONFLICT))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
    }
  g_set_error_literal (error, MM_ERROR, MM_ERROR_INTERNAL, "could not find a free room code");
  return FALSE;
}

gboolean
mm_store_room_by_code (MmDbConn *c, const char *code, MmRoomRow *out, GError **error)
{
  const char *params[] = { code };
  g_autoptr (PGresult) res = NULL;

  if (!mm_room_code_valid (code))
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_ROOM_NOT_FOUND,
                           "no room has this code (codes look like abc-defg-hij)");
      return FALSE;
    }
  res = mm_db_exec (c, "SELECT " ROOM_COLUMNS " FROM rooms r JOIN users u ON u.id = r.host_id "
                       "WHERE r.code = $1", 1, params, error);
  if (res == NULL)
    return FALSE;
  if (PQntuples (res) == 0)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_ROOM_NOT_FOUND, "no room has this code");
      return FALSE;
    }
  room_from_row (res, out);
  return TRUE;
}

typedef struct {
  gint64 room_id;
  gint64 user_id;
  const char *display_name;
  const char *role;
  gint64 meeting_id;
  char *participant_id;
} Begin;

static gboolean
begin_tx (MmDbConn *c, gpointer data, GError **error)
{
  Begin *b = data;
  g_autofree char *room = g_strdup_printf ("%" G_GINT64_FORMAT, b->room_id);
  g_autofree char *user = b->user_id ? g_strdup_printf ("%" G_GINT64_FORMAT, b->user_id) : NULL;
  g_autofree char *meeting = NULL;
  g_autoptr (PGresult) m = NULL;
  g_autoptr (PGresult) p = NULL;
  const char *mp[] = { room };
  const char *pp[4];

  /* Lock the room row so that a concurrent join or end cannot race. */
  if (!mm_db_run (c, "SELECT id FROM rooms WHERE id = $1 FOR UPDATE", 1, mp, error))
    return FALSE;
  m = mm_db_exec (c, "SELECT id FROM meetings WHERE room_id = $1 AND ended_at IS NULL", 1, mp, error);
  if (m == NULL)
    return FALSE;
  if (PQntuples (m) == 0)
    {
      PQclear (g_steal_pointer (&m));
      m = mm_db_exec (c, "INSERT INTO meetings (room_id) VALUES ($1) RETURNING id", 1, mp, error);
      if (m == NULL)
        return FALSE;
    }
  b->meeting_id = mm_db_get_int (m, 0, "id");
  meeting = g_strdup_printf ("%" G_GINT64_FORMAT, b->meeting_id);
  pp[0] = meeting;
  pp[1] = user;
  pp[2] = b->display_name;
  pp[3] = b->role;
  p = mm_db_exec (c, "INSERT INTO participations (meeting_id, user_id, display_name, role) "
                     "VALUES ($1, $2, $3, $4) RETURNING id", 4, pp, error);
  if (p == NULL)
    return FALSE;
  g_free (b->participant_id);
  b->participant_id = g_strdup (mm_db_get (p, 0, "id"));
  return TRUE;
}

gboolean
mm_store_participation_begin (MmDbConn *c, gint64 room_id, gint64 user_id,
                              const char *display_name, const char *role,
                              gint64 *meeting_id, char **participant_id, GError **error)
{
  Begin b = { room_id, user_id, display_name, role, 0, NULL };

  if (!mm_db_transaction (c, begin_tx, &b, error))
    {
      g_free (b.participant_id);
      return FALSE;
    }
  *meeting_id = b.meeting_id;
  *participant_id = b.participant_id;
  return TRUE;
}

typedef struct {
  const char *participant_id;
  gint64 meeting_id;
  const char *reason;
} End;

static gboolean
end_tx (MmDbConn *c, gpointer data, GError **error)
{
  End *e = data;
  g_autofree char *meeting = g_strdup_printf ("%" G_GINT64_FORMAT, e->meeting_id);
  const char *lp[] = { e->participant_id, e->reason };
  const char *mp[] = { meeting };

  if (!mm_db_run (c, "SELECT r.id FROM rooms r JOIN meetings m ON m.room_id = r.id "
                     "WHERE m.id = $1 FOR UPDATE OF r", 1, mp, error))
    return FALSE;
  if (!mm_db_run (c, "UPDATE participations SET left_at = now(), left_reason = $2 "
                     "WHERE id = $1 AND left_at IS NULL", 2, lp, error))
    return FALSE;
  return mm_db_run (c,
      "UPDATE meetings SET ended_at = now() WHERE id = $1 AND ended_at IS NULL "
      "AND NOT EXISTS (SELECT 1 FROM participations WHERE meeting_id = $1 AND left_at IS NULL)",
      1, mp, error);
}

gboolean
mm_store_participation_end (MmDbConn *c, const char *participant_id, gint64 meeting_id,
                            const char *reason, GError **error)
{
  End e = { participant_id, meeting_id, reason };
  return mm_db_transaction (c, end_tx, &e, error);
}

gboolean
mm_store_close_all (MmDbConn *c, const char *reason, guint *closed, GError **error)
{
  const char *params[] = { reason };
  g_autoptr (PGresult) res = mm_db_exec (c,
      "UPDATE participations SET left_at = now(), left_reason = $1 WHERE left_at IS NULL",
      1, params, error);

  if (res == NULL)
    return FALSE;
  *closed = (guint) g_ascii_strtoull (PQcmdTuples (res), NULL, 10);
  return mm_db_run (c, "UPDATE meetings SET ended_at = now() WHERE ended_at IS NULL", 0, NULL, error);
}

static JsonNode *
message_json (PGresult *res, int row)
{
  g_autoptr (JsonObject) o = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_object_set_int_member (o, "id", mm_db_get_int (res, row, "id"));
  if (mm_db_get (res, row, "participation_id") != NULL)
    json_object_set_string_member (o, "participant_id", mm_db_get (res, row, "participation_id"));
  else
    json_object_set_null_member (o, "participant_id");
  json_object_set_string_member (o, "display_name", mm_db_get (res, row, "display_name"));
  json_object_set_string_member (o, "text", mm_db_get (res, row, "body"));
  json_object_set_string_member (o, "sent_at", mm_db_get (res, row, "sent_at"));
  json_node_set_object (node, o);
  return node;
}

JsonNode *
mm_store_chat_recent (MmDbConn *c, gint64 room_id, guint limit, GError **error)
{
  g_autofree char *room = g_strdup_printf ("%" G_GINT64_FORMAT, room_id);
  g_autofree char *lim = g_strdup_printf ("%u", limit);
  const char *params[] = { room, lim };
  g_autoptr (PGresult) res = mm_db_exec (c,
      "SELECT * FROM (SELECT id, participation_id, display_name, body, iso8601(sent_at) AS sent_at "
      "               FROM chat_messages WHERE room_id = $1 ORDER BY id DESC LIMIT $2) x "
      "ORDER BY id", 2, params, error);
  g_autoptr (JsonArray) arr = NULL;
  JsonNode *node;

  if (res == NULL)
    return NULL;
  arr = json_array_sized_new ((guint) PQntuples (res));
  for (int i = 0; i < PQntuples (res); i++)
    json_array_add_element (arr, message_json (res, i));
  node = json_node_new (JSON_NODE_ARRAY);
  json_node_set_array (node, arr);
  return node;
}

JsonNode *
mm_store_chat_add (MmDbConn *c, gint64 room_id, const char *participant_id,
                   const char *display_name, const char *text, GError **error)
{
  g_autofree char *room = g_strdup_printf ("%" G_GINT64_FORMAT, room_id);
  const char *params[] = { room, participant_id, display_name, text };
  g_autoptr (PGresult) res = mm_db_exec (c,
      "INSERT INTO chat_messages (room_id, participation_id, display_name, body) "
      "VALUES ($1, $2, $3, $4) "
      "RETURNING id, participation_id, display_name, body, iso8601(sent_at) AS sent_at",
      4, params, error);

  return res != NULL ? message_json (res, 0) : NULL;
}

JsonNode *
mm_store_meeting_history (MmDbConn *c, gint64 user_id, guint limit, GError **error)
{
  g_autofree char *user = g_strdup_printf ("%" G_GINT64_FORMAT, user_id);
  g_autofree char *lim = g_strdup_printf ("%u", limit);
  const char *params[] = { user, lim };
  g_autoptr (PGresult) res = mm_db_exec (c,
      "SELECT m.id, r.code, r.title, r.mode, iso8601(m.started_at) AS started_at, "
      "       iso8601(m.ended_at) AS ended_at, "
      "       floor(extract(epoch FROM coalesce(m.ended_at, now()) - m.started_at))::bigint AS duration_s, "
      "       (SELECT count(DISTINCT coalesce(p.user_id::text, p.id::text)) "
      "          FROM participations p WHERE p.meeting_id = m.id) AS participant_count, "
      "       (r.host_id = $1) AS hosted, "
      "       (SELECT iso8601(min(p.joined_at)) FROM participations p "
      "          WHERE p.meeting_id = m.id AND p.user_id = $1) AS my_joined_at "
      "FROM meetings m JOIN rooms r ON r.id = m.room_id "
      "WHERE r.host_id = $1 "
      "   OR EXISTS (SELECT 1 FROM participations p WHERE p.meeting_id = m.id AND p.user_id = $1) "
      "ORDER BY m.started_at DESC, m.id DESC LIMIT $2",
      2, params, error);
  g_autoptr (JsonArray) arr = NULL;
  JsonNode *node;

  if (res == NULL)
    return NULL;
  arr = json_array_sized_new ((guint) PQntuples (res));
  for (int i = 0; i < PQntuples (res); i++)
    {
      g_autoptr (JsonObject) o = json_object_new ();
      g_autoptr (JsonObject) room = json_object_new ();
      JsonNode *item = json_node_new (JSON_NODE_OBJECT);
      const char *ended = mm_db_get (res, i, "ended_at");
      const char *joined = mm_db_get (res, i, "my_joined_at");

      json_object_set_int_member (o, "id", mm_db_get_int (res, i, "id"));
      json_object_set_string_member (room, "code", mm_db_get (res, i, "code"));
      json_object_set_string_member (room, "title", mm_db_get (res, i, "title"));
      json_object_set_string_member (room, "mode", mm_db_get (res, i, "mode"));
      json_object_set_object_member (o, "room", g_steal_pointer (&room));
      json_object_set_string_member (o, "role", mm_db_get_bool (res, i, "hosted") ? "host" : "participant");
      json_object_set_string_member (o, "started_at", mm_db_get (res, i, "started_at"));
      if (ended != NULL)
        json_object_set_string_member (o, "ended_at", ended);
      else
        json_object_set_null_member (o, "ended_at");
      if (joined != NULL)
        json_object_set_string_member (o, "joined_at", joined);
      else
        json_object_set_null_member (o, "joined_at");
      json_object_set_int_member (o, "duration_s", mm_db_get_int (res, i, "duration_s"));
      json_object_set_int_member (o, "participant_count", mm_db_get_int (res, i, "participant_count"));
      json_node_set_object (item, o);
      json_array_add_element (arr, item);
    }
  node = json_node_new (JSON_NODE_ARRAY);
  json_node_set_array (node, arr);
  return node;
}
