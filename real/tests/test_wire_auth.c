/* test_wire_auth.c — the handshake's cryptography (wire-auth.h) and where
 * the cluster secret comes from (cluster-secret.h).
 *
 *  /wire-auth/proof            proofs differ by role, nonce order, address
 *                              and secret; the same inputs give the same proof
 *  /wire-auth/frame-mac        a sealed frame checks on the other end once, in
 *                              order; altered, replayed, reordered, reflected
 *                              or moved to another session it fails
 *  /wire-auth/frame-mac-spec   the keys are HMAC-SHA-256 as wire-auth.h
 *                              writes them (recomputed with GHmac, checked on
 *                              RFC 4231), the tags AES-256-GMAC with the IV
 *                              it gives (recomputed with a one-shot GCM,
 *                              itself checked on the GCM specification's
 *                              test case 13)
 *  /wire-auth/random           nonces differ
 *  /cluster-secret/file        a 0600 file is read (trailing newline cut); a
 *                              0644 or 0640 file, a directory, a FIFO (no
 *                              hang), a missing or short file are refused,
 *                              naming the file and why
 *  /cluster-secret/env         MINIBIT_CLUSTER_SECRET, and the file winning
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster-secret.h"
#include "test-util.h"
#include "wire-auth.h"

#include <openssl/evp.h>

static GBytes *
secret_of (const char *s)
{
  return g_bytes_new (s, strlen (s));
}

/* ---- proofs ---------------------------------------------------------------- */

static void
test_proof (void)
{
  g_autoptr (GBytes) k1 = secret_of ("secret-one-0123456789");
  g_autoptr (GBytes) k2 = secret_of ("secret-two-0123456789");
  guint8 na[MB_AUTH_NONCE_LEN], nb[MB_AUTH_NONCE_LEN];
  memset (na, 0xaa, sizeof na);
  memset (nb, 0xbb, sizeof nb);
  guint8 p[6][MB_AUTH_PROOF_LEN];
  mb_auth_proof (k1, MB_AUTH_DIALLER, na, nb, "127.0.0.1:1", p[0]);
  mb_auth_proof (k1, MB_AUTH_ACCEPTOR, na, nb, "127.0.0.1:1", p[1]);  /* role */
  mb_auth_proof (k1, MB_AUTH_DIALLER, nb, na, "127.0.0.1:1", p[2]);   /* nonce order */
  mb_auth_proof (k1, MB_AUTH_DIALLER, na, nb, "127.0.0.1:2", p[3]);   /* address */
  mb_auth_proof (k2, MB_AUTH_DIALLER, na, nb, "127.0.0.1:1", p[4]);   /* secret */
  mb_auth_proof (k1, MB_AUTH_DIALLER, na, nb, "127.0.0.1:1", p[5]);   /* same as 0 */
  for (guint i = 0; i < 5; i++)
    for (guint j = i + 1; j < 5; j++)
      g_assert_false (mb_auth_equal (p[i], p[j], MB_AUTH_PROOF_LEN));
  g_assert_true (mb_auth_equal (p[0], p[5], MB_AUTH_PROOF_LEN));
  /* the address is length-prefixed: "1.2.3.4:5" + role never collides */
  guint8 q[MB_AUTH_PROOF_LEN];
  mb_auth_proof (k1, MB_AUTH_DIALLER, na, nb, "127.0.0.1:1 ", q);
  g_assert_false (mb_auth_equal (p[0], q, MB_AUTH_PROOF_LEN));
}

/* ---- frame MACs ---------------------------------------------------------------- */

static void
test_frame_mac (void)
{
  g_autoptr (GBytes) k = secret_of ("a-cluster-secret-for-tests");
  guint8 dn[MB_AUTH_NONCE_LEN], an[MB_AUTH_NONCE_LEN], other[MB_AUTH_NONCE_LEN];
  g_assert_true (mb_auth_random (dn, sizeof dn, NULL));
  g_assert_true (mb_auth_random (an, sizeof an, NULL));
  g_assert_true (mb_auth_random (other, sizeof other, NULL));
  g_autoptr (MbFrameMac) d_tx = mb_frame_mac_new (k, dn, an, MB_AUTH_DIALLER);
  g_autoptr (MbFrameMac) a_rx = mb_frame_mac_new (k, dn, an, MB_AUTH_DIALLER);
  g_autoptr (MbFrameMac) a_tx = mb_frame_mac_new (k, dn, an, MB_AUTH_ACCEPTOR);
  g_autoptr (MbFrameMac) d_rx = mb_frame_mac_new (k, dn, an, MB_AUTH_ACCEPTOR);
  const guint8 f1[] = "\0\0\0\x0a\x15 frame one";
  const guint8 f2[] = "\0\0\0\x0a\x15 frame two";
  guint8 t1[MB_AUTH_TAG_LEN], t2[MB_AUTH_TAG_LEN], r1[MB_AUTH_TAG_LEN];
  mb_frame_mac_seal (d_tx, f1, sizeof f1, t1);
  mb_frame_mac_seal (d_tx, f2, sizeof f2, t2);
  mb_frame_mac_seal (a_tx, f1, sizeof f1, r1);
  g_autoptr (GError) error = NULL;
  /* reordered: frame two first fails (and the sequence does not move) */
  g_assert_false (mb_frame_mac_check (a_rx, f2, sizeof f2, t2, &error));
  g_assert_error (error, MB_AUTH_ERROR, MB_AUTH_ERROR_MAC);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  /* reflected: the acceptor's own tag of frame one, sent back to it */
  g_assert_false (mb_frame_mac_check (a_rx, f1, sizeof f1, r1, NULL));
  /* in order: both pass */
  g_assert_true (mb_frame_mac_check (a_rx, f1, sizeof f1, t1, &error));
  g_assert_true (mb_frame_mac_check (a_rx, f2, sizeof f2, t2, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (mb_frame_mac_seq (a_rx), ==, 2);
  /* replayed: frame two again */
  g_assert_false (mb_frame_mac_check (a_rx, f2, sizeof f2, t2, NULL));
  /* altered: one bit of the frame */
  guint8 t3[MB_AUTH_TAG_LEN];
  guint8 f3[sizeof f1];
  memcpy (f3, f1, sizeof f1);
  mb_frame_mac_seal (d_tx, f3, sizeof f3, t3);
  f3[7] ^= 1;
  g_assert_false (mb_frame_mac_check (a_rx, f3, sizeof f3, t3, NULL));
  /* the other direction works on its own */
  g_assert_true (mb_frame_mac_check (d_rx, f1, sizeof f1, r1, NULL));
  /* another session (another acceptor nonce): the same frame and sequence fail */
  g_autoptr (MbFrameMac) x_rx = mb_frame_mac_new (k, dn, other, MB_AUTH_DIALLER);
  g_assert_false (mb_frame_mac_check (x_rx, f1, sizeof f1, t1, NULL));
}

/* HMAC-SHA-256 with GHmac, one shot. */
static void
ghmac (const guint8 *key, gsize klen, const guint8 *const *parts, const gsize *lens,
       guint n, guint8 out[32])
{
  GHmac *h = g_hmac_new (G_CHECKSUM_SHA256, key, klen);
  for (guint i = 0; i < n; i++)
    g_hmac_update (h, parts[i], (gssize) lens[i]);
  gsize len = 32;
  g_hmac_get_digest (h, out, &len);
  g_hmac_unref (h);
}

/* AES-256-GCM's tag over aad with no plaintext, one shot, fresh context. */
static void
gmac (const guint8 key[32], const guint8 iv[12], const guint8 *aad, gsize len, guint8 out[16])
{
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new ();
  int n = 0;
  guint8 none[16];
  g_assert_nonnull (c);
  g_assert_cmpint (EVP_EncryptInit_ex (c, EVP_aes_256_gcm (), NULL, key, iv), ==, 1);
  if (len > 0)
    g_assert_cmpint (EVP_EncryptUpdate (c, NULL, &n, aad, (int) len), ==, 1);
  g_assert_cmpint (EVP_EncryptFinal_ex (c, none, &n), ==, 1);
  g_assert_cmpint (EVP_CIPHER_CTX_ctrl (c, EVP_CTRL_GCM_GET_TAG, 16, out), ==, 1);
  EVP_CIPHER_CTX_free (c);
}

static void
test_frame_mac_spec (void)
{
  /* RFC 4231 test case 2 first: GHmac itself. */
  const guint8 *rfc_parts[] = { (const guint8 *) "what do ya want for nothing?" };
  const gsize rfc_lens[] = { 28 };
  guint8 rfc[32];
  ghmac ((const guint8 *) "Jefe", 4, rfc_parts, rfc_lens, 1, rfc);
  static const guint8 rfc_want[32] = {
    0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95,
    0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9,
    0x64, 0xec, 0x38, 0x43 };
  g_assert_cmpmem (rfc, 32, rfc_want, 32);

  const char *secret = "spec-check-secret-0123456789";
  g_autoptr (GBytes) k = secret_of (secret);
  guint8 dn[MB_AUTH_NONCE_LEN], an[MB_AUTH_NONCE_LEN];
  for (guint i = 0; i < MB_AUTH_NONCE_LEN; i++)
    {
      dn[i] = (guint8) i;
      an[i] = (guint8) (200 - i);
    }
  /* K = HMAC (secret, "minibit-session-v1" || dn || an) */
  guint8 session[32], key[32], want[32];
  const guint8 *sp[] = { (const guint8 *) "minibit-session-v1", dn, an };
  const gsize sl[] = { 18, MB_AUTH_NONCE_LEN, MB_AUTH_NONCE_LEN };
  ghmac ((const guint8 *) secret, strlen (secret), sp, sl, 3, session);
  /* K_acceptor = HMAC (K, "minibit-frames-v2" || 2) */
  const guint8 role = MB_AUTH_ACCEPTOR;
  const guint8 *kp[] = { (const guint8 *) "minibit-frames-v2", &role };
  const gsize kl[] = { 17, 1 };
  ghmac (session, 32, kp, kl, 2, key);
  /* The one-shot GMAC first on the GCM specification's test case 13
   * (McGrew & Viega: AES-256, zero key and IV, no data): the tag
   * 530f8afbc74536b9a963b4f1c4cb738b. */
  static const guint8 zero[32] = { 0 };
  static const guint8 tc13[16] = { 0x53, 0x0f, 0x8a, 0xfb, 0xc7, 0x45, 0x36, 0xb9,
                                   0xa9, 0x63, 0xb4, 0xf1, 0xc4, 0xcb, 0x73, 0x8b };
  guint8 t13[16];
  gmac (zero, zero, NULL, 0, t13);
  g_assert_cmpmem (t13, 16, tc13, 16);
  g_autoptr (MbFrameMac) m = mb_frame_mac_new (k, dn, an, MB_AUTH_ACCEPTOR);
  gsize big = 300 * 1000;  /* over many GHASH blocks and read sizes */
  g_autofree guint8 *frame = g_malloc (big);
  for (gsize i = 0; i < big; i++)
    frame[i] = (guint8) (i * 7);
  for (guint64 seq = 0; seq < 3; seq++)
    {
      guint8 iv[12] = { 0 };
      for (guint i = 0; i < 8; i++)
        iv[4 + i] = (guint8) (seq >> (56 - 8 * i));
      gsize len = seq == 1 ? big : 9 + seq;
      gmac (key, iv, frame, len, want);
      guint8 tag[MB_AUTH_TAG_LEN];
      mb_frame_mac_seal (m, frame, len, tag);
      g_assert_cmpmem (tag, MB_AUTH_TAG_LEN, want, MB_AUTH_TAG_LEN);
    }
  /* proof = HMAC (secret, "minibit-hello-v1" || role || own || peer || u16 len || addr) */
  const char *addr = "10.1.2.3:6001";
  const guint8 prole = MB_AUTH_DIALLER;
  const guint8 alen[2] = { 0, (guint8) strlen (addr) };
  const guint8 *pp[] = { (const guint8 *) "minibit-hello-v1", &prole, dn, an, alen,
                         (const guint8 *) addr };
  const gsize pl[] = { 16, 1, MB_AUTH_NONCE_LEN, MB_AUTH_NONCE_LEN, 2, strlen (addr) };
  ghmac ((const guint8 *) secret, strlen (secret), pp, pl, 6, want);
  guint8 proof[MB_AUTH_PROOF_LEN];
  mb_auth_proof (k, MB_AUTH_DIALLER, dn, an, addr, proof);
  g_assert_cmpmem (proof, 32, want, 32);
}

static void
test_random (void)
{
  guint8 a[32], b[32];
  g_assert_true (mb_auth_random (a, sizeof a, NULL));
  g_assert_true (mb_auth_random (b, sizeof b, NULL));
  g_assert_false (mb_auth_equal (a, b, sizeof a));
}

/* ---- the cluster secret ------------------------------------------------------------ */

static gchar *
write_secret (const char *dir, const char *name, const char *text, int mode)
{
  gchar *path = g_build_filename (dir, name, NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  g_assert_cmpint (chmod (path, (mode_t) mode), ==, 0);
  return path;
}

static void
expect_refused (const char *path, gint code, const char *says)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (mb_cluster_secret_load (path, &error));
  g_assert_error (error, MB_SECRET_ERROR, code);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, says));
}

static void
test_secret_file (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("minibit-secret-XXXXXX", NULL);
  g_assert_nonnull (dir);
  g_autofree gchar *good = write_secret (dir, "good", "0123456789abcdef0123\n", 0600);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) s = mb_cluster_secret_load (good, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (s, NULL), g_bytes_get_size (s), "0123456789abcdef0123", 20);
  g_autofree gchar *ro = write_secret (dir, "readonly", "0123456789abcdef0123", 0400);
  g_autoptr (GBytes) s2 = mb_cluster_secret_load (ro, &error);
  g_assert_no_error (error);
  g_assert_nonnull (s2);

  g_autofree gchar *world = write_secret (dir, "world", "0123456789abcdef0123", 0644);
  expect_refused (world, MB_SECRET_ERROR_PERMISSIONS, "chmod 600");
  g_autofree gchar *group = write_secret (dir, "group", "0123456789abcdef0123", 0640);
  expect_refused (group, MB_SECRET_ERROR_PERMISSIONS, "mode 0640");
  g_autofree gchar *shrt = write_secret (dir, "short", "tooshort\n", 0600);
  expect_refused (shrt, MB_SECRET_ERROR_SIZE, "at least 16");
  g_autofree gchar *missing = g_build_filename (dir, "missing", NULL);
  expect_refused (missing, MB_SECRET_ERROR_FILE, "No such file");
  g_autofree gchar *sub = g_build_filename (dir, "sub", NULL);
  g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);
  expect_refused (sub, MB_SECRET_ERROR_FILE, "not a regular file");
  g_autofree gchar *fifo = g_build_filename (dir, "fifo", NULL);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  expect_refused (fifo, MB_SECRET_ERROR_FILE, "not a regular file");  /* and no hang */
  g_autofree gchar *big = g_build_filename (dir, "big", NULL);
  g_autofree gchar *text = g_strnfill (5000, 'x');
  g_assert_true (g_file_set_contents (big, text, -1, NULL));
  chmod (big, 0600);
  expect_refused (big, MB_SECRET_ERROR_SIZE, "at most 4096");
  mb_test_remove_tree (dir);
}

static void
test_secret_env (void)
{
  g_autoptr (GError) error = NULL;
  g_unsetenv (MB_CLUSTER_SECRET_ENV);
  g_assert_null (mb_cluster_secret_load (NULL, &error));
  g_assert_no_error (error);
  g_setenv (MB_CLUSTER_SECRET_ENV, "", TRUE);
  g_assert_null (mb_cluster_secret_load (NULL, &error));
  g_assert_no_error (error);
  g_setenv (MB_CLUSTER_SECRET_ENV, "short", TRUE);
  g_assert_null (mb_cluster_secret_load (NULL, &error));
  g_assert_error (error, MB_SECRET_ERROR, MB_SECRET_ERROR_SIZE);
  g_assert_nonnull (strstr (error->message, MB_CLUSTER_SECRET_ENV));
  g_clear_error (&error);
  g_setenv (MB_CLUSTER_SECRET_ENV, "from-the-environment-42", TRUE);
  g_autoptr (GBytes) s = mb_cluster_secret_load (NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (s, NULL), g_bytes_get_size (s), "from-the-environment-42", 23);
  /* the file wins */
  g_autofree gchar *dir = g_dir_make_tmp ("minibit-secret-XXXXXX", NULL);
  g_autofree gchar *f = write_secret (dir, "s", "from-the-file-0123456", 0600);
  g_autoptr (GBytes) s2 = mb_cluster_secret_load (f, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (s2, NULL), g_bytes_get_size (s2), "from-the-file-0123456", 21);
  g_unsetenv (MB_CLUSTER_SECRET_ENV);
  mb_test_remove_tree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/wire-auth/proof", test_proof);
  g_test_add_func ("/wire-auth/frame-mac", test_frame_mac);
  g_test_add_func ("/wire-auth/frame-mac-spec", test_frame_mac_spec);
  g_test_add_func ("/wire-auth/random", test_random);
  g_test_add_func ("/cluster-secret/file", test_secret_file);
  g_test_add_func ("/cluster-secret/env", test_secret_env);
  return g_test_run ();
}
