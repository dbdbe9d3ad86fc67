/* manifest-private.h — the manifest's layout and the helpers shared by
 * manifest.c (the type, holders, merge, validation), manifest-binary.c (the
 * binary form) and manifest-json.c (the JSON form).  Not installed.
 * manifest.c's invariants hold for every manifest outside these files'
 * functions; manifest-json.c uses only the public accessors. */
#pragma once

#ifndef MB_CONTENT_MANIFEST_INTERNAL
#error "manifest-private.h is private to core/content/manifest*.c: no other file may include it"
#endif

#include "content/manifest.h"

/* ---- the layout (manifest.c and manifest-binary.c) ---- */

typedef struct {
  gchar **holders;      /* sorted, distinct, owned */
  guint16 n_holders;
  guint16 cap;
  guint32 crc;
  char id[MB_CHUNK_ID_LEN + 1];  /* "" while unset */
} Chunk;

struct _MbManifest {
  gatomicrefcount ref;
  gchar *name;
  guint64 version;      /* >= 1 (manifest-version.c) */
  guint64 size;
  guint32 chunk_size;
  guint n_chunks;
  Chunk *chunks;
  gboolean frozen;      /* mb_manifest_freeze: the mutators refuse it */
};

/* ---- helpers manifest.c provides ---- */

/* Why a holder name is unacceptable, or NULL if it is fine. */
const char *mbi_manifest_holder_problem (const char *holder);
/* Sets a BAD_HOLDER error naming the manifest, chunk and holder; FALSE. */
gboolean mbi_manifest_holder_fail (const MbManifest *m, guint i, const char *holder,
                                  const char *why, GError **error);
/* ceil(size / chunk_size). */
guint64 mbi_manifest_count_chunks (guint64 size, guint32 chunk_size);
/* Makes room for `want` holders in c (at most MB_MANIFEST_MAX_HOLDERS). */
void mbi_manifest_chunk_reserve (Chunk *c, guint want);
