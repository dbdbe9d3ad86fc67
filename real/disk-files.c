/* disk-files.c — the disk store's file primitives, shared by disk-store.c,
 * disk-manifests.c and download.c: errors that name the path, sizes of
 * regular files, full pwrites, atomic replacement, directories made and
 * synced, files opened for reading without blocking.
 *
 * Invariants: a replaced file is whole or unchanged (a temporary file in the
 * same directory, renamed over the final name; with `durable`, fsynced
 * first and its directory after, so the change survives a crash); a failed
 * write removes its temporary file; errors are MB_STORE_ERROR_IO and name
 * the path and what failed.
 */
#if !defined _GNU_SOURCE && !defined _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L  /* O_CLOEXEC, O_DIRECTORY under plain -std=c11 */
#endif

#define MB_REAL_DISK_STORE_INTERNAL
#include "disk-store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- small helpers ---- */

gboolean
mbi_disk_fail_errno (GError **error, gint code, const char *path, const char *what, int err)
{
  if (err == ENOSPC || err == EDQUOT)
    code = MB_STORE_ERROR_NO_SPACE;
  g_set_error (error, MB_STORE_ERROR, code, "%s: %s: %s", path, what, g_strerror (err));
  return FALSE;
}

/* Size of the regular file at path, or -1 if there is none. */
gint64
mbi_disk_regular_file_size (const char *path)
{
  GStatBuf st;
  if (g_stat (path, &st) != 0 || !S_ISREG (st.st_mode))
    return -1;
  return (gint64) st.st_size;
}

gint
mbi_disk_cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

void
mbi_disk_collect_key (const char *key, gint64 size, gpointer user)
{
  (void) size;
  g_ptr_array_add (user, g_strdup (key));
}

void
mbi_disk_remove_stale_tmp (const char *path)
{
  if (g_unlink (path) == 0)
    g_debug ("%s: removed a temporary file left by an interrupted write", path);
  else
    g_warning ("%s: cannot remove a stale temporary file: %s", path, g_strerror (errno));
}

/* ---- reading ---- */

int
mbi_disk_open_regular (const char *path, struct stat *st, GError **error)
{
  int fd = g_open (path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      int err = errno;
      mbi_disk_fail_errno (error, err == ENOENT ? MB_STORE_ERROR_NOT_FOUND : MB_STORE_ERROR_IO,
                           path, "cannot open", err);
      return -1;
    }
  if (fstat (fd, st) != 0 || !S_ISREG (st->st_mode))
    {
      int err = errno;
      if (S_ISREG (st->st_mode))
        mbi_disk_fail_errno (error, MB_STORE_ERROR_IO, path, "cannot stat", err);
      else
        g_set_error (error, MB_STORE_ERROR, MB_STORE_ERROR_IO, "%s: not a regular file", path);
      close (fd);
      return -1;
    }
  return fd;
}

gsize
mbi_disk_pread_all (int fd, guint8 *buf, gsize len, guint64 off)
{
  gsize got = 0;
  while (got < len)
    {
      ssize_t n = pread (fd, buf + got, MIN (len - got, (gsize) G_MAXSSIZE), (off_t) (off + got));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      got += (gsize) n;
    }
  return got;
}

/* ---- atomic writes ---- */

gboolean
mbi_disk_pwrite_all (int fd, const guint8 *data, gsize len, guint64 off)
{
  while (len > 0)
    {
      ssize_t n = pwrite (fd, data, MIN (len, (gsize) G_MAXSSIZE), (off_t) off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          if (n == 0)
            errno = EIO;
          return FALSE;
        }
      data += n;
      len -= (gsize) n;
      off += (guint64) n;
    }
  return TRUE;
}

/* fsyncs a directory, so that a rename in it survives a crash. */
static gboolean
sync_dir (const char *dir, GError **error)
{
  int fd = g_open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0)
    return mbi_disk_fail_errno (error, MB_STORE_ERROR_IO, dir, "cannot open the directory to sync it", errno);
  int failed = g_fsync (fd) != 0 && errno != EINVAL && errno != ENOTSUP;
  int err = errno;
  close (fd);
  if (failed)
    return mbi_disk_fail_errno (error, MB_STORE_ERROR_IO, dir, "cannot sync the directory", err);
  return TRUE;
}

/* After a rename the data is in place; a failed directory sync only puts its
 * durability across a power loss in doubt, so it is a warning, not a failure
 * (which would claim that nothing changed). */
void
mbi_disk_sync_dir_or_warn (const char *dir)
{
  GError *err = NULL;
  if (!sync_dir (dir, &err))
    {
      g_warning ("%s", err->message);
      g_error_free (err);
    }
}

/* Writes data to a new temporary file in dir (fsynced if durable); its path
 * in *tmp_path. */
static gboolean
write_temp (const char *dir, const guint8 *data, gsize len, gboolean durable, gchar **tmp_path,
            GError **error)
{
  gchar *tmp = g_build_filename (dir, TMP_PREFIX "XXXXXX", NULL);
  int fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, FILE_MODE);
  if (fd < 0)
    {
      mbi_disk_fail_errno (error, MB_STORE_ERROR_IO, dir, "cannot create a temporary file", errno);
      g_free (tmp);
      return FALSE;
    }
  const char *what = NULL;
  if (!mbi_disk_pwrite_all (fd, data, len, 0))
    what = "cannot write";
  else if (durable && g_fsync (fd) != 0)
    what = "cannot sync";
  int err = errno;
  if (close (fd) != 0 && what == NULL)
    {
      what = "cannot close";
      err = errno;
    }
  if (what != NULL)
    {
      mbi_disk_fail_errno (error, MB_STORE_ERROR_IO, tmp, what, err);
      g_unlink (tmp);
      g_free (tmp);
      return FALSE;
    }
  *tmp_path = tmp;
  return TRUE;
}

/* Replaces path (in dir) by data: whole or not at all; with `durable`, also
 * across a crash. */
gboolean
mbi_disk_write_atomically (const char *dir, const char *path, const guint8 *data, gsize len,
                           gboolean durable, GError **error)
{
  gchar *tmp = NULL;
  if (!write_temp (dir, data, len, durable, &tmp, error))
    return FALSE;
  if (g_rename (tmp, path) != 0)
    {
      mbi_disk_fail_errno (error, MB_STORE_ERROR_IO, path,
                  "cannot rename the temporary file into place", errno);
      g_unlink (tmp);
      g_free (tmp);
      return FALSE;
    }
  g_free (tmp);
  if (durable)
    mbi_disk_sync_dir_or_warn (dir);
  return TRUE;
}

/* ---- directories ---- */

/* Creates dir (and its parents) if missing; it must be a writable directory. */
gboolean
mbi_disk_prepare_dir (const char *dir, GError **error)
{
  GStatBuf st;
  if (g_stat (dir, &st) == 0 && !S_ISDIR (st.st_mode))
    {
      g_set_error (error, MB_STORE_ERROR, MB_STORE_ERROR_IO,
                   "%s: exists and is not a directory", dir);
      return FALSE;
    }
  if (g_mkdir_with_parents (dir, DIR_MODE) != 0)
    return mbi_disk_fail_errno (error, MB_STORE_ERROR_IO, dir, "cannot create the directory", errno);
  if (g_access (dir, W_OK | X_OK) != 0)
    return mbi_disk_fail_errno (error, MB_STORE_ERROR_IO, dir, "directory is not writable", errno);
  return TRUE;
}
