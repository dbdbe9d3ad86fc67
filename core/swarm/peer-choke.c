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
 *    peers that are not interested hold no slot;
 *  - spare_round_robin: a tft leecher fills its extra slots with the
 *    interested peers unchoked longest ago, at rechokes (the choker's
 *    spare_slots) and between them (a slot past regular_slots + 1);
 *  - bittyrant and propshare leechers: the choker also gives weights (the
 *    conns' st->up_weight, and sw->up_weighted when any is above 0), and
 *    between rechokes a free slot is not filled as tft fills it: the
 *    strategy's own rule is applied again to the current state (no new
 *    measurement, no optimistic rotation, estimates unchanged); as seeds
 *    they choke as tft does, with equal shares.  bittyrant's estimates
 *    (d_p, u_p) move at each rechoke, before the ranking, and only there.
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

MbTyrantParams
mbi_tyrant_params (const MbPeer *p)
{
  MbTyrantParams tp = {
    .capacity = p->up_capacity,
    .peer_slots = p->cfg.regular_slots + 1,
    .gamma_pm = p->cfg.tyrant_gamma_pm,
    .delta_pm = p->cfg.tyrant_delta_pm,
    .rounds = p->cfg.tyrant_rounds,
  };
  return tp;
}

/* bittyrant, at each rechoke before the ranking: the round that ends now
 * moves every conn's d_p and u_p (mb_tyrant_round).  A peer unchoked us in
 * it if it does now or sent us payload; the rate it gave us is over the
 * round, or since its unchoke if that came within the round.  Its announce
 * rate is over this round and the one before. */
static void
tyrant_round_end (Swarm *sw, const MbTyrantParams *tp, guint64 now)
{
  guint64 round = sw->peer->cfg.rechoke_interval_us;
  for (guint i = 0; i < sw->n_conns; i++)
    {
      Conn *c = sw->conns[i];
      if (!c->st)
        continue;
      if (c->established)
        {
          MbTyrantRound r = {
            .we_unchoked = !c->am_choking,
            .it_unchoked_us = !c->peer_choking || c->down_cur > 0,
            .observed_rate = c->down_cur * MB_USEC_PER_SEC / round,
            .announce_rate = (guint64) (c->st->haves_prev + c->st->haves_cur) * sw->piece_size
                             * MB_USEC_PER_SEC / (2 * round),
          };
          if (!c->peer_choking && now > c->unchoked_us_at && now - c->unchoked_us_at < round)
            r.observed_rate = c->down_since_unchoked * MB_USEC_PER_SEC / (now - c->unchoked_us_at);
          mb_tyrant_round (&c->st->tyrant, tp, &r);
        }
      c->st->haves_prev = c->st->haves_cur;
      c->st->haves_cur = 0;
    }
}

static void choke_round (Swarm *sw, guint64 now, gboolean rotate, gboolean roll);

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
  if (mbi_peer_weighted_strategy (p))
    {
      if (!mbi_swarm_seeding (sw))
        {
          choke_round (sw, now, FALSE, FALSE);
          return;
        }
      if (sw->up_weighted)
        mbi_upload_set_weighted (sw, FALSE); /* a seed now: equal shares */
    }
  guint slots = p->cfg.regular_slots + p->extra_slots + 1;
  guint used = 0;
  mbi_swarm_prefetch_conns (sw);
  for (guint i = 0; i < sw->n_conns; i++)
    {
      const Conn *c = sw->conns[i];
      used += !c->am_choking && c->peer_interested;
    }
  gboolean seeding = mbi_swarm_seeding (sw);
  while (used < slots)
    {
      /* spare_round_robin: a slot beyond the regular ones and the
       * optimistic is an extra one, filled as a seed fills its slots */
      gboolean seed = seeding
                      || (p->cfg.spare_round_robin && used >= p->cfg.regular_slots + 1);
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

/* The rechoke, or (roll = FALSE) bittyrant's and propshare's rule applied
 * again between rechokes. */
static void
choke_round (Swarm *sw, guint64 now, gboolean rotate, gboolean roll)
{
  MbPeer *p = sw->peer;
  guint n = sw->n_conns;
  MbChokeCandidate *cands = g_new0 (MbChokeCandidate, MAX (n, 1));
  gboolean *unchoke = g_new0 (gboolean, MAX (n, 1));
  gboolean weighted = mbi_peer_weighted_strategy (p);
  guint64 *weight = weighted ? g_new0 (guint64, MAX (n, 1)) : NULL;
  guint64 window = 2 * p->cfg.rechoke_interval_us;
  guint64 new_period = p->cfg.optimistic_rounds * p->cfg.rechoke_interval_us;
  gboolean seed = mbi_swarm_seeding (sw);
  MbTyrantParams tp = mbi_tyrant_params (p);
  if (roll && p->cfg.strategy == MB_STRATEGY_BITTYRANT && !seed)
    tyrant_round_end (sw, &tp, now);
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
      if (c->st)
        {
          cands[i].tyrant_d = c->st->tyrant.d;
          cands[i].tyrant_u = mb_tyrant_u (&c->st->tyrant, &tp);
          /* the last full round: the one ending now, or (between
           * rechokes) the one before */
          cands[i].round_down = roll ? c->down_cur : c->down_prev;
        }
      if (roll)
        {
          c->down_prev = c->down_cur;
          c->up_prev = c->up_cur;
          c->down_cur = c->up_cur = 0;
        }
      if (c->node == sw->optimistic_node)
        optimistic = (gint) i;
    }
  MbChokeParams params = {
    .strategy = p->cfg.strategy,
    .regular_slots = p->cfg.regular_slots + p->extra_slots,
    .spare_slots = p->cfg.spare_round_robin ? p->extra_slots : 0,
    .seed = seed,
    .seed_choke = p->cfg.seed_choke,
    .seed_quota = (guint64) p->cfg.seed_piece_quota * sw->piece_size,
    .optimistic = optimistic,
    .rotate_optimistic = rotate,
    .cursor = sw->altruist_cursor,
    .capacity = p->up_capacity,
    .optimistic_share_pm = p->cfg.propshare_optimistic_pm,
  };
  MbChokeResult r = mb_choker_run_weighted (cands, n, &params, p->rand, unchoke, weight);
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
              mbi_superseed_on_cut (sw, c, FALSE);
              mbi_peer_send (p, c->node, mbi_swarm_msg (sw, MB_MSG_CHOKE));
            }
          else
            conn_unchoke (sw, c, now);
        }
    }
  if (weighted)
    {
      gboolean any = FALSE;
      for (guint i = 0; i < n; i++)
        {
          Conn *c = sw->conns[i];
          if (c->st)
            c->st->up_weight = weight[i];
          any |= weight[i] > 0;
        }
      if (any != sw->up_weighted)
        mbi_upload_set_weighted (sw, any);
    }
  g_free (weight);
  mbi_unchokes_update_all (sw, now); /* the optimistic unchoke may have moved */
  g_free (cands);
  g_free (unchoke);
}

void
mbi_swarm_rechoke (Swarm *sw, guint64 now, gboolean rotate)
{
  choke_round (sw, now, rotate, TRUE);
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
  mbi_superseed_on_cut (sw, victim, FALSE);
  mbi_peer_send (sw->peer, victim->node, mbi_swarm_msg (sw, MB_MSG_CHOKE));
  conn_unchoke (sw, c, now);
}
