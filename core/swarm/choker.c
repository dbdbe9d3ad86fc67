/* choker.c — whom to serve: tit-for-tat, freerider and altruist choking,
 * and the dispatch to bittyrant (choker-tyrant.c) and propshare
 * (choker-propshare.c).
 *
 * A pure function of (candidates, params, rand): no state survives a call
 * except what the caller keeps from MbChokeResult (optimistic, cursor).
 * Invariants of every result:
 *  - only interested candidates are unchoked;
 *  - tft: at most `regular_slots` regular unchokes, all interested and not
 *    snubbed, ranked by rate (down_rate as a leecher, up_rate as a seed in
 *    fastest mode) descending, or in round robin as a seed, with ties to the
 *    lower index; plus at most one optimistic
 *    unchoke that is never also a regular one;
 *  - freerider: nothing unchoked; altruist: at most regular_slots + 1, taken
 *    round-robin from the cursor;
 *  - the only random draw is the optimistic one, taken from the GRand passed
 *    in, so equal inputs and seeds give equal results;
 *  - weights are 0 but for bittyrant and propshare leechers, where every
 *    unchoked candidate has one above 0.
 */
#include "swarm/choker-private.h"

#include <string.h>

#define MB_CHOKER_NEW_WEIGHT 3
#define MB_CHOKER_OLD_WEIGHT 1

static const char *const mb_strategy_names[MB_STRATEGY_N] = {
  [MB_STRATEGY_TFT] = "tft",
  [MB_STRATEGY_FREERIDER] = "freerider",
  [MB_STRATEGY_ALTRUIST] = "altruist",
  [MB_STRATEGY_BITTYRANT] = "bittyrant",
  [MB_STRATEGY_PROPSHARE] = "propshare",
};

static const char *const mb_seed_choke_names[MB_SEED_CHOKE_N] = {
  [MB_SEED_CHOKE_ROUND_ROBIN] = "round-robin",
  [MB_SEED_CHOKE_FASTEST] = "fastest",
};

const char *
mb_seed_choke_name (MbSeedChoke s)
{
  return (guint) s < MB_SEED_CHOKE_N ? mb_seed_choke_names[s] : "unknown";
}

gint
mb_seed_choke_from_name (const char *name)
{
  for (guint s = 0; name && s < MB_SEED_CHOKE_N; s++)
    if (strcmp (name, mb_seed_choke_names[s]) == 0)
      return (gint) s;
  return -1;
}

const char *
mb_strategy_name (MbStrategy s)
{
  if ((guint) s >= MB_STRATEGY_N)
    return "unknown";
  return mb_strategy_names[s];
}

gint
mb_strategy_from_name (const char *name)
{
  if (name == NULL)
    return -1;
  for (guint s = 0; s < MB_STRATEGY_N; s++)
    if (strcmp (name, mb_strategy_names[s]) == 0)
      return (gint) s;
  return -1;
}

static guint64
mb_choker_rate (const MbChokeCandidate *c, gboolean seed)
{
  return seed ? c->up_rate : c->down_rate;
}

static gboolean
mb_choker_regular_eligible (const MbChokeCandidate *c)
{
  return c->interested && !c->snubbed;
}

/* Whether a should be preferred to b by a round-robin seed. */
static gboolean
mb_choker_rr_before (const MbChokeCandidate *a, const MbChokeCandidate *b, guint64 quota)
{
  gboolean mid_a = a->unchoked && a->mid_piece, mid_b = b->unchoked && b->mid_piece;
  if (mid_a != mid_b)
    return mid_a;
  gboolean keep_a = a->unchoked && a->up_since_unchoke < quota;
  gboolean keep_b = b->unchoked && b->up_since_unchoke < quota;
  if (keep_a != keep_b)
    return keep_a;
  return a->last_unchoke < b->last_unchoke;
}

/* The best eligible candidate not yet unchoked (strictly better wins, so a
 * scan in index order gives ties to the lower index); -1 if none. */
static gint
mb_choker_best_remaining (const MbChokeCandidate *cands, guint n,
                          const MbChokeParams *params, const gboolean *unchoke)
{
  gboolean rr = params->seed && params->seed_choke == MB_SEED_CHOKE_ROUND_ROBIN;
  gint best = -1;
  guint64 best_rate = 0;
  for (guint i = 0; i < n; i++)
    {
      if (unchoke[i] || !mb_choker_regular_eligible (&cands[i]))
        continue;
      if (rr)
        {
          if (best < 0 || mb_choker_rr_before (&cands[i], &cands[best], params->seed_quota))
            best = (gint) i;
          continue;
        }
      guint64 r = mb_choker_rate (&cands[i], params->seed);
      if (best < 0 || r > best_rate)
        {
          best = (gint) i;
          best_rate = r;
        }
    }
  return best;
}

/* Fills the regular slots; returns how many were filled.  O(slots * n), and
 * n is the number of connections (tens), so no sort is needed. */
static guint
mb_choker_fill_regular (const MbChokeCandidate *cands, guint n, const MbChokeParams *params,
                        guint slots, gboolean *unchoke)
{
  guint filled = 0;
  while (filled < slots)
    {
      gint best = mb_choker_best_remaining (cands, n, params, unchoke);
      if (best < 0)
        break;
      unchoke[best] = TRUE;
      filled++;
    }
  return filled;
}

static guint
mb_choker_weight (const MbChokeCandidate *c)
{
  return c->is_new ? MB_CHOKER_NEW_WEIGHT : MB_CHOKER_OLD_WEIGHT;
}

static gboolean
mb_choker_optimistic_eligible (const MbChokeCandidate *cands, guint i,
                               const gboolean *unchoke)
{
  return cands[i].interested && !unchoke[i];
}

/* Draws an optimistic among interested candidates without a regular slot,
 * new connections weighted 3 to 1; -1 if there is none. */
static gint
mb_choker_draw_optimistic (const MbChokeCandidate *cands, guint n,
                           const gboolean *unchoke, GRand *rand)
{
  guint total = 0;
  for (guint i = 0; i < n; i++)
    if (mb_choker_optimistic_eligible (cands, i, unchoke))
      total += mb_choker_weight (&cands[i]);
  if (total == 0)
    return -1;
  guint r = (guint) g_rand_int_range (rand, 0, (gint32) total);
  for (guint i = 0; i < n; i++)
    {
      if (!mb_choker_optimistic_eligible (cands, i, unchoke))
        continue;
      guint w = mb_choker_weight (&cands[i]);
      if (r < w)
        return (gint) i;
      r -= w;
    }
  g_assert_not_reached ();
  return -1;
}

gint
mbi_choker_choose_optimistic (const MbChokeCandidate *cands, guint n,
                              const MbChokeParams *params, const gboolean *unchoke,
                              GRand *rand)
{
  gint cur = params->optimistic;
  if (!params->rotate_optimistic && cur >= 0 && (guint) cur < n
      && mb_choker_optimistic_eligible (cands, (guint) cur, unchoke))
    return cur;
  return mb_choker_draw_optimistic (cands, n, unchoke, rand);
}

static MbChokeResult
mb_choker_run_tft (const MbChokeCandidate *cands, guint n,
                   const MbChokeParams *params, GRand *rand, gboolean *unchoke)
{
  MbChokeResult res = { .optimistic = -1, .cursor = params->cursor };
  guint spare = params->seed ? 0 : MIN (params->spare_slots, params->regular_slots);
  res.n_unchoked = mb_choker_fill_regular (cands, n, params,
                                           params->regular_slots - spare, unchoke);
  if (spare > 0)
    {
      /* the spare slots, as a round-robin seed with no quota fills them */
      MbChokeParams rr = *params;
      rr.seed = TRUE;
      rr.seed_choke = MB_SEED_CHOKE_ROUND_ROBIN;
      rr.seed_quota = 0;
      res.n_unchoked += mb_choker_fill_regular (cands, n, &rr, spare, unchoke);
    }
  res.optimistic = mbi_choker_choose_optimistic (cands, n, params, unchoke, rand);
  if (res.optimistic >= 0)
    {
      unchoke[res.optimistic] = TRUE;
      res.n_unchoked++;
    }
  return res;
}

static MbChokeResult
mb_choker_run_altruist (const MbChokeCandidate *cands, guint n,
                        const MbChokeParams *params, gboolean *unchoke)
{
  MbChokeResult res = { .optimistic = -1, .cursor = params->cursor };
  if (n == 0)
    return res;
  guint want = params->regular_slots + 1;
  guint start = params->cursor % n;
  for (guint k = 0; k < n && res.n_unchoked < want; k++)
    {
      guint i = (start + k) % n;
      if (!cands[i].interested)
        continue;
      unchoke[i] = TRUE;
      res.n_unchoked++;
      res.cursor = (i + 1) % n;
    }
  return res;
}

MbStrategy
mb_choker_effective (MbStrategy s, gboolean seed)
{
  if (seed && (s == MB_STRATEGY_BITTYRANT || s == MB_STRATEGY_PROPSHARE))
    return MB_STRATEGY_TFT;
  return s;
}

MbChokeResult
mb_choker_run_weighted (const MbChokeCandidate *cands, guint n, const MbChokeParams *params,
                        GRand *rand, gboolean *unchoke, guint64 *weight)
{
  MbChokeResult none = { .optimistic = -1, .cursor = 0, .n_unchoked = 0 };
  g_return_val_if_fail (params != NULL, none);
  g_return_val_if_fail (n == 0 || (cands != NULL && unchoke != NULL), none);

  none.cursor = params->cursor;
  for (guint i = 0; i < n; i++)
    unchoke[i] = FALSE;
  for (guint i = 0; weight && i < n; i++)
    weight[i] = 0;

  MbStrategy s = mb_choker_effective (params->strategy, params->seed);
  if (s == MB_STRATEGY_TFT || s == MB_STRATEGY_PROPSHARE)
    g_return_val_if_fail (rand != NULL, none);
  switch (s)
    {
    case MB_STRATEGY_TFT:
      return mb_choker_run_tft (cands, n, params, rand, unchoke);
    case MB_STRATEGY_ALTRUIST:
      return mb_choker_run_altruist (cands, n, params, unchoke);
    case MB_STRATEGY_BITTYRANT:
    case MB_STRATEGY_PROPSHARE:
      {
        /* the weights are part of the decision: computed even if unwanted */
        guint64 *w = weight ? weight : g_new0 (guint64, MAX (n, 1));
        MbChokeResult res = s == MB_STRATEGY_BITTYRANT
                            ? mbi_choker_run_tyrant (cands, n, params, unchoke, w)
                            : mbi_choker_run_propshare (cands, n, params, rand, unchoke, w);
        if (w != weight)
          g_free (w);
        return res;
      }
    case MB_STRATEGY_FREERIDER:
    case MB_STRATEGY_N:
    default:
      return none;
    }
}

MbChokeResult
mb_choker_run (const MbChokeCandidate *cands, guint n,
               const MbChokeParams *params, GRand *rand, gboolean *unchoke)
{
  return mb_choker_run_weighted (cands, n, params, rand, unchoke, NULL);
}
