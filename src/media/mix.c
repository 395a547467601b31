/* mix.c — audio: K+1 mixing, and the active speaker.
 *
 * The K loudest current speakers ([media] mix-speakers) are "the set".
 * Each of them has a slot: a mix of the other K-1, encoded once, which
 * only that speaker hears.  Everyone else hears the shared mix of the K,
 * encoded once for all of them.  A room so runs at most K+1 Opus encodes
 * whatever its size, and at most K + K(K-1) voice branches.
 *
 * The set is chosen every 100 ms from the voices' levels (the "level"
 * element of each decoder, smoothed).  While there are free slots every
 * voice that may speak takes one, so a meeting of up to K speakers is an
 * exact mix-minus and nobody's first word is lost.  Once full, a speaker
 * who has been silent for HANGOVER_US gives its slot to someone who
 * speaks; a voice that stays DISPLACE_DB louder than the quietest speaker
 * for DISPLACE_TICKS takes that one's slot (once it has held it for
 * HANGOVER_US), so that the set does not flap.  A muted or blocked voice
 * leaves at once.
 *
 * A voice entering a mix fades in over FADE_SAMPLES (10 ms), and one
 * leaving fades out before its branch is detached: no clicks.  A speaker
 * who leaves the set hears the shared mix only once its own voice has
 * faded out of it.
 *
 * Threads: the main loop, except on_mix_caps and fade_probe (streaming
 * threads); on_mix_caps hands over with mm_app_run_main().
 */
#include "config.h"

#include "media/media-private.h"

#include <math.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-media"

#define TICK_MS 100
#define SPEECH_DB -50.0             /* a smoothed level above this is speech */
#define HANGOVER_US (1500 * 1000)
#define DISPLACE_DB 6.0
#define DISPLACE_TICKS 5            /* 0.5 s */
#define FADE_SAMPLES 480            /* 10 ms at 48 kHz */
#define FADE_DETACH_MS 60           /* after a fade out: the branch goes */
#define SHARED_AFTER_US (150 * 1000)   /* a leaver hears the shared mix after */
#define DECODE_EXTRA 2              /* voices decoded beside the set: the loudest claims */
#define DECODE_MIN_US G_USEC_PER_SEC   /* once decoded, for at least this long */
#define READ_US (300 * 1000)        /* decoded this long: its level is its own */
#define FALSE_CLAIM_US (500 * 1000)   /* claims speech but decodes to silence: */
#define DISTRUST_US (10 * G_USEC_PER_SEC)   /* no candidate for this long */

/* ---- fades (streaming thread) -------------------------------------------- */

struct _Fade {
  gint out;            /* atomic: set by the main loop when the voice leaves */
  /* Streaming thread only: */
  gboolean out_seen;   /* the fade out has started */
  guint done;          /* samples of the current ramp so far */
};

/* Scale the S16 samples of *@bufp by a ramp from @start of FADE_SAMPLES,
 * up from silence or (@down) down to it. */
static void
ramp_s16 (GstBuffer **bufp, guint start, gboolean down)
{
  GstMapInfo map;
  GstBuffer *buf = *bufp = gst_buffer_make_writable (*bufp);

  if (!gst_buffer_map (buf, &map, GST_MAP_READWRITE))
    return;
  for (gsize i = 0; i < map.size / 2; i++)
    {
      gint16 *s = (gint16 *) map.data + i;
      guint pos = start + (guint) i;
      gdouble g = pos >= FADE_SAMPLES ? 1.0 : (gdouble) pos / FADE_SAMPLES;

      *s = (gint16) lrint (*s * (down ? 1.0 - g : g));
    }
  gst_buffer_unmap (buf, &map);
}

/* The voice's samples (S16LE mono, pipelines/audio-in) on their way into
 * the mix: a ramp up from silence when it joins; when it leaves, a ramp
 * down from where it was, and silence after. */
static GstPadProbeReturn
fade_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Fade *f = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  gboolean out = g_atomic_int_get (&f->out);

  (void) pad;
  if (out && !f->out_seen)
    {
      f->out_seen = TRUE;
      f->done = FADE_SAMPLES - MIN (f->done, FADE_SAMPLES);
    }
  if (f->done >= FADE_SAMPLES)
    return out ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
  ramp_s16 (&buf, f->done, out);
  GST_PAD_PROBE_INFO_DATA (info) = buf;
  f->done += (guint) (gst_buffer_get_size (buf) / 2);
  return GST_PAD_PROBE_OK;
}

/* ---- voices in mixes ------------------------------------------------------ */

/* Connect @from's voice into @mix, fading in. */
static void
voice_connect (MmMedia *m, Peer *from, Mix *mix)
{
  g_autoptr (GError) error = NULL;
  GstElement *amix = gst_bin_get_by_name (mix->bin, "amix");
  GstPad *ghost = NULL;
  GstPad *pad = mm_pipeline_request_pad (mix->bin, amix, "sink_%u", NULL, &ghost);
  Branch *b;
  Voice *v;

  gst_object_unref (amix);
  /* The probe is on the mixer's pad before anything can flow into it. */
  v = g_new0 (Voice, 1);
  v->fade = g_new0 (Fade, 1);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, fade_probe, v->fade, g_free);
  b = mm_branch_new (m, from->audio_in, "ain", "voice-in", NULL, mix->bin, amix, pad, ghost,
                     &error);
  if (b == NULL)
    {
      mm_peer_log (from, G_LOG_LEVEL_WARNING, "its voice: %s", error->message);
      g_free (v);
      return;
    }
  v->branch = b;
  v->from = from;
  v->mix = mix;
  g_ptr_array_add (from->voices, v);
  g_ptr_array_add (mix->voices, v);
  mm_pipeline_relatency (m);
}

/* Work for later in the main loop (a timer, a hand-over from a streaming
 * thread) about a voice or a mix of room @m. */
typedef struct {
  MmMedia *m;   /* a reference, but in watch_mix's handler */
  gpointer data;   /* the Voice or the Mix */
} MixHop;

static MixHop *
mix_hop_new (MmMedia *m, gpointer data)
{
  MixHop *h = g_new0 (MixHop, 1);

  h->m = m;
  g_atomic_int_inc (&m->ref_count);
  h->data = data;
  return h;
}

static void
mix_hop_free (gpointer data)
{
  MixHop *h = data;

  mm_media_unref (h->m);
  g_free (h);
}

/* The fade out is over: the branch goes (owned by its peer: a removal
 * waits for it), unless the peer's removal took it meanwhile. */
static gboolean
voice_faded (gpointer data)
{
  MixHop *h = data;
  Voice *v = h->data;

  if (v->branch != NULL)
    {
      g_ptr_array_remove (v->from->voices, v);
      mm_branch_detach (v->branch, v->from, TRUE);
    }
  g_free (v);
  return G_SOURCE_REMOVE;
}

/* Out of its mix, fading; detached a little later. */
static void
voice_fade_out (MmMedia *m, Voice *v)
{
  g_ptr_array_remove (v->mix->voices, v);
  v->mix = NULL;
  v->fading = TRUE;
  g_atomic_int_set (&v->fade->out, 1);
  g_timeout_add_full (G_PRIORITY_DEFAULT, FADE_DETACH_MS, voice_faded, mix_hop_new (m, v),
                      mix_hop_free);
}

/* ---- the mixes ------------------------------------------------------------ */

static void mix_ready (MmApp *app, gpointer data);

/* Streaming thread: voices join a mix only once its output format is
 * negotiated (an audiomixer that gets input first fails with "wrong
 * format"). */
static void
on_mix_caps (GstPad *pad, GParamSpec *pspec, gpointer data)
{
  MixHop *h = data;
  GstCaps *caps = gst_pad_get_current_caps (pad);

  (void) pspec;
  if (caps == NULL)
    return;
  gst_caps_unref (caps);
  mm_app_run_main (h->m->app, mix_ready, mix_hop_new (h->m, h->data), mix_hop_free);
}

/* The handler's data is not a reference: mm_mix_stop disconnects it once
 * the pipeline has stopped. */
static void
watch_mix (MmMedia *m, Mix *mix)
{
  GstElement *amix = gst_bin_get_by_name (mix->bin, "amix");
  MixHop *h = g_new0 (MixHop, 1);

  h->m = m;
  h->data = mix;
  mm_pipeline_set_upstream_floor (m, amix);
  mix->caps_pad = gst_element_get_static_pad (amix, "src");
  mix->caps_handler = g_signal_connect_data (mix->caps_pad, "notify::caps",
                                             G_CALLBACK (on_mix_caps), h,
                                             (GClosureNotify) (void (*) (void)) g_free, 0);
  gst_object_unref (amix);
}

static void
unwatch_mix (Mix *mix)
{
  if (mix == NULL || mix->caps_pad == NULL)
    return;
  g_signal_handler_disconnect (mix->caps_pad, mix->caps_handler);
  g_clear_object (&mix->caps_pad);
}

static void reconcile (MmMedia *m);

static void
mix_ready (MmApp *app, gpointer data)
{
  MixHop *h = data;
  Mix *mix = h->data;

  (void) app;
  if (mix->ready || h->m->closed)
    return;
  mix->ready = TRUE;
  reconcile (h->m);
}

/* Slot @i's mix, made now if it does not exist.  NULL if it cannot be. */
static Mix *
slot_mix (MmMedia *m, guint i)
{
  g_autofree char *abr = NULL;
  g_autoptr (GError) error = NULL;
  const char *avars[] = { "BITRATE", NULL, NULL };
  Mix *mix;

  if (m->slots[i] != NULL)
    return m->slots[i];
  abr = g_strdup_printf ("%d", m->app->opts->audio_bitrate * 1000);
  avars[1] = abr;
  mix = g_new0 (Mix, 1);
  mix->voices = g_ptr_array_new ();
  mix->bin = mm_pipeline_make_bin (m, "audio-mix", avars, &error);
  if (mix->bin != NULL)
    {
      mix->stream = mm_stream_new (m->app->transport, 48000, 0, NULL, NULL);
      if (!mm_send_attach (mix->bin, "asend", mix->stream, NULL, &error))
        g_clear_pointer (&mix->stream, mm_stream_free);
    }
  if (mix->bin == NULL || mix->stream == NULL)
    {
      mm_media_room_log (m, G_LOG_LEVEL_WARNING, "a speaker's mix: %s", error->message);
      if (mix->bin != NULL)
        gst_object_unref (gst_object_ref_sink (mix->bin));
      g_ptr_array_unref (mix->voices);
      g_free (mix);
      return NULL;
    }
  gst_bin_add (GST_BIN (m->pipeline), GST_ELEMENT (mix->bin));
  watch_mix (m, mix);
  gst_element_sync_state_with_parent (GST_ELEMENT (mix->bin));
  m->slots[i] = mix;
  return mix;
}

void
mm_mix_start (MmMedia *m)
{
  GstElement *aenc = gst_bin_get_by_name (m->full_mix, "aenc");
  GstElement *amix = gst_bin_get_by_name (m->full_mix, "amix");

  m->shared.bin = m->full_mix;
  m->shared.stream = m->audio_stream;
  m->shared.voices = g_ptr_array_new ();
  if (aenc != NULL && amix != NULL)
    mm_probe_audio_mix (amix, aenc);
  g_clear_object (&aenc);
  g_clear_object (&amix);
  watch_mix (m, &m->shared);
}

MmStream *
mm_mix_stream_for (Peer *p)
{
  Mix *slot = p->slot >= 0 ? p->m->slots[p->slot] : NULL;

  if (slot != NULL && slot->ready)
    return slot->stream;
  /* A speaker who just left the set hears its own voice fade out of
   * the shared mix first. */
  if (p->left_set_us != 0 && g_get_monotonic_time () - p->left_set_us < SHARED_AFTER_US
      && p->audio_stream != NULL)
    return p->audio_stream;
  return p->m->audio_stream;
}

/* Whether @q's voice belongs in @mix: the shared mix holds the set (each
 * once it can hear its own slot instead), a slot the set but its
 * listener. */
static gboolean
wanted (MmMedia *m, Mix *mix, Peer *q)
{
  Mix *own;

  if (q->slot < 0 || q->removed || q->audio_in == NULL)
    return FALSE;
  own = m->slots[q->slot];
  if (mix == &m->shared)
    return own != NULL && own->ready;
  return mix->listener != NULL && mix->listener != q;
}

static gboolean
has_voice (Mix *mix, Peer *q)
{
  for (guint i = 0; i < mix->voices->len; i++)
    if (((Voice *) mix->voices->pdata[i])->from == q)
      return TRUE;
  return FALSE;
}

static void
reconcile_mix (MmMedia *m, Mix *mix)
{
  GHashTableIter it;
  gpointer value;

  if (mix == NULL || !mix->ready)
    return;
  for (guint i = mix->voices->len; i > 0; i--)
    {
      Voice *v = mix->voices->pdata[i - 1];

      if (!wanted (m, mix, v->from))
        voice_fade_out (m, v);
    }
  g_hash_table_iter_init (&it, m->peers);
  while (g_hash_table_iter_next (&it, NULL, &value))
    if (wanted (m, mix, value) && !has_voice (mix, value))
      voice_connect (m, value, mix);
}

/* Every mix holds what it should, and everyone hears the right one. */
static void
reconcile (MmMedia *m)
{
  GHashTableIter it;
  gpointer value;

  reconcile_mix (m, &m->shared);
  for (guint i = 0; i < MM_MIX_MAX_SPEAKERS; i++)
    reconcile_mix (m, m->slots[i]);
  g_hash_table_iter_init (&it, m->peers);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      Peer *p = value;
      MmStream *want;

      if (p->removed || p->audio_stream == NULL || p->ep == NULL)
        continue;
      want = mm_mix_stream_for (p);
      if (want != p->audio_stream)
        {
          mm_stream_move (p->audio_stream, want, p->ep);
          p->audio_stream = want;
        }
    }
}

/* ---- the set of speakers -------------------------------------------------- */

static void
join_set (Peer *p, guint i, gint64 now)
{
  MmMedia *m = p->m;
  Mix *mix = slot_mix (m, i);

  if (mix == NULL)
    return;
  mix->listener = p;
  p->slot = (gint) i;
  p->set_since_us = now;
  p->left_set_us = 0;
  p->louder_ticks = 0;
  mm_peer_log (p, G_LOG_LEVEL_DEBUG, "in the mix (slot %u, %.0f dB)", i, p->level_db);
}

static void
leave_set (Peer *p, gint64 now)
{
  MmMedia *m = p->m;

  if (p->slot < 0)
    return;
  if (m->slots[p->slot] != NULL)
    m->slots[p->slot]->listener = NULL;
  mm_peer_log (p, G_LOG_LEVEL_DEBUG, "out of the mix (slot %d)", p->slot);
  p->slot = -1;
  p->left_set_us = now;
}

static gboolean
may_speak (Peer *p)
{
  return !p->removed && p->audio_in != NULL && !p->audio_muted && !p->blocked;
}

static gboolean
speaks (Peer *p)
{
  return p->level_db >= SPEECH_DB;
}

/* Its level is measured from its decoded voice (not only claimed). */
static gboolean
measured (Peer *p, gint64 now)
{
  return p->decoding && now - p->decode_since_us >= READ_US;
}

static gboolean
trusted (Peer *p, gint64 now)
{
  return now >= p->distrust_until_us;
}

/* Candidates first by trust, then speaking, then level, then who spoke
 * last. */
static gint
by_claim (gconstpointer a, gconstpointer b)
{
  const Peer *p = *(Peer *const *) a, *q = *(Peer *const *) b;
  gint64 now = g_get_monotonic_time ();
  gboolean pt = now >= p->distrust_until_us, qt = now >= q->distrust_until_us;
  gboolean ps = p->level_db >= SPEECH_DB, qs = q->level_db >= SPEECH_DB;

  if (pt != qt)
    return pt ? -1 : 1;
  if (ps != qs)
    return ps ? -1 : 1;
  if (p->level_db != q->level_db)
    return p->level_db > q->level_db ? -1 : 1;
  return p->spoke_us > q->spoke_us ? -1 : p->spoke_us < q->spoke_us;
}

/* A voice's level: measured while it is decoded, else as its sender
 * claims (ssrc-audio-level).  A sender whose claims of speech decode to
 * silence for FALSE_CLAIM_US is not believed for DISTRUST_US. */
static void
read_level (Peer *p, gint64 now)
{
  gdouble claim = -127;
  gboolean has = mm_input_voice_claim (p, &claim);

  if (!has)
    return;
  if (!p->decoding)
    {
      p->level_db = claim;
      return;
    }
  if (claim >= SPEECH_DB && measured (p, now) && !speaks (p))
    {
      if (p->false_claim_since_us == 0)
        p->false_claim_since_us = now;
      else if (now - p->false_claim_since_us >= FALSE_CLAIM_US && trusted (p, now))
        {
          p->distrust_until_us = now + DISTRUST_US;
          mm_peer_log (p, G_LOG_LEVEL_INFO, "claims speech (%.0f dB) but is silent: "
                       "no candidate for the mix for %d s", claim,
                       (int) (DISTRUST_US / G_USEC_PER_SEC));
        }
    }
  else
    p->false_claim_since_us = 0;
}

/* Which voices are decoded: those without level claims, the set, and the
 * DECODE_EXTRA loudest trusted claims of speech beside it (a voice that
 * may enter next; its level then is measured, not claimed).  Beside the
 * set, a voice stays decoded or not for DECODE_MIN_US at least: each
 * start costs the jitter buffer a fresh start. */
static void
choose_decoding (MmMedia *m, GPtrArray *candidates, gint64 now)
{
  g_autoptr (GPtrArray) extra = g_ptr_array_new ();
  GHashTableIter it;
  gpointer value;

  /* @candidates is sorted by by_claim: trusted speakers first. */
  for (guint i = 0; i < candidates->len && extra->len < DECODE_EXTRA; i++)
    {
      Peer *p = candidates->pdata[i];

      if (trusted (p, now) && speaks (p))
        g_ptr_array_add (extra, p);
    }
  g_hash_table_iter_init (&it, m->peers);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      Peer *p = value;
      gdouble claim;
      gboolean want, forced;

      if (p->removed || p->audio_in == NULL)
        continue;
      forced = !mm_input_voice_claim (p, &claim) || p->slot >= 0;
      want = forced || g_ptr_array_find (extra, p, NULL);
      /* Not back and forth: either way for DECODE_MIN_US at least. */
      if (!forced && now - p->decode_since_us < DECODE_MIN_US)
        want = p->decoding;
      if (want == p->decoding)
        continue;
      p->decoding = want;
      p->decode_since_us = now;
      mm_input_set_decode (p, want);
      mm_peer_log (p, G_LOG_LEVEL_DEBUG, "its voice %s (%.0f dB)", want ? "decoded" : "not decoded",
                   p->level_db);
    }
}

static void
choose (MmMedia *m, gint64 now)
{
  guint k = (guint) CLAMP (m->app->opts->mix_speakers, 1, MM_MIX_MAX_SPEAKERS);
  g_autoptr (GPtrArray) members = g_ptr_array_new ();
  g_autoptr (GPtrArray) candidates = g_ptr_array_new ();
  GHashTableIter it;
  gpointer value;
  gboolean taken[MM_MIX_MAX_SPEAKERS] = { FALSE };

  g_hash_table_iter_init (&it, m->peers);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      Peer *p = value;

      if (p->removed || p->audio_in == NULL)
        continue;
      read_level (p, now);
      if (may_speak (p) && speaks (p))
        p->spoke_us = now;
      if (p->slot >= 0 && (!may_speak (p) || (guint) p->slot >= k))
        leave_set (p, now);
      if (p->slot >= 0)
        {
          taken[p->slot] = TRUE;
          g_ptr_array_add (members, p);
        }
      else if (may_speak (p))
        g_ptr_array_add (candidates, p);
      else
        p->louder_ticks = 0;
    }
  g_ptr_array_sort (candidates, by_claim);
  for (guint c = 0; c < candidates->len; c++)
    {
      Peer *p = candidates->pdata[c];
      Peer *victim = NULL, *quietest = NULL;
      guint free_slot = k;

      for (guint i = 0; i < k && free_slot == k; i++)
        if (!taken[i])
          free_slot = i;
      if (free_slot < k)
        {
          taken[free_slot] = TRUE;
          join_set (p, free_slot, now);
          g_ptr_array_add (members, p);
          g_ptr_array_remove_index (candidates, c--);
          continue;
        }
      /* A full set: only a voice heard speaking (decoded, not claimed)
       * takes a place, from the speaker silent longest past the
       * hangover, or from one it has been clearly louder than for a
       * while. */
      if (!speaks (p) || !measured (p, now) || !trusted (p, now))
        {
          p->louder_ticks = 0;
          continue;
        }
      for (guint i = 0; i < members->len; i++)
        {
          Peer *q = members->pdata[i];

          if (now - q->spoke_us >= HANGOVER_US && (victim == NULL || q->spoke_us < victim->spoke_us))
            victim = q;
          if (quietest == NULL || q->level_db < quietest->level_db)
            quietest = q;
        }
      if (victim == NULL && quietest != NULL && p->level_db >= quietest->level_db + DISPLACE_DB
          && now - quietest->set_since_us >= HANGOVER_US)
        {
          if (++p->louder_ticks >= DISPLACE_TICKS)
            victim = quietest;
        }
      else if (victim == NULL)
        p->louder_ticks = 0;
      if (victim != NULL)
        {
          guint slot = (guint) victim->slot;

          leave_set (victim, now);
          g_ptr_array_remove (members, victim);
          join_set (p, slot, now);
          g_ptr_array_add (members, p);
          g_ptr_array_remove_index (candidates, c--);
        }
    }
  choose_decoding (m, candidates, now);
  reconcile (m);
}

static gboolean
tick (gpointer data)
{
  choose (data, g_get_monotonic_time ());
  return G_SOURCE_CONTINUE;
}

/* ---- participants --------------------------------------------------------- */

void
mm_mix_set_voice_muted (Peer *p)
{
  if (!p->removed)
    choose (p->m, g_get_monotonic_time ());
}

/* The voice of @p arrived. */
void
mm_mix_add_voice (MmMedia *m, Peer *p, GstBin *bin)
{
  GstElement *level;

  if (p->audio_in != NULL)
    return;
  p->audio_in = bin;
  p->decoding = TRUE;   /* its first frames were, and it is a candidate */
  p->decode_since_us = g_get_monotonic_time ();
  level = gst_bin_get_by_name (p->audio_in, "level");
  if (level != NULL)
    {
      mm_probe_voice (level, p->id);
      g_object_set_data_full (G_OBJECT (level), "mm-peer", g_strdup (p->id), g_free);
      gst_object_unref (level);
    }
  if (m->mix_timer == 0)
    m->mix_timer = g_timeout_add (TICK_MS, tick, m);
  mm_peer_log (p, G_LOG_LEVEL_INFO, "its voice may be mixed");
  choose (m, g_get_monotonic_time ());
}

void
mm_mix_remove_peer (Peer *p)
{
  MmMedia *m = p->m;

  leave_set (p, g_get_monotonic_time ());
  /* Its voices go now (its input stops), owned by its removal. */
  for (guint i = 0; i < p->voices->len; i++)
    {
      Voice *v = p->voices->pdata[i];

      if (v->mix != NULL)
        g_ptr_array_remove (v->mix->voices, v);
      mm_branch_quiet (v->branch);
      mm_branch_detach (v->branch, p, TRUE);
      v->branch = NULL;
      if (!v->fading)
        g_free (v);   /* else its fade's end frees it */
    }
  g_ptr_array_set_size (p->voices, 0);
  reconcile (m);
}

gboolean
mm_mix_is_voice_of (Peer *p, GstObject *o)
{
  for (guint i = 0; i < p->voices->len; i++)
    {
      Voice *v = p->voices->pdata[i];

      if (v->branch != NULL && o == GST_OBJECT (v->branch->bin))
        return TRUE;
    }
  return FALSE;
}

void
mm_mix_stop (MmMedia *m)
{
  if (m->mix_timer != 0)
    g_source_remove (m->mix_timer);
  m->mix_timer = 0;
  unwatch_mix (&m->shared);
  for (guint i = 0; i < MM_MIX_MAX_SPEAKERS; i++)
    unwatch_mix (m->slots[i]);
}

void
mm_mix_free_voices (Peer *p)
{
  for (guint i = 0; i < p->voices->len; i++)
    {
      Voice *v = p->voices->pdata[i];

      if (v->branch != NULL)
        mm_branch_free_now (v->branch, TRUE);
      v->branch = NULL;
      if (!v->fading)
        g_free (v);
    }
  g_ptr_array_set_size (p->voices, 0);
}

void
mm_mix_free (MmMedia *m)
{
  for (guint i = 0; i < MM_MIX_MAX_SPEAKERS; i++)
    {
      Mix *mix = m->slots[i];

      if (mix == NULL)
        continue;
      unwatch_mix (mix);
      g_clear_pointer (&mix->stream, mm_stream_free);
      g_ptr_array_unref (mix->voices);
      g_free (mix);
      m->slots[i] = NULL;
    }
  unwatch_mix (&m->shared);
  g_clear_pointer (&m->shared.voices, g_ptr_array_unref);
}

/* ---- active speaker ------------------------------------------------------ */

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
    mm_compose_relayout (m);
}

void
mm_mix_on_level (MmMedia *m, GstMessage *msg)
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
  if (!isfinite (db) || db < -127)
    db = -127;   /* digital silence reads -700 */
  p->level_db = 0.6 * p->level_db + 0.4 * db;
  update_speaker (m, p);
}
