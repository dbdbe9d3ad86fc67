/* store-memory.c — the in-memory store (tests, the simulator), and the
 * chunk catalog its simulator stores share.
 *
 * Chunks live in a hash table keyed by id (value: GBytes, or NULL data for
 * virtual chunks, and their length), manifests in one by name (a private
 * copy each); both tables are made at their first entry.  A store made with
 * a catalog keeps the catalog's virtual chunks (data NULL, the catalog's
 * length) as bits of `held` instead.  Invariants:
 *  - an id is in at most one of the two: its bit, or the table;
 *  - base.n_chunks and base.chunk_bytes count both, exactly;
 *  - listings are sorted, so nothing downstream depends on hash-table order
 *    or on where a chunk is kept.
 */
#include "content/store.h"

#include <string.h>

#include "content/manifest.h"
#include "memsize.h"

struct _MbChunkCatalog {
  gatomicrefcount ref;
  guint n;
  char (*ids)[MB_CHUNK_ID_LEN + 1];
  guint32 *lens;
  GHashTable *index;       /* id (in ids) -> its index + 1; the first of equal ids */
};

MbChunkCatalog *
mb_chunk_catalog_new (const MbManifest *m)
{
  g_return_val_if_fail (m != NULL, NULL);
  MbChunkCatalog *c = g_new0 (MbChunkCatalog, 1);
  g_atomic_ref_count_init (&c->ref);
  c->n = mb_manifest_n_chunks (m);
  c->ids = g_malloc0_n (MAX (c->n, 1), sizeof c->ids[0]);
  c->lens = g_new0 (guint32, MAX (c->n, 1));
  c->index = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < c->n; i++)
    {
      g_strlcpy (c->ids[i], mb_manifest_chunk_id (m, i), sizeof c->ids[i]);
      c->lens[i] = mb_manifest_chunk_len (m, i);
      if (c->ids[i][0] != '\0' && !g_hash_table_contains (c->index, c->ids[i]))
        g_hash_table_insert (c->index, c->ids[i], GUINT_TO_POINTER (i + 1));
    }
  return c;
}

MbChunkCatalog *
mb_chunk_catalog_ref (MbChunkCatalog *c)
{
  g_return_val_if_fail (c != NULL, NULL);
  g_atomic_ref_count_inc (&c->ref);
  return c;
}

void
mb_chunk_catalog_unref (MbChunkCatalog *c)
{
  if (c == NULL || !g_atomic_ref_count_dec (&c->ref))
    return;
  g_hash_table_unref (c->index);
  g_free (c->ids);
  g_free (c->lens);
  g_free (c);
}

gsize
mb_chunk_catalog_heap_bytes (const MbChunkCatalog *c)
{
  if (c == NULL)
    return 0;
  return mb_memsize (c, sizeof *c) + mb_memsize (c->ids, c->n * sizeof c->ids[0])
         + mb_memsize (c->lens, c->n * sizeof (guint32)) + mb_memsize_hash_table (c->index);
}

typedef struct {
  GBytes *data;  /* NULL: virtual */
  guint32 len;
} MemChunk;

typedef struct {
  MbStore base;
  GHashTable *chunks;       /* id -> MemChunk*, or NULL while empty */
  GHashTable *manifests;    /* name -> MbManifest*, or NULL while empty */
  MbChunkCatalog *catalog;  /* or NULL */
  guint8 held[];            /* with a catalog: bit i = its chunk i is here, virtual */
} MemStore;

static void
mem_chunk_free (gpointer p)
{
  MemChunk *c = p;
  if (c->data)
    g_bytes_unref (c->data);
  g_free (c);
}

/* The catalog index of id, or -1. */
static gint
mem_catalog_find (const MemStore *m, const char *id)
{
  if (m->catalog == NULL)
    return -1;
  return (gint) GPOINTER_TO_UINT (g_hash_table_lookup (m->catalog->index, id)) - 1;
}

static gboolean
mem_held (const MemStore *m, gint k)
{
  return k >= 0 && (m->held[k >> 3] >> (k & 7)) & 1;
}

static void
mem_set_held (MemStore *m, gint k, gboolean on)
{
  guint8 bit = (guint8) (1u << (k & 7));
  m->held[k >> 3] = on ? (guint8) (m->held[k >> 3] | bit) : (guint8) (m->held[k >> 3] & ~bit);
  guint32 len = m->catalog->lens[k];
  if (on)
    {
      m->base.chunk_bytes += len;
      m->base.n_chunks++;
    }
  else
    {
      m->base.chunk_bytes -= len;
      m->base.n_chunks--;
    }
}

static MemChunk *
mem_table_chunk (const MemStore *m, const char *id)
{
  return m->chunks ? g_hash_table_lookup (m->chunks, id) : NULL;
}

/* Forgets id's table entry, if any. */
static gboolean
mem_table_drop (MemStore *m, const char *id)
{
  MemChunk *c = mem_table_chunk (m, id);
  if (!c)
    return FALSE;
  m->base.chunk_bytes -= c->len;
  m->base.n_chunks--;
  return g_hash_table_remove (m->chunks, id);
}

static gboolean
mem_put_chunk (MbStore *s, const char *id, GBytes *data, guint32 len, GError **error)
{
  MemStore *m = (MemStore *) s;
  gint k = mem_catalog_find (m, id);
  if (mem_held (m, k))
    mem_set_held (m, k, FALSE);
  else
    mem_table_drop (m, id);
  if (data == NULL && k >= 0 && m->catalog->lens[k] == len)
    {
      mem_set_held (m, k, TRUE);
      return TRUE;
    }
  if (!m->chunks)
    m->chunks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, mem_chunk_free);
  MemChunk *c = g_new0 (MemChunk, 1);
  c->data = data ? g_bytes_ref (data) : NULL;
  c->len = len;
  g_hash_table_replace (m->chunks, g_strdup (id), c);
  s->chunk_bytes += len;
  s->n_chunks++;
  return TRUE;
}

static gboolean
mem_get_chunk (MbStore *s, const char *id, GBytes **data, guint32 *len, GError **error)
{
  MemStore *m = (MemStore *) s;
  gint k = mem_catalog_find (m, id);
  if (mem_held (m, k))
    {
      if (data)
        *data = NULL;
      if (len)
        *len = m->catalog->lens[k];
      return TRUE;
    }
  MemChunk *c = mem_table_chunk (m, id);
  if (!c)
    {
      g_set_error (error, MB_STORE_ERROR, MB_STORE_ERROR_NOT_FOUND,
                   "no chunk %.12s here", id);
      return FALSE;
    }
  if (data)
    *data = c->data ? g_bytes_ref (c->data) : NULL;
  if (len)
    *len = c->len;
  return TRUE;
}

static gboolean
mem_has_chunk (MbStore *s, const char *id)
{
  MemStore *m = (MemStore *) s;
  return mem_held (m, mem_catalog_find (m, id)) || mem_table_chunk (m, id) != NULL;
}

static gboolean
mem_drop_chunk (MbStore *s, const char *id)
{
  MemStore *m = (MemStore *) s;
  gint k = mem_catalog_find (m, id);
  if (!mem_held (m, k))
    return mem_table_drop (m, id);
  mem_set_held (m, k, FALSE);
  return TRUE;
}

static gint
cmp_str (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

/* The table's keys (and `extra`, if any), sorted. */
static GPtrArray *
sorted_keys (GHashTable *table, GPtrArray *extra)
{
  GPtrArray *out = extra ? extra : g_ptr_array_new_with_free_func (g_free);
  if (table)
    {
      GHashTableIter it;
      gpointer key;
      g_hash_table_iter_init (&it, table);
      while (g_hash_table_iter_next (&it, &key, NULL))
        g_ptr_array_add (out, g_strdup (key));
    }
  g_ptr_array_sort (out, cmp_str);
  return out;
}

static GPtrArray *
mem_list_chunks (MbStore *s)
{
  MemStore *m = (MemStore *) s;
  GPtrArray *out = g_ptr_array_new_full (s->n_chunks, g_free);
  for (guint k = 0; m->catalog && k < m->catalog->n; k++)
    if (mem_held (m, (gint) k))
      g_ptr_array_add (out, g_strdup (m->catalog->ids[k]));
  return sorted_keys (m->chunks, out);
}

static gboolean
mem_put_manifest (MbStore *s, const MbManifest *mf, GError **error)
{
  MemStore *m = (MemStore *) s;
  const char *name = mb_manifest_name (mf);
  if (!m->manifests)
    m->manifests = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) mb_manifest_unref);
  if (!g_hash_table_contains (m->manifests, name))
    s->n_manifests++;
  g_hash_table_replace (m->manifests, g_strdup (name), mb_manifest_copy (mf));
  return TRUE;
}

static MbManifest *
mem_get_manifest (MbStore *s, const char *name)
{
  MemStore *m = (MemStore *) s;
  MbManifest *mf = m->manifests ? g_hash_table_lookup (m->manifests, name) : NULL;
  return mf ? mb_manifest_ref (mf) : NULL;
}

static gboolean
mem_drop_manifest (MbStore *s, const char *name)
{
  MemStore *m = (MemStore *) s;
  if (!m->manifests || !g_hash_table_remove (m->manifests, name))
    return FALSE;
  s->n_manifests--;
  return TRUE;
}

static GPtrArray *
mem_list_manifests (MbStore *s)
{
  return sorted_keys (((MemStore *) s)->manifests, NULL);
}

static gsize
mem_heap_bytes (MbStore *s)
{
  MemStore *m = (MemStore *) s;
  gsize n_held = m->catalog ? (m->catalog->n + 7) / 8 : 0;
  gsize bytes = mb_memsize (m, sizeof *m + n_held) + mb_memsize_hash_table (m->chunks)
                + mb_memsize_hash_table (m->manifests);
  GHashTableIter it;
  gpointer key, value;
  if (m->chunks)
    {
      g_hash_table_iter_init (&it, m->chunks);
      while (g_hash_table_iter_next (&it, &key, &value))
        bytes += mb_memsize (key, strlen (key) + 1) + mb_memsize (value, sizeof (MemChunk))
                 + mb_memsize_bytes (((MemChunk *) value)->data);
    }
  if (m->manifests)
    {
      g_hash_table_iter_init (&it, m->manifests);
      while (g_hash_table_iter_next (&it, &key, &value))
        bytes += mb_memsize (key, strlen (key) + 1) + mb_manifest_memory (value);
    }
  return bytes;
}

static void
mem_free (MbStore *s)
{
  MemStore *m = (MemStore *) s;
  if (m->chunks)
    g_hash_table_unref (m->chunks);
  if (m->manifests)
    g_hash_table_unref (m->manifests);
  mb_chunk_catalog_unref (m->catalog);
  g_free (m);
}

static const MbStoreOps mem_ops = {
  .put_chunk = mem_put_chunk,
  .get_chunk = mem_get_chunk,
  .has_chunk = mem_has_chunk,
  .drop_chunk = mem_drop_chunk,
  .list_chunks = mem_list_chunks,
  .put_manifest = mem_put_manifest,
  .get_manifest = mem_get_manifest,
  .drop_manifest = mem_drop_manifest,
  .list_manifests = mem_list_manifests,
  .free = mem_free,
  .heap_bytes = mem_heap_bytes,
};

MbStore *
mb_store_memory_new_with_catalog (MbChunkCatalog *catalog)
{
  gsize n_held = catalog ? (catalog->n + 7) / 8 : 0;
  MemStore *m = g_malloc0 (sizeof (MemStore) + n_held);
  m->base.ops = &mem_ops;
  m->catalog = catalog ? mb_chunk_catalog_ref (catalog) : NULL;
  return &m->base;
}

MbStore *
mb_store_memory_new (void)
{
  return mb_store_memory_new_with_catalog (NULL);
}
