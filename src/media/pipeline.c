/* pipeline.c — the plumbing of a room's pipeline: the files in pipelines/
 * parsed into bins (comments dropped, ${VAR} replaced, the unlinked
 * "sink" and "src" pads ghosted), request pads on mixers and tees, bins
 * taken out, and the mixers' latency kept right as inputs come and go.
 *
 * Threads: the main loop (mm_pipeline_load_description and
 * mm_pipeline_make_bin also run before any room exists, from
 * mm_media_check_pipelines).
 */
#include "config.h"

#include "media/media-private.h"
#include "core/error.h"

#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-media"

/* Read pipelines/NAME.pipeline: comments dropped, ${VAR} replaced. */
char *
mm_pipeline_load_description (MmMedia *m, const char *name, const char *const *vars, GError **error)
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
GstBin *
mm_pipeline_make_bin (MmMedia *m, const char *name, const char *const *vars, GError **error)
{
  g_autofree char *desc = mm_pipeline_load_description (m, name, vars, error);
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
GstPad *
mm_pipeline_request_pad (GstBin *bin, GstElement *el, const char *templ, GstCaps *caps,
                         GstPad **ghost)
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

void
mm_pipeline_release_pad (GstBin *bin, GstElement *el, GstPad *pad, GstPad *ghost)
{
  if (ghost != NULL && bin != NULL)
    gst_element_remove_pad (GST_ELEMENT (bin), ghost);
  if (pad != NULL && el != NULL)
    gst_element_release_request_pad (el, pad);
  if (pad != NULL)
    gst_object_unref (pad);   /* the reference mm_pipeline_request_pad() returned */
}

void
mm_pipeline_remove_bin (MmMedia *m, GstElement *bin)
{
  if (bin == NULL)
    return;
  gst_element_set_locked_state (bin, TRUE);
  gst_element_set_state (bin, GST_STATE_NULL);
  gst_bin_remove (GST_BIN (m->pipeline), bin);
}

/* ---- latency ------------------------------------------------------------- */

/* A new input of a mixer: the pipeline's latency must be worked out
 * again (on_bus), or the mixer keeps waiting only as long as its old
 * inputs needed and drops the newcomer's buffers as late, for good. */
void
mm_pipeline_relatency (MmMedia *m)
{
  gst_element_post_message (m->pipeline, gst_message_new_latency (GST_OBJECT (m->pipeline)));
}

/* Inputs come and go while a mixer runs, and on a busy machine a new one
 * can take longer to decode than the ones it had when it last asked its
 * upstream for latency: without a floor it drops the newcomer's every
 * buffer as late (a missing voice), however often the latency is worked
 * out again.  The floor is the jitterbuffer's wait plus
 * MM_DECODE_MARGIN_MS for decoding and scheduling.  The compositor needs
 * none: its tiles are stamped at their arrival (compose.c). */
#define MM_DECODE_MARGIN_MS 40

void
mm_pipeline_set_upstream_floor (MmMedia *m, GstElement *mixer)
{
  guint64 floor = (guint64) (m->app->opts->jitter_latency + MM_DECODE_MARGIN_MS) * GST_MSECOND;

  g_object_set (mixer, "min-upstream-latency", floor, NULL);
}
