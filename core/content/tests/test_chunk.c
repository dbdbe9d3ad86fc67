/* test_chunk.c — SHA-256 ids and crc32 against known vectors; generated
 * content is deterministic and differs between chunks. */
#include <string.h>

#include "content/chunk.h"

static void
test_chunk_id_known_vectors (void)
{
  char id[65];
  mb_chunk_id_compute ((const guint8 *) "abc", 3, id);
  g_assert_cmpstr (id, ==, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  mb_chunk_id_compute ((const guint8 *) "", 0, id);
  g_assert_cmpstr (id, ==, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void
test_chunk_crc_known_vector (void)
{
  g_assert_cmphex (mb_chunk_crc_compute ((const guint8 *) "123456789", 9), ==, 0xcbf43926);
}

static void
test_chunk_generate_deterministic (void)
{
  guint8 a[1000], b[1000], c[1000];
  mb_chunk_generate ("file.bin", 3, a, sizeof a);
  mb_chunk_generate ("file.bin", 3, b, sizeof b);
  mb_chunk_generate ("file.bin", 4, c, sizeof c);
  g_assert_cmpmem (a, sizeof a, b, sizeof b);
  g_assert_true (memcmp (a, c, sizeof a) != 0);
  /* A prefix of a longer chunk is the shorter chunk. */
  guint8 d[10];
  mb_chunk_generate ("file.bin", 3, d, sizeof d);
  g_assert_cmpmem (a, 10, d, 10);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/chunk/id-known-vectors", test_chunk_id_known_vectors);
  g_test_add_func ("/chunk/crc-known-vector", test_chunk_crc_known_vector);
  g_test_add_func ("/chunk/generate-deterministic", test_chunk_generate_deterministic);
  return g_test_run ();
}
