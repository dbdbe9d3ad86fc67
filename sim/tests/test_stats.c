/* test_stats.c — percentiles, Jain's index and the Kumar–Ross bound on
 * known values. */
#include <math.h>

#include "stats.h"

static void
test_stats_percentile_interpolates (void)
{
  gdouble v[] = { 40, 10, 30, 20, 50 };
  g_assert_cmpfloat_with_epsilon (mb_stats_percentile (v, 5, 0.5), 30, 1e-9);
  g_assert_cmpfloat_with_epsilon (mb_stats_percentile (v, 5, 0.0), 10, 1e-9);
  g_assert_cmpfloat_with_epsilon (mb_stats_percentile (v, 5, 1.0), 50, 1e-9);
  g_assert_cmpfloat_with_epsilon (mb_stats_percentile (v, 5, 0.9), 46, 1e-9);
  g_assert_true (isnan (mb_stats_percentile (v, 0, 0.5)));
}

static void
test_stats_jain_bounds (void)
{
  gdouble equal[] = { 3, 3, 3, 3 };
  g_assert_cmpfloat_with_epsilon (mb_stats_jain (equal, 4), 1.0, 1e-12);
  gdouble one[] = { 1, 0, 0, 0 };
  g_assert_cmpfloat_with_epsilon (mb_stats_jain (one, 4), 0.25, 1e-12);
  gdouble mixed[] = { 1, 2, 3 };
  g_assert_cmpfloat_with_epsilon (mb_stats_jain (mixed, 3), 36.0 / 42.0, 1e-12);
}

static void
test_stats_kumar_ross_each_term_can_bind (void)
{
  gdouble F = 8e8; /* 100 MB */
  /* upload-bound: N F / (u_s + Σu) */
  g_assert_cmpfloat_with_epsilon (mb_stats_kumar_ross (F, 20e6, 10e6, 1000, 1000 * 2e6),
                                  1000 * F / (20e6 + 2e9), 1e-6);
  /* server-bound: F / u_s */
  g_assert_cmpfloat_with_epsilon (mb_stats_kumar_ross (F, 1e6, 10e6, 10, 10 * 100e6), F / 1e6, 1e-6);
  /* download-bound: F / d_min */
  g_assert_cmpfloat_with_epsilon (mb_stats_kumar_ross (F, 100e6, 1e6, 10, 10 * 100e6), F / 1e6, 1e-6);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/stats/percentile-interpolates", test_stats_percentile_interpolates);
  g_test_add_func ("/stats/jain-bounds", test_stats_jain_bounds);
  g_test_add_func ("/stats/kumar-ross-each-term-can-bind", test_stats_kumar_ross_each_term_can_bind);
  return g_test_run ();
}
