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

/* ---- waiting on the default main context (bounded) ---- */

static inline gboolean
mb_test_tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Runs the default main context until cond holds or ms pass; then asserts it. */
#define WAIT_FOR(cond, ms)                                                  \
  G_STMT_START {                                                            \
    gint64 wait_deadline_ = g_get_monotonic_time () + (gint64) (ms) * 1000; \
    guint wait_tick_ = g_timeout_add (5, mb_test_tick, NULL);               \
    while (!(cond) && g_get_monotonic_time () < wait_deadline_)             \
      g_main_context_iteration (NULL, TRUE);                                \
    g_source_remove (wait_tick_);                                           \
    g_assert_true (cond);                                                   \
  } G_STMT_END

/* Runs the default main context for ms whatever happens. */
static inline void
mb_test_spin (guint ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) ms * 1000;
  guint tick = g_timeout_add (5, mb_test_tick, NULL);
  while (g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
}
