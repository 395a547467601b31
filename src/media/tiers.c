/* tiers.c — the composite in tiers, and each receiver on the one its
 * link and its choice allow (docs/tiers.md).
 *
 * The high tier is the room's composite encoder.  The medium and low
 * tiers take the raw composite from "vraw" (pipelines/tier.pipeline):
 * scaled and encoded once each, for everyone on them, and only while
 * someone is: a pad probe lets frames in while the tier has receivers
 * and for [tiers] idle-stop seconds after the last one left.  Audio only
 * is a stream that sends nothing.  The four streams are siblings
 * (transport.h): a receiver switches between them at a keyframe of the
 * new one, keeping its SSRC, sequence numbers and timestamps.
 *
 * Twice a second each receiver's link (mm_endpoint_get_link: its
 * transport-wide feedback, or REMB, loss and RTT) is read:
 *   down  when the tier needs more than the estimate, the link is
 *         congested or loses over 5%, for a second: to the best tier
 *         that fits the estimate with 10% to spare, at once; to audio
 *         only (from a video tier above the lowest) only when the
 *         estimate is under 80% of what the lowest video tier needs;
 *   up    one tier, when the link looked good for up-after seconds and
 *         its capacity carries the next tier with 50% to spare (trains
 *         of padding measure it: every 3 s, from audio only once a
 *         minute and with twice the need); a move up that fails within
 *         20 s doubles the wait (up to 2 min).
 * The choice (auto, high, data-saver, audio-only) and the host's cap
 * bound it.  Every change is told to the receiver ("tier"), to the hosts
 * ("receiver") and logged.
 *
 * Threads: the main loop, but the gate probe and the keyframe requests
 * of receivers (streaming and transport threads).
 */
#include "config.h"

#include "media/media-private.h"
#include "core/error.h"

#include <gst/video/video.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-media"

#define TICK_MS 500
#define TIER_HISTORY 256                  /* packets kept for NACKs */
#define DOWN_AFTER_US G_USEC_PER_SEC      /* weak this long: down */
#define LOSSY_DOWN_AFTER_US (3 * G_USEC_PER_SEC)
#define SETTLE_US (2 * G_USEC_PER_SEC)    /* after a move, before the next move down */
#define FAILED_UP_US (20 * G_USEC_PER_SEC)
#define MAX_BACKOFF_S 120
#define PROBE_EVERY_US (3 * G_USEC_PER_SEC)
/* From audio only, a probe holds a weak link's audio back (~50 ms at
 * 80 kbit/s): video is tried again once a minute. */
#define PROBE_AUDIO_EVERY_US (60 * G_USEC_PER_SEC)
/* After a move down from a queue, the queue still there is the old tier's,
 * draining: no further move for it, for this long at most. */
#define DRAIN_MAX_US (5 * G_USEC_PER_SEC)
#define DRAIN_WAIT_MAX_MS 500             /* the longest a move down waits for a queue */
#define QUEUED_MS 150                     /* transport/bwe.h: a queue, */
#define LOSS_CONGESTED 100                /* and loss that is congestion */
#define LOSS_DOWN 50                      /* per mille */
#define LOSS_UP 20
#define AUDIO_ONLY_BELOW 80               /* per cent of the lowest video tier's need */

static const char *const tier_names[MM_N_TIERS] = { "high", "medium", "low", "audio-only" };
static const char *const quality_names[] = { "auto", "high", "data-saver", "audio-only" };

const char *
mm_tier_name (MmTier t)
{
  return t < MM_N_TIERS ? tier_names[t] : "unknown";
}

gboolean
mm_tier_from_name (const char *name, MmTier *out)
{
  for (guint i = 0; i < MM_N_TIERS; i++)
    if (g_strcmp0 (name, tier_names[i]) == 0)
      {
        *out = i;
        return TRUE;
      }
  return FALSE;
}

const char *
mm_quality_name (MmQuality q)
{
  return (guint) q < G_N_ELEMENTS (quality_names) ? quality_names[q] : "unknown";
}

gboolean
mm_quality_from_name (const char *name, MmQuality *out)
{
  for (guint i = 0; i < G_N_ELEMENTS (quality_names); i++)
    if (g_strcmp0 (name, quality_names[i]) == 0)
      {
        *out = i;
        return TRUE;
      }
  return FALSE;
}

/* ---- encoders ------------------------------------------------------------ */

/* Streaming thread of the raw composite. */
static GstPadProbeReturn
gate (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Tier *t = data;

  (void) pad;
  (void) info;
  return g_atomic_int_get (&t->active) ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
}

/* Any thread: a keyframe of @t now, unless one went out within
 * keyframe-interval: then, with @must (a receiver that connected or
 * switched and cannot decode without one), when the interval has passed
 * (the tick sends it); without (a receiver's PLI, a reminder), not at all,
 * so that lossy receivers cannot make the shared encoder send keyframes
 * back to back. */
static void
tier_keyframe (Tier *t, gboolean must)
{
  MmMedia *m = t->m;
  gint64 now = g_get_monotonic_time ();
  GstPad *src;

  if (t->venc == NULL)
    return;
  /* Two threads racing here cost one keyframe more at worst. */
  if (now - t->last_keyframe_us < (gint64) m->app->opts->keyframe_interval * 1000)
    {
      if (must)
        g_atomic_int_set (&t->keyframe_pending, 1);
      return;
    }
  g_atomic_int_set (&t->keyframe_pending, 0);
  t->last_keyframe_us = now;
  if (t == &m->tiers[MM_TIER_HIGH])
    {
      mm_media_force_keyframe (m);   /* which has its own limit too */
      return;
    }
  src = gst_element_get_static_pad (t->venc, "src");
  gst_pad_send_event (src, gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE,
                                                                         TRUE, 0));
  gst_object_unref (src);
}

/* Transport thread: a receiver of @t lost part of it (PLI, FIR). */
static void
keyframe_requested (MmStream *stream, gpointer data)
{
  (void) stream;
  tier_keyframe (data, FALSE);
}

/* Frames into @t's encoder again; starting with a keyframe unless
 * @keyframe is FALSE (the receiver that turned it on asks later). */
static void
tier_activate (Tier *t, gboolean keyframe)
{
  t->idle_since_us = 0;
  if (t->gate == NULL || g_atomic_int_get (&t->active))
    return;
  g_atomic_int_set (&t->active, 1);
  t->last_keyframe_us = 0;
  if (keyframe)
    tier_keyframe (t, TRUE);
  mm_media_room_log (t->m, G_LOG_LEVEL_INFO, "tier %s on (%dx%d at %d fps, %d kbit/s)",
                     mm_tier_name (t - t->m->tiers), t->width, t->height, t->framerate,
                     t->bitrate_kbps);
}

static gboolean
build_tier (MmMedia *m, MmTier which, gint height, gint framerate, gint kbps, GError **error)
{
  const MmOptions *o = m->app->opts;
  Tier *t = &m->tiers[which];
  gint width = (gint) ((gint64) height * o->video_width / o->video_height) & ~1;
  g_autofree char *w = g_strdup_printf ("%d", width);
  g_autofree char *h = g_strdup_printf ("%d", height);
  g_autofree char *fps = g_strdup_printf ("%d", framerate);
  g_autofree char *br = g_strdup_printf ("%d", kbps * 1000);
  const char *vars[] = { "WIDTH", w, "HEIGHT", h, "FRAMERATE", fps, "BITRATE", br, NULL };
  g_autoptr (GstElement) vraw = gst_bin_get_by_name (m->video_mix, "vraw");
  g_autoptr (GstPad) sink = NULL;
  GstBin *bin;

  if (vraw == NULL)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INTERNAL,
                           "pipelines/video-mix.pipeline must name the raw composite's tee vraw");
      return FALSE;
    }
  bin = mm_pipeline_make_bin (m, "tier", vars, error);
  if (bin == NULL)
    return FALSE;
  t->bin = GST_ELEMENT (bin);
  gst_bin_add (GST_BIN (m->pipeline), t->bin);
  t->venc = gst_bin_get_by_name (bin, "tierenc");
  sink = gst_element_get_static_pad (t->bin, "sink");
  if (t->venc == NULL || sink == NULL)
    {
      g_set_error_literal (error, MM_ERROR, MM_ERROR_INTERNAL,
                           "pipelines/tier.pipeline must name its encoder tierenc and take "
                           "raw video in");
      return FALSE;
    }
  t->tee_pad = mm_pipeline_request_pad (m->video_mix, vraw, "src_%u", NULL, &t->gate_ghost);
  if (gst_pad_link (t->gate_ghost, sink) != GST_PAD_LINK_OK)
    {
      g_set_error (error, MM_ERROR, MM_ERROR_INTERNAL, "cannot link the %s tier",
                   mm_tier_name (which));
      return FALSE;
    }
  /* After the rate: a videorate that saw nothing for a while lets every
   * frame through until its count catches up (30 fps on a 15 fps tier
   * for as long as the pause was). */
  {
    g_autoptr (GstElement) rate = gst_bin_get_by_name (bin, "tierrate");

    if (rate == NULL)
      {
        g_set_error_literal (error, MM_ERROR, MM_ERROR_INTERNAL,
                             "pipelines/tier.pipeline must name its videorate tierrate");
        return FALSE;
      }
    t->gate = gst_element_get_static_pad (rate, "src");
  }
  gst_pad_add_probe (t->gate, GST_PAD_PROBE_TYPE_BUFFER, gate, t, NULL);
  t->stream = mm_stream_new_sibling (m->video_stream, 90000, TIER_HISTORY, keyframe_requested, t);
  t->exists = TRUE;
  t->width = width;
  t->height = height;
  t->framerate = framerate;
  t->bitrate_kbps = kbps;
  return mm_send_attach (bin, "tiersend", t->stream, NULL, error);
}

gboolean
mm_tiers_build (MmMedia *m, GError **error)
{
  const MmOptions *o = m->app->opts;
  Tier *high = &m->tiers[MM_TIER_HIGH], *audio = &m->tiers[MM_TIER_AUDIO];

  for (guint i = 0; i < MM_N_TIERS; i++)
    m->tiers[i].m = m;
  m->prefs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  high->exists = TRUE;
  high->width = o->video_width;
  high->height = o->video_height;
  high->framerate = o->video_framerate;
  high->bitrate_kbps = o->video_bitrate;
  high->venc = gst_object_ref (m->venc);
  high->stream = m->video_stream;
  high->active = 1;
  if (o->medium_height > 0
      && !build_tier (m, MM_TIER_MEDIUM, o->medium_height, o->medium_framerate, o->medium_bitrate,
                      error))
    return FALSE;
  if (o->low_height > 0
      && !build_tier (m, MM_TIER_LOW, o->low_height, o->low_framerate, o->low_bitrate, error))
    return FALSE;
  audio->exists = TRUE;
  audio->stream = mm_stream_new_sibling (m->video_stream, 90000, 0, NULL, NULL);
  return TRUE;
}

void
mm_tiers_free (MmMedia *m)
{
  if (m->tier_timer != 0)
    g_source_remove (m->tier_timer);
  m->tier_timer = 0;
  for (guint i = 0; i < MM_N_TIERS; i++)
    {
      Tier *t = &m->tiers[i];

      if (i != MM_TIER_HIGH)
        g_clear_pointer (&t->stream, mm_stream_free);
      g_clear_object (&t->venc);
      g_clear_object (&t->gate);
      g_clear_object (&t->tee_pad);
    }
  g_clear_pointer (&m->prefs, g_hash_table_unref);
}

/* ---- receivers ------------------------------------------------------------ */

/* Bit/s a receiver needs on @t, with the audio: the tier's bitrate, or
 * what its encoder really sent lately when more (CBR overshoots on a
 * busy picture). */
static guint64
need_bps (MmMedia *m, MmTier t)
{
  guint64 bps = (guint64) m->app->opts->audio_bitrate * 1000;

  if (t != MM_TIER_AUDIO)
    bps += MAX ((guint64) m->tiers[t].bitrate_kbps * 1000, m->tiers[t].measured_bps);
  return bps;
}

/* The existing tier at or below (@dir 1) or above (@dir -1) @t. */
static MmTier
existing (MmMedia *m, gint t, gint dir)
{
  while (t >= 0 && t < MM_N_TIERS && !m->tiers[t].exists)
    t += dir;
  return t < 0 ? MM_TIER_HIGH : t >= MM_N_TIERS ? MM_TIER_AUDIO : (MmTier) t;
}

/* The best tier @p may get, and the worst. */
static MmTier
best_allowed (Peer *p)
{
  MmTier t = p->cap;

  if (p->quality == MM_QUALITY_DATA_SAVER)
    t = MAX (t, MM_TIER_LOW);
  else if (p->quality == MM_QUALITY_AUDIO_ONLY)
    t = MM_TIER_AUDIO;
  return existing (p->m, t, 1);
}

static MmTier
tier_of (MmMedia *m, MmStream *s)
{
  for (guint i = 0; i < MM_N_TIERS; i++)
    if (m->tiers[i].stream == s)
      return i;
  return MM_TIER_HIGH;
}

/* What the hosts see of @p's reception.  Returns: (transfer full) */
static JsonObject *
receiver_json (Peer *p)
{
  const MmEndpointLink *l = &p->link;
  JsonObject *h = json_object_new ();

  json_object_set_string_member (h, "participant_id", p->id);
  json_object_set_string_member (h, "display_name", p->name);
  json_object_set_string_member (h, "tier", mm_tier_name (p->tier));
  json_object_set_string_member (h, "quality", mm_quality_name (p->quality));
  if (l->estimate_bps > 0)
    json_object_set_int_member (h, "estimate_kbps", (gint64) (l->estimate_bps / 1000));
  else
    json_object_set_null_member (h, "estimate_kbps");
  json_object_set_double_member (h, "loss_percent", l->loss_permille / 10.0);
  if (l->rtt_ms > 0)
    json_object_set_int_member (h, "rtt_ms", l->rtt_ms);
  else
    json_object_set_null_member (h, "rtt_ms");
  return h;
}

JsonArray *
mm_media_receivers (MmMedia *m)
{
  JsonArray *arr = json_array_new ();
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, m->peers);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      Peer *p = value;

      if (!p->removed && p->video_sub && p->told)
        json_array_add_object_element (arr, receiver_json (p));
    }
  return arr;
}

static void
tell (Peer *p, const char *why)
{
  MmMedia *m = p->m;
  const MmEndpointLink *l = &p->link;
  g_autoptr (JsonObject) o = json_object_new ();
  g_autoptr (JsonObject) h = receiver_json (p);

  json_object_set_string_member (o, "tier", mm_tier_name (p->tier));
  json_object_set_string_member (o, "quality", mm_quality_name (p->quality));
  if (l->estimate_bps > 0)
    json_object_set_int_member (o, "estimate_kbps", (gint64) (l->estimate_bps / 1000));
  else
    json_object_set_null_member (o, "estimate_kbps");
  m->sink.send (m->sink.data, p->id, "tier", o);
  if (m->sink.hosts != NULL)
    m->sink.hosts (m->sink.data, "receiver", h);
  mm_peer_log (p, G_LOG_LEVEL_INFO,
               "receives the %s tier (%s; quality %s, estimate %" G_GUINT64_FORMAT
               " kbit/s, delivered %" G_GUINT64_FORMAT " kbit/s, loss %.1f%%, queue %u ms, "
               "round trip %u ms)",
               mm_tier_name (p->tier), why, mm_quality_name (p->quality),
               l->estimate_bps / 1000, l->delivered_bps / 1000, l->loss_permille / 10.0,
               l->queue_ms, l->rtt_ms);
}

/* The queue of @p's link has had the time to drain: the keyframe that
 * moves it, if it still waits for one. */
static gboolean
drained (gpointer data)
{
  Peer *p = data;
  MmStream *pending = NULL;

  if (!p->removed && p->ep != NULL && p->want != MM_TIER_AUDIO
      && mm_stream_current (p->m->video_stream, p->ep, &pending) != NULL && pending != NULL)
    tier_keyframe (&p->m->tiers[p->want], TRUE);
  return G_SOURCE_REMOVE;
}

static void
move_to (Peer *p, MmTier t, gint64 now)
{
  MmMedia *m = p->m;

  gboolean drain = t > p->tier && t != MM_TIER_AUDIO && p->link.congested;
  guint wait_ms = drain ? MIN (p->link.queue_ms, DRAIN_WAIT_MAX_MS) : 0;

  p->want = t;
  p->tier_since_us = now;
  tier_activate (&m->tiers[t], wait_ms == 0);
  /* Down from a congested link: nothing more of the old tier while its
   * queue drains, and only then the new one's keyframe, where the switch
   * happens (else the keyframe waits behind the queue, or the full queue
   * drops part of it: a 250 kbit/s link saw its picture stop for 300 ms
   * just after the move). */
  if (drain)
    mm_stream_switch (m->tiers[MM_TIER_AUDIO].stream, p->ep, FALSE);
  mm_stream_switch (m->tiers[t].stream, p->ep, t != MM_TIER_AUDIO);
  p->keyframe_at_us = now + (gint64) wait_ms * 1000;
  if (t == MM_TIER_AUDIO)
    return;
  if (wait_ms == 0)
    tier_keyframe (&m->tiers[t], TRUE);
  else
    g_timeout_add_full (G_PRIORITY_DEFAULT, wait_ms, drained, mm_peer_ref (p), mm_peer_unref);
}

void
mm_tiers_add_receiver (Peer *p, guint8 pt)
{
  MmMedia *m = p->m;
  gpointer pref = g_hash_table_lookup (m->prefs, p->id);
  MmTier t;

  if (pref != NULL)
    {
      p->quality = (GPOINTER_TO_UINT (pref) >> 4) & 15;
      p->cap = (GPOINTER_TO_UINT (pref) >> 8) & 15;
    }
  t = best_allowed (p);
  p->tier = p->want = t;
  p->tier_since_us = g_get_monotonic_time ();
  p->up_backoff_s = 0;
  tier_activate (&m->tiers[t], TRUE);
  mm_stream_add (m->tiers[t].stream, p->ep, pt, p->video_ssrc);
}

void
mm_tiers_keyframe_for (Peer *p)
{
  tier_keyframe (&p->m->tiers[p->want], TRUE);
}

/* The tier @p's link calls for, from @p->tier (auto and data saver). */
static MmTier
adapt (Peer *p, MmTier best, gint64 now)
{
  MmMedia *m = p->m;
  const MmEndpointLink *l = &p->link;
  const MmOptions *o = m->app->opts;
  guint64 est = l->estimate_bps;
  gboolean weak;

  if (l->source == MM_LINK_UNKNOWN || est == 0)
    return p->want;
  /* Too weak for its tier: congested or losing, or known to carry less
   * than the tier needs (an uncongested link's delivered rate is only
   * what we send: no sign of weakness).  A queue left by the tier it
   * came down from counts only once it has had time to drain. */
  if (p->draining && (l->queue_ms <= QUEUED_MS || now - p->tier_since_us >= DRAIN_MAX_US))
    p->draining = FALSE;
  gboolean draining = p->draining && l->loss_permille <= LOSS_CONGESTED;
  gboolean short_of = (l->congested && !draining)
                      || (l->capacity_bps != 0 && need_bps (m, p->tier) > l->capacity_bps)
                      || (l->source == MM_LINK_REMB && need_bps (m, p->tier) > est);
  /* Loss alone (a lossy radio link, not a full one) must last 3 s and
   * moves one tier down: the estimate then is only what we send. */
  gboolean lossy = l->loss_permille > LOSS_DOWN;

  weak = p->tier != MM_TIER_AUDIO && (short_of || lossy);
  if (!weak)
    p->bad_since_us = 0;
  else if (p->bad_since_us == 0)
    p->bad_since_us = now;
  if (weak && now - p->bad_since_us >= (short_of ? DOWN_AFTER_US : LOSSY_DOWN_AFTER_US)
      && now - p->tier_since_us >= SETTLE_US)
    {
      MmTier t = existing (m, p->tier + 1, 1);

      /* The best that fits with 10% to spare; but video off is a large
       * step, and what a congested link delivered is a noisy second
       * (175-245 kbit/s on a 250 kbit/s link, bench lowbw): the lowest
       * video tier unless the estimate is well below it.  A link that
       * cannot carry it shows that again. */
      while (short_of && t != MM_TIER_AUDIO && need_bps (m, t) * 110 / 100 > est)
        {
          MmTier next = existing (m, t + 1, 1);

          if (next == MM_TIER_AUDIO && est * 100 >= need_bps (m, t) * AUDIO_ONLY_BELOW)
            break;
          t = next;
        }
      p->draining = short_of && l->queue_ms > QUEUED_MS;
      if (t == MM_TIER_AUDIO)
        p->last_probe_us = now;   /* the link's first probe from there a minute after */
      if (p->last_up_us != 0 && now - p->last_up_us < FAILED_UP_US)
        p->up_backoff_s = MIN (MAX (p->up_backoff_s * 2, (guint) o->tier_up_after * 2),
                               MAX_BACKOFF_S);
      p->next_up_us = now + (gint64) MAX (p->up_backoff_s, (guint) o->tier_up_after)
                              * G_USEC_PER_SEC;
      p->last_up_us = 0;
      return t;
    }
  if (!weak && p->tier > best && now >= p->next_up_us
      && now - p->tier_since_us >= (gint64) o->tier_up_after * G_USEC_PER_SEC
      && l->loss_permille <= LOSS_UP && !l->congested)
    {
      MmTier up = existing (m, p->tier - 1, -1);

      if (up < best)
        up = best;
      /* From audio only, only probes tell the capacity, and a link's
       * burst can fool them: twice what the tier needs there. */
      guint64 margin = p->tier == MM_TIER_AUDIO ? 20 : 15;

      /* A receiver that estimates by itself (REMB) says its capacity. */
      guint64 capacity = l->source == MM_LINK_REMB ? est : l->capacity_low_bps;

      if (capacity != 0 && capacity >= need_bps (m, up) * margin / 10)
        {
          p->last_up_us = now;
          return up;
        }
      /* Nothing says the link could carry more: ask it with a short
       * train of eight padding packets (a link that allows a burst lets
       * the head through at once, and only the second half of a train
       * tells its rate; two such trains must agree).  About 2 KB: what
       * goes beyond a one-MTU burst holds an 80 kbit/s link's audio back
       * by ~50 ms. */
      if (l->source == MM_LINK_TWCC
          && now - p->last_probe_us >= (p->tier == MM_TIER_AUDIO ? PROBE_AUDIO_EVERY_US
                                                                  : PROBE_EVERY_US))
        {
          p->last_probe_us = now;
          /* From a video tier (a link of 150 kbit/s or more) eleven: the
           * second half then lies beyond a one-MTU burst. */
          mm_stream_probe (m->video_stream, p->ep, (p->tier == MM_TIER_AUDIO ? 8 : 11) * 250);
        }
    }
  return p->want;
}

static void
decide (Peer *p, gint64 now)
{
  MmMedia *m = p->m;
  MmStream *pending = NULL, *cur;
  MmTier best, target;
  MmTier seen;

  if (p->removed || !p->video_sub || p->ep == NULL)
    return;
  cur = mm_stream_current (m->video_stream, p->ep, &pending);
  if (cur == NULL)
    return;
  seen = tier_of (m, cur);
  mm_endpoint_get_link (p->ep, &p->link);
  /* (Parked on audio only while a move down waits for its keyframe is
   * not a tier of its own.) */
  if (seen != p->tier && pending == NULL)
    {
      p->tier = seen;
      p->tier_since_us = now;
    }
  if (p->connected && (!p->told || p->told_tier != p->tier))
    {
      tell (p, p->told ? "switched" : "connected");
      p->told = TRUE;
      p->told_tier = p->tier;
    }
  if (!p->connected)
    return;
  best = best_allowed (p);
  if (p->quality == MM_QUALITY_HIGH || p->quality == MM_QUALITY_AUDIO_ONLY)
    target = best;
  else if (pending != NULL)
    target = p->want;   /* wait for the keyframe that moves it */
  else
    target = adapt (p, best, now);
  if (target < best)
    target = best;
  if (target != p->want)
    move_to (p, target, now);
  else if (pending != NULL && now >= p->keyframe_at_us)
    tier_keyframe (&m->tiers[p->want], FALSE);   /* a reminder: the one asked for may be late */
}

/* ---- publishers' uplinks ---------------------------------------------------- */

#define UPLINK_LOSS 50                          /* per mille, in our receiver reports */
#define UPLINK_BAD_US (3 * G_USEC_PER_SEC)
#define UPLINK_GOOD_US (20 * G_USEC_PER_SEC)

/* What a publisher whose uplink loses is asked to send at most, by step. */
static const struct {
  guint kbps, height;
} uplink_steps[] = { { 0, 0 }, { 300, 360 }, { 150, 180 } };

static void
ask_uplink (Peer *p, guint step, guint loss_permille)
{
  MmMedia *m = p->m;
  g_autoptr (JsonObject) o = json_object_new ();
  guint64 bps = step == 0 ? (guint64) m->app->opts->video_bitrate * 1000
                          : (guint64) uplink_steps[step].kbps * 1000;

  p->uplink_step = step;
  mm_endpoint_set_max_bitrate (p->ep, bps);
  if (step == 0)
    {
      json_object_set_null_member (o, "max_bitrate");
      json_object_set_null_member (o, "max_height");
    }
  else
    {
      json_object_set_int_member (o, "max_bitrate", (gint64) bps);
      json_object_set_int_member (o, "max_height", uplink_steps[step].height);
    }
  json_object_set_double_member (o, "loss_percent", loss_permille / 10.0);
  m->sink.send (m->sink.data, p->id, "uplink", o);
  mm_peer_log (p, G_LOG_LEVEL_INFO, step == 0 ? "its uplink recovered: no limit"
                                              : "its uplink loses %.1f%%: asked for at most "
                                                "%" G_GUINT64_FORMAT " kbit/s",
               loss_permille / 10.0, bps / 1000);
}

/* A publisher whose video reaches us with loss is asked to send less
 * (an "uplink" event for its client, which lowers its sender's bitrate
 * and resolution; REMB for any client), a step every 3 s while it goes on,
 * and released after 20 s without. */
static void
watch_uplink (Peer *p, gint64 now)
{
  MmEndpointStats st;
  gboolean bad;

  if (p->removed || !p->connected || !p->sends_video || p->ep == NULL)
    return;
  mm_endpoint_get_stats (p->ep, &st);
  bad = st.uplink_loss_permille > UPLINK_LOSS;
  if (bad)
    {
      p->uplink_good_since_us = 0;
      if (p->uplink_bad_since_us == 0)
        p->uplink_bad_since_us = now;
      else if (now - p->uplink_bad_since_us >= UPLINK_BAD_US
               && p->uplink_step + 1 < G_N_ELEMENTS (uplink_steps))
        {
          ask_uplink (p, p->uplink_step + 1, st.uplink_loss_permille);
          p->uplink_bad_since_us = now;
        }
      return;
    }
  p->uplink_bad_since_us = 0;
  if (p->uplink_step == 0)
    return;
  if (p->uplink_good_since_us == 0)
    p->uplink_good_since_us = now;
  else if (now - p->uplink_good_since_us >= UPLINK_GOOD_US)
    {
      ask_uplink (p, 0, st.uplink_loss_permille);
      p->uplink_good_since_us = 0;
    }
}

static gboolean
tick (gpointer data)
{
  MmMedia *m = data;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter it;
  gpointer value;

  /* What each running tier really sends (kept while it is off), averaged
   * over ~5 s: an encoder that overshoots for good counts, the keyframes
   * that receivers moving onto a tier ask for do not (with the last
   * second's rate, three viewers switching to low at once made it look
   * too big for a 250 kbit/s link, which then fell to audio only). */
  for (guint i = MM_TIER_HIGH; i < MM_TIER_AUDIO; i++)
    if (m->tiers[i].exists && g_atomic_int_get (&m->tiers[i].active))
      {
        guint64 bps = mm_stream_rate (m->tiers[i].stream);
        guint64 old = m->tiers[i].measured_bps;

        if (bps > 0)
          m->tiers[i].measured_bps = old == 0 ? bps : (old * 9 + bps) / 10;
      }
  g_hash_table_iter_init (&it, m->peers);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      decide (value, now);
      watch_uplink (value, now);
      mm_compose_tick (value, now);
    }
  for (guint i = MM_TIER_HIGH; i < MM_TIER_AUDIO; i++)
    if (m->tiers[i].exists && g_atomic_int_get (&m->tiers[i].keyframe_pending))
      tier_keyframe (&m->tiers[i], TRUE);
  for (guint i = MM_TIER_MEDIUM; i < MM_TIER_AUDIO; i++)
    {
      Tier *t = &m->tiers[i];

      if (!t->exists || !g_atomic_int_get (&t->active))
        continue;
      if (mm_stream_n_receivers (t->stream) > 0)
        t->idle_since_us = 0;
      else if (t->idle_since_us == 0)
        t->idle_since_us = now;
      else if (now - t->idle_since_us >= (gint64) m->app->opts->tier_idle_stop * G_USEC_PER_SEC)
        {
          g_atomic_int_set (&t->active, 0);
          mm_media_room_log (m, G_LOG_LEVEL_INFO, "tier %s off: nobody receives it",
                             mm_tier_name (i));
        }
    }
  return G_SOURCE_CONTINUE;
}

void
mm_tiers_start (MmMedia *m)
{
  m->tier_timer = g_timeout_add (TICK_MS, tick, m);
}

void
mm_media_set_quality (MmMedia *m, const char *pid, MmQuality quality, MmTier cap)
{
  Peer *p = g_hash_table_lookup (m->peers, pid);

  g_hash_table_insert (m->prefs, g_strdup (pid),
                       GUINT_TO_POINTER (1u | (guint) quality << 4 | (guint) cap << 8));
  if (p == NULL || p->removed || (p->quality == quality && p->cap == cap))
    return;
  p->quality = quality;
  p->cap = cap;
  /* A new choice starts afresh. */
  p->next_up_us = 0;
  p->up_backoff_s = 0;
  p->last_up_us = 0;
  p->tier_since_us = 0;   /* no wait to move up, if the link carries it */
  p->last_probe_us = 0;   /* nor to probe it */
  mm_peer_log (p, G_LOG_LEVEL_INFO, "quality %s, at most %s", mm_quality_name (quality),
               mm_tier_name (cap));
  decide (p, g_get_monotonic_time ());
}

gboolean
mm_media_tier_active (MmMedia *m, MmTier t)
{
  return t < MM_N_TIERS && m->tiers[t].exists
         && (t == MM_TIER_AUDIO || g_atomic_int_get (&m->tiers[t].active));
}

guint
mm_media_tier_receivers (MmMedia *m, MmTier t)
{
  return t < MM_N_TIERS && m->tiers[t].stream != NULL ? mm_stream_n_receivers (m->tiers[t].stream)
                                                       : 0;
}
