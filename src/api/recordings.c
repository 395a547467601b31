/* recordings.c — a room's recordings: their metadata in the store, the
 * list for the room's host and members, and the files with Range support.
 *
 * A browser's <video> cannot send an Authorization header, so each listed
 * recording carries a "url" signed for a few hours (HMAC-SHA256 under a
 * key made at start-up) that serves the file without one.  The file
 * answers a Bearer token of the host or someone who was in the room too.
 */
#include "config.h"

#include "api/api.h"
#include "core/error.h"
#include "core/roomcode.h"
#include "core/secret.h"
#include "store/meetings.h"
#include "store/recordings.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the store side ------------------------------------------------------ */

typedef struct {
  MmRecordingInfo info;
  char *file;
  char *by;
} Stored;

static void
stored_free (gpointer data)
{
  Stored *s = data;
  g_free (s->file);
  g_free (s->by);
  g_free (s);
}

static void
recording_store (MmApp *app, gpointer data)
{
  Stored *s = data;
  g_autoptr (GError) error = NULL;
  MmDbConn *c;
  gboolean ok;

  if (!g_atomic_int_get (&app->db_ready))
    {
      g_warning ("recording %s: the database is not ready; its metadata is not stored", s->file);
      return;
    }
  c = mm_db_acquire (app->db, &error);
  if (c == NULL)
    ok = FALSE;
  else if (s->info.ended_at_ms == 0)
    ok = mm_store_recording_begin (c, &s->info, &error);
  else
    ok = mm_store_recording_end (c, &s->info, &error);
  if (!ok)
    g_warning ("could not store recording %s: %s", s->file, error->message);
  mm_db_release (c);
}

void
mm_api_recording_changed (MmApp *app, const MmRecordingInfo *info, gpointer data)
{
  Stored *s = g_new0 (Stored, 1);

  s->info = *info;
  s->file = g_strdup (info->file);
  s->by = g_strdup (info->started_by_name);
  s->info.file = s->file;
  s->info.started_by_name = s->by;
  mm_app_run_worker (app, recording_store, s, stored_free);
}

/* ---- signed links ---------------------------------------------------------- */

#define LINK_LIFETIME_S (6 * 3600)

static char *
link_signature (MmApp *app, const char *id, gint64 expires)
{
  g_autofree char *text = g_strdup_printf ("recording\n%s\n%" G_GINT64_FORMAT, id, expires);

  return g_compute_hmac_for_string (G_CHECKSUM_SHA256, app->link_key, sizeof app->link_key,
                                    text, -1);
}

static char *
signed_url (MmApp *app, const char *id)
{
  gint64 expires = mm_wall_ms () / 1000 + LINK_LIFETIME_S;
  g_autofree char *sig = link_signature (app, id, expires);

  return g_strdup_printf ("/api/v1/recordings/%s/file?expires=%" G_GINT64_FORMAT "&sig=%s", id,
                          expires, sig);
}

/* A "url" on each finished recording of @arr. */
static void
add_urls (MmApp *app, JsonArray *arr)
{
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonObject *o = json_array_get_object_element (arr, i);
      g_autofree char *url = NULL;

      if (g_str_equal (json_object_get_string_member (o, "status"), "recording"))
        {
          json_object_set_null_member (o, "url");
          continue;
        }
      url = signed_url (app, json_object_get_string_member (o, "id"));
      json_object_set_string_member (o, "url", url);
    }
}

void
mm_api_meetings_add_recordings (MmApp *app, MmDbConn *c, JsonArray *meetings, GError **error)
{
  if (!mm_store_add_meeting_recordings (c, meetings, error))
    return;
  for (guint i = 0; i < json_array_get_length (meetings); i++)
    add_urls (app, json_object_get_array_member (json_array_get_object_element (meetings, i),
                                                 "recordings"));
}

/* ---- the list ---------------------------------------------------------------- */

void
mm_api_room_recordings (MmApp *app, MmRequest *req)
{
  g_autoptr (GError) error = NULL;
  g_auto (MmUser) user = { 0 };
  g_auto (MmRoomRow) room = { 0 };
  g_autoptr (JsonObject) o = NULL;
  JsonNode *list = NULL, *node;
  gboolean member = FALSE;
  MmDbConn *c = mm_api_db (app, req);

  if (c == NULL)
    return;
  if (!mm_api_user (c, req, TRUE, &user, &error)
      || !mm_store_room_by_code (c, mm_request_param (req, "code"), &room, &error)
      || !mm_store_room_member (c, room.id, user.id, &member, &error))
    {
      mm_db_release (c);
      mm_request_finish_error (req, error);
      return;
    }
  if (!member)
    {
      mm_db_release (c);
      mm_request_finish_error_literal (req, MM_ERROR_FORBIDDEN,
                                       "only the room's host and the people who were in it "
                                       "see its recordings");
      return;
    }
  list = mm_store_room_recordings (c, room.id, &error);
  mm_db_release (c);
  if (list == NULL)
    {
      mm_request_finish_error (req, error);
      return;
    }
  add_urls (app, json_node_get_array (list));
  o = json_object_new ();
  json_object_set_member (o, "recordings", list);
  node = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (node, o);
  mm_request_finish_json (req, 200, node);
}

/* ---- the file ------------------------------------------------------------------- */

/* The signed link's query is right (and not expired). */
static gboolean
link_valid (MmApp *app, MmRequest *req, const char *id)
{
  const char *expires_text = mm_request_query (req, "expires");
  const char *sig = mm_request_query (req, "sig");
  gint64 now = mm_wall_ms () / 1000;
  g_autofree char *want = NULL;
  guint64 expires;

  if (expires_text == NULL || sig == NULL
      || !g_ascii_string_to_unsigned (expires_text, 10, 0, G_MAXINT64, &expires, NULL)
      || (gint64) expires < now || (gint64) expires > now + LINK_LIFETIME_S)
    return FALSE;
  want = link_signature (app, id, (gint64) expires);
  return mm_secret_equal (want, sig);
}

void
mm_api_recording_file (MmApp *app, MmRequest *req)
{
  g_autoptr (GError) error = NULL;
  g_auto (MmRecordingRow) rec = { 0 };
  g_autofree char *path = NULL;
  g_autofree char *disposition = NULL;
  const char *id = mm_request_param (req, "id");
  gboolean signed_link = mm_request_query (req, "sig") != NULL;
  gint64 start = 0, length = 0;
  struct stat st;
  MmDbConn *c;
  int fd;

  c = mm_api_db (app, req);
  if (c == NULL)
    return;
  if (!mm_store_recording_by_id (c, id, &rec, &error))
    {
      mm_db_release (c);
      mm_request_finish_error (req, error);
      return;
    }
  if (signed_link)
    {
      mm_db_release (c);
      if (!link_valid (app, req, rec.id))
        {
          mm_request_finish_error_literal (req, MM_ERROR_FORBIDDEN,
                                           "this link to the recording is not valid or has "
                                           "expired: list the recordings again for a new one");
          return;
        }
    }
  else
    {
      g_auto (MmUser) user = { 0 };
      gboolean member = FALSE;

      if (!mm_api_user (c, req, TRUE, &user, &error)
          || !mm_store_room_member (c, rec.room_id, user.id, &member, &error))
        {
          mm_db_release (c);
          mm_request_finish_error (req, error);
          return;
        }
      mm_db_release (c);
      if (!member)
        {
          mm_request_finish_error_literal (req, MM_ERROR_FORBIDDEN,
                                           "only the room's host and the people who were in it "
                                           "may watch its recordings");
          return;
        }
    }
  if (g_str_equal (rec.status, "recording"))
    {
      mm_request_finish_error_literal (req, MM_ERROR_CONFLICT,
                                       "this recording is still being made");
      return;
    }
  /* The name comes from our own table, which allows no '/' in it. */
  path = g_build_filename (app->opts->data_dir, "recordings", rec.file, NULL);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      if (fd >= 0)
        close (fd);
      g_warning ("recording %s: cannot open %s", rec.id, rec.file);
      mm_request_finish_error_literal (req, MM_ERROR_NOT_FOUND,
                                       "the file of this recording is no longer there");
      return;
    }
  mm_request_add_header (req, "Accept-Ranges", "bytes");
  disposition = g_strdup_printf ("inline; filename=\"%s\"", rec.file);
  mm_request_add_header (req, "Content-Disposition", disposition);
  switch (mm_http_parse_range (mm_request_range (req), st.st_size, &start, &length))
    {
    case MM_RANGE_OK:
      {
        g_autofree char *range = g_strdup_printf ("bytes %" G_GINT64_FORMAT "-%" G_GINT64_FORMAT
                                                  "/%" G_GINT64_FORMAT, start,
                                                  start + length - 1, (gint64) st.st_size);

        mm_request_add_header (req, "Content-Range", range);
        mm_request_finish_file (req, 206, "video/webm", fd, start, (gsize) length,
                                "private, max-age=3600");
        return;
      }
    case MM_RANGE_UNSATISFIABLE:
      {
        g_autofree char *range = g_strdup_printf ("bytes */%" G_GINT64_FORMAT,
                                                  (gint64) st.st_size);

        close (fd);
        mm_request_add_header (req, "Content-Range", range);
        mm_request_finish_errorf (req, MM_ERROR_RANGE_NOT_SATISFIABLE,
                                  "the range is outside the file (%" G_GINT64_FORMAT " bytes)",
                                  (gint64) st.st_size);
        return;
      }
    case MM_RANGE_NONE:
    default:
      mm_request_finish_file (req, 200, "video/webm", fd, 0, (gsize) st.st_size,
                              "private, max-age=3600");
      return;
    }
}

/* ---- HLS ------------------------------------------------------------------------ */

/* index.m3u8 or segNNNNN.ts: nothing else is ever opened. */
static gboolean
hls_name_ok (const char *name, gboolean *playlist)
{
  *playlist = g_strcmp0 (name, "index.m3u8") == 0;
  if (*playlist)
    return TRUE;
  if (name == NULL || strlen (name) != 11 || !g_str_has_prefix (name, "seg")
      || !g_str_has_suffix (name, ".ts"))
    return FALSE;
  for (int i = 3; i < 8; i++)
    if (!g_ascii_isdigit (name[i]))
      return FALSE;
  return TRUE;
}

void
mm_api_room_hls (MmApp *app, MmRequest *req)
{
  const char *code = mm_request_param (req, "code");
  const char *name = mm_request_param (req, "file");
  g_autofree char *path = NULL;
  gboolean playlist;
  struct stat st;
  int fd;

  if (!mm_room_code_valid (code))
    {
      mm_request_finish_error_literal (req, MM_ERROR_ROOM_NOT_FOUND, "no room has this code");
      return;
    }
  if (!hls_name_ok (name, &playlist))
    {
      mm_request_finish_error_literal (req, MM_ERROR_NOT_FOUND,
                                       "HLS serves index.m3u8 and segNNNNN.ts only");
      return;
    }
  path = g_build_filename (app->opts->data_dir, "hls", code, name, NULL);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      if (fd >= 0)
        close (fd);
      mm_request_finish_error_literal (req, MM_ERROR_NOT_FOUND,
                                       playlist ? "this room is not broadcasting HLS"
                                                : "no such segment (it may have expired)");
      return;
    }
  /* Any player, any origin: the room's code is the key to it. */
  mm_request_add_header (req, "Access-Control-Allow-Origin", "*");
  mm_request_finish_file (req, 200, playlist ? "application/vnd.apple.mpegurl" : "video/mp2t", fd,
                          0, (gsize) st.st_size,
                          playlist ? "no-cache" : "public, max-age=3600, immutable");
}
