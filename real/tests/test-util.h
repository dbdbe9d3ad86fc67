/* test-util.h — small helpers shared by the real-mode tests. */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>

/* Removes path and everything below it (making folders writable first).
 * A symbolic link is removed, never followed: a test that plants a link to
 * /etc must not have its cleanup empty /etc. */
static inline void
mb_test_remove_tree (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_SYMLINK))
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
