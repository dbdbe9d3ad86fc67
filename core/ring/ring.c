/* ring.c — consistent hashing: an immutable, refcounted ring snapshot.
 *
 * Hash (stable on every machine, endianness and build): mb_ring_hash is
 * FNV-1a 64 over the bytes (offset basis 0xcbf29ce484222325, prime
 * 0x100000001b3), then the murmur3 fmix64 finaliser to spread the bits.
 * A key's position is mb_ring_hash_str (key), i.e. its bytes without the NUL.
 *
 * Virtual points: member m gets vnodes points; point i (0 <= i < vnodes) sits
 * at mb_ring_hash_str of "<m>#<i>", with i in plain decimal (no padding, no
 * sign), e.g. "peer1:5000#0" ... "peer1:5000#127".
 *
 * Invariants of a built ring (never mutated afterwards, so it may be shared):
 *  - members[] is sorted by strcmp, without duplicates;
 *  - pos[]/owner[] (n_points = n_members * vnodes entries) are sorted by
 *    (position, member index); since members are sorted by name the tie
 *    break is by name, so the ring is the same whatever the input order;
 *  - a position's owner is the first point with pos >= position, wrapping to
 *    point 0; every member has at least one point (vnodes >= 1).
 * Membership changes build a new snapshot with version + 1 (new rings: 1).
 */
#include "ring/ring.h"

#include <stdlib.h>
#include <string.h>

#define FNV64_OFFSET G_GUINT64_CONSTANT (0xcbf29ce484222325)
#define FNV64_PRIME G_GUINT64_CONSTANT (0x100000001b3)

/* Preference lists up to this length check duplicates by a linear scan of
 * what was found so far; longer ones use a bitmap of n_members bits. */
#define PREF_LINEAR_MAX 16

struct _MbRing
{
  gatomicrefcount ref;
  guint vnodes;
  guint n_members;
  guint n_points;
  guint64 version;
  char **members;   /* n_members, sorted, owned */
  guint64 *pos;     /* n_points, ascending */
  guint32 *owner;   /* n_points, member index of pos[i] */
};

typedef struct
{
  guint64 pos;
  guint32 owner;
} Point;

/* ---- hashing ---- */

static inline guint64
fnv1a_update (guint64 h, const guchar *p, gsize len)
{
  for (gsize i = 0; i < len; i++)
    {
      h ^= p[i];
      h *= FNV64_PRIME;
    }
  return h;
}

static inline guint64
fmix64 (guint64 k)
{
  k ^= k >> 33;
  k *= G_GUINT64_CONSTANT (0xff51afd7ed558ccd);
  k ^= k >> 33;
  k *= G_GUINT64_CONSTANT (0xc4ceb9fe1a85ec53);
  k ^= k >> 33;
  return k;
}

guint64
mb_ring_hash (const void *data, gsize len)
{
  g_return_val_if_fail (data != NULL || len == 0, 0);
  return fmix64 (fnv1a_update (FNV64_OFFSET, data, len));
}

guint64
mb_ring_hash_str (const char *key)
{
  g_return_val_if_fail (key != NULL, 0);
  return mb_ring_hash (key, strlen (key));
}

/* Writes the points of member `idx` named `name` to out[0..vnodes). Hashes
 * "<name>#" once and continues the FNV state over the digits of each i,
 * which equals mb_ring_hash_str ("<name>#<i>"). */
static void
member_points (const char *name, guint32 idx, guint vnodes, Point *out)
{
  guint64 base = fnv1a_update (FNV64_OFFSET, (const guchar *) name,
                               strlen (name));
  base = fnv1a_update (base, (const guchar *) "#", 1);
  for (guint i = 0; i < vnodes; i++)
    {
      guchar digits[16];
      gsize n = 0;
      guint v = i;
      do
        {
          digits[sizeof digits - 1 - n++] = (guchar) ('0' + v % 10);
          v /= 10;
        }
      while (v != 0);
      out[i].pos = fmix64 (fnv1a_update (base, digits + sizeof digits - n, n));
      out[i].owner = idx;
    }
}

/* ---- construction ---- */

static int
point_cmp (const void *a, const void *b)
{
  const Point *x = a, *y = b;
  if (x->pos != y->pos)
    return x->pos < y->pos ? -1 : 1;
  return (x->owner > y->owner) - (x->owner < y->owner);
}

static int
str_ptr_cmp (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Takes ownership of members (n sorted, distinct, g_strdup'ed). Points are
 * allocated here; the caller fills them. */
static MbRing *
ring_alloc (char **members, guint n, guint vnodes, guint64 version)
{
  MbRing *ring = g_new0 (MbRing, 1);
  g_atomic_ref_count_init (&ring->ref);
  ring->vnodes = vnodes;
  ring->n_members = n;
  ring->n_points = n * vnodes;
  ring->version = version;
  ring->members = members;
  ring->pos = g_new (guint64, ring->n_points);
  ring->owner = g_new (guint32, ring->n_points);
  return ring;
}

static void
ring_store_points (MbRing *ring, const Point *pts)
{
  for (guint i = 0; i < ring->n_points; i++)
    {
      ring->pos[i] = pts[i].pos;
      ring->owner[i] = pts[i].owner;
    }
}

static gboolean
sizes_ok (gsize n, guint vnodes)
{
  return n <= G_MAXINT && n <= G_MAXUINT32 / vnodes;
}

MbRing *
mb_ring_new (const char *const *members, guint n_members, guint vnodes)
{
  g_return_val_if_fail (members != NULL || n_members == 0, NULL);
  if (vnodes == 0)
    vnodes = MB_RING_DEFAULT_VNODES;
  g_return_val_if_fail (sizes_ok (n_members, vnodes), NULL);

  for (guint i = 0; i < n_members; i++)
    g_return_val_if_fail (members[i] != NULL, NULL);

  const char **sorted = g_new (const char *, n_members + 1);
  for (guint i = 0; i < n_members; i++)
    sorted[i] = members[i];
  if (n_members > 1)
    qsort (sorted, n_members, sizeof *sorted, str_ptr_cmp);

  char **names = g_new (char *, n_members + 1);
  guint n = 0;
  for (guint i = 0; i < n_members; i++)
    if (n == 0 || strcmp (names[n - 1], sorted[i]) != 0)
      names[n++] = g_strdup (sorted[i]);
  names[n] = NULL;
  g_free (sorted);

  MbRing *ring = ring_alloc (names, n, vnodes, 1);
  Point *pts = g_new (Point, ring->n_points);
  for (guint m = 0; m < n; m++)
    member_points (names[m], m, vnodes, pts + (gsize) m * vnodes);
  if (ring->n_points > 1)
    qsort (pts, ring->n_points, sizeof *pts, point_cmp);
  ring_store_points (ring, pts);
  g_free (pts);
  return ring;
}

MbRing *
mb_ring_ref (MbRing *ring)
{
  g_return_val_if_fail (ring != NULL, NULL);
  g_atomic_ref_count_inc (&ring->ref);
  return ring;
}

void
mb_ring_unref (MbRing *ring)
{
  if (ring == NULL || !g_atomic_ref_count_dec (&ring->ref))
    return;
  g_strfreev (ring->members);
  g_free (ring->pos);
  g_free (ring->owner);
  g_free (ring);
}

/* ---- accessors ---- */

guint
mb_ring_n_members (const MbRing *ring)
{
  g_return_val_if_fail (ring != NULL, 0);
  return ring->n_members;
}

guint
mb_ring_vnodes (const MbRing *ring)
{
  g_return_val_if_fail (ring != NULL, 0);
  return ring->vnodes;
}

guint64
mb_ring_version (const MbRing *ring)
{
  g_return_val_if_fail (ring != NULL, 0);
  return ring->version;
}

const char *
mb_ring_member (const MbRing *ring, guint i)
{
  g_return_val_if_fail (ring != NULL, NULL);
  g_return_val_if_fail (i < ring->n_members, NULL);
  return ring->members[i];
}

/* Index of the first member >= name (n_members if none). */
static guint
member_lower_bound (const MbRing *ring, const char *name)
{
  guint lo = 0, hi = ring->n_members;
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      if (strcmp (ring->members[mid], name) < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

gint
mb_ring_index_of (const MbRing *ring, const char *name)
{
  g_return_val_if_fail (ring != NULL, -1);
  g_return_val_if_fail (name != NULL, -1);
  guint i = member_lower_bound (ring, name);
  if (i < ring->n_members && strcmp (ring->members[i], name) == 0)
    return (gint) i;
  return -1;
}

gboolean
mb_ring_contains (const MbRing *ring, const char *name)
{
  return mb_ring_index_of (ring, name) >= 0;
}

/* ---- lookup ---- */

/* Index of the point owning `pos`: the first with pos[i] >= pos, wrapping
 * to 0.  Requires n_points > 0. */
static guint
point_index (const MbRing *ring, guint64 pos)
{
  guint lo = 0, hi = ring->n_points;
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      if (ring->pos[mid] < pos)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo == ring->n_points ? 0 : lo;
}

gint
mb_ring_owner_index (const MbRing *ring, guint64 pos)
{
  g_return_val_if_fail (ring != NULL, -1);
  if (ring->n_points == 0)
    return -1;
  return (gint) ring->owner[point_index (ring, pos)];
}

const char *
mb_ring_lookup (const MbRing *ring, const char *key)
{
  g_return_val_if_fail (ring != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);
  gint i = mb_ring_owner_index (ring, mb_ring_hash_str (key));
  return i < 0 ? NULL : ring->members[i];
}

guint
mb_ring_preference_list (const MbRing *ring, const char *key, guint r,
                         guint *out)
{
  g_return_val_if_fail (ring != NULL, 0);
  g_return_val_if_fail (key != NULL, 0);
  g_return_val_if_fail (out != NULL || r == 0, 0);

  guint want = MIN (r, ring->n_members);
  if (want == 0)
    return 0;

  guint start = point_index (ring, mb_ring_hash_str (key));
  guint8 *seen = NULL;
  if (want > PREF_LINEAR_MAX)
    seen = g_new0 (guint8, (ring->n_members + 7) / 8);

  /* Every member has a point, so one lap finds `want` distinct members. */
  guint found = 0;
  for (guint k = 0, p = start; k < ring->n_points && found < want; k++)
    {
      guint32 m = ring->owner[p];
      gboolean dup = FALSE;
      if (seen != NULL)
        {
          dup = (seen[m / 8] >> (m % 8)) & 1;
          seen[m / 8] |= (guint8) (1u << (m % 8));
        }
      else
        for (guint j = 0; j < found && !dup; j++)
          dup = out[j] == m;
      if (!dup)
        out[found++] = m;
      if (++p == ring->n_points)
        p = 0;
    }
  g_free (seen);
  return found;
}

/* ---- new snapshots ---- */

static char **
copy_members (const MbRing *ring, guint skip, guint insert_at,
              const char *insert, guint *n_out)
{
  char **names = g_new (char *, ring->n_members + 2);
  guint n = 0;
  for (guint i = 0; i <= ring->n_members; i++)
    {
      if (insert != NULL && i == insert_at)
        names[n++] = g_strdup (insert);
      if (i < ring->n_members && i != skip)
        names[n++] = g_strdup (ring->members[i]);
    }
  names[n] = NULL;
  *n_out = n;
  return names;
}

static MbRing *
ring_copy (const MbRing *ring)
{
  guint n;
  char **names = copy_members (ring, G_MAXUINT, 0, NULL, &n);
  MbRing *copy = ring_alloc (names, n, ring->vnodes, ring->version + 1);
  if (copy->n_points > 0)
    {
      memcpy (copy->pos, ring->pos, copy->n_points * sizeof *copy->pos);
      memcpy (copy->owner, ring->owner, copy->n_points * sizeof *copy->owner);
    }
  return copy;
}

MbRing *
mb_ring_with_member (const MbRing *ring, const char *name)
{
  g_return_val_if_fail (ring != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (sizes_ok ((gsize) ring->n_members + 1, ring->vnodes),
                        NULL);

  guint at = member_lower_bound (ring, name);
  if (at < ring->n_members && strcmp (ring->members[at], name) == 0)
    return ring_copy (ring);

  guint n;
  char **names = copy_members (ring, G_MAXUINT, at, name, &n);
  MbRing *next = ring_alloc (names, n, ring->vnodes, ring->version + 1);

  /* The new member's points, sorted; old indices >= at shift up by one so
   * (position, index) order stays (position, name) order.  Then merge. */
  guint v = ring->vnodes;
  Point *add = g_new (Point, v);
  member_points (name, at, v, add);
  qsort (add, v, sizeof *add, point_cmp);

  guint i = 0, j = 0, o = 0;
  while (i < ring->n_points || j < v)
    {
      Point old = { 0, 0 };
      if (i < ring->n_points)
        {
          old.pos = ring->pos[i];
          old.owner = ring->owner[i] + (ring->owner[i] >= at ? 1 : 0);
        }
      if (j == v || (i < ring->n_points && point_cmp (&old, &add[j]) < 0))
        {
          next->pos[o] = old.pos;
          next->owner[o++] = old.owner;
          i++;
        }
      else
        {
          next->pos[o] = add[j].pos;
          next->owner[o++] = add[j].owner;
          j++;
        }
    }
  g_assert (o == next->n_points);
  g_free (add);
  return next;
}

MbRing *
mb_ring_without_member (const MbRing *ring, const char *name)
{
  g_return_val_if_fail (ring != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  gint idx = mb_ring_index_of (ring, name);
  if (idx < 0)
    return ring_copy (ring);

  guint gone = (guint) idx, n;
  char **names = copy_members (ring, gone, 0, NULL, &n);
  MbRing *next = ring_alloc (names, n, ring->vnodes, ring->version + 1);

  /* Dropping points and shifting indices > gone down keeps the order. */
  guint o = 0;
  for (guint i = 0; i < ring->n_points; i++)
    {
      guint32 m = ring->owner[i];
      if (m == gone)
        continue;
      next->pos[o] = ring->pos[i];
      next->owner[o++] = m > gone ? m - 1 : m;
    }
  g_assert (o == next->n_points);
  return next;
}
