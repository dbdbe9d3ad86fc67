/* op-store.c — store_file: split the file into chunks (id = SHA-256) and
 * put each on R members, while reading the name's current manifest from a
 * read quorum (the version to exceed); then the manifest, holders = the
 * copies acknowledged, version = the newest read + 1 (the same version if
 * the content is the same), to the name's R owners.
 *
 * Honest writes (issue 12): a copy goes first to the R owners of its key;
 * one that fails (an error, "leaving", "disk full", no answer) goes to the
 * next member of the key's preference list that was not tried yet (hinted
 * hand-off), at most cfg.handoff_tries times per chunk and for the manifest.
 * The store succeeds only if every chunk has R' = min(R, members, counting
 * those taken for crashed, not back: a partition's minority refuses)
 * acknowledged copies and W' of the manifest's owners acknowledged it
 * (mbi_rp_quorums); otherwise the report is an error naming what is
 * missing (op-store-report.c).  No manifest is written while a chunk is
 * short, and a holder that keeps a newer version (MB_ERR_STALE) fails it.
 *
 * Invariants: a chunk's holders in op->manifest are exactly the members
 * that acknowledged a copy; every member a copy of chunk i went to is in
 * tried[i] (so no member gets two, and a hand-off never picks one in
 * flight); tries[i] <= cfg.handoff_tries; the manifest goes out only after
 * every chunk copy and the read are answered, and the op reports once,
 * after the manifest copies are answered too.
 */
#define MB_RING_PEER_INTERNAL
#include "ring/op-store-private.h"

#include "content/chunk.h"

static void
store_free (RingOp *base)
{
  OpStore *op = (OpStore *) base;
  guint n = op->manifest ? mb_manifest_n_chunks (op->manifest) : 0;
  for (guint i = 0; op->chunk_bytes && i < n; i++)
    if (op->chunk_bytes[i])
      g_bytes_unref (op->chunk_bytes[i]);
  for (guint i = 0; op->tried && i < n; i++)
    if (op->tried[i])
      g_ptr_array_unref (op->tried[i]);
  g_free (op->chunk_bytes);
  g_free (op->tried);
  g_free (op->tries);
  if (op->m_tried)
    g_ptr_array_unref (op->m_tried);
  if (op->failures)
    g_ptr_array_unref (op->failures);
  g_free (op->stale);
  mbi_read_clear (&op->read);
  if (op->manifest)
    mb_manifest_unref (op->manifest);
}

static gboolean
in_array (GPtrArray *a, const char *member)
{
  return a && mbi_rp_in_list ((const char *const *) a->pdata, a->len, member);
}

static gboolean
is_owner (OpStore *op, const char *key, const char *member)
{
  g_auto (MbiOwners) owners = { 0 };
  mbi_owners_init (&owners, op->base.rp->view, key, op->q.r);
  return mbi_owners_has (&owners, member);
}

/* The first member of key's preference list (its owners, then handoff_tries
 * more) not in `tried` and not known to be leaving; NULL if none.  The name
 * is borrowed from the view: the caller copies it at once. */
static const char *
next_member (OpStore *op, const char *key, GPtrArray *tried)
{
  MbRingPeer *rp = op->base.rp;
  g_auto (MbiOwners) pref = { 0 };
  mbi_owners_init (&pref, rp->view, key, op->q.r + rp->cfg.handoff_tries);
  for (guint k = 0; k < pref.n; k++)
    if (!in_array (tried, pref.names[k]) && !mbi_rp_is_leaver (rp, pref.names[k]))
      return pref.names[k];
  return NULL;
}

/* ---- chunk copies ---- */

static void chunk_retry (OpStore *op, guint i, guint64 now);

static void
chunk_keep (RingOp *base, gpointer data, guint64 now)
{
  OpStore *op = (OpStore *) base;
  MbRingPeer *rp = base->rp;
  guint i = *(const guint *) data;
  g_autoptr (GError) err = NULL;
  if (mb_store_put_chunk (rp->store, mb_manifest_chunk_id (op->manifest, i),
                          rp->cfg.virtual_content ? NULL : op->chunk_bytes[i],
                          mb_manifest_chunk_len (op->manifest, i), &err))
    {
      mb_manifest_add_holder (op->manifest, i, rp->addr);
      base->result.chunks_placed++;
      base->result.bytes += mb_manifest_chunk_len (op->manifest, i);
      if (!is_owner (op, mb_manifest_chunk_id (op->manifest, i), rp->addr))
        {
          base->result.handoffs++;
          rp->stats.handoffs++;
        }
      return;
    }
  base->result.chunks_failed++;
  mbi_store_note_failure (op, rp->addr, NULL, err->message);
  chunk_retry (op, i, now);
}

static void
chunk_send (RingOp *base, const char *target, gpointer data, guint64 now)
{
  OpStore *op = (OpStore *) base;
  guint i = *(const guint *) data;
  mbi_op_send_chunk (base, op->manifest, i, target, op->chunk_bytes[i], now);
}

static const MbiPlacement chunk_placement = { chunk_keep, chunk_send };

static void
chunk_place (OpStore *op, guint i, const char *member, guint64 now)
{
  if (!op->tried[i])
    op->tried[i] = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (op->tried[i], g_strdup (member));
  mbi_op_place (&op->base, op->tried[i]->pdata[op->tried[i]->len - 1], &chunk_placement, &i,
                now);
}

/* A copy of chunk i failed: the next member, if tries are left. */
static void
chunk_retry (OpStore *op, guint i, guint64 now)
{
  if (op->tries[i] >= op->base.rp->cfg.handoff_tries)
    return;
  const char *next = next_member (op, mb_manifest_chunk_id (op->manifest, i), op->tried[i]);
  if (!next)
    return;
  op->tries[i]++;
  chunk_place (op, i, next, now);
}

static void
chunk_reply (OpStore *op, Rpc *r, const MbMessage *msg, guint64 now)
{
  RingOp *base = &op->base;
  if (msg && msg->type == MB_MSG_OK)
    {
      mb_manifest_add_holder (op->manifest, r->index, r->target);
      base->result.chunks_placed++;
      base->result.bytes += r->bytes;
      if (!is_owner (op, mb_manifest_chunk_id (op->manifest, r->index), r->target))
        {
          base->result.handoffs++;
          base->rp->stats.handoffs++;
        }
      return;
    }
  base->result.chunks_failed++;
  mbi_store_note_failure (op, r->target, msg, NULL);
  chunk_retry (op, r->index, now);
}

/* ---- manifest copies ---- */

static void manifest_retry (OpStore *op, guint64 now);

static void
manifest_acked (OpStore *op, const char *member)
{
  op->base.result.manifest_copies++;
  if (is_owner (op, op->base.name, member))
    op->base.result.manifest_owners++;
}

static void
manifest_keep (RingOp *base, gpointer data, guint64 now)
{
  OpStore *op = (OpStore *) base;
  MbRingPeer *rp = base->rp;
  g_autofree gchar *why = NULL;
  MbErrCode code = mbi_rp_accept_manifest (rp, op->manifest, &why);
  if (code == MB_ERR_NONE)
    manifest_acked (op, rp->addr);
  else if (code == MB_ERR_STALE && !op->stale)
    op->stale = g_strdup_printf ("%s: %s", rp->addr, why);
  else if (code != MB_ERR_STALE)
    {
      mbi_store_note_failure (op, rp->addr, NULL, why);
      manifest_retry (op, now);
    }
}

static void
manifest_send (RingOp *base, const char *target, gpointer data, guint64 now)
{
  mbi_op_send_manifest (base, target, ((OpStore *) base)->manifest, now);
}

static const MbiPlacement manifest_placement = { manifest_keep, manifest_send };

static void
manifest_place (OpStore *op, const char *member, guint64 now)
{
  g_ptr_array_add (op->m_tried, g_strdup (member));
  mbi_op_place (&op->base, op->m_tried->pdata[op->m_tried->len - 1], &manifest_placement, NULL,
                now);
}

static void
manifest_retry (OpStore *op, guint64 now)
{
  if (op->m_tries >= op->base.rp->cfg.handoff_tries)
    return;
  const char *next = next_member (op, op->base.name, op->m_tried);
  if (!next)
    return;
  op->m_tries++;
  manifest_place (op, next, now);
}

static void
manifest_reply (OpStore *op, Rpc *r, const MbMessage *msg, guint64 now)
{
  if (msg && msg->type == MB_MSG_OK)
    manifest_acked (op, r->target);
  else if (msg && msg->type == MB_MSG_ERROR && msg->code == MB_ERR_STALE)
    {
      if (!op->stale)
        op->stale = g_strdup_printf ("%s: %s", r->target, msg->text ? msg->text : "stale");
    }
  else
    {
      mbi_store_note_failure (op, r->target, msg, NULL);
      manifest_retry (op, now);
    }
}

/* The version to write: the newest read + 1, or its own if the content is
 * the same (a re-store), or 1 for a new name.  FALSE (op failed) if the
 * newest is already the last version there is. */
static gboolean
choose_version (OpStore *op)
{
  const MbManifest *newest = mbi_read_newest (&op->read);
  guint64 v = 1;
  if (newest && mb_manifest_same_content (newest, op->manifest))
    v = mb_manifest_version (newest);
  else if (newest && mb_manifest_version (newest) >= MB_MANIFEST_VERSION_MAX)
    {
      mbi_op_fail (&op->base, "store_file %s: the newest version held is %" G_GUINT64_FORMAT
                   ", the last there is: no newer one can be written", op->base.name,
                   mb_manifest_version (newest));
      return FALSE;
    }
  else if (newest)
    v = mb_manifest_version (newest) + 1;
  mb_manifest_set_version (op->manifest, v);
  op->base.result.version = v;
  return TRUE;
}

/* ---- the op ---- */

static void
store_on_reply (RingOp *base, Rpc *r, const MbMessage *msg, guint64 now)
{
  OpStore *op = (OpStore *) base;
  if (r->kind == RPC_GET_MANIFEST)
    mbi_read_on_reply (base, &op->read, r, msg, now);
  else if (r->kind == RPC_STORE_CHUNK)
    chunk_reply (op, r, msg, now);
  else if (r->kind == RPC_STORE_MANIFEST)
    manifest_reply (op, r, msg, now);
}

static void
store_maybe_finish (RingOp *base, guint64 now)
{
  OpStore *op = (OpStore *) base;
  MbRingPeer *rp = base->rp;
  if (base->reported || base->pending > 0)
    return;
  g_auto (MbiOwners) owners = { 0 };
  mbi_owners_init (&owners, rp->view, base->name, op->q.r);
  if (!op->manifest_phase && !base->error)
    {
      g_assert (mbi_read_done (&op->read));
      if (op->read.answers < op->q.q)
        mbi_op_fail (base, "store_file %s: cannot tell the version to write: %u of the %u "
                     "copies of the manifest a read needs answered", base->name,
                     op->read.answers, op->q.q);
      else if (!mbi_store_fail_short_chunks (op) && choose_version (op))
        {
          op->manifest_phase = TRUE;
          for (guint k = 0; k < owners.n; k++)
            manifest_place (op, owners.names[k], now);
          if (base->pending > 0)
            return;
        }
    }
  if (op->manifest_phase && !base->error)
    mbi_store_fail_manifest (op, owners.n);
  mbi_op_report (base, op->manifest);
}

static gboolean
store_check (const RingOp *base, GString *why)
{
  const OpStore *op = (const OpStore *) base;
  if (!mbi_read_check (&op->read, base, why))
    return FALSE;
  guint n = op->manifest ? mb_manifest_n_chunks (op->manifest) : 0;
  for (guint i = 0; op->tries && i < n; i++)
    {
      guint tried = op->tried[i] ? op->tried[i]->len : 0;
      if (op->tries[i] > base->rp->cfg.handoff_tries || mb_manifest_n_holders (op->manifest, i) > tried)
        {
          g_string_append_printf (why, "store %s: chunk %u: %u hand-offs (at most %u), %u "
                                  "holders of %u members tried", base->name, i, op->tries[i],
                                  base->rp->cfg.handoff_tries,
                                  mb_manifest_n_holders (op->manifest, i), tried);
          return FALSE;
        }
    }
  return TRUE;
}

static void
store_progress (const RingOp *base, MbRingOpProgress *out)
{
  const OpStore *op = (const OpStore *) base;
  if (!op->manifest)
    return;
  guint n = mb_manifest_n_chunks (op->manifest);
  guint r = MAX (op->q.r, 1);
  out->chunks_total = n;
  for (guint i = 0; i < n; i++)
    if (mb_manifest_n_holders (op->manifest, i) >= r)
      out->chunks_done++;
  out->bytes = base->result.bytes;
  out->bytes_total = mb_manifest_size (op->manifest) * r;
}

static const RingOpVtable store_vtable = {
  "store", store_on_reply, store_maybe_finish, store_free, store_check, store_progress,
};

/* The chunk ids (and CRCs) of the manifest; op->chunk_bytes with content. */
static void
store_split (OpStore *op, GBytes *content, gboolean hashed)
{
  MbRingPeer *rp = op->base.rp;
  guint n = mb_manifest_n_chunks (op->manifest);
  op->chunk_bytes = g_new0 (GBytes *, MAX (n, 1));
  op->tried = g_new0 (GPtrArray *, MAX (n, 1));
  op->tries = g_new0 (guint, MAX (n, 1));
  guint8 *buf = content ? NULL : g_malloc (rp->cfg.chunk_size);
  for (guint i = 0; i < n; i++)
    {
      guint32 len = mb_manifest_chunk_len (op->manifest, i);
      const guint8 *bytes;
      if (content)
        {
          op->chunk_bytes[i] = g_bytes_new_from_bytes (content, (gsize) i * rp->cfg.chunk_size, len);
          bytes = g_bytes_get_data (op->chunk_bytes[i], NULL);
        }
      else
        {
          mb_chunk_generate (op->base.name, i, buf, len);
          bytes = buf;
        }
      if (hashed)
        continue;
      char id[65];
      mb_chunk_id_compute (bytes, len, id);
      mb_manifest_set_chunk (op->manifest, i, id, mb_chunk_crc_compute (bytes, len), NULL);
    }
  g_free (buf);
}

/* store_file and store_hashed: hashed is a manifest with the ids set (taken)
 * or NULL (made here from name and the size). */
static void
store_start (MbRingPeer *rp, const char *name, GBytes *content, guint64 size,
             MbManifest *hashed, guint64 now, MbRingDoneFn done, gpointer data)
{
  OpStore *op = mbi_op_new (rp, &store_vtable, OP_STORE, sizeof (OpStore), name);
  RingOp *base = &op->base;
  base->done = done;
  base->data = data;
  op->q = mbi_rp_quorums (rp);
  base->result.replication = op->q.r;
  base->result.write_quorum = op->q.w;
  op->m_tried = g_ptr_array_new_with_free_func (g_free);
  op->failures = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) err = NULL;
  guint64 fsize = content ? g_bytes_get_size (content) : size;
  if (rp->leaving)
    mbi_op_fail (base, "this peer is leaving the ring");
  else if (mb_ring_n_members (rp->view) == 0)
    mbi_op_fail (base, "no ring members known");
  else if (hashed && mb_manifest_chunk_size (hashed) != rp->cfg.chunk_size)
    mbi_op_fail (base, "the manifest's chunk size %u is not this peer's (%u)",
                 mb_manifest_chunk_size (hashed), rp->cfg.chunk_size);
  else if (hashed)
    op->manifest = mb_manifest_ref (hashed);
  else if (!(op->manifest = mb_manifest_new (name, fsize, rp->cfg.chunk_size, &err)))
    mbi_op_fail (base, "%s", err->message);
  if (hashed)
    mb_manifest_unref (hashed);
  if (base->error)
    {
      mbi_op_report (base, op->manifest);
      return;
    }
  store_split (op, content, hashed != NULL);
  mbi_read_start (base, &op->read, FALSE, op->q.q, op->q.r + rp->cfg.handoff_tries, now);
  for (guint i = 0; i < mb_manifest_n_chunks (op->manifest); i++)
    {
      g_auto (MbiOwners) owners = { 0 };
      mbi_owners_init (&owners, rp->view, mb_manifest_chunk_id (op->manifest, i), op->q.r);
      for (guint k = 0; k < owners.n; k++)
        chunk_place (op, i, owners.names[k], now);
    }
  store_maybe_finish (base, now);
}

void
mb_ringpeer_store_file (MbRingPeer *rp, const char *name, GBytes *content, guint64 size,
                        guint64 now, MbRingDoneFn done, gpointer data)
{
  store_start (rp, name, content, size, NULL, now, done, data);
}

void
mb_ringpeer_store_hashed (MbRingPeer *rp, MbManifest *hashed, GBytes *content,
                          guint64 now, MbRingDoneFn done, gpointer data)
{
  g_return_if_fail (hashed != NULL && content != NULL
                    && mb_manifest_size (hashed) == g_bytes_get_size (content));
  store_start (rp, mb_manifest_name (hashed), content, 0, hashed, now, done, data);
}
