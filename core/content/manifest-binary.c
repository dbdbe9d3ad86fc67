/* manifest-binary.c — a manifest's binary form (the one carried inside
 * frames): writing it, and parsing it strictly.
 *
 * Binary form (all integers big-endian), form 1 or form 2:
 *
 *   u8  'M', u8 'F', u8 form (1 or 2)
 *   form 2 only:
 *     u64 version                   >= 2 (a version-1 manifest is written
 *                                   in form 1, which carries no version)
 *     32 bytes  the content hash    must equal mb_manifest_content_hash
 *                                   of what follows
 *   u16 name length, name bytes
 *   u64 size
 *   u32 chunk_size
 *   u32 n_chunks                    must equal ceil(size / chunk_size)
 *   n_chunks times:
 *     32 bytes  the id as raw SHA-256 bytes
 *     u32       crc32
 *     u16       n_holders           at most MB_MANIFEST_MAX_HOLDERS
 *     n_holders times: u16 length, bytes
 *
 * The binary form is canonical: a manifest of version 1 is written in form 1
 * and one of a higher version in form 2 (so form 2 with version 1 is
 * refused); holders must be strictly ascending (strcmp),
 * so a duplicated or unsorted holder list is refused rather than folded, and
 * one manifest has exactly one encoding.  No trailing bytes are allowed.  A
 * manifest whose ids are not all set is written with zero bytes in their
 * place; the codec refuses to send such a manifest (mb_manifest_validate).
 *
 * Invariants:
 *  - mb_manifest_encoded_size (m) is exactly the length mb_manifest_to_bytes
 *    writes;
 *  - the parser only returns complete manifests that keep manifest.c's
 *    invariants (every id set, holders strictly ascending and acceptable);
 *    any other input is refused with an error, never folded or repaired.
 */
#include "content/manifest.h"
#define MB_CONTENT_MANIFEST_INTERNAL
#include "content/manifest-private.h"

#include <string.h>

#define BIN_MAGIC0 'M'
#define BIN_MAGIC1 'F'
#define BIN_FORM_1 1
#define BIN_FORM_2 2
#define BIN_ID_LEN 32
#define BIN_CHUNK_MIN (BIN_ID_LEN + 4 + 2)  /* a chunk with no holders */

/* ---- binary form: writing ---- */

gsize
mb_manifest_encoded_size (const MbManifest *m)
{
  g_return_val_if_fail (m != NULL, 0);
  gsize n = 3 + (m->version > 1 ? 8 + BIN_ID_LEN : 0) + 2 + strlen (m->name) + 8 + 4 + 4;
  for (guint i = 0; i < m->n_chunks; i++)
    {
      const Chunk *c = &m->chunks[i];
      n += BIN_CHUNK_MIN;
      for (guint k = 0; k < c->n_holders; k++)
        n += 2 + strlen (c->holders[k]);
    }
  return n;
}

static guint8 *
put_be (guint8 *p, guint64 v, guint nbytes)
{
  for (guint k = 0; k < nbytes; k++)
    p[k] = (guint8) (v >> (8 * (nbytes - 1 - k)));
  return p + nbytes;
}

static guint8 *
put_str16 (guint8 *p, const char *s)
{
  gsize len = strlen (s);
  p = put_be (p, len, 2);
  memcpy (p, s, len);
  return p + len;
}

/* 64 hex digits to 32 bytes; an unset id gives zeros. */
static guint8 *
put_id (guint8 *p, const char *hex)
{
  gboolean set = mb_chunk_id_is_valid (hex);
  for (guint k = 0; k < BIN_ID_LEN; k++)
    p[k] = set ? (guint8) (g_ascii_xdigit_value (hex[2 * k]) << 4
                           | g_ascii_xdigit_value (hex[2 * k + 1]))
               : 0;
  return p + BIN_ID_LEN;
}

GBytes *
mb_manifest_to_bytes (const MbManifest *m)
{
  g_return_val_if_fail (m != NULL, NULL);
  gsize total = mb_manifest_encoded_size (m);
  guint8 *buf = g_malloc (total);
  guint8 *p = buf;
  *p++ = BIN_MAGIC0;
  *p++ = BIN_MAGIC1;
  *p++ = m->version > 1 ? BIN_FORM_2 : BIN_FORM_1;
  if (m->version > 1)
    {
      char hash[65];
      mb_manifest_content_hash (m, hash);
      p = put_be (p, m->version, 8);
      p = put_id (p, hash);
    }
  p = put_str16 (p, m->name);
  p = put_be (p, m->size, 8);
  p = put_be (p, m->chunk_size, 4);
  p = put_be (p, m->n_chunks, 4);
  for (guint i = 0; i < m->n_chunks; i++)
    {
      const Chunk *c = &m->chunks[i];
      p = put_id (p, c->id);
      p = put_be (p, c->crc, 4);
      p = put_be (p, c->n_holders, 2);
      for (guint k = 0; k < c->n_holders; k++)
        p = put_str16 (p, c->holders[k]);
    }
  g_assert ((gsize) (p - buf) == total);
  return g_bytes_new_take (buf, total);
}

/* ---- binary form: parsing ---- */

typedef struct {
  const guint8 *p;
  gsize len;
  gsize pos;
  const char *name;   /* the manifest's name once known, for messages */
} Reader;

static gboolean G_GNUC_PRINTF (3, 4)
parse_fail (Reader *r, GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  gchar *what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (r->name != NULL)
    g_set_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_PARSE,
                 "manifest \"%s\" (binary): offset %" G_GSIZE_FORMAT ": %s",
                 r->name, r->pos, what);
  else
    g_set_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_PARSE,
                 "manifest (binary): offset %" G_GSIZE_FORMAT ": %s", r->pos, what);
  g_free (what);
  return FALSE;
}

static gboolean
need (Reader *r, gsize n, const char *what, GError **error)
{
  if (r->len - r->pos >= n)
    return TRUE;
  return parse_fail (r, error, "%s needs %" G_GSIZE_FORMAT " bytes, %" G_GSIZE_FORMAT
                     " left", what, n, r->len - r->pos);
}

static gboolean
read_be (Reader *r, guint nbytes, const char *what, guint64 *out, GError **error)
{
  if (!need (r, nbytes, what, error))
    return FALSE;
  guint64 v = 0;
  for (guint k = 0; k < nbytes; k++)
    v = v << 8 | r->p[r->pos + k];
  r->pos += nbytes;
  *out = v;
  return TRUE;
}

/* u16 length + bytes, refused if it holds a NUL; a new C string. */
static gchar *
read_str16 (Reader *r, const char *what, GError **error)
{
  guint64 len;
  if (!read_be (r, 2, what, &len, error) || !need (r, len, what, error))
    return NULL;
  const guint8 *s = r->p + r->pos;
  if (memchr (s, 0, len) != NULL)
    {
      parse_fail (r, error, "%s contains a NUL byte", what);
      return NULL;
    }
  r->pos += len;
  return g_strndup ((const char *) s, len);
}

static gboolean read_id (Reader *r, char out[MB_CHUNK_ID_LEN + 1], GError **error);

/* The magic and form; form 2's version and content hash into *version and
 * hash (form 1: version 1, hash ""). */
static gboolean
read_header (Reader *r, guint64 *version, char hash[MB_CHUNK_ID_LEN + 1], GError **error)
{
  if (!need (r, 3, "header", error))
    return FALSE;
  if (r->p[0] != BIN_MAGIC0 || r->p[1] != BIN_MAGIC1)
    return parse_fail (r, error, "bad magic %02x%02x (expected \"MF\")", r->p[0], r->p[1]);
  if (r->p[2] != BIN_FORM_1 && r->p[2] != BIN_FORM_2)
    return parse_fail (r, error, "unsupported version %u", r->p[2]);
  guint form = r->p[2];
  r->pos = 3;
  *version = 1;
  hash[0] = '\0';
  if (form == BIN_FORM_1)
    return TRUE;
  if (!read_be (r, 8, "manifest version", version, error) || !read_id (r, hash, error))
    return FALSE;
  if (*version < 2)
    return parse_fail (r, error, "form 2 with version %" G_GUINT64_FORMAT
                       " (a version-1 manifest is written in form 1)", *version);
  if (*version > MB_MANIFEST_VERSION_MAX)
    return parse_fail (r, error, "version %" G_GUINT64_FORMAT " is above %" G_GUINT64_FORMAT,
                       *version, MB_MANIFEST_VERSION_MAX);
  return TRUE;
}

static gboolean
read_id (Reader *r, char out[MB_CHUNK_ID_LEN + 1], GError **error)
{
  static const char hex[] = "0123456789abcdef";
  if (!need (r, BIN_ID_LEN, "chunk id", error))
    return FALSE;
  for (guint k = 0; k < BIN_ID_LEN; k++)
    {
      guint8 b = r->p[r->pos + k];
      out[2 * k] = hex[b >> 4];
      out[2 * k + 1] = hex[b & 15];
    }
  out[MB_CHUNK_ID_LEN] = '\0';
  r->pos += BIN_ID_LEN;
  return TRUE;
}

static gboolean
read_holders (Reader *r, MbManifest *m, guint i, GError **error)
{
  Chunk *c = &m->chunks[i];
  guint64 n;
  if (!read_be (r, 2, "holder count", &n, error))
    return FALSE;
  if (n > MB_MANIFEST_MAX_HOLDERS)
    {
      g_set_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_BAD_HOLDER,
                   "manifest \"%s\": chunk %u: %" G_GUINT64_FORMAT " holders (at most %u)",
                   m->name, i, n, MB_MANIFEST_MAX_HOLDERS);
      return FALSE;
    }
  if (!need (r, 2 * n, "holders", error))
    return FALSE;
  mbi_manifest_chunk_reserve (c, (guint) n);
  for (guint k = 0; k < n; k++)
    {
      gchar *h = read_str16 (r, "holder", error);
      if (h == NULL)
        return FALSE;
      const char *why = mbi_manifest_holder_problem (h);
      if (why == NULL && k > 0 && strcmp (c->holders[k - 1], h) >= 0)
        why = "is out of order or duplicated (holders must be strictly ascending)";
      if (why != NULL)
        {
          mbi_manifest_holder_fail (m, i, h, why, error);
          g_free (h);
          return FALSE;
        }
      c->holders[c->n_holders++] = h;
    }
  return TRUE;
}

static gboolean
check_counts (Reader *r, guint64 size, guint32 chunk_size, guint64 n_chunks,
              GError **error)
{
  if (chunk_size == 0)
    {
      g_set_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_BAD_SIZE,
                   "manifest \"%s\": chunk size is 0", r->name);
      return FALSE;
    }
  guint64 want = mbi_manifest_count_chunks (size, chunk_size);
  if (n_chunks != want)
    {
      g_set_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_BAD_SIZE,
                   "manifest \"%s\": %" G_GUINT64_FORMAT " chunks, but size %"
                   G_GUINT64_FORMAT " with chunk size %u needs %" G_GUINT64_FORMAT,
                   r->name, n_chunks, size, chunk_size, want);
      return FALSE;
    }
  if (n_chunks > (r->len - r->pos) / BIN_CHUNK_MIN)
    return parse_fail (r, error, "%" G_GUINT64_FORMAT " chunks need at least %"
                       G_GUINT64_FORMAT " bytes, %" G_GSIZE_FORMAT " left",
                       n_chunks, n_chunks * BIN_CHUNK_MIN, r->len - r->pos);
  return TRUE;
}

static MbManifest *
read_top (Reader *r, guint64 *version, char hash[MB_CHUNK_ID_LEN + 1], GError **error)
{
  guint64 size, chunk_size, n_chunks;
  if (!read_header (r, version, hash, error))
    return NULL;
  gchar *name = read_str16 (r, "name", error);
  if (name == NULL)
    return NULL;
  MbManifest *m = NULL;
  if (mb_manifest_name_is_safe (name, error))
    {
      r->name = name;
      if (read_be (r, 8, "size", &size, error)
          && read_be (r, 4, "chunk size", &chunk_size, error)
          && read_be (r, 4, "chunk count", &n_chunks, error)
          && check_counts (r, size, (guint32) chunk_size, n_chunks, error))
        m = mb_manifest_new (name, size, (guint32) chunk_size, error);
    }
  r->name = NULL;
  g_free (name);
  if (m != NULL)
    r->name = m->name;
  return m;
}

MbManifest *
mb_manifest_from_bytes (const guint8 *data, gsize len, GError **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  Reader r = { data, len, 0, NULL };
  guint64 version = 1;
  char hash[MB_CHUNK_ID_LEN + 1] = "";
  MbManifest *m = read_top (&r, &version, hash, error);
  if (m == NULL)
    return NULL;
  m->version = version;
  for (guint i = 0; i < m->n_chunks; i++)
    {
      Chunk *c = &m->chunks[i];
      guint64 crc;
      if (!read_id (&r, c->id, error) || !read_be (&r, 4, "crc32", &crc, error)
          || !read_holders (&r, m, i, error))
        goto fail;
      c->crc = (guint32) crc;
    }
  if (r.pos != len)
    {
      parse_fail (&r, error, "%" G_GSIZE_FORMAT " trailing bytes", len - r.pos);
      goto fail;
    }
  if (hash[0])
    {
      char want[65];
      mb_manifest_content_hash (m, want);
      if (strcmp (want, hash) != 0)
        {
          g_set_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_PARSE,
                       "manifest \"%s\" (binary): content hash %.16s... does not match its "
                       "chunk list (%.16s...)", m->name, hash, want);
          goto fail;
        }
    }
  return m;
fail:
  mb_manifest_unref (m);
  return NULL;
}
