/* main.c — mixmeetd: options, start-up, the main loop, clean shutdown. */
#include "config.h"

#include "api/api.h"
#include "core/app.h"
#include "core/error.h"
#include "core/options.h"
#include "core/room.h"
#include "core/secret.h"
#include "http/server.h"
#include "media/media.h"
#include "transport/srtp.h"
#include <string.h>
#include "transport/transport.h"
#include "store/db.h"
#include "store/meetings.h"
#include "store/migrate.h"
#include "store/recordings.h"

#include <glib-unix.h>
#include <gst/gst.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>

static GLogLevelFlags max_level = G_LOG_LEVEL_MESSAGE;

static GLogWriterOutput
write_log (GLogLevelFlags level, const GLogField *fields, gsize n, gpointer data)
{
  const char *domain = NULL, *message = NULL, *name;
  g_autofree char *stamp = NULL;

  if ((level & G_LOG_LEVEL_MASK) > max_level && !(level & G_LOG_FLAG_FATAL))
    return G_LOG_WRITER_HANDLED;
  /* Under systemd: structured entries (the journal adds the time). */
  if (GPOINTER_TO_INT (data)
      && g_log_writer_journald (level, fields, n, NULL) == G_LOG_WRITER_HANDLED)
    return G_LOG_WRITER_HANDLED;
  for (gsize i = 0; i < n; i++)
    {
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
        domain = fields[i].value;
      else if (g_str_equal (fields[i].key, "MESSAGE"))
        message = fields[i].value;
    }
  switch (level & G_LOG_LEVEL_MASK)
    {
    case G_LOG_LEVEL_ERROR: name = "error"; break;
    case G_LOG_LEVEL_CRITICAL: name = "critical"; break;
    case G_LOG_LEVEL_WARNING: name = "warning"; break;
    case G_LOG_LEVEL_MESSAGE: name = "message"; break;
    case G_LOG_LEVEL_INFO: name = "info"; break;
    default: name = "debug"; break;
    }
  /* ISO 8601 in UTC with milliseconds: 2026-12-06T23:16:07.123Z */
  stamp = mm_iso8601 (mm_wall_ms ());
  fprintf (stderr, "%s %s %s: %s\n", stamp, domain ? domain : "mixmeet", name,
           message ? message : "");
  return G_LOG_WRITER_HANDLED;
}

static GLogLevelFlags
level_from_name (const char *name)
{
  if (g_str_equal (name, "error")) return G_LOG_LEVEL_ERROR;
  if (g_str_equal (name, "critical")) return G_LOG_LEVEL_CRITICAL;
  if (g_str_equal (name, "warning")) return G_LOG_LEVEL_WARNING;
  if (g_str_equal (name, "info")) return G_LOG_LEVEL_INFO;
  if (g_str_equal (name, "debug")) return G_LOG_LEVEL_DEBUG;
  return G_LOG_LEVEL_MESSAGE;
}

/* Long-polls hold a socket each: allow as many as the hard limit. */
static void
raise_fd_limit (void)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      setrlimit (RLIMIT_NOFILE, &rl);
    }
}

/* ---- database start-up: connect with back-off, migrate ----------------- */

static gpointer
db_start_thread (gpointer data)
{
  MmApp *app = data;
  guint delay = 1;

  while (!g_atomic_int_get (&app->shutting_down))
    {
      g_autoptr (GError) error = NULL;
      guint applied = 0, closed = 0;
      MmDbConn *c;

      if (!mm_db_ping (app->db, &error)
          || !mm_migrate_apply (app->db, app->opts->sql_dir, &applied, &error))
        {
          if (g_error_matches (error, MM_ERROR, MM_ERROR_DATABASE_UNAVAILABLE))
            {
              g_autofree char *where = mm_db_describe (app->opts->database_url);
              g_autofree char *why = mm_db_last_error (app->db);

              g_warning ("cannot reach the database (%s): %s; retrying in %u s", where,
                         why ? why : error->message, delay);
            }
          else
            g_warning ("database start-up failed: %s; retrying in %u s", error->message, delay);
          for (guint i = 0; i < delay * 10 && !g_atomic_int_get (&app->shutting_down); i++)
            g_usleep (G_USEC_PER_SEC / 10);
          delay = MIN (delay * 2, 30);
          continue;
        }
      /* Meetings left open by a previous run that did not stop cleanly. */
      c = mm_db_acquire (app->db, &error);
      if (c != NULL && mm_store_close_all (c, "shutdown", &closed, &error) && closed > 0)
        g_message ("closed %u participations left open by an earlier run", closed);
      g_clear_error (&error);
      if (c != NULL)
        {
          g_autofree char *dir = g_build_filename (app->opts->data_dir, "recordings", NULL);

          if (!mm_store_recordings_interrupted (c, dir, &closed, &error))
            g_warning ("could not close recordings left open: %s", error->message);
          else if (closed > 0)
            g_message ("%u recordings were cut off by an earlier run: marked interrupted",
                       closed);
          g_clear_error (&error);
        }
      mm_db_release (c);
      g_message ("database ready (%u migrations applied now)", applied);
      g_atomic_int_set (&app->db_ready, 1);
      break;
    }
  return NULL;
}

/* ---- shutdown --------------------------------------------------------- */

static gint64 shutdown_deadline;

static gboolean
wait_for_requests (gpointer data)
{
  MmApp *app = data;
  guint n = mm_server_in_flight (app->server);

  if (n == 0 || g_get_monotonic_time () > shutdown_deadline)
    {
      if (n > 0)
        g_warning ("%u requests still running at shutdown", n);
      g_main_loop_quit (app->loop);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer data)
{
  MmApp *app = data;

  if (g_atomic_int_get (&app->shutting_down))
    return G_SOURCE_CONTINUE;
  g_message ("shutting down: no new connections, answering waiting requests");
  g_atomic_int_set (&app->shutting_down, 1);
  mm_server_quiesce (app->server);
  mm_rooms_shutdown (app->rooms);
  shutdown_deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  g_timeout_add (20, wait_for_requests, app);
  return G_SOURCE_CONTINUE;
}

static void
close_meetings (MmApp *app)
{
  g_autoptr (GError) error = NULL;
  guint closed = 0;
  MmDbConn *c;

  if (!g_atomic_int_get (&app->db_ready))
    return;
  c = mm_db_acquire (app->db, &error);
  if (c == NULL || !mm_store_close_all (c, "shutdown", &closed, &error))
    g_warning ("could not close open meetings: %s", error->message);
  mm_db_release (c);
}

/* The one UDP port of every room's media: bound to [media] address, or
 * to every address (IPv6 as well when [server] listen is an IPv6 one):
 * even with the HTTP server on loopback behind a proxy, clients reach the
 * media port from the network.  Candidates announce [media] public-ip, or
 * else [media] ice-addresses, or else the bound address (for a wildcard,
 * every interface's and loopback). */
static MmTransport *
start_transport (const MmOptions *o, GError **error)
{
  const char *bind = *o->media_address != '\0' ? o->media_address
                     : strchr (o->listen, ':') != NULL ? "::" : "0.0.0.0";
  g_auto (GStrv) listed = g_strsplit (*o->public_ip != '\0' ? o->public_ip : o->ice_addresses,
                                      ",", -1);
  g_autoptr (GPtrArray) announce = g_ptr_array_new ();
  MmTransportConfig config = { 0 };
  MmTransport *t;

  for (guint i = 0; listed[i] != NULL; i++)
    if (*g_strstrip (listed[i]) != '\0')
      g_ptr_array_add (announce, listed[i]);
  g_ptr_array_add (announce, NULL);
  config.address = bind;
  config.port = (guint16) o->media_port;
  config.announce = announce->len > 1 ? (const char *const *) announce->pdata : NULL;
  config.consent_timeout_s = 30;
  t = mm_transport_new (&config, error);
  if (t == NULL)
    {
      g_prefix_error (error, "[media] port %d on %s: ", o->media_port, bind);
      return NULL;
    }
  g_message ("media on udp://%s:%u/ (open this UDP port to clients)", bind,
             mm_transport_port (t));
  return t;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MmOptions) opts = NULL;
  const MmRoute *routes;
  gsize n_routes;
  gboolean exit_now = FALSE;
  GThread *db_thread;
  MmApp app = { 0 };

  /* One malloc arena per core, not glibc's eight: every participant's
   * media runs on streaming threads of its own, and with an arena each
   * the memory they free stays scattered over many arenas.  The RSS then
   * grew by ~20 MiB per 100 joins and leaves (make soak; 4-6 MiB with
   * two to four arenas).  MALLOC_ARENA_MAX still decides when set. */
  if (g_getenv ("MALLOC_ARENA_MAX") == NULL)
    mallopt (M_ARENA_MAX, (int) MAX (2, g_get_num_processors ()));
  g_log_set_writer_func (write_log,
                         GINT_TO_POINTER (g_log_writer_is_journald (fileno (stderr))), NULL);
  opts = mm_options_parse (&argc, &argv, &exit_now, &error);
  if (opts == NULL)
    {
      if (exit_now)
        return 0;
      g_printerr ("mixmeetd: %s\n", error->message);
      return 2;
    }
  max_level = level_from_name (opts->log_level);
  app.metrics_allow = mm_cidr_list_parse (opts->metrics_allow, &error);
  if (app.metrics_allow == NULL)
    {
      g_printerr ("mixmeetd: [metrics] allow: %s\n", error->message);
      return 2;
    }
  /* SRTP first: it sets NSS up for thousands of sessions before anything
   * else in the process can (srtp.c). */
  if (!mm_srtp_init (&error))
    {
      g_printerr ("mixmeetd: %s\n", error->message);
      return 1;
    }
  gst_init (NULL, NULL);
  if (!mm_media_check_elements (&error))
    {
      g_printerr ("mixmeetd: %s\n", error->message);
      return 1;
    }
  signal (SIGPIPE, SIG_IGN);
  raise_fd_limit ();
  if (g_mkdir_with_parents (opts->data_dir, 0750) != 0)
    g_warning ("cannot create data directory %s: %s", opts->data_dir, g_strerror (errno));

  app.opts = opts;
  app.trusted_proxies = mm_cidr_list_parse (opts->trusted_proxies, &error);
  if (app.trusted_proxies == NULL)
    {
      g_printerr ("mixmeetd: [server] trusted-proxies: %s\n", error->message);
      return 2;
    }
  if (!mm_api_turn_check (opts, &error))
    {
      g_printerr ("mixmeetd: %s\n", error->message);
      return 2;
    }
  app.ctx = g_main_context_default ();
  app.loop = g_main_loop_new (app.ctx, FALSE);
  app.db = mm_db_new (opts->database_url, (guint) opts->db_pool_size);
  app.workers = g_thread_pool_new (mm_app_worker_thread, NULL, opts->workers, FALSE, NULL);
  app.rooms = mm_rooms_new (&app, mm_api_participant_left, mm_api_recording_changed, NULL);
  if (!mm_secret_random (app.link_key, sizeof app.link_key, &error))
    {
      g_printerr ("mixmeetd: %s\n", error->message);
      return 1;
    }
  app.login_by_email = mm_throttle_new ((guint) opts->login_max_failures,
                                        (gint64) opts->login_window * G_USEC_PER_SEC);
  /* Per client address: more generous, shared by everyone behind a NAT. */
  app.login_by_ip = mm_throttle_new ((guint) opts->login_max_failures * 4,
                                     (gint64) opts->login_window * G_USEC_PER_SEC);
  app.register_by_ip = mm_throttle_new ((guint) opts->limit_registrations,
                                        (gint64) 3600 * G_USEC_PER_SEC);
  app.rooms_by_user = mm_throttle_new ((guint) opts->limit_rooms, (gint64) 3600 * G_USEC_PER_SEC);
  app.joins_by_ip = mm_throttle_new ((guint) opts->limit_joins, (gint64) 60 * G_USEC_PER_SEC);
  app.chat_by_participant = mm_throttle_new ((guint) opts->limit_chat, (gint64) 60 * G_USEC_PER_SEC);

  if (!mm_media_check_pipelines (&app, &error))
    {
      g_printerr ("mixmeetd: %s\n", error->message);
      return 1;
    }
  app.transport = start_transport (opts, &error);
  if (app.transport == NULL)
    {
      g_printerr ("mixmeetd: %s\n", error->message);
      return 1;
    }
  routes = mm_api_routes (&n_routes);
  app.server = mm_server_new (&app, routes, n_routes, &error);
  if (app.server == NULL)
    {
      g_printerr ("mixmeetd: %s\n", error->message);
      return 1;
    }
  g_message ("mixmeetd %s listening on http://%s:%u/ (web root %s)", PACKAGE_VERSION,
             opts->listen, mm_server_port (app.server), opts->web_root);
  if (opts->port_file != NULL)
    {
      g_autofree char *text = g_strdup_printf ("%u\n", mm_server_port (app.server));
      if (!g_file_set_contents (opts->port_file, text, -1, &error))
        g_warning ("cannot write the port file: %s", error->message);
      g_clear_error (&error);
    }

  g_unix_signal_add (SIGTERM, on_signal, &app);
  g_unix_signal_add (SIGINT, on_signal, &app);
  db_thread = g_thread_new ("db-start", db_start_thread, &app);

  g_main_loop_run (app.loop);

  g_thread_join (db_thread);
  /* Rooms first: closing their media finishes recordings, whose metadata
   * the workers then store. */
  mm_rooms_free (app.rooms);
  g_thread_pool_free (app.workers, FALSE, TRUE);
  close_meetings (&app);
  mm_server_free (app.server);
  mm_transport_free (app.transport);
  mm_throttle_free (app.login_by_email);
  mm_throttle_free (app.login_by_ip);
  mm_throttle_free (app.register_by_ip);
  mm_throttle_free (app.rooms_by_user);
  mm_throttle_free (app.joins_by_ip);
  mm_throttle_free (app.chat_by_participant);
  mm_cidr_list_free (app.trusted_proxies);
  mm_db_free (app.db);
  mm_cidr_list_free (app.metrics_allow);
  g_main_loop_unref (app.loop);
  g_message ("stopped");
  return 0;
}
