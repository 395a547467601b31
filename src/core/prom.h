/* prom.h — the Prometheus text exposition format (version 0.0.4), written
 * by hand: families with HELP and TYPE lines, samples with escaped label
 * values, and histograms with cumulative buckets ending in +Inf.
 *
 * Labels are given as NULL-terminated arrays of name, value, name, value:
 *   mm_prom_sample (p, "mixmeet_room_composite_fps",
 *                   (const char *[]) { "room", code, NULL }, fps);
 * The samples of one family must be written together, after its
 * mm_prom_family().  Not thread-safe: one MmProm per scrape.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MM_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct _MmProm MmProm;

MmProm *mm_prom_new (void);
void mm_prom_free (MmProm *p);

/* Start family @name: "# HELP" (@help escaped) and "# TYPE" (@type:
 * "counter", "gauge", "histogram"). */
void mm_prom_family (MmProm *p, const char *name, const char *type, const char *help);

/* One sample "@name{labels} @value".  @labels: (nullable). */
void mm_prom_sample (MmProm *p, const char *name, const char *const *labels, gdouble value);

/* Shorthand: a family with one sample without labels. */
void mm_prom_single (MmProm *p, const char *name, const char *type, const char *help,
                     gdouble value);

/* The text so far; the MmProm is freed.  Returns: (transfer full) */
char *mm_prom_finish (MmProm *p, gsize *len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MmProm, mm_prom_free)

/* A histogram with fixed upper bounds (seconds, bytes...).  Not locked:
 * its owner serialises observe, copy and write. */
typedef struct {
  const gdouble *bounds;   /* ascending upper bounds, without +Inf (static) */
  guint n_bounds;
  guint64 *counts;         /* n_bounds + 1: per bucket, not cumulative */
  guint64 count;
  gdouble sum;
} MmHistogram;

/* @bounds: (transfer none) must outlive the histogram (a static array). */
MmHistogram *mm_histogram_new (const gdouble *bounds, guint n_bounds);
MmHistogram *mm_histogram_copy (const MmHistogram *h);
void mm_histogram_observe (MmHistogram *h, gdouble value);
void mm_histogram_free (MmHistogram *h);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MmHistogram, mm_histogram_free)

/* The samples of histogram @h under family @name (declared with type
 * "histogram"): @name_bucket{labels,le=...} cumulative up to le="+Inf",
 * @name_sum and @name_count. */
void mm_prom_histogram (MmProm *p, const char *name, const char *const *labels,
                        const MmHistogram *h);

G_END_DECLS
