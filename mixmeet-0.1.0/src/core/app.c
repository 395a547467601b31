/* app.c — moving work between the main loop and the worker pool. */
#include "config.h"

#include "core/app.h"

typedef struct {
  MmApp *app;
  MmWorkFunc func;
  gpointer data;
  GDestroyNotify destroy;
} Work;

static void
work_free (Work *w)
{
  if (w->destroy != NULL)
    w->destroy (w->data);
  g_free (w);
}

static gboolean
run_main_cb (gpointer p)
{
  Work *w = p;

  w->func (w->app, w->data);
  return G_SOURCE_REMOVE;
}

void
mm_app_run_main (MmApp *app, MmWorkFunc func, gpointer data, GDestroyNotify destroy)
{
  Work *w = g_new0 (Work, 1);
  GSource *source = g_idle_source_new ();

  w->app = app;
  w->func = func;
  w->data = data;
  w->destroy = destroy;
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, run_main_cb, w, (GDestroyNotify) work_free);
  g_source_set_static_name (source, "mixmeet main work");
  g_source_attach (source, app->ctx);
  g_source_unref (source);
}

void
mm_app_run_worker (MmApp *app, MmWorkFunc func, gpointer data, GDestroyNotify destroy)
{
  Work *w = g_new0 (Work, 1);

  w->app = app;
  w->func = func;
  w->data = data;
  w->destroy = destroy;
  g_thread_pool_push (app->workers, w, NULL);
}

void
mm_app_worker_thread (gpointer work, gpointer unused)
{
  Work *w = work;

  w->func (w->app, w->data);
  work_free (w);
}

typedef struct {
  const MmRoute *route;
  MmRequest *req;
} Call;

static void
call_free (gpointer p)
{
  Call *c = p;
  mm_request_unref (c->req);
  g_free (c);
}

static void
call_run (MmApp *app, gpointer p)
{
  Call *c = p;
  c->route->handler (app, c->req);
}

void
mm_app_dispatch (MmApp *app, const MmRoute *route, MmRequest *req)
{
  Call *c = g_new0 (Call, 1);

  c->route = route;
  c->req = mm_request_ref (req);
  if (route->run_on == MM_RUN_MAIN)
    mm_app_run_main (app, call_run, c, call_free);
  else
    mm_app_run_worker (app, call_run, c, call_free);
}

gint64
mm_now_ms (void)
{
  return g_get_monotonic_time () / 1000;
}

gint64
mm_wall_ms (void)
{
  return g_get_real_time () / 1000;
}

char *
mm_iso8601 (gint64 wall_ms)
{
  g_autoptr (GDateTime) t = g_date_time_new_from_unix_utc (wall_ms / 1000);
  g_autofree char *base = g_date_time_format (t, "%Y-%m-%dT%H:%M:%S");

  return g_strdup_printf ("%s.%03dZ", base, (int) (wall_ms % 1000));
}
