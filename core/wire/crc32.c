/* crc32.c — CRC-32 by carry-less multiplication, with zlib as reference.
 *
 * The folding method of Gopal et al., "Fast CRC Computation for Generic
 * Polynomials Using PCLMULQDQ Instruction" (Intel, 2009), for the reflected
 * CRC-32 polynomial: four 128-bit lanes are folded 64 bytes at a time
 * (constants x^(4*128+32) and x^(4*128-32) mod P), then folded into one lane
 * (x^(128+32), x^(128-32)), then 16 bytes at a time, then reduced 128 -> 64
 * -> 32 bits and by Barrett reduction (P' and mu = x^64 / P).  It runs on
 * whole 16-byte blocks of at least 64 bytes; zlib does the rest.  The state
 * it folds is the complemented CRC, as zlib keeps it internally.
 *
 * The path is picked once, at the first call, from the CPU's feature bits;
 * test_crc32 checks it against zlib for every length up to 1 KiB, every
 * alignment, and long random buffers.
 */
#include "wire/crc32.h"

#include <zlib.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MB_CRC32_CLMUL 1
#include <immintrin.h>
#endif

static guint32
zlib_crc32 (guint32 crc, const guint8 *data, gsize len)
{
  return (guint32) crc32_z (crc, data, len);
}

#ifdef MB_CRC32_CLMUL

/* len >= 64 and a multiple of 16; crc and the result are complemented. */
__attribute__ ((target ("pclmul,sse4.1"))) static guint32
clmul_fold (const guint8 *p, gsize len, guint32 crc)
{
  const __m128i k1k2 = _mm_set_epi64x (0x01c6e41596, 0x0154442bd4);
  const __m128i k3k4 = _mm_set_epi64x (0x00ccaa009e, 0x01751997d0);
  const __m128i k5k0 = _mm_set_epi64x (0, 0x0163cd6124);
  const __m128i poly = _mm_set_epi64x (0x01f7011641, 0x01db710641);
  const __m128i mask32 = _mm_setr_epi32 (~0, 0, ~0, 0);

  __m128i x1 = _mm_loadu_si128 ((const __m128i *) (p + 0));
  __m128i x2 = _mm_loadu_si128 ((const __m128i *) (p + 16));
  __m128i x3 = _mm_loadu_si128 ((const __m128i *) (p + 32));
  __m128i x4 = _mm_loadu_si128 ((const __m128i *) (p + 48));
  x1 = _mm_xor_si128 (x1, _mm_cvtsi32_si128 ((int) crc));
  p += 64;
  len -= 64;
  while (len >= 64)
    {
      __m128i a1 = _mm_clmulepi64_si128 (x1, k1k2, 0x00);
      __m128i a2 = _mm_clmulepi64_si128 (x2, k1k2, 0x00);
      __m128i a3 = _mm_clmulepi64_si128 (x3, k1k2, 0x00);
      __m128i a4 = _mm_clmulepi64_si128 (x4, k1k2, 0x00);
      x1 = _mm_clmulepi64_si128 (x1, k1k2, 0x11);
      x2 = _mm_clmulepi64_si128 (x2, k1k2, 0x11);
      x3 = _mm_clmulepi64_si128 (x3, k1k2, 0x11);
      x4 = _mm_clmulepi64_si128 (x4, k1k2, 0x11);
      x1 = _mm_xor_si128 (_mm_xor_si128 (x1, a1), _mm_loadu_si128 ((const __m128i *) (p + 0)));
      x2 = _mm_xor_si128 (_mm_xor_si128 (x2, a2), _mm_loadu_si128 ((const __m128i *) (p + 16)));
      x3 = _mm_xor_si128 (_mm_xor_si128 (x3, a3), _mm_loadu_si128 ((const __m128i *) (p + 32)));
      x4 = _mm_xor_si128 (_mm_xor_si128 (x4, a4), _mm_loadu_si128 ((const __m128i *) (p + 48)));
      p += 64;
      len -= 64;
    }
  /* four lanes into one */
  __m128i a = _mm_clmulepi64_si128 (x1, k3k4, 0x00);
  x1 = _mm_xor_si128 (_mm_xor_si128 (_mm_clmulepi64_si128 (x1, k3k4, 0x11), x2), a);
  a = _mm_clmulepi64_si128 (x1, k3k4, 0x00);
  x1 = _mm_xor_si128 (_mm_xor_si128 (_mm_clmulepi64_si128 (x1, k3k4, 0x11), x3), a);
  a = _mm_clmulepi64_si128 (x1, k3k4, 0x00);
  x1 = _mm_xor_si128 (_mm_xor_si128 (_mm_clmulepi64_si128 (x1, k3k4, 0x11), x4), a);
  /* then 16 bytes a step */
  while (len >= 16)
    {
      a = _mm_clmulepi64_si128 (x1, k3k4, 0x00);
      x1 = _mm_xor_si128 (_mm_xor_si128 (_mm_clmulepi64_si128 (x1, k3k4, 0x11),
                                         _mm_loadu_si128 ((const __m128i *) p)), a);
      p += 16;
      len -= 16;
    }
  /* 128 -> 64 bits */
  __m128i b = _mm_clmulepi64_si128 (x1, k3k4, 0x10);
  x1 = _mm_xor_si128 (_mm_srli_si128 (x1, 8), b);
  /* 64 -> 32 bits */
  b = _mm_srli_si128 (x1, 4);
  x1 = _mm_and_si128 (x1, mask32);
  x1 = _mm_xor_si128 (_mm_clmulepi64_si128 (x1, k5k0, 0x00), b);
  /* Barrett reduction */
  b = _mm_and_si128 (x1, mask32);
  b = _mm_clmulepi64_si128 (b, poly, 0x10);
  b = _mm_and_si128 (b, mask32);
  b = _mm_clmulepi64_si128 (b, poly, 0x00);
  x1 = _mm_xor_si128 (x1, b);
  return (guint32) _mm_extract_epi32 (x1, 1);
}

static gint use_clmul = -1; /* unknown yet */

static gboolean
clmul_available (void)
{
  gint v = g_atomic_int_get (&use_clmul);
  if (v < 0)
    {
      __builtin_cpu_init ();
      v = __builtin_cpu_supports ("pclmul") && __builtin_cpu_supports ("sse4.1")
          && g_getenv ("MINIBIT_CRC32_PORTABLE") == NULL;
      g_atomic_int_set (&use_clmul, v);
    }
  return v;
}

guint32
mb_crc32 (guint32 crc, const guint8 *data, gsize len)
{
  if (len >= 64 && clmul_available ())
    {
      gsize whole = len & ~(gsize) 15;
      crc = ~clmul_fold (data, whole, ~crc);
      data += whole;
      len -= whole;
    }
  return len ? zlib_crc32 (crc, data, len) : crc;
}

gboolean
mb_crc32_is_accelerated (void)
{
  return clmul_available ();
}

#else

guint32
mb_crc32 (guint32 crc, const guint8 *data, gsize len)
{
  return zlib_crc32 (crc, data, len);
}

gboolean
mb_crc32_is_accelerated (void)
{
  return FALSE;
}

#endif
