/* test_e2e_advertise.c — a peer's bind address and its advertised address
 * (minibit-peer --advertise), on loopback only.
 *
 *  /advertise/identity        three peers; peer1 binds 127.0.0.1:W but
 *                             advertises 127.0.0.2:F, where a forwarder in
 *                             this test (its own thread) relays to
 *                             127.0.0.1:W (a NAT or a container's published
 *                             port, in small).  peer2 and peer3 are not told
 *                             of peer1: they learn it from its hello, proved
 *                             by dial-back through the forwarder.  Every
 *                             view (GET /ping "view") names 127.0.0.2:F and
 *                             never the bind address 127.0.0.1:W; peer1's
 *                             /ping "addr" is 127.0.0.2:F.
 *  /advertise/wildcard        --host 0.0.0.0 without --advertise: exit 2
 *                             at once, the message naming --advertise.  The
 *                             test holds the peer's ports on 127.0.0.1, so
 *                             no binary (this one or an older one) can
 *                             listen on every interface.
 *  /advertise/unresolvable    --advertise nohost.invalid:PORT and
 *                             --known-peers with nohost.invalid (RFC 6761:
 *                             never resolves): exit 2 within the resolver's
 *                             deadline, the message naming the name.
 *
 * Every child is SIGKILLed at the end, also on failure (e2e-fixture.h's
 * processes); every wait has a deadline.
 */
#include "e2e-fixture.h"
#include "test-util.h"

#include <string.h>

#define READY_MS 20000
#define EXIT_MS 15000

/* ---- a TCP forwarder in its own thread ------------------------------------ */

typedef struct {
  GSocket *listen;        /* bound on 127.0.0.2, not yet listening */
  guint16 to_port;        /* relays to 127.0.0.1:to_port */
  GMainContext *ctx;
  GMainLoop *loop;
  GCancellable *cancel;
  GThread *thread;
  guint connections;
} Forwarder;

typedef struct {
  GIOStream *a;
  GIOStream *b;
} Splice;

static void
on_spliced (GObject *src, GAsyncResult *res, gpointer data)
{
  Splice *s = data;
  g_io_stream_splice_finish (res, NULL);
  g_object_unref (s->a);
  g_object_unref (s->b);
  g_free (s);
}

static gboolean
on_forward_incoming (GSocketService *service, GSocketConnection *in, GObject *src, gpointer data)
{
  Forwarder *f = data;
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_socket_client_set_timeout (client, 2);
  g_socket_client_set_enable_proxy (client, FALSE);
  g_autofree gchar *to = g_strdup_printf ("127.0.0.1:%u", f->to_port);
  GSocketConnection *out = g_socket_client_connect_to_host (client, to, 0, f->cancel, NULL);
  if (out == NULL)
    {
      g_io_stream_close (G_IO_STREAM (in), NULL, NULL);
      return TRUE;
    }
  f->connections++;
  Splice *s = g_new0 (Splice, 1);
  s->a = G_IO_STREAM (g_object_ref (in));
  s->b = G_IO_STREAM (out);
  g_io_stream_splice_async (s->a, s->b, G_IO_STREAM_SPLICE_CLOSE_STREAM1
                            | G_IO_STREAM_SPLICE_CLOSE_STREAM2, G_PRIORITY_DEFAULT,
                            f->cancel, on_spliced, s);
  return TRUE;
}

static gpointer
forwarder_main (gpointer data)
{
  Forwarder *f = data;
  g_main_context_push_thread_default (f->ctx);
  GSocketService *service = g_socket_service_new ();
  gboolean ok = g_socket_listen (f->listen, NULL)
                && g_socket_listener_add_socket (G_SOCKET_LISTENER (service), f->listen, NULL,
                                                 NULL);
  if (ok)
    {
      g_signal_connect (service, "incoming", G_CALLBACK (on_forward_incoming), f);
      g_socket_service_start (service);
      g_main_loop_run (f->loop);
      g_socket_service_stop (service);
    }
  g_socket_listener_close (G_SOCKET_LISTENER (service));
  g_object_unref (service);
  /* let the cancelled splices finish */
  for (guint i = 0; i < 100 && g_main_context_iteration (f->ctx, FALSE); i++)
    ;
  g_main_context_pop_thread_default (f->ctx);
  return GINT_TO_POINTER (ok);
}

/* A socket bound on host:0 (host an IPv4 address on loopback), or NULL. */
static GSocket *
bind_on (const char *host)
{
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                             G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) ia = g_inet_address_new_from_string (host);
  g_autoptr (GSocketAddress) sa = g_inet_socket_address_new (ia, 0);
  if (s != NULL && !g_socket_bind (s, sa, FALSE, NULL))
    g_clear_object (&s);
  return s;
}

static Forwarder *
forwarder_start (const char *host, guint16 to_port)
{
  Forwarder *f = g_new0 (Forwarder, 1);
  f->listen = bind_on (host);
  if (f->listen == NULL)
    {
      g_free (f);
      return NULL;
    }
  f->to_port = to_port;
  f->ctx = g_main_context_new ();
  f->loop = g_main_loop_new (f->ctx, FALSE);
  f->cancel = g_cancellable_new ();
  f->thread = g_thread_new ("forwarder", forwarder_main, f);
  return f;
}

static void
forwarder_stop (Forwarder *f)
{
  if (f == NULL)
    return;
  g_cancellable_cancel (f->cancel);
  g_main_loop_quit (f->loop);
  g_thread_join (f->thread);
  g_main_loop_unref (f->loop);
  g_main_context_unref (f->ctx);
  g_object_unref (f->cancel);
  g_object_unref (f->listen);
  g_free (f);
}

/* ---- helpers -------------------------------------------------------------- */

/* Free loopback ports, all distinct (held, then released together). */
static gboolean
free_ports (guint16 *out, guint n)
{
  g_autoptr (GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < n; i++)
    {
      GSocket *s = mb_bind (0);
      if (s == NULL)
        return FALSE;
      g_ptr_array_add (held, s);
      out[i] = mb_bound_port (s);
    }
  return TRUE;
}

static gboolean
view_has (Reply *r, const char *addr)
{
  JsonObject *o = mb_obj (r);
  if (o == NULL || !json_object_has_member (o, "view"))
    return FALSE;
  JsonArray *a = json_object_get_array_member (o, "view");
  for (guint i = 0; a != NULL && i < json_array_get_length (a); i++)
    if (g_strcmp0 (json_array_get_string_element (a, i), addr) == 0)
      return TRUE;
  return FALSE;
}

static gchar *
read_log (const char *path)
{
  gchar *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return g_strdup ("");
  return text;
}

/* ---- /advertise/identity -------------------------------------------------- */

#define NP 3

typedef struct {
  gchar *root;
  Forwarder *fwd;
  Proc *proc[NP];
  gchar *log[NP];
  gchar *url[NP];
  SoupSession *http;
} Trio;

static void
trio_free (Trio *t, gboolean dump)
{
  for (guint i = 0; i < NP; i++)
    {
      if (dump && t->log[i] != NULL)
        {
          g_autofree gchar *name = g_strdup_printf ("peer%u", i + 1);
          mb_log_tail (name, t->log[i]);
        }
      mb_proc_kill (t->proc[i]);
      g_free (t->log[i]);
      g_free (t->url[i]);
    }
  forwarder_stop (t->fwd);
  g_clear_object (&t->http);
  if (t->root != NULL)
    mb_test_remove_tree (t->root);
  g_free (t->root);
}

static gboolean
run_identity (Trio *t)
{
  guint16 ports[2 * NP + 1];
  CHECKF (free_ports (ports, G_N_ELEMENTS (ports)), "no free loopback ports");
  guint16 *http = ports, *wire = ports + NP;
  t->fwd = forwarder_start ("127.0.0.2", wire[0]);
  CHECKF (t->fwd != NULL, "cannot bind on 127.0.0.2 (is 127.0.0.0/8 loopback here?)");
  guint16 fport = mb_bound_port (t->fwd->listen);
  g_autofree gchar *adv = g_strdup_printf ("127.0.0.2:%u", fport);
  g_autofree gchar *bind1 = g_strdup_printf ("127.0.0.1:%u", wire[0]);
  g_autofree gchar *known1 = g_strdup_printf ("127.0.0.1:%u,127.0.0.1:%u", wire[1], wire[2]);
  g_autofree gchar *tport = g_strdup_printf ("%u", ports[2 * NP]);  /* no tracker there */
  g_autoptr (GError) err = NULL;
  t->root = g_dir_make_tmp ("minibit-advertise-XXXXXX", &err);
  CHECKF (t->root != NULL, "%s", err->message);
  t->http = soup_session_new_with_options ("timeout", 5, "idle-timeout", 5, NULL);
  const char *env[] = { "MINIBIT_CLUSTER_SECRET", E2E_SECRET, NULL };
  for (guint i = 0; i < NP; i++)
    {
      g_autofree gchar *id = g_strdup_printf ("peer%u", i + 1);
      g_autofree gchar *dir = g_build_filename (t->root, id, NULL);
      g_autofree gchar *log_name = g_strconcat (id, ".log", NULL);
      g_autofree gchar *port = g_strdup_printf ("%u", http[i]);
      g_autofree gchar *wport = g_strdup_printf ("%u", wire[i]);
      t->log[i] = g_build_filename (t->root, log_name, NULL);
      t->url[i] = g_strdup_printf ("http://127.0.0.1:%u/ping", http[i]);
      g_mkdir_with_parents (dir, 0700);
      /* peer1 knows the others; they know only each other, not peer1 */
      const char *argv[] = { "minibit-peer", "--host", "127.0.0.1", "--port", port,
                             "--wire-port", wport, "--data-dir", dir, "--self-id", id,
                             "--known-peers", known1,
                             "--tracker-port", tport, "--ping-ms", "300",
                             i == 0 ? "--advertise" : NULL, adv, NULL };
      t->proc[i] = mb_proc_spawn (id, argv, env, t->log[i], &err);
      CHECKF (t->proc[i] != NULL, "%s", err->message);
    }
  gint64 end = g_get_monotonic_time () + (gint64) READY_MS * 1000;
  gboolean all = FALSE;
  while (!all)
    {
      all = TRUE;
      for (guint i = 0; i < NP; i++)
        {
          CHECKF (!t->proc[i]->exited, "peer%u exited during start-up", i + 1);
          g_autoptr (Reply) r = mb_http (t->http, "GET", t->url[i], NULL, -1);
          if (r->status != 200 || mb_int (r, "members") != NP || !view_has (r, adv))
            all = FALSE;
        }
      if (!all)
        {
          CHECKF (g_get_monotonic_time () < end,
                  "within %u ms, not every peer sees 3 members with %s among them", READY_MS,
                  adv);
          mb_pump (100);
        }
    }
  for (guint i = 0; i < NP; i++)
    {
      g_autoptr (Reply) r = mb_http (t->http, "GET", t->url[i], NULL, -1);
      g_autofree gchar *text = mb_body_text (r);
      CHECKF (view_has (r, adv) && !view_has (r, bind1),
              "peer%u's view names the bind address %s, or not %s: %s", i + 1, bind1, adv, text);
      if (i == 0)
        CHECKF (g_strcmp0 (mb_str (r, "addr"), adv) == 0, "peer1 says it is %s, not %s",
                mb_str (r, "addr"), adv);
      g_test_message ("peer%u: %s", i + 1, text);
    }
  CHECKF (t->fwd->connections >= 2, "only %u connections went through the forwarder",
          t->fwd->connections);
  return TRUE;
}

static void
test_identity (void)
{
  Trio t = { 0 };
  gboolean ok = run_identity (&t);
  trio_free (&t, !ok);
}

/* ---- refused starts ------------------------------------------------------- */

/* Runs minibit-peer with the extra arguments (and its ports held by this
 * test on 127.0.0.1): it must exit non-zero within EXIT_MS, its output
 * holding every one of `want`. */
static gboolean
run_refused (const char *const *extra, const char *const *want)
{
  g_autoptr (GSocket) hp = mb_bind (0);
  g_autoptr (GSocket) wp = mb_bind (0);
  CHECKF (hp != NULL && wp != NULL, "no free loopback ports");
  g_autofree gchar *port = g_strdup_printf ("%u", mb_bound_port (hp));
  g_autofree gchar *wport = g_strdup_printf ("%u", mb_bound_port (wp));
  g_autoptr (GError) err = NULL;
  g_autofree gchar *root = g_dir_make_tmp ("minibit-advertise-XXXXXX", &err);
  CHECKF (root != NULL, "%s", err->message);
  g_autofree gchar *log = g_build_filename (root, "peer.log", NULL);
  g_autofree gchar *dir = g_build_filename (root, "data", NULL);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  const char *base[] = { "minibit-peer", "--port", port, "--wire-port", wport, "--data-dir", dir };
  for (guint i = 0; i < G_N_ELEMENTS (base); i++)
    g_ptr_array_add (argv, (gpointer) base[i]);
  for (guint i = 0; extra[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) extra[i]);
  g_ptr_array_add (argv, NULL);
  gint64 t0 = g_get_monotonic_time ();
  Proc *p = mb_proc_spawn ("peer", (const char *const *) argv->pdata, NULL, log, &err);
  gboolean exited = p != NULL && mb_wait_exit (p, EXIT_MS);
  gboolean normal = exited && g_subprocess_get_if_exited (p->proc);
  gint status = normal ? g_subprocess_get_exit_status (p->proc) : -1;
  gint sig = exited && g_subprocess_get_if_signaled (p->proc)
             ? g_subprocess_get_term_sig (p->proc) : 0;
  mb_proc_kill (p);
  g_autofree gchar *text = read_log (log);
  mb_test_remove_tree (root);
  CHECKF (exited, "the peer still runs %u ms after its start; its output: %s", EXIT_MS, text);
  CHECKF (normal && status != 0, "exit status %d (signal %d); output: %s", status, sig, text);
  for (guint i = 0; want[i] != NULL; i++)
    CHECKF (strstr (text, want[i]) != NULL, "the message lacks \"%s\": %s", want[i], text);
  g_test_message ("refused in %.2f s with status %d: %s", mb_secs_since (t0), status,
                  g_strstrip (text));
  return TRUE;
}

static void
test_wildcard (void)
{
  const char *extra[] = { "--host", "0.0.0.0", NULL };
  const char *want[] = { "0.0.0.0", "wildcard", "--advertise", NULL };
  run_refused (extra, want);
  const char *extra6[] = { "--host", "0.0.0.0", "--advertise", "0.0.0.0:7000", NULL };
  const char *want6[] = { "--advertise", "0.0.0.0:7000", "wildcard", NULL };
  run_refused (extra6, want6);
}

static void
test_unresolvable (void)
{
  const char *extra[] = { "--host", "127.0.0.1", "--advertise", "nohost.invalid:7000", NULL };
  const char *want[] = { "--advertise", "nohost.invalid", "resolve", NULL };
  run_refused (extra, want);
  const char *extra2[] = { "--host", "127.0.0.1", "--known-peers",
                           "127.0.0.1:7001,nohost.invalid:7002", NULL };
  const char *want2[] = { "--known-peers", "nohost.invalid", "resolve", NULL };
  run_refused (extra2, want2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/advertise/identity", test_identity);
  g_test_add_func ("/advertise/wildcard", test_wildcard);
  g_test_add_func ("/advertise/unresolvable", test_unresolvable);
  return g_test_run ();
}
