/* test_crc32.c — mb_crc32 against zlib's crc32_z: every length up to 1 KiB
 * at every alignment up to 16, continuation across splits, long buffers. */
#include <string.h>
#include <zlib.h>

#include "wire/crc32.h"

static guint8 *
random_bytes (gsize n, guint32 seed)
{
  guint8 *b = g_malloc (n + 32);
  GRand *r = g_rand_new_with_seed (seed);
  for (gsize i = 0; i < n + 32; i++)
    b[i] = (guint8) g_rand_int (r);
  g_rand_free (r);
  return b;
}

static void
test_every_length_and_alignment (void)
{
  g_autofree guint8 *b = random_bytes (1024, 1);
  for (gsize off = 0; off < 16; off++)
    for (gsize len = 0; len <= 1024; len++)
      {
        guint32 want = (guint32) crc32_z (0, b + off, len);
        guint32 got = mb_crc32 (0, b + off, len);
        if (want != got)
          g_error ("offset %" G_GSIZE_FORMAT " length %" G_GSIZE_FORMAT ": %08x, zlib %08x", off,
                   len, got, want);
      }
  g_test_message ("accelerated: %s", mb_crc32_is_accelerated () ? "yes" : "no");
}

static void
test_continuation (void)
{
  g_autofree guint8 *b = random_bytes (5000, 2);
  guint32 whole = (guint32) crc32_z (0, b, 5000);
  for (gsize cut = 0; cut <= 5000; cut += 37)
    {
      guint32 c = mb_crc32 (0, b, cut);
      g_assert_cmphex (mb_crc32 (c, b + cut, 5000 - cut), ==, whole);
    }
  g_assert_cmphex (mb_crc32 (0x12345678, b, 300), ==, (guint32) crc32_z (0x12345678, b, 300));
}

static void
test_long_buffers (void)
{
  gsize sizes[] = { 262144, 262144 + 83, 1 << 22 };
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree guint8 *b = random_bytes (sizes[i], 3 + i);
      g_assert_cmphex (mb_crc32 (0, b, sizes[i]), ==, (guint32) crc32_z (0, b, sizes[i]));
    }
  /* all zeros and all ones, the classic check value too */
  g_autofree guint8 *z = g_malloc0 (4096);
  g_assert_cmphex (mb_crc32 (0, z, 4096), ==, (guint32) crc32_z (0, z, 4096));
  memset (z, 0xff, 4096);
  g_assert_cmphex (mb_crc32 (0, z, 4096), ==, (guint32) crc32_z (0, z, 4096));
  g_assert_cmphex (mb_crc32 (0, (const guint8 *) "123456789", 9), ==, 0xcbf43926);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/crc32/every-length-and-alignment", test_every_length_and_alignment);
  g_test_add_func ("/crc32/continuation", test_continuation);
  g_test_add_func ("/crc32/long-buffers", test_long_buffers);
  return g_test_run ();
}
