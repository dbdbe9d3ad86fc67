/* test_store.c — the memory store: chunks (real and virtual), manifests,
 * sorted listings, exact counters, and refusals that change nothing. */
#include <string.h>

#include "content/chunk.h"
#include "content/store.h"

static void
test_store_chunks_real_and_virtual (void)
{
  g_autoptr (MbStore) s = mb_store_memory_new ();
  char id[65];
  mb_chunk_id_compute ((const guint8 *) "hello", 5, id);
  g_autoptr (GBytes) data = g_bytes_new ("hello", 5);
  g_autoptr (GError) err = NULL;
  g_assert_true (mb_store_put_chunk (s, id, data, 5, &err));
  g_assert_no_error (err);
  g_assert_true (mb_store_has_chunk (s, id));
  char vid[65];
  mb_chunk_id_compute ((const guint8 *) "virtual", 7, vid);
  g_assert_true (mb_store_put_chunk (s, vid, NULL, 262144, &err));
  g_assert_cmpuint (s->n_chunks, ==, 2);
  g_assert_cmpuint (s->chunk_bytes, ==, 262144 + 5);

  GBytes *got = NULL;
  guint32 len = 0;
  g_assert_true (mb_store_get_chunk (s, vid, &got, &len, &err));
  g_assert_null (got);
  g_assert_cmpuint (len, ==, 262144);
  g_assert_true (mb_store_get_chunk (s, id, &got, &len, &err));
  g_assert_true (g_bytes_equal (got, data));
  g_bytes_unref (got);

  g_autoptr (GPtrArray) ids = mb_store_list_chunks (s);
  g_assert_cmpuint (ids->len, ==, 2);
  g_assert_cmpint (strcmp (ids->pdata[0], ids->pdata[1]), <, 0);

  g_assert_true (mb_store_drop_chunk (s, id));
  g_assert_false (mb_store_drop_chunk (s, id));
  g_assert_cmpuint (s->n_chunks, ==, 1);
  g_assert_cmpuint (s->chunk_bytes, ==, 262144);
  g_assert_false (mb_store_get_chunk (s, id, &got, &len, &err));
  g_assert_error (err, MB_STORE_ERROR, MB_STORE_ERROR_NOT_FOUND);
}

static void
test_store_refuses_bad_chunk_and_keeps_state (void)
{
  g_autoptr (MbStore) s = mb_store_memory_new ();
  g_autoptr (GBytes) data = g_bytes_new ("hello", 5);
  g_autoptr (GError) err = NULL;
  g_assert_false (mb_store_put_chunk (s, "not-an-id", data, 5, &err));
  g_assert_error (err, MB_STORE_ERROR, MB_STORE_ERROR_INVALID);
  g_clear_error (&err);
  char id[65];
  mb_chunk_id_compute ((const guint8 *) "hello", 5, id);
  g_assert_false (mb_store_put_chunk (s, id, data, 6, &err));
  g_assert_error (err, MB_STORE_ERROR, MB_STORE_ERROR_INVALID);
  g_assert_cmpuint (s->n_chunks, ==, 0);
  g_assert_cmpuint (s->chunk_bytes, ==, 0);
}

static void
test_store_manifests_are_copies (void)
{
  g_autoptr (MbStore) s = mb_store_memory_new ();
  g_autoptr (GError) err = NULL;
  g_autoptr (MbManifest) m = mb_manifest_new ("a.txt", 5, 4, &err);
  g_assert_no_error (err);
  char id[65];
  mb_chunk_id_compute ((const guint8 *) "hell", 4, id);
  g_assert_true (mb_manifest_set_chunk (m, 0, id, 1, &err));
  mb_chunk_id_compute ((const guint8 *) "o", 1, id);
  g_assert_true (mb_manifest_set_chunk (m, 1, id, 2, &err));
  g_assert_true (mb_store_put_manifest (s, m, &err));
  g_assert_no_error (err);
  mb_manifest_add_holder (m, 0, "peer9:5000");  /* after the put: not seen by the store */
  g_autoptr (MbManifest) got = mb_store_get_manifest (s, "a.txt");
  g_assert_nonnull (got);
  g_assert_cmpuint (mb_manifest_n_holders (got, 0), ==, 0);
  g_assert_cmpuint (s->n_manifests, ==, 1);
  g_assert_true (mb_store_put_manifest (s, m, &err));
  g_assert_cmpuint (s->n_manifests, ==, 1);
  g_autoptr (GPtrArray) names = mb_store_list_manifests (s);
  g_assert_cmpuint (names->len, ==, 1);
  g_assert_cmpstr (names->pdata[0], ==, "a.txt");
  g_assert_true (mb_store_drop_manifest (s, "a.txt"));
  g_assert_null (mb_store_get_manifest (s, "a.txt"));
  g_assert_cmpuint (s->n_manifests, ==, 0);
}

static void
test_store_refuses_invalid_manifest (void)
{
  g_autoptr (MbStore) s = mb_store_memory_new ();
  g_autoptr (GError) err = NULL;
  g_autoptr (MbManifest) m = mb_manifest_new ("b.txt", 10, 4, &err);
  /* ids never set: not a valid manifest */
  g_assert_false (mb_store_put_manifest (s, m, &err));
  g_assert_nonnull (err);
  g_assert_null (mb_store_get_manifest (s, "b.txt"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/store/chunks-real-and-virtual", test_store_chunks_real_and_virtual);
  g_test_add_func ("/store/refuses-bad-chunk-and-keeps-state", test_store_refuses_bad_chunk_and_keeps_state);
  g_test_add_func ("/store/manifests-are-copies", test_store_manifests_are_copies);
  g_test_add_func ("/store/refuses-invalid-manifest", test_store_refuses_invalid_manifest);
  return g_test_run ();
}
