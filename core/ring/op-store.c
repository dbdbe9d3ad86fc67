/* op-store.c — store_file: split the file into chunks (id = SHA-256), each
 * chunk to the R owners of its id (kept here when this peer is one); then,
 * once every chunk copy is answered, the manifest, holders = the copies that
 * were acknowledged, to the R owners of the name.
 *
 * Invariants: the manifest goes out only after every chunk copy has been
 * answered (pending = 0) and only if each chunk is held somewhere; the
 * manifest's holders are exactly the acknowledged copies; the op reports
 * once, after the manifest copies are answered too.
 */
#define MB_RING_PEER_INTERNAL
#include "ring/ringpeer-private.h"

#include "content/chunk.h"

typedef struct {
  RingOp base;
  MbManifest *manifest;
  GBytes **chunk_bytes;     /* per chunk (real content), else NULL */
  gboolean manifest_phase;
} OpStore;

static void
store_free (RingOp *base)
{
  OpStore *op = (OpStore *) base;
  guint n = op->manifest ? mb_manifest_n_chunks (op->manifest) : 0;
  for (guint i = 0; op->chunk_bytes && i < n; i++)
    if (op->chunk_bytes[i])
      g_bytes_unref (op->chunk_bytes[i]);
  g_free (op->chunk_bytes);
  if (op->manifest)
    mb_manifest_unref (op->manifest);
}

/* ---- chunk copies ---- */

static void
chunk_keep (RingOp *base, gpointer data, guint64 now)
{
  OpStore *op = (OpStore *) base;
  MbRingPeer *rp = base->rp;
  guint i = *(const guint *) data;
  if (mbi_rp_put_local_chunk (rp, op->manifest, i, op->chunk_bytes[i]))
    {
      mb_manifest_add_holder (op->manifest, i, rp->addr);
      base->result.chunks_placed++;
      base->result.bytes += mb_manifest_chunk_len (op->manifest, i);
    }
}

static void
chunk_send (RingOp *base, const char *target, gpointer data, guint64 now)
{
  OpStore *op = (OpStore *) base;
  guint i = *(const guint *) data;
  mbi_op_send_chunk (base, op->manifest, i, target, op->chunk_bytes[i], now);
}

static const MbiPlacement chunk_placement = { chunk_keep, chunk_send };

/* ---- manifest copies ---- */

static void
manifest_keep (RingOp *base, gpointer data, guint64 now)
{
  OpStore *op = (OpStore *) base;
  if (mb_store_put_manifest (base->rp->store, op->manifest, NULL))
    base->result.manifest_owners++;
}

static void
manifest_send (RingOp *base, const char *target, gpointer data, guint64 now)
{
  mbi_op_send_manifest (base, target, ((OpStore *) base)->manifest, now);
}

static const MbiPlacement manifest_placement = { manifest_keep, manifest_send };

/* ---- the op ---- */

static void
store_on_reply (RingOp *base, Rpc *r, const MbMessage *msg, guint64 now)
{
  OpStore *op = (OpStore *) base;
  gboolean ok = msg && msg->type == MB_MSG_OK;
  if (r->kind == RPC_STORE_CHUNK && ok)
    {
      mb_manifest_add_holder (op->manifest, r->index, r->target);
      base->result.chunks_placed++;
      base->result.bytes += r->bytes;
    }
  else if (r->kind == RPC_STORE_CHUNK)
    base->result.chunks_failed++;
  else if (r->kind == RPC_STORE_MANIFEST && ok)
    base->result.manifest_owners++;
}

static void
store_maybe_finish (RingOp *base, guint64 now)
{
  OpStore *op = (OpStore *) base;
  if (base->reported || base->pending > 0)
    return;
  if (!op->manifest_phase)
    {
      guint n = mb_manifest_n_chunks (op->manifest);
      for (guint i = 0; i < n; i++)
        if (mb_manifest_n_holders (op->manifest, i) == 0)
          mbi_op_fail (base, "chunk %u of %s was stored nowhere", i, base->name);
      if (!base->error)
        {
          op->manifest_phase = TRUE;
          mbi_op_place_at_owners (base, base->name, &manifest_placement, NULL, now);
        }
      if (base->pending > 0)
        return;
    }
  if (!base->error && base->result.manifest_owners == 0)
    mbi_op_fail (base, "the manifest of %s was stored nowhere", base->name);
  mbi_op_report (base, op->manifest);
}

static const RingOpVtable store_vtable = {
  "store", store_on_reply, store_maybe_finish, store_free, NULL,
};

/* The chunk ids (and CRCs) of the manifest; op->chunk_bytes with content. */
static void
store_split (OpStore *op, GBytes *content)
{
  MbRingPeer *rp = op->base.rp;
  guint n = mb_manifest_n_chunks (op->manifest);
  op->chunk_bytes = g_new0 (GBytes *, MAX (n, 1));
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
      char id[65];
      mb_chunk_id_compute (bytes, len, id);
      mb_manifest_set_chunk (op->manifest, i, id, mb_chunk_crc_compute (bytes, len), NULL);
    }
  g_free (buf);
}

void
mb_ringpeer_store_file (MbRingPeer *rp, const char *name, GBytes *content, guint64 size,
                        guint64 now, MbRingDoneFn done, gpointer data)
{
  OpStore *op = mbi_op_new (rp, &store_vtable, OP_STORE, sizeof (OpStore), name);
  RingOp *base = &op->base;
  base->done = done;
  base->data = data;
  g_autoptr (GError) err = NULL;
  guint64 fsize = content ? g_bytes_get_size (content) : size;
  if (rp->leaving)
    mbi_op_fail (base, "this peer is leaving the ring");
  else if (mb_ring_n_members (rp->view) == 0)
    mbi_op_fail (base, "no ring members known");
  else if (!(op->manifest = mb_manifest_new (name, fsize, rp->cfg.chunk_size, &err)))
    mbi_op_fail (base, "%s", err->message);
  if (base->error)
    {
      mbi_op_report (base, op->manifest);
      return;
    }
  store_split (op, content);
  for (guint i = 0; i < mb_manifest_n_chunks (op->manifest); i++)
    mbi_op_place_at_owners (base, mb_manifest_chunk_id (op->manifest, i), &chunk_placement, &i,
                            now);
  store_maybe_finish (base, now);
}
