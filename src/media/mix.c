/* mix.c — audio: the full mix (everyone's voice, for whoever does not
 * speak), one mix-minus for each participant who speaks (everyone's voice
 * but their own), the voices going into them, and the active speaker,
 * worked out from the voices' levels.
 *
 * Threads: the main loop, except on_mix_caps (streaming thread), which
 * hands over with mm_app_run_main().
 */
#include "config.h"

#include "media/media-private.h"

#include <math.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-media"

/* ---- voices -------------------------------------------------------------- */

void
mm_mix_set_voice_muted (Peer *p)
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
  GstPad *pad = mm_pipeline_request_pad (mix, amix, "sink_%u", NULL, &ghost);
  Branch *b = mm_branch_new (m, from->audio_in, "ain", "voice-in", NULL, mix, amix, pad, ghost,
                             &error);

  gst_object_unref (amix);
  if (b == NULL)
    {
      mm_peer_log (from, G_LOG_LEVEL_WARNING, "its voice: %s", error->message);
      return;
    }
  g_object_set (b->sink_pad, "mute", from->audio_muted || from->blocked, NULL);
  g_ptr_array_add (from->voices, b);
  if (to != NULL)
    g_ptr_array_add (to->mix_inputs, b);
  mm_pipeline_relatency (m);
}

/* The voice of @p arrived. */
void
mm_mix_add_voice (MmMedia *m, Peer *p, GstBin *bin)
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
  mm_peer_log (p, G_LOG_LEVEL_INFO, "its voice in the mixes");
}

/* ---- a new mix-minus ----------------------------------------------------- */

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
  mm_app_run_main (p->app, mix_ready, mm_peer_hop_new (p), mm_peer_hop_free);
}

static void
watch_mix (MmMedia *m, Peer *p)
{
  GstElement *amix = gst_bin_get_by_name (p->mix, "amix");
  GstPad *src = gst_element_get_static_pad (amix, "src");
  GstCaps *caps = gst_pad_get_current_caps (src);

  g_signal_connect_data (src, "notify::caps", G_CALLBACK (on_mix_caps), mm_peer_ref (p),
                         (GClosureNotify) (void (*) (void)) mm_peer_unref, 0);
  if (caps != NULL)
    {
      gst_caps_unref (caps);
      mm_app_run_main (m->app, mix_ready, mm_peer_hop_new (p), mm_peer_hop_free);
    }
  gst_object_unref (src);
  gst_object_unref (amix);
}

gboolean
mm_mix_start (MmMedia *m, Peer *p, GError **error)
{
  g_autofree char *abr = g_strdup_printf ("%d", m->app->opts->audio_bitrate * 1000);
  const char *avars[] = { "BITRATE", abr, NULL };

  GstElement *amix;

  p->mix = mm_pipeline_make_bin (m, "audio-mix", avars, error);
  if (p->mix == NULL)
    return FALSE;
  p->mix_stream = mm_stream_new (m->app->transport, 48000, 0, NULL, NULL);
  if (!mm_send_attach (p->mix, "asend", p->mix_stream, NULL, error))
    {
      gst_object_unref (gst_object_ref_sink (p->mix));
      p->mix = NULL;
      g_clear_pointer (&p->mix_stream, mm_stream_free);
      return FALSE;
    }
  amix = gst_bin_get_by_name (p->mix, "amix");
  mm_pipeline_set_upstream_floor (m, amix);
  gst_object_unref (amix);
  gst_bin_add (GST_BIN (m->pipeline), GST_ELEMENT (p->mix));
  watch_mix (m, p);
  gst_element_sync_state_with_parent (GST_ELEMENT (p->mix));
  return TRUE;
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
  if (!isfinite (db))
    db = -100;
  p->level_db = 0.6 * p->level_db + 0.4 * db;
  update_speaker (m, p);
}
