/* bitfield.h — which pieces a peer has, one bit a piece.
 *
 * Wire form is BEP 3's: piece 0 is the high bit of byte 0; the spare bits
 * after the last piece must be zero (a bitfield with spare bits set, or of
 * the wrong length, is refused).  The set-bit count is kept up to date, so
 * count() and is_complete() are O(1).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MB_BITFIELD_ERROR (mb_bitfield_error_quark ())
GQuark mb_bitfield_error_quark (void);

typedef enum {
  MB_BITFIELD_ERROR_LENGTH,
  MB_BITFIELD_ERROR_SPARE_BITS,
} MbBitfieldError;

typedef struct _MbBitfield MbBitfield;

MbBitfield *mb_bitfield_new (guint n_bits);
void mb_bitfield_free (MbBitfield *bf);
MbBitfield *mb_bitfield_copy (const MbBitfield *bf);

guint mb_bitfield_size (const MbBitfield *bf);
guint mb_bitfield_count (const MbBitfield *bf);
gboolean mb_bitfield_is_complete (const MbBitfield *bf);
gboolean mb_bitfield_test (const MbBitfield *bf, guint i);
/* TRUE if the bit was clear before. */
gboolean mb_bitfield_set (MbBitfield *bf, guint i);
gboolean mb_bitfield_clear (MbBitfield *bf, guint i);
void mb_bitfield_set_all (MbBitfield *bf);
/* The first clear bit at or after `from`, wrapping around; size() if none. */
guint mb_bitfield_next_missing (const MbBitfield *bf, guint from);
/* TRUE if `other` has a piece that `bf` lacks (same size required). */
gboolean mb_bitfield_wants_from (const MbBitfield *bf, const MbBitfield *other);

gsize mb_bitfield_wire_len (guint n_bits);
void mb_bitfield_to_wire (const MbBitfield *bf, guint8 *out);
/* The bits in place, in wire order (mb_bitfield_wire_len bytes, spare bits
 * zero); valid until bf is changed or freed. */
const guint8 *mb_bitfield_bytes (const MbBitfield *bf);
GBytes *mb_bitfield_to_bytes (const MbBitfield *bf);
MbBitfield *mb_bitfield_from_wire (guint n_bits, const guint8 *data, gsize len,
                                   GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MbBitfield, mb_bitfield_free)

G_END_DECLS
