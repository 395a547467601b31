/* media.c — the room pipeline: webrtcbin per participant, one composite,
 * mix-minus audio.
 *
 * Structure.  The fixed parts are bins parsed from the files in pipelines/:
 * the composite (video-mix: compositor → vp8enc → tee "vtee"), the full
 * mix (audio-mix: audiomixer → opusenc → tee "atee") and one mix-minus per
 * participant who sends audio.  Each participant's incoming video and
 * audio are decoded by bins (video-in, audio-in) ending in a tee.  Every
 * connection between a tee and a consumer is a Branch: a small bin of its
 * own (a queue, for receivers also a packetiser) between a request pad on
 * the tee and a request pad on the consumer (compositor, audiomixer,
 * webrtcbin).  Branches are detached with an IDLE probe on the tee pad,
 * which cuts the tee pad from the branch before any pad is removed, so a
 * shared tee never stops for someone leaving.  A branch that fails is
 * contained: the tee goes on for the others and the participant it
 * served is closed (its client offers again).
 *
 * Threads.  Everything here runs on the main loop, except the GStreamer
 * callbacks marked "streaming thread", which only build self-contained
 * elements and hand over to the main loop with mm_app_run_main().
 */
#include "config.h"

#include "media/media.h"
#include "media/log.h"
#include "media/probe.h"
#include "media/recorder.h"
#include "media/tap.h"
#include "core/error.h"

#include <agent.h>
#include <interfaces.h>
#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/video/video.h>
#include <gst/webrtc/webrtc.h>
#include <math.h>
#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-media"

typedef struct _Peer Peer;

typedef struct {
  MmMedia *m;
  GstElement *bin;        /* the branch's own elements, in the pipeline */
  GstBin *src_bin;        /* holds the tee */
  GstElement *tee;
  GstPad *tee_pad;        /* request pad of the tee */
  GstPad *src_ghost;      /* on src_bin, targets tee_pad */
  GstBin *sink_bin;       /* holds the consumer, or NULL for a top-level one */
  GstElement *sink_el;    /* compositor, audiomixer or webrtcbin */
  GstPad *sink_pad;       /* request pad of the consumer */
  GstPad *sink_ghost;     /* on sink_bin, targets sink_pad (or NULL) */
  Peer *owner;            /* a removal that waits for this branch */
  GstBin *move_to;        /* or a bin with a tee of that name to move to */
  gint detaching;         /* TRUE, then 2 once unlinked (atomic) */
  gint failed;            /* its first failure was posted (atomic) */
} Branch;

struct _Peer {
  gint ref_count;
  MmMedia *m;
  MmApp *app;
  char *id;
  char *name;
  guint order;
  gboolean removed;

  GstElement *webrtc;
  gboolean remote_set;
  gboolean answer_requested;
  gboolean answer_sent;       /* a re-offer may come from now on */
  char *ice_ufrag;            /* of the client's offer: the same in a re-offer
                               * means the same connection, renegotiated */
  GPtrArray *pending_ice;     /* "mline\ncandidate" strings */
  GPtrArray *ice_out;         /* JsonObject*: our "ice" events until the answer */
  guint answer_timer;         /* source closing the connection if no answer comes */
  GPtrArray *sink_pads;       /* webrtcbin sink pads we requested */

  gboolean sends_audio, sends_video, wants_audio, wants_video;
  guint audio_pt, video_pt;
  gint video_mline, audio_mline;  /* m-lines of the camera and the voice, or -1 */
  gint screen_mline;          /* a second video m-line: a shared screen, or -1 */
  gboolean presenting;        /* the client sends on it */
  gboolean screen_paused;     /* the client said it stopped (state presenting=false) */
  GstBin *screen_in;          /* its decoder bin, once it arrives */
  Branch *screen_tile;        /* screen_in → compositor */

  GstBin *mix;                /* mix-minus of everyone else, if sending audio */
  gboolean mix_ready;         /* its output is negotiated: voices may join */
  GstBin *video_in;           /* decoder bins, once media arrives */
  GstBin *audio_in;
  Branch *video_out;          /* composite → webrtcbin */
  Branch *audio_out;          /* a mix → webrtcbin */
  Branch *tile;               /* video_in → compositor */
  GstElement *card;           /* placeholder under the tile (name card) */
  GstPad *card_pad;           /* its compositor pad, and the ghost of it */
  GstPad *card_ghost;
  GPtrArray *voices;          /* Branch*: audio_in → other mixes */
  GPtrArray *mix_inputs;      /* Branch*: others' audio_in → my mix */
  GPtrArray *spare_inputs;    /* GstBin*: decoders of streams not used */

  gboolean audio_muted;
  gboolean video_muted;
  gboolean blocked;           /* may not publish now (a lecture's viewer) */
  gdouble level_db;           /* smoothed */
  guint pending_detach;       /* branches still detaching before teardown */
};

struct _MmMedia {
  gint ref_count;
  gboolean closed;
  MmApp *app;
  char *code;
  MmMediaSink sink;
  GstElement *pipeline;
  GstBin *video_mix;
  GstElement *compositor;
  GstElement *venc;
  GstElement *vtee;
  GstBin *full_mix;
  GHashTable *peers;          /* id → Peer* (owned ref) */
  GPtrArray *leaving;         /* Peer*: out of peers, not torn down yet (no ref) */
  guint next_order;
  guint bus_watch;
  gint64 last_keyframe_us;
  MmLayoutKind layout;
  char *active_speaker;
  guint speaker_candidate_ticks;
  char *speaker_candidate;
  JsonObject *layout_event;   /* the latest "layout", for newcomers */
  MmRecorder *recorder;       /* while recording */
  MmEgress *egress[2];        /* by MmEgressKind, while on */
  MmMediaRecorded recorded;   /* told when a recording is finished */
  gpointer recorded_data;
  gboolean auto_presentation; /* a screen share switched to presentation */
  MmLayoutKind layout_before; /* and the layout to go back to after it */
};

static void remove_card (MmMedia *m, Peer *p);

/* ---- logging (media/log.h) ---------------------------------------------- */

static void G_GNUC_PRINTF (4, 5)
media_log (MmMedia *m, const char *pid, GLogLevelFlags level, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  mm_media_logv (m->code, pid, level, format, args);
  va_end (args);
}

static void G_GNUC_PRINTF (3, 4)
room_log (MmMedia *m, GLogLevelFlags level, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  mm_media_logv (m->code, NULL, level, format, args);
  va_end (args);
}

static void G_GNUC_PRINTF (3, 4)
peer_log (Peer *p, GLogLevelFlags level, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  mm_media_logv (p->m->code, p->id, level, format, args);
  va_end (args);
}

/* ---- small helpers ----------------------------------------------------- */

static Peer *
peer_ref (Peer *p)
{
  g_atomic_int_inc (&p->ref_count);
  return p;
}

static void
peer_unref (gpointer data)
{
  Peer *p = data;

  if (p == NULL || !g_atomic_int_dec_and_test (&p->ref_count))
    return;
  g_free (p->id);
  g_free (p->name);
  g_free (p->ice_ufrag);
  g_ptr_array_unref (p->pending_ice);
  g_ptr_array_unref (p->ice_out);
  g_ptr_array_unref (p->sink_pads);
  g_ptr_array_unref (p->voices);
  g_ptr_array_unref (p->spare_inputs);
  g_ptr_array_unref (p->mix_inputs);
  g_free (p);
}

/* Read pipelines/NAME.pipeline: comments dropped, ${VAR} replaced. */
static char *
load_description (MmMedia *m, const char *name, const char *const *vars, GError **error)
{
  g_autofree char *file = g_strdup_printf ("%s.pipeline", name);
  g_autofree char *path = g_build_filename (m->app->opts->pipelines_dir, file, NULL);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  GString *out = g_string_new (NULL);

  if (!g_file_get_contents (path, &text, NULL, error))
    {
      g_string_free (out, TRUE);
      return NULL;
    }
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *l = lines[i];

      while (*l == ' ' || *l == '\t')
        l++;
      if (*l == '#' || *l == '\0')
        continue;
      g_string_append (out, l);
      g_string_append_c (out, ' ');
    }
  for (guint i = 0; vars != NULL && vars[i] != NULL && vars[i + 1] != NULL; i += 2)
    {
      g_autofree char *key = g_strdup_printf ("${%s}", vars[i]);
      g_string_replace (out, key, vars[i + 1], 0);
    }
  if (strstr (out->str, "${") != NULL)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INTERNAL, "%s: unknown ${...} variable", path);
      g_string_free (out, TRUE);
      return NULL;
    }
  return g_string_free (out, FALSE);
}

/* Ghost the unlinked static pad called @name ("sink" or "src") of the
 * bin's elements as the bin's own @name pad.  (Not every unlinked pad:
 * textoverlay's text_sink, say, stays inside.) */
static void
ghost_named_pad (GstBin *bin, const char *name)
{
  GstIterator *it = gst_bin_iterate_elements (bin);
  GValue item = G_VALUE_INIT;
  gboolean done = FALSE;

  while (!done && gst_iterator_next (it, &item) == GST_ITERATOR_OK)
    {
      GstElement *el = g_value_get_object (&item);
      GstPad *pad = gst_element_get_static_pad (el, name);

      if (pad != NULL && !gst_pad_is_linked (pad))
        {
          GstPad *ghost = gst_ghost_pad_new (name, pad);

          gst_pad_set_active (ghost, TRUE);
          gst_element_add_pad (GST_ELEMENT (bin), ghost);
          done = TRUE;
        }
      if (pad != NULL)
        gst_object_unref (pad);
      g_value_reset (&item);
    }
  g_value_unset (&item);
  gst_iterator_free (it);
}

/* Parse a pipelines/ file into a bin with "sink" and "src" ghost pads
 * where it has such unlinked pads. */
static GstBin *
make_bin (MmMedia *m, const char *name, const char *const *vars, GError **error)
{
  g_autofree char *desc = load_description (m, name, vars, error);
  GstElement *bin;

  if (desc == NULL)
    return NULL;
  bin = gst_parse_bin_from_description (desc, FALSE, error);
  if (bin == NULL)
    {
      g_prefix_error (error, "pipelines/%s.pipeline: ", name);
      return NULL;
    }
  ghost_named_pad (GST_BIN (bin), "sink");
  ghost_named_pad (GST_BIN (bin), "src");
  return GST_BIN (bin);
}

/* A request pad of @el (inside @bin, or top-level when @bin is NULL),
 * ghosted on @bin so that things outside can link to it. */
static GstPad *
request_pad (GstBin *bin, GstElement *el, const char *templ, GstCaps *caps, GstPad **ghost)
{
  GstPadTemplate *t = gst_element_class_get_pad_template (GST_ELEMENT_GET_CLASS (el), templ);
  GstPad *pad = gst_element_request_pad (el, t, NULL, caps);

  *ghost = NULL;
  if (pad == NULL || bin == NULL)
    return pad;
  *ghost = gst_ghost_pad_new (NULL, pad);
  gst_pad_set_active (*ghost, TRUE);
  gst_element_add_pad (GST_ELEMENT (bin), *ghost);
  return pad;
}

static void
release_pad (GstBin *bin, GstElement *el, GstPad *pad, GstPad *ghost)
{
  if (ghost != NULL && bin != NULL)
    gst_element_remove_pad (GST_ELEMENT (bin), ghost);
  if (pad != NULL && el != NULL)
    gst_element_release_request_pad (el, pad);
  if (pad != NULL)
    gst_object_unref (pad);   /* the reference request_pad() returned */
}

static void
remove_bin (MmMedia *m, GstElement *bin)
{
  if (bin == NULL)
    return;
  gst_element_set_locked_state (bin, TRUE);
  gst_element_set_state (bin, GST_STATE_NULL);
  gst_bin_remove (GST_BIN (m->pipeline), bin);
}

/* ---- branches ---------------------------------------------------------- */

/* A new input of a mixer: the pipeline's latency must be worked out
 * again (on_bus), or the mixer keeps waiting only as long as its old
 * inputs needed and drops the newcomer's buffers as late, for good. */
static void
relatency (MmMedia *m)
{
  gst_element_post_message (m->pipeline, gst_message_new_latency (GST_OBJECT (m->pipeline)));
}

/* Inputs come and go while a mixer runs, and on a busy machine a new one
 * can take longer to decode than the ones it had when it last asked its
 * upstream for latency: without a floor it drops the newcomer's every
 * buffer as late (a grey tile, a missing voice), however often the latency
 * is worked out again.  The floor is the jitterbuffer's wait plus
 * MM_DECODE_MARGIN_MS for decoding and scheduling. */
#define MM_DECODE_MARGIN_MS 40

static void
set_upstream_floor (MmMedia *m, GstElement *mixer)
{
  guint64 floor = (guint64) (m->app->opts->jitter_latency + MM_DECODE_MARGIN_MS) * GST_MSECOND;

  g_object_set (mixer, "min-upstream-latency", floor, NULL);
}

/* A tee stops at the first of its pads that returns anything but OK or
 * NOT_LINKED, and hands that upstream: one consumer failing (a viewer whose
 * transport broke, a pad not yet active) would stop the source's streaming
 * task, and with it everyone's composite or a speaker's whole voice.  A
 * branch's entry answers NOT_LINKED instead, which the tee skips.
 *
 * The branch itself is dead from then on: its queue keeps the flow and
 * answers it to every later buffer.  Its queue posts an error for some
 * flows but not for FLUSHING or EOS, so the first failure of a branch
 * that should be running is posted here, from the branch's bin: on_bus
 * closes the participant it serves (peer_failed), whose client offers
 * again, instead of a viewer left connected with no picture. */
static GstFlowReturn
contain (GstPad *pad, GstFlowReturn ret)
{
  Branch *b = gst_pad_get_element_private (pad);

  if (ret == GST_FLOW_OK || ret == GST_FLOW_NOT_LINKED)
    return ret;
  GST_DEBUG_OBJECT (pad, "branch returned %s: not handed to the tee", gst_flow_get_name (ret));
  if (b != NULL && !g_atomic_int_get (&b->detaching)
      && GST_STATE_TARGET (b->bin) == GST_STATE_PLAYING
      && g_atomic_int_compare_and_exchange (&b->failed, FALSE, TRUE))
    {
      GError *err = g_error_new (GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED,
                                 "media to the participant stopped (%s)",
                                 gst_flow_get_name (ret));

      gst_element_post_message (b->bin, gst_message_new_error (GST_OBJECT (b->bin), err,
                                                               "a branch of a tee failed"));
      g_error_free (err);
    }
  return GST_FLOW_NOT_LINKED;
}

/* A branch about to stop: contain() reports nothing for it. */
static void
branch_quiet (Branch *b)
{
  if (b != NULL)
    g_atomic_int_set (&b->failed, TRUE);
}

static GstFlowReturn
branch_chain (GstPad *pad, GstObject *parent, GstBuffer *buf)
{
  return contain (pad, gst_proxy_pad_chain_default (pad, parent, buf));
}

static GstFlowReturn
branch_chain_list (GstPad *pad, GstObject *parent, GstBufferList *list)
{
  return contain (pad, gst_proxy_pad_chain_list_default (pad, parent, list));
}

/* Connect tee @tee_name of @src_bin through a new bin from pipelines/@desc
 * to @sink_pad, a request pad of @sink_el (inside @sink_bin or top-level).
 * Takes ownership of @sink_pad (and @sink_ghost). */
static Branch *
branch_new (MmMedia *m, GstBin *src_bin, const char *tee_name, const char *desc,
            const char *const *vars, GstBin *sink_bin, GstElement *sink_el, GstPad *sink_pad,
            GstPad *sink_ghost, GError **error)
{
  Branch *b = g_new0 (Branch, 1);
  GstPad *bin_sink, *bin_src;
  GstPadLinkReturn r1, r2;

  b->m = m;
  b->src_bin = src_bin;
  b->sink_bin = sink_bin;
  b->sink_el = sink_el;
  b->sink_pad = sink_pad;
  b->sink_ghost = sink_ghost;
  b->tee = gst_bin_get_by_name (src_bin, tee_name);
  g_assert (b->tee != NULL);   /* our own pipeline files name their tees */
  b->bin = GST_ELEMENT (make_bin (m, desc, vars, error));
  if (b->bin == NULL)
    {
      release_pad (sink_bin, sink_el, sink_pad, sink_ghost);
      gst_object_unref (b->tee);
      g_free (b);
      return NULL;
    }
  gst_bin_add (GST_BIN (m->pipeline), b->bin);
  bin_sink = gst_element_get_static_pad (b->bin, "sink");
  bin_src = gst_element_get_static_pad (b->bin, "src");
  gst_pad_set_element_private (bin_sink, b);
  gst_pad_set_chain_function (bin_sink, branch_chain);
  gst_pad_set_chain_list_function (bin_sink, branch_chain_list);
  r1 = gst_pad_link (bin_src, sink_ghost != NULL ? sink_ghost : sink_pad);
  /* Playing before the tee reaches it: a tee that pushes into a pad not
   * yet active gets FLUSHING back and hands it upstream, which stops the
   * source's streaming task for good (a participant's whole incoming
   * media, or the composite's encoder). */
  gst_element_sync_state_with_parent (b->bin);
  b->tee_pad = mm_tap_tee (src_bin, b->tee, bin_sink, &b->src_ghost, &r2);
  gst_object_unref (bin_sink);
  gst_object_unref (bin_src);
  if (r1 != GST_PAD_LINK_OK || r2 != GST_PAD_LINK_OK)
    room_log (m, G_LOG_LEVEL_WARNING, "linking %s failed (%d, %d)", desc, r1, r2);
  return b;
}

/* Take a branch out now: for branches whose tee no longer carries data
 * (its source is stopped) or whose consumer is going away with it. */
static void
branch_free_now (Branch *b, gboolean release_sink)
{
  MmMedia *m = b->m;

  remove_bin (m, b->bin);
  release_pad (b->src_bin, b->tee, b->tee_pad, b->src_ghost);
  if (release_sink)
    release_pad (b->sink_bin, b->sink_el, b->sink_pad, b->sink_ghost);
  else
    gst_object_unref (b->sink_pad);
  gst_object_unref (b->tee);
  g_free (b);
}

static void peer_detach_done (Peer *p);

/* The branch is unlinked from its old tee: link it to the same tee of
 * move_to.  Its elements (a receiver's packetiser, say) go on as they
 * were, so the stream keeps its SSRC, sequence numbers and timing. */
static void
branch_move_finish (Branch *b)
{
  MmMedia *m = b->m;
  char *tee_name = gst_object_get_name (GST_OBJECT (b->tee));
  GstPad *bin_sink = gst_element_get_static_pad (b->bin, "sink");
  GstPadLinkReturn r;

  release_pad (b->src_bin, b->tee, b->tee_pad, b->src_ghost);
  gst_object_unref (b->tee);
  b->src_bin = g_steal_pointer (&b->move_to);
  b->tee = gst_bin_get_by_name (b->src_bin, tee_name);
  g_assert (b->tee != NULL);   /* our own pipeline files name their tees */
  b->tee_pad = mm_tap_tee (b->src_bin, b->tee, bin_sink, &b->src_ghost, &r);
  if (r != GST_PAD_LINK_OK)
    room_log (m, G_LOG_LEVEL_WARNING, "moving a branch to another %s failed", tee_name);
  b->detaching = FALSE;
  gst_object_unref (bin_sink);
  g_free (tee_name);
}

typedef struct {
  Branch *b;
  gboolean release_sink;
  MmMedia *m;   /* a reference: the room may close meanwhile */
} Detach;

static void media_unref (MmMedia *m);

static void
detach_free (gpointer data)
{
  Detach *d = data;

  media_unref (d->m);
  g_free (d);
}

static void
detach_finish (MmApp *app, gpointer data)
{
  Detach *d = data;
  Peer *owner = d->b->owner;

  if (d->b->move_to != NULL)
    {
      branch_move_finish (d->b);
      return;
    }
  branch_free_now (d->b, d->release_sink);
  if (owner != NULL)
    peer_detach_done (owner);
}

/* Streaming thread or here: the tee pad is idle, unlink it. */
static GstPadProbeReturn
detach_idle (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Detach *d = data;

  if (!g_atomic_int_compare_and_exchange (&d->b->detaching, TRUE, 2))
    return GST_PAD_PROBE_REMOVE;
  mm_tap_cut (d->b->src_ghost);
  mm_app_run_main (d->m->app, detach_finish, d, detach_free);
  return GST_PAD_PROBE_REMOVE;
}

/* Detach a branch from a tee that keeps running for others. */
static void
branch_detach (Branch *b, Peer *owner, gboolean release_sink)
{
  Detach *d = g_new0 (Detach, 1);

  d->b = b;
  d->release_sink = release_sink;
  d->m = b->m;
  g_atomic_int_inc (&b->m->ref_count);
  b->owner = owner;
  b->detaching = TRUE;
  if (owner != NULL)
    owner->pending_detach++;
  gst_pad_add_probe (b->tee_pad, GST_PAD_PROBE_TYPE_IDLE, detach_idle, d, NULL);
}

/* Move a branch from its running tee to the tee of the same name in
 * @to, once the old tee pad is idle. */
static void
branch_move (Branch *b, GstBin *to)
{
  branch_detach (b, NULL, FALSE);
  b->move_to = to;
}

/* ---- input timing ------------------------------------------------------ */

/* rtpbin lines up the streams of one sender from its RTCP sender reports
 * (lip sync): it delays the voice until the matching camera frame would
 * play.  The compositor shows each camera frame as soon as it has one and
 * does not wait for its time, so that delay only held the voice back in
 * the mix (80 ms in make bench, and the mix then lagged the composite by
 * as much at every receiver).  Offsets above 1 ns are ignored: each
 * stream keeps its own arrival timing. */
static void
keep_input_timing (Peer *p)
{
  GstElement *rtpbin = gst_bin_get_by_name (GST_BIN (p->webrtc), "rtpbin");

  if (rtpbin == NULL)
    {
      peer_log (p, G_LOG_LEVEL_WARNING,
                "webrtcbin has no element named rtpbin: inputs stay lip-synced");
      return;
    }
  g_object_set (rtpbin, "max-ts-offset", (gint64) 1, NULL);
  gst_object_unref (rtpbin);
}

/* ---- keyframes --------------------------------------------------------- */

/* Keyframe requests (a joiner, a receiver's PLI/FIR) reach vp8enc as
 * upstream force-key-unit events; let one through per keyframe-interval. */
static GstPadProbeReturn
limit_keyframes (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  MmMedia *m = data;
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  gint64 now = g_get_monotonic_time ();

  if (!gst_video_event_is_force_key_unit (ev))
    return GST_PAD_PROBE_OK;
  if (now - m->last_keyframe_us < (gint64) m->app->opts->keyframe_interval * 1000)
    return GST_PAD_PROBE_DROP;
  m->last_keyframe_us = now;
  return GST_PAD_PROBE_OK;
}

static void
force_keyframe (MmMedia *m)
{
  GstPad *src = gst_element_get_static_pad (m->venc, "src");

  gst_pad_send_event (src, gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE,
                                                                         TRUE, 0));
  gst_object_unref (src);
}

/* ---- layout ------------------------------------------------------------ */

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

static gboolean
shows_screen (const Peer *p)
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
      if (shows_screen (p))
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
static void
hide_peer (Peer *p)
{
  hide_pad (p->tile != NULL ? p->tile->sink_pad : NULL);
  hide_pad (p->card_pad);
  hide_pad (p->screen_tile != NULL ? p->screen_tile->sink_pad : NULL);
}

static void
place_pad (GstPad *pad, const MmTile *t, gboolean visible)
{
  if (pad != NULL)
    g_object_set (pad, "xpos", t->x, "ypos", t->y, "width", t->width, "height", t->height,
                  "alpha", visible ? 1.0 : 0.0, NULL);
}

static void
relayout (MmMedia *m)
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

      hide_peer (p);
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
            place_pad (p->screen_tile->sink_pad, &tiles[t], TRUE);
          else
            {
              /* The name card under the video shows when the video is
               * off or has not arrived. */
              place_pad (p->card_pad, &tiles[t], TRUE);
              place_pad (p->tile != NULL ? p->tile->sink_pad : NULL, &tiles[t], !p->video_muted);
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
static void
screens_changed (MmMedia *m)
{
  GHashTableIter it;
  gpointer value;
  gboolean any = FALSE;

  g_hash_table_iter_init (&it, m->peers);
  while (g_hash_table_iter_next (&it, NULL, &value))
    any = any || shows_screen (value);
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
  relayout (m);
}

gboolean
mm_media_set_layout (MmMedia *m, MmLayoutKind kind)
{
  m->layout = kind;
  m->auto_presentation = FALSE;   /* the host's choice stands */
  relayout (m);
  return TRUE;
}

/* ---- active speaker ---------------------------------------------------- */

#define SPEAKER_THRESHOLD_DB -45.0
#define SPEAKER_TICKS 3     /* level messages (100 ms) a new speaker must lead */

static void
update_speaker (MmMedia *m, Peer *reading)
{
  GHashTableIter it;
  gpointer value;
  Peer *loudest = NULL;

  g_hash_table_iter_init (&it, m->peers);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      Peer *p = value;

      if (p->audio_muted || p->level_db < SPEAKER_THRESHOLD_DB)
        continue;
      if (loudest == NULL || p->level_db > loudest->level_db)
        loudest = p;
    }
  if (loudest == NULL || g_strcmp0 (loudest->id, m->active_speaker) == 0)
    {
      m->speaker_candidate_ticks = 0;
      return;
    }
  if (g_strcmp0 (loudest->id, m->speaker_candidate) != 0)
    {
      g_free (m->speaker_candidate);
      m->speaker_candidate = g_strdup (loudest->id);
      m->speaker_candidate_ticks = 0;
    }
  /* Each speaker's level arrives every 100 ms: count the candidate's own. */
  if (reading == loudest)
    m->speaker_candidate_ticks++;
  if (m->speaker_candidate_ticks < SPEAKER_TICKS)
    return;
  g_free (m->active_speaker);
  m->active_speaker = g_strdup (loudest->id);
  {
    g_autoptr (JsonObject) ev = json_object_new ();

    json_object_set_string_member (ev, "participant_id", loudest->id);
    json_object_set_string_member (ev, "display_name", loudest->name);
    m->sink.broadcast (m->sink.data, "active-speaker", ev);
  }
  if (m->layout == MM_LAYOUT_SPEAKER)
    relayout (m);
}

static void
on_level (MmMedia *m, GstMessage *msg)
{
  const GstStructure *s = gst_message_get_structure (msg);
  const char *pid = g_object_get_data (G_OBJECT (GST_MESSAGE_SRC (msg)), "mm-peer");
  const GValue *rms = gst_structure_get_value (s, "rms");
  Peer *p = pid ? g_hash_table_lookup (m->peers, pid) : NULL;
  gdouble db;

  if (p == NULL || rms == NULL)
    return;
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  {
    GValueArray *arr = g_value_get_boxed (rms);
    db = arr && arr->n_values > 0 ? g_value_get_double (g_value_array_get_nth (arr, 0)) : -100;
  }
  G_GNUC_END_IGNORE_DEPRECATIONS
  if (!isfinite (db))
    db = -100;
  p->level_db = 0.6 * p->level_db + 0.4 * db;
  update_speaker (m, p);
}

/* ---- bus --------------------------------------------------------------- */

static gboolean
branch_is (const Branch *b, GstObject *o)
{
  return b != NULL && o == GST_OBJECT (b->bin);
}

/* The peer a failed branch serves: the receiver of its media out, the
 * owner of a tile, the listener of a mix-minus input. */
static gboolean
branch_of_peer (Peer *p, GstObject *o)
{
  if (branch_is (p->video_out, o) || branch_is (p->audio_out, o) || branch_is (p->tile, o)
      || branch_is (p->screen_tile, o))
    return TRUE;
  for (guint i = 0; i < p->mix_inputs->len; i++)
    if (branch_is (p->mix_inputs->pdata[i], o))
      return TRUE;
  return FALSE;
}

/* The peer whose elements include @obj, or NULL. */
static Peer *
peer_of (MmMedia *m, GstObject *obj)
{
  for (GstObject *o = obj; o != NULL; o = GST_OBJECT_PARENT (o))
    {
      GHashTableIter it;
      gpointer value;

      g_hash_table_iter_init (&it, m->peers);
      while (g_hash_table_iter_next (&it, NULL, &value))
        {
          Peer *p = value;

          if (o == GST_OBJECT (p->webrtc) || o == GST_OBJECT (p->video_in)
              || o == GST_OBJECT (p->audio_in) || o == GST_OBJECT (p->mix)
              || o == GST_OBJECT (p->screen_in)
              || o == GST_OBJECT (p->card) || branch_of_peer (p, o))
            return p;
        }
    }
  return NULL;
}

static void close_peer (Peer *p, const char *why);

/* A participant's media failed (its connection or one of its own
 * elements): close it and tell the client, which offers again. */
static void
peer_failed (MmMedia *m, GstObject *src, const char *why)
{
  Peer *p = peer_of (m, src);

  if (p == NULL || p->removed)
    return;
  close_peer (p, why);
}

static gboolean
on_bus (GstBus *bus, GstMessage *msg, gpointer data)
{
  MmMedia *m = data;

  switch (GST_MESSAGE_TYPE (msg))
    {
    case GST_MESSAGE_ERROR:
      {
        g_autoptr (GError) err = NULL;
        g_autofree char *dbg = NULL;
        g_autofree char *name = gst_object_get_path_string (GST_MESSAGE_SRC (msg));

        gst_message_parse_error (msg, &err, &dbg);
        {
          Peer *p = peer_of (m, GST_MESSAGE_SRC (msg));

          media_log (m, p != NULL ? p->id : NULL, G_LOG_LEVEL_WARNING, "%s: %s (%s)", name,
                     err->message, dbg ? dbg : "");
        }
        GST_DEBUG_BIN_TO_DOT_FILE_WITH_TS (GST_BIN (m->pipeline), GST_DEBUG_GRAPH_SHOW_ALL,
                                           "mixmeet-error");
        peer_failed (m, GST_MESSAGE_SRC (msg), err->message);
        break;
      }
    case GST_MESSAGE_WARNING:
      {
        g_autoptr (GError) err = NULL;
        g_autofree char *name = gst_object_get_path_string (GST_MESSAGE_SRC (msg));

        gst_message_parse_warning (msg, &err, NULL);
        room_log (m, G_LOG_LEVEL_DEBUG, "%s: %s", name, err->message);
        break;
      }
    case GST_MESSAGE_LATENCY:
      {
        GstQuery *q = gst_query_new_latency ();
        GstPad *src = gst_element_get_static_pad (m->compositor, "src");
        GstClockTime min = 0;

        gst_bin_recalculate_latency (GST_BIN (m->pipeline));
        /* Received packet to composite frame: jitterbuffer, decoding and
         * the compositor's own wait. */
        if (gst_pad_query (src, q))
          gst_query_parse_latency (q, NULL, &min, NULL);
        gst_query_unref (q);
        gst_object_unref (src);
        room_log (m, G_LOG_LEVEL_INFO, "latency up to the composite %" G_GUINT64_FORMAT " ms",
                  (guint64) (min / GST_MSECOND));
        break;
      }
    case GST_MESSAGE_ELEMENT:
      if (gst_message_has_name (msg, "level"))
        on_level (m, msg);
      break;
    default:
      break;
    }
  return G_SOURCE_CONTINUE;
}

/* ---- the room ---------------------------------------------------------- */

gboolean
mm_media_check_elements (GError **error)
{
  static const struct {
    const char *element;
    const char *package;
  } needed[] = {
    { "webrtcbin", "gstreamer1.0-plugins-bad" },
    { "nicesrc", "gstreamer1.0-nice" },
    { "dtlssrtpenc", "gstreamer1.0-plugins-bad" },
    { "srtpenc", "gstreamer1.0-plugins-bad" },
    { "rtpbin", "gstreamer1.0-plugins-good" },
    { "compositor", "gstreamer1.0-plugins-base" },
    { "audiomixer", "gstreamer1.0-plugins-base" },
    { "videotestsrc", "gstreamer1.0-plugins-base" },
    { "audiotestsrc", "gstreamer1.0-plugins-base" },
    { "videoconvert", "gstreamer1.0-plugins-base" },
    { "audioconvert", "gstreamer1.0-plugins-base" },
    { "audioresample", "gstreamer1.0-plugins-base" },
    { "textoverlay", "gstreamer1.0-x" },
    { "vp8enc", "gstreamer1.0-plugins-good" },
    { "vp8dec", "gstreamer1.0-plugins-good" },
    { "rtpvp8pay", "gstreamer1.0-plugins-good" },
    { "rtpvp8depay", "gstreamer1.0-plugins-good" },
    { "opusenc", "gstreamer1.0-plugins-base" },
    { "opusdec", "gstreamer1.0-plugins-base" },
    { "rtpopuspay", "gstreamer1.0-plugins-good" },
    { "rtpopusdepay", "gstreamer1.0-plugins-good" },
    { "level", "gstreamer1.0-plugins-good" },
    { "tee", "libgstreamer1.0-0" },
    { "queue", "libgstreamer1.0-0" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (needed); i++)
    {
      GstElementFactory *f = gst_element_factory_find (needed[i].element);

      if (f == NULL)
        {
          g_set_error (error, MM_ERROR, MM_ERROR_INTERNAL,
                       "the GStreamer element %s is missing: apt-get install %s",
                       needed[i].element, needed[i].package);
          return FALSE;
        }
      gst_object_unref (f);
    }
  return TRUE;
}

static const char *const egress_names[] = { "hls", "rtmp" };
static char *egress_description (MmMedia *m, MmEgressKind kind, GError **error);

gboolean
mm_media_check_pipelines (MmApp *app, GError **error)
{
  static const char *const names[] = { "video-mix", "audio-mix", "video-in", "audio-in",
                                        "video-out", "audio-out", "tile-in", "voice-in",
                                        "placeholder" };
  const char *vars[] = { "WIDTH", "640", "HEIGHT", "360", "FRAMERATE", "30", "BITRATE", "32000",
                         "PT", "96", NULL };
  MmMedia fake = { .app = app };
  NiceAddress addr;

  g_auto (GStrv) listed = g_strsplit (app->opts->ice_addresses, ",", -1);

  nice_address_init (&addr);
  if (*app->opts->public_ip != '\0' && !nice_address_set_from_string (&addr, app->opts->public_ip))
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                   "media.public-ip: %s is not an IP address", app->opts->public_ip);
      return FALSE;
    }
  for (guint i = 0; listed[i] != NULL; i++)
    {
      const char *a = g_strstrip (listed[i]);

      if (*a != '\0' && !nice_address_set_from_string (&addr, a))
        {
          g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                       "media.ice-addresses: %s is not an IP address", a);
          return FALSE;
        }
    }
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      GstBin *bin = make_bin (&fake, names[i], vars, error);

      if (bin == NULL)
        return FALSE;
      gst_object_unref (gst_object_ref_sink (bin));
    }
  /* Egress is optional: without its elements the rest still works. */
  for (int k = 0; k < 2; k++)
    {
      g_autoptr (GError) e = NULL;
      g_autofree char *desc = egress_description (&fake, k, &e);
      GstElement *pipe = desc ? gst_parse_launch (desc, &e) : NULL;

      if (pipe == NULL || e != NULL)
        g_warning ("pipelines/%s.pipeline: %s; %s egress is not available", egress_names[k],
                   e ? e->message : "cannot be built",
                   k == MM_EGRESS_HLS ? "HLS" : "RTMP");
      if (pipe != NULL)
        gst_object_unref (gst_object_ref_sink (pipe));
    }
  return TRUE;
}

MmMedia *
mm_media_new (MmApp *app, const char *code, const MmMediaSink *sink, GError **error)
{
  MmMedia *m = g_new0 (MmMedia, 1);
  const MmOptions *o = app->opts;
  g_autofree char *w = g_strdup_printf ("%d", o->video_width);
  g_autofree char *h = g_strdup_printf ("%d", o->video_height);
  g_autofree char *fps = g_strdup_printf ("%d", o->video_framerate);
  g_autofree char *vbr = g_strdup_printf ("%d", o->video_bitrate * 1000);
  g_autofree char *abr = g_strdup_printf ("%d", o->audio_bitrate * 1000);
  const char *vvars[] = { "WIDTH", w, "HEIGHT", h, "FRAMERATE", fps, "BITRATE", vbr, NULL };
  const char *avars[] = { "BITRATE", abr, NULL };
  g_autofree char *name = g_strdup_printf ("room-%s", code);
  GstBus *bus;
  GstPad *venc_src;

  m->ref_count = 1;
  m->app = app;
  m->code = g_strdup (code);
  m->sink = *sink;
  m->layout = MM_LAYOUT_GRID;
  m->peers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, peer_unref);
  m->leaving = g_ptr_array_new ();
  m->pipeline = gst_pipeline_new (name);
  m->video_mix = make_bin (m, "video-mix", vvars, error);
  m->full_mix = m->video_mix ? make_bin (m, "audio-mix", avars, error) : NULL;
  if (m->full_mix == NULL)
    {
      if (m->video_mix != NULL)
        gst_object_unref (gst_object_ref_sink (m->video_mix));
      mm_media_free (m);
      return NULL;
    }
  gst_bin_add (GST_BIN (m->pipeline), GST_ELEMENT (m->video_mix));
  gst_bin_add (GST_BIN (m->pipeline), GST_ELEMENT (m->full_mix));
  m->compositor = gst_bin_get_by_name (m->video_mix, "vmix");
  m->venc = gst_bin_get_by_name (m->video_mix, "venc");
  m->vtee = gst_bin_get_by_name (m->video_mix, "vtee");
  if (m->compositor == NULL || m->venc == NULL || m->vtee == NULL
      || gst_bin_get_by_name (m->full_mix, "amix") == NULL)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INTERNAL,
                           "pipelines/video-mix.pipeline must name vmix, venc and vtee, "
                           "and audio-mix.pipeline amix and atee");
      mm_media_free (m);
      return NULL;
    }
  set_upstream_floor (m, m->compositor);
  {
    GstElement *amix = gst_bin_get_by_name (m->full_mix, "amix");
    GstElement *aenc = gst_bin_get_by_name (m->full_mix, "aenc");

    set_upstream_floor (m, amix);
    if (aenc != NULL)
      mm_probe_audio_mix (amix, aenc);
    gst_object_unref (amix);
    g_clear_object (&aenc);
  }
  venc_src = gst_element_get_static_pad (m->venc, "src");
  gst_pad_add_probe (venc_src, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, limit_keyframes, m, NULL);
  gst_object_unref (venc_src);
  mm_probe_composite (m->compositor, m->venc);

  bus = gst_pipeline_get_bus (GST_PIPELINE (m->pipeline));
  m->bus_watch = gst_bus_add_watch (bus, on_bus, m);
  gst_object_unref (bus);
  if (gst_element_set_state (m->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INTERNAL, "room %s: the pipeline did not start", code);
      mm_media_free (m);
      return NULL;
    }
  room_log (m, G_LOG_LEVEL_INFO, "media pipeline started (%dx%d at %d fps)", o->video_width,
            o->video_height, o->video_framerate);
  return m;
}

static void peer_teardown (Peer *p);

static void
media_unref (MmMedia *m)
{
  GHashTableIter it;
  gpointer value;

  if (!g_atomic_int_dec_and_test (&m->ref_count))
    return;
  /* The pipeline is stopped: what is left goes without ceremony. */
  g_hash_table_iter_init (&it, m->peers);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      Peer *p = value;

      if (p->tile != NULL)
        branch_free_now (p->tile, TRUE);
      if (p->screen_tile != NULL)
        branch_free_now (p->screen_tile, TRUE);
      p->screen_tile = NULL;
      remove_card (m, p);
      for (guint i = 0; i < p->voices->len; i++)
        branch_free_now (p->voices->pdata[i], TRUE);
      if (p->video_out != NULL)
        branch_free_now (p->video_out, FALSE);
      if (p->audio_out != NULL)
        branch_free_now (p->audio_out, FALSE);
      p->tile = p->video_out = p->audio_out = NULL;
      g_ptr_array_set_size (p->voices, 0);
      g_ptr_array_set_size (p->mix_inputs, 0);
    }
  g_hash_table_remove_all (m->peers);
  g_hash_table_unref (m->peers);
  g_ptr_array_unref (m->leaving);
  g_clear_object (&m->compositor);
  g_clear_object (&m->venc);
  g_clear_object (&m->vtee);
  g_clear_object (&m->pipeline);
  g_free (m->code);
  g_free (m->active_speaker);
  g_free (m->speaker_candidate);
  g_clear_pointer (&m->layout_event, json_object_unref);
  g_free (m);
}

/* Stop @p's webrtcbin and take it out of the pipeline, as the room
 * closes. */
static void
stop_connection (MmMedia *m, Peer *p)
{
  if (p->webrtc == NULL)
    return;
  g_signal_handlers_disconnect_by_data (p->webrtc, p);
  gst_element_set_locked_state (p->webrtc, TRUE);
  gst_element_set_state (p->webrtc, GST_STATE_NULL);
  gst_bin_remove (GST_BIN (m->pipeline), p->webrtc);
  p->webrtc = NULL;
}

void
mm_media_free (MmMedia *m)
{
  GHashTableIter it;
  gpointer value;
  gint64 t0;

  if (m == NULL)
    return;
  t0 = g_get_monotonic_time ();
  m->closed = TRUE;
  /* The recording is finished before the pipeline stops. */
  if (m->recorder != NULL)
    mm_recorder_stop_now (g_steal_pointer (&m->recorder), 3000, m->recorded, m->recorded_data);
  for (int k = 0; k < 2; k++)
    if (m->egress[k] != NULL)
      mm_egress_stop (g_steal_pointer (&m->egress[k]), TRUE);
  /* The connections first, and out of the pipeline: each webrtcbin feeds
   * the composite and the mixes (through its decoders) and is fed by
   * them, a cycle in the room's graph that leaves the pipeline no order
   * to stop its elements in, sinks first ("loop detected in the graph").
   * Without them the graph runs one way, from the sources to the sinks. */
  g_hash_table_iter_init (&it, m->peers);
  while (g_hash_table_iter_next (&it, NULL, &value))
    stop_connection (m, value);
  for (guint i = 0; i < m->leaving->len; i++)
    stop_connection (m, m->leaving->pdata[i]);
  if (m->pipeline != NULL)
    gst_element_set_state (m->pipeline, GST_STATE_NULL);
  if (m->bus_watch != 0)
    g_source_remove (m->bus_watch);
  m->bus_watch = 0;
  /* Work already handed to the main loop sees the peers gone. */
  g_hash_table_iter_init (&it, m->peers);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      ((Peer *) value)->removed = TRUE;
      g_clear_handle_id (&((Peer *) value)->answer_timer, g_source_remove);
    }
  room_log (m, G_LOG_LEVEL_INFO, "media closed (%" G_GINT64_FORMAT " ms)",
            (g_get_monotonic_time () - t0) / 1000);
  media_unref (m);
}

/* ---- egress ---------------------------------------------------------------- */

static char *
egress_description (MmMedia *m, MmEgressKind kind, GError **error)
{
  const MmOptions *o = m->app->opts;
  g_autofree char *br = g_strdup_printf ("%d", o->egress_bitrate);
  g_autofree char *keyint = g_strdup_printf ("%d", o->video_framerate * 2);
  const char *vars[] = { "BITRATE", br, "KEYINT", keyint, "SEGMENT", "2", NULL };

  return load_description (m, egress_names[kind], vars, error);
}

gboolean
mm_media_egress_start (MmMedia *m, MmEgressKind kind, const char *target, MmEgressState state,
                       gpointer data, GError **error)
{
  g_autofree char *desc = NULL;

  if (m->egress[kind] != NULL)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_CONFLICT, "%s is on already",
                   kind == MM_EGRESS_HLS ? "HLS" : "the RTMP push");
      return FALSE;
    }
  desc = egress_description (m, kind, error);
  if (desc != NULL)
    m->egress[kind] = mm_egress_start (m->app->ctx, m->pipeline, m->video_mix, m->full_mix, kind,
                                       desc, target, state, data, error);
  if (m->egress[kind] == NULL)
    {
      if (error != NULL && *error != NULL && (*error)->domain != MM_ERROR)
        {
          GError *e = g_error_new (MM_ERROR, MM_ERROR_INTERNAL, "room %s: %s: %s", m->code,
                                   egress_names[kind], (*error)->message);

          g_clear_error (error);
          g_propagate_error (error, e);
        }
      return FALSE;
    }
  /* Each segment and the encoder's start want a keyframe of their own,
   * which x264 makes; the room's VP8 goes on as it was. */
  return TRUE;
}

gboolean
mm_media_egress_stop (MmMedia *m, MmEgressKind kind, GError **error)
{
  if (m->egress[kind] == NULL)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_CONFLICT, "%s is not on",
                   kind == MM_EGRESS_HLS ? "HLS" : "the RTMP push");
      return FALSE;
    }
  mm_egress_stop (g_steal_pointer (&m->egress[kind]), FALSE);
  return TRUE;
}

gboolean
mm_media_egress_on (MmMedia *m, MmEgressKind kind)
{
  return m->egress[kind] != NULL;
}

/* ---- recording ---------------------------------------------------------- */

static void
keyframe_now (gpointer data)
{
  MmMedia *m = data;

  m->last_keyframe_us = 0;   /* not held back by the rate limit */
  force_keyframe (m);
}

gboolean
mm_media_record_start (MmMedia *m, const char *path, MmMediaRecorded done, gpointer data,
                       GError **error)
{
  if (m->recorder != NULL)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_CONFLICT, "the room is being recorded already");
      return FALSE;
    }
  m->recorder = mm_recorder_start (m->app->ctx, m->pipeline, m->video_mix, m->full_mix, path,
                                   keyframe_now, m, error);
  if (m->recorder == NULL)
    {
      g_prefix_error (error, "room %s: ", m->code);
      if (error != NULL && *error != NULL && (*error)->domain != MM_ERROR)
        {
          GError *e = g_error_new_literal (MM_ERROR, MM_ERROR_INTERNAL, (*error)->message);

          g_clear_error (error);
          g_propagate_error (error, e);
        }
      return FALSE;
    }
  m->recorded = done;
  m->recorded_data = data;
  return TRUE;
}

gboolean
mm_media_record_stop (MmMedia *m, GError **error)
{
  if (m->recorder == NULL)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_CONFLICT, "the room is not being recorded");
      return FALSE;
    }
  mm_recorder_stop (g_steal_pointer (&m->recorder), m->recorded, m->recorded_data);
  return TRUE;
}

gboolean
mm_media_is_recording (MmMedia *m)
{
  return m->recorder != NULL;
}

gboolean
mm_media_has_peer (MmMedia *m, const char *pid)
{
  return g_hash_table_contains (m->peers, pid);
}

guint
mm_media_n_peers (MmMedia *m)
{
  return g_hash_table_size (m->peers);
}

/* ---- a participant's connection --------------------------------------- */

typedef struct {
  Peer *p;
  char *text;
  guint mline;
  GstBin *bin;
  gboolean video;
} Hop;

static void
hop_free (gpointer data)
{
  Hop *h = data;

  peer_unref (h->p);
  g_free (h->text);
  if (h->bin != NULL)
    gst_object_unref (h->bin);
  g_free (h);
}

static Hop *
hop_new (Peer *p)
{
  Hop *h = g_new0 (Hop, 1);
  h->p = peer_ref (p);
  return h;
}

/* A candidate of ours as the client must see it: with [media] public-ip
 * set, a host candidate carries that address in place of the local one
 * (1:1 NAT, a container with published ports).  Candidates of the other
 * address family and server-reflexive or relayed ones stay as they are.
 * Returns (transfer full). */
static char *
announced_candidate (const MmOptions *o, const char *candidate)
{
  g_auto (GStrv) f = NULL;
  NiceAddress local, pub;

  if (*o->public_ip == '\0')
    return g_strdup (candidate);
  f = g_strsplit (candidate, " ", -1);
  nice_address_init (&local);
  nice_address_init (&pub);
  if (g_strv_length (f) < 8 || g_strcmp0 (f[6], "typ") != 0 || g_strcmp0 (f[7], "host") != 0
      || !nice_address_set_from_string (&local, f[4])
      || !nice_address_set_from_string (&pub, o->public_ip)
      || nice_address_ip_version (&local) != nice_address_ip_version (&pub))
    return g_strdup (candidate);
  g_free (f[4]);
  f[4] = g_strdup (o->public_ip);
  return g_strjoinv (" ", f);
}

/* Our answer @sdp as the client must see it: a=candidate lines, if any,
 * as announced_candidate() says.  Returns (transfer full). */
static char *
announced_sdp (const MmOptions *o, const char *sdp)
{
  g_auto (GStrv) lines = NULL;
  GString *out;

  if (*o->public_ip == '\0' || strstr (sdp, "a=candidate:") == NULL)
    return g_strdup (sdp);
  lines = g_strsplit (sdp, "\r\n", -1);
  out = g_string_new (NULL);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "a=candidate:"))
        {
          g_autofree char *c = announced_candidate (o, lines[i] + strlen ("a="));

          g_string_append_printf (out, "a=%s", c);
        }
      else
        g_string_append (out, lines[i]);
      if (lines[i + 1] != NULL)
        g_string_append (out, "\r\n");
    }
  return g_string_free (out, FALSE);
}

static void
send_ice (MmApp *app, gpointer data)
{
  Hop *h = data;
  Peer *p = h->p;
  g_autoptr (JsonObject) ev = NULL;

  if (p->removed)
    return;
  ev = json_object_new ();
  json_object_set_string_member (ev, "candidate", h->text);
  json_object_set_int_member (ev, "sdp_mline_index", h->mline);
  /* A client takes our candidates only once it has our answer. */
  if (!p->answer_sent)
    g_ptr_array_add (p->ice_out, g_steal_pointer (&ev));
  else
    p->m->sink.send (p->m->sink.data, p->id, "ice", ev);
}

/* Streaming thread. */
static void
on_ice_candidate (GstElement *webrtc, guint mline, char *candidate, gpointer data)
{
  Peer *p = data;
  Hop *h = hop_new (p);

  h->mline = mline;
  h->text = announced_candidate (p->app->opts, candidate);
  mm_app_run_main (p->m->app, send_ice, h, hop_free);
}

/* Close @p's connection and tell its client why in a "media-failed"
 * event: it is free to offer again at once. */
static void
close_peer (Peer *p, const char *why)
{
  MmMedia *m = p->m;
  g_autofree char *pid = g_strdup (p->id);
  g_autoptr (JsonObject) ev = json_object_new ();

  peer_log (p, G_LOG_LEVEL_WARNING, "%s: closing its connection; the client may offer again",
            why);
  json_object_set_string_member (ev, "reason", why);
  m->sink.send (m->sink.data, pid, "media-failed", ev);
  mm_media_remove (m, pid);
}

/* An offer webrtcbin refused, or could not answer: @h->text says why. */
static void
negotiation_failed (MmApp *app, gpointer data)
{
  Hop *h = data;

  if (!h->p->removed)
    close_peer (h->p, h->text);
}

/* Main loop: webrtcbin never answering must not leave a participant
 * waiting (every later offer would get 409) with no word of it. */
#define MM_ANSWER_TIMEOUT_S 30

static gboolean
answer_overdue (gpointer data)
{
  Peer *p = data;

  p->answer_timer = 0;
  if (!p->removed)
    close_peer (p, "no answer could be made to the offer in "
                G_STRINGIFY (MM_ANSWER_TIMEOUT_S) " s");
  return G_SOURCE_REMOVE;
}

static void
wait_for_answer (Peer *p)
{
  g_clear_handle_id (&p->answer_timer, g_source_remove);
  p->answer_timer = g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, MM_ANSWER_TIMEOUT_S,
                                                answer_overdue, peer_ref (p), peer_unref);
}

static void
send_answer (MmApp *app, gpointer data)
{
  Hop *h = data;
  Peer *p = h->p;
  g_autoptr (JsonObject) ev = NULL;

  if (p->removed)
    return;
  g_clear_handle_id (&p->answer_timer, g_source_remove);
  ev = json_object_new ();
  json_object_set_string_member (ev, "sdp", h->text);
  p->m->sink.send (p->m->sink.data, p->id, "answer", ev);
  p->answer_sent = TRUE;
  for (guint i = 0; i < p->ice_out->len; i++)
    p->m->sink.send (p->m->sink.data, p->id, "ice", p->ice_out->pdata[i]);
  g_ptr_array_set_size (p->ice_out, 0);
  if (p->m->layout_event != NULL)
    p->m->sink.send (p->m->sink.data, p->id, "layout", p->m->layout_event);
  peer_log (p, G_LOG_LEVEL_INFO, "answered");
  force_keyframe (p->m);
}

/* The error a webrtcbin promise was answered with, or NULL.
 * Returns: (transfer full) */
static GError *
promise_error (GstPromise *promise)
{
  const GstStructure *reply = gst_promise_get_reply (promise);
  GError *error = NULL;

  if (reply != NULL && gst_structure_has_field (reply, "error"))
    gst_structure_get (reply, "error", G_TYPE_ERROR, &error, NULL);
  return error;
}

/* webrtcbin's thread: the answer is our local description now (or
 * webrtcbin could not apply it: a re-offer that changes the direction of
 * an m-line, say, which webrtcbin 1.22 does not implement). */
static void
on_local_set (GstPromise *promise, gpointer data)
{
  Hop *h = data;
  g_autoptr (GError) error = promise_error (promise);
  Hop *out = hop_new (h->p);

  if (error != NULL)
    {
      out->text = g_strdup_printf ("the answer to the offer could not be applied: %s",
                                   error->message);
      mm_app_run_main (h->p->m->app, negotiation_failed, out, hop_free);
    }
  else
    {
      out->text = announced_sdp (h->p->app->opts, h->text);
      mm_app_run_main (h->p->m->app, send_answer, out, hop_free);
    }
  gst_promise_unref (promise);
}

/* Streaming thread: the answer is ready (or webrtcbin could make none). */
static void
on_answer_created (GstPromise *promise, gpointer data)
{
  Peer *p = data;
  const GstStructure *reply = gst_promise_get_reply (promise);
  g_autoptr (GError) error = promise_error (promise);
  GstWebRTCSessionDescription *answer = NULL;
  Hop *h = hop_new (p);

  if (reply != NULL && gst_structure_has_field (reply, "answer"))
    gst_structure_get (reply, "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &answer, NULL);
  gst_promise_unref (promise);
  if (answer == NULL)
    {
      h->text = g_strdup_printf ("no answer could be made to the offer: %s",
                                 error != NULL ? error->message : "webrtcbin gave none");
      mm_app_run_main (p->m->app, negotiation_failed, h, hop_free);
      return;
    }
  h->text = gst_sdp_message_as_text (answer->sdp);
  g_signal_emit_by_name (p->webrtc, "set-local-description", answer,
                         gst_promise_new_with_change_func (on_local_set, h, hop_free));
  gst_webrtc_session_description_free (answer);
}

static gboolean
pad_has_ssrc (GstPad *pad)
{
  GstCaps *caps = gst_pad_get_current_caps (pad);
  gboolean ok = caps != NULL && gst_caps_get_size (caps) > 0
                && gst_structure_has_field (gst_caps_get_structure (caps, 0), "ssrc");

  if (caps != NULL)
    gst_caps_unref (caps);
  return ok;
}

static void maybe_answer (Peer *p);

static void
retry_answer (MmApp *app, gpointer data)
{
  Hop *h = data;
  maybe_answer (h->p);
}

/* Streaming thread. */
static void
on_sink_caps (GstPad *pad, GParamSpec *pspec, gpointer data)
{
  Peer *p = data;
  mm_app_run_main (p->m->app, retry_answer, hop_new (p), hop_free);
}

/* Create the answer once the remote description is set and every sink
 * pad's caps carry the SSRC (without them webrtcbin leaves out the
 * a=ssrc … msid lines). */
static void
maybe_answer (Peer *p)
{
  if (p->removed || !p->remote_set || p->answer_requested)
    return;
  for (guint i = 0; i < p->sink_pads->len; i++)
    if (!pad_has_ssrc (p->sink_pads->pdata[i]))
      return;   /* notify::caps calls again */
  p->answer_requested = TRUE;
  g_signal_emit_by_name (p->webrtc, "create-answer", NULL,
                         gst_promise_new_with_change_func (on_answer_created, peer_ref (p),
                                                           peer_unref));
}

static void
add_ice_now (Peer *p, guint mline, const char *candidate)
{
  g_signal_emit_by_name (p->webrtc, "add-ice-candidate", mline, candidate);
}

static void
remote_set (MmApp *app, gpointer data)
{
  Hop *h = data;
  Peer *p = h->p;

  if (p->removed)
    return;
  p->remote_set = TRUE;
  for (guint i = 0; i < p->pending_ice->len; i++)
    {
      const char *entry = p->pending_ice->pdata[i];
      const char *nl = strchr (entry, '\n');

      add_ice_now (p, (guint) g_ascii_strtoull (entry, NULL, 10), nl + 1);
    }
  g_ptr_array_set_size (p->pending_ice, 0);
  maybe_answer (p);
}

/* Streaming thread: webrtcbin took the offer, or refused it. */
static void
on_remote_set (GstPromise *promise, gpointer data)
{
  Peer *p = data;
  g_autoptr (GError) error = promise_error (promise);
  Hop *h = hop_new (p);

  gst_promise_unref (promise);
  if (error != NULL)
    {
      h->text = g_strdup_printf ("the offer was refused: %s", error->message);
      mm_app_run_main (p->m->app, negotiation_failed, h, hop_free);
      return;
    }
  mm_app_run_main (p->m->app, remote_set, h, hop_free);
}

/* ---- incoming media ---------------------------------------------------- */

static void
set_voice_muted (Peer *p)
{
  for (guint i = 0; i < p->voices->len; i++)
    {
      Branch *b = p->voices->pdata[i];
      g_object_set (b->sink_pad, "mute", p->audio_muted || p->blocked, NULL);
    }
}

/* Connect @from's voice into @to's mix (or the full mix when @to is NULL). */
static void
connect_voice (MmMedia *m, Peer *from, Peer *to)
{
  g_autoptr (GError) error = NULL;
  GstBin *mix = to != NULL ? to->mix : m->full_mix;
  GstElement *amix = gst_bin_get_by_name (mix, "amix");
  GstPad *ghost = NULL;
  GstPad *pad = request_pad (mix, amix, "sink_%u", NULL, &ghost);
  Branch *b = branch_new (m, from->audio_in, "ain", "voice-in", NULL, mix, amix, pad, ghost,
                          &error);

  gst_object_unref (amix);
  if (b == NULL)
    {
      peer_log (from, G_LOG_LEVEL_WARNING, "its voice: %s", error->message);
      return;
    }
  g_object_set (b->sink_pad, "mute", from->audio_muted || from->blocked, NULL);
  g_ptr_array_add (from->voices, b);
  if (to != NULL)
    g_ptr_array_add (to->mix_inputs, b);
  relatency (m);
}

/* A shared screen (the client's second video) arrived: a tile of its own,
 * over the people. */
static void
add_screen (MmMedia *m, Peer *p, GstBin *bin)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  GstPad *ghost = NULL;
  GstPad *pad;
  GstElement *label;

  if (p->screen_in != NULL)
    {
      g_ptr_array_add (p->spare_inputs, bin);
      return;
    }
  p->screen_in = bin;
  pad = request_pad (m->video_mix, m->compositor, "sink_%u", NULL, &ghost);
  g_object_set (pad, "sizing-policy", 1 /* keep-aspect-ratio */, "alpha", 0.0, "zorder", 3u, NULL);
  p->screen_tile = branch_new (m, p->screen_in, "vin", "tile-in", NULL, m->video_mix,
                               m->compositor, pad, ghost, &error);
  if (p->screen_tile == NULL)
    {
      peer_log (p, G_LOG_LEVEL_WARNING, "its screen: %s", error->message);
      return;
    }
  label = gst_bin_get_by_name (GST_BIN (p->screen_tile->bin), "label");
  if (label != NULL)
    {
      text = g_strdup_printf ("%s (presenting)", p->name);
      g_object_set (label, "text", text, NULL);
      gst_object_unref (label);
    }
  peer_log (p, G_LOG_LEVEL_INFO, "its screen in the composite");
  relatency (m);
  screens_changed (m);
}

static void
input_ready (MmApp *app, gpointer data)
{
  Hop *h = data;
  Peer *p = h->p;
  MmMedia *m = p->m;
  g_autoptr (GError) error = NULL;

  if (p->removed)
    {
      remove_bin (m, GST_ELEMENT (h->bin));
      return;
    }
  if (h->video && p->screen_mline >= 0 && h->mline == (guint) p->screen_mline)
    add_screen (m, p, g_steal_pointer (&h->bin));
  else if (h->video)
    {
      GstPad *ghost = NULL;
      GstPad *pad;

      if (p->video_in != NULL)
        {
          peer_log (p, G_LOG_LEVEL_INFO, "a second video; ignored");
          g_ptr_array_add (p->spare_inputs, g_steal_pointer (&h->bin));
          return;
        }
      p->video_in = g_steal_pointer (&h->bin);
      pad = request_pad (p->m->video_mix, m->compositor, "sink_%u", NULL, &ghost);
      g_object_set (pad, "sizing-policy", 1 /* keep-aspect-ratio */, "alpha", 0.0,
                    "zorder", 2u, NULL);
      p->tile = branch_new (m, p->video_in, "vin", "tile-in", NULL, m->video_mix, m->compositor,
                            pad, ghost, &error);
      if (p->tile == NULL)
        {
          peer_log (p, G_LOG_LEVEL_WARNING, "its video: %s", error->message);
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
      relayout (m);
      relatency (m);
      peer_log (p, G_LOG_LEVEL_INFO, "its video in the composite");
    }
  else
    {
      GHashTableIter it;
      gpointer value;
      GstElement *level;

      if (p->audio_in != NULL)
        {
          g_ptr_array_add (p->spare_inputs, g_steal_pointer (&h->bin));
          return;
        }
      p->audio_in = g_steal_pointer (&h->bin);
      level = gst_bin_get_by_name (p->audio_in, "level");
      if (level != NULL)
        {
          mm_probe_voice (level, p->id);
          g_object_set_data_full (G_OBJECT (level), "mm-peer", g_strdup (p->id), g_free);
          gst_object_unref (level);
        }
      /* Into everyone else's mix-minus (those not ready yet take it when
       * they are), and the full mix. */
      g_hash_table_iter_init (&it, m->peers);
      while (g_hash_table_iter_next (&it, NULL, &value))
        if (value != p && ((Peer *) value)->mix != NULL && ((Peer *) value)->mix_ready
            && !((Peer *) value)->removed)
          connect_voice (m, p, value);
      connect_voice (m, p, NULL);
      peer_log (p, G_LOG_LEVEL_INFO, "its voice in the mixes");
    }
}

/* Streaming thread: webrtcbin has decrypted media for us. */
static void
on_pad_added (GstElement *webrtc, GstPad *pad, gpointer data)
{
  Peer *p = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GstCaps) caps = NULL;
  const char *media;
  GstBin *bin;
  GstPad *sink;
  Hop *h;

  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  caps = gst_pad_get_current_caps (pad);
  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  media = gst_structure_get_string (gst_caps_get_structure (caps, 0), "media");
  if (g_strcmp0 (media, "video") != 0 && g_strcmp0 (media, "audio") != 0)
    return;
  bin = make_bin (p->m, g_str_equal (media, "video") ? "video-in" : "audio-in", NULL, &error);
  if (bin == NULL)
    {
      peer_log (p, G_LOG_LEVEL_WARNING, "%s", error->message);
      return;
    }
  gst_object_ref (bin);
  gst_bin_add (GST_BIN (p->m->pipeline), GST_ELEMENT (bin));
  gst_element_sync_state_with_parent (GST_ELEMENT (bin));
  sink = gst_element_get_static_pad (GST_ELEMENT (bin), "sink");
  if (gst_pad_link (pad, sink) != GST_PAD_LINK_OK)
    peer_log (p, G_LOG_LEVEL_WARNING, "cannot link its %s", media);
  gst_object_unref (sink);
  h = hop_new (p);
  h->bin = bin;
  h->video = g_str_equal (media, "video");
  h->mline = G_MAXUINT;
  {
    GstWebRTCRTPTransceiver *trans = NULL;

    g_object_get (pad, "transceiver", &trans, NULL);
    if (trans != NULL)
      {
        g_object_get (trans, "mlineindex", &h->mline, NULL);
        gst_object_unref (trans);
      }
  }
  mm_app_run_main (p->m->app, input_ready, h, hop_free);
}

/* ---- a new mix-minus ---------------------------------------------------- */

/* Voices join a mix only once its output format is negotiated: an
 * audiomixer that gets input first fails with "wrong format". */
static void
mix_ready (MmApp *app, gpointer data)
{
  Hop *h = data;
  Peer *p = h->p;
  GHashTableIter it;
  gpointer value;

  if (p->removed || p->mix_ready || p->mix == NULL)
    return;
  p->mix_ready = TRUE;
  g_hash_table_iter_init (&it, p->m->peers);
  while (g_hash_table_iter_next (&it, NULL, &value))
    if (value != p && ((Peer *) value)->audio_in != NULL && !((Peer *) value)->removed)
      connect_voice (p->m, value, p);
}

/* Streaming thread. */
static void
on_mix_caps (GstPad *pad, GParamSpec *pspec, gpointer data)
{
  Peer *p = data;
  GstCaps *caps = gst_pad_get_current_caps (pad);

  if (caps == NULL)
    return;
  gst_caps_unref (caps);
  mm_app_run_main (p->app, mix_ready, hop_new (p), hop_free);
}

static void
watch_mix (MmMedia *m, Peer *p)
{
  GstElement *amix = gst_bin_get_by_name (p->mix, "amix");
  GstPad *src = gst_element_get_static_pad (amix, "src");
  GstCaps *caps = gst_pad_get_current_caps (src);

  g_signal_connect_data (src, "notify::caps", G_CALLBACK (on_mix_caps), peer_ref (p),
                         (GClosureNotify) (void (*) (void)) peer_unref, 0);
  if (caps != NULL)
    {
      gst_caps_unref (caps);
      mm_app_run_main (m->app, mix_ready, hop_new (p), hop_free);
    }
  gst_object_unref (src);
  gst_object_unref (amix);
}

static gboolean
start_mix (MmMedia *m, Peer *p, GError **error)
{
  g_autofree char *abr = g_strdup_printf ("%d", m->app->opts->audio_bitrate * 1000);
  const char *avars[] = { "BITRATE", abr, NULL };

  GstElement *amix;

  p->mix = make_bin (m, "audio-mix", avars, error);
  if (p->mix == NULL)
    return FALSE;
  amix = gst_bin_get_by_name (p->mix, "amix");
  set_upstream_floor (m, amix);
  gst_object_unref (amix);
  gst_bin_add (GST_BIN (m->pipeline), GST_ELEMENT (p->mix));
  watch_mix (m, p);
  gst_element_sync_state_with_parent (GST_ELEMENT (p->mix));
  return TRUE;
}

/* ---- name cards --------------------------------------------------------- */

static void
add_card (MmMedia *m, Peer *p)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *fps = g_strdup_printf ("%d", m->app->opts->video_framerate);
  const char *vars[] = { "FRAMERATE", fps, NULL };
  GstBin *bin = make_bin (m, "placeholder", vars, &error);
  GstElement *label;
  GstPad *src;

  if (bin == NULL)
    {
      peer_log (p, G_LOG_LEVEL_WARNING, "its name card: %s", error->message);
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
  p->card_pad = request_pad (m->video_mix, m->compositor, "sink_%u", NULL, &p->card_ghost);
  g_object_set (p->card_pad, "sizing-policy", 1 /* keep-aspect-ratio */, "alpha", 0.0,
                "zorder", 1u, NULL);
  src = gst_element_get_static_pad (p->card, "src");
  if (gst_pad_link (src, p->card_ghost) != GST_PAD_LINK_OK)
    peer_log (p, G_LOG_LEVEL_WARNING, "cannot link its name card");
  gst_object_unref (src);
  gst_element_sync_state_with_parent (p->card);
  relayout (m);
}

static void
remove_card (MmMedia *m, Peer *p)
{
  if (p->card == NULL)
    return;
  remove_bin (m, p->card);
  release_pad (m->video_mix, m->compositor, p->card_pad, p->card_ghost);
  p->card = NULL;
  p->card_pad = p->card_ghost = NULL;
}

/* ---- the offer --------------------------------------------------------- */

typedef struct {
  gboolean present;
  gboolean client_sends;
  gboolean client_receives;
  guint pt;
  gint index;             /* of the m-line */
} Section;

/* The first m-line from @start on of @kind with a payload type for @codec. */
static Section
find_section_from (const GstSDPMessage *sdp, const char *kind, const char *codec, guint start)
{
  Section s = { FALSE, FALSE, FALSE, 0, -1 };

  for (guint i = start; i < gst_sdp_message_medias_len (sdp) && !s.present; i++)
    {
      const GstSDPMedia *md = gst_sdp_message_get_media (sdp, i);

      /* Port 0 is a rejected m-line, unless it is bundle-only (max-bundle). */
      if (g_strcmp0 (gst_sdp_media_get_media (md), kind) != 0
          || (gst_sdp_media_get_port (md) == 0
              && gst_sdp_media_get_attribute_val (md, "bundle-only") == NULL))
        continue;
      for (guint k = 0; k < gst_sdp_media_attributes_len (md) && !s.present; k++)
        {
          const GstSDPAttribute *a = gst_sdp_media_get_attribute (md, k);
          char *end;
          guint64 pt;

          if (g_strcmp0 (a->key, "rtpmap") != 0 || a->value == NULL)
            continue;
          pt = g_ascii_strtoull (a->value, &end, 10);
          while (*end == ' ')
            end++;
          if (pt < 128 && g_ascii_strncasecmp (end, codec, strlen (codec)) == 0
              && end[strlen (codec)] == '/')
            {
              s.present = TRUE;
              s.pt = (guint) pt;
            }
        }
      if (s.present)
        {
          gboolean sendonly = gst_sdp_media_get_attribute_val (md, "sendonly") != NULL;
          gboolean recvonly = gst_sdp_media_get_attribute_val (md, "recvonly") != NULL;
          gboolean inactive = gst_sdp_media_get_attribute_val (md, "inactive") != NULL;

          s.client_sends = !recvonly && !inactive;
          s.client_receives = !sendonly && !inactive;
          s.index = (gint) i;
        }
    }
  return s;
}

static Section
find_section (const GstSDPMessage *sdp, const char *kind, const char *codec)
{
  return find_section_from (sdp, kind, codec, 0);
}

/* What the client sends on: @first is the m-line it receives on (the
 * first of its kind).  A client that starts sending after receiving only
 * (a viewer who starts publishing) adds m-lines rather than change the
 * direction of the first (webrtcbin 1.22 does not implement direction
 * changes): its input is then the first m-line after @first it sends on. */
static Section
find_input (const GstSDPMessage *sdp, const char *kind, const char *codec, Section first)
{
  Section s = first;

  while (s.present && !s.client_sends)
    s = find_section_from (sdp, kind, codec, (guint) s.index + 1);
  return s;
}

/* A shared screen: the next video m-line after the camera. */
static Section
find_screen (const GstSDPMessage *sdp, Section video, Section camera)
{
  Section none = { FALSE, FALSE, FALSE, 0, -1 };
  Section after = camera.present ? camera : video;

  return after.present ? find_section_from (sdp, "video", "VP8", (guint) after.index + 1) : none;
}

/* The offer's ICE user fragment (session level or the first m-line's). */
static char *
offer_ufrag (const GstSDPMessage *sdp)
{
  const char *u = gst_sdp_message_get_attribute_val (sdp, "ice-ufrag");

  for (guint i = 0; u == NULL && i < gst_sdp_message_medias_len (sdp); i++)
    u = gst_sdp_media_get_attribute_val (gst_sdp_message_get_media (sdp, i), "ice-ufrag");
  return g_strdup (u);
}

/* Link @src_bin's tee into a new sink pad of the peer's webrtcbin, and set
 * that transceiver's direction. */
static Branch *
link_sender (Peer *p, GstBin *src_bin, const char *tee, const char *desc, const char *kind,
             const char *encoding, guint clock_rate, guint pt, gboolean recv_too, GError **error)
{
  g_autofree char *pt_text = g_strdup_printf ("%u", pt);
  const char *vars[] = { "PT", pt_text, NULL };
  g_autoptr (GstCaps) caps = gst_caps_new_simple ("application/x-rtp", "media", G_TYPE_STRING, kind,
                                                   "encoding-name", G_TYPE_STRING, encoding,
                                                   "payload", G_TYPE_INT, (gint) pt,
                                                   "clock-rate", G_TYPE_INT, (gint) clock_rate,
                                                   NULL);
  GstPad *ghost = NULL;
  GstPad *pad = request_pad (NULL, p->webrtc, "sink_%u", caps, &ghost);
  GstWebRTCRTPTransceiver *trans = NULL;
  Branch *b;

  if (pad == NULL)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INTERNAL, "webrtcbin gave no %s sink pad", kind);
      return NULL;
    }
  b = branch_new (p->m, src_bin, tee, desc, vars, NULL, p->webrtc, pad, NULL, error);
  if (b == NULL)
    return NULL;
  g_object_get (pad, "transceiver", &trans, NULL);
  if (trans != NULL)
    {
      g_object_set (trans, "direction",
                    recv_too ? GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDRECV
                             : GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, NULL);
      gst_object_unref (trans);
    }
  g_ptr_array_add (p->sink_pads, gst_object_ref (pad));
  g_signal_connect_data (pad, "notify::caps", G_CALLBACK (on_sink_caps), peer_ref (p),
                         (GClosureNotify) (void (*) (void)) peer_unref, 0);
  return b;
}

static void
add_receiver (Peer *p, const char *kind, const char *encoding, guint clock_rate, guint pt)
{
  g_autoptr (GstCaps) caps = gst_caps_new_simple ("application/x-rtp", "media", G_TYPE_STRING, kind,
                                                   "encoding-name", G_TYPE_STRING, encoding,
                                                   "payload", G_TYPE_INT, (gint) pt,
                                                   "clock-rate", G_TYPE_INT, (gint) clock_rate,
                                                   NULL);
  GstWebRTCRTPTransceiver *trans = NULL;

  g_signal_emit_by_name (p->webrtc, "add-transceiver",
                         GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, caps, &trans);
  if (trans != NULL)
    gst_object_unref (trans);
}

/* The loopback addresses ICE should offer besides the interfaces': those
 * the server listens on ([server] listen 127.0.0.1, ::1, 0.0.0.0 or ::).
 * libnice leaves loopback out as soon as another interface exists, and a
 * client on this machine that gathers only 127.0.0.1 could not connect. */
static void
add_listen_loopback (const char *listen, GPtrArray *out)
{
  if (g_strcmp0 (listen, "127.0.0.1") == 0 || g_strcmp0 (listen, "0.0.0.0") == 0
      || g_strcmp0 (listen, "::") == 0)
    g_ptr_array_add (out, g_strdup ("127.0.0.1"));
  if (g_strcmp0 (listen, "::1") == 0 || g_strcmp0 (listen, "::") == 0)
    g_ptr_array_add (out, g_strdup ("::1"));
}

/* The local addresses ICE gathers on: [media] ice-addresses, or when
 * that is empty every interface's, with loopback as above.
 * Returns: (transfer full) of char*. */
static GPtrArray *
ice_addresses (const MmOptions *o)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) listed = g_strsplit (o->ice_addresses, ",", -1);

  for (guint i = 0; listed[i] != NULL; i++)
    {
      const char *a = g_strstrip (listed[i]);

      if (*a != '\0')
        g_ptr_array_add (out, g_strdup (a));
    }
  if (out->len == 0)
    {
      GList *ips = nice_interfaces_get_local_ips (FALSE);

      for (GList *l = ips; l != NULL; l = l->next)
        g_ptr_array_add (out, l->data);   /* takes the string */
      g_list_free (ips);
      add_listen_loopback (o->listen, out);
    }
  return out;
}

static void
configure_ice (MmMedia *m, GstElement *webrtc)
{
  const MmOptions *o = m->app->opts;
  GObject *ice = NULL;
  NiceAgent *agent = NULL;
  g_autoptr (GPtrArray) addrs = NULL;

  g_object_get (webrtc, "ice-agent", &ice, NULL);
  if (ice == NULL)
    return;
  if (o->udp_port_min > 0)
    g_object_set (ice, "min-rtp-port", (guint) o->udp_port_min,
                  "max-rtp-port", (guint) o->udp_port_max, NULL);
  g_object_get (ice, "agent", &agent, NULL);
  if (agent == NULL)
    {
      g_object_unref (ice);
      return;
    }
  /* No UPnP port mappings: a server has its ports open (udp-port-min/max)
   * or a public-ip; asking the router costs a failed multicast socket per
   * connection ("gupnp-context: Unable to listen"). */
  g_object_set (agent, "upnp", FALSE, NULL);
  addrs = ice_addresses (o);
  for (guint i = 0; i < addrs->len; i++)
    {
      NiceAddress addr;

      nice_address_init (&addr);
      if (nice_address_set_from_string (&addr, addrs->pdata[i]))
        nice_agent_add_local_address (agent, &addr);
      else
        room_log (m, G_LOG_LEVEL_WARNING, "media.ice-addresses: %s is not an IP address",
                  (const char *) addrs->pdata[i]);
    }
  g_object_unref (agent);
  g_object_unref (ice);
}

/* ---- what webrtcbin needs of an offer --------------------------------- */

static gboolean
empty (const char *value)
{
  return value == NULL || *value == '\0';
}

/* The index of attribute @key of @md, or -1. */
static gint
attribute_index (const GstSDPMedia *md, const char *key)
{
  for (guint k = 0; k < gst_sdp_media_attributes_len (md); k++)
    if (g_strcmp0 (gst_sdp_media_get_attribute (md, k)->key, key) == 0)
      return (gint) k;
  return -1;
}

/* Make @md's attribute @key @value (NULL: remove it). */
static void
set_attribute (GstSDPMedia *md, const char *key, const char *value)
{
  gint k = attribute_index (md, key);

  if (k >= 0 && value == NULL)
    gst_sdp_media_remove_attribute (md, (guint) k);
  else if (k >= 0)
    {
      GstSDPAttribute attr = { 0 };

      gst_sdp_attribute_set (&attr, key, value);
      gst_sdp_media_replace_attribute (md, (guint) k, &attr);
    }
  else if (value != NULL)
    gst_sdp_media_add_attribute (md, key, value);
}

/* RFC 8843: before BUNDLE is agreed, each m-line of an offer may carry
 * its own ICE credentials (aiortc does so); once it is, the transport of
 * the offerer-tagged m-line, the first of the group, carries them all.
 * webrtcbin 1.22 refuses such an offer ("different ice-ufrag values in
 * bundle"), so the m-lines of the group take the tagged one's.  *@changed
 * counts the m-lines that did. */
static gboolean
bundle_credentials (GstSDPMessage *sdp, guint *changed, GError **error)
{
  const char *group = gst_sdp_message_get_attribute_val (sdp, "group");
  g_auto (GStrv) mids = NULL;
  const GstSDPMedia *tagged = NULL;
  g_autofree char *ufrag = NULL;
  g_autofree char *pwd = NULL;

  *changed = 0;
  if (group == NULL || !g_str_has_prefix (group, "BUNDLE"))
    return TRUE;
  mids = g_strsplit_set (group + strlen ("BUNDLE"), " ", -1);
  for (guint i = 0; mids[i] != NULL && tagged == NULL; i++)
    if (*mids[i] != '\0')
      {
        for (guint n = 0; n < gst_sdp_message_medias_len (sdp) && tagged == NULL; n++)
          if (g_strcmp0 (gst_sdp_media_get_attribute_val (gst_sdp_message_get_media (sdp, n),
                                                          "mid"), mids[i]) == 0)
            tagged = gst_sdp_message_get_media (sdp, n);
        if (tagged == NULL)
          {
            g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                         "the offer's BUNDLE group names mid %s, which no m-line has", mids[i]);
            return FALSE;
          }
      }
  if (tagged == NULL)
    return TRUE;
  ufrag = g_strdup (gst_sdp_media_get_attribute_val (tagged, "ice-ufrag"));
  pwd = g_strdup (gst_sdp_media_get_attribute_val (tagged, "ice-pwd"));
  for (guint n = 0; n < gst_sdp_message_medias_len (sdp); n++)
    {
      GstSDPMedia *md = (GstSDPMedia *) gst_sdp_message_get_media (sdp, n);
      const char *mid = gst_sdp_media_get_attribute_val (md, "mid");

      if (md == tagged || mid == NULL || !g_strv_contains ((const char *const *) mids, mid))
        continue;
      if (g_strcmp0 (gst_sdp_media_get_attribute_val (md, "ice-ufrag"), ufrag) == 0
          && g_strcmp0 (gst_sdp_media_get_attribute_val (md, "ice-pwd"), pwd) == 0)
        continue;
      set_attribute (md, "ice-ufrag", ufrag);
      set_attribute (md, "ice-pwd", pwd);
      (*changed)++;
    }
  return TRUE;
}

/* Check @sdp for what webrtcbin would refuse, in words a client
 * developer can act on, and rewrite what is valid SDP that webrtcbin 1.22
 * reads wrongly: a fingerprint both at session level and on the m-lines
 * (it then says "No fingerprint lines in sdp"), an a=setup at session
 * level only, and per-m-line ICE credentials inside a BUNDLE group.
 * *@rewritten (nullable) counts the m-lines whose credentials changed. */
static gboolean
normalise_offer (GstSDPMessage *sdp, guint *rewritten, GError **error)
{
  static const char *const setups[] = { "actpass", "active", "passive", NULL };
  const char *session_fp = gst_sdp_message_get_attribute_val (sdp, "fingerprint");
  const char *session_setup = gst_sdp_message_get_attribute_val (sdp, "setup");
  const GstSDPKey *key = gst_sdp_message_get_key (sdp);
  const char *first_fp = NULL;
  guint changed = 0;

  if (key != NULL && !empty (key->data))
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                           "the offer has a k= line: mixmeet keys media with DTLS-SRTP only");
      return FALSE;
    }
  if (!bundle_credentials (sdp, &changed, error))
    return FALSE;
  for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++)
    {
      GstSDPMedia *md = (GstSDPMedia *) gst_sdp_message_get_media (sdp, i);
      const char *fp = gst_sdp_media_get_attribute_val (md, "fingerprint");
      const char *setup = gst_sdp_media_get_attribute_val (md, "setup");

      if (empty (gst_sdp_media_get_attribute_val (md, "mid")))
        {
          g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                       "m-line %u has no a=mid", i);
          return FALSE;
        }
      if (empty (fp) && empty (session_fp))
        {
          g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                       "m-line %u has no DTLS fingerprint (a=fingerprint), nor has the session",
                       i);
          return FALSE;
        }
      if (!empty (fp) && !empty (session_fp) && g_strcmp0 (fp, session_fp) != 0)
        {
          g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                       "the DTLS fingerprint of m-line %u differs from the session's", i);
          return FALSE;
        }
      if (!empty (fp) && first_fp != NULL && g_strcmp0 (fp, first_fp) != 0)
        {
          g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                       "the DTLS fingerprint of m-line %u differs from the first m-line's", i);
          return FALSE;
        }
      if (first_fp == NULL && !empty (fp))
        first_fp = fp;
      if (empty (setup) && !empty (session_setup))
        {
          gst_sdp_media_add_attribute (md, "setup", session_setup);
          setup = session_setup;
        }
      if (empty (setup) || !g_strv_contains (setups, setup))
        {
          g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                       "m-line %u needs a=setup:actpass (or active or passive)", i);
          return FALSE;
        }
      if ((empty (gst_sdp_media_get_attribute_val (md, "ice-ufrag"))
           && empty (gst_sdp_message_get_attribute_val (sdp, "ice-ufrag")))
          || (empty (gst_sdp_media_get_attribute_val (md, "ice-pwd"))
              && empty (gst_sdp_message_get_attribute_val (sdp, "ice-pwd"))))
        {
          g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                       "m-line %u has no ICE credentials (a=ice-ufrag and a=ice-pwd)", i);
          return FALSE;
        }
    }
  /* The same fingerprint at both levels: the session's stands for all. */
  if (!empty (session_fp))
    for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++)
      {
        GstSDPMedia *md = (GstSDPMedia *) gst_sdp_message_get_media (sdp, i);
        gint k;

        while ((k = attribute_index (md, "fingerprint")) >= 0)
          gst_sdp_media_remove_attribute (md, (guint) k);
      }
  if (rewritten != NULL)
    *rewritten = changed;
  return TRUE;
}

gboolean
mm_media_check_offer (const char *sdp_text, gboolean *sends, GError **error)
{
  GstSDPMessage *sdp = NULL;
  gboolean ok;

  if (gst_sdp_message_new_from_text (sdp_text, &sdp) != GST_SDP_OK
      || gst_sdp_message_medias_len (sdp) == 0)
    {
      if (sdp != NULL)
        gst_sdp_message_free (sdp);
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                           "sdp is not a session description with media");
      return FALSE;
    }
  ok = find_section (sdp, "video", "VP8").present || find_section (sdp, "audio", "opus").present;
  if (sends != NULL)
    *sends = find_input (sdp, "video", "VP8", find_section (sdp, "video", "VP8")).present
             || find_input (sdp, "audio", "opus", find_section (sdp, "audio", "opus")).present;
  if (!ok)
    g_set_error_literal (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                         "the offer has neither VP8 video nor Opus audio");
  else if (sends == NULL)
    ok = normalise_offer (sdp, NULL, error);
  gst_sdp_message_free (sdp);
  return ok;
}

static void
set_direction (GstPad *webrtc_sink_pad, GstWebRTCRTPTransceiverDirection dir)
{
  GstWebRTCRTPTransceiver *trans = NULL;

  g_object_get (webrtc_sink_pad, "transceiver", &trans, NULL);
  if (trans != NULL)
    {
      g_object_set (trans, "direction", dir, NULL);
      gst_object_unref (trans);
    }
}

/* A new offer on the same connection (same ICE credentials): a viewer who
 * starts sending, a screen shared or no longer shared.  Takes @sdp. */
static gboolean
renegotiate (MmMedia *m, Peer *p, GstSDPMessage *sdp, GError **error)
{
  Section video = find_section (sdp, "video", "VP8");
  Section audio = find_section (sdp, "audio", "opus");
  Section camera = find_input (sdp, "video", "VP8", video);
  Section voice = find_input (sdp, "audio", "opus", audio);
  Section screen = find_screen (sdp, video, camera);
  gboolean showed = shows_screen (p);
  GstWebRTCSessionDescription *offer;

  if (!p->remote_set || !p->answer_sent)
    {
      gst_sdp_message_free (sdp);
      g_set_error_literal (error, MM_ERROR, MM_ERROR_CONFLICT,
                           "the previous offer is still being answered: wait for its answer");
      return FALSE;
    }
  if ((p->video_mline >= 0 && video.index != p->video_mline)
      || (p->audio_mline >= 0 && audio.index != p->audio_mline))
    {
      gst_sdp_message_free (sdp);
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                           "a new offer on the same connection must keep the audio and video "
                           "m-lines of the first one");
      return FALSE;
    }
  p->video_mline = video.index;
  p->audio_mline = audio.index;
  p->screen_mline = screen.index;
  p->presenting = screen.present && screen.client_sends;
  if (camera.present && !p->sends_video)
    {
      p->sends_video = TRUE;
      if (p->card == NULL)
        add_card (m, p);
      if (p->video_out != NULL && camera.index == video.index)
        set_direction (p->video_out->sink_pad, GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDRECV);
    }
  if (voice.present && !p->sends_audio)
    {
      if (!start_mix (m, p, error))
        {
          gst_sdp_message_free (sdp);
          return FALSE;
        }
      p->sends_audio = TRUE;
      if (p->audio_out != NULL)
        {
          if (voice.index == audio.index)
            set_direction (p->audio_out->sink_pad, GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDRECV);
          branch_move (p->audio_out, p->mix);
        }
    }
  p->remote_set = p->answer_requested = p->answer_sent = FALSE;
  wait_for_answer (p);
  offer = gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_OFFER, sdp);
  g_signal_emit_by_name (p->webrtc, "set-remote-description", offer,
                         gst_promise_new_with_change_func (on_remote_set, peer_ref (p), peer_unref));
  gst_webrtc_session_description_free (offer);
  peer_log (p, G_LOG_LEVEL_INFO, "new offer on the same connection (video %s, audio %s, screen %s)",
            p->sends_video ? "in" : "-", p->sends_audio ? "in" : "-", p->presenting ? "in" : "-");
  if (showed != shows_screen (p))
    screens_changed (m);
  return TRUE;
}

gboolean
mm_media_offer (MmMedia *m, const char *pid, const char *display_name, const char *sdp_text,
                GError **error)
{
  GstSDPMessage *sdp = NULL;
  GstWebRTCSessionDescription *offer;
  Section video, audio, camera, voice, screen;
  guint rewritten = 0;
  Peer *p;

  if (gst_sdp_message_new_from_text (sdp_text, &sdp) != GST_SDP_OK
      || gst_sdp_message_medias_len (sdp) == 0)
    {
      if (sdp != NULL)
        gst_sdp_message_free (sdp);
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                           "sdp is not a session description with media");
      return FALSE;
    }
  video = find_section (sdp, "video", "VP8");
  audio = find_section (sdp, "audio", "opus");
  if (!video.present && !audio.present)
    {
      gst_sdp_message_free (sdp);
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                           "the offer has neither VP8 video nor Opus audio");
      return FALSE;
    }
  if (!normalise_offer (sdp, &rewritten, error))
    {
      gst_sdp_message_free (sdp);
      return FALSE;
    }
  p = g_hash_table_lookup (m->peers, pid);
  if (rewritten > 0)
    media_log (m, pid, G_LOG_LEVEL_INFO,
               "%u m-line(s) of the BUNDLE group had ICE credentials of their own: "
               "the first m-line's stand for all (RFC 8843)", rewritten);
  if (p != NULL && !p->removed)
    {
      g_autofree char *ufrag = offer_ufrag (sdp);

      /* The same ICE credentials: the same connection, renegotiated.  Other
       * ones: a new connection (the client lost the old one, or got no
       * answer), which replaces the old. */
      if (ufrag != NULL && g_strcmp0 (ufrag, p->ice_ufrag) == 0)
        return renegotiate (m, p, sdp, error);
      mm_media_remove (m, pid);
    }
  camera = find_input (sdp, "video", "VP8", video);
  voice = find_input (sdp, "audio", "opus", audio);
  screen = find_screen (sdp, video, camera);

  p = g_new0 (Peer, 1);
  p->ref_count = 1;
  p->m = m;
  p->app = m->app;
  p->id = g_strdup (pid);
  p->name = g_strdup (display_name);
  p->order = m->next_order++;
  p->pending_ice = g_ptr_array_new_with_free_func (g_free);
  p->ice_out = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  p->sink_pads = g_ptr_array_new_with_free_func (gst_object_unref);
  p->voices = g_ptr_array_new ();
  p->spare_inputs = g_ptr_array_new_with_free_func (gst_object_unref);
  p->mix_inputs = g_ptr_array_new ();
  p->sends_video = camera.present;
  p->wants_video = video.present && video.client_receives;
  p->sends_audio = voice.present;
  p->wants_audio = audio.present && audio.client_receives;
  p->video_pt = video.pt;
  p->audio_pt = audio.pt;
  p->video_mline = video.index;
  p->audio_mline = audio.index;
  p->screen_mline = screen.index;
  p->presenting = screen.present && screen.client_sends;
  p->ice_ufrag = offer_ufrag (sdp);
  p->level_db = -100;
  g_hash_table_insert (m->peers, p->id, p);

  p->webrtc = gst_element_factory_make ("webrtcbin", NULL);
  g_object_set (p->webrtc, "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE,
                "latency", (guint) m->app->opts->jitter_latency, NULL);
  if (*m->app->opts->stun_server != '\0')
    g_object_set (p->webrtc, "stun-server", m->app->opts->stun_server, NULL);
  if (*m->app->opts->turn_server != '\0')
    g_object_set (p->webrtc, "turn-server", m->app->opts->turn_server, NULL);
  configure_ice (m, p->webrtc);
  keep_input_timing (p);
  mm_probe_peer (p->webrtc, p->id);
  g_signal_connect_data (p->webrtc, "on-ice-candidate", G_CALLBACK (on_ice_candidate),
                         peer_ref (p), (GClosureNotify) (void (*) (void)) peer_unref, 0);
  g_signal_connect_data (p->webrtc, "pad-added", G_CALLBACK (on_pad_added), peer_ref (p),
                         (GClosureNotify) (void (*) (void)) peer_unref, 0);
  gst_bin_add (GST_BIN (m->pipeline), p->webrtc);
  gst_element_sync_state_with_parent (p->webrtc);

  /* Someone who sends video has a tile from now on: a name card until
   * the video arrives (and whenever it is off). */
  if (p->sends_video)
    add_card (m, p);

  /* A mix-minus for someone who speaks: everyone else's voice. */
  if (p->sends_audio && !start_mix (m, p, error))
    goto fail;

  /* Senders first, then the offer (webrtcbin reuses these transceivers). */
  if (video.present)
    {
      if (p->wants_video)
        {
          p->video_out = link_sender (p, m->video_mix, "vtee", "video-out", "video", "VP8", 90000,
                                      video.pt, camera.index == video.index, error);
          if (p->video_out == NULL)
            goto fail;
        }
      else if (camera.index == video.index)
        add_receiver (p, "video", "VP8", 90000, video.pt);
    }
  if (audio.present)
    {
      if (p->wants_audio)
        {
          p->audio_out = link_sender (p, p->mix != NULL ? p->mix : m->full_mix, "atee", "audio-out",
                                      "audio", "OPUS", 48000, audio.pt,
                                      voice.index == audio.index, error);
          if (p->audio_out == NULL)
            goto fail;
        }
      else if (voice.index == audio.index)
        add_receiver (p, "audio", "OPUS", 48000, audio.pt);
    }

  wait_for_answer (p);
  offer = gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_OFFER, sdp);
  g_signal_emit_by_name (p->webrtc, "set-remote-description", offer,
                         gst_promise_new_with_change_func (on_remote_set, peer_ref (p), peer_unref));
  gst_webrtc_session_description_free (offer);
  peer_log (p, G_LOG_LEVEL_INFO, "offer (video %s%s, audio %s%s)", p->sends_video ? "in" : "",
            p->wants_video ? " out" : "", p->sends_audio ? "in" : "", p->wants_audio ? " out" : "");
  return TRUE;

fail:
  gst_sdp_message_free (sdp);
  mm_media_remove (m, pid);
  return FALSE;
}

gboolean
mm_media_add_ice (MmMedia *m, const char *pid, guint mline, const char *candidate, GError **error)
{
  Peer *p = g_hash_table_lookup (m->peers, pid);

  if (p == NULL)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_CONFLICT,
                           "send an offer before ICE candidates");
      return FALSE;
    }
  if (*candidate == '\0')
    return TRUE;   /* end of candidates */
  if (!p->remote_set)
    g_ptr_array_add (p->pending_ice, g_strdup_printf ("%u\n%s", mline, candidate));
  else
    add_ice_now (p, mline, candidate);
  return TRUE;
}

/* ---- leaving ----------------------------------------------------------- */

/* Take @b, a voice going into someone's mix, out of its source's list of
 * voices (@voice TRUE) or out of its listener's list of mix inputs.  The
 * peers that are leaving count: one may still own @b until its teardown,
 * and forgetting it there too freed a branch twice when many left at
 * once (a crash). */
static void
forget_branch (MmMedia *m, Branch *b, gboolean voice)
{
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, m->peers);
  while (g_hash_table_iter_next (&it, NULL, &value))
    g_ptr_array_remove (voice ? ((Peer *) value)->voices : ((Peer *) value)->mix_inputs, b);
  for (guint i = 0; i < m->leaving->len; i++)
    {
      Peer *q = m->leaving->pdata[i];

      g_ptr_array_remove (voice ? q->voices : q->mix_inputs, b);
    }
}

/* Everything of @p that only @p uses: no data flows into it any more
 * (its webrtcbin was stopped by mm_media_remove). */
static void
peer_teardown (Peer *p)
{
  MmMedia *m = p->m;

  /* Branches out of p's decoders: their source has stopped. */
  if (p->tile != NULL)
    branch_free_now (p->tile, TRUE);
  if (p->screen_tile != NULL)
    branch_free_now (p->screen_tile, TRUE);
  p->screen_tile = NULL;
  g_ptr_array_remove (m->leaving, p);
  for (guint i = 0; i < p->voices->len; i++)
    {
      Branch *b = p->voices->pdata[i];

      forget_branch (m, b, FALSE);
      branch_free_now (b, TRUE);
    }
  g_ptr_array_set_size (p->voices, 0);
  p->tile = NULL;
  remove_card (m, p);
  if (p->video_in != NULL)
    remove_bin (m, GST_ELEMENT (p->video_in));
  if (p->audio_in != NULL)
    remove_bin (m, GST_ELEMENT (p->audio_in));
  if (p->screen_in != NULL)
    remove_bin (m, GST_ELEMENT (p->screen_in));
  p->screen_in = NULL;
  for (guint i = 0; i < p->spare_inputs->len; i++)
    remove_bin (m, p->spare_inputs->pdata[i]);
  g_ptr_array_set_size (p->spare_inputs, 0);
  if (p->mix != NULL)
    remove_bin (m, GST_ELEMENT (p->mix));
  if (p->webrtc != NULL)
    gst_bin_remove (GST_BIN (m->pipeline), p->webrtc);
  p->webrtc = NULL;
  p->video_in = p->audio_in = p->mix = NULL;
  peer_unref (p);   /* the reference the table had (stolen by mm_media_remove) */
}

static void
peer_detach_done (Peer *p)
{
  g_assert (p->pending_detach > 0);
  if (--p->pending_detach == 0)
    {
      peer_teardown (p);
      peer_unref (p);
    }
}

void
mm_media_remove (MmMedia *m, const char *pid)
{
  Peer *p = g_hash_table_lookup (m->peers, pid);
  gboolean had_tile;

  if (p == NULL || p->removed)
    return;
  p->removed = TRUE;
  g_clear_handle_id (&p->answer_timer, g_source_remove);
  had_tile = p->tile != NULL || p->card != NULL || p->screen_tile != NULL;
  hide_peer (p);
  /* Stop p's connection first.  Until DTLS is up, webrtcbin holds the
   * packets sent to it in a blocked pad, with the stream locks of every
   * element upstream of it: the branches detached below could not be
   * stopped (a participant who fails before connecting would hang the
   * main loop).  Stopped, it lets them go. */
  /* What p's branches return from now on is no failure to report. */
  branch_quiet (p->video_out);
  branch_quiet (p->audio_out);
  branch_quiet (p->tile);
  branch_quiet (p->screen_tile);
  for (guint i = 0; i < p->mix_inputs->len; i++)
    branch_quiet (p->mix_inputs->pdata[i]);
  if (p->webrtc != NULL)
    {
      g_signal_handlers_disconnect_by_data (p->webrtc, p);
      gst_element_set_locked_state (p->webrtc, TRUE);
      gst_element_set_state (p->webrtc, GST_STATE_NULL);
    }
  peer_ref (p);
  p->pending_detach = 1;   /* released below, after scheduling the rest */
  /* Shared tees keep running for the others: detach when idle. */
  if (p->video_out != NULL)
    branch_detach (p->video_out, p, FALSE);
  if (p->audio_out != NULL && p->audio_out->move_to != NULL)
    {
      /* Being moved to p's own mix: the detach under way frees it instead. */
      p->audio_out->move_to = NULL;
      p->audio_out->owner = p;
      p->pending_detach++;
    }
  else if (p->audio_out != NULL)
    branch_detach (p->audio_out, p, FALSE);
  for (guint i = 0; i < p->mix_inputs->len; i++)
    {
      Branch *b = p->mix_inputs->pdata[i];

      /* The source's list of voices must forget this branch now. */
      forget_branch (m, b, TRUE);
      branch_detach (b, p, FALSE);
    }
  g_ptr_array_set_size (p->mix_inputs, 0);
  p->video_out = p->audio_out = NULL;
  if (g_strcmp0 (m->active_speaker, pid) == 0)
    g_clear_pointer (&m->active_speaker, g_free);
  /* Out of the table now: the id is free for a new connection, and
   * nothing iterating the peers sees this one again. */
  g_hash_table_steal (m->peers, pid);
  g_ptr_array_add (m->leaving, p);
  /* The tile goes with the teardown; lay out the others now. */
  if (had_tile)
    screens_changed (m);
  peer_detach_done (p);
}

void
mm_media_set_audio_muted (MmMedia *m, const char *pid, gboolean muted)
{
  Peer *p = g_hash_table_lookup (m->peers, pid);

  if (p == NULL || p->removed)
    return;
  p->audio_muted = muted;
  set_voice_muted (p);
}

void
mm_media_set_may_publish (MmMedia *m, const char *pid, gboolean may)
{
  Peer *p = g_hash_table_lookup (m->peers, pid);

  if (p == NULL || p->removed || p->blocked == !may)
    return;
  p->blocked = !may;
  set_voice_muted (p);
  hide_peer (p);
  screens_changed (m);
}

void
mm_media_set_presenting (MmMedia *m, const char *pid, gboolean presenting)
{
  Peer *p = g_hash_table_lookup (m->peers, pid);
  gboolean showed;

  if (p == NULL || p->removed)
    return;
  showed = shows_screen (p);
  p->screen_paused = !presenting;
  if (showed != shows_screen (p))
    screens_changed (m);
}

void
mm_media_set_video_muted (MmMedia *m, const char *pid, gboolean muted)
{
  Peer *p = g_hash_table_lookup (m->peers, pid);

  if (p == NULL || p->removed)
    return;
  p->video_muted = muted;
  if (p->tile != NULL)
    relayout (m);
}

GstElement *
mm_media_pipeline (MmMedia *m)
{
  return m->pipeline;
}
