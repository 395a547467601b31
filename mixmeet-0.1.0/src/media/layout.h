/* layout.h — where each participant's tile goes in the composite.
 * Pure functions: no GStreamer, unit-tested. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MM_LAYOUT_MAX_TILES 16

typedef enum {
  MM_LAYOUT_GRID,      /* 1, 2, 2×2, 3×3, 4×4; past 16, the last tile is "+N" */
  MM_LAYOUT_SPEAKER,   /* the active speaker large, the others in a strip */
  MM_LAYOUT_PRESENTATION, /* a shared screen large, the people in a strip */
} MmLayoutKind;

typedef struct {
  gint x, y, width, height;
  gint source;         /* index into the participants, or -1 for "+N" */
  gint overflow;       /* with source -1: how many are not shown */
} MmTile;

/* Fill @tiles (room for MM_LAYOUT_MAX_TILES) for @n sources on a
 * @width×@height canvas; @speaker is the index of the source shown large
 * (or -1: the first) for MM_LAYOUT_SPEAKER and MM_LAYOUT_PRESENTATION:
 * the active speaker, or the shared screen.  Returns the number of tiles. */
guint mm_layout_compute (MmLayoutKind kind, guint n, gint speaker, gint width, gint height,
                         MmTile *tiles);

/* Grid columns and rows used for @n tiles (1×1, 2×1, 2×2, 3×3, 4×4). */
void mm_layout_grid_shape (guint n, guint *cols, guint *rows);

const char *mm_layout_kind_name (MmLayoutKind kind);
gboolean mm_layout_kind_from_name (const char *name, MmLayoutKind *kind);

G_END_DECLS
