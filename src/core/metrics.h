/* metrics.h — process-wide counters for /metrics, and the process's own
 * figures (CPU, memory, descriptors, threads) read from /proc.
 *
 * Threads: every function may be called from any thread (libmicrohttpd's,
 * the workers, streaming threads, the main loop); the counters are kept
 * under one lock.  Per-room figures live with the rooms (media/stats.h).
 */
#pragma once

#include <glib.h>

#include "core/prom.h"

G_BEGIN_DECLS

/* One finished HTTP request: @route is the pattern of the route table
 * ("/api/v1/rooms/{code}/join"), "static" for the web root or
 * "unmatched"; @status 0 when no response was sent (the client went
 * away first); @seconds from its first byte to its completion. */
void mm_metrics_http_request (const char *method, const char *route, guint status,
                              gdouble seconds);

/* A connection refused by [server] max-connections-per-address. */
void mm_metrics_connection_refused (void);

/* Media counters of every room since the start: RTP as the transport
 * counts it (SRTP datagrams and their bytes; "in" from participants,
 * "out" to them), and the keyframes forced. */
typedef struct {
  guint64 packets_in;
  guint64 bytes_in;
  guint64 packets_out;
  guint64 bytes_out;
  guint64 packets_lost;       /* incoming, from RTP sequence numbers */
  guint64 pli_received;       /* keyframe requests from receivers */
  guint64 fir_received;
  guint64 keyframes_forced;   /* force-key-unit requests the encoder acted on */
} MmMediaTotals;

/* Add @delta to the totals. */
void mm_metrics_media_add (const MmMediaTotals *delta);

/* What the transport dropped, by reason (transport/transport.h). */
typedef struct {
  const char *reason;
  guint64 count;
} MmMetricsDrop;

/* Write the HTTP families, the media totals (the RTP ones from @rtp,
 * keyframes forced from what mm_metrics_media_add was given; @drops: @n
 * counters of dropped datagrams) and the process families. */
void mm_metrics_write_http (MmProm *p);
void mm_metrics_write_media (MmProm *p, const MmMediaTotals *rtp, const MmMetricsDrop *drops,
                             guint n_drops);
void mm_metrics_write_process (MmProm *p);

G_END_DECLS
