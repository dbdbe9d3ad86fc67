/* picker.h — which piece to request next from a given peer.
 *
 * A pure function over plain inputs.  Order of preference (BEP 3; Legout et
 * al. 2006; Transmission's wishlist):
 *  1. strict priority: a started piece (some blocks requested or received,
 *     some still unrequested) that the remote has; the one with the fewest
 *     blocks left, ties to the lowest index;
 *  2. while fewer than `random_first` pieces are complete: a random piece
 *     the remote has and we neither have nor started;
 *  3. otherwise rarest first: among those pieces, the lowest availability
 *     count, ties broken at random (uniformly);
 *  4. nothing: -1.
 * Endgame (every missing block already requested) is decided by the caller
 * with mb_picker_in_endgame; then mb_picker_pick_endgame chooses a requested
 * but not received piece the remote has, so the same block is asked of every
 * holder and duplicates are cancelled as blocks arrive.
 */
#pragma once

#include <glib.h>

#include "swarm/bitfield.h"

G_BEGIN_DECLS

typedef struct {
  const MbBitfield *have;       /* pieces we have (verified) */
  const MbBitfield *remote;     /* pieces the remote has */
  const guint16 *availability;  /* copies among our neighbours, per piece */
  /* Started pieces: for each, how many blocks are not yet requested (0 means
   * every block is requested) and not yet received.  Indexed by piece;
   * NULL/0 entries are not started. */
  const guint16 *unrequested;   /* blocks not yet requested, per started piece */
  const guint16 *missing;       /* blocks not yet received, per started piece */
  const MbBitfield *started;    /* pieces in progress */
  guint random_first;           /* 4 */
} MbPickInput;

gint mb_picker_pick (const MbPickInput *in, GRand *rand);

/* TRUE when every piece we lack is started and has no unrequested block. */
gboolean mb_picker_in_endgame (const MbPickInput *in);

/* In endgame: a started piece the remote has with blocks still missing,
 * chosen at random among those with the fewest missing blocks; -1 if none. */
gint mb_picker_pick_endgame (const MbPickInput *in, GRand *rand);

G_END_DECLS
