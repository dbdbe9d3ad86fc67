/* scheduler.h — the simulator's discrete-event scheduler and virtual clock.
 *
 * Time is virtual, in microseconds (guint64), starting at 0.  Scheduling,
 * cancelling and running an event are O(log n) in the number of pending
 * events.
 *
 * Event order.  Every event belongs to a node, its destination (the node
 * whose state it touches), or to no node (MB_SCHED_GLOBAL: the scenario's
 * own events).  Its source is the node whose event scheduled it
 * (MB_SCHED_GLOBAL outside any node's event), and each source numbers the
 * events it schedules 0, 1, 2, ...  Events run in order of (time,
 * destination, source, the source's number), global before node 0 before
 * node 1 ...: so events for one destination from one source at the same
 * time run in the order they were scheduled, and the order depends on no
 * counter shared by all nodes.  Nodes split over several schedulers (the
 * ranks, sim/ranks.h) therefore run their events in the order one scheduler
 * would.
 *
 * An event is a function and two arguments (a pointer and a 64-bit integer);
 * the scheduler never owns or frees `a`.  Event ids are never reused: a
 * cancelled or fired id stays dead forever.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MbSched MbSched;
typedef guint64 MbEventId;

#define MB_EVENT_NONE ((MbEventId) 0)

typedef void (*MbEventFn) (MbSched *sched, gpointer a, guint64 b);
typedef gboolean (*MbSchedStopFn) (gpointer stop_data);

#define MB_SCHED_GLOBAL G_MAXUINT32

/* An event's place in the order: its time, (destination key << 32 | source
 * key) with key = node + 1 (0 for MB_SCHED_GLOBAL), and the source's number. */
typedef struct {
  guint64 time;
  guint64 who;
  guint64 seq;
} MbSchedKey;

MbSched *mb_sched_new (void);
/* A scheduler that shares `other`'s per-source numbering (the ranks of one
 * run: a source's events are numbered alike whichever scheduler gets them). */
MbSched *mb_sched_new_shared (MbSched *other);
/* Frees the scheduler; pending events are discarded without running. */
void mb_sched_free (MbSched *sched);

/* The destination of the event running on this thread (MB_SCHED_GLOBAL
 * outside any event, or in a global one). */
guint32 mb_sched_current_node (void);

/* Schedules fn(sched, a, b) at `when`, for the current node (that of the
 * running event); a time in the past is clamped to now.  Never returns
 * MB_EVENT_NONE. */
MbEventId mb_sched_at (MbSched *sched, guint64 when, MbEventFn fn, gpointer a, guint64 b);
/* The same, for node `node` (MB_SCHED_GLOBAL: a global event). */
MbEventId mb_sched_at_node (MbSched *sched, guint64 when, guint32 node, MbEventFn fn,
                            gpointer a, guint64 b);
/* The key the current node gives an event at `when` for `node` (it uses up
 * one of the current node's numbers); with mb_sched_at_key, the event can be
 * scheduled later, on another scheduler sharing the numbering. */
MbSchedKey mb_sched_key_for (MbSched *sched, guint64 when, guint32 node);
MbEventId mb_sched_at_key (MbSched *sched, const MbSchedKey *key, MbEventFn fn, gpointer a,
                           guint64 b);
/* The next number `node` (MB_SCHED_GLOBAL: the global events) will give an
 * event it schedules, and skipping `n` of them: processes that each run a
 * share of one world keep the global numbering alike this way (the MPI
 * backend, sim/mpi/). */
guint64 mb_sched_seq_peek (MbSched *sched, guint32 node);
void mb_sched_seq_skip (MbSched *sched, guint32 node, guint64 n);
/* Lays the per-source numbering out in n_stripes stripes, node i in stripe
 * i mod n_stripes, for ranks that run node i on rank i mod n_stripes: each
 * rank then writes only its own stripe (no cache line shared between
 * threads).  Call before any node's event is numbered; numbering is the same
 * whatever the stripes. */
void mb_sched_stripe_nodes (MbSched *sched, guint n_stripes);
/* Makes room in the numbering for nodes 0..n_nodes-1 (schedulers sharing it
 * must not run meanwhile; otherwise the room is made on first use). */
void mb_sched_reserve_nodes (MbSched *sched, guint32 n_nodes);
/* Schedules at now + delay (saturating at G_MAXUINT64). */
MbEventId mb_sched_after (MbSched *sched, guint64 delay, MbEventFn fn, gpointer a, guint64 b);
/* Cancels a pending event; FALSE if it already fired, was cancelled, or the id
 * is MB_EVENT_NONE / unknown. */
gboolean mb_sched_cancel (MbSched *sched, MbEventId id);
gboolean mb_sched_is_pending (const MbSched *sched, MbEventId id);

guint64 mb_sched_now (const MbSched *sched);
/* Time of the next pending event, G_MAXUINT64 when none is pending. */
guint64 mb_sched_next_time (const MbSched *sched);

/* Runs the earliest event; FALSE if none was pending. */
gboolean mb_sched_step (MbSched *sched);
/* Runs events with time <= t_end, in order, until none is left or stop
 * (may be NULL) returns TRUE; stop is checked after each event.  If it ends
 * because no event <= t_end is left, the clock advances to t_end (unless
 * t_end is G_MAXUINT64).  Returns the number of events run. */
guint64 mb_sched_run_until (MbSched *sched, guint64 t_end, MbSchedStopFn stop, gpointer stop_data);
/* Runs the events before t_end (a window: none at t_end), then moves the
 * clock to t_end (> now).  Returns the number of events run. */
guint64 mb_sched_run_window (MbSched *sched, guint64 t_end);

/* Prefetch hints (performance only: they never change what runs or when).
 * The events of the current tick run in a known order, so before each event
 * the scheduler calls prefetch(a, b, depth) for each of the next
 * MB_SCHED_PREFETCH_DEPTHS events whose function `fn` has a hook: depth 0
 * for the farthest, then 1, 2, ... as the event comes closer (the last,
 * depth MB_SCHED_PREFETCH_DEPTHS - 1, just before it runs).  So a hook can
 * follow one more pointer each time, reading only what it prefetched the
 * time before.  A hook must not change any state; it may be called for an
 * event that is cancelled or delayed before it runs.  At most four hooks. */
#define MB_SCHED_PREFETCH_DEPTHS 9
typedef void (*MbEventPrefetchFn) (gpointer a, guint64 b, guint depth);
void mb_sched_set_prefetch (MbSched *sched, MbEventFn fn, MbEventPrefetchFn prefetch);

gsize mb_sched_pending (const MbSched *sched);
guint64 mb_sched_events_run (const MbSched *sched);
/* The heap the scheduler holds (memory reports, memsize.h): the wheel, its
 * record chunks (free ones too), the heaps, the event slots.  Walks every
 * bucket: not for the hot path. */
gsize mb_sched_heap_bytes (const MbSched *sched);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MbSched, mb_sched_free)

G_END_DECLS
