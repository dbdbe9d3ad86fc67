/* peer-unchokes.c — who unchoked whom: each connection's tally of the
 * choker's decisions about its remote (peer.h, MbUnchokeTally), for a
 * driver that studies tit-for-tat (the simulator's unchokes.csv).
 *
 * A conn's tally advances in intervals: tally_kind and tally_interested
 * hold the state since tally_at, and mbi_unchokes_update closes the
 * interval (its length goes to the kind's time, and to interested_us if
 * the remote was interested) and opens the next in the state now.  Every
 * change of what the kind derives from is followed by an update at the
 * same instant (peer-private.h names the callers), so the time of each
 * interval belongs to one state; the payload handed over is counted as it
 * goes (mbi_unchokes_on_sent) under the kind in force.  Nothing here
 * changes what the peer does.
 */
#define MB_SWARM_PEER_INTERNAL
#include "swarm/peer-private.h"

#include <string.h>

MbiUnchokeKind
mbi_unchokes_kind (const Swarm *sw, const Conn *c)
{
  if (c->am_choking)
    return MBI_UNCHOKE_NONE;
  if (mbi_swarm_seeding (sw))
    return MBI_UNCHOKE_SEED;
  return c->node == sw->optimistic_node ? MBI_UNCHOKE_OPTIMISTIC : MBI_UNCHOKE_REGULAR;
}

void
mbi_unchokes_update (Swarm *sw, Conn *c, guint64 now)
{
  guint64 span = now > c->tally_at ? now - c->tally_at : 0;
  if (span > 0)
    {
      if (c->tally_kind == MBI_UNCHOKE_REGULAR)
        c->tally.regular_us += span;
      else if (c->tally_kind == MBI_UNCHOKE_OPTIMISTIC)
        c->tally.optimistic_us += span;
      else if (c->tally_kind == MBI_UNCHOKE_SEED)
        c->tally.seed_us += span;
      if (c->tally_interested)
        c->tally.interested_us += span;
    }
  if (now > c->tally_at)
    c->tally_at = now;
  c->tally_kind = (guint8) mbi_unchokes_kind (sw, c);
  c->tally_interested = c->peer_interested;
}

void
mbi_unchokes_update_all (Swarm *sw, guint64 now)
{
  for (guint i = 0; i < sw->n_conns; i++)
    mbi_unchokes_update (sw, sw->conns[i], now);
}

static gboolean
tally_empty (const MbUnchokeTally *t)
{
  static const MbUnchokeTally zero;
  return memcmp (t, &zero, sizeof zero) == 0;
}

static void
emit (Swarm *sw, Conn *c)
{
  MbPeer *p = sw->peer;
  if (p->unchoke_observer && !tally_empty (&c->tally))
    p->unchoke_observer (p->unchoke_observer_data, sw->file, c->node, &c->tally);
  memset (&c->tally, 0, sizeof c->tally);
}

void
mbi_unchokes_report (Swarm *sw, Conn *c, guint64 now)
{
  mbi_unchokes_update (sw, c, now);
  emit (sw, c);
}

void
mb_peer_set_unchoke_observer (MbPeer *p, MbPeerUnchokeFn fn, gpointer data)
{
  p->unchoke_observer = fn;
  p->unchoke_observer_data = data;
}

void
mb_peer_flush_unchokes (MbPeer *p, guint64 now)
{
  for (guint i = 0; i < p->swarms->len; i++)
    {
      Swarm *sw = p->swarms->pdata[i];
      for (guint k = 0; k < sw->n_conns; k++)
        mbi_unchokes_report (sw, sw->conns[k], now);
    }
}
