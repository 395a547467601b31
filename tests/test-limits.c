/* test-limits.c — abuse and capacity limits ([limits], [server]
 * max-connections-per-address): registrations, rooms, joins and chat
 * messages beyond their rate get 429 with Retry-After, for that address,
 * account or participant only; a full room gets 403 room_full, a full
 * server 503 server_full, and a place comes back when someone leaves; a
 * client that holds many idle connections cannot lock others out.
 *
 * The server trusts 127.0.0.1 as a proxy, so each test speaks for a
 * client address of its own through X-Forwarded-For; the connection
 * test connects from 127.0.0.2, which is not trusted. */
#include "config.h"

#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REGISTRATIONS 3
#define ROOMS 3
#define JOINS 6
#define CHATS 4
#define MEETINGS 3
#define ROOM_PEOPLE 3
#define VIEWERS 4
#define PER_ADDRESS 8

static MmHarness h;

/* A client address of its own for each request that is not about its
 * address's limit (X-Forwarded-For; 127.0.0.1 is a trusted proxy). */
static const char *
fresh_address (void)
{
  static char text[32];
  static guint n;

  n++;
  g_snprintf (text, sizeof text, "10.%u.%u.%u", (n >> 16) & 255, (n >> 8) & 255, n & 255);
  return text;
}

/* A new account, from an address of its own. */
static char *
new_user (const char *name)
{
  const char *saved = h.forwarded_for;
  char *token;

  h.forwarded_for = fresh_address ();
  token = mm_test_register (&h, name, NULL);
  h.forwarded_for = saved;
  return token;
}

static void
assert_error (MmResponse *r, long status, const char *code)
{
  g_assert_cmpint (r->status, ==, status);
  g_assert_cmpstr (mm_error_code (r), ==, code);
  g_assert_nonnull (mm_json_str (r, "error.message"));
}

/* 429 with a Retry-After of 1 s to the limit's window. */
static void
assert_limited (MmResponse *r, gint64 window_s)
{
  assert_error (r, 429, "too_many_requests");
  g_assert_nonnull (r->retry_after);
  g_assert_cmpint (g_ascii_strtoll (r->retry_after, NULL, 10), >=, 1);
  g_assert_cmpint (g_ascii_strtoll (r->retry_after, NULL, 10), <=, window_s);
}

static void
register_as (const char *email, MmResponse *r)
{
  g_autofree char *body = g_strdup_printf ("{\"name\":\"N\",\"email\":\"%s\","
                                           "\"password\":\"correct horse battery\"}", email);

  mm_http (&h, "POST", "/api/v1/auth/register", NULL, body, r);
}

static void
test_registrations (void)
{
  g_auto (MmResponse) r = { 0 };

  h.forwarded_for = "198.51.100.1";
  for (guint i = 0; i < REGISTRATIONS; i++)
    {
      g_auto (MmResponse) ok = { 0 };
      g_autofree char *email = g_strdup_printf ("reg%u@example.com", i);

      register_as (email, &ok);
      g_assert_cmpint (ok.status, ==, 201);
    }
  register_as ("reg-over@example.com", &r);
  assert_limited (&r, 3600);
  mm_response_clear (&r);
  /* Another address is not held back. */
  h.forwarded_for = "198.51.100.2";
  register_as ("reg-other@example.com", &r);
  g_assert_cmpint (r.status, ==, 201);
  h.forwarded_for = NULL;
}

static void
test_rooms (void)
{
  g_autofree char *ada = new_user ("Ada");
  g_autofree char *bob = new_user ("Bob");
  g_auto (MmResponse) r = { 0 };

  for (guint i = 0; i < ROOMS; i++)
    g_free (mm_test_room (&h, ada, NULL));
  mm_http (&h, "POST", "/api/v1/rooms", ada, "{\"title\":\"one too many\"}", &r);
  assert_limited (&r, 3600);
  mm_response_clear (&r);
  mm_http (&h, "POST", "/api/v1/rooms", bob, "{\"title\":\"Bob's\"}", &r);
  g_assert_cmpint (r.status, ==, 201);
}

static void
join_as (const char *code, const char *name, MmResponse *r)
{
  g_autofree char *path = g_strdup_printf ("/api/v1/rooms/%s/join", code);
  g_autofree char *body = g_strdup_printf ("{\"display_name\":\"%s\"}", name);
  const char *saved = h.forwarded_for;

  if (saved == NULL)
    h.forwarded_for = fresh_address ();
  mm_http (&h, "POST", path, NULL, body, r);
  h.forwarded_for = saved;
}

static void
leave (MmResponse *joined)
{
  g_auto (MmResponse) r = { 0 };

  mm_http (&h, "POST", mm_json_str (joined, "signalling.leave"), mm_json_str (joined, "secret"),
           NULL, &r);
  g_assert_cmpint (r.status / 100, ==, 2);
}

static void
test_joins (void)
{
  g_autofree char *token = new_user ("Host");
  g_autofree char *code = mm_test_room (&h, token, NULL);
  MmResponse joined[JOINS] = { 0 };
  g_auto (MmResponse) r = { 0 };

  h.forwarded_for = "198.51.100.3";
  for (guint i = 0; i < JOINS; i++)
    {
      join_as (code, "Guest", &joined[i]);
      g_assert_cmpint (joined[i].status, ==, 201);
      /* Each leaves at once: the room is never full. */
      leave (&joined[i]);
      mm_response_clear (&joined[i]);
    }
  join_as (code, "Guest", &r);
  assert_limited (&r, 60);
  mm_response_clear (&r);
  h.forwarded_for = "198.51.100.4";
  join_as (code, "Other", &r);
  g_assert_cmpint (r.status, ==, 201);
  leave (&r);
  h.forwarded_for = NULL;
}

static void
chat (MmResponse *joined, MmResponse *r)
{
  mm_http (&h, "POST", mm_json_str (joined, "signalling.messages"),
           mm_json_str (joined, "secret"), "{\"type\":\"chat\",\"text\":\"hello\"}", r);
}

static void
test_chat (void)
{
  g_autofree char *token = new_user ("Host");
  g_autofree char *code = mm_test_room (&h, token, NULL);
  g_auto (MmResponse) a = { 0 };
  g_auto (MmResponse) b = { 0 };
  g_auto (MmResponse) r = { 0 };

  join_as (code, "Chatty", &a);
  join_as (code, "Quiet", &b);
  g_assert_cmpint (a.status, ==, 201);
  g_assert_cmpint (b.status, ==, 201);
  for (guint i = 0; i < CHATS; i++)
    {
      g_auto (MmResponse) ok = { 0 };

      chat (&a, &ok);
      g_assert_cmpint (ok.status / 100, ==, 2);
    }
  chat (&a, &r);
  assert_limited (&r, 60);
  mm_response_clear (&r);
  chat (&b, &r);
  g_assert_cmpint (r.status / 100, ==, 2);
  leave (&a);
  leave (&b);
}

/* room-participants: the fourth person gets 403 room_full, and gets in
 * once someone has left. */
static void
test_room_full (void)
{
  g_autofree char *token = new_user ("Host");
  g_autofree char *code = mm_test_room (&h, token, NULL);
  MmResponse in[ROOM_PEOPLE] = { 0 };
  g_auto (MmResponse) r = { 0 };

  for (guint i = 0; i < ROOM_PEOPLE; i++)
    {
      join_as (code, "Person", &in[i]);
      g_assert_cmpint (in[i].status, ==, 201);
    }
  join_as (code, "Late", &r);
  assert_error (&r, 403, "room_full");
  mm_response_clear (&r);
  leave (&in[0]);
  join_as (code, "Late", &r);
  g_assert_cmpint (r.status, ==, 201);
  leave (&r);
  for (guint i = 0; i < ROOM_PEOPLE; i++)
    {
      if (i > 0)
        leave (&in[i]);
      mm_response_clear (&in[i]);
    }
}

/* A lecture's viewers do not fill the room (more of them than
 * room-participants), but all lectures' viewers together stop at
 * [limits] viewers with 503 server_full and a Retry-After. */
static void
test_viewers (void)
{
  g_autofree char *token = new_user ("Lecturer");
  g_autofree char *code = mm_test_room (&h, token, "{\"title\":\"Talk\",\"allow_guests\":true,"
                                                   "\"mode\":\"lecture\"}");
  MmResponse in[VIEWERS] = { 0 };
  g_auto (MmResponse) r = { 0 };

  g_assert_cmpint (VIEWERS, >, ROOM_PEOPLE);
  for (guint i = 0; i < VIEWERS; i++)
    {
      join_as (code, "Viewer", &in[i]);
      g_assert_cmpint (in[i].status, ==, 201);
    }
  join_as (code, "Late", &r);
  assert_error (&r, 503, "server_full");
  g_assert_nonnull (r.retry_after);
  mm_response_clear (&r);
  leave (&in[0]);
  join_as (code, "Late", &r);
  g_assert_cmpint (r.status, ==, 201);
  leave (&r);
  for (guint i = 1; i < VIEWERS; i++)
    leave (&in[i]);
  for (guint i = 0; i < VIEWERS; i++)
    mm_response_clear (&in[i]);
}

/* [limits] meetings: a join that would start one meeting more gets 503;
 * joining a meeting already on still works; when one ends, a new one
 * can start. */
static void
test_meetings (void)
{
  MmResponse in[MEETINGS] = { 0 };
  char *codes[MEETINGS + 1];
  g_auto (MmResponse) r = { 0 };
  g_auto (MmResponse) more = { 0 };

  /* Each by a host of its own: rooms-per-hour is smaller. */
  for (guint i = 0; i <= MEETINGS; i++)
    {
      g_autofree char *host = new_user ("Host");

      codes[i] = mm_test_room (&h, host, NULL);
    }
  for (guint i = 0; i < MEETINGS; i++)
    {
      join_as (codes[i], "First", &in[i]);
      g_assert_cmpint (in[i].status, ==, 201);
    }
  join_as (codes[MEETINGS], "Starter", &r);
  assert_error (&r, 503, "server_full");
  g_assert_nonnull (r.retry_after);
  mm_response_clear (&r);
  join_as (codes[0], "Second", &more);
  g_assert_cmpint (more.status, ==, 201);
  leave (&more);
  leave (&in[1]);
  join_as (codes[MEETINGS], "Starter", &r);
  g_assert_cmpint (r.status, ==, 201);
  leave (&r);
  leave (&in[0]);
  leave (&in[2]);
  for (guint i = 0; i < MEETINGS; i++)
    mm_response_clear (&in[i]);
  for (guint i = 0; i <= MEETINGS; i++)
    g_free (codes[i]);
}

/* A TCP connection from @from to the server (blocking). */
static int
connect_from (const char *from)
{
  struct sockaddr_in local = { .sin_family = AF_INET };
  struct sockaddr_in server = { .sin_family = AF_INET, .sin_port = htons (h.port) };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (inet_pton (AF_INET, from, &local.sin_addr), ==, 1);
  g_assert_cmpint (inet_pton (AF_INET, "127.0.0.1", &server.sin_addr), ==, 1);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &local, sizeof local), ==, 0);
  g_assert_cmpint (connect (fd, (struct sockaddr *) &server, sizeof server), ==, 0);
  return fd;
}

/* Send a GET of /healthz on @fd; TRUE if a 200 comes back, FALSE if the
 * server closes the connection first. */
static gboolean
healthz_on (int fd)
{
  static const char req[] = "GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
  char buf[256];
  gsize got = 0;
  struct pollfd pfd = { .fd = fd, .events = POLLIN };

  /* The server may have closed it already: a reset is an answer too. */
  if (send (fd, req, sizeof req - 1, MSG_NOSIGNAL) < 0)
    return FALSE;
  while (got < sizeof buf - 1)
    {
      ssize_t n;

      g_assert_cmpint (poll (&pfd, 1, 30000), ==, 1);
      n = recv (fd, buf + got, sizeof buf - 1 - got, 0);
      if (n <= 0)
        break;
      got += (gsize) n;
    }
  buf[got] = '\0';
  return g_str_has_prefix (buf, "HTTP/1.1 200");
}

/* max-connections-per-address: idle connections from one address (a slow
 * or trickling client) fill only its own share; the next from it is
 * closed at once, while another address, and a trusted proxy, still get
 * answers.  Once it closes some, it gets in again. */
static void
test_connections (void)
{
  int idle[PER_ADDRESS];
  int fd;

  for (guint i = 0; i < PER_ADDRESS; i++)
    {
      idle[i] = connect_from ("127.0.0.2");
      /* Half a request line: a trickling client. */
      g_assert_cmpint (send (idle[i], "GET /hea", 8, MSG_NOSIGNAL), ==, 8);
    }
  fd = connect_from ("127.0.0.2");
  g_assert_false (healthz_on (fd));
  close (fd);
  fd = connect_from ("127.0.0.3");
  g_assert_true (healthz_on (fd));
  close (fd);
  {
    g_auto (MmResponse) r = { 0 };

    mm_http (&h, "GET", "/healthz", NULL, NULL, &r);
    g_assert_cmpint (r.status, ==, 200);
  }
  {
    g_auto (MmResponse) r = { 0 };

    mm_http (&h, "GET", "/metrics", NULL, NULL, &r);
    g_assert_cmpint (r.status, ==, 200);
    g_assert_nonnull (strstr (r.body, "mixmeet_http_connections_refused_total 1"));
  }
  close (idle[0]);
  close (idle[1]);
  /* The server notices the close on its next turn of the poll loop. */
  for (guint tries = 0;; tries++)
    {
      gboolean ok;

      fd = connect_from ("127.0.0.2");
      ok = healthz_on (fd);
      close (fd);
      if (ok)
        break;
      g_assert_cmpuint (tries, <, 100);
      g_usleep (50000);
    }
  for (guint i = 2; i < PER_ADDRESS; i++)
    close (idle[i]);
}

int
main (int argc, char **argv)
{
  int rc;
  g_autofree char *config =
    g_strdup_printf ("[server]\ntrusted-proxies=127.0.0.1\nmax-connections-per-address=%d\n"
                     "[limits]\nregistrations-per-hour=%d\nrooms-per-hour=%d\n"
                     "joins-per-minute=%d\nchat-per-minute=%d\nmeetings=%d\n"
                     "room-participants=%d\nviewers=%d\n",
                     PER_ADDRESS, REGISTRATIONS, ROOMS, JOINS, CHATS, MEETINGS, ROOM_PEOPLE,
                     VIEWERS);

  g_test_init (&argc, &argv, NULL);
  mm_harness_start (&h, config);
  g_test_add_func ("/limits/registrations", test_registrations);
  g_test_add_func ("/limits/rooms", test_rooms);
  g_test_add_func ("/limits/joins", test_joins);
  g_test_add_func ("/limits/chat", test_chat);
  g_test_add_func ("/limits/room-full", test_room_full);
  g_test_add_func ("/limits/viewers", test_viewers);
  g_test_add_func ("/limits/meetings", test_meetings);
  g_test_add_func ("/limits/connections", test_connections);
  rc = g_test_run ();
  mm_harness_stop (&h);
  return rc;
}
