/* error.c — the single table from MmErrorCode to HTTP. */
#include "config.h"

#include "core/error.h"

G_DEFINE_QUARK (mm-error-quark, mm_error)

static const struct {
  MmErrorCode code;
  guint status;
  const char *json_code;
} error_table[] = {
  { MM_ERROR_INVALID_INPUT, 400, "invalid_input" },
  { MM_ERROR_MALFORMED_JSON, 400, "malformed_json" },
  { MM_ERROR_UNAUTHORIZED, 401, "unauthorized" },
  { MM_ERROR_INVALID_CREDENTIALS, 401, "invalid_credentials" },
  { MM_ERROR_INVALID_TOKEN, 401, "invalid_token" },
  { MM_ERROR_FORBIDDEN, 403, "forbidden" },
  { MM_ERROR_GUESTS_NOT_ALLOWED, 403, "guests_not_allowed" },
  { MM_ERROR_ROOM_LOCKED, 403, "room_locked" },
  { MM_ERROR_ROOM_FULL, 403, "room_full" },
  { MM_ERROR_IN_LOBBY, 403, "in_lobby" },
  { MM_ERROR_NOT_FOUND, 404, "not_found" },
  { MM_ERROR_ROOM_NOT_FOUND, 404, "room_not_found" },
  { MM_ERROR_PARTICIPANT_NOT_FOUND, 404, "participant_not_found" },
  { MM_ERROR_METHOD_NOT_ALLOWED, 405, "method_not_allowed" },
  { MM_ERROR_EMAIL_TAKEN, 409, "email_taken" },
  { MM_ERROR_CONFLICT, 409, "conflict" },
  { MM_ERROR_PAYLOAD_TOO_LARGE, 413, "payload_too_large" },
  { MM_ERROR_UNSUPPORTED_MEDIA_TYPE, 415, "unsupported_media_type" },
  { MM_ERROR_RANGE_NOT_SATISFIABLE, 416, "range_not_satisfiable" },
  { MM_ERROR_TOO_MANY_REQUESTS, 429, "too_many_requests" },
  { MM_ERROR_INTERNAL, 500, "internal" },
  { MM_ERROR_DATABASE_UNAVAILABLE, 503, "database_unavailable" },
  { MM_ERROR_SHUTTING_DOWN, 503, "shutting_down" },
  { MM_ERROR_SERVER_FULL, 503, "server_full" },
};

guint
mm_error_http_status (gint code)
{
  for (gsize i = 0; i < G_N_ELEMENTS (error_table); i++)
    if ((gint) error_table[i].code == code)
      return error_table[i].status;
  return 500;
}

const char *
mm_error_json_code (gint code)
{
  for (gsize i = 0; i < G_N_ELEMENTS (error_table); i++)
    if ((gint) error_table[i].code == code)
      return error_table[i].json_code;
  return "internal";
}
