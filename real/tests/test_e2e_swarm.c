/* test_e2e_swarm.c — one system, end to end: a file four peers fetch at
 * once is its swarm (minibit-peer's swarm half, real/peer-swarm.c), on a
 * loopback cluster (e2e-fixture.h) with R = 1, so each peer holds about a
 * fifth of the chunks and needs the rest.
 *
 *  /swarm/crowd      store 32 MiB at peer1; fetch_file at peers 2-5 at
 *                    once: every fetch succeeds with the original SHA-256,
 *                    every fetcher got chunks through the swarm
 *                    (chunks_swarm > 0, and all it lacked, chunks_swarm +
 *                    held before = chunks, when the swarm never stalled),
 *                    the swarm metrics moved at every fetcher; /status
 *                    lists the swarm (key NAME#hash, every piece, its
 *                    connections' choke and interest flags); MiniBit's
 *                    endpoints answer from that live state:
 *                    have_blocks_info (every block, in_swarm), and a
 *                    stranger's announce_block (409: not recorded) and
 *                    request_block (403: choked).
 */
#include <stdio.h>
#include <string.h>

#include "e2e-fixture.h"

#define NAME "crowd.bin"
#define SIZE (32u << 20)

static gboolean
crowd (Cluster *c)
{
  g_autofree gchar *sha = mb_random_file (c->peers[0].dir, NAME, SIZE, 31);
  gint64 chunks = 0;
  CHECK (mb_store (c, 0, NAME, &chunks));
  guint at[] = { 1, 2, 3, 4 };
  gint64 held[G_N_ELEMENTS (at)], up0[G_N_ELEMENTS (at)];
  for (guint k = 0; k < G_N_ELEMENTS (at); k++)
    {
      held[k] = mb_chunks_at (c, at[k]);
      up0[k] = mb_metric_at (c, at[k], "minibit_swarm_bytes_down_total");
      CHECK (held[k] >= 0 && up0[k] >= 0);
    }
  Reply *r[G_N_ELEMENTS (at)] = { NULL };
  gint64 t0 = g_get_monotonic_time ();
  gboolean all = mb_post_many (c, at, G_N_ELEMENTS (at), "/fetch_file",
                               "{\"filename\": \"" NAME "\"}", 120000, r);
  double secs = mb_secs_since (t0);
  gboolean ok = all;
  gint64 via_swarm = 0;
  for (guint k = 0; k < G_N_ELEMENTS (at) && ok; k++)
    {
      g_autofree gchar *text = mb_body_text (r[k]);
      g_test_message ("fetch at %s: %s", c->peers[at[k]].id, text);
      ok = r[k]->status == 200 && g_strcmp0 (mb_str (r[k], "status"), "success") == 0;
      if (!ok)
        mb_fail (__FILE__, __LINE__, "fetch", "fetch at %s: %s", c->peers[at[k]].id, text);
      g_autofree gchar *path = g_build_filename (c->peers[at[k]].dir, "downloads", NAME, NULL);
      g_autofree gchar *got = ok ? mb_file_sha (path) : NULL;
      if (ok && g_strcmp0 (got, sha) != 0)
        {
          mb_fail (__FILE__, __LINE__, "sha", "%s has SHA-256 %s, want %s", path, got, sha);
          ok = FALSE;
        }
      gint64 cs = ok ? mb_int (r[k], "chunks_swarm") : -1;
      if (ok && (cs <= 0 || cs > chunks - held[k]))
        {
          mb_fail (__FILE__, __LINE__, "chunks_swarm", "%s: %" G_GINT64_FORMAT " chunks through "
                   "the swarm; it held %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT,
                   c->peers[at[k]].id, cs, held[k], chunks);
          ok = FALSE;
        }
      via_swarm += MAX (cs, 0);
    }
  for (guint k = 0; k < G_N_ELEMENTS (at); k++)
    mb_reply_free (r[k]);
  CHECK (ok);
  gint64 needed = 0;
  for (guint k = 0; k < G_N_ELEMENTS (at); k++)
    needed += chunks - held[k];
  g_test_message ("4 fetches of %u MiB at once: %.2f s; %" G_GINT64_FORMAT " of the %"
                  G_GINT64_FORMAT " chunks they lacked came through the swarm", SIZE >> 20, secs,
                  via_swarm, needed);
  CHECKF (via_swarm * 2 > needed, "most chunks should come through the swarm");
  for (guint k = 0; k < G_N_ELEMENTS (at); k++)
    {
      gint64 down = mb_metric_at (c, at[k], "minibit_swarm_bytes_down_total");
      CHECKF (down > up0[k], "%s: minibit_swarm_bytes_down_total did not move",
              c->peers[at[k]].id);
    }

  /* /status: the swarm, whole, with its connections' flags */
  g_autoptr (Reply) st = mb_peer_http (c, 1, FALSE, "GET", "/status", NULL);
  CHECK_REPLY (st, 200, "ok");
  JsonArray *swarms = json_object_get_array_member (mb_obj (st), "swarms");
  CHECKF (swarms && json_array_get_length (swarms) >= 1, "no swarm in /status");
  JsonObject *sw = json_array_get_object_element (swarms, 0);
  const char *key = json_object_get_string_member (sw, "key");
  CHECKF (g_str_has_prefix (key, NAME "#") && strlen (key) == strlen (NAME) + 1 + 16,
          "swarm key %s", key);
  CHECK (json_object_get_int_member (sw, "pieces") == chunks);
  CHECK (json_object_get_int_member (sw, "pieces_total") == chunks);
  CHECK (json_object_has_member (sw, "connections"));
  JsonArray *conns = json_object_get_array_member (sw, "connections");
  for (guint i = 0; i < json_array_get_length (conns); i++)
    {
      JsonObject *co = json_array_get_object_element (conns, i);
      CHECK (json_object_has_member (co, "am_choking")
             && json_object_has_member (co, "peer_interested")
             && json_object_has_member (co, "optimistic")
             && json_object_has_member (co, "up_bytes_s"));
    }

  /* /status "unchokes": the choker's tallies per remote, named by peer id;
   * the payload they count is what the swarms handed over (bytes_up) */
  JsonArray *un = json_object_get_array_member (mb_obj (st), "unchokes");
  CHECKF (un != NULL, "no unchokes in /status");
  gint64 tallied = 0, handed = 0;
  for (guint i = 0; i < json_array_get_length (swarms); i++)
    handed += json_object_get_int_member (json_array_get_object_element (swarms, i),
                                          "bytes_up");
  for (guint i = 0; i < json_array_get_length (un); i++)
    {
      JsonObject *e = json_array_get_object_element (un, i);
      const char *who = json_object_get_string_member_with_default (e, "peer", "");
      gboolean known = FALSE;
      for (guint k = 0; k < N_PEERS; k++)
        known |= g_strcmp0 (who, c->peers[k].id) == 0;
      CHECKF (known, "unchokes names %s, not a peer of the cluster", who);
      CHECK (json_object_get_double_member (e, "interested_s") >= 0
             && json_object_get_double_member (e, "regular_s") >= 0
             && json_object_get_double_member (e, "seed_s") >= 0);
      tallied += json_object_get_int_member (e, "regular_bytes")
                 + json_object_get_int_member (e, "optimistic_bytes")
                 + json_object_get_int_member (e, "seed_bytes");
    }
  g_test_message ("peer1's unchoke tallies: %" G_GINT64_FORMAT " bytes over %u remotes; its "
                  "swarms handed over %" G_GINT64_FORMAT, tallied, json_array_get_length (un),
                  handed);
  CHECKF (tallied == handed, "the unchoke tallies count %" G_GINT64_FORMAT " bytes, the swarms"
          " handed over %" G_GINT64_FORMAT, tallied, handed);

  /* MiniBit's endpoints, from the live state */
  g_autoptr (Reply) hb = mb_peer_http (c, 1, FALSE, "POST", "/have_blocks_info",
                                       "{\"filename\": \"" NAME "\"}");
  CHECK_REPLY (hb, 200, "success");
  CHECK (json_object_get_boolean_member (mb_obj (hb), "in_swarm"));
  JsonArray *bi = json_object_get_array_member (mb_obj (hb), "blocks_info");
  CHECK (bi && json_array_get_length (bi) == (guint) chunks);
  for (guint i = 0; i < json_array_get_length (bi); i++)
    CHECK (json_array_get_boolean_element (bi, i));
  g_autoptr (Reply) an = mb_peer_http (c, 1, FALSE, "POST", "/announce_block",
                                       "{\"filename\": \"" NAME "\", \"block_index\": 0, "
                                       "\"sender_id\": \"stranger\"}");
  CHECK_REPLY (an, 409, "error");
  g_autoptr (Reply) rq = mb_peer_http (c, 1, FALSE, "POST", "/request_block",
                                       "{\"filename\": \"" NAME "\", \"block_index\": 0, "
                                       "\"sender_id\": \"stranger\"}");
  CHECK_REPLY (rq, 403, "error");
  CHECK (strstr (mb_str (rq, "error"), "choked") != NULL);
  return TRUE;
}

static void
test_crowd (void)
{
  Cluster *c = mb_cluster_start (1);
  if (!c)
    return;
  gboolean ok = crowd (c);
  mb_cluster_free (c, !ok);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/swarm/crowd", test_crowd);
  return g_test_run ();
}
