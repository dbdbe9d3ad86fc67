/* swarm-fixture.c — see swarm-fixture.h. */
#include "swarm-fixture.h"

#include <stdio.h>
#include <string.h>

#include "content/chunk.h"
#include "ring/ring.h"

static void
fx_push (Fx *fx, MbNodeId from, MbNodeId to, MbMessage *msg)
{
  FxItem *it = g_new0 (FxItem, 1);
  it->at = fx->now + fx->latency_us;
  it->seq = fx->seq++;
  it->from = from;
  it->to = to;
  it->msg = msg;
  /* Constant latency and non-decreasing now: appending keeps time order. */
  g_queue_push_tail (&fx->queue, it);
}

static void
fx_send (gpointer ctx, MbNodeId from, MbNodeId to, MbMessage *msg)
{
  Fx *fx = ctx;
  if (to > fx->n_peers)
    {
      FxItem *it = g_new0 (FxItem, 1);
      it->from = from;
      it->to = to;
      it->msg = msg;
      g_ptr_array_add (fx->to_fake, it);
      return;
    }
  fx_push (fx, from, to, msg);
}

static MbNodeId
fx_resolve (gpointer ctx, MbNodeId self, const char *addr)
{
  unsigned a, b, c, d, port;
  if (sscanf (addr, "%u.%u.%u.%u:%u", &a, &b, &c, &d, &port) != 5)
    return MB_NODE_NONE;
  return (MbNodeId) d;
}

static void
fx_disconnect (gpointer ctx, MbNodeId self, MbNodeId peer)
{
  Fx *fx = ctx;
  MbNodeId pair[2] = { self, peer };
  g_array_append_vals (fx->disconnects, pair, 2);
  if (peer >= 1 && peer <= fx->n_peers)
    fx_push (fx, self, peer, NULL);
}

static void
free_item (gpointer p)
{
  FxItem *it = p;
  if (it->msg)
    mb_message_free (it->msg);
  g_free (it);
}

Fx *
fx_new (guint n_peers, guint n_seeds, guint64 size, guint32 piece, const MbPeerConfig *cfg,
        guint32 seed)
{
  Fx *fx = g_new0 (Fx, 1);
  fx->host.ctx = fx;
  fx->host.send = fx_send;
  fx->host.resolve = fx_resolve;
  fx->host.disconnect = fx_disconnect;
  fx->latency_us = 10000;
  fx->check = TRUE;  /* every test runs mb_peer_check after every event */
  g_queue_init (&fx->queue);
  fx->to_fake = g_ptr_array_new_with_free_func (free_item);
  fx->disconnects = g_array_new (FALSE, FALSE, sizeof (MbNodeId));

  MbTrackerConfig tcfg;
  mb_tracker_config_init (&tcfg);
  fx->tracker = mb_tracker_new (&fx->host, 0, &tcfg, g_rand_new_with_seed (seed));

  GError *err = NULL;
  fx->manifest = mb_manifest_new (FILE_NAME, size, piece, &err);
  g_assert_no_error (err);
  guint n = mb_manifest_n_chunks (fx->manifest);
  GBytes **chunks = g_new0 (GBytes *, n);
  for (guint i = 0; i < n; i++)
    {
      guint32 len = mb_manifest_chunk_len (fx->manifest, i);
      guint8 *buf = g_malloc (len);
      mb_chunk_generate (FILE_NAME, i, buf, len);
      char id[65];
      mb_chunk_id_compute (buf, len, id);
      mb_manifest_set_chunk (fx->manifest, i, id, mb_chunk_crc_compute (buf, len), &err);
      g_assert_no_error (err);
      chunks[i] = g_bytes_new_take (buf, len);
    }

  fx->n_peers = n_peers;
  fx->peers = g_new0 (MbPeer *, n_peers + 1);
  fx->stores = g_new0 (MbStore *, n_peers + 1);
  for (guint p = 1; p <= n_peers; p++)
    {
      fx->stores[p] = mb_store_memory_new ();
      if (p <= n_seeds)
        for (guint i = 0; i < n; i++)
          {
            mb_store_put_chunk (fx->stores[p], mb_manifest_chunk_id (fx->manifest, i),
                                chunks[i], (guint32) g_bytes_get_size (chunks[i]), &err);
            g_assert_no_error (err);
          }
      g_autofree gchar *name = g_strdup_printf ("peer%u", p);
      g_autofree gchar *addr = g_strdup_printf ("10.0.0.%u:6881", p);
      fx->peers[p] = mb_peer_new (&fx->host, p, name, addr, 0, cfg, fx->stores[p],
                                  g_rand_new_with_seed (seed * 1000003u + p));
    }
  for (guint i = 0; i < n; i++)
    g_bytes_unref (chunks[i]);
  g_free (chunks);
  return fx;
}

void
fx_free (Fx *fx)
{
  for (guint p = 1; p <= fx->n_peers; p++)
    {
      mb_peer_free (fx->peers[p]);
      mb_store_free (fx->stores[p]);
    }
  g_free (fx->peers);
  g_free (fx->stores);
  mb_tracker_free (fx->tracker);
  mb_manifest_unref (fx->manifest);
  g_queue_clear_full (&fx->queue, free_item);
  g_ptr_array_unref (fx->to_fake);
  g_array_unref (fx->disconnects);
  g_free (fx);
}

void
fx_start (Fx *fx, guint i)
{
  mb_peer_add_swarm (fx->peers[i], fx->manifest, fx->now);
}

void
fx_start_all (Fx *fx)
{
  for (guint p = 1; p <= fx->n_peers; p++)
    fx_start (fx, p);
}

/* With fx->check: the peer that just handled an event must keep every
 * invariant (mb_peer_check); a violation fails the test with its reason. */
static void
check_peer (Fx *fx, MbNodeId node)
{
  if (!fx->check || node < 1 || node > fx->n_peers)
    return;
  g_autoptr (GString) why = g_string_new (NULL);
  if (!mb_peer_check (fx->peers[node], why))
    g_error ("t=%" G_GUINT64_FORMAT " us: invariant broken: %s", fx->now, why->str);
  fx->checks++;
}

static void
deliver (Fx *fx, FxItem *it)
{
  MbNodeId to = it->to;
  if (it->to == 0)
    {
      if (it->msg)
        mb_tracker_receive (fx->tracker, it->from, it->msg, fx->now);
    }
  else if (it->msg)
    mb_peer_receive (fx->peers[it->to], it->from, it->msg, fx->now);
  else
    mb_peer_on_disconnect (fx->peers[it->to], it->from, fx->now);
  fx->delivered++;
  free_item (it);
  check_peer (fx, to);
}

static guint64
next_expiry (Fx *fx, gint *who)
{
  guint64 t = mb_tracker_next_expiry (fx->tracker);
  *who = 0;
  for (guint p = 1; p <= fx->n_peers; p++)
    {
      guint64 e = mb_peer_next_expiry (fx->peers[p]);
      if (e < t)
        {
          t = e;
          *who = (gint) p;
        }
    }
  return t;
}

guint64
fx_run (Fx *fx, guint64 t_end, gboolean (*stop) (Fx *fx))
{
  guint64 events = 0;
  for (;;)
    {
      if (stop && stop (fx))
        break;
      FxItem *head = g_queue_peek_head (&fx->queue);
      gint who;
      guint64 te = next_expiry (fx, &who);
      guint64 tm = head ? head->at : MB_TIME_NEVER;
      guint64 t = MIN (te, tm);
      if (t == MB_TIME_NEVER || t > t_end)
        break;
      if (t > fx->now)
        fx->now = t;
      if (tm <= te)
        deliver (fx, g_queue_pop_head (&fx->queue));
      else if (who == 0)
        mb_tracker_handle_expiry (fx->tracker, fx->now);
      else
        {
          mb_peer_handle_expiry (fx->peers[who], fx->now);
          check_peer (fx, (MbNodeId) who);
        }
      events++;
    }
  if (fx->now < t_end && t_end != MB_TIME_NEVER && !(stop && stop (fx)))
    fx->now = t_end;
  return events;
}

gboolean
fx_all_complete (Fx *fx)
{
  for (guint p = 1; p <= fx->n_peers; p++)
    {
      MbPeerStats st;
      if (!mb_peer_stats (fx->peers[p], FILE_NAME, &st) || st.pieces != st.n_pieces)
        return FALSE;
    }
  return TRUE;
}

void
fx_inject (Fx *fx, MbNodeId from, guint i, MbMessage *msg)
{
  mb_peer_receive (fx->peers[i], from, msg, fx->now);
  mb_message_free (msg);
}

gboolean
fx_dropped (Fx *fx, MbNodeId self, MbNodeId peer)
{
  for (guint k = 0; k + 1 < fx->disconnects->len; k += 2)
    if (g_array_index (fx->disconnects, MbNodeId, k) == self
        && g_array_index (fx->disconnects, MbNodeId, k + 1) == peer)
      return TRUE;
  return FALSE;
}

gboolean
fx_store_verifies (Fx *fx, guint i)
{
  g_autoptr (GPtrArray) ids = mb_store_list_chunks (fx->stores[i]);
  for (guint k = 0; k < ids->len; k++)
    {
      GBytes *data = NULL;
      guint32 len = 0;
      if (!mb_store_get_chunk (fx->stores[i], ids->pdata[k], &data, &len, NULL) || !data)
        return FALSE;
      char got[65];
      gsize n;
      const guint8 *bytes = g_bytes_get_data (data, &n);
      mb_chunk_id_compute (bytes, n, got);
      g_bytes_unref (data);
      if (strcmp (got, ids->pdata[k]) != 0)
        return FALSE;
    }
  return TRUE;
}

MbMessage *
fx_take_fake_message (Fx *fx, MbNodeId to, MbMsgType type)
{
  for (guint k = 0; k < fx->to_fake->len; k++)
    {
      FxItem *it = fx->to_fake->pdata[k];
      if (it->to == to && it->msg && it->msg->type == type)
        {
          MbMessage *m = it->msg;
          it->msg = NULL;
          g_ptr_array_remove_index (fx->to_fake, k);
          return m;
        }
    }
  return NULL;
}

void
fx_fake_connect (Fx *fx, MbNodeId fake, guint i, const MbBitfield *bf)
{
  MbMessage *hello = mb_message_new (MB_MSG_HANDSHAKE);
  hello->file = g_strdup (FILE_NAME);
  hello->name = g_strdup_printf ("fake%u", fake);
  hello->addr = g_strdup_printf ("10.0.0.%u:6881", fake);
  hello->code = 0;
  fx_inject (fx, fake, i, hello);
  g_autoptr (MbMessage) accept = fx_take_fake_message (fx, fake, MB_MSG_HANDSHAKE);
  g_assert_nonnull (accept);
  g_assert_cmpuint (accept->code, ==, 1);
  g_autoptr (MbMessage) their_bf = fx_take_fake_message (fx, fake, MB_MSG_BITFIELD);
  g_assert_nonnull (their_bf);
  if (bf)
    {
      MbMessage *m = mb_message_new (MB_MSG_BITFIELD);
      m->swarm = their_bf->swarm;
      m->data = mb_bitfield_to_bytes (bf);
      fx_inject (fx, fake, i, m);
    }
  g_assert_true (mb_peer_is_connected (fx->peers[i], FILE_NAME, fake));
}

MbMessage *
fx_swarm_msg (Fx *fx, MbMsgType type)
{
  MbMessage *m = mb_message_new (type);
  m->swarm = (guint32) mb_ring_hash_str (FILE_NAME);
  return m;
}
