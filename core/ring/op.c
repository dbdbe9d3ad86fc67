/* op.c — what every ring operation shares (the ops themselves are in
 * op-store.c, op-fetch.c, op-shutdown.c, op-repair.c): creation, the routing
 * of an answer to the op that asked, the report, and the two ways a copy is
 * placed — kept here when this peer is the target, else sent.
 *
 * Invariants: an op is in rp->ops, in creation order, from mbi_op_new until
 * it is retired (reported = TRUE), which happens once, when it is done; it
 * is freed right after its report, or with the peer.  An op never reports
 * from on_reply, only from maybe_finish (so the caller of on_reply can still
 * call maybe_finish).
 */
#define MB_RING_PEER_INTERNAL
#include "ring/ringpeer-private.h"

#include <string.h>

#include "content/chunk.h"

gpointer
mbi_op_new (MbRingPeer *rp, const RingOpVtable *vt, OpKind kind, gsize size, const char *name)
{
  g_assert (size >= sizeof (RingOp));
  RingOp *op = g_malloc0 (size);
  op->vt = vt;
  op->kind = kind;
  op->rp = rp;
  op->name = g_strdup (name);
  op->serial = rp->next_serial++;
  g_ptr_array_add (rp->ops, op);
  return op;
}

void
mbi_op_free (RingOp *op)
{
  op->vt->free (op);
  if (op->result.content)
    g_bytes_unref (op->result.content);
  g_free (op->error);
  g_free (op->name);
  g_free (op);
}

void
mbi_op_fail (RingOp *op, const char *fmt, ...)
{
  if (op->error)
    return;
  va_list ap;
  va_start (ap, fmt);
  op->error = g_strdup_vprintf (fmt, ap);
  va_end (ap);
}

void
mbi_op_retire (RingOp *op)
{
  op->reported = TRUE;
  g_ptr_array_remove (op->rp->ops, op);
}

void
mbi_op_report (RingOp *op, const MbManifest *manifest)
{
  mbi_op_retire (op);
  if (op->done)
    {
      op->result.ok = op->error == NULL;
      op->result.error = op->error;
      op->result.manifest = manifest;
      op->done (op->rp, &op->result, op->data);
    }
  mbi_op_free (op);
}

void
mbi_op_reply (RingOp *op, Rpc *r, const MbMessage *msg, guint64 now)
{
  op->pending--;
  op->vt->on_reply (op, r, msg, now);
  op->vt->maybe_finish (op, now);
}

/* ---- placing copies ---- */

void
mbi_op_place (RingOp *op, const char *target, const MbiPlacement *how, gpointer data,
              guint64 now)
{
  if (mbi_rp_is_self (op->rp, target))
    how->keep (op, data, now);
  else
    how->send (op, target, data, now);
}

void
mbi_op_place_at_owners (RingOp *op, const char *key, const MbiPlacement *how, gpointer data,
                        guint64 now)
{
  MbRingPeer *rp = op->rp;
  g_auto (MbiOwners) owners = { 0 };
  mbi_owners_init (&owners, rp->view, key, rp->cfg.replication);
  for (guint k = 0; k < owners.n; k++)
    mbi_op_place (op, owners.names[k], how, data, now);
}

Rpc *
mbi_op_send_chunk (RingOp *op, const MbManifest *m, guint i, const char *target, GBytes *bytes,
                   guint64 now)
{
  MbMessage *msg = mb_message_new (MB_MSG_STORE_CHUNK);
  msg->chunk_id = g_strdup (mb_manifest_chunk_id (m, i));
  msg->data = bytes ? g_bytes_ref (bytes) : NULL;
  msg->length = mb_manifest_chunk_len (m, i);
  return mbi_rp_send (op->rp, op, RPC_STORE_CHUNK, target, msg, i, msg->length, now);
}

Rpc *
mbi_op_send_manifest (RingOp *op, const char *target, const MbManifest *m, guint64 now)
{
  MbMessage *msg = mb_message_new (MB_MSG_STORE_MANIFEST);
  msg->manifest = mb_manifest_copy (m);
  return mbi_rp_send (op->rp, op, RPC_STORE_MANIFEST, target, msg, 0,
                      mb_manifest_encoded_size (m), now);
}

gboolean
mbi_rp_put_local_chunk (MbRingPeer *rp, const MbManifest *m, guint i, GBytes *bytes)
{
  return mb_store_put_chunk (rp->store, mb_manifest_chunk_id (m, i),
                             rp->cfg.virtual_content ? NULL : bytes,
                             mb_manifest_chunk_len (m, i), NULL);
}

gboolean
mbi_rp_chunk_verifies (MbRingPeer *rp, const MbManifest *m, guint i, const MbMessage *msg)
{
  guint32 len = msg->data ? (guint32) g_bytes_get_size (msg->data) : msg->length;
  if (len != mb_manifest_chunk_len (m, i) || g_strcmp0 (msg->chunk_id, mb_manifest_chunk_id (m, i)) != 0)
    return FALSE;
  if (rp->cfg.virtual_content)
    return TRUE;
  if (!msg->data)
    return FALSE;
  if (rp->store->verifies_puts)
    return TRUE; /* the put that follows hashes it, once */
  char got[65];
  gsize n;
  const guint8 *bytes = g_bytes_get_data (msg->data, &n);
  mb_chunk_id_compute (bytes, n, got);
  return strcmp (got, mb_manifest_chunk_id (m, i)) == 0;
}
