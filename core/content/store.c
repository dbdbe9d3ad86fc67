/* store.c — the store interface's dispatch (the in-memory store is
 * store-memory.c).
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

gsize
mb_store_heap_bytes (MbStore *s)
{
  return s->ops->heap_bytes ? s->ops->heap_bytes (s) : 0;
}

void
mb_store_free (MbStore *s)
{
  if (s)
    s->ops->free (s);
}
