/* resolve.h — turning the host names a peer is configured with into the
 * numeric addresses it is known by, once, at start, with a deadline.
 *
 * A ring member's name is a "host:port" string compared byte for byte, so
 * the same peer must be spelled the same way everywhere: names given on
 * the command line (--advertise, --known-peers, --tracker-host, --host) are
 * resolved at start to one numeric address, the first IPv4 one the resolver
 * gives if it gives any (else its first), written in canonical form
 * (g_inet_address_to_string: "127.0.0.1", "[::1]").  A numeric address is
 * only put in canonical form; nothing is looked up for it.
 *
 * Every lookup has a deadline (timeout_ms): it runs in GResolver's thread
 * and is abandoned when the deadline passes (a resolver that never answers
 * cannot hang the start).  Errors (MB_RESOLVE_ERROR) name what was being
 * resolved and the name.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define MB_RESOLVE_ERROR (mb_resolve_error_quark ())
GQuark mb_resolve_error_quark (void);

typedef enum {
  MB_RESOLVE_ERROR_SYNTAX,    /* not host:port */
  MB_RESOLVE_ERROR_NOT_FOUND, /* the name does not resolve (or timed out) */
  MB_RESOLVE_ERROR_WILDCARD,  /* 0.0.0.0, :: : no address one can dial */
} MbResolveError;

/* The default deadline of one lookup. */
#define MB_RESOLVE_TIMEOUT_MS 5000

/* host (a name or a numeric address, IPv6 without brackets) as one
 * address; NULL with an error naming `what` and host. */
GInetAddress *mb_resolve_host (const char *what, const char *host, guint timeout_ms,
                               GError **error);
/* "host:port" as "ADDR:port" with ADDR numeric and canonical; NULL with an
 * error naming `what` and addr.  With no_wildcard, an unspecified address
 * (0.0.0.0, ::) is refused (MB_RESOLVE_ERROR_WILDCARD). */
gchar *mb_resolve_addr (const char *what, const char *addr, gboolean no_wildcard,
                        guint timeout_ms, GError **error);

G_END_DECLS
