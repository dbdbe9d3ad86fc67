/* peer.h — a swarm peer (MiniBit's Peer, faithful to BEP 3), sans-I/O.
 *
 * A peer joins one swarm per file (mb_peer_add_swarm), registers with the
 * tracker, connects to the peers it is given (handshake, then bitfield),
 * keeps peers informed with `have`, and trades blocks: requests pipelined up
 * to `pipeline` per connection, picked by the piece picker, served to the
 * peers the choker unchokes.  A piece is whole when all its blocks arrived;
 * it is verified against its chunk id (SHA-256) before it is stored and
 * announced.  What a peer has is what its store holds.
 *
 * Bad input from a remote (a request out of range or for a piece we lack, a
 * piece we did not request, a malformed bitfield, a have out of range) drops
 * that connection only (MbHost.disconnect), never the peer.
 *
 * Uploads are queued per connection and handed to the host only as its
 * uplink drains (MbHost.uplink_backlog / uplink_notify, then
 * mb_peer_on_uplink_ready), one block per unchoked connection in turn; a
 * CHOKE or CANCEL drops what was not handed over yet.  A host without flow
 * control gets every block at once.
 *
 * With `virtual_content` (the simulator) pieces carry no bytes: blocks are
 * sent with data == NULL and length set, chunks are stored virtual, and
 * verification has nothing to check.
 */
#pragma once

#include <glib.h>

#include "swarm/bitfield.h"
#include "swarm/choker.h"
#include "host.h"
#include "content/manifest.h"
#include "content/store.h"

G_BEGIN_DECLS

typedef struct {
  MbStrategy strategy;
  guint32 block_size;            /* 16 KiB */
  guint pipeline;                /* least outstanding requests per connection: 5 */
  guint pipeline_max;            /* most, when the connection is fast: 250 */
  guint64 request_queue_us;      /* keep this much of a connection's rate
                                    requested (libtorrent's request_queue_time): 3 s */
  guint regular_slots;           /* 3 */
  guint64 rechoke_interval_us;   /* 10 s */
  guint optimistic_rounds;       /* rechokes per optimistic rotation: 3 (30 s) */
  guint64 snub_timeout_us;       /* 60 s */
  guint64 request_timeout_us;    /* a connection we have requests out to that sends no
                                    block this long is stalled: its requests go back to
                                    the picker (CANCELs sent, late blocks still taken),
                                    it gets no new ones and its pieces count as nowhere
                                    (mb_peer_availability) until a block comes; stalled
                                    and silent (no message) this long again, it is closed
                                    (libtorrent's piece_timeout, then its inactivity
                                    close); 0: never: 20 s */
  MbSeedChoke seed_choke;        /* how a seed fills its slots: round-robin */
  guint seed_piece_quota;        /* round robin: pieces a peer gets before it yields: 20 */
  guint max_extra_slots;         /* unchoke up to this many more peers while the uplink runs
                                    dry (libtorrent's rate-based choker, in spirit); 0 = fixed
                                    slots: 8 */
  gboolean spare_round_robin;    /* a leecher's extra slots (those max_extra_slots opened)
                                    go to the interested peer unchoked longest ago rather than
                                    the next best uploader (libtorrent ranks them all by rate):
                                    FALSE */
  guint64 slot_check_us;         /* between rechokes, this often: an uplink (of known rate)
                                    used below 90% with an interested peer choked opens an
                                    extra slot at once (0: only at rechokes): 0 */
  guint random_first;            /* pieces picked at random first: 4 */
  guint target_conns;            /* ask the tracker again below this: 20 */
  guint max_conns;               /* refuse connections beyond this: 40 */
  guint64 announce_interval_us;  /* re-register with the tracker: 300 s */
  gboolean seed_preempt;         /* a seed serves a peer it never unchoked at once,
                                    in place of one that got a piece or more: yes */
  guint64 tracker_retry_us;      /* at most one peer-list request per: 15 s */
  guint64 tracker_ramp_us;       /* ... but every 2 s while below target_conns and the
                                    tracker keeps naming new peers (it names 5 a time) */
  guint32 max_request;           /* largest block we serve: 128 KiB */
  guint32 send_watermark;        /* hand the host blocks while its uplink backlog is
                                    below the send limit (at most this); ask to be woken
                                    at a quarter of it: 128 KiB */
  guint32 send_watermark_low;    /* ... the send limit is at least this: 16 KiB */
  guint64 send_buffer_us;        /* ... and otherwise this much of the upload rate of the
                                    last rechoke round (libtorrent's watermark factor);
                                    0: always send_watermark: 500 ms */
  guint max_queued_requests;     /* a connection's requests queued at most (more are
                                    refused, as libtorrent's max_allowed_in_request_queue): 500 */
  guint64 pex_interval_us;       /* peer exchange (BEP 11): send each connection some of
                                    our peers this often (rounded to rechokes); 0 = off: off */
  guint pex_max;                 /* peers per PEX message (more are a violation x2): 50 */
  gboolean super_seeding;        /* as a seed, show each peer one piece at a time (BEP 16): FALSE */
  gboolean super_seeding_spread; /* ... the next only once another peer holds the last
                                    one shown (BEP 16): TRUE */
  gboolean endgame;              /* ask idle connections for blocks already requested
                                    elsewhere once none is left unrequested: TRUE */
  guint max_served_swarms;       /* swarms a hello carrying a manifest may make us join
                                    to serve the chunks of it we hold (ring fetches): 32 */
  guint64 swarm_idle_us;         /* a swarm joined for a ring file (mb_peer_join_swarm, or
                                    to serve) is left once it has had no connection this
                                    long and has nothing left to fetch: 60 s */
  guint tyrant_gamma_pm;         /* bittyrant: u_p shrinks by this, per mille, each round
                                    after tyrant_rounds reciprocated ones (choker.h): 100 */
  guint tyrant_delta_pm;         /* ... and grows by this when not reciprocated: 200 */
  guint tyrant_rounds;           /* ... r: 3 */
  guint propshare_optimistic_pm; /* propshare: the optimistic unchoke's share of the
                                    upload, per mille: 200 */
  gboolean virtual_content;      /* simulator: no bytes held or sent */
  gboolean accept_initial_blocks;/* honour the tracker's initial_blocks */
} MbPeerConfig;

void mb_peer_config_init (MbPeerConfig *cfg);

typedef struct _MbPeer MbPeer;

/* store is borrowed (outlives the peer); rand is owned. */
MbPeer *mb_peer_new (const MbHost *host, MbNodeId self, const char *name,
                     const char *addr, MbNodeId tracker, const MbPeerConfig *cfg,
                     MbStore *store, GRand *rand);
void mb_peer_free (MbPeer *p);

const char *mb_peer_name (const MbPeer *p);
MbNodeId mb_peer_node (const MbPeer *p);

/* Joins the swarm of m's file: pieces whose chunk the store holds are had.
 * Registers with the tracker at `now`.  FALSE if already in it. */
gboolean mb_peer_add_swarm (MbPeer *p, const MbManifest *m, guint64 now);
/* ---- swarms of ring files (peer-ring.c) ----
 * A ring fetch (core/ring) of a file many peers want is a swarm.  Its key
 * names the file's content, not only its name ("NAME#" and 16 hex digits
 * of mb_manifest_content_hash), so a manifest of other content cannot take
 * its swarm.  The fetcher joins it (mb_peer_join_swarm), registers with the
 * tracker under the key (when it has one), and dials the manifest's holders
 * as sources with the manifest (without holders) in its hello.  A holder
 * that is not in that swarm joins it on such a hello if the manifest is
 * valid, its key matches, it holds at least one of its chunks, it has at
 * most 65,536 chunks and the peer serves fewer than max_served_swarms: it serves what it holds and never downloads
 * (it is not interested and does not ask the tracker).  Pieces such a
 * swarm gets are stored with mb_store_put_fetched (a store that writes the
 * fetched file streams them there).  Either kind of swarm is left once it
 * has had no connection for swarm_idle_us and nothing left to fetch. */

/* The swarm key of m's content (free it). */
gchar *mb_peer_swarm_key (const MbManifest *m);
/* Joins the swarm `key` of m to fetch it (or, if we serve it already, turns
 * that into a fetch), registers with the tracker, and dials `sources`
 * (addresses; ourselves and peers already connected are skipped) as far as
 * target_conns allows, in the order given.  FALSE if the peer has left. */
gboolean mb_peer_join_swarm (MbPeer *p, const MbManifest *m, const char *key,
                             const char *const *sources, guint n_sources, guint64 now);
/* Leaves one swarm: LEAVE for it to the tracker (if registered), its
 * connections dropped (the host is told of those in no other swarm). */
void mb_peer_leave_swarm (MbPeer *p, const char *key, guint64 now);
/* Chunk `piece` of swarm `key` arrived another way (the ring's GET_CHUNK)
 * and is in the store: had, announced, no longer requested. */
void mb_peer_piece_stored (MbPeer *p, const char *key, guint piece, guint64 now);
/* Remotes connected in swarm `key` that have `piece` (0 if not in it);
 * stalled connections (request_timeout_us) do not count. */
guint mb_peer_availability (const MbPeer *p, const char *key, guint piece);
/* Called when a piece of a swarm is verified and stored (from: the remote
 * that completed it).  One observer; NULL to remove. */
typedef void (*MbPeerPieceFn) (gpointer data, const char *key, guint piece, MbNodeId from,
                               guint64 now);
void mb_peer_set_piece_observer (MbPeer *p, MbPeerPieceFn fn, gpointer data);
/* Why swarm `key` stopped fetching: the first verified piece our own store
 * could not keep (disk full, I/O error), or NULL (also: no such swarm). */
const char *mb_peer_swarm_store_error (const MbPeer *p, const char *key);
/* Whether the peer is in swarm `key` only to serve it. */
gboolean mb_peer_swarm_serving_only (const MbPeer *p, const char *key);
/* Whether we serve chunk `chunk_id` to node `from` through a swarm: a swarm
 * of a ring file we are in, with connections, has its piece, and `from` said
 * hello to that swarm and has not had its connection in it closed since
 * (then nothing would bring it the piece from us), or was refused (we were
 * full: it is in the swarm, with others) and has not been told so before.
 * The ring peer then refuses from's GET_CHUNK for it as choked: our uplink
 * goes to the swarm first, and `from` gets the piece there.  A refused node
 * is told once per swarm (this call remembers it): its later GET_CHUNKs
 * are served, so a chunk the others never got does not wait for ever.
 * O(swarms x pieces). */
gboolean mb_peer_ring_serving_chunk (MbPeer *p, const char *chunk_id, MbNodeId from);

/* Leaves every swarm: LEAVE to the tracker, connections dropped. */
void mb_peer_leave (MbPeer *p, guint64 now);

void mb_peer_receive (MbPeer *p, MbNodeId from, const MbMessage *msg, guint64 now);
/* The host lost the connection to `from` (or it dropped it for us). */
void mb_peer_on_disconnect (MbPeer *p, MbNodeId from, guint64 now);
/* A performance hint, no effect on behaviour: a driver that knows a message
 * from `from` will be passed to mb_peer_receive soon may call this with
 * depth 0, 1, ... MB_PEER_PREFETCH_DEPTHS - 1 (one call each, some time apart, in that order); each
 * call prefetches the next level of the peer's state that message will
 * read, reading only what the call before prefetched. */
#define MB_PEER_PREFETCH_DEPTHS 5
void mb_peer_prefetch (const MbPeer *p, MbNodeId from, const MbMessage *msg, guint depth);
/* A performance hint like mb_peer_prefetch, for a coming
 * mb_peer_on_uplink_ready: depth 0 .. MB_PEER_PREFETCH_UPLINK_DEPTHS - 1,
 * in that order; no effect on behaviour. */
#define MB_PEER_PREFETCH_UPLINK_DEPTHS 4
void mb_peer_prefetch_uplink (const MbPeer *p, guint depth);
/* The host's uplink backlog fell as low as the core asked (uplink_notify). */
void mb_peer_on_uplink_ready (MbPeer *p, guint64 now);
/* Blocks queued for upload and not yet handed to the host (all swarms). */
guint mb_peer_upload_queued (const MbPeer *p);
guint64 mb_peer_next_expiry (const MbPeer *p);
void mb_peer_handle_expiry (MbPeer *p, guint64 now);

typedef struct {
  guint64 bytes_up;        /* piece payload sent */
  guint64 bytes_down;      /* piece payload received (verified or not) */
  guint64 completed_at;    /* when the last piece verified; MB_TIME_NEVER */
  guint64 joined_at;
  guint pieces;            /* pieces had */
  guint n_pieces;
  guint n_conns;
  guint64 bad_pieces;      /* pieces that failed verification */
  guint64 dropped_conns;   /* connections dropped for bad input */
  guint64 refused_requests;/* requests refused (choked, not held, out of range) */
  guint64 bytes_dup;       /* piece payload received that was no longer needed */
  guint64 requests_sent;
  guint64 cancels_sent;
  guint64 cancels_honoured;/* remote cancels that dropped a queued block */
  guint64 requests_timed_out; /* our requests given back because their connection
                              stalled (request_timeout_us) */
  guint64 stalls;          /* connections stalled (request_timeout_us) */
  guint64 silent_closes;   /* stalled connections closed for silence */
  gboolean endgame;
} MbPeerStats;

/* FALSE if the peer is not in that swarm. */
gboolean mb_peer_stats (const MbPeer *p, const char *file, MbPeerStats *out);
gboolean mb_peer_is_unchoking (const MbPeer *p, const char *file, MbNodeId remote);
gboolean mb_peer_is_optimistic (const MbPeer *p, const char *file, MbNodeId remote);
gboolean mb_peer_is_connected (const MbPeer *p, const char *file, MbNodeId remote);
/* Appends (MbNodeId) every node the peer has a connection with, in any swarm,
 * once each, in connection order. */
void mb_peer_connected_nodes (const MbPeer *p, GArray *out);
/* When the peer completed the file, MB_TIME_NEVER if not (yet). */
/* Swarms whose whole file this peer has held (O(1): a cheap test before
 * mb_peer_completed_at). */
guint mb_peer_n_completed (const MbPeer *p);
guint64 mb_peer_completed_at (const MbPeer *p, const char *file);
gboolean mb_peer_has_piece (const MbPeer *p, const char *file, guint piece);
/* A number that changes whenever a piece is gained or lost in any swarm, or
 * a swarm is joined (a cheap test before mb_peer_have; it wraps). */
guint32 mb_peer_have_stamp (const MbPeer *p);
/* The pieces had, or NULL if not in that swarm (owned by the peer). */
const MbBitfield *mb_peer_have (const MbPeer *p, const char *file);

/* ---- introspection for a real peer's /status and /metrics ---- */

/* The swarms' keys (file names, or ring keys), in join order (borrowed:
 * valid until the next call into the peer that may join or leave one). */
void mb_peer_swarm_keys (const MbPeer *p, GPtrArray *out);
/* The manifest of swarm `key` (borrowed, as above), NULL if not in it. */
const MbManifest *mb_peer_swarm_manifest (const MbPeer *p, const char *key);

typedef struct {
  MbNodeId node;
  const char *name;          /* its peer id (borrowed), NULL if not told yet */
  const char *addr;          /* where it listens (borrowed), may be NULL */
  gboolean established;
  gboolean am_choking, am_interested, peer_choking, peer_interested;
  gboolean optimistic;       /* our optimistic unchoke */
  guint64 down_bytes_s;      /* payload rate from it over the last rechoke rounds */
  guint64 up_bytes_s;        /* ... to it */
  guint remote_pieces;       /* pieces its bitfield and haves say it has */
  guint requests_out;        /* our requests to it, outstanding */
  guint uploads_queued;      /* its requests we hold, not yet handed to the host */
  gboolean stalled;          /* our requests to it timed out (request_timeout_us) and
                                no block came since */
} MbPeerConnInfo;

/* Appends an MbPeerConnInfo per connection of swarm `key` (connection
 * order); the rates are over the last full rechoke round and the current
 * one, at `now`.  FALSE if not in that swarm. */
gboolean mb_peer_conns (const MbPeer *p, const char *key, guint64 now, GArray *out);

/* Whether `remote`'s connection in swarm `key` says (bitfield, haves) it
 * has `piece`. */
gboolean mb_peer_remote_has_piece (const MbPeer *p, const char *key, MbNodeId remote,
                                   guint piece);

typedef struct {
  guint64 bytes_up;          /* piece payload handed to the host, every swarm ever */
  guint64 bytes_down;        /* piece payload received, every swarm ever */
  guint64 pieces_stored;     /* pieces verified and stored */
  guint64 bad_pieces;        /* pieces that failed verification */
  guint64 swarms_joined;     /* swarms joined (fetches, and to serve) */
  guint64 swarms_left;
  guint64 requests_timed_out;/* requests given back from stalled connections */
  guint64 stalls;            /* connections stalled (request_timeout_us) */
  guint64 silent_closes;     /* stalled connections closed for silence */
} MbPeerTotals;

void mb_peer_totals (const MbPeer *p, MbPeerTotals *out);

/* ---- who unchoked whom (peer-unchokes.c) ----
 * Each connection keeps a tally of the choker's real decisions about its
 * remote, as they take effect: how long we kept it unchoked, by kind, and
 * the payload handed over meanwhile.  An unchoke is a seed unchoke while
 * the swarm serves as a seed does (complete, or serving only), else the
 * optimistic one if the remote is the swarm's optimistic unchoke, else a
 * regular one (tit-for-tat's slots, the slots filled between rechokes, the
 * extra slots).  The tally is handed to the observer when the connection
 * goes and at mb_peer_flush_unchokes; nothing else reads it. */
typedef struct {
  guint64 regular_us;        /* time the remote was unchoked by a regular slot */
  guint64 optimistic_us;     /* ... as our optimistic unchoke */
  guint64 seed_us;           /* ... while we served as a seed */
  guint64 interested_us;     /* time the remote said it was interested in us */
  guint64 regular_bytes;     /* payload handed over while regularly unchoked */
  guint64 optimistic_bytes;  /* ... optimistically */
  guint64 seed_bytes;        /* ... as a seed */
} MbUnchokeTally;

/* *a += *t, field by field. */
void mb_unchoke_tally_add (MbUnchokeTally *a, const MbUnchokeTally *t);

/* Called with a connection's tally since it was last reported, when the
 * connection goes (for any reason) and at mb_peer_flush_unchokes (only if
 * it is not all zero).  One observer; NULL to remove. */
typedef void (*MbPeerUnchokeFn) (gpointer data, const char *key, MbNodeId remote,
                                 const MbUnchokeTally *t);
void mb_peer_set_unchoke_observer (MbPeer *p, MbPeerUnchokeFn fn, gpointer data);
/* Reports every connection's tally up to `now` and starts them again from
 * there (a run's end, or a crash: a peer freed without it loses what its
 * open connections tallied).  Changes nothing else. */
void mb_peer_flush_unchokes (MbPeer *p, guint64 now);

/* ---- memory (peer-memory.c) ----
 * The heap a peer holds, by structure, as the allocator counts it
 * (memsize.h); mb_peer_memory adds the peer's to *acc.  It walks every
 * connection: for reports, not for the hot path. */
typedef struct {
  gsize conns;      /* connection records, the swarms' connection arrays, the
                       remotes' names and addresses, unchoke tallies */
  gsize bitfields;  /* the remotes' bitfields (one per connection), have, started */
  gsize requests;   /* request lists: our requests out, cancelled ones, upload queues */
  gsize pieces;     /* picker and piece state: availability, per-piece block
                       counts, partial pieces */
  gsize manifests;  /* each swarm's manifest (a shared one: its share) */
  gsize peer;       /* the peer and swarm records, names, RNG, upload cache */
} MbPeerMemory;
void mb_peer_memory (const MbPeer *p, MbPeerMemory *acc);

/* Debug: recomputes every invariant of the peer's state (availability
 * counts, connection arrays, started pieces' block counters, request counts,
 * completed swarms) from scratch.  TRUE if all hold; else FALSE, and the
 * first violation (naming the peer, swarm, piece or connection) is appended
 * to `why` (may be NULL).  Read-only and slow (peer-check.c): for tests and
 * the simulator's --check. */
gboolean mb_peer_check (const MbPeer *p, GString *why);

G_END_DECLS
