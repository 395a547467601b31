/* fuzz-stun.c — libFuzzer target for the first things a datagram on the
 * media port meets: mm_packet_classify, and mm_stun_handle with a lookup
 * that knows one ufrag.  The seed corpus holds a Binding request signed
 * with that ufrag's password (tests/fuzz/README.md), so that mutations
 * reach past the integrity check's parsing.  An answer is checked to fit
 * the reply buffer and to name the known ufrag.
 */
#include "config.h"

#include "transport/demux.h"
#include "transport/stun.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define UFRAG "srvU"
#define PASSWORD "server-password-0123456789ab"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const char *
lookup (const char *ufrag, gpointer data)
{
  return strcmp (ufrag, UFRAG) == 0 ? PASSWORD : NULL;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static MmStun *stun;
  struct sockaddr_in from;
  MmStunCheck check;
  guint8 reply[1280];
  MmPacketKind kind;
  gsize n;

  if (stun == NULL)
    stun = mm_stun_new ();

  kind = mm_packet_classify (data, size);
  if (mm_packet_kind_name (kind) == NULL)
    abort ();

  memset (&from, 0, sizeof from);
  from.sin_family = AF_INET;
  from.sin_port = htons (50123);
  from.sin_addr.s_addr = htonl (0xc0000207);   /* 192.0.2.7 */
  memset (&check, 0, sizeof check);
  n = mm_stun_handle (stun, data, size, (const struct sockaddr *) &from, sizeof from, lookup,
                      NULL, reply, sizeof reply, &check);
  if (n > sizeof reply || (n > 0 && (kind != MM_PACKET_STUN || strcmp (check.ufrag, UFRAG) != 0)))
    abort ();
  return 0;
}
