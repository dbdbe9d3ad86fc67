/* test_store_file.c — store_file's source opened once, safely, one peer
 * alone on its ring (solo-fixture.h), a fresh one per test:
 *
 *  /store-file/symlink-race    a thread keeps swapping DATA_DIR/race (a
 *                              folder holding a decoy "passwd") for a
 *                              symbolic link to a folder outside while store_file
 *                              race/passwd runs 200 times: only the decoy
 *                              is ever stored, the outside file never.
 *  /store-file/truncate        the source (64 MiB) truncated 0-150 ms into
 *                              store_file, 12 times: the peer lives and
 *                              answers an error, or a manifest whose chunks
 *                              are exactly the file's.
 *  /store-file/special-files   a FIFO (in DATA_DIR and in a share dir), a
 *                              folder, a symbolic link, a device: 400 at
 *                              once, naming what it is; a stored file
 *                              swapped for a FIFO: get_chunk answers at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "content/chunk.h"
#include "solo-fixture.h"
#include "test-util.h"

#define MIB ((gsize) 1 << 20)

#define RUN(name, body)                                   \
  static void name (void)                                 \
  {                                                       \
    Solo *s = mb_solo_new ();                             \
    if (s == NULL)                                        \
      return;                                             \
    gboolean ok = body (s);                               \
    mb_solo_free (s, !ok || g_test_failed ());            \
  }

static Reply *
store_file (Solo *s, const char *filename)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "filename");
  json_builder_add_string_value (b, filename);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree gchar *body = json_to_string (root, FALSE);
  return mb_solo_http (s, "POST", "/store_file", body, -1, NULL);
}

static gboolean
alive (Solo *s)
{
  g_autoptr (Reply) r = mb_solo_http (s, "GET", "/ping", NULL, 0, NULL);
  CHECKF (mb_solo_alive (s) && r->status == 200, "the peer no longer answers /ping (%s)",
          r->error ? r->error : "exited");
  return TRUE;
}

/* The SHA-256 of a whole small file as a chunk id (NULL if unreadable). */
static gchar *
file_chunk_id (const char *path, gsize *size)
{
  g_autofree gchar *text = NULL;
  if (!g_file_get_contents (path, &text, size, NULL))
    return NULL;
  char id[65];
  mb_chunk_id_compute ((const guint8 *) text, *size, id);
  return g_strdup (id);
}

/* ---- /store-file/symlink-race ---- */

typedef struct {
  gchar *dir, *real, *target;
  gint stop;
  guint flips;
} Flipper;

static gpointer
flip (gpointer data)
{
  Flipper *f = data;
  while (!g_atomic_int_get (&f->stop))
    {
      if (g_rename (f->dir, f->real) != 0)
        break;
      if (symlink (f->target, f->dir) != 0)
        break;
      g_thread_yield ();
      g_unlink (f->dir);
      if (g_rename (f->real, f->dir) != 0)
        break;
      f->flips++;
      g_thread_yield ();
    }
  return NULL;
}

static gboolean
run_symlink_race (Solo *s)
{
  /* The link points at a folder outside the allowed tree that this test
   * makes and removes itself (never at a system folder: a cleanup that
   * followed the link would take its contents with it). */
  g_autofree gchar *outside = g_dir_make_tmp ("mb-outside-XXXXXX", NULL);
  g_assert_nonnull (outside);
  g_autofree gchar *secret = g_build_filename (outside, "passwd", NULL);
  g_assert_true (g_file_set_contents (secret, "root:x:0:0:not to be shared\n", -1, NULL));
  gsize etc_size = 0;
  g_autofree gchar *etc_id = file_chunk_id (secret, &etc_size);
  g_assert_nonnull (etc_id);
  Flipper f = { 0 };
  f.dir = g_build_filename (s->data_dir, "race", NULL);
  f.real = g_build_filename (s->data_dir, "race-real", NULL);
  f.target = g_strdup (outside);
  g_mkdir (f.dir, 0700);
  g_autofree gchar *decoy = g_build_filename (f.dir, "passwd", NULL);
  gsize decoy_size = etc_size + 17;
  gboolean ok = mb_solo_write_file (decoy, decoy_size, 5)
                && mb_solo_start (s, NULL, NULL, NULL, NULL);
  guint stored = 0, refused = 0, tries = 200;
  gboolean bad_answer = FALSE;
  g_autofree gchar *why = NULL;
  if (ok)
    {
      GThread *t = g_thread_new ("flip", flip, &f);
      for (guint i = 0; i < tries && !bad_answer; i++)
        {
          g_autoptr (Reply) r = store_file (s, "race/passwd");
          if (r->status == 200 && mb_int (r, "size") == (gint64) decoy_size)
            stored++;
          else if ((r->status == 400 || r->status == 403 || r->status == 404)
                   && g_strcmp0 (mb_str (r, "status"), "error") == 0)
            refused++;
          else
            {
              bad_answer = TRUE;
              why = mb_body_text (r);
            }
        }
      g_atomic_int_set (&f.stop, 1);
      g_thread_join (t);
    }
  g_test_message ("%u tries, %u flips: %u stored the decoy, %u refused", tries, f.flips,
                  stored, refused);
  /* leave race as a folder whatever the flipper was doing */
  if (g_file_test (f.real, G_FILE_TEST_IS_DIR))
    {
      g_unlink (f.dir);
      g_rename (f.real, f.dir);
    }
  g_free (f.dir);
  g_free (f.real);
  g_free (f.target);
  mb_test_remove_tree (outside);
  CHECK (ok);
  CHECKF (!bad_answer, "an answer that is neither the decoy nor a refusal: %s", why);
  g_autofree gchar *path = g_strconcat ("/get_chunk/", etc_id, NULL);
  g_autoptr (Reply) r = mb_solo_http (s, "GET", path, NULL, 0, NULL);
  CHECKF (r->status == 404, "the file outside was stored (GET /get_chunk of its id: %u)", r->status);
  return alive (s);
}
RUN (test_symlink_race, run_symlink_race)

/* ---- /store-file/truncate ---- */

typedef struct {
  gchar *path;
  guint delay_us;
} Truncator;

static gpointer
truncate_later (gpointer data)
{
  Truncator *t = data;
  g_usleep (t->delay_us);
  if (truncate (t->path, 0) != 0)
    g_test_message ("truncate %s: %s", t->path, g_strerror (errno));
  return NULL;
}

/* The chunk ids of a file of `size` bytes from mb_solo_write_file (seed). */
static GPtrArray *
chunk_ids_of (gsize size, guint32 seed, gsize chunk)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  guint32 *buf = g_malloc (size + 4);
  for (gsize i = 0; i < (size + 3) / 4; i++)
    buf[i] = g_rand_int (rand);
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  for (gsize off = 0; off < size; off += chunk)
    {
      char id[65];
      mb_chunk_id_compute ((const guint8 *) buf + off, MIN (chunk, size - off), id);
      g_ptr_array_add (ids, g_strdup (id));
    }
  g_free (buf);
  return ids;
}

static gboolean
manifest_is (Solo *s, const char *name, GPtrArray *ids)
{
  g_autofree gchar *path = g_strconcat ("/get_manifest/", name, NULL);
  g_autoptr (Reply) r = mb_solo_http (s, "GET", path, NULL, 0, NULL);
  CHECKF (r->status == 200, "GET %s: %u", path, r->status);
  gsize n;
  const char *d = g_bytes_get_data (r->body, &n);
  g_autoptr (MbManifest) m = mb_manifest_from_json (d, (gssize) n, NULL);
  CHECKF (m != NULL && mb_manifest_n_chunks (m) == ids->len, "manifest of %s: %u chunks, "
          "want %u", name, m ? mb_manifest_n_chunks (m) : 0, ids->len);
  for (guint i = 0; i < ids->len; i++)
    CHECKF (strcmp (mb_manifest_chunk_id (m, i), ids->pdata[i]) == 0,
            "chunk %u of %s is not the file's", i, name);
  return TRUE;
}

static gboolean
run_truncate (Solo *s)
{
  if (!mb_solo_start (s, NULL, NULL, NULL, NULL))
    return FALSE;
  gsize size = 64 * MIB;
  g_autoptr (GPtrArray) ids = chunk_ids_of (size, 9, 256 * 1024);
  g_autoptr (GRand) rand = g_rand_new_with_seed (12);
  guint whole = 0, empty = 0, errors = 0;
  for (guint round = 0; round < 12; round++)
    {
      g_autofree gchar *name = g_strdup_printf ("big-%u.bin", round);
      Truncator t = { g_build_filename (s->data_dir, name, NULL), 0 };
      CHECK (mb_solo_write_file (t.path, size, 9));
      t.delay_us = (guint) g_rand_int_range (rand, 0, 150000);
      GThread *th = g_thread_new ("truncate", truncate_later, &t);
      g_autoptr (Reply) r = store_file (s, name);
      g_thread_join (th);
      g_free (t.path);
      g_autofree gchar *text = mb_body_text (r);
      g_test_message ("round %u, truncated after %u us: %s", round, t.delay_us, text);
      CHECKF (mb_solo_alive (s), "the peer died storing a file truncated under it: %s", text);
      if (r->status == 200 && mb_int (r, "size") == (gint64) size)
        {
          whole++;
          if (!manifest_is (s, name, ids))
            return FALSE;
        }
      else if (r->status == 200 && mb_int (r, "size") == 0)
        empty++;
      else
        {
          CHECKF (r->status >= 400 && g_strcmp0 (mb_str (r, "status"), "error") == 0,
                  "neither the file, nor empty, nor an error: %s", text);
          errors++;
        }
    }
  g_test_message ("12 rounds: %u stored whole, %u stored empty, %u errors", whole, empty, errors);
  return alive (s);
}
RUN (test_truncate, run_truncate)

/* ---- /store-file/special-files ---- */

static gboolean
expect_refused (Solo *s, const char *filename, guint want, const char *needle)
{
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (Reply) r = store_file (s, filename);
  double secs = mb_secs_since (t0);
  g_autofree gchar *text = mb_body_text (r);
  g_test_message ("store_file %s: %.2f s, %s", filename, secs, text);
  CHECKF (r->status == want && g_strcmp0 (mb_str (r, "status"), "error") == 0,
          "store_file %s: wanted %u, got %s", filename, want, text);
  CHECKF (needle == NULL || strstr (mb_str (r, "error"), needle) != NULL,
          "store_file %s: the reason does not say \"%s\": %s", filename, needle, text);
  CHECKF (secs < 3, "store_file %s took %.2f s", filename, secs);
  return alive (s);
}

static gboolean
run_special_files (Solo *s)
{
  g_autofree gchar *share = g_build_filename (s->root, "share", NULL);
  g_autofree gchar *fifo = g_build_filename (s->data_dir, "pipe", NULL);
  g_autofree gchar *share_fifo = g_build_filename (share, "pipe2", NULL);
  g_autofree gchar *sub = g_build_filename (s->data_dir, "sub", NULL);
  g_autofree gchar *link = g_build_filename (s->data_dir, "link", NULL);
  g_autofree gchar *file = g_build_filename (s->data_dir, "t.bin", NULL);
  g_autofree gchar *dev = g_build_filename (s->data_dir, "zero", NULL);
  g_mkdir (share, 0700);
  g_mkdir (sub, 0700);
  CHECK (mkfifo (fifo, 0600) == 0 && mkfifo (share_fifo, 0600) == 0);
  CHECK (mb_solo_write_file (file, 1000, 4));
  CHECK (symlink ("t.bin", link) == 0);
  gboolean have_dev = mknod (dev, S_IFCHR | 0600, makedev (1, 5)) == 0;
  const char *env[] = { "MINIBIT_SHARE_DIRS", share, NULL };
  if (!mb_solo_start (s, NULL, NULL, env, NULL))
    return FALSE;
  if (!expect_refused (s, "pipe", 400, "FIFO") || !expect_refused (s, share_fifo, 400, "FIFO")
      || !expect_refused (s, "sub", 400, "directory")
      || !expect_refused (s, "link", 400, "symbolic link")
      || !expect_refused (s, "sub/../link", 400, "symbolic link")
      || !expect_refused (s, "link/x", 400, NULL)
      || !expect_refused (s, "missing.bin", 404, NULL)
      || !expect_refused (s, "/etc/passwd", 403, NULL)
      || !expect_refused (s, "../../../../../etc/passwd", 403, NULL))
    return FALSE;
  if (have_dev && !expect_refused (s, "zero", 400, "device"))
    return FALSE;
  if (!have_dev)
    g_test_message ("no device node could be made here: that case is left out");
  /* a regular file still goes, also under its /app/data name */
  g_autoptr (Reply) ok = store_file (s, "/app/data/t.bin");
  g_autofree gchar *text = mb_body_text (ok);
  CHECKF (ok->status == 200 && mb_int (ok, "size") == 1000, "store_file t.bin: %s", text);
  /* The stored copy stays inside t.bin (shared).  Swapped for a FIFO, it
   * must not freeze the peer when the chunk is asked for. */
  gsize n = 0;
  g_autofree gchar *id = file_chunk_id (file, &n);
  CHECK (id != NULL && g_unlink (file) == 0 && mkfifo (file, 0600) == 0);
  g_autofree gchar *path = g_strconcat ("/get_chunk/", id, NULL);
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (Reply) r = mb_solo_http (s, "GET", path, NULL, 0, NULL);
  g_autofree gchar *rtext = mb_body_text (r);
  g_test_message ("get_chunk of t.bin's chunk, t.bin now a FIFO: %.2f s, %s",
                  mb_secs_since (t0), rtext);
  CHECKF (r->status == 404 || r->status == 500, "get_chunk: %s", rtext);
  CHECKF (mb_secs_since (t0) < 3, "get_chunk took %.2f s", mb_secs_since (t0));
  return alive (s);
}
RUN (test_special_files, run_special_files)

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/store-file/symlink-race", test_symlink_race);
  g_test_add_func ("/store-file/truncate", test_truncate);
  g_test_add_func ("/store-file/special-files", test_special_files);
  return g_test_run ();
}
