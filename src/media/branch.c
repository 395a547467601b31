/* branch.c — the connections between a tee and a consumer.  Every one is
 * a Branch: a small bin of its own (pipelines/tile-in, voice-in: a queue,
 * a label) between a request pad on the tee and a request pad on the
 * consumer (compositor, audiomixer).  Branches are detached with an IDLE
 * probe on the tee pad, which cuts the tee pad from the branch before any
 * pad is removed, so a shared tee never stops for someone leaving.  A
 * branch that fails is contained: the tee goes on for the others and the
 * participant it served is closed (its client offers again).
 *
 * Threads: the main loop, except what is marked "streaming thread" (a
 * branch's entry, the IDLE probe), which hands over to the main loop
 * with mm_app_run_main().
 */
#include "config.h"

#include "media/media-private.h"
#include "media/tap.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-media"

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
void
mm_branch_quiet (Branch *b)
{
  if (b != NULL)
    g_atomic_int_set (&b->failed, TRUE);
}

void
mm_branch_end (Branch *b)
{
  GstPad *sink;

  if (b == NULL || (sink = gst_element_get_static_pad (b->bin, "sink")) == NULL)
    return;
  /* Through the branch's queue, in order after its last frame, on its
   * own thread: the consumer's pad may be busy. */
  gst_pad_send_event (sink, gst_event_new_eos ());
  gst_object_unref (sink);
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
Branch *
mm_branch_new (MmMedia *m, GstBin *src_bin, const char *tee_name, const char *desc,
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
  b->bin = GST_ELEMENT (mm_pipeline_make_bin (m, desc, vars, error));
  if (b->bin == NULL)
    {
      mm_pipeline_release_pad (sink_bin, sink_el, sink_pad, sink_ghost);
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
    mm_media_room_log (m, G_LOG_LEVEL_WARNING, "linking %s failed (%d, %d)", desc, r1, r2);
  return b;
}

/* Take a branch out now: for branches whose tee no longer carries data
 * (its source is stopped) or whose consumer is going away with it. */
void
mm_branch_free_now (Branch *b, gboolean release_sink)
{
  MmMedia *m = b->m;

  mm_pipeline_remove_bin (m, b->bin);
  mm_pipeline_release_pad (b->src_bin, b->tee, b->tee_pad, b->src_ghost);
  if (release_sink)
    mm_pipeline_release_pad (b->sink_bin, b->sink_el, b->sink_pad, b->sink_ghost);
  else
    gst_object_unref (b->sink_pad);
  gst_object_unref (b->tee);
  g_free (b);
}

typedef struct {
  Branch *b;
  gboolean release_sink;
  MmMedia *m;   /* a reference: the room may close meanwhile */
} Detach;

static void
detach_free (gpointer data)
{
  Detach *d = data;

  mm_media_unref (d->m);
  g_free (d);
}

static void
detach_finish (MmApp *app, gpointer data)
{
  Detach *d = data;
  Peer *owner = d->b->owner;

  mm_branch_free_now (d->b, d->release_sink);
  if (owner != NULL)
    mm_peer_detach_done (owner);
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
void
mm_branch_detach (Branch *b, Peer *owner, gboolean release_sink)
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
