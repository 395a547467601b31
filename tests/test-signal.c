/* test-signal.c — the long-poll signalling channel over HTTP against real
 * PostgreSQL and mixmeetd: ordering, cursor resume, waking, timeouts, a
 * thousand concurrent polls, queue isolation, backlog resync, presence,
 * leave, state and chat.
 *
 * The whole program runs with a 2 s long-poll timeout, a 4 s presence
 * timeout and a 16-event backlog, so every test creates its own room and
 * finishes (or keeps its participants polling) well within 4 s. */
#include "config.h"

#include "harness.h"

#include <string.h>
#include <sys/resource.h>

#define LONG_POLL_S 2
#define PRESENCE_S 4
#define BACKLOG 16

static MmHarness h;
static char *host_token;
/* What joins announce: the server's settings, but for one test. */
static gint64 long_poll_s = LONG_POLL_S, presence_s = PRESENCE_S;

/* ---- a participant with its cursor ------------------------------------ */

typedef struct {
  MmJoined j;
  guint64 seq;        /* the last event seen */
  GQueue pending;     /* JsonNode* (owned): received, not yet taken */
} Client;

static void
client_clear (Client *c)
{
  mm_joined_clear (&c->j);
  g_queue_clear_full (&c->pending, (GDestroyNotify) json_node_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Client, client_clear)

static const char *
ev_str (JsonNode *ev, const char *path)
{
  MmResponse r = { .json = ev };
  return mm_json_str (&r, path);
}

static gint64
ev_int (JsonNode *ev, const char *path)
{
  MmResponse r = { .json = ev };
  return mm_json_int (&r, path);
}

static gboolean
ev_bool (JsonNode *ev, const char *path)
{
  MmResponse r = { .json = ev };
  JsonNode *n = mm_json_at (&r, path);

  g_assert_nonnull (n);
  g_assert_true (JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_BOOLEAN);
  return json_node_get_boolean (n);
}

static char *
room_new (void)
{
  return mm_test_room (&h, host_token, NULL);
}

/* Join @code as guest @name.  @out: (nullable) gets the join response. */
static void
client_join (Client *c, const char *code, const char *name, MmResponse *out)
{
  g_autofree char *path = g_strdup_printf ("/api/v1/rooms/%s/join", code);
  g_autofree char *body = g_strdup_printf ("{\"display_name\":\"%s\"}", name);
  g_auto (MmResponse) local = { 0 };
  MmResponse *r = out != NULL ? out : &local;

  mm_http (&h, "POST", path, NULL, body, r);
  g_assert_cmpint (r->status, ==, 201);
  c->j.id = g_strdup (mm_json_str (r, "participant.id"));
  c->j.secret = g_strdup (mm_json_str (r, "secret"));
  c->j.events = g_strdup (mm_json_str (r, "signalling.events"));
  c->j.messages = g_strdup (mm_json_str (r, "signalling.messages"));
  c->j.leave = g_strdup (mm_json_str (r, "signalling.leave"));
  g_assert_nonnull (c->j.id);
  g_assert_nonnull (c->j.secret);
  g_assert_nonnull (c->j.events);
  g_assert_cmpstr (mm_json_str (r, "participant.display_name"), ==, name);
  g_assert_cmpint (mm_json_int (r, "signalling.long_poll_timeout_s"), ==, long_poll_s);
  g_assert_cmpint (mm_json_int (r, "signalling.presence_timeout_s"), ==, presence_s);
  c->seq = (guint64) mm_json_int (r, "last_seq");
  g_queue_init (&c->pending);
}

/* GET the events after @since with @secret; @timeout < 0 leaves the
 * server's long-poll timeout. */
static void
poll_raw (Client *c, const char *secret, guint64 since, int timeout, MmResponse *r)
{
  g_autofree char *path = NULL;

  if (timeout >= 0)
    path = g_strdup_printf ("%s?since=%" G_GUINT64_FORMAT "&timeout=%d", c->j.events, since,
                            timeout);
  else
    path = g_strdup_printf ("%s?since=%" G_GUINT64_FORMAT, c->j.events, since);
  mm_http (&h, "GET", path, secret, NULL, r);
}

static JsonArray *
events_of (MmResponse *r)
{
  JsonNode *n = mm_json_at (r, "events");

  g_assert_nonnull (n);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (n));
  return json_node_get_array (n);
}

/* One poll from the cursor: events must follow it without a gap (a resync
 * jumps to its own seq), and last_seq must be the last of them. */
static guint
client_poll (Client *c, int timeout)
{
  g_auto (MmResponse) r = { 0 };
  JsonArray *arr;

  poll_raw (c, c->j.secret, c->seq, timeout, &r);
  g_assert_cmpint (r.status, ==, 200);
  g_assert_cmpstr (r.cache_control, ==, "no-store");
  arr = events_of (&r);
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonNode *ev = json_array_get_element (arr, i);
      gint64 seq = ev_int (ev, "seq");

      if (g_strcmp0 (ev_str (ev, "type"), "resync") != 0)
        g_assert_cmpint (seq, ==, (gint64) c->seq + 1);
      g_assert_cmpint (ev_int (ev, "at"), >, 0);
      c->seq = (guint64) seq;
      g_queue_push_tail (&c->pending, json_node_copy (ev));
    }
  g_assert_cmpint (mm_json_int (&r, "last_seq"), ==, (gint64) c->seq);
  return json_array_get_length (arr);
}

/* The next event, polling for up to @timeout_ms; NULL if none came.
 * Returns: (transfer full) */
static JsonNode *
client_next (Client *c, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (g_queue_is_empty (&c->pending) && g_get_monotonic_time () < deadline)
    client_poll (c, -1);
  return g_queue_pop_head (&c->pending);
}

/* The next event, which must be of @type.  Returns: (transfer full) */
static JsonNode *
client_expect (Client *c, const char *type)
{
  JsonNode *ev = client_next (c, 20000);

  if (ev == NULL)
    g_test_message ("participant %s: no %s event came", c->j.id, type);
  g_assert_nonnull (ev);
  g_assert_cmpstr (ev_str (ev, "type"), ==, type);
  return ev;
}

static void
client_expect_joined (Client *c, Client *who)
{
  g_autoptr (JsonNode) ev = client_expect (c, "participant-joined");

  g_assert_cmpstr (ev_str (ev, "participant.id"), ==, who->j.id);
}

/* Nothing more arrives within a 1 s poll. */
static void
client_expect_nothing (Client *c)
{
  g_assert_true (g_queue_is_empty (&c->pending));
  g_assert_cmpuint (client_poll (c, 1), ==, 0);
}

static char *
message_body (const char *type, const char *key, const char *text)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, type);
  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, text);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

/* Send chat @text as @c; returns the message id. */
static gint64
chat (Client *c, const char *text)
{
  g_autofree char *body = message_body ("chat", "text", text);
  g_auto (MmResponse) r = { 0 };

  mm_http (&h, "POST", c->j.messages, c->j.secret, body, &r);
  g_assert_cmpint (r.status, ==, 201);
  g_assert_cmpstr (mm_json_str (&r, "message.text"), ==, text);
  g_assert_cmpstr (mm_json_str (&r, "message.participant_id"), ==, c->j.id);
  g_assert_cmpint (mm_json_int (&r, "message.id"), >, 0);
  return mm_json_int (&r, "message.id");
}

static void
expect_chat (Client *c, const char *text, gint64 id)
{
  g_autoptr (JsonNode) ev = client_expect (c, "chat");

  g_assert_cmpstr (ev_str (ev, "message.text"), ==, text);
  if (id > 0)
    g_assert_cmpint (ev_int (ev, "message.id"), ==, id);
}

/* Poll @sql until its answer is @want, for at most 30 s. */
static void
assert_sql_soon (const char *sql, const char *want)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  for (;;)
    {
      g_autofree char *got = mm_harness_sql (&h, sql);

      if (g_strcmp0 (got, want) == 0)
        return;
      if (g_get_monotonic_time () > deadline)
        g_assert_cmpstr (got, ==, want);
      g_usleep (20000);
    }
}

static double
seconds_since (gint64 t)
{
  return (double) (g_get_monotonic_time () - t) / G_USEC_PER_SEC;
}

/* ---- 1. ordering ------------------------------------------------------ */

#define N_ORDERED 30

typedef struct {
  Client *reader;
  GMutex lock;
  GCond cond;
  guint received;
  char *texts[N_ORDERED];
  gint64 ids[N_ORDERED];
} Ordered;

static gpointer
read_ordered (gpointer data)
{
  Ordered *o = data;
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  gint64 last_at = 0;

  while (o->received < N_ORDERED && g_get_monotonic_time () < deadline)
    {
      g_autoptr (JsonNode) ev = client_next (o->reader, 3000);

      if (ev == NULL)
        continue;
      /* client_poll checked that seq grows by one from event to event. */
      g_assert_cmpstr (ev_str (ev, "type"), ==, "chat");
      g_assert_cmpint (ev_int (ev, "at"), >=, last_at);
      last_at = ev_int (ev, "at");
      g_mutex_lock (&o->lock);
      o->texts[o->received] = g_strdup (ev_str (ev, "message.text"));
      o->ids[o->received] = ev_int (ev, "message.id");
      o->received++;
      g_cond_signal (&o->cond);
      g_mutex_unlock (&o->lock);
    }
  return NULL;
}

static void
test_ordering (void)
{
  g_autofree char *code = room_new ();
  g_auto (Client) a = { 0 };
  g_auto (Client) b = { 0 };
  Ordered o = { 0 };
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  GThread *thread;

  client_join (&a, code, "Alice", NULL);
  client_join (&b, code, "Bob", NULL);
  g_assert_cmpuint (b.seq, ==, 0);
  o.reader = &b;
  g_mutex_init (&o.lock);
  g_cond_init (&o.cond);
  thread = g_thread_new ("reader", read_ordered, &o);
  for (guint i = 0; i < N_ORDERED; i++)
    {
      g_autofree char *text = g_strdup_printf ("message %02u", i);

      /* Keep the reader within the 16-event backlog: it must read while
       * messages are still being sent, never fall out of it. */
      g_mutex_lock (&o.lock);
      while (i >= o.received + BACKLOG / 2)
        if (!g_cond_wait_until (&o.cond, &o.lock, deadline))
          break;
      g_mutex_unlock (&o.lock);
      g_assert_cmpuint (i, <, o.received + BACKLOG / 2);
      chat (&a, text);
    }
  g_thread_join (thread);

  g_assert_cmpuint (o.received, ==, N_ORDERED);
  for (guint i = 0; i < N_ORDERED; i++)
    {
      g_autofree char *text = g_strdup_printf ("message %02u", i);

      g_assert_cmpstr (o.texts[i], ==, text);
      if (i > 0)
        g_assert_cmpint (o.ids[i], >, o.ids[i - 1]);
      g_free (o.texts[i]);
    }
  g_assert_cmpuint (b.seq, ==, N_ORDERED);
  g_mutex_clear (&o.lock);
  g_cond_clear (&o.cond);
}

/* ---- 2. cursor resume ------------------------------------------------- */

static void
test_cursor_resume (void)
{
  g_autofree char *code = room_new ();
  g_auto (Client) a = { 0 };
  g_auto (Client) b = { 0 };
  g_auto (MmResponse) missed = { 0 };
  g_auto (MmResponse) again = { 0 };
  g_autoptr (MmMulti) m = mm_multi_new (&h);
  g_autofree char *dropped = NULL;
  gint64 ids[5];
  guint64 cursor;
  JsonArray *arr, *arr2;

  client_join (&a, code, "Alice", NULL);
  client_join (&b, code, "Bob", NULL);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *text = g_strdup_printf ("before %u", i);
      expect_chat (&b, text, chat (&a, text));
    }
  cursor = b.seq;
  g_assert_cmpuint (cursor, ==, 3);

  /* The client disconnects in the middle of a long-poll: the request is
   * held by the server, then the connection goes away. */
  dropped = g_strdup_printf ("%s?since=%" G_GUINT64_FORMAT, b.j.events, cursor);
  mm_multi_add (m, "GET", dropped, b.j.secret, NULL);
  g_assert_true (mm_multi_run (m, 5000, MM_MULTI_ALL_SENT));
  g_assert_false (mm_multi_run (m, 300, MM_MULTI_ANY_DONE));
  g_clear_pointer (&m, mm_multi_free);

  /* Meanwhile, more happens (the first of it is answered into the closed
   * connection). */
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *text = g_strdup_printf ("after %u", i);
      ids[i] = chat (&a, text);
    }

  /* Back with the last seq it saw: exactly the missed ones, in order. */
  poll_raw (&b, b.j.secret, cursor, -1, &missed);
  g_assert_cmpint (missed.status, ==, 200);
  arr = events_of (&missed);
  g_assert_cmpuint (json_array_get_length (arr), ==, 5);
  for (guint i = 0; i < 5; i++)
    {
      JsonNode *ev = json_array_get_element (arr, i);
      g_autofree char *text = g_strdup_printf ("after %u", i);

      g_assert_cmpstr (ev_str (ev, "type"), ==, "chat");
      g_assert_cmpint (ev_int (ev, "seq"), ==, (gint64) cursor + 1 + i);
      g_assert_cmpstr (ev_str (ev, "message.text"), ==, text);
      g_assert_cmpint (ev_int (ev, "message.id"), ==, ids[i]);
    }
  g_assert_cmpint (mm_json_int (&missed, "last_seq"), ==, (gint64) cursor + 5);

  /* Asking again from the same cursor gives the same events. */
  poll_raw (&b, b.j.secret, cursor, -1, &again);
  g_assert_cmpint (again.status, ==, 200);
  arr2 = events_of (&again);
  g_assert_cmpuint (json_array_get_length (arr2), ==, 5);
  for (guint i = 0; i < 5; i++)
    g_assert_cmpint (ev_int (json_array_get_element (arr2, i), "message.id"), ==, ids[i]);

  /* From the new cursor: nothing repeated. */
  b.seq = cursor + 5;
  client_expect_nothing (&b);
  g_assert_cmpuint (b.seq, ==, cursor + 5);
}

/* ---- 3. a waiting poll is woken ---------------------------------------- */

/* The server's long-poll timer has a one-second granularity: it answers
 * an empty poll no earlier than this after it got it. */
#define TIMER_FLOOR_US (LONG_POLL_S * G_USEC_PER_SEC - G_USEC_PER_SEC / 4)

/* One try: Bob's poll is held, Alice's chat wakes it.  TRUE if the answer
 * (which must hold the chat) came sooner than the timer could have made
 * it; FALSE when this try cannot tell (a busy machine delayed the chat or
 * the answer past that, or the poll timed out before the chat). */
static gboolean
wake_once (Client *a, Client *b, guint attempt)
{
  g_autoptr (MmMulti) m = mm_multi_new (&h);
  g_autofree char *path = NULL;
  g_autofree char *text = g_strdup_printf ("wake up %u", attempt);
  gint64 t0, posted;
  MmResponse *r;
  JsonArray *arr;

  path = g_strdup_printf ("%s?since=%" G_GUINT64_FORMAT, b->j.events, b->seq);
  t0 = g_get_monotonic_time ();
  mm_multi_add (m, "GET", path, b->j.secret, NULL);
  g_assert_true (mm_multi_run (m, 5000, MM_MULTI_ALL_SENT));
  /* The poll is held: nothing to say yet. */
  if (mm_multi_run (m, 400, MM_MULTI_ANY_DONE))
    {
      r = mm_multi_response (m, 0);
      g_assert_cmpint (r->status, ==, 200);
      g_assert_cmpuint (json_array_get_length (events_of (r)), ==, 0);
      g_assert_cmpint (g_get_monotonic_time () - t0, >=, TIMER_FLOOR_US);
      return FALSE;
    }
  posted = g_get_monotonic_time ();
  chat (a, text);
  g_assert_true (mm_multi_run (m, 5000, MM_MULTI_ALL_DONE));
  r = mm_multi_response (m, 0);
  g_assert_cmpint (r->status, ==, 200);
  arr = events_of (r);
  if (json_array_get_length (arr) == 0)
    {
      /* Timed out before the chat came. */
      g_assert_cmpint (mm_multi_done_at (m, 0) - t0, >=, TIMER_FLOOR_US);
      expect_chat (b, text, 0);
      return FALSE;
    }
  g_assert_cmpuint (json_array_get_length (arr), ==, 1);
  g_assert_cmpstr (ev_str (json_array_get_element (arr, 0), "type"), ==, "chat");
  g_assert_cmpstr (ev_str (json_array_get_element (arr, 0), "message.text"), ==, text);
  g_assert_cmpint (ev_int (json_array_get_element (arr, 0), "seq"), ==, (gint64) b->seq + 1);
  g_assert_cmpint (mm_json_int (r, "last_seq"), ==, (gint64) b->seq + 1);
  b->seq++;
  g_test_message ("woken %.3f s after the chat, %.3f s after the poll was started",
                  (double) (mm_multi_done_at (m, 0) - posted) / G_USEC_PER_SEC,
                  (double) (mm_multi_done_at (m, 0) - t0) / G_USEC_PER_SEC);
  return mm_multi_done_at (m, 0) - t0 < TIMER_FLOOR_US;
}

/* Answered by the event, before the timeout could fire.  A server that
 * only answered at its timeout never passes; on a busy machine a try may
 * not tell (the chat itself came late), so up to five. */
static void
test_wake (void)
{
  g_autofree char *code = room_new ();
  g_auto (Client) a = { 0 };
  g_auto (Client) b = { 0 };
  gboolean woken = FALSE;

  client_join (&a, code, "Alice", NULL);
  client_join (&b, code, "Bob", NULL);
  g_assert_cmpuint (b.seq, ==, 0);
  for (guint attempt = 0; attempt < 5 && !woken; attempt++)
    woken = wake_once (&a, &b, attempt);
  g_assert_true (woken);
}

/* ---- 4. timeout ------------------------------------------------------- */

/* GET @path with @secret up to three times, each answered @status (with
 * no events if 200), until one answers in less than @below seconds; returns
 * the shortest time one took.  (A busy machine may delay one request; a
 * server that waits delays them all.) */
static double
quickest (const char *path, const char *secret, long status, double below)
{
  double best = G_MAXDOUBLE;

  for (guint i = 0; i < 3 && best >= below; i++)
    {
      g_auto (MmResponse) r = { 0 };
      gint64 t0 = g_get_monotonic_time ();

      mm_http (&h, "GET", path, secret, NULL, &r);
      best = MIN (best, seconds_since (t0));
      g_assert_cmpint (r.status, ==, status);
      if (status == 200)
        g_assert_cmpuint (json_array_get_length (events_of (&r)), ==, 0);
      else
        g_assert_cmpstr (mm_error_code (&r), ==, "invalid_input");
    }
  return best;
}

static void
test_timeout (void)
{
  static const char *const bad[] = {
    "since=-1", "since=abc", "since=", "since=1&timeout=3", "since=1&timeout=-1",
    "since=1&timeout=x", "since=99999999999999999999",
  };
  g_autofree char *code = room_new ();
  g_auto (Client) a = { 0 };
  g_auto (MmResponse) r = { 0 };
  g_auto (MmResponse) shorter = { 0 };
  g_auto (MmResponse) now = { 0 };
  gint64 t0;
  double elapsed;

  client_join (&a, code, "Alice", NULL);
  t0 = g_get_monotonic_time ();
  poll_raw (&a, a.j.secret, a.seq, -1, &r);
  elapsed = seconds_since (t0);
  g_test_message ("empty poll answered after %.3f s", elapsed);
  g_assert_cmpint (r.status, ==, 200);
  g_assert_cmpuint (json_array_get_length (events_of (&r)), ==, 0);
  g_assert_cmpint (mm_json_int (&r, "last_seq"), ==, 0);
  g_assert_cmpfloat (elapsed, >=, LONG_POLL_S - 0.5);
  /* (Ended by the timeout, not held for ever: a generous upper bound.) */
  g_assert_cmpfloat (elapsed, <, LONG_POLL_S + 10);

  /* A client may ask for a shorter wait: it waits, but less than the
   * server's own timeout. */
  t0 = g_get_monotonic_time ();
  poll_raw (&a, a.j.secret, a.seq, 1, &shorter);
  elapsed = seconds_since (t0);
  g_assert_cmpint (shorter.status, ==, 200);
  g_assert_cmpuint (json_array_get_length (events_of (&shorter)), ==, 0);
  g_assert_cmpfloat (elapsed, >=, 0.5);
  {
    g_autofree char *path = g_strdup_printf ("%s?since=0&timeout=1", a.j.events);

    g_assert_cmpfloat (quickest (path, a.j.secret, 200, LONG_POLL_S - 0.25), <, LONG_POLL_S - 0.25);
  }

  /* timeout=0 asks without waiting. */
  poll_raw (&a, a.j.secret, a.seq, 0, &now);
  g_assert_cmpint (now.status, ==, 200);
  g_assert_cmpuint (json_array_get_length (events_of (&now)), ==, 0);
  g_assert_cmpint (mm_json_int (&now, "last_seq"), ==, 0);
  {
    g_autofree char *path = g_strdup_printf ("%s?since=0&timeout=0", a.j.events);

    g_assert_cmpfloat (quickest (path, a.j.secret, 200, 0.5), <, 0.5);
  }

  /* But not a longer one, and the cursor must be a number. */
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *path = g_strdup_printf ("%s?%s", a.j.events, bad[i]);

      g_assert_cmpfloat (quickest (path, a.j.secret, 400, 1), <, 1);
    }
}

/* ---- 5. a thousand concurrent long-polls ------------------------------- */

#define N_PARTICIPANTS 50
#define POLLS_EACH 20

static gboolean
raise_fd_limit (void)
{
  struct rlimit rl;

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &rl), ==, 0);
  if (rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &rl), ==, 0);
    }
  return rl.rlim_cur >= N_PARTICIPANTS * POLLS_EACH + 200;
}

static void
test_many_polls (void)
{
  g_autofree char *code = room_new ();
  Client clients[N_PARTICIPANTS] = { 0 };
  g_autoptr (MmMulti) m = NULL;
  const guint n = N_PARTICIPANTS * POLLS_EACH;
  gint64 t0, t_sent, t_chat;
  gint64 id;

  if (!raise_fd_limit ())
    {
      g_test_skip ("RLIMIT_NOFILE is too low for 1000 connections");
      return;
    }
  /* This program's 2 s poll timeout is shorter than the sanitizer build
   * takes to send the thousand polls (2.7 s): the first would be answered
   * by their timeout before the last were sent. */
  mm_harness_restart_with (&h, "long-poll-timeout=2\npresence-timeout=4\n",
                           "long-poll-timeout=30\npresence-timeout=60\n");
  long_poll_s = 30;
  presence_s = 60;
  for (guint i = 0; i < N_PARTICIPANTS; i++)
    {
      g_autofree char *name = g_strdup_printf ("P%02u", i);

      client_join (&clients[i], code, name, NULL);
      /* Everyone before gets a participant-joined. */
      for (guint k = 0; k < i; k++)
        clients[k].seq++;
    }

  /* 1000 connections at once: the server allows 4096 (max-connections). */
  m = mm_multi_new (&h);
  t0 = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    {
      Client *c = &clients[i / POLLS_EACH];
      g_autofree char *path = g_strdup_printf ("%s?since=%" G_GUINT64_FORMAT, c->j.events,
                                               c->seq);

      mm_multi_add (m, "GET", path, c->j.secret, NULL);
    }
  g_assert_true (mm_multi_run (m, 10000, MM_MULTI_ALL_SENT));
  t_sent = g_get_monotonic_time ();
  /* All of them are held: none answered (wrong cursor, error, timeout). */
  g_assert_false (mm_multi_run (m, 100, MM_MULTI_ANY_DONE));
  g_assert_cmpuint (mm_multi_n_done (m), ==, 0);

  t_chat = g_get_monotonic_time ();
  id = chat (&clients[0], "hello, all thousand of you");
  g_assert_true (mm_multi_run (m, 20000, MM_MULTI_ALL_DONE));
  g_test_message ("1000 polls sent in %.3f s; all answered %.3f s after the chat",
                  (double) (t_sent - t0) / G_USEC_PER_SEC, seconds_since (t_chat));

  for (guint i = 0; i < n; i++)
    {
      Client *c = &clients[i / POLLS_EACH];
      MmResponse *r = mm_multi_response (m, i);
      JsonArray *arr;
      JsonNode *ev;

      g_assert_nonnull (r);
      if (r->status != 200)
        g_test_message ("poll %u: %s", i, r->body);
      g_assert_cmpint (r->status, ==, 200);
      arr = events_of (r);
      g_assert_cmpuint (json_array_get_length (arr), ==, 1);
      ev = json_array_get_element (arr, 0);
      g_assert_cmpstr (ev_str (ev, "type"), ==, "chat");
      g_assert_cmpint (ev_int (ev, "seq"), ==, (gint64) c->seq + 1);
      g_assert_cmpint (ev_int (ev, "message.id"), ==, id);
      g_assert_cmpstr (ev_str (ev, "message.text"), ==, "hello, all thousand of you");
      g_assert_cmpint (mm_json_int (r, "last_seq"), ==, (gint64) c->seq + 1);
      /* Woken by the chat, not answered by their timeout (30 s).  How
       * soon is the bench's matter: 0.5 s here, 7 s in the sanitizer
       * build, which unwinds the stack at every allocation. */
      g_assert_cmpint (mm_multi_done_at (m, i) - t_chat, <, (long_poll_s - 10) * G_USEC_PER_SEC);
    }
  for (guint i = 0; i < N_PARTICIPANTS; i++)
    client_clear (&clients[i]);
  mm_harness_restart_with (&h, "long-poll-timeout=30\npresence-timeout=60\n",
                           "long-poll-timeout=2\npresence-timeout=4\n");
  long_poll_s = LONG_POLL_S;
  presence_s = PRESENCE_S;
}

/* ---- 6. queue isolation ---------------------------------------------- */

static void
expect_error (const char *method, const char *path, const char *secret, const char *body,
              long status, const char *error_code)
{
  g_auto (MmResponse) r = { 0 };

  mm_http (&h, method, path, secret, body, &r);
  g_assert_cmpint (r.status, ==, status);
  g_assert_cmpstr (mm_error_code (&r), ==, error_code);
  /* An error says nothing about the queue. */
  g_assert_null (mm_json_at (&r, "events"));
  g_assert_null (mm_json_at (&r, "participant"));
}

static void
test_isolation (void)
{
  g_autofree char *x = room_new ();
  g_autofree char *y = room_new ();
  g_auto (Client) a = { 0 };
  g_auto (Client) b = { 0 };
  g_auto (Client) c = { 0 };
  g_autofree char *a_events = NULL;
  g_autofree char *bogus_uuid = NULL;
  g_autofree char *bogus_text = NULL;
  g_autofree char *c_in_x = NULL;
  g_autofree char *a_in_y = NULL;
  g_autofree char *chat_body = message_body ("chat", "text", "not mine");
  g_autofree char *a_in_y_leave = NULL;
  g_autoptr (JsonNode) ev = NULL;

  client_join (&a, x, "Alice", NULL);
  client_join (&b, x, "Bob", NULL);
  client_join (&c, y, "Carol", NULL);
  a_events = g_strdup_printf ("%s?since=0", a.j.events);

  /* B's secret on A's queue, messages and leave. */
  expect_error ("GET", a_events, b.j.secret, NULL, 403, "forbidden");
  expect_error ("POST", a.j.messages, b.j.secret, chat_body, 403, "forbidden");
  expect_error ("POST", a.j.leave, b.j.secret, NULL, 403, "forbidden");
  expect_error ("GET", a_events, "not-a-secret", NULL, 403, "forbidden");
  /* No secret at all. */
  expect_error ("GET", a_events, NULL, NULL, 401, "unauthorized");
  expect_error ("POST", a.j.messages, NULL, chat_body, 401, "unauthorized");
  expect_error ("POST", a.j.leave, NULL, NULL, 401, "unauthorized");
  /* Participants that do not exist. */
  bogus_uuid = g_strdup_printf ("/api/v1/rooms/%s/participants/%s/events?since=0", x,
                                "00000000-0000-4000-8000-000000000000");
  bogus_text = g_strdup_printf ("/api/v1/rooms/%s/participants/%s/events?since=0", x,
                                "nobody");
  expect_error ("GET", bogus_uuid, a.j.secret, NULL, 404, "participant_not_found");
  expect_error ("GET", bogus_text, a.j.secret, NULL, 404, "participant_not_found");
  /* A participant of room Y on room X's path, and the other way round. */
  c_in_x = g_strdup_printf ("/api/v1/rooms/%s/participants/%s/events?since=0", x, c.j.id);
  a_in_y = g_strdup_printf ("/api/v1/rooms/%s/participants/%s/events?since=0", y, a.j.id);
  a_in_y_leave = g_strdup_printf ("/api/v1/rooms/%s/participants/%s/leave", y, a.j.id);
  expect_error ("GET", c_in_x, c.j.secret, NULL, 404, "participant_not_found");
  expect_error ("GET", a_in_y, a.j.secret, NULL, 404, "participant_not_found");
  expect_error ("POST", a_in_y_leave, a.j.secret, NULL, 404, "participant_not_found");
  expect_error ("GET", a_events, c.j.secret, NULL, 403, "forbidden");

  /* None of that touched A: it is still there, and its queue holds only
   * Bob's arrival and its own message; nothing leaked into room Y. */
  chat (&a, "still here");
  client_expect_joined (&a, &b);
  ev = client_expect (&a, "chat");
  g_assert_cmpstr (ev_str (ev, "message.text"), ==, "still here");
  g_assert_cmpuint (a.seq, ==, 2);
  expect_chat (&b, "still here", 0);
  g_assert_cmpuint (b.seq, ==, 1);
  client_expect_nothing (&c);
  g_assert_cmpuint (c.seq, ==, 0);
}

/* ---- 7. backlog resync ------------------------------------------------ */

static void
test_backlog_resync (void)
{
  g_autofree char *code = room_new ();
  g_auto (Client) a = { 0 };
  g_auto (Client) b = { 0 };
  g_auto (MmResponse) r = { 0 };
  g_auto (MmResponse) edge = { 0 };
  g_auto (MmResponse) over = { 0 };
  g_auto (MmResponse) ahead = { 0 };
  JsonArray *arr, *people;
  JsonNode *ev;
  const guint n = BACKLOG + 4;

  client_join (&a, code, "Alice", NULL);
  client_join (&b, code, "Bob", NULL);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *text = g_strdup_printf ("flood %u", i);
      chat (&a, text);
    }

  /* Bob never polled: his cursor 0 fell out of the backlog. */
  poll_raw (&b, b.j.secret, 0, -1, &r);
  g_assert_cmpint (r.status, ==, 200);
  arr = events_of (&r);
  g_assert_cmpuint (json_array_get_length (arr), ==, 1);
  ev = json_array_get_element (arr, 0);
  g_assert_cmpstr (ev_str (ev, "type"), ==, "resync");
  g_assert_cmpstr (ev_str (ev, "reason"), ==, "backlog_exceeded");
  g_assert_cmpint (ev_int (ev, "seq"), ==, n);
  g_assert_cmpint (mm_json_int (&r, "last_seq"), ==, n);
  people = json_node_get_array (json_object_get_member (json_node_get_object (ev), "participants"));
  g_assert_cmpuint (json_array_get_length (people), ==, 2);
  g_assert_cmpstr (ev_str (json_array_get_element (people, 0), "id"), ==, a.j.id);
  g_assert_cmpstr (ev_str (json_array_get_element (people, 1), "id"), ==, b.j.id);

  /* The backlog holds exactly the last 16: from n - 16 all of them, one
   * further back a resync. */
  poll_raw (&b, b.j.secret, n - BACKLOG, -1, &edge);
  g_assert_cmpint (edge.status, ==, 200);
  arr = events_of (&edge);
  g_assert_cmpuint (json_array_get_length (arr), ==, BACKLOG);
  g_assert_cmpint (ev_int (json_array_get_element (arr, 0), "seq"), ==, n - BACKLOG + 1);
  g_assert_cmpstr (ev_str (json_array_get_element (arr, BACKLOG - 1), "message.text"), ==,
                   "flood 19");
  poll_raw (&b, b.j.secret, n - BACKLOG - 1, -1, &over);
  arr = events_of (&over);
  g_assert_cmpuint (json_array_get_length (arr), ==, 1);
  g_assert_cmpstr (ev_str (json_array_get_element (arr, 0), "type"), ==, "resync");

  /* A cursor ahead of the queue is resynced too. */
  poll_raw (&b, b.j.secret, n + 5, -1, &ahead);
  g_assert_cmpint (ahead.status, ==, 200);
  arr = events_of (&ahead);
  g_assert_cmpuint (json_array_get_length (arr), ==, 1);
  g_assert_cmpstr (ev_str (json_array_get_element (arr, 0), "type"), ==, "resync");
  g_assert_cmpstr (ev_str (json_array_get_element (arr, 0), "reason"), ==, "cursor_ahead");
  g_assert_cmpint (mm_json_int (&ahead, "last_seq"), ==, n);

  /* From last_seq on, business as usual. */
  b.seq = n;
  client_expect_nothing (&b);
  chat (&a, "after the flood");
  expect_chat (&b, "after the flood", 0);
  g_assert_cmpuint (b.seq, ==, n + 1);
}

/* ---- 8. presence ------------------------------------------------------ */

static void
test_presence (void)
{
  g_autofree char *code = room_new ();
  g_auto (Client) a = { 0 };
  g_auto (Client) b = { 0 };
  g_auto (Client) c = { 0 };
  g_auto (MmResponse) joined = { 0 };
  g_auto (MmResponse) gone = { 0 };
  g_autofree char *chat_body = message_body ("chat", "text", "hello?");
  g_autofree char *sql = NULL;
  g_autoptr (JsonNode) left = NULL;
  g_autoptr (JsonNode) c_joined = NULL;
  JsonArray *people;
  gint64 t_b, t_a;
  double after;

  client_join (&a, code, "Alice", NULL);
  t_a = g_get_monotonic_time ();
  client_join (&b, code, "Bob", NULL);
  t_b = g_get_monotonic_time ();

  /* Alice keeps polling; Bob never does. */
  client_expect_joined (&a, &b);
  left = client_next (&a, (PRESENCE_S + 12) * 1000);
  after = seconds_since (t_b);
  g_assert_nonnull (left);
  g_test_message ("silent participant removed %.3f s after joining", after);
  g_assert_cmpstr (ev_str (left, "type"), ==, "participant-left");
  g_assert_cmpstr (ev_str (left, "participant_id"), ==, b.j.id);
  g_assert_cmpstr (ev_str (left, "display_name"), ==, "Bob");
  g_assert_cmpstr (ev_str (left, "reason"), ==, "timeout");
  g_assert_cmpfloat (after, >=, PRESENCE_S - 0.5);
  /* (Removed at all: a generous upper bound for a busy machine.) */
  g_assert_cmpfloat (after, <, PRESENCE_S + 10);

  /* Bob is gone for good. */
  poll_raw (&b, b.j.secret, b.seq, 1, &gone);
  g_assert_cmpint (gone.status, ==, 404);
  g_assert_cmpstr (mm_error_code (&gone), ==, "participant_not_found");
  expect_error ("POST", b.j.messages, b.j.secret, chat_body, 404, "participant_not_found");
  expect_error ("POST", b.j.leave, b.j.secret, NULL, 404, "participant_not_found");
  sql = g_strdup_printf ("SELECT left_reason FROM participations WHERE id = '%s' "
                         "AND left_at IS NOT NULL", b.j.id);
  assert_sql_soon (sql, "timeout");

  /* Alice, who kept a poll waiting all along, is still there well past
   * the presence timeout. */
  while (seconds_since (t_a) < PRESENCE_S + 2)
    client_expect_nothing (&a);
  client_join (&c, code, "Carol", &joined);
  people = json_node_get_array (mm_json_at (&joined, "participants"));
  g_assert_cmpuint (json_array_get_length (people), ==, 2);
  g_assert_cmpstr (ev_str (json_array_get_element (people, 0), "id"), ==, a.j.id);
  g_assert_cmpstr (ev_str (json_array_get_element (people, 1), "id"), ==, c.j.id);
  c_joined = client_expect (&a, "participant-joined");
  g_assert_cmpstr (ev_str (c_joined, "participant.id"), ==, c.j.id);
}

/* ---- 9. leave --------------------------------------------------------- */

static void
expect_left (Client *c, Client *who, const char *reason)
{
  g_autoptr (JsonNode) ev = client_expect (c, "participant-left");

  g_assert_cmpstr (ev_str (ev, "participant_id"), ==, who->j.id);
  g_assert_cmpstr (ev_str (ev, "reason"), ==, reason);
}

static void
leave (Client *c)
{
  g_auto (MmResponse) r = { 0 };

  mm_http (&h, "POST", c->j.leave, c->j.secret, NULL, &r);
  g_assert_cmpint (r.status, ==, 204);
  g_assert_cmpstr (r.body, ==, "");
}

static void
test_leave (void)
{
  g_autofree char *code = room_new ();
  g_auto (Client) a = { 0 };
  g_auto (Client) b = { 0 };
  g_auto (Client) c = { 0 };
  g_auto (Client) d = { 0 };
  g_autoptr (MmMulti) m = mm_multi_new (&h);
  g_autoptr (JsonNode) b_left = NULL;
  g_autofree char *path = NULL;
  g_autofree char *b_sql = NULL;
  g_autofree char *open_sql = NULL;
  g_autofree char *meeting_sql = NULL;
  g_autofree char *meeting = NULL;
  g_autofree char *ended_sql = NULL;
  g_autofree char *count_sql = NULL;
  MmResponse *waiting;

  client_join (&a, code, "Alice", NULL);
  client_join (&b, code, "Bob", NULL);
  client_join (&c, code, "Carol", NULL);
  client_expect_joined (&b, &c);
  meeting_sql = g_strdup_printf ("SELECT m.id FROM meetings m JOIN rooms r ON r.id = m.room_id "
                                 "WHERE r.code = '%s' AND m.ended_at IS NULL", code);
  meeting = mm_harness_sql (&h, meeting_sql);
  g_assert_nonnull (meeting);

  /* Bob has a poll waiting when he leaves. */
  path = g_strdup_printf ("%s?since=%" G_GUINT64_FORMAT, b.j.events, b.seq);
  mm_multi_add (m, "GET", path, b.j.secret, NULL);
  g_assert_true (mm_multi_run (m, 5000, MM_MULTI_ALL_SENT));
  g_assert_false (mm_multi_run (m, 300, MM_MULTI_ANY_DONE));
  leave (&b);
  g_assert_true (mm_multi_run (m, 5000, MM_MULTI_ALL_DONE));
  waiting = mm_multi_response (m, 0);
  g_assert_cmpint (waiting->status, ==, 404);
  g_assert_cmpstr (mm_error_code (waiting), ==, "participant_not_found");

  /* The others hear it. */
  client_expect_joined (&a, &b);
  client_expect_joined (&a, &c);
  b_left = client_expect (&a, "participant-left");
  g_assert_cmpstr (ev_str (b_left, "participant_id"), ==, b.j.id);
  g_assert_cmpstr (ev_str (b_left, "display_name"), ==, "Bob");
  g_assert_cmpstr (ev_str (b_left, "reason"), ==, "left");
  expect_left (&c, &b, "left");

  /* Bob's secret is worth nothing now. */
  expect_error ("POST", b.j.leave, b.j.secret, NULL, 404, "participant_not_found");
  expect_error ("GET", path, b.j.secret, NULL, 404, "participant_not_found");

  /* The store: Bob's participation is closed, the meeting goes on. */
  b_sql = g_strdup_printf ("SELECT left_reason FROM participations WHERE id = '%s' "
                           "AND left_at IS NOT NULL AND left_at >= joined_at", b.j.id);
  assert_sql_soon (b_sql, "left");
  ended_sql = g_strdup_printf ("SELECT ended_at IS NOT NULL FROM meetings WHERE id = %s", meeting);
  assert_sql_soon (ended_sql, "f");
  open_sql = g_strdup_printf ("SELECT count(*) FROM participations WHERE meeting_id = %s "
                              "AND left_at IS NULL", meeting);
  assert_sql_soon (open_sql, "2");

  /* The last one out ends the meeting. */
  leave (&a);
  expect_left (&c, &a, "left");
  leave (&c);
  assert_sql_soon (open_sql, "0");
  assert_sql_soon (ended_sql, "t");

  /* The next join starts a new meeting. */
  client_join (&d, code, "Dan", NULL);
  count_sql = g_strdup_printf ("SELECT count(*) FROM meetings m JOIN rooms r ON r.id = m.room_id "
                               "WHERE r.code = '%s'", code);
  assert_sql_soon (count_sql, "2");
  leave (&d);
}

/* ---- 10. state -------------------------------------------------------- */

static void
post_state (Client *c, const char *body, gboolean hand, gboolean audio, gboolean video)
{
  g_auto (MmResponse) r = { 0 };

  mm_http (&h, "POST", c->j.messages, c->j.secret, body, &r);
  g_assert_cmpint (r.status, ==, 200);
  g_assert_cmpstr (mm_json_str (&r, "participant.id"), ==, c->j.id);
  g_assert_cmpint (ev_bool (r.json, "participant.hand_raised"), ==, hand);
  g_assert_cmpint (ev_bool (r.json, "participant.audio_muted"), ==, audio);
  g_assert_cmpint (ev_bool (r.json, "participant.video_muted"), ==, video);
}

static void
expect_state (Client *c, Client *who, gboolean hand, gboolean audio, gboolean video)
{
  g_autoptr (JsonNode) ev = client_expect (c, "participant-state");

  g_assert_cmpstr (ev_str (ev, "participant.id"), ==, who->j.id);
  g_assert_cmpint (ev_bool (ev, "participant.hand_raised"), ==, hand);
  g_assert_cmpint (ev_bool (ev, "participant.audio_muted"), ==, audio);
  g_assert_cmpint (ev_bool (ev, "participant.video_muted"), ==, video);
}

static void
test_state (void)
{
  static const struct {
    const char *body;
    const char *error_code;
  } bad[] = {
    { "{\"type\":\"state\",\"hand_raised\":\"yes\"}", "invalid_input" },
    { "{\"type\":\"state\",\"audio_muted\":1}", "invalid_input" },
    { "{\"type\":\"state\",\"video_muted\":[true]}", "invalid_input" },
    { "{\"type\":\"state\",\"video_muted\":{}}", "invalid_input" },
    /* null is not a boolean either (nor "no change" that still changes). */
    { "{\"type\":\"state\",\"audio_muted\":null}", "invalid_input" },
    /* One bad field spoils the message: nothing of it is applied. */
    { "{\"type\":\"state\",\"hand_raised\":true,\"audio_muted\":\"no\"}", "invalid_input" },
    { "{\"type\":\"state\"}", "invalid_input" },
    { "{\"type\":\"state\",\"other\":true}", "invalid_input" },
    { "{\"type\":\"wave\"}", "invalid_input" },
    { "{\"type\":\"\"}", "invalid_input" },
    { "{\"type\":42}", "invalid_input" },
    { "{\"hand_raised\":true}", "invalid_input" },
    { "{}", "invalid_input" },
    { "[\"state\"]", NULL },
    { "not json", "malformed_json" },
  };
  g_autofree char *code = room_new ();
  g_auto (Client) a = { 0 };
  g_auto (Client) b = { 0 };
  g_auto (Client) c = { 0 };
  g_auto (MmResponse) joined = { 0 };
  JsonNode *alice;

  client_join (&a, code, "Alice", NULL);
  client_join (&b, code, "Bob", NULL);
  client_expect_joined (&a, &b);

  post_state (&a, "{\"type\":\"state\",\"hand_raised\":true}", TRUE, FALSE, FALSE);
  expect_state (&a, &a, TRUE, FALSE, FALSE);
  expect_state (&b, &a, TRUE, FALSE, FALSE);

  post_state (&b, "{\"type\":\"state\",\"audio_muted\":true,\"video_muted\":true}",
              FALSE, TRUE, TRUE);
  expect_state (&a, &b, FALSE, TRUE, TRUE);
  expect_state (&b, &b, FALSE, TRUE, TRUE);

  /* Fields left out keep their value. */
  post_state (&a, "{\"type\":\"state\",\"hand_raised\":false,\"audio_muted\":true}",
              FALSE, TRUE, FALSE);
  expect_state (&a, &a, FALSE, TRUE, FALSE);
  expect_state (&b, &a, FALSE, TRUE, FALSE);

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_auto (MmResponse) r = { 0 };

      mm_http (&h, "POST", a.j.messages, a.j.secret, bad[i].body, &r);
      if (r.status != 400)
        g_test_message ("%s: %s", bad[i].body, r.body);
      g_assert_cmpint (r.status, ==, 400);
      g_assert_nonnull (mm_error_code (&r));
      if (bad[i].error_code != NULL)
        g_assert_cmpstr (mm_error_code (&r), ==, bad[i].error_code);
    }
  /* The rejected messages changed nothing and told nobody. */
  client_expect_nothing (&a);
  client_expect_nothing (&b);
  client_join (&c, code, "Carol", &joined);
  alice = json_array_get_element (json_node_get_array (mm_json_at (&joined, "participants")), 0);
  g_assert_cmpstr (ev_str (alice, "id"), ==, a.j.id);
  g_assert_false (ev_bool (alice, "hand_raised"));
  g_assert_true (ev_bool (alice, "audio_muted"));
  g_assert_false (ev_bool (alice, "video_muted"));
}

/* ---- 11. chat --------------------------------------------------------- */

static void
check_history (MmResponse *joined, const char *const *texts, guint n)
{
  JsonArray *history = json_node_get_array (mm_json_at (joined, "chat"));

  g_assert_cmpuint (json_array_get_length (history), ==, n);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *msg = json_array_get_element (history, i);

      g_assert_cmpstr (ev_str (msg, "text"), ==, texts[i]);
      g_assert_nonnull (ev_str (msg, "sent_at"));
      if (i > 0)
        g_assert_cmpint (ev_int (msg, "id"), >, ev_int (json_array_get_element (history, i - 1), "id"));
    }
}

static void
test_chat (void)
{
  static const char inject[] =
    "Robert'); DROP TABLE chat_messages; -- \" \\ $1 %s 😀 <b>x</b>\nline two";
  g_autofree char *code = room_new ();
  g_auto (Client) a = { 0 };
  g_auto (Client) b = { 0 };
  g_auto (Client) c = { 0 };
  g_auto (Client) d = { 0 };
  g_auto (Client) e = { 0 };
  g_auto (MmResponse) d_joined = { 0 };
  g_auto (MmResponse) e_joined = { 0 };
  g_autofree char *sql = NULL;
  g_autofree char *stored = NULL;
  g_autofree char *too_long = NULL;
  g_autofree char *too_long_body = NULL;
  g_autofree char *longest = g_strnfill (2000, 'x');
  g_autoptr (JsonNode) ev = NULL;
  const char *first3[] = { inject, "second", "third" };
  const char *last50[50];
  char *owned[52];
  gint64 id;

  client_join (&a, code, "Alice", NULL);
  client_join (&b, code, "Bob", NULL);
  client_join (&c, code, "Carol", NULL);
  client_expect_joined (&a, &b);
  client_expect_joined (&a, &c);
  client_expect_joined (&b, &c);

  /* Delivered to everyone, the sender included, byte for byte. */
  id = chat (&a, inject);
  ev = client_expect (&a, "chat");
  g_assert_cmpstr (ev_str (ev, "message.text"), ==, inject);
  g_assert_cmpint (ev_int (ev, "message.id"), ==, id);
  g_assert_cmpstr (ev_str (ev, "message.participant_id"), ==, a.j.id);
  g_assert_cmpstr (ev_str (ev, "message.display_name"), ==, "Alice");
  g_assert_nonnull (ev_str (ev, "message.sent_at"));
  expect_chat (&b, inject, id);
  expect_chat (&c, inject, id);

  /* Stored literally; the table is still there. */
  sql = g_strdup_printf ("SELECT body FROM chat_messages WHERE id = %" G_GINT64_FORMAT, id);
  stored = mm_harness_sql (&h, sql);
  g_assert_cmpstr (stored, ==, inject);
  g_clear_pointer (&sql, g_free);
  sql = g_strdup_printf ("SELECT participation_id FROM chat_messages WHERE id = %" G_GINT64_FORMAT,
                         id);
  g_clear_pointer (&stored, g_free);
  stored = mm_harness_sql (&h, sql);
  g_assert_cmpstr (stored, ==, a.j.id);

  /* Limits. */
  too_long = g_strnfill (2001, 'x');
  too_long_body = message_body ("chat", "text", too_long);
  expect_error ("POST", a.j.messages, a.j.secret, too_long_body, 400, "invalid_input");
  expect_error ("POST", a.j.messages, a.j.secret, "{\"type\":\"chat\",\"text\":\"\"}", 400,
                "invalid_input");
  expect_error ("POST", a.j.messages, a.j.secret, "{\"type\":\"chat\"}", 400, "invalid_input");
  expect_error ("POST", a.j.messages, a.j.secret, "{\"type\":\"chat\",\"text\":7}", 400,
                "invalid_input");
  /* The sender would have got its own message back. */
  client_expect_nothing (&a);

  chat (&b, "second");
  chat (&c, "third");
  /* A later joiner gets the history, oldest first. */
  client_join (&d, code, "Dan", &d_joined);
  check_history (&d_joined, first3, 3);

  /* At most the 50 most recent. */
  chat (&a, longest);
  for (guint i = 0; i < 51; i++)
    {
      owned[i] = g_strdup_printf ("n %02u", i);
      chat (&a, owned[i]);
    }
  client_join (&e, code, "Erin", &e_joined);
  /* 55 messages: inject, second, third, longest, n 00 .. n 50 → the last
   * 50 start at n 01. */
  for (guint i = 0; i < 50; i++)
    last50[i] = owned[i + 1];
  check_history (&e_joined, last50, 50);
  for (guint i = 0; i < 51; i++)
    g_free (owned[i]);
}

/* ---- host controls: lobby, lock, remove ------------------------------- */

static void
host_join (Client *c, const char *code)
{
  g_autofree char *path = g_strdup_printf ("/api/v1/rooms/%s/join", code);
  g_auto (MmResponse) r = { 0 };

  mm_http (&h, "POST", path, host_token, NULL, &r);
  g_assert_cmpint (r.status, ==, 201);
  g_assert_cmpstr (mm_json_str (&r, "participant.role"), ==, "host");
  g_assert_true (json_node_get_boolean (mm_json_at (&r, "admitted")));
  c->j.id = g_strdup (mm_json_str (&r, "participant.id"));
  c->j.secret = g_strdup (mm_json_str (&r, "secret"));
  c->j.events = g_strdup (mm_json_str (&r, "signalling.events"));
  c->j.messages = g_strdup (mm_json_str (&r, "signalling.messages"));
  c->j.leave = g_strdup (mm_json_str (&r, "signalling.leave"));
  c->seq = (guint64) mm_json_int (&r, "last_seq");
  g_queue_init (&c->pending);
}

/* POST a message of @type about @target; returns the status. */
static long
host_control (Client *c, const char *type, const char *target, const char *want_code)
{
  g_autofree char *body = message_body (type, "participant_id", target);
  g_auto (MmResponse) r = { 0 };

  mm_http (&h, "POST", c->j.messages, c->j.secret, body, &r);
  if (want_code != NULL)
    g_assert_cmpstr (mm_error_code (&r), ==, want_code);
  return r.status;
}

static long
lock (Client *c, gboolean locked)
{
  g_auto (MmResponse) r = { 0 };

  mm_http (&h, "POST", c->j.messages, c->j.secret,
           locked ? "{\"type\":\"lock\",\"locked\":true}" : "{\"type\":\"lock\",\"locked\":false}",
           &r);
  return r.status;
}

/* What a participant receives: its quality in the join body and by
 * message, a host's cap on a lecture's viewers; bad values refused with
 * the reason, and nothing changed by them. */
static void
test_quality (void)
{
  static const char *const bad[] = {
    "{\"type\":\"quality\",\"quality\":\"ultra\"}",
    "{\"type\":\"quality\",\"quality\":\"\"}",
    "{\"type\":\"quality\",\"quality\":7}",
    "{\"type\":\"quality\",\"quality\":null}",
    "{\"type\":\"quality\"}",
    "{\"type\":\"quality-cap\",\"tier\":\"medium\"}",   /* not the host */
  };
  g_autofree char *code = room_new ();
  g_autofree char *path = g_strdup_printf ("/api/v1/rooms/%s/join", code);
  g_auto (Client) host = { 0 };
  g_auto (Client) a = { 0 };
  g_auto (MmResponse) joined = { 0 };

  host_join (&host, code);
  client_join (&a, code, "Alice", &joined);
  g_assert_cmpstr (mm_json_str (&joined, "participant.quality"), ==, "auto");
  g_assert_cmpstr (mm_json_str (&joined, "room.viewer_cap"), ==, "high");

  /* A join may say it at once. */
  {
    g_auto (MmResponse) r = { 0 };

    mm_http (&h, "POST", path, NULL, "{\"display_name\":\"Dee\",\"quality\":\"data-saver\"}", &r);
    g_assert_cmpint (r.status, ==, 201);
    g_assert_cmpstr (mm_json_str (&r, "participant.quality"), ==, "data-saver");
    json_node_unref (client_expect (&a, "participant-joined"));
  }
  {
    g_auto (MmResponse) r = { 0 };

    mm_http (&h, "POST", path, NULL, "{\"display_name\":\"Eve\",\"quality\":\"8k\"}", &r);
    g_assert_cmpint (r.status, ==, 400);
    g_assert_cmpstr (mm_error_code (&r), ==, "invalid_input");
    g_assert_nonnull (strstr (r.body, "data-saver"));
  }

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_auto (MmResponse) r = { 0 };

      mm_http (&h, "POST", a.j.messages, a.j.secret, bad[i], &r);
      if (r.status / 100 != 4)
        g_test_message ("%s: %s", bad[i], r.body);
      g_assert_cmpint (r.status, ==, i + 1 < G_N_ELEMENTS (bad) ? 400 : 403);
      g_assert_nonnull (mm_error_code (&r));
    }
  {
    g_auto (MmResponse) r = { 0 };

    mm_http (&h, "POST", a.j.messages, a.j.secret,
             "{\"type\":\"quality\",\"quality\":\"audio-only\"}", &r);
    g_assert_cmpint (r.status, ==, 200);
    g_assert_cmpstr (mm_json_str (&r, "participant.quality"), ==, "audio-only");
  }
  {
    g_auto (MmResponse) r = { 0 };

    mm_http (&h, "POST", host.j.messages, host.j.secret,
             "{\"type\":\"quality-cap\",\"tier\":\"best\"}", &r);
    g_assert_cmpint (r.status, ==, 400);
    g_assert_cmpstr (mm_error_code (&r), ==, "invalid_input");
  }
  {
    g_auto (MmResponse) r = { 0 };
    g_autoptr (JsonNode) ev = NULL;

    mm_http (&h, "POST", host.j.messages, host.j.secret,
             "{\"type\":\"quality-cap\",\"tier\":\"low\"}", &r);
    g_assert_cmpint (r.status, ==, 200);
    ev = client_expect (&a, "room");
    g_assert_cmpstr (ev_str (ev, "viewer_cap"), ==, "low");
  }
}

/* A room with a lobby: guests wait, the host sees them knock and admits
 * or turns them away; someone waiting sees nothing of the meeting and
 * may not post. */
static void
test_lobby (void)
{
  g_autofree char *code = mm_test_room (&h, host_token, "{\"title\":\"Lobby\",\"lobby\":true}");
  g_autofree char *room_path = g_strdup_printf ("/api/v1/rooms/%s", code);
  g_auto (Client) host = { 0 };
  g_auto (Client) ann = { 0 };
  g_auto (Client) bob = { 0 };
  g_auto (MmResponse) r = { 0 };
  g_auto (MmResponse) jr = { 0 };
  g_autoptr (JsonNode) ev = NULL;
  g_autofree char *sql = NULL;
  JsonArray *arr;

  mm_http (&h, "GET", room_path, NULL, NULL, &r);
  g_assert_cmpint (r.status, ==, 200);
  g_assert_true (json_node_get_boolean (mm_json_at (&r, "room.lobby")));
  host_join (&host, code);
  chat (&host, "before anyone came");
  expect_chat (&host, "before anyone came", 0);

  client_join (&ann, code, "Ann", &jr);
  g_assert_false (json_node_get_boolean (mm_json_at (&jr, "admitted")));
  g_assert_cmpuint (json_array_get_length (json_node_get_array (mm_json_at (&jr, "participants"))), ==, 0);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (mm_json_at (&jr, "chat"))), ==, 0);
  ev = client_expect (&host, "knock");
  g_assert_cmpstr (ev_str (ev, "participant_id"), ==, ann.j.id);
  g_assert_cmpstr (ev_str (ev, "display_name"), ==, "Ann");
  g_clear_pointer (&ev, json_node_unref);
  ev = client_expect (&host, "lobby");
  g_assert_cmpstr (ev_str (ev, "waiting.0.participant_id"), ==, ann.j.id);
  g_clear_pointer (&ev, json_node_unref);

  /* Waiting: no chat, no media, no host controls; the meeting's events
   * do not reach the lobby. */
  {
    g_autofree char *body = message_body ("chat", "text", "let me in");
    g_auto (MmResponse) cr = { 0 };

    mm_http (&h, "POST", ann.j.messages, ann.j.secret, body, &cr);
    g_assert_cmpint (cr.status, ==, 403);
    g_assert_cmpstr (mm_error_code (&cr), ==, "in_lobby");
  }
  chat (&host, "while Ann waits");
  expect_chat (&host, "while Ann waits", 0);
  client_expect_nothing (&ann);
  g_assert_cmpint (host_control (&ann, "admit", ann.j.id, "in_lobby"), ==, 403);

  /* Admitted: Ann hears of it with the members and the chat so far; the
   * room hears of Ann; the lobby empties. */
  g_assert_cmpint (host_control (&host, "admit", ann.j.id, NULL), ==, 200);
  ev = client_expect (&ann, "admitted");
  g_assert_cmpstr (ev_str (ev, "participant.id"), ==, ann.j.id);
  arr = json_node_get_array (mm_json_at (&(MmResponse) { .json = ev }, "participants"));
  g_assert_cmpuint (json_array_get_length (arr), ==, 2);
  arr = json_node_get_array (mm_json_at (&(MmResponse) { .json = ev }, "chat"));
  g_assert_cmpuint (json_array_get_length (arr), ==, 2);
  g_clear_pointer (&ev, json_node_unref);
  client_expect_joined (&host, &ann);
  ev = client_expect (&host, "lobby");
  g_assert_cmpuint (json_array_get_length (json_node_get_array (mm_json_at (&(MmResponse) { .json = ev }, "waiting"))), ==, 0);
  g_clear_pointer (&ev, json_node_unref);
  chat (&ann, "thanks");
  expect_chat (&host, "thanks", 0);
  expect_chat (&ann, "thanks", 0);
  /* Twice is not found: nobody of that id waits any more. */
  g_assert_cmpint (host_control (&host, "admit", ann.j.id, "participant_not_found"), ==, 404);
  /* Only the host admits. */
  client_join (&bob, code, "Bob", NULL);
  g_assert_cmpint (host_control (&ann, "admit", bob.j.id, "forbidden"), ==, 403);

  /* Turned away: Bob is told, then gone; the meeting never heard of him. */
  g_clear_pointer (&ev, json_node_unref);
  ev = client_expect (&host, "knock");
  g_clear_pointer (&ev, json_node_unref);
  ev = client_expect (&host, "lobby");
  g_clear_pointer (&ev, json_node_unref);
  g_assert_cmpint (host_control (&host, "deny", bob.j.id, NULL), ==, 200);
  ev = client_expect (&bob, "denied");
  g_clear_pointer (&ev, json_node_unref);
  {
    g_auto (MmResponse) pr = { 0 };

    poll_raw (&bob, bob.j.secret, bob.seq, 0, &pr);
    g_assert_cmpint (pr.status, ==, 404);
  }
  ev = client_expect (&host, "lobby");
  g_clear_pointer (&ev, json_node_unref);
  client_expect_nothing (&ann);
  sql = g_strdup_printf ("SELECT left_reason FROM participations WHERE id = '%s'", bob.j.id);
  assert_sql_soon (sql, "denied");
}

/* A locked meeting: only the host gets in; everyone is told. */
static void
test_lock (void)
{
  g_autofree char *code = room_new ();
  g_autofree char *path = g_strdup_printf ("/api/v1/rooms/%s/join", code);
  g_autofree char *room_path = g_strdup_printf ("/api/v1/rooms/%s", code);
  g_auto (Client) host = { 0 };
  g_auto (Client) ann = { 0 };
  g_auto (Client) host2 = { 0 };
  g_auto (Client) carl = { 0 };
  g_autoptr (JsonNode) ev = NULL;

  host_join (&host, code);
  client_join (&ann, code, "Ann", NULL);
  client_expect_joined (&host, &ann);
  g_assert_cmpint (lock (&ann, TRUE), ==, 403);
  g_assert_cmpint (lock (&host, TRUE), ==, 200);
  for (int i = 0; i < 2; i++)
    {
      ev = client_expect (i == 0 ? &host : &ann, "room");
      g_assert_true (ev_bool (ev, "locked"));
      g_clear_pointer (&ev, json_node_unref);
    }
  {
    g_auto (MmResponse) r = { 0 };
    g_auto (MmResponse) g = { 0 };

    mm_http (&h, "POST", path, NULL, "{\"display_name\":\"Late\"}", &r);
    g_assert_cmpint (r.status, ==, 403);
    g_assert_cmpstr (mm_error_code (&r), ==, "room_locked");
    mm_http (&h, "GET", room_path, NULL, NULL, &g);
    g_assert_true (json_node_get_boolean (mm_json_at (&g, "room.locked")));
  }
  /* The host still gets in (another tab, say). */
  host_join (&host2, code);
  client_expect_joined (&ann, &host2);
  {
    g_auto (MmResponse) bad = { 0 };

    mm_http (&h, "POST", host.j.messages, host.j.secret, "{\"type\":\"lock\"}", &bad);
    g_assert_cmpint (bad.status, ==, 400);
    mm_response_clear (&bad);
    mm_http (&h, "POST", host.j.messages, host.j.secret, "{\"type\":\"lock\",\"locked\":\"yes\"}",
             &bad);
    g_assert_cmpint (bad.status, ==, 400);
  }
  g_assert_cmpint (lock (&host, FALSE), ==, 200);
  ev = client_expect (&ann, "room");
  g_assert_false (ev_bool (ev, "locked"));
  client_join (&carl, code, "Carl", NULL);
}

/* Removal: the removed one is told and gone, the others see it as a leave
 * with reason "removed"; only the host removes, and not themselves. */
static void
test_remove (void)
{
  g_autofree char *code = room_new ();
  g_auto (Client) host = { 0 };
  g_auto (Client) ann = { 0 };
  g_auto (Client) bob = { 0 };
  g_autoptr (JsonNode) ev = NULL;
  g_autofree char *sql = NULL;

  host_join (&host, code);
  client_join (&ann, code, "Ann", NULL);
  client_join (&bob, code, "Bob", NULL);
  client_expect_joined (&host, &ann);
  client_expect_joined (&host, &bob);
  client_expect_joined (&ann, &bob);
  g_assert_cmpint (host_control (&bob, "remove", ann.j.id, "forbidden"), ==, 403);
  g_assert_cmpint (host_control (&host, "remove", host.j.id, "invalid_input"), ==, 400);
  g_assert_cmpint (host_control (&host, "remove", "no-such-id", "participant_not_found"), ==, 404);
  g_assert_cmpint (host_control (&host, "remove", ann.j.id, NULL), ==, 200);
  /* Gone: a second removal (or a mute) finds nobody, even before Ann has
   * read her last event. */
  g_assert_cmpint (host_control (&host, "remove", ann.j.id, "participant_not_found"), ==, 404);
  g_assert_cmpint (host_control (&host, "mute", ann.j.id, "participant_not_found"), ==, 404);
  ev = client_expect (&ann, "removed");
  g_clear_pointer (&ev, json_node_unref);
  for (int i = 0; i < 2; i++)
    {
      ev = client_expect (i == 0 ? &host : &bob, "participant-left");
      g_assert_cmpstr (ev_str (ev, "participant_id"), ==, ann.j.id);
      g_assert_cmpstr (ev_str (ev, "reason"), ==, "removed");
      g_clear_pointer (&ev, json_node_unref);
    }
  {
    g_auto (MmResponse) pr = { 0 };

    poll_raw (&ann, ann.j.secret, ann.seq, 0, &pr);
    g_assert_cmpint (pr.status, ==, 404);
  }
  sql = g_strdup_printf ("SELECT left_reason FROM participations WHERE id = '%s'", ann.j.id);
  assert_sql_soon (sql, "removed");
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  mm_harness_start (&h, "[signalling]\nlong-poll-timeout=2\npresence-timeout=4\n"
                        "event-backlog=16\n");
  host_token = mm_test_register (&h, "Host", NULL);
  g_test_add_func ("/signal/ordering", test_ordering);
  g_test_add_func ("/signal/cursor-resume", test_cursor_resume);
  g_test_add_func ("/signal/wake", test_wake);
  g_test_add_func ("/signal/timeout", test_timeout);
  g_test_add_func ("/signal/1000-long-polls", test_many_polls);
  g_test_add_func ("/signal/isolation", test_isolation);
  g_test_add_func ("/signal/backlog-resync", test_backlog_resync);
  g_test_add_func ("/signal/presence", test_presence);
  g_test_add_func ("/signal/leave", test_leave);
  g_test_add_func ("/signal/state", test_state);
  g_test_add_func ("/signal/quality", test_quality);
  g_test_add_func ("/signal/chat", test_chat);
  g_test_add_func ("/signal/lobby", test_lobby);
  g_test_add_func ("/signal/lock", test_lock);
  g_test_add_func ("/signal/remove", test_remove);
  rc = g_test_run ();
  g_free (host_token);
  mm_harness_stop (&h);
  return rc;
}
