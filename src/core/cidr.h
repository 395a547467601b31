/* cidr.h — lists of addresses and CIDR ranges ("127.0.0.1, 10.0.0.0/8,
 * ::1, fd00::/8"), for settings that say who may do something.
 *
 * IPv4 is kept as IPv4-mapped IPv6 (::ffff:a.b.c.d), so "10.0.0.0/8"
 * matches both 10.1.2.3 and ::ffff:10.1.2.3 (what a dual-stack socket
 * reports for an IPv4 client), and "::/0" matches every address.  Bits
 * below the prefix are ignored ("10.1.2.3/8" is 10.0.0.0/8).  A list is
 * immutable once parsed: match from any thread.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MmCidrList MmCidrList;

/* Parse @text: entries separated by commas (spaces around them ignored,
 * empty entries skipped), each an IPv4 or IPv6 address, optionally with
 * "/PREFIX" (0–32 or 0–128).  An empty text is an empty list (which
 * matches nothing).  A bad entry is MM_ERROR_INVALID_INPUT with a message
 * that quotes it.  Returns: (transfer full) or NULL with @error. */
MmCidrList *mm_cidr_list_parse (const char *text, GError **error);

/* Is @address (textual IPv4 or IPv6, without a port; NULL or anything
 * that is not an address never matches) inside one of @list's ranges? */
gboolean mm_cidr_list_match (const MmCidrList *list, const char *address);

/* The number of entries. */
guint mm_cidr_list_length (const MmCidrList *list);

void mm_cidr_list_free (MmCidrList *list);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MmCidrList, mm_cidr_list_free)

G_END_DECLS
