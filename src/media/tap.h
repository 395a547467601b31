/* tap.h — a new consumer on a running tee. */
#ifndef MM_MEDIA_TAP_H
#define MM_MEDIA_TAP_H

#include <gst/gst.h>

G_BEGIN_DECLS

GstPad *mm_tap_tee (GstBin *src_bin, GstElement *tee, GstPad *sink, GstPad **ghost,
                    GstPadLinkReturn *link);

G_END_DECLS

#endif
