/* glib-fatal.h — for the libFuzzer targets that call into GLib: a critical
 * or warning (an assertion GLib, json-glib or GStreamer failed on our
 * input, a GError set twice) is a bug the fuzzer must report with the
 * input that caused it.  GLib's own fatal path stops the process with a
 * breakpoint trap, which libFuzzer does not turn into a saved input;
 * abort() it is.
 */
#pragma once

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

static void
mm_fuzz_log (const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
  (void) data;
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    {
      fprintf (stderr, "%s: %s\n", domain != NULL ? domain : "(process)", message);
      abort ();
    }
}

static inline void
mm_fuzz_fatal_glib (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      g_log_set_default_handler (mm_fuzz_log, NULL);
      g_once_init_leave (&done, 1);
    }
}
