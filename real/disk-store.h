/* disk-store.h — the real peer's store: chunks and manifests as files under
 * DATA_DIR, written atomically (see disk-store.c for the layout and the
 * invariants).  It holds bytes only: virtual chunks are refused.
 */
#pragma once

#include <glib.h>

#include "download.h"
#include "content/store.h"

G_BEGIN_DECLS

/* Opens (creating it if missing) the store under data_dir: makes chunks/ and
 * manifests/, removes temporary files left by a crash, and counts what is
 * there.  NULL and an MB_STORE_ERROR if data_dir is not a writable directory. */
MbStore *mb_store_disk_new (const char *data_dir, GError **error);

/* Where chunk `id` is: its file (and *offset 0), or the fetched file it is
 * kept in and its offset there; NULL if the store has no such chunk.
 * *verified says whether this store already knows those bytes hash to the
 * id (else whoever reads them must check).  For readers that copy chunks
 * elsewhere on a worker thread (a download): the path is theirs to free. */
gchar *mb_store_disk_chunk_location (MbStore *s, const char *id, guint64 *offset,
                                     gboolean *verified);

/* store_file is sharing the file at `path` (absolute), whose bytes are
 * `content` (mapped): until share_end, a put of a slice of those bytes is
 * kept as a reference into the file (refs/) rather than copied into
 * chunks/.  A chunk whose bytes later change there is no longer served. */
void mb_store_disk_share_begin (MbStore *s, const char *path, GBytes *content);
void mb_store_disk_share_end (MbStore *s, GBytes *content);

/* Fetched files are written into dir (NULL: not at all) as their chunks
 * come (see download.h): a fetch's chunks still go into the store, and its
 * file into dir/NAME when mb_store_disk_download_finish is called. */
void mb_store_disk_set_download_dir (MbStore *s, const char *dir);
/* Ends it (ok: the fetch got every chunk): see mb_downloads_finish. */
void mb_store_disk_download_finish (MbStore *s, const char *name, gboolean ok,
                                    MbDownloadDoneFn done, gpointer data);

G_END_DECLS
