/* test_codec.c — frames: every type round-trips and is sized exactly; the
 * encoder refuses what the decoder would; streams split at every offset and
 * fed a byte at a time; virtual data; the decoder's sticky failure and early
 * OVERSIZED.  The table of bad frames is in test_codec_bad.c; both build
 * their messages and frames with codec-fixture.c. */
#include <string.h>
#include <zlib.h>

#include "codec-fixture.h"

/* ---- round trips ---- */

static GBytes *
encode_ok (const MbMessage *m)
{
  g_autoptr (GError) error = NULL;
  GBytes *b = mb_codec_encode_bytes (m, &error);
  g_assert_no_error (error);
  g_assert_nonnull (b);
  return b;
}

static void
check_roundtrip (const MbMessage *m)
{
  g_autoptr (GBytes) b = encode_ok (m);
  gsize len;
  const guint8 *d = g_bytes_get_data (b, &len);
  g_assert_cmpuint (mb_codec_size (m), ==, len);
  g_autoptr (GError) error = NULL;
  g_autoptr (MbMessage) back = mb_codec_decode (d, len, 0, &error);
  g_assert_no_error (error);
  g_assert_true (mb_message_equal (m, back));
  g_autoptr (GBytes) again = encode_ok (back);
  g_assert_true (g_bytes_equal (b, again));           /* canonical */
  g_autoptr (MbDecoder) dec = mb_decoder_new (0);
  g_assert_true (mb_decoder_feed (dec, d, len));
  g_autoptr (MbMessage) back2 = mb_decoder_next (dec, &error);
  g_assert_no_error (error);
  g_assert_true (mb_message_equal (m, back2));
  g_assert_null (mb_decoder_next (dec, &error));
  g_assert_no_error (error);
  g_assert_true (mb_decoder_finish (dec, &error));
  g_assert_cmpuint (mb_decoder_buffered (dec), ==, 0);
}

static void
test_roundtrip_type (gconstpointer data)
{
  MbMsgType t = GPOINTER_TO_UINT (data);
  for (guint seed = 0; seed < 3; seed++)
    {
      g_autoptr (MbMessage) m = full_message (t, seed);
      check_roundtrip (m);
    }
}

static void
test_roundtrip_empty (void)
{
  /* every type with nothing set: NULL strings, NULL data of length 0,
   * NULL manifest, no peers, no indices */
  for (guint t = 1; t < MB_MSG_N_TYPES; t++)
    {
      g_autoptr (MbMessage) m = mb_message_new (t);
      check_roundtrip (m);
    }
}

static void
test_size_fixed_types (void)
{
  g_autoptr (MbMessage) none = mb_message_new (MB_MSG_NONE);
  g_autoptr (MbMessage) choke = mb_message_new (MB_MSG_CHOKE);
  g_assert_cmpuint (mb_codec_size (choke), ==, MB_FRAME_OVERHEAD + 4); /* swarm */
  g_autoptr (MbMessage) have = full_message (MB_MSG_HAVE, 0);
  g_assert_cmpuint (mb_codec_size (have), ==, MB_FRAME_OVERHEAD + 4 + 4);
  g_autoptr (MbMessage) piece = full_message (MB_MSG_PIECE, 0);
  g_assert_cmpuint (mb_codec_size (piece), ==, MB_FRAME_OVERHEAD + 4 + 4 + 4 + 4 + 100);
  /* the exact bytes of a HAVE frame: piece 7, then swarm 0x5eed0000 */
  g_autoptr (GBytes) b = encode_ok (have);
  const guint8 *d = g_bytes_get_data (b, NULL);
  const guint8 head[] = { 0, 0, 0, 13, MB_MSG_HAVE, 0, 0, 0, 7, 0x5e, 0xed, 0, 0 };
  g_assert_cmpmem (d, 13, head, 13);
  guint32 crc = (guint32) crc32 (0, d + 4, 9);
  const guint8 tail[] = { crc >> 24, (crc >> 16) & 0xff, (crc >> 8) & 0xff, crc & 0xff };
  g_assert_cmpmem (d + 13, 4, tail, 4);
}

/* ---- virtual data ---- */

static void
test_virtual_data (void)
{
  const MbMsgType types[] = { MB_MSG_PIECE, MB_MSG_CHUNK, MB_MSG_STORE_CHUNK, MB_MSG_BITFIELD };
  for (guint k = 0; k < G_N_ELEMENTS (types); k++)
    {
      g_autoptr (MbMessage) real = full_message (types[k], 0);
      g_autoptr (MbMessage) virt = mb_message_copy (real);
      g_clear_pointer (&virt->data, g_bytes_unref);
      virt->length = 16384;
      gsize real_size = mb_codec_size (real);
      g_assert_cmpuint (mb_codec_size (virt), ==, real_size - 100 + 16384);
      g_autoptr (GError) error = NULL;
      g_autoptr (GByteArray) out = g_byte_array_new ();
      g_byte_array_append (out, (const guint8 *) "xy", 2);
      g_assert_false (mb_codec_encode (virt, out, &error));
      g_assert_error (error, MB_CODEC_ERROR, MB_CODEC_ERROR_UNENCODABLE);
      g_assert_nonnull (strstr (error->message, "virtual"));
      g_assert_cmpuint (out->len, ==, 2);             /* nothing appended */
      g_clear_error (&error);
      /* empty virtual data encodes as empty */
      virt->length = 0;
      g_autoptr (GBytes) b = mb_codec_encode_bytes (virt, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (g_bytes_get_size (b), ==, mb_codec_size (virt));
      g_autoptr (MbMessage) back = mb_codec_decode (g_bytes_get_data (b, NULL),
                                                    g_bytes_get_size (b), 0, &error);
      g_assert_no_error (error);
      g_assert_true (mb_message_equal (virt, back));
      g_assert_nonnull (back->data);
      g_assert_cmpuint (back->length, ==, 0);
    }
}

/* ---- the encoder refuses what the decoder would ---- */

typedef struct {
  const char *what;
  MbMsgType type;
  void (*spoil) (MbMessage *m);
} BadMessage;

static void s_long_string (MbMessage *m) { g_free (m->text); m->text = g_strnfill (65536, 'a'); }
static void s_bad_utf8 (MbMessage *m) { g_free (m->name); m->name = g_strdup ("\xff\xfe"); }
static void s_bad_chunk_id (MbMessage *m) { g_free (m->chunk_id); m->chunk_id = g_strdup ("XYZ"); }
static void s_incomplete_manifest (MbMessage *m)
{
  mb_manifest_unref (m->manifest);
  m->manifest = mb_manifest_new ("f", 10, 4, NULL);   /* ids unset */
}
static void s_many_peers (MbMessage *m)
{
  MbPeerInfo *p = g_new0 (MbPeerInfo, 5000);
  mb_message_set_peers (m, p, 5000);
  g_free (p);
}
static void s_type_none (MbMessage *m) { m->type = MB_MSG_NONE; }
static void s_peer_bad_utf8 (MbMessage *m) { g_free (m->peers[0].addr); m->peers[0].addr = g_strdup ("\xc3"); }

static const BadMessage bad_messages[] = {
  { "string over 65535 bytes", MB_MSG_ERROR, s_long_string },
  { "invalid UTF-8", MB_MSG_HANDSHAKE, s_bad_utf8 },
  { "bad chunk id", MB_MSG_GET_CHUNK, s_bad_chunk_id },
  { "incomplete manifest", MB_MSG_STORE_MANIFEST, s_incomplete_manifest },
  { "too many peers", MB_MSG_PEER_LIST, s_many_peers },
  { "peer addr not UTF-8", MB_MSG_PEER_LIST, s_peer_bad_utf8 },
  { "type none", MB_MSG_PING, s_type_none },
};

static void
test_encode_refuses (void)
{
  for (guint k = 0; k < G_N_ELEMENTS (bad_messages); k++)
    {
      g_autoptr (MbMessage) m = full_message (bad_messages[k].type, 0);
      bad_messages[k].spoil (m);
      g_autoptr (GError) error = NULL;
      g_autoptr (GByteArray) out = g_byte_array_new ();
      g_assert_false (mb_codec_encode (m, out, &error));
      g_test_message ("%s: %s", bad_messages[k].what, error ? error->message : "-");
      g_assert_error (error, MB_CODEC_ERROR, MB_CODEC_ERROR_UNENCODABLE);
      g_assert_cmpuint (out->len, ==, 0);
    }
}

/* ---- the decoder ---- */

static void
test_oversized_before_body (void)
{
  /* decided from the 4 length bytes alone: feed refuses at once */
  g_autoptr (MbDecoder) dec = mb_decoder_new (1024);
  const guint8 head[] = { 0, 0, 4, 1 };           /* 1025 */
  g_assert_true (mb_decoder_feed (dec, head, 3));
  g_assert_false (mb_decoder_feed (dec, head + 3, 1));
  g_autoptr (GError) error = NULL;
  g_assert_null (mb_decoder_next (dec, &error));
  g_assert_error (error, MB_CODEC_ERROR, MB_CODEC_ERROR_OVERSIZED);
  g_assert_cmpuint (mb_decoder_buffered (dec), ==, 4);
  g_clear_error (&error);
  /* a bad length followed by a large body in the same feed: the body is dropped */
  g_autoptr (MbDecoder) dec2 = mb_decoder_new (1024);
  g_autofree guint8 *big = g_malloc0 (100000);
  big[0] = 0x7f;
  g_assert_false (mb_decoder_feed (dec2, big, 100000));
  g_assert_cmpuint (mb_decoder_buffered (dec2), ==, 4);
  g_assert_null (mb_decoder_next (dec2, &error));
  g_assert_error (error, MB_CODEC_ERROR, MB_CODEC_ERROR_OVERSIZED);
  g_clear_error (&error);
  /* max itself is fine */
  g_autoptr (MbDecoder) ok = mb_decoder_new (1024);
  const guint8 max[] = { 0, 0, 4, 0, MB_MSG_CHOKE };
  g_assert_true (mb_decoder_feed (ok, max, sizeof max));
  g_assert_null (mb_decoder_next (ok, &error));
  g_assert_no_error (error);
}

static void
test_bad_after_good_in_one_feed (void)
{
  /* frames before a bad length are still delivered, then the error */
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  valid_frame (bytes, MB_MSG_HAVE);
  valid_frame (bytes, MB_MSG_PING);
  put_u32 (bytes, 2);
  g_autoptr (MbDecoder) dec = mb_decoder_new (0);
  g_assert_false (mb_decoder_feed (dec, bytes->data, bytes->len));
  g_autoptr (GError) error = NULL;
  g_autoptr (MbMessage) a = mb_decoder_next (dec, &error);
  g_autoptr (MbMessage) b = mb_decoder_next (dec, &error);
  g_assert_no_error (error);
  g_assert_true (a && a->type == MB_MSG_HAVE && b && b->type == MB_MSG_PING);
  g_assert_null (mb_decoder_next (dec, &error));
  g_assert_error (error, MB_CODEC_ERROR, MB_CODEC_ERROR_UNDERSIZED);
}

static void
test_finish_clean (void)
{
  g_autoptr (MbDecoder) dec = mb_decoder_new (0);
  g_autoptr (GError) error = NULL;
  g_assert_true (mb_decoder_finish (dec, &error));
  g_assert_no_error (error);
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  valid_frame (bytes, MB_MSG_HAVE);
  mb_decoder_feed (dec, bytes->data, bytes->len);
  /* a whole unread frame is not a truncation */
  g_assert_true (mb_decoder_finish (dec, &error));
  g_autoptr (MbMessage) m = mb_decoder_next (dec, &error);
  g_assert_nonnull (m);
  g_assert_cmpuint (mb_decoder_buffered (dec), ==, 0);
}

/* A large frame's buffer is let go once it has been taken; what an idle
 * decoder holds stays small. */
static void
test_footprint (void)
{
  g_autoptr (MbDecoder) dec = mb_decoder_new (0);
  g_autoptr (MbMessage) big = mb_message_new (MB_MSG_CHUNK);
  big->chunk_id = g_strnfill (64, 'a');
  big->data = g_bytes_new_take (g_malloc0 (3u << 20), 3u << 20);
  g_autoptr (GBytes) bytes = mb_codec_encode_bytes (big, NULL);
  gsize len = g_bytes_get_size (bytes);
  const guint8 *p = g_bytes_get_data (bytes, NULL);
  for (gsize at = 0; at < len - 1; at += 100000)
    mb_decoder_feed (dec, p + at, MIN (100000, len - 1 - at));
  g_assert_cmpuint (mb_decoder_buffered (dec), ==, len - 1);
  g_assert_cmpuint (mb_decoder_footprint (dec), >=, len - 1);
  g_assert_cmpuint (mb_decoder_footprint (dec), <=, len + 4096);  /* room for it, no more */
  g_autoptr (GError) error = NULL;
  g_assert_null (mb_decoder_next (dec, &error));
  g_assert_no_error (error);
  mb_decoder_feed (dec, p + len - 1, 1);
  g_autoptr (MbMessage) m = mb_decoder_next (dec, &error);
  g_assert_no_error (error);
  g_assert_true (mb_message_equal (m, big));
  g_assert_cmpuint (mb_decoder_buffered (dec), ==, 0);
  g_assert_cmpuint (mb_decoder_footprint (dec), <=, 64 * 1024);
}

/* The trailer check of test_reframe: the trailer is 4 bytes, the frame's
 * length plus `salt`; counts the frames it saw. */
typedef struct {
  guint32 salt;
  guint seen;
} TrailerCheck;

static gboolean
check_trailer (gpointer user, const guint8 *frame, gsize len, const guint8 *trailer,
               GError **error)
{
  TrailerCheck *tc = user;
  tc->seen++;
  guint32 want = (guint32) len + tc->salt;
  guint32 got = (guint32) trailer[0] << 24 | (guint32) trailer[1] << 16
                | (guint32) trailer[2] << 8 | trailer[3];
  if (got == want)
    return TRUE;
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "bad trailer %08x", got);
  return FALSE;
}

static void
append_with_trailer (GByteArray *out, const MbMessage *m, guint32 salt)
{
  guint before = out->len;
  g_assert_true (mb_codec_encode (m, out, NULL));
  put_u32 (out, (out->len - before) + salt);
}

/* A small maximum and no trailer for the first frame, then (after it was
 * returned) trailers and a large maximum, all fed at once: the bytes
 * scanned ahead the old way are cut again; a bad trailer fails the stream. */
static void
test_reframe (void)
{
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  g_autoptr (MbMessage) hello = mb_message_new (MB_MSG_HELLO);
  hello->name = g_strdup ("a");
  hello->addr = g_strdup ("127.0.0.1:1");
  g_assert_true (mb_codec_encode (hello, bytes, NULL));
  g_autoptr (MbMessage) big = mb_message_new (MB_MSG_CHUNK);
  big->chunk_id = g_strnfill (64, 'b');
  big->data = g_bytes_new_take (g_malloc0 (200000), 200000);
  append_with_trailer (bytes, big, 7);
  g_autoptr (MbMessage) ping = mb_message_new (MB_MSG_PING);
  ping->req = 9;
  append_with_trailer (bytes, ping, 7);
  append_with_trailer (bytes, ping, 8);   /* a trailer the check refuses */
  g_autoptr (MbDecoder) dec = mb_decoder_new (1024);
  mb_decoder_feed (dec, bytes->data, bytes->len);
  g_autoptr (GError) error = NULL;
  g_autoptr (MbMessage) m1 = mb_decoder_next (dec, &error);
  g_assert_no_error (error);
  g_assert_true (mb_message_equal (m1, hello));
  TrailerCheck tc = { 7, 0 };
  mb_decoder_reframe (dec, 0, 4, check_trailer, &tc);
  g_autoptr (MbMessage) m2 = mb_decoder_next (dec, &error);
  g_assert_no_error (error);
  g_assert_true (mb_message_equal (m2, big));
  g_autoptr (MbMessage) m3 = mb_decoder_next (dec, &error);
  g_assert_no_error (error);
  g_assert_true (mb_message_equal (m3, ping));
  g_assert_cmpuint (tc.seen, ==, 2);
  g_assert_null (mb_decoder_next (dec, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL);
  g_clear_error (&error);
  g_assert_false (mb_decoder_finish (dec, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL);
  /* Without the reframe, the big frame is over the small maximum. */
  g_autoptr (MbDecoder) plain = mb_decoder_new (1024);
  mb_decoder_feed (plain, bytes->data, bytes->len);
  g_autoptr (MbMessage) p1 = mb_decoder_next (plain, NULL);
  g_autoptr (GError) err2 = NULL;
  g_assert_null (mb_decoder_next (plain, &err2));
  g_assert_error (err2, MB_CODEC_ERROR, MB_CODEC_ERROR_OVERSIZED);
  /* A stream that ends inside a trailer says so. */
  g_autoptr (MbDecoder) cut = mb_decoder_new (0);
  mb_decoder_reframe (cut, 0, 4, check_trailer, &tc);
  g_autoptr (GByteArray) one = g_byte_array_new ();
  append_with_trailer (one, ping, 7);
  mb_decoder_feed (cut, one->data, one->len - 2);
  g_autoptr (GError) err3 = NULL;
  g_assert_false (mb_decoder_finish (cut, &err3));
  g_assert_error (err3, MB_CODEC_ERROR, MB_CODEC_ERROR_TRUNCATED);
  g_assert_nonnull (strstr (err3->message, "trailer"));
}

/* ---- streams ---- */

static GPtrArray *
stream_messages (void)
{
  GPtrArray *msgs = g_ptr_array_new_with_free_func ((GDestroyNotify) mb_message_free);
  for (guint seed = 0; seed < 2; seed++)
    for (guint t = 1; t < MB_MSG_N_TYPES; t++)
      if (!(seed == 1 && t == MB_MSG_ERROR))    /* keep the stream small */
        g_ptr_array_add (msgs, full_message (t, seed));
  return msgs;
}

static GByteArray *
encode_all (GPtrArray *msgs)
{
  GByteArray *out = g_byte_array_new ();
  for (guint k = 0; k < msgs->len; k++)
    g_assert_true (mb_codec_encode (msgs->pdata[k], out, NULL));
  return out;
}

/* Pulls every message the decoder has, checking them against want[*next]. */
static void
drain (MbDecoder *dec, GPtrArray *want, guint *next)
{
  g_autoptr (GError) error = NULL;
  MbMessage *m;
  while ((m = mb_decoder_next (dec, &error)) != NULL)
    {
      g_assert_cmpuint (*next, <, want->len);
      g_assert_true (mb_message_equal (want->pdata[*next], m));
      (*next)++;
      mb_message_free (m);
    }
  g_assert_no_error (error);
}

static void
test_stream_split_every_offset (void)
{
  g_autoptr (GPtrArray) msgs = stream_messages ();
  g_autoptr (GByteArray) bytes = encode_all (msgs);
  g_test_message ("%u messages, %u bytes", msgs->len, bytes->len);
  for (guint cut = 0; cut <= bytes->len; cut++)
    {
      g_autoptr (MbDecoder) dec = mb_decoder_new (0);
      guint next = 0;
      g_assert_true (mb_decoder_feed (dec, bytes->data, cut));
      drain (dec, msgs, &next);
      g_assert_true (mb_decoder_feed (dec, bytes->data + cut, bytes->len - cut));
      drain (dec, msgs, &next);
      g_assert_cmpuint (next, ==, msgs->len);
      g_assert_true (mb_decoder_finish (dec, NULL));
      g_assert_cmpuint (mb_decoder_buffered (dec), ==, 0);
    }
}

static void
test_stream_byte_at_a_time (void)
{
  g_autoptr (GPtrArray) msgs = stream_messages ();
  g_autoptr (GByteArray) bytes = encode_all (msgs);
  g_autoptr (MbDecoder) dec = mb_decoder_new (0);
  guint next = 0;
  for (guint k = 0; k < bytes->len; k++)
    {
      g_assert_true (mb_decoder_feed (dec, bytes->data + k, 1));
      drain (dec, msgs, &next);
    }
  g_assert_cmpuint (next, ==, msgs->len);
  g_assert_true (mb_decoder_finish (dec, NULL));
}

static void
test_stream_feed_all_then_drain (void)
{
  /* many frames buffered before any is read */
  g_autoptr (GPtrArray) msgs = stream_messages ();
  g_autoptr (GByteArray) bytes = encode_all (msgs);
  g_autoptr (MbDecoder) dec = mb_decoder_new (0);
  guint next = 0;
  for (guint k = 0; k < bytes->len; k += 7)
    g_assert_true (mb_decoder_feed (dec, bytes->data + k, MIN (7u, bytes->len - k)));
  g_assert_cmpuint (mb_decoder_buffered (dec), ==, bytes->len);
  drain (dec, msgs, &next);
  g_assert_cmpuint (next, ==, msgs->len);
}

static void
test_stream_long (void)
{
  /* 200000 frames through one decoder; what stays buffered stays small */
  g_autoptr (MbMessage) have = full_message (MB_MSG_HAVE, 0);
  g_autoptr (GByteArray) block = g_byte_array_new ();
  for (guint k = 0; k < 100; k++)
    {
      have->piece = k;
      mb_codec_encode (have, block, NULL);
    }
  g_autoptr (MbDecoder) dec = mb_decoder_new (0);
  guint n = 0;
  for (guint round = 0; round < 2000; round++)
    {
      /* feed in two uneven pieces so a frame straddles the rounds */
      guint half = block->len / 2 + 3;
      mb_decoder_feed (dec, block->data, half);
      MbMessage *m;
      while ((m = mb_decoder_next (dec, NULL)) != NULL)
        {
          g_assert_cmpuint (m->piece, ==, n % 100);
          n++;
          mb_message_free (m);
        }
      mb_decoder_feed (dec, block->data + half, block->len - half);
      while ((m = mb_decoder_next (dec, NULL)) != NULL)
        {
          g_assert_cmpuint (m->piece, ==, n % 100);
          n++;
          mb_message_free (m);
        }
      g_assert_cmpuint (mb_decoder_buffered (dec), ==, 0);
    }
  g_assert_cmpuint (n, ==, 200000);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint t = 1; t < MB_MSG_N_TYPES; t++)
    {
      g_autofree gchar *path = g_strdup_printf ("/codec/roundtrip/%s", mb_message_type_name (t));
      g_test_add_data_func (path, GUINT_TO_POINTER (t), test_roundtrip_type);
    }
  g_test_add_func ("/codec/roundtrip/empty-fields", test_roundtrip_empty);
  g_test_add_func ("/codec/size/fixed-types", test_size_fixed_types);
  g_test_add_func ("/codec/virtual-data", test_virtual_data);
  g_test_add_func ("/codec/encode/refuses", test_encode_refuses);
  g_test_add_func ("/codec/decoder/oversized-before-body", test_oversized_before_body);
  g_test_add_func ("/codec/decoder/bad-after-good", test_bad_after_good_in_one_feed);
  g_test_add_func ("/codec/decoder/footprint", test_footprint);
  g_test_add_func ("/codec/decoder/reframe", test_reframe);
  g_test_add_func ("/codec/decoder/finish-clean", test_finish_clean);
  g_test_add_func ("/codec/stream/split-every-offset", test_stream_split_every_offset);
  g_test_add_func ("/codec/stream/byte-at-a-time", test_stream_byte_at_a_time);
  g_test_add_func ("/codec/stream/feed-all-then-drain", test_stream_feed_all_then_drain);
  g_test_add_func ("/codec/stream/long", test_stream_long);
  return g_test_run ();
}
