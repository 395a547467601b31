/* log.c — media log lines that name their room and participant. */
#include "config.h"

#include "media/log.h"

#include <string.h>

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "mixmeet-media"

void
mm_media_logv (const char *room, const char *pid, GLogLevelFlags level, const char *format,
               va_list args)
{
  g_autofree char *text = g_strdup_vprintf (format, args);

  if (pid != NULL)
    g_log (G_LOG_DOMAIN, level, "room %s participant %s: %s", room, pid, text);
  else
    g_log (G_LOG_DOMAIN, level, "room %s: %s", room, text);
}

void
mm_media_log (const char *room, const char *pid, GLogLevelFlags level, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  mm_media_logv (room, pid, level, format, args);
  va_end (args);
}

char *
mm_media_log_room (GstElement *pipeline)
{
  g_autofree char *name = gst_object_get_name (GST_OBJECT (pipeline));

  if (name != NULL && g_str_has_prefix (name, "room-"))
    return g_strdup (name + strlen ("room-"));
  return g_steal_pointer (&name);
}
