/* store.h — where a node keeps chunks (by id) and manifests (by name).
 *
 * An interface with three implementations: memory (here: tests and the
 * simulator), and disk (real/: atomic writes under DATA_DIR).  A chunk may be
 * "virtual" (data == NULL, only its length known): the simulator's content is
 * generated from (file, chunk) and never held.  Listing is sorted, so callers
 * that iterate stay deterministic.  A failed put leaves what was stored
 * unchanged.
 */
#pragma once

#include <glib.h>

#include "content/manifest.h"

G_BEGIN_DECLS

#define MB_STORE_ERROR (mb_store_error_quark ())
GQuark mb_store_error_quark (void);

typedef enum {
  MB_STORE_ERROR_NOT_FOUND,
  MB_STORE_ERROR_IO,
  MB_STORE_ERROR_INVALID,
} MbStoreError;

typedef struct _MbStore MbStore;

typedef struct {
  gboolean (*put_chunk) (MbStore *s, const char *id, GBytes *data, guint32 len, GError **error);
  gboolean (*get_chunk) (MbStore *s, const char *id, GBytes **data, guint32 *len, GError **error);
  gboolean (*has_chunk) (MbStore *s, const char *id);
  gboolean (*drop_chunk) (MbStore *s, const char *id);
  GPtrArray *(*list_chunks) (MbStore *s);
  gboolean (*put_manifest) (MbStore *s, const MbManifest *m, GError **error);
  MbManifest *(*get_manifest) (MbStore *s, const char *name);
  gboolean (*drop_manifest) (MbStore *s, const char *name);
  GPtrArray *(*list_manifests) (MbStore *s);
  void (*free) (MbStore *s);
  /* Optional (NULL: plain put_chunk).  A fetch of m starts (the chunks the
   * store holds now are the ones it will not be sent), then each chunk it
   * gets arrives through put_fetched: a store that writes the fetched file
   * as it goes (the real peer's) streams it there too. */
  void (*fetch_begin) (MbStore *s, const MbManifest *m);
  gboolean (*put_fetched) (MbStore *s, const MbManifest *m, guint i, GBytes *data,
                           GError **error);
} MbStoreOps;

struct _MbStore {
  const MbStoreOps *ops;
  guint64 chunk_bytes;  /* bytes of chunks held (virtual ones count) */
  guint n_chunks;
  guint n_manifests;
  /* TRUE if put_chunk itself refuses real bytes that do not hash to the id
   * (the disk store): callers may then skip hashing before a put and take a
   * refused put (MB_STORE_ERROR_INVALID) as the verdict. */
  gboolean verifies_puts;
};

/* Stores a chunk; data NULL means virtual content of len bytes. */
gboolean mb_store_put_chunk (MbStore *s, const char *id, GBytes *data, guint32 len, GError **error);
/* *data gets a new reference (NULL for virtual content). */
gboolean mb_store_get_chunk (MbStore *s, const char *id, GBytes **data, guint32 *len, GError **error);
gboolean mb_store_has_chunk (MbStore *s, const char *id);
gboolean mb_store_drop_chunk (MbStore *s, const char *id);
/* A fetch of m begins (see MbStoreOps.fetch_begin). */
void mb_store_fetch_begin (MbStore *s, const MbManifest *m);
/* Chunk i of m, fetched: stored like mb_store_put_chunk (data NULL:
 * virtual), and streamed on by stores that write fetched files. */
gboolean mb_store_put_fetched (MbStore *s, const MbManifest *m, guint i, GBytes *data,
                               GError **error);
/* Sorted ids / names; free with g_ptr_array_unref. */
GPtrArray *mb_store_list_chunks (MbStore *s);
/* Stores a copy of m, replacing any manifest of that name. */
gboolean mb_store_put_manifest (MbStore *s, const MbManifest *m, GError **error);
/* A new reference to the stored manifest, or NULL. Callers that change it
 * must put it back. */
MbManifest *mb_store_get_manifest (MbStore *s, const char *name);
gboolean mb_store_drop_manifest (MbStore *s, const char *name);
GPtrArray *mb_store_list_manifests (MbStore *s);
void mb_store_free (MbStore *s);

MbStore *mb_store_memory_new (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MbStore, mb_store_free)

G_END_DECLS
