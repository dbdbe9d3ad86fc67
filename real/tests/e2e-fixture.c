/* e2e-fixture.c — the end-to-end tests' cluster: checks that fail a test
 * without aborting it, child processes, and a tracker with N_PEERS peers
 * started on free loopback ports and torn down again.  See e2e-fixture.h.
 *
 * Invariants: every wait has a deadline; a child gets SIGKILL if this
 * process dies (PR_SET_PDEATHSIG); mb_cluster_free kills and reaps every
 * child still running and removes the cluster's directory (kept only when
 * the test failed and MINIBIT_E2E_KEEP is set, or always when it is
 * "always"), whatever state the test
 * left the cluster in.
 */
#include "e2e-fixture.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sched.h>
#include <sys/prctl.h>
#include <unistd.h>
#endif

#define READY_MS 20000
#define LOG_TAIL_LINES 25

/* ---- checks that fail the test without aborting it ----------------------- */

static GPtrArray *fails;   /* gchar*: every failed check's message */
G_LOCK_DEFINE_STATIC (fails);

static void
fails_at_exit (void)
{
  mb_fail_recap ();
}

void
mb_fail (const char *file, int line, const char *cond, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree gchar *what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  const char *base = strrchr (file, '/');
  g_autofree gchar *msg = g_strdup_printf ("%s:%d: check failed: %s%s%s", base ? base + 1 : file,
                                           line, cond, *what ? ": " : "", what);
  g_test_fail_printf ("%s", msg);
  /* stderr too, at once and again at the end: a CI log often shows only
   * the tail of a long test's stderr, where the TAP line is not */
  g_printerr ("# CHECK FAILED %s\n", msg);
  G_LOCK (fails);
  if (fails == NULL)
    {
      fails = g_ptr_array_new_with_free_func (g_free);
      atexit (fails_at_exit);
    }
  g_ptr_array_add (fails, g_steal_pointer (&msg));
  G_UNLOCK (fails);
}

/* Prints every failed check again (to stderr); the count. */
guint
mb_fail_recap (void)
{
  G_LOCK (fails);
  guint n = fails != NULL ? fails->len : 0;
  for (guint i = 0; i < n; i++)
    g_printerr ("# CHECK FAILED (recap %u of %u) %s\n", i + 1, n, (char *) fails->pdata[i]);
  G_UNLOCK (fails);
  return n;
}

double
mb_secs_since (gint64 t0)
{
  return (double) (g_get_monotonic_time () - t0) / G_USEC_PER_SEC;
}

/* Runs the default main context (child watches) for about ms. */
void
mb_pump (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  do
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      if (g_get_monotonic_time () < end)
        g_usleep (MIN (5000, MAX (0, end - g_get_monotonic_time ())));
    }
  while (g_get_monotonic_time () < end);
}

/* ---- processes ------------------------------------------------------------ */

/* data: the network namespace's fd + 1 (0: stay in ours).  A child that
 * cannot enter it exits at once (126) rather than run in the wrong one. */
static void
mb_child_setup (gpointer data)
{
#ifdef __linux__
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  int netns = GPOINTER_TO_INT (data) - 1;
  if (netns >= 0 && setns (netns, CLONE_NEWNET) != 0)
    _exit (126);
#endif
}

static void
mb_on_exit (GObject *src, GAsyncResult *res, gpointer data)
{
  Proc *p = data;
  g_subprocess_wait_finish (G_SUBPROCESS (src), res, NULL);
  p->exited = TRUE;
}

static gchar *
mb_binary (const char *name)
{
  const char *root = g_getenv ("MINIBIT_BUILD_ROOT");
  if (root == NULL)
    return NULL;
  gchar *path = g_build_filename (root, "real", name, NULL);
  if (!g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
    g_clear_pointer (&path, g_free);
  return path;
}

/* Starts argv[0] (a binary's name) with stdout and stderr going to log,
 * and the cluster secret in its environment if `secret`. */
static Proc *
mb_spawn (const char *name, const char *const *argv, const char *log, const char *secret,
          int netns, GError **error)
{
  const char *env[] = { "MINIBIT_CLUSTER_SECRET", secret, NULL };
  return mb_proc_spawn_in (name, argv, secret != NULL ? env : NULL, log, netns, error);
}

Proc *
mb_proc_spawn (const char *name, const char *const *argv, const char *const *env,
               const char *log, GError **error)
{
  return mb_proc_spawn_in (name, argv, env, log, -1, error);
}

Proc *
mb_proc_spawn_in (const char *name, const char *const *argv, const char *const *env,
                  const char *log, int netns, GError **error)
{
#ifndef __linux__
  if (netns >= 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "network namespaces are Linux's");
      return NULL;
    }
#endif
  g_autofree gchar *bin = mb_binary (argv[0]);
  if (bin == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "%s not found under $MINIBIT_BUILD_ROOT/real", argv[0]);
      return NULL;
    }
  g_autoptr (GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_child_setup (l, mb_child_setup, GINT_TO_POINTER (MAX (netns, -1) + 1),
                                         NULL);
  g_subprocess_launcher_set_stdout_file_path (l, log);
  g_subprocess_launcher_setenv (l, "G_MESSAGES_DEBUG", "all", TRUE);
  /* no secret from the test's own environment: only the one given */
  g_subprocess_launcher_unsetenv (l, "MINIBIT_CLUSTER_SECRET");
  for (guint i = 0; env != NULL && env[i] != NULL && env[i + 1] != NULL; i += 2)
    g_subprocess_launcher_setenv (l, env[i], env[i + 1], TRUE);
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_ptr_array_add (args, bin);
  for (guint i = 1; argv[i] != NULL; i++)
    g_ptr_array_add (args, (gpointer) argv[i]);
  g_ptr_array_add (args, NULL);
  GSubprocess *sp = g_subprocess_launcher_spawnv (l, (const char *const *) args->pdata, error);
  if (sp == NULL)
    return NULL;
  Proc *p = g_new0 (Proc, 1);
  p->proc = sp;
  p->name = g_strdup (name);
  g_subprocess_wait_async (sp, NULL, mb_on_exit, p);
  return p;
}

gboolean
mb_wait_exit (Proc *p, guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  while (!p->exited && g_get_monotonic_time () < end)
    mb_pump (10);
  return p->exited;
}

/* SIGKILL if still running, reap; frees p unless it would not die (then it
 * is leaked: its wait callback still points at it). */
void
mb_proc_kill (Proc *p)
{
  if (p == NULL)
    return;
  if (!p->exited)
    g_subprocess_force_exit (p->proc);
  if (!mb_wait_exit (p, 10000))
    {
      g_printerr ("# %s did not exit after SIGKILL\n", p->name);
      return;
    }
  g_object_unref (p->proc);
  g_free (p->name);
  g_free (p);
}

/* ---- the cluster ---------------------------------------------------------- */

GSocket *
mb_bind (guint16 port)
{
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                             G_SOCKET_PROTOCOL_TCP, NULL);
  if (s == NULL)
    return NULL;
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) sa = g_inet_socket_address_new (lo, port);
  if (!g_socket_bind (s, sa, FALSE, NULL))
    {
      g_object_unref (s);
      return NULL;
    }
  return s;
}

guint16
mb_bound_port (GSocket *s)
{
  g_autoptr (GSocketAddress) sa = g_socket_get_local_address (s, NULL);
  return sa ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sa)) : 0;
}

gboolean
mb_pick_ports_for (guint16 *tracker_port, guint n, guint16 *http, guint16 *wire)
{
  /* every socket stays bound until all are picked, so they are distinct */
  g_autoptr (GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  gboolean pair = FALSE;
  for (guint tries = 0; tries < 100 && !pair; tries++)
    {
      GSocket *s = mb_bind (0);
      if (s == NULL)
        return FALSE;
      g_ptr_array_add (held, s);
      guint16 p = mb_bound_port (s);
      GSocket *s1 = p > 0 && p < 65535 ? mb_bind ((guint16) (p + 1)) : NULL;
      if (s1 != NULL)
        {
          g_ptr_array_add (held, s1);
          *tracker_port = p;
          pair = TRUE;
        }
    }
  if (!pair)
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      GSocket *a = mb_bind (0), *b = mb_bind (0);
      if (a == NULL || b == NULL)
        {
          g_clear_object (&a);
          g_clear_object (&b);
          return FALSE;
        }
      http[i] = mb_bound_port (a);
      wire[i] = mb_bound_port (b);
      g_ptr_array_add (held, a);
      g_ptr_array_add (held, b);
    }
  for (guint i = 0; i < held->len; i++)
    g_socket_close (held->pdata[i], NULL);
  return TRUE;
}

/* The tracker's HTTP port P with P + 1 free as well (its wire port), and
 * 2 * N_PEERS more, all distinct. */
static gboolean
mb_pick_ports (Cluster *c)
{
  guint16 http[N_PEERS], wire[N_PEERS];
  if (!mb_pick_ports_for (&c->tracker_port, N_PEERS, http, wire))
    return FALSE;
  for (guint i = 0; i < N_PEERS; i++)
    {
      c->peers[i].http_port = http[i];
      c->peers[i].wire_port = wire[i];
    }
  return TRUE;
}

void
mb_rm_rf (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      GDir *d = g_dir_open (path, 0, NULL);
      const char *name;
      while (d != NULL && (name = g_dir_read_name (d)) != NULL)
        {
          g_autofree gchar *child = g_build_filename (path, name, NULL);
          mb_rm_rf (child);
        }
      if (d != NULL)
        g_dir_close (d);
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

/* Lines of a log worth showing: not GIO's debugging, nor the 404s of this
 * test's own polling for chunks. */
static gboolean
mb_log_line_shown (const char *line)
{
  return *line && strstr (line, "GLib-GIO-DEBUG") == NULL
         && strstr (line, "http: GET /get_chunk/") == NULL;
}

/* Every warning and critical of a log, then its last LOG_TAIL_LINES lines. */
void
mb_log_tail (const char *name, const char *path)
{
  g_autofree gchar *text = NULL;
  if (path == NULL || !g_file_get_contents (path, &text, NULL, NULL))
    {
      g_test_message ("---- %s: no log", name);
      return;
    }
  g_auto (GStrv) v = g_strsplit (text, "\n", -1);
  g_autoptr (GPtrArray) shown = g_ptr_array_new ();
  guint warnings = 0;
  for (guint i = 0; v[i] != NULL; i++)
    if (mb_log_line_shown (v[i]))
      {
        g_ptr_array_add (shown, v[i]);
        if ((strstr (v[i], "WARNING") || strstr (v[i], "CRITICAL")) && warnings++ < 20)
          g_test_message ("  %s| (warning) %s", name, v[i]);
      }
  g_test_message ("---- %s: %u warnings; last lines of %s:", name, warnings, path);
  for (guint i = shown->len > LOG_TAIL_LINES ? shown->len - LOG_TAIL_LINES : 0; i < shown->len; i++)
    g_test_message ("  %s| %s", name, (const char *) shown->pdata[i]);
}

static void
mb_cluster_dump (Cluster *c)
{
  mb_log_tail ("tracker", c->tracker_log);
  for (guint i = 0; i < N_PEERS; i++)
    mb_log_tail (c->peers[i].id ? c->peers[i].id : "peer", c->peers[i].log);
}

/* Kills what runs, removes the directory, frees c (NULL is fine). */
void
mb_cluster_free (Cluster *c, gboolean dump)
{
  if (c == NULL)
    return;
  if (dump)
    mb_cluster_dump (c);
  for (guint i = 0; i < N_PEERS; i++)
    {
      Peer *p = &c->peers[i];
      mb_proc_kill (p->proc);
      g_free (p->id);
      g_free (p->dir);
      g_free (p->log);
      g_free (p->url);
      g_free (p->wire);
      g_free (p->host);
    }
  mb_proc_kill (c->tracker);
  const char *keep = g_getenv ("MINIBIT_E2E_KEEP");
  if (c->root != NULL && keep != NULL && (dump || g_strcmp0 (keep, "always") == 0))
    g_test_message ("MINIBIT_E2E_KEEP is set: %s is left in place", c->root);
  else if (c->root != NULL)
    mb_rm_rf (c->root);
  g_clear_object (&c->http);
  g_clear_object (&c->http_slow);
  g_clear_pointer (&c->stored, g_ptr_array_unref);
  g_free (c->tracker_log);
  g_free (c->tracker_host);
  g_free (c->token);
  g_free (c->root);
  g_free (c->secret);
  g_free (c->secret_file);
  g_free (c);
}

gint
mb_peer_by_wire (Cluster *c, const char *wire)
{
  for (guint i = 0; i < N_PEERS; i++)
    if (g_strcmp0 (c->peers[i].wire, wire) == 0)
      return (gint) i;
  return -1;
}

gboolean
mb_alive (Cluster *c, guint i)
{
  return c->peers[i].proc != NULL && !c->peers[i].proc->exited;
}

/* ---- starting a cluster ----------------------------------------------------- */

/* Starts peer i on its ports and DATA_DIR (p->dir), knowing every peer of
 * the cluster, with the cluster's replication and secret file. */
static Proc *
mb_peer_spawn (Cluster *c, guint i, GError **error)
{
  Peer *p = &c->peers[i];
  GString *known = g_string_new (NULL);
  for (guint k = 0; k < N_PEERS; k++)
    g_string_append_printf (known, "%s%s:%u", k ? "," : "", c->peers[k].host, c->peers[k].wire_port);
  g_autofree gchar *known_s = g_string_free (known, FALSE);
  g_autofree gchar *tport = g_strdup_printf ("%u", c->tracker_port);
  g_autofree gchar *repl = g_strdup_printf ("%u", c->replication);
  g_autofree gchar *port = g_strdup_printf ("%u", p->http_port);
  g_autofree gchar *wport = g_strdup_printf ("%u", p->wire_port);
  g_autofree gchar *ping = g_strdup_printf ("%u", c->ping_ms);
  const char *argv[] = { "minibit-peer", "--port", port, "--wire-port", wport,
                         "--data-dir", p->dir, "--self-id", p->id,
                         "--known-peers", known_s, "--tracker-port", tport,
                         "--replication", repl, "--ping-ms", ping,
                         "--ping-misses", "3", "--host", p->host,
                         "--tracker-host", c->tracker_host,
                         c->secret_file != NULL ? "--cluster-secret-file" : NULL,
                         c->secret_file, NULL };
  const char *env[] = { "MINIBIT_TOKEN", c->token, NULL };
  return mb_proc_spawn_in (p->id, argv, c->token != NULL ? env : NULL, p->log, p->netns, error);
}

static gboolean
mb_cluster_spawn (Cluster *c, const char *const *dirs, GError **error)
{
  g_autofree gchar *tport = g_strdup_printf ("%u", c->tracker_port);
  g_autofree gchar *twire = g_strdup_printf ("%u", c->tracker_port + 1);
  c->tracker_log = g_build_filename (c->root, "tracker.log", NULL);
  const char *targv[] = { "minibit-tracker", "--host", c->tracker_host, "--port", tport,
                          "--wire-port", twire, NULL };
  c->tracker = mb_spawn ("tracker", targv, c->tracker_log, c->secret, c->tracker_netns, error);
  if (c->tracker == NULL)
    return FALSE;
  for (guint i = 0; i < N_PEERS; i++)
    {
      Peer *p = &c->peers[i];
      p->id = g_strdup_printf ("peer%u", i + 1);
      p->dir = dirs && dirs[i] ? g_strdup (dirs[i]) : g_build_filename (c->root, p->id, NULL);
      g_autofree gchar *log_name = g_strconcat (p->id, ".log", NULL);
      p->log = g_build_filename (c->root, log_name, NULL);
      p->url = g_strdup_printf ("http://%s:%u", p->host, p->http_port);
      p->wire = g_strdup_printf ("%s:%u", p->host, p->wire_port);
      g_mkdir_with_parents (p->dir, 0700);
    }
  if (c->secret != NULL)
    {
      c->secret_file = g_build_filename (c->root, "cluster.secret", NULL);
      if (!g_file_set_contents_full (c->secret_file, c->secret, -1, G_FILE_SET_CONTENTS_NONE,
                                     0600, error))
        return FALSE;
    }
  for (guint i = 0; i < N_PEERS; i++)
    {
      c->peers[i].proc = mb_peer_spawn (c, i, error);
      if (c->peers[i].proc == NULL)
        return FALSE;
    }
  return TRUE;
}

/* Every peer answers GET /ping with members == n among the peers alive. */
gboolean
mb_wait_members (Cluster *c, gint64 want, guint ms, gboolean *died)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  for (;;)
    {
      gboolean all = TRUE;
      if (c->tracker->exited && died != NULL)
        {
          *died = TRUE;
          return FALSE;
        }
      for (guint i = 0; i < N_PEERS && all; i++)
        {
          if (!mb_alive (c, i))
            {
              if (died != NULL)
                {
                  *died = TRUE;
                  return FALSE;
                }
              continue;
            }
          g_autoptr (Reply) r = mb_peer_http (c, i, FALSE, "GET", "/ping", NULL);
          all = r->status == 200 && mb_int (r, "members") == want;
        }
      if (all)
        return TRUE;
      if (g_get_monotonic_time () >= end)
        return FALSE;
      mb_pump (50);
    }
}

/* A tracker and N_PEERS peers with replication r, all seeing 5 members;
 * NULL (test failed, logs shown) if that cannot be done. */
static Cluster *mb_cluster_start_any (guint r, const char *secret, const char *const *dirs,
                                      const MbClusterNet *net);

Cluster *
mb_cluster_start (guint r)
{
  return mb_cluster_start_full (r, E2E_SECRET, NULL);
}

Cluster *
mb_cluster_start_with (guint r, const char *secret)
{
  return mb_cluster_start_full (r, secret, NULL);
}

Cluster *
mb_cluster_start_dirs (guint r, const char *const *dirs)
{
  return mb_cluster_start_full (r, E2E_SECRET, dirs);
}

Cluster *
mb_cluster_start_full (guint r, const char *secret, const char *const *dirs)
{
  return mb_cluster_start_any (r, secret, dirs, NULL);
}

Cluster *
mb_cluster_start_net (guint r, const char *secret, const MbClusterNet *net)
{
  return mb_cluster_start_any (r, secret, NULL, net);
}

static Cluster *
mb_cluster_start_any (guint r, const char *secret, const char *const *dirs,
                      const MbClusterNet *net)
{
  for (guint attempt = 1; attempt <= 3; attempt++)
    {
      Cluster *c = g_new0 (Cluster, 1);
      c->tracker_host = g_strdup (net && net->tracker_host ? net->tracker_host : "127.0.0.1");
      c->tracker_netns = net ? net->tracker_netns : -1;
      c->token = net ? g_strdup (net->token) : NULL;
      c->ping_ms = net && net->ping_ms ? net->ping_ms : 300;
      for (guint i = 0; i < N_PEERS; i++)
        {
          c->peers[i].host = g_strdup (net && net->peer_host[i] ? net->peer_host[i] : "127.0.0.1");
          c->peers[i].netns = net ? net->peer_netns[i] : -1;
        }
      c->replication = r;
      c->secret = g_strdup (secret);
      c->stored = g_ptr_array_new_with_free_func (g_free);
      c->http = soup_session_new_with_options ("timeout", 10, "idle-timeout", 10, NULL);
      c->http_slow = soup_session_new_with_options ("timeout", 60, "idle-timeout", 60, NULL);
      g_autoptr (GError) err = NULL;
      c->root = g_dir_make_tmp ("minibit-e2e-XXXXXX", &err);
      if (c->root == NULL || !mb_pick_ports (c))
        {
          g_test_fail_printf ("cannot make a temporary directory or find free ports: %s",
                              err ? err->message : "no ports");
          mb_cluster_free (c, FALSE);
          return NULL;
        }
      gint64 t0 = g_get_monotonic_time ();
      if (!mb_cluster_spawn (c, dirs, &err))
        {
          g_test_fail_printf ("cannot start the cluster: %s", err->message);
          mb_cluster_free (c, TRUE);
          return NULL;
        }
      gboolean died = FALSE;
      if (mb_wait_members (c, N_PEERS, READY_MS, &died))
        {
          g_test_message ("cluster up (R = %u, tracker on %u, %s) in %.2f s", r,
                          c->tracker_port, secret != NULL ? "with a cluster secret"
                                                          : "without a cluster secret",
                          mb_secs_since (t0));
          return c;
        }
      if (died && attempt < 3)
        {
          /* Most likely a port taken meanwhile: try again elsewhere. */
          g_test_message ("a process exited during start-up (attempt %u); retrying", attempt);
          mb_cluster_dump (c);
          mb_cluster_free (c, FALSE);
          continue;
        }
      g_test_fail_printf ("the cluster did not come up within %u ms (every peer answering "
                          "/ping with members == %u)%s", READY_MS, N_PEERS,
                          died ? ": a process exited" : "");
      mb_cluster_free (c, TRUE);
      return NULL;
    }
  return NULL;
}

/* Starts peer i again (after it exited) on the same ports, with its
 * DATA_DIR p->dir (which a test may have moved), its log appended to;
 * TRUE once it answers GET /ping, FALSE (test not failed: the caller
 * decides) if it exits or does not answer within ms. */
gboolean
mb_peer_restart (Cluster *c, guint i, guint ms, GError **error)
{
  Peer *p = &c->peers[i];
  if (p->proc != NULL && !p->proc->exited)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS, "%s is still running", p->id);
      return FALSE;
    }
  mb_proc_kill (g_steal_pointer (&p->proc));
  /* the previous run's log is kept beside the new one */
  g_autofree gchar *old = NULL;
  for (guint n = 1; n < 1000; n++)
    {
      g_free (old);
      old = g_strdup_printf ("%s.%u", p->log, n);
      if (!g_file_test (old, G_FILE_TEST_EXISTS))
        break;
    }
  g_rename (p->log, old);
  p->proc = mb_peer_spawn (c, i, error);
  if (p->proc == NULL)
    return FALSE;
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  while (g_get_monotonic_time () < end)
    {
      if (p->proc->exited)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s exited during start-up", p->id);
          return FALSE;
        }
      g_autoptr (Reply) r = mb_peer_http (c, i, FALSE, "GET", "/ping", NULL);
      if (r->status == 200)
        return TRUE;
      mb_pump (100);
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s does not answer /ping %u ms after "
               "its restart", p->id, ms);
  return FALSE;
}
