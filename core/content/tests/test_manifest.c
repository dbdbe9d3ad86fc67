/* test_manifest.c — manifests: construction, name and id validation, holders,
 * merge, and the binary and JSON forms (round trips and table-driven refusal
 * of corrupted input). */
#include <string.h>

#include "content/manifest.h"

#define CHUNK 1000u

/* The id of a chunk made of a fixed pattern, as SHA-256 hex. */
static gchar *
id_for (guint i)
{
  guint8 buf[16];
  memset (buf, (int) i, sizeof buf);
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, buf, sizeof buf);
}

/* "a.txt", 3500 bytes: 4 chunks, the last of 500; ids set; some holders. */
static MbManifest *
make_manifest (void)
{
  g_autoptr (GError) error = NULL;
  MbManifest *m = mb_manifest_new ("a.txt", 3500, CHUNK, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < mb_manifest_n_chunks (m); i++)
    {
      g_autofree gchar *id = id_for (i);
      g_assert_true (mb_manifest_set_chunk (m, i, id, 0xdeadbe00u + i, &error));
      g_assert_no_error (error);
    }
  mb_manifest_add_holder (m, 0, "peer2:5000");
  mb_manifest_add_holder (m, 0, "peer1:5000");
  mb_manifest_add_holder (m, 2, "ünïcode:1");
  mb_manifest_add_holder (m, 3, "peer3:5000");
  return m;
}

/* ---- construction ---- */

static void
test_new_counts (void)
{
  static const struct { guint64 size; guint32 cs; guint n; guint32 last; } cases[] = {
    { 0, 10, 0, 0 }, { 1, 10, 1, 1 }, { 10, 10, 1, 10 }, { 11, 10, 2, 1 },
    { 3500, 1000, 4, 500 }, { 4000, 1000, 4, 1000 }, { 5, 1, 5, 1 },
    { G_GUINT64_CONSTANT (1) << 32, G_MAXUINT32, 2, 1 },
  };
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (MbManifest) m = mb_manifest_new ("f", cases[k].size, cases[k].cs, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (mb_manifest_n_chunks (m), ==, cases[k].n);
      g_assert_cmpuint (mb_manifest_size (m), ==, cases[k].size);
      g_assert_cmpuint (mb_manifest_chunk_size (m), ==, cases[k].cs);
      if (cases[k].n)
        g_assert_cmpuint (mb_manifest_chunk_len (m, cases[k].n - 1), ==, cases[k].last);
      guint64 sum = 0;
      for (guint i = 0; i < cases[k].n; i++)
        {
          sum += mb_manifest_chunk_len (m, i);
          g_assert_cmpstr (mb_manifest_chunk_id (m, i), ==, "");
          g_assert_cmpuint (mb_manifest_n_holders (m, i), ==, 0);
        }
      g_assert_cmpuint (sum, ==, cases[k].size);
    }
}

static void
test_new_refuses_sizes (void)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (mb_manifest_new ("f", 10, 0, &error));
  g_assert_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_BAD_SIZE);
  g_clear_error (&error);
  /* more than MB_MANIFEST_MAX_CHUNKS chunks */
  g_assert_null (mb_manifest_new ("f", (guint64) MB_MANIFEST_MAX_CHUNKS + 1, 1, &error));
  g_assert_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_BAD_SIZE);
}

static void
test_empty_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MbManifest) m = mb_manifest_new ("empty", 0, 4096, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mb_manifest_n_chunks (m), ==, 0);
  g_assert_true (mb_manifest_validate (m, &error));
  g_autoptr (GBytes) b = mb_manifest_to_bytes (m);
  g_autoptr (MbManifest) back = mb_manifest_from_bytes (g_bytes_get_data (b, NULL),
                                                        g_bytes_get_size (b), &error);
  g_assert_no_error (error);
  g_assert_true (mb_manifest_equal (m, back));
  g_autofree gchar *json = mb_manifest_to_json (m);
  g_autoptr (MbManifest) back2 = mb_manifest_from_json (json, -1, &error);
  g_assert_no_error (error);
  g_assert_true (mb_manifest_equal (m, back2));
}

static void
test_ref_copy (void)
{
  g_autoptr (MbManifest) m = make_manifest ();
  MbManifest *r = mb_manifest_ref (m);
  g_assert_true (r == m);
  mb_manifest_unref (r);
  g_autoptr (MbManifest) c = mb_manifest_copy (m);
  g_assert_true (c != m);
  g_assert_true (mb_manifest_equal (m, c));
  g_assert_true (mb_manifest_add_holder (c, 1, "peer9:1"));
  g_assert_false (mb_manifest_equal (m, c));
  g_assert_false (mb_manifest_has_holder (m, 1, "peer9:1"));
}

/* ---- names and ids ---- */

static void
test_unsafe_names (void)
{
  gchar long_name[257];
  memset (long_name, 'x', 256);
  long_name[256] = '\0';
  const char *bad[] = {
    "", "a/b", "/abs", "..", ".", "a\\b", "../up", "a/../b", "x..y", "tab\there",
    "nl\n", "del\x7f", "\xff\xfe", long_name,
  };
  for (guint k = 0; k < G_N_ELEMENTS (bad); k++)
    {
      g_autoptr (GError) error = NULL;
      g_test_message ("name %u", k);
      g_assert_false (mb_manifest_name_is_safe (bad[k], &error));
      g_assert_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_BAD_NAME);
      g_assert_nonnull (strstr (error->message, "manifest name"));
      g_clear_error (&error);
      g_assert_null (mb_manifest_new (bad[k], 10, 5, &error));
      g_assert_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_BAD_NAME);
    }
  g_autoptr (GError) error = NULL;
  g_assert_false (mb_manifest_name_is_safe (NULL, &error));
  g_assert_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_BAD_NAME);

  long_name[255] = '\0';   /* 255 bytes: the longest allowed */
  const char *good[] = { "a.txt", ".hidden", "a.b.c", "test_file_large.txt",
                         "ünïcode ñame.txt", "a b", long_name };
  for (guint k = 0; k < G_N_ELEMENTS (good); k++)
    g_assert_true (mb_manifest_name_is_safe (good[k], NULL));
}

static void
test_chunk_ids (void)
{
  g_autofree gchar *good = id_for (7);
  g_autofree gchar *upper = g_ascii_strup (good, -1);
  g_autofree gchar *shorter = g_strndup (good, 63);
  g_autofree gchar *longer = g_strconcat (good, "0", NULL);
  g_autofree gchar *nonhex = g_strdup (good);
  nonhex[10] = 'g';
  const char *bad[] = { "", "xyz", upper, shorter, longer, nonhex, NULL };
  g_assert_true (mb_chunk_id_is_valid (good));
  g_autoptr (MbManifest) m = mb_manifest_new ("a.txt", 10, 5, NULL);
  for (guint k = 0; k < G_N_ELEMENTS (bad); k++)
    {
      g_autoptr (GError) error = NULL;
      g_assert_false (mb_chunk_id_is_valid (bad[k]));
      g_assert_false (mb_manifest_set_chunk (m, 1, bad[k], 0, &error));
      g_assert_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_BAD_ID);
      g_assert_nonnull (strstr (error->message, "manifest \"a.txt\": chunk 1: id"));
    }
  g_autoptr (GError) error = NULL;
  g_assert_false (mb_manifest_set_chunk (m, 2, good, 0, &error));  /* out of range */
  g_assert_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_BAD_SIZE);
}

static void
test_validate (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MbManifest) m = mb_manifest_new ("a.txt", 10, 5, NULL);
  g_assert_false (mb_manifest_validate (m, &error));     /* ids unset */
  g_assert_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_BAD_ID);
  g_assert_nonnull (strstr (error->message, "chunk 0"));
  g_clear_error (&error);
  g_autofree gchar *id = id_for (1);
  mb_manifest_set_chunk (m, 0, id, 1, NULL);
  g_assert_false (mb_manifest_validate (m, &error));
  g_assert_nonnull (strstr (error->message, "chunk 1"));
  g_clear_error (&error);
  mb_manifest_set_chunk (m, 1, id, 1, NULL);
  g_assert_true (mb_manifest_validate (m, &error));
  g_assert_no_error (error);
}

/* ---- holders ---- */

static void
test_holders_sorted (void)
{
  g_autoptr (MbManifest) m = mb_manifest_new ("a.txt", 10, 10, NULL);
  const char *in[] = { "c:1", "a:1", "b:1", "a:1", "c:1", "aa:1" };
  const gboolean fresh[] = { TRUE, TRUE, TRUE, FALSE, FALSE, TRUE };
  for (guint k = 0; k < G_N_ELEMENTS (in); k++)
    g_assert_cmpint (mb_manifest_add_holder (m, 0, in[k]), ==, fresh[k]);
  const char *want[] = { "a:1", "aa:1", "b:1", "c:1" };
  g_assert_cmpuint (mb_manifest_n_holders (m, 0), ==, G_N_ELEMENTS (want));
  for (guint k = 0; k < G_N_ELEMENTS (want); k++)
    g_assert_cmpstr (mb_manifest_holder (m, 0, k), ==, want[k]);
  g_assert_true (mb_manifest_has_holder (m, 0, "b:1"));
  g_assert_true (mb_manifest_remove_holder (m, 0, "b:1"));
  g_assert_false (mb_manifest_remove_holder (m, 0, "b:1"));
  g_assert_false (mb_manifest_has_holder (m, 0, "b:1"));
  g_assert_cmpstr (mb_manifest_holder (m, 0, 2), ==, "c:1");
  /* refused holders */
  g_assert_false (mb_manifest_add_holder (m, 0, ""));
  g_assert_false (mb_manifest_add_holder (m, 0, "bad\n"));
  g_assert_false (mb_manifest_add_holder (m, 0, "\xff"));
  g_assert_cmpuint (mb_manifest_n_holders (m, 0), ==, 3);
}

static void
test_holders_limit (void)
{
  g_autoptr (MbManifest) m = mb_manifest_new ("a.txt", 10, 10, NULL);
  for (guint k = 0; k < MB_MANIFEST_MAX_HOLDERS; k++)
    {
      g_autofree gchar *h = g_strdup_printf ("peer%04u", k);
      g_assert_true (mb_manifest_add_holder (m, 0, h));
    }
  g_assert_false (mb_manifest_add_holder (m, 0, "one-too-many"));
  g_assert_cmpuint (mb_manifest_n_holders (m, 0), ==, MB_MANIFEST_MAX_HOLDERS);
  for (guint k = 1; k < MB_MANIFEST_MAX_HOLDERS; k++)
    g_assert_cmpint (strcmp (mb_manifest_holder (m, 0, k - 1), mb_manifest_holder (m, 0, k)),
                     <, 0);
}

/* ---- merge ---- */

static void
test_merge_concurrent (void)
{
  g_autoptr (MbManifest) base = make_manifest ();
  /* two owners update their own copies concurrently */
  g_autoptr (MbManifest) a = mb_manifest_copy (base);
  g_autoptr (MbManifest) b = mb_manifest_copy (base);
  mb_manifest_add_holder (a, 1, "x:1");
  mb_manifest_add_holder (a, 1, "y:1");
  mb_manifest_add_holder (b, 1, "z:1");
  mb_manifest_add_holder (b, 1, "y:1");
  mb_manifest_add_holder (b, 3, "a:1");
  g_autoptr (GError) error = NULL;
  g_autoptr (MbManifest) ab = mb_manifest_copy (a);
  g_assert_cmpint (mb_manifest_merge (ab, b, &error), ==, 2);   /* z:1, a:1 */
  g_assert_no_error (error);
  g_autoptr (MbManifest) ba = mb_manifest_copy (b);
  g_assert_cmpint (mb_manifest_merge (ba, a, &error), ==, 1);   /* x:1 */
  g_assert_true (mb_manifest_equal (ab, ba));                   /* commutative */
  const char *want1[] = { "x:1", "y:1", "z:1" };
  g_assert_cmpuint (mb_manifest_n_holders (ab, 1), ==, 3);
  for (guint k = 0; k < 3; k++)
    g_assert_cmpstr (mb_manifest_holder (ab, 1, k), ==, want1[k]);
  g_assert_cmpuint (mb_manifest_n_holders (ab, 0), ==, 2);     /* base's kept */
  g_assert_true (mb_manifest_has_holder (ab, 3, "a:1"));
  g_assert_true (mb_manifest_has_holder (ab, 3, "peer3:5000"));
  g_assert_cmpint (mb_manifest_merge (ab, b, &error), ==, 0);   /* idempotent */
  g_assert_true (mb_manifest_validate (ab, &error));
}

static void
test_merge_limit (void)
{
  g_autoptr (MbManifest) a = mb_manifest_new ("a.txt", 10, 10, NULL);
  g_autoptr (MbManifest) b = mb_manifest_new ("a.txt", 10, 10, NULL);
  for (guint k = 0; k < MB_MANIFEST_MAX_HOLDERS; k++)
    {
      g_autofree gchar *h = g_strdup_printf ("m%04u", k);
      g_autofree gchar *h2 = g_strdup_printf ("a%04u", k);
      if (k % 2)
        mb_manifest_add_holder (a, 0, h);       /* 512 holders "m..." */
      mb_manifest_add_holder (b, 0, h2);        /* 1024 holders "a...", all sorting first */
    }
  gint added = mb_manifest_merge (a, b, NULL);
  g_assert_cmpint (added, ==, MB_MANIFEST_MAX_HOLDERS / 2);
  g_assert_cmpuint (mb_manifest_n_holders (a, 0), ==, MB_MANIFEST_MAX_HOLDERS);
  g_assert_true (mb_manifest_has_holder (a, 0, "m0001"));   /* a's own kept */
  g_assert_true (mb_manifest_has_holder (a, 0, "m1023"));
  g_assert_true (mb_manifest_has_holder (a, 0, "a0511"));   /* the first of b's fill the room */
  g_assert_false (mb_manifest_has_holder (a, 0, "a0512"));
  g_assert_cmpint (mb_manifest_merge (a, b, NULL), ==, 0);  /* full: nothing more */
}

static void
test_merge_mismatch (void)
{
  g_autoptr (MbManifest) a = make_manifest ();
  g_autoptr (MbManifest) other_name = mb_manifest_new ("b.txt", 3500, CHUNK, NULL);
  g_autoptr (MbManifest) other_size = mb_manifest_new ("a.txt", 3501, CHUNK, NULL);
  g_autoptr (MbManifest) other_cs = mb_manifest_new ("a.txt", 3500, 500, NULL);
  g_autoptr (MbManifest) other_id = mb_manifest_copy (a);
  g_autofree gchar *id = id_for (99);
  mb_manifest_set_chunk (other_id, 2, id, mb_manifest_chunk_crc (a, 2), NULL);
  g_autoptr (MbManifest) other_crc = mb_manifest_copy (a);
  mb_manifest_set_chunk (other_crc, 1, mb_manifest_chunk_id (a, 1), 1, NULL);
  const struct { MbManifest *m; gint code; const char *says; } cases[] = {
    { other_name, MB_MANIFEST_ERROR_BAD_NAME, "names differ" },
    { other_size, MB_MANIFEST_ERROR_BAD_SIZE, "size" },
    { other_cs, MB_MANIFEST_ERROR_BAD_SIZE, "size" },
    { other_id, MB_MANIFEST_ERROR_BAD_ID, "chunk 2" },
    { other_crc, MB_MANIFEST_ERROR_BAD_ID, "chunk 1" },
  };
  g_autoptr (MbManifest) before = mb_manifest_copy (a);
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      g_autoptr (GError) error = NULL;
      mb_manifest_add_holder (cases[k].m, 0, "new:1");
      g_assert_cmpint (mb_manifest_merge (a, cases[k].m, &error), ==, -1);
      g_assert_error (error, MB_MANIFEST_ERROR, cases[k].code);
      g_assert_nonnull (strstr (error->message, cases[k].says));
      g_assert_true (mb_manifest_equal (a, before));   /* unchanged */
    }
}

/* ---- binary form ---- */

static void
test_bytes_roundtrip (void)
{
  g_autoptr (MbManifest) m = make_manifest ();
  g_autoptr (GBytes) b = mb_manifest_to_bytes (m);
  g_assert_cmpuint (g_bytes_get_size (b), ==, mb_manifest_encoded_size (m));
  g_autoptr (GError) error = NULL;
  g_autoptr (MbManifest) back = mb_manifest_from_bytes (g_bytes_get_data (b, NULL),
                                                        g_bytes_get_size (b), &error);
  g_assert_no_error (error);
  g_assert_true (mb_manifest_equal (m, back));
  g_assert_true (mb_manifest_validate (back, &error));
  g_autoptr (GBytes) again = mb_manifest_to_bytes (back);
  g_assert_true (g_bytes_equal (b, again));     /* canonical */
}

/* Offsets into make_manifest's binary form (see the layout in manifest-binary.c). */
#define OFF_NAME 5                        /* "a.txt", after its u16 length */
#define OFF_SIZE (OFF_NAME + 5)
#define OFF_CS (OFF_SIZE + 8)
#define OFF_NCHUNKS (OFF_CS + 4)
#define OFF_CHUNK0 (OFF_NCHUNKS + 4)
#define OFF_NHOLDERS0 (OFF_CHUNK0 + 32 + 4)
#define OFF_HOLDER0 (OFF_NHOLDERS0 + 2)   /* u16 10, "peer1:5000" */

typedef struct {
  const char *what;
  gint code;
  void (*corrupt) (GByteArray *b);
} BadBytes;

static void c_magic (GByteArray *b) { b->data[0] = 'X'; }
static void c_version (GByteArray *b) { b->data[2] = 3; }
static void c_slash (GByteArray *b) { b->data[OFF_NAME + 1] = '/'; }
static void c_nul_name (GByteArray *b) { b->data[OFF_NAME + 1] = 0; }
static void c_dotdot (GByteArray *b) { memcpy (b->data + OFF_NAME + 1, "..", 2); }
static void c_count_up (GByteArray *b) { b->data[OFF_NCHUNKS + 3]++; }
static void c_count_down (GByteArray *b) { b->data[OFF_NCHUNKS + 3]--; }
static void c_size_big (GByteArray *b) { b->data[OFF_SIZE + 5] = 1; }   /* +65536 */
static void c_cs_zero (GByteArray *b) { memset (b->data + OFF_CS, 0, 4); }
static void c_trailing (GByteArray *b) { g_byte_array_append (b, (const guint8 *) "", 1); }
static void c_holder_dup (GByteArray *b) { b->data[OFF_HOLDER0 + 2 + 4] = '2'; }  /* peer2, peer2 */
static void c_holder_order (GByteArray *b) { b->data[OFF_HOLDER0 + 2 + 4] = '3'; } /* peer3, peer2 */
static void c_holder_nul (GByteArray *b) { b->data[OFF_HOLDER0 + 2 + 4] = 0; }
static void c_holder_ctl (GByteArray *b) { b->data[OFF_HOLDER0 + 2 + 4] = '\n'; }
static void c_holder_empty (GByteArray *b)
{
  /* first holder becomes "" and its 10 bytes are dropped */
  b->data[OFF_HOLDER0] = 0;
  b->data[OFF_HOLDER0 + 1] = 0;
  g_byte_array_remove_range (b, OFF_HOLDER0 + 2, 10);
}
static void c_holders_many (GByteArray *b)
{
  b->data[OFF_NHOLDERS0] = 0x04;   /* 1026 */
  b->data[OFF_NHOLDERS0 + 1] = 0x02;
}
static void c_holders_overrun (GByteArray *b) { b->data[OFF_NHOLDERS0 + 1] = 200; }
static void c_holder_len (GByteArray *b) { b->data[OFF_HOLDER0] = 0x7f; }
static void c_huge_chunks (GByteArray *b)
{
  /* size 2^24, chunk size 1: a consistent count the input cannot hold */
  memset (b->data + OFF_SIZE, 0, 8);
  b->data[OFF_SIZE + 4] = 1;
  memset (b->data + OFF_CS, 0, 4);
  b->data[OFF_CS + 3] = 1;
  memset (b->data + OFF_NCHUNKS, 0, 4);
  b->data[OFF_NCHUNKS] = 1;
}
static void c_name_len (GByteArray *b) { b->data[OFF_NAME - 2] = 0xff; }

static const BadBytes bad_bytes[] = {
  { "bad magic", MB_MANIFEST_ERROR_PARSE, c_magic },
  { "bad version", MB_MANIFEST_ERROR_PARSE, c_version },
  { "name with slash", MB_MANIFEST_ERROR_BAD_NAME, c_slash },
  { "name with NUL", MB_MANIFEST_ERROR_PARSE, c_nul_name },
  { "name with ..", MB_MANIFEST_ERROR_BAD_NAME, c_dotdot },
  { "name length overruns", MB_MANIFEST_ERROR_PARSE, c_name_len },
  { "chunk count too high", MB_MANIFEST_ERROR_BAD_SIZE, c_count_up },
  { "chunk count too low", MB_MANIFEST_ERROR_BAD_SIZE, c_count_down },
  { "size needs more chunks", MB_MANIFEST_ERROR_BAD_SIZE, c_size_big },
  { "chunk size zero", MB_MANIFEST_ERROR_BAD_SIZE, c_cs_zero },
  { "trailing byte", MB_MANIFEST_ERROR_PARSE, c_trailing },
  { "duplicated holder", MB_MANIFEST_ERROR_BAD_HOLDER, c_holder_dup },
  { "unsorted holders", MB_MANIFEST_ERROR_BAD_HOLDER, c_holder_order },
  { "holder with NUL", MB_MANIFEST_ERROR_PARSE, c_holder_nul },
  { "holder with newline", MB_MANIFEST_ERROR_BAD_HOLDER, c_holder_ctl },
  { "empty holder", MB_MANIFEST_ERROR_BAD_HOLDER, c_holder_empty },
  { "too many holders", MB_MANIFEST_ERROR_BAD_HOLDER, c_holders_many },
  { "holder count overruns", MB_MANIFEST_ERROR_PARSE, c_holders_overrun },
  { "holder length overruns", MB_MANIFEST_ERROR_PARSE, c_holder_len },
  { "chunk count beyond input", MB_MANIFEST_ERROR_PARSE, c_huge_chunks },
};

static void
test_bytes_corrupt (gconstpointer data)
{
  const BadBytes *c = data;
  g_autoptr (MbManifest) m = make_manifest ();
  g_autoptr (GBytes) b = mb_manifest_to_bytes (m);
  g_autoptr (GByteArray) a = g_byte_array_new ();
  g_byte_array_append (a, g_bytes_get_data (b, NULL), (guint) g_bytes_get_size (b));
  g_assert_cmpuint (a->data[OFF_HOLDER0 + 1], ==, 10);   /* the offsets hold */
  c->corrupt (a);
  g_autoptr (GError) error = NULL;
  g_assert_null (mb_manifest_from_bytes (a->data, a->len, &error));
  g_assert_error (error, MB_MANIFEST_ERROR, c->code);
  g_test_message ("%s: %s", c->what, error->message);
}

static void
test_bytes_truncated (void)
{
  g_autoptr (MbManifest) m = make_manifest ();
  g_autoptr (GBytes) b = mb_manifest_to_bytes (m);
  gsize len;
  const guint8 *d = g_bytes_get_data (b, &len);
  for (gsize cut = 0; cut < len; cut++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree guint8 *copy = g_malloc (MAX (cut, 1));  /* exact size: ASan sees overreads */
      memcpy (copy, d, cut);
      g_assert_null (mb_manifest_from_bytes (copy, cut, &error));
      g_assert_nonnull (error);
      g_assert_true (error->domain == MB_MANIFEST_ERROR);
    }
}

/* ---- JSON form ---- */

static void
test_json_roundtrip (void)
{
  g_autoptr (MbManifest) m = make_manifest ();
  g_autofree gchar *json = mb_manifest_to_json (m);
  g_assert_nonnull (strstr (json, "\"filename\":\"a.txt\""));
  g_assert_nonnull (strstr (json, "\"chunk_size\":1000"));
  g_assert_nonnull (strstr (json, "\"holders\":[\"peer1:5000\",\"peer2:5000\"]"));
  g_autoptr (GError) error = NULL;
  g_autoptr (MbManifest) back = mb_manifest_from_json (json, -1, &error);
  g_assert_no_error (error);
  g_assert_true (mb_manifest_equal (m, back));
  g_autoptr (MbManifest) back2 = mb_manifest_from_json (json, (gssize) strlen (json), &error);
  g_assert_no_error (error);
  g_assert_true (mb_manifest_equal (m, back2));
}

static void
test_json_lenient (void)
{
  /* holders out of order and duplicated are folded; unknown members ignored */
  g_autofree gchar *id = id_for (1);
  g_autofree gchar *json = g_strdup_printf (
      "{\"filename\":\"f\",\"size\":3,\"chunk_size\":4,\"extra\":true,\"chunks\":"
      "[{\"index\":0,\"hash\":\"%s\",\"crc32\":4294967295,\"size\":3,"
      "\"holders\":[\"b\",\"a\",\"b\"]}]}", id);
  g_autoptr (GError) error = NULL;
  g_autoptr (MbManifest) m = mb_manifest_from_json (json, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mb_manifest_chunk_crc (m, 0), ==, G_MAXUINT32);
  g_assert_cmpuint (mb_manifest_n_holders (m, 0), ==, 2);
  g_assert_cmpstr (mb_manifest_holder (m, 0, 0), ==, "a");
  g_assert_cmpstr (mb_manifest_holder (m, 0, 1), ==, "b");
}

typedef struct {
  const char *what;
  const char *json;    /* %s: a valid id; %s again for a second chunk */
  gint code;
  const char *says;    /* a substring of the message */
} BadJson;

#define J_HEAD "{\"filename\":\"f.txt\",\"size\":6,\"chunk_size\":4,"
#define J_C0 "{\"index\":0,\"hash\":\"%s\",\"crc32\":1,\"size\":4,\"holders\":[]}"
#define J_C1(body) "{\"index\":1,\"hash\":\"%s\"," body "}"

static const BadJson bad_json[] = {
  { "not json", "{oops", MB_MANIFEST_ERROR_PARSE, "JSON" },
  { "empty", "", MB_MANIFEST_ERROR_PARSE, "JSON" },
  { "array root", "[1,2]", MB_MANIFEST_ERROR_PARSE, "not an object" },
  { "missing filename", "{\"size\":0,\"chunk_size\":4,\"chunks\":[]}",
    MB_MANIFEST_ERROR_PARSE, "field \"filename\" is missing" },
  { "filename number", "{\"filename\":3,\"size\":0,\"chunk_size\":4,\"chunks\":[]}",
    MB_MANIFEST_ERROR_PARSE, "field \"filename\" is not a string" },
  { "unsafe filename", "{\"filename\":\"../x\",\"size\":0,\"chunk_size\":4,\"chunks\":[]}",
    MB_MANIFEST_ERROR_BAD_NAME, "manifest name \"../x\" contains '/'" },
  { "filename with ..", "{\"filename\":\"x..y\",\"size\":0,\"chunk_size\":4,\"chunks\":[]}",
    MB_MANIFEST_ERROR_BAD_NAME, "contains \"..\"" },
  { "filename with \\u0000", "{\"filename\":\"a\\u0000b\",\"size\":0,\"chunk_size\":4,\"chunks\":[]}",
    MB_MANIFEST_ERROR_PARSE, "NUL" },
  { "negative size", "{\"filename\":\"f\",\"size\":-1,\"chunk_size\":4,\"chunks\":[]}",
    MB_MANIFEST_ERROR_PARSE, "field \"size\"" },
  { "float size", "{\"filename\":\"f\",\"size\":1.5,\"chunk_size\":4,\"chunks\":[]}",
    MB_MANIFEST_ERROR_PARSE, "field \"size\" is not an integer" },
  { "size as string", "{\"filename\":\"f\",\"size\":\"6\",\"chunk_size\":4,\"chunks\":[]}",
    MB_MANIFEST_ERROR_PARSE, "field \"size\" is not an integer" },
  { "zero chunk size", "{\"filename\":\"f\",\"size\":0,\"chunk_size\":0,\"chunks\":[]}",
    MB_MANIFEST_ERROR_PARSE, "field \"chunk_size\"" },
  { "chunk size too big", "{\"filename\":\"f\",\"size\":0,\"chunk_size\":4294967296,\"chunks\":[]}",
    MB_MANIFEST_ERROR_PARSE, "field \"chunk_size\"" },
  { "missing chunks", "{\"filename\":\"f\",\"size\":0,\"chunk_size\":4}",
    MB_MANIFEST_ERROR_PARSE, "field \"chunks\" is missing" },
  { "chunks not array", "{\"filename\":\"f\",\"size\":0,\"chunk_size\":4,\"chunks\":{}}",
    MB_MANIFEST_ERROR_PARSE, "field \"chunks\" is not an array" },
  { "too few chunks", J_HEAD "\"chunks\":[" J_C0 "]}",
    MB_MANIFEST_ERROR_BAD_SIZE, "1 chunks, but size 6 with chunk size 4 needs 2" },
  { "too many chunks", "{\"filename\":\"f\",\"size\":0,\"chunk_size\":4,\"chunks\":[" J_C0 "]}",
    MB_MANIFEST_ERROR_BAD_SIZE, "needs 0" },
  { "chunk not object", J_HEAD "\"chunks\":[" J_C0 ",7]}",
    MB_MANIFEST_ERROR_PARSE, "chunk 1: is not an object" },
  { "missing hash", J_HEAD "\"chunks\":[" J_C0 ",{\"index\":1,\"crc32\":1,\"size\":2,\"holders\":[]}]}",
    MB_MANIFEST_ERROR_PARSE, "chunk 1: field \"hash\" is missing" },
  { "bad hash", J_HEAD "\"chunks\":[" J_C0 ",{\"index\":1,\"hash\":\"xyz\",\"crc32\":1,\"size\":2,\"holders\":[]}]}",
    MB_MANIFEST_ERROR_BAD_ID, "chunk 1: id \"xyz\"" },
  { "hash not string", J_HEAD "\"chunks\":[" J_C0 ",{\"index\":1,\"hash\":5,\"crc32\":1,\"size\":2,\"holders\":[]}]}",
    MB_MANIFEST_ERROR_PARSE, "chunk 1: field \"hash\" is not a string" },
  { "missing index", J_HEAD "\"chunks\":[" J_C0 ",{\"hash\":\"%s\",\"crc32\":1,\"size\":2,\"holders\":[]}]}",
    MB_MANIFEST_ERROR_PARSE, "chunk 1: field \"index\" is missing" },
  { "wrong index", J_HEAD "\"chunks\":[" J_C0 ",{\"index\":0,\"hash\":\"%s\",\"crc32\":1,\"size\":2,\"holders\":[]}]}",
    MB_MANIFEST_ERROR_PARSE, "chunk 1: field \"index\" is 0, expected 1" },
  { "crc32 as string", J_HEAD "\"chunks\":[" J_C0 "," J_C1 ("\"crc32\":\"1\",\"size\":2,\"holders\":[]") "]}",
    MB_MANIFEST_ERROR_PARSE, "chunk 1: field \"crc32\" is not an integer" },
  { "crc32 too big", J_HEAD "\"chunks\":[" J_C0 "," J_C1 ("\"crc32\":4294967296,\"size\":2,\"holders\":[]") "]}",
    MB_MANIFEST_ERROR_PARSE, "chunk 1: field \"crc32\"" },
  { "missing crc32", J_HEAD "\"chunks\":[" J_C0 "," J_C1 ("\"size\":2,\"holders\":[]") "]}",
    MB_MANIFEST_ERROR_PARSE, "chunk 1: field \"crc32\" is missing" },
  { "wrong chunk size", J_HEAD "\"chunks\":[" J_C0 "," J_C1 ("\"crc32\":1,\"size\":4,\"holders\":[]") "]}",
    MB_MANIFEST_ERROR_BAD_SIZE, "chunk 1: field \"size\" is 4, expected 2" },
  { "missing chunk size", J_HEAD "\"chunks\":[" J_C0 "," J_C1 ("\"crc32\":1,\"holders\":[]") "]}",
    MB_MANIFEST_ERROR_PARSE, "chunk 1: field \"size\" is missing" },
  { "missing holders", J_HEAD "\"chunks\":[" J_C0 "," J_C1 ("\"crc32\":1,\"size\":2") "]}",
    MB_MANIFEST_ERROR_PARSE, "chunk 1: field \"holders\" is missing" },
  { "holders not array", J_HEAD "\"chunks\":[" J_C0 "," J_C1 ("\"crc32\":1,\"size\":2,\"holders\":\"a\"") "]}",
    MB_MANIFEST_ERROR_PARSE, "chunk 1: field \"holders\" is not an array" },
  { "holder not string", J_HEAD "\"chunks\":[" J_C0 "," J_C1 ("\"crc32\":1,\"size\":2,\"holders\":[\"a\",1]") "]}",
    MB_MANIFEST_ERROR_PARSE, "chunk 1: field \"holders\": element 1" },
  { "empty holder", J_HEAD "\"chunks\":[" J_C0 "," J_C1 ("\"crc32\":1,\"size\":2,\"holders\":[\"\"]") "]}",
    MB_MANIFEST_ERROR_BAD_HOLDER, "chunk 1: holder \"\" is empty" },
  { "holder with \\u0000", J_HEAD "\"chunks\":[" J_C0 "," J_C1 ("\"crc32\":1,\"size\":2,\"holders\":[\"a\\u0000\"]") "]}",
    MB_MANIFEST_ERROR_PARSE, "NUL" },
};

static void
test_json_corrupt (gconstpointer data)
{
  const BadJson *c = data;
  g_autofree gchar *id = id_for (3);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  g_autofree gchar *json = g_strdup_printf (c->json, id, id);
#pragma GCC diagnostic pop
  g_autoptr (GError) error = NULL;
  g_assert_null (mb_manifest_from_json (json, -1, &error));
  g_test_message ("%s: %s", c->what, error ? error->message : "(no error)");
  g_assert_error (error, MB_MANIFEST_ERROR, c->code);
  g_assert_nonnull (strstr (error->message, c->says));
}

static void
test_json_raw_bytes (void)
{
  g_autoptr (MbManifest) m = make_manifest ();
  g_autofree gchar *json = mb_manifest_to_json (m);
  gsize len = strlen (json);
  /* a NUL byte inside the given length */
  g_autofree gchar *with_nul = g_strdup (json);
  with_nul[len / 2] = '\0';
  g_autoptr (GError) error = NULL;
  g_assert_null (mb_manifest_from_json (with_nul, (gssize) len, &error));
  g_assert_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_PARSE);
  g_clear_error (&error);
  /* invalid UTF-8 in the filename */
  g_autofree gchar *bad_utf8 = g_strdup (json);
  char *at = strstr (bad_utf8, "a.txt");
  at[0] = (char) 0xff;
  g_assert_null (mb_manifest_from_json (bad_utf8, -1, &error));
  g_assert_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_PARSE);
  g_clear_error (&error);
  /* every truncation fails cleanly */
  for (gsize cut = 0; cut < len; cut++)
    {
      g_assert_null (mb_manifest_from_json (json, (gssize) cut, &error));
      g_assert_nonnull (error);
      g_clear_error (&error);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/manifest/new/chunk-counts", test_new_counts);
  g_test_add_func ("/manifest/new/refuses-sizes", test_new_refuses_sizes);
  g_test_add_func ("/manifest/new/empty-file", test_empty_file);
  g_test_add_func ("/manifest/ref-copy", test_ref_copy);
  g_test_add_func ("/manifest/validate/unsafe-names", test_unsafe_names);
  g_test_add_func ("/manifest/validate/chunk-ids", test_chunk_ids);
  g_test_add_func ("/manifest/validate/ids-set", test_validate);
  g_test_add_func ("/manifest/holders/sorted-distinct", test_holders_sorted);
  g_test_add_func ("/manifest/holders/limit", test_holders_limit);
  g_test_add_func ("/manifest/merge/concurrent-updates", test_merge_concurrent);
  g_test_add_func ("/manifest/merge/holder-limit", test_merge_limit);
  g_test_add_func ("/manifest/merge/mismatch", test_merge_mismatch);
  g_test_add_func ("/manifest/bytes/roundtrip", test_bytes_roundtrip);
  g_test_add_func ("/manifest/bytes/truncated", test_bytes_truncated);
  for (guint k = 0; k < G_N_ELEMENTS (bad_bytes); k++)
    {
      g_autofree gchar *path = g_strdup_printf ("/manifest/bytes/refuses/%s", bad_bytes[k].what);
      g_strdelimit (path + strlen ("/manifest/bytes/refuses/"), " /", '-');
      g_test_add_data_func (path, &bad_bytes[k], test_bytes_corrupt);
    }
  g_test_add_func ("/manifest/json/roundtrip", test_json_roundtrip);
  g_test_add_func ("/manifest/json/lenient", test_json_lenient);
  g_test_add_func ("/manifest/json/raw-bytes", test_json_raw_bytes);
  for (guint k = 0; k < G_N_ELEMENTS (bad_json); k++)
    {
      g_autofree gchar *path = g_strdup_printf ("/manifest/json/refuses/%s", bad_json[k].what);
      g_strdelimit (path + strlen ("/manifest/json/refuses/"), " /\\", '-');
      g_test_add_data_func (path, &bad_json[k], test_json_corrupt);
    }
  return g_test_run ();
}
