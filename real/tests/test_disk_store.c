/* test_disk_store.c — the disk store: round trips, the on-disk layout,
 * refusals that write nothing, crash leftovers (.tmp- files) removed at open
 * and never listed, corruption on disk detected and set aside, counters
 * rebuilt on reopen, manifests kept parsed until their file changes (and
 * at most 65,536 chunks and 32 MiB of them), sorted listings that skip foreign files, and data
 * directories that cannot be used.  Each test runs in a fresh temporary
 * directory, removed afterwards. */
#if !defined _GNU_SOURCE && !defined _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "content/chunk.h"
#include "disk-store.h"
#include "content/manifest.h"
#include "content/store.h"
#include "test-util.h"

typedef struct {
  gchar *dir;  /* fresh per test */
} Fixture;

/* ---- helpers ---- */

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autoptr (GError) err = NULL;
  f->dir = g_dir_make_tmp ("minibit-disk-store-XXXXXX", &err);
  g_assert_no_error (err);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  (void) data;
  mb_test_remove_tree (f->dir);
  g_assert_false (g_file_test (f->dir, G_FILE_TEST_EXISTS));
  g_free (f->dir);
}

static gchar *
path_in (Fixture *f, const char *rel)
{
  return g_build_filename (f->dir, rel, NULL);
}

static MbStore *
open_store (Fixture *f)
{
  g_autoptr (GError) err = NULL;
  MbStore *s = mb_store_disk_new (f->dir, &err);
  g_assert_no_error (err);
  g_assert_nonnull (s);
  return s;
}

/* Bytes of text and their id. */
static GBytes *
chunk_of (const char *text, char id[65])
{
  mb_chunk_id_compute ((const guint8 *) text, strlen (text), id);
  return g_bytes_new (text, strlen (text));
}

static void
put_text_chunk (MbStore *s, const char *text, char id[65])
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GBytes) data = chunk_of (text, id);
  g_assert_true (mb_store_put_chunk (s, id, data, (guint32) strlen (text), &err));
  g_assert_no_error (err);
}

/* A complete manifest for "hello" in chunks of 4 bytes, with one holder. */
static MbManifest *
manifest_named (const char *name)
{
  g_autoptr (GError) err = NULL;
  MbManifest *m = mb_manifest_new (name, 5, 4, &err);
  g_assert_no_error (err);
  char id[65];
  mb_chunk_id_compute ((const guint8 *) "hell", 4, id);
  g_assert_true (mb_manifest_set_chunk (m, 0, id, mb_chunk_crc_compute ((const guint8 *) "hell", 4), &err));
  mb_chunk_id_compute ((const guint8 *) "o", 1, id);
  g_assert_true (mb_manifest_set_chunk (m, 1, id, mb_chunk_crc_compute ((const guint8 *) "o", 1), &err));
  g_assert_true (mb_manifest_add_holder (m, 0, "10.0.0.1:6881"));
  return m;
}

static void
put_manifest_named (MbStore *s, const char *name)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (MbManifest) m = manifest_named (name);
  g_assert_true (mb_store_put_manifest (s, m, &err));
  g_assert_no_error (err);
}

static void
plant_file (Fixture *f, const char *rel, const char *content)
{
  g_autofree gchar *path = path_in (f, rel);
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_autoptr (GError) err = NULL;
  g_assert_true (g_file_set_contents (path, content, -1, &err));
  g_assert_no_error (err);
}

static gboolean
exists_in (Fixture *f, const char *rel)
{
  g_autofree gchar *path = path_in (f, rel);
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* Number of entries (files and folders) below path, recursively. */
static guint
count_entries (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  if (dir == NULL)
    return 0;
  guint n = 0;
  const char *name;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree gchar *child = g_build_filename (path, name, NULL);
      n += 1 + count_entries (child);
    }
  g_dir_close (dir);
  return n;
}

static gchar *
chunk_rel (const char *id)
{
  return g_strdup_printf ("chunks/%.2s/%s", id, id);
}

static void
assert_sorted (GPtrArray *keys)
{
  for (guint i = 1; i < keys->len; i++)
    g_assert_cmpint (strcmp (keys->pdata[i - 1], keys->pdata[i]), <, 0);
}

/* ---- tests ---- */

static void
test_round_trip_of_chunks_and_manifests (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autoptr (MbStore) s = open_store (f);
  g_autoptr (GError) err = NULL;

  /* a small chunk, a big one (mapped), and an empty one */
  char id[65], big_id[65], empty_id[65];
  put_text_chunk (s, "hello", id);
  gsize big_len = 256 * 1024 + 7;
  guint8 *big = g_malloc (big_len);
  mb_chunk_generate ("big.bin", 0, big, big_len);
  mb_chunk_id_compute (big, big_len, big_id);
  g_autoptr (GBytes) big_bytes = g_bytes_new_take (big, big_len);
  g_assert_true (mb_store_put_chunk (s, big_id, big_bytes, (guint32) big_len, &err));
  g_assert_no_error (err);
  put_text_chunk (s, "", empty_id);
  g_assert_cmpuint (s->n_chunks, ==, 3);
  g_assert_cmpuint (s->chunk_bytes, ==, 5 + big_len);

  GBytes *got = NULL;
  guint32 len = 0;
  g_assert_true (mb_store_get_chunk (s, id, &got, &len, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (len, ==, 5);
  g_assert_cmpmem (g_bytes_get_data (got, NULL), 5, "hello", 5);
  g_bytes_unref (got);
  g_assert_true (mb_store_get_chunk (s, big_id, &got, &len, &err));
  g_assert_true (g_bytes_equal (got, big_bytes));
  g_bytes_unref (got);
  g_assert_true (mb_store_get_chunk (s, empty_id, &got, &len, &err));
  g_assert_cmpuint (len, ==, 0);
  g_assert_cmpuint (g_bytes_get_size (got), ==, 0);
  g_bytes_unref (got);
  g_assert_true (mb_store_has_chunk (s, id));

  /* the layout: chunks/<2 hex>/<id>, manifests/<name>.json in JSON form */
  g_autofree gchar *rel = chunk_rel (id);
  g_assert_true (exists_in (f, rel));
  put_manifest_named (s, "a.txt");
  g_assert_cmpuint (s->n_manifests, ==, 1);
  g_autofree gchar *json_path = path_in (f, "manifests/a.txt.json");
  g_autofree gchar *json = NULL;
  g_assert_true (g_file_get_contents (json_path, &json, NULL, &err));
  g_autoptr (MbManifest) parsed = mb_manifest_from_json (json, -1, &err);
  g_assert_no_error (err);
  g_autoptr (MbManifest) want = manifest_named ("a.txt");
  g_assert_true (mb_manifest_equal (parsed, want));
  g_autoptr (MbManifest) back = mb_store_get_manifest (s, "a.txt");
  g_assert_nonnull (back);
  g_assert_true (mb_manifest_equal (back, want));
  g_assert_null (mb_store_get_manifest (s, "missing.txt"));

  /* drops */
  g_assert_true (mb_store_drop_chunk (s, id));
  g_assert_false (mb_store_drop_chunk (s, id));
  g_assert_false (mb_store_has_chunk (s, id));
  g_assert_false (mb_store_get_chunk (s, id, &got, &len, &err));
  g_assert_error (err, MB_STORE_ERROR, MB_STORE_ERROR_NOT_FOUND);
  g_clear_error (&err);
  g_assert_true (mb_store_drop_chunk (s, big_id));
  g_assert_true (mb_store_drop_chunk (s, empty_id));
  g_assert_true (mb_store_drop_manifest (s, "a.txt"));
  g_assert_false (mb_store_drop_manifest (s, "a.txt"));
  g_assert_null (mb_store_get_manifest (s, "a.txt"));
  g_assert_cmpuint (s->n_chunks, ==, 0);
  g_assert_cmpuint (s->chunk_bytes, ==, 0);
  g_assert_cmpuint (s->n_manifests, ==, 0);
}

static void
test_putting_again_replaces_and_keeps_counters (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autoptr (MbStore) s = open_store (f);
  char id[65];
  put_text_chunk (s, "same bytes", id);
  put_text_chunk (s, "same bytes", id);
  g_assert_cmpuint (s->n_chunks, ==, 1);
  g_assert_cmpuint (s->chunk_bytes, ==, 10);
  put_manifest_named (s, "a.txt");
  g_autoptr (MbManifest) m = manifest_named ("a.txt");
  mb_manifest_add_holder (m, 1, "10.0.0.2:6881");
  g_autoptr (GError) err = NULL;
  g_assert_true (mb_store_put_manifest (s, m, &err));
  g_assert_cmpuint (s->n_manifests, ==, 1);
  g_autoptr (MbManifest) got = mb_store_get_manifest (s, "a.txt");
  g_assert_true (mb_manifest_has_holder (got, 1, "10.0.0.2:6881"));
  g_autofree gchar *manifests = path_in (f, "manifests");
  g_assert_cmpuint (count_entries (manifests), ==, 1);  /* no temporary left */
}

static void
test_put_with_wrong_content_is_refused_and_writes_nothing (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autoptr (MbStore) s = open_store (f);
  g_autoptr (GError) err = NULL;
  char id[65], other[65];
  g_autoptr (GBytes) hello = chunk_of ("hello", id);
  g_autoptr (GBytes) jello = chunk_of ("jello", other);
  g_assert_false (mb_store_put_chunk (s, id, jello, 5, &err));
  g_assert_error (err, MB_STORE_ERROR, MB_STORE_ERROR_INVALID);
  g_assert_nonnull (strstr (err->message, "hash"));
  g_autofree gchar *chunks = path_in (f, "chunks");
  g_assert_cmpuint (count_entries (chunks), ==, 0);
  g_assert_false (mb_store_has_chunk (s, id));
  g_assert_cmpuint (s->n_chunks, ==, 0);
  g_assert_cmpuint (s->chunk_bytes, ==, 0);

  /* a refused put over a stored chunk leaves it as it was */
  g_clear_error (&err);
  put_text_chunk (s, "hello", id);
  g_assert_false (mb_store_put_chunk (s, id, jello, 5, &err));
  GBytes *got = NULL;
  g_assert_true (mb_store_get_chunk (s, id, &got, NULL, NULL));
  g_assert_true (g_bytes_equal (got, hello));
  g_bytes_unref (got);
  g_assert_cmpuint (s->n_chunks, ==, 1);
}

static void
test_virtual_chunk_is_refused (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autoptr (MbStore) s = open_store (f);
  g_autoptr (GError) err = NULL;
  char id[65];
  mb_chunk_id_compute ((const guint8 *) "virtual", 7, id);
  g_assert_false (mb_store_put_chunk (s, id, NULL, 262144, &err));
  g_assert_error (err, MB_STORE_ERROR, MB_STORE_ERROR_INVALID);
  g_assert_nonnull (strstr (err->message, "virtual"));
  g_autofree gchar *chunks = path_in (f, "chunks");
  g_assert_cmpuint (count_entries (chunks), ==, 0);
  g_assert_cmpuint (s->n_chunks, ==, 0);
}

static void
test_stale_tmp_files_are_removed_at_open_and_never_listed (Fixture *f, gconstpointer data)
{
  (void) data;
  char id[65], tmp_id[65];
  {
    g_autoptr (MbStore) s = open_store (f);
    put_text_chunk (s, "kept", id);
    put_manifest_named (s, "kept.txt");
  }
  /* what a crash in the middle of writes leaves behind */
  mb_chunk_id_compute ((const guint8 *) "half", 4, tmp_id);
  g_autofree gchar *tmp_chunk = g_strdup_printf ("chunks/%.2s/.tmp-a1b2c3", tmp_id);
  plant_file (f, tmp_chunk, "ha");
  g_autofree gchar *tmp_next = g_strdup_printf ("chunks/%.2s/.tmp-d4e5f6", id);
  plant_file (f, tmp_next, "kept");
  plant_file (f, "manifests/.tmp-XyZ123", "{\"filename\": \"half");

  g_autoptr (MbStore) s = open_store (f);
  g_assert_false (exists_in (f, tmp_chunk));
  g_assert_false (exists_in (f, tmp_next));
  g_assert_false (exists_in (f, "manifests/.tmp-XyZ123"));
  g_autoptr (GPtrArray) ids = mb_store_list_chunks (s);
  g_assert_cmpuint (ids->len, ==, 1);
  g_assert_cmpstr (ids->pdata[0], ==, id);
  g_autoptr (GPtrArray) names = mb_store_list_manifests (s);
  g_assert_cmpuint (names->len, ==, 1);
  g_assert_cmpstr (names->pdata[0], ==, "kept.txt");
  g_assert_cmpuint (s->n_chunks, ==, 1);
  g_assert_cmpuint (s->chunk_bytes, ==, 4);
  g_assert_cmpuint (s->n_manifests, ==, 1);
}

static void
test_tmp_files_written_while_open_are_not_listed (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autoptr (MbStore) s = open_store (f);
  char id[65];
  put_text_chunk (s, "real", id);
  g_autofree gchar *tmp = g_strdup_printf ("chunks/%.2s/.tmp-000000", id);
  plant_file (f, tmp, "real");
  plant_file (f, "manifests/.tmp-000000", "{}");
  g_autoptr (GPtrArray) ids = mb_store_list_chunks (s);
  g_assert_cmpuint (ids->len, ==, 1);
  g_autoptr (GPtrArray) names = mb_store_list_manifests (s);
  g_assert_cmpuint (names->len, ==, 0);
}

static void
test_corrupt_chunk_is_refused_and_moved_aside (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autoptr (MbStore) s = open_store (f);
  char id[65];
  put_text_chunk (s, "precious bytes", id);
  put_text_chunk (s, "other bytes", (char[65]) { 0 });
  g_assert_cmpuint (s->n_chunks, ==, 2);

  /* flip one byte in place, as a failing disk would; the store learns of it
   * on its first read after a (re)open: it trusts what it wrote itself
   * while it runs, as long as the file is the same */
  g_autofree gchar *rel = chunk_rel (id);
  g_autofree gchar *path = path_in (f, rel);
  int fd = g_open (path, O_WRONLY, 0);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pwrite (fd, "P", 1, 0), ==, 1);
  close (fd);
  g_clear_pointer (&s, mb_store_free);
  s = open_store (f);

  g_autoptr (GError) err = NULL;
  GBytes *got = NULL;
  guint32 len = 0;
  g_assert_false (mb_store_get_chunk (s, id, &got, &len, &err));
  g_assert_null (got);
  g_assert_error (err, MB_STORE_ERROR, MB_STORE_ERROR_IO);
  g_assert_nonnull (strstr (err->message, path));
  g_assert_nonnull (strstr (err->message, "moved aside"));
  g_clear_error (&err);

  g_assert_false (mb_store_has_chunk (s, id));
  g_autofree gchar *aside = g_strdup_printf ("chunks/.corrupt-%s", id);
  g_assert_true (exists_in (f, aside));
  g_assert_false (exists_in (f, rel));
  g_assert_cmpuint (s->n_chunks, ==, 1);
  g_assert_cmpuint (s->chunk_bytes, ==, 11);
  g_autoptr (GPtrArray) ids = mb_store_list_chunks (s);
  g_assert_cmpuint (ids->len, ==, 1);
  g_assert_cmpstr (ids->pdata[0], !=, id);
  g_assert_false (mb_store_get_chunk (s, id, &got, &len, &err));
  g_assert_error (err, MB_STORE_ERROR, MB_STORE_ERROR_NOT_FOUND);

  /* a reopen does not count the set-aside file; a fresh put heals */
  g_clear_pointer (&s, mb_store_free);
  s = open_store (f);
  g_assert_cmpuint (s->n_chunks, ==, 1);
  put_text_chunk (s, "precious bytes", id);
  g_assert_true (mb_store_get_chunk (s, id, &got, &len, NULL));
  g_assert_cmpuint (len, ==, 14);
  g_bytes_unref (got);
}

static void
test_replaced_chunk_is_hashed_again (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autoptr (MbStore) s = open_store (f);
  char id[65];
  put_text_chunk (s, "precious bytes", id);
  GBytes *got = NULL;
  guint32 len = 0;
  g_assert_true (mb_store_get_chunk (s, id, &got, &len, NULL));
  g_bytes_unref (got);
  /* another file (new inode) put in its place behind the store's back:
   * verified again on the next read, without a reopen */
  g_autofree gchar *rel = chunk_rel (id);
  g_autofree gchar *path = path_in (f, rel);
  g_autofree gchar *other = g_strconcat (path, ".x", NULL);
  g_assert_true (g_file_set_contents (other, "Precious bytes", -1, NULL));
  g_assert_cmpint (g_rename (other, path), ==, 0);
  g_autoptr (GError) err = NULL;
  g_assert_false (mb_store_get_chunk (s, id, &got, &len, &err));
  g_assert_error (err, MB_STORE_ERROR, MB_STORE_ERROR_IO);
  g_assert_nonnull (strstr (err->message, "moved aside"));
  g_assert_false (mb_store_has_chunk (s, id));
}

static void
test_truncated_chunk_is_refused (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autoptr (MbStore) s = open_store (f);
  char id[65];
  put_text_chunk (s, "twelve bytes", id);
  g_autofree gchar *rel = chunk_rel (id);
  g_autofree gchar *path = path_in (f, rel);
  g_assert_cmpint (truncate (path, 6), ==, 0);
  g_autoptr (GError) err = NULL;
  g_assert_false (mb_store_get_chunk (s, id, NULL, NULL, &err));
  g_assert_error (err, MB_STORE_ERROR, MB_STORE_ERROR_IO);
  g_assert_false (mb_store_has_chunk (s, id));
  g_assert_cmpuint (s->n_chunks, ==, 0);
  /* the size changed behind the store's back: the byte count is only sure
   * not to wrap, and is exact again after a reopen */
  g_assert_cmpuint (s->chunk_bytes, <=, 12);
  g_clear_pointer (&s, mb_store_free);
  s = open_store (f);
  g_assert_cmpuint (s->n_chunks, ==, 0);
  g_assert_cmpuint (s->chunk_bytes, ==, 0);
}

static void
test_corrupt_manifest_is_null_with_a_warning_and_moved_aside (Fixture *f, gconstpointer data)
{
  (void) data;
  {
    g_autoptr (MbStore) s = open_store (f);
    put_manifest_named (s, "a.txt");
    put_manifest_named (s, "b.txt");
  }
  plant_file (f, "manifests/a.txt.json", "{\"filename\": \"a.txt\", \"size\": 5, \"chu");
  /* a well-formed manifest under the wrong file name is not taken either */
  g_autofree gchar *b_json = NULL;
  g_autofree gchar *b_path = path_in (f, "manifests/b.txt.json");
  g_assert_true (g_file_get_contents (b_path, &b_json, NULL, NULL));
  plant_file (f, "manifests/c.txt.json", b_json);

  g_autoptr (MbStore) s = open_store (f);
  g_assert_cmpuint (s->n_manifests, ==, 3);
  g_test_expect_message (NULL, G_LOG_LEVEL_WARNING, "*a.txt.json*not a valid manifest*moved aside*");
  g_assert_null (mb_store_get_manifest (s, "a.txt"));
  g_test_assert_expected_messages ();
  g_test_expect_message (NULL, G_LOG_LEVEL_WARNING, "*c.txt.json*not a valid manifest*");
  g_assert_null (mb_store_get_manifest (s, "c.txt"));
  g_test_assert_expected_messages ();

  g_assert_true (exists_in (f, "manifests/.corrupt-a.txt.json"));
  g_assert_true (exists_in (f, "manifests/.corrupt-c.txt.json"));
  g_assert_cmpuint (s->n_manifests, ==, 1);
  g_autoptr (GPtrArray) names = mb_store_list_manifests (s);
  g_assert_cmpuint (names->len, ==, 1);
  g_assert_cmpstr (names->pdata[0], ==, "b.txt");
  g_autoptr (MbManifest) b = mb_store_get_manifest (s, "b.txt");
  g_assert_nonnull (b);
}

/* Reads of a manifest are kept parsed (the same object, frozen) until its
 * file changes: replaced behind the store's back, put again, corrupted,
 * dropped; each change is seen at the next read. */
static void
test_manifest_reads_are_kept_until_the_file_changes (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autoptr (MbStore) s = open_store (f);
  put_manifest_named (s, "a.txt");
  g_autoptr (MbManifest) a1 = mb_store_get_manifest (s, "a.txt");
  g_autoptr (MbManifest) a2 = mb_store_get_manifest (s, "a.txt");
  g_assert_nonnull (a1);
  g_assert_true (a1 == a2);
  g_assert_true (mb_manifest_is_frozen (a1));
  g_assert_cmpuint (mb_manifest_n_holders (a1, 0), ==, 1);

  /* another holder written into the file by someone else */
  {
    g_autoptr (MbManifest) m = manifest_named ("a.txt");
    g_assert_true (mb_manifest_add_holder (m, 0, "10.0.0.2:6881"));
    g_autofree gchar *json = mb_manifest_to_json (m);
    plant_file (f, "manifests/a.txt.json", json);
  }
  g_autoptr (MbManifest) a3 = mb_store_get_manifest (s, "a.txt");
  g_assert_true (a3 != a1);
  g_assert_cmpuint (mb_manifest_n_holders (a3, 0), ==, 2);
  g_assert_cmpuint (mb_manifest_n_holders (a1, 0), ==, 1);  /* a reader's copy stays */

  /* put again: the next read is what was put */
  {
    g_autoptr (GError) err = NULL;
    g_autoptr (MbManifest) m = manifest_named ("a.txt");
    g_assert_true (mb_manifest_add_holder (m, 0, "10.0.0.3:6881"));
    g_assert_true (mb_manifest_add_holder (m, 1, "10.0.0.3:6881"));
    g_assert_true (mb_store_put_manifest (s, m, &err));
    g_assert_no_error (err);
    /* the caller's manifest is its own: changing it changes nothing kept */
    g_assert_true (mb_manifest_add_holder (m, 1, "10.0.0.4:6881"));
  }
  g_autoptr (MbManifest) a4 = mb_store_get_manifest (s, "a.txt");
  g_assert_true (a4 != a3);
  g_assert_cmpuint (mb_manifest_n_holders (a4, 0), ==, 2);
  g_assert_cmpuint (mb_manifest_n_holders (a4, 1), ==, 1);

  /* corrupted: not a manifest any more, set aside */
  plant_file (f, "manifests/a.txt.json", "{\"filename\": \"a.txt\", \"si");
  g_test_expect_message (NULL, G_LOG_LEVEL_WARNING, "*a.txt.json*not a valid manifest*moved aside*");
  g_assert_null (mb_store_get_manifest (s, "a.txt"));
  g_test_assert_expected_messages ();
  g_assert_null (mb_store_get_manifest (s, "a.txt"));

  /* dropped: gone, also when it was kept */
  put_manifest_named (s, "b.txt");
  g_autoptr (MbManifest) b = mb_store_get_manifest (s, "b.txt");
  g_assert_nonnull (b);
  g_assert_true (mb_store_drop_manifest (s, "b.txt"));
  g_assert_null (mb_store_get_manifest (s, "b.txt"));
  /* removed behind the store's back: gone too */
  put_manifest_named (s, "c.txt");
  g_autoptr (MbManifest) c = mb_store_get_manifest (s, "c.txt");
  g_assert_nonnull (c);
  g_autofree gchar *c_path = path_in (f, "manifests/c.txt.json");
  g_assert_cmpint (g_unlink (c_path), ==, 0);
  g_assert_null (mb_store_get_manifest (s, "c.txt"));
}

/* A FIFO, a directory or a socket under a manifest's file name is no
 * manifest: the read says so at once (it must not wait for a writer on the
 * FIFO), and a kept copy of the name is let go. */
static void
test_manifest_that_is_not_a_regular_file_is_null_at_once (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autoptr (MbStore) s = open_store (f);
  put_manifest_named (s, "a.txt");
  g_autoptr (MbManifest) a = mb_store_get_manifest (s, "a.txt");
  g_assert_nonnull (a);
  g_autofree gchar *path = path_in (f, "manifests/a.txt.json");
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (mkfifo (path, 0600), ==, 0);
  g_test_expect_message (NULL, G_LOG_LEVEL_WARNING, "*a.txt*not a regular file*");
  gint64 t0 = g_get_monotonic_time ();
  g_assert_null (mb_store_get_manifest (s, "a.txt"));
  g_test_assert_expected_messages ();
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 5 * G_USEC_PER_SEC);
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  g_test_expect_message (NULL, G_LOG_LEVEL_WARNING, "*a.txt*not a regular file*");
  g_assert_null (mb_store_get_manifest (s, "a.txt"));
  g_test_assert_expected_messages ();
  g_assert_cmpint (g_rmdir (path), ==, 0);
}

/* A manifest of n chunks of "abcd". */
static MbManifest *
manifest_of_chunks (const char *name, guint n)
{
  g_autoptr (GError) err = NULL;
  MbManifest *m = mb_manifest_new (name, 4 * (guint64) n, 4, &err);
  g_assert_no_error (err);
  char id[65];
  mb_chunk_id_compute ((const guint8 *) "abcd", 4, id);
  guint32 crc = mb_chunk_crc_compute ((const guint8 *) "abcd", 4);
  for (guint i = 0; i < n; i++)
    g_assert_true (mb_manifest_set_chunk (m, i, id, crc, &err));
  return m;
}

/* At most 32 MiB of manifests are kept, whatever their chunk count: 8
 * manifests of 512 chunks with 128 holders each (about 5 MiB each in
 * memory, 4,096 chunks in all) do not all stay. */
static void
test_kept_manifests_are_bounded_in_memory (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autoptr (MbStore) s = open_store (f);
  enum { N = 8, CHUNKS = 512, HOLDERS = 128 };
  g_autoptr (GPtrArray) first = g_ptr_array_new_with_free_func ((GDestroyNotify) mb_manifest_unref);
  for (guint i = 0; i < N; i++)
    {
      g_autofree gchar *name = g_strdup_printf ("wide-%u", i);
      g_autoptr (MbManifest) m = manifest_of_chunks (name, CHUNKS);
      for (guint c = 0; c < CHUNKS; c++)
        for (guint h = 0; h < HOLDERS; h++)
          {
            g_autofree gchar *addr = g_strdup_printf ("holder-%03u.a-rather-long-host-name."
                                                      "example.org:6881", h);
            g_assert_true (mb_manifest_add_holder (m, c, addr));
          }
      g_autoptr (GError) err = NULL;
      g_assert_true (mb_store_put_manifest (s, m, &err));
      g_assert_no_error (err);
      g_ptr_array_add (first, mb_store_get_manifest (s, name));
    }
  gsize total = 0;
  for (guint i = 0; i < N; i++)
    total += mb_manifest_memory (first->pdata[i]) * 2;  /* shared with the store */
  g_test_message ("%u manifests, %" G_GSIZE_FORMAT " bytes in memory", (guint) N, total);
  g_assert_cmpuint (total, >, (gsize) 32 << 20);
  /* the last is kept, the first was let go */
  g_autoptr (MbManifest) last = mb_store_get_manifest (s, "wide-7");
  g_assert_true (last == first->pdata[N - 1]);
  g_autoptr (MbManifest) again0 = mb_store_get_manifest (s, "wide-0");
  g_assert_true (again0 != first->pdata[0]);
  g_assert_cmpuint (mb_manifest_n_holders (again0, 0), ==, HOLDERS);
}

/* At most 65,536 chunks of manifests are kept: the least recently read or
 * written goes first. */
static void
test_kept_manifests_are_bounded (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autoptr (MbStore) s = open_store (f);
  enum { N = 17, CHUNKS = 4000 };  /* 68,000 chunks in all */
  g_autoptr (GPtrArray) first = g_ptr_array_new_with_free_func ((GDestroyNotify) mb_manifest_unref);
  for (guint i = 0; i < N; i++)
    {
      g_autofree gchar *name = g_strdup_printf ("big-%02u", i);
      g_autoptr (MbManifest) m = manifest_of_chunks (name, CHUNKS);
      g_autoptr (GError) err = NULL;
      g_assert_true (mb_store_put_manifest (s, m, &err));
      g_assert_no_error (err);
      g_ptr_array_add (first, mb_store_get_manifest (s, name));
    }
  /* the last 16 are kept (the same objects), the first was let go */
  for (guint i = N; i-- > 1;)
    {
      g_autofree gchar *name = g_strdup_printf ("big-%02u", i);
      g_autoptr (MbManifest) again = mb_store_get_manifest (s, name);
      g_assert_true (again == first->pdata[i]);
    }
  g_autoptr (MbManifest) again0 = mb_store_get_manifest (s, "big-00");
  g_assert_nonnull (again0);
  g_assert_true (again0 != first->pdata[0]);
  g_assert_cmpuint (mb_manifest_n_chunks (again0), ==, CHUNKS);
  /* reading it again kept it, and let the least recent (big-16, read
   * first above) go */
  g_autoptr (MbManifest) again16 = mb_store_get_manifest (s, "big-16");
  g_assert_true (again16 != first->pdata[16]);
  g_autoptr (MbManifest) again0b = mb_store_get_manifest (s, "big-00");
  g_assert_true (again0b == again0);
}

static void
test_reopen_finds_what_was_stored_with_exact_counters (Fixture *f, gconstpointer data)
{
  (void) data;
  char ids[3][65];
  guint64 bytes = 0;
  {
    g_autoptr (MbStore) s = open_store (f);
    const char *texts[] = { "one", "two two", "three three three" };
    for (guint i = 0; i < 3; i++)
      {
        put_text_chunk (s, texts[i], ids[i]);
        bytes += strlen (texts[i]);
      }
    put_manifest_named (s, "x.bin");
    put_manifest_named (s, "y.bin");
    g_assert_true (mb_store_drop_manifest (s, "y.bin"));
    g_assert_cmpuint (s->chunk_bytes, ==, bytes);
  }
  g_autoptr (MbStore) s = open_store (f);
  g_assert_cmpuint (s->n_chunks, ==, 3);
  g_assert_cmpuint (s->chunk_bytes, ==, bytes);
  g_assert_cmpuint (s->n_manifests, ==, 1);
  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (mb_store_has_chunk (s, ids[i]));
      GBytes *got = NULL;
      g_assert_true (mb_store_get_chunk (s, ids[i], &got, NULL, NULL));
      g_bytes_unref (got);
    }
  g_autoptr (MbManifest) x = mb_store_get_manifest (s, "x.bin");
  g_autoptr (MbManifest) want = manifest_named ("x.bin");
  g_assert_true (mb_manifest_equal (x, want));
  g_assert_null (mb_store_get_manifest (s, "y.bin"));
}

static void
test_listings_are_sorted_and_skip_foreign_files (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autoptr (MbStore) s = open_store (f);
  for (guint i = 0; i < 40; i++)
    {
      g_autofree gchar *text = g_strdup_printf ("chunk number %u", 39 - i);
      char id[65];
      put_text_chunk (s, text, id);
    }
  const char *names[] = { "zeta.iso", "Alpha.txt", "beta", "a b c.tar.gz", "mid.json" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    put_manifest_named (s, names[i]);

  /* things that are not chunks or manifests */
  char stray[65];
  mb_chunk_id_compute ((const guint8 *) "stray", 5, stray);
  const char *wrong_prefix = stray[0] == 'a' ? "chunks/bb" : "chunks/aa";
  g_autofree gchar *misplaced = g_strdup_printf ("%s/%s", wrong_prefix, stray);
  plant_file (f, misplaced, "stray");
  plant_file (f, "chunks/README", "hi");
  plant_file (f, "chunks/zz/0000", "x");
  plant_file (f, "chunks/ab/not-an-id", "x");
  g_autofree gchar *upper = g_ascii_strup (stray, -1);
  g_autofree gchar *upper_rel = g_strdup_printf ("chunks/%.2s/%s", upper, upper);
  plant_file (f, upper_rel, "stray");
  plant_file (f, "manifests/notes.txt", "x");
  plant_file (f, "manifests/.hidden.json", "{}");
  plant_file (f, "manifests/%41.json", "{}");   /* not the canonical spelling of "A" */
  plant_file (f, "manifests/bad%zz.json", "{}");
  plant_file (f, "manifests/..json", "{}");
  g_autofree gchar *dir_like = path_in (f, "manifests/folder.json");
  g_assert_cmpint (g_mkdir (dir_like, 0700), ==, 0);

  for (guint round = 0; round < 2; round++)
    {
      g_autoptr (GPtrArray) ids = mb_store_list_chunks (s);
      g_assert_cmpuint (ids->len, ==, 40);
      assert_sorted (ids);
      g_autoptr (GPtrArray) listed = mb_store_list_manifests (s);
      g_assert_cmpuint (listed->len, ==, G_N_ELEMENTS (names));
      assert_sorted (listed);
      g_assert_cmpstr (listed->pdata[0], ==, "Alpha.txt");
      g_assert_cmpstr (listed->pdata[1], ==, "a b c.tar.gz");
      g_assert_cmpuint (s->n_chunks, ==, 40);
      g_assert_cmpuint (s->n_manifests, ==, G_N_ELEMENTS (names));
      /* again after a reopen: the scan at open skips the same things */
      g_clear_pointer (&s, mb_store_free);
      s = open_store (f);
    }
  g_assert_false (mb_store_has_chunk (s, stray));
}

static void
test_manifest_names_with_leading_dot_or_percent_round_trip (Fixture *f, gconstpointer data)
{
  (void) data;
  const char *names[] = { ".bashrc", "100%.txt", "%2E", ".tmp-looks-like-a-temp", "x.json" };
  {
    g_autoptr (MbStore) s = open_store (f);
    for (guint i = 0; i < G_N_ELEMENTS (names); i++)
      put_manifest_named (s, names[i]);
  }
  g_assert_true (exists_in (f, "manifests/%2Ebashrc.json"));
  g_assert_true (exists_in (f, "manifests/100%25.txt.json"));
  g_assert_true (exists_in (f, "manifests/%252E.json"));
  g_autoptr (MbStore) s = open_store (f);  /* the scan must not take any for a temporary */
  g_assert_cmpuint (s->n_manifests, ==, G_N_ELEMENTS (names));
  g_autoptr (GPtrArray) listed = mb_store_list_manifests (s);
  g_assert_cmpuint (listed->len, ==, G_N_ELEMENTS (names));
  assert_sorted (listed);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr (MbManifest) m = mb_store_get_manifest (s, names[i]);
      g_assert_nonnull (m);
      g_assert_cmpstr (mb_manifest_name (m), ==, names[i]);
    }
}

static void
test_unsafe_ids_and_names_never_become_paths (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autoptr (MbStore) s = open_store (f);
  plant_file (f, "secret", "do not serve");
  plant_file (f, "secret.json", "{}");
  const char *bad_ids[] = { "../secret", "../../secret", "", "ABCDEF" };
  for (guint i = 0; i < G_N_ELEMENTS (bad_ids); i++)
    {
      g_autoptr (GError) err = NULL;
      GBytes *got = NULL;
      g_assert_false (mb_store_get_chunk (s, bad_ids[i], &got, NULL, &err));
      g_assert_nonnull (err);
      g_assert_false (mb_store_has_chunk (s, bad_ids[i]));
      g_assert_false (mb_store_drop_chunk (s, bad_ids[i]));
    }
  g_assert_null (mb_store_get_manifest (s, "../secret"));
  g_assert_false (mb_store_drop_manifest (s, "../secret"));
  g_assert_true (exists_in (f, "secret"));
  g_assert_true (exists_in (f, "secret.json"));
}

static void
test_manifest_name_too_long_for_a_file_is_refused (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autoptr (MbStore) s = open_store (f);
  g_autofree gchar *name = g_strnfill (MB_MANIFEST_NAME_MAX, 'n');
  g_autoptr (MbManifest) m = manifest_named (name);
  g_autoptr (GError) err = NULL;
  g_assert_false (mb_store_put_manifest (s, m, &err));
  g_assert_error (err, MB_STORE_ERROR, MB_STORE_ERROR_INVALID);
  g_assert_nonnull (strstr (err->message, "too long"));
  g_autofree gchar *manifests = path_in (f, "manifests");
  g_assert_cmpuint (count_entries (manifests), ==, 0);
  g_assert_cmpuint (s->n_manifests, ==, 0);
  g_assert_null (mb_store_get_manifest (s, name));
}

static void
test_missing_data_dir_is_created (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree gchar *nested = path_in (f, "a/b/data");
  g_autoptr (GError) err = NULL;
  g_autoptr (MbStore) s = mb_store_disk_new (nested, &err);
  g_assert_no_error (err);
  g_assert_nonnull (s);
  g_autofree gchar *chunks = g_build_filename (nested, "chunks", NULL);
  g_autofree gchar *manifests = g_build_filename (nested, "manifests", NULL);
  g_assert_true (g_file_test (chunks, G_FILE_TEST_IS_DIR));
  g_assert_true (g_file_test (manifests, G_FILE_TEST_IS_DIR));
  g_assert_cmpuint (s->n_chunks, ==, 0);
  g_assert_cmpuint (s->n_manifests, ==, 0);
}

static void
test_data_dir_that_is_a_file_is_refused (Fixture *f, gconstpointer data)
{
  (void) data;
  plant_file (f, "plain-file", "x");
  g_autofree gchar *file = path_in (f, "plain-file");
  g_autoptr (GError) err = NULL;
  g_assert_null (mb_store_disk_new (file, &err));
  g_assert_error (err, MB_STORE_ERROR, MB_STORE_ERROR_IO);
  g_assert_nonnull (strstr (err->message, file));
  g_assert_nonnull (strstr (err->message, "not a directory"));
  g_clear_error (&err);

  g_autofree gchar *below = path_in (f, "plain-file/data");
  g_assert_null (mb_store_disk_new (below, &err));
  g_assert_error (err, MB_STORE_ERROR, MB_STORE_ERROR_IO);
  g_assert_nonnull (strstr (err->message, below));
  g_clear_error (&err);

  /* chunks/ taken by a file */
  plant_file (f, "store/chunks", "x");
  g_autofree gchar *store = path_in (f, "store");
  g_assert_null (mb_store_disk_new (store, &err));
  g_assert_error (err, MB_STORE_ERROR, MB_STORE_ERROR_IO);
  g_assert_nonnull (strstr (err->message, "chunks"));
  g_clear_error (&err);

  g_assert_null (mb_store_disk_new ("", &err));
  g_assert_error (err, MB_STORE_ERROR, MB_STORE_ERROR_INVALID);
}

static void
test_unwritable_data_dir_is_refused (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree gchar *dir = path_in (f, "locked");
  g_assert_cmpint (g_mkdir (dir, 0500), ==, 0);
  if (g_access (dir, W_OK) == 0)
    {
      g_test_skip ("permissions are not enforced for this user (root?)");
      return;
    }
  g_autoptr (GError) err = NULL;
  g_assert_null (mb_store_disk_new (dir, &err));
  g_assert_error (err, MB_STORE_ERROR, MB_STORE_ERROR_IO);
  g_assert_nonnull (strstr (err->message, dir));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) \
  g_test_add ("/disk-store/" path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("round-trip-of-chunks-and-manifests", test_round_trip_of_chunks_and_manifests);
  ADD ("putting-again-replaces-and-keeps-counters", test_putting_again_replaces_and_keeps_counters);
  ADD ("put-with-wrong-content-is-refused-and-writes-nothing",
       test_put_with_wrong_content_is_refused_and_writes_nothing);
  ADD ("virtual-chunk-is-refused", test_virtual_chunk_is_refused);
  ADD ("stale-tmp-files-are-removed-at-open-and-never-listed",
       test_stale_tmp_files_are_removed_at_open_and_never_listed);
  ADD ("tmp-files-written-while-open-are-not-listed",
       test_tmp_files_written_while_open_are_not_listed);
  ADD ("corrupt-chunk-is-refused-and-moved-aside", test_corrupt_chunk_is_refused_and_moved_aside);
  ADD ("replaced-chunk-is-hashed-again", test_replaced_chunk_is_hashed_again);
  ADD ("truncated-chunk-is-refused", test_truncated_chunk_is_refused);
  ADD ("corrupt-manifest-is-null-with-a-warning-and-moved-aside",
       test_corrupt_manifest_is_null_with_a_warning_and_moved_aside);
  ADD ("manifest-reads-are-kept-until-the-file-changes",
       test_manifest_reads_are_kept_until_the_file_changes);
  ADD ("manifest-that-is-not-a-regular-file-is-null-at-once",
       test_manifest_that_is_not_a_regular_file_is_null_at_once);
  ADD ("kept-manifests-are-bounded", test_kept_manifests_are_bounded);
  ADD ("kept-manifests-are-bounded-in-memory", test_kept_manifests_are_bounded_in_memory);
  ADD ("reopen-finds-what-was-stored-with-exact-counters",
       test_reopen_finds_what_was_stored_with_exact_counters);
  ADD ("listings-are-sorted-and-skip-foreign-files", test_listings_are_sorted_and_skip_foreign_files);
  ADD ("manifest-names-with-leading-dot-or-percent-round-trip",
       test_manifest_names_with_leading_dot_or_percent_round_trip);
  ADD ("unsafe-ids-and-names-never-become-paths", test_unsafe_ids_and_names_never_become_paths);
  ADD ("manifest-name-too-long-for-a-file-is-refused",
       test_manifest_name_too_long_for_a_file_is_refused);
  ADD ("missing-data-dir-is-created", test_missing_data_dir_is_created);
  ADD ("data-dir-that-is-a-file-is-refused", test_data_dir_that_is_a_file_is_refused);
  ADD ("unwritable-data-dir-is-refused", test_unwritable_data_dir_is_refused);
#undef ADD
  return g_test_run ();
}
