/* demux.c — RFC 7983 demultiplexing by the first byte. */
#include "config.h"

#include "transport/demux.h"

MmPacketKind
mm_packet_classify (const guint8 *buf, gsize len)
{
  guint8 b;

  if (buf == NULL || len == 0)
    return MM_PACKET_UNKNOWN;
  b = buf[0];
  if (b <= 3)
    return len >= 20 ? MM_PACKET_STUN : MM_PACKET_UNKNOWN;
  if (b >= 20 && b <= 63)
    return len >= 13 ? MM_PACKET_DTLS : MM_PACKET_UNKNOWN;
  if (b >= 128 && b <= 191)
    {
      /* RFC 5761: RTCP packet types 192..223 sit where RTP's marker bit
       * and payload type are; RTP payload types 64..95 are not used for
       * that reason. */
      if (len >= 2 && buf[1] >= 192 && buf[1] <= 223)
        return len >= 8 ? MM_PACKET_RTCP : MM_PACKET_UNKNOWN;
      return len >= 12 ? MM_PACKET_RTP : MM_PACKET_UNKNOWN;
    }
  return MM_PACKET_UNKNOWN;
}

const char *
mm_packet_kind_name (MmPacketKind kind)
{
  switch (kind)
    {
    case MM_PACKET_STUN: return "stun";
    case MM_PACKET_DTLS: return "dtls";
    case MM_PACKET_RTP: return "rtp";
    case MM_PACKET_RTCP: return "rtcp";
    case MM_PACKET_UNKNOWN:
    default: return "unknown";
    }
}
