/* metrics.c — GET /metrics: the Prometheus text exposition format.
 *
 * Runs on the main loop, which owns the rooms; the process-wide counters
 * (HTTP, media totals) and the database pool are read under their locks.
 * Only the addresses of [metrics] allow, or a request carrying
 * "Authorization: Bearer" with [metrics] token, may read it.
 */
#include "config.h"

#include "api/api.h"
#include "core/error.h"
#include "core/metrics.h"
#include "core/prom.h"
#include "core/secret.h"
#include "store/db.h"
#include "transport/transport.h"

typedef struct {
  const char *code;
  MmMediaVideoStats video;
} RoomRow;

typedef struct {
  const char *code;
  guint receivers[MM_N_TIERS];
  gboolean active[MM_N_TIERS];
} TierRow;

static void
collect_tiers (const char *code, MmMedia *media, gpointer data)
{
  GArray *rows = data;
  TierRow row = { .code = code };

  for (guint t = 0; t < MM_N_TIERS; t++)
    {
      row.receivers[t] = mm_media_tier_receivers (media, t);
      row.active[t] = mm_media_tier_active (media, t);
    }
  g_array_append_val (rows, row);
}

static gint
tier_row_cmp (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (((const TierRow *) a)->code, ((const TierRow *) b)->code);
}

/* Per room and tier: receivers on it, and whether its encoder runs. */
static void
write_tiers (MmProm *p, MmApp *app)
{
  g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (TierRow));

  mm_rooms_foreach_media (app->rooms, collect_tiers, rows);
  g_array_sort (rows, tier_row_cmp);
  mm_prom_family (p, "mixmeet_tier_receivers", "gauge",
                  "Receivers of the composite on each quality tier (docs/tiers.md)");
  for (guint i = 0; i < rows->len; i++)
    for (guint t = 0; t < MM_N_TIERS; t++)
      {
        const TierRow *r = &g_array_index (rows, TierRow, i);

        mm_prom_sample (p, "mixmeet_tier_receivers",
                        (const char *[]) { "room", r->code, "tier", mm_tier_name (t), NULL },
                        r->receivers[t]);
      }
  mm_prom_family (p, "mixmeet_tier_active", "gauge",
                  "1 while a tier of the composite is being encoded");
  for (guint i = 0; i < rows->len; i++)
    for (guint t = 0; t < MM_N_TIERS; t++)
      {
        const TierRow *r = &g_array_index (rows, TierRow, i);

        mm_prom_sample (p, "mixmeet_tier_active",
                        (const char *[]) { "room", r->code, "tier", mm_tier_name (t), NULL },
                        r->active[t] ? 1 : 0);
      }
}

static void
collect_room (const char *code, MmMediaStats *stats, gpointer data)
{
  GArray *rows = data;
  RoomRow row = { .code = code };

  mm_media_stats_read (stats, &row.video);
  g_array_append_val (rows, row);
}

static void
room_row_clear (gpointer data)
{
  RoomRow *row = data;

  mm_histogram_free (row->video.encode_seconds);
}

static gint
room_row_cmp (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (((const RoomRow *) a)->code, ((const RoomRow *) b)->code);
}

typedef enum { FRAMES, ENCODED, KEYFRAMES, FPS, ENCODED_FPS } RoomFigure;

static void
write_rooms (MmProm *p, GArray *rows, const char *name, const char *type, const char *help,
             RoomFigure what)
{
  mm_prom_family (p, name, type, help);
  for (guint i = 0; i < rows->len; i++)
    {
      const RoomRow *r = &g_array_index (rows, RoomRow, i);
      gdouble v = what == FRAMES ? (gdouble) r->video.composite_frames
                  : what == ENCODED ? (gdouble) r->video.encoded_frames
                  : what == KEYFRAMES ? (gdouble) r->video.keyframes
                  : what == FPS ? r->video.composite_fps : r->video.encoded_fps;

      mm_prom_sample (p, name, (const char *[]) { "room", r->code, NULL }, v);
    }
}

static gboolean
allowed (MmApp *app, MmRequest *req)
{
  const char *bearer = mm_request_bearer (req);
  const char *token = app->opts->metrics_token;

  /* By address only when the address is the client's: a request that a
   * proxy we do not trust forwarded comes from the proxy's address (often
   * 127.0.0.1, in the allow list), not from the client's. */
  if (!mm_request_via_untrusted_proxy (req)
      && mm_cidr_list_match_string (app->metrics_allow, mm_request_client_ip (req)))
    return TRUE;
  if (bearer != NULL && token != NULL && *token != '\0')
    {
      g_autofree char *a = mm_secret_hash (bearer);
      g_autofree char *b = mm_secret_hash (token);

      return mm_secret_equal (a, b);
    }
  return FALSE;
}

void
mm_api_metrics (MmApp *app, MmRequest *req)
{
  g_autoptr (MmProm) p = NULL;
  g_autoptr (GArray) rows = g_array_new (FALSE, TRUE, sizeof (RoomRow));
  MmRoomsCounts counts;
  guint in_use = 0, size = 0;
  char *text;
  gsize len;

  if (!allowed (app, req))
    {
      mm_request_finish_error_literal (req, MM_ERROR_FORBIDDEN,
                                       "/metrics is only for the addresses of [metrics] allow "
                                       "or with the [metrics] token");
      return;
    }
  p = mm_prom_new ();
  g_array_set_clear_func (rows, room_row_clear);

  mm_prom_family (p, "mixmeet_build_info", "gauge", "Always 1; the version of mixmeetd");
  mm_prom_sample (p, "mixmeet_build_info", (const char *[]) { "version", PACKAGE_VERSION, NULL },
                  1);

  mm_rooms_counts (app->rooms, &counts);
  mm_prom_single (p, "mixmeet_rooms", "gauge", "Rooms live now (someone is in them)",
                  counts.rooms);
  mm_prom_single (p, "mixmeet_participants", "gauge",
                  "Participants in live meetings (not counting lobbies)", counts.participants);
  mm_prom_single (p, "mixmeet_viewers", "gauge",
                  "Participants whose media connection receives only", counts.viewers);
  mm_prom_single (p, "mixmeet_lobby_participants", "gauge",
                  "People waiting in a lobby to be admitted", counts.lobby);
  mm_prom_single (p, "mixmeet_long_polls_waiting", "gauge",
                  "Events requests (long-polls) waiting for an event now", counts.long_polls);

  /* Polling the rooms' RTP sessions first brings the media totals up to date. */
  mm_rooms_foreach_stats (app->rooms, collect_room, rows);
  g_array_sort (rows, room_row_cmp);
  write_rooms (p, rows, "mixmeet_room_composite_fps", "gauge",
               "Frames per second out of the room's compositor, over the last 5 s", FPS);
  write_rooms (p, rows, "mixmeet_room_encoded_fps", "gauge",
               "Composite frames per second out of the room's encoder, over the last 5 s",
               ENCODED_FPS);
  write_rooms (p, rows, "mixmeet_room_composite_frames_total", "counter",
               "Frames out of the room's compositor", FRAMES);
  write_rooms (p, rows, "mixmeet_room_encoded_frames_total", "counter",
               "Composite frames out of the room's encoder", ENCODED);
  write_rooms (p, rows, "mixmeet_room_keyframes_total", "counter",
               "Keyframes of the room's encoded composite", KEYFRAMES);
  write_tiers (p, app);
  mm_prom_family (p, "mixmeet_room_encode_seconds", "histogram",
                  "Time a composite frame spends in the room's video encoder");
  for (guint i = 0; i < rows->len; i++)
    {
      const RoomRow *r = &g_array_index (rows, RoomRow, i);

      mm_prom_histogram (p, "mixmeet_room_encode_seconds",
                         (const char *[]) { "room", r->code, NULL }, r->video.encode_seconds);
    }
  {
    MmTransportStats ts;
    MmMediaTotals rtp = { 0 };

    mm_transport_get_stats (app->transport, &ts);
    rtp.packets_in = ts.rtp_in;
    rtp.bytes_in = ts.rtp_bytes_in;
    rtp.packets_out = ts.rtp_out;
    rtp.bytes_out = ts.rtp_bytes_out;
    rtp.packets_lost = ts.rtp_lost;
    rtp.pli_received = ts.pli_in;
    rtp.fir_received = ts.fir_in;
    {
      const MmMetricsDrop drops[] = {
        { "unknown", ts.unknown },
        { "stun_refused", ts.stun_refused },
        { "unknown_address", ts.unknown_address },
        { "dtls_bad", ts.dtls_bad },
        { "srtp_auth", ts.srtp_auth },
        { "srtp_replay", ts.srtp_replay },
        { "rtcp_malformed", ts.rtcp_malformed },
        { "send_error", ts.send_errors },
      };

      mm_metrics_write_media (p, &rtp, drops, G_N_ELEMENTS (drops));
    }
    mm_prom_single (p, "mixmeet_transport_endpoints", "gauge",
                    "WebRTC endpoints on the media port", (gdouble) ts.n_endpoints);
  }

  mm_metrics_write_http (p);

  mm_db_pool_stats (app->db, &in_use, &size);
  mm_prom_single (p, "mixmeet_db_pool_connections_in_use", "gauge",
                  "Database connections taken by a request now", in_use);
  mm_prom_single (p, "mixmeet_db_pool_connections", "gauge",
                  "Database connections in the pool ([database] pool-size)", size);
  mm_prom_single (p, "mixmeet_db_ready", "gauge",
                  "1 once the database is reachable and migrated, else 0",
                  g_atomic_int_get (&app->db_ready) ? 1 : 0);

  mm_metrics_write_process (p);

  text = mm_prom_finish (g_steal_pointer (&p), &len);
  mm_request_finish_text (req, 200, MM_PROM_CONTENT_TYPE, text, len);
}
