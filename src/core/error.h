/* error.h — the MM_ERROR domain and its mapping to HTTP.
 *
 * Every recoverable error in mixmeetd is a GError in MM_ERROR.  One table
 * (error.c) maps each code to an HTTP status and the stable JSON error code
 * that clients see in {"error": {"code": ..., "message": ...}}.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MM_ERROR (mm_error_quark ())
GQuark mm_error_quark (void);

typedef enum {
  MM_ERROR_INVALID_INPUT,       /* 400 invalid_input */
  MM_ERROR_MALFORMED_JSON,      /* 400 malformed_json */
  MM_ERROR_UNAUTHORIZED,        /* 401 unauthorized */
  MM_ERROR_INVALID_CREDENTIALS, /* 401 invalid_credentials */
  MM_ERROR_INVALID_TOKEN,       /* 401 invalid_token */
  MM_ERROR_FORBIDDEN,           /* 403 forbidden */
  MM_ERROR_GUESTS_NOT_ALLOWED,  /* 403 guests_not_allowed */
  MM_ERROR_ROOM_LOCKED,         /* 403 room_locked */
  MM_ERROR_ROOM_FULL,           /* 403 room_full */
  MM_ERROR_IN_LOBBY,            /* 403 in_lobby */
  MM_ERROR_NOT_FOUND,           /* 404 not_found */
  MM_ERROR_ROOM_NOT_FOUND,      /* 404 room_not_found */
  MM_ERROR_PARTICIPANT_NOT_FOUND, /* 404 participant_not_found */
  MM_ERROR_METHOD_NOT_ALLOWED,  /* 405 method_not_allowed */
  MM_ERROR_EMAIL_TAKEN,         /* 409 email_taken */
  MM_ERROR_CONFLICT,            /* 409 conflict */
  MM_ERROR_PAYLOAD_TOO_LARGE,   /* 413 payload_too_large */
  MM_ERROR_UNSUPPORTED_MEDIA_TYPE, /* 415 unsupported_media_type */
  MM_ERROR_RANGE_NOT_SATISFIABLE, /* 416 range_not_satisfiable */
  MM_ERROR_TOO_MANY_REQUESTS,   /* 429 too_many_requests */
  MM_ERROR_INTERNAL,            /* 500 internal */
  MM_ERROR_DATABASE_UNAVAILABLE, /* 503 database_unavailable */
  MM_ERROR_SHUTTING_DOWN,       /* 503 shutting_down */
  MM_ERROR_SERVER_FULL,         /* 503 server_full */
} MmErrorCode;

/* HTTP status for @code (500 for an unknown one). */
guint mm_error_http_status (gint code);

/* Stable JSON error code for @code, e.g. "email_taken" (transfer none). */
const char *mm_error_json_code (gint code);

G_END_DECLS
