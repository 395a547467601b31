/* tap.c — a consumer on a running tee, added and taken away.
 *
 * A tee pushes into a new request pad at once, from its own streaming
 * thread.  The ghost pad that carries the tee pad out of its bin is
 * active, in the bin and linked to the consumer before the tee pad
 * becomes its target, and that last link is made while the tee pad is
 * idle.  Linked any other way, a buffer or its sticky events could reach
 * the ghost pad half set up and come back as ERROR (the tee hands that
 * upstream and the whole source stops: a speaker's voice, a mix, the
 * composite), or miss the sticky events for good.  On the way out the
 * tee pad is cut from the ghost pad (mm_tap_cut, in an idle probe) before
 * the ghost pad is removed: a tee still feeding a ghost pad being
 * disposed gets ERROR back too. */
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
    {
      /* The path starts with the room's pipeline, room-CODE. */
      g_autofree char *where = gst_object_get_path_string (GST_OBJECT (ghost));

      g_warning ("%s: cannot link to its tee", where);
    }
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

/* Unlink @ghost (from mm_tap_tee) from its consumer and its tee pad: in
 * an idle probe on the tee pad, so that no buffer is on its way, where
 * the caller can wait for one. */
void
mm_tap_cut (GstPad *ghost)
{
  GstPad *peer = gst_pad_get_peer (ghost);

  if (peer != NULL)
    {
      gst_pad_unlink (ghost, peer);
      gst_object_unref (peer);
    }
  gst_ghost_pad_set_target (GST_GHOST_PAD (ghost), NULL);
}
