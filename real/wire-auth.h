/* wire-auth.h — the cryptography of the wire handshake and of frame MACs,
 * without sockets: fresh nonces, the proofs a HELLO is followed by, the
 * session keys and the per-frame MAC.  The protocol that uses them is
 * transport-auth.c's (see transport.h).
 *
 * Keys and proofs are HMAC-SHA-256 keyed by the cluster secret; the frame
 * MAC is GMAC (AES-256-GCM with the frame as associated data, nothing
 * encrypted), about six times cheaper per byte than HMAC-SHA-256 here:
 *   proof  = HMAC (secret, "minibit-hello-v1" || role || own nonce ||
 *                  peer nonce || u16 length || own listen address)
 *            role: 1 from the dialler, 2 from the acceptor;
 *   K      = HMAC (secret, "minibit-session-v1" || dialler nonce || acceptor nonce)
 *   K_role = HMAC (K, "minibit-frames-v2" || role)       one key per direction
 *   tag    = AES-256-GCM (key K_role, IV 0^32 || u64 sequence number,
 *                         associated data = frame, no plaintext).tag (16 bytes)
 * The sequence number counts the sender's frames after its PROOF, from 0;
 * so no IV repeats under a key (GCM's one requirement).
 * A proof cannot be replayed (fresh nonces from both sides), reflected (the
 * role and the prover's nonce come first) or moved to another address (the
 * address is in it); a frame cannot be replayed, reordered, reflected or
 * moved to another connection (sequence number, per-direction key, nonces).
 *
 * The GMAC comes from OpenSSL's libcrypto (AES and carry-less multiply
 * instructions; real mode requires it), the HMACs from GLib's GHmac.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MB_AUTH_NONCE_LEN 32
#define MB_AUTH_PROOF_LEN 32
#define MB_AUTH_TAG_LEN 16

#define MB_AUTH_ERROR (mb_auth_error_quark ())
GQuark mb_auth_error_quark (void);

typedef enum {
  MB_AUTH_ERROR_RANDOM,   /* the kernel's random generator failed */
  MB_AUTH_ERROR_MAC,      /* a frame's MAC does not match */
} MbAuthError;

typedef enum {
  MB_AUTH_DIALLER = 1,
  MB_AUTH_ACCEPTOR = 2,
} MbAuthRole;

/* len bytes from the kernel's CSPRNG (getrandom(2)). */
gboolean mb_auth_random (guint8 *out, gsize len, GError **error);

/* The proof a side sends after the other's CHALLENGE (see above). */
void mb_auth_proof (GBytes *secret, MbAuthRole prover, const guint8 *own_nonce,
                    const guint8 *peer_nonce, const char *prover_addr,
                    guint8 out[MB_AUTH_PROOF_LEN]);

/* a == b over len bytes, in time that does not depend on where they differ. */
gboolean mb_auth_equal (const guint8 *a, const guint8 *b, gsize len);

/* One direction of a connection: its key and sequence number. */
typedef struct _MbFrameMac MbFrameMac;

MbFrameMac *mb_frame_mac_new (GBytes *secret, const guint8 *dialler_nonce,
                              const guint8 *acceptor_nonce, MbAuthRole sender);
void mb_frame_mac_free (MbFrameMac *m);
/* The tag of the next frame sent (frame: the whole frame, length field
 * included); the sequence number moves on. */
void mb_frame_mac_seal (MbFrameMac *m, const guint8 *frame, gsize len,
                        guint8 tag[MB_AUTH_TAG_LEN]);
/* Checks the tag of the next frame received; the sequence number moves on
 * only if it matches (else the connection is to be dropped). */
gboolean mb_frame_mac_check (MbFrameMac *m, const guint8 *frame, gsize len,
                             const guint8 *tag, GError **error);
/* Frames sealed or checked so far. */
guint64 mb_frame_mac_seq (const MbFrameMac *m);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MbFrameMac, mb_frame_mac_free)

G_END_DECLS
