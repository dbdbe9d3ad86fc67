/* transport-private.h — what transport.c, transport-conn.c and transport-dial.c
 * share: the transport's objects and the functions one file provides to
 * another.  Not installed.
 *
 *   transport.c        the transport and its nodes, sending, the host,
 *                      accepting, the public API
 *   transport-conn.c   connections: life and death, writing, binding to
 *                      nodes, reading, unfinished frames
 *   transport-auth.c   the handshake: HELLO, CHALLENGE, PROOF, the frame
 *                      MACs, the loopback rule without a secret
 *   transport-verify.c dial-back: proving an accepted connection's claimed
 *                      address (asking), and answering others' questions
 *   transport-dial.c   dialling: connect attempts, timeouts, retries
 *   transport-uplink.c flow control: the bytes queued and not yet written
 *                      (the uplink backlog), and the ready callback
 *
 * Objects: nodes (one per remote listen address, never freed before the
 * transport), connections (MbConn, refcounted: the transport's set holds one
 * reference while the connection is open, every pending async operation or
 * timer holds one), dials (one connect attempt, owned by its callback) and
 * probes (one dial-back, transport-verify.c).
 *
 * Invariants:
 *  - node ids are index + 1 in `nodes`; node 1 is ourselves and never dials;
 *  - a node has at most one active connection (node->conn); frames wait in
 *    node->pending only while it has none, and at most one dial or retry
 *    timer is pending per node;
 *  - a connection is open exactly while conn->t != NULL and it is in
 *    t->conns; once closed, callbacks of its pending operations only drop
 *    their reference;
 *  - a connection writes each batch first without waiting (a nonblocking
 *    writev: what the kernel takes at once is written and counted at once,
 *    and the next batch follows in the same call; a send of a frame under
 *    MB_SEND_SMALL with less than that queued waits for t->flush_idle, so
 *    small frames go out together), and what the kernel
 *    does not take whole with partial async writes (not writev_all), so
 *    progress is seen write by write: while a write is in flight (and
 *    write_stall_ms > 0) it has a stall timer, and progress_at is when the
 *    first write of that run started or the last one wrote something; the
 *    timer drops the connection once progress_at is write_stall_ms old,
 *    and is gone once nothing is being written;
 *  - every connection writes HELLO and CHALLENGE first (hello_sent), its
 *    PROOF once the peer's CHALLENGE came, then DIALBACK frames (ctl), then
 *    its queue in order once it is open, one write in flight at a time;
 *    with a secret, every frame written after our PROOF carries a MAC (tx)
 *    and every frame read after the peer's PROOF is checked (rx, by the
 *    decoder) before it is decoded;
 *  - stages only move forward: HELLO -> CHALLENGE -> PROOF -> (VERIFY) ->
 *    OPEN; only an OPEN connection that is not a probe is bound to a node
 *    as an accepted one, writes its queue or gives frames to the core; an
 *    accepted connection reads nothing while VERIFY (paused);
 *  - conn->verify (an accepted connection under dial-back) and
 *    probe->target point at each other until the dial-back ends; so do
 *    conn->asking (the probe's own connection) and probe->conn;
 *  - a connection that is not its node's active one never becomes active
 *    again except by promotion when the active one ends (a race loser the
 *    peer has not closed yet); frames from it reach the core only while
 *    `deliver` is set;
 *  - the disconnect callback runs from a main-loop callback, never inside a
 *    host call (send defers it through an idle source);
 *  - t->unfinished_bytes is the sum of conn->unfinished over open
 *    connections (each the bytes its decoder held after its last read); a
 *    connection has a frame timer exactly while that is not 0;
 *  - t->unsent_bytes is the sum of conn->unsent over
 *    open connections, each conn->queued_bytes + conn->batch_queued: the
 *    bytes of frames that entered its queue and are not yet written to the
 *    kernel (still queued, or in the write in flight and not yet taken by
 *    the kernel: batch_queued shrinks to what is left of the write as
 *    partial writes complete, the bytes before the queue's frames and
 *    their MACs taken as written first).  Whoever changes a
 *    connection's queue or batch calls mbi_transport_uplink_count (c) after;
 *    closing a connection counts it as 0.  Frames waiting for a connection
 *    (node->pending) and the handshake's and DIALBACK frames are not
 *    counted;
 *  - t->backlog_bytes (the uplink backlog) is the sum of conn->counted over
 *    open connections, each at most its unsent (transport-uplink.c: what
 *    drains); t->drain_tick runs while t->unsent_bytes > 0 (and
 *    drain_window_ms > 0), and stops on its first tick after it is 0;
 *  - the backlog the core is told (mb_transport_uplink_backlog) is
 *    t->backlog_bytes less up to 1 MiB of each stuck connection's counted
 *    bytes: writing, and no write progress for cfg.uplink_stuck_ms (the peer does not read,
 *    or TCP waits on a retransmission timeout): their bytes hold no part
 *    of the link, and counted they kept every other connection's data
 *    back (a real seed sent nothing for 5 s with 340 blocks queued);
 *  - the uplink-ready callback runs only from t->uplink_idle (a main-loop
 *    source), never from inside a host call; it runs once per
 *    uplink_notify, when t->uplink_armed and that backlog is at most
 *    t->uplink_low; while armed above it, t->uplink_recheck looks again
 *    every uplink_stuck_ms / 2 (a connection gets stuck without an event).
 */
#pragma once

#ifndef MB_REAL_TRANSPORT_INTERNAL
#error "transport-private.h is private to real/transport*.c: no other file may include it"
#endif

#include "transport.h"

#include "wire/codec.h"

#define MB_TRANSPORT_SELF 1u

typedef struct _MbConn MbConn;
typedef struct _MbDial MbDial;
typedef struct _MbProbe MbProbe;

typedef struct {
  MbTransport *t;
  MbNodeId id;
  gchar *addr;          /* the address the node was made for */
  gchar *name;          /* from the peer's HELLO */
  gchar *hello_addr;    /* the listen address the peer declares */
  MbConn *conn;         /* active connection, or NULL */
  GQueue pending;       /* GBytes * frames waiting for a connection */
  gsize pending_bytes;
  MbDial *dial;         /* connect in progress, or NULL */
  GSource *retry;       /* backoff timer, or NULL */
  guint tries;          /* failed connects in a row */
  gboolean flush_only;  /* the core disconnected: the dial only delivers pending */
} MbTNode;

typedef enum { MB_TIMER_NONE, MB_TIMER_HELLO, MB_TIMER_LINGER } MbTimerKind;

/* What a connection waits for from its peer. */
typedef enum {
  MB_STAGE_HELLO,       /* its HELLO */
  MB_STAGE_CHALLENGE,   /* its CHALLENGE */
  MB_STAGE_PROOF,       /* its PROOF */
  MB_STAGE_VERIFY,      /* (accepted) our dial-back to its claimed address */
  MB_STAGE_OPEN,        /* nothing: authenticated (and verified) */
} MbConnStage;

/* Frames before the handshake is done are small. */
#define MB_HANDSHAKE_MAX_FRAME 4096u

struct _MbConn {
  gint refs;
  MbTransport *t;       /* NULL once closed */
  GSocketConnection *sc;
  GCancellable *cancel;
  MbDecoder *dec;
  MbTNode *node;        /* NULL until verified (incoming) */
  gchar *peer;          /* the remote socket address, for logs */
  gboolean outgoing;    /* we dialled it */
  MbConnStage stage;
  gboolean probe;       /* a dial-back connection (either end): no node, no core */
  gboolean peer_client; /* its CHALLENGE said MB_CHALLENGE_CLIENT */
  MbProbe *asking;      /* (outgoing probe) the dial-back it carries */
  MbProbe *verify;      /* (accepted, VERIFY) the dial-back proving its claim */
  gchar *claim_sent;    /* the listen address its HELLO claims (its proof covers it) */
  gchar *claim;         /* the same, an unspecified host (0.0.0.0, ::) replaced by
                           the connection's remote address: what dial-back proves */
  gchar *claim_name;    /* the name its HELLO gives */
  guint8 nonce[32];     /* ours (MB_AUTH_NONCE_LEN) */
  guint8 peer_nonce[32];
  GBytes *proof;        /* our PROOF frame, once the peer's CHALLENGE came */
  gboolean proof_sent;  /* in a write: what follows is sealed */
  struct _MbFrameMac *tx, *rx;  /* with a secret, once the nonces are known */
  GQueue ctl;           /* GBytes * DIALBACK frames, written before the queue */
  gboolean paused;      /* reading stopped (VERIFY) */
  gboolean hello_sent;
  gboolean deliver;     /* frames go to the receive callback */
  gboolean finishing;   /* write the queue, then shut our side down */
  gboolean shut;        /* our side is shut down */
  gboolean writing;
  gboolean flush_soon;  /* in t->flush_later */
  GQueue queue;         /* GBytes * frames after HELLO */
  gsize queued_bytes;
  gsize batch_queued;   /* bytes of the queue's frames in the write in flight */
  gsize unsent;         /* queued_bytes + batch_queued, as t->unsent_bytes counts it */
  gsize counted;        /* its share of t->backlog_bytes (transport-uplink.c) */
  gint64 busy_since;    /* monotonic µs: when unsent last rose from 0 */
  gsize drain_cur;      /* bytes the kernel took in this drain window */
  gsize drain_prev;     /* ... and in the one before */
  guint64 drained;      /* bytes the kernel took, in all */
  gint64 slow_since;    /* monotonic µs: start of its period over min_drain_queue, or 0 */
  guint64 slow_mark;    /* `drained` then */
  GBytes *batch;        /* being written */
  guint batch_frames;
  guint8 batch_tag[16]; /* the MAC written after batch, if batch_tagged */
  gboolean batch_tagged;
  GOutputVector wv[2];  /* the write in flight: batch, then batch_tag; what is
                           written of them is cut off as writes complete */
  guint wv_n;           /* vectors in it (1 or 2) */
  guint wv_i;           /* the first not wholly written */
  gint64 progress_at;   /* monotonic µs: the write's start, or its last progress
                           (kept with or without write_stall_ms) */
  gint64 stuck_counted; /* the progress_at of the spell last counted stuck */
  GSource *stall_timer; /* while writing (with write_stall_ms): checks progress_at */
  GSource *timer;
  MbTimerKind timer_kind;
  GSource *frame_timer; /* the unfinished frame's deadline */
  gsize unfinished;     /* decoder bytes counted in t->unfinished_bytes */
  guint8 *rbuf;
  GSource *read_src;    /* while reading: the socket's readable source */
  gint64 heard_at;      /* monotonic µs: the last read that got bytes, or frame
                           delivered, once open (the peer's proof checked), or 0 */
};

struct _MbTransport {
  gchar *name;
  gchar *listen_addr;
  guint16 port;
  MbTransportConfig cfg;
  GMainContext *context;
  MbHost host;
  GSocketService *service;
  gulong incoming_id;
  GSocketClient *client;
  GBytes *hello;
  GBytes *secret;       /* the cluster secret, or NULL: loopback only */
  gboolean is_client;   /* we say MB_CHALLENGE_CLIENT in our challenges */
  GPtrArray *nodes;     /* MbTNode *, owned; index = id - 1 */
  GHashTable *by_addr;  /* owned address -> MbTNode * (aliases too) */
  GHashTable *conns;    /* open MbConn *, one reference each */
  MbRecvFn recv;
  MbDisconnectFn gone;
  MbSessionFn session;
  MbUplinkReadyFn uplink_ready;
  gpointer user;
  gsize unfinished_bytes; /* sum of the open connections' `unfinished` */
  gsize unsent_bytes;   /* sum of the open connections' `unsent` */
  gsize backlog_bytes;  /* the uplink backlog: sum of their `counted` */
  GSource *drain_tick;  /* every drain_window_ms while unsent_bytes > 0, or NULL */
  guint64 uplink_low;   /* uplink_notify's `low` */
  gboolean uplink_armed;/* an uplink_notify awaits its callback */
  gboolean uplink_warned; /* told once that a notify has no handler to call */
  GSource *uplink_idle; /* runs the ready callback, or NULL */
  GSource *uplink_recheck; /* while armed above low: looks for stuck connections */
  GArray *gone_later;   /* MbNodeId: disconnect callbacks to run from idle */
  GSource *gone_idle;
  GPtrArray *flush_later; /* MbConn * (one reference each): small frames queued,
                             written together from flush_idle */
  GSource *flush_idle;
  MbTransportStats stats;
};

/* ---- transport.c ---- */

GSource *mbi_transport_timer (MbTransport *t, guint ms, GSourceFunc fn, gpointer data,
                             GDestroyNotify destroy);
/* Destroys and unrefs *s, if set, and clears it. */
void mbi_transport_source_clear (GSource **s);
/* Drops queued frames, counting them as refused; returns how many. */
guint mbi_transport_frames_drop (MbTransport *t, GQueue *q);
void mbi_transport_frames_move (GQueue *from, gsize *from_bytes, GQueue *to, gsize *to_bytes);
/* The node for addr, created if new; NULL if addr is bad or too many nodes. */
MbTNode *mbi_transport_node_ensure (MbTransport *t, const char *addr);
/* Records the name and listen address the peer's HELLO gave. */
void mbi_transport_node_learn (MbTransport *t, MbTNode *node, const char *name,
                               const char *addr);
/* Tells the core the node is gone: now, or from an idle (inside host calls). */
void mbi_transport_node_notify_gone (MbTransport *t, MbTNode *node, gboolean defer);

/* ---- transport-conn.c ---- */

gchar *mbi_transport_conn_describe (GSocketConnection *sc);
MbConn *mbi_transport_conn_ref (MbConn *c);
/* The last reference frees it (it must be closed by then). */
void mbi_transport_conn_unref (gpointer c);
MbConn *mbi_transport_conn_new (MbTransport *t, GSocketConnection *sc, gboolean outgoing);
/* Both directions: the handshake goes out first, reading starts, the
 * peer's is awaited. */
void mbi_transport_conn_start (MbConn *c);
/* Reading again after VERIFY: the frames already here first. */
void mbi_transport_conn_resume (MbConn *c);
/* Closes at once: pending operations are cancelled, unsent frames dropped.
 * No callback. */
void mbi_transport_conn_close (MbConn *c);
/* Closes a connection that failed or ended; if it was its node's active
 * connection, the core is told.  `warn`: the peer misbehaved. */
void mbi_transport_conn_drop (MbConn *c, gboolean warn, gboolean defer_gone, const char *why);
void mbi_transport_conn_arm (MbConn *c, MbTimerKind kind, guint ms, GSourceFunc fn);
/* Stops the connection's timer if it is of that kind. */
void mbi_transport_conn_disarm (MbConn *c, MbTimerKind kind);
/* The HELLO and LINGER timers' callback (data: a reference to the connection). */
gboolean mbi_transport_conn_on_timer (gpointer data);
/* Queues a frame (taking it) without writing. */
void mbi_transport_conn_push (MbConn *c, GBytes *frame);
/* Starts the next write, if none is in flight. */
void mbi_transport_conn_pump (MbConn *c);
/* c (just dialled, or just verified) belongs to node. */
void mbi_transport_node_bind (MbTransport *t, MbTNode *node, MbConn *c);

/* ---- transport-auth.c ---- */

/* A new connection's nonce and small first frames; FALSE (error set) if
 * no nonce could be drawn. */
gboolean mbi_transport_auth_init (MbConn *c, GError **error);
/* HELLO and CHALLENGE, the first bytes a connection writes. */
void mbi_transport_auth_opening (MbConn *c, GByteArray *out);
/* Appends frame, sealed with its MAC if our PROOF is out and there is a
 * secret. */
void mbi_transport_auth_append (MbConn *c, GByteArray *out, const guint8 *frame, gsize len);
/* A frame of the handshake (stage before OPEN); FALSE if c was closed. */
gboolean mbi_transport_auth_on_frame (MbConn *c, const MbMessage *msg);
/* The dial-back proved c's claim: it becomes its node's (OPEN). */
void mbi_transport_auth_verified (MbConn *c);
/* Whether an incoming connection may be accepted: without a secret only
 * from loopback; *why says why not. */
gboolean mbi_transport_auth_accept_ok (MbTransport *t, GSocketConnection *sc, gchar **why);

/* ---- transport-verify.c ---- */

/* Starts the dial-back of an accepted connection whose PROOF was good. */
void mbi_transport_verify_start (MbConn *c);
/* The probe's own connection is open: asks its question. */
void mbi_transport_verify_ask (MbConn *probe_conn);
/* A DIALBACK frame on an OPEN connection; FALSE if c was closed. */
gboolean mbi_transport_verify_on_dialback (MbConn *c, const MbMessage *msg);
/* c is closing: ends the dial-back it is under or carries. */
void mbi_transport_verify_conn_closed (MbConn *c);

/* ---- transport-uplink.c ---- */

/* Sets the host's uplink_backlog and uplink_notify. */
void mbi_transport_uplink_install (MbTransport *t);
/* Counts c's unsent bytes (0 once it is closing: call it before c->t is
 * cleared) into t->unsent_bytes; if the backlog fell to the notified low,
 * schedules the ready callback. */
void mbi_transport_uplink_count (MbConn *c);
/* The kernel took `bytes` of c's write in flight. */
void mbi_transport_uplink_drained (MbConn *c, gsize bytes);
/* Stops a scheduled ready callback and the drain tick (the transport is
 * being freed). */
void mbi_transport_uplink_clear (MbTransport *t);

/* ---- transport-dial.c ---- */

/* Starts a connect to the node. */
void mbi_transport_dial (MbTransport *t, MbTNode *node);
/* Cancels a connect in progress and any retry; drops frames waiting for them. */
void mbi_transport_abandon_dial (MbTransport *t, MbTNode *node);
