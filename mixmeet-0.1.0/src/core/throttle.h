/* throttle.h — counts failures per key in a sliding window (thread-safe).
 * Used for failed logins, keyed by e-mail address and by client address. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MmThrottle MmThrottle;

/* @max_failures within @window_us microseconds block the key. */
MmThrottle *mm_throttle_new (guint max_failures, gint64 window_us);
void mm_throttle_free (MmThrottle *t);

/* If @key is blocked at @now_us, TRUE and *@retry_after_s (seconds until
 * the oldest failure leaves the window, at least 1). */
gboolean mm_throttle_blocked (MmThrottle *t, const char *key, gint64 now_us,
                              gint *retry_after_s);
void mm_throttle_fail (MmThrottle *t, const char *key, gint64 now_us);
void mm_throttle_clear (MmThrottle *t, const char *key);
/* Number of keys tracked (for tests and limits). */
guint mm_throttle_size (MmThrottle *t);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MmThrottle, mm_throttle_free)

G_END_DECLS
