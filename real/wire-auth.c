/* wire-auth.c — nonces, proofs, session keys and frame MACs (wire-auth.h).
 *
 * Invariants: a MbFrameMac's key never changes; its sequence number only
 * grows, by one per frame sealed or accepted; keys are wiped when freed.
 */
#define G_LOG_DOMAIN "minibit"

#include "wire-auth.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#ifdef MB_HAVE_LIBCRYPTO
#include <openssl/evp.h>
#endif

#define MB_SHA256_BLOCK 64
#define MB_SHA256_LEN 32

G_DEFINE_QUARK (mb-auth-error-quark, mb_auth_error)

gboolean
mb_auth_random (guint8 *out, gsize len, GError **error)
{
  gsize got = 0;
  while (got < len)
    {
      ssize_t n = getrandom (out + got, len - got, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int e = errno;
          g_set_error (error, MB_AUTH_ERROR, MB_AUTH_ERROR_RANDOM,
                       "getrandom: %s", n < 0 ? g_strerror (e) : "no bytes");
          return FALSE;
        }
      got += (gsize) n;
    }
  return TRUE;
}

gboolean
mb_auth_equal (const guint8 *a, const guint8 *b, gsize len)
{
  volatile guint8 diff = 0;
  for (gsize i = 0; i < len; i++)
    diff |= a[i] ^ b[i];
  return diff == 0;
}

/* ---- one-shot HMAC-SHA-256 (the handshake: a few per connection) ---- */

static GHmac *
mb_hmac_new (const guint8 *key, gsize key_len)
{
  return g_hmac_new (G_CHECKSUM_SHA256, key, key_len);
}

static void
mb_hmac_finish (GHmac *h, guint8 out[MB_SHA256_LEN])
{
  gsize n = MB_SHA256_LEN;
  g_hmac_get_digest (h, out, &n);
  g_assert (n == MB_SHA256_LEN);
  g_hmac_unref (h);
}

void
mb_auth_proof (GBytes *secret, MbAuthRole prover, const guint8 *own_nonce,
               const guint8 *peer_nonce, const char *prover_addr,
               guint8 out[MB_AUTH_PROOF_LEN])
{
  gsize klen = 0;
  const guint8 *key = g_bytes_get_data (secret, &klen);
  GHmac *h = mb_hmac_new (key, klen);
  static const char label[] = "minibit-hello-v1";
  g_hmac_update (h, (const guchar *) label, sizeof label - 1);
  guint8 role = (guint8) prover;
  g_hmac_update (h, &role, 1);
  g_hmac_update (h, own_nonce, MB_AUTH_NONCE_LEN);
  g_hmac_update (h, peer_nonce, MB_AUTH_NONCE_LEN);
  gsize alen = prover_addr != NULL ? MIN (strlen (prover_addr), (gsize) G_MAXUINT16) : 0;
  guint8 be[2] = { (guint8) (alen >> 8), (guint8) alen };
  g_hmac_update (h, be, 2);
  g_hmac_update (h, (const guchar *) (prover_addr != NULL ? prover_addr : ""), (gssize) alen);
  mb_hmac_finish (h, out);
}

/* ---- frame MACs: a keyed state, copied per frame ---- */

struct _MbFrameMac {
  guint64 seq;
#ifdef MB_HAVE_LIBCRYPTO
  EVP_MD_CTX *inner;   /* SHA-256 after (key ^ ipad) */
  EVP_MD_CTX *outer;   /* SHA-256 after (key ^ opad) */
  EVP_MD_CTX *work;
#endif
  GHmac *hmac;         /* without libcrypto, or if it failed */
};

#ifdef MB_HAVE_LIBCRYPTO
/* HMAC's two keyed states (RFC 2104), for a key of at most one block. */
static gboolean
mb_frame_mac_init_evp (MbFrameMac *m, const guint8 key[MB_SHA256_LEN])
{
  guint8 pad[MB_SHA256_BLOCK];
  m->inner = EVP_MD_CTX_new ();
  m->outer = EVP_MD_CTX_new ();
  m->work = EVP_MD_CTX_new ();
  if (m->inner == NULL || m->outer == NULL || m->work == NULL)
    return FALSE;
  memset (pad, 0x36, sizeof pad);
  for (guint i = 0; i < MB_SHA256_LEN; i++)
    pad[i] ^= key[i];
  gboolean ok = EVP_DigestInit_ex (m->inner, EVP_sha256 (), NULL) == 1
                && EVP_DigestUpdate (m->inner, pad, sizeof pad) == 1;
  memset (pad, 0x5c, sizeof pad);
  for (guint i = 0; i < MB_SHA256_LEN; i++)
    pad[i] ^= key[i];
  ok = ok && EVP_DigestInit_ex (m->outer, EVP_sha256 (), NULL) == 1
       && EVP_DigestUpdate (m->outer, pad, sizeof pad) == 1;
  memset (pad, 0, sizeof pad);
  return ok;
}
#endif

MbFrameMac *
mb_frame_mac_new (GBytes *secret, const guint8 *dialler_nonce, const guint8 *acceptor_nonce,
                  MbAuthRole sender)
{
  gsize klen = 0;
  const guint8 *secret_bytes = g_bytes_get_data (secret, &klen);
  guint8 session[MB_SHA256_LEN], key[MB_SHA256_LEN];
  GHmac *h = mb_hmac_new (secret_bytes, klen);
  static const char slabel[] = "minibit-session-v1";
  g_hmac_update (h, (const guchar *) slabel, sizeof slabel - 1);
  g_hmac_update (h, dialler_nonce, MB_AUTH_NONCE_LEN);
  g_hmac_update (h, acceptor_nonce, MB_AUTH_NONCE_LEN);
  mb_hmac_finish (h, session);
  h = mb_hmac_new (session, sizeof session);
  static const char flabel[] = "minibit-frames-v1";
  g_hmac_update (h, (const guchar *) flabel, sizeof flabel - 1);
  guint8 role = (guint8) sender;
  g_hmac_update (h, &role, 1);
  mb_hmac_finish (h, key);

  MbFrameMac *m = g_new0 (MbFrameMac, 1);
#ifdef MB_HAVE_LIBCRYPTO
  if (!mb_frame_mac_init_evp (m, key))
    {
      g_clear_pointer (&m->inner, EVP_MD_CTX_free);
      g_clear_pointer (&m->outer, EVP_MD_CTX_free);
      g_clear_pointer (&m->work, EVP_MD_CTX_free);
    }
  if (m->inner == NULL)
#endif
    m->hmac = mb_hmac_new (key, sizeof key);
  memset (session, 0, sizeof session);
  memset (key, 0, sizeof key);
  return m;
}

void
mb_frame_mac_free (MbFrameMac *m)
{
  if (m == NULL)
    return;
#ifdef MB_HAVE_LIBCRYPTO
  g_clear_pointer (&m->inner, EVP_MD_CTX_free);
  g_clear_pointer (&m->outer, EVP_MD_CTX_free);
  g_clear_pointer (&m->work, EVP_MD_CTX_free);
#endif
  g_clear_pointer (&m->hmac, g_hmac_unref);
  g_free (m);
}

/* The full HMAC of (seq, frame). */
static void
mb_frame_mac_compute (MbFrameMac *m, guint64 seq, const guint8 *frame, gsize len,
                      guint8 out[MB_SHA256_LEN])
{
  guint8 be[8];
  for (guint i = 0; i < 8; i++)
    be[i] = (guint8) (seq >> (56 - 8 * i));
#ifdef MB_HAVE_LIBCRYPTO
  if (m->inner != NULL)
    {
      guint8 ih[MB_SHA256_LEN];
      unsigned int n = 0;
      if (EVP_MD_CTX_copy_ex (m->work, m->inner) == 1
          && EVP_DigestUpdate (m->work, be, sizeof be) == 1
          && EVP_DigestUpdate (m->work, frame, len) == 1
          && EVP_DigestFinal_ex (m->work, ih, &n) == 1 && n == MB_SHA256_LEN
          && EVP_MD_CTX_copy_ex (m->work, m->outer) == 1
          && EVP_DigestUpdate (m->work, ih, sizeof ih) == 1
          && EVP_DigestFinal_ex (m->work, out, &n) == 1 && n == MB_SHA256_LEN)
        return;
      g_error ("wire-auth: libcrypto's SHA-256 failed on a frame MAC");
    }
#endif
  GHmac *h = g_hmac_copy (m->hmac);
  g_hmac_update (h, be, sizeof be);
  while (len > 0)
    {
      gsize n = MIN (len, (gsize) G_MAXSSIZE);
      g_hmac_update (h, frame, (gssize) n);
      frame += n;
      len -= n;
    }
  mb_hmac_finish (h, out);
}

void
mb_frame_mac_seal (MbFrameMac *m, const guint8 *frame, gsize len, guint8 tag[MB_AUTH_TAG_LEN])
{
  guint8 full[MB_SHA256_LEN];
  mb_frame_mac_compute (m, m->seq++, frame, len, full);
  memcpy (tag, full, MB_AUTH_TAG_LEN);
}

gboolean
mb_frame_mac_check (MbFrameMac *m, const guint8 *frame, gsize len, const guint8 *tag,
                    GError **error)
{
  guint8 full[MB_SHA256_LEN];
  mb_frame_mac_compute (m, m->seq, frame, len, full);
  if (!mb_auth_equal (full, tag, MB_AUTH_TAG_LEN))
    {
      g_set_error (error, MB_AUTH_ERROR, MB_AUTH_ERROR_MAC,
                   "frame %" G_GUINT64_FORMAT " after the handshake (type %u, %" G_GSIZE_FORMAT
                   " bytes): bad MAC (altered, replayed, or not sent with the cluster secret)",
                   m->seq, len > 4 ? frame[4] : 0u, len);
      return FALSE;
    }
  m->seq++;
  return TRUE;
}

guint64
mb_frame_mac_seq (const MbFrameMac *m)
{
  return m->seq;
}
