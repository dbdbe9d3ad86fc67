/* ring-holders.h — the ring's bookkeeping invariant: a manifest's holder
 * lists name the members that store its chunks.  Repair (op-repair.c)
 * works from those lists alone (a chunk's live holders are its sources and
 * tell it how many copies to add), so a list that names members that lack
 * the chunk, or too few of those that hold it, makes it repair the wrong
 * thing or nothing.  The one checker of it (ring-holders.c); the unit tests
 * and the simulator's --check (at the end of a run) run it.
 *
 * Over the live members (their names and stores), for every copy of each
 * file's newest manifest held by one of the name's owners (its first R
 * members in `ring`, the view of the live members; a copy left on a member
 * that owned it before a join is not judged: nothing reads or repairs from
 * it), and every chunk of it:
 *  - no false holder: every listed holder that is a live member stores the
 *    chunk;
 *  - none unlisted: the listed live members that store it number at least
 *    min(R, live members that store it): the copies the ring keeps are on
 *    the list (a fetched copy beyond R need not be).
 * Holders that are not live members (gone, crashed, or clients) are not
 * judged: a fetch or a repair skips them.
 */
#pragma once

#include <glib.h>

#include "content/store.h"
#include "ring/ring.h"

G_BEGIN_DECLS

typedef struct {
  guint copies;           /* manifest copies judged (of the newest versions) */
  guint chunk_lists;      /* chunk holder lists judged (copies x chunks) */
  guint false_holders;    /* listed live members that lack the chunk */
  guint lists_short;      /* lists naming fewer than min(R, held) live holders */
} MbRingHolders;

/* stores[k] is member members[k]'s store (the live members); ring: their
 * view (NULL: every copy is judged).  names: the files to judge (NULL:
 * every name a store holds a manifest of).  FALSE if
 * a list breaks the invariant, the first few named in `why` (may be NULL),
 * e.g. "docs-10.bin (version 1) at 10.77.1.7:6001: chunk 3 (b211a4b4...)
 * lists 0 of the 2 members that store it (R 3)". */
gboolean mb_ring_check_holders (MbStore *const *stores, const char *const *members, guint n,
                                const MbRing *ring, const char *const *names, guint n_names, guint r,
                                MbRingHolders *out, GString *why);

G_END_DECLS
