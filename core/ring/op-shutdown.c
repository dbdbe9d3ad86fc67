/* op-shutdown.c — the seed's graceful shutdown, made to confirm: scan the
 * local chunks and manifests; for each, the R members that own it once this
 * peer (and every member known to be leaving) is gone; make sure each of
 * them holds it, acknowledged; drop what is confirmed; report.
 *
 *  1. chunks: an owner that stays (it owned the chunk before) is asked
 *     whether it holds it (a probe: STORE_CHUNK without data), the others
 *     are sent it; a probe answered "not here" is followed by the data;
 *  2. manifests, once the chunks are settled: sent to their R owners, this
 *     peer's holder entries replaced by the members that confirmed the
 *     chunk (an owner holding a newer version confirms it too);
 *  3. a target that refuses ("leaving": it is leaving too, and is then
 *     never counted or sent to again), fails or does not answer is replaced
 *     by the next member of the key's preference list not tried yet (at
 *     most MAX_RETARGETS times per key).
 * A key is confirmed with R' acknowledgements, R' = min(R, members that
 * stay) (none stay: nothing is confirmed); only then is it dropped (chunks only if this peer owned them: a
 * fetched copy stays where the user put it).  A key that is not confirmed
 * is kept and counted as failed: the report never says more than was done.
 *
 * Invariants: the peer is `leaving` from the start, so it takes no new
 * keys; a key's `acks` count distinct members that confirmed it, never this
 * peer nor a known leaver; `inflight` is its requests not answered; the
 * manifests go out only when no chunk request is pending.
 */
#define MB_RING_PEER_INTERNAL
#include "ring/ringpeer-private.h"

#define MAX_RETARGETS 8

typedef struct {
  gchar *key;               /* chunk id or manifest name */
  gboolean owned;           /* this peer owned it in its view at the start */
  guint acks;
  guint retargets;
  GPtrArray *tried;         /* members asked (gchar*) */
  GPtrArray *confirmed;     /* members that acknowledged (gchar*) */
} Key;

typedef struct {
  RingOp base;
  MbShutdownReport report;
  guint need;               /* R' */
  GPtrArray *chunks;        /* Key*, sorted by id */
  GPtrArray *manifests;     /* Key*, sorted by name */
  GHashTable *by_id;        /* chunk id -> Key* (borrowed) */
  gboolean manifest_phase;
} OpShutdown;

static void
key_free (gpointer p)
{
  Key *k = p;
  g_free (k->key);
  g_ptr_array_unref (k->tried);
  g_ptr_array_unref (k->confirmed);
  g_free (k);
}

static Key *
key_new (const char *key, gboolean owned)
{
  Key *k = g_new0 (Key, 1);
  k->key = g_strdup (key);
  k->owned = owned;
  k->tried = g_ptr_array_new_with_free_func (g_free);
  k->confirmed = g_ptr_array_new_with_free_func (g_free);
  return k;
}

static void
shutdown_free (RingOp *base)
{
  OpShutdown *op = (OpShutdown *) base;
  g_hash_table_unref (op->by_id);
  g_ptr_array_unref (op->chunks);
  g_ptr_array_unref (op->manifests);
}

static gboolean
in_array (GPtrArray *a, const char *member)
{
  return mbi_rp_in_list ((const char *const *) a->pdata, a->len, member);
}

static gboolean
owned_before (MbRingPeer *rp, const char *key, const char *member)
{
  g_auto (MbiOwners) before = { 0 };
  mbi_owners_init (&before, rp->view, key, rp->cfg.replication);
  return mbi_owners_has (&before, member);
}

/* The members a key should be confirmed at, in ring order: its preference
 * list in our view without this peer and known leavers, the first `want`
 * of them not tried yet. */
static guint
targets (OpShutdown *op, Key *k, guint want, const char **out)
{
  MbRingPeer *rp = op->base.rp;
  g_auto (MbiOwners) pref = { 0 };
  mbi_owners_init (&pref, rp->view, k->key, op->need + k->tried->len + MAX_RETARGETS + 1);
  guint n = 0;
  for (guint i = 0; i < pref.n && n < want; i++)
    {
      const char *m = pref.names[i];
      if (mbi_rp_is_self (rp, m) || mbi_rp_is_leaver (rp, m) || in_array (k->tried, m))
        continue;
      out[n++] = m;
    }
  return n;
}

/* ---- chunks ---- */

static void
send_chunk (OpShutdown *op, guint idx, const char *target, gboolean probe, guint64 now)
{
  MbRingPeer *rp = op->base.rp;
  Key *k = op->chunks->pdata[idx];
  GBytes *bytes = NULL;
  guint32 len = 0;
  if (!probe && !mb_store_get_chunk (rp->store, k->key, &bytes, &len, NULL))
    return;   /* gone from our store meanwhile: nothing to hand */
  MbMessage *m = mb_message_new (MB_MSG_STORE_CHUNK);
  m->chunk_id = g_strdup (k->key);
  m->data = probe ? NULL : bytes;
  m->length = probe ? 0 : len;
  if (probe && bytes)
    g_bytes_unref (bytes);
  Rpc *r = mbi_rp_send (rp, &op->base, RPC_STORE_CHUNK, target, m, idx, m->length, now);
  r->probe = probe;
}

/* Asks `want` more members to confirm chunk idx: probes to those that
 * owned it before (they should have it), the data to the others. */
static void
confirm_chunk (OpShutdown *op, guint idx, guint want, guint64 now)
{
  Key *k = op->chunks->pdata[idx];
  const char **t = g_newa (const char *, want + 1);
  guint n = targets (op, k, want, t);
  for (guint i = 0; i < n; i++)
    {
      g_ptr_array_add (k->tried, g_strdup (t[i]));
      send_chunk (op, idx, k->tried->pdata[k->tried->len - 1],
                  owned_before (op->base.rp, k->key, t[i]), now);
    }
}

static void
chunk_reply (OpShutdown *op, Rpc *r, const MbMessage *msg, guint64 now)
{
  Key *k = op->chunks->pdata[r->index];
  if (msg && msg->type == MB_MSG_OK)
    {
      k->acks++;
      g_ptr_array_add (k->confirmed, g_strdup (r->target));
      if (!r->probe)
        {
          op->report.chunks_redistributed++;
          op->report.bytes_moved += r->bytes;
          op->base.rp->stats.leave_chunks_moved++;
          op->base.rp->stats.leave_bytes_moved += r->bytes;
        }
      return;
    }
  if (r->probe && msg && msg->type == MB_MSG_ERROR && msg->code == MB_ERR_NOT_FOUND)
    {
      send_chunk (op, r->index, r->target, FALSE, now);   /* it lacks it: the data */
      return;
    }
  if (k->retargets < MAX_RETARGETS)
    {
      k->retargets++;
      confirm_chunk (op, r->index, 1, now);
    }
}

/* ---- manifests ---- */

/* Our manifest of name as it will be: each chunk we held listed at the
 * members that confirmed it instead of here. */
static MbManifest *
manifest_after (OpShutdown *op, const char *name)
{
  MbRingPeer *rp = op->base.rp;
  g_autoptr (MbManifest) m = mb_store_get_manifest (rp->store, name);
  if (!m)
    return NULL;
  MbManifest *upd = mb_manifest_copy (m);
  for (guint i = 0; i < mb_manifest_n_chunks (upd); i++)
    if (mb_manifest_remove_holder (upd, i, rp->addr))
      {
        Key *k = g_hash_table_lookup (op->by_id, mb_manifest_chunk_id (upd, i));
        for (guint j = 0; k && j < k->confirmed->len; j++)
          mb_manifest_add_holder (upd, i, k->confirmed->pdata[j]);
      }
  return upd;
}

static void
confirm_manifest (OpShutdown *op, guint idx, guint want, guint64 now)
{
  Key *k = op->manifests->pdata[idx];
  g_autoptr (MbManifest) upd = manifest_after (op, k->key);
  if (!upd)
    return;
  const char **t = g_newa (const char *, want + 1);
  guint n = targets (op, k, want, t);
  for (guint i = 0; i < n; i++)
    {
      g_ptr_array_add (k->tried, g_strdup (t[i]));
      Rpc *r = mbi_op_send_manifest (&op->base, k->tried->pdata[k->tried->len - 1], upd, now);
      r->index = idx;
    }
}

static void
manifest_reply (OpShutdown *op, Rpc *r, const MbMessage *msg, guint64 now)
{
  Key *k = op->manifests->pdata[r->index];
  gboolean stale = msg && msg->type == MB_MSG_ERROR && msg->code == MB_ERR_STALE;
  if ((msg && msg->type == MB_MSG_OK) || stale)
    {
      /* "stale": that owner keeps a newer version, which supersedes ours */
      k->acks++;
      if (!stale && !owned_before (op->base.rp, k->key, r->target))
        {
          op->report.manifests_redistributed++;
          op->report.bytes_moved += r->bytes;
          op->base.rp->stats.leave_manifests_moved++;
          op->base.rp->stats.leave_bytes_moved += r->bytes;
        }
      return;
    }
  if (k->retargets < MAX_RETARGETS)
    {
      k->retargets++;
      confirm_manifest (op, r->index, 1, now);
    }
}

/* ---- the op ---- */

static void
shutdown_on_reply (RingOp *base, Rpc *r, const MbMessage *msg, guint64 now)
{
  OpShutdown *op = (OpShutdown *) base;
  if (r->kind == RPC_STORE_CHUNK)
    chunk_reply (op, r, msg, now);
  else if (r->kind == RPC_STORE_MANIFEST)
    manifest_reply (op, r, msg, now);
}

static void
shutdown_maybe_finish (RingOp *base, guint64 now)
{
  OpShutdown *op = (OpShutdown *) base;
  MbRingPeer *rp = base->rp;
  if (base->reported || base->pending > 0)
    return;
  if (!op->manifest_phase)
    {
      op->manifest_phase = TRUE;
      for (guint i = 0; i < op->manifests->len; i++)
        confirm_manifest (op, i, op->need, now);
      if (base->pending > 0)
        return;
    }
  /* Drop what is confirmed; keep (and count) the rest. */
  for (guint i = 0; i < op->chunks->len; i++)
    {
      Key *k = op->chunks->pdata[i];
      if (op->need > 0 && k->acks >= op->need)
        {
          op->report.chunks_confirmed++;
          if (k->owned)
            mb_store_drop_chunk (rp->store, k->key);
        }
      else
        op->report.chunks_failed++;
    }
  for (guint i = 0; i < op->manifests->len; i++)
    {
      Key *k = op->manifests->pdata[i];
      if (op->need > 0 && k->acks >= op->need)
        {
          op->report.manifests_confirmed++;
          mb_store_drop_manifest (rp->store, k->key);
        }
      else
        op->report.manifests_failed++;
    }
  mbi_op_retire (base);
  if (base->shutdown_done)
    base->shutdown_done (rp, &op->report, base->data);
  mbi_op_free (base);
}

static gboolean
shutdown_check (const RingOp *base, GString *why)
{
  const OpShutdown *op = (const OpShutdown *) base;
  for (guint pass = 0; pass < 2; pass++)
    {
      GPtrArray *keys = pass ? op->manifests : op->chunks;
      for (guint i = 0; i < keys->len; i++)
        {
          const Key *k = keys->pdata[i];
          if (k->acks > k->tried->len || k->retargets > MAX_RETARGETS
              || in_array (k->tried, base->rp->addr))
            {
              g_string_append_printf (why, "shutdown: %s %.16s: %u acks of %u members asked, "
                                      "%u re-targets%s", pass ? "manifest" : "chunk", k->key,
                                      k->acks, k->tried->len, k->retargets,
                                      in_array (k->tried, base->rp->addr) ? ", itself asked" : "");
              return FALSE;
            }
        }
    }
  return TRUE;
}

static const RingOpVtable shutdown_vtable = {
  "shutdown", shutdown_on_reply, shutdown_maybe_finish, shutdown_free, shutdown_check,
};

void
mb_ringpeer_shutdown (MbRingPeer *rp, guint64 now, MbShutdownDoneFn done, gpointer data)
{
  OpShutdown *op = mbi_op_new (rp, &shutdown_vtable, OP_SHUTDOWN, sizeof (OpShutdown), "");
  op->base.shutdown_done = done;
  op->base.data = data;
  op->chunks = g_ptr_array_new_with_free_func (key_free);
  op->manifests = g_ptr_array_new_with_free_func (key_free);
  op->by_id = g_hash_table_new (g_str_hash, g_str_equal);
  rp->leaving = TRUE;
  /* R' = min(R, members that stay as far as we know). */
  guint staying = 0;
  for (guint i = 0; i < mb_ring_n_members (rp->view); i++)
    {
      const char *m = mb_ring_member (rp->view, i);
      staying += !mbi_rp_is_self (rp, m) && !mbi_rp_is_leaver (rp, m);
    }
  op->need = MIN (rp->cfg.replication, staying);
  /* 1. scan; 2. the owners without us; 3. confirm there (manifests after
   * the chunks, in maybe_finish). */
  g_autoptr (GPtrArray) ids = mb_store_list_chunks (rp->store);
  for (guint c = 0; c < ids->len; c++)
    {
      Key *k = key_new (ids->pdata[c], owned_before (rp, ids->pdata[c], rp->addr));
      g_ptr_array_add (op->chunks, k);
      g_hash_table_insert (op->by_id, k->key, k);
    }
  g_autoptr (GPtrArray) names = mb_store_list_manifests (rp->store);
  for (guint k = 0; k < names->len; k++)
    g_ptr_array_add (op->manifests, key_new (names->pdata[k], TRUE));
  for (guint i = 0; i < op->chunks->len; i++)
    confirm_chunk (op, i, op->need, now);
  shutdown_maybe_finish (&op->base, now);
}
