/* ringpeer.c — the ring peer's state, views and requests: the window of
 * requests in flight to each target, their timeouts, and how an answer, a
 * timeout or a disconnect reaches the operation that sent the request.  The
 * server side is in ringpeer-serve.c; the operations in op*.c.
 *
 * Invariants (see ringpeer-private.h): at most cfg.window requests in flight
 * per target (sent, or bulk ones held for the uplink: ringpeer-uplink.c),
 * the rest queued unsent; every sent request is in `rpcs` and in
 * `timeouts` (deadline order); a finished one leaves `rpcs` at once and
 * `timeouts` lazily; every request counts in its op's `pending` until it is
 * answered or fails.  Entry points pass `now` down; nothing keeps it.
 */
#define MB_RING_PEER_INTERNAL
#include "ring/ringpeer-private.h"

#include <string.h>

void
mb_ringpeer_config_init (MbRingPeerConfig *cfg)
{
  memset (cfg, 0, sizeof *cfg);
  cfg->replication = 3;
  cfg->chunk_size = 256 * 1024;
  cfg->max_hops = 3;
  cfg->per_holder = 4;
  cfg->window = 16;
  cfg->rpc_timeout_us = 10 * MB_USEC_PER_SEC;
  cfg->uplink_low = 512 * 1024;
  cfg->uplink_poll_us = 10 * 1000;
  cfg->write_quorum = 0;    /* a majority of R, decided with R */
  cfg->read_quorum = 0;     /* R - W + 1 */
  cfg->handoff_tries = 4;
  cfg->swarm_stall_us = 3 * MB_USEC_PER_SEC;
}

static void
window_free (gpointer p)
{
  MbiWindow *w = p;
  g_queue_clear_full (&w->waiting, (GDestroyNotify) mbi_rp_rpc_free);
  g_free (w);
}

static MbiWindow *
window_of (MbRingPeer *rp, const char *target)
{
  MbiWindow *w = g_hash_table_lookup (rp->windows, target);
  if (!w)
    {
      w = g_new0 (MbiWindow, 1);
      g_queue_init (&w->waiting);
      g_hash_table_insert (rp->windows, g_strdup (target), w);
    }
  return w;
}

MbRingPeer *
mb_ringpeer_new (const MbHost *host, MbNodeId self, const char *self_addr,
                 const MbRingPeerConfig *cfg, MbStore *store, MbRing *view, GRand *rand)
{
  MbRingPeer *rp = g_new0 (MbRingPeer, 1);
  rp->host = host;
  rp->self = self;
  rp->addr = g_strdup (self_addr);
  rp->cfg = *cfg;
  if (rp->cfg.replication == 0)
    rp->cfg.replication = 1;
  if (rp->cfg.per_holder == 0)
    rp->cfg.per_holder = 1;
  if (rp->cfg.window == 0)
    rp->cfg.window = 1;
  rp->store = store;
  rp->view = mb_ring_ref (view);
  rp->rand = rand;
  rp->next_req = 1;
  rp->rpcs = g_hash_table_new (g_direct_hash, g_direct_equal);
  rp->windows = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, window_free);
  g_queue_init (&rp->timeouts);
  g_queue_init (&rp->uplink);
  rp->uplink_wake = MB_TIME_NEVER;
  rp->ops = g_ptr_array_new ();
  rp->gone = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  rp->leavers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  rp->suspects = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return rp;
}

void
mbi_rp_rpc_free (Rpc *r)
{
  if (r->msg)
    mb_message_free (r->msg);
  g_free (r->key);
  g_free (r->target);
  g_free (r);
}

void
mb_ringpeer_free (MbRingPeer *rp)
{
  if (!rp)
    return;
  if (rp->swarm)
    mb_peer_set_piece_observer (rp->swarm, NULL, NULL);
  for (guint i = 0; i < rp->ops->len; i++)
    mbi_op_free (rp->ops->pdata[i]);
  g_ptr_array_unref (rp->ops);
  g_queue_clear_full (&rp->timeouts, (GDestroyNotify) mbi_rp_rpc_free);
  mbi_uplink_clear (rp);
  g_hash_table_unref (rp->rpcs);
  g_hash_table_unref (rp->windows);
  g_hash_table_unref (rp->gone);
  g_hash_table_unref (rp->leavers);
  g_hash_table_unref (rp->suspects);
  mb_ring_unref (rp->view);
  g_rand_free (rp->rand);
  g_free (rp->addr);
  g_free (rp);
}

MbRing *
mb_ringpeer_view (const MbRingPeer *rp)
{
  return rp->view;
}

gboolean
mb_ringpeer_is_leaving (const MbRingPeer *rp)
{
  return rp->leaving;
}

void
mb_ringpeer_stats (const MbRingPeer *rp, MbRingPeerStats *out)
{
  *out = rp->stats;
}

GArray *
mb_ringpeer_progress (const MbRingPeer *rp)
{
  GArray *out = g_array_new (FALSE, TRUE, sizeof (MbRingOpProgress));
  for (guint i = 0; i < rp->ops->len; i++)
    {
      const RingOp *op = rp->ops->pdata[i];
      if (!op->vt->progress || op->reported)
        continue;
      MbRingOpProgress p = { 0 };
      p.kind = op->vt->name;
      p.name = op->name;
      op->vt->progress (op, &p);
      g_array_append_val (out, p);
    }
  return out;
}

/* ---- helpers ---- */

MbNodeId
mbi_rp_node (MbRingPeer *rp, const char *member)
{
  return rp->host->resolve (rp->host->ctx, rp->self, member);
}

gboolean
mbi_rp_is_self (const MbRingPeer *rp, const char *member)
{
  return g_strcmp0 (member, rp->addr) == 0;
}

void
mbi_owners_init (MbiOwners *o, const MbRing *view, const char *key, guint r)
{
  r = MIN (r, mb_ring_n_members (view));
  o->names = r <= MBI_OWNERS_INLINE ? o->inline_names : g_new (const char *, r);
  guint small[MBI_OWNERS_INLINE];
  guint *idx = r <= MBI_OWNERS_INLINE ? small : g_new (guint, r);
  o->n = r ? mb_ring_preference_list (view, key, r, idx) : 0;
  for (guint i = 0; i < o->n; i++)
    o->names[i] = mb_ring_member (view, idx[i]);
  if (idx != small)
    g_free (idx);
}

void
mbi_owners_clear (MbiOwners *o)
{
  if (o->names != o->inline_names)
    g_free (o->names);
  o->names = o->inline_names;
  o->n = 0;
}

gboolean
mbi_owners_has (const MbiOwners *o, const char *member)
{
  return mbi_rp_in_list (o->names, o->n, member);
}

void
mbi_rp_prune_gone (MbRingPeer *rp, MbManifest *m)
{
  if (g_hash_table_size (rp->gone) == 0)
    return;
  for (guint i = 0; i < mb_manifest_n_chunks (m); i++)
    for (guint h = mb_manifest_n_holders (m, i); h-- > 0;)
      if (g_hash_table_contains (rp->gone, mb_manifest_holder (m, i, h)))
        mb_manifest_remove_holder (m, i, mb_manifest_holder (m, i, h));
}

/* R' = min(R, the ring's size), where the size counts the members taken
 * for crashed beside the view: a peer cut off from the others (that it
 * took for crashed, as they took it) is one member of a larger ring, not a
 * ring of one that may acknowledge a store with a single copy; only a ring
 * that is small (members that were never more, or that left gracefully)
 * shrinks R'. */
MbiQuorums
mbi_rp_quorums (const MbRingPeer *rp)
{
  MbiQuorums q;
  guint size = mb_ring_n_members (rp->view) + g_hash_table_size (rp->suspects);
  q.r = MAX (1, MIN (rp->cfg.replication, size));
  q.w = rp->cfg.write_quorum ? MIN (rp->cfg.write_quorum, q.r) : q.r / 2 + 1;
  q.q = rp->cfg.read_quorum ? MIN (rp->cfg.read_quorum, q.r) : q.r - q.w + 1;
  return q;
}

gboolean
mbi_rp_note_leaving (MbRingPeer *rp, const char *member, const MbMessage *msg)
{
  if (!msg || msg->type != MB_MSG_ERROR || msg->code != MB_ERR_LEAVING)
    return FALSE;
  if (member && !g_hash_table_contains (rp->leavers, member))
    g_hash_table_add (rp->leavers, g_strdup (member));
  return TRUE;
}

gboolean
mbi_rp_is_leaver (const MbRingPeer *rp, const char *member)
{
  return g_hash_table_contains (rp->leavers, member);
}

gboolean
mbi_rp_in_list (const char *const *list, guint n, const char *member)
{
  for (guint i = 0; i < n; i++)
    if (g_strcmp0 (list[i], member) == 0)
      return TRUE;
  return FALSE;
}

/* ---- requests we send ---- */

void
mbi_rp_launch (MbRingPeer *rp, Rpc *r, MbMessage *msg, guint64 now)
{
  MbiWindow *w = window_of (rp, r->target);
  r->msg = NULL;
  r->sent_at = now;
  r->seq = ++w->launched;
  r->deadline = now + rp->cfg.rpc_timeout_us;
  g_hash_table_insert (rp->rpcs, GUINT_TO_POINTER (r->req), r);
  g_queue_push_tail (&rp->timeouts, r);
  if (r->to == MB_NODE_NONE)
    mb_message_free (msg); /* unreachable: it will time out */
  else
    mb_host_send (rp->host, rp->self, r->to, msg);
}

/* r takes a place in its target's window: on the wire now, or held until
 * the uplink can take it (a bulk request). */
static void
rpc_admit (MbRingPeer *rp, MbiWindow *w, Rpc *r, MbMessage *msg, guint64 now)
{
  w->inflight++;
  if (mbi_uplink_holds (rp, r))
    mbi_uplink_hold (rp, r, msg, now);
  else
    mbi_rp_launch (rp, r, msg, now);
}

/* A place in the target's window is free: the next waiting request goes. */
static void
window_release (MbRingPeer *rp, const char *target, guint64 now)
{
  MbiWindow *w = g_hash_table_lookup (rp->windows, target);
  if (!w)
    return;
  if (w->inflight > 0)
    w->inflight--;
  Rpc *next = g_queue_pop_head (&w->waiting);
  if (next)
    rpc_admit (rp, w, next, next->msg, now);
}

void
mbi_rp_fail_unsent (MbRingPeer *rp, Rpc *r, guint64 now)
{
  r->done = TRUE;
  window_release (rp, r->target, now);
  mbi_op_reply (r->op, r, NULL, now);
  mbi_rp_rpc_free (r);
}

Rpc *
mbi_rp_send (MbRingPeer *rp, RingOp *op, RpcKind kind, const char *target, MbMessage *msg,
             guint32 index, guint64 bytes, guint64 now)
{
  Rpc *r = g_new0 (Rpc, 1);
  r->req = rp->next_req++;
  if (rp->next_req == 0)
    rp->next_req = 1;
  r->kind = kind;
  r->target = g_strdup (target);
  r->to = mbi_rp_node (rp, target);
  r->op = op;
  r->index = index;
  r->bytes = bytes;
  msg->req = r->req;
  op->pending++;
  MbiWindow *w = window_of (rp, target);
  if (w->inflight >= rp->cfg.window)
    {
      r->msg = msg;
      g_queue_push_tail (&w->waiting, r);
      return r;
    }
  rpc_admit (rp, w, r, msg, now);
  return r;
}

static void
rpc_finish (MbRingPeer *rp, Rpc *r, const MbMessage *msg, guint64 now)
{
  MbiWindow *w = msg ? g_hash_table_lookup (rp->windows, r->target) : NULL;
  if (w)
    {
      w->answered_at = now;
      w->answered_seq = MAX (w->answered_seq, r->seq);
    }
  r->done = TRUE;
  g_hash_table_remove (rp->rpcs, GUINT_TO_POINTER (r->req));
  window_release (rp, r->target, now);
  mbi_rp_note_leaving (rp, r->target, msg);
  mbi_op_reply (r->op, r, msg, now);
}

guint
mb_ringpeer_requests_to_members (const MbRingPeer *rp)
{
  guint n = 0;
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, rp->rpcs);
  while (g_hash_table_iter_next (&it, NULL, &value))
    n += mb_ring_contains (rp->view, ((const Rpc *) value)->target);
  g_hash_table_iter_init (&it, rp->windows);
  while (g_hash_table_iter_next (&it, NULL, &value))
    for (GList *l = ((MbiWindow *) value)->waiting.head; l; l = l->next)
      n += mb_ring_contains (rp->view, ((const Rpc *) l->data)->target);
  for (GList *l = rp->uplink.head; l; l = l->next)
    n += mb_ring_contains (rp->view, ((const Rpc *) l->data)->target);
  return n;
}

guint64
mb_ringpeer_next_expiry (const MbRingPeer *rp)
{
  guint64 t = MB_TIME_NEVER;
  for (GList *l = rp->timeouts.head; l; l = l->next)
    {
      Rpc *r = l->data;
      if (!r->done)
        {
          t = r->deadline;
          break;
        }
    }
  t = MIN (t, mbi_uplink_next_expiry (rp));
  for (guint i = 0; i < rp->ops->len; i++)
    {
      const RingOp *op = rp->ops->pdata[i];
      if (op->vt->next_expiry)
        t = MIN (t, op->vt->next_expiry (op));
    }
  return t;
}

void
mb_ringpeer_set_swarm (MbRingPeer *rp, MbPeer *swarm)
{
  if (rp->swarm)
    mb_peer_set_piece_observer (rp->swarm, NULL, NULL);
  rp->swarm = swarm;
  if (swarm)
    mb_peer_set_piece_observer (swarm, mbi_rp_on_swarm_piece, rp);
}

static void
drop_done_heads (MbRingPeer *rp)
{
  Rpc *r;
  while ((r = g_queue_peek_head (&rp->timeouts)) && r->done)
    mbi_rp_rpc_free (g_queue_pop_head (&rp->timeouts));
}

/* A request due now whose target has answered, since it went out, only
 * requests sent before it (so it waits its turn behind them on a slow link,
 * it was not skipped): its new deadline, another rpc_timeout from that
 * answer, capped at RPC_PATIENCE rpc_timeouts after it was sent; 0 if it
 * has none (it times out now). */
static guint64
rpc_extended_deadline (MbRingPeer *rp, const Rpc *r, guint64 now)
{
  const MbiWindow *w = g_hash_table_lookup (rp->windows, r->target);
  if (!w || w->answered_at <= r->sent_at || w->answered_seq > r->seq)
    return 0;
  guint64 t = MIN (w->answered_at + rp->cfg.rpc_timeout_us,
                   r->sent_at + RPC_PATIENCE * rp->cfg.rpc_timeout_us);
  return t > now ? t : 0;
}

/* Puts r (not in the queue) back into timeouts at its deadline's place. */
static void
timeouts_insert (MbRingPeer *rp, Rpc *r)
{
  GList *l = rp->timeouts.tail;
  while (l && ((Rpc *) l->data)->deadline > r->deadline)
    l = l->prev;
  if (l)
    g_queue_insert_after (&rp->timeouts, l, r);
  else
    g_queue_push_head (&rp->timeouts, r);
}

void
mb_ringpeer_handle_expiry (MbRingPeer *rp, guint64 now)
{
  drop_done_heads (rp);
  Rpc *r;
  while ((r = g_queue_peek_head (&rp->timeouts)) && r->deadline <= now)
    {
      if (!r->done)
        {
          guint64 later = rpc_extended_deadline (rp, r, now);
          if (later)
            {
              g_queue_pop_head (&rp->timeouts);
              r->deadline = later;
              rp->stats.rpc_extended++;
              timeouts_insert (rp, r);
              continue;
            }
          rp->stats.rpc_timeouts++;
          rpc_finish (rp, r, NULL, now);
        }
      drop_done_heads (rp);
    }
  if (mbi_uplink_next_expiry (rp) <= now)
    mbi_uplink_handle_expiry (rp, now);
  /* Ops with deadlines of their own, in creation order; one may report
   * (and leave rp->ops), so each step looks the next one up by serial. */
  guint64 after = 0;
  for (;;)
    {
      RingOp *due = NULL;
      for (guint i = 0; i < rp->ops->len && !due; i++)
        {
          RingOp *op = rp->ops->pdata[i];
          if (op->serial >= after && op->vt->next_expiry && op->vt->next_expiry (op) <= now)
            due = op;
        }
      if (!due)
        break;
      after = due->serial + 1;
      due->vt->on_expiry (due, now);
    }
}

static gint
cmp_req (gconstpointer a, gconstpointer b)
{
  guint32 x = (*(Rpc *const *) a)->req, y = (*(Rpc *const *) b)->req;
  return (x > y) - (x < y);
}

void
mb_ringpeer_on_disconnect (MbRingPeer *rp, MbNodeId node, guint64 now)
{
  /* Those waiting for that peer fail too, without being sent. */
  GHashTableIter it;
  gpointer key, value;
  g_autoptr (GPtrArray) failed = g_ptr_array_new ();
  g_hash_table_iter_init (&it, rp->windows);
  while (g_hash_table_iter_next (&it, &key, &value))
    {
      MbiWindow *w = value;
      for (GList *l = w->waiting.head; l; l = l->next)
        if (((Rpc *) l->data)->to == node)
          g_ptr_array_add (failed, l->data);
    }
  g_ptr_array_sort (failed, cmp_req);
  for (guint i = 0; i < failed->len; i++)
    {
      Rpc *r = failed->pdata[i];
      MbiWindow *w = g_hash_table_lookup (rp->windows, r->target);
      g_queue_remove (&w->waiting, r);
      r->done = TRUE;
      mbi_op_reply (r->op, r, NULL, now);
      mbi_rp_rpc_free (r);
    }
  /* Those held for the uplink, unsent too. */
  mbi_uplink_fail_to (rp, node, now);
  /* Those sent to it: the ones on the wire now (a request an op sends in
   * answer to these failures goes on a new connection and stays). */
  g_ptr_array_set_size (failed, 0);
  for (GList *l = rp->timeouts.head; l; l = l->next)
    {
      Rpc *r = l->data;
      if (!r->done && r->to == node)
        g_ptr_array_add (failed, r);
    }
  for (guint i = 0; i < failed->len; i++)
    {
      Rpc *r = failed->pdata[i];
      if (!r->done)
        rpc_finish (rp, r, NULL, now);
    }
  drop_done_heads (rp);
}

/* ---- views ---- */

void
mb_ringpeer_set_view (MbRingPeer *rp, MbRing *view, gboolean repair, guint64 now)
{
  MbRing *old = rp->view;
  rp->view = mb_ring_ref (view);
  gboolean lost = FALSE, gained = FALSE;
  for (guint i = 0; i < mb_ring_n_members (old); i++)
    if (!mb_ring_contains (view, mb_ring_member (old, i)))
      {
        lost = TRUE;
        g_hash_table_add (rp->gone, g_strdup (mb_ring_member (old, i)));
        g_hash_table_remove (rp->leavers, mb_ring_member (old, i));
        /* crashed, or cut off: it may be alive and hold keys; a leaver is not */
        if (repair)
          g_hash_table_add (rp->suspects, g_strdup (mb_ring_member (old, i)));
        else
          g_hash_table_remove (rp->suspects, mb_ring_member (old, i));
      }
  for (guint i = 0; i < mb_ring_n_members (view); i++)
    if (!mb_ring_contains (old, mb_ring_member (view, i)))
      {
        gained = TRUE;
        g_hash_table_remove (rp->gone, mb_ring_member (view, i));
        g_hash_table_remove (rp->leavers, mb_ring_member (view, i));
        g_hash_table_remove (rp->suspects, mb_ring_member (view, i));
      }
  /* A crash needs repair; a join needs the manifests pushed to new owners;
   * a graceful leave handed its keys over, but the holder lists of the
   * manifests it did not hold still name it: repair puts them right. */
  if ((lost || gained) && !rp->leaving)
    mbi_rp_repair (rp, old, lost && !repair, now);
  mb_ring_unref (old);
}

/* ---- messages ---- */

gboolean
mb_ringpeer_receive (MbRingPeer *rp, MbNodeId from, const MbMessage *msg, guint64 now)
{
  if (mb_message_family (msg->type) != MB_FAMILY_RING)
    return FALSE;
  if (mbi_rp_serve (rp, from, msg, now))
    return TRUE;
  /* A reply: match it to its request. */
  Rpc *r = g_hash_table_lookup (rp->rpcs, GUINT_TO_POINTER (msg->req));
  if (r && !r->done && r->to == from)
    rpc_finish (rp, r, msg, now);
  drop_done_heads (rp);
  /* the uplink may have drained since the last look */
  mbi_uplink_pump (rp, now);
  return TRUE;
}
