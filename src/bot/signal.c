/* signal.c — the bot's side of the REST and long-poll API, with libcurl.
 *
 * Each bot has a signalling thread that joins the room and then loops on
 * GET {events}?since=LAST with a blocking request, and a GThreadPool of one
 * thread that posts its messages (offer, candidates) to {messages} in the
 * order they were queued.  Results cross to the main loop with
 * g_main_context_invoke; the events of one answer travel together so that
 * their order is kept.
 */
#include "config.h"

#include "bot/bot.h"

#include <curl/curl.h>
#include <string.h>

/* ---- one HTTP request --------------------------------------------------- */

typedef MmBotHttpResult HttpResult;

static void
http_result_clear (HttpResult *r)
{
  g_clear_pointer (&r->transport_error, g_free);
  g_clear_pointer (&r->json, json_node_unref);
  r->status = 0;
  r->timed_out = FALSE;
}

void
mm_bot_http_result_clear (MmBotHttpResult *r)
{
  http_result_clear (r);
}

static size_t
on_body (char *data, size_t size, size_t n, void *user)
{
  g_string_append_len (user, data, (gssize) (size * n));
  return size * n;
}

/* Abort a transfer once the bot is told to stop. */
static int
on_progress (void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
             curl_off_t ulnow)
{
  gint *stop = user;
  return g_atomic_int_get (stop) ? 1 : 0;
}

/* A transfer being made: the easy handle and what it collects. */
typedef struct {
  CURL *curl;
  GString *body;
  struct curl_slist *headers;
  char errbuf[CURL_ERROR_SIZE];
} Transfer;

static void
transfer_free (Transfer *t)
{
  if (t->curl != NULL)
    curl_easy_cleanup (t->curl);
  curl_slist_free_all (t->headers);
  g_string_free (t->body, TRUE);
  g_free (t);
}

/* An easy handle for @method @url (@bearer and @body may be NULL), or
 * NULL when libcurl cannot make one.  @stop: when not NULL, the request
 * ends as soon as *@stop is set.  Returns: (transfer full) */
static Transfer *
transfer_new (const char *method, const char *url, const char *bearer, const char *body,
              long timeout_s, gint *stop)
{
  Transfer *t = g_new0 (Transfer, 1);
  CURL *curl = curl_easy_init ();

  t->body = g_string_new (NULL);
  if (curl == NULL)
    {
      transfer_free (t);
      return NULL;
    }
  t->curl = curl;
  curl_easy_setopt (curl, CURLOPT_URL, url);
  curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (curl, CURLOPT_TIMEOUT, timeout_s);
  curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, t->errbuf);
  curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt (curl, CURLOPT_WRITEDATA, t->body);
  if (stop != NULL)
    {
      curl_easy_setopt (curl, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt (curl, CURLOPT_XFERINFOFUNCTION, on_progress);
      curl_easy_setopt (curl, CURLOPT_XFERINFODATA, stop);
    }
  if (bearer != NULL)
    {
      g_autofree char *auth = g_strdup_printf ("Authorization: Bearer %s", bearer);
      t->headers = curl_slist_append (t->headers, auth);
    }
  if (body != NULL)
    {
      t->headers = curl_slist_append (t->headers, "Content-Type: application/json");
      curl_easy_setopt (curl, CURLOPT_COPYPOSTFIELDS, body);
    }
  else if (g_str_equal (method, "POST"))
    curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) 0);
  t->headers = curl_slist_append (t->headers, "Expect:");
  curl_easy_setopt (curl, CURLOPT_HTTPHEADER, t->headers);
  return t;
}

/* Fill @out from the finished transfer @t (result @rc).  Returns TRUE for
 * a 2xx answer. */
static gboolean
transfer_finish (Transfer *t, CURLcode rc, HttpResult *out)
{
  const char *ct = NULL;

  memset (out, 0, sizeof *out);
  if (rc != CURLE_OK)
    {
      out->transport_error = g_strdup (t->errbuf[0] != '\0' ? t->errbuf : curl_easy_strerror (rc));
      out->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
      return FALSE;
    }
  curl_easy_getinfo (t->curl, CURLINFO_RESPONSE_CODE, &out->status);
  if (curl_easy_getinfo (t->curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL
      && g_str_has_prefix (ct, "application/json") && t->body->len > 0)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();

      if (json_parser_load_from_data (parser, t->body->str, (gssize) t->body->len, NULL)
          && json_parser_get_root (parser) != NULL)
        out->json = json_node_copy (json_parser_get_root (parser));
    }
  return out->status >= 200 && out->status < 300;
}

/* @url, @bearer, @body: transfer none (@bearer and @body may be NULL).
 * @stop: when not NULL, the request ends as soon as *@stop is set.
 * Returns TRUE for a 2xx answer. */
static gboolean
http_request (const char *method, const char *url, const char *bearer, const char *body,
              long timeout_s, gint *stop, HttpResult *out)
{
  Transfer *t = transfer_new (method, url, bearer, body, timeout_s, stop);
  gboolean ok;

  if (t == NULL)
    {
      memset (out, 0, sizeof *out);
      out->transport_error = g_strdup ("curl_easy_init failed");
      return FALSE;
    }
  ok = transfer_finish (t, curl_easy_perform (t->curl), out);
  transfer_free (t);
  return ok;
}

static JsonObject *
node_object (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/* A string member, or NULL if absent or not a string (never asserts on
 * what the server sends). */
static const char *
obj_str (JsonObject *o, const char *name)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, name) : NULL;

  return n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
           ? json_node_get_string (n) : NULL;
}

static gboolean
obj_int (JsonObject *o, const char *name, gint64 *value)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, name) : NULL;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return FALSE;
  *value = json_node_get_int (n);
  return TRUE;
}

const char *
mm_bot_json_str (JsonObject *o, const char *name)
{
  return obj_str (o, name);
}

gboolean
mm_bot_json_int (JsonObject *o, const char *name, gint64 *value)
{
  return obj_int (o, name, value);
}

static JsonObject *
obj_obj (JsonObject *o, const char *name)
{
  return node_object (o != NULL ? json_object_get_member (o, name) : NULL);
}

/* The API error code of an answer, or NULL. */
static const char *
error_code (const HttpResult *r)
{
  return obj_str (obj_obj (node_object (r->json), "error"), "code");
}

const char *
mm_bot_http_error_code (const MmBotHttpResult *r)
{
  return error_code (r);
}

/* "HTTP 404 room_not_found: no room has this code", or the transport
 * error.  Transfer full. */
static char *
describe_failure (const HttpResult *r, const char *url)
{
  JsonObject *err = obj_obj (node_object (r->json), "error");

  if (r->status == 0)
    return g_strdup_printf ("no answer from %s: %s", url,
                            r->transport_error ? r->transport_error : "unknown error");
  if (err != NULL)
    return g_strdup_printf ("HTTP %ld %s: %s", r->status,
                            obj_str (err, "code") ? obj_str (err, "code") : "(no code)",
                            obj_str (err, "message") ? obj_str (err, "message") : "");
  return g_strdup_printf ("HTTP %ld (no error body)", r->status);
}

char *
mm_bot_http_describe_failure (const MmBotHttpResult *r, const char *url)
{
  return describe_failure (r, url);
}

/* The server gives paths; accept absolute URLs too.  Transfer full. */
static char *
absolute_url (const char *server, const char *path)
{
  if (g_str_has_prefix (path, "http://") || g_str_has_prefix (path, "https://"))
    return g_strdup (path);
  return g_strconcat (server, path[0] == '/' ? "" : "/", path, NULL);
}

/* Transfer full. */
static char *
object_to_text (JsonObject *o)
{
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);

  json_node_set_object (node, o);
  return json_to_string (node, FALSE);
}

char *
mm_bot_json_text (JsonObject *o)
{
  return object_to_text (o);
}

/* ---- process-wide ------------------------------------------------------- */

void
mm_bot_signal_global_init (void)
{
  curl_global_init (CURL_GLOBAL_DEFAULT);
}

void
mm_bot_signal_global_cleanup (void)
{
  curl_global_cleanup ();
}

char *
mm_bot_signal_login (const MmBotOptions *opts, char **user_name, GError **error)
{
  g_autofree char *url = g_strconcat (opts->server, "/api/v1/auth/login", NULL);
  g_autoptr (JsonObject) body = json_object_new ();
  g_autofree char *text = NULL;
  HttpResult r;
  const char *token;
  char *out;

  json_object_set_string_member (body, "email", opts->email);
  json_object_set_string_member (body, "password", opts->password);
  text = object_to_text (body);
  if (!http_request ("POST", url, NULL, text, 30, NULL, &r))
    {
      g_autofree char *why = describe_failure (&r, url);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "sign-in as %s failed: %s",
                   opts->email, why);
      http_result_clear (&r);
      return NULL;
    }
  token = obj_str (node_object (r.json), "token");
  if (token == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "sign-in answered HTTP %ld without a token", r.status);
      http_result_clear (&r);
      return NULL;
    }
  *user_name = g_strdup (obj_str (obj_obj (node_object (r.json), "user"), "name"));
  out = g_strdup (token);
  http_result_clear (&r);
  return out;
}

/* ---- crossing to the main loop ------------------------------------------ */

typedef enum {
  TO_MAIN_JOINED,
  TO_MAIN_JOIN_FAILED,
  TO_MAIN_EVENTS,
  TO_MAIN_GONE,
} ToMainKind;

typedef struct {
  MmBot *bot;
  ToMainKind kind;
  char *text;
  JsonNode *events;         /* TO_MAIN_EVENTS: the array */
} ToMain;

static void
to_main_free (gpointer data)
{
  ToMain *m = data;

  g_free (m->text);
  if (m->events != NULL)
    json_node_unref (m->events);
  g_free (m);
}

static void handle_event (MmBot *bot, JsonObject *ev);

static const char *
or_unknown (const char *s)
{
  return s != NULL ? s : "?";
}

static gboolean
to_main_run (gpointer data)
{
  ToMain *m = data;
  MmBot *bot = m->bot;

  if (bot->app->stopping)
    return G_SOURCE_REMOVE;
  switch (m->kind)
    {
    case TO_MAIN_JOINED:
      mm_bot_joined (bot);
      break;
    case TO_MAIN_JOIN_FAILED:
      mm_bot_join_failed (bot, m->text);
      break;
    case TO_MAIN_GONE:
      bot->gone = TRUE;
      mm_bot_stop (bot, m->text);
      break;
    case TO_MAIN_EVENTS:
      {
        JsonArray *a = json_node_get_array (m->events);

        for (guint i = 0; i < json_array_get_length (a) && !bot->stopped; i++)
          {
            JsonObject *ev = node_object (json_array_get_element (a, i));

            if (ev != NULL)
              handle_event (bot, ev);
          }
      }
      break;
    }
  return G_SOURCE_REMOVE;
}

/* @text, @events: transfer full. */
static void
to_main (MmBot *bot, ToMainKind kind, char *text, JsonNode *events)
{
  ToMain *m = g_new0 (ToMain, 1);

  m->bot = bot;
  m->kind = kind;
  m->text = text;
  m->events = events;
  g_main_context_invoke_full (NULL, G_PRIORITY_DEFAULT, to_main_run, m, to_main_free);
}

/* ---- events, on the main loop ------------------------------------------- */

static void
handle_event (MmBot *bot, JsonObject *ev)
{
  const char *type = obj_str (ev, "type");
  gint64 seq = -1;

  obj_int (ev, "seq", &seq);
  if (type == NULL)
    {
      mm_bot_debug (bot, "event %" G_GINT64_FORMAT " without a type: ignored", seq);
      return;
    }
  if (g_str_equal (type, "answer"))
    {
      const char *sdp = obj_str (ev, "sdp");

      if (sdp == NULL)
        mm_bot_log (bot, "answer event %" G_GINT64_FORMAT " without sdp: ignored", seq);
      else
        mm_bot_media_set_answer (bot, sdp);
    }
  else if (g_str_equal (type, "ice"))
    {
      const char *cand = obj_str (ev, "candidate");
      gint64 mline = 0;

      if (!obj_int (ev, "sdp_mline_index", &mline) || mline < 0 || mline > G_MAXINT)
        mline = 0;
      /* An empty candidate means end of candidates: nothing to add. */
      if (cand != NULL && cand[0] != '\0')
        mm_bot_media_add_candidate (bot, (guint) mline, cand);
    }
  else if (g_str_equal (type, "layout"))
    {
      g_clear_pointer (&bot->layout, json_object_unref);
      bot->layout = json_object_ref (ev);
      mm_bot_debug (bot, "layout event %" G_GINT64_FORMAT, seq);
    }
  else if (g_str_equal (type, "active-speaker"))
    {
      const char *id = obj_str (ev, "participant_id");

      g_free (bot->active_speaker);
      bot->active_speaker = g_strdup (id);
    }
  else if (g_str_equal (type, "participant-joined"))
    mm_bot_debug (bot, "joined: %s",
                  or_unknown (obj_str (obj_obj (ev, "participant"), "display_name")));
  else if (g_str_equal (type, "participant-left"))
    mm_bot_debug (bot, "left: %s (%s)", or_unknown (obj_str (ev, "display_name")),
                  or_unknown (obj_str (ev, "reason")));
  else if (g_str_equal (type, "media-failed"))
    {
      /* The server closed our media: connect again, as a browser would. */
      mm_bot_log (bot, "the server closed our media (%s): offering again",
                  or_unknown (obj_str (ev, "reason")));
      mm_bot_media_restart (bot);
    }
  else if (g_str_equal (type, "uplink"))
    {
      /* Send less (or, with nulls, as before): the camera's encoder is
       * set to it, and a line says so. */
      gint64 bps = 0, height = 0;
      g_autoptr (GString) out = g_string_new (NULL);

      if (!obj_int (ev, "max_bitrate", &bps) || bps < 0)
        bps = 0;
      if (!obj_int (ev, "max_height", &height) || height < 0)
        height = 0;
      mm_bot_media_limit_uplink (bot, (guint64) bps);
      g_string_append_printf (out, "{\"bot\":%u,\"event\":\"uplink\",\"max_bitrate\":%"
                              G_GINT64_FORMAT ",\"max_height\":%" G_GINT64_FORMAT "}",
                              bot->index, bps, height);
      mm_bot_print_line (out);
    }
  else if (g_str_equal (type, "video-size"))
    {
      /* The camera's tile: send no more than that, and say so. */
      gint64 mw = 0, mh = 0;
      gint w, h;
      g_autoptr (GString) out = g_string_new (NULL);

      if (!obj_int (ev, "max_width", &mw) || mw < 0 || mw > 16384)
        mw = 0;
      if (!obj_int (ev, "max_height", &mh) || mh < 0 || mh > 16384)
        mh = 0;
      mm_bot_media_video_size (bot, (gint) mw, (gint) mh, &w, &h);
      g_string_append_printf (out, "{\"bot\":%u,\"event\":\"video-size\",\"max_width\":%"
                              G_GINT64_FORMAT ",\"max_height\":%" G_GINT64_FORMAT
                              ",\"width\":%d,\"height\":%d}", bot->index, mw, mh, w, h);
      mm_bot_print_line (out);
    }
  else if (g_str_equal (type, "error"))
    mm_bot_log (bot, "error event from the server: %s", or_unknown (obj_str (ev, "message")));
  else
    mm_bot_debug (bot, "event %" G_GINT64_FORMAT " %s ignored", seq, type);
}

/* ---- the signalling thread ---------------------------------------------- */

/* Sleep @ms, or less if the bot is told to stop. */
static void
nap (MmBot *bot, guint ms)
{
  for (guint slept = 0; slept < ms && !g_atomic_int_get (&bot->stop); slept += 50)
    g_usleep (50 * 1000);
}

char *
mm_bot_signal_join_url (const MmBotOptions *opts)
{
  g_autofree char *code = g_uri_escape_string (opts->room, NULL, FALSE);

  return g_strdup_printf ("%s/api/v1/rooms/%s/join", opts->server, code);
}

char *
mm_bot_signal_join_body (const char *name, const char *quality)
{
  g_autoptr (JsonObject) body = json_object_new ();

  if (name != NULL)
    json_object_set_string_member (body, "display_name", name);
  if (quality != NULL)
    json_object_set_string_member (body, "quality", quality);
  return object_to_text (body);
}

void
mm_bot_session_clear (MmBotSession *s)
{
  g_clear_pointer (&s->participant_id, g_free);
  g_clear_pointer (&s->secret, g_free);
  g_clear_pointer (&s->events_url, g_free);
  g_clear_pointer (&s->messages_url, g_free);
  g_clear_pointer (&s->leave_url, g_free);
}

gboolean
mm_bot_signal_parse_join (const char *server, const MmBotHttpResult *r, MmBotSession *s,
                          char **why)
{
  JsonObject *o = node_object (r->json), *sig = obj_obj (o, "signalling");
  const char *pid = obj_str (obj_obj (o, "participant"), "id");
  const char *secret = obj_str (o, "secret");
  const char *events = obj_str (sig, "events");
  const char *messages = obj_str (sig, "messages");
  const char *leave = obj_str (sig, "leave");
  gint64 lpt = 25, presence = 40, last_seq = 0;

  if (pid == NULL || secret == NULL || events == NULL || messages == NULL || leave == NULL)
    {
      *why = g_strdup_printf ("HTTP %ld: the join answer lacks participant.id, secret or "
                              "signalling URLs", r->status);
      return FALSE;
    }
  obj_int (sig, "long_poll_timeout_s", &lpt);
  obj_int (sig, "presence_timeout_s", &presence);
  obj_int (o, "last_seq", &last_seq);
  s->participant_id = g_strdup (pid);
  s->secret = g_strdup (secret);
  s->events_url = absolute_url (server, events);
  s->messages_url = absolute_url (server, messages);
  s->leave_url = absolute_url (server, leave);
  s->long_poll_timeout = (int) CLAMP (lpt, 1, 3600);
  s->presence_timeout = (int) CLAMP (presence, 2, 3600);
  s->last_seq = MAX (last_seq, 0);
  return TRUE;
}

gboolean
mm_bot_signal_parse_events (const MmBotHttpResult *r, JsonArray **events, gint64 *last_seq)
{
  JsonObject *o = node_object (r->json);
  JsonNode *list = o != NULL ? json_object_get_member (o, "events") : NULL;

  if (list == NULL || !JSON_NODE_HOLDS_ARRAY (list) || !obj_int (o, "last_seq", last_seq))
    return FALSE;
  *events = json_node_get_array (list);
  return TRUE;
}

/* Join the room; fills the bot's signalling members.  On failure returns
 * FALSE with a message in *@why (transfer full). */
static gboolean
join (MmBot *bot, char **why)
{
  const MmBotOptions *opts = &bot->app->opts;
  g_autofree char *url = mm_bot_signal_join_url (opts);
  g_autofree char *text = mm_bot_signal_join_body (bot->name, opts->quality);
  MmBotSession s = { 0 };
  HttpResult r;

  bot->join_start_us = g_get_monotonic_time ();
  if (!http_request ("POST", url, bot->app->token, text, 30, &bot->stop, &r))
    {
      *why = describe_failure (&r, url);
      http_result_clear (&r);
      return FALSE;
    }
  mm_bot_step (bot, MM_BOT_STEP_JOINED);
  if (!mm_bot_signal_parse_join (opts->server, &r, &s, why))
    {
      http_result_clear (&r);
      return FALSE;
    }
  bot->participant_id = g_steal_pointer (&s.participant_id);
  bot->secret = g_steal_pointer (&s.secret);
  bot->events_url = g_steal_pointer (&s.events_url);
  bot->messages_url = g_steal_pointer (&s.messages_url);
  bot->leave_url = g_steal_pointer (&s.leave_url);
  bot->long_poll_timeout = s.long_poll_timeout;
  bot->presence_timeout = s.presence_timeout;
  bot->last_seq = s.last_seq;
  http_result_clear (&r);
  return TRUE;
}

static void
poll_events (MmBot *bot)
{
  guint backoff_ms = 0;
  gboolean complained = FALSE;
  gint64 last_ok = g_get_monotonic_time ();

  while (!g_atomic_int_get (&bot->stop))
    {
      g_autofree char *url = g_strdup_printf ("%s?since=%" G_GINT64_FORMAT, bot->events_url,
                                              bot->last_seq);
      JsonObject *o;
      JsonNode *events;
      gint64 last_seq;
      HttpResult r;

      if (http_request ("GET", url, bot->secret, NULL, bot->long_poll_timeout + 10L, &bot->stop,
                        &r)
          && (o = node_object (r.json)) != NULL
          && (events = json_object_get_member (o, "events")) != NULL
          && JSON_NODE_HOLDS_ARRAY (events)
          && obj_int (o, "last_seq", &last_seq))
        {
          if (complained)
            mm_bot_log (bot, "events: reachable again");
          complained = FALSE;
          backoff_ms = 0;
          last_ok = g_get_monotonic_time ();
          bot->last_seq = last_seq;
          if (json_array_get_length (json_node_get_array (events)) > 0)
            to_main (bot, TO_MAIN_EVENTS, NULL, json_node_copy (events));
          http_result_clear (&r);
          continue;
        }
      if (g_atomic_int_get (&bot->stop))
        {
          http_result_clear (&r);
          break;
        }
      /* Gone for good: removed, left, timed out, server restarted; or a
       * secret the server refuses. */
      if ((r.status == 404 && g_strcmp0 (error_code (&r), "participant_not_found") == 0)
          || r.status == 401 || r.status == 403)
        {
          g_autofree char *why = describe_failure (&r, url);

          to_main (bot, TO_MAIN_GONE, g_strdup_printf ("events: %s", why), NULL);
          http_result_clear (&r);
          break;
        }
      /* Without a poll for longer than the presence timeout the server has
       * removed us anyway: give up rather than linger (e.g. after the
       * server was killed).  A poll that timed out is another matter: the
       * server took it and was slow to answer (a busy machine); held
       * there, it kept us present, and if the server has forgotten us it
       * says so (404) to the next one. */
      if (r.timed_out)
        last_ok = g_get_monotonic_time ();
      else if (g_get_monotonic_time () - last_ok
               > (gint64) (bot->presence_timeout + 5) * G_USEC_PER_SEC)
        {
          g_autofree char *why = describe_failure (&r, url);

          to_main (bot, TO_MAIN_GONE,
                   g_strdup_printf ("events: no answer for longer than the presence timeout "
                                    "(%d s), giving up; last: %s", bot->presence_timeout, why),
                   NULL);
          http_result_clear (&r);
          break;
        }
      backoff_ms = backoff_ms == 0 ? 250 : MIN (backoff_ms * 2, 5000);
      if (!complained)
        {
          g_autofree char *why = r.status == 200
                                   ? g_strdup ("HTTP 200 with a body that is not an events list")
                                   : describe_failure (&r, url);

          mm_bot_log (bot, "events: %s; retrying", why);
          complained = TRUE;
        }
      http_result_clear (&r);
      nap (bot, backoff_ms);
    }
}

static gpointer
signal_thread (gpointer data)
{
  MmBot *bot = data;
  char *why = NULL;

  if (!join (bot, &why))
    {
      if (!g_atomic_int_get (&bot->stop))
        to_main (bot, TO_MAIN_JOIN_FAILED, why, NULL);
      else
        g_free (why);
      return NULL;
    }
  to_main (bot, TO_MAIN_JOINED, NULL, NULL);
  poll_events (bot);
  return NULL;
}

/* ---- posting messages --------------------------------------------------- */

static void
post_message (gpointer data, gpointer user_data)
{
  g_autoptr (JsonObject) msg = data;
  MmBot *bot = user_data;
  const char *type = obj_str (msg, "type");
  g_autofree char *text = NULL;
  HttpResult r;

  if (g_atomic_int_get (&bot->stop))
    return;
  text = object_to_text (msg);
  if (!http_request ("POST", bot->messages_url, bot->secret, text, 15, &bot->stop, &r)
      && !g_atomic_int_get (&bot->stop))
    {
      g_autofree char *why = describe_failure (&r, bot->messages_url);

      /* One line for the offer, one for the first refused candidate. */
      if (g_strcmp0 (type, "ice") != 0)
        mm_bot_log (bot, "%s rejected: %s", type ? type : "message", why);
      else if (g_atomic_int_add (&bot->ice_errors, 1) == 0)
        mm_bot_log (bot, "ice candidate rejected: %s (further refusals not shown)", why);
    }
  else if (type != NULL && !g_str_equal (type, "ice"))
    mm_bot_debug (bot, "%s posted: HTTP %ld", type, r.status);
  http_result_clear (&r);
}

void
mm_bot_signal_send (MmBot *bot, JsonObject *msg)
{
  g_autoptr (GError) error = NULL;

  if (bot->outbox == NULL || g_atomic_int_get (&bot->stop))
    {
      json_object_unref (msg);
      return;
    }
  if (!g_thread_pool_push (bot->outbox, msg, &error))
    {
      mm_bot_log (bot, "cannot queue a message: %s", error->message);
      json_object_unref (msg);
    }
}

/* ---- start and stop ----------------------------------------------------- */

void
mm_bot_signal_start (MmBot *bot)
{
  g_autofree char *name = g_strdup_printf ("bot-%u-signal", bot->index);
  g_autoptr (GError) error = NULL;

  /* Shared threads, at most one at a time for this bot: FIFO order. */
  bot->outbox = g_thread_pool_new (post_message, bot, 1, FALSE, &error);
  if (bot->outbox == NULL)
    g_error ("cannot create a thread pool: %s", error->message);
  bot->thread = g_thread_new (name, signal_thread, bot);
}

void
mm_bot_signal_request_stop (MmBot *bot)
{
  g_atomic_int_set (&bot->stop, 1);
}

static void
post_leave (MmBot *bot)
{
  HttpResult r;

  if (!http_request ("POST", bot->leave_url, bot->secret, NULL, 5, NULL, &r)
      && !(r.status == 404 && g_strcmp0 (error_code (&r), "participant_not_found") == 0))
    {
      g_autofree char *why = describe_failure (&r, bot->leave_url);
      mm_bot_log (bot, "leave failed: %s", why);
    }
  http_result_clear (&r);
}

static gpointer
leave_thread (gpointer data)
{
  post_leave (data);
  return NULL;
}

void
mm_bot_signal_leave_soon (MmBot *bot)
{
  mm_bot_signal_request_stop (bot);
  /* leave_url and secret were set before the join reached the main loop
   * and do not change: the new thread may read them. */
  if (bot->leave_url != NULL && !bot->gone && bot->leaver == NULL)
    {
      bot->gone = TRUE;
      bot->leaver = g_thread_new ("bot-leave", leave_thread, bot);
    }
}

void
mm_bot_signal_stop (MmBot *bot)
{
  mm_bot_signal_request_stop (bot);
  if (bot->outbox != NULL)
    g_thread_pool_free (g_steal_pointer (&bot->outbox), TRUE, TRUE);
  if (bot->thread != NULL)
    g_thread_join (g_steal_pointer (&bot->thread));
  if (bot->leaver != NULL)
    g_thread_join (g_steal_pointer (&bot->leaver));
  /* The threads have ended: their members are ours now. */
  if (bot->leave_url != NULL && !bot->gone)
    {
      post_leave (bot);
      bot->gone = TRUE;
    }
}

/* ---- many participants on one thread (--viewers) -------------------------
 *
 * One thread runs every request of the lean viewers with libcurl's multi
 * interface.  Requests that a server answers at once (join, messages,
 * leave) are bounded: at most max_active run, the others wait in order.
 * Held requests (long-polls) are not: each viewer keeps one waiting, as a
 * browser does, and a waiting request costs the server nothing.  Each
 * result goes back to the caller's GMainContext.
 */

struct _MmBotHttp {
  GMainContext *ctx;
  guint max_active;
  GThread *thread;
  CURLM *multi;
  GMutex lock;               /* guards what follows */
  GQueue waiting;            /* of Call*, bounded ones not started yet */
  GQueue incoming;           /* of Call*, to add to the multi handle */
  guint active;              /* bounded calls started and not finished */
  guint pending;             /* bounded calls not finished (waiting or active) */
  gboolean stop;
  GHashTable *running;       /* the thread's: Call* in the multi handle */
};

typedef struct {
  MmBotHttp *http;
  Transfer *t;
  gboolean held;
  MmBotHttpDone done;
  gpointer data;
  HttpResult result;
} Call;

static void
call_free (gpointer data)
{
  Call *c = data;

  if (c->t != NULL)
    transfer_free (c->t);
  http_result_clear (&c->result);
  g_free (c);
}

/* The caller's context: hand over the result. */
static gboolean
call_done (gpointer data)
{
  Call *c = data;

  c->done (&c->result, c->data);
  return G_SOURCE_REMOVE;
}

/* Under lock: move waiting bounded calls to incoming while there is room. */
static void
http_admit (MmBotHttp *h)
{
  while (h->active < h->max_active && !g_queue_is_empty (&h->waiting))
    {
      g_queue_push_tail (&h->incoming, g_queue_pop_head (&h->waiting));
      h->active++;
    }
}

static gpointer
http_thread (gpointer data)
{
  MmBotHttp *h = data;

  for (;;)
    {
      GQueue add = G_QUEUE_INIT;
      CURLMsg *msg;
      int running, left;

      g_mutex_lock (&h->lock);
      if (h->stop)
        {
          g_mutex_unlock (&h->lock);
          break;
        }
      add = h->incoming;
      g_queue_init (&h->incoming);
      g_mutex_unlock (&h->lock);
      for (GList *l = add.head; l != NULL; l = l->next)
        {
          Call *c = l->data;

          curl_easy_setopt (c->t->curl, CURLOPT_PRIVATE, c);
          curl_multi_add_handle (h->multi, c->t->curl);
          g_hash_table_add (h->running, c);
        }
      g_queue_clear (&add);

      curl_multi_perform (h->multi, &running);
      while ((msg = curl_multi_info_read (h->multi, &left)) != NULL)
        {
          Call *c = NULL;

          if (msg->msg != CURLMSG_DONE)
            continue;
          curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, (char **) &c);
          transfer_finish (c->t, msg->data.result, &c->result);
          curl_multi_remove_handle (h->multi, c->t->curl);
          g_hash_table_remove (h->running, c);
          transfer_free (g_steal_pointer (&c->t));
          g_mutex_lock (&h->lock);
          if (!c->held)
            {
              h->active--;
              h->pending--;
              http_admit (h);
            }
          g_mutex_unlock (&h->lock);
          g_main_context_invoke_full (h->ctx, G_PRIORITY_DEFAULT, call_done, c, call_free);
        }
      curl_multi_poll (h->multi, NULL, 0, 1000, NULL);
    }
  return NULL;
}

MmBotHttp *
mm_bot_http_new (GMainContext *ctx, guint max_active)
{
  MmBotHttp *h = g_new0 (MmBotHttp, 1);

  h->ctx = ctx != NULL ? g_main_context_ref (ctx) : g_main_context_ref_thread_default ();
  h->max_active = MAX (max_active, 1);
  h->multi = curl_multi_init ();
  if (h->multi == NULL)
    g_error ("curl_multi_init failed");
  g_mutex_init (&h->lock);
  g_queue_init (&h->waiting);
  g_queue_init (&h->incoming);
  h->running = g_hash_table_new (NULL, NULL);
  h->thread = g_thread_new ("bot-http", http_thread, h);
  return h;
}

void
mm_bot_http_request (MmBotHttp *h, const char *method, const char *url, const char *bearer,
                     const char *body, long timeout_s, gboolean held, MmBotHttpDone done,
                     gpointer data)
{
  Call *c = g_new0 (Call, 1);

  c->http = h;
  c->held = held;
  c->done = done;
  c->data = data;
  c->t = transfer_new (method, url, bearer, body, timeout_s, NULL);
  if (c->t == NULL)
    {
      c->result.transport_error = g_strdup ("curl_easy_init failed");
      g_main_context_invoke_full (h->ctx, G_PRIORITY_DEFAULT, call_done, c, call_free);
      return;
    }
  g_mutex_lock (&h->lock);
  if (held)
    g_queue_push_tail (&h->incoming, c);
  else
    {
      g_queue_push_tail (&h->waiting, c);
      h->pending++;
      http_admit (h);
    }
  g_mutex_unlock (&h->lock);
  curl_multi_wakeup (h->multi);
}

guint
mm_bot_http_pending (MmBotHttp *h)
{
  guint n;

  g_mutex_lock (&h->lock);
  n = h->pending;
  g_mutex_unlock (&h->lock);
  return n;
}

void
mm_bot_http_free (MmBotHttp *h)
{
  g_mutex_lock (&h->lock);
  h->stop = TRUE;
  g_mutex_unlock (&h->lock);
  curl_multi_wakeup (h->multi);
  g_thread_join (h->thread);
  /* What is still in the multi handle. */
  {
    GHashTableIter it;
    gpointer key;

    g_hash_table_iter_init (&it, h->running);
    while (g_hash_table_iter_next (&it, &key, NULL))
      {
        Call *c = key;

        curl_multi_remove_handle (h->multi, c->t->curl);
        call_free (c);
      }
  }
  g_hash_table_unref (h->running);
  g_queue_clear_full (&h->waiting, call_free);
  g_queue_clear_full (&h->incoming, call_free);
  curl_multi_cleanup (h->multi);
  g_mutex_clear (&h->lock);
  g_main_context_unref (h->ctx);
  g_free (h);
}
