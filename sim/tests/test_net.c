/* test_net.c — delivery times to the microsecond (uplink/downlink queueing,
 * latency models, rounding), loss, crashes, partitions, link faults and
 * counters of the in-memory network. */
#include "net.h"

#define MS G_GUINT64_CONSTANT (1000)
#define MBIT G_GUINT64_CONSTANT (1000000)

typedef struct {
  guint id;
} Msg;

typedef struct {
  guint32 from;
  guint32 to;
  guint id;
  guint64 time;
} Event;

typedef struct {
  MbSched *sched;
  MbNet *net;
  GArray *delivered; /* Event */
  GArray *dropped;   /* Event */
  guint reply_to_id; /* deliver: reply to this message id (0 = none) */
} Fixture;

static void
on_deliver (gpointer ctx, guint32 from, guint32 to, gpointer payload, guint64 now)
{
  Fixture *fx = ctx;
  Msg *m = payload;
  Event e = { from, to, m->id, now };
  g_array_append_val (fx->delivered, e);
  if (fx->reply_to_id != 0 && m->id == fx->reply_to_id)
    {
      Msg *reply = g_new0 (Msg, 1);
      reply->id = m->id + 1000;
      mb_net_send (fx->net, to, from, reply, 500);
    }
  g_free (m);
}

static void
on_drop (gpointer ctx, guint32 from, guint32 to, gpointer payload)
{
  Fixture *fx = ctx;
  Msg *m = payload;
  Event e = { from, to, m->id, fx->sched ? mb_sched_now (fx->sched) : 0 };
  g_array_append_val (fx->dropped, e);
  g_free (m);
}

static void
fixture_setup (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  fx->sched = mb_sched_new ();
  MbNetCallbacks cb = { on_deliver, on_drop, fx };
  fx->net = mb_net_new (fx->sched, 1234, &cb);
  fx->delivered = g_array_new (FALSE, FALSE, sizeof (Event));
  fx->dropped = g_array_new (FALSE, FALSE, sizeof (Event));
  fx->reply_to_id = 0;
}

static void
fixture_teardown (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  mb_net_free (fx->net);
  mb_sched_free (fx->sched);
  g_array_unref (fx->delivered);
  g_array_unref (fx->dropped);
}

static void
send_msg (Fixture *fx, guint32 from, guint32 to, guint id, guint64 size)
{
  Msg *m = g_new0 (Msg, 1);
  m->id = id;
  mb_net_send (fx->net, from, to, m, size);
}

typedef struct {
  Fixture *fx;
  guint32 from;
  guint32 to;
  guint id;
  guint64 size;
} SendLater;

static void
on_send_later (MbSched *s G_GNUC_UNUSED, gpointer a, guint64 b G_GNUC_UNUSED)
{
  SendLater *sl = a;
  send_msg (sl->fx, sl->from, sl->to, sl->id, sl->size);
}

static void
run_all (Fixture *fx)
{
  mb_sched_run_until (fx->sched, G_MAXUINT64, NULL, NULL);
}

static const Event *
delivered_at (Fixture *fx, guint i)
{
  g_assert_cmpuint (i, <, fx->delivered->len);
  return &g_array_index (fx->delivered, Event, i);
}

static void
assert_delivery (Fixture *fx, guint i, guint id, guint32 from, guint32 to, guint64 time)
{
  const Event *e = delivered_at (fx, i);
  g_assert_cmpuint (e->id, ==, id);
  g_assert_cmpuint (e->from, ==, from);
  g_assert_cmpuint (e->to, ==, to);
  g_assert_cmpuint (e->time, ==, time);
}

static void
test_net_tx_time_rounds_up_to_whole_microseconds (void)
{
  g_assert_cmpuint (mb_net_tx_time (1000, 8 * MBIT), ==, 1000);
  g_assert_cmpuint (mb_net_tx_time (1, 3), ==, 2666667); /* 2666666.67 -> up */
  g_assert_cmpuint (mb_net_tx_time (1, 8000000), ==, 1);
  g_assert_cmpuint (mb_net_tx_time (1, 8000001), ==, 1);  /* 0.99999 -> 1 */
  g_assert_cmpuint (mb_net_tx_time (16384, 10 * MBIT), ==, 13108); /* 13107.2 */
  g_assert_cmpuint (mb_net_tx_time (12345, 0), ==, 0);   /* unlimited */
  g_assert_cmpuint (mb_net_tx_time (0, 1000), ==, 0);
}

static void
test_net_one_message_is_delivered_after_up_latency_down (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  guint32 a = mb_net_add_node (fx->net, 8 * MBIT, 0, 0);
  guint32 b = mb_net_add_node (fx->net, 0, 16 * MBIT, 0);
  mb_net_set_latency_constant (fx->net, 50 * MS);
  send_msg (fx, a, b, 1, 1000); /* up 1000us, latency 50000us, down 500us */
  run_all (fx);
  g_assert_cmpuint (fx->delivered->len, ==, 1);
  assert_delivery (fx, 0, 1, a, b, 51500);
  MbNetStats st;
  mb_net_get_stats (fx->net, &st);
  g_assert_cmpuint (st.sent, ==, 1);
  g_assert_cmpuint (st.delivered, ==, 1);
  g_assert_cmpuint (st.dropped, ==, 0);
  g_assert_cmpuint (st.bytes_sent, ==, 1000);
  g_assert_cmpuint (st.in_flight, ==, 0);
  MbNetNodeStats ns;
  mb_net_get_node_stats (fx->net, a, &ns);
  g_assert_cmpuint (ns.bytes_up, ==, 1000);
  g_assert_cmpuint (ns.busy_up, ==, 1000);
  mb_net_get_node_stats (fx->net, b, &ns);
  g_assert_cmpuint (ns.bytes_down, ==, 1000);
  g_assert_cmpuint (ns.bytes_up, ==, 0);
}

static void
test_net_back_to_back_messages_queue_on_the_uplink (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  guint32 a = mb_net_add_node (fx->net, 8 * MBIT, 0, 0);
  guint32 b = mb_net_add_node (fx->net, 0, 0, 0);
  mb_net_set_latency_constant (fx->net, 50 * MS);
  send_msg (fx, a, b, 1, 1000);
  send_msg (fx, a, b, 2, 1000);
  g_assert_cmpuint (mb_net_up_backlog (fx->net, a), ==, 2000);
  run_all (fx);
  g_assert_cmpuint (fx->delivered->len, ==, 2);
  assert_delivery (fx, 0, 1, a, b, 51000);
  assert_delivery (fx, 1, 2, a, b, 52000); /* departs at 2000, not 1000 */
  MbNetNodeStats ns;
  mb_net_get_node_stats (fx->net, a, &ns);
  g_assert_cmpuint (ns.busy_up, ==, 2000);
  g_assert_cmpuint (ns.bytes_up, ==, 2000);
  g_assert_cmpuint (mb_net_up_backlog (fx->net, a), ==, 0);
}

static void
test_net_link_queue_delays_by_sender_rate (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  /* 8 Mbit/s (a byte a microsecond) and 4 Mbit/s senders, 10 ms latency, a
   * 5,000-byte standing queue: 5 ms after the first's departures, 10 ms
   * after the second's; the link's own time and backlog are unchanged. */
  guint32 a = mb_net_add_node (fx->net, 8 * MBIT, 0, 0);
  guint32 b = mb_net_add_node (fx->net, 0, 8 * MBIT, 0);
  guint32 c = mb_net_add_node (fx->net, 4 * MBIT, 0, 0);
  mb_net_set_latency_constant (fx->net, 10 * MS);
  mb_net_set_link_queue (fx->net, 5000);
  send_msg (fx, a, b, 1, 1000);
  send_msg (fx, a, b, 2, 1000);
  send_msg (fx, c, b, 3, 500);
  g_assert_cmpuint (mb_net_up_backlog (fx->net, a), ==, 2000);
  run_all (fx);
  g_assert_cmpuint (fx->delivered->len, ==, 3);
  /* a: up 1000, +5000 queue, latency, down 1000; the second FIFO behind */
  assert_delivery (fx, 0, 1, a, b, 1000 + 5000 + 10000 + 1000);
  assert_delivery (fx, 1, 2, a, b, 2000 + 5000 + 10000 + 1000);
  /* c: up 1000 (500 bytes at 4 Mbit/s), +10000 queue, latency, down 500 */
  assert_delivery (fx, 2, 3, c, b, 1000 + 10000 + 10000 + 500);
  MbNetNodeStats ns;
  mb_net_get_node_stats (fx->net, a, &ns);
  g_assert_cmpuint (ns.busy_up, ==, 2000);
  g_assert_cmpuint (mb_net_min_latency (fx->net), ==, 10 * MS);
}

static void
test_net_overhead_takes_link_time (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  /* 8 Mbit/s: a byte a microsecond; 10% more bytes on the links */
  guint32 a = mb_net_add_node (fx->net, 8 * MBIT, 0, 0);
  guint32 b = mb_net_add_node (fx->net, 0, 8 * MBIT, 0);
  mb_net_set_latency_constant (fx->net, 50 * MS);
  mb_net_set_overhead (fx->net, 0.10);
  send_msg (fx, a, b, 1, 1000);
  send_msg (fx, a, b, 2, 1001);   /* 100.1 bytes of overhead: 101 */
  g_assert_cmpuint (mb_net_up_backlog (fx->net, a), ==, 2202);
  run_all (fx);
  g_assert_cmpuint (fx->delivered->len, ==, 2);
  /* up 1100, latency, down 1100; the second leaves the uplink at 2202 */
  assert_delivery (fx, 0, 1, a, b, 1100 + 50000 + 1100);
  assert_delivery (fx, 1, 2, a, b, 2202 + 50000 + 1102);
  MbNetNodeStats ns;
  mb_net_get_node_stats (fx->net, a, &ns);
  g_assert_cmpuint (ns.busy_up, ==, 2202);
  g_assert_cmpuint (ns.bytes_up, ==, 2202);
}

static void
test_net_idle_uplink_does_not_queue (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  guint32 a = mb_net_add_node (fx->net, 8 * MBIT, 0, 0);
  guint32 b = mb_net_add_node (fx->net, 0, 0, 0);
  mb_net_set_latency_constant (fx->net, 10 * MS);
  send_msg (fx, a, b, 1, 1000);
  SendLater later = { fx, a, b, 2, 1000 };
  mb_sched_at (fx->sched, 5000, on_send_later, &later, 0); /* uplink idle since 1000 */
  run_all (fx);
  assert_delivery (fx, 0, 1, a, b, 11000);
  assert_delivery (fx, 1, 2, a, b, 16000);
  MbNetNodeStats ns;
  mb_net_get_node_stats (fx->net, a, &ns);
  g_assert_cmpuint (ns.busy_up, ==, 2000);
}

static void
test_net_two_senders_queue_on_the_receiver_downlink (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  guint32 a = mb_net_add_node (fx->net, 8 * MBIT, 0, 0);
  guint32 b = mb_net_add_node (fx->net, 8 * MBIT, 0, 0);
  guint32 c = mb_net_add_node (fx->net, 0, 1 * MBIT, 0);
  mb_net_set_latency_constant (fx->net, 50 * MS);
  send_msg (fx, a, c, 1, 1000); /* arrives 51000, down 8000us -> 59000 */
  send_msg (fx, b, c, 2, 1000); /* arrives 51000, waits -> 67000 */
  run_all (fx);
  g_assert_cmpuint (fx->delivered->len, ==, 2);
  assert_delivery (fx, 0, 1, a, c, 59000);
  assert_delivery (fx, 1, 2, b, c, 67000);
}

static void
test_net_downlink_serves_in_order_of_arrival (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  guint32 a = mb_net_add_node (fx->net, 0, 0, 0);
  guint32 b = mb_net_add_node (fx->net, 0, 0, 1);
  guint32 c = mb_net_add_node (fx->net, 0, 1 * MBIT, 2);
  /* a->c is slow, b->c is fast: b's message arrives first though sent second */
  guint64 m[9] = { 0, 0, 30 * MS, 0, 0, 10 * MS, 30 * MS, 10 * MS, 0 };
  mb_net_set_latency_regions (fx->net, 3, m, 0);
  send_msg (fx, a, c, 1, 1000);
  send_msg (fx, b, c, 2, 1000);
  run_all (fx);
  assert_delivery (fx, 0, 2, b, c, 18000);         /* arrives 10000 + 8000 */
  assert_delivery (fx, 1, 1, a, c, 30000 + 8000);  /* downlink idle again at 30000 */
}

static void
test_net_uniform_latency_is_per_pair_stable_and_in_range (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  for (guint i = 0; i < 50; i++)
    mb_net_add_node (fx->net, 0, 0, 0);
  mb_net_set_latency_uniform (fx->net, 20 * MS, 120 * MS);
  g_autoptr (GHashTable) distinct = g_hash_table_new (g_direct_hash, g_direct_equal);
  gboolean asymmetric = FALSE;
  for (guint32 i = 0; i < 50; i++)
    for (guint32 j = 0; j < 50; j++)
      {
        guint64 l = mb_net_latency (fx->net, i, j);
        g_assert_cmpuint (l, >=, 20 * MS);
        g_assert_cmpuint (l, <=, 120 * MS);
        g_assert_cmpuint (l, ==, mb_net_latency (fx->net, i, j));
        g_hash_table_add (distinct, GUINT_TO_POINTER ((guint) l));
        asymmetric |= l != mb_net_latency (fx->net, j, i);
      }
  g_assert_cmpuint (g_hash_table_size (distinct), >, 2000);
  g_assert_true (asymmetric);

  /* delivery uses exactly that latency */
  guint64 l01 = mb_net_latency (fx->net, 0, 1);
  send_msg (fx, 0, 1, 1, 100);
  run_all (fx);
  assert_delivery (fx, 0, 1, 0, 1, l01);

  /* the same seed gives the same latencies; another seed does not */
  MbNetCallbacks cb = { on_deliver, on_drop, fx };
  MbNet *same = mb_net_new (fx->sched, 1234, &cb);
  MbNet *other = mb_net_new (fx->sched, 99, &cb);
  guint differ = 0;
  for (guint i = 0; i < 50; i++)
    {
      mb_net_add_node (same, 0, 0, 0);
      mb_net_add_node (other, 0, 0, 0);
    }
  mb_net_set_latency_uniform (same, 20 * MS, 120 * MS);
  mb_net_set_latency_uniform (other, 20 * MS, 120 * MS);
  for (guint32 i = 0; i < 50; i++)
    {
      g_assert_cmpuint (mb_net_latency (same, i, 7), ==, mb_net_latency (fx->net, i, 7));
      differ += mb_net_latency (other, i, 7) != mb_net_latency (fx->net, i, 7);
    }
  g_assert_cmpuint (differ, >, 40);
  mb_net_free (same);
  mb_net_free (other);
}

static void
test_net_region_latency_uses_matrix_and_jitter (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  /* eu=0, us=1 */
  guint64 m[4] = { 10 * MS, 80 * MS, 90 * MS, 20 * MS };
  mb_net_set_latency_regions (fx->net, 2, m, 0);
  guint32 eu1 = mb_net_add_node (fx->net, 0, 0, 0);
  guint32 eu2 = mb_net_add_node (fx->net, 0, 0, 0);
  guint32 us1 = mb_net_add_node (fx->net, 0, 0, 1);
  g_assert_cmpuint (mb_net_latency (fx->net, eu1, eu2), ==, 10 * MS);
  g_assert_cmpuint (mb_net_latency (fx->net, eu1, us1), ==, 80 * MS);
  g_assert_cmpuint (mb_net_latency (fx->net, us1, eu2), ==, 90 * MS);
  g_assert_cmpuint (mb_net_latency (fx->net, us1, us1), ==, 20 * MS);
  send_msg (fx, eu1, us1, 1, 100);
  send_msg (fx, us1, eu1, 2, 100);
  run_all (fx);
  assert_delivery (fx, 0, 1, eu1, us1, 80 * MS);
  assert_delivery (fx, 1, 2, us1, eu1, 90 * MS);

  mb_net_set_latency_regions (fx->net, 2, m, 5 * MS);
  gboolean varied = FALSE;
  guint region[23] = { 0, 0, 1 };
  for (guint i = 3; i < 23; i++)
    {
      region[i] = i % 2;
      mb_net_add_node (fx->net, 0, 0, region[i]);
    }
  for (guint32 i = 0; i < 23; i++)
    {
      guint64 l = mb_net_latency (fx->net, i, us1);
      guint64 base = m[region[i] * 2 + 1];
      g_assert_cmpuint (l, >=, base);
      g_assert_cmpuint (l, <=, base + 5 * MS);
      g_assert_cmpuint (l, ==, mb_net_latency (fx->net, i, us1));
      varied |= l != base;
    }
  g_assert_true (varied);
}

static void
test_net_loss_one_drops_everything (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  guint32 a = mb_net_add_node (fx->net, 8 * MBIT, 0, 0);
  guint32 b = mb_net_add_node (fx->net, 0, 0, 0);
  mb_net_set_loss (fx->net, 1.0);
  for (guint i = 1; i <= 100; i++)
    send_msg (fx, a, b, i, 1000);
  run_all (fx);
  g_assert_cmpuint (fx->delivered->len, ==, 0);
  g_assert_cmpuint (fx->dropped->len, ==, 100);
  MbNetStats st;
  mb_net_get_stats (fx->net, &st);
  g_assert_cmpuint (st.dropped, ==, 100);
  g_assert_cmpuint (st.dropped_loss, ==, 100);
  g_assert_cmpuint (st.delivered, ==, 0);
  MbNetNodeStats ns;
  mb_net_get_node_stats (fx->net, a, &ns);
  g_assert_cmpuint (ns.bytes_up, ==, 100000); /* lost in transit: the uplink was used */
}

static void
test_net_partial_loss_is_seeded_and_deterministic (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  guint32 a = mb_net_add_node (fx->net, 0, 0, 0);
  guint32 b = mb_net_add_node (fx->net, 0, 0, 0);
  mb_net_set_loss (fx->net, 0.25);
  for (guint i = 1; i <= 2000; i++)
    send_msg (fx, a, b, i, 10);
  run_all (fx);
  g_assert_cmpuint (fx->dropped->len, >, 400);
  g_assert_cmpuint (fx->dropped->len, <, 600);
  g_assert_cmpuint (fx->dropped->len + fx->delivered->len, ==, 2000);

  Fixture again;
  fixture_setup (&again, NULL);
  mb_net_add_node (again.net, 0, 0, 0);
  mb_net_add_node (again.net, 0, 0, 0);
  mb_net_set_loss (again.net, 0.25);
  for (guint i = 1; i <= 2000; i++)
    send_msg (&again, 0, 1, i, 10);
  run_all (&again);
  g_assert_cmpuint (again.dropped->len, ==, fx->dropped->len);
  for (guint i = 0; i < fx->dropped->len; i++)
    g_assert_cmpuint (g_array_index (again.dropped, Event, i).id, ==,
                      g_array_index (fx->dropped, Event, i).id);
  fixture_teardown (&again, NULL);
}

static void
test_net_partition_drops_across_not_within (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  for (guint i = 0; i < 4; i++)
    mb_net_add_node (fx->net, 0, 0, 0);
  mb_net_set_latency_constant (fx->net, 10 * MS);
  mb_net_set_partition (fx->net, 2, 1);
  mb_net_set_partition (fx->net, 3, 1);
  g_assert_false (mb_net_can_reach (fx->net, 0, 2));
  g_assert_true (mb_net_can_reach (fx->net, 2, 3));
  send_msg (fx, 0, 1, 1, 100); /* within 0 */
  send_msg (fx, 2, 3, 2, 100); /* within 1 */
  send_msg (fx, 0, 2, 3, 100); /* across */
  send_msg (fx, 3, 1, 4, 100); /* across */
  run_all (fx);
  g_assert_cmpuint (fx->delivered->len, ==, 2);
  assert_delivery (fx, 0, 1, 0, 1, 10 * MS);
  assert_delivery (fx, 1, 2, 2, 3, 10 * MS);
  g_assert_cmpuint (fx->dropped->len, ==, 2);
  MbNetStats st;
  mb_net_get_stats (fx->net, &st);
  g_assert_cmpuint (st.dropped_cut, ==, 2);

  /* healed: everything goes through again */
  mb_net_heal_partitions (fx->net);
  send_msg (fx, 0, 2, 5, 100);
  run_all (fx);
  g_assert_cmpuint (fx->delivered->len, ==, 3);
}

static void
on_partition (MbSched *s G_GNUC_UNUSED, gpointer a, guint64 b)
{
  mb_net_set_partition (a, (guint32) b, 7);
}

static void
test_net_partition_during_flight_drops_at_arrival (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  mb_net_add_node (fx->net, 0, 0, 0);
  mb_net_add_node (fx->net, 0, 0, 0);
  mb_net_set_latency_constant (fx->net, 10 * MS);
  send_msg (fx, 0, 1, 1, 100);
  mb_sched_at (fx->sched, 5 * MS, on_partition, fx->net, 1);
  run_all (fx);
  g_assert_cmpuint (fx->delivered->len, ==, 0);
  g_assert_cmpuint (fx->dropped->len, ==, 1);
  g_assert_cmpuint (g_array_index (fx->dropped, Event, 0).time, ==, 10 * MS);
}

static void
on_crash (MbSched *s G_GNUC_UNUSED, gpointer a, guint64 b)
{
  mb_net_set_node_up (a, (guint32) b, FALSE);
}

static void
on_restart (MbSched *s G_GNUC_UNUSED, gpointer a, guint64 b)
{
  mb_net_set_node_up (a, (guint32) b, TRUE);
}

static void
test_net_crashed_node_in_flight_message_is_dropped (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  guint32 a = mb_net_add_node (fx->net, 8 * MBIT, 0, 0);
  guint32 b = mb_net_add_node (fx->net, 0, 1 * MBIT, 0);
  guint32 c = mb_net_add_node (fx->net, 0, 0, 0);
  mb_net_set_latency_constant (fx->net, 50 * MS);
  send_msg (fx, a, b, 1, 1000); /* to b: b crashes at 20ms and is back at 30ms */
  send_msg (fx, a, c, 2, 1000); /* unaffected */
  mb_sched_at (fx->sched, 20 * MS, on_crash, fx->net, b);
  mb_sched_at (fx->sched, 30 * MS, on_restart, fx->net, b);
  run_all (fx);
  g_assert_cmpuint (fx->delivered->len, ==, 1);
  assert_delivery (fx, 0, 2, a, c, 52000);
  g_assert_cmpuint (fx->dropped->len, ==, 1);
  g_assert_cmpuint (g_array_index (fx->dropped, Event, 0).id, ==, 1);
  g_assert_true (mb_net_node_is_up (fx->net, b));
  MbNetStats st;
  mb_net_get_stats (fx->net, &st);
  g_assert_cmpuint (st.dropped_node_down, ==, 1);
  g_assert_cmpuint (st.sent, ==, st.delivered + st.dropped + st.in_flight);

  /* after the restart, new messages get through */
  send_msg (fx, a, b, 3, 1000);
  run_all (fx);
  g_assert_cmpuint (fx->delivered->len, ==, 2);
}

static void
test_net_sender_crash_after_departure_still_delivers (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  guint32 a = mb_net_add_node (fx->net, 0, 0, 0);
  guint32 b = mb_net_add_node (fx->net, 0, 1 * MBIT, 0);
  mb_net_set_latency_constant (fx->net, 10 * MS);
  send_msg (fx, a, b, 1, 1000); /* departs at once, arrives 10ms, delivered 18ms */
  mb_sched_at (fx->sched, 15 * MS, on_crash, fx->net, a); /* the sender crashes */
  run_all (fx);
  /* it had left the sender: what happens to the sender since is none of its business */
  g_assert_cmpuint (fx->delivered->len, ==, 1);
  assert_delivery (fx, 0, 1, a, b, 18 * MS);
  g_assert_cmpuint (fx->dropped->len, ==, 0);
}

static void
test_net_sender_crash_before_departure_drops_at_arrival (Fixture *fx,
                                                         gconstpointer data G_GNUC_UNUSED)
{
  guint32 a = mb_net_add_node (fx->net, 8 * MBIT, 0, 0);
  guint32 b = mb_net_add_node (fx->net, 0, 0, 0);
  mb_net_set_latency_constant (fx->net, 10 * MS);
  send_msg (fx, a, b, 1, 1000);  /* departs 1ms, arrives 11ms */
  send_msg (fx, a, b, 2, 10000); /* departs 11ms: its tail is cut by the crash */
  mb_sched_at (fx->sched, 5 * MS, on_crash, fx->net, a);
  run_all (fx);
  g_assert_cmpuint (fx->delivered->len, ==, 1);
  assert_delivery (fx, 0, 1, a, b, 11 * MS);
  g_assert_cmpuint (fx->dropped->len, ==, 1);
  g_assert_cmpuint (g_array_index (fx->dropped, Event, 0).id, ==, 2);
  /* dropped where it would have arrived (departure 11ms + 10ms): the
   * receiver's rank knows of the crash by then */
  g_assert_cmpuint (g_array_index (fx->dropped, Event, 0).time, ==, 21 * MS);
}

static void
on_send_one (MbSched *s G_GNUC_UNUSED, gpointer a, guint64 b)
{
  Fixture *fx = a;
  send_msg (fx, (guint32) (b >> 32), (guint32) b, 7, 100);
}

/* A sender sees a crashed receiver one lookahead (the least latency) after
 * the crash: before that, the message uses its uplink and dies at arrival. */
static void
test_net_sender_sees_a_crash_one_lookahead_later (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  guint32 a = mb_net_add_node (fx->net, 8 * MBIT, 0, 0);
  guint32 b = mb_net_add_node (fx->net, 0, 0, 0);
  mb_net_set_latency_constant (fx->net, 10 * MS);
  mb_sched_at (fx->sched, 5 * MS, on_crash, fx->net, b);
  mb_sched_at (fx->sched, 14 * MS, on_send_one, fx, ((guint64) a << 32) | b);
  run_all (fx);
  MbNetNodeStats ns;
  mb_net_get_node_stats (fx->net, a, &ns);
  g_assert_cmpuint (ns.msgs_up, ==, 1);
  g_assert_cmpuint (fx->dropped->len, ==, 1);
  g_assert_cmpuint (g_array_index (fx->dropped, Event, 0).time, ==, 14 * MS + 100 + 10 * MS);
  mb_sched_at (fx->sched, 30 * MS, on_send_one, fx, ((guint64) a << 32) | b);
  run_all (fx);
  mb_net_get_node_stats (fx->net, a, &ns);
  g_assert_cmpuint (ns.msgs_up, ==, 1); /* dropped at once: the uplink is not used */
  g_assert_cmpuint (fx->dropped->len, ==, 2);
  g_assert_cmpuint (g_array_index (fx->dropped, Event, 1).time, ==, 30 * MS);
}

static void
test_net_crash_flushes_the_uplink_queue (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  guint32 a = mb_net_add_node (fx->net, 8 * MBIT, 0, 0);
  guint32 b = mb_net_add_node (fx->net, 0, 0, 0);
  for (guint i = 1; i <= 10; i++)
    send_msg (fx, a, b, i, 1000); /* uplink busy until 10000 */
  mb_sched_at (fx->sched, 2500, on_crash, fx->net, a);
  mb_sched_at (fx->sched, 3000, on_restart, fx->net, a);
  run_all (fx);
  /* messages 1 and 2 departed at 1000 and 2000; the rest died with the crash */
  g_assert_cmpuint (fx->delivered->len, ==, 2);
  MbNetNodeStats ns;
  mb_net_get_node_stats (fx->net, a, &ns);
  g_assert_cmpuint (ns.busy_up, ==, 2500);
  send_msg (fx, a, b, 11, 1000); /* the reborn node's uplink is idle */
  run_all (fx);
  assert_delivery (fx, 2, 11, a, b, mb_sched_now (fx->sched));
  g_assert_cmpuint (mb_sched_now (fx->sched), ==, 10000 + 1000);
}

static void
test_net_sends_to_or_from_a_down_node_drop_at_once (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  guint32 a = mb_net_add_node (fx->net, 8 * MBIT, 0, 0);
  guint32 b = mb_net_add_node (fx->net, 0, 0, 0);
  mb_net_set_node_up (fx->net, b, FALSE);
  Msg *m = g_new0 (Msg, 1);
  m->id = 1;
  g_assert_false (mb_net_send (fx->net, a, b, m, 1000));
  g_assert_cmpuint (fx->dropped->len, ==, 1);
  m = g_new0 (Msg, 1);
  g_assert_false (mb_net_send (fx->net, b, a, m, 1000));
  g_assert_cmpuint (fx->dropped->len, ==, 2);
  MbNetNodeStats ns;
  mb_net_get_node_stats (fx->net, a, &ns);
  g_assert_cmpuint (ns.bytes_up, ==, 0);
}

static void
test_net_link_fault_drops_only_during_the_fault (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  guint32 a = mb_net_add_node (fx->net, 0, 0, 0);
  guint32 b = mb_net_add_node (fx->net, 0, 0, 0);
  guint32 c = mb_net_add_node (fx->net, 0, 0, 0);
  mb_net_set_latency_constant (fx->net, 1 * MS);
  mb_net_schedule_link_fault (fx->net, b, a, 10 * MS, 20 * MS);
  SendLater before = { fx, a, b, 1, 10 };
  SendLater during = { fx, b, a, 2, 10 };
  SendLater other = { fx, a, c, 3, 10 };
  SendLater after = { fx, a, b, 4, 10 };
  mb_sched_at (fx->sched, 5 * MS, on_send_later, &before, 0);
  mb_sched_at (fx->sched, 15 * MS, on_send_later, &during, 0);
  mb_sched_at (fx->sched, 15 * MS, on_send_later, &other, 0);
  mb_sched_at (fx->sched, 25 * MS, on_send_later, &after, 0);
  run_all (fx);
  g_assert_cmpuint (fx->delivered->len, ==, 3);
  assert_delivery (fx, 0, 1, a, b, 6 * MS);
  assert_delivery (fx, 1, 3, a, c, 16 * MS);
  assert_delivery (fx, 2, 4, a, b, 26 * MS);
  g_assert_cmpuint (fx->dropped->len, ==, 1);
  g_assert_true (mb_net_link_is_up (fx->net, a, b));

  /* overlapping faults nest */
  mb_net_set_link_up (fx->net, a, b, FALSE);
  mb_net_set_link_up (fx->net, b, a, FALSE);
  mb_net_set_link_up (fx->net, a, b, TRUE);
  g_assert_false (mb_net_link_is_up (fx->net, a, b));
  mb_net_set_link_up (fx->net, a, b, TRUE);
  g_assert_true (mb_net_link_is_up (fx->net, a, b));
}

static void
test_net_deliver_callback_may_send_a_reply (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  guint32 a = mb_net_add_node (fx->net, 8 * MBIT, 0, 0);
  guint32 b = mb_net_add_node (fx->net, 4 * MBIT, 0, 0);
  mb_net_set_latency_constant (fx->net, 5 * MS);
  fx->reply_to_id = 1;
  send_msg (fx, a, b, 1, 1000);  /* delivered 1000 + 5000 = 6000 */
  run_all (fx);
  g_assert_cmpuint (fx->delivered->len, ==, 2);
  assert_delivery (fx, 0, 1, a, b, 6000);
  assert_delivery (fx, 1, 1001, b, a, 6000 + 1000 + 5000); /* 500 B at 4 Mbit: 1000us */
}

static void
test_net_nodes_added_during_a_run (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  mb_net_set_latency_uniform (fx->net, 1 * MS, 3 * MS);
  for (guint i = 0; i < 3; i++)
    mb_net_add_node (fx->net, 0, 0, 0);
  guint64 l = mb_net_latency (fx->net, 0, 2);
  for (guint i = 0; i < 1000; i++)  /* grows the node array */
    mb_net_add_node (fx->net, MBIT, MBIT, 0);
  g_assert_cmpuint (mb_net_n_nodes (fx->net), ==, 1003);
  g_assert_cmpuint (mb_net_latency (fx->net, 0, 2), ==, l);
  send_msg (fx, 1002, 0, 1, 125); /* 1000us up */
  run_all (fx);
  assert_delivery (fx, 0, 1, 1002, 0, 1000 + mb_net_latency (fx->net, 1002, 0));
}

static void
test_net_free_drops_messages_still_in_flight (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
  mb_net_add_node (fx->net, 0, MBIT, 0);
  mb_net_add_node (fx->net, 0, MBIT, 0);
  mb_net_set_latency_constant (fx->net, 10 * MS);
  for (guint i = 0; i < 5; i++)
    send_msg (fx, i % 2, 1 - i % 2, i, 1000);
  mb_net_schedule_link_fault (fx->net, 0, 1, 50 * MS, 60 * MS);
  mb_sched_run_until (fx->sched, 10 * MS, NULL, NULL); /* some in the downlink */
  mb_net_free (fx->net);
  fx->net = NULL;
  g_assert_cmpuint (fx->delivered->len + fx->dropped->len, ==, 5);
  g_assert_cmpuint (mb_sched_pending (fx->sched), ==, 0);
}

#define ADD_NET(path, fn) \
  g_test_add ("/net/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/net/tx-time-rounds-up-to-whole-microseconds",
                   test_net_tx_time_rounds_up_to_whole_microseconds);
  ADD_NET ("one-message-is-delivered-after-up-latency-down",
           test_net_one_message_is_delivered_after_up_latency_down);
  ADD_NET ("back-to-back-messages-queue-on-the-uplink",
           test_net_back_to_back_messages_queue_on_the_uplink);
  ADD_NET ("idle-uplink-does-not-queue", test_net_idle_uplink_does_not_queue);
  ADD_NET ("overhead-takes-link-time", test_net_overhead_takes_link_time);
  ADD_NET ("link-queue-delays-by-sender-rate", test_net_link_queue_delays_by_sender_rate);
  ADD_NET ("two-senders-queue-on-the-receiver-downlink",
           test_net_two_senders_queue_on_the_receiver_downlink);
  ADD_NET ("downlink-serves-in-order-of-arrival", test_net_downlink_serves_in_order_of_arrival);
  ADD_NET ("uniform-latency-is-per-pair-stable-and-in-range",
           test_net_uniform_latency_is_per_pair_stable_and_in_range);
  ADD_NET ("region-latency-uses-matrix-and-jitter",
           test_net_region_latency_uses_matrix_and_jitter);
  ADD_NET ("loss-one-drops-everything", test_net_loss_one_drops_everything);
  ADD_NET ("partial-loss-is-seeded-and-deterministic",
           test_net_partial_loss_is_seeded_and_deterministic);
  ADD_NET ("partition-drops-across-not-within", test_net_partition_drops_across_not_within);
  ADD_NET ("partition-during-flight-drops-at-arrival",
           test_net_partition_during_flight_drops_at_arrival);
  ADD_NET ("crashed-node-in-flight-message-is-dropped",
           test_net_crashed_node_in_flight_message_is_dropped);
  ADD_NET ("sender-crash-after-departure-still-delivers",
           test_net_sender_crash_after_departure_still_delivers);
  ADD_NET ("sender-crash-before-departure-drops-at-arrival",
           test_net_sender_crash_before_departure_drops_at_arrival);
  ADD_NET ("sender-sees-a-crash-one-lookahead-later",
           test_net_sender_sees_a_crash_one_lookahead_later);
  ADD_NET ("crash-flushes-the-uplink-queue", test_net_crash_flushes_the_uplink_queue);
  ADD_NET ("sends-to-or-from-a-down-node-drop-at-once",
           test_net_sends_to_or_from_a_down_node_drop_at_once);
  ADD_NET ("link-fault-drops-only-during-the-fault",
           test_net_link_fault_drops_only_during_the_fault);
  ADD_NET ("deliver-callback-may-send-a-reply", test_net_deliver_callback_may_send_a_reply);
  ADD_NET ("nodes-added-during-a-run", test_net_nodes_added_during_a_run);
  ADD_NET ("free-drops-messages-still-in-flight", test_net_free_drops_messages_still_in_flight);
  return g_test_run ();
}
