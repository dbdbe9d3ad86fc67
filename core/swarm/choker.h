/* choker.h — whom to serve: tit-for-tat with a rotating optimistic unchoke,
 * and the strategies from the literature (BitTyrant, PropShare).
 *
 * A pure function over plain inputs (no peer state, no clock): the peer
 * gathers one MbChokeCandidate per connection, calls mb_choker_run at every
 * rechoke (every 10 s by default), and applies the result.
 *
 * Rules (Cohen 2003; BEP 3; libtorrent's unchoke_sort):
 *  - tft: the `regular_slots` interested, non-snubbed peers with the best
 *    rate are unchoked: as a leecher, the rate they upload to us; as a seed,
 *    the rate we upload to them.  Ties go to the lower candidate index.
 *    A leecher with spare_slots > 0 fills the last spare_slots of them
 *    round robin instead (the peers unchoked longest ago).
 *    Plus one optimistic unchoke among the other interested peers, kept until
 *    `rotate_optimistic` is set (every 30 s), then drawn again at random with
 *    new connections 3 times as likely to be drawn.  A snubbed peer can only
 *    get the optimistic slot.
 *    A seed in round-robin mode (the default) ranks instead: peers already
 *    unchoked that got less than `seed_quota` since, then the peers unchoked
 *    longest ago (libtorrent's unchoke_compare_rr), so every interested peer
 *    is served in turn and no one takes the whole file from the seed.
 *  - freerider: unchokes no one.
 *  - altruist: serves every interested peer in turn: regular_slots + 1
 *    interested peers, starting from a cursor that advances every round.
 *  - bittyrant (Piatek et al., NSDI 2007; choker-tyrant.c): interested
 *    peers in decreasing d_p/u_p (tyrant_d / tyrant_u, ties to the lower
 *    index) until the sum of their u_p reaches `capacity`; each gets upload
 *    weight u_p.  No optimistic unchoke.
 *  - propshare (Levin et al., SIGCOMM 2008; choker-propshare.c): every
 *    interested peer that sent us payload in the last round (round_down >
 *    0), with weight proportional to what it sent, sharing 1 - f of the
 *    upload; plus one optimistic unchoke (chosen as tft's) with weight f
 *    (f = optimistic_share_pm / 1000).
 *  bittyrant and propshare rank only as leechers: as seeds they choke as
 *  tft does (the papers are about reciprocation, which a seed does not
 *  need), with equal weights.
 *
 * Weights: mb_choker_run_weighted also writes weight[i], the share of the
 * uplink the unchoked candidate i gets relative to the other unchoked ones
 * (the upload scheduler serves them in proportion, peer-upload.c).  tft,
 * altruist and freerider write 0 everywhere: equal shares, the scheduler's
 * plain round robin.  bittyrant and propshare write > 0 for every unchoked
 * candidate and 0 for the others.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  MB_STRATEGY_TFT = 0,
  MB_STRATEGY_FREERIDER,
  MB_STRATEGY_ALTRUIST,
  MB_STRATEGY_BITTYRANT,
  MB_STRATEGY_PROPSHARE,
  MB_STRATEGY_N
} MbStrategy;

const char *mb_strategy_name (MbStrategy s);
/* -1 if unknown. */
gint mb_strategy_from_name (const char *name);

/* How a seed (tft, holding the whole file) fills its regular slots. */
typedef enum {
  MB_SEED_CHOKE_ROUND_ROBIN = 0, /* rotate (libtorrent's default, mainline's seed mode) */
  MB_SEED_CHOKE_FASTEST,         /* the peers we upload to fastest (libtorrent's fastest_upload) */
  MB_SEED_CHOKE_N
} MbSeedChoke;

const char *mb_seed_choke_name (MbSeedChoke s);
/* -1 if unknown. */
gint mb_seed_choke_from_name (const char *name);

typedef struct {
  gboolean interested;  /* the peer wants something we have */
  gboolean snubbed;     /* we are interested but got nothing from it for 60 s */
  gboolean is_new;      /* connected less than 3 optimistic periods ago */
  guint64 down_rate;    /* bytes/s it gave us over the window */
  guint64 up_rate;      /* bytes/s we gave it over the window */
  gboolean unchoked;    /* unchoked now (before this round) */
  guint64 up_since_unchoke; /* payload we sent it since it was last unchoked */
  guint64 last_unchoke; /* when it was last unchoked (0: never), any clock */
  gboolean mid_piece;   /* a round-robin seed keeps it past its quota: it is
                           partway through a piece only we can give it */
  guint64 tyrant_d;     /* bittyrant: d_p, bytes/s it gives us when it unchokes us */
  guint64 tyrant_u;     /* bittyrant: u_p, bytes/s we must give it to be
                           reciprocated (> 0; mb_tyrant_u) */
  guint64 round_down;   /* propshare: payload it sent us in the last round */
} MbChokeCandidate;

typedef struct {
  MbStrategy strategy;
  guint regular_slots;        /* 3 */
  guint spare_slots;          /* tft leecher: the last spare_slots of regular_slots
                                 (extra slots, opened because the uplink ran dry) go
                                 round robin, to the interested, not snubbed peers
                                 unchoked longest ago, after the others by rate: 0 */
  gboolean seed;              /* we have the whole file: seed_choke applies */
  MbSeedChoke seed_choke;
  guint64 seed_quota;         /* round robin: bytes a peer gets before it yields */
  gint optimistic;            /* current optimistic candidate, or -1 */
  gboolean rotate_optimistic; /* draw a new optimistic this round */
  guint cursor;               /* altruist round-robin position */
  guint64 capacity;           /* bittyrant: our upload, bytes/s (0: unknown, then
                                 regular_slots + 1 peers are unchoked) */
  guint optimistic_share_pm;  /* propshare: the optimistic unchoke's share of the
                                 upload, per mille (200: 20%; 0: none) */
} MbChokeParams;

typedef struct {
  gint optimistic;   /* the optimistic candidate after this round, or -1 */
  guint cursor;      /* the altruist cursor for next round */
  guint n_unchoked;
} MbChokeResult;

/* Writes unchoke[i] for each of the n candidates. */
MbChokeResult mb_choker_run (const MbChokeCandidate *cands, guint n,
                             const MbChokeParams *params, GRand *rand,
                             gboolean *unchoke);
/* The same, and weight[i] (see "Weights" above; weight may be NULL). */
MbChokeResult mb_choker_run_weighted (const MbChokeCandidate *cands, guint n,
                                      const MbChokeParams *params, GRand *rand,
                                      gboolean *unchoke, guint64 *weight);
/* The strategy the choker applies: bittyrant and propshare choke as tft
 * when `seed`. */
MbStrategy mb_choker_effective (MbStrategy s, gboolean seed);

/* ---- BitTyrant's per-connection estimates (choker-tyrant.c) ----
 * Piatek et al. 2007, section 4: for each peer p, d_p (the rate p gives us
 * when it unchokes us) and u_p (the rate we must give p to be reciprocated).
 * At the end of every round, for every peer:
 *  - p unchoked us: d_p <- the rate it gave us (observed); else, while
 *    nothing was ever observed, d_p <- its announce rate (HAVEs x piece size
 *    / time: its download rate) / peer_slots (its equal split, assuming it
 *    unchokes peer_slots peers and uploads about what it downloads);
 *  - for the peers we unchoked: u_p <- (1 + delta) u_p if p did not
 *    unchoke us; u_p <- (1 - gamma) u_p if p unchoked us in each of the
 *    last `rounds` rounds;
 *  - u_p starts at d_p (what p gives each of its peers: the rate that gets
 *    a peer into its active set), or capacity / peer_slots while d_p is 0,
 *    and stays within [capacity / 64, capacity]. */
typedef struct {
  guint64 d;              /* d_p, bytes/s (0: unknown) */
  guint64 u;              /* u_p, bytes/s (0: not set yet: mb_tyrant_u) */
  guint recip_rounds;     /* consecutive rounds, up to now, it unchoked us */
  gboolean d_observed;    /* d comes from what it gave us */
} MbTyrantPeer;

typedef struct {
  guint64 capacity;       /* our upload, bytes/s (> 0) */
  guint peer_slots;       /* peers a remote unchokes at once (tft: regular_slots + 1) */
  guint gamma_pm;         /* u_p's decrease after `rounds` reciprocated rounds, per mille: 100 */
  guint delta_pm;         /* u_p's increase when not reciprocated, per mille: 200 */
  guint rounds;           /* r: 3 */
} MbTyrantParams;

typedef struct {
  gboolean we_unchoked;     /* we unchoked it during the round (at its end) */
  gboolean it_unchoked_us;  /* it unchoked us during the round */
  guint64 observed_rate;    /* bytes/s it gave us while it unchoked us */
  guint64 announce_rate;    /* bytes/s of the pieces it announced */
} MbTyrantRound;

/* u_p as the choker should use it (its starting value while unset). */
guint64 mb_tyrant_u (const MbTyrantPeer *t, const MbTyrantParams *tp);
/* The end of a round for one peer: the rules above. */
void mb_tyrant_round (MbTyrantPeer *t, const MbTyrantParams *tp, const MbTyrantRound *r);

G_END_DECLS
