/* manifest.c — a file's manifest: name, sizes, each chunk's id and crc32, and
 * the members that hold each chunk; plus its binary and JSON forms.
 *
 * Invariants (kept by every constructor, mutator and parser):
 *  - the name passes mb_manifest_name_is_safe: 1..255 bytes of UTF-8, no '/',
 *    no '\\', no "..", not ".", no control characters;
 *  - chunk_size > 0 and n_chunks == ceil(size / chunk_size) <= MB_MANIFEST_MAX_CHUNKS;
 *  - a chunk's id is "" (not set yet) or 64 lowercase hex digits;
 *  - a chunk's holders are owned strings, sorted by strcmp, distinct, at most
 *    MB_MANIFEST_MAX_HOLDERS, each 1..255 bytes of UTF-8 without control
 *    characters.  mb_manifest_add_holder refuses (returns FALSE) a holder that
 *    breaks these rules instead of adding it;
 *  - the parsers (binary and JSON) only produce complete manifests: every id
 *    set, mb_manifest_validate passes.
 *
 * Binary form, version 1 (all integers big-endian):
 *
 *   u8  'M', u8 'F', u8 version (1)
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
 * The binary form is canonical: holders must be strictly ascending (strcmp),
 * so a duplicated or unsorted holder list is refused rather than folded, and
 * one manifest has exactly one encoding.  No trailing bytes are allowed.  A
 * manifest whose ids are not all set is written with zero bytes in their
 * place; the codec refuses to send such a manifest (mb_manifest_validate).
 *
 * The JSON form is lenient where it is harmless: unknown members are
 * ignored, holders may come in any order and duplicates are folded.
 */
#include "content/manifest.h"
#define MB_CONTENT_MANIFEST_INTERNAL
#include "content/manifest-private.h"

#include <string.h>

#define BIN_MAGIC0 'M'
#define BIN_MAGIC1 'F'
#define BIN_VERSION 1
#define BIN_ID_LEN 32
#define BIN_CHUNK_MIN (BIN_ID_LEN + 4 + 2)  /* a chunk with no holders */
#define HOLDER_MAX 255

typedef struct {
  gchar **holders;      /* sorted, distinct, owned */
  guint16 n_holders;
  guint16 cap;
  guint32 crc;
  char id[MB_CHUNK_ID_LEN + 1];  /* "" while unset */
} Chunk;

struct _MbManifest {
  gatomicrefcount ref;
  gchar *name;
  guint64 size;
  guint32 chunk_size;
  guint n_chunks;
  Chunk *chunks;
};

G_DEFINE_QUARK (mb-manifest-error-quark, mb_manifest_error)

/* ---- small helpers ---- */

static guint64
count_chunks (guint64 size, guint32 chunk_size)
{
  return size / chunk_size + (size % chunk_size != 0);
}

static gboolean
has_control_char (const char *s, gsize len)
{
  for (gsize i = 0; i < len; i++)
    if ((guchar) s[i] < 0x20 || (guchar) s[i] == 0x7f)
      return TRUE;
  return FALSE;
}

/* A short, printable rendering of untrusted text for error messages. */
static gchar *
shown (const char *s)
{
  if (s == NULL)
    return g_strdup ("(null)");
  gsize len = strlen (s);
  gchar *cut = g_strndup (s, MIN (len, 40));
  gchar *esc = g_strescape (cut, NULL);
  gchar *out = len > 40 ? g_strconcat (esc, "...", NULL) : g_strdup (esc);
  g_free (cut);
  g_free (esc);
  return out;
}

/* Why name is unsafe, or NULL if it is safe. */
static const char *
name_problem (const char *name)
{
  if (name == NULL)
    return "is missing";
  gsize len = strlen (name);
  if (len == 0)
    return "is empty";
  if (len > MB_MANIFEST_NAME_MAX)
    return "is longer than 255 bytes";
  if (!g_utf8_validate (name, len, NULL))
    return "is not valid UTF-8";
  if (strchr (name, '/') != NULL)
    return "contains '/'";
  if (strchr (name, '\\') != NULL)
    return "contains '\\'";
  if (has_control_char (name, len))
    return "contains a control character";
  if (strcmp (name, ".") == 0)
    return "is \".\"";
  if (strstr (name, "..") != NULL)
    return "contains \"..\"";
  return NULL;
}

static const char *
holder_problem (const char *holder)
{
  if (holder == NULL)
    return "is missing";
  gsize len = strlen (holder);
  if (len == 0)
    return "is empty";
  if (len > HOLDER_MAX)
    return "is longer than 255 bytes";
  if (!g_utf8_validate (holder, len, NULL))
    return "is not valid UTF-8";
  if (has_control_char (holder, len))
    return "contains a control character";
  return NULL;
}

gboolean
mb_manifest_name_is_safe (const char *name, GError **error)
{
  const char *why = name_problem (name);
  if (why == NULL)
    return TRUE;
  gchar *s = shown (name);
  g_set_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_BAD_NAME,
               "manifest name \"%s\" %s", s, why);
  g_free (s);
  return FALSE;
}

gboolean
mb_chunk_id_is_valid (const char *id)
{
  if (id == NULL)
    return FALSE;
  for (gsize i = 0; i < MB_CHUNK_ID_LEN; i++)
    if (!g_ascii_isdigit (id[i]) && !(id[i] >= 'a' && id[i] <= 'f'))
      return FALSE;   /* also stops at an early NUL */
  return id[MB_CHUNK_ID_LEN] == '\0';
}

/* ---- lifetime ---- */

MbManifest *
mb_manifest_new (const char *name, guint64 size, guint32 chunk_size,
                 GError **error)
{
  if (!mb_manifest_name_is_safe (name, error))
    return NULL;
  if (chunk_size == 0)
    {
      g_set_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_BAD_SIZE,
                   "manifest \"%s\": chunk size is 0", name);
      return NULL;
    }
  guint64 n = count_chunks (size, chunk_size);
  if (n > MB_MANIFEST_MAX_CHUNKS)
    {
      g_set_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_BAD_SIZE,
                   "manifest \"%s\": size %" G_GUINT64_FORMAT " with chunk size %u "
                   "needs %" G_GUINT64_FORMAT " chunks (at most %u)",
                   name, size, chunk_size, n, MB_MANIFEST_MAX_CHUNKS);
      return NULL;
    }
  MbManifest *m = g_new0 (MbManifest, 1);
  g_atomic_ref_count_init (&m->ref);
  m->name = g_strdup (name);
  m->size = size;
  m->chunk_size = chunk_size;
  m->n_chunks = (guint) n;
  m->chunks = g_new0 (Chunk, m->n_chunks);
  return m;
}

MbManifest *
mb_manifest_ref (MbManifest *m)
{
  g_return_val_if_fail (m != NULL, NULL);
  g_atomic_ref_count_inc (&m->ref);
  return m;
}

static void
chunk_clear (Chunk *c)
{
  for (guint k = 0; k < c->n_holders; k++)
    g_free (c->holders[k]);
  g_free (c->holders);
  c->holders = NULL;
  c->n_holders = c->cap = 0;
}

void
mb_manifest_unref (MbManifest *m)
{
  if (m == NULL || !g_atomic_ref_count_dec (&m->ref))
    return;
  for (guint i = 0; i < m->n_chunks; i++)
    chunk_clear (&m->chunks[i]);
  g_free (m->chunks);
  g_free (m->name);
  g_free (m);
}

MbManifest *
mb_manifest_copy (const MbManifest *m)
{
  g_return_val_if_fail (m != NULL, NULL);
  MbManifest *c = mb_manifest_new (m->name, m->size, m->chunk_size, NULL);
  g_assert (c != NULL);
  for (guint i = 0; i < m->n_chunks; i++)
    {
      const Chunk *src = &m->chunks[i];
      Chunk *dst = &c->chunks[i];
      memcpy (dst->id, src->id, sizeof dst->id);
      dst->crc = src->crc;
      dst->cap = dst->n_holders = src->n_holders;
      dst->holders = g_new (gchar *, dst->cap);
      for (guint k = 0; k < src->n_holders; k++)
        dst->holders[k] = g_strdup (src->holders[k]);
    }
  return c;
}

/* ---- accessors ---- */

const char *
mb_manifest_name (const MbManifest *m)
{
  g_return_val_if_fail (m != NULL, NULL);
  return m->name;
}

guint64
mb_manifest_size (const MbManifest *m)
{
  g_return_val_if_fail (m != NULL, 0);
  return m->size;
}

guint32
mb_manifest_chunk_size (const MbManifest *m)
{
  g_return_val_if_fail (m != NULL, 0);
  return m->chunk_size;
}

guint
mb_manifest_n_chunks (const MbManifest *m)
{
  g_return_val_if_fail (m != NULL, 0);
  return m->n_chunks;
}

guint32
mb_manifest_chunk_len (const MbManifest *m, guint i)
{
  g_return_val_if_fail (m != NULL && i < m->n_chunks, 0);
  if (i + 1 < m->n_chunks)
    return m->chunk_size;
  return (guint32) (m->size - (guint64) i * m->chunk_size);
}

const char *
mb_manifest_chunk_id (const MbManifest *m, guint i)
{
  g_return_val_if_fail (m != NULL && i < m->n_chunks, NULL);
  return m->chunks[i].id;
}

guint32
mb_manifest_chunk_crc (const MbManifest *m, guint i)
{
  g_return_val_if_fail (m != NULL && i < m->n_chunks, 0);
  return m->chunks[i].crc;
}

gboolean
mb_manifest_set_chunk (MbManifest *m, guint i, const char *id_hex,
                       guint32 crc, GError **error)
{
  g_return_val_if_fail (m != NULL, FALSE);
  if (i >= m->n_chunks)
    {
      g_set_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_BAD_SIZE,
                   "manifest \"%s\": chunk %u is out of range (%u chunks)",
                   m->name, i, m->n_chunks);
      return FALSE;
    }
  if (!mb_chunk_id_is_valid (id_hex))
    {
      gchar *s = shown (id_hex);
      g_set_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_BAD_ID,
                   "manifest \"%s\": chunk %u: id \"%s\" is not 64 lowercase hex digits",
                   m->name, i, s);
      g_free (s);
      return FALSE;
    }
  memcpy (m->chunks[i].id, id_hex, MB_CHUNK_ID_LEN + 1);
  m->chunks[i].crc = crc;
  return TRUE;
}

/* ---- holders ---- */

/* Binary search: TRUE if found; *pos is where it is or would be inserted. */
static gboolean
chunk_find (const Chunk *c, const char *holder, guint *pos)
{
  guint lo = 0, hi = c->n_holders;
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      int cmp = strcmp (c->holders[mid], holder);
      if (cmp == 0)
        {
          *pos = mid;
          return TRUE;
        }
      if (cmp < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  *pos = lo;
  return FALSE;
}

static void
chunk_reserve (Chunk *c, guint want)
{
  if (want <= c->cap)
    return;
  guint cap = MAX (4u, (guint) c->cap * 2);
  cap = MIN (MAX (cap, want), (guint) MB_MANIFEST_MAX_HOLDERS);
  c->holders = g_renew (gchar *, c->holders, cap);
  c->cap = (guint16) cap;
}

/* Inserts an owned string at pos (caller checked order and room). */
static void
chunk_insert (Chunk *c, guint pos, gchar *holder)
{
  chunk_reserve (c, c->n_holders + 1u);
  memmove (&c->holders[pos + 1], &c->holders[pos],
           (c->n_holders - pos) * sizeof (gchar *));
  c->holders[pos] = holder;
  c->n_holders++;
}

guint
mb_manifest_n_holders (const MbManifest *m, guint i)
{
  g_return_val_if_fail (m != NULL && i < m->n_chunks, 0);
  return m->chunks[i].n_holders;
}

const char *
mb_manifest_holder (const MbManifest *m, guint i, guint k)
{
  g_return_val_if_fail (m != NULL && i < m->n_chunks, NULL);
  g_return_val_if_fail (k < m->chunks[i].n_holders, NULL);
  return m->chunks[i].holders[k];
}

gboolean
mb_manifest_has_holder (const MbManifest *m, guint i, const char *holder)
{
  g_return_val_if_fail (m != NULL && i < m->n_chunks, FALSE);
  guint pos;
  return holder != NULL && chunk_find (&m->chunks[i], holder, &pos);
}

gboolean
mb_manifest_add_holder (MbManifest *m, guint i, const char *holder)
{
  g_return_val_if_fail (m != NULL && i < m->n_chunks, FALSE);
  Chunk *c = &m->chunks[i];
  guint pos;
  if (holder_problem (holder) != NULL || chunk_find (c, holder, &pos)
      || c->n_holders >= MB_MANIFEST_MAX_HOLDERS)
    return FALSE;
  chunk_insert (c, pos, g_strdup (holder));
  return TRUE;
}

gboolean
mb_manifest_remove_holder (MbManifest *m, guint i, const char *holder)
{
  g_return_val_if_fail (m != NULL && i < m->n_chunks, FALSE);
  Chunk *c = &m->chunks[i];
  guint pos;
  if (holder == NULL || !chunk_find (c, holder, &pos))
    return FALSE;
  g_free (c->holders[pos]);
  c->n_holders--;
  memmove (&c->holders[pos], &c->holders[pos + 1],
           (c->n_holders - pos) * sizeof (gchar *));
  return TRUE;
}

/* ---- merge ---- */

static gboolean
merge_compatible (const MbManifest *dst, const MbManifest *src, GError **error)
{
  if (strcmp (dst->name, src->name) != 0)
    {
      g_set_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_BAD_NAME,
                   "manifest \"%s\": cannot merge manifest \"%s\": names differ",
                   dst->name, src->name);
      return FALSE;
    }
  if (dst->size != src->size || dst->chunk_size != src->chunk_size)
    {
      g_set_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_BAD_SIZE,
                   "manifest \"%s\": cannot merge: size/chunk size %" G_GUINT64_FORMAT
                   "/%u differ from %" G_GUINT64_FORMAT "/%u",
                   dst->name, dst->size, dst->chunk_size, src->size, src->chunk_size);
      return FALSE;
    }
  for (guint i = 0; i < dst->n_chunks; i++)
    {
      const Chunk *a = &dst->chunks[i], *b = &src->chunks[i];
      if (strcmp (a->id, b->id) != 0 || a->crc != b->crc)
        {
          g_set_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_BAD_ID,
                       "manifest \"%s\": cannot merge: chunk %u: id \"%s\" crc %08x "
                       "differs from id \"%s\" crc %08x",
                       dst->name, i, a->id, a->crc, b->id, b->crc);
          return FALSE;
        }
    }
  return TRUE;
}

/* Linear merge of src's sorted holders into dst's; returns holders added.
 * dst keeps all its own holders; src's new ones fill what room is left
 * (up to MB_MANIFEST_MAX_HOLDERS), in ascending order. */
static guint
chunk_merge (Chunk *dst, const Chunk *src)
{
  guint room = MB_MANIFEST_MAX_HOLDERS - dst->n_holders;
  if (src->n_holders == 0 || room == 0)
    return 0;
  guint cap = dst->n_holders + MIN ((guint) src->n_holders, room);
  gchar **out = g_new (gchar *, cap);
  guint a = 0, b = 0, n = 0;
  while (a < dst->n_holders || b < src->n_holders)
    {
      int cmp = a == dst->n_holders ? 1
              : b == src->n_holders ? -1
              : strcmp (dst->holders[a], src->holders[b]);
      if (cmp <= 0)
        {
          out[n++] = dst->holders[a++];
          b += cmp == 0;
        }
      else if (n - a < room)   /* n - a: src holders taken so far */
        out[n++] = g_strdup (src->holders[b++]);
      else
        b++;
    }
  guint added = n - dst->n_holders;
  g_free (dst->holders);
  dst->holders = out;
  dst->cap = (guint16) cap;
  dst->n_holders = (guint16) n;
  return added;
}

gint
mb_manifest_merge (MbManifest *dst, const MbManifest *src, GError **error)
{
  g_return_val_if_fail (dst != NULL && src != NULL, -1);
  if (!merge_compatible (dst, src, error))
    return -1;
  guint added = 0;
  for (guint i = 0; i < dst->n_chunks; i++)
    added += chunk_merge (&dst->chunks[i], &src->chunks[i]);
  return (gint) MIN (added, (guint) G_MAXINT);
}

/* ---- validation ---- */

static gboolean
validate_chunk (const MbManifest *m, guint i, GError **error)
{
  const Chunk *c = &m->chunks[i];
  if (!mb_chunk_id_is_valid (c->id))
    {
      g_set_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_BAD_ID,
                   "manifest \"%s\": chunk %u: id \"%s\" is not 64 lowercase hex digits",
                   m->name, i, c->id);
      return FALSE;
    }
  for (guint k = 0; k < c->n_holders; k++)
    {
      const char *why = holder_problem (c->holders[k]);
      if (why == NULL && k > 0 && strcmp (c->holders[k - 1], c->holders[k]) >= 0)
        why = "is out of order or duplicated";
      if (why != NULL)
        {
          gchar *s = shown (c->holders[k]);
          g_set_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_BAD_HOLDER,
                       "manifest \"%s\": chunk %u: holder \"%s\" %s", m->name, i, s, why);
          g_free (s);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
mb_manifest_validate (const MbManifest *m, GError **error)
{
  g_return_val_if_fail (m != NULL, FALSE);
  if (!mb_manifest_name_is_safe (m->name, error))
    return FALSE;
  if (m->chunk_size == 0 || count_chunks (m->size, m->chunk_size) != m->n_chunks)
    {
      g_set_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_BAD_SIZE,
                   "manifest \"%s\": %u chunks do not match size %" G_GUINT64_FORMAT
                   " with chunk size %u", m->name, m->n_chunks, m->size, m->chunk_size);
      return FALSE;
    }
  for (guint i = 0; i < m->n_chunks; i++)
    if (!validate_chunk (m, i, error))
      return FALSE;
  return TRUE;
}

gboolean
mb_manifest_equal (const MbManifest *a, const MbManifest *b)
{
  if (a == b)
    return TRUE;
  if (a == NULL || b == NULL)
    return FALSE;
  if (strcmp (a->name, b->name) != 0 || a->size != b->size
      || a->chunk_size != b->chunk_size || a->n_chunks != b->n_chunks)
    return FALSE;
  for (guint i = 0; i < a->n_chunks; i++)
    {
      const Chunk *x = &a->chunks[i], *y = &b->chunks[i];
      if (strcmp (x->id, y->id) != 0 || x->crc != y->crc || x->n_holders != y->n_holders)
        return FALSE;
      for (guint k = 0; k < x->n_holders; k++)
        if (strcmp (x->holders[k], y->holders[k]) != 0)
          return FALSE;
    }
  return TRUE;
}

/* ---- binary form: writing ---- */

gsize
mb_manifest_encoded_size (const MbManifest *m)
{
  g_return_val_if_fail (m != NULL, 0);
  gsize n = 3 + 2 + strlen (m->name) + 8 + 4 + 4;
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
  *p++ = BIN_VERSION;
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

static gboolean
read_header (Reader *r, GError **error)
{
  if (!need (r, 3, "header", error))
    return FALSE;
  if (r->p[0] != BIN_MAGIC0 || r->p[1] != BIN_MAGIC1)
    return parse_fail (r, error, "bad magic %02x%02x (expected \"MF\")", r->p[0], r->p[1]);
  if (r->p[2] != BIN_VERSION)
    return parse_fail (r, error, "unsupported version %u", r->p[2]);
  r->pos = 3;
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
holder_fail (const MbManifest *m, guint i, const char *holder, const char *why,
             GError **error)
{
  gchar *s = shown (holder);
  g_set_error (error, MB_MANIFEST_ERROR, MB_MANIFEST_ERROR_BAD_HOLDER,
               "manifest \"%s\": chunk %u: holder \"%s\" %s", m->name, i, s, why);
  g_free (s);
  return FALSE;
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
  chunk_reserve (c, (guint) n);
  for (guint k = 0; k < n; k++)
    {
      gchar *h = read_str16 (r, "holder", error);
      if (h == NULL)
        return FALSE;
      const char *why = holder_problem (h);
      if (why == NULL && k > 0 && strcmp (c->holders[k - 1], h) >= 0)
        why = "is out of order or duplicated (holders must be strictly ascending)";
      if (why != NULL)
        {
          holder_fail (m, i, h, why, error);
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
  guint64 want = count_chunks (size, chunk_size);
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
read_top (Reader *r, GError **error)
{
  guint64 size, chunk_size, n_chunks;
  if (!read_header (r, error))
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
  MbManifest *m = read_top (&r, error);
  if (m == NULL)
    return NULL;
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
  return m;
fail:
  mb_manifest_unref (m);
  return NULL;
}

/* ---- for manifest-json.c ---- */

const char *
mbi_manifest_holder_problem (const char *holder)
{
  return holder_problem (holder);
}

gboolean
mbi_manifest_holder_fail (const MbManifest *m, guint i, const char *holder, const char *why,
                         GError **error)
{
  return holder_fail (m, i, holder, why, error);
}

guint64
mbi_manifest_count_chunks (guint64 size, guint32 chunk_size)
{
  return count_chunks (size, chunk_size);
}
