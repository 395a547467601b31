/* log.h — the media's log lines, each naming its room and, where there is
 * one, its participant ("room abc-defg-hij participant ID: ..."), so that
 * an operator can follow one meeting or one person with grep. */
#pragma once

#include <glib.h>
#include <gst/gst.h>
#include <stdarg.h>

G_BEGIN_DECLS

/* Log @format in the "mixmeet-media" domain for room @room (a code) and
 * participant @pid (nullable). */
void mm_media_log (const char *room, const char *pid, GLogLevelFlags level, const char *format,
                   ...) G_GNUC_PRINTF (4, 5);
void mm_media_logv (const char *room, const char *pid, GLogLevelFlags level, const char *format,
                    va_list args) G_GNUC_PRINTF (4, 0);

/* The code of the room whose pipeline is @pipeline (named "room-CODE"),
 * for the parts that only see the pipeline.  Returns: (transfer full) */
char *mm_media_log_room (GstElement *pipeline);

G_END_DECLS
