/* test_ring.c — tests for core/ring/ring.c (consistent hashing).
 *
 * Checks the properties the rest of minibit relies on: the hash is pinned to
 * fixed values (so positions agree across machines), lookups do not depend
 * on member input order, membership changes move only the keys they must,
 * load is balanced, preference lists have the successor property, and
 * snapshots are immutable and versioned.  Nothing here asserts on time.
 */
#include "ring/ring.h"

#include <glib.h>
#include <string.h>

static char **
make_names (guint n, const char *fmt_prefix)
{
  char **names = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    names[i] = g_strdup_printf ("%s%u:5000", fmt_prefix, i);
  return names;
}

static MbRing *
ring_of (char **names, guint vnodes)
{
  return mb_ring_new ((const char *const *) names, g_strv_length (names),
                      vnodes);
}

static char *
key_name (guint i)
{
  return g_strdup_printf ("key-%u", i);
}

/* ---- hash ---- */

static void
test_hash_pinned_values (void)
{
  /* FNV-1a 64 + murmur3 fmix64; these must never change (cross-checked
   * against an independent Python implementation). */
  g_assert_cmphex (mb_ring_hash ("", 0), ==,
                   G_GUINT64_CONSTANT (0xefd01f60ba992926));
  g_assert_cmphex (mb_ring_hash_str ("a"), ==,
                   G_GUINT64_CONSTANT (0x82a2a958a9bece5b));
  g_assert_cmphex (mb_ring_hash_str ("key-0"), ==,
                   G_GUINT64_CONSTANT (0x18137ad031db6589));
  g_assert_cmphex (mb_ring_hash_str ("peer1:5000"), ==,
                   G_GUINT64_CONSTANT (0x7f4338cd691eb028));
  g_assert_cmphex (mb_ring_hash_str ("peer1:5000#127"), ==,
                   G_GUINT64_CONSTANT (0xfb445433cfb95cb8));
}

static void
test_hash_str_equals_hash_of_bytes (void)
{
  const char *s = "chunk:0123456789abcdef";
  g_assert_cmphex (mb_ring_hash_str (s), ==, mb_ring_hash (s, strlen (s)));
  /* Embedded bytes count, including NUL and high bytes. */
  const guchar b[] = { 0x00, 0xff, 0x80, 0x7f };
  g_assert_cmphex (mb_ring_hash (b, 4), !=, mb_ring_hash (b, 3));
}

static void
test_vnode_points_at_documented_positions (void)
{
  /* Point i of member m sits at mb_ring_hash_str ("<m>#<i>"), so the owner
   * of exactly that position is m itself. */
  g_auto (GStrv) names = make_names (20, "peer");
  g_autoptr (MbRing) ring = ring_of (names, 150);
  for (guint m = 0; m < 20; m++)
    for (guint i = 0; i < 150; i++)
      {
        g_autofree char *p = g_strdup_printf ("%s#%u", names[m], i);
        gint o = mb_ring_owner_index (ring, mb_ring_hash_str (p));
        g_assert_cmpstr (mb_ring_member (ring, (guint) o), ==, names[m]);
      }
}

/* ---- construction and lookup ---- */

static void
test_members_sorted_and_duplicates_folded (void)
{
  const char *in[] = { "c", "a", "b", "a", "c", "c" };
  g_autoptr (MbRing) ring = mb_ring_new (in, G_N_ELEMENTS (in), 8);
  g_assert_cmpuint (mb_ring_n_members (ring), ==, 3);
  g_assert_cmpuint (mb_ring_vnodes (ring), ==, 8);
  g_assert_cmpstr (mb_ring_member (ring, 0), ==, "a");
  g_assert_cmpstr (mb_ring_member (ring, 1), ==, "b");
  g_assert_cmpstr (mb_ring_member (ring, 2), ==, "c");
  g_assert_cmpint (mb_ring_index_of (ring, "b"), ==, 1);
  g_assert_cmpint (mb_ring_index_of (ring, "d"), ==, -1);
  g_assert_cmpint (mb_ring_index_of (ring, ""), ==, -1);
  g_assert_true (mb_ring_contains (ring, "c"));
  g_assert_false (mb_ring_contains (ring, "aa"));
}

static void
test_lookup_deterministic_and_input_order_independent (void)
{
  const guint n = 200;
  g_auto (GStrv) names = make_names (n, "peer");
  /* Reversed, and shuffled with duplicates appended. */
  const char **rev = g_new (const char *, n);
  const char **shuf = g_new (const char *, 2 * n);
  for (guint i = 0; i < n; i++)
    {
      rev[i] = names[n - 1 - i];
      shuf[i] = names[i];
      shuf[n + i] = names[(i * 7) % n];
    }
  GRand *rng = g_rand_new_with_seed (42);
  for (guint i = 2 * n - 1; i > 0; i--)
    {
      guint j = (guint) g_rand_int_range (rng, 0, (gint32) i + 1);
      const char *t = shuf[i];
      shuf[i] = shuf[j];
      shuf[j] = t;
    }
  g_rand_free (rng);

  g_autoptr (MbRing) a = ring_of (names, 64);
  g_autoptr (MbRing) a2 = ring_of (names, 64);
  g_autoptr (MbRing) b = mb_ring_new (rev, n, 64);
  g_autoptr (MbRing) c = mb_ring_new (shuf, 2 * n, 64);
  g_assert_cmpuint (mb_ring_n_members (c), ==, n);
  for (guint i = 0; i < n; i++)
    {
      g_assert_cmpstr (mb_ring_member (a, i), ==, mb_ring_member (b, i));
      g_assert_cmpstr (mb_ring_member (a, i), ==, mb_ring_member (c, i));
    }
  for (guint i = 0; i < 5000; i++)
    {
      g_autofree char *k = key_name (i);
      const char *o = mb_ring_lookup (a, k);
      g_assert_nonnull (o);
      g_assert_cmpstr (o, ==, mb_ring_lookup (a, k));
      g_assert_cmpstr (o, ==, mb_ring_lookup (a2, k));
      g_assert_cmpstr (o, ==, mb_ring_lookup (b, k));
      g_assert_cmpstr (o, ==, mb_ring_lookup (c, k));
    }
  g_free (rev);
  g_free (shuf);
}

static void
test_position_wraps_past_last_point (void)
{
  g_auto (GStrv) names = make_names (10, "peer");
  g_autoptr (MbRing) ring = ring_of (names, 16);
  /* No point can be above G_MAXUINT64 except at it; 0 maps to point 0. */
  g_assert_cmpint (mb_ring_owner_index (ring, G_MAXUINT64), ==,
                   mb_ring_owner_index (ring, 0));
}

static void
test_empty_ring (void)
{
  g_autoptr (MbRing) ring = mb_ring_new (NULL, 0, 16);
  g_assert_cmpuint (mb_ring_n_members (ring), ==, 0);
  g_assert_null (mb_ring_lookup (ring, "key-0"));
  g_assert_cmpint (mb_ring_owner_index (ring, 0), ==, -1);
  g_assert_cmpint (mb_ring_owner_index (ring, G_MAXUINT64), ==, -1);
  g_assert_cmpint (mb_ring_index_of (ring, "a"), ==, -1);
  guint out[3];
  g_assert_cmpuint (mb_ring_preference_list (ring, "key-0", 3, out), ==, 0);
  g_autoptr (MbRing) again = mb_ring_without_member (ring, "a");
  g_assert_cmpuint (mb_ring_n_members (again), ==, 0);
  g_assert_cmpuint (mb_ring_version (again), ==, 2);
}

static void
test_single_member_owns_everything (void)
{
  const char *one[] = { "solo:1" };
  g_autoptr (MbRing) ring = mb_ring_new (one, 1, 4);
  for (guint i = 0; i < 1000; i++)
    {
      g_autofree char *k = key_name (i);
      g_assert_cmpstr (mb_ring_lookup (ring, k), ==, "solo:1");
    }
  g_assert_cmpint (mb_ring_owner_index (ring, 0), ==, 0);
  g_assert_cmpint (mb_ring_owner_index (ring, G_MAXUINT64), ==, 0);
  guint out[3];
  g_assert_cmpuint (mb_ring_preference_list (ring, "k", 3, out), ==, 1);
  g_assert_cmpuint (out[0], ==, 0);
}

/* ---- membership changes ---- */

#define MOVE_MEMBERS 100
#define MOVE_KEYS 20000

static const char **
owners_of (const MbRing *ring, guint n_keys)
{
  const char **o = g_new (const char *, n_keys);
  for (guint i = 0; i < n_keys; i++)
    {
      g_autofree char *k = key_name (i);
      o[i] = mb_ring_lookup (ring, k);
    }
  return o;
}

/* Both rings hold the same members: their owners agree at every point
 * boundary (the positions "<m>#<i>" and one either side) and on keys. */
static void
assert_same_ring (const MbRing *a, const MbRing *b)
{
  g_assert_cmpuint (mb_ring_n_members (a), ==, mb_ring_n_members (b));
  g_assert_cmpuint (mb_ring_vnodes (a), ==, mb_ring_vnodes (b));
  for (guint m = 0; m < mb_ring_n_members (a); m++)
    {
      g_assert_cmpstr (mb_ring_member (a, m), ==, mb_ring_member (b, m));
      for (guint i = 0; i < mb_ring_vnodes (a); i++)
        {
          g_autofree char *p =
            g_strdup_printf ("%s#%u", mb_ring_member (a, m), i);
          guint64 h = mb_ring_hash_str (p);
          for (guint64 d = h - 1; d != h + 2; d++)
            g_assert_cmpint (mb_ring_owner_index (a, d), ==,
                             mb_ring_owner_index (b, d));
        }
    }
}

static void
test_remove_moves_only_removed_members_keys (void)
{
  g_auto (GStrv) names = make_names (MOVE_MEMBERS, "peer");
  g_autoptr (MbRing) before = ring_of (names, 128);
  const char *gone = names[37];
  g_autoptr (MbRing) after = mb_ring_without_member (before, gone);
  g_assert_cmpuint (mb_ring_n_members (after), ==, MOVE_MEMBERS - 1);
  g_assert_false (mb_ring_contains (after, gone));

  const char **o1 = owners_of (before, MOVE_KEYS);
  const char **o2 = owners_of (after, MOVE_KEYS);
  guint owned = 0, moved = 0;
  for (guint i = 0; i < MOVE_KEYS; i++)
    {
      gboolean was_gone = strcmp (o1[i], gone) == 0;
      gboolean changed = strcmp (o1[i], o2[i]) != 0;
      owned += was_gone;
      moved += changed;
      g_assert_true (was_gone == changed);
      g_assert_cmpstr (o2[i], !=, gone);
    }
  g_assert_cmpuint (owned, >, 0);
  g_assert_cmpuint (moved, ==, owned);
  g_test_message ("removing 1 of %d members moved %u of %d keys",
                  MOVE_MEMBERS, moved, MOVE_KEYS);

  /* The merged snapshot equals a ring built from scratch. */
  char **rest = g_new0 (char *, MOVE_MEMBERS);
  for (guint i = 0, j = 0; i < MOVE_MEMBERS; i++)
    if (names[i] != gone)
      rest[j++] = names[i];
  g_autoptr (MbRing) fresh = ring_of (rest, 128);
  assert_same_ring (after, fresh);
  g_free (rest);
  g_free (o1);
  g_free (o2);
}

static void
test_add_moves_only_keys_to_new_member (void)
{
  g_auto (GStrv) names = make_names (MOVE_MEMBERS, "peer");
  g_autoptr (MbRing) before = ring_of (names, 128);
  /* Sorts into the middle of the member list, shifting later indices. */
  const char *added = "peer5:5000x";
  g_autoptr (MbRing) after = mb_ring_with_member (before, added);
  g_assert_cmpuint (mb_ring_n_members (after), ==, MOVE_MEMBERS + 1);
  g_assert_true (mb_ring_contains (after, added));

  const char **o1 = owners_of (before, MOVE_KEYS);
  const char **o2 = owners_of (after, MOVE_KEYS);
  guint gained = 0;
  for (guint i = 0; i < MOVE_KEYS; i++)
    {
      gboolean is_new = strcmp (o2[i], added) == 0;
      gboolean changed = strcmp (o1[i], o2[i]) != 0;
      g_assert_true (is_new == changed);
      gained += is_new;
    }
  g_assert_cmpuint (gained, >, 0);
  g_test_message ("adding a member to %d moved %u of %d keys", MOVE_MEMBERS,
                  gained, MOVE_KEYS);

  char **all = g_new0 (char *, MOVE_MEMBERS + 2);
  for (guint i = 0; i < MOVE_MEMBERS; i++)
    all[i] = names[i];
  all[MOVE_MEMBERS] = (char *) added;
  g_autoptr (MbRing) fresh = ring_of (all, 128);
  assert_same_ring (after, fresh);

  /* Adding at both ends of the sorted order, too. */
  g_autoptr (MbRing) first = mb_ring_with_member (before, "a");
  g_autoptr (MbRing) last = mb_ring_with_member (first, "zzz");
  all[MOVE_MEMBERS] = (char *) "a";
  all[MOVE_MEMBERS + 1] = (char *) "zzz";
  g_autoptr (MbRing) fresh2 = mb_ring_new ((const char *const *) all,
                                           MOVE_MEMBERS + 2, 128);
  assert_same_ring (last, fresh2);
  g_free (all);
  g_free (o1);
  g_free (o2);
}

static void
test_add_then_remove_restores_ring (void)
{
  g_auto (GStrv) names = make_names (50, "n");
  g_autoptr (MbRing) a = ring_of (names, 32);
  g_autoptr (MbRing) b = mb_ring_with_member (a, "n17:5000a");
  g_autoptr (MbRing) c = mb_ring_without_member (b, "n17:5000a");
  assert_same_ring (a, c);
  g_assert_cmpuint (mb_ring_version (c), ==, 3);
}

/* ---- balance ---- */

static void
test_balance_1000_members_128_vnodes (void)
{
  const guint n = 1000, n_keys = 100000;
  g_auto (GStrv) names = make_names (n, "peer");
  g_autoptr (MbRing) ring = ring_of (names, 128);
  guint *count = g_new0 (guint, n);
  for (guint i = 0; i < n_keys; i++)
    {
      g_autofree char *k = key_name (i);
      count[mb_ring_owner_index (ring, mb_ring_hash_str (k))]++;
    }
  guint max = 0, min = G_MAXUINT;
  for (guint i = 0; i < n; i++)
    {
      max = MAX (max, count[i]);
      min = MIN (min, count[i]);
    }
  double mean = (double) n_keys / n;
  double ratio = max / mean;
  g_test_message ("balance: %u members, v=128, %u keys: max/mean = %.3f "
                  "(max %u, min %u, mean %.1f)", n, n_keys, ratio, max, min,
                  mean);
  g_assert_cmpfloat (ratio, <=, 1.45);
  g_free (count);
}

/* ---- preference lists ---- */

static void
test_preference_list_distinct_and_first_is_owner (void)
{
  g_auto (GStrv) names = make_names (100, "peer");
  g_autoptr (MbRing) ring = ring_of (names, 128);
  for (guint i = 0; i < 2000; i++)
    {
      g_autofree char *k = key_name (i);
      guint out[5];
      g_assert_cmpuint (mb_ring_preference_list (ring, k, 5, out), ==, 5);
      g_assert_cmpstr (mb_ring_member (ring, out[0]), ==,
                       mb_ring_lookup (ring, k));
      for (guint a = 0; a < 5; a++)
        {
          g_assert_cmpuint (out[a], <, 100);
          for (guint b = a + 1; b < 5; b++)
            g_assert_cmpuint (out[a], !=, out[b]);
        }
      /* A shorter list is a prefix of a longer one. */
      guint out3[3];
      g_assert_cmpuint (mb_ring_preference_list (ring, k, 3, out3), ==, 3);
      g_assert_cmpmem (out3, sizeof out3, out, sizeof out3);
    }
  g_assert_cmpuint (mb_ring_preference_list (ring, "k", 0, NULL), ==, 0);
}

static void
test_preference_list_r_above_n_returns_all_members (void)
{
  /* r > 16 takes the bitmap path; r <= 16 the linear one. */
  static const guint sizes[] = { 3, 10, 40 };
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      guint n = sizes[s];
      g_auto (GStrv) names = make_names (n, "peer");
      g_autoptr (MbRing) ring = ring_of (names, 16);
      guint *out = g_new (guint, n + 5);
      for (guint i = 0; i < 200; i++)
        {
          g_autofree char *k = key_name (i);
          guint got = mb_ring_preference_list (ring, k, n + 5, out);
          g_assert_cmpuint (got, ==, n);
          gboolean *seen = g_new0 (gboolean, n);
          for (guint j = 0; j < got; j++)
            {
              g_assert_cmpuint (out[j], <, n);
              g_assert_false (seen[out[j]]);
              seen[out[j]] = TRUE;
            }
          g_free (seen);
          g_assert_cmpuint (out[0], ==,
                            (guint) mb_ring_owner_index (
                              ring, mb_ring_hash_str (k)));
        }
      g_free (out);
    }
}

static void
test_preference_list_successor_after_removing_first (void)
{
  g_auto (GStrv) names = make_names (60, "peer");
  g_autoptr (MbRing) ring = ring_of (names, 128);
  for (guint i = 0; i < 500; i++)
    {
      g_autofree char *k = key_name (i);
      guint old[4], now[3];
      g_assert_cmpuint (mb_ring_preference_list (ring, k, 4, old), ==, 4);
      const char *first = mb_ring_member (ring, old[0]);
      g_autoptr (MbRing) next = mb_ring_without_member (ring, first);
      g_assert_cmpuint (mb_ring_preference_list (next, k, 3, now), ==, 3);
      /* [p0 p1 p2] becomes [p1 p2 x]; x is the old fourth, never p0. */
      g_assert_cmpstr (mb_ring_member (next, now[0]), ==,
                       mb_ring_member (ring, old[1]));
      g_assert_cmpstr (mb_ring_member (next, now[1]), ==,
                       mb_ring_member (ring, old[2]));
      g_assert_cmpstr (mb_ring_member (next, now[2]), ==,
                       mb_ring_member (ring, old[3]));
      g_assert_cmpstr (mb_ring_member (next, now[2]), !=, first);
    }
}

/* ---- scale ---- */

static void
test_scale_10000_members_100000_lookups (void)
{
  const guint n = 10000, n_keys = 100000;
  g_auto (GStrv) names = make_names (n, "peer");
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (MbRing) ring = ring_of (names, 128);
  gint64 t1 = g_get_monotonic_time ();
  guint hits = 0;
  guint pref = 0;
  for (guint i = 0; i < n_keys; i++)
    {
      g_autofree char *k = key_name (i);
      hits += mb_ring_lookup (ring, k) != NULL;
      guint out[3];
      pref += mb_ring_preference_list (ring, k, 3, out);
    }
  gint64 t2 = g_get_monotonic_time ();
  g_assert_cmpuint (hits, ==, n_keys);
  g_assert_cmpuint (pref, ==, 3 * n_keys);
  g_assert_cmpuint (mb_ring_n_members (ring), ==, n);
  /* Reported only; timing is never asserted. */
  g_test_message ("build %u x 128: %.1f ms; %u lookups + r=3 lists: %.1f ms",
                  n, (t1 - t0) / 1000.0, n_keys, (t2 - t1) / 1000.0);
}

/* ---- snapshots ---- */

static void
test_with_member_bumps_version_original_unchanged (void)
{
  const char *in[] = { "b", "d" };
  MbRing *a = mb_ring_new (in, 2, 8);
  g_assert_cmpuint (mb_ring_version (a), ==, 1);
  const char **o1 = owners_of (a, 1000);

  MbRing *b = mb_ring_with_member (a, "c");
  g_assert_cmpuint (mb_ring_version (b), ==, 2);
  g_assert_cmpuint (mb_ring_n_members (b), ==, 3);
  g_assert_cmpuint (mb_ring_version (a), ==, 1);
  g_assert_cmpuint (mb_ring_n_members (a), ==, 2);
  g_assert_false (mb_ring_contains (a, "c"));
  const char **o2 = owners_of (a, 1000);
  for (guint i = 0; i < 1000; i++)
    g_assert_cmpstr (o1[i], ==, o2[i]);

  /* Present member / absent member: same membership, still a new version. */
  MbRing *c = mb_ring_with_member (b, "c");
  g_assert_true (c != b);
  g_assert_cmpuint (mb_ring_version (c), ==, 3);
  g_assert_cmpuint (mb_ring_n_members (c), ==, 3);
  MbRing *d = mb_ring_without_member (c, "zz");
  g_assert_cmpuint (mb_ring_version (d), ==, 4);
  assert_same_ring (b, d);

  /* A shared snapshot lives until its last reference goes. */
  MbRing *shared = mb_ring_ref (a);
  g_assert_true (shared == a);
  mb_ring_unref (a);
  g_assert_cmpuint (mb_ring_n_members (shared), ==, 2);
  mb_ring_unref (shared);
  mb_ring_unref (b);
  mb_ring_unref (c);
  mb_ring_unref (d);
  mb_ring_unref (NULL);
  g_free (o1);
  g_free (o2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ring/hash/pinned-values", test_hash_pinned_values);
  g_test_add_func ("/ring/hash/str-equals-hash-of-bytes",
                   test_hash_str_equals_hash_of_bytes);
  g_test_add_func ("/ring/vnodes/points-at-documented-positions",
                   test_vnode_points_at_documented_positions);
  g_test_add_func ("/ring/new/members-sorted-duplicates-folded",
                   test_members_sorted_and_duplicates_folded);
  g_test_add_func ("/ring/lookup/deterministic-input-order-independent",
                   test_lookup_deterministic_and_input_order_independent);
  g_test_add_func ("/ring/lookup/position-wraps-past-last-point",
                   test_position_wraps_past_last_point);
  g_test_add_func ("/ring/lookup/empty-ring", test_empty_ring);
  g_test_add_func ("/ring/lookup/single-member-owns-everything",
                   test_single_member_owns_everything);
  g_test_add_func ("/ring/remove/moves-only-removed-members-keys",
                   test_remove_moves_only_removed_members_keys);
  g_test_add_func ("/ring/add/moves-only-keys-to-new-member",
                   test_add_moves_only_keys_to_new_member);
  g_test_add_func ("/ring/add/then-remove-restores-ring",
                   test_add_then_remove_restores_ring);
  g_test_add_func ("/ring/balance/1000-members-128-vnodes",
                   test_balance_1000_members_128_vnodes);
  g_test_add_func ("/ring/preference-list/distinct-first-is-owner",
                   test_preference_list_distinct_and_first_is_owner);
  g_test_add_func ("/ring/preference-list/r-above-n-returns-all-members",
                   test_preference_list_r_above_n_returns_all_members);
  g_test_add_func ("/ring/preference-list/successor-after-removing-first",
                   test_preference_list_successor_after_removing_first);
  g_test_add_func ("/ring/scale/10000-members-100000-lookups",
                   test_scale_10000_members_100000_lookups);
  g_test_add_func ("/ring/snapshot/with-member-bumps-version-original-unchanged",
                   test_with_member_bumps_version_original_unchanged);

  return g_test_run ();
}
