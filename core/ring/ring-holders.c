/* ring-holders.c — mb_ring_check_holders: the holder lists of every live
 * copy of each file's newest manifest against what the live members store
 * (see ring-holders.h).  It reads, never changes; O(copies x chunks x
 * (holders + members)).
 */
#include "ring/ring-holders.h"
#include "ring/ring-checkers-private.h"

/* Index of member in members[], or -1. */
static gint
member_index (const char *const *members, guint n, const char *member)
{
  for (guint k = 0; k < n; k++)
    if (g_strcmp0 (members[k], member) == 0)
      return (gint) k;
  return -1;
}

/* Chunk i of the copy m held at members[at]. */
static void
check_list (MbStore *const *stores, const char *const *members, guint n, const MbManifest *m,
            guint at, guint i, guint r, MbRingHolders *c, GString *why, guint *said)
{
  const char *id = mb_manifest_chunk_id (m, i);
  guint held = 0, listed = 0;
  for (guint s = 0; s < n; s++)
    held += mb_store_has_chunk (stores[s], id);
  for (guint h = 0; h < mb_manifest_n_holders (m, i); h++)
    {
      const char *holder = mb_manifest_holder (m, i, h);
      gint k = member_index (members, n, holder);
      if (k < 0)
        continue;   /* not a live member: not judged */
      if (mb_store_has_chunk (stores[k], id))
        {
          listed++;
          continue;
        }
      c->false_holders++;
      mbi_checker_say (why, said, "%s (version %" G_GUINT64_FORMAT ") at %s: chunk %u (%.8s...) "
                       "lists %s, which does not store it", mb_manifest_name (m),
                       mb_manifest_version (m), members[at], i, id, holder);
    }
  c->chunk_lists++;
  if (listed >= MIN (r, held))
    return;
  c->lists_short++;
  mbi_checker_say (why, said, "%s (version %" G_GUINT64_FORMAT ") at %s: chunk %u (%.8s...) lists "
                   "%u of the %u members that store it (R %u)", mb_manifest_name (m),
                   mb_manifest_version (m), members[at], i, id, listed, held, r);
}

/* Whether member owns name in ring (NULL: every member does). */
static gboolean
owns (const MbRing *ring, const char *name, guint r, const char *member)
{
  if (!ring)
    return TRUE;
  g_autofree guint *idx = g_new (guint, MAX (r, 1));
  guint k = mb_ring_preference_list (ring, name, r, idx);
  gboolean found = FALSE;
  for (guint j = 0; j < k && !found; j++)
    found = g_strcmp0 (mb_ring_member (ring, idx[j]), member) == 0;
  return found;
}

gboolean
mb_ring_check_holders (MbStore *const *stores, const char *const *members, guint n,
                       const MbRing *ring, const char *const *names, guint n_names, guint r, MbRingHolders *out,
                       GString *why)
{
  MbRingHolders c = { 0 };
  guint said = 0;
  g_autoptr (GPtrArray) every = names ? NULL : mbi_checker_all_names (stores, n);
  guint n_files = names ? n_names : every->len;
  MbManifest **have = g_new0 (MbManifest *, MAX (n, 1));
  for (guint f = 0; f < n_files; f++)
    {
      const char *name = names ? names[f] : every->pdata[f];
      MbManifest *newest = mbi_checker_manifests (stores, n, name, have);
      for (guint s = 0; newest && s < n; s++)
        {
          if (!have[s] || mb_manifest_cmp_newer (have[s], newest) != 0
              || !owns (ring, name, r, members[s]))
            continue;
          c.copies++;
          for (guint i = 0; i < mb_manifest_n_chunks (have[s]); i++)
            check_list (stores, members, n, have[s], s, i, r, &c, why, &said);
        }
      mbi_checker_manifests_clear (have, n);
    }
  g_free (have);
  mbi_checker_said_more (why, said);
  if (out)
    *out = c;
  return c.false_holders == 0 && c.lists_short == 0;
}
