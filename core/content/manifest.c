/* manifest.c — a file's manifest: name, sizes, each chunk's id and crc32, and
 * the members that hold each chunk.  Its binary form is in manifest-binary.c,
 * its JSON form in manifest-json.c.
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
 *  - the version is >= 1 (a new manifest is version 1; manifest-version.c);
 *  - the parsers (binary and JSON) only produce complete manifests: every id
 *    set, mb_manifest_validate passes.
 *
 * The binary form is canonical (see manifest-binary.c); the JSON form is
 * lenient where it is harmless: unknown members are ignored, holders may
 * come in any order and duplicates are folded.
 */
#include "content/manifest.h"
#define MB_CONTENT_MANIFEST_INTERNAL
#include "content/manifest-private.h"

#include <string.h>

#include "memsize.h"

#define HOLDER_MAX 255

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
  m->version = 1;
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
  c->version = m->version;
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

void
mb_manifest_freeze (MbManifest *m)
{
  g_return_if_fail (m != NULL);
  m->frozen = TRUE;
}

gboolean
mb_manifest_is_frozen (const MbManifest *m)
{
  g_return_val_if_fail (m != NULL, FALSE);
  return m->frozen;
}

MbManifest *
mb_manifest_share (const MbManifest *m)
{
  g_return_val_if_fail (m != NULL, NULL);
  return m->frozen ? mb_manifest_ref ((MbManifest *) m) : mb_manifest_copy (m);
}

gsize
mb_manifest_memory (const MbManifest *m)
{
  if (m == NULL)
    return 0;
  gsize bytes = mb_memsize (m, sizeof *m) + mb_memsize (m->name, strlen (m->name) + 1)
                + mb_memsize (m->chunks, m->n_chunks * sizeof (Chunk));
  for (guint i = 0; i < m->n_chunks; i++)
    {
      const Chunk *c = &m->chunks[i];
      bytes += mb_memsize (c->holders, c->cap * sizeof (gchar *));
      for (guint k = 0; k < c->n_holders; k++)
        bytes += mb_memsize (c->holders[k], strlen (c->holders[k]) + 1);
    }
  gint refs = g_atomic_int_get ((const gint *) &m->ref);
  return refs > 1 ? bytes / (gsize) refs : bytes;
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
  g_return_val_if_fail (m != NULL && !m->frozen, FALSE);
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
  g_return_val_if_fail (m != NULL && !m->frozen && i < m->n_chunks, FALSE);
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
  g_return_val_if_fail (m != NULL && !m->frozen && i < m->n_chunks, FALSE);
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
  g_return_val_if_fail (dst != NULL && !dst->frozen && src != NULL, -1);
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
  if (strcmp (a->name, b->name) != 0 || a->version != b->version || a->size != b->size
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

/* ---- for manifest-binary.c and manifest-json.c ---- */

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

void
mbi_manifest_chunk_reserve (Chunk *c, guint want)
{
  chunk_reserve (c, want);
}
