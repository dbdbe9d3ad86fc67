/* manifest-hash.c — a file's manifest from its bytes: every chunk's id
 * (SHA-256) and CRC-32.  Pure and thread-safe: the real peer runs it on a
 * worker thread, so that hashing a large file does not keep its main loop
 * (and with it the failure detector's answers) waiting for seconds.
 */
#include "content/manifest.h"

#include "content/chunk.h"

MbManifest *
mb_manifest_new_hashed (const char *name, GBytes *content, guint32 chunk_size, GError **error)
{
  gsize size = 0;
  const guint8 *bytes = g_bytes_get_data (content, &size);
  MbManifest *m = mb_manifest_new (name, size, chunk_size, error);
  if (m == NULL)
    return NULL;
  for (guint i = 0; i < mb_manifest_n_chunks (m); i++)
    {
      guint32 len = mb_manifest_chunk_len (m, i);
      const guint8 *p = bytes + (gsize) i * chunk_size;
      char id[65];
      mb_chunk_id_compute (p, len, id);
      gboolean ok = mb_manifest_set_chunk (m, i, id, mb_chunk_crc_compute (p, len), error);
      g_assert (ok);  /* a computed id is always valid */
    }
  return m;
}
