/* signal.c — the long-poll signalling channel (main loop).
 *
 * GET  …/participants/{pid}/events?since=SEQ   events after SEQ, or wait
 * POST …/participants/{pid}/messages           chat and state from the client
 * POST …/participants/{pid}/leave
 * All need "Authorization: Bearer SECRET" with the participant's secret.
 */
#include "config.h"

#include "api/api.h"
#include "core/error.h"
#include "core/room.h"
#include "http/json.h"
#include "store/meetings.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-signal"

static MmParticipant *
authorize_full (MmApp *app, MmRequest *req, gboolean closed_too)
{
  g_autoptr (GError) error = NULL;
  MmParticipant *p = mm_rooms_authorize (app->rooms, mm_request_param (req, "code"),
                                         mm_request_param (req, "pid"),
                                         mm_request_bearer (req), &error);

  if (p != NULL && !closed_too && mm_participant_is_closed (p))
    {
      g_set_error_literal (&error, MM_ERROR, MM_ERROR_PARTICIPANT_NOT_FOUND,
                           "this participant has left the room");
      p = NULL;
    }
  if (p == NULL)
    mm_request_finish_error (req, error);
  return p;
}

/* Someone denied or removed may still read its last events, nothing else. */
static MmParticipant *
authorize (MmApp *app, MmRequest *req)
{
  return authorize_full (app, req, FALSE);
}

void
mm_api_events (MmApp *app, MmRequest *req)
{
  const char *since_text = mm_request_query (req, "since");
  const char *timeout_text = mm_request_query (req, "timeout");
  guint64 since = 0, timeout = (guint64) app->opts->long_poll_timeout;
  MmParticipant *p;

  if (since_text != NULL && !g_ascii_string_to_unsigned (since_text, 10, 0, G_MAXINT64, &since, NULL))
    {
      mm_request_finish_error_literal (req, MM_ERROR_INVALID_INPUT,
                                       "since must be a non-negative integer");
      return;
    }
  /* A client may ask for a shorter wait, never a longer one. */
  if (timeout_text != NULL
      && !g_ascii_string_to_unsigned (timeout_text, 10, 0, (guint64) app->opts->long_poll_timeout,
                                      &timeout, NULL))
    {
      mm_request_finish_errorf (req, MM_ERROR_INVALID_INPUT,
                                "timeout must be an integer from 0 to %d",
                                app->opts->long_poll_timeout);
      return;
    }
  p = authorize_full (app, req, TRUE);
  if (p == NULL)
    return;
  mm_participant_poll (p, req, since, (guint) timeout);
}

/* ---- chat: store on a worker, then deliver on the main loop ----------- */

typedef struct {
  MmRequest *req;
  char *code;
  char *participant_id;
  char *display_name;
  gint64 room_id;
  char *text;
  JsonNode *message;
} Chat;

static void
chat_free (gpointer data)
{
  Chat *ch = data;

  mm_request_unref (ch->req);
  g_free (ch->code);
  g_free (ch->participant_id);
  g_free (ch->display_name);
  g_free (ch->text);
  if (ch->message != NULL)
    json_node_unref (ch->message);
  g_free (ch);
}

static void
chat_deliver (MmApp *app, gpointer data)
{
  Chat *ch = data;
  g_autoptr (JsonObject) fields = json_object_new ();
  g_autoptr (JsonObject) o = json_object_new ();
  JsonNode *node;

  /* Everyone in the room gets it, sender included (even if the sender
   * left meanwhile). */
  json_object_set_member (fields, "message", json_node_copy (ch->message));
  mm_rooms_broadcast (app->rooms, ch->code, "chat", fields);
  json_object_set_member (o, "message", g_steal_pointer (&ch->message));
  node = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (node, g_steal_pointer (&o));
  mm_request_finish_json (ch->req, 201, node);
}

static void
chat_store (MmApp *app, gpointer data)
{
  Chat *ch = data;
  g_autoptr (GError) error = NULL;
  MmDbConn *c = mm_api_db (app, ch->req);

  if (c == NULL)
    {
      chat_free (ch);
      return;
    }
  ch->message = mm_store_chat_add (c, ch->room_id, ch->participant_id, ch->display_name,
                                   ch->text, &error);
  mm_db_release (c);
  if (ch->message == NULL)
    {
      mm_request_finish_error (ch->req, error);
      chat_free (ch);
      return;
    }
  mm_app_run_main (app, chat_deliver, ch, chat_free);
}

/* ---- admitting from the lobby: recent chat from a worker, then in ----- */

typedef struct {
  MmRequest *req;
  char *code;
  char *host_id;
  char *target_id;
  gint64 room_id;
  JsonNode *chat;
} Admit;

static void
admit_free (gpointer data)
{
  Admit *a = data;

  mm_request_unref (a->req);
  g_free (a->code);
  g_free (a->host_id);
  g_free (a->target_id);
  if (a->chat != NULL)
    json_node_unref (a->chat);
  g_free (a);
}

static void
admit_main (MmApp *app, gpointer data)
{
  Admit *a = data;
  g_autoptr (GError) error = NULL;
  MmRoom *room = mm_rooms_lookup (app->rooms, a->code);
  MmParticipant *host = NULL;

  /* The host may have left meanwhile: look again. */
  if (room != NULL)
    host = mm_rooms_authorize_id (app->rooms, a->code, a->host_id);
  if (host == NULL)
    {
      mm_request_finish_error_literal (a->req, MM_ERROR_PARTICIPANT_NOT_FOUND,
                                       "this participant has left the room");
      return;
    }
  if (!mm_participant_admit (host, a->target_id, g_steal_pointer (&a->chat), &error))
    mm_request_finish_error (a->req, error);
  else
    mm_request_finish_json_text (a->req, 200, g_strdup ("{\"status\":\"admitted\"}"));
}

static void
admit_fetch (MmApp *app, gpointer data)
{
  Admit *a = data;
  g_autoptr (GError) error = NULL;
  MmDbConn *c = mm_api_db (app, a->req);

  if (c == NULL)
    {
      admit_free (a);
      return;
    }
  a->chat = mm_store_chat_recent (c, a->room_id, MM_CHAT_HISTORY, &error);
  mm_db_release (c);
  if (a->chat == NULL)
    {
      mm_request_finish_error (a->req, error);
      admit_free (a);
      return;
    }
  mm_app_run_main (app, admit_main, a, admit_free);
}

/* Present and not null (null means absent, as everywhere in the API). */
static gboolean
has_value (JsonObject *obj, const char *name)
{
  JsonNode *node = json_object_get_member (obj, name);
  return node != NULL && !JSON_NODE_HOLDS_NULL (node);
}

/* A boolean member @name that a message of @type must have. */
static gboolean
get_required_bool (JsonObject *body, const char *type, const char *name, gboolean *out,
                   GError **error)
{
  if (!has_value (body, name))
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                   "a %s message needs %s (true or false)", type, name);
      return FALSE;
    }
  return mm_json_get_bool (body, name, FALSE, out, error);
}

/* 200 {"@name": true|false}. */
static void
finish_bool (MmRequest *req, const char *name, gboolean value)
{
  mm_request_finish_json_text (req, 200, g_strdup_printf ("{\"%s\":%s}", name,
                                                          value ? "true" : "false"));
}

void
mm_api_messages (MmApp *app, MmRequest *req)
{
  g_autoptr (GError) error = NULL;
  MmParticipant *p = authorize (app, req);
  JsonObject *body;
  const char *type;

  if (p == NULL)
    return;
  if (mm_participant_is_waiting (p))
    {
      mm_request_finish_error_literal (req, MM_ERROR_IN_LOBBY,
                                       "waiting in the lobby: only events and leave until the "
                                       "host admits you");
      return;
    }
  body = mm_request_json (req, &error);
  if (body == NULL || (type = mm_json_get_string (body, "type", TRUE, 1, 32, &error)) == NULL)
    {
      mm_request_finish_error (req, error);
      return;
    }
  if (g_str_equal (type, "chat"))
    {
      const char *text = mm_json_get_text (body, "text", TRUE, 1, MM_MAX_CHAT, TRUE, &error);
      Chat *ch;

      if (text == NULL)
        {
          mm_request_finish_error (req, error);
          return;
        }
      if (mm_api_over_limit (req, app->chat_by_participant, mm_participant_id (p),
                             "chat messages"))
        return;
      ch = g_new0 (Chat, 1);
      ch->req = mm_request_ref (req);
      ch->code = g_strdup (mm_request_param (req, "code"));
      ch->participant_id = g_strdup (mm_participant_id (p));
      ch->display_name = g_strdup (mm_participant_display_name (p));
      ch->room_id = mm_participant_room_id (p);
      ch->text = g_strdup (text);
      /* chat_store frees ch itself on failure; on success chat_deliver's
       * destroy does. */
      mm_app_run_worker (app, chat_store, ch, NULL);
      return;
    }
  if (g_str_equal (type, "state"))
    {
      gboolean hand, audio, video, presenting;
      gboolean has_hand = has_value (body, "hand_raised");
      gboolean has_audio = has_value (body, "audio_muted");
      gboolean has_video = has_value (body, "video_muted");
      gboolean has_presenting = has_value (body, "presenting");
      g_autoptr (JsonObject) o = json_object_new ();
      JsonNode *node;

      if (!mm_json_get_bool (body, "hand_raised", FALSE, &hand, &error)
          || !mm_json_get_bool (body, "audio_muted", FALSE, &audio, &error)
          || !mm_json_get_bool (body, "video_muted", FALSE, &video, &error)
          || !mm_json_get_bool (body, "presenting", FALSE, &presenting, &error))
        {
          mm_request_finish_error (req, error);
          return;
        }
      if (!has_hand && !has_audio && !has_video && !has_presenting)
        {
          mm_request_finish_error_literal (req, MM_ERROR_INVALID_INPUT,
                                           "a state message needs hand_raised, audio_muted, "
                                           "video_muted or presenting");
          return;
        }
      mm_participant_set_state (p, has_hand ? &hand : NULL, has_audio ? &audio : NULL,
                                has_video ? &video : NULL, has_presenting ? &presenting : NULL);
      json_object_set_member (o, "participant", mm_participant_to_json (p));
      node = json_node_new (JSON_NODE_OBJECT);
      json_node_take_object (node, g_steal_pointer (&o));
      mm_request_finish_json (req, 200, node);
      return;
    }
  if (g_str_equal (type, "offer"))
    {
      const char *sdp = mm_json_get_text (body, "sdp", TRUE, 10, MM_MAX_SDP, TRUE, &error);

      if (sdp == NULL || !mm_participant_offer (p, sdp, &error))
        mm_request_finish_error (req, error);
      else
        mm_request_finish_json_text (req, 202, g_strdup ("{\"status\":\"accepted\"}"));
      return;
    }
  if (g_str_equal (type, "ice"))
    {
      const char *candidate = mm_json_get_string (body, "candidate", FALSE, 0, 512, &error);
      JsonNode *mline = json_object_get_member (body, "sdp_mline_index");

      if (error == NULL && (mline == NULL || !JSON_NODE_HOLDS_VALUE (mline)
                            || json_node_get_value_type (mline) != G_TYPE_INT64
                            || json_node_get_int (mline) < 0 || json_node_get_int (mline) > 64))
        g_set_error_literal (&error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                             "sdp_mline_index must be an integer from 0 to 64");
      if (error != NULL
          || !mm_participant_ice (p, (guint) json_node_get_int (mline), candidate ? candidate : "",
                                  &error))
        mm_request_finish_error (req, error);
      else
        mm_request_finish_json_text (req, 202, g_strdup ("{\"status\":\"accepted\"}"));
      return;
    }
  if (g_str_equal (type, "mute"))
    {
      const char *target = mm_json_get_string (body, "participant_id", TRUE, 1, 64, &error);

      if (target == NULL || !mm_participant_host_mute (p, target, &error))
        mm_request_finish_error (req, error);
      else
        mm_request_finish_json_text (req, 200, g_strdup ("{\"status\":\"muted\"}"));
      return;
    }
  if (g_str_equal (type, "quality"))
    {
      const char *quality = mm_json_get_string (body, "quality", TRUE, 1, 32, &error);
      g_autoptr (JsonObject) o = json_object_new ();
      JsonNode *node;

      if (quality == NULL || !mm_participant_set_quality (p, quality, &error))
        {
          mm_request_finish_error (req, error);
          return;
        }
      json_object_set_member (o, "participant", mm_participant_to_json (p));
      node = json_node_new (JSON_NODE_OBJECT);
      json_node_take_object (node, g_steal_pointer (&o));
      mm_request_finish_json (req, 200, node);
      return;
    }
  if (g_str_equal (type, "quality-cap"))
    {
      const char *tier = mm_json_get_string (body, "tier", TRUE, 1, 32, &error);

      if (tier == NULL || !mm_participant_set_viewer_cap (p, tier, &error))
        mm_request_finish_error (req, error);
      else
        mm_request_finish_json_text (req, 200, g_strdup ("{\"status\":\"ok\"}"));
      return;
    }
  if (g_str_equal (type, "layout"))
    {
      const char *layout = mm_json_get_string (body, "layout", TRUE, 1, 16, &error);

      if (layout == NULL || !mm_participant_set_layout (p, layout, &error))
        mm_request_finish_error (req, error);
      else
        mm_request_finish_json_text (req, 200, g_strdup ("{\"status\":\"ok\"}"));
      return;
    }
  if (g_str_equal (type, "admit") || g_str_equal (type, "deny") || g_str_equal (type, "remove"))
    {
      const char *target = mm_json_get_string (body, "participant_id", TRUE, 1, 64, &error);
      gboolean ok;

      if (target == NULL)
        {
          mm_request_finish_error (req, error);
          return;
        }
      if (g_str_equal (type, "admit"))
        {
          Admit *a;

          /* Checked now, and again once the chat is fetched. */
          if (!mm_participant_is_host (p))
            {
              mm_request_finish_error_literal (req, MM_ERROR_FORBIDDEN,
                                               "only the host can admit people");
              return;
            }
          a = g_new0 (Admit, 1);
          a->req = mm_request_ref (req);
          a->code = g_strdup (mm_request_param (req, "code"));
          a->host_id = g_strdup (mm_participant_id (p));
          a->target_id = g_strdup (target);
          a->room_id = mm_participant_room_id (p);
          mm_app_run_worker (app, admit_fetch, a, NULL);
          return;
        }
      ok = g_str_equal (type, "deny") ? mm_participant_deny (p, target, &error)
                                      : mm_participant_remove (p, target, &error);
      if (!ok)
        mm_request_finish_error (req, error);
      else
        mm_request_finish_json_text (req, 200, g_strdup_printf ("{\"status\":\"%s\"}",
                                                                g_str_equal (type, "deny")
                                                                  ? "denied" : "removed"));
      return;
    }
  if (g_str_equal (type, "presenter"))
    {
      const char *target = mm_json_get_string (body, "participant_id", TRUE, 1, 64, &error);
      gboolean presenter = FALSE;

      if (target == NULL || !get_required_bool (body, type, "presenter", &presenter, &error)
          || !mm_participant_set_presenter (p, target, presenter, &error))
        mm_request_finish_error (req, error);
      else
        finish_bool (req, "presenter", presenter);
      return;
    }
  if (g_str_equal (type, "record"))
    {
      gboolean on = FALSE;

      if (!get_required_bool (body, type, "on", &on, &error)
          || !mm_participant_set_recording (p, on, &error))
        mm_request_finish_error (req, error);
      else
        finish_bool (req, "recording", on);
      return;
    }
  if (g_str_equal (type, "lock"))
    {
      gboolean locked = FALSE;

      if (!get_required_bool (body, type, "locked", &locked, &error)
          || !mm_participant_set_locked (p, locked, &error))
        mm_request_finish_error (req, error);
      else
        finish_bool (req, "locked", locked);
      return;
    }
  if (g_str_equal (type, "hls") || g_str_equal (type, "rtmp"))
    {
      MmEgressKind kind = g_str_equal (type, "hls") ? MM_EGRESS_HLS : MM_EGRESS_RTMP;
      const char *url = NULL;
      gboolean on = FALSE;

      if (kind == MM_EGRESS_RTMP)
        url = mm_json_get_string (body, "url", FALSE, 1, MM_MAX_URL, &error);
      if (error != NULL || !get_required_bool (body, type, "on", &on, &error)
          || !mm_participant_set_egress (p, kind, on, url, &error))
        mm_request_finish_error (req, error);
      else
        finish_bool (req, "on", on);
      return;
    }
  mm_request_finish_errorf (req, MM_ERROR_INVALID_INPUT,
                            "unknown message type \"%s\" (expected chat, state, offer, ice, "
                            "quality, mute, layout, quality-cap, admit, deny, remove, presenter, "
                            "record, hls, rtmp or lock)", type);
}

void
mm_api_leave (MmApp *app, MmRequest *req)
{
  MmParticipant *p = authorize (app, req);

  if (p == NULL)
    return;
  mm_rooms_leave (app->rooms, p, MM_LEFT_LEFT);
  mm_request_finish_empty (req, 204);
}

typedef struct {
  char *participant_id;
  gint64 meeting_id;
  MmLeftReason reason;
} Left;

static void
left_free (gpointer data)
{
  Left *l = data;
  g_free (l->participant_id);
  g_free (l);
}

static void
left_store (MmApp *app, gpointer data)
{
  Left *l = data;
  g_autoptr (GError) error = NULL;
  MmDbConn *c;

  if (!g_atomic_int_get (&app->db_ready))
    return;
  c = mm_db_acquire (app->db, &error);
  if (c == NULL
      || !mm_store_participation_end (c, l->participant_id, l->meeting_id,
                                      mm_left_reason_name (l->reason), &error))
    g_warning ("could not record that participant %s left: %s (closed at next start)",
               l->participant_id, error->message);
  mm_db_release (c);
}

void
mm_api_participant_left (MmApp *app, const char *participant_id, gint64 meeting_id,
                         MmLeftReason reason, gpointer data)
{
  Left *l = g_new0 (Left, 1);

  l->participant_id = g_strdup (participant_id);
  l->meeting_id = meeting_id;
  l->reason = reason;
  mm_app_run_worker (app, left_store, l, left_free);
}
