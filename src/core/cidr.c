/* cidr.c — address and CIDR range lists; see cidr.h. */
#include "config.h"

#include "core/cidr.h"
#include "core/error.h"

#include <arpa/inet.h>
#include <string.h>

typedef struct {
  guint8 addr[16];   /* IPv6, or IPv4-mapped IPv6; masked to the prefix */
  guint prefix;      /* 0..128 bits */
} Range;

struct _MmCidrList {
  GArray *ranges;    /* Range */
};

/* @text as 16 bytes of IPv6 (IPv4 mapped); *@is_v4 tells which it was. */
static gboolean
parse_address (const char *text, guint8 out[16], gboolean *is_v4)
{
  struct in_addr v4;

  if (inet_pton (AF_INET, text, &v4) == 1)
    {
      memset (out, 0, 10);
      out[10] = out[11] = 0xff;
      memcpy (out + 12, &v4, 4);
      *is_v4 = TRUE;
      return TRUE;
    }
  *is_v4 = FALSE;
  return inet_pton (AF_INET6, text, out) == 1;
}

static void
mask (guint8 addr[16], guint prefix)
{
  for (guint i = 0; i < 16; i++)
    {
      guint bits = prefix > i * 8 ? MIN (prefix - i * 8, 8) : 0;

      addr[i] &= (guint8) (0xff00 >> bits);
    }
}

static gboolean
parse_entry (const char *entry, Range *out)
{
  const char *slash = strchr (entry, '/');
  g_autofree char *host = slash ? g_strndup (entry, (gsize) (slash - entry)) : g_strdup (entry);
  gboolean is_v4;
  guint64 prefix;

  if (!parse_address (host, out->addr, &is_v4))
    return FALSE;
  if (slash == NULL)
    prefix = is_v4 ? 32 : 128;
  else if (!g_ascii_isdigit (slash[1])
           || !g_ascii_string_to_unsigned (slash + 1, 10, 0, is_v4 ? 32 : 128, &prefix, NULL))
    return FALSE;
  out->prefix = (guint) prefix + (is_v4 ? 96 : 0);
  mask (out->addr, out->prefix);
  return TRUE;
}

MmCidrList *
mm_cidr_list_parse (const char *text, GError **error)
{
  g_autoptr (MmCidrList) list = g_new0 (MmCidrList, 1);
  g_auto (GStrv) parts = g_strsplit (text != NULL ? text : "", ",", -1);

  list->ranges = g_array_new (FALSE, FALSE, sizeof (Range));
  for (guint i = 0; parts[i] != NULL; i++)
    {
      const char *entry = g_strstrip (parts[i]);
      Range r;

      if (*entry == '\0')
        continue;
      if (!parse_entry (entry, &r))
        {
          g_set_error (error, MM_ERROR, MM_ERROR_INVALID_INPUT,
                       "\"%s\" is not an IP address or CIDR range (like 10.0.0.0/8 or fd00::/8)",
                       entry);
          return NULL;
        }
      g_array_append_val (list->ranges, r);
    }
  return g_steal_pointer (&list);
}

gboolean
mm_cidr_list_match (const MmCidrList *list, const char *address)
{
  guint8 addr[16];
  gboolean is_v4;

  if (list == NULL || address == NULL || !parse_address (address, addr, &is_v4))
    return FALSE;
  for (guint i = 0; i < list->ranges->len; i++)
    {
      const Range *r = &g_array_index (list->ranges, Range, i);
      guint8 masked[16];

      memcpy (masked, addr, 16);
      mask (masked, r->prefix);
      if (memcmp (masked, r->addr, 16) == 0)
        return TRUE;
    }
  return FALSE;
}

guint
mm_cidr_list_length (const MmCidrList *list)
{
  return list != NULL ? list->ranges->len : 0;
}

void
mm_cidr_list_free (MmCidrList *list)
{
  if (list == NULL)
    return;
  if (list->ranges != NULL)
    g_array_unref (list->ranges);
  g_free (list);
}
