/* decoder.c — the incremental decoder (MbDecoder, codec.h): a byte stream
 * that arrives in arbitrary pieces, cut into frames, each decoded by
 * codec.c.
 *
 * Invariants:
 *  - data[start, len) are the bytes fed and not consumed; the frames in
 *    [start, scan) are whole (each with its trailer, if the framing has
 *    one) and their length fields checked under the current framing;
 *  - a frame with a trailer is decoded only once check has accepted it;
 *  - a length field is checked as soon as its 4 bytes are here; a bad one is
 *    kept in `bad` (at bad_at) and reported when next reaches it, so the
 *    frames before it are still delivered; if it is the first unconsumed
 *    frame, no byte after its length field is kept;
 *  - the first error is sticky: next and finish return it again, and feed
 *    refuses further bytes;
 *  - memory: the buffer is compacted before it grows; once the length of
 *    the frame in progress is known it is given room for exactly the rest
 *    of that frame (one allocation per large frame, whose pages are touched
 *    only as its bytes arrive), else it grows by doubling; once everything
 *    fed has been consumed, a buffer over MB_DECODER_IDLE_KEEP is freed, so
 *    an idle stream holds little whatever it carried before.
 */
#include "wire/codec.h"
#define MB_CORE_WIRE_INTERNAL
#include "wire/codec-private.h"

#include <string.h>

#define MB_DECODER_IDLE_KEEP (64u * 1024)
#define MB_DECODER_MIN_CAP 4096u

struct _MbDecoder {
  guint8 *data;
  gsize len;         /* bytes in data */
  gsize cap;         /* bytes allocated */
  gsize start;       /* first unconsumed byte */
  gsize scan;        /* first frame boundary whose length is not checked yet */
  gsize max_frame;
  gsize trailer;     /* bytes after each frame (mb_decoder_reframe) */
  MbFrameCheckFn check;
  gpointer check_data;
  gsize bad_at;      /* frame boundary with a bad length field (if bad) */
  GError *bad;       /* that frame's error, reported when next reaches it */
  GError *error;     /* the stream has failed: sticky */
};

MbDecoder *
mb_decoder_new (gsize max_frame)
{
  MbDecoder *dec = g_new0 (MbDecoder, 1);
  dec->max_frame = mbi_codec_effective_max (max_frame);
  return dec;
}

void
mb_decoder_free (MbDecoder *dec)
{
  if (dec == NULL)
    return;
  g_free (dec->data);
  g_clear_error (&dec->bad);
  g_clear_error (&dec->error);
  g_free (dec);
}

/* Moves the unconsumed bytes to the front. */
static void
compact (MbDecoder *dec)
{
  if (dec->start == 0)
    return;
  memmove (dec->data, dec->data + dec->start, dec->len - dec->start);
  dec->len -= dec->start;
  dec->scan -= dec->start;
  dec->bad_at -= MIN (dec->bad_at, dec->start);
  dec->start = 0;
}

/* Room for `more` bytes after len: exactly that many if `exact`, else
 * by doubling. */
static void
reserve (MbDecoder *dec, gsize more, gboolean exact)
{
  if (dec->cap - dec->len >= more)
    return;
  compact (dec);
  if (dec->cap - dec->len >= more)
    return;
  gsize want = dec->len + more;
  gsize cap = exact ? want : MAX (MAX (want, (gsize) MB_DECODER_MIN_CAP), dec->cap * 2);
  dec->data = g_realloc (dec->data, cap);
  dec->cap = cap;
}

/* Everything fed has been consumed: start again at the front, and let go
 * of a large buffer. */
static void
idle (MbDecoder *dec)
{
  dec->start = dec->scan = dec->len = 0;
  dec->bad_at = 0;
  if (dec->cap > MB_DECODER_IDLE_KEEP)
    {
      g_clear_pointer (&dec->data, g_free);
      dec->cap = 0;
    }
}

/* Walks the length fields of buffered frames from dec->scan, stopping at the
 * first frame not wholly buffered or at a bad length (kept in dec->bad). */
static void
scan_lengths (MbDecoder *dec)
{
  while (dec->bad == NULL && dec->len - dec->scan >= 4)
    {
      guint32 length = mbi_codec_read_u32 (dec->data + dec->scan);
      if (!mbi_codec_check_length (length, dec->max_frame, &dec->bad))
        {
          dec->bad_at = dec->scan;
          if (dec->bad_at == dec->start)
            dec->len = dec->bad_at + 4;   /* keep only its length field */
          return;
        }
      gsize whole = 4 + (gsize) length + dec->trailer;
      if (dec->len - dec->scan < whole)
        {
          reserve (dec, whole - (dec->len - dec->scan), TRUE);  /* the rest of it */
          return;
        }
      dec->scan += whole;
    }
}

gboolean
mb_decoder_feed (MbDecoder *dec, const guint8 *data, gsize len)
{
  g_return_val_if_fail (dec != NULL && (data != NULL || len == 0), FALSE);
  if (dec->error != NULL || dec->bad != NULL)
    return FALSE;
  if (dec->start == dec->len)
    idle (dec);
  if (len > G_MAXSIZE / 2 - (dec->len - dec->start))
    {
      g_set_error (&dec->error, MB_CODEC_ERROR, MB_CODEC_ERROR_OVERSIZED,
                   "stream buffer would exceed %" G_GSIZE_FORMAT " bytes", G_MAXSIZE / 2);
      return FALSE;
    }
  if (len == 0)
    return TRUE;
  reserve (dec, len, FALSE);
  memcpy (dec->data + dec->len, data, len);
  dec->len += len;
  scan_lengths (dec);
  return dec->bad == NULL;
}

/* The stream has failed with err (taken); the caller gets a copy. */
static void
fail (MbDecoder *dec, GError *err, GError **error)
{
  if (dec->error != err)
    {
      g_clear_error (&dec->error);
      dec->error = err;
    }
  g_propagate_error (error, g_error_copy (err));
}

MbMessage *
mb_decoder_next (MbDecoder *dec, GError **error)
{
  g_return_val_if_fail (dec != NULL, NULL);
  if (dec->error != NULL)
    {
      fail (dec, dec->error, error);
      return NULL;
    }
  scan_lengths (dec);
  if (dec->bad != NULL && dec->bad_at == dec->start)
    {
      fail (dec, g_steal_pointer (&dec->bad), error);
      return NULL;
    }
  if (dec->scan == dec->start)   /* no whole frame buffered */
    return NULL;
  guint32 length = mbi_codec_read_u32 (dec->data + dec->start);
  const guint8 *frame = dec->data + dec->start;
  GError *local = NULL;
  MbMessage *msg = NULL;
  if (dec->check == NULL
      || dec->check (dec->check_data, frame, 4 + (gsize) length, frame + 4 + length, &local))
    msg = mbi_codec_decode_body (frame + 4, length, &local);
  else if (local == NULL)
    local = g_error_new (MB_CODEC_ERROR, MB_CODEC_ERROR_INCONSISTENT,
                         "frame of %u bytes: its trailer was refused", length + 4);
  dec->start += 4 + (gsize) length + dec->trailer;
  if (msg == NULL)
    fail (dec, local, error);
  else if (dec->start == dec->len)
    idle (dec);
  return msg;
}

void
mb_decoder_reframe (MbDecoder *dec, gsize max_frame, gsize trailer, MbFrameCheckFn check,
                    gpointer user)
{
  g_return_if_fail (dec != NULL);
  dec->max_frame = mbi_codec_effective_max (max_frame);
  dec->trailer = trailer;
  dec->check = check;
  dec->check_data = user;
  if (dec->error != NULL)
    return;
  /* What was scanned ahead was cut the old way: cut it again.  A bad
   * length found ahead kept every byte after it (it was not at start). */
  g_clear_error (&dec->bad);
  dec->bad_at = 0;
  dec->scan = dec->start;
  scan_lengths (dec);
}

gboolean
mb_decoder_finish (MbDecoder *dec, GError **error)
{
  g_return_val_if_fail (dec != NULL, FALSE);
  if (dec->error == NULL)
    scan_lengths (dec);
  if (dec->error != NULL || dec->bad != NULL)
    {
      fail (dec, dec->error ? dec->error : g_steal_pointer (&dec->bad), error);
      return FALSE;
    }
  gsize partial = dec->len - dec->scan;
  if (partial == 0)
    return TRUE;
  GError *err;
  if (partial < 4)
    err = g_error_new (MB_CODEC_ERROR, MB_CODEC_ERROR_TRUNCATED,
                       "stream ended inside a frame's length field (%" G_GSIZE_FORMAT
                       " of 4 bytes)", partial);
  else if (partial == 4)
    err = g_error_new (MB_CODEC_ERROR, MB_CODEC_ERROR_TRUNCATED,
                       "stream ended after a frame's length field (0 of %u bytes)",
                       mbi_codec_read_u32 (dec->data + dec->scan));
  else if (partial - 4 >= mbi_codec_read_u32 (dec->data + dec->scan))
    err = g_error_new (MB_CODEC_ERROR, MB_CODEC_ERROR_TRUNCATED,
                       "stream ended inside the %" G_GSIZE_FORMAT "-byte trailer of a frame "
                       "of type %u", dec->trailer, dec->data[dec->scan + 4]);
  else
    err = g_error_new (MB_CODEC_ERROR, MB_CODEC_ERROR_TRUNCATED,
                       "stream ended inside a frame of type %u (%" G_GSIZE_FORMAT
                       " of %u bytes after the length field)",
                       dec->data[dec->scan + 4], partial - 4,
                       mbi_codec_read_u32 (dec->data + dec->scan));
  fail (dec, err, error);
  return FALSE;
}

gsize
mb_decoder_buffered (const MbDecoder *dec)
{
  g_return_val_if_fail (dec != NULL, 0);
  return dec->len - dec->start;
}

gsize
mb_decoder_footprint (const MbDecoder *dec)
{
  g_return_val_if_fail (dec != NULL, 0);
  return dec->cap;
}
