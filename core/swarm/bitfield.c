/* bitfield.c — one bit a piece, BEP 3 bit order (piece 0 = high bit of byte 0).
 *
 * Invariants: bits past n_bits in the last byte are always zero; `count` is
 * the number of set bits.  Header and bits are one allocation, so a peer's
 * bitfield for a 400-piece file costs 50 bytes plus a small header.
 */
#include "swarm/bitfield.h"

#include <string.h>

struct _MbBitfield {
  guint32 n_bits;
  guint32 count;
  guint8 bits[];
};

G_DEFINE_QUARK (mb-bitfield-error-quark, mb_bitfield_error)

gsize
mb_bitfield_wire_len (guint n_bits)
{
  return ((gsize) n_bits + 7) / 8;
}

MbBitfield *
mb_bitfield_new (guint n_bits)
{
  MbBitfield *bf = g_malloc0 (sizeof (MbBitfield) + mb_bitfield_wire_len (n_bits));
  bf->n_bits = n_bits;
  return bf;
}

void
mb_bitfield_free (MbBitfield *bf)
{
  g_free (bf);
}

MbBitfield *
mb_bitfield_copy (const MbBitfield *bf)
{
  return g_memdup2 (bf, sizeof (MbBitfield) + mb_bitfield_wire_len (bf->n_bits));
}

guint
mb_bitfield_size (const MbBitfield *bf)
{
  return bf->n_bits;
}

guint
mb_bitfield_count (const MbBitfield *bf)
{
  return bf->count;
}

gboolean
mb_bitfield_is_complete (const MbBitfield *bf)
{
  return bf->count == bf->n_bits;
}

gboolean
mb_bitfield_test (const MbBitfield *bf, guint i)
{
  g_return_val_if_fail (i < bf->n_bits, FALSE);
  return (bf->bits[i >> 3] >> (7 - (i & 7))) & 1;
}

gboolean
mb_bitfield_set (MbBitfield *bf, guint i)
{
  g_return_val_if_fail (i < bf->n_bits, FALSE);
  guint8 mask = (guint8) (0x80u >> (i & 7));
  if (bf->bits[i >> 3] & mask)
    return FALSE;
  bf->bits[i >> 3] |= mask;
  bf->count++;
  return TRUE;
}

gboolean
mb_bitfield_clear (MbBitfield *bf, guint i)
{
  g_return_val_if_fail (i < bf->n_bits, FALSE);
  guint8 mask = (guint8) (0x80u >> (i & 7));
  if (!(bf->bits[i >> 3] & mask))
    return FALSE;
  bf->bits[i >> 3] &= (guint8) ~mask;
  bf->count--;
  return TRUE;
}

static guint8
last_byte_mask (guint n_bits)
{
  guint spare = (guint) (mb_bitfield_wire_len (n_bits) * 8 - n_bits);
  return (guint8) (0xffu << spare);
}

void
mb_bitfield_set_all (MbBitfield *bf)
{
  gsize len = mb_bitfield_wire_len (bf->n_bits);
  if (len == 0)
    return;
  memset (bf->bits, 0xff, len);
  bf->bits[len - 1] &= last_byte_mask (bf->n_bits);
  bf->count = bf->n_bits;
}

static guint
first_clear_in_range (const MbBitfield *bf, guint from, guint to)
{
  guint i = from;
  while (i < to)
    {
      if ((i & 7) == 0 && i + 8 <= to && bf->bits[i >> 3] == 0xff)
        {
          i += 8;
          continue;
        }
      if (!mb_bitfield_test (bf, i))
        return i;
      i++;
    }
  return to;
}

guint
mb_bitfield_next_missing (const MbBitfield *bf, guint from)
{
  if (bf->count == bf->n_bits)
    return bf->n_bits;
  if (from >= bf->n_bits)
    from = 0;
  guint i = first_clear_in_range (bf, from, bf->n_bits);
  if (i < bf->n_bits)
    return i;
  i = first_clear_in_range (bf, 0, from);
  return i < from ? i : bf->n_bits;
}

gboolean
mb_bitfield_wants_from (const MbBitfield *bf, const MbBitfield *other)
{
  g_return_val_if_fail (bf->n_bits == other->n_bits, FALSE);
  gsize len = mb_bitfield_wire_len (bf->n_bits);
  for (gsize k = 0; k < len; k++)
    if (other->bits[k] & (guint8) ~bf->bits[k])
      return TRUE;
  return FALSE;
}

void
mb_bitfield_to_wire (const MbBitfield *bf, guint8 *out)
{
  memcpy (out, bf->bits, mb_bitfield_wire_len (bf->n_bits));
}

const guint8 *
mb_bitfield_bytes (const MbBitfield *bf)
{
  return bf->bits;
}

GBytes *
mb_bitfield_to_bytes (const MbBitfield *bf)
{
  return g_bytes_new (bf->bits, mb_bitfield_wire_len (bf->n_bits));
}

static guint
popcount8 (guint8 b)
{
  guint c = 0;
  for (; b; b &= (guint8) (b - 1))
    c++;
  return c;
}

MbBitfield *
mb_bitfield_from_wire (guint n_bits, const guint8 *data, gsize len, GError **error)
{
  gsize want = mb_bitfield_wire_len (n_bits);
  if (len != want)
    {
      g_set_error (error, MB_BITFIELD_ERROR, MB_BITFIELD_ERROR_LENGTH,
                   "bitfield of %" G_GSIZE_FORMAT " bytes for %u pieces; expected %"
                   G_GSIZE_FORMAT " bytes", len, n_bits, want);
      return NULL;
    }
  if (len > 0 && (data[len - 1] & (guint8) ~last_byte_mask (n_bits)))
    {
      g_set_error (error, MB_BITFIELD_ERROR, MB_BITFIELD_ERROR_SPARE_BITS,
                   "bitfield for %u pieces has spare bits set in its last byte (0x%02x)",
                   n_bits, data[len - 1]);
      return NULL;
    }
  MbBitfield *bf = mb_bitfield_new (n_bits);
  if (len)
    memcpy (bf->bits, data, len);
  for (gsize k = 0; k < len; k++)
    bf->count += popcount8 (data[k]);
  return bf;
}
