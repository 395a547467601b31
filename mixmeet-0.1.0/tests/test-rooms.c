/* test-rooms.c — rooms over HTTP against real PostgreSQL and mixmeetd:
 * create, look up, join as user, host and guest, guests refused, leave,
 * meeting history. */
#include "config.h"

#include "harness.h"

#include <string.h>

static MmHarness h;

static gboolean
code_well_formed (const char *code)
{
  g_autoptr (GRegex) re = g_regex_new ("^[a-z]{3}-[a-z]{4}-[a-z]{3}$", 0, 0, NULL);
  return code != NULL && g_regex_match (re, code, 0, NULL);
}

static void
test_create_and_lookup (void)
{
  g_autofree char *token = mm_test_register (&h, "Host", NULL);
  g_auto (MmResponse) created = { 0 };
  g_auto (MmResponse) lecture = { 0 };
  g_auto (MmResponse) got = { 0 };
  g_auto (MmResponse) anon = { 0 };
  g_autofree char *path = NULL;
  const char *code;

  mm_http (&h, "POST", "/api/v1/rooms", token, "{\"title\":\"Weekly sync\"}", &created);
  g_assert_cmpint (created.status, ==, 201);
  code = mm_json_str (&created, "room.code");
  g_assert_true (code_well_formed (code));
  g_assert_cmpstr (mm_json_str (&created, "room.title"), ==, "Weekly sync");
  g_assert_cmpstr (mm_json_str (&created, "room.mode"), ==, "meeting");
  g_assert_true (json_node_get_boolean (mm_json_at (&created, "room.allow_guests")));
  g_assert_cmpstr (mm_json_str (&created, "room.host.name"), ==, "Host");

  mm_http (&h, "POST", "/api/v1/rooms", token,
           "{\"title\":\"Lecture 1\",\"mode\":\"lecture\",\"allow_guests\":false}", &lecture);
  g_assert_cmpint (lecture.status, ==, 201);
  g_assert_cmpstr (mm_json_str (&lecture, "room.mode"), ==, "lecture");
  g_assert_false (json_node_get_boolean (mm_json_at (&lecture, "room.allow_guests")));
  g_assert_cmpstr (mm_json_str (&lecture, "room.code"), !=, code);

  /* Anyone with the code may look the room up (to show the join page). */
  path = g_strdup_printf ("/api/v1/rooms/%s", code);
  mm_http (&h, "GET", path, NULL, NULL, &got);
  g_assert_cmpint (got.status, ==, 200);
  g_assert_cmpstr (mm_json_str (&got, "room.title"), ==, "Weekly sync");

  mm_http (&h, "POST", "/api/v1/rooms", NULL, "{\"title\":\"x\"}", &anon);
  g_assert_cmpint (anon.status, ==, 401);
}

static void
test_lookup_unknown (void)
{
  static const char *const paths[] = {
    "/api/v1/rooms/zzz-zzzz-zzz",
    "/api/v1/rooms/not-a-code",
    "/api/v1/rooms/ABC-DEFG-HIJ",
    "/api/v1/rooms/abc-defg-hij'%20OR%20'1'='1",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_auto (MmResponse) r = { 0 };

      mm_http (&h, "GET", paths[i], NULL, NULL, &r);
      g_assert_cmpint (r.status, ==, 404);
      g_assert_cmpstr (mm_error_code (&r), ==, "room_not_found");
    }
}

static void
test_create_validation (void)
{
  g_autofree char *token = mm_test_register (&h, "V", NULL);
  g_autofree char *long_title = g_strnfill (201, 'x');
  g_autofree char *long_body = g_strdup_printf ("{\"title\":\"%s\"}", long_title);
  const char *bodies[] = {
    "{}",
    "{\"title\":\"\"}",
    "{\"title\":\"ok\",\"mode\":\"webinar\"}",
    "{\"title\":\"ok\",\"allow_guests\":\"yes\"}",
    "{\"title\":[1,2]}",
    long_body,
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      g_auto (MmResponse) r = { 0 };

      mm_http (&h, "POST", "/api/v1/rooms", token, bodies[i], &r);
      g_assert_cmpint (r.status, ==, 400);
      g_assert_cmpstr (mm_error_code (&r), ==, "invalid_input");
    }
}

static void
test_join_roles_and_guests (void)
{
  g_autofree char *host = mm_test_register (&h, "Hostess", NULL);
  g_autofree char *member = mm_test_register (&h, "Member", NULL);
  g_autofree char *open_code = mm_test_room (&h, host, "{\"title\":\"Open\"}");
  g_autofree char *closed_code = mm_test_room (&h, host, "{\"title\":\"Closed\",\"allow_guests\":false}");
  g_autofree char *open_join = g_strdup_printf ("/api/v1/rooms/%s/join", open_code);
  g_autofree char *closed_join = g_strdup_printf ("/api/v1/rooms/%s/join", closed_code);
  g_auto (MmResponse) as_host = { 0 };
  g_auto (MmResponse) as_member = { 0 };
  g_auto (MmResponse) as_guest = { 0 };
  g_auto (MmResponse) refused = { 0 };
  g_auto (MmResponse) nameless = { 0 };
  g_auto (MmResponse) member_closed = { 0 };
  g_auto (MmResponse) bad_token = { 0 };
  g_auto (MmResponse) missing = { 0 };

  mm_http (&h, "POST", open_join, host, NULL, &as_host);
  g_assert_cmpint (as_host.status, ==, 201);
  g_assert_cmpstr (mm_json_str (&as_host, "participant.role"), ==, "host");
  g_assert_cmpstr (mm_json_str (&as_host, "participant.display_name"), ==, "Hostess");
  g_assert_cmpuint (strlen (mm_json_str (&as_host, "secret")), ==, 43);
  g_assert_cmpint (json_array_get_length (json_node_get_array (mm_json_at (&as_host, "participants"))), ==, 1);

  /* A signed-in user may choose the name shown in the meeting. */
  mm_http (&h, "POST", open_join, member, "{\"display_name\":\"Mem (phone)\"}", &as_member);
  g_assert_cmpint (as_member.status, ==, 201);
  g_assert_cmpstr (mm_json_str (&as_member, "participant.role"), ==, "participant");
  g_assert_cmpstr (mm_json_str (&as_member, "participant.display_name"), ==, "Mem (phone)");
  g_assert_cmpint (json_array_get_length (json_node_get_array (mm_json_at (&as_member, "participants"))), ==, 2);
  g_assert_cmpstr (mm_json_str (&as_member, "participant.id"), !=,
                   mm_json_str (&as_host, "participant.id"));
  g_assert_cmpstr (mm_json_str (&as_member, "secret"), !=, mm_json_str (&as_host, "secret"));

  mm_http (&h, "POST", open_join, NULL, "{\"display_name\":\"Visitor\"}", &as_guest);
  g_assert_cmpint (as_guest.status, ==, 201);
  g_assert_cmpstr (mm_json_str (&as_guest, "participant.role"), ==, "guest");
  g_assert_cmpint (mm_json_int (&as_guest, "signalling.long_poll_timeout_s"), >, 0);

  mm_http (&h, "POST", closed_join, NULL, "{\"display_name\":\"Visitor\"}", &refused);
  g_assert_cmpint (refused.status, ==, 403);
  g_assert_cmpstr (mm_error_code (&refused), ==, "guests_not_allowed");

  mm_http (&h, "POST", open_join, NULL, NULL, &nameless);
  g_assert_cmpint (nameless.status, ==, 400);
  g_assert_cmpstr (mm_error_code (&nameless), ==, "invalid_input");

  mm_http (&h, "POST", closed_join, member, NULL, &member_closed);
  g_assert_cmpint (member_closed.status, ==, 201);

  /* A token that is present but wrong is an error, not a guest join. */
  mm_http (&h, "POST", open_join, "forged-token", "{\"display_name\":\"X\"}", &bad_token);
  g_assert_cmpint (bad_token.status, ==, 401);

  mm_http (&h, "POST", "/api/v1/rooms/qqq-qqqq-qqq/join", NULL, "{\"display_name\":\"X\"}", &missing);
  g_assert_cmpint (missing.status, ==, 404);
}

static void
test_history (void)
{
  g_autofree char *host = mm_test_register (&h, "Historian", NULL);
  g_autofree char *member = mm_test_register (&h, "Attendee", NULL);
  g_autofree char *stranger = mm_test_register (&h, "Stranger", NULL);
  g_autofree char *code = mm_test_room (&h, host, "{\"title\":\"History lesson\"}");
  g_auto (MmJoined) a = { 0 };
  g_auto (MmJoined) b = { 0 };
  g_auto (MmJoined) c = { 0 };
  g_auto (MmResponse) mine = { 0 };
  g_auto (MmResponse) theirs = { 0 };
  g_auto (MmResponse) none = { 0 };
  g_auto (MmResponse) bad_limit = { 0 };
  gint64 deadline;

  mm_test_join (&h, code, host, NULL, &a);
  mm_test_join (&h, code, member, NULL, &b);
  mm_test_join (&h, code, NULL, "Guest", &c);
  g_usleep (1100 * 1000);
  {
    g_auto (MmResponse) r1 = { 0 };
    g_auto (MmResponse) r2 = { 0 };
    g_auto (MmResponse) r3 = { 0 };

    mm_http (&h, "POST", a.leave, a.secret, NULL, &r1);
    mm_http (&h, "POST", b.leave, b.secret, NULL, &r2);
    mm_http (&h, "POST", c.leave, c.secret, NULL, &r3);
    g_assert_cmpint (r1.status, ==, 204);
    g_assert_cmpint (r2.status, ==, 204);
    g_assert_cmpint (r3.status, ==, 204);
  }
  /* Leaving is recorded by a worker just after the reply. */
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  do
    {
      mm_response_clear (&mine);
      mm_http (&h, "GET", "/api/v1/me/meetings", host, NULL, &mine);
      g_assert_cmpint (mine.status, ==, 200);
      if (mm_json_at (&mine, "meetings.0.ended_at") != NULL
          && !JSON_NODE_HOLDS_NULL (mm_json_at (&mine, "meetings.0.ended_at")))
        break;
      g_usleep (50000);
    }
  while (g_get_monotonic_time () < deadline);
  g_assert_cmpstr (mm_json_str (&mine, "meetings.0.room.code"), ==, code);
  g_assert_cmpstr (mm_json_str (&mine, "meetings.0.room.title"), ==, "History lesson");
  g_assert_cmpstr (mm_json_str (&mine, "meetings.0.role"), ==, "host");
  g_assert_nonnull (mm_json_str (&mine, "meetings.0.ended_at"));
  g_assert_cmpint (mm_json_int (&mine, "meetings.0.participant_count"), ==, 3);
  g_assert_cmpint (mm_json_int (&mine, "meetings.0.duration_s"), >=, 1);
  g_assert_cmpint (mm_json_int (&mine, "meetings.0.duration_s"), <, 30);

  mm_http (&h, "GET", "/api/v1/me/meetings", member, NULL, &theirs);
  g_assert_cmpstr (mm_json_str (&theirs, "meetings.0.room.code"), ==, code);
  g_assert_cmpstr (mm_json_str (&theirs, "meetings.0.role"), ==, "participant");

  mm_http (&h, "GET", "/api/v1/me/meetings", stranger, NULL, &none);
  g_assert_cmpint (none.status, ==, 200);
  g_assert_cmpint (json_array_get_length (json_node_get_array (mm_json_at (&none, "meetings"))), ==, 0);

  mm_http (&h, "GET", "/api/v1/me/meetings?limit=0", host, NULL, &bad_limit);
  g_assert_cmpint (bad_limit.status, ==, 400);
}

static void
test_rejoin_starts_new_meeting (void)
{
  g_autofree char *host = mm_test_register (&h, "Twice", NULL);
  g_autofree char *code = mm_test_room (&h, host, NULL);
  g_autofree char *sql = g_strdup_printf (
      "SELECT count(*) FROM meetings m JOIN rooms r ON r.id = m.room_id WHERE r.code = '%s'", code);
  g_autofree char *count = NULL;

  for (int round = 0; round < 2; round++)
    {
      g_auto (MmJoined) j = { 0 };
      g_auto (MmResponse) r = { 0 };
      gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
      g_autofree char *open_sql = g_strdup_printf (
          "SELECT count(*) FROM meetings m JOIN rooms r ON r.id = m.room_id "
          "WHERE r.code = '%s' AND m.ended_at IS NULL", code);

      mm_test_join (&h, code, host, NULL, &j);
      mm_http (&h, "POST", j.leave, j.secret, NULL, &r);
      g_assert_cmpint (r.status, ==, 204);
      for (;;)
        {
          g_autofree char *open = mm_harness_sql (&h, open_sql);

          if (g_str_equal (open, "0"))
            break;
          g_assert_cmpint (g_get_monotonic_time (), <, deadline);
          g_usleep (20000);
        }
    }
  count = mm_harness_sql (&h, sql);
  g_assert_cmpstr (count, ==, "2");
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  mm_harness_start (&h, NULL);
  g_test_add_func ("/rooms/create-and-lookup", test_create_and_lookup);
  g_test_add_func ("/rooms/lookup-unknown", test_lookup_unknown);
  g_test_add_func ("/rooms/create-validation", test_create_validation);
  g_test_add_func ("/rooms/join-roles-and-guests", test_join_roles_and_guests);
  g_test_add_func ("/rooms/history", test_history);
  g_test_add_func ("/rooms/rejoin-starts-new-meeting", test_rejoin_starts_new_meeting);
  rc = g_test_run ();
  mm_harness_stop (&h);
  return rc;
}
