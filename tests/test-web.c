/* test-web.c — the web client end to end: Debian's Chromium, driven by
 * playwright-core (tests/browser/e2e.mjs), uses the built client against
 * a real mixmeetd + PostgreSQL, while a receive-only mixmeet-bot in the
 * same room checks the composite that the pages produce; and the receive
 * quality tiers (tests/browser/quality.mjs) in a room where a bot
 * publishes. */
#include "config.h"

#include "bots.h"
#include "harness.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static MmHarness h;

static gboolean
saw_presentation (JsonObject *line, gpointer data)
{
  JsonArray *cells = json_object_has_member (line, "cells")
                       ? json_object_get_array_member (line, "cells") : NULL;

  if (g_strcmp0 (mm_bot_layout (line), "presentation") != 0 || cells == NULL)
    return FALSE;
  for (guint i = 0; i < json_array_get_length (cells); i++)
    {
      JsonObject *c = json_array_get_object_element (cells, i);

      if (json_object_has_member (c, "screen") && json_object_get_boolean_member (c, "screen"))
        return TRUE;
    }
  return FALSE;
}

/* Two people's tiles in a composite that arrives (at whatever rate: a
 * busy machine lowers it). */
static gboolean
two_people (JsonObject *line, gpointer data)
{
  return mm_bot_receiving (line) && mm_bot_n_cells (line) >= 2;
}

static void
test_e2e (void)
{
  g_autofree char *dir = mm_test_src_path ("tests", "browser", NULL);
  g_autofree char *script = g_build_filename (dir, "e2e.mjs", NULL);
  g_autofree char *node = NULL;
  g_autofree char *cwd = g_get_current_dir ();
  g_autofree char *shots = g_build_filename (cwd, "tests", "screenshots", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) result = NULL;
  MmBot *observer = NULL;
  gboolean presented = FALSE;
  GPid pid;
  int out_fd, status = 0;
  FILE *out;
  char *buf = NULL;
  size_t cap = 0;

  node = mm_test_browser_node ("the web test");
  if (node == NULL)
    return;
  g_mkdir_with_parents (shots, 0755);
  {
    const char *argv[] = { node, script, h.base_url, shots, NULL };

    if (!g_spawn_async_with_pipes (dir, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                   NULL, &pid, NULL, &out_fd, NULL, &error))
      g_error ("cannot run node: %s", error->message);
  }
  /* One JSON object a line: {"room": CODE} once the meeting exists (the
   * observer joins it then), progress lines, and the result last. */
  out = fdopen (out_fd, "r");
  while (getline (&buf, &cap, out) > 0)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      JsonObject *o;

      g_printerr ("# e2e: %s", buf);
      if (!json_parser_load_from_data (parser, buf, -1, NULL)
          || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        continue;
      o = json_node_get_object (json_parser_get_root (parser));
      if (json_object_has_member (o, "room") && observer == NULL)
        {
          const char *args[] = { "--name", "observer", "--recv-only", NULL };

          observer = mm_bot_start (&h, json_object_get_string_member (o, "room"), args);
        }
      if (json_object_has_member (o, "step") && observer != NULL
          && g_strcmp0 (json_object_get_string_member (o, "step"), "presenting") == 0)
        {
          JsonObject *line = mm_bot_wait (observer, saw_presentation, NULL, 60);

          presented = line != NULL;
          if (line != NULL)
            {
              /* For whoever reads the log: the tiles the observer saw. */
              g_autoptr (JsonNode) n = json_node_init_object (json_node_alloc (), line);
              g_autofree char *text = json_to_string (n, FALSE);

              g_printerr ("# observer during the share: %s\n", text);
            }
        }
      if (json_object_has_member (o, "ok"))
        {
          g_clear_pointer (&result, json_object_unref);
          result = json_object_ref (o);
        }
    }
  free (buf);
  fclose (out);
  waitpid (pid, &status, 0);
  g_spawn_close_pid (pid);
  g_assert_nonnull (result);
  g_assert_true (json_object_get_boolean_member (result, "ok"));
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  /* Every part ran: this server has all the features the page probes for. */
  {
    JsonObject *ran = json_object_get_object_member (result, "ran");
    g_autoptr (GList) names = json_object_get_members (ran);

    for (GList *l = names; l != NULL; l = l->next)
      if (!json_object_get_boolean_member (ran, l->data))
        g_error ("the browser test skipped %s", (const char *) l->data);
  }
  /* The observer saw the two people's tiles, and the shared screen large. */
  g_assert_nonnull (observer);
  g_assert_true (presented);
  for (guint i = 0; i < mm_bot_lines (observer)->len; i++)
    if (two_people (json_node_get_object (mm_bot_lines (observer)->pdata[i]), NULL))
      goto seen;
  g_error ("the observer never saw two people in the composite");
seen:
  mm_bot_free (observer);
  for (guint i = 0; i < 3; i++)
    {
      static const char *const names[] = { "home.png", "pre-join.png", "meeting.png" };
      g_autofree char *png = g_build_filename (shots, names[i], NULL);

      g_assert_true (g_file_test (png, G_FILE_TEST_IS_REGULAR));
    }
}

/* Chromium picks Data saver, then Audio only, in a room where a bot
 * publishes: the composite it receives drops to 320 wide, then its video
 * stops (tests/browser/quality.mjs says what it expected and saw). */
static void
test_quality (void)
{
  g_autofree char *dir = mm_test_src_path ("tests", "browser", NULL);
  g_autofree char *script = g_build_filename (dir, "quality.mjs", NULL);
  g_autofree char *cwd = g_get_current_dir ();
  g_autofree char *shots = g_build_filename (cwd, "tests", "screenshots", NULL);
  g_autofree char *node = NULL;
  g_autofree char *token = NULL;
  g_autofree char *code = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) result = NULL;
  const char *args[] = { "--name", "red", "--color", "ff0000", "--tone", "440", NULL };
  MmBot *bot;
  GPid pid;
  int out_fd, status = 0;
  FILE *out;
  char *buf = NULL;
  size_t cap = 0;

  node = mm_test_browser_node ("the quality test");
  if (node == NULL)
    return;
  token = mm_test_register (&h, "Host", NULL);
  code = mm_test_room (&h, token, NULL);
  bot = mm_bot_start (&h, code, args);
  g_mkdir_with_parents (shots, 0755);
  {
    const char *argv[] = { node, script, h.base_url, code, shots, NULL };

    if (!g_spawn_async_with_pipes (dir, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                   NULL, &pid, NULL, &out_fd, NULL, &error))
      g_error ("cannot run node: %s", error->message);
  }
  out = fdopen (out_fd, "r");
  while (getline (&buf, &cap, out) > 0)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      JsonObject *o;

      g_printerr ("# quality: %s", buf);
      if (!json_parser_load_from_data (parser, buf, -1, NULL)
          || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        continue;
      o = json_node_get_object (json_parser_get_root (parser));
      if (json_object_has_member (o, "ok"))
        {
          g_clear_pointer (&result, json_object_unref);
          result = json_object_ref (o);
        }
    }
  free (buf);
  fclose (out);
  waitpid (pid, &status, 0);
  g_spawn_close_pid (pid);
  mm_bot_free (bot);

  g_assert_nonnull (result);
  if (!json_object_get_boolean_member (result, "ok"))
    g_error ("the quality test failed: %s", json_object_has_member (result, "error")
             ? json_object_get_string_member (result, "error") : "(no message)");
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
}

int
main (int argc, char **argv)
{
  g_autofree char *www = mm_test_web_client_dir ();
  int rc;

  g_test_init (&argc, &argv, NULL);
  if (g_getenv ("MM_TEST_WEB_ROOT") == NULL)
    g_setenv ("MM_TEST_WEB_ROOT", www, TRUE);
  /* Each participant's offer, connection and tiles in the server's log
   * (kept on failure): a browser that never connects says why there. */
  if (g_getenv ("MM_TEST_LOG_LEVEL") == NULL)
    g_setenv ("MM_TEST_LOG_LEVEL", "info", TRUE);
  mm_harness_start (&h, NULL);
  g_test_add_func ("/web/e2e", test_e2e);
  g_test_add_func ("/web/quality", test_quality);
  rc = g_test_run ();
  mm_harness_stop (&h);
  return rc;
}
