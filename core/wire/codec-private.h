/* codec-private.h — what codec.c gives decoder.c: reading a frame's length
 * field and decoding a frame's body.  Not an API.
 */
#pragma once

#ifndef MB_CORE_WIRE_INTERNAL
#error "codec-private.h is private to core/wire/codec.c and decoder.c"
#endif

#include "wire/codec.h"

guint32 mbi_codec_read_u32 (const guint8 *p);
/* max_frame, or MB_FRAME_DEFAULT_MAX for 0. */
gsize mbi_codec_effective_max (gsize max_frame);
/* A frame's length field: UNDERSIZED, then OVERSIZED. */
gboolean mbi_codec_check_length (guint32 length, gsize max_frame, GError **error);
/* A frame's body (type, payload, crc: the `length` bytes after the length
 * field), whose length has been checked. */
MbMessage *mbi_codec_decode_body (const guint8 *body, gsize len, GError **error);
