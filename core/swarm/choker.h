/* choker.h — whom to serve: tit-for-tat with a rotating optimistic unchoke.
 *
 * A pure function over plain inputs (no peer state, no clock): the peer
 * gathers one MbChokeCandidate per connection, calls mb_choker_run at every
 * rechoke (every 10 s by default), and applies the result.
 *
 * Rules (Cohen 2003; BEP 3; libtorrent's unchoke_sort):
 *  - tft: the `regular_slots` interested, non-snubbed peers with the best
 *    rate are unchoked: as a leecher, the rate they upload to us; as a seed,
 *    the rate we upload to them.  Ties go to the lower candidate index.
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
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  MB_STRATEGY_TFT = 0,
  MB_STRATEGY_FREERIDER,
  MB_STRATEGY_ALTRUIST,
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
} MbChokeCandidate;

typedef struct {
  MbStrategy strategy;
  guint regular_slots;        /* 3 */
  gboolean seed;              /* we have the whole file: seed_choke applies */
  MbSeedChoke seed_choke;
  guint64 seed_quota;         /* round robin: bytes a peer gets before it yields */
  gint optimistic;            /* current optimistic candidate, or -1 */
  gboolean rotate_optimistic; /* draw a new optimistic this round */
  guint cursor;               /* altruist round-robin position */
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

G_END_DECLS
