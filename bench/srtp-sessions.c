/* srtp-sessions.c — does protecting one packet cost more when the
 * process holds many SRTP sessions?  Creates N outbound and N inbound
 * MmSrtp (as N endpoints would, with different keys), then times
 * protecting 1200-byte RTP packets on one of them, then on all of them
 * in turn (as a fan-out does).
 *
 * Usage: srtp-sessions [gcm|cm] N...
 */
#include "config.h"

#include "transport/srtp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAYLOAD 1200
#define PACKETS 20000

static void
make_keys (MmSrtpKeys *k, MmSrtpProfile profile, guint i)
{
  memset (k, 0, sizeof *k);
  k->profile = profile;
  k->key_len = 16;
  k->salt_len = profile == MM_SRTP_PROFILE_AEAD_AES_128_GCM ? 12 : 14;
  for (guint j = 0; j < MM_SRTP_MAX_KEY; j++)
    k->local_key[j] = k->remote_key[j] = (guint8) (i * 31 + j);
  for (guint j = 0; j < MM_SRTP_MAX_SALT; j++)
    k->local_salt[j] = k->remote_salt[j] = (guint8) (i * 17 + j);
}

/* The next sequence number of each outbound session. */
static guint16 *next_seq;

static double
run (MmSrtp **out, guint n)
{
  guint8 buf[PAYLOAD + 12 + MM_SRTP_MAX_TRAILER];
  gint64 t0;

  t0 = g_get_monotonic_time ();
  for (guint p = 0; p < PACKETS; p++)
    {
      gsize len = PAYLOAD + 12;
      guint i = p % n;
      guint16 seq = next_seq[i]++;

      memset (buf, 0xab, len);
      buf[0] = 0x80;
      buf[1] = 96;
      buf[2] = seq >> 8;
      buf[3] = seq & 0xff;
      buf[8] = 0x12;
      if (mm_srtp_protect_rtp (out[i], buf, &len, sizeof buf) != MM_SRTP_OK)
        g_error ("protect failed");
    }
  return (double) (g_get_monotonic_time () - t0) / PACKETS;
}

int
main (int argc, char **argv)
{
  MmSrtpProfile profile = MM_SRTP_PROFILE_AEAD_AES_128_GCM;
  int first = 1;

  if (argc > 1 && strcmp (argv[1], "cm") == 0)
    profile = MM_SRTP_PROFILE_AES128_CM_SHA1_80, first = 2;
  else if (argc > 1 && strcmp (argv[1], "gcm") == 0)
    first = 2;
  printf ("%s: sessions (N out + N in), us per protect on one, us per protect round-robin\n",
          profile == MM_SRTP_PROFILE_AEAD_AES_128_GCM ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80");
  for (int a = first; a < argc; a++)
    {
      guint n = (guint) atoi (argv[a]);
      MmSrtp **out = g_new0 (MmSrtp *, n);
      MmSrtp **in = g_new0 (MmSrtp *, n);
      gint64 t0 = g_get_monotonic_time ();
      double one, all, create;

      for (guint i = 0; i < n; i++)
        {
          MmSrtpKeys k;

          make_keys (&k, profile, i);
          out[i] = mm_srtp_new (&k, TRUE, NULL);
          in[i] = mm_srtp_new (&k, FALSE, NULL);
          g_assert (out[i] != NULL && in[i] != NULL);
        }
      create = (double) (g_get_monotonic_time () - t0) / n;
      next_seq = g_new0 (guint16, n);
      one = run (out, 1);
      all = run (out, n);
      g_free (next_seq);
      printf ("%6u  %7.2f  %7.2f   (create %.1f us per pair)\n", n, one, all, create);
      fflush (stdout);
      for (guint i = 0; i < n; i++)
        {
          mm_srtp_free (out[i]);
          mm_srtp_free (in[i]);
        }
      g_free (out);
      g_free (in);
    }
  return 0;
}
