/* test-util.h — small helpers shared by the real-mode tests. */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* Removes path and everything below it (making folders writable first).
 * A symbolic link is removed, never followed: a tree holding a link to a
 * system folder must not take that folder's contents with it. */
static inline void
mb_test_remove_tree (const char *path)
{
  GStatBuf st;
  if (g_lstat (path, &st) != 0)
    return;
  if (!S_ISDIR (st.st_mode))
    {
      g_unlink (path);
      return;
    }
  GDir *dir = g_dir_open (path, 0, NULL);
  if (dir != NULL)
    {
      g_chmod (path, 0700);
      const char *name;
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree gchar *child = g_build_filename (path, name, NULL);
          mb_test_remove_tree (child);
        }
      g_dir_close (dir);
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

/* Fills the file system holding path (a file it creates, no link
 * followed) with writes of 64 KiB, then of 1 byte: TRUE once one failed
 * with ENOSPC; FALSE if it could not open the file or wrote max_mib MiB
 * without filling it (bounded: a test's tmpfs, never a real disk). */
static inline gboolean
mb_test_fill_disk (const char *path, guint max_mib)
{
  int fd = g_open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return FALSE;
  static char block[64 * 1024];
  gboolean full = FALSE;
  for (guint i = 0; i < max_mib * 16 && !full; i++)
    {
      ssize_t n = write (fd, block, sizeof block);
      full = n < 0 && errno == ENOSPC;
      if (n < 0 && !full)
        break;
    }
  for (guint i = 0; i < 4096 && full; i++)
    if (write (fd, block, 1) < 0)
      break;
  close (fd);
  return full;
}
