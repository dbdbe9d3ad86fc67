/* test_manifest_version.c — a manifest's version and content hash: the
 * default (1) and what keeps it (copy, both forms), the binary form 2 and
 * its checked hash, JSON without a version (older writers) and with a
 * wrong content hash, and the order every holder applies (newer replaces,
 * older is refused, equal versions of different contents are settled the
 * same way whatever the arrival order). */
#include <string.h>

#include "content/chunk.h"
#include "content/manifest.h"

/* name, `n` chunks of 100 bytes whose content starts with `seed`. */
static MbManifest *
make (const char *name, guint n, guint seed)
{
  MbManifest *m = mb_manifest_new (name, (guint64) n * 100, 100, NULL);
  for (guint i = 0; i < n; i++)
    {
      guint8 buf[100];
      memset (buf, (int) (seed + i), sizeof buf);
      char id[65];
      mb_chunk_id_compute (buf, sizeof buf, id);
      g_assert_true (mb_manifest_set_chunk (m, i, id, mb_chunk_crc_compute (buf, sizeof buf), NULL));
      mb_manifest_add_holder (m, i, "10.0.0.1:7000");
    }
  return m;
}

static void
test_default_and_copy (void)
{
  g_autoptr (MbManifest) m = make ("v.bin", 3, 1);
  g_assert_cmpuint (mb_manifest_version (m), ==, 1);
  mb_manifest_set_version (m, 7);
  g_autoptr (MbManifest) c = mb_manifest_copy (m);
  g_assert_cmpuint (mb_manifest_version (c), ==, 7);
  g_assert_true (mb_manifest_equal (m, c));
  mb_manifest_set_version (c, 8);
  g_assert_false (mb_manifest_equal (m, c));
}

static void
test_content_hash (void)
{
  g_autoptr (MbManifest) a = make ("v.bin", 3, 1);
  g_autoptr (MbManifest) b = make ("v.bin", 3, 1);
  g_autoptr (MbManifest) other = make ("v.bin", 3, 2);
  char ha[65], hb[65], ho[65];
  mb_manifest_content_hash (a, ha);
  mb_manifest_add_holder (b, 0, "10.0.0.9:7000");   /* holders do not count */
  mb_manifest_set_version (b, 4);                   /* nor does the version */
  mb_manifest_content_hash (b, hb);
  mb_manifest_content_hash (other, ho);
  g_assert_cmpstr (ha, ==, hb);
  g_assert_cmpstr (ha, !=, ho);
  g_assert_cmpuint (strlen (ha), ==, 64);
  /* SHA-256 over the size (u64 big-endian) and the raw ids, by hand. */
  GChecksum *ck = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 size_be[8] = { 0, 0, 0, 0, 0, 0, 0x01, 0x2c };   /* 300 */
  g_checksum_update (ck, size_be, 8);
  for (guint i = 0; i < 3; i++)
    {
      guint8 raw[32];
      gsize n = 32;
      GChecksum *c = g_checksum_new (G_CHECKSUM_SHA256);
      guint8 buf[100];
      memset (buf, (int) (1 + i), sizeof buf);
      g_checksum_update (c, buf, sizeof buf);
      g_checksum_get_digest (c, raw, &n);
      g_checksum_free (c);
      g_checksum_update (ck, raw, 32);
    }
  g_assert_cmpstr (g_checksum_get_string (ck), ==, ha);
  g_checksum_free (ck);
}

static void
test_binary_forms (void)
{
  g_autoptr (MbManifest) m = make ("v.bin", 2, 1);
  /* Version 1: form 1, as before versions existed. */
  g_autoptr (GBytes) b1 = mb_manifest_to_bytes (m);
  const guint8 *d1 = g_bytes_get_data (b1, NULL);
  g_assert_cmpuint (d1[2], ==, 1);
  g_assert_cmpuint (g_bytes_get_size (b1), ==, mb_manifest_encoded_size (m));
  /* Version 5: form 2, with the version and the content hash. */
  mb_manifest_set_version (m, 5);
  g_autoptr (GBytes) b2 = mb_manifest_to_bytes (m);
  gsize n2;
  const guint8 *d2 = g_bytes_get_data (b2, &n2);
  g_assert_cmpuint (d2[2], ==, 2);
  g_assert_cmpuint (n2, ==, mb_manifest_encoded_size (m));
  g_assert_cmpuint (n2, ==, g_bytes_get_size (b1) + 40);
  g_autoptr (GError) err = NULL;
  g_autoptr (MbManifest) back = mb_manifest_from_bytes (d2, n2, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (mb_manifest_version (back), ==, 5);
  g_assert_true (mb_manifest_equal (back, m));
  /* A content hash that is not the chunk list's is refused. */
  g_autoptr (GByteArray) bad = g_byte_array_new ();
  g_byte_array_append (bad, d2, (guint) n2);
  bad->data[3 + 8] ^= 1;
  g_autoptr (MbManifest) none = mb_manifest_from_bytes (bad->data, bad->len, &err);
  g_assert_null (none);
  g_assert_error (err, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_PARSE);
  g_assert_nonnull (strstr (err->message, "content hash"));
  g_clear_error (&err);
  /* A version JSON could not hold is refused. */
  bad->data[3 + 8] ^= 1;
  memset (bad->data + 3, 0xff, 8);
  g_assert_null (mb_manifest_from_bytes (bad->data, bad->len, &err));
  g_assert_error (err, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_PARSE);
  g_assert_nonnull (strstr (err->message, "is above"));
  g_clear_error (&err);
  /* Form 2 saying version 1 is not canonical. */
  memset (bad->data + 3, 0, 8);
  bad->data[3 + 7] = 1;
  g_assert_null (mb_manifest_from_bytes (bad->data, bad->len, &err));
  g_assert_error (err, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_PARSE);
}

static void
test_json (void)
{
  g_autoptr (MbManifest) m = make ("v.bin", 2, 1);
  mb_manifest_set_version (m, 3);
  g_autofree gchar *json = mb_manifest_to_json (m);
  g_assert_nonnull (strstr (json, "\"version\":3"));
  char hash[65];
  mb_manifest_content_hash (m, hash);
  g_autofree gchar *hash_member = g_strdup_printf ("\"content_hash\":\"%s\"", hash);
  g_assert_nonnull (strstr (json, hash_member));
  g_autoptr (GError) err = NULL;
  g_autoptr (MbManifest) back = mb_manifest_from_json (json, -1, &err);
  g_assert_no_error (err);
  g_assert_true (mb_manifest_equal (back, m));
  /* An older writer's JSON (no version, no hash): version 1. */
  g_autofree gchar *old = g_strdup_printf (
    "{\"filename\":\"o.bin\",\"size\":5,\"chunk_size\":10,\"chunks\":[{\"index\":0,"
    "\"hash\":\"%s\",\"crc32\":1,\"size\":5,\"holders\":[]}]}", hash);
  g_autoptr (MbManifest) o = mb_manifest_from_json (old, -1, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (mb_manifest_version (o), ==, 1);
  /* A wrong content hash, a version 0 or a string version are refused. */
  g_autofree gchar *wrong = g_strdup (json);
  gchar *at = strstr (wrong, hash);
  at[0] = at[0] == '0' ? '1' : '0';
  g_assert_null (mb_manifest_from_json (wrong, -1, &err));
  g_assert_error (err, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_PARSE);
  g_assert_nonnull (strstr (err->message, "content_hash"));
  g_clear_error (&err);
  const char *bad_versions[] = { "\"version\":0", "\"version\":\"2\"", "\"version\":-1" };
  for (guint k = 0; k < G_N_ELEMENTS (bad_versions); k++)
    {
      g_autofree gchar *b = g_strdup (json);
      gchar *v = strstr (b, "\"version\":3");
      g_autofree gchar *fixed = g_strdup_printf ("%.*s%s%s", (int) (v - b), b, bad_versions[k],
                                                 v + strlen ("\"version\":3"));
      g_assert_null (mb_manifest_from_json (fixed, -1, &err));
      g_assert_nonnull (strstr (err->message, "version"));
      g_clear_error (&err);
    }
}

static void
test_order (void)
{
  g_autoptr (MbManifest) v1 = make ("v.bin", 2, 1);
  g_autoptr (MbManifest) v2 = make ("v.bin", 2, 9);
  mb_manifest_set_version (v2, 2);
  g_autoptr (MbManifest) v1_same = mb_manifest_copy (v1);
  mb_manifest_add_holder (v1_same, 1, "10.0.0.5:7000");
  g_assert_cmpint (mb_manifest_order (v1, v1_same), ==, MB_MANIFEST_SAME);
  g_assert_cmpint (mb_manifest_order (v1, v2), ==, MB_MANIFEST_NEWER);
  g_assert_cmpint (mb_manifest_order (v2, v1), ==, MB_MANIFEST_OLDER);
  g_assert_cmpint (mb_manifest_cmp_newer (v2, v1), >, 0);
  g_assert_cmpint (mb_manifest_cmp_newer (v1, v2), <, 0);
  g_assert_cmpint (mb_manifest_cmp_newer (v1, v1_same), ==, 0);
  /* Two contents at version 2: whoever holds either keeps the same one. */
  g_autoptr (MbManifest) x = make ("v.bin", 2, 20);
  g_autoptr (MbManifest) y = make ("v.bin", 3, 30);
  mb_manifest_set_version (x, 2);
  mb_manifest_set_version (y, 2);
  MbManifestOrder xy = mb_manifest_order (x, y), yx = mb_manifest_order (y, x);
  g_assert_true ((xy == MB_MANIFEST_CONFLICT_WINS && yx == MB_MANIFEST_CONFLICT_LOSES)
                 || (xy == MB_MANIFEST_CONFLICT_LOSES && yx == MB_MANIFEST_CONFLICT_WINS));
  char hx[65], hy[65];
  mb_manifest_content_hash (x, hx);
  mb_manifest_content_hash (y, hy);
  /* the higher content hash wins */
  g_assert_cmpint (xy == MB_MANIFEST_CONFLICT_WINS, ==, strcmp (hy, hx) > 0);
  g_assert_cmpint (mb_manifest_cmp_newer (x, y), ==, -mb_manifest_cmp_newer (y, x));
  g_assert_cmpstr (mb_manifest_order_name (MB_MANIFEST_OLDER), ==, "older");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/manifest-version/default-and-copy", test_default_and_copy);
  g_test_add_func ("/manifest-version/content-hash", test_content_hash);
  g_test_add_func ("/manifest-version/binary-forms", test_binary_forms);
  g_test_add_func ("/manifest-version/json", test_json);
  g_test_add_func ("/manifest-version/order", test_order);
  return g_test_run ();
}
