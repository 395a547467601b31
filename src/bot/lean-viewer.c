/* lean-viewer.c — one lean viewer: signalling, DTLS, SRTP, RTCP (its ICE: lean-ice.c).
 *
 * The steps, each on the lean thread:
 *   join (REST) → offer (receive-only audio + video, sdp.h; with
 *     --audio-only one audio m-line, sendrecv unless --recv-only:
 *     lean-speak.c sends) → long-poll
 *   → the answer: ICE credentials, candidates, fingerprint, setup
 *   → checks to every remote candidate, as the controlling agent with
 *     USE-CANDIDATE (aggressive nomination), resent every 50 ms until
 *     one is answered, for 30 s at most; Binding requests from the server
 *     (a full agent checks too) are answered
 *   → DTLS in the role the answer implies (setup:passive → we are the
 *     client, setup:active → the server)
 *   → SRTP keys: every packet is authenticated by libsrtp's unprotect
 *     (or 1 in --auth-sample), counted (lean-rtp.c, lean-quality.c), RTCP:
 *     a receiver report every second, NACKs for gaps, transport-wide cc
 *     feedback every 100 ms (lean-twcc.c), a consent check every 5 s.
 * With --link every datagram first crosses a simulated link (lean-link.c)
 * and is handled when the link lets it out, at that time.
 * What comes from the network is never trusted: a datagram that does not
 * parse, validate or authenticate is counted and dropped.
 */
#include "config.h"

#include "bot/lean.h"
#include "transport/demux.h"
#include "transport/sdp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define ICE_TIMEOUT_US (30 * G_USEC_PER_SEC)
#define CONSENT_INTERVAL_US (5 * G_USEC_PER_SEC)
#define RR_INTERVAL_US G_USEC_PER_SEC
#define TWCC_INTERVAL_US (100 * 1000)
#define REMB_INTERVAL_US (500 * 1000)
#define NACK_RETRY_US (100 * 1000)
#define ANSWER_TIMEOUT_US (20 * G_USEC_PER_SEC)
/* Offers a viewer makes before it gives up (one, and one more after each
 * failure: no answer, ICE or DTLS failed, the server's media-failed). */
#define MAX_OFFERS 3

static void
step (MmLeanViewer *v, MmLeanStep s)
{
  if (v->step_us[s] == 0)
    v->step_us[s] = g_get_monotonic_time ();
}

static void
fail (MmLeanViewer *v, const char *why)
{
  if (v->state == MM_LEAN_FAILED)
    return;
  mm_lean_log (v, "failed: %s", why);
  v->state = MM_LEAN_FAILED;
}

/* ---- sockets --------------------------------------------------------------- */

void
mm_lean_viewer_send_to (MmLeanViewer *v, const guint8 *buf, gsize len,
                        const struct sockaddr_storage *to, socklen_t to_len)
{
  if (sendto (v->fd, buf, len, 0, (const struct sockaddr *) to, to_len) < 0 && errno != EAGAIN)
    mm_lean_debug (v, "sendto: %s", g_strerror (errno));
}

static gboolean
selected (MmLeanViewer *v, const struct sockaddr_storage **to, socklen_t *to_len)
{
  if (v->selected < 0)
    return FALSE;
  *to = &v->cands[v->selected].addr;
  *to_len = v->cands[v->selected].addr_len;
  return TRUE;
}

static void
on_dtls_send (const guint8 *buf, gsize len, gpointer data)
{
  MmLeanViewer *v = data;
  const struct sockaddr_storage *to;
  socklen_t to_len;

  if (selected (v, &to, &to_len))
    mm_lean_viewer_send_to (v, buf, len, to, to_len);
}

static void media_reset (MmLeanViewer *v);
static void on_link_packet (MmLeanLinkPacket *p, gpointer data);

MmLeanViewer *
mm_lean_viewer_new (MmLean *lean, guint index, GError **error)
{
  const char *address = lean->opts->ice_address != NULL ? lean->opts->ice_address : "127.0.0.1";
  MmLeanViewer *v = g_new0 (MmLeanViewer, 1);
  struct sockaddr_in *in4 = (struct sockaddr_in *) &v->local;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &v->local;
  struct epoll_event ev = { 0 };
  int rcvbuf = 1 << 20;

  v->lean = lean;
  v->index = index;
  v->fd = -1;
  v->selected = -1;
  v->state = MM_LEAN_IDLE;
  v->name = g_strdup_printf ("%s-%u", lean->opts->name != NULL ? lean->opts->name : "viewer",
                             index);
  if (inet_pton (AF_INET, address, &in4->sin_addr) == 1)
    {
      in4->sin_family = AF_INET;
      v->local_len = sizeof *in4;
    }
  else if (inet_pton (AF_INET6, address, &in6->sin6_addr) == 1)
    {
      in6->sin6_family = AF_INET6;
      v->local_len = sizeof *in6;
    }
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "--ice-address %s is not an IP address", address);
      mm_lean_viewer_free (v);
      return NULL;
    }
  v->fd = socket (v->local.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (v->fd < 0 || bind (v->fd, (struct sockaddr *) &v->local, v->local_len) < 0
      || getsockname (v->fd, (struct sockaddr *) &v->local, &v->local_len) < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "cannot bind a UDP socket on %s: %s", address, g_strerror (errno));
      mm_lean_viewer_free (v);
      return NULL;
    }
  setsockopt (v->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  ev.events = EPOLLIN;
  ev.data.ptr = v;
  if (epoll_ctl (lean->epfd, EPOLL_CTL_ADD, v->fd, &ev) < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "epoll_ctl: %s",
                   g_strerror (errno));
      mm_lean_viewer_free (v);
      return NULL;
    }
  media_reset (v);
  v->ssrc = g_random_int ();
  if (lean->opts->audio_only && !lean->opts->recv_only)
    {
      v->audio_ssrc = g_random_int () | 1;   /* never 0: 0 means we send nothing */
      v->speaker = lean->opts->speakers < 0 || index < (guint) lean->opts->speakers;
    }
  mm_lean_stream_init (&v->video, TRUE);
  mm_lean_stream_init (&v->audio, FALSE);
  mm_lean_twcc_init (&v->twcc, 0);
  mm_lean_quality_init (&v->quality);
  if (lean->opts->link_kbps > 0)
    {
      v->link = mm_lean_link_new ((guint) lean->opts->link_kbps,
                                  (guint) lean->opts->link_queue_ms,
                                  lean->opts->link_loss_percent, g_random_int ());
      mm_lean_link_attach (v->link, on_link_packet, v);
    }
  return v;
}

/* Forget everything of the media session (a new offer follows, or the
 * end). */
static void
media_reset (MmLeanViewer *v)
{
  g_clear_pointer (&v->dtls, mm_dtls_free);
  g_clear_pointer (&v->srtp_in, mm_srtp_free);
  g_clear_pointer (&v->srtp_out, mm_srtp_free);
  g_clear_pointer (&v->remote_ufrag, g_free);
  g_clear_pointer (&v->remote_pwd, g_free);
  g_clear_pointer (&v->remote_fingerprint, g_free);
  mm_lean_ice_reset (v);
}

void
mm_lean_viewer_free (MmLeanViewer *v)
{
  if (v == NULL)
    return;
  media_reset (v);
  mm_lean_link_free (v->link);
  if (v->fd >= 0)
    close (v->fd);   /* also leaves the epoll set */
  mm_bot_session_clear (&v->session);
  g_free (v->name);
  g_free (v);
}

/* ---- signalling ------------------------------------------------------------ */

static void poll_events (MmLeanViewer *v);
static void send_offer (MmLeanViewer *v);

static void
on_posted (MmBotHttpResult *r, gpointer data)
{
  MmLeanViewer *v = data;

  if (v->lean->stopping)
    return;
  if (r->status < 200 || r->status >= 300)
    {
      g_autofree char *why = mm_bot_http_describe_failure (r, v->session.messages_url);
      g_autofree char *what = g_strdup_printf ("the offer was refused: %s", why);

      fail (v, what);
    }
}

static void
post_message (MmLeanViewer *v, JsonObject *msg, MmBotHttpDone done)
{
  g_autofree char *text = mm_bot_json_text (msg);

  mm_bot_http_request (v->lean->http, "POST", v->session.messages_url, v->session.secret, text,
                       30, FALSE, done, v);
}

static void
on_joined (MmBotHttpResult *r, gpointer data)
{
  MmLeanViewer *v = data;
  g_autofree char *url = NULL;
  char *why = NULL;

  if (v->lean->stopping)
    return;
  if (r->status < 200 || r->status >= 300)
    {
      g_autofree char *join_url = mm_bot_signal_join_url (v->lean->opts);
      g_autofree char *desc = mm_bot_http_describe_failure (r, join_url);
      g_autofree char *what = g_strdup_printf ("join: %s", desc);

      fail (v, what);
      return;
    }
  if (!mm_bot_signal_parse_join (v->lean->opts->server, r, &v->session, &why))
    {
      fail (v, why);
      g_free (why);
      return;
    }
  step (v, MM_LEAN_STEP_JOINED);
  v->joined = TRUE;
  mm_lean_debug (v, "joined as %s", v->session.participant_id);
  send_offer (v);
  poll_events (v);
}

void
mm_lean_viewer_start (MmLeanViewer *v)
{
  g_autofree char *url = mm_bot_signal_join_url (v->lean->opts);
  g_autofree char *body = mm_bot_signal_join_body (v->name, v->lean->opts->quality);

  v->state = MM_LEAN_JOINING;
  v->join_start_us = g_get_monotonic_time ();
  mm_bot_http_request (v->lean->http, "POST", url, v->lean->app->token, body, 30, FALSE,
                       on_joined, v);
}

static void
send_offer (MmLeanViewer *v)
{
  MmSdpOfferParams p = { 0 };
  g_autoptr (JsonObject) msg = json_object_new ();
  g_autofree char *sdp = NULL;

  media_reset (v);
  mm_lean_ice_new_credentials (v);
  p.ice_ufrag = v->ufrag;
  p.ice_pwd = v->pwd;
  p.fingerprint = mm_dtls_identity_fingerprint (v->lean->identity);
  p.audio = TRUE;
  p.video = !v->lean->opts->audio_only;
  p.audio_ssrc = v->audio_ssrc;
  /* Chrome's id for the level extension. */
  p.ext_audio_level = v->audio_ssrc != 0 ? 1 : 0;
  p.twcc = !v->lean->opts->remb_set;
  sdp = mm_sdp_build_offer (&p);
  json_object_set_string_member (msg, "type", "offer");
  json_object_set_string_member (msg, "sdp", sdp);
  post_message (v, msg, on_posted);
  v->offers++;
  v->offer_us = g_get_monotonic_time ();
  v->state = MM_LEAN_NEGOTIATING;
  step (v, MM_LEAN_STEP_OFFER);
}

/* The media failed (@why): offer again, as a browser would, unless this
 * viewer has offered MAX_OFFERS times already. */
static void
restart (MmLeanViewer *v, const char *why)
{
  if (v->offers >= MAX_OFFERS)
    {
      g_autofree char *what = g_strdup_printf ("%s (after %u offers)", why, v->offers);

      fail (v, what);
      return;
    }
  mm_lean_log (v, "%s: offering again", why);
  send_offer (v);
}

static void
on_answer (MmLeanViewer *v, const char *sdp)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MmSdpSession) s = NULL;
  const MmSdpMedia *video, *audio;

  if (v->state != MM_LEAN_NEGOTIATING)
    {
      mm_lean_debug (v, "an answer when none is awaited: ignored");
      return;
    }
  s = mm_sdp_parse (sdp, &error);
  if (s == NULL)
    {
      g_autofree char *why = g_strdup_printf ("the answer does not parse: %s", error->message);

      fail (v, why);
      return;
    }
  if (s->ice_ufrag == NULL || s->ice_pwd == NULL || s->fingerprint == NULL)
    {
      fail (v, "the answer lacks ICE credentials or a DTLS fingerprint");
      return;
    }
  video = mm_sdp_first (s, MM_SDP_VIDEO);
  audio = mm_sdp_first (s, MM_SDP_AUDIO);
  if (video == NULL && !v->lean->opts->audio_only)
    {
      fail (v, "the answer refused video");
      return;
    }
  if (audio == NULL && v->lean->opts->audio_only)
    {
      fail (v, "the answer refused audio");
      return;
    }
  v->video_pt = video != NULL ? video->pt : 255;
  v->audio_pt = audio != NULL ? audio->pt : 255;
  v->level_ext = audio != NULL ? audio->ext_audio_level : 0;
  /* One transport-wide sequence for the bundle: the id of either m-line. */
  mm_lean_twcc_init (&v->twcc, video != NULL && video->ext_twcc != 0 ? video->ext_twcc
                               : audio != NULL ? audio->ext_twcc : 0);
  v->remote_ufrag = g_strdup (s->ice_ufrag);
  v->remote_pwd = g_strdup (s->ice_pwd);
  v->remote_fingerprint = g_strdup (s->fingerprint);
  /* The answerer's setup: passive (our own transport) makes us the DTLS
   * client, active (webrtcbin) the server. */
  v->role = s->setup == MM_SDP_SETUP_ACTIVE ? MM_DTLS_SERVER : MM_DTLS_CLIENT;
  v->dtls = mm_dtls_new (v->lean->identity, v->role, v->remote_fingerprint, on_dtls_send, v,
                         &error);
  if (v->dtls == NULL)
    {
      g_autofree char *why = g_strdup_printf ("DTLS: %s", error->message);

      fail (v, why);
      return;
    }
  step (v, MM_LEAN_STEP_ANSWER);
  v->state = MM_LEAN_CHECKING;
  v->checks_since_us = g_get_monotonic_time ();
  for (guint i = 0; s->candidates[i] != NULL; i++)
    mm_lean_ice_add_candidate_text (v, s->candidates[i]);
  mm_lean_debug (v, "answer: setup %s, %u candidates, video pt %u, audio pt %u",
                 mm_sdp_setup_to_string (s->setup), v->n_cands, v->video_pt, v->audio_pt);
}

static void
handle_event (MmLeanViewer *v, JsonObject *ev)
{
  const char *type = mm_bot_json_str (ev, "type");

  if (type == NULL || v->state == MM_LEAN_FAILED)
    return;
  if (g_str_equal (type, "answer"))
    {
      const char *sdp = mm_bot_json_str (ev, "sdp");

      if (sdp != NULL)
        on_answer (v, sdp);
    }
  else if (g_str_equal (type, "ice"))
    {
      const char *cand = mm_bot_json_str (ev, "candidate");

      /* Candidates before the answer would have no credentials to check
       * with; the server sends them after it. */
      mm_lean_debug (v, "candidate %s", cand != NULL ? cand : "(none)");
      if (cand != NULL && cand[0] != '\0' && v->remote_pwd != NULL)
        mm_lean_ice_add_candidate_text (v, cand);
    }
  else if (g_str_equal (type, "media-failed"))
    {
      const char *reason = mm_bot_json_str (ev, "reason");

      g_autofree char *why = g_strdup_printf ("the server closed our media (%s)",
                                              reason != NULL ? reason : "?");

      restart (v, why);
    }
}

/* Between two long-polls of a connected viewer: events matter little to
 * it then, and a joining crowd would otherwise wake every viewer for
 * every join. */
static gint64
poll_pause_us (MmLeanViewer *v)
{
  return MAX (1, (gint64) v->lean->viewers->len / 250) * G_USEC_PER_SEC;
}

static void
on_events (MmBotHttpResult *r, gpointer data)
{
  MmLeanViewer *v = data;
  gint64 now = g_get_monotonic_time ();
  JsonArray *events;
  gint64 last_seq;

  v->polling = FALSE;
  if (v->lean->stopping || v->leaving)
    return;
  if (mm_bot_signal_parse_events (r, &events, &last_seq))
    {
      v->session.last_seq = last_seq;
      for (guint i = 0; i < json_array_get_length (events); i++)
        {
          JsonNode *n = json_array_get_element (events, i);

          if (JSON_NODE_HOLDS_OBJECT (n))
            handle_event (v, json_node_get_object (n));
        }
      v->next_poll_us = v->state == MM_LEAN_CONNECTED ? now + poll_pause_us (v) : now;
      return;
    }
  if ((r->status == 404
       && g_strcmp0 (mm_bot_http_error_code (r), "participant_not_found") == 0)
      || r->status == 401 || r->status == 403)
    {
      g_autofree char *why = mm_bot_http_describe_failure (r, v->session.events_url);
      g_autofree char *what = g_strdup_printf ("events: %s", why);

      v->left = TRUE;   /* the server knows us no more: no leave */
      fail (v, what);
      return;
    }
  mm_lean_debug (v, "events: HTTP %ld, polling again in 1 s", r->status);
  v->next_poll_us = now + G_USEC_PER_SEC;
}

static void
poll_events (MmLeanViewer *v)
{
  g_autofree char *url = g_strdup_printf ("%s?since=%" G_GINT64_FORMAT, v->session.events_url,
                                          v->session.last_seq);

  v->polling = TRUE;
  mm_bot_http_request (v->lean->http, "GET", url, v->session.secret, NULL,
                       v->session.long_poll_timeout + 10L, TRUE, on_events, v);
}

static void
on_left (MmBotHttpResult *r, gpointer data)
{
  MmLeanViewer *v = data;

  v->left = TRUE;
  if ((r->status < 200 || r->status >= 300)
      && !(r->status == 404
           && g_strcmp0 (mm_bot_http_error_code (r), "participant_not_found") == 0))
    {
      g_autofree char *why = mm_bot_http_describe_failure (r, v->session.leave_url);

      mm_lean_debug (v, "leave failed: %s", why);
    }
}

void
mm_lean_viewer_leave (MmLeanViewer *v)
{
  v->leaving = TRUE;
  if (!v->joined || v->left || v->session.leave_url == NULL)
    {
      v->left = TRUE;
      return;
    }
  mm_bot_http_request (v->lean->http, "POST", v->session.leave_url, v->session.secret, NULL, 10,
                       FALSE, on_left, v);
}

/* ---- ICE --------------------------------------------------------------------- */

void
mm_lean_viewer_ice_connected (MmLeanViewer *v, guint i)
{
  v->selected = (int) i;
  v->state = MM_LEAN_DTLS;
  v->consent_ok_us = g_get_monotonic_time ();
  v->next_consent_us = v->consent_ok_us + CONSENT_INTERVAL_US;
  step (v, MM_LEAN_STEP_ICE);
  mm_lean_debug (v, "ICE connected (candidate %u), DTLS %s", i,
                 v->role == MM_DTLS_CLIENT ? "client" : "server");
  if (mm_dtls_start (v->dtls) == MM_DTLS_FAILED)
    fail (v, mm_dtls_error (v->dtls));
}

/* ---- DTLS, SRTP, RTCP ------------------------------------------------------- */

static void
dtls_state (MmLeanViewer *v, MmDtlsState st)
{
  g_autoptr (GError) error = NULL;
  MmSrtpKeys keys;

  if (st == MM_DTLS_FAILED || st == MM_DTLS_CLOSED)
    {
      g_autofree char *why = g_strdup_printf ("DTLS %s: %s",
                                              st == MM_DTLS_FAILED ? "failed" : "closed",
                                              mm_dtls_error (v->dtls) ? mm_dtls_error (v->dtls)
                                                                      : "by the server");

      if (st == MM_DTLS_FAILED)
        v->lean->dtls_failures++;
      restart (v, why);
      return;
    }
  if (st != MM_DTLS_CONNECTED || v->srtp_in != NULL)
    return;
  if (!mm_dtls_srtp_keys (v->dtls, &keys)
      || (v->srtp_in = mm_srtp_new (&keys, FALSE, &error)) == NULL
      || (v->srtp_out = mm_srtp_new (&keys, TRUE, &error)) == NULL)
    {
      g_autofree char *why = g_strdup_printf ("no SRTP keys: %s",
                                              error != NULL ? error->message : "DTLS gave none");

      fail (v, why);
      return;
    }
  v->profile = keys.profile;
  v->state = MM_LEAN_CONNECTED;
  v->next_rr_us = g_get_monotonic_time () + RR_INTERVAL_US;
  step (v, MM_LEAN_STEP_DTLS);
  if (v->audio_ssrc != 0)
    mm_lean_speak_start (v, g_get_monotonic_time ());
  mm_lean_debug (v, "DTLS connected (%s)",
                 keys.profile == MM_SRTP_PROFILE_AEAD_AES_128_GCM ? "AES-GCM" : "AES-CM");
}

static void
on_rtcp_item (const MmRtcpItem *item, gpointer data)
{
  MmLeanViewer *v = data;
  int k;

  if (item->kind != MM_RTCP_SR)
    return;
  if (v->video.started && item->sender_ssrc == v->video.ssrc)
    k = 0;
  else if (v->audio.started && item->sender_ssrc == v->audio.ssrc)
    k = 1;
  else
    return;
  v->sr_lsr[k] = (guint32) (item->u.report.ntp >> 16);
  v->sr_at_us[k] = g_get_monotonic_time ();
}

static void
rtcp_in (MmLeanViewer *v, guint8 *buf, gsize len)
{
  gsize plain = len;

  MmSrtpResult r = mm_srtp_unprotect_rtcp (v->srtp_in, buf, &plain);

  if (r != MM_SRTP_OK)
    {
      if (v->srtp_auth + v->srtp_replay + v->srtp_other == 0)
        mm_lean_log (v, "SRTCP unprotect failed (%s); further failures are only counted",
                     mm_srtp_result_name (r));
      if (r == MM_SRTP_ERROR_REPLAY)
        v->srtp_replay++;
      else
        v->srtp_auth++;
      return;
    }
  v->rtcp_in++;
  if (!mm_rtcp_parse (v->lean->rtcp, buf, plain, on_rtcp_item, v))
    v->rtcp_bad++;
}

static void
rtp_in (MmLeanViewer *v, guint8 *buf, gsize len, gint64 now_us)
{
  const MmBotOptions *o = v->lean->opts;
  MmLeanStream *s;
  MmLeanRtp h;
  MmRtpHeader rh;
  gsize plain = len, ext_len;
  const guint8 *ext;
  gboolean decrypted = FALSE;

  if (!mm_lean_rtp_read (buf, len, &h))
    return;
  if (h.pt == v->video_pt)
    s = &v->video;
  else if (h.pt == v->audio_pt)
    s = &v->audio;
  else
    return;
  if (s->video && mm_lean_stream_drop (s, &h, o->drop_percent))
    return;
  /* Authenticate every packet, or 1 in --auth-sample. */
  if (o->auth_sample <= 1 || (v->verified + v->unverified) % (guint) o->auth_sample == 0)
    {
      MmSrtpResult r = mm_srtp_unprotect_rtp (v->srtp_in, buf, &plain);

      if (r != MM_SRTP_OK)
        {
          if (v->srtp_auth + v->srtp_replay + v->srtp_other == 0)
            mm_lean_log (v, "SRTP unprotect failed (%s) on packet %u of SSRC %08x; further "
                         "failures are only counted", mm_srtp_result_name (r), h.seq, h.ssrc);
          if (r == MM_SRTP_ERROR_AUTH)
            v->srtp_auth++;
          else if (r == MM_SRTP_ERROR_REPLAY)
            v->srtp_replay++;
          else
            v->srtp_other++;
          return;
        }
      v->verified++;
      decrypted = TRUE;
    }
  else
    v->unverified++;
  v->packets++;
  v->bytes += len;
  /* The header is not encrypted: its extensions are there either way. */
  if (!mm_rtp_parse (buf, plain, &rh))
    memset (&rh, 0, sizeof rh);
  if (v->twcc.ext_id != 0
      && (ext = mm_rtp_find_extension (&rh, v->twcc.ext_id, &ext_len)) != NULL && ext_len >= 2)
    mm_lean_twcc_record (&v->twcc, (guint16) (ext[0] << 8 | ext[1]), now_us);
  if (s->video)
    {
      step (v, MM_LEAN_STEP_FIRST_PACKET);
      mm_lean_quality_video (&v->quality, decrypted ? buf + rh.header_len : NULL,
                             rh.payload_len, len, now_us);
    }
  else
    {
      /* Without video the first packet is the mix's. */
      if (v->lean->opts->audio_only)
        step (v, MM_LEAN_STEP_FIRST_PACKET);
      mm_lean_quality_audio (&v->quality, now_us);
      if (v->last_audio_us != 0)
        v->audio_gap_us = MAX (v->audio_gap_us, now_us - v->last_audio_us);
      v->last_audio_us = now_us;
      v->period_audio++;
    }
  if (mm_lean_stream_packet (s, &h, now_us))
    {
      step (v, MM_LEAN_STEP_FIRST_FRAME);
      v->period_frames++;
      mm_lean_quality_frame (&v->quality, now_us);
    }
}

static void
deliver (MmLeanViewer *v, guint8 *buf, gsize len, const struct sockaddr_storage *from,
         socklen_t from_len, gint64 now_us)
{
  switch (mm_packet_classify (buf, len))
    {
    case MM_PACKET_STUN:
      mm_lean_ice_stun (v, buf, len, from, from_len);
      break;
    case MM_PACKET_DTLS:
      if (v->dtls != NULL && v->state >= MM_LEAN_CHECKING && v->state != MM_LEAN_FAILED)
        dtls_state (v, mm_dtls_handle (v->dtls, buf, len));
      break;
    case MM_PACKET_RTP:
      if (v->srtp_in != NULL && v->state == MM_LEAN_CONNECTED)
        rtp_in (v, buf, len, now_us);
      break;
    case MM_PACKET_RTCP:
      if (v->srtp_in != NULL && v->state == MM_LEAN_CONNECTED)
        rtcp_in (v, buf, len);
      break;
    case MM_PACKET_UNKNOWN:
    default:
      break;
    }
}

static void
on_link_packet (MmLeanLinkPacket *p, gpointer data)
{
  deliver (data, p->data, p->len, &p->from, p->from_len, p->due_us);
}

void
mm_lean_viewer_datagram (MmLeanViewer *v, guint8 *buf, gsize len,
                         const struct sockaddr_storage *from, socklen_t from_len, gint64 now_us)
{
  if (v->link != NULL)
    mm_lean_link_receive (v->link, buf, len, from, from_len, now_us);
  else
    deliver (v, buf, len, from, from_len, now_us);
}

/* ---- timers ------------------------------------------------------------------ */

static guint32
dlsr (MmLeanViewer *v, int k, gint64 now_us)
{
  if (v->sr_at_us[k] == 0)
    return 0;
  return (guint32) MIN ((now_us - v->sr_at_us[k]) * 65536 / G_USEC_PER_SEC, G_MAXUINT32);
}

/* SRTCP-protect the @len bytes of RTCP in @buf (@size with room for the
 * trailer) and send them. */
static void
send_srtcp (MmLeanViewer *v, guint8 *buf, gsize len, gsize size)
{
  const struct sockaddr_storage *to;
  socklen_t to_len;

  if (len > 0 && selected (v, &to, &to_len)
      && mm_srtp_protect_rtcp (v->srtp_out, buf, &len, size) == MM_SRTP_OK)
    mm_lean_viewer_send_to (v, buf, len, to, to_len);
}

/* A receiver report on what arrived, with NACKs for @seqs when @n > 0. */
static void
send_rtcp (MmLeanViewer *v, const guint16 *seqs, guint n, gint64 now_us)
{
  MmRtcpReportBlock blocks[2];
  guint n_blocks = 0;
  guint8 buf[1024 + MM_SRTP_MAX_TRAILER];
  gsize len;

  if (v->selected < 0 || v->srtp_out == NULL)
    return;
  if (v->video.started)
    mm_lean_stream_report_block (&v->video, v->sr_lsr[0], dlsr (v, 0, now_us),
                                 &blocks[n_blocks++]);
  if (v->audio.started)
    mm_lean_stream_report_block (&v->audio, v->sr_lsr[1], dlsr (v, 1, now_us),
                                 &blocks[n_blocks++]);
  len = mm_rtcp_write_rr (buf, 1024, v->ssrc, blocks, n_blocks);
  if (len > 0 && n > 0)
    len += mm_rtcp_write_nack (buf + len, 1024 - len, v->ssrc, v->video.ssrc, seqs, n);
  send_srtcp (v, buf, len, sizeof buf);
}

/* --remb: what this receiver says it can take, whatever arrived. */
static void
send_remb (MmLeanViewer *v)
{
  guint8 buf[24 + MM_SRTP_MAX_TRAILER];
  guint32 media = v->video.started ? v->video.ssrc : v->audio.ssrc;

  send_srtcp (v, buf, mm_rtcp_write_remb (buf, sizeof buf - MM_SRTP_MAX_TRAILER, v->ssrc,
                                          v->lean->opts->remb_bps, &media, 1), sizeof buf);
}

/* Transport-wide cc feedback on what arrived since the previous one. */
static void
send_twcc (MmLeanViewer *v)
{
  guint8 buf[20 + 4 * MM_LEAN_TWCC_SPAN + MM_SRTP_MAX_TRAILER];
  guint32 media = v->video.started ? v->video.ssrc : v->audio.ssrc;

  send_srtcp (v, buf, mm_lean_twcc_write (&v->twcc, buf, sizeof buf - MM_SRTP_MAX_TRAILER,
                                          v->ssrc, media), sizeof buf);
}

void
mm_lean_viewer_tick (MmLeanViewer *v, gint64 now_us)
{
  if (v->state == MM_LEAN_FAILED || v->leaving)
    return;
  if (v->joined && !v->polling && now_us >= v->next_poll_us)
    poll_events (v);
  if (v->state == MM_LEAN_NEGOTIATING && now_us - v->offer_us > ANSWER_TIMEOUT_US)
    {
      v->lean->answer_timeouts++;
      restart (v, "no answer in 20 s");
      return;
    }
  if (v->state == MM_LEAN_CHECKING)
    {
      if (now_us - v->checks_since_us > ICE_TIMEOUT_US)
        {
          v->lean->ice_failures++;
          restart (v, "ICE: no check answered in 30 s");
          return;
        }
      mm_lean_ice_send_checks (v, now_us);
    }
  /* Handshake retransmissions; once connected there are none. */
  if (v->dtls != NULL && v->state == MM_LEAN_DTLS)
    {
      gint64 due = mm_dtls_timeout_us (v->dtls);

      if (due >= 0 && due <= now_us)
        dtls_state (v, mm_dtls_handle_timeout (v->dtls));
    }
  if (v->selected >= 0 && now_us >= v->next_consent_us)
    {
      mm_lean_ice_send_consent (v);
      v->next_consent_us = now_us + CONSENT_INTERVAL_US;
    }
  if (v->state == MM_LEAN_CONNECTED)
    {
      guint16 seqs[64];
      guint n;

      mm_lean_quality_tick (&v->quality, now_us);
      if (v->twcc.ext_id != 0 && now_us >= v->next_twcc_us)
        {
          send_twcc (v);
          v->next_twcc_us = now_us + TWCC_INTERVAL_US;
        }
      if (v->lean->opts->remb_set && now_us >= v->next_remb_us)
        {
          send_remb (v);
          v->next_remb_us = now_us + REMB_INTERVAL_US;
        }
      n = mm_lean_stream_due_nacks (&v->video, now_us, NACK_RETRY_US, seqs, G_N_ELEMENTS (seqs));
      if (n > 0 || now_us >= v->next_rr_us)
        {
          send_rtcp (v, seqs, n, now_us);
          if (now_us >= v->next_rr_us)
            v->next_rr_us = now_us + RR_INTERVAL_US;
        }
    }
}

gint64
mm_lean_viewer_take_gap (MmLeanViewer *v, gint64 now_us)
{
  gint64 gap = v->video.max_gap_us;

  if (v->video.last_frame_us != 0 && now_us - v->video.last_frame_us > gap)
    gap = now_us - v->video.last_frame_us;
  v->video.max_gap_us = 0;
  return gap;
}
