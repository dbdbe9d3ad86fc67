/* e2e-fixture.h — what the end-to-end tests (test_e2e_store.c,
 * test_e2e_faults.c) share: a cluster of build/real/minibit-tracker and
 * N_PEERS build/real/minibit-peer processes on loopback (e2e-fixture.c),
 * and the HTTP requests and peer API operations that drive it (e2e-api.c).
 *
 * The cluster runs with a cluster secret (E2E_SECRET: the peers read it from
 * a file of mode 0600 in the cluster's directory, the tracker from
 * MINIBIT_CLUSTER_SECRET), unless started with mb_cluster_start_with (r,
 * NULL): then on loopback without one.
 *
 * Ports are found by binding port 0 (all at once, so they differ), closing,
 * and passing them on; if a process cannot bind (it exits during start-up)
 * the cluster is started again on other ports.  The binaries are found under
 * $MINIBIT_BUILD_ROOT (set by meson).
 *
 * Nothing can hang or leak: every wait has a deadline; HTTP goes through a
 * synchronous SoupSession with an I/O timeout; the checks (CHECK) do not
 * abort but mark the test failed and return, so the teardown always runs: it
 * prints the tail of each process's log (stdout and stderr go to a file in
 * its directory) when the test failed, SIGKILLs every child still running
 * and removes the temporary directory (kept if the test failed and
 * MINIBIT_E2E_KEEP is set; always if it is "always").  Children also get SIGKILL if this process dies
 * (PR_SET_PDEATHSIG).
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "content/manifest.h"

#define N_PEERS 5

/* ---- checks that fail the test without aborting it ----------------------- */

/* Marks the test failed: "FILE:LINE: check failed: COND: what". */
void mb_fail (const char *file, int line, const char *cond, const char *fmt, ...)
  G_GNUC_PRINTF (4, 5);
/* Prints every failed check so far again to stderr; their count. */
guint mb_fail_recap (void);

/* On failure: mark the test failed, say why, and return FALSE. */
#define CHECKF(cond, ...)                                   \
  G_STMT_START {                                            \
    if (G_UNLIKELY (!(cond)))                               \
      {                                                     \
        mb_fail (__FILE__, __LINE__, #cond, __VA_ARGS__);   \
        return FALSE;                                       \
      }                                                     \
  } G_STMT_END
#define CHECK(cond) CHECKF (cond, "%s", "")

double mb_secs_since (gint64 t0);
/* Runs the default main context (child watches) for about ms. */
void mb_pump (guint ms);

/* ---- processes and the cluster (e2e-fixture.c) ---------------------------- */

typedef struct {
  GSubprocess *proc;
  gchar *name;
  gboolean exited;
} Proc;

/* TRUE once p has exited, waiting at most ms for it. */
gboolean mb_wait_exit (Proc *p, guint ms);
/* Starts argv[0] (a binary's name, found under $MINIBIT_BUILD_ROOT/real)
 * with env (NAME, VALUE pairs, NULL-terminated; may be NULL) added to ours,
 * stdout and stderr going to log; SIGKILL if this process dies. */
Proc *mb_proc_spawn (const char *name, const char *const *argv, const char *const *env,
                     const char *log, GError **error);
/* The same inside the network namespace open as netns (an fd of a
 * /proc/.../ns/net file; -1: ours), entered with setns in the child. */
Proc *mb_proc_spawn_in (const char *name, const char *const *argv, const char *const *env,
                        const char *log, int netns, GError **error);
/* SIGKILL if still running, reap, free (NULL is fine). */
void mb_proc_kill (Proc *p);
/* A TCP socket bound to loopback:port (0: any), or NULL; its port. */
GSocket *mb_bind (guint16 port);
guint16 mb_bound_port (GSocket *s);
/* Free loopback ports, all distinct: a tracker's HTTP port with the next one
 * free too (its wire port), and n (http, wire) pairs for peers.  FALSE if
 * none were found (bounded tries). */
gboolean mb_pick_ports_for (guint16 *tracker_port, guint n, guint16 *http, guint16 *wire);
/* Removes path and everything below it (symbolic links are not followed). */
void mb_rm_rf (const char *path);
/* Shows a process's log: its warnings, then its last lines. */
void mb_log_tail (const char *name, const char *path);

typedef struct {
  gchar *id;          /* peerN */
  guint16 http_port;
  guint16 wire_port;
  gchar *dir;         /* its DATA_DIR */
  gchar *log;
  gchar *url;         /* http://HOST:PORT */
  gchar *wire;        /* HOST:WIRE (its ring member name) */
  gchar *host;        /* its --host (HTTP and wire): 127.0.0.1 unless started with a net */
  int netns;          /* the network namespace it runs in (an fd), -1: ours */
  Proc *proc;
} Peer;

#define E2E_SECRET "e2e-cluster-secret-6f1d2c9a4b7e0358"

typedef struct {
  gchar *root;
  guint replication;
  gchar *secret;      /* NULL: the cluster runs without one */
  gchar *secret_file; /* root/cluster.secret, mode 0600 */
  guint16 tracker_port;
  gchar *tracker_log;
  Proc *tracker;
  Peer peers[N_PEERS];
  guint ping_ms;           /* the peers' --ping-ms */
  gchar *tracker_host;     /* its --host, the peers' --tracker-host */
  int tracker_netns;       /* -1: ours */
  gchar *token;            /* the peers' MINIBIT_TOKEN, sent by mb_peer_http; NULL: none */
  SoupSession *http;       /* quick requests */
  SoupSession *http_slow;  /* store_file, fetch_file, shutdown */
  GPtrArray *stored;       /* names stored on the ring */
} Cluster;

/* A tracker and N_PEERS peers with replication r, all seeing 5 members;
 * NULL (test failed, logs shown) if that cannot be done. */
Cluster *mb_cluster_start (guint r);
/* The same with another secret, or none (NULL). */
Cluster *mb_cluster_start_with (guint r, const char *secret);
/* The same with peer i's DATA_DIR at dirs[i] when dirs and dirs[i] are not
 * NULL (made, not removed by mb_cluster_free: the caller's). */
Cluster *mb_cluster_start_dirs (guint r, const char *const *dirs);
/* Both: a secret (or NULL) and data folders (or NULL). */
Cluster *mb_cluster_start_full (guint r, const char *secret, const char *const *dirs);
/* Where a cluster's processes run when not all on loopback in our own
 * network namespace (a test that made namespaces, as root): the tracker's
 * and each peer's host (HTTP and wire) and namespace (an open fd of a
 * /proc/.../ns/net file, -1: ours; kept open by the caller while the
 * cluster runs), and a token (MINIBIT_TOKEN of the peers: a request from
 * another address than loopback needs it; mb_peer_http sends it). */
typedef struct {
  const char *tracker_host;
  int tracker_netns;
  const char *peer_host[N_PEERS];
  int peer_netns[N_PEERS];
  const char *token;
  guint ping_ms;        /* the peers' --ping-ms (failure detector); 0: 300 */
} MbClusterNet;

/* A secret (or NULL), and where its processes run (NULL: loopback here). */
Cluster *mb_cluster_start_net (guint r, const char *secret, const MbClusterNet *net);
/* Kills what runs, removes the directory, frees c (NULL is fine); with
 * dump, shows the processes' logs first. */
void mb_cluster_free (Cluster *c, gboolean dump);
/* Every peer answers GET /ping with members == want among the peers alive;
 * FALSE after ms, or at once (with *died set) if died is not NULL and a
 * process has exited. */
gboolean mb_wait_members (Cluster *c, gint64 want, guint ms, gboolean *died);
/* The index of the peer whose wire address is `wire`, or -1. */
gint mb_peer_by_wire (Cluster *c, const char *wire);
gboolean mb_alive (Cluster *c, guint i);
/* Starts peer i again after it exited (same ports, DATA_DIR c->peers[i].dir,
 * the old log kept as LOG.N); TRUE once it answers GET /ping within ms. */
gboolean mb_peer_restart (Cluster *c, guint i, guint ms, GError **error);

/* ---- HTTP (e2e-api.c) ------------------------------------------------------ */

typedef struct {
  guint status;     /* 0: no answer (error says why) */
  gchar *error;
  GBytes *body;
  gchar *type;      /* Content-Type */
  JsonNode *json;   /* NULL unless the body is JSON */
} Reply;

void mb_reply_free (Reply *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Reply, mb_reply_free)

/* method url with body (len < 0: a C string; NULL: none); never NULL. */
Reply *mb_http (SoupSession *s, const char *method, const char *url, const char *body,
                gssize len);
/* The same with "Authorization: Bearer token" (NULL: no such header). */
Reply *mb_http_bearer (SoupSession *s, const char *method, const char *url, const char *body,
                       gssize len, const char *token);
/* mb_http to peer i's URL + path, on the slow session if `slow`. */
Reply *mb_peer_http (Cluster *c, guint i, gboolean slow, const char *method, const char *path,
                     const char *body);
/* The reply's JSON object, a string member, an integer member (-1 if absent). */
JsonObject *mb_obj (Reply *r);
const char *mb_str (Reply *r, const char *member);
gint64 mb_int (Reply *r, const char *member);
/* The body as text, for messages (shortened). */
gchar *mb_body_text (Reply *r);

/* A request answered with `want` and a JSON object whose "status" is
 * `status_word`. */
#define CHECK_REPLY(r, want, status_word)                                              \
  G_STMT_START {                                                                       \
    g_autofree gchar *text_ = mb_body_text (r);                                        \
    CHECKF ((r)->status == (want) && mb_obj (r) != NULL                                \
              && g_strcmp0 (mb_str ((r), "status"), (status_word)) == 0,               \
            "wanted %u with status \"%s\", got %s", (guint) (want), (status_word), text_); \
  } G_STMT_END

/* ---- files and the peer API (e2e-api.c) ----------------------------------- */

/* Writes `size` random bytes to DIR/name; returns its SHA-256 (hex). */
gchar *mb_random_file (const char *dir, const char *name, gsize size, guint32 seed);
/* The SHA-256 (hex) of a file's bytes, or NULL if it cannot be read. */
gchar *mb_file_sha (const char *path);
/* POST /store_file at peer `at`: success, every chunk placed R times;
 * *chunks (may be NULL) gets the chunk count; the name joins c->stored. */
gboolean mb_store (Cluster *c, guint at, const char *name, gint64 *chunks);
/* POST /fetch_file at peer `at`: success, and DATA_DIR/downloads/name has
 * SHA-256 `sha`; *sources gets the reply's "sources". */
gboolean mb_fetch (Cluster *c, guint at, const char *name, const char *sha, gint64 *sources);
/* POST path with body at peers at[0 .. n) all at once (one async session,
 * with the cluster's token); out[k] gets each reply (free them).  FALSE if
 * not all answered within timeout_ms (the rest are aborted: status 0). */
gboolean mb_post_many (Cluster *c, const guint *at, guint n, const char *path, const char *body,
                       guint timeout_ms, Reply **out);
/* The same, calling tick (data) about every MB_TICK_MS while they run (it
 * may make requests of its own, on other sessions). */
#define MB_TICK_MS 200
typedef void (*MbTickFn) (gpointer data);
gboolean mb_post_many_while (Cluster *c, const guint *at, guint n, const char *path,
                             const char *body, guint timeout_ms, Reply **out, MbTickFn tick,
                             gpointer data);
/* The value of sample `name` (no labels) in peer i's GET /metrics, -1 if
 * absent or no answer. */
gint64 mb_metric_at (Cluster *c, guint i, const char *name);
/* The chunks peer i holds (GET /ping), -1 if it does not answer. */
gint64 mb_chunks_at (Cluster *c, guint i);
/* Logs the chunks every live peer holds. */
void mb_log_chunks (Cluster *c, const char *when);
/* The manifest of `name` asked at peer `at`, following one "owner"
 * redirect to the peer with that wire address. */
gboolean mb_get_manifest (Cluster *c, guint at, const char *name, MbManifest **out);
