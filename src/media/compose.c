/* compose.c — the composite: which sources it shows (people, by camera
 * or name card, and shared screens), where each goes (media/layout.h),
 * the tiles of cameras and screens and the name cards on the compositor,
 * and the switch to the presentation layout while a screen is shared.
 * Every change of the layout is told to everyone ("layout").
 *
 * Threads: the main loop.
 */
#include "config.h"

#include "media/media-private.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-media"

/* ---- layout -------------------------------------------------------------- */

/* What the composite shows: people (a camera, or a name card) and shared
 * screens. */
typedef struct {
  Peer *p;
  gboolean screen;
} Source;

static gint
compare_source (gconstpointer a, gconstpointer b)
{
  const Source *x = a, *y = b;

  /* Screens first, then people in the order they came. */
  if (x->screen != y->screen)
    return x->screen ? -1 : 1;
  return x->p->order < y->p->order ? -1 : x->p->order > y->p->order;
}

gboolean
mm_compose_shows_screen (const Peer *p)
{
  return p->screen_tile != NULL && p->presenting && !p->screen_paused && !p->removed;
}

static GArray *
collect_sources (MmMedia *m)
{
  GArray *arr = g_array_new (FALSE, FALSE, sizeof (Source));
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, m->peers);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      Peer *p = value;

      if (p->removed || p->blocked)
        continue;
      if (p->tile != NULL || p->card != NULL)
        g_array_append_val (arr, ((Source) { p, FALSE }));
      if (mm_compose_shows_screen (p))
        g_array_append_val (arr, ((Source) { p, TRUE }));
    }
  g_array_sort (arr, compare_source);
  return arr;
}

static void
hide_pad (GstPad *pad)
{
  if (pad != NULL)
    g_object_set (pad, "alpha", 0.0, NULL);
}

/* Everything of @p's on the compositor: camera, name card, screen. */
void
mm_compose_hide_peer (Peer *p)
{
  hide_pad (p->tile != NULL ? p->tile->sink_pad : NULL);
  hide_pad (p->card_pad);
  hide_pad (p->screen_tile != NULL ? p->screen_tile->sink_pad : NULL);
}

/* The size a tile is drawn at: @t's, made even (I420 has a chroma sample
 * per 2x2 pixels).  The branch and the compositor's pad must agree on
 * it: a pad one pixel wider than its frames (a 427-pixel tile of nine,
 * drawn at 426) has the compositor scale every frame of it again. */
static gint
even (gint v)
{
  return MAX (v & ~1, 2);
}

/* A size change waiting for a branch's next frame. */
typedef struct {
  GMutex lock;
  GstCaps *pending;
} SizeChange;

static void
size_change_free (gpointer data)
{
  SizeChange *c = data;

  g_mutex_clear (&c->lock);
  gst_clear_caps (&c->pending);
  g_free (c);
}

/* @size's caps to @caps, unless it has them already (a new value makes
 * the branch renegotiate). */
static void
set_size_caps (GstElement *size, GstCaps *caps)
{
  g_autoptr (GstCaps) old = NULL;

  g_object_get (size, "caps", &old, NULL);
  if (old == NULL || !gst_caps_is_equal (old, caps))
    g_object_set (size, "caps", caps, NULL);
}

/* On the "size" capsfilter's sink pad, in the branch's streaming thread:
 * the latest size asked for becomes the filter's before a frame goes
 * through it.  Negotiation runs in this thread too, so no size can change
 * between the caps the element upstream chose and the ones it sends: set
 * from the main loop, two changes in that window failed the branch with
 * not-negotiated about once in 2,000 (tests/unit-media.c). */
static GstPadProbeReturn
apply_size (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  SizeChange *c = data;
  GstCaps *caps;

  (void) info;
  g_mutex_lock (&c->lock);
  caps = g_steal_pointer (&c->pending);
  g_mutex_unlock (&c->lock);
  if (caps != NULL)
    {
      g_autoptr (GstElement) size = gst_pad_get_parent_element (pad);

      if (size != NULL)
        set_size_caps (size, caps);
      gst_caps_unref (caps);
    }
  return GST_PAD_PROBE_OK;
}

void
mm_compose_size_branch (GstElement *bin, gint width, gint height)
{
  g_autoptr (GstElement) size = NULL;
  g_autoptr (GstPad) sink = NULL;
  g_autoptr (GstCaps) caps = NULL;
  g_autoptr (GstCaps) negotiated = NULL;
  SizeChange *c;

  if (bin == NULL || !GST_IS_BIN (bin)
      || (size = gst_bin_get_by_name (GST_BIN (bin), "size")) == NULL
      || (sink = gst_element_get_static_pad (size, "sink")) == NULL)
    return;
  caps = gst_caps_new_simple ("video/x-raw", "width", G_TYPE_INT, even (width),
                              "height", G_TYPE_INT, even (height),
                              "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
  c = g_object_get_data (G_OBJECT (size), "mm-size-change");
  if (c == NULL)
    {
      c = g_new0 (SizeChange, 1);
      g_mutex_init (&c->lock);
      g_object_set_data_full (G_OBJECT (size), "mm-size-change", c, size_change_free);
      gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                         apply_size, c, NULL);
    }
  /* Nothing negotiated yet: the filter's caps are the ones to negotiate. */
  negotiated = gst_pad_get_current_caps (sink);
  g_mutex_lock (&c->lock);
  if (negotiated == NULL && c->pending == NULL)
    {
      g_mutex_unlock (&c->lock);
      set_size_caps (size, caps);
      return;
    }
  gst_caps_replace (&c->pending, caps);
  g_mutex_unlock (&c->lock);
}

/* @bin's "size" capsfilter (pipelines/tile-in, placeholder) to @t's size:
 * the branch scales or draws at it, and the compositor only places it. */
static void
size_bin (GstElement *bin, const MmTile *t)
{
  mm_compose_size_branch (bin, t->width, t->height);
}

static void
place_pad (GstPad *pad, GstElement *bin, const MmTile *t, gboolean visible)
{
  size_bin (bin, t);
  if (pad != NULL)
    g_object_set (pad, "xpos", t->x, "ypos", t->y, "width", even (t->width), "height",
                  even (t->height), "alpha", visible ? 1.0 : 0.0, NULL);
}

#define VIDEO_SIZE_SETTLE_US (2 * G_USEC_PER_SEC)

/* Tell @p the size of its camera's tile: a "video-size" event; its client
 * scales its sender down to fit, mixmeet-bot its camera. */
static void
send_video_size (Peer *p)
{
  g_autoptr (JsonObject) o = json_object_new ();

  p->asked_width = p->tile_width;
  p->asked_height = p->tile_height;
  json_object_set_int_member (o, "max_width", p->tile_width);
  json_object_set_int_member (o, "max_height", p->tile_height);
  p->m->sink.send (p->m->sink.data, p->id, "video-size", o);
  mm_peer_log (p, G_LOG_LEVEL_DEBUG, "asked for its camera at %dx%d at most", p->tile_width,
               p->tile_height);
}

/* @p's camera now has @t's size: decoding and scaling a picture larger
 * than its tile is work thrown away, so @p is asked for no more.  The
 * first time at once; later only once the tile has kept its new size for
 * VIDEO_SIZE_SETTLE_US (mm_compose_tick), so that people joining and
 * leaving do not restart every publisher's encoder at each change. */
static void
note_tile_size (Peer *p, const MmTile *t)
{
  if (p->tile_width == even (t->width) && p->tile_height == even (t->height))
    return;
  p->tile_width = even (t->width);
  p->tile_height = even (t->height);
  p->tile_since_us = g_get_monotonic_time ();
  if (p->asked_width == 0)
    send_video_size (p);
}

void
mm_compose_tick (Peer *p, gint64 now)
{
  if (p->removed || !p->sends_video || p->asked_width == 0)
    return;
  if ((p->asked_width != p->tile_width || p->asked_height != p->tile_height)
      && now - p->tile_since_us >= VIDEO_SIZE_SETTLE_US)
    send_video_size (p);
}

void
mm_compose_relayout (MmMedia *m)
{
  g_autoptr (GArray) sources = collect_sources (m);
  MmTile tiles[MM_LAYOUT_MAX_TILES];
  gint large = -1;
  guint n;
  g_autoptr (JsonObject) ev = json_object_new ();
  g_autoptr (JsonArray) arr = json_array_new ();

  /* The large tile: a shared screen in the presentation layout (screens
   * sort first), else the active speaker. */
  for (guint i = 0; i < sources->len; i++)
    {
      const Source *src = &g_array_index (sources, Source, i);

      if (m->layout == MM_LAYOUT_PRESENTATION && src->screen && large < 0)
        large = (gint) i;
    }
  for (guint i = 0; i < sources->len && large < 0; i++)
    {
      const Source *src = &g_array_index (sources, Source, i);

      if (!src->screen && g_strcmp0 (src->p->id, m->active_speaker) == 0)
        large = (gint) i;
    }
  n = mm_layout_compute (m->layout, sources->len, large, m->app->opts->video_width,
                         m->app->opts->video_height, tiles);
  /* Everyone starts hidden; the tiles show those that fit. */
  for (guint i = 0; i < sources->len; i++)
    {
      Peer *p = g_array_index (sources, Source, i).p;

      mm_compose_hide_peer (p);
    }
  for (guint t = 0; t < n; t++)
    {
      JsonObject *o = json_object_new ();

      json_object_set_int_member (o, "x", tiles[t].x);
      json_object_set_int_member (o, "y", tiles[t].y);
      json_object_set_int_member (o, "width", tiles[t].width);
      json_object_set_int_member (o, "height", tiles[t].height);
      if (tiles[t].source >= 0)
        {
          const Source *src = &g_array_index (sources, Source, tiles[t].source);
          Peer *p = src->p;

          if (src->screen)
            place_pad (p->screen_tile->sink_pad, p->screen_tile->bin, &tiles[t], TRUE);
          else
            {
              /* The name card under the video shows when the video is
               * off or has not arrived. */
              place_pad (p->card_pad, p->card, &tiles[t], TRUE);
              place_pad (p->tile != NULL ? p->tile->sink_pad : NULL,
                         p->tile != NULL ? p->tile->bin : NULL, &tiles[t], !p->video_muted);
              if (p->sends_video)
                note_tile_size (p, &tiles[t]);
            }
          json_object_set_string_member (o, "participant_id", p->id);
          json_object_set_string_member (o, "display_name", p->name);
          if (src->screen)
            json_object_set_boolean_member (o, "screen", TRUE);
        }
      else
        json_object_set_int_member (o, "overflow", tiles[t].overflow);
      json_array_add_object_element (arr, o);
    }
  json_object_set_int_member (ev, "width", m->app->opts->video_width);
  json_object_set_int_member (ev, "height", m->app->opts->video_height);
  json_object_set_string_member (ev, "layout", mm_layout_kind_name (m->layout));
  json_object_set_array_member (ev, "tiles", g_steal_pointer (&arr));
  m->sink.broadcast (m->sink.data, "layout", ev);
  g_clear_pointer (&m->layout_event, json_object_unref);
  m->layout_event = json_object_ref (ev);
}

/* A screen share switches the room to the presentation layout, and the
 * end of the last one back to the layout before it (unless the host has
 * chosen another meanwhile). */
void
mm_compose_screens_changed (MmMedia *m)
{
  GHashTableIter it;
  gpointer value;
  gboolean any = FALSE;

  g_hash_table_iter_init (&it, m->peers);
  while (g_hash_table_iter_next (&it, NULL, &value))
    any = any || mm_compose_shows_screen (value);
  if (any && !m->auto_presentation && m->layout != MM_LAYOUT_PRESENTATION)
    {
      m->layout_before = m->layout;
      m->layout = MM_LAYOUT_PRESENTATION;
      m->auto_presentation = TRUE;
    }
  else if (!any && m->auto_presentation)
    {
      if (m->layout == MM_LAYOUT_PRESENTATION)
        m->layout = m->layout_before;
      m->auto_presentation = FALSE;
    }
  mm_compose_relayout (m);
}

gboolean
mm_media_set_layout (MmMedia *m, MmLayoutKind kind)
{
  m->layout = kind;
  m->auto_presentation = FALSE;   /* the host's choice stands */
  mm_compose_relayout (m);
  return TRUE;
}

/* ---- tiles --------------------------------------------------------------- */

/* How a camera's or screen's frames go into the compositor.  The
 * composite shows the newest frame of each tile when it makes a frame, so
 * each frame is stamped with the time it reaches the compositor and given
 * a long duration, and the tile says it adds no latency:
 *
 *  - A browser's frames come with no duration and at their own rate.  The
 *    compositor took such a frame, when older than the composite frame it
 *    was making, and then waited for the tile's next frame (to learn when
 *    this one ends) or for its latency (120 ms) to run out.
 *  - The jitter buffer stamps frames from the sender's RTP timestamps,
 *    smoothed: a browser's frames came out stamped up to 200 ms ahead of
 *    their arrival, and the compositor kept each until then.
 *  - Its latency (the jitter buffer's, and a floor for slow decoders) set
 *    how long the compositor waited for a tile with no new frame: the
 *    composite fell ~100 ms behind and came in bursts, which grew the
 *    receivers' jitter buffers.
 *
 *  - Stamped with its very arrival, a frame that came just before the
 *    compositor made its next frame still began after that frame's start
 *    (the composite's frames are made as the clock's frames come, up to a
 *    frame interval after their start): the compositor kept the tile's
 *    older frame and showed the new one a frame later, 25-60 ms after it
 *    came depending on that phase, which varies from room to room (the
 *    latency bench's server part: 16-101 ms in runs of the same tree).
 *    A frame is stamped TILE_BACKDATE before its arrival: the next
 *    composite frame made shows it, whatever its start (the latency
 *    bench's server part: 21-64 ms in three runs, packet in to
 *    composite 8-51; bench/README.md).
 *
 * bench/README.md (*browser*, *latency*) has the figures.  A frame is now
 * never late nor early; a camera that stops costs one wait for the
 * compositor's own latency once TILE_HOLD has run out. */
#define TILE_HOLD (GST_SECOND)
#define TILE_BACKDATE (100 * GST_MSECOND)   /* more than a composite frame interval */

/* Streaming thread of a tile: a frame on its way into the compositor. */
static GstPadProbeReturn
tile_frame (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstElement *compositor = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstClockTime now = gst_element_get_current_running_time (compositor);

  (void) pad;
  buf = gst_buffer_make_writable (buf);   /* the frame's memory is shared, not copied */
  if (GST_CLOCK_TIME_IS_VALID (now))
    GST_BUFFER_PTS (buf) = now > TILE_BACKDATE ? now - TILE_BACKDATE : 0;
  GST_BUFFER_DTS (buf) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION (buf) = TILE_HOLD;
  GST_PAD_PROBE_INFO_DATA (info) = buf;
  return GST_PAD_PROBE_OK;
}

/* Streaming or main thread: the compositor asks the tile's latency. */
static GstPadProbeReturn
tile_latency (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstQuery *q = GST_PAD_PROBE_INFO_QUERY (info);

  (void) pad;
  (void) data;
  if (GST_QUERY_TYPE (q) != GST_QUERY_LATENCY)
    return GST_PAD_PROBE_OK;
  gst_query_set_latency (q, TRUE, 0, GST_CLOCK_TIME_NONE);
  return GST_PAD_PROBE_HANDLED;
}

void
mm_compose_tile_timing (GstElement *compositor, GstPad *pad)
{
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, tile_frame, compositor, NULL);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_QUERY_UPSTREAM | GST_PAD_PROBE_TYPE_PUSH,
                     tile_latency, NULL, NULL);
}

/* A shared screen (the client's second video) arrived: a tile of its own,
 * over the people. */
void
mm_compose_add_screen (MmMedia *m, Peer *p, GstBin *bin)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  GstPad *ghost = NULL;
  GstPad *pad;
  GstElement *label;

  if (p->screen_in != NULL)
    return;
  p->screen_in = bin;
  pad = mm_pipeline_request_pad (m->video_mix, m->compositor, "sink_%u", NULL, &ghost);
  g_object_set (pad, "sizing-policy", 1 /* keep-aspect-ratio */, "alpha", 0.0, "zorder", 3u, NULL);
  mm_compose_tile_timing (m->compositor, pad);
  p->screen_tile = mm_branch_new (m, p->screen_in, "vin", "tile-in", NULL, m->video_mix,
                                  m->compositor, pad, ghost, &error);
  if (p->screen_tile == NULL)
    {
      mm_peer_log (p, G_LOG_LEVEL_WARNING, "its screen: %s", error->message);
      return;
    }
  label = gst_bin_get_by_name (GST_BIN (p->screen_tile->bin), "label");
  if (label != NULL)
    {
      text = g_strdup_printf ("%s (presenting)", p->name);
      g_object_set (label, "text", text, NULL);
      gst_object_unref (label);
    }
  mm_peer_log (p, G_LOG_LEVEL_INFO, "its screen in the composite");
  mm_pipeline_relatency (m);
  mm_compose_screens_changed (m);
}

/* The camera of @p arrived: a tile of its own, over its name card. */
void
mm_compose_add_camera (MmMedia *m, Peer *p, GstBin *bin)
{
  g_autoptr (GError) error = NULL;
  GstPad *ghost = NULL;
  GstPad *pad;

  if (p->video_in != NULL)
    return;
  p->video_in = bin;
  pad = mm_pipeline_request_pad (p->m->video_mix, m->compositor, "sink_%u", NULL, &ghost);
  g_object_set (pad, "sizing-policy", 1 /* keep-aspect-ratio */, "alpha", 0.0, "zorder", 2u,
                NULL);
  mm_compose_tile_timing (m->compositor, pad);
  p->tile = mm_branch_new (m, p->video_in, "vin", "tile-in", NULL, m->video_mix, m->compositor,
                           pad, ghost, &error);
  if (p->tile == NULL)
    {
      mm_peer_log (p, G_LOG_LEVEL_WARNING, "its video: %s", error->message);
      return;
    }
  {
    GstElement *label = gst_bin_get_by_name (GST_BIN (p->tile->bin), "label");

    if (label != NULL)
      {
        g_object_set (label, "text", p->name, NULL);
        gst_object_unref (label);
      }
  }
  mm_compose_relayout (m);
  mm_pipeline_relatency (m);
  mm_peer_log (p, G_LOG_LEVEL_INFO, "its video in the composite");
}

/* ---- name cards ---------------------------------------------------------- */

/* Main loop: @h->p's name card has its first frame ready (held at its src
 * pad): onto the compositor now, so that the compositor never waits for a
 * pad that has nothing yet (it would hold the composite back for its whole
 * latency, a stall for everyone at every join). */
static void
card_ready (MmApp *app, gpointer data)
{
  Hop *h = data;
  Peer *p = h->p;
  MmMedia *m = p->m;
  GstPad *src;

  (void) app;
  if (p->removed || p->card == NULL || p->card_pad != NULL || m->closed)
    return;
  p->card_pad = mm_pipeline_request_pad (m->video_mix, m->compositor, "sink_%u", NULL,
                                         &p->card_ghost);
  g_object_set (p->card_pad, "sizing-policy", 1 /* keep-aspect-ratio */, "alpha", 0.0,
                "zorder", 1u, NULL);
  src = gst_element_get_static_pad (p->card, "src");
  if (gst_pad_link (src, p->card_ghost) != GST_PAD_LINK_OK)
    mm_peer_log (p, G_LOG_LEVEL_WARNING, "cannot link its name card");
  if (p->card_block != 0)
    gst_pad_remove_probe (src, p->card_block);
  p->card_block = 0;
  gst_object_unref (src);
  mm_compose_relayout (m);
}

typedef struct {
  Peer *p;       /* a reference */
  gint told;     /* atomic: card_ready was handed over */
} CardWait;

static void
card_wait_free (gpointer data)
{
  CardWait *w = data;

  mm_peer_unref (w->p);
  g_free (w);
}

/* Streaming thread of a name card: its first frame waits here until the
 * main loop has linked it. */
static GstPadProbeReturn
card_first_frame (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  CardWait *w = data;

  (void) pad;
  (void) info;
  if (g_atomic_int_compare_and_exchange (&w->told, 0, 1))
    mm_app_run_main (w->p->app, card_ready, mm_peer_hop_new (w->p), mm_peer_hop_free);
  return GST_PAD_PROBE_OK;   /* blocked until card_ready removes the probe */
}

void
mm_compose_add_card (MmMedia *m, Peer *p)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *fps = g_strdup_printf ("%d", m->app->opts->video_framerate);
  const char *vars[] = { "FRAMERATE", fps, NULL };
  GstBin *bin = mm_pipeline_make_bin (m, "placeholder", vars, &error);
  GstElement *label;
  GstPad *src;

  if (bin == NULL)
    {
      mm_peer_log (p, G_LOG_LEVEL_WARNING, "its name card: %s", error->message);
      return;
    }
  label = gst_bin_get_by_name (bin, "label");
  if (label != NULL)
    {
      g_object_set (label, "text", p->name, NULL);
      gst_object_unref (label);
    }
  p->card = GST_ELEMENT (bin);
  gst_bin_add (GST_BIN (m->pipeline), p->card);
  src = gst_element_get_static_pad (p->card, "src");
  {
    CardWait *w = g_new0 (CardWait, 1);

    w->p = mm_peer_ref (p);
    p->card_block = gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BLOCK | GST_PAD_PROBE_TYPE_BUFFER,
                                       card_first_frame, w, card_wait_free);
  }
  gst_object_unref (src);
  gst_element_sync_state_with_parent (p->card);
}

void
mm_compose_remove_card (MmMedia *m, Peer *p)
{
  if (p->card == NULL)
    return;
  mm_pipeline_remove_bin (m, p->card);
  mm_pipeline_release_pad (m->video_mix, m->compositor, p->card_pad, p->card_ghost);
  p->card = NULL;
  p->card_pad = p->card_ghost = NULL;
  p->card_block = 0;   /* went with the bin */
}
