/* transport-verify.c — dial-back: an accepted connection is known by the
 * address it proved it listens on, never by what its HELLO claims.
 *
 * Asking.  Once an accepted connection's PROOF is good (it is in
 * MB_STAGE_VERIFY, reading paused), a probe (MbProbe) dials the claimed
 * address, does the same handshake there with the PROBE flag in its
 * CHALLENGE, and asks DIALBACK {ASK, dialler nonce || acceptor nonce} of the
 * connection under test.  YES: the connection is bound to that address's
 * node (transport-auth.c, mbi_transport_auth_verified).  NO, a failed
 * connect, a probe connection that ends or fails, or the handshake timer of
 * the connection under test: it is dropped, saying why.
 *
 * Answering.  An accepted connection whose CHALLENGE has the PROBE flag
 * reaches no node and no core; it may only ask.  The answer is YES when one
 * of our own dialled connections has exactly those nonces (ours first), so
 * only the process that made the connection under test can confirm it: a
 * stranger that claims another peer's address is denied by that peer.
 *
 * Invariants: a probe exists while its target is in VERIFY and the target's
 * `verify` points at it; it ends exactly once (verified, failed, or
 * abandoned because the target closed); a probe is freed when it has ended
 * and its connect callback (if one was started) has run; its connection's
 * `asking` is cleared before that connection is closed by the probe.
 */
#define G_LOG_DOMAIN "minibit"

#include "transport.h"
#define MB_REAL_TRANSPORT_INTERNAL
#include "transport-private.h"
#include "wire-auth.h"

#include <string.h>

struct _MbProbe {
  MbTransport *t;        /* NULL once ended */
  MbConn *target;        /* the accepted connection under test (a reference) */
  gchar *addr;           /* its claimed address: where we dial */
  GCancellable *cancel;
  gboolean connecting;   /* the connect callback has not run yet */
  MbConn *conn;          /* the probe's own connection, once connected */
  guint8 question[2 * MB_AUTH_NONCE_LEN];
};

static void
mb_probe_free_if_done (MbProbe *p)
{
  if (p->t != NULL || p->connecting)
    return;
  g_object_unref (p->cancel);
  g_free (p->addr);
  g_free (p);
}

/* Ends the probe: detaches it from its target (dropping its reference)
 * and closes its connection. */
static void
mb_probe_end (MbProbe *p)
{
  MbConn *target = p->target;
  p->t = NULL;
  p->target = NULL;
  if (target != NULL)
    target->verify = NULL;
  if (p->conn != NULL)
    {
      MbConn *pc = p->conn;
      p->conn = NULL;
      pc->asking = NULL;
      mbi_transport_conn_close (pc);
    }
  g_cancellable_cancel (p->cancel);
  if (target != NULL)
    mbi_transport_conn_unref (target);
}

static void
mb_probe_failed (MbProbe *p, const char *why)
{
  MbTransport *t = p->t;
  MbConn *target = mbi_transport_conn_ref (p->target);
  gchar *msg = g_strdup_printf ("dial-back to %s failed: %s; it cannot prove it listens there",
                                p->addr, why);
  mb_probe_end (p);
  t->stats.dialback_failures++;
  mbi_transport_conn_drop (target, TRUE, FALSE, msg);
  g_free (msg);
  mbi_transport_conn_unref (target);
  mb_probe_free_if_done (p);
}

static void
mb_probe_verified (MbProbe *p)
{
  MbConn *target = mbi_transport_conn_ref (p->target);
  mb_probe_end (p);
  if (target->t != NULL)
    mbi_transport_auth_verified (target);
  mbi_transport_conn_unref (target);
  mb_probe_free_if_done (p);
}

/* ---- asking ------------------------------------------------------------------- */

static void
mb_probe_on_connected (GObject *src, GAsyncResult *res, gpointer data)
{
  MbProbe *p = data;
  GError *error = NULL;
  GSocketConnection *sc =
    g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (src), res, &error);
  p->connecting = FALSE;
  if (p->t == NULL)
    {
      if (sc != NULL)
        g_io_stream_close (G_IO_STREAM (sc), NULL, NULL);
    }
  else if (sc == NULL)
    {
      mb_probe_failed (p, error->message); /* frees p (ended, not connecting) */
      g_clear_error (&error);
      return;
    }
  else
    {
      p->t->stats.connections_dialled++;
      MbConn *c = mbi_transport_conn_new (p->t, sc, TRUE);
      c->probe = TRUE;
      c->asking = p;
      p->conn = c;
      mbi_transport_conn_start (c);
    }
  g_clear_object (&sc);
  g_clear_error (&error);
  mb_probe_free_if_done (p);
}

void
mbi_transport_verify_start (MbConn *c)
{
  MbTransport *t = c->t;
  MbProbe *p = g_new0 (MbProbe, 1);
  p->t = t;
  p->target = mbi_transport_conn_ref (c);
  p->addr = g_strdup (c->claim);
  p->cancel = g_cancellable_new ();
  memcpy (p->question, c->peer_nonce, MB_AUTH_NONCE_LEN);   /* it dialled */
  memcpy (p->question + MB_AUTH_NONCE_LEN, c->nonce, MB_AUTH_NONCE_LEN);
  c->verify = p;
  p->connecting = TRUE;
  g_debug ("transport %s: %s says it listens on %s: dialling back", t->name, c->peer, p->addr);
  g_socket_client_connect_to_host_async (t->client, p->addr, 0, p->cancel,
                                         mb_probe_on_connected, p);
}

static void
mb_verify_send (MbConn *c, guint code, const guint8 *question)
{
  MbMessage *m = mb_message_new (MB_MSG_DIALBACK);
  m->code = code;
  m->data = g_bytes_new (question, 2 * MB_AUTH_NONCE_LEN);
  GBytes *frame = mb_codec_encode_bytes (m, NULL);
  mb_message_free (m);
  g_assert (frame != NULL);
  g_queue_push_tail (&c->ctl, frame);
  mbi_transport_conn_pump (c);
}

void
mbi_transport_verify_ask (MbConn *probe_conn)
{
  mb_verify_send (probe_conn, MB_DIALBACK_ASK, probe_conn->asking->question);
}

/* ---- answering ------------------------------------------------------------------ */

/* One of our dialled connections has exactly these nonces (ours first). */
static gboolean
mb_verify_is_ours (MbTransport *t, const guint8 *question)
{
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, t->conns);
  while (g_hash_table_iter_next (&it, &key, NULL))
    {
      MbConn *c = key;
      if (c->outgoing && !c->probe && c->stage > MB_STAGE_CHALLENGE
          && mb_auth_equal (c->nonce, question, MB_AUTH_NONCE_LEN)
          && mb_auth_equal (c->peer_nonce, question + MB_AUTH_NONCE_LEN, MB_AUTH_NONCE_LEN))
        return TRUE;
    }
  return FALSE;
}

gboolean
mbi_transport_verify_on_dialback (MbConn *c, const MbMessage *msg)
{
  MbTransport *t = c->t;
  gsize n = g_bytes_get_size (msg->data);
  const guint8 *q = g_bytes_get_data (msg->data, NULL);
  if (c->probe && !c->outgoing)
    {
      if (msg->code != MB_DIALBACK_ASK || n != 2 * MB_AUTH_NONCE_LEN)
        {
          mbi_transport_conn_drop (c, TRUE, FALSE, "a malformed dial-back question");
          return FALSE;
        }
      gboolean yes = mb_verify_is_ours (t, q);
      t->stats.dialbacks_answered++;
      g_debug ("transport %s: %s (%s) asks whether we dialled it: %s", t->name,
               c->claim, c->peer, yes ? "yes" : "no");
      mb_verify_send (c, yes ? MB_DIALBACK_YES : MB_DIALBACK_NO, q);
      return c->t != NULL;
    }
  MbProbe *p = c->asking;
  if (p == NULL)
    {
      mbi_transport_conn_drop (c, TRUE, FALSE, "a dialback frame on a connection that is "
                                               "not a dial-back");
      return FALSE;
    }
  if (n != 2 * MB_AUTH_NONCE_LEN || memcmp (q, p->question, n) != 0
      || (msg->code != MB_DIALBACK_YES && msg->code != MB_DIALBACK_NO))
    mb_probe_failed (p, "a malformed answer");
  else if (msg->code == MB_DIALBACK_NO)
    mb_probe_failed (p, "the peer there says it did not dial us");
  else
    mb_probe_verified (p);
  return FALSE;  /* the probe's connection is closed */
}

/* ---- connections that close -------------------------------------------------------- */

void
mbi_transport_verify_conn_closed (MbConn *c)
{
  if (c->verify != NULL)
    {
      /* The connection under test went: nothing to prove any more. */
      MbProbe *p = c->verify;
      mb_probe_end (p);
      mb_probe_free_if_done (p);
    }
  if (c->asking != NULL)
    {
      MbProbe *p = c->asking;
      c->asking = NULL;
      p->conn = NULL;
      gchar *why = g_strdup_printf ("its connection (%s) closed before it answered", c->peer);
      mb_probe_failed (p, why);
      g_free (why);
    }
}
