/* room.h — rooms and participants in memory, with their signalling queues.
 *
 * Main loop only.  A room exists in memory while it has participants; the
 * database keeps the durable record (store/).  Each participant has an
 * ordered event queue read by long-polls; events about the room are pushed
 * to every participant's queue.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "core/app.h"
#include "core/queue.h"
#include "http/request.h"
#include "media/egress.h"
#include "media/stats.h"
#include "media/media.h"
#include "media/tiers.h"

G_BEGIN_DECLS

typedef struct _MmRoom MmRoom;
typedef struct _MmParticipant MmParticipant;

typedef enum {
  MM_LEFT_LEFT,      /* asked to leave */
  MM_LEFT_TIMEOUT,   /* stopped polling for the presence timeout */
  MM_LEFT_REMOVED,   /* removed by the host */
  MM_LEFT_SHUTDOWN,  /* the server stopped */
  MM_LEFT_DENIED,    /* turned away from the lobby by the host */
} MmLeftReason;

const char *mm_left_reason_name (MmLeftReason reason);

/* Called on the main loop after a participant left (for the store). */
typedef void (*MmLeftFunc) (MmApp *app, const char *participant_id, gint64 meeting_id,
                            MmLeftReason reason, gpointer data);

/* A recording as the store keeps it: told when it starts (@ended_at_ms 0)
 * and again when its file is finished. */
typedef struct {
  const char *file;            /* base name in the recordings directory */
  gint64 room_id;
  gint64 meeting_id;
  gint64 user_id;              /* who started it; 0 for none */
  const char *started_by_name;
  gint64 started_at_ms;        /* wall clock */
  gint64 ended_at_ms;          /* wall clock; 0 while recording */
  gint64 duration_ms;          /* of media, first to last frame */
  gint64 bytes;
  gboolean interrupted;        /* it stopped on an error (a full disk) */
} MmRecordingInfo;

/* Called on the main loop (for the store). */
typedef void (*MmRecordingFunc) (MmApp *app, const MmRecordingInfo *info, gpointer data);

MmRooms *mm_rooms_new (MmApp *app, MmLeftFunc on_left, MmRecordingFunc on_recording,
                       gpointer data);
void mm_rooms_free (MmRooms *rooms);

typedef struct {
  const char *code;
  gint64 room_id;
  gint64 meeting_id;
  gint64 host_user_id;
  const char *title;
  const char *mode;
  const char *participant_id;
  const char *display_name;
  const char *role;           /* host, participant, guest */
  gint64 user_id;             /* 0 for a guest */
  const char *secret_hash;
  gboolean waiting;           /* into the lobby, until the host admits them */
  MmQuality quality;          /* what it receives (media/tiers.h) */
  gboolean viewer;            /* reserved as a lecture's viewer (mm_rooms_reserve) */
} MmJoinInfo;

/* Any thread: a place for one more in @code's meeting, within [limits]
 * meetings (rooms with a meeting on), room-participants (in the room,
 * a lecture's viewers aside) and viewers (of every lecture); @viewer:
 * one of a lecture's viewers.  FALSE with MM_ERROR_ROOM_FULL or
 * MM_ERROR_SERVER_FULL.  The place is the joined participant's until it
 * leaves; mm_rooms_unreserve gives back one that was not used. */
gboolean mm_rooms_reserve (MmRooms *rooms, const char *code, gboolean viewer, GError **error);
void mm_rooms_unreserve (MmRooms *rooms, const char *code, gboolean viewer);

/* Add a participant (creating the room if needed) and tell the others; or,
 * with info->waiting, put them in the lobby and tell the hosts ("knock"
 * and "lobby" events).
 * Returns: (transfer none) */
MmParticipant *mm_rooms_join (MmRooms *rooms, const MmJoinInfo *info);

/* The participant @id of room @code if @secret is its secret; else NULL
 * with MM_ERROR_PARTICIPANT_NOT_FOUND or MM_ERROR_FORBIDDEN.
 * Returns: (transfer none) */
MmParticipant *mm_rooms_authorize (MmRooms *rooms, const char *code, const char *id,
                                   const char *secret, GError **error);

/* The participant @id of live room @code, without a secret (for work that
 * was authorised earlier and comes back from a worker), or NULL.
 * Returns: (transfer none) */
MmParticipant *mm_rooms_authorize_id (MmRooms *rooms, const char *code, const char *id);

/* Remove @p, tell the others, end its waiting long-polls (404
 * participant_not_found). */
void mm_rooms_leave (MmRooms *rooms, MmParticipant *p, MmLeftReason reason);

/* Answer @req with events after @since, at once or when one arrives, or an
 * empty list after @timeout_s.  Marks @p as present. */
void mm_participant_poll (MmParticipant *p, MmRequest *req, guint64 since, guint timeout_s);

/* Push an event to every participant of @p's room (including @p). */
void mm_participant_broadcast (MmParticipant *p, const char *type, JsonObject *fields);

/* The participant as clients see it.  Returns: (transfer full) */
JsonNode *mm_participant_to_json (MmParticipant *p);
/* Every participant of @p's room, in join order.  Returns: (transfer full) */
JsonNode *mm_participant_room_members (MmParticipant *p);

/* Update mute/hand/presenting state; a NULL pointer leaves that one as it
 * is.  @presenting FALSE hides the participant's shared screen (a client
 * that stops sharing without renegotiating), TRUE shows it again. */
void mm_participant_set_state (MmParticipant *p, const gboolean *hand_raised,
                               const gboolean *audio_muted, const gboolean *video_muted,
                               const gboolean *presenting);

/* Media: the participant's SDP offer (starting the room's pipeline if
 * needed), a remote ICE candidate, host controls. */
gboolean mm_participant_offer (MmParticipant *p, const char *sdp, GError **error);
gboolean mm_participant_ice (MmParticipant *p, guint mline, const char *candidate, GError **error);
gboolean mm_participant_is_host (MmParticipant *p);
/* @host mutes @target_id's audio in every mix (it may unmute itself). */
gboolean mm_participant_host_mute (MmParticipant *host, const char *target_id, GError **error);
gboolean mm_participant_set_layout (MmParticipant *p, const char *name, GError **error);
/* What @p receives of the composite: "auto", "high", "data-saver" or
 * "audio-only" (media/tiers.h); an unknown name is MM_ERROR_INVALID_INPUT. */
gboolean mm_participant_set_quality (MmParticipant *p, const char *name, GError **error);
/* Host only: the best tier ("high", "medium", "low", "audio-only") a
 * lecture's viewers receive; told to everyone in a "room" event. */
gboolean mm_participant_set_viewer_cap (MmParticipant *host, const char *name, GError **error);
/* The room's viewer cap by name ("high" when none or no such room). */
const char *mm_rooms_viewer_cap (MmRooms *rooms, const char *code);
/* For a host, what each receiver gets now (tier, estimate, loss); for
 * anyone else an empty array.  Returns: (transfer full) */
JsonNode *mm_participant_receivers (MmParticipant *p);

const char *mm_participant_id (MmParticipant *p);
const char *mm_participant_display_name (MmParticipant *p);
gint64 mm_participant_room_id (MmParticipant *p);
gint64 mm_participant_meeting_id (MmParticipant *p);
guint64 mm_participant_last_seq (MmParticipant *p);

/* Is @p waiting in the lobby? */
gboolean mm_participant_is_waiting (MmParticipant *p);
/* Was @p denied or removed?  Then it may only read its last events. */
gboolean mm_participant_is_closed (MmParticipant *p);

/* Host controls.  The target is a participant id of the host's room. */
/* Admit from the lobby: the room is told (participant-joined), the target
 * gets "admitted" with the members and @chat (recent messages; transfer
 * full). */
gboolean mm_participant_admit (MmParticipant *host, const char *target_id, JsonNode *chat,
                               GError **error);
/* Turn away from the lobby: the target gets "denied" and is gone. */
gboolean mm_participant_deny (MmParticipant *host, const char *target_id, GError **error);
/* Remove from the meeting: the target gets "removed", its media ends, the
 * others get participant-left with reason "removed". */
gboolean mm_participant_remove (MmParticipant *host, const char *target_id, GError **error);
/* In a lecture room: make @target_id a presenter (who may send media) or a
 * viewer again (its media leaves the composite and the mixes).  Everyone
 * gets participant-state with "presenter" and "can_publish". */
gboolean mm_participant_set_presenter (MmParticipant *host, const char *target_id,
                                       gboolean presenter, GError **error);
/* Start or stop recording the room's composite and full mix into the data
 * directory's recordings/ (WebM).  Everyone gets "recording" events: on
 * (with the file name and who started it), and off once the file is
 * finished (with its size and duration). */
gboolean mm_participant_set_recording (MmParticipant *host, gboolean on, GError **error);
/* The host turns HLS (@url unused) or an RTMP push to @url (NULL: the
 * configured rtmp-url) on or off; "egress" events tell everyone. */
gboolean mm_participant_set_egress (MmParticipant *host, MmEgressKind kind, gboolean on,
                                    const char *url, GError **error);
/* Lock or unlock the meeting: while locked only the host may join.  The
 * room is told ("room" event). */
gboolean mm_participant_set_locked (MmParticipant *host, gboolean locked, GError **error);

/* Is live room @code being recorded?  Main loop. */
gboolean mm_rooms_is_recording (MmRooms *rooms, const char *code);
/* Is live room @code locked?  Any thread. */
gboolean mm_rooms_is_locked (MmRooms *rooms, const char *code);

/* Push an event to everyone in room @code, if it is live. */
void mm_rooms_broadcast (MmRooms *rooms, const char *code, const char *type, JsonObject *fields);

/* Find a live room by code.  (transfer none) */
MmRoom *mm_rooms_lookup (MmRooms *rooms, const char *code);
guint mm_room_n_participants (MmRoom *room);
guint mm_rooms_n_waiting (MmRooms *rooms);

/* What is live now, for /metrics.  Main loop. */
typedef struct {
  guint rooms;          /* rooms in memory (someone is in them) */
  guint participants;   /* in the meetings, not in a lobby */
  guint viewers;        /* of those, connected to receive only */
  guint lobby;          /* waiting in a lobby */
  guint long_polls;     /* events requests waiting for an event */
} MmRoomsCounts;
void mm_rooms_counts (MmRooms *rooms, MmRoomsCounts *out);

/* Call @func for each live room whose media runs, with the media
 * (transfer none).  Main loop. */
typedef void (*MmRoomMediaFunc) (const char *code, MmMedia *media, gpointer data);
void mm_rooms_foreach_media (MmRooms *rooms, MmRoomMediaFunc func, gpointer data);

/* Call @func for each live room whose media runs, with its figures
 * (transfer none).  Main loop. */
typedef void (*MmRoomStatsFunc) (const char *code, MmMediaStats *stats, gpointer data);
void mm_rooms_foreach_stats (MmRooms *rooms, MmRoomStatsFunc func, gpointer data);

/* Answer every waiting long-poll with an empty list; polls that come
 * after get 503 shutting_down. */
void mm_rooms_shutdown (MmRooms *rooms);

G_END_DECLS
