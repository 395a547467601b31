/* test-metrics.c — GET /metrics against real mixmeetd + PostgreSQL, with
 * mixmeet-bot processes sending real WebRTC media: the exposition format
 * is checked line by line, the figures move with what happens, and only
 * allowed addresses or the bearer token may read it. */
#include "config.h"

#include "bots.h"
#include "harness.h"

#include <curl/curl.h>

#include <glib/gstdio.h>
#include <math.h>
#include <signal.h>
#include <string.h>

#define TOKEN "metrics-test-token-0123456789"

static MmHarness h;

/* ---- reading the text format -------------------------------------------- */

typedef struct {
  GHashTable *samples;   /* "name{labels}" as written → gdouble* */
  GHashTable *types;     /* family → type */
  char *text;
} Scrape;

static void
scrape_clear (Scrape *s)
{
  g_clear_pointer (&s->samples, g_hash_table_unref);
  g_clear_pointer (&s->types, g_hash_table_unref);
  g_clear_pointer (&s->text, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Scrape, scrape_clear)

static gboolean
is_name (const char *s, gsize len)
{
  if (len == 0 || !(g_ascii_isalpha (s[0]) || s[0] == '_' || s[0] == ':'))
    return FALSE;
  for (gsize i = 1; i < len; i++)
    if (!(g_ascii_isalnum (s[i]) || s[i] == '_' || s[i] == ':'))
      return FALSE;
  return TRUE;
}

static gboolean
parse_value (const char *text, gdouble *out)
{
  char *end = NULL;

  if (g_str_equal (text, "+Inf"))
    *out = INFINITY;
  else if (g_str_equal (text, "-Inf"))
    *out = -INFINITY;
  else if (g_str_equal (text, "NaN"))
    *out = NAN;
  else
    {
      *out = g_ascii_strtod (text, &end);
      return end != text && *end == '\0';
    }
  return TRUE;
}

/* Labels "{a="x",b="y\"z"}" from @p; *@end past the '}'.  Each label name
 * goes to @names, the text without "le" to *@without_le. */
static gboolean
parse_labels (const char *p, const char **end, char **le, GString *without_le)
{
  g_assert_true (*p == '{');
  p++;
  while (*p != '}')
    {
      const char *eq = strchr (p, '=');
      g_autoptr (GString) value = g_string_new (NULL);
      g_autofree char *name = NULL;

      if (eq == NULL || !is_name (p, (gsize) (eq - p)) || eq[1] != '"')
        return FALSE;
      name = g_strndup (p, (gsize) (eq - p));
      for (p = eq + 2; *p != '"'; p++)
        {
          if (*p == '\0' || *p == '\n')
            return FALSE;
          if (*p == '\\')
            {
              p++;
              if (*p != '\\' && *p != '"' && *p != 'n')
                return FALSE;
            }
          g_string_append_c (value, *p);
        }
      p++;
      if (g_str_equal (name, "le"))
        *le = g_strdup (value->str);
      else
        g_string_append_printf (without_le, "%s=\"%s\",", name, value->str);
      if (*p == ',')
        p++;
      else if (*p != '}')
        return FALSE;
    }
  *end = p + 1;
  return TRUE;
}

typedef struct {
  char *le;
  gdouble value;
} Bucket;

/* Parse and check @text: every sample belongs to a family with HELP and
 * TYPE before it, families are not split, values parse, counters end in
 * _total, histograms have cumulative buckets ending in +Inf with _count
 * equal to the +Inf bucket, and a _sum. */
static void
parse_exposition (const char *text, Scrape *out)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr (GHashTable) helped = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) done = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  /* histogram series (family + labels without le) → GArray of Bucket */
  g_autoptr (GHashTable) buckets =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_array_unref);
  g_autoptr (GHashTable) counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GHashTable) sums = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *current = NULL;
  GHashTableIter it;
  gpointer key, value;
  guint n_lines = g_strv_length (lines);

  out->samples = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  out->types = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  out->text = g_strdup (text);
  /* The text ends with a newline: the last split is empty. */
  g_assert_cmpuint (n_lines, >, 1);
  g_assert_cmpstr (lines[n_lines - 1], ==, "");
  for (guint i = 0; i + 1 < n_lines; i++)
    {
      const char *l = lines[i];
      const char *sp, *brace, *end, *family_type;
      g_autofree char *name = NULL;
      g_autofree char *family = NULL;
      g_autofree char *le = NULL;
      g_autoptr (GString) labels = g_string_new (NULL);
      gdouble v;

      if (g_str_has_prefix (l, "# HELP ") || g_str_has_prefix (l, "# TYPE "))
        {
          g_auto (GStrv) f = g_strsplit (l + 7, " ", 2);

          g_assert_nonnull (f[0]);
          g_assert_nonnull (f[1]);
          g_assert_true (is_name (f[0], strlen (f[0])));
          if (l[2] == 'H')
            {
              g_assert_false (g_hash_table_contains (helped, f[0]));
              g_hash_table_add (helped, g_strdup (f[0]));
            }
          else
            {
              g_assert_true (g_hash_table_contains (helped, f[0]));   /* HELP first */
              g_assert_false (g_hash_table_contains (out->types, f[0]));
              g_assert_true (g_str_equal (f[1], "counter") || g_str_equal (f[1], "gauge")
                             || g_str_equal (f[1], "histogram"));
              if (g_str_equal (f[1], "counter"))
                g_assert_true (g_str_has_suffix (f[0], "_total"));
              g_hash_table_insert (out->types, g_strdup (f[0]), g_strdup (f[1]));
              /* A new family: the one before is finished. */
              g_assert_false (g_hash_table_contains (done, f[0]));
              if (current != NULL)
                g_hash_table_add (done, g_steal_pointer (&current));
              current = g_strdup (f[0]);
            }
          continue;
        }
      g_assert_false (l[0] == '#' || l[0] == '\0');
      sp = strchr (l, ' ');
      brace = strchr (l, '{');
      g_assert_nonnull (sp);
      if (brace != NULL && brace < sp)
        {
          name = g_strndup (l, (gsize) (brace - l));
          if (!parse_labels (brace, &end, &le, labels))
            g_error ("bad labels in line: %s", l);
          g_assert_true (*end == ' ');
          sp = end;
        }
      else
        name = g_strndup (l, (gsize) (sp - l));
      g_assert_true (is_name (name, strlen (name)));
      if (!parse_value (sp + 1, &v))
        g_error ("bad value in line: %s", l);

      /* Its family: the name itself, or a histogram's name for its parts. */
      family = g_strdup (name);
      family_type = g_hash_table_lookup (out->types, family);
      if (family_type == NULL)
        for (const char *const *sfx = (const char *const[]) { "_bucket", "_sum", "_count", NULL };
             *sfx != NULL; sfx++)
          if (g_str_has_suffix (name, *sfx))
            {
              g_free (family);
              family = g_strndup (name, strlen (name) - strlen (*sfx));
              family_type = g_hash_table_lookup (out->types, family);
              if (family_type != NULL)
                g_assert_cmpstr (family_type, ==, "histogram");
              break;
            }
      if (family_type == NULL)
        g_error ("sample without HELP and TYPE: %s", l);
      g_assert_cmpstr (family, ==, current);   /* families are not split */
      if (g_str_equal (family_type, "counter"))
        g_assert_cmpfloat (v, >=, 0);
      if (g_str_equal (family_type, "histogram"))
        {
          g_autofree char *series = g_strdup_printf ("%s{%s}", family, labels->str);

          if (g_str_has_suffix (name, "_bucket"))
            {
              GArray *a = g_hash_table_lookup (buckets, series);
              Bucket b = { g_steal_pointer (&le), v };

              g_assert_nonnull (b.le);
              if (a == NULL)
                {
                  a = g_array_new (FALSE, FALSE, sizeof (Bucket));
                  g_hash_table_insert (buckets, g_strdup (series), a);
                }
              g_array_append_val (a, b);
            }
          else if (g_str_has_suffix (name, "_count"))
            g_hash_table_insert (counts, g_strdup (series), g_memdup2 (&v, sizeof v));
          else
            g_hash_table_add (sums, g_strdup (series));
        }
      else
        g_assert_null (le);
      {
        g_autofree char *key_text = NULL;

        /* Samples are looked up as written, without the value. */
        key_text = g_strndup (l, (gsize) (strrchr (l, ' ') - l));
        g_assert_false (g_hash_table_contains (out->samples, key_text));
        g_hash_table_insert (out->samples, g_steal_pointer (&key_text), g_memdup2 (&v, sizeof v));
      }
    }

  /* Histograms: ascending bounds, cumulative counts, +Inf last = _count. */
  g_hash_table_iter_init (&it, buckets);
  while (g_hash_table_iter_next (&it, &key, &value))
    {
      GArray *a = value;
      const gdouble *count = g_hash_table_lookup (counts, key);
      gdouble prev_le = -INFINITY, prev_v = 0;

      g_assert_cmpuint (a->len, >=, 1);
      for (guint i = 0; i < a->len; i++)
        {
          Bucket *b = &g_array_index (a, Bucket, i);
          gdouble le;

          g_assert_true (parse_value (b->le, &le));
          g_assert_cmpfloat (le, >, prev_le);
          g_assert_cmpfloat (b->value, >=, prev_v);
          prev_le = le;
          prev_v = b->value;
        }
      g_assert_cmpstr (g_array_index (a, Bucket, a->len - 1).le, ==, "+Inf");
      g_assert_nonnull (count);
      g_assert_cmpfloat (*count, ==, prev_v);
      g_assert_true (g_hash_table_contains (sums, key));
      for (guint i = 0; i < a->len; i++)
        g_free (g_array_index (a, Bucket, i).le);
    }
  g_assert_cmpuint (g_hash_table_size (counts), ==, g_hash_table_size (buckets));
}

/* GET /metrics (with @token if given) and parse it; the status must be 200. */
static void
scrape (Scrape *s, const char *token)
{
  g_auto (MmResponse) r = { 0 };

  mm_http (&h, "GET", "/metrics", token, NULL, &r);
  g_assert_cmpint (r.status, ==, 200);
  g_assert_cmpstr (r.content_type, ==, "text/plain; version=0.0.4; charset=utf-8");
  g_assert_nonnull (r.body);
  scrape_clear (s);
  parse_exposition (r.body, s);
}

/* The value of sample @series ("name" or "name{a=\"b\"}"), or NAN. */
static gdouble
val (Scrape *s, const char *series)
{
  const gdouble *v = g_hash_table_lookup (s->samples, series);
  return v != NULL ? *v : NAN;
}

static gdouble
valf (Scrape *s, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gdouble
valf (Scrape *s, const char *format, ...)
{
  g_autofree char *series = NULL;
  va_list ap;

  va_start (ap, format);
  series = g_strdup_vprintf (format, ap);
  va_end (ap);
  return val (s, series);
}

/* ---- tests ---------------------------------------------------------------- */

/* 1. The format, and every family the operators are promised. */
static void
test_format (void)
{
  g_auto (Scrape) s = { 0 };
  const char *families[] = {
    "mixmeet_rooms", "mixmeet_participants", "mixmeet_viewers", "mixmeet_long_polls_waiting",
    "mixmeet_room_composite_fps", "mixmeet_room_encode_seconds", "mixmeet_media_packets_total",
    "mixmeet_media_bytes_total", "mixmeet_media_packets_lost_total",
    "mixmeet_keyframe_requests_total", "mixmeet_keyframes_forced_total",
    "mixmeet_http_requests_total", "mixmeet_http_request_duration_seconds",
    "mixmeet_db_pool_connections_in_use", "mixmeet_db_pool_connections",
    "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
    "process_threads", "process_start_time_seconds",
  };
  gdouble now = (gdouble) g_get_real_time () / G_USEC_PER_SEC;

  scrape (&s, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (families); i++)
    g_assert_true (g_hash_table_contains (s.types, families[i]));
  g_assert_cmpstr (g_hash_table_lookup (s.types, "mixmeet_http_request_duration_seconds"), ==,
                   "histogram");
  g_assert_cmpfloat (val (&s, "mixmeet_db_pool_connections"), ==, 4);
  g_assert_cmpfloat (val (&s, "mixmeet_db_pool_connections_in_use"), >=, 0);
  g_assert_cmpfloat (val (&s, "mixmeet_db_pool_connections_in_use"), <=, 4);
  g_assert_cmpfloat (val (&s, "mixmeet_db_ready"), ==, 1);
  g_assert_cmpfloat (val (&s, "process_cpu_seconds_total"), >=, 0);
  g_assert_cmpfloat (val (&s, "process_resident_memory_bytes"), >, 1e6);
  g_assert_cmpfloat (val (&s, "process_threads"), >=, 2);
  g_assert_cmpfloat (val (&s, "process_open_fds"), >=, 3);
  g_assert_cmpfloat (val (&s, "process_start_time_seconds"), >, now - 600);
  g_assert_cmpfloat (val (&s, "process_start_time_seconds"), <=, now + 1);
}

/* 2. Requests are counted by route pattern and status, never by raw path,
 * with a latency histogram per route. */
static void
test_http (void)
{
  g_auto (Scrape) before = { 0 };
  g_auto (Scrape) after = { 0 };
  g_autofree char *token = mm_test_register (&h, "Metrics user", NULL);
  g_autofree char *code = mm_test_room (&h, token, "{\"title\":\"Metrics\"}");
  g_autofree char *room_path = g_strdup_printf ("/api/v1/rooms/%s", code);
  const char *healthz = "mixmeet_http_requests_total{method=\"GET\",route=\"/healthz\",code=\"200\"}";
  const char *room = "mixmeet_http_requests_total{method=\"GET\",route=\"/api/v1/rooms/{code}\","
                     "code=\"200\"}";
  const char *missing = "mixmeet_http_requests_total{method=\"GET\",route=\"unmatched\","
                        "code=\"404\"}";
  const char *count = "mixmeet_http_request_duration_seconds_count{method=\"GET\","
                      "route=\"/healthz\"}";

  scrape (&before, NULL);
  for (int i = 0; i < 3; i++)
    {
      g_auto (MmResponse) r = { 0 };
      mm_http (&h, "GET", "/healthz", NULL, NULL, &r);
      g_assert_cmpint (r.status, ==, 200);
    }
  {
    g_auto (MmResponse) r = { 0 };
    g_auto (MmResponse) r2 = { 0 };

    mm_http (&h, "GET", room_path, token, NULL, &r);
    g_assert_cmpint (r.status, ==, 200);
    mm_http (&h, "GET", "/api/v1/no-such-thing", NULL, NULL, &r2);
    g_assert_cmpint (r2.status, ==, 404);
  }
  scrape (&after, NULL);
  g_assert_cmpfloat (val (&after, healthz) - (isnan (val (&before, healthz)) ? 0
                                               : val (&before, healthz)), ==, 3);
  g_assert_cmpfloat (val (&after, count) - (isnan (val (&before, count)) ? 0
                                             : val (&before, count)), ==, 3);
  g_assert_cmpfloat (val (&after, room), >=, 1);
  g_assert_cmpfloat (val (&after, missing), >=, 1);
  /* Raw paths would make a series per room: they never appear. */
  g_assert_null (strstr (after.text, code));
  g_assert_null (strstr (after.text, "no-such-thing"));
  /* The scrape before this one is counted too. */
  g_assert_cmpfloat (val (&after, "mixmeet_http_requests_total{method=\"GET\","
                                   "route=\"/metrics\",code=\"200\"}"), >=, 1);
}

/* 3. A guest waiting in a long-poll is a participant and a waiting poll. */
static void
test_long_poll (void)
{
  g_autofree char *token = mm_test_register (&h, "Poll host", NULL);
  g_autofree char *code = mm_test_room (&h, token, "{\"title\":\"Polls\"}");
  g_auto (MmJoined) j = { 0 };
  g_auto (MmResponse) first = { 0 };
  g_auto (Scrape) s = { 0 };
  g_autoptr (MmMulti) m = NULL;
  g_autofree char *path = NULL;
  gint64 deadline;

  mm_test_join (&h, code, NULL, "Poller", &j);
  path = g_strdup_printf ("%s?since=0&timeout=0", j.events);
  mm_http (&h, "GET", path, j.secret, NULL, &first);
  g_assert_cmpint (first.status, ==, 200);
  g_free (path);
  path = g_strdup_printf ("%s?since=%" G_GINT64_FORMAT "&timeout=20", j.events,
                          mm_json_int (&first, "last_seq"));
  m = mm_multi_new (&h);
  mm_multi_add (m, "GET", path, j.secret, NULL);
  g_assert_true (mm_multi_run (m, 5000, MM_MULTI_ALL_SENT));
  /* The poll reaches the main loop soon after it is sent. */
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  do
    {
      mm_multi_run (m, 100, MM_MULTI_ANY_DONE);
      scrape (&s, NULL);
    }
  while (val (&s, "mixmeet_long_polls_waiting") < 1 && g_get_monotonic_time () < deadline);
  g_assert_cmpfloat (val (&s, "mixmeet_long_polls_waiting"), ==, 1);
  g_assert_cmpfloat (val (&s, "mixmeet_participants"), ==, 1);
  g_assert_cmpfloat (val (&s, "mixmeet_rooms"), ==, 1);
  g_assert_cmpfloat (val (&s, "mixmeet_viewers"), ==, 0);

  /* Leaving answers the poll and empties the room. */
  {
    g_auto (MmResponse) r = { 0 };

    mm_http (&h, "POST", j.leave, j.secret, "{}", &r);
    g_assert_cmpint (r.status / 100, ==, 2);
  }
  g_assert_true (mm_multi_run (m, 10000, MM_MULTI_ALL_DONE));
  scrape (&s, NULL);
  g_assert_cmpfloat (val (&s, "mixmeet_long_polls_waiting"), ==, 0);
  g_assert_cmpfloat (val (&s, "mixmeet_participants"), ==, 0);
  g_assert_cmpfloat (val (&s, "mixmeet_rooms"), ==, 0);
}

typedef struct {
  const char *code;
  gdouble packets_in;    /* before */
  gdouble packets_out;
  gdouble forced;
  guint participants;
  guint viewers;
} MediaWant;

static gboolean
media_moved (Scrape *s, const MediaWant *w)
{
  return val (s, "mixmeet_participants") == w->participants
         && val (s, "mixmeet_viewers") == w->viewers
         && val (s, "mixmeet_media_packets_total{direction=\"in\"}") > w->packets_in
         && val (s, "mixmeet_media_packets_total{direction=\"out\"}") > w->packets_out
         && valf (s, "mixmeet_room_composite_fps{room=\"%s\"}", w->code) > 0
         && valf (s, "mixmeet_room_encoded_fps{room=\"%s\"}", w->code) > 0
         && valf (s, "mixmeet_room_encode_seconds_count{room=\"%s\"}", w->code) > 0;
}

/* Scrape until @w holds (a busy machine may take its time). */
static void
wait_media (Scrape *s, const MediaWant *w, guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;

  do
    {
      scrape (s, NULL);
      if (media_moved (s, w))
        return;
      g_usleep (G_USEC_PER_SEC / 2);
    }
  while (g_get_monotonic_time () < deadline);
  g_printerr ("# last scrape:\n%s", s->text);
  g_assert_true (media_moved (s, w));
}

static gboolean
receives_video (JsonObject *line, gpointer data)
{
  return mm_bot_fps (line) > 0;
}

static gboolean
rooms_empty (Scrape *s)
{
  return val (s, "mixmeet_rooms") == 0 && val (s, "mixmeet_participants") == 0;
}

/* 4. A bot that sends media: a participant, packets in and out, a
 * composite with frames and encode times, a keyframe forced for it; a
 * receive-only bot is a viewer.  After they leave, the room is gone and
 * the counters have not gone back. */
static void
test_media (void)
{
  g_autofree char *token = mm_test_register (&h, "Media host", NULL);
  g_autofree char *code = mm_test_room (&h, token, "{\"title\":\"Metrics media\"}");
  const char *red_args[] = { "--name", "red", "--color", "ff0000", "--tone", "440", NULL };
  const char *viewer_args[] = { "--name", "viewer", "--recv-only", "--no-decode", NULL };
  g_auto (Scrape) s = { 0 };
  MediaWant w = { .code = code };
  MmBot *red, *viewer;
  gdouble in_live, out_live, bytes_in;
  gint64 deadline;

  scrape (&s, NULL);
  w.packets_in = val (&s, "mixmeet_media_packets_total{direction=\"in\"}");
  w.packets_out = val (&s, "mixmeet_media_packets_total{direction=\"out\"}");
  w.forced = val (&s, "mixmeet_keyframes_forced_total");
  g_assert_false (isnan (w.packets_in));
  g_assert_false (isnan (w.forced));

  red = mm_bot_start (&h, code, red_args);
  g_assert_nonnull (mm_bot_wait (red, receives_video, NULL, 60));
  w.participants = 1;
  w.viewers = 0;
  wait_media (&s, &w, 30);
  g_assert_cmpfloat (val (&s, "mixmeet_rooms"), ==, 1);
  g_assert_cmpfloat (val (&s, "mixmeet_media_bytes_total{direction=\"in\"}"), >, 0);
  g_assert_cmpfloat (val (&s, "mixmeet_media_bytes_total{direction=\"out\"}"), >, 0);
  g_assert_cmpfloat (val (&s, "mixmeet_keyframes_forced_total"), >, w.forced);
  g_assert_cmpfloat (valf (&s, "mixmeet_room_composite_frames_total{room=\"%s\"}", code), >, 0);
  g_assert_cmpfloat (valf (&s, "mixmeet_room_keyframes_total{room=\"%s\"}", code), >=, 1);
  /* One receiver, on the high tier; the others idle. */
  g_assert_cmpfloat (valf (&s, "mixmeet_tier_receivers{room=\"%s\",tier=\"high\"}", code), ==, 1);
  g_assert_cmpfloat (valf (&s, "mixmeet_tier_active{room=\"%s\",tier=\"high\"}", code), ==, 1);
  g_assert_cmpfloat (valf (&s, "mixmeet_tier_receivers{room=\"%s\",tier=\"low\"}", code), ==, 0);
  g_assert_cmpfloat (valf (&s, "mixmeet_tier_active{room=\"%s\",tier=\"low\"}", code), ==, 0);
  g_assert_false (isnan (val (&s, "mixmeet_media_packets_lost_total")));
  g_assert_false (isnan (val (&s, "mixmeet_keyframe_requests_total{type=\"pli\"}")));

  /* A receive-only bot: a viewer. */
  viewer = mm_bot_start (&h, code, viewer_args);
  g_assert_nonnull (mm_bot_wait (viewer, receives_video, NULL, 60));
  w.participants = 2;
  w.viewers = 1;
  wait_media (&s, &w, 30);

  in_live = val (&s, "mixmeet_media_packets_total{direction=\"in\"}");
  out_live = val (&s, "mixmeet_media_packets_total{direction=\"out\"}");
  bytes_in = val (&s, "mixmeet_media_bytes_total{direction=\"in\"}");
  mm_bot_free (viewer);
  mm_bot_free (red);
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  do
    {
      g_usleep (G_USEC_PER_SEC / 2);
      scrape (&s, NULL);
    }
  while (!rooms_empty (&s) && g_get_monotonic_time () < deadline);
  g_assert_true (rooms_empty (&s));
  g_assert_cmpfloat (val (&s, "mixmeet_viewers"), ==, 0);
  /* The room's series are gone with it; the totals kept what it counted. */
  g_assert_true (isnan (valf (&s, "mixmeet_room_composite_fps{room=\"%s\"}", code)));
  g_assert_cmpfloat (val (&s, "mixmeet_media_packets_total{direction=\"in\"}"), >=, in_live);
  g_assert_cmpfloat (val (&s, "mixmeet_media_packets_total{direction=\"out\"}"), >=, out_live);
  g_assert_cmpfloat (val (&s, "mixmeet_media_bytes_total{direction=\"in\"}"), >=, bytes_in);
}

/* 5. Every line of the server's log starts with the date and time (ISO
 * 8601, UTC, milliseconds). */
static void
test_log_format (void)
{
  g_autofree char *path = g_build_filename (h.dir, "mixmeetd.log", NULL);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GRegex) stamp = g_regex_new ("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z "
                                          "\\S+ [a-z]+: ", 0, 0, NULL);
  guint checked = 0;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      /* Continuation lines of a multi-line message, and what GStreamer
       * or libnice print by themselves, are not ours. */
      if (!g_str_has_prefix (lines[i], "20"))
        continue;
      if (!g_regex_match (stamp, lines[i], 0, NULL))
        g_error ("log line without an ISO 8601 time: %s", lines[i]);
      checked++;
    }
  /* At least the start-up lines ("listening on", "database ready"). */
  g_assert_cmpuint (checked, >=, 2);
  g_assert_nonnull (strstr (text, "mixmeet message: mixmeetd "));
}

/* Restart the server with @line appended to its config's [metrics]
 * section (the last one). */
static void
restart_with (const char *line)
{
  g_autofree char *text = NULL;
  g_autofree char *more = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (g_file_get_contents (h.config, &text, NULL, NULL));
  more = g_strdup_printf ("%s%s\n", text, line);
  g_assert_true (g_file_set_contents (h.config, more, -1, &error));
  g_assert_cmpint (mm_harness_stop_server (&h), ==, 0);
  mm_harness_start_server (&h);
}

/* 6b. A request that says it was forwarded by a proxy we do not trust
 * comes from the proxy's address (127.0.0.1 here, in the default allow
 * list), not from its client's: nothing is granted by that address. */
static void
test_untrusted_proxy (void)
{
  g_autofree char *url = g_strdup_printf ("%s/metrics", h.base_url);
  struct curl_slist *headers = curl_slist_append (NULL, "X-Forwarded-For: 203.0.113.9");
  CURL *c = curl_easy_init ();
  long status = 0;
  FILE *sink = fopen ("/dev/null", "w");

  g_assert_nonnull (sink);
  curl_easy_setopt (c, CURLOPT_URL, url);
  curl_easy_setopt (c, CURLOPT_WRITEDATA, sink);
  curl_easy_setopt (c, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt (c, CURLOPT_HTTPHEADER, headers);
  g_assert_cmpint (curl_easy_perform (c), ==, CURLE_OK);
  curl_easy_getinfo (c, CURLINFO_RESPONSE_CODE, &status);
  g_assert_cmpint (status, ==, 403);
  /* Without the header, the same address may read it. */
  curl_easy_setopt (c, CURLOPT_HTTPHEADER, NULL);
  g_assert_cmpint (curl_easy_perform (c), ==, CURLE_OK);
  curl_easy_getinfo (c, CURLINFO_RESPONSE_CODE, &status);
  g_assert_cmpint (status, ==, 200);
  curl_easy_cleanup (c);
  curl_slist_free_all (headers);
  fclose (sink);
}

/* 6. Outside [metrics] allow only the token opens /metrics. */
static void
test_access (void)
{
  g_auto (Scrape) s = { 0 };
  const char *tokens[] = { NULL, "wrong-token", TOKEN "x", "" };

  restart_with ("allow=10.0.0.0/8, fd00::/8");
  for (guint i = 0; i < G_N_ELEMENTS (tokens); i++)
    {
      g_auto (MmResponse) r = { 0 };

      mm_http (&h, "GET", "/metrics", tokens[i], NULL, &r);
      g_assert_cmpint (r.status, ==, 403);
      g_assert_cmpstr (mm_error_code (&r), ==, "forbidden");
      g_assert_null (strstr (r.body, "mixmeet_"));
    }
  /* The token from anywhere, and other endpoints as before. */
  scrape (&s, TOKEN);
  g_assert_cmpfloat (val (&s, "mixmeet_rooms"), ==, 0);
  {
    g_auto (MmResponse) r = { 0 };

    mm_http (&h, "GET", "/healthz", NULL, NULL, &r);
    g_assert_cmpint (r.status, ==, 200);
  }
  /* The refusals were counted as 403s of /metrics. */
  g_assert_cmpfloat (val (&s, "mixmeet_http_requests_total{method=\"GET\",route=\"/metrics\","
                               "code=\"403\"}"), ==, G_N_ELEMENTS (tokens));
}

/* 7. A bad entry in [metrics] allow: mixmeetd refuses to start, naming it. */
static void
test_bad_allow (void)
{
  const char *mixmeetd = g_getenv ("MM_TEST_MIXMEETD");
  g_autofree char *conf = g_build_filename (h.dir, "bad-allow.conf", NULL);
  g_autofree char *err = NULL;
  g_autoptr (GError) error = NULL;
  int status = 0;
  const char *argv[] = { mixmeetd ? mixmeetd : "./mixmeetd", "--config", conf, NULL };

  g_assert_true (g_file_set_contents (conf, "[metrics]\nallow=127.0.0.1, 10.0.0.0/33\n", -1,
                                      &error));
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                               NULL, NULL, &err, &status, &error));
  g_assert_no_error (error);
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 2);
  g_assert_nonnull (strstr (err, "[metrics] allow"));
  g_assert_nonnull (strstr (err, "\"10.0.0.0/33\""));
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  mm_harness_start (&h, "[signalling]\nlong-poll-timeout=20\npresence-timeout=30\n"
                        "[metrics]\ntoken=" TOKEN "\n");
  g_test_add_func ("/metrics/format", test_format);
  g_test_add_func ("/metrics/http", test_http);
  g_test_add_func ("/metrics/long-poll", test_long_poll);
  g_test_add_func ("/metrics/media", test_media);
  g_test_add_func ("/metrics/log-format", test_log_format);
  g_test_add_func ("/metrics/untrusted-proxy", test_untrusted_proxy);
  g_test_add_func ("/metrics/access", test_access);
  g_test_add_func ("/metrics/bad-allow", test_bad_allow);
  rc = g_test_run ();
  mm_harness_stop (&h);
  return rc;
}
