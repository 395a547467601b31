/* rtcp.h — reading and writing the RTCP a WebRTC endpoint exchanges.
 *
 * Parsing walks a compound packet (after SRTCP unprotect) and hands each
 * item it understands to a visitor: sender and receiver reports (with
 * their report blocks), PLI, FIR, generic NACK, REMB and transport-wide
 * congestion control feedback (draft-holmer-rmcat-transport-wide-cc-
 * extensions-01).  Lengths are checked against the datagram: a packet
 * whose length field lies stops the walk (the items before it were
 * visited) and mm_rtcp_parse returns FALSE.  No allocation per packet
 * except for TWCC, whose arrays live in the MmRtcpParser.
 *
 * Writers fill a caller's buffer and return the bytes written, or 0 when
 * it is too small.  Pure functions otherwise: any thread.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* RTP header fields, read without copying.  FALSE if @len is too short
 * or the version is not 2 (CSRCs, the extension and padding are checked
 * against @len). */
typedef struct {
  gboolean marker;
  guint8 pt;
  guint16 seq;
  guint32 ts;
  guint32 ssrc;
  gsize header_len;    /* up to the payload: fixed header, CSRCs, extension */
  gsize payload_len;   /* without padding */
  const guint8 *ext;   /* the header extension's data (after its 4-byte header), or NULL */
  gsize ext_len;
  guint16 ext_profile; /* 0xBEDE (one-byte), 0x100X (two-byte; X: appbits) or other */
} MmRtpHeader;

gboolean mm_rtp_parse (const guint8 *buf, gsize len, MmRtpHeader *h);

/* The data of one-/two-byte header extension element @id (RFC 8285) in
 * @h, or NULL.  *@len is its length. */
const guint8 *mm_rtp_find_extension (const MmRtpHeader *h, guint8 id, gsize *len);

typedef enum {
  MM_RTCP_SR,
  MM_RTCP_RR,
  MM_RTCP_PLI,
  MM_RTCP_FIR,
  MM_RTCP_NACK,
  MM_RTCP_REMB,
  MM_RTCP_TWCC,
} MmRtcpKind;

typedef struct {
  guint32 ssrc;           /* the source reported on */
  guint8 fraction_lost;   /* of 256 */
  gint32 cumulative_lost; /* 24-bit signed */
  guint32 highest_seq;    /* extended */
  guint32 jitter;
  guint32 lsr, dlsr;
} MmRtcpReportBlock;

#define MM_RTCP_MAX_REPORT_BLOCKS 31

typedef struct {
  MmRtcpKind kind;
  guint32 sender_ssrc;
  guint32 media_ssrc;   /* PLI, NACK, TWCC: the stream fed back on; FIR: the FCI's */
  union {
    struct {
      guint64 ntp;                 /* SR only */
      guint32 rtp_ts, packets, octets;  /* SR only */
      guint n_blocks;
      MmRtcpReportBlock blocks[MM_RTCP_MAX_REPORT_BLOCKS];
    } report;
    struct {
      guint8 seq_nr;
    } fir;
    struct {
      guint16 pid;   /* one FCI: the lost packet and the 16 after it in blp */
      guint16 blp;
    } nack;
    struct {
      guint64 bitrate;             /* bit/s */
      guint n_ssrcs;
      guint32 ssrcs[16];
    } remb;
    struct {
      guint16 base_seq;
      guint16 count;               /* packets described */
      gint32 reference_time;       /* multiples of 64 ms (24-bit signed) */
      guint8 fb_pkt_count;
      const guint8 *received;      /* count entries: 1 received, 0 not */
      const gint32 *delta_us;      /* count entries: receive delta of a received one */
    } twcc;
  } u;
} MmRtcpItem;

typedef void (*MmRtcpVisit) (const MmRtcpItem *item, gpointer data);

typedef struct _MmRtcpParser MmRtcpParser;

/* Returns: (transfer full) */
MmRtcpParser *mm_rtcp_parser_new (void);
void mm_rtcp_parser_free (MmRtcpParser *p);

/* Walk the compound packet @buf.  Items other than those above (SDES,
 * BYE, APP, XR, unknown feedback) are skipped.  Returns FALSE when the
 * packet is malformed (bad version, a length past the end, a TWCC
 * packet that describes more than it holds). */
gboolean mm_rtcp_parse (MmRtcpParser *p, const guint8 *buf, gsize len, MmRtcpVisit visit,
                        gpointer data);

/* Writers.  NTP time is 32.32 fixed point. */
gsize mm_rtcp_write_sr (guint8 *out, gsize size, guint32 ssrc, guint64 ntp, guint32 rtp_ts,
                        guint32 packets, guint32 octets);
gsize mm_rtcp_write_rr (guint8 *out, gsize size, guint32 ssrc, const MmRtcpReportBlock *blocks,
                        guint n_blocks);
gsize mm_rtcp_write_pli (guint8 *out, gsize size, guint32 sender_ssrc, guint32 media_ssrc);
gsize mm_rtcp_write_fir (guint8 *out, gsize size, guint32 sender_ssrc, guint32 media_ssrc,
                         guint8 seq_nr);
/* Generic NACK for the @n sequence numbers @seqs (any order; packed into
 * as few FCIs as they fit). */
gsize mm_rtcp_write_nack (guint8 *out, gsize size, guint32 sender_ssrc, guint32 media_ssrc,
                          const guint16 *seqs, guint n);
gsize mm_rtcp_write_remb (guint8 *out, gsize size, guint32 sender_ssrc, guint64 bitrate,
                          const guint32 *ssrcs, guint n_ssrcs);
/* Transport-wide congestion control feedback (draft-holmer-rmcat-
 * transport-wide-cc-extensions-01 3.1): the @count packets from transport
 * sequence number @base_seq on, @received[i] non-zero for those that
 * arrived, @delta_us[i] their receive delta as mm_rtcp_parse gives it back
 * (the first received packet's from @reference_time, in multiples of 64 ms
 * (24-bit signed), the others' from the previous received one).  Deltas
 * are rounded to the 250 µs unit and clamped to what two bytes hold
 * (±8.19 s); those of 0 to 63.75 ms take one byte.  Packet chunks are runs
 * of one status where that is shorter, status vectors otherwise; the
 * packet is zero-padded to 32 bits. */
gsize mm_rtcp_write_twcc (guint8 *out, gsize size, guint32 sender_ssrc, guint32 media_ssrc,
                          guint16 base_seq, guint16 count, gint32 reference_time,
                          guint8 fb_pkt_count, const guint8 *received, const gint32 *delta_us);
/* An SDES packet with one CNAME chunk. */
gsize mm_rtcp_write_sdes (guint8 *out, gsize size, guint32 ssrc, const char *cname);

/* The NTP time (32.32) of the wall-clock time @real_us (g_get_real_time). */
guint64 mm_rtcp_ntp_from_real_us (gint64 real_us);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MmRtcpParser, mm_rtcp_parser_free)

G_END_DECLS
