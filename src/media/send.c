/* send.c — to the transport: what reaches a "send" sink (the payloaded
 * packets of the composite or of a mix) goes to an MmStream, which
 * protects and sends the same packets to every endpoint subscribed to it:
 * no element, queue or thread per receiver.
 *
 * Threads: mm_send_attach on the main loop; the packets on the streaming
 * thread of the sink's pipeline branch.
 */
#include "config.h"

#include "media/media-private.h"
#include "core/error.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-media"

typedef struct {
  MmStream *stream;      /* not owned: freed after the pipeline has stopped */
  MmProbeRtp *probe;     /* owned, or NULL */
} Sender;

static void
sender_free (gpointer data)
{
  Sender *snd = data;

  mm_probe_rtp_free (snd->probe);
  g_free (snd);
}

#define MM_SEND_BATCH 32

static void
send_buffers (Sender *snd, GstBuffer **bufs, guint n)
{
  MmPacket packets[MM_SEND_BATCH];
  GstMapInfo maps[MM_SEND_BATCH];
  guint mapped = 0;

  for (guint i = 0; i < n; i++)
    if (gst_buffer_map (bufs[i], &maps[mapped], GST_MAP_READ))
      {
        packets[mapped].data = maps[mapped].data;
        packets[mapped].len = maps[mapped].size;
        mm_probe_rtp_note (snd->probe, maps[mapped].data, maps[mapped].size);
        mapped++;
      }
  mm_stream_send (snd->stream, packets, mapped);
  for (guint i = 0; i < mapped; i++)
    gst_buffer_unmap (bufs[i], &maps[i]);
}

/* Streaming thread: the payloaded packets of a composite or a mix, on
 * their way into the fakesink that ends its pipeline, go to everyone who
 * receives them (once for all: the transport protects and sends a copy
 * for each). */
static GstPadProbeReturn
on_packets (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Sender *snd = data;

  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    {
      GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
      guint n = gst_buffer_list_length (list);
      GstBuffer *bufs[MM_SEND_BATCH];

      for (guint i = 0; i < n; i += MM_SEND_BATCH)
        {
          guint k = MIN (MM_SEND_BATCH, n - i);

          for (guint j = 0; j < k; j++)
            bufs[j] = gst_buffer_list_get (list, i + j);
          send_buffers (snd, bufs, k);
        }
    }
  else if (info->type & GST_PAD_PROBE_TYPE_BUFFER)
    {
      GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

      send_buffers (snd, &buf, 1);
    }
  return GST_PAD_PROBE_OK;
}

/* Hand what reaches the sink @name of @bin to @stream. */
gboolean
mm_send_attach (GstBin *bin, const char *name, MmStream *stream, const char *probe_name,
                GError **error)
{
  GstElement *sink = gst_bin_get_by_name (bin, name);
  GstPad *pad;
  Sender *snd;

  if (sink == NULL)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INTERNAL,
                   "a pipeline file has no sink named %s for the transport", name);
      return FALSE;
    }
  snd = g_new0 (Sender, 1);
  snd->stream = stream;
  snd->probe = probe_name != NULL ? mm_probe_rtp_new (probe_name, TRUE) : NULL;
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                     on_packets, snd, sender_free);
  gst_object_unref (pad);
  gst_object_unref (sink);
  return TRUE;
}
