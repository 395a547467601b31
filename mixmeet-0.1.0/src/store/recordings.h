/* recordings.h — recordings' metadata in PostgreSQL.
 *
 * The server writes a row when a recording starts ("recording") and
 * completes it when the file is finished ("complete"); a row still
 * "recording" at the next start-up was cut off by a crash and becomes
 * "interrupted", with the size and end time of the file as it was left.
 * Both writes are upserts keyed by the file name, so they may reach the
 * database in either order. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "core/room.h"
#include "store/db.h"

G_BEGIN_DECLS

/* MmRecordingInfo: see core/room.h. */

/* The row of a recording that starts now (nothing if it is there). */
gboolean mm_store_recording_begin (MmDbConn *c, const MmRecordingInfo *info, GError **error);

/* The recording is finished: complete its row (created if the begin has
 * not arrived yet). */
gboolean mm_store_recording_end (MmDbConn *c, const MmRecordingInfo *info, GError **error);

/* Rows left "recording" by a run that did not stop cleanly: "interrupted",
 * with the size and modification time of their file under @dir.
 * *@closed counts them. */
gboolean mm_store_recordings_interrupted (MmDbConn *c, const char *dir, guint *closed,
                                          GError **error);

/* A room's recordings, oldest first.  Returns: (transfer full) an array
 * of objects {id, file, status, started_at, ended_at, duration_ms, bytes,
 * started_by {name}, meeting_id}. */
JsonNode *mm_store_room_recordings (MmDbConn *c, gint64 room_id, GError **error);

/* The recordings of each meeting in @meetings (an array of objects with
 * "id"), added to each as "recordings".  */
gboolean mm_store_add_meeting_recordings (MmDbConn *c, JsonArray *meetings, GError **error);

typedef struct {
  char *id;
  gint64 room_id;
  char *file;
  char *status;
} MmRecordingRow;

void mm_recording_row_clear (MmRecordingRow *row);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MmRecordingRow, mm_recording_row_clear)

/* MM_ERROR_NOT_FOUND when there is none (or @id is not a UUID). */
gboolean mm_store_recording_by_id (MmDbConn *c, const char *id, MmRecordingRow *out,
                                   GError **error);

/* Whether @user_id hosts room @room_id or has been in one of its meetings. */
gboolean mm_store_room_member (MmDbConn *c, gint64 room_id, gint64 user_id, gboolean *member,
                               GError **error);

G_END_DECLS
