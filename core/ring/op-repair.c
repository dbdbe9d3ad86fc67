/* op-repair.c — repair after a view change: for each manifest this peer
 * holds and is the first surviving owner of (in the old view), one op that
 * copies under-replicated chunks (from a surviving copy, fetched first when
 * this peer lacks it) to their owners, then the manifest to owners that
 * lack it (new owners, or all when some chunk got a new holder).  A crash
 * restores R copies; a join moves keys to the members that now own them.
 *
 * Invariants: exactly one peer repairs a name (the first old owner still in
 * the view); holders no longer in the view are forgotten, never copied
 * from; a chunk with no live copy is lost, not invented; `repair_targets[i]`
 * is set only while chunk i's bytes are being fetched for those targets.
 */
#define MB_RING_PEER_INTERNAL
#include "ring/ringpeer-private.h"

typedef struct {
  RingOp base;
  MbManifest *manifest;
  gboolean manifest_phase;
  GPtrArray *repair_targets;   /* per chunk index: GPtrArray of targets, or NULL */
  GPtrArray *gained;           /* owners of the name that lack it (gchar*) */
  gboolean chunks_changed;     /* some chunk got a new holder */
} OpRepair;

static void
repair_free (RingOp *base)
{
  OpRepair *op = (OpRepair *) base;
  mb_manifest_unref (op->manifest);
  g_ptr_array_unref (op->repair_targets);
  g_ptr_array_unref (op->gained);
}

/* ---- chunk copies ---- */

typedef struct {
  guint index;
  GBytes *bytes;
} ChunkCopy;

static void
copy_keep (RingOp *base, gpointer data, guint64 now)
{
  OpRepair *op = (OpRepair *) base;
  MbRingPeer *rp = base->rp;
  const ChunkCopy *c = data;
  if (mbi_rp_put_local_chunk (rp, op->manifest, c->index, c->bytes))
    {
      mb_manifest_add_holder (op->manifest, c->index, rp->addr);
      op->chunks_changed = TRUE;
      rp->stats.repairs_started++;
      rp->stats.repair_bytes += mb_manifest_chunk_len (op->manifest, c->index);
    }
}

static void
copy_send (RingOp *base, const char *target, gpointer data, guint64 now)
{
  const ChunkCopy *c = data;
  mbi_op_send_chunk (base, ((OpRepair *) base)->manifest, c->index, target, c->bytes, now);
}

static const MbiPlacement copy_placement = { copy_keep, copy_send };

static void
copy_to_targets (OpRepair *op, guint i, GPtrArray *targets, GBytes *bytes, guint64 now)
{
  ChunkCopy c = { i, bytes };
  for (guint t = 0; targets && t < targets->len; t++)
    mbi_op_place (&op->base, targets->pdata[t], &copy_placement, &c, now);
}

/* Chunk i of op's manifest: forget dead holders; copy it to owners that
 * lack it — enough to restore R after a crash, and every owner it gained
 * from a join (keys move to new members as consistent hashing says). */
static void
repair_chunk (OpRepair *op, guint i, const MbRing *old_view, guint64 now)
{
  MbRingPeer *rp = op->base.rp;
  MbManifest *m = op->manifest;
  const char *id = mb_manifest_chunk_id (m, i);
  /* Forget holders that are gone, and ourselves if our store lost it (a
   * disk replaced, a kill before the copy was written): we read our own
   * store, never ask ourselves, and an owner that lacks it is a target.
   * Count the live ones. */
  gboolean have = mb_store_has_chunk (rp->store, id);
  for (guint h = mb_manifest_n_holders (m, i); h-- > 0;)
    {
      const char *holder = mb_manifest_holder (m, i, h);
      if (!mb_ring_contains (rp->view, holder) || (!have && mbi_rp_is_self (rp, holder)))
        mb_manifest_remove_holder (m, i, holder);
    }
  guint live = mb_manifest_n_holders (m, i);
  if (live == 0)
    return; /* lost: no copy left to repair from */
  GPtrArray *targets = g_ptr_array_new_with_free_func (g_free);
  g_auto (MbiOwners) now_owners = { 0 };
  g_auto (MbiOwners) old_owners = { 0 };
  mbi_owners_init (&now_owners, rp->view, id, rp->cfg.replication);
  mbi_owners_init (&old_owners, old_view, id, rp->cfg.replication);
  for (guint k = 0; k < now_owners.n; k++)
    if (!mbi_owners_has (&old_owners, now_owners.names[k])
        && !mb_manifest_has_holder (m, i, now_owners.names[k]))
      g_ptr_array_add (targets, g_strdup (now_owners.names[k]));
  if (live + targets->len < rp->cfg.replication)
    {
      /* Short of R: the next members in ring order that lack it. */
      g_auto (MbiOwners) cand = { 0 };
      mbi_owners_init (&cand, rp->view, id, rp->cfg.replication + live);
      for (guint k = 0; k < cand.n && live + targets->len < rp->cfg.replication; k++)
        if (!mb_manifest_has_holder (m, i, cand.names[k])
            && !mbi_rp_in_list ((const char *const *) targets->pdata, targets->len, cand.names[k]))
          g_ptr_array_add (targets, g_strdup (cand.names[k]));
    }
  if (targets->len == 0)
    {
      g_ptr_array_unref (targets);
      return;
    }
  GBytes *bytes = NULL;
  guint32 len = 0;
  if (mb_store_get_chunk (rp->store, id, &bytes, &len, NULL))
    {
      copy_to_targets (op, i, targets, bytes, now);
      if (bytes)
        g_bytes_unref (bytes);
      g_ptr_array_unref (targets);
      return;
    }
  /* Fetch it from a surviving copy, then pass it on. */
  g_ptr_array_index (op->repair_targets, i) = targets;
  MbMessage *msg = mb_message_new (MB_MSG_GET_CHUNK);
  msg->chunk_id = g_strdup (id);
  mbi_rp_send (rp, &op->base, RPC_GET_CHUNK, mb_manifest_holder (m, i, 0), msg, i, 0, now);
}

/* ---- manifest copies ---- */

static void
manifest_keep (RingOp *base, gpointer data, guint64 now)
{
  OpRepair *op = (OpRepair *) base;
  MbRingPeer *rp = base->rp;
  g_autoptr (MbManifest) mine = mb_store_get_manifest (rp->store, base->name);
  if (mine && mb_manifest_order (mine, op->manifest) == MB_MANIFEST_SAME)
    mb_manifest_merge (op->manifest, mine, NULL);
  mbi_rp_prune_gone (rp, op->manifest);
  /* by the holders' rule: a newer version stored meanwhile stays */
  mbi_rp_accept_manifest (rp, op->manifest, NULL);
}

static void
manifest_send (RingOp *base, const char *target, gpointer data, guint64 now)
{
  OpRepair *op = (OpRepair *) base;
  /* new holders, or a new owner */
  if (op->chunks_changed
      || mbi_rp_in_list ((const char *const *) op->gained->pdata, op->gained->len, target))
    mbi_op_send_manifest (base, target, op->manifest, now);
}

static const MbiPlacement manifest_placement = { manifest_keep, manifest_send };

/* ---- the op ---- */

static void
repair_on_reply (RingOp *base, Rpc *r, const MbMessage *msg, guint64 now)
{
  OpRepair *op = (OpRepair *) base;
  MbRingPeer *rp = base->rp;
  if (r->kind == RPC_GET_CHUNK)
    {
      GPtrArray *targets = g_ptr_array_index (op->repair_targets, r->index);
      if (msg && msg->type == MB_MSG_CHUNK && mbi_rp_chunk_verifies (rp, op->manifest, r->index, msg))
        copy_to_targets (op, r->index, targets, msg->data, now);
      return;
    }
  if (r->kind == RPC_STORE_CHUNK && msg && msg->type == MB_MSG_OK)
    {
      mb_manifest_add_holder (op->manifest, r->index, r->target);
      op->chunks_changed = TRUE;
      rp->stats.repairs_started++;
      rp->stats.repair_bytes += r->bytes;
    }
  if (r->kind == RPC_STORE_MANIFEST && msg && msg->type == MB_MSG_OK)
    {
      rp->stats.repairs_started++;
      rp->stats.repair_bytes += r->bytes;
    }
}

static void
repair_maybe_finish (RingOp *base, guint64 now)
{
  OpRepair *op = (OpRepair *) base;
  if (base->reported || base->pending > 0)
    return;
  if (!op->manifest_phase)
    {
      op->manifest_phase = TRUE;
      mbi_op_place_at_owners (base, base->name, &manifest_placement, NULL, now);
      if (base->pending > 0)
        return;
    }
  mbi_op_report (base, op->manifest);
}

static const RingOpVtable repair_vtable = {
  "repair", repair_on_reply, repair_maybe_finish, repair_free, NULL,
};

static void
unref_if_set (gpointer p)
{
  if (p)
    g_ptr_array_unref (p);
}

/* One repair op for `name`, whose owners in the old view were old_owners. */
static void
repair_name (MbRingPeer *rp, const char *name, MbManifest *m, const MbiOwners *old_owners,
             const MbRing *old_view, guint64 now)
{
  OpRepair *op = mbi_op_new (rp, &repair_vtable, OP_REPAIR, sizeof (OpRepair), name);
  op->manifest = mb_manifest_copy (m);
  op->gained = g_ptr_array_new_with_free_func (g_free);
  g_auto (MbiOwners) new_owners = { 0 };
  mbi_owners_init (&new_owners, rp->view, name, rp->cfg.replication);
  for (guint j = 0; j < new_owners.n; j++)
    if (!mbi_owners_has (old_owners, new_owners.names[j]))
      g_ptr_array_add (op->gained, g_strdup (new_owners.names[j]));
  guint n = mb_manifest_n_chunks (op->manifest);
  op->repair_targets = g_ptr_array_new_full (n, unref_if_set);
  g_ptr_array_set_size (op->repair_targets, (gint) n);
  for (guint i = 0; i < n; i++)
    repair_chunk (op, i, old_view, now);
  repair_maybe_finish (&op->base, now);
}

void
mbi_rp_repair (MbRingPeer *rp, MbRing *old_view, guint64 now)
{
  g_autoptr (GPtrArray) names = mb_store_list_manifests (rp->store);
  for (guint k = 0; k < names->len; k++)
    {
      const char *name = names->pdata[k];
      g_auto (MbiOwners) old_owners = { 0 };
      mbi_owners_init (&old_owners, old_view, name, rp->cfg.replication);
      const char *repairer = NULL;
      for (guint j = 0; j < old_owners.n && !repairer; j++)
        if (mb_ring_contains (rp->view, old_owners.names[j]))
          repairer = old_owners.names[j];
      if (!repairer || !mbi_rp_is_self (rp, repairer))
        continue;
      g_autoptr (MbManifest) m = mb_store_get_manifest (rp->store, name);
      if (!m)
        continue;
      repair_name (rp, name, m, &old_owners, old_view, now);
    }
}
