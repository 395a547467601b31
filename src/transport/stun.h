/* stun.h — the ICE-lite side of connectivity checks, on libnice's STUN
 * library (stun/usages/ice.h).
 *
 * mixmeetd is the lite, controlled agent: it never sends checks, it answers
 * the browser's Binding requests.  A request is answered only when its
 * USERNAME ("OURS:THEIRS") names a local ufrag the lookup knows and its
 * MESSAGE-INTEGRITY verifies with that ufrag's password; the answer is a
 * success response with XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY and
 * FINGERPRINT.  Everything else (not STUN, a response, an indication, an
 * unknown ufrag, a bad integrity or fingerprint) gets no answer: an
 * off-path sender learns nothing.
 *
 * An MmStun is used by one thread at a time (the socket's).
 */
#pragma once

#include <glib.h>
#include <sys/socket.h>

G_BEGIN_DECLS

typedef struct _MmStun MmStun;

/* Longest ICE ufrag we accept (RFC 8839: 4 to 256 characters). */
#define MM_STUN_MAX_UFRAG 256

/* The password of the local @ufrag, or NULL if no endpoint has it.
 * Returns: (transfer none): valid until mm_stun_handle returns. */
typedef const char *(*MmStunLookup) (const char *ufrag, gpointer data);

/* What a request that was answered said. */
typedef struct {
  char ufrag[MM_STUN_MAX_UFRAG + 1];  /* the local ufrag: which endpoint */
  gboolean use_candidate;             /* the controlling agent nominates */
  guint32 priority;                   /* PRIORITY of the peer's candidate */
} MmStunCheck;

/* Returns: (transfer full) */
MmStun *mm_stun_new (void);
void mm_stun_free (MmStun *stun);

/* Handle the STUN datagram of @len bytes at @buf, received from @from.
 * When it is a Binding request for a known ufrag with valid credentials,
 * write the response into @reply (of @reply_size bytes; 1280 is plenty),
 * fill @check and return the response's length; otherwise return 0 and
 * leave @check alone. */
gsize mm_stun_handle (MmStun *stun, const guint8 *buf, gsize len,
                      const struct sockaddr *from, socklen_t from_len,
                      MmStunLookup lookup, gpointer data,
                      guint8 *reply, gsize reply_size, MmStunCheck *check);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MmStun, mm_stun_free)

G_END_DECLS
