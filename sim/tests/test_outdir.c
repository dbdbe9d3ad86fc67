/* test_outdir.c — the output folder is checked before a run: a file in its
 * place, a file among its parents and an empty name are refused (naming the
 * folder), a missing folder is made (or, without create, only checked),
 * and the write probe leaves nothing behind. */
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "outdir.h"

static gchar *tmp;

static gchar *
in_tmp (const char *rel)
{
  return g_build_filename (tmp, rel, NULL);
}

static guint
entries (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  guint n = 0;
  while (g_dir_read_name (d))
    n++;
  return n;
}

static void
test_outdir_refuses_a_file (void)
{
  g_autofree gchar *file = in_tmp ("a-file");
  g_assert_true (g_file_set_contents (file, "x", 1, NULL));
  for (int create = 0; create < 2; create++)
    {
      g_autoptr (GError) err = NULL;
      g_assert_false (mb_outdir_prepare (file, create, &err));
      g_assert_error (err, G_FILE_ERROR, G_FILE_ERROR_NOTDIR);
      g_assert_nonnull (strstr (err->message, file));
      g_assert_nonnull (strstr (err->message, "a file is there, not a folder"));
    }
  g_autofree gchar *under = in_tmp ("a-file/run/seed-1");
  for (int create = 0; create < 2; create++)
    {
      g_autoptr (GError) err = NULL;
      g_assert_false (mb_outdir_prepare (under, create, &err));
      g_assert_nonnull (strstr (err->message, under));
      g_assert_nonnull (strstr (err->message, "cannot create it"));
    }
  g_autoptr (GError) err = NULL;
  g_assert_false (mb_outdir_prepare ("", TRUE, &err));
  g_assert_nonnull (err);
  g_unlink (file);
}

static void
test_outdir_makes_a_missing_folder (void)
{
  g_autofree gchar *dir = in_tmp ("new/run/seed-1");
  g_autoptr (GError) err = NULL;
  /* without create: checked, not made */
  g_assert_true (mb_outdir_prepare (dir, FALSE, &err));
  g_assert_no_error (err);
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (entries (tmp), ==, 0); /* the probe went */
  g_assert_true (mb_outdir_prepare (dir, TRUE, &err));
  g_assert_no_error (err);
  g_assert_true (g_file_test (dir, G_FILE_TEST_IS_DIR));
  g_assert_cmpuint (entries (dir), ==, 0);
  /* an existing folder, with a file in it: accepted, the file left alone */
  g_autofree gchar *kept = g_build_filename (dir, "notes.txt", NULL);
  g_assert_true (g_file_set_contents (kept, "mine", -1, NULL));
  g_assert_true (mb_outdir_prepare (dir, TRUE, &err));
  g_assert_cmpuint (entries (dir), ==, 1);
  g_unlink (kept);
  g_rmdir (dir);
  g_autofree gchar *run = in_tmp ("new/run");
  g_autofree gchar *top = in_tmp ("new");
  g_rmdir (run);
  g_rmdir (top);
}

static void
test_outdir_refuses_a_folder_it_cannot_write (void)
{
  if (geteuid () == 0)
    {
      g_test_skip ("root writes in a read-only folder");
      return;
    }
  g_autofree gchar *dir = in_tmp ("locked");
  g_assert_cmpint (g_mkdir (dir, 0555), ==, 0);
  g_autoptr (GError) err = NULL;
  g_assert_false (mb_outdir_prepare (dir, TRUE, &err));
  g_assert_nonnull (strstr (err->message, "cannot write in it"));
  g_clear_error (&err);
  g_autofree gchar *below = g_build_filename (dir, "run", NULL);
  g_assert_false (mb_outdir_prepare (below, TRUE, &err));
  g_assert_nonnull (strstr (err->message, "cannot create it"));
  g_clear_error (&err);
  g_assert_false (mb_outdir_prepare (below, FALSE, &err));
  g_assert_nonnull (strstr (err->message, "cannot create it"));
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  tmp = g_dir_make_tmp ("minibit-outdir-XXXXXX", NULL);
  g_test_add_func ("/outdir/refuses-a-file", test_outdir_refuses_a_file);
  g_test_add_func ("/outdir/makes-a-missing-folder", test_outdir_makes_a_missing_folder);
  g_test_add_func ("/outdir/refuses-a-folder-it-cannot-write",
                   test_outdir_refuses_a_folder_it_cannot_write);
  int rc = g_test_run ();
  g_rmdir (tmp);
  g_free (tmp);
  return rc;
}
