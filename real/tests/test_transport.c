/* test_transport.c — MbTransport on loopback: two transports in one process.
 *
 * Every wait runs the main context with a deadline (WAIT_FOR), so a test
 * fails instead of hanging.  Warnings the transport logs about bad peers are
 * expected here, so only criticals are fatal.
 */
#include <string.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "wire/codec.h"
#include "transport.h"
#define MB_REAL_TRANSPORT_INTERNAL
#include "transport-private.h"
#include "test-util.h"

#define WAIT_MS 5000

typedef struct {
  MbTransport *t;
  GArray *from;      /* MbNodeId of each frame received */
  GPtrArray *msgs;   /* copies of the frames received */
  GArray *gone;      /* MbNodeId of each disconnect callback */
  gboolean echo;     /* answer PING with PONG {req} */
} Side;

static void
side_recv (gpointer user, MbNodeId from, const MbMessage *msg)
{
  Side *s = user;
  g_array_append_val (s->from, from);
  g_ptr_array_add (s->msgs, mb_message_copy (msg));
  if (s->echo && msg->type == MB_MSG_PING)
    {
      MbMessage *pong = mb_message_new (MB_MSG_PONG);
      pong->req = msg->req;
      pong->name = g_strdup ("pong");
      mb_host_send (mb_transport_host (s->t), mb_transport_self (s->t), from, pong);
    }
}

static void
side_gone (gpointer user, MbNodeId node)
{
  Side *s = user;
  g_array_append_val (s->gone, node);
}

static void
mb_test_config (MbTransportConfig *cfg)
{
  mb_transport_config_init (cfg);
  cfg->backoff_initial_ms = 10;
  cfg->linger_ms = 1000;
  cfg->hello_timeout_ms = 2000;
  cfg->connect_timeout_ms = 2000;
}

static Side *
side_new (const char *name, const MbTransportConfig *cfg)
{
  MbTransportConfig def;
  if (cfg == NULL)
    {
      mb_test_config (&def);
      cfg = &def;
    }
  GError *error = NULL;
  Side *s = g_new0 (Side, 1);
  s->t = mb_transport_new (name, "127.0.0.1", 0, cfg, &error);
  g_assert_no_error (error);
  g_assert_nonnull (s->t);
  g_assert_cmpuint (mb_transport_port (s->t), >, 0);
  s->from = g_array_new (FALSE, FALSE, sizeof (MbNodeId));
  s->msgs = g_ptr_array_new_with_free_func ((GDestroyNotify) mb_message_free);
  s->gone = g_array_new (FALSE, FALSE, sizeof (MbNodeId));
  mb_transport_set_handlers (s->t, side_recv, side_gone, s);
  return s;
}

static void
side_free (Side *s)
{
  mb_transport_free (s->t);
  g_array_unref (s->from);
  g_ptr_array_unref (s->msgs);
  g_array_unref (s->gone);
  g_free (s);
}

/* Lets cancelled operations of freed transports finish. */
static void
mb_test_drain (void)
{
  mb_test_spin (20);
}

static MbTransportStats
side_stats (Side *s)
{
  MbTransportStats st;
  mb_transport_get_stats (s->t, &st);
  return st;
}

static void
side_ping (Side *s, MbNodeId to, guint32 req)
{
  MbMessage *m = mb_message_new (MB_MSG_PING);
  m->req = req;
  mb_host_send (mb_transport_host (s->t), mb_transport_self (s->t), to, m);
}

static MbNodeId
side_node_of (Side *s, Side *other)
{
  MbNodeId id = mb_transport_node (s->t, mb_transport_listen_addr (other->t));
  g_assert_cmpuint (id, !=, MB_NODE_NONE);
  return id;
}

/* A port on 127.0.0.1 with nothing listening (bound once, then closed). */
static guint16
mb_test_free_port (void)
{
  GError *error = NULL;
  GSocket *sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *sa = g_inet_socket_address_new (lo, 0);
  g_socket_bind (sock, sa, FALSE, &error);
  g_assert_no_error (error);
  GSocketAddress *bound = g_socket_get_local_address (sock, &error);
  g_assert_no_error (error);
  guint16 port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_object_unref (bound);
  g_object_unref (sa);
  g_object_unref (lo);
  g_socket_close (sock, NULL);
  g_object_unref (sock);
  return port;
}

/* ---- tests ------------------------------------------------------------- */

static void
test_addr (void)
{
  gchar *host = NULL;
  guint16 port = 0;
  g_assert_true (mb_transport_addr_split ("127.0.0.1:9000", &host, &port));
  g_assert_cmpstr (host, ==, "127.0.0.1");
  g_assert_cmpuint (port, ==, 9000);
  g_free (host);
  g_assert_true (mb_transport_addr_split ("[::1]:80", &host, &port));
  g_assert_cmpstr (host, ==, "::1");
  g_free (host);
  const char *bad[] = { "", "nohost", ":80", "h:0", "h:65536", "h:x", "::1:80", "[]:1", "h:" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    g_assert_false (mb_transport_addr_split (bad[i], NULL, NULL));
  gchar *j = mb_transport_addr_join ("::1", 5);
  g_assert_cmpstr (j, ==, "[::1]:5");
  g_free (j);
}

static void
test_nodes (void)
{
  Side *a = side_new ("a", NULL);
  g_assert_cmpuint (mb_transport_node (a->t, mb_transport_listen_addr (a->t)), ==,
                    mb_transport_self (a->t));
  MbNodeId n1 = mb_transport_node (a->t, "127.0.0.1:1");
  g_assert_cmpuint (n1, !=, MB_NODE_NONE);
  g_assert_cmpuint (n1, <, MB_TRANSPORT_NODE_LIMIT);
  g_assert_cmpuint (mb_transport_node (a->t, "127.0.0.1:1"), ==, n1);
  const MbHost *h = mb_transport_host (a->t);
  g_assert_cmpuint (h->resolve (h->ctx, mb_transport_self (a->t), "127.0.0.1:1"), ==, n1);
  g_assert_cmpstr (mb_transport_node_addr (a->t, n1), ==, "127.0.0.1:1");
  g_assert_cmpuint (mb_transport_node (a->t, "not an address"), ==, MB_NODE_NONE);
  g_assert_null (mb_transport_node_addr (a->t, 12345));
  g_assert_false (mb_transport_node_connected (a->t, n1));
  side_free (a);
  mb_test_drain ();
}

/* 1,000 frames A -> B in order, B answers each on the same connection. */
static void
test_frames_in_order (void)
{
  Side *a = side_new ("a", NULL);
  Side *b = side_new ("b", NULL);
  b->echo = TRUE;
  MbNodeId to_b = side_node_of (a, b);
  const guint n = 1000;
  for (guint i = 0; i < n; i++)
    side_ping (a, to_b, i);
  WAIT_FOR (a->msgs->len == n, WAIT_MS);

  MbNodeId b_sees_a = side_node_of (b, a);
  g_assert_cmpuint (b->msgs->len, ==, n);
  for (guint i = 0; i < n; i++)
    {
      const MbMessage *m = g_ptr_array_index (b->msgs, i);
      g_assert_cmpint (m->type, ==, MB_MSG_PING);
      g_assert_cmpuint (m->req, ==, i);
      g_assert_cmpuint (g_array_index (b->from, MbNodeId, i), ==, b_sees_a);
      const MbMessage *r = g_ptr_array_index (a->msgs, i);
      g_assert_cmpint (r->type, ==, MB_MSG_PONG);
      g_assert_cmpuint (r->req, ==, i);
      g_assert_cmpuint (g_array_index (a->from, MbNodeId, i), ==, to_b);
    }
  g_assert_cmpstr (mb_transport_node_name (b->t, b_sees_a), ==, "a");
  g_assert_cmpstr (mb_transport_node_name (a->t, to_b), ==, "b");
  g_assert_true (mb_transport_node_connected (a->t, to_b));
  g_assert_true (mb_transport_node_connected (b->t, b_sees_a));

  /* B proved A's address by dialling it back (a probe connection, closed
   * once A answered). */
  WAIT_FOR (side_stats (a).connections_open == 1 && side_stats (b).connections_open == 1,
            WAIT_MS);
  MbTransportStats sa = side_stats (a), sb = side_stats (b);
  g_assert_cmpuint (sa.connections_dialled, ==, 1);
  g_assert_cmpuint (sa.connections_accepted, ==, 1);
  g_assert_cmpuint (sb.connections_dialled, ==, 1);
  g_assert_cmpuint (sb.connections_accepted, ==, 1);
  g_assert_cmpuint (sa.dialbacks_answered, ==, 1);
  g_assert_cmpuint (sb.dialback_failures + sb.auth_failures, ==, 0);
  /* HELLO, CHALLENGE and PROOF on both connections, DIALBACK on the probe */
  g_assert_cmpuint (sb.frames_in, ==, n + 3 + 4);
  g_assert_cmpuint (sa.frames_out, ==, n + 3 + 4);
  g_assert_cmpuint (sa.frames_in, ==, n + 3 + 4);
  g_assert_cmpuint (sa.bytes_out, ==, sb.bytes_in);
  g_assert_cmpuint (sa.frames_refused, ==, 0);
  g_assert_cmpuint (a->gone->len + b->gone->len, ==, 0);

  /* A large frame (several read chunks) arrives whole. */
  MbMessage *big = mb_message_new (MB_MSG_PIECE);
  big->swarm = 7;
  big->piece = 3;
  gsize size = 3u << 20;
  guint8 *data = g_malloc (size);
  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) (i * 31);
  big->data = g_bytes_new_take (data, size);
  big->length = (guint32) size;
  MbMessage *copy = mb_message_copy (big);
  mb_host_send (mb_transport_host (a->t), mb_transport_self (a->t), to_b, big);
  WAIT_FOR (b->msgs->len == n + 1, WAIT_MS);
  g_assert_true (mb_message_equal (g_ptr_array_index (b->msgs, n), copy));
  mb_message_free (copy);
  g_assert_cmpuint (side_stats (b).connections_open, ==, 1);

  side_free (a);
  side_free (b);
  mb_test_drain ();
}

/* Nothing listens: after the retries, the disconnect callback, queue dropped. */
static void
test_unreachable (void)
{
  Side *a = side_new ("a", NULL);
  gchar *addr = g_strdup_printf ("127.0.0.1:%u", mb_test_free_port ());
  MbNodeId to = mb_transport_node (a->t, addr);
  side_ping (a, to, 1);
  side_ping (a, to, 2);
  g_assert_cmpuint (mb_transport_node_queued (a->t, to), >, 0);
  WAIT_FOR (a->gone->len == 1, WAIT_MS);
  g_assert_cmpuint (g_array_index (a->gone, MbNodeId, 0), ==, to);
  MbTransportStats st = side_stats (a);
  g_assert_cmpuint (st.connect_failures, ==, 5);
  g_assert_cmpuint (st.frames_refused, ==, 2);
  g_assert_cmpuint (st.connections_open, ==, 0);
  g_assert_cmpuint (mb_transport_node_queued (a->t, to), ==, 0);
  mb_test_spin (50);
  g_assert_cmpuint (a->gone->len, ==, 1);  /* no more retries */
  g_free (addr);
  side_free (a);
  mb_test_drain ();
}

/* A raw client that writes `bytes` to b; returns its connection. */
static GSocketConnection *
mb_test_raw_send (Side *b, const guint8 *bytes, gsize len)
{
  GError *error = NULL;
  GSocketClient *client = g_socket_client_new ();
  g_socket_client_set_enable_proxy (client, FALSE);
  GSocketConnection *sc = g_socket_client_connect_to_host (
      client, mb_transport_listen_addr (b->t), 0, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (sc)), bytes,
                             len, NULL, NULL, &error);
  g_assert_no_error (error);
  g_object_unref (client);
  return sc;
}

static GBytes *
mb_test_hello_frame (const char *addr)
{
  MbMessage *hello = mb_message_new (MB_MSG_HELLO);
  hello->name = g_strdup ("raw");
  hello->addr = g_strdup (addr);
  GBytes *b = mb_codec_encode_bytes (hello, NULL);
  mb_message_free (hello);
  return b;
}

/* Garbage from raw clients drops their connections only. */
static void
test_garbage (void)
{
  Side *a = side_new ("a", NULL);
  Side *b = side_new ("b", NULL);
  MbNodeId to_b = side_node_of (a, b);
  side_ping (a, to_b, 1);
  WAIT_FOR (b->msgs->len == 1, WAIT_MS);
  /* B's dial-back to A has ended at A too (its end is logged; nothing else
   * may be logged while a warning is expected below). */
  WAIT_FOR (side_stats (a).connections_open == 1, WAIT_MS);

  /* 1. a HELLO whose crc is wrong */
  GBytes *hello = mb_test_hello_frame ("127.0.0.1:1");
  gsize len = 0;
  guint8 *bad = g_memdup2 (g_bytes_get_data (hello, &len), g_bytes_get_size (hello));
  bad[len - 1] ^= 0xff;
  g_test_expect_message ("minibit", G_LOG_LEVEL_WARNING, "*dropping connection*crc32*");
  GSocketConnection *raw1 = mb_test_raw_send (b, bad, len);
  WAIT_FOR (side_stats (b).connections_dropped == 1, WAIT_MS);
  g_test_assert_expected_messages ();

  /* 2. a length far above the maximum frame */
  guint8 huge[] = { 0xff, 0xff, 0xff, 0xf0, MB_MSG_HELLO, 0, 0, 0 };
  g_test_expect_message ("minibit", G_LOG_LEVEL_WARNING, "*dropping connection*above the maximum*");
  GSocketConnection *raw2 = mb_test_raw_send (b, huge, sizeof huge);
  WAIT_FOR (side_stats (b).connections_dropped == 2, WAIT_MS);
  g_test_assert_expected_messages ();

  /* 3. a well-formed frame that is not HELLO first */
  MbMessage *ping = mb_message_new (MB_MSG_PING);
  GBytes *pf = mb_codec_encode_bytes (ping, NULL);
  mb_message_free (ping);
  g_test_expect_message ("minibit", G_LOG_LEVEL_WARNING, "*dropping connection*not hello*");
  GSocketConnection *raw3 = mb_test_raw_send (b, g_bytes_get_data (pf, NULL),
                                              g_bytes_get_size (pf));
  WAIT_FOR (side_stats (b).connections_dropped == 3, WAIT_MS);
  g_test_assert_expected_messages ();

  /* 4. a good HELLO, then an unknown type */
  GByteArray *seq = g_byte_array_new ();
  g_byte_array_append (seq, g_bytes_get_data (hello, NULL), (guint) len);
  guint8 unknown[] = { 0, 0, 0, 5, 200, 0, 0, 0, 0 };
  g_byte_array_append (seq, unknown, sizeof unknown);
  g_test_expect_message ("minibit", G_LOG_LEVEL_WARNING, "*dropping connection*127.0.0.1:1*");
  GSocketConnection *raw4 = mb_test_raw_send (b, seq->data, seq->len);
  WAIT_FOR (side_stats (b).connections_dropped == 4, WAIT_MS);
  g_test_assert_expected_messages ();
  g_byte_array_unref (seq);

  /* A's connection to B still works, and is still the only one. */
  side_ping (a, to_b, 2);
  WAIT_FOR (b->msgs->len == 2, WAIT_MS);
  g_assert_cmpuint (((MbMessage *) g_ptr_array_index (b->msgs, 1))->req, ==, 2);
  MbTransportStats sa = side_stats (a), sb = side_stats (b);
  g_assert_cmpuint (sa.connections_dialled, ==, 1);
  g_assert_cmpuint (sb.connections_open, ==, 1);
  g_assert_cmpuint (sa.connections_open, ==, 1);
  g_assert_cmpuint (a->gone->len, ==, 0);
  /* None of the raw peers got past the handshake: B's core never heard of
   * them (before the handshake, the one that said HELLO (4.) was bound to
   * a node, and its end reported). */
  g_assert_cmpuint (b->gone->len, ==, 0);

  g_object_unref (raw1);
  g_object_unref (raw2);
  g_object_unref (raw3);
  g_object_unref (raw4);
  g_bytes_unref (pf);
  g_free (bad);
  g_bytes_unref (hello);
  side_free (a);
  side_free (b);
  mb_test_drain ();
}

/* Both sides dial at once: one connection survives, every frame arrives. */
static void
test_race (void)
{
  for (guint round = 0; round < 3; round++)
    {
      Side *a = side_new ("a", NULL);
      Side *b = side_new ("b", NULL);
      MbNodeId to_b = side_node_of (a, b), to_a = side_node_of (b, a);
      const guint n = 50;
      for (guint i = 0; i < n; i++)
        {
          side_ping (a, to_b, i);
          side_ping (b, to_a, 1000 + i);
        }
      WAIT_FOR (a->msgs->len == n && b->msgs->len == n, WAIT_MS);
      WAIT_FOR (side_stats (a).connections_open == 1 && side_stats (b).connections_open == 1,
                WAIT_MS);
      for (guint i = 0; i < n; i++)
        {
          g_assert_cmpuint (g_array_index (b->from, MbNodeId, i), ==, to_a);
          g_assert_cmpuint (g_array_index (a->from, MbNodeId, i), ==, to_b);
        }
      /* After the race, traffic flows both ways on the survivor. */
      side_ping (a, to_b, 5000);
      side_ping (b, to_a, 6000);
      WAIT_FOR (a->msgs->len == n + 1 && b->msgs->len == n + 1, WAIT_MS);
      g_assert_cmpuint (side_stats (a).connections_open, ==, 1);
      g_assert_cmpuint (a->gone->len + b->gone->len, ==, 0);
      side_free (a);
      side_free (b);
      mb_test_drain ();
    }
}

/* host->disconnect: the other side is told, we are not; a later send reconnects. */
static void
test_disconnect (void)
{
  Side *a = side_new ("a", NULL);
  Side *b = side_new ("b", NULL);
  MbNodeId to_b = side_node_of (a, b);
  side_ping (a, to_b, 1);
  side_ping (a, to_b, 2);
  const MbHost *h = mb_transport_host (a->t);
  h->disconnect (h->ctx, mb_transport_self (a->t), to_b);  /* frames still go out */
  WAIT_FOR (b->gone->len == 1, WAIT_MS);
  g_assert_cmpuint (b->msgs->len, ==, 2);
  g_assert_cmpuint (g_array_index (b->gone, MbNodeId, 0), ==, side_node_of (b, a));
  WAIT_FOR (side_stats (a).connections_open == 0, WAIT_MS);
  g_assert_cmpuint (a->gone->len, ==, 0);

  side_ping (a, to_b, 3);
  WAIT_FOR (b->msgs->len == 3, WAIT_MS);
  g_assert_cmpuint (g_array_index (b->from, MbNodeId, 2), ==, side_node_of (b, a));
  g_assert_cmpuint (side_stats (a).connections_dialled, ==, 2);
  g_assert_cmpuint (a->gone->len, ==, 0);
  side_free (a);
  side_free (b);
  mb_test_drain ();
}

/* A peer that closes (frees its transport): the other side is told once. */
static void
test_peer_closes (void)
{
  Side *a = side_new ("a", NULL);
  Side *b = side_new ("b", NULL);
  side_ping (a, side_node_of (a, b), 1);
  WAIT_FOR (b->msgs->len == 1, WAIT_MS);
  side_free (a);
  WAIT_FOR (b->gone->len == 1, WAIT_MS);
  WAIT_FOR (side_stats (b).connections_open == 0, WAIT_MS);
  side_free (b);
  mb_test_drain ();
}

/* More than max_queue_bytes for one node: dropped as too slow, told once. */
static void
test_queue_limit (void)
{
  MbTransportConfig cfg;
  mb_test_config (&cfg);
  cfg.max_queue_bytes = 4096;
  cfg.backoff_initial_ms = 2000;  /* keep the frames waiting */
  Side *a = side_new ("a", &cfg);
  gchar *addr = g_strdup_printf ("127.0.0.1:%u", mb_test_free_port ());
  MbNodeId to = mb_transport_node (a->t, addr);
  g_test_expect_message ("minibit", G_LOG_LEVEL_WARNING, "*too slow*");
  guint sent = 0;
  while (side_stats (a).frames_refused == 0 && sent < 100)
    {
      MbMessage *m = mb_message_new (MB_MSG_ERROR);
      m->text = g_strnfill (1000, 'x');
      mb_host_send (mb_transport_host (a->t), mb_transport_self (a->t), to, m);
      sent++;
    }
  g_test_assert_expected_messages ();
  g_assert_cmpuint (sent, ==, 5);
  g_assert_cmpuint (a->gone->len, ==, 0);  /* never from inside send */
  g_assert_cmpuint (mb_transport_node_queued (a->t, to), ==, 0);
  WAIT_FOR (a->gone->len == 1, WAIT_MS);
  g_assert_cmpuint (g_array_index (a->gone, MbNodeId, 0), ==, to);
  g_assert_cmpuint (side_stats (a).frames_refused, ==, 5);
  g_free (addr);
  side_free (a);
  mb_test_drain ();
}

/* Over max_connections, new incoming connections are closed at once. */
static void
test_max_connections (void)
{
  MbTransportConfig cfg;
  mb_test_config (&cfg);
  cfg.max_connections = 1;
  Side *a = side_new ("a", NULL);
  Side *b = side_new ("b", &cfg);
  side_ping (a, side_node_of (a, b), 1);
  WAIT_FOR (b->msgs->len == 1, WAIT_MS);
  g_test_expect_message ("minibit", G_LOG_LEVEL_WARNING, "*refusing a connection*");
  GBytes *hello = mb_test_hello_frame ("127.0.0.1:2");
  GSocketConnection *raw = mb_test_raw_send (b, g_bytes_get_data (hello, NULL),
                                             g_bytes_get_size (hello));
  WAIT_FOR (side_stats (b).connections_refused == 1, WAIT_MS);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (side_stats (b).connections_open, ==, 1);
  side_ping (a, side_node_of (a, b), 2);
  WAIT_FOR (b->msgs->len == 2, WAIT_MS);
  g_object_unref (raw);
  g_bytes_unref (hello);
  side_free (a);
  side_free (b);
  mb_test_drain ();
}

/* A stranger at a node's address (it accepts, sends no HELLO, trickles
 * bytes): those bytes are read but are no sign of life (heard_at stays 0),
 * or anything answering at a dead member's address could keep it in the
 * ring (membership.c counts bytes heard as an answer to its pings). */
static void
on_stranger_accepted (GObject *src, GAsyncResult *res, gpointer data)
{
  *(GSocketConnection **) data
      = g_socket_listener_accept_finish (G_SOCKET_LISTENER (src), res, NULL, NULL);
}

static void
test_stranger_not_heard (void)
{
  Side *a = side_new ("a", NULL);
  GError *error = NULL;
  GSocketListener *l = g_socket_listener_new ();
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *want = g_inet_socket_address_new (lo, 0);
  GSocketAddress *got = NULL;
  g_assert_true (g_socket_listener_add_address (l, want, G_SOCKET_TYPE_STREAM,
                                                G_SOCKET_PROTOCOL_TCP, NULL, &got, &error));
  g_assert_no_error (error);
  guint16 port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (got));
  GSocketConnection *raw = NULL;
  g_socket_listener_accept_async (l, NULL, on_stranger_accepted, &raw);
  gchar *addr = g_strdup_printf ("127.0.0.1:%u", port);
  MbNodeId node = mb_transport_node (a->t, addr);
  side_ping (a, node, 1);  /* a dials it */
  WAIT_FOR (raw != NULL, WAIT_MS);
  guint64 in0 = side_stats (a).bytes_in;
  const guint8 start[] = { 0, 0, 1, 0, MB_MSG_HELLO };  /* a frame's first bytes */
  GOutputStream *os = g_io_stream_get_output_stream (G_IO_STREAM (raw));
  for (guint i = 0; i < sizeof start; i++)
    {
      g_assert_true (g_output_stream_write_all (os, start + i, 1, NULL, NULL, &error));
      g_assert_no_error (error);
      mb_test_spin (100);
    }
  WAIT_FOR (side_stats (a).bytes_in >= in0 + sizeof start, WAIT_MS);  /* they were read */
  g_assert_cmpint (mb_transport_node_heard_at (a->t, node), ==, 0);
  g_io_stream_close (G_IO_STREAM (raw), NULL, NULL);
  g_object_unref (raw);
  g_socket_listener_close (l);
  g_object_unref (l);
  g_object_unref (got);
  g_object_unref (want);
  g_object_unref (lo);
  g_free (addr);
  side_free (a);
  mb_test_drain ();
}

/* Sending to ourselves or to an unknown id is refused, not fatal. */
static void
test_bad_destinations (void)
{
  Side *a = side_new ("a", NULL);
  g_test_expect_message ("minibit", G_LOG_LEVEL_WARNING, "*cannot send ping*ourselves*");
  side_ping (a, mb_transport_self (a->t), 1);
  g_test_expect_message ("minibit", G_LOG_LEVEL_WARNING, "*cannot send ping*no such node*");
  side_ping (a, 4242, 1);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (side_stats (a).frames_refused, ==, 2);
  side_free (a);
  mb_test_drain ();
}

/* The listen backlog holds a burst of connections while the main loop is
 * busy: 200 connects all complete with no accept() at all (a backlog of 10
 * lets 11 through and leaves the rest retrying their SYN). */
static void
test_backlog (void)
{
  Side *b = side_new ("b", NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) to = g_inet_socket_address_new (lo, mb_transport_port (b->t));
  const guint n = 200;
  GSocket *socks[200];
  for (guint i = 0; i < n; i++)
    {
      GError *error = NULL;
      socks[i] = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                               G_SOCKET_PROTOCOL_TCP, &error);
      g_assert_no_error (error);
      g_socket_set_blocking (socks[i], FALSE);
      if (!g_socket_connect (socks[i], to, NULL, &error))
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
          g_clear_error (&error);
        }
    }
  /* No main-loop iteration: nothing is accepted meanwhile. */
  gint64 end = g_get_monotonic_time () + 1500 * 1000;
  guint done = 0;
  for (guint i = 0; i < n; i++)
    {
      GError *error = NULL;
      gint64 left = MAX (end - g_get_monotonic_time (), 0);
      if (g_socket_condition_timed_wait (socks[i], G_IO_OUT, left, NULL, &error)
          && g_socket_check_connect_result (socks[i], &error))
        done++;
      g_clear_error (&error);
    }
  g_test_message ("%u of %u connects completed with nothing accepted", done, n);
  g_assert_cmpuint (done, ==, n);
  for (guint i = 0; i < n; i++)
    {
      g_socket_close (socks[i], NULL);
      g_object_unref (socks[i]);
    }
  side_free (b);
  mb_test_drain ();
}

/* Every open connection of s: keepalive on, with keepalive_s as its idle
 * time, a third of it between probes, 3 probes, and a user timeout of 2 x
 * keepalive_s (read back from the kernel); returns how many it saw. */
static guint
check_keepalive (Side *s, guint keepalive_s)
{
  GHashTableIter it;
  gpointer key;
  guint n = 0;
  g_hash_table_iter_init (&it, s->t->conns);
  while (g_hash_table_iter_next (&it, &key, NULL))
    {
      GSocket *sock = g_socket_connection_get_socket (((MbConn *) key)->sc);
      gint on = -1, idle = -1, intvl = -1, cnt = -1, user = -1;
      g_assert_true (g_socket_get_option (sock, SOL_SOCKET, SO_KEEPALIVE, &on, NULL));
      g_assert_true (g_socket_get_option (sock, IPPROTO_TCP, TCP_KEEPIDLE, &idle, NULL));
      g_assert_true (g_socket_get_option (sock, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, NULL));
      g_assert_true (g_socket_get_option (sock, IPPROTO_TCP, TCP_KEEPCNT, &cnt, NULL));
      g_assert_true (g_socket_get_option (sock, IPPROTO_TCP, TCP_USER_TIMEOUT, &user, NULL));
      g_assert_cmpint (on, !=, 0);
      g_assert_cmpint (idle, ==, (gint) keepalive_s);
      g_assert_cmpint (intvl, ==, (gint) keepalive_s / 3);
      g_assert_cmpint (cnt, ==, 3);
      g_assert_cmpint (user, ==, (gint) keepalive_s * 2000);
      n++;
    }
  return n;
}

/* Wire sockets, dialled and accepted, carry TCP keepalive and a user
 * timeout, so a peer whose host vanished without a FIN is dropped (the
 * kernel's defaults would keep it for hours). */
static void
test_keepalive (void)
{
  MbTransportConfig cfg;
  mb_test_config (&cfg);
  cfg.keepalive_s = 12;
  Side *a = side_new ("a", &cfg);
  Side *b = side_new ("b", &cfg);
  b->echo = TRUE;
  side_ping (a, side_node_of (a, b), 1);
  WAIT_FOR (a->msgs->len == 1, WAIT_MS);
  g_assert_cmpuint (check_keepalive (a, 12), >=, 1);
  g_assert_cmpuint (check_keepalive (b, 12), >=, 1);
  side_free (a);
  side_free (b);
  mb_test_drain ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_test_add_func ("/transport/addr", test_addr);
  g_test_add_func ("/transport/nodes", test_nodes);
  g_test_add_func ("/transport/frames-in-order", test_frames_in_order);
  g_test_add_func ("/transport/keepalive", test_keepalive);
  g_test_add_func ("/transport/unreachable", test_unreachable);
  g_test_add_func ("/transport/garbage", test_garbage);
  g_test_add_func ("/transport/stranger-not-heard", test_stranger_not_heard);
  g_test_add_func ("/transport/race", test_race);
  g_test_add_func ("/transport/disconnect", test_disconnect);
  g_test_add_func ("/transport/peer-closes", test_peer_closes);
  g_test_add_func ("/transport/queue-limit", test_queue_limit);
  g_test_add_func ("/transport/max-connections", test_max_connections);
  g_test_add_func ("/transport/bad-destinations", test_bad_destinations);
  g_test_add_func ("/transport/backlog", test_backlog);
  return g_test_run ();
}
