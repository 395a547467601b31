/* recorder.h — a recording: a tap on a room's encoded composite and full
 * mix, muxed into WebM without another encode.
 *
 * The file is written as a live ("streamable") WebM: clusters go to disk
 * as they are made and nothing is rewritten while recording, so a file cut
 * off by a crash plays up to its last cluster.  Once finished it is remuxed
 * (no decode, on a thread of its own) into a WebM with its duration and
 * cues, so that players can seek in it.  It starts on a keyframe.
 * Main loop only, except where a comment says otherwise.
 */
#pragma once

#include <glib.h>
#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct _MmRecorder MmRecorder;

/* What a finished recording came to: @bytes on disk and @duration_ms of
 * media (first to last frame); @error (nullable) why it stopped early. */
typedef void (*MmRecorderDone) (const char *path, gint64 bytes, gint64 duration_ms,
                                const char *error, gpointer data);

/* Start writing @path from the tees "vtee" of @video_mix and "atee" of
 * @audio_mix, bins of @pipeline, whose main loop runs @ctx.
 * @keyframe (@data) asks the encoder for a
 * keyframe now.  Returns: (transfer full) or NULL with @error. */
MmRecorder *mm_recorder_start (GMainContext *ctx, GstElement *pipeline, GstBin *video_mix,
                               GstBin *audio_mix,
                               const char *path, void (*keyframe) (gpointer), gpointer data,
                               GError **error);

/* Stop: detach from the tees without stopping them, finish the file and
 * make it seekable, then call @done (on the main loop).  Frees the recorder. */
void mm_recorder_stop (MmRecorder *r, MmRecorderDone done, gpointer data);

/* The same, at once, for a pipeline about to stop (the room closes, the
 * server shuts down): waits up to @timeout_ms for the file to be
 * finished, makes it seekable, calls @done, frees the recorder. */
void mm_recorder_stop_now (MmRecorder *r, guint timeout_ms, MmRecorderDone done, gpointer data);

const char *mm_recorder_path (MmRecorder *r);

/* Whether @obj is one of @r's elements: an error it posts is the
 * recording's (a full disk), not the room's. */
gboolean mm_recorder_owns (MmRecorder *r, GstObject *obj);

/* The recording failed (@why): detach from the tees, keep the file as it
 * is, call @done with @why, free the recorder.  From the moment of the
 * error (the bus's sync message) nothing more goes into it, so that the
 * room's tees, and the encoders before them, never see its error. */
void mm_recorder_fail (MmRecorder *r, const char *why, MmRecorderDone done, gpointer data);

G_END_DECLS
