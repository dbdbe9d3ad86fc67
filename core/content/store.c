/* store.c — the store interface's dispatch, and the in-memory store.
 *
 * The memory store keeps chunks in a hash table keyed by id (value: GBytes,
 * or NULL data for virtual chunks plus their length) and manifests by name
 * (a private copy each).  Listings are sorted, so nothing downstream depends
 * on hash-table order.  The counters in MbStore are kept exact.
 */
#include "content/store.h"

#include "content/manifest.h"

G_DEFINE_QUARK (mb-store-error-quark, mb_store_error)

gboolean
mb_store_put_chunk (MbStore *s, const char *id, GBytes *data, guint32 len, GError **error)
{
  if (!mb_chunk_id_is_valid (id))
    {
      g_set_error (error, MB_STORE_ERROR, MB_STORE_ERROR_INVALID,
                   "chunk id \"%s\" is not 64 lowercase hex digits", id);
      return FALSE;
    }
  if (data && g_bytes_get_size (data) != len)
    {
      g_set_error (error, MB_STORE_ERROR, MB_STORE_ERROR_INVALID,
                   "chunk %.12s: %" G_GSIZE_FORMAT " bytes given, length says %u",
                   id, g_bytes_get_size (data), len);
      return FALSE;
    }
  return s->ops->put_chunk (s, id, data, len, error);
}

gboolean
mb_store_get_chunk (MbStore *s, const char *id, GBytes **data, guint32 *len, GError **error)
{
  return s->ops->get_chunk (s, id, data, len, error);
}

gboolean
mb_store_has_chunk (MbStore *s, const char *id)
{
  return s->ops->has_chunk (s, id);
}

gboolean
mb_store_drop_chunk (MbStore *s, const char *id)
{
  return s->ops->drop_chunk (s, id);
}

void
mb_store_fetch_begin (MbStore *s, const MbManifest *m)
{
  if (s->ops->fetch_begin)
    s->ops->fetch_begin (s, m);
}

gboolean
mb_store_put_fetched (MbStore *s, const MbManifest *m, guint i, GBytes *data, GError **error)
{
  const char *id = mb_manifest_chunk_id (m, i);
  guint32 len = mb_manifest_chunk_len (m, i);
  if (s->ops->put_fetched == NULL || data == NULL)
    return mb_store_put_chunk (s, id, data, len, error);
  if (!mb_chunk_id_is_valid (id) || g_bytes_get_size (data) != len)
    return mb_store_put_chunk (s, id, data, len, error); /* its error */
  return s->ops->put_fetched (s, m, i, data, error);
}

gboolean
mb_store_download_begin (MbStore *s, const char *name, MbStoreDownloadFn done, gpointer data,
                         GError **error)
{
  if (s->ops->download_begin == NULL)
    {
      g_set_error (error, MB_STORE_ERROR, MB_STORE_ERROR_INVALID,
                   "cannot download %s: this store writes no files", name);
      return FALSE;
    }
  return s->ops->download_begin (s, name, done, data, error);
}

void
mb_store_download_end (MbStore *s, const char *name, gboolean ok)
{
  if (s->ops->download_end)
    s->ops->download_end (s, name, ok);
}

void
mb_store_share_begin (MbStore *s, const char *path, GBytes *content)
{
  if (s->ops->share_begin)
    s->ops->share_begin (s, path, content);
}

void
mb_store_share_end (MbStore *s, GBytes *content)
{
  if (s->ops->share_end)
    s->ops->share_end (s, content);
}

GPtrArray *
mb_store_list_chunks (MbStore *s)
{
  return s->ops->list_chunks (s);
}

gboolean
mb_store_put_manifest (MbStore *s, const MbManifest *m, GError **error)
{
  if (!mb_manifest_validate (m, error))
    return FALSE;
  return s->ops->put_manifest (s, m, error);
}

MbManifest *
mb_store_get_manifest (MbStore *s, const char *name)
{
  return s->ops->get_manifest (s, name);
}

gboolean
mb_store_drop_manifest (MbStore *s, const char *name)
{
  return s->ops->drop_manifest (s, name);
}

GPtrArray *
mb_store_list_manifests (MbStore *s)
{
  return s->ops->list_manifests (s);
}

void
mb_store_free (MbStore *s)
{
  if (s)
    s->ops->free (s);
}

/* ---- memory store ---- */

typedef struct {
  GBytes *data;  /* NULL: virtual */
  guint32 len;
} MemChunk;

typedef struct {
  MbStore base;
  GHashTable *chunks;     /* id -> MemChunk* */
  GHashTable *manifests;  /* name -> MbManifest* */
} MemStore;

static void
mem_chunk_free (gpointer p)
{
  MemChunk *c = p;
  if (c->data)
    g_bytes_unref (c->data);
  g_free (c);
}

static gboolean
mem_put_chunk (MbStore *s, const char *id, GBytes *data, guint32 len, GError **error)
{
  MemStore *m = (MemStore *) s;
  MemChunk *old = g_hash_table_lookup (m->chunks, id);
  if (old)
    {
      s->chunk_bytes -= old->len;
      s->n_chunks--;
    }
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
  MemChunk *c = g_hash_table_lookup (m->chunks, id);
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
  return g_hash_table_contains (((MemStore *) s)->chunks, id);
}

static gboolean
mem_drop_chunk (MbStore *s, const char *id)
{
  MemStore *m = (MemStore *) s;
  MemChunk *c = g_hash_table_lookup (m->chunks, id);
  if (!c)
    return FALSE;
  s->chunk_bytes -= c->len;
  s->n_chunks--;
  return g_hash_table_remove (m->chunks, id);
}

static gint
cmp_str (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

static GPtrArray *
sorted_keys (GHashTable *table)
{
  GPtrArray *out = g_ptr_array_new_full (g_hash_table_size (table), g_free);
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, table);
  while (g_hash_table_iter_next (&it, &key, NULL))
    g_ptr_array_add (out, g_strdup (key));
  g_ptr_array_sort (out, cmp_str);
  return out;
}

static GPtrArray *
mem_list_chunks (MbStore *s)
{
  return sorted_keys (((MemStore *) s)->chunks);
}

static gboolean
mem_put_manifest (MbStore *s, const MbManifest *mf, GError **error)
{
  MemStore *m = (MemStore *) s;
  const char *name = mb_manifest_name (mf);
  if (!g_hash_table_contains (m->manifests, name))
    s->n_manifests++;
  g_hash_table_replace (m->manifests, g_strdup (name), mb_manifest_copy (mf));
  return TRUE;
}

static MbManifest *
mem_get_manifest (MbStore *s, const char *name)
{
  MbManifest *mf = g_hash_table_lookup (((MemStore *) s)->manifests, name);
  return mf ? mb_manifest_ref (mf) : NULL;
}

static gboolean
mem_drop_manifest (MbStore *s, const char *name)
{
  if (!g_hash_table_remove (((MemStore *) s)->manifests, name))
    return FALSE;
  s->n_manifests--;
  return TRUE;
}

static GPtrArray *
mem_list_manifests (MbStore *s)
{
  return sorted_keys (((MemStore *) s)->manifests);
}

static void
mem_free (MbStore *s)
{
  MemStore *m = (MemStore *) s;
  g_hash_table_unref (m->chunks);
  g_hash_table_unref (m->manifests);
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
};

MbStore *
mb_store_memory_new (void)
{
  MemStore *m = g_new0 (MemStore, 1);
  m->base.ops = &mem_ops;
  m->chunks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, mem_chunk_free);
  m->manifests = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify) mb_manifest_unref);
  return &m->base;
}
