/* peer-private.h — minibit-peer's state and the functions its files give
 * one another: peer-main.c (configuration, wiring, signals, leaving),
 * membership.c (who is on the ring), peer-http.c (the seeds' HTTP API),
 * peer-observe.c (GET /status, GET /metrics) and peer-fetch-cli.c
 * (`minibit-peer fetch`).
 * Not an API.
 *
 * The app owns one MbRingPeer driven by the real clock, talking through the
 * TCP transport.  Its host is a gateway's (gateway.h): the transport's, plus
 * pseudo nodes, so that HTTP requests fed into the core get its replies
 * instead of a socket.  Invariants: after every call into the ring peer its
 * timer is re-armed (mbi_peer_rearm, or the gateway after an ask); the
 * store writes downloads (the disk store, its download folder set), since
 * fetch_file asks it for one.
 */
#pragma once

#ifndef MB_REAL_PEER_INTERNAL
#error "peer-private.h is private to minibit-peer (real/peer-*.c, real/membership.c): no other file may include it"
#endif

#include <gio/gio.h>
#include <libsoup/soup.h>

#include "clock.h"
#include "gateway.h"
#include "ring/ringpeer.h"
#include "swarm/peer.h"
#include "content/store.h"
#include "transport.h"

typedef struct {
  gchar *self_id;        /* SELF_ID: this peer's name */
  gchar *host;           /* listen host for HTTP and wire (numeric after start's resolve) */
  gchar *advertise;      /* ADVERTISE: our wire address as others dial it (NULL: host:wire_port) */
  guint16 http_port;     /* PORT */
  guint16 wire_port;     /* WIRE_PORT (default PORT + 1000) */
  gchar *data_dir;       /* DATA_DIR */
  gchar **known_peers;   /* KNOWN_PEERS: wire addresses host:port (numeric after start) */
  gchar *tracker_host;   /* TRACKER_HOST (numeric after start) */
  guint16 tracker_port;  /* TRACKER_PORT (HTTP); its wire port is +1 */
  gboolean tracker_set;  /* a tracker was configured (TRACKER_HOST/PORT or an option):
                            the membership is its registrations; else KNOWN_PEERS only */
  guint announce_ms;     /* re-announce to the tracker this often */
  gchar **share_dirs;    /* MINIBIT_SHARE_DIRS */
  gchar *token;          /* MINIBIT_TOKEN */
  gchar *secret_file;    /* --cluster-secret-file (else MINIBIT_CLUSTER_SECRET) */
  guint replication;     /* --replication (R) */
  guint write_quorum;    /* --write-quorum (W; 0: a majority of R) */
  guint32 chunk_size;
  guint ping_interval_ms;/* failure detector period */
  guint ping_misses;     /* consecutive misses before a member is dropped */
  gboolean client;       /* --client: a ring client, never a member (needs a tracker):
                            it asks the tracker for the members, fetches and serves
                            swarms, but nothing is placed on it */
  gboolean no_swarm;     /* --no-swarm: fetches take chunks by GET_CHUNK only (the
                            swarm peer still serves other peers' swarms) */
  guint64 uplink_rate;   /* --uplink-rate: the uplink's capacity in bytes/s as told to
                            the swarm (MbHost.uplink_rate); 0: unknown, measured */
} MbPeerAppConfig;

typedef struct _MbPeerApp MbPeerApp;

/* peer-observe.c: what GET /status and GET /metrics tell beyond the core's
 * and the transport's own stats.  Only ever incremented. */
#define MBI_HTTP_ENDPOINTS 15  /* peer-observe.c's endpoint names, "other" last */
#define MBI_HTTP_CLASSES 6     /* no status yet, 1xx .. 5xx */
typedef struct {
  guint64 stores_ok, stores_failed;    /* POST /store_file answered: 200 / not */
  guint64 fetches_ok, fetches_failed;  /* POST /fetch_file that started, answered: 200 / not */
  guint64 http[MBI_HTTP_ENDPOINTS][MBI_HTTP_CLASSES]; /* requests finished */
  gint64 started_us;                   /* monotonic time the peer started */
} MbPeerCounters;

struct _MbPeerApp {
  MbPeerAppConfig cfg;
  GMainLoop *loop;
  MbTransport *transport;
  MbGateway *gateway;      /* the core's host: the transport's, plus HTTP requests */
  MbStore *store;
  MbRingPeer *rp;
  MbExpiryDriver *timer;
  MbPeer *swarm;           /* peer-swarm.c: fetches of the ring peer are swarms */
  MbHost swarm_host;       /* the gateway's host without disconnect (see peer-swarm.c) */
  MbExpiryDriver *swarm_timer;
  GHashTable *unchokes;    /* peer-unchokes.c: remote name -> MbUnchokeTally */
  SoupServer *http;
  gchar *addr;             /* our wire address: our member name on the ring */
  GBytes *secret;          /* the cluster secret, or NULL (loopback only) */
  /* membership.c */
  GHashTable *misses;      /* member -> consecutive missed pings */
  GHashTable *departed;    /* member -> gint64 * monotonic time until which it is not re-added */
  gboolean left;           /* our leave notices are out: no more pings */
  guint ping_source;
  guint32 ping_req;
  GHashTable *pings;       /* req -> member (outstanding) */
  GHashTable *lost;        /* members taken for crashed, not since back nor left: probed */
  guint rounds;            /* ping rounds so far */
  gint64 round_at;         /* monotonic µs: when the last round's pings went out */
  GPtrArray *to_drop;      /* lost members whose connection the idle drop_idle drops */
  guint drop_idle;
  guint announce_source;   /* re-announces to the tracker */
  guint32 announce_req;
  gboolean shutting_down;
  int exit_status;
  MbPeerCounters counters; /* peer-observe.c */
};

/* peer-main.c */
void mbi_peer_rearm (MbPeerApp *app);
/* Runs the graceful shutdown; `done` (may be NULL) gets the report; then the
 * app leaves the ring and quits its main loop. */
void mbi_peer_shutdown (MbPeerApp *app, MbShutdownDoneFn done, gpointer data);

/* membership.c */
void mbi_peer_membership_start (MbPeerApp *app);
void mbi_peer_membership_stop (MbPeerApp *app);
/* Called for every message: a member we did not know joins our view; a
 * PONG is taken (TRUE: consumed, do not pass it to the core). */
gboolean mbi_peer_membership_on_message (MbPeerApp *app, MbNodeId from, const MbMessage *msg);
void mbi_peer_membership_on_disconnect (MbPeerApp *app, MbNodeId node);
/* A fresh authenticated session with node (the transport's session handler). */
void mbi_peer_membership_on_session (MbPeerApp *app, MbNodeId node);
void mbi_peer_membership_leave_notice (MbPeerApp *app);
/* Our goodbye to the tracker (when one is set), best effort. */
void mbi_peer_membership_tracker_goodbye (MbPeerApp *app);

/* peer-unchokes.c: the choker's tallies per remote, for GET /status */
void mbi_peer_unchokes_start (MbPeerApp *app);
void mbi_peer_unchokes_free (MbPeerApp *app);
void mbi_peer_unchokes_json (MbPeerApp *app, struct _JsonBuilder *b);

/* peer-swarm.c: the swarm half (the core's MbPeer on the transport). */
void mbi_peer_swarm_start (MbPeerApp *app);
void mbi_peer_swarm_free (MbPeerApp *app);
/* TRUE if msg is the swarm's (then it was given to it). */
gboolean mbi_peer_swarm_receive (MbPeerApp *app, MbNodeId from, const MbMessage *msg);
void mbi_peer_swarm_on_gone (MbPeerApp *app, MbNodeId node);
void mbi_peer_swarm_on_uplink_ready (MbPeerApp *app);
/* Leaves every swarm (LEAVE to the tracker, connections dropped). */
void mbi_peer_swarm_leave (MbPeerApp *app);
/* The key of the swarm this peer is in for `file` (a key, or a file name:
 * a fetching swarm before one it only serves), NULL if none; borrowed
 * until the next call into the swarm peer. */
const char *mbi_peer_swarm_find (MbPeerApp *app, const char *file);
/* The established connection of swarm `key` with peer id `name`. */
gboolean mbi_peer_swarm_conn_of (MbPeerApp *app, const char *key, const char *name,
                                 MbPeerConnInfo *out);

/* peer-http.c */
gboolean mbi_peer_http_start (MbPeerApp *app, GError **error);

/* peer-observe.c */
/* Counts every request app->http finishes (by endpoint and status class). */
void mbi_peer_observe_start (MbPeerApp *app);
/* GET /status (JSON) and GET /metrics (Prometheus text format 0.0.4). */
void mbi_peer_http_status (MbPeerApp *app, SoupServerMessage *msg);
void mbi_peer_http_metrics (MbPeerApp *app, SoupServerMessage *msg);

/* peer-fetch-cli.c: `minibit-peer fetch NAME [--peer URL]` (argv[0] is
 * "fetch"): a fetch_file through a running peer, its progress shown from
 * GET /status; the exit status (0 fetched, 1 failed, 2 bad usage). */
int mbi_peer_fetch_cli (int argc, char **argv);
