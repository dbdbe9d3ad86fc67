/* download.h — a file being fetched, written as its chunks come: the chunks
 * the peer already held are copied in by a worker thread while the others
 * arrive from the network and are written at their offsets on the main
 * thread; the file appears under its final name only when whole.  Owned by
 * the disk store (mb_store_disk_set_download_dir); see download.c.
 */
#pragma once

#include <glib.h>

#include "chunk-refs.h"
#include "content/manifest.h"
#include "content/store.h"

G_BEGIN_DECLS

typedef struct _MbDownloads MbDownloads;

/* `path` is the file written (NULL on error); error is NULL on success. */
typedef void (*MbDownloadDoneFn) (const char *path, guint64 size, const GError *error,
                                  gpointer data);

/* Fetched chunks are kept inside the files (refs), not written twice. */
MbDownloads *mb_downloads_new (const char *dir, MbChunkRefs *refs);
/* Aborts what is still running (temporary files removed). */
void mb_downloads_free (MbDownloads *dl);

/* Called by the disk store (on the main thread). */
void mb_downloads_begin (MbDownloads *dl, MbStore *store, const MbManifest *m);
/* TRUE while the file of `name` is being written (put_fetched goes here). */
gboolean mb_downloads_writing (MbDownloads *dl, const char *name);
/* Writes chunk i (verified by the caller) at its offset; unless `held` (the
 * store has that chunk already) it is kept there, referred to in refs. */
gboolean mb_downloads_write (MbDownloads *dl, const MbManifest *m, guint i, GBytes *data,
                             gboolean held, GError **error);
/* Ends the download of `name`: with ok (every chunk arrived), once the
 * worker is done, renames it to DIR/NAME and calls done with its path; else
 * (or on any write error) removes it and calls done with the error.  done
 * may run before this returns.  With no such download, done gets an error. */
void mb_downloads_finish (MbDownloads *dl, const char *name, gboolean ok,
                          MbDownloadDoneFn done, gpointer data);

G_END_DECLS
