/* scheduler.c — virtual clock plus an indexed 4-ary min-heap of events.
 *
 * Layout: event payloads (fn, a, b) live in a slot table; the heap holds
 * compact nodes (time, seq, slot) ordered by (time, seq).  Each live slot
 * records its node's heap position so cancel can remove it in O(log n).
 *
 * Invariants:
 *  - heap[i] <= heap[child] for every child (order: time, then seq);
 *  - for every live slot s: heap[slots[s].pos].slot == s;
 *  - seq strictly increases with every schedule, so ties run FIFO;
 *  - an id is (generation << 32 | slot); a slot's generation is bumped when
 *    its event fires or is cancelled, so stale ids never match.  A slot whose
 *    generation would wrap is retired (never reused), so ids are never reused;
 *  - free slots form a singly linked list through `pos`;
 *  - now never decreases; no event is ever scheduled before now.
 */
#include "scheduler.h"

#define MB_SCHED_ARITY 4
#define MB_SLOT_NIL G_MAXUINT32

typedef struct {
  guint64 time;
  guint64 seq;
  guint32 slot;
} MbHeapNode;

typedef struct {
  MbEventFn fn;
  gpointer a;
  guint64 b;
  guint32 pos;  /* heap index when live; next free slot when free */
  guint32 gen;  /* 0 = retired */
} MbSlot;

struct _MbSched {
  guint64 now;
  guint64 next_seq;
  guint64 events_run;
  MbHeapNode *heap;
  gsize n_heap;
  gsize cap_heap;
  MbSlot *slots;
  guint32 n_slots;
  guint32 cap_slots;
  guint32 free_head;
};

MbSched *
mb_sched_new (void)
{
  MbSched *s = g_new0 (MbSched, 1);
  s->free_head = MB_SLOT_NIL;
  return s;
}

void
mb_sched_free (MbSched *sched)
{
  if (sched == NULL)
    return;
  g_free (sched->heap);
  g_free (sched->slots);
  g_free (sched);
}

static inline gboolean
mb_sched_less (const MbHeapNode *x, const MbHeapNode *y)
{
  return x->time < y->time || (x->time == y->time && x->seq < y->seq);
}

static inline void
mb_sched_place (MbSched *s, gsize i, const MbHeapNode *node)
{
  s->heap[i] = *node;
  s->slots[node->slot].pos = (guint32) i;
}

static void
mb_sched_sift_up (MbSched *s, gsize i, MbHeapNode node)
{
  while (i > 0)
    {
      gsize parent = (i - 1) / MB_SCHED_ARITY;
      if (!mb_sched_less (&node, &s->heap[parent]))
        break;
      mb_sched_place (s, i, &s->heap[parent]);
      i = parent;
    }
  mb_sched_place (s, i, &node);
}

static void
mb_sched_sift_down (MbSched *s, gsize i, MbHeapNode node)
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
        if (mb_sched_less (&s->heap[c], &s->heap[best]))
          best = c;
      if (!mb_sched_less (&s->heap[best], &node))
        break;
      mb_sched_place (s, i, &s->heap[best]);
      i = best;
    }
  mb_sched_place (s, i, &node);
}

/* Removes heap[i], keeping the heap property. */
static void
mb_sched_remove_at (MbSched *s, gsize i)
{
  MbHeapNode last = s->heap[--s->n_heap];
  if (i == s->n_heap)
    return;
  if (i > 0 && mb_sched_less (&last, &s->heap[(i - 1) / MB_SCHED_ARITY]))
    mb_sched_sift_up (s, i, last);
  else
    mb_sched_sift_down (s, i, last);
}

static guint32
mb_sched_alloc_slot (MbSched *s)
{
  if (s->free_head != MB_SLOT_NIL)
    {
      guint32 slot = s->free_head;
      s->free_head = s->slots[slot].pos;
      return slot;
    }
  g_assert (s->n_slots < MB_SLOT_NIL);
  if (s->n_slots == s->cap_slots)
    {
      s->cap_slots = s->cap_slots ? MIN ((guint64) s->cap_slots * 2, MB_SLOT_NIL) : 64;
      s->slots = g_renew (MbSlot, s->slots, s->cap_slots);
    }
  s->slots[s->n_slots].gen = 1;
  return s->n_slots++;
}

static void
mb_sched_release_slot (MbSched *s, guint32 slot)
{
  MbSlot *sl = &s->slots[slot];
  if (sl->gen == G_MAXUINT32)
    {
      sl->gen = 0; /* retired: its ids must never come back */
      return;
    }
  sl->gen++;
  sl->pos = s->free_head;
  s->free_head = slot;
}

static void
mb_sched_grow_heap (MbSched *s)
{
  if (s->n_heap < s->cap_heap)
    return;
  s->cap_heap = s->cap_heap ? s->cap_heap * 2 : 64;
  s->heap = g_renew (MbHeapNode, s->heap, s->cap_heap);
}

MbEventId
mb_sched_at (MbSched *sched, guint64 when, MbEventFn fn, gpointer a, guint64 b)
{
  g_return_val_if_fail (sched != NULL && fn != NULL, MB_EVENT_NONE);
  guint32 slot = mb_sched_alloc_slot (sched);
  MbSlot *sl = &sched->slots[slot];
  sl->fn = fn;
  sl->a = a;
  sl->b = b;
  mb_sched_grow_heap (sched);
  MbHeapNode node = { MAX (when, sched->now), sched->next_seq++, slot };
  sched->n_heap++;
  mb_sched_sift_up (sched, sched->n_heap - 1, node);
  return ((guint64) sl->gen << 32) | slot;
}

MbEventId
mb_sched_after (MbSched *sched, guint64 delay, MbEventFn fn, gpointer a, guint64 b)
{
  guint64 when = sched->now + delay;
  if (when < sched->now)
    when = G_MAXUINT64;
  return mb_sched_at (sched, when, fn, a, b);
}

/* The live slot an id names, or MB_SLOT_NIL. */
static guint32
mb_sched_lookup (const MbSched *s, MbEventId id)
{
  guint32 slot = (guint32) (id & G_MAXUINT32);
  guint32 gen = (guint32) (id >> 32);
  if (gen == 0 || slot >= s->n_slots || s->slots[slot].gen != gen)
    return MB_SLOT_NIL;
  return slot;
}

gboolean
mb_sched_is_pending (const MbSched *sched, MbEventId id)
{
  return mb_sched_lookup (sched, id) != MB_SLOT_NIL;
}

gboolean
mb_sched_cancel (MbSched *sched, MbEventId id)
{
  guint32 slot = mb_sched_lookup (sched, id);
  if (slot == MB_SLOT_NIL)
    return FALSE;
  mb_sched_remove_at (sched, sched->slots[slot].pos);
  mb_sched_release_slot (sched, slot);
  return TRUE;
}

guint64
mb_sched_now (const MbSched *sched)
{
  return sched->now;
}

guint64
mb_sched_next_time (const MbSched *sched)
{
  return sched->n_heap ? sched->heap[0].time : G_MAXUINT64;
}

gboolean
mb_sched_step (MbSched *sched)
{
  if (sched->n_heap == 0)
    return FALSE;
  MbHeapNode top = sched->heap[0];
  mb_sched_remove_at (sched, 0);
  MbSlot *sl = &sched->slots[top.slot];
  MbEventFn fn = sl->fn;
  gpointer a = sl->a;
  guint64 b = sl->b;
  mb_sched_release_slot (sched, top.slot); /* fired: its id is dead now */
  sched->now = top.time;
  sched->events_run++;
  fn (sched, a, b);
  return TRUE;
}

guint64
mb_sched_run_until (MbSched *sched, guint64 t_end, MbSchedStopFn stop, gpointer stop_data)
{
  guint64 ran = 0;
  while (sched->n_heap > 0 && sched->heap[0].time <= t_end)
    {
      mb_sched_step (sched);
      ran++;
      if (stop != NULL && stop (stop_data))
        return ran;
    }
  if (t_end != G_MAXUINT64 && t_end > sched->now)
    sched->now = t_end;
  return ran;
}

gsize
mb_sched_pending (const MbSched *sched)
{
  return sched->n_heap;
}

guint64
mb_sched_events_run (const MbSched *sched)
{
  return sched->events_run;
}
