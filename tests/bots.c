/* bots.c — running mixmeet-bot and reading its reports. */
#include "config.h"

#include "bots.h"

#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct _MmBot {
  GPid pid;
  int out_fd;
  GThread *reader;
  GMutex lock;
  GCond cond;
  GPtrArray *lines;        /* JsonNode* */
  gboolean eof;
  char *name;
};

/* Every bot still running, for the abort hook (pids; 0 = ended). */
static GPid running[256];

static void
kill_running (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (running); i++)
    if (running[i] > 0)
      kill (running[i], SIGKILL);
}

static void
remember (GPid pid, gboolean add)
{
  for (gsize i = 0; i < G_N_ELEMENTS (running); i++)
    if (add ? running[i] == 0 : running[i] == pid)
      {
        running[i] = add ? pid : 0;
        return;
      }
}

static gpointer
read_lines (gpointer data)
{
  MmBot *bot = data;
  g_autoptr (GIOChannel) ch = g_io_channel_unix_new (bot->out_fd);
  char *line = NULL;
  gsize len;

  while (g_io_channel_read_line (ch, &line, &len, NULL, NULL) == G_IO_STATUS_NORMAL)
    {
      g_autoptr (JsonParser) p = json_parser_new ();

      if (json_parser_load_from_data (p, line, -1, NULL) && json_parser_get_root (p) != NULL
          && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (p)))
        {
          g_mutex_lock (&bot->lock);
          g_ptr_array_add (bot->lines, json_node_ref (json_parser_get_root (p)));
          g_cond_broadcast (&bot->cond);
          g_mutex_unlock (&bot->lock);
        }
      else if (g_getenv ("MM_TEST_VERBOSE") != NULL)
        g_printerr ("# %s: %s", bot->name, line);
      g_free (line);
    }
  g_mutex_lock (&bot->lock);
  bot->eof = TRUE;
  g_cond_broadcast (&bot->cond);
  g_mutex_unlock (&bot->lock);
  return NULL;
}

MmBot *
mm_bot_start (MmHarness *h, const char *code, const char *const *args)
{
  const char *bin = g_getenv ("MM_TEST_BOT") ? g_getenv ("MM_TEST_BOT") : "./mixmeet-bot";
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *log = g_build_filename (h->dir, "bots.log", NULL);
  MmBot *bot = g_new0 (MmBot, 1);
  int err_fd = open (log, O_WRONLY | O_CREAT | O_APPEND, 0644);

  g_ptr_array_add (argv, (gpointer) bin);
  g_ptr_array_add (argv, (gpointer) "--server");
  g_ptr_array_add (argv, h->base_url);
  g_ptr_array_add (argv, (gpointer) "--room");
  g_ptr_array_add (argv, (gpointer) code);
  g_ptr_array_add (argv, (gpointer) "--ice-address");
  g_ptr_array_add (argv, (gpointer) "127.0.0.1");
  if (g_getenv ("MM_TEST_VERBOSE") != NULL)
    g_ptr_array_add (argv, (gpointer) "--verbose");
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    {
      g_ptr_array_add (argv, (gpointer) args[i]);
      if (g_str_equal (args[i], "--name") && args[i + 1] != NULL)
        bot->name = g_strdup (args[i + 1]);
    }
  g_ptr_array_add (argv, NULL);
  if (bot->name == NULL)
    bot->name = g_strdup ("bot");
  g_mutex_init (&bot->lock);
  g_cond_init (&bot->cond);
  bot->lines = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  if (!g_spawn_async_with_pipes_and_fds (NULL, (const char *const *) argv->pdata, NULL,
                                         G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, -1, -1, err_fd,
                                         NULL, NULL, 0, &bot->pid, NULL, &bot->out_fd, NULL,
                                         &error))
    g_error ("cannot start %s: %s", bin, error->message);
  close (err_fd);
  remember (bot->pid, TRUE);
  mm_harness_abort_hook = kill_running;
  bot->reader = g_thread_new ("bot-reader", read_lines, bot);
  return bot;
}

JsonObject *
mm_bot_wait (MmBot *bot, MmBotPred pred, gpointer data, guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;
  guint seen;
  JsonObject *found = NULL;

  g_mutex_lock (&bot->lock);
  /* Only reports from now on: what happens after the caller's last step. */
  seen = bot->lines->len;
  while (found == NULL)
    {
      for (; seen < bot->lines->len && found == NULL; seen++)
        {
          JsonObject *o = json_node_get_object (bot->lines->pdata[seen]);

          if (pred (o, data))
            found = o;
        }
      if (found != NULL || bot->eof)
        break;
      if (!g_cond_wait_until (&bot->cond, &bot->lock, deadline))
        break;
    }
  if (found == NULL)
    {
      /* Say what the bot saw instead, for whoever reads the failure. */
      g_autofree char *text = NULL;

      if (bot->lines->len > 0)
        text = json_to_string (bot->lines->pdata[bot->lines->len - 1], FALSE);
      g_printerr ("# %s: no matching report in %u s; the last was: %s\n", bot->name, timeout_s,
                  text ? text : "(none)");
    }
  g_mutex_unlock (&bot->lock);
  return found;
}

JsonObject *
mm_bot_last (MmBot *bot)
{
  JsonObject *o = NULL;

  g_mutex_lock (&bot->lock);
  /* The latest report: lines of events ("uplink", "video-size") say
   * nothing of what the bot receives. */
  for (guint i = bot->lines->len; i > 0 && o == NULL; i--)
    {
      JsonObject *line = json_node_get_object (bot->lines->pdata[i - 1]);

      if (!json_object_has_member (line, "event"))
        o = line;
    }
  g_mutex_unlock (&bot->lock);
  return o;
}

GPtrArray *
mm_bot_lines (MmBot *bot)
{
  return bot->lines;
}

GPtrArray *
mm_bot_snapshot (MmBot *bot)
{
  GPtrArray *copy = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);

  g_mutex_lock (&bot->lock);
  for (guint i = 0; i < bot->lines->len; i++)
    g_ptr_array_add (copy, json_node_ref (bot->lines->pdata[i]));
  g_mutex_unlock (&bot->lock);
  return copy;
}

char *
mm_bot_participant_id (MmBot *bot)
{
  g_autoptr (GPtrArray) lines = mm_bot_snapshot (bot);

  for (guint i = 0; i < lines->len; i++)
    {
      JsonObject *o = json_node_get_object (lines->pdata[i]);
      const char *id = json_object_get_string_member_with_default (o, "participant_id", NULL);

      if (id != NULL)
        return g_strdup (id);
    }
  return NULL;
}

void
mm_bot_kill (MmBot *bot, int sig)
{
  if (bot->pid > 0)
    kill (bot->pid, sig);
}

void
mm_bot_stop (MmBot *bot, int sig)
{
  int status;
  gint64 deadline = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;

  if (bot->pid <= 0)
    return;
  kill (bot->pid, sig);
  while (waitpid (bot->pid, &status, WNOHANG) == 0)
    {
      if (g_get_monotonic_time () > deadline)
        {
          kill (bot->pid, SIGKILL);
          waitpid (bot->pid, &status, 0);
          break;
        }
      g_usleep (20000);
    }
  remember (bot->pid, FALSE);
  bot->pid = 0;
}

void
mm_bot_free (MmBot *bot)
{
  if (bot == NULL)
    return;
  mm_bot_stop (bot, SIGTERM);
  g_thread_join (bot->reader);
  close (bot->out_fd);
  g_ptr_array_unref (bot->lines);
  g_mutex_clear (&bot->lock);
  g_cond_clear (&bot->cond);
  g_free (bot->name);
  g_free (bot);
}

double
mm_bot_fps (JsonObject *line)
{
  /* Lines of events ("video-size", "uplink") carry no "video". */
  JsonObject *v = json_object_has_member (line, "video")
                    && JSON_NODE_HOLDS_OBJECT (json_object_get_member (line, "video"))
                    ? json_object_get_object_member (line, "video") : NULL;

  return v != NULL && json_object_has_member (v, "fps") ? json_object_get_double_member (v, "fps") : 0;
}

gboolean
mm_bot_receiving (JsonObject *line)
{
  JsonObject *v = json_object_has_member (line, "video")
                    && JSON_NODE_HOLDS_OBJECT (json_object_get_member (line, "video"))
                    ? json_object_get_object_member (line, "video") : NULL;

  return v != NULL && json_object_get_int_member_with_default (v, "frames", 0) > 0;
}

gint64
mm_bot_connections (JsonObject *line)
{
  return json_object_get_int_member_with_default (line, "connections", -1);
}

void
mm_bot_assert_flowing (MmBot *bot, guint from, gint64 max_gap_ms)
{
  g_autoptr (GPtrArray) lines = mm_bot_snapshot (bot);
  gint64 longest = 0;
  guint n = 0;

  for (guint i = from; i < lines->len; i++)
    {
      JsonObject *o = json_node_get_object (lines->pdata[i]);
      JsonObject *v;
      JsonNode *gap;

      if (!json_object_has_member (o, "video"))
        continue;            /* not a report: an event or the summary */
      n++;
      v = json_object_get_object_member (o, "video");
      gap = v != NULL ? json_object_get_member (v, "max_gap_ms") : NULL;
      if (gap == NULL || JSON_NODE_HOLDS_NULL (gap) || json_node_get_int (gap) > max_gap_ms)
        {
          g_autofree char *text = json_to_string (lines->pdata[i], FALSE);

          g_error ("%s: video stalled for more than %" G_GINT64_FORMAT " ms (report %u): %s",
                   bot->name, max_gap_ms, i, text);
        }
      longest = MAX (longest, json_node_get_int (gap));
    }
  if (n == 0)
    g_error ("%s: no report since report %u", bot->name, from);
  g_test_message ("%s: frames kept coming over %u reports, the longest gap %" G_GINT64_FORMAT
                  " ms", bot->name, n, longest);
}

typedef struct {
  guint left;
} Count;

static gboolean
count_down (JsonObject *line, gpointer data)
{
  Count *c = data;

  return json_object_has_member (line, "video") && --c->left == 0;
}

void
mm_bot_assert_keeps_flowing (MmBot *bot, guint n, gint64 max_gap_ms)
{
  Count c = { n };
  guint from;

  g_mutex_lock (&bot->lock);
  from = bot->lines->len;
  g_mutex_unlock (&bot->lock);
  if (mm_bot_wait (bot, count_down, &c, n * 10) == NULL)
    g_error ("%s: fewer than %u reports in %u s", bot->name, n, n * 10);
  mm_bot_assert_flowing (bot, from, max_gap_ms);
}

static gboolean
find_cell (JsonObject *line, const char *name, gboolean screen, int rgb[3])
{
  JsonArray *cells = json_object_has_member (line, "cells")
                       ? json_object_get_array_member (line, "cells") : NULL;

  for (guint i = 0; cells != NULL && i < json_array_get_length (cells); i++)
    {
      JsonObject *c = json_array_get_object_element (cells, i);
      gboolean is_screen = json_object_has_member (c, "screen")
                           && json_object_get_boolean_member (c, "screen");
      JsonArray *v;

      if (!json_object_has_member (c, "display_name") || !json_object_has_member (c, "rgb")
          || JSON_NODE_HOLDS_NULL (json_object_get_member (c, "rgb"))
          || is_screen != screen
          || g_strcmp0 (json_object_get_string_member (c, "display_name"), name) != 0)
        continue;
      v = json_object_get_array_member (c, "rgb");
      for (guint k = 0; k < 3; k++)
        rgb[k] = (int) json_array_get_int_element (v, k);
      return TRUE;
    }
  return FALSE;
}

gboolean
mm_bot_cell (JsonObject *line, const char *name, int rgb[3])
{
  return find_cell (line, name, FALSE, rgb);
}

gboolean
mm_bot_screen_cell (JsonObject *line, const char *name, int rgb[3])
{
  return find_cell (line, name, TRUE, rgb);
}

const char *
mm_bot_layout (JsonObject *line)
{
  JsonNode *n = json_object_get_member (line, "layout");

  return n != NULL && JSON_NODE_HOLDS_VALUE (n) ? json_node_get_string (n) : NULL;
}

guint
mm_bot_n_cells (JsonObject *line)
{
  JsonArray *cells = json_object_has_member (line, "cells")
                       ? json_object_get_array_member (line, "cells") : NULL;
  guint n = 0;

  for (guint i = 0; cells != NULL && i < json_array_get_length (cells); i++)
    if (json_object_has_member (json_array_get_object_element (cells, i), "participant_id"))
      n++;
  return n;
}

double
mm_bot_peak_db (JsonObject *line, double hz)
{
  JsonObject *a = json_object_has_member (line, "audio")
                    ? json_object_get_object_member (line, "audio") : NULL;
  JsonArray *peaks = a != NULL && json_object_has_member (a, "peaks")
                       ? json_object_get_array_member (a, "peaks") : NULL;
  double best = -INFINITY;

  for (guint i = 0; peaks != NULL && i < json_array_get_length (peaks); i++)
    {
      JsonObject *p = json_array_get_object_element (peaks, i);
      double f = json_object_get_double_member (p, "hz");
      double db = json_object_get_double_member (p, "db");

      if (fabs (f - hz) <= 15 && db > best)
        best = db;
    }
  return best;
}

gboolean
mm_rgb_near (const int rgb[3], int r, int g, int b, int tol)
{
  return abs (rgb[0] - r) <= tol && abs (rgb[1] - g) <= tol && abs (rgb[2] - b) <= tol;
}
