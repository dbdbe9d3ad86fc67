/* test_buffer_pool.c — buffers given back are taken again; at most `keep`
 * are kept; GBytes give theirs back when dropped, from any thread, and the
 * pool outlives its owner's reference while buffers are out. */
#include "content/buffer-pool.h"

static void
test_reuse (void)
{
  g_autoptr (MbBufferPool) pool = mb_buffer_pool_new (1000, 2);
  g_assert_cmpuint (mb_buffer_pool_size (pool), ==, 1000);
  guint8 *a = mb_buffer_pool_take (pool);
  a[999] = 7; /* the whole size is usable */
  mb_buffer_pool_give (pool, a);
  g_assert_cmpuint (mb_buffer_pool_idle (pool), ==, 1);
  guint8 *b = mb_buffer_pool_take (pool);
  g_assert_true (b == a);
  g_assert_cmpuint (mb_buffer_pool_idle (pool), ==, 0);
  mb_buffer_pool_give (pool, b);
  mb_buffer_pool_give (pool, NULL); /* nothing */
  g_assert_cmpuint (mb_buffer_pool_idle (pool), ==, 1);
}

static void
test_keep (void)
{
  g_autoptr (MbBufferPool) pool = mb_buffer_pool_new (64, 2);
  guint8 *bufs[5];
  for (guint i = 0; i < G_N_ELEMENTS (bufs); i++)
    bufs[i] = mb_buffer_pool_take (pool);
  for (guint i = 0; i < G_N_ELEMENTS (bufs); i++)
    mb_buffer_pool_give (pool, bufs[i]);
  g_assert_cmpuint (mb_buffer_pool_idle (pool), ==, 2);
  g_autoptr (MbBufferPool) none = mb_buffer_pool_new (64, 0);
  guint8 *x = mb_buffer_pool_take (none);
  mb_buffer_pool_give (none, x);
  g_assert_cmpuint (mb_buffer_pool_idle (none), ==, 0);
}

static void
test_bytes (void)
{
  MbBufferPool *pool = mb_buffer_pool_new (16, 4);
  guint8 *buf = mb_buffer_pool_take (pool);
  for (guint i = 0; i < 10; i++)
    buf[i] = (guint8) i;
  GBytes *b = mb_buffer_pool_bytes (pool, buf, 10);
  g_assert_cmpuint (g_bytes_get_size (b), ==, 10);
  g_assert_true (g_bytes_get_data (b, NULL) == buf);
  GBytes *b2 = g_bytes_ref (b);
  g_bytes_unref (b);
  g_assert_cmpuint (mb_buffer_pool_idle (pool), ==, 0); /* still referenced */
  mb_buffer_pool_ref (pool);
  mb_buffer_pool_unref (pool); /* the owner's goes: the buffer out keeps it */
  mb_buffer_pool_unref (pool);
  g_assert_cmpuint (((const guint8 *) g_bytes_get_data (b2, NULL))[9], ==, 9);
  g_bytes_unref (b2); /* the last buffer back: the pool goes (valgrind/ASan see a leak otherwise) */
}

static gpointer
drop_in_thread (gpointer data)
{
  g_bytes_unref (data);
  return NULL;
}

static void
test_threads (void)
{
  g_autoptr (MbBufferPool) pool = mb_buffer_pool_new (4096, 64);
  GThread *threads[32];
  guint8 *first[32];
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    first[i] = mb_buffer_pool_take (pool); /* 32 out at once: 32 distinct */
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("give", drop_in_thread,
                               mb_buffer_pool_bytes (pool, first[i], 4096));
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  g_assert_cmpuint (mb_buffer_pool_idle (pool), ==, 32);
  /* every buffer taken again is one of those given back */
  guint8 *again[32];
  for (guint i = 0; i < 32; i++)
    {
      again[i] = mb_buffer_pool_take (pool);
      gboolean known = FALSE;
      for (guint k = 0; k < 32; k++)
        known = known || first[k] == again[i];
      g_assert_true (known);
    }
  g_assert_cmpuint (mb_buffer_pool_idle (pool), ==, 0);
  for (guint i = 0; i < 32; i++)
    mb_buffer_pool_give (pool, again[i]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/buffer-pool/reuse", test_reuse);
  g_test_add_func ("/buffer-pool/keep", test_keep);
  g_test_add_func ("/buffer-pool/bytes", test_bytes);
  g_test_add_func ("/buffer-pool/threads", test_threads);
  return g_test_run ();
}
