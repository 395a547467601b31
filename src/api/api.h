/* api.h — the REST handlers and the route table (docs/openapi.yaml). */
#pragma once

#include "core/app.h"
#include "core/room.h"
#include "http/request.h"
#include "http/router.h"
#include "store/accounts.h"

G_BEGIN_DECLS

/* The route table.  *@n gets its length.  (transfer none) */
const MmRoute *mm_api_routes (gsize *n);

/* Limits of inputs (characters unless said otherwise). */
#define MM_MAX_NAME 100
#define MM_MAX_EMAIL 254
#define MM_MAX_TITLE 200
#define MM_MAX_DISPLAY_NAME 64
#define MM_MAX_CHAT 2000
#define MM_MAX_SDP 60000
#define MM_MAX_URL 1024
#define MM_CHAT_HISTORY 50
#define MM_HISTORY_MAX 200

/* auth.c */
void mm_api_register (MmApp *app, MmRequest *req);
void mm_api_login (MmApp *app, MmRequest *req);
void mm_api_logout (MmApp *app, MmRequest *req);
void mm_api_me (MmApp *app, MmRequest *req);

/* The signed-in user of @req (worker thread, @c acquired).  With
 * @required FALSE and no Authorization header, TRUE with out->id == 0. */
gboolean mm_api_user (MmDbConn *c, MmRequest *req, gboolean required, MmUser *out,
                      GError **error);

/* rooms.c */
void mm_api_room_create (MmApp *app, MmRequest *req);
void mm_api_room_get (MmApp *app, MmRequest *req);
void mm_api_my_meetings (MmApp *app, MmRequest *req);
void mm_api_room_join (MmApp *app, MmRequest *req);

/* turn.c */
/* The RTCIceServer list a client gets when it joins: the STUN server and
 * the TURN servers of [media] turn-uris with credentials for @who that
 * expire turn-ttl seconds after @now_s.  Returns: (transfer full) */
JsonArray *mm_api_ice_servers (MmApp *app, const char *who, gint64 now_s);
/* GET …/participants/{pid}/ice-servers → {"ice_servers": [...]} (main loop). */
void mm_api_ice_servers_get (MmApp *app, MmRequest *req);
/* Refuse start-up on a turn-uris entry that is not a TURN URI, or TURN
 * URIs without turn-secret. */
gboolean mm_api_turn_check (const MmOptions *opts, GError **error);
/* coturn's use-auth-secret credentials: *@username "EXPIRY:WHO",
 * *@credential base64(HMAC-SHA1(@secret, username)).  Both (transfer full). */
void mm_turn_credentials (const char *secret, const char *who, gint64 expiry, char **username,
                          char **credential);

/* signal.c — main loop */
void mm_api_events (MmApp *app, MmRequest *req);
void mm_api_messages (MmApp *app, MmRequest *req);
void mm_api_leave (MmApp *app, MmRequest *req);
/* The store side of a participant leaving (an MmLeftFunc). */
void mm_api_participant_left (MmApp *app, const char *participant_id, gint64 meeting_id,
                              MmLeftReason reason, gpointer data);

/* recordings.c */
/* HLS playlist and segments of a room, for any player or CDN. */
void mm_api_room_hls (MmApp *app, MmRequest *req);
void mm_api_room_recordings (MmApp *app, MmRequest *req);
void mm_api_recording_file (MmApp *app, MmRequest *req);
/* The store side of a recording starting and finishing (an MmRecordingFunc). */
void mm_api_recording_changed (MmApp *app, const MmRecordingInfo *info, gpointer data);
/* Each meeting of @meetings gets its "recordings", with signed "url"s. */
void mm_api_meetings_add_recordings (MmApp *app, MmDbConn *c, JsonArray *meetings,
                                     GError **error);

/* health.c */
void mm_api_healthz (MmApp *app, MmRequest *req);
void mm_api_readyz (MmApp *app, MmRequest *req);

/* metrics.c — main loop: the Prometheus text format, for the addresses
 * of [metrics] allow or a request with [metrics] token (403 otherwise). */
void mm_api_metrics (MmApp *app, MmRequest *req);

/* Acquire a database connection, or finish @req with 503 and return NULL. */
MmDbConn *mm_api_db (MmApp *app, MmRequest *req);

/* Rate limits ([limits]): if @key has used up its share of @t, finish
 * @req with 429 too_many_requests, a Retry-After and "too many @what",
 * and TRUE; else count this request against it and FALSE. */
gboolean mm_api_over_limit (MmRequest *req, MmThrottle *t, const char *key, const char *what);

G_END_DECLS
