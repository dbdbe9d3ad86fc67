/* solo-fixture.c — one minibit-peer process for a test (see solo-fixture.h).
 *
 * Invariants: every wait is bounded; the peer gets SIGKILL if the test
 * process dies (the e2e fixture's PR_SET_PDEATHSIG); mb_solo_free kills and
 * reaps it and removes the temporary directory, also after a failure.
 */
#include "solo-fixture.h"

#include <glib/gstdio.h>
#include <string.h>

#define READY_MS 15000

Solo *
mb_solo_new (void)
{
  Solo *s = g_new0 (Solo, 1);
  g_autoptr (GError) err = NULL;
  s->root = g_dir_make_tmp ("minibit-solo-XXXXXX", &err);
  if (s->root == NULL)
    {
      g_test_fail_printf ("cannot make a temporary directory: %s", err->message);
      g_free (s);
      return NULL;
    }
  s->data_dir = g_build_filename (s->root, "data", NULL);
  g_mkdir_with_parents (s->data_dir, 0700);
  s->log = g_build_filename (s->root, "peer.log", NULL);
  s->http = soup_session_new_with_options ("timeout", 20, "idle-timeout", 20, NULL);
  return s;
}

/* A free TCP port on host (closed again: the peer binds it next). */
static guint16
free_port (const char *host, GSocket **keep)
{
  g_autoptr (GInetAddress) ia = g_inet_address_new_from_string (host);
  if (ia == NULL)
    return 0;
  GSocket *sock = g_socket_new (g_inet_address_get_family (ia), G_SOCKET_TYPE_STREAM,
                                G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GSocketAddress) sa = g_inet_socket_address_new (ia, 0);
  if (sock == NULL || !g_socket_bind (sock, sa, FALSE, NULL))
    {
      g_clear_object (&sock);
      return 0;
    }
  *keep = sock;
  return mb_bound_port (sock);
}

static gboolean
wait_ready (Solo *s)
{
  gint64 end = g_get_monotonic_time () + (gint64) READY_MS * 1000;
  while (g_get_monotonic_time () < end)
    {
      if (s->proc->exited)
        return FALSE;
      g_autoptr (Reply) r = mb_solo_http (s, "GET", "/ping", NULL, 0, NULL);
      if (r->status == 200)
        return TRUE;
      mb_pump (50);
    }
  return FALSE;
}

gboolean
mb_solo_start (Solo *s, const char *data_dir, const char *host, const char *const *env,
               const char *const *args)
{
  g_free (s->host);
  s->host = g_strdup (host ? host : "127.0.0.1");
  for (guint attempt = 1; attempt <= 3; attempt++)
    {
      GSocket *a = NULL, *b = NULL;
      s->http_port = free_port (s->host, &a);
      s->wire_port = free_port (s->host, &b);
      if (a)
        g_socket_close (a, NULL);
      if (b)
        g_socket_close (b, NULL);
      g_clear_object (&a);
      g_clear_object (&b);
      if (s->http_port == 0 || s->wire_port == 0)
        {
          g_test_fail_printf ("no free port on %s", s->host);
          return FALSE;
        }
      g_free (s->url);
      s->url = strchr (s->host, ':') ? g_strdup_printf ("http://[%s]:%u", s->host, s->http_port)
                                     : g_strdup_printf ("http://%s:%u", s->host, s->http_port);
      g_autofree gchar *port = g_strdup_printf ("%u", s->http_port);
      g_autofree gchar *wport = g_strdup_printf ("%u", s->wire_port);
      g_autoptr (GPtrArray) argv = g_ptr_array_new ();
      const char *base[] = { "minibit-peer", "--host", s->host, "--port", port,
                             "--wire-port", wport, "--data-dir", data_dir ? data_dir : s->data_dir,
                             "--self-id", "solo", "--tracker-port", "1" };
      for (guint i = 0; i < G_N_ELEMENTS (base); i++)
        g_ptr_array_add (argv, (gpointer) base[i]);
      for (guint i = 0; args && args[i]; i++)
        g_ptr_array_add (argv, (gpointer) args[i]);
      g_ptr_array_add (argv, NULL);
      g_autoptr (GError) err = NULL;
      mb_proc_kill (g_steal_pointer (&s->proc));
      s->proc = mb_proc_spawn ("peer", (const char *const *) argv->pdata, env, s->log, &err);
      if (s->proc == NULL)
        {
          g_test_fail_printf ("cannot start minibit-peer: %s", err->message);
          return FALSE;
        }
      if (wait_ready (s))
        return TRUE;
      if (!s->proc->exited || attempt == 3)
        break;
      g_test_message ("the peer exited during start-up (attempt %u): a port taken? again",
                      attempt);
      mb_log_tail ("peer", s->log);
    }
  g_test_fail_printf ("the peer did not answer GET /ping within %u ms", READY_MS);
  mb_log_tail ("peer", s->log);
  return FALSE;
}

void
mb_solo_free (Solo *s, gboolean dump)
{
  if (s == NULL)
    return;
  if (dump)
    mb_log_tail ("peer", s->log);
  mb_proc_kill (s->proc);
  if (s->root && dump && g_getenv ("MINIBIT_E2E_KEEP") != NULL)
    g_test_message ("MINIBIT_E2E_KEEP is set: %s is left in place", s->root);
  else if (s->root)
    mb_rm_rf (s->root);
  g_clear_object (&s->http);
  g_free (s->root);
  g_free (s->data_dir);
  g_free (s->host);
  g_free (s->url);
  g_free (s->log);
  g_free (s);
}

Reply *
mb_solo_http (Solo *s, const char *method, const char *path, const char *body, gssize len,
              const char *token)
{
  g_autofree gchar *url = g_strconcat (s->url, path, NULL);
  return mb_http_bearer (s->http, method, url, body, len, token);
}

gboolean
mb_solo_alive (Solo *s)
{
  return s->proc != NULL && !s->proc->exited;
}

gint64
mb_solo_peak_rss_kib (Solo *s)
{
  if (!mb_solo_alive (s))
    return -1;
  const char *pid = g_subprocess_get_identifier (s->proc->proc);
  g_autofree gchar *path = g_strdup_printf ("/proc/%s/status", pid ? pid : "0");
  g_autofree gchar *text = NULL;
  if (pid == NULL || !g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  const char *line = strstr (text, "VmHWM:");
  return line ? g_ascii_strtoll (line + strlen ("VmHWM:"), NULL, 10) : -1;
}

gboolean
mb_solo_write_file (const char *path, gsize size, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  guint32 *buf = g_malloc (size + 4);
  for (gsize i = 0; i < (size + 3) / 4; i++)
    buf[i] = g_rand_int (rand);
  gboolean ok = g_file_set_contents (path, (const char *) buf, (gssize) size, NULL);
  g_free (buf);
  return ok;
}
