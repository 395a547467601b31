/* options.h — mixmeetd's settings: built-in defaults, then the GKeyFile
 * given with --config, then command-line options, each overriding the last.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MM_MIX_MAX_SPEAKERS 8   /* the largest K of [media] mix-speakers */

typedef struct {
  char *listen;             /* address to bind, e.g. "127.0.0.1" or "::" */
  gint port;                /* TCP port; 0 picks a free one */
  char *database_url;       /* libpq connection string or URI */
  gint db_pool_size;        /* connections in the pool */
  char *web_root;           /* built web client */
  char *data_dir;           /* recordings and other state */
  char *sql_dir;            /* migrations */
  char *log_level;          /* error, warning, message, info, debug */
  gint workers;             /* request worker threads */
  gint max_connections;     /* HTTP connections at once */
  gint64 max_body;          /* request body limit, bytes */
  gint long_poll_timeout;   /* seconds an events request may wait */
  gint presence_timeout;    /* seconds without polling before "gone" */
  gint event_backlog;       /* events kept per participant queue */
  gint bcrypt_cost;         /* 4..31 */
  gint token_lifetime;      /* seconds a login token is valid */
  gint login_max_failures;  /* failed logins per email in the window */
  gint login_window;        /* seconds of the throttling window */
  char *port_file;          /* if set, the bound port is written here */
  char *trusted_proxies;    /* comma-separated addresses/CIDRs of reverse proxies */

  /* [media] */
  char *pipelines_dir;      /* GStreamer pipeline descriptions */
  gint video_width;         /* composite size and rate */
  gint video_height;
  gint video_framerate;
  gint video_bitrate;       /* kbit/s of the composite */
  gint audio_bitrate;       /* kbit/s of each mix */
  gint mix_speakers;        /* K of K+1 mixing */
  gint jitter_latency;      /* ms buffered in receive jitterbuffers */
  gint keyframe_interval;   /* ms: forced keyframes at most this often */
  char *ice_addresses;      /* comma-separated local addresses for ICE, "" = all */
  char *media_address;      /* the media port's bind address, "" = every address */
  gint media_port;          /* the one UDP port of all media, 0 = any */
  char *stun_server;        /* stun://host:port or "" */
  char *public_ip;          /* address announced instead of the local one, or "" */
  char *turn_uris;          /* comma-separated TURN URIs for clients, or "" */
  char *turn_secret;        /* coturn static-auth-secret, or "" */
  gint turn_ttl;            /* seconds a client's TURN credentials are valid */
  gint egress_bitrate;      /* kbit/s of the H.264 of HLS and RTMP */

  /* [tiers]: the composite scaled down for receivers on weak links */
  gint medium_height;       /* 0: none */
  gint medium_framerate;
  gint medium_bitrate;      /* kbit/s */
  gint low_height;          /* 0: none */
  gint low_framerate;
  gint low_bitrate;         /* kbit/s */
  gint tier_idle_stop;      /* seconds an unwatched tier's encoder keeps running */
  gint tier_up_after;       /* seconds of a good link before moving up */
  char *rtmp_url;           /* where an RTMP push goes by default, or "" */

  /* [limits]: abuse and capacity */
  gint limit_registrations;  /* accounts made per client address per hour */
  gint limit_rooms;          /* rooms made per account per hour */
  gint limit_joins;          /* joins per client address per minute */
  gint limit_chat;           /* chat messages per participant per minute */
  gint max_meetings;         /* rooms with a meeting on at once */
  gint max_room_participants; /* in one room, a lecture's viewers aside */
  gint max_viewers;          /* lecture viewers in all rooms */
  gint max_per_address;      /* HTTP connections from one address (0: no limit) */

  /* [metrics] */
  char *metrics_allow;      /* comma-separated addresses/CIDRs that may scrape */
  char *metrics_token;      /* bearer token that may scrape from anywhere, or "" */
} MmOptions;

/* Parse @argv with GOptionContext.  --help prints and exits the process
 * (GOption's own behaviour); --version prints and returns NULL with @error
 * unset and *@exit_now TRUE.
 * Returns a new MmOptions (transfer full) or NULL. */
MmOptions *mm_options_parse (int *argc, char ***argv, gboolean *exit_now,
                             GError **error);

/* Defaults only (transfer full); used by tests of the pure parts. */
MmOptions *mm_options_new_default (void);

/* Load @path into @opts, overriding what it sets.  An unknown section or
 * key, a value that is not a number or one out of its range is an error
 * naming the file, the line and the key. */
gboolean mm_options_load_file (MmOptions *opts, const char *path, GError **error);
/* The same from @len bytes of @text (NUL-terminated there), read from
 * @path (named in errors). */
gboolean mm_options_load_data (MmOptions *opts, const char *text, gsize len, const char *path,
                               GError **error);

/* Check ranges; a clear message names the offending setting. */
gboolean mm_options_validate (const MmOptions *opts, GError **error);

void mm_options_free (MmOptions *opts);

/* How many settings there are (keys of the config file). */
guint mm_options_n_settings (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MmOptions, mm_options_free)

G_END_DECLS
