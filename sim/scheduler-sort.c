/* scheduler-sort.c — sorting a tick's records into the scheduler's current
 * run: latest first by (time, seq), so that scheduler.c pops the next event
 * off the run's end.  Buckets are unsorted, and a tick's bucket is sorted
 * once, when the wheel enters that tick: runs of MB_SORT_RUN records by
 * insertion, then bottom-up merges through the scratch buffer.
 *
 * Invariants:
 *  - no two records share (time, seq) (seq is unique), so the order is
 *    total and the result does not depend on the input's order;
 *  - the scratch buffer (s->scratch, cap_scratch records) is only working
 *    space: nothing in it outlives the call that filled it.
 */
#define MB_SIM_SCHEDULER_INTERNAL
#include "scheduler-private.h"

#include <string.h>

/* Buckets up to this size are sorted by insertion, larger ones by merging. */
#define MB_SORT_RUN 16

/* x runs after y: the order of the current run. */
static inline gboolean
mb_rec_later (const MbRec *x, const MbRec *y)
{
  return mbi_sched_rec_less (y, x);
}

static void
mb_recs_insertion_sort (MbRec *r, gsize n)
{
  for (gsize i = 1; i < n; i++)
    {
      MbRec x = r[i];
      gsize j = i;
      for (; j > 0 && mb_rec_later (&x, &r[j - 1]); j--)
        r[j] = r[j - 1];
      r[j] = x;
    }
}

static void
mb_recs_merge (const MbRec *x, gsize nx, const MbRec *y, gsize ny, MbRec *out)
{
  gsize i = 0, j = 0, k = 0;
  while (i < nx && j < ny)
    out[k++] = mb_rec_later (&y[j], &x[i]) ? y[j++] : x[i++];
  memcpy (out + k, x + i, (nx - i) * sizeof *x);
  memcpy (out + k + (nx - i), y + j, (ny - j) * sizeof *y);
}

void
mbi_sched_reserve_scratch (MbSched *s, gsize n)
{
  if (s->cap_scratch >= n)
    return;
  s->cap_scratch = MAX (n, s->cap_scratch * 2);
  g_free (s->scratch);
  s->scratch = g_new (MbRec, s->cap_scratch);
}

/* Insertion-sorted runs, then bottom-up merges. */
void
mbi_sched_sort_recs (MbSched *s, MbRec *r, gsize n)
{
  for (gsize i = 0; i < n; i += MB_SORT_RUN)
    mb_recs_insertion_sort (r + i, MIN (MB_SORT_RUN, n - i));
  if (n <= MB_SORT_RUN)
    return;
  mbi_sched_reserve_scratch (s, n);
  MbRec *src = r, *dst = s->scratch;
  for (gsize width = MB_SORT_RUN; width < n; width *= 2)
    {
      for (gsize lo = 0; lo < n; lo += 2 * width)
        {
          gsize mid = MIN (lo + width, n), hi = MIN (lo + 2 * width, n);
          mb_recs_merge (src + lo, mid - lo, src + mid, hi - mid, dst + lo);
        }
      MbRec *t = src;
      src = dst;
      dst = t;
    }
  if (src != r)
    memcpy (r, src, n * sizeof *r);
}
