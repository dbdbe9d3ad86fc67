/* ring-copies.c — mb_ring_check_copies: the durability invariant (every
 * chunk of every file's newest manifest on R of the live members, the
 * manifest too) counted from scratch over their stores.  It reads, never
 * changes; O(stores x (manifests + chunks)).  The newest manifest of a name
 * is the one mb_manifest_cmp_newer puts last, so the count is the one a
 * reader that took the newest would rely on.
 */
#include "ring/ring-copies.h"
#include "ring/ring-checkers-private.h"

#include <string.h>

#define say mbi_checker_say

void
mbi_checker_say (GString *why, guint *said, const char *fmt, ...)
{
  if (!why || (*said)++ >= WHY_MAX)
    return;
  if (why->len)
    g_string_append (why, "; ");
  va_list ap;
  va_start (ap, fmt);
  g_string_append_vprintf (why, fmt, ap);
  va_end (ap);
}

static gint
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

GPtrArray *
mbi_checker_all_names (MbStore *const *stores, guint n)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint s = 0; s < n; s++)
    {
      g_autoptr (GPtrArray) names = mb_store_list_manifests (stores[s]);
      for (guint k = 0; k < names->len; k++)
        if (!g_hash_table_contains (seen, names->pdata[k]))
          {
            gchar *copy = g_strdup (names->pdata[k]);
            g_ptr_array_add (out, copy);
            g_hash_table_add (seen, copy);
          }
    }
  g_ptr_array_sort (out, cmp_str);
  return out;
}

MbManifest *
mbi_checker_manifests (MbStore *const *stores, guint n, const char *name, MbManifest **have)
{
  MbManifest *newest = NULL;
  for (guint s = 0; s < n; s++)
    {
      have[s] = mb_store_get_manifest (stores[s], name);
      if (have[s] && (!newest || mb_manifest_cmp_newer (have[s], newest) > 0))
        newest = have[s];
    }
  return newest;
}

void
mbi_checker_manifests_clear (MbManifest **have, guint n)
{
  for (guint s = 0; s < n; s++)
    if (have[s])
      mb_manifest_unref (have[s]);
}

/* One name: its newest manifest's copies and its chunks' copies. */
static void
check_name (MbStore *const *stores, guint n, const char *name, guint r, MbRingCopies *c,
            GString *why, guint *said)
{
  MbManifest **have = g_new0 (MbManifest *, MAX (n, 1));
  MbManifest *newest = mbi_checker_manifests (stores, n, name, have);
  c->files++;
  if (!newest)
    {
      c->manifests_short++;
      say (why, said, "%s: no live member holds its manifest", name);
      g_free (have);
      return;
    }
  guint copies = 0;
  for (guint s = 0; s < n; s++)
    if (have[s] && mb_manifest_cmp_newer (have[s], newest) == 0)
      copies++;
    else if (have[s])
      c->stale_manifests++;
  guint64 version = mb_manifest_version (newest);
  if (copies < r)
    {
      c->manifests_short++;
      say (why, said, "%s (version %" G_GUINT64_FORMAT "): its manifest is on %u of %u members",
           name, version, copies, r);
    }
  for (guint i = 0; i < mb_manifest_n_chunks (newest); i++)
    {
      const char *id = mb_manifest_chunk_id (newest, i);
      guint held = 0;
      for (guint s = 0; s < n; s++)
        held += mb_store_has_chunk (stores[s], id);
      c->chunks++;
      if (held >= r)
        continue;
      c->chunks_short++;
      c->chunks_lost += held == 0;
      c->copies_missing += r - held;
      say (why, said, "%s (version %" G_GUINT64_FORMAT "): chunk %u (%.8s...) has %u of %u copies",
           name, version, i, id, held, r);
    }
  mbi_checker_manifests_clear (have, n);
  g_free (have);
}

void
mbi_checker_said_more (GString *why, guint said)
{
  if (why && said > WHY_MAX)
    g_string_append_printf (why, "; and %u more", said - WHY_MAX);
}

gboolean
mb_ring_check_copies (MbStore *const *stores, guint n_stores, const char *const *names,
                      guint n_names, guint r, MbRingCopies *out, GString *why)
{
  MbRingCopies c = { 0 };
  guint said = 0;
  r = MIN (r, n_stores);
  g_autoptr (GPtrArray) every = names ? NULL : mbi_checker_all_names (stores, n_stores);
  guint n = names ? n_names : every->len;
  for (guint k = 0; k < n; k++)
    check_name (stores, n_stores, names ? names[k] : every->pdata[k], r, &c, why, &said);
  mbi_checker_said_more (why, said);
  if (out)
    *out = c;
  return c.chunks_short == 0 && c.manifests_short == 0;
}
