/* codec.h — messages to frames and back.
 *
 * Frame layout (all integers big-endian):
 *
 *   u32 length   bytes that follow this field: 1 (type) + payload + 4 (crc)
 *   u8  type     an MbMsgType
 *   ... payload  the type's fields in MbField order, except that swarm is
 *                written after count, with the other u32 fields:
 *                u32 fields as u32; strings as u16 length + bytes (UTF-8, no NUL);
 *                data as u32 length + bytes; manifest as u32 length + binary form;
 *                peers as u16 count + (string, string) each;
 *                indices as u32 count + u32 each
 *   u32 crc32    zlib crc32 of type and payload
 *
 * The decoder never trusts its input.  It works on a byte stream that arrives
 * in arbitrary pieces; each bad frame is refused with its own error, after
 * which the stream is unusable (the caller drops the connection).  The
 * one-frame codec is codec.c, the stream decoder (MbDecoder) decoder.c.
 */
#pragma once

#include <glib.h>

#include "wire/message.h"

G_BEGIN_DECLS

#define MB_CODEC_ERROR (mb_codec_error_quark ())
GQuark mb_codec_error_quark (void);

typedef enum {
  MB_CODEC_OK = 0,
  MB_CODEC_ERROR_TRUNCATED,     /* the stream ended inside a frame */
  MB_CODEC_ERROR_OVERSIZED,     /* length above the configured maximum */
  MB_CODEC_ERROR_UNDERSIZED,    /* length too small to hold type and crc */
  MB_CODEC_ERROR_CRC,           /* crc32 does not match */
  MB_CODEC_ERROR_UNKNOWN_TYPE,
  MB_CODEC_ERROR_INCONSISTENT,  /* payload does not fit the type's schema */
  MB_CODEC_ERROR_UNENCODABLE,   /* (encoder) virtual data, over-long field */
} MbCodecError;

#define MB_FRAME_HEADER 5u            /* length + type */
#define MB_FRAME_OVERHEAD 9u          /* length + type + crc */
#define MB_FRAME_DEFAULT_MAX (4u << 20) /* bytes after the length field */

/* The encoded size of a frame for msg, computed without encoding it (virtual
 * data counts as `length` bytes).  The simulator charges this to the network. */
gsize mb_codec_size (const MbMessage *msg);

/* Appends one frame to out.  FALSE with MB_CODEC_ERROR_UNENCODABLE if the
 * message holds virtual data or a field too long for its length prefix. */
gboolean mb_codec_encode (const MbMessage *msg, GByteArray *out, GError **error);
GBytes *mb_codec_encode_bytes (const MbMessage *msg, GError **error);

/* Decodes one whole frame from buf (exactly len bytes). */
MbMessage *mb_codec_decode (const guint8 *buf, gsize len, gsize max_frame,
                            GError **error);

typedef struct _MbDecoder MbDecoder;

MbDecoder *mb_decoder_new (gsize max_frame);
void mb_decoder_free (MbDecoder *dec);
/* Appends bytes as they arrive.  FALSE once the stream has failed. */
gboolean mb_decoder_feed (MbDecoder *dec, const guint8 *data, gsize len);
/* The next whole message, or NULL: if *error is unset, more bytes are needed;
 * if set, the stream is bad (and stays bad). */
MbMessage *mb_decoder_next (MbDecoder *dec, GError **error);
/* Checks a frame's trailer (a MAC, say) before the frame is decoded: frame
 * is the whole frame, length field included (len bytes), trailer the bytes
 * that follow it.  FALSE with error set: the stream fails with that error. */
typedef gboolean (*MbFrameCheckFn) (gpointer user, const guint8 *frame, gsize len,
                                    const guint8 *trailer, GError **error);
/* Changes the framing from the first frame next has not returned yet on:
 * each frame is then followed by `trailer` bytes (0: none), given to check
 * (may be NULL) before the frame is decoded; frames may be up to max_frame
 * bytes after the length field (0: MB_FRAME_DEFAULT_MAX).  Call it between
 * two frames: right after next returned the last frame of the old framing
 * (the bytes already fed after it are cut again the new way). */
void mb_decoder_reframe (MbDecoder *dec, gsize max_frame, gsize trailer,
                         MbFrameCheckFn check, gpointer user);
/* At end of stream: TRUE if no partial frame is buffered, else
 * MB_CODEC_ERROR_TRUNCATED. */
gboolean mb_decoder_finish (MbDecoder *dec, GError **error);
/* Bytes fed and not yet consumed (an unfinished frame, or frames not yet
 * taken with next). */
gsize mb_decoder_buffered (const MbDecoder *dec);
/* Bytes the decoder has allocated: room for the frame in progress (its
 * pages are touched only as its bytes arrive), and at most 64 KiB once
 * everything fed has been consumed. */
gsize mb_decoder_footprint (const MbDecoder *dec);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MbDecoder, mb_decoder_free)

G_END_DECLS
