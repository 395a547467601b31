/* input.c — a participant's incoming media.  Each of its inputs (camera,
 * voice, shared screen) enters an appsrc at the head of a bin
 * (pipelines/video-in, audio-in: jitter buffer, depayloader, decoder)
 * ending in a tee; the transport's thread pushes the unprotected packets
 * there, routed by SSRC, MID or payload type, and what the bin asks of its
 * sender (keyframes, retransmissions) goes back as RTCP.  With its first
 * packet an input joins the composite (compose.c) or the mixes (mix.c).
 *
 * Threads: what is marked "transport thread" touches only the peer's
 * inputs, under its in_lock, and hands over to the main loop with
 * mm_app_run_main(); feedback runs on the input's streaming thread; the
 * rest on the main loop.
 */
#include "config.h"

#include "media/media-private.h"
#include "core/error.h"
#include "transport/rtcp.h"

#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>
#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-media"

static void
feedback_free (gpointer data)
{
  Feedback *fb = data;

  mm_endpoint_unref (fb->ep);
  g_free (fb);
}

/* Streaming thread: what a participant's input bin asks of its sender
 * (upstream events reaching its appsrc) goes out as RTCP: the
 * depayloader's keyframe requests as PLI (one per 300 ms at most), the
 * jitter buffer's retransmission requests as NACK. */
static GstPadProbeReturn
input_feedback (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Feedback *fb = data;
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  const GstStructure *s = gst_event_get_structure (ev);
  guint32 ssrc = (guint32) g_atomic_int_get (&fb->ssrc);

  if (gst_video_event_is_force_key_unit (ev))
    {
      gint64 now = g_get_monotonic_time ();

      if (ssrc != 0 && now - fb->last_request_us >= 300 * 1000)
        {
          fb->last_request_us = now;
          mm_endpoint_request_keyframe (fb->ep, ssrc);
        }
      return GST_PAD_PROBE_DROP;
    }
  if (s != NULL && gst_structure_has_name (s, "GstRTPRetransmissionRequest"))
    {
      guint seqnum = 0, rssrc = 0;

      if (gst_structure_get_uint (s, "seqnum", &seqnum)
          && gst_structure_get_uint (s, "ssrc", &rssrc))
        {
          guint16 seq = (guint16) seqnum;

          mm_endpoint_nack (fb->ep, rssrc, &seq, 1);
        }
      return GST_PAD_PROBE_DROP;
    }
  return GST_PAD_PROBE_OK;
}

static void input_ready (MmApp *app, gpointer data);

static Hop *
first_frame_new (Peer *p, InputRole role)
{
  Hop *h = mm_peer_hop_new (p);

  h->role = role;
  return h;
}

static void
first_frame_free (gpointer data)
{
  if (data != NULL)
    mm_peer_hop_free (data);
}

/* Streaming thread of an input: its first decoded frame (or second of
 * audio): it joins the composite or the mixes now (once). */
static GstPadProbeReturn
first_frame (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Hop *h = data;

  (void) pad;
  (void) info;
  mm_app_run_main (h->p->app, input_ready, first_frame_new (h->p, h->role), mm_peer_hop_free);
  return GST_PAD_PROBE_REMOVE;
}

/* The receiving end of one m-line @p sends on: pipelines/video-in or
 * audio-in, whose appsrc "rtpsrc" the transport thread feeds (mm_input_on_rtp).
 * Its media enters the composite or the mixes when its first decoded frame
 * reaches the tee at the end of the bin (input_ready): a compositor or
 * mixer pad that waits for the jitterbuffer, a keyframe and the decoder
 * would hold the room's composite or mix back until its latency ran out
 * (a stall of 150 ms for everyone at every join). */
gboolean
mm_input_add (Peer *p, InputRole role, const MmSdpMedia *md, GError **error)
{
  MmMedia *m = p->m;
  g_autofree char *lat = g_strdup_printf ("%d", m->app->opts->jitter_latency);
  const char *vars[] = { "LATENCY", lat, NULL };
  gboolean video = md->kind == MM_SDP_VIDEO;
  const char *file = video ? "video-in" : "audio-in";
  g_autoptr (GstCaps) caps = NULL;
  GstElement *src;
  GstBin *bin;
  GstPad *pad;
  Feedback *fb;

  if (p->input_bins[role] != NULL)
    return TRUE;
  bin = mm_pipeline_make_bin (m, file, vars, error);
  if (bin == NULL)
    return FALSE;
  src = gst_bin_get_by_name (bin, "rtpsrc");
  if (src == NULL || !GST_IS_APP_SRC (src))
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INTERNAL,
                   "pipelines/%s.pipeline must start with an appsrc named rtpsrc", file);
      g_clear_object (&src);
      gst_object_unref (gst_object_ref_sink (bin));
      return FALSE;
    }
  caps = gst_caps_new_simple ("application/x-rtp",
                              "media", G_TYPE_STRING, video ? "video" : "audio",
                              "encoding-name", G_TYPE_STRING, video ? "VP8" : "OPUS",
                              "payload", G_TYPE_INT, (gint) md->pt,
                              "clock-rate", G_TYPE_INT, video ? 90000 : 48000, NULL);
  g_object_set (src, "caps", caps, NULL);
  fb = g_new0 (Feedback, 1);
  fb->ep = mm_endpoint_ref (p->ep);
  fb->ssrc = (gint) md->ssrc;
  pad = gst_element_get_static_pad (src, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, input_feedback, fb, feedback_free);
  gst_object_unref (pad);
  {
    GstElement *tee = gst_bin_get_by_name (bin, video ? "vin" : "ain");

    if (tee == NULL)
      {
        g_set_error (error, MM_ERROR, MM_ERROR_INTERNAL,
                     "pipelines/%s.pipeline must end in a tee named %s", file,
                     video ? "vin" : "ain");
        gst_object_unref (src);
        gst_object_unref (gst_object_ref_sink (bin));
        return FALSE;
      }
    pad = gst_element_get_static_pad (tee, "sink");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                       first_frame, first_frame_new (p, role), first_frame_free);
    gst_object_unref (pad);
    gst_object_unref (tee);
  }
  p->input_bins[role] = gst_object_ref (bin);
  gst_bin_add (GST_BIN (m->pipeline), GST_ELEMENT (bin));
  gst_element_sync_state_with_parent (GST_ELEMENT (bin));
  g_mutex_lock (&p->in_lock);
  p->inputs[role].appsrc = src;   /* the reference gst_bin_get_by_name gave */
  p->inputs[role].fb = fb;
  p->inputs[role].pt = md->pt;
  p->inputs[role].ssrc = md->ssrc;
  g_strlcpy (p->inputs[role].mid, md->mid != NULL ? md->mid : "", sizeof p->inputs[role].mid);
  p->inputs[role].seen = FALSE;
  p->inputs[role].level_ext = role == IN_VOICE ? md->ext_audio_level : 0;
  p->inputs[role].loudness = 0;
  p->inputs[role].claimed_us = 0;
  p->inputs[role].skip = FALSE;
  g_mutex_unlock (&p->in_lock);
  return TRUE;
}

#define CLAIM_STALE_US (500 * 1000)   /* no level for this long: silent */

gboolean
mm_input_voice_claim (Peer *p, gdouble *db)
{
  Input *in = &p->inputs[IN_VOICE];
  gboolean has;

  g_mutex_lock (&p->in_lock);
  has = in->appsrc != NULL && in->level_ext != 0;
  *db = in->claimed_us != 0 && g_get_monotonic_time () - in->claimed_us < CLAIM_STALE_US
          ? (gdouble) in->loudness - 127 : -127;
  g_mutex_unlock (&p->in_lock);
  return has;
}

void
mm_input_set_decode (Peer *p, gboolean decode)
{
  g_mutex_lock (&p->in_lock);
  p->inputs[IN_VOICE].skip = !decode;
  g_mutex_unlock (&p->in_lock);
}

/* Transport thread, under in_lock: the level a voice's packet says it
 * has (RFC 6464: V bit, then -dBov in 7 bits), held and falling 1 dB a
 * packet (50 dB/s at 20 ms) so that the gaps between words do not count
 * as silence at once. */
static void
note_claim (Input *in, const MmRtpHeader *h)
{
  gsize len = 0;
  const guint8 *ext = mm_rtp_find_extension (h, in->level_ext, &len);
  guint loud;

  if (ext == NULL || len < 1)
    return;
  loud = 127 - (ext[0] & 0x7f);
  in->loudness = loud >= in->loudness ? loud : in->loudness - 1;
  in->claimed_us = g_get_monotonic_time ();
}

/* No packet reaches @p's inputs any more, and their bins stop (they are
 * taken out of the pipeline by peer_teardown). */
void
mm_input_stop_all (Peer *p)
{
  GstElement *srcs[N_INPUTS];

  g_mutex_lock (&p->in_lock);
  for (guint i = 0; i < N_INPUTS; i++)
    {
      srcs[i] = p->inputs[i].appsrc;
      memset (&p->inputs[i], 0, sizeof p->inputs[i]);
    }
  g_mutex_unlock (&p->in_lock);
  for (guint i = 0; i < N_INPUTS; i++)
    {
      g_clear_object (&srcs[i]);
      if (p->input_bins[i] != NULL)
        {
          gst_element_set_locked_state (GST_ELEMENT (p->input_bins[i]), TRUE);
          gst_element_set_state (GST_ELEMENT (p->input_bins[i]), GST_STATE_NULL);
        }
    }
}

/* Transport thread, under in_lock: the input an RTP packet belongs to, by
 * its SSRC, else by the MID header extension, else by payload type (the
 * first input of that type still without an SSRC); the SSRC is learned
 * then. */
static Input *
route_packet (Peer *p, const MmRtpHeader *h)
{
  Input *found = NULL;

  for (guint i = 0; i < N_INPUTS && found == NULL; i++)
    if (p->inputs[i].appsrc != NULL && p->inputs[i].ssrc == h->ssrc)
      return &p->inputs[i];
  if (p->mid_ext != 0)
    {
      gsize len = 0;
      const guint8 *mid = mm_rtp_find_extension (h, p->mid_ext, &len);

      for (guint i = 0; mid != NULL && i < N_INPUTS && found == NULL; i++)
        if (p->inputs[i].appsrc != NULL && strlen (p->inputs[i].mid) == len
            && memcmp (p->inputs[i].mid, mid, len) == 0)
          found = &p->inputs[i];
    }
  for (guint i = 0; i < N_INPUTS && found == NULL; i++)
    if (p->inputs[i].appsrc != NULL && p->inputs[i].ssrc == 0 && p->inputs[i].pt == h->pt)
      found = &p->inputs[i];
  if (found != NULL && found->ssrc != h->ssrc)
    {
      found->ssrc = h->ssrc;
      g_atomic_int_set (&found->fb->ssrc, (gint) h->ssrc);
    }
  return found;
}

/* Transport thread: an RTP packet from @p, unprotected. */
void
mm_input_on_rtp (MmEndpoint *ep, const guint8 *buf, gsize len, gpointer data)
{
  Peer *p = data;
  MmRtpHeader h;
  Input *in;
  GstElement *src = NULL;
  gboolean ours = FALSE;

  if (!mm_rtp_parse (buf, len, &h))
    return;
  g_mutex_lock (&p->in_lock);
  in = route_packet (p, &h);
  if (in != NULL && in->pt == h.pt)
    {
      if (in->level_ext != 0)
        note_claim (in, &h);
      in->seen = TRUE;
      ours = TRUE;
      if (!in->skip)
        src = gst_object_ref (in->appsrc);
    }
  g_mutex_unlock (&p->in_lock);
  if (ours)
    mm_probe_rtp_note (p->probe_in, buf, len);
  if (src == NULL)
    return;
  gst_app_src_push_buffer (GST_APP_SRC (src), gst_buffer_new_memdup (buf, len));
  gst_object_unref (src);
}

/* Main loop: the first decoded frame of one of @p's inputs: into the
 * composite or the mixes with it. */
static void
input_ready (MmApp *app, gpointer data)
{
  Hop *h = data;
  Peer *p = h->p;
  MmMedia *m = p->m;
  GstBin *bin;

  if (p->removed)
    return;
  bin = p->input_bins[h->role];
  if (bin == NULL)
    return;
  if (h->role == IN_SCREEN)
    mm_compose_add_screen (m, p, bin);
  else if (h->role == IN_CAMERA)
    mm_compose_add_camera (m, p, bin);
  else
    mm_mix_add_voice (m, p, bin);
}
