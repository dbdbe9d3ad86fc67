/* tracker.h — the tracker (MiniBit's TrackerApp, generalised), sans-I/O.
 *
 * One tracker serves many files: one swarm per file name, plus the ring's
 * membership (the swarm named "" holds every registered peer).  It answers:
 *  - REGISTER {file, name, addr}: adds or refreshes the peer in that swarm
 *    (and in the ring) and answers PEER_LIST {code = MB_ERR_NONE, count =
 *    initial blocks, peers};
 *  - GET_PEERS {file, name}: PEER_LIST of the swarm's other peers;
 *  - LEAVE {file, name}: removes the peer at once (file "" = everywhere).
 * A peer list is every other peer when fewer than `peer_list_size` others are
 * known, otherwise `peer_list_size` distinct ones drawn at random; never the
 * asker.  Peers that do not re-announce within `peer_timeout_us` are dropped
 * (checked on the tracker's expiry).  Random draws use the tracker's own
 * GRand; peers are kept in arrays (registration order, a removal moving the
 * last entry into the gap), so the same inputs give the same answers.
 */
#pragma once

#include <glib.h>

#include "host.h"

G_BEGIN_DECLS

typedef struct {
  guint peer_list_size;      /* 5, as in the seed */
  guint64 peer_timeout_us;   /* drop peers not heard from for this long; 0 = never */
  guint64 sweep_interval_us; /* how often to look for timed-out peers */
  /* MiniBit's "initial blocks": when > 0, a registering peer is told to start
   * with a random number of blocks in [0, initial_share * total_blocks],
   * total_blocks being REGISTER's `count`. */
  gdouble initial_share;
} MbTrackerConfig;

void mb_tracker_config_init (MbTrackerConfig *cfg);

typedef struct _MbTracker MbTracker;

/* rand is owned by the tracker. */
MbTracker *mb_tracker_new (const MbHost *host, MbNodeId self,
                           const MbTrackerConfig *cfg, GRand *rand);
void mb_tracker_free (MbTracker *t);

void mb_tracker_receive (MbTracker *t, MbNodeId from, const MbMessage *msg, guint64 now);
guint64 mb_tracker_next_expiry (const MbTracker *t);
void mb_tracker_handle_expiry (MbTracker *t, guint64 now);

/* Introspection (tests, metrics). */
guint mb_tracker_n_swarms (const MbTracker *t);
guint mb_tracker_swarm_size (const MbTracker *t, const char *file);
gboolean mb_tracker_has_peer (const MbTracker *t, const char *file, const char *name);
guint64 mb_tracker_dropped (const MbTracker *t);  /* peers dropped for silence */
/* The node the peer `name` last registered from (its ring entry: every
 * registration refreshes it), or MB_NODE_NONE if it is not registered.
 * Drivers use it to take a LEAVE only from the peer itself. */
MbNodeId mb_tracker_peer_node (const MbTracker *t, const char *name);

G_END_DECLS
