/* buffer-pool.c — equal-sized buffers reused (buffer-pool.h).
 *
 * Invariants: idle holds at most `keep` buffers, each `size` bytes, none of
 * them out; `refs` counts the owner's references and one per buffer out
 * (taken and not given back), so the pool outlives every buffer; idle is
 * touched only under `lock`.
 */
#include "content/buffer-pool.h"

struct _MbBufferPool {
  gint refs;       /* atomic */
  gsize size;
  guint keep;
  GMutex lock;
  GPtrArray *idle; /* guint8*, under lock */
};

MbBufferPool *
mb_buffer_pool_new (gsize size, guint keep)
{
  g_return_val_if_fail (size > 0, NULL);
  MbBufferPool *pool = g_new0 (MbBufferPool, 1);
  pool->refs = 1;
  pool->size = size;
  pool->keep = keep;
  g_mutex_init (&pool->lock);
  pool->idle = g_ptr_array_new_with_free_func (g_free);
  return pool;
}

MbBufferPool *
mb_buffer_pool_ref (MbBufferPool *pool)
{
  g_atomic_int_inc (&pool->refs);
  return pool;
}

void
mb_buffer_pool_unref (MbBufferPool *pool)
{
  if (pool == NULL || !g_atomic_int_dec_and_test (&pool->refs))
    return;
  g_ptr_array_unref (pool->idle);
  g_mutex_clear (&pool->lock);
  g_free (pool);
}

gsize
mb_buffer_pool_size (const MbBufferPool *pool)
{
  return pool->size;
}

guint
mb_buffer_pool_idle (MbBufferPool *pool)
{
  g_mutex_lock (&pool->lock);
  guint n = pool->idle->len;
  g_mutex_unlock (&pool->lock);
  return n;
}

guint8 *
mb_buffer_pool_take (MbBufferPool *pool)
{
  guint8 *buf = NULL;
  g_mutex_lock (&pool->lock);
  if (pool->idle->len > 0)
    buf = g_ptr_array_steal_index_fast (pool->idle, pool->idle->len - 1);
  g_mutex_unlock (&pool->lock);
  mb_buffer_pool_ref (pool);
  return buf ? buf : g_malloc (pool->size);
}

void
mb_buffer_pool_give (MbBufferPool *pool, guint8 *buf)
{
  if (buf == NULL)
    return;
  g_mutex_lock (&pool->lock);
  if (pool->idle->len < pool->keep)
    {
      g_ptr_array_add (pool->idle, buf);
      buf = NULL;
    }
  g_mutex_unlock (&pool->lock);
  g_free (buf);
  mb_buffer_pool_unref (pool);
}

typedef struct {
  MbBufferPool *pool;
  guint8 *buf;
} Given;

static void
give_back (gpointer data)
{
  Given *g = data;
  mb_buffer_pool_give (g->pool, g->buf);
  g_free (g);
}

GBytes *
mb_buffer_pool_bytes (MbBufferPool *pool, guint8 *buf, gsize len)
{
  g_return_val_if_fail (buf != NULL && len <= pool->size, NULL);
  Given *g = g_new (Given, 1);
  g->pool = pool;
  g->buf = buf;
  return g_bytes_new_with_free_func (buf, len, give_back, g);
}
