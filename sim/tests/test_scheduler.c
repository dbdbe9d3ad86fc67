/* test_scheduler.c — ordering, FIFO ties, cancel, id reuse, run_until, and
 * randomized comparisons against simple reference models (near and far
 * times, ties, cancels, events scheduled from inside events). */
#include "scheduler.h"

typedef struct {
  GArray *log; /* guint64: b of each fired event */
  GArray *times;
} Trace;

static void
trace_init (Trace *t)
{
  t->log = g_array_new (FALSE, FALSE, sizeof (guint64));
  t->times = g_array_new (FALSE, FALSE, sizeof (guint64));
}

static void
trace_clear (Trace *t)
{
  g_array_unref (t->log);
  g_array_unref (t->times);
}

static void
on_record (MbSched *s, gpointer a, guint64 b)
{
  Trace *t = a;
  guint64 now = mb_sched_now (s);
  g_array_append_val (t->log, b);
  g_array_append_val (t->times, now);
}

#define LOG_AT(t, i) g_array_index ((t)->log, guint64, (i))
#define TIME_AT(t, i) g_array_index ((t)->times, guint64, (i))

static void
test_scheduler_orders_by_time (void)
{
  g_autoptr (MbSched) s = mb_sched_new ();
  Trace t;
  trace_init (&t);
  mb_sched_at (s, 300, on_record, &t, 3);
  mb_sched_at (s, 100, on_record, &t, 1);
  mb_sched_at (s, 200, on_record, &t, 2);
  g_assert_cmpuint (mb_sched_pending (s), ==, 3);
  g_assert_cmpuint (mb_sched_next_time (s), ==, 100);
  while (mb_sched_step (s))
    ;
  g_assert_cmpuint (t.log->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      g_assert_cmpuint (LOG_AT (&t, i), ==, i + 1);
      g_assert_cmpuint (TIME_AT (&t, i), ==, (i + 1) * 100);
    }
  g_assert_cmpuint (mb_sched_now (s), ==, 300);
  g_assert_cmpuint (mb_sched_events_run (s), ==, 3);
  g_assert_cmpuint (mb_sched_next_time (s), ==, G_MAXUINT64);
  trace_clear (&t);
}

static void
test_scheduler_same_time_runs_in_schedule_order (void)
{
  g_autoptr (MbSched) s = mb_sched_new ();
  Trace t;
  trace_init (&t);
  for (guint64 i = 0; i < 1000; i++)
    mb_sched_at (s, 50, on_record, &t, i);
  mb_sched_at (s, 10, on_record, &t, 5000);
  while (mb_sched_step (s))
    ;
  g_assert_cmpuint (LOG_AT (&t, 0), ==, 5000);
  for (guint i = 1; i <= 1000; i++)
    g_assert_cmpuint (LOG_AT (&t, i), ==, i - 1);
  trace_clear (&t);
}

static void
test_scheduler_past_is_clamped_to_now (void)
{
  g_autoptr (MbSched) s = mb_sched_new ();
  Trace t;
  trace_init (&t);
  mb_sched_at (s, 1000, on_record, &t, 1);
  g_assert_true (mb_sched_step (s));
  mb_sched_at (s, 5, on_record, &t, 2);
  g_assert_cmpuint (mb_sched_next_time (s), ==, 1000);
  g_assert_true (mb_sched_step (s));
  g_assert_cmpuint (TIME_AT (&t, 1), ==, 1000);
  mb_sched_after (s, 7, on_record, &t, 3);
  mb_sched_after (s, G_MAXUINT64, on_record, &t, 4);
  g_assert_true (mb_sched_step (s));
  g_assert_cmpuint (TIME_AT (&t, 2), ==, 1007);
  g_assert_cmpuint (mb_sched_next_time (s), ==, G_MAXUINT64);
  trace_clear (&t);
}

static void
test_scheduler_cancel_is_false_after_fire_or_cancel (void)
{
  g_autoptr (MbSched) s = mb_sched_new ();
  Trace t;
  trace_init (&t);
  MbEventId a = mb_sched_at (s, 10, on_record, &t, 1);
  MbEventId b = mb_sched_at (s, 20, on_record, &t, 2);
  MbEventId c = mb_sched_at (s, 30, on_record, &t, 3);
  g_assert_cmpuint (a, !=, MB_EVENT_NONE);
  g_assert_true (mb_sched_is_pending (s, b));
  g_assert_true (mb_sched_cancel (s, b));
  g_assert_false (mb_sched_is_pending (s, b));
  g_assert_false (mb_sched_cancel (s, b));
  g_assert_cmpuint (mb_sched_pending (s), ==, 2);
  g_assert_true (mb_sched_step (s));
  g_assert_false (mb_sched_cancel (s, a)); /* already fired */
  g_assert_false (mb_sched_cancel (s, MB_EVENT_NONE));
  g_assert_false (mb_sched_cancel (s, G_GUINT64_CONSTANT (0x700000000123)));
  g_assert_true (mb_sched_step (s));
  g_assert_false (mb_sched_step (s));
  g_assert_false (mb_sched_cancel (s, c));
  g_assert_cmpuint (t.log->len, ==, 2);
  g_assert_cmpuint (LOG_AT (&t, 0), ==, 1);
  g_assert_cmpuint (LOG_AT (&t, 1), ==, 3);
  trace_clear (&t);
}

static void
test_scheduler_ids_are_never_reused (void)
{
  g_autoptr (MbSched) s = mb_sched_new ();
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  Trace t;
  trace_init (&t);
  MbEventId old = mb_sched_at (s, 1, on_record, &t, 0);
  mb_sched_cancel (s, old);
  for (guint i = 0; i < 10000; i++)
    {
      MbEventId id = mb_sched_at (s, i, on_record, &t, i);
      g_assert_false (g_hash_table_contains (seen, &id));
      g_hash_table_add (seen, g_memdup2 (&id, sizeof id));
      if (i % 3 == 0)
        mb_sched_cancel (s, id);
      else
        mb_sched_step (s);
      /* the first id's slot has been reused many times; it stays dead */
      g_assert_false (mb_sched_cancel (s, old));
    }
  trace_clear (&t);
}

static gboolean
stop_after_two (gpointer data)
{
  Trace *t = data;
  return t->log->len >= 2;
}

static void
test_scheduler_run_until_respects_t_end_and_stop (void)
{
  g_autoptr (MbSched) s = mb_sched_new ();
  Trace t;
  trace_init (&t);
  for (guint64 i = 1; i <= 5; i++)
    mb_sched_at (s, i * 100, on_record, &t, i);
  g_assert_cmpuint (mb_sched_run_until (s, 250, NULL, NULL), ==, 2);
  g_assert_cmpuint (mb_sched_now (s), ==, 250); /* clock advances to t_end */
  g_assert_cmpuint (mb_sched_pending (s), ==, 3);
  g_assert_cmpuint (mb_sched_run_until (s, 300, NULL, NULL), ==, 1); /* <= t_end runs */
  g_assert_cmpuint (mb_sched_now (s), ==, 300);
  g_array_set_size (t.log, 0);
  g_assert_cmpuint (mb_sched_run_until (s, 10000, stop_after_two, &t), ==, 2);
  g_assert_cmpuint (mb_sched_now (s), ==, 500); /* stopped: clock at the last event */
  g_assert_cmpuint (mb_sched_run_until (s, G_MAXUINT64, NULL, NULL), ==, 0);
  g_assert_cmpuint (mb_sched_now (s), ==, 500);
  g_assert_cmpuint (mb_sched_run_until (s, 100, NULL, NULL), ==, 0);
  g_assert_cmpuint (mb_sched_now (s), ==, 500); /* never goes back */
  g_assert_cmpuint (mb_sched_events_run (s), ==, 5);
  trace_clear (&t);
}

typedef struct {
  Trace trace;
  MbEventId victim;
  guint chain;
} Reentrant;

static void
on_chain (MbSched *s, gpointer a, guint64 b)
{
  Reentrant *r = a;
  on_record (s, &r->trace, b);
  if (b == 1)
    {
      g_assert_true (mb_sched_cancel (s, r->victim));
      mb_sched_at (s, mb_sched_now (s), on_chain, r, 2); /* same time: after queued ones */
    }
  if (b == 2 && r->chain++ < 3)
    mb_sched_after (s, 10, on_chain, r, 2);
}

static void
test_scheduler_events_schedule_and_cancel_from_inside (void)
{
  g_autoptr (MbSched) s = mb_sched_new ();
  Reentrant r = { 0 };
  trace_init (&r.trace);
  mb_sched_at (s, 100, on_chain, &r, 1);
  mb_sched_at (s, 100, on_chain, &r, 7);
  r.victim = mb_sched_at (s, 150, on_chain, &r, 9);
  mb_sched_run_until (s, G_MAXUINT64, NULL, NULL);
  guint64 want_b[] = { 1, 7, 2, 2, 2, 2 };
  guint64 want_t[] = { 100, 100, 100, 110, 120, 130 };
  g_assert_cmpuint (r.trace.log->len, ==, G_N_ELEMENTS (want_b));
  for (guint i = 0; i < G_N_ELEMENTS (want_b); i++)
    {
      g_assert_cmpuint (LOG_AT (&r.trace, i), ==, want_b[i]);
      g_assert_cmpuint (TIME_AT (&r.trace, i), ==, want_t[i]);
    }
  trace_clear (&r.trace);
}

/* Reference model: a plain array of (time, seq, live); the next event is the
 * live one with the smallest (time, seq). */
typedef struct {
  guint64 time;
  guint64 seq;
  MbEventId id;
  gboolean live;
} RefEvent;

static gint
ref_cmp (gconstpointer x, gconstpointer y)
{
  const RefEvent *a = x, *b = y;
  if (a->time != b->time)
    return a->time < b->time ? -1 : 1;
  return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void
test_scheduler_random_ops_match_reference_model (void)
{
  g_autoptr (MbSched) s = mb_sched_new ();
  g_autoptr (GRand) rng = g_rand_new_with_seed (42);
  g_autoptr (GArray) ref = g_array_new (FALSE, FALSE, sizeof (RefEvent));
  Trace t;
  trace_init (&t);
  guint64 seq = 0;
  for (guint round = 0; round < 20000; round++)
    {
      guint op = g_rand_int_range (rng, 0, 10);
      if (op < 5)
        {
          guint64 when = mb_sched_now (s) + g_rand_int_range (rng, 0, 50);
          RefEvent e = { when, seq, 0, TRUE };
          e.id = mb_sched_at (s, when, on_record, &t, seq++);
          g_array_append_val (ref, e);
        }
      else if (op < 7 && ref->len > 0)
        {
          RefEvent *e = &g_array_index (ref, RefEvent, g_rand_int_range (rng, 0, ref->len));
          g_assert_cmpint (mb_sched_cancel (s, e->id), ==, e->live);
          e->live = FALSE;
        }
      else
        {
          guint before = t.log->len;
          gboolean ran = mb_sched_step (s);
          g_array_sort (ref, ref_cmp);
          RefEvent *next = NULL;
          for (guint i = 0; i < ref->len && next == NULL; i++)
            if (g_array_index (ref, RefEvent, i).live)
              next = &g_array_index (ref, RefEvent, i);
          g_assert_cmpint (ran, ==, next != NULL);
          if (next)
            {
              g_assert_cmpuint (t.log->len, ==, before + 1);
              g_assert_cmpuint (LOG_AT (&t, before), ==, next->seq);
              g_assert_cmpuint (mb_sched_now (s), ==, next->time);
              next->live = FALSE;
            }
          for (guint i = ref->len; i-- > 0;) /* keep the model small */
            if (!g_array_index (ref, RefEvent, i).live)
              g_array_remove_index_fast (ref, i);
        }
      guint live = 0;
      for (guint i = 0; i < ref->len; i++)
        live += g_array_index (ref, RefEvent, i).live;
      g_assert_cmpuint (mb_sched_pending (s), ==, live);
    }
  trace_clear (&t);
}

static void
on_count_ordered (MbSched *s, gpointer a, guint64 b)
{
  guint64 *last = a;
  guint64 key = mb_sched_now (s) * 2000000 + b; /* (time, seq) as one number */
  g_assert_cmpuint (key, >, *last);
  *last = key;
}

static void
test_scheduler_million_pending_events_run_in_order (void)
{
  g_autoptr (MbSched) s = mb_sched_new ();
  g_autoptr (GRand) rng = g_rand_new_with_seed (7);
  MbEventId *ids = g_new (MbEventId, 1000000);
  guint64 last = 0;
  for (guint64 i = 0; i < 1000000; i++)
    ids[i] = mb_sched_at (s, g_rand_int_range (rng, 1, 100000), on_count_ordered, &last, i);
  g_assert_cmpuint (mb_sched_pending (s), ==, 1000000);
  for (guint i = 0; i < 1000000; i += 2)
    g_assert_true (mb_sched_cancel (s, ids[i]));
  g_assert_cmpuint (mb_sched_run_until (s, G_MAXUINT64, NULL, NULL), ==, 500000);
  g_assert_cmpuint (mb_sched_pending (s), ==, 0);
  g_free (ids);
}

/* A second reference model, for event times that span the scheduler's near
 * future and far beyond it, many equal times, cancels, events that schedule
 * more events, and run_until.  Every firing is checked, inside the event,
 * against the model's earliest live event. */
typedef struct {
  guint64 time;
  guint64 seq;
  MbEventId id;
  gboolean live;
  guint64 child_delay; /* G_MAXUINT64: none */
} WideEvent;

typedef struct {
  GArray *events; /* WideEvent, indexed by seq */
  GRand *rng;
  guint64 fired;
} WideModel;

static gint64
wide_min_live (const WideModel *m)
{
  gint64 best = -1;
  for (guint i = 0; i < m->events->len; i++)
    {
      const WideEvent *e = &g_array_index (m->events, WideEvent, i);
      if (e->live && (best < 0 || e->time < g_array_index (m->events, WideEvent, best).time))
        best = i; /* seq order == index order, so the first of a time wins */
    }
  return best;
}

static guint64
wide_delay (GRand *rng)
{
  switch (g_rand_int_range (rng, 0, 6))
    {
    case 0:
      return 0;
    case 1:
      return g_rand_int_range (rng, 0, 300); /* within a tick or two */
    case 2:
      return g_rand_int_range (rng, 0, 20000);
    case 3:
      return (guint64) g_rand_int_range (rng, 0, 80000000); /* up to past the horizon */
    case 4:
      return (guint64) g_rand_int_range (rng, 0, 120) * 1000000; /* far, equal times */
    default:
      return (guint64) g_rand_int_range (rng, 0, 2000) * 1000; /* whole ms: ties */
    }
}

static void on_wide (MbSched *s, gpointer a, guint64 b);

static void
wide_schedule (MbSched *s, WideModel *m, guint64 when, gboolean may_spawn)
{
  WideEvent e = { MAX (when, mb_sched_now (s)), m->events->len, 0, TRUE, G_MAXUINT64 };
  if (may_spawn && g_rand_int_range (m->rng, 0, 4) == 0)
    e.child_delay = wide_delay (m->rng);
  e.id = mb_sched_at (s, when, on_wide, m, e.seq);
  g_array_append_val (m->events, e);
}

static void
on_wide (MbSched *s, gpointer a, guint64 b)
{
  WideModel *m = a;
  gint64 want = wide_min_live (m);
  g_assert_cmpint (want, ==, (gint64) b);
  WideEvent *e = &g_array_index (m->events, WideEvent, b);
  g_assert_cmpuint (mb_sched_now (s), ==, e->time);
  g_assert_false (mb_sched_is_pending (s, e->id));
  e->live = FALSE;
  m->fired++;
  if (e->child_delay != G_MAXUINT64)
    wide_schedule (s, m, mb_sched_now (s) + e->child_delay, FALSE);
}

static gboolean
stop_sometimes (gpointer data)
{
  WideModel *m = data;
  return g_rand_int_range (m->rng, 0, 50) == 0;
}

static void
wide_check (MbSched *s, const WideModel *m)
{
  guint live = 0;
  for (guint i = 0; i < m->events->len; i++)
    live += g_array_index (m->events, WideEvent, i).live;
  g_assert_cmpuint (mb_sched_pending (s), ==, live);
  gint64 next = wide_min_live (m);
  g_assert_cmpuint (mb_sched_next_time (s), ==,
                    next < 0 ? G_MAXUINT64 : g_array_index (m->events, WideEvent, next).time);
}

static void
test_scheduler_wide_random_ops_match_reference_model (void)
{
  g_autoptr (MbSched) s = mb_sched_new ();
  WideModel m = { g_array_new (FALSE, FALSE, sizeof (WideEvent)), g_rand_new_with_seed (1234), 0 };
  for (guint round = 0; round < 30000; round++)
    {
      guint op = g_rand_int_range (m.rng, 0, 20);
      guint64 now = mb_sched_now (s);
      if (op < 8)
        wide_schedule (s, &m, now + wide_delay (m.rng), TRUE);
      else if (op < 9 && m.events->len > 0)
        {
          /* the same time as some earlier event, or a time in the past */
          guint pick = g_rand_int_range (m.rng, 0, m.events->len);
          wide_schedule (s, &m, g_array_index (m.events, WideEvent, pick).time, TRUE);
        }
      else if (op < 13 && m.events->len > 0)
        {
          guint pick = g_rand_int_range (m.rng, 0, m.events->len);
          WideEvent *e = &g_array_index (m.events, WideEvent, pick);
          g_assert_cmpint (mb_sched_cancel (s, e->id), ==, e->live);
          e->live = FALSE;
        }
      else if (op < 17)
        {
          guint64 fired = m.fired;
          gboolean any = wide_min_live (&m) >= 0;
          g_assert_cmpint (mb_sched_step (s), ==, any);
          g_assert_cmpuint (m.fired, ==, fired + any);
        }
      else
        {
          guint64 t_end = now + wide_delay (m.rng);
          gboolean with_stop = g_rand_int_range (m.rng, 0, 2) == 0;
          guint64 fired = m.fired;
          guint64 ran = mb_sched_run_until (s, t_end, with_stop ? stop_sometimes : NULL, &m);
          g_assert_cmpuint (ran, ==, m.fired - fired);
          gint64 next = wide_min_live (&m);
          if (mb_sched_now (s) == MAX (t_end, now))
            g_assert_true (next < 0 || g_array_index (m.events, WideEvent, next).time > t_end
                           || (with_stop && ran > 0));
          else
            g_assert_true (with_stop && ran > 0 && mb_sched_now (s) <= t_end);
        }
      wide_check (s, &m);
    }
  /* drain: every remaining event, far ones included, runs in order */
  mb_sched_run_until (s, G_MAXUINT64, NULL, NULL);
  wide_check (s, &m);
  g_assert_cmpuint (mb_sched_pending (s), ==, 0);
  g_array_unref (m.events);
  g_rand_free (m.rng);
}

/* Cancelling most of many pending events (which makes the scheduler sweep
 * out what it cancelled lazily) keeps the rest exact and in order. */
static void
test_scheduler_mass_cancel_keeps_order (void)
{
  g_autoptr (MbSched) s = mb_sched_new ();
  g_autoptr (GRand) rng = g_rand_new_with_seed (99);
  guint n = 200000;
  MbEventId *ids = g_new (MbEventId, n);
  guint64 *times = g_new (guint64, n);
  guint64 last = 0;
  for (guint round = 0; round < 3; round++)
    {
      guint64 base = mb_sched_now (s);
      for (guint i = 0; i < n; i++)
        {
          guint64 delay = g_rand_int_range (rng, 0, 3) * (guint64) g_rand_int_range (rng, 1, 3000000);
          times[i] = base + delay;
          ids[i] = mb_sched_at (s, times[i], on_count_ordered, &last, 1 + (guint64) round * n + i);
        }
      guint64 want_next = G_MAXUINT64;
      gsize kept = 0;
      for (guint i = 0; i < n; i++)
        if (g_rand_int_range (rng, 0, 20) != 0)
          g_assert_true (mb_sched_cancel (s, ids[i]));
        else
          {
            kept++;
            want_next = MIN (want_next, times[i]);
          }
      g_assert_cmpuint (mb_sched_pending (s), ==, kept);
      g_assert_cmpuint (mb_sched_next_time (s), ==, want_next);
      last = 0;
      g_assert_cmpuint (mb_sched_run_until (s, G_MAXUINT64, NULL, NULL), ==, kept);
    }
  /* times at the very end of the clock */
  Trace t;
  trace_init (&t);
  mb_sched_at (s, G_MAXUINT64, on_record, &t, 2);
  mb_sched_at (s, G_MAXUINT64 - 1, on_record, &t, 1);
  mb_sched_at (s, G_MAXUINT64, on_record, &t, 3);
  g_assert_cmpuint (mb_sched_next_time (s), ==, G_MAXUINT64 - 1);
  g_assert_cmpuint (mb_sched_run_until (s, G_MAXUINT64, NULL, NULL), ==, 3);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpuint (LOG_AT (&t, i), ==, i + 1);
  g_assert_cmpuint (mb_sched_now (s), ==, G_MAXUINT64);
  trace_clear (&t);
  g_free (ids);
  g_free (times);
}

/* Many events scheduled for "now" from inside an event (into the time being
 * run), with cancels among them, run after the already-queued ones of that
 * time and in scheduling order. */
static void
on_fan_out (MbSched *s, gpointer a, guint64 b)
{
  guint64 *last = a;
  on_count_ordered (s, last, b);
  if (b != 1)
    return;
  MbEventId prev = MB_EVENT_NONE;
  for (guint64 i = 0; i < 200000; i++)
    {
      guint64 when = mb_sched_now (s) + (i % 3 == 0);
      MbEventId id = mb_sched_at (s, when, on_count_ordered, last, 10 + i);
      if (i % 7 == 1)
        g_assert_true (mb_sched_cancel (s, prev));
      prev = id;
    }
}

static void
test_scheduler_many_events_for_now_from_inside (void)
{
  g_autoptr (MbSched) s = mb_sched_new ();
  guint64 last = 0;
  mb_sched_at (s, 5000, on_fan_out, &last, 1);
  mb_sched_at (s, 5000, on_fan_out, &last, 2);
  mb_sched_at (s, 5001, on_fan_out, &last, 3);
  g_assert_cmpuint (mb_sched_run_until (s, G_MAXUINT64, NULL, NULL), ==, 3 + 200000 - 28572);
  g_assert_cmpuint (mb_sched_now (s), ==, 5001);
}

/* An event that cancels most of a batch queued for (nearly) the same time,
 * some of which are already lined up to run next. */
typedef struct {
  MbEventId *ids;
  guint n;
  guint64 last;
} Batch;

static void
on_cancel_batch (MbSched *s, gpointer a, guint64 b)
{
  Batch *batch = a;
  for (guint i = 0; i < batch->n; i++)
    if (i % 10 != 0)
      g_assert_true (mb_sched_cancel (s, batch->ids[i]));
}

static void
test_scheduler_cancel_from_inside_a_busy_time (void)
{
  g_autoptr (MbSched) s = mb_sched_new ();
  Batch batch = { g_new (MbEventId, 20000), 20000, 0 };
  mb_sched_at (s, 100000, on_count_ordered, &batch.last, 1);
  mb_sched_at (s, 100000, on_cancel_batch, &batch, 0);
  for (guint i = 0; i < batch.n; i++)
    batch.ids[i] = mb_sched_at (s, 100000 + i % 5, on_count_ordered, &batch.last, 2 + i);
  g_assert_cmpuint (mb_sched_run_until (s, G_MAXUINT64, NULL, NULL), ==, 2 + batch.n / 10);
  g_assert_cmpuint (mb_sched_pending (s), ==, 0);
  g_free (batch.ids);
}

/* Prefetch hooks see each upcoming event at depths 0, 1, ... in order, just
 * before it runs, and change nothing. */
typedef struct {
  guint64 last_b;
  guint last_depth;
  guint calls;
  gboolean ordered;
} Hints;

static void
on_hint (gpointer a, guint64 b, guint depth)
{
  Hints *h = ((gpointer *) a)[1];
  h->calls++;
  if (b == h->last_b && depth <= h->last_depth)
    h->ordered = FALSE;
  if (depth >= MB_SCHED_PREFETCH_DEPTHS)
    h->ordered = FALSE;
  h->last_b = b;
  h->last_depth = depth;
}

static void
on_record_pair (MbSched *s, gpointer a, guint64 b)
{
  on_record (s, ((gpointer *) a)[0], b);
}

static void
test_scheduler_prefetch_hooks_are_hints (void)
{
  g_autoptr (MbSched) s = mb_sched_new ();
  Trace t;
  trace_init (&t);
  Hints h = { G_MAXUINT64, 0, 0, TRUE };
  gpointer pair[2] = { &t, &h };
  mb_sched_set_prefetch (s, on_record_pair, on_hint);
  for (guint64 i = 0; i < 100; i++)
    mb_sched_at (s, 1000 + (i * 37) % 50, on_record_pair, pair, i);
  mb_sched_run_until (s, G_MAXUINT64, NULL, NULL);
  g_assert_cmpuint (t.log->len, ==, 100);
  for (guint i = 1; i < 100; i++)
    g_assert_cmpuint (TIME_AT (&t, i - 1), <=, TIME_AT (&t, i));
  g_assert_cmpuint (h.calls, >, 0);
  g_assert_true (h.ordered);
  trace_clear (&t);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/scheduler/orders-by-time", test_scheduler_orders_by_time);
  g_test_add_func ("/scheduler/prefetch-hooks-are-hints", test_scheduler_prefetch_hooks_are_hints);
  g_test_add_func ("/scheduler/same-time-runs-in-schedule-order",
                   test_scheduler_same_time_runs_in_schedule_order);
  g_test_add_func ("/scheduler/past-is-clamped-to-now", test_scheduler_past_is_clamped_to_now);
  g_test_add_func ("/scheduler/cancel-is-false-after-fire-or-cancel",
                   test_scheduler_cancel_is_false_after_fire_or_cancel);
  g_test_add_func ("/scheduler/ids-are-never-reused", test_scheduler_ids_are_never_reused);
  g_test_add_func ("/scheduler/run-until-respects-t-end-and-stop",
                   test_scheduler_run_until_respects_t_end_and_stop);
  g_test_add_func ("/scheduler/events-schedule-and-cancel-from-inside",
                   test_scheduler_events_schedule_and_cancel_from_inside);
  g_test_add_func ("/scheduler/random-ops-match-reference-model",
                   test_scheduler_random_ops_match_reference_model);
  g_test_add_func ("/scheduler/million-pending-events-run-in-order",
                   test_scheduler_million_pending_events_run_in_order);
  g_test_add_func ("/scheduler/wide-random-ops-match-reference-model",
                   test_scheduler_wide_random_ops_match_reference_model);
  g_test_add_func ("/scheduler/mass-cancel-keeps-order", test_scheduler_mass_cancel_keeps_order);
  g_test_add_func ("/scheduler/many-events-for-now-from-inside",
                   test_scheduler_many_events_for_now_from_inside);
  g_test_add_func ("/scheduler/cancel-from-inside-a-busy-time",
                   test_scheduler_cancel_from_inside_a_busy_time);
  return g_test_run ();
}
