/* tiers.h — the quality tiers of a room's composite and what a receiver
 * chooses among them (docs/tiers.md).
 *
 * high        the composite itself ([media] video-*)
 * medium      the composite scaled down ([tiers] medium-*)
 * low         smaller and at a lower frame rate ([tiers] low-*)
 * audio-only  no video at all
 *
 * A receiver's quality is its own choice: auto (the tier its link
 * carries), high (the best there is), data-saver (at most low) or
 * audio-only; a host may cap a lecture's viewers at a tier.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  MM_TIER_HIGH,
  MM_TIER_MEDIUM,
  MM_TIER_LOW,
  MM_TIER_AUDIO,
  MM_N_TIERS
} MmTier;

typedef enum {
  MM_QUALITY_AUTO,
  MM_QUALITY_HIGH,
  MM_QUALITY_DATA_SAVER,
  MM_QUALITY_AUDIO_ONLY,
} MmQuality;

/* "high", "medium", "low", "audio-only".  Returns: (transfer none) */
const char *mm_tier_name (MmTier t);
gboolean mm_tier_from_name (const char *name, MmTier *out);
/* "auto", "high", "data-saver", "audio-only".  Returns: (transfer none) */
const char *mm_quality_name (MmQuality q);
gboolean mm_quality_from_name (const char *name, MmQuality *out);

G_END_DECLS
