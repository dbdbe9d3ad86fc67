/* test_ring_writes.c — honest writes (issue 12, findings 3, 9 and the two
 * concurrent graceful leaves): store_file answers success only with R
 * acknowledged copies of every chunk and W manifest owners, handing failed
 * copies to the next members of the preference list, and otherwise an error
 * that names what is missing; a graceful leave confirms R copies of what it
 * held before it drops them, and says what it could not confirm.  The
 * durability checker (mb_ring_check_copies) counts the copies over the
 * live peers' stores after each, and fails on a store short of a copy.
 */
#include <string.h>

#include "content/chunk.h"
#include "ring-fixture.h"
#include "ring/ring-copies.h"

#define CHUNK (64 * 1024)

/* The id of chunk i of content (chunk size CHUNK). */
static void
chunk_id (GBytes *content, guint i, char out[65])
{
  gsize n;
  const guint8 *d = g_bytes_get_data (content, &n);
  gsize off = (gsize) i * CHUNK;
  mb_chunk_id_compute (d + off, MIN ((gsize) CHUNK, n - off), out);
}

/* The k-th owner (0-based) of key on fx's ring, as a node. */
static guint
owner (RFx *fx, const char *key, guint k, guint r)
{
  guint idx[16];
  g_assert_cmpuint (mb_ring_preference_list (fx->ring, key, r, idx), >, k);
  return rfx_node (mb_ring_member (fx->ring, idx[k]));
}

static gboolean
is_owner (RFx *fx, const char *key, guint node, guint r)
{
  for (guint k = 0; k < r; k++)
    if (owner (fx, key, k, r) == node)
      return TRUE;
  return FALSE;
}

/* mb_ring_check_copies over the live peers but `gone` (ended by G_MAXUINT). */
static gboolean
copies_ok (RFx *fx, const guint *gone, guint r, GString *why)
{
  g_autoptr (GPtrArray) stores = rfx_live_stores (fx, gone);
  MbRingCopies c;
  gboolean ok = mb_ring_check_copies ((MbStore *const *) stores->pdata, stores->len, NULL, 0, r,
                                      &c, why);
  g_test_message ("copies over %u live stores: %u files, %u chunks, %u short, %u missing, "
                  "%u manifests short%s%s", stores->len, c.files, c.chunks, c.chunks_short,
                  c.copies_missing, c.manifests_short, why && why->len ? ": " : "",
                  why ? why->str : "");
  return ok;
}

/* Every chunk of the newest manifest of `name` lists >= r holders, each of
 * which holds it, and none of them is `not` (G_MAXUINT: any). */
static void
assert_acked_copies (RFx *fx, const char *name, guint r, guint not)
{
  g_autoptr (MbManifest) m = rfx_newest_manifest (fx, name);
  g_assert_nonnull (m);
  for (guint i = 0; i < mb_manifest_n_chunks (m); i++)
    {
      guint n = mb_manifest_n_holders (m, i);
      if (n < r)
        g_error ("%s: chunk %u lists %u holders, wanted %u", name, i, n, r);
      for (guint h = 0; h < n; h++)
        {
          guint node = rfx_node (mb_manifest_holder (m, i, h));
          g_assert_cmpuint (node, !=, not);
          g_assert_true (holds_chunk (fx, node, mb_manifest_chunk_id (m, i)));
        }
    }
}

/* ---- the checker itself ---- */

static void
test_checker_counts_copies (void)
{
  RFx *fx = rfx_new (6, 3);
  g_autoptr (GBytes) content = random_content (3 * CHUNK, 40);
  Done d = { 0 };
  store_file (fx, 0, "count.bin", content, &d);
  g_assert_true (d.r.ok);
  done_clear (&d);
  g_autoptr (GString) why = g_string_new (NULL);
  g_assert_true (copies_ok (fx, NULL, 3, why));
  g_assert_cmpstr (why->str, ==, "");
  /* One copy of chunk 1 gone: the checker names it. */
  char id[65];
  chunk_id (content, 1, id);
  guint holder = owner (fx, id, 0, 3);
  g_assert_true (mb_store_drop_chunk (fx->store[holder], id));
  g_assert_false (copies_ok (fx, NULL, 3, why));
  g_assert_nonnull (strstr (why->str, "count.bin (version 1): chunk 1"));
  g_assert_nonnull (strstr (why->str, "has 2 of 3 copies"));
  /* And a manifest copy gone. */
  g_string_truncate (why, 0);
  guint mo = owner (fx, "count.bin", 1, 3);
  g_assert_true (mb_store_drop_manifest (fx->store[mo], "count.bin"));
  g_assert_false (copies_ok (fx, NULL, 3, why));
  g_assert_nonnull (strstr (why->str, "its manifest is on 2 of 3 members"));
  rfx_free (fx);
}

/* ---- store_file ---- */

/* An owner of chunk 0 stores what it is sent but its answers are lost: the
 * copy goes to the next member, and the store reports R acknowledged copies
 * of every chunk (none of them the silent one). */
static void
test_store_owner_dropping_acks_is_handed_off (void)
{
  RFx *fx = rfx_new (8, 3);
  g_autoptr (GBytes) content = random_content (5 * CHUNK, 41);
  char id0[65];
  chunk_id (content, 0, id0);
  guint silent = owner (fx, id0, 0, 3) == 0 ? owner (fx, id0, 1, 3) : owner (fx, id0, 0, 3);
  fx->drop_ok[silent] = TRUE;
  Done d = { 0 };
  store_file (fx, 0, "acks.bin", content, &d);
  g_test_message ("store with %u's acks lost: ok %d, error %s, %u copies placed, %u handed "
                  "off, %u failed, manifest owners %u", silent, d.r.ok, d.error,
                  d.r.chunks_placed, d.r.handoffs, d.r.chunks_failed, d.r.manifest_owners);
  g_assert_true (d.r.ok);
  g_assert_cmpuint (d.r.handoffs, >=, 1);
  g_assert_cmpuint (d.r.chunks_short, ==, 0);
  /* the storing peer's counter (GET /metrics' minibit_store_handoffs_total) */
  MbRingPeerStats st;
  mb_ringpeer_stats (fx->rp[0], &st);
  g_assert_cmpuint (st.handoffs, ==, d.r.handoffs);
  assert_acked_copies (fx, "acks.bin", 3, silent);
  g_autoptr (GString) why = g_string_new (NULL);
  g_assert_true (copies_ok (fx, NULL, 3, why));
  done_clear (&d);
  rfx_free (fx);
}

/* A slow uplink: the storer's copies wait their turn behind 15 s of others
 * on the link, longer than rpc_timeout (10 s), while every target keeps
 * answering the requests before them.  No copy times out or is handed off
 * (each deadline moves on from the target's last answer); with the
 * deadline fixed at hand-over, dozens did. */
static void
test_store_on_a_slow_uplink_does_not_time_out (void)
{
  RFx *fx = rfx_new (4, 3);
  fx->uplink_Bps = 200 * 1024;  /* 3 windows of 16 x 64 KiB: 15 s of queue */
  g_autoptr (GBytes) content = random_content (64 * CHUNK, 47);
  Done d = { 0 };
  store_file (fx, 0, "slow.bin", content, &d);
  MbRingPeerStats st;
  mb_ringpeer_stats (fx->rp[0], &st);
  g_test_message ("store over a 200 KiB/s uplink: ok %d, %u copies placed, %u handed off, "
                  "%u failed; %" G_GUINT64_FORMAT " timeouts, %" G_GUINT64_FORMAT
                  " deadlines moved on", d.r.ok, d.r.chunks_placed, d.r.handoffs,
                  d.r.chunks_failed, st.rpc_timeouts, st.rpc_extended);
  g_assert_true (d.r.ok);
  g_assert_cmpuint (d.r.chunks_failed, ==, 0);
  g_assert_cmpuint (d.r.handoffs, ==, 0);
  g_assert_cmpuint (st.rpc_timeouts, ==, 0);
  g_assert_cmpuint (st.rpc_extended, >, 0);
  g_autoptr (GString) why = g_string_new (NULL);
  g_assert_true (copies_ok (fx, NULL, 3, why));
  done_clear (&d);
  rfx_free (fx);
}

/* Three members, R = 3, one silent: no member is left to hand a copy to,
 * so the store fails, saying which chunks lack how many copies, and no
 * manifest claims the file. */
static void
test_store_short_of_copies_is_an_error_naming_them (void)
{
  RFx *fx = rfx_new (3, 3);
  fx->down[2] = TRUE;
  g_autoptr (GBytes) content = random_content (2 * CHUNK + 5, 42);
  Done d = { 0 };
  store_file (fx, 0, "short.bin", content, &d);
  g_test_message ("store with 1 of 3 members silent: ok %d, error: %s", d.r.ok, d.error);
  g_assert_false (d.r.ok);
  g_assert_nonnull (d.error);
  g_assert_nonnull (strstr (d.error, "chunk 0 has 2 of 3 copies"));
  g_assert_nonnull (strstr (d.error, "chunk 2 has 2 of 3 copies"));
  g_assert_cmpuint (d.r.chunks_short, ==, 3);
  g_assert_cmpuint (d.r.copies_missing, ==, 3);
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr (MbManifest) m = mb_store_get_manifest (fx->store[i], "short.bin");
      g_assert_null (m);
    }
  done_clear (&d);
  rfx_free (fx);
}

/* The manifest needs W = 2 of its 3 owners: one silent owner is fine (its
 * copy goes to the next member), two are not, and the error says so. */
static void
test_store_manifest_write_quorum (void)
{
  for (guint silent = 1; silent <= 2; silent++)
    {
      RFx *fx = rfx_new (8, 3);
      const char *name = "quorum.bin";
      guint storer = 0;
      while (is_owner (fx, name, storer, 3))
        storer++;
      for (guint k = 0; k < silent; k++)
        fx->down[owner (fx, name, k, 3)] = TRUE;
      g_autoptr (GBytes) content = random_content (2 * CHUNK, 43);
      Done d = { 0 };
      store_file (fx, storer, name, content, &d);
      g_test_message ("%u manifest owners silent: ok %d, owners %u, copies %u, W %u, error %s",
                      silent, d.r.ok, d.r.manifest_owners, d.r.manifest_copies,
                      d.r.write_quorum, d.error);
      g_assert_cmpuint (d.r.write_quorum, ==, 2);
      g_assert_cmpuint (d.r.manifest_owners, ==, 3 - silent);
      if (silent == 1)
        {
          g_assert_true (d.r.ok);
          g_assert_cmpuint (d.r.manifest_copies, ==, 3);   /* one on the next member */
        }
      else
        {
          g_assert_false (d.r.ok);
          g_assert_nonnull (strstr (d.error, "manifest owners acknowledged 1 of 3 "
                                             "(write quorum 2)"));
        }
      done_clear (&d);
      rfx_free (fx);
    }
}

/* A partition: peer 0 of five (R = 3) takes the four others for crashed
 * (its failure detector removes them with repair), as they take it.  Cut
 * off, it is not a ring of one: a store there reaches one copy, so it is an
 * error (R' stays 3), and no manifest claims the file.  The four others
 * store with R copies.  When the members come back (a join), or when they
 * had left gracefully instead, the ring is what the view says again. */
static void
test_store_cut_off_is_not_a_ring_of_one (void)
{
  RFx *fx = rfx_new (5, 3);
  g_autoptr (MbRing) alone = mb_ring_new ((const char *const *) &fx->addr[0], 1, 64);
  g_autoptr (MbRing) four = mb_ring_new ((const char *const *) &fx->addr[1], 4, 64);
  mb_ringpeer_set_view (fx->rp[0], alone, TRUE, fx->now);
  for (guint i = 1; i < 5; i++)
    mb_ringpeer_set_view (fx->rp[i], four, TRUE, fx->now);
  rfx_check (fx);
  g_autoptr (GBytes) content = random_content (2 * CHUNK + 9, 45);
  Done d = { 0 };
  store_file (fx, 0, "cut.bin", content, &d);
  g_test_message ("store at the cut-off peer: ok %d, replication %u, W %u, placed %u, "
                  "error: %s", d.r.ok, d.r.replication, d.r.write_quorum, d.r.chunks_placed,
                  d.error);
  g_assert_false (d.r.ok);
  g_assert_cmpuint (d.r.replication, ==, 3);
  g_assert_nonnull (d.error);
  g_autoptr (MbManifest) none = mb_store_get_manifest (fx->store[0], "cut.bin");
  g_assert_null (none);
  done_clear (&d);
  store_file (fx, 1, "majority.bin", content, &d);
  g_assert_true (d.r.ok);
  g_assert_cmpuint (d.r.replication, ==, 3);
  done_clear (&d);
  /* healed: a join brings the four back (and the count with them) */
  g_autoptr (MbRing) all = mb_ring_new ((const char *const *) fx->addr, 5, 64);
  mb_ringpeer_set_view (fx->rp[0], all, FALSE, fx->now);
  for (guint i = 1; i < 5; i++)
    mb_ringpeer_set_view (fx->rp[i], all, FALSE, fx->now);
  rfx_run (fx, fx->now + 30 * SEC);
  store_file (fx, 0, "healed.bin", content, &d);
  g_assert_true (d.r.ok);
  g_assert_cmpuint (d.r.chunks_placed, ==, 3 * 3);
  done_clear (&d);
  /* a ring that is small by graceful leaves shrinks R' as before */
  mb_ringpeer_set_view (fx->rp[0], alone, FALSE, fx->now);
  for (guint i = 1; i < 5; i++)
    fx->down[i] = TRUE;
  store_file (fx, 0, "small.bin", content, &d);
  g_test_message ("store on a ring left by the others: ok %d, replication %u", d.r.ok,
                  d.r.replication);
  g_assert_true (d.r.ok);
  g_assert_cmpuint (d.r.replication, ==, 1);
  done_clear (&d);
  rfx_free (fx);
}

/* Finding 9: the disk of an owner is full; its copies go to the next
 * members and the store reports R copies of every chunk, verified. */
static void
test_store_full_disk_owner_is_handed_off (void)
{
  RFx *fx = rfx_new (6, 3);
  g_autoptr (GBytes) content = random_content (6 * CHUNK, 44);
  char id0[65];
  chunk_id (content, 0, id0);
  guint full = owner (fx, id0, 0, 3) == 0 ? owner (fx, id0, 1, 3) : owner (fx, id0, 0, 3);
  fx->full[full] = TRUE;
  Done d = { 0 };
  store_file (fx, 0, "full.bin", content, &d);
  g_test_message ("store with %u's disk full: ok %d, %u placed, %u handed off, %u failed: %s",
                  full, d.r.ok, d.r.chunks_placed, d.r.handoffs, d.r.chunks_failed, d.error);
  g_assert_true (d.r.ok);
  g_assert_cmpuint (d.r.handoffs, >=, 1);
  g_assert_cmpuint (fx->store[full]->n_chunks, ==, 0);
  assert_acked_copies (fx, "full.bin", 3, full);
  g_autoptr (GString) why = g_string_new (NULL);
  g_assert_true (copies_ok (fx, NULL, 3, why));
  done_clear (&d);
  rfx_free (fx);
}

/* ---- graceful leaves ---- */

static void
store_files (RFx *fx, guint n, guint seed, GPtrArray *names, GPtrArray *contents)
{
  for (guint f = 0; f < n; f++)
    {
      g_autofree gchar *name = g_strdup_printf ("file-%02u.bin", f);
      GBytes *content = random_content (150 * 1024, seed + f);
      Done d = { 0 };
      store_file (fx, f % fx->n, name, content, &d);
      g_assert_true (d.r.ok);
      done_clear (&d);
      g_ptr_array_add (names, g_strdup (name));
      g_ptr_array_add (contents, content);
    }
}

/* The two members that own the most chunks together. */
static void
pick_co_owners (RFx *fx, guint r, guint *a, guint *b)
{
  guint best = 0;
  *a = 0;
  *b = 1;
  for (guint i = 0; i < fx->n; i++)
    for (guint j = i + 1; j < fx->n; j++)
      {
        g_autoptr (GPtrArray) ids = mb_store_list_chunks (fx->store[i]);
        guint both = 0;
        for (guint k = 0; k < ids->len; k++)
          both += is_owner (fx, ids->pdata[k], j, r) && is_owner (fx, ids->pdata[k], i, r);
        if (both > best)
          {
            best = both;
            *a = i;
            *b = j;
          }
      }
  g_test_message ("leavers %u and %u own %u chunks together", *a, *b, best);
  g_assert_cmpuint (best, >, 0);
}

/* Two graceful leaves started at the same instant: neither hands a key to
 * the other nor counts the other as a staying copy, so every chunk and
 * manifest is on R of the members that stay, and every file fetches. */
static void
test_two_concurrent_leaves_keep_r_copies (void)
{
  RFx *fx = rfx_new (10, 3);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) contents = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  store_files (fx, 20, 300, names, contents);
  guint a, b;
  pick_co_owners (fx, 3, &a, &b);
  ShutDone sa = { 0 }, sb = { 0 };
  mb_ringpeer_shutdown (fx->rp[a], fx->now, on_shutdown, &sa);
  mb_ringpeer_shutdown (fx->rp[b], fx->now, on_shutdown, &sb);
  rfx_run (fx, fx->now + 120 * SEC);
  g_assert_true (sa.called && sb.called);
  for (guint k = 0; k < 2; k++)
    {
      const MbShutdownReport *r = k ? &sb.r : &sa.r;
      g_test_message ("leaver %u: %u chunks moved, %u confirmed, %u failed; %u manifests "
                      "moved, %u confirmed, %u failed", k ? b : a, r->chunks_redistributed,
                      r->chunks_confirmed, r->chunks_failed, r->manifests_redistributed,
                      r->manifests_confirmed, r->manifests_failed);
      g_assert_cmpuint (r->chunks_failed, ==, 0);
      g_assert_cmpuint (r->manifests_failed, ==, 0);
    }
  /* They are gone; the others learn it. */
  fx->down[a] = fx->down[b] = TRUE;
  g_autoptr (MbRing) v1 = mb_ring_without_member (fx->ring, fx->addr[a]);
  g_autoptr (MbRing) v2 = mb_ring_without_member (v1, fx->addr[b]);
  rfx_set_views (fx, v2);
  rfx_run (fx, fx->now + 60 * SEC);
  guint gone[] = { a, b, G_MAXUINT };
  g_autoptr (GString) why = g_string_new (NULL);
  if (!copies_ok (fx, gone, 3, why))
    g_error ("after two concurrent leaves: %s", why->str);
  for (guint f = 0; f < names->len; f++)
    {
      guint at = (f * 3 + 2) % fx->n;
      while (at == a || at == b)
        at = (at + 1) % fx->n;
      Done d = { 0 };
      fetch_file (fx, at, names->pdata[f], &d);
      g_assert_true (d.r.ok);
      g_assert_true (g_bytes_equal (d.content, contents->pdata[f]));
      done_clear (&d);
    }
  rfx_free (fx);
}

/* A staying owner lost its copy of a chunk the leaver holds: the leaver
 * finds out (it asks every owner that stays) and puts the copy back. */
static void
test_leave_confirms_copies_at_staying_owners (void)
{
  RFx *fx = rfx_new (8, 3);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) contents = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  store_files (fx, 6, 400, names, contents);
  guint leaver = 3, staying = G_MAXUINT;
  g_autoptr (GPtrArray) ids = mb_store_list_chunks (fx->store[leaver]);
  const char *lost = NULL;
  for (guint k = 0; k < ids->len && !lost; k++)
    for (guint j = 0; j < 3 && !lost; j++)
      if (owner (fx, ids->pdata[k], j, 3) != leaver)
        {
          lost = ids->pdata[k];
          staying = owner (fx, lost, j, 3);
        }
  g_assert_nonnull (lost);
  g_assert_true (mb_store_drop_chunk (fx->store[staying], lost));
  ShutDone s = { 0 };
  mb_ringpeer_shutdown (fx->rp[leaver], fx->now, on_shutdown, &s);
  rfx_run (fx, fx->now + 60 * SEC);
  g_assert_true (s.called);
  g_assert_cmpuint (s.r.chunks_failed, ==, 0);
  g_assert_cmpuint (s.r.chunks_confirmed, ==, ids->len);
  fx->down[leaver] = TRUE;
  guint gone[] = { leaver, G_MAXUINT };
  g_autoptr (GString) why = g_string_new (NULL);
  if (!copies_ok (fx, gone, 3, why))
    g_error ("after the leave: %s", why->str);
  g_assert_true (holds_chunk (fx, staying, lost));
  rfx_free (fx);
}

/* Four members, R = 3, one silently dead: after the leave only three stay,
 * one of which cannot take a copy, so nothing can be confirmed at R.  The
 * report says so (every chunk failed) and the leaver keeps its copies. */
static void
test_leave_reports_what_it_cannot_confirm (void)
{
  RFx *fx = rfx_new (4, 3);
  g_autoptr (GBytes) content = random_content (4 * CHUNK, 45);
  Done d = { 0 };
  store_file (fx, 0, "kept.bin", content, &d);
  g_assert_true (d.r.ok);
  done_clear (&d);
  guint leaver = 0;
  fx->down[3] = TRUE;
  guint held = fx->store[leaver]->n_chunks;
  g_assert_cmpuint (held, >, 0);
  ShutDone s = { 0 };
  mb_ringpeer_shutdown (fx->rp[leaver], fx->now, on_shutdown, &s);
  rfx_run (fx, fx->now + 300 * SEC);
  g_assert_true (s.called);
  g_test_message ("leave with a dead member: %u chunks confirmed, %u failed; %u manifests "
                  "confirmed, %u failed", s.r.chunks_confirmed, s.r.chunks_failed,
                  s.r.manifests_confirmed, s.r.manifests_failed);
  g_assert_cmpuint (s.r.chunks_failed, ==, held);
  g_assert_cmpuint (s.r.chunks_confirmed, ==, 0);
  g_assert_cmpuint (fx->store[leaver]->n_chunks, ==, held);
  rfx_free (fx);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ring-writes/checker-counts-copies", test_checker_counts_copies);
  g_test_add_func ("/ring-writes/store-owner-dropping-acks-is-handed-off",
                   test_store_owner_dropping_acks_is_handed_off);
  g_test_add_func ("/ring-writes/store-short-of-copies-is-an-error-naming-them",
                   test_store_short_of_copies_is_an_error_naming_them);
  g_test_add_func ("/ring-writes/store-manifest-write-quorum", test_store_manifest_write_quorum);
  g_test_add_func ("/ring-writes/store-on-a-slow-uplink-does-not-time-out",
                   test_store_on_a_slow_uplink_does_not_time_out);
  g_test_add_func ("/ring-writes/store-cut-off-is-not-a-ring-of-one",
                   test_store_cut_off_is_not_a_ring_of_one);
  g_test_add_func ("/ring-writes/store-full-disk-owner-is-handed-off",
                   test_store_full_disk_owner_is_handed_off);
  g_test_add_func ("/ring-writes/two-concurrent-leaves-keep-r-copies",
                   test_two_concurrent_leaves_keep_r_copies);
  g_test_add_func ("/ring-writes/leave-confirms-copies-at-staying-owners",
                   test_leave_confirms_copies_at_staying_owners);
  g_test_add_func ("/ring-writes/leave-reports-what-it-cannot-confirm",
                   test_leave_reports_what_it_cannot_confirm);
  return g_test_run ();
}
