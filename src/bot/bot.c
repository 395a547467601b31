/* bot.c — mixmeet-bot: options, the bots, the once-a-second JSON lines.
 *
 * See bot.h for the threads and `mixmeet-bot --help` for the options and
 * the output format.
 */
#include "config.h"

#include "bot/bot.h"

#include <glib-unix.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Colours and tones of bots without --color/--tone, in this order.  The
 * tones are at least 110 Hz (almost five spectrum bands) apart. */
static const struct {
  const char *name;
  guint32 rgb;
  int tone;
} palette[] = {
  { "red", 0xff0000, 440 },
  { "green", 0x00ff00, 550 },
  { "blue", 0x0000ff, 660 },
  { "yellow", 0xffff00, 770 },
  { "magenta", 0xff00ff, 880 },
  { "cyan", 0x00ffff, 990 },
  { "white", 0xffffff, 1100 },
  { "orange", 0xff8000, 1210 },
  { "purple", 0x8000ff, 1320 },
  { "grey", 0x808080, 1430 },
};

static const char help_description[] =
  "Joins a mixmeet room through the same REST and long-poll API as the web\n"
  "client, either signed in (--email, --password) or as a guest (--name),\n"
  "offers a WebRTC session that sends a solid colour and a sine tone, and\n"
  "prints once a second, for each bot, one JSON line on stdout:\n"
  "\n"
  "  {\"bot\":0,\"name\":\"red\",\"participant_id\":\"PID\",\"t\":3,\"connected\":true,\n"
  "   \"connections\":1,\n"
  "   \"video\":{\"frames\":30,\"fps\":30.0,\"width\":1280,\"height\":720},\n"
  "   \"cells\":[{\"participant_id\":\"PID\",\"display_name\":\"blue\",\"rgb\":[0,0,255]}],\n"
  "   \"audio\":{\"level_db\":-14.2,\"peaks\":[{\"hz\":880,\"db\":-12.3}]},\n"
  "   \"packets_lost\":0,\"first_frame_ms\":412,\"active_speaker\":null}\n"
  "\n"
  "  t               seconds since the start\n"
  "  connected       webrtcbin's connection-state is \"connected\"\n"
  "  connections     peer connections made so far: 1, and one more each time\n"
  "                  the media starts again (no connection in time, or the\n"
  "                  server's \"media-failed\")\n"
  "  video           frames decoded in the last second, their rate, the\n"
  "                  longest wait between two frames (max_gap_ms, counting a\n"
  "                  stall still going on), and the size of the last one\n"
  "                  (null before the first)\n"
  "  cells           one per tile of the latest \"layout\" event: the average\n"
  "                  colour of a 5x5 patch at the tile's centre in the latest\n"
  "                  frame (null before the first frame)\n"
  "  audio.level_db  RMS level of the received audio over the last second, dB\n"
  "                  (floor -120; null before any audio)\n"
  "  audio.peaks     up to 5 local maxima of the spectrum averaged over the\n"
  "                  last second (1024 bands at 48 kHz, 23.5 Hz apart), at\n"
  "                  least 15 dB above its median, strongest first: hz is\n"
  "                  the peak frequency (interpolated between bands), db the\n"
  "                  band's level in dB as the spectrum element gives it\n"
  "                  (floor -60)\n"
  "  packets_lost    inbound-rtp packets-lost from webrtcbin's get-stats,\n"
  "                  summed (null until the answer is set)\n"
  "  first_frame_ms  from the start of the join request to the first decoded\n"
  "                  frame (null before it)\n"
  "  join_ms         the steps before it, ms from the same start (null: not\n"
  "                  yet): joined (the REST join answered), offer (made and\n"
  "                  handed to signalling), answer (arrived), ice (ICE\n"
  "                  connected), connected (DTLS done), first_packet (of\n"
  "                  video)\n"
  "  active_speaker  participant id of the latest \"active-speaker\" event\n"
  "\n"
  "Without --color and --tone the bots take the colours and tones of a\n"
  "palette in turn (red 440 Hz, green 550, blue 660, yellow 770, magenta 880,\n"
  "cyan 990, white 1100, orange 1210, purple 1320, grey 1430); a single bot\n"
  "picks one at random.  Guests without --name are named after their colour.\n"
  "With --count N and --name NAME the bots are NAME-0 ... NAME-(N-1).\n"
  "\n"
  "--blink=MS makes a bot switch colour every MS ms and print, for each change,\n"
  "  {\"bot\":0,\"event\":\"change\",\"seq\":1,\"rgb\":\"00ffff\",\"painted_us\":T,\n"
  "   \"sent_us\":T,\"rtp_ts\":N,\"ssrc\":N}\n"
  "(when its first frame was painted and its first RTP packet sent).  Its tone\n"
  "plays only while it shows --blink-color, and each start and stop prints\n"
  "  {\"bot\":0,\"event\":\"burst\",\"seq\":1,\"on\":true,\"made_us\":T,\"sent_us\":T,\n"
  "   \"rtp_ts\":N,\"ssrc\":N}\n"
  "When the server asks for the camera's tile size, a bot scales its camera to\n"
  "fit and prints {\"bot\":0,\"event\":\"video-size\",\"max_width\":426,\n"
  "\"max_height\":240,\"width\":426,\"height\":240}.\n"
  "With --watch-tone a bot prints {\"bot\":0,\"event\":\"heard\",\"seq\":1,\n"
  "\"present\":true,\"us\":T} when its decoded audio rises above -30 dBFS or\n"
  "falls below -40 (20 ms resolution).  With\n"
  "--watch-color=RRGGBB a bot samples every decoded frame on a 32x18 grid and\n"
  "prints {\"bot\":0,\"event\":\"seen\",\"seq\":1,\"present\":true,\"us\":T} when\n"
  "the colour appears anywhere or is gone everywhere.  T: wall-clock\n"
  "microseconds (comparable between processes on one machine).\n"
  "\n"
  "--viewers=N runs N lean receive-only viewers in one process, on mixmeet's\n"
  "own transport code in the client role: full ICE as the controlling agent\n"
  "(libnice's STUN library), DTLS-SRTP (OpenSSL, libsrtp2), receiver reports\n"
  "NACKs and transport-wide cc feedback every 100 ms.  Nothing is decoded: a\n"
  "VP8 frame counts when every packet up to its marker arrived, the size of\n"
  "a keyframe is read from its first packet.  One line a second for them all:\n"
  "  {\"bot\":\"lean\",\"t\":3,\"video\":{\"frames\":1500,\"fps\":30.0,\"max_gap_ms\":45},\n"
  "   \"viewers\":50,\"joined\":50,\"connected\":50,\"failed\":0,\"frames_total\":N,\n"
  "   \"packets\":N,\"bytes\":N,\"packets_lost\":N,\"packets_expected\":N,\"late\":N,\n"
  "   \"duplicates\":N,\"nack\":{\"asked\":N,\"dropped\":N,\"recovered\":N},\n"
  "   \"srtp\":{\"auth_sample\":1,\"verified\":N,\"unverified\":0,\"failures\":0,\n"
  "   \"auth_failures\":0,\"replayed\":0},\"rtcp_in\":N,\"consent_lost\":0,\n"
  "   \"answer_timeouts\":0,\"ice_failures\":0,\"dtls_failures\":0,\n"
  "   \"tiers\":{\"high\":50,\"medium\":0,\"low\":0,\"audio-only\":0,\"none\":0},\n"
  "   \"join_ms\":{\"joined\":{\"n\":50,\"p50\":5,\"p95\":9},\"offer\":{...},\"answer\":{...},\n"
  "   \"ice\":{...},\"dtls\":{...},\"first_packet\":{...},\"first_frame\":{...}},\n"
  "   \"cpu_cores\":0.05}\n"
  "  video.fps       whole frames in the last second, mean over the viewers\n"
  "                  that are connected and have had a frame\n"
  "  video.max_gap_ms  longest wait between two whole frames of any viewer\n"
  "                  (counting one still going on)\n"
  "  packets_lost    audio and video packets that never came, NACKs\n"
  "                  included, counted ~2 s late; packets_expected the same\n"
  "                  from sequence numbers (both since the start, summed)\n"
  "  srtp            packets that SRTP authenticated, those not checked\n"
  "                  (--auth-sample), and unprotect failures\n"
  "  join_ms         per step, over the viewers that reached it: ms from the\n"
  "                  join request, count, p50 and p95\n"
  "  answer_timeouts, ice_failures, dtls_failures  offers that got no answer\n"
  "                  in 20 s, ICE with no check answered in 30 s, DTLS\n"
  "                  handshakes that failed: each makes the viewer offer\n"
  "                  again, up to 3 offers, then it has failed\n"
  "  tiers           connected viewers by the quality tier they receive,\n"
  "                  from the height in the latest keyframe (high: 540 lines\n"
  "                  or more, medium: 270, low: fewer); audio-only: no video\n"
  "                  packet for 2 s; none: no keyframe yet\n"
  "  cpu_cores       the process's CPU over the last second\n"
  "At exit one line with \"final\":true adds \"window\": fps, max_gap_ms,\n"
  "packets_lost, packets_expected, loss_pct and cpu_cores over the last\n"
  "--window seconds.  Before it, when the run ends, one line per viewer:\n"
  "  {\"bot\":\"lean\",\"final\":true,\"viewer\":0,\"name\":\"viewer-0\",\n"
  "   \"state\":\"connected\",\"tier\":\"low\",\"width\":320,\"height\":180,\n"
  "   \"tier_changes\":1,\"settled_s\":3.2,\"after_s\":36.1,\"fps\":15.0,\n"
  "   \"max_frame_gap_ms\":90.0,\"max_frame_gap_at_s\":12.1,\"keyframes\":1,\n"
  "   \"max_keyframe_bytes\":4300,\"freezes\":0,\"max_audio_gap_ms\":41.0,\n"
  "   \"video_kbps\":148.2,\"video_bytes\":N,\"link\":{...},\"twcc\":{...}}\n"
  "  settled_s       when the latest change of tier happened (its keyframe,\n"
  "                  or the last video packet), s after the first RTP packet\n"
  "  after_s ... video_kbps  over the time since that change was seen:\n"
  "                  whole frames a second, the longest wait between two,\n"
  "                  freezes (waits over 300 ms), the longest wait between\n"
  "                  two audio packets, the video bit rate (a wait still\n"
  "                  going on at the end counts)\n"
  "  max_frame_gap_at_s  when that longest wait ended, s after the first\n"
  "                  RTP packet; keyframes: how many came (the one of the\n"
  "                  change too), max_keyframe_bytes: the largest\n"
  "  link            with --link: datagrams arrived, delivered, dropped by\n"
  "                  the full queue and lost at random, the longest delay\n"
  "  twcc            feedback packets sent, packets described\n"
  "Times are when a packet was delivered (after --link's queue).\n"
  "\n"
  "With --audio-only the viewers are audio-only participants: one audio\n"
  "m-line, sendrecv (receive-only with --recv-only).  Each sends an Opus\n"
  "packet every 20 ms with its level (ssrc-audio-level): the first\n"
  "--speakers a tone, the others silence.  The line a second then has\n"
  "  \"audio\":{\"packets\":N,\"hearing\":H,\"max_gap_ms\":G,\"sent\":N}\n"
  "  hearing         connected viewers that received 40 or more audio\n"
  "                  packets in that second (the mix comes at 50 a second)\n"
  "  max_gap_ms      the longest wait between two audio packets of any of\n"
  "                  them; sent: audio packets sent in that second\n"
  "and the summary's \"window\" adds hearing_min, the fewest hearing in any\n"
  "second of the window, and audio_max_gap_ms.\n"
  "\n"
  "--loopback-test uses no network: each bot's encoded stream is fed straight\n"
  "into its own decoder and analysis, with one cell for the whole frame.\n"
  "\n"
  "The password may also come from the environment variable\n"
  "MIXMEET_BOT_PASSWORD.  Errors and notices go to stderr.\n"
  "\n"
  "Exit status: 0 after --duration or SIGINT/SIGTERM (each bot leaves the room\n"
  "first); 1 if signing in or joining failed, or if every bot was stopped\n"
  "(removed from the room, or a media error); 2 for bad options.\n";

/* RRGGBB, with or without a leading '#'. */
static const char *
rgb_digits (const char *value)
{
  return value[0] == '#' ? value + 1 : value;
}

static gboolean
rgb_ok (const char *value)
{
  const char *hex = rgb_digits (value);

  return strlen (hex) == 6 && strspn (hex, "0123456789abcdefABCDEF") == 6;
}

void
mm_bot_step (MmBot *bot, MmBotStep step)
{
  gint64 now = g_get_monotonic_time ();

  g_mutex_lock (&bot->lock);
  if (bot->step_us[step] == 0)
    bot->step_us[step] = now;
  g_mutex_unlock (&bot->lock);
}

/* "join_ms":{...}: each step of the join, ms after its request. */
static void
append_join_steps (GString *out, const MmBotReport *r)
{
  static const char *const names[MM_BOT_N_STEPS] = {
    "joined", "offer", "answer", "ice", "connected", "first_packet"
  };

  g_string_append (out, ",\"join_ms\":{");
  for (guint i = 0; i < MM_BOT_N_STEPS; i++)
    {
      g_string_append_printf (out, "%s\"%s\":", i > 0 ? "," : "", names[i]);
      if (r->steps_ms[i] >= 0)
        g_string_append_printf (out, "%" G_GINT64_FORMAT, r->steps_ms[i]);
      else
        g_string_append (out, "null");
    }
  g_string_append_c (out, '}');
}

guint32
mm_bot_parse_rgb (const char *value)
{
  return (guint32) g_ascii_strtoull (rgb_digits (value), NULL, 16);
}

/* --link KBPS[,QUEUE_MS[,LOSS_PERCENT]] into its parts. */
static gboolean
parse_link (MmBotOptions *o)
{
  g_auto (GStrv) f = g_strsplit (o->link, ",", 0);
  guint n = g_strv_length (f);
  guint64 kbps, queue_ms = 300;
  double loss = 0;
  char *end;

  if (n < 1 || n > 3 || !g_ascii_string_to_unsigned (f[0], 10, 8, 1000000, &kbps, NULL)
      || (n > 1 && !g_ascii_string_to_unsigned (f[1], 10, 1, 10000, &queue_ms, NULL)))
    return FALSE;
  if (n > 2)
    {
      loss = g_ascii_strtod (f[2], &end);
      if (end == f[2] || *end != '\0' || !(loss >= 0 && loss < 100))
        return FALSE;
    }
  o->link_kbps = (int) kbps;
  o->link_queue_ms = (int) queue_ms;
  o->link_loss_percent = loss;
  return TRUE;
}

static gboolean
option_values_ok (MmBotOptions *o, GError **error)
{
#define BAD(...) (g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, __VA_ARGS__), FALSE)
  if (!o->loopback && (o->room == NULL || o->room[0] == '\0'))
    return BAD ("--room is required");
  if (o->email != NULL && o->password == NULL)
    o->password = g_strdup (g_getenv ("MIXMEET_BOT_PASSWORD"));
  if (o->email != NULL && o->password == NULL)
    return BAD ("--email needs --password (or MIXMEET_BOT_PASSWORD)");
  {
    const struct {
      const char *option, *value;
    } colours[] = {
      { "color", o->color },
      { "screen-color", o->screen_color },
      { "blink-color", o->blink_color },
      { "watch-color", o->watch_color },
    };

    for (guint i = 0; i < G_N_ELEMENTS (colours); i++)
      if (colours[i].value != NULL && !rgb_ok (colours[i].value))
        return BAD ("--%s wants six hex digits RRGGBB, not \"%s\"", colours[i].option,
                    colours[i].value);
  }
  if (o->blink_ms < 0 || (o->blink_ms > 0 && (o->recv_only || o->audio_only)))
    return BAD ("--blink needs a bot that sends video and 1 or more ms");
  if (o->watch_color != NULL && (o->no_decode || o->audio_only))
    return BAD ("--watch-color needs decoded video (not --no-decode or --audio-only)");
  if (o->watch_tone && (o->no_decode || o->loopback))
    return BAD ("--watch-tone needs decoded audio (not --no-decode or --loopback-test)");
  if (o->latency < -1 || o->latency > 10000)
    return BAD ("--latency must be 0 to 10000 ms");
  if (o->audio_only && (o->publish_after > 0 || o->present_after > 0 || o->camera_off))
    return BAD ("--audio-only excludes --publish-after, --present-after and --camera-off");
  if (o->publish_after < 0 || (o->publish_after > 0 && !o->recv_only))
    return BAD ("--publish-after needs --recv-only and 0 or more seconds");
  if (o->present_after < 0 || o->present_for < 0)
    return BAD ("--present-after and --present-for must be 0 or more seconds");
  if (o->present_after > 0 && (o->recv_only || o->loopback))
    return BAD ("--present-after needs a bot that sends (not --recv-only or --loopback-test)");
  if (o->tone < 0 || o->tone > 20000)
    return BAD ("--tone must be 1 to 20000 Hz");
  if (!(o->tone_volume >= 0 && o->tone_volume <= 1) || !(o->louder_volume >= 0 && o->louder_volume <= 1))
    return BAD ("--tone-volume and --louder-volume must be 0 to 1");
  if (o->claim_level < -1 || o->claim_level > 127)
    return BAD ("--claim-level must be 0 to 127 dBov below full scale");
  if (o->louder_after < 0 || (o->louder_after > 0 && (o->recv_only || o->loopback)))
    return BAD ("--louder-after needs a bot that sends, and 0 or more seconds");
  if (o->width < 16 || o->width > 3840 || o->height < 16 || o->height > 2160)
    return BAD ("--width must be 16 to 3840 and --height 16 to 2160");
  if (o->fps < 1 || o->fps > 60)
    return BAD ("--fps must be 1 to 60");
  if (o->count < 1 || o->count > 1000)
    return BAD ("--count must be 1 to 1000");
  if (o->duration < 0)
    return BAD ("--duration must be 0 or more seconds");
  if (o->recv_only && o->loopback)
    return BAD ("--recv-only and --loopback-test exclude each other");
  if (o->viewers < 0 || o->viewers > 5000)
    return BAD ("--viewers must be 1 to 5000");
  if (o->viewers > 0 && (o->loopback || o->count != 1 || o->blink_ms > 0
                         || o->watch_color != NULL || o->watch_tone || o->publish_after > 0
                         || o->present_after > 0))
    return BAD ("--viewers counts packets and frames: it excludes --count, --loopback-test, "
                "--blink, --watch-color, --watch-tone, --publish-after and --present-after");
  if (o->speakers < -1 || o->speakers > 5000
      || (o->speakers >= 0 && (o->viewers == 0 || !o->audio_only || o->recv_only)))
    return BAD ("--speakers goes with --viewers and --audio-only (not --recv-only), 0 to 5000");
  if (o->viewers == 0 && (o->drop_percent != 0 || o->auth_sample != 1 || o->window != 0
                          || o->join_parallel != 4))
    return BAD ("--drop-percent, --auth-sample, --window and --join-parallel go with --viewers");
  if (o->send_loss < 0 || o->send_loss > 50)
    return BAD ("--send-loss must be 0 to 50");
  if (o->send_loss > 0 && o->viewers > 0)
    return BAD ("--send-loss is for a publisher, not --viewers");
  if (o->drop_percent < 0 || o->drop_percent > 50)
    return BAD ("--drop-percent must be 0 to 50");
  if (o->auth_sample < 1 || o->auth_sample > 1000)
    return BAD ("--auth-sample must be 1 to 1000");
  if (o->window < 0)
    return BAD ("--window must be 0 or more seconds");
  if (o->join_parallel < 1 || o->join_parallel > 64)
    return BAD ("--join-parallel must be 1 to 64");
  if (o->link != NULL && o->viewers == 0)
    return BAD ("--link goes with --viewers");
  if (o->link != NULL && !parse_link (o))
    return BAD ("--link wants KBPS[,QUEUE_MS[,LOSS_PERCENT]]: 8 to 1000000 kbit/s, 1 to 10000 "
                "ms, 0 to 99.9 %%, not \"%s\"", o->link);
  if (o->remb != NULL && o->viewers == 0)
    return BAD ("--remb goes with --viewers");
  if (o->remb != NULL
      && !g_ascii_string_to_unsigned (o->remb, 10, 0, G_MAXUINT64, &o->remb_bps, NULL))
    return BAD ("--remb wants a bit rate from 0 to %" G_GUINT64_FORMAT ", not \"%s\"",
                G_MAXUINT64, o->remb);
  o->remb_set = o->remb != NULL;
  if (o->quality == NULL)
    o->quality = g_strdup ("auto");
  if (!g_strv_contains ((const char *const[]) { "auto", "high", "data-saver", "audio-only", NULL },
                        o->quality))
    return BAD ("--quality must be auto, high, data-saver or audio-only, not \"%s\"",
                o->quality);
  while (g_str_has_suffix (o->server, "/"))
    o->server[strlen (o->server) - 1] = '\0';
  if (!g_str_has_prefix (o->server, "http://") && !g_str_has_prefix (o->server, "https://"))
    return BAD ("--server must be an http:// or https:// URL");
  return TRUE;
#undef BAD
}

static gboolean
parse_options (MmBotApp *app, int *argc, char ***argv)
{
  MmBotOptions *o = &app->opts;
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) ctx = NULL;
  const GOptionEntry entries[] = {
    { "server", 0, 0, G_OPTION_ARG_STRING, &o->server,
      "Base URL of mixmeetd (default http://127.0.0.1:8080)", "URL" },
    { "room", 0, 0, G_OPTION_ARG_STRING, &o->room, "Room code to join (required)", "CODE" },
    { "email", 0, 0, G_OPTION_ARG_STRING, &o->email,
      "Sign in with this account (POST /api/v1/auth/login) and join with its token", "EMAIL" },
    { "password", 0, 0, G_OPTION_ARG_STRING, &o->password, "Password of --email", "PASSWORD" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &o->name,
      "Display name (a guest without --email; NAME-0, NAME-1 ... with --count)", "NAME" },
    { "color", 0, 0, G_OPTION_ARG_STRING, &o->color,
      "Colour of the video sent, RRGGBB (default: from the palette)", "RRGGBB" },
    { "send-loss", 0, 0, G_OPTION_ARG_DOUBLE, &o->send_loss,
      "Lose PERCENT of the camera's RTP packets at random on their way out (a weak uplink; "
      "default 0)", "PERCENT" },
    { "busy-picture", 0, 0, G_OPTION_ARG_NONE, &o->busy,
      "Send a moving zone plate instead of a colour: fine detail that changes every frame, "
      "so that the composite's encoders spend their whole bitrate (make bench's lowbw)", NULL },
    { "tone", 0, 0, G_OPTION_ARG_INT, &o->tone,
      "Frequency of the sine tone sent, Hz (default: from the palette)", "HZ" },
    { "tone-volume", 0, 0, G_OPTION_ARG_DOUBLE, &o->tone_volume,
      "Volume of the tone, 0 to 1 (default 0.3; 0: silence)", "V" },
    { "louder-after", 0, 0, G_OPTION_ARG_INT, &o->louder_after,
      "S seconds after connecting, send the tone at --louder-volume (a voice that gets "
      "louder; SIGUSR1 does it at once)", "S" },
    { "claim-level", 0, 0, G_OPTION_ARG_INT, &o->claim_level,
      "Every audio packet's level extension (RFC 6464) says -DBOV (0: as loud as can be), "
      "whatever is sent (default: the tone's own level)", "DBOV" },
    { "louder-volume", 0, 0, G_OPTION_ARG_DOUBLE, &o->louder_volume,
      "Volume of the tone after --louder-after or SIGUSR1, 0 to 1 (default 1)", "V" },
    { "width", 0, 0, G_OPTION_ARG_INT, &o->width, "Width of the video sent (default 640)", "PX" },
    { "height", 0, 0, G_OPTION_ARG_INT, &o->height, "Height of the video sent (default 360)",
      "PX" },
    { "fps", 0, 0, G_OPTION_ARG_INT, &o->fps, "Frame rate of the video sent (default 30)", "N" },
    { "count", 0, 0, G_OPTION_ARG_INT, &o->count,
      "Run N bots in this process, each with its own webrtcbin (default 1)", "N" },
    { "duration", 0, 0, G_OPTION_ARG_INT, &o->duration,
      "Leave and exit after S seconds (default 0: until SIGINT or SIGTERM)", "S" },
    { "camera-off", 0, 0, G_OPTION_ARG_NONE, &o->camera_off,
      "Tell the room the camera is off (state video_muted), as a user who turns it off", NULL },
    { "publish-after", 0, 0, G_OPTION_ARG_INT, &o->publish_after,
      "With --recv-only: S seconds after the first frame of the composite, start sending "
      "video and audio on the same connection (a viewer who starts publishing; "
      "renegotiation)", "S" },
    { "present-after", 0, 0, G_OPTION_ARG_INT, &o->present_after,
      "S seconds after connecting, share a \"screen\" (a second video of --screen-color) "
      "by renegotiating the connection", "S" },
    { "present-for", 0, 0, G_OPTION_ARG_INT, &o->present_for,
      "Stop sharing after S seconds (nothing more is sent on the screen's m-line, and "
      "the room is told: state presenting=false)", "S" },
    { "screen-color", 0, 0, G_OPTION_ARG_STRING, &o->screen_color,
      "Colour of the shared screen, RRGGBB (default ffff00)", "RRGGBB" },
    { "recv-only", 0, 0, G_OPTION_ARG_NONE, &o->recv_only,
      "Send nothing: receive-only transceivers", NULL },
    { "ice-address", 0, 0, G_OPTION_ARG_STRING, &o->ice_address,
      "Gather ICE candidates on this local address only (e.g. 127.0.0.1)", "ADDR" },
    { "offer-per-mline-ice", 0, 0, G_OPTION_ARG_NONE, &o->offer_per_mline_ice,
      "Send the offer with ICE credentials of their own on every m-line after the first, "
      "as RFC 8843 allows before BUNDLE is agreed (as aiortc does)", NULL },
    { "loopback-test", 0, 0, G_OPTION_ARG_NONE, &o->loopback,
      "No network: decode and analyse the bot's own stream (checks the analysis)", NULL },
    { "no-decode", 0, 0, G_OPTION_ARG_NONE, &o->no_decode,
      "Receive without decoding: count VP8 frames (size from keyframes), no colours or "
      "tones (a light viewer for audience tests)", NULL },
    { "audio-only", 0, 0, G_OPTION_ARG_NONE, &o->audio_only,
      "Audio only: no video m-line (with --recv-only, receive the mix only)", NULL },
    { "latency", 0, 0, G_OPTION_ARG_INT, &o->latency,
      "Jitter-buffer latency of the bot's webrtcbin, ms (default: webrtcbin's, 200)", "MS" },
    { "blink", 0, 0, G_OPTION_ARG_INT, &o->blink_ms,
      "Every MS ms switch the video between its colour and --blink-color, and print "
      "each change (\"event\":\"change\") with the instant it was painted and sent", "MS" },
    { "blink-color", 0, 0, G_OPTION_ARG_STRING, &o->blink_color,
      "The other colour of --blink, RRGGBB (default: the complement)", "RRGGBB" },
    { "watch-color", 0, 0, G_OPTION_ARG_STRING, &o->watch_color,
      "Look for this colour in every decoded frame and print when it appears or goes "
      "(\"event\":\"seen\")", "RRGGBB" },
    { "watch-tone", 0, 0, G_OPTION_ARG_NONE, &o->watch_tone,
      "Print when the decoded audio starts or stops (\"event\":\"heard\"), for the tone "
      "bursts of --blink", NULL },
    { "viewers", 0, 0, G_OPTION_ARG_INT, &o->viewers,
      "Run N lean receive-only viewers in this process on mixmeet's own transport code "
      "(ICE, DTLS-SRTP, RTCP; no GStreamer), one thread for all: the audience load "
      "generator.  One line a second for them all (see below)", "N" },
    { "drop-percent", 0, 0, G_OPTION_ARG_DOUBLE, &o->drop_percent,
      "With --viewers: drop P% of the incoming video packets on purpose, before SRTP, NACK "
      "them and count how many come back (default 0)", "P" },
    { "auth-sample", 0, 0, G_OPTION_ARG_INT, &o->auth_sample,
      "With --viewers: authenticate (SRTP unprotect) 1 packet in K and count the others "
      "unverified (default 1: every packet)", "K" },
    { "window", 0, 0, G_OPTION_ARG_INT, &o->window,
      "With --viewers: the summary at exit gives the frame rate, loss and CPU of the last S "
      "seconds (default 0: the whole run)", "S" },
    { "join-parallel", 0, 0, G_OPTION_ARG_INT, &o->join_parallel,
      "With --viewers: joins, offers and leaves in flight at once (default 4)", "N" },
    { "link", 0, 0, G_OPTION_ARG_STRING, &o->link,
      "With --viewers: each viewer receives through a simulated link of KBPS kbit/s (a token "
      "bucket of one 1,500-byte MTU), a drop-tail queue of QUEUE_MS worth of bytes at that "
      "rate (default 300) and LOSS_PERCENT random loss (default 0), e.g. 250 or 600,300,3",
      "KBPS[,QUEUE_MS[,LOSS_PERCENT]]" },
    { "remb", 0, 0, G_OPTION_ARG_STRING, &o->remb,
      "With --viewers: offer no transport-wide cc and send a REMB of BPS bit/s every 500 ms "
      "instead (0 and 18446744073709551615 allowed: a receiver that lies)", "BPS" },
    { "speakers", 0, 0, G_OPTION_ARG_INT, &o->speakers,
      "With --viewers and --audio-only: the first K participants send the tone "
      "(--tone-volume, its level claimed), the others Opus silence claiming silence "
      "(default: all send the tone)", "K" },
    { "quality", 0, 0, G_OPTION_ARG_STRING, &o->quality,
      "The video quality asked for in the join: auto (the server picks from the feedback, "
      "the default), high, data-saver or audio-only", "Q" },
    { "quiet-stats", 0, 0, G_OPTION_ARG_NONE, &o->quiet_stats,
      "No per-second lines; one summary line per bot at exit (\"final\":true)", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &o->verbose,
      "Log signalling and connection steps on stderr", NULL },
    { NULL }
  };

  o->tone = 0;
  o->tone_volume = 0.3;
  o->louder_volume = 1.0;
  o->claim_level = -1;
  o->speakers = -1;
  o->latency = -1;
  o->width = 640;
  o->height = 360;
  o->fps = 30;
  o->count = 1;
  o->auth_sample = 1;
  o->join_parallel = 4;
  ctx = g_option_context_new ("- a mixmeet test client and load generator");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  g_option_context_set_description (ctx, help_description);
  if (!g_option_context_parse (ctx, argc, argv, &error))
    {
      g_printerr ("mixmeet-bot: %s (see --help)\n", error->message);
      return FALSE;
    }
  if (*argc > 1)
    {
      g_printerr ("mixmeet-bot: unexpected argument \"%s\" (see --help)\n", (*argv)[1]);
      return FALSE;
    }
  if (o->server == NULL)
    o->server = g_strdup ("http://127.0.0.1:8080");
  if (!option_values_ok (o, &error))
    {
      g_printerr ("mixmeet-bot: %s (see --help)\n", error->message);
      return FALSE;
    }
  return TRUE;
}

/* ---- logging ------------------------------------------------------------ */

static const char *
bot_label (MmBot *bot)
{
  if (bot->name != NULL)
    return bot->name;
  if (bot->app->account_name != NULL)
    return bot->app->account_name;
  return "bot";
}

static void
vlog (MmBot *bot, const char *format, va_list ap) G_GNUC_PRINTF (2, 0);

static void
vlog (MmBot *bot, const char *format, va_list ap)
{
  g_autofree char *text = g_strdup_vprintf (format, ap);

  g_printerr ("mixmeet-bot: %u %s: %s\n", bot->index, bot_label (bot), text);
}

void
mm_bot_log (MmBot *bot, const char *format, ...)
{
  va_list ap;

  va_start (ap, format);
  vlog (bot, format, ap);
  va_end (ap);
}

void
mm_bot_debug (MmBot *bot, const char *format, ...)
{
  va_list ap;

  if (!bot->app->opts.verbose)
    return;
  va_start (ap, format);
  vlog (bot, format, ap);
  va_end (ap);
}

/* ---- bots --------------------------------------------------------------- */

static MmBot *
bot_new (MmBotApp *app, guint index)
{
  const MmBotOptions *o = &app->opts;
  MmBot *bot = g_new0 (MmBot, 1);
  guint p = o->count == 1 ? (guint) g_random_int_range (0, G_N_ELEMENTS (palette))
                          : index % G_N_ELEMENTS (palette);

  bot->app = app;
  bot->index = index;
  g_mutex_init (&bot->lock);
  bot->rgb = palette[p].rgb;
  bot->tone = o->tone > 0 ? o->tone : palette[p].tone;
  if (o->color != NULL)
    bot->rgb = mm_bot_parse_rgb (o->color);
  if (o->name != NULL)
    bot->name = o->count == 1 ? g_strdup (o->name) : g_strdup_printf ("%s-%u", o->name, index);
  else if (o->email != NULL)
    bot->name = o->count == 1 || app->account_name == NULL
                  ? NULL : g_strdup_printf ("%s-%u", app->account_name, index);
  else
    {
      const char *colour = NULL;

      for (guint i = 0; i < G_N_ELEMENTS (palette); i++)
        if (palette[i].rgb == bot->rgb)
          colour = palette[i].name;
      if (colour == NULL && o->count == 1)
        bot->name = g_strdup_printf ("bot-%06x", bot->rgb);
      else if (colour == NULL)
        bot->name = g_strdup_printf ("bot-%06x-%u", bot->rgb, index);
      else if (o->count == 1 || (o->color == NULL && index < G_N_ELEMENTS (palette)))
        bot->name = g_strdup (colour);
      else
        bot->name = g_strdup_printf ("%s-%u", colour, index);
    }
  return bot;
}

static void
bot_free (MmBot *bot)
{
  if (bot->restart_id != 0)
    g_source_remove (bot->restart_id);
  g_free (bot->name);
  g_free (bot->participant_id);
  g_free (bot->secret);
  g_free (bot->events_url);
  g_free (bot->messages_url);
  g_free (bot->leave_url);
  g_clear_pointer (&bot->layout, json_object_unref);
  g_free (bot->active_speaker);
  g_free (bot->band_power);
  g_mutex_clear (&bot->lock);
  g_free (bot);
}

void
mm_bot_joined (MmBot *bot)
{
  g_autoptr (GError) error = NULL;

  bot->joined = TRUE;
  mm_bot_debug (bot, "joined as participant %s", bot->participant_id);
  if (bot->app->opts.camera_off)
    {
      JsonObject *msg = json_object_new ();

      json_object_set_string_member (msg, "type", "state");
      json_object_set_boolean_member (msg, "video_muted", TRUE);
      mm_bot_signal_send (bot, msg);
    }
  if (!mm_bot_media_start (bot, &error))
    mm_bot_stop (bot, error->message);
}

void
mm_bot_join_failed (MmBot *bot, const char *message)
{
  mm_bot_log (bot, "join failed: %s", message);
  bot->stopped = TRUE;
  bot->app->exit_status = 1;
  g_main_loop_quit (bot->app->loop);
}

void
mm_bot_stop (MmBot *bot, const char *why)
{
  MmBotApp *app = bot->app;
  gboolean all = TRUE;

  if (bot->stopped)
    return;
  bot->stopped = TRUE;
  mm_bot_log (bot, "stopped: %s", why);
  mm_bot_media_stop (bot);
  mm_bot_signal_leave_soon (bot);
  for (guint i = 0; i < app->bots->len; i++)
    all = all && ((MmBot *) g_ptr_array_index (app->bots, i))->stopped;
  if (all && !app->stopping)
    {
      g_printerr ("mixmeet-bot: every bot has stopped\n");
      app->exit_status = 1;
      g_main_loop_quit (app->loop);
    }
}

/* ---- output ------------------------------------------------------------- */

void
mm_bot_append_json_string (GString *out, const char *s)
{
  if (s == NULL)
    {
      g_string_append (out, "null");
      return;
    }
  g_string_append_c (out, '"');
  for (const char *p = s; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      if (c == '"' || c == '\\')
        g_string_append_printf (out, "\\%c", c);
      else if (c < 0x20 || c == 0x7f)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_c (out, (char) c);
    }
  g_string_append_c (out, '"');
}

/* A number with one decimal, whatever the locale. */
static void
append_double1 (GString *out, double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (v))
    {
      g_string_append (out, "null");
      return;
    }
  g_string_append (out, g_ascii_formatd (buf, sizeof buf, "%.1f", v));
}

static void
append_head (GString *out, MmBot *bot)
{
  g_string_append_printf (out, "{\"bot\":%u,\"name\":", bot->index);
  mm_bot_append_json_string (out, bot_label (bot));
  g_string_append (out, ",\"participant_id\":");
  mm_bot_append_json_string (out, bot->joined ? bot->participant_id : NULL);
  g_string_append_printf (out, ",\"t\":%u", bot->app->ticks);
  if (bot->app->opts.loopback)
    g_string_append (out, ",\"loopback\":true");
}

void
mm_bot_print_line (GString *out)
{
  static GMutex lock;

  g_string_append_c (out, '\n');
  g_mutex_lock (&lock);
  fwrite (out->str, 1, out->len, stdout);
  fflush (stdout);
  g_mutex_unlock (&lock);
}

static void
print_report (MmBot *bot, const MmBotReport *r)
{
  g_autoptr (GString) out = g_string_new (NULL);

  append_head (out, bot);
  g_string_append_printf (out, ",\"connected\":%s", r->connected ? "true" : "false");
  g_string_append_printf (out, ",\"connections\":%u", bot->connections);
  g_string_append_printf (out, ",\"video\":{\"frames\":%u,\"fps\":", r->frames);
  append_double1 (out, r->fps);
  if (r->max_gap_ms >= 0)
    g_string_append_printf (out, ",\"max_gap_ms\":%" G_GINT64_FORMAT, r->max_gap_ms);
  else
    g_string_append (out, ",\"max_gap_ms\":null");
  if (r->width > 0)
    g_string_append_printf (out, ",\"width\":%d,\"height\":%d}", r->width, r->height);
  else
    g_string_append (out, ",\"width\":null,\"height\":null}");
  g_string_append (out, ",\"cells\":[");
  for (guint i = 0; i < r->cells->len; i++)
    {
      const MmBotCell *c = &g_array_index (r->cells, MmBotCell, i);

      g_string_append (out, i > 0 ? ",{\"participant_id\":" : "{\"participant_id\":");
      mm_bot_append_json_string (out, c->participant_id);
      g_string_append (out, ",\"display_name\":");
      mm_bot_append_json_string (out, c->display_name);
      if (c->screen)
        g_string_append (out, ",\"screen\":true");
      if (c->have_rgb)
        g_string_append_printf (out, ",\"rgb\":[%u,%u,%u]}", c->rgb[0], c->rgb[1], c->rgb[2]);
      else
        g_string_append (out, ",\"rgb\":null}");
    }
  g_string_append (out, "],\"audio\":{\"level_db\":");
  if (r->have_level)
    append_double1 (out, r->level_db);
  else
    g_string_append (out, "null");
  g_string_append (out, ",\"peaks\":[");
  for (guint i = 0; i < r->n_peaks; i++)
    {
      g_string_append_printf (out, "%s{\"hz\":%ld,\"db\":", i > 0 ? "," : "",
                              lround (r->peaks[i].hz));
      append_double1 (out, r->peaks[i].db);
      g_string_append_c (out, '}');
    }
  g_string_append (out, "]},\"packets_lost\":");
  if (r->have_lost)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, r->packets_lost);
  else
    g_string_append (out, "null");
  g_string_append (out, ",\"first_frame_ms\":");
  if (r->first_frame_ms >= 0)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, r->first_frame_ms);
  else
    g_string_append (out, "null");
  append_join_steps (out, r);
  g_string_append (out, ",\"active_speaker\":");
  mm_bot_append_json_string (out, bot->active_speaker);
  g_string_append (out, ",\"layout\":");
  mm_bot_append_json_string (out, bot->layout != NULL
                                    && json_object_has_member (bot->layout, "layout")
                                  ? json_object_get_string_member (bot->layout, "layout") : NULL);
  g_string_append_c (out, '}');
  mm_bot_print_line (out);
}

/* Totals kept for the summary line of --quiet-stats. */
typedef struct {
  guint64 frames;
  gboolean connected_once;
  MmBotReport last;
} Totals;

static Totals *totals;

static gboolean
on_tick (gpointer user_data)
{
  MmBotApp *app = user_data;

  app->ticks++;
  for (guint i = 0; i < app->bots->len; i++)
    {
      MmBot *bot = g_ptr_array_index (app->bots, i);
      MmBotReport r;

      if (bot->stopped)
        continue;
      mm_bot_media_report (bot, &r);
      mm_bot_media_poll_stats (bot);
      totals[i].frames += r.frames;
      totals[i].connected_once |= r.connected;
      if (!app->opts.quiet_stats)
        print_report (bot, &r);
      mm_bot_report_clear (&totals[i].last);
      totals[i].last = r;
    }
  /* --duration counts these ticks: S seconds print S lines per bot. */
  if (app->opts.duration > 0 && app->ticks >= (guint) app->opts.duration)
    g_main_loop_quit (app->loop);
  return G_SOURCE_CONTINUE;
}

static void
print_summary (MmBot *bot, const Totals *t)
{
  g_autoptr (GString) out = g_string_new (NULL);

  append_head (out, bot);
  g_string_append_printf (out, ",\"final\":true,\"stopped\":%s,\"connected\":%s"
                          ",\"connected_once\":%s,\"frames_total\":%" G_GUINT64_FORMAT,
                          bot->stopped ? "true" : "false",
                          t->last.connected ? "true" : "false",
                          t->connected_once ? "true" : "false", t->frames);
  g_string_append (out, ",\"packets_lost\":");
  if (t->last.have_lost)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, t->last.packets_lost);
  else
    g_string_append (out, "null");
  g_string_append (out, ",\"first_frame_ms\":");
  if (t->last.first_frame_ms >= 0)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, t->last.first_frame_ms);
  else
    g_string_append (out, "null");
  append_join_steps (out, &t->last);
  g_string_append_c (out, '}');
  mm_bot_print_line (out);
}

/* ---- main --------------------------------------------------------------- */

static gboolean
on_quit_signal (gpointer user_data)
{
  MmBotApp *app = user_data;

  g_main_loop_quit (app->loop);
  return G_SOURCE_CONTINUE;
}

/* SIGUSR1: every bot's tone at --louder-volume (a voice that gets louder). */
static gboolean
on_louder_signal (gpointer user_data)
{
  MmBotApp *app = user_data;

  for (guint i = 0; i < app->bots->len; i++)
    mm_bot_media_louder (app->bots->pdata[i]);
  return G_SOURCE_CONTINUE;
}

static void
options_clear (MmBotOptions *o)
{
  g_free (o->server);
  g_free (o->room);
  g_free (o->email);
  g_free (o->password);
  g_free (o->name);
  g_free (o->color);
  g_free (o->ice_address);
  g_free (o->blink_color);
  g_free (o->watch_color);
  g_free (o->link);
  g_free (o->remb);
  g_free (o->quality);
}

int
main (int argc, char **argv)
{
  static MmBotApp app;
  g_autoptr (GError) error = NULL;
  guint tick, sigint, sigterm, sigusr1;

  if (!parse_options (&app, &argc, &argv))
    return 2;
  if (app.opts.viewers > 0)
    {
      int status;

      mm_bot_signal_global_init ();
      if (app.opts.email != NULL)
        {
          app.token = mm_bot_signal_login (&app.opts, &app.account_name, &error);
          if (app.token == NULL)
            {
              g_printerr ("mixmeet-bot: %s\n", error->message);
              mm_bot_signal_global_cleanup ();
              return 1;
            }
        }
      status = mm_bot_lean_run (&app);
      g_free (app.token);
      g_free (app.account_name);
      options_clear (&app.opts);
      mm_bot_signal_global_cleanup ();
      return status;
    }
  gst_init (NULL, NULL);
  if (!mm_bot_media_check (&app.opts, &error))
    {
      g_printerr ("mixmeet-bot: %s\n", error->message);
      return 1;
    }
  /* webrtcbin's DTLS elements make their certificate (RSA 2048, ~0.2 s of
   * CPU) once per process, when the first of them is made: make it now,
   * before any join, as a browser has its certificate before it joins. */
  if (!app.opts.loopback)
    {
      GstElement *warm = gst_element_factory_make ("dtlsdec", NULL);

      if (warm != NULL)
        gst_object_unref (gst_object_ref_sink (warm));
    }
  mm_bot_signal_global_init ();
  app.loop = g_main_loop_new (NULL, FALSE);
  app.bots = g_ptr_array_new ();

  if (app.opts.email != NULL && !app.opts.loopback)
    {
      app.token = mm_bot_signal_login (&app.opts, &app.account_name, &error);
      if (app.token == NULL)
        {
          g_printerr ("mixmeet-bot: %s\n", error->message);
          mm_bot_signal_global_cleanup ();
          return 1;
        }
    }

  totals = g_new0 (Totals, app.opts.count);
  for (int i = 0; i < app.opts.count; i++)
    {
      /* Nothing known before the first report. */
      totals[i].last.first_frame_ms = -1;
      for (guint k = 0; k < MM_BOT_N_STEPS; k++)
        totals[i].last.steps_ms[k] = -1;
      g_ptr_array_add (app.bots, bot_new (&app, (guint) i));
    }
  for (guint i = 0; i < app.bots->len; i++)
    {
      MmBot *bot = g_ptr_array_index (app.bots, i);

      if (app.opts.loopback)
        {
          bot->joined = TRUE;
          if (!mm_bot_media_start (bot, &error))
            {
              mm_bot_log (bot, "%s", error->message);
              return 1;
            }
        }
      else
        mm_bot_signal_start (bot);
    }

  tick = g_timeout_add (1000, on_tick, &app);
  sigint = g_unix_signal_add (SIGINT, on_quit_signal, &app);
  sigterm = g_unix_signal_add (SIGTERM, on_quit_signal, &app);
  sigusr1 = g_unix_signal_add (SIGUSR1, on_louder_signal, &app);
  g_main_loop_run (app.loop);

  /* Tell every thread to end its request (they do within about a second),
   * stop the media (no more webrtcbin callbacks that queue messages), then
   * wait for the threads and leave the room bot by bot. */
  app.stopping = TRUE;
  g_source_remove (tick);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  g_source_remove (sigusr1);
  for (guint i = 0; i < app.bots->len; i++)
    mm_bot_signal_request_stop (g_ptr_array_index (app.bots, i));
  for (guint i = 0; i < app.bots->len; i++)
    mm_bot_media_stop (g_ptr_array_index (app.bots, i));
  for (guint i = 0; i < app.bots->len; i++)
    {
      MmBot *bot = g_ptr_array_index (app.bots, i);

      mm_bot_signal_stop (bot);
      if (app.opts.quiet_stats)
        print_summary (bot, &totals[i]);
      mm_bot_report_clear (&totals[i].last);
      bot_free (bot);
    }
  g_free (totals);
  g_ptr_array_unref (app.bots);
  g_main_loop_unref (app.loop);
  g_free (app.token);
  g_free (app.account_name);
  options_clear (&app.opts);
  mm_bot_signal_global_cleanup ();
  return app.exit_status;
}
