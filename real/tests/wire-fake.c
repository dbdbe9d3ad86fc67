/* wire-fake.c — a stranger on the wire (see wire-fake.h): blocking sockets
 * with timeouts, frames from core/wire's encoder.
 */
#include "wire-fake.h"

#include <string.h>

#include "transport.h"

#define MB_FAKE_IO_TIMEOUT_S 5

struct _MbFake {
  GSocketConnection *sc;
  GSocket *sock;
  gboolean closed;
};

MbFake *
mb_fake_connect (const char *addr, GError **error)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_socket_client_set_enable_proxy (client, FALSE);
  g_socket_client_set_timeout (client, MB_FAKE_IO_TIMEOUT_S);
  GSocketConnection *sc = g_socket_client_connect_to_host (client, addr, 0, NULL, error);
  if (sc == NULL)
    return NULL;
  MbFake *f = g_new0 (MbFake, 1);
  f->sc = sc;
  f->sock = g_socket_connection_get_socket (sc);
  g_socket_set_timeout (f->sock, MB_FAKE_IO_TIMEOUT_S);
  return f;
}

void
mb_fake_free (MbFake *f)
{
  if (f == NULL)
    return;
  g_io_stream_close (G_IO_STREAM (f->sc), NULL, NULL);
  g_object_unref (f->sc);
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

gboolean
mb_fake_send_msg (MbFake *f, MbMessage *msg, GError **error)
{
  g_autoptr (GByteArray) buf = g_byte_array_new ();
  gboolean ok = mb_codec_encode (msg, buf, error);
  mb_message_free (msg);
  return ok && mb_fake_send_raw (f, buf->data, buf->len, error);
}

gboolean
mb_fake_hello (MbFake *f, const char *name, const char *claim, GError **error)
{
  MbMessage *hello = mb_message_new (MB_MSG_HELLO);
  hello->name = g_strdup (name);
  hello->addr = g_strdup (claim);
  return mb_fake_send_msg (f, hello, error);
}

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
