/* picker.c — which piece to request next: strict priority, random first,
 * rarest first, endgame.
 *
 * A pure function of (input, rand).  Each call is O(n_pieces) with small
 * constants: the three bitfields are read in place and their candidate
 * pieces walked in increasing index by one iterator (mb_picker_iter_next),
 * which passes over 8 bytes without a candidate in one test.
 * Invariants:
 *  - a returned piece is always one the remote has and we do not;
 *  - strict priority and random/rarest first never pick the same class:
 *    the first only started pieces, the others only unstarted ones;
 *  - every random choice is uniform over its tie set and drawn from the
 *    GRand passed in, in piece-index order, so equal inputs and seeds give
 *    equal picks.
 * A NULL `started` means nothing is started; NULL `unrequested`/`missing`
 * read as 0 and a NULL `availability` as all equal.
 */
#include "swarm/picker.h"

#include <string.h>

/* The input's bitfields as plain bytes (BEP 3 order; spare bits zero),
 * read in place; `started` NULL reads as all zero. */
typedef struct {
  gsize len;
  const guint8 *have;
  const guint8 *remote;
  const guint8 *started;
  guint8 *heap;
} MbPickBits;

static gboolean
mb_picker_input_ok (const MbPickInput *in)
{
  g_return_val_if_fail (in != NULL && in->have != NULL && in->remote != NULL, FALSE);
  guint n = mb_bitfield_size (in->have);
  g_return_val_if_fail (mb_bitfield_size (in->remote) == n, FALSE);
  g_return_val_if_fail (in->started == NULL || mb_bitfield_size (in->started) == n,
                        FALSE);
  return TRUE;
}

static void
mb_picker_bits_load (MbPickBits *b, const MbPickInput *in)
{
  b->len = mb_bitfield_wire_len (mb_bitfield_size (in->have));
  b->heap = NULL;
  b->have = mb_bitfield_bytes (in->have);
  b->remote = mb_bitfield_bytes (in->remote);
  if (in->started != NULL)
    b->started = mb_bitfield_bytes (in->started);
  else
    b->started = b->heap = g_malloc0 (MAX (b->len, 1));
}

static void
mb_picker_bits_clear (MbPickBits *b)
{
  g_free (b->heap);
  b->heap = NULL;
}

static guint
mb_picker_unrequested (const MbPickInput *in, guint i)
{
  return in->unrequested != NULL ? in->unrequested[i] : 0;
}

static guint
mb_picker_missing (const MbPickInput *in, guint i)
{
  return in->missing != NULL ? in->missing[i] : 0;
}

static guint
mb_picker_availability (const MbPickInput *in, guint i)
{
  return in->availability != NULL ? in->availability[i] : 0;
}

/* Piece index of bit `bit` (0 = high bit) of byte `k`. */
static inline guint
mb_picker_piece (gsize k, guint bit)
{
  return (guint) (k * 8 + bit);
}

/* The first set bit of a nonzero byte (0 = high bit = its lowest piece):
 * loops over a byte's pieces go in increasing index (the picks and their
 * random draws depend on that order). */
static inline guint
mb_picker_first_bit (guint8 byte)
{
  return (guint) __builtin_clz ((unsigned int) byte) - (8 * sizeof (unsigned int) - 8);
}

static inline gboolean
mb_picker_bit (guint8 byte, guint bit)
{
  return (byte >> (7 - bit)) & 1;
}

/* The two classes of candidate pieces, a byte of the bitfields at a time. */
typedef enum {
  MB_PICK_STARTED, /* the remote has it, we do not, and started it */
  MB_PICK_FRESH,   /* the remote has it, we neither have nor started it */
} MbPickClass;

static inline guint8
mb_picker_byte (const MbPickBits *b, MbPickClass cls, gsize k)
{
  guint8 m = b->remote[k] & (guint8) ~b->have[k];
  return cls == MB_PICK_STARTED ? m & b->started[k] : m & (guint8) ~b->started[k];
}

static inline guint64
mb_picker_word (const guint8 *p)
{
  guint64 w;
  memcpy (&w, p, sizeof w);
  return w;
}

/* The first byte at or after k with a candidate of class cls, or b->len:
 * an 8-byte word without one costs one test (most of a swarm's bitfield is
 * no candidate for a given pick). */
static inline gsize
mb_picker_next_byte (const MbPickBits *b, MbPickClass cls, gsize k)
{
  while (k < b->len)
    {
      if (k % 8 == 0 && k + 8 <= b->len)
        {
          guint64 m = mb_picker_word (b->remote + k) & ~mb_picker_word (b->have + k);
          guint64 s = mb_picker_word (b->started + k);
          m &= cls == MB_PICK_STARTED ? s : ~s;
          if (m == 0)
            {
              k += 8;
              continue;
            }
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
          return k + (gsize) __builtin_ctzll (m) / 8;
#else
          return k + (gsize) __builtin_clzll (m) / 8;
#endif
        }
      if (mb_picker_byte (b, cls, k) != 0)
        return k;
      k++;
    }
  return b->len;
}

/* The candidate pieces of a class in increasing index (the picks and their
 * random draws depend on that order): start from { 0 }; -1 at the end. */
typedef struct {
  gsize next; /* the next byte to look at */
  gsize k;    /* the byte being walked */
  guint8 m;   /* its candidates not yet returned */
} MbPickIter;

static inline gint
mb_picker_iter_next (const MbPickBits *b, MbPickClass cls, MbPickIter *it)
{
  while (it->m == 0)
    {
      it->k = mb_picker_next_byte (b, cls, it->next);
      if (it->k >= b->len)
        {
          it->next = b->len;
          return -1;
        }
      it->m = mb_picker_byte (b, cls, it->k);
      it->next = it->k + 1;
    }
  guint bit = mb_picker_first_bit (it->m);
  it->m &= (guint8) ~(0x80u >> bit);
  return (gint) mb_picker_piece (it->k, bit);
}

/* 1. A started piece the remote has with unrequested blocks: fewest missing,
 * ties to the lowest index. */
static gint
mb_picker_pick_priority (const MbPickInput *in, const MbPickBits *b)
{
  gint best = -1;
  guint best_missing = G_MAXUINT;
  MbPickIter it = { 0 };
  for (gint i; (i = mb_picker_iter_next (b, MB_PICK_STARTED, &it)) >= 0;)
    {
      if (mb_picker_unrequested (in, (guint) i) == 0)
        continue;
      guint miss = mb_picker_missing (in, (guint) i);
      if (miss < best_missing)
        {
          best = i;
          best_missing = miss;
        }
    }
  return best;
}

/* 2. Uniformly among fresh pieces: count them, draw one rank, find it
 * (a single draw per call). */
static gint
mb_picker_pick_random (const MbPickBits *b, GRand *rand)
{
  guint total = 0;
  MbPickIter it = { 0 };
  while (mb_picker_iter_next (b, MB_PICK_FRESH, &it) >= 0)
    total++;
  if (total == 0)
    return -1;
  guint r = (guint) g_rand_int_range (rand, 0, (gint32) total);
  it = (MbPickIter) { 0 };
  for (gint i; (i = mb_picker_iter_next (b, MB_PICK_FRESH, &it)) >= 0;)
    if (r-- == 0)
      return i;
  g_assert_not_reached ();
  return -1;
}

/* One candidate's value v in a least-value pick with ties broken uniformly
 * at random by reservoir sampling (the k-th tie replaces the choice with
 * probability 1/k): TRUE when the candidate becomes the choice. */
static inline gboolean
mb_picker_least_take (guint v, guint *best_v, guint *ties, GRand *rand)
{
  if (v < *best_v)
    {
      *best_v = v;
      *ties = 1;
      return TRUE;
    }
  if (v != *best_v)
    return FALSE;
  (*ties)++;
  return g_rand_int_range (rand, 0, (gint32) *ties) == 0;
}

/* 3. The fresh piece with the lowest availability; ties uniformly at random
 * by reservoir sampling (the k-th tie replaces the choice with prob. 1/k). */
static gint
mb_picker_pick_rarest (const MbPickInput *in, const MbPickBits *b, GRand *rand)
{
  gint best = -1;
  guint best_avail = G_MAXUINT;
  guint ties = 0;
  MbPickIter it = { 0 };
  for (gint i; (i = mb_picker_iter_next (b, MB_PICK_FRESH, &it)) >= 0;)
    if (mb_picker_least_take (mb_picker_availability (in, (guint) i), &best_avail, &ties, rand))
      best = i;
  return best;
}

gint
mb_picker_pick (const MbPickInput *in, GRand *rand)
{
  if (!mb_picker_input_ok (in))
    return -1;
  g_return_val_if_fail (rand != NULL, -1);
  if (mb_bitfield_is_complete (in->have) || mb_bitfield_count (in->remote) == 0)
    return -1;

  MbPickBits b;
  mb_picker_bits_load (&b, in);
  gint piece = mb_picker_pick_priority (in, &b);
  if (piece < 0)
    {
      if (mb_bitfield_count (in->have) < in->random_first)
        piece = mb_picker_pick_random (&b, rand);
      else
        piece = mb_picker_pick_rarest (in, &b, rand);
    }
  mb_picker_bits_clear (&b);
  return piece;
}

/* Spare bits after the last piece are zero in every bitfield, so "lacking"
 * must be masked to the real pieces. */
static guint8
mb_picker_lacking (const MbPickBits *b, gsize k, guint n_pieces)
{
  guint8 lack = (guint8) ~b->have[k];
  if (k == b->len - 1 && (n_pieces & 7))
    lack &= (guint8) (0xffu << (8 - (n_pieces & 7)));
  return lack;
}

static gboolean
mb_picker_all_requested (const MbPickInput *in, const MbPickBits *b, guint n_pieces)
{
  for (gsize k = 0; k < b->len; k++)
    {
      guint8 lack = mb_picker_lacking (b, k, n_pieces);
      if (lack == 0)
        continue;
      if (lack & (guint8) ~b->started[k])
        return FALSE;
      for (guint bit = 0; bit < 8; bit++)
        if (mb_picker_bit (lack, bit)
            && mb_picker_unrequested (in, mb_picker_piece (k, bit)) != 0)
          return FALSE;
    }
  return TRUE;
}

gboolean
mb_picker_in_endgame (const MbPickInput *in)
{
  if (!mb_picker_input_ok (in))
    return FALSE;
  if (mb_bitfield_is_complete (in->have) || in->started == NULL)
    return FALSE;

  MbPickBits b;
  mb_picker_bits_load (&b, in);
  gboolean endgame = mb_picker_all_requested (in, &b, mb_bitfield_size (in->have));
  mb_picker_bits_clear (&b);
  return endgame;
}

/* Started pieces the remote has with blocks missing: fewest missing, ties
 * uniformly at random (reservoir sampling). */
static gint
mb_picker_pick_fewest_missing (const MbPickInput *in, const MbPickBits *b,
                               GRand *rand)
{
  gint best = -1;
  guint best_missing = G_MAXUINT;
  guint ties = 0;
  MbPickIter it = { 0 };
  for (gint i; (i = mb_picker_iter_next (b, MB_PICK_STARTED, &it)) >= 0;)
    {
      guint miss = mb_picker_missing (in, (guint) i);
      if (miss != 0 && mb_picker_least_take (miss, &best_missing, &ties, rand))
        best = i;
    }
  return best;
}

gint
mb_picker_pick_endgame (const MbPickInput *in, GRand *rand)
{
  if (!mb_picker_input_ok (in))
    return -1;
  g_return_val_if_fail (rand != NULL, -1);
  if (in->started == NULL || mb_bitfield_count (in->remote) == 0)
    return -1;

  MbPickBits b;
  mb_picker_bits_load (&b, in);
  gint piece = mb_picker_pick_fewest_missing (in, &b, rand);
  mb_picker_bits_clear (&b);
  return piece;
}
