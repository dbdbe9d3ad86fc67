/* peer-main.c — minibit-peer: a real ring peer.
 *
 * Configured like the seed (environment SELF_ID, KNOWN_PEERS, DATA_DIR,
 * PORT, TRACKER_HOST, TRACKER_PORT) or by the same settings as options,
 * which win.  Serves the seeds' HTTP API on PORT and speaks minibit frames on
 * WIRE_PORT (PORT + 1000 unless set), both on HOST.
 *
 * Identity: the peer's ring member name is the wire address others dial,
 * --advertise HOST:PORT (env ADVERTISE) when given, else HOST:WIRE_PORT.  A
 * wildcard (0.0.0.0, ::) is never an identity: binding one without
 * --advertise, or advertising one, is refused at start.  Every host name
 * given (HOST, ADVERTISE, KNOWN_PEERS, TRACKER_HOST) is resolved once at
 * start to a numeric address (resolve.h), with a deadline; one that does
 * not resolve stops the start with an error naming it.  SIGTERM and SIGINT run the graceful
 * shutdown (hand-off of its manifests and chunks), then it exits 0.
 * Invariants: the ring peer's host is the gateway's (HTTP requests are its
 * pseudo nodes); it is freed before the gateway, store and transport it
 * uses.
 */
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "cluster-secret.h"
#include "disk-store.h"
#include "resolve.h"
#define MB_REAL_PEER_INTERNAL
#include "peer-private.h"

void
mbi_peer_rearm (MbPeerApp *app)
{
  if (app->timer)
    mb_expiry_driver_rearm (app->timer);
  if (app->swarm_timer)
    mb_expiry_driver_rearm (app->swarm_timer);
}

/* ---- messages from the wire ---- */

static void
on_recv (gpointer user, MbNodeId from, const MbMessage *msg)
{
  MbPeerApp *app = user;
  if (mbi_peer_membership_on_message (app, from, msg))
    return;
  if (!mbi_peer_swarm_receive (app, from, msg))
    mb_ringpeer_receive (app->rp, from, msg, mb_clock_now ());
  mbi_peer_rearm (app);
}

static void
on_gone (gpointer user, MbNodeId node)
{
  MbPeerApp *app = user;
  mb_ringpeer_on_disconnect (app->rp, node, mb_clock_now ());
  mbi_peer_swarm_on_gone (app, node);
  mbi_peer_membership_on_disconnect (app, node);
  mbi_peer_rearm (app);
}

static void
on_session (gpointer user, MbNodeId node)
{
  mbi_peer_membership_on_session (user, node);
}

/* The transport's uplink backlog fell to what the swarm peer asked (flow
 * control, transport.h): it hands over its next blocks. */
static void
on_uplink_ready (gpointer user)
{
  mbi_peer_swarm_on_uplink_ready (user);
}

static guint64
rp_next (gconstpointer obj)
{
  return mb_ringpeer_next_expiry (obj);
}

static void
rp_handle (gpointer obj, guint64 now)
{
  mb_ringpeer_handle_expiry (obj, now);
}

static void
rp_receive (gpointer obj, MbNodeId from, const MbMessage *msg, guint64 now)
{
  mb_ringpeer_receive (obj, from, msg, now);
}

/* ---- leaving ---- */

typedef struct {
  MbPeerApp *app;
  MbShutdownDoneFn done;
  gpointer data;
} ShutdownWait;

static gboolean
quit_soon (gpointer data)
{
  g_main_loop_quit (((MbPeerApp *) data)->loop);
  return G_SOURCE_REMOVE;
}

static void
on_shutdown_done (MbRingPeer *rp, const MbShutdownReport *r, gpointer data)
{
  ShutdownWait *w = data;
  MbPeerApp *app = w->app;
  g_message ("graceful shutdown: %u manifests redistributed (%u failed), %u chunks "
             "redistributed (%u failed), %" G_GUINT64_FORMAT " bytes moved",
             r->manifests_redistributed, r->manifests_failed, r->chunks_redistributed,
             r->chunks_failed, r->bytes_moved);
  mbi_peer_membership_leave_notice (app);
  mbi_peer_membership_tracker_goodbye (app);
  if (w->done)
    w->done (rp, r, w->data);
  g_free (w);
  /* Let the goodbyes and the HTTP answer go out before quitting. */
  g_timeout_add (500, quit_soon, app);
}

void
mbi_peer_shutdown (MbPeerApp *app, MbShutdownDoneFn done, gpointer data)
{
  if (app->shutting_down)
    return;
  app->shutting_down = TRUE;
  g_message ("graceful shutdown: handing manifests and chunks to their new owners");
  ShutdownWait *w = g_new0 (ShutdownWait, 1);
  w->app = app;
  w->done = done;
  w->data = data;
  mb_ringpeer_shutdown (app->rp, mb_clock_now (), on_shutdown_done, w);
  mbi_peer_rearm (app);
}

static gboolean
on_signal (gpointer data)
{
  MbPeerApp *app = data;
  if (app->shutting_down)
    return G_SOURCE_CONTINUE;
  g_message ("signal received");
  mbi_peer_shutdown (app, NULL, NULL);
  return G_SOURCE_CONTINUE;
}

/* ---- configuration ---- */

static const char *
env_or (const char *name, const char *fallback)
{
  const char *v = g_getenv (name);
  return v && *v ? v : fallback;
}

static gboolean
parse_port (const char *what, const char *text, guint16 *out, GError **error)
{
  char *end = NULL;
  guint64 v = g_ascii_strtoull (text, &end, 10);
  if (!text || !*text || *end || v > 65535)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "%s: \"%s\" is not a port number (0-65535)", what, text ? text : "");
      return FALSE;
    }
  *out = (guint16) v;
  return TRUE;
}

/* An uplink rate: bytes per second, or bits per second with tc's suffixes
 * kbit, mbit, gbit (e.g. 16mbit = 2000000 bytes/s); at least 1 KB/s. */
static gboolean
parse_rate (const char *what, const char *text, guint64 *out, GError **error)
{
  char *end = NULL;
  gdouble v = g_ascii_strtod (text, &end);
  gdouble scale = 1;
  if (end != text && g_ascii_isdigit (*text))
    {
      if (g_ascii_strcasecmp (end, "kbit") == 0)
        scale = 1e3 / 8;
      else if (g_ascii_strcasecmp (end, "mbit") == 0)
        scale = 1e6 / 8;
      else if (g_ascii_strcasecmp (end, "gbit") == 0)
        scale = 1e9 / 8;
      else if (*end != '\0')
        scale = 0;
    }
  else
    scale = 0;
  gdouble bytes = v * scale;
  if (scale == 0 || !(bytes >= 1000) || bytes > 1e12)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "%s: \"%s\" is not a rate: bytes per second, or a number with kbit, mbit "
                   "or gbit, from 1000 bytes/s to 1 TB/s (e.g. 2000000 or 16mbit)", what, text);
      return FALSE;
    }
  *out = (guint64) bytes;
  return TRUE;
}

static gchar **
split_list (const char *text)
{
  if (!text || !*text)
    return g_new0 (gchar *, 1);
  gchar **parts = g_strsplit_set (text, ", ", -1);
  GPtrArray *out = g_ptr_array_new ();
  for (guint i = 0; parts[i]; i++)
    if (*parts[i])
      g_ptr_array_add (out, g_strdup (parts[i]));
  g_strfreev (parts);
  g_ptr_array_add (out, NULL);
  return (gchar **) g_ptr_array_free (out, FALSE);
}

static gboolean
configure (MbPeerAppConfig *cfg, int *argc, char ***argv, GError **error)
{
  gchar *self_id = NULL, *host = NULL, *data_dir = NULL, *known = NULL, *tracker_host = NULL;
  gchar *port = NULL, *wire_port = NULL, *tracker_port = NULL, *secret_file = NULL;
  gchar *advertise = NULL, *uplink_rate = NULL;
  /* The ring's defaults are the core's (mb_ringpeer_config_init). */
  MbRingPeerConfig dflt;
  mb_ringpeer_config_init (&dflt);
  gint replication = (gint) dflt.replication, chunk_kib = (gint) (dflt.chunk_size / 1024);
  gint ping_ms = 1000, misses = 3, write_quorum = 0, announce_ms = 2000;
  gboolean no_swarm = FALSE, client = FALSE;
  g_autofree gchar *replication_help =
    g_strdup_printf ("Copies of each chunk and manifest, R (default %d)", replication);
  g_autofree gchar *chunk_help = g_strdup_printf ("Chunk size in KiB (default %d)", chunk_kib);
  GOptionEntry entries[] = {
    { "self-id", 0, 0, G_OPTION_ARG_STRING, &self_id, "This peer's id (env SELF_ID; default peer-PORT)", "ID" },
    { "host", 0, 0, G_OPTION_ARG_STRING, &host, "Address to listen on (env HOST; default 127.0.0.1)", "HOST" },
    { "advertise", 0, 0, G_OPTION_ARG_STRING, &advertise, "The wire address other peers and the tracker reach this peer at, and its name on the ring (env ADVERTISE; default HOST:WIRE_PORT; required when HOST is a wildcard such as 0.0.0.0)", "HOST:PORT" },
    { "port", 'p', 0, G_OPTION_ARG_STRING, &port, "HTTP API port (env PORT; default 5000)", "PORT" },
    { "wire-port", 0, 0, G_OPTION_ARG_STRING, &wire_port, "Peer-to-peer port (env WIRE_PORT; default PORT+1000)", "PORT" },
    { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir, "Where chunks, manifests and downloads live (env DATA_DIR; default ./data)", "DIR" },
    { "known-peers", 'k', 0, G_OPTION_ARG_STRING, &known, "Other peers' wire addresses, comma-separated (env KNOWN_PEERS)", "H:P,..." },
    { "tracker-host", 0, 0, G_OPTION_ARG_STRING, &tracker_host, "Tracker host (env TRACKER_HOST; default 127.0.0.1)", "HOST" },
    { "tracker-port", 0, 0, G_OPTION_ARG_STRING, &tracker_port, "Tracker HTTP port; its wire port is one more (env TRACKER_PORT; default 9000)", "PORT" },
    { "replication", 'r', 0, G_OPTION_ARG_INT, &replication, replication_help, "R" },
    { "chunk-kib", 0, 0, G_OPTION_ARG_INT, &chunk_kib, chunk_help, "KIB" },
    { "write-quorum", 'w', 0, G_OPTION_ARG_INT, &write_quorum, "Manifest owners that must acknowledge a store, W (default a majority of R, R/2+1; fetches read R-W+1)", "W" },
    { "ping-ms", 0, 0, G_OPTION_ARG_INT, &ping_ms, "Failure-detector period in ms (default 1000)", "MS" },
    { "announce-ms", 0, 0, G_OPTION_ARG_INT, &announce_ms, "Re-announce to the tracker this often, in ms (default 2000; the tracker drops a member silent for --member-timeout, 10 s)", "MS" },
    { "ping-misses", 0, 0, G_OPTION_ARG_INT, &misses, "Missed pings before a member counts as crashed (default 3)", "N" },
    { "client", 0, 0, G_OPTION_ARG_NONE, &client, "A ring client: never a ring member (nothing is placed on it); it learns the members from the tracker, fetches files (as swarms) and serves what it fetched to other fetchers; needs a tracker (env MINIBIT_CLIENT=1)", NULL },
    { "no-swarm", 0, 0, G_OPTION_ARG_NONE, &no_swarm, "Fetch files from their holders by GET_CHUNK only, never as a swarm with the other fetchers (env MINIBIT_NO_SWARM=1); this peer still serves other peers' swarms", NULL },
    { "uplink-rate", 0, 0, G_OPTION_ARG_STRING, &uplink_rate, "The uplink's capacity, bytes per second or with kbit, mbit, gbit (e.g. 16mbit): the swarm opens extra upload slots while it uses under 95% of it; default unknown: the most it sent in a round (env MINIBIT_UPLINK_RATE)", "RATE" },
    { "cluster-secret-file", 0, 0, G_OPTION_ARG_FILENAME, &secret_file, "File holding the cluster secret, mode 0600 (else env MINIBIT_CLUSTER_SECRET; without one, wire peers are accepted from loopback only)", "PATH" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("");
  g_option_context_set_summary (ctx,
    "A minibit peer: stores files as content-hashed chunks on a consistent-hash ring\n"
    "and serves the seeds' HTTP API (store_file, fetch_file, shutdown, status, metrics).\n"
    "minibit-peer fetch NAME [--peer URL]: a fetch through a running peer, with progress\n"
    "(see minibit-peer fetch --help).\n"
    "Environment: SELF_ID HOST ADVERTISE KNOWN_PEERS DATA_DIR PORT WIRE_PORT TRACKER_HOST\n"
    "TRACKER_PORT (host names are resolved once, at start)\n"
    "MINIBIT_SHARE_DIRS (extra folders store_file may read) MINIBIT_TOKEN (bearer token\n"
    "that allows store_file, fetch_file and shutdown from other hosts than loopback)\n"
    "MINIBIT_CLUSTER_SECRET (the secret wire peers prove at hello; at least 16 bytes)\n"
    "MINIBIT_WIRE_FRAME_TIMEOUT_MS (an unfinished wire frame's deadline, default 30000)\n"
    "MINIBIT_WIRE_WRITE_STALL_MS (a wire write with no progress this long drops its\n"
    "connection, default 20000) MINIBIT_WIRE_MIN_DRAIN_RATE (bytes/s a connection with\n"
    "over 4 MiB queued must take, on average over the write stall time, default 32768;\n"
    "0: no minimum) MINIBIT_WIRE_NOTSENT_LOWAT (TCP_NOTSENT_LOWAT of wire\n"
    "sockets in bytes, default 131072; 0: the kernel's).");
  g_option_context_add_main_entries (ctx, entries, NULL);
  gboolean ok = g_option_context_parse (ctx, argc, argv, error);
  if (ok)
    {
      const char *p = port ? port : env_or ("PORT", "5000");
      ok = parse_port ("PORT", p, &cfg->http_port, error);
      g_autofree gchar *dflt_wire = g_strdup_printf ("%u", (guint) cfg->http_port + 1000);
      ok = ok && parse_port ("WIRE_PORT", wire_port ? wire_port : env_or ("WIRE_PORT", dflt_wire),
                             &cfg->wire_port, error);
      ok = ok && parse_port ("TRACKER_PORT", tracker_port ? tracker_port : env_or ("TRACKER_PORT", "9000"),
                             &cfg->tracker_port, error);
      cfg->tracker_set = tracker_port != NULL || tracker_host != NULL
                         || *env_or ("TRACKER_PORT", "") || *env_or ("TRACKER_HOST", "");
      cfg->announce_ms = (guint) announce_ms;
    }
  if (ok && (replication < 1 || replication > 16 || chunk_kib < 1 || chunk_kib > 16384
             || ping_ms < 50 || misses < 1 || announce_ms < 50))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--replication must be 1..16, --chunk-kib 1..16384, --ping-ms >= 50, --ping-misses >= 1, --announce-ms >= 50");
      ok = FALSE;
    }
  if (ok && (client || strcmp (env_or ("MINIBIT_CLIENT", "0"), "0") != 0) && !cfg->tracker_set)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--client needs a tracker (TRACKER_HOST or TRACKER_PORT, or their options): "
                   "a client learns the ring's members from it");
      ok = FALSE;
    }
  if (ok && (write_quorum < 0 || write_quorum > replication))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--write-quorum must be 1..R (%d), or 0 for a majority of R; got %d",
                   replication, write_quorum);
      ok = FALSE;
    }
  if (ok)
    {
      g_autofree gchar *dflt_id = g_strdup_printf ("peer-%u", cfg->http_port);
      cfg->self_id = g_strdup (self_id ? self_id : env_or ("SELF_ID", dflt_id));
      cfg->host = g_strdup (host ? host : env_or ("HOST", "127.0.0.1"));
      const char *adv = advertise ? advertise : g_getenv ("ADVERTISE");
      cfg->advertise = adv && *adv ? g_strdup (adv) : NULL;
      cfg->data_dir = g_strdup (data_dir ? data_dir : env_or ("DATA_DIR", "data"));
      cfg->known_peers = split_list (known ? known : g_getenv ("KNOWN_PEERS"));
      cfg->tracker_host = g_strdup (tracker_host ? tracker_host : env_or ("TRACKER_HOST", "127.0.0.1"));
      cfg->share_dirs = split_list (g_getenv ("MINIBIT_SHARE_DIRS"));
      cfg->token = g_strdup (g_getenv ("MINIBIT_TOKEN"));
      cfg->secret_file = g_strdup (secret_file);
      cfg->replication = (guint) replication;
      cfg->write_quorum = (guint) write_quorum;
      cfg->chunk_size = (guint32) chunk_kib * 1024;
      cfg->ping_interval_ms = (guint) ping_ms;
      cfg->ping_misses = (guint) misses;
      cfg->no_swarm = no_swarm || strcmp (env_or ("MINIBIT_NO_SWARM", "0"), "0") != 0;
      cfg->client = client || strcmp (env_or ("MINIBIT_CLIENT", "0"), "0") != 0;
      const char *rate = uplink_rate ? uplink_rate : env_or ("MINIBIT_UPLINK_RATE", NULL);
      ok = rate == NULL || parse_rate (uplink_rate ? "--uplink-rate" : "MINIBIT_UPLINK_RATE",
                                       rate, &cfg->uplink_rate, error);
    }
  g_free (self_id); g_free (host); g_free (data_dir); g_free (known); g_free (tracker_host);
  g_free (port); g_free (wire_port); g_free (tracker_port); g_free (secret_file);
  g_free (advertise); g_free (uplink_rate);
  return ok;
}

static void
config_clear (MbPeerAppConfig *cfg)
{
  g_free (cfg->self_id);
  g_free (cfg->host);
  g_free (cfg->advertise);
  g_free (cfg->data_dir);
  g_strfreev (cfg->known_peers);
  g_free (cfg->tracker_host);
  g_strfreev (cfg->share_dirs);
  g_free (cfg->token);
  g_free (cfg->secret_file);
}

/* Every host name of the configuration as a numeric address (resolve.h);
 * the identity never a wildcard.  FALSE with an error naming the setting
 * and the name. */
static gboolean
resolve_config (MbPeerAppConfig *cfg, GError **error)
{
  g_autoptr (GInetAddress) bind = mb_resolve_host ("HOST (--host)", cfg->host,
                                                   MB_RESOLVE_TIMEOUT_MS, error);
  if (bind == NULL)
    return FALSE;
  g_free (cfg->host);
  cfg->host = g_inet_address_to_string (bind);
  if (cfg->advertise != NULL)
    {
      gchar *adv = mb_resolve_addr ("ADVERTISE (--advertise)", cfg->advertise, TRUE,
                                    MB_RESOLVE_TIMEOUT_MS, error);
      if (adv == NULL)
        return FALSE;
      g_free (cfg->advertise);
      cfg->advertise = adv;
    }
  else if (g_inet_address_get_is_any (bind))
    {
      g_set_error (error, MB_RESOLVE_ERROR, MB_RESOLVE_ERROR_WILDCARD,
                   "--host %s is a wildcard address (every interface), which other peers "
                   "cannot dial: give --advertise HOST:PORT (env ADVERTISE), the address "
                   "they should reach this peer's wire port at", cfg->host);
      return FALSE;
    }
  for (guint i = 0; cfg->known_peers[i] != NULL; i++)
    {
      gchar *a = mb_resolve_addr ("KNOWN_PEERS (--known-peers)", cfg->known_peers[i], TRUE,
                                  MB_RESOLVE_TIMEOUT_MS, error);
      if (a == NULL)
        return FALSE;
      g_free (cfg->known_peers[i]);
      cfg->known_peers[i] = a;
    }
  g_autoptr (GInetAddress) tracker = mb_resolve_host ("TRACKER_HOST (--tracker-host)",
                                                      cfg->tracker_host, MB_RESOLVE_TIMEOUT_MS,
                                                      error);
  if (tracker == NULL)
    return FALSE;
  if (g_inet_address_get_is_any (tracker))
    {
      g_set_error (error, MB_RESOLVE_ERROR, MB_RESOLVE_ERROR_WILDCARD,
                   "TRACKER_HOST (--tracker-host): %s is a wildcard address, not one to dial",
                   cfg->tracker_host);
      return FALSE;
    }
  g_free (cfg->tracker_host);
  cfg->tracker_host = g_inet_address_to_string (tracker);
  return TRUE;
}

static gboolean
start (MbPeerApp *app, GError **error)
{
  if (!resolve_config (&app->cfg, error))
    return FALSE;
  MbTransportConfig tcfg;
  mb_transport_config_init (&tcfg);
  if (!mb_transport_config_env (&tcfg, error))
    return FALSE;
  GError *local = NULL;
  app->secret = mb_cluster_secret_load (app->cfg.secret_file, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  if (app->secret == NULL)
    g_warning ("peer %s: running WITHOUT a cluster secret: wire peers are accepted from "
               "loopback only, and any process on this host can join the ring; set "
               "MINIBIT_CLUSTER_SECRET or --cluster-secret-file on every peer and the tracker",
               app->cfg.self_id);
  else
    g_message ("peer %s: cluster secret from %s: wire peers must prove it", app->cfg.self_id,
               app->cfg.secret_file != NULL ? app->cfg.secret_file : "MINIBIT_CLUSTER_SECRET");
  tcfg.secret = app->secret;
  tcfg.advertise_addr = app->cfg.advertise;  /* NULL: host:wire_port */
  tcfg.client = app->cfg.client;
  app->transport = mb_transport_new (app->cfg.self_id, app->cfg.host, app->cfg.wire_port, &tcfg, error);
  if (!app->transport)
    return FALSE;
  app->addr = g_strdup (mb_transport_listen_addr (app->transport));
  mb_transport_set_handlers (app->transport, on_recv, on_gone, app);
  mb_transport_set_session_handler (app->transport, on_session);
  mb_transport_set_uplink_handler (app->transport, on_uplink_ready);
  app->store = mb_store_disk_new (app->cfg.data_dir, error);
  if (!app->store)
    return FALSE;
  g_autofree gchar *downloads = g_build_filename (app->cfg.data_dir, "downloads", NULL);
  mb_store_disk_set_download_dir (app->store, downloads);
  app->gateway = mb_gateway_new (app->transport);
  GPtrArray *members = g_ptr_array_new ();
  if (!app->cfg.client)
    g_ptr_array_add (members, app->addr);
  for (guint i = 0; app->cfg.known_peers[i]; i++)
    if (g_strcmp0 (app->cfg.known_peers[i], app->addr) != 0)
      g_ptr_array_add (members, app->cfg.known_peers[i]);
  g_autoptr (MbRing) view = mb_ring_new ((const char *const *) members->pdata, members->len,
                                         MB_RING_DEFAULT_VNODES);
  g_ptr_array_unref (members);
  MbRingPeerConfig rcfg;
  mb_ringpeer_config_init (&rcfg);
  rcfg.replication = app->cfg.replication; /* the core's default unless --replication */
  rcfg.chunk_size = app->cfg.chunk_size;   /* the core's default unless --chunk-kib */
  rcfg.write_quorum = app->cfg.write_quorum; /* 0: a majority of R */
  rcfg.leave_in_store = TRUE; /* fetch_file's file is the store's download */
  app->rp = mb_ringpeer_new (mb_gateway_host (app->gateway), mb_transport_self (app->transport),
                             app->addr, &rcfg, app->store, view, g_rand_new ());
  app->timer = mb_expiry_driver_new (app->rp, rp_next, rp_handle, NULL);
  mb_gateway_attach (app->gateway, rp_receive, app->rp, app->timer);
  mbi_peer_swarm_start (app);
  if (!mbi_peer_http_start (app, error))
    return FALSE;
  mbi_peer_membership_start (app);
  g_unix_signal_add (SIGTERM, on_signal, app);
  g_unix_signal_add (SIGINT, on_signal, app);
  g_message ("peer %s: HTTP on %s:%u, wire on %s port %u, known as %s, data in %s, "
             "%u known peers, R = %u", app->cfg.self_id, app->cfg.host, app->cfg.http_port,
             app->cfg.host, (guint) mb_transport_port (app->transport), app->addr, app->cfg.data_dir,
             g_strv_length (app->cfg.known_peers), app->cfg.replication);
  return TRUE;
}

int
main (int argc, char **argv)
{
#ifdef __GLIBC__
  /* Buffers of 1 MiB or more (a large wire frame's) get pages of their own,
   * given back when freed: glibc's moving threshold would otherwise keep
   * the memory of dropped connections in the heap, fragmented. */
  mallopt (M_MMAP_THRESHOLD, 1 << 20);
  /* Setting that threshold also fixes the trim threshold at its 128 KiB
   * default: every freed 256 KiB frame at the heap's top went back to the
   * kernel and came back as fresh zeroed pages at the next one (page faults
   * and page clearing were 6% of a fetch).  Keep up to 16 MiB free at the top. */
  mallopt (M_TRIM_THRESHOLD, 16 << 20);
#endif
  if (argc >= 2 && strcmp (argv[1], "fetch") == 0)
    return mbi_peer_fetch_cli (argc - 1, argv + 1);
  MbPeerApp app = { 0 };
  g_autoptr (GError) err = NULL;
  if (!configure (&app.cfg, &argc, &argv, &err))
    {
      fprintf (stderr, "minibit-peer: %s (see --help)\n", err->message);
      return 2;
    }
  app.loop = g_main_loop_new (NULL, FALSE);
  if (!start (&app, &err))
    {
      fprintf (stderr, "minibit-peer: %s\n", err->message);
      config_clear (&app.cfg);
      g_main_loop_unref (app.loop);
      return 2;
    }
  g_main_loop_run (app.loop);
  mbi_peer_membership_stop (&app);
  if (app.http)
    g_object_unref (app.http);
  mb_expiry_driver_free (app.timer);
  mb_ringpeer_free (app.rp);
  mbi_peer_swarm_free (&app);
  mb_gateway_free (app.gateway);
  mb_store_free (app.store);
  mb_transport_free (app.transport);
  g_main_loop_unref (app.loop);
  g_free (app.addr);
  g_clear_pointer (&app.secret, g_bytes_unref);
  config_clear (&app.cfg);
  return app.exit_status;
}
