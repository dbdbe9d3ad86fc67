/* ringpeer.c — the ring peer's state, views, requests and the server side
 * (store_chunk, store_manifest, update_manifest, get_chunk, get_manifest,
 * ping, leave_notice).  Client operations are in ringpeer-ops.c.
 *
 * Server rules:
 *  - a chunk is stored only if its content matches its id (real content);
 *  - a manifest is stored only if it validates; one that arrives for a name
 *    already held is merged (holders united), so concurrent updates keep
 *    every new holder;
 *  - a manifest asked of a peer that neither holds it nor owns it in its
 *    own view gets REDIRECT to the owner in that view.
 * Refused input is counted in the stats and leaves the store unchanged.
 */
#define MB_RING_PEER_INTERNAL
#include "ring/ringpeer-private.h"

#include <string.h>

#include "content/chunk.h"

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
}

/* A target's window: how many requests are in flight to it, and those
 * waiting for a place. */
typedef struct {
  guint inflight;
  GQueue waiting;   /* Rpc* */
} Window;

static void rpc_free (Rpc *r);

static void
window_free (gpointer p)
{
  Window *w = p;
  g_queue_clear_full (&w->waiting, (GDestroyNotify) rpc_free);
  g_free (w);
}

static Window *
window_of (MbRingPeer *rp, const char *target)
{
  Window *w = g_hash_table_lookup (rp->windows, target);
  if (!w)
    {
      w = g_new0 (Window, 1);
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
  rp->ops = g_ptr_array_new ();
  rp->gone = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return rp;
}

static void
rpc_free (Rpc *r)
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
  for (guint i = 0; i < rp->ops->len; i++)
    mbi_op_free (rp->ops->pdata[i]);
  g_ptr_array_unref (rp->ops);
  g_queue_clear_full (&rp->timeouts, (GDestroyNotify) rpc_free);
  g_hash_table_unref (rp->rpcs);
  g_hash_table_unref (rp->windows);
  g_hash_table_unref (rp->gone);
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

guint
mbi_rp_owners (const MbRing *view, const char *key, guint r, const char **out)
{
  guint idx[64];
  r = MIN (r, G_N_ELEMENTS (idx));
  guint n = mb_ring_preference_list (view, key, r, idx);
  for (guint i = 0; i < n; i++)
    out[i] = mb_ring_member (view, idx[i]);
  return n;
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

gboolean
mbi_rp_in_list (const char *const *list, guint n, const char *member)
{
  for (guint i = 0; i < n; i++)
    if (g_strcmp0 (list[i], member) == 0)
      return TRUE;
  return FALSE;
}

guint32
mbi_rp_chunk_len (const MbManifest *m, guint i)
{
  return mb_manifest_chunk_len (m, i);
}

gboolean
mbi_rp_local_chunk (MbRingPeer *rp, const char *id, GBytes **data, guint32 *len)
{
  return mb_store_get_chunk (rp->store, id, data, len, NULL);
}

static void
reply (MbRingPeer *rp, MbNodeId to, MbMessage *m)
{
  mb_host_send (rp->host, rp->self, to, m);
}

static void
reply_error (MbRingPeer *rp, MbNodeId to, guint32 req, MbErrCode code, const char *text)
{
  MbMessage *m = mb_message_new (MB_MSG_ERROR);
  m->req = req;
  m->code = code;
  m->text = g_strdup (text);
  reply (rp, to, m);
}

static void
reply_ok (MbRingPeer *rp, MbNodeId to, guint32 req, guint32 count)
{
  MbMessage *m = mb_message_new (MB_MSG_OK);
  m->req = req;
  m->count = count;
  reply (rp, to, m);
}

/* ---- requests we send ---- */

/* Puts r on the wire: its deadline starts now. */
static void
rpc_launch (MbRingPeer *rp, Window *w, Rpc *r, MbMessage *msg)
{
  w->inflight++;
  r->msg = NULL;
  r->deadline = rp->now + rp->cfg.rpc_timeout_us;
  g_hash_table_insert (rp->rpcs, GUINT_TO_POINTER (r->req), r);
  g_queue_push_tail (&rp->timeouts, r);
  if (r->to == MB_NODE_NONE)
    mb_message_free (msg); /* unreachable: it will time out */
  else
    mb_host_send (rp->host, rp->self, r->to, msg);
}

/* A place in the target's window is free: the next waiting request goes. */
static void
window_release (MbRingPeer *rp, const char *target)
{
  Window *w = g_hash_table_lookup (rp->windows, target);
  if (!w)
    return;
  if (w->inflight > 0)
    w->inflight--;
  Rpc *next = g_queue_pop_head (&w->waiting);
  if (next)
    rpc_launch (rp, w, next, next->msg);
}

Rpc *
mbi_rp_send (MbRingPeer *rp, Op *op, RpcKind kind, const char *target, MbMessage *msg,
            guint32 index, guint64 bytes)
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
  Window *w = window_of (rp, target);
  if (w->inflight >= rp->cfg.window)
    {
      r->msg = msg;
      g_queue_push_tail (&w->waiting, r);
      return r;
    }
  rpc_launch (rp, w, r, msg);
  return r;
}

static void
rpc_finish (MbRingPeer *rp, Rpc *r, const MbMessage *msg)
{
  r->done = TRUE;
  g_hash_table_remove (rp->rpcs, GUINT_TO_POINTER (r->req));
  window_release (rp, r->target);
  Op *op = r->op;
  op->pending--;
  mbi_op_on_reply (op, r, msg);
  mbi_op_maybe_finish (op);
}

guint64
mb_ringpeer_next_expiry (const MbRingPeer *rp)
{
  for (GList *l = rp->timeouts.head; l; l = l->next)
    {
      Rpc *r = l->data;
      if (!r->done)
        return r->deadline;
    }
  return MB_TIME_NEVER;
}

static void
drop_done_heads (MbRingPeer *rp)
{
  Rpc *r;
  while ((r = g_queue_peek_head (&rp->timeouts)) && r->done)
    rpc_free (g_queue_pop_head (&rp->timeouts));
}

void
mb_ringpeer_handle_expiry (MbRingPeer *rp, guint64 now)
{
  rp->now = now;
  drop_done_heads (rp);
  Rpc *r;
  while ((r = g_queue_peek_head (&rp->timeouts)) && r->deadline <= now)
    {
      if (!r->done)
        {
          rp->stats.rpc_timeouts++;
          rpc_finish (rp, r, NULL);
        }
      drop_done_heads (rp);
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
  rp->now = now;
  /* Those waiting for that peer fail too, without being sent. */
  GHashTableIter it;
  gpointer key, value;
  g_autoptr (GPtrArray) failed = g_ptr_array_new ();
  g_hash_table_iter_init (&it, rp->windows);
  while (g_hash_table_iter_next (&it, &key, &value))
    {
      Window *w = value;
      for (GList *l = w->waiting.head; l; l = l->next)
        if (((Rpc *) l->data)->to == node)
          g_ptr_array_add (failed, l->data);
    }
  g_ptr_array_sort (failed, cmp_req);
  for (guint i = 0; i < failed->len; i++)
    {
      Rpc *r = failed->pdata[i];
      Window *w = g_hash_table_lookup (rp->windows, r->target);
      g_queue_remove (&w->waiting, r);
      r->done = TRUE;
      Op *op = r->op;
      op->pending--;
      mbi_op_on_reply (op, r, NULL);
      mbi_op_maybe_finish (op);
      rpc_free (r);
    }
  for (GList *l = rp->timeouts.head; l; l = l->next)
    {
      Rpc *r = l->data;
      if (!r->done && r->to == node)
        rpc_finish (rp, r, NULL);
    }
  drop_done_heads (rp);
}

/* ---- views ---- */

void
mb_ringpeer_set_view (MbRingPeer *rp, MbRing *view, gboolean repair, guint64 now)
{
  rp->now = now;
  MbRing *old = rp->view;
  rp->view = mb_ring_ref (view);
  gboolean lost = FALSE, gained = FALSE;
  for (guint i = 0; i < mb_ring_n_members (old); i++)
    if (!mb_ring_contains (view, mb_ring_member (old, i)))
      {
        lost = TRUE;
        g_hash_table_add (rp->gone, g_strdup (mb_ring_member (old, i)));
      }
  for (guint i = 0; i < mb_ring_n_members (view); i++)
    if (!mb_ring_contains (old, mb_ring_member (view, i)))
      {
        gained = TRUE;
        g_hash_table_remove (rp->gone, mb_ring_member (view, i));
      }
  /* A graceful leave needs nothing (the leaver handed its keys over); a
   * crash needs repair; a join needs the manifests pushed to new owners. */
  if (((repair && lost) || gained) && !rp->leaving)
    mbi_rp_repair (rp, old, now);
  mb_ring_unref (old);
}

/* ---- the server side ---- */

static void
on_store_chunk (MbRingPeer *rp, MbNodeId from, const MbMessage *msg)
{
  if (rp->leaving)
    {
      /* Our own hand-off has scanned the store already: take nothing new. */
      reply_error (rp, from, msg->req, MB_ERR_LEAVING, "leaving the ring");
      return;
    }
  guint32 len = msg->data ? (guint32) g_bytes_get_size (msg->data) : msg->length;
  if (!msg->chunk_id || !mb_chunk_id_is_valid (msg->chunk_id))
    {
      rp->stats.refused_chunks++;
      reply_error (rp, from, msg->req, MB_ERR_BAD_REQUEST, "store_chunk: malformed chunk id");
      return;
    }
  if (msg->data && !rp->cfg.virtual_content && !rp->store->verifies_puts)
    {
      char got[65];
      gsize n;
      const guint8 *bytes = g_bytes_get_data (msg->data, &n);
      mb_chunk_id_compute (bytes, n, got);
      if (strcmp (got, msg->chunk_id) != 0)
        {
          rp->stats.refused_chunks++;
          reply_error (rp, from, msg->req, MB_ERR_VERIFY,
                       "store_chunk: content does not match its id");
          return;
        }
    }
  else if (!msg->data && !rp->cfg.virtual_content)
    {
      rp->stats.refused_chunks++;
      reply_error (rp, from, msg->req, MB_ERR_BAD_REQUEST, "store_chunk: no content");
      return;
    }
  g_autoptr (GError) err = NULL;
  if (!mb_store_put_chunk (rp->store, msg->chunk_id, rp->cfg.virtual_content ? NULL : msg->data,
                           len, &err))
    {
      gboolean bad = g_error_matches (err, MB_STORE_ERROR, MB_STORE_ERROR_INVALID);
      if (bad)
        rp->stats.refused_chunks++;
      reply_error (rp, from, msg->req, bad ? MB_ERR_VERIFY : MB_ERR_INTERNAL,
                   bad ? "store_chunk: content does not match its id" : err->message);
      return;
    }
  rp->stats.requests_served++;
  reply_ok (rp, from, msg->req, 1);
}

static void
on_store_manifest (MbRingPeer *rp, MbNodeId from, const MbMessage *msg)
{
  if (rp->leaving)
    {
      reply_error (rp, from, msg->req, MB_ERR_LEAVING, "leaving the ring");
      return;
    }
  g_autoptr (GError) err = NULL;
  if (!msg->manifest || !mb_manifest_validate (msg->manifest, &err))
    {
      rp->stats.refused_manifests++;
      reply_error (rp, from, msg->req, MB_ERR_BAD_REQUEST,
                   err ? err->message : "store_manifest: no manifest");
      return;
    }
  g_autoptr (MbManifest) have = mb_store_get_manifest (rp->store, mb_manifest_name (msg->manifest));
  g_autoptr (MbManifest) merged = have ? mb_manifest_copy (have) : mb_manifest_copy (msg->manifest);
  if (have && mb_manifest_merge (merged, msg->manifest, &err) < 0)
    {
      rp->stats.refused_manifests++;
      reply_error (rp, from, msg->req, MB_ERR_BAD_REQUEST, err->message);
      return;
    }
  if (have)
    mbi_rp_prune_gone (rp, merged);
  if (!mb_store_put_manifest (rp->store, merged, &err))
    {
      reply_error (rp, from, msg->req, MB_ERR_INTERNAL, err->message);
      return;
    }
  rp->stats.requests_served++;
  reply_ok (rp, from, msg->req, 1);
}

static gboolean
owns (MbRingPeer *rp, const char *key)
{
  const char *owners[64];
  guint n = mbi_rp_owners (rp->view, key, rp->cfg.replication, owners);
  return mbi_rp_in_list (owners, n, rp->addr);
}

/* Points the asker at the owner in our view; if we are that owner and lack
 * the key (we have just joined), at the next member, which had it before. */
static void
redirect (MbRingPeer *rp, MbNodeId from, guint32 req, const char *key)
{
  const char *owners[64];
  guint n = mbi_rp_owners (rp->view, key, rp->cfg.replication + 1, owners);
  const char *to = NULL;
  for (guint k = 0; k < n && !to; k++)
    if (!mbi_rp_is_self (rp, owners[k]))
      to = owners[k];
  if (!to)
    {
      reply_error (rp, from, req, MB_ERR_NOT_FOUND, "no other member in view");
      return;
    }
  rp->stats.redirects_sent++;
  MbMessage *m = mb_message_new (MB_MSG_REDIRECT);
  m->req = req;
  m->addr = g_strdup (to);
  reply (rp, from, m);
}

static void
on_update_manifest (MbRingPeer *rp, MbNodeId from, const MbMessage *msg)
{
  g_autoptr (MbManifest) m = msg->file ? mb_store_get_manifest (rp->store, msg->file) : NULL;
  if (!m)
    {
      if (msg->file && !owns (rp, msg->file))
        redirect (rp, from, msg->req, msg->file);
      else
        reply_error (rp, from, msg->req, MB_ERR_NOT_FOUND, "update_manifest: no such manifest");
      return;
    }
  if (!msg->addr || !*msg->addr)
    {
      reply_error (rp, from, msg->req, MB_ERR_BAD_REQUEST, "update_manifest: no holder");
      return;
    }
  for (guint k = 0; k < msg->n_indices; k++)
    if (msg->indices[k] >= mb_manifest_n_chunks (m))
      {
        rp->stats.refused_manifests++;
        reply_error (rp, from, msg->req, MB_ERR_BAD_REQUEST, "update_manifest: chunk index out of range");
        return;
      }
  g_autoptr (MbManifest) updated = mb_manifest_copy (m);
  guint added = 0;
  if (msg->n_indices == 0)
    for (guint i = 0; i < mb_manifest_n_chunks (updated); i++)
      added += mb_manifest_add_holder (updated, i, msg->addr);
  else
    for (guint k = 0; k < msg->n_indices; k++)
      added += mb_manifest_add_holder (updated, msg->indices[k], msg->addr);
  mb_store_put_manifest (rp->store, updated, NULL);
  rp->stats.requests_served++;
  reply_ok (rp, from, msg->req, added);
}

static void
on_get_chunk (MbRingPeer *rp, MbNodeId from, const MbMessage *msg)
{
  GBytes *data = NULL;
  guint32 len = 0;
  if (!msg->chunk_id || !mb_store_get_chunk (rp->store, msg->chunk_id, &data, &len, NULL))
    {
      reply_error (rp, from, msg->req, MB_ERR_NOT_FOUND, "get_chunk: not here");
      return;
    }
  MbMessage *m = mb_message_new (MB_MSG_CHUNK);
  m->req = msg->req;
  m->chunk_id = g_strdup (msg->chunk_id);
  m->data = data;
  m->length = len;
  rp->stats.requests_served++;
  reply (rp, from, m);
}

static void
on_get_manifest (MbRingPeer *rp, MbNodeId from, const MbMessage *msg)
{
  MbManifest *m = msg->file ? mb_store_get_manifest (rp->store, msg->file) : NULL;
  if (!m)
    {
      if (msg->file)
        redirect (rp, from, msg->req, msg->file);
      else
        reply_error (rp, from, msg->req, MB_ERR_BAD_REQUEST, "get_manifest: no name");
      return;
    }
  MbMessage *r = mb_message_new (MB_MSG_MANIFEST);
  r->req = msg->req;
  r->manifest = m; /* our reference moves into the message */
  rp->stats.requests_served++;
  reply (rp, from, r);
}

gboolean
mb_ringpeer_receive (MbRingPeer *rp, MbNodeId from, const MbMessage *msg, guint64 now)
{
  if (mb_message_family (msg->type) != MB_FAMILY_RING)
    return FALSE;
  rp->now = now;
  switch (msg->type)
    {
    case MB_MSG_STORE_CHUNK: on_store_chunk (rp, from, msg); break;
    case MB_MSG_STORE_MANIFEST: on_store_manifest (rp, from, msg); break;
    case MB_MSG_UPDATE_MANIFEST: on_update_manifest (rp, from, msg); break;
    case MB_MSG_GET_CHUNK: on_get_chunk (rp, from, msg); break;
    case MB_MSG_GET_MANIFEST: on_get_manifest (rp, from, msg); break;
    case MB_MSG_PING:
      {
        MbMessage *m = mb_message_new (MB_MSG_PONG);
        m->req = msg->req;
        m->name = g_strdup (rp->addr);
        reply (rp, from, m);
        break;
      }
    case MB_MSG_LEAVE_NOTICE:
      if (msg->name && mb_ring_contains (rp->view, msg->name) && !mbi_rp_is_self (rp, msg->name))
        {
          /* A graceful leave: it handed its keys over; nothing to repair. */
          g_autoptr (MbRing) v = mb_ring_without_member (rp->view, msg->name);
          mb_ringpeer_set_view (rp, v, FALSE, now);
        }
      break;
    default:
      {
        /* A reply: match it to its request. */
        Rpc *r = g_hash_table_lookup (rp->rpcs, GUINT_TO_POINTER (msg->req));
        if (r && !r->done && r->to == from)
          rpc_finish (rp, r, msg);
        drop_done_heads (rp);
        break;
      }
    }
  return TRUE;
}
