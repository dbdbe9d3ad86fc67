/* net.h — the simulator's in-memory network: latency, bandwidth, loss, faults.
 *
 * Nodes are numbered 0..n-1 in the order they are added (nodes may be added
 * during a run).  Each node has an uplink and a downlink, each a FIFO queue
 * with a capacity in bits per second (0 = unlimited), and a region index.
 *
 * A message of `size` bytes sent at `now` from A to B:
 *   depart  = max(now, A.up_free) + tx(size, A.upload);   A.up_free = depart
 *   arrive  = depart + latency(A, B)
 *   done    = max(arrive, B.down_free) + tx(size, B.download); B.down_free = done
 * and is then handed to the driver's deliver callback at `done`.
 * tx(size, bps) = ceil(size * 8 * 1e6 / bps) microseconds (0 if unlimited),
 * see mb_net_tx_time.  The downlink is served in order of arrival (of the
 * arrival events' keys: time, sender, the sender's number), and a delivery
 * is an event with its message's arrival key at time `done`.
 *
 * Events.  A message takes two scheduler events (arrival, then delivery
 * after the downlink; one if the downlink is unlimited), or, once the
 * driver has said no fault can happen (mb_net_set_faults: no crash, link
 * fault or partition), one: its delivery, computed when it reaches the head
 * of its receiver's queue.  Both give the same deliveries at the same times
 * in the same order (test_net checks it; MINIBIT_NET_EVENTS=2 makes
 * minibit-sim use two to compare).
 *
 * A message is dropped (the drop callback frees its payload) when:
 *  - the loss draw says so (decided at send, after the uplink has been
 *    charged);
 *  - the sender is down at send, or crashed after the send before the
 *    message's last bit left its uplink (what had left still arrives);
 *  - the receiver is down at arrival or delivery, or crashed since the send;
 *    a sender sees a crashed receiver (and drops at once, without using its
 *    uplink) from one lookahead after the crash on (L below: before that,
 *    another rank may not know of it);
 *  - the link between them is down or they are in different partitions
 *    (checked at send, arrival and delivery).
 *
 * Latency is a pure function of (model, seed, from, to): nothing O(n^2) is
 * stored, and all messages on one ordered pair see the same latency, so each
 * pair is FIFO.  The lookahead L (mb_net_min_latency) is the least latency
 * the model can give.  The only random draws are loss draws: a hash of
 * (seed, sender, the sender's own count of sends), so none depends on what
 * other nodes do.
 *
 * Ranks.  The nodes may be split over K schedulers (mb_net_new_ranked: node
 * i belongs to rank i mod K).  A message's sending (uplink) happens on the
 * sender's rank, its arrival, downlink and delivery on the receiver's; a
 * message to another rank waits in an outbox until the receiver's rank takes
 * it in (mb_net_take_inbox) before it runs the window in which it arrives,
 * which is never the window it was sent in when windows are at most L long.
 * A rank touches only its own nodes' state; it reads of others' only their
 * crash and restart times, by rules that answer alike whether or not a write
 * from the current window is visible, and what changes only between windows
 * (partitions, link faults: global events).  Events are keyed by
 * destination node (scheduler.h), so K ranks run every node's events in the
 * same order as one.
 */
#pragma once

#include <glib.h>

#include "scheduler.h"

G_BEGIN_DECLS

typedef struct _MbNet MbNet;

typedef void (*MbNetDeliverFn) (gpointer ctx, guint32 from, guint32 to, gpointer payload,
                                guint64 now);
/* Must free the payload. */
typedef void (*MbNetDropFn) (gpointer ctx, guint32 from, guint32 to, gpointer payload);

/* Optional prefetch hint for a message about to be delivered (see
 * mb_sched_set_prefetch): called with depth 0, 1, ... as the delivery comes
 * closer; must not change any state. */
typedef void (*MbNetPrefetchFn) (gpointer ctx, guint32 from, guint32 to, gpointer payload,
                                 guint depth);

typedef struct {
  MbNetDeliverFn deliver;
  MbNetDropFn drop;
  gpointer ctx;
  MbNetPrefetchFn prefetch;  /* may be NULL */
} MbNetCallbacks;

typedef struct {
  guint64 sent;              /* mb_net_send calls */
  guint64 delivered;
  guint64 dropped;           /* = the three causes below */
  guint64 dropped_loss;
  guint64 dropped_node_down; /* an end was down or crashed since the send */
  guint64 dropped_cut;       /* link down or partition */
  guint64 bytes_sent;        /* sizes of all sent messages */
  guint64 bytes_delivered;
  guint64 in_flight;
} MbNetStats;

typedef struct {
  guint64 bytes_up;    /* bytes put on this node's uplink */
  guint64 bytes_down;  /* bytes delivered to this node */
  guint64 busy_up;     /* microseconds the uplink spent transmitting */
  guint64 msgs_up;
  guint64 msgs_down;
} MbNetNodeStats;

/* The net schedules on `sched`, which must outlive it.  seed drives the
 * latency hash and the loss generator. */
MbNet *mb_net_new (MbSched *sched, guint64 seed, const MbNetCallbacks *callbacks);
/* The same over K ranks: scheds[r] runs rank r's nodes (i mod K == r);
 * gsched gets the global events (link faults).  mb_net_new is the one-rank
 * case (gsched = scheds[0]). */
MbNet *mb_net_new_ranked (MbSched *gsched, MbSched *const *scheds, guint n_ranks, guint64 seed,
                          const MbNetCallbacks *callbacks);
guint mb_net_n_ranks (const MbNet *net);
/* Rank `rank` takes in the messages other ranks sent its nodes in the last
 * window (at the start of the next: the others write another outbox
 * meanwhile).  Between windows (no rank set, mb_net_set_rank) a message
 * lands on its receiver's rank at once. */
void mb_net_take_inbox (MbNet *net, guint rank);
/* Between windows: the next window writes the other outboxes. */
void mb_net_next_window (MbNet *net);
/* Between windows: the earliest arrival of the messages waiting to be
 * taken in (G_MAXUINT64: none). */
guint64 mb_net_inbox_next_time (const MbNet *net);
/* The debug checker: with it on, touching a node of another rank than the
 * one this thread runs (mb_net_set_rank; -1 = none, between windows) aborts. */
void mb_net_check_ranks (MbNet *net, gboolean on);
void mb_net_set_rank (MbNet *net, gint rank);
/* The least latency the model gives (the lookahead). */
guint64 mb_net_min_latency (const MbNet *net);
/* Cancels the net's pending events and drops (via the drop callback, not
 * counted in stats) every message still in flight. */
void mb_net_free (MbNet *net);

/* Returns the new node's index. */
guint32 mb_net_add_node (MbNet *net, guint64 upload_bps, guint64 download_bps, guint region);
guint32 mb_net_n_nodes (const MbNet *net);
void mb_net_set_node_rates (MbNet *net, guint32 node, guint64 upload_bps, guint64 download_bps);

/* Latency models (the default is constant 0). */
void mb_net_set_latency_constant (MbNet *net, guint64 us);
/* Per ordered pair, uniform in [lo_us, hi_us], from a hash of (seed, from, to). */
void mb_net_set_latency_uniform (MbNet *net, guint64 lo_us, guint64 hi_us);
/* matrix[i * n_regions + j] is the one-way latency from region i to region j;
 * each ordered pair of nodes adds a hashed uniform jitter in [0, jitter_us].
 * Every node's region must be < n_regions.  The matrix is copied. */
void mb_net_set_latency_regions (MbNet *net, guint n_regions, const guint64 *matrix,
                                 guint64 jitter_us);
guint64 mb_net_latency (const MbNet *net, guint32 from, guint32 to);

/* Loss probability in [0, 1]. */
void mb_net_set_loss (MbNet *net, double probability);
/* Bytes every link carries beyond a message's own, as a fraction of them in
 * [0, 1] (default 0): a message of `size` bytes takes the uplink and the
 * downlink for size + ceil(size x overhead) bytes, as TCP/IP headers (66
 * bytes per 1448 of payload: 0.046) take a real link's time.  Kept in
 * parts per million, so the same value gives the same times everywhere. */
void mb_net_set_overhead (MbNet *net, double fraction);
/* Bytes of a standing queue ahead of every message on its sender's uplink
 * (default 0): a message arrives link_queue / the sender's upload rate
 * later than its departure plus latency.  It stands for the buffer of a
 * shaped link, which TCP keeps partly full (a home router's, or
 * tools/emulate's token buckets), ahead of what the peer's send limit hands
 * the link.  The same for every message of a sender (each ordered pair
 * stays FIFO); not part of mb_net_latency nor of the lookahead. */
void mb_net_set_link_queue (MbNet *net, guint64 bytes);

/* Sends payload (ownership passes to the net) of `size` bytes at the
 * scheduler's now.  Returns FALSE if it was dropped at once (the drop
 * callback has already run). */
gboolean mb_net_send (MbNet *net, guint32 from, guint32 to, gpointer payload, guint64 size);
/* A hint, for speed only: `from` is about to send to `to`; starts loading
 * the receiver's downlink (when it is on from's rank) from memory. */
void mb_net_prefetch_send (const MbNet *net, guint32 from, guint32 to);

/* Whether faults (crashes, link faults, partitions) may happen (default
 * TRUE).  FALSE lets each message take one event instead of two; a fault
 * after it is a bug of the caller and aborts the run.  Only before the first
 * send. */
void mb_net_set_faults (MbNet *net, gboolean possible);
gboolean mb_net_faults (const MbNet *net);
/* The checker of the one-event downlinks: every node's queue (its head and
 * the pairing heap behind it) is well ordered, holds only flights to it,
 * and all queues hold exactly the flights waiting or due for delivery.
 * FALSE, with why appended, if not.  Walks every flight: for tests. */
gboolean mb_net_check_downlinks (const MbNet *net, GString *why);

/* Faults, meant to be called from scheduled events. */
/* Down = crashed: queued and in-flight messages to or from it are dropped,
 * even if it comes back up before they would arrive. */
void mb_net_set_node_up (MbNet *net, guint32 node, gboolean up);
gboolean mb_net_node_is_up (const MbNet *net, guint32 node);
/* Link faults nest: a link is down while more downs than ups were set. */
void mb_net_set_link_up (MbNet *net, guint32 a, guint32 b, gboolean up);
gboolean mb_net_link_is_up (const MbNet *net, guint32 a, guint32 b);
/* Schedules a link fault a<->b from `from_us` until `until_us`. */
void mb_net_schedule_link_fault (MbNet *net, guint32 a, guint32 b, guint64 from_us,
                                 guint64 until_us);
/* Partitions: nodes with different ids cannot talk.  All start in 0. */
void mb_net_set_partition (MbNet *net, guint32 node, guint32 partition);
guint32 mb_net_partition (const MbNet *net, guint32 node);
void mb_net_heal_partitions (MbNet *net);

/* The heap the net holds (memory reports, memsize.h): its node and
 * flight-record arrays in *records, and what payload_bytes says of each
 * message in flight in *payloads (both added to). */
void mb_net_heap_bytes (const MbNet *net, gsize (*payload_bytes) (gconstpointer payload),
                        gsize *records, gsize *payloads);
/* Whether a message from -> to would currently get through (ignores loss;
 * reads both ends' state: not for use within a window of several ranks). */
gboolean mb_net_can_reach (const MbNet *net, guint32 from, guint32 to);

/* Microseconds of backlog on a node's uplink (0 when idle or unlimited). */
guint64 mb_net_up_backlog (const MbNet *net, guint32 node);

/* The same backlog in bytes (those still to leave, rounded down). */
guint64 mb_net_up_backlog_bytes (const MbNet *net, guint32 node);
/* The earliest time (>= now) at which at most low_bytes remain on the
 * node's uplink, if nothing more is sent. */
guint64 mb_net_up_drained_at (const MbNet *net, guint32 node, guint64 low_bytes);

void mb_net_get_stats (const MbNet *net, MbNetStats *out);
void mb_net_get_node_stats (const MbNet *net, guint32 node, MbNetNodeStats *out);

/* ceil(size * 8 * 1e6 / bps) microseconds; 0 when bps is 0 (unlimited). */
guint64 mb_net_tx_time (guint64 size, guint64 bps);

/* ---- one rank per process (the MPI backend, sim/mpi/) ---------------------
 * Each process holds the whole net but runs only rank `self`'s nodes (its
 * current rank is set for good, mb_net_set_rank): a message to another
 * rank's node waits in self's outbox until it is packed (records and
 * payload serialised by `pack`, which frees the payload) and sent; the
 * receiving process lands it (unpack) between windows, at the key the
 * sender gave it.  What a process reads of others' nodes is their crash
 * records, handed over between windows too. */
typedef void (*MbNetPackFn) (gpointer ctx, gpointer payload, GByteArray *out);
typedef gpointer (*MbNetUnpackFn) (gpointer ctx, const guint8 *buf, gsize len, GError **error);
/* Appends (count, then each message) what waits for rank `dest`, and
 * empties that outbox; returns the count. */
guint mb_net_dist_pack (MbNet *net, guint self, guint dest, GByteArray *out, MbNetPackFn pack,
                        gpointer ctx);
/* Lands one pack on rank self, whose clock is at the window's end; FALSE
 * (error set) if the bytes are not a pack of messages to self's nodes due
 * from now on. */
gboolean mb_net_dist_unpack (MbNet *net, guint self, const guint8 *buf, gsize len,
                             MbNetUnpackFn unpack, gpointer ctx, gsize *used, GError **error);
/* The earliest arrival waiting in rank self's outboxes (G_MAXUINT64: none). */
guint64 mb_net_dist_out_min (const MbNet *net, guint self);
/* A node's crash record (0: never crashed), and setting it on the processes
 * that do not run the node. */
guint64 mb_net_crash_rec (const MbNet *net, guint32 node);
void mb_net_dist_set_crash_rec (MbNet *net, guint32 node, guint64 rec);
/* Rank 0's copy of another process's node figures (for the CSVs). */
void mb_net_dist_set_node_stats (MbNet *net, guint32 node, const MbNetNodeStats *st);

G_END_DECLS
