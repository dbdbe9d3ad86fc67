/* test_download.c — a download through the store interface: begun by
 * name, its fetch's file written as the chunks come, ended with the
 * fetch's outcome; the chunks it got kept inside that file (chunk-refs):
 * counted, listed, served, dropped and reloaded like chunk files; a failed
 * fetch leaves no file and no chunk; a file changed behind the store's back
 * is not served; one download per name; a fetch nobody downloads is plain
 * puts; a store without the hooks (memory) refuses downloads.
 */
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "content/chunk.h"
#include "disk-store.h"
#include "content/manifest.h"
#include "content/store.h"
#include "test-util.h"

static const char *const PARTS[] = { "abcd", "efgh", "ij" }; /* chunk size 4 */
#define N_PARTS 3

typedef struct {
  gchar *dir;
  gchar *downloads;
  MbManifest *m;
  char ids[N_PARTS][65];
} Fixture;

typedef struct {
  gboolean done;
  gchar *path;
  gchar *error;
} Outcome;

static void
set_up (Fixture *f, gconstpointer data)
{
  (void) data;
  f->dir = g_dir_make_tmp ("minibit-download-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  f->downloads = g_build_filename (f->dir, "downloads", NULL);
  f->m = mb_manifest_new ("file.bin", 10, 4, NULL);
  for (guint i = 0; i < N_PARTS; i++)
    {
      mb_chunk_id_compute ((const guint8 *) PARTS[i], strlen (PARTS[i]), f->ids[i]);
      g_assert_true (mb_manifest_set_chunk (f->m, i, f->ids[i], 0, NULL));
    }
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  (void) data;
  mb_manifest_unref (f->m);
  mb_test_remove_tree (f->dir);
  g_free (f->downloads);
  g_free (f->dir);
}

static MbStore *
open_store (Fixture *f)
{
  g_autoptr (GError) err = NULL;
  MbStore *s = mb_store_disk_new (f->dir, &err);
  g_assert_no_error (err);
  mb_store_disk_set_download_dir (s, f->downloads);
  return s;
}

static GBytes *
part (guint i)
{
  return g_bytes_new_static (PARTS[i], strlen (PARTS[i]));
}

static void
on_done (const char *path, guint64 size, const GError *error, gpointer data)
{
  Outcome *o = data;
  o->done = TRUE;
  o->path = g_strdup (path);
  o->error = error ? g_strdup (error->message) : NULL;
  if (path)
    g_assert_cmpuint (size, ==, 10);
}

/* Asks for the download of file.bin; o gets its outcome. */
static void
begin (MbStore *s, Outcome *o)
{
  g_autoptr (GError) err = NULL;
  g_assert_true (mb_store_download_begin (s, "file.bin", on_done, o, &err));
  g_assert_no_error (err);
}

/* Ends it and waits for the outcome. */
static void
end (MbStore *s, gboolean ok, Outcome *o)
{
  mb_store_download_end (s, "file.bin", ok);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!o->done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (o->done);
}

static void
outcome_clear (Outcome *o)
{
  g_free (o->path);
  g_free (o->error);
  memset (o, 0, sizeof *o);
}

/* Chunk 0 held already (a chunk file); 1 and 2 fetched. */
static void
fetch_all (Fixture *f, MbStore *s)
{
  g_autoptr (GBytes) b0 = part (0), b1 = part (1), b2 = part (2);
  g_assert_true (mb_store_put_chunk (s, f->ids[0], b0, 4, NULL));
  Outcome o = { 0 };
  begin (s, &o);
  mb_store_fetch_begin (s, f->m);
  g_assert_true (mb_store_put_fetched (s, f->m, 2, b2, NULL));
  g_assert_true (mb_store_put_fetched (s, f->m, 1, b1, NULL));
  end (s, TRUE, &o);
  g_assert_null (o.error);
  g_autofree gchar *want = g_build_filename (f->downloads, "file.bin", NULL);
  g_assert_cmpstr (o.path, ==, want);
  g_autofree gchar *text = NULL;
  g_assert_true (g_file_get_contents (want, &text, NULL, NULL));
  g_assert_cmpstr (text, ==, "abcdefghij");
  outcome_clear (&o);
}

static void
assert_holds (MbStore *s, const char *id, const char *bytes)
{
  g_autoptr (GError) err = NULL;
  GBytes *got = NULL;
  guint32 len = 0;
  g_assert_true (mb_store_has_chunk (s, id));
  g_assert_true (mb_store_get_chunk (s, id, &got, &len, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (len, ==, strlen (bytes));
  g_assert_cmpmem (g_bytes_get_data (got, NULL), len, bytes, strlen (bytes));
  g_bytes_unref (got);
}

/* Frees s, reopens the store: it counts and serves every chunk of the file. */
static void
assert_reopened_holds_all (Fixture *f, MbStore *s)
{
  mb_store_free (s);
  s = open_store (f);
  g_assert_cmpuint (s->n_chunks, ==, N_PARTS);
  for (guint i = 0; i < N_PARTS; i++)
    assert_holds (s, f->ids[i], PARTS[i]);
  mb_store_free (s);
}

static void
test_fetched_chunks_live_in_the_file (Fixture *f, gconstpointer data)
{
  (void) data;
  MbStore *s = open_store (f);
  fetch_all (f, s);
  /* chunk 0 stays a chunk file; 1 and 2 are not written twice */
  g_autofree gchar *c1 = g_build_filename (f->dir, "chunks", (char[3]) { f->ids[1][0], f->ids[1][1], 0 },
                                           f->ids[1], NULL);
  g_assert_false (g_file_test (c1, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (s->n_chunks, ==, 3);
  g_assert_cmpuint (s->chunk_bytes, ==, 10);
  for (guint i = 0; i < N_PARTS; i++)
    assert_holds (s, f->ids[i], PARTS[i]);
  g_autoptr (GPtrArray) ids = mb_store_list_chunks (s);
  g_assert_cmpuint (ids->len, ==, 3);

  /* reopened: the index brings them back; a drop is remembered */
  mb_store_free (s);
  s = open_store (f);
  g_assert_cmpuint (s->n_chunks, ==, 3);
  assert_holds (s, f->ids[2], "ij");
  g_assert_true (mb_store_drop_chunk (s, f->ids[1]));
  g_assert_false (mb_store_has_chunk (s, f->ids[1]));
  g_assert_cmpuint (s->n_chunks, ==, 2);
  mb_store_free (s);
  s = open_store (f);
  g_assert_cmpuint (s->n_chunks, ==, 2);
  g_assert_false (mb_store_has_chunk (s, f->ids[1]));
  assert_holds (s, f->ids[2], "ij");

  /* a chunk file put later replaces the reference, counted once */
  g_autoptr (GBytes) b2 = part (2);
  g_assert_true (mb_store_put_chunk (s, f->ids[2], b2, 2, NULL));
  g_assert_cmpuint (s->n_chunks, ==, 2);
  g_assert_cmpuint (s->chunk_bytes, ==, 6);
  mb_store_free (s);
}

static void
test_fetching_again_keeps_every_chunk (Fixture *f, gconstpointer data)
{
  (void) data;
  MbStore *s = open_store (f);
  fetch_all (f, s);
  /* the same file again: every chunk is local, copied into the new file,
   * and the ones kept in the old file move to the new one */
  Outcome o = { 0 };
  begin (s, &o);
  mb_store_fetch_begin (s, f->m);
  end (s, TRUE, &o);
  g_assert_null (o.error);
  outcome_clear (&o);
  g_assert_cmpuint (s->n_chunks, ==, 3);
  assert_reopened_holds_all (f, s);
}

static void
test_a_failed_fetch_leaves_nothing (Fixture *f, gconstpointer data)
{
  (void) data;
  MbStore *s = open_store (f);
  g_autoptr (GBytes) b1 = part (1), bad = g_bytes_new_static ("xxxx", 4);
  Outcome o = { 0 };
  begin (s, &o);
  mb_store_fetch_begin (s, f->m);
  g_assert_true (mb_store_put_fetched (s, f->m, 1, b1, NULL));
  g_autoptr (GError) err = NULL;
  g_assert_false (mb_store_put_fetched (s, f->m, 0, bad, &err));
  g_assert_error (err, MB_STORE_ERROR, MB_STORE_ERROR_INVALID);
  /* chunks a fetch got are held from the moment its file is whole */
  g_assert_cmpuint (s->n_chunks, ==, 0);
  end (s, FALSE, &o);
  g_assert_null (o.path);
  g_assert_nonnull (o.error);
  outcome_clear (&o);
  g_assert_cmpuint (s->n_chunks, ==, 0);
  g_assert_false (mb_store_has_chunk (s, f->ids[1]));
  GDir *d = g_dir_open (f->downloads, 0, NULL);
  g_assert_nonnull (d);
  g_assert_null (g_dir_read_name (d)); /* no file, no temporary file */
  g_dir_close (d);
  mb_store_free (s);
}

static void
test_a_changed_file_is_not_served (Fixture *f, gconstpointer data)
{
  (void) data;
  MbStore *s = open_store (f);
  fetch_all (f, s);
  mb_store_free (s);
  /* the user edits the downloaded file: chunk 2's bytes change */
  g_autofree gchar *path = g_build_filename (f->downloads, "file.bin", NULL);
  g_assert_true (g_file_set_contents (path, "abcdefghIJ", -1, NULL));
  s = open_store (f);
  g_autoptr (GError) err = NULL;
  GBytes *got = NULL;
  g_assert_false (mb_store_get_chunk (s, f->ids[2], &got, NULL, &err));
  g_assert_error (err, MB_STORE_ERROR, MB_STORE_ERROR_IO);
  g_assert_nonnull (strstr (err->message, path));
  g_assert_false (mb_store_has_chunk (s, f->ids[2]));
  assert_holds (s, f->ids[1], "efgh"); /* the rest still serves */
  g_assert_cmpuint (s->n_chunks, ==, 2);
  /* the user deletes it: its chunks are gone at the next start */
  g_unlink (path);
  mb_store_free (s);
  s = open_store (f);
  g_assert_cmpuint (s->n_chunks, ==, 1);
  g_assert_false (mb_store_has_chunk (s, f->ids[1]));
  mb_store_free (s);
}

static void
test_shared_file_copies_stay_in_it (Fixture *f, gconstpointer data)
{
  (void) data;
  MbStore *s = open_store (f);
  g_autofree gchar *path = g_build_filename (f->dir, "file.bin", NULL);
  g_assert_true (g_file_set_contents (path, "abcdefghij", -1, NULL));
  GMappedFile *mf = g_mapped_file_new (path, FALSE, NULL);
  g_assert_nonnull (mf);
  g_autoptr (GBytes) content = g_mapped_file_get_bytes (mf);
  g_mapped_file_unref (mf);
  mb_store_share_begin (s, path, content);
  for (guint i = 0; i < N_PARTS; i++)
    {
      g_autoptr (GBytes) slice = g_bytes_new_from_bytes (content, 4 * i, strlen (PARTS[i]));
      g_assert_true (mb_store_put_chunk (s, f->ids[i], slice, (guint32) strlen (PARTS[i]), NULL));
    }
  /* bytes that are not the id's are refused even from the shared file */
  g_autoptr (GBytes) wrong = g_bytes_new_from_bytes (content, 1, 4);
  g_autoptr (GError) err = NULL;
  g_assert_false (mb_store_put_chunk (s, f->ids[0], wrong, 4, &err));
  g_assert_error (err, MB_STORE_ERROR, MB_STORE_ERROR_INVALID);
  mb_store_share_end (s, content);
  g_autofree gchar *chunks = g_build_filename (f->dir, "chunks", NULL);
  GDir *d = g_dir_open (chunks, 0, NULL);
  g_assert_nonnull (d);
  g_assert_null (g_dir_read_name (d)); /* nothing copied into chunks/ */
  g_dir_close (d);
  g_assert_cmpuint (s->n_chunks, ==, 3);
  assert_reopened_holds_all (f, s);
}

static void
test_a_deleted_file_is_fetched_again (Fixture *f, gconstpointer data)
{
  (void) data;
  MbStore *s = open_store (f);
  fetch_all (f, s);
  /* the user deletes the download while the peer runs: its chunks are gone
   * at once, and a new fetch gets them again instead of failing */
  g_autofree gchar *path = g_build_filename (f->downloads, "file.bin", NULL);
  g_assert_cmpint (g_unlink (path), ==, 0);
  g_assert_false (mb_store_has_chunk (s, f->ids[1]));
  g_assert_cmpuint (s->n_chunks, ==, 1);
  g_autoptr (GBytes) b1 = part (1), b2 = part (2);
  Outcome o = { 0 };
  begin (s, &o);
  mb_store_fetch_begin (s, f->m);
  g_assert_true (mb_store_put_fetched (s, f->m, 1, b1, NULL));
  g_assert_true (mb_store_put_fetched (s, f->m, 2, b2, NULL));
  end (s, TRUE, &o);
  g_assert_null (o.error);
  outcome_clear (&o);
  g_autofree gchar *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_assert_cmpstr (text, ==, "abcdefghij");
  g_assert_cmpuint (s->n_chunks, ==, 3);
  mb_store_free (s);
}

static void
test_a_bad_index_is_named_and_skipped (Fixture *f, gconstpointer data)
{
  (void) data;
  MbStore *s = open_store (f);
  fetch_all (f, s);
  mb_store_free (s);
  /* the download's index gets a broken line; a stray file is no index */
  g_autofree gchar *refs = g_build_filename (f->dir, "refs", NULL);
  GDir *d = g_dir_open (refs, 0, NULL);
  g_assert_nonnull (d);
  g_autofree gchar *index = g_build_filename (refs, g_dir_read_name (d), NULL);
  g_assert_null (g_dir_read_name (d));
  g_dir_close (d);
  g_autofree gchar *text = NULL;
  g_assert_true (g_file_get_contents (index, &text, NULL, NULL));
  g_autofree gchar *broken = g_strconcat (text, "not-an-id 0 4\n", NULL);
  g_assert_true (g_file_set_contents (index, broken, -1, NULL));
  g_autofree gchar *junk = g_build_filename (refs, "junk.refs", NULL);
  g_assert_true (g_file_set_contents (junk, "hello\n", -1, NULL));

  /* indexes load in name order: the download's (hex) before junk.refs */
  g_test_expect_message (NULL, G_LOG_LEVEL_WARNING, "*line 5 is not \"ID OFFSET LENGTH\"*");
  g_test_expect_message (NULL, G_LOG_LEVEL_WARNING, "*junk.refs: not a chunk index; removed*");
  s = open_store (f);
  g_test_assert_expected_messages ();
  g_assert_false (g_file_test (junk, G_FILE_TEST_EXISTS));
  /* the good lines still count: nothing held is lost */
  g_assert_cmpuint (s->n_chunks, ==, N_PARTS);
  for (guint i = 0; i < N_PARTS; i++)
    assert_holds (s, f->ids[i], PARTS[i]);
  mb_store_free (s);
}

static void
test_one_download_per_name (Fixture *f, gconstpointer data)
{
  (void) data;
  MbStore *s = open_store (f);
  Outcome o = { 0 }, o2 = { 0 };
  begin (s, &o);
  g_autoptr (GError) err = NULL;
  g_assert_false (mb_store_download_begin (s, "file.bin", on_done, &o2, &err));
  g_assert_error (err, MB_STORE_ERROR, MB_STORE_ERROR_BUSY);
  g_clear_error (&err);
  g_assert_false (mb_store_download_begin (s, "../file.bin", on_done, &o2, &err));
  g_assert_error (err, MB_STORE_ERROR, MB_STORE_ERROR_INVALID);
  /* ended (its fetch never began: an error, at once): the name is free */
  mb_store_download_end (s, "file.bin", TRUE);
  g_assert_true (o.done);
  g_assert_null (o.path);
  g_assert_nonnull (strstr (o.error, "no fetch of file.bin began"));
  outcome_clear (&o);
  begin (s, &o);
  mb_store_download_end (s, "file.bin", FALSE);
  g_assert_true (o.done);
  g_assert_nonnull (strstr (o.error, "did not get every chunk"));
  outcome_clear (&o);
  g_assert_false (o2.done);
  mb_store_download_end (s, "file.bin", TRUE); /* none running: nothing */
  mb_store_free (s);
}

static void
test_a_fetch_nobody_downloads_is_stored (Fixture *f, gconstpointer data)
{
  (void) data;
  MbStore *s = open_store (f);
  g_autoptr (GBytes) b1 = part (1);
  mb_store_fetch_begin (s, f->m);
  g_assert_true (mb_store_put_fetched (s, f->m, 1, b1, NULL));
  g_autofree gchar *c1 = g_build_filename (f->dir, "chunks", (char[3]) { f->ids[1][0], f->ids[1][1], 0 },
                                           f->ids[1], NULL);
  g_assert_true (g_file_test (c1, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpuint (s->n_chunks, ==, 1);
  g_assert_false (g_file_test (f->downloads, G_FILE_TEST_EXISTS));
  mb_store_free (s);
}

static void
test_no_download_without_the_hooks (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autoptr (MbStore) s = mb_store_memory_new ();
  Outcome o = { 0 };
  g_autoptr (GError) err = NULL;
  g_assert_false (mb_store_download_begin (s, "file.bin", on_done, &o, &err));
  g_assert_error (err, MB_STORE_ERROR, MB_STORE_ERROR_INVALID);
  mb_store_download_end (s, "file.bin", TRUE);
  g_assert_false (o.done);
  /* sharing is nothing to it: puts are copies as ever */
  g_autoptr (GBytes) content = g_bytes_new_static ("abcdefghij", 10);
  mb_store_share_begin (s, "/nowhere/file.bin", content);
  g_autoptr (GBytes) slice = g_bytes_new_from_bytes (content, 0, 4);
  g_assert_true (mb_store_put_chunk (s, f->ids[0], slice, 4, NULL));
  mb_store_share_end (s, content);
  assert_holds (s, f->ids[0], "abcd");
}

/* A running download serves the chunks it got (has_chunk, get_chunk: a
 * swarm's fetchers serve one another while they fetch), before its commit. */
static void
test_got_chunks_are_served_before_the_end (Fixture *f, gconstpointer data)
{
  (void) data;
  MbStore *s = open_store (f);
  g_autoptr (GBytes) b1 = part (1);
  Outcome o = { 0 };
  begin (s, &o);
  mb_store_fetch_begin (s, f->m);
  g_assert_false (mb_store_has_chunk (s, f->ids[1]));
  g_assert_true (mb_store_put_fetched (s, f->m, 1, b1, NULL));
  g_assert_true (mb_store_has_chunk (s, f->ids[1]));
  assert_holds (s, f->ids[1], "efgh");
  /* still served once the worker wrote it (read back from the file) */
  g_usleep (200 * 1000); /* the worker thread writes it meanwhile */
  assert_holds (s, f->ids[1], "efgh");
  /* a failed fetch: no longer served */
  end (s, FALSE, &o);
  g_assert_false (mb_store_has_chunk (s, f->ids[1]));
  outcome_clear (&o);
  mb_store_free (s);
}

static void
mark_freed (gpointer data)
{
  g_atomic_int_set ((gint *) data, 1);
}

/* A chunk the worker has written is not kept in memory until the fetch
 * ends: the next put lets go of it (else a fetch nobody asks chunks of
 * held the whole file in memory). */
static void
test_written_chunks_leave_memory (Fixture *f, gconstpointer data)
{
  (void) data;
  MbStore *s = open_store (f);
  gint freed = 0;
  GBytes *b1 = g_bytes_new_with_free_func (PARTS[1], strlen (PARTS[1]), mark_freed, &freed);
  Outcome o = { 0 };
  begin (s, &o);
  mb_store_fetch_begin (s, f->m);
  g_assert_true (mb_store_put_fetched (s, f->m, 1, b1, NULL));
  g_bytes_unref (b1);
  g_assert_false (g_atomic_int_get (&freed)); /* served from memory until written */
  g_autoptr (GBytes) b0 = part (0);
  g_autoptr (GBytes) b2 = part (2);
  /* puts until the worker has written chunk 1 and a put let go of it (the
   * worker writes in a thread: 10 s at most) */
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  guint i = 0;
  while (!g_atomic_int_get (&freed) && g_get_monotonic_time () < deadline)
    {
      g_usleep (10 * 1000);
      gboolean zero = i++ % 2 == 0;
      g_assert_true (mb_store_put_fetched (s, f->m, zero ? 0 : 2, zero ? b0 : b2, NULL));
    }
  g_assert_true (g_atomic_int_get (&freed));
  assert_holds (s, f->ids[1], "efgh"); /* still served: read back from the file */
  g_assert_true (mb_store_put_fetched (s, f->m, 0, b0, NULL));
  g_assert_true (mb_store_put_fetched (s, f->m, 2, b2, NULL));
  end (s, TRUE, &o);
  g_assert_null (o.error);
  outcome_clear (&o);
  mb_store_free (s);
}

/* A fetch that says it got everything but left a chunk out is refused:
 * never a file with a hole as a success. */
static void
test_a_hole_is_refused (Fixture *f, gconstpointer data)
{
  (void) data;
  MbStore *s = open_store (f);
  g_autoptr (GBytes) b0 = part (0), b2 = part (2);
  Outcome o = { 0 };
  begin (s, &o);
  mb_store_fetch_begin (s, f->m);
  g_assert_true (mb_store_put_fetched (s, f->m, 0, b0, NULL));
  g_assert_true (mb_store_put_fetched (s, f->m, 2, b2, NULL));
  end (s, TRUE, &o);
  g_assert_null (o.path);
  g_assert_nonnull (o.error);
  g_assert_nonnull (strstr (o.error, "without chunk 1"));
  g_autofree gchar *want = g_build_filename (f->downloads, "file.bin", NULL);
  g_assert_false (g_file_test (want, G_FILE_TEST_EXISTS));
  outcome_clear (&o);
  mb_store_free (s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add ("/download/" path, Fixture, NULL, set_up, fn, tear_down)
  ADD ("fetched-chunks-live-in-the-file", test_fetched_chunks_live_in_the_file);
  ADD ("fetching-again-keeps-every-chunk", test_fetching_again_keeps_every_chunk);
  ADD ("a-failed-fetch-leaves-nothing", test_a_failed_fetch_leaves_nothing);
  ADD ("a-changed-file-is-not-served", test_a_changed_file_is_not_served);
  ADD ("shared-file-copies-stay-in-it", test_shared_file_copies_stay_in_it);
  ADD ("a-deleted-file-is-fetched-again", test_a_deleted_file_is_fetched_again);
  ADD ("a-bad-index-is-named-and-skipped", test_a_bad_index_is_named_and_skipped);
  ADD ("one-download-per-name", test_one_download_per_name);
  ADD ("a-fetch-nobody-downloads-is-stored", test_a_fetch_nobody_downloads_is_stored);
  ADD ("no-download-without-the-hooks", test_no_download_without_the_hooks);
  ADD ("got-chunks-are-served-before-the-end", test_got_chunks_are_served_before_the_end);
  ADD ("a-hole-is-refused", test_a_hole_is_refused);
  ADD ("written-chunks-leave-memory", test_written_chunks_leave_memory);
  return g_test_run ();
}
