/* peer-private.h — the peer's internal state, shared by peer.c (lifecycle,
 * tracker, timers, choking), peer-wire.c (message handlers) and
 * peer-pieces.c (partial pieces, requests, completion).  Not installed.
 *
 * Invariants:
 *  - a Conn is in its swarm's `conns` array (connection order, which is what
 *    every loop iterates) and conn_nodes[i] == conns[i]->node (lookup by a
 *    scan of that compact array: no hashing, one or two cache lines);
 *  - availability[i] == number of established conns whose remote bitfield
 *    has piece i;
 *  - for a started piece, unrequested == blocks with req_count 0 and not
 *    received; missing == blocks not received; total_unrequested is their
 *    sum over started pieces;
 *  - a block's req_count == number of conns with that block in out_reqs;
 *  - n_started == pieces with a Partial == bits set in `started`;
 *  - n_completed == swarms whose stats.completed_at is set;
 *  - n_am_interested / n_peer_interested == number of conns with that flag;
 *  - n_upq == the sum of the conns' upload queue lengths;
 *  - up_active holds exactly the conns with a non-empty upload queue, once;
 *  - a conn has a ConnStrat (st) iff the strategy is bittyrant or propshare;
 *    up_weighted only then, and while it is set every conn with uploads
 *    queued has a weight; up_stick is NULL or in up_active.
 * Each counter has one owner, and nothing else writes it:
 *  - availability: mbi_swarm_avail_add_piece / _add_bitfield /
 *    _remove_bitfield (peer.c);
 *  - unrequested, missing, total_unrequested, n_started, req_count: the
 *    block state transitions in peer-pieces.c (partial_start, partial_drop,
 *    block_requested, block_unrequested, block_received);
 *  - n_completed: mbi_swarm_mark_complete (peer.c);
 *  - n_am_interested, n_peer_interested: mbi_conn_set_interest (peer.c);
 *  - n_upq and the conns' upload queues: peer-upload.c.
 * mb_peer_check (peer-check.c) recomputes all of them from scratch.
 *
 * Layout: the simulator runs 10^4 peers of ~40 conns each, far more than
 * fits in cache, so the fields read for every incoming message (node, flags,
 * remote, the request list) come first in a Conn, and the request lists are
 * inline arrays (no GArray header to chase).
 */
#pragma once

#ifndef MB_SWARM_PEER_INTERNAL
#error "peer-private.h is private to core/swarm/peer*.c: no other file may include it"
#endif

#include "content/buffer-pool.h"
#include "swarm/bitfield.h"
#include "swarm/choker.h"
#include "swarm/peer.h"
#include "swarm/picker.h"

typedef struct _Swarm Swarm;

/* Chunks an uploading peer keeps at hand (peer-upload.c): 8 x 256 KiB. */
#define MBI_UPCACHE 8

typedef struct {
  guint32 piece;
  guint32 block;
} BlockRef;

typedef struct {
  BlockRef *v;
  guint len;
  guint cap;
} BlockRefs;

/* A block a remote asked us for, waiting to be handed to the host. */
typedef struct {
  guint32 piece;
  guint32 offset;
  guint32 length;
} UpReq;

typedef struct {
  UpReq *v;
  guint head;              /* v[head .. len) are queued, oldest first */
  guint len;
  guint cap;
} UpReqs;

/* What bittyrant and propshare keep per connection (Conn.st; NULL for the
 * other strategies, whose uploads share the uplink equally). */
typedef struct {
  MbTyrantPeer tyrant;     /* bittyrant's d_p and u_p (choker.h) */
  guint32 haves_cur;       /* new pieces it announced this round ... */
  guint32 haves_prev;      /* ... and the round before (its announce rate) */
  guint64 up_weight;       /* its share of the uplink while unchoked (0: none given) */
  guint64 up_vtag;         /* weighted uploads: its virtual start tag (peer-upload.c) */
} ConnStrat;

typedef struct {
  /* hot: read for every message on the connection */
  MbNodeId node;
  guint established : 1;   /* handshakes exchanged */
  guint outgoing : 1;
  guint got_bitfield : 1;
  guint got_any : 1;       /* any swarm message after the handshake */
  guint am_choking : 1, am_interested : 1, peer_choking : 1, peer_interested : 1;
  guint stalled : 1;       /* our requests to it timed out; no block since (peer-stall.c) */
  MbBitfield *remote;
  BlockRefs out_reqs;      /* our requests to it, oldest first */
  guint64 last_block_at;
  guint64 connected_at;
  guint64 down_cur, up_cur;
  /* colder */
  guint64 down_prev, up_prev;
  BlockRefs cancelled;     /* requests we gave up on (late pieces are fine) */
  UpReqs upq;              /* its requests we will serve, not yet handed to the host */
  guint64 up_since_unchoke;/* payload handed over since we last unchoked it */
  guint64 tally_sent;      /* payload handed over since tally_at (peer-unchokes.c;
                              beside up_since_unchoke: one cache line per block) */
  guint64 last_unchoke_at; /* when we last unchoked it, + 1 (0: never) */
  guint64 unchoked_us_at;  /* when it last unchoked us */
  guint64 down_since_unchoked; /* payload it sent us since then */
  guint64 req_wait_at;     /* when a request went out onto an empty pipeline */
  guint64 last_heard_at;   /* when it last sent us any swarm message */
  guint64 stalled_at;      /* when it stalled (peer-stall.c) */
  gchar *name;
  gchar *addr;             /* where it listens (its handshake's, or the list's) */
  gint32 ss_piece;         /* super-seeding: the piece shown to it, or -1 */
  MbBitfield *ss_seen;     /* super-seeding: every piece shown to it, or NULL */
  guint32 est_seq;         /* the swarm's est_counter when it was established */
  guint32 pex_seq;         /* the swarm's est_counter at our last PEX to it */
  guint32 ss_sent;         /* super-seeding: bytes of ss_piece handed to it */
  Swarm *sw;
  ConnStrat *st;           /* bittyrant and propshare peers only, else NULL */
  /* who unchoked whom (peer-unchokes.c): the state the tally was last
   * brought up to date in (tally_kind, an MbiUnchokeKind, and whether the
   * remote was interested), and when; the tally itself is allocated when
   * it first has something (it is read only at changes of state) */
  guint8 tally_kind;
  guint8 tally_interested;
  guint64 tally_at;
  MbUnchokeTally *tally;
} Conn;

/* Idle piece buffers a swarm keeps for reuse: 16 MiB of them, at least 4. */
#define MB_SWARM_POOL_KEEP(piece_size) MAX (4u, (guint) ((16u << 20) / MAX ((piece_size), 1u)))

typedef struct {
  guint16 n_blocks;
  guint8 *received;        /* per block 0/1 (points into storage) */
  guint8 *req_count;       /* per block (points into storage) */
  guint8 *data;            /* whole piece (real content; from sw->pool), else NULL */
  guint8 storage[];        /* received then req_count: one allocation */
} Partial;

struct _Swarm {
  /* hot: read for every message (the first two cache lines; swarms are
   * allocated 64-byte aligned) */
  MbPeer *peer;
  Conn **conns;            /* connection order */
  MbNodeId *conn_nodes;    /* conn_nodes[i] == conns[i]->node */
  guint n_conns;
  guint32 id;
  MbBitfield *have;
  guint16 *availability;
  guint n_pieces;
  guint n_started;
  guint64 total_unrequested;
  MbBitfield *started;
  Partial **partials;      /* per piece, NULL if not started */
  guint16 *unrequested;    /* per piece (started ones) */
  guint16 *missing;        /* per piece (started ones) */
  MbManifest *manifest;
  guint64 next_announce;   /* read after every call (next_expiry) */
  guint64 last_tracker_ask;
  guint32 conn_hint;       /* where mbi_swarm_conn found a connection last: a
                              cache (checked before use), no state */
  /* the rest */
  gchar *file;
  guint32 piece_size;
  guint cap_conns;         /* of both conn arrays */
  gint optimistic;         /* index into conns, or -1 */
  MbNodeId optimistic_node;
  guint altruist_cursor;
  Conn **up_active;        /* conns with queued uploads, in the order they got one */
  guint n_up_active, cap_up_active;
  guint up_cursor;         /* round-robin position in up_active */
  gboolean up_weighted;    /* uploads in proportion to the conns' st->up_weight
                              (bittyrant and propshare leechers), else round robin */
  guint64 up_vtime;        /* weighted: the virtual time (tag of the conn last picked) */
  Conn *up_stick;          /* weighted: the conn partway through a piece (served
                              next), or NULL; always in up_active */
  guint pex_cursor;        /* where the next PEX message starts in conns */
  guint32 est_counter;     /* conns established so far (PEX deltas) */
  guint64 last_pex_dial;   /* when peers from a PEX were last dialed, + 1 (0: never) */
  guint64 last_seed_dial;  /* when seeds named by a PEX were last dialed, + 1 (0: never) */
  guint32 *ss_shown;       /* super-seeding: times each piece was shown, or NULL */
  guint n_am_interested;   /* conns with am_interested set */
  guint n_peer_interested; /* conns with peer_interested set */
  guint n_stalled;         /* conns with stalled set (peer-stall.c) */
  guint64 tracker_retry;   /* current wait between peer-list requests (backs off
                              while answers bring no new connection) */
  gboolean registered;
  /* swarms of ring files (peer-ring.c) */
  gboolean ring;           /* joined for a ring file: left when idle (mbi_ring_sweep) */
  gboolean serve_only;     /* joined on a hello to serve what we hold: never
                              interested, never asks the tracker */
  gboolean use_tracker;    /* registers and asks for peers (p->tracker is set) */
  guint64 idle_since;      /* ring swarms: since when it has had no conn, or MB_TIME_NEVER */
  MbBitfield *lost;        /* pieces we announced and the store then lost, or NULL */
  gchar *store_error;      /* the first verified piece our own store could not keep
                              (disk full, I/O error), or NULL; once set the swarm
                              is interested in nobody and asks for nothing more */
  MbBufferPool *pool;      /* real content: the partial pieces' buffers (piece_size
                              bytes each), reused rather than freed; NULL until
                              the first piece starts */
  GHashTable *hellos;      /* ring swarms: node -> MbiHello, the nodes that said
                              hello to it (accepted or refused), NULL until one did */
  MbPeerStats stats;
};

struct _MbPeer {
  /* hot: read on every call in (the first cache line) */
  const MbHost *host;
  Swarm *swarm0;           /* swarms[0] (the common case: one swarm), or NULL */
  guint64 now;             /* the time of the current entry point */
  guint64 next_rechoke;
  MbNodeId self;
  guint n_swarms;          /* swarms->len */
  guint n_completed;       /* swarms whose stats.completed_at is set */
  gboolean left;
  guint32 have_stamp;      /* changes whenever some swarm's `have` does,
                              and at each swarm joined */
  /* the rest */
  MbPeerConfig cfg;
  gchar *name;
  gchar *addr;
  MbNodeId tracker;
  MbStore *store;
  GRand *rand;
  GPtrArray *swarms;       /* Swarm*, join order */
  guint32 next_req;
  guint rechoke_round;
  guint n_upq;             /* queued upload requests, all conns of all swarms */
  gboolean up_waiting;     /* the host will call on_uplink_ready: pumping before
                              that would find the uplink still full */
  guint up_dry;            /* times this rechoke round the uplink had run dry for want
                              of requests when a block was handed over (flow control
                              only; not when the host woke us with blocks queued) */
  guint extra_slots;       /* upload slots beyond regular_slots, 0 .. max_extra_slots */
  guint64 next_slot_check; /* cfg.slot_check_us: the next look at the uplink's use */
  guint64 next_stall_check;/* the earliest request or silence deadline found at the
                              last look that falls before the next rechoke
                              (peer-stall.c), else MB_TIME_NEVER */
  guint64 slot_mark;       /* up_handed at the last slot check */
  gboolean up_started;     /* a block has been handed over at least once */
  guint up_swarm_cursor;   /* round-robin position among swarms for uploads */
  guint64 up_handed;       /* payload handed to the host, all swarms */
  guint64 up_handed_mark;  /* up_handed at the last rechoke */
  guint64 send_limit;      /* the uplink backlog to keep (mbi_upload_set_limit) */
  guint64 up_capacity;     /* bytes/s: the host's uplink_rate, else the most handed
                              over in a round (bittyrant's capacity) */
  MbPeerPieceFn observer;  /* told of every piece stored (peer-ring.c) */
  gpointer observer_data;
  MbPeerUnchokeFn unchoke_observer; /* told of each conn's unchoke tally (peer-unchokes.c) */
  gpointer unchoke_observer_data;
  guint n_serving;         /* swarms with serve_only set */
  MbPeerTotals totals;     /* only ever incremented (peer-observe.c's readers) */
  struct {
    char id[65];
    GBytes *bytes;         /* NULL: empty */
    guint64 used;
  } upcache[MBI_UPCACHE];  /* the chunks uploads read last (peer-upload.c) */
  guint64 upcache_clock;
};

/* Checks on the counters' owners (underflow, overflow): they sit in the
 * simulator's hot path, so they are compiled in only with MB_SWARM_ASSERTS
 * (core/meson.build: builds with debug info).  mb_peer_check checks the
 * same invariants in any build. */
#ifdef MB_SWARM_ASSERTS
#define MB_SWARM_ASSERT(e) g_assert (e)
#else
#define MB_SWARM_ASSERT(e) ((void) 0)
#endif

#if defined(__GNUC__)
#define MB_PREFETCH(p) __builtin_prefetch (p)
#else
#define MB_PREFETCH(p) ((void) (p))
#endif

/* peer.c */
Swarm *mbi_peer_swarm_by_id (MbPeer *p, guint32 id);
Swarm *mbi_peer_swarm_by_file (const MbPeer *p, const char *file);
Conn *mbi_swarm_conn (Swarm *sw, MbNodeId node);
Conn *mbi_swarm_conn_add (Swarm *sw, MbNodeId node, const char *name, gboolean outgoing, guint64 now);
/* Ends the conn before the caller has the host drop its node (bad input,
 * leaving): a host that cannot close connections (real mode: the swarm
 * shares them with the ring) is sent a goodbye (HANDSHAKE
 * MB_HANDSHAKE_GOODBYE) first; then mbi_swarm_conn_remove. */
void mbi_swarm_conn_end (Swarm *sw, Conn *c);
/* Forgets the conn (requests returned, availability updated); no message sent. */
void mbi_swarm_conn_remove (Swarm *sw, Conn *c);
/* Dials the listed peers (tracker or PEX) while below target_conns, or in
 * place of connections of no use to either side; returns how many. */
guint mbi_swarm_dial_peers (Swarm *sw, const MbPeerInfo *peers, guint n, guint64 now);
/* Drops an established conn of no use to either side (the oldest); FALSE if none. */
gboolean mbi_swarm_make_room (Swarm *sw);
/* Whether the swarm wants more peers (see peer.c). */
gboolean mbi_swarm_has_seed_conn (const Swarm *sw);
void mbi_swarm_send_goodbye_pex (Swarm *sw);
void mbi_swarm_seed_preempt (Swarm *sw, Conn *c, guint64 now);
gboolean mbi_swarm_wants_peers (const MbPeer *p, const Swarm *sw);
/* Sends `to` a PEX message: our other established connections (up to
 * pex_max), only those established since the last PEX to it when `delta`
 * (BEP 11: the first message lists all, later ones what was added). */
void mbi_swarm_send_pex (Swarm *sw, Conn *to, gboolean delta);
/* Sets c's interest flags, keeping the swarm's counts. */
void mbi_conn_set_interest (Swarm *sw, Conn *c, gboolean am, gboolean peer);
/* Drops every conn to node in every swarm and tells the host (bad input). */
void mbi_peer_drop_node (MbPeer *p, MbNodeId node, const char *why);
void mbi_peer_send (MbPeer *p, MbNodeId to, MbMessage *msg);
MbMessage *mbi_swarm_msg (Swarm *sw, MbMsgType type);
/* peer-choke.c: the rechoke (rotate: draw a new optimistic unchoke). */
void mbi_swarm_rechoke (Swarm *sw, guint64 now, gboolean rotate);
/* Unchokes interested peers while upload slots are free (bittyrant and
 * propshare leechers: applies their rule again). */
void mbi_swarm_fill_slots (Swarm *sw, guint64 now);
/* bittyrant's parameters, from the config and up_capacity. */
MbTyrantParams mbi_tyrant_params (const MbPeer *p);
guint mbi_swarm_n_established (const Swarm *sw);
/* Before a loop that reads every conn: starts all their cache misses at once. */
void mbi_swarm_prefetch_conns (const Swarm *sw);
/* The only writers of availability[]: a remote announced one piece it did not
 * have (HAVE), sent its whole bitfield, or went away with bf. */
void mbi_swarm_avail_add_piece (Swarm *sw, guint piece);
void mbi_swarm_avail_add_bitfield (Swarm *sw, const MbBitfield *bf);
void mbi_swarm_avail_remove_bitfield (Swarm *sw, const MbBitfield *bf);
/* The swarm's whole file is had (now): completed_at, and n_completed the
 * first time. */
void mbi_swarm_mark_complete (Swarm *sw, guint64 now);

/* Whether the peer's strategy shares its uplink unequally (bittyrant,
 * propshare): its conns carry a ConnStrat. */
static inline gboolean
mbi_peer_weighted_strategy (const MbPeer *p)
{
  return p->cfg.strategy == MB_STRATEGY_BITTYRANT || p->cfg.strategy == MB_STRATEGY_PROPSHARE;
}

/* peer-upload.c: the upload queue.  The one owner of n_upq: every change to
 * a conn's upq goes through these. */
/* Queues a request from c (already checked: in range, had, unchoked);
 * FALSE if its queue is full (the request is refused). */
gboolean mbi_upload_queue (Swarm *sw, Conn *c, guint32 piece, guint32 offset, guint32 length);
/* Drops a queued request that was not handed over yet; FALSE if none matched. */
gboolean mbi_upload_cancel (Swarm *sw, Conn *c, guint32 piece, guint32 offset, guint32 length);
/* Drops all of c's queued requests (we choke it, or it goes). */
void mbi_upload_clear (Swarm *sw, Conn *c);
/* Forgets the chunks kept at hand for uploads. */
void mbi_upload_cache_clear (MbPeer *p);
/* Hands queued blocks to the host while its uplink can take them. */
void mbi_upload_pump (MbPeer *p);
/* Sets the uplink backlog to keep from the upload rate since the last call
 * (interval_us ago; 0: at start), and up_capacity; called at each rechoke. */
void mbi_upload_set_limit (MbPeer *p, guint64 interval_us);
/* `percent` % of what the uplink carries in a rechoke round at up_capacity
 * (the host's uplink_rate, else the most handed over in a round yet). */
guint64 mbi_upload_capacity_share (const MbPeer *p, guint percent);
/* Serves sw's conns in proportion to their st->up_weight (TRUE) or in
 * plain round robin (FALSE). */
void mbi_upload_set_weighted (Swarm *sw, gboolean weighted);

/* peer-unchokes.c: the conns' unchoke tallies (MbUnchokeTally).  The one
 * owner of tally_kind, tally_interested, tally_at and the tally's times:
 * whoever changes what the kind derives from (am_choking, peer_interested,
 * the optimistic unchoke, whether the swarm serves as a seed) calls
 * mbi_unchokes_update after the change, at the same `now` for every conn
 * a change touches; mb_peer_check verifies that the kinds are current. */
typedef enum {
  MBI_UNCHOKE_NONE = 0,
  MBI_UNCHOKE_REGULAR,
  MBI_UNCHOKE_OPTIMISTIC,
  MBI_UNCHOKE_SEED,
} MbiUnchokeKind;
/* The kind c's unchoke is now (NONE while choked). */
MbiUnchokeKind mbi_unchokes_kind (const Swarm *sw, const Conn *c);
/* Closes c's tally interval at now under the state it was in, and opens the
 * next in the current one. */
void mbi_unchokes_update (Swarm *sw, Conn *c, guint64 now);
/* The same for every conn of the swarm. */
void mbi_unchokes_update_all (Swarm *sw, guint64 now);
/* c goes: its tally up to now to the observer. */
void mbi_unchokes_report (Swarm *sw, Conn *c, guint64 now);
/* Payload handed over to c, counted under its current kind when the
 * interval closes. */
static inline void
mbi_unchokes_on_sent (Conn *c, guint32 len)
{
  c->tally_sent += len;
}

/* peer-stall.c: request timeouts (cfg.request_timeout_us).  Stalls the
 * conns whose requests are overdue, closes the stalled ones silent for as
 * long again, and sets p->next_stall_check; called at every rechoke and at
 * next_stall_check. */
void mbi_stall_check (MbPeer *p, guint64 now);
/* A block came from c: no longer stalled. */
void mbi_stall_clear (Swarm *sw, Conn *c);
/* c goes: the swarm's count of stalled conns. */
static inline void
mbi_stall_forget (Swarm *sw, Conn *c)
{
  if (c->stalled)
    {
      c->stalled = 0;
      sw->n_stalled--;
    }
}
/* peer-pieces.c: gives back every request of c (a stall): CANCEL each,
 * remember them all as cancelled (their late blocks are taken). */
guint mbi_swarm_time_out_requests (Swarm *sw, Conn *c);

/* peer-superseed.c: BEP 16. */
gboolean mbi_superseed_active (const Swarm *sw);
/* `from` announced `piece`: conns waiting for their shown piece to be seen
 * elsewhere are shown the next. */
void mbi_superseed_on_have (Swarm *sw, Conn *from, guint32 piece);
GBytes *mbi_superseed_bitfield (const Swarm *sw);
void mbi_superseed_reveal (Swarm *sw, Conn *c);
void mbi_superseed_on_sent (Swarm *sw, Conn *c, guint32 piece, guint32 len);
void mbi_superseed_on_not_interested (Swarm *sw, Conn *c);
/* c is choked (gone FALSE) or goes (TRUE) before it had its shown piece. */
void mbi_superseed_on_cut (Swarm *sw, Conn *c, gboolean gone);
/* Every rechoke: a conn still not interested in what it was shown is shown
 * another piece (our view of it may lag: HAVEs it did not send us). */
void mbi_superseed_on_rechoke (Swarm *sw);

/* peer-ring.c: swarms of ring files. */
/* A hello for a swarm we are not in carried a manifest: the swarm to serve
 * it from, joined now, or NULL (refused: see peer.h). */
Swarm *mbi_ring_join_to_serve (MbPeer *p, const char *key, const MbManifest *m, guint64 now);
/* What a ring swarm's `hellos` says of a node (peer-ring.c). */
typedef enum {
  MBI_HELLO_ACCEPTED = 1, /* it has (had) a connection with us in the swarm;
                             its next GET_CHUNK is choked */
  MBI_HELLO_REFUSED,      /* refused (we were full); its next GET_CHUNK is choked */
  MBI_HELLO_TOLD,         /* told once to get it from the swarm: its GET_CHUNKs
                             are served (until it says hello again) */
} MbiHello;
/* Ring swarm sw accepted a hello from `from`. */
void mbi_ring_note_hello (Swarm *sw, MbNodeId from);
/* Ring swarm sw refused a hello from `from` (it was full). */
void mbi_ring_note_refused (Swarm *sw, MbNodeId from);
/* from's connection in ring swarm sw closed (and no other with it is left):
 * it is no longer taken to be in the swarm. */
void mbi_ring_forget_hello (Swarm *sw, MbNodeId from);
/* Leaves the ring swarms that have been idle long enough (each rechoke). */
void mbi_ring_sweep (MbPeer *p, guint64 now);
/* Whether the swarm serves as a seed does: complete, or serving only. */
static inline gboolean
mbi_swarm_seeding (const Swarm *sw)
{
  return sw->serve_only || mb_bitfield_is_complete (sw->have);
}
/* Creates a swarm of m under `file` (the key) and adds it to the peer: the
 * pieces the store holds are had; nothing is sent. */
Swarm *mbi_peer_swarm_create (MbPeer *p, const MbManifest *m, const char *file, guint64 now);
/* Drops c and tells its node: a goodbye (handshake code 3) for this swarm
 * if we keep a connection with it in another swarm (one transport carries
 * them all) or the host cannot close connections, else the host
 * disconnects it.  Without that, the node kept its
 * side, and its next hello or bitfield met a connection we had restarted. */
void mbi_swarm_close_conn (Swarm *sw, Conn *c);
/* Removes sw from the peer and frees it (its conns closed with
 * mbi_swarm_close_conn); nothing is sent to the tracker. */
void mbi_peer_swarm_remove (MbPeer *p, Swarm *sw);
void mbi_swarm_register (Swarm *sw, guint64 now);

/* peer-wire.c */
void mbi_wire_receive (MbPeer *p, MbNodeId from, const MbMessage *msg, guint64 now);
void mbi_wire_send_handshake (Swarm *sw, MbNodeId to, guint32 code);
void mbi_wire_update_interest (Swarm *sw, Conn *c);

/* The request lists (peer-pieces.c). */
void mbi_block_refs_append (BlockRefs *a, BlockRef r);
void mbi_block_refs_remove_index (BlockRefs *a, guint i);
void mbi_block_refs_clear (BlockRefs *a);

/* peer-pieces.c */
guint32 mbi_swarm_block_len (const Swarm *sw, guint32 piece, guint32 block);
guint32 mbi_swarm_piece_len (const Swarm *sw, guint32 piece);
void mbi_swarm_fill_requests (Swarm *sw, Conn *c, guint64 now);
/* Returns the conn's outstanding requests to the pool (choke, disconnect). */
void mbi_swarm_release_requests (Swarm *sw, Conn *c, gboolean keep_as_cancelled);
/* A PIECE for (piece, offset): FALSE if the conn never asked for it. */
gboolean mbi_swarm_on_block (Swarm *sw, Conn *c, guint32 piece, guint32 offset,
                            GBytes *data, guint32 len, guint64 now);
void mbi_swarm_partials_free (Swarm *sw);
/* Marks a piece had (store already holds it): bitfield, have, interest. */
void mbi_swarm_piece_done (Swarm *sw, guint32 piece, guint64 now);
gboolean mbi_swarm_acquire_generated (Swarm *sw, guint32 piece, guint64 now);
/* The store lost a piece we had (and may have announced): no longer had,
 * remembered in `lost` (requests for it are refused, not violations), the
 * swarm no longer complete. */
void mbi_swarm_piece_lost (Swarm *sw, guint32 piece);
/* The piece came another way and is in the store: its requests cancelled,
 * then had (mbi_swarm_piece_done). */
void mbi_swarm_piece_arrived (Swarm *sw, guint32 piece, guint64 now);
