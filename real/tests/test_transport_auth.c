/* test_transport_auth.c — the authenticated transport (transport.h: the
 * handshake, frame MACs, dial-back, the loopback rule) against transports
 * in this process and strangers written by hand (wire-fake.h), which run in
 * a thread of their own while the main thread runs the transports.
 *
 *  /transport-auth/with-secret    two transports with one secret: frames
 *                                 flow both ways, every frame after the
 *                                 handshake 16 bytes longer (its MAC)
 *  /transport-auth/wrong-secret   different secrets: refused at both ends
 *                                 ("wrong proof"), nothing delivered
 *  /transport-auth/mixed          a secret on one side only: refused, each
 *                                 side saying which one lacks it
 *  /transport-auth/strangers      without the secret: the pre-handshake
 *                                 protocol (HELLO then frames), no secret,
 *                                 a wrong secret, our own proof reflected
 *                                 back, a frame too large before the
 *                                 handshake: all dropped, nothing delivered
 *  /transport-auth/bad-mac        a stranger with the secret is delivered;
 *                                 then a frame with one bit of its MAC
 *                                 flipped, a frame replayed from another
 *                                 connection, two frames swapped: each drops
 *                                 its connection with a warning naming the
 *                                 peer
 *  /transport-auth/dial-back      with the secret, claiming another
 *                                 transport's address (it answers "no") or
 *                                 an address where nothing listens: dropped,
 *                                 nothing delivered
 *  /transport-auth/any-address    a transport listening on 0.0.0.0 (so it
 *                                 claims 0.0.0.0:P) is dialled back at the
 *                                 address it connects from, port P, and known
 *                                 by that
 *  /transport-auth/loopback-only  without a secret a connection from a
 *                                 non-loopback address of this host is
 *                                 refused at once; with one it is not
 *
 * Every wait has a deadline.  Warnings the transports log are captured
 * (and still printed); only criticals are fatal.
 */
#include <ifaddrs.h>
#include <netinet/in.h>
#include <string.h>

#include "transport.h"
#include "wire-auth.h"
#include "wire-fake.h"
#include "test-util.h"

#define WAIT_MS 5000
#define SECRET "transport-auth-test-secret-0001"

/* ---- captured log lines ------------------------------------------------------ */

static GMutex log_lock;
static GPtrArray *logged;   /* warnings and messages, as text */

static GLogWriterOutput
mb_capture (GLogLevelFlags level, const GLogField *fields, gsize n, gpointer user)
{
  if (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE))
    for (gsize i = 0; i < n; i++)
      if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
        {
          g_mutex_lock (&log_lock);
          g_ptr_array_add (logged, g_strdup (fields[i].value));
          g_mutex_unlock (&log_lock);
        }
  return g_log_writer_default (level, fields, n, user);
}

/* Some captured line holds every one of the NULL-terminated strings. */
static gboolean
mb_logged (const char *first, ...)
{
  gboolean found = FALSE;
  g_mutex_lock (&log_lock);
  for (guint i = 0; i < logged->len && !found; i++)
    {
      const char *line = logged->pdata[i];
      va_list ap;
      va_start (ap, first);
      found = TRUE;
      for (const char *s = first; s != NULL && found; s = va_arg (ap, const char *))
        found = strstr (line, s) != NULL;
      va_end (ap);
    }
  g_mutex_unlock (&log_lock);
  return found;
}

static void
mb_log_clear (void)
{
  g_mutex_lock (&log_lock);
  g_ptr_array_set_size (logged, 0);
  g_mutex_unlock (&log_lock);
}

/* ---- transports in this process ------------------------------------------------ */

typedef struct {
  MbTransport *t;
  GPtrArray *msgs;   /* copies of the frames received */
  GArray *from;
  GArray *gone;
  gboolean echo;     /* answer PING with PONG */
} Side;

static void
side_recv (gpointer user, MbNodeId from, const MbMessage *msg)
{
  Side *s = user;
  g_ptr_array_add (s->msgs, mb_message_copy (msg));
  g_array_append_val (s->from, from);
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
  g_array_append_val (((Side *) user)->gone, node);
}

static Side *
side_new (const char *name, const char *host, const char *secret)
{
  MbTransportConfig cfg;
  mb_transport_config_init (&cfg);
  cfg.backoff_initial_ms = 10;
  cfg.connect_tries = 2;
  cfg.linger_ms = 1000;
  cfg.hello_timeout_ms = 3000;
  cfg.connect_timeout_ms = 2000;
  g_autoptr (GBytes) key = secret != NULL ? g_bytes_new (secret, strlen (secret)) : NULL;
  cfg.secret = key;
  GError *error = NULL;
  Side *s = g_new0 (Side, 1);
  s->t = mb_transport_new (name, host != NULL ? host : "127.0.0.1", 0, &cfg, &error);
  g_assert_no_error (error);
  s->msgs = g_ptr_array_new_with_free_func ((GDestroyNotify) mb_message_free);
  s->from = g_array_new (FALSE, FALSE, sizeof (MbNodeId));
  s->gone = g_array_new (FALSE, FALSE, sizeof (MbNodeId));
  mb_transport_set_handlers (s->t, side_recv, side_gone, s);
  return s;
}

static void
side_free (Side *s)
{
  mb_transport_free (s->t);
  g_ptr_array_unref (s->msgs);
  g_array_unref (s->from);
  g_array_unref (s->gone);
  g_free (s);
  mb_test_spin (20);  /* cancelled operations finish */
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
  return mb_transport_node (s->t, mb_transport_listen_addr (other->t));
}

static GBytes *
mb_secret (const char *s)
{
  return g_bytes_new (s, strlen (s));
}

/* ---- a stranger's blocking work in a thread of its own ----------------------------- */

typedef gboolean (*MbJobFn) (gpointer data);

typedef struct {
  MbJobFn fn;
  gpointer data;
  gint done;
  gboolean ok;
} MbJob;

static gpointer
mb_job_run (gpointer p)
{
  MbJob *j = p;
  j->ok = j->fn (j->data);
  g_atomic_int_set (&j->done, 1);
  return NULL;
}

/* Runs fn (data) in a thread while this one runs the transports. */
static gboolean
mb_beside (MbJobFn fn, gpointer data)
{
  MbJob j = { fn, data, 0, FALSE };
  GThread *th = g_thread_new ("stranger", mb_job_run, &j);
  WAIT_FOR (g_atomic_int_get (&j.done), 15000);
  g_thread_join (th);
  return j.ok;
}

typedef struct {
  const char *to;          /* the transport's address */
  const char *claim;       /* what the stranger says it listens on */
  GBytes *secret;          /* what it holds (NULL: none) */
  MbFakeHome *home;        /* where dial-backs reach it */
  MbFake *f;               /* out */
  gboolean handshake_ok;   /* out */
  gchar *error;            /* out: why the handshake failed */
} Stranger;

static gboolean
mb_stranger_connect (gpointer data)
{
  Stranger *s = data;
  g_autoptr (GError) err = NULL;
  s->f = mb_fake_connect (s->to, &err);
  s->handshake_ok = s->f != NULL
                    && mb_fake_handshake (s->f, "stranger", s->claim, s->secret, s->home, &err);
  if (err != NULL)
    s->error = g_strdup (err->message);
  return s->handshake_ok;
}

static gboolean
mb_stranger_ping (gpointer data)
{
  Stranger *s = data;
  MbMessage *m = mb_message_new (MB_MSG_PING);
  m->req = 77;
  return mb_fake_send_msg (s->f, m, NULL);
}

/* TRUE once the transport closed the stranger's connection (within ms). */
typedef struct {
  MbFake *f;
  guint ms;
} Closing;

static gboolean
mb_stranger_closed (gpointer data)
{
  Closing *c = data;
  return mb_fake_wait_closed (c->f, c->ms);
}

static gboolean
mb_closed_within (MbFake *f, guint ms)
{
  Closing c = { f, ms };
  return mb_beside (mb_stranger_closed, &c);
}

static void
mb_stranger_clear (Stranger *s)
{
  mb_fake_free (s->f);
  s->f = NULL;
  g_clear_pointer (&s->error, g_free);
}

/* ---- /transport-auth/with-secret --------------------------------------------------- */

static guint64
mb_bytes_for_pings (const char *secret, guint n)
{
  Side *a = side_new ("a", NULL, secret);
  Side *b = side_new ("b", NULL, secret);
  b->echo = TRUE;
  MbNodeId to_b = side_node_of (a, b);
  for (guint i = 0; i < n; i++)
    side_ping (a, to_b, i);
  WAIT_FOR (a->msgs->len == n, WAIT_MS);
  for (guint i = 0; i < n; i++)
    {
      g_assert_cmpint (((MbMessage *) b->msgs->pdata[i])->type, ==, MB_MSG_PING);
      g_assert_cmpuint (((MbMessage *) b->msgs->pdata[i])->req, ==, i);
      g_assert_cmpuint (((MbMessage *) a->msgs->pdata[i])->req, ==, i);
    }
  WAIT_FOR (side_stats (a).connections_open == 1 && side_stats (b).connections_open == 1,
            WAIT_MS);
  MbTransportStats sa = side_stats (a), sb = side_stats (b);
  g_assert_cmpuint (sa.auth_failures + sb.auth_failures, ==, 0);
  g_assert_cmpuint (sb.dialback_failures, ==, 0);
  g_assert_cmpuint (sa.dialbacks_answered, ==, 1);
  g_assert_cmpuint (sa.bytes_out, ==, sb.bytes_in);
  guint64 out = sa.bytes_out;
  side_free (a);
  side_free (b);
  return out;
}

static void
test_with_secret (void)
{
  const guint n = 200;
  guint64 plain = mb_bytes_for_pings (NULL, n);
  guint64 sealed = mb_bytes_for_pings (SECRET, n);
  /* a sends n pings and, on the probe, one dialback answer, each with a
   * MAC; its proofs are 32 bytes instead of 0 (two connections) */
  g_test_message ("%u pings: %" G_GUINT64_FORMAT " bytes without a secret, %" G_GUINT64_FORMAT
                  " with one", n, plain, sealed);
  g_assert_cmpuint (sealed - plain, ==, (n + 1) * MB_AUTH_TAG_LEN + 2 * MB_AUTH_PROOF_LEN);
}

/* ---- /transport-auth/wrong-secret and /mixed ------------------------------------------ */

static void
mb_refused_both_ways (const char *sa_secret, const char *sb_secret, const char *a_says,
                      const char *b_says)
{
  mb_log_clear ();
  Side *a = side_new ("a", NULL, sa_secret);
  Side *b = side_new ("b", NULL, sb_secret);
  side_ping (a, side_node_of (a, b), 1);
  side_ping (b, side_node_of (b, a), 2);
  WAIT_FOR (mb_logged ("transport a", a_says, NULL) && mb_logged ("transport b", b_says, NULL),
            WAIT_MS);
  mb_test_spin (200);
  g_assert_cmpuint (a->msgs->len + b->msgs->len, ==, 0);
  g_assert_cmpuint (side_stats (a).auth_failures, >=, 1);
  g_assert_cmpuint (side_stats (b).auth_failures, >=, 1);
  side_free (a);
  side_free (b);
}

static void
test_wrong_secret (void)
{
  mb_refused_both_ways (SECRET, "another-secret-entirely-0002", "wrong proof", "wrong proof");
}

static void
test_mixed (void)
{
  mb_refused_both_ways (SECRET, NULL, "has no cluster secret and this side has one",
                        "uses a cluster secret and this side has none");
}

/* ---- /transport-auth/strangers ----------------------------------------------------- */

typedef struct {
  const char *to;
  MbFake *f;
} Raw;

/* The protocol before the handshake: HELLO, then a frame for the core. */
static gboolean
mb_raw_old_protocol (gpointer data)
{
  Raw *r = data;
  r->f = mb_fake_connect (r->to, NULL);
  MbMessage *leave = mb_message_new (MB_MSG_LEAVE_NOTICE);
  leave->name = g_strdup ("127.0.0.1:9");
  return mb_fake_hello (r->f, "old", "127.0.0.1:9", NULL)
         && mb_fake_send_msg (r->f, leave, NULL) && mb_fake_wait_closed (r->f, 3000);
}

/* Our challenge, then the transport's own proof sent back as ours. */
static gboolean
mb_raw_reflect (gpointer data)
{
  Raw *r = data;
  r->f = mb_fake_connect (r->to, NULL);
  if (!mb_fake_hello (r->f, "mirror", "127.0.0.1:9", NULL))
    return FALSE;
  MbMessage *ch = mb_message_new (MB_MSG_CHALLENGE);
  ch->code = MB_CHALLENGE_SECRET;
  guint8 nonce[MB_AUTH_NONCE_LEN];
  mb_auth_random (nonce, sizeof nonce, NULL);
  ch->data = g_bytes_new (nonce, sizeof nonce);
  if (!mb_fake_send_msg (r->f, ch, NULL))
    return FALSE;
  g_autoptr (MbMessage) hello = mb_fake_read_msg (r->f, 3000, NULL);
  g_autoptr (MbMessage) their_ch = mb_fake_read_msg (r->f, 3000, NULL);
  g_autoptr (MbMessage) proof = mb_fake_read_msg (r->f, 3000, NULL);
  if (proof == NULL || proof->type != MB_MSG_PROOF)
    return FALSE;
  MbMessage *mine = mb_message_new (MB_MSG_PROOF);
  mine->data = g_bytes_ref (proof->data);
  return mb_fake_send_msg (r->f, mine, NULL) && mb_fake_wait_closed (r->f, 3000);
}

/* A frame header far over the handshake's 4 KiB, before any handshake. */
static gboolean
mb_raw_big_first (gpointer data)
{
  Raw *r = data;
  r->f = mb_fake_connect (r->to, NULL);
  guint8 head[5];
  mb_fake_frame_header (head, 64 * 1024);
  return mb_fake_send_raw (r->f, head, sizeof head, NULL) && mb_fake_wait_closed (r->f, 3000);
}

static void
test_strangers (void)
{
  mb_log_clear ();
  Side *b = side_new ("b", NULL, SECRET);
  MbFakeHome *home = mb_fake_home_new (NULL);
  const char *to = mb_transport_listen_addr (b->t);

  Raw old = { to, NULL };
  g_assert_true (mb_beside (mb_raw_old_protocol, &old));
  g_assert_true (mb_logged ("not a challenge", NULL));

  Stranger none = { to, mb_fake_home_addr (home), NULL, home };
  g_assert_false (mb_beside (mb_stranger_connect, &none));  /* refused before its proof */
  g_test_message ("no secret: %s", none.error);
  g_assert_true (mb_logged ("has no cluster secret", NULL));

  g_autoptr (GBytes) wrong = mb_secret ("not-the-cluster-secret-123");
  Stranger bad = { to, mb_fake_home_addr (home), wrong, home };
  mb_beside (mb_stranger_connect, &bad);   /* its side may finish: the proofs cross */
  mb_beside (mb_stranger_ping, &bad);
  g_assert_true (mb_closed_within (bad.f, 3000));
  g_assert_true (mb_logged ("wrong proof", NULL));

  Raw mirror = { to, NULL };
  g_assert_true (mb_beside (mb_raw_reflect, &mirror));

  Raw big = { to, NULL };
  g_assert_true (mb_beside (mb_raw_big_first, &big));
  g_assert_true (mb_logged ("above the maximum of 4096 bytes", NULL));

  mb_test_spin (100);
  g_assert_cmpuint (b->msgs->len, ==, 0);
  g_assert_cmpuint (b->gone->len, ==, 0);
  g_assert_cmpuint (mb_fake_home_answered (home), ==, 0);  /* no dial-back for any */
  g_assert_cmpuint (side_stats (b).auth_failures, >=, 4);
  mb_fake_free (old.f);
  mb_fake_free (mirror.f);
  mb_fake_free (big.f);
  mb_stranger_clear (&none);
  mb_stranger_clear (&bad);
  mb_fake_home_free (home);
  side_free (b);
}

/* ---- /transport-auth/bad-mac ---------------------------------------------------------- */

typedef struct {
  MbFake *f;
  GBytes *bytes;
} Send;

static gboolean
mb_send_bytes (gpointer data)
{
  Send *s = data;
  return mb_fake_send_raw (s->f, g_bytes_get_data (s->bytes, NULL), g_bytes_get_size (s->bytes),
                           NULL);
}

static MbMessage *
mb_ping (guint32 req)
{
  MbMessage *m = mb_message_new (MB_MSG_PING);
  m->req = req;
  return m;
}

/* A stranger with the secret that proved its address (a fresh one of home). */
static void
mb_member (Stranger *s, Side *b, MbFakeHome *home, GBytes *secret)
{
  s->to = mb_transport_listen_addr (b->t);
  s->claim = mb_fake_home_add_addr (home);
  s->secret = secret;
  s->home = home;
  g_assert_true (mb_beside (mb_stranger_connect, s));
}

static void
test_bad_mac (void)
{
  mb_log_clear ();
  Side *b = side_new ("b", NULL, SECRET);
  g_autoptr (GBytes) secret = mb_secret (SECRET);
  MbFakeHome *home = mb_fake_home_new (secret);

  /* Delivered: the stranger holds the secret and proved its address. */
  Stranger m1 = { 0 };
  mb_member (&m1, b, home, secret);
  g_assert_true (mb_beside (mb_stranger_ping, &m1));
  WAIT_FOR (b->msgs->len == 1, WAIT_MS);
  g_assert_cmpstr (mb_transport_node_addr (b->t, g_array_index (b->from, MbNodeId, 0)), ==,
                   m1.claim);
  /* One bit of the next frame's MAC flipped. */
  GBytes *sealed = mb_fake_seal (m1.f, mb_ping (2));
  gsize len = 0;
  guint8 *bytes = g_memdup2 (g_bytes_get_data (sealed, &len), g_bytes_get_size (sealed));
  bytes[len - 1] ^= 0x10;
  Send flip = { m1.f, g_bytes_new_take (bytes, len) };
  g_assert_true (mb_beside (mb_send_bytes, &flip));
  g_assert_true (mb_closed_within (m1.f, 3000));
  g_assert_true (mb_logged ("dropping connection", m1.claim, "bad MAC", NULL));
  WAIT_FOR (b->gone->len == 1, WAIT_MS);

  /* A frame sealed for one connection (m2's), replayed on another (m3). */
  Stranger m2 = { 0 }, m3 = { 0 }, m4 = { 0 };
  mb_member (&m2, b, home, secret);
  mb_member (&m3, b, home, secret);
  Send replay = { m3.f, mb_fake_seal (m2.f, mb_ping (3)) };
  g_assert_true (mb_beside (mb_send_bytes, &replay));
  g_assert_true (mb_closed_within (m3.f, 3000));
  g_assert_true (mb_logged ("dropping connection", m3.claim, "bad MAC", NULL));

  /* Two frames swapped: the second one sealed goes first. */
  mb_member (&m4, b, home, secret);
  GBytes *first = mb_fake_seal (m4.f, mb_ping (4));
  Send swapped = { m4.f, mb_fake_seal (m4.f, mb_ping (5)) };
  g_assert_true (mb_beside (mb_send_bytes, &swapped));
  g_assert_true (mb_closed_within (m4.f, 3000));
  g_assert_true (mb_logged ("dropping connection", m4.claim, "bad MAC", NULL));

  mb_test_spin (100);
  g_assert_cmpuint (b->msgs->len, ==, 1);  /* only the good ping */
  g_assert_cmpuint (side_stats (b).auth_failures, ==, 3);
  g_bytes_unref (sealed);
  g_bytes_unref (first);
  g_bytes_unref (flip.bytes);
  g_bytes_unref (replay.bytes);
  g_bytes_unref (swapped.bytes);
  mb_stranger_clear (&m1);
  mb_stranger_clear (&m2);
  mb_stranger_clear (&m3);
  mb_stranger_clear (&m4);
  mb_fake_home_free (home);
  side_free (b);
}

/* ---- /transport-auth/dial-back -------------------------------------------------------- */

static guint16
mb_free_port (void)
{
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) sa = g_inet_socket_address_new (lo, 0);
  g_assert_true (g_socket_bind (s, sa, FALSE, NULL));
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (s, NULL);
  guint16 port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (s, NULL);
  g_object_unref (s);
  return port;
}

static void
test_dial_back (void)
{
  mb_log_clear ();
  Side *b = side_new ("b", NULL, SECRET);
  Side *c = side_new ("c", NULL, SECRET);
  g_autoptr (GBytes) secret = mb_secret (SECRET);
  const char *c_addr = mb_transport_listen_addr (c->t);

  /* The secret, and c's address: c says it did not dial b. */
  Stranger thief = { mb_transport_listen_addr (b->t), c_addr, secret, NULL };
  g_assert_true (mb_beside (mb_stranger_connect, &thief));
  mb_beside (mb_stranger_ping, &thief);
  g_assert_true (mb_closed_within (thief.f, 3000));
  g_assert_true (mb_logged ("dial-back to", c_addr, "did not dial us", NULL));
  g_assert_cmpuint (side_stats (c).dialbacks_answered, ==, 1);

  /* The secret, and an address where nothing listens. */
  g_autofree gchar *nowhere = g_strdup_printf ("127.0.0.1:%u", mb_free_port ());
  Stranger ghost = { mb_transport_listen_addr (b->t), nowhere, secret, NULL };
  g_assert_true (mb_beside (mb_stranger_connect, &ghost));
  mb_beside (mb_stranger_ping, &ghost);
  g_assert_true (mb_closed_within (ghost.f, 3000));
  g_assert_true (mb_logged ("dial-back to", nowhere, "failed", NULL));

  mb_test_spin (100);
  g_assert_cmpuint (b->msgs->len, ==, 0);
  g_assert_cmpuint (c->msgs->len, ==, 0);
  g_assert_cmpuint (side_stats (b).dialback_failures, ==, 2);
  /* b and c themselves still talk (and c proves its address to b). */
  side_ping (c, side_node_of (c, b), 9);
  WAIT_FOR (b->msgs->len == 1, WAIT_MS);
  mb_stranger_clear (&thief);
  mb_stranger_clear (&ghost);
  side_free (b);
  side_free (c);
}

/* ---- /transport-auth/any-address ------------------------------------------------------ */

static void
test_any_address (void)
{
  Side *a = side_new ("a", "0.0.0.0", SECRET);
  Side *b = side_new ("b", NULL, SECRET);
  g_autofree gchar *want = g_strdup_printf ("127.0.0.1:%u", mb_transport_port (a->t));
  g_assert_true (g_str_has_prefix (mb_transport_listen_addr (a->t), "0.0.0.0:"));
  side_ping (a, side_node_of (a, b), 5);
  WAIT_FOR (b->msgs->len == 1, WAIT_MS);
  g_assert_cmpstr (mb_transport_node_addr (b->t, g_array_index (b->from, MbNodeId, 0)), ==, want);
  g_assert_cmpuint (side_stats (b).dialback_failures, ==, 0);
  side_free (a);
  side_free (b);
}

/* ---- /transport-auth/loopback-only ---------------------------------------------------- */

/* A non-loopback IPv4 address of this host, or NULL. */
static gchar *
mb_local_address (void)
{
  struct ifaddrs *all = NULL;
  if (getifaddrs (&all) != 0)
    return NULL;
  gchar *found = NULL;
  for (struct ifaddrs *i = all; i != NULL && found == NULL; i = i->ifa_next)
    if (i->ifa_addr != NULL && i->ifa_addr->sa_family == AF_INET)
      {
        const struct sockaddr_in *in = (const struct sockaddr_in *) i->ifa_addr;
        guint32 a = g_ntohl (in->sin_addr.s_addr);
        if ((a >> 24) != 127)
          found = g_strdup_printf ("%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
      }
  freeifaddrs (all);
  return found;
}

typedef struct {
  gchar *to;
  gboolean closed;
} Plain;

static gboolean
mb_plain_connect (gpointer data)
{
  Plain *p = data;
  MbFake *f = mb_fake_connect (p->to, NULL);
  p->closed = f == NULL || mb_fake_wait_closed (f, 1000);
  mb_fake_free (f);
  return TRUE;
}

static void
test_loopback_only (void)
{
  g_autofree gchar *ip = mb_local_address ();
  if (ip == NULL)
    {
      g_test_skip ("this host has no non-loopback IPv4 address");
      return;
    }
  mb_log_clear ();
  Side *open = side_new ("open", "0.0.0.0", NULL);
  Side *keyed = side_new ("keyed", "0.0.0.0", SECRET);
  Plain p1 = { g_strdup_printf ("%s:%u", ip, mb_transport_port (open->t)), FALSE };
  mb_beside (mb_plain_connect, &p1);
  g_assert_true (p1.closed);
  g_assert_true (mb_logged ("refusing a connection from", ip, "only loopback", NULL));
  g_assert_cmpuint (side_stats (open).connections_refused, ==, 1);
  g_assert_cmpuint (side_stats (open).connections_accepted, ==, 0);
  /* With a secret the same connection is accepted (it then has the
   * handshake's time to prove itself; this one stays silent). */
  Plain p2 = { g_strdup_printf ("%s:%u", ip, mb_transport_port (keyed->t)), FALSE };
  mb_beside (mb_plain_connect, &p2);
  g_assert_false (p2.closed);
  g_assert_cmpuint (side_stats (keyed).connections_refused, ==, 0);
  g_assert_cmpuint (side_stats (keyed).connections_accepted, ==, 1);
  g_free (p1.to);
  g_free (p2.to);
  side_free (open);
  side_free (keyed);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  logged = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (mb_capture, NULL, NULL);
  g_test_add_func ("/transport-auth/with-secret", test_with_secret);
  g_test_add_func ("/transport-auth/wrong-secret", test_wrong_secret);
  g_test_add_func ("/transport-auth/mixed", test_mixed);
  g_test_add_func ("/transport-auth/strangers", test_strangers);
  g_test_add_func ("/transport-auth/bad-mac", test_bad_mac);
  g_test_add_func ("/transport-auth/dial-back", test_dial_back);
  g_test_add_func ("/transport-auth/any-address", test_any_address);
  g_test_add_func ("/transport-auth/loopback-only", test_loopback_only);
  int rc = g_test_run ();
  g_ptr_array_unref (logged);
  return rc;
}
