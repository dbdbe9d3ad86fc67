/* test_ring_swarm.c — one system: a ring fetch that many peers make at once
 * is the file's swarm (ringpeer.h mb_ringpeer_set_swarm, peer.h's swarms of
 * ring files), on ring-fixture.c's world with an uplink per sender. */
#include "ring-fixture.h"

#include <string.h>

#define HOLDER 0
#define FETCHERS 6
#define FILE_SIZE (2 * 1024 * 1024)
#define UPLINK (4 * 1000 * 1000) /* bytes/s, every sender */

/* Node 0 is the ring (R = 1: it holds the whole file); nodes 1..6 fetch. */
static RFx *
world_with_file (GBytes *content, const MbPeerConfig *pcfg)
{
  RFx *fx = rfx_new (1 + FETCHERS, 1);
  const char *members[] = { fx->addr[HOLDER] };
  g_autoptr (MbRing) one = mb_ring_new (members, 1, 64);
  rfx_set_views (fx, one);
  Done st = { 0 };
  store_file (fx, HOLDER, "crowd.bin", content, &st);
  g_assert_true (st.r.ok);
  done_clear (&st);
  rfx_enable_swarm (fx, pcfg, UPLINK);
  return fx;
}

static guint64
fetch_all (RFx *fx, Done *d, guint64 limit)
{
  guint64 start = fx->now;
  for (guint i = 1; i <= FETCHERS; i++)
    mb_ringpeer_fetch_file (fx->rp[i], "crowd.bin", fx->now, on_done, &d[i]);
  guint64 last = 0;
  for (guint step = 0; step < 100000; step++)
    {
      gboolean all = TRUE;
      for (guint i = 1; i <= FETCHERS; i++)
        all = all && d[i].called;
      if (all || fx->now - start > limit)
        break;
      rfx_run (fx, fx->now + 10000);
      fx->now += 10000;
    }
  for (guint i = 1; i <= FETCHERS; i++)
    {
      g_assert_true (d[i].called);
      last = MAX (last, fx->now - start);
    }
  return last;
}

static void
test_flash_crowd_is_a_swarm (void)
{
  g_autoptr (GBytes) content = random_content (FILE_SIZE, 11);
  RFx *fx = world_with_file (content, NULL);
  Done d[1 + FETCHERS] = { 0 };
  guint64 took = fetch_all (fx, d, 120 * SEC);
  guint n_chunks = FILE_SIZE / (64 * 1024);
  guint64 from_fetchers = 0;
  for (guint i = 1; i <= FETCHERS; i++)
    {
      g_assert_true (d[i].r.ok);
      g_assert_true (g_bytes_equal (d[i].content, content));
      /* every chunk came through the swarm: it never stalled */
      g_assert_cmpuint (d[i].r.chunks_swarm, ==, n_chunks);
      from_fetchers += fx->bytes_from[i];
      g_autofree gchar *key = NULL;
      g_autoptr (MbManifest) m = rfx_newest_manifest (fx, "crowd.bin");
      key = mb_peer_swarm_key (m);
      /* the fetcher stays in the swarm as a seed */
      g_assert_cmpuint (mb_peer_completed_at (fx->sp[i], key), !=, MB_TIME_NEVER);
      /* and the owner was told: it is a holder now */
      for (guint c = 0; c < mb_manifest_n_chunks (m); c++)
        g_assert_true (mb_manifest_has_holder (m, c, fx->addr[i]));
    }
  /* The fetchers served one another, and together they were faster than
   * the holder alone could serve them (6 x F / u = 3.1 s; the Kumar-Ross
   * bound here is F / u = 0.52 s). */
  guint64 alone = (guint64) FETCHERS * FILE_SIZE * SEC / UPLINK;
  g_test_message ("6 fetchers: last done after %.2f s (holder alone: %.2f s); "
                  "holder sent %" G_GUINT64_FORMAT " B, fetchers %" G_GUINT64_FORMAT " B",
                  took / 1e6, alone / 1e6, fx->bytes_from[HOLDER], from_fetchers);
  g_assert_cmpuint (from_fetchers, >, (guint64) FILE_SIZE);
  g_assert_cmpuint (took, <, alone * 3 / 4);
  for (guint i = 1; i <= FETCHERS; i++)
    done_clear (&d[i]);
  rfx_free (fx);
}

/* Node 1 fetches the file and, within `limit`, has it whole, every chunk
 * by GET_CHUNK (none through the swarm). */
static void
fetch_by_get_chunk (RFx *fx, GBytes *content, guint64 limit)
{
  Done d = { 0 };
  mb_ringpeer_fetch_file (fx->rp[1], "crowd.bin", fx->now, on_done, &d);
  rfx_run (fx, fx->now + limit);
  g_assert_true (d.called);
  g_assert_true (d.r.ok);
  g_assert_true (g_bytes_equal (d.content, content));
  g_assert_cmpuint (d.r.chunks_swarm, ==, 0);
  done_clear (&d);
}

static void
test_stalled_swarm_falls_back_to_get_chunk (void)
{
  /* The holder serves no swarm: every hello is refused, the swarm brings
   * nothing, and the fetch takes the chunks from the holder by GET_CHUNK. */
  g_autoptr (GBytes) content = random_content (FILE_SIZE / 4, 12);
  MbPeerConfig pcfg;
  mb_peer_config_init (&pcfg);
  pcfg.max_served_swarms = 0;
  RFx *fx = world_with_file (content, &pcfg);
  fetch_by_get_chunk (fx, content, 60 * SEC);
  rfx_free (fx);
}

static void
test_stale_connection_is_mended (void)
{
  /* The holder forgets its connection with the fetcher without a word (a
   * host that lost it, as a real peer's transport can), while the fetcher
   * still counts on it: the holder answers its next request with a
   * goodbye, the fetcher drops the connection, and the chunks left come by
   * GET_CHUNK (the holder no longer serves them through the swarm). */
  g_autoptr (GBytes) content = random_content (FILE_SIZE, 15);
  RFx *fx = world_with_file (content, NULL);
  Done d = { 0 };
  mb_ringpeer_fetch_file (fx->rp[1], "crowd.bin", fx->now, on_done, &d);
  rfx_run (fx, fx->now + 150 * 1000);   /* the swarm has started */
  g_assert_false (d.called);
  mb_peer_on_disconnect (fx->sp[HOLDER], 1, fx->now);
  rfx_run (fx, fx->now + 60 * SEC);
  g_assert_true (d.called);
  g_assert_true (d.r.ok);
  g_assert_true (g_bytes_equal (d.content, content));
  g_assert_cmpuint (d.r.chunks_swarm, <, FILE_SIZE / (64 * 1024));
  g_test_message ("stale connection: %u chunks through the swarm before it went stale",
                  d.r.chunks_swarm);
  done_clear (&d);
  rfx_free (fx);
}

static MbMessage *
hello_with (const char *key, const MbManifest *m)
{
  MbMessage *h = mb_message_new (MB_MSG_HANDSHAKE);
  h->file = g_strdup (key);
  h->name = g_strdup ("stranger");
  h->addr = g_strdup ("10.0.1.50:7000");
  h->code = 0;
  h->manifest = m ? mb_manifest_copy (m) : NULL;
  return h;
}

static guint32
answer_code (RFx *fx)
{
  for (guint i = fx->inbox->len; i-- > 0;)
    {
      const MbMessage *m = fx->inbox->pdata[i];
      if (m->type == MB_MSG_HANDSHAKE)
        return m->code;
    }
  return G_MAXUINT32;
}

static void
test_holder_joins_only_a_swarm_it_can_serve (void)
{
  g_autoptr (GBytes) content = random_content (FILE_SIZE / 8, 13);
  RFx *fx = world_with_file (content, NULL);
  g_autoptr (MbManifest) m = rfx_newest_manifest (fx, "crowd.bin");
  g_autofree gchar *key = mb_peer_swarm_key (m);

  /* A key that does not name the manifest's content: refused. */
  g_autofree gchar *wrong = g_strdup_printf ("crowd.bin#%s", "0123456789abcdef");
  rfx_send (fx, RFX_TEST_NODE, HOLDER, hello_with (wrong, m));
  rfx_run (fx, fx->now + SEC);
  g_assert_cmpuint (answer_code (fx), ==, 2);
  g_assert_false (mb_peer_swarm_serving_only (fx->sp[HOLDER], wrong));

  /* A manifest of chunks the peer does not hold: refused. */
  g_ptr_array_set_size (fx->inbox, 0);
  /* the same name, other content: its key differs, and we hold none of it */
  g_autoptr (MbManifest) fake = mb_manifest_copy (m);
  for (guint i = 0; i < mb_manifest_n_chunks (fake); i++)
    {
      char id[65];
      memset (id, 'a' + (i % 6), 64);
      id[64] = '\0';
      mb_manifest_set_chunk (fake, i, id, mb_manifest_chunk_len (fake, i), 0);
    }
  g_autofree gchar *fake_key = mb_peer_swarm_key (fake);
  rfx_send (fx, RFX_TEST_NODE, HOLDER, hello_with (fake_key, fake));
  rfx_run (fx, fx->now + SEC);
  g_assert_cmpuint (answer_code (fx), ==, 2);

  /* No manifest: refused (a holder cannot serve a swarm it knows nothing of). */
  g_ptr_array_set_size (fx->inbox, 0);
  rfx_send (fx, RFX_TEST_NODE, HOLDER, hello_with (key, NULL));
  rfx_run (fx, fx->now + SEC);
  g_assert_cmpuint (answer_code (fx), ==, 2);

  /* The right manifest and key: accepted; it serves only... */
  g_ptr_array_set_size (fx->inbox, 0);
  rfx_send (fx, RFX_TEST_NODE, HOLDER, hello_with (key, m));
  rfx_run (fx, fx->now + SEC);
  g_assert_cmpuint (answer_code (fx), ==, 1);
  g_assert_true (mb_peer_swarm_serving_only (fx->sp[HOLDER], key));
  /* ... and leaves the swarm once it has been idle for swarm_idle_us. */
  mb_peer_on_disconnect (fx->sp[HOLDER], RFX_TEST_NODE, fx->now);
  rfx_run (fx, fx->now + 90 * SEC);
  g_assert_false (mb_peer_swarm_serving_only (fx->sp[HOLDER], key));
  g_assert_cmpuint (mb_peer_completed_at (fx->sp[HOLDER], key), ==, MB_TIME_NEVER);
  rfx_free (fx);
}

static MbMessage *
get_chunk (const MbManifest *m, guint i)
{
  MbMessage *g = mb_message_new (MB_MSG_GET_CHUNK);
  g->chunk_id = g_strdup (mb_manifest_chunk_id (m, i));
  return g;
}

static void
test_holder_serves_its_swarm_first (void)
{
  /* A holder serving a chunk's swarm refuses that chunk's GET_CHUNK as
   * choked, once, to a node that said hello to the swarm (its uplink goes
   * to the swarm, where the asker gets it); anyone else still gets it. */
  g_autoptr (GBytes) content = random_content (FILE_SIZE / 8, 14);
  RFx *fx = world_with_file (content, NULL);
  g_autoptr (MbManifest) m = rfx_newest_manifest (fx, "crowd.bin");
  g_autofree gchar *key = mb_peer_swarm_key (m);
  const MbMessage *a = rfx_ask (fx, HOLDER, get_chunk (m, 0));
  g_assert_nonnull (a);
  g_assert_cmpint (a->type, ==, MB_MSG_CHUNK);

  rfx_send (fx, RFX_TEST_NODE, HOLDER, hello_with (key, m));
  rfx_run (fx, fx->now + SEC);
  g_assert_cmpuint (answer_code (fx), ==, 1);
  g_assert_true (mb_peer_is_connected (fx->sp[HOLDER], key, RFX_TEST_NODE));
  a = rfx_ask (fx, HOLDER, get_chunk (m, 1));
  g_assert_nonnull (a);
  g_assert_cmpint (a->type, ==, MB_MSG_ERROR);
  g_assert_cmpuint (a->code, ==, MB_ERR_CHOKED);
  /* Asked again (its swarm stalled once more): served, connection or not;
   * the asker may have lost its side of the connection without the holder
   * seeing it, and a fetch refused for good waited for ever (e2e-stall's
   * member case, once in about eight runs). */
  a = rfx_ask (fx, HOLDER, get_chunk (m, 1));
  g_assert_nonnull (a);
  g_assert_cmpint (a->type, ==, MB_MSG_CHUNK);

  /* A hello on a connection the holder thinks established: the asker lost
   * it, so the holder starts it over (accepts again) instead of ignoring
   * it and keeping a connection the other side does not have; its next
   * GET_CHUNK is refused as choked again. */
  g_ptr_array_set_size (fx->inbox, 0);
  rfx_send (fx, RFX_TEST_NODE, HOLDER, hello_with (key, m));
  rfx_run (fx, fx->now + SEC);
  g_assert_cmpuint (answer_code (fx), ==, 1);
  g_assert_true (mb_peer_is_connected (fx->sp[HOLDER], key, RFX_TEST_NODE));
  a = rfx_ask (fx, HOLDER, get_chunk (m, 2));
  g_assert_nonnull (a);
  g_assert_cmpuint (a->code, ==, MB_ERR_CHOKED);

  /* A refusal on an established connection closes it in that swarm (the
   * remote dropped it but keeps other swarms with us on the transport). */
  MbMessage *close = hello_with (key, NULL);
  close->code = 2;
  rfx_send (fx, RFX_TEST_NODE, HOLDER, close);
  rfx_run (fx, fx->now + SEC);
  g_assert_false (mb_peer_is_connected (fx->sp[HOLDER], key, RFX_TEST_NODE));
  rfx_free (fx);
}

static void
test_holder_serves_after_the_swarm_connection_closed (void)
{
  /* The holder keeps another connection in the swarm (a seed that stopped
   * without a word: nothing closes it), and the fetcher's connection with
   * it closes (the fetcher gave it up as stalled, said goodbye).  The
   * fetcher's GET_CHUNK is then served: before, the holder remembered its
   * hello for good and answered "choked" as long as it had any connection
   * in the swarm, so a chunk only it could give waited for ever (the fetch
   * asked again after every stall; e2e-stall's hang). */
  g_autoptr (GBytes) content = random_content (FILE_SIZE / 8, 16);
  RFx *fx = world_with_file (content, NULL);
  g_autoptr (MbManifest) m = rfx_newest_manifest (fx, "crowd.bin");
  g_autofree gchar *key = mb_peer_swarm_key (m);
  const MbNodeId other = RFX_TEST_NODE - 2;   /* its mail goes to the inbox too */
  rfx_send (fx, other, HOLDER, hello_with (key, m));
  rfx_send (fx, RFX_TEST_NODE, HOLDER, hello_with (key, m));
  rfx_run (fx, fx->now + SEC);
  g_assert_true (mb_peer_is_connected (fx->sp[HOLDER], key, other));
  g_assert_true (mb_peer_is_connected (fx->sp[HOLDER], key, RFX_TEST_NODE));
  const MbMessage *a = rfx_ask (fx, HOLDER, get_chunk (m, 0));
  g_assert_nonnull (a);
  g_assert_cmpuint (a->code, ==, MB_ERR_CHOKED);
  MbMessage *bye = hello_with (key, NULL);
  bye->code = 3;   /* goodbye in the swarm (the transport connection stays) */
  rfx_send (fx, RFX_TEST_NODE, HOLDER, bye);
  rfx_run (fx, fx->now + SEC);
  g_assert_false (mb_peer_is_connected (fx->sp[HOLDER], key, RFX_TEST_NODE));
  g_assert_true (mb_peer_is_connected (fx->sp[HOLDER], key, other));
  a = rfx_ask (fx, HOLDER, get_chunk (m, 0));
  g_assert_nonnull (a);
  g_assert_cmpint (a->type, ==, MB_MSG_CHUNK);
  rfx_free (fx);
}

/* The swarm id of the holder's BITFIELD in the inbox. */
static guint32
holder_swarm_id (RFx *fx)
{
  for (guint i = 0; i < fx->inbox->len; i++)
    {
      const MbMessage *m = fx->inbox->pdata[i];
      if (m->type == MB_MSG_BITFIELD)
        return m->swarm;
    }
  g_assert_not_reached ();
}

static void
test_holder_serves_a_refused_fetcher (void)
{
  /* The holder is at its connection limit (max_conns 1) with a remote
   * that stays interested in it; a fetcher's hello is refused, its swarm
   * brings nothing, and it falls back to GET_CHUNK.  The holder answers
   * "choked" once (the fetcher is in the swarm, with others) and then
   * serves it: before, it remembered the refused hello for good and
   * answered "choked" as long as it had any connection in the swarm, and
   * the fetch asked again after every stall, without end. */
  g_autoptr (GBytes) content = random_content (FILE_SIZE / 8, 17);
  MbPeerConfig pcfg;
  mb_peer_config_init (&pcfg);
  pcfg.max_conns = 1;
  RFx *fx = world_with_file (content, &pcfg);
  g_autoptr (MbManifest) m = rfx_newest_manifest (fx, "crowd.bin");
  g_autofree gchar *key = mb_peer_swarm_key (m);
  const MbNodeId other = RFX_TEST_NODE - 2;   /* its mail goes to the inbox too */
  rfx_send (fx, other, HOLDER, hello_with (key, m));
  rfx_run (fx, fx->now + SEC);
  g_assert_true (mb_peer_is_connected (fx->sp[HOLDER], key, other));
  guint32 id = holder_swarm_id (fx);
  guint n = mb_manifest_n_chunks (m);
  MbMessage *bf = mb_message_new (MB_MSG_BITFIELD);
  bf->swarm = id;
  bf->data = g_bytes_new_take (g_malloc0 ((n + 7) / 8), (n + 7) / 8);
  rfx_send (fx, other, HOLDER, bf);
  MbMessage *want = mb_message_new (MB_MSG_INTERESTED);
  want->swarm = id;
  rfx_send (fx, other, HOLDER, want);
  rfx_run (fx, fx->now + SEC);

  fetch_by_get_chunk (fx, content, 120 * SEC);
  /* the remote kept its place: the fetcher never got a connection */
  g_assert_true (mb_peer_is_connected (fx->sp[HOLDER], key, other));
  g_assert_false (mb_peer_is_connected (fx->sp[HOLDER], key, 1));
  rfx_free (fx);
}

static void
test_fetch_on_a_full_store_fails_at_once (void)
{
  /* Fetcher 1's store is full (a full disk): every chunk it gets, from
   * the swarm or by GET_CHUNK, is good but cannot be kept.  Its fetch fails
   * within a few stall checks, naming why, instead of asking every holder
   * and swarm remote for the same chunks for ever (nemesis: a fetch on a
   * full disk answered nothing for 30 s); its swarm blames no remote for a
   * bad piece; the other fetchers finish as usual. */
  g_autoptr (GBytes) content = random_content (FILE_SIZE, 15);
  RFx *fx = world_with_file (content, NULL);
  fx->full[1] = TRUE;
  Done d[1 + FETCHERS] = { 0 };
  guint64 start = fx->now, failed_after = 0;
  for (guint i = 1; i <= FETCHERS; i++)
    mb_ringpeer_fetch_file (fx->rp[i], "crowd.bin", fx->now, on_done, &d[i]);
  for (guint step = 0; step < 12000; step++)
    {
      gboolean all = TRUE;
      for (guint i = 1; i <= FETCHERS; i++)
        all = all && d[i].called;
      if (d[1].called && failed_after == 0)
        failed_after = fx->now - start;
      if (all)
        break;
      rfx_run (fx, fx->now + 10000);
      fx->now += 10000;
    }
  g_test_message ("full store: fetch failed after %.2f s: %s", failed_after / 1e6, d[1].error);
  g_assert_true (d[1].called);
  g_assert_false (d[1].r.ok);
  g_assert_nonnull (strstr (d[1].error, "No space left on device"));
  g_assert_cmpuint (failed_after, <, 15 * SEC);
  MbPeerTotals t;
  mb_peer_totals (fx->sp[1], &t);
  g_assert_cmpuint (t.bad_pieces, ==, 0);
  for (guint i = 2; i <= FETCHERS; i++)
    {
      g_assert_true (d[i].called);
      g_assert_true (d[i].r.ok);
      g_assert_true (g_bytes_equal (d[i].content, content));
      mb_peer_totals (fx->sp[i], &t);
      g_assert_cmpuint (t.bad_pieces, ==, 0);
    }
  rfx_check (fx);
  for (guint i = 1; i <= FETCHERS; i++)
    done_clear (&d[i]);
  rfx_free (fx);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ring-swarm/flash-crowd-is-a-swarm", test_flash_crowd_is_a_swarm);
  g_test_add_func ("/ring-swarm/fetch-on-a-full-store-fails-at-once",
                   test_fetch_on_a_full_store_fails_at_once);
  g_test_add_func ("/ring-swarm/stalled-swarm-falls-back-to-get-chunk",
                   test_stalled_swarm_falls_back_to_get_chunk);
  g_test_add_func ("/ring-swarm/stale-connection-is-mended",
                   test_stale_connection_is_mended);
  g_test_add_func ("/ring-swarm/holder-serves-its-swarm-first",
                   test_holder_serves_its_swarm_first);
  g_test_add_func ("/ring-swarm/holder-serves-after-the-swarm-connection-closed",
                   test_holder_serves_after_the_swarm_connection_closed);
  g_test_add_func ("/ring-swarm/holder-serves-a-refused-fetcher",
                   test_holder_serves_a_refused_fetcher);
  g_test_add_func ("/ring-swarm/holder-joins-only-a-swarm-it-can-serve",
                   test_holder_joins_only_a_swarm_it_can_serve);
  return g_test_run ();
}
