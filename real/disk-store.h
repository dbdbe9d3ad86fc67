/* disk-store.h — the real peer's store: chunks and manifests as files under
 * DATA_DIR, written atomically (see disk-store.c for the layout and the
 * invariants).  It holds bytes only: virtual chunks are refused.
 */
#pragma once

#include <glib.h>

#include "download.h"
#include "store.h"

G_BEGIN_DECLS

/* Opens (creating it if missing) the store under data_dir: makes chunks/ and
 * manifests/, removes temporary files left by a crash, and counts what is
 * there.  NULL and an MB_STORE_ERROR if data_dir is not a writable directory. */
MbStore *mb_store_disk_new (const char *data_dir, GError **error);

/* The file holding chunk `id`, or NULL if there is none; *verified says
 * whether this store already knows its bytes hash to the id (else whoever
 * reads the file must check).  For readers that stream chunks elsewhere
 * (the fetch's assembly, on a worker thread): the path is theirs to free. */
gchar *mb_store_disk_chunk_path (MbStore *s, const char *id, gboolean *verified);

/* Fetched files are written into dir (NULL: not at all) as their chunks
 * come (see download.h): a fetch's chunks still go into the store, and its
 * file into dir/NAME when mb_store_disk_download_finish is called. */
void mb_store_disk_set_download_dir (MbStore *s, const char *dir);
/* TRUE while a fetch of `name` is being written. */
gboolean mb_store_disk_download_active (MbStore *s, const char *name);
/* Ends it (ok: the fetch got every chunk): see mb_downloads_finish. */
void mb_store_disk_download_finish (MbStore *s, const char *name, gboolean ok,
                                    MbDownloadDoneFn done, gpointer data);

G_END_DECLS
