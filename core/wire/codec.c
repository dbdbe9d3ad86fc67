/* codec.c — messages to frames and back, one frame at a time (frame layout:
 * codec.h); the incremental decoder for a byte stream is decoder.c's.
 *
 * Invariants:
 *  - the encoder writes exactly mb_codec_size (msg) bytes per frame, and only
 *    frames the decoder accepts: it refuses (UNENCODABLE) virtual data,
 *    strings over 65535 bytes or not UTF-8, malformed chunk ids, manifests
 *    that fail mb_manifest_validate, more than MAX_PEERS peers;
 *  - the encoding is canonical: decoding then re-encoding a frame gives the
 *    same bytes;
 *  - a frame is checked in this order: length < 5 (UNDERSIZED), length above
 *    the maximum (OVERSIZED, decided from the 4 length bytes alone), whole
 *    frame present (else wait / TRUNCATED at finish), crc32 (CRC), type
 *    (UNKNOWN_TYPE), payload against the schema (INCONSISTENT).
 *
 * Decoding conventions: string fields decode to owned strings ("" when
 * empty); a DATA field decodes to a GBytes (empty, not NULL, when its length
 * is 0) and `length` is set to its size; a manifest field of length 0 decodes
 * to NULL, and a NULL manifest encodes as length 0.  A max_frame of 0 means
 * MB_FRAME_DEFAULT_MAX.
 */
#include "wire/codec.h"
#define MB_CORE_WIRE_INTERNAL
#include "wire/codec-private.h"

#include <string.h>
#include "wire/crc32.h"

#define MAX_PEERS 4096u     /* per frame; the tracker sends a handful */
#define STR_MAX G_MAXUINT16

G_DEFINE_QUARK (mb-codec-error-quark, mb_codec_error)

/* ---- sizes ---- */

static gsize
str_len (const char *s)
{
  return s ? strlen (s) : 0;
}

static gsize
msg_data_len (const MbMessage *msg)
{
  return msg->data ? g_bytes_get_size (msg->data) : msg->length;
}

static gsize
peers_size (const MbMessage *msg)
{
  gsize n = 2;
  for (guint k = 0; k < msg->n_peers; k++)
    n += 2 + str_len (msg->peers[k].name) + 2 + str_len (msg->peers[k].addr);
  return n;
}

static gsize
payload_size (const MbMessage *msg)
{
  const guint32 u32s = MB_F_REQ | MB_F_CODE | MB_F_PIECE | MB_F_OFFSET | MB_F_LENGTH | MB_F_COUNT
                       | MB_F_SWARM;
  guint32 f = mb_message_fields (msg->type);
  guint32 b = (f & 0x3fu) | ((f & MB_F_SWARM) ? 0x40u : 0u); /* the u32 fields, in 7 bits */
  b = b - ((b >> 1) & 0x55u);
  b = (b & 0x33u) + ((b >> 2) & 0x33u);
  gsize n = 4 * (gsize) ((b + (b >> 4)) & 0x0fu);
  if (f & MB_F_DATA)
    n += 4 + msg_data_len (msg);
  if ((f & ~(u32s | MB_F_DATA)) == 0)
    return n; /* the swarm's messages: nothing more to measure */
  if (f & MB_F_FILE) n += 2 + str_len (msg->file);
  if (f & MB_F_NAME) n += 2 + str_len (msg->name);
  if (f & MB_F_ADDR) n += 2 + str_len (msg->addr);
  if (f & MB_F_CHUNK_ID) n += 2 + str_len (msg->chunk_id);
  if (f & MB_F_TEXT) n += 2 + str_len (msg->text);
  if (f & MB_F_MANIFEST)
    n += 4 + (msg->manifest ? mb_manifest_encoded_size (msg->manifest) : 0);
  if (f & MB_F_PEERS) n += peers_size (msg);
  if (f & MB_F_INDICES) n += 4 + 4 * (gsize) msg->n_indices;
  return n;
}

gsize
mb_codec_size (const MbMessage *msg)
{
  g_return_val_if_fail (msg != NULL, 0);
  return MB_FRAME_OVERHEAD + payload_size (msg);
}

/* ---- encoding: checks ---- */

static gboolean G_GNUC_PRINTF (3, 4)
unencodable (const MbMessage *msg, GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  gchar *what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, MB_CODEC_ERROR, MB_CODEC_ERROR_UNENCODABLE,
               "%s message: %s", mb_message_type_name (msg->type), what);
  g_free (what);
  return FALSE;
}

static gboolean
check_string (const MbMessage *msg, const char *field, const char *s, GError **error)
{
  gsize len = str_len (s);
  if (len > STR_MAX)
    return unencodable (msg, error, "field %s: %" G_GSIZE_FORMAT " bytes (at most %u)",
                        field, len, STR_MAX);
  if (len && !g_utf8_validate (s, (gssize) len, NULL))
    return unencodable (msg, error, "field %s: not valid UTF-8", field);
  return TRUE;
}

static gboolean
check_strings (const MbMessage *msg, guint32 f, GError **error)
{
  if ((f & MB_F_FILE) && !check_string (msg, "file", msg->file, error))
    return FALSE;
  if ((f & MB_F_NAME) && !check_string (msg, "name", msg->name, error))
    return FALSE;
  if ((f & MB_F_ADDR) && !check_string (msg, "addr", msg->addr, error))
    return FALSE;
  if ((f & MB_F_TEXT) && !check_string (msg, "text", msg->text, error))
    return FALSE;
  if ((f & MB_F_CHUNK_ID) && str_len (msg->chunk_id) && !mb_chunk_id_is_valid (msg->chunk_id))
    return unencodable (msg, error, "field chunk_id: not 64 lowercase hex digits");
  return TRUE;
}

static gboolean
check_peers (const MbMessage *msg, GError **error)
{
  if (msg->n_peers > MAX_PEERS)
    return unencodable (msg, error, "field peers: %u peers (at most %u)",
                        msg->n_peers, MAX_PEERS);
  for (guint k = 0; k < msg->n_peers; k++)
    if (!check_string (msg, "peers", msg->peers[k].name, error)
        || !check_string (msg, "peers", msg->peers[k].addr, error))
      return FALSE;
  return TRUE;
}

static gboolean
check_blobs (const MbMessage *msg, guint32 f, GError **error)
{
  if ((f & MB_F_DATA) && msg->data == NULL && msg->length > 0)
    return unencodable (msg, error, "field data: virtual content (%u bytes) "
                        "cannot be encoded", msg->length);
  if ((f & MB_F_DATA) && msg_data_len (msg) > G_MAXUINT32)
    return unencodable (msg, error, "field data: too long");
  if ((f & MB_F_INDICES) && msg->n_indices > G_MAXUINT32 / 4)
    return unencodable (msg, error, "field indices: too many");
  if ((f & MB_F_MANIFEST) && msg->manifest != NULL)
    {
      GError *local = NULL;
      if (!mb_manifest_validate (msg->manifest, &local))
        {
          unencodable (msg, error, "field manifest: %s", local->message);
          g_error_free (local);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
check_encodable (const MbMessage *msg, GError **error)
{
  if (!mb_message_type_valid (msg->type))
    return unencodable (msg, error, "unknown type %u", (guint) msg->type);
  guint32 f = mb_message_fields (msg->type);
  if (!check_strings (msg, f, error) || !check_blobs (msg, f, error)
      || ((f & MB_F_PEERS) && !check_peers (msg, error)))
    return FALSE;
  if (mb_codec_size (msg) - 4 > G_MAXUINT32)
    return unencodable (msg, error, "frame of %" G_GSIZE_FORMAT " bytes is too long",
                        mb_codec_size (msg));
  return TRUE;
}

/* ---- encoding: writing ---- */

static guint8 *
put_be (guint8 *p, guint32 v, guint nbytes)
{
  for (guint k = 0; k < nbytes; k++)
    p[k] = (guint8) (v >> (8 * (nbytes - 1 - k)));
  return p + nbytes;
}

static guint8 *
put_blob (guint8 *p, guint prefix, const void *data, gsize len)
{
  p = put_be (p, (guint32) len, prefix);
  if (len)
    memcpy (p, data, len);
  return p + len;
}

static guint8 *
put_str (guint8 *p, const char *s)
{
  return put_blob (p, 2, s, str_len (s));
}

static guint8 *
put_ints (guint8 *p, const MbMessage *msg, guint32 f)
{
  if (f & MB_F_REQ) p = put_be (p, msg->req, 4);
  if (f & MB_F_CODE) p = put_be (p, msg->code, 4);
  if (f & MB_F_PIECE) p = put_be (p, msg->piece, 4);
  if (f & MB_F_OFFSET) p = put_be (p, msg->offset, 4);
  if (f & MB_F_LENGTH) p = put_be (p, msg->length, 4);
  if (f & MB_F_COUNT) p = put_be (p, msg->count, 4);
  if (f & MB_F_SWARM) p = put_be (p, msg->swarm, 4);
  return p;
}

static guint8 *
put_strings (guint8 *p, const MbMessage *msg, guint32 f)
{
  if (f & MB_F_FILE) p = put_str (p, msg->file);
  if (f & MB_F_NAME) p = put_str (p, msg->name);
  if (f & MB_F_ADDR) p = put_str (p, msg->addr);
  if (f & MB_F_CHUNK_ID) p = put_str (p, msg->chunk_id);
  if (f & MB_F_TEXT) p = put_str (p, msg->text);
  return p;
}

static guint8 *
put_manifest (guint8 *p, const MbManifest *m)
{
  if (m == NULL)
    return put_be (p, 0, 4);
  g_autoptr (GBytes) b = mb_manifest_to_bytes (m);
  gsize len;
  const guint8 *d = g_bytes_get_data (b, &len);
  return put_blob (p, 4, d, len);
}

static guint8 *
put_lists (guint8 *p, const MbMessage *msg, guint32 f)
{
  if (f & MB_F_PEERS)
    {
      p = put_be (p, msg->n_peers, 2);
      for (guint k = 0; k < msg->n_peers; k++)
        {
          p = put_str (p, msg->peers[k].name);
          p = put_str (p, msg->peers[k].addr);
        }
    }
  if (f & MB_F_INDICES)
    {
      p = put_be (p, msg->n_indices, 4);
      for (guint k = 0; k < msg->n_indices; k++)
        p = put_be (p, msg->indices[k], 4);
    }
  return p;
}

static guint8 *
put_blobs (guint8 *p, const MbMessage *msg, guint32 f)
{
  if (f & MB_F_DATA)
    {
      gsize len = 0;
      const void *d = msg->data ? g_bytes_get_data (msg->data, &len) : NULL;
      p = put_blob (p, 4, d, len);
    }
  if (f & MB_F_MANIFEST)
    p = put_manifest (p, msg->manifest);
  return p;
}

static guint32
frame_crc (const guint8 *body, gsize len)
{
  return mb_crc32 (0, body, len);
}

gboolean
mb_codec_encode (const MbMessage *msg, GByteArray *out, GError **error)
{
  g_return_val_if_fail (msg != NULL && out != NULL, FALSE);
  if (!check_encodable (msg, error))
    return FALSE;
  gsize size = mb_codec_size (msg);
  guint start = out->len;
  if (size > G_MAXUINT - start)
    return unencodable (msg, error, "output buffer would exceed %u bytes", G_MAXUINT);
  g_byte_array_set_size (out, start + (guint) size);
  guint32 f = mb_message_fields (msg->type);
  guint8 *frame = out->data + start;
  guint8 *p = put_be (frame, (guint32) (size - 4), 4);
  *p++ = (guint8) msg->type;
  p = put_ints (p, msg, f);
  p = put_strings (p, msg, f);
  p = put_blobs (p, msg, f);
  p = put_lists (p, msg, f);
  p = put_be (p, frame_crc (frame + 4, size - 8), 4);
  g_assert ((gsize) (p - frame) == size);
  return TRUE;
}

GBytes *
mb_codec_encode_bytes (const MbMessage *msg, GError **error)
{
  GByteArray *out = g_byte_array_new ();
  if (!mb_codec_encode (msg, out, error))
    {
      g_byte_array_unref (out);
      return NULL;
    }
  return g_byte_array_free_to_bytes (out);
}

/* ---- decoding: the payload ---- */

typedef struct {
  const guint8 *p;
  gsize len;
  gsize pos;
  const char *type;   /* type name, for messages */
} Reader;

static gboolean G_GNUC_PRINTF (4, 5)
inconsistent (const Reader *r, const char *field, GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  gchar *what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, MB_CODEC_ERROR, MB_CODEC_ERROR_INCONSISTENT,
               "%s frame: field %s: %s", r->type, field, what);
  g_free (what);
  return FALSE;
}

/* A fixed-width field of n bytes must be there. */
static gboolean
need (const Reader *r, gsize n, const char *field, GError **error)
{
  if (r->len - r->pos >= n)
    return TRUE;
  return inconsistent (r, field, error, "needs %" G_GSIZE_FORMAT " bytes, %" G_GSIZE_FORMAT
                       " left of a payload of %" G_GSIZE_FORMAT " bytes",
                       n, r->len - r->pos, r->len);
}

/* What a length or count prefix announces (`bytes` bytes) must be there. */
static gboolean
need_prefixed (const Reader *r, const char *what, guint32 value, guint64 bytes,
               const char *field, GError **error)
{
  if (r->len - r->pos >= bytes)
    return TRUE;
  return inconsistent (r, field, error, "%s %u overruns payload of %" G_GSIZE_FORMAT
                       " bytes (%" G_GSIZE_FORMAT " left)",
                       what, value, r->len, r->len - r->pos);
}

static gboolean
get_be (Reader *r, guint nbytes, const char *field, guint32 *out, GError **error)
{
  if (!need (r, nbytes, field, error))
    return FALSE;
  guint32 v = 0;
  for (guint k = 0; k < nbytes; k++)
    v = v << 8 | r->p[r->pos + k];
  r->pos += nbytes;
  *out = v;
  return TRUE;
}

/* A u16-prefixed string: UTF-8, no NUL.  NULL with an error otherwise. */
static gchar *
get_str (Reader *r, const char *field, GError **error)
{
  guint32 len;
  if (!get_be (r, 2, field, &len, error)
      || !need_prefixed (r, "length", len, len, field, error))
    return NULL;
  const char *s = (const char *) r->p + r->pos;
  if (memchr (s, 0, len) != NULL)
    {
      inconsistent (r, field, error, "string contains a NUL byte");
      return NULL;
    }
  if (!g_utf8_validate (s, len, NULL))
    {
      inconsistent (r, field, error, "string is not valid UTF-8");
      return NULL;
    }
  r->pos += len;
  return g_strndup (s, len);
}

static gboolean
get_ints (Reader *r, MbMessage *msg, guint32 f, GError **error)
{
  return (!(f & MB_F_REQ) || get_be (r, 4, "req", &msg->req, error))
         && (!(f & MB_F_CODE) || get_be (r, 4, "code", &msg->code, error))
         && (!(f & MB_F_PIECE) || get_be (r, 4, "piece", &msg->piece, error))
         && (!(f & MB_F_OFFSET) || get_be (r, 4, "offset", &msg->offset, error))
         && (!(f & MB_F_LENGTH) || get_be (r, 4, "length", &msg->length, error))
         && (!(f & MB_F_COUNT) || get_be (r, 4, "count", &msg->count, error))
         && (!(f & MB_F_SWARM) || get_be (r, 4, "swarm", &msg->swarm, error));
}

static gboolean
get_chunk_id (Reader *r, MbMessage *msg, GError **error)
{
  msg->chunk_id = get_str (r, "chunk_id", error);
  if (msg->chunk_id == NULL)
    return FALSE;
  if (*msg->chunk_id && !mb_chunk_id_is_valid (msg->chunk_id))
    {
      gchar *shown = g_strescape (msg->chunk_id, NULL);
      if (strlen (shown) > 80)
        strcpy (shown + 77, "...");
      inconsistent (r, "chunk_id", error, "\"%s\" is not 64 lowercase hex digits", shown);
      g_free (shown);
      return FALSE;
    }
  return TRUE;
}

static gboolean
get_strings (Reader *r, MbMessage *msg, guint32 f, GError **error)
{
  return (!(f & MB_F_FILE) || (msg->file = get_str (r, "file", error)))
         && (!(f & MB_F_NAME) || (msg->name = get_str (r, "name", error)))
         && (!(f & MB_F_ADDR) || (msg->addr = get_str (r, "addr", error)))
         && (!(f & MB_F_CHUNK_ID) || get_chunk_id (r, msg, error))
         && (!(f & MB_F_TEXT) || (msg->text = get_str (r, "text", error)));
}

static gboolean
get_data (Reader *r, MbMessage *msg, GError **error)
{
  guint32 len;
  if (!get_be (r, 4, "data", &len, error)
      || !need_prefixed (r, "length", len, len, "data", error))
    return FALSE;
  msg->data = g_bytes_new (r->p + r->pos, len);
  msg->length = len;
  r->pos += len;
  return TRUE;
}

static gboolean
get_manifest (Reader *r, MbMessage *msg, GError **error)
{
  guint32 len;
  if (!get_be (r, 4, "manifest", &len, error)
      || !need_prefixed (r, "length", len, len, "manifest", error))
    return FALSE;
  if (len == 0)
    return TRUE;
  GError *local = NULL;
  msg->manifest = mb_manifest_from_bytes (r->p + r->pos, len, &local);
  if (msg->manifest == NULL)
    {
      inconsistent (r, "manifest", error, "%s", local->message);
      g_error_free (local);
      return FALSE;
    }
  r->pos += len;
  return TRUE;
}

static gboolean
get_peers (Reader *r, MbMessage *msg, GError **error)
{
  guint32 n;
  if (!get_be (r, 2, "peers", &n, error))
    return FALSE;
  if (n > MAX_PEERS)
    return inconsistent (r, "peers", error, "%u peers (at most %u)", n, MAX_PEERS);
  if (!need_prefixed (r, "count", n, 4 * (guint64) n, "peers", error))
    return FALSE;
  msg->peers = n ? g_new0 (MbPeerInfo, n) : NULL;
  msg->n_peers = n;
  for (guint k = 0; k < n; k++)
    if (!(msg->peers[k].name = get_str (r, "peers", error))
        || !(msg->peers[k].addr = get_str (r, "peers", error)))
      return FALSE;
  return TRUE;
}

static gboolean
get_indices (Reader *r, MbMessage *msg, GError **error)
{
  guint32 n;
  if (!get_be (r, 4, "indices", &n, error)
      || !need_prefixed (r, "count", n, 4 * (guint64) n, "indices", error))
    return FALSE;
  msg->indices = n ? g_new (guint32, n) : NULL;
  msg->n_indices = n;
  for (guint k = 0; k < n; k++)
    get_be (r, 4, "indices", &msg->indices[k], error);
  return TRUE;
}

static gboolean
get_payload (Reader *r, MbMessage *msg, GError **error)
{
  guint32 f = mb_message_fields (msg->type);
  if (!get_ints (r, msg, f, error) || !get_strings (r, msg, f, error)
      || ((f & MB_F_DATA) && !get_data (r, msg, error))
      || ((f & MB_F_MANIFEST) && !get_manifest (r, msg, error))
      || ((f & MB_F_PEERS) && !get_peers (r, msg, error))
      || ((f & MB_F_INDICES) && !get_indices (r, msg, error)))
    return FALSE;
  if (r->pos != r->len)
    {
      g_set_error (error, MB_CODEC_ERROR, MB_CODEC_ERROR_INCONSISTENT,
                   "%s frame: %" G_GSIZE_FORMAT " trailing bytes after the last field "
                   "(payload of %" G_GSIZE_FORMAT " bytes)", r->type, r->len - r->pos, r->len);
      return FALSE;
    }
  return TRUE;
}

/* ---- decoding: one frame ---- */

guint32
mbi_codec_read_u32 (const guint8 *p)
{
  return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
}

gsize
mbi_codec_effective_max (gsize max_frame)
{
  return max_frame ? max_frame : MB_FRAME_DEFAULT_MAX;
}

/* Checks a frame's length field: UNDERSIZED, then OVERSIZED. */
gboolean
mbi_codec_check_length (guint32 length, gsize max_frame, GError **error)
{
  if (length < MB_FRAME_OVERHEAD - 4)
    {
      g_set_error (error, MB_CODEC_ERROR, MB_CODEC_ERROR_UNDERSIZED,
                   "frame length %u is too small to hold a type and a crc32 (at least %u)",
                   length, MB_FRAME_OVERHEAD - 4);
      return FALSE;
    }
  if (length > max_frame)
    {
      g_set_error (error, MB_CODEC_ERROR, MB_CODEC_ERROR_OVERSIZED,
                   "frame length %u is above the maximum of %" G_GSIZE_FORMAT " bytes",
                   length, max_frame);
      return FALSE;
    }
  return TRUE;
}

/* Decodes a frame's body (type, payload, crc: the `length` bytes after the
 * length field), whose length has been checked. */
MbMessage *
mbi_codec_decode_body (const guint8 *body, gsize len, GError **error)
{
  guint type = body[0];
  guint32 want = mbi_codec_read_u32 (body + len - 4);
  guint32 got = frame_crc (body, len - 4);
  if (want != got)
    {
      g_set_error (error, MB_CODEC_ERROR, MB_CODEC_ERROR_CRC,
                   "frame of type %u, %" G_GSIZE_FORMAT " bytes: crc32 %08x does not "
                   "match the content's %08x", type, len, want, got);
      return NULL;
    }
  if (!mb_message_type_valid (type))
    {
      g_set_error (error, MB_CODEC_ERROR, MB_CODEC_ERROR_UNKNOWN_TYPE,
                   "frame of %" G_GSIZE_FORMAT " bytes: unknown type %u", len, type);
      return NULL;
    }
  MbMessage *msg = mb_message_new ((MbMsgType) type);
  Reader r = { body + 1, len - 5, 0, mb_message_type_name ((MbMsgType) type) };
  if (!get_payload (&r, msg, error))
    {
      mb_message_free (msg);
      return NULL;
    }
  return msg;
}

MbMessage *
mb_codec_decode (const guint8 *buf, gsize len, gsize max_frame, GError **error)
{
  g_return_val_if_fail (buf != NULL || len == 0, NULL);
  if (len < 4)
    {
      g_set_error (error, MB_CODEC_ERROR, MB_CODEC_ERROR_TRUNCATED,
                   "frame truncated inside its length field (%" G_GSIZE_FORMAT " of 4 bytes)",
                   len);
      return NULL;
    }
  guint32 length = mbi_codec_read_u32 (buf);
  if (!mbi_codec_check_length (length, mbi_codec_effective_max (max_frame), error))
    return NULL;
  if (len - 4 < length)
    {
      g_set_error (error, MB_CODEC_ERROR, MB_CODEC_ERROR_TRUNCATED,
                   "frame truncated: %" G_GSIZE_FORMAT " of %u bytes after the length field",
                   len - 4, length);
      return NULL;
    }
  if (len - 4 > length)
    {
      g_set_error (error, MB_CODEC_ERROR, MB_CODEC_ERROR_INCONSISTENT,
                   "%" G_GSIZE_FORMAT " trailing bytes after a frame of %u bytes",
                   len - 4 - length, length + 4);
      return NULL;
    }
  return mbi_codec_decode_body (buf + 4, length, error);
}
