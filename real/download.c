/* download.c — the disk store's downloads: a fetched file written as its
 * chunks come, from its begin to its end through the store interface
 * (MbStoreOps download_begin, fetch_begin, put_fetched, download_end).
 *
 * A download is asked for by name (download_begin) before its fetch
 * starts, and is opened when the fetch knows the manifest (fetch_begin):
 * it is DIR/.tmp-XXXXXX from then on.  At the open, the chunks the store
 * already holds (the fetch will not ask for them) are listed with their
 * files, and a worker thread copies them in at their offsets
 * (copy_file_range when the store has verified the chunk since it opened,
 * else read, hash against the id, write).  Meanwhile every chunk the fetch
 * gets (put_fetched: verified here, not stored twice) is queued to that
 * same worker, which writes it at its offset between two local copies: one
 * writer, so the main thread never waits on the file's lock and goes on
 * receiving.  Past QUEUE_MAX bytes queued the main thread writes a chunk
 * itself (pwrite, disjoint ranges), so memory stays bounded when the disk
 * is slower than the network; a chunk the worker has written is let go at
 * the next put (or the next serve), so the file is never held in memory.  The chunks the fetch got are kept in the
 * file (chunk-refs) from the commit on, when every byte is written.  At
 * download_end, once the worker has written everything, the file is
 * renamed to DIR/NAME — whole or not at all — or removed when the fetch
 * failed or a write did; then the download's `done` is called, once.
 *
 * A download's temporary file left by a killed run is removed when the
 * store next sets its download folder (at start).
 *
 * Invariants: at most one download per name runs (from download_begin to
 * download_end; a second begin is refused with MB_STORE_ERROR_BUSY); a
 * fetch nobody asked a download for puts its chunks into the store as
 * usual; the file's bytes are not hashed as a whole: each chunk was
 * checked against its SHA-256 id (by the store's put, or here).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* copy_file_range */
#endif

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "chunk-refs.h"
#include "content/chunk.h"
#define MB_REAL_DISK_STORE_INTERNAL
#include "disk-store-private.h"

#define QUEUE_MAX (64u << 20) /* bytes of received chunks waiting for the worker */

/* A chunk the fetch got, served to others (the swarm's fetchers, GET_CHUNK)
 * while the download runs: from memory until the worker has written it,
 * then read back from the file (checked against its id the first time). */
typedef struct {
  char id[65];
  guint64 off;
  guint32 len;
  GBytes *mem;       /* main thread: the bytes, until written (then NULL) */
  gint written;      /* atomic: the worker (or the main thread) wrote them */
  gboolean verified; /* main thread: read back and checked once */
} Serve;

typedef struct {
  guint64 off;
  GBytes *data;  /* NULL: the end (finish or abort) */
  Serve *serve;  /* what to mark written (NULL: nothing) */
} Item;

typedef struct {
  char id[65];
  guint64 off;
  guint32 len;
} Got;

typedef struct {
  gchar *path;        /* where the store keeps it */
  guint64 src;        /* its offset there */
  char id[65];
  guint64 offset;     /* in the download */
  guint32 len;
  gboolean verified;
  gboolean rehome;    /* kept inside the file this download replaces */
} Local;

typedef struct {
  gint refs;
  gchar *name, *tmp, *dest;
  int fd;
  guint64 size;
  guint32 chunk_size;
  GMutex lock;
  GError *error;          /* first write error (either thread), under lock */
  Local *locals;          /* the worker's list */
  guint n_locals;
  gboolean opened;        /* its fetch began (fetch_begin) */
  gboolean worker_done;
  gboolean finishing, ok;
  MbStoreDownloadFn done;
  gpointer data;
  GCancellable *cancel;
  MbChunkRefs *refs_db;   /* the store's; NULL once the store is gone */
  MbRefFile *rf;          /* the chunks the fetch got, kept in this file */
  MbDownloads *owner;     /* NULL once the store is gone */
  GAsyncQueue *queue;     /* Item*: main thread -> worker (NULL: no worker) */
  gint queued;            /* bytes in the queue (atomic) */
  gboolean ended;         /* the end item was pushed */
  GArray *got;            /* Got: chunks to refer to at the commit */
  GHashTable *serve;      /* main thread: id -> Serve*, the chunks the fetch got */
  guint8 *covered;        /* main thread: per chunk, 1 once its bytes are the file's
                           * (a local copy listed, or put_fetched written) */
  guint n_chunks;
  GQueue serve_mem;       /* main thread: the Serves still holding mem, oldest first */
} Download;

/* Owned by the disk store (DiskStore.downloads). */

struct _MbDownloads {
  gchar *dir;
  MbChunkRefs *refs;
  GHashTable *by_name;    /* name -> Download* (a reference), begun and not ended */
  GPtrArray *live;        /* every Download not yet completed (references) */
};

static void
serve_free (gpointer p)
{
  Serve *sv = p;
  g_clear_pointer (&sv->mem, g_bytes_unref);
  g_free (sv);
}

static Download *
dl_ref (Download *d)
{
  g_atomic_int_inc (&d->refs);
  return d;
}

static void
dl_unref (Download *d)
{
  if (!g_atomic_int_dec_and_test (&d->refs))
    return;
  if (d->fd >= 0)
    close (d->fd);
  if (d->tmp)
    g_unlink (d->tmp);
  for (guint i = 0; i < d->n_locals; i++)
    g_free (d->locals[i].path);
  g_free (d->locals);
  g_clear_error (&d->error);
  g_clear_object (&d->cancel);
  g_clear_pointer (&d->queue, g_async_queue_unref);
  g_clear_pointer (&d->got, g_array_unref);
  g_queue_clear (&d->serve_mem);
  g_clear_pointer (&d->serve, g_hash_table_unref);
  g_free (d->covered);
  if (d->rf)
    {
      if (d->refs_db)
        mb_chunk_refs_file_abandon (d->refs_db, d->rf);
      else
        g_warning ("download of %s: chunk references leaked", d->name);
    }
  g_mutex_clear (&d->lock);
  g_free (d->name);
  g_free (d->tmp);
  g_free (d->dest);
  g_free (d);
}

/* Records the first error (thread-safe). */
static void
dl_fail (Download *d, GError *e)
{
  g_mutex_lock (&d->lock);
  if (d->error == NULL)
    d->error = e;
  else
    g_error_free (e);
  g_mutex_unlock (&d->lock);
  g_cancellable_cancel (d->cancel);
}

static void
dl_fail_errno (Download *d, const char *path, const char *what, int err)
{
  GError *e = NULL;
  mbi_disk_fail_errno (&e, MB_STORE_ERROR_IO, path, what, err);
  dl_fail (d, e);
}

/* In-kernel copy of a verified chunk; FALSE with errno if that is not
 * possible (the caller then reads and writes). */
static gboolean
copy_range (int in, const Local *l, int out)
{
  loff_t off_in = (loff_t) l->src, off_out = (loff_t) l->offset;
  gsize left = l->len;
  while (left > 0)
    {
      ssize_t n = copy_file_range (in, &off_in, out, &off_out, left, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          if (n == 0)
            errno = EIO; /* the chunk file is shorter than the manifest says */
          return FALSE;
        }
      left -= (gsize) n;
    }
  return TRUE;
}

/* Copies local chunk l into the download: TRUE, or FALSE with d's error set. */
static gboolean
copy_local (Download *d, const Local *l, guint8 *buf)
{
  struct stat st;
  GError *err = NULL;
  int in = mbi_disk_open_regular (l->path, &st, &err);
  if (in < 0)
    {
      dl_fail (d, g_error_new (MB_STORE_ERROR, MB_STORE_ERROR_NOT_FOUND,
                               "chunk at offset %" G_GUINT64_FORMAT " of %s (%.12s) left the "
                               "store during the fetch (%s)", l->offset, d->name, l->id,
                               err->message));
      g_error_free (err);
      return FALSE;
    }
  if (l->verified && copy_range (in, l, d->fd))
    {
      close (in);
      return TRUE;
    }
  gsize got = mbi_disk_pread_all (in, buf, l->len, l->src);
  close (in);
  char actual[65];
  if (got == l->len)
    mb_chunk_id_compute (buf, l->len, actual);
  if (got != l->len || strcmp (actual, l->id) != 0)
    {
      dl_fail (d, g_error_new (MB_STORE_ERROR, MB_STORE_ERROR_IO,
                               "%s: no longer chunk %.12s of %s (disk corruption?)", l->path,
                               l->id, d->name));
      return FALSE;
    }
  if (!mbi_disk_pwrite_all (d->fd, buf, l->len, l->offset))
    {
      dl_fail_errno (d, d->tmp, "cannot write", errno);
      return FALSE;
    }
  return TRUE;
}

/* Writes (or, once failed or cancelled, just drops) a queued chunk; FALSE
 * for the end item. */
static gboolean
write_item (Download *d, Item *it, GCancellable *cancellable)
{
  if (!it->data)
    {
      g_free (it);
      return FALSE;
    }
  gsize len;
  const guint8 *p = g_bytes_get_data (it->data, &len);
  if (!g_cancellable_is_cancelled (cancellable) && !mbi_disk_pwrite_all (d->fd, p, len, it->off))
    dl_fail_errno (d, d->tmp, "cannot write", errno);
  else if (it->serve)
    g_atomic_int_set (&it->serve->written, 1);
  g_atomic_int_add (&d->queued, -(gint) len);
  g_bytes_unref (it->data);
  g_free (it);
  return TRUE;
}

static void
worker (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  (void) source;
  Download *d = data;
  g_autofree guint8 *buf = g_malloc ((gsize) d->chunk_size + 1);
  gboolean end = FALSE;
  Item *it;
  for (guint i = 0; i < d->n_locals; i++)
    {
      while (!end && (it = g_async_queue_try_pop (d->queue)) != NULL)
        end = !write_item (d, it, cancellable);
      if (g_cancellable_is_cancelled (cancellable) || !copy_local (d, &d->locals[i], buf))
        break;
    }
  while (!end)
    end = !write_item (d, g_async_queue_pop (d->queue), cancellable);
  g_task_return_boolean (task, TRUE);
}

/* Tells the worker that nothing more comes. */
static void
end_queue (Download *d)
{
  if (d->queue && !d->ended)
    {
      d->ended = TRUE;
      g_async_queue_push (d->queue, g_new0 (Item, 1));
    }
}

/* Worker done and finish asked: rename or remove, then report. */
static void
complete (MbDownloads *dl, Download *d)
{
  if (!d->refs_db)
    return; /* the store is gone */
  g_autoptr (GError) err = NULL;
  g_mutex_lock (&d->lock);
  if (d->error)
    err = g_error_copy (d->error);
  g_mutex_unlock (&d->lock);
  if (!err && !d->ok)
    err = g_error_new (MB_STORE_ERROR, MB_STORE_ERROR_NOT_FOUND,
                       "the fetch of %s did not get every chunk", d->name);
  if (!err && !d->opened)
    err = g_error_new (MB_STORE_ERROR, MB_STORE_ERROR_NOT_FOUND,
                       "no fetch of %s began", d->name);
  /* The fetch said it got everything: the file must have every chunk's
   * bytes (a chunk neither held at the start nor fetched is a hole). */
  for (guint i = 0; !err && i < d->n_chunks; i++)
    if (!d->covered[i])
      err = g_error_new (MB_STORE_ERROR, MB_STORE_ERROR_NOT_FOUND,
                         "the fetch of %s ended without chunk %u: it was neither held here "
                         "when the fetch began nor fetched (refusing a file with a hole)",
                         d->name, i);
  if (d->fd >= 0 && close (d->fd) != 0 && !err)
    err = g_error_new (MB_STORE_ERROR, MB_STORE_ERROR_IO, "%s: cannot close: %s", d->tmp,
                       g_strerror (errno));
  d->fd = -1;
  if (!err && g_rename (d->tmp, d->dest) != 0)
    err = g_error_new (MB_STORE_ERROR, MB_STORE_ERROR_IO,
                       "%s: cannot rename the temporary file into place: %s", d->dest,
                       g_strerror (errno));
  if (!err)
    {
      g_clear_pointer (&d->tmp, g_free); /* renamed: nothing to remove */
      for (guint i = 0; i < d->got->len; i++)
        {
          const Got *g = &g_array_index (d->got, Got, i);
          if (!mb_chunk_refs_find (d->refs_db, g->id, NULL, NULL, NULL))
            mb_chunk_refs_add (d->refs_db, d->rf, g->id, g->off, g->len);
        }
      /* chunks kept in the file this one replaced now live in this one */
      for (guint i = 0; i < d->n_locals; i++)
        if (d->locals[i].rehome)
          {
            mb_chunk_refs_forget (d->refs_db, d->locals[i].id);
            mb_chunk_refs_add (d->refs_db, d->rf, d->locals[i].id, d->locals[i].offset,
                               d->locals[i].len);
          }
      mb_chunk_refs_file_commit (d->refs_db, d->rf, d->dest);
      d->rf = NULL;
    }
  else
    {
      if (d->tmp)
        g_unlink (d->tmp);
      g_clear_pointer (&d->tmp, g_free);
      if (d->rf)
        mb_chunk_refs_file_abandon (d->refs_db, d->rf);
      d->rf = NULL;
    }
  if (d->done)
    d->done (err ? NULL : d->dest, err ? 0 : d->size, err, d->data);
  if (dl)
    g_ptr_array_remove (dl->live, d);
}

static void
worker_finished (GObject *source, GAsyncResult *res, gpointer data)
{
  (void) source;
  (void) res;
  Download *d = data;
  d->worker_done = TRUE;
  if (d->finishing)
    complete (d->owner, d);
  dl_unref (d);
}

/* A name g_mkstemp gave a download's file: ".tmp-" and six characters. */
static gboolean
is_temp_name (const char *name)
{
  if (!g_str_has_prefix (name, TMP_PREFIX) || strlen (name) != strlen (TMP_PREFIX) + 6)
    return FALSE;
  for (const char *c = name + strlen (TMP_PREFIX); *c; c++)
    if (!g_ascii_isalnum (*c))
      return FALSE;
  return TRUE;
}

/* No download runs yet: a temporary file in dir is one a killed run left
 * (kill -9, a crash) and would otherwise stay forever.  Regular files only. */
static void
remove_stale_temps (const char *dir)
{
  GDir *listing = g_dir_open (dir, 0, NULL);
  if (listing == NULL)
    return; /* not made yet: nothing left in it */
  const char *name;
  while ((name = g_dir_read_name (listing)) != NULL)
    {
      g_autofree gchar *path = g_build_filename (dir, name, NULL);
      GStatBuf st;
      if (is_temp_name (name) && g_lstat (path, &st) == 0 && S_ISREG (st.st_mode))
        {
          if (g_unlink (path) == 0)
            g_message ("%s: removed the temporary file of a fetch that did not finish", path);
          else
            g_warning ("%s: cannot remove a stale temporary file: %s", path, g_strerror (errno));
        }
    }
  g_dir_close (listing);
}

MbDownloads *
mbi_disk_downloads_new (const char *dir, MbChunkRefs *refs)
{
  remove_stale_temps (dir);
  MbDownloads *dl = g_new0 (MbDownloads, 1);
  dl->dir = g_strdup (dir);
  dl->refs = refs;
  dl->by_name = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) dl_unref);
  dl->live = g_ptr_array_new_with_free_func ((GDestroyNotify) dl_unref);
  return dl;
}

void
mbi_disk_downloads_free (MbDownloads *dl)
{
  if (!dl)
    return;
  /* Workers still running finish on their own; nothing reports, and their
   * temporary files go with their last reference. */
  for (guint i = 0; i < dl->live->len; i++)
    {
      Download *d = dl->live->pdata[i];
      g_cancellable_cancel (d->cancel);
      end_queue (d);
      if (d->rf && d->refs_db)
        mb_chunk_refs_file_abandon (d->refs_db, d->rf);
      d->rf = NULL;
      d->refs_db = NULL;
      d->owner = NULL;
      d->done = NULL;
    }
  g_ptr_array_unref (dl->live);
  g_hash_table_unref (dl->by_name);
  g_free (dl->dir);
  g_free (dl);
}


/* ---- the store's hooks ---- */

static MbDownloads *
downloads_of (MbStore *s)
{
  return ((DiskStore *) s)->downloads;
}

gboolean
mbi_disk_download_begin (MbStore *s, const char *name, MbStoreDownloadFn done, gpointer data,
                         GError **error)
{
  MbDownloads *dl = downloads_of (s);
  if (!dl)
    {
      g_set_error (error, MB_STORE_ERROR, MB_STORE_ERROR_INVALID,
                   "cannot download %s: no download folder is set", name);
      return FALSE;
    }
  g_autoptr (GError) unsafe = NULL;
  if (!mb_manifest_name_is_safe (name, &unsafe))
    {
      g_set_error_literal (error, MB_STORE_ERROR, MB_STORE_ERROR_INVALID, unsafe->message);
      return FALSE;
    }
  if (g_hash_table_contains (dl->by_name, name))
    {
      g_set_error (error, MB_STORE_ERROR, MB_STORE_ERROR_BUSY,
                   "a download of %s is already running", name);
      return FALSE;
    }
  Download *d = g_new0 (Download, 1);
  d->refs = 1;
  d->fd = -1;
  g_mutex_init (&d->lock);
  d->cancel = g_cancellable_new ();
  d->name = g_strdup (name);
  d->dest = g_build_filename (dl->dir, name, NULL);
  d->refs_db = dl->refs;
  d->owner = dl;
  d->done = done;
  d->data = data;
  d->worker_done = TRUE; /* until a worker starts */
  d->got = g_array_new (FALSE, FALSE, sizeof (Got));
  d->serve = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, serve_free);
  g_queue_init (&d->serve_mem);
  g_hash_table_insert (dl->by_name, g_strdup (name), d);
  g_ptr_array_add (dl->live, dl_ref (d));
  return TRUE;
}

/* The download's file, sized, and its worker copying the chunks held here;
 * a failure is kept for the end (the fetch's chunks then go to the store). */
static void
open_file (MbDownloads *dl, MbStore *store, Download *d, const MbManifest *m)
{
  d->opened = TRUE;
  d->size = mb_manifest_size (m);
  d->chunk_size = mb_manifest_chunk_size (m);
  if (g_mkdir_with_parents (dl->dir, 0700) != 0)
    {
      dl_fail_errno (d, dl->dir, "cannot make the directory", errno);
      return;
    }
  d->tmp = g_build_filename (dl->dir, ".tmp-XXXXXX", NULL);
  d->fd = g_mkstemp_full (d->tmp, O_RDWR | O_CLOEXEC, 0644);
  if (d->fd < 0)
    {
      dl_fail_errno (d, dl->dir, "cannot create a temporary file", errno);
      g_clear_pointer (&d->tmp, g_free);
      return;
    }
  /* Reserved up front: the disk is known to have room before any chunk
   * comes, and writes into allocated blocks are cheaper (about 20% here). */
  int err = d->size > 0 ? posix_fallocate (d->fd, 0, (off_t) d->size) : 0;
  if (err == EOPNOTSUPP || err == EINVAL)
    err = ftruncate (d->fd, (off_t) d->size) == 0 ? 0 : errno;
  if (err != 0)
    {
      dl_fail_errno (d, d->tmp, err == ENOSPC ? "no room on the disk for the file" : "cannot size",
                     err);
      close (d->fd);
      d->fd = -1;
      return;
    }
  d->rf = mb_chunk_refs_file_new (dl->refs, d->tmp);
  guint n = mb_manifest_n_chunks (m);
  d->n_chunks = n;
  d->covered = g_new0 (guint8, MAX (n, 1));
  d->locals = g_new0 (Local, MAX (n, 1));
  for (guint i = 0; i < n; i++)
    {
      Local *l = &d->locals[d->n_locals];
      const char *id = mb_manifest_chunk_id (m, i);
      l->path = mbi_disk_chunk_location (store, id, &l->src, &l->verified);
      if (!l->path)
        continue; /* the fetch will get it */
      g_strlcpy (l->id, id, sizeof l->id);
      l->offset = (guint64) i * d->chunk_size;
      l->len = mb_manifest_chunk_len (m, i);
      l->rehome = strcmp (l->path, d->dest) == 0;
      d->covered[i] = 1;
      d->n_locals++;
    }
  d->worker_done = FALSE;
  d->queue = g_async_queue_new ();
  GTask *task = g_task_new (NULL, d->cancel, worker_finished, dl_ref (d));
  g_task_set_task_data (task, dl_ref (d), (GDestroyNotify) dl_unref);
  g_task_run_in_thread (task, worker);
  g_object_unref (task);
}

void
mbi_disk_fetch_begin (MbStore *s, const MbManifest *m)
{
  MbDownloads *dl = downloads_of (s);
  Download *d = dl ? g_hash_table_lookup (dl->by_name, mb_manifest_name (m)) : NULL;
  if (d && !d->opened)
    open_file (dl, s, d, m); /* else no download was asked for, or it is open */
}

static void serve_trim (Download *d);

/* Chunk i of m into the download's file: queued to the worker, or written
 * here when the queue is full.  Kept there unless `held` (the store has
 * that chunk already). */
static gboolean
write_chunk (Download *d, const MbManifest *m, guint i, GBytes *data, gboolean held,
             GError **error)
{
  gsize len;
  const guint8 *p = g_bytes_get_data (data, &len);
  guint64 off = (guint64) i * d->chunk_size;
  const char *id = mb_manifest_chunk_id (m, i);
  /* What the worker wrote is let go here too, not only when a chunk is
   * served: else a fetch nobody asks chunks of held every chunk it got in
   * memory until it ended (a whole 1 GiB file). */
  serve_trim (d);
  Serve *sv = g_hash_table_lookup (d->serve, id);
  gboolean fresh = sv == NULL;
  if (fresh)
    {
      sv = g_new0 (Serve, 1);
      g_strlcpy (sv->id, id, sizeof sv->id);
      sv->off = off;
      sv->len = (guint32) len;
    }
  if (d->queue && !d->ended && (gsize) g_atomic_int_get (&d->queued) + len <= QUEUE_MAX)
    {
      Item *it = g_new (Item, 1);
      it->off = off;
      it->data = g_bytes_ref (data);
      it->serve = fresh ? sv : NULL;
      if (fresh)
        {
          sv->mem = g_bytes_ref (data);
          g_queue_push_tail (&d->serve_mem, sv);
        }
      g_atomic_int_add (&d->queued, (gint) len);
      g_async_queue_push (d->queue, it);
    }
  else if (!mbi_disk_pwrite_all (d->fd, p, len, off))
    {
      int err = errno;
      mbi_disk_fail_errno (error, MB_STORE_ERROR_IO, d->tmp, "cannot write", err);
      dl_fail_errno (d, d->tmp, "cannot write", err);
      if (fresh)
        g_free (sv);
      return FALSE;
    }
  else
    g_atomic_int_set (&sv->written, 1);
  if (fresh)
    g_hash_table_insert (d->serve, sv->id, sv);
  if (i < d->n_chunks)
    d->covered[i] = 1;
  if (!held)
    {
      Got g;
      g_strlcpy (g.id, mb_manifest_chunk_id (m, i), sizeof g.id);
      g.off = off;
      g.len = (guint32) len;
      g_array_append_val (d->got, g);
    }
  return TRUE;
}

/* Written once, into the download, and kept there (a chunk-refs entry)
 * unless the store holds that chunk already; without a download open for
 * m, a plain put. */
gboolean
mbi_disk_put_fetched (MbStore *s, const MbManifest *m, guint i, GBytes *data, GError **error)
{
  MbDownloads *dl = downloads_of (s);
  Download *d = dl ? g_hash_table_lookup (dl->by_name, mb_manifest_name (m)) : NULL;
  const char *id = mb_manifest_chunk_id (m, i);
  if (!d || d->fd < 0)
    return mbi_disk_put_chunk (s, id, data, mb_manifest_chunk_len (m, i), error);
  g_return_val_if_fail (d->chunk_size == mb_manifest_chunk_size (m), FALSE);
  char actual[65];
  gsize n;
  const guint8 *p = g_bytes_get_data (data, &n);
  mb_chunk_id_compute (p, n, actual);
  if (strcmp (actual, id) != 0)
    {
      g_set_error (error, MB_STORE_ERROR, MB_STORE_ERROR_INVALID,
                   "chunk %.12s: the bytes given hash to %.12s, not to the id", id, actual);
      return FALSE;
    }
  return write_chunk (d, m, i, data, mbi_disk_has_chunk (s, id), error);
}

void
mbi_disk_download_end (MbStore *s, const char *name, gboolean ok)
{
  MbDownloads *dl = downloads_of (s);
  Download *d = dl ? g_hash_table_lookup (dl->by_name, name) : NULL;
  if (!d)
    return;
  /* Out of the table now (a new download of the name may begin); the live
   * list keeps it until it completes. */
  dl_ref (d);
  g_hash_table_remove (dl->by_name, name);
  d->finishing = TRUE;
  d->ok = ok;
  if (!ok)
    g_cancellable_cancel (d->cancel);
  end_queue (d);
  if (d->worker_done)
    complete (dl, d);
  dl_unref (d);
}

/* ---- serving what a running download got ---- */

/* Drops the memory of chunks the worker has written (it writes in order). */
static void
serve_trim (Download *d)
{
  Serve *sv;
  while ((sv = g_queue_peek_head (&d->serve_mem)) && g_atomic_int_get (&sv->written))
    {
      g_clear_pointer (&sv->mem, g_bytes_unref);
      g_queue_pop_head (&d->serve_mem);
    }
}

/* The running download (file open) that got chunk id, and its entry. */
static Serve *
serve_find (MbStore *s, const char *id, Download **out)
{
  MbDownloads *dl = downloads_of (s);
  for (guint i = 0; dl && i < dl->live->len; i++)
    {
      Download *d = dl->live->pdata[i];
      Serve *sv = d->serve && d->fd >= 0 && !(d->finishing && !d->ok) ? g_hash_table_lookup (d->serve, id)
                                                          : NULL;
      if (sv)
        {
          *out = d;
          return sv;
        }
    }
  return NULL;
}

gboolean
mbi_disk_download_has (MbStore *s, const char *id)
{
  Download *d;
  return serve_find (s, id, &d) != NULL;
}

gboolean
mbi_disk_download_get (MbStore *s, const char *id, GBytes **data, guint32 *len)
{
  Download *d = NULL;
  Serve *sv = serve_find (s, id, &d);
  if (!sv)
    return FALSE;
  serve_trim (d);
  if (len)
    *len = sv->len;
  if (sv->mem)
    {
      if (data)
        *data = g_bytes_ref (sv->mem);
      return TRUE;
    }
  if (!g_atomic_int_get (&sv->written))
    return FALSE;
  guint8 *buf = g_malloc (sv->len);
  if (mbi_disk_pread_all (d->fd, buf, sv->len, sv->off) != sv->len)
    {
      g_free (buf);
      return FALSE;
    }
  if (!sv->verified)
    {
      char actual[65];
      mb_chunk_id_compute (buf, sv->len, actual);
      if (strcmp (actual, sv->id) != 0)
        {
          g_warning ("download of %s: chunk %.12s at offset %" G_GUINT64_FORMAT " no longer "
                     "matches its id in %s (changed on disk?): not served", d->name, sv->id,
                     sv->off, d->tmp);
          g_free (buf);
          return FALSE;
        }
      sv->verified = TRUE;
    }
  if (data)
    *data = g_bytes_new_take (buf, sv->len);
  else
    g_free (buf);
  return TRUE;
}
