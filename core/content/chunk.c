/* chunk.c — content ids (SHA-256 hex), crc32 (crc32.c), and the simulator's
 * generated content: a xorshift stream seeded from a stable hash of (file,
 * chunk index), so the same chunk has the same bytes everywhere.
 * SHA-256 comes from OpenSSL's libcrypto when the build found it (it uses
 * the CPU's SHA instructions: about 6x GLib's GChecksum here), else from
 * GChecksum; the digests are the same. */
#include "content/chunk.h"
#include "wire/crc32.h"

#include <string.h>

#ifdef MB_HAVE_LIBCRYPTO
#include <openssl/evp.h>
#endif

void
mb_chunk_id_compute (const guint8 *data, gsize len, char out[65])
{
#ifdef MB_HAVE_LIBCRYPTO
  unsigned char md[32];
  unsigned int n = 0;
  if (EVP_Digest (data, len, md, &n, EVP_sha256 (), NULL) == 1 && n == 32)
    {
      static const char hex[] = "0123456789abcdef";
      for (guint i = 0; i < 32; i++)
        {
          out[2 * i] = hex[md[i] >> 4];
          out[2 * i + 1] = hex[md[i] & 15];
        }
      out[64] = '\0';
      return;
    }
#endif
  GChecksum *ck = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (ck, data, (gssize) len);
  memcpy (out, g_checksum_get_string (ck), 64);
  out[64] = '\0';
  g_checksum_free (ck);
}

struct _MbSha256 {
#ifdef MB_HAVE_LIBCRYPTO
  EVP_MD_CTX *ctx;
#endif
  GChecksum *ck; /* when libcrypto is absent or failed */
};

MbSha256 *
mb_sha256_new (void)
{
  MbSha256 *h = g_new0 (MbSha256, 1);
#ifdef MB_HAVE_LIBCRYPTO
  h->ctx = EVP_MD_CTX_new ();
  if (h->ctx && EVP_DigestInit_ex (h->ctx, EVP_sha256 (), NULL) == 1)
    return h;
  g_clear_pointer (&h->ctx, EVP_MD_CTX_free);
#endif
  h->ck = g_checksum_new (G_CHECKSUM_SHA256);
  return h;
}

void
mb_sha256_update (MbSha256 *h, const guint8 *data, gsize len)
{
  if (h->ck)
    {
      while (len > 0)
        {
          gsize n = MIN (len, (gsize) G_MAXSSIZE);
          g_checksum_update (h->ck, data, (gssize) n);
          data += n;
          len -= n;
        }
      return;
    }
#ifdef MB_HAVE_LIBCRYPTO
  EVP_DigestUpdate (h->ctx, data, len);
#endif
}

void
mb_sha256_finish (MbSha256 *h, char out[65])
{
  if (h->ck)
    {
      memcpy (out, g_checksum_get_string (h->ck), 64);
      out[64] = '\0';
      g_checksum_free (h->ck);
      g_free (h);
      return;
    }
#ifdef MB_HAVE_LIBCRYPTO
  static const char hex[] = "0123456789abcdef";
  unsigned char md[32];
  unsigned int n = 0;
  EVP_DigestFinal_ex (h->ctx, md, &n);
  for (guint i = 0; i < 32; i++)
    {
      out[2 * i] = hex[md[i] >> 4];
      out[2 * i + 1] = hex[md[i] & 15];
    }
  out[64] = '\0';
  EVP_MD_CTX_free (h->ctx);
#endif
  g_free (h);
}

guint32
mb_chunk_crc_compute (const guint8 *data, gsize len)
{
  return mb_crc32 (0, data, len);
}

static guint64
seed_of (const char *file, guint index)
{
  guint64 h = G_GUINT64_CONSTANT (0xcbf29ce484222325);
  for (const char *p = file; *p; p++)
    h = (h ^ (guint8) *p) * G_GUINT64_CONSTANT (0x100000001b3);
  h ^= index + G_GUINT64_CONSTANT (0x9e3779b97f4a7c15) + (h << 6) + (h >> 2);
  return h ? h : 1;
}

void
mb_chunk_generate (const char *file, guint index, guint8 *out, gsize len)
{
  guint64 x = seed_of (file, index);
  gsize i = 0;
  while (i < len)
    {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      for (guint b = 0; b < 8 && i < len; b++, i++)
        out[i] = (guint8) (x >> (8 * b));
    }
}
