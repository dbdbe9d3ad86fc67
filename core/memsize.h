/* memsize.h — the heap bytes a block takes, for the memory reports
 * (mb_peer_memory, mb_store_memory, minibit-sim --memory-report).
 *
 * mb_memsize(p) is what the allocator really set aside for a block from
 * malloc, g_malloc or aligned_alloc: with glibc its usable size plus the
 * chunk header (so a 65-byte string counts 80 bytes); elsewhere `want`,
 * the size asked for.  Never pass it a block from g_slice (GLib before
 * 2.76 keeps those in its own slabs) or static data.  GLib's containers
 * (GHashTable, GPtrArray headers) do not expose their blocks: their
 * helpers below count them from GLib's layout (an estimate, said so where
 * it is reported). */
#pragma once

#include <glib.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

static inline gsize
mb_memsize (gconstpointer p, gsize want)
{
  if (p == NULL)
    return 0;
#if defined(__GLIBC__)
  (void) want;
  return malloc_usable_size ((void *) p) + sizeof (gsize);
#else
  return want;
#endif
}

/* A GLib 2.7x GHashTable of n entries: its header (a slice) and its keys,
 * values and hashes arrays, sized to the power of two GLib keeps for n
 * (at least 8, grown past 15/16 full and shrunk below a quarter). */
static inline gsize
mb_memsize_hash_table (GHashTable *h)
{
  if (h == NULL)
    return 0;
  gsize n = g_hash_table_size (h), size = 8;
  while (size < n + n / 16 + 1)
    size *= 2;
  return 96 + size * (2 * sizeof (gpointer) + sizeof (guint32));
}

/* A GBytes: its header (a slice) and, if it owns them, its bytes. */
static inline gsize
mb_memsize_bytes (GBytes *b)
{
  return b ? 48 + g_bytes_get_size (b) : 0;
}
