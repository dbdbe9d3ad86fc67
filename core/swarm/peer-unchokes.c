/* peer-unchokes.c — who unchoked whom: each connection's tally of the
 * choker's decisions about its remote (peer.h, MbUnchokeTally), for a
 * driver that studies tit-for-tat (the simulator's unchokes.csv).
 *
 * A conn's tally advances in intervals: tally_kind and tally_interested
 * hold the state since tally_at, and mbi_unchokes_update closes the
 * interval (its length goes to the kind's time, and to interested_us if
 * the remote was interested; the payload handed over meanwhile, counted in
 * tally_sent as it goes, to the kind's bytes) and opens the next in the
 * state now.  Every change of what the kind derives from is followed by an
 * update at the same instant (peer-private.h names the callers), so each
 * interval belongs to one state.  The per-block cost is one addition to a
 * field on a cache line the upload touches anyway; the tally (56 bytes) is
 * allocated apart, when it first has something.  Nothing here changes what
 * the peer does.
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
  gboolean counts = c->tally_kind != MBI_UNCHOKE_NONE || c->tally_interested;
  if ((span > 0 && counts) || c->tally_sent > 0)
    {
      if (!c->tally)
        c->tally = g_new0 (MbUnchokeTally, 1);
      MbUnchokeTally *t = c->tally;
      if (c->tally_kind == MBI_UNCHOKE_REGULAR)
        {
          t->regular_us += span;
          t->regular_bytes += c->tally_sent;
        }
      else if (c->tally_kind == MBI_UNCHOKE_OPTIMISTIC)
        {
          t->optimistic_us += span;
          t->optimistic_bytes += c->tally_sent;
        }
      else if (c->tally_kind == MBI_UNCHOKE_SEED)
        {
          t->seed_us += span;
          t->seed_bytes += c->tally_sent;
        }
      if (c->tally_interested)
        t->interested_us += span;
    }
  c->tally_sent = 0;
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
  if (!c->tally)
    return;
  if (p->unchoke_observer && !tally_empty (c->tally))
    p->unchoke_observer (p->unchoke_observer_data, sw->file, c->node, c->tally);
  memset (c->tally, 0, sizeof *c->tally);
}

void
mbi_unchokes_report (Swarm *sw, Conn *c, guint64 now)
{
  mbi_unchokes_update (sw, c, now);
  emit (sw, c);
}

void
mb_unchoke_tally_add (MbUnchokeTally *a, const MbUnchokeTally *t)
{
  a->regular_us += t->regular_us;
  a->optimistic_us += t->optimistic_us;
  a->seed_us += t->seed_us;
  a->interested_us += t->interested_us;
  a->regular_bytes += t->regular_bytes;
  a->optimistic_bytes += t->optimistic_bytes;
  a->seed_bytes += t->seed_bytes;
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
