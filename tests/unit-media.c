/* unit-media.c — the pure parts of the media core (layouts), and the
 * composite's pipeline pieces on their own. */
#include "config.h"

#include "media/layout.h"

#include <gst/gst.h>

/* No two tiles overlap and all stay inside the canvas. */
static void
assert_tiles_sane (const MmTile *t, guint n, gint width, gint height)
{
  for (guint i = 0; i < n; i++)
    {
      g_assert_cmpint (t[i].x, >=, 0);
      g_assert_cmpint (t[i].y, >=, 0);
      g_assert_cmpint (t[i].width, >, 0);
      g_assert_cmpint (t[i].height, >, 0);
      g_assert_cmpint (t[i].x + t[i].width, <=, width);
      g_assert_cmpint (t[i].y + t[i].height, <=, height);
      for (guint k = i + 1; k < n; k++)
        {
          gboolean apart = t[i].x + t[i].width <= t[k].x || t[k].x + t[k].width <= t[i].x
                           || t[i].y + t[i].height <= t[k].y || t[k].y + t[k].height <= t[i].y;
          g_assert_true (apart);
        }
    }
}

static void
test_grid_shapes (void)
{
  static const struct { guint n, cols, rows; } cases[] = {
    { 1, 1, 1 }, { 2, 2, 1 }, { 3, 2, 2 }, { 4, 2, 2 }, { 5, 3, 3 }, { 9, 3, 3 },
    { 10, 4, 4 }, { 16, 4, 4 }, { 40, 4, 4 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint cols, rows;

      mm_layout_grid_shape (cases[i].n, &cols, &rows);
      g_assert_cmpuint (cols, ==, cases[i].cols);
      g_assert_cmpuint (rows, ==, cases[i].rows);
    }
}

static void
test_grid_tiles (void)
{
  MmTile t[MM_LAYOUT_MAX_TILES];
  guint n;

  g_assert_cmpuint (mm_layout_compute (MM_LAYOUT_GRID, 0, -1, 1280, 720, t), ==, 0);

  n = mm_layout_compute (MM_LAYOUT_GRID, 1, -1, 1280, 720, t);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpint (t[0].width, ==, 1280);
  g_assert_cmpint (t[0].height, ==, 720);

  n = mm_layout_compute (MM_LAYOUT_GRID, 2, -1, 1280, 720, t);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpint (t[0].x, ==, 0);
  g_assert_cmpint (t[1].x, ==, 640);
  g_assert_cmpint (t[1].width, ==, 640);
  g_assert_cmpint (t[0].source, ==, 0);
  g_assert_cmpint (t[1].source, ==, 1);

  /* 3 participants: a 2×2 grid with one cell empty. */
  n = mm_layout_compute (MM_LAYOUT_GRID, 3, -1, 1280, 720, t);
  g_assert_cmpuint (n, ==, 3);
  g_assert_cmpint (t[2].x, ==, 0);
  g_assert_cmpint (t[2].y, ==, 360);
  assert_tiles_sane (t, n, 1280, 720);

  /* Odd sizes: tiles still meet exactly and fill the width. */
  n = mm_layout_compute (MM_LAYOUT_GRID, 9, -1, 1279, 719, t);
  g_assert_cmpuint (n, ==, 9);
  g_assert_cmpint (t[2].x + t[2].width, ==, 1279);
  g_assert_cmpint (t[8].y + t[8].height, ==, 719);
  g_assert_cmpint (t[1].x, ==, t[0].x + t[0].width);
  assert_tiles_sane (t, n, 1279, 719);
}

static void
test_grid_overflow (void)
{
  MmTile t[MM_LAYOUT_MAX_TILES];
  guint n = mm_layout_compute (MM_LAYOUT_GRID, 20, -1, 1280, 720, t);

  g_assert_cmpuint (n, ==, 16);
  for (guint i = 0; i < 15; i++)
    g_assert_cmpint (t[i].source, ==, (gint) i);
  /* The last cell stands for the 5 not shown (16th to 20th). */
  g_assert_cmpint (t[15].source, ==, -1);
  g_assert_cmpint (t[15].overflow, ==, 5);
  assert_tiles_sane (t, n, 1280, 720);

  n = mm_layout_compute (MM_LAYOUT_GRID, 16, -1, 1280, 720, t);
  g_assert_cmpint (t[15].source, ==, 15);
}

static void
test_speaker (void)
{
  MmTile t[MM_LAYOUT_MAX_TILES];
  guint n = mm_layout_compute (MM_LAYOUT_SPEAKER, 4, 2, 1280, 720, t);
  gboolean seen[4] = { FALSE };

  g_assert_cmpuint (n, ==, 4);
  /* The speaker gets the big tile, the others the strip below. */
  g_assert_cmpint (t[0].source, ==, 2);
  g_assert_cmpint (t[0].width, ==, 1280);
  g_assert_cmpint (t[0].height, >, 720 / 2);
  for (guint i = 0; i < n; i++)
    {
      g_assert_cmpint (t[i].source, >=, 0);
      seen[t[i].source] = TRUE;
      if (i > 0)
        {
          g_assert_cmpint (t[i].y, ==, t[0].height);
          g_assert_cmpint (t[i].height, <, t[0].height);
        }
    }
  for (guint i = 0; i < 4; i++)
    g_assert_true (seen[i]);
  assert_tiles_sane (t, n, 1280, 720);

  /* No speaker known: the first one is large. */
  n = mm_layout_compute (MM_LAYOUT_SPEAKER, 3, -1, 1280, 720, t);
  g_assert_cmpint (t[0].source, ==, 0);

  /* A long strip ends with "+N". */
  n = mm_layout_compute (MM_LAYOUT_SPEAKER, 12, 0, 1280, 720, t);
  g_assert_cmpuint (n, ==, 7);
  g_assert_cmpint (t[6].source, ==, -1);
  g_assert_cmpint (t[6].overflow, ==, 6);
  assert_tiles_sane (t, n, 1280, 720);

  /* One participant: the whole canvas. */
  n = mm_layout_compute (MM_LAYOUT_SPEAKER, 1, 0, 1280, 720, t);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpint (t[0].width, ==, 1280);
}

/* Presentation: the screen (source 2 of 4) large on top, the three
 * people in a strip below it. */
static void
test_presentation (void)
{
  MmTile t[MM_LAYOUT_MAX_TILES];
  guint n = mm_layout_compute (MM_LAYOUT_PRESENTATION, 4, 2, 1280, 720, t);

  g_assert_cmpuint (n, ==, 4);
  g_assert_cmpint (t[0].source, ==, 2);
  g_assert_cmpint (t[0].width, ==, 1280);
  g_assert_cmpint (t[0].height, >, 720 / 2);
  for (guint i = 1; i < n; i++)
    {
      g_assert_cmpint (t[i].source, !=, 2);
      g_assert_cmpint (t[i].y, ==, t[0].height);
      g_assert_cmpint (t[i].y + t[i].height, ==, 720);
    }
}

static void
test_names (void)
{
  MmLayoutKind k;

  g_assert_true (mm_layout_kind_from_name ("grid", &k));
  g_assert_cmpint (k, ==, MM_LAYOUT_GRID);
  g_assert_true (mm_layout_kind_from_name ("speaker", &k));
  g_assert_cmpint (k, ==, MM_LAYOUT_SPEAKER);
  g_assert_true (mm_layout_kind_from_name ("presentation", &k));
  g_assert_cmpint (k, ==, MM_LAYOUT_PRESENTATION);
  g_assert_cmpstr (mm_layout_kind_name (MM_LAYOUT_PRESENTATION), ==, "presentation");
  g_assert_false (mm_layout_kind_from_name ("Grid", &k));
  g_assert_false (mm_layout_kind_from_name (NULL, &k));
  g_assert_cmpstr (mm_layout_kind_name (MM_LAYOUT_SPEAKER), ==, "speaker");
}

/* ---- pipelines: a tile resized while it plays --------------------------- */

/* pipelines/@name.pipeline as mixmeetd reads it: comments dropped,
 * ${FRAMERATE} 30. */
static char *
load_pipeline (const char *name)
{
  const char *srcdir = g_getenv ("MM_TEST_SRCDIR");
  g_autofree char *file = g_strdup_printf ("%s.pipeline", name);
  g_autofree char *path = g_build_filename (srcdir != NULL ? srcdir : ".", "pipelines", file, NULL);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  GString *out = g_string_new (NULL);

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *l = g_strchug (lines[i]);

      if (*l != '#' && *l != '\0')
        g_string_append_printf (out, "%s ", l);
    }
  g_string_replace (out, "${FRAMERATE}", "30", 0);
  return g_string_free (out, FALSE);
}

typedef struct {
  gint width, height;   /* of the latest frame into the compositor */
  guint frames;
} Seen;

static GstPadProbeReturn
count_frame (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Seen *seen = data;
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  GstStructure *s;

  (void) info;
  if (caps != NULL && (s = gst_caps_get_structure (caps, 0)) != NULL)
    {
      gst_structure_get_int (s, "width", &seen->width);
      gst_structure_get_int (s, "height", &seen->height);
    }
  seen->frames++;
  return GST_PAD_PROBE_OK;
}

/* The layout changes a tile's size whenever someone joins or leaves,
 * from the main loop while the tile's branch streams: many changes in a
 * row must not fail its negotiation (an error closes the participant's
 * connection), and its frames come at the latest size. */
static void
resize_while_playing (const char *name, const char *upstream)
{
  static const gint sizes[][2] = { { 640, 360 }, { 426, 240 }, { 320, 180 }, { 1280, 720 },
                                   { 212, 120 }, { 852, 480 }, { 426, 360 } };
  g_autofree char *desc = load_pipeline (name);
  g_autofree char *launch = g_strdup_printf ("%s %s ! compositor name=mix ! fakesink name=out "
                                             "sync=false async=false", upstream, desc);
  g_autoptr (GError) error = NULL;
  GstElement *pipe = gst_parse_launch (launch, &error);
  g_autoptr (GstElement) size = NULL;
  g_autoptr (GstElement) mix = NULL;
  g_autoptr (GstBus) bus = NULL;
  g_autoptr (GstPad) pad = NULL;
  Seen seen = { 0, 0, 0 };
  guint frames;
  gint64 end;

  g_assert_no_error (error);
  size = gst_bin_get_by_name (GST_BIN (pipe), "size");
  mix = gst_bin_get_by_name (GST_BIN (pipe), "mix");
  g_assert_nonnull (size);
  pad = gst_element_get_static_pad (size, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_frame, &seen, NULL);
  bus = gst_element_get_bus (pipe);
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  for (guint i = 0; i < 3000; i++)
    {
      g_autoptr (GstCaps) caps = gst_caps_new_simple ("video/x-raw",
        "width", G_TYPE_INT, sizes[i % G_N_ELEMENTS (sizes)][0],
        "height", G_TYPE_INT, sizes[i % G_N_ELEMENTS (sizes)][1],
        "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
      g_autoptr (GstMessage) msg = NULL;

      g_object_set (size, "caps", caps, NULL);
      g_usleep (i % 7 == 0 ? 5000 : 300);
      msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
      if (msg != NULL)
        {
          g_autoptr (GError) e = NULL;

          gst_message_parse_error (msg, &e, NULL);
          g_error ("%s: after %u size changes: %s", name, i + 1, e->message);
        }
    }
  /* Settled on the last size: frames come at it. */
  frames = seen.frames;
  end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < end
         && (seen.frames < frames + 10 || seen.width != sizes[2999 % G_N_ELEMENTS (sizes)][0]))
    g_usleep (10000);
  g_assert_cmpuint (seen.frames, >=, frames + 10);
  g_assert_cmpint (seen.width, ==, sizes[2999 % G_N_ELEMENTS (sizes)][0]);
  g_assert_cmpint (seen.height, ==, sizes[2999 % G_N_ELEMENTS (sizes)][1]);
  g_assert_null (gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR));
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (pipe);
}

static void
test_resize_placeholder (void)
{
  resize_while_playing ("placeholder", "");
}

static void
test_resize_tile (void)
{
  resize_while_playing ("tile-in", "videotestsrc is-live=true "
                        "! video/x-raw,format=I420,width=640,height=360,framerate=30/1 !");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  gst_init (&argc, &argv);
  g_test_add_func ("/media/layout/grid-shapes", test_grid_shapes);
  g_test_add_func ("/media/layout/grid-tiles", test_grid_tiles);
  g_test_add_func ("/media/layout/grid-overflow", test_grid_overflow);
  g_test_add_func ("/media/layout/speaker", test_speaker);
  g_test_add_func ("/media/layout/presentation", test_presentation);
  g_test_add_func ("/media/layout/names", test_names);
  g_test_add_func ("/media/pipelines/resize-placeholder", test_resize_placeholder);
  g_test_add_func ("/media/pipelines/resize-tile", test_resize_tile);
  return g_test_run ();
}
