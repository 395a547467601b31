/* meetings.h — rooms, meetings, participations and chat in PostgreSQL. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "store/db.h"

G_BEGIN_DECLS

typedef struct {
  gint64 id;
  char *code;
  char *title;
  char *mode;
  gboolean allow_guests;
  gboolean lobby;            /* the host admits everyone else */
  gint64 host_id;
  char *host_name;
  char *created_at;
} MmRoomRow;

void mm_room_row_clear (MmRoomRow *row);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MmRoomRow, mm_room_row_clear)

/* The room as clients see it.  Returns: (transfer full) */
JsonNode *mm_room_row_to_json (const MmRoomRow *row);

/* Create a room with a fresh code (retried on the rare collision). */
gboolean mm_store_room_create (MmDbConn *c, const char *title, const char *mode,
                               gboolean allow_guests, gboolean lobby, gint64 host_id,
                               MmRoomRow *out, GError **error);

/* MM_ERROR_ROOM_NOT_FOUND when there is none. */
gboolean mm_store_room_by_code (MmDbConn *c, const char *code, MmRoomRow *out, GError **error);

/* In one transaction: the room's open meeting (started if there is none)
 * and a new participation in it.  *@participant_id: (transfer full) */
gboolean mm_store_participation_begin (MmDbConn *c, gint64 room_id, gint64 user_id,
                                       const char *display_name, const char *role,
                                       gint64 *meeting_id, char **participant_id,
                                       GError **error);

/* Record that a participant left; end the meeting if nobody is left. */
gboolean mm_store_participation_end (MmDbConn *c, const char *participant_id,
                                     gint64 meeting_id, const char *reason, GError **error);

/* Close every open participation and meeting (start-up after a crash, and
 * shutdown).  *@closed counts the participations. */
gboolean mm_store_close_all (MmDbConn *c, const char *reason, guint *closed, GError **error);

/* The last @limit messages of a room, oldest first.  Returns: (transfer full) */
JsonNode *mm_store_chat_recent (MmDbConn *c, gint64 room_id, guint limit, GError **error);

/* Store a message.  Returns: (transfer full) the message as JSON. */
JsonNode *mm_store_chat_add (MmDbConn *c, gint64 room_id, const char *participant_id,
                             const char *display_name, const char *text, GError **error);

/* Meetings of rooms @user_id hosted or joined, newest first.
 * Returns: (transfer full) */
JsonNode *mm_store_meeting_history (MmDbConn *c, gint64 user_id, guint limit, GError **error);

G_END_DECLS
