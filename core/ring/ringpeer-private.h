/* ringpeer-private.h — the ring peer's internals, shared by ringpeer.c
 * (state, views, the server side, requests and their timeouts) and
 * ringpeer-ops.c (store_file, fetch_file, shutdown, repair).  Not installed.
 *
 * Invariants:
 *  - at most cfg.window Rpcs are in flight to one target; the others wait in
 *    that target's queue, unsent, with no deadline yet (so a big store,
 *    hand-off or repair never floods a connection nor times out waiting);
 *  - every Rpc in `rpcs` is also in `timeouts`, which is in deadline order
 *    (deadline = sent + rpc_timeout, and time never goes back); a finished
 *    Rpc is removed from `rpcs` at once and from `timeouts` lazily;
 *  - an Op lives until its `pending` count of Rpcs and queued work is 0 and
 *    it has reported; ops are kept in creation order.
 */
#pragma once

#ifndef MB_RING_PEER_INTERNAL
#error "ringpeer-private.h is private to core/ring/ringpeer*.c: no other file may include it"
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

typedef struct _Op Op;

typedef struct {
  guint32 req;
  RpcKind kind;
  MbNodeId to;
  gchar *target;        /* the member address it went to */
  guint64 deadline;
  Op *op;
  guint32 index;        /* chunk index, where it applies */
  guint64 bytes;        /* payload sent (moved bytes on success) */
  gchar *key;           /* shutdown: the chunk id or manifest name handed over */
  MbMessage *msg;       /* while it waits for a place in the window */
  guint retries;        /* shutdown: re-targets after a refusal */
  gboolean done;
} Rpc;

/* Fetch state per chunk. */
enum { CH_NEED = 0, CH_INFLIGHT, CH_DONE, CH_FAILED };

struct _Op {
  OpKind kind;
  MbRingPeer *rp;
  gchar *name;
  MbManifest *manifest;
  guint pending;            /* rpcs in flight */
  gboolean reported;
  MbRingDoneFn done;
  MbShutdownDoneFn shutdown_done;
  gpointer data;
  MbRingResult result;
  MbShutdownReport report;
  gchar *error;
  /* store */
  GBytes **chunk_bytes;     /* per chunk (real content), else NULL */
  gboolean manifest_phase;
  /* fetch */
  guint8 *state;            /* per chunk: CH_* */
  GPtrArray **tried;        /* per chunk: members already asked for it (gchar*) */
  GHashTable *load;         /* member -> chunk requests in flight to it */
  guint inflight;           /* chunk requests in flight, all members */
  guint capacity;           /* per_holder x distinct holders: more cannot be in flight */
  guint scan_from;          /* order[0 .. scan_from) are not waiting (CH_NEED) */
  guint *pos;               /* chunk index -> its position in order */
  guint *order;             /* chunk indices, rarest first */
  GHashTable *sources;      /* member -> 1 (lookup only) */
  GPtrArray *owners;        /* manifest owners to try (gchar*) */
  guint owner_cursor;
  guint hops;
  gboolean lookup_done;
  /* shutdown */
  GPtrArray *moved_chunks;     /* ids to drop once acknowledged */
  GPtrArray *moved_manifests;  /* names */
  /* repair: chunk copies waiting for their bytes */
  GPtrArray *repair_targets;   /* per chunk index: GPtrArray of targets, or NULL */
  GPtrArray *gained;           /* repair: owners of the name that lack it (gchar*) */
  gboolean chunks_changed;     /* repair: some chunk got a new holder */
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
  GHashTable *rpcs;         /* req -> Rpc* (sent ones) */
  GHashTable *windows;      /* target -> Window* */
  GQueue timeouts;          /* Rpc*, deadline order */
  GPtrArray *ops;           /* Op*, creation order */
  gboolean leaving;
  GHashTable *gone;         /* members that left our view (not since back) */
  guint64 now;
  MbRingPeerStats stats;
};

/* ringpeer.c */
MbNodeId mbi_rp_node (MbRingPeer *rp, const char *member);
Rpc *mbi_rp_send (MbRingPeer *rp, Op *op, RpcKind kind, const char *target, MbMessage *msg,
                 guint32 index, guint64 bytes);
gboolean mbi_rp_is_self (const MbRingPeer *rp, const char *member);
/* The R owners of key in view (member names, borrowed from the view). */
guint mbi_rp_owners (const MbRing *view, const char *key, guint r, const char **out);
gboolean mbi_rp_in_list (const char *const *list, guint n, const char *member);
/* Drops the holders of m that are members we saw leave: a merge with an
 * older copy must not bring them back. */
void mbi_rp_prune_gone (MbRingPeer *rp, MbManifest *m);
guint32 mbi_rp_chunk_len (const MbManifest *m, guint i);
/* The chunk's bytes from the store: TRUE if held (data NULL when virtual). */
gboolean mbi_rp_local_chunk (MbRingPeer *rp, const char *id, GBytes **data, guint32 *len);

/* ringpeer-ops.c */
Op *mbi_op_new (MbRingPeer *rp, OpKind kind, const char *name);
void mbi_op_maybe_finish (Op *op);
void mbi_op_free (Op *op);
/* An answer (msg, or NULL on timeout/disconnect) to one of op's rpcs. */
void mbi_op_on_reply (Op *op, Rpc *rpc, const MbMessage *msg);
void mbi_rp_repair (MbRingPeer *rp, MbRing *old_view, guint64 now);
