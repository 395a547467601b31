/* history.h — the last packets of an outgoing RTP stream, by sequence
 * number, for answering NACKs (RFC 4585).
 *
 * One history per stream the room sends, shared by all its receivers: it
 * holds the packets as the payloader made them, unprotected; each resend
 * is protected for the endpoint that asked.  A fixed ring of @capacity
 * slots (rounded up to a power of two), each up to MM_HISTORY_MAX_PACKET
 * bytes, allocated once.  Not thread-safe: the stream's lock guards it.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MM_HISTORY_MAX_PACKET 1500

typedef struct _MmRtpHistory MmRtpHistory;

/* Returns: (transfer full) */
MmRtpHistory *mm_rtp_history_new (guint capacity);
void mm_rtp_history_free (MmRtpHistory *h);

/* Keep the RTP packet @buf (its sequence number read from it; a packet
 * too short or too long is not kept). */
void mm_rtp_history_put (MmRtpHistory *h, const guint8 *buf, gsize len);

/* The packet with sequence number @seq if it is still held, else NULL.
 * Returns: (transfer none): valid until the next put. */
const guint8 *mm_rtp_history_get (MmRtpHistory *h, guint16 seq, gsize *len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MmRtpHistory, mm_rtp_history_free)

G_END_DECLS
