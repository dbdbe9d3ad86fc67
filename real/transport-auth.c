/* transport-auth.c — the handshake every connection starts with (the
 * protocol: transport.h; the cryptography: wire-auth.h):
 *
 *   both ends at once       HELLO {name, addr}, CHALLENGE {flags, nonce}
 *   on the peer's CHALLENGE PROOF {HMAC over both nonces, our role and
 *                           address}; empty without a secret
 *   on the peer's PROOF     checked; then its frames may be max_frame long
 *                           and, with a secret, each carries a MAC that the
 *                           decoder checks before decoding it
 *   then                    dialled: open; accepted: dial-back first
 *                           (transport-verify.c); a probe: DIALBACK only
 *
 * Invariants: the peer's frames come in that order or the connection is
 * dropped, naming the peer and what came instead; a proof is compared in
 * constant time; tx and rx exist exactly when there is a secret and the
 * peer's nonce is known; the decoder is reframed exactly once, right after
 * the peer's PROOF is accepted; nothing reaches the core before OPEN.
 */
#define G_LOG_DOMAIN "minibit"

#include "transport.h"
#define MB_REAL_TRANSPORT_INTERNAL
#include "transport-private.h"
#include "wire-auth.h"

#include <string.h>

/* ---- writing ---------------------------------------------------------------- */

gboolean
mbi_transport_auth_init (MbConn *c, GError **error)
{
  return mb_auth_random (c->nonce, MB_AUTH_NONCE_LEN, error);
}

void
mbi_transport_auth_opening (MbConn *c, GByteArray *out)
{
  MbTransport *t = c->t;
  g_byte_array_append (out, g_bytes_get_data (t->hello, NULL), (guint) g_bytes_get_size (t->hello));
  MbMessage *ch = mb_message_new (MB_MSG_CHALLENGE);
  ch->code = (c->probe ? MB_CHALLENGE_PROBE : 0u) | (t->secret != NULL ? MB_CHALLENGE_SECRET : 0u)
             | (t->is_client ? MB_CHALLENGE_CLIENT : 0u);
  ch->data = g_bytes_new (c->nonce, MB_AUTH_NONCE_LEN);
  gboolean ok = mb_codec_encode (ch, out, NULL);
  g_assert (ok);
  mb_message_free (ch);
}

void
mbi_transport_auth_append (MbConn *c, GByteArray *out, const guint8 *frame, gsize len)
{
  g_byte_array_append (out, frame, (guint) len);
  if (c->tx != NULL && c->proof_sent)
    {
      guint8 tag[MB_AUTH_TAG_LEN];
      mb_frame_mac_seal (c->tx, frame, len, tag);
      g_byte_array_append (out, tag, sizeof tag);
    }
}

/* ---- reading the handshake ----------------------------------------------------- */

static gboolean G_GNUC_PRINTF (3, 4)
mb_auth_refuse (MbConn *c, gboolean auth, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  gchar *why = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (auth)
    c->t->stats.auth_failures++;
  mbi_transport_conn_drop (c, TRUE, FALSE, why);
  g_free (why);
  return FALSE;
}

static MbAuthRole
mb_auth_role (const MbConn *c, gboolean ours)
{
  return c->outgoing == ours ? MB_AUTH_DIALLER : MB_AUTH_ACCEPTOR;
}

/* The claimed address, with an unspecified host (a peer listening on
 * 0.0.0.0 or :: that advertises just that) replaced by the address the
 * connection comes from: the only host it can mean. */
static gchar *
mb_auth_claim (MbConn *c, const char *addr)
{
  g_autofree gchar *host = NULL;
  guint16 port = 0;
  if (!mb_transport_addr_split (addr, &host, &port))
    return g_strdup (addr);
  g_autoptr (GInetAddress) ia = g_inet_address_new_from_string (host);
  if (ia == NULL || !g_inet_address_get_is_any (ia))
    return g_strdup (addr);
  g_autoptr (GSocketAddress) sa = g_socket_connection_get_remote_address (c->sc, NULL);
  if (sa == NULL || !G_IS_INET_SOCKET_ADDRESS (sa))
    return g_strdup (addr);
  g_autofree gchar *ip =
    g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sa)));
  return mb_transport_addr_join (ip, port);
}

static gboolean
mb_auth_on_hello (MbConn *c, const MbMessage *hello)
{
  MbTransport *t = c->t;
  if (hello->type != MB_MSG_HELLO)
    return mb_auth_refuse (c, FALSE, "first frame is %s, not hello",
                           mb_message_type_name (hello->type));
  if (!mb_transport_addr_split (hello->addr, NULL, NULL))
    return mb_auth_refuse (c, FALSE, "hello with a bad address \"%s\"",
                           hello->addr != NULL ? hello->addr : "");
  c->claim_sent = g_strdup (hello->addr);
  c->claim = mb_auth_claim (c, hello->addr);
  c->claim_name = g_strdup (hello->name);
  if (strcmp (c->claim, t->listen_addr) == 0)
    return mb_auth_refuse (c, FALSE, "connected to itself");
  if (c->outgoing && c->node != NULL)
    mbi_transport_node_learn (t, c->node, hello->name, hello->addr);
  c->stage = MB_STAGE_CHALLENGE;
  return TRUE;
}

static gboolean
mb_auth_on_challenge (MbConn *c, const MbMessage *ch)
{
  MbTransport *t = c->t;
  if (ch->type != MB_MSG_CHALLENGE)
    return mb_auth_refuse (c, TRUE, "after its hello it sent %s, not a challenge (a minibit "
                           "without the authenticated handshake?)",
                           mb_message_type_name (ch->type));
  gsize n = g_bytes_get_size (ch->data);
  if (n != MB_AUTH_NONCE_LEN)
    return mb_auth_refuse (c, TRUE, "a challenge with a %" G_GSIZE_FORMAT "-byte nonce "
                           "(%d expected)", n, MB_AUTH_NONCE_LEN);
  if ((ch->code & ~(MB_CHALLENGE_PROBE | MB_CHALLENGE_SECRET | MB_CHALLENGE_CLIENT)) != 0)
    return mb_auth_refuse (c, TRUE, "a challenge with unknown flags 0x%x", ch->code);
  c->peer_client = (ch->code & MB_CHALLENGE_CLIENT) != 0;
  gboolean peer_secret = (ch->code & MB_CHALLENGE_SECRET) != 0;
  if (t->secret != NULL && !peer_secret)
    return mb_auth_refuse (c, TRUE, "it has no cluster secret and this side has one "
                           "(give it the same MINIBIT_CLUSTER_SECRET or --cluster-secret-file)");
  if (t->secret == NULL && peer_secret)
    return mb_auth_refuse (c, TRUE, "it uses a cluster secret and this side has none "
                           "(set MINIBIT_CLUSTER_SECRET or --cluster-secret-file here too)");
  if ((ch->code & MB_CHALLENGE_PROBE) != 0)
    {
      if (c->outgoing)
        return mb_auth_refuse (c, TRUE, "a dial-back flag from a peer we dialled");
      c->probe = TRUE;
    }
  const guint8 *nonce = g_bytes_get_data (ch->data, NULL);
  if (mb_auth_equal (nonce, c->nonce, MB_AUTH_NONCE_LEN))
    return mb_auth_refuse (c, TRUE, "it sent our own nonce back (connected to itself?)");
  memcpy (c->peer_nonce, nonce, MB_AUTH_NONCE_LEN);
  MbMessage *proof = mb_message_new (MB_MSG_PROOF);
  if (t->secret != NULL)
    {
      const guint8 *dn = c->outgoing ? c->nonce : c->peer_nonce;
      const guint8 *an = c->outgoing ? c->peer_nonce : c->nonce;
      c->tx = mb_frame_mac_new (t->secret, dn, an, mb_auth_role (c, TRUE));
      c->rx = mb_frame_mac_new (t->secret, dn, an, mb_auth_role (c, FALSE));
      guint8 mac[MB_AUTH_PROOF_LEN];
      mb_auth_proof (t->secret, mb_auth_role (c, TRUE), c->nonce, c->peer_nonce,
                     t->listen_addr, mac);
      proof->data = g_bytes_new (mac, sizeof mac);
    }
  else
    proof->data = g_bytes_new (NULL, 0);
  c->proof = mb_codec_encode_bytes (proof, NULL);
  mb_message_free (proof);
  g_assert (c->proof != NULL);
  c->stage = MB_STAGE_PROOF;
  mbi_transport_conn_pump (c);
  return c->t != NULL;
}

/* The decoder's check of each frame's MAC, once the peer's PROOF is in. */
static gboolean
mb_auth_check_frame (gpointer user, const guint8 *frame, gsize len, const guint8 *trailer,
                     GError **error)
{
  MbConn *c = user;
  return mb_frame_mac_check (c->rx, frame, len, trailer, error);
}

/* Authenticated: dialled connections open, accepted ones are verified
 * first, probes carry or answer one question. */
static gboolean
mb_auth_done (MbConn *c)
{
  MbTransport *t = c->t;
  mb_decoder_reframe (c->dec, t->cfg.max_frame, t->secret != NULL ? MB_AUTH_TAG_LEN : 0,
                      t->secret != NULL ? mb_auth_check_frame : NULL, c);
  if (c->outgoing)
    {
      c->stage = MB_STAGE_OPEN;
      if (c->asking != NULL)
        mbi_transport_verify_ask (c);
      else
        {
          mbi_transport_conn_disarm (c, MB_TIMER_HELLO);
          g_debug ("transport %s: %s: handshake done", t->name, c->node ? c->node->addr : c->peer);
          mbi_transport_conn_pump (c);
          if (c->t != NULL && c->node != NULL && c->node->conn == c && t->session != NULL)
            t->session (t->user, c->node->id);
        }
      return c->t != NULL;
    }
  if (c->probe)
    {
      /* It may only ask; the handshake timer stays as its lifetime. */
      c->stage = MB_STAGE_OPEN;
      return TRUE;
    }
  c->stage = MB_STAGE_VERIFY;
  c->paused = TRUE;
  mbi_transport_verify_start (c);
  return c->t != NULL;
}

static gboolean
mb_auth_on_proof (MbConn *c, const MbMessage *pf)
{
  MbTransport *t = c->t;
  if (pf->type != MB_MSG_PROOF)
    return mb_auth_refuse (c, TRUE, "after its challenge it sent %s, not a proof",
                           mb_message_type_name (pf->type));
  gsize n = g_bytes_get_size (pf->data);
  if (t->secret == NULL && n != 0)
    return mb_auth_refuse (c, TRUE, "a %" G_GSIZE_FORMAT "-byte proof, and neither side "
                           "has a cluster secret", n);
  if (t->secret != NULL)
    {
      guint8 want[MB_AUTH_PROOF_LEN];
      mb_auth_proof (t->secret, mb_auth_role (c, FALSE), c->peer_nonce, c->nonce,
                     c->claim_sent, want);
      if (n != MB_AUTH_PROOF_LEN
          || !mb_auth_equal (g_bytes_get_data (pf->data, NULL), want, MB_AUTH_PROOF_LEN))
        return mb_auth_refuse (c, TRUE, "wrong proof: it does not hold this cluster's secret "
                               "(or altered the handshake)");
    }
  return mb_auth_done (c);
}

gboolean
mbi_transport_auth_on_frame (MbConn *c, const MbMessage *msg)
{
  switch (c->stage)
    {
    case MB_STAGE_HELLO:
      return mb_auth_on_hello (c, msg);
    case MB_STAGE_CHALLENGE:
      return mb_auth_on_challenge (c, msg);
    case MB_STAGE_PROOF:
      return mb_auth_on_proof (c, msg);
    case MB_STAGE_VERIFY:
    case MB_STAGE_OPEN:
    default:
      break;
    }
  /* Reading is paused while VERIFY: nothing comes here then. */
  return mb_auth_refuse (c, FALSE, "a %s frame during the dial-back",
                         mb_message_type_name (msg->type));
}

void
mbi_transport_auth_verified (MbConn *c)
{
  MbTransport *t = c->t;
  MbTNode *node = mbi_transport_node_ensure (t, c->claim);
  if (node == NULL || node->id == MB_TRANSPORT_SELF)
    {
      mbi_transport_conn_drop (c, TRUE, FALSE, "no node for its address (too many nodes?)");
      return;
    }
  c->stage = MB_STAGE_OPEN;
  mbi_transport_conn_disarm (c, MB_TIMER_HELLO);
  c->node = node;
  mbi_transport_node_learn (t, node, c->claim_name, c->claim_sent);
  g_debug ("transport %s: %s (%s) proved its address", t->name, c->claim, c->peer);
  mbi_transport_node_bind (t, node, c);
  if (c->t != NULL && t->session != NULL)
    t->session (t->user, node->id);
  if (c->t != NULL)
    mbi_transport_conn_resume (c);
}

/* ---- accepting ------------------------------------------------------------------- */

static gboolean
mb_auth_is_loopback (GInetAddress *ia)
{
  if (g_inet_address_get_is_loopback (ia))
    return TRUE;
  /* ::ffff:127.x.y.z, from a dual-stack socket */
  if (g_inet_address_get_family (ia) != G_SOCKET_FAMILY_IPV6)
    return FALSE;
  const guint8 *b = g_inet_address_to_bytes (ia);
  static const guint8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  return memcmp (b, mapped, sizeof mapped) == 0 && b[12] == 127;
}

gboolean
mbi_transport_auth_accept_ok (MbTransport *t, GSocketConnection *sc, gchar **why)
{
  if (t->secret != NULL)
    return TRUE;
  GSocketAddress *sa = g_socket_connection_get_remote_address (sc, NULL);
  gboolean ok = sa != NULL && G_IS_INET_SOCKET_ADDRESS (sa)
                && mb_auth_is_loopback (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sa)));
  g_clear_object (&sa);
  if (!ok)
    *why = g_strdup ("without a cluster secret only loopback peers are accepted "
                     "(set MINIBIT_CLUSTER_SECRET or --cluster-secret-file on every peer)");
  return ok;
}
