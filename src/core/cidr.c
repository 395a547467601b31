/* cidr.c — address lists and CIDR matching.  Every entry is a 128-bit
 * address with a prefix length; IPv4 is mapped into ::ffff:0:0/96. */
#include "config.h"

#include "core/cidr.h"
#include "core/error.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

typedef struct {
  guint8 addr[16];
  guint prefix;        /* 0..128 */
} Entry;

struct _MmCidrList {
  GArray *entries;     /* of Entry */
};

static const guint8 v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static void
map_v4 (const struct in_addr *a, guint8 out[16])
{
  memcpy (out, v4_mapped_prefix, 12);
  memcpy (out + 12, &a->s_addr, 4);
}

static gboolean
is_mapped (const guint8 a[16])
{
  return memcmp (a, v4_mapped_prefix, 12) == 0;
}

/* A bare address, no brackets or port. */
static gboolean
parse_plain (const char *text, guint8 out[16], gboolean *v4)
{
  struct in_addr a4;
  struct in6_addr a6;

  if (inet_pton (AF_INET, text, &a4) == 1)
    {
      map_v4 (&a4, out);
      *v4 = TRUE;
      return TRUE;
    }
  if (inet_pton (AF_INET6, text, &a6) == 1)
    {
      memcpy (out, a6.s6_addr, 16);
      *v4 = FALSE;
      return TRUE;
    }
  return FALSE;
}

gboolean
mm_cidr_parse_address (const char *text, guint8 out[16])
{
  g_autofree char *s = NULL;
  char *host, *colon;
  gboolean v4;

  if (text == NULL || strlen (text) > 128)
    return FALSE;
  s = g_strstrip (g_strdup (text));
  host = s;
  if (*host == '[')
    {
      char *close = strchr (host, ']');

      if (close == NULL || (close[1] != '\0' && close[1] != ':'))
        return FALSE;
      *close = '\0';
      return parse_plain (host + 1, out, &v4) && !v4;
    }
  /* "a.b.c.d:port": one colon means a port after an IPv4 address. */
  colon = strchr (host, ':');
  if (colon != NULL && strchr (colon + 1, ':') == NULL)
    {
      *colon = '\0';
      return parse_plain (host, out, &v4) && v4;
    }
  return parse_plain (host, out, &v4);
}

char *
mm_cidr_address_to_string (const guint8 addr16[16])
{
  char buf[INET6_ADDRSTRLEN];

  if (is_mapped (addr16))
    inet_ntop (AF_INET, addr16 + 12, buf, sizeof buf);
  else
    inet_ntop (AF_INET6, addr16, buf, sizeof buf);
  return g_strdup (buf);
}

static gboolean
in_entry (const Entry *e, const guint8 a[16])
{
  guint full = e->prefix / 8, rest = e->prefix % 8;

  if (memcmp (e->addr, a, full) != 0)
    return FALSE;
  if (rest == 0)
    return TRUE;
  return ((e->addr[full] ^ a[full]) & (guint8) (0xff << (8 - rest))) == 0;
}

static gboolean
parse_entry (const char *text, Entry *e)
{
  g_autofree char *addr = g_strdup (text);
  char *slash = strchr (addr, '/');
  gboolean v4;
  guint64 len;
  guint max;

  if (slash != NULL)
    *slash = '\0';
  if (!parse_plain (addr, e->addr, &v4))
    return FALSE;
  max = v4 ? 32 : 128;
  if (slash == NULL)
    len = max;
  else if (!g_ascii_string_to_unsigned (slash + 1, 10, 0, max, &len, NULL))
    return FALSE;
  e->prefix = (guint) len + (v4 ? 96 : 0);
  /* Host bits set ("10.1.2.3/8") mean the range they are in. */
  for (guint bit = e->prefix; bit < 128; bit++)
    e->addr[bit / 8] &= (guint8) ~(0x80 >> (bit % 8));
  return TRUE;
}

MmCidrList *
mm_cidr_list_parse (const char *text, GError **error)
{
  g_autoptr (MmCidrList) list = g_new0 (MmCidrList, 1);
  g_auto (GStrv) items = NULL;
  g_autofree char *all = g_strstrip (g_strdup (text != NULL ? text : ""));

  list->entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  if (*all == '\0')
    return g_steal_pointer (&list);
  items = g_strsplit (all, ",", -1);
  for (guint i = 0; items[i] != NULL; i++)
    {
      char *item = g_strstrip (items[i]);
      Entry e = { { 0 }, 0 };

      if (*item == '\0')
        {
          g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                       "entry %u is empty (a stray comma?) in \"%s\"", i + 1, all);
          return NULL;
        }
      if (!parse_entry (item, &e))
        {
          g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                       "\"%s\" is not an IPv4 or IPv6 address or CIDR range "
                       "(like 10.0.0.0/8 or fd00::/8)", item);
          return NULL;
        }
      g_array_append_val (list->entries, e);
    }
  return g_steal_pointer (&list);
}

void
mm_cidr_list_free (MmCidrList *list)
{
  if (list == NULL)
    return;
  if (list->entries != NULL)
    g_array_unref (list->entries);
  g_free (list);
}

gboolean
mm_cidr_list_is_empty (const MmCidrList *list)
{
  return list == NULL || list->entries->len == 0;
}

static gboolean
match16 (const MmCidrList *list, const guint8 a[16])
{
  if (list == NULL)
    return FALSE;
  for (guint i = 0; i < list->entries->len; i++)
    if (in_entry (&g_array_index (list->entries, Entry, i), a))
      return TRUE;
  return FALSE;
}

gboolean
mm_cidr_list_match_sockaddr (const MmCidrList *list, const struct sockaddr *addr)
{
  guint8 a[16];

  if (addr == NULL)
    return FALSE;
  if (addr->sa_family == AF_INET)
    map_v4 (&((const struct sockaddr_in *) addr)->sin_addr, a);
  else if (addr->sa_family == AF_INET6)
    memcpy (a, ((const struct sockaddr_in6 *) addr)->sin6_addr.s6_addr, 16);
  else
    return FALSE;
  return match16 (list, a);
}

gboolean
mm_cidr_list_match_string (const MmCidrList *list, const char *text)
{
  guint8 a[16];

  return mm_cidr_parse_address (text, a) && match16 (list, a);
}
