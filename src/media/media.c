/* media.c — the room pipeline: one composite, mix-minus audio, and every
 * participant's connection on the transport (transport/transport.h).
 *
 * Structure.  The fixed parts are bins parsed from the files in pipelines/:
 * the composite (video-mix: compositor → vp8enc → tee "vtee" → one
 * payloader → "vsend"), the full mix (audio-mix: audiomixer → opusenc →
 * tee "atee" → one payloader → "asend") and one mix-minus per participant
 * who sends audio.  What reaches a "send" sink goes to an MmStream, which
 * protects and sends the same packets to every endpoint subscribed to it:
 * no element, queue or thread per receiver.  Each participant's incoming
 * video and audio enter an appsrc at the head of a bin (video-in,
 * audio-in: jitter buffer, depayloader, decoder) ending in a tee; the
 * transport's thread pushes the unprotected packets there.  Every
 * connection between a tee and a consumer is a Branch: a small bin of its
 * own (a queue, a label) between a request pad on the tee and a request
 * pad on the consumer (compositor, audiomixer).  Branches are detached
 * with an IDLE probe on the tee pad, which cuts the tee pad from the
 * branch before any pad is removed, so a shared tee never stops for
 * someone leaving.  A branch that fails is contained: the tee goes on for
 * the others and the participant it served is closed (its client offers
 * again).
 *
 * Threads.  Everything here runs on the main loop, except the GStreamer
 * callbacks marked "streaming thread" and the endpoint callbacks marked
 * "transport thread", which touch only what is theirs (an input under
 * the peer's in_lock) and hand over to the main loop with
 * mm_app_run_main().
 */
#include "config.h"

#include "media/media.h"
#include "media/log.h"
#include "media/probe.h"
#include "media/recorder.h"
#include "media/tap.h"
#include "core/error.h"

#include "transport/rtcp.h"
#include "transport/sdp.h"
#include "transport/transport.h"

#include <gio/gio.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/video/video.h>
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
  GstElement *sink_el;    /* compositor or audiomixer */
  GstPad *sink_pad;       /* request pad of the consumer */
  GstPad *sink_ghost;     /* on sink_bin, targets sink_pad (or NULL) */
  Peer *owner;            /* a removal that waits for this branch */
  gint detaching;         /* TRUE, then 2 once unlinked (atomic) */
  gint failed;            /* its first failure was posted (atomic) */
} Branch;

/* What a participant sends: its camera, its voice, a shared screen. */
typedef enum {
  IN_CAMERA,
  IN_VOICE,
  IN_SCREEN,
  N_INPUTS
} InputRole;

/* Feedback from an input to the participant who sends it (input_feedback). */
typedef struct {
  MmEndpoint *ep;           /* owned */
  gint ssrc;                /* atomic: the sender's SSRC once known, else 0 */
  gint64 last_request_us;   /* of a keyframe (its streaming thread only) */
} Feedback;

/* An input as the transport thread sees it: under the peer's in_lock. */
typedef struct {
  GstElement *appsrc;       /* owned: the packets go in here; NULL once stopped */
  Feedback *fb;             /* owned by the appsrc's pad probe */
  guint8 pt;
  guint32 ssrc;             /* 0 until known (a=ssrc, or the first packet) */
  char mid[MM_SDP_MAX_MID + 1];   /* of its m-line (the MID header extension) */
  gboolean seen;            /* a packet arrived: the bin is in use */
} Input;

struct _Peer {
  gint ref_count;
  MmMedia *m;
  MmApp *app;
  char *id;
  char *name;
  guint order;
  gboolean removed;

  MmEndpoint *ep;             /* its connection (owned) */
  gboolean connected;         /* ICE and DTLS done */
  char *ice_ufrag;            /* of the client's offer: the same in a re-offer
                               * means the same connection, renegotiated */
  char *fingerprint;          /* of its certificate: the same with another ufrag
                               * is an ICE restart */
  MmSdpSetup setup;           /* our DTLS role, kept for every answer */
  guint32 video_ssrc;         /* ours towards it */
  guint32 audio_ssrc;
  gboolean video_sub;         /* it receives m->video_stream */
  MmStream *audio_stream;     /* the mix it hears (m->audio_stream or its
                               * mix_stream), or NULL */
  GMutex in_lock;
  Input inputs[N_INPUTS];     /* under in_lock */
  GstBin *input_bins[N_INPUTS];   /* owned refs, main loop */
  guint8 mid_ext;             /* the MID header extension's id, or 0 */
  guint n_mlines;             /* of the last offer: a new one may not have fewer */
  MmProbeRtp *probe_in;

  gboolean sends_audio, sends_video, wants_audio, wants_video;
  gint video_mline, audio_mline;  /* m-lines of the composite and the mix out, or -1 */
  gint screen_mline;          /* a second video m-line: a shared screen, or -1 */
  gboolean presenting;        /* the client sends on it */
  gboolean screen_paused;     /* the client said it stopped (state presenting=false) */
  GstBin *screen_in;          /* its decoder bin, once it arrives */
  Branch *screen_tile;        /* screen_in → compositor */

  GstBin *mix;                /* mix-minus of everyone else, if sending audio */
  MmStream *mix_stream;       /* its packets, to this participant */
  gboolean mix_ready;         /* its output is negotiated: voices may join */
  GstBin *video_in;           /* decoder bins (of input_bins), once media arrives */
  GstBin *audio_in;
  Branch *tile;               /* video_in → compositor */
  GstElement *card;           /* placeholder under the tile (name card) */
  GstPad *card_pad;           /* its compositor pad, and the ghost of it */
  GstPad *card_ghost;
  GPtrArray *voices;          /* Branch*: audio_in → other mixes */
  GPtrArray *mix_inputs;      /* Branch*: others' audio_in → my mix */

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
  MmStream *video_stream;     /* the composite's packets, to every receiver */
  MmStream *audio_stream;     /* the full mix's, to everyone who does not speak */
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
  g_free (p->fingerprint);
  for (guint i = 0; i < N_INPUTS; i++)
    {
      g_clear_object (&p->inputs[i].appsrc);
      g_clear_object (&p->input_bins[i]);
    }
  g_mutex_clear (&p->in_lock);
  if (p->ep != NULL)
    mm_endpoint_unref (p->ep);
  mm_probe_rtp_free (p->probe_in);
  g_ptr_array_unref (p->voices);
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

/* ---- to the transport ------------------------------------------------- */

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
/* Packets of the composite kept for NACKs: about 2 s at 1.5 Mbit/s. */
#define MM_VIDEO_HISTORY 512

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
static gboolean
attach_sender (GstBin *bin, const char *name, MmStream *stream, const char *probe_name,
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

/* Transport thread: a receiver lost part of the composite (PLI, FIR). */
static void
keyframe_requested (MmStream *stream, gpointer data)
{
  force_keyframe (data);
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

/* The peer a failed branch serves: the owner of a tile, the listener of
 * a mix-minus input. */
static gboolean
branch_of_peer (Peer *p, GstObject *o)
{
  if (branch_is (p->tile, o) || branch_is (p->screen_tile, o))
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

          if (o == GST_OBJECT (p->mix) || o == GST_OBJECT (p->card) || branch_of_peer (p, o))
            return p;
          for (guint i = 0; i < N_INPUTS; i++)
            if (p->input_bins[i] != NULL && o == GST_OBJECT (p->input_bins[i]))
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
    { "appsrc", "gstreamer1.0-plugins-base" },
    { "rtpjitterbuffer", "gstreamer1.0-plugins-good" },
    { "fakesink", "libgstreamer1.0-0" },
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
                                        "tile-in", "voice-in", "placeholder" };
  const char *vars[] = { "WIDTH", "640", "HEIGHT", "360", "FRAMERATE", "30", "BITRATE", "32000",
                         "LATENCY", "40", NULL };
  MmMedia fake = { .app = app };
  g_autoptr (GInetAddress) addr = NULL;

  g_auto (GStrv) listed = g_strsplit (app->opts->ice_addresses, ",", -1);

  if (*app->opts->public_ip != '\0'
      && (addr = g_inet_address_new_from_string (app->opts->public_ip)) == NULL)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                   "media.public-ip: %s is not an IP address", app->opts->public_ip);
      return FALSE;
    }
  for (guint i = 0; listed[i] != NULL; i++)
    {
      const char *a = g_strstrip (listed[i]);

      g_autoptr (GInetAddress) one = *a != '\0' ? g_inet_address_new_from_string (a) : NULL;

      if (*a != '\0' && one == NULL)
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
  m->video_stream = mm_stream_new (app->transport, 90000, MM_VIDEO_HISTORY, keyframe_requested, m);
  m->audio_stream = mm_stream_new (app->transport, 48000, 0, NULL, NULL);
  if (!attach_sender (m->video_mix, "vsend", m->video_stream, "*", error)
      || !attach_sender (m->full_mix, "asend", m->audio_stream, "*", error))
    {
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
      p->tile = NULL;
      g_clear_pointer (&p->mix_stream, mm_stream_free);
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
  g_clear_pointer (&m->video_stream, mm_stream_free);
  g_clear_pointer (&m->audio_stream, mm_stream_free);
  g_free (m->code);
  g_free (m->active_speaker);
  g_free (m->speaker_candidate);
  g_clear_pointer (&m->layout_event, json_object_unref);
  g_free (m);
}

/* Close @p's connection as the room closes: nothing goes to it any more
 * and its inputs stop. */
static void stop_inputs (Peer *p);

static void
stop_connection (MmMedia *m, Peer *p)
{
  if (p->video_sub)
    mm_stream_remove (m->video_stream, p->ep);
  if (p->audio_stream != NULL)
    mm_stream_remove (p->audio_stream, p->ep);
  p->video_sub = FALSE;
  p->audio_stream = NULL;
  if (p->ep != NULL)
    mm_endpoint_close (p->ep);
  stop_inputs (p);
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
  /* The connections first: nothing is sent or taken any more. */
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
  InputRole role;
} Hop;

static void
hop_free (gpointer data)
{
  Hop *h = data;

  peer_unref (h->p);
  g_free (h->text);
  g_free (h);
}

static Hop *
hop_new (Peer *p)
{
  Hop *h = g_new0 (Hop, 1);
  h->p = peer_ref (p);
  return h;
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

/* Main loop: the endpoint connected (no @h->text) or closed for good. */
static void
endpoint_changed (MmApp *app, gpointer data)
{
  Hop *h = data;
  Peer *p = h->p;

  if (p->removed)
    return;
  if (h->text != NULL)
    {
      close_peer (p, h->text);
      return;
    }
  p->connected = TRUE;
  peer_log (p, G_LOG_LEVEL_INFO, "connected");
  /* A receiver decodes from a keyframe on. */
  if (p->video_sub)
    force_keyframe (p->m);
}

/* Transport thread. */
static void
on_endpoint_state (MmEndpoint *ep, MmEndpointState state, const char *reason, gpointer data)
{
  Peer *p = data;
  Hop *h;

  if (state == MM_ENDPOINT_CHECKING)
    return;
  h = hop_new (p);
  if (state == MM_ENDPOINT_CLOSED)
    h->text = g_strdup (reason != NULL ? reason : "the connection closed");
  mm_app_run_main (p->app, endpoint_changed, h, hop_free);
}

static void
nothing (MmApp *app, gpointer data)
{
}

/* Transport thread: no callback of the endpoint runs any more; its
 * reference to the peer is dropped on the main loop, which owns peers. */
static void
endpoint_destroyed (gpointer data)
{
  Peer *p = data;

  mm_app_run_main (p->app, nothing, p, peer_unref);
}

/* ---- incoming media ---------------------------------------------------- */

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

/* The receiving end of one m-line @p sends on: pipelines/video-in or
 * audio-in, whose appsrc "rtpsrc" the transport thread feeds (on_rtp).
 * Its media enters the composite or the mixes when the first packet
 * arrives (input_ready). */
static gboolean
add_input (Peer *p, InputRole role, const MmSdpMedia *md, GError **error)
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
  bin = make_bin (m, file, vars, error);
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
  g_mutex_unlock (&p->in_lock);
  return TRUE;
}

/* No packet reaches @p's inputs any more, and their bins stop (they are
 * taken out of the pipeline by peer_teardown). */
static void
stop_inputs (Peer *p)
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

static void input_ready (MmApp *app, gpointer data);

/* Transport thread: an RTP packet from @p, unprotected. */
static void
on_rtp (MmEndpoint *ep, const guint8 *buf, gsize len, gpointer data)
{
  Peer *p = data;
  MmRtpHeader h;
  Input *in;
  GstElement *src = NULL;
  gboolean first = FALSE;
  InputRole role = IN_CAMERA;

  if (!mm_rtp_parse (buf, len, &h))
    return;
  g_mutex_lock (&p->in_lock);
  in = route_packet (p, &h);
  if (in != NULL && in->pt == h.pt)
    {
      src = gst_object_ref (in->appsrc);
      first = !in->seen;
      in->seen = TRUE;
      role = (InputRole) (in - p->inputs);
    }
  g_mutex_unlock (&p->in_lock);
  if (src == NULL)
    return;
  mm_probe_rtp_note (p->probe_in, buf, len);
  gst_app_src_push_buffer (GST_APP_SRC (src), gst_buffer_new_memdup (buf, len));
  gst_object_unref (src);
  if (first)
    {
      Hop *hop = hop_new (p);

      hop->role = role;
      mm_app_run_main (p->app, input_ready, hop, hop_free);
    }
}

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
    return;
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

/* Main loop: the first packet of one of @p's inputs arrived: into the
 * composite or the mixes with it. */
static void
input_ready (MmApp *app, gpointer data)
{
  Hop *h = data;
  Peer *p = h->p;
  MmMedia *m = p->m;
  g_autoptr (GError) error = NULL;
  GstBin *bin;

  if (p->removed)
    return;
  bin = p->input_bins[h->role];
  if (bin == NULL)
    return;
  if (h->role == IN_SCREEN)
    add_screen (m, p, bin);
  else if (h->role == IN_CAMERA)
    {
      GstPad *ghost = NULL;
      GstPad *pad;

      if (p->video_in != NULL)
        return;
      p->video_in = bin;
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
        return;
      p->audio_in = bin;
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
  p->mix_stream = mm_stream_new (m->app->transport, 48000, 0, NULL, NULL);
  if (!attach_sender (p->mix, "asend", p->mix_stream, NULL, error))
    {
      gst_object_unref (gst_object_ref_sink (p->mix));
      p->mix = NULL;
      g_clear_pointer (&p->mix_stream, mm_stream_free);
      return FALSE;
    }
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

/* Which offered m-lines carry what: their indices, or -1. */
typedef struct {
  gint video;    /* the first video m-line: the composite goes out on it */
  gint audio;    /* the first audio m-line: a mix goes out on it */
  gint camera;   /* the first video m-line, from "video" on, the client sends on */
  gint voice;    /* likewise for audio */
  gint screen;   /* the next video m-line after the camera: a shared screen */
} Plan;

static const MmSdpMedia *
media_at (const MmSdpSession *s, gint i)
{
  return i >= 0 ? s->media->pdata[i] : NULL;
}

static gint
find_from (const MmSdpSession *s, MmSdpKind kind, gint start, gboolean sending)
{
  for (guint i = (guint) MAX (start, 0); i < s->media->len; i++)
    {
      const MmSdpMedia *md = s->media->pdata[i];

      if (md->kind == kind && !md->rejected && (!sending || md->sends))
        return (gint) i;
    }
  return -1;
}

/* A client that starts sending after receiving only (a viewer made
 * presenter) may turn its first m-lines sendrecv or add new ones: its
 * input is the first m-line from the first of its kind on that it sends
 * on. */
static Plan
plan_offer (const MmSdpSession *s)
{
  Plan pl;
  gint after;

  pl.video = find_from (s, MM_SDP_VIDEO, 0, FALSE);
  pl.audio = find_from (s, MM_SDP_AUDIO, 0, FALSE);
  pl.camera = pl.video >= 0 ? find_from (s, MM_SDP_VIDEO, pl.video, TRUE) : -1;
  pl.voice = pl.audio >= 0 ? find_from (s, MM_SDP_AUDIO, pl.audio, TRUE) : -1;
  after = pl.camera >= 0 ? pl.camera : pl.video;
  pl.screen = after >= 0 ? find_from (s, MM_SDP_VIDEO, after + 1, FALSE) : -1;
  return pl;
}

/* @sdp_text read, with what mixmeet needs of it.
 * Returns: (transfer full) or NULL with @error. */
static MmSdpSession *
read_offer (const char *sdp_text, GError **error)
{
  MmSdpSession *s = mm_sdp_parse (sdp_text, error);

  if (s == NULL)
    return NULL;
  if (mm_sdp_first (s, MM_SDP_VIDEO) == NULL && mm_sdp_first (s, MM_SDP_AUDIO) == NULL)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                           "the offer has neither VP8 video nor Opus audio");
      mm_sdp_session_free (s);
      return NULL;
    }
  if (!s->bundle)
    {
      guint accepted = 0;

      for (guint i = 0; i < s->media->len; i++)
        accepted += !((const MmSdpMedia *) s->media->pdata[i])->rejected;
      if (accepted > 1)
        {
          g_set_error_literal (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                               "the offer's m-lines must be in one a=group:BUNDLE: mixmeet "
                               "takes all media on one transport");
          mm_sdp_session_free (s);
          return NULL;
        }
    }
  return s;
}

/* Does m-line @md carry @codec (VP8, opus) and is it not rejected? */
static gboolean
has_codec (const GstSDPMedia *md, const char *codec)
{
  if (gst_sdp_media_get_port (md) == 0
      && gst_sdp_media_get_attribute_val (md, "bundle-only") == NULL)
    return FALSE;
  for (guint k = 0; k < gst_sdp_media_attributes_len (md); k++)
    {
      const GstSDPAttribute *a = gst_sdp_media_get_attribute (md, k);
      const char *end;

      if (g_strcmp0 (a->key, "rtpmap") != 0 || a->value == NULL)
        continue;
      end = a->value;
      while (g_ascii_isdigit (*end))
        end++;
      while (*end == ' ')
        end++;
      if (g_ascii_strncasecmp (end, codec, strlen (codec)) == 0 && end[strlen (codec)] == '/')
        return TRUE;
    }
  return FALSE;
}

gboolean
mm_media_check_offer (const char *sdp_text, gboolean *sends, GError **error)
{
  GstSDPMessage *sdp = NULL;
  gboolean any = FALSE;

  if (sends == NULL)
    {
      g_autoptr (MmSdpSession) s = read_offer (sdp_text, error);

      return s != NULL;
    }
  /* Only the codecs and directions, so that a caller may refuse a sender
   * before anything else (mm_media_offer checks the rest). */
  *sends = FALSE;
  if (*sdp_text == '\0' || gst_sdp_message_new_from_text (sdp_text, &sdp) != GST_SDP_OK
      || gst_sdp_message_medias_len (sdp) == 0)
    {
      if (sdp != NULL)
        gst_sdp_message_free (sdp);
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                           "sdp is not a session description with media");
      return FALSE;
    }
  for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++)
    {
      const GstSDPMedia *md = gst_sdp_message_get_media (sdp, i);
      gboolean video = g_strcmp0 (gst_sdp_media_get_media (md), "video") == 0;
      gboolean audio = g_strcmp0 (gst_sdp_media_get_media (md), "audio") == 0;

      if ((video && has_codec (md, "VP8")) || (audio && has_codec (md, "opus")))
        {
          any = TRUE;
          if (gst_sdp_media_get_attribute_val (md, "recvonly") == NULL
              && gst_sdp_media_get_attribute_val (md, "inactive") == NULL)
            *sends = TRUE;
        }
    }
  gst_sdp_message_free (sdp);
  if (!any)
    g_set_error_literal (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                         "the offer has neither VP8 video nor Opus audio");
  return any;
}

static void
send_answer_now (MmApp *app, gpointer data)
{
  Hop *h = data;
  Peer *p = h->p;
  g_autoptr (JsonObject) ev = NULL;

  if (p->removed)
    return;
  ev = json_object_new ();
  json_object_set_string_member (ev, "sdp", h->text);
  p->m->sink.send (p->m->sink.data, p->id, "answer", ev);
  if (p->m->layout_event != NULL)
    p->m->sink.send (p->m->sink.data, p->id, "layout", p->m->layout_event);
}

/* Our answer to @offer, sent to the client after the request that
 * carried the offer has been answered. */
static void
send_answer (Peer *p, const MmSdpSession *offer, const Plan *pl)
{
  MmMedia *m = p->m;
  g_autofree MmSdpAnswerMedia *am = g_new0 (MmSdpAnswerMedia, offer->media->len);
  g_auto (GStrv) candidates = mm_transport_candidates (m->app->transport);
  MmSdpAnswerParams ap = { 0 };
  Hop *h = hop_new (p);

  for (guint i = 0; i < offer->media->len; i++)
    {
      const MmSdpMedia *md = offer->media->pdata[i];
      MmSdpAnswerMedia *a = &am[i];
      gint at = (gint) i;

      a->accept = !md->rejected;
      if (!a->accept)
        continue;
      if (at == pl->video && p->video_sub)
        {
          a->we_send = TRUE;
          a->ssrc = p->video_ssrc;
          a->msid_stream = "mixmeet";
          a->msid_track = "composite";
        }
      if (at == pl->audio && p->audio_stream != NULL)
        {
          a->we_send = TRUE;
          a->ssrc = p->audio_ssrc;
          a->msid_stream = "mixmeet";
          a->msid_track = "mix";
        }
      if (at == pl->camera || at == pl->voice || at == pl->screen)
        a->we_receive = md->sends;
    }
  ap.ice_ufrag = mm_endpoint_ufrag (p->ep);
  ap.ice_pwd = mm_endpoint_pwd (p->ep);
  ap.fingerprint = mm_transport_fingerprint (m->app->transport);
  ap.setup = p->setup;
  ap.candidates = (const char *const *) candidates;
  ap.cname = "mixmeet";
  ap.media = am;
  ap.n_media = offer->media->len;
  h->text = mm_sdp_build_answer (offer, &ap);
  mm_app_run_main (m->app, send_answer_now, h, hop_free);
}

/* Make @p's media what @offer says: the composite and a mix to it where
 * it receives, its camera, voice and screen in where it sends. */
static gboolean
apply_offer (Peer *p, const MmSdpSession *offer, const Plan *pl, GError **error)
{
  MmMedia *m = p->m;
  const MmSdpMedia *video = media_at (offer, pl->video);
  const MmSdpMedia *audio = media_at (offer, pl->audio);
  const MmSdpMedia *camera = media_at (offer, pl->camera);
  const MmSdpMedia *voice = media_at (offer, pl->voice);
  const MmSdpMedia *screen = media_at (offer, pl->screen);

  p->video_mline = pl->video;
  p->audio_mline = pl->audio;
  p->screen_mline = pl->screen;
  p->presenting = screen != NULL && screen->sends;
  p->n_mlines = offer->media->len;
  for (guint i = 0; i < offer->media->len && p->mid_ext == 0; i++)
    p->mid_ext = ((const MmSdpMedia *) offer->media->pdata[i])->ext_mid;

  if (camera != NULL && !p->sends_video)
    {
      p->sends_video = TRUE;
      /* A tile from now on: a name card until the video arrives (and
       * whenever it is off). */
      if (p->card == NULL)
        add_card (m, p);
    }
  if (camera != NULL && !add_input (p, IN_CAMERA, camera, error))
    return FALSE;
  if (voice != NULL && !p->sends_audio)
    {
      /* A mix-minus for someone who speaks: everyone else's voice. */
      if (!start_mix (m, p, error))
        return FALSE;
      p->sends_audio = TRUE;
    }
  if (voice != NULL && !add_input (p, IN_VOICE, voice, error))
    return FALSE;
  if (screen != NULL && screen->sends && !add_input (p, IN_SCREEN, screen, error))
    return FALSE;
  if (camera != NULL || screen != NULL)
    mm_endpoint_set_max_bitrate (p->ep, (guint64) m->app->opts->video_bitrate * 1000);

  if (video != NULL && video->receives && !p->video_sub)
    {
      mm_stream_add (m->video_stream, p->ep, video->pt, p->video_ssrc);
      p->video_sub = TRUE;
      p->wants_video = TRUE;
    }
  if (audio != NULL && audio->receives)
    {
      MmStream *want = p->mix_stream != NULL ? p->mix_stream : m->audio_stream;

      if (p->audio_stream == NULL)
        mm_stream_add (want, p->ep, audio->pt, p->audio_ssrc);
      else if (p->audio_stream != want)
        mm_stream_move (p->audio_stream, want, p->ep);
      p->audio_stream = want;
      p->wants_audio = TRUE;
    }
  return TRUE;
}

/* A new offer on the same connection (the same ICE credentials, or new
 * ones with the same DTLS certificate: an ICE restart): a viewer who
 * starts sending, a screen shared or no longer shared. */
/* Whether @offer may renegotiate @p's connection (checked before an ICE
 * restart changes anything: a refused offer leaves the connection as it
 * was). */
static gboolean
check_reoffer (Peer *p, const MmSdpSession *offer, GError **error)
{
  Plan pl = plan_offer (offer);

  if (offer->media->len < p->n_mlines)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                   "a new offer on the same connection must keep every m-line of the last "
                   "one (%u), rejected with port 0 if no longer used; it has %u",
                   p->n_mlines, offer->media->len);
      return FALSE;
    }
  if ((p->video_mline >= 0 && pl.video != p->video_mline)
      || (p->audio_mline >= 0 && pl.audio != p->audio_mline))
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                           "a new offer on the same connection must keep the audio and video "
                           "m-lines of the first one");
      return FALSE;
    }
  return TRUE;
}

static gboolean
renegotiate (MmMedia *m, Peer *p, const MmSdpSession *offer, GError **error)
{
  Plan pl = plan_offer (offer);
  gboolean showed = shows_screen (p);

  if (!check_reoffer (p, offer, error))
    return FALSE;
  if (!apply_offer (p, offer, &pl, error))
    return FALSE;
  send_answer (p, offer, &pl);
  peer_log (p, G_LOG_LEVEL_INFO, "new offer on the same connection (video %s, audio %s, screen %s)",
            p->sends_video ? "in" : "-", p->sends_audio ? "in" : "-", p->presenting ? "in" : "-");
  if (showed != shows_screen (p))
    screens_changed (m);
  return TRUE;
}

static guint32
random_ssrc (guint32 other)
{
  guint32 s;

  do
    s = g_random_int ();
  while (s == 0 || s == other);
  return s;
}

gboolean
mm_media_offer (MmMedia *m, const char *pid, const char *display_name, const char *sdp_text,
                GError **error)
{
  g_autoptr (MmSdpSession) offer = read_offer (sdp_text, error);
  MmEndpointConfig ec = { 0 };
  MmEndpointCallbacks cb = { 0 };
  Plan pl;
  Peer *p;

  if (offer == NULL)
    return FALSE;
  pl = plan_offer (offer);
  p = g_hash_table_lookup (m->peers, pid);
  if (p != NULL && !p->removed)
    {
      /* The same ICE credentials: the same connection, renegotiated.  New
       * ones with the same certificate: an ICE restart (a client whose
       * network changed), the DTLS session and keys go on.  Another
       * certificate: a new connection (the client lost the old one),
       * which replaces the old. */
      if (g_strcmp0 (offer->ice_ufrag, p->ice_ufrag) == 0)
        return renegotiate (m, p, offer, error);
      if (g_strcmp0 (offer->fingerprint, p->fingerprint) == 0)
        {
          if (!check_reoffer (p, offer, error))
            return FALSE;
          mm_endpoint_restart_ice (p->ep, offer->ice_ufrag, offer->ice_pwd);
          g_free (p->ice_ufrag);
          p->ice_ufrag = g_strdup (offer->ice_ufrag);
          peer_log (p, G_LOG_LEVEL_INFO, "ICE restart");
          return renegotiate (m, p, offer, error);
        }
      mm_media_remove (m, pid);
    }

  p = g_new0 (Peer, 1);
  p->ref_count = 1;
  p->m = m;
  p->app = m->app;
  p->id = g_strdup (pid);
  p->name = g_strdup (display_name);
  p->order = m->next_order++;
  g_mutex_init (&p->in_lock);
  p->voices = g_ptr_array_new ();
  p->mix_inputs = g_ptr_array_new ();
  p->video_mline = p->audio_mline = p->screen_mline = -1;
  p->ice_ufrag = g_strdup (offer->ice_ufrag);
  p->fingerprint = g_strdup (offer->fingerprint);
  p->setup = mm_sdp_answer_setup (offer->setup);
  p->video_ssrc = random_ssrc (0);
  p->audio_ssrc = random_ssrc (p->video_ssrc);
  p->level_db = -100;
  p->probe_in = mm_probe_rtp_new (pid, FALSE);

  ec.remote_ufrag = offer->ice_ufrag;
  ec.remote_pwd = offer->ice_pwd;
  ec.remote_fingerprint = offer->fingerprint;
  ec.role = p->setup == MM_SDP_SETUP_ACTIVE ? MM_DTLS_CLIENT : MM_DTLS_SERVER;
  for (guint i = 0; i < offer->media->len && ec.twcc_ext_id == 0; i++)
    {
      const MmSdpMedia *md = offer->media->pdata[i];

      if (!md->rejected && md->fb_twcc)
        ec.twcc_ext_id = md->ext_twcc;
    }
  cb.state = on_endpoint_state;
  cb.rtp = on_rtp;
  cb.data = peer_ref (p);
  cb.destroy = endpoint_destroyed;
  p->ep = mm_endpoint_new (m->app->transport, &ec, &cb, error);
  if (p->ep == NULL)
    {
      peer_unref (p);
      peer_unref (p);
      return FALSE;
    }
  g_hash_table_insert (m->peers, p->id, p);
  if (!apply_offer (p, offer, &pl, error))
    {
      mm_media_remove (m, pid);
      return FALSE;
    }
  send_answer (p, offer, &pl);
  peer_log (p, G_LOG_LEVEL_INFO, "offer (video %s%s, audio %s%s)", p->sends_video ? "in" : "",
            p->wants_video ? " out" : "", p->sends_audio ? "in" : "", p->wants_audio ? " out" : "");
  return TRUE;
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
  /* ICE-lite: the client's addresses are learned from its connectivity
   * checks, which reach our one port whatever it announces. */
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
 * (its inputs were stopped by mm_media_remove). */
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
  for (guint i = 0; i < N_INPUTS; i++)
    if (p->input_bins[i] != NULL)
      {
        remove_bin (m, GST_ELEMENT (p->input_bins[i]));
        gst_object_unref (p->input_bins[i]);
        p->input_bins[i] = NULL;
      }
  p->screen_in = NULL;
  if (p->mix != NULL)
    remove_bin (m, GST_ELEMENT (p->mix));
  /* Stopped: its sender no longer hands packets to the stream. */
  g_clear_pointer (&p->mix_stream, mm_stream_free);
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
  had_tile = p->tile != NULL || p->card != NULL || p->screen_tile != NULL;
  hide_peer (p);
  /* What p's branches return from now on is no failure to report. */
  branch_quiet (p->tile);
  branch_quiet (p->screen_tile);
  for (guint i = 0; i < p->mix_inputs->len; i++)
    branch_quiet (p->mix_inputs->pdata[i]);
  /* Its connection first: nothing is sent to it or taken from it any
   * more, and its inputs stop, so that the branches out of them can go. */
  if (p->video_sub)
    mm_stream_remove (m->video_stream, p->ep);
  if (p->audio_stream != NULL)
    mm_stream_remove (p->audio_stream, p->ep);
  p->video_sub = FALSE;
  p->audio_stream = NULL;
  mm_endpoint_close (p->ep);
  stop_inputs (p);
  peer_ref (p);
  p->pending_detach = 1;   /* released below, after scheduling the rest */
  for (guint i = 0; i < p->mix_inputs->len; i++)
    {
      Branch *b = p->mix_inputs->pdata[i];

      /* The source's list of voices must forget this branch now. */
      forget_branch (m, b, TRUE);
      branch_detach (b, p, FALSE);
    }
  g_ptr_array_set_size (p->mix_inputs, 0);
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
