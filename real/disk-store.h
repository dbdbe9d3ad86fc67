/* disk-store.h — the real peer's store: chunks and manifests as files under
 * DATA_DIR, written atomically (see disk-store.c for the layout and the
 * invariants).  It holds bytes only: virtual chunks are refused.
 */
#pragma once

#include <glib.h>

#include "store.h"

G_BEGIN_DECLS

/* Opens (creating it if missing) the store under data_dir: makes chunks/ and
 * manifests/, removes temporary files left by a crash, and counts what is
 * there.  NULL and an MB_STORE_ERROR if data_dir is not a writable directory. */
MbStore *mb_store_disk_new (const char *data_dir, GError **error);

G_END_DECLS
