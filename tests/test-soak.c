/* test-soak.c — join/leave churn: bots that publish and bots that only
 * watch join a room with two steady participants, get the composite and
 * leave, cycle after cycle, while the host chats and changes the layout.
 * Afterwards every departed participant is gone from the room and from
 * the database, mixmeetd's descriptors and threads are back where they
 * were after the warm-up, its memory has not grown with the cycles, and
 * the steady participants' composite never stopped.
 *
 * MM_SOAK_CYCLES sets the number of cycles: 16 in make check, 1,000 in
 * make soak, which prints the figures (memory slope per 100 cycles, the
 * steady bots' largest gap). */
#include "config.h"

#include "bots.h"
#include "harness.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define IN_FLIGHT 3           /* bots joining or connected at once */

static MmHarness h;

typedef struct {
  gint64 rss_kb;
  gint64 threads;
  gint64 fds;
} Usage;

static void
usage_of (GPid pid, Usage *u)
{
  g_autofree char *status_path = g_strdup_printf ("/proc/%d/status", (int) pid);
  g_autofree char *fd_path = g_strdup_printf ("/proc/%d/fd", (int) pid);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  DIR *d;
  struct dirent *e;

  memset (u, 0, sizeof *u);
  g_assert_true (g_file_get_contents (status_path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "VmRSS:"))
        u->rss_kb = g_ascii_strtoll (lines[i] + 6, NULL, 10);
      else if (g_str_has_prefix (lines[i], "Threads:"))
        u->threads = g_ascii_strtoll (lines[i] + 8, NULL, 10);
    }
  d = opendir (fd_path);
  g_assert_nonnull (d);
  while ((e = readdir (d)) != NULL)
    if (e->d_name[0] != '.')
      u->fds++;
  closedir (d);
}

static gboolean
receiving (JsonObject *line, gpointer data)
{
  return mm_bot_receiving (line);
}

/* The room's members as a new join sees them (the joiner included). */
static guint
members (const char *code, const char *token)
{
  g_autofree char *path = g_strdup_printf ("/api/v1/rooms/%s/join", code);
  g_auto (MmResponse) r = { 0 };
  g_auto (MmResponse) bye = { 0 };
  guint n;

  mm_http (&h, "POST", path, token, NULL, &r);
  g_assert_cmpint (r.status, ==, 201);
  n = json_array_get_length (json_node_get_array (mm_json_at (&r, "participants")));
  mm_http (&h, "POST", mm_json_str (&r, "signalling.leave"), mm_json_str (&r, "secret"), NULL,
           &bye);
  g_assert_cmpint (bye.status / 100, ==, 2);
  return n;
}

static gint64
open_participations (void)
{
  g_autofree char *n = mm_harness_sql (&h, "SELECT count(*) FROM participations "
                                           "WHERE left_at IS NULL");

  return g_ascii_strtoll (n, NULL, 10);
}

/* Least-squares slope of @y over @x, per unit of x. */
static double
slope (GArray *x, GArray *y)
{
  double mx = 0, my = 0, sxy = 0, sxx = 0;
  guint n = x->len;

  for (guint i = 0; i < n; i++)
    {
      mx += g_array_index (x, double, i) / n;
      my += g_array_index (y, double, i) / n;
    }
  for (guint i = 0; i < n; i++)
    {
      double dx = g_array_index (x, double, i) - mx;

      sxy += dx * (g_array_index (y, double, i) - my);
      sxx += dx * dx;
    }
  return sxx > 0 ? sxy / sxx : 0;
}

/* The largest gap between frames in @bot's reports from @from on. */
static gint64
largest_gap (MmBot *bot, guint from)
{
  g_autoptr (GPtrArray) lines = mm_bot_snapshot (bot);
  gint64 gap = 0;

  for (guint i = from; i < lines->len; i++)
    {
      JsonObject *o = json_node_get_object (lines->pdata[i]);
      JsonObject *v = json_object_has_member (o, "video")
                        ? json_object_get_object_member (o, "video") : NULL;

      if (v != NULL && json_object_has_member (v, "max_gap_ms"))
        gap = MAX (gap, json_object_get_int_member (v, "max_gap_ms"));
    }
  return gap;
}

static void
test_churn (void)
{
  const char *env = g_getenv ("MM_SOAK_CYCLES");
  guint cycles = env != NULL ? (guint) g_ascii_strtoull (env, NULL, 10) : 16;
  /* The first cycles start what later ones reuse (threads of GLib's and
   * GStreamer's pools, the layouts' first use): a CI run at 12 cycles
   * with 2 of warm-up ended 4 threads up, at the bound. */
  guint warm = MAX (6, cycles / 10);
  g_autofree char *token = mm_test_register (&h, "Soak host", NULL);
  g_autofree char *code = mm_test_room (&h, token, "{\"title\":\"Soak\"}");
  const char *red_args[] = { "--name", "red", "--color", "ff0000", "--tone", "440", NULL };
  const char *blue_args[] = { "--name", "blue", "--color", "0000ff", "--tone", "880", NULL };
  g_auto (MmJoined) host = { 0 };
  g_autoptr (GArray) xs = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) ys = g_array_new (FALSE, FALSE, sizeof (double));
  GQueue running = G_QUEUE_INIT;
  MmBot *red, *blue, *b;
  Usage warm_u = { 0 }, end_u = { 0 }, u;
  guint red_from, blue_from;
  gint64 t0, deadline;
  double rss_slope;

  g_assert_cmpuint (cycles, >, warm);
  red = mm_bot_start (&h, code, red_args);
  blue = mm_bot_start (&h, code, blue_args);
  g_assert_nonnull (mm_bot_wait (red, receiving, NULL, MM_TEST_WAIT_S));
  g_assert_nonnull (mm_bot_wait (blue, receiving, NULL, MM_TEST_WAIT_S));
  mm_test_join (&h, code, token, NULL, &host);
  red_from = mm_bot_lines (red)->len;
  blue_from = mm_bot_lines (blue)->len;
  t0 = g_get_monotonic_time ();
  for (guint c = 0; c < cycles; c++)
    {
      g_autofree char *name = g_strdup_printf ("churn-%u", c);
      g_autofree char *chat = g_strdup_printf ("{\"type\":\"chat\",\"text\":\"cycle %u\"}", c);
      /* Every other one publishes; the rest only watch. */
      const char *pub_args[] = { "--name", name, "--color", "00ff00", "--tone", "660", NULL };
      const char *view_args[] = { "--name", name, "--recv-only", "--no-decode", NULL };
      g_auto (MmResponse) r = { 0 };

      if (c == warm)
        {
          while ((b = g_queue_pop_head (&running)) != NULL)
            mm_bot_free (b);
          g_usleep (2 * G_USEC_PER_SEC);
          usage_of (h.pid, &warm_u);
        }
      if (c >= warm && (c - warm) % MAX (1, cycles / 20) == 0)
        {
          usage_of (h.pid, &u);
          g_array_append_val (xs, (double) { c });
          g_array_append_val (ys, (double) { u.rss_kb / 1024.0 });
        }
      b = mm_bot_start (&h, code, c % 2 == 0 ? pub_args : view_args);
      g_queue_push_tail (&running, b);
      mm_http (&h, "POST", host.messages, host.secret, chat, &r);
      g_assert_cmpint (r.status / 100, ==, 2);
      if (c % 5 == 4)
        {
          g_auto (MmResponse) l = { 0 };
          const char *layout = (c / 5) % 2 == 0 ? "{\"type\":\"layout\",\"layout\":\"speaker\"}"
                                                : "{\"type\":\"layout\",\"layout\":\"grid\"}";

          mm_http (&h, "POST", host.messages, host.secret, layout, &l);
          g_assert_cmpint (l.status / 100, ==, 2);
        }
      /* The host polls too, or its presence would run out. */
      {
        g_autofree char *path = g_strdup_printf ("%s?timeout=0", host.events);
        g_auto (MmResponse) ev = { 0 };

        mm_http (&h, "GET", path, host.secret, NULL, &ev);
        g_assert_cmpint (ev.status, ==, 200);
      }
      /* Each bot gets the composite before it leaves (SIGTERM: it says
       * goodbye). */
      if (g_queue_get_length (&running) >= IN_FLIGHT)
        {
          b = g_queue_pop_head (&running);
          g_assert_nonnull (mm_bot_wait (b, receiving, NULL, MM_TEST_WAIT_S));
          mm_bot_free (b);
        }
    }
  while ((b = g_queue_pop_head (&running)) != NULL)
    {
      g_assert_nonnull (mm_bot_wait (b, receiving, NULL, MM_TEST_WAIT_S));
      mm_bot_free (b);
    }
  /* Everyone who left is gone, from the database too: the host and the
   * two steady bots remain. */
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (open_participations () != 3)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (200000);
    }
  g_assert_cmpuint (members (code, token), ==, 4);
  g_usleep (2 * G_USEC_PER_SEC);
  usage_of (h.pid, &end_u);
  g_array_append_val (xs, (double) { cycles });
  g_array_append_val (ys, (double) { end_u.rss_kb / 1024.0 });
  rss_slope = slope (xs, ys) * 100;
  g_test_message ("%u cycles in %.0f s; after the warm-up (%u) / at the end: RSS %.1f / %.1f MiB "
                  "(%+.2f MiB per 100 cycles), threads %" G_GINT64_FORMAT " / %" G_GINT64_FORMAT
                  ", descriptors %" G_GINT64_FORMAT " / %" G_GINT64_FORMAT
                  "; the steady bots' largest gap %" G_GINT64_FORMAT " / %" G_GINT64_FORMAT " ms",
                  cycles, (g_get_monotonic_time () - t0) / 1e6, warm, warm_u.rss_kb / 1024.0,
                  end_u.rss_kb / 1024.0, rss_slope, warm_u.threads, end_u.threads, warm_u.fds,
                  end_u.fds, largest_gap (red, red_from), largest_gap (blue, blue_from));
  /* Back where they were: a socket or thread per participant kept would
   * show here.  A little slack for GLib's idle worker threads. */
  g_assert_cmpint (end_u.fds, <=, warm_u.fds + 2);
  g_assert_cmpint (end_u.threads, <=, warm_u.threads + 4);
  /* Memory: a leak per cycle shows as a slope; allocators keep a little
   * of what was freed, so only a long run can tell small leaks.  With
   * glibc's eight arenas per core the slope was 20-25 MiB per 100 cycles;
   * with one per core (src/main.c) 3-4.5, of which about 2 is memory in
   * use that grows (~22 KB a cycle, not found yet). */
  if (cycles >= 200)
    g_assert_cmpfloat (rss_slope, <, 8.0);
  else
    g_assert_cmpfloat (end_u.rss_kb - warm_u.rss_kb, <, 64 * 1024);
  /* The steady participants' composite never stopped. */
  mm_bot_assert_flowing (red, red_from, MM_TEST_MAX_GAP_MS);
  mm_bot_assert_flowing (blue, blue_from, MM_TEST_MAX_GAP_MS);
  mm_bot_free (red);
  mm_bot_free (blue);
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  /* Bots leave by themselves; a long presence timeout keeps the host,
   * who polls once a cycle, in the room. */
  mm_harness_start (&h, "[signalling]\nlong-poll-timeout=2\npresence-timeout=120\n");
  g_test_add_func ("/soak/churn", test_churn);
  rc = g_test_run ();
  mm_harness_stop (&h);
  return rc;
}
