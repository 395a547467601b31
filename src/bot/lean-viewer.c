/* lean-viewer.c — one lean viewer: signalling, ICE, DTLS, SRTP, RTCP.
 *
 * The steps, each on the lean thread:
 *   join (REST) → offer (receive-only audio + video, sdp.h) → long-poll
 *   → the answer: ICE credentials, candidates, fingerprint, setup
 *   → checks to every remote candidate, as the controlling agent with
 *     USE-CANDIDATE (aggressive nomination), resent every 50 ms until
 *     one is answered, for 30 s at most; Binding requests from the server
 *     (a full agent checks too) are answered
 *   → DTLS in the role the answer implies (setup:passive → we are the
 *     client, setup:active → the server)
 *   → SRTP keys: every packet is authenticated by libsrtp's unprotect
 *     (or 1 in --auth-sample), counted (lean-rtp.c), RTCP: a receiver
 *     report every second, NACKs for gaps, a consent check every 5 s.
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
#include <stun/usages/ice.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define CHECK_INTERVAL_US (50 * 1000)
#define ICE_TIMEOUT_US (30 * G_USEC_PER_SEC)
#define CONSENT_INTERVAL_US (5 * G_USEC_PER_SEC)
#define RR_INTERVAL_US G_USEC_PER_SEC
#define NACK_RETRY_US (100 * 1000)
#define ANSWER_TIMEOUT_US (20 * G_USEC_PER_SEC)
/* Offers a viewer makes before it gives up (one, and one more after each
 * failure: no answer, ICE or DTLS failed, the server's media-failed). */
#define MAX_OFFERS 3

/* RFC 8445 5.1.2.1: a peer-reflexive candidate's priority, component 1. */
#define PRFLX_PRIORITY ((110u << 24) | (65535u << 8) | (256u - 1u))

static const uint16_t known_attributes[] = {
  STUN_ATTRIBUTE_USERNAME,
  STUN_ATTRIBUTE_MESSAGE_INTEGRITY,
  STUN_ATTRIBUTE_FINGERPRINT,
  STUN_ATTRIBUTE_PRIORITY,
  STUN_ATTRIBUTE_USE_CANDIDATE,
  STUN_ATTRIBUTE_ICE_CONTROLLED,
  STUN_ATTRIBUTE_ICE_CONTROLLING,
  STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS,
  STUN_ATTRIBUTE_MAPPED_ADDRESS,
  STUN_ATTRIBUTE_ERROR_CODE,
  0
};

static void
step (MmLeanViewer *v, MmLeanStep s)
{
  if (v->step_us[s] == 0)
    v->step_us[s] = g_get_monotonic_time ();
}

static void
random_ice_string (char *out, gsize n)
{
  static const char chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

  for (gsize i = 0; i + 1 < n; i++)
    out[i] = chars[g_random_int_range (0, 64)];
  out[n - 1] = '\0';
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

static void
send_to (MmLeanViewer *v, const guint8 *buf, gsize len, const struct sockaddr_storage *to,
         socklen_t to_len)
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
    send_to (v, buf, len, to, to_len);
}

static void media_reset (MmLeanViewer *v);

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
  mm_lean_stream_init (&v->video, TRUE);
  mm_lean_stream_init (&v->audio, FALSE);
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
  v->n_cands = 0;
  v->selected = -1;
  v->consent_out = FALSE;
  /* Its saved transactions point at the remote password just freed. */
  stun_agent_init (&v->stun, known_attributes, STUN_COMPATIBILITY_RFC5389,
                   STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);
}

void
mm_lean_viewer_free (MmLeanViewer *v)
{
  if (v == NULL)
    return;
  media_reset (v);
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
  g_autofree char *body = mm_bot_signal_join_body (v->name);

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
  random_ice_string (v->ufrag, sizeof v->ufrag);
  random_ice_string (v->pwd, sizeof v->pwd);
  v->tie = ((guint64) g_random_int () << 32) | g_random_int ();
  p.ice_ufrag = v->ufrag;
  p.ice_pwd = v->pwd;
  p.fingerprint = mm_dtls_identity_fingerprint (v->lean->identity);
  p.audio = TRUE;
  p.video = TRUE;
  p.twcc = TRUE;
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

static void add_candidate_text (MmLeanViewer *v, const char *text);

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
  if (video == NULL)
    {
      fail (v, "the answer refused video");
      return;
    }
  v->video_pt = video->pt;
  v->audio_pt = audio != NULL ? audio->pt : 255;
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
    add_candidate_text (v, s->candidates[i]);
  mm_lean_debug (v, "answer: setup %s, %u candidates, video pt %u",
                 mm_sdp_setup_to_string (s->setup), v->n_cands, v->video_pt);
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
        add_candidate_text (v, cand);
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

/* A check of ours to @c (USE-CANDIDATE with @nominate), or the consent
 * check when @c is NULL.  Returns its length (0: the agent refused). */
static gsize
make_check (MmLeanViewer *v, guint8 *buf, gsize size, gboolean nominate)
{
  g_autofree char *username = g_strdup_printf ("%s:%s", v->remote_ufrag, v->ufrag);
  StunMessage msg;

  return stun_usage_ice_conncheck_create (&v->stun, &msg, buf, size, (const uint8_t *) username,
                                          strlen (username), (const uint8_t *) v->remote_pwd,
                                          strlen (v->remote_pwd), nominate, TRUE, PRFLX_PRIORITY,
                                          v->tie, NULL, STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
}

/* Check @addr from now on (a candidate of the answer or a trickled one, or
 * the address a Binding request came from: peer-reflexive). */
static void
add_candidate (MmLeanViewer *v, const struct sockaddr_storage *addr, socklen_t len)
{
  MmLeanCandidate *c;

  if (v->remote_pwd == NULL || v->n_cands == MM_LEAN_MAX_CANDIDATES
      || addr->ss_family != v->local.ss_family)
    return;
  for (guint i = 0; i < v->n_cands; i++)
    if (v->cands[i].addr_len == len && memcmp (&v->cands[i].addr, addr, len) == 0)
      return;
  c = &v->cands[v->n_cands];
  memset (c, 0, sizeof *c);
  memcpy (&c->addr, addr, len);
  c->addr_len = len;
  c->request_len = make_check (v, c->request, sizeof c->request, TRUE);
  if (c->request_len == 0)
    return;
  v->n_cands++;
  /* Sent by the next tick, within 20 ms. */
  c->next_us = 0;
}

/* "candidate:F 1 udp PRIO ADDR PORT typ host ...": a UDP candidate of
 * component 1 of our address family; anything else is ignored. */
static void
add_candidate_text (MmLeanViewer *v, const char *text)
{
  g_auto (GStrv) f = NULL;
  struct sockaddr_storage ss = { 0 };
  socklen_t len;
  guint64 port;

  if (g_str_has_prefix (text, "a="))
    text += 2;
  if (!g_str_has_prefix (text, "candidate:") || strlen (text) > 1024)
    return;
  f = g_strsplit (text + strlen ("candidate:"), " ", 8);
  if (g_strv_length (f) < 6 || !g_str_equal (f[1], "1") || g_ascii_strcasecmp (f[2], "udp") != 0
      || !g_ascii_string_to_unsigned (f[5], 10, 1, 65535, &port, NULL))
    return;
  if (inet_pton (AF_INET, f[4], &((struct sockaddr_in *) &ss)->sin_addr) == 1)
    {
      ss.ss_family = AF_INET;
      ((struct sockaddr_in *) &ss)->sin_port = htons ((guint16) port);
      len = sizeof (struct sockaddr_in);
    }
  else if (inet_pton (AF_INET6, f[4], &((struct sockaddr_in6 *) &ss)->sin6_addr) == 1)
    {
      ss.ss_family = AF_INET6;
      ((struct sockaddr_in6 *) &ss)->sin6_port = htons ((guint16) port);
      len = sizeof (struct sockaddr_in6);
    }
  else
    return;   /* an mDNS name or garbage */
  add_candidate (v, &ss, len);
}

static void
ice_connected (MmLeanViewer *v, guint i)
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

/* The password of our ufrag, for the server's checks of us. */
static bool
local_password (StunAgent *agent, StunMessage *msg, uint8_t *username, uint16_t username_len,
                uint8_t **password, size_t *password_len, void *user_data)
{
  MmLeanViewer *v = user_data;
  gsize n = strlen (v->ufrag);

  if (username_len <= n || memcmp (username, v->ufrag, n) != 0 || username[n] != ':')
    return false;
  *password = (uint8_t *) v->pwd;
  *password_len = strlen (v->pwd);
  return true;
}

static void
stun_request (MmLeanViewer *v, const guint8 *buf, gsize len,
              const struct sockaddr_storage *from, socklen_t from_len)
{
  guint8 reply[512];
  size_t reply_len = sizeof reply;
  StunMessage req, msg;
  bool control = true;
  StunUsageIceReturn ret;

  StunValidationStatus st = stun_agent_validate (&v->stun, &req, buf, len, local_password, v);

  if (st != STUN_VALIDATION_SUCCESS || stun_message_get_method (&req) != STUN_BINDING)
    {
      mm_lean_debug (v, "a STUN request refused (%d)", st);
      return;
    }
  /* We are the controlling agent (mm_stun_handle answers as the
   * controlled one: it is the ICE-lite server's). */
  ret = stun_usage_ice_conncheck_create_reply (&v->stun, &req, &msg, reply, &reply_len, from,
                                               from_len, &control, v->tie,
                                               STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
  if (reply_len > 0 && (ret == STUN_USAGE_ICE_RETURN_SUCCESS
                        || ret == STUN_USAGE_ICE_RETURN_ROLE_CONFLICT))
    send_to (v, reply, reply_len, from, from_len);
  /* The server checks from an address of its own: check it too. */
  add_candidate (v, from, from_len);
}

static void
stun_response (MmLeanViewer *v, const guint8 *buf, gsize len)
{
  StunMessage msg;
  StunTransactionId id;
  struct sockaddr_storage mapped;
  socklen_t mapped_len = sizeof mapped;
  StunUsageIceReturn ret;

  /* Answers to resends of a check already answered are unmatched: the
   * agent forgets a transaction once it is answered. */
  if (stun_agent_validate (&v->stun, &msg, buf, len, NULL, NULL) != STUN_VALIDATION_SUCCESS)
    return;
  ret = stun_usage_ice_conncheck_process (&msg, &mapped, &mapped_len,
                                          STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
  stun_message_id (&msg, id);
  if (v->consent_out && memcmp (id, v->consent_id, sizeof id) == 0)
    {
      v->consent_out = FALSE;
      if (ret == STUN_USAGE_ICE_RETURN_SUCCESS)
        v->consent_ok_us = g_get_monotonic_time ();
      return;
    }
  for (guint i = 0; i < v->n_cands; i++)
    if (v->cands[i].request_len >= 20
        && memcmp (id, v->cands[i].request + STUN_MESSAGE_TRANS_ID_POS, sizeof id) == 0)
      {
        if (ret == STUN_USAGE_ICE_RETURN_ROLE_CONFLICT)
          mm_lean_debug (v, "role conflict answered by candidate %u: ignored", i);
        else if (ret == STUN_USAGE_ICE_RETURN_SUCCESS && v->state == MM_LEAN_CHECKING)
          ice_connected (v, i);
        v->cands[i].request_len = 0;   /* answered: no more resends */
        return;
      }
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
      gsize plain = len;
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
    }
  else
    v->unverified++;
  v->packets++;
  v->bytes += len;
  if (s->video)
    step (v, MM_LEAN_STEP_FIRST_PACKET);
  if (mm_lean_stream_packet (s, &h, now_us))
    {
      step (v, MM_LEAN_STEP_FIRST_FRAME);
      v->period_frames++;
    }
}

void
mm_lean_viewer_datagram (MmLeanViewer *v, guint8 *buf, gsize len,
                         const struct sockaddr_storage *from, socklen_t from_len, gint64 now_us)
{
  switch (mm_packet_classify (buf, len))
    {
    case MM_PACKET_STUN:
      /* Class bits of the message type (RFC 5389 6): C1 is bit 8, C0 bit 4. */
      if ((buf[0] & 0x01) == 0 && (buf[1] & 0x10) == 0)
        stun_request (v, buf, len, from, from_len);
      else if ((buf[0] & 0x01) != 0)
        stun_response (v, buf, len);
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

/* ---- timers ------------------------------------------------------------------ */

static guint32
dlsr (MmLeanViewer *v, int k, gint64 now_us)
{
  if (v->sr_at_us[k] == 0)
    return 0;
  return (guint32) MIN ((now_us - v->sr_at_us[k]) * 65536 / G_USEC_PER_SEC, G_MAXUINT32);
}

/* A receiver report on what arrived, with NACKs for @seqs when @n > 0. */
static void
send_rtcp (MmLeanViewer *v, const guint16 *seqs, guint n, gint64 now_us)
{
  const struct sockaddr_storage *to;
  socklen_t to_len;
  MmRtcpReportBlock blocks[2];
  guint n_blocks = 0;
  guint8 buf[1024 + MM_SRTP_MAX_TRAILER];
  gsize len, w;

  if (!selected (v, &to, &to_len) || v->srtp_out == NULL)
    return;
  if (v->video.started)
    mm_lean_stream_report_block (&v->video, v->sr_lsr[0], dlsr (v, 0, now_us),
                                 &blocks[n_blocks++]);
  if (v->audio.started)
    mm_lean_stream_report_block (&v->audio, v->sr_lsr[1], dlsr (v, 1, now_us),
                                 &blocks[n_blocks++]);
  len = mm_rtcp_write_rr (buf, 1024, v->ssrc, blocks, n_blocks);
  if (len == 0)
    return;
  if (n > 0)
    {
      w = mm_rtcp_write_nack (buf + len, 1024 - len, v->ssrc, v->video.ssrc, seqs, n);
      len += w;
    }
  if (mm_srtp_protect_rtcp (v->srtp_out, buf, &len, sizeof buf) != MM_SRTP_OK)
    return;
  send_to (v, buf, len, to, to_len);
}

static void
send_consent (MmLeanViewer *v, gint64 now_us)
{
  const struct sockaddr_storage *to;
  socklen_t to_len;

  if (!selected (v, &to, &to_len))
    return;
  if (v->consent_out)
    {
      v->consent_lost++;
      stun_agent_forget_transaction (&v->stun, v->consent_id);
    }
  v->consent_len = make_check (v, v->consent_request, sizeof v->consent_request, FALSE);
  if (v->consent_len == 0)
    return;
  memcpy (v->consent_id, v->consent_request + STUN_MESSAGE_TRANS_ID_POS, sizeof v->consent_id);
  v->consent_out = TRUE;
  send_to (v, v->consent_request, v->consent_len, to, to_len);
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
      for (guint i = 0; i < v->n_cands; i++)
        {
          MmLeanCandidate *c = &v->cands[i];

          if (c->request_len > 0 && c->next_us <= now_us)
            {
              send_to (v, c->request, c->request_len, &c->addr, c->addr_len);
              c->next_us = now_us + CHECK_INTERVAL_US;
            }
        }
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
      send_consent (v, now_us);
      v->next_consent_us = now_us + CONSENT_INTERVAL_US;
    }
  if (v->state == MM_LEAN_CONNECTED)
    {
      guint16 seqs[64];
      guint n = mm_lean_stream_due_nacks (&v->video, now_us, NACK_RETRY_US, seqs,
                                          G_N_ELEMENTS (seqs));

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
