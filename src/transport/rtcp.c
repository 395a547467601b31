/* rtcp.c — RTP header reading, RTCP compound parsing and RTCP writers
 * (RFC 3550, RFC 4585, RFC 5104, RFC 8285, draft-alvestrand-rmcat-remb,
 * draft-holmer-rmcat-transport-wide-cc-extensions-01).
 *
 * Everything that comes from the network is read through offsets that are
 * checked against the length before each read: the datagram is the only
 * bound, a length field never is.
 */
#include "config.h"

#include "transport/bytes.h"
#include "transport/rtcp.h"

#include <stdlib.h>
#include <string.h>

#define RTCP_SR 200
#define RTCP_RR 201
#define RTCP_RTPFB 205
#define RTCP_PSFB 206

#define RTPFB_NACK 1
#define RTPFB_TWCC 15
#define PSFB_PLI 1
#define PSFB_FIR 4
#define PSFB_AFB 15

#define REPORT_BLOCK_LEN 24
/* As many as an MmRtcpItem holds, so that a REMB written round-trips. */
#define REMB_MAX_SSRCS 16

G_STATIC_ASSERT (sizeof ((MmRtcpItem *) NULL)->u.remb.ssrcs == REMB_MAX_SSRCS * sizeof (guint32));

struct _MmRtcpParser {
  /* TWCC arrays, grown to the largest packet status count seen: a parser
   * lives as long as its endpoint, so after the first few feedback
   * packets there is no allocation left. */
  guint8 *received;
  gint32 *delta_us;
  guint capacity;
};

/* A 24-bit two's complement field as a signed number. */
static inline gint32
sign24 (guint32 v)
{
  return (v & 0x800000) ? (gint32) v - 0x1000000 : (gint32) v;
}

/* ---- RTP ------------------------------------------------------------------ */

gboolean
mm_rtp_parse (const guint8 *buf, gsize len, MmRtpHeader *h)
{
  gsize off;
  guint cc;

  if (buf == NULL || len < 12 || (buf[0] >> 6) != 2)
    return FALSE;
  memset (h, 0, sizeof *h);
  h->marker = (buf[1] & 0x80) != 0;
  h->pt = buf[1] & 0x7f;
  h->seq = mm_rd16 (buf + 2);
  h->ts = mm_rd32 (buf + 4);
  h->ssrc = mm_rd32 (buf + 8);

  cc = buf[0] & 0x0f;
  off = 12 + 4 * (gsize) cc;
  if (off > len)
    return FALSE;

  if (buf[0] & 0x10)
    {
      gsize ext_len;

      if (len - off < 4)
        return FALSE;
      h->ext_profile = mm_rd16 (buf + off);
      ext_len = 4 * (gsize) mm_rd16 (buf + off + 2);
      off += 4;
      if (ext_len > len - off)
        return FALSE;
      h->ext = buf + off;
      h->ext_len = ext_len;
      off += ext_len;
    }
  h->header_len = off;
  h->payload_len = len - off;

  if (buf[0] & 0x20)
    {
      /* The last octet counts the padding, itself included: 0 cannot be,
       * and it cannot reach into the header. */
      guint8 pad = buf[len - 1];

      if (pad == 0 || pad > h->payload_len)
        return FALSE;
      h->payload_len -= pad;
    }
  return TRUE;
}

const guint8 *
mm_rtp_find_extension (const MmRtpHeader *h, guint8 id, gsize *len)
{
  const guint8 *e = h->ext;
  gsize n = h->ext_len, i = 0;

  if (e == NULL || id == 0)
    return NULL;

  if (h->ext_profile == 0xBEDE)
    {
      /* One-byte form: 4 bits id, 4 bits length - 1. */
      if (id >= 15)
        return NULL;
      while (i < n)
        {
          guint8 eid = e[i] >> 4;
          gsize elen = (e[i] & 0x0f) + 1;

          if (e[i] == 0)
            {
              i++;            /* padding between elements */
              continue;
            }
          if (eid == 15)
            return NULL;      /* RFC 8285 4.2: id 15 ends the processing */
          i++;
          if (elen > n - i)
            return NULL;
          if (eid == id)
            {
              *len = elen;
              return e + i;
            }
          i += elen;
        }
      return NULL;
    }

  if ((h->ext_profile & 0xFFF0) == 0x1000)
    {
      /* Two-byte form: 8 bits id, 8 bits length (0 allowed); the low four
       * bits of the profile are application bits. */
      while (i < n)
        {
          guint8 eid = e[i];
          gsize elen;

          if (eid == 0)
            {
              i++;
              continue;
            }
          if (n - i < 2)
            return NULL;
          elen = e[i + 1];
          i += 2;
          if (elen > n - i)
            return NULL;
          if (eid == id)
            {
              *len = elen;
              return e + i;
            }
          i += elen;
        }
    }
  return NULL;
}

/* ---- RTCP parsing ----------------------------------------------------------- */

MmRtcpParser *
mm_rtcp_parser_new (void)
{
  return g_new0 (MmRtcpParser, 1);
}

void
mm_rtcp_parser_free (MmRtcpParser *p)
{
  if (p == NULL)
    return;
  g_free (p->received);
  g_free (p->delta_us);
  g_free (p);
}

static void
read_report_block (const guint8 *b, MmRtcpReportBlock *rb)
{
  rb->ssrc = mm_rd32 (b);
  rb->fraction_lost = b[4];
  rb->cumulative_lost = sign24 (mm_rd24 (b + 5));
  rb->highest_seq = mm_rd32 (b + 8);
  rb->jitter = mm_rd32 (b + 12);
  rb->lsr = mm_rd32 (b + 16);
  rb->dlsr = mm_rd32 (b + 20);
}

/* SR and RR: @pkt is the whole packet, @len its length without padding;
 * @info the bytes of sender info (20 for an SR, 0 for an RR). */
static gboolean
parse_report (const guint8 *pkt, gsize len, gsize info, MmRtcpItem *item)
{
  guint rc = pkt[0] & 0x1f;
  const guint8 *b = pkt + 8 + info;

  if (len < 8 + info + (gsize) rc * REPORT_BLOCK_LEN)
    return FALSE;
  item->sender_ssrc = mm_rd32 (pkt + 4);
  if (info > 0)
    {
      item->u.report.ntp = ((guint64) mm_rd32 (pkt + 8) << 32) | mm_rd32 (pkt + 12);
      item->u.report.rtp_ts = mm_rd32 (pkt + 16);
      item->u.report.packets = mm_rd32 (pkt + 20);
      item->u.report.octets = mm_rd32 (pkt + 24);
    }
  item->u.report.n_blocks = rc;
  for (guint i = 0; i < rc; i++)
    read_report_block (b + i * REPORT_BLOCK_LEN, &item->u.report.blocks[i]);
  return TRUE;
}

static void
twcc_reserve (MmRtcpParser *p, guint count)
{
  if (count <= p->capacity)
    return;
  p->received = g_renew (guint8, p->received, count);
  p->delta_us = g_renew (gint32, p->delta_us, count);
  p->capacity = count;
}

/* The feedback control information of a transport-wide cc packet (after
 * the media source's SSRC).  Section 3.1 of the draft: a header, packet
 * chunks until every status of the count is described, then one receive
 * delta per received packet, then zero padding. */
static gboolean
parse_twcc (MmRtcpParser *p, const guint8 *fci, gsize len, MmRtcpItem *item)
{
  guint count, n = 0;
  gsize off = 8;

  if (len < 8)
    return FALSE;
  item->u.twcc.base_seq = mm_rd16 (fci);
  count = mm_rd16 (fci + 2);
  item->u.twcc.reference_time = sign24 (mm_rd24 (fci + 4));
  item->u.twcc.fb_pkt_count = fci[7];
  /* A 16-bit field: 65535 at most, so the arrays never exceed that. */
  item->u.twcc.count = count;
  twcc_reserve (p, count);

  /* Status chunks; each symbol is 0 not received, 1 small delta, 2 large
   * or negative delta, 3 reserved.  Symbols past the count in the last
   * chunk are ignored. */
  while (n < count)
    {
      guint16 chunk;

      if (len - off < 2)
        return FALSE;   /* describes more packets than it holds chunks for */
      chunk = mm_rd16 (fci + off);
      off += 2;
      if ((chunk & 0x8000) == 0)
        {
          guint symbol = (chunk >> 13) & 0x3;
          guint run = chunk & 0x1fff;

          if (symbol == 3)
            return FALSE;
          for (guint i = 0; i < run && n < count; i++)
            p->received[n++] = symbol;
        }
      else if ((chunk & 0x4000) == 0)
        {
          /* 14 one-bit symbols, most significant first. */
          for (int bit = 13; bit >= 0 && n < count; bit--)
            p->received[n++] = (chunk >> bit) & 0x1;
        }
      else
        {
          /* 7 two-bit symbols. */
          for (int sh = 12; sh >= 0 && n < count; sh -= 2)
            {
              guint symbol = (chunk >> sh) & 0x3;

              if (symbol == 3)
                return FALSE;
              p->received[n++] = symbol;
            }
        }
    }

  /* The receive deltas, in units of 250 µs; the symbols become the
   * received flags the item promises. */
  for (guint i = 0; i < count; i++)
    {
      switch (p->received[i])
        {
        case 1:
          if (len - off < 1)
            return FALSE;
          p->delta_us[i] = (gint32) fci[off] * 250;
          off += 1;
          p->received[i] = 1;
          break;
        case 2:
          if (len - off < 2)
            return FALSE;
          p->delta_us[i] = (gint32) (gint16) mm_rd16 (fci + off) * 250;
          off += 2;
          p->received[i] = 1;
          break;
        default:
          p->delta_us[i] = 0;
          break;
        }
    }
  item->u.twcc.received = p->received;
  item->u.twcc.delta_us = p->delta_us;
  return TRUE;
}

/* A feedback packet (RFC 4585 6.1): @pkt is the whole packet, @len its
 * length without padding, at least 12.  Unknown formats are skipped. */
static gboolean
parse_feedback (MmRtcpParser *p, const guint8 *pkt, gsize len, MmRtcpVisit visit,
                gpointer data)
{
  MmRtcpItem item;
  guint fmt = pkt[0] & 0x1f;
  const guint8 *fci = pkt + 12;
  gsize fci_len = len - 12;

  memset (&item, 0, sizeof item);
  item.sender_ssrc = mm_rd32 (pkt + 4);
  item.media_ssrc = mm_rd32 (pkt + 8);

  if (pkt[1] == RTCP_RTPFB && fmt == RTPFB_NACK)
    {
      /* One or more FCIs of pid and blp. */
      if (fci_len == 0 || fci_len % 4 != 0)
        return FALSE;
      item.kind = MM_RTCP_NACK;
      for (gsize off = 0; off < fci_len; off += 4)
        {
          item.u.nack.pid = mm_rd16 (fci + off);
          item.u.nack.blp = mm_rd16 (fci + off + 2);
          visit (&item, data);
        }
    }
  else if (pkt[1] == RTCP_RTPFB && fmt == RTPFB_TWCC)
    {
      item.kind = MM_RTCP_TWCC;
      if (!parse_twcc (p, fci, fci_len, &item))
        return FALSE;
      visit (&item, data);
    }
  else if (pkt[1] == RTCP_PSFB && fmt == PSFB_PLI)
    {
      item.kind = MM_RTCP_PLI;
      visit (&item, data);
    }
  else if (pkt[1] == RTCP_PSFB && fmt == PSFB_FIR)
    {
      /* RFC 5104 4.3.1: entries of SSRC, sequence number, 24 reserved
       * bits; the packet's own media SSRC is unused. */
      if (fci_len == 0 || fci_len % 8 != 0)
        return FALSE;
      item.kind = MM_RTCP_FIR;
      for (gsize off = 0; off < fci_len; off += 8)
        {
          item.media_ssrc = mm_rd32 (fci + off);
          item.u.fir.seq_nr = fci[off + 4];
          visit (&item, data);
        }
    }
  else if (pkt[1] == RTCP_PSFB && fmt == PSFB_AFB && fci_len >= 4
           && memcmp (fci, "REMB", 4) == 0)
    {
      guint n, exp;
      guint64 mantissa;

      if (fci_len < 8)
        return FALSE;
      n = fci[4];
      exp = fci[5] >> 2;
      mantissa = mm_rd24 (fci + 5) & 0x3ffff;
      if (fci_len - 8 < 4 * (gsize) n)
        return FALSE;
      item.kind = MM_RTCP_REMB;
      /* An 18-bit mantissa shifted by up to 63: saturate rather than wrap
       * into a small number. */
      if (mantissa != 0 && exp > 46 && (mantissa >> (64 - exp)) != 0)
        item.u.remb.bitrate = G_MAXUINT64;
      else
        item.u.remb.bitrate = mantissa << exp;
      item.u.remb.n_ssrcs = MIN (n, REMB_MAX_SSRCS);
      for (guint i = 0; i < item.u.remb.n_ssrcs; i++)
        item.u.remb.ssrcs[i] = mm_rd32 (fci + 8 + 4 * i);
      visit (&item, data);
    }
  return TRUE;
}

gboolean
mm_rtcp_parse (MmRtcpParser *p, const guint8 *buf, gsize len, MmRtcpVisit visit, gpointer data)
{
  gsize off = 0;

  g_return_val_if_fail (p != NULL, FALSE);
  g_return_val_if_fail (visit != NULL, FALSE);

  if (buf == NULL || len < 4)
    return FALSE;
  while (off < len)
    {
      const guint8 *pkt = buf + off;
      gsize plen, body;
      MmRtcpItem item;

      if (len - off < 4 || (pkt[0] >> 6) != 2)
        return FALSE;
      plen = 4 * ((gsize) mm_rd16 (pkt + 2) + 1);
      if (plen > len - off)
        return FALSE;
      body = plen;
      if (pkt[0] & 0x20)
        {
          /* Padding (RFC 3550 6.4.1), counted by the packet's last octet. */
          guint8 pad = pkt[plen - 1];

          if (pad == 0 || pad > plen - 4)
            return FALSE;
          body -= pad;
        }
      off += plen;

      switch (pkt[1])
        {
        case RTCP_SR:
        case RTCP_RR:
          memset (&item, 0, sizeof item);
          item.kind = pkt[1] == RTCP_SR ? MM_RTCP_SR : MM_RTCP_RR;
          if (body < 8 || !parse_report (pkt, body, pkt[1] == RTCP_SR ? 20 : 0, &item))
            return FALSE;
          visit (&item, data);
          break;
        case RTCP_RTPFB:
        case RTCP_PSFB:
          if (body < 12 || !parse_feedback (p, pkt, body, visit, data))
            return FALSE;
          break;
        default:
          /* SDES, BYE, APP, XR and what we do not know: their length is
           * all we need from them. */
          break;
        }
    }
  return TRUE;
}

/* ---- RTCP writing ------------------------------------------------------------ */

/* The common header: version 2, no padding, @count, @pt, length in words
 * minus one of a packet of @len bytes. */
static void
write_header (guint8 *out, guint count, guint8 pt, gsize len)
{
  out[0] = 0x80 | (count & 0x1f);
  out[1] = pt;
  mm_wr16 (out + 2, (guint16) (len / 4 - 1));
}

gsize
mm_rtcp_write_sr (guint8 *out, gsize size, guint32 ssrc, guint64 ntp, guint32 rtp_ts,
                  guint32 packets, guint32 octets)
{
  const gsize len = 28;

  if (size < len)
    return 0;
  write_header (out, 0, RTCP_SR, len);
  mm_wr32 (out + 4, ssrc);
  mm_wr32 (out + 8, ntp >> 32);
  mm_wr32 (out + 12, ntp & 0xffffffff);
  mm_wr32 (out + 16, rtp_ts);
  mm_wr32 (out + 20, packets);
  mm_wr32 (out + 24, octets);
  return len;
}

gsize
mm_rtcp_write_rr (guint8 *out, gsize size, guint32 ssrc, const MmRtcpReportBlock *blocks,
                  guint n_blocks)
{
  gsize len;

  g_return_val_if_fail (n_blocks <= MM_RTCP_MAX_REPORT_BLOCKS, 0);
  len = 8 + (gsize) n_blocks * REPORT_BLOCK_LEN;
  if (size < len)
    return 0;
  write_header (out, n_blocks, RTCP_RR, len);
  mm_wr32 (out + 4, ssrc);
  for (guint i = 0; i < n_blocks; i++)
    {
      const MmRtcpReportBlock *rb = &blocks[i];
      guint8 *b = out + 8 + i * REPORT_BLOCK_LEN;
      gint32 lost = CLAMP (rb->cumulative_lost, -0x800000, 0x7fffff);

      mm_wr32 (b, rb->ssrc);
      /* Fraction and the 24-bit two's complement count in one word. */
      mm_wr32 (b + 4, ((guint32) rb->fraction_lost << 24) | ((guint32) lost & 0xffffff));
      mm_wr32 (b + 8, rb->highest_seq);
      mm_wr32 (b + 12, rb->jitter);
      mm_wr32 (b + 16, rb->lsr);
      mm_wr32 (b + 20, rb->dlsr);
    }
  return len;
}

gsize
mm_rtcp_write_pli (guint8 *out, gsize size, guint32 sender_ssrc, guint32 media_ssrc)
{
  const gsize len = 12;

  if (size < len)
    return 0;
  write_header (out, PSFB_PLI, RTCP_PSFB, len);
  mm_wr32 (out + 4, sender_ssrc);
  mm_wr32 (out + 8, media_ssrc);
  return len;
}

gsize
mm_rtcp_write_fir (guint8 *out, gsize size, guint32 sender_ssrc, guint32 media_ssrc,
                   guint8 seq_nr)
{
  const gsize len = 20;

  if (size < len)
    return 0;
  write_header (out, PSFB_FIR, RTCP_PSFB, len);
  mm_wr32 (out + 4, sender_ssrc);
  mm_wr32 (out + 8, 0);   /* RFC 5104 4.3.1.2: the media SSRC goes in the FCI */
  mm_wr32 (out + 12, media_ssrc);
  out[16] = seq_nr;
  out[17] = out[18] = out[19] = 0;
  return len;
}

static int
cmp_seq (const void *a, const void *b)
{
  return (int) *(const guint16 *) a - (int) *(const guint16 *) b;
}

gsize
mm_rtcp_write_nack (guint8 *out, gsize size, guint32 sender_ssrc, guint32 media_ssrc,
                    const guint16 *seqs, guint n)
{
  g_autofree guint16 *s = NULL;
  guint m = 0, start = 0, gap = 0, n_fci = 0;
  gsize len, off;

  if (n == 0)
    return 0;
  s = g_memdup2 (seqs, n * sizeof *seqs);
  qsort (s, n, sizeof *s, cmp_seq);
  for (guint i = 0; i < n; i++)
    if (m == 0 || s[i] != s[m - 1])
      s[m++] = s[i];

  /* Sequence numbers wrap: start after the widest gap between neighbours
   * (circularly), so that 65535 and 0 share an FCI. */
  for (guint i = 0; i < m; i++)
    {
      guint next = s[(i + 1) % m];
      guint d = (guint16) (next - s[i]);

      if (m == 1 || d > gap)
        {
          gap = d;
          start = (i + 1) % m;
        }
    }

  /* Count the FCIs first: each takes the next unreported number as pid
   * and the up to 16 that follow it within 16 as blp bits. */
  for (guint i = 0; i < m; n_fci++)
    {
      guint16 pid = s[(start + i) % m];

      i++;
      while (i < m && (guint16) (s[(start + i) % m] - pid) <= 16)
        i++;
    }
  len = 12 + 4 * (gsize) n_fci;
  if (size < len || len / 4 - 1 > G_MAXUINT16)
    return 0;

  write_header (out, RTPFB_NACK, RTCP_RTPFB, len);
  mm_wr32 (out + 4, sender_ssrc);
  mm_wr32 (out + 8, media_ssrc);
  off = 12;
  for (guint i = 0; i < m;)
    {
      guint16 pid = s[(start + i) % m], blp = 0;

      i++;
      while (i < m)
        {
          guint16 d = s[(start + i) % m] - pid;

          if (d > 16)
            break;
          blp |= 1 << (d - 1);
          i++;
        }
      mm_wr16 (out + off, pid);
      mm_wr16 (out + off + 2, blp);
      off += 4;
    }
  return len;
}

gsize
mm_rtcp_write_remb (guint8 *out, gsize size, guint32 sender_ssrc, guint64 bitrate,
                    const guint32 *ssrcs, guint n_ssrcs)
{
  guint exp = 0;
  gsize len;

  g_return_val_if_fail (n_ssrcs <= REMB_MAX_SSRCS, 0);
  len = 20 + 4 * (gsize) n_ssrcs;
  if (size < len)
    return 0;
  /* 18 bits of mantissa: drop low bits, rounding down so that we never
   * announce more than was estimated. */
  while (bitrate > 0x3ffff)
    {
      bitrate >>= 1;
      exp++;
    }
  write_header (out, PSFB_AFB, RTCP_PSFB, len);
  mm_wr32 (out + 4, sender_ssrc);
  mm_wr32 (out + 8, 0);   /* unused: the SSRCs follow */
  memcpy (out + 12, "REMB", 4);
  mm_wr32 (out + 16, ((guint32) n_ssrcs << 24) | (exp << 18) | (guint32) bitrate);
  for (guint i = 0; i < n_ssrcs; i++)
    mm_wr32 (out + 20 + 4 * i, ssrcs[i]);
  return len;
}

/* Transport-wide cc status symbols (the draft's 3.1.1). */
#define TWCC_NOT_RECEIVED 0
#define TWCC_SMALL 1         /* received, delta 0 to 255 units: one byte */
#define TWCC_LARGE 2         /* received, any other delta: two bytes, signed */
#define TWCC_MAX_RUN 0x1fff

/* A receive delta in units of 250 µs, rounded half away from zero and
 * clamped to what two bytes hold. */
static gint32
twcc_units (gint32 delta_us)
{
  gint64 u = delta_us >= 0 ? ((gint64) delta_us + 125) / 250 : -((125 - (gint64) delta_us) / 250);

  return (gint32) CLAMP (u, G_MININT16, G_MAXINT16);
}

static guint
twcc_symbol (const guint8 *received, const gint32 *delta_us, guint i)
{
  gint32 u;

  if (!received[i])
    return TWCC_NOT_RECEIVED;
  u = twcc_units (delta_us[i]);
  return u >= 0 && u <= 255 ? TWCC_SMALL : TWCC_LARGE;
}

/* The packet chunk for the statuses from @i on: a run of one symbol or a
 * status vector, whichever describes more (a run when they tie).  Returns
 * how many statuses *@chunk describes. */
static guint
twcc_chunk (const guint8 *received, const gint32 *delta_us, guint i, guint count,
            guint16 *chunk)
{
  guint first = twcc_symbol (received, delta_us, i);
  guint run = 1, n = MIN (14, count - i);
  gboolean large = FALSE;

  while (i + run < count && run < TWCC_MAX_RUN
         && twcc_symbol (received, delta_us, i + run) == first)
    run++;
  for (guint k = 0; k < n && !large; k++)
    large = twcc_symbol (received, delta_us, i + k) == TWCC_LARGE;
  if (large)
    n = MIN (7, count - i);
  if (run >= n)
    {
      *chunk = (guint16) (first << 13 | run);
      return run;
    }
  if (!large)
    {
      /* 14 one-bit symbols, most significant first; zeros past the count. */
      *chunk = 0x8000;
      for (guint k = 0; k < n; k++)
        *chunk |= (guint16) (twcc_symbol (received, delta_us, i + k) << (13 - k));
      return n;
    }
  /* 7 two-bit symbols. */
  *chunk = 0xc000;
  for (guint k = 0; k < n; k++)
    *chunk |= (guint16) (twcc_symbol (received, delta_us, i + k) << (12 - 2 * k));
  return n;
}

gsize
mm_rtcp_write_twcc (guint8 *out, gsize size, guint32 sender_ssrc, guint32 media_ssrc,
                    guint16 base_seq, guint16 count, gint32 reference_time,
                    guint8 fb_pkt_count, const guint8 *received, const gint32 *delta_us)
{
  gsize len = 20, off = 20;
  guint16 chunk;

  g_return_val_if_fail (count == 0 || (received != NULL && delta_us != NULL), 0);
  /* Measure first: chunks, then a byte per small delta and two per large
   * one (the symbol's value), then the padding. */
  for (guint i = 0; i < count;)
    {
      i += twcc_chunk (received, delta_us, i, count, &chunk);
      len += 2;
    }
  for (guint i = 0; i < count; i++)
    len += twcc_symbol (received, delta_us, i);
  len = (len + 3) & ~(gsize) 3;
  if (size < len || len / 4 - 1 > G_MAXUINT16)
    return 0;

  write_header (out, RTPFB_TWCC, RTCP_RTPFB, len);
  mm_wr32 (out + 4, sender_ssrc);
  mm_wr32 (out + 8, media_ssrc);
  mm_wr16 (out + 12, base_seq);
  mm_wr16 (out + 14, count);
  mm_wr32 (out + 16, ((guint32) reference_time & 0xffffff) << 8 | fb_pkt_count);
  for (guint i = 0; i < count;)
    {
      i += twcc_chunk (received, delta_us, i, count, &chunk);
      mm_wr16 (out + off, chunk);
      off += 2;
    }
  for (guint i = 0; i < count; i++)
    switch (twcc_symbol (received, delta_us, i))
      {
      case TWCC_SMALL:
        out[off++] = (guint8) twcc_units (delta_us[i]);
        break;
      case TWCC_LARGE:
        mm_wr16 (out + off, (guint16) (gint16) twcc_units (delta_us[i]));
        off += 2;
        break;
      default:
        break;
      }
  memset (out + off, 0, len - off);
  return len;
}

gsize
mm_rtcp_write_sdes (guint8 *out, gsize size, guint32 ssrc, const char *cname)
{
  gsize n, chunk, len;

  g_return_val_if_fail (cname != NULL, 0);
  n = strlen (cname);
  g_return_val_if_fail (n <= 255, 0);
  /* SSRC, CNAME item (type, length, text), then the null octet that ends
   * the item list and as many more as reach a 32-bit boundary
   * (RFC 3550 6.5). */
  chunk = (4 + 2 + n + 1 + 3) & ~(gsize) 3;
  len = 4 + chunk;
  if (size < len)
    return 0;
  write_header (out, 1, 202, len);
  mm_wr32 (out + 4, ssrc);
  out[8] = 1;   /* CNAME */
  out[9] = (guint8) n;
  memcpy (out + 10, cname, n);
  memset (out + 10 + n, 0, len - 10 - n);
  return len;
}

guint64
mm_rtcp_ntp_from_real_us (gint64 real_us)
{
  /* Floor division, so that times before 1970 still count up. */
  gint64 secs = real_us / G_USEC_PER_SEC;
  gint64 us = real_us % G_USEC_PER_SEC;

  if (us < 0)
    {
      us += G_USEC_PER_SEC;
      secs--;
    }
  return ((guint64) (secs + G_GINT64_CONSTANT (2208988800)) << 32)
         | (((guint64) us << 32) / G_USEC_PER_SEC);
}
