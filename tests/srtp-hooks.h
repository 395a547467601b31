/* srtp-hooks.h — what src/transport/srtp.c offers tests besides srtp.h
 * (declared there too, for -Wmissing-prototypes).
 */
#pragma once

#include "transport/srtp.h"

G_BEGIN_DECLS

/* An MmSrtp that leaves everything to libsrtp, outbound AES-GCM RTP too:
 * the reference ours is compared with.  Returns: (transfer full) */
MmSrtp *mm_srtp_test_new_libsrtp (const MmSrtpKeys *keys, gboolean outbound, GError **error);

/* Rekeys an outbound AES-GCM MmSrtp's RTP with a session @key (16 bytes)
 * and @salt (12), as if derived, and forgets every SSRC's index; FALSE
 * when @s does not protect RTP on OpenSSL. */
gboolean mm_srtp_test_set_session_key (MmSrtp *s, const guint8 *key, const guint8 *salt);

G_END_DECLS
