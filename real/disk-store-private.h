/* disk-store-private.h — what the disk store's files share: disk-store.c
 * (chunks, refs, sharing, the store's life), disk-manifests.c (manifests),
 * download.c (the store's downloads) and disk-files.c (file primitives).
 * Not an API. */
#pragma once

#ifndef MB_REAL_DISK_STORE_INTERNAL
#error "disk-store-private.h is private to the disk store (real/disk-*.c, real/download.c): no other file may include it"
#endif

#include <sys/stat.h>

#include "chunk-refs.h"
#include "disk-store.h"

#define TMP_PREFIX ".tmp-"
#define CORRUPT_PREFIX ".corrupt-"
#define MANIFEST_SUFFIX ".json"
#define DIR_MODE 0700
#define FILE_MODE 0600
#define FILE_NAME_MAX 255

typedef struct _MbDownloads MbDownloads;

typedef struct {
  MbStore base;
  gchar *root;           /* DATA_DIR as given */
  gchar *chunks_dir;     /* DATA_DIR/chunks */
  gchar *manifests_dir;  /* DATA_DIR/manifests */
  GHashTable *verified;  /* id -> FileId of the file this store wrote or hashed */
  MbDownloads *downloads; /* fetched files written as they come, or NULL */
  MbChunkRefs *refs;     /* chunks kept inside fetched and shared files */
  GPtrArray *sources;    /* Source*: files being shared by store_file */
  GHashTable *kept;      /* name -> the manifest last parsed or written, frozen,
                            with its file's identity (disk-manifests.c) */
  guint64 kept_chunks;   /* chunks over the kept manifests */
  gsize kept_bytes;      /* their memory (mb_manifest_memory) */
  guint64 kept_clock;    /* uses, for evicting the least recently used */
} DiskStore;

/* Called for each chunk (id, size) or manifest (name, size) found. */
typedef void (*Visit) (const char *key, gint64 size, gpointer user);

/* disk-files.c */
/* Sets an error "PATH: WHAT: strerror (err)" of `code` (of NO_SPACE
 * whatever the code when err is ENOSPC or EDQUOT: a full disk is told as
 * such); FALSE. */
gboolean mbi_disk_fail_errno (GError **error, gint code, const char *path, const char *what,
                              int err);
/* Size of the regular file at path, or -1 if there is none. */
gint64 mbi_disk_regular_file_size (const char *path);
gint mbi_disk_cmp_str (gconstpointer a, gconstpointer b);
void mbi_disk_collect_key (const char *key, gint64 size, gpointer user);
void mbi_disk_remove_stale_tmp (const char *path);
/* Opens path for reading if it is a regular file: never blocks on a FIFO or
 * a device (O_NONBLOCK), never takes a terminal; fstat in *st.  Else -1 and
 * an MB_STORE_ERROR (NOT_FOUND if missing). */
int mbi_disk_open_regular (const char *path, struct stat *st, GError **error);
/* Reads up to len bytes at off (retrying short reads and EINTR): how many
 * were read (fewer at the end of the file or on an error). */
gsize mbi_disk_pread_all (int fd, guint8 *buf, gsize len, guint64 off);
/* Writes all of data at off (retrying short writes and EINTR); errno set on
 * failure. */
gboolean mbi_disk_pwrite_all (int fd, const guint8 *data, gsize len, guint64 off);
/* Replaces path (in dir) by data: whole or not at all; with `durable`, also
 * across a crash. */
gboolean mbi_disk_write_atomically (const char *dir, const char *path, const guint8 *data,
                                    gsize len, gboolean durable, GError **error);
/* fsyncs dir (a rename in it then survives a crash); a failure is a warning. */
void mbi_disk_sync_dir_or_warn (const char *dir);
/* Creates dir (and its parents) if missing; it must be a writable directory. */
gboolean mbi_disk_prepare_dir (const char *dir, GError **error);

/* download.c: chunks a running download got (its fetch's put_fetched), held
 * and served (to the swarm, to GET_CHUNK) before its commit makes them the
 * store's: from memory until written, then from the download's file,
 * checked against the id on the first read. */
gboolean mbi_disk_download_has (MbStore *s, const char *id);
gboolean mbi_disk_download_get (MbStore *s, const char *id, GBytes **data, guint32 *len);

/* disk-store.c: the chunk hooks download.c builds on */
gboolean mbi_disk_put_chunk (MbStore *s, const char *id, GBytes *data, guint32 len,
                             GError **error);
gboolean mbi_disk_has_chunk (MbStore *s, const char *id);
/* Where chunk `id` is: its file (and *offset 0), or the file it is kept in
 * and its offset there; NULL if the store has no such chunk.  *verified
 * says whether this store already knows those bytes hash to the id (else
 * whoever reads them must check).  For readers that copy chunks elsewhere
 * on a worker thread (a download): the path is theirs to free. */
gchar *mbi_disk_chunk_location (MbStore *s, const char *id, guint64 *offset,
                                gboolean *verified);

/* download.c: fetched files written into dir as their chunks come, kept
 * there (refs) rather than in chunks/; making one removes the temporary
 * files a killed run left in dir.  Freeing aborts what still runs
 * (temporary files removed, nothing reported). */
MbDownloads *mbi_disk_downloads_new (const char *dir, MbChunkRefs *refs);
void mbi_disk_downloads_free (MbDownloads *dl);
/* The store's hooks (MbStoreOps): see download.c. */
gboolean mbi_disk_download_begin (MbStore *s, const char *name, MbStoreDownloadFn done,
                                  gpointer data, GError **error);
void mbi_disk_fetch_begin (MbStore *s, const MbManifest *m);
gboolean mbi_disk_put_fetched (MbStore *s, const MbManifest *m, guint i, GBytes *data,
                               GError **error);
void mbi_disk_download_end (MbStore *s, const char *name, gboolean ok);

/* disk-manifests.c */
void mbi_disk_walk_manifests (DiskStore *d, gboolean remove_tmp, Visit visit, gpointer user);
void mbi_disk_count_manifest (const char *name, gint64 size, gpointer user);
gboolean mbi_disk_put_manifest (MbStore *s, const MbManifest *m, GError **error);
MbManifest *mbi_disk_get_manifest (MbStore *s, const char *name);
gboolean mbi_disk_drop_manifest (MbStore *s, const char *name);
GPtrArray *mbi_disk_list_manifests (MbStore *s);
/* The kept manifests' table (DiskStore.kept). */
GHashTable *mbi_disk_kept_new (void);
