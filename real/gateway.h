/* gateway.h — where HTTP requests meet a sans-I/O core, for both binaries
 * (minibit-peer's ring peer, minibit-tracker's tracker).
 *
 * Pseudo nodes.  An MbGateway wraps a transport's MbHost; the core is given
 * the gateway's host.  A request the core must answer is fed to it
 * (mb_gateway_ask) as a message from a pseudo node: a fresh id from
 * MB_GATEWAY_NODE_FIRST up, above every id a transport assigns and never
 * MB_NODE_NONE (after the last it wraps to the first).  Invariants: the
 * core's first message to that node while it handles the request is the
 * reply, handed to the caller instead of a socket; every other message to a
 * pseudo node (a second or a late reply) is dropped, and disconnecting one
 * does nothing; everything else goes to the transport; the core's expiry
 * driver is re-armed after every ask.
 *
 * Flow control.  The gateway's uplink_backlog and uplink_notify are the
 * transport's (transport.h owns the count: its connections' unsent bytes);
 * what goes to a pseudo node never reaches a socket and never counts.  The
 * ready callback is the transport's uplink handler
 * (mb_transport_set_uplink_handler), which the binary sets.  uplink_rate is
 * NULL (unknown).
 *
 * JSON over HTTP.  mb_gateway_http_new makes the server: one handler, and
 * every request's body held to the caller's limit while it is read, be it
 * sent with a Content-Length or chunked (body-limit.h: 413 with the limit
 * named, "Connection: close", and the handler never runs).  JSON bodies are
 * read through mb_gateway_read_body, which also refuses a shape json-glib
 * cannot take safely (json-limits.h).  Answers are JSON objects;
 * an error is {"status": "error", "error": WHAT}, logged at info level as
 * "LOG_NAME: METHOD PATH: STATUS WHAT".
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "clock.h"
#include "host.h"
#include "transport.h"

G_BEGIN_DECLS

/* The first pseudo node id: the one base for HTTP requests in real mode. */
#define MB_GATEWAY_NODE_FIRST MB_TRANSPORT_NODE_LIMIT

typedef struct _MbGateway MbGateway;

/* The core's receive (mb_tracker_receive, mb_ringpeer_receive). */
typedef void (*MbGatewayReceiveFn) (gpointer core, MbNodeId from, const MbMessage *msg,
                                    guint64 now);

/* The transport is borrowed and must outlive the gateway. */
MbGateway *mb_gateway_new (MbTransport *transport);
void mb_gateway_free (MbGateway *gw);
/* The host to give the core. */
const MbHost *mb_gateway_host (MbGateway *gw);
/* The uplink's capacity the host tells (MbHost.uplink_rate), bytes/s; 0
 * (the default): unknown, and the host's uplink_rate is NULL. */
void mb_gateway_set_uplink_rate (MbGateway *gw, guint64 bytes_per_s);
/* The core that asks go to, and its expiry driver (may be NULL). */
void mb_gateway_attach (MbGateway *gw, MbGatewayReceiveFn receive, gpointer core,
                        MbExpiryDriver *driver);
/* Feeds request to the core as from a fresh pseudo node: its reply (free it
 * with mb_message_free), or NULL if it sent none. */
MbMessage *mb_gateway_ask (MbGateway *gw, const MbMessage *request);

/* ---- JSON over HTTP ---- */

#define MB_GATEWAY_ERROR (mb_gateway_error_quark ())
GQuark mb_gateway_error_quark (void);

typedef enum {
  MB_GATEWAY_ERROR_TOO_LARGE,   /* the body is over the limit */
  MB_GATEWAY_ERROR_NOT_JSON,    /* it does not parse (the message is the parser's) */
  MB_GATEWAY_ERROR_NOT_OBJECT,  /* it is empty, or JSON but not an object */
  MB_GATEWAY_ERROR_REFUSED,     /* its shape is refused before parsing: nested
                                 * deeper than MB_JSON_MAX_DEPTH, or a comment
                                 * (the message says which, naming the limit) */
} MbGatewayError;

typedef struct {
  const char *server_header;  /* the Server header, e.g. "minibit-peer " */
  const char *log_domain;     /* of the error log lines (NULL: the default domain) */
  const char *log_name;       /* their prefix */
  /* The largest body a request for `path` may have, and (*what) the error
   * a larger one gets. */
  goffset (*body_limit) (const char *path, const char **what);
  SoupServerCallback route;   /* the one handler, given `data` */
  gpointer data;
} MbGatewayHttpConfig;

/* A server listening on host:port (port 0: any free one).  cfg must outlive
 * it (a static).  An error if host is not an IP address (naming it as
 * `host_setting`, the option or variable that gave it) or cannot be bound. */
SoupServer *mb_gateway_http_new (const MbGatewayHttpConfig *cfg, const char *host, guint16 port,
                                 const char *host_setting, GError **error);
/* The port it listens on (0 if none). */
guint16 mb_gateway_http_port (SoupServer *server);

/* Answers with b's root as JSON; takes b. */
void mb_gateway_reply_json (SoupServerMessage *msg, guint status, JsonBuilder *b);
/* A builder with an object open and "status": status in it. */
JsonBuilder *mb_gateway_json_begin (const char *status);
/* Adds key: value (NULL: ""). */
void mb_gateway_json_add_str (JsonBuilder *b, const char *key, const char *value);
void mb_gateway_json_add_int (JsonBuilder *b, const char *key, gint64 value);
/* Answers {"status": "error", "error": what} and logs it. */
void mb_gateway_reply_error (SoupServerMessage *msg, guint status, const char *what);

/* The request's body, at most `limit` bytes and of a JSON shape a parser
 * can take safely (json-limits.h: at most MB_JSON_MAX_DEPTH levels), or
 * NULL and an MB_GATEWAY_ERROR (TOO_LARGE, REFUSED).  Every JSON body goes
 * through this before json-glib sees it.  Nothing is answered. */
GBytes *mb_gateway_read_body (SoupServerMessage *msg, gsize limit, GError **error);
/* The request's body as a JSON object (valid while *parser lives: unref it
 * then), read by mb_gateway_read_body, or NULL and an MB_GATEWAY_ERROR.
 * Nothing is answered. */
JsonObject *mb_gateway_read_object (SoupServerMessage *msg, gsize limit, JsonParser **parser,
                                    GError **error);
/* The non-empty string member `name` of o, or NULL; *present (may be NULL)
 * says whether o has such a member at all. */
const char *mb_gateway_json_string (JsonObject *o, const char *name, gboolean *present);

G_END_DECLS
