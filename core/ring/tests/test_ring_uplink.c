/* test_ring_uplink.c — chunk copies held back while the host's uplink is
 * full (ringpeer-uplink.c): a copy's deadline starts with little of ours
 * ahead of it on the uplink, so a store over a slow link does not time out
 * however much it has to send; and a store still ends, with an error naming
 * what is missing, when a holder is gone or the uplink never drains.
 */
#include <string.h>

#include "ring-fixture.h"
#include "ring/ring-copies.h"

#define CHUNK (64 * 1024)
#define RATE (200 * 1024)   /* the storer's uplink, bytes/s */

/* Runs a store of `chunks` chunks at peer 0 until it reports (at most
 * `bound` seconds); *took gets how long it took. */
static void
store_until_done (RFx *fx, const char *name, guint chunks, guint64 bound, Done *d,
                  guint64 *took)
{
  g_autoptr (GBytes) content = random_content ((gsize) chunks * CHUNK, 53);
  guint64 t0 = fx->now;
  mb_ringpeer_store_file (fx->rp[0], name, content, 0, fx->now, on_done, d);
  for (guint64 until = t0 + SEC; !d->called && until <= t0 + bound * SEC; until += SEC)
    rfx_run (fx, until);
  g_assert_true (d->called);
  *took = fx->now - t0;
}

static gboolean
copies_ok (RFx *fx, guint r, GString *why)
{
  g_autoptr (GPtrArray) stores = rfx_live_stores (fx, NULL);
  MbRingCopies c;
  return mb_ring_check_copies ((MbStore *const *) stores->pdata, stores->len, NULL, 0, r, &c,
                               why);
}

/* Sixteen members (R = 3), 120 chunks of 64 KiB stored at peer 0 over a
 * 200 KiB/s uplink: a window of 16 copies to each of 15 targets is 15 MiB,
 * 77 s of queue, more than a deadline may be moved on (RPC_PATIENCE x
 * rpc_timeout = 60 s).  With the host's flow control the copies wait unsent
 * for the backlog to fall to uplink_low: no timeout, no hand-off, every
 * chunk at R copies.  The same store on a host without flow control (the
 * copies handed over at once, deadlines started at hand-over) times copies
 * out: what the hold saves. */
static void
test_store_over_a_slow_uplink_to_many_members (void)
{
  Done held = { 0 }, unheld = { 0 };
  MbRingPeerStats sh, su;
  guint64 th, tu;
  {
    RFx *fx = rfx_new (16, 3);
    rfx_enable_flow_control (fx, RATE);
    store_until_done (fx, "big.bin", 120, 600, &held, &th);
    mb_ringpeer_stats (fx->rp[0], &sh);
    g_autoptr (GString) why = g_string_new (NULL);
    gboolean copies = copies_ok (fx, 3, why);
    g_test_message ("with flow control: ok %d in %.1f s, %u copies placed, %u failed, %u handed "
                    "off; %" G_GUINT64_FORMAT " timeouts, %" G_GUINT64_FORMAT " copies held for "
                    "the uplink%s%s", held.r.ok, th / 1e6, held.r.chunks_placed,
                    held.r.chunks_failed, held.r.handoffs, sh.rpc_timeouts, sh.uplink_held,
                    why->len ? ": " : "", why->str);
    g_assert_true (copies);
    rfx_free (fx);
  }
  {
    RFx *fx = rfx_new (16, 3);
    fx->uplink_Bps = RATE;
    store_until_done (fx, "big.bin", 120, 600, &unheld, &tu);
    mb_ringpeer_stats (fx->rp[0], &su);
    g_test_message ("without: ok %d in %.1f s, %u copies placed, %u failed, %u handed off; %"
                    G_GUINT64_FORMAT " timeouts", unheld.r.ok, tu / 1e6, unheld.r.chunks_placed,
                    unheld.r.chunks_failed, unheld.r.handoffs, su.rpc_timeouts);
    rfx_free (fx);
  }
  g_assert_true (held.r.ok);
  g_assert_cmpuint (held.r.chunks_failed, ==, 0);
  g_assert_cmpuint (held.r.handoffs, ==, 0);
  g_assert_cmpuint (sh.rpc_timeouts, ==, 0);
  g_assert_cmpuint (sh.uplink_held, >, 0);
  g_assert_cmpuint (su.rpc_timeouts, >, 0);
  g_assert_cmpuint (su.uplink_held, ==, 0);
  done_clear (&held);
  done_clear (&unheld);
}

/* Three members (R = 3), one down, over the slow uplink with flow
 * control: its copies time out (no member is left to hand them to) while
 * the others' are held and sent; the store fails within a bound, naming
 * the chunks short of copies. */
static void
test_store_with_a_holder_gone_fails_in_bounded_time (void)
{
  RFx *fx = rfx_new (3, 3);
  rfx_enable_flow_control (fx, RATE);
  fx->down[2] = TRUE;
  Done d = { 0 };
  guint64 took;
  store_until_done (fx, "gone.bin", 40, 300, &d, &took);
  MbRingPeerStats st;
  mb_ringpeer_stats (fx->rp[0], &st);
  g_test_message ("a holder gone: ok %d in %.1f s, %" G_GUINT64_FORMAT " timeouts: %s", d.r.ok,
                  took / 1e6, st.rpc_timeouts, d.error);
  g_assert_false (d.r.ok);
  g_assert_nonnull (strstr (d.error, "has 2 of 3 copies"));
  g_assert_cmpuint (st.rpc_timeouts, >, 0);
  g_assert_cmpuint (took, <, 120 * SEC);
  done_clear (&d);
  rfx_free (fx);
}

/* The storer's uplink never drains (its host holds 1 GiB for good): the
 * held copies fail as timed out once none has gone for RPC_PATIENCE x
 * rpc_timeout (60 s), so are their hand-offs, and the store fails, naming
 * what is missing, instead of waiting for ever. */
static void
test_store_on_an_uplink_that_never_drains_fails (void)
{
  RFx *fx = rfx_new (4, 3);
  rfx_enable_flow_control (fx, RATE);
  fx->stuck[0] = 1024u * 1024 * 1024;
  Done d = { 0 };
  guint64 took;
  store_until_done (fx, "stuck.bin", 8, 600, &d, &took);
  MbRingPeerStats st;
  mb_ringpeer_stats (fx->rp[0], &st);
  g_test_message ("uplink stuck: ok %d in %.1f s, %" G_GUINT64_FORMAT " timeouts, %"
                  G_GUINT64_FORMAT " held: %s", d.r.ok, took / 1e6, st.rpc_timeouts,
                  st.uplink_held, d.error);
  g_assert_false (d.r.ok);
  g_assert_nonnull (strstr (d.error, "no answer"));
  g_assert_cmpuint (st.uplink_held, >, 0);
  g_assert_cmpuint (st.rpc_timeouts, >=, st.uplink_held);
  g_assert_cmpuint (took, >=, 60 * SEC);
  g_assert_cmpuint (took, <, 300 * SEC);
  done_clear (&d);
  rfx_free (fx);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ring-uplink/store-over-a-slow-uplink-to-many-members",
                   test_store_over_a_slow_uplink_to_many_members);
  g_test_add_func ("/ring-uplink/store-with-a-holder-gone-fails-in-bounded-time",
                   test_store_with_a_holder_gone_fails_in_bounded_time);
  g_test_add_func ("/ring-uplink/store-on-an-uplink-that-never-drains-fails",
                   test_store_on_an_uplink_that_never_drains_fails);
  return g_test_run ();
}
