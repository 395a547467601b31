/* peer.c — a participant in the room's media: made with its endpoint on
 * the transport, told by the endpoint how its connection goes, closed
 * when its media fails (its client may offer again), and taken out of the
 * composite and the mixes when it leaves: the branches into others' mixes
 * are detached first, then the rest is torn down.
 *
 * Threads: the main loop, except the endpoint callbacks marked "transport
 * thread", which hand over to the main loop with mm_app_run_main().
 */
#include "config.h"

#include "media/media-private.h"
#include "media/log.h"

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-media"

/* ---- logging (media/log.h) ----------------------------------------------- */

void
mm_peer_log (Peer *p, GLogLevelFlags level, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  mm_media_logv (p->m->code, p->id, level, format, args);
  va_end (args);
}

/* ---- a participant ------------------------------------------------------- */

Peer *
mm_peer_ref (Peer *p)
{
  g_atomic_int_inc (&p->ref_count);
  return p;
}

void
mm_peer_unref (gpointer data)
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
  g_free (p);
}

void
mm_peer_hop_free (gpointer data)
{
  Hop *h = data;

  mm_peer_unref (h->p);
  g_free (h->text);
  g_free (h);
}

Hop *
mm_peer_hop_new (Peer *p)
{
  Hop *h = g_new0 (Hop, 1);
  h->p = mm_peer_ref (p);
  return h;
}

/* Close @p's connection and tell its client why in a "media-failed"
 * event: it is free to offer again at once. */
void
mm_peer_close (Peer *p, const char *why)
{
  MmMedia *m = p->m;
  g_autofree char *pid = g_strdup (p->id);
  g_autoptr (JsonObject) ev = json_object_new ();

  mm_peer_log (p, G_LOG_LEVEL_WARNING, "%s: closing its connection; the client may offer again",
               why);
  json_object_set_string_member (ev, "reason", why);
  m->sink.send (m->sink.data, pid, "media-failed", ev);
  mm_media_remove (m, pid);
}

/* ---- its endpoint -------------------------------------------------------- */

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
      mm_peer_close (p, h->text);
      return;
    }
  p->connected = TRUE;
  mm_peer_log (p, G_LOG_LEVEL_INFO, "connected");
  /* A receiver decodes from a keyframe on. */
  if (p->video_sub)
    mm_tiers_keyframe_for (p);
}

/* Transport thread. */
static void
on_endpoint_state (MmEndpoint *ep, MmEndpointState state, const char *reason, gpointer data)
{
  Peer *p = data;
  Hop *h;

  if (state == MM_ENDPOINT_CHECKING)
    return;
  h = mm_peer_hop_new (p);
  if (state == MM_ENDPOINT_CLOSED)
    h->text = g_strdup (reason != NULL ? reason : "the connection closed");
  mm_app_run_main (p->app, endpoint_changed, h, mm_peer_hop_free);
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

  mm_app_run_main (p->app, nothing, p, mm_peer_unref);
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

Peer *
mm_peer_new (MmMedia *m, const char *pid, const char *display_name, const MmSdpSession *offer,
             GError **error)
{
  MmEndpointConfig ec = { 0 };
  MmEndpointCallbacks cb = { 0 };
  Peer *p;

  p = g_new0 (Peer, 1);
  p->ref_count = 1;
  p->m = m;
  p->app = m->app;
  p->id = g_strdup (pid);
  p->name = g_strdup (display_name);
  p->order = m->next_order++;
  g_mutex_init (&p->in_lock);
  p->voices = g_ptr_array_new ();
  p->slot = -1;
  /* Branches detached while it is here (voices leaving a mix) are its;
   * this one is released when it leaves, after scheduling the rest. */
  p->pending_detach = 1;
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
  cb.rtp = mm_input_on_rtp;
  cb.data = mm_peer_ref (p);
  cb.destroy = endpoint_destroyed;
  p->ep = mm_endpoint_new (m->app->transport, &ec, &cb, error);
  if (p->ep == NULL)
    {
      mm_peer_unref (p);
      mm_peer_unref (p);
      return NULL;
    }
  return p;
}

/* ---- its elements -------------------------------------------------------- */

static gboolean
branch_is (const Branch *b, GstObject *o)
{
  return b != NULL && o == GST_OBJECT (b->bin);
}

/* The peer a failed branch serves: the owner of a tile, the speaker of a
 * voice (its client offers again, and its voice is mixed again). */
static gboolean
branch_of_peer (Peer *p, GstObject *o)
{
  return branch_is (p->tile, o) || branch_is (p->screen_tile, o) || mm_mix_is_voice_of (p, o);
}

/* The peer whose elements include @obj, or NULL. */
Peer *
mm_peer_of (MmMedia *m, GstObject *obj)
{
  for (GstObject *o = obj; o != NULL; o = GST_OBJECT_PARENT (o))
    {
      GHashTableIter it;
      gpointer value;

      g_hash_table_iter_init (&it, m->peers);
      while (g_hash_table_iter_next (&it, NULL, &value))
        {
          Peer *p = value;

          if (o == GST_OBJECT (p->card) || branch_of_peer (p, o))
            return p;
          for (guint i = 0; i < N_INPUTS; i++)
            if (p->input_bins[i] != NULL && o == GST_OBJECT (p->input_bins[i]))
              return p;
        }
    }
  return NULL;
}

/* ---- leaving ------------------------------------------------------------- */

/* Close @p's connection as the room closes: nothing goes to it any more
 * and its inputs stop. */
void
mm_peer_stop_connection (Peer *p)
{
  MmMedia *m = p->m;

  if (p->video_sub)
    mm_stream_remove (m->video_stream, p->ep);
  if (p->audio_stream != NULL)
    mm_stream_remove (p->audio_stream, p->ep);
  p->video_sub = FALSE;
  p->audio_stream = NULL;
  if (p->ep != NULL)
    mm_endpoint_close (p->ep);
  mm_input_stop_all (p);
}

/* Everything of @p that only @p uses: no data flows into it any more
 * (its inputs were stopped by mm_media_remove). */
static void
peer_teardown (Peer *p)
{
  MmMedia *m = p->m;

  /* Branches out of p's decoders: their source has stopped. */
  if (p->tile != NULL)
    mm_branch_free_now (p->tile, TRUE);
  if (p->screen_tile != NULL)
    mm_branch_free_now (p->screen_tile, TRUE);
  p->screen_tile = NULL;
  g_ptr_array_remove (m->leaving, p);
  mm_mix_free_voices (p);   /* none: they went with its removal */
  p->tile = NULL;
  mm_compose_remove_card (m, p);
  for (guint i = 0; i < N_INPUTS; i++)
    if (p->input_bins[i] != NULL)
      {
        mm_pipeline_remove_bin (m, GST_ELEMENT (p->input_bins[i]));
        gst_object_unref (p->input_bins[i]);
        p->input_bins[i] = NULL;
      }
  p->screen_in = NULL;
  p->video_in = p->audio_in = NULL;
  mm_peer_unref (p);   /* the reference the table had (stolen by mm_media_remove) */
}

void
mm_peer_detach_done (Peer *p)
{
  g_assert (p->pending_detach > 0);
  if (--p->pending_detach == 0)
    {
      peer_teardown (p);
      mm_peer_unref (p);
    }
}

void
mm_media_remove (MmMedia *m, const char *pid)
{
  Peer *p = g_hash_table_lookup (m->peers, pid);
  gboolean had_tile;

  g_hash_table_remove (m->prefs, pid);
  if (p == NULL || p->removed)
    return;
  p->removed = TRUE;
  had_tile = p->tile != NULL || p->card != NULL || p->screen_tile != NULL;
  mm_compose_hide_peer (p);
  /* What p's branches return from now on is no failure to report. */
  mm_branch_quiet (p->tile);
  mm_branch_quiet (p->screen_tile);
  /* Its connection first: nothing is sent to it or taken from it any
   * more, and its inputs stop, so that the branches out of them can go. */
  mm_peer_stop_connection (p);
  /* Its tiles get no frame any more: the compositor must not wait for
   * them until the teardown takes them out. */
  mm_branch_end (p->tile);
  mm_branch_end (p->screen_tile);
  mm_peer_ref (p);
  /* Out of the mix; its voices detached (its teardown waits for them). */
  mm_mix_remove_peer (p);
  if (g_strcmp0 (m->active_speaker, pid) == 0)
    g_clear_pointer (&m->active_speaker, g_free);
  /* Out of the table now: the id is free for a new connection, and
   * nothing iterating the peers sees this one again. */
  g_hash_table_steal (m->peers, pid);
  g_ptr_array_add (m->leaving, p);
  /* The tile goes with the teardown; lay out the others now. */
  if (had_tile)
    mm_compose_screens_changed (m);
  mm_peer_detach_done (p);
}
