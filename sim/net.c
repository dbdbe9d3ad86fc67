/* net.c — in-memory network: per-node FIFO uplink/downlink, hashed latency,
 * loss, crashes, link faults and partitions.  See net.h for the model.
 *
 * Invariants:
 *  - up_free / down_free never lie before the time they were last set, so
 *    each link is a FIFO; departure and completion times are whole
 *    microseconds (mb_net_tx_time rounds up);
 *  - every in-flight message is one live record in `flights` with exactly
 *    one pending scheduler event (arrival or delivery); the record is freed
 *    before the deliver/drop callback runs, so callbacks may send;
 *  - a node's epoch grows by one on every crash; a message carries the
 *    epochs of both ends at send and is dropped if either has changed;
 *  - stats.sent == delivered + dropped + in_flight (messages dropped by
 *    mb_net_free are not counted);
 *  - nothing is decided by iterating a hash table (the link table is only
 *    looked up).
 */
#include "net.h"

#include <string.h>

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

typedef struct {
  guint64 up_bps;
  guint64 down_bps;
  guint64 up_free;
  guint64 down_free;
  MbNetNodeStats stats;
  guint32 region;
  guint32 partition;
  guint32 epoch;
  gboolean up;
} MbNetNode;

typedef struct {
  gpointer payload;
  guint64 size;
  MbEventId event;  /* MB_EVENT_NONE when the record is free */
  guint32 from;
  guint32 to;
  guint32 from_epoch;
  guint32 to_epoch;
  guint32 next_free;
} MbFlight;

struct _MbNet {
  MbSched *sched;
  MbNetCallbacks cb;
  guint64 seed;
  GRand *rng;
  double loss;

  MbLatencyModel model;
  guint64 lat_lo;
  guint64 lat_hi;
  guint n_regions;
  guint64 *matrix;
  guint64 jitter;

  MbNetNode *nodes;
  guint32 n_nodes;
  guint32 cap_nodes;

  MbFlight *flights;
  guint32 n_flights;
  guint32 cap_flights;
  guint32 free_flight;

  GHashTable *links_down;  /* gint64 pair key -> count of downs */
  GArray *fault_events;    /* MbEventId, cancelled at free */
  MbNetStats stats;
};

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
static void mb_net_on_delivery (MbSched *sched, gpointer a, guint64 b);
static void mb_net_prefetch_arrival (gpointer a, guint64 b, guint depth);
static void mb_net_prefetch_delivery (gpointer a, guint64 b, guint depth);

MbNet *
mb_net_new (MbSched *sched, guint64 seed, const MbNetCallbacks *callbacks)
{
  g_return_val_if_fail (sched != NULL && callbacks != NULL, NULL);
  g_return_val_if_fail (callbacks->deliver != NULL && callbacks->drop != NULL, NULL);
  MbNet *net = g_new0 (MbNet, 1);
  net->sched = sched;
  net->cb = *callbacks;
  net->seed = seed;
  guint32 words[2] = { (guint32) seed, (guint32) (seed >> 32) };
  net->rng = g_rand_new_with_seed_array (words, 2);
  net->model = MB_LAT_CONSTANT;
  net->free_flight = MB_FLIGHT_NIL;
  net->links_down = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  net->fault_events = g_array_new (FALSE, FALSE, sizeof (MbEventId));
  mb_sched_set_prefetch (sched, mb_net_on_arrival, mb_net_prefetch_arrival);
  mb_sched_set_prefetch (sched, mb_net_on_delivery, mb_net_prefetch_delivery);
  return net;
}

static void
mb_net_drop_all_in_flight (MbNet *net)
{
  for (guint32 i = 0; i < net->n_flights; i++)
    {
      MbFlight *f = &net->flights[i];
      if (f->event == MB_EVENT_NONE)
        continue;
      mb_sched_cancel (net->sched, f->event);
      f->event = MB_EVENT_NONE;
      net->cb.drop (net->cb.ctx, f->from, f->to, f->payload);
    }
}

void
mb_net_free (MbNet *net)
{
  if (net == NULL)
    return;
  mb_net_drop_all_in_flight (net);
  for (guint i = 0; i < net->fault_events->len; i++)
    mb_sched_cancel (net->sched, g_array_index (net->fault_events, MbEventId, i));
  g_array_unref (net->fault_events);
  g_hash_table_unref (net->links_down);
  g_rand_free (net->rng);
  g_free (net->matrix);
  g_free (net->nodes);
  g_free (net->flights);
  g_free (net);
}

/* ---- nodes ---------------------------------------------------------------- */

guint32
mb_net_add_node (MbNet *net, guint64 upload_bps, guint64 download_bps, guint region)
{
  g_return_val_if_fail (net->model != MB_LAT_REGIONS || region < net->n_regions, G_MAXUINT32);
  g_return_val_if_fail (net->n_nodes < G_MAXUINT32 - 1, G_MAXUINT32);
  if (net->n_nodes == net->cap_nodes)
    {
      net->cap_nodes = net->cap_nodes ? net->cap_nodes * 2 : 64;
      net->nodes = g_renew (MbNetNode, net->nodes, net->cap_nodes);
    }
  MbNetNode *n = &net->nodes[net->n_nodes];
  memset (n, 0, sizeof *n);
  n->up_bps = upload_bps;
  n->down_bps = download_bps;
  n->region = region;
  n->up = TRUE;
  return net->n_nodes++;
}

guint32
mb_net_n_nodes (const MbNet *net)
{
  return net->n_nodes;
}

static MbNetNode *
mb_net_node (const MbNet *net, guint32 node)
{
  g_assert (node < net->n_nodes);
  return &net->nodes[node];
}

void
mb_net_set_node_rates (MbNet *net, guint32 node, guint64 upload_bps, guint64 download_bps)
{
  MbNetNode *n = mb_net_node (net, node);
  n->up_bps = upload_bps;
  n->down_bps = download_bps;
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
}

void
mb_net_set_latency_uniform (MbNet *net, guint64 lo_us, guint64 hi_us)
{
  g_return_if_fail (lo_us <= hi_us);
  net->model = MB_LAT_UNIFORM;
  net->lat_lo = lo_us;
  net->lat_hi = hi_us;
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
        guint64 base = net->matrix[mb_net_node (net, from)->region * net->n_regions
                                   + mb_net_node (net, to)->region];
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

/* ---- faults --------------------------------------------------------------- */

static gint64
mb_net_link_key (guint32 a, guint32 b)
{
  return (gint64) (((guint64) MIN (a, b) << 32) | MAX (a, b));
}

void
mb_net_set_node_up (MbNet *net, guint32 node, gboolean up)
{
  MbNetNode *n = mb_net_node (net, node);
  if (n->up == !!up)
    return;
  n->up = !!up;
  if (up)
    return;
  guint64 now = mb_sched_now (net->sched);
  n->epoch++;  /* every message to or from the old incarnation is now stale */
  if (n->up_free > now)
    {
      n->stats.busy_up -= n->up_free - now;  /* the queued tail never went out */
      n->up_free = now;
    }
  n->down_free = MIN (n->down_free, now);
}

gboolean
mb_net_node_is_up (const MbNet *net, guint32 node)
{
  return mb_net_node (net, node)->up;
}

void
mb_net_set_link_up (MbNet *net, guint32 a, guint32 b, gboolean up)
{
  gint64 key = mb_net_link_key (a, b);
  gpointer count = g_hash_table_lookup (net->links_down, &key);
  guint n = GPOINTER_TO_UINT (count);
  if (!up)
    {
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
  guint64 pair = (guint64) mb_net_link_key (a, b);
  MbEventId down = mb_sched_at (net->sched, from_us, mb_net_on_link_down, net, pair);
  MbEventId up = mb_sched_at (net->sched, until_us, mb_net_on_link_up, net, pair);
  g_array_append_val (net->fault_events, down);
  g_array_append_val (net->fault_events, up);
}

void
mb_net_set_partition (MbNet *net, guint32 node, guint32 partition)
{
  mb_net_node (net, node)->partition = partition;
}

guint32
mb_net_partition (const MbNet *net, guint32 node)
{
  return mb_net_node (net, node)->partition;
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
  return mb_net_node (net, from)->up && mb_net_node (net, to)->up
         && !mb_net_path_cut (net, from, to);
}

/* ---- in flight ------------------------------------------------------------ */

static guint32
mb_net_flight_alloc (MbNet *net)
{
  if (net->free_flight != MB_FLIGHT_NIL)
    {
      guint32 i = net->free_flight;
      net->free_flight = net->flights[i].next_free;
      return i;
    }
  g_assert (net->n_flights < MB_FLIGHT_NIL);
  if (net->n_flights == net->cap_flights)
    {
      net->cap_flights = net->cap_flights ? net->cap_flights * 2 : 256;
      net->flights = g_renew (MbFlight, net->flights, net->cap_flights);
    }
  return net->n_flights++;
}

/* Frees the record and returns a copy, so callbacks may send. */
static MbFlight
mb_net_flight_release (MbNet *net, guint32 i)
{
  MbFlight f = net->flights[i];
  net->flights[i].event = MB_EVENT_NONE;
  net->flights[i].payload = NULL;
  net->flights[i].next_free = net->free_flight;
  net->free_flight = i;
  net->stats.in_flight--;
  return f;
}

static void
mb_net_count_drop (MbNet *net, MbDropCause cause)
{
  net->stats.dropped++;
  if (cause == MB_DROP_LOSS)
    net->stats.dropped_loss++;
  else if (cause == MB_DROP_NODE_DOWN)
    net->stats.dropped_node_down++;
  else
    net->stats.dropped_cut++;
}

/* Whether a message sent with these epochs may still proceed; if not, the
 * cause of its drop. */
static gboolean
mb_net_still_ok (const MbNet *net, const MbFlight *f, MbDropCause *cause)
{
  const MbNetNode *a = &net->nodes[f->from], *b = &net->nodes[f->to];
  if (!a->up || !b->up || a->epoch != f->from_epoch || b->epoch != f->to_epoch)
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
mb_net_prefetch_flight (const MbNet *net, guint64 b, guint depth)
{
  if (b >= net->n_flights)
    return NULL;
  const MbFlight *f = &net->flights[b];
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
  const MbNet *net = a;
  const MbFlight *f = mb_net_prefetch_flight (net, b, depth);
  if (f == NULL)
    return;
  if (f->size <= MB_NET_PREFETCH_SMALL)
    mb_net_prefetch_delivery (a, b, depth);
  else if (depth == 1)
    MB_PREFETCH (&net->nodes[f->to]);
}

static void
mb_net_prefetch_delivery (gpointer a, guint64 b, guint depth)
{
  const MbNet *net = a;
  const MbFlight *f = mb_net_prefetch_flight (net, b, depth);
  if (f == NULL)
    return;
  if (depth == 1)
    {
      MB_PREFETCH (&net->nodes[f->from]);
      MB_PREFETCH (&net->nodes[f->to]);
    }
  if (net->cb.prefetch != NULL)
    net->cb.prefetch (net->cb.ctx, f->from, f->to, f->payload, depth - 1);
}

/* Drops flight i if it may no longer proceed; TRUE if it was dropped. */
static gboolean
mb_net_flight_check (MbNet *net, guint32 i)
{
  MbDropCause cause;
  if (mb_net_still_ok (net, &net->flights[i], &cause))
    return FALSE;
  MbFlight f = mb_net_flight_release (net, i);
  mb_net_count_drop (net, cause);
  net->cb.drop (net->cb.ctx, f.from, f.to, f.payload);
  return TRUE;
}

static void
mb_net_on_arrival (MbSched *sched, gpointer a, guint64 b)
{
  MbNet *net = a;
  guint32 i = (guint32) b;
  if (mb_net_flight_check (net, i))
    return;
  MbFlight *f = &net->flights[i];
  MbNetNode *dst = &net->nodes[f->to];
  guint64 now = mb_sched_now (sched);
  dst->down_free = MAX (now, dst->down_free) + mb_net_tx_time (f->size, dst->down_bps);
  f->event = mb_sched_at (sched, dst->down_free, mb_net_on_delivery, net, i);
}

static void
mb_net_on_delivery (MbSched *sched, gpointer a, guint64 b)
{
  MbNet *net = a;
  guint32 i = (guint32) b;
  if (mb_net_flight_check (net, i))
    return;
  MbFlight f = mb_net_flight_release (net, i);
  MbNetNode *dst = &net->nodes[f.to];
  dst->stats.bytes_down += f.size;
  dst->stats.msgs_down++;
  net->stats.delivered++;
  net->stats.bytes_delivered += f.size;
  net->cb.deliver (net->cb.ctx, f.from, f.to, f.payload, mb_sched_now (sched));
}

static gboolean
mb_net_drop_now (MbNet *net, guint32 from, guint32 to, gpointer payload, MbDropCause cause)
{
  mb_net_count_drop (net, cause);
  net->cb.drop (net->cb.ctx, from, to, payload);
  return FALSE;
}

/* Puts `size` bytes on the sender's uplink; returns the departure time. */
static guint64
mb_net_uplink_charge (MbNet *net, MbNetNode *src, guint64 size)
{
  guint64 now = mb_sched_now (net->sched);
  guint64 tx = mb_net_tx_time (size, src->up_bps);
  guint64 depart = MAX (now, src->up_free) + tx;
  if (src->up_bps != 0)
    src->up_free = depart;
  src->stats.busy_up += tx;
  src->stats.bytes_up += size;
  src->stats.msgs_up++;
  return depart;
}

static gboolean
mb_net_lost (MbNet *net)
{
  if (net->loss <= 0.0)
    return FALSE;
  return net->loss >= 1.0 || g_rand_double (net->rng) < net->loss;
}

gboolean
mb_net_send (MbNet *net, guint32 from, guint32 to, gpointer payload, guint64 size)
{
  MbNetNode *src = mb_net_node (net, from);
  MbNetNode *dst = mb_net_node (net, to);
  net->stats.sent++;
  net->stats.bytes_sent += size;
  if (!src->up || !dst->up)
    return mb_net_drop_now (net, from, to, payload, MB_DROP_NODE_DOWN);
  if (mb_net_path_cut (net, from, to))
    return mb_net_drop_now (net, from, to, payload, MB_DROP_CUT);
  guint64 depart = mb_net_uplink_charge (net, src, size);
  if (mb_net_lost (net))
    return mb_net_drop_now (net, from, to, payload, MB_DROP_LOSS);

  guint64 arrive = depart + mb_net_latency (net, from, to);
  guint32 i = mb_net_flight_alloc (net);
  MbFlight *f = &net->flights[i];
  f->payload = payload;
  f->size = size;
  f->from = from;
  f->to = to;
  f->from_epoch = src->epoch;
  f->to_epoch = dst->epoch;
  f->next_free = MB_FLIGHT_NIL;
  /* an unlimited downlink delivers at arrival: one event instead of two */
  f->event = mb_sched_at (net->sched, arrive,
                          dst->down_bps == 0 ? mb_net_on_delivery : mb_net_on_arrival, net, i);
  net->stats.in_flight++;
  return TRUE;
}

/* ---- queries -------------------------------------------------------------- */

guint64
mb_net_up_backlog (const MbNet *net, guint32 node)
{
  const MbNetNode *n = mb_net_node (net, node);
  guint64 now = mb_sched_now (net->sched);
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
  guint64 now = mb_sched_now (net->sched);
  guint64 keep = mb_net_tx_time (low_bytes, n->up_bps);
  if (n->up_free <= now || n->up_free - now <= keep)
    return now;
  return n->up_free - keep;
}

void
mb_net_get_stats (const MbNet *net, MbNetStats *out)
{
  *out = net->stats;
}

void
mb_net_get_node_stats (const MbNet *net, guint32 node, MbNetNodeStats *out)
{
  *out = mb_net_node (net, node)->stats;
}

void
mb_net_heap_bytes (const MbNet *net, gsize (*payload_bytes) (gconstpointer payload),
                   gsize *records, gsize *payloads)
{
  *records += mb_memsize (net, sizeof *net)
              + mb_memsize (net->nodes, net->cap_nodes * sizeof (MbNetNode))
              + mb_memsize (net->flights, net->cap_flights * sizeof (MbFlight));
  for (guint32 i = 0; i < net->n_flights; i++)
    if (net->flights[i].event != MB_EVENT_NONE)
      *payloads += payload_bytes (net->flights[i].payload);
}
