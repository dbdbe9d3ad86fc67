/* test_codec_bad.c — the decoder refuses bad frames: a table of them
 * (truncated, undersized, oversized, bad crc32, unknown type, a payload
 * inconsistent with its type's schema), each built byte by byte and refused
 * with its own error code (and message) whether fed all at once, in 3-byte
 * pieces or a byte at a time; the error is sticky; mb_codec_decode agrees
 * on single frames; trailing bytes after a frame are refused.
 *
 * Invariant: every table entry builds its bytes from codec-fixture.c alone
 * (deterministic), so a case fails the same way on every run. */
#include <string.h>

#include "codec-fixture.h"

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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint k = 0; k < G_N_ELEMENTS (bad_frames); k++)
    {
      g_autofree gchar *path = g_strdup_printf ("/codec/bad/%s", bad_frames[k].what);
      g_test_add_data_func (path, &bad_frames[k], test_bad_frame);
    }
  g_test_add_func ("/codec/bad/trailing-after-frame", test_decode_trailing);
  return g_test_run ();
}
