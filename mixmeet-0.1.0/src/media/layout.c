/* layout.c — grid, speaker and presentation layouts. */
#include "config.h"

#include "media/layout.h"

void
mm_layout_grid_shape (guint n, guint *cols, guint *rows)
{
  if (n <= 1)
    *cols = 1, *rows = 1;
  else if (n == 2)
    *cols = 2, *rows = 1;
  else if (n <= 4)
    *cols = 2, *rows = 2;
  else if (n <= 9)
    *cols = 3, *rows = 3;
  else
    *cols = 4, *rows = 4;
}

static guint
grid (guint n, gint width, gint height, MmTile *tiles)
{
  guint cols, rows, shown;

  mm_layout_grid_shape (n, &cols, &rows);
  shown = MIN (n, cols * rows);
  for (guint i = 0; i < shown; i++)
    {
      guint c = i % cols, r = i / cols;

      /* Integer edges so that tiles meet exactly. */
      tiles[i].x = (gint) (c * (guint) width / cols);
      tiles[i].y = (gint) (r * (guint) height / rows);
      tiles[i].width = (gint) ((c + 1) * (guint) width / cols) - tiles[i].x;
      tiles[i].height = (gint) ((r + 1) * (guint) height / rows) - tiles[i].y;
      tiles[i].source = (gint) i;
      tiles[i].overflow = 0;
    }
  if (n > shown)
    {
      /* The last cell says how many more there are. */
      tiles[shown - 1].source = -1;
      tiles[shown - 1].overflow = (gint) (n - shown + 1);
    }
  return shown;
}

static guint
speaker (guint n, gint active, gint width, gint height, MmTile *tiles)
{
  guint others = n - 1, strip_cells, t = 0;
  gint main_h, strip_h;

  if (n <= 1)
    return grid (n, width, height, tiles);
  if (active < 0 || (guint) active >= n)
    active = 0;
  /* The strip holds up to 6 tiles (the last one "+N" past that). */
  strip_cells = MIN (others, 6u);
  strip_h = height / 4;
  main_h = height - strip_h;
  tiles[t++] = (MmTile) { 0, 0, width, main_h, active, 0 };
  for (guint i = 0, placed = 0; i < n && placed < strip_cells; i++)
    {
      gint x0, x1;

      if ((gint) i == active)
        continue;
      x0 = (gint) (placed * (guint) width / strip_cells);
      x1 = (gint) ((placed + 1) * (guint) width / strip_cells);
      tiles[t] = (MmTile) { x0, main_h, x1 - x0, strip_h, (gint) i, 0 };
      placed++;
      t++;
    }
  if (others > strip_cells)
    {
      tiles[t - 1].source = -1;
      tiles[t - 1].overflow = (gint) (others - strip_cells + 1);
    }
  return t;
}

guint
mm_layout_compute (MmLayoutKind kind, guint n, gint active, gint width, gint height,
                   MmTile *tiles)
{
  if (n == 0)
    return 0;
  /* Presentation is the speaker layout with the screen as the large tile. */
  if (kind == MM_LAYOUT_SPEAKER || kind == MM_LAYOUT_PRESENTATION)
    return speaker (n, active, width, height, tiles);
  return grid (n, width, height, tiles);
}

const char *
mm_layout_kind_name (MmLayoutKind kind)
{
  switch (kind)
    {
    case MM_LAYOUT_SPEAKER:
      return "speaker";
    case MM_LAYOUT_PRESENTATION:
      return "presentation";
    case MM_LAYOUT_GRID:
    default:
      return "grid";
    }
}

gboolean
mm_layout_kind_from_name (const char *name, MmLayoutKind *kind)
{
  if (g_strcmp0 (name, "grid") == 0)
    *kind = MM_LAYOUT_GRID;
  else if (g_strcmp0 (name, "speaker") == 0)
    *kind = MM_LAYOUT_SPEAKER;
  else if (g_strcmp0 (name, "presentation") == 0)
    *kind = MM_LAYOUT_PRESENTATION;
  else
    return FALSE;
  return TRUE;
}
