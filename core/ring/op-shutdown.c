/* op-shutdown.c — the seed's graceful shutdown in five steps: scan the
 * local manifests and chunks, compute their owners without this peer,
 * transfer each key to the owners it gains, drop what was transferred,
 * report.  A key refused (the new owner is leaving too), lost or unanswered
 * goes to the next member in ring order that did not own it (up to 8 times).
 *
 * Invariants: only keys this peer owned move, each only to owners it gains
 * when this peer leaves (never to this peer: it is not in the new view);
 * the peer is `leaving` from the start, so it takes no new keys; what was
 * handed over is dropped only if every hand-off of its kind succeeded.
 */
#define MB_RING_PEER_INTERNAL
#include "ring/ringpeer-private.h"

#define MAX_RETARGETS 8

typedef struct {
  RingOp base;
  MbShutdownReport report;
  GPtrArray *moved_chunks;     /* ids to drop once acknowledged */
  GPtrArray *moved_manifests;  /* names */
} OpShutdown;

static void
shutdown_free (RingOp *base)
{
  OpShutdown *op = (OpShutdown *) base;
  g_ptr_array_unref (op->moved_chunks);
  g_ptr_array_unref (op->moved_manifests);
}

/* Members that become owners of key when this peer leaves (none if it is
 * not ours: its owners have it). */
static void
gained_owners (MbRingPeer *rp, const MbRing *without, const char *key, MbiOwners *out)
{
  g_auto (MbiOwners) before = { 0 };
  mbi_owners_init (&before, rp->view, key, rp->cfg.replication);
  if (!mbi_owners_has (&before, rp->addr))
    {
      mbi_owners_init (out, without, key, 0);
      return;
    }
  mbi_owners_init (out, without, key, rp->cfg.replication);
  guint k = 0;
  for (guint i = 0; i < out->n; i++)
    if (!mbi_owners_has (&before, out->names[i]))
      out->names[k++] = out->names[i];
  out->n = k;
}

static Rpc *
hand_chunk (OpShutdown *op, const char *id, const char *target, GBytes *bytes, guint32 len,
            guint64 now)
{
  MbMessage *m = mb_message_new (MB_MSG_STORE_CHUNK);
  m->chunk_id = g_strdup (id);
  m->data = bytes ? g_bytes_ref (bytes) : NULL;
  m->length = len;
  Rpc *r = mbi_rp_send (op->base.rp, &op->base, RPC_STORE_CHUNK, target, m, 0, len, now);
  r->key = g_strdup (id);
  return r;
}

/* The new owner refused the key (it is leaving too), is gone, or did not
 * answer: hand the key to the next member in ring order that did not own it
 * before (the (retries+1)-th after the first choice).  FALSE if none. */
static gboolean
shutdown_retarget (OpShutdown *op, Rpc *r, guint64 now)
{
  MbRingPeer *rp = op->base.rp;
  if (!r->key || r->retries >= MAX_RETARGETS)
    return FALSE;
  g_auto (MbiOwners) before = { 0 };
  g_auto (MbiOwners) cand = { 0 };
  mbi_owners_init (&before, rp->view, r->key, rp->cfg.replication);
  mbi_owners_init (&cand, rp->view, r->key, rp->cfg.replication + r->retries + 2);
  const char *next = NULL;
  guint seen = 0;
  for (guint k = 0; k < cand.n && !next; k++)
    {
      if (mbi_owners_has (&before, cand.names[k]) || mbi_rp_is_self (rp, cand.names[k]))
        continue;
      if (seen++ == r->retries + 1)
        next = cand.names[k];
    }
  if (!next)
    return FALSE;
  Rpc *again = NULL;
  if (r->kind == RPC_STORE_CHUNK)
    {
      GBytes *bytes = NULL;
      guint32 len = 0;
      if (!mb_store_get_chunk (rp->store, r->key, &bytes, &len, NULL))
        return FALSE;
      again = hand_chunk (op, r->key, next, bytes, len, now);
      if (bytes)
        g_bytes_unref (bytes);
    }
  else
    {
      g_autoptr (MbManifest) m = mb_store_get_manifest (rp->store, r->key);
      if (!m)
        return FALSE;
      again = mbi_op_send_manifest (&op->base, next, m, now);
      again->key = g_strdup (r->key);
    }
  again->retries = r->retries + 1;
  return TRUE;
}

static void
shutdown_on_reply (RingOp *base, Rpc *r, const MbMessage *msg, guint64 now)
{
  OpShutdown *op = (OpShutdown *) base;
  gboolean ok = msg && msg->type == MB_MSG_OK;
  /* Refused (that peer is leaving too), gone, or silent: the next member. */
  if (!ok && shutdown_retarget (op, r, now))
    return;
  if (r->kind == RPC_STORE_CHUNK)
    {
      if (ok)
        {
          op->report.chunks_redistributed++;
          op->report.bytes_moved += r->bytes;
        }
      else
        op->report.chunks_failed++;
    }
  else if (r->kind == RPC_STORE_MANIFEST)
    {
      if (ok)
        {
          op->report.manifests_redistributed++;
          op->report.bytes_moved += r->bytes;
        }
      else
        op->report.manifests_failed++;
    }
}

static void
shutdown_maybe_finish (RingOp *base, guint64 now)
{
  OpShutdown *op = (OpShutdown *) base;
  MbRingPeer *rp = base->rp;
  if (base->reported || base->pending > 0)
    return;
  /* 4. drop what was transferred; 5. report.  Keys that could not be
   * handed over stay (and leave with the peer). */
  if (op->report.chunks_failed == 0)
    for (guint i = 0; i < op->moved_chunks->len; i++)
      mb_store_drop_chunk (rp->store, op->moved_chunks->pdata[i]);
  if (op->report.manifests_failed == 0)
    for (guint i = 0; i < op->moved_manifests->len; i++)
      mb_store_drop_manifest (rp->store, op->moved_manifests->pdata[i]);
  mbi_op_retire (base);
  if (base->shutdown_done)
    base->shutdown_done (rp, &op->report, base->data);
  mbi_op_free (base);
}

static const RingOpVtable shutdown_vtable = {
  "shutdown", shutdown_on_reply, shutdown_maybe_finish, shutdown_free, NULL,
};

/* 3. the chunks: each to the owners it gains. */
static void
hand_over_chunks (OpShutdown *op, const MbRing *without, guint64 now)
{
  MbRingPeer *rp = op->base.rp;
  g_autoptr (GPtrArray) ids = mb_store_list_chunks (rp->store);
  for (guint c = 0; c < ids->len; c++)
    {
      const char *id = ids->pdata[c];
      g_auto (MbiOwners) targets = { 0 };
      gained_owners (rp, without, id, &targets);
      if (targets.n == 0)
        continue;
      GBytes *bytes = NULL;
      guint32 len = 0;
      if (!mb_store_get_chunk (rp->store, id, &bytes, &len, NULL))
        continue;
      for (guint t = 0; t < targets.n; t++)
        hand_chunk (op, id, targets.names[t], bytes, len, now);
      g_ptr_array_add (op->moved_chunks, g_strdup (id));
      if (bytes)
        g_bytes_unref (bytes);
    }
}

/* 3. the manifests, as they will be: this peer's chunks are with their new
 * owners. */
static void
hand_over_manifests (OpShutdown *op, const MbRing *without, guint64 now)
{
  MbRingPeer *rp = op->base.rp;
  g_autoptr (GPtrArray) names = mb_store_list_manifests (rp->store);
  for (guint k = 0; k < names->len; k++)
    {
      const char *name = names->pdata[k];
      g_auto (MbiOwners) targets = { 0 };
      gained_owners (rp, without, name, &targets);
      g_autoptr (MbManifest) m = mb_store_get_manifest (rp->store, name);
      if (!m || targets.n == 0)
        continue;
      g_autoptr (MbManifest) upd = mb_manifest_copy (m);
      for (guint i = 0; i < mb_manifest_n_chunks (upd); i++)
        if (mb_manifest_remove_holder (upd, i, rp->addr))
          {
            g_auto (MbiOwners) ct = { 0 };
            gained_owners (rp, without, mb_manifest_chunk_id (upd, i), &ct);
            for (guint j = 0; j < ct.n; j++)
              mb_manifest_add_holder (upd, i, ct.names[j]);
          }
      for (guint t = 0; t < targets.n; t++)
        mbi_op_send_manifest (&op->base, targets.names[t], upd, now)->key = g_strdup (name);
      g_ptr_array_add (op->moved_manifests, g_strdup (name));
    }
}

void
mb_ringpeer_shutdown (MbRingPeer *rp, guint64 now, MbShutdownDoneFn done, gpointer data)
{
  OpShutdown *op = mbi_op_new (rp, &shutdown_vtable, OP_SHUTDOWN, sizeof (OpShutdown), "");
  op->base.shutdown_done = done;
  op->base.data = data;
  op->moved_chunks = g_ptr_array_new_with_free_func (g_free);
  op->moved_manifests = g_ptr_array_new_with_free_func (g_free);
  rp->leaving = TRUE;
  /* 1. scan; 2. new owners; 3. transfer. */
  g_autoptr (MbRing) without = mb_ring_without_member (rp->view, rp->addr);
  hand_over_chunks (op, without, now);
  hand_over_manifests (op, without, now);
  shutdown_maybe_finish (&op->base, now);
}
