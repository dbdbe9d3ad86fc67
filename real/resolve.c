/* resolve.c — names to numeric addresses at start, with a deadline
 * (resolve.h).  The lookup runs asynchronously in a private main context;
 * a timeout source cancels it (GResolver's threaded lookup returns at once
 * when cancelled, leaving its getaddrinfo to finish in its thread). */
#include "resolve.h"

#include "transport.h"

G_DEFINE_QUARK (mb-resolve-error-quark, mb_resolve_error)

typedef struct {
  GList *list;
  GError *error;
  gboolean done;
} Lookup;

static void
on_lookup (GObject *src, GAsyncResult *res, gpointer data)
{
  Lookup *l = data;
  l->list = g_resolver_lookup_by_name_finish (G_RESOLVER (src), res, &l->error);
  l->done = TRUE;
}

static gboolean
on_deadline (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

/* The first IPv4 address of the list, else its first. */
static GInetAddress *
pick (GList *list)
{
  for (GList *l = list; l != NULL; l = l->next)
    if (g_inet_address_get_family (l->data) == G_SOCKET_FAMILY_IPV4)
      return g_object_ref (l->data);
  return list != NULL ? g_object_ref (list->data) : NULL;
}

GInetAddress *
mb_resolve_host (const char *what, const char *host, guint timeout_ms, GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  if (host == NULL || *host == '\0')
    {
      g_set_error (error, MB_RESOLVE_ERROR, MB_RESOLVE_ERROR_SYNTAX, "%s: an empty host name", what);
      return NULL;
    }
  GInetAddress *ia = g_inet_address_new_from_string (host);
  if (ia != NULL)
    return ia;
  GMainContext *ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  GCancellable *cancel = g_cancellable_new ();
  GSource *deadline = g_timeout_source_new (timeout_ms);
  g_source_set_callback (deadline, on_deadline, cancel, NULL);
  g_source_attach (deadline, ctx);
  GResolver *resolver = g_resolver_get_default ();
  Lookup l = { 0 };
  g_resolver_lookup_by_name_async (resolver, host, cancel, on_lookup, &l);
  while (!l.done)
    g_main_context_iteration (ctx, TRUE);
  gboolean timed_out = g_cancellable_is_cancelled (cancel);
  g_source_destroy (deadline);
  g_source_unref (deadline);
  g_object_unref (resolver);
  g_object_unref (cancel);
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
  ia = pick (l.list);
  g_resolver_free_addresses (l.list);
  if (ia == NULL)
    g_set_error (error, MB_RESOLVE_ERROR, MB_RESOLVE_ERROR_NOT_FOUND,
                 "%s: cannot resolve host name \"%s\": %s", what, host,
                 timed_out ? "no answer in time"
                 : l.error != NULL ? l.error->message : "no address");
  g_clear_error (&l.error);
  return ia;
}

gchar *
mb_resolve_addr (const char *what, const char *addr, gboolean no_wildcard, guint timeout_ms,
                 GError **error)
{
  g_autofree gchar *host = NULL;
  guint16 port = 0;
  if (addr == NULL || !mb_transport_addr_split (addr, &host, &port))
    {
      g_set_error (error, MB_RESOLVE_ERROR, MB_RESOLVE_ERROR_SYNTAX,
                   "%s: \"%s\" is not HOST:PORT (port 1-65535; an IPv6 address in brackets)",
                   what, addr != NULL ? addr : "");
      return NULL;
    }
  g_autoptr (GInetAddress) ia = mb_resolve_host (what, host, timeout_ms, error);
  if (ia == NULL)
    return NULL;
  if (no_wildcard && g_inet_address_get_is_any (ia))
    {
      g_set_error (error, MB_RESOLVE_ERROR, MB_RESOLVE_ERROR_WILDCARD,
                   "%s: \"%s\" is a wildcard address (every interface), which no one can dial",
                   what, addr);
      return NULL;
    }
  g_autofree gchar *ip = g_inet_address_to_string (ia);
  return mb_transport_addr_join (ip, port);
}
