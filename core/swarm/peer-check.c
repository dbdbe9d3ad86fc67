/* peer-check.c — mb_peer_check: a debug checker that recomputes, from
 * scratch, every invariant peer-private.h lists and compares it with the
 * counters the peer keeps incrementally.
 *
 * It only reads: the peer is never changed, no message is sent, no random
 * number drawn, so running it (the simulator's --check) changes no output.
 * It costs O(swarms × (conns² + conns × pieces + outstanding requests +
 * blocks of started pieces)) a call: for tests and small runs, not for the
 * hot path (nothing here is called unless a driver asks).
 *
 * The first violation found is reported (naming the peer, the swarm's file
 * and the piece, block or connection) and the check stops there.
 */
#define MB_SWARM_PEER_INTERNAL
#include "swarm/peer-private.h"

#include <stdarg.h>

typedef struct {
  const MbPeer *p;
  GString *why;
} Check;

static gboolean G_GNUC_PRINTF (3, 4)
fail (Check *ck, const Swarm *sw, const char *fmt, ...)
{
  if (ck->why == NULL)
    return FALSE;
  if (sw != NULL)
    g_string_append_printf (ck->why, "peer %s, swarm %s: ", ck->p->name, sw->file);
  else
    g_string_append_printf (ck->why, "peer %s: ", ck->p->name);
  va_list ap;
  va_start (ap, fmt);
  g_string_append_vprintf (ck->why, fmt, ap);
  va_end (ap);
  return FALSE;
}

/* conns, conn_nodes, and each conn's own flags. */
static gboolean
check_conns (Check *ck, const Swarm *sw)
{
  if (sw->n_conns > sw->cap_conns)
    return fail (ck, sw, "n_conns %u exceeds cap_conns %u", sw->n_conns, sw->cap_conns);
  gboolean optimistic_found = sw->optimistic_node == MB_NODE_NONE;
  for (guint i = 0; i < sw->n_conns; i++)
    {
      const Conn *c = sw->conns[i];
      if (c == NULL)
        return fail (ck, sw, "conns[%u] is NULL", i);
      if (sw->conn_nodes[i] != c->node)
        return fail (ck, sw, "conn_nodes[%u] = %u, but conns[%u] (%s) is node %u", i,
                     sw->conn_nodes[i], i, c->name, c->node);
      if (c->sw != sw)
        return fail (ck, sw, "conn to node %u (%s) points at another swarm", c->node, c->name);
      for (guint k = 0; k < i; k++)
        if (sw->conn_nodes[k] == c->node)
          return fail (ck, sw, "node %u has two conns (%u and %u)", c->node, k, i);
      if ((c->remote != NULL) != c->got_bitfield)
        return fail (ck, sw, "conn to node %u (%s): remote bitfield %s but got_bitfield %d",
                     c->node, c->name, c->remote ? "set" : "NULL", c->got_bitfield);
      if (c->remote && !c->established)
        return fail (ck, sw, "conn to node %u (%s) has a remote bitfield but is not established",
                     c->node, c->name);
      if (c->remote && mb_bitfield_size (c->remote) != sw->n_pieces)
        return fail (ck, sw, "conn to node %u (%s): remote bitfield of %u pieces, swarm has %u",
                     c->node, c->name, mb_bitfield_size (c->remote), sw->n_pieces);
      optimistic_found = optimistic_found || c->node == sw->optimistic_node;
    }
  if (!optimistic_found)
    return fail (ck, sw, "optimistic unchoke is node %u, which has no conn", sw->optimistic_node);
  return TRUE;
}

/* availability[i] == established conns whose remote bitfield has piece i. */
static gboolean
check_availability (Check *ck, const Swarm *sw)
{
  for (guint i = 0; i < sw->n_pieces; i++)
    {
      guint n = 0;
      for (guint k = 0; k < sw->n_conns; k++)
        {
          const Conn *c = sw->conns[k];
          n += c->established && c->remote && mb_bitfield_test (c->remote, i);
        }
      if (sw->availability[i] != n)
        return fail (ck, sw, "availability[%u] = %u, but %u established conns have piece %u", i,
                     sw->availability[i], n, i);
    }
  return TRUE;
}

/* started, partials, n_started, unrequested, missing, total_unrequested. */
static gboolean
check_pieces (Check *ck, const Swarm *sw)
{
  guint n_started = 0;
  guint64 total = 0;
  guint32 bs = ck->p->cfg.block_size;
  for (guint i = 0; i < sw->n_pieces; i++)
    {
      const Partial *pp = sw->partials[i];
      if ((pp != NULL) != mb_bitfield_test (sw->started, i))
        return fail (ck, sw, "piece %u: started bit %d but partial %s", i,
                     mb_bitfield_test (sw->started, i), pp ? "set" : "NULL");
      if (pp == NULL)
        {
          if (sw->unrequested[i] != 0 || sw->missing[i] != 0)
            return fail (ck, sw, "piece %u is not started but unrequested = %u, missing = %u", i,
                         sw->unrequested[i], sw->missing[i]);
          continue;
        }
      n_started++;
      guint32 want_blocks = (mbi_swarm_piece_len (sw, i) + bs - 1) / bs;
      if (pp->n_blocks != want_blocks)
        return fail (ck, sw, "piece %u has %u blocks, its length gives %u", i, pp->n_blocks,
                     want_blocks);
      if (mb_bitfield_test (sw->have, i))
        return fail (ck, sw, "piece %u is had and still started", i);
      guint unreq = 0, missing = 0;
      for (guint b = 0; b < pp->n_blocks; b++)
        {
          if (pp->received[b] > 1)
            return fail (ck, sw, "piece %u block %u: received = %u (not 0/1)", i, b,
                         pp->received[b]);
          missing += !pp->received[b];
          unreq += !pp->received[b] && pp->req_count[b] == 0;
        }
      if (sw->unrequested[i] != unreq)
        return fail (ck, sw, "piece %u: unrequested = %u, but %u blocks are neither requested "
                     "nor received", i, sw->unrequested[i], unreq);
      if (sw->missing[i] != missing)
        return fail (ck, sw, "piece %u: missing = %u, but %u blocks are not received", i,
                     sw->missing[i], missing);
      if (missing == 0)
        return fail (ck, sw, "piece %u: every block received, yet still started", i);
      total += unreq;
    }
  if (sw->n_started != n_started)
    return fail (ck, sw, "n_started = %u, but %u pieces are started", sw->n_started, n_started);
  if (mb_bitfield_count (sw->started) != n_started)
    return fail (ck, sw, "started has %u bits set, but %u pieces are started",
                 mb_bitfield_count (sw->started), n_started);
  if (sw->total_unrequested != total)
    return fail (ck, sw, "total_unrequested = %" G_GUINT64_FORMAT ", but the started pieces' "
                 "unrequested sum to %" G_GUINT64_FORMAT, sw->total_unrequested, total);
  return TRUE;
}

/* Every outstanding request names a block of a started piece that has not
 * arrived, and a block's req_count == conns with it in out_reqs. */
static gboolean
check_requests (Check *ck, const Swarm *sw)
{
  guint8 **count = g_new0 (guint8 *, MAX (sw->n_pieces, 1));
  gboolean ok = TRUE;
  for (guint k = 0; ok && k < sw->n_conns; k++)
    {
      const Conn *c = sw->conns[k];
      for (guint j = 0; ok && j < c->out_reqs.len; j++)
        {
          BlockRef r = c->out_reqs.v[j];
          const Partial *pp = r.piece < sw->n_pieces ? sw->partials[r.piece] : NULL;
          if (pp == NULL)
            ok = fail (ck, sw, "conn to node %u (%s) requests piece %u, which is not started",
                       c->node, c->name, r.piece);
          else if (r.block >= pp->n_blocks)
            ok = fail (ck, sw, "conn to node %u (%s) requests block %u of piece %u (of %u)",
                       c->node, c->name, r.block, r.piece, pp->n_blocks);
          else if (pp->received[r.block])
            ok = fail (ck, sw, "conn to node %u (%s) still requests piece %u block %u, which "
                       "arrived", c->node, c->name, r.piece, r.block);
          else
            {
              if (count[r.piece] == NULL)
                count[r.piece] = g_new0 (guint8, pp->n_blocks);
              if (count[r.piece][r.block]++ == G_MAXUINT8)
                ok = fail (ck, sw, "piece %u block %u requested from over 255 conns", r.piece,
                           r.block);
            }
        }
    }
  for (guint i = 0; ok && i < sw->n_pieces; i++)
    {
      const Partial *pp = sw->partials[i];
      if (pp == NULL)
        continue;
      for (guint b = 0; ok && b < pp->n_blocks; b++)
        {
          guint n = count[i] ? count[i][b] : 0;
          if (pp->req_count[b] != n)
            ok = fail (ck, sw, "piece %u block %u: req_count = %u, but %u conns request it", i,
                       b, pp->req_count[b], n);
        }
    }
  for (guint i = 0; i < sw->n_pieces; i++)
    g_free (count[i]);
  g_free (count);
  return ok;
}

/* Interest counts and the upload queues (peer-upload.c). */
static gboolean
check_interest_and_uploads (Check *ck, const Swarm *sw, guint *n_upq)
{
  guint am = 0, peer = 0;
  for (guint i = 0; i < sw->n_conns; i++)
    {
      const Conn *c = sw->conns[i];
      am += c->am_interested;
      peer += c->peer_interested;
      guint q = c->upq.len - c->upq.head;
      if (c->upq.head > c->upq.len || c->upq.len > c->upq.cap)
        return fail (ck, sw, "conn to node %u: upload queue head %u, len %u, cap %u", c->node,
                     c->upq.head, c->upq.len, c->upq.cap);
      if (q > 0 && c->am_choking)
        return fail (ck, sw, "conn to node %u: %u uploads queued while we choke it", c->node, q);
      for (guint k = c->upq.head; k < c->upq.len; k++)
        {
          const UpReq *r = &c->upq.v[k];
          if (r->piece >= sw->n_pieces || r->length == 0
              || (guint64) r->offset + r->length > mbi_swarm_piece_len (sw, r->piece))
            return fail (ck, sw, "conn to node %u: queued upload (%u, %u, %u) out of range",
                         c->node, r->piece, r->offset, r->length);
        }
      *n_upq += q;
      if (c->ss_piece >= (gint32) sw->n_pieces)
        return fail (ck, sw, "conn to node %u: super-seed piece %d out of range", c->node,
                     c->ss_piece);
      /* the unchoke tally follows every change (peer-unchokes.c) */
      if (c->tally_kind != mbi_unchokes_kind (sw, c))
        return fail (ck, sw, "conn to node %u: unchoke tally in kind %u, but the conn is in %u",
                     c->node, c->tally_kind, mbi_unchokes_kind (sw, c));
      if (c->tally_interested != c->peer_interested)
        return fail (ck, sw, "conn to node %u: unchoke tally has interested %u, the conn %u",
                     c->node, c->tally_interested, c->peer_interested);
    }
  guint active = 0;
  for (guint i = 0; i < sw->n_conns; i++)
    {
      const Conn *c = sw->conns[i];
      guint found = 0;
      for (guint k = 0; k < sw->n_up_active; k++)
        found += sw->up_active[k] == c;
      if (found != (c->upq.len > c->upq.head))
        return fail (ck, sw, "conn to node %u: in up_active %u times with %u uploads queued",
                     c->node, found, c->upq.len - c->upq.head);
      active += found;
    }
  if (active != sw->n_up_active)
    return fail (ck, sw, "up_active holds %u conns, %u of them ours", sw->n_up_active, active);
  if (am != sw->n_am_interested || peer != sw->n_peer_interested)
    return fail (ck, sw, "n_am_interested %u / n_peer_interested %u, but conns say %u / %u",
                 sw->n_am_interested, sw->n_peer_interested, am, peer);
  guint stalled = 0;
  for (guint i = 0; i < sw->n_conns; i++)
    {
      const Conn *c = sw->conns[i];
      stalled += c->stalled;
      if (c->stalled && c->out_reqs.len > 0)
        return fail (ck, sw, "conn to node %u: stalled with %u requests out", c->node,
                     c->out_reqs.len);
    }
  if (stalled != sw->n_stalled)
    return fail (ck, sw, "n_stalled %u, but conns say %u", sw->n_stalled, stalled);
  return TRUE;
}

/* bittyrant and propshare: the conns' ConnStrat, the weighted uploads. */
static gboolean
check_weights (Check *ck, const Swarm *sw)
{
  gboolean weighted = mbi_peer_weighted_strategy (sw->peer);
  if (sw->up_weighted && !weighted)
    return fail (ck, sw, "uploads are weighted, but the strategy (%s) shares equally",
                 mb_strategy_name (sw->peer->cfg.strategy));
  for (guint i = 0; i < sw->n_conns; i++)
    {
      const Conn *c = sw->conns[i];
      if ((c->st != NULL) != weighted)
        return fail (ck, sw, "conn to node %u: strategy state %s, strategy %s", c->node,
                     c->st ? "present" : "missing", mb_strategy_name (sw->peer->cfg.strategy));
      if (sw->up_weighted && c->upq.len > c->upq.head && c->st->up_weight == 0)
        return fail (ck, sw, "conn to node %u: uploads queued with no weight", c->node);
    }
  if (sw->up_stick && !sw->up_weighted)
    return fail (ck, sw, "a conn is partway through a piece, but uploads are not weighted");
  if (sw->up_stick)
    {
      guint found = 0;
      for (guint k = 0; k < sw->n_up_active; k++)
        found += sw->up_active[k] == sw->up_stick;
      if (found != 1)
        return fail (ck, sw, "the conn partway through a piece (node %u) is not in up_active",
                     sw->up_stick->node);
    }
  return TRUE;
}

static gboolean
check_swarm (Check *ck, const Swarm *sw, guint *n_upq)
{
  if (sw->peer != ck->p)
    return fail (ck, sw, "swarm points at another peer");
  return check_conns (ck, sw) && check_availability (ck, sw) && check_pieces (ck, sw)
         && check_requests (ck, sw) && check_interest_and_uploads (ck, sw, n_upq)
         && check_weights (ck, sw);
}

gboolean
mb_peer_check (const MbPeer *p, GString *why)
{
  g_return_val_if_fail (p != NULL, FALSE);
  Check ck = { p, why };
  if (p->n_swarms != p->swarms->len)
    return fail (&ck, NULL, "n_swarms = %u, but it is in %u swarms", p->n_swarms,
                 p->swarms->len);
  if (p->swarm0 != (p->swarms->len > 0 ? p->swarms->pdata[0] : NULL))
    return fail (&ck, NULL, "swarm0 is not the first swarm");
  guint completed = 0, n_upq = 0;
  for (guint i = 0; i < p->swarms->len; i++)
    {
      const Swarm *sw = p->swarms->pdata[i];
      completed += sw->stats.completed_at != MB_TIME_NEVER;
      if (!check_swarm (&ck, sw, &n_upq))
        return FALSE;
    }
  if (p->n_upq != n_upq)
    return fail (&ck, NULL, "n_upq = %u, but the conns queue %u uploads", p->n_upq, n_upq);
  if (p->n_completed != completed)
    return fail (&ck, NULL, "n_completed = %u, but %u swarms have completed", p->n_completed,
                 completed);
  guint64 hi = p->cfg.send_watermark, lo = MIN (p->cfg.send_watermark_low, hi);
  if (p->send_limit < lo || p->send_limit > hi)
    return fail (&ck, NULL, "the send limit %" G_GUINT64_FORMAT " is outside [%" G_GUINT64_FORMAT
                 ", %" G_GUINT64_FORMAT "]", p->send_limit, lo, hi);
  if (p->up_handed_mark > p->up_handed)
    return fail (&ck, NULL, "up_handed_mark is ahead of up_handed");
  return TRUE;
}
