/* buffer-pool.h — equal-sized byte buffers, given back and taken again
 * rather than freed and allocated: a piece being assembled (the swarm)
 * fills one, the store's writer thread lets go of it.  Without reuse every
 * piece landed on fresh pages of the heap (glibc trims its top as the
 * writer frees), and the page faults that zeroed them cost the fetcher's
 * main thread more than the piece's SHA-256 (issue 15's cold fetch).
 *
 * Thread-safe: buffers may be given back (a GBytes from
 * mb_buffer_pool_bytes dropped) from any thread.  A pool lives while it is
 * referenced: its owner's reference and one per buffer out.  At most
 * `keep` idle buffers are kept; more given back are freed.  A taken
 * buffer's bytes are whatever its last user left (like g_malloc's). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MbBufferPool MbBufferPool;

/* Buffers of `size` bytes (> 0), at most `keep` kept idle. */
MbBufferPool *mb_buffer_pool_new (gsize size, guint keep);
MbBufferPool *mb_buffer_pool_ref (MbBufferPool *pool);
void mb_buffer_pool_unref (MbBufferPool *pool);
gsize mb_buffer_pool_size (const MbBufferPool *pool);
/* Idle buffers held now. */
guint mb_buffer_pool_idle (MbBufferPool *pool);

/* A buffer of the pool's size (an idle one if any). */
guint8 *mb_buffer_pool_take (MbBufferPool *pool);
/* Gives back a buffer taken from this pool (NULL: nothing). */
void mb_buffer_pool_give (MbBufferPool *pool, guint8 *buf);
/* The first len (<= size) bytes of buf, taken from this pool, as GBytes
 * that own it: buf goes back to the pool when the last reference goes. */
GBytes *mb_buffer_pool_bytes (MbBufferPool *pool, guint8 *buf, gsize len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MbBufferPool, mb_buffer_pool_unref)

G_END_DECLS
