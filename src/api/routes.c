/* routes.c — every endpoint of mixmeetd, where it runs. */
#include "config.h"

#include "api/api.h"
#include "store/db.h"
#include "core/error.h"

static const MmRoute routes[] = {
  { "GET", "/healthz", mm_api_healthz, MM_RUN_MAIN },
  { "GET", "/readyz", mm_api_readyz, MM_RUN_WORKER },
  { "GET", "/metrics", mm_api_metrics, MM_RUN_MAIN },

  { "POST", "/api/v1/auth/register", mm_api_register, MM_RUN_WORKER },
  { "POST", "/api/v1/auth/login", mm_api_login, MM_RUN_WORKER },
  { "POST", "/api/v1/auth/logout", mm_api_logout, MM_RUN_WORKER },
  { "GET", "/api/v1/auth/me", mm_api_me, MM_RUN_WORKER },

  { "POST", "/api/v1/rooms", mm_api_room_create, MM_RUN_WORKER },
  { "GET", "/api/v1/rooms/{code}", mm_api_room_get, MM_RUN_WORKER },
  { "POST", "/api/v1/rooms/{code}/join", mm_api_room_join, MM_RUN_WORKER },
  { "GET", "/api/v1/me/meetings", mm_api_my_meetings, MM_RUN_WORKER },
  { "GET", "/api/v1/rooms/{code}/recordings", mm_api_room_recordings, MM_RUN_WORKER },
  { "GET", "/api/v1/recordings/{id}/file", mm_api_recording_file, MM_RUN_WORKER },
  { "GET", "/api/v1/rooms/{code}/hls/{file}", mm_api_room_hls, MM_RUN_WORKER },

  { "GET", "/api/v1/rooms/{code}/participants/{pid}/events", mm_api_events, MM_RUN_MAIN },
  { "POST", "/api/v1/rooms/{code}/participants/{pid}/messages", mm_api_messages, MM_RUN_MAIN },
  { "POST", "/api/v1/rooms/{code}/participants/{pid}/leave", mm_api_leave, MM_RUN_MAIN },
  { "GET", "/api/v1/rooms/{code}/participants/{pid}/ice-servers", mm_api_ice_servers_get,
    MM_RUN_MAIN },
};

const MmRoute *
mm_api_routes (gsize *n)
{
  *n = G_N_ELEMENTS (routes);
  return routes;
}

MmDbConn *
mm_api_db (MmApp *app, MmRequest *req)
{
  g_autoptr (GError) error = NULL;
  MmDbConn *c;

  if (!g_atomic_int_get (&app->db_ready))
    {
      mm_request_finish_error_literal (req, MM_ERROR_DATABASE_UNAVAILABLE,
                                       "the database is not ready yet");
      return NULL;
    }
  c = mm_db_acquire (app->db, &error);
  if (c == NULL)
    mm_request_finish_error (req, error);
  return c;
}

gboolean
mm_api_over_limit (MmRequest *req, MmThrottle *t, const char *key, const char *what)
{
  gint64 now = g_get_monotonic_time ();
  gint wait_s = 0;

  if (mm_throttle_blocked (t, key, now, &wait_s))
    {
      g_autofree char *retry = g_strdup_printf ("%d", wait_s);

      mm_request_add_header (req, "Retry-After", retry);
      mm_request_finish_errorf (req, MM_ERROR_TOO_MANY_REQUESTS,
                                "too many %s: try again in %d s", what, wait_s);
      return TRUE;
    }
  mm_throttle_fail (t, key, now);
  return FALSE;
}
