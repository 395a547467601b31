/* unit-sdp.c — the SDP of the own transport, against real peers.
 *
 * Offers come from a webrtcbin run here and from Chromium: the fixture
 * tests/data/chrome-offer.sdp is the offer of Debian's Chromium 156
 * (headless, started by playwright-core with --no-sandbox
 * --use-fake-device-for-media-stream --use-fake-ui-for-media-stream
 * --disable-background-networking) on a page served from localhost:
 * getUserMedia ({audio, video}), addTrack of both tracks, a second video
 * transceiver sendonly (a screen), createOffer.  Our answers go back to
 * webrtcbin, which must accept them; the offer we write as a client must
 * be answered by webrtcbin.
 */
#include "config.h"

#include "core/error.h"
#include "transport/sdp.h"

#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>
#include <string.h>

#define FINGERPRINT "sha-256 3A:9B:1C:5D:7E:2F:40:81:C2:03:D4:65:A6:17:E8:99:" \
                    "0A:BB:4C:DD:EE:0F:60:71:82:93:A4:B5:C6:D7:E8:F9"
#define CHROME_FP "sha-256 5C:A9:E0:67:8F:6A:82:4A:CF:4B:03:BC:D8:6E:C8:F5:6E:5F:" \
                  "B5:D3:61:C5:7C:40:81:4D:5F:7D:18:62:19:43"

static const char *const candidates[] = {
  "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host",
  "candidate:2 1 udp 2130706175 192.0.2.7 40000 typ host",
  NULL
};

static char *
chrome_offer (void)
{
  const char *src = g_getenv ("MM_TEST_SRCDIR") ? g_getenv ("MM_TEST_SRCDIR") : ".";
  g_autofree char *path = g_build_filename (src, "tests", "data", "chrome-offer.sdp", NULL);
  g_autoptr (GError) error = NULL;
  char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, &error))
    g_error ("%s", error->message);
  return text;
}

/* @text with every occurrence of @from replaced by @to; @from must occur. */
static char *
replaced (const char *text, const char *from, const char *to)
{
  g_auto (GStrv) parts = g_strsplit (text, from, -1);

  g_assert_cmpuint (g_strv_length (parts), >, 1);
  return g_strjoinv (to, parts);
}

/* @text without its lines starting with @prefix; one must. */
static char *
without_lines (const char *text, const char *prefix)
{
  g_auto (GStrv) lines = g_strsplit (text, "\r\n", -1);
  GString *out = g_string_new (NULL);
  guint dropped = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], prefix))
        dropped++;
      else if (*lines[i] != '\0')
        g_string_append_printf (out, "%s\r\n", lines[i]);
    }
  g_assert_cmpuint (dropped, >, 0);
  return g_string_free (out, FALSE);
}

static guint
count (const char *text, const char *needle)
{
  guint n = 0;

  for (const char *p = strstr (text, needle); p != NULL; p = strstr (p + 1, needle))
    n++;
  return n;
}

static const MmSdpMedia *
media (const MmSdpSession *s, guint i)
{
  g_assert_cmpuint (i, <, s->media->len);
  return s->media->pdata[i];
}

/* Accept every m-line, sending and receiving, with SSRCs 1000 + i. */
static char *
answer_all (const MmSdpSession *offer, MmSdpSetup setup)
{
  MmSdpAnswerMedia am[MM_SDP_MAX_MEDIA];
  MmSdpAnswerParams p = {
    .ice_ufrag = "srvU", .ice_pwd = "serverPasswordServerPassword",
    .fingerprint = FINGERPRINT, .setup = setup, .candidates = candidates,
    .cname = "mixmeet", .media = am, .n_media = offer->media->len,
  };

  memset (am, 0, sizeof am);
  for (guint i = 0; i < offer->media->len; i++)
    {
      am[i].accept = am[i].we_send = am[i].we_receive = TRUE;
      am[i].ssrc = 1000 + i;
      am[i].msid_stream = "mixmeet";
      am[i].msid_track = media (offer, i)->kind == MM_SDP_AUDIO ? "mix-audio" : "mix-video";
    }
  return mm_sdp_build_answer (offer, &p);
}

static void
assert_crlf (const char *text)
{
  for (const char *p = strchr (text, '\n'); p != NULL; p = strchr (p + 1, '\n'))
    g_assert_true (p > text && p[-1] == '\r');
  g_assert_true (g_str_has_suffix (text, "\r\n"));
}

/* ---- webrtcbin ----------------------------------------------------------- */

typedef struct {
  GstElement *pipeline;
  GstElement *webrtc;
} Peer;

static gboolean
peer_start (Peer *peer)
{
  peer->webrtc = gst_element_factory_make ("webrtcbin", NULL);
  if (peer->webrtc == NULL)
    return FALSE;
  peer->pipeline = gst_pipeline_new (NULL);
  g_object_set (peer->webrtc, "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, NULL);
  gst_bin_add (GST_BIN (peer->pipeline), peer->webrtc);
  g_assert_cmpint (gst_element_set_state (peer->pipeline, GST_STATE_PLAYING), !=,
                   GST_STATE_CHANGE_FAILURE);
  return TRUE;
}

static void
peer_stop (Peer *peer)
{
  gst_element_set_state (peer->pipeline, GST_STATE_NULL);
  gst_object_unref (peer->pipeline);
}

static void
add_transceiver (Peer *peer, GstWebRTCRTPTransceiverDirection dir, const char *caps_text)
{
  g_autoptr (GstCaps) caps = gst_caps_from_string (caps_text);
  GstWebRTCRTPTransceiver *t = NULL;

  g_signal_emit_by_name (peer->webrtc, "add-transceiver", dir, caps, &t);
  g_assert_nonnull (t);
  gst_object_unref (t);
}

/* Emit @signal (create-offer, set-remote-description, ...) with @arg and a
 * promise, and wait for its reply, which must not be an error.  Returns:
 * (transfer full) (nullable) a copy of the reply. */
static GstStructure *
peer_call (Peer *peer, const char *signal, gpointer arg)
{
  GstPromise *promise = gst_promise_new ();
  const GstStructure *reply;
  GstStructure *copy = NULL;

  g_signal_emit_by_name (peer->webrtc, signal, arg, promise);
  g_assert_cmpint (gst_promise_wait (promise), ==, GST_PROMISE_RESULT_REPLIED);
  reply = gst_promise_get_reply (promise);
  if (reply != NULL && gst_structure_has_field (reply, "error"))
    {
      g_autoptr (GError) error = NULL;

      gst_structure_get (reply, "error", G_TYPE_ERROR, &error, NULL);
      g_error ("webrtcbin %s: %s", signal, error ? error->message : "error");
    }
  if (reply != NULL)
    copy = gst_structure_copy (reply);
  gst_promise_unref (promise);
  return copy;
}

/* Create an offer or answer (@what) and set it as the local description.
 * Returns: (transfer full) its text. */
static char *
peer_create (Peer *peer, const char *what)
{
  g_autofree char *signal = g_strdup_printf ("create-%s", what);
  GstStructure *reply = peer_call (peer, signal, NULL);
  GstWebRTCSessionDescription *desc = NULL;
  char *text;

  g_assert_nonnull (reply);
  gst_structure_get (reply, what, GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc, NULL);
  gst_structure_free (reply);
  g_assert_nonnull (desc);
  text = gst_sdp_message_as_text (desc->sdp);
  reply = peer_call (peer, "set-local-description", desc);
  if (reply != NULL)
    gst_structure_free (reply);
  gst_webrtc_session_description_free (desc);
  return text;
}

static void
peer_set_remote (Peer *peer, GstWebRTCSDPType type, const char *text)
{
  GstSDPMessage *sdp = NULL;
  GstWebRTCSessionDescription *desc;
  GstStructure *reply;

  g_assert_cmpint (gst_sdp_message_new_from_text (text, &sdp), ==, GST_SDP_OK);
  desc = gst_webrtc_session_description_new (type, sdp);
  reply = peer_call (peer, "set-remote-description", desc);
  if (reply != NULL)
    gst_structure_free (reply);
  gst_webrtc_session_description_free (desc);
}

#define VP8_CAPS "application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000"
#define OPUS_CAPS "application/x-rtp,media=audio,encoding-name=OPUS,payload=111," \
                  "clock-rate=48000,encoding-params=(string)2"

/* (1) webrtcbin's offer read, answered, and the answer taken. */
static void
webrtcbin_round (MmSdpSetup setup)
{
  Peer peer;
  g_autofree char *offer_text = NULL;
  g_autofree char *answer = NULL;
  g_autoptr (MmSdpSession) offer = NULL;
  g_autoptr (MmSdpSession) back = NULL;
  g_autoptr (GError) error = NULL;
  const MmSdpMedia *m;

  if (!peer_start (&peer))
    {
      g_test_skip ("no webrtcbin (gstreamer1.0-plugins-bad)");
      return;
    }
  add_transceiver (&peer, GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDRECV, VP8_CAPS);
  add_transceiver (&peer, GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDRECV, OPUS_CAPS);
  add_transceiver (&peer, GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, VP8_CAPS);
  offer_text = peer_create (&peer, "offer");
  g_test_message ("webrtcbin's offer:\n%s", offer_text);

  offer = mm_sdp_parse (offer_text, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (offer->media->len, ==, 3);
  g_assert_true (offer->bundle);
  g_assert_false (offer->ice_lite);
  g_assert_cmpint (offer->setup, ==, MM_SDP_SETUP_ACTPASS);
  g_assert_nonnull (offer->ice_ufrag);
  g_assert_nonnull (strstr (offer_text, offer->ice_ufrag));
  g_assert_nonnull (strstr (offer_text, offer->ice_pwd));
  g_assert_true (g_str_has_prefix (offer->fingerprint, "sha-256 "));
  g_assert_cmpuint (strlen (offer->fingerprint), ==, strlen (FINGERPRINT));
  g_assert_cmpuint (g_strv_length (offer->candidates), ==, 0);
  for (guint i = 0; i < 3; i++)
    {
      m = media (offer, i);
      g_assert_cmpuint (m->index, ==, i);
      g_assert_false (m->rejected);
      g_assert_nonnull (m->mid);
      g_assert_cmpstr (m->proto, ==, "UDP/TLS/RTP/SAVPF");
      g_assert_cmpint (m->kind, ==, i == 1 ? MM_SDP_AUDIO : MM_SDP_VIDEO);
      g_assert_cmpuint (m->pt, ==, i == 1 ? 111 : 96);
      g_assert_true (m->receives);
      g_assert_cmpint (m->sends, ==, i < 2);
      /* webrtcbin numbers header extensions only when asked to, and asks
       * for retransmissions only with do-nack. */
      g_assert_cmpuint (m->ext_mid, ==, 0);
      g_assert_cmpuint (m->ext_twcc, ==, 0);
      g_assert_true (m->fb_twcc);
      g_assert_false (m->fb_remb);
      g_assert_false (m->fb_nack);
      g_assert_cmpint (m->fb_pli, ==, m->kind == MM_SDP_VIDEO);
      g_assert_cmpint (m->fb_fir, ==, m->kind == MM_SDP_VIDEO);
      /* Nothing linked to send yet: no SSRC, no msid. */
      g_assert_cmpuint (m->ssrc, ==, 0);
      g_assert_null (m->msid);
      /* max-bundle: the m-lines after the first are bundle-only, port 0. */
      g_assert_nonnull (strstr (offer_text, m->mid));
    }
  g_assert_cmpstr (media (offer, 0)->mid, ==, "video0");
  g_assert_cmpstr (media (offer, 1)->mid, ==, "audio1");
  g_assert_true (mm_sdp_first (offer, MM_SDP_VIDEO) == media (offer, 0));
  g_assert_true (mm_sdp_first (offer, MM_SDP_AUDIO) == media (offer, 1));
  g_assert_null (mm_sdp_first (offer, MM_SDP_OTHER));

  answer = answer_all (offer, setup);
  g_test_message ("our answer:\n%s", answer);
  assert_crlf (answer);
  g_assert_nonnull (strstr (answer, setup == MM_SDP_SETUP_ACTIVE ? "a=setup:active\r\n"
                                                                 : "a=setup:passive\r\n"));
  /* The recvonly m-line: we only send. */
  g_assert_cmpuint (count (answer, "a=sendrecv\r\n"), ==, 2);
  g_assert_cmpuint (count (answer, "a=sendonly\r\n"), ==, 1);
  peer_set_remote (&peer, GST_WEBRTC_SDP_TYPE_ANSWER, answer);

  back = mm_sdp_parse (answer, &error);
  g_assert_no_error (error);
  g_assert_true (back->ice_lite);
  g_assert_true (back->bundle);
  g_assert_cmpint (back->setup, ==, setup);
  g_assert_cmpstr (back->fingerprint, ==, FINGERPRINT);
  g_assert_cmpstr (back->ice_ufrag, ==, "srvU");
  g_assert_cmpuint (g_strv_length (back->candidates), ==, 2);
  g_assert_cmpstr (back->candidates[0], ==, candidates[0]);
  g_assert_cmpuint (media (back, 2)->ssrc, ==, 1002);
  g_assert_cmpstr (media (back, 2)->msid, ==, "mixmeet mix-video");
  g_assert_false (media (back, 2)->receives);
  peer_stop (&peer);
}

static void
test_webrtcbin_answer_passive (void)
{
  webrtcbin_round (MM_SDP_SETUP_PASSIVE);
}

static void
test_webrtcbin_answer_active (void)
{
  webrtcbin_round (MM_SDP_SETUP_ACTIVE);
}

/* ---- (2) Chrome -------------------------------------------------------- */

static void
test_chrome_offer (void)
{
  g_autofree char *text = chrome_offer ();
  g_autoptr (GError) error = NULL;
  g_autoptr (MmSdpSession) s = mm_sdp_parse (text, &error);
  const MmSdpMedia *m;

  g_assert_no_error (error);
  g_assert_cmpstr (s->ice_ufrag, ==, "acYk");
  g_assert_cmpstr (s->ice_pwd, ==, "womAIQE13tYsvSqmDt5/eFPR");
  g_assert_cmpstr (s->fingerprint, ==, CHROME_FP);
  g_assert_cmpint (s->setup, ==, MM_SDP_SETUP_ACTPASS);
  g_assert_true (s->bundle);
  g_assert_false (s->ice_lite);
  g_assert_cmpuint (g_strv_length (s->candidates), ==, 0);
  g_assert_cmpuint (s->media->len, ==, 3);

  m = media (s, 0);
  g_assert_cmpint (m->kind, ==, MM_SDP_AUDIO);
  g_assert_cmpstr (m->mid, ==, "0");
  g_assert_false (m->rejected);
  g_assert_true (m->sends && m->receives);
  g_assert_cmpuint (m->pt, ==, 111);
  g_assert_true (m->fb_twcc);
  g_assert_false (m->fb_nack || m->fb_pli || m->fb_fir || m->fb_remb);
  g_assert_cmpuint (m->ext_abs_send_time, ==, 2);
  g_assert_cmpuint (m->ext_twcc, ==, 3);
  g_assert_cmpuint (m->ext_mid, ==, 4);
  g_assert_cmpuint (m->ext_audio_level, ==, 1);
  g_assert_cmpuint (m->ssrc, ==, 2700030471u);
  g_assert_cmpuint (m->rtx_ssrc, ==, 0);
  g_assert_cmpstr (m->msid, ==, "4d5f8cbd-6f24-43c1-80af-8059e6b8dcf4 "
                   "fc2c7afd-8db3-457b-a455-b4a26a118669");

  m = media (s, 1);
  g_assert_cmpint (m->kind, ==, MM_SDP_VIDEO);
  g_assert_cmpstr (m->mid, ==, "1");
  g_assert_true (m->sends && m->receives);
  g_assert_cmpuint (m->pt, ==, 96);
  g_assert_true (m->fb_nack && m->fb_pli && m->fb_fir && m->fb_remb && m->fb_twcc);
  g_assert_cmpuint (m->ext_mid, ==, 4);
  g_assert_cmpuint (m->ext_twcc, ==, 3);
  g_assert_cmpuint (m->ext_audio_level, ==, 0);   /* audio only */
  g_assert_cmpuint (m->ssrc, ==, 1380269984u);
  g_assert_cmpuint (m->rtx_ssrc, ==, 3271403535u);

  m = media (s, 2);
  g_assert_cmpint (m->kind, ==, MM_SDP_VIDEO);
  g_assert_cmpstr (m->mid, ==, "2");
  g_assert_true (m->sends);
  g_assert_false (m->receives);
  g_assert_cmpuint (m->ssrc, ==, 944560382u);
  g_assert_cmpuint (m->rtx_ssrc, ==, 2844874053u);
  g_assert_cmpstr (m->msid, ==, "- 14e91c54-8315-4355-ab85-b30d00ed2a1d");
  g_assert_true (mm_sdp_first (s, MM_SDP_VIDEO) == media (s, 1));
}

static void
test_chrome_answer (void)
{
  g_autofree char *text = chrome_offer ();
  g_autoptr (MmSdpSession) s = mm_sdp_parse (text, NULL);
  g_autofree char *answer = NULL;
  g_autofree char *partial = NULL;
  g_autoptr (MmSdpSession) back = NULL;
  g_autoptr (GError) error = NULL;
  MmSdpAnswerMedia am[3] = {
    { TRUE, TRUE, TRUE, 11, "mixmeet", "audio" },
    { TRUE, TRUE, TRUE, 22, "mixmeet", "video" },
    { FALSE, FALSE, FALSE, 0, NULL, NULL },
  };
  MmSdpAnswerParams p = {
    .ice_ufrag = "srvU", .ice_pwd = "serverPasswordServerPassword",
    .fingerprint = FINGERPRINT, .setup = mm_sdp_answer_setup (s->setup),
    .candidates = candidates, .cname = "mixmeet", .media = am, .n_media = 3,
  };

  g_assert_nonnull (s);
  answer = answer_all (s, mm_sdp_answer_setup (s->setup));
  assert_crlf (answer);
  g_assert_true (g_str_has_prefix (answer, "v=0\r\no=- "));
  g_assert_nonnull (strstr (answer, "\r\na=ice-lite\r\n"));
  g_assert_nonnull (strstr (answer, "\r\na=group:BUNDLE 0 1 2\r\n"));
  g_assert_nonnull (strstr (answer, "\r\na=msid-semantic: WMS *\r\n"));
  /* One payload type per m-line, nothing of H264, RTX, RED or FEC. */
  g_assert_nonnull (strstr (answer, "\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"));
  g_assert_cmpuint (count (answer, "\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"), ==, 2);
  g_assert_null (strstr (answer, "H264"));
  g_assert_null (strstr (answer, "rtx"));
  g_assert_null (strstr (answer, "red/"));
  g_assert_nonnull (strstr (answer, "a=rtpmap:111 opus/48000/2\r\n"
                            "a=fmtp:111 minptime=10;useinbandfec=1\r\n"));
  g_assert_cmpuint (count (answer, "a=rtpmap:96 VP8/90000\r\n"), ==, 2);
  g_assert_cmpuint (count (answer, "a=setup:passive\r\n"), ==, 3);
  g_assert_cmpuint (count (answer, "a=rtcp-mux\r\n"), ==, 3);
  g_assert_cmpuint (count (answer, "a=fingerprint:" FINGERPRINT "\r\n"), ==, 3);
  /* Feedback as offered: audio only transport-cc. */
  g_assert_cmpuint (count (answer, "a=rtcp-fb:111 "), ==, 1);
  g_assert_cmpuint (count (answer, "a=rtcp-fb:96 nack\r\n"), ==, 2);
  g_assert_cmpuint (count (answer, "a=rtcp-fb:96 nack pli\r\n"), ==, 2);
  g_assert_cmpuint (count (answer, "a=rtcp-fb:96 ccm fir\r\n"), ==, 2);
  g_assert_cmpuint (count (answer, "a=rtcp-fb:96 goog-remb\r\n"), ==, 2);
  g_assert_cmpuint (count (answer, "a=rtcp-fb:96 transport-cc\r\n"), ==, 2);
  /* Only the extensions we use, with Chrome's ids. */
  g_assert_cmpuint (count (answer, "a=extmap:"), ==, 10);
  g_assert_cmpuint (count (answer, "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"),
                    ==, 1);
  g_assert_cmpuint (count (answer, "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"), ==, 3);
  g_assert_cmpuint (count (answer, "a=extmap:3 http://www.ietf.org/id/"
                           "draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"), ==, 3);
  /* Every candidate on every m-line, and no more to come. */
  g_assert_cmpuint (count (answer, "\r\na=candidate:1 1 udp"), ==, 3);
  g_assert_cmpuint (count (answer, "\r\na=candidate:2 1 udp"), ==, 3);
  g_assert_cmpuint (count (answer, "a=end-of-candidates\r\n"), ==, 3);
  /* Chrome's screen m-line is sendonly: we receive only. */
  g_assert_cmpuint (count (answer, "a=sendrecv\r\n"), ==, 2);
  g_assert_cmpuint (count (answer, "a=recvonly\r\n"), ==, 1);
  g_assert_cmpuint (count (answer, "a=ssrc:"), ==, 4);
  g_assert_nonnull (strstr (answer, "a=ssrc:1000 cname:mixmeet\r\n"));
  g_assert_nonnull (strstr (answer, "a=ssrc:1001 msid:mixmeet mix-video\r\n"));

  back = mm_sdp_parse (answer, &error);
  g_assert_no_error (error);
  g_assert_true (back->ice_lite && back->bundle);
  g_assert_cmpint (back->setup, ==, MM_SDP_SETUP_PASSIVE);

  /* The screen refused: port 0 and the offer's formats, only its mid. */
  partial = mm_sdp_build_answer (s, &p);
  assert_crlf (partial);
  g_assert_nonnull (strstr (partial, "\r\na=group:BUNDLE 0 1\r\n"));
  g_assert_true (g_str_has_suffix (partial, "\r\nm=video 0 UDP/TLS/RTP/SAVPF 96 97 102 103 104 "
                                   "107 108 109 114 115 116 117 39 40 45 46 98 99 100 101 118 "
                                   "119 120\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\n"));
  g_assert_nonnull (strstr (partial, "a=ssrc:22 msid:mixmeet video\r\n"));
}

/* The fingerprint is compared and given normalised. */
static void
test_fingerprint_normalised (void)
{
  g_autofree char *text = chrome_offer ();
  g_autofree char *lower = replaced (text, "sha-256 5C:A9:E0:67:8F", "SHA-256 5c:a9:e0:67:8f");
  g_autofree char *one = replaced (text, "a=fingerprint:sha-256 5C:A9",
                                   "a=fingerprint:sha-256 5c:a9");
  g_autofree char *session = replaced (text, "t=0 0\r\n",
                                       "t=0 0\r\na=fingerprint:sha-256 5c:A9:E0:67:8F:6A:82:4A:"
                                       "CF:4B:03:BC:D8:6E:C8:F5:6E:5F:B5:D3:61:C5:7C:40:81:4D:"
                                       "5F:7D:18:62:19:43\r\n");
  const char *texts[] = { lower, one, session };

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (MmSdpSession) s = mm_sdp_parse (texts[i], &error);

      g_assert_no_error (error);
      g_assert_cmpstr (s->fingerprint, ==, CHROME_FP);
    }
}

/* ---- (3) what is refused, and why ------------------------------------ */

static void
assert_refused (const char *text, const char *words)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MmSdpSession) s = mm_sdp_parse (text, &error);

  g_assert_null (s);
  g_assert_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT);
  if (strstr (error->message, words) == NULL)
    g_error ("expected \"%s\" in the error, got: %s", words, error->message);
}

static void
test_refused (void)
{
  g_autofree char *good = chrome_offer ();
  g_autofree char *no_codec1 = replaced (good, "VP8/90000", "VP7/90000");
  g_autofree char *no_codec = replaced (no_codec1, "opus/48000", "speex/48000");
  g_autofree char *k_line = replaced (good, "t=0 0\r\n", "t=0 0\r\nk=clear:secret\r\n");
  g_autofree char *bad_tag = replaced (good, "BUNDLE 0 1 2", "BUNDLE nosuchmid 0 1 2");
  g_autofree char *no_mid1 = without_lines (good, "a=mid:1");
  g_autofree char *no_mid = replaced (no_mid1, "BUNDLE 0 1 2", "BUNDLE 0 2");
  g_autofree char *same_mid1 = replaced (good, "a=mid:2", "a=mid:1");
  g_autofree char *same_mid = replaced (same_mid1, "BUNDLE 0 1 2", "BUNDLE 0 1");
  g_autofree char *long_mid1 = replaced (good, "a=mid:2", "a=mid:2xxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
  g_autofree char *long_mid = replaced (long_mid1, "BUNDLE 0 1 2", "BUNDLE 0 1");
  g_autofree char *no_fp = without_lines (good, "a=fingerprint:");
  g_autofree char *bad_fp = replaced (good, "a=fingerprint:sha-256 5C:A9", "a=fingerprint:sha-256 5CA9");
  g_autofree char *session_fp = replaced (good, "t=0 0\r\n", "t=0 0\r\na=fingerprint:" FINGERPRINT "\r\n");
  g_autofree char *no_setup = without_lines (good, "a=setup:");
  g_autofree char *bad_setup = replaced (good, "a=setup:actpass", "a=setup:holdconn");
  g_autofree char *no_pwd = without_lines (good, "a=ice-pwd:");
  g_autofree char *short_ufrag = replaced (good, "a=ice-ufrag:acYk", "a=ice-ufrag:acY");
  g_autofree char *short_pwd = replaced (good, "a=ice-pwd:womAIQE13tYsvSqmDt5/eFPR",
                                         "a=ice-pwd:womAIQE13tYsvSqmDt5");
  g_autofree char *long_ufrag = NULL;
  g_autofree char *long_pwd = NULL;
  g_autofree char *other_fp = NULL;
  g_autofree char *many = NULL;
  g_autofree char *huge = NULL;

  {
    /* Only the second m-line's fingerprint differs. */
    const char *second = strstr (strstr (good, "m=video"), "a=fingerprint:");
    GString *t = g_string_new_len (good, second - good);

    g_string_append (t, "a=fingerprint:" FINGERPRINT);
    g_string_append (t, strstr (second, "\r\n"));
    other_fp = g_string_free (t, FALSE);
  }
  {
    g_autofree char *u = g_strnfill (MM_SDP_MAX_UFRAG + 1, 'u');
    g_autofree char *p = g_strnfill (MM_SDP_MAX_PWD + 1, 'p');
    g_autofree char *ul = g_strconcat ("a=ice-ufrag:", u, NULL);
    g_autofree char *pl = g_strconcat ("a=ice-pwd:", p, NULL);

    long_ufrag = replaced (good, "a=ice-ufrag:acYk", ul);
    long_pwd = replaced (good, "a=ice-pwd:womAIQE13tYsvSqmDt5/eFPR", pl);
  }
  {
    GString *t = g_string_new ("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
                               "a=fingerprint:" FINGERPRINT "\r\na=setup:actpass\r\n"
                               "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n");

    for (guint i = 0; i <= MM_SDP_MAX_MEDIA; i++)
      g_string_append_printf (t, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:%u\r\n"
                              "a=rtpmap:111 opus/48000/2\r\n", i);
    many = g_string_free (t, FALSE);
  }
  {
    GString *t = g_string_new (good);

    while (t->len <= MM_SDP_MAX_TEXT)
      g_string_append (t, "a=x-padding:0123456789012345678901234567890123456789\r\n");
    huge = g_string_free (t, FALSE);
  }

  assert_refused (NULL, "sdp is not a session description with media");
  assert_refused ("", "sdp is not a session description with media");
  assert_refused ("hello", "sdp is not a session description with media");
  assert_refused ("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
                  "sdp is not a session description with media");
  assert_refused (no_codec, "the offer has neither VP8 video nor Opus audio");
  assert_refused (k_line, "k=");
  assert_refused (bad_tag, "the offer's BUNDLE group names mid nosuchmid, which no m-line has");
  assert_refused (no_mid, "m-line 1 has no a=mid");
  assert_refused (same_mid, "m-lines 1 and 2 have the same a=mid:1");
  assert_refused (long_mid, "the a=mid of m-line 2 is not 1 to 64");
  assert_refused (no_fp, "m-line 0 has no DTLS fingerprint (a=fingerprint), nor has the session");
  assert_refused (bad_fp, "the DTLS fingerprint of m-line 0 is not");
  assert_refused (other_fp, "the DTLS fingerprint of m-line 1 differs from the first m-line's");
  assert_refused (session_fp, "the DTLS fingerprint of m-line 0 differs from the session's");
  assert_refused (no_setup, "m-line 0 needs a=setup:actpass (or active or passive)");
  assert_refused (bad_setup, "a=setup");
  assert_refused (no_pwd, "m-line 0 has no ICE credentials (a=ice-ufrag and a=ice-pwd)");
  assert_refused (short_ufrag, "a=ice-ufrag must be 4 to 256");
  assert_refused (long_ufrag, "a=ice-ufrag must be 4 to 256");
  assert_refused (short_pwd, "a=ice-pwd must be 22 to 256");
  assert_refused (long_pwd, "a=ice-pwd must be 22 to 256");
  assert_refused (many, "the SDP has 17 m-lines, more than the 16 taken");
  assert_refused (huge, "more than the 65536 taken");
}

/* Valid SDP that webrtcbin read wrongly is read right. */
static void
test_accepted_variants (void)
{
  g_autofree char *good = chrome_offer ();
  g_autofree char *no_media_setup = without_lines (good, "a=setup:");
  g_autofree char *session_setup = replaced (no_media_setup, "t=0 0\r\n",
                                             "t=0 0\r\na=setup:active\r\n");
  g_autofree char *session_fp = replaced (good, "t=0 0\r\n", "t=0 0\r\na=fingerprint:" CHROME_FP "\r\n");
  g_autofree char *own_ice = NULL;
  g_autofree char *no_bundle = without_lines (good, "a=group:BUNDLE");
  g_autofree char *rejected = replaced (good, "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 107 108 "
                                        "109 114 115 116 117 39 40 45 46 98 99 100 101 118 119 "
                                        "120\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n"
                                        "a=ice-ufrag:acYk\r\na=ice-pwd:womAIQE13tYsvSqmDt5/eFPR"
                                        "\r\na=ice-options:trickle\r\na=fingerprint:sha-256 5C:A9:"
                                        "E0:67:8F:6A:82:4A:CF:4B:03:BC:D8:6E:C8:F5:6E:5F:B5:D3:61:"
                                        "C5:7C:40:81:4D:5F:7D:18:62:19:43\r\na=setup:actpass\r\n"
                                        "a=mid:2",
                                        "m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:2");
  g_autofree char *data = g_strconcat (good, "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
                                       "c=IN IP4 0.0.0.0\r\na=mid:3\r\na=sctp-port:5000\r\n", NULL);
  g_autofree char *cands = replaced (good, "a=mid:0\r\n",
                                     "a=mid:0\r\na=candidate:1 1 udp 2113937151 192.0.2.1 5000 typ "
                                     "host\r\na=candidate:1 1 udp 2113937151 192.0.2.1 5000 typ "
                                     "host\r\n");
  g_autoptr (MmSdpSession) s = NULL;
  g_autoptr (GError) error = NULL;

  {
    /* Per-m-line credentials inside the group (aiortc): the tagged
     * m-line's stand for all. */
    g_autofree char *a = replaced (good, "a=ice-ufrag:acYk\r\na=ice-pwd:womAIQE13tYsvSqmDt5/eFPR"
                                   "\r\na=ice-options:trickle\r\na=fingerprint:sha-256 5C:A9:E0:67:"
                                   "8F:6A:82:4A:CF:4B:03:BC:D8:6E:C8:F5:6E:5F:B5:D3:61:C5:7C:40:"
                                   "81:4D:5F:7D:18:62:19:43\r\na=setup:actpass\r\na=mid:1",
                                   "a=ice-ufrag:videoOwn\r\na=ice-pwd:videoOwnPasswordVideoOwn"
                                   "\r\na=fingerprint:" CHROME_FP "\r\na=setup:actpass\r\n"
                                   "a=mid:1");
    own_ice = g_steal_pointer (&a);
  }

  s = mm_sdp_parse (session_setup, &error);
  g_assert_no_error (error);
  g_assert_cmpint (s->setup, ==, MM_SDP_SETUP_ACTIVE);
  g_assert_cmpint (mm_sdp_answer_setup (s->setup), ==, MM_SDP_SETUP_PASSIVE);
  g_clear_pointer (&s, mm_sdp_session_free);

  s = mm_sdp_parse (session_fp, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (s->fingerprint, ==, CHROME_FP);
  g_clear_pointer (&s, mm_sdp_session_free);

  s = mm_sdp_parse (own_ice, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (s->ice_ufrag, ==, "acYk");
  g_assert_cmpstr (s->ice_pwd, ==, "womAIQE13tYsvSqmDt5/eFPR");
  g_clear_pointer (&s, mm_sdp_session_free);

  s = mm_sdp_parse (no_bundle, &error);
  g_assert_no_error (error);
  g_assert_false (s->bundle);
  {
    g_autofree char *answer = answer_all (s, MM_SDP_SETUP_PASSIVE);

    g_assert_null (strstr (answer, "BUNDLE"));
  }
  g_clear_pointer (&s, mm_sdp_session_free);

  /* A stopped transceiver: port 0, rejected, nothing else checked; BUNDLE
   * still covers every accepted m-line. */
  s = mm_sdp_parse (rejected, &error);
  g_assert_no_error (error);
  g_assert_true (media (s, 2)->rejected);
  g_assert_true (s->bundle);
  {
    g_autofree char *answer = answer_all (s, MM_SDP_SETUP_PASSIVE);

    g_assert_nonnull (strstr (answer, "a=group:BUNDLE 0 1\r\n"));
    g_assert_true (g_str_has_suffix (answer, "\r\nm=video 0 UDP/TLS/RTP/SAVPF 96\r\n"
                                     "c=IN IP4 0.0.0.0\r\na=mid:2\r\n"));
  }
  g_clear_pointer (&s, mm_sdp_session_free);

  /* A data channel is not ours: rejected, keeping its proto and format. */
  s = mm_sdp_parse (data, &error);
  g_assert_no_error (error);
  g_assert_cmpint (media (s, 3)->kind, ==, MM_SDP_OTHER);
  g_assert_true (media (s, 3)->rejected);
  {
    g_autofree char *answer = answer_all (s, MM_SDP_SETUP_PASSIVE);

    g_assert_true (g_str_has_suffix (answer, "\r\nm=application 0 UDP/DTLS/SCTP "
                                     "webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:3\r\n"));
  }
  g_clear_pointer (&s, mm_sdp_session_free);

  /* Candidates once each, with "candidate:". */
  s = mm_sdp_parse (cands, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (s->candidates), ==, 1);
  g_assert_cmpstr (s->candidates[0], ==, "candidate:1 1 udp 2113937151 192.0.2.1 5000 typ host");
}

/* Every prefix of a valid offer, and the offer without each of its lines,
 * is read or refused: never a crash, and what is read can be answered. */
static void
test_truncations (void)
{
  g_autofree char *good = chrome_offer ();
  gsize len = strlen (good);
  g_auto (GStrv) lines = g_strsplit (good, "\r\n", -1);
  guint read = 0;

  for (gsize n = 0; n <= len; n++)
    {
      g_autofree char *prefix = g_strndup (good, n);
      g_autoptr (GError) error = NULL;
      g_autoptr (MmSdpSession) s = mm_sdp_parse (prefix, &error);

      if (s != NULL)
        {
          g_autofree char *answer = answer_all (s, MM_SDP_SETUP_PASSIVE);

          g_assert_nonnull (answer);
          read++;
        }
      else
        g_assert_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT);
    }
  /* Every prefix with the last m-line's a=mid (the BUNDLE group names it)
   * is usable. */
  g_assert_cmpuint (read, >=, len - (gsize) (strstr (good, "a=mid:2\r\n") - good)
                    - strlen ("a=mid:2") + 1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      GString *text = g_string_new (NULL);
      g_autoptr (MmSdpSession) s = NULL;

      for (guint j = 0; lines[j] != NULL; j++)
        if (j != i && *lines[j] != '\0')
          g_string_append_printf (text, "%s\r\n", lines[j]);
      s = mm_sdp_parse (text->str, NULL);
      if (s != NULL)
        {
          g_autofree char *answer = answer_all (s, MM_SDP_SETUP_ACTIVE);

          g_assert_nonnull (answer);
        }
      g_string_free (text, TRUE);
    }
}

/* ---- (4) our own offer ------------------------------------------------- */

static void
test_own_offer (void)
{
  const MmSdpOfferParams params = {
    .ice_ufrag = "cliU", .ice_pwd = "clientPasswordClientPassword",
    .fingerprint = FINGERPRINT, .audio = TRUE, .video = TRUE, .twcc = TRUE,
  };
  g_autofree char *offer = mm_sdp_build_offer (&params);
  g_autofree char *answer = NULL;
  g_autoptr (MmSdpSession) s = NULL;
  g_autoptr (MmSdpSession) a = NULL;
  g_autoptr (GError) error = NULL;
  const MmSdpMedia *m;
  Peer peer;

  g_test_message ("our offer:\n%s", offer);
  assert_crlf (offer);
  s = mm_sdp_parse (offer, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (s->ice_ufrag, ==, "cliU");
  g_assert_cmpstr (s->ice_pwd, ==, "clientPasswordClientPassword");
  g_assert_cmpstr (s->fingerprint, ==, FINGERPRINT);
  g_assert_cmpint (s->setup, ==, MM_SDP_SETUP_ACTPASS);
  g_assert_true (s->bundle);
  g_assert_false (s->ice_lite);
  g_assert_cmpuint (s->media->len, ==, 2);
  m = media (s, 0);
  g_assert_cmpint (m->kind, ==, MM_SDP_AUDIO);
  g_assert_cmpuint (m->pt, ==, 111);
  g_assert_true (m->receives);
  g_assert_false (m->sends);
  g_assert_true (m->fb_twcc);
  g_assert_cmpuint (m->ext_mid, !=, 0);
  g_assert_cmpuint (m->ext_twcc, !=, 0);
  g_assert_cmpuint (m->ssrc, ==, 0);
  m = media (s, 1);
  g_assert_cmpint (m->kind, ==, MM_SDP_VIDEO);
  g_assert_cmpuint (m->pt, ==, 96);
  g_assert_true (m->fb_nack && m->fb_pli && m->fb_fir && m->fb_twcc);
  g_assert_false (m->sends);

  {
    const MmSdpOfferParams video_only = {
      .ice_ufrag = "cliU", .ice_pwd = "clientPasswordClientPassword",
      .fingerprint = FINGERPRINT, .video = TRUE, .video_pt = 100,
    };
    g_autofree char *text = mm_sdp_build_offer (&video_only);
    g_autoptr (MmSdpSession) v = mm_sdp_parse (text, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (v->media->len, ==, 1);
    g_assert_cmpuint (media (v, 0)->pt, ==, 100);
    g_assert_false (media (v, 0)->fb_twcc);
    g_assert_cmpuint (media (v, 0)->ext_twcc, ==, 0);
  }

  {
    /* An audio-only participant that speaks (mixmeet-bot --viewers
     * --audio-only): sendrecv with its SSRC and the level extension. */
    const MmSdpOfferParams speaker = {
      .ice_ufrag = "cliU", .ice_pwd = "clientPasswordClientPassword",
      .fingerprint = FINGERPRINT, .audio = TRUE, .audio_ssrc = 0xdeadbeef,
      .ext_audio_level = 1,
    };
    g_autofree char *text = mm_sdp_build_offer (&speaker);
    g_autoptr (MmSdpSession) v = mm_sdp_parse (text, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (v->media->len, ==, 1);
    g_assert_cmpint (media (v, 0)->kind, ==, MM_SDP_AUDIO);
    g_assert_true (media (v, 0)->sends && media (v, 0)->receives);
    g_assert_cmpuint (media (v, 0)->ssrc, ==, 0xdeadbeef);
    g_assert_cmpuint (media (v, 0)->ext_audio_level, ==, 1);
    g_assert_nonnull (media (v, 0)->msid);
  }

  /* webrtcbin, with something to send, answers it. */
  if (!peer_start (&peer))
    {
      g_test_skip ("no webrtcbin (gstreamer1.0-plugins-bad)");
      return;
    }
  add_transceiver (&peer, GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, OPUS_CAPS);
  add_transceiver (&peer, GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, VP8_CAPS);
  peer_set_remote (&peer, GST_WEBRTC_SDP_TYPE_OFFER, offer);
  answer = peer_create (&peer, "answer");
  g_test_message ("webrtcbin's answer:\n%s", answer);
  a = mm_sdp_parse (answer, &error);
  g_assert_no_error (error);
  g_assert_true (a->setup == MM_SDP_SETUP_ACTIVE || a->setup == MM_SDP_SETUP_PASSIVE);
  g_assert_nonnull (mm_sdp_first (a, MM_SDP_AUDIO));
  g_assert_nonnull (mm_sdp_first (a, MM_SDP_VIDEO));
  g_assert_cmpuint (mm_sdp_first (a, MM_SDP_AUDIO)->pt, ==, 111);
  g_assert_cmpuint (mm_sdp_first (a, MM_SDP_VIDEO)->pt, ==, 96);
  g_assert_true (mm_sdp_first (a, MM_SDP_VIDEO)->sends);
  g_assert_false (mm_sdp_first (a, MM_SDP_VIDEO)->receives);
  g_assert_true (g_str_has_prefix (a->fingerprint, "sha-256 "));
  peer_stop (&peer);
}

static void
test_answer_setup (void)
{
  g_assert_cmpint (mm_sdp_answer_setup (MM_SDP_SETUP_ACTPASS), ==, MM_SDP_SETUP_PASSIVE);
  g_assert_cmpint (mm_sdp_answer_setup (MM_SDP_SETUP_ACTIVE), ==, MM_SDP_SETUP_PASSIVE);
  g_assert_cmpint (mm_sdp_answer_setup (MM_SDP_SETUP_PASSIVE), ==, MM_SDP_SETUP_ACTIVE);
  g_assert_cmpint (mm_sdp_answer_setup (MM_SDP_SETUP_NONE), ==, MM_SDP_SETUP_PASSIVE);
  g_assert_cmpstr (mm_sdp_setup_to_string (MM_SDP_SETUP_ACTPASS), ==, "actpass");
  g_assert_null (mm_sdp_setup_to_string (MM_SDP_SETUP_NONE));
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sdp/webrtcbin/answer-passive", test_webrtcbin_answer_passive);
  g_test_add_func ("/sdp/webrtcbin/answer-active", test_webrtcbin_answer_active);
  g_test_add_func ("/sdp/chrome/offer", test_chrome_offer);
  g_test_add_func ("/sdp/chrome/answer", test_chrome_answer);
  g_test_add_func ("/sdp/fingerprint-normalised", test_fingerprint_normalised);
  g_test_add_func ("/sdp/refused", test_refused);
  g_test_add_func ("/sdp/accepted-variants", test_accepted_variants);
  g_test_add_func ("/sdp/truncations", test_truncations);
  g_test_add_func ("/sdp/own-offer", test_own_offer);
  g_test_add_func ("/sdp/answer-setup", test_answer_setup);
  return g_test_run ();
}
