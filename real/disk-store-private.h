/* disk-store-private.h — what disk-store.c (chunks, refs, downloads, the
 * store's life) and disk-manifests.c (manifests) share.  Not an API. */
#pragma once

#ifndef MB_REAL_DISK_STORE_INTERNAL
#error "disk-store-private.h is private to the disk store (real/disk-*.c, real/download.c): no other file may include it"
#endif

#include <sys/stat.h>

#include "chunk-refs.h"
#include "disk-store.h"
#include "download.h"

#define TMP_PREFIX ".tmp-"
#define CORRUPT_PREFIX ".corrupt-"
#define MANIFEST_SUFFIX ".json"
#define DIR_MODE 0700
#define FILE_MODE 0600
#define FILE_NAME_MAX 255

typedef struct {
  MbStore base;
  gchar *root;           /* DATA_DIR as given */
  gchar *chunks_dir;     /* DATA_DIR/chunks */
  gchar *manifests_dir;  /* DATA_DIR/manifests */
  GHashTable *verified;  /* id -> FileId of the file this store wrote or hashed */
  MbDownloads *downloads; /* fetched files written as they come, or NULL */
  MbChunkRefs *refs;     /* chunks kept inside fetched and shared files */
  GPtrArray *sources;    /* Source*: files being shared by store_file */
} DiskStore;

/* Called for each chunk (id, size) or manifest (name, size) found. */
typedef void (*Visit) (const char *key, gint64 size, gpointer user);

gint64 mbi_disk_regular_file_size (const char *path);
gint mbi_disk_cmp_str (gconstpointer a, gconstpointer b);
void mbi_disk_collect_key (const char *key, gint64 size, gpointer user);
void mbi_disk_remove_stale_tmp (const char *path);
/* Writes all of data at off (retrying short writes and EINTR); errno set on
 * failure. */
gboolean mbi_disk_pwrite_all (int fd, const guint8 *data, gsize len, guint64 off);
gboolean mbi_disk_write_atomically (const char *dir, const char *path, const guint8 *data,
                                   gsize len, gboolean durable, GError **error);

/* disk-manifests.c */
void mbi_disk_walk_manifests (DiskStore *d, gboolean remove_tmp, Visit visit, gpointer user);
void mbi_disk_count_manifest (const char *name, gint64 size, gpointer user);
gboolean mbi_disk_put_manifest (MbStore *s, const MbManifest *m, GError **error);
MbManifest *mbi_disk_get_manifest (MbStore *s, const char *name);
gboolean mbi_disk_drop_manifest (MbStore *s, const char *name);
GPtrArray *mbi_disk_list_manifests (MbStore *s);
