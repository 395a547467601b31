/* bots.h — mixmeet-bot processes driven by the media tests.
 *
 * Each bot is a real mixmeet-bot process joining through REST, long-poll
 * and WebRTC; its one-JSON-line-per-second report is collected by a
 * reader thread. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "harness.h"

G_BEGIN_DECLS

typedef struct _MmBot MmBot;

/* Start mixmeet-bot for room @code with extra arguments @args (NULL
 * terminated, e.g. "--name", "red", "--color", "ff0000", "--tone", "440"). */
MmBot *mm_bot_start (MmHarness *h, const char *code, const char *const *args);

/* Wait up to @timeout_s for a report line, printed after this call, for
 * which @pred returns TRUE;
 * returns that line (transfer none, valid until the bot is freed) or NULL. */
typedef gboolean (*MmBotPred) (JsonObject *line, gpointer data);
JsonObject *mm_bot_wait (MmBot *bot, MmBotPred pred, gpointer data, guint timeout_s);

/* The latest report line (transfer none) or NULL. */
JsonObject *mm_bot_last (MmBot *bot);
/* All report lines so far (transfer none). */
GPtrArray *mm_bot_lines (MmBot *bot);
/* A copy of the lines so far, safe while the bot runs: JsonNode*, each
 * holding an object (transfer full; g_ptr_array_unref frees). */
GPtrArray *mm_bot_snapshot (MmBot *bot);

/* SIGTERM (the bot leaves) or SIGKILL (it vanishes); waits for the exit. */
void mm_bot_stop (MmBot *bot, int signal);
/* The participant id the bot's reports give (after its first report; the
 * lines of events carry none).  Returns: (transfer full) or NULL */
char *mm_bot_participant_id (MmBot *bot);
/* Send @signal to the bot and go on (SIGUSR1: its tone at full volume). */
void mm_bot_kill (MmBot *bot, int signal);
void mm_bot_free (MmBot *bot);

/* Helpers on a report line. */
double mm_bot_fps (JsonObject *line);
/* Video frames came in the line's period. */
gboolean mm_bot_receiving (JsonObject *line);
/* The line's "connections" (peer connections the bot made so far). */
gint64 mm_bot_connections (JsonObject *line);

/* Speed is for make bench; the tests assert behaviour, with margins that a
 * busy machine (two CPU-bound processes beside the suite on two cores)
 * keeps.  These are the margins.
 *
 * MM_TEST_WAIT_S bounds the wait for a state the room must reach (tiles,
 * colours, tones); every wait ends as soon as it holds.
 * MM_TEST_MAX_GAP_MS is the longest wait between two video frames that
 * still counts as "frames keep arriving" rather than a stall (the
 * composite is sent at 30 fps: about 33 ms apart when idle). */
#define MM_TEST_WAIT_S 120
#define MM_TEST_MAX_GAP_MS 3000

/* Frames keep arriving at @bot: in its reports from index @from to the
 * latest (at least one), at least one frame every @max_gap_ms (counting a
 * stall still going on at the last report).  Fails the test, naming the
 * report, otherwise. */
void mm_bot_assert_flowing (MmBot *bot, guint from, gint64 max_gap_ms);
/* Wait for @n more reports of @bot (at most @n * 10 s), then
 * mm_bot_assert_flowing over them. */
void mm_bot_assert_keeps_flowing (MmBot *bot, guint n, gint64 max_gap_ms);
/* The colour reported for the tile of @name (their camera or name card):
 * TRUE and *rgb if present. */
gboolean mm_bot_cell (JsonObject *line, const char *name, int rgb[3]);
/* The same for the screen @name shares. */
gboolean mm_bot_screen_cell (JsonObject *line, const char *name, int rgb[3]);
/* The layout of the latest "layout" event ("grid", "speaker",
 * "presentation") or NULL.  Transfer none. */
const char *mm_bot_layout (JsonObject *line);
/* The level in dB of the strongest reported peak within 15 Hz of @hz, or
 * -INFINITY when there is none. */
double mm_bot_peak_db (JsonObject *line, double hz);
/* Number of tiles with a participant in the reported layout. */
guint mm_bot_n_cells (JsonObject *line);
/* TRUE if @rgb is within @tol of (@r, @g, @b) on every channel. */
gboolean mm_rgb_near (const int rgb[3], int r, int g, int b, int tol);

G_END_DECLS
