/* ringpeer-private.h — the ring peer's internals, shared by its files:
 *   ringpeer.c        state, views, requests (windows, timeouts), entry points
 *   ringpeer-uplink.c bulk copies held back while the host's uplink is full
 *   ringpeer-serve.c  the server side (store/get chunk and manifest, ...)
 *   ringpeer-serve.c  also: how a manifest that arrives is taken (versions)
 *   op.c              what every operation shares: creation, replies, report,
 *                     owners of a key, "keep here or send" placement
 *   op-quorum.c       reading a name's manifest from a quorum of members
 *   op-store.c, op-store-report.c, op-fetch.c, op-shutdown.c, op-repair.c
 *                     one operation each (store's error text in its own file)
 *   ring-check.c      mb_ringpeer_check: these invariants, verified
 * Not installed.
 *
 * Invariants (mb_ringpeer_check verifies them):
 *  - at most cfg.window Rpcs are in flight to one target; the others wait in
 *    that target's queue, unsent, with no deadline yet (so a big store,
 *    hand-off or repair never floods a connection nor times out waiting), and
 *    only while the window is full;
 *  - with the host's flow control, a chunk copy (a STORE_CHUNK with data)
 *    that has its place in a window goes on the wire only while the host's
 *    uplink backlog is at most cfg.uplink_low; until then it waits in
 *    `uplink` (FIFO, unsent, no deadline yet, its window place counted), so
 *    a request's deadline starts with at most uplink_low bytes (and one
 *    chunk) ahead of it on the uplink, and small frames (answers, pings, a
 *    manifest read) never queue behind megabytes of copies;
 *  - every Rpc in `rpcs` is also in `timeouts`, which is in deadline order
 *    (deadline = sent + rpc_timeout, and time never goes back; a request
 *    whose target kept answering the requests sent before it is given
 *    another rpc_timeout from the last answer, up to RPC_PATIENCE times
 *    rpc_timeout after it was sent, and moved to its place: a slow link
 *    that delivers is no failure); a finished Rpc is removed from `rpcs` at
 *    once and from `timeouts` lazily;
 *  - an op's `pending` is the number of its Rpcs not finished (in flight or
 *    waiting for a place in a window); an op lives until that is 0 and it has
 *    reported; live ops are in `ops`, in creation order (`serial` rises);
 *  - `leavers` holds only members that answered "leaving" and are still in
 *    our view; no operation counts a copy on one or sends one to it;
 *  - `suspects` holds only members not in our view: removed as crashed and
 *    not back since; no quorum shrinks below what the view plus them allow
 *    (a peer cut off from the others is not a ring of its own);
 *  - a manifest enters our store only through mbi_rp_accept_manifest (or a
 *    holder update of the same version), so a newer version is never
 *    replaced by an older one.  (Each op's own invariants: its op-*.c.)
 *
 * Time: `now` is passed down from the entry point to everything that may
 * send (an Rpc's deadline starts when it goes on the wire); nothing keeps it.
 */
#pragma once

#ifndef MB_RING_PEER_INTERNAL
#error "ringpeer-private.h is private to core/ring/ (ringpeer*, op*, ring-check): no other file may include it"
#endif

#include "ring/ringpeer.h"

typedef enum { OP_STORE, OP_FETCH, OP_SHUTDOWN, OP_REPAIR } OpKind;

typedef enum {
  RPC_STORE_CHUNK,
  RPC_STORE_MANIFEST,
  RPC_UPDATE_MANIFEST,
  RPC_GET_MANIFEST,
  RPC_GET_CHUNK,
} RpcKind;

typedef struct _RingOp RingOp;

typedef struct {
  guint32 req;
  RpcKind kind;
  MbNodeId to;
  gchar *target;        /* the member address it went to */
  guint64 deadline;
  guint64 sent_at;      /* when it went on the wire */
  guint64 seq;          /* its place among those sent to its target (1, 2, ...) */
  RingOp *op;
  guint32 index;        /* chunk index, where it applies */
  guint64 bytes;        /* payload sent (moved bytes on success) */
  gchar *key;           /* shutdown: the chunk id or manifest name handed over */
  MbMessage *msg;       /* while it waits for a place in the window */
  guint retries;        /* shutdown: re-targets after a refusal; manifest reads:
                         * times asked again after a dropped connection */
  guint hops;           /* manifest reads: redirects followed to get here */
  gboolean probe;       /* a STORE_CHUNK without data: "do you hold it?" */
  guint64 held_at;      /* when it began to wait for the uplink (in `uplink`) */
  gboolean done;
} Rpc;

/* What an operation does; each op-*.c defines one. */
typedef struct {
  const char *name;
  /* An answer (msg, or NULL on timeout/disconnect) to one of op's rpcs;
   * `pending` no longer counts it.  Must not report. */
  void (*on_reply) (RingOp *op, Rpc *rpc, const MbMessage *msg, guint64 now);
  /* Moves on if it can: the next phase, or the report (which frees op). */
  void (*maybe_finish) (RingOp *op, guint64 now);
  /* Frees what the operation's own struct holds beyond the base. */
  void (*free) (RingOp *op);
  /* The operation's own invariants (may be NULL): FALSE with a reason. */
  gboolean (*check) (const RingOp *op, GString *why);
  /* What it has done so far (may be NULL: no progress to show);
   * kind and name are filled in by the caller. */
  void (*progress) (const RingOp *op, MbRingOpProgress *out);
  /* A deadline of its own beyond its Rpcs' (may be NULL: none), and what
   * it does when that comes (may report). */
  guint64 (*next_expiry) (const RingOp *op);
  void (*on_expiry) (RingOp *op, guint64 now);
} RingOpVtable;

/* The base every operation struct embeds as its first member. */
struct _RingOp {
  const RingOpVtable *vt;
  OpKind kind;
  MbRingPeer *rp;
  gchar *name;
  guint64 serial;           /* creation order */
  guint pending;            /* Rpcs not finished: in flight or waiting */
  gboolean reported;
  MbRingDoneFn done;        /* store, fetch */
  MbShutdownDoneFn shutdown_done;
  gpointer data;
  MbRingResult result;
  gchar *error;
};

struct _MbRingPeer {
  const MbHost *host;
  MbNodeId self;
  gchar *addr;
  MbRingPeerConfig cfg;
  MbStore *store;
  MbRing *view;
  GRand *rand;
  guint32 next_req;
  guint64 next_serial;      /* of the next op */
  GHashTable *rpcs;         /* req -> Rpc* (sent ones) */
  GHashTable *windows;      /* target -> MbiWindow* */
  GQueue timeouts;          /* Rpc*, deadline order */
  GPtrArray *ops;           /* RingOp*, creation order */
  gboolean leaving;
  GHashTable *gone;         /* members that left our view (not since back) */
  GHashTable *leavers;      /* members that answered "leaving" (until they leave
                             * our view): no copy is counted on them or sent to them */
  GHashTable *suspects;     /* members removed from our view as crashed (repair),
                             * not since back nor left: they still count towards
                             * the ring's size in mbi_rp_quorums */
  GQueue uplink;            /* Rpc*: bulk requests held for the uplink, FIFO */
  guint64 uplink_wake;      /* when to look at the backlog again (held ones) */
  guint64 uplink_moved_at;  /* when a held request last went on the wire */
  MbRingPeerStats stats;
  MbPeer *swarm;            /* fetches go through the file's swarm (or NULL) */
};

/* A target's window: how many requests are in flight to it (sent, or held
 * for the uplink), and those waiting for a place. */
typedef struct {
  guint inflight;
  GQueue waiting;   /* Rpc* */
  guint64 launched;       /* requests put on the wire to it so far */
  guint64 answered_at;    /* when the target last answered one of ours */
  guint64 answered_seq;   /* the newest (by seq) of ours it answered */
} MbiWindow;

/* The owners of a key: the first r members of its preference list in a
 * view, as many as asked for (no fixed cap), names borrowed from the view.
 *   g_auto (MbiOwners) o;  mbi_owners_init (&o, view, key, r);
 *   for (guint k = 0; k < o.n; k++) ... o.names[k] ...                      */
#define MBI_OWNERS_INLINE 16
typedef struct {
  guint n;
  const char **names;
  const char *inline_names[MBI_OWNERS_INLINE];
} MbiOwners;

void mbi_owners_init (MbiOwners *o, const MbRing *view, const char *key, guint r);
void mbi_owners_clear (MbiOwners *o);
gboolean mbi_owners_has (const MbiOwners *o, const char *member);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MbiOwners, mbi_owners_clear)

/* ringpeer.c */
MbNodeId mbi_rp_node (MbRingPeer *rp, const char *member);
/* Sends msg (taken) to target for op, or queues it if target's window is
 * full; the rpc counts in op->pending until it is answered or fails. */
Rpc *mbi_rp_send (MbRingPeer *rp, RingOp *op, RpcKind kind, const char *target, MbMessage *msg,
                  guint32 index, guint64 bytes, guint64 now);
gboolean mbi_rp_is_self (const MbRingPeer *rp, const char *member);
/* Puts r (its window place already counted) on the wire: its deadline
 * starts now. */
void mbi_rp_launch (MbRingPeer *rp, Rpc *r, MbMessage *msg, guint64 now);
/* r (not sent, its window place counted) failed without an answer: its
 * window place goes to the next waiting request, its op hears NULL, and r
 * is freed. */
void mbi_rp_fail_unsent (MbRingPeer *rp, Rpc *r, guint64 now);
void mbi_rp_rpc_free (Rpc *r);

/* ringpeer-uplink.c */
/* Whether r, which has a window place, must wait for the uplink (a bulk
 * request while the host has flow control). */
gboolean mbi_uplink_holds (const MbRingPeer *rp, const Rpc *r);
/* Holds r (msg taken) behind the others, then sends what the backlog lets go. */
void mbi_uplink_hold (MbRingPeer *rp, Rpc *r, MbMessage *msg, guint64 now);
/* Sends the held requests, oldest first, while the backlog is at most
 * cfg.uplink_low; sets when to look again.  Never reports. */
void mbi_uplink_pump (MbRingPeer *rp, guint64 now);
/* When a held request needs a look (MB_TIME_NEVER: none held). */
guint64 mbi_uplink_next_expiry (const MbRingPeer *rp);
/* Due at now: the pump; if the uplink has let none go for RPC_PATIENCE x
 * rpc_timeout (a host whose uplink never drains), the held requests fail
 * as timed out.  May report. */
void mbi_uplink_handle_expiry (MbRingPeer *rp, guint64 now);
/* The held requests to node fail (a disconnect).  May report. */
void mbi_uplink_fail_to (MbRingPeer *rp, MbNodeId node, guint64 now);
void mbi_uplink_clear (MbRingPeer *rp);
/* R, W and the read quorum in our view now: R' = min(R, members and
 * suspects: members taken for crashed, not back); W' =
 * min(cfg W, R') (cfg 0: R'/2 + 1); Q' = min(cfg Q, R') (cfg 0: R' - W' + 1),
 * so a read of Q' copies meets every write acknowledged by W' owners. */
typedef struct {
  guint r, w, q;
} MbiQuorums;
MbiQuorums mbi_rp_quorums (const MbRingPeer *rp);
gboolean mbi_rp_in_list (const char *const *list, guint n, const char *member);
/* Drops the holders of m that are members we saw leave: a merge with an
 * older copy must not bring them back. */
void mbi_rp_prune_gone (MbRingPeer *rp, MbManifest *m);

/* A request whose target keeps answering those sent before it may wait this
 * many rpc_timeouts after it was sent (ringpeer.c); a held request waits at
 * most this long for an uplink that lets nothing go (ringpeer-uplink.c). */
#define RPC_PATIENCE 6

/* ringpeer-serve.c: a request from another peer, answered; FALSE if msg is
 * not a request (it is a reply to one of ours). */
gboolean mbi_rp_serve (MbRingPeer *rp, MbNodeId from, const MbMessage *msg, guint64 now);
/* Takes manifest m as a holder of its name would: stores it (a new name),
 * merges its holders (same version and content), replaces what is held (a
 * newer version, or the winner of two equal versions), or refuses it
 * (older, or the loser: MB_ERR_STALE; invalid: MB_ERR_BAD_REQUEST; the store
 * failed: MB_ERR_NO_SPACE or MB_ERR_INTERNAL), *why (may be NULL) then
 * saying why.  MB_ERR_NONE when it is kept. */
MbErrCode mbi_rp_accept_manifest (MbRingPeer *rp, const MbManifest *m, gchar **why);
/* Whether an answer is "this member is leaving" (and notes the member). */
gboolean mbi_rp_note_leaving (MbRingPeer *rp, const char *member, const MbMessage *msg);
gboolean mbi_rp_is_leaver (const MbRingPeer *rp, const char *member);

/* op.c */
/* A new op of `size` bytes (its struct, base first), appended to rp->ops. */
gpointer mbi_op_new (MbRingPeer *rp, const RingOpVtable *vt, OpKind kind, gsize size,
                     const char *name);
void mbi_op_free (RingOp *op);
/* The first failure is the one reported. */
void mbi_op_fail (RingOp *op, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
/* Done: reported, out of rp->ops (the caller then reports and frees). */
void mbi_op_retire (RingOp *op);
/* Retires op, calls its done callback with its result and frees it. */
void mbi_op_report (RingOp *op, const MbManifest *manifest);
/* Routes an answer (or NULL: a failure) to op: pending, on_reply, maybe_finish. */
void mbi_op_reply (RingOp *op, Rpc *r, const MbMessage *msg, guint64 now);

/* Where a copy of something goes: `keep` when this peer is the target (a
 * host need not deliver to itself), else `send` (which may decline). */
typedef struct {
  void (*keep) (RingOp *op, gpointer data, guint64 now);
  void (*send) (RingOp *op, const char *target, gpointer data, guint64 now);
} MbiPlacement;

void mbi_op_place (RingOp *op, const char *target, const MbiPlacement *how, gpointer data,
                   guint64 now);
/* mbi_op_place at each of the R owners of key in our view, in ring order. */
void mbi_op_place_at_owners (RingOp *op, const char *key, const MbiPlacement *how,
                             gpointer data, guint64 now);

Rpc *mbi_op_send_chunk (RingOp *op, const MbManifest *m, guint i, const char *target,
                        GBytes *bytes, guint64 now);
Rpc *mbi_op_send_manifest (RingOp *op, const char *target, const MbManifest *m, guint64 now);
/* Chunk i of m into our store: bytes (real content) or nothing (virtual). */
gboolean mbi_rp_put_local_chunk (MbRingPeer *rp, const MbManifest *m, guint i, GBytes *bytes);
/* msg (a CHUNK) is chunk i of m: length, id and (real content) hash. */
gboolean mbi_rp_chunk_verifies (MbRingPeer *rp, const MbManifest *m, guint i,
                                const MbMessage *msg);

/* op-fetch.c: a piece of swarm `key` arrived (the swarm peer's observer). */
void mbi_rp_on_swarm_piece (gpointer rp, const char *key, guint piece, MbNodeId from,
                            guint64 now);
/* op-repair.c */
/* After a view change from old_view (graceful: the members that left it
 * left gracefully, their keys handed over): the names this peer repairs. */
void mbi_rp_repair (MbRingPeer *rp, MbRing *old_view, gboolean graceful, guint64 now);

/* op-quorum.c: a name's manifest read from a quorum of members.  A reader
 * asks the name's owners (then the members after them) with GET_MANIFEST,
 * `need` of them at a time, a failed one replaced by the next; it ends when
 * `need` members answered or none is left to ask.  With `follow`, a
 * REDIRECT is followed (at most max_hops per thread) and only manifests are
 * answers (a fetch); without, a REDIRECT or "not found" is the answer "not
 * here" (a store reading the version it must exceed).  Our own store counts
 * as a member that answered at once.
 * Invariants: `running` is the number of the op's GET_MANIFEST requests in
 * flight for this reader; a member is asked at most once; `got` holds one
 * manifest per member that gave one; answers <= asked. */
typedef struct {
  gboolean follow;
  guint need;
  GPtrArray *cands;         /* members to ask, in order (gchar*) */
  guint cursor;
  guint running;
  GPtrArray *asked;         /* members asked, or that answered (gchar*) */
  guint answers;            /* manifests, and (without follow) "not here" */
  GPtrArray *got;           /* MbManifest*, one per member that gave one */
  GPtrArray *from;          /* the member each of got came from (gchar*) */
  guint redirects;
  gboolean started;
} MbiRead;

/* Starts reading op->name: candidates are the first `ncand` members of its
 * preference list in our view. */
void mbi_read_start (RingOp *op, MbiRead *rd, gboolean follow, guint need, guint ncand,
                     guint64 now);
/* Routes an answer to one of its GET_MANIFEST requests (msg NULL: failed). */
void mbi_read_on_reply (RingOp *op, MbiRead *rd, Rpc *r, const MbMessage *msg, guint64 now);
gboolean mbi_read_done (const MbiRead *rd);
/* The newest manifest read (borrowed), NULL if none. */
const MbManifest *mbi_read_newest (const MbiRead *rd);
/* Read repair: the newest copy to every member that gave an older one (our
 * own store directly); returns how many were sent or kept. */
guint mbi_read_repair (RingOp *op, MbiRead *rd, guint64 now);
void mbi_read_clear (MbiRead *rd);
gboolean mbi_read_check (const MbiRead *rd, const RingOp *op, GString *why);
