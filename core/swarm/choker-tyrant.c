/* choker-tyrant.c — BitTyrant (Piatek, Isdal, Anderson, Krishnamurthy,
 * Venkataramani, "Do incentives build robustness in BitTorrent?", NSDI
 * 2007, section 4): unchoke by the best return per byte, give each peer
 * just what it takes to be reciprocated.
 *
 * Each round the interested peers are ranked by d_p/u_p (what p gives us
 * when it unchokes us, over what we must give p for that) and unchoked in
 * that order until the sum of their u_p reaches our upload capacity; each
 * gets u_p as its upload weight, so the scheduler gives it about u_p.  The
 * estimates move at the end of each round (mb_tyrant_round; the rules are
 * in choker.h).
 *
 * Invariants: only interested candidates are unchoked; each unchoked one
 * has weight >= 1; the sum of the weights minus the last one is below the
 * capacity; no optimistic unchoke; no random draw; ties go to the lower
 * index; u_p stays in [capacity / 64, capacity].
 */
#include "swarm/choker-private.h"

/* u_p never falls below capacity / MB_TYRANT_MIN_DIV: at most that many
 * peers share the upload. */
#define MB_TYRANT_MIN_DIV 64

static guint64
tyrant_floor (const MbTyrantParams *tp)
{
  return MAX (tp->capacity / MB_TYRANT_MIN_DIV, 1);
}

static guint64
tyrant_clamp (guint64 u, const MbTyrantParams *tp)
{
  guint64 lo = tyrant_floor (tp);
  return CLAMP (u, lo, MAX (tp->capacity, lo));
}

guint64
mb_tyrant_u (const MbTyrantPeer *t, const MbTyrantParams *tp)
{
  if (t->u)
    return t->u;
  guint64 u = t->d ? t->d : tp->capacity / MAX (tp->peer_slots, 1);
  return tyrant_clamp (u, tp);
}

void
mb_tyrant_round (MbTyrantPeer *t, const MbTyrantParams *tp, const MbTyrantRound *r)
{
  if (r->it_unchoked_us)
    {
      t->recip_rounds++;
      if (r->observed_rate > 0)
        {
          t->d = r->observed_rate;
          t->d_observed = TRUE;
        }
    }
  else
    {
      t->recip_rounds = 0;
      if (!t->d_observed)
        t->d = r->announce_rate / MAX (tp->peer_slots, 1);
    }
  guint64 u = mb_tyrant_u (t, tp);
  if (r->we_unchoked)
    {
      if (!r->it_unchoked_us)
        u += MAX (u * tp->delta_pm / 1000, tp->delta_pm ? 1 : 0);
      else if (tp->rounds > 0 && t->recip_rounds >= tp->rounds)
        u -= u * MIN (tp->gamma_pm, 1000) / 1000;
    }
  t->u = tyrant_clamp (u, tp);
}

/* Rates kept below 2^32 so that the cross products fit in 64 bits. */
static guint64
small (guint64 x)
{
  return MIN (x, (guint64) G_MAXUINT32);
}

/* Whether a's d/u beats b's (strictly). */
static gboolean
tyrant_better (const MbChokeCandidate *a, const MbChokeCandidate *b)
{
  return small (a->tyrant_d) * small (MAX (b->tyrant_u, 1))
         > small (b->tyrant_d) * small (MAX (a->tyrant_u, 1));
}

MbChokeResult
mbi_choker_run_tyrant (const MbChokeCandidate *cands, guint n, const MbChokeParams *params,
                       gboolean *unchoke, guint64 *weight)
{
  MbChokeResult res = { .optimistic = -1, .cursor = params->cursor };
  guint64 sum = 0;
  for (;;)
    {
      if (params->capacity ? sum >= params->capacity
                           : res.n_unchoked >= params->regular_slots + 1)
        break;
      gint best = -1;
      for (guint i = 0; i < n; i++)
        if (cands[i].interested && !unchoke[i]
            && (best < 0 || tyrant_better (&cands[i], &cands[best])))
          best = (gint) i;
      if (best < 0)
        break;
      guint64 u = MAX (cands[best].tyrant_u, 1);
      unchoke[best] = TRUE;
      weight[best] = u;
      sum += u;
      res.n_unchoked++;
    }
  return res;
}
