/* stats.h — the pure statistics behind summary.csv: percentiles, Jain's
 * fairness index, and the Kumar–Ross minimum distribution time. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Percentile q in [0,1] of n values by linear interpolation between closest
 * ranks (the values are sorted in place).  NAN when n == 0. */
gdouble mb_stats_percentile (gdouble *values, gsize n, gdouble q);
/* Jain's index (Σx)² / (n Σx²), in (0, 1]; 1 when all are equal. NAN when
 * n == 0 or all are zero. */
gdouble mb_stats_jain (const gdouble *values, gsize n);
/* Kumar & Ross (2006): the least time in which a server of upload u_s can
 * give a file of F bits to N peers with uploads u_i and least download
 * d_min: max(F/u_s, F/d_min, N F / (u_s + Σ u_i)).  Rates in bit/s
 * (0 = unlimited); seconds out. */
gdouble mb_stats_kumar_ross (gdouble file_bits, gdouble u_s, gdouble d_min, guint n,
                             gdouble sum_u);

G_END_DECLS
