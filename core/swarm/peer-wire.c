/* peer-wire.c — the peer wire protocol (BEP 3) as message handlers.
 *
 * Connection set-up: the dialer sends HANDSHAKE code 0 (hello); the other
 * side answers code 1 (accept) and its BITFIELD, or code 2 (refuse) when it
 * is not in that swarm or is full.  On accept the dialer sends its BITFIELD.
 * A simultaneous open (both sent hello) becomes one connection: each side
 * treats the other's hello as the answer to its own.  Code 3 (goodbye)
 * closes the connection in that swarm: a host whose connections also carry
 * other traffic (real mode: the ring) cannot close one for the swarm, so
 * the core says it instead (mbi_swarm_close_conn, mbi_swarm_conn_end).
 *
 * Every remote input is checked; a violation (bitfield not first, of the
 * wrong length or with spare bits; have/request/cancel out of range; a
 * request for a piece we do not have; a piece we did not ask for, of the
 * wrong length) drops that connection only.  A request while we choke the
 * remote is not a violation (the choke may have crossed it): it is refused
 * and counted.  Accepted requests are queued (peer-upload.c), not served on
 * the spot, so a CANCEL can still drop them.
 */
#define MB_SWARM_PEER_INTERNAL
#include "swarm/peer-private.h"

#include <string.h>

#define PEX_DIALS 5

void
mbi_wire_send_handshake (Swarm *sw, MbNodeId to, guint32 code)
{
  MbPeer *p = sw->peer;
  MbMessage *m = mb_message_new (MB_MSG_HANDSHAKE);
  m->file = g_strdup (sw->file);
  m->name = g_strdup (p->name);
  m->addr = g_strdup (p->addr);
  m->code = code;
  mbi_peer_send (p, to, m);
}

static void
send_bitfield (Swarm *sw, Conn *c)
{
  MbMessage *m = mbi_swarm_msg (sw, MB_MSG_BITFIELD);
  m->data = mbi_superseed_active (sw) ? mbi_superseed_bitfield (sw)
                                      : mb_bitfield_to_bytes (sw->have);
  mbi_peer_send (sw->peer, c->node, m);
}

static void
violation (Swarm *sw, Conn *c, const char *what)
{
  mbi_peer_drop_node (sw->peer, c->node, what);
}

void
mbi_wire_update_interest (Swarm *sw, Conn *c)
{
  if (!c->established)
    return;
  gboolean want = c->remote && c->got_bitfield && !mbi_swarm_seeding (sw) && !sw->store_error
                  && mb_bitfield_wants_from (sw->have, c->remote);
  if (want == c->am_interested)
    return;
  mbi_conn_set_interest (sw, c, want, c->peer_interested);
  mbi_peer_send (sw->peer, c->node,
                mbi_swarm_msg (sw, want ? MB_MSG_INTERESTED : MB_MSG_NOT_INTERESTED));
  if (want)
    mbi_swarm_fill_requests (sw, c, 0); /* it may have kept us unchoked */
}

static void
establish (Swarm *sw, Conn *c, guint64 now)
{
  c->established = TRUE;
  c->est_seq = sw->est_counter++;
  c->connected_at = now;
  c->last_block_at = now;
  send_bitfield (sw, c);
  if (sw->peer->cfg.pex_interval_us)
    mbi_swarm_send_pex (sw, c, FALSE);
}

static void
send_pex_list (Swarm *sw, MbNodeId to, const MbPeerInfo *list, const guint32 *flags, guint k)
{
  MbMessage *m = mbi_swarm_msg (sw, MB_MSG_PEX);
  mb_message_set_peers (m, list, k);
  mb_message_set_indices (m, flags, k);
  mbi_peer_send (sw->peer, to, m);
}

void
mbi_swarm_send_pex (Swarm *sw, Conn *to, gboolean delta)
{
  /* Up to pex_max of our other established connections, starting at a
   * place that moves with every message so that, over time, every
   * connection is told of all of them. */
  MbPeer *p = sw->peer;
  guint n = sw->n_conns, max = p->cfg.pex_max;
  guint32 since = to->pex_seq;
  to->pex_seq = sw->est_counter;
  if (n < 2 || max == 0 || (delta && since == sw->est_counter))
    return;
  MbPeerInfo *list = g_new (MbPeerInfo, MIN (n, max));
  guint32 *flags = g_new (guint32, MIN (n, max));
  guint k = 0, start = sw->pex_cursor++ % n;
  for (guint j = 0; j < n && k < max; j++)
    {
      Conn *c = sw->conns[(start + j) % n];
      if (c == to || !c->established || !c->addr || !*c->addr
          || (delta && c->est_seq < since))
        continue;
      list[k].name = c->name;
      list[k].addr = c->addr;
      flags[k] = c->remote && mb_bitfield_is_complete (c->remote) ? MB_PEX_SEED : 0;
      k++;
    }
  if (k > 0)
    send_pex_list (sw, to->node, list, flags, k);
  g_free (list);
  g_free (flags);
}

static void
on_pex (Swarm *sw, Conn *c, const MbMessage *msg, guint64 now)
{
  MbPeer *p = sw->peer;
  if (msg->n_peers > 2 * MAX (p->cfg.pex_max, 1) || msg->n_indices != msg->n_peers)
    {
      violation (sw, c, msg->n_indices != msg->n_peers ? "pex with flags not one per peer"
                                                       : "pex with too many peers");
      return;
    }
  /* Addresses from a peer are claims: they are only dialed, and a dialed
   * node counts once its handshake answers. */
  if (!p->cfg.pex_interval_us || msg->n_peers == 0)
    return;
  /* A leecher with no seed among its connections dials the seeds listed at
   * once: a seed may hold what no leecher has (when leechers leave on
   * completion, a piece's last copies go with them).  At most once per
   * tracker_ramp: a remote flooding PEX messages full of "seeds" must not
   * make us dial without bound. */
  gboolean leecher = !mbi_swarm_seeding (sw);
  guint k = 0;
  MbPeerInfo pick[PEX_DIALS];
  guint start = (guint) g_rand_int_range (p->rand, 0, (gint32) msg->n_peers);
  if (leecher && !mbi_swarm_has_seed_conn (sw)
      && (!sw->last_seed_dial || now >= sw->last_seed_dial + p->cfg.tracker_ramp_us))
    {
      for (guint i = 0; i < msg->n_peers && k < PEX_DIALS; i++)
        {
          guint j = (start + i) % msg->n_peers;
          if (msg->indices[j] & MB_PEX_SEED)
            pick[k++] = msg->peers[j];
        }
      if (k > 0)
        {
          sw->last_seed_dial = now + 1;
          mbi_swarm_dial_peers (sw, pick, k, now);
          return;
        }
    }
  if (!mbi_swarm_wants_peers (p, sw)
      || (sw->last_pex_dial && now < sw->last_pex_dial + p->cfg.tracker_retry_us))
    return;
  /* At most PEX_DIALS of them, from a random place in the list, and no more
   * often than we would ask the tracker: a swarm of peers with no use for
   * each other must not churn connections.  A leecher dials seeds first,
   * then others; a seed dials only leechers (two seeds have nothing to
   * trade). */
  for (guint pass = leecher ? 0 : 1; pass < 2; pass++)
    for (guint i = 0; i < msg->n_peers && k < PEX_DIALS; i++)
      {
        guint j = (start + i) % msg->n_peers;
        gboolean seed = (msg->indices[j] & MB_PEX_SEED) != 0;
        if (pass == 0 ? seed : !seed)
          pick[k++] = msg->peers[j];
      }
  sw->last_pex_dial = now + 1;
  mbi_swarm_dial_peers (sw, pick, k, now);
}

/* Whether one of sw's established connections is to a seed. */
gboolean
mbi_swarm_has_seed_conn (const Swarm *sw)
{
  for (guint i = 0; i < sw->n_conns; i++)
    {
      const Conn *c = sw->conns[i];
      if (c->established && c->remote && mb_bitfield_is_complete (c->remote))
        return TRUE;
    }
  return FALSE;
}

/* A leaving peer's goodbye (with PEX on): it tells each neighbour that is
 * still a leecher the seeds it is connected to, which those may not know
 * of (a peer leaving on completion often got its last piece from one). */
void
mbi_swarm_send_goodbye_pex (Swarm *sw)
{
  MbPeer *p = sw->peer;
  if (!p->cfg.pex_interval_us || p->cfg.pex_max == 0)
    return;
  guint max = MIN (p->cfg.pex_max, sw->n_conns);
  MbPeerInfo *list = g_new (MbPeerInfo, MAX (max, 1));
  guint32 *flags = g_new (guint32, MAX (max, 1));
  guint k = 0;
  for (guint i = 0; i < sw->n_conns && k < max; i++)
    {
      Conn *c = sw->conns[i];
      if (c->established && c->addr && *c->addr && c->remote
          && mb_bitfield_is_complete (c->remote))
        {
          list[k].name = c->name;
          list[k].addr = c->addr;
          flags[k++] = MB_PEX_SEED;
        }
    }
  for (guint i = 0; i < sw->n_conns && k > 0; i++)
    {
      Conn *c = sw->conns[i];
      if (c->established && c->remote && !mb_bitfield_is_complete (c->remote))
        send_pex_list (sw, c->node, list, flags, k);
    }
  g_free (list);
  g_free (flags);
}

static void
on_handshake (MbPeer *p, MbNodeId from, const MbMessage *msg, guint64 now)
{
  Swarm *sw = msg->file ? mbi_peer_swarm_by_file (p, msg->file) : NULL;
  Conn *c = sw ? mbi_swarm_conn (sw, from) : NULL;
  /* A ring fetcher's hello carries the file's manifest: a holder of some
   * of its chunks joins to serve them (peer-ring.c). */
  if (!sw && msg->code == 0 && msg->file && msg->manifest)
    sw = mbi_ring_join_to_serve (p, msg->file, msg->manifest, now);
  /* A conn we dialled by address learns the remote's peer id here. */
  if (c && (!c->name || !*c->name) && msg->name && (msg->code == 0 || msg->code == 1))
    {
      g_free (c->name);
      c->name = g_strdup (msg->name);
    }
  switch (msg->code)
    {
    case 0: /* hello */
      if (c && c->established)
        {
          /* The remote dials again: it no longer has our connection (it
           * closed it, and its close crossed this hello, or it never saw
           * our accept).  Ours goes too, and the hello is a new one. */
          mbi_swarm_conn_remove (sw, c);
          c = NULL;
        }
      /* Full: a connection of no use to either side makes room for it. */
      if (!sw || (!c && sw->n_conns >= p->cfg.max_conns && !mbi_swarm_make_room (sw)))
        {
          MbMessage *m = mb_message_new (MB_MSG_HANDSHAKE);
          m->file = g_strdup (msg->file ? msg->file : "");
          m->name = g_strdup (p->name);
          m->addr = g_strdup (p->addr);
          m->code = 2;
          mbi_peer_send (p, from, m);
          if (sw && sw->ring)
            mbi_ring_note_refused (sw, from);
          return;
        }
      if (!c)
        {
          c = mbi_swarm_conn_add (sw, from, msg->name, FALSE, now);
          c->addr = g_strdup (msg->addr);
        }
      if (sw->ring)
        mbi_ring_note_hello (sw, from);
      mbi_wire_send_handshake (sw, from, 1);
      establish (sw, c, now);
      return;
    case 1: /* accept */
      if (c && !c->established)
        establish (sw, c, now);
      return;
    case 2: /* refuse, or close: the remote dropped our connection in this
             * swarm but keeps others with us (mbi_swarm_close_conn) */
      if (c)
        mbi_swarm_conn_remove (sw, c);
      return;
    case MB_HANDSHAKE_GOODBYE:
      if (c)
        mbi_swarm_conn_remove (sw, c);
      return;
    default:
      if (c)
        violation (sw, c, "handshake with an unknown code");
      return;
    }
}

static void
on_bitfield (Swarm *sw, Conn *c, const MbMessage *msg, guint64 now)
{
  if (c->got_any)
    {
      violation (sw, c, "bitfield after other messages");
      return;
    }
  g_autoptr (GError) err = NULL;
  gsize len = 0;
  const guint8 *bytes = msg->data ? g_bytes_get_data (msg->data, &len) : NULL;
  MbBitfield *bf = mb_bitfield_from_wire (sw->n_pieces, bytes, len, &err);
  if (!bf)
    {
      violation (sw, c, err->message);
      return;
    }
  if (c->remote)
    {
      /* A second bitfield: the remote started this connection over while
       * ours went on (two of its hellos crossed our answers).  Both drop
       * it (a refusal tells the remote) rather than guess which is which. */
      mb_bitfield_free (bf);
      mbi_swarm_close_conn (sw, c);
      return;
    }
  c->remote = bf;
  c->got_bitfield = TRUE;
  mbi_swarm_avail_add_bitfield (sw, bf);
  if (mbi_swarm_seeding (sw) && mb_bitfield_is_complete (bf))
    {
      /* Two seeds have nothing to trade: free the slot (in this swarm:
       * they may trade in another). */
      mbi_swarm_close_conn (sw, c);
      return;
    }
  /* A super-seed shows a piece once it knows what the remote has. */
  if (mbi_superseed_active (sw) && c->ss_piece < 0)
    mbi_superseed_reveal (sw, c);
  mbi_wire_update_interest (sw, c);
}

static gboolean
ensure_remote (Swarm *sw, Conn *c)
{
  /* A peer with nothing may skip the bitfield (BEP 3). */
  if (!c->remote)
    {
      c->remote = mb_bitfield_new (sw->n_pieces);
      c->got_bitfield = TRUE;
      if (mbi_superseed_active (sw) && c->ss_piece < 0)
        mbi_superseed_reveal (sw, c);
    }
  return TRUE;
}

static void
on_have (Swarm *sw, Conn *c, const MbMessage *msg)
{
  if (msg->piece >= sw->n_pieces)
    {
      violation (sw, c, "have out of range");
      return;
    }
  ensure_remote (sw, c);
  if (!mb_bitfield_set (c->remote, msg->piece))
    return;
  if (c->st)
    c->st->haves_cur++; /* bittyrant: its announce rate */
  mbi_swarm_avail_add_piece (sw, msg->piece);
  if (mbi_superseed_active (sw))
    mbi_superseed_on_have (sw, c, msg->piece);
  if (mbi_swarm_seeding (sw) && mb_bitfield_is_complete (c->remote))
    {
      mbi_swarm_close_conn (sw, c);
      return;
    }
  if (!c->am_interested && !mb_bitfield_test (sw->have, msg->piece))
    mbi_wire_update_interest (sw, c);
  else if (c->am_interested)
    mbi_swarm_fill_requests (sw, c, 0);
}

static gboolean
block_in_range (const Swarm *sw, guint32 piece, guint32 offset, guint32 length,
                guint32 max_len)
{
  if (piece >= sw->n_pieces || length == 0 || length > max_len)
    return FALSE;
  guint32 plen = mbi_swarm_piece_len (sw, piece);
  return offset < plen && length <= plen - offset;
}

static void
on_request (Swarm *sw, Conn *c, const MbMessage *msg)
{
  MbPeer *p = sw->peer;
  if (!block_in_range (sw, msg->piece, msg->offset, msg->length, p->cfg.max_request))
    {
      sw->stats.refused_requests++;
      violation (sw, c, "request out of range");
      return;
    }
  if (!mb_bitfield_test (sw->have, msg->piece))
    {
      sw->stats.refused_requests++;
      /* One our store lost after we announced it: the remote could not
       * know (the protocol has no "lost"), so no violation. */
      if (sw->lost && mb_bitfield_test (sw->lost, msg->piece))
        return;
      violation (sw, c, "request for a piece we do not have");
      return;
    }
  if (c->am_choking || p->cfg.strategy == MB_STRATEGY_FREERIDER)
    {
      sw->stats.refused_requests++;
      return;
    }
  if (!mbi_upload_queue (sw, c, msg->piece, msg->offset, msg->length))
    {
      sw->stats.refused_requests++; /* its queue is full */
      return;
    }
  mbi_upload_pump (p);
}

static void
on_piece (Swarm *sw, Conn *c, const MbMessage *msg, guint64 now)
{
  guint32 len = msg->data ? (guint32) g_bytes_get_size (msg->data) : msg->length;
  if (!block_in_range (sw, msg->piece, msg->offset, len, G_MAXUINT32)
      || msg->offset % sw->peer->cfg.block_size != 0
      || len != mbi_swarm_block_len (sw, msg->piece, msg->offset / sw->peer->cfg.block_size))
    {
      violation (sw, c, "piece with a bad range or length");
      return;
    }
  if (!sw->peer->cfg.virtual_content && !msg->data)
    {
      violation (sw, c, "piece without data");
      return;
    }
  if (!mbi_swarm_on_block (sw, c, msg->piece, msg->offset, msg->data, len, now))
    violation (sw, c, "piece that was not requested");
}

static void
on_choke (Swarm *sw, Conn *c, gboolean choke, guint64 now)
{
  c->peer_choking = choke;
  if (!choke)
    {
      c->unchoked_us_at = now;
      c->down_since_unchoked = 0;
      mbi_swarm_fill_requests (sw, c, now);
      return;
    }
  /* BEP 3: a choke discards our pending requests; their blocks go back to
   * the pool, where the other unchoked connections can take them. */
  mbi_swarm_release_requests (sw, c, TRUE);
  mbi_swarm_prefetch_conns (sw);
  for (guint i = 0; i < sw->n_conns; i++)
    mbi_swarm_fill_requests (sw, sw->conns[i], now);
}

static void
on_interest (Swarm *sw, Conn *c, gboolean interested, guint64 now)
{
  mbi_conn_set_interest (sw, c, c->am_interested, interested);
  if (!interested && mbi_superseed_active (sw))
    mbi_superseed_on_not_interested (sw, c);
  if (interested || !c->am_choking)
    mbi_swarm_fill_slots (sw, now);
  if (interested && c->am_choking && c->last_unchoke_at == 0 && sw->peer->cfg.seed_preempt
      && mb_bitfield_is_complete (sw->have))
    mbi_swarm_seed_preempt (sw, c, now);
}

void
mbi_wire_receive (MbPeer *p, MbNodeId from, const MbMessage *msg, guint64 now)
{
  if (msg->type == MB_MSG_HANDSHAKE)
    {
      on_handshake (p, from, msg, now);
      return;
    }
  Swarm *sw = mbi_peer_swarm_by_id (p, msg->swarm);
  Conn *c = sw ? mbi_swarm_conn (sw, from) : NULL;
  if (!c || !c->established)
    {
      /* Not connected in that swarm: late traffic after a drop is normal;
       * swarm messages from strangers are ignored.  A host that cannot
       * close connections never tells the remote of a drop it did not
       * see (the connection lives on for the ring): its request or
       * interest gets a goodbye, so it forgets us and asks elsewhere. */
      if (sw && !c && !p->host->disconnect
          && (msg->type == MB_MSG_REQUEST || msg->type == MB_MSG_INTERESTED))
        mbi_wire_send_handshake (sw, from, MB_HANDSHAKE_GOODBYE);
      return;
    }
  c->last_heard_at = now;
  if (msg->type == MB_MSG_BITFIELD)
    {
      on_bitfield (sw, c, msg, now);
      return;
    }
  c->got_any = TRUE;
  switch (msg->type)
    {
    case MB_MSG_HAVE: on_have (sw, c, msg); break;
    case MB_MSG_INTERESTED: on_interest (sw, c, TRUE, now); break;
    case MB_MSG_NOT_INTERESTED: on_interest (sw, c, FALSE, now); break;
    case MB_MSG_CHOKE: on_choke (sw, c, TRUE, now); break;
    case MB_MSG_UNCHOKE: on_choke (sw, c, FALSE, now); break;
    case MB_MSG_REQUEST: on_request (sw, c, msg); break;
    case MB_MSG_PIECE: on_piece (sw, c, msg, now); break;
    case MB_MSG_PEX: on_pex (sw, c, msg, now); break;
    case MB_MSG_CANCEL:
      /* Drops the block if it is still queued; one already handed to the
       * host is on its way (the remote accepts it late). */
      if (!block_in_range (sw, msg->piece, msg->offset, msg->length, p->cfg.max_request))
        violation (sw, c, "cancel out of range");
      else
        mbi_upload_cancel (sw, c, msg->piece, msg->offset, msg->length);
      break;
    default:
      break;
    }
}
