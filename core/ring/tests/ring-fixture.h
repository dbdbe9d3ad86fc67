/* ring-fixture.h — the ring's unit tests' world (ring-fixture.c): N ring
 * peers on in-memory stores, joined by an in-test delivery queue (5 ms per
 * message), time advanced by hand, every peer's invariants checked before
 * each event.  Faults: a peer `down` (takes and answers nothing), a peer
 * whose OK replies are lost (`drop_ok`: it does the work, the asker never
 * hears), and a store that is full (put_chunk and put_manifest fail with
 * MB_STORE_ERROR_NO_SPACE, as a full disk does).
 */
#pragma once

#include <glib.h>

#include "ring/ringpeer.h"
#include "swarm/peer.h"
#include "swarm/tracker.h"

#define SEC MB_USEC_PER_SEC
#define MAXN 80

typedef struct {
  MbHost host;
  guint64 now;
  GQueue queue;
  guint n;
  MbRingPeer *rp[MAXN];
  MbStore *store[MAXN];
  gboolean down[MAXN];
  gboolean drop_ok[MAXN];   /* its OK replies are lost on the way */
  gboolean full[MAXN];      /* its store refuses every put: no space */
  gboolean drop_pieces[MAXN]; /* its swarm PIECEs are lost on the way */
  gchar *addr[MAXN];
  MbRing *ring;
  guint64 bytes_sent;
  guint64 messages;
  GPtrArray *inbox;         /* MbMessage*: what was sent to nodes >= n (the test) */
  /* the swarm layer (rfx_enable_swarm): a swarm peer per node, a tracker */
  MbPeer *sp[MAXN];
  MbTracker *tracker;
  guint64 uplink_Bps;       /* each sender's uplink (bytes/s); 0: unlimited */
  guint64 busy_until[MAXN]; /* when each sender's uplink is free */
  guint64 bytes_from[MAXN]; /* swarm PIECE payload each node sent */
  guint64 stuck[MAXN];      /* flow control: bytes its uplink holds for good */
} RFx;

#define RFX_TRACKER_NODE 98  /* the tracker's node (rfx_enable_swarm) */

#define RFX_TEST_NODE 99  /* a node the test speaks as; its mail goes to inbox */

/* n peers "10.0.1.<i>:7000", node i, on one ring (64 vnodes each); cfg
 * NULL: the defaults with chunk_size 64 KiB and the given replication. */
RFx *rfx_new (guint n, guint replication);
RFx *rfx_new_cfg (guint n, const MbRingPeerConfig *cfg);
void rfx_free (RFx *fx);
MbNodeId rfx_resolve (gpointer ctx, MbNodeId self, const char *addr);
/* Queues msg (taken) from `from` to `to`, delivered 5 ms from now. */
void rfx_send (gpointer ctx, MbNodeId from, MbNodeId to, MbMessage *msg);
/* Gives every node a swarm peer ("p<i>", its ring address, the tracker at
 * RFX_TRACKER_NODE) set as its ring peer's swarm (mb_ringpeer_set_swarm),
 * and each sender an uplink of uplink_Bps (0: unlimited): a message leaves
 * once the ones before it have, at that rate, then takes 5 ms. */
void rfx_enable_swarm (RFx *fx, const MbPeerConfig *cfg, guint64 uplink_Bps);
/* Flow control (core/host.h) on each sender's uplink of uplink_Bps (> 0):
 * the host tells the backlog (the bytes of messages not yet left, plus
 * fx->stuck[i]) and the rate.  The ring never asks for a drain
 * notification; the swarm would, so it must not be enabled with this. */
void rfx_enable_flow_control (RFx *fx, guint64 uplink_Bps);
/* Every peer's invariants hold (mb_ringpeer_check), else g_error. */
void rfx_check (RFx *fx);
/* Runs until nothing is queued and no timer is due before `until`. */
void rfx_run (RFx *fx, guint64 until);
/* Every live peer learns `view` (no repair). */
void rfx_set_views (RFx *fx, MbRing *view);
/* Node of a member name. */
guint rfx_node (const char *member);
/* The test (RFX_TEST_NODE) sends msg (taken) to peer `to`, runs 5 s and
 * returns the answer (from fx->inbox; NULL if none came). */
const MbMessage *rfx_ask (RFx *fx, guint to, MbMessage *msg);

typedef struct {
  gboolean called;
  MbRingResult r;
  GBytes *content;
  gchar *error;
} Done;

void on_done (MbRingPeer *rp, const MbRingResult *r, gpointer data);
void done_clear (Done *d);
GBytes *random_content (gsize len, guint32 seed);
/* store_file / fetch_file at peer `at`, run until done (60 s / 120 s). */
void store_file (RFx *fx, guint at, const char *name, GBytes *content, Done *d);
void fetch_file (RFx *fx, guint at, const char *name, Done *d);
gboolean holds_chunk (RFx *fx, guint i, const char *id);

typedef struct {
  gboolean called;
  MbShutdownReport r;
} ShutDone;

void on_shutdown (MbRingPeer *rp, const MbShutdownReport *r, gpointer data);

/* The stores of the live peers (not down, not in `gone`, a list ended by
 * G_MAXUINT or NULL), for mb_ring_check_copies. */
GPtrArray *rfx_live_stores (RFx *fx, const guint *gone);
/* The newest manifest of `name` over every store (NULL if none). */
MbManifest *rfx_newest_manifest (RFx *fx, const char *name);
