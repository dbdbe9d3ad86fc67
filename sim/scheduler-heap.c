/* scheduler-heap.c — the scheduler's overflow heap: an indexed 4-ary
 * min-heap of the events beyond the wheel's horizon (their tick is at least
 * cur_tick + SIZE).  scheduler.c pushes an event here when it is scheduled
 * that far ahead, and moves it into the wheel when the wheel's window
 * reaches it; cancelling such an event removes it from the heap at once.
 *
 * Invariants:
 *  - heap[i] <= heap[child] for every child (order: time, then seq);
 *  - every heap node is live, and its slot's pos is its index in the heap
 *    (kept on every move, so a cancel finds its node in O(1)).
 */
#define MB_SIM_SCHEDULER_INTERNAL
#include "scheduler-private.h"

#define MB_SCHED_ARITY 4

static inline void
mb_heap_place (MbSched *s, gsize i, const MbRec *node)
{
  s->heap[i] = *node;
  s->slots[node->slot].pos = (guint32) i;
}

static void
mb_heap_sift_up (MbSched *s, gsize i, MbRec node)
{
  while (i > 0)
    {
      gsize parent = (i - 1) / MB_SCHED_ARITY;
      if (!mbi_sched_rec_less (&node, &s->heap[parent]))
        break;
      mb_heap_place (s, i, &s->heap[parent]);
      i = parent;
    }
  mb_heap_place (s, i, &node);
}

static void
mb_heap_sift_down (MbSched *s, gsize i, MbRec node)
{
  gsize n = s->n_heap;
  for (;;)
    {
      gsize first = i * MB_SCHED_ARITY + 1;
      if (first >= n)
        break;
      gsize last = MIN (first + MB_SCHED_ARITY, n);
      gsize best = first;
      for (gsize c = first + 1; c < last; c++)
        if (mbi_sched_rec_less (&s->heap[c], &s->heap[best]))
          best = c;
      if (!mbi_sched_rec_less (&s->heap[best], &node))
        break;
      mb_heap_place (s, i, &s->heap[best]);
      i = best;
    }
  mb_heap_place (s, i, &node);
}

void
mbi_sched_heap_remove_at (MbSched *s, gsize i)
{
  MbRec last = s->heap[--s->n_heap];
  if (i == s->n_heap)
    return;
  if (i > 0 && mbi_sched_rec_less (&last, &s->heap[(i - 1) / MB_SCHED_ARITY]))
    mb_heap_sift_up (s, i, last);
  else
    mb_heap_sift_down (s, i, last);
}

void
mbi_sched_heap_push (MbSched *s, MbRec rec)
{
  if (s->n_heap == s->cap_heap)
    {
      s->cap_heap = s->cap_heap ? s->cap_heap * 2 : 64;
      s->heap = g_renew (MbRec, s->heap, s->cap_heap);
    }
  s->n_heap++;
  mb_heap_sift_up (s, s->n_heap - 1, rec);
}
