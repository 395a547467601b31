/* options.c — defaults, key file and command line. */
#include "config.h"

#include "core/options.h"
#include "core/error.h"

#include <string.h>

#ifndef MM_DEFAULT_WEB_ROOT
#define MM_DEFAULT_WEB_ROOT "/usr/local/share/mixmeet/www"
#endif
#ifndef MM_DEFAULT_SQL_DIR
#define MM_DEFAULT_SQL_DIR "/usr/local/share/mixmeet/sql"
#endif
#ifndef MM_DEFAULT_PIPELINES_DIR
#define MM_DEFAULT_PIPELINES_DIR "/usr/local/share/mixmeet/pipelines"
#endif
#ifndef MM_DEFAULT_DATA_DIR
#define MM_DEFAULT_DATA_DIR "/usr/local/var/lib/mixmeet"
#endif

MmOptions *
mm_options_new_default (void)
{
  MmOptions *o = g_new0 (MmOptions, 1);

  o->listen = g_strdup ("127.0.0.1");
  o->port = 8080;
  o->database_url = g_strdup ("dbname=mixmeet");
  o->db_pool_size = 4;
  o->web_root = g_strdup (MM_DEFAULT_WEB_ROOT);
  o->data_dir = g_strdup (MM_DEFAULT_DATA_DIR);
  o->sql_dir = g_strdup (MM_DEFAULT_SQL_DIR);
  o->log_level = g_strdup ("message");
  o->workers = 8;
  o->max_connections = 4096;
  o->max_body = 64 * 1024;
  o->long_poll_timeout = 25;
  o->presence_timeout = 40;
  o->event_backlog = 512;
  o->bcrypt_cost = 12;
  o->token_lifetime = 30 * 24 * 3600;
  o->login_max_failures = 5;
  o->login_window = 15 * 60;
  o->pipelines_dir = g_strdup (MM_DEFAULT_PIPELINES_DIR);
  o->video_width = 1280;
  o->video_height = 720;
  o->video_framerate = 30;
  o->video_bitrate = 1200;
  o->medium_height = 360;
  o->medium_framerate = 30;
  o->medium_bitrate = 450;
  o->low_height = 180;
  o->low_framerate = 15;
  o->low_bitrate = 150;
  o->tier_idle_stop = 5;
  o->tier_up_after = 10;
  o->audio_bitrate = 32;
  o->mix_speakers = 3;
  o->jitter_latency = 40;
  o->keyframe_interval = 500;
  o->ice_addresses = g_strdup ("");
  o->media_address = g_strdup ("");
  o->media_port = 10000;
  o->stun_server = g_strdup ("");
  o->egress_bitrate = 2500;
  o->rtmp_url = g_strdup ("");
  o->trusted_proxies = g_strdup ("");
  o->public_ip = g_strdup ("");
  o->turn_uris = g_strdup ("");
  o->turn_secret = g_strdup ("");
  o->turn_ttl = 24 * 3600;
  o->limit_registrations = 20;
  o->limit_rooms = 60;
  o->limit_joins = 300;
  o->limit_chat = 60;
  o->max_meetings = 200;
  o->max_room_participants = 250;
  o->max_viewers = 5000;
  o->max_per_address = 1024;
  o->metrics_allow = g_strdup ("127.0.0.1,::1");
  o->metrics_token = g_strdup ("");
  return o;
}

void
mm_options_free (MmOptions *o)
{
  if (o == NULL)
    return;
  g_free (o->listen);
  g_free (o->database_url);
  g_free (o->web_root);
  g_free (o->data_dir);
  g_free (o->sql_dir);
  g_free (o->log_level);
  g_free (o->port_file);
  g_free (o->pipelines_dir);
  g_free (o->ice_addresses);
  g_free (o->stun_server);
  g_free (o->media_address);
  g_free (o->rtmp_url);
  g_free (o->trusted_proxies);
  g_free (o->public_ip);
  g_free (o->turn_uris);
  g_free (o->turn_secret);
  g_free (o->metrics_allow);
  g_free (o->metrics_token);
  g_free (o);
}

typedef enum { KIND_STRING, KIND_INT, KIND_INT64 } Kind;

/* The settings that both the key file and the command line know, with the
 * range a number must be in and the text --help shows. */
typedef struct {
  const char *group;
  const char *key;
  Kind kind;
  gsize offset;
  gint64 lo, hi;
  const char *help;
} Setting;

#define STR(group, key, field, help) \
  { group, key, KIND_STRING, G_STRUCT_OFFSET (MmOptions, field), 0, 0, help }
#define NUM(group, key, kind, field, lo, hi, help) \
  { group, key, kind, G_STRUCT_OFFSET (MmOptions, field), lo, hi, help }
static const Setting settings[] = {
  STR ("server", "listen", listen,
       "Address to listen on (127.0.0.1; 0.0.0.0 or :: for the network)"),
  NUM ("server", "port", KIND_INT, port, 0, 65535, "TCP port (8080; 0 picks a free one)"),
  STR ("server", "web-root", web_root, "Directory of the built web client"),
  STR ("server", "data-dir", data_dir, "Directory for recordings, HLS segments and state"),
  STR ("server", "sql-dir", sql_dir, "Directory of the schema migrations (NNN_name.sql)"),
  STR ("server", "log-level", log_level,
       "error, critical, warning, message (default), info or debug"),
  NUM ("server", "workers", KIND_INT, workers, 1, 256,
       "Threads for database work and password hashing (8)"),
  NUM ("server", "max-connections", KIND_INT, max_connections, 16, 1000000,
       "HTTP connections at once; each waiting long-poll holds one (4096)"),
  NUM ("server", "max-body", KIND_INT64, max_body, 1024, 64 * 1024 * 1024,
       "Largest request body in bytes; 413 beyond (65536)"),
  STR ("server", "trusted-proxies", trusted_proxies,
       "Comma-separated addresses or CIDR ranges of reverse proxies whose "
       "X-Forwarded-For and X-Forwarded-Proto are believed (none)"),
  STR ("database", "url", database_url, "libpq connection string or URI (dbname=mixmeet)"),
  NUM ("database", "pool-size", KIND_INT, db_pool_size, 1, 64,
       "Database connections in the pool (4)"),
  NUM ("signalling", "long-poll-timeout", KIND_INT, long_poll_timeout, 1, 300,
       "Seconds an events request waits before answering [] (25)"),
  NUM ("signalling", "presence-timeout", KIND_INT, presence_timeout, 2, 3600,
       "Seconds without polling after which a participant is gone (40)"),
  NUM ("signalling", "event-backlog", KIND_INT, event_backlog, 16, 100000,
       "Events kept per participant; a client further behind gets a resync (512)"),
  NUM ("auth", "bcrypt-cost", KIND_INT, bcrypt_cost, 4, 31,
       "bcrypt work factor; 12 takes about 0.2 s per hash (12)"),
  NUM ("auth", "token-lifetime", KIND_INT, token_lifetime, 1, 365 * 24 * 3600,
       "Seconds a login token stays valid (2592000, 30 days)"),
  NUM ("auth", "login-max-failures", KIND_INT, login_max_failures, 1, 1000,
       "Failed logins per e-mail address within login-window before 429 (5)"),
  NUM ("auth", "login-window", KIND_INT, login_window, 1, 24 * 3600,
       "Seconds of the login throttling window (900)"),
  STR ("media", "pipelines-dir", pipelines_dir, "Directory of the GStreamer pipeline descriptions"),
  NUM ("media", "video-width", KIND_INT, video_width, 160, 3840, "Width of the composite (1280)"),
  NUM ("media", "video-height", KIND_INT, video_height, 90, 2160, "Height of the composite (720)"),
  NUM ("media", "video-framerate", KIND_INT, video_framerate, 1, 60,
       "Frames per second of the composite (30)"),
  NUM ("media", "video-bitrate", KIND_INT, video_bitrate, 50, 20000,
       "kbit/s of the composite's VP8: the high tier (1200)"),
  NUM ("media", "audio-bitrate", KIND_INT, audio_bitrate, 6, 256, "kbit/s of each Opus mix (32)"),
  NUM ("media", "mix-speakers", KIND_INT, mix_speakers, 1, MM_MIX_MAX_SPEAKERS,
       "K: the loudest speakers in a room's mix, each hearing the others (3)"),
  NUM ("media", "jitter-latency", KIND_INT, jitter_latency, 0, 2000,
       "Milliseconds buffered by the receive jitter buffers (40)"),
  NUM ("media", "keyframe-interval", KIND_INT, keyframe_interval, 0, 60000,
       "Milliseconds between forced keyframes at most (500)"),
  STR ("media", "ice-addresses", ice_addresses,
       "Comma-separated addresses our ICE candidates announce (those of the bound address)"),
  STR ("media", "address", media_address,
       "Address the media UDP port is bound to (every address)"),
  NUM ("media", "port", KIND_INT, media_port, 0, 65535,
       "The one UDP port of every participant's media: ICE, DTLS and SRTP (10000; 0: any)"),
  STR ("media", "public-ip", public_ip,
       "Address announced to clients in place of the local one, for 1:1 NAT and containers"),
  STR ("media", "stun-server", stun_server,
       "stun://host:port given to clients in the join answer (none)"),
  STR ("media", "turn-uris", turn_uris,
       "Comma-separated TURN URIs given to clients, e.g. "
       "turn:turn.example.com:3478,turns:turn.example.com:443?transport=tcp"),
  STR ("media", "turn-secret", turn_secret,
       "Shared secret of the TURN server (coturn static-auth-secret) for "
       "time-limited client credentials"),
  NUM ("media", "turn-ttl", KIND_INT, turn_ttl, 60, 7 * 24 * 3600,
       "Seconds a client's TURN credentials stay valid (86400)"),
  NUM ("tiers", "medium-height", KIND_INT, medium_height, 0, 2160,
       "Height of the medium tier, the composite scaled down (360; 0: no medium tier)"),
  NUM ("tiers", "medium-framerate", KIND_INT, medium_framerate, 1, 60,
       "Frames per second of the medium tier (30)"),
  NUM ("tiers", "medium-bitrate", KIND_INT, medium_bitrate, 20, 20000,
       "kbit/s of the medium tier's VP8 (450)"),
  NUM ("tiers", "low-height", KIND_INT, low_height, 0, 2160,
       "Height of the low tier (180; 0: no low tier)"),
  NUM ("tiers", "low-framerate", KIND_INT, low_framerate, 1, 60,
       "Frames per second of the low tier (15)"),
  NUM ("tiers", "low-bitrate", KIND_INT, low_bitrate, 20, 20000,
       "kbit/s of the low tier's VP8 (150)"),
  NUM ("tiers", "idle-stop", KIND_INT, tier_idle_stop, 0, 3600,
       "Seconds a tier's encoder keeps running after its last receiver left (5)"),
  NUM ("tiers", "up-after", KIND_INT, tier_up_after, 1, 3600,
       "Seconds a receiver's link must look good before it moves up a tier (10)"),
  NUM ("egress", "egress-bitrate", KIND_INT, egress_bitrate, 100, 50000,
       "kbit/s of the H.264 that HLS and RTMP egress encode (2500)"),
  STR ("egress", "rtmp-url", rtmp_url, "Where an RTMP push goes when the host gives no URL"),
  NUM ("limits", "registrations-per-hour", KIND_INT, limit_registrations, 1, 1000000,
       "Accounts made from one client address per hour; more get 429 (20)"),
  NUM ("limits", "rooms-per-hour", KIND_INT, limit_rooms, 1, 1000000,
       "Rooms made by one account per hour; more get 429 (60)"),
  NUM ("limits", "joins-per-minute", KIND_INT, limit_joins, 1, 1000000,
       "Joins from one client address per minute (everyone behind one NAT shares "
       "them); more get 429 (300)"),
  NUM ("limits", "chat-per-minute", KIND_INT, limit_chat, 1, 100000,
       "Chat messages of one participant per minute; more get 429 (60)"),
  NUM ("limits", "meetings", KIND_INT, max_meetings, 1, 1000000,
       "Rooms with a meeting on at once; a join that would start one more gets 503 (200)"),
  NUM ("limits", "room-participants", KIND_INT, max_room_participants, 1, 100000,
       "People in one room, a lecture's viewers aside; one more gets 403 room_full (250)"),
  NUM ("limits", "viewers", KIND_INT, max_viewers, 1, 10000000,
       "Viewers of lectures in all rooms at once; one more gets 503 (5000)"),
  NUM ("server", "max-connections-per-address", KIND_INT, max_per_address, 0, 1000000,
       "HTTP connections from one address at once; more are closed at once (1024; 0: "
       "none; trusted-proxies are not limited)"),
  STR ("metrics", "allow", metrics_allow,
       "Comma-separated addresses or CIDR ranges that may read /metrics (127.0.0.1,::1)"),
  STR ("metrics", "token", metrics_token,
       "Bearer token that may read /metrics from any address (none)"),
};
#undef STR
#undef NUM

static void
set_string (MmOptions *o, gsize offset, const char *value)
{
  char **field = G_STRUCT_MEMBER_P (o, offset);
  g_free (*field);
  *field = g_strdup (value);
}

/* Set @s from @text.  The error names the setting as @where says it
 * ("FILE:LINE: [group] key" or "--key"). */
static gboolean
set_from_text (MmOptions *o, const Setting *s, const char *text, const char *where,
               GError **error)
{
  gint64 v;

  if (s->kind == KIND_STRING)
    {
      if (strlen (text) > 4096)
        {
          g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                       "%s: the value is longer than 4096 bytes", where);
          return FALSE;
        }
      set_string (o, s->offset, text);
      return TRUE;
    }
  if (!g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, &v, NULL))
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                   "%s: \"%s\" is not a number", where, text);
      return FALSE;
    }
  if (v < s->lo || v > s->hi)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                   "%s: %" G_GINT64_FORMAT " is out of range (%" G_GINT64_FORMAT
                   " to %" G_GINT64_FORMAT ")", where, v, s->lo, s->hi);
      return FALSE;
    }
  if (s->kind == KIND_INT)
    G_STRUCT_MEMBER (gint, o, s->offset) = (gint) v;
  else
    G_STRUCT_MEMBER (gint64, o, s->offset) = v;
  return TRUE;
}

static const Setting *
find_setting (const char *group, const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS (settings); i++)
    if (g_str_equal (settings[i].group, group) && g_str_equal (settings[i].key, key))
      return &settings[i];
  return NULL;
}

/* The line of @text on which [@group] (@key NULL) or @key in [@group]
 * appears, or 0.  GKeyFile keeps no line numbers, so look again. */
static guint
line_of (const char *text, const char *group, const char *key)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  gboolean in_group = FALSE;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *line = g_strstrip (lines[i]);
      gsize n;

      if (*line == '[')
        {
          char *close = strchr (line, ']');

          if (close == NULL)
            continue;
          *close = '\0';
          in_group = g_str_equal (line + 1, group);
          if (in_group && key == NULL)
            return i + 1;
          continue;
        }
      if (!in_group || key == NULL || *line == '#')
        continue;
      n = strlen (key);
      if (strncmp (line, key, n) == 0 && (line[n] == '=' || line[n] == ' ' || line[n] == '\t'))
        return i + 1;
    }
  return 0;
}

/* Does the raw value of @key in [@group] use only the escapes GKeyFile
 * reads in a string (\s \n \t \r \\)? */
static gboolean
valid_escapes (GKeyFile *kf, const char *group, const char *key)
{
  g_autofree char *raw = g_key_file_get_value (kf, group, key, NULL);

  if (raw == NULL)
    return FALSE;
  for (const char *p = raw; *p != '\0'; p++)
    if (*p == '\\' && (*++p == '\0' || strchr ("sntr\\", *p) == NULL))
      return FALSE;
  return TRUE;
}

gboolean
mm_options_load_file (MmOptions *o, const char *path, GError **error)
{
  g_autofree char *text = NULL;
  gsize len;

  if (!g_file_get_contents (path, &text, &len, error))
    return FALSE;   /* GLib's message names the file */
  return mm_options_load_data (o, text, len, path, error);
}

gboolean
mm_options_load_data (MmOptions *o, const char *text, gsize len, const char *path,
                      GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_auto (GStrv) groups = NULL;

  if (!g_key_file_load_from_data (kf, text, len, G_KEY_FILE_NONE, error))
    {
      g_prefix_error (error, "%s: ", path);
      return FALSE;
    }
  /* Every section and key must be one we know: a misspelt setting that is
   * silently ignored is worse than a server that refuses to start. */
  groups = g_key_file_get_groups (kf, NULL);
  for (guint g = 0; groups[g] != NULL; g++)
    {
      g_auto (GStrv) keys = g_key_file_get_keys (kf, groups[g], NULL, NULL);
      gboolean known_group = FALSE;

      for (gsize i = 0; i < G_N_ELEMENTS (settings); i++)
        known_group |= g_str_equal (settings[i].group, groups[g]);
      if (!known_group)
        {
          g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                       "%s:%u: unknown section [%s]", path,
                       line_of (text, groups[g], NULL), groups[g]);
          return FALSE;
        }
      for (guint k = 0; keys != NULL && keys[k] != NULL; k++)
        {
          const Setting *s = find_setting (groups[g], keys[k]);
          g_autofree char *where = g_strdup_printf ("[%s] %s", groups[g], keys[k]);
          g_autofree char *value = NULL;
          GError *read_error = NULL;

          /* GKeyFile can return a value and set an error for it (an
           * escape it cannot read), or set one error over another (several
           * in a line): escapes are checked first, and either is a value
           * it could not read. */
          if (s != NULL && valid_escapes (kf, groups[g], keys[k]))
            value = g_key_file_get_string (kf, groups[g], keys[k], &read_error);
          if (s == NULL)
            g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT, "%s: unknown setting", where);
          else if (value == NULL && read_error == NULL)
            g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                         "%s: a backslash must begin \\s, \\n, \\t, \\r or \\\\", where);
          else if (value == NULL || read_error != NULL)
            {
              g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT, "%s: %s", where,
                           read_error != NULL ? read_error->message : "cannot be read");
              g_clear_error (&read_error);
            }
          else if (set_from_text (o, s, g_strstrip (value), where, error))
            continue;
          /* The line is looked for only to say where the error is. */
          g_prefix_error (error, "%s:%u: ", path, line_of (text, groups[g], keys[k]));
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
check_range (const char *name, gint64 v, gint64 lo, gint64 hi, GError **error)
{
  if (v >= lo && v <= hi)
    return TRUE;
  g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
               "%s must be between %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT
               " (got %" G_GINT64_FORMAT ")", name, lo, hi, v);
  return FALSE;
}

gboolean
mm_options_validate (const MmOptions *o, GError **error)
{
  static const char *levels[] = { "error", "critical", "warning", "message", "info", "debug", NULL };

  for (gsize i = 0; i < G_N_ELEMENTS (settings); i++)
    {
      const Setting *s = &settings[i];
      gint64 v;

      if (s->kind == KIND_STRING)
        continue;
      v = s->kind == KIND_INT ? G_STRUCT_MEMBER (gint, o, s->offset)
                              : G_STRUCT_MEMBER (gint64, o, s->offset);
      if (!check_range (s->key, v, s->lo, s->hi, error))
        return FALSE;
    }
  if (o->presence_timeout <= o->long_poll_timeout)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                   "presence-timeout (%d s) must be longer than long-poll-timeout (%d s)",
                   o->presence_timeout, o->long_poll_timeout);
      return FALSE;
    }
  if ((o->medium_height != 0 && o->medium_height >= o->video_height)
      || (o->low_height != 0 && o->low_height >= (o->medium_height != 0 ? o->medium_height
                                                                         : o->video_height)))
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                   "the tiers must get smaller: video-height %d > medium-height %d > "
                   "low-height %d (0 leaves a tier out)",
                   o->video_height, o->medium_height, o->low_height);
      return FALSE;
    }
  if (!g_strv_contains (levels, o->log_level))
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                   "log-level must be one of error, critical, warning, message, info, debug (got \"%s\")",
                   o->log_level);
      return FALSE;
    }
  if (o->listen == NULL || *o->listen == '\0')
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INVALID_INPUT, "listen must not be empty");
      return FALSE;
    }
  return TRUE;
}

MmOptions *
mm_options_parse (int *argc, char ***argv, gboolean *exit_now, GError **error)
{
  g_autoptr (MmOptions) o = mm_options_new_default ();
  g_autoptr (GOptionContext) ctx = NULL;
  g_autofree char *config = NULL;
  gboolean version = FALSE;
  /* Command-line values, kept as text until the key file has been read. */
  char *cli[G_N_ELEMENTS (settings)] = { NULL };
  GOptionEntry entries[G_N_ELEMENTS (settings) + 4];
  gsize n = 0;
  gboolean ok = TRUE;

  *exit_now = FALSE;
  memset (entries, 0, sizeof entries);
  entries[n++] = (GOptionEntry) { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config,
                                  "Read settings from FILE (GKeyFile)", "FILE" };
  entries[n++] = (GOptionEntry) { "version", 'V', 0, G_OPTION_ARG_NONE, &version,
                                  "Print the version and exit", NULL };
  entries[n++] = (GOptionEntry) { "port-file", 0, 0, G_OPTION_ARG_FILENAME, &o->port_file,
                                  "Write the bound port to FILE once listening", "FILE" };
  for (gsize i = 0; i < G_N_ELEMENTS (settings); i++)
    {
      const Setting *s = &settings[i];
      const char *name = s->key;

      if (g_str_equal (s->group, "database"))
        name = g_str_equal (s->key, "url") ? "database" : "db-pool-size";
      else if (g_str_equal (s->group, "metrics") || g_str_equal (s->group, "limits")
               || (g_str_equal (s->group, "media")
                   && (g_str_equal (s->key, "port") || g_str_equal (s->key, "address"))))
        {
          g_autofree char *full = g_strconcat (s->group, "-", s->key, NULL);

          name = g_intern_string (full);
        }
      entries[n++] = (GOptionEntry) { name, 0, 0, G_OPTION_ARG_STRING, &cli[i],
                                      NULL, s->kind == KIND_STRING ? "TEXT" : "N" };
    }
  /* Descriptions for the command-line help: what it does, and where it
   * lives in the config file. */
  for (gsize i = 3; i < n; i++)
    {
      const Setting *s = &settings[i - 3];
      g_autofree char *text = g_strdup_printf ("%s [%s] %s", s->help, s->group, s->key);
      entries[i].description = g_intern_string (text);
    }

  ctx = g_option_context_new ("- the mixmeet MCU server");
  g_option_context_set_summary (ctx,
      "Serves the mixmeet REST API, long-poll signalling and web client.\n"
      "Settings come from built-in defaults, then --config FILE, then these options;\n"
      "each option is also a key of the config file, in the [section] shown.\n"
      "An unknown key or a value out of range stops start-up with a message naming it.");
  g_option_context_set_description (ctx,
      "See mixmeetd(8) and the installed mixmeetd.conf for every setting.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, argc, argv, error))
    {
      ok = FALSE;
      goto out;
    }
  if (version)
    {
      g_print ("mixmeetd %s\n", PACKAGE_VERSION);
      *exit_now = TRUE;
      ok = FALSE;
      goto out;
    }
  if (config != NULL && !mm_options_load_file (o, config, error))
    {
      ok = FALSE;
      goto out;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (settings); i++)
    if (cli[i] != NULL)
      {
        g_autofree char *where = g_strdup_printf ("--%s", entries[i + 3].long_name);

        if (!set_from_text (o, &settings[i], cli[i], where, error))
          {
            ok = FALSE;
            goto out;
          }
      }
  ok = mm_options_validate (o, error);

out:
  for (gsize i = 0; i < G_N_ELEMENTS (settings); i++)
    g_free (cli[i]);
  return ok ? g_steal_pointer (&o) : NULL;
}

guint
mm_options_n_settings (void)
{
  return G_N_ELEMENTS (settings);
}
