/* world.h — the simulated world: the real core (tracker, peers) wired to the
 * scheduler and the in-memory network through an MbHost.
 *
 * Node 0 is the tracker; peers are nodes 1.. in order of arrival.  Every
 * message a core object sends is charged its encoded size (mb_codec_size) on
 * the network and handed over by reference at delivery.  After every call
 * into a node the world asks for its next expiry and (re)schedules one timer
 * event for it.  A crashed peer stops at once; the peers connected to it
 * learn of it after `crash_detect_us` (as a TCP timeout would tell them).
 *
 * Ring and swarm messages go to the node's ring peer and swarm peer by
 * family.  With cfg.ring_swarm the ring peer fetches through the swarm peer
 * (its tracker is node 0, as for the scenario's file), so a ring fetch of a
 * file many peers want is that file's swarm.  Each node counts the fetch
 * payload (swarm PIECE blocks and ring CHUNK replies, their data size) that
 * it sent (fetch_bytes_up) and received (fetch_bytes_down), both when a
 * message is delivered to an online node.  A message to a peer that left
 * gracefully (its host is up, its process gone) is answered with a reset.
 *
 * Ranks (mb_world_new_ranked): peer node i runs on rank i mod K, the
 * tracker on rank 0, each rank on its own scheduler; global events
 * (arrivals, scenario events, samples) on gsched, between windows, where
 * they may touch any node.  Within a window a rank touches only its own
 * nodes (the checker, mb_world_check_ranks, aborts otherwise); events for
 * other ranks' nodes and the sums other ranks need wait in its buffers until
 * mb_world_take_inbox and mb_world_sync (world-ranks.c).  sim/ranks.c runs
 * the windows.
 */
#pragma once

#include <glib.h>

#include "content/manifest.h"
#include "net.h"
#include "swarm/peer.h"
#include "ring/ringpeer.h"
#include "scheduler.h"
#include "swarm/tracker.h"

G_BEGIN_DECLS

typedef enum {
  MB_LEAVE_NONE = 0,
  MB_LEAVE_GRACEFUL,
  MB_LEAVE_CRASH,
} MbLeaveKind;

const char *mb_leave_kind_name (MbLeaveKind k);

typedef struct _MbWorld MbWorld;

typedef struct {
  /* The first cache line holds what every delivered message reads (nodes
   * are allocated 64-byte aligned). */
  MbPeer *peer;
  MbRingPeer *rp;          /* the ring peer, when the ring is on */
  MbEventId timer;
  guint64 timer_at;
  guint64 completed_us;    /* MB_TIME_NEVER until complete */
  guint32 cover_stamp;     /* the peer's have stamp cover_update last saw */
  MbNodeId id;
  gboolean online;
  MbLeaveKind leave;
  guint cls;               /* peer class index (caller's) */
  MbStore *store;
  MbWorld *world;
  guint64 upload_bps, download_bps;
  guint64 joined_us;
  guint64 left_us;         /* MB_TIME_NEVER while online */
  gboolean initial_seed;   /* held the whole file when it joined */
  gboolean present_at_start;
  MbEventId leave_event;   /* a scheduled leave (churn, seed time) */
  MbPeerStats final;       /* stats when it left */
  gchar *addr;             /* "sim:<id>" (or tools/emulate's): address, ring name */
  gboolean shutting_down;  /* handing its keys over before it leaves */
  MbShutdownReport handoff;/* the graceful leave's report */
  guint64 handoff_expected;/* bytes it held / members, when it started */
  guint64 sample_bytes_down;
  guint64 sample_busy_up;
  guint64 busy_up_done;    /* the uplink's busy time when it completed */
  MbEventId drain;         /* the pending uplink-ready call (flow control) */
  gboolean ring_client;    /* runs a ring peer but is never a ring member */
  guint64 fetch_bytes_up;  /* payload of the PIECE and CHUNK messages it sent
                              that were delivered */
  guint64 fetch_bytes_down;/* ... and of those delivered to it */
} MbSimNode;

/* Called when a peer completes the file (after its state is updated). */
typedef void (*MbWorldCompleteFn) (MbWorld *w, MbSimNode *node, gpointer data);

typedef struct {
  guint64 seed;
  MbTrackerConfig tracker;
  MbPeerConfig peer;             /* per-class fields are set at join */
  guint64 tracker_bps;           /* the tracker's up and down capacity, 0 = unlimited */
  guint64 crash_detect_us;       /* 30 s */
  gboolean ring;                 /* every peer is also a ring peer */
  gboolean ring_swarm;           /* ring fetches are swarms: each ring peer gets the
                                    node's swarm peer (mb_ringpeer_set_swarm) */
  MbRingPeerConfig ring_cfg;
  gboolean emulated_names;       /* node addresses (and ring names) as tools/emulate gives
                                    its peers (world.c, node_addr) */
  guint vnodes;
  guint64 view_delay_us;         /* G_MAXUINT64: the latency from the tracker */
  gboolean check;                /* after every call into a node, mb_peer_check and
                                    mb_ringpeer_check it; abort with the reason if
                                    one fails */
} MbWorldConfig;

/* Called when a peer's graceful leave has handed its keys over. */
typedef void (*MbWorldHandoffFn) (MbWorld *w, MbSimNode *node, gpointer data);

/* Called with each swarm connection's unchoke tally (MbUnchokeTally, the
 * core's record of its choker's decisions): `node`'s unchokes of `remote`
 * in swarm `key`, when the connection goes, when `node` leaves, and at
 * mb_world_flush_unchokes. */
typedef void (*MbWorldUnchokeFn) (MbWorld *w, MbSimNode *node, MbNodeId remote,
                                  const char *key, const MbUnchokeTally *t, gpointer data);

/* file may be NULL: no swarm (a ring-only scenario). */
MbWorld *mb_world_new (MbSched *sched, const MbWorldConfig *cfg, MbManifest *file);
/* The same over K ranks (scheds[r] for rank r; scheds share gsched's
 * numbering, mb_sched_new_shared). */
MbWorld *mb_world_new_ranked (MbSched *gsched, MbSched *const *scheds, guint n_ranks,
                              const MbWorldConfig *cfg, MbManifest *file);
guint mb_world_n_ranks (const MbWorld *w);
/* The scheduler of node's rank. */
MbSched *mb_world_sched_of (MbWorld *w, MbNodeId node);
/* This thread runs a window of rank `rank` (-1: between windows). */
void mb_world_set_rank (MbWorld *w, gint rank);
/* Rank `rank` takes in the messages and events the others sent its nodes
 * (before each of its windows). */
void mb_world_take_inbox (MbWorld *w, guint rank);
/* Between windows: the earliest event waiting to be taken in by a rank
 * (G_MAXUINT64: none). */
guint64 mb_world_inbox_next_time (const MbWorld *w);
/* Between windows (no rank running): hands over what the ranks buffered;
 * at a multiple of the lookahead (aligned), counts the seed coverage too. */
void mb_world_sync (MbWorld *w, gboolean aligned);
/* The debug checker: a rank touching another rank's node aborts. */
void mb_world_check_ranks (MbWorld *w, gboolean on);
void mb_world_on_handoff (MbWorld *w, MbWorldHandoffFn fn, gpointer data);
/* The current ring membership (online ring members). */
MbRing *mb_world_ring (MbWorld *w);
/* After a call into node n's ring peer from outside the world (the
 * workload's store_file and fetch_file): n is checked (cfg.check) and its
 * timer re-armed for the requests the call sent, as after every call the
 * world makes itself. */
void mb_world_after_ring_call (MbWorld *w, MbSimNode *n);
/* Ring operations in flight (publish, fetch, hand-off). */
guint mb_world_ring_busy (const MbWorld *w);
void mb_world_ring_busy_add (MbWorld *w, gint delta);
/* New views published and not yet delivered to every ring peer (their
 * repairs not yet started). */
guint mb_world_views_pending (const MbWorld *w);
void mb_world_free (MbWorld *w);
MbNet *mb_world_net (MbWorld *w);
/* The scheduler of the global events. */
MbSched *mb_world_sched (MbWorld *w);
const MbManifest *mb_world_file (MbWorld *w);
void mb_world_on_complete (MbWorld *w, MbWorldCompleteFn fn, gpointer data);
void mb_world_on_unchoke (MbWorld *w, MbWorldUnchokeFn fn, gpointer data);
/* Every online peer reports its connections' unchoke tallies up to now
 * (the run's end). */
void mb_world_flush_unchokes (MbWorld *w);

/* A new peer joins now: its store gets `initial_share` of the pieces (1 = a
 * seed), chosen by the world's own generator; it registers and connects.
 * With the ring on, a ring_client runs a ring peer with the current view but
 * never joins the membership (nothing is placed on it; a graceful leave has
 * nothing to hand over); otherwise it joins the ring. */
MbSimNode *mb_world_join (MbWorld *w, guint cls, MbStrategy strategy, guint64 upload_bps,
                          guint64 download_bps, guint region, gdouble initial_share,
                          gboolean ring_client);
/* Graceful: with the ring on, the peer first hands its keys over (it keeps
 * serving meanwhile), then leaves.  Crash: gone at once; the others learn
 * it after crash_detect_us and repair. */
void mb_world_leave (MbWorld *w, MbSimNode *node, MbLeaveKind kind);

guint mb_world_n_nodes (const MbWorld *w);  /* peers ever joined */
MbSimNode *mb_world_node (MbWorld *w, guint i); /* i in 0..n-1: peer node i+1 */
guint mb_world_n_online (const MbWorld *w);
/* Online peers that do not have the whole file. */
guint mb_world_n_incomplete (const MbWorld *w);
/* The stats of a peer now (live) or when it left. */
void mb_world_node_stats (MbWorld *w, const MbSimNode *node, MbPeerStats *out);
guint64 mb_world_messages (const MbWorld *w);
/* The first moment every piece of the file was held by an online peer that
 * was not an initial seed, MB_TIME_NEVER if that has not happened (or there
 * is no file); *seed_bytes_up (may be NULL) gets the initial seeds' summed
 * bytes_up when it was counted: at the next multiple of the lookahead
 * (mb_world_sync), or the run's end (0 before). */
guint64 mb_world_covered_at (const MbWorld *w, guint64 *seed_bytes_up);
/* Peers that completed the file (initial seeds too), ever. */
guint mb_world_n_completed (const MbWorld *w);
/* The chunks and manifests a peer's store holds (rank 0's copy of them for
 * another process's peer, world-dist.c). */
void mb_world_node_held (MbWorld *w, const MbSimNode *n, guint *chunks, guint *manifests);

/* ---- one rank per process (the MPI backend, sim/mpi/; world-dist.c) -----
 * Each process builds the whole world from the scenario and runs only rank
 * `rank`'s nodes: another rank's peer is a record (class, rates, join and
 * leave, status) without a core peer.  The calls here are collective: every
 * process makes them in the same order. */
typedef struct {
  guint rank;
  guint size;
  gpointer ctx;
  /* buf (len bytes) from process root to all */
  void (*bcast) (gpointer ctx, guint root, gpointer buf, gsize len);
  /* vals[0..n) summed over the processes, on every process */
  void (*sum) (gpointer ctx, guint64 *vals, gsize n);
  /* every process's bytes, in rank order, appended to *all on rank 0 (lens[r]:
   * process r's length); nothing on the others */
  void (*gather) (gpointer ctx, const guint8 *mine, gsize len, GByteArray *all, gsize *lens);
} MbWorldDist;

/* Before any peer joins; the world keeps a copy.  The rank checker is off
 * (global events read every node's record). */
void mb_world_set_dist (MbWorld *w, const MbWorldDist *d);
const MbWorldDist *mb_world_dist (const MbWorld *w);
/* Whether this process runs node's events (always without a dist). */
gboolean mb_world_is_local (const MbWorld *w, MbNodeId node);
/* After a window: outs[d] (d < size) gets what process d needs (the
 * messages and events for its nodes; the coverage log, departures, credits
 * and counts of this one); the buffers are emptied. */
guint64 mb_world_dist_pack (MbWorld *w, GByteArray **outs); /* returns the messages and
                                                              events packed */
/* Takes in process src's pack (before the window's mb_world_sync);
 * FALSE with an error naming what is wrong in the bytes. */
gboolean mb_world_dist_unpack (MbWorld *w, guint src, const guint8 *buf, gsize len,
                               GError **error);
/* After every process's pack is in: the counts (online, incomplete,
 * completed) are the sums. */
void mb_world_dist_settle (MbWorld *w);
/* The earliest event waiting to be packed (G_MAXUINT64: none). */
guint64 mb_world_dist_out_min (const MbWorld *w);
/* Collective: rank 0's records of every peer get their process's figures
 * (status, stats, net stats, held pieces); tags[i] (a byte per peer, the
 * caller's) too. */
void mb_world_dist_gather_nodes (MbWorld *w, guint8 *tags, guint n_tags);

G_END_DECLS
