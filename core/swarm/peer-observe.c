/* peer-observe.c — what a peer tells about itself beyond its stats (peer.h
 * "introspection"): its swarms, each connection's choke and interest
 * flags and rates, and totals over every swarm ever joined.  Read-only. */
#define MB_SWARM_PEER_INTERNAL
#include "swarm/peer-private.h"

void
mb_peer_swarm_keys (const MbPeer *p, GPtrArray *out)
{
  for (guint i = 0; i < p->swarms->len; i++)
    g_ptr_array_add (out, ((Swarm *) p->swarms->pdata[i])->file);
}

const MbManifest *
mb_peer_swarm_manifest (const MbPeer *p, const char *key)
{
  Swarm *sw = mbi_peer_swarm_by_file (p, key);
  return sw ? sw->manifest : NULL;
}

/* Bytes per second over the last full rechoke round and the one running. */
static guint64
rate (const MbPeer *p, guint64 prev, guint64 cur, guint64 now)
{
  guint64 round = p->cfg.rechoke_interval_us;
  guint64 started = p->next_rechoke != MB_TIME_NEVER && p->next_rechoke >= round
                    ? p->next_rechoke - round : now;
  guint64 span = round + (now > started ? now - started : 0);
  return span ? (prev + cur) * MB_USEC_PER_SEC / span : 0;
}

gboolean
mb_peer_conns (const MbPeer *p, const char *key, guint64 now, GArray *out)
{
  Swarm *sw = mbi_peer_swarm_by_file (p, key);
  if (!sw)
    return FALSE;
  for (guint i = 0; i < sw->n_conns; i++)
    {
      const Conn *c = sw->conns[i];
      MbPeerConnInfo info = {
        .node = c->node,
        .name = c->name,
        .addr = c->addr,
        .established = c->established,
        .am_choking = c->am_choking,
        .am_interested = c->am_interested,
        .peer_choking = c->peer_choking,
        .peer_interested = c->peer_interested,
        .optimistic = sw->optimistic_node == c->node,
        .down_bytes_s = rate (p, c->down_prev, c->down_cur, now),
        .up_bytes_s = rate (p, c->up_prev, c->up_cur, now),
        .remote_pieces = c->remote ? mb_bitfield_count (c->remote) : 0,
        .requests_out = c->out_reqs.len,
        .uploads_queued = c->upq.len - c->upq.head,
        .stalled = c->stalled,
      };
      g_array_append_val (out, info);
    }
  return TRUE;
}

void
mb_peer_totals (const MbPeer *p, MbPeerTotals *out)
{
  *out = p->totals;
}

gboolean
mb_peer_remote_has_piece (const MbPeer *p, const char *key, MbNodeId remote, guint piece)
{
  Swarm *sw = mbi_peer_swarm_by_file (p, key);
  Conn *c = sw ? mbi_swarm_conn (sw, remote) : NULL;
  return c && c->remote && piece < sw->n_pieces && mb_bitfield_test (c->remote, piece);
}
