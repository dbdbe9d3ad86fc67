/* scheduler-private.h — the scheduler's state, shared by its files.  Not
 * installed.
 *
 *   scheduler.c       the clock, the slots, the wheel and its current run,
 *                     the late heap, prefetch hooks, the API
 *   scheduler-heap.c  the overflow heap: events beyond the wheel's horizon
 *   scheduler-sort.c  sorting a tick's records into the current run
 *
 * The layout and its invariants are described at the top of scheduler.c;
 * every file keeps them.  The release build links with LTO, so the calls
 * between these files are inlined as they were within one file.
 */
#pragma once

#ifndef MB_SIM_SCHEDULER_INTERNAL
#error "scheduler-private.h is private to sim/scheduler*.c: no other file may include it"
#endif

#include "scheduler.h"

/* Records per bucket chunk. */
#define MB_CHUNK_RECS 10

typedef struct {
  guint64 time;
  guint64 who;  /* (dest key << 32) | src key: see scheduler.h's event order */
  guint64 seq;  /* the source's own sequence number */
  guint32 slot;
  guint32 gen; /* the slot's generation when scheduled */
} MbRec;

typedef struct _MbSchedSeqs MbSchedSeqs;

/* Buckets are lists of fixed-size chunks, so that a bucket's storage follows
 * its size and freed chunks go back to a shared free list. */
typedef struct _MbChunk MbChunk;
struct _MbChunk {
  MbChunk *next;
  MbRec recs[MB_CHUNK_RECS];
};

typedef struct {
  MbChunk *chunks; /* the first one is partly filled, the others are full */
  guint32 len;
} MbBucket;

typedef struct {
  MbEventFn fn;
  gpointer a;
  guint64 b;
  guint32 pos;  /* heap index or MB_POS_WHEEL when live; next free slot when free */
  guint32 gen;  /* 0 = retired */
} MbSlot;

struct _MbSched {
  guint64 now;
  MbSchedSeqs *seqs;  /* per source key: its next sequence number (maybe shared) */
  guint64 events_run;
  gsize n_live;
  /* wheel */
  guint64 cur_tick;
  MbRec *cur; /* the current run: tick cur_tick's records, latest first */
  guint32 cur_len;
  guint32 cur_cap;
  MbRec *late; /* min-heap: records scheduled for cur_tick after its sort */
  guint32 n_late;
  guint32 cap_late;
  MbBucket *buckets;
  MbChunk *free_chunks;
  guint64 *bitmap;
  gsize wheel_live;
  gsize wheel_dead;
  MbRec *scratch;
  gsize cap_scratch;
  /* overflow heap */
  MbRec *heap;
  gsize n_heap;
  gsize cap_heap;
  /* payloads */
  MbSlot *slots;
  guint32 n_slots;
  guint32 cap_slots;
  guint32 free_head;
  /* prefetch hooks */
  guint n_hooks;
  MbEventFn hook_fn[4];
  MbEventPrefetchFn hook_pf[4];
};

/* The per-source sequence numbers; one table may serve several schedulers
 * (the ranks of one run), see mb_sched_new_shared.  Source key 0 (global
 * events) has its own counter; node i's (key i + 1) lives in stripe
 * i mod n_stripes at index i / n_stripes.  With the ranks' nodes striped
 * alike (node i on rank i mod K), each rank's thread writes only its own
 * stripe, a separate allocation: neighbouring nodes of different ranks never
 * share a cache line (they did in one table: every event a rank scheduled
 * took the line from the other core). */
typedef struct {
  guint64 *next;  /* by node / n_stripes */
  guint32 n;
} MbSchedStripe;

struct _MbSchedSeqs {
  guint64 global;
  MbSchedStripe *stripes;
  guint n_stripes;
  gint ref;
};

/* x runs before y: by time, then destination, source and the source's seq. */
static inline gboolean
mbi_sched_rec_less (const MbRec *x, const MbRec *y)
{
  if (x->time != y->time)
    return x->time < y->time;
  if (x->who != y->who)
    return x->who < y->who;
  return x->seq < y->seq;
}

/* ---- scheduler-heap.c: the overflow heap ---------------------------------- */

/* Adds rec (live, its tick at least cur_tick + SIZE) to the heap. */
void mbi_sched_heap_push (MbSched *s, MbRec rec);
/* Removes heap[i], keeping the heap property. */
void mbi_sched_heap_remove_at (MbSched *s, gsize i);

/* ---- scheduler-sort.c: the current run's order ---------------------------- */

/* Makes s->scratch hold at least n records. */
void mbi_sched_reserve_scratch (MbSched *s, gsize n);
/* Sorts r[0..n) latest first (by time, then seq). */
void mbi_sched_sort_recs (MbSched *s, MbRec *r, gsize n);
