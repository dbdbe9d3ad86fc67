/* test_e2e_stall.c — a swarm source that stops mid-fetch without a word
 * (root only: e2e-net.h with 6 namespaces for peers in 10.216.0.0/16, our
 * links mbst-PID-c<i>; skipped with the reason when they cannot be made).
 *
 * Five members (R = 3) and a ring client (--client, as tools/emulate's
 * leechers) in the sixth namespace.  A 32 MiB file is stored at peer1 and
 * fetched by the client, which then stays in the file's swarm as a seed.
 * Then every peer's bridge link is shaped to 16 Mbit/s each way (tc tbf,
 * mb_net_shape), so that the fetch at peer5 takes seconds, and peer5
 * fetches the file: from its holders and from the client.  While it runs
 * the test polls peer5's GET /status; once a fifth of the chunks it lacked
 * are in and it has requests out to the client, the client gets SIGSTOP.
 * Its kernel keeps the connections open and ACKs what arrives, but nothing
 * answers: no FIN, no RST, no block, no frame at all — what a crashed host
 * behind a dead link looks like.  (A member would not do: the ring pings
 * members, takes a silent one for crashed within about a second and closes
 * its connections, which frees the swarm too; nothing pings a client.
 * SIGKILL would not do either: the kernel closes the sockets and the FIN
 * tells the swarm at once.  And peer5 uploads nothing to a seed, so its
 * writes never stall on the stopped reader: transport.h write_stall_ms.)
 *
 * It checks: the fetch answers success with the file's SHA-256 within
 * BOUND_S of the stop; peer5's /metrics count the stall and the requests
 * timed out (and /status shows the connection "stalled" while it lasts).
 * (Its close for silence, request_timeout after the stall, is not seen
 * here: peer5, complete, closes its connections to seeds first;
 * core/swarm/tests/test_peer_stall.c checks it.)
 *
 * The bound: the blocks the client owed go back to the picker
 * request_timeout (20 s) after its last block (just before the stop); by
 * then the other sources have brought everything else, and the blocks
 * given back (about 170 x 16 KiB) need under 2 s at peer5's 2 MB/s: about
 * 22 s (measured 21.7 s).  BOUND_S = 28 leaves 6 s for a loaded machine
 * and stays below the transport's frame timeout (30 s,
 * MINIBIT_WIRE_FRAME_TIMEOUT_MS): a client stopped in the middle of
 * sending a frame has its connection dropped then, request timeout or
 * not, so only the request timeout can meet the bound.  Without it
 * (MINIBIT_SWARM_REQUEST_TIMEOUT_MS=0 in the environment, which the peers
 * inherit) the fetch ended 31.9 s after the stop when the stop cut a frame
 * (the frame timeout) and waits without end when it did not (stalls of
 * more than 190 s in tools/emulate), and the test fails.
 *
 * Bounded and clean as the other namespace tests: every wait has a
 * deadline; the client gets SIGCONT, then SIGKILL, before the cluster goes;
 * the namespaces and our links vanish with the test (mb_net_free checks).
 */
#include <signal.h>
#include <string.h>
#include <sys/types.h>

#include "e2e-fixture.h"
#include "e2e-net.h"

#define OCTET 216            /* not the partition's (213) nor e2e-shaped's (214) */
#define PREFIX "mbst"
#define RATE "16mbit"
#define FILE_NAME "stall.bin"
#define FILE_SIZE (32u * 1024 * 1024)
#define R 3
#define FETCHER 4            /* peer5 */
#define CLIENT N_PEERS       /* the client's namespace */
#define CLIENT_HTTP 5101
#define CLIENT_WIRE 6101
#define STOP_FRACTION 5      /* stop the client once 1/5 of what peer5 lacked is in */
#define BOUND_S 28
#define FETCH_MS 150000

typedef struct {
  Cluster *c;
  MbNet *net;
  Proc *client;
  gchar *client_url, *client_wire, *client_dir, *client_log;
  gboolean stopped;
  gint64 t_stop;
  gint64 t_stalled;          /* when /status first showed its connection stalled, 0: never */
  gint64 chunks_start;       /* chunks peer5 held at the first look, -1: none yet */
  gint64 chunks_done, chunks_total;
  gint64 client_reqs;        /* peer5's requests out to the client at the last look */
} Stall;

static pid_t
proc_pid (Proc *p)
{
  const char *id = g_subprocess_get_identifier (p->proc);
  return id != NULL ? (pid_t) g_ascii_strtoll (id, NULL, 10) : 0;
}

static gboolean
client_spawn (Stall *s)
{
  Cluster *c = s->c;
  s->client_dir = g_build_filename (c->root, "client1", NULL);
  s->client_log = g_build_filename (c->root, "client1.log", NULL);
  s->client_url = g_strdup_printf ("http://%s:%u", s->net->host[CLIENT], CLIENT_HTTP);
  s->client_wire = g_strdup_printf ("%s:%u", s->net->host[CLIENT], CLIENT_WIRE);
  g_autofree gchar *port = g_strdup_printf ("%u", CLIENT_HTTP);
  g_autofree gchar *wport = g_strdup_printf ("%u", CLIENT_WIRE);
  g_autofree gchar *tport = g_strdup_printf ("%u", c->tracker_port);
  const char *argv[] = { "minibit-peer", "--client", "--self-id", "client1",
                         "--host", s->net->host[CLIENT], "--port", port, "--wire-port", wport,
                         "--data-dir", s->client_dir, "--tracker-host", c->tracker_host,
                         "--tracker-port", tport, "--cluster-secret-file", c->secret_file,
                         NULL };
  const char *env[] = { "MINIBIT_TOKEN", MB_NET_TOKEN, NULL };
  g_autoptr (GError) err = NULL;
  s->client = mb_proc_spawn_in ("client1", argv, env, s->client_log, s->net->ns[CLIENT], &err);
  CHECKF (s->client != NULL, "cannot start the client: %s", err->message);
  gint64 t0 = g_get_monotonic_time ();
  for (;;)
    {
      g_autofree gchar *url = g_strconcat (s->client_url, "/ping", NULL);
      g_autoptr (Reply) r = mb_http_bearer (c->http, "GET", url, NULL, -1, MB_NET_TOKEN);
      if (r->status == 200)
        return TRUE;
      CHECKF (!s->client->exited, "the client exited at start (see %s)", s->client_log);
      CHECKF (g_get_monotonic_time () - t0 < 20 * G_USEC_PER_SEC,
              "the client does not answer /ping within 20 s");
      mb_pump (200);
    }
}

/* The fetch's progress and peer5's requests out to the client (from its
 * /status); once far enough, SIGSTOP to the client. */
static void
look (gpointer data)
{
  Stall *s = data;
  Cluster *c = s->c;
  g_autoptr (Reply) r = mb_peer_http (c, FETCHER, FALSE, "GET", "/status", NULL);
  JsonObject *o = r->status == 200 ? mb_obj (r) : NULL;
  if (o == NULL)
    return;
  JsonArray *tr = json_object_get_array_member (o, "transfers");
  for (guint k = 0; tr != NULL && k < json_array_get_length (tr); k++)
    {
      JsonObject *t = json_array_get_object_element (tr, k);
      if (g_strcmp0 (json_object_get_string_member_with_default (t, "kind", ""), "fetch") == 0)
        {
          s->chunks_done = json_object_get_int_member_with_default (t, "chunks_done", 0);
          s->chunks_total = json_object_get_int_member_with_default (t, "chunks_total", 0);
        }
    }
  JsonArray *sws = json_object_get_array_member (o, "swarms");
  s->client_reqs = 0;
  for (guint k = 0; sws != NULL && k < json_array_get_length (sws); k++)
    {
      JsonObject *sw = json_array_get_object_element (sws, k);
      JsonArray *conns = json_object_get_array_member (sw, "connections");
      for (guint j = 0; conns != NULL && j < json_array_get_length (conns); j++)
        {
          JsonObject *cn = json_array_get_object_element (conns, j);
          if (g_strcmp0 (json_object_get_string_member_with_default (cn, "addr", ""),
                         s->client_wire) != 0)
            continue;
          s->client_reqs = json_object_get_int_member_with_default (cn, "requests_out", 0);
          if (s->stopped && s->t_stalled == 0
              && json_object_get_boolean_member_with_default (cn, "stalled", FALSE))
            s->t_stalled = g_get_monotonic_time ();
        }
    }
  if (s->chunks_start < 0 && s->chunks_total > 0)
    s->chunks_start = s->chunks_done;
  if (s->stopped || s->chunks_total == 0 || s->client_reqs == 0
      || (s->chunks_done - s->chunks_start) * STOP_FRACTION < s->chunks_total - s->chunks_start)
    return;
  pid_t pid = proc_pid (s->client);
  if (pid <= 0 || kill (pid, SIGSTOP) != 0)
    return;
  s->stopped = TRUE;
  s->t_stop = g_get_monotonic_time ();
  g_test_message ("SIGSTOP to client1 (pid %d) with %" G_GINT64_FORMAT " requests of peer5 out "
                  "to it, at %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT " chunks (%" G_GINT64_FORMAT
                  " held at the start)", (int) pid, s->client_reqs, s->chunks_done,
                  s->chunks_total, s->chunks_start);
}

static gboolean
run (Stall *s)
{
  Cluster *c = s->c;
  g_autofree gchar *sha = mb_random_file (c->peers[0].dir, FILE_NAME, FILE_SIZE, 77);
  /* stored before the links are shaped: at 16 Mbit/s peer1's R x 32 MiB of
   * copies keep its uplink full for about 40 s, and the fixture's 300 ms
   * failure detector (pongs held back by the kernel's socket buffers) takes
   * it for crashed meanwhile (not what is tested here; e2e-slow-store is) */
  CHECK (mb_store (c, 0, FILE_NAME, NULL));
  CHECK (client_spawn (s));
  {
    g_autofree gchar *url = g_strconcat (s->client_url, "/fetch_file", NULL);
    g_autoptr (Reply) r = mb_http_bearer (c->http_slow, "POST", url,
                                          "{\"filename\": \"" FILE_NAME "\"}", -1, MB_NET_TOKEN);
    g_autofree gchar *text = mb_body_text (r);
    g_test_message ("fetch_file at client1 (unshaped): %s", text);
    CHECK_REPLY (r, 200, "success");
  }
  g_autoptr (GError) err = NULL;
  CHECKF (mb_net_shape (s->net, RATE, &err), "cannot shape the links: %s", err->message);
  guint at[] = { FETCHER };
  Reply *r[1] = { NULL };
  gint64 t0 = g_get_monotonic_time ();
  gboolean answered = mb_post_many_while (c, at, 1, "/fetch_file",
                                          "{\"filename\": \"" FILE_NAME "\"}", FETCH_MS, r,
                                          look, s);
  gint64 t1 = g_get_monotonic_time ();
  g_autoptr (Reply) reply = r[0];
  g_autofree gchar *text = mb_body_text (reply);
  double after = s->stopped ? (t1 - s->t_stop) / 1e6 : 0.0;
  g_test_message ("fetch_file at %s: %.2f s (%.2f s after the stop), %s", c->peers[FETCHER].id,
                  (t1 - t0) / 1e6, after, text);
  CHECKF (s->stopped, "the client was not stopped: at the last look %" G_GINT64_FORMAT "/%"
          G_GINT64_FORMAT " chunks, %" G_GINT64_FORMAT " requests out to it", s->chunks_done,
          s->chunks_total, s->client_reqs);
  if (!answered)
    {
      /* what peer5's swarm looks like then (the failure's story) */
      g_autoptr (Reply) st = mb_peer_http (c, FETCHER, FALSE, "GET", "/status", NULL);
      gsize n = 0;
      const char *body = st->body ? g_bytes_get_data (st->body, &n) : "";
      g_test_message ("%s's /status: %.*s", c->peers[FETCHER].id, (int) MIN (n, 20000), body);
    }
  CHECKF (answered, "the fetch did not answer within %u ms (%.1f s after the stop): the "
          "swarm waits on the stopped client", FETCH_MS, after);
  CHECK_REPLY (reply, 200, "success");
  g_autofree gchar *path = g_build_filename (c->peers[FETCHER].dir, "downloads", FILE_NAME,
                                             NULL);
  g_autofree gchar *got = mb_file_sha (path);
  CHECKF (g_strcmp0 (got, sha) == 0, "%s has SHA-256 %s, want %s", path, got, sha);
  CHECKF (after < BOUND_S, "the fetch took %.1f s after the stop (bound %d s)", after, BOUND_S);
  gint64 stalls = mb_metric_at (c, FETCHER, "minibit_swarm_stalls_total");
  gint64 timed_out = mb_metric_at (c, FETCHER, "minibit_swarm_requests_timed_out_total");
  g_autofree gchar *seen = s->t_stalled
                             ? g_strdup_printf ("%.1f s after the stop",
                                                (s->t_stalled - s->t_stop) / 1e6)
                             : g_strdup ("never (the fetch ended before a look saw it)");
  g_test_message ("at %s: stalls %" G_GINT64_FORMAT ", requests timed out %" G_GINT64_FORMAT
                  "; /status showed the connection stalled %s", c->peers[FETCHER].id, stalls,
                  timed_out, seen);
  CHECKF (stalls >= 1 && timed_out >= 1, "stalls %" G_GINT64_FORMAT ", requests timed out %"
          G_GINT64_FORMAT, stalls, timed_out);
  return TRUE;
}

static void
test_stall (void)
{
  MbNet net;
  MbNetConfig cfg = { .peers = N_PEERS + 1, .octet = OCTET, .prefix = PREFIX };
  mb_net_start_with (&net, &cfg);
  if (!net.up)
    {
      g_autofree gchar *why = g_strdup_printf ("no namespaces: %s", net.why);
      mb_net_free (&net);
      g_test_skip (why);
      return;
    }
  MbClusterNet cn = { .tracker_host = net.tracker, .tracker_netns = net.ns[MB_NET_HUB (&net)],
                      .token = MB_NET_TOKEN };
  for (guint i = 0; i < N_PEERS; i++)
    {
      cn.peer_host[i] = net.host[i];
      cn.peer_netns[i] = net.ns[i];
    }
  Stall s = { .net = &net, .chunks_start = -1 };
  s.c = mb_cluster_start_net (R, E2E_SECRET, &cn);
  if (s.c != NULL)
    {
      gboolean ok = run (&s);
      if (s.client != NULL)
        {
          if (s.stopped)
            kill (proc_pid (s.client), SIGCONT);
          if (!ok || g_test_failed ())
            mb_log_tail ("client1", s.client_log);
          mb_proc_kill (s.client);
        }
      mb_cluster_free (s.c, !ok || g_test_failed ());
    }
  g_free (s.client_url);
  g_free (s.client_wire);
  g_free (s.client_dir);
  g_free (s.client_log);
  if (!mb_net_free (&net))
    g_test_fail_printf ("links of the test's network are left");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/e2e/stall/stopped-source-times-out", test_stall);
  return g_test_run ();
}
