/* offer.c — the offer/answer: what mixmeet accepts of an offer, which of
 * its m-lines carry what (a Plan), the media an offer sets up, a new
 * offer on the same connection (renegotiation, ICE restart), and the
 * answer (ICE-lite, every candidate in it).
 *
 * Threads: the main loop (mm_media_check_offer: any thread).
 */
#include "config.h"

#include "media/media-private.h"
#include "core/error.h"

#include <gst/sdp/sdp.h>
#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-media"

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
  /* And who speaks now (an audio-only receiver shows it). */
  if (p->m->active_speaker != NULL)
    {
      Peer *speaker = g_hash_table_lookup (p->m->peers, p->m->active_speaker);

      if (speaker != NULL && !speaker->removed)
        {
          g_autoptr (JsonObject) sp = json_object_new ();

          json_object_set_string_member (sp, "participant_id", speaker->id);
          json_object_set_string_member (sp, "display_name", speaker->name);
          p->m->sink.send (p->m->sink.data, p->id, "active-speaker", sp);
        }
    }
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
  Hop *h = mm_peer_hop_new (p);

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
  mm_app_run_main (m->app, send_answer_now, h, mm_peer_hop_free);
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
        mm_compose_add_card (m, p);
    }
  if (camera != NULL && !mm_input_add (p, IN_CAMERA, camera, error))
    return FALSE;
  if (voice != NULL)
    p->sends_audio = TRUE;   /* a candidate for the mix once its voice arrives */
  if (voice != NULL && !mm_input_add (p, IN_VOICE, voice, error))
    return FALSE;
  if (screen != NULL && screen->sends && !mm_input_add (p, IN_SCREEN, screen, error))
    return FALSE;
  if (camera != NULL || screen != NULL)
    mm_endpoint_set_max_bitrate (p->ep, (guint64) m->app->opts->video_bitrate * 1000);

  if (video != NULL && video->receives && !p->video_sub)
    {
      mm_tiers_add_receiver (p, video->pt);
      p->video_sub = TRUE;
      p->wants_video = TRUE;
    }
  if (audio != NULL && audio->receives)
    {
      MmStream *want = mm_mix_stream_for (p);

      if (p->audio_stream == NULL)
        mm_stream_add (want, p->ep, audio->pt, p->audio_ssrc);
      else if (p->audio_stream != want)
        mm_stream_move (p->audio_stream, want, p->ep);
      p->audio_stream = want;
      p->wants_audio = TRUE;
    }
  return TRUE;
}

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

/* A new offer on the same connection (the same ICE credentials, or new
 * ones with the same DTLS certificate: an ICE restart): a viewer who
 * starts sending, a screen shared or no longer shared. */
static gboolean
renegotiate (MmMedia *m, Peer *p, const MmSdpSession *offer, GError **error)
{
  Plan pl = plan_offer (offer);
  gboolean showed = mm_compose_shows_screen (p);

  if (!check_reoffer (p, offer, error))
    return FALSE;
  if (!apply_offer (p, offer, &pl, error))
    return FALSE;
  send_answer (p, offer, &pl);
  mm_peer_log (p, G_LOG_LEVEL_INFO,
               "new offer on the same connection (video %s, audio %s, screen %s)",
               p->sends_video ? "in" : "-", p->sends_audio ? "in" : "-",
               p->presenting ? "in" : "-");
  if (showed != mm_compose_shows_screen (p))
    mm_compose_screens_changed (m);
  return TRUE;
}

gboolean
mm_media_offer (MmMedia *m, const char *pid, const char *display_name, const char *sdp_text,
                GError **error)
{
  g_autoptr (MmSdpSession) offer = read_offer (sdp_text, error);
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
          mm_peer_log (p, G_LOG_LEVEL_INFO, "ICE restart");
          return renegotiate (m, p, offer, error);
        }
      {
        /* A new connection: the choice of what to receive stays. */
        gpointer pref = g_hash_table_lookup (m->prefs, pid);

        mm_media_remove (m, pid);
        if (pref != NULL)
          g_hash_table_insert (m->prefs, g_strdup (pid), pref);
      }
    }

  p = mm_peer_new (m, pid, display_name, offer, error);
  if (p == NULL)
    return FALSE;
  g_hash_table_insert (m->peers, p->id, p);
  if (!apply_offer (p, offer, &pl, error))
    {
      mm_media_remove (m, pid);
      return FALSE;
    }
  send_answer (p, offer, &pl);
  mm_peer_log (p, G_LOG_LEVEL_INFO, "offer (video %s%s, audio %s%s)", p->sends_video ? "in" : "",
               p->wants_video ? " out" : "", p->sends_audio ? "in" : "",
               p->wants_audio ? " out" : "");
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
