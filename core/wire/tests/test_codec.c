/* test_codec.c — frames: every type round-trips and is sized exactly; a table
 * of bad frames, each refused with its own error; streams split at every
 * offset and fed a byte at a time; virtual data; the decoder's sticky
 * failure and early OVERSIZED. */
#include <string.h>
#include <zlib.h>

#include "wire/codec.h"

/* ---- building messages ---- */

static MbManifest *
small_manifest (guint seed)
{
  MbManifest *m = mb_manifest_new ("f.bin", 10 + seed, 4, NULL);
  for (guint i = 0; i < mb_manifest_n_chunks (m); i++)
    {
      guint8 b[2] = { (guint8) i, (guint8) seed };
      g_autofree gchar *id = g_compute_checksum_for_data (G_CHECKSUM_SHA256, b, 2);
      mb_manifest_set_chunk (m, i, id, (guint32) crc32 (0, b, 2), NULL);
    }
  mb_manifest_add_holder (m, 0, "peer2:5000");
  mb_manifest_add_holder (m, 0, "peer1:5000");
  mb_manifest_add_holder (m, 2, "ünïcode:1");
  return m;
}

/* A message of type t with a value in every field of its schema; seed 1
 * gives extreme values (all-ones integers, long strings, no items). */
static MbMessage *
full_message (MbMsgType t, guint seed)
{
  MbMessage *m = mb_message_new (t);
  guint32 f = mb_message_fields (t);
  guint32 big = seed == 1 ? G_MAXUINT32 : 0;
  if (f & MB_F_REQ) m->req = big ? big : 1000 + seed;
  if (f & MB_F_CODE) m->code = big ? big : MB_ERR_NOT_OWNER;
  if (f & MB_F_PIECE) m->piece = big ? big : 7 + seed;
  if (f & MB_F_OFFSET) m->offset = big ? big : 16384;
  if (f & MB_F_LENGTH) m->length = big ? big : 16384;
  if (f & MB_F_COUNT) m->count = big ? big : 42;
  if (f & MB_F_SWARM) m->swarm = big ? big : 0x5eed0000u + seed;
  if (f & MB_F_FILE) m->file = g_strdup (seed == 1 ? "" : "test_file_large.txt");
  if (f & MB_F_NAME) m->name = g_strdup_printf ("peer%u", seed);
  if (f & MB_F_ADDR) m->addr = g_strdup ("127.0.0.1:5001");
  if (f & MB_F_CHUNK_ID)
    m->chunk_id = seed == 1 ? g_strdup ("")
                            : g_compute_checksum_for_string (G_CHECKSUM_SHA256, "x", 1);
  if (f & MB_F_TEXT)
    m->text = seed == 1 ? g_strnfill (G_MAXUINT16, 'e') : g_strdup ("not the owner — ask peer2");
  if (f & MB_F_DATA)
    {
      gsize n = seed == 1 ? 0 : 100 + seed;
      guint8 *d = g_malloc (MAX (n, 1));
      for (gsize k = 0; k < n; k++)
        d[k] = (guint8) (k * 31 + seed);
      m->data = g_bytes_new_take (d, n);
      m->length = (guint32) n;
    }
  if (f & MB_F_MANIFEST) m->manifest = small_manifest (seed);
  if ((f & MB_F_PEERS) && seed != 1)
    {
      const MbPeerInfo peers[] = { { "p1", "10.0.0.1:1" }, { "p2", "10.0.0.2:2" },
                                   { "", "" } };
      mb_message_set_peers (m, peers, G_N_ELEMENTS (peers));
    }
  if ((f & MB_F_INDICES) && seed != 1)
    {
      const guint32 idx[] = { 0, 3, 9, G_MAXUINT32 };
      mb_message_set_indices (m, idx, G_N_ELEMENTS (idx));
    }
  return m;
}

static GBytes *
encode_ok (const MbMessage *m)
{
  g_autoptr (GError) error = NULL;
  GBytes *b = mb_codec_encode_bytes (m, &error);
  g_assert_no_error (error);
  g_assert_nonnull (b);
  return b;
}

/* ---- round trips ---- */

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

/* ---- bad frames ---- */

static void
put_u32 (GByteArray *a, guint32 v)
{
  guint8 b[4] = { v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff };
  g_byte_array_append (a, b, 4);
}

static void
put_u16 (GByteArray *a, guint16 v)
{
  guint8 b[2] = { v >> 8, v & 0xff };
  g_byte_array_append (a, b, 2);
}

static void
put_str (GByteArray *a, const char *s, gsize len)
{
  put_u16 (a, (guint16) len);
  g_byte_array_append (a, (const guint8 *) s, (guint) len);
}

/* A frame with a correct length and crc around any payload. */
static void
raw_frame (GByteArray *out, guint type, const GByteArray *payload)
{
  guint plen = payload ? payload->len : 0;
  guint start = out->len;
  put_u32 (out, 1 + plen + 4);
  guint8 t = (guint8) type;
  g_byte_array_append (out, &t, 1);
  if (plen)
    g_byte_array_append (out, payload->data, plen);
  put_u32 (out, (guint32) crc32 (0, out->data + start + 4, 1 + plen));
}

static void
valid_frame (GByteArray *out, MbMsgType t)
{
  g_autoptr (MbMessage) m = full_message (t, 0);
  g_assert_true (mb_codec_encode (m, out, NULL));
}

typedef struct {
  const char *what;
  void (*build) (GByteArray *out);
  gint code;
  const char *says;     /* substring of the message, or NULL */
  gsize max_frame;      /* 0: default */
  gboolean single;      /* exactly one frame (or its prefix): mb_codec_decode agrees */
} BadFrame;

static void b_trunc_len (GByteArray *o) { valid_frame (o, MB_MSG_PIECE); g_byte_array_set_size (o, 2); }
static void b_trunc_after_len (GByteArray *o) { valid_frame (o, MB_MSG_PIECE); g_byte_array_set_size (o, 4); }
static void b_trunc_after_type (GByteArray *o) { valid_frame (o, MB_MSG_PIECE); g_byte_array_set_size (o, 5); }
static void b_trunc_payload (GByteArray *o) { valid_frame (o, MB_MSG_PIECE); g_byte_array_set_size (o, o->len - 30); }
static void b_trunc_crc (GByteArray *o) { valid_frame (o, MB_MSG_PIECE); g_byte_array_set_size (o, o->len - 1); }
static void b_trunc_second (GByteArray *o)
{
  valid_frame (o, MB_MSG_HAVE);
  guint first = o->len;
  valid_frame (o, MB_MSG_STORE_MANIFEST);
  g_byte_array_set_size (o, first + (o->len - first) / 2);
}
static void b_under0 (GByteArray *o) { put_u32 (o, 0); }
static void b_under4 (GByteArray *o) { put_u32 (o, 4); put_u32 (o, 0); }
static void b_over_default (GByteArray *o) { put_u32 (o, MB_FRAME_DEFAULT_MAX + 1); }
static void b_over_max (GByteArray *o) { put_u32 (o, G_MAXUINT32); g_byte_array_append (o, (const guint8 *) "abc", 3); }
static void b_over_small_max (GByteArray *o) { valid_frame (o, MB_MSG_PIECE); }  /* max 64 */
static void b_crc_flip (GByteArray *o) { valid_frame (o, MB_MSG_PIECE); o->data[o->len - 1] ^= 1; }
static void b_crc_payload (GByteArray *o) { valid_frame (o, MB_MSG_PIECE); o->data[20] ^= 0x80; }
static void b_crc_type (GByteArray *o) { valid_frame (o, MB_MSG_REQUEST); o->data[4] = MB_MSG_CANCEL; }
static void b_type0 (GByteArray *o) { raw_frame (o, 0, NULL); }
static void b_type200 (GByteArray *o) { raw_frame (o, 200, NULL); }
static void b_type_n (GByteArray *o) { raw_frame (o, MB_MSG_N_TYPES, NULL); }
static void b_string_overrun (GByteArray *o)
{
  g_autoptr (GByteArray) p = g_byte_array_new ();
  put_u32 (p, 0);     /* code */
  put_u16 (p, 1000);
  g_byte_array_append (p, (const guint8 *) "abc", 3);
  raw_frame (o, MB_MSG_HANDSHAKE, p);
}
static void b_trailing (GByteArray *o)
{
  g_autoptr (GByteArray) p = g_byte_array_new ();
  put_u32 (p, 7);     /* piece */
  put_u32 (p, 9);     /* swarm */
  g_byte_array_append (p, (const guint8 *) "x", 1);
  raw_frame (o, MB_MSG_HAVE, p);
}
static void b_payload_for_empty (GByteArray *o)
{
  g_autoptr (GByteArray) p = g_byte_array_new ();
  g_byte_array_append (p, (const guint8 *) "x", 1);
  raw_frame (o, MB_MSG_CHOKE, p);
}
static void b_missing_field (GByteArray *o)
{
  g_autoptr (GByteArray) p = g_byte_array_new ();
  put_u32 (p, 1);
  put_u32 (p, 2);     /* request: piece offset, no length */
  raw_frame (o, MB_MSG_REQUEST, p);
}
static void b_half_u32 (GByteArray *o)
{
  g_autoptr (GByteArray) p = g_byte_array_new ();
  put_u16 (p, 1);
  raw_frame (o, MB_MSG_HAVE, p);
}
static void b_bad_utf8 (GByteArray *o)
{
  g_autoptr (GByteArray) p = g_byte_array_new ();
  put_u32 (p, 0);     /* code */
  put_str (p, "ok", 2);
  put_str (p, "\xff", 1);
  put_str (p, "a:1", 3);
  raw_frame (o, MB_MSG_HANDSHAKE, p);
}
static void b_nul_string (GByteArray *o)
{
  g_autoptr (GByteArray) p = g_byte_array_new ();
  put_str (p, "a\0b", 3);
  raw_frame (o, MB_MSG_LEAVE_NOTICE, p);
}
static void b_bad_chunk_id (GByteArray *o)
{
  g_autoptr (GByteArray) p = g_byte_array_new ();
  put_u32 (p, 1);
  put_str (p, "xyz", 3);
  raw_frame (o, MB_MSG_GET_CHUNK, p);
}
static void b_upper_chunk_id (GByteArray *o)
{
  g_autoptr (GByteArray) p = g_byte_array_new ();
  g_autofree gchar *id = g_compute_checksum_for_string (G_CHECKSUM_SHA256, "x", 1);
  g_autofree gchar *up = g_ascii_strup (id, -1);
  put_u32 (p, 1);
  put_str (p, up, 64);
  raw_frame (o, MB_MSG_GET_CHUNK, p);
}
static void b_bad_manifest (GByteArray *o)
{
  g_autoptr (GByteArray) p = g_byte_array_new ();
  put_u32 (p, 1);
  put_u32 (p, 3);
  g_byte_array_append (p, (const guint8 *) "abc", 3);
  raw_frame (o, MB_MSG_STORE_MANIFEST, p);
}
static void b_manifest_bad_name (GByteArray *o)
{
  g_autoptr (GByteArray) p = g_byte_array_new ();
  g_autoptr (MbManifest) m = small_manifest (0);
  g_autoptr (GBytes) b = mb_manifest_to_bytes (m);
  put_u32 (p, 1);
  put_u32 (p, (guint32) g_bytes_get_size (b));
  guint at = p->len;
  g_byte_array_append (p, g_bytes_get_data (b, NULL), (guint) g_bytes_get_size (b));
  p->data[at + 5 + 1] = '/';    /* "f/bin" */
  raw_frame (o, MB_MSG_MANIFEST, p);
}
static void b_manifest_overrun (GByteArray *o)
{
  g_autoptr (GByteArray) p = g_byte_array_new ();
  put_u32 (p, 1);
  put_u32 (p, 1000);
  raw_frame (o, MB_MSG_MANIFEST, p);
}
static void b_peers_overrun (GByteArray *o)
{
  g_autoptr (GByteArray) p = g_byte_array_new ();
  put_u32 (p, 1);
  put_u32 (p, 0);
  put_u32 (p, 50);
  put_str (p, "", 0); /* file */
  put_u16 (p, 1000);
  put_str (p, "p", 1);
  raw_frame (o, MB_MSG_PEER_LIST, p);
}
static void b_too_many_peers (GByteArray *o)
{
  g_autoptr (GByteArray) p = g_byte_array_new ();
  put_u32 (p, 1);
  put_u32 (p, 0);
  put_u32 (p, 50);
  put_str (p, "", 0); /* file */
  put_u16 (p, 5000);
  g_byte_array_set_size (p, p->len + 5000 * 4);
  memset (p->data + 16, 0, 5000 * 4);     /* 5000 peers of ("", "") */
  raw_frame (o, MB_MSG_PEER_LIST, p);
}
static void b_peer_string_overrun (GByteArray *o)
{
  g_autoptr (GByteArray) p = g_byte_array_new ();
  put_u32 (p, 1);
  put_u32 (p, 0);
  put_u32 (p, 50);
  put_str (p, "", 0); /* file */
  put_u16 (p, 1);
  put_str (p, "p", 1);
  put_u16 (p, 500);
  put_u16 (p, 0);
  raw_frame (o, MB_MSG_PEER_LIST, p);
}
static void b_data_overrun (GByteArray *o)
{
  g_autoptr (GByteArray) p = g_byte_array_new ();
  put_u32 (p, 1);     /* piece */
  put_u32 (p, 0);     /* offset */
  put_u32 (p, 3);     /* swarm */
  put_u32 (p, 70000);
  raw_frame (o, MB_MSG_PIECE, p);
}
static void b_indices_overrun (GByteArray *o)
{
  g_autoptr (GByteArray) p = g_byte_array_new ();
  put_u32 (p, 1);
  put_str (p, "f", 1);
  put_str (p, "a:1", 3);
  put_u32 (p, G_MAXUINT32);
  put_u32 (p, 5);
  raw_frame (o, MB_MSG_UPDATE_MANIFEST, p);
}
static void b_good_then_bad (GByteArray *o)
{
  valid_frame (o, MB_MSG_HAVE);
  valid_frame (o, MB_MSG_PING);
  b_crc_flip (o);     /* a third frame, a bad one */
}

static const BadFrame bad_frames[] = {
  { "truncated/in-length", b_trunc_len, MB_CODEC_ERROR_TRUNCATED, "length field", 0, TRUE },
  { "truncated/after-length", b_trunc_after_len, MB_CODEC_ERROR_TRUNCATED, NULL, 0, TRUE },
  { "truncated/after-type", b_trunc_after_type, MB_CODEC_ERROR_TRUNCATED, NULL, 0, TRUE },
  { "truncated/in-payload", b_trunc_payload, MB_CODEC_ERROR_TRUNCATED, NULL, 0, TRUE },
  { "truncated/in-crc", b_trunc_crc, MB_CODEC_ERROR_TRUNCATED, NULL, 0, TRUE },
  { "truncated/second-frame", b_trunc_second, MB_CODEC_ERROR_TRUNCATED, "type 16", 0, FALSE },
  { "undersized/0", b_under0, MB_CODEC_ERROR_UNDERSIZED, "length 0", 0, TRUE },
  { "undersized/4", b_under4, MB_CODEC_ERROR_UNDERSIZED, "length 4", 0, TRUE },
  { "oversized/default-max", b_over_default, MB_CODEC_ERROR_OVERSIZED, "4194305", 0, TRUE },
  { "oversized/u32-max", b_over_max, MB_CODEC_ERROR_OVERSIZED, NULL, 0, TRUE },
  { "oversized/small-max", b_over_small_max, MB_CODEC_ERROR_OVERSIZED, "maximum of 64", 64, TRUE },
  { "crc/crc-byte", b_crc_flip, MB_CODEC_ERROR_CRC, "crc32", 0, TRUE },
  { "crc/payload-byte", b_crc_payload, MB_CODEC_ERROR_CRC, NULL, 0, TRUE },
  { "crc/type-byte", b_crc_type, MB_CODEC_ERROR_CRC, NULL, 0, TRUE },
  { "crc/after-good-frames", b_good_then_bad, MB_CODEC_ERROR_CRC, NULL, 0, FALSE },
  { "unknown-type/0", b_type0, MB_CODEC_ERROR_UNKNOWN_TYPE, "unknown type 0", 0, TRUE },
  { "unknown-type/200", b_type200, MB_CODEC_ERROR_UNKNOWN_TYPE, "unknown type 200", 0, TRUE },
  { "unknown-type/n-types", b_type_n, MB_CODEC_ERROR_UNKNOWN_TYPE, NULL, 0, TRUE },
  { "inconsistent/string-overrun", b_string_overrun, MB_CODEC_ERROR_INCONSISTENT,
    "handshake frame: field file: length 1000 overruns payload of 9 bytes", 0, TRUE },
  { "inconsistent/trailing-bytes", b_trailing, MB_CODEC_ERROR_INCONSISTENT,
    "have frame: 1 trailing bytes", 0, TRUE },
  { "inconsistent/payload-for-empty-type", b_payload_for_empty, MB_CODEC_ERROR_INCONSISTENT,
    "choke frame", 0, TRUE },
  { "inconsistent/missing-field", b_missing_field, MB_CODEC_ERROR_INCONSISTENT,
    "request frame: field length", 0, TRUE },
  { "inconsistent/half-u32", b_half_u32, MB_CODEC_ERROR_INCONSISTENT, "field piece", 0, TRUE },
  { "inconsistent/invalid-utf8", b_bad_utf8, MB_CODEC_ERROR_INCONSISTENT,
    "handshake frame: field name: string is not valid UTF-8", 0, TRUE },
  { "inconsistent/nul-in-string", b_nul_string, MB_CODEC_ERROR_INCONSISTENT, "NUL", 0, TRUE },
  { "inconsistent/bad-chunk-id", b_bad_chunk_id, MB_CODEC_ERROR_INCONSISTENT,
    "get_chunk frame: field chunk_id: \"xyz\"", 0, TRUE },
  { "inconsistent/uppercase-chunk-id", b_upper_chunk_id, MB_CODEC_ERROR_INCONSISTENT,
    "field chunk_id", 0, TRUE },
  { "inconsistent/bad-manifest-bytes", b_bad_manifest, MB_CODEC_ERROR_INCONSISTENT,
    "store_manifest frame: field manifest: manifest (binary)", 0, TRUE },
  { "inconsistent/manifest-bad-name", b_manifest_bad_name, MB_CODEC_ERROR_INCONSISTENT,
    "contains '/'", 0, TRUE },
  { "inconsistent/manifest-overrun", b_manifest_overrun, MB_CODEC_ERROR_INCONSISTENT,
    "field manifest: length 1000", 0, TRUE },
  { "inconsistent/peers-count-overrun", b_peers_overrun, MB_CODEC_ERROR_INCONSISTENT,
    "peer_list frame: field peers: count 1000 overruns", 0, TRUE },
  { "inconsistent/too-many-peers", b_too_many_peers, MB_CODEC_ERROR_INCONSISTENT,
    "5000 peers", 0, TRUE },
  { "inconsistent/peer-string-overrun", b_peer_string_overrun, MB_CODEC_ERROR_INCONSISTENT,
    "field peers: length 500", 0, TRUE },
  { "inconsistent/data-overrun", b_data_overrun, MB_CODEC_ERROR_INCONSISTENT,
    "piece frame: field data: length 70000 overruns payload of 16 bytes", 0, TRUE },
  { "inconsistent/indices-overrun", b_indices_overrun, MB_CODEC_ERROR_INCONSISTENT,
    "field indices: count 4294967295", 0, TRUE },
};

static void
check_decoder_error (const BadFrame *c, const GByteArray *bytes, gsize piece)
{
  g_autoptr (MbDecoder) dec = mb_decoder_new (c->max_frame);
  g_autoptr (GError) error = NULL;
  guint n_ok = 0;
  for (gsize at = 0; at < bytes->len && error == NULL; at += piece)
    {
      mb_decoder_feed (dec, bytes->data + at, MIN (piece, bytes->len - at));
      MbMessage *m;
      while ((m = mb_decoder_next (dec, &error)) != NULL)
        {
          n_ok++;
          mb_message_free (m);
        }
    }
  if (error == NULL)
    g_assert_false (mb_decoder_finish (dec, &error));
  g_assert_error (error, MB_CODEC_ERROR, c->code);
  if (c->says)
    g_assert_nonnull (strstr (error->message, c->says));
  /* sticky */
  g_autoptr (GError) again = NULL;
  g_assert_false (mb_decoder_feed (dec, (const guint8 *) "\0\0\0\x09", 4));
  g_assert_null (mb_decoder_next (dec, &again));
  g_assert_error (again, MB_CODEC_ERROR, c->code);
  g_clear_error (&again);
  g_assert_false (mb_decoder_finish (dec, &again));
  g_assert_error (again, MB_CODEC_ERROR, c->code);
  if (c->build == b_good_then_bad || c->build == b_trunc_second)
    g_assert_cmpuint (n_ok, ==, c->build == b_good_then_bad ? 2 : 1);
}

static void
test_bad_frame (gconstpointer data)
{
  const BadFrame *c = data;
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  c->build (bytes);
  /* all at once, in 3-byte pieces and a byte at a time */
  const gsize pieces[] = { G_MAXSIZE, 3, 1 };
  for (guint k = 0; k < G_N_ELEMENTS (pieces); k++)
    check_decoder_error (c, bytes, MIN (pieces[k], MAX (bytes->len, 1u)));
  if (c->single)
    {
      g_autoptr (GError) error = NULL;
      g_autofree guint8 *copy = g_malloc (MAX (bytes->len, 1u));
      memcpy (copy, bytes->data, bytes->len);
      g_assert_null (mb_codec_decode (copy, bytes->len, c->max_frame, &error));
      g_assert_error (error, MB_CODEC_ERROR, c->code);
      g_test_message ("%s", error->message);
    }
}

static void
test_decode_trailing (void)
{
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  valid_frame (bytes, MB_MSG_HAVE);
  g_byte_array_append (bytes, (const guint8 *) "z", 1);
  g_autoptr (GError) error = NULL;
  g_assert_null (mb_codec_decode (bytes->data, bytes->len, 0, &error));
  g_assert_error (error, MB_CODEC_ERROR, MB_CODEC_ERROR_INCONSISTENT);
  g_assert_nonnull (strstr (error->message, "trailing"));
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
  for (guint k = 0; k < G_N_ELEMENTS (bad_frames); k++)
    {
      g_autofree gchar *path = g_strdup_printf ("/codec/bad/%s", bad_frames[k].what);
      g_test_add_data_func (path, &bad_frames[k], test_bad_frame);
    }
  g_test_add_func ("/codec/bad/trailing-after-frame", test_decode_trailing);
  g_test_add_func ("/codec/decoder/oversized-before-body", test_oversized_before_body);
  g_test_add_func ("/codec/decoder/bad-after-good", test_bad_after_good_in_one_feed);
  g_test_add_func ("/codec/decoder/finish-clean", test_finish_clean);
  g_test_add_func ("/codec/stream/split-every-offset", test_stream_split_every_offset);
  g_test_add_func ("/codec/stream/byte-at-a-time", test_stream_byte_at_a_time);
  g_test_add_func ("/codec/stream/feed-all-then-drain", test_stream_feed_all_then_drain);
  g_test_add_func ("/codec/stream/long", test_stream_long);
  return g_test_run ();
}
