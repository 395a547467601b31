/* stun.c — ICE-lite Binding responses with libnice's STUN library. */
#include "config.h"

#include "transport/stun.h"

#include <stun/stunagent.h>
#include <stun/usages/ice.h>
#include <string.h>

struct _MmStun {
  StunAgent agent;
};

/* What a request of the browser's may carry; others it must not need
 * (unknown comprehension-required attributes are refused by the agent). */
static const uint16_t known_attributes[] = {
  STUN_ATTRIBUTE_USERNAME,
  STUN_ATTRIBUTE_MESSAGE_INTEGRITY,
  STUN_ATTRIBUTE_FINGERPRINT,
  STUN_ATTRIBUTE_PRIORITY,
  STUN_ATTRIBUTE_USE_CANDIDATE,
  STUN_ATTRIBUTE_ICE_CONTROLLED,
  STUN_ATTRIBUTE_ICE_CONTROLLING,
  STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS,
  STUN_ATTRIBUTE_ERROR_CODE,
  0
};

MmStun *
mm_stun_new (void)
{
  MmStun *s = g_new0 (MmStun, 1);

  stun_agent_init (&s->agent, known_attributes, STUN_COMPATIBILITY_RFC5389,
                   STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);
  return s;
}

void
mm_stun_free (MmStun *s)
{
  g_free (s);
}

typedef struct {
  MmStunLookup lookup;
  gpointer data;
  char ufrag[MM_STUN_MAX_UFRAG + 1];
  char *password;    /* a copy: the lookup's answer is only borrowed */
} Validate;

/* The agent asks for the key of USERNAME "OURS:THEIRS": our ufrag's
 * password. */
static bool
find_password (StunAgent *agent, StunMessage *msg, uint8_t *username, uint16_t username_len,
               uint8_t **password, size_t *password_len, void *user_data)
{
  Validate *v = user_data;
  const uint8_t *colon = memchr (username, ':', username_len);
  gsize n = colon != NULL ? (gsize) (colon - username) : 0;
  const char *pwd;

  if (n == 0 || n > MM_STUN_MAX_UFRAG)
    return false;
  memcpy (v->ufrag, username, n);
  v->ufrag[n] = '\0';
  if (memchr (v->ufrag, '\0', n) != NULL)
    return false;
  pwd = v->lookup (v->ufrag, v->data);
  if (pwd == NULL)
    return false;
  g_free (v->password);
  v->password = g_strdup (pwd);
  *password = (uint8_t *) v->password;
  *password_len = strlen (v->password);
  return true;
}

gsize
mm_stun_handle (MmStun *s, const guint8 *buf, gsize len, const struct sockaddr *from,
                socklen_t from_len, MmStunLookup lookup, gpointer data, guint8 *reply,
                gsize reply_size, MmStunCheck *check)
{
  Validate v = { lookup, data, { 0 }, NULL };
  struct sockaddr_storage src;
  StunMessage req, msg;
  StunValidationStatus status;
  StunUsageIceReturn ret;
  size_t plen = reply_size;
  bool control = false;   /* ICE-lite: always the controlled agent */

  if (len > G_MAXUINT16 || from_len > sizeof src || from == NULL)
    return 0;
  status = stun_agent_validate (&s->agent, &req, buf, len, find_password, &v);
  if (status != STUN_VALIDATION_SUCCESS || stun_message_get_class (&req) != STUN_REQUEST
      || stun_message_get_method (&req) != STUN_BINDING)
    {
      g_free (v.password);
      return 0;
    }
  memset (&src, 0, sizeof src);
  memcpy (&src, from, from_len);
  /* The tie-breaker matters only in a role conflict, which a lite agent
   * answers by staying controlled. */
  ret = stun_usage_ice_conncheck_create_reply (&s->agent, &req, &msg, reply, &plen, &src,
                                               from_len, &control, 0,
                                               STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
  g_free (v.password);
  if (ret != STUN_USAGE_ICE_RETURN_SUCCESS || plen == 0)
    return 0;
  memcpy (check->ufrag, v.ufrag, sizeof check->ufrag);
  check->use_candidate = stun_usage_ice_conncheck_use_candidate (&req);
  check->priority = stun_usage_ice_conncheck_priority (&req);
  return plen;
}
