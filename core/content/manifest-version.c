/* manifest-version.c — a manifest's version and content hash, and the rule
 * every holder applies when a manifest of a name it holds arrives.
 *
 * A name's contents are ordered by version (>= 1, a new file is 1, each
 * changed re-store one more).  Two contents with the same version (two
 * writers raced) are told apart by their content hash, SHA-256 over the
 * size (u64 big-endian) and the ordered chunk ids (32 raw bytes each), and
 * the higher hash wins: a rule of the two manifests alone, so every holder
 * keeps the same one whatever order they arrive in.
 *
 * Invariants: mb_manifest_order (have, in) is OLDER exactly when
 * mb_manifest_cmp_newer (in, have) < 0 with a lower version, the CONFLICT_*
 * cases have equal versions and different contents, and SAME means equal
 * versions and contents; it never says "replace" for a lower or equal
 * version with a lower hash.
 */
#include "content/manifest.h"
#define MB_CONTENT_MANIFEST_INTERNAL
#include "content/manifest-private.h"

#include <string.h>

#include "content/chunk.h"

guint64
mb_manifest_version (const MbManifest *m)
{
  g_return_val_if_fail (m != NULL, 0);
  return m->version;
}

void
mb_manifest_set_version (MbManifest *m, guint64 version)
{
  g_return_if_fail (m != NULL && !m->frozen);
  g_return_if_fail (version >= 1 && version <= MB_MANIFEST_VERSION_MAX);
  m->version = version;
}

void
mb_manifest_content_hash (const MbManifest *m, char out[65])
{
  g_return_if_fail (m != NULL);
  MbSha256 *h = mb_sha256_new ();
  guint8 size_be[8];
  for (guint k = 0; k < 8; k++)
    size_be[k] = (guint8) (m->size >> (8 * (7 - k)));
  mb_sha256_update (h, size_be, sizeof size_be);
  for (guint i = 0; i < m->n_chunks; i++)
    {
      guint8 raw[MB_CHUNK_ID_LEN / 2];
      const char *id = m->chunks[i].id;
      gboolean set = mb_chunk_id_is_valid (id);
      for (guint k = 0; k < sizeof raw; k++)
        raw[k] = set ? (guint8) (g_ascii_xdigit_value (id[2 * k]) << 4
                                 | g_ascii_xdigit_value (id[2 * k + 1]))
                     : 0;
      mb_sha256_update (h, raw, sizeof raw);
    }
  mb_sha256_finish (h, out);
}

gboolean
mb_manifest_same_content (const MbManifest *a, const MbManifest *b)
{
  g_return_val_if_fail (a != NULL && b != NULL, FALSE);
  if (a->size != b->size || a->chunk_size != b->chunk_size || a->n_chunks != b->n_chunks)
    return FALSE;
  for (guint i = 0; i < a->n_chunks; i++)
    if (strcmp (a->chunks[i].id, b->chunks[i].id) != 0)
      return FALSE;
  return TRUE;
}

gint
mb_manifest_cmp_newer (const MbManifest *a, const MbManifest *b)
{
  g_return_val_if_fail (a != NULL && b != NULL, 0);
  if (a->version != b->version)
    return a->version < b->version ? -1 : 1;
  if (mb_manifest_same_content (a, b))
    return 0;
  char ha[65], hb[65];
  mb_manifest_content_hash (a, ha);
  mb_manifest_content_hash (b, hb);
  gint c = strcmp (ha, hb);
  if (c == 0)   /* same hash, other chunk size: a SHA-256 collision aside, */
    c = a->chunk_size < b->chunk_size ? -1 : 1;   /* only the chunk size differs */
  return c;
}

MbManifestOrder
mb_manifest_order (const MbManifest *have, const MbManifest *incoming)
{
  g_return_val_if_fail (have != NULL && incoming != NULL, MB_MANIFEST_OLDER);
  if (incoming->version > have->version)
    return MB_MANIFEST_NEWER;
  if (incoming->version < have->version)
    return MB_MANIFEST_OLDER;
  gint c = mb_manifest_cmp_newer (incoming, have);
  return c == 0 ? MB_MANIFEST_SAME : c > 0 ? MB_MANIFEST_CONFLICT_WINS
                                           : MB_MANIFEST_CONFLICT_LOSES;
}

const char *
mb_manifest_order_name (MbManifestOrder o)
{
  switch (o)
    {
    case MB_MANIFEST_SAME: return "same";
    case MB_MANIFEST_NEWER: return "newer";
    case MB_MANIFEST_OLDER: return "older";
    case MB_MANIFEST_CONFLICT_WINS: return "conflict-wins";
    case MB_MANIFEST_CONFLICT_LOSES: return "conflict-loses";
    }
  return "unknown";
}
