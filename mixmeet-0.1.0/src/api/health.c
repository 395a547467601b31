/* health.c — liveness and readiness. */
#include "config.h"

#include "api/api.h"
#include "core/error.h"
#include "store/db.h"

void
mm_api_healthz (MmApp *app, MmRequest *req)
{
  mm_request_finish_json_text (req, 200, g_strdup ("{\"status\":\"ok\"}"));
}

void
mm_api_readyz (MmApp *app, MmRequest *req)
{
  g_autoptr (GError) error = NULL;

  if (!g_atomic_int_get (&app->db_ready))
    {
      mm_request_finish_error_literal (req, MM_ERROR_DATABASE_UNAVAILABLE,
                                       "the database is not ready yet (connecting or migrating)");
      return;
    }
  if (!mm_db_ping (app->db, &error))
    {
      mm_request_finish_error (req, error);
      return;
    }
  mm_request_finish_json_text (req, 200, g_strdup ("{\"status\":\"ready\"}"));
}
