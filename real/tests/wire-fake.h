/* wire-fake.h — a stranger on the wire, for tests: raw minibit frames over
 * blocking loopback sockets, written by hand rather than by MbTransport, so
 * that a test can misbehave (skip the handshake, use a wrong secret, claim
 * another peer's address, send half a frame and stall).
 *
 * MbFake is one connection.  MbFakeHome is where fakes say they listen: a
 * thread that answers the dial-back a minibit peer makes to an accepted
 * connection's claimed address (transport-verify.c), with YES for the
 * connections of the fakes that claimed it (mb_fake_handshake with that
 * home), NO for any other.
 *
 * Every call has a deadline (socket timeouts), so a test fails instead of
 * hanging.  An MbFake is used by one thread; an MbFakeHome's own thread
 * only answers dial-backs.  A NULL MbFake (a failed connect) is accepted
 * everywhere and behaves as closed.
 */
#pragma once

#include <gio/gio.h>

#include "wire/codec.h"

typedef struct _MbFake MbFake;
typedef struct _MbFakeHome MbFakeHome;

/* Listens on 127.0.0.1 (any port) and answers dial-backs, holding
 * `secret` (NULL: none) as a peer would. */
MbFakeHome *mb_fake_home_new (GBytes *secret);
/* Its first address, and another one (a fresh port) for a fake that must
 * be a node of its own at the peer: a peer keeps one connection per
 * address, so two fakes that claim the same address replace each other. */
const char *mb_fake_home_addr (MbFakeHome *home);
const char *mb_fake_home_add_addr (MbFakeHome *home);
/* Dial-backs answered so far (YES and NO). */
guint mb_fake_home_answered (MbFakeHome *home);
void mb_fake_home_free (MbFakeHome *home);

/* Connects to addr ("host:port"); NULL with error if it cannot. */
MbFake *mb_fake_connect (const char *addr, GError **error);
void mb_fake_free (MbFake *f);

/* Says HELLO {name, claim} and nothing else (no handshake): what a client
 * from before the authenticated handshake sends first. */
gboolean mb_fake_hello (MbFake *f, const char *name, const char *claim, GError **error);

/* The whole handshake as the dialler: HELLO {name, claim} and CHALLENGE,
 * the peer's HELLO and CHALLENGE, our PROOF (keyed by secret; empty if
 * NULL), the peer's PROOF.  With home, home confirms this connection when
 * the peer dials back.  Frames sent after it carry a MAC if there is a
 * secret.  FALSE if the peer closed or said something else (error says). */
gboolean mb_fake_handshake (MbFake *f, const char *name, const char *claim, GBytes *secret,
                            MbFakeHome *home, GError **error);

/* The same, with more CHALLENGE flags (MB_CHALLENGE_CLIENT: a ring client,
 * which no peer takes into its view). */
gboolean mb_fake_handshake_as (MbFake *f, const char *name, const char *claim, GBytes *secret,
                               MbFakeHome *home, guint flags, GError **error);

/* Encodes and sends msg (taken), with its MAC after a handshake with a
 * secret. */
gboolean mb_fake_send_msg (MbFake *f, MbMessage *msg, GError **error);
/* What a stranger (or a thief) tries once in: PING, STORE_CHUNK of `data`,
 * STORE_MANIFEST of `name` holding that chunk, LEAVE_NOTICE naming
 * `victim`.  FALSE as soon as one cannot be sent (the peer closed the
 * connection already: fine). */
gboolean mb_fake_send_attack (MbFake *f, const char *name, const char *data,
                              const char *victim);
/* The bytes mb_fake_send_msg would send for msg (taken), MAC included: its
 * sequence number is used up whether they are sent or not. */
GBytes *mb_fake_seal (MbFake *f, MbMessage *msg);
/* Sends bytes as they are. */
gboolean mb_fake_send_raw (MbFake *f, const guint8 *data, gsize len, GError **error);
/* The next frame from the peer (its MAC checked after a handshake with a
 * secret), waiting at most ms; NULL with error if none. */
MbMessage *mb_fake_read_msg (MbFake *f, guint ms, GError **error);

/* Reads and drops at most max raw bytes (what a reader that takes its time
 * does; the frames they carry are lost), waiting at most ms in all: the
 * bytes read (0: none came), or -1 once the peer has closed. */
gssize mb_fake_read_raw (MbFake *f, gsize max, guint ms);

/* TRUE once the other side has closed the connection (end of stream or a
 * reset), waiting at most ms; whatever it sends meanwhile is read and
 * dropped.  ms = 0 only looks. */
gboolean mb_fake_wait_closed (MbFake *f, guint ms);

/* A frame header promising `length` bytes after the length field, of type
 * STORE_CHUNK, into out (5 bytes). */
void mb_fake_frame_header (guint8 out[5], guint32 length);
