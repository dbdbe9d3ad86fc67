/* op-repair.c — repair after a view change: for each manifest this peer
 * holds and is the first surviving owner of (in the old view), one op that
 * puts its holder lists right and copies under-replicated chunks (from a
 * surviving copy, fetched first when this peer lacks it) to their owners,
 * then the manifest to owners that lack it (new owners, or all when some
 * chunk got a new holder).  A crash restores R copies; a join moves keys to
 * the members that now own them; a graceful leave (whose hand-off put the
 * leaver's chunks on their owners without it, but could not tell the
 * manifests it did not hold) replaces the leaver in the lists by the
 * owners that hold the chunk now.
 *
 * The holder lists are this op's to keep true (ring-holders.h: the lists
 * name the members that store each chunk): a holder no longer in the view
 * is forgotten, and a chunk that lost one to a graceful leave, or that
 * lists no live holder at all, has its owners in the new view that are not
 * listed asked whether they hold it (STORE_CHUNK without data, as the
 * hand-off asks); each that does is listed, and only then are copies made
 * for what is still short of R.
 *
 * Invariants: exactly one peer repairs a name (the first old owner still in
 * the view); holders no longer in the view are forgotten, never copied
 * from; a holder is added only when it acknowledged the chunk (a probe or
 * a copy) or this peer stores it; a chunk with no live copy found is lost,
 * not invented; chunk i's copies wait until its probes (`probing[i]`, at
 * most the op's pending requests) are answered; `repair_targets[i]` is set
 * only while chunk i's bytes are being fetched for those targets.
 */
#define MB_RING_PEER_INTERNAL
#include "ring/ringpeer-private.h"

typedef struct {
  RingOp base;
  MbManifest *manifest;
  MbRing *old_view;            /* the view before the change */
  guint *probing;              /* per chunk index: probes not answered yet */
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
  mb_ring_unref (op->old_view);
  g_free (op->probing);
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

/* Chunk i of op's manifest: forgets the holders no longer in the view
 * (and this peer, if its store lacks the chunk); returns how many. */
static guint
forget_gone (OpRepair *op, guint i)
{
  MbRingPeer *rp = op->base.rp;
  MbManifest *m = op->manifest;
  const char *id = mb_manifest_chunk_id (m, i);
  /* Forget holders that are gone, and ourselves if our store lost it (a
   * disk replaced, a kill before the copy was written): we read our own
   * store, never ask ourselves, and an owner that lacks it is a target. */
  gboolean have = mb_store_has_chunk (rp->store, id);
  guint gone = 0;
  for (guint h = mb_manifest_n_holders (m, i); h-- > 0;)
    {
      const char *holder = mb_manifest_holder (m, i, h);
      if (!mb_ring_contains (rp->view, holder) || (!have && mbi_rp_is_self (rp, holder)))
        gone += mb_manifest_remove_holder (m, i, holder);
    }
  return gone;
}

/* Chunk i: asks its owners in the view that are not listed whether they
 * hold it (this peer looks in its own store). */
static void
probe_owners (OpRepair *op, guint i, guint64 now)
{
  MbRingPeer *rp = op->base.rp;
  MbManifest *m = op->manifest;
  const char *id = mb_manifest_chunk_id (m, i);
  g_auto (MbiOwners) owners = { 0 };
  mbi_owners_init (&owners, rp->view, id, rp->cfg.replication);
  for (guint k = 0; k < owners.n; k++)
    {
      const char *o = owners.names[k];
      if (mb_manifest_has_holder (m, i, o) || mbi_rp_is_leaver (rp, o))
        continue;
      if (mbi_rp_is_self (rp, o))
        {
          if (mb_store_has_chunk (rp->store, id) && mb_manifest_add_holder (m, i, o))
            op->chunks_changed = TRUE;
          continue;
        }
      MbMessage *msg = mb_message_new (MB_MSG_STORE_CHUNK);
      msg->chunk_id = g_strdup (id);
      Rpc *r = mbi_rp_send (rp, &op->base, RPC_STORE_CHUNK, o, msg, i, 0, now);
      r->probe = TRUE;
      op->probing[i]++;
    }
}

/* Chunk i of op's manifest, its live holders known: copies it to owners
 * that lack it — enough to restore R after a crash, and every owner it
 * gained from a join (keys move to new members as consistent hashing
 * says). */
static void
repair_chunk (OpRepair *op, guint i, guint64 now)
{
  MbRingPeer *rp = op->base.rp;
  MbManifest *m = op->manifest;
  const MbRing *old_view = op->old_view;
  const char *id = mb_manifest_chunk_id (m, i);
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
  if (r->kind == RPC_STORE_CHUNK && r->probe)
    {
      /* "I hold it": listed; when its probes are all answered, chunk
       * r->index is copied where it is still short */
      if (msg && msg->type == MB_MSG_OK && mb_manifest_add_holder (op->manifest, r->index, r->target))
        op->chunks_changed = TRUE;
      if (--op->probing[r->index] == 0)
        repair_chunk (op, r->index, now);
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

static gboolean
repair_check (const RingOp *base, GString *why)
{
  const OpRepair *op = (const OpRepair *) base;
  guint probing = 0;
  for (guint i = 0; i < mb_manifest_n_chunks (op->manifest); i++)
    probing += op->probing[i];
  if (probing <= base->pending && (probing == 0 || !op->manifest_phase))
    return TRUE;
  g_string_append_printf (why, "repair %s: %u probes unanswered, %u requests pending%s",
                          base->name, probing, base->pending,
                          op->manifest_phase ? ", in the manifest phase" : "");
  return FALSE;
}

static const RingOpVtable repair_vtable = {
  "repair", repair_on_reply, repair_maybe_finish, repair_free, repair_check,
};

static void
unref_if_set (gpointer p)
{
  if (p)
    g_ptr_array_unref (p);
}

/* One repair op for `name`, whose owners in the old view were old_owners;
 * `graceful`: the members that left the view left gracefully. */
static void
repair_name (MbRingPeer *rp, const char *name, MbManifest *m, const MbiOwners *old_owners,
             MbRing *old_view, gboolean graceful, guint64 now)
{
  OpRepair *op = mbi_op_new (rp, &repair_vtable, OP_REPAIR, sizeof (OpRepair), name);
  op->manifest = mb_manifest_copy (m);
  op->old_view = mb_ring_ref (old_view);
  op->gained = g_ptr_array_new_with_free_func (g_free);
  g_auto (MbiOwners) new_owners = { 0 };
  mbi_owners_init (&new_owners, rp->view, name, rp->cfg.replication);
  for (guint j = 0; j < new_owners.n; j++)
    if (!mbi_owners_has (old_owners, new_owners.names[j]))
      g_ptr_array_add (op->gained, g_strdup (new_owners.names[j]));
  guint n = mb_manifest_n_chunks (op->manifest);
  op->probing = g_new0 (guint, MAX (n, 1));
  op->repair_targets = g_ptr_array_new_full (n, unref_if_set);
  g_ptr_array_set_size (op->repair_targets, (gint) n);
  for (guint i = 0; i < n; i++)
    {
      guint gone = forget_gone (op, i);
      /* A leaver's copy went to the owners without it; a chunk listed at
       * no live member may still be on its owners: ask them first. */
      if ((graceful && gone > 0) || mb_manifest_n_holders (op->manifest, i) == 0)
        probe_owners (op, i, now);
      if (op->probing[i] == 0)
        repair_chunk (op, i, now);
    }
  repair_maybe_finish (&op->base, now);
}

/* Whether graceful leaves concern name's manifest m: its owners changed,
 * or a chunk lists a holder no longer in the view. */
static gboolean
concerns (const MbRingPeer *rp, const MbManifest *m, const MbiOwners *old_owners)
{
  g_auto (MbiOwners) owners = { 0 };
  mbi_owners_init (&owners, rp->view, mb_manifest_name (m), rp->cfg.replication);
  if (owners.n != old_owners->n)
    return TRUE;
  for (guint k = 0; k < owners.n; k++)
    if (!mbi_owners_has (old_owners, owners.names[k]))
      return TRUE;
  for (guint i = 0; i < mb_manifest_n_chunks (m); i++)
    for (guint h = 0; h < mb_manifest_n_holders (m, i); h++)
      if (!mb_ring_contains (rp->view, mb_manifest_holder (m, i, h)))
        return TRUE;
  return FALSE;
}

void
mbi_rp_repair (MbRingPeer *rp, MbRing *old_view, gboolean graceful, guint64 now)
{
  /* Members that only left gracefully move no key of a name that lists
   * none of them: those names are skipped (a crash or a join repairs every
   * name it may concern, as chunks' owners change too). */
  gboolean gained = FALSE;
  for (guint i = 0; i < mb_ring_n_members (rp->view) && !gained; i++)
    gained = !mb_ring_contains (old_view, mb_ring_member (rp->view, i));
  gboolean leaves_only = graceful && !gained;
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
      if (!m || (leaves_only && !concerns (rp, m, &old_owners)))
        continue;
      repair_name (rp, name, m, &old_owners, old_view, graceful, now);
    }
}
