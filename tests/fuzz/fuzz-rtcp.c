/* fuzz-rtcp.c — libFuzzer target for what src/transport/rtcp.c reads from
 * the network: RTCP compound packets, RTP headers and their header
 * extensions.  The same bytes go to all three; the visitor reads every
 * field it is given, TWCC's arrays to their last entry, so that a length
 * the parser got wrong shows as an AddressSanitizer report.  A NACK
 * written from the input must parse back.
 */
#include "config.h"

#include "transport/rtcp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Where the fields go, so that reading them is not optimised away. */
static volatile guint64 sink;

static void
touch (const MmRtcpItem *item, gpointer data)
{
  guint64 s = item->kind + item->sender_ssrc + item->media_ssrc;

  switch (item->kind)
    {
    case MM_RTCP_SR:
    case MM_RTCP_RR:
      if (item->u.report.n_blocks > MM_RTCP_MAX_REPORT_BLOCKS)
        abort ();
      s += item->u.report.ntp + item->u.report.rtp_ts + item->u.report.packets
           + item->u.report.octets;
      for (guint i = 0; i < item->u.report.n_blocks; i++)
        {
          const MmRtcpReportBlock *b = &item->u.report.blocks[i];

          s += b->ssrc + b->fraction_lost + b->cumulative_lost + b->highest_seq + b->jitter
               + b->lsr + b->dlsr;
        }
      break;
    case MM_RTCP_FIR:
      s += item->u.fir.seq_nr;
      break;
    case MM_RTCP_NACK:
      s += item->u.nack.pid + item->u.nack.blp;
      break;
    case MM_RTCP_REMB:
      if (item->u.remb.n_ssrcs > G_N_ELEMENTS (item->u.remb.ssrcs))
        abort ();
      s += item->u.remb.bitrate;
      for (guint i = 0; i < item->u.remb.n_ssrcs; i++)
        s += item->u.remb.ssrcs[i];
      break;
    case MM_RTCP_TWCC:
      s += item->u.twcc.base_seq + item->u.twcc.reference_time + item->u.twcc.fb_pkt_count;
      for (guint i = 0; i < item->u.twcc.count; i++)
        {
          /* Only received packets have a delta. */
          if (item->u.twcc.received[i] > 1 || (!item->u.twcc.received[i]
                                               && item->u.twcc.delta_us[i] != 0))
            abort ();
          s += item->u.twcc.received[i] + item->u.twcc.delta_us[i];
        }
      break;
    case MM_RTCP_PLI:
    default:
      break;
    }
  sink += s;
}

static void
count_nack (const MmRtcpItem *item, gpointer data)
{
  if (item->kind != MM_RTCP_NACK)
    abort ();
  (*(guint *) data)++;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* One parser for the whole run, as one lives as long as its endpoint:
   * TWCC's arrays grown for an earlier input must serve a later one. */
  static MmRtcpParser *parser;
  MmRtpHeader h;

  if (parser == NULL)
    parser = mm_rtcp_parser_new ();
  mm_rtcp_parse (parser, data, size, touch, NULL);

  if (mm_rtp_parse (data, size, &h))
    {
      if (h.header_len + h.payload_len > size || (h.ext != NULL && h.ext + h.ext_len > data + size))
        abort ();
      for (guint id = 0; id < 256; id++)
        {
          gsize len = 0;
          const guint8 *e = mm_rtp_find_extension (&h, id, &len);

          if (e != NULL)
            {
              if (e < h.ext || e + len > h.ext + h.ext_len)
                abort ();
              for (gsize i = 0; i < len; i++)
                sink += e[i];
            }
        }
    }

  /* The input as sequence numbers to NACK: the packet written parses
   * whole, in no more FCIs than numbers. */
  if (size >= 2 && size <= 2048)
    {
      guint16 seqs[1024];
      guint8 out[12 + 4 * G_N_ELEMENTS (seqs)];
      guint n = size / 2, fcis = 0;
      gsize len;

      for (guint i = 0; i < n; i++)
        seqs[i] = (guint16) (data[2 * i] << 8 | data[2 * i + 1]);
      len = mm_rtcp_write_nack (out, sizeof out, 1, 2, seqs, n);
      if (len < 16 || !mm_rtcp_parse (parser, out, len, count_nack, &fcis)
          || fcis != (len - 12) / 4 || fcis > n)
        abort ();
    }
  return 0;
}
