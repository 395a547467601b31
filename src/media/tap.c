/* tap.c — a new consumer on a running tee.
 *
 * A tee pushes into a new request pad at once, from its own streaming
 * thread.  Whatever it feeds must be whole by then: the ghost pad that
 * carries the tee pad out of its bin is active, in the bin and linked to
 * the consumer before the tee pad becomes its target, the last step.
 * Linked the other way round, a buffer or its sticky events could reach
 * the ghost pad half set up and come back as ERROR, and the tee would
 * hand that upstream and stop the whole source (a speaker's voice, a mix,
 * the composite).  The link itself is made while the tee pad is idle.  The reverse holds on the way out: the tee pad is cut
 * from the ghost pad (gst_ghost_pad_set_target (ghost, NULL)) in an idle
 * probe, before the ghost pad is removed. */
#include "config.h"

#include "media/tap.h"

/* The tee pad is idle: no push is under way on it, so the link cannot
 * race one (a push that found the pad unlinked marks its sticky events
 * sent; a link made meanwhile is then never given them, and the consumer
 * gets buffers without a segment for good). */
static GstPadProbeReturn
link_idle (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstGhostPad *ghost = data;

  (void) info;
  if (!gst_ghost_pad_set_target (ghost, pad))
    g_warning ("cannot link %s:%s to its tee", GST_DEBUG_PAD_NAME (ghost));
  return GST_PAD_PROBE_REMOVE;
}

/* A new request pad of @tee (inside @src_bin) feeding @sink through a new
 * ghost pad of @src_bin, returned in @ghost (owned by @src_bin).  @link
 * is GST_PAD_LINK_OK when all of it worked; the tee pad becomes the
 * ghost's target as soon as it is idle, maybe after this returns.
 * Returns the tee pad (a reference, for gst_element_release_request_pad),
 * or NULL. */
GstPad *
mm_tap_tee (GstBin *src_bin, GstElement *tee, GstPad *sink, GstPad **ghost,
            GstPadLinkReturn *link)
{
  GstPad *pad;

  *ghost = gst_ghost_pad_new_no_target (NULL, GST_PAD_SRC);
  gst_pad_set_active (*ghost, TRUE);
  gst_element_add_pad (GST_ELEMENT (src_bin), *ghost);
  *link = gst_pad_link (*ghost, sink);
  pad = gst_element_request_pad_simple (tee, "src_%u");
  if (pad == NULL)
    {
      *link = GST_PAD_LINK_REFUSED;
      return NULL;
    }
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_IDLE, link_idle, gst_object_ref (*ghost),
                     gst_object_unref);
  return pad;
}
