/* http-auth.h — who may call minibit-peer's HTTP endpoints that change
 * something: the loopback and bearer-token rules (see http-auth.c).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  /* store_file, fetch_file, shutdown: from loopback, or from anywhere with
   * "Authorization: Bearer <MINIBIT_TOKEN>" */
  MB_HTTP_AUTH_LOOPBACK_OR_TOKEN,
  /* the ring's own endpoints over HTTP (store_chunk, store_manifest,
   * update_manifest): with a token set, the token is needed from every
   * address, loopback included; without one, loopback only */
  MB_HTTP_AUTH_RING,
} MbHttpAuthRule;

/* TRUE if a request from `remote` (NULL: unknown, not loopback) carrying
 * the Authorization header `authorization` (may be NULL) passes `rule` when
 * the peer's token is `token` (NULL or "": none set).  Else FALSE and *why
 * (a static string for the 403's reason). */
gboolean mb_http_auth_check (MbHttpAuthRule rule, GInetAddress *remote,
                             const char *authorization, const char *token, const char **why);
/* 127.0.0.0/8, ::1, and IPv4-mapped loopback (::ffff:127.x.y.z, the source
 * of a loopback IPv4 client seen by a dual-stack socket). */
gboolean mb_http_auth_is_loopback (GInetAddress *a);

G_END_DECLS
