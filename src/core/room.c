/* room.c — rooms, participants and long-poll waiters on the main loop. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "core/room.h"
#include "core/error.h"
#include "core/secret.h"
#include "media/media.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-room"

#define MAX_EVENTS_PER_POLL 256

struct _MmRooms {
  MmApp *app;
  GHashTable *by_code;        /* code → MmRoom* (owned) */
  MmLeftFunc on_left;
  MmRecordingFunc on_recording;
  gpointer on_left_data;      /* for both */
  guint sweep_id;
  gboolean shut_down;
  guint n_waiting;
  GMutex locked_lock;         /* guards locked and places: joins use them on workers */
  GHashTable *locked;         /* codes of locked live rooms (owned strings) */
  GHashTable *places;         /* code → Places* (both owned): mm_rooms_reserve */
  guint n_viewers;            /* places of lectures' viewers, in all rooms */
};

typedef struct {
  guint people;               /* a lecture's viewers aside */
  guint viewers;
} Places;

struct _MmRoom {
  MmRooms *rooms;
  char *code;
  char *title;
  char *mode;
  gint64 room_id;
  gint64 meeting_id;
  gint64 host_user_id;
  GHashTable *by_id;          /* id → MmParticipant* (not owned) */
  GQueue members;             /* MmParticipant* (owned), join order */
  GQueue lobby;               /* MmParticipant* (owned) waiting to be admitted */
  GQueue closed;              /* MmParticipant* (owned) denied or removed, whose
                               * queue still holds their last event */
  MmMedia *media;             /* the pipeline, once someone sends an offer */
  MmMediaStats *stats;        /* its figures for /metrics, with it */
  MmLayoutKind layout;        /* the host's choice, kept for the pipeline */
  MmTier viewer_cap;          /* the best tier a lecture's viewers get */
};

typedef struct {
  MmParticipant *p;
  MmRequest *req;
  guint64 since;
  GSource *timeout;
} Waiter;

struct _MmParticipant {
  MmRoom *room;
  char *id;
  char *display_name;
  char *role;
  gint64 user_id;
  gint64 meeting_id;
  char *secret_hash;
  MmQueue *queue;
  GList *waiters;             /* Waiter* */
  gint64 last_seen_ms;        /* monotonic */
  gint64 closed_at_ms;        /* monotonic, once closed */
  gint64 joined_at_ms;        /* wall clock */
  gboolean waiting;           /* in the lobby */
  gboolean presenter;         /* in a lecture: made a presenter by the host */
  gboolean viewer;            /* holds a viewer's place, not a person's */
  gboolean closed;            /* out of the room; only its last events remain */
  gboolean hand_raised;
  gboolean presenting;        /* says it shares its screen */
  gboolean audio_muted;
  gboolean muted_by_host;
  gboolean video_muted;
  gboolean has_media;         /* made an offer (for /metrics) */
  gboolean sends_media;       /* and its latest offer sends */
  MmQuality quality;          /* what it chose to receive */
};

const char *
mm_left_reason_name (MmLeftReason reason)
{
  switch (reason)
    {
    case MM_LEFT_LEFT: return "left";
    case MM_LEFT_TIMEOUT: return "timeout";
    case MM_LEFT_REMOVED: return "removed";
    case MM_LEFT_SHUTDOWN: return "shutdown";
    case MM_LEFT_DENIED: return "denied";
    }
  return "left";
}

static void drop_closed (MmParticipant *p);
static gboolean can_publish (MmParticipant *p);
static MmParticipant *host_target (MmParticipant *host, const char *target_id, gboolean waiting,
                                   const char *what, GError **error);
static void participant_free (MmParticipant *p);

/* ---- waiters ---------------------------------------------------------- */

static void
waiter_finish (Waiter *w)
{
  MmParticipant *p = w->p;

  p->waiters = g_list_remove (p->waiters, w);
  p->room->rooms->n_waiting--;
  p->last_seen_ms = mm_now_ms ();
  if (w->timeout != NULL)
    {
      g_source_destroy (w->timeout);
      g_source_unref (w->timeout);
    }
  mm_request_unref (w->req);
  g_free (w);
}

static JsonNode *
members_json (MmRoom *room)
{
  g_autoptr (JsonArray) arr = json_array_new ();
  JsonNode *node;

  for (GList *l = room->members.head; l != NULL; l = l->next)
    json_array_add_element (arr, mm_participant_to_json (l->data));
  node = json_node_new (JSON_NODE_ARRAY);
  json_node_set_array (node, arr);
  return node;
}

/* Answer @req with what @p's queue holds after @since; FALSE if there is
 * nothing yet (and the request was not answered). */
static gboolean
answer_events (MmParticipant *p, MmRequest *req, guint64 since, gboolean answer_empty)
{
  g_autoptr (GString) out = g_string_new ("{\"events\":[");
  guint64 last;
  MmQueueResult r = mm_queue_collect (p->queue, since, MAX_EVENTS_PER_POLL, out, &last);

  if (r == MM_QUEUE_EMPTY && !answer_empty)
    return FALSE;
  if (r == MM_QUEUE_GAP)
    {
      /* Too far behind (or ahead): one resync event with the room's state;
       * the client continues from last_seq. */
      g_autoptr (JsonObject) ev = json_object_new ();
      g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
      g_autofree char *text = NULL;

      json_object_set_int_member (ev, "seq", (gint64) last);
      json_object_set_string_member (ev, "type", "resync");
      json_object_set_int_member (ev, "at", mm_wall_ms ());
      json_object_set_string_member (ev, "reason", since > last ? "cursor_ahead" : "backlog_exceeded");
      json_object_set_member (ev, "participants", members_json (p->room));
      json_node_set_object (node, ev);
      text = json_to_string (node, FALSE);
      g_string_append (out, text);
    }
  g_string_append_printf (out, "],\"last_seq\":%" G_GUINT64_FORMAT "}", last);
  mm_request_finish_json_text (req, 200, g_string_free (g_steal_pointer (&out), FALSE));
  return TRUE;
}

static gboolean
waiter_timeout (gpointer data)
{
  Waiter *w = data;

  answer_events (w->p, w->req, w->since, TRUE);
  g_source_unref (w->timeout);
  w->timeout = NULL;
  waiter_finish (w);
  return G_SOURCE_REMOVE;
}

static void
wake_waiters (MmParticipant *p)
{
  GList *waiters = g_list_copy (p->waiters);

  for (GList *l = waiters; l != NULL; l = l->next)
    {
      Waiter *w = l->data;

      if (answer_events (p, w->req, w->since, FALSE))
        waiter_finish (w);
    }
  g_list_free (waiters);
}

void
mm_participant_poll (MmParticipant *p, MmRequest *req, guint64 since, guint timeout_s)
{
  MmRooms *rooms = p->room->rooms;
  Waiter *w;

  p->last_seen_ms = mm_now_ms ();
  if (rooms->shut_down)
    {
      mm_request_finish_error_literal (req, MM_ERROR_SHUTTING_DOWN, "the server is shutting down");
      return;
    }
  if (p->closed)
    {
      /* Denied or removed: the last events once, then nothing. */
      if (since >= mm_queue_last_seq (p->queue) || !answer_events (p, req, since, TRUE))
        mm_request_finish_error_literal (req, MM_ERROR_PARTICIPANT_NOT_FOUND,
                                         "this participant has left the room");
      drop_closed (p);
      return;
    }
  if (answer_events (p, req, since, timeout_s == 0))
    return;
  w = g_new0 (Waiter, 1);
  w->p = p;
  w->req = mm_request_ref (req);
  w->since = since;
  w->timeout = g_timeout_source_new_seconds (timeout_s);
  g_source_set_callback (w->timeout, waiter_timeout, w, NULL);
  g_source_attach (w->timeout, rooms->app->ctx);
  p->waiters = g_list_prepend (p->waiters, w);
  rooms->n_waiting++;
}

/* ---- participants ---------------------------------------------------- */

const char *mm_participant_id (MmParticipant *p) { return p->id; }
const char *mm_participant_display_name (MmParticipant *p) { return p->display_name; }
gint64 mm_participant_room_id (MmParticipant *p) { return p->room->room_id; }
gint64 mm_participant_meeting_id (MmParticipant *p) { return p->meeting_id; }
guint64 mm_participant_last_seq (MmParticipant *p) { return mm_queue_last_seq (p->queue); }

JsonNode *
mm_participant_to_json (MmParticipant *p)
{
  g_autoptr (JsonObject) o = json_object_new ();
  g_autofree char *joined = mm_iso8601 (p->joined_at_ms);
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_object_set_string_member (o, "id", p->id);
  json_object_set_string_member (o, "display_name", p->display_name);
  json_object_set_string_member (o, "role", p->role);
  json_object_set_boolean_member (o, "presenter", p->presenter);
  json_object_set_boolean_member (o, "can_publish", can_publish (p));
  json_object_set_boolean_member (o, "hand_raised", p->hand_raised);
  json_object_set_boolean_member (o, "presenting", p->presenting);
  json_object_set_boolean_member (o, "audio_muted", p->audio_muted);
  json_object_set_boolean_member (o, "video_muted", p->video_muted);
  json_object_set_boolean_member (o, "muted_by_host", p->muted_by_host);
  json_object_set_string_member (o, "quality", mm_quality_name (p->quality));
  json_object_set_string_member (o, "joined_at", joined);
  json_node_set_object (node, o);
  return node;
}

JsonNode *
mm_participant_room_members (MmParticipant *p)
{
  return members_json (p->room);
}

static void
push_to (MmParticipant *p, const char *type, JsonObject *fields)
{
  mm_queue_push (p->queue, type, fields, mm_wall_ms ());
  wake_waiters (p);
}

/* One copy of the event for everyone (queue.h). */
static void
broadcast (MmRoom *room, MmParticipant *except, const char *type, JsonObject *fields)
{
  g_autoptr (MmQueueEvent) ev = mm_queue_event_new (type, fields, mm_wall_ms ());

  for (GList *l = room->members.head; l != NULL; l = l->next)
    if (l->data != except)
      {
        mm_queue_push_event (((MmParticipant *) l->data)->queue, ev);
        wake_waiters (l->data);
      }
}

void
mm_participant_broadcast (MmParticipant *p, const char *type, JsonObject *fields)
{
  broadcast (p->room, NULL, type, fields);
}

static void
to_hosts (MmRoom *room, const char *type, JsonObject *fields)
{
  for (GList *l = room->members.head; l != NULL; l = l->next)
    if (mm_participant_is_host (l->data))
      push_to (l->data, type, fields);
}

/* The hosts get the whole lobby whenever it changes. */
static void
notify_lobby (MmRoom *room)
{
  g_autoptr (JsonObject) fields = json_object_new ();
  JsonArray *waiting = json_array_new ();

  for (GList *l = room->lobby.head; l != NULL; l = l->next)
    {
      MmParticipant *p = l->data;
      JsonObject *o = json_object_new ();

      json_object_set_string_member (o, "participant_id", p->id);
      json_object_set_string_member (o, "display_name", p->display_name);
      json_array_add_object_element (waiting, o);
    }
  json_object_set_array_member (fields, "waiting", waiting);
  to_hosts (room, "lobby", fields);
}

gboolean
mm_participant_is_waiting (MmParticipant *p)
{
  return p->waiting;
}

gboolean
mm_participant_is_closed (MmParticipant *p)
{
  return p->closed;
}

/* A closed participant is gone for good. */
static void
drop_closed (MmParticipant *p)
{
  MmRoom *room = p->room;

  g_queue_remove (&room->closed, p);
  g_hash_table_remove (room->by_id, p->id);
  while (p->waiters != NULL)
    {
      Waiter *w = p->waiters->data;

      mm_request_finish_error_literal (w->req, MM_ERROR_PARTICIPANT_NOT_FOUND,
                                       "this participant has left the room");
      waiter_finish (w);
    }
  participant_free (p);
}

void
mm_participant_set_state (MmParticipant *p, const gboolean *hand_raised,
                          const gboolean *audio_muted, const gboolean *video_muted,
                          const gboolean *presenting)
{
  g_autoptr (JsonObject) fields = json_object_new ();

  if (presenting != NULL)
    {
      p->presenting = *presenting;
      if (p->room->media != NULL)
        mm_media_set_presenting (p->room->media, p->id, p->presenting);
    }
  if (hand_raised != NULL)
    p->hand_raised = *hand_raised;
  if (audio_muted != NULL)
    {
      p->audio_muted = *audio_muted;
      if (!p->audio_muted)
        p->muted_by_host = FALSE;
      if (p->room->media != NULL)
        mm_media_set_audio_muted (p->room->media, p->id, p->audio_muted);
    }
  if (video_muted != NULL)
    {
      p->video_muted = *video_muted;
      if (p->room->media != NULL)
        mm_media_set_video_muted (p->room->media, p->id, p->video_muted);
    }
  json_object_set_member (fields, "participant", mm_participant_to_json (p));
  broadcast (p->room, NULL, "participant-state", fields);
}

static void
participant_free (MmParticipant *p)
{
  g_assert (p->waiters == NULL);
  g_free (p->id);
  g_free (p->display_name);
  g_free (p->role);
  g_free (p->secret_hash);
  mm_queue_free (p->queue);
  g_free (p);
}

/* ---- rooms ----------------------------------------------------------- */

static void
room_free (gpointer data)
{
  MmRoom *room = data;

  MmParticipant *p;

  g_assert (g_queue_is_empty (&room->members) && g_queue_is_empty (&room->lobby));
  while ((p = g_queue_pop_head (&room->closed)) != NULL)
    {
      while (p->waiters != NULL)
        {
          Waiter *w = p->waiters->data;

          answer_events (p, w->req, w->since, TRUE);
          waiter_finish (w);
        }
      participant_free (p);
    }
  g_mutex_lock (&room->rooms->locked_lock);
  g_hash_table_remove (room->rooms->locked, room->code);
  g_mutex_unlock (&room->rooms->locked_lock);
  g_clear_pointer (&room->stats, mm_media_stats_free);
  g_clear_pointer (&room->media, mm_media_free);
  g_hash_table_unref (room->by_id);
  g_free (room->code);
  g_free (room->title);
  g_free (room->mode);
  g_free (room);
}

static gboolean
sweep (gpointer data)
{
  MmRooms *rooms = data;
  gint64 limit = mm_now_ms () - (gint64) rooms->app->opts->presence_timeout * 1000;
  g_autoptr (GPtrArray) gone = g_ptr_array_new ();
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, rooms->by_code);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      MmRoom *room = value;

      for (int q = 0; q < 2; q++)
        for (GList *l = (q == 0 ? room->members : room->lobby).head; l != NULL; l = l->next)
          {
            MmParticipant *p = l->data;

            if (p->waiters == NULL && p->last_seen_ms < limit)
              g_ptr_array_add (gone, p);
          }
      for (GList *l = room->closed.head, *next; l != NULL; l = next)
        {
          MmParticipant *p = l->data;

          next = l->next;
          if (p->waiters == NULL && p->closed_at_ms < limit)
            drop_closed (p);
        }
    }
  for (guint i = 0; i < gone->len; i++)
    {
      MmParticipant *p = gone->pdata[i];

      g_info ("participant %s of %s stopped polling: removed", p->id, p->room->code);
      mm_rooms_leave (rooms, p, MM_LEFT_TIMEOUT);
    }
  return G_SOURCE_CONTINUE;
}

MmRooms *
mm_rooms_new (MmApp *app, MmLeftFunc on_left, MmRecordingFunc on_recording, gpointer data)
{
  MmRooms *rooms = g_new0 (MmRooms, 1);
  GSource *source;

  rooms->app = app;
  rooms->on_left = on_left;
  rooms->on_recording = on_recording;
  rooms->on_left_data = data;
  rooms->by_code = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, room_free);
  g_mutex_init (&rooms->locked_lock);
  rooms->locked = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  rooms->places = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  source = g_timeout_source_new (500);
  g_source_set_callback (source, sweep, rooms, NULL);
  rooms->sweep_id = g_source_attach (source, app->ctx);
  g_source_unref (source);
  return rooms;
}

static void
remove_all (MmRooms *rooms)
{
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, rooms->by_code);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      MmRoom *room = value;
      MmParticipant *p;

      while ((p = g_queue_pop_head (&room->members)) != NULL
             || (p = g_queue_pop_head (&room->lobby)) != NULL)
        {
          while (p->waiters != NULL)
            {
              Waiter *w = p->waiters->data;

              mm_request_finish_error_literal (w->req, MM_ERROR_SHUTTING_DOWN,
                                               "the server is shutting down");
              waiter_finish (w);
            }
          participant_free (p);
        }
      g_hash_table_remove_all (room->by_id);
    }
  g_hash_table_remove_all (rooms->by_code);
}

void
mm_rooms_free (MmRooms *rooms)
{
  if (rooms == NULL)
    return;
  g_source_destroy (g_main_context_find_source_by_id (rooms->app->ctx, rooms->sweep_id));
  remove_all (rooms);
  g_hash_table_unref (rooms->by_code);
  g_hash_table_unref (rooms->locked);
  g_hash_table_unref (rooms->places);
  g_mutex_clear (&rooms->locked_lock);
  g_free (rooms);
}

gboolean
mm_rooms_reserve (MmRooms *rooms, const char *code, gboolean viewer, GError **error)
{
  const MmOptions *o = rooms->app->opts;
  Places *pl;

  g_mutex_lock (&rooms->locked_lock);
  pl = g_hash_table_lookup (rooms->places, code);
  if (pl == NULL && g_hash_table_size (rooms->places) >= (guint) o->max_meetings)
    {
      g_mutex_unlock (&rooms->locked_lock);
      g_set_error (error, MM_ERROR, MM_ERROR_SERVER_FULL,
                   "this server has as many meetings as it takes (%d): try again later",
                   o->max_meetings);
      return FALSE;
    }
  if (viewer && rooms->n_viewers >= (guint) o->max_viewers)
    {
      g_mutex_unlock (&rooms->locked_lock);
      g_set_error (error, MM_ERROR, MM_ERROR_SERVER_FULL,
                   "this server has as many viewers as it takes (%d): try again later",
                   o->max_viewers);
      return FALSE;
    }
  if (!viewer && pl != NULL && pl->people >= (guint) o->max_room_participants)
    {
      g_mutex_unlock (&rooms->locked_lock);
      g_set_error (error, MM_ERROR, MM_ERROR_ROOM_FULL,
                   "this meeting is full (%d people)", o->max_room_participants);
      return FALSE;
    }
  if (pl == NULL)
    {
      pl = g_new0 (Places, 1);
      g_hash_table_insert (rooms->places, g_strdup (code), pl);
    }
  if (viewer)
    {
      pl->viewers++;
      rooms->n_viewers++;
    }
  else
    pl->people++;
  g_mutex_unlock (&rooms->locked_lock);
  return TRUE;
}

void
mm_rooms_unreserve (MmRooms *rooms, const char *code, gboolean viewer)
{
  Places *pl;

  g_mutex_lock (&rooms->locked_lock);
  pl = g_hash_table_lookup (rooms->places, code);
  if (pl != NULL)
    {
      if (viewer && pl->viewers > 0)
        {
          pl->viewers--;
          rooms->n_viewers--;
        }
      else if (!viewer && pl->people > 0)
        pl->people--;
      if (pl->people == 0 && pl->viewers == 0)
        g_hash_table_remove (rooms->places, code);
    }
  g_mutex_unlock (&rooms->locked_lock);
}

void
mm_rooms_broadcast (MmRooms *rooms, const char *code, const char *type, JsonObject *fields)
{
  MmRoom *room = g_hash_table_lookup (rooms->by_code, code);

  if (room != NULL)
    broadcast (room, NULL, type, fields);
}

MmRoom *
mm_rooms_lookup (MmRooms *rooms, const char *code)
{
  return g_hash_table_lookup (rooms->by_code, code);
}

guint
mm_room_n_participants (MmRoom *room)
{
  return g_queue_get_length (&room->members);
}

guint
mm_rooms_n_waiting (MmRooms *rooms)
{
  return rooms->n_waiting;
}

void
mm_rooms_counts (MmRooms *rooms, MmRoomsCounts *out)
{
  GHashTableIter it;
  gpointer value;

  memset (out, 0, sizeof *out);
  out->long_polls = rooms->n_waiting;
  g_hash_table_iter_init (&it, rooms->by_code);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      MmRoom *room = value;

      out->rooms++;
      out->participants += g_queue_get_length (&room->members);
      out->lobby += g_queue_get_length (&room->lobby);
      for (GList *l = room->members.head; l != NULL; l = l->next)
        {
          MmParticipant *p = l->data;

          if (p->has_media && !p->sends_media)
            out->viewers++;
        }
    }
}

void
mm_rooms_foreach_stats (MmRooms *rooms, MmRoomStatsFunc func, gpointer data)
{
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, rooms->by_code);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      MmRoom *room = value;

      if (room->stats != NULL)
        func (room->code, room->stats, data);
    }
}

void
mm_rooms_foreach_media (MmRooms *rooms, MmRoomMediaFunc func, gpointer data)
{
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, rooms->by_code);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      MmRoom *room = value;

      if (room->media != NULL)
        func (room->code, room->media, data);
    }
}

MmParticipant *
mm_rooms_join (MmRooms *rooms, const MmJoinInfo *info)
{
  MmRoom *room = g_hash_table_lookup (rooms->by_code, info->code);
  MmParticipant *p;
  g_autoptr (JsonObject) fields = json_object_new ();

  if (room == NULL)
    {
      room = g_new0 (MmRoom, 1);
      room->rooms = rooms;
      room->code = g_strdup (info->code);
      room->title = g_strdup (info->title);
      room->mode = g_strdup (info->mode);
      room->room_id = info->room_id;
      room->host_user_id = info->host_user_id;
      room->by_id = g_hash_table_new (g_str_hash, g_str_equal);
      g_queue_init (&room->members);
      g_queue_init (&room->lobby);
      g_queue_init (&room->closed);
      g_hash_table_insert (rooms->by_code, room->code, room);
    }
  room->meeting_id = info->meeting_id;

  p = g_new0 (MmParticipant, 1);
  p->room = room;
  p->id = g_strdup (info->participant_id);
  p->display_name = g_strdup (info->display_name);
  p->role = g_strdup (info->role);
  p->quality = info->quality;
  p->viewer = info->viewer;
  p->user_id = info->user_id;
  p->meeting_id = info->meeting_id;
  p->secret_hash = g_strdup (info->secret_hash);
  p->queue = mm_queue_new ((guint) rooms->app->opts->event_backlog);
  p->last_seen_ms = mm_now_ms ();
  p->joined_at_ms = mm_wall_ms ();
  g_hash_table_insert (room->by_id, p->id, p);
  if (info->waiting)
    {
      p->waiting = TRUE;
      g_queue_push_tail (&room->lobby, p);
      json_object_set_string_member (fields, "participant_id", p->id);
      json_object_set_string_member (fields, "display_name", p->display_name);
      to_hosts (room, "knock", fields);
      notify_lobby (room);
      return p;
    }
  json_object_set_member (fields, "participant", mm_participant_to_json (p));
  broadcast (room, NULL, "participant-joined", fields);
  g_queue_push_tail (&room->members, p);
  /* A host who arrives sees who is waiting already. */
  if (mm_participant_is_host (p) && !g_queue_is_empty (&room->lobby))
    notify_lobby (room);
  return p;
}

MmParticipant *
mm_rooms_authorize (MmRooms *rooms, const char *code, const char *id, const char *secret,
                    GError **error)
{
  MmRoom *room = code ? g_hash_table_lookup (rooms->by_code, code) : NULL;
  MmParticipant *p = room && id ? g_hash_table_lookup (room->by_id, id) : NULL;
  g_autofree char *hash = NULL;

  if (p == NULL)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_PARTICIPANT_NOT_FOUND,
                           "no such participant in this room (left, or timed out?)");
      return NULL;
    }
  if (secret == NULL)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_UNAUTHORIZED,
                           "the participant secret is required (Authorization: Bearer)");
      return NULL;
    }
  hash = mm_secret_hash (secret);
  if (!mm_secret_equal (hash, p->secret_hash))
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_FORBIDDEN,
                           "this secret does not belong to that participant");
      return NULL;
    }
  return p;
}

MmParticipant *
mm_rooms_authorize_id (MmRooms *rooms, const char *code, const char *id)
{
  MmRoom *room = g_hash_table_lookup (rooms->by_code, code);

  MmParticipant *p = room != NULL ? g_hash_table_lookup (room->by_id, id) : NULL;

  return p != NULL && !p->closed ? p : NULL;
}

/* Take @p out of the room.  With @keep, its queue stays readable (by id
 * and secret) until it has read its last events or the presence timeout
 * passed: someone denied or removed learns why. */
static void
leave_room (MmRooms *rooms, MmParticipant *p, MmLeftReason reason, gboolean keep)
{
  MmRoom *room = p->room;
  g_autoptr (JsonObject) fields = json_object_new ();
  gboolean waiting = p->waiting;

  g_queue_remove (waiting ? &room->lobby : &room->members, p);
  mm_rooms_unreserve (rooms, room->code, p->viewer);
  if (!keep)
    g_hash_table_remove (room->by_id, p->id);
  if (room->media != NULL && !g_queue_is_empty (&room->members))
    mm_media_remove (room->media, p->id);
  while (!keep && p->waiters != NULL)
    {
      Waiter *w = p->waiters->data;

      mm_request_finish_error_literal (w->req, MM_ERROR_PARTICIPANT_NOT_FOUND,
                                       "this participant has left the room");
      waiter_finish (w);
    }
  json_object_set_string_member (fields, "participant_id", p->id);
  json_object_set_string_member (fields, "display_name", p->display_name);
  json_object_set_string_member (fields, "reason", mm_left_reason_name (reason));
  /* Someone who leaves the lobby was never in the meeting: only the hosts
   * hear of it, through the lobby list. */
  if (waiting)
    notify_lobby (room);
  else
    broadcast (room, NULL, "participant-left", fields);
  if (rooms->on_left != NULL)
    rooms->on_left (rooms->app, p->id, p->meeting_id, reason, rooms->on_left_data);
  if (keep)
    {
      p->closed = TRUE;
      p->waiting = FALSE;
      p->closed_at_ms = mm_now_ms ();
      g_queue_push_tail (&room->closed, p);
    }
  else
    participant_free (p);
  if (g_queue_is_empty (&room->members) && g_queue_is_empty (&room->lobby))
    g_hash_table_remove (rooms->by_code, room->code);
}

void
mm_rooms_leave (MmRooms *rooms, MmParticipant *p, MmLeftReason reason)
{
  if (p->closed)
    {
      drop_closed (p);
      return;
    }
  leave_room (rooms, p, reason, FALSE);
}

void
mm_rooms_shutdown (MmRooms *rooms)
{
  GHashTableIter it;
  gpointer value;

  rooms->shut_down = TRUE;
  g_hash_table_iter_init (&it, rooms->by_code);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      MmRoom *room = value;

      for (int q = 0; q < 2; q++)
        for (GList *l = (q == 0 ? room->members : room->lobby).head; l != NULL; l = l->next)
          {
            MmParticipant *p = l->data;

            while (p->waiters != NULL)
              {
                Waiter *w = p->waiters->data;

                answer_events (p, w->req, w->since, TRUE);
                waiter_finish (w);
              }
          }
    }
}

/* ---- media ------------------------------------------------------------- */

static void
media_send (gpointer data, const char *pid, const char *type, JsonObject *fields)
{
  MmRoom *room = data;
  MmParticipant *p = g_hash_table_lookup (room->by_id, pid);

  if (p != NULL)
    push_to (p, type, fields);
}

static void
media_broadcast (gpointer data, const char *type, JsonObject *fields)
{
  broadcast (data, NULL, type, fields);
}

static void
media_to_hosts (gpointer data, const char *type, JsonObject *fields)
{
  to_hosts (data, type, fields);
}

/* The best tier @p may receive: a lecture's viewers get the host's cap. */
static MmTier
tier_cap (MmParticipant *p)
{
  return can_publish (p) ? MM_TIER_HIGH : p->room->viewer_cap;
}

/* Tell the media what @p receives (before each offer, and on changes). */
static void
apply_quality (MmParticipant *p)
{
  if (p->room->media != NULL)
    mm_media_set_quality (p->room->media, p->id, p->quality, tier_cap (p));
}

gboolean
mm_participant_set_quality (MmParticipant *p, const char *name, GError **error)
{
  MmQuality q;

  if (!mm_quality_from_name (name, &q))
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                           "quality must be \"auto\", \"high\", \"data-saver\" or \"audio-only\"");
      return FALSE;
    }
  p->quality = q;
  apply_quality (p);
  return TRUE;
}

gboolean
mm_participant_set_viewer_cap (MmParticipant *host, const char *name, GError **error)
{
  MmRoom *room = host->room;
  g_autoptr (JsonObject) fields = json_object_new ();
  MmTier t;

  if (!mm_participant_is_host (host))
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_FORBIDDEN,
                           "only the host caps what viewers receive");
      return FALSE;
    }
  if (!mm_tier_from_name (name, &t))
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                           "tier must be \"high\", \"medium\", \"low\" or \"audio-only\"");
      return FALSE;
    }
  room->viewer_cap = t;
  for (GList *l = room->members.head; l != NULL; l = l->next)
    apply_quality (l->data);
  json_object_set_string_member (fields, "viewer_cap", mm_tier_name (t));
  broadcast (room, NULL, "room", fields);
  return TRUE;
}

const char *
mm_rooms_viewer_cap (MmRooms *rooms, const char *code)
{
  MmRoom *room = g_hash_table_lookup (rooms->by_code, code);

  return mm_tier_name (room != NULL ? room->viewer_cap : MM_TIER_HIGH);
}

JsonNode *
mm_participant_receivers (MmParticipant *p)
{
  JsonNode *node = json_node_new (JSON_NODE_ARRAY);

  json_node_take_array (node, p->room->media != NULL && mm_participant_is_host (p)
                                ? mm_media_receivers (p->room->media)
                                : json_array_new ());
  return node;
}

gboolean
mm_participant_offer (MmParticipant *p, const char *sdp, GError **error)
{
  MmRoom *room = p->room;
  gboolean sends = FALSE;

  if (!mm_media_check_offer (sdp, &sends, error))
    return FALSE;
  if (sends && !can_publish (p))
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_FORBIDDEN,
                           "in a lecture only the host and presenters send: offer to receive "
                           "only, or ask the host to make you a presenter");
      return FALSE;
    }

  if (room->media == NULL)
    {
      MmMediaSink sink = { media_send, media_broadcast, room, media_to_hosts };

      if (!mm_media_check_offer (sdp, NULL, error))
        return FALSE;
      room->media = mm_media_new (room->rooms->app, room->code, &sink, error);
      if (room->media == NULL)
        return FALSE;
      room->stats = mm_media_stats_new (mm_media_pipeline (room->media));
      if (room->layout != MM_LAYOUT_GRID)
        mm_media_set_layout (room->media, room->layout);
    }
  /* From someone already connected, a new offer renegotiates the same
   * connection or replaces it with a new one (mm_media_offer). */
  apply_quality (p);
  if (!mm_media_offer (room->media, p->id, p->display_name, sdp, error))
    return FALSE;
  p->has_media = TRUE;
  p->sends_media = sends;
  if (p->audio_muted)
    mm_media_set_audio_muted (room->media, p->id, TRUE);
  if (p->video_muted)
    mm_media_set_video_muted (room->media, p->id, TRUE);
  return TRUE;
}

gboolean
mm_participant_ice (MmParticipant *p, guint mline, const char *candidate, GError **error)
{
  if (p->room->media == NULL)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_CONFLICT,
                           "send an offer before ICE candidates");
      return FALSE;
    }
  return mm_media_add_ice (p->room->media, p->id, mline, candidate, error);
}

gboolean
mm_participant_is_host (MmParticipant *p)
{
  return g_strcmp0 (p->role, "host") == 0;
}

/* In a meeting everyone publishes; in a lecture the host and presenters. */
static gboolean
can_publish (MmParticipant *p)
{
  return g_strcmp0 (p->room->mode, "lecture") != 0 || mm_participant_is_host (p) || p->presenter;
}

gboolean
mm_participant_set_presenter (MmParticipant *host, const char *target_id, gboolean presenter,
                              GError **error)
{
  MmParticipant *t = host_target (host, target_id, FALSE, "choose presenters", error);
  g_autoptr (JsonObject) fields = json_object_new ();

  if (t == NULL)
    return FALSE;
  if (g_strcmp0 (host->room->mode, "lecture") != 0)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                           "presenters are for lecture rooms: in a meeting everyone presents");
      return FALSE;
    }
  t->presenter = presenter;
  if (host->room->media != NULL)
    mm_media_set_may_publish (host->room->media, t->id, presenter);
  apply_quality (t);
  /* The target's client starts (or stops) sending when it sees this. */
  json_object_set_member (fields, "participant", mm_participant_to_json (t));
  broadcast (host->room, NULL, "participant-state", fields);
  return TRUE;
}

gboolean
mm_participant_host_mute (MmParticipant *host, const char *target_id, GError **error)
{
  MmParticipant *t = target_id ? g_hash_table_lookup (host->room->by_id, target_id) : NULL;
  gboolean muted = TRUE;

  if (!mm_participant_is_host (host))
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_FORBIDDEN,
                           "only the host can mute someone else");
      return FALSE;
    }
  if (t == NULL || t->waiting || t->closed)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_PARTICIPANT_NOT_FOUND,
                           "no such participant in this room");
      return FALSE;
    }
  t->muted_by_host = TRUE;
  mm_participant_set_state (t, NULL, &muted, NULL, NULL);
  return TRUE;
}

/* The target of a host control: someone else in @host's room, waiting in
 * the lobby or not as @waiting says. */
static MmParticipant *
host_target (MmParticipant *host, const char *target_id, gboolean waiting, const char *what,
             GError **error)
{
  MmParticipant *t = target_id ? g_hash_table_lookup (host->room->by_id, target_id) : NULL;

  if (!mm_participant_is_host (host))
    {
      g_set_error (error, MM_ERROR, MM_ERROR_FORBIDDEN, "only the host can %s", what);
      return NULL;
    }
  if (t == NULL || t->closed || t->waiting != waiting)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_PARTICIPANT_NOT_FOUND,
                           waiting ? "nobody with that id is waiting in the lobby"
                                   : "no such participant in this room");
      return NULL;
    }
  if (t == host)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT, "the host cannot %s themselves", what);
      return NULL;
    }
  return t;
}

gboolean
mm_participant_admit (MmParticipant *host, const char *target_id, JsonNode *chat,
                      GError **error)
{
  MmParticipant *t = host_target (host, target_id, TRUE, "admit people", error);
  MmRoom *room = host->room;
  g_autoptr (JsonObject) joined = json_object_new ();
  g_autoptr (JsonObject) admitted = json_object_new ();

  if (t == NULL)
    {
      json_node_unref (chat);
      return FALSE;
    }
  g_queue_remove (&room->lobby, t);
  t->waiting = FALSE;
  t->joined_at_ms = mm_wall_ms ();
  json_object_set_member (joined, "participant", mm_participant_to_json (t));
  broadcast (room, NULL, "participant-joined", joined);
  g_queue_push_tail (&room->members, t);
  json_object_set_member (admitted, "participant", mm_participant_to_json (t));
  json_object_set_member (admitted, "participants", members_json (room));
  json_object_set_member (admitted, "chat", chat);
  push_to (t, "admitted", admitted);
  notify_lobby (room);
  return TRUE;
}

gboolean
mm_participant_deny (MmParticipant *host, const char *target_id, GError **error)
{
  MmParticipant *t = host_target (host, target_id, TRUE, "turn people away", error);
  g_autoptr (JsonObject) fields = json_object_new ();

  if (t == NULL)
    return FALSE;
  /* Delivered to a waiting long-poll now; later polls get 404. */
  push_to (t, "denied", fields);
  leave_room (host->room->rooms, t, MM_LEFT_DENIED, TRUE);
  return TRUE;
}

gboolean
mm_participant_remove (MmParticipant *host, const char *target_id, GError **error)
{
  MmParticipant *t = host_target (host, target_id, FALSE, "remove people", error);
  g_autoptr (JsonObject) fields = json_object_new ();

  if (t == NULL)
    return FALSE;
  json_object_set_string_member (fields, "by", host->display_name);
  push_to (t, "removed", fields);
  leave_room (host->room->rooms, t, MM_LEFT_REMOVED, TRUE);
  return TRUE;
}

typedef struct {
  MmRooms *rooms;
  char *code;
  char *file;
  char *by;
  MmRecordingInfo info;       /* its strings point into this struct */
} Recorded;

static void
recorded_free (Recorded *rec)
{
  g_free (rec->code);
  g_free (rec->file);
  g_free (rec->by);
  g_free (rec);
}

/* A recording is finished: the store and the room (if it is still there)
 * are told. */
static void
on_recorded (const char *path, gint64 bytes, gint64 duration_ms, const char *error,
             gpointer data)
{
  Recorded *rec = data;
  MmRooms *rooms = rec->rooms;
  g_autoptr (JsonObject) fields = json_object_new ();

  rec->info.ended_at_ms = mm_wall_ms ();
  rec->info.bytes = bytes;
  rec->info.duration_ms = duration_ms;
  rec->info.interrupted = error != NULL;
  if (error != NULL)
    {
      g_autofree char *why = g_strdup_printf ("the recording stopped: %s", error);

      json_object_set_string_member (fields, "error", why);
      g_warning ("room %s: recording %s stopped: %s", rec->code, rec->file, error);
    }
  if (rooms->on_recording != NULL)
    rooms->on_recording (rooms->app, &rec->info, rooms->on_left_data);
  json_object_set_boolean_member (fields, "on", FALSE);
  json_object_set_string_member (fields, "file", rec->file);
  json_object_set_int_member (fields, "bytes", bytes);
  json_object_set_int_member (fields, "duration_ms", duration_ms);
  g_message ("room %s: recording %s finished (%" G_GINT64_FORMAT " bytes, %" G_GINT64_FORMAT
             " ms)", rec->code, rec->file, bytes, duration_ms);
  mm_rooms_broadcast (rooms, rec->code, "recording", fields);
  recorded_free (rec);
}

gboolean
mm_participant_set_recording (MmParticipant *host, gboolean on, GError **error)
{
  MmRoom *room = host->room;
  MmRooms *rooms = room->rooms;
  const MmOptions *o = rooms->app->opts;
  g_autoptr (JsonObject) fields = json_object_new ();

  if (!mm_participant_is_host (host))
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_FORBIDDEN, "only the host can record");
      return FALSE;
    }
  if (room->media == NULL)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_CONFLICT,
                           "nothing to record yet: nobody has connected media");
      return FALSE;
    }
  if (on)
    {
      g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
      g_autofree char *stamp = g_date_time_format (now, "%Y%m%dT%H%M%SZ");
      g_autofree char *dir = g_build_filename (o->data_dir, "recordings", NULL);
      g_autofree char *path = NULL;
      Recorded *rec;

      if (g_mkdir_with_parents (dir, 0750) != 0)
        {
          g_set_error (error, MM_ERROR, MM_ERROR_INTERNAL, "cannot create the recordings directory");
          return FALSE;
        }
      rec = g_new0 (Recorded, 1);
      rec->rooms = rooms;
      rec->code = g_strdup (room->code);
      /* Letters, digits and dashes only: the name is its own key. */
      rec->file = g_strdup_printf ("%s-%s.webm", room->code, stamp);
      for (guint n = 2; ; n++)
        {
          g_free (path);
          path = g_build_filename (dir, rec->file, NULL);
          if (!g_file_test (path, G_FILE_TEST_EXISTS))
            break;
          g_free (rec->file);
          rec->file = g_strdup_printf ("%s-%s-%u.webm", room->code, stamp, n);
        }
      rec->by = g_strdup (host->display_name);
      rec->info.file = rec->file;
      rec->info.room_id = room->room_id;
      rec->info.meeting_id = room->meeting_id;
      rec->info.user_id = host->user_id;
      rec->info.started_by_name = rec->by;
      rec->info.started_at_ms = mm_wall_ms ();
      if (!mm_media_record_start (room->media, path, on_recorded, rec, error))
        {
          recorded_free (rec);
          return FALSE;
        }
      if (rooms->on_recording != NULL)
        rooms->on_recording (rooms->app, &rec->info, rooms->on_left_data);
      json_object_set_boolean_member (fields, "on", TRUE);
      json_object_set_string_member (fields, "file", rec->file);
      json_object_set_string_member (fields, "by", host->display_name);
      broadcast (room, NULL, "recording", fields);
      return TRUE;
    }
  /* "recording" with on=false goes out once the file is finished. */
  return mm_media_record_stop (room->media, error);
}

/* ---- egress ---------------------------------------------------------- */

static const char *const egress_kinds[] = { "hls", "rtmp" };

typedef struct {
  MmRooms *rooms;
  char *code;
} EgressWatch;

static void
egress_event (MmRooms *rooms, const char *code, MmEgressKind kind, gboolean on,
              const char *state, const char *detail)
{
  g_autoptr (JsonObject) fields = json_object_new ();

  json_object_set_string_member (fields, "kind", egress_kinds[kind]);
  json_object_set_boolean_member (fields, "on", on);
  json_object_set_string_member (fields, "state", state);
  if (kind == MM_EGRESS_HLS && on)
    {
      g_autofree char *url = g_strdup_printf ("/api/v1/rooms/%s/hls/index.m3u8", code);
      json_object_set_string_member (fields, "url", url);
    }
  if (detail != NULL)
    json_object_set_string_member (fields, "detail", detail);
  mm_rooms_broadcast (rooms, code, "egress", fields);
}

/* Main loop: how an egress goes, for everyone in the room. */
static void
on_egress_state (MmEgressKind kind, const char *state, const char *detail, gpointer data)
{
  EgressWatch *w = data;
  gboolean stopped = g_str_equal (state, "stopped");

  egress_event (w->rooms, w->code, kind, !stopped, state, detail);
  if (stopped)
    {
      g_free (w->code);
      g_free (w);
    }
}

/* Empty @dir of an earlier HLS run (its files only). */
static void
clear_hls_dir (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (name, ".ts") || g_str_has_suffix (name, ".m3u8"))
      {
        g_autofree char *path = g_build_filename (dir, name, NULL);
        g_unlink (path);
      }
}

gboolean
mm_participant_set_egress (MmParticipant *host, MmEgressKind kind, gboolean on, const char *url,
                           GError **error)
{
  MmRoom *room = host->room;
  MmRooms *rooms = room->rooms;
  const MmOptions *o = rooms->app->opts;
  g_autofree char *target = NULL;
  EgressWatch *w;

  if (!mm_participant_is_host (host))
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_FORBIDDEN,
                           kind == MM_EGRESS_HLS ? "only the host can turn HLS on or off"
                                                 : "only the host can push to RTMP");
      return FALSE;
    }
  if (room->media == NULL)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_CONFLICT,
                           "nothing to broadcast yet: nobody has connected media");
      return FALSE;
    }
  if (!on)
    return mm_media_egress_stop (room->media, kind, error);
  if (kind == MM_EGRESS_HLS)
    {
      target = g_build_filename (o->data_dir, "hls", room->code, NULL);
      if (g_mkdir_with_parents (target, 0750) != 0)
        {
          g_set_error (error, MM_ERROR, MM_ERROR_INTERNAL, "cannot create the HLS directory");
          return FALSE;
        }
      clear_hls_dir (target);
    }
  else
    {
      if (url == NULL || *url == '\0')
        url = o->rtmp_url;
      if (url == NULL || *url == '\0')
        {
          g_set_error_literal (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                               "give the ingest \"url\" (no rtmp-url is configured)");
          return FALSE;
        }
      if (!g_str_has_prefix (url, "rtmp://") && !g_str_has_prefix (url, "rtmps://"))
        {
          g_set_error_literal (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                               "url must start with rtmp:// or rtmps://");
          return FALSE;
        }
      target = g_strdup (url);
    }
  w = g_new0 (EgressWatch, 1);
  w->rooms = rooms;
  w->code = g_strdup (room->code);
  if (!mm_media_egress_start (room->media, kind, target, on_egress_state, w, error))
    {
      g_free (w->code);
      g_free (w);
      return FALSE;
    }
  egress_event (rooms, room->code, kind, TRUE, "starting", NULL);
  return TRUE;
}

gboolean
mm_participant_set_locked (MmParticipant *host, gboolean locked, GError **error)
{
  MmRoom *room = host->room;
  MmRooms *rooms = room->rooms;
  g_autoptr (JsonObject) fields = json_object_new ();

  if (!mm_participant_is_host (host))
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_FORBIDDEN, "only the host can lock the meeting");
      return FALSE;
    }
  g_mutex_lock (&rooms->locked_lock);
  if (locked)
    g_hash_table_add (rooms->locked, g_strdup (room->code));
  else
    g_hash_table_remove (rooms->locked, room->code);
  g_mutex_unlock (&rooms->locked_lock);
  json_object_set_boolean_member (fields, "locked", locked);
  broadcast (room, NULL, "room", fields);
  return TRUE;
}

gboolean
mm_rooms_is_recording (MmRooms *rooms, const char *code)
{
  MmRoom *room = g_hash_table_lookup (rooms->by_code, code);

  return room != NULL && room->media != NULL && mm_media_is_recording (room->media);
}

gboolean
mm_rooms_is_locked (MmRooms *rooms, const char *code)
{
  gboolean locked;

  g_mutex_lock (&rooms->locked_lock);
  locked = g_hash_table_contains (rooms->locked, code);
  g_mutex_unlock (&rooms->locked_lock);
  return locked;
}

gboolean
mm_participant_set_layout (MmParticipant *p, const char *name, GError **error)
{
  MmLayoutKind kind;

  if (!mm_participant_is_host (p))
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_FORBIDDEN, "only the host chooses the layout");
      return FALSE;
    }
  if (!mm_layout_kind_from_name (name, &kind))
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                           "layout must be \"grid\", \"speaker\" or \"presentation\"");
      return FALSE;
    }
  p->room->layout = kind;
  if (p->room->media != NULL)
    mm_media_set_layout (p->room->media, kind);
  return TRUE;
}
