/* endpoint.c — one remote of the transport: its ICE-lite state, DTLS,
 * inbound SRTP, the RTCP it sends us and the feedback we send it.
 *
 * Everything here but the public functions at the end runs on the
 * transport thread (transport.c says who may touch what).
 */
/* struct mmsghdr, in transport-private.h */
#define _GNU_SOURCE
#include "config.h"

#include "transport/bytes.h"
#include "transport/transport-private.h"
#include "core/secret.h"

#include <arpa/inet.h>
#include <gio/gio.h>
#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-transport"

#define UFRAG_LEN 8
#define PWD_LEN 24
/* A source that sent nothing for this long is left out of our reports. */
#define RECV_SOURCE_IDLE_US (5 * G_USEC_PER_SEC)
#define MAX_NACK_SEQS 256
/* Transport-wide feedback on what a remote sends us, this often at most
 * (libwebrtc's receivers send theirs every 50-250 ms, 100 by default). */
#define TWCC_FEEDBACK_US (100 * 1000)

/* ---- credentials ---------------------------------------------------------- */

/* @n characters of the ICE alphabet (RFC 8839: ALPHA / DIGIT / "+" / "/"),
 * 6 random bits each. */
static char *
ice_chars (guint n, GError **error)
{
  static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  guint8 raw[64];
  char *s;

  g_assert (n < sizeof raw);
  if (!mm_secret_random (raw, n, error))
    return NULL;
  s = g_new (char, n + 1);
  for (guint i = 0; i < n; i++)
    s[i] = alphabet[raw[i] & 63];
  s[n] = '\0';
  return s;
}

/* New local credentials with a ufrag no other endpoint has (t->lock). */
static gboolean
new_credentials (MmTransport *t, char **ufrag, char **pwd, GError **error)
{
  do
    {
      g_free (*ufrag);
      *ufrag = ice_chars (UFRAG_LEN, error);
      if (*ufrag == NULL)
        return FALSE;
    }
  while (g_hash_table_contains (t->by_ufrag, *ufrag));
  *pwd = ice_chars (PWD_LEN, error);
  return *pwd != NULL;
}

/* ---- state ---------------------------------------------------------------- */

gboolean
mm_endpoint_is_live (MmEndpoint *ep)
{
  return !g_atomic_int_get (&ep->closed) && g_atomic_int_get (&ep->state) != MM_ENDPOINT_CLOSED;
}

gboolean
mm_endpoint_get_dest (MmEndpoint *ep, MmAddr *out)
{
  gboolean has;

  g_mutex_lock (&ep->lock);
  has = ep->has_selected;
  if (has)
    *out = ep->selected;
  g_mutex_unlock (&ep->lock);
  return has;
}

/* Closed by the transport: consent expired, DTLS failed or closed. */
static void
endpoint_fail (MmEndpoint *ep, const char *reason)
{
  if (g_atomic_int_get (&ep->state) == MM_ENDPOINT_CLOSED)
    return;
  g_atomic_int_set (&ep->state, MM_ENDPOINT_CLOSED);
  g_info ("endpoint %p closed: %s", (void *) ep, reason);
  mm_transport_unregister (ep->t, ep);
  if (!g_atomic_int_get (&ep->closed) && ep->cb.state != NULL)
    ep->cb.state (ep, MM_ENDPOINT_CLOSED, reason, ep->cb.data);
}

static void
endpoint_connected (MmEndpoint *ep)
{
  g_autoptr (GError) error = NULL;
  MmSrtpKeys keys;

  if (g_atomic_int_get (&ep->state) != MM_ENDPOINT_CHECKING)
    return;
  if (!mm_dtls_srtp_keys (ep->dtls, &keys))
    {
      endpoint_fail (ep, "DTLS handshake failed: no SRTP keys");
      return;
    }
  ep->srtp_in = mm_srtp_new (&keys, FALSE, &error);
  if (ep->srtp_in != NULL)
    ep->rtcp_out = mm_srtp_new (&keys, TRUE, &error);
  if (ep->rtcp_out == NULL)
    {
      g_autofree char *reason = g_strdup_printf ("SRTP: %s", error->message);

      endpoint_fail (ep, reason);
      return;
    }
  ep->keys = keys;
  __atomic_store_n (&ep->stats.connected_us, g_get_monotonic_time (), __ATOMIC_RELAXED);
  /* The keys are written before the state says so (a full barrier). */
  g_atomic_int_set (&ep->state, MM_ENDPOINT_CONNECTED);
  if (!g_atomic_int_get (&ep->closed) && ep->cb.state != NULL)
    ep->cb.state (ep, MM_ENDPOINT_CONNECTED, NULL, ep->cb.data);
}

static void
handshaking_add (MmEndpoint *ep)
{
  if (ep->in_handshaking)
    return;
  ep->in_handshaking = TRUE;
  g_ptr_array_add (ep->t->handshaking, mm_endpoint_ref (ep));
  mm_transport_dtls_timer_start (ep->t);
}

static void
dtls_progress (MmEndpoint *ep, MmDtlsState st)
{
  g_autofree char *reason = NULL;

  switch (st)
    {
    case MM_DTLS_HANDSHAKING:
      if (mm_dtls_timeout_us (ep->dtls) >= 0)
        handshaking_add (ep);
      break;
    case MM_DTLS_CONNECTED:
      endpoint_connected (ep);
      break;
    case MM_DTLS_FAILED:
      reason = g_strdup_printf ("DTLS handshake failed: %s",
                                mm_dtls_error (ep->dtls) != NULL ? mm_dtls_error (ep->dtls)
                                                                 : "unknown error");
      endpoint_fail (ep, reason);
      break;
    case MM_DTLS_CLOSED:
      endpoint_fail (ep, "the remote closed DTLS");
      break;
    }
}

gboolean
mm_endpoint_dtls_timer (MmEndpoint *ep, gint64 now)
{
  gint64 due;

  if (!mm_endpoint_is_live (ep) || ep->dtls == NULL
      || mm_dtls_state (ep->dtls) != MM_DTLS_HANDSHAKING)
    return FALSE;
  due = mm_dtls_timeout_us (ep->dtls);
  if (due >= 0 && due <= now)
    {
      MmDtlsState st = mm_dtls_handle_timeout (ep->dtls);

      if (st != MM_DTLS_HANDSHAKING)
        {
          dtls_progress (ep, st);
          return FALSE;
        }
    }
  return TRUE;
}

static void
dtls_send (const guint8 *buf, gsize len, gpointer data)
{
  MmEndpoint *ep = data;
  MmAddr to;

  if (mm_endpoint_get_dest (ep, &to))
    mm_transport_send (ep->t, buf, len, &to);
}

/* ---- ICE ------------------------------------------------------------------ */

static void
forget_addr (MmEndpoint *ep, guint i)
{
  MmTransport *t = ep->t;

  if (g_hash_table_lookup (t->by_addr, &ep->addrs[i]->key) == ep)
    g_hash_table_remove (t->by_addr, &ep->addrs[i]->key);
  g_free (ep->addrs[i]);
  memmove (ep->addrs + i, ep->addrs + i + 1, (ep->n_addrs - i - 1) * sizeof ep->addrs[0]);
  ep->n_addrs--;
}

static void
forget_addr_key (MmEndpoint *ep, const MmAddrKey *key)
{
  for (guint i = 0; i < ep->n_addrs; i++)
    if (mm_addr_key_equal (&ep->addrs[i]->key, key))
      {
        forget_addr (ep, i);
        return;
      }
}

void
mm_endpoint_on_check (MmEndpoint *ep, const MmAddr *from, gboolean use_candidate)
{
  MmTransport *t = ep->t;
  MmEndpoint *owner;
  MmAddr a = *from;

  owner = g_hash_table_lookup (t->by_addr, &a.key);
  if (owner != ep)
    {
      MmAddr *mine;

      /* A pair that another endpoint had: the newer check wins. */
      if (owner != NULL)
        forget_addr_key (owner, &a.key);
      if (ep->n_addrs == MM_MAX_ADDRS)
        {
          guint victim = 0;

          g_mutex_lock (&ep->lock);
          if (ep->has_selected && mm_addr_key_equal (&ep->addrs[0]->key, &ep->selected.key))
            victim = 1;
          g_mutex_unlock (&ep->lock);
          forget_addr (ep, victim);
        }
      mine = g_memdup2 (&a, sizeof a);
      ep->addrs[ep->n_addrs++] = mine;
      g_hash_table_insert (t->by_addr, &mine->key, ep);
    }
  ep->last_check_us = g_get_monotonic_time ();

  g_mutex_lock (&ep->lock);
  if ((use_candidate || !ep->has_selected)
      && !(ep->has_selected && mm_addr_key_equal (&ep->selected.key, &a.key)))
    {
      char s[64], l[INET6_ADDRSTRLEN];

      ep->selected = a;
      ep->has_selected = TRUE;
      g_debug ("endpoint %p: media to %s from %s", (void *) ep,
               mm_addr_to_string ((struct sockaddr *) &a.sa, s, sizeof s),
               mm_addr_local_to_string (&a, l, sizeof l));
    }
  g_mutex_unlock (&ep->lock);

  if (!ep->checked)
    {
      ep->checked = TRUE;
      if (ep->role == MM_DTLS_CLIENT && ep->dtls != NULL)
        dtls_progress (ep, mm_dtls_start (ep->dtls));
    }
}

/* ---- DTLS ----------------------------------------------------------------- */

/* Whether @buf is a chain of DTLS records whose lengths add up. */
static gboolean
dtls_records_ok (const guint8 *buf, gsize len)
{
  gsize off = 0;

  while (off < len)
    {
      gsize rec;

      if (len - off < 13 || buf[off] < 20 || buf[off] > 25 || buf[off + 1] != 0xfe)
        return FALSE;
      rec = 13 + mm_rd16 (buf + off + 11);
      if (rec > len - off)
        return FALSE;
      off += rec;
    }
  return TRUE;
}

void
mm_endpoint_handle_dtls (MmEndpoint *ep, const guint8 *buf, gsize len,
                         const struct sockaddr *from)
{
  MmDtlsState st;

  if (ep->dtls == NULL)
    return;
  if (!dtls_records_ok (buf, len))
    {
      mm_transport_drop (ep->t, MM_DROP_DTLS_BAD, from, "DTLS records with bad lengths");
      return;
    }
  st = mm_dtls_state (ep->dtls);
  if (st == MM_DTLS_FAILED || st == MM_DTLS_CLOSED)
    {
      mm_transport_drop (ep->t, MM_DROP_DTLS_BAD, from, "DTLS after the session ended");
      return;
    }
  dtls_progress (ep, mm_dtls_handle (ep->dtls, buf, len));
}

/* ---- what the remote sends ---------------------------------------------- */

static void
count_srtp_error (MmEndpoint *ep, MmSrtpResult r, const struct sockaddr *from, gboolean rtcp)
{
  switch (r)
    {
    case MM_SRTP_OK:
      break;
    case MM_SRTP_ERROR_REPLAY:
      mm_transport_drop (ep->t, MM_DROP_SRTP_REPLAY, from,
                         rtcp ? "a replayed SRTCP packet" : "a replayed SRTP packet");
      break;
    case MM_SRTP_ERROR_MALFORMED:
      mm_transport_drop (ep->t, MM_DROP_UNKNOWN, from,
                         rtcp ? "a malformed SRTCP packet" : "a malformed SRTP packet");
      break;
    case MM_SRTP_ERROR_AUTH:
    case MM_SRTP_ERROR_OTHER:
      mm_transport_drop (ep->t, MM_DROP_SRTP_AUTH, from,
                         rtcp ? "SRTCP that does not authenticate"
                              : "SRTP that does not authenticate");
      break;
    }
}

static MmRecvSource *
recv_source (MmEndpoint *ep, guint32 ssrc, gint64 now)
{
  MmRecvSource *oldest = &ep->recv[0];

  for (guint i = 0; i < MM_MAX_RECV_SOURCES; i++)
    {
      MmRecvSource *s = &ep->recv[i];

      if (s->used && s->ssrc == ssrc)
        return s;
      if (!s->used || (oldest->used && s->last_us < oldest->last_us))
        oldest = s;
    }
  memset (oldest, 0, sizeof *oldest);
  oldest->used = TRUE;
  oldest->ssrc = ssrc;
  oldest->last_us = now;
  return oldest;
}

static void
recv_reset (MmRecvSource *s, guint16 seq)
{
  s->active = TRUE;
  s->base_seq = s->max_seq = seq;
  s->cycles = 0;
  s->received = s->received_prior = s->expected_prior = 0;
  s->jitter = 0;
  s->have_transit = FALSE;
}

/* RFC 3550 A.1 (without probation) and A.8. */
static void
recv_update (MmEndpoint *ep, const guint8 *buf, gsize len, gint64 now)
{
  MmRecvSource *s;
  guint16 seq;
  guint32 ts;

  if (len < 12)
    return;
  seq = mm_rd16 (buf + 2);
  ts = mm_rd32 (buf + 4);
  s = recv_source (ep, mm_rd32 (buf + 8), now);
  if (!s->active)
    recv_reset (s, seq);
  else
    {
      guint16 delta = seq - s->max_seq;

      if (delta > 0 && delta < 3000)
        {
          if (seq < s->max_seq)
            s->cycles += 65536;
          s->max_seq = seq;
        }
      else if (delta >= 3000 && delta < 65536 - 100)
        recv_reset (s, seq);   /* a jump: the sender restarted */
      /* else a duplicate or a late one */
    }
  s->received++;
  s->last_us = now;
  if (s->clock_rate > 0)
    {
      guint32 arrival = (guint32) ((guint64) now * s->clock_rate / G_USEC_PER_SEC);
      gint64 transit = (gint32) (arrival - ts);

      if (s->have_transit)
        {
          gint64 d = transit - s->transit;

          if (d < 0)
            d = -d;
          if (d < G_MAXINT32)
            s->jitter += (guint32) d - ((s->jitter + 8) >> 4);
        }
      s->transit = transit;
      s->have_transit = TRUE;
    }
}

static void send_rtcp (MmEndpoint *ep, guint8 *buf, gsize len, gsize size);

/* Our transport-wide feedback on what @ep sent us, if any is pending. */
static void
send_twcc_feedback (MmEndpoint *ep, gint64 now)
{
  guint8 *buf = ep->t->tx_buf;
  gsize len;

  if (ep->twcc_in == NULL || !mm_twcc_recorder_pending (ep->twcc_in))
    return;
  len = mm_twcc_recorder_write (ep->twcc_in, buf, sizeof ep->t->tx_buf - MM_SRTP_MAX_TRAILER,
                                ep->rtcp_ssrc, ep->twcc_in_ssrc);
  ep->twcc_in_sent_us = now;
  send_rtcp (ep, buf, len, sizeof ep->t->tx_buf);
}

/* Note the transport-wide sequence number of @buf, if it has one, and
 * send the feedback when it is due.  The extension's id is the one of
 * our answer, which echoes the offer's (one id for the bundle). */
static void
twcc_update (MmEndpoint *ep, const guint8 *buf, gsize len, gint64 now)
{
  MmRtpHeader h;
  const guint8 *ext;
  gsize ext_len = 0;

  if (ep->twcc_ext_id == 0 || !mm_rtp_parse (buf, len, &h)
      || (ext = mm_rtp_find_extension (&h, ep->twcc_ext_id, &ext_len)) == NULL || ext_len < 2)
    return;
  if (ep->twcc_in == NULL)
    {
      ep->twcc_in = g_new (MmTwccRecorder, 1);
      mm_twcc_recorder_init (ep->twcc_in);
      ep->twcc_in_sent_us = now;
    }
  mm_twcc_recorder_note (ep->twcc_in, mm_rd16 (ext), now);
  ep->twcc_in_ssrc = h.ssrc;
  if (now - ep->twcc_in_sent_us >= TWCC_FEEDBACK_US)
    send_twcc_feedback (ep, now);
}

void
mm_endpoint_handle_rtp (MmEndpoint *ep, guint8 *buf, gsize len, const struct sockaddr *from,
                        gint64 arrival_us)
{
  MmSrtpResult r;
  gsize n = len;

  if (g_atomic_int_get (&ep->state) != MM_ENDPOINT_CONNECTED || ep->srtp_in == NULL)
    return;   /* media before DTLS completed: nothing to unprotect it with */
  r = mm_srtp_unprotect_rtp (ep->srtp_in, buf, &n);
  if (r != MM_SRTP_OK)
    {
      count_srtp_error (ep, r, from, FALSE);
      return;
    }
  mm_counter_add (&ep->stats.packets_in, 1);
  mm_counter_add (&ep->stats.bytes_in, n);
  mm_counter_add (&ep->t->stats.rtp_in, 1);
  mm_counter_add (&ep->t->stats.rtp_bytes_in, n);
  recv_update (ep, buf, n, arrival_us);
  twcc_update (ep, buf, n, arrival_us);
  if (!g_atomic_int_get (&ep->closed) && ep->cb.rtp != NULL)
    ep->cb.rtp (ep, buf, n, ep->cb.data);
}

/* The stream that sends @ssrc to @ep.  Returns: (transfer full) or NULL */
static MmStream *
stream_of_ssrc (MmEndpoint *ep, guint32 ssrc)
{
  MmStream *s = NULL;

  g_mutex_lock (&ep->lock);
  for (guint i = 0; i < ep->subs->len; i++)
    {
      MmEndpointSub *sub = &g_array_index (ep->subs, MmEndpointSub, i);

      if (sub->ssrc == ssrc)
        {
          s = mm_stream_ref_internal (sub->stream);
          break;
        }
    }
  g_mutex_unlock (&ep->lock);
  return s;
}

static guint32
ntp_middle_now (void)
{
  return (guint32) (mm_rtcp_ntp_from_real_us (g_get_real_time ()) >> 16);
}

static guint
snap_clock_rate (double rate)
{
  static const guint rates[] = { 8000, 16000, 24000, 32000, 44100, 48000, 90000 };

  for (guint i = 0; i < G_N_ELEMENTS (rates); i++)
    if (rate > rates[i] * 0.95 && rate < rates[i] * 1.05)
      return rates[i];
  return 0;
}

static void
on_sender_report (MmEndpoint *ep, const MmRtcpItem *it)
{
  gint64 now = g_get_monotonic_time ();
  MmRecvSource *s = recv_source (ep, it->sender_ssrc, now);
  guint64 ntp = it->u.report.ntp;

  if (s->lsr_us != 0 && ntp > s->sr_ntp)
    {
      double secs = (double) (ntp - s->sr_ntp) / 4294967296.0;

      if (secs > 0.5)
        {
          guint rate = snap_clock_rate ((double) (guint32) (it->u.report.rtp_ts - s->sr_rtp) / secs);

          if (rate != 0 && rate != s->clock_rate)
            {
              s->clock_rate = rate;
              s->have_transit = FALSE;
            }
        }
    }
  s->sr_ntp = ntp;
  s->sr_rtp = it->u.report.rtp_ts;
  s->lsr = (guint32) (ntp >> 16);
  s->lsr_us = now;
}

static gboolean
sends_ssrc (MmEndpoint *ep, guint32 ssrc)
{
  gboolean found = FALSE;

  g_mutex_lock (&ep->lock);
  for (guint i = 0; i < ep->subs->len && !found; i++)
    found = g_array_index (ep->subs, MmEndpointSub, i).ssrc == ssrc;
  g_mutex_unlock (&ep->lock);
  return found;
}

#define RTT_WINDOW_US (15 * G_USEC_PER_SEC)

/* A round trip from a receiver report: the latest, and the lowest of the
 * last 15 to 30 s, from which its growth tells a queue building up on a
 * link that gives no transport-wide feedback. */
static void
note_rtt (MmEndpoint *ep, guint32 ms)
{
  gint64 now = g_get_monotonic_time ();

  ms = MAX (ms, 1u);   /* 0 means unknown */
  if (ep->rtt_min_cur == 0 || now - ep->rtt_window_us >= RTT_WINDOW_US)
    {
      ep->rtt_min_prev = ep->rtt_min_cur;
      ep->rtt_min_cur = ms;
      ep->rtt_window_us = now;
    }
  else
    ep->rtt_min_cur = MIN (ep->rtt_min_cur, ms);
  __atomic_store_n (&ep->stats.rtt_ms, ms, __ATOMIC_RELAXED);
  __atomic_store_n (&ep->stats.rtt_base_ms,
                    ep->rtt_min_prev != 0 ? MIN (ep->rtt_min_cur, ep->rtt_min_prev)
                                          : ep->rtt_min_cur, __ATOMIC_RELAXED);
}

static void
on_report_blocks (MmEndpoint *ep, const MmRtcpItem *it)
{
  guint n = MIN (it->u.report.n_blocks, MM_RTCP_MAX_REPORT_BLOCKS);

  for (guint i = 0; i < n; i++)
    {
      const MmRtcpReportBlock *b = &it->u.report.blocks[i];

      if (!sends_ssrc (ep, b->ssrc))
        continue;
      __atomic_store_n (&ep->stats.fraction_lost, b->fraction_lost, __ATOMIC_RELAXED);
      if (b->lsr != 0)
        {
          guint32 rtt = ntp_middle_now () - b->lsr - b->dlsr;   /* 1/65536 s */

          if (rtt < 0x80000000u)
            note_rtt (ep, (guint32) ((guint64) rtt * 1000 / 65536));
        }
    }
}

static void
on_keyframe_request (MmEndpoint *ep, guint32 ssrc)
{
  MmStream *s = stream_of_ssrc (ep, ssrc);

  mm_counter_add (&ep->stats.keyframe_requests_in, 1);
  if (s == NULL)
    return;
  mm_stream_keyframe_requested (s);
  mm_stream_unref_internal (s);
}

static void
on_nack (MmEndpoint *ep, const MmRtcpItem *it)
{
  guint16 seqs[17];
  guint n = 0;
  MmStream *s;

  seqs[n++] = it->u.nack.pid;
  for (guint b = 0; b < 16; b++)
    if (it->u.nack.blp & (1u << b))
      seqs[n++] = it->u.nack.pid + b + 1;
  mm_counter_add (&ep->stats.nacks_in, n);
  s = stream_of_ssrc (ep, it->media_ssrc);
  if (s == NULL)
    return;
  mm_stream_resend (s, ep, seqs, n);
  mm_stream_unref_internal (s);
}

static void
on_twcc (MmEndpoint *ep, const MmRtcpItem *it)
{
  MmTwccSummary *w = &ep->twcc_last;

  mm_counter_add (&ep->stats.twcc_feedbacks, 1);
  w->base_seq = it->u.twcc.base_seq;
  w->count = it->u.twcc.count;
  w->reference_time = it->u.twcc.reference_time;
  w->n_received = 0;
  for (guint i = 0; i < it->u.twcc.count && it->u.twcc.received != NULL; i++)
    w->n_received += it->u.twcc.received[i] != 0;
  w->at_us = g_get_monotonic_time ();
  if (it->u.twcc.received != NULL)
    mm_bwe_on_feedback (ep->bwe, it->u.twcc.base_seq, it->u.twcc.count,
                        it->u.twcc.reference_time, it->u.twcc.received, it->u.twcc.delta_us,
                        w->at_us);
}

static void
visit_rtcp (const MmRtcpItem *it, gpointer data)
{
  MmEndpoint *ep = data;

  if (!mm_endpoint_is_live (ep))
    return;
  switch (it->kind)
    {
    case MM_RTCP_SR:
      on_sender_report (ep, it);
      on_report_blocks (ep, it);
      break;
    case MM_RTCP_RR:
      on_report_blocks (ep, it);
      break;
    case MM_RTCP_PLI:
    case MM_RTCP_FIR:
      mm_counter_add (it->kind == MM_RTCP_PLI ? &ep->t->stats.pli_in : &ep->t->stats.fir_in, 1);
      on_keyframe_request (ep, it->media_ssrc);
      break;
    case MM_RTCP_NACK:
      on_nack (ep, it);
      break;
    case MM_RTCP_REMB:
      __atomic_store_n (&ep->stats.remb_bps, it->u.remb.bitrate, __ATOMIC_RELAXED);
      break;
    case MM_RTCP_TWCC:
      on_twcc (ep, it);
      break;
    }
}

void
mm_endpoint_handle_rtcp (MmEndpoint *ep, guint8 *buf, gsize len, const struct sockaddr *from)
{
  MmSrtpResult r;
  gsize n = len;

  if (g_atomic_int_get (&ep->state) != MM_ENDPOINT_CONNECTED || ep->srtp_in == NULL)
    return;
  r = mm_srtp_unprotect_rtcp (ep->srtp_in, buf, &n);
  if (r != MM_SRTP_OK)
    {
      count_srtp_error (ep, r, from, TRUE);
      return;
    }
  /* Authenticated RTCP is as good a sign as a check that the remote is
   * there: webrtcbin's libnice keeps a pair alive with STUN indications
   * every 25 s only, but every receiver reports every few seconds. */
  ep->last_check_us = g_get_monotonic_time ();
  if (!mm_rtcp_parse (ep->t->rtcp, buf, n, visit_rtcp, ep))
    mm_transport_drop (ep->t, MM_DROP_RTCP_MALFORMED, from, "RTCP with bad lengths");
}

/* ---- what we send the remote -------------------------------------------- */

/* A receiver report on what @ep sends us, into @out: the blocks of its
 * sources heard from lately. */
static gsize
write_rr (MmEndpoint *ep, guint8 *out, gsize size, gint64 now, guint32 *ssrcs, guint *n_ssrcs)
{
  MmRtcpReportBlock blocks[MM_MAX_RECV_SOURCES];
  guint n = 0, worst = 0;

  for (guint i = 0; i < MM_MAX_RECV_SOURCES; i++)
    {
      MmRecvSource *s = &ep->recv[i];
      MmRtcpReportBlock *b = &blocks[n];
      guint32 ext_max, expected, exp_int, rec_int;
      gint64 lost, lost_int;

      if (!s->active || now - s->last_us > RECV_SOURCE_IDLE_US)
        continue;
      ext_max = s->cycles + s->max_seq;
      expected = ext_max - s->base_seq + 1;
      lost = (gint64) expected - s->received;
      exp_int = expected - s->expected_prior;
      rec_int = s->received - s->received_prior;
      s->expected_prior = expected;
      s->received_prior = s->received;
      lost_int = (gint64) exp_int - rec_int;
      if (lost_int > 0)
        mm_counter_add (&ep->t->stats.rtp_lost, (guint64) lost_int);
      memset (b, 0, sizeof *b);
      b->ssrc = s->ssrc;
      b->fraction_lost = exp_int == 0 || lost_int <= 0 ? 0 : (guint8) MIN (255, (lost_int << 8) / exp_int);
      worst = MAX (worst, b->fraction_lost);
      b->cumulative_lost = (gint32) CLAMP (lost, -0x800000, 0x7fffff);
      b->highest_seq = ext_max;
      b->jitter = s->jitter >> 4;
      if (s->lsr_us != 0)
        {
          b->lsr = s->lsr;
          b->dlsr = (guint32) ((now - s->lsr_us) * 65536 / G_USEC_PER_SEC);
        }
      if (ssrcs != NULL)
        ssrcs[n] = s->ssrc;
      n++;
    }
  if (n_ssrcs != NULL)
    *n_ssrcs = n;
  __atomic_store_n (&ep->stats.uplink_loss_permille, worst * 1000 / 256, __ATOMIC_RELAXED);
  return mm_rtcp_write_rr (out, size, ep->rtcp_ssrc, blocks, n);
}

/* Protect the RTCP in @buf (of @size bytes) and send it. */
static void
send_rtcp (MmEndpoint *ep, guint8 *buf, gsize len, gsize size)
{
  MmSrtpResult r;
  MmAddr to;

  if (len == 0 || ep->rtcp_out == NULL || !mm_endpoint_get_dest (ep, &to))
    return;
  r = mm_srtp_protect_rtcp (ep->rtcp_out, buf, &len, size);
  if (r != MM_SRTP_OK)
    {
      g_debug ("endpoint %p: SRTCP protect: %s", (void *) ep, mm_srtp_result_name (r));
      return;
    }
  mm_transport_send (ep->t, buf, len, &to);
}

static void
send_reports (MmEndpoint *ep, gint64 now, gboolean remb_only)
{
  guint8 *buf = ep->t->tx_buf;
  gsize size = sizeof ep->t->tx_buf - MM_SRTP_MAX_TRAILER;
  guint32 ssrcs[MM_MAX_RECV_SOURCES];
  guint n_ssrcs = 0;
  guint64 bps;
  gsize len;

  len = write_rr (ep, buf, size, now, ssrcs, &n_ssrcs);
  g_mutex_lock (&ep->lock);
  bps = ep->max_bitrate;
  g_mutex_unlock (&ep->lock);
  if (bps > 0)
    len += mm_rtcp_write_remb (buf + len, size - len, ep->rtcp_ssrc, bps, ssrcs, n_ssrcs);
  else if (n_ssrcs == 0 || remb_only)
    return;
  send_rtcp (ep, buf, len, sizeof ep->t->tx_buf);
}

void
mm_endpoint_tick (MmEndpoint *ep, gint64 now)
{
  MmTransport *t = ep->t;

  if (!mm_endpoint_is_live (ep))
    return;
  if (now - ep->last_check_us > (gint64) t->consent_timeout_s * G_USEC_PER_SEC)
    {
      g_autofree char *reason =
        g_strdup_printf ("consent expired: no STUN check or RTCP for %u s",
                         t->consent_timeout_s);

      endpoint_fail (ep, reason);
      return;
    }
  if (g_atomic_int_get (&ep->state) == MM_ENDPOINT_CONNECTED)
    {
      send_reports (ep, now, FALSE);
      send_twcc_feedback (ep, now);   /* the last packets before a pause */
    }
}

typedef enum {
  FEEDBACK_PLI,
  FEEDBACK_NACK,
  FEEDBACK_REMB,
} FeedbackKind;

typedef struct {
  MmEndpoint *ep;
  FeedbackKind kind;
  guint32 ssrc;
  guint n;
  guint16 seqs[];
} Feedback;

static void
feedback_free (gpointer data)
{
  Feedback *f = data;

  mm_endpoint_unref (f->ep);
  g_free (f);
}

static gboolean
feedback_run (gpointer data)
{
  Feedback *f = data;
  MmEndpoint *ep = f->ep;
  guint8 *buf = ep->t->tx_buf;
  gsize size = sizeof ep->t->tx_buf - MM_SRTP_MAX_TRAILER;
  gsize len, more = 0;

  if (!mm_endpoint_is_live (ep) || g_atomic_int_get (&ep->state) != MM_ENDPOINT_CONNECTED)
    return G_SOURCE_REMOVE;
  if (f->kind == FEEDBACK_REMB)
    {
      send_reports (ep, g_get_monotonic_time (), TRUE);
      return G_SOURCE_REMOVE;
    }
  /* A compound packet starts with a report (RFC 3550 6.1). */
  len = mm_rtcp_write_rr (buf, size, ep->rtcp_ssrc, NULL, 0);
  if (f->kind == FEEDBACK_PLI)
    more = mm_rtcp_write_pli (buf + len, size - len, ep->rtcp_ssrc, f->ssrc);
  else
    more = mm_rtcp_write_nack (buf + len, size - len, ep->rtcp_ssrc, f->ssrc, f->seqs, f->n);
  if (len > 0 && more > 0)
    send_rtcp (ep, buf, len + more, sizeof ep->t->tx_buf);
  return G_SOURCE_REMOVE;
}

static void
feedback (MmEndpoint *ep, FeedbackKind kind, guint32 ssrc, const guint16 *seqs, guint n)
{
  Feedback *f;

  if (!mm_endpoint_is_live (ep))
    return;
  n = MIN (n, MAX_NACK_SEQS);
  f = g_malloc0 (sizeof *f + n * sizeof f->seqs[0]);
  f->ep = mm_endpoint_ref (ep);
  f->kind = kind;
  f->ssrc = ssrc;
  f->n = n;
  if (n > 0)
    memcpy (f->seqs, seqs, n * sizeof seqs[0]);
  g_main_context_invoke_full (ep->t->ctx, G_PRIORITY_DEFAULT, feedback_run, f, feedback_free);
}

/* ---- the public side -------------------------------------------------------- */

MmEndpoint *
mm_endpoint_new (MmTransport *t, const MmEndpointConfig *config, const MmEndpointCallbacks *cb,
                 GError **error)
{
  MmEndpoint *ep;
  guint8 raw[4];

  if (config->remote_fingerprint == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "the remote has no DTLS fingerprint");
      return NULL;
    }
  ep = g_new0 (MmEndpoint, 1);
  ep->ref = 1;
  ep->t = t;
  ep->cb = *cb;
  ep->role = config->role;
  ep->twcc_ext_id = config->twcc_ext_id;
  ep->twcc_seq = 1;
  if (config->twcc_ext_id != 0)
    ep->bwe = mm_bwe_new ();
  ep->state = MM_ENDPOINT_CHECKING;
  ep->remote_ufrag = g_strdup (config->remote_ufrag);
  ep->remote_pwd = g_strdup (config->remote_pwd);
  ep->old_creds = g_ptr_array_new_with_free_func (g_free);
  g_mutex_init (&ep->lock);
  ep->subs = g_array_new (FALSE, FALSE, sizeof (MmEndpointSub));
  ep->last_check_us = g_get_monotonic_time ();
  ep->dtls = mm_dtls_new (t->identity, config->role, config->remote_fingerprint, dtls_send, ep,
                          error);
  if (ep->dtls == NULL || !mm_secret_random (raw, sizeof raw, error))
    {
      mm_endpoint_unref (ep);
      return NULL;
    }
  ep->rtcp_ssrc = mm_rd32 (raw) != 0 ? mm_rd32 (raw) : 1;

  g_mutex_lock (&t->lock);
  if (!new_credentials (t, &ep->ufrag, &ep->pwd, error))
    {
      g_mutex_unlock (&t->lock);
      mm_endpoint_unref (ep);
      return NULL;
    }
  g_hash_table_insert (t->by_ufrag, g_strdup (ep->ufrag), ep);
  g_ptr_array_add (t->live, mm_endpoint_ref (ep));
  ep->registered = TRUE;
  g_mutex_unlock (&t->lock);
  return ep;
}

MmEndpoint *
mm_endpoint_ref (MmEndpoint *ep)
{
  g_atomic_int_inc (&ep->ref);
  return ep;
}

void
mm_endpoint_unref (MmEndpoint *ep)
{
  if (ep == NULL || !g_atomic_int_dec_and_test (&ep->ref))
    return;
  g_assert (ep->subs->len == 0);
  mm_dtls_free (ep->dtls);
  mm_bwe_free (ep->bwe);
  g_free (ep->twcc_in);
  mm_srtp_free (ep->srtp_in);
  mm_srtp_free (ep->rtcp_out);
  for (guint i = 0; i < ep->n_addrs; i++)
    g_free (ep->addrs[i]);
  g_array_unref (ep->subs);
  g_mutex_clear (&ep->lock);
  g_ptr_array_unref (ep->old_creds);
  g_free (ep->ufrag);
  g_free (ep->pwd);
  g_free (ep->remote_ufrag);
  g_free (ep->remote_pwd);
  memset (&ep->keys, 0, sizeof ep->keys);
  g_free (ep);
}

const char *
mm_endpoint_ufrag (MmEndpoint *ep)
{
  const char *s;

  g_mutex_lock (&ep->t->lock);
  s = ep->ufrag;
  g_mutex_unlock (&ep->t->lock);
  return s;
}

const char *
mm_endpoint_pwd (MmEndpoint *ep)
{
  const char *s;

  g_mutex_lock (&ep->t->lock);
  s = ep->pwd;
  g_mutex_unlock (&ep->t->lock);
  return s;
}

void
mm_endpoint_restart_ice (MmEndpoint *ep, const char *remote_ufrag, const char *remote_pwd)
{
  MmTransport *t = ep->t;
  g_autoptr (GError) error = NULL;
  char *ufrag = NULL, *pwd = NULL;

  g_mutex_lock (&t->lock);
  if (!ep->registered)
    {
      g_mutex_unlock (&t->lock);
      return;
    }
  if (!new_credentials (t, &ufrag, &pwd, &error))
    {
      g_mutex_unlock (&t->lock);
      g_warning ("ICE restart: %s", error->message);
      g_free (ufrag);
      return;
    }
  g_hash_table_remove (t->by_ufrag, ep->ufrag);
  /* Whoever read the old ones may still hold them. */
  g_ptr_array_add (ep->old_creds, ep->ufrag);
  g_ptr_array_add (ep->old_creds, ep->pwd);
  g_ptr_array_add (ep->old_creds, ep->remote_ufrag);
  g_ptr_array_add (ep->old_creds, ep->remote_pwd);
  ep->ufrag = ufrag;
  ep->pwd = pwd;
  ep->remote_ufrag = g_strdup (remote_ufrag);
  ep->remote_pwd = g_strdup (remote_pwd);
  g_hash_table_insert (t->by_ufrag, g_strdup (ufrag), ep);
  g_mutex_unlock (&t->lock);
}

static gboolean
close_in_thread (gpointer data)
{
  MmEndpoint *ep = data;

  mm_transport_unregister (ep->t, ep);
  g_clear_pointer (&ep->dtls, mm_dtls_free);
  g_clear_pointer (&ep->srtp_in, mm_srtp_free);
  g_clear_pointer (&ep->rtcp_out, mm_srtp_free);
  if (ep->cb.destroy != NULL)
    ep->cb.destroy (ep->cb.data);
  return G_SOURCE_REMOVE;
}

void
mm_endpoint_close (MmEndpoint *ep)
{
  GSource *src;

  if (!g_atomic_int_compare_and_exchange (&ep->closed, 0, 1))
    return;
  g_atomic_int_set (&ep->state, MM_ENDPOINT_CLOSED);
  /* Always later, even on the transport thread: a callback that closes
   * its endpoint must not see its data destroyed under it. */
  src = g_idle_source_new ();
  g_source_set_callback (src, close_in_thread, mm_endpoint_ref (ep),
                         (GDestroyNotify) mm_endpoint_unref);
  g_source_attach (src, ep->t->ctx);
  g_source_unref (src);
}

MmEndpointState
mm_endpoint_state (MmEndpoint *ep)
{
  return g_atomic_int_get (&ep->state);
}

void
mm_endpoint_request_keyframe (MmEndpoint *ep, guint32 media_ssrc)
{
  feedback (ep, FEEDBACK_PLI, media_ssrc, NULL, 0);
}

void
mm_endpoint_nack (MmEndpoint *ep, guint32 media_ssrc, const guint16 *seqs, guint n)
{
  if (n > 0)
    feedback (ep, FEEDBACK_NACK, media_ssrc, seqs, n);
}

void
mm_endpoint_set_max_bitrate (MmEndpoint *ep, guint64 bps)
{
  g_mutex_lock (&ep->lock);
  ep->max_bitrate = bps;
  g_mutex_unlock (&ep->lock);
  if (bps > 0)
    feedback (ep, FEEDBACK_REMB, 0, NULL, 0);
}

void
mm_endpoint_get_link (MmEndpoint *ep, MmEndpointLink *out)
{
  MmBweState st;
  MmEndpointStats s;

  memset (out, 0, sizeof *out);
  mm_endpoint_get_stats (ep, &s);
  out->rtt_ms = s.rtt_ms;
  mm_bwe_get (ep->bwe, g_get_monotonic_time (), &st);
  if (st.fed)
    {
      out->source = MM_LINK_TWCC;
      out->estimate_bps = st.estimate_bps;
      out->delivered_bps = st.delivered_bps;
      out->capacity_bps = st.capacity_bps;
      out->capacity_low_bps = st.capacity_low_bps;
      out->loss_permille = st.loss_permille;
      out->queue_ms = st.queue_ms;
      out->congested = st.congested;
    }
  else if (s.remb_bps > 0)
    {
      /* A receiver that estimates by itself (REMB, no transport-wide
       * feedback): its figure, and the loss of its receiver reports. */
      out->source = MM_LINK_REMB;
      out->estimate_bps = s.remb_bps;
    }
  if (!st.fed)
    {
      /* Without transport-wide feedback: the loss of its receiver
       * reports, and a queue from their round trips' growth.  Only a
       * receiver that estimates (REMB) is moved by them: one that says
       * nothing of its bandwidth keeps its tier, whatever a busy machine
       * does to one report's timing. */
      out->loss_permille = s.fraction_lost * 1000 / 256;
      if (s.rtt_ms != 0 && s.rtt_base_ms != 0 && s.rtt_ms > s.rtt_base_ms)
        out->queue_ms = s.rtt_ms - s.rtt_base_ms;
      out->congested = out->source == MM_LINK_REMB
                       && (out->loss_permille > MM_BWE_CONGESTED_LOSS
                           || out->queue_ms > MM_BWE_CONGESTED_QUEUE_MS);
    }
}

void
mm_endpoint_get_stats (MmEndpoint *ep, MmEndpointStats *out)
{
  const MmEndpointStats *s = &ep->stats;

  out->packets_in = mm_counter_get (&s->packets_in);
  out->bytes_in = mm_counter_get (&s->bytes_in);
  out->packets_out = mm_counter_get (&s->packets_out);
  out->bytes_out = mm_counter_get (&s->bytes_out);
  out->nacks_in = mm_counter_get (&s->nacks_in);
  out->retransmits = mm_counter_get (&s->retransmits);
  out->keyframe_requests_in = mm_counter_get (&s->keyframe_requests_in);
  out->remb_bps = mm_counter_get (&s->remb_bps);
  out->twcc_feedbacks = mm_counter_get (&s->twcc_feedbacks);
  out->rtt_ms = __atomic_load_n (&s->rtt_ms, __ATOMIC_RELAXED);
  out->rtt_base_ms = __atomic_load_n (&s->rtt_base_ms, __ATOMIC_RELAXED);
  out->fraction_lost = __atomic_load_n (&s->fraction_lost, __ATOMIC_RELAXED);
  out->connected_us = __atomic_load_n (&s->connected_us, __ATOMIC_RELAXED);
  out->uplink_loss_permille = __atomic_load_n (&s->uplink_loss_permille, __ATOMIC_RELAXED);
}
