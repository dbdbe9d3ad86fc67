/* peer.c — a swarm peer's lifecycle: swarms, connections (dialing,
 * replacing the useless ones), the tracker, PEX rounds and timers.  Message
 * handling is in peer-wire.c, pieces and requests in peer-pieces.c, uploads
 * in peer-upload.c, choking in peer-choke.c, super-seeding in
 * peer-superseed.c; the shared state is in peer-private.h.
 *
 * Timers: one rechoke clock for all swarms (every rechoke_interval_us; every
 * optimistic_rounds-th round rotates the optimistic unchoke, every
 * pex_interval sends PEX), plus per swarm the tracker re-announce and, while
 * the swarm wants peers (mbi_swarm_wants_peers), a peer-list request every
 * tracker_retry_us (tracker_ramp_us while below target_conns and answers
 * bring new peers), backing off (doubling, up to the announce interval)
 * while answers bring no one new.  next_expiry is the earliest of those.
 */
#define MB_SWARM_PEER_INTERNAL
#include "swarm/peer-private.h"

#include "ring/ring.h"

#include <stdlib.h>
#include <string.h>

#define PENDING_TIMEOUT_US (30 * MB_USEC_PER_SEC)

/* On 64-bit hosts a Conn's hot fields fill exactly its first cache line. */
G_STATIC_ASSERT (sizeof (gpointer) != 8 || G_STRUCT_OFFSET (Conn, down_prev) == 64);

void
mb_peer_config_init (MbPeerConfig *cfg)
{
  memset (cfg, 0, sizeof *cfg);
  cfg->strategy = MB_STRATEGY_TFT;
  cfg->block_size = 16 * 1024;
  cfg->pipeline = 5;
  cfg->pipeline_max = 250;
  cfg->request_queue_us = 3 * MB_USEC_PER_SEC;
  cfg->regular_slots = 3;
  cfg->rechoke_interval_us = 10 * MB_USEC_PER_SEC;
  cfg->optimistic_rounds = 3;
  cfg->snub_timeout_us = 60 * MB_USEC_PER_SEC;
  cfg->request_timeout_us = 20 * MB_USEC_PER_SEC;
  cfg->seed_choke = MB_SEED_CHOKE_ROUND_ROBIN;
  cfg->seed_piece_quota = 20;
  cfg->max_extra_slots = 8;
  /* off: at 1 s it brings the download-limited Kumar–Ross swarm from 1.259
   * to 1.146 but costs the leave-on-completion crowd's upload utilisation
   * (0.865 -> 0.807) and the seed-limited swarm (1.048 -> 1.067) */
  cfg->slot_check_us = 0;
  cfg->spare_round_robin = FALSE;
  cfg->random_first = 4;
  cfg->target_conns = 20;
  cfg->max_conns = 40;
  cfg->announce_interval_us = 300 * MB_USEC_PER_SEC;
  cfg->seed_preempt = TRUE;
  cfg->super_seeding_spread = TRUE;
  cfg->tracker_retry_us = 15 * MB_USEC_PER_SEC;
  cfg->tracker_ramp_us = 2 * MB_USEC_PER_SEC;
  cfg->max_request = 128 * 1024;
  cfg->send_watermark = 128 * 1024;
  cfg->send_watermark_low = 16 * 1024;
  cfg->send_buffer_us = 500 * 1000;
  cfg->max_queued_requests = 500;
  cfg->endgame = TRUE;
  cfg->super_seeding = FALSE;
  /* off: in the simulator PEX costs about 10% of a flash crowd's
   * instructions; scenarios whose peers leave on completion want it on */
  cfg->pex_interval_us = 0;
  cfg->pex_max = 50;
  cfg->max_served_swarms = 32;
  cfg->swarm_idle_us = 60 * MB_USEC_PER_SEC;
  cfg->tyrant_gamma_pm = 100;
  cfg->tyrant_delta_pm = 200;
  cfg->tyrant_rounds = 3;
  cfg->propshare_optimistic_pm = 200;
  cfg->virtual_content = FALSE;
  cfg->accept_initial_blocks = TRUE;
}

MbPeer *
mb_peer_new (const MbHost *host, MbNodeId self, const char *name, const char *addr,
             MbNodeId tracker, const MbPeerConfig *cfg, MbStore *store, GRand *rand)
{
  /* cache-line aligned: the hot fields come first (see peer-private.h) */
  gsize size = (sizeof (MbPeer) + 63) / 64 * 64;
  MbPeer *p = aligned_alloc (64, size);
  g_assert (p != NULL);
  memset (p, 0, size);
  p->host = host;
  p->self = self;
  p->name = g_strdup (name);
  p->addr = g_strdup (addr);
  p->tracker = tracker;
  p->cfg = *cfg;
  if (p->cfg.pipeline == 0)
    p->cfg.pipeline = 1;
  if (p->cfg.optimistic_rounds == 0)
    p->cfg.optimistic_rounds = 1;
  p->store = store;
  p->rand = rand;
  p->swarms = g_ptr_array_new ();
  p->next_rechoke = MB_TIME_NEVER;
  p->next_slot_check = MB_TIME_NEVER;
  p->next_stall_check = MB_TIME_NEVER;
  p->next_req = 1;
  mbi_upload_set_limit (p, 0);
  return p;
}

static void
conn_free (Conn *c)
{
  g_free (c->name);
  g_free (c->addr);
  g_free (c->upq.v);
  g_free (c->st);
  g_free (c->tally);
  if (c->ss_seen)
    mb_bitfield_free (c->ss_seen);
  if (c->remote)
    mb_bitfield_free (c->remote);
  mbi_block_refs_clear (&c->out_reqs);
  mbi_block_refs_clear (&c->cancelled);
  free (c);
}

static void
swarm_free (Swarm *sw)
{
  for (guint i = 0; i < sw->n_conns; i++)
    conn_free (sw->conns[i]);
  g_free (sw->conns);
  g_free (sw->conn_nodes);
  mbi_swarm_partials_free (sw);
  mb_buffer_pool_unref (sw->pool); /* buffers still out (a store's writer) keep it */
  g_free (sw->partials);
  g_free (sw->unrequested);
  g_free (sw->missing);
  g_free (sw->availability);
  g_free (sw->ss_shown);
  g_free (sw->up_active);
  mb_bitfield_free (sw->have);
  mb_bitfield_free (sw->started);
  if (sw->lost)
    mb_bitfield_free (sw->lost);
  g_free (sw->store_error);
  mb_manifest_unref (sw->manifest);
  if (sw->hellos)
    g_hash_table_unref (sw->hellos);
  g_free (sw->file);
  free (sw);
}

void
mb_peer_free (MbPeer *p)
{
  if (!p)
    return;
  for (guint i = 0; i < p->swarms->len; i++)
    swarm_free (p->swarms->pdata[i]);
  g_ptr_array_unref (p->swarms);
  mbi_upload_cache_clear (p);
  g_rand_free (p->rand);
  g_free (p->name);
  g_free (p->addr);
  free (p);
}

const char *
mb_peer_name (const MbPeer *p)
{
  return p->name;
}

MbNodeId
mb_peer_node (const MbPeer *p)
{
  return p->self;
}

Swarm *
mbi_peer_swarm_by_id (MbPeer *p, guint32 id)
{
  if (G_LIKELY (p->swarm0 != NULL && p->swarm0->id == id))
    return p->swarm0;
  for (guint i = 0; i < p->swarms->len; i++)
    {
      Swarm *sw = p->swarms->pdata[i];
      if (sw->id == id)
        return sw;
    }
  return NULL;
}

Swarm *
mbi_peer_swarm_by_file (const MbPeer *p, const char *file)
{
  for (guint i = 0; i < p->swarms->len; i++)
    {
      Swarm *sw = p->swarms->pdata[i];
      if (g_strcmp0 (sw->file, file) == 0)
        return sw;
    }
  return NULL;
}

void
mbi_peer_send (MbPeer *p, MbNodeId to, MbMessage *msg)
{
  mb_host_send (p->host, p->self, to, msg);
}

MbMessage *
mbi_swarm_msg (Swarm *sw, MbMsgType type)
{
  MbMessage *m = mb_message_new (type);
  m->swarm = sw->id;
  return m;
}

/* ---- connections ---- */

/* A message's connection is looked up several times (by the simulator's
 * prefetch hints at several depths, then by its handler), so where it was
 * found last is tried first. */
Conn *
mbi_swarm_conn (Swarm *sw, MbNodeId node)
{
  const MbNodeId *nodes = sw->conn_nodes;
  guint n = sw->n_conns, h = sw->conn_hint;
  if (h < n && nodes[h] == node)
    return sw->conns[h];
  for (guint i = 0; i < n; i++)
    if (nodes[i] == node)
      {
        sw->conn_hint = i;
        return sw->conns[i];
      }
  return NULL;
}

Conn *
mbi_swarm_conn_add (Swarm *sw, MbNodeId node, const char *name, gboolean outgoing, guint64 now)
{
  /* 64-byte aligned: the hot fields are exactly the first cache line */
  gsize size = (sizeof (Conn) + 63) / 64 * 64;
  Conn *c = aligned_alloc (64, size);
  g_assert (c != NULL);
  memset (c, 0, size);
  c->node = node;
  c->name = g_strdup (name ? name : "");
  c->sw = sw;
  c->outgoing = outgoing;
  c->am_choking = TRUE;
  c->peer_choking = TRUE;
  c->connected_at = now;
  c->last_block_at = now;
  c->ss_piece = -1;
  if (mbi_peer_weighted_strategy (sw->peer))
    c->st = g_new0 (ConnStrat, 1);
  c->tally_at = now;
  if (sw->n_conns == sw->cap_conns)
    {
      sw->cap_conns = sw->cap_conns ? 2 * sw->cap_conns : 16;
      sw->conns = g_renew (Conn *, sw->conns, sw->cap_conns);
      sw->conn_nodes = g_renew (MbNodeId, sw->conn_nodes, sw->cap_conns);
    }
  sw->conns[sw->n_conns] = c;
  sw->conn_nodes[sw->n_conns] = node;
  sw->n_conns++;
  return c;
}

void
mbi_conn_set_interest (Swarm *sw, Conn *c, gboolean am, gboolean peer)
{
  am = !!am;
  peer = !!peer;
  sw->n_am_interested += (guint) am - c->am_interested;
  sw->n_peer_interested += (guint) peer - c->peer_interested;
  c->am_interested = am;
  if (peer != c->peer_interested)
    {
      c->peer_interested = peer;
      mbi_unchokes_update (sw, c, sw->peer->now);
    }
}

void
mbi_swarm_conn_remove (Swarm *sw, Conn *c)
{
  mbi_unchokes_report (sw, c, sw->peer->now);
  mbi_stall_forget (sw, c);
  mbi_conn_set_interest (sw, c, FALSE, FALSE);
  mbi_swarm_release_requests (sw, c, FALSE);
  mbi_upload_clear (sw, c);
  mbi_superseed_on_cut (sw, c, TRUE);
  if (c->remote && c->got_bitfield)
    mbi_swarm_avail_remove_bitfield (sw, c->remote);
  if (sw->optimistic_node == c->node)
    sw->optimistic_node = MB_NODE_NONE;
  guint i = 0;
  while (sw->conns[i] != c)
    i++;
  sw->n_conns--;
  memmove (sw->conns + i, sw->conns + i + 1, (sw->n_conns - i) * sizeof (Conn *));
  memmove (sw->conn_nodes + i, sw->conn_nodes + i + 1, (sw->n_conns - i) * sizeof (MbNodeId));
  /* A ring holder serves the node's GET_CHUNK again (peer-ring.c): with its
   * connection gone it cannot get the pieces from us in the swarm. */
  if (!mbi_swarm_conn (sw, c->node))
    mbi_ring_forget_hello (sw, c->node);
  conn_free (c);
}

void
mbi_swarm_conn_end (Swarm *sw, Conn *c)
{
  MbPeer *p = sw->peer;
  if (!p->host->disconnect)
    mbi_wire_send_handshake (sw, c->node, MB_HANDSHAKE_GOODBYE);
  mbi_swarm_conn_remove (sw, c);
}

/* ---- availability: its only writers ---- */

void
mbi_swarm_avail_add_piece (Swarm *sw, guint piece)
{
  MB_SWARM_ASSERT (piece < sw->n_pieces);
  MB_SWARM_ASSERT (sw->availability[piece] < G_MAXUINT16);
  sw->availability[piece]++;
}

void
mbi_swarm_avail_add_bitfield (Swarm *sw, const MbBitfield *bf)
{
  MB_SWARM_ASSERT (mb_bitfield_size (bf) == sw->n_pieces);
  guint16 *avail = sw->availability;
  for (guint i = 0; i < sw->n_pieces; i++)
    if (mb_bitfield_test (bf, i))
      {
        MB_SWARM_ASSERT (avail[i] < G_MAXUINT16);
        avail[i]++;
      }
}

void
mbi_swarm_avail_remove_bitfield (Swarm *sw, const MbBitfield *bf)
{
  MB_SWARM_ASSERT (mb_bitfield_size (bf) == sw->n_pieces);
  guint16 *avail = sw->availability;
  for (guint i = 0; i < sw->n_pieces; i++)
    if (mb_bitfield_test (bf, i))
      {
        MB_SWARM_ASSERT (avail[i] > 0);
        avail[i]--;
      }
}

void
mbi_swarm_mark_complete (Swarm *sw, guint64 now)
{
  if (sw->stats.completed_at == MB_TIME_NEVER)
    sw->peer->n_completed++;
  sw->stats.completed_at = now;
  mbi_unchokes_update_all (sw, now); /* its unchokes are a seed's from now on */
}

void
mbi_swarm_prefetch_conns (const Swarm *sw)
{
  for (guint i = 0; i < sw->n_conns; i++)
    MB_PREFETCH (sw->conns[i]);
}

guint
mbi_swarm_n_established (const Swarm *sw)
{
  guint n = 0;
  for (guint i = 0; i < sw->n_conns; i++)
    n += ((Conn *) sw->conns[i])->established;
  return n;
}

void
mbi_peer_drop_node (MbPeer *p, MbNodeId node, const char *why)
{
  gboolean had = FALSE;
  for (guint i = 0; i < p->swarms->len; i++)
    {
      Swarm *sw = p->swarms->pdata[i];
      Conn *c = mbi_swarm_conn (sw, node);
      if (c)
        {
          mbi_swarm_conn_end (sw, c);
          sw->stats.dropped_conns++;
          had = TRUE;
        }
    }
  if (why)
    g_debug ("peer %s: dropping node %u: %s", p->name, node, why);
  if (p->host->disconnect && (had || why))
    p->host->disconnect (p->host->ctx, p->self, node);
}

void
mb_peer_on_disconnect (MbPeer *p, MbNodeId from, guint64 now)
{
  p->now = now;
  for (guint i = 0; i < p->swarms->len; i++)
    {
      Swarm *sw = p->swarms->pdata[i];
      Conn *c = mbi_swarm_conn (sw, from);
      if (c)
        {
          mbi_swarm_conn_remove (sw, c);
          /* The freed capacity may let someone else be served or asked. */
          mbi_swarm_fill_slots (sw, now);
          for (guint k = 0; k < sw->n_conns; k++)
            mbi_swarm_fill_requests (sw, sw->conns[k], now);
        }
    }
}

void
mb_peer_prefetch (const MbPeer *p, MbNodeId from, const MbMessage *msg, guint depth)
{
  Swarm *sw = p->swarm0;
  if (sw == NULL || p->left)
    return;
  const char *line = (const char *) sw;
  switch (depth)
    {
    case 0:
      MB_PREFETCH (line);
      MB_PREFETCH (line + 64);
      return;
    case 1:
      /* every line of both arrays: the next depth searches the first and
       * reads the second where the connection is, anywhere */
      for (guint i = 0; i < sw->n_conns; i += 16)
        MB_PREFETCH (sw->conn_nodes + i);
      for (guint i = 0; i < sw->n_conns; i += 8)
        MB_PREFETCH (sw->conns + i);
      MB_PREFETCH (sw->have);
      return;
    default:
      break;
    }
  Conn *c = mbi_swarm_conn (sw, from);
  if (c == NULL)
    return;
  line = (const char *) c;
  if (depth == 2)
    {
      MB_PREFETCH (line);
      MB_PREFETCH (line + 64);
      return;
    }
  if (depth == 3)
    {
      MB_PREFETCH (c->remote);
      MB_PREFETCH (c->out_reqs.v);
      if (msg->piece < sw->n_pieces)
        {
          if (msg->type == MB_MSG_HAVE)
            MB_PREFETCH (&sw->availability[msg->piece]);
          else if (msg->type == MB_MSG_PIECE)
            MB_PREFETCH (&sw->partials[msg->piece]);
        }
      return;
    }
  if (msg->type == MB_MSG_PIECE && msg->piece < sw->n_pieces && sw->partials[msg->piece])
    MB_PREFETCH (sw->partials[msg->piece]);
  else if (msg->type == MB_MSG_REQUEST && c->upq.v)
    MB_PREFETCH (c->upq.v + c->upq.len);
}

/* ---- swarms and the tracker ---- */

void
mbi_swarm_register (Swarm *sw, guint64 now)
{
  MbPeer *p = sw->peer;
  if (!sw->use_tracker)
    return;
  MbMessage *m = mb_message_new (MB_MSG_REGISTER);
  m->req = p->next_req++;
  m->file = g_strdup (sw->file);
  m->name = g_strdup (p->name);
  m->addr = g_strdup (p->addr);
  m->count = sw->n_pieces;
  mbi_peer_send (p, p->tracker, m);
  sw->next_announce = now + p->cfg.announce_interval_us;
  sw->last_tracker_ask = now;
}

static void
swarm_ask_peers (Swarm *sw, guint64 now)
{
  MbPeer *p = sw->peer;
  MbMessage *m = mb_message_new (MB_MSG_GET_PEERS);
  m->req = p->next_req++;
  m->file = g_strdup (sw->file);
  m->name = g_strdup (p->name);
  mbi_peer_send (p, p->tracker, m);
  sw->last_tracker_ask = now;
}

Swarm *
mbi_peer_swarm_create (MbPeer *p, const MbManifest *m, const char *file, guint64 now)
{
  p->now = now;
  if (p->swarms->len == 0)
    mbi_upload_set_limit (p, 0); /* the host may know its uplink by now */
  gsize size = (sizeof (Swarm) + 63) / 64 * 64;
  Swarm *sw = aligned_alloc (64, size);
  g_assert (sw != NULL);
  memset (sw, 0, size);
  sw->peer = p;
  sw->manifest = mb_manifest_share (m);
  sw->file = g_strdup (file);
  sw->id = (guint32) mb_ring_hash_str (file);
  sw->n_pieces = mb_manifest_n_chunks (m);
  sw->piece_size = mb_manifest_chunk_size (m);
  sw->have = mb_bitfield_new (sw->n_pieces);
  sw->started = mb_bitfield_new (sw->n_pieces);
  sw->partials = g_new0 (Partial *, sw->n_pieces);
  sw->unrequested = g_new0 (guint16, sw->n_pieces);
  sw->missing = g_new0 (guint16, sw->n_pieces);
  sw->availability = g_new0 (guint16, sw->n_pieces);
  sw->optimistic = -1;
  sw->optimistic_node = MB_NODE_NONE;
  sw->tracker_retry = p->cfg.tracker_retry_us;
  sw->use_tracker = p->tracker != MB_NODE_NONE;
  sw->next_announce = MB_TIME_NEVER;
  sw->idle_since = MB_TIME_NEVER;
  sw->stats.completed_at = MB_TIME_NEVER;
  sw->stats.joined_at = now;
  sw->stats.n_pieces = sw->n_pieces;
  for (guint i = 0; i < sw->n_pieces; i++)
    if (mb_store_has_chunk (p->store, mb_manifest_chunk_id (m, i)))
      mb_bitfield_set (sw->have, i);
  p->have_stamp++;
  sw->stats.pieces = mb_bitfield_count (sw->have);
  if (mb_bitfield_is_complete (sw->have))
    mbi_swarm_mark_complete (sw, now);
  g_ptr_array_add (p->swarms, sw);
  p->swarm0 = p->swarms->pdata[0];
  p->n_swarms = p->swarms->len;
  if (p->next_rechoke == MB_TIME_NEVER)
    p->next_rechoke = now + p->cfg.rechoke_interval_us;
  if (p->next_slot_check == MB_TIME_NEVER && p->cfg.slot_check_us > 0)
    {
      p->next_slot_check = now + p->cfg.slot_check_us;
      p->slot_mark = p->up_handed;
    }
  p->totals.swarms_joined++;
  return sw;
}

void
mbi_swarm_close_conn (Swarm *sw, Conn *c)
{
  MbPeer *p = sw->peer;
  MbNodeId node = c->node;
  mbi_swarm_conn_remove (sw, c);
  gboolean elsewhere = FALSE;
  for (guint k = 0; k < p->swarms->len && !elsewhere; k++)
    elsewhere = p->swarms->pdata[k] != sw && mbi_swarm_conn (p->swarms->pdata[k], node);
  if (elsewhere || !p->host->disconnect)
    /* closed in this swarm only; or the host cannot close the connection
     * (the ring shares it): the remote must hear it from us */
    mbi_wire_send_handshake (sw, node, MB_HANDSHAKE_GOODBYE);
  else
    p->host->disconnect (p->host->ctx, p->self, node);
}

void
mbi_peer_swarm_remove (MbPeer *p, Swarm *sw)
{
  while (sw->n_conns > 0)
    mbi_swarm_close_conn (sw, sw->conns[sw->n_conns - 1]);
  if (sw->stats.completed_at != MB_TIME_NEVER)
    p->n_completed--;
  if (sw->serve_only)
    p->n_serving--;
  g_ptr_array_remove (p->swarms, sw);
  p->totals.swarms_left++;
  p->swarm0 = p->swarms->len > 0 ? p->swarms->pdata[0] : NULL;
  p->n_swarms = p->swarms->len;
  if (p->up_swarm_cursor >= p->swarms->len)
    p->up_swarm_cursor = 0;
  swarm_free (sw);
}

gboolean
mb_peer_add_swarm (MbPeer *p, const MbManifest *m, guint64 now)
{
  const char *file = mb_manifest_name (m);
  if (p->left || mbi_peer_swarm_by_file (p, file))
    return FALSE;
  Swarm *sw = mbi_peer_swarm_create (p, m, file, now);
  mbi_swarm_register (sw, now);
  return TRUE;
}

/* The node to dial for a listed peer, or MB_NODE_NONE (ourselves, not
 * reachable, or already connected in this swarm). */
static MbNodeId
swarm_dial_target (Swarm *sw, const MbPeerInfo *info)
{
  MbPeer *p = sw->peer;
  if (g_strcmp0 (info->name, p->name) == 0 || !info->addr)
    return MB_NODE_NONE;
  MbNodeId node = p->host->resolve (p->host->ctx, p->self, info->addr);
  if (node == MB_NODE_NONE || node == p->self || mbi_swarm_conn (sw, node))
    return MB_NODE_NONE;
  return node;
}

/* Drops an established conn of no use to either side (neither interested),
 * the oldest first, to make room for a new one; FALSE if there is none. */
gboolean
mbi_swarm_make_room (Swarm *sw)
{
  for (guint i = 0; i < sw->n_conns; i++)
    {
      Conn *c = sw->conns[i];
      if (!c->established || c->am_interested || c->peer_interested)
        continue;
      mbi_swarm_close_conn (sw, c);
      return TRUE;
    }
  return FALSE;
}

static void
swarm_take_initial_blocks (Swarm *sw, guint count, guint64 now)
{
  /* MiniBit's tracker-assigned initial blocks: `count` random pieces,
   * generated locally (they verify only for generated content). */
  guint n = MIN (count, sw->n_pieces);
  guint *order = g_new (guint, sw->n_pieces);
  for (guint i = 0; i < sw->n_pieces; i++)
    order[i] = i;
  for (guint i = 0; i < n; i++)
    {
      guint j = i + (guint) g_rand_int_range (sw->peer->rand, 0, (gint32) (sw->n_pieces - i));
      guint t = order[i];
      order[i] = order[j];
      order[j] = t;
      if (!mb_bitfield_test (sw->have, order[i]))
        mbi_swarm_acquire_generated (sw, order[i], now);
    }
  g_free (order);
}

static void
peer_on_peer_list (MbPeer *p, const MbMessage *msg, guint64 now)
{
  Swarm *sw = mbi_peer_swarm_by_file (p, msg->file);
  if (!sw)
    return;
  if (msg->code != MB_ERR_NONE)
    return;
  if (!sw->registered)
    {
      sw->registered = TRUE;
      if (msg->count > 0 && p->cfg.accept_initial_blocks)
        swarm_take_initial_blocks (sw, msg->count, now);
    }
  guint dialed = mbi_swarm_dial_peers (sw, msg->peers, msg->n_peers, now);
  /* While below target_conns and the tracker names new peers (5 a time),
   * ask again after tracker_ramp (a newcomer that waited tracker_retry
   * between lists would spend a small file's whole download with its
   * first 5); back off while it has no one new for us. */
  if (dialed)
    sw->tracker_retry = sw->n_conns < p->cfg.target_conns
                        ? MIN (p->cfg.tracker_ramp_us, p->cfg.tracker_retry_us)
                        : p->cfg.tracker_retry_us;
  else
    sw->tracker_retry = MIN (2 * sw->tracker_retry, p->cfg.announce_interval_us);
}

guint
mbi_swarm_dial_peers (Swarm *sw, const MbPeerInfo *peers, guint n, guint64 now)
{
  /* Dial the listed peers while below target_conns; at or above it, each
   * new one replaces a connection of no use to either side. */
  MbPeer *p = sw->peer;
  guint dialed = 0;
  for (guint i = 0; i < n; i++)
    {
      MbNodeId node = swarm_dial_target (sw, &peers[i]);
      if (node == MB_NODE_NONE)
        continue;
      if (sw->n_conns >= p->cfg.target_conns && !mbi_swarm_make_room (sw))
        break;
      Conn *c = mbi_swarm_conn_add (sw, node, peers[i].name, TRUE, now);
      c->addr = g_strdup (peers[i].addr);
      mbi_wire_send_handshake (sw, node, 0);
      dialed++;
    }
  return dialed;
}

void
mb_peer_leave (MbPeer *p, guint64 now)
{
  if (p->left)
    return;
  p->now = now;
  if (p->tracker != MB_NODE_NONE)
    {
      MbMessage *m = mb_message_new (MB_MSG_LEAVE);
      m->name = g_strdup (p->name);
      m->file = g_strdup ("");
      mbi_peer_send (p, p->tracker, m);
    }
  for (guint i = 0; i < p->swarms->len; i++)
    {
      Swarm *sw = p->swarms->pdata[i];
      mbi_swarm_send_goodbye_pex (sw);
      while (sw->n_conns > 0)
        {
          Conn *c = sw->conns[sw->n_conns - 1];
          MbNodeId node = c->node;
          mbi_swarm_conn_end (sw, c);
          if (p->host->disconnect)
            p->host->disconnect (p->host->ctx, p->self, node);
        }
    }
  p->left = TRUE;
  p->next_rechoke = MB_TIME_NEVER;
  p->next_slot_check = MB_TIME_NEVER;
  p->next_stall_check = MB_TIME_NEVER;
}

void
mb_peer_receive (MbPeer *p, MbNodeId from, const MbMessage *msg, guint64 now)
{
  if (p->left)
    return;
  p->now = now;
  switch (msg->type)
    {
    case MB_MSG_PEER_LIST:
      if (from == p->tracker)
        peer_on_peer_list (p, msg, now);
      break;
    case MB_MSG_ERROR:
      g_debug ("peer %s: error %u from %u: %s", p->name, msg->code, from,
               msg->text ? msg->text : "");
      break;
    default:
      mbi_wire_receive (p, from, msg, now);
      break;
    }
}

static void
swarm_housekeeping (Swarm *sw, guint64 now)
{
  /* Pending outgoing connections that never got an answer are given up. */
  for (guint i = sw->n_conns; i-- > 0;)
    {
      Conn *c = sw->conns[i];
      if (!c->established && now >= c->connected_at + PENDING_TIMEOUT_US)
        mbi_swarm_conn_remove (sw, c);
    }
}

/* ---- timers ---- */

/* Whether to ask for more peers (tracker, or dial PEX peers): a leecher below target_conns,
 * a seed that cannot fill its upload slots, or any peer whose connections
 * are of no use either way (no one interesting, no one interested). */
gboolean
mbi_swarm_wants_peers (const MbPeer *p, const Swarm *sw)
{
  if (sw->serve_only)
    return FALSE;
  if (sw->n_am_interested == 0 && sw->n_peer_interested == 0)
    return TRUE;
  if (mb_bitfield_is_complete (sw->have))
    return sw->n_peer_interested <= p->cfg.regular_slots;
  return sw->n_conns < p->cfg.target_conns;
}

static guint64
swarm_next_expiry (const MbPeer *p, const Swarm *sw)
{
  if (!sw->use_tracker)
    return MB_TIME_NEVER;
  guint64 t = sw->next_announce;
  if (mbi_swarm_wants_peers (p, sw))
    t = MIN (t, sw->last_tracker_ask + sw->tracker_retry);
  return t;
}

guint64
mb_peer_next_expiry (const MbPeer *p)
{
  if (p->left)
    return MB_TIME_NEVER;
  guint64 t = MIN (MIN (p->next_rechoke, p->next_slot_check), p->next_stall_check);
  if (p->n_swarms == 1)
    return MIN (t, swarm_next_expiry (p, p->swarm0));
  for (guint i = 0; i < p->swarms->len; i++)
    t = MIN (t, swarm_next_expiry (p, p->swarms->pdata[i]));
  return t;
}

/* Between rechokes: an uplink of known rate that carried less than 90% of
 * it since the last look, while some swarm has an interested peer choked,
 * gets one more slot now (filled at once) rather than at the next rechoke;
 * the rechoke still takes slots back when the uplink never ran dry. */
static void
slot_check (MbPeer *p, guint64 now)
{
  const MbHost *h = p->host;
  guint64 rate = h->uplink_rate ? h->uplink_rate (h->ctx, p->self) : 0;
  guint64 sent = p->up_handed - p->slot_mark;
  p->slot_mark = p->up_handed;
  p->next_slot_check = now + p->cfg.slot_check_us;
  if (rate == 0 || p->extra_slots >= p->cfg.max_extra_slots
      || sent * 10 >= rate * p->cfg.slot_check_us / MB_USEC_PER_SEC * 9)
    return;
  gboolean opened = FALSE;
  for (guint i = 0; i < p->swarms->len && !opened; i++)
    {
      Swarm *sw = p->swarms->pdata[i];
      for (guint k = 0; k < sw->n_conns && !opened; k++)
        {
          const Conn *c = sw->conns[k];
          if (c->established && c->am_choking && c->peer_interested)
            {
              p->extra_slots++;
              opened = TRUE;
            }
        }
    }
  if (!opened)
    return;
  for (guint i = 0; i < p->swarms->len; i++)
    mbi_swarm_fill_slots (p->swarms->pdata[i], now);
}

/* After a round whose uplink ran dry and carried `sent` bytes, under 95%
 * of its capacity: the slots to open so that, if each new slot carries what
 * a slot carried this round, the uplink is full: slots x (capacity / sent
 * - 1), at least one and at most doubling them.  One a round (the rule
 * until 2026-11-26) took a download-capped swarm most of its download to
 * open the slots its spare upload needed: its peers, capped, each take
 * only part of a slot's share, and the slots went on being too few while
 * the stragglers waited for unchokes. */
static guint
slots_to_fill (const MbPeer *p, guint64 sent)
{
  guint64 slots = p->cfg.regular_slots + p->extra_slots + 1;
  guint64 capacity = mbi_upload_capacity_share (p, 100);
  if (sent == 0 || capacity <= sent)
    return 1;
  guint64 want = (capacity * slots + sent - 1) / sent - slots;
  return (guint) CLAMP (want, 1, slots);
}

void
mb_peer_handle_expiry (MbPeer *p, guint64 now)
{
  if (p->left)
    return;
  p->now = now;
  if (now >= p->next_slot_check && now < p->next_rechoke)
    slot_check (p, now);
  if (now >= p->next_rechoke)
    {
      /* Upload slots follow the uplink: more after a round in which it
       * ran dry and carried under 95% of its capacity (as many as would
       * fill it, see slots_to_fill), one fewer after any other.  The rate
       * tells the two apart where a host's backlog cannot:
       * a real host sees only what the kernel has not taken yet, so its
       * uplink "runs dry" while the kernel's buffers are full. */
      guint64 sent = p->up_handed - p->up_handed_mark;
      mbi_upload_set_limit (p, p->cfg.rechoke_interval_us);
      gboolean idle = p->up_dry > 0 && sent < mbi_upload_capacity_share (p, 95);
      if (idle && p->extra_slots < p->cfg.max_extra_slots)
        p->extra_slots = MIN (p->cfg.max_extra_slots,
                              p->extra_slots + slots_to_fill (p, sent));
      else if (!idle && p->extra_slots > 0)
        p->extra_slots--;
      p->up_dry = 0;
      guint round = p->rechoke_round++;
      gboolean rotate = (round % p->cfg.optimistic_rounds) == 0;
      guint pex_every = p->cfg.pex_interval_us
                        ? (guint) MAX (1, p->cfg.pex_interval_us / p->cfg.rechoke_interval_us)
                        : 0;
      gboolean pex = pex_every && round % pex_every == pex_every - 1;
      for (guint i = 0; i < p->swarms->len; i++)
        {
          Swarm *sw = p->swarms->pdata[i];
          swarm_housekeeping (sw, now);
          mbi_swarm_rechoke (sw, now, rotate);
          if (mbi_superseed_active (sw))
            mbi_superseed_on_rechoke (sw);
          for (guint k = 0; pex && k < sw->n_conns; k++)
            if (sw->conns[k]->established)
              mbi_swarm_send_pex (sw, sw->conns[k], TRUE);
          for (guint k = 0; k < sw->n_conns; k++)
            mbi_swarm_fill_requests (sw, sw->conns[k], now);
        }
      mbi_ring_sweep (p, now);
      p->next_rechoke = p->swarms->len > 0 ? now + p->cfg.rechoke_interval_us : MB_TIME_NEVER;
      p->slot_mark = p->up_handed;
      p->next_slot_check = p->swarms->len > 0 && p->cfg.slot_check_us > 0
                             ? now + p->cfg.slot_check_us : MB_TIME_NEVER;
      mbi_stall_check (p, now);
    }
  else if (now >= p->next_stall_check)
    mbi_stall_check (p, now);
  for (guint i = 0; i < p->swarms->len; i++)
    {
      Swarm *sw = p->swarms->pdata[i];
      if (now >= sw->next_announce)
        mbi_swarm_register (sw, now);
      else if (now >= swarm_next_expiry (p, sw))
        swarm_ask_peers (sw, now);
    }
}

/* ---- introspection ---- */

gboolean
mb_peer_stats (const MbPeer *p, const char *file, MbPeerStats *out)
{
  Swarm *sw = mbi_peer_swarm_by_file (p, file);
  if (!sw)
    return FALSE;
  *out = sw->stats;
  out->pieces = mb_bitfield_count (sw->have);
  out->n_conns = mbi_swarm_n_established (sw);
  out->endgame = sw->n_started > 0 && sw->total_unrequested == 0
                 && mb_bitfield_count (sw->have) + sw->n_started == sw->n_pieces;
  return TRUE;
}

gboolean
mb_peer_is_unchoking (const MbPeer *p, const char *file, MbNodeId remote)
{
  Swarm *sw = mbi_peer_swarm_by_file (p, file);
  Conn *c = sw ? mbi_swarm_conn (sw, remote) : NULL;
  return c && !c->am_choking;
}

gboolean
mb_peer_is_optimistic (const MbPeer *p, const char *file, MbNodeId remote)
{
  Swarm *sw = mbi_peer_swarm_by_file (p, file);
  return sw && sw->optimistic_node == remote && remote != MB_NODE_NONE;
}

gboolean
mb_peer_is_connected (const MbPeer *p, const char *file, MbNodeId remote)
{
  Swarm *sw = mbi_peer_swarm_by_file (p, file);
  Conn *c = sw ? mbi_swarm_conn (sw, remote) : NULL;
  return c && c->established;
}

void
mb_peer_connected_nodes (const MbPeer *p, GArray *out)
{
  guint start = out->len;
  for (guint i = 0; i < p->swarms->len; i++)
    {
      Swarm *sw = p->swarms->pdata[i];
      for (guint k = 0; k < sw->n_conns; k++)
        {
          MbNodeId node = ((Conn *) sw->conns[k])->node;
          gboolean seen = FALSE;
          for (guint j = start; j < out->len && !seen; j++)
            seen = g_array_index (out, MbNodeId, j) == node;
          if (!seen)
            g_array_append_val (out, node);
        }
    }
}

guint32
mb_peer_have_stamp (const MbPeer *p)
{
  return p->have_stamp;
}

guint
mb_peer_n_completed (const MbPeer *p)
{
  return p->n_completed;
}

guint64
mb_peer_completed_at (const MbPeer *p, const char *file)
{
  Swarm *sw = mbi_peer_swarm_by_file (p, file);
  return sw ? sw->stats.completed_at : MB_TIME_NEVER;
}

gboolean
mb_peer_has_piece (const MbPeer *p, const char *file, guint piece)
{
  Swarm *sw = mbi_peer_swarm_by_file (p, file);
  return sw && piece < sw->n_pieces && mb_bitfield_test (sw->have, piece);
}

const MbBitfield *
mb_peer_have (const MbPeer *p, const char *file)
{
  Swarm *sw = mbi_peer_swarm_by_file (p, file);
  return sw ? sw->have : NULL;
}
