/* ring-copies.h — the ring's durability invariant, counted over the stores
 * of the members alive: every chunk of the newest manifest of every stored
 * file has R copies, and that manifest is on R members.  The one checker of
 * it (ring-copies.c); the unit tests run it after stores, leaves and
 * crashes, and anything that wants to know (the simulator, a test cluster)
 * can.  R is min(R, number of stores): a ring of two holds two copies.
 */
#pragma once

#include <glib.h>

#include "content/store.h"

G_BEGIN_DECLS

typedef struct {
  guint files;            /* names counted */
  guint chunks;           /* chunks of their newest manifests */
  guint chunks_short;     /* chunks with fewer than R copies */
  guint chunks_lost;      /* chunks with no copy at all */
  guint copies_missing;   /* the sum of R - copies over the short chunks */
  guint manifests_short;  /* files whose newest manifest is on fewer than R stores */
  guint stale_manifests;  /* copies of an older (or losing) manifest of a name */
} MbRingCopies;

/* Counts over `stores` (the live members' stores) the copies of each file
 * in `names` (NULL: every name any store holds a manifest of) and fills
 * *out (may be NULL).  FALSE if a chunk or a manifest has fewer than R
 * copies, with the first few such named in `why` (may be NULL), e.g.
 * "report.pdf (version 2): chunk 3 (1f0c2a9b...) has 2 of 3 copies". */
gboolean mb_ring_check_copies (MbStore *const *stores, guint n_stores, const char *const *names,
                               guint n_names, guint r, MbRingCopies *out, GString *why);

G_END_DECLS
