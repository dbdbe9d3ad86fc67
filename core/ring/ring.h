/* ring.h — consistent hashing.
 *
 * An MbRing is an immutable, refcounted snapshot of the members (names such
 * as "peer1:5000") with `vnodes` virtual points per member.  Positions are
 * 64-bit values from mb_ring_hash, which is stable (the same on every
 * machine, endianness and build).  Members are kept sorted by name; a key is
 * owned by the first point clockwise at or after its position.  Lookups are
 * O(log(n * vnodes)).  Changing membership makes a new snapshot with a
 * version one higher; many peers can share one snapshot.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MbRing MbRing;

#define MB_RING_DEFAULT_VNODES 128

guint64 mb_ring_hash (const void *data, gsize len);
guint64 mb_ring_hash_str (const char *key);

/* Duplicate names are folded into one member. */
MbRing *mb_ring_new (const char *const *members, guint n_members, guint vnodes);
MbRing *mb_ring_ref (MbRing *ring);
void mb_ring_unref (MbRing *ring);

guint mb_ring_n_members (const MbRing *ring);
guint mb_ring_vnodes (const MbRing *ring);
guint64 mb_ring_version (const MbRing *ring);
/* Members sorted by name; i < n_members. */
const char *mb_ring_member (const MbRing *ring, guint i);
/* Index of a member by name, or -1. */
gint mb_ring_index_of (const MbRing *ring, const char *name);
gboolean mb_ring_contains (const MbRing *ring, const char *name);

/* Index of the member owning position `pos`; -1 if the ring is empty. */
gint mb_ring_owner_index (const MbRing *ring, guint64 pos);
/* Owner of a key (its name), NULL if the ring is empty. */
const char *mb_ring_lookup (const MbRing *ring, const char *key);
/* Up to r distinct members in ring order from the key's position; writes
 * member indices to out[] and returns how many (min(r, n_members)). */
guint mb_ring_preference_list (const MbRing *ring, const char *key, guint r,
                               guint *out);

/* New snapshots (version + 1).  Adding a present member or removing an
 * absent one still gives a new snapshot equal in membership. */
MbRing *mb_ring_with_member (const MbRing *ring, const char *name);
MbRing *mb_ring_without_member (const MbRing *ring, const char *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MbRing, mb_ring_unref)

G_END_DECLS
