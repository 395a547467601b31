/* unit-core.c — the pure parts of src/core/: event queue, room codes,
 * login throttle, secrets, bcrypt passwords, options and the error table.
 * Nothing here needs PostgreSQL or a running mixmeetd. */
#include "config.h"

#include "core/cidr.h"
#include "core/error.h"
#include "core/options.h"
#include "core/password.h"
#include "core/prom.h"
#include "core/queue.h"
#include "core/roomcode.h"
#include "core/secret.h"
#include "core/throttle.h"

#include <arpa/inet.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <string.h>

/* ---- queue ---------------------------------------------------------- */

typedef struct {
  MmQueue *q;
  GString *out;
} QueueFixture;

static void
queue_setup (QueueFixture *f, gconstpointer backlog)
{
  f->q = mm_queue_new (GPOINTER_TO_UINT (backlog));
  f->out = g_string_new (NULL);
}

static void
queue_teardown (QueueFixture *f, gconstpointer backlog)
{
  mm_queue_free (f->q);
  g_string_free (f->out, TRUE);
}

/* Push @n events of type "t" at 1000 + seq ms, each with {"n": i}
 * (i counting from @first). */
static void
queue_push_n (MmQueue *q, guint n, gint first)
{
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (JsonObject) fields = json_object_new ();

      json_object_set_int_member (fields, "n", first + (gint) i);
      mm_queue_push (q, "t", fields, 1000 + mm_queue_last_seq (q) + 1);
    }
}

/* Parse the comma-joined output of mm_queue_collect() as a JSON array.
 * Returns: (transfer full) */
static JsonArray *
parse_events (const char *joined)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *text = g_strdup_printf ("[%s]", joined);
  JsonNode *root;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  root = json_parser_get_root (parser);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (root));
  return json_array_ref (json_node_get_array (root));
}

/* Sequence numbers start at 1 and go up by one per event. */
static void
test_queue_seq (QueueFixture *f, gconstpointer data)
{
  g_assert_cmpuint (mm_queue_last_seq (f->q), ==, 0);
  g_assert_cmpuint (mm_queue_length (f->q), ==, 0);
  g_assert_cmpuint (mm_queue_push (f->q, "a", NULL, 1), ==, 1);
  g_assert_cmpuint (mm_queue_push (f->q, "b", NULL, 2), ==, 2);
  g_assert_cmpuint (mm_queue_push (f->q, "c", NULL, 3), ==, 3);
  g_assert_cmpuint (mm_queue_last_seq (f->q), ==, 3);
  g_assert_cmpuint (mm_queue_length (f->q), ==, 3);
}

/* After a cursor, exactly the later events come back, in order, with
 * their seq, type, at and the extra fields. */
static void
test_queue_collect_after_cursor (QueueFixture *f, gconstpointer data)
{
  g_autoptr (JsonArray) events = NULL;
  guint64 last = 0;

  queue_push_n (f->q, 5, 100);
  g_assert_cmpint (mm_queue_collect (f->q, 2, 100, f->out, &last), ==, MM_QUEUE_EVENTS);
  g_assert_cmpuint (last, ==, 5);
  events = parse_events (f->out->str);
  g_assert_cmpuint (json_array_get_length (events), ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      JsonObject *ev = json_array_get_object_element (events, i);

      g_assert_cmpint (json_object_get_int_member (ev, "seq"), ==, 3 + i);
      g_assert_cmpstr (json_object_get_string_member (ev, "type"), ==, "t");
      g_assert_cmpint (json_object_get_int_member (ev, "at"), ==, 1000 + 3 + i);
      g_assert_cmpint (json_object_get_int_member (ev, "n"), ==, 100 + 2 + i);
      g_assert_cmpuint (json_object_get_size (ev), ==, 4);
    }

  /* From the very start: all of them. */
  g_string_truncate (f->out, 0);
  g_assert_cmpint (mm_queue_collect (f->q, 0, 100, f->out, &last), ==, MM_QUEUE_EVENTS);
  g_clear_pointer (&events, json_array_unref);
  events = parse_events (f->out->str);
  g_assert_cmpuint (json_array_get_length (events), ==, 5);
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (events, 0),
                                               "seq"), ==, 1);
  g_assert_cmpuint (last, ==, 5);
}

/* Collect appends: what the buffer held before stays in front. */
static void
test_queue_collect_appends (QueueFixture *f, gconstpointer data)
{
  guint64 last = 0;

  mm_queue_push (f->q, "x", NULL, 7);
  g_string_assign (f->out, "{\"events\":[");
  g_assert_cmpint (mm_queue_collect (f->q, 0, 10, f->out, &last), ==, MM_QUEUE_EVENTS);
  g_assert_cmpstr (f->out->str, ==, "{\"events\":[{\"seq\":1,\"type\":\"x\",\"at\":7}");
}

/* A cursor at the end (including on a new queue) finds nothing. */
static void
test_queue_empty (QueueFixture *f, gconstpointer data)
{
  guint64 last = 99;

  g_assert_cmpint (mm_queue_collect (f->q, 0, 10, f->out, &last), ==, MM_QUEUE_EMPTY);
  g_assert_cmpuint (last, ==, 0);
  queue_push_n (f->q, 3, 0);
  g_assert_cmpint (mm_queue_collect (f->q, 3, 10, f->out, &last), ==, MM_QUEUE_EMPTY);
  g_assert_cmpuint (last, ==, 3);
  g_assert_cmpstr (f->out->str, ==, "");
}

/* With a backlog of 4, events 1..6 leave 3..6: a cursor whose next event
 * was dropped is a gap, one just before the oldest kept is not. */
static void
test_queue_gap_dropped (QueueFixture *f, gconstpointer data)
{
  g_autoptr (JsonArray) events = NULL;
  guint64 last = 0;

  queue_push_n (f->q, 6, 0);
  g_assert_cmpuint (mm_queue_length (f->q), ==, 4);
  g_assert_cmpuint (mm_queue_last_seq (f->q), ==, 6);

  g_assert_cmpint (mm_queue_collect (f->q, 0, 100, f->out, &last), ==, MM_QUEUE_GAP);
  g_assert_cmpuint (last, ==, 6);
  g_assert_cmpint (mm_queue_collect (f->q, 1, 100, f->out, &last), ==, MM_QUEUE_GAP);
  g_assert_cmpstr (f->out->str, ==, "");

  g_assert_cmpint (mm_queue_collect (f->q, 2, 100, f->out, &last), ==, MM_QUEUE_EVENTS);
  events = parse_events (f->out->str);
  g_assert_cmpuint (json_array_get_length (events), ==, 4);
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (events, 0),
                                               "seq"), ==, 3);
  g_assert_cmpuint (last, ==, 6);
}

/* A cursor past the last event (say, from before a restart) is a gap. */
static void
test_queue_gap_ahead (QueueFixture *f, gconstpointer data)
{
  guint64 last = 0;

  g_assert_cmpint (mm_queue_collect (f->q, 1, 10, f->out, &last), ==, MM_QUEUE_GAP);
  g_assert_cmpuint (last, ==, 0);
  queue_push_n (f->q, 5, 0);
  g_assert_cmpint (mm_queue_collect (f->q, 6, 10, f->out, &last), ==, MM_QUEUE_GAP);
  g_assert_cmpuint (last, ==, 5);
  g_assert_cmpint (mm_queue_collect (f->q, G_MAXUINT64, 10, f->out, &last), ==, MM_QUEUE_GAP);
  g_assert_cmpstr (f->out->str, ==, "");
}

/* @max caps each answer, and last_seq is then the last one returned, so
 * following the cursor pages through everything exactly once. */
static void
test_queue_max (QueueFixture *f, gconstpointer data)
{
  const guint64 expect_last[] = { 4, 8, 10 };
  const guint expect_len[] = { 4, 4, 2 };
  guint64 cursor = 0;

  queue_push_n (f->q, 10, 0);
  for (guint page = 0; page < G_N_ELEMENTS (expect_last); page++)
    {
      g_autoptr (JsonArray) events = NULL;
      guint64 last = 0;

      g_string_truncate (f->out, 0);
      g_assert_cmpint (mm_queue_collect (f->q, cursor, 4, f->out, &last), ==, MM_QUEUE_EVENTS);
      events = parse_events (f->out->str);
      g_assert_cmpuint (json_array_get_length (events), ==, expect_len[page]);
      for (guint i = 0; i < expect_len[page]; i++)
        g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (events, i),
                                                     "seq"), ==, cursor + 1 + i);
      g_assert_cmpuint (last, ==, expect_last[page]);
      cursor = last;
    }
  g_string_truncate (f->out, 0);
  g_assert_cmpint (mm_queue_collect (f->q, cursor, 4, f->out, &cursor), ==, MM_QUEUE_EMPTY);
}

/* seq, type and at in @fields cannot override the event's own. */
static void
test_queue_fields_no_override (QueueFixture *f, gconstpointer data)
{
  g_autoptr (JsonObject) fields = json_object_new ();
  g_autoptr (JsonArray) events = NULL;
  JsonObject *ev;
  guint64 last = 0;

  json_object_set_int_member (fields, "seq", 99);
  json_object_set_string_member (fields, "type", "forged");
  json_object_set_int_member (fields, "at", 1);
  json_object_set_boolean_member (fields, "muted", TRUE);
  json_object_set_string_member (fields, "name", "Ada");
  g_assert_cmpuint (mm_queue_push (f->q, "chat", fields, 1234), ==, 1);
  /* The caller keeps its object: changing it afterwards changes nothing. */
  json_object_set_string_member (fields, "name", "changed");

  g_assert_cmpint (mm_queue_collect (f->q, 0, 10, f->out, &last), ==, MM_QUEUE_EVENTS);
  events = parse_events (f->out->str);
  g_assert_cmpuint (json_array_get_length (events), ==, 1);
  ev = json_array_get_object_element (events, 0);
  g_assert_cmpint (json_object_get_int_member (ev, "seq"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (ev, "type"), ==, "chat");
  g_assert_cmpint (json_object_get_int_member (ev, "at"), ==, 1234);
  g_assert_true (json_object_get_boolean_member (ev, "muted"));
  g_assert_cmpstr (json_object_get_string_member (ev, "name"), ==, "Ada");
  g_assert_cmpuint (json_object_get_size (ev), ==, 5);
}

/* A backlog of 0 still keeps the newest event. */
static void
test_queue_backlog_zero (QueueFixture *f, gconstpointer data)
{
  guint64 last = 0;

  queue_push_n (f->q, 3, 0);
  g_assert_cmpuint (mm_queue_length (f->q), ==, 1);
  g_assert_cmpint (mm_queue_collect (f->q, 2, 10, f->out, &last), ==, MM_QUEUE_EVENTS);
  g_assert_cmpuint (last, ==, 3);
  g_assert_cmpint (mm_queue_collect (f->q, 1, 10, f->out, &last), ==, MM_QUEUE_GAP);
}

/* ---- room codes ----------------------------------------------------- */

/* Many codes: the right shape, valid, distinct, and using every letter. */
static void
test_roomcode_new (void)
{
  g_autoptr (GRegex) re = g_regex_new ("^[a-z]{3}-[a-z]{4}-[a-z]{3}$", 0, 0, NULL);
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint32 letters = 0;

  for (guint i = 0; i < 2000; i++)
    {
      g_autoptr (GError) error = NULL;
      char *code = mm_room_code_new (&error);

      g_assert_no_error (error);
      g_assert_nonnull (code);
      g_assert_cmpuint (strlen (code), ==, MM_ROOM_CODE_LEN);
      g_assert_true (g_regex_match (re, code, 0, NULL));
      g_assert_true (mm_room_code_valid (code));
      for (const char *p = code; *p != '\0'; p++)
        if (*p != '-')
          letters |= 1u << (*p - 'a');
      g_assert_true (g_hash_table_add (seen, code));
    }
  g_assert_cmpuint (g_hash_table_size (seen), ==, 2000);
  g_assert_cmphex (letters, ==, (1u << 26) - 1);
}

/* Well-formed codes pass; everything else is refused. */
static void
test_roomcode_valid (void)
{
  const char *bad[] = {
    "", "abc", "abc-defg-hi", "abc-defg-hijk", "abcd-efg-hij", "ab-cdefg-hij",
    "abc-defgh-ij", "abcdefghijkl", "abc_defg_hij", "Abc-defg-hij", "abc-DEFG-hij",
    "abc-defg-hiJ", "ab1-defg-hij", "abc-def9-hij", "abc-defg-hij ", " abc-defg-hij",
    "abc-defg-hij\n", "abc-defg-hij-", "abc-defg--ij", "abc-defg-h\xc3\xa9",
    "abc-d\xc3\xa9""fg-hij", "---------", "abc defg hij",
  };

  g_assert_true (mm_room_code_valid ("abc-defg-hij"));
  g_assert_true (mm_room_code_valid ("zzz-aaaa-zzz"));
  g_assert_false (mm_room_code_valid (NULL));
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    if (mm_room_code_valid (bad[i]))
      {
        g_autofree char *shown = g_strescape (bad[i], NULL);
        g_test_fail_printf ("\"%s\" was accepted", shown);
      }
}

/* ---- throttle ------------------------------------------------------- */

#define T0 (1000 * G_USEC_PER_SEC)
#define WINDOW (60 * G_USEC_PER_SEC)

/* Below the maximum a key is not blocked; at it, it is, with a
 * Retry-After that counts down to the oldest failure leaving the window. */
static void
test_throttle_block (void)
{
  g_autoptr (MmThrottle) t = mm_throttle_new (3, WINDOW);
  gint retry = -1;

  g_assert_false (mm_throttle_blocked (t, "a", T0, &retry));
  mm_throttle_fail (t, "a", T0);
  mm_throttle_fail (t, "a", T0 + 1 * G_USEC_PER_SEC);
  g_assert_false (mm_throttle_blocked (t, "a", T0 + 2 * G_USEC_PER_SEC, &retry));
  mm_throttle_fail (t, "a", T0 + 2 * G_USEC_PER_SEC);

  retry = -1;
  g_assert_true (mm_throttle_blocked (t, "a", T0 + 2 * G_USEC_PER_SEC, &retry));
  g_assert_cmpint (retry, >=, 1);
  g_assert_cmpint (retry, <=, 60);
  g_assert_cmpint (retry, ==, 58);
  /* Partial seconds round up. */
  g_assert_true (mm_throttle_blocked (t, "a", T0 + 30 * G_USEC_PER_SEC + 1, &retry));
  g_assert_cmpint (retry, ==, 30);
  /* Never less than 1 while blocked. */
  g_assert_true (mm_throttle_blocked (t, "a", T0 + WINDOW - 1, &retry));
  g_assert_cmpint (retry, ==, 1);
  /* A NULL retry_after is fine. */
  g_assert_true (mm_throttle_blocked (t, "a", T0 + 3 * G_USEC_PER_SEC, NULL));
}

/* Once the window has passed the oldest failure, the key is free again;
 * once all have passed, it is forgotten. */
static void
test_throttle_window (void)
{
  g_autoptr (MmThrottle) t = mm_throttle_new (2, WINDOW);
  gint retry = 0;

  mm_throttle_fail (t, "a", T0);
  mm_throttle_fail (t, "a", T0 + 10 * G_USEC_PER_SEC);
  g_assert_true (mm_throttle_blocked (t, "a", T0 + 59 * G_USEC_PER_SEC, &retry));
  g_assert_cmpint (retry, ==, 1);
  g_assert_false (mm_throttle_blocked (t, "a", T0 + WINDOW, &retry));
  g_assert_cmpuint (mm_throttle_size (t), ==, 1);
  /* One more failure within the window of the second blocks again. */
  mm_throttle_fail (t, "a", T0 + WINDOW + 1);
  g_assert_true (mm_throttle_blocked (t, "a", T0 + WINDOW + 2, &retry));
  g_assert_cmpint (retry, ==, 10);
  g_assert_false (mm_throttle_blocked (t, "a", T0 + 3 * WINDOW, &retry));
  g_assert_cmpuint (mm_throttle_size (t), ==, 0);
}

/* mm_throttle_clear() (a successful login) unblocks at once. */
static void
test_throttle_clear (void)
{
  g_autoptr (MmThrottle) t = mm_throttle_new (1, WINDOW);

  mm_throttle_fail (t, "a", T0);
  g_assert_true (mm_throttle_blocked (t, "a", T0, NULL));
  mm_throttle_clear (t, "a");
  g_assert_false (mm_throttle_blocked (t, "a", T0, NULL));
  g_assert_cmpuint (mm_throttle_size (t), ==, 0);
  /* Clearing an unknown key is harmless. */
  mm_throttle_clear (t, "nobody");
  g_assert_cmpuint (mm_throttle_size (t), ==, 0);
}

/* Keys whose counts have all left the window go as new keys come: a
 * throttle of every chat message (one key per participant) does not
 * keep those who left for ever. */
static void
test_throttle_prune (void)
{
  g_autoptr (MmThrottle) t = mm_throttle_new (5, WINDOW);

  for (guint i = 0; i < 3000; i++)
    {
      g_autofree char *key = g_strdup_printf ("old-%u", i);

      mm_throttle_fail (t, key, T0);
    }
  g_assert_cmpuint (mm_throttle_size (t), >=, 2000);
  for (guint i = 0; i < 2100; i++)
    {
      g_autofree char *key = g_strdup_printf ("new-%u", i);

      mm_throttle_fail (t, key, T0 + WINDOW + 1);
    }
  /* A prune came within the first 1,024 new keys: only new ones left. */
  g_assert_cmpuint (mm_throttle_size (t), ==, 2100);
  g_assert_false (mm_throttle_blocked (t, "old-2999", T0 + WINDOW + 1, NULL));
}

/* Failures of one key do not count for another; each key is one entry. */
static void
test_throttle_keys (void)
{
  g_autoptr (MmThrottle) t = mm_throttle_new (2, WINDOW);

  g_assert_cmpuint (mm_throttle_size (t), ==, 0);
  mm_throttle_fail (t, "ada@example.com", T0);
  mm_throttle_fail (t, "ada@example.com", T0);
  mm_throttle_fail (t, "bob@example.com", T0);
  g_assert_cmpuint (mm_throttle_size (t), ==, 2);
  g_assert_true (mm_throttle_blocked (t, "ada@example.com", T0, NULL));
  g_assert_false (mm_throttle_blocked (t, "bob@example.com", T0, NULL));
  g_assert_false (mm_throttle_blocked (t, "carol@example.com", T0, NULL));
  /* Asking about a key does not track it. */
  g_assert_cmpuint (mm_throttle_size (t), ==, 2);
  mm_throttle_clear (t, "ada@example.com");
  g_assert_cmpuint (mm_throttle_size (t), ==, 1);
  g_assert_false (mm_throttle_blocked (t, "ada@example.com", T0, NULL));
}

/* More failures than the maximum do not lengthen the block beyond the
 * window of the newest ones. */
static void
test_throttle_many_failures (void)
{
  g_autoptr (MmThrottle) t = mm_throttle_new (3, WINDOW);
  gint retry = 0;

  for (gint i = 0; i < 10; i++)
    mm_throttle_fail (t, "a", T0 + i * G_USEC_PER_SEC);
  g_assert_true (mm_throttle_blocked (t, "a", T0 + 10 * G_USEC_PER_SEC, &retry));
  /* The oldest of the last three is at 7 s: free at 67 s. */
  g_assert_cmpint (retry, ==, 57);
  g_assert_false (mm_throttle_blocked (t, "a", T0 + 67 * G_USEC_PER_SEC, &retry));
}

/* ---- secrets -------------------------------------------------------- */

/* Tokens: 43 characters of base64url, no padding, all different. */
static void
test_secret_token (void)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < 1000; i++)
    {
      g_autoptr (GError) error = NULL;
      char *token = mm_secret_new_token (&error);

      g_assert_no_error (error);
      g_assert_nonnull (token);
      g_assert_cmpuint (strlen (token), ==, 43);
      for (const char *p = token; *p != '\0'; p++)
        g_assert_true (g_ascii_isalnum (*p) || *p == '-' || *p == '_');
      g_assert_true (g_hash_table_add (seen, token));
    }
  g_assert_cmpuint (g_hash_table_size (seen), ==, 1000);
}

/* SHA-256 against the FIPS 180-2 test vectors. */
static void
test_secret_hash (void)
{
  g_autofree char *abc = mm_secret_hash ("abc");
  g_autofree char *empty = mm_secret_hash ("");

  g_assert_cmpstr (abc, ==, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  g_assert_cmpstr (empty, ==, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  g_assert_cmpuint (strlen (abc), ==, MM_SECRET_HASH_HEX_LEN);
}

/* Equality: same strings only, whatever the lengths. */
static void
test_secret_equal (void)
{
  g_assert_true (mm_secret_equal ("", ""));
  g_assert_true (mm_secret_equal ("token", "token"));
  g_assert_false (mm_secret_equal ("token", "tokem"));
  g_assert_false (mm_secret_equal ("Token", "token"));
  g_assert_false (mm_secret_equal ("token", "token2"));
  g_assert_false (mm_secret_equal ("token2", "token"));
  g_assert_false (mm_secret_equal ("", "x"));
}

/* Two draws of random bytes differ. */
static void
test_secret_random (void)
{
  guint8 a[32] = { 0 }, b[32] = { 0 };
  g_autoptr (GError) error = NULL;

  g_assert_true (mm_secret_random (a, sizeof a, &error));
  g_assert_no_error (error);
  g_assert_true (mm_secret_random (b, sizeof b, &error));
  g_assert_no_error (error);
  g_assert_true (memcmp (a, b, sizeof a) != 0);
}

/* ---- passwords ------------------------------------------------------ */

/* bcrypt at cost 4: the right format, verifies only the right password,
 * and a fresh salt each time. */
static void
test_password_hash_verify (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *hash = mm_password_hash ("correct horse", 4, &error);
  g_autofree char *again = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (hash);
  g_assert_true (g_str_has_prefix (hash, "$2b$04$"));
  g_assert_cmpuint (strlen (hash), ==, 60);

  g_assert_true (mm_password_verify ("correct horse", hash, 4));
  g_assert_false (mm_password_verify ("correct horsf", hash, 4));
  g_assert_false (mm_password_verify ("correct horse ", hash, 4));
  g_assert_false (mm_password_verify ("", hash, 4));

  again = mm_password_hash ("correct horse", 4, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (again, !=, hash);
  g_assert_true (mm_password_verify ("correct horse", again, 4));
}

/* No hash (an unknown account) or a broken one never verifies. */
static void
test_password_no_hash (void)
{
  g_assert_false (mm_password_verify ("correct horse", NULL, 4));
  g_assert_false (mm_password_verify ("not-a-password", NULL, 4));
  g_assert_false (mm_password_verify ("correct horse", "", 4));
  g_assert_false (mm_password_verify ("correct horse", "not a hash", 4));
}

/* ---- options -------------------------------------------------------- */

typedef struct {
  MmOptions *opts;
  char *path;   /* a temporary key file, removed at teardown */
} OptionsFixture;

static void
options_setup (OptionsFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  int fd = g_file_open_tmp ("unit-core-XXXXXX.conf", &f->path, &error);

  g_assert_no_error (error);
  g_close (fd, NULL);
  f->opts = mm_options_new_default ();
}

static void
options_teardown (OptionsFixture *f, gconstpointer data)
{
  g_unlink (f->path);
  g_free (f->path);
  mm_options_free (f->opts);
}

/* Write @text to the fixture's key file. */
static void
options_write (OptionsFixture *f, const char *text)
{
  g_autoptr (GError) error = NULL;

  g_file_set_contents (f->path, text, -1, &error);
  g_assert_no_error (error);
}

/* The built-in defaults, which are valid. */
static void
test_options_defaults (OptionsFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (f->opts->port, ==, 8080);
  g_assert_cmpstr (f->opts->listen, ==, "127.0.0.1");
  g_assert_cmpint (f->opts->long_poll_timeout, ==, 25);
  g_assert_cmpint (f->opts->presence_timeout, ==, 40);
  g_assert_cmpint (f->opts->bcrypt_cost, ==, 12);
  g_assert_null (f->opts->port_file);
  g_assert_true (mm_options_validate (f->opts, &error));
  g_assert_no_error (error);
}

/* A key file overrides what it sets and leaves the rest alone. */
static void
test_options_load_file (OptionsFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  options_write (f,
                 "# mixmeetd test config\n"
                 "[server]\n"
                 "port = 9000\n"
                 "listen = ::\n"
                 "max-body = 50000000\n"
                 "[database]\n"
                 "url = host=/tmp dbname=test\n"
                 "[signalling]\n"
                 "long-poll-timeout = 10\n"
                 "[auth]\n"
                 "bcrypt-cost = 4\n");
  g_assert_true (mm_options_load_file (f->opts, f->path, &error));
  g_assert_no_error (error);
  g_assert_cmpint (f->opts->port, ==, 9000);
  g_assert_cmpstr (f->opts->listen, ==, "::");
  g_assert_cmpint (f->opts->max_body, ==, G_GINT64_CONSTANT (50000000));
  g_assert_cmpstr (f->opts->database_url, ==, "host=/tmp dbname=test");
  g_assert_cmpint (f->opts->long_poll_timeout, ==, 10);
  g_assert_cmpint (f->opts->bcrypt_cost, ==, 4);
  /* Untouched. */
  g_assert_cmpint (f->opts->presence_timeout, ==, 40);
  g_assert_cmpint (f->opts->workers, ==, 8);
  g_assert_cmpstr (f->opts->log_level, ==, "message");
}

/* A value that is not a number is an error naming the key (and file). */
static void
test_options_load_not_number (OptionsFixture *f, gconstpointer data)
{
  const char *bad[] = { "many", "12abc", "", "99999999999" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *text = g_strdup_printf ("[server]\nworkers = %s\n", bad[i]);

      g_test_message ("workers = \"%s\"", bad[i]);
      options_write (f, text);
      g_assert_false (mm_options_load_file (f->opts, f->path, &error));
      g_assert_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT);
      g_assert_nonnull (strstr (error->message, "[server] workers"));
      g_assert_nonnull (strstr (error->message, f->path));
      g_assert_nonnull (strstr (error->message, ":2:"));
      g_assert_cmpint (f->opts->workers, ==, 8);
    }
}

/* An escape GKeyFile cannot read ("\000", found by
 * tests/fuzz/fuzz-config): it gives the value and an error for it at
 * once.  That is an error naming the key and the file, not a setting read
 * with an error left set for the next key to overwrite. */
static void
test_options_load_bad_escape (OptionsFixture *f, gconstpointer data)
{
  /* One escape it cannot read; several, and one at the end of the line
   * (GKeyFile then sets an error over another). */
  const char *bad[] = { "1\\000", "80\\z\\\\\\e\\" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *text = g_strdup_printf ("[media]\nport=%s\n[server]\nworkers=3\n", bad[i]);

      options_write (f, text);
      g_assert_false (mm_options_load_file (f->opts, f->path, &error));
      g_assert_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT);
      g_assert_nonnull (strstr (error->message, "[media] port"));
      g_assert_nonnull (strstr (error->message, f->path));
    }
}

/* An unknown section or key, or a value out of range, stops start-up with
 * the file, the line and the key named: a misspelt setting is never
 * silently ignored. */
static void
test_options_load_unknown (OptionsFixture *f, gconstpointer data)
{
  const struct {
    const char *text;
    const char *mentions[3];
  } cases[] = {
    { "[server]\nport = 9000\n\n[sever]\nport = 1\n",
      { ":4:", "unknown section", "[sever]" } },
    { "# comment\n[server]\nport = 9000\nwokers = 2\n",
      { ":4:", "unknown setting", "[server] wokers" } },
    { "[media]\nvideo-width = 1280\n[media]\n", { NULL, NULL, NULL } },
    { "[signalling]\n\nlong-poll-timeout = 301\n",
      { ":3:", "[signalling] long-poll-timeout", "out of range" } },
    { "[media]\nvideo-framerate=0\n", { ":2:", "[media] video-framerate", "1 to 60" } },
    { "[metrics]\ntoken = abc\nallowed = 10.0.0.0/8\n", { ":3:", "[metrics] allowed", NULL } },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (MmOptions) o = mm_options_new_default ();
      g_autoptr (GError) error = NULL;

      options_write (f, cases[i].text);
      if (cases[i].mentions[0] == NULL)
        {
          g_assert_true (mm_options_load_file (o, f->path, &error));
          continue;
        }
      g_assert_false (mm_options_load_file (o, f->path, &error));
      g_assert_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT);
      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, error->message);
      g_assert_true (g_str_has_prefix (error->message, f->path));
      for (guint m = 0; m < 3 && cases[i].mentions[m] != NULL; m++)
        g_assert_nonnull (strstr (error->message, cases[i].mentions[m]));
    }
}

/* The installed example lists every setting, commented out with its
 * default: uncommented, it loads, and it changes nothing. */
static void
test_options_example_file (OptionsFixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (g_getenv ("MM_TEST_SRCDIR") ? g_getenv ("MM_TEST_SRCDIR") : ".",
                                            "data", "mixmeetd.conf", NULL);
  g_autofree char *text = NULL;
  g_autoptr (GString) enabled = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (MmOptions) o = mm_options_new_default ();
  g_autoptr (MmOptions) d = mm_options_new_default ();
  g_auto (GStrv) lines = NULL;
  guint settings = 0;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *l = lines[i];

      /* "#key=value" is a setting; "# text" is prose. */
      if (l[0] == '#' && g_ascii_isalpha (l[1]) && strchr (l, '=') != NULL)
        {
          g_string_append_printf (enabled, "%s\n", l + 1);
          settings++;
        }
      else
        g_string_append_printf (enabled, "%s\n", l);
    }
  options_write (f, enabled->str);
  g_assert_true (mm_options_load_file (o, f->path, &error));
  g_assert_no_error (error);
  /* Every setting is in the sample, once. */
  g_assert_cmpuint (settings, ==, mm_options_n_settings ());
  g_assert_cmpint (o->port, ==, d->port);
  g_assert_cmpint (o->video_framerate, ==, d->video_framerate);
  g_assert_cmpint (o->turn_ttl, ==, d->turn_ttl);
  g_assert_cmpstr (o->metrics_allow, ==, d->metrics_allow);
  g_assert_cmpstr (o->listen, ==, d->listen);
}

/* A missing or broken file is an error naming it. */
static void
test_options_load_bad_file (OptionsFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *missing = g_strconcat (f->path, ".missing", NULL);

  g_assert_false (mm_options_load_file (f->opts, missing, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);

  options_write (f, "this is not a key file\n");
  g_assert_false (mm_options_load_file (f->opts, f->path, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, f->path));
}

typedef struct {
  const char *name;
  void (*spoil) (MmOptions *o);
} BadOptions;

static void spoil_port (MmOptions *o) { o->port = 65536; }
static void spoil_port_negative (MmOptions *o) { o->port = -1; }
static void spoil_pool (MmOptions *o) { o->db_pool_size = 0; }
static void spoil_workers (MmOptions *o) { o->workers = 257; }
static void spoil_max_body (MmOptions *o) { o->max_body = 100; }
static void spoil_long_poll (MmOptions *o) { o->long_poll_timeout = 0; }
static void spoil_backlog (MmOptions *o) { o->event_backlog = 15; }
static void spoil_cost_low (MmOptions *o) { o->bcrypt_cost = 3; }
static void spoil_cost_high (MmOptions *o) { o->bcrypt_cost = 32; }
static void spoil_failures (MmOptions *o) { o->login_max_failures = 0; }
static void spoil_presence_equal (MmOptions *o) { o->presence_timeout = o->long_poll_timeout; }
static void spoil_presence_less (MmOptions *o) { o->long_poll_timeout = 60; }
static void spoil_log_level (MmOptions *o) { g_free (o->log_level); o->log_level = g_strdup ("loud"); }
static void spoil_listen (MmOptions *o) { g_free (o->listen); o->listen = g_strdup (""); }

/* Out-of-range values are refused with a message naming the setting. */
static void
test_options_validate (OptionsFixture *f, gconstpointer data)
{
  const BadOptions cases[] = {
    { "port", spoil_port },
    { "port", spoil_port_negative },
    { "pool-size", spoil_pool },
    { "workers", spoil_workers },
    { "max-body", spoil_max_body },
    { "long-poll-timeout", spoil_long_poll },
    { "event-backlog", spoil_backlog },
    { "bcrypt-cost", spoil_cost_low },
    { "bcrypt-cost", spoil_cost_high },
    { "login-max-failures", spoil_failures },
    { "presence-timeout", spoil_presence_equal },
    { "presence-timeout", spoil_presence_less },
    { "log-level", spoil_log_level },
    { "listen", spoil_listen },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (MmOptions) o = mm_options_new_default ();
      g_autoptr (GError) error = NULL;

      cases[i].spoil (o);
      g_assert_false (mm_options_validate (o, &error));
      g_assert_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT);
      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, error->message);
      g_assert_true (g_str_has_prefix (error->message, cases[i].name));
    }

  /* The edges of the ranges are fine. */
  f->opts->port = 0;
  f->opts->bcrypt_cost = 4;
  f->opts->long_poll_timeout = 39;
  g_assert_true (mm_options_validate (f->opts, NULL));
  f->opts->port = 65535;
  f->opts->bcrypt_cost = 31;
  g_assert_true (mm_options_validate (f->opts, NULL));
}

/* An argv array that mm_options_parse() may rearrange; the strings stay
 * owned here. */
typedef struct {
  GStrv strings;
  char **argv;
  int argc;
} Args;

static void
args_init (Args *a, const char *const *args)
{
  a->strings = g_strdupv ((char **) args);
  a->argc = (int) g_strv_length (a->strings);
  a->argv = g_memdup2 (a->strings, sizeof (char *) * (a->argc + 1));
}

static void
args_clear (Args *a)
{
  g_strfreev (a->strings);
  g_free (a->argv);
}

/* Command-line options override the --config file, which overrides the
 * defaults. */
static void
test_options_parse (OptionsFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MmOptions) o = NULL;
  gboolean exit_now = TRUE;
  const char *args[] = {
    "mixmeetd", "--config", f->path, "--port", "9100",
    "--database", "dbname=fromcli", "--db-pool-size=7",
    "--port-file", "/tmp/port", "--log-level", "debug",
    "--metrics-token", "scrape-me", "--trusted-proxies", "10.0.0.0/8", NULL,
  };
  Args a;

  options_write (f,
                 "[server]\nport = 9000\nworkers = 2\n"
                 "[database]\nurl = dbname=fromfile\npool-size = 3\n"
                 "[signalling]\nlong-poll-timeout = 10\n");
  args_init (&a, args);
  o = mm_options_parse (&a.argc, &a.argv, &exit_now, &error);
  g_assert_no_error (error);
  g_assert_nonnull (o);
  g_assert_false (exit_now);
  g_assert_cmpint (a.argc, ==, 1);
  g_assert_cmpint (o->port, ==, 9100);            /* command line */
  g_assert_cmpint (o->workers, ==, 2);            /* file */
  g_assert_cmpint (o->long_poll_timeout, ==, 10); /* file */
  g_assert_cmpstr (o->database_url, ==, "dbname=fromcli");
  g_assert_cmpint (o->db_pool_size, ==, 7);
  g_assert_cmpstr (o->log_level, ==, "debug");
  g_assert_cmpstr (o->port_file, ==, "/tmp/port");
  g_assert_cmpstr (o->metrics_token, ==, "scrape-me");
  g_assert_cmpstr (o->trusted_proxies, ==, "10.0.0.0/8");
  g_assert_cmpint (o->presence_timeout, ==, 40);  /* default */
  args_clear (&a);
}

/* Bad command lines: NULL with an error, and no request to exit. */
static void
test_options_parse_errors (OptionsFixture *f, gconstpointer data)
{
  const struct {
    const char *args[4];
    GQuark domain;
    gint code;
    const char *mentions;
  } cases[] = {
    { { "mixmeetd", "--port", "abc", NULL }, MM_ERROR, MM_ERROR_INVALID_INPUT, "--port" },
    { { "mixmeetd", "--port", "70000", NULL }, MM_ERROR, MM_ERROR_INVALID_INPUT, "port" },
    { { "mixmeetd", "--long-poll-timeout", "50", NULL }, MM_ERROR, MM_ERROR_INVALID_INPUT,
      "presence-timeout" },
    { { "mixmeetd", "--no-such-option", NULL, NULL }, G_OPTION_ERROR,
      G_OPTION_ERROR_UNKNOWN_OPTION, "--no-such-option" },
    { { "mixmeetd", "--config", "/nonexistent/mixmeetd.conf", NULL }, G_FILE_ERROR,
      G_FILE_ERROR_NOENT, "/nonexistent/mixmeetd.conf" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (MmOptions) o = NULL;
      gboolean exit_now = TRUE;
      Args a;

      args_init (&a, cases[i].args);
      o = mm_options_parse (&a.argc, &a.argv, &exit_now, &error);
      g_assert_null (o);
      g_assert_false (exit_now);
      g_assert_error (error, cases[i].domain, cases[i].code);
      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, error->message);
      g_assert_nonnull (strstr (error->message, cases[i].mentions));
      args_clear (&a);
    }
}

/* ---- error table ---------------------------------------------------- */

/* A few codes map to their HTTP status and JSON code; unknown ones to
 * 500 "internal". */
static void
test_error_table (void)
{
  const struct {
    gint code;
    guint status;
    const char *json;
  } cases[] = {
    { MM_ERROR_INVALID_INPUT, 400, "invalid_input" },
    { MM_ERROR_MALFORMED_JSON, 400, "malformed_json" },
    { MM_ERROR_INVALID_TOKEN, 401, "invalid_token" },
    { MM_ERROR_GUESTS_NOT_ALLOWED, 403, "guests_not_allowed" },
    { MM_ERROR_ROOM_NOT_FOUND, 404, "room_not_found" },
    { MM_ERROR_METHOD_NOT_ALLOWED, 405, "method_not_allowed" },
    { MM_ERROR_EMAIL_TAKEN, 409, "email_taken" },
    { MM_ERROR_PAYLOAD_TOO_LARGE, 413, "payload_too_large" },
    { MM_ERROR_TOO_MANY_REQUESTS, 429, "too_many_requests" },
    { MM_ERROR_INTERNAL, 500, "internal" },
    { MM_ERROR_DATABASE_UNAVAILABLE, 503, "database_unavailable" },
    { MM_ERROR_SHUTTING_DOWN, 503, "shutting_down" },
    { -1, 500, "internal" },
    { 9999, 500, "internal" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_assert_cmpuint (mm_error_http_status (cases[i].code), ==, cases[i].status);
      g_assert_cmpstr (mm_error_json_code (cases[i].code), ==, cases[i].json);
    }
}

/* Every code up to the last has its own JSON code, and the domain is a
 * proper quark. */
static void
test_error_codes_distinct (void)
{
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (gint code = MM_ERROR_INVALID_INPUT; code <= MM_ERROR_SHUTTING_DOWN; code++)
    {
      guint status = mm_error_http_status (code);

      g_assert_cmpuint (status, >=, 400);
      g_assert_cmpuint (status, <, 600);
      g_assert_true (g_hash_table_add (seen, (gpointer) mm_error_json_code (code)));
    }
  g_assert_cmpuint (g_hash_table_size (seen), ==, MM_ERROR_SHUTTING_DOWN + 1);
  g_assert_cmpstr (g_quark_to_string (MM_ERROR), ==, "mm-error-quark");
}

/* ---- CIDR lists ------------------------------------------------------- */

static void
test_cidr_match (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MmCidrList) l = mm_cidr_list_parse (" 127.0.0.1, 10.0.0.0/8,192.168.1.128/25 , "
                                                 "fd00::/8, ::1, 172.16.5.9/12", &error);

  g_assert_no_error (error);
  g_assert_false (mm_cidr_list_is_empty (l));
  g_assert_true (mm_cidr_list_match_string (l, "127.0.0.1"));
  g_assert_false (mm_cidr_list_match_string (l, "127.0.0.2"));
  g_assert_true (mm_cidr_list_match_string (l, "10.255.1.2"));
  g_assert_false (mm_cidr_list_match_string (l, "11.0.0.1"));
  g_assert_true (mm_cidr_list_match_string (l, "192.168.1.200"));
  g_assert_false (mm_cidr_list_match_string (l, "192.168.1.127"));
  /* Host bits in an entry mean its range. */
  g_assert_true (mm_cidr_list_match_string (l, "172.31.0.1"));
  g_assert_false (mm_cidr_list_match_string (l, "172.32.0.1"));
  g_assert_true (mm_cidr_list_match_string (l, "fd12:3456::1"));
  g_assert_false (mm_cidr_list_match_string (l, "fe80::1"));
  g_assert_true (mm_cidr_list_match_string (l, "::1"));
  g_assert_false (mm_cidr_list_match_string (l, "::2"));
  /* IPv4-mapped IPv6 is the IPv4 address. */
  g_assert_true (mm_cidr_list_match_string (l, "::ffff:10.1.2.3"));
  g_assert_false (mm_cidr_list_match_string (l, "::ffff:11.1.2.3"));
  /* As proxies write them: with ports and brackets. */
  g_assert_true (mm_cidr_list_match_string (l, " 10.0.0.1:5555 "));
  g_assert_true (mm_cidr_list_match_string (l, "[::1]"));
  g_assert_true (mm_cidr_list_match_string (l, "[::1]:443"));
  g_assert_false (mm_cidr_list_match_string (l, "unknown"));
  g_assert_false (mm_cidr_list_match_string (l, ""));
  g_assert_false (mm_cidr_list_match_string (l, "[10.0.0.1]"));
  g_assert_false (mm_cidr_list_match_string (l, "10.0.0.1/8"));

  {
    struct sockaddr_in a4 = { .sin_family = AF_INET };
    struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };

    inet_pton (AF_INET, "10.9.8.7", &a4.sin_addr);
    g_assert_true (mm_cidr_list_match_sockaddr (l, (struct sockaddr *) &a4));
    inet_pton (AF_INET, "8.8.8.8", &a4.sin_addr);
    g_assert_false (mm_cidr_list_match_sockaddr (l, (struct sockaddr *) &a4));
    inet_pton (AF_INET6, "::ffff:127.0.0.1", &a6.sin6_addr);
    g_assert_true (mm_cidr_list_match_sockaddr (l, (struct sockaddr *) &a6));
    inet_pton (AF_INET6, "2001:db8::1", &a6.sin6_addr);
    g_assert_false (mm_cidr_list_match_sockaddr (l, (struct sockaddr *) &a6));
  }
}

static void
test_cidr_mapped_entry (void)
{
  g_autoptr (MmCidrList) l = mm_cidr_list_parse ("::ffff:192.0.2.0/120", NULL);
  g_autoptr (MmCidrList) all4 = mm_cidr_list_parse ("0.0.0.0/0", NULL);
  g_autoptr (MmCidrList) all = mm_cidr_list_parse ("::/0", NULL);

  g_assert_true (mm_cidr_list_match_string (l, "192.0.2.77"));
  g_assert_false (mm_cidr_list_match_string (l, "192.0.3.77"));
  g_assert_true (mm_cidr_list_match_string (all4, "203.0.113.5"));
  g_assert_false (mm_cidr_list_match_string (all4, "2001:db8::1"));
  g_assert_true (mm_cidr_list_match_string (all, "2001:db8::1"));
  g_assert_true (mm_cidr_list_match_string (all, "203.0.113.5"));
}

static void
test_cidr_empty (void)
{
  g_autoptr (MmCidrList) l = mm_cidr_list_parse ("", NULL);
  g_autoptr (MmCidrList) spaces = mm_cidr_list_parse ("   ", NULL);

  g_assert_nonnull (l);
  g_assert_true (mm_cidr_list_is_empty (l));
  g_assert_true (mm_cidr_list_is_empty (spaces));
  g_assert_false (mm_cidr_list_match_string (l, "127.0.0.1"));
  g_assert_false (mm_cidr_list_match_string (NULL, "127.0.0.1"));
}

static void
test_cidr_bad (void)
{
  static const char *const bad[] = {
    "localhost", "10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x",
    "1.2.3.4:80", "[::1]", "300.1.1.1", "10.0.0.0/8/8",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (MmCidrList) l = mm_cidr_list_parse (bad[i], &error);

      g_assert_null (l);
      g_assert_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT);
      g_assert_nonnull (strstr (error->message, "is not an IPv4 or IPv6 address"));
    }
  for (gsize i = 0; i < 2; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (MmCidrList) l = mm_cidr_list_parse (i == 0 ? "127.0.0.1," : "127.0.0.1,,::1",
                                                     &error);

      g_assert_null (l);
      g_assert_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT);
      g_assert_nonnull (strstr (error->message, "is empty"));
    }
  {
    /* The message names the entry that is wrong. */
    g_autoptr (GError) error = NULL;
    g_autoptr (MmCidrList) l = mm_cidr_list_parse ("127.0.0.1, 10.0.0.0/99, ::1", &error);

    g_assert_null (l);
    g_assert_nonnull (strstr (error->message, "\"10.0.0.0/99\""));
  }
}

static void
test_cidr_to_string (void)
{
  guint8 a[16];
  g_autofree char *v4 = NULL;
  g_autofree char *v6 = NULL;

  g_assert_true (mm_cidr_parse_address ("::ffff:10.0.0.1", a));
  v4 = mm_cidr_address_to_string (a);
  g_assert_cmpstr (v4, ==, "10.0.0.1");
  g_assert_true (mm_cidr_parse_address ("[2001:DB8::1]:99", a));
  v6 = mm_cidr_address_to_string (a);
  g_assert_cmpstr (v6, ==, "2001:db8::1");
}

/* ---- the Prometheus text format ----------------------------------------- */

static void
test_prom_text (void)
{
  static const gdouble bounds[] = { 0.1, 1 };
  g_autoptr (MmProm) p = mm_prom_new ();
  g_autoptr (MmHistogram) h = mm_histogram_new (bounds, G_N_ELEMENTS (bounds));
  g_autofree char *text = NULL;

  mm_prom_family (p, "x_total", "counter", "Help with \\ and\nnewline");
  mm_prom_sample (p, "x_total", (const char *[]) { "a", "q\"b\\c\nd", NULL }, 3);
  mm_prom_single (p, "y", "gauge", "A gauge", 0.25);
  mm_histogram_observe (h, 0.05);
  mm_histogram_observe (h, 0.5);
  mm_histogram_observe (h, 7);
  mm_prom_family (p, "z_seconds", "histogram", "A histogram");
  mm_prom_histogram (p, "z_seconds", (const char *[]) { "room", "r", NULL }, h);
  text = mm_prom_finish (g_steal_pointer (&p), NULL);
  g_assert_cmpstr (text, ==,
                   "# HELP x_total Help with \\\\ and\\nnewline\n"
                   "# TYPE x_total counter\n"
                   "x_total{a=\"q\\\"b\\\\c\\nd\"} 3\n"
                   "# HELP y A gauge\n# TYPE y gauge\ny 0.25\n"
                   "# HELP z_seconds A histogram\n# TYPE z_seconds histogram\n"
                   "z_seconds_bucket{room=\"r\",le=\"0.1\"} 1\n"
                   "z_seconds_bucket{room=\"r\",le=\"1\"} 2\n"
                   "z_seconds_bucket{room=\"r\",le=\"+Inf\"} 3\n"
                   "z_seconds_sum{room=\"r\"} 7.55\n"
                   "z_seconds_count{room=\"r\"} 3\n");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define QUEUE_TEST(path, backlog, func) \
  g_test_add (path, QueueFixture, GUINT_TO_POINTER (backlog), \
              queue_setup, func, queue_teardown)
  QUEUE_TEST ("/core/queue/seq", 16, test_queue_seq);
  QUEUE_TEST ("/core/queue/collect-after-cursor", 16, test_queue_collect_after_cursor);
  QUEUE_TEST ("/core/queue/collect-appends", 16, test_queue_collect_appends);
  QUEUE_TEST ("/core/queue/empty", 16, test_queue_empty);
  QUEUE_TEST ("/core/queue/gap-dropped", 4, test_queue_gap_dropped);
  QUEUE_TEST ("/core/queue/gap-ahead", 16, test_queue_gap_ahead);
  QUEUE_TEST ("/core/queue/max", 16, test_queue_max);
  QUEUE_TEST ("/core/queue/fields-no-override", 16, test_queue_fields_no_override);
  QUEUE_TEST ("/core/queue/backlog-zero", 0, test_queue_backlog_zero);
#undef QUEUE_TEST

  g_test_add_func ("/core/roomcode/new", test_roomcode_new);
  g_test_add_func ("/core/roomcode/valid", test_roomcode_valid);

  g_test_add_func ("/core/throttle/block", test_throttle_block);
  g_test_add_func ("/core/throttle/window", test_throttle_window);
  g_test_add_func ("/core/throttle/clear", test_throttle_clear);
  g_test_add_func ("/core/throttle/keys", test_throttle_keys);
  g_test_add_func ("/core/throttle/prune", test_throttle_prune);
  g_test_add_func ("/core/throttle/many-failures", test_throttle_many_failures);

  g_test_add_func ("/core/secret/token", test_secret_token);
  g_test_add_func ("/core/secret/hash", test_secret_hash);
  g_test_add_func ("/core/secret/equal", test_secret_equal);
  g_test_add_func ("/core/secret/random", test_secret_random);

  g_test_add_func ("/core/password/hash-verify", test_password_hash_verify);
  g_test_add_func ("/core/password/no-hash", test_password_no_hash);

#define OPTIONS_TEST(path, func) \
  g_test_add (path, OptionsFixture, NULL, options_setup, func, options_teardown)
  OPTIONS_TEST ("/core/options/defaults", test_options_defaults);
  OPTIONS_TEST ("/core/options/load-file", test_options_load_file);
  OPTIONS_TEST ("/core/options/load-not-number", test_options_load_not_number);
  OPTIONS_TEST ("/core/options/load-bad-escape", test_options_load_bad_escape);
  OPTIONS_TEST ("/core/options/load-bad-file", test_options_load_bad_file);
  OPTIONS_TEST ("/core/options/load-unknown", test_options_load_unknown);
  OPTIONS_TEST ("/core/options/example-file", test_options_example_file);
  OPTIONS_TEST ("/core/options/validate", test_options_validate);
  OPTIONS_TEST ("/core/options/parse", test_options_parse);
  OPTIONS_TEST ("/core/options/parse-errors", test_options_parse_errors);
#undef OPTIONS_TEST

  g_test_add_func ("/core/cidr/match", test_cidr_match);
  g_test_add_func ("/core/cidr/mapped-entry", test_cidr_mapped_entry);
  g_test_add_func ("/core/cidr/empty", test_cidr_empty);
  g_test_add_func ("/core/cidr/bad", test_cidr_bad);
  g_test_add_func ("/core/cidr/to-string", test_cidr_to_string);

  g_test_add_func ("/core/error/table", test_error_table);
  g_test_add_func ("/core/error/codes-distinct", test_error_codes_distinct);

  g_test_add_func ("/core/prom/text", test_prom_text);

  return g_test_run ();
}
