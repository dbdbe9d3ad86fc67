/* test_ringpeer.c — the ring over an in-test delivery queue: placement,
 * store and multi-source fetch with real content, redirects from stale
 * views, the graceful-shutdown plan (exactly the leaving peer's keys, to
 * their new owners), concurrent manifest updates, crash repair, refused
 * bad input that changes nothing, replication beyond 64 copies, and
 * mb_ringpeer_check: it holds after every event of every test here, and it
 * fails on state broken on purpose. */
#include <string.h>

#include "content/chunk.h"
#include "ring-fixture.h"

static void
test_ring_store_places_chunks_and_manifest_on_their_owners (void)
{
  RFx *fx = rfx_new (8, 3);
  g_autoptr (GBytes) content = random_content (300 * 1024, 1);
  Done d = { 0 };
  store_file (fx, 0, "report.pdf", content, &d);
  g_assert_true (d.r.ok);
  g_assert_cmpuint (d.r.chunks_placed, ==, 5 * 3);
  g_assert_cmpuint (d.r.manifest_owners, ==, 3);
  /* Every chunk is on exactly its R owners; the manifest on the name's. */
  guint owners_idx[3];
  mb_ring_preference_list (fx->ring, "report.pdf", 3, owners_idx);
  MbManifest *any = NULL;
  for (guint i = 0; i < fx->n; i++)
    {
      MbManifest *mi = mb_store_get_manifest (fx->store[i], "report.pdf");
      const char *me = fx->addr[i];
      gboolean owner = FALSE;
      for (guint k = 0; k < 3; k++)
        owner |= g_strcmp0 (mb_ring_member (fx->ring, owners_idx[k]), me) == 0;
      g_assert_true ((mi != NULL) == owner);
      if (mi && !any)
        any = mb_manifest_ref (mi);
      if (mi)
        mb_manifest_unref (mi);
    }
  g_assert_nonnull (any);
  for (guint c = 0; c < mb_manifest_n_chunks (any); c++)
    {
      const char *id = mb_manifest_chunk_id (any, c);
      guint idx[3];
      mb_ring_preference_list (fx->ring, id, 3, idx);
      guint held = 0;
      for (guint i = 0; i < fx->n; i++)
        held += holds_chunk (fx, i, id);
      g_assert_cmpuint (held, ==, 3);
      g_assert_cmpuint (mb_manifest_n_holders (any, c), ==, 3);
      for (guint k = 0; k < 3; k++)
        g_assert_true (holds_chunk (fx, (guint) rfx_resolve (NULL, 0, mb_ring_member (fx->ring, idx[k])), id));
    }
  mb_manifest_unref (any);
  done_clear (&d);
  rfx_free (fx);
}

static void
test_ring_fetch_uses_several_sources_and_verifies (void)
{
  RFx *fx = rfx_new (8, 3);
  g_autoptr (GBytes) content = random_content (1024 * 1024 + 17, 2);
  Done d = { 0 };
  store_file (fx, 0, "movie.mkv", content, &d);
  g_assert_true (d.r.ok);
  done_clear (&d);
  fetch_file (fx, 5, "movie.mkv", &d);
  g_assert_true (d.r.ok);
  g_assert_nonnull (d.content);
  g_assert_true (g_bytes_equal (d.content, content));
  g_assert_cmpuint (d.r.sources, >=, 2);
  g_test_message ("fetch of 17 chunks used %u sources", d.r.sources);
  /* The owners now list the fetcher as a holder of every chunk. */
  guint idx[3];
  mb_ring_preference_list (fx->ring, "movie.mkv", 3, idx);
  MbNodeId owner = rfx_resolve (NULL, 0, mb_ring_member (fx->ring, idx[0]));
  g_autoptr (MbManifest) m = mb_store_get_manifest (fx->store[owner], "movie.mkv");
  for (guint c = 0; c < mb_manifest_n_chunks (m); c++)
    g_assert_true (mb_manifest_has_holder (m, c, fx->addr[5]));
  done_clear (&d);
  rfx_free (fx);
}

/* mb_ringpeer_progress: a store and a fetch in progress are listed with
 * their chunks done and total; once they reported, nothing is. */
static void
test_ring_progress_lists_running_stores_and_fetches (void)
{
  RFx *fx = rfx_new (8, 3);
  g_autoptr (GBytes) content = random_content (1024 * 1024 + 17, 5);
  Done d = { 0 };
  mb_ringpeer_store_file (fx->rp[0], "p.bin", content, 0, fx->now, on_done, &d);
  g_autoptr (GArray) p = mb_ringpeer_progress (fx->rp[0]);
  g_assert_cmpuint (p->len, ==, 1);
  MbRingOpProgress *e = &g_array_index (p, MbRingOpProgress, 0);
  g_assert_cmpstr (e->kind, ==, "store");
  g_assert_cmpstr (e->name, ==, "p.bin");
  guint n = e->chunks_total; /* the fixture's chunk size: 17 */
  g_assert_cmpuint (n, >, 1);
  g_assert_cmpuint (e->chunks_done, <, n);
  g_assert_cmpuint (e->bytes_total, ==, 3 * g_bytes_get_size (content));
  rfx_run (fx, fx->now + 60 * SEC);
  g_assert_true (d.called && d.r.ok);
  done_clear (&d);
  g_autoptr (GArray) after = mb_ringpeer_progress (fx->rp[0]);
  g_assert_cmpuint (after->len, ==, 0);

  mb_ringpeer_fetch_file (fx->rp[5], "p.bin", fx->now, on_done, &d);
  g_autoptr (GArray) f = mb_ringpeer_progress (fx->rp[5]);
  g_assert_cmpuint (f->len, ==, 1);
  e = &g_array_index (f, MbRingOpProgress, 0);
  g_assert_cmpstr (e->kind, ==, "fetch");
  g_assert_cmpuint (e->chunks_done, <=, e->chunks_total);
  /* run until the manifest is read and some chunks came, not to the end */
  gboolean seen = FALSE;
  for (guint step = 0; step < 100000 && !d.called; step++)
    {
      guint64 until = fx->now + 1000;
      rfx_run (fx, until);
      fx->now = MAX (fx->now, until);
      g_autoptr (GArray) q = mb_ringpeer_progress (fx->rp[5]);
      if (q->len == 1 && g_array_index (q, MbRingOpProgress, 0).chunks_total > 0)
        {
          e = &g_array_index (q, MbRingOpProgress, 0);
          g_assert_cmpuint (e->chunks_total, ==, n);
          g_assert_cmpuint (e->chunks_done, <=, n);
          g_assert_cmpuint (e->bytes, <=, e->bytes_total);
          g_assert_cmpuint (e->bytes_total, ==, g_bytes_get_size (content));
          seen = TRUE;
        }
    }
  g_assert_true (seen);
  rfx_run (fx, fx->now + 120 * SEC);
  g_assert_true (d.called && d.r.ok);
  g_autoptr (GArray) none = mb_ringpeer_progress (fx->rp[5]);
  g_assert_cmpuint (none->len, ==, 0);
  done_clear (&d);
  rfx_free (fx);
}

static void
test_ring_fetch_fails_over_when_holders_are_down (void)
{
  RFx *fx = rfx_new (8, 3);
  g_autoptr (GBytes) content = random_content (400 * 1024, 3);
  Done d = { 0 };
  store_file (fx, 0, "a.bin", content, &d);
  done_clear (&d);
  /* Two peers die silently (no view change): requests to them time out. */
  fx->down[1] = fx->down[2] = TRUE;
  guint fetcher = 7;
  fetch_file (fx, fetcher, "a.bin", &d);
  g_assert_true (d.r.ok);
  g_assert_true (g_bytes_equal (d.content, content));
  done_clear (&d);
  rfx_free (fx);
}

/* A holder outside the view (a ring client that told the owners it holds
 * the file, then stopped: it never answers) is asked only once no member
 * holding the chunk is left untried: while members can give every chunk no
 * GET_CHUNK goes to it, so no request waits out an RPC timeout there. */
static void
test_ring_fetch_asks_members_before_other_holders (void)
{
  RFx *fx = rfx_new (6, 3);
  g_autoptr (GBytes) content = random_content (2 * 1024 * 1024, 4);
  Done d = { 0 };
  store_file (fx, 0, "a.bin", content, &d);
  done_clear (&d);
  const char *client = "10.0.1.50:7000";   /* node 50: its mail goes to the inbox */
  for (guint i = 0; i < fx->n; i++)
    {
      MbMessage *u = mb_message_new (MB_MSG_UPDATE_MANIFEST);
      u->file = g_strdup ("a.bin");
      u->addr = g_strdup (client);
      u->req = 0x41000000u + i;
      rfx_send (fx, RFX_TEST_NODE, i, u);
    }
  rfx_run (fx, fx->now + SEC);
  g_autoptr (MbManifest) m = rfx_newest_manifest (fx, "a.bin");
  for (guint i = 0; i < mb_manifest_n_chunks (m); i++)
    g_assert_true (mb_manifest_has_holder (m, i, client));
  g_ptr_array_set_size (fx->inbox, 0);
  fetch_file (fx, 5, "a.bin", &d);
  g_assert_true (d.r.ok);
  g_assert_true (g_bytes_equal (d.content, content));
  guint to_client = 0;
  for (guint k = 0; k < fx->inbox->len; k++)
    to_client += ((const MbMessage *) fx->inbox->pdata[k])->type == MB_MSG_GET_CHUNK;
  MbRingPeerStats st;
  mb_ringpeer_stats (fx->rp[5], &st);
  g_test_message ("GET_CHUNK to the holder outside the view: %u; timeouts %" G_GUINT64_FORMAT,
                  to_client, st.rpc_timeouts);
  g_assert_cmpuint (to_client, ==, 0);
  g_assert_cmpuint (st.rpc_timeouts, ==, 0);
  done_clear (&d);
  rfx_free (fx);
}

/* The connection to the manifest's only owner drops (in one system a
 * swarm that ends closes it) while the fetch's GET_MANIFEST is on it: the
 * request fails before its time, and the owner is asked again on a new
 * connection, not given up (the members after it would only redirect
 * back to it).  The disconnect fails only what was on the wire when it
 * came, not the request sent again in answer to it. */
static void
test_ring_manifest_read_survives_a_dropped_connection (void)
{
  RFx *fx = rfx_new (8, 1);
  g_autoptr (GBytes) content = random_content (100 * 1024, 5);
  Done d = { 0 };
  store_file (fx, 0, "dropped.txt", content, &d);
  g_assert_true (d.r.ok);
  done_clear (&d);
  guint idx[1];
  mb_ring_preference_list (fx->ring, "dropped.txt", 1, idx);
  guint owner = rfx_node (mb_ring_member (fx->ring, idx[0]));
  guint fetcher = owner == 3 ? 4 : 3;
  mb_ringpeer_fetch_file (fx->rp[fetcher], "dropped.txt", fx->now, on_done, &d);
  mb_ringpeer_on_disconnect (fx->rp[fetcher], owner, fx->now);
  rfx_run (fx, fx->now + 120 * SEC);
  g_assert_true (d.called);
  g_test_message ("fetch after the dropped connection: ok %d, error %s", d.r.ok, d.error);
  g_assert_true (d.r.ok);
  g_assert_true (g_bytes_equal (d.content, content));
  MbRingPeerStats st;
  mb_ringpeer_stats (fx->rp[fetcher], &st);
  g_assert_cmpuint (st.rpc_timeouts, ==, 0);   /* asked again at once, not after a timeout */
  done_clear (&d);
  rfx_free (fx);
}

static void
test_ring_stale_view_lookup_is_redirected (void)
{
  RFx *fx = rfx_new (8, 1);
  g_autoptr (GBytes) content = random_content (100 * 1024, 4);
  Done d = { 0 };
  store_file (fx, 0, "notes.txt", content, &d);
  g_assert_true (d.r.ok);
  done_clear (&d);
  /* Peer 3's view wrongly lacks the owner... no: it has a view where a
   * member that is not the owner owns the name, so its first ask goes to a
   * peer that redirects it to the real owner. */
  guint idx[1];
  mb_ring_preference_list (fx->ring, "notes.txt", 1, idx);
  const char *owner = mb_ring_member (fx->ring, idx[0]);
  g_autoptr (MbRing) stale = mb_ring_without_member (fx->ring, owner);
  guint fetcher = rfx_resolve (NULL, 0, owner) == 3 ? 4 : 3;
  mb_ringpeer_set_view (fx->rp[fetcher], stale, FALSE, fx->now);
  fetch_file (fx, fetcher, "notes.txt", &d);
  g_assert_true (d.r.ok);
  g_assert_cmpuint (d.r.redirects, >=, 1);
  g_assert_true (g_bytes_equal (d.content, content));
  done_clear (&d);
  rfx_free (fx);
}

static void
test_ring_shutdown_moves_exactly_its_keys_to_their_new_owners (void)
{
  RFx *fx = rfx_new (10, 2);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  for (guint f = 0; f < 20; f++)
    {
      g_autofree gchar *name = g_strdup_printf ("file-%02u.bin", f);
      g_autoptr (GBytes) content = random_content (150 * 1024, 100 + f);
      Done d = { 0 };
      store_file (fx, f % fx->n, name, content, &d);
      g_assert_true (d.r.ok);
      done_clear (&d);
      g_ptr_array_add (names, g_strdup (name));
    }
  guint leaver = 4;
  /* Snapshot what every peer holds before. */
  GPtrArray *before[MAXN];
  for (guint i = 0; i < fx->n; i++)
    before[i] = mb_store_list_chunks (fx->store[i]);
  g_autoptr (GPtrArray) leaver_chunks = mb_store_list_chunks (fx->store[leaver]);
  g_autoptr (GPtrArray) leaver_manifests = mb_store_list_manifests (fx->store[leaver]);
  g_autoptr (MbRing) after = mb_ring_without_member (fx->ring, fx->addr[leaver]);
  ShutDone s = { 0 };
  mb_ringpeer_shutdown (fx->rp[leaver], fx->now, on_shutdown, &s);
  rfx_run (fx, fx->now + 60 * SEC);
  g_assert_true (s.called);
  g_assert_cmpuint (s.r.chunks_failed, ==, 0);
  g_assert_cmpuint (s.r.manifests_failed, ==, 0);
  g_assert_cmpuint (s.r.chunks_redistributed, ==, leaver_chunks->len);
  g_assert_cmpuint (s.r.manifests_redistributed, ==, leaver_manifests->len);
  /* the leaver's counters (GET /metrics' minibit_leave_*) say the same */
  MbRingPeerStats st;
  mb_ringpeer_stats (fx->rp[leaver], &st);
  g_assert_cmpuint (st.leave_chunks_moved, ==, s.r.chunks_redistributed);
  g_assert_cmpuint (st.leave_manifests_moved, ==, s.r.manifests_redistributed);
  g_assert_cmpuint (st.leave_bytes_moved, ==, s.r.bytes_moved);
  /* Exactly the leaver's chunks moved, each to the member that became its owner. */
  for (guint i = 0; i < fx->n; i++)
    {
      if (i == leaver)
        continue;
      g_autoptr (GPtrArray) now_held = mb_store_list_chunks (fx->store[i]);
      for (guint k = 0; k < now_held->len; k++)
        {
          const char *id = now_held->pdata[k];
          gboolean had = FALSE;
          for (guint j = 0; j < before[i]->len && !had; j++)
            had = strcmp (before[i]->pdata[j], id) == 0;
          if (had)
            continue;
          /* New here: it must be one of the leaver's, and this peer an owner after. */
          gboolean from_leaver = FALSE;
          for (guint j = 0; j < leaver_chunks->len && !from_leaver; j++)
            from_leaver = strcmp (leaver_chunks->pdata[j], id) == 0;
          g_assert_true (from_leaver);
          guint idx[2];
          mb_ring_preference_list (after, id, 2, idx);
          gboolean owner = FALSE;
          for (guint j = 0; j < 2; j++)
            owner |= strcmp (mb_ring_member (after, idx[j]), fx->addr[i]) == 0;
          g_assert_true (owner);
        }
      g_ptr_array_unref (before[i]);
    }
  g_ptr_array_unref (before[leaver]);
  g_assert_cmpuint (fx->store[leaver]->n_chunks, ==, 0);
  g_assert_cmpuint (fx->store[leaver]->n_manifests, ==, 0);
  /* Every file is still complete on R members of the new ring, and fetchable. */
  for (guint i = 0; i < fx->n; i++)
    if (i != leaver)
      mb_ringpeer_set_view (fx->rp[i], after, FALSE, fx->now);
  fx->down[leaver] = TRUE;
  for (guint f = 0; f < names->len; f++)
    {
      Done d = { 0 };
      fetch_file (fx, (f * 3 + 1) % fx->n == leaver ? 0 : (f * 3 + 1) % fx->n, names->pdata[f], &d);
      g_assert_true (d.r.ok);
      done_clear (&d);
    }
  rfx_free (fx);
}

static void
test_ring_concurrent_manifest_updates_keep_both_holders (void)
{
  RFx *fx = rfx_new (6, 1);
  g_autoptr (GBytes) content = random_content (100 * 1024, 5);
  Done d = { 0 };
  store_file (fx, 0, "shared.dat", content, &d);
  done_clear (&d);
  guint idx[1];
  mb_ring_preference_list (fx->ring, "shared.dat", 1, idx);
  MbNodeId owner = rfx_resolve (NULL, 0, mb_ring_member (fx->ring, idx[0]));
  /* Two holders announce themselves at the same instant. */
  for (guint k = 0; k < 2; k++)
    {
      MbMessage *m = mb_message_new (MB_MSG_UPDATE_MANIFEST);
      m->req = 900 + k;
      m->file = g_strdup ("shared.dat");
      m->addr = g_strdup (k == 0 ? "10.0.1.200:7000" : "10.0.1.201:7000");
      rfx_send (fx, 99, owner, m);
    }
  /* And a store_manifest carrying a third holder crosses them. */
  g_autoptr (MbManifest) cur = mb_store_get_manifest (fx->store[owner], "shared.dat");
  g_autoptr (MbManifest) other = mb_manifest_copy (cur);
  mb_manifest_add_holder (other, 0, "10.0.1.202:7000");
  MbMessage *sm = mb_message_new (MB_MSG_STORE_MANIFEST);
  sm->req = 902;
  sm->manifest = mb_manifest_ref (other);
  rfx_send (fx, 98, owner, sm);
  rfx_run (fx, fx->now + 5 * SEC);
  g_autoptr (MbManifest) m = mb_store_get_manifest (fx->store[owner], "shared.dat");
  g_assert_true (mb_manifest_has_holder (m, 0, "10.0.1.200:7000"));
  g_assert_true (mb_manifest_has_holder (m, 1, "10.0.1.200:7000"));
  g_assert_true (mb_manifest_has_holder (m, 0, "10.0.1.201:7000"));
  g_assert_true (mb_manifest_has_holder (m, 0, "10.0.1.202:7000"));
  rfx_free (fx);
}

static void
test_ring_bad_input_is_refused_counted_and_changes_nothing (void)
{
  RFx *fx = rfx_new (4, 1);
  g_autoptr (GBytes) content = random_content (100 * 1024, 6);
  Done d = { 0 };
  store_file (fx, 0, "keep.bin", content, &d);
  done_clear (&d);
  guint target = 2;
  guint chunks_before = fx->store[target]->n_chunks;
  guint manifests_before = fx->store[target]->n_manifests;
  /* A chunk whose content does not match its id. */
  MbMessage *bad = mb_message_new (MB_MSG_STORE_CHUNK);
  bad->req = 1;
  char id[65];
  mb_chunk_id_compute ((const guint8 *) "something else", 14, id);
  bad->chunk_id = g_strdup (id);
  bad->data = g_bytes_new ("not that", 8);
  bad->length = 8;
  rfx_send (fx, 99, target, bad);
  /* A manifest whose size and chunk count disagree: built valid, then the
   * binary form is altered so that its size claims more chunks. */
  g_autoptr (MbManifest) m = mb_store_get_manifest (fx->store[rfx_resolve (NULL, 0, mb_ring_lookup (fx->ring, "keep.bin"))], "keep.bin");
  g_assert_nonnull (m);
  g_autoptr (GError) err = NULL;
  g_autoptr (MbManifest) liar = mb_manifest_new ("keep.bin", mb_manifest_size (m) * 4,
                                                 mb_manifest_chunk_size (m), &err);
  g_assert_no_error (err);
  /* liar has more chunks, none with ids: it must not validate */
  MbMessage *sm = mb_message_new (MB_MSG_STORE_MANIFEST);
  sm->req = 2;
  sm->manifest = mb_manifest_ref (liar);
  rfx_send (fx, 99, target, sm);
  rfx_run (fx, fx->now + 5 * SEC);
  MbRingPeerStats st;
  mb_ringpeer_stats (fx->rp[target], &st);
  g_assert_cmpuint (st.refused_chunks, ==, 1);
  g_assert_cmpuint (st.refused_manifests, ==, 1);
  g_assert_false (mb_store_has_chunk (fx->store[target], id));
  g_assert_cmpuint (fx->store[target]->n_chunks, ==, chunks_before);
  g_assert_cmpuint (fx->store[target]->n_manifests, ==, manifests_before);
  /* The good file is untouched and still fetches. */
  fetch_file (fx, 3, "keep.bin", &d);
  g_assert_true (d.r.ok);
  g_assert_true (g_bytes_equal (d.content, content));
  done_clear (&d);
  rfx_free (fx);
}

static void
test_ring_crash_repair_restores_replication (void)
{
  RFx *fx = rfx_new (8, 3);
  g_autoptr (GBytes) content = random_content (500 * 1024, 7);
  Done d = { 0 };
  store_file (fx, 0, "precious.bin", content, &d);
  g_assert_true (d.r.ok);
  done_clear (&d);
  /* Two members crash at once; the survivors learn it from the tracker. */
  guint dead[2] = { 2, 5 };
  MbRing *view = mb_ring_ref (fx->ring);
  for (guint k = 0; k < 2; k++)
    {
      fx->down[dead[k]] = TRUE;
      MbRing *v = mb_ring_without_member (view, fx->addr[dead[k]]);
      mb_ring_unref (view);
      view = v;
    }
  for (guint i = 0; i < fx->n; i++)
    if (!fx->down[i])
      mb_ringpeer_set_view (fx->rp[i], view, TRUE, fx->now);
  rfx_run (fx, fx->now + 60 * SEC);
  /* Every chunk is back to R live copies. */
  g_autoptr (MbManifest) m = NULL;
  for (guint i = 0; i < fx->n && !m; i++)
    if (!fx->down[i])
      m = mb_store_get_manifest (fx->store[i], "precious.bin");
  g_assert_nonnull (m);
  for (guint c = 0; c < mb_manifest_n_chunks (m); c++)
    {
      guint live = 0;
      for (guint i = 0; i < fx->n; i++)
        live += !fx->down[i] && holds_chunk (fx, i, mb_manifest_chunk_id (m, c));
      g_assert_cmpuint (live, >=, 3);
    }
  guint manifest_copies = 0;
  for (guint i = 0; i < fx->n; i++)
    if (!fx->down[i])
      {
        MbManifest *mi = mb_store_get_manifest (fx->store[i], "precious.bin");
        manifest_copies += mi != NULL;
        if (mi)
          mb_manifest_unref (mi);
      }
  g_assert_cmpuint (manifest_copies, >=, 3);
  fetch_file (fx, 7, "precious.bin", &d);
  g_assert_true (d.r.ok);
  g_assert_true (g_bytes_equal (d.content, content));
  done_clear (&d);
  mb_ring_unref (view);
  rfx_free (fx);
}

/* The repairer's manifest names it as a holder of chunks its store has
 * lost (a disk replaced, a kill before the copy reached it): it fetches
 * them from another holder, never asks itself (the fixture's host asserts
 * that no node sends to itself; minibit-peer warned "cannot send get_chunk
 * to node 1: it is ourselves"), and takes back its own copy. */
static void
test_ring_repair_of_chunks_the_repairer_lost (void)
{
  RFx *fx = rfx_new (8, 3);
  g_autoptr (GBytes) content = random_content (500 * 1024, 11);
  Done d = { 0 };
  store_file (fx, 0, "lost.bin", content, &d);
  g_assert_true (d.r.ok);
  done_clear (&d);
  /* the repairer: the name's first owner (it survives); one crash elsewhere */
  guint own[3];
  mb_ring_preference_list (fx->ring, "lost.bin", 3, own);
  guint rep = rfx_node (mb_ring_member (fx->ring, own[0]));
  guint dead = rfx_node (mb_ring_member (fx->ring, own[2]));
  g_autoptr (MbManifest) m = mb_store_get_manifest (fx->store[rep], "lost.bin");
  g_assert_nonnull (m);
  guint lost = 0, first = 0;
  for (guint c = 0; c < mb_manifest_n_chunks (m); c++)
    if (mb_manifest_has_holder (m, c, fx->addr[rep]))
      {
        g_assert_true (mb_store_drop_chunk (fx->store[rep], mb_manifest_chunk_id (m, c)));
        lost++;
        first += g_strcmp0 (mb_manifest_holder (m, c, 0), fx->addr[rep]) == 0;
      }
  g_assert_cmpuint (first, >, 0); /* the case that sent a GET_CHUNK to itself */
  fx->down[dead] = TRUE;
  g_autoptr (MbRing) view = mb_ring_without_member (fx->ring, fx->addr[dead]);
  for (guint i = 0; i < fx->n; i++)
    if (!fx->down[i])
      mb_ringpeer_set_view (fx->rp[i], view, TRUE, fx->now);
  rfx_run (fx, fx->now + 60 * SEC);
  /* its copies are back, and every chunk has R live copies */
  for (guint c = 0; c < mb_manifest_n_chunks (m); c++)
    {
      const char *id = mb_manifest_chunk_id (m, c);
      if (mb_manifest_has_holder (m, c, fx->addr[rep]))
        g_assert_true (holds_chunk (fx, rep, id));
      guint live = 0;
      for (guint i = 0; i < fx->n; i++)
        live += !fx->down[i] && holds_chunk (fx, i, id);
      g_assert_cmpuint (live, >=, 3);
    }
  g_test_message ("%u chunks lost by the repairer, %u of them listed first", lost, first);
  fetch_file (fx, rep, "lost.bin", &d);
  g_assert_true (d.r.ok);
  g_assert_true (g_bytes_equal (d.content, content));
  done_clear (&d);
  rfx_free (fx);
}

/* R = 70 on 72 peers: every copy is placed (no owner list is capped). */
static void
test_ring_replication_above_64_is_not_capped (void)
{
  RFx *fx = rfx_new (72, 70);
  g_autoptr (GBytes) content = random_content (100 * 1024, 9);
  Done d = { 0 };
  store_file (fx, 0, "wide.bin", content, &d);
  g_assert_true (d.r.ok);
  g_assert_cmpuint (d.r.chunks_placed, ==, 2 * 70);
  g_assert_cmpuint (d.r.manifest_owners, ==, 70);
  done_clear (&d);
  guint held = 0;
  for (guint i = 0; i < fx->n; i++)
    {
      g_autoptr (MbManifest) m = mb_store_get_manifest (fx->store[i], "wide.bin");
      held += m != NULL;
    }
  g_assert_cmpuint (held, ==, 70);
  rfx_free (fx);
}

/* Starts two stores at peer 0 without delivering anything: requests in
 * flight, others waiting in full windows, two ops. */
static RFx *
busy_fixture (Done *a, Done *b, GBytes *content)
{
  RFx *fx = rfx_new (4, 3);
  mb_ringpeer_store_file (fx->rp[0], "a.bin", content, 0, fx->now, on_done, a);
  fx->now += 1000;
  mb_ringpeer_store_file (fx->rp[0], "b.bin", content, 0, fx->now, on_done, b);
  return fx;
}

static void
test_ring_check_catches_broken_state (void)
{
  static const struct {
    MbRingCorruption what;
    const char *says;
  } cases[] = {
    { MB_RING_CORRUPT_WINDOW, "window 16" },
    { MB_RING_CORRUPT_PENDING, "pending = " },
    { MB_RING_CORRUPT_DEADLINES, "deadline order" },
    { MB_RING_CORRUPT_UNTRACKED, "not in rpcs" },
    { MB_RING_CORRUPT_OP_ORDER, "creation order" },
  };
  /* 40 chunks x 3 copies on 4 peers: more than a window (16) per target. */
  g_autoptr (GBytes) content = random_content (40 * 64 * 1024, 10);
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      Done a = { 0 }, b = { 0 };
      RFx *fx = busy_fixture (&a, &b, content);
      g_autoptr (GString) why = g_string_new (NULL);
      g_assert_true (mb_ringpeer_check (fx->rp[0], why));
      g_assert_cmpstr (why->str, ==, "");
      g_assert_true (mb_ringpeer_debug_corrupt (fx->rp[0], cases[k].what));
      g_assert_false (mb_ringpeer_check (fx->rp[0], why));
      g_test_message ("corruption %u: %s", k, why->str);
      g_assert_nonnull (strstr (why->str, cases[k].says));
      g_assert_false (mb_ringpeer_check (fx->rp[0], NULL));
      rfx_free (fx);
      g_assert_false (a.called || b.called);
    }
  /* Untouched, the same state checks out all the way to the end. */
  Done a = { 0 }, b = { 0 };
  RFx *fx = busy_fixture (&a, &b, content);
  rfx_run (fx, fx->now + 60 * SEC);
  g_assert_true (a.called && a.r.ok && b.called && b.r.ok);
  done_clear (&a);
  done_clear (&b);
  rfx_free (fx);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ring/store-places-chunks-and-manifest-on-their-owners",
                   test_ring_store_places_chunks_and_manifest_on_their_owners);
  g_test_add_func ("/ring/fetch-uses-several-sources-and-verifies",
                   test_ring_fetch_uses_several_sources_and_verifies);
  g_test_add_func ("/ring/fetch-fails-over-when-holders-are-down",
                   test_ring_fetch_fails_over_when_holders_are_down);
  g_test_add_func ("/ring/fetch-asks-members-before-other-holders",
                   test_ring_fetch_asks_members_before_other_holders);
  g_test_add_func ("/ring/progress-lists-running-stores-and-fetches",
                   test_ring_progress_lists_running_stores_and_fetches);
  g_test_add_func ("/ring/stale-view-lookup-is-redirected", test_ring_stale_view_lookup_is_redirected);
  g_test_add_func ("/ring/manifest-read-survives-a-dropped-connection",
                   test_ring_manifest_read_survives_a_dropped_connection);
  g_test_add_func ("/ring/shutdown-moves-exactly-its-keys-to-their-new-owners",
                   test_ring_shutdown_moves_exactly_its_keys_to_their_new_owners);
  g_test_add_func ("/ring/concurrent-manifest-updates-keep-both-holders",
                   test_ring_concurrent_manifest_updates_keep_both_holders);
  g_test_add_func ("/ring/bad-input-is-refused-counted-and-changes-nothing",
                   test_ring_bad_input_is_refused_counted_and_changes_nothing);
  g_test_add_func ("/ring/crash-repair-restores-replication", test_ring_crash_repair_restores_replication);
  g_test_add_func ("/ring/repair-of-chunks-the-repairer-lost",
                   test_ring_repair_of_chunks_the_repairer_lost);
  g_test_add_func ("/ring/replication-above-64-is-not-capped",
                   test_ring_replication_above_64_is_not_capped);
  g_test_add_func ("/ring/check-catches-broken-state", test_ring_check_catches_broken_state);
  return g_test_run ();
}
