/* world-ranks.c — what the world's ranks keep apart during a window and
 * merge between windows (see sim/ranks.h for the windows themselves).
 *
 * During a window, a rank's thread touches only its own nodes (node id mod
 * K; mbi_world_touch checks it when the checker is on).  What reaches
 * beyond them waits in the rank's own buffers:
 *  - events for another rank's nodes (a crash noticed by the crashed peer's
 *    partners): its outbox, taken in by the receiving rank at the start of
 *    its next window (mb_world_take_inbox), with the key the sender gave
 *    them; the outboxes alternate by window (the net's too), so a rank takes
 *    in the last window's while the others fill the current one's;
 *  - the coverage log (world.c's seed coverage): every piece a node's
 *    coverage gains or loses, with the time and the running event's
 *    destination; counted between windows (at the multiples of the
 *    lookahead only, mb_world_sync), in order of (time, destination), the
 *    order one rank runs them in;
 *  - unchoke tallies and fetch_bytes_up of other ranks' nodes: sums, handed
 *    over between windows in any order.
 * With one rank per process (world-dist.c) the same buffers travel between
 * the processes; the coverage log's entries of global events are ordered
 * by the global op that logged them (gop), which one process logs alone.
 * With one rank nothing waits but the coverage log, so that one rank and
 * several count coverage at the same moments.
 */
#define MB_SIM_WORLD_INTERNAL
#include "world-private.h"

#include <stdlib.h>

_Thread_local gint mbi_world_rank = -1;

void
mbi_world_ranks_init (MbWorld *w)
{
  w->ranks = g_new0 (MbWorldRank, w->n_ranks);
  for (guint r = 0; r < w->n_ranks; r++)
    {
      MbWorldRank *rk = &w->ranks[r];
      rk->scratch = g_array_new (FALSE, FALSE, sizeof (MbNodeId));
      rk->cover_log = g_array_new (FALSE, FALSE, sizeof (MbCoverEntry));
      rk->unchokes = g_array_new (FALSE, FALSE, sizeof (MbUnchokeEntry));
      rk->credits = g_array_new (FALSE, FALSE, sizeof (MbCredit));
      rk->departs = g_array_new (FALSE, FALSE, sizeof (MbDepart));
      for (guint k = 0; k < 2; k++)
        {
          rk->outbox[k] = g_new0 (GArray *, w->n_ranks);
          rk->out_min[k] = g_new (guint64, w->n_ranks);
          for (guint d = 0; d < w->n_ranks; d++)
            {
              rk->outbox[k][d] = g_array_new (FALSE, FALSE, sizeof (MbPosted));
              rk->out_min[k][d] = G_MAXUINT64;
            }
        }
    }
}

void
mbi_world_ranks_free (MbWorld *w)
{
  for (guint r = 0; r < w->n_ranks; r++)
    {
      MbWorldRank *rk = &w->ranks[r];
      g_array_unref (rk->scratch);
      g_array_unref (rk->cover_log);
      g_array_unref (rk->unchokes);
      g_array_unref (rk->credits);
      g_array_unref (rk->departs);
      for (guint k = 0; k < 2; k++)
        {
          for (guint d = 0; d < w->n_ranks; d++)
            g_array_unref (rk->outbox[k][d]); /* posted events own nothing */
          g_free (rk->outbox[k]);
          g_free (rk->out_min[k]);
        }
    }
  g_free (w->ranks);
}

void
mbi_world_touch_fail (const MbWorld *w, MbNodeId node)
{
  g_error ("rank %d touched node %u, which belongs to rank %u", mbi_world_rank, node,
           mbi_world_rank_of (w, node));
}

void
mb_world_check_ranks (MbWorld *w, gboolean on)
{
  w->check_ranks = on;
  mb_net_check_ranks (w->net, on);
}

void
mb_world_set_rank (MbWorld *w, gint rank)
{
  mbi_world_rank = rank;
  mb_net_set_rank (w->net, rank);
}

MbEventId
mbi_world_post (MbWorld *w, MbNodeId node, guint64 when, MbEventFn fn, gpointer a, guint64 b)
{
  guint dr = mbi_world_rank_of (w, node);
  MbSched *ds = w->scheds[dr];
  MbSchedKey key = mb_sched_key_for (ds, when, node);
  if (mbi_world_rank < 0 || (guint) mbi_world_rank == dr)
    return mb_sched_at_key (ds, &key, fn, a, b);
  g_assert (when >= mb_sched_now (w->scheds[mbi_world_rank]) + mb_net_min_latency (w->net));
  MbPosted p = { key, fn, a, b };
  MbWorldRank *here = &w->ranks[mbi_world_rank];
  g_array_append_val (here->outbox[w->phase & 1][dr], p);
  here->out_min[w->phase & 1][dr] = MIN (here->out_min[w->phase & 1][dr], key.time);
  return MB_EVENT_NONE;
}

void
mb_world_take_inbox (MbWorld *w, guint rank)
{
  mb_net_take_inbox (w->net, rank);
  for (guint r = 0; r < w->n_ranks; r++)
    {
      GArray *box = w->ranks[r].outbox[(w->phase & 1) ^ 1][rank];
      w->ranks[r].out_min[(w->phase & 1) ^ 1][rank] = G_MAXUINT64;
      for (guint i = 0; i < box->len; i++)
        {
          const MbPosted *p = &g_array_index (box, MbPosted, i);
          mb_sched_at_key (w->scheds[rank], &p->key, p->fn, p->a, p->b);
        }
      g_array_set_size (box, 0);
    }
}

guint64
mb_world_inbox_next_time (const MbWorld *w)
{
  guint64 t = mb_net_inbox_next_time (w->net);
  for (guint r = 0; r < w->n_ranks; r++)
    for (guint d = 0; d < w->n_ranks; d++)
      t = MIN (t, w->ranks[r].out_min[(w->phase & 1) ^ 1][d]);
  return t;
}

void
mbi_world_cover_log (MbWorld *w, MbNodeId node, guint piece, gint delta)
{
  MbCoverEntry e = { mb_sched_now (mbi_world_sched_of (w, node)),
                     mb_sched_current_node () + 1, piece, delta, node, w->gop };
  g_array_append_val (mbi_world_here (w)->cover_log, e);
}

void
mbi_world_report_unchokes (MbWorld *w, MbSimNode *n, MbNodeId remote, const char *key,
                           const MbUnchokeTally *t)
{
  if (w->on_unchoke == NULL)
    return;
  if (mbi_world_rank < 0 || w->n_ranks == 1 || w->dist)
    {
      w->on_unchoke (w, n, remote, key, t, w->on_unchoke_data);
      return;
    }
  MbUnchokeEntry e = { n->id, remote, g_intern_string (key), *t };
  g_array_append_val (mbi_world_here (w)->unchokes, e);
}

void
mbi_world_credit (MbWorld *w, MbNodeId from, guint64 bytes)
{
  if (mbi_world_rank < 0 || mbi_world_rank_of (w, from) == (guint) mbi_world_rank)
    {
      MbSimNode *f = mb_world_node (w, from - 1);
      f->fetch_bytes_up += bytes;
      return;
    }
  MbCredit c = { from, bytes };
  g_array_append_val (mbi_world_here (w)->credits, c);
}

/* Coverage log entries of all ranks, by (time, key), in log order within. */
typedef struct {
  MbCoverEntry e;
  guint64 pos;
} MbCoverSorted;

static int
cover_cmp (const void *pa, const void *pb)
{
  const MbCoverSorted *a = pa, *b = pb;
  if (a->e.time != b->e.time)
    return a->e.time < b->e.time ? -1 : 1;
  if (a->e.key != b->e.key)
    return a->e.key < b->e.key ? -1 : 1;
  if (a->e.gop != b->e.gop)
    return a->e.gop < b->e.gop ? -1 : 1;
  return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static void
cover_count (MbWorld *w)
{
  gsize n = 0;
  for (guint r = 0; r < w->n_ranks; r++)
    n += w->ranks[r].cover_log->len;
  if (n == 0)
    return;
  MbCoverSorted *all = g_new (MbCoverSorted, n);
  gsize k = 0;
  for (guint r = 0; r < w->n_ranks; r++)
    {
      GArray *log = w->ranks[r].cover_log;
      for (guint i = 0; i < log->len; i++, k++)
        {
          all[k].e = g_array_index (log, MbCoverEntry, i);
          all[k].pos = k;
        }
      g_array_set_size (log, 0);
    }
  if (w->n_ranks > 1)
    qsort (all, n, sizeof *all, cover_cmp);
  for (gsize i = 0; i < n && w->cover_counts != NULL; i++)
    {
      const MbCoverEntry *e = &all[i].e;
      if (e->delta > 0)
        {
          if (w->cover_counts[e->piece]++ == 0 && --w->cover_missing == 0)
            mbi_world_cover_reached (w, e->time);
        }
      else if (--w->cover_counts[e->piece] == 0)
        w->cover_missing++;
    }
  g_free (all);
}

void
mb_world_sync (MbWorld *w, gboolean aligned)
{
  w->phase++;
  mb_net_next_window (w->net);
  for (guint r = 0; r < w->n_ranks; r++)
    {
      MbWorldRank *rk = &w->ranks[r];
      for (guint i = 0; i < rk->unchokes->len; i++)
        {
          const MbUnchokeEntry *e = &g_array_index (rk->unchokes, MbUnchokeEntry, i);
          w->on_unchoke (w, mb_world_node (w, e->node - 1), e->remote, e->key, &e->t,
                         w->on_unchoke_data);
        }
      g_array_set_size (rk->unchokes, 0);
      for (guint i = 0; i < rk->credits->len; i++)
        {
          const MbCredit *c = &g_array_index (rk->credits, MbCredit, i);
          mb_world_node (w, c->node - 1)->fetch_bytes_up += c->bytes;
        }
      g_array_set_size (rk->credits, 0);
    }
  if (aligned)
    cover_count (w);
}
