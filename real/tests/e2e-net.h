/* e2e-net.h — a network of namespaces for an end-to-end cluster (root
 * only), where a peer can be cut off from the others while it runs: a
 * partition (test_e2e_nemesis.c, test_e2e_partition.c).
 *
 * hub namespace: bridge br0 10.213.1.1/24 (the tracker listens there), ports r0..r4
 * peer i's namespace: eth0 10.213.1.(i+2)/24 (its HTTP and wire), the other end r<i>
 *   on the hub's bridge; cl0 10.213.(10+i).2/24, the other end mbn-PID-c<i> in ours
 *   (10.213.(10+i).1/24, route 10.213.1.(i+2)/32 through it): the test's own path to
 *   the peer (HTTP with the token, the wire fakes), not on the bridge
 * ours: 10.213.0.0/16 also routed to mbn-PID-c0, so that nothing for that range ever
 *   takes the default route (it ends in peer 1's namespace, which does not forward)
 *
 * A partition sets r<v>'s bridge port to the state "disabled": the bridge drops every
 * frame from and to it, both links stay up (no carrier change), so v and the others
 * (and the tracker) see nothing but silence until the port forwards again.  The test's
 * own path to v stays: stores and fetches at the cut-off peer go on.
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
 * Safety: traffic goes only to 10.213.0.0/16 inside these namespaces (made
 * only when that range is unused here); every ip(8) run is bounded (10 s);
 * nothing is left behind: see above.
 */
#pragma once

#include "e2e-fixture.h"

#define MB_NET_HUB N_PEERS
#define MB_NET_TRACKER "10.213.1.1"
#define MB_NET_TOKEN "e2e-net-http-token-2c71e9d04a5b"

typedef struct {
  gboolean up;
  gchar *why;               /* not up: why (the partition is skipped) */
  int ns[N_PEERS + 1];      /* peer i's namespace, then the hub's; -1: none */
  gchar *ip, *bridge;       /* the ip(8) and bridge(8) binaries */
  gchar *host[N_PEERS];     /* 10.213.1.(i+2) */
  gchar *link[N_PEERS];     /* mbn-PID-c<i>, in our namespace; NULL: not made */
} MbNet;

/* Makes the namespaces (net->up), or says in net->why why not (not root,
 * no iproute2, the range in use, no namespaces here): then nothing is left
 * made.  Zeroes *net first. */
void mb_net_start (MbNet *net);
/* A cluster (with E2E_SECRET, replication r) in net's namespaces: the
 * tracker in the hub, peer i at net->host[i]; HTTP with MB_NET_TOKEN. */
Cluster *mb_net_cluster_start (MbNet *net, guint r);
/* Blocks (cut) or opens again (heal) peer i's port on the hub's bridge,
 * checking the state the kernel then has. */
gboolean mb_net_cut (MbNet *net, guint i, gboolean cut, GError **error);
/* Writes value to /proc/sys/PATH inside namespace k (0..MB_NET_HUB). */
gboolean mb_net_sysctl (MbNet *net, guint k, const char *path, const char *value,
                        GError **error);
/* Deletes our links, closes the namespaces (the cluster must be freed
 * first: a namespace goes once nothing runs in it), checks no link of ours
 * is left: FALSE (and a message) if one is. */
gboolean mb_net_free (MbNet *net);
