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
  o->video_bitrate = 1500;
  o->audio_bitrate = 32;
  o->jitter_latency = 40;
  o->keyframe_interval = 500;
  o->ice_addresses = g_strdup ("");
  o->udp_port_min = 0;
  o->udp_port_max = 0;
  o->stun_server = g_strdup ("");
  o->egress_bitrate = 2500;
  o->rtmp_url = g_strdup ("");
  o->turn_server = g_strdup ("");
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
  g_free (o->turn_server);
  g_free (o->rtmp_url);
  g_free (o);
}

typedef enum { KIND_STRING, KIND_INT, KIND_INT64 } Kind;

/* The settings that both the key file and the command line know. */
typedef struct {
  const char *group;
  const char *key;
  Kind kind;
  gsize offset;
} Setting;

#define S(group, key, kind, field) { group, key, kind, G_STRUCT_OFFSET (MmOptions, field) }
static const Setting settings[] = {
  S ("server", "listen", KIND_STRING, listen),
  S ("server", "port", KIND_INT, port),
  S ("server", "web-root", KIND_STRING, web_root),
  S ("server", "data-dir", KIND_STRING, data_dir),
  S ("server", "sql-dir", KIND_STRING, sql_dir),
  S ("server", "log-level", KIND_STRING, log_level),
  S ("server", "workers", KIND_INT, workers),
  S ("server", "max-connections", KIND_INT, max_connections),
  S ("server", "max-body", KIND_INT64, max_body),
  S ("database", "url", KIND_STRING, database_url),
  S ("database", "pool-size", KIND_INT, db_pool_size),
  S ("signalling", "long-poll-timeout", KIND_INT, long_poll_timeout),
  S ("signalling", "presence-timeout", KIND_INT, presence_timeout),
  S ("signalling", "event-backlog", KIND_INT, event_backlog),
  S ("auth", "bcrypt-cost", KIND_INT, bcrypt_cost),
  S ("auth", "token-lifetime", KIND_INT, token_lifetime),
  S ("auth", "login-max-failures", KIND_INT, login_max_failures),
  S ("auth", "login-window", KIND_INT, login_window),
  S ("media", "pipelines-dir", KIND_STRING, pipelines_dir),
  S ("media", "video-width", KIND_INT, video_width),
  S ("media", "video-height", KIND_INT, video_height),
  S ("media", "video-framerate", KIND_INT, video_framerate),
  S ("media", "video-bitrate", KIND_INT, video_bitrate),
  S ("media", "audio-bitrate", KIND_INT, audio_bitrate),
  S ("media", "jitter-latency", KIND_INT, jitter_latency),
  S ("media", "keyframe-interval", KIND_INT, keyframe_interval),
  S ("media", "ice-addresses", KIND_STRING, ice_addresses),
  S ("media", "udp-port-min", KIND_INT, udp_port_min),
  S ("media", "udp-port-max", KIND_INT, udp_port_max),
  S ("media", "stun-server", KIND_STRING, stun_server),
  S ("media", "turn-server", KIND_STRING, turn_server),
  S ("egress", "egress-bitrate", KIND_INT, egress_bitrate),
  S ("egress", "rtmp-url", KIND_STRING, rtmp_url),
};
#undef S

static void
set_string (MmOptions *o, gsize offset, const char *value)
{
  char **field = G_STRUCT_MEMBER_P (o, offset);
  g_free (*field);
  *field = g_strdup (value);
}

static gboolean
set_from_text (MmOptions *o, const Setting *s, const char *text, GError **error)
{
  gint64 v;

  if (s->kind == KIND_STRING)
    {
      set_string (o, s->offset, text);
      return TRUE;
    }
  if (!g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, &v, NULL)
      || (s->kind == KIND_INT && (v < G_MININT || v > G_MAXINT)))
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                   "%s.%s: \"%s\" is not a number", s->group, s->key, text);
      return FALSE;
    }
  if (s->kind == KIND_INT)
    G_STRUCT_MEMBER (gint, o, s->offset) = (gint) v;
  else
    G_STRUCT_MEMBER (gint64, o, s->offset) = v;
  return TRUE;
}

gboolean
mm_options_load_file (MmOptions *o, const char *path, GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();

  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, error))
    {
      g_prefix_error (error, "%s: ", path);
      return FALSE;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (settings); i++)
    {
      g_autofree char *value = NULL;

      if (!g_key_file_has_key (kf, settings[i].group, settings[i].key, NULL))
        continue;
      value = g_key_file_get_string (kf, settings[i].group, settings[i].key, error);
      if (value == NULL)
        return FALSE;
      if (!set_from_text (o, &settings[i], g_strstrip (value), error))
        {
          g_prefix_error (error, "%s: ", path);
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

  if (!check_range ("port", o->port, 0, 65535, error)
      || !check_range ("pool-size", o->db_pool_size, 1, 64, error)
      || !check_range ("workers", o->workers, 1, 256, error)
      || !check_range ("max-connections", o->max_connections, 16, 1000000, error)
      || !check_range ("max-body", o->max_body, 1024, 64 * 1024 * 1024, error)
      || !check_range ("long-poll-timeout", o->long_poll_timeout, 1, 300, error)
      || !check_range ("presence-timeout", o->presence_timeout, 2, 3600, error)
      || !check_range ("event-backlog", o->event_backlog, 16, 100000, error)
      || !check_range ("bcrypt-cost", o->bcrypt_cost, 4, 31, error)
      || !check_range ("token-lifetime", o->token_lifetime, 1, 365 * 24 * 3600, error)
      || !check_range ("login-max-failures", o->login_max_failures, 1, 1000, error)
      || !check_range ("login-window", o->login_window, 1, 24 * 3600, error)
      || !check_range ("video-width", o->video_width, 160, 3840, error)
      || !check_range ("video-height", o->video_height, 90, 2160, error)
      || !check_range ("video-framerate", o->video_framerate, 1, 60, error)
      || !check_range ("video-bitrate", o->video_bitrate, 50, 20000, error)
      || !check_range ("audio-bitrate", o->audio_bitrate, 6, 256, error)
      || !check_range ("egress-bitrate", o->egress_bitrate, 100, 50000, error)
      || !check_range ("jitter-latency", o->jitter_latency, 0, 2000, error)
      || !check_range ("keyframe-interval", o->keyframe_interval, 0, 60000, error)
      || !check_range ("udp-port-min", o->udp_port_min, 0, 65535, error)
      || !check_range ("udp-port-max", o->udp_port_max, 0, 65535, error))
    return FALSE;
  if (o->presence_timeout <= o->long_poll_timeout)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                   "presence-timeout (%d s) must be longer than long-poll-timeout (%d s)",
                   o->presence_timeout, o->long_poll_timeout);
      return FALSE;
    }
  if (o->udp_port_min > o->udp_port_max || (o->udp_port_min == 0) != (o->udp_port_max == 0))
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                   "udp-port-min and udp-port-max must both be set, min <= max (got %d-%d)",
                   o->udp_port_min, o->udp_port_max);
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
      entries[n++] = (GOptionEntry) { name, 0, 0, G_OPTION_ARG_STRING, &cli[i],
                                      NULL, s->kind == KIND_STRING ? "TEXT" : "N" };
    }
  /* Descriptions for the command-line help. */
  for (gsize i = 3; i < n; i++)
    {
      const Setting *s = &settings[i - 3];
      g_autofree char *text = g_strdup_printf ("Setting %s.%s of the config file",
                                               s->group, s->key);
      entries[i].description = g_intern_string (text);
    }

  ctx = g_option_context_new ("- the mixmeet MCU server");
  g_option_context_set_summary (ctx,
      "Serves the mixmeet REST API, long-poll signalling and web client.\n"
      "Settings come from built-in defaults, then --config FILE, then these options.");
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
    if (cli[i] != NULL && !set_from_text (o, &settings[i], cli[i], error))
      {
        ok = FALSE;
        goto out;
      }
  ok = mm_options_validate (o, error);

out:
  for (gsize i = 0; i < G_N_ELEMENTS (settings); i++)
    g_free (cli[i]);
  return ok ? g_steal_pointer (&o) : NULL;
}
