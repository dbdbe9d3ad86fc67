/* wire-fake.c — a stranger on the wire (see wire-fake.h): blocking sockets
 * with timeouts, frames from core/wire's codec, proofs and MACs from
 * wire-auth.h, the handshake written out by hand as transport-auth.c and
 * transport-verify.c define it.
 */
#include "wire-fake.h"

#include <string.h>

#include "content/chunk.h"
#include "content/manifest.h"
#include "transport.h"
#include "wire-auth.h"

#define MB_FAKE_IO_TIMEOUT_S 5
#define MB_FAKE_READ_MS 5000

struct _MbFake {
  GSocketConnection *sc;   /* NULL for a home's accepted socket */
  GSocket *sock;
  gboolean closed;
  MbDecoder *dec;
  MbFrameMac *tx, *rx;     /* after a handshake with a secret */
};

/* ---- one connection ---------------------------------------------------------- */

static MbFake *
mb_fake_wrap (GSocketConnection *sc, GSocket *sock)
{
  MbFake *f = g_new0 (MbFake, 1);
  f->sc = sc;
  f->sock = sock;
  f->dec = mb_decoder_new (0);
  g_socket_set_timeout (f->sock, MB_FAKE_IO_TIMEOUT_S);
  return f;
}

MbFake *
mb_fake_connect (const char *addr, GError **error)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_socket_client_set_enable_proxy (client, FALSE);
  g_socket_client_set_timeout (client, MB_FAKE_IO_TIMEOUT_S);
  GSocketConnection *sc = g_socket_client_connect_to_host (client, addr, 0, NULL, error);
  if (sc == NULL)
    return NULL;
  return mb_fake_wrap (sc, g_socket_connection_get_socket (sc));
}

void
mb_fake_free (MbFake *f)
{
  if (f == NULL)
    return;
  if (f->sc != NULL)
    {
      g_io_stream_close (G_IO_STREAM (f->sc), NULL, NULL);
      g_object_unref (f->sc);
    }
  else
    {
      g_socket_close (f->sock, NULL);
      g_object_unref (f->sock);
    }
  mb_decoder_free (f->dec);
  mb_frame_mac_free (f->tx);
  mb_frame_mac_free (f->rx);
  g_free (f);
}

gboolean
mb_fake_send_raw (MbFake *f, const guint8 *data, gsize len, GError **error)
{
  if (f == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "no connection");
      return FALSE;
    }
  gsize sent = 0;
  while (sent < len)
    {
      gssize k = g_socket_send (f->sock, (const gchar *) data + sent, len - sent, NULL, error);
      if (k <= 0)
        {
          if (k == 0)
            g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "sent nothing");
          return FALSE;
        }
      sent += (gsize) k;
    }
  return TRUE;
}

GBytes *
mb_fake_seal (MbFake *f, MbMessage *msg)
{
  GByteArray *buf = g_byte_array_new ();
  gboolean ok = mb_codec_encode (msg, buf, NULL);
  g_assert_true (ok);
  mb_message_free (msg);
  if (f != NULL && f->tx != NULL)
    {
      guint8 tag[MB_AUTH_TAG_LEN];
      mb_frame_mac_seal (f->tx, buf->data, buf->len, tag);
      g_byte_array_append (buf, tag, sizeof tag);
    }
  return g_byte_array_free_to_bytes (buf);
}

gboolean
mb_fake_send_msg (MbFake *f, MbMessage *msg, GError **error)
{
  g_autoptr (GByteArray) buf = g_byte_array_new ();
  gboolean ok = mb_codec_encode (msg, buf, error);
  mb_message_free (msg);
  if (ok && f != NULL && f->tx != NULL)
    {
      guint8 tag[MB_AUTH_TAG_LEN];
      mb_frame_mac_seal (f->tx, buf->data, buf->len, tag);
      g_byte_array_append (buf, tag, sizeof tag);
    }
  return ok && mb_fake_send_raw (f, buf->data, buf->len, error);
}

MbMessage *
mb_fake_read_msg (MbFake *f, guint ms, GError **error)
{
  if (f == NULL || f->closed)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "the connection is closed");
      return NULL;
    }
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  for (;;)
    {
      GError *local = NULL;
      MbMessage *msg = mb_decoder_next (f->dec, &local);
      if (msg != NULL || local != NULL)
        {
          if (local != NULL)
            g_propagate_error (error, local);
          return msg;
        }
      gint64 left = end - g_get_monotonic_time ();
      if (left <= 0 || !g_socket_condition_timed_wait (f->sock, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                                       left, NULL, NULL))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no frame within %u ms", ms);
          return NULL;
        }
      guint8 buf[65536];
      gssize k = g_socket_receive (f->sock, (gchar *) buf, sizeof buf, NULL, &local);
      if (k <= 0)
        {
          f->closed = TRUE;
          if (local == NULL)
            local = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED,
                                         "the peer closed the connection");
          g_propagate_error (error, local);
          return NULL;
        }
      mb_decoder_feed (f->dec, buf, (gsize) k);
    }
}

gssize
mb_fake_read_raw (MbFake *f, gsize max, guint ms)
{
  if (f == NULL || f->closed)
    return -1;
  gsize got = 0;
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  guint8 buf[65536];
  while (got < max)
    {
      gint64 left = end - g_get_monotonic_time ();
      if (left <= 0 || !g_socket_condition_timed_wait (f->sock, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                                       left, NULL, NULL))
        break;
      gssize k = g_socket_receive (f->sock, (gchar *) buf, MIN (max - got, sizeof buf),
                                   NULL, NULL);
      if (k <= 0)
        {
          f->closed = TRUE;
          return got > 0 ? (gssize) got : -1;
        }
      got += (gsize) k;
    }
  return (gssize) got;
}

/* The next frame, which must be of type `want`. */
static MbMessage *
mb_fake_expect (MbFake *f, MbMsgType want, GError **error)
{
  MbMessage *m = mb_fake_read_msg (f, MB_FAKE_READ_MS, error);
  if (m != NULL && m->type != want)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "got %s, wanted %s",
                   mb_message_type_name (m->type), mb_message_type_name (want));
      g_clear_pointer (&m, mb_message_free);
    }
  return m;
}

gboolean
mb_fake_hello (MbFake *f, const char *name, const char *claim, GError **error)
{
  MbMessage *hello = mb_message_new (MB_MSG_HELLO);
  hello->name = g_strdup (name);
  hello->addr = g_strdup (claim);
  return mb_fake_send_msg (f, hello, error);
}

static gboolean
mb_fake_send_opening (MbFake *f, const char *name, const char *claim, guint flags,
                      const guint8 *nonce, GError **error)
{
  if (!mb_fake_hello (f, name, claim, error))
    return FALSE;
  MbMessage *ch = mb_message_new (MB_MSG_CHALLENGE);
  ch->code = flags;
  ch->data = g_bytes_new (nonce, MB_AUTH_NONCE_LEN);
  return mb_fake_send_msg (f, ch, error);
}

/* Reads the peer's HELLO and CHALLENGE; its nonce into peer_nonce. */
static gboolean
mb_fake_read_opening (MbFake *f, guint8 *peer_nonce, guint *flags, GError **error)
{
  g_autoptr (MbMessage) hello = mb_fake_expect (f, MB_MSG_HELLO, error);
  if (hello == NULL)
    return FALSE;
  g_autoptr (MbMessage) ch = mb_fake_expect (f, MB_MSG_CHALLENGE, error);
  if (ch == NULL)
    return FALSE;
  if (g_bytes_get_size (ch->data) != MB_AUTH_NONCE_LEN)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "a bad nonce");
      return FALSE;
    }
  memcpy (peer_nonce, g_bytes_get_data (ch->data, NULL), MB_AUTH_NONCE_LEN);
  if (flags != NULL)
    *flags = ch->code;
  return TRUE;
}

static gboolean
mb_fake_check (gpointer user, const guint8 *frame, gsize len, const guint8 *trailer,
               GError **error)
{
  MbFake *f = user;
  return mb_frame_mac_check (f->rx, frame, len, trailer, error);
}

/* Sends our PROOF, reads the peer's, and switches to MACs (with a secret). */
static gboolean
mb_fake_prove (MbFake *f, GBytes *secret, MbAuthRole role, const guint8 *nonce,
               const guint8 *peer_nonce, const char *claim, GError **error)
{
  MbMessage *proof = mb_message_new (MB_MSG_PROOF);
  guint8 mac[MB_AUTH_PROOF_LEN];
  if (secret != NULL)
    {
      mb_auth_proof (secret, role, nonce, peer_nonce, claim, mac);
      proof->data = g_bytes_new (mac, sizeof mac);
    }
  else
    proof->data = g_bytes_new (NULL, 0);
  if (!mb_fake_send_msg (f, proof, error))
    return FALSE;
  if (secret != NULL)
    {
      const guint8 *dn = role == MB_AUTH_DIALLER ? nonce : peer_nonce;
      const guint8 *an = role == MB_AUTH_DIALLER ? peer_nonce : nonce;
      MbAuthRole other = role == MB_AUTH_DIALLER ? MB_AUTH_ACCEPTOR : MB_AUTH_DIALLER;
      f->tx = mb_frame_mac_new (secret, dn, an, role);
      f->rx = mb_frame_mac_new (secret, dn, an, other);
    }
  g_autoptr (MbMessage) theirs = mb_fake_expect (f, MB_MSG_PROOF, error);
  if (theirs == NULL)
    return FALSE;
  mb_decoder_reframe (f->dec, 0, f->rx != NULL ? MB_AUTH_TAG_LEN : 0,
                      f->rx != NULL ? mb_fake_check : NULL, f);
  return TRUE;
}

/* ---- the home: answering dial-backs -------------------------------------------- */

struct _MbFakeHome {
  GPtrArray *listeners;    /* GSocket *, under lock */
  GPtrArray *addrs;        /* their addresses, under lock */
  GBytes *secret;
  GThread *thread;
  GMutex lock;
  GPtrArray *mine;         /* 64-byte blobs: dialler nonce || acceptor nonce */
  gint stop;
  gint answered;
};

static void
mb_fake_home_remember (MbFakeHome *home, const guint8 *nonce, const guint8 *peer_nonce)
{
  guint8 *pair = g_malloc (2 * MB_AUTH_NONCE_LEN);
  memcpy (pair, nonce, MB_AUTH_NONCE_LEN);
  memcpy (pair + MB_AUTH_NONCE_LEN, peer_nonce, MB_AUTH_NONCE_LEN);
  g_mutex_lock (&home->lock);
  g_ptr_array_add (home->mine, pair);
  g_mutex_unlock (&home->lock);
}

static gboolean
mb_fake_home_knows (MbFakeHome *home, const guint8 *question)
{
  gboolean yes = FALSE;
  g_mutex_lock (&home->lock);
  for (guint i = 0; i < home->mine->len && !yes; i++)
    yes = memcmp (home->mine->pdata[i], question, 2 * MB_AUTH_NONCE_LEN) == 0;
  g_mutex_unlock (&home->lock);
  return yes;
}

/* One dial-back to addr: the handshake as the acceptor, then the question. */
static void
mb_fake_home_answer (MbFakeHome *home, GSocket *sock, const char *addr)
{
  MbFake *f = mb_fake_wrap (NULL, sock);
  guint8 nonce[MB_AUTH_NONCE_LEN], peer_nonce[MB_AUTH_NONCE_LEN];
  guint flags = 0;
  g_autoptr (GError) err = NULL;
  if (mb_auth_random (nonce, sizeof nonce, &err)
      && mb_fake_read_opening (f, peer_nonce, &flags, &err)
      && mb_fake_send_opening (f, "fake-home", addr,
                               home->secret != NULL ? MB_CHALLENGE_SECRET : 0, nonce, &err)
      && mb_fake_prove (f, home->secret, MB_AUTH_ACCEPTOR, nonce, peer_nonce, addr, &err))
    {
      g_autoptr (MbMessage) q = mb_fake_expect (f, MB_MSG_DIALBACK, &err);
      if (q != NULL && g_bytes_get_size (q->data) == 2 * MB_AUTH_NONCE_LEN)
        {
          gboolean yes = mb_fake_home_knows (home, g_bytes_get_data (q->data, NULL));
          MbMessage *a = mb_message_new (MB_MSG_DIALBACK);
          a->code = yes ? MB_DIALBACK_YES : MB_DIALBACK_NO;
          a->data = g_bytes_ref (q->data);
          mb_fake_send_msg (f, a, NULL);
          g_atomic_int_inc (&home->answered);
          mb_fake_wait_closed (f, 2000);
        }
    }
  mb_fake_free (f);
}

static gpointer
mb_fake_home_run (gpointer data)
{
  MbFakeHome *home = data;
  while (!g_atomic_int_get (&home->stop))
    {
      GSocket *ready = NULL;
      gchar *addr = NULL;
      g_mutex_lock (&home->lock);
      for (guint i = 0; i < home->listeners->len && ready == NULL; i++)
        if (g_socket_condition_check (home->listeners->pdata[i], G_IO_IN) != 0)
          {
            ready = g_object_ref (home->listeners->pdata[i]);
            addr = g_strdup (home->addrs->pdata[i]);
          }
      g_mutex_unlock (&home->lock);
      if (ready == NULL)
        {
          g_usleep (10 * 1000);
          continue;
        }
      GSocket *s = g_socket_accept (ready, NULL, NULL);
      if (s != NULL)
        {
          g_socket_set_blocking (s, TRUE);
          mb_fake_home_answer (home, s, addr);
        }
      g_object_unref (ready);
      g_free (addr);
    }
  return NULL;
}

const char *
mb_fake_home_add_addr (MbFakeHome *home)
{
  GSocket *l = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                             G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) sa = g_inet_socket_address_new (lo, 0);
  g_assert_true (g_socket_bind (l, sa, FALSE, NULL));
  g_assert_true (g_socket_listen (l, NULL));
  g_socket_set_blocking (l, FALSE);
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (l, NULL);
  gchar *addr = g_strdup_printf ("127.0.0.1:%u",
                                 g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_mutex_lock (&home->lock);
  g_ptr_array_add (home->listeners, l);
  g_ptr_array_add (home->addrs, addr);
  g_mutex_unlock (&home->lock);
  return addr;
}

MbFakeHome *
mb_fake_home_new (GBytes *secret)
{
  MbFakeHome *home = g_new0 (MbFakeHome, 1);
  home->listeners = g_ptr_array_new_with_free_func (g_object_unref);
  home->addrs = g_ptr_array_new_with_free_func (g_free);
  home->secret = secret != NULL ? g_bytes_ref (secret) : NULL;
  g_mutex_init (&home->lock);
  home->mine = g_ptr_array_new_with_free_func (g_free);
  mb_fake_home_add_addr (home);
  home->thread = g_thread_new ("fake-home", mb_fake_home_run, home);
  return home;
}

const char *
mb_fake_home_addr (MbFakeHome *home)
{
  return home->addrs->pdata[0];
}

guint
mb_fake_home_answered (MbFakeHome *home)
{
  return (guint) g_atomic_int_get (&home->answered);
}

void
mb_fake_home_free (MbFakeHome *home)
{
  if (home == NULL)
    return;
  g_atomic_int_set (&home->stop, 1);
  g_thread_join (home->thread);
  for (guint i = 0; i < home->listeners->len; i++)
    g_socket_close (home->listeners->pdata[i], NULL);
  g_ptr_array_unref (home->listeners);
  g_ptr_array_unref (home->addrs);
  g_ptr_array_unref (home->mine);
  g_mutex_clear (&home->lock);
  g_clear_pointer (&home->secret, g_bytes_unref);
  g_free (home);
}

/* ---- the handshake as the dialler ---------------------------------------------- */

gboolean
mb_fake_handshake (MbFake *f, const char *name, const char *claim, GBytes *secret,
                   MbFakeHome *home, GError **error)
{
  return mb_fake_handshake_as (f, name, claim, secret, home, 0, error);
}

gboolean
mb_fake_handshake_as (MbFake *f, const char *name, const char *claim, GBytes *secret,
                      MbFakeHome *home, guint flags, GError **error)
{
  if (f == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "no connection");
      return FALSE;
    }
  guint8 nonce[MB_AUTH_NONCE_LEN], peer_nonce[MB_AUTH_NONCE_LEN];
  if (!mb_auth_random (nonce, sizeof nonce, error)
      || !mb_fake_send_opening (f, name, claim,
                                flags | (secret != NULL ? MB_CHALLENGE_SECRET : 0u),
                                nonce, error)
      || !mb_fake_read_opening (f, peer_nonce, NULL, error))
    return FALSE;
  if (home != NULL)
    mb_fake_home_remember (home, nonce, peer_nonce);
  return mb_fake_prove (f, secret, MB_AUTH_DIALLER, nonce, peer_nonce, claim, error);
}

/* ---- closing ----------------------------------------------------------------------- */

gboolean
mb_fake_wait_closed (MbFake *f, guint ms)
{
  if (f == NULL || f->closed)
    return TRUE;
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  gchar buf[65536];
  for (;;)
    {
      gint64 left = end - g_get_monotonic_time ();
      GError *err = NULL;
      if (!g_socket_condition_timed_wait (f->sock, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                          MAX (left, 0), NULL, &err))
        {
          g_error_free (err);  /* timed out: still open */
          return FALSE;
        }
      gssize k = g_socket_receive_with_blocking (f->sock, buf, sizeof buf, FALSE, NULL, &err);
      if (k == 0 || (k < 0 && !g_error_matches (err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)))
        {
          g_clear_error (&err);
          f->closed = TRUE;
          return TRUE;
        }
      g_clear_error (&err);
      /* Data, not the end: read on (what is already here), but not for ever. */
      if (g_get_monotonic_time () >= end + G_USEC_PER_SEC)
        return FALSE;
    }
}

void
mb_fake_frame_header (guint8 out[5], guint32 length)
{
  out[0] = (guint8) (length >> 24);
  out[1] = (guint8) (length >> 16);
  out[2] = (guint8) (length >> 8);
  out[3] = (guint8) length;
  out[4] = MB_MSG_STORE_CHUNK;
}

gboolean
mb_fake_send_attack (MbFake *f, const char *name, const char *data, const char *victim)
{
  MbMessage *ping = mb_message_new (MB_MSG_PING);
  ping->req = 1;
  if (!mb_fake_send_msg (f, ping, NULL))
    return FALSE;
  char id[65];
  mb_chunk_id_compute ((const guint8 *) data, strlen (data), id);
  MbMessage *chunk = mb_message_new (MB_MSG_STORE_CHUNK);
  chunk->req = 2;
  chunk->chunk_id = g_strdup (id);
  chunk->data = g_bytes_new (data, strlen (data));
  chunk->length = (guint32) strlen (data);
  if (!mb_fake_send_msg (f, chunk, NULL))
    return FALSE;
  MbMessage *man = mb_message_new (MB_MSG_STORE_MANIFEST);
  man->req = 3;
  man->manifest = mb_manifest_new (name, strlen (data), 256 * 1024, NULL);
  mb_manifest_set_chunk (man->manifest, 0, id, 0, NULL);
  if (!mb_fake_send_msg (f, man, NULL))
    return FALSE;
  MbMessage *bye = mb_message_new (MB_MSG_LEAVE_NOTICE);
  bye->name = g_strdup (victim);
  return mb_fake_send_msg (f, bye, NULL);
}
