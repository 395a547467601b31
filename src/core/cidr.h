/* cidr.h — lists of IPv4/IPv6 addresses and CIDR ranges ("127.0.0.1,
 * 10.0.0.0/8, ::1, fd00::/8"), and whether an address is in one.
 *
 * IPv4 is kept as IPv4-mapped IPv6 (::ffff:a.b.c.d), so an IPv4 entry
 * matches a peer seen on a dual-stack socket as ::ffff:a.b.c.d and the
 * other way round.
 */
#pragma once

#include <glib.h>
#include <sys/socket.h>

G_BEGIN_DECLS

typedef struct _MmCidrList MmCidrList;

/* Parse a comma-separated list (spaces around entries are allowed; "" is
 * an empty list).  An entry that is not an address, or an address with a
 * prefix length out of range, is an error naming the entry.
 * Returns: (transfer full) or NULL with @error (MM_ERROR_INVALID_INPUT). */
MmCidrList *mm_cidr_list_parse (const char *text, GError **error);
void mm_cidr_list_free (MmCidrList *list);

gboolean mm_cidr_list_is_empty (const MmCidrList *list);

/* Is @addr (AF_INET or AF_INET6) in @list?  FALSE for other families. */
gboolean mm_cidr_list_match_sockaddr (const MmCidrList *list, const struct sockaddr *addr);

/* Is the address written in @text in @list?  FALSE if @text is not an
 * address (see mm_cidr_parse_address). */
gboolean mm_cidr_list_match_string (const MmCidrList *list, const char *text);

/* Read one address as proxies write it in X-Forwarded-For: "1.2.3.4",
 * "1.2.3.4:5678", "::1", "[::1]" or "[::1]:5678" (spaces around are
 * ignored).  On success *@out holds it as 16 bytes (IPv4 mapped).  */
gboolean mm_cidr_parse_address (const char *text, guint8 out[16]);

/* @addr16 (as from mm_cidr_parse_address) in the usual text form: IPv4
 * for mapped addresses.  Returns: (transfer full) */
char *mm_cidr_address_to_string (const guint8 addr16[16]);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MmCidrList, mm_cidr_list_free)

G_END_DECLS
