/* ringpeer.h — a peer's part in the ring (EldenRingTorrent), sans-I/O.
 *
 * Files are split into chunks named by their SHA-256; a consistent-hash ring
 * (core/ring/ring.h) whose members are peer addresses decides where things live:
 * chunk c on the R members of preference_list(c), the manifest of file f on
 * the R members of preference_list(f).  A ring peer:
 *  - serves STORE_CHUNK, STORE_MANIFEST, UPDATE_MANIFEST, GET_CHUNK,
 *    GET_MANIFEST, PING and LEAVE_NOTICE; a request for a manifest it does
 *    not hold and does not own in its view is answered with REDIRECT to the
 *    owner in its view (views can be stale);
 *  - runs client operations: store_file (R copies of every chunk, failed
 *    copies handed to the next members, W manifest owners, the next version
 *    of the name; else an error naming what is missing), fetch_file (the
 *    newest of a read quorum of manifest copies; multi-source, rarest chunk
 *    first, failing over between holders), shutdown (the seed's graceful
 *    redistribution, confirmed at R copies), and repair after crashes;
 *  - keeps the newest manifest of a name (versions: content/manifest.h);
 *  - verifies every chunk against its id before storing it (virtual content
 *    in the simulator has nothing to verify), and refuses manifests that are
 *    inconsistent; refused input is counted and changes nothing.
 * Operations report through callbacks.  Requests carry ids; a request that
 * gets no answer within rpc_timeout_us fails over to the next holder/owner.
 */
#pragma once

#include <glib.h>

#include "host.h"
#include "content/manifest.h"
#include "ring/ring.h"
#include "content/store.h"
#include "swarm/peer.h"

G_BEGIN_DECLS

typedef struct {
  guint replication;        /* R: copies of each chunk and manifest (3) */
  guint32 chunk_size;       /* 256 KiB */
  guint max_hops;           /* redirects followed per lookup (3) */
  guint per_holder;         /* outstanding chunk requests per holder (4) */
  guint window;             /* requests in flight to one peer; the rest wait (16) */
  guint64 rpc_timeout_us;   /* 10 s */
  guint64 uplink_low;       /* with the host's flow control: a chunk copy (store,
                             * repair, leave) goes on the wire only while the
                             * uplink backlog is at most this; the rest wait
                             * unsent, their deadlines not started (512 KiB;
                             * G_MAXUINT64: never held) */
  guint64 uplink_poll_us;   /* how often a held copy looks at the backlog again
                             * when the host does not tell its uplink's rate
                             * (10 ms; with the rate: when it will have drained) */
  guint write_quorum;       /* W: manifest owners that must acknowledge a store
                             * (0: a majority of R, R/2 + 1) */
  guint read_quorum;        /* copies of a manifest a fetch reads before it takes
                             * the newest (0: R - W + 1, so reads meet writes) */
  guint handoff_tries;      /* store: members tried after the R owners for each
                             * copy that failed (hinted hand-off) (4) */
  gboolean virtual_content; /* simulator: chunks are generated, never held */
  guint64 swarm_stall_us;   /* fetch with a swarm peer: chunks no connected remote
                             * has are asked with GET_CHUNK once the swarm has
                             * brought nothing for this long (3 s) */
  gboolean leave_in_store;  /* fetch: the chunks stay in the store and the
                             * result has no content; the caller assembles
                             * the file (real mode streams it to disk) */
} MbRingPeerConfig;

void mb_ringpeer_config_init (MbRingPeerConfig *cfg);

typedef struct _MbRingPeer MbRingPeer;

typedef struct {
  gboolean ok;
  const char *error;        /* why it failed (NULL if ok) */
  guint chunks_placed;      /* store: chunk copies acknowledged */
  guint chunks_failed;      /* store: copies that failed; fetch: chunks not got */
  guint manifest_owners;    /* store: manifest owners that acknowledged */
  guint replication;        /* store: copies wanted of each chunk, min(R, members and
                             * members taken for crashed: mbi_rp_quorums) */
  guint write_quorum;       /* store: W, owners that had to acknowledge the manifest */
  guint chunks_short;       /* store: chunks with fewer than `replication` copies */
  guint copies_missing;     /* store: the copies those lack */
  guint handoffs;           /* store: copies acknowledged by members after the
                             * owners (hinted hand-off) */
  guint manifest_copies;    /* store: manifest copies acknowledged, hand-offs too */
  guint manifests_read;     /* fetch: copies of the manifest read (the read quorum) */
  guint64 version;          /* store: the version written; fetch: the one read */
  gboolean stale;           /* store: refused, a holder keeps a newer version */
  guint sources;            /* fetch: distinct holders (or swarm remotes) that gave
                             * us chunks */
  guint chunks_swarm;       /* fetch: chunks got through the file's swarm */
  guint redirects;          /* fetch: redirects followed for the manifest */
  guint lookups_failed;     /* fetch: 1 if no owner answered for the manifest */
  guint64 bytes;            /* bytes stored / fetched */
  const MbManifest *manifest;
  GBytes *content;          /* fetch, real content, unless leave_in_store:
                             * the file's bytes */
} MbRingResult;

/* A graceful leave's report.  *_redistributed: copies handed to members
 * that did not hold them (and acknowledged); *_confirmed: keys this peer
 * held that are now on R other members (acknowledged); *_failed: keys that
 * could not be confirmed at R copies (this peer keeps them). */
typedef struct {
  guint manifests_redistributed, manifests_failed;
  guint chunks_redistributed, chunks_failed;
  guint64 bytes_moved;
  guint manifests_confirmed, chunks_confirmed;
} MbShutdownReport;

typedef void (*MbRingDoneFn) (MbRingPeer *rp, const MbRingResult *r, gpointer data);
typedef void (*MbShutdownDoneFn) (MbRingPeer *rp, const MbShutdownReport *r, gpointer data);

/* `self_addr` is this peer's member name on the ring (its address).  The
 * store is borrowed; the view is referenced; rand is owned. */
MbRingPeer *mb_ringpeer_new (const MbHost *host, MbNodeId self, const char *self_addr,
                             const MbRingPeerConfig *cfg, MbStore *store, MbRing *view,
                             GRand *rand);
void mb_ringpeer_free (MbRingPeer *rp);

/* One system: with a swarm peer (borrowed; same host, node and store; it
 * outlives the ring peer), a fetch_file is the file's swarm.  After the
 * manifest is read, the fetch joins the swarm of its content
 * (mb_peer_join_swarm: the tracker's peers for it, and the manifest's
 * holders and the chunks' owners in our view as sources, those holding
 * most chunks first); chunks come as swarm pieces, verified against their
 * ids, and the fetcher serves what it has to the others while it fetches.
 * A chunk no connected remote has is asked of its holders with GET_CHUNK
 * once the swarm has brought nothing for swarm_stall_us, and every chunk
 * left after 3 x swarm_stall_us, so a fetch never waits on a swarm that
 * cannot (or, through a stale connection, does not) give it.  When every chunk is here the
 * owners are told (update_manifest), as without a swarm; the peer stays
 * in the swarm as a seed until it is idle (peer.h).  A fetch that fails
 * leaves the swarm.  The ring peer takes the swarm peer's piece observer. */
void mb_ringpeer_set_swarm (MbRingPeer *rp, MbPeer *swarm);

/* A new view of the members (takes a reference).  With `repair` (members
 * were found dead, not left gracefully), this peer restores R copies of what
 * it is responsible for: the first surviving owner of each manifest it holds
 * copies the manifest and under-replicated chunks to their new owners.
 * Without (members left gracefully, their keys handed over), it puts the
 * holder lists of those manifests right: a chunk listed at a leaver is
 * listed at the owners that hold it now (asked), and copied where it is
 * still short of R (op-repair.c). */
void mb_ringpeer_set_view (MbRingPeer *rp, MbRing *view, gboolean repair, guint64 now);
MbRing *mb_ringpeer_view (const MbRingPeer *rp);

/* Stores a file: content (real) or NULL with `size` (virtual, generated from
 * the name).  Reports chunks placed and manifest owners. */
void mb_ringpeer_store_file (MbRingPeer *rp, const char *name, GBytes *content, guint64 size,
                             guint64 now, MbRingDoneFn done, gpointer data);
/* The same for real content whose manifest mb_manifest_new_hashed made with
 * this peer's chunk size (e.g. on a worker thread); takes the manifest.
 * The chunk ids are trusted: they come from this process. */
void mb_ringpeer_store_hashed (MbRingPeer *rp, MbManifest *hashed, GBytes *content,
                               guint64 now, MbRingDoneFn done, gpointer data);
void mb_ringpeer_fetch_file (MbRingPeer *rp, const char *name, guint64 now,
                             MbRingDoneFn done, gpointer data);
/* The seed's graceful shutdown: scan, compute new owners without this peer,
 * transfer, drop what was transferred, report.  The peer keeps answering
 * requests until done is called; the caller then leaves the tracker. */
void mb_ringpeer_shutdown (MbRingPeer *rp, guint64 now, MbShutdownDoneFn done, gpointer data);
gboolean mb_ringpeer_is_leaving (const MbRingPeer *rp);

/* Handles a ring message (FALSE if the type is not a ring message). */
gboolean mb_ringpeer_receive (MbRingPeer *rp, MbNodeId from, const MbMessage *msg, guint64 now);
/* The host lost `node`: its pending requests fail over now. */
void mb_ringpeer_on_disconnect (MbRingPeer *rp, MbNodeId node, guint64 now);
guint64 mb_ringpeer_next_expiry (const MbRingPeer *rp);
/* Requests of ours not finished (sent or waiting for a place in a window)
 * whose target is a member of our view: 0 once what we asked of the ring
 * is settled, but for requests to members taken for gone, which only time
 * out.  O(requests). */
guint mb_ringpeer_requests_to_members (const MbRingPeer *rp);
void mb_ringpeer_handle_expiry (MbRingPeer *rp, guint64 now);

typedef struct {
  guint64 refused_chunks;     /* content did not match its id */
  guint64 refused_manifests;  /* inconsistent manifests */
  guint64 redirects_sent;
  guint64 requests_served;
  guint64 repairs_started;    /* chunk or manifest copies made to restore R */
  guint64 repair_bytes;
  guint64 rpc_timeouts;
  guint64 rpc_extended;     /* deadlines moved on: the target was still answering
                             * the requests sent before (a slow link) */
  guint64 uplink_held;      /* chunk copies that waited, unsent, for the host's
                             * uplink backlog to fall to uplink_low */
  guint64 stale_refused;      /* manifests refused: an older version, or the
                               * losing side of a conflict */
  guint64 conflicts;          /* equal versions of different contents met */
  guint64 read_repairs;       /* older copies a fetch's read found and replaced */
  guint64 handoffs;           /* store: chunk copies acknowledged by members after
                               * the owners (hinted hand-off) */
  guint64 leave_chunks_moved;     /* graceful leave: chunk copies handed to members
                                   * that did not hold them (acknowledged) */
  guint64 leave_manifests_moved;  /* ... and manifest copies */
  guint64 leave_bytes_moved;      /* the bytes of both */
} MbRingPeerStats;

void mb_ringpeer_stats (const MbRingPeer *rp, MbRingPeerStats *out);

/* An operation in progress (stores and fetches; a leave or a repair has no
 * entry). */
typedef struct {
  const char *kind;         /* "store" or "fetch" */
  const char *name;         /* the file's name, borrowed: valid until the next
                             * call into the peer */
  guint chunks_total;       /* the file's chunks; 0 while unknown (a fetch
                             * before its manifest is read) */
  guint chunks_done;        /* store: chunks with R' copies acknowledged;
                             * fetch: chunks held here (those held before too) */
  guint64 bytes;            /* store: bytes of the copies acknowledged (R' per
                             * chunk); fetch: bytes of the chunks done */
  guint64 bytes_total;      /* store: the file's size x R'; fetch: its size;
                             * 0 while unknown */
} MbRingOpProgress;

/* The stores and fetches running, oldest first: an array of
 * MbRingOpProgress (free with g_array_unref). */
GArray *mb_ringpeer_progress (const MbRingPeer *rp);

/* Debugging: verifies the peer's internal invariants (requests in flight
 * within each window, every sent request awaiting its timeout, timeouts in
 * deadline order, each operation's pending count equal to its unfinished
 * requests, operations in creation order, ...).  FALSE, with the reason
 * appended to `why` (may be NULL), if one is broken.  O(requests + ops). */
gboolean mb_ringpeer_check (const MbRingPeer *rp, GString *why);

/* Tests of mb_ringpeer_check only: breaks one invariant on purpose (the
 * peer can still be freed, nothing more).  FALSE if the state has nothing
 * to break that way (e.g. no request in flight). */
typedef enum {
  MB_RING_CORRUPT_WINDOW,     /* a window counts more than cfg.window in flight */
  MB_RING_CORRUPT_PENDING,    /* the oldest op's pending count is one too high */
  MB_RING_CORRUPT_DEADLINES,  /* the first timeout is due after the second */
  MB_RING_CORRUPT_UNTRACKED,  /* an unfinished request is dropped from rpcs */
  MB_RING_CORRUPT_OP_ORDER,   /* the two oldest ops swap places */
} MbRingCorruption;

gboolean mb_ringpeer_debug_corrupt (MbRingPeer *rp, MbRingCorruption what);

G_END_DECLS
