/* net.c — in-memory network: per-node FIFO uplink/downlink, hashed latency,
 * loss, crashes, link faults and partitions.  See net.h for the model.
 *
 * Invariants:
 *  - up_free / down_free never lie before the time they were last set, so
 *    each link is a FIFO; departure and completion times are whole
 *    microseconds (mb_net_tx_time rounds up);
 *  - every in-flight message is one live record in `flights` with exactly
 *    one pending scheduler event (arrival or delivery), or, with one event
 *    per message (no faults, mb_net_set_faults), none while it waits in its
 *    receiver's downlink queue behind the head (event MB_NET_WAITING); the
 *    record is freed before the deliver/drop callback runs, so callbacks
 *    may send;
 *  - one event per message: a node's queue holds exactly the flights landed
 *    on its rank for it and not yet delivered; its head's key is the least
 *    of them (mb_net_check_downlinks checks both);
 *  - a node's epoch grows by one on every crash; a message carries its
 *    sender's epoch and its send time; what one rank reads of another's
 *    nodes is only their crash and restart times (crash_rec, up_at: atomic,
 *    and read by rules that give the same answer whether or not a write of
 *    the current window is seen yet, see net.h) and what never changes
 *    during a window (region, partition, rates);
 *  - each rank (net.h) holds the flights of the messages whose next event
 *    is on its scheduler; a message to another rank's node waits in the
 *    sender's outbox until the receiver's rank takes it in
 *    (mb_net_take_inbox), at the latest one lookahead before it arrives;
 *  - stats.sent == delivered + dropped + in_flight (messages dropped by
 *    mb_net_free are not counted);
 *  - nothing is decided by iterating a hash table (the link table is only
 *    looked up).
 */
#include "net.h"

#include <stdlib.h>
#include <string.h>

#include "distbuf.h"
#include "memsize.h"

#if defined(__GNUC__)
#define MB_PREFETCH(p) __builtin_prefetch (p)
#else
#define MB_PREFETCH(p) ((void) (p))
#endif

#define MB_FLIGHT_NIL G_MAXUINT32

typedef enum {
  MB_LAT_CONSTANT,
  MB_LAT_UNIFORM,
  MB_LAT_REGIONS,
} MbLatencyModel;

typedef enum {
  MB_DROP_LOSS,
  MB_DROP_NODE_DOWN,
  MB_DROP_CUT,
} MbDropCause;

/* Three cache lines: what other ranks read (the links' rates, crash and
 * up times, region, partition, epoch) in the first, what the node's own rank
 * writes at its sends (the uplink) in the second, and at its arrivals and
 * deliveries (the downlink) in the third; the array is 64-byte aligned
 * (mb_net_add_node), so that neighbouring nodes, which run on different
 * ranks (node i on rank i mod K), never share a line. */
typedef struct {
  /* read by every rank */
  guint64 up_bps;
  guint64 down_bps;
  guint64 down_at;    /* its last crash (MB_NET_NEVER if none) */
  guint64 crash_rec;  /* read by other ranks: (epoch ended << 48) | crash time, 0 if none */
  guint64 up_at;      /* read by other ranks: when it last came back up (MB_NET_NEVER) */
  guint32 region;
  guint32 partition;
  guint32 epoch;
  gboolean up;
  /* its uplink: written by its own rank at its sends */
  _Alignas (64) guint64 up_free;
  guint64 sends;      /* its mb_net_send calls: numbers its loss draws */
  guint64 bytes_up;
  guint64 busy_up;
  guint64 msgs_up;
  /* its downlink: written by its own rank at arrivals and deliveries */
  _Alignas (64) guint64 down_free; /* two events per message: when the last
                                      arrived message's delivery ends; one
                                      (mb_net_set_faults): the last delivered's */
  guint64 bytes_down;
  guint64 msgs_down;
  guint64 dl_bps;     /* down_bps, here for the one-event downlink */
  guint32 dl_head;    /* one event per message: the flight whose delivery is
                         scheduled, or MB_FLIGHT_NIL, and its key ... */
  guint32 dl_head_from;
  guint64 dl_head_arrive;
  struct _MbDlWait *dl_wait; /* ... and the binary heap of those waiting */
  guint32 dl_len;
  guint32 dl_cap;
} MbNetNode;

G_STATIC_ASSERT (sizeof (MbNetNode) == 192);

#define MB_NET_NEVER G_MAXUINT64
#define MB_NET_TIME_MASK ((G_GUINT64_CONSTANT (1) << 48) - 1)

typedef struct {
  gpointer payload;
  guint64 size;
  MbEventId event;  /* MB_EVENT_NONE when the record is free, MB_NET_WAITING
                       while it waits in its receiver's downlink queue */
  guint64 sent;     /* the send time */
  guint64 arrive;   /* its arrival: the time of its scheduler key ... */
  guint64 seq;      /* ... and the sender's number in it (the key's `who` is
                       (to + 1) << 32 | (from + 1)) */
  guint32 from;
  guint32 to;
  guint32 from_epoch;
  guint32 next_free;  /* free: the next free record */
} MbFlight;

/* A flight waiting in its receiver's downlink queue: its arrival key (the
 * receiver's part left out) and its record. */
typedef struct _MbDlWait {
  guint64 arrive;
  guint64 seq;
  guint32 from;
  guint32 flight;
} MbDlWait;

/* A flight's event while it waits in its receiver's downlink queue (ids
 * count up from 1: never this one). */
#define MB_NET_WAITING G_MAXUINT64

/* A message on its way to another rank's node (in the sender's outbox). */
typedef struct {
  MbSchedKey key;   /* its arrival event */
  gpointer payload;
  guint64 size;
  guint64 sent;
  guint32 from;
  guint32 to;
  guint32 from_epoch;
} MbTransit;

typedef struct {
  MbNet *net;
  MbSched *sched;
  guint index;
  MbFlight *flights;
  guint32 n_flights;
  guint32 cap_flights;
  guint32 free_flight;
  MbNetStats stats;
  GArray **outbox[2];  /* MbTransit, by destination rank: filled in windows of
                          one parity, taken in at the start of the next */
  guint64 *out_min[2]; /* the earliest arrival in each outbox (G_MAXUINT64: none) */
} MbNetRank;

struct _MbNet {
  MbSched *gsched;  /* global events (link faults) */
  MbNetRank *ranks;
  guint n_ranks;
  gint check_rank;  /* -1: off; else the debug checker is on (mb_net_check_ranks) */
  guint phase;      /* windows so far (mb_net_next_window): the outbox parity */
  MbNetCallbacks cb;
  guint64 seed;
  double loss;
  guint64 overhead_ppm;    /* mb_net_set_overhead: link bytes per message byte beyond it */
  guint64 link_queue;      /* mb_net_set_link_queue: bytes ahead of every message */
  guint64 lat_min;
  gboolean no_faults;      /* mb_net_set_faults (FALSE): one event per message */

  MbLatencyModel model;
  guint64 lat_lo;
  guint64 lat_hi;
  guint n_regions;
  guint64 *matrix;
  guint64 jitter;

  MbNetNode *nodes;
  guint32 n_nodes;
  guint32 cap_nodes;

  GHashTable *links_down;  /* gint64 pair key -> count of downs */
  GArray *fault_events;    /* MbEventId, cancelled at free */
};

/* The rank whose thread runs now (-1: none in particular, e.g. between
 * windows), for the debug checker. */
static _Thread_local gint mb_net_cur_rank = -1;

static inline guint
mb_net_rank_of (const MbNet *net, guint32 node)
{
  return net->n_ranks == 1 ? 0 : node % net->n_ranks;
}

guint64
mb_net_tx_time (guint64 size, guint64 bps)
{
  if (bps == 0 || size == 0)
    return 0;
  if (size <= G_MAXUINT64 / 8000000)
    {
      guint64 bits_us = size * 8000000;
      return bits_us / bps + (bits_us % bps != 0);
    }
  return (guint64) ((long double) size * 8e6L / (long double) bps + 0.999999L);
}

static void mb_net_on_arrival (MbSched *sched, gpointer a, guint64 b);
static void mb_net_on_arrival_delivery (MbSched *sched, gpointer a, guint64 b);
static void mb_net_on_delivery (MbSched *sched, gpointer a, guint64 b);
static void mb_net_prefetch_arrival (gpointer a, guint64 b, guint depth);
static void mb_net_prefetch_delivery (gpointer a, guint64 b, guint depth);

MbNet *
mb_net_new_ranked (MbSched *gsched, MbSched *const *scheds, guint n_ranks, guint64 seed,
                   const MbNetCallbacks *callbacks)
{
  g_return_val_if_fail (gsched != NULL && scheds != NULL && n_ranks > 0, NULL);
  g_return_val_if_fail (callbacks != NULL, NULL);
  g_return_val_if_fail (callbacks->deliver != NULL && callbacks->drop != NULL, NULL);
  MbNet *net = g_new0 (MbNet, 1);
  net->gsched = gsched;
  net->n_ranks = n_ranks;
  net->check_rank = -1;
  net->ranks = g_new0 (MbNetRank, n_ranks);
  for (guint r = 0; r < n_ranks; r++)
    {
      MbNetRank *rk = &net->ranks[r];
      rk->net = net;
      rk->sched = scheds[r];
      rk->index = r;
      rk->free_flight = MB_FLIGHT_NIL;
      for (guint k = 0; k < 2; k++)
        {
          rk->outbox[k] = g_new0 (GArray *, n_ranks);
          rk->out_min[k] = g_new (guint64, n_ranks);
          for (guint d = 0; d < n_ranks; d++)
            {
              rk->outbox[k][d] = g_array_new (FALSE, FALSE, sizeof (MbTransit));
              rk->out_min[k][d] = G_MAXUINT64;
            }
        }
      /* the delivery first: the scheduler tries the first hook first */
      mb_sched_set_prefetch (scheds[r], mb_net_on_delivery, mb_net_prefetch_delivery);
      mb_sched_set_prefetch (scheds[r], mb_net_on_arrival, mb_net_prefetch_arrival);
      mb_sched_set_prefetch (scheds[r], mb_net_on_arrival_delivery, mb_net_prefetch_delivery);
    }
  net->cb = *callbacks;
  net->seed = seed;
  net->model = MB_LAT_CONSTANT;
  net->links_down = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  net->fault_events = g_array_new (FALSE, FALSE, sizeof (MbEventId));
  return net;
}

MbNet *
mb_net_new (MbSched *sched, guint64 seed, const MbNetCallbacks *callbacks)
{
  g_return_val_if_fail (sched != NULL, NULL);
  return mb_net_new_ranked (sched, &sched, 1, seed, callbacks);
}

static void
mb_net_drop_all_in_flight (MbNet *net)
{
  for (guint r = 0; r < net->n_ranks; r++)
    {
      MbNetRank *rk = &net->ranks[r];
      for (guint32 i = 0; i < rk->n_flights; i++)
        {
          MbFlight *f = &rk->flights[i];
          if (f->event == MB_EVENT_NONE)
            continue;
          if (f->event != MB_NET_WAITING)
            mb_sched_cancel (rk->sched, f->event);
          f->event = MB_EVENT_NONE;
          net->cb.drop (net->cb.ctx, f->from, f->to, f->payload);
        }
      for (guint k = 0; k < 2; k++)
        for (guint d = 0; d < net->n_ranks; d++)
          for (guint i = 0; i < rk->outbox[k][d]->len; i++)
            {
              MbTransit *t = &g_array_index (rk->outbox[k][d], MbTransit, i);
              net->cb.drop (net->cb.ctx, t->from, t->to, t->payload);
            }
    }
}

void
mb_net_free (MbNet *net)
{
  if (net == NULL)
    return;
  mb_net_drop_all_in_flight (net);
  for (guint i = 0; i < net->fault_events->len; i++)
    mb_sched_cancel (net->gsched, g_array_index (net->fault_events, MbEventId, i));
  g_array_unref (net->fault_events);
  g_hash_table_unref (net->links_down);
  for (guint r = 0; r < net->n_ranks; r++)
    {
      for (guint k = 0; k < 2; k++)
        {
          for (guint d = 0; d < net->n_ranks; d++)
            g_array_unref (net->ranks[r].outbox[k][d]);
          g_free (net->ranks[r].outbox[k]);
          g_free (net->ranks[r].out_min[k]);
        }
      g_free (net->ranks[r].flights);
    }
  g_free (net->ranks);
  g_free (net->matrix);
  for (guint32 v = 0; v < net->n_nodes; v++)
    g_free (net->nodes[v].dl_wait);
  free (net->nodes); /* aligned_alloc */
  g_free (net);
}

guint
mb_net_n_ranks (const MbNet *net)
{
  return net->n_ranks;
}

void
mb_net_set_rank (MbNet *net, gint rank)
{
  (void) net;
  mb_net_cur_rank = rank;
}

void
mb_net_check_ranks (MbNet *net, gboolean on)
{
  net->check_rank = on ? 0 : -1;
}

/* ---- nodes ---------------------------------------------------------------- */

guint32
mb_net_add_node (MbNet *net, guint64 upload_bps, guint64 download_bps, guint region)
{
  g_return_val_if_fail (net->model != MB_LAT_REGIONS || region < net->n_regions, G_MAXUINT32);
  g_return_val_if_fail (net->n_nodes < G_MAXUINT32 - 1, G_MAXUINT32);
  if (net->n_nodes == net->cap_nodes)
    {
      guint32 cap = net->cap_nodes ? net->cap_nodes * 2 : 64;
      MbNetNode *nodes = aligned_alloc (64, (gsize) cap * sizeof (MbNetNode));
      g_assert (nodes != NULL);
      if (net->n_nodes > 0)
        memcpy (nodes, net->nodes, (gsize) net->n_nodes * sizeof (MbNetNode));
      free (net->nodes);
      net->nodes = nodes;
      net->cap_nodes = cap;
    }
  MbNetNode *n = &net->nodes[net->n_nodes];
  memset (n, 0, sizeof *n);
  n->up_bps = upload_bps;
  n->down_bps = download_bps;
  n->region = region;
  n->up = TRUE;
  n->down_at = MB_NET_NEVER;
  n->up_at = MB_NET_NEVER;
  n->dl_bps = download_bps;
  n->dl_head = MB_FLIGHT_NIL;
  return net->n_nodes++;
}

guint32
mb_net_n_nodes (const MbNet *net)
{
  return net->n_nodes;
}

/* A node's own state: only its rank may touch it (checked when on). */
static MbNetNode *
mb_net_node (const MbNet *net, guint32 node)
{
  g_assert (node < net->n_nodes);
  if (G_UNLIKELY (net->check_rank >= 0) && mb_net_cur_rank >= 0
      && mb_net_rank_of (net, node) != (guint) mb_net_cur_rank)
    g_error ("rank %d touched node %u of rank %u", mb_net_cur_rank, node,
             mb_net_rank_of (net, node));
  return &net->nodes[node];
}

static MbNetRank *
mb_net_rank (MbNet *net, guint32 node)
{
  return &net->ranks[mb_net_rank_of (net, node)];
}

static MbSched *
mb_net_sched (const MbNet *net, guint32 node)
{
  return net->ranks[mb_net_rank_of (net, node)].sched;
}

void
mb_net_set_node_rates (MbNet *net, guint32 node, guint64 upload_bps, guint64 download_bps)
{
  MbNetNode *n = mb_net_node (net, node);
  /* one event per message: a queued flight's delivery time was set with the
   * rate of when it became the head */
  g_return_if_fail (!net->no_faults || download_bps == n->down_bps);
  n->up_bps = upload_bps;
  n->down_bps = download_bps;
  n->dl_bps = download_bps;
}

/* ---- latency -------------------------------------------------------------- */

static guint64
mb_net_mix (guint64 x)
{
  /* splitmix64's finalizer: a stable, well-spread 64-bit hash */
  x += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);
  x = (x ^ (x >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  x = (x ^ (x >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return x ^ (x >> 31);
}

static guint64
mb_net_pair_hash (const MbNet *net, guint32 from, guint32 to)
{
  return mb_net_mix (net->seed ^ mb_net_mix (((guint64) from << 32) | to));
}

/* Uniform in [0, span] from a hash. */
static guint64
mb_net_hash_span (guint64 h, guint64 span)
{
  return span == G_MAXUINT64 ? h : h % (span + 1);
}

void
mb_net_set_latency_constant (MbNet *net, guint64 us)
{
  net->model = MB_LAT_CONSTANT;
  net->lat_lo = net->lat_hi = us;
  net->lat_min = us;
}

void
mb_net_set_latency_uniform (MbNet *net, guint64 lo_us, guint64 hi_us)
{
  g_return_if_fail (lo_us <= hi_us);
  net->model = MB_LAT_UNIFORM;
  net->lat_lo = lo_us;
  net->lat_hi = hi_us;
  net->lat_min = lo_us;
}

void
mb_net_set_latency_regions (MbNet *net, guint n_regions, const guint64 *matrix,
                            guint64 jitter_us)
{
  g_return_if_fail (n_regions > 0 && matrix != NULL);
  for (guint32 i = 0; i < net->n_nodes; i++)
    g_return_if_fail (net->nodes[i].region < n_regions);
  g_free (net->matrix);
  net->matrix = g_memdup2 (matrix, sizeof (guint64) * n_regions * n_regions);
  net->n_regions = n_regions;
  net->jitter = jitter_us;
  net->model = MB_LAT_REGIONS;
  net->lat_min = G_MAXUINT64;
  for (guint i = 0; i < n_regions * n_regions; i++)
    net->lat_min = MIN (net->lat_min, matrix[i]);
}

guint64
mb_net_min_latency (const MbNet *net)
{
  return net->lat_min;
}

guint64
mb_net_latency (const MbNet *net, guint32 from, guint32 to)
{
  switch (net->model)
    {
    case MB_LAT_UNIFORM:
      return net->lat_lo + mb_net_hash_span (mb_net_pair_hash (net, from, to),
                                             net->lat_hi - net->lat_lo);
    case MB_LAT_REGIONS:
      {
        g_assert (from < net->n_nodes && to < net->n_nodes); /* regions never change */
        guint64 base = net->matrix[net->nodes[from].region * net->n_regions
                                   + net->nodes[to].region];
        if (net->jitter == 0)
          return base;
        return base + mb_net_hash_span (mb_net_pair_hash (net, from, to), net->jitter);
      }
    case MB_LAT_CONSTANT:
    default:
      return net->lat_lo;
    }
}

void
mb_net_set_loss (MbNet *net, double probability)
{
  g_return_if_fail (probability >= 0.0 && probability <= 1.0);
  net->loss = probability;
}

void
mb_net_set_link_queue (MbNet *net, guint64 bytes)
{
  net->link_queue = bytes;
}

void
mb_net_set_overhead (MbNet *net, double fraction)
{
  g_return_if_fail (fraction >= 0.0 && fraction <= 1.0);
  net->overhead_ppm = (guint64) (fraction * 1e6 + 0.5);
}

/* ---- faults --------------------------------------------------------------- */

static gint64
mb_net_link_key (guint32 a, guint32 b)
{
  return (gint64) (((guint64) MIN (a, b) << 32) | MAX (a, b));
}

/* One event per message was promised no faults: breaking it is a bug of
 * the caller (its outputs would not be the model's), so the run stops. */
static void
mb_net_fault_check (const MbNet *net, const char *what)
{
  if (G_UNLIKELY (net->no_faults))
    g_error ("net: %s, but mb_net_set_faults (FALSE) said there would be none", what);
}

void
mb_net_set_faults (MbNet *net, gboolean possible)
{
  for (guint r = 0; r < net->n_ranks; r++)
    g_return_if_fail (net->ranks[r].stats.sent == 0);
  net->no_faults = !possible;
}

gboolean
mb_net_faults (const MbNet *net)
{
  return !net->no_faults;
}

void
mb_net_set_node_up (MbNet *net, guint32 node, gboolean up)
{
  MbNetNode *n = mb_net_node (net, node);
  if (!up)
    mb_net_fault_check (net, "a node crashed");
  if (n->up == !!up)
    return;
  n->up = !!up;
  guint64 now = mb_sched_now (mb_net_sched (net, node));
  if (up)
    {
      __atomic_store_n (&n->up_at, now, __ATOMIC_RELAXED);
      return;
    }
  n->down_at = now;
  __atomic_store_n (&n->crash_rec, ((guint64) ((n->epoch + 1) & 0xffff) << 48) | (now & MB_NET_TIME_MASK),
                    __ATOMIC_RELAXED);
  n->epoch++;  /* every message to or from the old incarnation is now stale */
  if (n->up_free > now)
    {
      n->busy_up -= n->up_free - now;  /* the queued tail never went out */
      n->up_free = now;
    }
  n->down_free = MIN (n->down_free, now);
}

gboolean
mb_net_node_is_up (const MbNet *net, guint32 node)
{
  return mb_net_node (net, node)->up;
}

/* Whether a sender at `now` sees `node` down: it crashed at least one
 * lookahead ago and has not come back up (for at least a lookahead) since.
 * A crash within the last lookahead may not be seen yet on another rank, so
 * it is never seen: the answer is the same on every rank. */
static gboolean
mb_net_seen_down (const MbNet *net, guint32 node, guint64 now)
{
  const MbNetNode *n = &net->nodes[node];
  guint64 rec = __atomic_load_n (&n->crash_rec, __ATOMIC_RELAXED);
  if (rec == 0)
    return FALSE;
  guint64 t = rec & MB_NET_TIME_MASK;
  if (t + net->lat_min > now)
    return FALSE;
  guint64 up = __atomic_load_n (&n->up_at, __ATOMIC_RELAXED);
  return !(up != MB_NET_NEVER && up >= t && up + net->lat_min <= now);
}

/* Whether a message of flight f, departed at `depart`, died with its sender:
 * the sender crashed after sending it, before its last bit left. */
static gboolean
mb_net_sender_crashed (const MbNet *net, const MbFlight *f, guint64 depart)
{
  guint64 rec = __atomic_load_n (&net->nodes[f->from].crash_rec, __ATOMIC_RELAXED);
  if (rec == 0)
    return FALSE;
  guint32 ended = (guint32) (rec >> 48);
  guint64 t = rec & MB_NET_TIME_MASK;
  guint32 ep = (f->from_epoch + 1) & 0xffff; /* as crash_rec counts them */
  return ep < ended || (ep == ended && t < depart);
}

void
mb_net_set_link_up (MbNet *net, guint32 a, guint32 b, gboolean up)
{
  gint64 key = mb_net_link_key (a, b);
  gpointer count = g_hash_table_lookup (net->links_down, &key);
  guint n = GPOINTER_TO_UINT (count);
  if (!up)
    {
      mb_net_fault_check (net, "a link went down");
      g_hash_table_insert (net->links_down, g_memdup2 (&key, sizeof key),
                           GUINT_TO_POINTER (n + 1));
      return;
    }
  if (n <= 1)
    g_hash_table_remove (net->links_down, &key);
  else
    g_hash_table_insert (net->links_down, g_memdup2 (&key, sizeof key),
                         GUINT_TO_POINTER (n - 1));
}

gboolean
mb_net_link_is_up (const MbNet *net, guint32 a, guint32 b)
{
  if (g_hash_table_size (net->links_down) == 0)
    return TRUE;
  gint64 key = mb_net_link_key (a, b);
  return !g_hash_table_contains (net->links_down, &key);
}

static void
mb_net_on_link_down (MbSched *sched G_GNUC_UNUSED, gpointer a, guint64 b)
{
  mb_net_set_link_up (a, (guint32) (b >> 32), (guint32) b, FALSE);
}

static void
mb_net_on_link_up (MbSched *sched G_GNUC_UNUSED, gpointer a, guint64 b)
{
  mb_net_set_link_up (a, (guint32) (b >> 32), (guint32) b, TRUE);
}

void
mb_net_schedule_link_fault (MbNet *net, guint32 a, guint32 b, guint64 from_us, guint64 until_us)
{
  g_return_if_fail (from_us <= until_us);
  mb_net_fault_check (net, "a link fault was scheduled");
  guint64 pair = (guint64) mb_net_link_key (a, b);
  MbEventId down = mb_sched_at_node (net->gsched, from_us, MB_SCHED_GLOBAL, mb_net_on_link_down,
                                     net, pair);
  MbEventId up = mb_sched_at_node (net->gsched, until_us, MB_SCHED_GLOBAL, mb_net_on_link_up, net,
                                   pair);
  g_array_append_val (net->fault_events, down);
  g_array_append_val (net->fault_events, up);
}

/* Partitions change only in global events, between windows: any rank reads
 * them. */
void
mb_net_set_partition (MbNet *net, guint32 node, guint32 partition)
{
  g_assert (node < net->n_nodes);
  if (partition != 0)
    mb_net_fault_check (net, "a partition was made");
  net->nodes[node].partition = partition;
}

guint32
mb_net_partition (const MbNet *net, guint32 node)
{
  g_assert (node < net->n_nodes);
  return net->nodes[node].partition;
}

void
mb_net_heal_partitions (MbNet *net)
{
  for (guint32 i = 0; i < net->n_nodes; i++)
    net->nodes[i].partition = 0;
}

static gboolean
mb_net_path_cut (const MbNet *net, guint32 from, guint32 to)
{
  return net->nodes[from].partition != net->nodes[to].partition
         || !mb_net_link_is_up (net, from, to);
}

gboolean
mb_net_can_reach (const MbNet *net, guint32 from, guint32 to)
{
  return net->nodes[from].up && net->nodes[to].up && !mb_net_path_cut (net, from, to);
}

/* ---- in flight ------------------------------------------------------------ */

static guint32
mb_net_flight_alloc (MbNetRank *rk)
{
  if (rk->free_flight != MB_FLIGHT_NIL)
    {
      guint32 i = rk->free_flight;
      rk->free_flight = rk->flights[i].next_free;
      return i;
    }
  g_assert (rk->n_flights < MB_FLIGHT_NIL);
  if (rk->n_flights == rk->cap_flights)
    {
      rk->cap_flights = rk->cap_flights ? rk->cap_flights * 2 : 256;
      rk->flights = g_renew (MbFlight, rk->flights, rk->cap_flights);
    }
  return rk->n_flights++;
}

/* Frees the record and returns a copy, so callbacks may send. */
static MbFlight
mb_net_flight_release (MbNetRank *rk, guint32 i)
{
  MbFlight f = rk->flights[i];
  rk->flights[i].event = MB_EVENT_NONE;
  rk->flights[i].payload = NULL;
  rk->flights[i].next_free = rk->free_flight;
  rk->free_flight = i;
  rk->stats.in_flight--;
  return f;
}

static void
mb_net_count_drop (MbNetRank *rk, MbDropCause cause)
{
  rk->stats.dropped++;
  if (cause == MB_DROP_LOSS)
    rk->stats.dropped_loss++;
  else if (cause == MB_DROP_NODE_DOWN)
    rk->stats.dropped_node_down++;
  else
    rk->stats.dropped_cut++;
}

/* Whether a message may still proceed at its arrival (at_arrival) or
 * delivery; if not, the cause of its drop.  Only the receiver's own state
 * and what every rank may read (net.h) decide. */
static gboolean
mb_net_still_ok (const MbNet *net, const MbFlight *f, gboolean at_arrival, guint64 now,
                 MbDropCause *cause)
{
  const MbNetNode *b = mb_net_node (net, f->to);
  if (!b->up || (b->down_at != MB_NET_NEVER && b->down_at >= f->sent)
      || (at_arrival && mb_net_sender_crashed (net, f, now - mb_net_latency (net, f->from, f->to))))
    {
      *cause = MB_DROP_NODE_DOWN;
      return FALSE;
    }
  if (mb_net_path_cut (net, f->from, f->to))
    {
      *cause = MB_DROP_CUT;
      return FALSE;
    }
  return TRUE;
}

/* Prefetch hooks: the flight record first, then what its handler reads. */
static const MbFlight *
mb_net_prefetch_flight (const MbNetRank *rk, guint64 b, guint depth)
{
  if (b >= rk->n_flights)
    return NULL;
  const MbFlight *f = &rk->flights[b];
  if (depth == 0)
    {
      MB_PREFETCH (f);
      return NULL;
    }
  return f->event == MB_EVENT_NONE ? NULL : f;
}

/* The delivery of a small message often follows its arrival within a few
 * events (and is then not in the scheduler's look-ahead), so the arrival
 * warms up the receiver's state too; a big one is delivered well after. */
#define MB_NET_PREFETCH_SMALL 1024

static void
mb_net_prefetch_arrival (gpointer a, guint64 b, guint depth)
{
  const MbNetRank *rk = a;
  const MbFlight *f = mb_net_prefetch_flight (rk, b, depth);
  if (f == NULL)
    return;
  if (f->size <= MB_NET_PREFETCH_SMALL)
    mb_net_prefetch_delivery (a, b, depth);
  else if (depth == 1)
    MB_PREFETCH (&rk->net->nodes[f->to]);
}

static void
mb_net_prefetch_delivery (gpointer a, guint64 b, guint depth)
{
  const MbNetRank *rk = a;
  const MbNet *net = rk->net;
  const MbFlight *f = mb_net_prefetch_flight (rk, b, depth);
  if (f == NULL)
    return;
  if (depth <= 3)
    {
      const MbNetNode *d = &net->nodes[f->to];
      if (depth == 1)
        {
          MB_PREFETCH (d);
          if (net->no_faults)
            MB_PREFETCH (&d->down_free); /* its downlink's line */
        }
      else if (net->no_faults && d->dl_head == (guint32) b && d->dl_len > 0)
        {
          /* the flight that starts when this one is delivered */
          if (depth == 2)
            MB_PREFETCH (d->dl_wait);
          else
            MB_PREFETCH (&rk->flights[d->dl_wait[0].flight]);
        }
    }
  else if (f->size > MB_NET_PREFETCH_SMALL && net->no_faults && (depth == 4 || depth == 6)
           && mb_net_rank_of (net, f->from) == rk->index)
    {
      /* A block's receiver answers its sender (the next request): warm the
       * sender's downlink, where that request will land. */
      const MbNetNode *s = &net->nodes[f->from];
      if (depth == 4)
        MB_PREFETCH (&s->down_free);
      else if (s->dl_len > 0)
        {
          MB_PREFETCH (&s->dl_wait[s->dl_len]);
          MB_PREFETCH (&s->dl_wait[(s->dl_len - 1) / 2]);
        }
    }
  if (net->cb.prefetch != NULL)
    net->cb.prefetch (net->cb.ctx, f->from, f->to, f->payload, depth - 1);
}

/* Drops flight i if it may no longer proceed; TRUE if it was dropped. */
static gboolean
mb_net_flight_check (MbNetRank *rk, guint32 i, gboolean at_arrival)
{
  MbDropCause cause;
  MbNet *net = rk->net;
  if (mb_net_still_ok (net, &rk->flights[i], at_arrival, mb_sched_now (rk->sched), &cause))
    return FALSE;
  MbFlight f = mb_net_flight_release (rk, i);
  mb_net_count_drop (rk, cause);
  net->cb.drop (net->cb.ctx, f.from, f.to, f.payload);
  return TRUE;
}

static void
mb_net_deliver (MbNetRank *rk, guint32 i)
{
  MbNet *net = rk->net;
  MbFlight f = mb_net_flight_release (rk, i);
  MbNetNode *dst = &net->nodes[f.to];
  dst->bytes_down += f.size;
  dst->msgs_down++;
  rk->stats.delivered++;
  rk->stats.bytes_delivered += f.size;
  net->cb.deliver (net->cb.ctx, f.from, f.to, f.payload, mb_sched_now (rk->sched));
}

/* The key of flight i's delivery at `at`: its arrival key with that time
 * (so its place among same-time events depends on no number the receiver
 * drew, and one event per message or two give the same order). */
static inline MbSchedKey
mb_net_delivery_key (const MbFlight *f, guint64 at)
{
  return (MbSchedKey) { at, ((guint64) f->to + 1) << 32 | ((guint64) f->from + 1), f->seq };
}

static void
mb_net_on_arrival (MbSched *sched, gpointer a, guint64 b)
{
  MbNetRank *rk = a;
  guint32 i = (guint32) b;
  if (mb_net_flight_check (rk, i, TRUE))
    return;
  MbFlight *f = &rk->flights[i];
  MbNetNode *dst = &rk->net->nodes[f->to];
  guint64 now = mb_sched_now (sched);
  dst->down_free = MAX (now, dst->down_free) + mb_net_tx_time (f->size, dst->down_bps);
  MbSchedKey key = mb_net_delivery_key (f, dst->down_free);
  f->event = mb_sched_at_key (sched, &key, mb_net_on_delivery, rk, i);
}

/* ---- one event per message: each downlink a queue -------------------------
 * Without faults (mb_net_set_faults) nothing drops a message once sent, so
 * its arrival need not be an event: a flight lands in its receiver's queue
 * (at its send, or when its rank takes it in, always before it arrives),
 * ordered by its arrival key; the queue's first, the head, has its delivery
 * scheduled at max(arrive, the last delivery's end) + tx, the time the
 * arrival event would have given it, since every message arriving before
 * it has been delivered and none arriving after it goes first.  A flight
 * landing with an earlier key than the head's takes its place (the head has
 * not started: it starts at or after its arrival, later than the new one's,
 * and nothing lands after it arrives).  The rest wait in a binary heap of
 * their keys, an array per node (their records are not touched until they
 * start). */

static inline gboolean
mb_net_key_before (guint64 a_arrive, guint32 a_from, guint64 a_seq, guint64 b_arrive,
                   guint32 b_from, guint64 b_seq)
{
  if (a_arrive != b_arrive)
    return a_arrive < b_arrive;
  if (a_from != b_from)
    return a_from < b_from;
  return a_seq < b_seq;
}

static inline gboolean
mb_net_arrives_before (const MbFlight *a, const MbFlight *b)
{
  return mb_net_key_before (a->arrive, a->from, a->seq, b->arrive, b->from, b->seq);
}

static inline gboolean
mb_net_wait_before (const MbDlWait *a, const MbDlWait *b)
{
  return mb_net_key_before (a->arrive, a->from, a->seq, b->arrive, b->from, b->seq);
}

static void
mb_net_wait_push (MbNetNode *d, const MbFlight *f, guint32 i)
{
  if (d->dl_len == d->dl_cap)
    {
      d->dl_cap = d->dl_cap ? d->dl_cap * 2 : 8;
      d->dl_wait = g_renew (MbDlWait, d->dl_wait, d->dl_cap);
    }
  MbDlWait e = { f->arrive, f->seq, f->from, i };
  MbDlWait *h = d->dl_wait;
  guint32 k = d->dl_len++;
  while (k > 0)
    {
      guint32 up = (k - 1) / 2;
      if (!mb_net_wait_before (&e, &h[up]))
        break;
      h[k] = h[up];
      k = up;
    }
  h[k] = e;
}

/* Takes the earliest waiting flight out; returns its record. */
static guint32
mb_net_wait_pop (MbNetNode *d)
{
  MbDlWait *h = d->dl_wait;
  guint32 top = h[0].flight;
  MbDlWait last = h[--d->dl_len];
  guint32 n = d->dl_len, k = 0;
  for (;;)
    {
      guint32 c = 2 * k + 1;
      if (c >= n)
        break;
      if (c + 1 < n && mb_net_wait_before (&h[c + 1], &h[c]))
        c++;
      if (!mb_net_wait_before (&h[c], &last))
        break;
      h[k] = h[c];
      k = c;
    }
  if (n > 0)
    h[k] = last;
  return top;
}

/* Makes flight i its receiver's head: schedules its delivery. */
static void
mb_net_dl_start (MbNetRank *rk, MbNetNode *dst, guint32 i)
{
  MbFlight *f = &rk->flights[i];
  dst->dl_head = i;
  dst->dl_head_from = f->from;
  dst->dl_head_arrive = f->arrive;
  guint64 done = MAX (f->arrive, dst->down_free) + mb_net_tx_time (f->size, dst->dl_bps);
  MbSchedKey key = mb_net_delivery_key (f, done);
  f->event = mb_sched_at_key (rk->sched, &key, mb_net_on_delivery, rk, i);
}

/* Flight i has landed on its receiver's rank (not yet arrived). */
static void
mb_net_dl_land (MbNetRank *rk, guint32 i)
{
  MbFlight *fl = rk->flights;
  MbNetNode *dst = &rk->net->nodes[fl[i].to];
  guint32 h = dst->dl_head;
  if (h == MB_FLIGHT_NIL)
    {
      mb_net_dl_start (rk, dst, i);
      return;
    }
  /* the head's key is kept in its node but for the sender's number, read
   * only on a tie */
  gboolean before = fl[i].arrive != dst->dl_head_arrive ? fl[i].arrive < dst->dl_head_arrive
                    : fl[i].from != dst->dl_head_from ? fl[i].from < dst->dl_head_from
                    : fl[i].seq < fl[h].seq;
  if (before)
    {
      mb_sched_cancel (rk->sched, fl[h].event);
      fl[h].event = MB_NET_WAITING;
      mb_net_wait_push (dst, &fl[h], h);
      mb_net_dl_start (rk, dst, i);
      return;
    }
  fl[i].event = MB_NET_WAITING;
  mb_net_wait_push (dst, &fl[i], i);
}

/* The head of node `to` is being delivered now: the next one starts. */
static void
mb_net_dl_next (MbNetRank *rk, guint32 to, guint64 now)
{
  MbNetNode *dst = &rk->net->nodes[to];
  dst->down_free = now;
  if (dst->dl_len == 0)
    {
      dst->dl_head = MB_FLIGHT_NIL;
      return;
    }
  mb_net_dl_start (rk, dst, mb_net_wait_pop (dst));
}

/* Delivers flight i unless it may no longer proceed (checked as at its
 * arrival, or at its delivery after the downlink). */
static inline void
mb_net_check_deliver (MbNetRank *rk, guint32 i, gboolean at_arrival)
{
  if (!mb_net_flight_check (rk, i, at_arrival))
    mb_net_deliver (rk, i);
}

static void
mb_net_on_delivery (MbSched *sched, gpointer a, guint64 b)
{
  MbNetRank *rk = a;
  if (!rk->net->no_faults)
    {
      mb_net_check_deliver (rk, (guint32) b, FALSE);
      return;
    }
  /* one event per message: nothing can have dropped it */
  mb_net_dl_next (rk, rk->flights[b].to, mb_sched_now (sched));
  mb_net_deliver (rk, (guint32) b);
}

/* An unlimited downlink delivers at arrival: one event instead of two. */
static void
mb_net_on_arrival_delivery (MbSched *sched G_GNUC_UNUSED, gpointer a, guint64 b)
{
  mb_net_check_deliver (a, (guint32) b, TRUE);
}

static gboolean
mb_net_drop_now (MbNet *net, MbNetRank *rk, guint32 from, guint32 to, gpointer payload,
                 MbDropCause cause)
{
  mb_net_count_drop (rk, cause);
  net->cb.drop (net->cb.ctx, from, to, payload);
  return FALSE;
}

void
mb_net_prefetch_send (const MbNet *net, guint32 from, guint32 to)
{
  if (to < net->n_nodes && net->no_faults && mb_net_rank_of (net, to) == mb_net_rank_of (net, from))
    MB_PREFETCH (&net->nodes[to].down_free);
}

/* Puts `size` bytes on the sender's uplink; returns the departure time. */
static guint64
mb_net_uplink_charge (MbNetNode *src, guint64 now, guint64 size)
{
  guint64 tx = mb_net_tx_time (size, src->up_bps);
  guint64 depart = MAX (now, src->up_free) + tx;
  if (src->up_bps != 0)
    src->up_free = depart;
  src->busy_up += tx;
  src->bytes_up += size;
  src->msgs_up++;
  return depart;
}

/* The loss draw of the sender's n-th send: a hash of (seed, sender, n), so it
 * depends on nothing another node does. */
static gboolean
mb_net_lost (const MbNet *net, guint32 from, guint64 n)
{
  if (net->loss <= 0.0)
    return FALSE;
  if (net->loss >= 1.0)
    return TRUE;
  guint64 h = mb_net_mix (net->seed ^ G_GUINT64_CONSTANT (0x6c6f7373)
                          ^ mb_net_mix (((guint64) from << 40) ^ n));
  return (double) (h >> 11) * 0x1.0p-53 < net->loss;
}

/* Puts a flight on rank rk and schedules its arrival with `key`. */
static void
mb_net_land (MbNetRank *rk, const MbSchedKey *key, gpointer payload, guint64 size, guint64 sent,
             guint32 from, guint32 to, guint32 from_epoch)
{
  guint32 i = mb_net_flight_alloc (rk);
  MbFlight *f = &rk->flights[i];
  f->payload = payload;
  f->size = size;
  f->sent = sent;
  f->from = from;
  f->to = to;
  f->from_epoch = from_epoch;
  f->arrive = key->time;
  f->seq = key->seq;
  f->next_free = MB_FLIGHT_NIL;
  rk->stats.in_flight++;
  if (rk->net->no_faults && rk->net->nodes[to].dl_bps != 0)
    {
      mb_net_dl_land (rk, i);
      return;
    }
  f->event = mb_sched_at_key (rk->sched, key,
                              rk->net->nodes[to].down_bps == 0 ? mb_net_on_arrival_delivery
                                                               : mb_net_on_arrival,
                              rk, i);
}

gboolean
mb_net_send (MbNet *net, guint32 from, guint32 to, gpointer payload, guint64 size)
{
  MbNetNode *src = mb_net_node (net, from);
  g_assert (to < net->n_nodes);
  MbNetRank *rk = mb_net_rank (net, from);
  guint64 now = mb_sched_now (rk->sched);
  if (net->overhead_ppm)
    size += (size * net->overhead_ppm + 999999) / 1000000;
  rk->stats.sent++;
  rk->stats.bytes_sent += size;
  guint64 n = src->sends++;
  /* without faults (mb_net_set_faults) every node is up and every path
   * open: the receiver's shared line is not read */
  if (!net->no_faults)
    {
      if (!src->up || mb_net_seen_down (net, to, now))
        return mb_net_drop_now (net, rk, from, to, payload, MB_DROP_NODE_DOWN);
      if (mb_net_path_cut (net, from, to))
        return mb_net_drop_now (net, rk, from, to, payload, MB_DROP_CUT);
    }
  guint64 depart = mb_net_uplink_charge (src, now, size);
  if (mb_net_lost (net, from, n))
    return mb_net_drop_now (net, rk, from, to, payload, MB_DROP_LOSS);

  guint64 arrive = depart + mb_net_latency (net, from, to);
  if (net->link_queue)
    arrive += mb_net_tx_time (net->link_queue, src->up_bps); /* per sender: pairs stay FIFO */
  MbSchedKey key = mb_sched_key_for (rk->sched, arrive, to);
  guint dr = mb_net_rank_of (net, to);
  if (dr == rk->index || mb_net_cur_rank < 0)
    mb_net_land (&net->ranks[dr], &key, payload, size, now, from, to, src->epoch);
  else
    {
      g_assert (arrive >= now + net->lat_min);
      MbTransit t = { key, payload, size, now, from, to, src->epoch };
      g_array_append_val (rk->outbox[net->phase & 1][dr], t);
      rk->out_min[net->phase & 1][dr] = MIN (rk->out_min[net->phase & 1][dr], arrive);
      rk->stats.in_flight++;
    }
  return TRUE;
}

void
mb_net_next_window (MbNet *net)
{
  net->phase++;
}

guint64
mb_net_inbox_next_time (const MbNet *net)
{
  guint64 t = G_MAXUINT64;
  for (guint r = 0; r < net->n_ranks; r++)
    for (guint d = 0; d < net->n_ranks; d++)
      t = MIN (t, net->ranks[r].out_min[(net->phase & 1) ^ 1][d]);
  return t;
}

void
mb_net_take_inbox (MbNet *net, guint rank)
{
  MbNetRank *rk = &net->ranks[rank];
  for (guint r = 0; r < net->n_ranks; r++)
    {
      GArray *box = net->ranks[r].outbox[(net->phase & 1) ^ 1][rank];
      net->ranks[r].out_min[(net->phase & 1) ^ 1][rank] = G_MAXUINT64;
      for (guint i = 0; i < box->len; i++)
        {
          const MbTransit *t = &g_array_index (box, MbTransit, i);
          mb_net_land (rk, &t->key, t->payload, t->size, t->sent, t->from, t->to, t->from_epoch);
          rk->stats.in_flight--; /* counted once, by the sender's rank */
        }
      g_array_set_size (box, 0);
    }
}

/* ---- the downlink queues' checker ------------------------------------------ */

gboolean
mb_net_check_downlinks (const MbNet *net, GString *why)
{
  guint64 queued = 0, due = 0;
  for (guint32 v = 0; v < net->n_nodes; v++)
    {
      const MbNetNode *d = &net->nodes[v];
      const MbNetRank *rk = &net->ranks[mb_net_rank_of (net, v)];
      if (d->dl_head == MB_FLIGHT_NIL)
        {
          if (d->dl_len != 0)
            {
              g_string_append_printf (why, "node %u has flights waiting but no head", v);
              return FALSE;
            }
          continue;
        }
      if (!net->no_faults)
        {
          g_string_append_printf (why, "node %u has a downlink queue with faults possible", v);
          return FALSE;
        }
      const MbFlight *h = &rk->flights[d->dl_head];
      if (d->dl_head >= rk->n_flights || h->to != v || h->event == MB_EVENT_NONE
          || h->event == MB_NET_WAITING || h->arrive != d->dl_head_arrive
          || h->from != d->dl_head_from)
        {
          g_string_append_printf (why, "node %u's head, flight %u, is not a scheduled flight to "
                                  "it with the key its node keeps", v, d->dl_head);
          return FALSE;
        }
      queued += 1 + d->dl_len;
      for (guint32 k = 0; k < d->dl_len; k++)
        {
          const MbDlWait *e = &d->dl_wait[k];
          const MbFlight *f = &rk->flights[e->flight];
          if (e->flight >= rk->n_flights || f->event != MB_NET_WAITING || f->to != v
              || f->arrive != e->arrive || f->from != e->from || f->seq != e->seq)
            {
              g_string_append_printf (why, "node %u's queue entry %u is not its waiting flight %u",
                                      v, k, e->flight);
              return FALSE;
            }
          if (mb_net_arrives_before (f, h)
              || (k > 0 && mb_net_wait_before (e, &d->dl_wait[(k - 1) / 2])))
            {
              g_string_append_printf (why, "node %u's queue: flight %u (arrival %" G_GUINT64_FORMAT
                                      " us) is behind one arriving later", v, e->flight, f->arrive);
              return FALSE;
            }
        }
    }
  for (guint r = 0; r < net->n_ranks; r++)
    {
      const MbNetRank *rk = &net->ranks[r];
      for (guint32 i = 0; i < rk->n_flights; i++)
        if (rk->flights[i].event == MB_NET_WAITING)
          due++;
        else if (net->no_faults && rk->flights[i].event != MB_EVENT_NONE
                 && net->nodes[rk->flights[i].to].down_bps != 0)
          due++; /* a head */
    }
  if (queued != due)
    {
      g_string_append_printf (why, "the queues hold %" G_GUINT64_FORMAT " flights, %"
                              G_GUINT64_FORMAT " are waiting or due", queued, due);
      return FALSE;
    }
  return TRUE;
}

/* ---- queries -------------------------------------------------------------- */

guint64
mb_net_up_backlog (const MbNet *net, guint32 node)
{
  const MbNetNode *n = mb_net_node (net, node);
  guint64 now = mb_sched_now (mb_net_sched (net, node));
  return n->up_free > now ? n->up_free - now : 0;
}

guint64
mb_net_up_backlog_bytes (const MbNet *net, guint32 node)
{
  const MbNetNode *n = mb_net_node (net, node);
  guint64 us = mb_net_up_backlog (net, node);
  if (us == 0 || n->up_bps == 0)
    return 0;
  /* the bytes still to leave, rounded down (tx times round up) */
  if (us <= G_MAXUINT64 / n->up_bps)
    return us * n->up_bps / 8000000;
  return (guint64) ((long double) us * (long double) n->up_bps / 8e6L);
}

guint64
mb_net_up_drained_at (const MbNet *net, guint32 node, guint64 low_bytes)
{
  const MbNetNode *n = mb_net_node (net, node);
  guint64 now = mb_sched_now (mb_net_sched (net, node));
  guint64 keep = mb_net_tx_time (low_bytes, n->up_bps);
  if (n->up_free <= now || n->up_free - now <= keep)
    return now;
  return n->up_free - keep;
}

void
mb_net_get_stats (const MbNet *net, MbNetStats *out)
{
  memset (out, 0, sizeof *out);
  for (guint r = 0; r < net->n_ranks; r++)
    {
      const MbNetStats *s = &net->ranks[r].stats;
      out->sent += s->sent;
      out->delivered += s->delivered;
      out->dropped += s->dropped;
      out->dropped_loss += s->dropped_loss;
      out->dropped_node_down += s->dropped_node_down;
      out->dropped_cut += s->dropped_cut;
      out->bytes_sent += s->bytes_sent;
      out->bytes_delivered += s->bytes_delivered;
      out->in_flight += s->in_flight;
    }
}

void
mb_net_get_node_stats (const MbNet *net, guint32 node, MbNetNodeStats *out)
{
  const MbNetNode *n = mb_net_node (net, node);
  out->bytes_up = n->bytes_up;
  out->bytes_down = n->bytes_down;
  out->busy_up = n->busy_up;
  out->msgs_up = n->msgs_up;
  out->msgs_down = n->msgs_down;
}

void
mb_net_heap_bytes (const MbNet *net, gsize (*payload_bytes) (gconstpointer payload),
                   gsize *records, gsize *payloads)
{
  *records += mb_memsize (net, sizeof *net)
              + mb_memsize (net->nodes, net->cap_nodes * sizeof (MbNetNode))
              + mb_memsize (net->ranks, net->n_ranks * sizeof (MbNetRank));
  for (guint32 v = 0; v < net->n_nodes; v++)
    if (net->nodes[v].dl_wait)
      *records += mb_memsize (net->nodes[v].dl_wait, net->nodes[v].dl_cap * sizeof (MbDlWait));
  for (guint r = 0; r < net->n_ranks; r++)
    {
      const MbNetRank *rk = &net->ranks[r];
      *records += mb_memsize (rk->flights, rk->cap_flights * sizeof (MbFlight));
      for (guint32 i = 0; i < rk->n_flights; i++)
        if (rk->flights[i].event != MB_EVENT_NONE)
          *payloads += payload_bytes (rk->flights[i].payload);
      /* messages on their way to another rank, in the outboxes */
      for (guint par = 0; par < 2; par++)
        for (guint d = 0; rk->outbox[par] && d < net->n_ranks; d++)
          {
            const GArray *box = rk->outbox[par][d];
            if (!box)
              continue;
            *records += box->len * sizeof (MbTransit);
            for (guint k = 0; k < box->len; k++)
              *payloads += payload_bytes (g_array_index (box, MbTransit, k).payload);
          }
    }
}

/* ---- one rank per process --------------------------------------------------- */

guint
mb_net_dist_pack (MbNet *net, guint self, guint dest, GByteArray *out, MbNetPackFn pack,
                  gpointer ctx)
{
  MbNetRank *rk = &net->ranks[self];
  guint count = rk->outbox[0][dest]->len + rk->outbox[1][dest]->len;
  mb_distbuf_u32 (out, count);
  for (guint par = 0; par < 2; par++)
    {
      GArray *box = rk->outbox[par][dest];
      for (guint i = 0; i < box->len; i++)
        {
          const MbTransit *t = &g_array_index (box, MbTransit, i);
          mb_distbuf_u64 (out, t->key.time);
          mb_distbuf_u64 (out, t->key.who);
          mb_distbuf_u64 (out, t->key.seq);
          mb_distbuf_u64 (out, t->size);
          mb_distbuf_u64 (out, t->sent);
          mb_distbuf_u32 (out, t->from);
          mb_distbuf_u32 (out, t->to);
          mb_distbuf_u32 (out, t->from_epoch);
          guint at = out->len;
          mb_distbuf_u32 (out, 0);
          pack (ctx, t->payload, out);
          guint32 len = out->len - at - 4;
          memcpy (out->data + at, &len, sizeof len);
          rk->stats.in_flight--; /* the receiver counts it from now on */
        }
      g_array_set_size (box, 0);
      rk->out_min[par][dest] = G_MAXUINT64;
    }
  return count;
}

gboolean
mb_net_dist_unpack (MbNet *net, guint self, const guint8 *buf, gsize len, MbNetUnpackFn unpack,
                    gpointer ctx, gsize *used, GError **error)
{
  MbNetRank *rk = &net->ranks[self];
  MbDistReader r = { buf, len, FALSE };
  guint32 count = mb_distbuf_get_u32 (&r);
  guint64 now = mb_sched_now (rk->sched);
  for (guint32 i = 0; i < count && !r.bad; i++)
    {
      MbSchedKey key;
      key.time = mb_distbuf_get_u64 (&r);
      key.who = mb_distbuf_get_u64 (&r);
      key.seq = mb_distbuf_get_u64 (&r);
      guint64 size = mb_distbuf_get_u64 (&r), sent = mb_distbuf_get_u64 (&r);
      guint32 from = mb_distbuf_get_u32 (&r), to = mb_distbuf_get_u32 (&r);
      guint32 epoch = mb_distbuf_get_u32 (&r), plen = mb_distbuf_get_u32 (&r);
      const guint8 *p = mb_distbuf_take (&r, plen);
      if (r.bad)
        break;
      if (from >= net->n_nodes || to >= net->n_nodes || mb_net_rank_of (net, to) != self
          || (key.who >> 32) != (guint64) to + 1 || key.time < now)
        {
          g_set_error (error, MB_DIST_ERROR, 0,
                       "message %u of %u: %u -> %u at t=%" G_GUINT64_FORMAT " us is not one "
                       "for rank %u due from t=%" G_GUINT64_FORMAT " us on", i, count, from, to,
                       key.time, self, now);
          return FALSE;
        }
      gpointer payload = unpack (ctx, p, plen, error);
      if (payload == NULL)
        {
          g_prefix_error (error, "message %u of %u (%u -> %u): ", i, count, from, to);
          return FALSE;
        }
      mb_net_land (rk, &key, payload, size, sent, from, to, epoch);
    }
  if (r.bad)
    {
      g_set_error (error, MB_DIST_ERROR, 0,
                   "a pack of %u messages is cut short (%" G_GSIZE_FORMAT " bytes)", count, len);
      return FALSE;
    }
  *used = len - r.left;
  return TRUE;
}

guint64
mb_net_dist_out_min (const MbNet *net, guint self)
{
  guint64 t = G_MAXUINT64;
  for (guint par = 0; par < 2; par++)
    for (guint d = 0; d < net->n_ranks; d++)
      t = MIN (t, net->ranks[self].out_min[par][d]);
  return t;
}

guint64
mb_net_crash_rec (const MbNet *net, guint32 node)
{
  g_assert (node < net->n_nodes);
  return __atomic_load_n (&net->nodes[node].crash_rec, __ATOMIC_RELAXED);
}

void
mb_net_dist_set_crash_rec (MbNet *net, guint32 node, guint64 rec)
{
  g_assert (node < net->n_nodes);
  __atomic_store_n (&net->nodes[node].crash_rec, rec, __ATOMIC_RELAXED);
}

void
mb_net_dist_set_node_stats (MbNet *net, guint32 node, const MbNetNodeStats *st)
{
  g_assert (node < net->n_nodes);
  MbNetNode *n = &net->nodes[node];
  n->bytes_up = st->bytes_up;
  n->bytes_down = st->bytes_down;
  n->busy_up = st->busy_up;
  n->msgs_up = st->msgs_up;
  n->msgs_down = st->msgs_down;
}
