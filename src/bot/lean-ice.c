/* lean-ice.c — one lean viewer's ICE (RFC 8445) as the full, controlling
 * agent against the ICE-lite server, on libnice's STUN library.
 *
 * A check to every remote candidate (of the answer, trickled, or the
 * address the server's own checks come from: peer-reflexive), with
 * USE-CANDIDATE (aggressive nomination), resent every 50 ms until one is
 * answered; the first answered is the selected pair.  The server's checks
 * of us are answered.  Once connected, a consent check (RFC 7675) every
 * 5 s; those with no answer are counted.  What comes from the network is
 * validated by the agent (integrity, fingerprint) before it is used.
 */
#include "config.h"

#include "bot/lean.h"

#include <arpa/inet.h>
#include <stun/usages/ice.h>
#include <string.h>

#define CHECK_INTERVAL_US (50 * 1000)

/* RFC 8445 5.1.2.1: a peer-reflexive candidate's priority, component 1. */
#define PRFLX_PRIORITY ((110u << 24) | (65535u << 8) | (256u - 1u))

static const uint16_t known_attributes[] = {
  STUN_ATTRIBUTE_USERNAME,
  STUN_ATTRIBUTE_MESSAGE_INTEGRITY,
  STUN_ATTRIBUTE_FINGERPRINT,
  STUN_ATTRIBUTE_PRIORITY,
  STUN_ATTRIBUTE_USE_CANDIDATE,
  STUN_ATTRIBUTE_ICE_CONTROLLED,
  STUN_ATTRIBUTE_ICE_CONTROLLING,
  STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS,
  STUN_ATTRIBUTE_MAPPED_ADDRESS,
  STUN_ATTRIBUTE_ERROR_CODE,
  0
};

static void
random_ice_string (char *out, gsize n)
{
  static const char chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

  for (gsize i = 0; i + 1 < n; i++)
    out[i] = chars[g_random_int_range (0, 64)];
  out[n - 1] = '\0';
}

void
mm_lean_ice_reset (MmLeanViewer *v)
{
  v->n_cands = 0;
  v->selected = -1;
  v->consent_out = FALSE;
  /* Its saved transactions point at the remote password just freed. */
  stun_agent_init (&v->stun, known_attributes, STUN_COMPATIBILITY_RFC5389,
                   STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);
}

void
mm_lean_ice_new_credentials (MmLeanViewer *v)
{
  random_ice_string (v->ufrag, sizeof v->ufrag);
  random_ice_string (v->pwd, sizeof v->pwd);
  v->tie = ((guint64) g_random_int () << 32) | g_random_int ();
}

/* A check of ours to @c (USE-CANDIDATE with @nominate), or the consent
 * check when @c is NULL.  Returns its length (0: the agent refused). */
static gsize
make_check (MmLeanViewer *v, guint8 *buf, gsize size, gboolean nominate)
{
  g_autofree char *username = g_strdup_printf ("%s:%s", v->remote_ufrag, v->ufrag);
  StunMessage msg;

  return stun_usage_ice_conncheck_create (&v->stun, &msg, buf, size, (const uint8_t *) username,
                                          strlen (username), (const uint8_t *) v->remote_pwd,
                                          strlen (v->remote_pwd), nominate, TRUE, PRFLX_PRIORITY,
                                          v->tie, NULL, STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
}

/* Check @addr from now on (a candidate of the answer or a trickled one, or
 * the address a Binding request came from: peer-reflexive). */
static void
add_candidate (MmLeanViewer *v, const struct sockaddr_storage *addr, socklen_t len)
{
  MmLeanCandidate *c;

  if (v->remote_pwd == NULL || v->n_cands == MM_LEAN_MAX_CANDIDATES
      || addr->ss_family != v->local.ss_family)
    return;
  for (guint i = 0; i < v->n_cands; i++)
    if (v->cands[i].addr_len == len && memcmp (&v->cands[i].addr, addr, len) == 0)
      return;
  c = &v->cands[v->n_cands];
  memset (c, 0, sizeof *c);
  memcpy (&c->addr, addr, len);
  c->addr_len = len;
  c->request_len = make_check (v, c->request, sizeof c->request, TRUE);
  if (c->request_len == 0)
    return;
  v->n_cands++;
  /* Sent by the next tick, within 20 ms. */
  c->next_us = 0;
}

void
mm_lean_ice_add_candidate_text (MmLeanViewer *v, const char *text)
{
  g_auto (GStrv) f = NULL;
  struct sockaddr_storage ss = { 0 };
  socklen_t len;
  guint64 port;

  if (g_str_has_prefix (text, "a="))
    text += 2;
  if (!g_str_has_prefix (text, "candidate:") || strlen (text) > 1024)
    return;
  f = g_strsplit (text + strlen ("candidate:"), " ", 8);
  if (g_strv_length (f) < 6 || !g_str_equal (f[1], "1") || g_ascii_strcasecmp (f[2], "udp") != 0
      || !g_ascii_string_to_unsigned (f[5], 10, 1, 65535, &port, NULL))
    return;
  if (inet_pton (AF_INET, f[4], &((struct sockaddr_in *) &ss)->sin_addr) == 1)
    {
      ss.ss_family = AF_INET;
      ((struct sockaddr_in *) &ss)->sin_port = htons ((guint16) port);
      len = sizeof (struct sockaddr_in);
    }
  else if (inet_pton (AF_INET6, f[4], &((struct sockaddr_in6 *) &ss)->sin6_addr) == 1)
    {
      ss.ss_family = AF_INET6;
      ((struct sockaddr_in6 *) &ss)->sin6_port = htons ((guint16) port);
      len = sizeof (struct sockaddr_in6);
    }
  else
    return;   /* an mDNS name or garbage */
  add_candidate (v, &ss, len);
}

/* The password of our ufrag, for the server's checks of us. */
static bool
local_password (StunAgent *agent, StunMessage *msg, uint8_t *username, uint16_t username_len,
                uint8_t **password, size_t *password_len, void *user_data)
{
  MmLeanViewer *v = user_data;
  gsize n = strlen (v->ufrag);

  if (username_len <= n || memcmp (username, v->ufrag, n) != 0 || username[n] != ':')
    return false;
  *password = (uint8_t *) v->pwd;
  *password_len = strlen (v->pwd);
  return true;
}

static void
stun_request (MmLeanViewer *v, const guint8 *buf, gsize len,
              const struct sockaddr_storage *from, socklen_t from_len)
{
  guint8 reply[512];
  size_t reply_len = sizeof reply;
  StunMessage req, msg;
  bool control = true;
  StunUsageIceReturn ret;

  StunValidationStatus st = stun_agent_validate (&v->stun, &req, buf, len, local_password, v);

  if (st != STUN_VALIDATION_SUCCESS || stun_message_get_method (&req) != STUN_BINDING)
    {
      mm_lean_debug (v, "a STUN request refused (%d)", st);
      return;
    }
  /* We are the controlling agent (mm_stun_handle answers as the
   * controlled one: it is the ICE-lite server's). */
  ret = stun_usage_ice_conncheck_create_reply (&v->stun, &req, &msg, reply, &reply_len, from,
                                               from_len, &control, v->tie,
                                               STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
  if (reply_len > 0 && (ret == STUN_USAGE_ICE_RETURN_SUCCESS
                        || ret == STUN_USAGE_ICE_RETURN_ROLE_CONFLICT))
    mm_lean_viewer_send_to (v, reply, reply_len, from, from_len);
  /* The server checks from an address of its own: check it too. */
  add_candidate (v, from, from_len);
}

static void
stun_response (MmLeanViewer *v, const guint8 *buf, gsize len)
{
  StunMessage msg;
  StunTransactionId id;
  struct sockaddr_storage mapped;
  socklen_t mapped_len = sizeof mapped;
  StunUsageIceReturn ret;

  /* Answers to resends of a check already answered are unmatched: the
   * agent forgets a transaction once it is answered. */
  if (stun_agent_validate (&v->stun, &msg, buf, len, NULL, NULL) != STUN_VALIDATION_SUCCESS)
    return;
  ret = stun_usage_ice_conncheck_process (&msg, &mapped, &mapped_len,
                                          STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
  stun_message_id (&msg, id);
  if (v->consent_out && memcmp (id, v->consent_id, sizeof id) == 0)
    {
      v->consent_out = FALSE;
      if (ret == STUN_USAGE_ICE_RETURN_SUCCESS)
        v->consent_ok_us = g_get_monotonic_time ();
      return;
    }
  for (guint i = 0; i < v->n_cands; i++)
    if (v->cands[i].request_len >= 20
        && memcmp (id, v->cands[i].request + STUN_MESSAGE_TRANS_ID_POS, sizeof id) == 0)
      {
        if (ret == STUN_USAGE_ICE_RETURN_ROLE_CONFLICT)
          mm_lean_debug (v, "role conflict answered by candidate %u: ignored", i);
        else if (ret == STUN_USAGE_ICE_RETURN_SUCCESS && v->state == MM_LEAN_CHECKING)
          mm_lean_viewer_ice_connected (v, i);
        v->cands[i].request_len = 0;   /* answered: no more resends */
        return;
      }
}

void
mm_lean_ice_stun (MmLeanViewer *v, const guint8 *buf, gsize len,
                  const struct sockaddr_storage *from, socklen_t from_len)
{
  /* Class bits of the message type (RFC 5389 6): C1 is bit 8, C0 bit 4. */
  if ((buf[0] & 0x01) == 0 && (buf[1] & 0x10) == 0)
    stun_request (v, buf, len, from, from_len);
  else if ((buf[0] & 0x01) != 0)
    stun_response (v, buf, len);
}

void
mm_lean_ice_send_checks (MmLeanViewer *v, gint64 now_us)
{
  for (guint i = 0; i < v->n_cands; i++)
    {
      MmLeanCandidate *c = &v->cands[i];

      if (c->request_len > 0 && c->next_us <= now_us)
        {
          mm_lean_viewer_send_to (v, c->request, c->request_len, &c->addr, c->addr_len);
          c->next_us = now_us + CHECK_INTERVAL_US;
        }
    }
}

void
mm_lean_ice_send_consent (MmLeanViewer *v)
{
  MmLeanCandidate *c;

  if (v->selected < 0)
    return;
  c = &v->cands[v->selected];
  if (v->consent_out)
    {
      v->consent_lost++;
      stun_agent_forget_transaction (&v->stun, v->consent_id);
    }
  v->consent_len = make_check (v, v->consent_request, sizeof v->consent_request, FALSE);
  if (v->consent_len == 0)
    return;
  memcpy (v->consent_id, v->consent_request + STUN_MESSAGE_TRANS_ID_POS, sizeof v->consent_id);
  v->consent_out = TRUE;
  mm_lean_viewer_send_to (v, v->consent_request, v->consent_len, &c->addr, c->addr_len);
}
