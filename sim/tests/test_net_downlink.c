/* test_net_downlink.c — the one-event downlink (net.h, mb_net_set_faults):
 * the same deliveries, at the same times, in the same order as two events
 * per message, over random traffic with replies, mixed download rates and
 * ties; its queues checked as they fill; a fault after the promise stops
 * the run. */
#include "net.h"

#define MS G_GUINT64_CONSTANT (1000)
#define MBIT G_GUINT64_CONSTANT (1000000)
#define N_NODES 24u

typedef struct {
  guint id;
  guint hops;
} Msg;

typedef struct {
  guint32 from, to;
  guint id;
  guint64 time;
} Delivery;

typedef struct {
  MbSched *sched;
  MbNet *net;
  GArray *log;       /* Delivery, in the order delivered */
  GRand *rand;       /* replies' sizes: drawn in delivery order */
  guint next_id;
  guint checks;      /* mb_net_check_downlinks calls that passed */
  GString *why;
} World;

static void
on_deliver (gpointer ctx, guint32 from, guint32 to, gpointer payload, guint64 now)
{
  World *w = ctx;
  Msg *m = payload;
  Delivery d = { from, to, m->id, now };
  g_array_append_val (w->log, d);
  if (m->hops > 0)
    {
      /* a reply, and sometimes two back to back (a same-instant pair) */
      guint n = g_rand_int_range (w->rand, 1, 3);
      for (guint k = 0; k < n; k++)
        {
          Msg *r = g_new0 (Msg, 1);
          r->id = w->next_id++;
          r->hops = m->hops - 1;
          mb_net_send (w->net, to, from, r, g_rand_int_range (w->rand, 1, 40000));
        }
    }
  g_free (m);
}

static void
on_drop (gpointer ctx G_GNUC_UNUSED, guint32 from G_GNUC_UNUSED, guint32 to G_GNUC_UNUSED,
         gpointer payload)
{
  g_free (payload);
}

/* A burst: node a sends three messages to random nodes at once. */
static void
on_burst (MbSched *s G_GNUC_UNUSED, gpointer a, guint64 b)
{
  World *w = a;
  guint32 from = (guint32) (b >> 32), seed = (guint32) b;
  g_autoptr (GRand) r = g_rand_new_with_seed (seed);
  for (guint k = 0; k < 3; k++)
    {
      guint32 to = (guint32) g_rand_int_range (r, 0, N_NODES);
      if (to == from)
        to = (to + 1) % N_NODES;
      Msg *m = g_new0 (Msg, 1);
      m->id = w->next_id++;
      m->hops = g_rand_int_range (r, 0, 4);
      mb_net_send (w->net, from, to, m, g_rand_int_range (r, 1, 60000));
    }
}

static void
on_check (MbSched *s G_GNUC_UNUSED, gpointer a, guint64 b G_GNUC_UNUSED)
{
  World *w = a;
  if (!mb_net_check_downlinks (w->net, w->why))
    g_error ("downlink queues: %s", w->why->str);
  w->checks++;
}

/* Runs the traffic with faults possible or not; returns the log. */
static GArray *
run (gboolean faults, guint64 *events, guint *checks)
{
  World w = { 0 };
  w.sched = mb_sched_new ();
  w.log = g_array_new (FALSE, FALSE, sizeof (Delivery));
  w.rand = g_rand_new_with_seed (99);
  w.why = g_string_new (NULL);
  MbNetCallbacks cb = { on_deliver, on_drop, &w, NULL };
  w.net = mb_net_new (w.sched, 7, &cb);
  mb_net_set_latency_uniform (w.net, 1 * MS, 30 * MS);
  mb_net_set_faults (w.net, faults);
  g_assert_true (mb_net_faults (w.net) == faults);
  for (guint32 i = 0; i < N_NODES; i++)
    /* slow, fast and unlimited downlinks; uplinks unlimited for a third of
     * the nodes (same-instant sends then arrive at the same time: ties) */
    mb_net_add_node (w.net, i % 3 == 0 ? 0 : (1 + i % 4) * MBIT,
                     i % 7 == 0 ? 0 : (i % 2 ? 2 : 20) * MBIT, 0);
  g_autoptr (GRand) r = g_rand_new_with_seed (5);
  for (guint k = 0; k < 400; k++)
    {
      guint64 at = (guint64) g_rand_int_range (r, 0, 2000) * MS / 10;
      guint32 from = (guint32) g_rand_int_range (r, 0, N_NODES);
      mb_sched_at_node (w.sched, at, from, on_burst, &w,
                        ((guint64) from << 32) | g_rand_int (r));
    }
  for (guint64 t = 0; t < 400 * MS; t += 7 * MS)
    mb_sched_at (w.sched, t, on_check, &w, 0);
  mb_sched_run_until (w.sched, G_MAXUINT64, NULL, NULL);
  g_assert_true (mb_net_check_downlinks (w.net, w.why));
  MbNetStats st;
  mb_net_get_stats (w.net, &st);
  g_assert_cmpuint (st.in_flight, ==, 0);
  g_assert_cmpuint (st.delivered, ==, w.log->len);
  *events = mb_sched_events_run (w.sched);
  *checks = w.checks;
  mb_net_free (w.net);
  mb_sched_free (w.sched);
  g_rand_free (w.rand);
  g_string_free (w.why, TRUE);
  return w.log;
}

static void
test_one_event_gives_the_same_deliveries (void)
{
  guint64 ev2, ev1;
  guint checks2, checks1;
  g_autoptr (GArray) two = run (TRUE, &ev2, &checks2);
  g_autoptr (GArray) one = run (FALSE, &ev1, &checks1);
  g_assert_cmpuint (two->len, >, 2000);
  g_assert_cmpuint (one->len, ==, two->len);
  for (guint i = 0; i < one->len; i++)
    {
      const Delivery *a = &g_array_index (two, Delivery, i), *b = &g_array_index (one, Delivery, i);
      if (a->id != b->id || a->time != b->time || a->from != b->from || a->to != b->to)
        g_error ("delivery %u: two events: message %u %u -> %u at %" G_GUINT64_FORMAT
                 " us; one event: message %u %u -> %u at %" G_GUINT64_FORMAT " us",
                 i, a->id, a->from, a->to, a->time, b->id, b->from, b->to, b->time);
    }
  /* the queues were checked while full, and the arrival events are gone
   * (those to the unlimited downlinks were one event already) */
  g_assert_cmpuint (checks1, >, 50);
  g_assert_cmpuint (ev1, <, ev2 - one->len / 2);
}

/* Queueing to the microsecond: B's downlink at 1 Mbit/s; a big message
 * from a far sender lands first, a small one from a near sender lands later
 * but arrives earlier: it goes first, the big one waits for it. */
static void
test_an_earlier_arrival_takes_the_head (void)
{
  for (gint faults = 0; faults < 2; faults++)
    {
      World w = { 0 };
      w.sched = mb_sched_new ();
      w.log = g_array_new (FALSE, FALSE, sizeof (Delivery));
      w.rand = g_rand_new_with_seed (1);
      MbNetCallbacks cb = { on_deliver, on_drop, &w, NULL };
      w.net = mb_net_new (w.sched, 3, &cb);
      mb_net_set_latency_constant (w.net, 10 * MS);
      mb_net_set_faults (w.net, faults);
      guint32 a = mb_net_add_node (w.net, 0, 0, 0), b = mb_net_add_node (w.net, 0, 1 * MBIT, 0);
      guint32 c = mb_net_add_node (w.net, 8 * MBIT, 0, 0);
      /* c's uplink: 10,000 bytes at 8 Mbit/s = 10 ms, then 10 ms away:
       * arrives at 20 ms; a's (unlimited) 1,000 bytes sent at 5 ms arrive
       * at 15 ms and take 8 ms of b's downlink: delivered at 23 ms; c's
       * then takes 80 ms: 103 ms */
      Msg *big = g_new0 (Msg, 1), *small = g_new0 (Msg, 1);
      big->id = 1;
      small->id = 2;
      mb_net_send (w.net, c, b, big, 10000);
      mb_sched_run_until (w.sched, 5 * MS, NULL, NULL);
      mb_net_send (w.net, a, b, small, 1000);
      mb_sched_run_until (w.sched, G_MAXUINT64, NULL, NULL);
      g_assert_cmpuint (w.log->len, ==, 2);
      g_assert_cmpuint (g_array_index (w.log, Delivery, 0).id, ==, 2);
      g_assert_cmpuint (g_array_index (w.log, Delivery, 0).time, ==, 23 * MS);
      g_assert_cmpuint (g_array_index (w.log, Delivery, 1).id, ==, 1);
      g_assert_cmpuint (g_array_index (w.log, Delivery, 1).time, ==, 103 * MS);
      mb_net_free (w.net);
      mb_sched_free (w.sched);
      g_rand_free (w.rand);
      g_array_unref (w.log);
    }
}

static void
test_a_fault_after_the_promise_stops_the_run (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr (MbSched) s = mb_sched_new ();
      World w = { 0 };
      MbNetCallbacks cb = { on_deliver, on_drop, &w, NULL };
      MbNet *net = mb_net_new (s, 1, &cb);
      mb_net_add_node (net, 0, 0, 0);
      mb_net_set_faults (net, FALSE);
      mb_net_set_node_up (net, 0, FALSE);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*a node crashed, but mb_net_set_faults (FALSE) said there would be none*");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/net-downlink/one-event-gives-the-same-deliveries",
                   test_one_event_gives_the_same_deliveries);
  g_test_add_func ("/net-downlink/an-earlier-arrival-takes-the-head",
                   test_an_earlier_arrival_takes_the_head);
  g_test_add_func ("/net-downlink/a-fault-after-the-promise-stops-the-run",
                   test_a_fault_after_the_promise_stops_the_run);
  return g_test_run ();
}
