/* disk-store.h — the real peer's store: chunks and manifests as files under
 * DATA_DIR, written atomically (see disk-store.c for the layout and the
 * invariants).  It holds bytes only: virtual chunks are refused.  Beyond
 * the plain store it has every optional hook of the store interface:
 * downloads (fetched files written as they come) and sharing (a stored
 * file's chunks kept inside it).
 */
#pragma once

#include <glib.h>

#include "content/store.h"

G_BEGIN_DECLS

/* Opens (creating it if missing) the store under data_dir: makes chunks/ and
 * manifests/, removes temporary files left by a crash, and counts what is
 * there.  NULL and an MB_STORE_ERROR if data_dir is not a writable directory. */
MbStore *mb_store_disk_new (const char *data_dir, GError **error);

/* Fetched files are written into dir (NULL: none are) when a download is
 * asked for (mb_store_download_begin): see download.c. */
void mb_store_disk_set_download_dir (MbStore *s, const char *dir);

G_END_DECLS
