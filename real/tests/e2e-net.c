/* e2e-net.c — the namespaces of e2e-net.h: made with unshare(2) in this
 * thread (then back), configured with ip(8), bridge(8) and tc(8) run inside
 * them (setns in the child), each bounded by timeout(1).
 */
#include "e2e-net.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>


static void
mb_net_child_setup (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  int ns = GPOINTER_TO_INT (data) - 1;
  if (ns >= 0 && setns (ns, CLONE_NEWNET) != 0)
    _exit (126);
}

/* BIN ARGS... (NULL-terminated) inside namespace ns (-1: ours), at most
 * 10 s; its output in *out if out is not NULL. */
static gboolean
mb_net_run (const char *bin, int ns, gchar **out, GError **error, va_list ap)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) "timeout");
  g_ptr_array_add (argv, (gpointer) "-k");
  g_ptr_array_add (argv, (gpointer) "2");
  g_ptr_array_add (argv, (gpointer) "10");
  g_ptr_array_add (argv, (gpointer) bin);
  for (const char *a = va_arg (ap, const char *); a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, (gpointer) a);
  g_ptr_array_add (argv, NULL);
  g_autofree gchar *o = NULL, *e = NULL;
  gint status = 0;
  if (!g_spawn_sync (NULL, (gchar **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH, mb_net_child_setup,
                     GINT_TO_POINTER (MAX (ns, -1) + 1), &o, &e, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_autofree gchar *cmd = g_strjoinv (" ", (gchar **) argv->pdata + 4);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s%s: %s", ns >= 0 ? "(in a namespace) " : "",
                   cmd, e != NULL ? g_strstrip (e) : "failed");
      return FALSE;
    }
  if (out != NULL)
    *out = g_steal_pointer (&o);
  return TRUE;
}

/* ip ARGS... (NULL-terminated) inside namespace ns (-1: ours). */
static gboolean
mb_net_ip (MbNet *net, int ns, gchar **out, GError **error, ...)
{
  va_list ap;
  va_start (ap, error);
  gboolean ok = mb_net_run (net->ip, ns, out, error, ap);
  va_end (ap);
  return ok;
}

/* bridge ARGS... (NULL-terminated) inside namespace ns. */
static gboolean
mb_net_bridge (MbNet *net, int ns, GError **error, ...)
{
  va_list ap;
  va_start (ap, error);
  gboolean ok = mb_net_run (net->bridge, ns, NULL, error, ap);
  va_end (ap);
  return ok;
}

/* tc ARGS... (NULL-terminated) inside namespace ns. */
static gboolean
mb_net_tc (const char *tc, int ns, gchar **out, GError **error, ...)
{
  va_list ap;
  va_start (ap, error);
  gboolean ok = mb_net_run (tc, ns, out, error, ap);
  va_end (ap);
  return ok;
}

/* A binary of iproute2, or NULL. */
static gchar *
mb_net_find (const char *name)
{
  gchar *path = g_find_program_in_path (name);
  for (guint k = 0; path == NULL && k < 2; k++)
    {
      gchar *at = g_strconcat (k == 0 ? "/usr/sbin/" : "/sbin/", name, NULL);
      if (g_file_test (at, G_FILE_TEST_IS_EXECUTABLE))
        path = at;
      else
        g_free (at);
    }
  return path;
}

/* A new network namespace (an fd), made in this thread, which then goes
 * back to ours; -1 with *error set. */
static int
mb_net_new_ns (GError **error)
{
  int self = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "/proc/thread-self/ns/net: %s",
                   g_strerror (errno));
      return -1;
    }
  if (unshare (CLONE_NEWNET) != 0)
    {
      int e = errno;
      close (self);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "unshare(CLONE_NEWNET): %s",
                   g_strerror (e));
      return -1;
    }
  int fd = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int e = errno;
  if (setns (self, CLONE_NEWNET) != 0)
    g_error ("cannot go back to the test's network namespace: %s", g_strerror (errno));
  close (self);
  if (fd < 0)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the new namespace: %s", g_strerror (e));
  return fd;
}

/* How ip(8) names namespace fd (ours) from its own process. */
static gchar *
mb_net_ns_path (int fd)
{
  return g_strdup_printf ("/proc/%d/fd/%d", (int) getpid (), fd);
}

static gboolean
mb_net_make (MbNet *net, GError **error)
{
  int pid = (int) getpid ();
  guint o = net->octet;
  for (guint k = 0; k <= net->n; k++)
    if ((net->ns[k] = mb_net_new_ns (error)) < 0)
      return FALSE;
  /* the range must be unused here: nothing of ours may shadow a real route */
  g_autofree gchar *routes = NULL, *addrs = NULL;
  if (!mb_net_ip (net, -1, &routes, error, "-4", "route", "show", "root", net->range, NULL)
      || !mb_net_ip (net, -1, &addrs, error, "-4", "addr", "show", "to", net->range, NULL))
    return FALSE;
  if (*g_strstrip (routes) != '\0' || *g_strstrip (addrs) != '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS, "%s is in use here: %s%s", net->range,
                   routes, addrs);
      return FALSE;
    }
  int hub = net->ns[MB_NET_HUB (net)];
  for (guint k = 0; k <= net->n; k++)
    if (!mb_net_ip (net, net->ns[k], NULL, error, "link", "set", "lo", "up", NULL))
      return FALSE;
  /* A namespace lives on while a closed TCP socket of its processes still
   * retransmits (its FIN into a blocked port, say: about 2 minutes by
   * default); these let such orphans go within seconds, so that the
   * namespaces and their links vanish soon after the test, whatever ends it. */
  for (guint k = 0; k <= net->n; k++)
    if (!mb_net_sysctl (net, k, "net/ipv4/tcp_orphan_retries", "1", error)
        || !mb_net_sysctl (net, k, "net/ipv4/tcp_fin_timeout", "2", error))
      return FALSE;
  g_autofree gchar *hub_addr = g_strdup_printf ("%s/24", net->tracker);
  if (!mb_net_ip (net, hub, NULL, error, "link", "add", "br0", "type", "bridge", NULL)
      || !mb_net_ip (net, hub, NULL, error, "addr", "add", hub_addr, "dev", "br0", NULL)
      || !mb_net_ip (net, hub, NULL, error, "link", "set", "br0", "up", NULL))
    return FALSE;
  for (guint i = 0; i < net->n; i++)
    {
      g_autofree gchar *path = mb_net_ns_path (net->ns[i]);
      g_autofree gchar *port = g_strdup_printf ("r%u", i);
      g_autofree gchar *addr = g_strdup_printf ("10.%u.1.%u/24", o, i + 2);
      g_autofree gchar *cl_root = g_strdup_printf ("10.%u.%u.1/24", o, 10 + i);
      g_autofree gchar *cl_peer = g_strdup_printf ("10.%u.%u.2/24", o, 10 + i);
      g_autofree gchar *via = g_strdup_printf ("10.%u.%u.2", o, 10 + i);
      net->host[i] = g_strdup_printf ("10.%u.1.%u", o, i + 2);
      g_autofree gchar *host32 = g_strdup_printf ("%s/32", net->host[i]);
      g_autofree gchar *link = g_strdup_printf ("%s-%d-c%u", net->prefix, pid, i);
      if (strlen (link) > 15)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "the link name %s is longer than 15 characters", link);
          return FALSE;
        }
      if (!mb_net_ip (net, hub, NULL, error, "link", "add", port, "type", "veth", "peer", "name",
                   "eth0", "netns", path, NULL)
          || !mb_net_ip (net, hub, NULL, error, "link", "set", port, "master", "br0", NULL)
          || !mb_net_ip (net, hub, NULL, error, "link", "set", port, "up", NULL)
          || !mb_net_ip (net, net->ns[i], NULL, error, "addr", "add", addr, "dev", "eth0", NULL)
          || !mb_net_ip (net, net->ns[i], NULL, error, "link", "set", "eth0", "up", NULL))
        return FALSE;
      if (!mb_net_ip (net, -1, NULL, error, "link", "add", link, "type", "veth", "peer", "name",
                   "cl0", "netns", path, NULL))
        return FALSE;
      net->link[i] = g_steal_pointer (&link);
      if (!mb_net_ip (net, -1, NULL, error, "addr", "add", cl_root, "dev", net->link[i], NULL)
          || !mb_net_ip (net, net->ns[i], NULL, error, "addr", "add", cl_peer, "dev", "cl0", NULL)
          || !mb_net_ip (net, net->ns[i], NULL, error, "link", "set", "cl0", "up", NULL)
          || !mb_net_ip (net, -1, NULL, error, "link", "set", net->link[i], "up", NULL))
        return FALSE;
      /* (no traffic for the range is sent before this route is there) */
      if (i == 0
          && !mb_net_ip (net, -1, NULL, error, "route", "add", net->range, "dev", net->link[0],
                      NULL))
        return FALSE;
      if (!mb_net_ip (net, -1, NULL, error, "route", "add", host32, "via", via, "dev",
                   net->link[i], NULL))
        return FALSE;
    }
  /* every peer's address goes out on its own link, and nothing of the range elsewhere */
  for (guint i = 0; i <= net->n; i++)
    {
      const char *to = i < net->n ? net->host[i] : net->tracker;
      const char *want = net->link[i < net->n ? i : 0];
      g_autofree gchar *got = NULL;
      if (!mb_net_ip (net, -1, &got, error, "-4", "route", "get", to, NULL))
        return FALSE;
      g_autofree gchar *dev = g_strdup_printf (" dev %s ", want);
      if (strstr (got, dev) == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s is routed %s, not through %s", to,
                       g_strstrip (got), want);
          return FALSE;
        }
    }
  return TRUE;
}

/* Deletes our links, closes the namespaces (the processes in them must be
 * gone), and checks no link of ours is left; FALSE if one is. */
gboolean
mb_net_free (MbNet *net)
{
  gboolean clean = TRUE;
  for (guint k = 0; k <= MB_NET_MAX_PEERS; k++)
    if (net->ns[k] >= 0)
      {
        close (net->ns[k]);
        net->ns[k] = -1;
      }
  for (guint i = 0; i < MB_NET_MAX_PEERS; i++)
    {
      if (net->link[i] == NULL)
        continue;
      g_autofree gchar *sys = g_strconcat ("/sys/class/net/", net->link[i], NULL);
      if (g_file_test (sys, G_FILE_TEST_EXISTS))
        mb_net_ip (net, -1, NULL, NULL, "link", "del", net->link[i], NULL);
      for (guint t = 0; t < 50 && g_file_test (sys, G_FILE_TEST_EXISTS); t++)
        g_usleep (100000);
      if (g_file_test (sys, G_FILE_TEST_EXISTS))
        {
          g_test_message ("net: the link %s is still there", net->link[i]);
          clean = FALSE;
        }
      g_clear_pointer (&net->link[i], g_free);
    }
  for (guint i = 0; i < MB_NET_MAX_PEERS; i++)
    g_clear_pointer (&net->host[i], g_free);
  g_clear_pointer (&net->range, g_free);
  g_clear_pointer (&net->tracker, g_free);
  g_clear_pointer (&net->prefix, g_free);
  g_clear_pointer (&net->ip, g_free);
  g_clear_pointer (&net->bridge, g_free);
  g_clear_pointer (&net->why, g_free);
  net->up = FALSE;
  return clean;
}

/* The namespaces for the cluster, or net->why (net->up FALSE, nothing left
 * made) when they cannot be had. */
void
mb_net_start (MbNet *net)
{
  mb_net_start_with (net, NULL);
}

void
mb_net_start_with (MbNet *net, const MbNetConfig *cfg)
{
  memset (net, 0, sizeof *net);
  for (guint k = 0; k <= MB_NET_MAX_PEERS; k++)
    net->ns[k] = -1;
  net->n = cfg && cfg->peers ? cfg->peers : N_PEERS;
  net->octet = cfg && cfg->octet ? cfg->octet : 213;
  net->prefix = g_strdup (cfg && cfg->prefix ? cfg->prefix : "mbn");
  if (net->n > MB_NET_MAX_PEERS || net->octet > 254 || *net->prefix == '\0'
      || strlen (net->prefix) > 4)
    {
      net->why = g_strdup_printf ("a bad configuration: %u peers (at most %d), 10.%u.0.0/16, "
                                  "prefix \"%s\" (1-4 characters)", net->n, MB_NET_MAX_PEERS,
                                  net->octet, net->prefix);
      return;
    }
  net->range = g_strdup_printf ("10.%u.0.0/16", net->octet);
  net->tracker = g_strdup_printf ("10.%u.1.1", net->octet);
  if (geteuid () != 0)
    {
      net->why = g_strdup ("network namespaces need root");
      return;
    }
  net->ip = mb_net_find ("ip");
  net->bridge = mb_net_find ("bridge");
  if (net->ip == NULL || net->bridge == NULL)
    {
      net->why = g_strdup ("ip(8) or bridge(8) (iproute2) is not installed");
      g_clear_pointer (&net->ip, g_free);
      g_clear_pointer (&net->bridge, g_free);
      return;
    }
  g_autoptr (GError) err = NULL;
  gint64 t0 = g_get_monotonic_time ();
  if (mb_net_make (net, &err))
    {
      net->up = TRUE;
      g_test_message ("net: %u namespaces (a hub with a bridge and the tracker at %s, "
                      "a peer in each at %s-%u) and %u links of ours (%s-%d-c*) made in %.2f s",
                      net->n + 1, net->tracker, net->host[0], net->n + 1, net->n, net->prefix,
                      (int) getpid (), mb_secs_since (t0));
      return;
    }
  gchar *why = g_strdup_printf ("cannot make the namespaces: %s", err->message);
  guint n = net->n, octet = net->octet;
  gchar *prefix = g_strdup (net->prefix);
  mb_net_free (net);
  for (guint k = 0; k <= MB_NET_MAX_PEERS; k++)
    net->ns[k] = -1;
  net->n = n;
  net->octet = octet;
  net->prefix = prefix;
  net->why = why;
}

/* Blocks (cut) or opens again peer i's port on the hub's bridge. */
gboolean
mb_net_cut (MbNet *net, guint i, gboolean cut, GError **error)
{
  g_autofree gchar *port = g_strdup_printf ("r%u", i);
  g_autofree gchar *shown = NULL;
  if (!mb_net_bridge (net, net->ns[MB_NET_HUB (net)], error, "link", "set", "dev", port, "state",
                   cut ? "0" : "3", NULL)
      || !mb_net_ip (net, net->ns[MB_NET_HUB (net)], &shown, error, "-d", "link", "show", "dev", port, NULL))
    return FALSE;
  /* the port's state, as the kernel has it now */
  const char *want = cut ? " state disabled " : " state forwarding ";
  if (strstr (shown, want) == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the bridge port %s is not in%s: %s",
                   port, want, shown);
      return FALSE;
    }
  return TRUE;
}

Cluster *
mb_net_cluster_start (MbNet *net, guint r)
{
  return mb_net_cluster_start_ping (net, r, 0);
}

Cluster *
mb_net_cluster_start_ping (MbNet *net, guint r, guint ping_ms)
{
  g_return_val_if_fail (net->up && net->n == N_PEERS, NULL);
  MbClusterNet cn = { .tracker_host = net->tracker, .tracker_netns = net->ns[MB_NET_HUB (net)],
                      .token = MB_NET_TOKEN, .ping_ms = ping_ms };
  for (guint i = 0; i < N_PEERS; i++)
    {
      cn.peer_host[i] = net->host[i];
      cn.peer_netns[i] = net->ns[i];
    }
  return mb_cluster_start_net (r, E2E_SECRET, &cn);
}

/* tc qdisc add dev DEV root tbf ... in namespace ns, then checks tc shows it. */
static gboolean
mb_net_shape_dev (MbNet *net, const char *tc, int ns, const char *dev, const char *rate,
                  GError **error)
{
  g_autofree gchar *shown = NULL;
  if (!mb_net_tc (tc, ns, NULL, error, "qdisc", "add", "dev", dev, "root", "tbf", "rate", rate,
                  "burst", "32kbit", "latency", "50ms", NULL)
      || !mb_net_tc (tc, ns, &shown, error, "qdisc", "show", "dev", dev, "root", NULL))
    return FALSE;
  if (strstr (shown, "qdisc tbf ") == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "no tbf qdisc on %s: %s", dev,
                   g_strstrip (shown));
      return FALSE;
    }
  return TRUE;
}

gboolean
mb_net_shape (MbNet *net, const char *rate, GError **error)
{
  g_return_val_if_fail (net->up, FALSE);
  g_autofree gchar *tc = mb_net_find ("tc");
  if (tc == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "tc(8) (iproute2) is not installed");
      return FALSE;
    }
  for (guint i = 0; i < net->n; i++)
    {
      g_autofree gchar *port = g_strdup_printf ("r%u", i);
      if (!mb_net_shape_dev (net, tc, net->ns[i], "eth0", rate, error)
          || !mb_net_shape_dev (net, tc, net->ns[MB_NET_HUB (net)], port, rate, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
mb_net_sysctl (MbNet *net, guint k, const char *path, const char *value, GError **error)
{
  g_return_val_if_fail (k <= MB_NET_HUB (net) && net->ns[k] >= 0, FALSE);
  int self = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0 || setns (net->ns[k], CLONE_NEWNET) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot enter the namespace: %s",
                   g_strerror (errno));
      if (self >= 0)
        close (self);
      return FALSE;
    }
  g_autofree gchar *file = g_build_filename ("/proc/sys", path, NULL);
  GError *local = NULL;
  gboolean ok = g_file_set_contents_full (file, value, -1, G_FILE_SET_CONTENTS_NONE, 0644, &local);
  if (setns (self, CLONE_NEWNET) != 0)
    g_error ("cannot go back to the test's network namespace: %s", g_strerror (errno));
  close (self);
  if (!ok)
    g_propagate_error (error, local);
  return ok;
}
