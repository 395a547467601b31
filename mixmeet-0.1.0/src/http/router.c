/* router.c — matching paths against the route table. */
#include "config.h"

#include "http/router.h"

#include <string.h>

/* Does @path match @pattern?  Placeholders go to @set_param if given. */
static gboolean
path_matches (const char *pattern, const char *path,
              void (*set_param) (gpointer, const char *, const char *), gpointer data)
{
  g_auto (GStrv) pat = g_strsplit (pattern, "/", -1);
  g_auto (GStrv) seg = g_strsplit (path, "/", -1);
  guint n = g_strv_length (pat);

  if (g_strv_length (seg) != n)
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      gsize plen = strlen (pat[i]);

      if (plen > 2 && pat[i][0] == '{' && pat[i][plen - 1] == '}')
        {
          if (seg[i][0] == '\0')
            return FALSE;
        }
      else if (strcmp (pat[i], seg[i]) != 0)
        return FALSE;
    }
  if (set_param != NULL)
    for (guint i = 0; i < n; i++)
      {
        gsize plen = strlen (pat[i]);

        if (plen > 2 && pat[i][0] == '{' && pat[i][plen - 1] == '}')
          {
            g_autofree char *name = g_strndup (pat[i] + 1, plen - 2);
            set_param (data, name, seg[i]);
          }
      }
  return TRUE;
}

MmRouteMatch
mm_router_match (const MmRoute *routes, gsize n, const char *method, const char *path,
                 const MmRoute **route,
                 void (*set_param) (gpointer, const char *, const char *), gpointer data,
                 char **allow)
{
  g_autoptr (GPtrArray) methods = NULL;
  const char *want = g_str_equal (method, "HEAD") ? "GET" : method;

  *route = NULL;
  if (allow != NULL)
    *allow = NULL;
  for (gsize i = 0; i < n; i++)
    {
      if (!path_matches (routes[i].pattern, path, NULL, NULL))
        continue;
      if (g_str_equal (routes[i].method, want))
        {
          path_matches (routes[i].pattern, path, set_param, data);
          *route = &routes[i];
          return MM_ROUTE_FOUND;
        }
      if (methods == NULL)
        methods = g_ptr_array_new ();
      if (!g_ptr_array_find_with_equal_func (methods, routes[i].method, g_str_equal, NULL))
        g_ptr_array_add (methods, (gpointer) routes[i].method);
      if (g_str_equal (routes[i].method, "GET")
          && !g_ptr_array_find_with_equal_func (methods, "HEAD", g_str_equal, NULL))
        g_ptr_array_add (methods, (gpointer) "HEAD");
    }
  if (methods == NULL)
    return MM_ROUTE_NO_PATH;
  g_ptr_array_add (methods, NULL);
  if (allow != NULL)
    *allow = g_strjoinv (", ", (char **) methods->pdata);
  return MM_ROUTE_NO_METHOD;
}
