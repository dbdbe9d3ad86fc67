/* scheduler.c — virtual clock plus a timing wheel of events, with an indexed
 * 4-ary min-heap for the events beyond the wheel's horizon.
 *
 * Time is cut into ticks of 2^MB_WHEEL_SHIFT µs (tick = time >> SHIFT).  The
 * wheel has MB_WHEEL_SIZE buckets and covers the ticks [cur_tick,
 * cur_tick + SIZE); tick t goes to bucket t & MB_WHEEL_MASK.  An event is a
 * compact record (time, seq, slot, gen); its payload (fn, a, b) lives in a
 * slot table.  Events past the horizon wait in the overflow heap and move
 * into the wheel when its window reaches them.
 *
 * When the wheel enters a tick it moves that tick's bucket into the current
 * run `cur`, sorts it once, latest first, and pops events off its end.  An
 * event scheduled for the tick being consumed goes to the `late` heap, a
 * small binary min-heap; the next event is the earlier of the run's end and
 * the late heap's top.  The other buckets are unsorted lists of fixed-size
 * chunks (with a shared free list, so memory follows the number of pending
 * events).  A bitmap marks the non-empty buckets, so empty ones are skipped
 * 64 at a time; when the wheel is empty it jumps to the heap's earliest tick.
 *
 * Cancelling a wheel event is lazy: bumping the slot's generation makes its
 * record dead; dead records are skipped when reached, dropped when their
 * bucket is entered, and swept out when they outnumber the live ones.
 * Cancelling a heap event removes it from the heap.
 *
 * This file holds the clock, the slots, the wheel with its current run and
 * late heap, the prefetch hooks and the API; the overflow heap is in
 * scheduler-heap.c, the sorting of a tick's run in scheduler-sort.c, and the
 * state they share (with the layout below) in scheduler-private.h.
 *
 * Invariants:
 *  - events run in (time, who, seq) order (scheduler.h); a source's seq
 *    strictly increases with every event it schedules, so no two records
 *    share a key;
 *  - cur_tick <= now >> SHIFT: the wheel never runs ahead of the clock, so no
 *    event is ever scheduled before the current tick;
 *  - cur[0..cur_len) and late[0..n_late) hold exactly the wheel records of
 *    tick cur_tick; cur is sorted latest first by (time, seq) and late is a
 *    min-heap (late[i] <= late[2i+1], late[2i+2]); every other
 *    wheel record has a tick in (cur_tick, cur_tick + SIZE) and sits in that
 *    tick's bucket, so the bucket of cur_tick itself is empty; every heap
 *    event's tick is >= cur_tick + SIZE;
 *  - a bucket's bitmap bit is set iff the bucket holds records (live or dead);
 *  - a record is live iff slots[rec.slot].gen == rec.gen; a live slot's pos
 *    is its heap index, or MB_POS_WHEEL when its record is in the wheel;
 *  - heap[i] <= heap[child] for every child (order: time, then seq), and
 *    every heap node is live (kept by scheduler-heap.c);
 *  - n_live counts live events (heap and wheel); wheel_live and wheel_dead
 *    count the wheel's live and dead records;
 *  - an id is (generation << 32 | slot); a slot's generation is bumped when
 *    its event fires or is cancelled, so stale ids never match.  A slot whose
 *    generation would wrap is retired (never reused), so ids are never reused
 *    and a dead record never comes back to life;
 *  - free slots form a singly linked list through `pos`;
 *  - now never decreases; no event is ever scheduled before now.
 */
#define MB_SIM_SCHEDULER_INTERNAL
#include "scheduler-private.h"
#include "memsize.h"

#include <string.h>

/* 1,024 µs ticks (long runs per tick give the prefetch look-ahead room) and
 * 2^15 buckets: a horizon of about 33.5 s, so that even a deep uplink queue
 * (a 2 Mbit/s peer with 250 blocks requested of it is ~15 s behind) stays
 * in the wheel rather than the overflow heap. */
#define MB_WHEEL_SHIFT 10
#define MB_WHEEL_SIZE (1u << 15)
#define MB_WHEEL_MASK (MB_WHEEL_SIZE - 1)
#define MB_WHEEL_WORDS (MB_WHEEL_SIZE / 64)
/* Dead wheel records are swept out once they exceed the live ones by this. */
#define MB_WHEEL_SWEEP_SLACK 4096

/* Prefetch hooks: see mb_sched_prefetch_ahead. */
#define MB_PREFETCH_STRIDE 2
#define MB_PREFETCH_SPAN (MB_SCHED_PREFETCH_DEPTHS * MB_PREFETCH_STRIDE)

#define MB_SLOT_NIL G_MAXUINT32
#define MB_POS_WHEEL G_MAXUINT32

#if defined(__GNUC__)
#define MB_PREFETCH(p) __builtin_prefetch (p)
#else
#define MB_PREFETCH(p) ((void) (p))
#endif

static inline guint64
mb_tick (guint64 time)
{
  return time >> MB_WHEEL_SHIFT;
}

static inline gboolean
mb_sched_rec_live (const MbSched *s, const MbRec *r)
{
  return s->slots[r->slot].gen == r->gen;
}

/* The destination of the event running on this thread, as a key (node + 1,
 * 0 = global). */
static _Thread_local guint32 mb_cur_key;

static inline guint32
mb_node_key (guint32 node)
{
  return node + 1; /* MB_SCHED_GLOBAL wraps to 0 */
}

guint32
mb_sched_current_node (void)
{
  return mb_cur_key - 1;
}

/* The counter of source key `src` (0: global events; else node src - 1),
 * its stripe grown to hold it (zeroes: no event numbered yet). */
static inline guint64 *
mb_seqs_at (MbSchedSeqs *q, guint32 src)
{
  if (src == 0)
    return &q->global;
  guint32 node = src - 1;
  guint32 i = node, r = 0;
  if (q->n_stripes > 1)
    {
      i = node / q->n_stripes;
      r = node % q->n_stripes;
    }
  MbSchedStripe *st = &q->stripes[r];
  if (G_UNLIKELY (i >= st->n))
    {
      guint32 cap = MAX (MAX (i + 1, 64u), st->n < G_MAXUINT32 / 2 ? st->n * 2 : G_MAXUINT32);
      st->next = g_renew (guint64, st->next, cap);
      memset (st->next + st->n, 0, (gsize) (cap - st->n) * sizeof (guint64));
      st->n = cap;
    }
  return &st->next[i];
}

static void
mb_seqs_free (MbSchedSeqs *q)
{
  for (guint r = 0; r < q->n_stripes; r++)
    g_free (q->stripes[r].next);
  g_free (q->stripes);
  g_free (q);
}

/* ---- slots ---------------------------------------------------------------- */

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

/* ---- the late heap: a plain binary min-heap, small and hot ---------------- */

static void
mb_late_sift_down (MbSched *s, guint32 i)
{
  MbRec node = s->late[i];
  for (;;)
    {
      guint32 c = 2 * i + 1;
      if (c >= s->n_late)
        break;
      if (c + 1 < s->n_late && mbi_sched_rec_less (&s->late[c + 1], &s->late[c]))
        c++;
      if (!mbi_sched_rec_less (&s->late[c], &node))
        break;
      s->late[i] = s->late[c];
      i = c;
    }
  s->late[i] = node;
}

static void
mb_late_push (MbSched *s, const MbRec *rec)
{
  if (s->n_late == s->cap_late)
    {
      s->cap_late = s->cap_late ? s->cap_late * 2 : 64;
      s->late = g_renew (MbRec, s->late, s->cap_late);
    }
  guint32 i = s->n_late++;
  while (i > 0 && mbi_sched_rec_less (rec, &s->late[(i - 1) / 2]))
    {
      s->late[i] = s->late[(i - 1) / 2];
      i = (i - 1) / 2;
    }
  s->late[i] = *rec;
}

static void
mb_late_pop (MbSched *s)
{
  s->late[0] = s->late[--s->n_late];
  if (s->n_late > 0)
    mb_late_sift_down (s, 0);
}

/* Drops the late heap's dead records. */
static void
mb_late_filter (MbSched *s)
{
  guint32 n = 0;
  for (guint32 i = 0; i < s->n_late; i++)
    if (mb_sched_rec_live (s, &s->late[i]))
      s->late[n++] = s->late[i];
  s->wheel_dead -= s->n_late - n;
  s->n_late = n;
  for (guint32 i = n / 2; i-- > 0;)
    mb_late_sift_down (s, i);
}

/* ---- the wheel -------------------------------------------------------------- */

static MbChunk *
mb_chunk_get (MbSched *s)
{
  MbChunk *c = s->free_chunks;
  if (c != NULL)
    s->free_chunks = c->next;
  else
    c = g_new (MbChunk, 1);
  return c;
}

/* Returns all of b's chunks to the free list and empties b. */
static void
mb_bucket_release (MbSched *s, MbBucket *b)
{
  MbChunk *c = b->chunks;
  while (c != NULL)
    {
      MbChunk *next = c->next;
      c->next = s->free_chunks;
      s->free_chunks = c;
      c = next;
    }
  b->chunks = NULL;
  b->len = 0;
}

/* Records in b's first (partly filled) chunk; the others are full. */
static inline guint32
mb_bucket_first_count (const MbBucket *b)
{
  return b->len == 0 ? 0 : (b->len - 1) % MB_CHUNK_RECS + 1;
}

static inline MbBucket *
mb_wheel_bucket (MbSched *s, guint64 tick)
{
  return &s->buckets[tick & MB_WHEEL_MASK];
}

static inline void
mb_wheel_mark (MbSched *s, guint64 tick, gboolean nonempty)
{
  guint idx = (guint) (tick & MB_WHEEL_MASK);
  guint64 bit = G_GUINT64_CONSTANT (1) << (idx & 63);
  if (nonempty)
    s->bitmap[idx >> 6] |= bit;
  else
    s->bitmap[idx >> 6] &= ~bit;
}

/* Appends rec to the (unsorted) bucket of a tick after the current one. */
static void
mb_wheel_append (MbSched *s, guint64 tick, const MbRec *rec)
{
  MbBucket *b = mb_wheel_bucket (s, tick);
  guint32 k = b->len % MB_CHUNK_RECS;
  if (k == 0)
    {
      MbChunk *c = mb_chunk_get (s);
      c->next = b->chunks;
      b->chunks = c;
      mb_wheel_mark (s, tick, TRUE);
    }
  b->chunks->recs[k] = *rec;
  b->len++;
}

/* Makes room for `n` more records in the current run. */
static void
mb_cur_reserve (MbSched *s, guint32 n)
{
  while (s->cur_cap - s->cur_len < n)
    {
      s->cur_cap = s->cur_cap ? s->cur_cap * 2 : 64;
      s->cur = g_renew (MbRec, s->cur, s->cur_cap);
    }
}

/* Puts a new record, whose tick is in [cur_tick, cur_tick + SIZE), in the
 * wheel. */
static void
mb_wheel_insert (MbSched *s, guint64 tick, const MbRec *rec)
{
  if (tick == s->cur_tick)
    mb_late_push (s, rec);
  else
    mb_wheel_append (s, tick, rec);
  s->slots[rec->slot].pos = MB_POS_WHEEL;
  s->wheel_live++;
}

/* Offset in [1, SIZE) from `tick` to the next non-empty bucket after it,
 * cyclically; SIZE if only tick's own bucket is non-empty, 0 if none is. */
static guint
mb_wheel_next_offset (const MbSched *s, guint64 tick)
{
  guint start = (guint) ((tick + 1) & MB_WHEEL_MASK);
  guint wi = start >> 6;
  guint64 w = s->bitmap[wi] & (~G_GUINT64_CONSTANT (0) << (start & 63));
  for (guint i = 0; i <= MB_WHEEL_WORDS; i++)
    {
      if (w != 0)
        {
          guint idx = (wi << 6) | (guint) __builtin_ctzll (w);
          return ((idx - start) & MB_WHEEL_MASK) + 1;
        }
      wi = (wi + 1) % MB_WHEEL_WORDS;
      w = s->bitmap[wi];
    }
  return 0;
}

/* Moves the records of bucket `tick` to out[] (which has room for them),
 * dropping dead ones if `only_live`, and empties the bucket.  Returns how
 * many were moved. */
static guint32
mb_wheel_take (MbSched *s, guint64 tick, MbRec *out, gboolean only_live)
{
  MbBucket *b = mb_wheel_bucket (s, tick);
  guint32 n = 0, count = mb_bucket_first_count (b);
  for (const MbChunk *c = b->chunks; c != NULL; c = c->next, count = MB_CHUNK_RECS)
    {
      if (c->next != NULL)
        for (gsize off = 0; off < sizeof (MbChunk); off += 64)
          MB_PREFETCH ((const char *) c->next + off);
      for (guint32 i = 0; i < count; i++)
        if (!only_live || mb_sched_rec_live (s, &c->recs[i]))
          out[n++] = c->recs[i];
    }
  s->wheel_dead -= only_live ? b->len - n : 0;
  mb_bucket_release (s, b);
  mb_wheel_mark (s, tick, FALSE);
  return n;
}

/* Drops every dead record from the wheel. */
static void
mb_wheel_sweep (MbSched *s)
{
  guint32 n = 0;
  for (guint32 i = 0; i < s->cur_len; i++)
    if (mb_sched_rec_live (s, &s->cur[i]))
      s->cur[n++] = s->cur[i];
  s->wheel_dead -= s->cur_len - n;
  s->cur_len = n;
  mb_late_filter (s);
  for (guint64 t = s->cur_tick;;)
    {
      guint off = mb_wheel_next_offset (s, t);
      if (off == 0 || t + off - s->cur_tick >= MB_WHEEL_SIZE)
        break;
      t += off;
      MbBucket *b = mb_wheel_bucket (s, t);
      mbi_sched_reserve_scratch (s, b->len);
      guint32 live = mb_wheel_take (s, t, s->scratch, TRUE);
      for (guint32 i = 0; i < live; i++)
        mb_wheel_append (s, t, &s->scratch[i]);
    }
}

/* Moves the wheel to `tick` (the current run and the late heap are used up,
 * and no wheel record is before `tick`): pulls the heap events now inside
 * the window, then takes the tick's bucket as the new current run, sorted. */
static void
mb_wheel_enter (MbSched *s, guint64 tick)
{
  s->cur_tick = tick;
  s->cur_len = 0;
  while (s->n_heap > 0 && mb_tick (s->heap[0].time) - tick < MB_WHEEL_SIZE)
    {
      MbRec rec = s->heap[0];
      mbi_sched_heap_remove_at (s, 0);
      s->wheel_live++;
      s->slots[rec.slot].pos = MB_POS_WHEEL;
      if (mb_tick (rec.time) == tick)
        {
          mb_cur_reserve (s, 1);
          s->cur[s->cur_len++] = rec;
        }
      else
        mb_wheel_append (s, mb_tick (rec.time), &rec);
    }
  mb_cur_reserve (s, mb_wheel_bucket (s, tick)->len);
  /* Dead records come along (they are skipped when reached): checking them
   * here would read every record's slot, one cache miss after another. */
  s->cur_len += mb_wheel_take (s, tick, s->cur + s->cur_len, FALSE);
  mbi_sched_sort_recs (s, s->cur, s->cur_len);
  for (guint32 i = 1; i <= MIN (s->cur_len, (guint32) MB_PREFETCH_SPAN + 3); i++)
    MB_PREFETCH (&s->slots[s->cur[s->cur_len - i].slot]);
}

/* Whether the next event of the current tick is the late heap's top rather
 * than the end of the current run (both live, at least one present). */
static inline gboolean
mb_sched_next_is_late (const MbSched *s)
{
  return s->n_late > 0 && (s->cur_len == 0 || mbi_sched_rec_less (&s->late[0], &s->cur[s->cur_len - 1]));
}

/* The earliest live event's record, moving the wheel forward as needed but
 * never past `limit_tick`; NULL if there is none up to limit_tick. */
static const MbRec *
mb_sched_front (MbSched *s, guint64 limit_tick)
{
  for (;;)
    {
      for (; s->cur_len > 0 && !mb_sched_rec_live (s, &s->cur[s->cur_len - 1]); s->cur_len--)
        s->wheel_dead--;
      for (; s->n_late > 0 && !mb_sched_rec_live (s, &s->late[0]); mb_late_pop (s))
        s->wheel_dead--;
      if (s->cur_len > 0 || s->n_late > 0)
        return mb_sched_next_is_late (s) ? &s->late[0] : &s->cur[s->cur_len - 1];
      guint64 next;
      if (s->wheel_live > 0)
        next = s->cur_tick + mb_wheel_next_offset (s, s->cur_tick);
      else
        {
          if (s->wheel_dead > 0)
            mb_wheel_sweep (s);
          if (s->n_heap == 0)
            return NULL;
          next = mb_tick (s->heap[0].time);
        }
      if (next > limit_tick)
        return NULL;
      mb_wheel_enter (s, next);
    }
}

/* Calls the prefetch hooks for the next events of the current run: the event
 * j * STRIDE places ahead (1 is the next) gets depth DEPTHS - j, so each
 * prefetch has STRIDE events' time to arrive before the next depth reads it. */
static void
mb_sched_prefetch_ahead (const MbSched *s)
{
  const MbRec *top = s->cur + s->cur_len;
  for (guint32 j = MIN (MB_SCHED_PREFETCH_DEPTHS, s->cur_len / MB_PREFETCH_STRIDE); j >= 1; j--)
    {
      const MbRec *r = top - j * MB_PREFETCH_STRIDE;
      const MbSlot *sl = &s->slots[r->slot];
      if (sl->gen != r->gen)
        continue;
      MbEventFn fn = sl->fn;
      guint depth = MB_SCHED_PREFETCH_DEPTHS - j;
      if (fn == s->hook_fn[0]) /* most events are the first hook's */
        s->hook_pf[0] (sl->a, sl->b, depth);
      else
        for (guint k = 1; k < s->n_hooks; k++)
          if (s->hook_fn[k] == fn)
            {
              s->hook_pf[k] (sl->a, sl->b, depth);
              break;
            }
    }
}

/* Runs the current tick's next event (the run's end or the late heap's top),
 * which mb_sched_front has just made live. */
static void
mb_sched_run_next (MbSched *s)
{
  MbRec rec;
  if (mb_sched_next_is_late (s))
    {
      rec = s->late[0];
      mb_late_pop (s);
    }
  else
    rec = s->cur[--s->cur_len];
  /* the slot a few events before the hooks first read it */
  if (s->cur_len >= MB_PREFETCH_SPAN + 3)
    MB_PREFETCH (&s->slots[s->cur[s->cur_len - MB_PREFETCH_SPAN - 3].slot]);
  if (s->n_hooks > 0)
    mb_sched_prefetch_ahead (s);
  s->wheel_live--;
  s->n_live--;
  MbSlot *sl = &s->slots[rec.slot];
  MbEventFn fn = sl->fn;
  gpointer a = sl->a;
  guint64 arg_b = sl->b;
  mb_sched_release_slot (s, rec.slot); /* fired: its id is dead now */
  s->now = rec.time;
  s->events_run++;
  guint32 outer = mb_cur_key;
  mb_cur_key = (guint32) (rec.who >> 32);
  fn (s, a, arg_b);
  mb_cur_key = outer;
}

/* ---- API -------------------------------------------------------------------- */

MbSched *
mb_sched_new (void)
{
  MbSched *s = g_new0 (MbSched, 1);
  s->seqs = g_new0 (MbSchedSeqs, 1);
  s->seqs->ref = 1;
  s->seqs->n_stripes = 1;
  s->seqs->stripes = g_new0 (MbSchedStripe, 1);
  s->free_head = MB_SLOT_NIL;
  s->buckets = g_new0 (MbBucket, MB_WHEEL_SIZE);
  s->bitmap = g_new0 (guint64, MB_WHEEL_WORDS);
  return s;
}

MbSched *
mb_sched_new_shared (MbSched *other)
{
  MbSched *s = mb_sched_new ();
  mb_seqs_free (s->seqs);
  s->seqs = other->seqs;
  g_atomic_int_inc (&s->seqs->ref);
  return s;
}

void
mb_sched_stripe_nodes (MbSched *sched, guint n_stripes)
{
  MbSchedSeqs *q = sched->seqs;
  g_return_if_fail (n_stripes >= 1);
  if (n_stripes == q->n_stripes)
    return;
  for (guint r = 0; r < q->n_stripes; r++)
    for (guint32 i = 0; i < q->stripes[r].n; i++)
      g_return_if_fail (q->stripes[r].next[i] == 0); /* before any node's event */
  for (guint r = 0; r < q->n_stripes; r++)
    g_free (q->stripes[r].next);
  g_free (q->stripes);
  q->stripes = g_new0 (MbSchedStripe, n_stripes);
  q->n_stripes = n_stripes;
}

void
mb_sched_reserve_nodes (MbSched *sched, guint32 n_nodes)
{
  if (n_nodes > 0)
    (void) mb_seqs_at (sched->seqs, n_nodes);  /* node n_nodes - 1's stripe */
  for (guint32 k = 1; k < sched->seqs->n_stripes && k < n_nodes; k++)
    (void) mb_seqs_at (sched->seqs, n_nodes - k);
}

void
mb_sched_free (MbSched *sched)
{
  if (sched == NULL)
    return;
  if (g_atomic_int_dec_and_test (&sched->seqs->ref))
    mb_seqs_free (sched->seqs);
  for (guint i = 0; i < MB_WHEEL_SIZE; i++)
    mb_bucket_release (sched, &sched->buckets[i]);
  while (sched->free_chunks != NULL)
    {
      MbChunk *next = sched->free_chunks->next;
      g_free (sched->free_chunks);
      sched->free_chunks = next;
    }
  g_free (sched->buckets);
  g_free (sched->cur);
  g_free (sched->late);
  g_free (sched->bitmap);
  g_free (sched->scratch);
  g_free (sched->heap);
  g_free (sched->slots);
  g_free (sched);
}

MbSchedKey
mb_sched_key_for (MbSched *sched, guint64 when, guint32 node)
{
  guint32 src = mb_cur_key;
  MbSchedKey k = { when, ((guint64) mb_node_key (node) << 32) | src,
                   (*mb_seqs_at (sched->seqs, src))++ };
  return k;
}

guint64
mb_sched_seq_peek (MbSched *sched, guint32 node)
{
  return *mb_seqs_at (sched->seqs, mb_node_key (node));
}

void
mb_sched_seq_skip (MbSched *sched, guint32 node, guint64 n)
{
  *mb_seqs_at (sched->seqs, mb_node_key (node)) += n;
}

MbEventId
mb_sched_at_key (MbSched *sched, const MbSchedKey *key, MbEventFn fn, gpointer a, guint64 b)
{
  g_return_val_if_fail (sched != NULL && fn != NULL, MB_EVENT_NONE);
  guint32 slot = mb_sched_alloc_slot (sched);
  MbSlot *sl = &sched->slots[slot];
  sl->fn = fn;
  sl->a = a;
  sl->b = b;
  MbRec rec = { MAX (key->time, sched->now), key->who, key->seq, slot, sl->gen };
  guint64 tick = mb_tick (rec.time);
  g_assert (tick >= sched->cur_tick);
  if (tick - sched->cur_tick < MB_WHEEL_SIZE)
    mb_wheel_insert (sched, tick, &rec);
  else
    mbi_sched_heap_push (sched, rec);
  sched->n_live++;
  return ((guint64) rec.gen << 32) | slot;
}

MbEventId
mb_sched_at_node (MbSched *sched, guint64 when, guint32 node, MbEventFn fn, gpointer a,
                  guint64 b)
{
  MbSchedKey k = mb_sched_key_for (sched, when, node);
  return mb_sched_at_key (sched, &k, fn, a, b);
}

MbEventId
mb_sched_at (MbSched *sched, guint64 when, MbEventFn fn, gpointer a, guint64 b)
{
  return mb_sched_at_node (sched, when, mb_cur_key - 1, fn, a, b);
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
  guint32 pos = sched->slots[slot].pos;
  if (pos == MB_POS_WHEEL)
    {
      sched->wheel_live--;
      sched->wheel_dead++;
    }
  else
    mbi_sched_heap_remove_at (sched, pos);
  mb_sched_release_slot (sched, slot); /* its wheel record, if any, is dead now */
  sched->n_live--;
  if (sched->wheel_dead > sched->wheel_live + MB_WHEEL_SWEEP_SLACK)
    mb_wheel_sweep (sched);
  return TRUE;
}

guint64
mb_sched_now (const MbSched *sched)
{
  return sched->now;
}

/* The smallest live time in the (unsorted) bucket of `tick`, or G_MAXUINT64. */
static guint64
mb_wheel_min_time (const MbSched *s, guint64 tick)
{
  const MbBucket *b = &s->buckets[tick & MB_WHEEL_MASK];
  guint64 best = G_MAXUINT64;
  guint32 count = mb_bucket_first_count (b);
  for (const MbChunk *c = b->chunks; c != NULL; c = c->next, count = MB_CHUNK_RECS)
    for (guint32 i = 0; i < count; i++)
      if (c->recs[i].time < best && mb_sched_rec_live (s, &c->recs[i]))
        best = c->recs[i].time;
  return best;
}

guint64
mb_sched_next_time (const MbSched *sched)
{
  if (sched->n_live == 0)
    return G_MAXUINT64;
  if (sched->wheel_live == 0)
    return sched->heap[0].time;
  /* some wheel record is live, and every wheel event precedes the heap's */
  guint64 best = G_MAXUINT64;
  for (guint32 i = sched->cur_len; i-- > 0 && best == G_MAXUINT64;) /* latest first */
    if (mb_sched_rec_live (sched, &sched->cur[i]))
      best = sched->cur[i].time;
  for (guint32 i = 0; i < sched->n_late; i++)
    if (sched->late[i].time < best && mb_sched_rec_live (sched, &sched->late[i]))
      best = sched->late[i].time;
  for (guint64 t = sched->cur_tick; best == G_MAXUINT64;)
    {
      t += mb_wheel_next_offset (sched, t);
      best = mb_wheel_min_time (sched, t);
    }
  return best;
}

gboolean
mb_sched_step (MbSched *sched)
{
  if (mb_sched_front (sched, G_MAXUINT64) == NULL)
    return FALSE;
  mb_sched_run_next (sched);
  return TRUE;
}

guint64
mb_sched_run_until (MbSched *sched, guint64 t_end, MbSchedStopFn stop, gpointer stop_data)
{
  guint64 ran = 0;
  const MbRec *next;
  while ((next = mb_sched_front (sched, mb_tick (t_end))) != NULL && next->time <= t_end)
    {
      mb_sched_run_next (sched);
      ran++;
      if (stop != NULL && stop (stop_data))
        return ran;
    }
  if (t_end != G_MAXUINT64 && t_end > sched->now)
    sched->now = t_end;
  return ran;
}

guint64
mb_sched_run_window (MbSched *sched, guint64 t_end)
{
  g_return_val_if_fail (t_end > sched->now || (t_end == 0 && sched->now == 0), 0);
  guint64 ran = t_end > 0 ? mb_sched_run_until (sched, t_end - 1, NULL, NULL) : 0;
  sched->now = t_end;
  return ran;
}

void
mb_sched_set_prefetch (MbSched *sched, MbEventFn fn, MbEventPrefetchFn prefetch)
{
  g_return_if_fail (sched != NULL && fn != NULL && prefetch != NULL);
  for (guint k = 0; k < sched->n_hooks; k++)
    if (sched->hook_fn[k] == fn)
      {
        sched->hook_pf[k] = prefetch;
        return;
      }
  g_return_if_fail (sched->n_hooks < G_N_ELEMENTS (sched->hook_fn));
  sched->hook_fn[sched->n_hooks] = fn;
  sched->hook_pf[sched->n_hooks] = prefetch;
  sched->n_hooks++;
}

gsize
mb_sched_pending (const MbSched *sched)
{
  return sched->n_live;
}

guint64
mb_sched_events_run (const MbSched *sched)
{
  return sched->events_run;
}

static gsize
mb_chunks_heap_bytes (const MbChunk *c)
{
  gsize bytes = 0;
  for (; c != NULL; c = c->next)
    bytes += mb_memsize (c, sizeof *c);
  return bytes;
}

gsize
mb_sched_heap_bytes (const MbSched *sched)
{
  gsize bytes = mb_memsize (sched, sizeof *sched)
                + mb_memsize (sched->buckets, MB_WHEEL_SIZE * sizeof (MbBucket))
                + mb_memsize (sched->bitmap, MB_WHEEL_WORDS * sizeof (guint64))
                + mb_memsize (sched->cur, sched->cur_cap * sizeof (MbRec))
                + mb_memsize (sched->late, sched->cap_late * sizeof (MbRec))
                + mb_memsize (sched->scratch, sched->cap_scratch * sizeof (MbRec))
                + mb_memsize (sched->heap, sched->cap_heap * sizeof (MbRec))
                + mb_memsize (sched->slots, sched->cap_slots * sizeof (MbSlot))
                + mb_chunks_heap_bytes (sched->free_chunks);
  for (guint i = 0; i < MB_WHEEL_SIZE; i++)
    bytes += mb_chunks_heap_bytes (sched->buckets[i].chunks);
  return bytes;
}
