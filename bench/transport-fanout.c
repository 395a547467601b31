/* transport-fanout.c — what fanning one stream out to N receivers costs
 * the transport: N test clients (tests/transport-client.c) connect over
 * loopback (ICE, DTLS), then one MmStream sends a ~1.2 Mbit/s video-like
 * stream (about 110 packets of 1200 bytes a second, in a burst per 33 ms
 * frame) to all of them for a while.  The clients stop reading while it
 * is measured: what is counted is the sender's work (rewrite, SRTP,
 * sendmmsg), the transport thread's (consent checks) and the kernel's.
 *
 * Usage: transport-fanout N [SECONDS]
 */
/* RUSAGE_THREAD */
#define _GNU_SOURCE
#include "config.h"

#include "transport/transport.h"
#include "transport-client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define FRAME_US 33333
#define PACKETS_PER_S 110
#define PAYLOAD 1200

typedef struct {
  MmStream *stream;
  gint stop;
  guint64 packets;          /* handed to mm_stream_send */
  gint64 thread_cpu_us;     /* the sending thread's, while it sent */
} Sender;

static gint64
cpu_us (int who)
{
  struct rusage ru;

  getrusage (who, &ru);
  return (gint64) ru.ru_utime.tv_sec * G_USEC_PER_SEC + ru.ru_utime.tv_usec
         + (gint64) ru.ru_stime.tv_sec * G_USEC_PER_SEC + ru.ru_stime.tv_usec;
}

/* The room's streaming thread: a frame's packets every 33 ms. */
static gpointer
send_loop (gpointer data)
{
  Sender *s = data;
  guint8 bufs[8][PAYLOAD + 12];
  MmPacket p[8];
  guint16 seq = 1;
  guint32 ts = 0;
  double owed = 0;
  gint64 next = g_get_monotonic_time ();
  gint64 cpu0 = cpu_us (RUSAGE_THREAD);

  for (guint i = 0; i < G_N_ELEMENTS (bufs); i++)
    {
      memset (bufs[i], 0xab, sizeof bufs[i]);
      bufs[i][0] = 0x80;
      bufs[i][8] = 0x12;
      p[i].data = bufs[i];
      p[i].len = sizeof bufs[i];
    }
  while (!g_atomic_int_get (&s->stop))
    {
      guint n;
      gint64 now;

      owed += PACKETS_PER_S * (double) FRAME_US / G_USEC_PER_SEC;
      n = MIN ((guint) owed, G_N_ELEMENTS (bufs));
      owed -= n;
      for (guint i = 0; i < n; i++)
        {
          bufs[i][1] = 96 | (i == n - 1 ? 0x80 : 0);
          bufs[i][2] = seq >> 8;
          bufs[i][3] = seq & 0xff;
          bufs[i][4] = ts >> 24;
          bufs[i][5] = (ts >> 16) & 0xff;
          bufs[i][6] = (ts >> 8) & 0xff;
          bufs[i][7] = ts & 0xff;
          seq++;
        }
      mm_stream_send (s->stream, p, n);
      s->packets += n;
      ts += 3000;
      next += FRAME_US;
      now = g_get_monotonic_time ();
      if (next > now)
        g_usleep (next - now);
    }
  s->thread_cpu_us = cpu_us (RUSAGE_THREAD) - cpu0;
  return NULL;
}

static void
raise_fd_limit (guint n)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) != 0)
    return;
  if (rl.rlim_cur < n * 2 + 64)
    {
      rl.rlim_cur = MIN (rl.rlim_max, (rlim_t) n * 2 + 64);
      setrlimit (RLIMIT_NOFILE, &rl);
    }
}

static void
on_state (MmEndpoint *ep, MmEndpointState state, const char *reason, gpointer data)
{
  if (state == MM_ENDPOINT_CLOSED)
    g_printerr ("endpoint closed: %s\n", reason);
}

int
main (int argc, char **argv)
{
  guint n = argc > 1 ? (guint) atoi (argv[1]) : 100;
  guint secs = argc > 2 ? (guint) atoi (argv[2]) : 10;
  MmTransportConfig config = { "127.0.0.1", 0, NULL, 30 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GMainContext) ctx = g_main_context_new ();
  g_autoptr (MmDtlsIdentity) id = NULL;
  MmTransport *t;
  MmTestClient **clients;
  MmEndpoint **eps;
  MmTransportStats st0, st1;
  Sender sender = { 0 };
  GThread *thread;
  gint64 t0, t1, cpu0, cpu1, start;
  guint connected = 0, receiving = 0;
  double wall, cpu, sent;

  if (n == 0 || secs == 0)
    {
      g_printerr ("usage: %s N [SECONDS]\n", argv[0]);
      return 2;
    }
  raise_fd_limit (n);
  t = mm_transport_new (&config, &error);
  if (t == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  id = mm_dtls_identity_new (&error);
  g_assert_no_error (error);
  clients = g_new0 (MmTestClient *, n);
  eps = g_new0 (MmEndpoint *, n);

  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    {
      MmTestClient *c = mm_test_client_new (ctx, id, MM_DTLS_CLIENT);
      MmEndpointConfig ec = { mm_test_client_ufrag (c), mm_test_client_pwd (c),
                              mm_test_client_fingerprint (c), MM_DTLS_SERVER, 3 };
      MmEndpointCallbacks cb = { on_state, NULL, NULL, NULL };

      clients[i] = c;
      mm_test_client_set_consent_interval (c, 5000);
      eps[i] = mm_endpoint_new (t, &ec, &cb, &error);
      g_assert_no_error (error);
      mm_test_client_start (c, mm_transport_port (t), mm_endpoint_ufrag (eps[i]),
                            mm_endpoint_pwd (eps[i]), mm_transport_fingerprint (t));
      if (i % 50 == 49)
        mm_test_iterate (ctx, 1);
    }
  while (connected < n && g_get_monotonic_time () - start < 120 * G_USEC_PER_SEC)
    {
      mm_test_iterate (ctx, 20);
      connected = 0;
      for (guint i = 0; i < n; i++)
        connected += mm_test_client_connected (clients[i])
                     && mm_endpoint_state (eps[i]) == MM_ENDPOINT_CONNECTED;
    }
  printf ("endpoints %u, connected %u in %.1f s\n", n, connected,
          (g_get_monotonic_time () - start) / 1e6);

  sender.stream = mm_stream_new (t, 90000, 512, NULL, NULL);
  for (guint i = 0; i < n; i++)
    {
      mm_stream_add (sender.stream, eps[i], 96, 0x1000 + i);
      mm_test_client_set_receiving (clients[i], FALSE, FALSE);
    }

  mm_transport_get_stats (t, &st0);
  t0 = g_get_monotonic_time ();
  cpu0 = cpu_us (RUSAGE_SELF);
  thread = g_thread_new ("stream", send_loop, &sender);
  mm_test_iterate (ctx, secs * 1000);
  g_atomic_int_set (&sender.stop, 1);
  g_thread_join (thread);
  cpu1 = cpu_us (RUSAGE_SELF);
  t1 = g_get_monotonic_time ();
  mm_transport_get_stats (t, &st1);

  wall = (t1 - t0) / 1e6;
  cpu = (cpu1 - cpu0) / 1e6;
  sent = (double) (st1.datagrams_out - st0.datagrams_out);
  printf ("stream packets/s %.0f, datagrams sent/s %.0f (%.1f Mbit/s), send errors %" G_GUINT64_FORMAT "\n",
          sender.packets / wall, sent / wall, (st1.bytes_out - st0.bytes_out) * 8 / wall / 1e6,
          st1.send_errors - st0.send_errors);
  printf ("process CPU %.2f s in %.1f s (%.1f%% of a core); per viewer-second %.3f ms (%.3f%% of a core per viewer)\n",
          cpu, wall, 100 * cpu / wall, 1000 * cpu / (n * wall), 100 * cpu / (n * wall));
  printf ("sending thread CPU %.2f s: %.2f us per protected+sent packet (process: %.2f us)\n",
          sender.thread_cpu_us / 1e6, sender.thread_cpu_us / MAX (sent, 1),
          (cpu1 - cpu0) / MAX (sent, 1));

  /* Does it arrive?  The clients read again for a moment. */
  for (guint i = 0; i < n; i++)
    mm_test_client_set_receiving (clients[i], TRUE, FALSE);
  g_atomic_int_set (&sender.stop, 0);
  thread = g_thread_new ("stream", send_loop, &sender);
  mm_test_iterate (ctx, 500);
  g_atomic_int_set (&sender.stop, 1);
  g_thread_join (thread);
  mm_test_iterate (ctx, 100);
  for (guint i = 0; i < n; i++)
    receiving += mm_test_client_datagrams (clients[i]) > 0;
  printf ("clients that received: %u of %u\n", receiving, n);

  for (guint i = 0; i < n; i++)
    mm_stream_remove (sender.stream, eps[i]);
  mm_stream_free (sender.stream);
  for (guint i = 0; i < n; i++)
    {
      mm_endpoint_close (eps[i]);
      mm_endpoint_unref (eps[i]);
      mm_test_client_free (clients[i]);
    }
  mm_transport_free (t);
  g_free (clients);
  g_free (eps);
  return connected == n && receiving == n ? 0 : 1;
}
