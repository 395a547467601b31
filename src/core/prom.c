/* prom.c — the Prometheus text exposition format; see prom.h. */
#include "config.h"

#include "core/prom.h"

#include <math.h>
#include <string.h>

struct _MmProm {
  GString *out;
};

MmProm *
mm_prom_new (void)
{
  MmProm *p = g_new0 (MmProm, 1);

  p->out = g_string_sized_new (8192);
  return p;
}

void
mm_prom_free (MmProm *p)
{
  if (p == NULL)
    return;
  g_string_free (p->out, TRUE);
  g_free (p);
}

char *
mm_prom_finish (MmProm *p, gsize *len)
{
  GString *out = p->out;

  g_free (p);
  if (len != NULL)
    *len = out->len;
  return g_string_free (out, FALSE);
}

/* HELP text escapes backslash and newline; label values also '"'. */
static void
append_escaped (GString *out, const char *text, gboolean quote)
{
  for (const char *c = text; *c != '\0'; c++)
    {
      if (*c == '\\')
        g_string_append (out, "\\\\");
      else if (*c == '\n')
        g_string_append (out, "\\n");
      else if (*c == '"' && quote)
        g_string_append (out, "\\\"");
      else
        g_string_append_c (out, *c);
    }
}

static void
append_value (GString *out, gdouble v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (isnan (v))
    g_string_append (out, "NaN");
  else if (isinf (v))
    g_string_append (out, v > 0 ? "+Inf" : "-Inf");
  else if (v == floor (v) && fabs (v) < 9007199254740992.0)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, (gint64) v);
  else
    g_string_append (out, g_ascii_formatd (buf, sizeof buf, "%.15g", v));
}

void
mm_prom_family (MmProm *p, const char *name, const char *type, const char *help)
{
  g_string_append_printf (p->out, "# HELP %s ", name);
  append_escaped (p->out, help, FALSE);
  g_string_append_printf (p->out, "\n# TYPE %s %s\n", name, type);
}

/* name{labels[,extra_name="extra_value"]} value */
static void
sample (MmProm *p, const char *name, const char *suffix, const char *const *labels,
        const char *extra_name, const char *extra_value, gdouble value)
{
  gboolean first = TRUE;

  g_string_append (p->out, name);
  g_string_append (p->out, suffix);
  for (guint i = 0; labels != NULL && labels[i] != NULL && labels[i + 1] != NULL; i += 2)
    {
      g_string_append_printf (p->out, "%s%s=\"", first ? "{" : ",", labels[i]);
      append_escaped (p->out, labels[i + 1], TRUE);
      g_string_append_c (p->out, '"');
      first = FALSE;
    }
  if (extra_name != NULL)
    {
      g_string_append_printf (p->out, "%s%s=\"%s\"", first ? "{" : ",", extra_name, extra_value);
      first = FALSE;
    }
  if (!first)
    g_string_append_c (p->out, '}');
  g_string_append_c (p->out, ' ');
  append_value (p->out, value);
  g_string_append_c (p->out, '\n');
}

void
mm_prom_sample (MmProm *p, const char *name, const char *const *labels, gdouble value)
{
  sample (p, name, "", labels, NULL, NULL, value);
}

void
mm_prom_single (MmProm *p, const char *name, const char *type, const char *help,
                gdouble value)
{
  mm_prom_family (p, name, type, help);
  mm_prom_sample (p, name, NULL, value);
}

MmHistogram *
mm_histogram_new (const gdouble *bounds, guint n_bounds)
{
  MmHistogram *h = g_new0 (MmHistogram, 1);

  h->bounds = bounds;
  h->n_bounds = n_bounds;
  h->counts = g_new0 (guint64, n_bounds + 1);
  return h;
}

MmHistogram *
mm_histogram_copy (const MmHistogram *h)
{
  MmHistogram *c = g_memdup2 (h, sizeof *h);

  c->counts = g_memdup2 (h->counts, sizeof (guint64) * (h->n_bounds + 1));
  return c;
}

void
mm_histogram_observe (MmHistogram *h, gdouble value)
{
  guint i = 0;

  while (i < h->n_bounds && value > h->bounds[i])
    i++;
  h->counts[i]++;
  h->count++;
  h->sum += value;
}

void
mm_histogram_free (MmHistogram *h)
{
  if (h == NULL)
    return;
  g_free (h->counts);
  g_free (h);
}

void
mm_prom_histogram (MmProm *p, const char *name, const char *const *labels,
                   const MmHistogram *h)
{
  guint64 cumulative = 0;
  char le[G_ASCII_DTOSTR_BUF_SIZE];

  for (guint i = 0; i < h->n_bounds; i++)
    {
      cumulative += h->counts[i];
      g_ascii_formatd (le, sizeof le, "%g", h->bounds[i]);
      sample (p, name, "_bucket", labels, "le", le, (gdouble) cumulative);
    }
  sample (p, name, "_bucket", labels, "le", "+Inf", (gdouble) h->count);
  sample (p, name, "_sum", labels, NULL, NULL, h->sum);
  sample (p, name, "_count", labels, NULL, NULL, (gdouble) h->count);
}
