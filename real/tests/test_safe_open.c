/* test_safe_open.c — safe-open.h on a small tree, with openat2 (when the
 * kernel has it) and with the O_NOFOLLOW walk forced: the same answers
 * either way.  Regular files beneath a root open (relative, absolute, under
 * the root's realpath, with "." and ".." folded); links anywhere beneath a
 * root, FIFOs, devices, folders, missing files and paths outside are
 * refused with their own code; pread reads the file and notices a change.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safe-open.h"
#include "test-util.h"

typedef struct {
  gchar *tmp, *root, *share, *alias;
} Tree;

static void
tree_make (Tree *t)
{
  t->tmp = g_dir_make_tmp ("minibit-safe-open-XXXXXX", NULL);
  g_assert_nonnull (t->tmp);
  t->root = g_build_filename (t->tmp, "root", NULL);
  t->share = g_build_filename (t->tmp, "share", NULL);
  t->alias = g_build_filename (t->tmp, "alias", NULL);  /* a link to root */
  g_assert_cmpint (g_mkdir (t->root, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (t->share, 0700), ==, 0);
  g_assert_cmpint (symlink ("root", t->alias), ==, 0);
  const char *dirs[] = { "sub", "sub/deep", NULL };
  for (guint i = 0; dirs[i]; i++)
    {
      g_autofree gchar *p = g_build_filename (t->root, dirs[i], NULL);
      g_assert_cmpint (g_mkdir (p, 0700), ==, 0);
    }
  const char *files[] = { "a.txt", "sub/b.txt", "sub/deep/c.txt", NULL };
  for (guint i = 0; files[i]; i++)
    {
      g_autofree gchar *p = g_build_filename (t->root, files[i], NULL);
      g_assert_true (g_file_set_contents (p, files[i], -1, NULL));
    }
  g_autofree gchar *s = g_build_filename (t->share, "s.txt", NULL);
  g_assert_true (g_file_set_contents (s, "shared", -1, NULL));
  /* (links only to this tree: an absolute one to the share folder stands
   * for a link to /etc) */
  struct { const char *target, *at; } links[] = {
    { "a.txt", "link.txt" }, { "sub", "sublink" }, { t->share, "etc" },
    { "../share/s.txt", "out.txt" }, { NULL, NULL },
  };
  for (guint i = 0; links[i].at; i++)
    {
      g_autofree gchar *p = g_build_filename (t->root, links[i].at, NULL);
      g_assert_cmpint (symlink (links[i].target, p), ==, 0);
    }
  g_autofree gchar *fifo = g_build_filename (t->root, "fifo", NULL);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
}

static void
tree_free (Tree *t)
{
  mb_test_remove_tree (t->tmp);
  g_free (t->tmp);
  g_free (t->root);
  g_free (t->share);
  g_free (t->alias);
}

typedef struct {
  const char *path;  /* "R/" is replaced by the root, "S/" by the share, "A/" by the alias */
  gint code;         /* -1: opens */
  const char *content;
} Case;

static const Case cases[] = {
  { "a.txt", -1, "a.txt" },
  { "sub/b.txt", -1, "sub/b.txt" },
  { "./sub/./deep/../b.txt", -1, "sub/b.txt" },
  { "R/sub/deep/c.txt", -1, "sub/deep/c.txt" },
  { "S/s.txt", -1, "shared" },
  { "link.txt", MB_SAFE_OPEN_ERROR_SYMLINK, NULL },
  { "sublink/b.txt", MB_SAFE_OPEN_ERROR_SYMLINK, NULL },
  { "etc/s.txt", MB_SAFE_OPEN_ERROR_SYMLINK, NULL },
  { "out.txt", MB_SAFE_OPEN_ERROR_SYMLINK, NULL },
  { "fifo", MB_SAFE_OPEN_ERROR_NOT_REGULAR, NULL },
  { "sub", MB_SAFE_OPEN_ERROR_NOT_REGULAR, NULL },
  { "R/", MB_SAFE_OPEN_ERROR_NOT_REGULAR, NULL },
  { "a.txt/x", MB_SAFE_OPEN_ERROR_NOT_REGULAR, NULL },
  { "missing", MB_SAFE_OPEN_ERROR_NOT_FOUND, NULL },
  { "sub/missing/x", MB_SAFE_OPEN_ERROR_NOT_FOUND, NULL },
  { "../share/s.txt", -1, "shared" },    /* lexically inside the share root */
  { "../../etc/passwd", MB_SAFE_OPEN_ERROR_OUTSIDE, NULL },
  { "/etc/passwd", MB_SAFE_OPEN_ERROR_OUTSIDE, NULL },
  { "R-not/x", MB_SAFE_OPEN_ERROR_OUTSIDE, NULL },
};

static gchar *
expand (const Tree *t, const char *p)
{
  if (g_str_has_prefix (p, "R/"))
    return g_build_filename (t->root, p + 2, NULL);
  if (g_str_has_prefix (p, "S/"))
    return g_build_filename (t->share, p + 2, NULL);
  if (g_str_has_prefix (p, "A/"))
    return g_build_filename (t->alias, p + 2, NULL);
  if (g_str_has_prefix (p, "R-not/"))
    return g_strconcat (t->root, "-not/", p + 6, NULL);
  return g_strdup (p);
}

static void
run_cases (MbSafeOpenMode mode)
{
  Tree t;
  tree_make (&t);
  const char *roots[] = { t.root, t.share, NULL };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree gchar *path = expand (&t, cases[i].path);
      g_autoptr (GError) err = NULL;
      g_autofree gchar *opened = NULL;
      struct stat st;
      int fd = mb_safe_open_beneath (roots, path, mode, &st, &opened, &err);
      g_test_message ("%s: %s", path, err ? err->message : opened);
      if (cases[i].code < 0)
        {
          g_assert_no_error (err);
          g_assert_cmpint (fd, >=, 0);
          g_assert_true (S_ISREG (st.st_mode));
          g_autoptr (GBytes) b = mb_safe_read_all (fd, &st, opened, &err);
          g_assert_no_error (err);
          g_assert_cmpmem (g_bytes_get_data (b, NULL), g_bytes_get_size (b), cases[i].content,
                           strlen (cases[i].content));
          g_assert_true (g_path_is_absolute (opened));
          close (fd);
        }
      else
        {
          g_assert_cmpint (fd, ==, -1);
          g_assert_error (err, MB_SAFE_OPEN_ERROR, cases[i].code);
          g_assert_null (opened);
        }
    }
  tree_free (&t);
}

static void
test_openat2 (void)
{
  run_cases (MB_SAFE_OPEN_AUTO);
}

static void
test_walk (void)
{
  run_cases (MB_SAFE_OPEN_WALK);
}

/* A root configured through a link: a path under either name opens. */
static void
test_root_alias (void)
{
  Tree t;
  tree_make (&t);
  const char *roots[] = { t.alias, NULL };
  const char *paths[] = { "R/a.txt", "A/a.txt", "a.txt" };
  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autofree gchar *path = expand (&t, paths[i]);
      g_autoptr (GError) err = NULL;
      struct stat st;
      int fd = mb_safe_open_beneath (roots, path, MB_SAFE_OPEN_AUTO, &st, NULL, &err);
      g_assert_no_error (err);
      close (fd);
    }
  tree_free (&t);
}

static void
test_changed (void)
{
  Tree t;
  tree_make (&t);
  const char *roots[] = { t.root, NULL };
  struct stat st;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *opened = NULL;
  int fd = mb_safe_open_beneath (roots, "sub/b.txt", MB_SAFE_OPEN_AUTO, &st, &opened, &err);
  g_assert_cmpint (fd, >=, 0);
  /* shorter, longer, and the same size rewritten after the open */
  g_assert_cmpint (truncate (opened, 3), ==, 0);
  g_assert_null (mb_safe_read_all (fd, &st, opened, &err));
  g_assert_error (err, MB_SAFE_OPEN_ERROR, MB_SAFE_OPEN_ERROR_CHANGED);
  g_assert_nonnull (strstr (err->message, "shrank"));
  g_clear_error (&err);
  g_assert_cmpint (truncate (opened, 100), ==, 0);
  g_assert_null (mb_safe_read_all (fd, &st, opened, &err));
  g_assert_error (err, MB_SAFE_OPEN_ERROR, MB_SAFE_OPEN_ERROR_CHANGED);
  g_clear_error (&err);
  close (fd);
  fd = mb_safe_open_beneath (roots, "a.txt", MB_SAFE_OPEN_AUTO, &st, NULL, &err);
  g_assert_cmpint (fd, >=, 0);
  struct timespec later[2] = { { 0, UTIME_OMIT }, { st.st_mtim.tv_sec + 5, 0 } };
  g_autofree gchar *a = g_build_filename (t.root, "a.txt", NULL);
  g_assert_cmpint (utimensat (AT_FDCWD, a, later, 0), ==, 0);
  g_assert_null (mb_safe_read_all (fd, &st, "a.txt", &err));
  g_assert_error (err, MB_SAFE_OPEN_ERROR, MB_SAFE_OPEN_ERROR_CHANGED);
  close (fd);
  tree_free (&t);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/safe-open/openat2", test_openat2);
  g_test_add_func ("/safe-open/walk", test_walk);
  g_test_add_func ("/safe-open/root-alias", test_root_alias);
  g_test_add_func ("/safe-open/changed", test_changed);
  return g_test_run ();
}
