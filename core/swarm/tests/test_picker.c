/* test_picker.c — strict priority, random first, rarest first (and its ties),
 * nothing to pick, endgame detection and endgame picks. */
#include "swarm/picker.h"

typedef struct {
  guint n;
  MbBitfield *have;
  MbBitfield *remote;
  MbBitfield *started;
  guint16 *avail;
  guint16 *unrequested;
  guint16 *missing;
  MbPickInput in;
} PickFix;

/* n pieces; the remote has all of them, availability 5 everywhere, nothing
 * started; random_first as given. */
static PickFix *
pick_fix_new (guint n, guint random_first)
{
  PickFix *f = g_new0 (PickFix, 1);
  f->n = n;
  f->have = mb_bitfield_new (n);
  f->remote = mb_bitfield_new (n);
  mb_bitfield_set_all (f->remote);
  f->started = mb_bitfield_new (n);
  f->avail = g_new0 (guint16, n);
  f->unrequested = g_new0 (guint16, n);
  f->missing = g_new0 (guint16, n);
  for (guint i = 0; i < n; i++)
    f->avail[i] = 5;
  f->in.have = f->have;
  f->in.remote = f->remote;
  f->in.availability = f->avail;
  f->in.unrequested = f->unrequested;
  f->in.missing = f->missing;
  f->in.started = f->started;
  f->in.random_first = random_first;
  return f;
}

static void
pick_fix_free (PickFix *f)
{
  mb_bitfield_free (f->have);
  mb_bitfield_free (f->remote);
  mb_bitfield_free (f->started);
  g_free (f->avail);
  g_free (f->unrequested);
  g_free (f->missing);
  g_free (f);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PickFix, pick_fix_free)

static void
pick_fix_start (PickFix *f, guint piece, guint16 unrequested, guint16 missing)
{
  mb_bitfield_set (f->started, piece);
  f->unrequested[piece] = unrequested;
  f->missing[piece] = missing;
}

static void
test_picker_rarest_is_chosen (void)
{
  g_autoptr (PickFix) f = pick_fix_new (20, 4);
  for (guint i = 0; i < 4; i++)
    mb_bitfield_set (f->have, i);  /* past random first */
  f->avail[13] = 1;
  f->avail[2] = 0;  /* rarer, but we have it */
  g_autoptr (GRand) r = g_rand_new_with_seed (1);
  for (guint k = 0; k < 100; k++)
    g_assert_cmpint (mb_picker_pick (&f->in, r), ==, 13);

  /* the rarest the remote lacks is skipped */
  mb_bitfield_clear (f->remote, 13);
  f->avail[17] = 2;
  g_assert_cmpint (mb_picker_pick (&f->in, r), ==, 17);
}

static void
test_picker_rarest_ties_all_chosen_uniformly (void)
{
  g_autoptr (PickFix) f = pick_fix_new (30, 0);
  guint tied[] = { 3, 7, 11, 29 };
  for (guint t = 0; t < G_N_ELEMENTS (tied); t++)
    f->avail[tied[t]] = 1;
  g_autoptr (GRand) r = g_rand_new_with_seed (42);
  guint hits[30] = { 0 };
  for (guint k = 0; k < 4000; k++)
    {
      gint p = mb_picker_pick (&f->in, r);
      g_assert_cmpint (p, >=, 0);
      hits[p]++;
    }
  for (guint i = 0; i < 30; i++)
    {
      gboolean is_tied = i == 3 || i == 7 || i == 11 || i == 29;
      if (is_tied)
        {
          g_assert_cmpuint (hits[i], >, 850);
          g_assert_cmpuint (hits[i], <, 1150);
        }
      else
        g_assert_cmpuint (hits[i], ==, 0);
    }
}

static void
test_picker_strict_priority_beats_rarer_unstarted (void)
{
  g_autoptr (PickFix) f = pick_fix_new (16, 0);
  f->avail[9] = 1;               /* rarest, not started */
  pick_fix_start (f, 5, 2, 4);   /* started, 4 blocks missing */
  g_autoptr (GRand) r = g_rand_new_with_seed (1);
  g_assert_cmpint (mb_picker_pick (&f->in, r), ==, 5);

  /* fewest missing first, ties to the lowest index */
  pick_fix_start (f, 12, 1, 2);
  pick_fix_start (f, 8, 1, 2);
  g_assert_cmpint (mb_picker_pick (&f->in, r), ==, 8);

  /* a started piece with every block requested is not a priority pick */
  pick_fix_start (f, 3, 0, 1);
  g_assert_cmpint (mb_picker_pick (&f->in, r), ==, 8);

  /* nor one the remote lacks */
  pick_fix_start (f, 1, 1, 1);
  mb_bitfield_clear (f->remote, 1);
  g_assert_cmpint (mb_picker_pick (&f->in, r), ==, 8);

  /* strict priority applies during random first too */
  f->in.random_first = 4;
  g_assert_cmpint (mb_picker_pick (&f->in, r), ==, 8);
}

static void
test_picker_random_first_is_not_always_rarest (void)
{
  g_autoptr (PickFix) f = pick_fix_new (40, 4);
  for (guint i = 0; i < 40; i++)
    f->avail[i] = (guint16) (i + 1);  /* piece 0 is the rarest */
  mb_bitfield_set (f->have, 10);
  mb_bitfield_set (f->have, 11);
  mb_bitfield_set (f->have, 12);      /* 3 complete < 4 */
  pick_fix_start (f, 20, 0, 3);       /* started, fully requested */
  mb_bitfield_clear (f->remote, 30);
  g_autoptr (GRand) r = g_rand_new_with_seed (5);
  guint hits[40] = { 0 };
  guint distinct = 0;
  for (guint k = 0; k < 2000; k++)
    {
      gint p = mb_picker_pick (&f->in, r);
      g_assert_cmpint (p, >=, 0);
      g_assert_false (mb_bitfield_test (f->have, p));
      g_assert_false (mb_bitfield_test (f->started, p));
      g_assert_true (mb_bitfield_test (f->remote, p));
      if (hits[p]++ == 0)
        distinct++;
    }
  g_assert_cmpuint (distinct, ==, 35);
  g_assert_cmpuint (hits[0], <, 200);

  /* at random_first complete pieces, rarest first takes over */
  mb_bitfield_set (f->have, 13);
  for (guint k = 0; k < 50; k++)
    g_assert_cmpint (mb_picker_pick (&f->in, r), ==, 0);
}

static void
test_picker_nothing_to_pick_returns_minus_one (void)
{
  g_autoptr (PickFix) f = pick_fix_new (12, 0);
  g_autoptr (GRand) r = g_rand_new_with_seed (1);

  /* the remote has nothing */
  for (guint i = 0; i < 12; i++)
    mb_bitfield_clear (f->remote, i);
  g_assert_cmpint (mb_picker_pick (&f->in, r), ==, -1);

  /* the remote has only what we have */
  mb_bitfield_set (f->remote, 2);
  mb_bitfield_set (f->remote, 9);
  mb_bitfield_set (f->have, 2);
  mb_bitfield_set (f->have, 9);
  g_assert_cmpint (mb_picker_pick (&f->in, r), ==, -1);
  f->in.random_first = 10;
  g_assert_cmpint (mb_picker_pick (&f->in, r), ==, -1);

  /* ...or what we started and fully requested */
  mb_bitfield_set (f->remote, 4);
  pick_fix_start (f, 4, 0, 2);
  g_assert_cmpint (mb_picker_pick (&f->in, r), ==, -1);

  /* we have everything */
  mb_bitfield_set_all (f->have);
  mb_bitfield_set_all (f->remote);
  g_assert_cmpint (mb_picker_pick (&f->in, r), ==, -1);
}

static void
test_picker_endgame_detection (void)
{
  g_autoptr (PickFix) f = pick_fix_new (10, 4);
  g_assert_false (mb_picker_in_endgame (&f->in));  /* nothing started */
  for (guint i = 0; i < 7; i++)
    mb_bitfield_set (f->have, i);
  pick_fix_start (f, 7, 0, 3);
  pick_fix_start (f, 8, 1, 3);
  g_assert_false (mb_picker_in_endgame (&f->in));  /* 8 has an unrequested block, 9 unstarted */
  f->unrequested[8] = 0;
  g_assert_false (mb_picker_in_endgame (&f->in));  /* 9 unstarted */
  pick_fix_start (f, 9, 0, 1);
  g_assert_true (mb_picker_in_endgame (&f->in));
  f->unrequested[9] = 2;
  g_assert_false (mb_picker_in_endgame (&f->in));
  f->unrequested[9] = 0;

  /* endgame does not depend on what the remote has */
  for (guint i = 0; i < 10; i++)
    mb_bitfield_clear (f->remote, i);
  g_assert_true (mb_picker_in_endgame (&f->in));

  /* a complete download is not in endgame */
  mb_bitfield_set_all (f->have);
  g_assert_false (mb_picker_in_endgame (&f->in));
}

static void
test_picker_pick_endgame_requested_missing_piece (void)
{
  g_autoptr (PickFix) f = pick_fix_new (10, 4);
  for (guint i = 0; i < 6; i++)
    mb_bitfield_set (f->have, i);
  pick_fix_start (f, 6, 0, 0);  /* all blocks received, not yet verified */
  pick_fix_start (f, 7, 0, 3);
  pick_fix_start (f, 8, 0, 1);
  pick_fix_start (f, 9, 0, 1);
  g_assert_true (mb_picker_in_endgame (&f->in));
  g_autoptr (GRand) r = g_rand_new_with_seed (11);

  /* fewest missing among those the remote has; ties at random */
  guint hits[10] = { 0 };
  for (guint k = 0; k < 1000; k++)
    {
      gint p = mb_picker_pick_endgame (&f->in, r);
      g_assert_true (p == 8 || p == 9);
      hits[p]++;
    }
  g_assert_cmpuint (hits[8], >, 400);
  g_assert_cmpuint (hits[9], >, 400);

  mb_bitfield_clear (f->remote, 8);
  mb_bitfield_clear (f->remote, 9);
  g_assert_cmpint (mb_picker_pick_endgame (&f->in, r), ==, 7);

  mb_bitfield_clear (f->remote, 7);
  g_assert_cmpint (mb_picker_pick_endgame (&f->in, r), ==, -1);
}

static void
test_picker_large_file_rarest (void)
{
  /* more pieces than the picker's stack buffer holds */
  g_autoptr (PickFix) f = pick_fix_new (50001, 0);
  f->avail[43210] = 1;
  f->avail[50000] = 1;
  g_autoptr (GRand) r = g_rand_new_with_seed (3);
  gboolean seen_a = FALSE, seen_b = FALSE;
  for (guint k = 0; k < 64; k++)
    {
      gint p = mb_picker_pick (&f->in, r);
      g_assert_true (p == 43210 || p == 50000);
      seen_a |= p == 43210;
      seen_b |= p == 50000;
    }
  g_assert_true (seen_a && seen_b);
  pick_fix_start (f, 49999, 1, 1);
  g_assert_cmpint (mb_picker_pick (&f->in, r), ==, 49999);
}

static void
test_picker_same_seed_same_picks (void)
{
  g_autoptr (PickFix) f = pick_fix_new (64, 4);
  g_autoptr (GRand) r1 = g_rand_new_with_seed (77);
  g_autoptr (GRand) r2 = g_rand_new_with_seed (77);
  for (guint k = 0; k < 200; k++)
    g_assert_cmpint (mb_picker_pick (&f->in, r1), ==, mb_picker_pick (&f->in, r2));
}

/* The picker's rules one piece at a time, in index order, drawing from
 * `rand` as the picker must (its scans skip whole words and bytes). */
static gint
reference_pick (const MbPickInput *in, guint n, GRand *rand)
{
  if (mb_bitfield_is_complete (in->have) || mb_bitfield_count (in->remote) == 0)
    return -1;
  gint best = -1;
  guint best_key = G_MAXUINT, ties = 0, total = 0;
  for (guint i = 0; i < n; i++)
    if (mb_bitfield_test (in->remote, i) && mb_bitfield_test (in->started, i)
        && !mb_bitfield_test (in->have, i) && in->unrequested[i] != 0
        && in->missing[i] < best_key)
      {
        best = (gint) i;
        best_key = in->missing[i];
      }
  if (best >= 0)
    return best;
  gboolean random = mb_bitfield_count (in->have) < in->random_first;
  for (guint i = 0; i < n; i++)
    {
      if (!mb_bitfield_test (in->remote, i) || mb_bitfield_test (in->have, i)
          || mb_bitfield_test (in->started, i))
        continue;
      total++;
      if (random)
        continue;
      if (in->availability[i] < best_key)
        {
          best = (gint) i;
          best_key = in->availability[i];
          ties = 1;
        }
      else if (in->availability[i] == best_key)
        {
          ties++;
          if (g_rand_int_range (rand, 0, (gint32) ties) == 0)
            best = (gint) i;
        }
    }
  if (!random || total == 0)
    return best;
  guint r = (guint) g_rand_int_range (rand, 0, (gint32) total);
  for (guint i = 0; i < n; i++)
    if (mb_bitfield_test (in->remote, i) && !mb_bitfield_test (in->have, i)
        && !mb_bitfield_test (in->started, i) && r-- == 0)
      return (gint) i;
  g_assert_not_reached ();
  return -1;
}

/* Random bitfields of sizes around word and byte edges: the picker and the
 * reference pick the same piece and leave their GRands in the same state. */
static void
test_picker_matches_reference (void)
{
  static const guint sizes[] = { 1, 7, 8, 9, 63, 64, 65, 127, 400, 403 };
  g_autoptr (GRand) gen = g_rand_new_with_seed (20261127);
  guint picked = 0;
  for (guint t = 0; t < 2000; t++)
    {
      guint n = sizes[t % G_N_ELEMENTS (sizes)];
      g_autoptr (PickFix) f = pick_fix_new (n, t % 3 == 0 ? 1000 : 0);
      /* sparse or dense, so that whole words hold no candidate sometimes */
      double p_have = g_rand_double (gen), p_remote = g_rand_double (gen);
      double p_started = g_rand_double (gen) * 0.3;
      for (guint i = 0; i < n; i++)
        {
          if (g_rand_double (gen) >= p_remote)
            mb_bitfield_clear (f->remote, i);
          if (g_rand_double (gen) < p_have)
            mb_bitfield_set (f->have, i);
          else if (g_rand_double (gen) < p_started)
            pick_fix_start (f, i, (guint16) g_rand_int_range (gen, 0, 3),
                            (guint16) g_rand_int_range (gen, 1, 17));
          f->avail[i] = (guint16) g_rand_int_range (gen, 0, 4);
        }
      guint32 seed = g_rand_int (gen);
      g_autoptr (GRand) r1 = g_rand_new_with_seed (seed);
      g_autoptr (GRand) r2 = g_rand_new_with_seed (seed);
      gint want = reference_pick (&f->in, n, r2);
      g_assert_cmpint (mb_picker_pick (&f->in, r1), ==, want);
      g_assert_cmpuint (g_rand_int (r1), ==, g_rand_int (r2));
      picked += want >= 0;
    }
  g_assert_cmpuint (picked, >, 1000); /* most trials had something to pick */
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/picker/matches-reference", test_picker_matches_reference);
  g_test_add_func ("/picker/rarest/is-chosen", test_picker_rarest_is_chosen);
  g_test_add_func ("/picker/rarest/ties-all-chosen-uniformly",
                   test_picker_rarest_ties_all_chosen_uniformly);
  g_test_add_func ("/picker/strict-priority/beats-rarer-unstarted",
                   test_picker_strict_priority_beats_rarer_unstarted);
  g_test_add_func ("/picker/random-first/not-always-rarest",
                   test_picker_random_first_is_not_always_rarest);
  g_test_add_func ("/picker/nothing-to-pick-returns-minus-one",
                   test_picker_nothing_to_pick_returns_minus_one);
  g_test_add_func ("/picker/endgame/detection", test_picker_endgame_detection);
  g_test_add_func ("/picker/endgame/pick-requested-missing-piece",
                   test_picker_pick_endgame_requested_missing_piece);
  g_test_add_func ("/picker/rarest/large-file", test_picker_large_file_rarest);
  g_test_add_func ("/picker/same-seed-same-picks", test_picker_same_seed_same_picks);
  return g_test_run ();
}
