/* world.c — see world.h.
 *
 * Invariants: nodes[i] is peer node i+1 and is never removed (its stats stay
 * readable after it leaves); n_online and n_incomplete count the online
 * peers and those of them still missing pieces; every online node has at most
 * one pending timer event, at its core object's next expiry.  Random draws
 * come from generators seeded from (scenario seed, node id) only.
 *
 * Seed coverage (mb_world_covered_at): until every piece is held by an
 * online peer that was not an initial seed, cover_counts[p] counts such
 * peers holding piece p and cover_missing the pieces no such peer holds;
 * cover_seen[id - 1] is the part of a node's bitfield already logged.
 * After every call into such a node, a change in its piece count logs its
 * new pieces; its leave logs its pieces away (world-ranks.c counts the log
 * at multiples of the lookahead, in event order).  The first time
 * cover_missing reaches 0 is the coverage time; the initial seeds' bytes_up
 * are summed then (at that count), and the tracking stops and frees its
 * state.  Exact (it reads the peers' own bitfields, not the HAVEs they
 * send) and O(1) per call while no piece is gained.
 */
#define MB_SIM_WORLD_INTERNAL
#include "world-private.h"

#include <stdlib.h>
#include <string.h>

#include "wire/codec.h"
#include "content/store.h"

#define DISCONNECT_BYTES 40 /* a TCP FIN/RST, more or less */

#if defined(__GNUC__)
#define MB_PREFETCH(p) __builtin_prefetch (p)
#else
#define MB_PREFETCH(p) ((void) (p))
#endif

const char *
mb_leave_kind_name (MbLeaveKind k)
{
  switch (k)
    {
    case MB_LEAVE_GRACEFUL: return "graceful";
    case MB_LEAVE_CRASH: return "crash";
    default: return "none";
    }
}

static GRand *
rand_for (guint64 seed, guint32 node)
{
  guint32 words[3] = { (guint32) seed, (guint32) (seed >> 32), node };
  return g_rand_new_with_seed_array (words, 3);
}

/* A peer node's record (checked: only its rank may touch it in a window). */
static MbSimNode *
node_of (MbWorld *w, MbNodeId id)
{
  if (id == 0 || id > w->nodes->len)
    return NULL;
  mbi_world_touch (w, id);
  return w->nodes->pdata[id - 1];
}

static guint64
now_of (MbWorld *w, MbNodeId id)
{
  return mb_sched_now (mbi_world_sched_of (w, id));
}

/* ---- timers ---- */

static void on_timer (MbSched *s, gpointer a, guint64 b);

static void
node_update_timer (MbWorld *w, MbSimNode *n)
{
  guint64 t = MB_TIME_NEVER;
  if (n->online)
    {
      t = mb_peer_next_expiry (n->peer);
      if (n->rp)
        t = MIN (t, mb_ringpeer_next_expiry (n->rp));
    }
  if (t == n->timer_at && (t == MB_TIME_NEVER || n->timer != MB_EVENT_NONE))
    return;
  MbSched *s = mbi_world_sched_of (w, n->id);
  if (n->timer != MB_EVENT_NONE)
    mb_sched_cancel (s, n->timer);
  n->timer = MB_EVENT_NONE;
  n->timer_at = t;
  if (t != MB_TIME_NEVER)
    n->timer = mb_sched_at_node (s, t, n->id, on_timer, w, n->id);
}

static void
tracker_update_timer (MbWorld *w)
{
  guint64 t = mb_tracker_next_expiry (w->tracker);
  if (t == w->tracker_timer_at)
    return;
  mbi_world_touch (w, 0);
  MbSched *s = mbi_world_sched_of (w, 0);
  if (w->tracker_timer != MB_EVENT_NONE)
    mb_sched_cancel (s, w->tracker_timer);
  w->tracker_timer = MB_EVENT_NONE;
  w->tracker_timer_at = t;
  if (t != MB_TIME_NEVER)
    w->tracker_timer = mb_sched_at_node (s, t, 0, on_timer, w, 0);
}

/* ---- seed coverage ---- */

static void
cover_stop (MbWorld *w)
{
  w->covering = FALSE;
  g_clear_pointer (&w->cover_counts, g_free);
  g_clear_pointer (&w->cover_seen, g_ptr_array_unref);
}

void
mbi_world_cover_reached (MbWorld *w, guint64 at)
{
  w->covered_at = at;
  guint64 up = 0;
  for (guint i = 0; i < w->nodes->len; i++)
    {
      MbSimNode *o = w->nodes->pdata[i];
      if (!o->initial_seed || !mbi_world_local (w, o->id))
        continue;
      MbPeerStats ps;
      mb_world_node_stats (w, o, &ps);
      up += ps.bytes_up;
    }
  if (w->dist)
    w->dist->sum (w->dist->ctx, &up, 1); /* every process counts the log alike */
  w->covered_seed_bytes_up = up;
  cover_stop (w);
}

/* Counts the pieces n gained since last time (n is online, not an initial seed). */
static void
cover_update (MbWorld *w, MbSimNode *n)
{
  guint32 stamp = mb_peer_have_stamp (n->peer);
  if (stamp == n->cover_stamp)
    return; /* nothing gained or lost since the last look */
  n->cover_stamp = stamp;
  const MbBitfield *have = mb_peer_have (n->peer, mb_manifest_name (w->file));
  MbBitfield **seen = (MbBitfield **) &w->cover_seen->pdata[n->id - 1];
  if (have == NULL || mb_bitfield_count (have) == (*seen ? mb_bitfield_count (*seen) : 0))
    return;
  guint np = mb_bitfield_size (have);
  if (*seen == NULL)
    *seen = mb_bitfield_new (np);
  /* the pieces it has that were not seen yet, in increasing order, a byte
   * of the two bitfields at a time */
  const guint8 *hb = mb_bitfield_bytes (have), *sb = mb_bitfield_bytes (*seen);
  for (gsize k = 0, len = mb_bitfield_wire_len (np); k < len; k++)
    for (guint8 m = hb[k] & (guint8) ~sb[k]; m != 0;)
      {
        guint bit = (guint) __builtin_clz ((unsigned int) m) - (8 * sizeof (unsigned int) - 8);
        m &= (guint8) ~(0x80u >> bit);
        guint p = (guint) k * 8 + bit;
        mb_bitfield_set (*seen, p);
        mbi_world_cover_log (w, n->id, p, +1);
      }
}

/* n leaves: the pieces it held are held by one peer fewer. */
static void
cover_leave (MbWorld *w, MbSimNode *n)
{
  if (!w->covering || n->id - 1 >= w->cover_seen->len)
    return;
  MbBitfield *seen = w->cover_seen->pdata[n->id - 1];
  if (seen == NULL)
    return;
  for (guint p = 0; p < mb_bitfield_size (seen); p++)
    if (mb_bitfield_test (seen, p))
      mbi_world_cover_log (w, n->id, p, -1);
  mb_bitfield_free (seen);
  w->cover_seen->pdata[n->id - 1] = NULL;
}

guint64
mb_world_covered_at (const MbWorld *w, guint64 *seed_bytes_up)
{
  if (seed_bytes_up)
    *seed_bytes_up = w->covered_seed_bytes_up;
  return w->covered_at;
}

static void
check_complete (MbWorld *w, MbSimNode *n)
{
  if (n->completed_us != MB_TIME_NEVER || !n->online || !w->file
      || mb_peer_n_completed (n->peer) == 0)
    return;
  guint64 at = mb_peer_completed_at (n->peer, mb_manifest_name (w->file));
  if (at == MB_TIME_NEVER)
    return;
  n->completed_us = at;
  MbNetNodeStats ns;
  mb_net_get_node_stats (w->net, n->id, &ns);
  n->busy_up_done = ns.busy_up;
  g_atomic_int_add (&w->n_incomplete, -1);
  g_atomic_int_inc (&w->n_completed);
  if (w->on_complete)
    w->on_complete (w, n, w->on_complete_data);
}

/* cfg.check: the node's swarm peer and ring peer keep their invariants, or
 * the run stops naming the broken one. */
static void G_GNUC_NO_INLINE __attribute__ ((cold))
check_node (MbWorld *w, MbSimNode *n)
{
  g_autoptr (GString) why = g_string_new (NULL);
  if (!mb_peer_check (n->peer, why))
    g_error ("--check: t=%" G_GUINT64_FORMAT " us, node %u: %s", now_of (w, n->id),
             n->id, why->str);
  if (n->rp && !mb_ringpeer_check (n->rp, why))
    g_error ("--check: t=%" G_GUINT64_FORMAT " us, node %u (%s): ring peer invariant broken: %s",
             now_of (w, n->id), n->id, n->addr, why->str);
}

static void
after_call (MbWorld *w, MbSimNode *n)
{
  if (!n)
    {
      tracker_update_timer (w);
      return;
    }
  if (G_UNLIKELY (w->cfg.check))
    check_node (w, n);
  if (w->covering && !n->initial_seed)
    cover_update (w, n);
  check_complete (w, n);
  node_update_timer (w, n);
}

void
mb_world_after_ring_call (MbWorld *w, MbSimNode *n)
{
  after_call (w, n);
}

static void
on_timer (MbSched *s, gpointer a, guint64 b)
{
  MbWorld *w = a;
  guint64 now = mb_sched_now (s);
  if (b == 0)
    {
      w->tracker_timer = MB_EVENT_NONE;
      w->tracker_timer_at = MB_TIME_NEVER;
      mb_tracker_handle_expiry (w->tracker, now);
      tracker_update_timer (w);
      return;
    }
  MbSimNode *n = node_of (w, (MbNodeId) b);
  n->timer = MB_EVENT_NONE;
  n->timer_at = MB_TIME_NEVER;
  if (!n->online)
    return;
  mb_peer_handle_expiry (n->peer, now);
  if (n->rp)
    mb_ringpeer_handle_expiry (n->rp, now);
  after_call (w, n);
}

/* ---- the host ---- */

/* A PIECE or CHUNK delivered to n: its payload (virtual content: its
 * length) counts as sent by `from` and received by n. */
static void
count_fetch_payload (MbWorld *w, MbNodeId from, MbSimNode *n, const MbMessage *msg)
{
  guint64 len = msg->data ? g_bytes_get_size (msg->data) : msg->length;
  if (from != 0 && from <= w->nodes->len)
    mbi_world_credit (w, from, len);
  n->fetch_bytes_down += len;
}

static void
host_send (gpointer ctx, MbNodeId from, MbNodeId to, MbMessage *msg)
{
  MbWorld *w = ctx;
  if (G_UNLIKELY (from == to))
    {
      /* Like the real transport: a node does not send to itself. */
      g_warning ("node %u sent a %s to itself: dropped", from, mb_message_type_name (msg->type));
      mb_message_free (msg);
      return;
    }
  mbi_world_here (w)->messages++;
  mb_net_send (w->net, from, to, msg, mb_codec_size (msg));
}

/* Node id's address: "sim:<id>", or with cfg.emulated_names the one
 * tools/emulate gives the peer of index id - 1 ("10.77.<1 + k / 250>.<2 +
 * k % 250>:6001"), so a ring places every key on the same peers in both. */
static gchar *
node_addr (const MbWorld *w, MbNodeId id)
{
  if (!w->cfg.emulated_names)
    return g_strdup_printf ("sim:%u", id);
  guint k = id - 1;
  return g_strdup_printf ("10.77.%u.%u:6001", 1 + k / 250, 2 + k % 250);
}

static MbNodeId
host_resolve (gpointer ctx, MbNodeId self, const char *addr)
{
  MbWorld *w = ctx;
  guint64 id = 0;
  char *end = NULL;
  if (!addr)
    return MB_NODE_NONE;
  if (!w->cfg.emulated_names && g_str_has_prefix (addr, "sim:"))
    id = g_ascii_strtoull (addr + 4, &end, 10);
  else if (w->cfg.emulated_names && g_str_has_prefix (addr, "10.77."))
    {
      guint64 a = g_ascii_strtoull (addr + 6, &end, 10), b = 0;
      if (end && *end == '.')
        b = g_ascii_strtoull (end + 1, &end, 10);
      if (end && g_str_equal (end, ":6001") && a >= 1 && b >= 2 && b < 252)
        {
          id = (a - 1) * 250 + (b - 2) + 1;
          end = (char *) "";
        }
    }
  if (!end || *end || id == 0 || id > w->nodes->len)
    return MB_NODE_NONE;
  return (MbNodeId) id;
}

/* Flow control: the uplink's backlog, and a wake-up once it has drained
 * to `low` bytes (one pending per node; a new request replaces it). */
static guint64
host_uplink_backlog (gpointer ctx, MbNodeId self)
{
  MbWorld *w = ctx;
  return mb_net_up_backlog_bytes (w->net, self);
}

static guint64
host_uplink_rate (gpointer ctx, MbNodeId self)
{
  MbWorld *w = ctx;
  const MbSimNode *n = node_of (w, self);
  return n ? n->upload_bps / 8 : 0;
}

static void
on_uplink_ready (MbSched *s, gpointer a, guint64 b)
{
  MbWorld *w = a;
  MbSimNode *n = node_of (w, (MbNodeId) b);
  n->drain = MB_EVENT_NONE;
  if (!n->online)
    return;
  mb_peer_on_uplink_ready (n->peer, mb_sched_now (s));
  after_call (w, n);
}

/* Prefetch hint for on_uplink_ready (scheduler hook): the node's slot, the
 * node, its peer, then the peer's upload state. */
static void
prefetch_uplink_ready (gpointer a, guint64 b, guint depth)
{
  MbWorld *w = a;
  if (b == 0 || b > w->nodes->len)
    return;
  if (depth < 2)
    {
      MB_PREFETCH (&w->nodes->pdata[b - 1]);
      return;
    }
  const MbSimNode *n = w->nodes->pdata[b - 1];
  if (depth == 2)
    {
      MB_PREFETCH (n);
      return;
    }
  if (!n->online)
    return;
  if (depth == 3)
    {
      MB_PREFETCH (n->peer);
      return;
    }
  if (depth - 4 < MB_PEER_PREFETCH_UPLINK_DEPTHS)
    mb_peer_prefetch_uplink (n->peer, depth - 4);
}

static void
host_uplink_notify (gpointer ctx, MbNodeId self, guint64 low)
{
  MbWorld *w = ctx;
  MbSimNode *n = node_of (w, self);
  if (!n)
    return;
  MbSched *s = mbi_world_sched_of (w, self);
  if (n->drain != MB_EVENT_NONE)
    mb_sched_cancel (s, n->drain);
  n->drain = mb_sched_at_node (s, mb_net_up_drained_at (w->net, self, low), self, on_uplink_ready,
                               w, self);
}

static void
host_prefetch_send (gpointer ctx, MbNodeId self, MbNodeId to)
{
  MbWorld *w = ctx;
  mb_net_prefetch_send (w->net, self, to);
}

static void
host_disconnect (gpointer ctx, MbNodeId self, MbNodeId peer)
{
  MbWorld *w = ctx;
  MbMessage *bye = mb_message_new (MB_MSG_NONE);
  mb_net_send (w->net, self, peer, bye, DISCONNECT_BYTES);
}

static void
net_deliver (gpointer ctx, guint32 from, guint32 to, gpointer payload, guint64 now)
{
  MbWorld *w = ctx;
  MbMessage *msg = payload;
  if (to == 0)
    {
      if (msg->type != MB_MSG_NONE)
        mb_tracker_receive (w->tracker, from, msg, now);
      mb_message_free (msg);
      tracker_update_timer (w);
      return;
    }
  MbSimNode *n = node_of (w, to);
  if (n && !n->online && n->leave == MB_LEAVE_GRACEFUL && msg->type != MB_MSG_NONE)
    {
      /* Its process is gone but its host is up: the connection is refused,
       * a reset goes back. */
      mb_net_send (w->net, to, from, mb_message_new (MB_MSG_NONE), DISCONNECT_BYTES);
    }
  else if (n && n->online)
    {
      if (msg->type == MB_MSG_NONE)
        {
          mb_peer_on_disconnect (n->peer, from, now);
          if (n->rp)
            mb_ringpeer_on_disconnect (n->rp, from, now);
        }
      else
        {
          if (msg->type == MB_MSG_PIECE || msg->type == MB_MSG_CHUNK)
            count_fetch_payload (w, from, n, msg);
          if (n->rp && mb_message_family (msg->type) == MB_FAMILY_RING)
            mb_ringpeer_receive (n->rp, from, msg, now);
          else
            mb_peer_receive (n->peer, from, msg, now);
        }
    }
  mb_message_free (msg);
  if (n && n->online)
    after_call (w, n);
}

/* Prefetch hint for a delivery (MbNetCallbacks.prefetch): the message and
 * the node's slot, then the node, then its peer, then the peer's own state. */
static void
net_prefetch (gpointer ctx, guint32 from, guint32 to, gpointer payload, guint depth)
{
  MbWorld *w = ctx;
  const MbMessage *msg = payload;
  if (to == 0 || to > w->nodes->len)
    return;
  if (depth == 0)
    {
      MB_PREFETCH (msg);
      MB_PREFETCH (&w->nodes->pdata[to - 1]);
      return;
    }
  MbSimNode *n = w->nodes->pdata[to - 1];
  if (depth == 1)
    {
      MB_PREFETCH (n);
      return;
    }
  if (!n->online)
    return;
  if (depth == 2)
    {
      MB_PREFETCH (n->peer);
      return;
    }
  if (depth - 3 < MB_PEER_PREFETCH_DEPTHS && (guint) msg->type < MB_MSG_N_TYPES
      && w->swarm_data[msg->type])
    mb_peer_prefetch (n->peer, from, msg, depth - 3);
}

static void
net_drop (gpointer ctx, guint32 from, guint32 to, gpointer payload)
{
  mb_message_free (payload);
}

/* ---- life and death ---- */

static void view_update_free (gpointer data);

MbWorld *
mb_world_new_ranked (MbSched *gsched, MbSched *const *scheds, guint n_ranks,
                     const MbWorldConfig *cfg, MbManifest *file)
{
  MbWorld *w = g_new0 (MbWorld, 1);
  w->gsched = gsched;
  w->n_ranks = n_ranks;
  w->scheds = g_memdup2 (scheds, sizeof (MbSched *) * n_ranks);
  mbi_world_ranks_init (w);
  w->cfg = *cfg;
  w->file = file ? mb_manifest_ref (file) : NULL;
  if (w->file)
    {
      /* one copy of the file's manifest and chunk ids, not one per peer */
      mb_manifest_freeze (w->file);
      w->catalog = mb_chunk_catalog_new (w->file);
    }
  MbNetCallbacks cb = { net_deliver, net_drop, w, net_prefetch };
  w->net = mb_net_new_ranked (gsched, scheds, n_ranks, cfg->seed, &cb);
  w->host.ctx = w;
  w->host.send = host_send;
  w->host.resolve = host_resolve;
  w->host.disconnect = host_disconnect;
  w->host.uplink_backlog = host_uplink_backlog;
  w->host.uplink_notify = host_uplink_notify;
  w->host.uplink_rate = host_uplink_rate;
  w->host.prefetch_send = host_prefetch_send;
  for (guint r = 0; r < n_ranks; r++)
    mb_sched_set_prefetch (scheds[r], on_uplink_ready, prefetch_uplink_ready);
  w->nodes = g_ptr_array_new ();
  w->pending_views = g_hash_table_new_full (g_direct_hash, g_direct_equal, view_update_free, NULL);
  for (guint t = 0; t < MB_MSG_N_TYPES; t++)
    w->swarm_data[t] = (mb_message_fields (t) & MB_F_SWARM) != 0;
  w->tracker_timer_at = MB_TIME_NEVER;
  guint32 tid = mb_net_add_node (w->net, cfg->tracker_bps, cfg->tracker_bps, 0);
  g_assert (tid == 0);
  w->tracker = mb_tracker_new (&w->host, 0, &cfg->tracker, rand_for (cfg->seed, 0));
  w->ring = mb_ring_new (NULL, 0, cfg->vnodes);
  w->covered_at = MB_TIME_NEVER;
  if (w->file)
    {
      w->cover_missing = mb_manifest_n_chunks (w->file);
      w->cover_counts = g_new0 (guint, w->cover_missing);
      w->covering = TRUE;
      w->cover_seen = g_ptr_array_new_with_free_func ((GDestroyNotify) mb_bitfield_free);
    }
  return w;
}

MbWorld *
mb_world_new (MbSched *sched, const MbWorldConfig *cfg, MbManifest *file)
{
  return mb_world_new_ranked (sched, &sched, 1, cfg, file);
}

void
mb_world_free (MbWorld *w)
{
  mb_net_free (w->net);
  for (guint i = 0; i < w->nodes->len; i++)
    {
      MbSimNode *n = w->nodes->pdata[i];
      mb_ringpeer_free (n->rp);
      mb_peer_free (n->peer);
      mb_store_free (n->store);
      g_free (n->addr);
      free (n);
    }
  g_ptr_array_unref (w->nodes);
  mb_tracker_free (w->tracker);
  if (w->file)
    mb_manifest_unref (w->file);
  mb_chunk_catalog_unref (w->catalog);
  mb_ring_unref (w->ring);
  cover_stop (w);
  mbi_world_ranks_free (w);
  g_free (w->scheds);
  g_hash_table_unref (w->pending_views); /* a run may end with view changes in flight */
  g_free (w->dist);
  g_free (w->held);
  g_free (w);
}

MbNet *
mb_world_net (MbWorld *w)
{
  return w->net;
}

MbSched *
mb_world_sched (MbWorld *w)
{
  return w->gsched;
}

MbSched *
mb_world_sched_of (MbWorld *w, MbNodeId node)
{
  return mbi_world_sched_of (w, node);
}

guint
mb_world_n_ranks (const MbWorld *w)
{
  return w->n_ranks;
}

const MbManifest *
mb_world_file (MbWorld *w)
{
  return w->file;
}

void
mb_world_on_complete (MbWorld *w, MbWorldCompleteFn fn, gpointer data)
{
  w->on_complete = fn;
  w->on_complete_data = data;
}

/* ---- ring views ---- */

typedef struct {
  MbWorld *w;
  MbNodeId node;
  MbRing *view;
  gboolean repair;
} ViewUpdate;

static void
view_update_free (gpointer data)
{
  ViewUpdate *u = data;
  mb_ring_unref (u->view);
  g_free (u);
}

static void
on_view_update (MbSched *s, gpointer a, guint64 b)
{
  ViewUpdate *u = a;
  MbSimNode *n = node_of (u->w, u->node);
  if (n && n->online && n->rp)
    {
      mb_ringpeer_set_view (n->rp, u->view, u->repair, mb_sched_now (s));
      after_call (u->w, n);
    }
  g_hash_table_remove (u->w->pending_views, u); /* frees u */
}

/* A new membership: every online ring peer but `except` learns it after
 * view_delay (or its latency from the tracker). */
static void
publish_view (MbWorld *w, MbRing *view, gboolean repair, MbNodeId except)
{
  mb_ring_unref (w->ring);
  w->ring = mb_ring_ref (view);
  guint64 now = mb_sched_now (w->gsched);
  for (guint i = 0; i < w->nodes->len; i++)
    {
      MbSimNode *n = w->nodes->pdata[i];
      if (!n->online || !n->rp || n->id == except)
        continue;
      ViewUpdate *u = g_new0 (ViewUpdate, 1);
      u->w = w;
      u->node = n->id;
      u->view = mb_ring_ref (view);
      u->repair = repair;
      guint64 delay = w->cfg.view_delay_us == G_MAXUINT64 ? mb_net_latency (w->net, 0, n->id)
                                                          : w->cfg.view_delay_us;
      g_hash_table_add (w->pending_views, u);
      mbi_world_post (w, n->id, now + delay, on_view_update, u, 0);
    }
}

MbRing *
mb_world_ring (MbWorld *w)
{
  return w->ring;
}

guint
mb_world_ring_busy (const MbWorld *w)
{
  return w->ring_busy;
}

guint
mb_world_views_pending (const MbWorld *w)
{
  return g_hash_table_size (w->pending_views);
}

void
mb_world_ring_busy_add (MbWorld *w, gint delta)
{
  w->ring_busy = (guint) ((gint) w->ring_busy + delta);
}

void
mb_world_on_handoff (MbWorld *w, MbWorldHandoffFn fn, gpointer data)
{
  w->on_handoff = fn;
  w->on_handoff_data = data;
}

/* The initial pieces of node `id`, from a generator of its own. */
static void
seed_store (MbWorld *w, MbNodeId id, MbStore *store, gdouble share)
{
  if (!w->file)
    return;
  guint n = mb_manifest_n_chunks (w->file);
  guint k = share >= 1.0 ? n : (guint) (share * n + 0.5);
  if (k == 0)
    return;
  /* k distinct pieces by a partial Fisher–Yates shuffle. */
  g_autoptr (GRand) rand = rand_for (w->cfg.seed ^ G_GUINT64_CONSTANT (0x5345454453544f52), id);
  guint *order = g_new (guint, n);
  for (guint i = 0; i < n; i++)
    order[i] = i;
  for (guint i = 0; i < k; i++)
    {
      guint j = i + (k < n ? (guint) g_rand_int_range (rand, 0, (gint32) (n - i)) : 0);
      guint t = order[i];
      order[i] = order[j];
      order[j] = t;
      mb_store_put_chunk (store, mb_manifest_chunk_id (w->file, order[i]), NULL,
                          mb_manifest_chunk_len (w->file, order[i]), NULL);
    }
  g_free (order);
}

static void
node_unchokes (gpointer data, const char *key, MbNodeId remote, const MbUnchokeTally *t)
{
  MbSimNode *n = data;
  mbi_world_report_unchokes (n->world, n, remote, key, t);
}

void
mb_world_on_unchoke (MbWorld *w, MbWorldUnchokeFn fn, gpointer data)
{
  w->on_unchoke = fn;
  w->on_unchoke_data = data;
}

void
mb_world_flush_unchokes (MbWorld *w)
{
  guint64 now = mb_sched_now (w->gsched);
  for (guint i = 0; i < w->nodes->len; i++)
    {
      MbSimNode *n = w->nodes->pdata[i];
      if (n->online && n->peer) /* with a dist, this process's peers */
        mb_peer_flush_unchokes (n->peer, now);
    }
}

MbSimNode *
mb_world_join (MbWorld *w, guint cls, MbStrategy strategy, guint64 upload_bps,
               guint64 download_bps, guint region, gdouble initial_share,
               gboolean ring_client)
{
  guint64 now = mb_sched_now (w->gsched);
  gsize size = (sizeof (MbSimNode) + 63) / 64 * 64;
  MbSimNode *n = aligned_alloc (64, size);
  g_assert (n != NULL);
  memset (n, 0, size);
  n->id = mb_net_add_node (w->net, upload_bps, download_bps, region);
  g_assert (n->id == w->nodes->len + 1);
  g_ptr_array_add (w->nodes, n);
  mb_sched_reserve_nodes (w->gsched, n->id + 1);
  if (w->cover_seen)
    g_ptr_array_add (w->cover_seen, NULL);
  n->cls = cls;
  n->world = w;
  n->upload_bps = upload_bps;
  n->download_bps = download_bps;
  n->joined_us = now;
  n->left_us = MB_TIME_NEVER;
  n->completed_us = MB_TIME_NEVER;
  n->online = TRUE;
  n->timer_at = MB_TIME_NEVER;
  n->present_at_start = now == 0;
  n->initial_seed = w->file && initial_share >= 1.0;
  n->addr = node_addr (w, n->id);
  guint64 begun = mbi_world_op_begin (w);
  if (!mbi_world_local (w, n->id))
    {
      /* another process runs it: a record of it here */
      mbi_world_op_end (w, n, begun);
      return n;
    }
  n->store = mb_store_memory_new_with_catalog (w->catalog);
  seed_store (w, n->id, n->store, initial_share);
  MbPeerConfig pcfg = w->cfg.peer;
  pcfg.strategy = strategy;
  pcfg.virtual_content = TRUE;
  g_autofree gchar *name = g_strdup_printf ("peer%u", n->id);
  n->cover_stamp = G_MAXUINT32; /* cover_update looks at its first call */
  n->peer = mb_peer_new (&w->host, n->id, name, n->addr, 0, &pcfg, n->store,
                         rand_for (w->cfg.seed, n->id));
  mb_peer_set_unchoke_observer (n->peer, node_unchokes, n);
  g_atomic_int_inc (&w->n_online);
  if (w->file)
    {
      g_atomic_int_inc (&w->n_incomplete);
      mb_peer_add_swarm (n->peer, w->file, now);
    }
  if (w->cfg.ring)
    {
      /* A client takes the ring as it is; a member joins it. */
      n->ring_client = ring_client;
      g_autoptr (MbRing) view = ring_client ? mb_ring_ref (w->ring)
                                            : mb_ring_with_member (w->ring, n->addr);
      MbRingPeerConfig rcfg = w->cfg.ring_cfg;
      rcfg.virtual_content = TRUE;
      n->rp = mb_ringpeer_new (&w->host, n->id, n->addr, &rcfg, n->store, view,
                               rand_for (w->cfg.seed ^ 0x52494e47u, n->id));
      if (w->cfg.ring_swarm)
        mb_ringpeer_set_swarm (n->rp, n->peer);
      if (!ring_client)
        publish_view (w, view, FALSE, n->id);
    }
  after_call (w, n);
  mbi_world_op_end (w, n, begun);
  return n;
}

void
mbi_world_notify_crash (MbSched *s, gpointer a, guint64 b)
{
  MbWorld *w = a;
  guint32 crashed = (guint32) (b >> 32), remote = (guint32) b;
  MbSimNode *r = node_of (w, remote);
  if (r && r->online)
    {
      mb_peer_on_disconnect (r->peer, crashed, mb_sched_now (s));
      after_call (w, r);
    }
}

static void finish_leave (MbWorld *w, MbSimNode *n, MbLeaveKind kind);
static void world_leave (MbWorld *w, MbSimNode *n, MbLeaveKind kind);

static void
on_handoff_done (MbRingPeer *rp, const MbShutdownReport *r, gpointer data)
{
  MbSimNode *n = data;
  MbWorld *w = n->world;
  n->handoff = *r;
  w->ring_busy--;
  finish_leave (w, n, MB_LEAVE_GRACEFUL);
  if (w->on_handoff)
    w->on_handoff (w, n, w->on_handoff_data);
}

static void
on_crash_detected (MbSched *s, gpointer a, guint64 b)
{
  MbWorld *w = a;
  MbSimNode *n = node_of (w, (MbNodeId) b);
  if (!mb_ring_contains (w->ring, n->addr))
    return;
  g_autoptr (MbRing) view = mb_ring_without_member (w->ring, n->addr);
  publish_view (w, view, TRUE, n->id);
}

void
mb_world_leave (MbWorld *w, MbSimNode *n, MbLeaveKind kind)
{
  if (!n->online || n->shutting_down)
    return;
  guint64 begun = mbi_world_op_begin (w);
  if (!mbi_world_local (w, n->id))
    {
      /* a global event's pick: its process makes it leave; here it is gone */
      n->online = FALSE;
      n->leave = kind;
      n->left_us = mb_sched_now (w->gsched);
      mbi_world_op_end (w, n, begun);
      return;
    }
  world_leave (w, n, kind);
  mbi_world_op_end (w, n, begun);
}

static void
world_leave (MbWorld *w, MbSimNode *n, MbLeaveKind kind)
{
  if (kind == MB_LEAVE_GRACEFUL && n->rp && !n->ring_client)
    {
      /* Hand the keys over first; the peer keeps serving meanwhile. */
      guint64 held = 0;
      guint members = 0;
      for (guint i = 0; i < w->nodes->len; i++)
        {
          MbSimNode *o = w->nodes->pdata[i];
          if (o->online && o->rp && !o->ring_client)
            {
              held += o->store->chunk_bytes;
              members++;
            }
        }
      n->handoff_expected = members ? held / members : 0;
      n->shutting_down = TRUE;
      w->ring_busy++;
      mb_ringpeer_shutdown (n->rp, now_of (w, n->id), on_handoff_done, n);
      after_call (w, n);
      return;
    }
  finish_leave (w, n, kind);
  if (kind == MB_LEAVE_CRASH && n->rp)
    mb_sched_at_node (w->gsched, now_of (w, n->id) + w->cfg.crash_detect_us, MB_SCHED_GLOBAL,
                      on_crash_detected, w, n->id);
}

static void
finish_leave (MbWorld *w, MbSimNode *n, MbLeaveKind kind)
{
  MbSched *s = mbi_world_sched_of (w, n->id);
  guint64 now = mb_sched_now (s);
  if (w->file)
    mb_peer_stats (n->peer, mb_manifest_name (w->file), &n->final);
  cover_leave (w, n);
  if (n->completed_us == MB_TIME_NEVER && w->file)
    g_atomic_int_add (&w->n_incomplete, -1);
  if (n->leave_event != MB_EVENT_NONE)
    mb_sched_cancel (s, n->leave_event);
  n->leave_event = MB_EVENT_NONE;
  if (n->drain != MB_EVENT_NONE)
    mb_sched_cancel (s, n->drain);
  n->drain = MB_EVENT_NONE;
  /* its unchokes end now (a crashed peer is never called again) */
  mb_peer_flush_unchokes (n->peer, now);
  if (kind == MB_LEAVE_GRACEFUL)
    mb_peer_leave (n->peer, now);
  else
    {
      GArray *scratch = mbi_world_here (w)->scratch;
      g_array_set_size (scratch, 0);
      mb_peer_connected_nodes (n->peer, scratch);
      for (guint i = 0; i < scratch->len; i++)
        {
          MbNodeId r = g_array_index (scratch, MbNodeId, i);
          mbi_world_post (w, r, now + w->cfg.crash_detect_us, mbi_world_notify_crash, w,
                          ((guint64) n->id << 32) | r);
        }
      mb_net_set_node_up (w->net, n->id, FALSE);
    }
  n->online = FALSE;
  n->leave = kind;
  n->left_us = now;
  g_atomic_int_add (&w->n_online, -1);
  if (G_UNLIKELY (w->dist))
    mbi_world_dist_depart (w, n, kind);
  node_update_timer (w, n);
  if (kind == MB_LEAVE_GRACEFUL && n->rp && mb_ring_contains (w->ring, n->addr))
    {
      g_autoptr (MbRing) view = mb_ring_without_member (w->ring, n->addr);
      publish_view (w, view, FALSE, n->id);
    }
}

guint
mb_world_n_nodes (const MbWorld *w)
{
  return w->nodes->len;
}

MbSimNode *
mb_world_node (MbWorld *w, guint i)
{
  mbi_world_touch (w, i + 1);
  return w->nodes->pdata[i];
}

guint
mb_world_n_online (const MbWorld *w)
{
  return (guint) g_atomic_int_get (&w->n_online);
}

guint
mb_world_n_incomplete (const MbWorld *w)
{
  return (guint) g_atomic_int_get (&w->n_incomplete);
}

guint
mb_world_n_completed (const MbWorld *w)
{
  return (guint) g_atomic_int_get (&w->n_completed);
}

void
mb_world_node_held (MbWorld *w, const MbSimNode *n, guint *chunks, guint *manifests)
{
  *chunks = *manifests = 0;
  if (n->store)
    {
      *chunks = n->store->n_chunks;
      *manifests = n->store->n_manifests;
    }
  else if (n->id <= w->n_held)
    {
      *chunks = w->held[2 * (n->id - 1)];
      *manifests = w->held[2 * (n->id - 1) + 1];
    }
}

void
mb_world_node_stats (MbWorld *w, const MbSimNode *n, MbPeerStats *out)
{
  if (n->online && w->file && n->peer) /* (another process's: its figures, world-dist.c) */
    mb_peer_stats (n->peer, mb_manifest_name (w->file), out);
  else
    *out = n->final;
}

guint64
mb_world_messages (const MbWorld *w)
{
  guint64 sum = 0;
  for (guint r = 0; r < w->n_ranks; r++)
    sum += w->ranks[r].messages;
  return sum;
}
