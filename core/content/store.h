/* store.h — where a node keeps chunks (by id) and manifests (by name).
 *
 * An interface with three implementations: memory (here: tests and the
 * simulator), and disk (real/: atomic writes under DATA_DIR).  A chunk may be
 * "virtual" (data == NULL, only its length known): the simulator's content is
 * generated from (file, chunk) and never held.  Listing is sorted, so callers
 * that iterate stay deterministic.  A failed put leaves what was stored
 * unchanged.  Optional hooks let a store write a fetched file as its
 * chunks come (a download, begun and ended here) and keep the chunks of a
 * file being stored inside that file (share); the memory store has none.
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
  MB_STORE_ERROR_BUSY,      /* a download of that name is already running */
  MB_STORE_ERROR_NO_SPACE,  /* no room left (the disk or the quota is full) */
} MbStoreError;

typedef struct _MbStore MbStore;

/* A download's outcome: the file written (path, size) and error NULL, or
 * path NULL and the error. */
typedef void (*MbStoreDownloadFn) (const char *path, guint64 size, const GError *error,
                                   gpointer data);

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
  /* Optional (NULL: the store writes no files).  A download is a fetch
   * whose file the store writes: download_begin before the fetch starts
   * (the fetch's fetch_begin and put_fetched then go into that file),
   * download_end when it ended; then, maybe later, `done` gets the file. */
  gboolean (*download_begin) (MbStore *s, const char *name, MbStoreDownloadFn done,
                              gpointer data, GError **error);
  void (*download_end) (MbStore *s, const char *name, gboolean ok);
  /* Optional (NULL: nothing to do).  `content` is the file at `path`, being
   * stored: a store that can keeps puts of slices of it as references into
   * the file rather than copies, until share_end. */
  void (*share_begin) (MbStore *s, const char *path, GBytes *content);
  void (*share_end) (MbStore *s, GBytes *content);
  /* Optional (NULL: 0).  The heap bytes the store holds (memsize.h). */
  gsize (*heap_bytes) (MbStore *s);
} MbStoreOps;

struct _MbStore {
  const MbStoreOps *ops;
  guint64 chunk_bytes;  /* bytes of chunks held (virtual ones count) */
  guint n_chunks;
  guint n_manifests;
  /* TRUE if put_chunk and put_fetched themselves refuse real bytes that do
   * not hash to the id (the disk store): callers may then skip hashing
   * before a put and take a refused put (MB_STORE_ERROR_INVALID) as the
   * verdict. */
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
/* A download of the file `name` begins (see MbStoreOps.download_begin):
 * FALSE with MB_STORE_ERROR_BUSY if one of that name is running, or
 * MB_STORE_ERROR_INVALID if the store writes no files. */
gboolean mb_store_download_begin (MbStore *s, const char *name, MbStoreDownloadFn done,
                                  gpointer data, GError **error);
/* Its fetch ended (ok: it got every chunk).  Then `done` gets the whole
 * file, or an error (always one unless ok); it may run before this returns.
 * The name is free for a new download from here on. */
void mb_store_download_end (MbStore *s, const char *name, gboolean ok);
/* `content` (absolute `path`) is being stored (see MbStoreOps.share_begin). */
void mb_store_share_begin (MbStore *s, const char *path, GBytes *content);
void mb_store_share_end (MbStore *s, GBytes *content);
/* Sorted ids / names; free with g_ptr_array_unref. */
GPtrArray *mb_store_list_chunks (MbStore *s);
/* Stores a copy of m, replacing any manifest of that name. */
gboolean mb_store_put_manifest (MbStore *s, const MbManifest *m, GError **error);
/* A new reference to the stored manifest, or NULL.  Read-only: it may be
 * shared (the memory store's own, or the disk store's kept and frozen
 * copy); a caller that wants it changed copies it (mb_manifest_copy) and
 * puts the copy. */
MbManifest *mb_store_get_manifest (MbStore *s, const char *name);
gboolean mb_store_drop_manifest (MbStore *s, const char *name);
GPtrArray *mb_store_list_manifests (MbStore *s);
/* The heap bytes the store holds, as the allocator counts them
 * (memsize.h; 0 for a store that does not say): memory reports. */
gsize mb_store_heap_bytes (MbStore *s);
void mb_store_free (MbStore *s);

/* ---- the memory store (store-memory.c) ---- */

MbStore *mb_store_memory_new (void);

/* A catalog: the chunk ids of one manifest, indexed once and shared by
 * many memory stores (the simulator's peers, all of one file).  A memory
 * store made with one keeps a virtual chunk of the catalog (data NULL, the
 * catalog's length) as one bit instead of a table entry of some 140 bytes;
 * everything else (real bytes, other ids, another length) goes to its
 * table as before, and what the store answers is the same either way. */
typedef struct _MbChunkCatalog MbChunkCatalog;
MbChunkCatalog *mb_chunk_catalog_new (const MbManifest *m);
MbChunkCatalog *mb_chunk_catalog_ref (MbChunkCatalog *c);
void mb_chunk_catalog_unref (MbChunkCatalog *c);
/* The heap bytes the catalog holds (held once, however many stores share it). */
gsize mb_chunk_catalog_heap_bytes (const MbChunkCatalog *c);
/* A memory store that keeps the catalog's virtual chunks as bits (it
 * takes a reference). */
MbStore *mb_store_memory_new_with_catalog (MbChunkCatalog *catalog);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MbStore, mb_store_free)

G_END_DECLS
