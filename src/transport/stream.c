/* stream.c — one stream the room sends, fanned out to its receivers.
 *
 * mm_stream_send runs on the room's streaming thread: under the stream's
 * lock each packet goes into the NACK history once, then for every
 * connected receiver it is copied into the send arena, rewritten (payload
 * type, SSRC, sequence number, timestamp, transport-wide sequence
 * number), protected with that receiver's outbound SRTP and queued; the
 * queue goes out with sendmmsg when it is full and at the end.  Nothing
 * blocks: what the socket does not take is counted and dropped.
 *
 * A subscription's sequence numbers and timestamps are the stream's plus
 * deltas, set ("rebased") at its first packet and again at the first
 * packet after a move, so that the receiver sees one continuous stream.
 *
 * Streams made with mm_stream_new_sibling form a group (the quality tiers
 * of one composite) under one lock, so that a subscription can switch
 * from one to another at the first packet of the new one's keyframe,
 * from the sending thread of the new one, with nothing of the old one
 * sent after it.
 */
/* recvmmsg, sendmmsg */
#define _GNU_SOURCE
#include "config.h"

#include "transport/bytes.h"
#include "transport/transport-private.h"
#include "core/secret.h"

#include <errno.h>
#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-transport"

#define BATCH 64
#define SR_INTERVAL_US G_USEC_PER_SEC
#define CNAME "mixmeet"

typedef struct {
  MmEndpoint *ep;          /* a ref */
  guint8 pt;
  guint32 ssrc;
  gboolean rebase;         /* the next packet sets the deltas */
  gboolean started;        /* a packet was sent: last_* hold */
  guint16 seq_delta;
  guint32 ts_delta;
  guint16 floor_seq;       /* the first sequence number under the current deltas */
  guint16 last_seq;        /* the newest sent, as the receiver saw it */
  guint32 last_ts;
  gint64 last_us;          /* when, monotonic */
  MmSrtp *srtp;            /* made once the endpoint is connected */
  guint32 packets, octets; /* for sender reports */
  gint64 next_sr_us;
  MmAddr dest;             /* this send's copy of the endpoint's pair */
  MmStream *switch_to;     /* a sibling to move to at its next keyframe, or NULL */
  guint first;             /* during one mm_stream_send: the first packet for it */
} Sub;

/* Siblings: streams sharing one lock (mm_stream_new_sibling). */
typedef struct {
  gint ref;                /* atomic: one per member */
  GMutex lock;
  GPtrArray *members;      /* MmStream* (lock) */
} Group;

struct _MmStream {
  gint ref;                /* atomic: the caller's and one per subscribed endpoint's list */
  MmTransport *t;
  guint clock_rate;
  MmStreamKeyframe keyframe;
  gpointer data;
  gint freed;              /* atomic */
  GMutex cb_lock;          /* held while the keyframe callback runs */

  Group *group;            /* its lock guards what follows */
  GPtrArray *subs;         /* Sub* */
  guint n_pending;         /* subscriptions of siblings waiting to switch here */
  MmRtpHistory *history;   /* nullable */
  guint8 *arena;           /* BATCH * MM_TX_SLOT */
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  MmSourceControl control[BATCH];   /* each message's source, when the socket needs one */
  Sub *owner[BATCH];
  guint n_queued;
  gint logged;             /* bad packets from the room: logged once */
  /* What the room hands over, per second (the stream's own rate). */
  gint64 rate_second;      /* (group lock) the second counted in rate_bytes[0] */
  guint64 rate_bytes[2];   /* (group lock) this second and the one before */
};

/* ---- rewriting -------------------------------------------------------------- */

/* The elements of the extension @data (@len bytes, one- or two-byte
 * headers) but @drop_id, copied to @out.  Returns the bytes written. */
static gsize
copy_elements (const guint8 *data, gsize len, gboolean one_byte, guint8 drop_id, guint8 *out)
{
  gsize i = 0, o = 0;

  while (i < len)
    {
      guint8 id;
      gsize hlen, dlen;

      if (data[i] == 0)
        {
          i++;   /* padding */
          continue;
        }
      if (one_byte)
        {
          id = data[i] >> 4;
          if (id == 15)
            break;   /* reserved: the rest is not to be read */
          hlen = 1;
          dlen = (data[i] & 15) + 1;
        }
      else
        {
          if (i + 2 > len)
            break;
          id = data[i];
          hlen = 2;
          dlen = data[i + 1];
        }
      if (i + hlen + dlen > len)
        break;
      if (id != drop_id)
        {
          memcpy (out + o, data + i, hlen + dlen);
          o += hlen + dlen;
        }
      i += hlen + dlen;
    }
  return o;
}

gsize
mm_rtp_rewrite (const guint8 *in, gsize len, guint8 *out, gsize out_size, guint8 pt, guint32 ssrc,
                guint16 seq, guint32 ts, guint8 twcc_id, guint16 twcc_seq)
{
  gsize hdr, after, o;
  guint16 profile = 0;
  const guint8 *ext = NULL;
  gsize ext_len = 0;
  gboolean one_byte;

  if (len < 12 || (in[0] >> 6) != 2)
    return 0;
  hdr = 12 + 4 * (in[0] & 15);
  if (len < hdr)
    return 0;
  after = hdr;
  if (in[0] & 0x10)
    {
      if (len < hdr + 4)
        return 0;
      profile = mm_rd16 (in + hdr);
      ext_len = 4 * (gsize) mm_rd16 (in + hdr + 2);
      if (len < hdr + 4 + ext_len)
        return 0;
      ext = in + hdr + 4;
      after = hdr + 4 + ext_len;
    }
  /* Room for the new extension element and its padding too. */
  if (len + 12 > out_size)
    return 0;

  if (ext != NULL)
    one_byte = profile == 0xBEDE;
  else
    one_byte = twcc_id <= 14;
  if (twcc_id == 0 || (ext != NULL && profile != 0xBEDE && (profile & 0xfff0) != 0x1000)
      || (one_byte && twcc_id > 14))
    {
      /* Nothing to add, or no way to add it to this packet. */
      memcpy (out, in, len);
      o = len;
    }
  else
    {
      gsize start;

      memcpy (out, in, hdr);
      out[0] |= 0x10;
      mm_wr16 (out + hdr, ext != NULL ? profile : one_byte ? 0xBEDE : 0x1000);
      start = o = hdr + 4;
      if (ext != NULL)
        o += copy_elements (ext, ext_len, one_byte, twcc_id, out + o);
      if (one_byte)
        out[o++] = (guint8) (twcc_id << 4 | 1);
      else
        {
          out[o++] = twcc_id;
          out[o++] = 2;
        }
      mm_wr16 (out + o, twcc_seq);
      o += 2;
      while ((o - start) % 4 != 0)
        out[o++] = 0;
      mm_wr16 (out + hdr + 2, (guint16) ((o - start) / 4));
      if (o + (len - after) > out_size)
        return 0;
      memcpy (out + o, in + after, len - after);
      o += len - after;
    }
  out[1] = (in[1] & 0x80) | (pt & 0x7f);
  mm_wr16 (out + 2, seq);
  mm_wr32 (out + 4, ts);
  mm_wr32 (out + 8, ssrc);
  return o;
}

/* ---- VP8 -------------------------------------------------------------------- */

gboolean
mm_rtp_vp8_keyframe_start (const guint8 *pkt, gsize len)
{
  MmRtpHeader h;
  const guint8 *d;
  gsize n, i = 1;

  if (!mm_rtp_parse (pkt, len, &h) || h.payload_len < 2)
    return FALSE;
  d = pkt + h.header_len;
  n = h.payload_len;
  /* The payload descriptor (RFC 7741 4.2): X R N S R PID; a partition
   * that starts a frame has S set and PID 0. */
  if (!(d[0] & 0x10) || (d[0] & 0x07) != 0)
    return FALSE;
  if (d[0] & 0x80)
    {
      guint8 x = d[1];

      i = 2;
      if (x & 0x80)                       /* I: PictureID, 7 or 15 bits */
        i += (i < n && (d[i] & 0x80)) ? 2 : 1;
      if (x & 0x40)                       /* L: TL0PICIDX */
        i++;
      if (x & 0x30)                       /* T or K: TID/Y/KEYIDX */
        i++;
    }
  /* The VP8 payload header: P (bit 0 of the first byte) is 0 for a key
   * frame. */
  return i < n && (d[i] & 0x01) == 0;
}

/* ---- references ---------------------------------------------------------- */

static Group *
group_new (void)
{
  Group *g = g_new0 (Group, 1);

  g->ref = 1;
  g_mutex_init (&g->lock);
  g->members = g_ptr_array_new ();
  return g;
}

static void
group_unref (Group *g)
{
  if (!g_atomic_int_dec_and_test (&g->ref))
    return;
  g_assert (g->members->len == 0);
  g_ptr_array_unref (g->members);
  g_mutex_clear (&g->lock);
  g_free (g);
}

MmStream *
mm_stream_ref_internal (MmStream *s)
{
  g_atomic_int_inc (&s->ref);
  return s;
}

void
mm_stream_unref_internal (MmStream *s)
{
  if (!g_atomic_int_dec_and_test (&s->ref))
    return;
  g_assert (s->subs->len == 0);
  g_ptr_array_unref (s->subs);
  if (s->history != NULL)
    mm_rtp_history_free (s->history);
  g_free (s->arena);
  group_unref (s->group);
  g_mutex_clear (&s->cb_lock);
  g_free (s);
}

static void
sub_free (Sub *sub)
{
  if (sub->srtp != NULL)
    mm_srtp_free (sub->srtp);
  mm_endpoint_unref (sub->ep);
  g_free (sub);
}

/* ---- sending --------------------------------------------------------------- */

static gboolean
connected (MmEndpoint *ep)
{
  return !g_atomic_int_get (&ep->closed)
         && g_atomic_int_get (&ep->state) == MM_ENDPOINT_CONNECTED;
}

/* Whether @sub can be sent to now: its SRTP made and its address read. */
static gboolean
sub_ready (MmStream *s, Sub *sub)
{
  if (!connected (sub->ep) || !mm_endpoint_get_dest (sub->ep, &sub->dest))
    return FALSE;
  if (sub->srtp == NULL)
    {
      g_autoptr (GError) error = NULL;

      /* The state said CONNECTED after the keys were written. */
      sub->srtp = mm_srtp_new (&sub->ep->keys, TRUE, &error);
      if (sub->srtp == NULL)
        {
          if (!g_atomic_int_or (&s->logged, 2))
            g_warning ("stream %p: outbound SRTP: %s", (void *) s, error->message);
          return FALSE;
        }
    }
  return TRUE;
}

static void
flush (MmStream *s)
{
  MmTransport *t = s->t;
  guint off = 0, n = s->n_queued;

  while (off < n)
    {
      int r = sendmmsg (t->fd, s->msgs + off, n - off, MSG_DONTWAIT);

      if (r > 0)
        {
          guint64 bytes = 0;

          for (guint i = off; i < off + (guint) r; i++)
            {
              MmEndpoint *ep = s->owner[i]->ep;

              bytes += s->iov[i].iov_len;
              mm_counter_add (&ep->stats.packets_out, 1);
              mm_counter_add (&ep->stats.bytes_out, s->iov[i].iov_len);
            }
          mm_counter_add (&t->stats.datagrams_out, r);
          mm_counter_add (&t->stats.bytes_out, bytes);
          mm_counter_add (&t->stats.rtp_out, r);
          mm_counter_add (&t->stats.rtp_bytes_out, bytes);
          off += r;
          continue;
        }
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS))
        {
          /* Never wait: the rest of this batch is lost. */
          mm_transport_drop (t, MM_DROP_SEND_ERROR, s->msgs[off].msg_hdr.msg_name,
                             "a full socket buffer");
          mm_counter_add (&t->stats.send_errors, n - off - 1);
          break;
        }
      /* The first message's destination failed (unreachable, ...): skip it. */
      mm_transport_drop (t, MM_DROP_SEND_ERROR, s->msgs[off].msg_hdr.msg_name,
                         r < 0 ? g_strerror (errno) : "nothing sent");
      off++;
    }
  s->n_queued = 0;
}

static guint8 *
next_slot (MmStream *s)
{
  if (s->n_queued == BATCH)
    flush (s);
  return s->arena + (gsize) s->n_queued * MM_TX_SLOT;
}

static void
enqueue (MmStream *s, Sub *sub, gsize len)
{
  guint i = s->n_queued++;

  s->iov[i].iov_base = s->arena + (gsize) i * MM_TX_SLOT;
  s->iov[i].iov_len = len;
  memset (&s->msgs[i], 0, sizeof s->msgs[i]);
  s->msgs[i].msg_hdr.msg_name = &sub->dest.sa;
  s->msgs[i].msg_hdr.msg_namelen = sub->dest.len;
  s->msgs[i].msg_hdr.msg_iov = &s->iov[i];
  s->msgs[i].msg_hdr.msg_iovlen = 1;
  mm_addr_set_source (&sub->dest, &s->msgs[i].msg_hdr, &s->control[i]);
  s->owner[i] = sub;
}

static guint32
elapsed_ts (guint clock_rate, gint64 us)
{
  return (guint32) ((guint64) MAX (us, 0) * clock_rate / G_USEC_PER_SEC);
}

/* The first packet under new deltas: it continues what the receiver saw. */
static void
rebase (MmStream *s, Sub *sub, guint16 seq, guint32 ts, gint64 now)
{
  guint32 next_ts = sub->last_ts;

  if (sub->started)
    next_ts += MAX (1, elapsed_ts (s->clock_rate, now - sub->last_us));
  sub->seq_delta = (guint16) (sub->last_seq + 1 - seq);
  sub->ts_delta = next_ts - ts;
  sub->floor_seq = sub->last_seq + 1;
  sub->rebase = FALSE;
}

static void
send_one (MmStream *s, Sub *sub, const guint8 *in, gsize len, gint64 now)
{
  MmEndpoint *ep = sub->ep;
  guint16 seq, twcc = 0;
  guint32 ts;
  guint8 *slot;
  gsize n;
  MmSrtpResult r;

  if (sub->rebase)
    rebase (s, sub, mm_rd16 (in + 2), mm_rd32 (in + 4), now);
  seq = mm_rd16 (in + 2) + sub->seq_delta;
  ts = mm_rd32 (in + 4) + sub->ts_delta;
  if (ep->twcc_ext_id != 0)
    twcc = (guint16) g_atomic_int_add (&ep->twcc_seq, 1);
  slot = next_slot (s);
  n = mm_rtp_rewrite (in, len, slot, MM_TX_SLOT - MM_SRTP_MAX_TRAILER, sub->pt, sub->ssrc, seq,
                      ts, ep->twcc_ext_id, twcc);
  if (n == 0)
    return;
  r = mm_srtp_protect_rtp (sub->srtp, slot, &n, MM_TX_SLOT);
  if (r != MM_SRTP_OK)
    {
      if (!(g_atomic_int_or (&s->logged, 4) & 4))
        g_warning ("stream %p: SRTP protect: %s", (void *) s, mm_srtp_result_name (r));
      return;
    }
  if (ep->twcc_ext_id != 0)
    mm_bwe_note_sent (ep->bwe, twcc, n, now);
  enqueue (s, sub, n);
  if (!sub->started || (guint16) (seq - sub->last_seq) < 0x8000)
    {
      sub->last_seq = seq;
      sub->last_ts = ts;
      sub->last_us = now;
      sub->started = TRUE;
    }
  sub->packets++;
  sub->octets += len - 12;
}

static void
send_sr (MmStream *s, Sub *sub, gint64 now)
{
  guint8 *slot = next_slot (s);
  gsize size = MM_TX_SLOT - MM_SRTP_MAX_TRAILER, n;
  guint64 ntp = mm_rtcp_ntp_from_real_us (g_get_real_time ());
  guint32 ts = sub->last_ts + elapsed_ts (s->clock_rate, now - sub->last_us);

  n = mm_rtcp_write_sr (slot, size, sub->ssrc, ntp, ts, sub->packets, sub->octets);
  if (n == 0)
    return;
  n += mm_rtcp_write_sdes (slot + n, size - n, sub->ssrc, CNAME);
  if (mm_srtp_protect_rtcp (sub->srtp, slot, &n, MM_TX_SLOT) != MM_SRTP_OK)
    return;
  enqueue (s, sub, n);
  sub->next_sr_us = now + SR_INTERVAL_US;
}

/* Bring the subscriptions of siblings waiting for a keyframe of @s over,
 * to get the packets of this batch from @first on (group lock). */
static void
take_switchers (MmStream *s, guint first)
{
  GPtrArray *members = s->group->members;

  for (guint k = 0; k < members->len && s->n_pending > 0; k++)
    {
      MmStream *from = g_ptr_array_index (members, k);

      if (from == s)
        continue;
      for (guint j = 0; j < from->subs->len;)
        {
          Sub *sub = g_ptr_array_index (from->subs, j);

          if (sub->switch_to != s)
            {
              j++;
              continue;
            }
          g_ptr_array_remove_index (from->subs, j);
          sub->switch_to = NULL;
          sub->rebase = TRUE;
          sub->first = first;
          s->n_pending--;
          g_ptr_array_add (s->subs, sub);
          g_mutex_lock (&sub->ep->lock);
          for (guint e = 0; e < sub->ep->subs->len; e++)
            {
              MmEndpointSub *es = &g_array_index (sub->ep->subs, MmEndpointSub, e);

              if (es->stream == from)
                {
                  es->stream = mm_stream_ref_internal (s);
                  mm_stream_unref_internal (from);   /* not the last: the caller holds one */
                  break;
                }
            }
          g_mutex_unlock (&sub->ep->lock);
        }
    }
}

static void
count_rate (MmStream *s, gsize len, gint64 now)
{
  gint64 second = now / G_USEC_PER_SEC;

  if (second != s->rate_second)
    {
      s->rate_bytes[1] = second == s->rate_second + 1 ? s->rate_bytes[0] : 0;
      s->rate_bytes[0] = 0;
      s->rate_second = second;
    }
  s->rate_bytes[0] += len;
}

guint64
mm_stream_rate (MmStream *s)
{
  gint64 second = g_get_monotonic_time () / G_USEC_PER_SEC;
  guint64 bps = 0;

  g_mutex_lock (&s->group->lock);
  /* The last whole second. */
  if (second == s->rate_second)
    bps = s->rate_bytes[1] * 8;
  else if (second == s->rate_second + 1)
    bps = s->rate_bytes[0] * 8;
  g_mutex_unlock (&s->group->lock);
  return bps;
}

static gboolean
packet_ok (const MmPacket *p)
{
  return p->len >= 12 && p->len <= MM_HISTORY_MAX_PACKET && (p->data[0] >> 6) == 2;
}

void
mm_stream_send (MmStream *s, const MmPacket *packets, guint n)
{
  gint64 now = g_get_monotonic_time ();

  g_mutex_lock (&s->group->lock);
  for (guint i = 0; i < n; i++)
    {
      const MmPacket *p = &packets[i];

      if (!packet_ok (p))
        {
          if (!(g_atomic_int_or (&s->logged, 1) & 1))
            g_warning ("stream %p: a packet of %" G_GSIZE_FORMAT " bytes that is no RTP "
                       "we can send (dropped; further ones silently)", (void *) s, p->len);
          continue;
        }
      if (s->history != NULL)
        mm_rtp_history_put (s->history, p->data, p->len);
      count_rate (s, p->len, now);
    }
  if (s->n_pending > 0)
    for (guint i = 0; i < n; i++)
      if (packet_ok (&packets[i]) && mm_rtp_vp8_keyframe_start (packets[i].data, packets[i].len))
        {
          take_switchers (s, i);
          break;
        }
  for (guint j = 0; j < s->subs->len; j++)
    {
      Sub *sub = g_ptr_array_index (s->subs, j);
      guint first = sub->first;

      sub->first = 0;
      if (!sub_ready (s, sub))
        continue;
      for (guint i = first; i < n; i++)
        if (packet_ok (&packets[i]))
          send_one (s, sub, packets[i].data, packets[i].len, now);
      if (sub->started && now >= sub->next_sr_us)
        send_sr (s, sub, now);
    }
  if (s->n_queued > 0)
    flush (s);
  g_mutex_unlock (&s->group->lock);
}

/* @ep's subscription in @s (group lock), or NULL. */
static Sub *
find_sub (MmStream *s, MmEndpoint *ep, guint *index)
{
  for (guint i = 0; i < s->subs->len; i++)
    {
      Sub *sub = g_ptr_array_index (s->subs, i);

      if (sub->ep == ep)
        {
          if (index != NULL)
            *index = i;
          return sub;
        }
    }
  return NULL;
}

/* @ep's subscription in any stream of @s's group (group lock), and the
 * stream it is in. */
static Sub *
find_in_group (MmStream *s, MmEndpoint *ep, MmStream **in, guint *index)
{
  GPtrArray *members = s->group->members;
  Sub *sub = find_sub (s, ep, index);

  *in = s;
  for (guint k = 0; k < members->len && sub == NULL; k++)
    {
      *in = g_ptr_array_index (members, k);
      sub = *in != s ? find_sub (*in, ep, index) : NULL;
    }
  return sub;
}

void
mm_stream_resend (MmStream *s, MmEndpoint *ep, const guint16 *seqs, guint n)
{
  MmTransport *t = s->t;
  Sub *sub;

  g_mutex_lock (&s->group->lock);
  sub = find_sub (s, ep, NULL);
  if (s->history == NULL || sub == NULL || !sub->started || sub->rebase || !sub_ready (s, sub))
    {
      g_mutex_unlock (&s->group->lock);
      return;
    }
  for (guint i = 0; i < n; i++)
    {
      guint16 seq = seqs[i], twcc = 0;
      const guint8 *p;
      gsize len, out;

      /* Only what was sent under the current deltas maps back to the history. */
      if ((guint16) (seq - sub->floor_seq) >= 0x8000 || (guint16) (sub->last_seq - seq) >= 0x8000)
        continue;
      p = mm_rtp_history_get (s->history, (guint16) (seq - sub->seq_delta), &len);
      if (p == NULL || len < 12)
        continue;
      if (ep->twcc_ext_id != 0)
        twcc = (guint16) g_atomic_int_add (&ep->twcc_seq, 1);
      out = mm_rtp_rewrite (p, len, t->tx_buf, MM_TX_SLOT - MM_SRTP_MAX_TRAILER, sub->pt,
                            sub->ssrc, seq, mm_rd32 (p + 4) + sub->ts_delta, ep->twcc_ext_id, twcc);
      if (out == 0 || mm_srtp_protect_rtp (sub->srtp, t->tx_buf, &out, MM_TX_SLOT) != MM_SRTP_OK)
        continue;
      if (ep->twcc_ext_id != 0)
        mm_bwe_note_sent (ep->bwe, twcc, out, g_get_monotonic_time ());
      if (mm_transport_send (t, t->tx_buf, out, &sub->dest))
        {
          mm_counter_add (&ep->stats.retransmits, 1);
          mm_counter_add (&ep->stats.packets_out, 1);
          mm_counter_add (&ep->stats.bytes_out, out);
          mm_counter_add (&t->stats.rtp_out, 1);
          mm_counter_add (&t->stats.rtp_bytes_out, out);
        }
    }
  g_mutex_unlock (&s->group->lock);
}

void
mm_stream_keyframe_requested (MmStream *s)
{
  g_mutex_lock (&s->cb_lock);
  if (!g_atomic_int_get (&s->freed) && s->keyframe != NULL)
    s->keyframe (s, s->data);
  g_mutex_unlock (&s->cb_lock);
}

/* ---- receivers -------------------------------------------------------------- */

static MmStream *
stream_new (MmTransport *t, Group *g, guint clock_rate, guint history, MmStreamKeyframe keyframe,
            gpointer data)
{
  MmStream *s = g_new0 (MmStream, 1);

  s->ref = 1;
  s->t = t;
  s->group = g;
  s->clock_rate = clock_rate;
  s->keyframe = keyframe;
  s->data = data;
  g_mutex_init (&s->cb_lock);
  s->subs = g_ptr_array_new ();
  if (history > 0)
    s->history = mm_rtp_history_new (history);
  s->arena = g_malloc ((gsize) BATCH * MM_TX_SLOT);
  g_mutex_lock (&g->lock);
  g_ptr_array_add (g->members, s);
  g_mutex_unlock (&g->lock);
  return s;
}

MmStream *
mm_stream_new (MmTransport *t, guint clock_rate, guint history, MmStreamKeyframe keyframe,
               gpointer data)
{
  return stream_new (t, group_new (), clock_rate, history, keyframe, data);
}

MmStream *
mm_stream_new_sibling (MmStream *sibling, guint clock_rate, guint history,
                       MmStreamKeyframe keyframe, gpointer data)
{
  g_atomic_int_inc (&sibling->group->ref);
  return stream_new (sibling->t, sibling->group, clock_rate, history, keyframe, data);
}

/* Drop @s from @ep's list of what it receives (@ep->lock). */
static gboolean
endpoint_forget (MmEndpoint *ep, MmStream *s)
{
  for (guint i = 0; i < ep->subs->len; i++)
    if (g_array_index (ep->subs, MmEndpointSub, i).stream == s)
      {
        g_array_remove_index_fast (ep->subs, i);
        return TRUE;
      }
  return FALSE;
}

void
mm_stream_free (MmStream *s)
{
  g_autoptr (GPtrArray) subs = NULL;
  GPtrArray *members;

  if (s == NULL)
    return;
  g_mutex_lock (&s->group->lock);
  g_atomic_int_set (&s->freed, 1);
  subs = s->subs;
  s->subs = g_ptr_array_new ();
  members = s->group->members;
  g_ptr_array_remove (members, s);
  /* Nobody waits for a keyframe of @s any more. */
  for (guint k = 0; k < members->len; k++)
    {
      MmStream *o = g_ptr_array_index (members, k);

      for (guint j = 0; j < o->subs->len; j++)
        {
          Sub *sub = g_ptr_array_index (o->subs, j);

          if (sub->switch_to == s)
            sub->switch_to = NULL;
        }
    }
  s->n_pending = 0;
  for (guint i = 0; i < subs->len; i++)
    {
      Sub *sub = g_ptr_array_index (subs, i);

      if (sub->switch_to != NULL)
        sub->switch_to->n_pending--;
      sub->switch_to = NULL;
    }
  g_mutex_unlock (&s->group->lock);
  for (guint i = 0; i < subs->len; i++)
    {
      Sub *sub = g_ptr_array_index (subs, i);
      gboolean had;

      g_mutex_lock (&sub->ep->lock);
      had = endpoint_forget (sub->ep, s);
      g_mutex_unlock (&sub->ep->lock);
      if (had)
        mm_stream_unref_internal (s);
      sub_free (sub);
    }
  /* A keyframe callback under way finishes before this returns. */
  g_mutex_lock (&s->cb_lock);
  g_mutex_unlock (&s->cb_lock);
  mm_stream_unref_internal (s);
}

void
mm_stream_add (MmStream *s, MmEndpoint *ep, guint8 pt, guint32 ssrc)
{
  Sub *sub;
  guint8 raw[6];

  g_mutex_lock (&s->group->lock);
  if (g_atomic_int_get (&s->freed))
    {
      g_mutex_unlock (&s->group->lock);
      return;
    }
  sub = find_sub (s, ep, NULL);
  if (sub == NULL)
    {
      if (!mm_secret_random (raw, sizeof raw, NULL))
        memset (raw, 0, sizeof raw);
      sub = g_new0 (Sub, 1);
      sub->ep = mm_endpoint_ref (ep);
      sub->rebase = TRUE;
      /* The first sequence number is random, below 2^15 (RFC 3550 5.1,
       * and far from the roll-over SRTP would have to guess). */
      sub->last_seq = (mm_rd16 (raw) & 0x7fff) - 1;
      sub->last_ts = mm_rd32 (raw + 2);
      g_ptr_array_add (s->subs, sub);
    }
  sub->pt = pt;
  sub->ssrc = ssrc;
  g_mutex_lock (&ep->lock);
  if (!endpoint_forget (ep, s))
    mm_stream_ref_internal (s);
  g_array_append_val (ep->subs, ((MmEndpointSub) { s, ssrc }));
  g_mutex_unlock (&ep->lock);
  g_mutex_unlock (&s->group->lock);
}

void
mm_stream_remove (MmStream *s, MmEndpoint *ep)
{
  MmStream *in = NULL;
  Sub *sub;
  guint i;
  gboolean had = FALSE;

  g_mutex_lock (&s->group->lock);
  sub = find_in_group (s, ep, &in, &i);
  if (sub != NULL)
    {
      g_ptr_array_remove_index (in->subs, i);
      if (sub->switch_to != NULL)
        sub->switch_to->n_pending--;
      g_mutex_lock (&ep->lock);
      had = endpoint_forget (ep, in);
      g_mutex_unlock (&ep->lock);
    }
  g_mutex_unlock (&s->group->lock);
  if (sub != NULL)
    sub_free (sub);
  if (had)
    mm_stream_unref_internal (in);
}

void
mm_stream_move (MmStream *from, MmStream *to, MmEndpoint *ep)
{
  Group *first = from->group < to->group ? from->group : to->group;
  Group *second = from->group < to->group ? to->group : from->group;
  Sub *sub, *replaced = NULL;
  guint i;
  gboolean moved = FALSE;

  if (from == to)
    return;
  g_mutex_lock (&first->lock);
  if (second != first)
    g_mutex_lock (&second->lock);
  sub = find_sub (from, ep, &i);
  if (sub != NULL && !g_atomic_int_get (&to->freed))
    {
      guint j;

      g_ptr_array_remove_index (from->subs, i);
      if (sub->switch_to != NULL)
        sub->switch_to->n_pending--;
      sub->switch_to = NULL;
      replaced = find_sub (to, ep, &j);
      if (replaced != NULL)
        {
          g_ptr_array_remove_index (to->subs, j);
          if (replaced->switch_to != NULL)
            replaced->switch_to->n_pending--;
        }
      sub->rebase = TRUE;
      g_ptr_array_add (to->subs, sub);
      g_mutex_lock (&ep->lock);
      if (replaced != NULL)
        endpoint_forget (ep, to);   /* its reference on @to becomes the moved one's */
      else
        mm_stream_ref_internal (to);
      moved = endpoint_forget (ep, from);
      g_array_append_val (ep->subs, ((MmEndpointSub) { to, sub->ssrc }));
      g_mutex_unlock (&ep->lock);
    }
  if (second != first)
    g_mutex_unlock (&second->lock);
  g_mutex_unlock (&first->lock);
  if (replaced != NULL)
    sub_free (replaced);
  if (moved)
    mm_stream_unref_internal (from);
}

void
mm_stream_switch (MmStream *to, MmEndpoint *ep, gboolean at_keyframe)
{
  MmStream *in = NULL;
  Sub *sub;
  guint i;

  g_mutex_lock (&to->group->lock);
  sub = find_in_group (to, ep, &in, &i);
  if (sub == NULL || g_atomic_int_get (&to->freed))
    {
      g_mutex_unlock (&to->group->lock);
      return;
    }
  if (sub->switch_to != NULL)
    sub->switch_to->n_pending--;
  sub->switch_to = NULL;
  if (in != to && at_keyframe)
    {
      sub->switch_to = to;
      to->n_pending++;
    }
  g_mutex_unlock (&to->group->lock);
  if (in != to && !at_keyframe)
    mm_stream_move (in, to, ep);
}

MmStream *
mm_stream_current (MmStream *s, MmEndpoint *ep, MmStream **pending)
{
  MmStream *in = NULL;
  Sub *sub;
  guint i;

  g_mutex_lock (&s->group->lock);
  sub = find_in_group (s, ep, &in, &i);
  if (pending != NULL)
    *pending = sub != NULL ? sub->switch_to : NULL;
  g_mutex_unlock (&s->group->lock);
  return sub != NULL ? in : NULL;
}

/* Padding-only packets (RFC 3550 5.1: P set, the last octet counts the
 * padding) of at most this size, as browsers send them. */
#define PROBE_PACKET 256

void
mm_stream_probe (MmStream *s, MmEndpoint *ep, gsize bytes)
{
  MmStream *in = NULL;
  Sub *sub;
  guint i, n;
  gint64 now = g_get_monotonic_time ();

  g_mutex_lock (&s->group->lock);
  sub = find_in_group (s, ep, &in, &i);
  if (sub == NULL || !sub->started || !sub_ready (in, sub))
    {
      g_mutex_unlock (&s->group->lock);
      return;
    }
  n = (guint) CLAMP ((bytes + PROBE_PACKET - 1) / PROBE_PACKET, 2, BATCH);
  for (guint k = 0; k < n; k++)
    {
      guint8 pkt[PROBE_PACKET];
      guint8 *slot = next_slot (in);
      guint16 seq = sub->last_seq + 1, twcc = 0;
      gsize len;

      memset (pkt, 0, sizeof pkt);
      pkt[0] = 0xA0;   /* V=2, P */
      pkt[sizeof pkt - 1] = sizeof pkt - 12;
      if (ep->twcc_ext_id != 0)
        twcc = (guint16) g_atomic_int_add (&ep->twcc_seq, 1);
      len = mm_rtp_rewrite (pkt, sizeof pkt, slot, MM_TX_SLOT - MM_SRTP_MAX_TRAILER, sub->pt,
                            sub->ssrc, seq, sub->last_ts, ep->twcc_ext_id, twcc);
      if (len == 0 || mm_srtp_protect_rtp (sub->srtp, slot, &len, MM_TX_SLOT) != MM_SRTP_OK)
        break;
      if (ep->twcc_ext_id != 0)
        mm_bwe_note_sent (ep->bwe, twcc, len, now);
      enqueue (in, sub, len);
      /* What comes after continues from here (a rebase starts from
       * last_seq anyway); NACKs for what came before are no longer
       * answered (the deltas changed). */
      sub->last_seq = seq;
      if (!sub->rebase)
        {
          sub->seq_delta++;
          sub->floor_seq = seq + 1;
        }
      sub->packets++;
    }
  if (in->n_queued > 0)
    flush (in);
  g_mutex_unlock (&s->group->lock);
}

guint
mm_stream_n_receivers (MmStream *s)
{
  guint n;

  g_mutex_lock (&s->group->lock);
  n = s->subs->len + s->n_pending;
  g_mutex_unlock (&s->group->lock);
  return n;
}
