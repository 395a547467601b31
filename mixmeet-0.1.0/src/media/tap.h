/* tap.h — a consumer on a running tee, added and taken away. */
#ifndef MM_MEDIA_TAP_H
#define MM_MEDIA_TAP_H

#include <gst/gst.h>

G_BEGIN_DECLS

GstPad *mm_tap_tee (GstBin *src_bin, GstElement *tee, GstPad *sink, GstPad **ghost,
                    GstPadLinkReturn *link);
void mm_tap_cut (GstPad *ghost);

G_END_DECLS

#endif
