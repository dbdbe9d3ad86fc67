/* transport.h — MbHost over TCP: codec frames, one connection per peer pair.
 *
 * An MbTransport listens on one TCP port (GSocketService) and dials others
 * (GSocketClient).  It implements the core's MbHost (core/host.h):
 *  - nodes: the transport assigns an MbNodeId to each remote *listen* address
 *    ("host:port"; IPv6 as "[addr]:port").  Ids are small integers from 1
 *    (1 is ourselves, mb_transport_self) and stay valid until the transport is
 *    freed; they are always below MB_TRANSPORT_NODE_LIMIT, so a driver may use
 *    ids from there up for nodes of its own (the tracker's HTTP requests).
 *    host->resolve (addr) returns the id, creating it without connecting.
 *  - send: host->send (from, to, msg) encodes msg (mb_codec_encode) into the
 *    node's write queue, dialling if needed; frames are written in order by
 *    one async writer per connection (partial writes: the kernel takes what
 *    it will, the rest stays ours).  The transport owns and frees msg.
 *    Every wire socket (dialled or accepted) gets TCP_NOTSENT_LOWAT =
 *    notsent_lowat (128 KiB; 0 leaves the kernel's default, the sysctl
 *    net.ipv4.tcp_notsent_lowat, unlimited unless set), so the kernel holds
 *    at most about that much not yet sent per connection, and the rest waits in our queue, where the backlog counts
 *    it and the core can still hold it back (CHOKE, CANCEL).  Bytes sent but
 *    not yet read by the peer sit in its receive buffer, which we do not
 *    bound.  Every wire socket also gets TCP keepalive and TCP_USER_TIMEOUT
 *    (keepalive_s), so a connection to a host that vanished without a FIN
 *    fails within about 2 x keepalive_s and the disconnect callback runs; a
 *    peer whose host answers but whose process does not (stopped, hung) is
 *    the core's business (core/swarm: request timeouts; core/ring: pings).
 *  - receive: a source on each socket; reads (recv, up to reads_per_turn
 *    per main-loop turn) feed an MbDecoder; each decoded message goes to the
 *    receive callback as (user, from node, msg); the transport frees msg after.
 *  - disconnect: host->disconnect (self, node) writes what is queued (if a
 *    connect is under way, once it succeeds), shuts our side down and closes
 *    the connection when the peer closes its side; no callback for it.
 *  - flow control (transport-uplink.c): host->uplink_backlog (self) is the
 *    transport's uplink backlog, mb_transport_uplink_backlog: of the bytes
 *    of encoded frames in the connections' write queues not yet written to
 *    the kernel (still queued, or the part of the write in flight the kernel
 *    has not taken; mb_transport_unsent_bytes), those that drain, summed
 *    over all open connections of the transport — one uplink, whatever
 *    `self`.  A connection counts all its unsent bytes in the first
 *    drain_window_ms (1 s) of a run of writing, then at most what the
 *    kernel took from it in the last one to two windows: a peer that does
 *    not read, or reads a trickle, holds nobody's uplink (each connection is
 *    a socket of its own).  The count never exceeds the unsent bytes (with
 *    a secret, up to 16 bytes a frame of the write in flight more: a
 *    frame's MAC counts as written first); a closed connection's dropped
 *    frames leave it at once.  Frames waiting for a connection (a
 *    dial under way) are not counted until it opens, nor are the
 *    handshake's frames, MACs, or what the kernel's socket buffers hold.
 *    Less, with uplink_stuck_ms: up to 1 MiB of the counted bytes of each
 *    connection that is writing with no progress for uplink_stuck_ms (TCP
 *    waiting out a retransmission timeout, a peer not reading), which holds
 *    no part of the link and would hold every other connection back.
 *    host->uplink_notify (self, low) arms a one-shot wish (a later call
 *    replaces it): once the backlog is at most `low` — already at the call,
 *    or after writes complete, a connection closes, a drain window ends or
 *    a connection has been stuck long enough (looked at every
 *    uplink_stuck_ms / 2) — the uplink handler
 *    (mb_transport_set_uplink_handler) runs once, from a main-loop source,
 *    never inside the call.  host->uplink_rate is NULL (unknown).
 *
 * The handshake (transport-auth.c, crypto in wire-auth.h).  Both ends of
 * every connection first write HELLO {name, addr = the sender's listen
 * address} and CHALLENGE {flags, a fresh 32-byte nonce from getrandom(2)};
 * on the peer's CHALLENGE each writes PROOF {HMAC-SHA-256 keyed by the
 * cluster secret over both nonces, its role (dialler or acceptor) and its
 * listen address}, checked in constant time.  From its PROOF on, every
 * frame a side sends carries a 16-byte MAC (HMAC-SHA-256 with a key of its
 * direction derived from the secret and both nonces, over a sequence number
 * and the frame): a frame whose MAC is wrong drops the connection, naming
 * the peer.  Before the PROOF, frames may be at most 4 KiB.
 *
 * Without a secret (cfg.secret NULL) the PROOF is empty and frames carry no
 * MAC; then connections are accepted from loopback addresses only (others
 * are closed at once, with a warning).  A peer with a secret and one
 * without refuse each other, saying which lacks it.
 *
 * Dial-back (transport-verify.c): an accepted connection is known by the
 * address it proved it listens on, never by what it claims.  After its
 * PROOF, the acceptor dials the claimed address (a probe connection, flagged
 * in its CHALLENGE, with the same handshake) and asks DIALBACK: "did you dial
 * me, with these two nonces?"; only a YES from there binds the connection to
 * the node for that address (so replies reuse it) and lets its frames reach
 * the receive callback; until then nothing it sent is read.  A claimed
 * address with an unspecified host (0.0.0.0:P, [::]:P: a peer listening on
 * every interface) stands for the connection's remote address, port P.  A dialled
 * connection needs no dial-back: we chose the address.  The HELLO's address
 * of a dialled peer is only recorded (node_name, the race below), never
 * made an alias of another node.
 *
 * HELLO, CHALLENGE, PROOF and DIALBACK never reach the receive callback.  A
 * decode error (bad crc, oversized, unknown type, inconsistent, bad MAC), a
 * frame out of the handshake's order, a bad proof, a failed dial-back, or a
 * handshake not done within hello_timeout_ms drops that connection only
 * (g_warning naming the peer and why); if it was the node's connection the
 * disconnect callback runs.
 *
 * One connection per pair.  If both sides dial at once, both keep the
 * connection dialled by the side whose listen address is smaller (strcmp of
 * the two HELLO addresses), so both ends pick the same one.  The loser's
 * queued frames move to the winner; frames already arriving on the loser are
 * still delivered, its dialler shuts it down, and the acceptor closes it at
 * end of stream (no callback).  Only frames already in flight on the loser can
 * be overtaken by frames on the winner.  If a peer dials again while its old
 * connection is still bound (it lost the old one), the new one replaces it and
 * the disconnect callback reports the old session's end.
 *
 * Failures: a connect that fails is retried with exponential backoff
 * (backoff_initial_ms, doubling) up to connect_tries tries, keeping queued
 * frames; after the last, the queue is dropped and the disconnect callback
 * runs.  An established connection that ends or fails runs the disconnect
 * callback and drops its queue; the next send dials anew.  More than
 * max_connections open connections: new incoming ones are closed at once.
 * More than max_queue_bytes queued for one node: the connection is dropped as
 * too slow (queue dropped, disconnect callback from an idle, never from
 * inside send).  A write that makes no progress (the kernel takes none of
 * it) for write_stall_ms (20 s; MINIBIT_WIRE_WRITE_STALL_MS) drops its
 * connection as too slow too: a peer that keeps its connection open but
 * stops reading would otherwise hold its bytes in the backlog, and so the
 * core's uploads to everyone, forever.  The warning names the peer and the
 * bytes stuck; the queue is dropped (leaving the backlog, so the uplink
 * handler can run), the disconnect callback runs from the timer, and it
 * counts in connections_dropped and write_stalls.  A connection with over
 * min_drain_queue (4 MiB) unsent from which the kernel takes less than
 * min_drain_rate (32 KiB/s; MINIBIT_WIRE_MIN_DRAIN_RATE) on average over
 * write_stall_ms is dropped as too slow too (slow_drains): a peer reading
 * just often enough for the stall timer would hold up to max_queue_bytes
 * of ours for ever.  Progress is seen only
 * when the peer's kernel reopens its receive window, which with a large
 * (autotuned) receive buffer happens once it has read about 1/16 of it:
 * a reader slower than that per write_stall_ms counts as stalled.
 *
 * Unfinished frames (memory): a connection buffers at most one frame of
 * max_frame bytes plus one read (128 KiB); a frame must arrive whole within
 * frame_timeout_ms of its first byte, however it trickles, or its
 * connection is dropped; and the bytes of unfinished frames over all
 * connections stay under max_unfinished_bytes: past it, the connections
 * holding the most are dropped until it holds again (so a few slow strangers
 * cannot make a peer hold max_connections x max_frame).  The listening
 * socket's backlog is listen_backlog.
 *
 * Callbacks run from the main context the transport was created in, never
 * from inside a host call.  Do not free the transport from a callback.
 * Logging: GLib structured logging, domain "minibit".
 */
#pragma once

#include <gio/gio.h>

#include "host.h"

G_BEGIN_DECLS

#define MB_TRANSPORT_ERROR (mb_transport_error_quark ())
GQuark mb_transport_error_quark (void);

typedef enum {
  MB_TRANSPORT_ERROR_LISTEN,   /* cannot bind or resolve the listen address */
  MB_TRANSPORT_ERROR_ADDRESS,  /* not a "host:port" address */
  MB_TRANSPORT_ERROR_CONFIG,   /* a bad setting (environment) */
} MbTransportError;

/* Ids at or above this are never assigned by a transport. */
#define MB_TRANSPORT_NODE_LIMIT 0x40000000u

typedef struct {
  gsize max_frame;           /* decoder limit (bytes after the length); MB_FRAME_DEFAULT_MAX */
  guint max_connections;     /* open connections, both ways; 256 */
  gsize max_queue_bytes;     /* queued for one node before it counts as too slow; 64 MiB */
  guint connect_tries;       /* connect attempts before giving up; 5 */
  guint backoff_initial_ms;  /* first retry delay, doubling; 100 */
  guint connect_timeout_ms;  /* one connect attempt; 10000 */
  guint hello_timeout_ms;    /* for the whole handshake, dial-back included; 10000 */
  guint linger_ms;           /* a closing connection waits this long for the peer's end; 5000 */
  guint max_nodes;           /* distinct addresses remembered; 65536 */
  guint listen_backlog;      /* connections the kernel queues before we accept; 512 */
  guint frame_timeout_ms;    /* an unfinished frame older than this drops its connection; 30000 */
  gsize max_unfinished_bytes;/* unfinished frames over all connections; 64 MiB */
  guint write_stall_ms;      /* a write that makes no progress this long drops its
                                connection; 20000 (0: never) */
  guint drain_window_ms;     /* the uplink backlog counts of a connection at most what
                                the kernel took from it in the last one to two such
                                windows (all of it in a run's first); 1000 (0: every
                                unsent byte counts) */
  guint min_drain_rate;      /* bytes/s: a connection with more than min_drain_queue
                                unsent that drains less, on average over write_stall_ms,
                                is dropped as too slow; 32 KiB/s (0: never) */
  gsize min_drain_queue;     /* 4 MiB */
  guint notsent_lowat;       /* TCP_NOTSENT_LOWAT of every wire socket, bytes; 128 KiB
                                (0: the kernel's default) */
  guint uplink_stuck_ms;     /* a connection writing with no progress this long is stuck:
                                up to 1 MiB of its unsent bytes leave the uplink backlog
                                the core sees (transport-uplink.c); 100 (0: never) */
  guint reads_per_turn;      /* reads of a readable connection per main-loop turn
                                (the kernel may have more after each: a busy
                                connection is read without a poll per read, and
                                does not starve the others); 8, at least 1 */
  guint keepalive_s;         /* TCP keepalive of every wire socket: probes after this
                                many seconds of silence, then every keepalive_s / 3, and
                                TCP_USER_TIMEOUT = 2 x keepalive_s (data unacknowledged
                                that long drops it too): a peer whose host vanished
                                without a FIN (a crash, a link down) is dropped about
                                2 x keepalive_s after it fell silent; 30 (0: the
                                kernel's defaults, hours) */
  const char *advertise_addr;/* our listen address as told in HELLO; NULL: "listen_host:port" */
  GBytes *secret;            /* the cluster secret (cluster-secret.h), or NULL: loopback only;
                                the transport keeps a reference */
  gboolean client;           /* say in our challenges that we are a ring client
                                (MB_CHALLENGE_CLIENT): peers never take us for a member */
} MbTransportConfig;

void mb_transport_config_init (MbTransportConfig *cfg);
/* Overrides from the environment: MINIBIT_WIRE_FRAME_TIMEOUT_MS
 * (frame_timeout_ms, 1..3600000), MINIBIT_WIRE_WRITE_STALL_MS
 * (write_stall_ms, 1..3600000) and MINIBIT_WIRE_MIN_DRAIN_RATE
 * (min_drain_rate, bytes/s, 0..1000000000).  FALSE with an error naming the variable
 * if a value is bad (cfg is then unchanged). */
gboolean mb_transport_config_env (MbTransportConfig *cfg, GError **error);

typedef struct {
  guint64 frames_in;          /* decoded frames, HELLO included */
  guint64 bytes_in;           /* bytes read */
  guint64 frames_out;         /* frames written, HELLO included */
  guint64 bytes_out;          /* bytes written */
  guint64 writes;             /* write calls that wrote something (small
                                 frames queued together go in one) */
  guint64 reads;              /* read calls that read something */
  guint connections_open;     /* connections now open, both ways */
  guint64 connections_accepted;
  guint64 connections_dialled;  /* connects that succeeded */
  guint64 connections_refused;  /* incoming ones closed over max_connections, or
                                   not from loopback without a secret */
  guint64 connections_dropped;  /* closed for bad input, no HELLO, too slow,
                                   a frame too slow or over the memory budget,
                                   a write stalled */
  guint64 write_stalls;         /* of those, dropped because a write made no
                                   progress for write_stall_ms */
  guint64 slow_drains;          /* of those, dropped because over min_drain_queue
                                   they drained below min_drain_rate */
  guint64 uplink_stuck;         /* times a connection's unsent bytes left the uplink
                                   backlog: writing, no progress for 100 ms
                                   (transport-uplink.c), once per such spell */
  guint64 connect_failures;     /* failed connect attempts */
  guint64 auth_failures;        /* handshakes refused (no secret, wrong proof)
                                   and frames with a bad MAC */
  guint64 dialback_failures;    /* accepted connections whose claimed address
                                   did not confirm them */
  guint64 dialbacks_answered;   /* questions answered for others' dial-backs */
  guint64 frames_refused;     /* frames not sent: unknown node, unencodable,
                                 or dropped from a queue unsent */
} MbTransportStats;

typedef struct _MbTransport MbTransport;

typedef void (*MbRecvFn) (gpointer user, MbNodeId from, const MbMessage *msg);
typedef void (*MbDisconnectFn) (gpointer user, MbNodeId node);
typedef void (*MbSessionFn) (gpointer user, MbNodeId node);
typedef void (*MbUplinkReadyFn) (gpointer user);

/* Listens on listen_host:port (port 0: any free port).  `name` goes into
 * HELLO.  cfg may be NULL (defaults).  Uses the thread-default main context. */
MbTransport *mb_transport_new (const char *name, const char *listen_host,
                               guint16 port, const MbTransportConfig *cfg,
                               GError **error);
void mb_transport_free (MbTransport *t);

/* The MbHost to give the core; host->ctx is the transport. */
const MbHost *mb_transport_host (MbTransport *t);
MbNodeId mb_transport_self (MbTransport *t);
guint16 mb_transport_port (MbTransport *t);
const char *mb_transport_listen_addr (MbTransport *t);
void mb_transport_set_handlers (MbTransport *t, MbRecvFn recv,
                                MbDisconnectFn gone, gpointer user);
/* Optional: called (with the handlers' user) each time a connection to a
 * node is authenticated afresh: ours once its handshake is done, the
 * node's once it also proved its address by dial-back. */
void mb_transport_set_session_handler (MbTransport *t, MbSessionFn session);
/* Flow control: called (with the handlers' user) once the uplink backlog
 * has fallen to the `low` of the last host->uplink_notify (see above).  Set
 * it before giving the host to a core that uses flow control (the swarm
 * peer): without one a notify is only remembered (and a warning logged). */
void mb_transport_set_uplink_handler (MbTransport *t, MbUplinkReadyFn ready);
/* The uplink backlog, as host->uplink_backlog. */
guint64 mb_transport_uplink_backlog (MbTransport *t);
/* Every byte queued on open connections and not yet taken by the kernel
 * (the backlog counts only what drains: at most this). */
guint64 mb_transport_unsent_bytes (MbTransport *t);

/* The node for addr, created if new (MB_NODE_NONE if addr is not host:port);
 * the same as host->resolve. */
MbNodeId mb_transport_node (MbTransport *t, const char *addr);
/* The address a node was made for, or NULL for an unknown id. */
const char *mb_transport_node_addr (MbTransport *t, MbNodeId node);
/* The name from the peer's HELLO, or NULL before one arrived. */
/* Whether the node's connection said it is a ring client (its CHALLENGE's
 * MB_CHALLENGE_CLIENT; FALSE without a connection). */
gboolean mb_transport_node_is_client (MbTransport *t, MbNodeId id);
const char *mb_transport_node_name (MbTransport *t, MbNodeId node);
/* TRUE if the node has an established connection. */
gboolean mb_transport_node_connected (MbTransport *t, MbNodeId node);
/* When bytes last came from node's connection after its handshake
 * (monotonic µs, frames whole or not), 0 if none came then or it has no
 * open connection: a peer sending a frame slowly is alive, though no frame
 * of it is whole yet.  Bytes before the peer's proof do not count. */
gint64 mb_transport_node_heard_at (MbTransport *t, MbNodeId node);
/* Bytes queued for the node (on its connection or waiting for one). */
gsize mb_transport_node_queued (MbTransport *t, MbNodeId node);

void mb_transport_get_stats (MbTransport *t, MbTransportStats *out);

/* "host:port" (IPv6 in brackets) into its parts; FALSE unless the host is not
 * empty and the port is 1..65535.  host may be NULL. */
gboolean mb_transport_addr_split (const char *addr, gchar **host, guint16 *port);
/* The inverse: brackets an IPv6 host. */
gchar *mb_transport_addr_join (const char *host, guint16 port);

G_END_DECLS
