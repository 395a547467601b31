/* demux.h — what a datagram on the media port is, by its first byte.
 *
 * One UDP port carries STUN, DTLS, and SRTP/SRTCP for every endpoint
 * (RFC 7983, section 7): the first byte tells them apart, and RTCP is told
 * from RTP on a muxed port by its packet type (RFC 5761, section 4).
 * Pure functions: no state, any thread.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  MM_PACKET_UNKNOWN,   /* to be dropped: empty, ZRTP, TURN channel, ... */
  MM_PACKET_STUN,      /* first byte 0..3 */
  MM_PACKET_DTLS,      /* 20..63 */
  MM_PACKET_RTP,       /* 128..191, packet type not an RTCP one */
  MM_PACKET_RTCP,      /* 128..191, packet type 192..223 */
} MmPacketKind;

/* The kind of the @len bytes at @buf.  A datagram too short for the header
 * of its kind is MM_PACKET_UNKNOWN (STUN: 20 bytes, RTP: 12, RTCP: 8,
 * DTLS: 13). */
MmPacketKind mm_packet_classify (const guint8 *buf, gsize len);

/* A name for logs and counters ("stun", "dtls", "rtp", "rtcp",
 * "unknown"). */
const char *mm_packet_kind_name (MmPacketKind kind);

G_END_DECLS
