/* unit-media.c — the pure parts of the media core (layouts), and the
 * composite's pipeline pieces on their own. */
#include "config.h"

#include "media/layout.h"
#include "media/media-private.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
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
 * from the main loop while the tile's branch streams
 * (mm_compose_size_branch): many changes in a row must not fail its
 * negotiation (an error closes the participant's connection), and its
 * frames come at the latest size. */
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
      g_autoptr (GstMessage) msg = NULL;

      mm_compose_size_branch (pipe, sizes[i % G_N_ELEMENTS (sizes)][0],
                              sizes[i % G_N_ELEMENTS (sizes)][1]);
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

/* ---- a tile's frames into the compositor ------------------------------- */

typedef struct {
  GstElement *mix;
  GstClockTime pts, duration, now;
  guint frames;
} TileSeen;

/* After mm_compose_tile_timing's probe (added before this one). */
static GstPadProbeReturn
tile_seen (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  TileSeen *t = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

  (void) pad;
  t->pts = GST_BUFFER_PTS (buf);
  t->duration = GST_BUFFER_DURATION (buf);
  t->now = gst_element_get_current_running_time (t->mix);
  t->frames++;
  return GST_PAD_PROBE_OK;
}

/* compose.c's tile timing: a frame stamped by its sender's clock (here an
 * hour off) and without a duration reaches the compositor stamped with
 * its arrival (backdated) and a duration of a second, so that the compositor shows it
 * at once and until a newer one comes; asked for its latency, the tile
 * says it is live with none, so that the compositor does not wait for it
 * (the jitter buffer upstream said 40 ms). */
static void
test_tile_timing (void)
{
  g_autoptr (GError) error = NULL;
  GstElement *pipe = gst_parse_launch (
    "videotestsrc is-live=true pattern=black "
    "! video/x-raw,format=I420,width=64,height=36,framerate=30/1 "
    "! compositor name=mix latency=40000000 ! fakesink sync=false async=false "
    "appsrc name=tile is-live=true format=time min-latency=40000000 "
    "caps=video/x-raw,format=I420,width=64,height=36,framerate=0/1 ! mix.", &error);
  g_autoptr (GstElement) mix = NULL;
  g_autoptr (GstElement) tile = NULL;
  g_autoptr (GstPad) tile_pad = NULL;
  g_autoptr (GstQuery) q = gst_query_new_latency ();
  TileSeen seen = { 0 };
  GstClockTime min = GST_CLOCK_TIME_NONE, max = 0;
  gboolean live = FALSE;
  gint64 end;

  g_assert_no_error (error);
  mix = gst_bin_get_by_name (GST_BIN (pipe), "mix");
  tile = gst_bin_get_by_name (GST_BIN (pipe), "tile");
  tile_pad = gst_element_get_static_pad (mix, "sink_1");
  g_assert_nonnull (tile_pad);
  seen.mix = mix;
  mm_compose_tile_timing (mix, tile_pad);
  gst_pad_add_probe (tile_pad, GST_PAD_PROBE_TYPE_BUFFER, tile_seen, &seen, NULL);
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  g_assert_true (gst_pad_peer_query (tile_pad, q));
  gst_query_parse_latency (q, &live, &min, &max);
  g_assert_true (live);
  g_assert_cmpuint (min, ==, 0);
  g_usleep (200 * 1000);
  {
    GstBuffer *buf = gst_buffer_new_allocate (NULL, 64 * 36 * 3 / 2, NULL);

    gst_buffer_memset (buf, 0, 128, 64 * 36 * 3 / 2);
    GST_BUFFER_PTS (buf) = gst_element_get_current_running_time (tile) + 3600 * GST_SECOND;
    g_assert_cmpint (gst_app_src_push_buffer (GST_APP_SRC (tile), buf), ==, GST_FLOW_OK);
  }
  end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (seen.frames == 0 && g_get_monotonic_time () < end)
    g_usleep (10 * 1000);
  gst_element_set_state (pipe, GST_STATE_NULL);
  g_assert_cmpuint (seen.frames, ==, 1);
  g_assert_cmpuint (seen.duration, ==, GST_SECOND);
  /* Stamped 100 ms before it came, so that the next composite frame
   * shows it (compose.c, TILE_BACKDATE). */
  g_assert_cmpuint (seen.pts, <=, seen.now);
  g_assert_cmpuint (seen.now - seen.pts, >=, 100 * GST_MSECOND);
  g_assert_cmpuint (seen.now - seen.pts, <, 150 * GST_MSECOND);
  gst_object_unref (pipe);
}

/* ---- a camera that pauses, into video-in --------------------------------- */

typedef struct {
  gint keyframe_requests, nacks;   /* once a frame was decoded (the first packet is a discont) */
  gint decoded;
} Asked;

static GstPadProbeReturn
count_requests (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Asked *a = data;
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  const GstStructure *s = gst_event_get_structure (ev);

  (void) pad;
  if (g_atomic_int_get (&a->decoded) == 0)
    return GST_PAD_PROBE_OK;
  if (GST_EVENT_TYPE (ev) == GST_EVENT_CUSTOM_UPSTREAM && s != NULL
      && gst_structure_has_name (s, "GstForceKeyUnit"))
    g_atomic_int_inc (&a->keyframe_requests);
  if (s != NULL && gst_structure_has_name (s, "GstRTPRetransmissionRequest"))
    g_atomic_int_inc (&a->nacks);
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
count_decoded (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  (void) pad;
  (void) info;
  g_atomic_int_inc (&((Asked *) data)->decoded);
  return GST_PAD_PROBE_OK;
}

/* A browser's camera does not send at a steady rate: after a large frame
 * its encoder drops frames, and a canvas or a busy tab paints when it
 * can.  Frames that pause for 200 ms, every packet there, must all be decoded
 * without a keyframe request or a NACK: the jitter buffer used to guess
 * when the next packet was due, declare it lost after its latency (40 ms),
 * and the depayloader then dropped every frame up to a keyframe and asked
 * for one (pipelines/video-in.pipeline, rtx-next-seqnum). */
static void
test_video_in_pause (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *desc = load_pipeline ("video-in");
  GString *launch = g_string_new (desc);
  GstElement *enc, *pipe;
  g_autoptr (GstElement) sink = NULL;
  g_autoptr (GstElement) src = NULL;
  g_autoptr (GstElement) tee = NULL;
  g_autoptr (GstPad) src_pad = NULL;
  g_autoptr (GstPad) tee_pad = NULL;
  g_autoptr (GPtrArray) packets = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  g_autoptr (GstCaps) caps = NULL;
  Asked asked = { 0, 0, 0 };
  guint frames = 0;
  guint32 last_ts = 0;
  GstSample *sample;
  gint64 end;

  /* 24 frames of VP8, one keyframe, packetised. */
  enc = gst_parse_launch ("videotestsrc num-buffers=24 pattern=ball "
                          "! video/x-raw,width=320,height=180,framerate=30/1 "
                          "! vp8enc deadline=1 keyframe-max-dist=1000 "
                          "! rtpvp8pay pt=96 mtu=400 picture-id-mode=15-bit "
                          "! appsink name=sink sync=false", &error);
  g_assert_no_error (error);
  sink = gst_bin_get_by_name (GST_BIN (enc), "sink");
  gst_element_set_state (enc, GST_STATE_PLAYING);
  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink))) != NULL)
    {
      g_ptr_array_add (packets, gst_buffer_ref (gst_sample_get_buffer (sample)));
      gst_sample_unref (sample);
    }
  gst_element_set_state (enc, GST_STATE_NULL);
  gst_object_unref (enc);
  g_assert_cmpuint (packets->len, >, 24);

  g_string_replace (launch, "${LATENCY}", "40", 0);
  g_string_append (launch, " vin. ! fakesink name=out sync=false async=false");
  pipe = gst_parse_launch (launch->str, &error);
  g_string_free (launch, TRUE);
  g_assert_no_error (error);
  src = gst_bin_get_by_name (GST_BIN (pipe), "rtpsrc");
  tee = gst_bin_get_by_name (GST_BIN (pipe), "vin");
  caps = gst_caps_from_string ("application/x-rtp,media=video,encoding-name=VP8,payload=96,"
                               "clock-rate=90000");
  g_object_set (src, "caps", caps, NULL);
  src_pad = gst_element_get_static_pad (src, "src");
  gst_pad_add_probe (src_pad, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, count_requests, &asked, NULL);
  tee_pad = gst_element_get_static_pad (tee, "sink");
  gst_pad_add_probe (tee_pad, GST_PAD_PROBE_TYPE_BUFFER, count_decoded, &asked, NULL);
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  /* Each frame's packets at once, 33 ms between frames but 200 ms after
   * every fourth. */
  for (guint i = 0; i < packets->len; i++)
    {
      GstBuffer *b = g_ptr_array_index (packets, i);
      GstMapInfo map;
      guint32 ts;

      gst_buffer_map (b, &map, GST_MAP_READ);
      ts = GST_READ_UINT32_BE (map.data + 4);
      gst_buffer_unmap (b, &map);
      if (i > 0 && ts != last_ts)
        g_usleep (frames % 4 == 0 ? 200 * 1000 : 33 * 1000);
      if (i == 0 || ts != last_ts)
        frames++;
      last_ts = ts;
      g_assert_cmpint (gst_app_src_push_buffer (GST_APP_SRC (src), gst_buffer_copy (b)), ==,
                       GST_FLOW_OK);
    }
  end = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  while ((guint) g_atomic_int_get (&asked.decoded) < frames && g_get_monotonic_time () < end)
    g_usleep (10 * 1000);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (pipe);
  g_test_message ("%u frames: %d decoded, %d keyframe requests, %d NACKs", frames, asked.decoded,
                  asked.keyframe_requests, asked.nacks);
  g_assert_cmpint (asked.keyframe_requests, ==, 0);
  g_assert_cmpint (asked.nacks, ==, 0);
  g_assert_cmpint (asked.decoded, ==, (gint) frames);
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
  g_test_add_func ("/media/pipelines/tile-timing", test_tile_timing);
  g_test_add_func ("/media/pipelines/video-in-pause", test_video_in_pause);
  return g_test_run ();
}
