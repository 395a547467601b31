/* transport.h — mixmeetd's own WebRTC transport: every endpoint of every
 * room on one UDP port.
 *
 *   socket ─▶ demux (demux.h) ─▶ STUN: ICE-lite responder (stun.h), by ufrag
 *                              ─▶ DTLS: the endpoint of the remote address (dtls.h)
 *                              ─▶ SRTP/SRTCP: the same, unprotected (srtp.h)
 *   room ─▶ MmStream ─▶ for each subscribed endpoint: rewrite, protect, sendmmsg
 *
 * An MmTransport owns one UDP socket and one thread with its own
 * GMainContext, on which every datagram is received and every endpoint's
 * ICE, DTLS and RTCP state lives.  The room hands its payloaded packets to
 * an MmStream from its own streaming thread: they are rewritten (payload
 * type, SSRC, sequence numbers, timestamps, the transport-wide sequence
 * number extension), protected and sent for every endpoint subscribed to
 * the stream on that thread, in sendmmsg batches, without a GStreamer
 * element, queue or thread per endpoint.
 *
 * The endpoint is the ICE-lite, controlled agent: the remote (browser,
 * mixmeet-bot) sends the connectivity checks; the address whose check
 * carried USE-CANDIDATE is where media goes (until a nominated check comes
 * from another: a client whose network changed).  An endpoint that sent
 * no valid check and no authenticated RTCP for consent-timeout seconds is
 * closed (RFC 7675; libnice, as in webrtcbin, refreshes a pair with STUN
 * indications every 25 s only, but every receiver sends reports).
 *
 * Bad input — truncated or garbage datagrams, STUN with a wrong password
 * or fingerprint, an unknown ufrag, DTLS garbage, replayed or forged
 * SRTP, RTP from an address that never did ICE, RTCP with lying lengths —
 * is counted (MmTransportStats), logged once per kind, and dropped.
 */
#pragma once

#include <glib.h>

#include "transport/dtls.h"

G_BEGIN_DECLS

typedef struct _MmTransport MmTransport;
typedef struct _MmEndpoint MmEndpoint;
typedef struct _MmStream MmStream;

typedef struct {
  /* To bind: "127.0.0.1", "0.0.0.0", "::", ...  On a wildcard, replies
   * leave from the address each remote sent to (IP_PKTINFO). */
  const char *address;
  guint16 port;                  /* 0: any free port (tests) */
  /* (nullable) The addresses our candidates announce: when NULL, the bound
   * address, or for a wildcard every interface's and loopback. */
  const char *const *announce;
  guint consent_timeout_s;       /* 30 */
} MmTransportConfig;

/* Bind the socket and start the transport's thread.
 * Returns: (transfer full) or NULL with @error (address in use, ...). */
MmTransport *mm_transport_new (const MmTransportConfig *config, GError **error);
/* Stop the thread and close the socket.  Every endpoint must be closed and
 * every stream freed first. */
void mm_transport_free (MmTransport *t);

guint16 mm_transport_port (MmTransport *t);
/* "sha-256 AB:CD:...".  Returns: (transfer none) */
const char *mm_transport_fingerprint (MmTransport *t);
/* One host candidate per announced address, as SDP carries them without
 * "a=" ("candidate:1 1 udp 2130706431 192.0.2.1 10000 typ host").
 * Returns: (transfer full) */
GStrv mm_transport_candidates (MmTransport *t);

typedef struct {
  guint64 datagrams_in, bytes_in;
  guint64 datagrams_out, bytes_out;
  guint64 stun_answered;
  /* media: SRTP unprotected from endpoints, SRTP sent to them (with
   * retransmissions), packets missing from what they sent (as our
   * receiver reports count them), PLI and FIR received */
  guint64 rtp_in, rtp_bytes_in, rtp_out, rtp_bytes_out, rtp_lost, pli_in, fir_in;
  /* dropped, by reason */
  guint64 unknown;         /* not STUN, DTLS, RTP or RTCP */
  guint64 stun_refused;    /* unknown ufrag, wrong password, bad fingerprint, not a request */
  guint64 unknown_address; /* DTLS or SRTP from an address that did no ICE */
  guint64 dtls_bad;        /* records OpenSSL refused */
  guint64 srtp_auth;       /* SRTP/SRTCP authentication failed */
  guint64 srtp_replay;
  guint64 rtcp_malformed;
  guint64 send_errors;
  guint n_endpoints;
} MmTransportStats;

/* Any thread. */
void mm_transport_get_stats (MmTransport *t, MmTransportStats *out);

/* ---- endpoints ----------------------------------------------------------- */

typedef enum {
  MM_ENDPOINT_CHECKING,    /* waiting for ICE and DTLS */
  MM_ENDPOINT_CONNECTED,   /* SRTP keys in place: media flows */
  MM_ENDPOINT_CLOSED,      /* for good: DTLS failed, consent expired, DTLS closed */
} MmEndpointState;

typedef struct {
  /* Transport thread.  CONNECTED once; CLOSED at most once, with @reason
   * ("consent expired: no STUN for 30 s", "DTLS handshake failed: ...",
   * "the remote closed DTLS"); never for mm_endpoint_close. */
  void (*state) (MmEndpoint *ep, MmEndpointState state, const char *reason, gpointer data);
  /* Transport thread: an RTP packet from the remote, unprotected.
   * @buf: (transfer none): copy what you keep. */
  void (*rtp) (MmEndpoint *ep, const guint8 *buf, gsize len, gpointer data);
  gpointer data;
  /* Called once, on the transport thread, when no callback can run any
   * more (after mm_endpoint_close). */
  GDestroyNotify destroy;
} MmEndpointCallbacks;

typedef struct {
  const char *remote_ufrag;
  const char *remote_pwd;
  const char *remote_fingerprint;  /* "sha-256 AB:CD:..." */
  MmDtlsRole role;                 /* ours */
  /* The id the remote negotiated for the transport-wide sequence number
   * extension (http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01),
   * 0 for none: every packet we send it carries one. */
  guint8 twcc_ext_id;
} MmEndpointConfig;

/* A new endpoint with fresh local ICE credentials, reachable as soon as
 * this returns.  @cb is copied.  Returns: (transfer full) or NULL with
 * @error (a fingerprint that cannot be read). */
MmEndpoint *mm_endpoint_new (MmTransport *t, const MmEndpointConfig *config,
                             const MmEndpointCallbacks *cb, GError **error);
MmEndpoint *mm_endpoint_ref (MmEndpoint *ep);
void mm_endpoint_unref (MmEndpoint *ep);

/* The current local ICE credentials (new ones after
 * mm_endpoint_restart_ice).  Returns: (transfer none): every string
 * returned stays valid for the endpoint's life. */
const char *mm_endpoint_ufrag (MmEndpoint *ep);
const char *mm_endpoint_pwd (MmEndpoint *ep);

/* An ICE restart (the remote's new credentials in a new offer with the
 * same DTLS fingerprint): new local credentials, the same DTLS session and
 * SRTP keys.  Any thread. */
void mm_endpoint_restart_ice (MmEndpoint *ep, const char *remote_ufrag, const char *remote_pwd);

/* Close: no packet is sent or delivered from now on; callbacks already
 * running may finish, then @destroy runs.  Any thread, idempotent. */
void mm_endpoint_close (MmEndpoint *ep);

MmEndpointState mm_endpoint_state (MmEndpoint *ep);

/* Feedback to a remote that sends us media (any thread; dropped until
 * connected).  Receiver reports for every SSRC it sends are the
 * transport's own business, once a second. */
void mm_endpoint_request_keyframe (MmEndpoint *ep, guint32 media_ssrc);
void mm_endpoint_nack (MmEndpoint *ep, guint32 media_ssrc, const guint16 *seqs, guint n);
/* Tell the remote how much it may send (REMB, once a second from now on;
 * 0 stops). */
void mm_endpoint_set_max_bitrate (MmEndpoint *ep, guint64 bps);

typedef struct {
  guint64 packets_in, bytes_in;        /* SRTP received and unprotected */
  guint64 packets_out, bytes_out;      /* SRTP sent */
  guint64 nacks_in;                    /* sequence numbers asked for */
  guint64 retransmits;                 /* of them, resent from the history */
  guint64 keyframe_requests_in;        /* PLI and FIR */
  guint64 remb_bps;                    /* the remote's latest REMB, 0 if none */
  guint64 twcc_feedbacks;              /* transport-wide cc feedback packets */
  guint32 rtt_ms;                      /* from its receiver reports, 0 if unknown */
  guint32 rtt_base_ms;                 /* the lowest of them in the latest 15-30 s */
  guint8 fraction_lost;                /* its latest report on what we send, of 256 */
  gint64 connected_us;                 /* monotonic time ICE + DTLS completed, 0 */
  guint uplink_loss_permille;          /* of what it sends us, in our latest report */
} MmEndpointStats;

/* Any thread. */
void mm_endpoint_get_stats (MmEndpoint *ep, MmEndpointStats *out);

typedef enum {
  MM_LINK_UNKNOWN,      /* no feedback on bandwidth (yet) */
  MM_LINK_TWCC,         /* from its transport-wide feedback (transport/bwe.h) */
  MM_LINK_REMB,         /* its own estimate (REMB) */
} MmLinkSource;

/* What we know of the link towards a receiver. */
typedef struct {
  MmLinkSource source;
  guint64 estimate_bps;   /* 0: unknown */
  guint64 delivered_bps;  /* TWCC: arrived over the last second */
  guint64 capacity_bps;   /* TWCC: from packet trains, 0 if none lately */
  guint64 capacity_low_bps;  /* TWCC: the lowest of the latest three trains' */
  guint loss_permille;    /* TWCC over the last second, else its receiver reports */
  guint queue_ms;         /* delay above the lowest lately: TWCC's one-way
                           * delay, else the round trip of its reports */
  gboolean congested;     /* losing more than 10% or queueing over 150 ms */
  guint32 rtt_ms;         /* 0 if unknown */
} MmEndpointLink;

/* Any thread. */
void mm_endpoint_get_link (MmEndpoint *ep, MmEndpointLink *out);

/* ---- outgoing streams ----------------------------------------------------- */

/* A receiver asked for a keyframe of @s (PLI or FIR): transport thread.
 * Rate limiting is the callee's business. */
typedef void (*MmStreamKeyframe) (MmStream *s, gpointer data);

/* One stream the room sends (its composite, a mix) at @clock_rate,
 * holding the last @history packets for NACKs (0: none, as for audio).
 * Returns: (transfer full) */
MmStream *mm_stream_new (MmTransport *t, guint clock_rate, guint history,
                         MmStreamKeyframe keyframe, gpointer data);
/* A stream in the group of @sibling (the quality tiers of one composite):
 * one lock for the group, so that a receiver may switch between its
 * members (mm_stream_switch).  Returns: (transfer full) */
MmStream *mm_stream_new_sibling (MmStream *sibling, guint clock_rate, guint history,
                                 MmStreamKeyframe keyframe, gpointer data);
/* Every receiver is removed first. */
void mm_stream_free (MmStream *s);

typedef struct {
  const guint8 *data;
  gsize len;
} MmPacket;

/* The room's streaming thread: send the @n RTP packets to every connected
 * receiver, and sender reports about once a second. */
void mm_stream_send (MmStream *s, const MmPacket *packets, guint n);

/* Send @s to @ep as payload type @pt with SSRC @ssrc (those of our SDP
 * answer to it).  Any thread. */
void mm_stream_add (MmStream *s, MmEndpoint *ep, guint8 pt, guint32 ssrc);
/* Whichever member of @s's group @ep receives. */
void mm_stream_remove (MmStream *s, MmEndpoint *ep);
/* Move @ep's subscription from @from to @to: the receiver keeps seeing
 * one stream (its SSRC; sequence numbers and timestamps go on from where
 * they were). */
void mm_stream_move (MmStream *from, MmStream *to, MmEndpoint *ep);
/* Switch @ep, which receives a member of @to's group, to @to: at the
 * first packet of @to's next VP8 keyframe when @at_keyframe (nothing of
 * the old member is sent after it), else at once (a member that sends
 * nothing: audio only).  Its SSRC stays, sequence numbers and timestamps
 * go on.  A later switch replaces one still waiting.  Any thread. */
void mm_stream_switch (MmStream *to, MmEndpoint *ep, gboolean at_keyframe);
/* The member of @s's group @ep receives now, and in *@pending (nullable)
 * the one it waits to switch to, or NULL.  Returns: (transfer none) */
MmStream *mm_stream_current (MmStream *s, MmEndpoint *ep, MmStream **pending);
/* Send about @bytes of padding-only packets to @ep at once, on the
 * member of @s's group it receives: a train whose arrival tells its
 * link's capacity (transport/bwe.h).  Any thread. */
void mm_stream_probe (MmStream *s, MmEndpoint *ep, gsize bytes);
/* Bit/s of RTP the room handed @s over the last whole second (0 when
 * it sent nothing).  Any thread. */
guint64 mm_stream_rate (MmStream *s);
/* Receivers of @s, with those waiting to switch to it. */
guint mm_stream_n_receivers (MmStream *s);

G_END_DECLS
