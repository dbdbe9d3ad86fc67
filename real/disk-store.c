/* disk-store.c — the store interface on disk, for the real peer: chunks by
 * id and manifests by name, as files under DATA_DIR.  This file has the
 * chunks, the sharing of stored files and the store's life; manifests are
 * disk-manifests.c's, downloads download.c's, file primitives disk-files.c's
 * (they share disk-store-private.h).
 *
 * Layout:
 *   DATA_DIR/chunks/<first 2 hex>/<64-hex id>  a chunk's bytes
 *   DATA_DIR/chunks/.corrupt-<id>              a chunk that failed its hash
 *   DATA_DIR/manifests/<name>.json             a manifest (mb_manifest_to_json)
 *   DATA_DIR/manifests/.corrupt-<file>         a manifest that failed to parse
 *   .tmp-XXXXXX, next to a final name          a write in progress
 * A manifest's file name is its name with '%' written "%25" and a leading
 * '.' written "%2E" (so no manifest file is a dot-file, and the mapping is
 * one to one), plus ".json".  Names too long for that (over 255 bytes in
 * all) are refused.  Directories are made 0700, files 0600.
 *
 * Invariants:
 *  - a file under a final name is whole: a write goes to a temporary file in
 *    the same directory and is renamed over the final name.  Manifests are
 *    also fsynced (file, then directory), so a stored manifest survives a
 *    crash.  Chunks are not: they are content-addressed and verified on
 *    their first read after the store is opened, so a chunk a crash tore or
 *    lost is absent (and moved aside), never served — the ring's repair
 *    brings copies back — and a store of many chunks does not wait on the
 *    disk for each.  A chunk this store wrote, or already verified, is not
 *    hashed again while it stays open and its file is the same (inode, size
 *    and mtime unchanged): a tear needs a crash, hence a reopen, and every
 *    receiver verifies what it gets anyway;  A crash leaves at most a
 *    .tmp- file, which is never listed and is removed at the next open;
 *  - dot-files are never data: listings skip them, and anything that is not
 *    a regular file named by a valid id (in its prefix folder) or by the
 *    canonical file name of a safe manifest name;
 *  - a chunk is served only if its bytes hash to its id: one that no longer
 *    does is moved aside and from then on is absent.  A put refuses bytes
 *    that do not hash to the id, and virtual (byte-less) chunks;
 *  - a manifest read is parsed only when its file changed since the last
 *    read or write (disk-manifests.c keeps the last one parsed per name,
 *    frozen, with its file's identity; 65,536 chunks of them at most);
 *  - ids and names from callers are checked before they become paths;
 *  - a failed put leaves what was stored unchanged;
 *  - the counters in MbStore match the files (a scan at open, then every
 *    put, drop and set-aside), as long as nothing else writes DATA_DIR (a
 *    file resized behind the store's back is only recounted at reopen).
 * Drops are not fsynced: after a crash a dropped file may come back, whole.
 */
#if !defined _GNU_SOURCE && !defined _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L  /* O_CLOEXEC, O_DIRECTORY under plain -std=c11 */
#endif

#include "disk-store.h"
#define MB_REAL_DISK_STORE_INTERNAL
#include "disk-store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunk-refs.h"
#include "content/chunk.h"
#include "content/manifest.h"


/* A file store_file is sharing: puts of slices of its bytes become refs. */
typedef struct {
  GBytes *content;
  gchar *path;
  MbRefFile *rf;
} Source;

static void
source_free (gpointer p)
{
  Source *src = p;
  g_bytes_unref (src->content);
  g_free (src->path);
  g_free (src);
}

/* Which file a verified chunk was: a file replaced, resized or written to
 * since (other inode, size or mtime) is hashed again. */
typedef struct {
  guint64 dev, ino;
  gint64 size, mtime_ns;
} FileId;

static void
file_id_of (const struct stat *st, FileId *f)
{
  f->dev = (guint64) st->st_dev;
  f->ino = (guint64) st->st_ino;
  f->size = (gint64) st->st_size;
  f->mtime_ns = (gint64) st->st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000) + st->st_mtim.tv_nsec;
}

static void
remember_verified (DiskStore *d, const char *id, const char *path, const struct stat *known)
{
  struct stat st;
  if (known == NULL && stat (path, &st) != 0)
    {
      g_hash_table_remove (d->verified, id);
      return;
    }
  FileId *f = g_new (FileId, 1);
  file_id_of (known ? known : &st, f);
  g_hash_table_replace (d->verified, g_strdup (id), f);
}

static gboolean
still_verified (DiskStore *d, const char *id, const struct stat *st)
{
  const FileId *f = g_hash_table_lookup (d->verified, id);
  if (f == NULL)
    return FALSE;
  FileId now;
  file_id_of (st, &now);
  return memcmp (f, &now, sizeof now) == 0;
}


/* ---- directories ---- */

/* Makes a chunk prefix folder if it is missing (and syncs its parent). */
static gboolean
ensure_prefix_dir (DiskStore *d, const char *dir, GError **error)
{
  if (g_mkdir (dir, DIR_MODE) == 0)
    {
      mbi_disk_sync_dir_or_warn (d->chunks_dir);
      return TRUE;
    }
  int err = errno;
  if (err == EEXIST && g_file_test (dir, G_FILE_TEST_IS_DIR))
    return TRUE;
  if (err == EEXIST)
    err = ENOTDIR;
  return mbi_disk_fail_errno (error, MB_STORE_ERROR_IO, dir, "cannot create the directory", err);
}

/* ---- chunks ---- */

static gchar *
chunk_dir_path (DiskStore *d, const char *id)
{
  char prefix[3] = { id[0], id[1], '\0' };
  return g_build_filename (d->chunks_dir, prefix, NULL);
}

static gchar *
chunk_path (DiskStore *d, const char *id)
{
  g_autofree gchar *dir = chunk_dir_path (d, id);
  return g_build_filename (dir, id, NULL);
}

/* TRUE if data hashes to id; the hash it has in actual. */
static gboolean
content_matches (const char *id, GBytes *data, char actual[65])
{
  gsize n = 0;
  const guint8 *p = g_bytes_get_data (data, &n);
  mb_chunk_id_compute (p, n, actual);
  return strcmp (actual, id) == 0;
}

static gboolean
is_prefix_name (const char *name)
{
  for (int i = 0; i < 2; i++)
    if (!g_ascii_isdigit (name[i]) && !(name[i] >= 'a' && name[i] <= 'f'))
      return FALSE;
  return name[2] == '\0';
}

static void
walk_prefix_dir (DiskStore *d, const char *prefix, gboolean remove_tmp,
                 Visit visit, gpointer user)
{
  g_autofree gchar *dir = g_build_filename (d->chunks_dir, prefix, NULL);
  GDir *listing = g_dir_open (dir, 0, NULL);
  if (listing == NULL)
    return;
  const char *name;
  while ((name = g_dir_read_name (listing)) != NULL)
    {
      g_autofree gchar *path = g_build_filename (dir, name, NULL);
      if (remove_tmp && g_str_has_prefix (name, TMP_PREFIX))
        {
          mbi_disk_remove_stale_tmp (path);
          continue;
        }
      if (!mb_chunk_id_is_valid (name) || strncmp (name, prefix, 2) != 0)
        continue;
      gint64 size = mbi_disk_regular_file_size (path);
      if (size >= 0)
        visit (name, size, user);
    }
  g_dir_close (listing);
}

/* Visits every chunk file; at open, also removes stale temporary files. */
static void
walk_chunks (DiskStore *d, gboolean remove_tmp, Visit visit, gpointer user)
{
  GError *err = NULL;
  GDir *listing = g_dir_open (d->chunks_dir, 0, &err);
  if (listing == NULL)
    {
      g_warning ("%s: cannot list chunks: %s", d->chunks_dir, err->message);
      g_error_free (err);
      return;
    }
  const char *prefix;
  while ((prefix = g_dir_read_name (listing)) != NULL)
    if (is_prefix_name (prefix))
      walk_prefix_dir (d, prefix, remove_tmp, visit, user);
  g_dir_close (listing);
}

static void
count_chunk (const char *id, gint64 size, gpointer user)
{
  (void) id;
  MbStore *s = user;
  s->n_chunks++;
  s->chunk_bytes += (guint64) size;
}

/* Takes a chunk of size bytes off the counters.  A file changed behind the
 * store's back (truncated) may be smaller than when it was counted: never
 * wrap below zero. */
static void
uncount_chunk (MbStore *s, guint64 size)
{
  if (s->n_chunks > 0)
    s->n_chunks--;
  s->chunk_bytes -= MIN (size, s->chunk_bytes);
}

static gboolean
refuse_bad_id (const char *id, GError **error)
{
  g_set_error (error, MB_STORE_ERROR, MB_STORE_ERROR_NOT_FOUND,
               "no chunk \"%.64s\" here: not a chunk id", id ? id : "(null)");
  return FALSE;
}

/* The shared file data is a slice of, and the slice's offset, if any. */
static Source *
source_of (DiskStore *d, GBytes *data, guint64 *off)
{
  gsize n;
  const guint8 *p = g_bytes_get_data (data, &n);
  for (guint i = 0; d->sources && i < d->sources->len; i++)
    {
      Source *src = d->sources->pdata[i];
      gsize size;
      const guint8 *base = g_bytes_get_data (src->content, &size);
      if (p >= base && n <= size && (gsize) (p - base) <= size - n)
        {
          *off = (guint64) (p - base);
          return src;
        }
    }
  return NULL;
}

static gboolean has_chunk_file (MbStore *s, const char *id);

gboolean
mbi_disk_put_chunk (MbStore *s, const char *id, GBytes *data, guint32 len, GError **error)
{
  DiskStore *d = (DiskStore *) s;
  char actual[65];
  guint64 src_off = 0;
  Source *src = data ? source_of (d, data, &src_off) : NULL;
  if (src && content_matches (id, data, actual))
    {
      /* a copy store_file keeps here: it stays in the shared file */
      if (!has_chunk_file (s, id) && mb_chunk_refs_add (d->refs, src->rf, id, src_off, len))
        remember_verified (d, id, src->path, NULL);
      return TRUE;
    }
  if (data == NULL)
    {
      g_set_error (error, MB_STORE_ERROR, MB_STORE_ERROR_INVALID,
                   "chunk %.12s: the disk store holds bytes; a virtual chunk "
                   "(%u bytes, no data) cannot be stored", id, len);
      return FALSE;
    }
  if (!content_matches (id, data, actual))
    {
      g_set_error (error, MB_STORE_ERROR, MB_STORE_ERROR_INVALID,
                   "chunk %.12s: the bytes given hash to %.12s, not to the id", id, actual);
      return FALSE;
    }
  g_autofree gchar *dir = chunk_dir_path (d, id);
  g_autofree gchar *path = g_build_filename (dir, id, NULL);
  if (!ensure_prefix_dir (d, dir, error))
    return FALSE;
  gint64 old = mbi_disk_regular_file_size (path);
  if (!mbi_disk_write_atomically (dir, path, g_bytes_get_data (data, NULL), len, FALSE, error))
    return FALSE;
  if (old >= 0)
    uncount_chunk (s, (guint64) old);
  s->n_chunks++;
  s->chunk_bytes += len;
  remember_verified (d, id, path, NULL);
  mb_chunk_refs_forget (d->refs, id); /* the file is the copy now */
  return TRUE;
}

/* Reads the chunk file at path (NOT_FOUND if it is missing) with pread,
 * never mapped: a file cut short meanwhile gives fewer bytes (which then
 * fail their hash), not a SIGBUS.  One longer than any chunk is not read:
 * NULL with *too_long set (and *st filled). */
static GBytes *
read_chunk_file (const char *path, const char *id, struct stat *st, gboolean *too_long,
                 GError **error)
{
  GError *local = NULL;
  int fd = mbi_disk_open_regular (path, st, &local);
  if (fd < 0)
    {
      if (g_error_matches (local, MB_STORE_ERROR, MB_STORE_ERROR_NOT_FOUND))
        {
          g_set_error (error, MB_STORE_ERROR, MB_STORE_ERROR_NOT_FOUND,
                       "no chunk %.12s here (%s)", id, path);
          g_error_free (local);
        }
      else
        g_propagate_error (error, local);
      return NULL;
    }
  if ((guint64) st->st_size > G_MAXUINT32)
    {
      close (fd);
      *too_long = TRUE;
      return NULL;
    }
  gsize size = (gsize) st->st_size;
  guint8 *buf = g_malloc (MAX (size, 1));
  gsize got = mbi_disk_pread_all (fd, buf, size, 0);
  close (fd);
  return g_bytes_new_take (buf, got);
}

/* Moves a chunk whose bytes no longer match its id out of the way (or, failing
 * that, deletes it), so it is never served again; the error says so. */
static void
set_chunk_aside (DiskStore *d, const char *id, const char *path, gsize size,
                 const char *why, GError **error)
{
  g_autofree gchar *aside_name = g_strconcat (CORRUPT_PREFIX, id, NULL);
  g_autofree gchar *aside = g_build_filename (d->chunks_dir, aside_name, NULL);
  gboolean moved = g_rename (path, aside) == 0;
  int err = errno;
  gboolean gone = moved || g_unlink (path) == 0;
  g_hash_table_remove (d->verified, id);
  if (gone)
    uncount_chunk (&d->base, size);
  if (moved)
    g_set_error (error, MB_STORE_ERROR, MB_STORE_ERROR_IO,
                 "%s: %s (disk corruption); moved aside to %s", path, why, aside);
  else
    g_set_error (error, MB_STORE_ERROR, MB_STORE_ERROR_IO,
                 "%s: %s (disk corruption); cannot move it aside (%s), %s",
                 path, why, g_strerror (err), gone ? "deleted it" : "nor delete it");
}

static gboolean has_live_ref (DiskStore *d, const char *id);

/* A get's result: the bytes (taken) into *data if asked for, their length. */
static gboolean
hand_out (GBytes *bytes, GBytes **data, guint32 *len)
{
  if (len)
    *len = (guint32) g_bytes_get_size (bytes);
  if (data)
    *data = bytes;
  else
    g_bytes_unref (bytes);
  return TRUE;
}

/* A chunk kept inside a fetched file: read its range, verified unless known
 * good; one that no longer is (the file changed) is forgotten. */
static gboolean
get_ref_chunk (DiskStore *d, const char *id, GBytes **data, guint32 *len, GError **error)
{
  const char *rpath;
  guint64 off;
  guint32 rlen;
  mb_chunk_refs_find (d->refs, id, &rpath, &off, &rlen);
  g_autofree gchar *path = g_strdup (rpath);
  struct stat st;
  int fd = mbi_disk_open_regular (path, &st, NULL);
  const char *why = NULL;
  guint8 *buf = g_malloc (MAX (rlen, 1));
  if (fd < 0)
    why = "cannot be opened as a regular file";
  else if (mbi_disk_pread_all (fd, buf, rlen, off) != rlen)
    why = "is shorter than the chunk's range";
  if (fd >= 0)
    close (fd);
  GBytes *bytes = g_bytes_new_take (buf, rlen);
  char actual[65];
  if (why == NULL && !still_verified (d, id, &st))
    {
      if (!content_matches (id, bytes, actual))
        why = "no longer holds the chunk's bytes";
      else
        remember_verified (d, id, path, &st);
    }
  if (why != NULL)
    {
      g_bytes_unref (bytes);
      g_hash_table_remove (d->verified, id);
      mb_chunk_refs_forget (d->refs, id);
      g_set_error (error, MB_STORE_ERROR, MB_STORE_ERROR_IO,
                   "%s %s (chunk %.12s at offset %" G_GUINT64_FORMAT "); the chunk is no "
                   "longer held here", path, why, id, off);
      return FALSE;
    }
  return hand_out (bytes, data, len);
}

static gboolean
disk_get_chunk (MbStore *s, const char *id, GBytes **data, guint32 *len, GError **error)
{
  DiskStore *d = (DiskStore *) s;
  if (!mb_chunk_id_is_valid (id))
    return refuse_bad_id (id, error);
  g_autofree gchar *path = chunk_path (d, id);
  if (mbi_disk_regular_file_size (path) < 0 && has_live_ref (d, id))
    return get_ref_chunk (d, id, data, len, error);
  if (mbi_disk_regular_file_size (path) < 0 && mbi_disk_download_get (s, id, data, len))
    return TRUE; /* a running download got it */
  struct stat st;
  gboolean too_long = FALSE;
  GBytes *bytes = read_chunk_file (path, id, &st, &too_long, error);
  if (bytes == NULL && !too_long)
    return FALSE;
  gsize size = too_long ? (gsize) st.st_size : g_bytes_get_size (bytes);
  char actual[65];
  const char *why = NULL;
  if (too_long)
    why = "longer than any chunk";
  else if (still_verified (d, id, &st))
    ;
  else if (!content_matches (id, bytes, actual))
    why = "content no longer matches its id";
  else
    remember_verified (d, id, path, &st);
  if (why != NULL)
    {
      if (bytes)
        g_bytes_unref (bytes);
      set_chunk_aside (d, id, path, size, why, error);
      return FALSE;
    }
  return hand_out (bytes, data, len);
}

static gboolean
has_chunk_file (MbStore *s, const char *id)
{
  if (!mb_chunk_id_is_valid (id))
    return FALSE;
  g_autofree gchar *path = chunk_path ((DiskStore *) s, id);
  return mbi_disk_regular_file_size (path) >= 0;
}

/* A chunk kept in a file that is still there (a deleted file's chunks are
 * forgotten, all at once, when this finds it gone). */
static gboolean
has_live_ref (DiskStore *d, const char *id)
{
  const char *path;
  if (!mb_chunk_refs_find (d->refs, id, &path, NULL, NULL))
    return FALSE;
  GStatBuf st;
  if (g_stat (path, &st) == 0)
    return TRUE;
  g_autofree gchar *gone = g_strdup (path);
  mb_chunk_refs_forget_path (d->refs, gone);
  return FALSE;
}

gboolean
mbi_disk_has_chunk (MbStore *s, const char *id)
{
  return has_chunk_file (s, id) || has_live_ref ((DiskStore *) s, id);
}

/* The store's has_chunk: its own chunks, and those a running download got
 * (served before the download commits them). */
static gboolean
disk_has_chunk (MbStore *s, const char *id)
{
  return mbi_disk_has_chunk (s, id) || mbi_disk_download_has (s, id);
}

static gboolean
disk_drop_chunk (MbStore *s, const char *id)
{
  if (!mb_chunk_id_is_valid (id))
    return FALSE;
  g_autofree gchar *path = chunk_path ((DiskStore *) s, id);
  gint64 size = mbi_disk_regular_file_size (path);
  g_hash_table_remove (((DiskStore *) s)->verified, id);
  if (size < 0)
    return mb_chunk_refs_forget (((DiskStore *) s)->refs, id);
  if (g_unlink (path) != 0)
    {
      g_warning ("%s: cannot delete: %s", path, g_strerror (errno));
      return FALSE;
    }
  uncount_chunk (s, (guint64) size);
  return TRUE;
}

static GPtrArray *
disk_list_chunks (MbStore *s)
{
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  walk_chunks ((DiskStore *) s, FALSE, mbi_disk_collect_key, ids);
  mb_chunk_refs_list (((DiskStore *) s)->refs, ids);
  g_ptr_array_sort (ids, mbi_disk_cmp_str);
  /* a ref and a file of one id never coexist; drop a duplicate all the same */
  for (guint i = 1; i < ids->len;)
    if (strcmp (ids->pdata[i], ids->pdata[i - 1]) == 0)
      g_ptr_array_remove_index (ids, i);
    else
      i++;
  return ids;
}

/* ---- lifetime ---- */

static void
disk_free (MbStore *s)
{
  DiskStore *d = (DiskStore *) s;
  g_free (d->root);
  g_free (d->chunks_dir);
  g_free (d->manifests_dir);
  g_clear_pointer (&d->verified, g_hash_table_unref);
  g_clear_pointer (&d->kept, g_hash_table_unref);
  g_clear_pointer (&d->downloads, mbi_disk_downloads_free);
  g_clear_pointer (&d->sources, g_ptr_array_unref);
  g_clear_pointer (&d->refs, mb_chunk_refs_free);
  g_free (d);
}

/* ---- sharing: store_file's copies stay in the file ---- */

static void
disk_share_begin (MbStore *s, const char *path, GBytes *content)
{
  DiskStore *d = (DiskStore *) s;
  g_return_if_fail (g_path_is_absolute (path));
  if (strchr (path, '\n') != NULL)
    return; /* no index line can name it: the copies go into chunks/ */
  Source *src = g_new0 (Source, 1);
  src->content = g_bytes_ref (content);
  src->path = g_strdup (path);
  src->rf = mb_chunk_refs_source (d->refs, path);
  g_ptr_array_add (d->sources, src);
}

static void
disk_share_end (MbStore *s, GBytes *content)
{
  DiskStore *d = (DiskStore *) s;
  for (guint i = 0; i < d->sources->len; i++)
    {
      Source *src = d->sources->pdata[i];
      if (src->content == content)
        {
          mb_chunk_refs_file_save (d->refs, src->rf);
          g_ptr_array_remove_index (d->sources, i);
          return;
        }
    }
}

static const MbStoreOps disk_ops = {
  .put_chunk = mbi_disk_put_chunk,
  .get_chunk = disk_get_chunk,
  .has_chunk = disk_has_chunk,
  .drop_chunk = disk_drop_chunk,
  .list_chunks = disk_list_chunks,
  .put_manifest = mbi_disk_put_manifest,
  .get_manifest = mbi_disk_get_manifest,
  .drop_manifest = mbi_disk_drop_manifest,
  .list_manifests = mbi_disk_list_manifests,
  .free = disk_free,
  .fetch_begin = mbi_disk_fetch_begin,
  .put_fetched = mbi_disk_put_fetched,
  .download_begin = mbi_disk_download_begin,
  .download_end = mbi_disk_download_end,
  .share_begin = disk_share_begin,
  .share_end = disk_share_end,
};

MbStore *
mb_store_disk_new (const char *data_dir, GError **error)
{
  if (data_dir == NULL || data_dir[0] == '\0')
    {
      g_set_error (error, MB_STORE_ERROR, MB_STORE_ERROR_INVALID,
                   "no data directory given (empty path)");
      return NULL;
    }
  if (!mbi_disk_prepare_dir (data_dir, error))
    return NULL;
  DiskStore *d = g_new0 (DiskStore, 1);
  d->base.ops = &disk_ops;
  d->base.verifies_puts = TRUE;
  d->verified = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  d->kept = mbi_disk_kept_new ();
  d->root = g_strdup (data_dir);
  d->chunks_dir = g_build_filename (data_dir, "chunks", NULL);
  d->manifests_dir = g_build_filename (data_dir, "manifests", NULL);
  if (!mbi_disk_prepare_dir (d->chunks_dir, error) || !mbi_disk_prepare_dir (d->manifests_dir, error))
    {
      disk_free (&d->base);
      return NULL;
    }
  walk_chunks (d, TRUE, count_chunk, &d->base);
  mbi_disk_walk_manifests (d, TRUE, mbi_disk_count_manifest, &d->base);
  g_autofree gchar *refs_dir = g_build_filename (data_dir, "refs", NULL);
  d->refs = mb_chunk_refs_new (&d->base, refs_dir, has_chunk_file);
  d->sources = g_ptr_array_new_with_free_func (source_free);
  return &d->base;
}

gchar *
mbi_disk_chunk_location (MbStore *s, const char *id, guint64 *offset, gboolean *verified)
{
  DiskStore *d = (DiskStore *) s;
  g_return_val_if_fail (s->ops == &disk_ops, NULL);
  if (!mb_chunk_id_is_valid (id))
    return NULL;
  gchar *path = chunk_path (d, id);
  guint64 off = 0;
  if (mbi_disk_regular_file_size (path) < 0)
    {
      const char *rpath;
      g_free (path);
      if (!has_live_ref (d, id) || !mb_chunk_refs_find (d->refs, id, &rpath, &off, NULL))
        return NULL;
      path = g_strdup (rpath);
    }
  struct stat st;
  if (verified)
    *verified = stat (path, &st) == 0 && still_verified (d, id, &st);
  if (offset)
    *offset = off;
  return path;
}

void
mb_store_disk_set_download_dir (MbStore *s, const char *dir)
{
  DiskStore *d = (DiskStore *) s;
  g_return_if_fail (s->ops == &disk_ops);
  g_clear_pointer (&d->downloads, mbi_disk_downloads_free);
  if (dir)
    d->downloads = mbi_disk_downloads_new (dir, d->refs);
}
