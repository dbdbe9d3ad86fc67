/* crc32.h — CRC-32 (zlib's: reflected 0xEDB88320, initial and final
 * complement), the frame and manifest checksum.  On x86-64 CPUs with
 * PCLMULQDQ and SSE4.1 it folds 64 bytes a step with carry-less multiplies
 * (several times zlib 1.2's table-driven speed); elsewhere, and for the
 * tail, it is zlib's crc32_z.  The values are zlib's, byte for byte. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* crc32 of data[0..len) continuing from crc (0 to start), as zlib's crc32_z. */
guint32 mb_crc32 (guint32 crc, const guint8 *data, gsize len);
/* TRUE when the carry-less multiply path is in use on this CPU. */
gboolean mb_crc32_is_accelerated (void);

G_END_DECLS
