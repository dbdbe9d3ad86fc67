/* peer-choke.c — whom a peer serves: the rechoke (every rechoke_interval,
 * through the pure choker of choker.c) and the filling of free upload slots
 * between rechokes.
 *
 * Invariants:
 *  - a choke drops the conn's queued uploads (BEP 3: a choke discards its
 *    requests); an unchoke resets its up_since_unchoke and stamps
 *    last_unchoke_at (now + 1, so 0 means never), which the round-robin seed
 *    choker ranks by;
 *  - the conns' rate windows (down/up_cur -> _prev) roll over at each rechoke
 *    and only there;
 *  - slots = regular_slots + extra_slots + 1 (the optimistic); unchoked
 *    peers that are not interested hold no slot.
 */
#define MB_SWARM_PEER_INTERNAL
#include "swarm/peer-private.h"

static guint64
rate_of (guint64 prev, guint64 cur, guint64 window_us)
{
  return window_us ? (prev + cur) * MB_USEC_PER_SEC / window_us : 0;
}

static void
conn_unchoke (Swarm *sw, Conn *c, guint64 now)
{
  c->am_choking = FALSE;
  c->up_since_unchoke = 0;
  c->last_unchoke_at = now + 1;
  mbi_unchokes_update (sw, c, now);
  mbi_peer_send (sw->peer, c->node, mbi_swarm_msg (sw, MB_MSG_UNCHOKE));
}

void
mbi_swarm_fill_slots (Swarm *sw, guint64 now)
{
  /* A free upload slot (an unchoked peer left or lost interest, or a new
   * peer became interested) is filled at once, as libtorrent and
   * Transmission do, rather than waiting up to a rechoke period: by a seed
   * with the peer unchoked longest ago, by a leecher with the one that gave
   * us most.  Unchoked peers that want nothing do not hold a slot. */
  MbPeer *p = sw->peer;
  if (p->cfg.strategy == MB_STRATEGY_FREERIDER || p->left)
    return;
  guint slots = p->cfg.regular_slots + p->extra_slots + 1;
  guint used = 0;
  mbi_swarm_prefetch_conns (sw);
  for (guint i = 0; i < sw->n_conns; i++)
    {
      const Conn *c = sw->conns[i];
      used += !c->am_choking && c->peer_interested;
    }
  gboolean seed = mbi_swarm_seeding (sw);
  while (used < slots)
    {
      Conn *best = NULL;
      for (guint i = 0; i < sw->n_conns; i++)
        {
          Conn *c = sw->conns[i];
          if (!c->established || !c->am_choking || !c->peer_interested)
            continue;
          if (!best
              || (seed ? c->last_unchoke_at < best->last_unchoke_at
                       : c->down_prev + c->down_cur > best->down_prev + best->down_cur))
            best = c;
        }
      if (!best)
        return;
      conn_unchoke (sw, best, now);
      used++;
    }
}

void
mbi_swarm_rechoke (Swarm *sw, guint64 now, gboolean rotate)
{
  MbPeer *p = sw->peer;
  guint n = sw->n_conns;
  MbChokeCandidate *cands = g_new0 (MbChokeCandidate, MAX (n, 1));
  gboolean *unchoke = g_new0 (gboolean, MAX (n, 1));
  guint64 window = 2 * p->cfg.rechoke_interval_us;
  guint64 new_period = p->cfg.optimistic_rounds * p->cfg.rechoke_interval_us;
  gint optimistic = -1;
  for (guint i = 0; i < n; i++)
    {
      Conn *c = sw->conns[i];
      cands[i].interested = c->established && c->peer_interested;
      cands[i].snubbed = c->am_interested && now >= c->last_block_at + p->cfg.snub_timeout_us;
      cands[i].is_new = now < c->connected_at + new_period;
      cands[i].down_rate = rate_of (c->down_prev, c->down_cur, window);
      cands[i].up_rate = rate_of (c->up_prev, c->up_cur, window);
      cands[i].unchoked = !c->am_choking;
      cands[i].up_since_unchoke = c->up_since_unchoke;
      cands[i].last_unchoke = c->last_unchoke_at;
      /* super-seeding: the piece shown to it is asked for or partly sent
       * (no one else has it; a choke now would strand it) */
      cands[i].mid_piece = c->ss_piece >= 0
                           && c->ss_sent < mbi_swarm_piece_len (sw, (guint32) c->ss_piece)
                           && (c->ss_sent > 0 || c->upq.len > c->upq.head);
      c->down_prev = c->down_cur;
      c->up_prev = c->up_cur;
      c->down_cur = c->up_cur = 0;
      if (c->node == sw->optimistic_node)
        optimistic = (gint) i;
    }
  MbChokeParams params = {
    .strategy = p->cfg.strategy,
    .regular_slots = p->cfg.regular_slots + p->extra_slots,
    .seed = mbi_swarm_seeding (sw),
    .seed_choke = p->cfg.seed_choke,
    .seed_quota = (guint64) p->cfg.seed_piece_quota * sw->piece_size,
    .optimistic = optimistic,
    .rotate_optimistic = rotate,
    .cursor = sw->altruist_cursor,
  };
  MbChokeResult r = mb_choker_run (cands, n, &params, p->rand, unchoke);
  sw->altruist_cursor = r.cursor;
  sw->optimistic_node = r.optimistic >= 0 ? ((Conn *) sw->conns[r.optimistic])->node
                                          : MB_NODE_NONE;
  for (guint i = 0; i < n; i++)
    {
      Conn *c = sw->conns[i];
      if (!c->established)
        continue;
      gboolean choke = !unchoke[i];
      if (choke != c->am_choking)
        {
          if (choke)
            {
              c->am_choking = TRUE;
              mbi_unchokes_update (sw, c, now);
              mbi_upload_clear (sw, c); /* BEP 3: a choke discards its requests */
              mbi_superseed_on_cut (sw, c);
              mbi_peer_send (p, c->node, mbi_swarm_msg (sw, MB_MSG_CHOKE));
            }
          else
            conn_unchoke (sw, c, now);
        }
    }
  mbi_unchokes_update_all (sw, now); /* the optimistic unchoke may have moved */
  g_free (cands);
  g_free (unchoke);
}


/* A seed's newcomer: a peer it never unchoked says it is interested while
 * every slot is taken.  Round robin would serve it at the next rechoke (the
 * one unchoked longest ago goes first, and it never was); the seed serves it
 * now instead, in place of the regular peer that got the most since its
 * unchoke (at least a piece; never the optimistic one).  A newcomer with a
 * piece is an uploader at once, and the seed's pieces spread to many peers
 * rather than a few (libtorrent's anti-leech seeding ranks peers that just
 * started first for the same reason, after Chow et al.). */
void
mbi_swarm_seed_preempt (Swarm *sw, Conn *c, guint64 now)
{
  guint slots = sw->peer->cfg.regular_slots + sw->peer->extra_slots + 1;
  guint used = 0;
  Conn *victim = NULL;
  for (guint i = 0; i < sw->n_conns; i++)
    {
      Conn *o = sw->conns[i];
      if (o == c || o->am_choking || !o->peer_interested)
        continue;
      used++;
      if (o->node == sw->optimistic_node || o->up_since_unchoke < sw->piece_size
          || (o->ss_piece >= 0 && o->ss_sent > 0
              && o->ss_sent < mbi_swarm_piece_len (sw, (guint32) o->ss_piece)))
        continue;
      if (!victim || o->up_since_unchoke > victim->up_since_unchoke)
        victim = o;
    }
  if (used < slots || !victim)
    return;
  victim->am_choking = TRUE;
  mbi_unchokes_update (sw, victim, now);
  mbi_upload_clear (sw, victim); /* BEP 3: a choke discards its requests */
  mbi_superseed_on_cut (sw, victim);
  mbi_peer_send (sw->peer, victim->node, mbi_swarm_msg (sw, MB_MSG_CHOKE));
  conn_unchoke (sw, c, now);
}
