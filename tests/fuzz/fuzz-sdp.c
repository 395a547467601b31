/* fuzz-sdp.c — libFuzzer target: any bytes as an offer.  mm_sdp_parse must
 * read or refuse them, and what it reads must be answerable, without a
 * crash, a leak or a GLib critical.  Seeds: tests/fuzz/corpus/sdp/ (the
 * offers of Chromium, webrtcbin and mm_sdp_build_offer).
 */
#include "config.h"

#include "glib-fatal.h"

#include "transport/sdp.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  static const char *const candidates[] = {
    "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host", NULL
  };
  g_autofree char *text = NULL;
  g_autoptr (MmSdpSession) s = NULL;
  MmSdpAnswerMedia media[MM_SDP_MAX_MEDIA];
  MmSdpAnswerParams p = {
    .ice_ufrag = "fuzz", .ice_pwd = "fuzzPasswordFuzzPassword",
    .fingerprint = "sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                   "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
    .candidates = candidates, .cname = "fuzz", .media = media,
  };
  g_autofree char *answer = NULL;

  mm_fuzz_fatal_glib ();
  /* Text: NUL-terminated, as the server hands it over from JSON. */
  text = g_malloc (size + 1);
  memcpy (text, data, size);
  text[size] = '\0';
  s = mm_sdp_parse (text, NULL);
  if (s == NULL)
    return 0;
  /* Accept everything: every path of the answer's writer runs. */
  memset (media, 0, sizeof media);
  for (guint i = 0; i < s->media->len && i < MM_SDP_MAX_MEDIA; i++)
    {
      media[i].accept = media[i].we_send = media[i].we_receive = TRUE;
      media[i].ssrc = 1 + i;
      media[i].msid_stream = "fuzz";
      media[i].msid_track = "track";
    }
  p.n_media = MIN (s->media->len, MM_SDP_MAX_MEDIA);
  p.setup = mm_sdp_answer_setup (s->setup);
  answer = mm_sdp_build_answer (s, &p);
  g_assert (answer != NULL);
  return 0;
}
