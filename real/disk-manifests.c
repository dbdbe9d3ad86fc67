/* disk-manifests.c — the disk store's manifests: DATA_DIR/manifests/<file
 * name>.json, written durably (fsynced file and directory) and atomically;
 * one that no longer parses is moved aside.  The layout and invariants are
 * in disk-store.c's header comment.
 */
#if !defined _GNU_SOURCE && !defined _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#define MB_REAL_DISK_STORE_INTERNAL
#include "disk-store-private.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "content/manifest.h"

/* ---- the manifests kept parsed ----
 *
 * A manifest read is its file parsed (json-glib: about 14 ms for 1,024
 * chunks), and a fetch reads the same one at each owner 2-3 times (its
 * quorum read, the update_manifest that adds the fetcher).  So the last
 * manifest parsed or written under each name is kept, frozen (the store's
 * readers copy before they change one), with its file's identity: a read
 * whose file still has it (device, inode, size, mtime and ctime) is a
 * stat; a file replaced, rewritten or removed since is read again.  Kept:
 * at most KEPT_CHUNKS chunks and KEPT_BYTES of memory over all names, and
 * KEPT_MAX names, the least
 * recently used let go first; a manifest bigger than that alone is not
 * kept.  (A program that rewrites a manifest file in place, to the same
 * size within one timestamp tick, is not seen: the store's own writes
 * always make a new file.)
 *
 * Invariants: kept_chunks and kept_bytes are the sums of the kept
 * manifests' chunk counts and memory, at most KEPT_CHUNKS and KEPT_BYTES,
 * the kept names at most KEPT_MAX; a kept manifest is frozen and is what its file
 * held when the identity was taken (put, drop and set-aside update or
 * forget it). */

#define KEPT_CHUNKS (1u << 16)
#define KEPT_BYTES ((gsize) 32 << 20) /* their memory (holder lists make a chunk big) */
#define KEPT_MAX 1024 /* manifests: an eviction scans them all */

typedef struct {
  MbManifest *m;
  guint64 dev, ino;
  gint64 size, mtime_ns, ctime_ns;
  guint64 used;
  gsize bytes;  /* mb_manifest_memory of m alone */
} Kept;

static void
kept_free (gpointer p)
{
  Kept *k = p;
  mb_manifest_unref (k->m);
  g_free (k);
}

GHashTable *
mbi_disk_kept_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, kept_free);
}

static void
kept_identity (Kept *k, const struct stat *st)
{
  k->dev = (guint64) st->st_dev;
  k->ino = (guint64) st->st_ino;
  k->size = (gint64) st->st_size;
  k->mtime_ns = (gint64) st->st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000) + st->st_mtim.tv_nsec;
  k->ctime_ns = (gint64) st->st_ctim.tv_sec * G_GINT64_CONSTANT (1000000000) + st->st_ctim.tv_nsec;
}

static void
kept_forget (DiskStore *d, const char *name)
{
  Kept *k = g_hash_table_lookup (d->kept, name);
  if (k == NULL)
    return;
  g_assert (d->kept_chunks >= mb_manifest_n_chunks (k->m) && d->kept_bytes >= k->bytes);
  d->kept_chunks -= mb_manifest_n_chunks (k->m);
  d->kept_bytes -= k->bytes;
  g_hash_table_remove (d->kept, name);
}

/* The kept manifest of name if its file (st) is still the one it was. */
static MbManifest *
kept_get (DiskStore *d, const char *name, const struct stat *st)
{
  Kept *k = g_hash_table_lookup (d->kept, name);
  if (k == NULL)
    return NULL;
  Kept now;
  kept_identity (&now, st);
  if (now.dev != k->dev || now.ino != k->ino || now.size != k->size
      || now.mtime_ns != k->mtime_ns || now.ctime_ns != k->ctime_ns)
    {
      kept_forget (d, name);
      return NULL;
    }
  k->used = ++d->kept_clock;
  return mb_manifest_ref (k->m);
}

/* Keeps m (frozen: the caller gives a manifest nobody changes any more,
 * whose only reference it holds) as what name's file (st) holds. */
static void
kept_put (DiskStore *d, const char *name, MbManifest *m, const struct stat *st)
{
  kept_forget (d, name);
  guint n = mb_manifest_n_chunks (m);
  if (n > KEPT_CHUNKS)
    return;
  gsize bytes = mb_manifest_memory (m); /* whole: the callers hold its only reference */
  if (bytes > KEPT_BYTES)
    return;
  while (d->kept_chunks + n > KEPT_CHUNKS || d->kept_bytes + bytes > KEPT_BYTES
         || g_hash_table_size (d->kept) >= KEPT_MAX)
    {
      const char *oldest = NULL;
      guint64 least = G_MAXUINT64;
      GHashTableIter it;
      gpointer key, value;
      g_hash_table_iter_init (&it, d->kept);
      while (g_hash_table_iter_next (&it, &key, &value))
        if (((Kept *) value)->used < least)
          {
            least = ((Kept *) value)->used;
            oldest = key;
          }
      g_assert (oldest != NULL);
      kept_forget (d, oldest);
    }
  mb_manifest_freeze (m);
  Kept *k = g_new0 (Kept, 1);
  k->m = mb_manifest_ref (m);
  kept_identity (k, st);
  k->used = ++d->kept_clock;
  k->bytes = bytes;
  g_hash_table_replace (d->kept, g_strdup (name), k);
  d->kept_chunks += n;
  d->kept_bytes += bytes;
}

/* ---- manifests ---- */

/* name's file name in manifests/: '%' -> "%25", a leading '.' -> "%2E". */
static gchar *
manifest_file_name (const char *name)
{
  GString *out = g_string_new (NULL);
  for (const char *p = name; *p; p++)
    {
      if (*p == '%')
        g_string_append (out, "%25");
      else if (*p == '.' && p == name)
        g_string_append (out, "%2E");
      else
        g_string_append_c (out, *p);
    }
  g_string_append (out, MANIFEST_SUFFIX);
  return g_string_free (out, FALSE);
}

/* The manifest name a file in manifests/ holds, or NULL if it holds none:
 * a dot-file, another suffix, a bad escape, an unsafe name, or a spelling
 * that manifest_file_name would not produce. */
static gchar *
manifest_name_of_file (const char *file)
{
  if (file[0] == '.' || !g_str_has_suffix (file, MANIFEST_SUFFIX))
    return NULL;
  gsize n = strlen (file) - strlen (MANIFEST_SUFFIX);
  GString *name = g_string_sized_new (n);
  for (gsize i = 0; i < n; i++)
    {
      if (file[i] != '%')
        {
          g_string_append_c (name, file[i]);
          continue;
        }
      int hi = i + 2 < n ? g_ascii_xdigit_value (file[i + 1]) : -1;
      int lo = i + 2 < n ? g_ascii_xdigit_value (file[i + 2]) : -1;
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
        {
          g_string_free (name, TRUE);
          return NULL;
        }
      g_string_append_c (name, (char) (hi * 16 + lo));
      i += 2;
    }
  gchar *out = g_string_free (name, FALSE);
  g_autofree gchar *canonical = mb_manifest_name_is_safe (out, NULL)
                                ? manifest_file_name (out) : NULL;
  if (canonical == NULL || strcmp (canonical, file) != 0)
    {
      g_free (out);
      return NULL;
    }
  return out;
}

/* The path of name's manifest file, or NULL with an INVALID error. */
static gchar *
manifest_path (DiskStore *d, const char *name, GError **error)
{
  GError *local = NULL;
  if (!mb_manifest_name_is_safe (name, &local))
    {
      g_set_error (error, MB_STORE_ERROR, MB_STORE_ERROR_INVALID, "%s", local->message);
      g_error_free (local);
      return NULL;
    }
  g_autofree gchar *file = manifest_file_name (name);
  if (strlen (file) > FILE_NAME_MAX)
    {
      g_set_error (error, MB_STORE_ERROR, MB_STORE_ERROR_INVALID,
                   "manifest \"%.40s...\": name too long for a file on disk "
                   "(%" G_GSIZE_FORMAT " bytes as \"<name>%s\"; at most %d)",
                   name, strlen (file), MANIFEST_SUFFIX, FILE_NAME_MAX);
      return NULL;
    }
  return g_build_filename (d->manifests_dir, file, NULL);
}

void
mbi_disk_walk_manifests (DiskStore *d, gboolean remove_tmp, Visit visit, gpointer user)
{
  GError *err = NULL;
  GDir *listing = g_dir_open (d->manifests_dir, 0, &err);
  if (listing == NULL)
    {
      g_warning ("%s: cannot list manifests: %s", d->manifests_dir, err->message);
      g_error_free (err);
      return;
    }
  const char *file;
  while ((file = g_dir_read_name (listing)) != NULL)
    {
      g_autofree gchar *path = g_build_filename (d->manifests_dir, file, NULL);
      if (remove_tmp && g_str_has_prefix (file, TMP_PREFIX))
        {
          mbi_disk_remove_stale_tmp (path);
          continue;
        }
      g_autofree gchar *name = manifest_name_of_file (file);
      if (name == NULL)
        continue;
      gint64 size = mbi_disk_regular_file_size (path);
      if (size >= 0)
        visit (name, size, user);
    }
  g_dir_close (listing);
}

void
mbi_disk_count_manifest (const char *name, gint64 size, gpointer user)
{
  (void) name;
  (void) size;
  ((MbStore *) user)->n_manifests++;
}

/* Moves a manifest file that does not parse out of the way (or, failing
 * that, deletes it: it can be fetched again), with a warning. */
static void
set_manifest_aside (DiskStore *d, const char *path, const char *why)
{
  g_autofree gchar *base = g_path_get_basename (path);
  g_autofree gchar *aside_name = g_strconcat (CORRUPT_PREFIX, base, NULL);
  g_autofree gchar *aside = g_build_filename (d->manifests_dir, aside_name, NULL);
  gboolean moved = g_rename (path, aside) == 0;
  int err = errno;
  gboolean gone = moved || g_unlink (path) == 0;
  if (gone && d->base.n_manifests > 0)
    d->base.n_manifests--;
  if (moved)
    g_warning ("%s: not a valid manifest (%s); moved aside to %s", path, why, aside);
  else
    g_warning ("%s: not a valid manifest (%s); cannot move it aside (%s), %s",
               path, why, g_strerror (err), gone ? "deleted it" : "nor delete it");
}

gboolean
mbi_disk_put_manifest (MbStore *s, const MbManifest *m, GError **error)
{
  DiskStore *d = (DiskStore *) s;
  g_autofree gchar *path = manifest_path (d, mb_manifest_name (m), error);
  if (path == NULL)
    return FALSE;
  g_autofree gchar *json = mb_manifest_to_json (m);
  gboolean existed = mbi_disk_regular_file_size (path) >= 0;
  kept_forget (d, mb_manifest_name (m));
  if (!mbi_disk_write_atomically (d->manifests_dir, path, (const guint8 *) json, strlen (json), TRUE, error))
    return FALSE;
  if (!existed)
    s->n_manifests++;
  struct stat st;
  if (mb_manifest_n_chunks (m) <= KEPT_CHUNKS && g_stat (path, &st) == 0 && S_ISREG (st.st_mode))
    {
      g_autoptr (MbManifest) copy = mb_manifest_copy (m);
      kept_put (d, mb_manifest_name (m), copy, &st);
    }
  return TRUE;
}

MbManifest *
mbi_disk_get_manifest (MbStore *s, const char *name)
{
  DiskStore *d = (DiskStore *) s;
  g_autofree gchar *path = manifest_path (d, name, NULL);
  if (path == NULL)
    return NULL;
  /* Opened without blocking (a FIFO under the name would hang a plain
   * open), and known by what was opened: a file replaced after the open is
   * read again next time (its identity differs), never kept as the older
   * one. */
  struct stat st;
  g_autoptr (GError) err = NULL;
  int fd = mbi_disk_open_regular (path, &st, &err);
  if (fd < 0)
    {
      kept_forget (d, name);
      if (!g_error_matches (err, MB_STORE_ERROR, MB_STORE_ERROR_NOT_FOUND))
        g_warning ("manifest %s: %s", name, err->message);
      return NULL;
    }
  MbManifest *kept = kept_get (d, name, &st);
  if (kept != NULL)
    {
      close (fd);
      return kept;
    }
  gsize len = (gsize) st.st_size;
  g_autofree gchar *text = len < G_MAXSIZE ? g_try_malloc (len + 1) : NULL;
  if (text == NULL)
    {
      close (fd);
      g_warning ("manifest %s: %s: cannot allocate %" G_GSIZE_FORMAT " bytes to read it",
                 name, path, len);
      return NULL;
    }
  len = mbi_disk_pread_all (fd, (guint8 *) text, len, 0);
  close (fd);
  text[len] = '\0';
  MbManifest *m = mb_manifest_from_json (text, (gssize) len, &err);
  if (m != NULL && strcmp (mb_manifest_name (m), name) != 0)
    {
      g_set_error (&err, MB_STORE_ERROR, MB_STORE_ERROR_INVALID,
                   "it holds the manifest of another name");
      g_clear_pointer (&m, mb_manifest_unref);
    }
  if (m == NULL)
    {
      kept_forget (d, name);
      set_manifest_aside (d, path, err->message);
      return NULL;
    }
  kept_put (d, name, m, &st);
  return m;
}

gboolean
mbi_disk_drop_manifest (MbStore *s, const char *name)
{
  g_autofree gchar *path = manifest_path ((DiskStore *) s, name, NULL);
  if (path == NULL)
    return FALSE;
  kept_forget ((DiskStore *) s, name);
  if (mbi_disk_regular_file_size (path) < 0)
    return FALSE;
  if (g_unlink (path) != 0)
    {
      g_warning ("%s: cannot delete: %s", path, g_strerror (errno));
      return FALSE;
    }
  if (s->n_manifests > 0)
    s->n_manifests--;
  return TRUE;
}

GPtrArray *
mbi_disk_list_manifests (MbStore *s)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  mbi_disk_walk_manifests ((DiskStore *) s, FALSE, mbi_disk_collect_key, names);
  g_ptr_array_sort (names, mbi_disk_cmp_str);
  return names;
}

