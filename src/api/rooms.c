/* rooms.c — create, look up, join, and my meeting history. */
#include "config.h"

#include "api/api.h"
#include "core/error.h"
#include "core/room.h"
#include "core/secret.h"
#include "http/json.h"
#include "store/meetings.h"

void
mm_api_room_create (MmApp *app, MmRequest *req)
{
  g_autoptr (GError) error = NULL;
  g_auto (MmUser) user = { 0 };
  g_auto (MmRoomRow) room = { 0 };
  JsonObject *body = NULL;
  const char *title = NULL, *mode = NULL;
  gboolean allow_guests = TRUE, lobby = FALSE;
  g_autoptr (JsonObject) o = NULL;
  JsonNode *node;
  MmDbConn *c;

  /* Who asks comes first: no token is 401 whatever the body. */
  c = mm_api_db (app, req);
  if (c == NULL)
    return;
  if (!mm_api_user (c, req, TRUE, &user, &error))
    {
      mm_db_release (c);
      mm_request_finish_error (req, error);
      return;
    }
  mm_db_release (c);
  body = mm_request_json (req, &error);
  if (body == NULL
      || (title = mm_json_get_string (body, "title", TRUE, 1, MM_MAX_TITLE, &error)) == NULL
      || !mm_json_get_bool (body, "allow_guests", TRUE, &allow_guests, &error)
      || !mm_json_get_bool (body, "lobby", FALSE, &lobby, &error))
    {
      mm_request_finish_error (req, error);
      return;
    }
  mode = mm_json_get_string (body, "mode", FALSE, 1, 16, &error);
  if (error != NULL)
    {
      mm_request_finish_error (req, error);
      return;
    }
  if (mode == NULL)
    mode = "meeting";
  if (!g_str_equal (mode, "meeting") && !g_str_equal (mode, "lecture"))
    {
      mm_request_finish_error_literal (req, MM_ERROR_INVALID_INPUT,
                                       "mode must be \"meeting\" or \"lecture\"");
      return;
    }
  {
    g_autofree char *key = g_strdup_printf ("%" G_GINT64_FORMAT, user.id);

    if (mm_api_over_limit (req, app->rooms_by_user, key, "rooms made by this account"))
      return;
  }
  c = mm_api_db (app, req);
  if (c == NULL)
    return;
  if (!mm_store_room_create (c, title, mode, allow_guests, lobby, user.id, &room, &error))
    {
      mm_db_release (c);
      mm_request_finish_error (req, error);
      return;
    }
  mm_db_release (c);
  o = json_object_new ();
  json_object_set_member (o, "room", mm_room_row_to_json (&room));
  node = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (node, o);
  mm_request_finish_json (req, 201, node);
}

void
mm_api_room_get (MmApp *app, MmRequest *req)
{
  g_autoptr (GError) error = NULL;
  g_auto (MmRoomRow) room = { 0 };
  g_autoptr (JsonObject) o = NULL;
  JsonNode *node;
  MmDbConn *c = mm_api_db (app, req);

  if (c == NULL)
    return;
  if (!mm_store_room_by_code (c, mm_request_param (req, "code"), &room, &error))
    {
      mm_db_release (c);
      mm_request_finish_error (req, error);
      return;
    }
  mm_db_release (c);
  o = json_object_new ();
  json_object_set_member (o, "room", mm_room_row_to_json (&room));
  json_object_set_boolean_member (json_object_get_object_member (o, "room"), "locked",
                                  mm_rooms_is_locked (app->rooms, room.code));
  node = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (node, o);
  mm_request_finish_json (req, 200, node);
}

void
mm_api_my_meetings (MmApp *app, MmRequest *req)
{
  g_autoptr (GError) error = NULL;
  g_auto (MmUser) user = { 0 };
  const char *limit_text = mm_request_query (req, "limit");
  guint64 limit = 50;
  JsonNode *meetings = NULL;
  g_autoptr (JsonObject) o = NULL;
  JsonNode *node;
  MmDbConn *c;

  if (limit_text != NULL
      && !g_ascii_string_to_unsigned (limit_text, 10, 1, MM_HISTORY_MAX, &limit, NULL))
    {
      mm_request_finish_errorf (req, MM_ERROR_INVALID_INPUT,
                                "limit must be a number from 1 to %d", MM_HISTORY_MAX);
      return;
    }
  c = mm_api_db (app, req);
  if (c == NULL)
    return;
  if (!mm_api_user (c, req, TRUE, &user, &error)
      || (meetings = mm_store_meeting_history (c, user.id, (guint) limit, &error)) == NULL)
    {
      mm_db_release (c);
      mm_request_finish_error (req, error);
      return;
    }
  mm_api_meetings_add_recordings (app, c, json_node_get_array (meetings), &error);
  mm_db_release (c);
  if (error != NULL)
    {
      json_node_unref (meetings);
      mm_request_finish_error (req, error);
      return;
    }
  o = json_object_new ();
  json_object_set_member (o, "meetings", meetings);
  node = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (node, o);
  mm_request_finish_json (req, 200, node);
}

/* What a join carries from the worker to the main loop. */
typedef struct {
  MmRequest *req;
  MmRoomRow room;
  gint64 meeting_id;
  char *participant_id;
  char *display_name;
  const char *role;
  gboolean waiting;           /* into the lobby */
  MmQuality quality;
  gint64 user_id;
  char *secret;
  char *secret_hash;
  JsonNode *chat;
  MmApp *app;
  gboolean reserved;          /* holds a place (mm_rooms_reserve) until joined */
  gboolean viewer;            /* a lecture's viewer's place */
} Join;

static void
join_free (gpointer data)
{
  Join *j = data;

  if (j->reserved)
    mm_rooms_unreserve (j->app->rooms, j->room.code, j->viewer);
  mm_request_unref (j->req);
  mm_room_row_clear (&j->room);
  g_free (j->participant_id);
  g_free (j->display_name);
  g_free (j->secret);
  g_free (j->secret_hash);
  if (j->chat != NULL)
    json_node_unref (j->chat);
  g_free (j);
}

/* What a client needs to connect its media: ICE servers (with TURN
 * credentials of its own) and the composite's format. */
static JsonObject *
media_info (MmApp *app, const char *participant_id)
{
  JsonObject *media = json_object_new ();
  JsonObject *video = json_object_new ();

  json_object_set_array_member (media, "ice_servers",
                                mm_api_ice_servers (app, participant_id,
                                                    g_get_real_time () / G_USEC_PER_SEC));
  json_object_set_int_member (video, "width", app->opts->video_width);
  json_object_set_int_member (video, "height", app->opts->video_height);
  json_object_set_int_member (video, "framerate", app->opts->video_framerate);
  json_object_set_object_member (media, "video", video);
  return media;
}

static void
join_main (MmApp *app, gpointer data)
{
  Join *j = data;
  MmJoinInfo info = {
    .code = j->room.code,
    .room_id = j->room.id,
    .meeting_id = j->meeting_id,
    .host_user_id = j->room.host_id,
    .title = j->room.title,
    .mode = j->room.mode,
    .participant_id = j->participant_id,
    .display_name = j->display_name,
    .role = j->role,
    .user_id = j->user_id,
    .secret_hash = j->secret_hash,
    .waiting = j->waiting,
    .quality = j->quality,
    .viewer = j->viewer,
  };
  g_autoptr (JsonObject) o = json_object_new ();
  g_autoptr (JsonObject) sig = json_object_new ();
  g_autofree char *base = NULL;
  /* Member of "signalling", and the path under the participant. */
  static const char *const endpoints[][2] = {
    { "events", "events" }, { "messages", "messages" }, { "leave", "leave" },
    { "ice_servers", "ice-servers" },
  };
  MmParticipant *p;
  JsonNode *node;

  p = mm_rooms_join (app->rooms, &info);
  j->reserved = FALSE;          /* the participant's now */
  base = g_strdup_printf ("/api/v1/rooms/%s/participants/%s", j->room.code, j->participant_id);
  json_object_set_member (o, "participant", mm_participant_to_json (p));
  json_object_set_string_member (o, "secret", j->secret);
  {
    JsonNode *room = mm_room_row_to_json (&j->room);

    json_object_set_boolean_member (json_node_get_object (room), "locked",
                                    mm_rooms_is_locked (app->rooms, j->room.code));
    json_object_set_boolean_member (json_node_get_object (room), "recording",
                                    mm_rooms_is_recording (app->rooms, j->room.code));
    json_object_set_string_member (json_node_get_object (room), "viewer_cap",
                                   mm_rooms_viewer_cap (app->rooms, j->room.code));
    json_object_set_member (o, "room", room);
  }
  /* Someone waiting in the lobby learns who is there, and the chat, once
   * admitted (the "admitted" event). */
  json_object_set_boolean_member (o, "admitted", !j->waiting);
  if (j->waiting)
    {
      json_object_set_array_member (o, "participants", json_array_new ());
      json_object_set_array_member (o, "chat", json_array_new ());
    }
  else
    {
      json_object_set_member (o, "participants", mm_participant_room_members (p));
      json_object_set_member (o, "chat", g_steal_pointer (&j->chat));
      /* A host sees what each receiver gets ("receiver" events after). */
      json_object_set_member (o, "receivers", mm_participant_receivers (p));
    }
  json_object_set_int_member (o, "last_seq", (gint64) mm_participant_last_seq (p));
  for (guint i = 0; i < G_N_ELEMENTS (endpoints); i++)
    {
      g_autofree char *url = g_strdup_printf ("%s/%s", base, endpoints[i][1]);
      json_object_set_string_member (sig, endpoints[i][0], url);
    }
  json_object_set_int_member (sig, "long_poll_timeout_s", app->opts->long_poll_timeout);
  json_object_set_int_member (sig, "presence_timeout_s", app->opts->presence_timeout);
  json_object_set_object_member (o, "signalling", g_steal_pointer (&sig));
  json_object_set_object_member (o, "media", media_info (app, j->participant_id));
  node = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (node, g_steal_pointer (&o));
  mm_request_finish_json (j->req, 201, node);
}

void
mm_api_room_join (MmApp *app, MmRequest *req)
{
  g_autoptr (GError) error = NULL;
  g_auto (MmUser) user = { 0 };
  Join *j = g_new0 (Join, 1);
  const char *display_name = NULL;
  gsize body_len;
  MmDbConn *c;

  j->req = mm_request_ref (req);
  j->app = app;
  mm_request_body (req, &body_len);
  if (body_len > 0)
    {
      JsonObject *body = mm_request_json (req, &error);

      if (body == NULL)
        goto fail;
      const char *quality;

      display_name = mm_json_get_string (body, "display_name", FALSE, 1, MM_MAX_DISPLAY_NAME, &error);
      if (error != NULL)
        goto fail;
      quality = mm_json_get_string (body, "quality", FALSE, 1, 32, &error);
      if (error != NULL)
        goto fail;
      if (quality != NULL && !mm_quality_from_name (quality, &j->quality))
        {
          g_set_error_literal (&error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                               "quality must be \"auto\", \"high\", \"data-saver\" or "
                               "\"audio-only\"");
          goto fail;
        }
    }
  if (mm_api_over_limit (req, app->joins_by_ip, mm_request_client_ip (req),
                         "joins from this address"))
    {
      join_free (j);
      return;
    }
  c = mm_api_db (app, req);
  if (c == NULL)
    {
      join_free (j);
      return;
    }
  if (!mm_api_user (c, req, FALSE, &user, &error)
      || !mm_store_room_by_code (c, mm_request_param (req, "code"), &j->room, &error))
    {
      mm_db_release (c);
      goto fail;
    }
  if (user.id == 0)
    {
      if (!j->room.allow_guests)
        {
          mm_db_release (c);
          g_set_error_literal (&error, MM_ERROR, MM_ERROR_GUESTS_NOT_ALLOWED,
                               "this room does not admit guests: sign in to join");
          goto fail;
        }
      if (display_name == NULL)
        {
          mm_db_release (c);
          g_set_error_literal (&error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                               "display_name is required to join as a guest");
          goto fail;
        }
      j->role = "guest";
    }
  else
    j->role = user.id == j->room.host_id ? "host" : "participant";
  if (!g_str_equal (j->role, "host") && mm_rooms_is_locked (app->rooms, j->room.code))
    {
      mm_db_release (c);
      g_set_error_literal (&error, MM_ERROR, MM_ERROR_ROOM_LOCKED,
                           "the host has locked this meeting: nobody else can join now");
      goto fail;
    }
  /* A place in the meeting before anything is stored: a full room or
   * server is refused at once. */
  j->viewer = g_str_equal (j->room.mode, "lecture") && !g_str_equal (j->role, "host");
  if (!mm_rooms_reserve (app->rooms, j->room.code, j->viewer, &error))
    {
      mm_db_release (c);
      if (g_error_matches (error, MM_ERROR, MM_ERROR_SERVER_FULL))
        mm_request_add_header (req, "Retry-After", "30");
      goto fail;
    }
  j->reserved = TRUE;
  j->waiting = j->room.lobby && !g_str_equal (j->role, "host");
  j->user_id = user.id;
  /* Account names may be longer than display names: shorten, don't fail. */
  j->display_name = display_name ? g_strdup (display_name)
                                 : g_utf8_substring (user.name, 0,
                                                     MIN (g_utf8_strlen (user.name, -1),
                                                          MM_MAX_DISPLAY_NAME));
  j->secret = mm_secret_new_token (&error);
  if (j->secret == NULL
      || !mm_store_participation_begin (c, j->room.id, user.id, j->display_name, j->role,
                                        &j->meeting_id, &j->participant_id, &error)
      || (j->chat = mm_store_chat_recent (c, j->room.id, MM_CHAT_HISTORY, &error)) == NULL)
    {
      mm_db_release (c);
      goto fail;
    }
  mm_db_release (c);
  j->secret_hash = mm_secret_hash (j->secret);
  mm_app_run_main (app, join_main, j, join_free);
  return;

fail:
  mm_request_finish_error (req, error);
  join_free (j);
}
