/* world-private.h — the world's state, shared by world.c (nodes, hosts,
 * leaves) and world-ranks.c (what the ranks keep apart and merge between
 * windows).  Not installed. */
#pragma once

#ifndef MB_SIM_WORLD_INTERNAL
#error "world-private.h is private to sim/world*.c"
#endif

#include "world.h"

/* A piece a node's coverage gained (+1) or lost (-1), logged where it
 * happened and counted between windows in the order one rank would have
 * (world-ranks.c). */
typedef struct {
  guint64 time;
  guint32 key;     /* the running event's destination key (node + 1, 0 = global) */
  guint32 piece;
  gint32 delta;
  guint32 node;
  guint32 gop;     /* with a dist: the global op it was logged in (world-dist.c), else 0 */
} MbCoverEntry;

/* A peer that went offline during a window (with a dist: for the others). */
typedef struct {
  guint32 node;
  guint32 kind;       /* MbLeaveKind */
  guint64 time;
  guint64 crash_rec;  /* the net's, for a crash */
} MbDepart;

/* An unchoke tally reported during a window of several ranks, handed to the
 * observer between windows. */
typedef struct {
  MbNodeId node;
  MbNodeId remote;
  const char *key; /* interned */
  MbUnchokeTally t;
} MbUnchokeEntry;

/* An event for another rank's node, with its key. */
typedef struct {
  MbSchedKey key;
  MbEventFn fn;
  gpointer a;
  guint64 b;
} MbPosted;

/* fetch_bytes_up earned by a node of another rank. */
typedef struct {
  MbNodeId node;
  guint64 bytes;
} MbCredit;

/* What one rank keeps to itself (padded: ranks write theirs at once). */
typedef struct {
  guint64 messages;
  GArray *scratch;    /* MbNodeId */
  GArray *cover_log;  /* MbCoverEntry */
  GArray *unchokes;   /* MbUnchokeEntry */
  GArray *credits;    /* MbCredit */
  GArray *departs;    /* MbDepart (with a dist only) */
  GArray **outbox[2]; /* MbPosted, by destination rank, by window parity (as the net's) */
  guint64 *out_min[2];/* the earliest event in each (G_MAXUINT64: none) */
  char pad[64];
} MbWorldRank;

struct _MbWorld {
  MbSched *gsched;         /* global events (= scheds[0] with one rank) */
  MbSched **scheds;        /* by rank */
  guint n_ranks;
  MbWorldRank *ranks;
  MbNet *net;
  MbWorldConfig cfg;
  MbHost host;
  MbManifest *file;        /* frozen: every peer's swarm shares it */
  MbChunkCatalog *catalog; /* file's chunk ids, shared by every store (or NULL; read-only,
                              so every rank reads it) */
  MbTracker *tracker;
  MbEventId tracker_timer;
  guint64 tracker_timer_at;
  GPtrArray *nodes;        /* MbSimNode* */
  gint n_online;           /* atomic: changed by any rank */
  gint n_incomplete;       /* atomic */
  MbWorldCompleteFn on_complete;
  gpointer on_complete_data;
  MbWorldHandoffFn on_handoff;
  gpointer on_handoff_data;
  MbWorldUnchokeFn on_unchoke;
  gpointer on_unchoke_data;
  GHashTable *pending_views; /* ViewUpdates scheduled, not yet run (freed with the world) */
  guint8 swarm_data[MB_MSG_N_TYPES]; /* per type: carries a swarm id (prefetch hint;
                                        from the message table, looked up once) */
  MbRing *ring;            /* current membership (ring on) */
  guint ring_busy;
  /* seed coverage (see the top of world.c) */
  guint *cover_counts;     /* per piece; NULL once covered (or without a file) */
  guint cover_missing;
  gboolean covering;       /* still tracked (read by the ranks; changed between windows) */
  GPtrArray *cover_seen;   /* MbBitfield* by node id - 1, NULL until it has pieces */
  guint64 covered_at;      /* MB_TIME_NEVER until covered */
  guint64 covered_seed_bytes_up;
  gboolean check_ranks;    /* the debug checker (mb_world_check_ranks) */
  guint phase;             /* windows so far: the outbox parity */
  gint n_completed;        /* atomic */
  /* one rank per process (world-dist.c); dist is NULL otherwise */
  MbWorldDist *dist;
  guint32 gop;             /* global ops so far (mbi_world_op_end) */
  gint dist_base[3];       /* online, incomplete, completed at the last settle */
  gint64 dist_sum[3];      /* ... and the changes packed since, summed */
  gint op_counts[3];       /* the same when the current global op began */
  guint32 *held;           /* rank 0: chunks, manifests by peer (2 per peer), or NULL */
  guint n_held;
};

/* The rank this thread runs a window of, -1 between windows. */
extern _Thread_local gint mbi_world_rank;

static inline guint
mbi_world_rank_of (const MbWorld *w, MbNodeId node)
{
  return w->n_ranks == 1 ? 0 : node % w->n_ranks;
}

static inline MbSched *
mbi_world_sched_of (const MbWorld *w, MbNodeId node)
{
  return w->scheds[mbi_world_rank_of (w, node)];
}

/* The rank whose per-rank state this thread uses (0 between windows). */
static inline MbWorldRank *
mbi_world_here (MbWorld *w)
{
  return &w->ranks[mbi_world_rank < 0 ? 0 : mbi_world_rank];
}

/* Whether this process runs node's events. */
static inline gboolean
mbi_world_local (const MbWorld *w, MbNodeId node)
{
  return w->dist == NULL || mbi_world_rank_of (w, node) == w->dist->rank;
}

/* world-dist.c: a global event's call that touches one peer (a join, a
 * leave) runs on that peer's process only; around it, begin and end keep
 * every process's numbering of the global events' events alike (the owner
 * tells the others how many it used) and hand the peer's completion over.
 * Without a dist, or within a window, they do nothing. */
guint64 mbi_world_op_begin (MbWorld *w);
void mbi_world_op_end (MbWorld *w, MbSimNode *n, guint64 begun);
/* world-dist.c: a peer of this process went offline. */
void mbi_world_dist_depart (MbWorld *w, MbSimNode *n, MbLeaveKind kind);
/* world.c: the crash notice, the one event posted to another rank's node. */
void mbi_world_notify_crash (MbSched *s, gpointer a, guint64 b);

/* world-ranks.c */
void mbi_world_ranks_init (MbWorld *w);
void mbi_world_ranks_free (MbWorld *w);
/* Aborts if this thread runs a window of another rank than node's (checker on). */
void mbi_world_touch_fail (const MbWorld *w, MbNodeId node) G_GNUC_NORETURN;
static inline void
mbi_world_touch (const MbWorld *w, MbNodeId node)
{
  if (G_UNLIKELY (w->check_ranks) && mbi_world_rank >= 0
      && mbi_world_rank_of (w, node) != (guint) mbi_world_rank)
    mbi_world_touch_fail (w, node);
}
/* Schedules fn for `node` at `when` from the running context, on node's
 * rank: at once if that is this thread's (or between windows), else
 * through the outbox. */
MbEventId mbi_world_post (MbWorld *w, MbNodeId node, guint64 when, MbEventFn fn, gpointer a,
                          guint64 b);
/* Logs a change of node n's coverage of a piece. */
void mbi_world_cover_log (MbWorld *w, MbNodeId node, guint piece, gint delta);
/* The unchoke observer, or its buffer during a window of several ranks. */
void mbi_world_report_unchokes (MbWorld *w, MbSimNode *n, MbNodeId remote, const char *key,
                                const MbUnchokeTally *t);
/* fetch_bytes_up for node `from`: at once if it is here, else buffered. */
void mbi_world_credit (MbWorld *w, MbNodeId from, guint64 bytes);
/* world.c: the coverage reached now (between windows): sums the seeds' bytes. */
void mbi_world_cover_reached (MbWorld *w, guint64 at);
