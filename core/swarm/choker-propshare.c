/* choker-propshare.c — PropShare (Levin, LaCurts, Spring, Bhattacharjee,
 * "BitTorrent is an Auction: Analyzing and Improving BitTorrent's
 * Incentives", SIGCOMM 2008, section 5): the upload is split among the
 * peers that uploaded to us in the last round, in proportion to what each
 * gave, less a fraction f kept for an optimistic unchoke of someone else.
 *
 * Weights are parts per million of the upload: contributor i gets
 * (1 - f) x 10^6 x b_i / sum b, the optimistic one f x 10^6.  The
 * scheduler is work-conserving: what a peer does not take goes to the
 * others in the same proportions (so with no contributor the optimistic
 * peer gets it all, and with no one to unchoke optimistically the
 * contributors share it all).
 *
 * Invariants: only interested candidates are unchoked; every interested
 * contributor (round_down > 0) is, with weight >= 1; at most one other,
 * the optimistic one, chosen as tft chooses it (kept until a rotation,
 * new connections 3 times as likely), and only if f > 0.
 */
#include "swarm/choker-private.h"

#define MB_PROPSHARE_PPM 1000000u

MbChokeResult
mbi_choker_run_propshare (const MbChokeCandidate *cands, guint n, const MbChokeParams *params,
                          GRand *rand, gboolean *unchoke, guint64 *weight)
{
  MbChokeResult res = { .optimistic = -1, .cursor = params->cursor };
  guint share_pm = MIN (params->optimistic_share_pm, 1000u);
  guint64 total = 0;
  for (guint i = 0; i < n; i++)
    if (cands[i].interested)
      total += cands[i].round_down;
  guint64 pool = (guint64) (1000u - share_pm) * (MB_PROPSHARE_PPM / 1000u);
  /* pool x b_i must fit in 64 bits (pool < 2^20, so b_i < 2^40 does) */
  guint shift = 0;
  while ((total >> shift) >= (G_GUINT64_CONSTANT (1) << 40))
    shift++;
  for (guint i = 0; total > 0 && i < n; i++)
    {
      if (!cands[i].interested || cands[i].round_down == 0)
        continue;
      guint64 w = pool * (cands[i].round_down >> shift) / MAX (total >> shift, 1);
      unchoke[i] = TRUE;
      weight[i] = MAX (w, 1);
      res.n_unchoked++;
    }
  if (share_pm == 0)
    return res;
  res.optimistic = mbi_choker_choose_optimistic (cands, n, params, unchoke, rand);
  if (res.optimistic >= 0)
    {
      unchoke[res.optimistic] = TRUE;
      weight[res.optimistic] = (guint64) share_pm * (MB_PROPSHARE_PPM / 1000u);
      res.n_unchoked++;
    }
  return res;
}
