/* sdp.c — offers read and answers written for the own transport, on
 * GStreamer's SDP library. */
#include "config.h"

#include "transport/sdp.h"

#include "core/error.h"

#include <gst/sdp/sdp.h>
#include <stdarg.h>
#include <string.h>

#define EXT_MID "urn:ietf:params:rtp-hdrext:sdes:mid"
#define EXT_TWCC "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
#define EXT_ABS_SEND_TIME "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
#define EXT_AUDIO_LEVEL "urn:ietf:params:rtp-hdrext:ssrc-audio-level"   /* RFC 6464 */

static void
media_free (gpointer data)
{
  MmSdpMedia *m = data;

  g_free (m->mid);
  g_free (m->msid);
  g_free (m->media);
  g_free (m->proto);
  g_free (m->formats);
  g_free (m);
}

void
mm_sdp_session_free (MmSdpSession *s)
{
  if (s == NULL)
    return;
  g_free (s->ice_ufrag);
  g_free (s->ice_pwd);
  g_free (s->fingerprint);
  if (s->media != NULL)
    g_ptr_array_unref (s->media);
  g_strfreev (s->candidates);
  g_free (s);
}

const MmSdpMedia *
mm_sdp_first (const MmSdpSession *s, MmSdpKind kind)
{
  for (guint i = 0; s != NULL && i < s->media->len; i++)
    {
      const MmSdpMedia *m = s->media->pdata[i];

      if (m->kind == kind && !m->rejected)
        return m;
    }
  return NULL;
}

const char *
mm_sdp_setup_to_string (MmSdpSetup setup)
{
  switch (setup)
    {
    case MM_SDP_SETUP_ACTPASS:
      return "actpass";
    case MM_SDP_SETUP_ACTIVE:
      return "active";
    case MM_SDP_SETUP_PASSIVE:
      return "passive";
    case MM_SDP_SETUP_NONE:
    default:
      return NULL;
    }
}

MmSdpSetup
mm_sdp_answer_setup (MmSdpSetup offered)
{
  /* Passive whenever we may choose: the browser's ClientHello then comes
   * right after its first successful check, and we never retransmit a
   * ClientHello into a path that is not up yet. */
  return offered == MM_SDP_SETUP_PASSIVE ? MM_SDP_SETUP_ACTIVE : MM_SDP_SETUP_PASSIVE;
}

/* ---- reading ----------------------------------------------------------- */

static gboolean G_GNUC_PRINTF (2, 3)
invalid (GError **error, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (MM_ERROR, MM_ERROR_INVALID_INPUT, format, args));
  va_end (args);
  return FALSE;
}

static gboolean
empty (const char *value)
{
  return value == NULL || *value == '\0';
}

/* Printable ASCII without space, at most @max characters: what may be
 * written back into SDP or a STUN USERNAME as it came. */
static gboolean
is_token (const char *s, gsize min, gsize max)
{
  gsize n = 0;

  for (; s[n] != '\0'; n++)
    if (n >= max || s[n] <= ' ' || s[n] > '~')
      return FALSE;
  return n >= min;
}

static const char *
attr (const GstSDPMedia *md, const char *key)
{
  return gst_sdp_media_get_attribute_val (md, key);
}

/* "SHA-256 ab:cd:..." → "sha-256 AB:CD:...", or NULL when @fp is not a
 * hash name and one to 64 colon-separated hex bytes. */
static char *
normalise_fingerprint (const char *fp)
{
  GString *out = g_string_new (NULL);
  const char *p = fp;
  guint bytes = 0;

  while (*p == ' ')
    p++;
  for (; g_ascii_isalnum (*p) || *p == '-'; p++)
    g_string_append_c (out, g_ascii_tolower (*p));
  if (out->len == 0 || out->len > 16 || *p != ' ')
    goto bad;
  while (*p == ' ')
    p++;
  g_string_append_c (out, ' ');
  for (;;)
    {
      if (!g_ascii_isxdigit (p[0]) || !g_ascii_isxdigit (p[1]) || ++bytes > 64)
        goto bad;
      g_string_append_c (out, g_ascii_toupper (p[0]));
      g_string_append_c (out, g_ascii_toupper (p[1]));
      p += 2;
      if (*p != ':')
        break;
      g_string_append_c (out, *p++);
    }
  while (*p == ' ')
    p++;
  if (*p != '\0')
    goto bad;
  return g_string_free (out, FALSE);

bad:
  g_string_free (out, TRUE);
  return NULL;
}

/* A decimal number at *@p no greater than @max; *@p moves past it. */
static gboolean
read_number (const char **p, guint64 max, guint64 *out)
{
  char *end;
  guint64 v;

  if (!g_ascii_isdigit (**p))
    return FALSE;
  v = g_ascii_strtoull (*p, &end, 10);
  if (end - *p > 10 || v > max)
    return FALSE;
  *p = end;
  *out = v;
  return TRUE;
}

/* The payload type of the first format of @md whose a=rtpmap names
 * @codec, or -1. */
static gint
find_codec (const GstSDPMedia *md, const char *codec)
{
  gsize len = strlen (codec);

  for (guint f = 0; f < gst_sdp_media_formats_len (md); f++)
    {
      const char *fmt = gst_sdp_media_get_format (md, f);
      guint64 pt;

      if (fmt == NULL || !read_number (&fmt, 127, &pt) || *fmt != '\0')
        continue;
      for (guint k = 0; k < gst_sdp_media_attributes_len (md); k++)
        {
          const GstSDPAttribute *a = gst_sdp_media_get_attribute (md, k);
          const char *p = a->value;
          guint64 n;

          if (g_strcmp0 (a->key, "rtpmap") != 0 || p == NULL
              || !read_number (&p, 127, &n) || n != pt)
            continue;
          while (*p == ' ')
            p++;
          if (g_ascii_strncasecmp (p, codec, len) == 0 && p[len] == '/')
            return (gint) pt;
        }
    }
  return -1;
}

/* a=rtcp-fb:PT TYPE or a=rtcp-fb:* TYPE, for our payload type. */
static void
read_feedback (const GstSDPMedia *md, MmSdpMedia *m)
{
  for (guint k = 0; k < gst_sdp_media_attributes_len (md); k++)
    {
      const GstSDPAttribute *a = gst_sdp_media_get_attribute (md, k);
      const char *p = a->value;
      guint64 pt;
      g_autofree char *type = NULL;

      if (g_strcmp0 (a->key, "rtcp-fb") != 0 || p == NULL)
        continue;
      if (*p == '*')
        p++;
      else if (!read_number (&p, 127, &pt) || pt != m->pt)
        continue;
      if (*p != ' ')
        continue;
      type = g_strstrip (g_ascii_strdown (p, -1));
      if (g_str_equal (type, "nack"))
        m->fb_nack = TRUE;
      else if (g_str_equal (type, "nack pli"))
        m->fb_pli = TRUE;
      else if (g_str_equal (type, "ccm fir"))
        m->fb_fir = TRUE;
      else if (g_str_equal (type, "goog-remb"))
        m->fb_remb = TRUE;
      else if (g_str_equal (type, "transport-cc"))
        m->fb_twcc = TRUE;
    }
}

/* a=extmap:ID[/direction] URI.  Only ids 1 to 14 count: we write one-byte
 * header extensions (RFC 8285), whose 15 is reserved. */
static void
read_extmap (const GstSDPMedia *md, MmSdpMedia *m)
{
  for (guint k = 0; k < gst_sdp_media_attributes_len (md); k++)
    {
      const GstSDPAttribute *a = gst_sdp_media_get_attribute (md, k);
      const char *p = a->value;
      const char *uri;
      guint64 id;

      if (g_strcmp0 (a->key, "extmap") != 0 || p == NULL || !read_number (&p, 14, &id)
          || id == 0)
        continue;
      if (*p == '/')
        p = strchr (p, ' ');
      if (p == NULL || *p != ' ')
        continue;
      uri = p + 1;
      /* Extension attributes may follow the URI. */
      if (g_str_has_prefix (uri, EXT_MID) && (uri[strlen (EXT_MID)] == '\0'
                                              || uri[strlen (EXT_MID)] == ' '))
        m->ext_mid = m->ext_mid ? m->ext_mid : (guint8) id;
      else if (g_str_has_prefix (uri, EXT_TWCC) && (uri[strlen (EXT_TWCC)] == '\0'
                                                    || uri[strlen (EXT_TWCC)] == ' '))
        m->ext_twcc = m->ext_twcc ? m->ext_twcc : (guint8) id;
      else if (g_str_has_prefix (uri, EXT_ABS_SEND_TIME)
               && (uri[strlen (EXT_ABS_SEND_TIME)] == '\0'
                   || uri[strlen (EXT_ABS_SEND_TIME)] == ' '))
        m->ext_abs_send_time = m->ext_abs_send_time ? m->ext_abs_send_time : (guint8) id;
      else if (g_str_has_prefix (uri, EXT_AUDIO_LEVEL)
               && (uri[strlen (EXT_AUDIO_LEVEL)] == '\0' || uri[strlen (EXT_AUDIO_LEVEL)] == ' '))
        m->ext_audio_level = m->ext_audio_level ? m->ext_audio_level : (guint8) id;
    }
}

/* The media SSRC: the first of an a=ssrc-group:FID (its second is the
 * retransmissions'), else the first a=ssrc.  Without a=msid, the one an
 * a=ssrc:N msid: line gives (older Firefox, Plan B). */
static void
read_ssrcs (const GstSDPMedia *md, MmSdpMedia *m)
{
  const char *group = NULL;
  guint64 ssrc, rtx;

  for (guint k = 0; k < gst_sdp_media_attributes_len (md) && group == NULL; k++)
    {
      const GstSDPAttribute *a = gst_sdp_media_get_attribute (md, k);

      if (g_strcmp0 (a->key, "ssrc-group") == 0 && a->value != NULL
          && g_str_has_prefix (a->value, "FID "))
        group = a->value + strlen ("FID ");
    }
  if (group != NULL && read_number (&group, G_MAXUINT32, &ssrc) && *group == ' '
      && (group++, read_number (&group, G_MAXUINT32, &rtx)))
    {
      m->ssrc = (guint32) ssrc;
      m->rtx_ssrc = (guint32) rtx;
    }
  for (guint k = 0; k < gst_sdp_media_attributes_len (md); k++)
    {
      const GstSDPAttribute *a = gst_sdp_media_get_attribute (md, k);
      const char *p = a->value;

      if (g_strcmp0 (a->key, "ssrc") != 0 || p == NULL || !read_number (&p, G_MAXUINT32, &ssrc)
          || *p != ' ')
        continue;
      if (m->ssrc == 0)
        m->ssrc = (guint32) ssrc;
      if (m->msid == NULL && ssrc == m->ssrc && g_str_has_prefix (p + 1, "msid:"))
        m->msid = g_strdup (p + 1 + strlen ("msid:"));
    }
}

static MmSdpMedia *
read_media (const GstSDPMedia *md, guint index)
{
  MmSdpMedia *m = g_new0 (MmSdpMedia, 1);
  const char *kind = gst_sdp_media_get_media (md);
  gboolean sendonly = attr (md, "sendonly") != NULL;
  gboolean recvonly = attr (md, "recvonly") != NULL;
  gboolean inactive = attr (md, "inactive") != NULL;
  gint pt = -1;
  GString *formats = g_string_new (NULL);

  m->index = index;
  m->media = g_strdup (kind != NULL ? kind : "");
  m->proto = g_strdup (gst_sdp_media_get_proto (md) ? gst_sdp_media_get_proto (md) : "");
  for (guint f = 0; f < gst_sdp_media_formats_len (md); f++)
    g_string_append_printf (formats, "%s%s", f > 0 ? " " : "", gst_sdp_media_get_format (md, f));
  m->formats = g_string_free (formats, FALSE);
  m->mid = g_strdup (attr (md, "mid"));
  if (g_strcmp0 (kind, "video") == 0)
    {
      m->kind = MM_SDP_VIDEO;
      pt = find_codec (md, "VP8");
    }
  else if (g_strcmp0 (kind, "audio") == 0)
    {
      m->kind = MM_SDP_AUDIO;
      pt = find_codec (md, "opus");
    }
  else
    m->kind = MM_SDP_OTHER;
  /* Port 0 is a rejected m-line, unless it is bundle-only (max-bundle). */
  m->rejected = pt < 0 || (gst_sdp_media_get_port (md) == 0 && attr (md, "bundle-only") == NULL);
  m->sends = !recvonly && !inactive;
  m->receives = !sendonly && !inactive;
  if (pt >= 0)
    {
      m->pt = (guint8) pt;
      read_feedback (md, m);
    }
  read_extmap (md, m);
  if (m->kind != MM_SDP_AUDIO)
    m->ext_audio_level = 0;
  m->msid = g_strdup (attr (md, "msid"));
  read_ssrcs (md, m);
  return m;
}

/* The first a=group:BUNDLE's mids, or NULL. */
static GStrv
bundle_mids (const GstSDPMessage *sdp)
{
  for (guint k = 0; k < gst_sdp_message_attributes_len (sdp); k++)
    {
      const GstSDPAttribute *a = gst_sdp_message_get_attribute (sdp, k);

      if (g_strcmp0 (a->key, "group") == 0 && a->value != NULL
          && g_str_has_prefix (a->value, "BUNDLE")
          && (a->value[6] == '\0' || a->value[6] == ' '))
        {
          g_auto (GStrv) words = g_strsplit (a->value + 6, " ", -1);
          GPtrArray *mids = g_ptr_array_new ();

          for (guint i = 0; words[i] != NULL; i++)
            if (*words[i] != '\0')
              g_ptr_array_add (mids, g_strdup (words[i]));
          g_ptr_array_add (mids, NULL);
          return (GStrv) g_ptr_array_free (mids, FALSE);
        }
    }
  return NULL;
}

/* What normalise_offer in media.c checked for webrtcbin, with the same
 * words (clients and tests know them): a mid on every m-line, the
 * transport on every m-line we may use. */
static gboolean
check_media (const GstSDPMessage *sdp, MmSdpSession *s, GError **error)
{
  static const char *const setups[] = { "actpass", "active", "passive", NULL };
  const char *session_fp = gst_sdp_message_get_attribute_val (sdp, "fingerprint");
  const char *session_setup = gst_sdp_message_get_attribute_val (sdp, "setup");
  g_autofree char *session_norm = NULL;
  g_autofree char *first_fp = NULL;

  if (!empty (session_fp) && (session_norm = normalise_fingerprint (session_fp)) == NULL)
    return invalid (error, "the session's DTLS fingerprint is not \"sha-256 AB:CD:...\"");
  for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++)
    {
      const GstSDPMedia *md = gst_sdp_message_get_media (sdp, i);
      const MmSdpMedia *m = s->media->pdata[i];
      const char *fp = attr (md, "fingerprint");
      const char *setup = attr (md, "setup");
      g_autofree char *norm = NULL;

      if (empty (m->mid))
        return invalid (error, "m-line %u has no a=mid", i);
      if (!is_token (m->mid, 1, MM_SDP_MAX_MID))
        return invalid (error, "the a=mid of m-line %u is not 1 to %u printable characters "
                        "without spaces", i, MM_SDP_MAX_MID);
      for (guint j = 0; j < i; j++)
        if (g_str_equal (((MmSdpMedia *) s->media->pdata[j])->mid, m->mid))
          return invalid (error, "m-lines %u and %u have the same a=mid:%s", j, i, m->mid);
      /* An m-line we reject (port 0 and not bundle-only, or no codec of
       * ours: a data channel) is answered with port 0 whatever its
       * transport says. */
      if (m->rejected)
        continue;
      if (empty (fp) && empty (session_fp))
        return invalid (error, "m-line %u has no DTLS fingerprint (a=fingerprint), nor has "
                        "the session", i);
      if (!empty (fp) && (norm = normalise_fingerprint (fp)) == NULL)
        return invalid (error, "the DTLS fingerprint of m-line %u is not \"sha-256 AB:CD:...\"",
                        i);
      if (norm != NULL && session_norm != NULL && !g_str_equal (norm, session_norm))
        return invalid (error, "the DTLS fingerprint of m-line %u differs from the session's", i);
      if (norm != NULL && first_fp != NULL && !g_str_equal (norm, first_fp))
        return invalid (error, "the DTLS fingerprint of m-line %u differs from the first "
                        "m-line's", i);
      if (first_fp == NULL && norm != NULL)
        first_fp = g_strdup (norm);
      if (empty (setup))
        setup = session_setup;
      if (empty (setup) || !g_strv_contains (setups, setup))
        return invalid (error, "m-line %u needs a=setup:actpass (or active or passive)", i);
      if ((empty (attr (md, "ice-ufrag")) && empty (gst_sdp_message_get_attribute_val (sdp, "ice-ufrag")))
          || (empty (attr (md, "ice-pwd")) && empty (gst_sdp_message_get_attribute_val (sdp, "ice-pwd"))))
        return invalid (error, "m-line %u has no ICE credentials (a=ice-ufrag and a=ice-pwd)", i);
    }
  s->fingerprint = session_norm != NULL ? g_steal_pointer (&session_norm) : g_steal_pointer (&first_fp);
  return TRUE;
}

static MmSdpSetup
setup_from_string (const char *s)
{
  if (g_strcmp0 (s, "actpass") == 0)
    return MM_SDP_SETUP_ACTPASS;
  if (g_strcmp0 (s, "active") == 0)
    return MM_SDP_SETUP_ACTIVE;
  if (g_strcmp0 (s, "passive") == 0)
    return MM_SDP_SETUP_PASSIVE;
  return MM_SDP_SETUP_NONE;
}

/* The transport's ICE credentials and DTLS setup: those of the BUNDLE
 * group's first m-line (RFC 8843: the offerer-tagged one stands for the
 * group, whatever the others carry), else the session's, else the first
 * m-line's that is not rejected. */
static gboolean
read_transport (const GstSDPMessage *sdp, MmSdpSession *s, const GstSDPMedia *tagged,
                GError **error)
{
  const char *ufrag = NULL, *pwd = NULL, *setup = NULL;

  if (tagged != NULL)
    {
      ufrag = attr (tagged, "ice-ufrag");
      pwd = attr (tagged, "ice-pwd");
      setup = attr (tagged, "setup");
    }
  if (empty (ufrag))
    ufrag = gst_sdp_message_get_attribute_val (sdp, "ice-ufrag");
  if (empty (pwd))
    pwd = gst_sdp_message_get_attribute_val (sdp, "ice-pwd");
  if (empty (setup))
    setup = gst_sdp_message_get_attribute_val (sdp, "setup");
  for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++)
    {
      const GstSDPMedia *md = gst_sdp_message_get_media (sdp, i);

      if (gst_sdp_media_get_port (md) == 0 && attr (md, "bundle-only") == NULL)
        continue;
      if (empty (ufrag))
        ufrag = attr (md, "ice-ufrag");
      if (empty (pwd))
        pwd = attr (md, "ice-pwd");
      if (empty (setup))
        setup = attr (md, "setup");
    }
  if (empty (ufrag) || empty (pwd))
    return invalid (error, "the SDP has no ICE credentials (a=ice-ufrag and a=ice-pwd)");
  if (!is_token (ufrag, MM_SDP_MIN_UFRAG, MM_SDP_MAX_UFRAG))
    return invalid (error, "a=ice-ufrag must be %u to %u printable characters without spaces",
                    MM_SDP_MIN_UFRAG, MM_SDP_MAX_UFRAG);
  if (!is_token (pwd, MM_SDP_MIN_PWD, MM_SDP_MAX_PWD))
    return invalid (error, "a=ice-pwd must be %u to %u printable characters without spaces",
                    MM_SDP_MIN_PWD, MM_SDP_MAX_PWD);
  s->ice_ufrag = g_strdup (ufrag);
  s->ice_pwd = g_strdup (pwd);
  s->setup = setup_from_string (setup);
  return TRUE;
}

/* Every a=candidate of every m-line, once. */
static GStrv
read_candidates (const GstSDPMessage *sdp)
{
  GPtrArray *out = g_ptr_array_new ();

  for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++)
    {
      const GstSDPMedia *md = gst_sdp_message_get_media (sdp, i);

      for (guint k = 0; k < gst_sdp_media_attributes_len (md); k++)
        {
          const GstSDPAttribute *a = gst_sdp_media_get_attribute (md, k);
          char *c;
          gboolean seen = FALSE;

          if (g_strcmp0 (a->key, "candidate") != 0 || empty (a->value))
            continue;
          c = g_strconcat ("candidate:", a->value, NULL);
          for (guint j = 0; j < out->len && !seen; j++)
            seen = g_str_equal (out->pdata[j], c);
          if (seen)
            g_free (c);
          else
            g_ptr_array_add (out, c);
        }
    }
  g_ptr_array_add (out, NULL);
  return (GStrv) g_ptr_array_free (out, FALSE);
}

static MmSdpSession *
read_session (const GstSDPMessage *sdp, GError **error)
{
  g_autoptr (MmSdpSession) s = g_new0 (MmSdpSession, 1);
  const GstSDPKey *key = gst_sdp_message_get_key (sdp);
  g_auto (GStrv) mids = NULL;
  const GstSDPMedia *tagged = NULL;
  gboolean usable = FALSE;

  s->media = g_ptr_array_new_with_free_func (media_free);
  for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++)
    {
      MmSdpMedia *m = read_media (gst_sdp_message_get_media (sdp, i), i);

      usable = usable || !m->rejected;
      g_ptr_array_add (s->media, m);
    }
  if (!usable)
    {
      invalid (error, "the offer has neither VP8 video nor Opus audio");
      return NULL;
    }
  if (key != NULL && !empty (key->data))
    {
      invalid (error, "the offer has a k= line: mixmeet keys media with DTLS-SRTP only");
      return NULL;
    }
  mids = bundle_mids (sdp);
  for (guint i = 0; mids != NULL && mids[i] != NULL; i++)
    {
      const GstSDPMedia *found = NULL;

      for (guint n = 0; n < s->media->len && found == NULL; n++)
        if (g_strcmp0 (((MmSdpMedia *) s->media->pdata[n])->mid, mids[i]) == 0)
          found = gst_sdp_message_get_media (sdp, n);
      if (found == NULL)
        {
          invalid (error, "the offer's BUNDLE group names mid %s, which no m-line has", mids[i]);
          return NULL;
        }
      if (tagged == NULL)
        tagged = found;
    }
  if (!check_media (sdp, s, error) || !read_transport (sdp, s, tagged, error))
    return NULL;
  s->ice_lite = gst_sdp_message_get_attribute_val (sdp, "ice-lite") != NULL;
  s->bundle = mids != NULL;
  for (guint i = 0; i < s->media->len && s->bundle; i++)
    {
      const MmSdpMedia *m = s->media->pdata[i];

      if (!m->rejected && !g_strv_contains ((const char *const *) mids, m->mid))
        s->bundle = FALSE;
    }
  s->candidates = read_candidates (sdp);
  return g_steal_pointer (&s);
}

MmSdpSession *
mm_sdp_parse (const char *text, GError **error)
{
  GstSDPMessage *sdp = NULL;
  MmSdpSession *s;
  gsize len = text != NULL ? strlen (text) : 0;

  if (len > MM_SDP_MAX_TEXT)
    {
      invalid (error, "the SDP is %" G_GSIZE_FORMAT " bytes long, more than the %u taken",
               len, (guint) MM_SDP_MAX_TEXT);
      return NULL;
    }
  /* Empty text is a critical warning to GStreamer's parser, not an error. */
  if (len == 0 || gst_sdp_message_new_from_text (text, &sdp) != GST_SDP_OK
      || gst_sdp_message_medias_len (sdp) == 0)
    {
      if (sdp != NULL)
        gst_sdp_message_free (sdp);
      invalid (error, "sdp is not a session description with media");
      return NULL;
    }
  if (gst_sdp_message_medias_len (sdp) > MM_SDP_MAX_MEDIA)
    {
      invalid (error, "the SDP has %u m-lines, more than the %u taken",
               gst_sdp_message_medias_len (sdp), MM_SDP_MAX_MEDIA);
      gst_sdp_message_free (sdp);
      return NULL;
    }
  s = read_session (sdp, error);
  gst_sdp_message_free (sdp);
  return s;
}

/* ---- writing ----------------------------------------------------------- */

static const char *
direction (gboolean send, gboolean receive)
{
  if (send && receive)
    return "sendrecv";
  if (send)
    return "sendonly";
  return receive ? "recvonly" : "inactive";
}

static void
append_origin (GString *out)
{
  /* A random session id below 2^62, as RFC 8866 suggests for uniqueness. */
  guint64 id = ((guint64) g_random_int () << 30) ^ g_random_int ();

  g_string_append_printf (out, "v=0\r\no=- %" G_GUINT64_FORMAT " 2 IN IP4 127.0.0.1\r\n"
                          "s=-\r\nt=0 0\r\n", id);
}

static void
append_codec (GString *out, MmSdpKind kind, guint pt)
{
  if (kind == MM_SDP_VIDEO)
    g_string_append_printf (out, "a=rtpmap:%u VP8/90000\r\n", pt);
  else
    g_string_append_printf (out, "a=rtpmap:%u opus/48000/2\r\n"
                            "a=fmtp:%u minptime=10;useinbandfec=1\r\n", pt, pt);
}

static void
append_transport (GString *out, const char *ufrag, const char *pwd, const char *fingerprint,
                  MmSdpSetup setup)
{
  g_string_append_printf (out, "a=rtcp-mux\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\n"
                          "a=fingerprint:%s\r\na=setup:%s\r\n",
                          ufrag, pwd, fingerprint, mm_sdp_setup_to_string (setup));
}

static void
append_answer_media (GString *out, const MmSdpMedia *m,
                     const MmSdpAnswerMedia *am, const MmSdpAnswerParams *p, MmSdpSetup setup)
{
  /* Never more than the offer allows: we send only what it receives. */
  gboolean send = am->we_send && m->receives;
  gboolean receive = am->we_receive && m->sends;
  const char *stream = am->msid_stream != NULL ? am->msid_stream : "-";
  const char *track = am->msid_track != NULL ? am->msid_track : m->mid;

  g_string_append_printf (out, "m=%s 9 UDP/TLS/RTP/SAVPF %u\r\nc=IN IP4 0.0.0.0\r\n"
                          "a=mid:%s\r\n", m->kind == MM_SDP_VIDEO ? "video" : "audio",
                          m->pt, m->mid);
  append_transport (out, p->ice_ufrag, p->ice_pwd, p->fingerprint, setup);
  g_string_append_printf (out, "a=%s\r\n", direction (send, receive));
  append_codec (out, m->kind, m->pt);
  if (m->fb_nack)
    g_string_append_printf (out, "a=rtcp-fb:%u nack\r\n", m->pt);
  if (m->fb_pli)
    g_string_append_printf (out, "a=rtcp-fb:%u nack pli\r\n", m->pt);
  if (m->fb_fir)
    g_string_append_printf (out, "a=rtcp-fb:%u ccm fir\r\n", m->pt);
  if (m->fb_remb)
    g_string_append_printf (out, "a=rtcp-fb:%u goog-remb\r\n", m->pt);
  if (m->fb_twcc)
    g_string_append_printf (out, "a=rtcp-fb:%u transport-cc\r\n", m->pt);
  if (m->ext_mid != 0)
    g_string_append_printf (out, "a=extmap:%u " EXT_MID "\r\n", m->ext_mid);
  if (m->ext_twcc != 0)
    g_string_append_printf (out, "a=extmap:%u " EXT_TWCC "\r\n", m->ext_twcc);
  if (m->ext_abs_send_time != 0)
    g_string_append_printf (out, "a=extmap:%u " EXT_ABS_SEND_TIME "\r\n", m->ext_abs_send_time);
  if (m->ext_audio_level != 0 && m->kind == MM_SDP_AUDIO)
    g_string_append_printf (out, "a=extmap:%u " EXT_AUDIO_LEVEL "\r\n", m->ext_audio_level);
  if (send)
    {
      g_string_append_printf (out, "a=msid:%s %s\r\n", stream, track);
      if (am->ssrc != 0 && p->cname != NULL)
        g_string_append_printf (out, "a=ssrc:%u cname:%s\r\n", am->ssrc, p->cname);
      if (am->ssrc != 0)
        g_string_append_printf (out, "a=ssrc:%u msid:%s %s\r\n", am->ssrc, stream, track);
    }
  for (guint c = 0; p->candidates != NULL && p->candidates[c] != NULL; c++)
    g_string_append_printf (out, "a=%s\r\n", p->candidates[c]);
  g_string_append (out, "a=end-of-candidates\r\n");
}

static gboolean
answer_accepts (const MmSdpSession *offer, const MmSdpAnswerParams *p, guint i)
{
  const MmSdpMedia *m = offer->media->pdata[i];

  return !m->rejected && m->kind != MM_SDP_OTHER && i < p->n_media && p->media[i].accept;
}

char *
mm_sdp_build_answer (const MmSdpSession *offer, const MmSdpAnswerParams *p)
{
  GString *out;
  MmSdpSetup setup;

  g_return_val_if_fail (offer != NULL && p != NULL, NULL);
  setup = p->setup;
  /* An answer is never actpass. */
  if (setup != MM_SDP_SETUP_ACTIVE && setup != MM_SDP_SETUP_PASSIVE)
    setup = mm_sdp_answer_setup (offer->setup);
  out = g_string_new (NULL);
  append_origin (out);
  g_string_append (out, "a=ice-lite\r\n");
  /* An answer may only keep a BUNDLE the offer proposed. */
  if (offer->bundle)
    {
      gboolean any = FALSE;

      for (guint i = 0; i < offer->media->len; i++)
        if (answer_accepts (offer, p, i))
          {
            g_string_append_printf (out, "%s %s", any ? "" : "a=group:BUNDLE",
                                    ((MmSdpMedia *) offer->media->pdata[i])->mid);
            any = TRUE;
          }
      if (any)
        g_string_append (out, "\r\n");
    }
  g_string_append (out, "a=msid-semantic: WMS *\r\n");
  for (guint i = 0; i < offer->media->len; i++)
    {
      const MmSdpMedia *m = offer->media->pdata[i];

      if (answer_accepts (offer, p, i))
        append_answer_media (out, m, &p->media[i], p, setup);
      else
        g_string_append_printf (out, "m=%s 0 %s %s\r\nc=IN IP4 0.0.0.0\r\na=mid:%s\r\n",
                                m->media, m->proto, m->formats, m->mid);
    }
  return g_string_free (out, FALSE);
}

char *
mm_sdp_build_offer (const MmSdpOfferParams *p)
{
  GString *out = g_string_new (NULL);
  guint audio_pt = p->audio_pt != 0 ? p->audio_pt : 111;
  guint video_pt = p->video_pt != 0 ? p->video_pt : 96;
  /* The same ids as Chrome's: a server tuned for browsers sees nothing new. */
  const guint ext_twcc = 3, ext_mid = 4;
  const struct {
    gboolean on;
    MmSdpKind kind;
    const char *name;
    guint pt;
  } lines[] = {
    { p->audio, MM_SDP_AUDIO, "audio", audio_pt },
    { p->video, MM_SDP_VIDEO, "video", video_pt },
  };
  guint n = 0;

  append_origin (out);
  g_string_append (out, "a=group:BUNDLE");
  for (guint i = 0; i < G_N_ELEMENTS (lines); i++)
    if (lines[i].on)
      g_string_append_printf (out, " %u", n++);
  g_string_append (out, "\r\na=msid-semantic: WMS\r\n");
  n = 0;
  for (guint i = 0; i < G_N_ELEMENTS (lines); i++)
    {
      guint pt = lines[i].pt;

      if (!lines[i].on)
        continue;
      g_string_append_printf (out, "m=%s 9 UDP/TLS/RTP/SAVPF %u\r\nc=IN IP4 0.0.0.0\r\n"
                              "a=mid:%u\r\n", lines[i].name, pt, n++);
      append_transport (out, p->ice_ufrag, p->ice_pwd, p->fingerprint, MM_SDP_SETUP_ACTPASS);
      if (lines[i].kind == MM_SDP_AUDIO && p->audio_ssrc != 0)
        g_string_append_printf (out, "a=sendrecv\r\na=msid:lean voice\r\n"
                                "a=ssrc:%u cname:lean\r\na=ssrc:%u msid:lean voice\r\n",
                                p->audio_ssrc, p->audio_ssrc);
      else
        g_string_append (out, "a=recvonly\r\n");
      append_codec (out, lines[i].kind, pt);
      /* A receiver asks for what it lost and for key frames. */
      if (lines[i].kind == MM_SDP_VIDEO)
        g_string_append_printf (out, "a=rtcp-fb:%u nack\r\na=rtcp-fb:%u nack pli\r\n"
                                "a=rtcp-fb:%u ccm fir\r\n", pt, pt, pt);
      if (p->twcc)
        g_string_append_printf (out, "a=rtcp-fb:%u transport-cc\r\n", pt);
      g_string_append_printf (out, "a=extmap:%u " EXT_MID "\r\n", ext_mid);
      if (p->twcc)
        g_string_append_printf (out, "a=extmap:%u " EXT_TWCC "\r\n", ext_twcc);
      if (lines[i].kind == MM_SDP_AUDIO && p->ext_audio_level != 0)
        g_string_append_printf (out, "a=extmap:%u " EXT_AUDIO_LEVEL "\r\n", p->ext_audio_level);
    }
  return g_string_free (out, FALSE);
}
