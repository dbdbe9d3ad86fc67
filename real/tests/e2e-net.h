/* e2e-net.h — a network of namespaces for an end-to-end cluster (root
 * only), where a peer can be cut off from the others while it runs: a
 * partition (test_e2e_nemesis.c, test_e2e_partition.c), and whose links can
 * be shaped to a rate (test_e2e_shaped.c).
 *
 * With n peers (N_PEERS unless mb_net_start_with says otherwise) in the
 * range 10.O.0.0/16 (O = 213 unless said otherwise) and our links named
 * P-PID-c<i> (P = "mbn" unless said otherwise):
 * hub namespace: bridge br0 10.O.1.1/24 (the tracker listens there), ports r0..r(n-1)
 * peer i's namespace: eth0 10.O.1.(i+2)/24 (its HTTP and wire), the other end r<i>
 *   on the hub's bridge; cl0 10.O.(10+i).2/24, the other end P-PID-c<i> in ours
 *   (10.O.(10+i).1/24, route 10.O.1.(i+2)/32 through it): the test's own path to
 *   the peer (HTTP with the token, the wire fakes), not on the bridge
 * ours: 10.O.0.0/16 also routed to P-PID-c0, so that nothing for that range ever
 *   takes the default route (it ends in peer 1's namespace, which does not forward)
 *
 * A partition sets r<v>'s bridge port to the state "disabled": the bridge drops every
 * frame from and to it, both links stay up (no carrier change), so v and the others
 * (and the tracker) see nothing but silence until the port forwards again.  The test's
 * own path to v stays: stores and fetches at the cut-off peer go on.
 *
 * Shaping (mb_net_shape) puts a token bucket (tc tbf) on both ends of every
 * peer's bridge link, eth0 and r<i>: each peer then sends and receives on
 * the bridge at most that rate (the tracker's traffic to a peer goes
 * through r<i> too); the test's own links are not shaped.
 *
 * The namespaces have no names: each is an fd this process holds (unshare in this
 * thread, then back), so nothing of them is left in /run/netns; they vanish, and the
 * links with them, once these fds are closed and the processes in them are gone (the
 * children get SIGKILL when this process dies, whatever kills it).  The links in our
 * namespace are deleted at the end too; a link whose peer's namespace vanished goes
 * with it.  In every namespace tcp_orphan_retries = 1 and tcp_fin_timeout =
 * 2: a closed socket still retransmitting (its FIN into a blocked port)
 * would keep a namespace for about 2 minutes; so they go within seconds
 * (measured: every link gone 6 s after a SIGTERM during a partition).
 *
 * Safety: traffic goes only to 10.O.0.0/16 inside these namespaces (made
 * only when that range is unused here); every ip(8), bridge(8) and tc(8)
 * run is bounded (10 s); nothing is left behind: see above.  Two tests
 * running at once need different ranges and prefixes (the partition test
 * and the nemesis use the defaults).
 */
#pragma once

#include "e2e-fixture.h"

#define MB_NET_MAX_PEERS 8
#define MB_NET_TOKEN "e2e-net-http-token-2c71e9d04a5b"

/* What mb_net_start_with makes; a zero field takes the default. */
typedef struct {
  guint peers;              /* 1..MB_NET_MAX_PEERS; 0: N_PEERS */
  guint octet;              /* the range 10.octet.0.0/16, 1..254; 0: 213 */
  const char *prefix;       /* our links' names start with it (1-4 characters); NULL: "mbn" */
} MbNetConfig;

typedef struct {
  gboolean up;
  gchar *why;               /* not up: why (the partition is skipped) */
  guint n;                  /* peers; the hub is namespace n */
  guint octet;
  gchar *prefix;
  int ns[MB_NET_MAX_PEERS + 1]; /* peer i's namespace, then the hub's (ns[n]); -1: none */
  gchar *ip, *bridge;       /* the ip(8) and bridge(8) binaries */
  gchar *range;             /* 10.O.0.0/16 */
  gchar *tracker;           /* 10.O.1.1, the hub's address on its bridge */
  gchar *host[MB_NET_MAX_PEERS]; /* 10.O.1.(i+2) */
  gchar *link[MB_NET_MAX_PEERS]; /* P-PID-c<i>, in our namespace; NULL: not made */
} MbNet;

/* The hub's index among net's namespaces (for mb_net_sysctl). */
#define MB_NET_HUB(net) ((net)->n)

/* Makes the namespaces (net->up), or says in net->why why not (not root,
 * no iproute2, the range in use, no namespaces here): then nothing is left
 * made.  Zeroes *net first.  mb_net_start: N_PEERS peers in 10.213.0.0/16,
 * links mbn-PID-c<i>; mb_net_start_with: as cfg says (NULL: the same). */
void mb_net_start (MbNet *net);
void mb_net_start_with (MbNet *net, const MbNetConfig *cfg);
/* A cluster (with E2E_SECRET, replication r) in net's namespaces: the
 * tracker in the hub, peer i at net->host[i]; HTTP with MB_NET_TOKEN.
 * net must have N_PEERS peers. */
Cluster *mb_net_cluster_start (MbNet *net, guint r);
/* The same with the peers' --ping-ms (0: the fixture's 300). */
Cluster *mb_net_cluster_start_ping (MbNet *net, guint r, guint ping_ms);
/* Blocks (cut) or opens again (heal) peer i's port on the hub's bridge,
 * checking the state the kernel then has. */
gboolean mb_net_cut (MbNet *net, guint i, gboolean cut, GError **error);
/* Shapes both ends of every peer's bridge link (eth0 in its namespace, r<i>
 * on the hub's bridge) to `rate` (tc's syntax, e.g. "20mbit") with a token
 * bucket: tc qdisc add dev DEV root tbf rate RATE burst 32kbit latency
 * 50ms; checks the kernel shows it.  An error if tc(8) is not installed
 * (G_IO_ERROR_NOT_FOUND) or a qdisc cannot be added. */
gboolean mb_net_shape (MbNet *net, const char *rate, GError **error);
/* Writes value to /proc/sys/PATH inside namespace k (0..MB_NET_HUB (net)). */
gboolean mb_net_sysctl (MbNet *net, guint k, const char *path, const char *value,
                        GError **error);
/* Deletes our links, closes the namespaces (the cluster must be freed
 * first: a namespace goes once nothing runs in it), checks no link of ours
 * is left: FALSE (and a message) if one is. */
gboolean mb_net_free (MbNet *net);
