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

/* ---- frame MACs: GMAC (AES-256-GCM over the frame as associated data) ---- */

#ifndef MB_HAVE_LIBCRYPTO
#error "real mode needs OpenSSL's libcrypto (the frame MAC is AES-256-GMAC)"
#endif

struct _MbFrameMac {
  guint64 seq;
  EVP_CIPHER_CTX *gcm;   /* keyed once; the IV is set per frame */
};

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
  static const char flabel[] = "minibit-frames-v2";
  g_hmac_update (h, (const guchar *) flabel, sizeof flabel - 1);
  guint8 role = (guint8) sender;
  g_hmac_update (h, &role, 1);
  mb_hmac_finish (h, key);

  MbFrameMac *m = g_new0 (MbFrameMac, 1);
  m->gcm = EVP_CIPHER_CTX_new ();
  if (m->gcm == NULL || EVP_EncryptInit_ex (m->gcm, EVP_aes_256_gcm (), NULL, key, NULL) != 1)
    g_error ("wire-auth: libcrypto could not set up AES-256-GCM");
  memset (session, 0, sizeof session);
  memset (key, 0, sizeof key);
  return m;
}

void
mb_frame_mac_free (MbFrameMac *m)
{
  if (m == NULL)
    return;
  g_clear_pointer (&m->gcm, EVP_CIPHER_CTX_free);  /* wipes the key schedule */
  g_free (m);
}

/* GMAC of the frame with IV = 4 zero bytes || u64 sequence number: each
 * (key, IV) pair is used once, the sequence number only growing. */
static void
mb_frame_mac_compute (MbFrameMac *m, guint64 seq, const guint8 *frame, gsize len,
                      guint8 out[MB_AUTH_TAG_LEN])
{
  guint8 iv[12] = { 0 };
  for (guint i = 0; i < 8; i++)
    iv[4 + i] = (guint8) (seq >> (56 - 8 * i));
  int n = 0;
  gboolean ok = EVP_EncryptInit_ex (m->gcm, NULL, NULL, NULL, iv) == 1;
  while (ok && len > 0)
    {
      int part = (int) MIN (len, (gsize) (G_MAXINT / 2));
      ok = EVP_EncryptUpdate (m->gcm, NULL, &n, frame, part) == 1;
      frame += part;
      len -= (gsize) part;
    }
  guint8 none[16];
  ok = ok && EVP_EncryptFinal_ex (m->gcm, none, &n) == 1
       && EVP_CIPHER_CTX_ctrl (m->gcm, EVP_CTRL_GCM_GET_TAG, MB_AUTH_TAG_LEN, out) == 1;
  if (!ok)
    g_error ("wire-auth: libcrypto's AES-256-GCM failed on a frame MAC");
}

void
mb_frame_mac_seal (MbFrameMac *m, const guint8 *frame, gsize len, guint8 tag[MB_AUTH_TAG_LEN])
{
  mb_frame_mac_compute (m, m->seq++, frame, len, tag);
}

gboolean
mb_frame_mac_check (MbFrameMac *m, const guint8 *frame, gsize len, const guint8 *tag,
                    GError **error)
{
  guint8 full[MB_AUTH_TAG_LEN];
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
