/* bot.h — mixmeet-bot: a test client and load generator.
 *
 * A bot joins a room through the REST and long-poll API like a browser,
 * offers a WebRTC session (webrtcbin) that sends a solid colour and a sine
 * tone, and reports once a second, as one JSON line on stdout, what it gets
 * back: decoded frames, the colour at the centre of each tile of the latest
 * layout, the strongest audio frequencies and the packet loss.
 *
 * Threads.  Everything in MmBot belongs to the main loop (the default
 * GMainContext) unless its comment says otherwise.  Each bot has one
 * signalling thread (join, then long-poll; signal.c) and one sender thread
 * (a GThreadPool of one thread, so its messages leave in order); both hand
 * their results to the main loop with g_main_context_invoke.  GStreamer
 * streaming threads touch only the members under MmBot.lock.
 *
 * Files: bot.c (main, options, output), signal.c (HTTP with libcurl),
 * media.c (GStreamer pipeline and analysis).  --viewers runs instead the
 * lean viewers of lean.h, without GStreamer.
 */
#pragma once

#include <glib.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-bot"

#define MM_BOT_MAX_PEAKS 5

typedef struct {
  char *server;              /* base URL, no trailing slash */
  char *room;
  char *email;
  char *password;
  char *name;                /* NULL: colour names, or the account name */
  char *color;               /* RRGGBB, NULL: palette */
  int tone;                  /* Hz, 0: palette */
  double tone_volume;        /* of the sine, 0 to 1 (0.3) */
  int louder_after;          /* s after connecting: the tone at --louder-volume (0: never) */
  double louder_volume;      /* 1.0 */
  int claim_level;           /* -dBov every audio packet claims, -1: the tone's own */
  int speakers;              /* --viewers --audio-only: how many send the tone, -1: all */
  int width;
  int height;
  int fps;
  int count;
  int duration;              /* seconds, 0: until SIGINT/SIGTERM */
  gboolean recv_only;
  gboolean camera_off;       /* send video but say it is muted */
  int publish_after;         /* with recv_only: s after the first frame, start sending */
  int present_after;         /* s after connecting: share a "screen" (0: never) */
  int present_for;           /* s of sharing before stopping (0: until the end) */
  char *screen_color;        /* RRGGBB of the "screen" */
  char *ice_address;
  gboolean offer_per_mline_ice;   /* other ICE credentials on the m-lines after the first */
  gboolean loopback;
  gboolean quiet_stats;
  gboolean no_decode;        /* count received frames without decoding them */
  gboolean audio_only;       /* no video m-line: send (or with recv_only receive) audio only */
  int latency;               /* webrtcbin jitter-buffer latency, ms; -1: its default */
  int blink_ms;              /* switch colour every blink_ms (0: never); marks.c */
  gboolean busy;             /* the camera sends a moving zone plate, not a colour */
  double send_loss;          /* per cent of the camera's RTP packets lost on the way out */
  char *blink_color;         /* RRGGBB of the other colour, NULL: the complement */
  char *watch_color;         /* RRGGBB to look for in every decoded frame, or NULL */
  gboolean watch_tone;       /* print when the decoded audio starts and stops */
  gboolean verbose;
  /* --viewers (lean.c): N receive-only viewers on our own transport code */
  int viewers;
  double drop_percent;       /* of incoming video packets, dropped and NACKed */
  int auth_sample;           /* authenticate 1 in K packets (1: every one) */
  int window;                /* s of the final summary's figures (0: the whole run) */
  int join_parallel;         /* requests (join, offer, leave) in flight at once */
  char *link;                /* --link KBPS[,QUEUE_MS[,LOSS_PERCENT]] as given, or NULL */
  int link_kbps;             /* its parts; 0: no simulated link */
  int link_queue_ms;
  double link_loss_percent;
  /* The quality asked for in the join: auto, high, data-saver or audio-only */
  char *quality;
  /* --remb BPS: offer no transport-wide cc and report BPS in a REMB every
   * 500 ms instead, as a receiver that estimates by itself (any value a
   * REMB can carry, 0 and the largest too) */
  char *remb;
  gboolean remb_set;
  guint64 remb_bps;
} MmBotOptions;

typedef struct _MmBot MmBot;

/* The steps of a join, for the join-time breakdown ("join_ms"). */
typedef enum {
  MM_BOT_STEP_JOINED,        /* the REST join answered */
  MM_BOT_STEP_OFFER,         /* the offer made and handed to signalling */
  MM_BOT_STEP_ANSWER,        /* the server's answer arrived */
  MM_BOT_STEP_ICE,           /* ICE connected */
  MM_BOT_STEP_CONNECTED,     /* DTLS done: the peer connection is connected */
  MM_BOT_STEP_FIRST_PACKET,  /* the first video RTP packet received */
  MM_BOT_N_STEPS
} MmBotStep;

/* A change --blink made to one of the bot's streams (marks.c). */
typedef struct {
  gboolean alt;              /* to the other colour, or the tone on */
  guint seq;
  GstClockTime pts;          /* of its first raw buffer */
  gint64 made_us;            /* wall clock when that buffer was changed */
  gboolean pending;          /* its first RTP packet has not left yet */
} MmBotMark;

/* The process: options, the bots, the main loop. */
typedef struct {
  MmBotOptions opts;
  GMainLoop *loop;
  GPtrArray *bots;           /* of MmBot*, owned */
  char *token;               /* account token when signed in, or NULL */
  char *account_name;        /* the account's name when signed in */
  int exit_status;
  guint ticks;               /* seconds since start, as printed in "t" */
  gboolean stopping;
} MmBotApp;

/* One tile's sample, as reported in "cells". */
typedef struct {
  char *participant_id;      /* NULL for tiles without one ("+N") */
  char *display_name;
  gboolean have_rgb;
  guint8 rgb[3];
  gboolean screen;           /* a shared screen's tile */
} MmBotCell;

typedef struct {
  double hz;
  double db;
} MmBotPeak;

/* What a bot prints for one second (mm_bot_media_report fills it). */
typedef struct {
  gboolean connected;
  guint frames;              /* decoded in this period */
  double fps;
  gint64 max_gap_ms;         /* longest wait between frames, -1 before the first */
  int width;                 /* of the last frame; 0 before the first */
  int height;
  GArray *cells;             /* of MmBotCell; mm_bot_report_clear frees */
  MmBotPeak peaks[MM_BOT_MAX_PEAKS];
  guint n_peaks;
  gboolean have_level;
  double level_db;
  gboolean have_lost;
  gint64 packets_lost;
  gint64 first_frame_ms;     /* -1 before the first frame */
  gint64 steps_ms[MM_BOT_N_STEPS];   /* since the join request, -1: not yet */
} MmBotReport;

struct _MmBot {
  MmBotApp *app;
  guint index;
  char *name;                /* display name asked for (NULL: the account's) */
  guint32 rgb;               /* 0xRRGGBB */
  /* The SSRCs it sends (camera, microphone, screen), chosen before any
   * media as a browser does, so that the offer need not wait for it. */
  guint32 ssrc_video, ssrc_audio, ssrc_screen;
  int tone;
  guint louder_id;           /* the timer of --louder-after */

  /* Signalling (signal.c).  Written by the signalling thread before it
   * reports the join to the main loop; read-only afterwards. */
  gint64 join_start_us;      /* monotonic, when the join request started */
  char *participant_id;
  char *secret;
  char *events_url;
  char *messages_url;
  char *leave_url;
  int long_poll_timeout;
  int presence_timeout;
  gint64 last_seq;           /* signalling thread only */
  GThread *thread;           /* join + long-poll */
  GThreadPool *outbox;       /* posts messages in order */
  GThread *leaver;           /* posts leave for a bot stopped early */
  gint stop;                 /* atomic: threads end their requests */
  gboolean joined;           /* main loop: the join answer has arrived */
  gboolean stopped;          /* main loop: this bot is out (error or removed) */
  gboolean gone;             /* main loop: the server no longer knows it (no leave) */
  gint ice_errors;           /* atomic: candidates the server refused */

  /* Room state from events (main loop). */
  JsonObject *layout;        /* the latest "layout" event, or NULL */
  char *active_speaker;

  /* Media (media.c), main loop. */
  GstElement *pipeline;
  GstElement *webrtc;
  guint bus_watch;
  guint caps_wait;           /* source waiting for the SSRC in the sink caps */
  guint restart_id;          /* source restarting the media after media-failed */
  guint watchdog_id;         /* source offering again if no connection comes */
  guint watchdog_ticks;      /* its ticks since the media started */
  guint caps_wait_ticks;
  gboolean remote_set;
  gboolean renegotiating;    /* a new offer is out on the same connection */
  guint connections;         /* peer connections made so far (restarts add one) */
  guint present_id;          /* source starting or stopping the screen share */
  gboolean publish_armed;    /* --publish-after's timer was set for this connection */
  GstObject *screen_trans;   /* the screen's transceiver (owned), once added */
  GstPad *screen_src;        /* the screen sender's src pad (owned) */
  GPtrArray *pending_candidates;   /* of MmBotCandidate*, until the answer */
  gint64 last_report_us;
  double *band_power;        /* summed linear power per spectrum band */
  guint n_bands;
  guint spectrum_msgs;
  double level_power;        /* summed linear power of the level RMS */
  guint level_msgs;

  /* Shared with streaming and webrtcbin threads: under lock. */
  GMutex lock;
  GstSample *last_frame;     /* RGBx */
  int coded_width, coded_height;   /* from VP8 keyframes, with no_decode */
  guint frames;
  gboolean got_frame;        /* a frame came on this connection */
  gint64 last_frame_us;      /* monotonic, of the latest frame */
  gint64 max_gap_us;         /* longest interval between frames this period */
  gint64 first_frame_us;     /* monotonic, 0 before the first frame */
  gint64 step_us[MM_BOT_N_STEPS];   /* monotonic, 0: not yet (mm_bot_step) */
  gboolean have_lost;
  gint64 packets_lost;

  /* marks.c (streaming threads), under lock. */
  gint64 blink_next_us;      /* wall clock of the next colour change */
  gboolean blink_alt;        /* the camera shows the other colour, the tone plays */
  MmBotMark colour_mark;     /* the latest change of the camera's colour */
  MmBotMark tone_mark;       /* of the microphone: tone on or off */
  gboolean watch_present;    /* the watched colour is in the latest frame */
  guint watch_seq;
  gboolean heard_present;    /* --watch-tone: the latest audio buffer is loud */
  guint heard_seq;
};

/* bot.c */
void mm_bot_log (MmBot *bot, const char *format, ...) G_GNUC_PRINTF (2, 3);
void mm_bot_debug (MmBot *bot, const char *format, ...) G_GNUC_PRINTF (2, 3);
/* Any thread: note the first time @step happened. */
void mm_bot_step (MmBot *bot, MmBotStep step);
/* 0xRRGGBB of a colour option that passed the option checks. */
guint32 mm_bot_parse_rgb (const char *value);
/* @s (transfer none; NULL: null) as a JSON string at the end of @out. */
void mm_bot_append_json_string (GString *out, const char *s);
/* Any thread: print @line (transfer none) and a newline on stdout, whole. */
void mm_bot_print_line (GString *line);
/* Main loop: called by signal.c once the join has been answered. */
void mm_bot_joined (MmBot *bot);
/* Main loop: the join failed (fatal for the process: exit status 1).
 * @message: transfer none. */
void mm_bot_join_failed (MmBot *bot, const char *message);
/* Main loop: the bot cannot go on (removed, secret refused, media error). */
void mm_bot_stop (MmBot *bot, const char *why);

/* signal.c */

/* What an HTTP request gave. */
typedef struct {
  long status;              /* HTTP status, 0 when there was no answer */
  char *transport_error;    /* when status is 0 */
  gboolean timed_out;       /* no answer within the time allowed */
  JsonNode *json;           /* the body, if it was JSON */
} MmBotHttpResult;

void mm_bot_http_result_clear (MmBotHttpResult *r);
/* "HTTP 404 room_not_found: ...", or the transport error.  Transfer full. */
char *mm_bot_http_describe_failure (const MmBotHttpResult *r, const char *url);
/* The API error code of an answer, or NULL (transfer none). */
const char *mm_bot_http_error_code (const MmBotHttpResult *r);
/* Members of a JSON object that is not trusted: NULL / FALSE when absent
 * or of another type (transfer none). */
const char *mm_bot_json_str (JsonObject *o, const char *name);
gboolean mm_bot_json_int (JsonObject *o, const char *name, gint64 *value);
/* Transfer full. */
char *mm_bot_json_text (JsonObject *o);

/* A participant's signalling, from the answer to its join. */
typedef struct {
  char *participant_id;
  char *secret;
  char *events_url;
  char *messages_url;
  char *leave_url;
  int long_poll_timeout;
  int presence_timeout;
  gint64 last_seq;
} MmBotSession;

void mm_bot_session_clear (MmBotSession *s);
/* The join request: its URL and body (transfer full); @name and
 * @quality may be NULL (not sent). */
char *mm_bot_signal_join_url (const MmBotOptions *opts);
char *mm_bot_signal_join_body (const char *name, const char *quality);
/* Read a join answer into @s; FALSE with *@why (transfer full) if it lacks
 * something. */
gboolean mm_bot_signal_parse_join (const char *server, const MmBotHttpResult *r,
                                   MmBotSession *s, char **why);
/* Read an events answer: *@events (transfer none, valid while @r is) and
 * its last_seq; FALSE if it is not one. */
gboolean mm_bot_signal_parse_events (const MmBotHttpResult *r, JsonArray **events,
                                     gint64 *last_seq);

/* Many requests on one thread (curl multi), for the lean viewers.
 * Bounded requests (@held FALSE: join, messages, leave) run at most
 * @max_active at a time, in order; held ones (long-polls) are not
 * counted.  @done runs on @ctx with the result (transfer none). */
typedef struct _MmBotHttp MmBotHttp;
typedef void (*MmBotHttpDone) (MmBotHttpResult *r, gpointer data);

MmBotHttp *mm_bot_http_new (GMainContext *ctx, guint max_active);
/* @url, @bearer, @body: transfer none (@bearer and @body may be NULL). */
void mm_bot_http_request (MmBotHttp *h, const char *method, const char *url,
                          const char *bearer, const char *body, long timeout_s,
                          gboolean held, MmBotHttpDone done, gpointer data);
/* Bounded requests not finished yet. */
guint mm_bot_http_pending (MmBotHttp *h);
/* Abort what runs; the @done of aborted requests is never called, and
 * results already handed to the context are not either once it stops
 * being iterated. */
void mm_bot_http_free (MmBotHttp *h);

void mm_bot_signal_global_init (void);
void mm_bot_signal_global_cleanup (void);
/* Sign in once for all bots.  Returns the account token (transfer full) and
 * the account's name in *@user_name (transfer full), or NULL with @error. */
char *mm_bot_signal_login (const MmBotOptions *opts, char **user_name, GError **error);
/* Start the bot's signalling thread: join, then long-poll. */
void mm_bot_signal_start (MmBot *bot);
/* Post a message to the bot's queue, in order, from any thread.
 * @msg: transfer full. */
void mm_bot_signal_send (MmBot *bot, JsonObject *msg);
/* Any thread: ask the bot's threads to end their requests (quickly). */
void mm_bot_signal_request_stop (MmBot *bot);
/* Main loop: a bot stopped early ends its requests and leaves the room now
 * (from a thread of its own) rather than linger until the presence
 * timeout. */
void mm_bot_signal_leave_soon (MmBot *bot);
/* Main loop, at exit: wait for the threads and leave the room. */
void mm_bot_signal_stop (MmBot *bot);

/* lean.c: run the --viewers mode; returns the exit status. */
int mm_bot_lean_run (MmBotApp *app);

/* marks.c */
/* Main loop: with --blink, add the probes that change colour to the camera
 * bin @video_bin and the tone bursts to the microphone bin @audio_bin
 * (transfer none; names "camera", "mic" and "pay"). */
void mm_bot_marks_sender (MmBot *bot, GstElement *video_bin, GstElement *audio_bin);
/* Main loop: with --watch-tone, watch the decoded audio at @pad (transfer
 * none; S16LE or F32LE, mono). */
void mm_bot_marks_listen (MmBot *bot, GstPad *pad);
/* Streaming thread: with --watch-color, look for it in @sample (RGBx,
 * transfer none). */
void mm_bot_marks_frame (MmBot *bot, GstSample *sample);
/* The colour --blink switches to, 0xRRGGBB. */
guint32 mm_bot_marks_blink_rgb (MmBot *bot);

/* media.c */
/* Check that every element the bot needs exists; @error names the
 * Debian package of a missing one. */
gboolean mm_bot_media_check (const MmBotOptions *opts, GError **error);
/* Build and start the bot's pipeline: webrtcbin (then offer), or the
 * loopback pipeline with --loopback-test. */
gboolean mm_bot_media_start (MmBot *bot, GError **error);
/* The answer from the server: @sdp (transfer none) is the SDP text. */
void mm_bot_media_set_answer (MmBot *bot, const char *sdp);
/* A remote ICE candidate (transfer none); queued until the answer is set. */
void mm_bot_media_add_candidate (MmBot *bot, guint mline, const char *candidate);
/* Once a second: ask webrtcbin for its statistics. */
void mm_bot_media_poll_stats (MmBot *bot);
/* Fill @report with this period's figures and start a new period. */
void mm_bot_media_report (MmBot *bot, MmBotReport *report);
void mm_bot_report_clear (MmBotReport *report);
/* Stop and free the pipeline. */
void mm_bot_media_stop (MmBot *bot);
/* The camera at no more than @max_w x @max_h ("video-size"); the size now
 * sent in *@w, *@h. */
void mm_bot_media_video_size (MmBot *bot, gint max_w, gint max_h, gint *w, gint *h);
/* The tone at --louder-volume from now on (--louder-after, SIGUSR1). */
void mm_bot_media_louder (MmBot *bot);
/* Close the media and offer again shortly (the server said it failed). */
void mm_bot_media_restart (MmBot *bot);
void mm_bot_media_limit_uplink (MmBot *bot, guint64 bps);
