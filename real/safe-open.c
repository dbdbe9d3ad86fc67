/* safe-open.c — a file named by a request, opened once and safely.
 *
 * store_file used to check a path with realpath() and open it by name
 * later: swapping a folder for a symbolic link to /etc in between stored
 * /etc/passwd.  It mapped the file, so truncating it during the store
 * killed the peer with SIGBUS, and it opened a FIFO with a blocking open,
 * which froze the whole peer until someone wrote to it.  Here:
 *
 *  - the path is taken lexically ("." and ".." folded, relative paths under
 *    the first root) and matched against the roots, each as given and as
 *    its realpath (a root's own path may go through symbolic links: that
 *    is the operator's choice);
 *  - the folders beneath the root are opened from the root's descriptor
 *    with openat2 (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), or, where the
 *    kernel or a sandbox lacks it, one openat (O_NOFOLLOW) per component:
 *    no symbolic link is followed below the root, and nothing resolves
 *    outside it;
 *  - the last component is looked at without following it, then opened
 *    O_NOFOLLOW | O_NONBLOCK | O_NOCTTY (a FIFO swapped in meanwhile opens at
 *    once) and checked on the descriptor: a regular file or nothing;
 *  - the bytes are read with pread into memory, never mapped: a file cut
 *    short during the read is an error, not a signal, and the bytes handed
 *    on cannot change afterwards.
 *
 * Invariants: every descriptor opened here is closed on every path but the
 * one returned; the descriptor returned is a regular file's, reached from a
 * root through folders only; errors name the path and what it is.
 */
#include "safe-open.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/openat2.h>
#include <sys/syscall.h>
#endif

G_DEFINE_QUARK (mb-safe-open-error-quark, mb_safe_open_error)

static int
fail (GError **error, gint code, const char *path, const char *what)
{
  g_set_error (error, MB_SAFE_OPEN_ERROR, code, "%s: %s", path, what);
  return -1;
}

static int
fail_errno (GError **error, const char *path, const char *what, int err)
{
  gint code = err == ENOENT ? MB_SAFE_OPEN_ERROR_NOT_FOUND
              : err == EACCES || err == EPERM ? MB_SAFE_OPEN_ERROR_DENIED
              : err == ELOOP ? MB_SAFE_OPEN_ERROR_SYMLINK
              : err == ENOTDIR ? MB_SAFE_OPEN_ERROR_NOT_REGULAR
              : err == EXDEV ? MB_SAFE_OPEN_ERROR_OUTSIDE : MB_SAFE_OPEN_ERROR_IO;
  g_autofree gchar *msg = g_strdup_printf ("%s: %s", what,
                                           err == ELOOP ? "a symbolic link is in the way"
                                                        : g_strerror (err));
  return fail (error, code, path, msg);
}

static const char *
kind_of (mode_t m)
{
  return S_ISFIFO (m) ? "is a FIFO (named pipe), not a regular file"
         : S_ISCHR (m) ? "is a character device, not a regular file"
         : S_ISBLK (m) ? "is a block device, not a regular file"
         : S_ISDIR (m) ? "is a directory, not a regular file"
         : S_ISSOCK (m) ? "is a socket, not a regular file"
         : S_ISLNK (m) ? "is a symbolic link: links are not followed"
                       : "is not a regular file";
}

/* ---- where: the root and the path beneath it ---- */

/* The part of canon beneath root (canonical), or NULL. */
static const char *
beneath (const char *canon, const char *root)
{
  gsize n = strlen (root);
  if (n == 1 && root[0] == '/')
    return canon + 1;
  if (strncmp (canon, root, n) == 0 && (canon[n] == '/' || canon[n] == '\0'))
    return canon[n] == '/' ? canon + n + 1 : canon + n;
  return NULL;
}

/* The root (its form that matched) and the relative path beneath it. */
static gboolean
find_root (const char *const *roots, const char *canon, gchar **root_out, const char **rel)
{
  for (guint i = 0; roots[i]; i++)
    {
      g_autofree gchar *lexical = g_canonicalize_filename (roots[i], NULL);
      g_autofree gchar *real = realpath (roots[i], NULL);
      const char *forms[] = { lexical, real };
      for (guint k = 0; k < G_N_ELEMENTS (forms); k++)
        if (forms[k] && (*rel = beneath (canon, forms[k])) != NULL)
          {
            *root_out = g_strdup (forms[k]);
            return TRUE;
          }
    }
  return FALSE;
}

/* ---- the folders beneath the root ---- */

#if defined __linux__ && defined SYS_openat2
static int
open_beneath_openat2 (int root, const char *dir)
{
  struct open_how how = { 0 };
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return (int) syscall (SYS_openat2, root, dir, &how, sizeof how);
}
#else
static int
open_beneath_openat2 (int root, const char *dir)
{
  errno = ENOSYS;
  return -1;
}
#endif

/* One component at a time, no link followed; -1 with errno, *bad the
 * component at fault (ELOOP if it is a symbolic link). */
static int
open_beneath_walk (int root, const char *dir, gchar **bad)
{
  int fd = dup (root);
  if (fd < 0)
    return -1;
  g_auto (GStrv) parts = g_strsplit (dir, "/", -1);
  for (guint i = 0; parts[i] && fd >= 0; i++)
    {
      const char *c = parts[i];
      if (c[0] == '\0' || strcmp (c, ".") == 0)
        continue;
      int next = strcmp (c, "..") == 0 ? (errno = EXDEV, -1)
                 : openat (fd, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      int err = errno;
      if (next < 0)
        {
          struct stat st;
          if (err == ENOTDIR && fstatat (fd, c, &st, AT_SYMLINK_NOFOLLOW) == 0
              && S_ISLNK (st.st_mode))
            err = ELOOP;
          *bad = g_strdup (c);
        }
      close (fd);
      fd = next;
      errno = err;
    }
  return fd;
}

/* The folder dir beneath root, opened O_PATH. */
static int
open_dir (int root, const char *dir, MbSafeOpenMode mode, const char *canon, GError **error)
{
  if (dir[0] == '\0')
    return dup (root);
  int fd = -1;
  if (mode == MB_SAFE_OPEN_AUTO)
    {
      fd = open_beneath_openat2 (root, dir);
      if (fd >= 0)
        return fd;
      if (errno != ENOSYS && errno != EPERM && errno != E2BIG)
        {
          int err = errno;
          if (err == ELOOP)
            return fail (error, MB_SAFE_OPEN_ERROR_SYMLINK, canon,
                         "a folder on its way is a symbolic link: links are not followed");
          if (err == ENOTDIR)
            return fail (error, MB_SAFE_OPEN_ERROR_NOT_REGULAR, canon,
                         "a component on its way is not a directory");
          return fail_errno (error, canon, "cannot open its folder", err);
        }
    }
  g_autofree gchar *bad = NULL;
  fd = open_beneath_walk (root, dir, &bad);
  if (fd >= 0)
    return fd;
  int err = errno;
  g_autofree gchar *what = NULL;
  if (err == ELOOP)
    return fail (error, MB_SAFE_OPEN_ERROR_SYMLINK, canon,
                 (what = g_strdup_printf ("the folder \"%s\" on its way is a symbolic link: "
                                          "links are not followed", bad ? bad : "?")));
  if (err == ENOTDIR)
    return fail (error, MB_SAFE_OPEN_ERROR_NOT_REGULAR, canon,
                 (what = g_strdup_printf ("\"%s\" on its way is not a directory",
                                          bad ? bad : "?")));
  return fail_errno (error, canon, "cannot open its folder", err);
}

/* ---- the file ---- */

int
mb_safe_open_beneath (const char *const *roots, const char *path, MbSafeOpenMode mode,
                      struct stat *st, gchar **opened, GError **error)
{
  g_return_val_if_fail (roots != NULL && roots[0] != NULL && path != NULL, -1);
  g_autofree gchar *base = g_canonicalize_filename (roots[0], NULL);
  g_autofree gchar *canon = g_canonicalize_filename (path, base);
  g_autofree gchar *root_path = NULL;
  const char *rel = NULL;
  if (!find_root (roots, canon, &root_path, &rel))
    return fail (error, MB_SAFE_OPEN_ERROR_OUTSIDE, canon,
                 "is outside the folders files may be stored from");
  if (rel[0] == '\0')
    return fail (error, MB_SAFE_OPEN_ERROR_NOT_REGULAR, canon, kind_of (S_IFDIR));
  int root = open (root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    return fail_errno (error, root_path, "cannot open the folder", errno);
  const char *slash = strrchr (rel, '/');
  g_autofree gchar *dir = slash ? g_strndup (rel, (gsize) (slash - rel)) : g_strdup ("");
  const char *leaf = slash ? slash + 1 : rel;
  int dfd = open_dir (root, dir, mode, canon, error);
  close (root);
  if (dfd < 0)
    return -1;
  /* Looked at first, so that a device or a FIFO is not even opened... */
  struct stat pre;
  int fd = -1;
  if (fstatat (dfd, leaf, &pre, AT_SYMLINK_NOFOLLOW) != 0)
    fail_errno (error, canon, "cannot look at it", errno);
  else if (!S_ISREG (pre.st_mode))
    fail (error, S_ISLNK (pre.st_mode) ? MB_SAFE_OPEN_ERROR_SYMLINK
                                       : MB_SAFE_OPEN_ERROR_NOT_REGULAR, canon,
          kind_of (pre.st_mode));
  /* ...and checked again on the descriptor: it may have been swapped. */
  else if ((fd = openat (dfd, leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC))
           < 0)
    fail_errno (error, canon, "cannot open it", errno);
  else if (fstat (fd, st) != 0)
    {
      fail_errno (error, canon, "cannot stat it", errno);
      close (fd);
      fd = -1;
    }
  else if (!S_ISREG (st->st_mode))
    {
      fail (error, MB_SAFE_OPEN_ERROR_NOT_REGULAR, canon, kind_of (st->st_mode));
      close (fd);
      fd = -1;
    }
  close (dfd);
  if (fd >= 0 && opened)
    *opened = g_strdup (canon);
  return fd;
}

GBytes *
mb_safe_read_all (int fd, const struct stat *st, const char *name, GError **error)
{
  if ((guint64) st->st_size > G_MAXSIZE)
    {
      fail (error, MB_SAFE_OPEN_ERROR_NO_MEMORY, name, "is too large to read here");
      return NULL;
    }
  gsize size = (gsize) st->st_size;
  guint8 *buf = size > 0 ? g_try_malloc (size) : NULL;
  if (size > 0 && buf == NULL)
    {
      g_autofree gchar *what = g_strdup_printf ("no memory to read its %" G_GSIZE_FORMAT
                                                " bytes", size);
      fail (error, MB_SAFE_OPEN_ERROR_NO_MEMORY, name, what);
      return NULL;
    }
  gsize got = 0;
  while (got < size)
    {
      ssize_t n = pread (fd, buf + got, MIN (size - got, (gsize) 1 << 30), (off_t) got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          fail_errno (error, name, "cannot read it", errno);
          g_free (buf);
          return NULL;
        }
      if (n == 0)
        break;
      got += (gsize) n;
    }
  guint8 extra;
  struct stat after;
  const char *why = NULL;
  if (got < size)
    why = "it shrank while it was read";
  else if (pread (fd, &extra, 1, (off_t) size) > 0)
    why = "it grew while it was read";
  else if (fstat (fd, &after) != 0 || after.st_size != st->st_size
           || after.st_mtim.tv_sec != st->st_mtim.tv_sec
           || after.st_mtim.tv_nsec != st->st_mtim.tv_nsec)
    why = "it was written to while it was read";
  if (why)
    {
      g_autofree gchar *what = g_strdup_printf ("%s (%" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
                                                " bytes read); nothing was stored", why, got,
                                                size);
      fail (error, MB_SAFE_OPEN_ERROR_CHANGED, name, what);
      g_free (buf);
      return NULL;
    }
  return g_bytes_new_take (buf, size);
}
