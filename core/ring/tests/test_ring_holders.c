/* test_ring_holders.c — the holder lists of the manifests name the members
 * that store each chunk (ring-holders.h), and repair, which works from
 * those lists, keeps R copies when graceful leaves come before crashes
 * (the chunks-short finding of scenarios/emulated/ring.ini): the checker
 * itself (a false holder, a holder missing), then four graceful leaves one
 * after another and two crashes at once, the lists and the copies checked
 * after each step.
 */
#include <string.h>

#include "ring-fixture.h"
#include "ring/ring-copies.h"
#include "ring/ring-holders.h"

#define CHUNK (64 * 1024)

/* The live members (not down), their stores and the view of them. */
typedef struct {
  GPtrArray *stores;
  GPtrArray *members;
  MbRing *view;
} Live;

static void
live_init (RFx *fx, Live *l)
{
  l->stores = g_ptr_array_new ();
  l->members = g_ptr_array_new ();
  for (guint i = 0; i < fx->n; i++)
    if (!fx->down[i])
      {
        g_ptr_array_add (l->stores, fx->store[i]);
        g_ptr_array_add (l->members, fx->addr[i]);
      }
  l->view = mb_ring_new ((const char *const *) l->members->pdata, l->members->len,
                         mb_ring_vnodes (fx->ring));
}

static void
live_clear (Live *l)
{
  g_ptr_array_unref (l->stores);
  g_ptr_array_unref (l->members);
  mb_ring_unref (l->view);
}

/* mb_ring_check_holders over the live members (the copies their view's
 * owners hold); the reason in why. */
static gboolean
holders_ok (RFx *fx, guint r, GString *why)
{
  Live l;
  live_init (fx, &l);
  MbRingHolders c;
  gboolean ok = mb_ring_check_holders ((MbStore *const *) l.stores->pdata,
                                       (const char *const *) l.members->pdata, l.stores->len,
                                       l.view, NULL, 0, r, &c, why);
  g_test_message ("holder lists over %u live members: %u copies, %u lists, %u false holders, "
                  "%u short%s%s", l.stores->len, c.copies, c.chunk_lists, c.false_holders,
                  c.lists_short, why->len ? ": " : "", why->str);
  live_clear (&l);
  return ok;
}

static gboolean
copies_ok (RFx *fx, guint r, GString *why)
{
  g_autoptr (GPtrArray) stores = rfx_live_stores (fx, NULL);
  MbRingCopies c;
  gboolean ok = mb_ring_check_copies ((MbStore *const *) stores->pdata, stores->len, NULL, 0, r,
                                      &c, why);
  g_test_message ("copies over %u live stores: %u chunks, %u short, %u lost%s%s", stores->len,
                  c.chunks, c.chunks_short, c.chunks_lost, why->len ? ": " : "", why->str);
  return ok;
}

static void
store_files (RFx *fx, guint n, guint seed)
{
  for (guint f = 0; f < n; f++)
    {
      g_autofree gchar *name = g_strdup_printf ("docs-%02u.bin", f);
      g_autoptr (GBytes) content = random_content (4 * CHUNK, seed + f);
      Done d = { 0 };
      store_file (fx, f % fx->n, name, content, &d);
      g_assert_true (d.r.ok);
      done_clear (&d);
    }
}

/* The manifest copy of `name` at node `at`, put back with `edit` applied
 * to chunk 0's holders: removes `holder` (add FALSE) or adds it. */
static void
edit_holders (RFx *fx, guint at, const char *name, const char *holder, gboolean add)
{
  g_autoptr (MbManifest) m = mb_store_get_manifest (fx->store[at], name);
  g_assert_nonnull (m);
  g_autoptr (MbManifest) e = mb_manifest_copy (m);
  if (add)
    g_assert_true (mb_manifest_add_holder (e, 0, holder));
  else
    g_assert_true (mb_manifest_remove_holder (e, 0, holder));
  g_assert_true (mb_store_put_manifest (fx->store[at], e, NULL));
}

/* A node that holds a copy of name's manifest. */
static guint
manifest_holder (RFx *fx, const char *name)
{
  for (guint i = 0; i < fx->n; i++)
    {
      g_autoptr (MbManifest) m = mb_store_get_manifest (fx->store[i], name);
      if (m)
        return i;
    }
  g_assert_not_reached ();
}

static void
test_checker_names_wrong_lists (void)
{
  RFx *fx = rfx_new (6, 3);
  store_files (fx, 1, 60);
  g_autoptr (GString) why = g_string_new (NULL);
  g_assert_true (holders_ok (fx, 3, why));
  g_assert_cmpstr (why->str, ==, "");
  /* A copy of the manifest loses a holder that stores chunk 0: short. */
  guint at = manifest_holder (fx, "docs-00.bin");
  g_autoptr (MbManifest) m = mb_store_get_manifest (fx->store[at], "docs-00.bin");
  g_autofree gchar *listed = g_strdup (mb_manifest_holder (m, 0, 0));
  edit_holders (fx, at, "docs-00.bin", listed, FALSE);
  g_assert_false (holders_ok (fx, 3, why));
  g_assert_nonnull (strstr (why->str, "docs-00.bin (version 1) at "));
  g_assert_nonnull (strstr (why->str, "chunk 0 ("));
  g_assert_nonnull (strstr (why->str, "lists 2 of the 3 members that store it (R 3)"));
  /* Put back, and a member that lacks the chunk added: a false holder. */
  edit_holders (fx, at, "docs-00.bin", listed, TRUE);
  const char *id = mb_manifest_chunk_id (m, 0);
  guint lacks = 0;
  while (holds_chunk (fx, lacks, id))
    lacks++;
  edit_holders (fx, at, "docs-00.bin", fx->addr[lacks], TRUE);
  g_string_truncate (why, 0);
  g_assert_false (holders_ok (fx, 3, why));
  g_autofree gchar *want = g_strdup_printf ("lists %s, which does not store it", fx->addr[lacks]);
  g_assert_nonnull (strstr (why->str, want));
  /* A holder that is no member (gone) is not judged. */
  edit_holders (fx, at, "docs-00.bin", fx->addr[lacks], FALSE);
  edit_holders (fx, at, "docs-00.bin", "10.9.9.9:7000", TRUE);
  g_string_truncate (why, 0);
  g_assert_true (holders_ok (fx, 3, why));
  rfx_free (fx);
}

/* Member `node` leaves gracefully: its hand-off, then the others learn it. */
static void
leave (RFx *fx, guint node)
{
  ShutDone s = { 0 };
  mb_ringpeer_shutdown (fx->rp[node], fx->now, on_shutdown, &s);
  rfx_run (fx, fx->now + 60 * SEC);
  g_assert_true (s.called);
  g_assert_cmpuint (s.r.chunks_failed, ==, 0);
  fx->down[node] = TRUE;
  MbRing *v = mb_ring_without_member (fx->ring, fx->addr[node]);
  rfx_set_views (fx, v);
  mb_ring_unref (fx->ring);
  fx->ring = v;
  rfx_run (fx, fx->now + 30 * SEC);
}

/* Ten members, R = 3, 20 files of 4 chunks; members 1, 9, 7 and 2 leave
 * one after another, then 3 and 8 crash at once (noticed together).  After
 * each leave every list names the chunk's holders; after the crashes'
 * repair every chunk has R copies again (before the fix, the lists still
 * named the leavers, some chunk listed no live holder, and repair took it
 * for lost). */
static void
test_leaves_then_crashes_keep_r_copies (void)
{
  RFx *fx = rfx_new (10, 3);
  store_files (fx, 20, 70);
  g_autoptr (GString) why = g_string_new (NULL);
  g_assert_true (holders_ok (fx, 3, why));
  const guint leavers[] = { 1, 9, 7, 2 };
  for (guint k = 0; k < G_N_ELEMENTS (leavers); k++)
    {
      leave (fx, leavers[k]);
      if (!holders_ok (fx, 3, why))
        g_error ("after the leave of %s: %s", fx->addr[leavers[k]], why->str);
      if (!copies_ok (fx, 3, why))
        g_error ("after the leave of %s: %s", fx->addr[leavers[k]], why->str);
    }
  const guint crashed[] = { 3, 8 };
  MbRing *v = mb_ring_ref (fx->ring);
  for (guint k = 0; k < G_N_ELEMENTS (crashed); k++)
    {
      fx->down[crashed[k]] = TRUE;
      MbRing *w = mb_ring_without_member (v, fx->addr[crashed[k]]);
      mb_ring_unref (v);
      v = w;
    }
  for (guint i = 0; i < fx->n; i++)
    if (!fx->down[i])
      mb_ringpeer_set_view (fx->rp[i], v, TRUE, fx->now);
  mb_ring_unref (fx->ring);
  fx->ring = v;
  rfx_run (fx, fx->now + 60 * SEC);
  if (!copies_ok (fx, 3, why))
    g_error ("after the crashes' repair: %s", why->str);
  if (!holders_ok (fx, 3, why))
    g_error ("after the crashes' repair: %s", why->str);
  rfx_free (fx);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ring-holders/checker-names-wrong-lists", test_checker_names_wrong_lists);
  g_test_add_func ("/ring-holders/leaves-then-crashes-keep-r-copies",
                   test_leaves_then_crashes_keep_r_copies);
  return g_test_run ();
}
