/* choker-private.h — what choker.c shares with the strategies in
 * choker-tyrant.c and choker-propshare.c.  Not installed. */
#pragma once

#include "swarm/choker.h"

G_BEGIN_DECLS

/* The optimistic unchoke: the current one (params->optimistic) if it is
 * still eligible and no rotation is due, else a draw among the interested
 * candidates not unchoked yet, new connections 3 times as likely; -1 if
 * none. */
gint mbi_choker_choose_optimistic (const MbChokeCandidate *cands, guint n,
                                   const MbChokeParams *params, const gboolean *unchoke,
                                   GRand *rand);

/* The strategies' rounds; unchoke[] and weight[] (not NULL) come zeroed. */
MbChokeResult mbi_choker_run_tyrant (const MbChokeCandidate *cands, guint n,
                                     const MbChokeParams *params, gboolean *unchoke,
                                     guint64 *weight);
MbChokeResult mbi_choker_run_propshare (const MbChokeCandidate *cands, guint n,
                                        const MbChokeParams *params, GRand *rand,
                                        gboolean *unchoke, guint64 *weight);

G_END_DECLS
