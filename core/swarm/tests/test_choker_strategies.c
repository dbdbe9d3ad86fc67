/* test_choker_strategies.c — BitTyrant's ranking by d/u within the upload
 * capacity and its u_p adaptation (reciprocated, not reciprocated, the
 * announce-rate estimate), PropShare's proportional shares and optimistic
 * fraction, and both falling back to tft as seeds. */
#include <string.h>

#include "swarm/choker.h"

#define CAP 1000000u   /* bytes/s */

static MbChokeParams
params (MbStrategy s)
{
  MbChokeParams p = {
    .strategy = s,
    .regular_slots = 3,
    .optimistic = -1,
    .rotate_optimistic = TRUE,
    .capacity = CAP,
    .optimistic_share_pm = 200,
  };
  return p;
}

static MbTyrantParams
tyrant_params (void)
{
  MbTyrantParams tp = {
    .capacity = CAP,
    .peer_slots = 4,
    .gamma_pm = 100,
    .delta_pm = 200,
    .rounds = 3,
  };
  return tp;
}

static MbChokeCandidate
tyrant_cand (guint64 d, guint64 u)
{
  MbChokeCandidate c = { .interested = TRUE, .tyrant_d = d, .tyrant_u = u };
  return c;
}

/* Unchoked in decreasing d/u until the u_p sum reaches the capacity (the
 * one that crosses it included); weights are u_p; ties to the lower index;
 * a peer not interested is skipped whatever its ratio. */
static void
test_tyrant_ranks_by_d_over_u_within_capacity (void)
{
  MbChokeCandidate c[7] = {
    tyrant_cand (400000, 200000), /* 2 */
    tyrant_cand (600000, 200000), /* 3 */
    tyrant_cand (50000, 100000),  /* 0.5 */
    tyrant_cand (500000, 100000), /* 5 */
    tyrant_cand (300000, 100000), /* 3: ties with 1, after it */
    tyrant_cand (900000, 10000),  /* 90, but not interested */
    tyrant_cand (100000, 100000), /* 1 */
  };
  c[5].interested = FALSE;
  MbChokeParams p = params (MB_STRATEGY_BITTYRANT);
  gboolean u[7];
  guint64 w[7];
  g_autoptr (GRand) r = g_rand_new_with_seed (1);
  MbChokeResult res = mb_choker_run_weighted (c, 7, &p, r, u, w);
  /* 3 (100k), 1 (300k), 4 (400k), 0 (600k), 6 (700k): below 1M, so 2 too (800k) */
  g_assert_true (u[3] && u[1] && u[4] && u[0] && u[6] && u[2]);
  g_assert_false (u[5]);
  g_assert_cmpuint (res.n_unchoked, ==, 6);
  g_assert_cmpint (res.optimistic, ==, -1);
  for (guint i = 0; i < 7; i++)
    g_assert_cmpuint (w[i], ==, u[i] ? c[i].tyrant_u : 0);

  /* half the capacity: 3, 1, 4 (400k), then 0 crosses 500k: stop */
  p.capacity = CAP / 2;
  res = mb_choker_run_weighted (c, 7, &p, r, u, w);
  g_assert_true (u[3] && u[1] && u[4] && u[0]);
  g_assert_false (u[6] || u[2] || u[5]);
  g_assert_cmpuint (res.n_unchoked, ==, 4);

  /* the order is the ratio's, not d's: a cheap slow peer beats a dear fast one */
  MbChokeCandidate two[2] = { tyrant_cand (900000, 900000), tyrant_cand (100000, 20000) };
  p.capacity = 500000;
  mb_choker_run_weighted (two, 2, &p, r, u, w);
  g_assert_true (u[1]);
  g_assert_true (u[0]); /* 20k is below 500k: the next one too */
  p.capacity = 10000;
  mb_choker_run_weighted (two, 2, &p, r, u, w);
  g_assert_true (u[1] && !u[0]);

  /* capacity unknown: regular_slots + 1 peers, best ratios */
  p.capacity = 0;
  res = mb_choker_run_weighted (c, 7, &p, r, u, w);
  g_assert_cmpuint (res.n_unchoked, ==, 4);
  g_assert_true (u[3] && u[1] && u[4] && u[0]);
}

/* A BitTyrant or PropShare seed chokes as tft's round-robin seed, with
 * equal shares (weights 0). */
static void
test_strategies_as_seeds_choke_as_tft (void)
{
  MbChokeCandidate c[6];
  for (guint i = 0; i < 6; i++)
    {
      c[i] = tyrant_cand (1000 * (i + 1), 1000);
      c[i].last_unchoke = 100 - i; /* round robin: 5 first, then 4, 3 */
    }
  MbStrategy ss[] = { MB_STRATEGY_BITTYRANT, MB_STRATEGY_PROPSHARE, MB_STRATEGY_TFT };
  gboolean ref[6];
  for (guint k = 0; k < G_N_ELEMENTS (ss); k++)
    {
      MbChokeParams p = params (ss[k]);
      p.seed = TRUE;
      gboolean u[6];
      guint64 w[6];
      g_autoptr (GRand) r = g_rand_new_with_seed (9);
      MbChokeResult res = mb_choker_run_weighted (c, 6, &p, r, u, w);
      g_assert_cmpuint (res.n_unchoked, ==, 4);
      g_assert_true (u[5] && u[4] && u[3]);
      for (guint i = 0; i < 6; i++)
        g_assert_cmpuint (w[i], ==, 0);
      if (k == 0)
        memcpy (ref, u, sizeof ref);
      else
        g_assert_cmpmem (u, sizeof u, ref, sizeof ref); /* the same draw as tft's */
      g_assert_cmpint (mb_choker_effective (ss[k], TRUE), ==, MB_STRATEGY_TFT);
    }
  g_assert_cmpint (mb_choker_effective (MB_STRATEGY_BITTYRANT, FALSE), ==, MB_STRATEGY_BITTYRANT);
  g_assert_cmpint (mb_choker_effective (MB_STRATEGY_ALTRUIST, TRUE), ==, MB_STRATEGY_ALTRUIST);
}

/* u_p starts at d_p (the peer's equal split), or capacity / peer_slots
 * while d_p is unknown, within [capacity / 64, capacity]. */
static void
test_tyrant_u_starts_at_equal_split (void)
{
  MbTyrantParams tp = tyrant_params ();
  MbTyrantPeer t = { 0 };
  g_assert_cmpuint (mb_tyrant_u (&t, &tp), ==, CAP / 4);
  t.d = 40000;
  g_assert_cmpuint (mb_tyrant_u (&t, &tp), ==, 40000);
  t.d = 100;
  g_assert_cmpuint (mb_tyrant_u (&t, &tp), ==, CAP / 64);
  t.d = 5 * CAP;
  g_assert_cmpuint (mb_tyrant_u (&t, &tp), ==, CAP);
  t.u = 1234;
  g_assert_cmpuint (mb_tyrant_u (&t, &tp), ==, 1234);
}

/* Not reciprocated while we unchoke it: u_p grows by delta each round (up
 * to the capacity).  Reciprocated: d_p is what it gave; u_p is unchanged for
 * r - 1 rounds, then shrinks by gamma every round it still reciprocates.
 * Rounds we did not unchoke it leave u_p alone. */
static void
test_tyrant_adapts_u (void)
{
  MbTyrantParams tp = tyrant_params ();
  MbTyrantPeer t = { .d = 50000, .d_observed = TRUE };
  MbTyrantRound no = { .we_unchoked = TRUE, .it_unchoked_us = FALSE };
  mb_tyrant_round (&t, &tp, &no);
  g_assert_cmpuint (t.u, ==, 60000);      /* 50000 x 1.2 */
  mb_tyrant_round (&t, &tp, &no);
  g_assert_cmpuint (t.u, ==, 72000);
  g_assert_cmpuint (t.recip_rounds, ==, 0);
  for (guint k = 0; k < 20; k++)
    mb_tyrant_round (&t, &tp, &no);
  g_assert_cmpuint (t.u, ==, CAP);        /* at most the capacity */

  MbTyrantPeer s = { .d = 50000, .u = 100000 };
  MbTyrantRound yes = { .we_unchoked = TRUE, .it_unchoked_us = TRUE, .observed_rate = 80000 };
  mb_tyrant_round (&s, &tp, &yes);
  g_assert_cmpuint (s.d, ==, 80000);
  g_assert_true (s.d_observed);
  g_assert_cmpuint (s.u, ==, 100000);
  mb_tyrant_round (&s, &tp, &yes);
  g_assert_cmpuint (s.u, ==, 100000);
  mb_tyrant_round (&s, &tp, &yes);        /* the r-th (3rd) round in a row */
  g_assert_cmpuint (s.recip_rounds, ==, 3);
  g_assert_cmpuint (s.u, ==, 90000);
  mb_tyrant_round (&s, &tp, &yes);
  g_assert_cmpuint (s.u, ==, 81000);
  /* it stops: u_p grows again, and the count starts over */
  mb_tyrant_round (&s, &tp, &no);
  g_assert_cmpuint (s.u, ==, 97200);
  g_assert_cmpuint (s.recip_rounds, ==, 0);
  g_assert_cmpuint (s.d, ==, 80000);      /* the last observed rate stays */
  mb_tyrant_round (&s, &tp, &yes);
  mb_tyrant_round (&s, &tp, &yes);
  g_assert_cmpuint (s.u, ==, 97200);      /* not yet r rounds again */

  /* a round we did not unchoke it in moves d_p, never u_p */
  MbTyrantRound idle = { .it_unchoked_us = TRUE, .observed_rate = 30000 };
  mb_tyrant_round (&s, &tp, &idle);
  g_assert_cmpuint (s.u, ==, 97200);
  g_assert_cmpuint (s.d, ==, 30000);

  /* never below capacity / 64 */
  MbTyrantPeer f = { .d = 1, .u = CAP / 64 };
  for (guint k = 0; k < 10; k++)
    mb_tyrant_round (&f, &tp, &yes);
  g_assert_cmpuint (f.u, ==, CAP / 64);
}

/* Before it ever unchokes us, d_p is its announce rate over its assumed
 * active set (peer_slots); once observed, an announce no longer moves it. */
static void
test_tyrant_d_from_announces (void)
{
  MbTyrantParams tp = tyrant_params ();
  MbTyrantPeer t = { 0 };
  MbTyrantRound r = { .announce_rate = 400000 };
  mb_tyrant_round (&t, &tp, &r);
  g_assert_cmpuint (t.d, ==, 100000);
  g_assert_false (t.d_observed);
  g_assert_cmpuint (t.u, ==, 100000);     /* u_p starts at d_p */
  r.announce_rate = 800000;
  mb_tyrant_round (&t, &tp, &r);
  g_assert_cmpuint (t.d, ==, 200000);
  g_assert_cmpuint (t.u, ==, 100000);     /* set once */
  MbTyrantRound got = { .it_unchoked_us = TRUE, .observed_rate = 70000 };
  mb_tyrant_round (&t, &tp, &got);
  r.announce_rate = 4000000;
  mb_tyrant_round (&t, &tp, &r);
  g_assert_cmpuint (t.d, ==, 70000);
}

static MbChokeCandidate
prop_cand (gboolean interested, guint64 round_down)
{
  MbChokeCandidate c = { .interested = interested, .round_down = round_down };
  return c;
}

/* Contributors share 1 - f of the upload in proportion to what they gave;
 * the optimistic one gets f; one who gave but is not interested gets
 * nothing; the weights sum to 10^6. */
static void
test_propshare_proportional_with_optimistic_fraction (void)
{
  MbChokeCandidate c[6] = {
    prop_cand (TRUE, 300000), prop_cand (TRUE, 0), prop_cand (TRUE, 100000),
    prop_cand (FALSE, 500000), prop_cand (TRUE, 0), prop_cand (TRUE, 600000),
  };
  MbChokeParams p = params (MB_STRATEGY_PROPSHARE);
  for (guint32 seed = 1; seed <= 40; seed++)
    {
      gboolean u[6];
      guint64 w[6];
      g_autoptr (GRand) r = g_rand_new_with_seed (seed);
      MbChokeResult res = mb_choker_run_weighted (c, 6, &p, r, u, w);
      g_assert_true (u[0] && u[2] && u[5] && !u[3]);
      g_assert_cmpuint (w[0], ==, 240000);  /* 0.8 x 3/10 */
      g_assert_cmpuint (w[2], ==, 80000);   /* 0.8 x 1/10 */
      g_assert_cmpuint (w[5], ==, 480000);  /* 0.8 x 6/10 */
      g_assert_true (res.optimistic == 1 || res.optimistic == 4);
      g_assert_true (u[res.optimistic]);
      g_assert_cmpuint (w[res.optimistic], ==, 200000);
      g_assert_cmpuint (res.n_unchoked, ==, 4);
      guint64 sum = 0;
      for (guint i = 0; i < 6; i++)
        {
          sum += w[i];
          g_assert_true ((w[i] > 0) == u[i]);
        }
      g_assert_cmpuint (sum, ==, 1000000);
    }

  /* the optimistic is kept until a rotation */
  p.rotate_optimistic = FALSE;
  p.optimistic = 4;
  gboolean u[6];
  guint64 w[6];
  g_autoptr (GRand) r = g_rand_new_with_seed (3);
  MbChokeResult res = mb_choker_run_weighted (c, 6, &p, r, u, w);
  g_assert_cmpint (res.optimistic, ==, 4);
  g_assert_false (u[1]);

  /* f = 0: contributors only; f = 30%: 0.7 shared */
  p.optimistic_share_pm = 0;
  res = mb_choker_run_weighted (c, 6, &p, r, u, w);
  g_assert_cmpint (res.optimistic, ==, -1);
  g_assert_cmpuint (res.n_unchoked, ==, 3);
  g_assert_cmpuint (w[5], ==, 600000);
  p.optimistic_share_pm = 300;
  mb_choker_run_weighted (c, 6, &p, r, u, w);
  g_assert_cmpuint (w[5], ==, 420000);
  g_assert_cmpuint (w[4], ==, 300000);

  /* nobody gave: only the optimistic one */
  MbChokeCandidate z[3] = { prop_cand (TRUE, 0), prop_cand (TRUE, 0), prop_cand (FALSE, 9) };
  p.optimistic_share_pm = 200;
  p.optimistic = -1;
  p.rotate_optimistic = TRUE;
  res = mb_choker_run_weighted (z, 3, &p, r, u, w);
  g_assert_cmpuint (res.n_unchoked, ==, 1);
  g_assert_true (res.optimistic == 0 || res.optimistic == 1);
}

/* Huge contributions do not overflow the proportional split. */
static void
test_propshare_large_contributions (void)
{
  MbChokeCandidate c[2] = { prop_cand (TRUE, G_GUINT64_CONSTANT (3) << 50),
                            prop_cand (TRUE, G_GUINT64_CONSTANT (1) << 50) };
  MbChokeParams p = params (MB_STRATEGY_PROPSHARE);
  p.optimistic_share_pm = 0;
  gboolean u[2];
  guint64 w[2];
  g_autoptr (GRand) r = g_rand_new_with_seed (1);
  mb_choker_run_weighted (c, 2, &p, r, u, w);
  g_assert_cmpuint (w[0], ==, 750000);
  g_assert_cmpuint (w[1], ==, 250000);
}

/* Equal inputs and seeds, equal decisions (the simulator's determinism). */
static void
test_strategies_deterministic (void)
{
  MbChokeCandidate c[12];
  for (guint i = 0; i < 12; i++)
    {
      c[i] = tyrant_cand ((i * 7919) % 1000 * 1000, (i * 104729) % 500 * 1000 + 1000);
      c[i].round_down = (i % 3) * 1000;
      c[i].is_new = i % 4 == 0;
    }
  MbStrategy ss[] = { MB_STRATEGY_BITTYRANT, MB_STRATEGY_PROPSHARE };
  for (guint k = 0; k < 2; k++)
    {
      MbChokeParams p = params (ss[k]);
      g_autoptr (GRand) r1 = g_rand_new_with_seed (77);
      g_autoptr (GRand) r2 = g_rand_new_with_seed (77);
      for (guint round = 0; round < 50; round++)
        {
          gboolean u1[12], u2[12];
          guint64 w1[12], w2[12];
          MbChokeResult a = mb_choker_run_weighted (c, 12, &p, r1, u1, w1);
          MbChokeResult b = mb_choker_run_weighted (c, 12, &p, r2, u2, w2);
          g_assert_cmpint (a.optimistic, ==, b.optimistic);
          g_assert_cmpmem (u1, sizeof u1, u2, sizeof u2);
          g_assert_cmpmem (w1, sizeof w1, w2, sizeof w2);
          /* without weights asked for, the same unchokes */
          g_autoptr (GRand) r3 = g_rand_new_with_seed (round);
          g_autoptr (GRand) r4 = g_rand_new_with_seed (round);
          mb_choker_run_weighted (c, 12, &p, r3, u1, w1);
          mb_choker_run (c, 12, &p, r4, u2);
          g_assert_cmpmem (u1, sizeof u1, u2, sizeof u2);
        }
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/choker/bittyrant/ranks-by-d-over-u-within-capacity",
                   test_tyrant_ranks_by_d_over_u_within_capacity);
  g_test_add_func ("/choker/bittyrant/u-starts-at-equal-split",
                   test_tyrant_u_starts_at_equal_split);
  g_test_add_func ("/choker/bittyrant/adapts-u", test_tyrant_adapts_u);
  g_test_add_func ("/choker/bittyrant/d-from-announces", test_tyrant_d_from_announces);
  g_test_add_func ("/choker/propshare/proportional-with-optimistic-fraction",
                   test_propshare_proportional_with_optimistic_fraction);
  g_test_add_func ("/choker/propshare/large-contributions", test_propshare_large_contributions);
  g_test_add_func ("/choker/strategies/seeds-choke-as-tft",
                   test_strategies_as_seeds_choke_as_tft);
  g_test_add_func ("/choker/strategies/deterministic", test_strategies_deterministic);
  return g_test_run ();
}
