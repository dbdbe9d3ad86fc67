/* test_store.c — the memory store: chunks (real and virtual), manifests,
 * sorted listings, exact counters, and refusals that change nothing; with a
 * chunk catalog, the same answers as without (its virtual chunks kept as
 * bits, everything else as before), and a shared manifest frozen. */
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

/* A manifest of n chunks with real ids; chunk i's content is "chunk-<i>"
 * padded to its length. */
static MbManifest *
catalog_manifest (guint n, guint32 chunk)
{
  g_autoptr (GError) err = NULL;
  MbManifest *m = mb_manifest_new ("cat.bin", (guint64) n * chunk - 3, chunk, &err);
  g_assert_no_error (err);
  for (guint i = 0; i < n; i++)
    {
      char id[65];
      g_autofree gchar *text = g_strdup_printf ("chunk-%u", i);
      mb_chunk_id_compute ((const guint8 *) text, strlen (text), id);
      g_assert_true (mb_manifest_set_chunk (m, i, id, i, &err));
    }
  return m;
}

/* Both stores say the same about every id in ids. */
static void
assert_same_store (MbStore *a, MbStore *b, GPtrArray *ids)
{
  g_assert_cmpuint (a->n_chunks, ==, b->n_chunks);
  g_assert_cmpuint (a->chunk_bytes, ==, b->chunk_bytes);
  for (guint k = 0; k < ids->len; k++)
    {
      const char *id = ids->pdata[k];
      g_assert_cmpint (mb_store_has_chunk (a, id), ==, mb_store_has_chunk (b, id));
      GBytes *da = NULL, *db = NULL;
      guint32 la = 0, lb = 0;
      gboolean ga = mb_store_get_chunk (a, id, &da, &la, NULL);
      gboolean gb = mb_store_get_chunk (b, id, &db, &lb, NULL);
      g_assert_cmpint (ga, ==, gb);
      g_assert_cmpuint (la, ==, lb);
      g_assert_true ((da == NULL) == (db == NULL));
      if (da)
        g_assert_true (g_bytes_equal (da, db));
      g_clear_pointer (&da, g_bytes_unref);
      g_clear_pointer (&db, g_bytes_unref);
    }
  g_autoptr (GPtrArray) la = mb_store_list_chunks (a);
  g_autoptr (GPtrArray) lb = mb_store_list_chunks (b);
  g_assert_cmpuint (la->len, ==, lb->len);
  for (guint k = 0; k < la->len; k++)
    g_assert_cmpstr (la->pdata[k], ==, lb->pdata[k]);
}

static void
test_store_catalog_answers_as_without (void)
{
  const guint n = 37;
  const guint32 chunk = 64;
  g_autoptr (MbManifest) m = catalog_manifest (n, chunk);
  MbChunkCatalog *cat = mb_chunk_catalog_new (m);
  g_autoptr (MbStore) plain = mb_store_memory_new ();
  g_autoptr (MbStore) with = mb_store_memory_new_with_catalog (cat);
  mb_chunk_catalog_unref (cat); /* the store keeps its own reference */
  /* the catalog's ids, and ids it does not list */
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (ids, g_strdup (mb_manifest_chunk_id (m, i)));
  for (guint i = 0; i < 5; i++)
    {
      char id[65];
      g_autofree gchar *text = g_strdup_printf ("other-%u", i);
      mb_chunk_id_compute ((const guint8 *) text, strlen (text), id);
      g_ptr_array_add (ids, g_strdup (id));
    }
  g_autoptr (GBytes) real = g_bytes_new ("0123456789abcdef", 16);
  GRand *r = g_rand_new_with_seed (7);
  for (guint step = 0; step < 4000; step++)
    {
      guint k = (guint) g_rand_int_range (r, 0, (gint32) ids->len);
      const char *id = ids->pdata[k];
      guint32 len = k < n ? mb_manifest_chunk_len (m, k) : chunk;
      switch (g_rand_int_range (r, 0, 6))
        {
        case 0: case 1: /* virtual, the catalog's length: a bit with the catalog */
          g_assert_true (mb_store_put_chunk (plain, id, NULL, len, NULL));
          g_assert_true (mb_store_put_chunk (with, id, NULL, len, NULL));
          break;
        case 2: /* virtual, another length: the table */
          g_assert_true (mb_store_put_chunk (plain, id, NULL, len + 1, NULL));
          g_assert_true (mb_store_put_chunk (with, id, NULL, len + 1, NULL));
          break;
        case 3: /* real bytes: the table */
          g_assert_true (mb_store_put_chunk (plain, id, real, 16, NULL));
          g_assert_true (mb_store_put_chunk (with, id, real, 16, NULL));
          break;
        default:
          g_assert_cmpint (mb_store_drop_chunk (plain, id), ==, mb_store_drop_chunk (with, id));
          break;
        }
      if (step % 97 == 0)
        assert_same_store (plain, with, ids);
    }
  assert_same_store (plain, with, ids);
  g_rand_free (r);
  /* the whole catalog held as bits costs less than a table entry a chunk */
  g_autoptr (MbStore) full = mb_store_memory_new_with_catalog (cat = mb_chunk_catalog_new (m));
  mb_chunk_catalog_unref (cat);
  g_autoptr (MbStore) full_plain = mb_store_memory_new ();
  for (guint i = 0; i < n; i++)
    {
      mb_store_put_chunk (full, ids->pdata[i], NULL, mb_manifest_chunk_len (m, i), NULL);
      mb_store_put_chunk (full_plain, ids->pdata[i], NULL, mb_manifest_chunk_len (m, i), NULL);
    }
  assert_same_store (full_plain, full, ids);
  g_assert_cmpuint (mb_store_heap_bytes (full) * 10, <, mb_store_heap_bytes (full_plain));
}

static void
test_store_frozen_manifest_is_shared (void)
{
  g_autoptr (MbManifest) m = catalog_manifest (4, 64);
  g_autoptr (MbManifest) copy = mb_manifest_share (m); /* not frozen: a copy */
  g_assert_true (copy != m);
  g_assert_true (mb_manifest_add_holder (copy, 0, "peer1:5000"));
  mb_manifest_freeze (m);
  g_assert_true (mb_manifest_is_frozen (m));
  gsize alone = mb_manifest_memory (m);
  g_assert_cmpuint (alone, >, 4 * 65);
  g_autoptr (MbManifest) shared = mb_manifest_share (m);
  g_assert_true (shared == m);
  /* a shared manifest counts its share at each holder: half each */
  g_assert_cmpuint (mb_manifest_memory (m), ==, alone / 2);
  /* the mutators refuse it */
  g_test_expect_message (NULL, G_LOG_LEVEL_CRITICAL, "*frozen*");
  g_assert_false (mb_manifest_add_holder (m, 0, "peer1:5000"));
  g_test_assert_expected_messages ();
  g_assert_cmpuint (mb_manifest_n_holders (m, 0), ==, 0);
  /* a copy of a frozen manifest is not frozen */
  g_autoptr (MbManifest) thawed = mb_manifest_copy (m);
  g_assert_false (mb_manifest_is_frozen (thawed));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/store/chunks-real-and-virtual", test_store_chunks_real_and_virtual);
  g_test_add_func ("/store/refuses-bad-chunk-and-keeps-state", test_store_refuses_bad_chunk_and_keeps_state);
  g_test_add_func ("/store/manifests-are-copies", test_store_manifests_are_copies);
  g_test_add_func ("/store/refuses-invalid-manifest", test_store_refuses_invalid_manifest);
  g_test_add_func ("/store/catalog-answers-as-without", test_store_catalog_answers_as_without);
  g_test_add_func ("/store/frozen-manifest-is-shared", test_store_frozen_manifest_is_shared);
  return g_test_run ();
}
