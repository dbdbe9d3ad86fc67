/* test_clock.c — the real clock and the expiry driver on a toy object. */
#include "clock.h"

#define NEVER G_MAXUINT64

typedef struct {
  guint64 next;       /* when it wants to be woken */
  guint64 period;     /* re-arms this far ahead after each expiry; 0 = once */
  guint fired;
  guint64 last_now;
} Toy;

static guint64
toy_next (gconstpointer obj)
{
  return ((const Toy *) obj)->next;
}

static void
toy_expire (gpointer obj, guint64 now)
{
  Toy *t = obj;
  g_assert_cmpuint (now, >=, t->next);
  t->fired++;
  t->last_now = now;
  t->next = t->period != 0 ? now + t->period : NEVER;
}

static void
spin_until (guint64 deadline)
{
  while (mb_clock_now () < deadline)
    g_main_context_iteration (NULL, FALSE);
}

static gboolean
tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Runs the context for ms, waking at least every 2 ms. */
static void
run_for (guint ms)
{
  guint id = g_timeout_add (2, tick, NULL);
  guint64 deadline = mb_clock_now () + (guint64) ms * 1000;
  while (mb_clock_now () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (id);
}

static void
test_now (void)
{
  guint64 a = mb_clock_now ();
  g_usleep (2000);
  guint64 b = mb_clock_now ();
  g_assert_cmpuint (b, >=, a + 2000);
}

static void
test_fires_once_at_expiry (void)
{
  Toy toy = { mb_clock_now () + 30000, 0, 0, 0 };
  MbExpiryDriver *d = mb_expiry_driver_new (&toy, toy_next, toy_expire, NULL);
  g_assert_cmpuint (mb_expiry_driver_armed_at (d), ==, toy.next);
  guint64 due = toy.next;
  spin_until (due - 10000);
  g_assert_cmpuint (toy.fired, ==, 0);
  guint id = g_timeout_add (2, tick, NULL);
  while (toy.fired == 0 && mb_clock_now () < due + 1000000)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (id);
  run_for (20);  /* and it does not fire again */
  g_assert_cmpuint (toy.fired, ==, 1);
  g_assert_cmpuint (toy.last_now, >=, due);
  g_assert_cmpuint (toy.last_now, <, due + 1000000);  /* loaded CI: generous */
  g_assert_cmpuint (mb_expiry_driver_armed_at (d), ==, NEVER);
  g_assert_cmpuint (mb_expiry_driver_fired (d), ==, 1);
  mb_expiry_driver_free (d);
}

static void
test_periodic_and_rearm (void)
{
  Toy toy = { NEVER, 10000, 0, 0 };
  MbExpiryDriver *d = mb_expiry_driver_new (&toy, toy_next, toy_expire, NULL);
  run_for (30);
  g_assert_cmpuint (toy.fired, ==, 0);  /* never armed */
  toy.next = mb_clock_now ();           /* due now: the caller must rearm */
  mb_expiry_driver_rearm (d);
  run_for (105);
  /* Every 10 ms for ~100 ms; a loaded machine may fire fewer times. */
  g_assert_cmpuint (toy.fired, >=, 2);
  g_assert_cmpuint (toy.fired, <=, 12);
  toy.next = NEVER;
  toy.period = 0;
  mb_expiry_driver_rearm (d);
  guint before = toy.fired;
  run_for (30);
  g_assert_cmpuint (toy.fired, ==, before);
  mb_expiry_driver_free (d);
}

static void
on_fired (gpointer user, guint64 now)
{
  (*(guint *) user)++;
}

static void
test_fired_hook_and_free (void)
{
  Toy toy = { mb_clock_now () + 5000, 0, 0, 0 };
  guint hooks = 0;
  MbExpiryDriver *d = mb_expiry_driver_new (&toy, toy_next, toy_expire, NULL);
  mb_expiry_driver_set_fired (d, on_fired, &hooks);
  run_for (40);
  g_assert_cmpuint (hooks, ==, 1);
  /* Freed while armed: nothing fires afterwards. */
  toy.next = mb_clock_now () + 5000;
  mb_expiry_driver_rearm (d);
  mb_expiry_driver_free (d);
  run_for (30);
  g_assert_cmpuint (toy.fired, ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/clock/now", test_now);
  g_test_add_func ("/clock/fires-once-at-expiry", test_fires_once_at_expiry);
  g_test_add_func ("/clock/periodic-and-rearm", test_periodic_and_rearm);
  g_test_add_func ("/clock/fired-hook-and-free", test_fired_hook_and_free);
  return g_test_run ();
}
