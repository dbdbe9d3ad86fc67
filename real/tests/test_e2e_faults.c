/* test_e2e_faults.c — end to end, faults: a tracker and five peers
 * (e2e-fixture.h) on loopback, a fresh cluster for each test.
 *
 *  /e2e/crash-repair      R = 2: an 8 MiB file, SIGKILL of a peer holding
 *                         chunks of it, the failure detector (members
 *                         5 -> 4), repair back to >= 2 copies of every chunk
 *                         on the survivors, and a fetch at the survivor that
 *                         held fewest chunks.
 *  /e2e/malformed-input   garbage on the wire port and bad HTTP requests
 *                         (400, 413, 403, 404) leave the peer serving; this
 *                         cluster runs without a cluster secret (loopback).
 */
#include <signal.h>
#include <string.h>

#include "e2e-fixture.h"
#include "wire/codec.h"

/* ---- /e2e/crash-repair ---------------------------------------------------------- */

/* For a failed repair: each chunk with fewer than 2 copies, the holders
 * the manifest listed before the crash and the survivors that have it. */
static void
mb_log_short_chunks (Cluster *c, const MbManifest *m)
{
  for (guint k = 0; k < mb_manifest_n_chunks (m); k++)
    {
      g_autofree gchar *path = g_strconcat ("/get_chunk/", mb_manifest_chunk_id (m, k), NULL);
      GString *listed = g_string_new (NULL), *have = g_string_new (NULL);
      guint copies = 0;
      for (guint h = 0; h < mb_manifest_n_holders (m, k); h++)
        {
          gint p = mb_peer_by_wire (c, mb_manifest_holder (m, k, h));
          g_string_append_printf (listed, " %s%s", p >= 0 ? c->peers[p].id : mb_manifest_holder (m, k, h),
                                  p >= 0 && !mb_alive (c, (guint) p) ? "(dead)" : "");
        }
      for (guint i = 0; i < N_PEERS; i++)
        if (mb_alive (c, i))
          {
            g_autoptr (Reply) r = mb_peer_http (c, i, FALSE, "GET", path, NULL);
            if (r->status == 200)
              {
                copies++;
                g_string_append_printf (have, " %s", c->peers[i].id);
              }
          }
      if (copies < 2)
        g_test_message ("chunk %u (%.12s...): listed before the crash on%s; now on%s", k,
                        mb_manifest_chunk_id (m, k), listed->str, have->str);
      g_string_free (listed, TRUE);
      g_string_free (have, TRUE);
    }
}

#define CRASH_NAME "crash-8mib.bin"
#define CRASH_SIZE ((gsize) 8 << 20)

static gboolean
run_crash_repair (Cluster *c)
{
  g_autofree gchar *sha = mb_random_file (c->peers[0].dir, CRASH_NAME, CRASH_SIZE, 8);
  CHECK (sha != NULL);
  if (!mb_store (c, 0, CRASH_NAME, NULL))
    return FALSE;
  gint64 held[N_PEERS];
  for (guint i = 0; i < N_PEERS; i++)
    held[i] = mb_chunks_at (c, i);
  mb_log_chunks (c, "after store");
  /* Fetch at the peer (not peer1) holding fewest chunks; kill the one (not
   * peer1, not the fetcher) holding most. */
  guint fetcher = 1, victim = 0;
  for (guint i = 2; i < N_PEERS; i++)
    if (held[i] < held[fetcher])
      fetcher = i;
  for (guint i = 1; i < N_PEERS; i++)
    if (i != fetcher && (victim == 0 || held[i] > held[victim]))
      victim = i;
  CHECKF (held[victim] > 0, "no peer but peer1 and the fetcher holds chunks");
  g_autoptr (MbManifest) m = NULL;
  if (!mb_get_manifest (c, fetcher, CRASH_NAME, &m))
    return FALSE;
  g_test_message ("SIGKILL %s (%" G_GINT64_FORMAT " chunks); fetch at %s (%" G_GINT64_FORMAT
                  " chunks)", c->peers[victim].id, held[victim], c->peers[fetcher].id,
                  held[fetcher]);
  gint64 t0 = g_get_monotonic_time ();
  g_subprocess_send_signal (c->peers[victim].proc->proc, SIGKILL);
  CHECKF (mb_wait_exit (c->peers[victim].proc, 5000), "%s survives SIGKILL",
          c->peers[victim].id);
  CHECKF (mb_wait_members (c, N_PEERS - 1, 15000, NULL),
          "15 s after the crash the survivors do not all see %d members", N_PEERS - 1);
  g_test_message ("failure detected (members 4 everywhere) %.2f s after SIGKILL",
                  mb_secs_since (t0));
  /* Repair: every chunk on >= 2 survivors.  Checked before the fetch, as a
   * fetching peer keeps the chunks it got (it becomes a holder), which
   * would hide a missing repair. */
  guint n = mb_manifest_n_chunks (m);
  gint64 end = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  guint min_copies = 0, short_chunks = 0, total_copies = 0;
  for (;;)
    {
      min_copies = G_MAXUINT;
      short_chunks = 0;
      total_copies = 0;
      for (guint k = 0; k < n; k++)
        {
          g_autofree gchar *path = g_strconcat ("/get_chunk/", mb_manifest_chunk_id (m, k), NULL);
          guint copies = 0;
          for (guint i = 0; i < N_PEERS; i++)
            if (mb_alive (c, i))
              {
                g_autoptr (Reply) r = mb_peer_http (c, i, FALSE, "GET", path, NULL);
                copies += r->status == 200
                          && g_bytes_get_size (r->body) == mb_manifest_chunk_len (m, k);
              }
          min_copies = MIN (min_copies, copies);
          short_chunks += copies < 2;
          total_copies += copies;
        }
      if (short_chunks == 0 || g_get_monotonic_time () >= end)
        break;
      mb_pump (250);
    }
  g_test_message ("repair: %.2f s after SIGKILL, %u chunks, %u copies on survivors, fewest "
                  "copies of a chunk %u, chunks under 2 copies %u", mb_secs_since (t0), n,
                  total_copies, min_copies, short_chunks);
  mb_log_chunks (c, "after repair");
  if (short_chunks > 0)
    {
      mb_log_short_chunks (c, m);
      mb_fail (__FILE__, __LINE__, "short_chunks == 0",
               "%u of %u chunks have fewer than 2 copies 30 s after the crash", short_chunks, n);
    }
  /* The fetch, whatever the repair did. */
  if (!mb_fetch (c, fetcher, CRASH_NAME, sha, NULL))
    return FALSE;
  return short_chunks == 0;
}

static void
test_crash_repair (void)
{
  gint64 t0 = g_get_monotonic_time ();
  Cluster *c = mb_cluster_start (2);
  if (c == NULL)
    return;
  gboolean ok = run_crash_repair (c);
  mb_cluster_free (c, !ok);
  g_test_message ("crash-repair: %.2f s", mb_secs_since (t0));
}

/* ---- /e2e/malformed-input -------------------------------------------------------- */

/* Connects to addr's port on loopback, writes data, and checks the peer
 * closes the connection within 5 s (whatever it sends first). */
static gboolean
mb_wire_garbage (guint16 port, const guint8 *data, gsize len, const char *what)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_socket_client_set_timeout (client, 5);
  g_autoptr (GError) err = NULL;
  g_autoptr (GSocketConnection) conn = g_socket_client_connect_to_host (client, "127.0.0.1",
                                                                        port, NULL, &err);
  CHECKF (conn != NULL, "connect to the wire port: %s", err ? err->message : "?");
  GSocket *s = g_socket_connection_get_socket (conn);
  g_socket_set_timeout (s, 1);
  gsize sent = 0;
  while (sent < len)
    {
      gssize k = g_socket_send (s, (const gchar *) data + sent, len - sent, NULL, &err);
      if (k <= 0)
        break;   /* it may have closed on us already: fine */
      sent += (gsize) k;
    }
  g_clear_error (&err);
  gint64 t0 = g_get_monotonic_time ();
  gint64 end = t0 + 5 * G_USEC_PER_SEC;
  gboolean closed = FALSE;
  gchar buf[4096];
  while (!closed && g_get_monotonic_time () < end)
    {
      gssize k = g_socket_receive (s, buf, sizeof buf, NULL, &err);
      if (k == 0)
        closed = TRUE;
      else if (k < 0)
        {
          closed = !g_error_matches (err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
          g_clear_error (&err);
        }
    }
  g_test_message ("wire garbage (%s, %" G_GSIZE_FORMAT " bytes): %s after %.2f s", what, len,
                  closed ? "connection closed" : "still open", mb_secs_since (t0));
  CHECKF (closed, "the peer kept the connection open 5 s after %s", what);
  g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
  return TRUE;
}

static gboolean
mb_expect_error (Cluster *c, guint at, const char *method, const char *path,
                 const char *body, gssize len, guint want)
{
  g_autofree gchar *url = g_strconcat (c->peers[at].url, path, NULL);
  g_autoptr (Reply) r = mb_http (c->http, method, url, body, len);
  g_autofree gchar *text = mb_body_text (r);
  g_test_message ("%s %s (%" G_GSSIZE_FORMAT " bytes): %s", method, path,
                  body ? (len < 0 ? (gssize) strlen (body) : len) : 0, text);
  CHECKF (r->status == want, "%s %s: wanted %u, got %s", method, path, want, text);
  CHECKF (g_strcmp0 (r->type, "application/json") == 0 && g_strcmp0 (mb_str (r, "status"), "error") == 0
            && mb_str (r, "error") != NULL,
          "%s %s: not a JSON error: %s", method, path, text);
  return TRUE;
}

static gboolean
run_malformed (Cluster *c)
{
  const guint target = 1;  /* peer2 */
  guint16 wport = c->peers[target].wire_port;
  const guint8 huge[4] = { 0xff, 0xff, 0xff, 0xff };
  if (!mb_wire_garbage (wport, huge, sizeof huge, "length 0xFFFFFFFF"))
    return FALSE;
  /* A well-formed HELLO whose crc is wrong. */
  MbMessage *hello = mb_message_new (MB_MSG_HELLO);
  hello->name = g_strdup ("intruder");
  hello->addr = g_strdup ("127.0.0.1:1");
  g_autoptr (GError) err = NULL;
  g_autoptr (GByteArray) frame = g_byte_array_new ();
  gboolean enc = mb_codec_encode (hello, frame, &err);
  mb_message_free (hello);
  CHECKF (enc, "encode HELLO: %s", err ? err->message : "?");
  frame->data[frame->len - 1] ^= 0x5a;
  if (!mb_wire_garbage (wport, frame->data, frame->len, "HELLO with a wrong crc"))
    return FALSE;
  /* Random bytes. */
  g_autoptr (GRand) rand = g_rand_new_with_seed (4);
  guint8 noise[8192];
  for (gsize i = 0; i < sizeof noise; i++)
    noise[i] = (guint8) g_rand_int_range (rand, 0, 256);
  noise[0] = 0;  /* a length under the maximum, so the type and crc are what fail */
  if (!mb_wire_garbage (wport, noise, sizeof noise, "random bytes"))
    return FALSE;
  CHECKF (mb_alive (c, target), "%s died of wire garbage", c->peers[target].id);

  if (!mb_expect_error (c, target, "POST", "/fetch_file", "{\"filename\": ", -1, 400))
    return FALSE;
  if (!mb_expect_error (c, target, "POST", "/fetch_file", "[1, 2]", -1, 400))
    return FALSE;
  if (!mb_expect_error (c, target, "POST", "/fetch_file", "{\"filename\": 7}", -1, 400))
    return FALSE;
  if (!mb_expect_error (c, target, "POST", "/fetch_file", "{\"filename\": \"../x\"}", -1, 400))
    return FALSE;
  gsize big_len = 100 * 1024;
  g_autofree gchar *big = g_malloc (big_len);
  memset (big, ' ', big_len);
  memcpy (big, "{\"filename\": \"x\"}", 17);
  if (!mb_expect_error (c, target, "POST", "/store_file", big, (gssize) big_len, 413))
    return FALSE;
  if (!mb_expect_error (c, target, "POST", "/store_file", "{\"filename\": \"/etc/passwd\"}", -1,
                        403))
    return FALSE;
  if (!mb_expect_error (c, target, "POST", "/store_file",
                        "{\"filename\": \"../../../../../../etc/passwd\"}", -1, 403))
    return FALSE;
  if (!mb_expect_error (c, target, "GET", "/get_chunk/notahash", NULL, 0, 400))
    return FALSE;
  if (!mb_expect_error (c, target, "GET", "/no_such", NULL, 0, 404))
    return FALSE;
  if (!mb_expect_error (c, target, "GET", "/store_file", NULL, 0, 405))
    return FALSE;

  /* Still serving: everyone still sees everyone, and the ring works. */
  CHECKF (mb_alive (c, target), "%s died of bad requests", c->peers[target].id);
  CHECKF (mb_wait_members (c, N_PEERS, 5000, NULL), "members are no longer %d everywhere",
          N_PEERS);
  g_autofree gchar *sha = mb_random_file (c->peers[target].dir, "small.bin", 1000 * 1000, 1);
  CHECK (sha != NULL);
  if (!mb_store (c, target, "small.bin", NULL))
    return FALSE;
  if (!mb_fetch (c, 4, "small.bin", sha, NULL))
    return FALSE;
  return TRUE;
}

/* This cluster runs without a cluster secret, on loopback: the one e2e test
 * that does (the others have one). */
static void
test_malformed (void)
{
  gint64 t0 = g_get_monotonic_time ();
  Cluster *c = mb_cluster_start_with (2, NULL);
  if (c == NULL)
    return;
  gboolean ok = run_malformed (c);
  mb_cluster_free (c, !ok);
  g_test_message ("malformed-input: %.2f s", mb_secs_since (t0));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/e2e/crash-repair", test_crash_repair);
  g_test_add_func ("/e2e/malformed-input", test_malformed);
  return g_test_run ();
}
