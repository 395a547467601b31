/* turn.c — the ICE servers a client is given when it joins: the STUN
 * server, and the TURN servers with credentials of its own that expire,
 * made as coturn's use-auth-secret expects (the "TURN REST API"):
 * username "EXPIRY:WHO", password base64(HMAC-SHA1(secret, username)). */
#include "config.h"

#include "api/api.h"
#include "core/error.h"
#include "core/room.h"

#include <string.h>

void
mm_turn_credentials (const char *secret, const char *who, gint64 expiry, char **username,
                     char **credential)
{
  g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA1, (const guchar *) secret, strlen (secret));
  guint8 digest[20];
  gsize len = sizeof digest;

  *username = g_strdup_printf ("%" G_GINT64_FORMAT ":%s", expiry, who);
  g_hmac_update (hmac, (const guchar *) *username, -1);
  g_hmac_get_digest (hmac, digest, &len);
  *credential = g_base64_encode (digest, len);
}

/* The URIs of [media] turn-uris, trimmed, empty ones dropped.
 * Returns: (transfer full) */
static GStrv
turn_uris (const MmOptions *opts)
{
  g_auto (GStrv) items = g_strsplit (opts->turn_uris, ",", -1);
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();

  for (guint i = 0; items[i] != NULL; i++)
    if (*g_strstrip (items[i]) != '\0')
      g_strv_builder_add (b, items[i]);
  return g_strv_builder_end (b);
}

gboolean
mm_api_turn_check (const MmOptions *opts, GError **error)
{
  g_auto (GStrv) uris = turn_uris (opts);

  for (guint i = 0; uris[i] != NULL; i++)
    if (!g_str_has_prefix (uris[i], "turn:") && !g_str_has_prefix (uris[i], "turns:"))
      {
        g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                     "[media] turn-uris: \"%s\" is not a TURN URI "
                     "(turn:HOST:PORT or turns:HOST:PORT, optionally ?transport=udp|tcp)",
                     uris[i]);
        return FALSE;
      }
  if (uris[0] != NULL && *opts->turn_secret == '\0')
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                           "[media] turn-uris needs turn-secret (the TURN server's "
                           "static-auth-secret) to make the clients' credentials");
      return FALSE;
    }
  return TRUE;
}

JsonArray *
mm_api_ice_servers (MmApp *app, const char *who, gint64 now_s)
{
  const MmOptions *opts = app->opts;
  JsonArray *servers = json_array_new ();
  g_auto (GStrv) uris = turn_uris (opts);
  const char *stun = opts->stun_server;

  if (*stun != '\0')
    {
      JsonObject *s = json_object_new ();
      JsonArray *urls = json_array_new ();
      /* stun://host:port → stun:host:port, as browsers write it. */
      g_autofree char *url = g_str_has_prefix (stun, "stun://")
                               ? g_strconcat ("stun:", stun + 7, NULL) : g_strdup (stun);

      json_array_add_string_element (urls, url);
      json_object_set_array_member (s, "urls", urls);
      json_array_add_object_element (servers, s);
    }
  if (uris[0] != NULL && *opts->turn_secret != '\0')
    {
      JsonObject *s = json_object_new ();
      JsonArray *urls = json_array_new ();
      g_autofree char *username = NULL;
      g_autofree char *credential = NULL;

      for (guint i = 0; uris[i] != NULL; i++)
        json_array_add_string_element (urls, uris[i]);
      mm_turn_credentials (opts->turn_secret, who, now_s + opts->turn_ttl, &username,
                           &credential);
      json_object_set_array_member (s, "urls", urls);
      json_object_set_string_member (s, "username", username);
      json_object_set_string_member (s, "credential", credential);
      json_array_add_object_element (servers, s);
    }
  return servers;
}

/* GET …/participants/{pid}/ice-servers (main loop): fresh credentials for
 * a participant whose connection outlives those of its join answer. */
void
mm_api_ice_servers_get (MmApp *app, MmRequest *req)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) o = json_object_new ();
  MmParticipant *p = mm_rooms_authorize (app->rooms, mm_request_param (req, "code"),
                                         mm_request_param (req, "pid"),
                                         mm_request_bearer (req), &error);
  JsonNode *node;

  if (p != NULL && mm_participant_is_closed (p))
    {
      g_set_error_literal (&error, MM_ERROR, MM_ERROR_PARTICIPANT_NOT_FOUND,
                           "this participant has left the room");
      p = NULL;
    }
  if (p == NULL)
    {
      mm_request_finish_error (req, error);
      return;
    }
  json_object_set_array_member (o, "ice_servers",
                                mm_api_ice_servers (app, mm_participant_id (p),
                                                    g_get_real_time () / G_USEC_PER_SEC));
  node = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (node, o);
  mm_request_finish_json (req, 200, node);
}
