/* lean.c — mixmeet-bot --viewers: the process, its loop and its output.
 *
 * One thread (the default GMainContext) runs every viewer: one epoll
 * descriptor over their sockets, read with recvmmsg; one 20 ms tick for
 * their timers; one line a second on stdout for them all.  Joins start a
 * few at a time (--join-parallel) so that the server's REST layer and ours
 * see a paced crowd.
 */
#define _GNU_SOURCE   /* recvmmsg */
#include "config.h"

#include "bot/lean.h"

#include <errno.h>
#include <glib-unix.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 32
#define DATAGRAM 2048
#define TICK_MS 20
#define READ_MS 2
#define HISTORY 3600

static const char *const step_names[MM_LEAN_N_STEPS] = {
  "joined", "offer", "answer", "ice", "dtls", "first_packet", "first_frame"
};

static const char *const state_names[] = {
  "idle", "joining", "negotiating", "checking", "dtls", "connected", "failed"
};

G_STATIC_ASSERT (G_N_ELEMENTS (state_names) == MM_LEAN_FAILED + 1);

/* As "tiers" lists them. */
static const MmLeanTier tier_order[] = {
  MM_LEAN_TIER_HIGH, MM_LEAN_TIER_MEDIUM, MM_LEAN_TIER_LOW, MM_LEAN_TIER_AUDIO_ONLY,
  MM_LEAN_TIER_NONE
};

void
mm_lean_log (MmLeanViewer *v, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list ap;

  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_printerr ("mixmeet-bot: viewer %u %s: %s\n", v->index, v->name, text);
}

void
mm_lean_debug (MmLeanViewer *v, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list ap;

  if (!v->lean->opts->verbose)
    return;
  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_printerr ("mixmeet-bot: viewer %u %s: %s\n", v->index, v->name, text);
}

/* ---- reading --------------------------------------------------------------- */

typedef struct {
  MmLean lean;
  GMainLoop *loop;
  guint8 bufs[BATCH][DATAGRAM];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_storage from[BATCH];
  guint next_start;          /* the next viewer to start joining */
  guint ticks;               /* seconds, as printed in "t" */
  gint64 period_start_us;
  /* One snapshot a second, for the summary's window. */
  struct Snapshot {
    guint t;
    double fps;              /* mean over connected viewers, this second */
    gint64 max_gap_ms;
    guint64 lost, expected;
    double cpu_s;
    gint64 at_us;
    guint connected;
    guint hearing;           /* connected viewers with the mix's packets this second */
    gint64 audio_gap_ms;     /* longest wait between two of them, -1: none */
  } history[HISTORY];
  guint n_history;
  guint64 sent_before;       /* audio packets sent, at the previous second */
} Lean;

static double
cpu_seconds (void)
{
  struct rusage ru;

  if (getrusage (RUSAGE_SELF, &ru) != 0)
    return 0;
  return (double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double) ru.ru_stime.tv_sec
         + ru.ru_stime.tv_usec / 1e6;
}

static void
read_viewer (Lean *l, MmLeanViewer *v)
{
  /* At most a few batches per wake: one busy socket must not starve the
   * others (epoll is level-triggered: what is left wakes us again). */
  for (guint round = 0; round < 4; round++)
    {
      gint64 now;
      int n;

      for (guint i = 0; i < BATCH; i++)
        {
          l->iov[i].iov_base = l->bufs[i];
          l->iov[i].iov_len = DATAGRAM;
          memset (&l->msgs[i].msg_hdr, 0, sizeof l->msgs[i].msg_hdr);
          l->msgs[i].msg_hdr.msg_iov = &l->iov[i];
          l->msgs[i].msg_hdr.msg_iovlen = 1;
          l->msgs[i].msg_hdr.msg_name = &l->from[i];
          l->msgs[i].msg_hdr.msg_namelen = sizeof l->from[i];
        }
      n = recvmmsg (v->fd, l->msgs, BATCH, MSG_DONTWAIT, NULL);
      if (n <= 0)
        return;
      now = g_get_monotonic_time ();
      for (int i = 0; i < n; i++)
        if ((l->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) == 0)
          mm_lean_viewer_datagram (v, l->bufs[i], l->msgs[i].msg_len, &l->from[i],
                                   l->msgs[i].msg_hdr.msg_namelen, now);
      if (n < BATCH)
        return;
    }
}

/* Every READ_MS: whatever arrived on any socket.  Reading on a clock
 * rather than on every datagram takes a wake-up per batch instead of per
 * packet (a server sends each packet to every viewer at once); it delays
 * what we see by READ_MS at most. */
static gboolean
on_read (gpointer data)
{
  Lean *l = data;
  struct epoll_event evs[256];
  int n;

  /* Audio out first, on each participant's own schedule. */
  if (l->lean.tone != NULL)
    {
      gint64 now = g_get_monotonic_time ();

      for (guint i = 0; i < l->lean.viewers->len; i++)
        mm_lean_speak (g_ptr_array_index (l->lean.viewers, i), now);
    }
  do
    {
      n = epoll_wait (l->lean.epfd, evs, G_N_ELEMENTS (evs), 0);
      for (int i = 0; i < n; i++)
        read_viewer (l, evs[i].data.ptr);
    }
  while (n == G_N_ELEMENTS (evs));
  return G_SOURCE_CONTINUE;
}

/* ---- timers ---------------------------------------------------------------- */

static gboolean
on_tick (gpointer data)
{
  Lean *l = data;
  MmLean *lean = &l->lean;
  gint64 now = g_get_monotonic_time ();
  guint joining = 0;

  for (guint i = 0; i < lean->viewers->len; i++)
    {
      MmLeanViewer *v = g_ptr_array_index (lean->viewers, i);

      mm_lean_viewer_tick (v, now);
      if (v->state == MM_LEAN_JOINING)
        joining++;
    }
  /* Paced joins: a few at a time. */
  while (joining < (guint) lean->opts->join_parallel && l->next_start < lean->viewers->len)
    {
      mm_lean_viewer_start (g_ptr_array_index (lean->viewers, l->next_start++));
      joining++;
    }
  return G_SOURCE_CONTINUE;
}

/* ---- output ---------------------------------------------------------------- */

static int
compare_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* "p50" and "p95" of step @s over the viewers that reached it. */
static void
append_step (GString *out, MmLean *lean, guint s)
{
  g_autoptr (GArray) ms = g_array_new (FALSE, FALSE, sizeof (gint64));

  for (guint i = 0; i < lean->viewers->len; i++)
    {
      MmLeanViewer *v = g_ptr_array_index (lean->viewers, i);

      if (v->step_us[s] != 0)
        {
          gint64 d = (v->step_us[s] - v->join_start_us) / 1000;

          g_array_append_val (ms, d);
        }
    }
  g_string_append_printf (out, "\"%s\":", step_names[s]);
  if (ms->len == 0)
    {
      g_string_append (out, "{\"n\":0,\"p50\":null,\"p95\":null}");
      return;
    }
  g_array_sort (ms, compare_gint64);
  g_string_append_printf (out, "{\"n\":%u,\"p50\":%" G_GINT64_FORMAT ",\"p95\":%" G_GINT64_FORMAT "}",
                          ms->len, g_array_index (ms, gint64, (ms->len * 50 + 99) / 100 - 1),
                          g_array_index (ms, gint64, (ms->len * 95 + 99) / 100 - 1));
}

static void
append_double (GString *out, const char *format, double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (v))
    g_string_append (out, "null");
  else
    g_string_append (out, g_ascii_formatd (buf, sizeof buf, format, v));
}

typedef struct {
  guint joined, connected, failed;
  guint tiers[MM_LEAN_N_TIERS];   /* connected viewers on each */
  guint64 frames, packets, bytes, lost, expected, nacked, dropped, recovered, late, duplicates;
  guint64 verified, unverified, auth, replay, other, consent_lost, rtcp_in;
} Totals;

static void
totals (MmLean *lean, Totals *t)
{
  memset (t, 0, sizeof *t);
  for (guint i = 0; i < lean->viewers->len; i++)
    {
      MmLeanViewer *v = g_ptr_array_index (lean->viewers, i);

      t->joined += v->joined;
      t->connected += v->state == MM_LEAN_CONNECTED;
      if (v->state == MM_LEAN_CONNECTED)
        t->tiers[v->quality.tier]++;
      t->failed += v->state == MM_LEAN_FAILED;
      t->frames += v->video.frames;
      t->packets += v->packets;
      t->bytes += v->bytes;
      t->lost += v->video.lost + v->audio.lost;
      t->expected += mm_lean_stream_expected (&v->video) + mm_lean_stream_expected (&v->audio);
      t->nacked += v->video.nacked;
      t->dropped += v->video.dropped;
      t->recovered += v->video.recovered;
      t->late += v->video.late + v->audio.late;
      t->duplicates += v->video.duplicates + v->audio.duplicates;
      t->verified += v->verified;
      t->unverified += v->unverified;
      t->auth += v->srtp_auth;
      t->replay += v->srtp_replay;
      t->other += v->srtp_other;
      t->consent_lost += v->consent_lost;
      t->rtcp_in += v->rtcp_in;
    }
}

static void
append_common (GString *out, Lean *l, const Totals *t)
{
  MmLean *lean = &l->lean;

  g_string_append_printf (out, ",\"viewers\":%u,\"joined\":%u,\"connected\":%u,\"failed\":%u",
                          lean->viewers->len, t->joined, t->connected, t->failed);
  g_string_append_printf (out, ",\"frames_total\":%" G_GUINT64_FORMAT
                          ",\"packets\":%" G_GUINT64_FORMAT ",\"bytes\":%" G_GUINT64_FORMAT
                          ",\"packets_lost\":%" G_GUINT64_FORMAT
                          ",\"packets_expected\":%" G_GUINT64_FORMAT
                          ",\"late\":%" G_GUINT64_FORMAT ",\"duplicates\":%" G_GUINT64_FORMAT,
                          t->frames, t->packets, t->bytes, t->lost, t->expected, t->late,
                          t->duplicates);
  g_string_append_printf (out, ",\"nack\":{\"asked\":%" G_GUINT64_FORMAT
                          ",\"dropped\":%" G_GUINT64_FORMAT ",\"recovered\":%" G_GUINT64_FORMAT "}",
                          t->nacked, t->dropped, t->recovered);
  g_string_append_printf (out, ",\"srtp\":{\"auth_sample\":%d,\"verified\":%" G_GUINT64_FORMAT
                          ",\"unverified\":%" G_GUINT64_FORMAT ",\"failures\":%" G_GUINT64_FORMAT
                          ",\"auth_failures\":%" G_GUINT64_FORMAT ",\"replayed\":%" G_GUINT64_FORMAT
                          "}",
                          MAX (lean->opts->auth_sample, 1), t->verified, t->unverified,
                          t->auth + t->replay + t->other, t->auth, t->replay);
  g_string_append_printf (out, ",\"rtcp_in\":%" G_GUINT64_FORMAT
                          ",\"consent_lost\":%" G_GUINT64_FORMAT
                          ",\"answer_timeouts\":%" G_GUINT64_FORMAT
                          ",\"ice_failures\":%" G_GUINT64_FORMAT
                          ",\"dtls_failures\":%" G_GUINT64_FORMAT,
                          t->rtcp_in, t->consent_lost, lean->answer_timeouts, lean->ice_failures,
                          lean->dtls_failures);
  g_string_append (out, ",\"tiers\":{");
  for (guint i = 0; i < G_N_ELEMENTS (tier_order); i++)
    g_string_append_printf (out, "%s\"%s\":%u", i > 0 ? "," : "",
                            mm_lean_tier_name (tier_order[i]), t->tiers[tier_order[i]]);
  g_string_append_c (out, '}');
  g_string_append (out, ",\"join_ms\":{");
  for (guint s = 0; s < MM_LEAN_N_STEPS; s++)
    {
      if (s > 0)
        g_string_append_c (out, ',');
      append_step (out, lean, s);
    }
  g_string_append_c (out, '}');
}

static gboolean
on_second (gpointer data)
{
  Lean *l = data;
  MmLean *lean = &l->lean;
  gint64 now = g_get_monotonic_time ();
  double period = (now - l->period_start_us) / 1e6;
  double fps_sum = 0;
  guint n_fps = 0;
  gint64 gap_us = -1;
  guint64 frames = 0, audio = 0, sent = 0, sent_delta;
  guint hearing = 0;
  gint64 audio_gap_us = -1;
  struct Snapshot *snap;
  Totals t;

  l->ticks++;
  for (guint i = 0; i < lean->viewers->len; i++)
    {
      MmLeanViewer *v = g_ptr_array_index (lean->viewers, i);

      if (v->state == MM_LEAN_CONNECTED && v->step_us[MM_LEAN_STEP_FIRST_FRAME] != 0)
        {
          gint64 gap = mm_lean_viewer_take_gap (v, now);   /* not inside MAX () */

          fps_sum += v->period_frames / MAX (period, 0.001);
          n_fps++;
          gap_us = MAX (gap_us, gap);
        }
      else
        mm_lean_viewer_take_gap (v, now);
      frames += v->period_frames;
      v->period_frames = 0;
      /* The mix comes at 50 packets a second: 40 in a second is heard. */
      if (v->state == MM_LEAN_CONNECTED && v->last_audio_us != 0)
        {
          gint64 gap = MAX (v->audio_gap_us, now - v->last_audio_us);

          hearing += v->period_audio >= 40 * period;
          audio_gap_us = MAX (audio_gap_us, gap);
        }
      audio += v->period_audio;
      sent += v->audio_sent;
      v->period_audio = 0;
      v->audio_gap_us = 0;
    }
  l->period_start_us = now;
  sent_delta = sent - l->sent_before;
  l->sent_before = sent;
  totals (lean, &t);
  snap = &l->history[l->n_history++ % HISTORY];
  snap->t = l->ticks;
  snap->fps = n_fps > 0 ? fps_sum / n_fps : 0;
  snap->max_gap_ms = gap_us >= 0 ? gap_us / 1000 : -1;
  snap->lost = t.lost;
  snap->expected = t.expected;
  snap->cpu_s = cpu_seconds ();
  snap->at_us = now;
  snap->connected = t.connected;
  snap->hearing = hearing;
  snap->audio_gap_ms = audio_gap_us >= 0 ? audio_gap_us / 1000 : -1;
  if (!lean->opts->quiet_stats)
    {
      g_autoptr (GString) out = g_string_new (NULL);
      const struct Snapshot *prev = l->n_history >= 2
                                      ? &l->history[(l->n_history - 2) % HISTORY] : NULL;

      g_string_append_printf (out, "{\"bot\":\"lean\",\"participant_id\":null,\"t\":%u", l->ticks);
      g_string_append_printf (out, ",\"video\":{\"frames\":%" G_GUINT64_FORMAT ",\"fps\":", frames);
      append_double (out, "%.1f", snap->fps);
      if (snap->max_gap_ms >= 0)
        g_string_append_printf (out, ",\"max_gap_ms\":%" G_GINT64_FORMAT "}", snap->max_gap_ms);
      else
        g_string_append (out, ",\"max_gap_ms\":null}");
      if (lean->opts->audio_only)
        {
          g_string_append_printf (out, ",\"audio\":{\"packets\":%" G_GUINT64_FORMAT
                                  ",\"hearing\":%u,\"max_gap_ms\":", audio, hearing);
          if (snap->audio_gap_ms >= 0)
            g_string_append_printf (out, "%" G_GINT64_FORMAT, snap->audio_gap_ms);
          else
            g_string_append (out, "null");
          g_string_append_printf (out, ",\"sent\":%" G_GUINT64_FORMAT "}", sent_delta);
        }
      append_common (out, l, &t);
      g_string_append (out, ",\"cpu_cores\":");
      append_double (out, "%.3f", prev != NULL ? (snap->cpu_s - prev->cpu_s)
                                                   / MAX ((snap->at_us - prev->at_us) / 1e6, 0.001)
                                               : 0);
      g_string_append_c (out, '}');
      mm_bot_print_line (out);
    }
  if (lean->opts->duration > 0 && l->ticks >= (guint) lean->opts->duration)
    g_main_loop_quit (l->loop);
  if (t.failed == lean->viewers->len)
    {
      g_printerr ("mixmeet-bot: every viewer has failed\n");
      g_main_loop_quit (l->loop);
    }
  return G_SOURCE_CONTINUE;
}

/* One viewer's line at the end of the run (@now_us). */
static void
print_viewer (MmLeanViewer *v, gint64 now_us)
{
  g_autoptr (GString) out = g_string_new (NULL);
  const MmLeanLink *k = v->link;
  const MmBotOptions *o = v->lean->opts;

  g_string_append_printf (out, "{\"bot\":\"lean\",\"final\":true,\"viewer\":%u,\"name\":",
                          v->index);
  mm_bot_append_json_string (out, v->name);
  g_string_append_printf (out, ",\"state\":\"%s\"", state_names[v->state]);
  mm_lean_quality_append (&v->quality, out, now_us);
  if (k != NULL)
    {
      g_string_append_printf (out, ",\"link\":{\"kbps\":%d,\"queue_ms\":%d,\"loss_pct\":",
                              o->link_kbps, o->link_queue_ms);
      append_double (out, "%.1f", o->link_loss_percent);
      g_string_append_printf (out, ",\"arrived\":%" G_GUINT64_FORMAT
                              ",\"delivered\":%" G_GUINT64_FORMAT
                              ",\"queue_drops\":%" G_GUINT64_FORMAT
                              ",\"random_drops\":%" G_GUINT64_FORMAT
                              ",\"max_delay_ms\":%" G_GINT64_FORMAT "}",
                              k->arrived, k->delivered, k->queue_drops, k->random_drops,
                              k->max_delay_us / 1000);
    }
  else
    g_string_append (out, ",\"link\":null");
  g_string_append_printf (out, ",\"twcc\":{\"ext_id\":%u,\"feedbacks\":%" G_GUINT64_FORMAT
                          ",\"packets\":%" G_GUINT64_FORMAT "}}",
                          v->twcc.ext_id, v->twcc.feedbacks, v->twcc.recorded);
  mm_bot_print_line (out);
}

/* The summary at exit: the figures over the last --window seconds. */
static void
print_summary (Lean *l)
{
  MmLean *lean = &l->lean;
  g_autoptr (GString) out = g_string_new (NULL);
  guint n = MIN (l->n_history, HISTORY);
  guint w = lean->opts->window > 0 ? MIN ((guint) lean->opts->window, n) : n;
  const struct Snapshot *last = n > 0 ? &l->history[(l->n_history - 1) % HISTORY] : NULL;
  const struct Snapshot *first = n > w ? &l->history[(l->n_history - 1 - w) % HISTORY] : NULL;
  double fps = 0;
  gint64 gap = -1;
  guint64 lost = 0, expected = 0;
  double cpu = 0;
  guint hearing_min = G_MAXUINT;
  gint64 audio_gap = -1;
  Totals t;

  for (guint i = 0; i < w; i++)
    {
      const struct Snapshot *s = &l->history[(l->n_history - 1 - i) % HISTORY];

      fps += s->fps / w;
      gap = MAX (gap, s->max_gap_ms);
      hearing_min = MIN (hearing_min, s->hearing);
      audio_gap = MAX (audio_gap, s->audio_gap_ms);
    }
  if (last != NULL)
    {
      lost = last->lost - (first != NULL ? first->lost : 0);
      expected = last->expected - (first != NULL ? first->expected : 0);
      cpu = first != NULL ? (last->cpu_s - first->cpu_s) / MAX ((last->at_us - first->at_us) / 1e6, 0.001)
                          : last->cpu_s / MAX (l->ticks, 1);
    }
  totals (lean, &t);
  g_string_append_printf (out, "{\"bot\":\"lean\",\"participant_id\":null,\"t\":%u,\"final\":true",
                          l->ticks);
  g_string_append_printf (out, ",\"window_s\":%u,\"window\":{\"fps\":", w);
  append_double (out, "%.1f", fps);
  g_string_append (out, ",\"max_gap_ms\":");
  if (gap >= 0)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, gap);
  else
    g_string_append (out, "null");
  g_string_append_printf (out, ",\"packets_lost\":%" G_GUINT64_FORMAT
                          ",\"packets_expected\":%" G_GUINT64_FORMAT ",\"loss_pct\":",
                          lost, expected);
  append_double (out, "%.3f", expected > 0 ? 100.0 * (double) lost / (double) expected : 0);
  g_string_append (out, ",\"cpu_cores\":");
  append_double (out, "%.3f", cpu);
  if (lean->opts->audio_only)
    {
      g_string_append_printf (out, ",\"hearing_min\":%u,\"audio_max_gap_ms\":",
                              w > 0 ? hearing_min : 0);
      if (audio_gap >= 0)
        g_string_append_printf (out, "%" G_GINT64_FORMAT, audio_gap);
      else
        g_string_append (out, "null");
    }
  g_string_append_c (out, '}');
  append_common (out, l, &t);
  g_string_append_c (out, '}');
  mm_bot_print_line (out);
}

/* ---- main ------------------------------------------------------------------ */

static gboolean
on_quit_signal (gpointer data)
{
  Lean *l = data;

  g_main_loop_quit (l->loop);
  return G_SOURCE_CONTINUE;
}

/* Room for a socket per viewer, the HTTP connections and some more. */
static void
raise_fd_limit (guint viewers)
{
  struct rlimit rl;
  rlim_t want = (rlim_t) viewers * 3 + 256;

  if (getrlimit (RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
    return;
  rl.rlim_cur = MIN (want, rl.rlim_max);
  setrlimit (RLIMIT_NOFILE, &rl);
}

int
mm_bot_lean_run (MmBotApp *app)
{
  Lean *l = g_new0 (Lean, 1);
  MmLean *lean = &l->lean;
  g_autoptr (GError) error = NULL;
  guint tick, second, readable, sigint, sigterm;
  gint64 deadline;
  int status = 0;
  Totals t;

  lean->app = app;
  lean->opts = &app->opts;
  raise_fd_limit ((guint) app->opts.viewers);
  if (!mm_srtp_init (&error)
      || (lean->identity = mm_dtls_identity_new (&error)) == NULL)
    {
      g_printerr ("mixmeet-bot: %s\n", error->message);
      g_free (l);
      return 1;
    }
  if (app->opts.audio_only && !app->opts.recv_only
      && !mm_lean_tone_encode (lean, app->opts.speakers == 0 ? 0 : app->opts.tone_volume,
                               app->opts.tone > 0 ? (guint) app->opts.tone : 440, &error))
    {
      g_printerr ("mixmeet-bot: the tone: %s\n", error->message);
      mm_dtls_identity_unref (lean->identity);
      g_free (l);
      return 1;
    }
  lean->rtcp = mm_rtcp_parser_new ();
  lean->epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (lean->epfd < 0)
    g_error ("epoll_create1: %s", g_strerror (errno));
  lean->viewers = g_ptr_array_new_with_free_func ((GDestroyNotify) mm_lean_viewer_free);
  for (int i = 0; i < app->opts.viewers; i++)
    {
      MmLeanViewer *v = mm_lean_viewer_new (lean, (guint) i, &error);

      if (v == NULL)
        {
          g_printerr ("mixmeet-bot: viewer %d: %s\n", i, error->message);
          status = 1;
          goto out;
        }
      g_ptr_array_add (lean->viewers, v);
    }
  lean->http = mm_bot_http_new (NULL, (guint) app->opts.join_parallel);
  l->loop = g_main_loop_new (NULL, FALSE);
  l->period_start_us = g_get_monotonic_time ();
  readable = g_timeout_add (READ_MS, on_read, l);
  tick = g_timeout_add (TICK_MS, on_tick, l);
  second = g_timeout_add (1000, on_second, l);
  sigint = g_unix_signal_add (SIGINT, on_quit_signal, l);
  sigterm = g_unix_signal_add (SIGTERM, on_quit_signal, l);
  g_main_loop_run (l->loop);
  /* Each viewer's figures now, before leaving stops its media. */
  for (guint i = 0; i < lean->viewers->len; i++)
    print_viewer (g_ptr_array_index (lean->viewers, i), g_get_monotonic_time ());
  g_source_remove (tick);
  g_source_remove (second);
  g_source_remove (sigint);
  g_source_remove (sigterm);

  /* Leave: every viewer posts its leave (a few at a time), for 15 s at
   * most; the server's presence timeout takes the rest. */
  lean->stopping = TRUE;
  for (guint i = 0; i < lean->viewers->len; i++)
    mm_lean_viewer_leave (g_ptr_array_index (lean->viewers, i));
  deadline = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;
  while (mm_bot_http_pending (lean->http) > 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (readable);
  mm_bot_http_free (lean->http);
  print_summary (l);
  totals (lean, &t);
  if (lean->viewers->len > 0 && t.failed == lean->viewers->len)
    status = 1;
  g_main_loop_unref (l->loop);
out:
  g_ptr_array_unref (lean->viewers);
  close (lean->epfd);
  mm_rtcp_parser_free (lean->rtcp);
  g_clear_pointer (&lean->tone, g_ptr_array_unref);
  mm_dtls_identity_unref (lean->identity);
  g_free (l);
  return status;
}
