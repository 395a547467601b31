/* metrics.c — process-wide counters and the process's own figures; see
 * metrics.h. */
#include "config.h"

#include "core/metrics.h"

#include <dirent.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Seconds: most API calls take milliseconds, long-polls up to a minute. */
static const gdouble http_bounds[] = {
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
};

static GMutex lock;
static GHashTable *http_counts;    /* "method\nroute\nstatus" → guint64* */
static GHashTable *http_times;     /* "method\nroute" → MmHistogram* */
static MmMediaTotals media;
static guint64 connections_refused;

/* Methods as sent by clients are free text: keep the label's values few. */
static const char *
method_label (const char *method)
{
  static const char *const known[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH",
                                       "OPTIONS" };

  for (guint i = 0; method != NULL && i < G_N_ELEMENTS (known); i++)
    if (g_str_equal (method, known[i]))
      return known[i];
  return "other";
}

void
mm_metrics_http_request (const char *method, const char *route, guint status,
                         gdouble seconds)
{
  const char *m = method_label (method);
  g_autofree char *count_key = g_strdup_printf ("%s\n%s\n%u", m, route, status);
  g_autofree char *time_key = g_strdup_printf ("%s\n%s", m, route);
  guint64 *n;
  MmHistogram *h;

  g_mutex_lock (&lock);
  if (http_counts == NULL)
    {
      http_counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      http_times = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) mm_histogram_free);
    }
  n = g_hash_table_lookup (http_counts, count_key);
  if (n == NULL)
    {
      n = g_new0 (guint64, 1);
      g_hash_table_insert (http_counts, g_steal_pointer (&count_key), n);
    }
  (*n)++;
  h = g_hash_table_lookup (http_times, time_key);
  if (h == NULL)
    {
      h = mm_histogram_new (http_bounds, G_N_ELEMENTS (http_bounds));
      g_hash_table_insert (http_times, g_steal_pointer (&time_key), h);
    }
  mm_histogram_observe (h, MAX (seconds, 0));
  g_mutex_unlock (&lock);
}

void
mm_metrics_media_add (const MmMediaTotals *d)
{
  g_mutex_lock (&lock);
  media.packets_in += d->packets_in;
  media.bytes_in += d->bytes_in;
  media.packets_out += d->packets_out;
  media.bytes_out += d->bytes_out;
  media.packets_lost += d->packets_lost;
  media.pli_received += d->pli_received;
  media.fir_received += d->fir_received;
  media.keyframes_forced += d->keyframes_forced;
  g_mutex_unlock (&lock);
}

static gint
compare_keys (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

/* The keys of @table, sorted, so that a family's samples keep one order. */
static GPtrArray *
sorted_keys (GHashTable *table)
{
  GPtrArray *keys = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter it;
  gpointer key;

  if (table != NULL)
    {
      g_hash_table_iter_init (&it, table);
      while (g_hash_table_iter_next (&it, &key, NULL))
        g_ptr_array_add (keys, g_strdup (key));
    }
  g_ptr_array_sort (keys, compare_keys);
  return keys;
}

void
mm_metrics_connection_refused (void)
{
  g_mutex_lock (&lock);
  connections_refused++;
  g_mutex_unlock (&lock);
}

void
mm_metrics_write_http (MmProm *p)
{
  g_autoptr (GPtrArray) keys = NULL;

  g_mutex_lock (&lock);
  mm_prom_single (p, "mixmeet_http_connections_refused_total", "counter",
                  "Connections closed at once because their address had "
                  "max-connections-per-address open", (gdouble) connections_refused);
  mm_prom_family (p, "mixmeet_http_requests_total", "counter",
                  "HTTP requests answered, by method, route pattern and status code "
                  "(code 0: the client went away before an answer)");
  keys = sorted_keys (http_counts);
  for (guint i = 0; i < keys->len; i++)
    {
      g_auto (GStrv) part = g_strsplit (keys->pdata[i], "\n", 3);
      const guint64 *n = g_hash_table_lookup (http_counts, keys->pdata[i]);

      mm_prom_sample (p, "mixmeet_http_requests_total",
                      (const char *[]) { "method", part[0], "route", part[1], "code", part[2],
                                         NULL },
                      (gdouble) *n);
    }
  g_ptr_array_unref (keys);
  mm_prom_family (p, "mixmeet_http_request_duration_seconds", "histogram",
                  "Time from a request's arrival to its completion, by method and route "
                  "pattern (long-polls wait up to the long-poll timeout)");
  keys = sorted_keys (http_times);
  for (guint i = 0; i < keys->len; i++)
    {
      g_auto (GStrv) part = g_strsplit (keys->pdata[i], "\n", 2);

      mm_prom_histogram (p, "mixmeet_http_request_duration_seconds",
                         (const char *[]) { "method", part[0], "route", part[1], NULL },
                         g_hash_table_lookup (http_times, keys->pdata[i]));
    }
  g_mutex_unlock (&lock);
}

void
mm_metrics_write_media (MmProm *p, const MmMediaTotals *rtp, const MmMetricsDrop *drops,
                        guint n_drops)
{
  MmMediaTotals t = *rtp;

  g_mutex_lock (&lock);
  t.keyframes_forced = media.keyframes_forced;
  g_mutex_unlock (&lock);
  mm_prom_family (p, "mixmeet_media_packets_total", "counter",
                  "SRTP packets received from participants (in) and sent to them (out)");
  mm_prom_sample (p, "mixmeet_media_packets_total",
                  (const char *[]) { "direction", "in", NULL }, (gdouble) t.packets_in);
  mm_prom_sample (p, "mixmeet_media_packets_total",
                  (const char *[]) { "direction", "out", NULL }, (gdouble) t.packets_out);
  mm_prom_family (p, "mixmeet_media_bytes_total", "counter",
                  "SRTP bytes received from participants (in, unprotected) and sent to them (out)");
  mm_prom_sample (p, "mixmeet_media_bytes_total",
                  (const char *[]) { "direction", "in", NULL }, (gdouble) t.bytes_in);
  mm_prom_sample (p, "mixmeet_media_bytes_total",
                  (const char *[]) { "direction", "out", NULL }, (gdouble) t.bytes_out);
  mm_prom_single (p, "mixmeet_media_packets_lost_total", "counter",
                  "RTP packets from participants that never arrived (gaps in sequence numbers)",
                  (gdouble) t.packets_lost);
  mm_prom_family (p, "mixmeet_keyframe_requests_total", "counter",
                  "Keyframe requests received from participants, by RTCP type");
  mm_prom_sample (p, "mixmeet_keyframe_requests_total",
                  (const char *[]) { "type", "pli", NULL }, (gdouble) t.pli_received);
  mm_prom_sample (p, "mixmeet_keyframe_requests_total",
                  (const char *[]) { "type", "fir", NULL }, (gdouble) t.fir_received);
  mm_prom_single (p, "mixmeet_keyframes_forced_total", "counter",
                  "Keyframes the composite encoder was asked for and did not skip (joiners, "
                  "PLI/FIR; at most one per keyframe-interval)",
                  (gdouble) t.keyframes_forced);
  mm_prom_family (p, "mixmeet_transport_dropped_total", "counter",
                  "Datagrams on the media port dropped, by reason (bad input is counted, "
                  "logged once per kind and dropped)");
  for (guint i = 0; i < n_drops; i++)
    mm_prom_sample (p, "mixmeet_transport_dropped_total",
                    (const char *[]) { "reason", drops[i].reason, NULL },
                    (gdouble) drops[i].count);
}

/* ---- the process, from /proc ----------------------------------------- */

static gint64
count_fds (void)
{
  DIR *d = opendir ("/proc/self/fd");
  struct dirent *e;
  gint64 n = 0;

  if (d == NULL)
    return -1;
  while ((e = readdir (d)) != NULL)
    if (e->d_name[0] != '.' && g_ascii_strtoll (e->d_name, NULL, 10) != dirfd (d))
      n++;
  closedir (d);
  return n;
}

/* Seconds since the epoch at which the machine booted. */
static gint64
boot_time (void)
{
  g_autofree char *text = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/stat", &text, NULL, NULL))
    return 0;
  line = strstr (text, "\nbtime ");
  return line != NULL ? g_ascii_strtoll (line + 7, NULL, 10) : 0;
}

void
mm_metrics_write_process (MmProm *p)
{
  g_autofree char *stat = NULL;
  g_auto (GStrv) fields = NULL;
  const char *after;
  double ticks = (double) sysconf (_SC_CLK_TCK);
  struct rlimit rl;
  gint64 fds = count_fds ();

  /* /proc/self/stat: "pid (comm) state ..."; comm may hold spaces. */
  if (g_file_get_contents ("/proc/self/stat", &stat, NULL, NULL)
      && (after = strrchr (stat, ')')) != NULL)
    fields = g_strsplit (after + 2, " ", -1);
  if (fields != NULL && g_strv_length (fields) > 21 && ticks > 0)
    {
      /* Fields 3.. of proc(5): utime 14, stime 15, num_threads 20,
       * starttime 22, vsize 23, rss 24. */
      double cpu = (g_ascii_strtod (fields[11], NULL) + g_ascii_strtod (fields[12], NULL))
                   / ticks;
      double start = (double) boot_time () + g_ascii_strtod (fields[19], NULL) / ticks;

      mm_prom_single (p, "process_cpu_seconds_total", "counter",
                      "User and system CPU time spent, in seconds", cpu);
      mm_prom_single (p, "process_resident_memory_bytes", "gauge",
                      "Resident memory size in bytes",
                      g_ascii_strtod (fields[21], NULL) * (double) sysconf (_SC_PAGESIZE));
      mm_prom_single (p, "process_virtual_memory_bytes", "gauge",
                      "Virtual memory size in bytes", g_ascii_strtod (fields[20], NULL));
      mm_prom_single (p, "process_threads", "gauge", "Threads of the process",
                      g_ascii_strtod (fields[17], NULL));
      mm_prom_single (p, "process_start_time_seconds", "gauge",
                      "Start time of the process since the Unix epoch, in seconds", start);
    }
  if (fds >= 0)
    mm_prom_single (p, "process_open_fds", "gauge", "Open file descriptors", (gdouble) fds);
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0)
    mm_prom_single (p, "process_max_fds", "gauge", "Limit of open file descriptors",
                    rl.rlim_cur == RLIM_INFINITY ? G_MAXINT64 : (gdouble) rl.rlim_cur);
}
