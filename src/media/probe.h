/* probe.h — timestamps for the latency benchmark (bench/), off by default.
 *
 * With MIXMEET_PROBE_LOG set to a file name, mixmeetd appends one line per
 * event to that file, each with the wall-clock time (g_get_real_time, µs)
 * at which it was seen, so that bench/ can put the server's own times next
 * to the bots' (on one machine the clocks are the same):
 *
 *   in  PEER SSRC RTP_TS US   first RTP packet of a new video frame from
 *                             PEER, as the transport hands it over
 *                             (after SRTP, before the jitter buffer)
 *   out * SSRC RTP_TS US      first RTP packet of a new video frame of the
 *                             composite, as it goes to the transport, which
 *                             protects and sends it to every receiver then
 *   mix PTS PRESENT US        a composite frame at the compositor's output in
 *                             which MIXMEET_PROBE_COLOR (RRGGBB) appears
 *                             (PRESENT 1) or is gone (0)
 *   enc PTS US                that frame leaving the encoder
 *   ain, aout PEER SSRC RTP_TS US   as in and out, for every audio packet
 *   adec PEER PTS LOUD US RT  PEER's decoded voice gets loud or quiet (as
 *                             amix); RT: the running time then
 *   amix PTS LOUD US RT       the room's full audio mix (before its encoder)
 *                             rises above -30 dBFS (LOUD 1) or falls below
 *                             -40 (0)
 *   aenc PTS US               the encoded frame holding that change
 *                             leaving the encoder (PTS: the change's)
 *
 * Only packets of payload type MIXMEET_PROBE_PT (default 96, the VP8 type
 * of mixmeet-bot and Chromium) count as video, and of MIXMEET_PROBE_APT
 * (default 111, their Opus type) as audio.  Without MIXMEET_PROBE_LOG
 * the functions below do nothing and add no probe.
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* The packets received from participant @peer_id (@out FALSE), or sent
 * ("*" for everyone, @out TRUE): log the first of each frame.  NULL when
 * probing is off; the functions take NULL.  Any thread.
 * Returns: (transfer full) (nullable) */
typedef struct _MmProbeRtp MmProbeRtp;
MmProbeRtp *mm_probe_rtp_new (const char *peer_id, gboolean out);
void mm_probe_rtp_note (MmProbeRtp *s, const guint8 *buf, gsize len);
void mm_probe_rtp_free (MmProbeRtp *s);

/* Watch the raw composite at @compositor's output and the encoded one at
 * @encoder's (both transfer none). */
void mm_probe_composite (GstElement *compositor, GstElement *encoder);

/* Watch the decoded voice of @peer_id at @decoded's output (S16LE;
 * transfer none, the id copied). */
void mm_probe_voice (GstElement *decoded, const char *peer_id);

/* Watch the raw mix at @mixer's output (S16LE) and the encoded one at
 * @encoder's (both transfer none). */
void mm_probe_audio_mix (GstElement *mixer, GstElement *encoder);

G_END_DECLS
