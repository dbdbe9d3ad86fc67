/* stats.c — see stats.h.  No state; deterministic for the same inputs. */
#include "stats.h"

#include <math.h>

static gint
cmp_double (gconstpointer a, gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;
  return (x > y) - (x < y);
}

gdouble
mb_stats_percentile (gdouble *values, gsize n, gdouble q)
{
  if (n == 0)
    return NAN;
  qsort (values, n, sizeof (gdouble), (int (*) (const void *, const void *)) cmp_double);
  q = CLAMP (q, 0.0, 1.0);
  gdouble rank = q * (gdouble) (n - 1);
  gsize lo = (gsize) floor (rank);
  gsize hi = MIN (lo + 1, n - 1);
  gdouble frac = rank - (gdouble) lo;
  return values[lo] + (values[hi] - values[lo]) * frac;
}

gdouble
mb_stats_jain (const gdouble *values, gsize n)
{
  gdouble sum = 0, sq = 0;
  for (gsize i = 0; i < n; i++)
    {
      sum += values[i];
      sq += values[i] * values[i];
    }
  if (n == 0 || sq == 0)
    return NAN;
  return sum * sum / ((gdouble) n * sq);
}

gdouble
mb_stats_kumar_ross (gdouble file_bits, gdouble u_s, gdouble d_min, guint n, gdouble sum_u)
{
  gdouble t = 0;
  if (u_s > 0)
    t = MAX (t, file_bits / u_s);
  if (d_min > 0)
    t = MAX (t, file_bits / d_min);
  if (n > 0 && u_s + sum_u > 0)
    t = MAX (t, (gdouble) n * file_bits / (u_s + sum_u));
  return t;
}
