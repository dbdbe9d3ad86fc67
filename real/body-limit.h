/* body-limit.h — an HTTP request body held to a limit while it is read,
 * whatever its framing (Content-Length or chunked): see body-limit.c.  The
 * gateway (gateway.h) watches every request of both binaries.
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* Told once when msg's body is refused; `why` is the reason sent. */
typedef void (*MbBodyLimitRefusedFn) (SoupServerMessage *msg, const char *why, gpointer data);

/* Call from msg's "got-headers": from now on msg's body may not exceed
 * `limit` bytes.  A Content-Length over it is refused at once; otherwise the
 * bytes are counted as they arrive ("got-chunk"), and the first one past
 * the limit refuses the body: what was buffered is dropped, reading stops,
 * the answer is 413 with {"status": "error", "error": why} and "Connection:
 * close" (Server: server_header), and the connection is closed after a
 * bounded drain.  The request's handler never runs then.  `refused` (may be
 * NULL) is told first, with data. */
void mb_body_limit_watch (SoupServerMessage *msg, goffset limit, const char *why,
                          const char *server_header, MbBodyLimitRefusedFn refused,
                          gpointer data);

G_END_DECLS
