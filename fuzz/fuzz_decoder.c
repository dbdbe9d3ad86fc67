/* fuzz_decoder.c — libFuzzer target: the stream decoder, the one-frame
 * decoder and the manifest parsers on arbitrary bytes.
 *
 * The stream is also decoded in the authenticated framing (a 16-byte
 * trailer after every frame, checked before the frame is decoded).
 *
 * Input: byte 0 picks how the stream is fed (bits 0-6: piece size - 1; bit 7:
 * a small maximum frame size); the rest is the stream.  The parsers also see
 * the whole input.  Checked, aborting on failure:
 *  - nothing crashes, leaks or trips a GLib critical (made fatal);
 *  - every decoded message re-encodes to exactly mb_codec_size bytes, to the
 *    very bytes it was decoded from (the encoding is canonical), and decodes
 *    again to an equal message;
 *  - a failed stream stays failed; a clean one finishes without truncation
 *    only if nothing partial is left;
 *  - a manifest that parses validates and survives both forms unchanged.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/codec.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check (gboolean ok, const char *what)
{
  if (!ok)
    {
      fprintf (stderr, "fuzz-decoder: check failed: %s\n", what);
      abort ();
    }
}

/* msg was decoded from frame[0..len): re-encode and decode again. */
static void
check_message (const MbMessage *msg, const guint8 *frame, gsize len, gsize max_frame)
{
  GError *error = NULL;
  GBytes *b = mb_codec_encode_bytes (msg, &error);
  check (b != NULL && error == NULL, "a decoded message does not re-encode");
  gsize blen;
  const guint8 *bd = g_bytes_get_data (b, &blen);
  check (blen == mb_codec_size (msg), "mb_codec_size differs from the encoded length");
  check (blen == len && memcmp (bd, frame, len) == 0, "re-encoding differs from the input");
  MbMessage *again = mb_codec_decode (bd, blen, max_frame, &error);
  check (again != NULL && error == NULL, "a re-encoded message does not decode");
  check (mb_message_equal (msg, again), "decode(encode(msg)) != msg");
  mb_message_free (again);
  g_bytes_unref (b);
}

static void
check_manifest_forms (const MbManifest *m)
{
  check (mb_manifest_validate (m, NULL), "a parsed manifest does not validate");
  GBytes *b = mb_manifest_to_bytes (m);
  check (g_bytes_get_size (b) == mb_manifest_encoded_size (m), "manifest encoded size");
  MbManifest *from_b = mb_manifest_from_bytes (g_bytes_get_data (b, NULL),
                                               g_bytes_get_size (b), NULL);
  check (mb_manifest_equal (m, from_b), "manifest binary round trip");
  gchar *json = mb_manifest_to_json (m);
  MbManifest *from_j = mb_manifest_from_json (json, -1, NULL);
  check (mb_manifest_equal (m, from_j), "manifest JSON round trip");
  g_free (json);
  mb_manifest_unref (from_j);
  mb_manifest_unref (from_b);
  g_bytes_unref (b);
}

static void
fuzz_manifest (const guint8 *data, gsize size)
{
  MbManifest *m = mb_manifest_from_bytes (data, size, NULL);
  if (m != NULL)
    {
      check_manifest_forms (m);
      GBytes *b = mb_manifest_to_bytes (m);
      check (g_bytes_get_size (b) == size
             && memcmp (g_bytes_get_data (b, NULL), data, size) == 0,
             "manifest binary form is not canonical");
      g_bytes_unref (b);
      mb_manifest_unref (m);
    }
  m = mb_manifest_from_json ((const char *) data, (gssize) size, NULL);
  if (m != NULL)
    {
      check_manifest_forms (m);
      mb_manifest_unref (m);
    }
}

static gsize
frame_len (const guint8 *p)
{
  return 4 + ((gsize) p[0] << 24 | (gsize) p[1] << 16 | (gsize) p[2] << 8 | p[3]);
}

/* Pulls every message; *pos is where the next frame starts in the stream.
 * Returns FALSE once the stream has failed. */
static gboolean
drain (MbDecoder *dec, const guint8 *stream, gsize fed, gsize *pos, gsize max_frame)
{
  for (;;)
    {
      GError *error = NULL;
      MbMessage *msg = mb_decoder_next (dec, &error);
      if (msg == NULL)
        {
          gboolean failed = error != NULL;
          g_clear_error (&error);
          if (!failed)
            check (mb_decoder_buffered (dec) == fed - *pos, "buffered bytes miscounted");
          return !failed;
        }
      check (fed - *pos >= 4, "a message from less than a length field");
      gsize len = frame_len (stream + *pos);
      check (len <= fed - *pos, "a message from a frame not wholly fed");
      check_message (msg, stream + *pos, len, max_frame);
      *pos += len;
      mb_message_free (msg);
    }
}

static void
fuzz_stream (const guint8 *stream, gsize size, gsize piece, gsize max_frame)
{
  MbDecoder *dec = mb_decoder_new (max_frame);
  gsize fed = 0, pos = 0;
  gboolean ok = TRUE;
  while (ok && fed < size)
    {
      gsize n = MIN (piece, size - fed);
      mb_decoder_feed (dec, stream + fed, n);
      fed += n;
      ok = drain (dec, stream, fed, &pos, max_frame);
    }
  GError *error = NULL;
  gboolean clean = mb_decoder_finish (dec, &error);
  check (clean == (error == NULL), "finish: result and error disagree");
  check (!clean || ok, "finish succeeded on a failed stream");
  check (!clean || pos == size, "finish succeeded with a partial frame left");
  g_clear_error (&error);
  if (!ok)
    {
      check (!mb_decoder_feed (dec, (const guint8 *) "x", 1), "a failed stream took bytes");
      check (mb_decoder_next (dec, &error) == NULL && error != NULL, "failure is not sticky");
      g_clear_error (&error);
    }
  mb_decoder_free (dec);
}

/* The authenticated transport's framing (mb_decoder_reframe): every frame
 * followed by a 16-byte trailer the check sees before the frame is decoded.
 * Here the check accepts a trailer whose first byte is the frame's length
 * modulo 256 (so the fuzzer reaches both answers); a refusal fails the
 * stream for good. */
#define TRAILER 16

static gboolean
toy_check (gpointer user, const guint8 *frame, gsize len, const guint8 *trailer, GError **error)
{
  (void) user;
  (void) frame;
  if (trailer[0] == (guint8) len)
    return TRUE;
  g_set_error (error, MB_CODEC_ERROR, MB_CODEC_ERROR_INCONSISTENT, "bad trailer");
  return FALSE;
}

static void
fuzz_stream_trailer (const guint8 *stream, gsize size, gsize piece, gsize max_frame)
{
  MbDecoder *dec = mb_decoder_new (max_frame);
  mb_decoder_reframe (dec, max_frame, TRAILER, toy_check, NULL);
  gsize fed = 0, pos = 0;
  gboolean ok = TRUE;
  while (ok && fed < size)
    {
      gsize n = MIN (piece, size - fed);
      mb_decoder_feed (dec, stream + fed, n);
      fed += n;
      for (;;)
        {
          GError *error = NULL;
          MbMessage *msg = mb_decoder_next (dec, &error);
          if (msg == NULL)
            {
              ok = error == NULL;
              g_clear_error (&error);
              break;
            }
          check (fed - pos >= 4, "trailer mode: a message from less than a length field");
          gsize len = frame_len (stream + pos);
          check (len + TRAILER <= fed - pos, "trailer mode: a message before its trailer came");
          check (stream[pos + len] == (guint8) len,
                 "trailer mode: a frame whose trailer the check refused");
          check_message (msg, stream + pos, len, max_frame);
          pos += len + TRAILER;
          mb_message_free (msg);
        }
    }
  GError *error = NULL;
  gboolean clean = mb_decoder_finish (dec, &error);
  check (clean == (error == NULL), "trailer mode: finish: result and error disagree");
  check (!clean || ok, "trailer mode: finish succeeded on a failed stream");
  g_clear_error (&error);
  mb_decoder_free (dec);
}

static void
fuzz_one_frame (const guint8 *stream, gsize size, gsize max_frame)
{
  MbMessage *msg = mb_codec_decode (stream, size, max_frame, NULL);
  if (msg != NULL)
    {
      check_message (msg, stream, size, max_frame);
      mb_message_free (msg);
    }
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  gsize piece = (data[0] & 0x7f) + 1u;
  gsize max_frame = (data[0] & 0x80) ? 256 : 0;
  fuzz_stream (data + 1, size - 1, piece, max_frame);
  fuzz_stream_trailer (data + 1, size - 1, piece, max_frame);
  fuzz_one_frame (data + 1, size - 1, max_frame);
  fuzz_manifest (data, size);
  fuzz_manifest (data + 1, size - 1);
  return 0;
}
