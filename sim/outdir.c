/* outdir.c — see outdir.h. */
#include "outdir.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <unistd.h>

static gboolean
fail (GError **error, int err, const char *dir, const char *what, const char *detail)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (err), "output folder %s: %s%s%s",
               dir, what, detail ? ": " : "", detail ? detail : "");
  return FALSE;
}

/* Makes and removes a temporary file in `folder`; errno on failure. */
static int
try_write (const char *folder)
{
  g_autofree gchar *probe = g_build_filename (folder, ".minibit-sim-probe-XXXXXX", NULL);
  int fd = g_mkstemp (probe);
  if (fd < 0)
    return errno ? errno : EACCES;
  close (fd);
  g_unlink (probe);
  return 0;
}

/* The nearest folder at or above `dir` that exists (free it), or NULL with
 * *not_dir set when the nearest thing that exists is not a folder. */
static gchar *
nearest_existing (const char *dir, gchar **not_dir)
{
  g_autofree gchar *p = g_strdup (dir);
  for (guint depth = 0; depth < 4096; depth++)
    {
      if (g_file_test (p, G_FILE_TEST_IS_DIR))
        return g_steal_pointer (&p);
      if (g_file_test (p, G_FILE_TEST_EXISTS))
        {
          *not_dir = g_steal_pointer (&p);
          return NULL;
        }
      gchar *up = g_path_get_dirname (p);
      gboolean top = g_strcmp0 (up, p) == 0;
      g_free (p);
      p = up;
      if (top)
        break;
    }
  return NULL;
}

gboolean
mb_outdir_prepare (const char *dir, gboolean create, GError **error)
{
  if (dir == NULL || *dir == '\0')
    return fail (error, ENOENT, "\"\"", "an empty name", NULL);
  if (g_file_test (dir, G_FILE_TEST_EXISTS) && !g_file_test (dir, G_FILE_TEST_IS_DIR))
    return fail (error, ENOTDIR, dir, "a file is there, not a folder", NULL);
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      if (create)
        {
          if (g_mkdir_with_parents (dir, 0755) != 0)
            {
              int e = errno;
              return fail (error, e, dir, "cannot create it", g_strerror (e));
            }
        }
      else
        {
          g_autofree gchar *not_dir = NULL;
          g_autofree gchar *parent = nearest_existing (dir, &not_dir);
          if (!parent)
            {
              g_autofree gchar *why = g_strdup_printf ("%s is a file, not a folder",
                                                       not_dir ? not_dir : "a parent");
              return fail (error, ENOTDIR, dir, "cannot create it", why);
            }
          int e = try_write (parent);
          if (e != 0)
            {
              g_autofree gchar *why = g_strdup_printf ("%s: %s", parent, g_strerror (e));
              return fail (error, e, dir, "cannot create it", why);
            }
          return TRUE;
        }
    }
  int e = try_write (dir);
  if (e != 0)
    return fail (error, e, dir, "cannot write in it", g_strerror (e));
  return TRUE;
}
