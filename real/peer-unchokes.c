/* peer-unchokes.c — who this peer unchoked, as its choker decided: the
 * core's tallies (MbUnchokeTally, core/swarm/peer-unchokes.c) summed per
 * remote peer over the peer's life, for GET /status's "unchokes" (what
 * minibit-sim sums into unchokes.csv; tools/emulate writes the same file
 * from every peer's last /status).
 *
 * A remote is named by the peer id of its authenticated hello (else its
 * wire address); tallies of every swarm the peer was in add up, as in the
 * simulator.  The table is bounded: past MBI_UNCHOKES_MAX remotes (a
 * stranger cycling names must not grow it), new ones add to one
 * "(others)" row. */
#define G_LOG_DOMAIN "minibit"

#include <json-glib/json-glib.h>

#define MB_REAL_PEER_INTERNAL
#include "peer-private.h"

#define MBI_UNCHOKES_MAX 4096
#define MBI_UNCHOKES_OTHERS "(others)"

static void
on_tally (gpointer data, const char *key, MbNodeId remote, const MbUnchokeTally *t)
{
  (void) key;
  MbPeerApp *app = data;
  const char *name = mb_transport_node_name (app->transport, remote);
  if (name == NULL || !name[0])
    name = mb_transport_node_addr (app->transport, remote);
  if (name == NULL || !name[0])
    name = MBI_UNCHOKES_OTHERS;
  MbUnchokeTally *a = g_hash_table_lookup (app->unchokes, name);
  if (a == NULL && g_hash_table_size (app->unchokes) >= MBI_UNCHOKES_MAX)
    {
      name = MBI_UNCHOKES_OTHERS;
      a = g_hash_table_lookup (app->unchokes, name);
    }
  if (a == NULL)
    {
      a = g_new0 (MbUnchokeTally, 1);
      g_hash_table_insert (app->unchokes, g_strdup (name), a);
    }
  mb_unchoke_tally_add (a, t);
}

void
mbi_peer_unchokes_start (MbPeerApp *app)
{
  app->unchokes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  mb_peer_set_unchoke_observer (app->swarm, on_tally, app);
}

void
mbi_peer_unchokes_free (MbPeerApp *app)
{
  if (app->swarm)
    mb_peer_set_unchoke_observer (app->swarm, NULL, NULL);
  g_clear_pointer (&app->unchokes, g_hash_table_unref);
}

static void
add_num (JsonBuilder *b, const char *key, guint64 v, gboolean seconds)
{
  json_builder_set_member_name (b, key);
  if (seconds)
    json_builder_add_double_value (b, (double) v / 1e6);
  else
    json_builder_add_int_value (b, (gint64) MIN (v, (guint64) G_MAXINT64));
}

void
mbi_peer_unchokes_json (MbPeerApp *app, JsonBuilder *b)
{
  json_builder_set_member_name (b, "unchokes");
  json_builder_begin_array (b);
  if (app->swarm && app->unchokes)
    {
      /* the open connections' tallies up to now (changes nothing else) */
      mb_peer_flush_unchokes (app->swarm, mb_clock_now ());
      g_autoptr (GList) names = g_hash_table_get_keys (app->unchokes);
      names = g_list_sort (names, (GCompareFunc) g_strcmp0);
      for (GList *l = names; l; l = l->next)
        {
          const MbUnchokeTally *t = g_hash_table_lookup (app->unchokes, l->data);
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "peer");
          json_builder_add_string_value (b, l->data);
          add_num (b, "regular_s", t->regular_us, TRUE);
          add_num (b, "optimistic_s", t->optimistic_us, TRUE);
          add_num (b, "seed_s", t->seed_us, TRUE);
          add_num (b, "interested_s", t->interested_us, TRUE);
          add_num (b, "regular_bytes", t->regular_bytes, FALSE);
          add_num (b, "optimistic_bytes", t->optimistic_bytes, FALSE);
          add_num (b, "seed_bytes", t->seed_bytes, FALSE);
          json_builder_end_object (b);
        }
    }
  json_builder_end_array (b);
}
