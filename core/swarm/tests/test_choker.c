/* test_choker.c — tit-for-tat slots, optimistic rotation and weighting,
 * snubbing, seeds, freeriders, altruists and strategy names. */
#include "swarm/choker.h"

static MbChokeParams
tft_params (void)
{
  MbChokeParams p = {
    .strategy = MB_STRATEGY_TFT,
    .regular_slots = 3,
    .seed = FALSE,
    .optimistic = -1,
    .rotate_optimistic = TRUE,
    .cursor = 0,
  };
  return p;
}

/* n interested candidates; candidate i uploads to us at (i + 1) * 100 B/s and
 * we upload to it at (n - i) * 100 B/s. */
static void
fill_interested (MbChokeCandidate *c, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      MbChokeCandidate x = {
        .interested = TRUE,
        .down_rate = (i + 1) * 100,
        .up_rate = (n - i) * 100,
      };
      c[i] = x;
    }
}

static guint
count_true (const gboolean *u, guint n)
{
  guint k = 0;
  for (guint i = 0; i < n; i++)
    k += u[i] ? 1 : 0;
  return k;
}

static void
test_choker_tft_three_regular_plus_one_optimistic (void)
{
  MbChokeCandidate c[10];
  gboolean u[10];
  fill_interested (c, 10);
  MbChokeParams p = tft_params ();
  for (guint32 seed = 1; seed <= 50; seed++)
    {
      g_autoptr (GRand) r = g_rand_new_with_seed (seed);
      MbChokeResult res = mb_choker_run (c, 10, &p, r, u);
      g_assert_cmpuint (res.n_unchoked, ==, 4);
      g_assert_cmpuint (count_true (u, 10), ==, 4);
      /* the top three by down_rate: 9, 8, 7 */
      g_assert_true (u[9] && u[8] && u[7]);
      g_assert_cmpint (res.optimistic, >=, 0);
      g_assert_cmpint (res.optimistic, <, 7);
      g_assert_true (u[res.optimistic]);
    }
}

static void
test_choker_tft_ties_go_to_lower_index (void)
{
  MbChokeCandidate c[6];
  gboolean u[6];
  fill_interested (c, 6);
  for (guint i = 0; i < 6; i++)
    c[i].down_rate = 500;
  MbChokeParams p = tft_params ();
  p.optimistic = 5;
  p.rotate_optimistic = FALSE;
  g_autoptr (GRand) r = g_rand_new_with_seed (7);
  MbChokeResult res = mb_choker_run (c, 6, &p, r, u);
  g_assert_true (u[0] && u[1] && u[2]);
  g_assert_false (u[3] || u[4]);
  g_assert_cmpint (res.optimistic, ==, 5);
}

static void
test_choker_optimistic_kept_without_rotation (void)
{
  MbChokeCandidate c[10];
  gboolean u[10];
  fill_interested (c, 10);
  MbChokeParams p = tft_params ();
  p.rotate_optimistic = FALSE;
  p.optimistic = 2;
  for (guint32 seed = 1; seed <= 100; seed++)
    {
      g_autoptr (GRand) r = g_rand_new_with_seed (seed);
      MbChokeResult res = mb_choker_run (c, 10, &p, r, u);
      g_assert_cmpint (res.optimistic, ==, 2);
      g_assert_true (u[2]);
      g_assert_cmpuint (res.n_unchoked, ==, 4);
    }
}

static void
test_choker_optimistic_redrawn_on_rotation (void)
{
  MbChokeCandidate c[10];
  gboolean u[10];
  fill_interested (c, 10);
  MbChokeParams p = tft_params ();
  p.rotate_optimistic = TRUE;
  p.optimistic = 2;
  guint changed = 0;
  for (guint32 seed = 1; seed <= 200; seed++)
    {
      g_autoptr (GRand) r = g_rand_new_with_seed (seed);
      MbChokeResult res = mb_choker_run (c, 10, &p, r, u);
      g_assert_cmpint (res.optimistic, >=, 0);
      g_assert_cmpint (res.optimistic, <, 7);  /* never a regular (7, 8, 9) */
      if (res.optimistic != 2)
        changed++;
    }
  g_assert_cmpuint (changed, >, 100);
  g_assert_cmpuint (changed, <, 200);
}

static void
test_choker_optimistic_redrawn_when_it_became_regular (void)
{
  MbChokeCandidate c[10];
  gboolean u[10];
  fill_interested (c, 10);
  MbChokeParams p = tft_params ();
  p.rotate_optimistic = FALSE;
  p.optimistic = 9;  /* now the best uploader: a regular slot */
  g_autoptr (GRand) r = g_rand_new_with_seed (3);
  MbChokeResult res = mb_choker_run (c, 10, &p, r, u);
  g_assert_cmpint (res.optimistic, >=, 0);
  g_assert_cmpint (res.optimistic, <, 7);
  g_assert_cmpuint (res.n_unchoked, ==, 4);
}

static void
test_choker_optimistic_favours_new_connections_3_to_1 (void)
{
  /* 3 regulars plus two others: candidate 0 is new, candidate 1 is not. */
  MbChokeCandidate c[5];
  gboolean u[5];
  fill_interested (c, 5);
  c[0].is_new = TRUE;
  MbChokeParams p = tft_params ();
  g_autoptr (GRand) r = g_rand_new_with_seed (20240601);
  guint n_new = 0, n_old = 0;
  for (guint k = 0; k < 20000; k++)
    {
      MbChokeResult res = mb_choker_run (c, 5, &p, r, u);
      g_assert_true (res.optimistic == 0 || res.optimistic == 1);
      if (res.optimistic == 0)
        n_new++;
      else
        n_old++;
    }
  gdouble ratio = (gdouble) n_new / (gdouble) n_old;
  g_assert_cmpfloat (ratio, >=, 2.5);
  g_assert_cmpfloat (ratio, <=, 3.5);
}

static void
test_choker_snubbed_peer_loses_regular_slot (void)
{
  MbChokeCandidate c[10];
  gboolean u[10];
  fill_interested (c, 10);
  c[9].snubbed = TRUE;  /* the best rate */
  MbChokeParams p = tft_params ();
  p.rotate_optimistic = FALSE;
  p.optimistic = 0;
  g_autoptr (GRand) r = g_rand_new_with_seed (1);
  MbChokeResult res = mb_choker_run (c, 10, &p, r, u);
  g_assert_false (u[9]);
  g_assert_true (u[8] && u[7] && u[6]);
  g_assert_cmpint (res.optimistic, ==, 0);

  /* ...but it may still be the optimistic unchoke. */
  p.optimistic = 9;
  res = mb_choker_run (c, 10, &p, r, u);
  g_assert_cmpint (res.optimistic, ==, 9);
  g_assert_true (u[9] && u[8] && u[7] && u[6]);
  g_assert_cmpuint (res.n_unchoked, ==, 4);
}

static void
test_choker_seed_ranks_by_up_rate (void)
{
  MbChokeCandidate c[10];
  gboolean u[10];
  fill_interested (c, 10);  /* up_rate is highest for low indices */
  MbChokeParams p = tft_params ();
  p.seed = TRUE;
  p.rotate_optimistic = FALSE;
  p.optimistic = 9;
  g_autoptr (GRand) r = g_rand_new_with_seed (1);
  MbChokeResult res = mb_choker_run (c, 10, &p, r, u);
  g_assert_true (u[0] && u[1] && u[2]);
  g_assert_cmpint (res.optimistic, ==, 9);
  g_assert_cmpuint (count_true (u, 10), ==, 4);
}

static void
test_choker_freerider_unchokes_no_one (void)
{
  MbChokeCandidate c[10];
  gboolean u[10];
  fill_interested (c, 10);
  MbChokeParams p = tft_params ();
  p.strategy = MB_STRATEGY_FREERIDER;
  p.optimistic = 3;
  g_autoptr (GRand) r = g_rand_new_with_seed (1);
  MbChokeResult res = mb_choker_run (c, 10, &p, r, u);
  g_assert_cmpuint (res.n_unchoked, ==, 0);
  g_assert_cmpuint (count_true (u, 10), ==, 0);
  g_assert_cmpint (res.optimistic, ==, -1);
}

static void
test_choker_altruist_cycles_through_all_interested (void)
{
  MbChokeCandidate c[11];
  gboolean u[11];
  fill_interested (c, 11);
  c[4].interested = FALSE;
  c[7].interested = FALSE;
  MbChokeParams p = tft_params ();
  p.strategy = MB_STRATEGY_ALTRUIST;
  p.cursor = 0;
  g_autoptr (GRand) r = g_rand_new_with_seed (1);
  guint served[11] = { 0 };
  /* 9 interested, 4 per round: 9 rounds serve each exactly 4 times. */
  for (guint round = 0; round < 9; round++)
    {
      MbChokeResult res = mb_choker_run (c, 11, &p, r, u);
      g_assert_cmpuint (res.n_unchoked, ==, 4);
      g_assert_cmpuint (count_true (u, 11), ==, 4);
      g_assert_cmpint (res.optimistic, ==, -1);
      for (guint i = 0; i < 11; i++)
        served[i] += u[i] ? 1 : 0;
      p.cursor = res.cursor;
    }
  for (guint i = 0; i < 11; i++)
    g_assert_cmpuint (served[i], ==, (i == 4 || i == 7) ? 0 : 4);

  /* the first round starts at the cursor and takes them in order */
  p.cursor = 3;
  MbChokeResult res = mb_choker_run (c, 11, &p, r, u);
  g_assert_true (u[3] && u[5] && u[6] && u[8]);
  g_assert_cmpuint (res.cursor, ==, 9);
}

static void
test_choker_not_interested_never_unchoked (void)
{
  MbChokeCandidate c[12];
  gboolean u[12];
  fill_interested (c, 12);
  for (guint i = 0; i < 12; i += 2)
    c[i].interested = FALSE;  /* includes high rates and new ones */
  c[10].is_new = TRUE;
  for (MbStrategy s = 0; s < MB_STRATEGY_N; s++)
    for (guint32 seed = 1; seed <= 50; seed++)
      {
        MbChokeParams p = tft_params ();
        p.strategy = s;
        p.optimistic = 10;
        p.rotate_optimistic = seed & 1;
        p.cursor = seed;
        g_autoptr (GRand) r = g_rand_new_with_seed (seed);
        mb_choker_run (c, 12, &p, r, u);
        for (guint i = 0; i < 12; i += 2)
          g_assert_false (u[i]);
      }

  /* nobody interested: nothing, not even an optimistic */
  for (guint i = 0; i < 12; i++)
    c[i].interested = FALSE;
  MbChokeParams p = tft_params ();
  g_autoptr (GRand) r = g_rand_new_with_seed (1);
  MbChokeResult res = mb_choker_run (c, 12, &p, r, u);
  g_assert_cmpuint (res.n_unchoked, ==, 0);
  g_assert_cmpint (res.optimistic, ==, -1);
}

static void
test_choker_same_seed_same_result (void)
{
  MbChokeCandidate c[20];
  gboolean u1[20], u2[20];
  fill_interested (c, 20);
  MbChokeParams p = tft_params ();
  g_autoptr (GRand) r1 = g_rand_new_with_seed (99);
  g_autoptr (GRand) r2 = g_rand_new_with_seed (99);
  for (guint k = 0; k < 100; k++)
    {
      MbChokeResult a = mb_choker_run (c, 20, &p, r1, u1);
      MbChokeResult b = mb_choker_run (c, 20, &p, r2, u2);
      g_assert_cmpint (a.optimistic, ==, b.optimistic);
      g_assert_cmpmem (u1, sizeof u1, u2, sizeof u2);
    }
}

/* spare_slots: a leecher with 5 regular slots of which 2 are spare ranks 3
 * by what they gave us and gives the other 2 to the peers unchoked longest
 * ago (never first), whatever they gave; a seed ignores spare_slots. */
static void
test_choker_spare_slots_round_robin (void)
{
  MbChokeCandidate c[8];
  gboolean u[8];
  fill_interested (c, 8);    /* down_rate (i + 1) * 100: 7, 6, 5 are the best */
  for (guint i = 0; i < 8; i++)
    c[i].last_unchoke = 100 + i;
  c[2].last_unchoke = 0;     /* never unchoked */
  c[4].last_unchoke = 20;
  c[6].last_unchoke = 10;    /* oldest, but a top uploader: regular already */
  MbChokeParams p = tft_params ();
  p.regular_slots = 5;
  p.spare_slots = 2;
  p.optimistic = 0;
  p.rotate_optimistic = FALSE;
  g_autoptr (GRand) r = g_rand_new_with_seed (3);
  MbChokeResult res = mb_choker_run (c, 8, &p, r, u);
  g_assert_true (u[7] && u[6] && u[5]);  /* by rate */
  g_assert_true (u[2] && u[4]);          /* spare: never, then oldest */
  g_assert_false (u[1] || u[3]);
  g_assert_cmpint (res.optimistic, ==, 0);
  g_assert_cmpuint (res.n_unchoked, ==, 6);
  /* without spare slots the same five go by rate: 7, 6, 5, 4, 3 */
  p.spare_slots = 0;
  mb_choker_run (c, 8, &p, r, u);
  g_assert_true (u[7] && u[6] && u[5] && u[4] && u[3]);
  g_assert_false (u[2] || u[1]);
  /* more spare slots than slots: all five round robin (2, 6, 4, 0, 1), and
   * the optimistic, now a regular, is drawn again among the others */
  p.spare_slots = 9;
  res = mb_choker_run (c, 8, &p, r, u);
  g_assert_true (u[2] && u[6] && u[4] && u[0] && u[1]);
  g_assert_cmpint (res.optimistic, >=, 3);
  g_assert_cmpint (res.optimistic, !=, 4);
  g_assert_cmpint (res.optimistic, !=, 6);
  g_assert_cmpuint (count_true (u, 8), ==, 6);
  /* a seed (fastest) ignores spare_slots */
  p.seed = TRUE;
  p.seed_choke = MB_SEED_CHOKE_FASTEST;
  p.spare_slots = 2;
  mb_choker_run (c, 8, &p, r, u);
  g_assert_true (u[0] && u[1] && u[2] && u[3] && u[4]);  /* up_rate (n - i) * 100 */
}

static void
test_choker_strategy_names_round_trip (void)
{
  g_assert_cmpstr (mb_strategy_name (MB_STRATEGY_TFT), ==, "tft");
  g_assert_cmpstr (mb_strategy_name (MB_STRATEGY_FREERIDER), ==, "freerider");
  g_assert_cmpstr (mb_strategy_name (MB_STRATEGY_ALTRUIST), ==, "altruist");
  g_assert_cmpstr (mb_strategy_name (MB_STRATEGY_BITTYRANT), ==, "bittyrant");
  g_assert_cmpstr (mb_strategy_name (MB_STRATEGY_PROPSHARE), ==, "propshare");
  for (MbStrategy s = 0; s < MB_STRATEGY_N; s++)
    g_assert_cmpint (mb_strategy_from_name (mb_strategy_name (s)), ==, (gint) s);
  g_assert_cmpint (mb_strategy_from_name ("greedy"), ==, -1);
  g_assert_cmpint (mb_strategy_from_name (""), ==, -1);
  g_assert_cmpint (mb_strategy_from_name (NULL), ==, -1);
}

/* A round-robin seed keeps a peer that got less than its quota, then serves
 * the peers unchoked longest ago (never first), whatever the rates. */
static void
test_seed_round_robin (void)
{
  MbChokeCandidate c[6];
  fill_interested (c, 6);
  /* 0: unchoked, below quota; 1: unchoked, quota used; 2..5: choked, last
   * unchoked at 50, never, 30, 40 */
  c[0].unchoked = TRUE; c[0].up_since_unchoke = 10; c[0].last_unchoke = 90;
  c[1].unchoked = TRUE; c[1].up_since_unchoke = 1000; c[1].last_unchoke = 80;
  c[2].last_unchoke = 50;
  c[3].last_unchoke = 0;
  c[4].last_unchoke = 30;
  c[5].last_unchoke = 40;
  MbChokeParams p = tft_params ();
  p.seed = TRUE;
  p.seed_choke = MB_SEED_CHOKE_ROUND_ROBIN;
  p.seed_quota = 100;
  p.rotate_optimistic = FALSE;
  p.optimistic = 2;  /* kept: 2 is not among the regulars */
  gboolean un[6];
  g_autoptr (GRand) r = g_rand_new_with_seed (1);
  MbChokeResult res = mb_choker_run (c, 6, &p, r, un);
  g_assert_true (un[0] && un[3] && un[4]);   /* kept, then never, then oldest */
  g_assert_false (un[1] || un[5]);
  g_assert_cmpint (res.optimistic, ==, 2);
  g_assert_cmpuint (res.n_unchoked, ==, 4);
  /* the same inputs in fastest mode rank by our upload rate instead */
  p.seed_choke = MB_SEED_CHOKE_FASTEST;
  p.optimistic = -1;
  p.rotate_optimistic = TRUE;
  mb_choker_run (c, 6, &p, r, un);
  g_assert_true (un[0] && un[1] && un[2]);   /* up_rate (n - i) * 100: highest first */
  g_assert_cmpstr (mb_seed_choke_name (MB_SEED_CHOKE_ROUND_ROBIN), ==, "round-robin");
  g_assert_cmpint (mb_seed_choke_from_name ("fastest"), ==, MB_SEED_CHOKE_FASTEST);
  g_assert_cmpint (mb_seed_choke_from_name ("bogus"), ==, -1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/choker/tft/three-regular-plus-one-optimistic",
                   test_choker_tft_three_regular_plus_one_optimistic);
  g_test_add_func ("/choker/tft/ties-go-to-lower-index",
                   test_choker_tft_ties_go_to_lower_index);
  g_test_add_func ("/choker/optimistic/kept-without-rotation",
                   test_choker_optimistic_kept_without_rotation);
  g_test_add_func ("/choker/optimistic/redrawn-on-rotation-never-a-regular",
                   test_choker_optimistic_redrawn_on_rotation);
  g_test_add_func ("/choker/optimistic/redrawn-when-it-became-regular",
                   test_choker_optimistic_redrawn_when_it_became_regular);
  g_test_add_func ("/choker/optimistic/new-connections-3-to-1",
                   test_choker_optimistic_favours_new_connections_3_to_1);
  g_test_add_func ("/choker/tft/snubbed-loses-regular-slot",
                   test_choker_snubbed_peer_loses_regular_slot);
  g_test_add_func ("/choker/tft/seed-ranks-by-up-rate",
                   test_choker_seed_ranks_by_up_rate);
  g_test_add_func ("/choker/freerider/unchokes-no-one",
                   test_choker_freerider_unchokes_no_one);
  g_test_add_func ("/choker/altruist/cycles-through-all-interested",
                   test_choker_altruist_cycles_through_all_interested);
  g_test_add_func ("/choker/not-interested-never-unchoked",
                   test_choker_not_interested_never_unchoked);
  g_test_add_func ("/choker/seed-round-robin", test_seed_round_robin);
  g_test_add_func ("/choker/tft/spare-slots-round-robin", test_choker_spare_slots_round_robin);
  g_test_add_func ("/choker/same-seed-same-result",
                   test_choker_same_seed_same_result);
  g_test_add_func ("/choker/strategy-names-round-trip",
                   test_choker_strategy_names_round_trip);
  return g_test_run ();
}
