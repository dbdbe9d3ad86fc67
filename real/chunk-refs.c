/* chunk-refs.c — chunks kept inside fetched files.
 *
 * A fetch writes its file as the chunks come (download.c); a chunk it got
 * from the network is then kept as a reference into that file rather than
 * written a second time as a chunk file of its own.  Likewise the copies
 * store_file keeps at its own peer stay in the file it shares.  The disk store serves,
 * counts, lists and drops referred chunks like the others, and verifies them
 * on their first read the same way (a file changed behind its back fails
 * that check, and the chunk is forgotten).
 *
 * Index: DATA_DIR/refs/<sha256 of the file's path>.refs, text,
 *   minibit-refs 1
 *   <the file's path>
 *   <id> <offset> <length>          one line a chunk
 * written whole (temporary file, then rename) when the download is renamed
 * into place, and again after a drop (removed when no chunk is left).  Not
 * fsynced, like chunk files: after a crash an index may be older (a dropped
 * chunk comes back, verified on its first read) or missing (its chunks are
 * absent, and the ring's repair brings copies back).
 *
 * An id is referred to at most once, and never while a chunk file of that
 * id exists (the disk store forgets the reference when it writes one).
 */
#if !defined _GNU_SOURCE && !defined _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "chunk-refs.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include "content/manifest.h"

#define INDEX_MAGIC "minibit-refs 1"
#define INDEX_SUFFIX ".refs"

struct _MbRefFile {
  gchar *path;
  gchar *index;       /* NULL until committed */
  guint n;            /* chunks referring to it */
};

typedef struct {
  MbRefFile *file;
  guint64 off;
  guint32 len;
} Ref;

struct _MbChunkRefs {
  MbStore *store;
  gboolean (*has_file) (MbStore *s, const char *id);
  gchar *dir;
  GHashTable *by_id;  /* id -> Ref* */
  GPtrArray *files;   /* MbRefFile* (committed ones; writing ones are the downloads') */
};

static void
ref_file_free (MbRefFile *f)
{
  g_free (f->path);
  g_free (f->index);
  g_free (f);
}

static gchar *
index_path_for (MbChunkRefs *r, const char *path)
{
  g_autofree gchar *h = g_compute_checksum_for_string (G_CHECKSUM_SHA256, path, -1);
  g_autofree gchar *name = g_strconcat (h, INDEX_SUFFIX, NULL);
  return g_build_filename (r->dir, name, NULL);
}

/* Writes f's index (or removes it when f has no chunk left). */
static void
write_index (MbChunkRefs *r, MbRefFile *f)
{
  if (!f->index)
    return;
  if (f->n == 0)
    {
      g_unlink (f->index);
      return;
    }
  if (strchr (f->path, '\n') != NULL)
    {
      g_warning ("%s: a path with a line break cannot go into a chunk index; its %u chunks are "
                 "held only until this peer stops", f->path, f->n);
      return;
    }
  GString *out = g_string_new (INDEX_MAGIC "\n");
  g_string_append_printf (out, "%s\n", f->path);
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, r->by_id);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      Ref *ref = v;
      if (ref->file == f)
        g_string_append_printf (out, "%s %" G_GUINT64_FORMAT " %u\n", (const char *) k, ref->off,
                                ref->len);
    }
  g_autoptr (GError) err = NULL;
  if (!g_file_set_contents_full (f->index, out->str, (gssize) out->len,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0600, &err))
    g_warning ("%s: cannot write the index of %s: %s (its chunks are lost at the next start)",
               f->index, f->path, err->message);
  g_string_free (out, TRUE);
}

static void
uncount (MbChunkRefs *r, guint32 len)
{
  r->store->n_chunks--;
  r->store->chunk_bytes -= len;
}

/* Refers id to [off, off + len) of f and counts it in the store. */
static void
insert_ref (MbChunkRefs *r, MbRefFile *f, const char *id, guint64 off, guint32 len)
{
  Ref *ref = g_new (Ref, 1);
  ref->file = f;
  ref->off = off;
  ref->len = len;
  g_hash_table_insert (r->by_id, g_strdup (id), ref);
  f->n++;
  r->store->n_chunks++;
  r->store->chunk_bytes += len;
}

static gboolean
parse_line (const char *line, char id[65], guint64 *off, guint32 *len)
{
  gchar **f = g_strsplit (line, " ", 0);
  gboolean ok = g_strv_length (f) == 3 && mb_chunk_id_is_valid (f[0]);
  guint64 o = 0, l = 0;
  ok = ok && g_ascii_string_to_unsigned (f[1], 10, 0, G_MAXINT64, &o, NULL)
       && g_ascii_string_to_unsigned (f[2], 10, 1, G_MAXUINT32, &l, NULL);
  if (ok)
    {
      g_strlcpy (id, f[0], 65);
      *off = o;
      *len = (guint32) l;
    }
  g_strfreev (f);
  return ok;
}

static void
load_index (MbChunkRefs *r, const char *index, gboolean (*has_file) (MbStore *, const char *))
{
  g_autofree gchar *text = NULL;
  if (!g_file_get_contents (index, &text, NULL, NULL))
    return;
  g_auto (GStrv) lines = g_strsplit (text, "\n", 0);
  if (g_strv_length (lines) < 2 || strcmp (lines[0], INDEX_MAGIC) != 0 || lines[1][0] != '/')
    {
      g_warning ("%s: not a chunk index; removed", index);
      g_unlink (index);
      return;
    }
  GStatBuf st;
  if (g_stat (lines[1], &st) != 0)
    {
      g_message ("%s is gone: its chunks are no longer held here", lines[1]);
      g_unlink (index);
      return;
    }
  MbRefFile *f = g_new0 (MbRefFile, 1);
  f->path = g_strdup (lines[1]);
  f->index = g_strdup (index);
  for (guint i = 2; lines[i]; i++)
    {
      char id[65];
      guint64 off;
      guint32 len;
      if (lines[i][0] == '\0')
        continue;
      if (!parse_line (lines[i], id, &off, &len))
        {
          g_warning ("%s: line %u is not \"ID OFFSET LENGTH\"; skipped", index, i + 1);
          continue;
        }
      if (off + len > (guint64) st.st_size || has_file (r->store, id)
          || g_hash_table_contains (r->by_id, id))
        continue;
      insert_ref (r, f, id, off, len);
    }
  g_ptr_array_add (r->files, f);
}

/* g_ptr_array_sort passes pointers to the elements. */
static gint
cmp_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

MbChunkRefs *
mb_chunk_refs_new (MbStore *s, const char *index_dir,
                   gboolean (*has_file) (MbStore *s, const char *id))
{
  MbChunkRefs *r = g_new0 (MbChunkRefs, 1);
  r->store = s;
  r->has_file = has_file;
  r->dir = g_strdup (index_dir);
  r->by_id = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  r->files = g_ptr_array_new_with_free_func ((GDestroyNotify) ref_file_free);
  if (g_mkdir_with_parents (index_dir, 0700) != 0)
    g_warning ("%s: cannot make the directory: %s", index_dir, g_strerror (errno));
  GDir *d = g_dir_open (index_dir, 0, NULL);
  if (d)
    {
      g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      const char *name;
      while ((name = g_dir_read_name (d)) != NULL)
        if (g_str_has_suffix (name, INDEX_SUFFIX) && name[0] != '.')
          g_ptr_array_add (names, g_strdup (name));
        else if (name[0] == '.')
          {
            g_autofree gchar *p = g_build_filename (index_dir, name, NULL);
            g_unlink (p); /* a write the last run did not finish */
          }
      g_dir_close (d);
      g_ptr_array_sort (names, cmp_names); /* deterministic: the first index wins an id */
      for (guint i = 0; i < names->len; i++)
        {
          g_autofree gchar *p = g_build_filename (index_dir, names->pdata[i], NULL);
          load_index (r, p, has_file);
        }
    }
  return r;
}

void
mb_chunk_refs_free (MbChunkRefs *r)
{
  if (!r)
    return;
  g_hash_table_unref (r->by_id);
  g_ptr_array_unref (r->files);
  g_free (r->dir);
  g_free (r);
}

MbRefFile *
mb_chunk_refs_file_new (MbChunkRefs *r, const char *path)
{
  (void) r;
  MbRefFile *f = g_new0 (MbRefFile, 1);
  f->path = g_strdup (path);
  return f;
}

gboolean
mb_chunk_refs_add (MbChunkRefs *r, MbRefFile *f, const char *id, guint64 off, guint32 len)
{
  if (g_hash_table_contains (r->by_id, id) || r->has_file (r->store, id))
    return FALSE;
  insert_ref (r, f, id, off, len);
  return TRUE;
}

/* Forgets every chunk referring to f (uncounted). */
static void
forget_file (MbChunkRefs *r, MbRefFile *f)
{
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, r->by_id);
  while (g_hash_table_iter_next (&it, NULL, &v))
    if (((Ref *) v)->file == f)
      {
        uncount (r, ((Ref *) v)->len);
        g_hash_table_iter_remove (&it);
      }
  f->n = 0;
}

void
mb_chunk_refs_file_commit (MbChunkRefs *r, MbRefFile *f, const char *final_path)
{
  for (guint i = 0; i < r->files->len; i++)
    {
      MbRefFile *old = r->files->pdata[i];
      if (strcmp (old->path, final_path) == 0)
        {
          forget_file (r, old); /* that file was just replaced */
          write_index (r, old);
          g_ptr_array_remove_index (r->files, i);
          break;
        }
    }
  g_free (f->path);
  f->path = g_strdup (final_path);
  f->index = index_path_for (r, final_path);
  write_index (r, f);
  if (f->n == 0)
    ref_file_free (f);
  else
    g_ptr_array_add (r->files, f);
}

MbRefFile *
mb_chunk_refs_source (MbChunkRefs *r, const char *path)
{
  for (guint i = 0; i < r->files->len; i++)
    {
      MbRefFile *f = r->files->pdata[i];
      if (strcmp (f->path, path) == 0)
        return f;
    }
  MbRefFile *f = g_new0 (MbRefFile, 1);
  f->path = g_strdup (path);
  f->index = index_path_for (r, path);
  g_ptr_array_add (r->files, f);
  return f;
}

void
mb_chunk_refs_file_save (MbChunkRefs *r, MbRefFile *f)
{
  write_index (r, f);
  if (f->n == 0 && f->index)
    g_ptr_array_remove (r->files, f);
}

void
mb_chunk_refs_file_abandon (MbChunkRefs *r, MbRefFile *f)
{
  forget_file (r, f);
  ref_file_free (f);
}

gboolean
mb_chunk_refs_find (MbChunkRefs *r, const char *id, const char **path, guint64 *off,
                    guint32 *len)
{
  Ref *ref = r ? g_hash_table_lookup (r->by_id, id) : NULL;
  if (!ref)
    return FALSE;
  if (path)
    *path = ref->file->path;
  if (off)
    *off = ref->off;
  if (len)
    *len = ref->len;
  return TRUE;
}

void
mb_chunk_refs_forget_path (MbChunkRefs *r, const char *path)
{
  for (guint i = 0; i < r->files->len; i++)
    {
      MbRefFile *f = r->files->pdata[i];
      if (strcmp (f->path, path) == 0)
        {
          g_message ("%s is gone: its %u chunks are no longer held here", path, f->n);
          forget_file (r, f);
          write_index (r, f);
          g_ptr_array_remove_index (r->files, i);
          return;
        }
    }
}

gboolean
mb_chunk_refs_forget (MbChunkRefs *r, const char *id)
{
  Ref *ref = r ? g_hash_table_lookup (r->by_id, id) : NULL;
  if (!ref)
    return FALSE;
  MbRefFile *f = ref->file;
  uncount (r, ref->len);
  g_hash_table_remove (r->by_id, id);
  f->n--;
  write_index (r, f);
  if (f->n == 0 && f->index)
    g_ptr_array_remove (r->files, f);
  return TRUE;
}

void
mb_chunk_refs_list (MbChunkRefs *r, GPtrArray *ids)
{
  if (!r)
    return;
  GHashTableIter it;
  gpointer k;
  g_hash_table_iter_init (&it, r->by_id);
  while (g_hash_table_iter_next (&it, &k, NULL))
    g_ptr_array_add (ids, g_strdup (k));
}
