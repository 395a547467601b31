/* twcc.h — the transport-wide congestion control feedback we send for
 * what we receive (draft-holmer-rmcat-transport-wide-cc-extensions-01).
 *
 * A browser that negotiated the transport-wide sequence number with us
 * estimates its uplink from this feedback alone (Chromium's send-side
 * estimator): without it, its estimate of the link to us sinks to the
 * lowest rate and its camera is sent at ~30 kbit/s, at a few frames a
 * second, with every change of the picture spread over several frames.
 *
 * Every packet that carries the number is noted with its arrival time;
 * a feedback then describes every number from the first not yet
 * described to the highest arrived, those missing as not received.  A
 * packet that arrives after a feedback described it as lost stays lost
 * (the sender has acted on it already), as in libwebrtc.
 *
 * Not thread-safe: one thread (the transport's) notes and writes.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* How many numbers one feedback can describe; a jump further than that
 * from the first undescribed number gives the ones before up. */
#define MM_TWCC_SPAN 1024

typedef struct {
  gboolean started;
  guint16 base;                   /* the next feedback's first number */
  guint n;                        /* numbers noted from @base on (up to the highest + 1) */
  gint64 arrival_us[MM_TWCC_SPAN];   /* by number - base; 0: not arrived */
  guint8 fb_count;                /* the next feedback's packet count */
  guint64 late, skipped;          /* packets noted too late, numbers given up */
} MmTwccRecorder;

void mm_twcc_recorder_init (MmTwccRecorder *r);
/* A packet with transport-wide sequence number @seq arrived at @at_us
 * (monotonic). */
void mm_twcc_recorder_note (MmTwccRecorder *r, guint16 seq, gint64 at_us);
/* Whether a feedback would describe anything. */
gboolean mm_twcc_recorder_pending (const MmTwccRecorder *r);
/* The feedback on every number noted since the previous one, into @out
 * (@size bytes): the reference time is the first arrival's, the deltas
 * in whole 250 µs units of the monotonic clock (so that they add up).
 * Returns its length, 0 when nothing is pending or @size is too small
 * (then the numbers stay pending). */
gsize mm_twcc_recorder_write (MmTwccRecorder *r, guint8 *out, gsize size, guint32 sender_ssrc,
                              guint32 media_ssrc);

G_END_DECLS
