/* wire-fake.h — a stranger on the wire, for tests: raw minibit frames over
 * blocking loopback sockets, written by hand rather than by MbTransport, so
 * that a test can misbehave (claim another's address, skip the secret, send
 * half a frame and stall).
 *
 * Every call has a deadline (socket timeouts), so a test fails instead of
 * hanging.  Nothing here is thread-safe: one test thread uses it.
 */
#pragma once

#include <gio/gio.h>

#include "wire/codec.h"

typedef struct _MbFake MbFake;

/* Connects to addr ("host:port"); NULL with error if it cannot. */
MbFake *mb_fake_connect (const char *addr, GError **error);
void mb_fake_free (MbFake *f);

/* Says HELLO {name, claim}: the first frame every connection sends. */
gboolean mb_fake_hello (MbFake *f, const char *name, const char *claim, GError **error);

/* Encodes and sends msg (taken). */
gboolean mb_fake_send_msg (MbFake *f, MbMessage *msg, GError **error);
/* Sends bytes as they are. */
gboolean mb_fake_send_raw (MbFake *f, const guint8 *data, gsize len, GError **error);

/* TRUE once the other side has closed the connection (end of stream or a
 * reset), waiting at most ms; whatever it sends meanwhile is read and
 * dropped.  ms = 0 only looks. */
gboolean mb_fake_wait_closed (MbFake *f, guint ms);

/* A frame header promising `length` bytes after the length field, of type
 * STORE_CHUNK, into out (5 bytes). */
void mb_fake_frame_header (guint8 out[5], guint32 length);
