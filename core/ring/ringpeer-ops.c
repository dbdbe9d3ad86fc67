/* ringpeer-ops.c — the ring peer's client operations.
 *
 *  store_file   split into chunks (id = SHA-256), each chunk to the R owners
 *               of its id; then the manifest, holders = the copies that were
 *               acknowledged, to the R owners of the name.
 *  fetch_file   the manifest from the first owner that has it (following
 *               redirects, failing over to the next owner); then the chunks,
 *               rarest first, from several holders at once (at most
 *               per_holder requests each), failing over between holders;
 *               each verified before it is stored; then update_manifest at
 *               the owners, adding this peer as a holder.
 *  shutdown     the seed's five steps: scan local manifests and chunks,
 *               compute owners without this peer, transfer each key to the
 *               owners it gains, drop what was transferred, report.  Only
 *               keys this peer owned move, and each only to its new owners.
 *  repair       after a crash: the first surviving owner of each manifest
 *               copies under-replicated chunks (from a surviving copy) to
 *               their owners and the manifest to owners that lack it.
 */
#define MB_RING_PEER_INTERNAL
#include "ring/ringpeer-private.h"

#include <string.h>

#include "content/chunk.h"

enum { PHASE_CHUNKS = 0, PHASE_MANIFEST, PHASE_DONE };

Op *
mbi_op_new (MbRingPeer *rp, OpKind kind, const char *name)
{
  Op *op = g_new0 (Op, 1);
  op->kind = kind;
  op->rp = rp;
  op->name = g_strdup (name);
  g_ptr_array_add (rp->ops, op);
  return op;
}

void
mbi_op_free (Op *op)
{
  guint n = op->manifest ? mb_manifest_n_chunks (op->manifest) : 0;
  for (guint i = 0; op->chunk_bytes && i < n; i++)
    if (op->chunk_bytes[i])
      g_bytes_unref (op->chunk_bytes[i]);
  for (guint i = 0; op->tried && i < n; i++)
    if (op->tried[i])
      g_ptr_array_unref (op->tried[i]);
  if (op->manifest)
    mb_manifest_unref (op->manifest);
  g_free (op->chunk_bytes);
  g_free (op->tried);
  g_free (op->state);
  if (op->load)
    g_hash_table_unref (op->load);
  g_free (op->order);
  g_free (op->pos);
  if (op->sources)
    g_hash_table_unref (op->sources);
  if (op->owners)
    g_ptr_array_unref (op->owners);
  if (op->moved_chunks)
    g_ptr_array_unref (op->moved_chunks);
  if (op->moved_manifests)
    g_ptr_array_unref (op->moved_manifests);
  if (op->repair_targets)
    g_ptr_array_unref (op->repair_targets);
  if (op->gained)
    g_ptr_array_unref (op->gained);
  if (op->result.content)
    g_bytes_unref (op->result.content);
  g_free (op->error);
  g_free (op->name);
  g_free (op);
}

static void
op_fail (Op *op, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
op_fail (Op *op, const char *fmt, ...)
{
  if (op->error)
    return;
  va_list ap;
  va_start (ap, fmt);
  op->error = g_strdup_vprintf (fmt, ap);
  va_end (ap);
}

static void
op_report (Op *op)
{
  MbRingPeer *rp = op->rp;
  op->reported = TRUE;
  g_ptr_array_remove (rp->ops, op);
  if (op->kind == OP_SHUTDOWN)
    {
      if (op->shutdown_done)
        op->shutdown_done (rp, &op->report, op->data);
    }
  else if (op->done)
    {
      op->result.ok = op->error == NULL;
      op->result.error = op->error;
      op->result.manifest = op->manifest;
      op->done (rp, &op->result, op->data);
    }
  mbi_op_free (op);
}

/* ---- store_file ---- */

static void
send_chunk_copy (Op *op, guint i, const char *target, GBytes *bytes, RpcKind kind)
{
  MbRingPeer *rp = op->rp;
  MbMessage *m = mb_message_new (MB_MSG_STORE_CHUNK);
  m->chunk_id = g_strdup (mb_manifest_chunk_id (op->manifest, i));
  m->data = bytes ? g_bytes_ref (bytes) : NULL;
  m->length = mbi_rp_chunk_len (op->manifest, i);
  mbi_rp_send (rp, op, kind, target, m, i, m->length);
}

static Rpc *
send_manifest_copy (Op *op, const char *target, const MbManifest *m)
{
  MbMessage *msg = mb_message_new (MB_MSG_STORE_MANIFEST);
  msg->manifest = mb_manifest_copy (m);
  return mbi_rp_send (op->rp, op, RPC_STORE_MANIFEST, target, msg, 0,
                     mb_manifest_encoded_size (m));
}

static gboolean
put_local_chunk (MbRingPeer *rp, const MbManifest *m, guint i, GBytes *bytes)
{
  return mb_store_put_chunk (rp->store, mb_manifest_chunk_id (m, i),
                             rp->cfg.virtual_content ? NULL : bytes,
                             mbi_rp_chunk_len (m, i), NULL);
}

static void
store_send_manifest (Op *op)
{
  MbRingPeer *rp = op->rp;
  op->manifest_phase = TRUE;
  const char *owners[64];
  guint n = mbi_rp_owners (rp->view, op->name, rp->cfg.replication, owners);
  for (guint k = 0; k < n; k++)
    {
      if (mbi_rp_is_self (rp, owners[k]))
        {
          if (mb_store_put_manifest (rp->store, op->manifest, NULL))
            op->result.manifest_owners++;
        }
      else
        send_manifest_copy (op, owners[k], op->manifest);
    }
}

void
mb_ringpeer_store_file (MbRingPeer *rp, const char *name, GBytes *content, guint64 size,
                        guint64 now, MbRingDoneFn done, gpointer data)
{
  rp->now = now;
  Op *op = mbi_op_new (rp, OP_STORE, name);
  op->done = done;
  op->data = data;
  g_autoptr (GError) err = NULL;
  guint64 fsize = content ? g_bytes_get_size (content) : size;
  if (rp->leaving)
    op_fail (op, "this peer is leaving the ring");
  else if (mb_ring_n_members (rp->view) == 0)
    op_fail (op, "no ring members known");
  else if (!(op->manifest = mb_manifest_new (name, fsize, rp->cfg.chunk_size, &err)))
    op_fail (op, "%s", err->message);
  if (op->error)
    {
      op_report (op);
      return;
    }
  guint n = mb_manifest_n_chunks (op->manifest);
  op->chunk_bytes = g_new0 (GBytes *, MAX (n, 1));
  guint8 *buf = content ? NULL : g_malloc (rp->cfg.chunk_size);
  for (guint i = 0; i < n; i++)
    {
      guint32 len = mbi_rp_chunk_len (op->manifest, i);
      const guint8 *bytes;
      if (content)
        {
          op->chunk_bytes[i] = g_bytes_new_from_bytes (content, (gsize) i * rp->cfg.chunk_size, len);
          bytes = g_bytes_get_data (op->chunk_bytes[i], NULL);
        }
      else
        {
          mb_chunk_generate (name, i, buf, len);
          bytes = buf;
        }
      char id[65];
      mb_chunk_id_compute (bytes, len, id);
      mb_manifest_set_chunk (op->manifest, i, id, mb_chunk_crc_compute (bytes, len), NULL);
    }
  g_free (buf);
  for (guint i = 0; i < n; i++)
    {
      const char *owners[64];
      guint k = mbi_rp_owners (rp->view, mb_manifest_chunk_id (op->manifest, i),
                              rp->cfg.replication, owners);
      for (guint j = 0; j < k; j++)
        {
          if (mbi_rp_is_self (rp, owners[j]))
            {
              if (put_local_chunk (rp, op->manifest, i, op->chunk_bytes[i]))
                {
                  mb_manifest_add_holder (op->manifest, i, rp->addr);
                  op->result.chunks_placed++;
                  op->result.bytes += mbi_rp_chunk_len (op->manifest, i);
                }
            }
          else
            send_chunk_copy (op, i, owners[j], op->chunk_bytes[i], RPC_STORE_CHUNK);
        }
    }
  mbi_op_maybe_finish (op);
}

/* ---- fetch_file ---- */

static void fetch_pump (Op *op);
static guint chunk_candidates (Op *op, guint i, const char **out, guint max);

static void
fetch_ask_manifest (Op *op, const char *target)
{
  MbMessage *m = mb_message_new (MB_MSG_GET_MANIFEST);
  m->file = g_strdup (op->name);
  mbi_rp_send (op->rp, op, RPC_GET_MANIFEST, target, m, 0, 0);
}

static void
fetch_next_owner (Op *op)
{
  MbRingPeer *rp = op->rp;
  while (op->owner_cursor < op->owners->len)
    {
      const char *o = op->owners->pdata[op->owner_cursor++];
      if (mbi_rp_is_self (rp, o))
        continue;
      op->hops = 0;
      fetch_ask_manifest (op, o);
      return;
    }
  op->result.lookups_failed = 1;
  op_fail (op, "no owner of %s answered with its manifest", op->name);
}

static gint
cmp_rarity (gconstpointer a, gconstpointer b, gpointer data)
{
  const MbManifest *m = data;
  guint x = *(const guint *) a, y = *(const guint *) b;
  guint hx = mb_manifest_n_holders (m, x), hy = mb_manifest_n_holders (m, y);
  if (hx != hy)
    return hx < hy ? -1 : 1;
  return x < y ? -1 : (x > y);
}

static void
fetch_start_chunks (Op *op, const MbManifest *m)
{
  MbRingPeer *rp = op->rp;
  op->manifest = mb_manifest_copy (m);
  op->lookup_done = TRUE;
  guint n = mb_manifest_n_chunks (m);
  op->state = g_new0 (guint8, MAX (n, 1));
  op->tried = g_new0 (GPtrArray *, MAX (n, 1));
  op->load = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  op->order = g_new (guint, MAX (n, 1));
  op->sources = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < n; i++)
    {
      op->order[i] = i;
      if (mb_store_has_chunk (rp->store, mb_manifest_chunk_id (m, i)))
        op->state[i] = CH_DONE;
    }
  if (!rp->cfg.virtual_content)
    mb_store_fetch_begin (rp->store, op->manifest);
  /* Rarest first (fewest holders), then by index: stable and deterministic. */
  g_qsort_with_data (op->order, (gint) n, sizeof (guint), cmp_rarity, op->manifest);
  op->pos = g_new (guint, MAX (n, 1));
  for (guint k = 0; k < n; k++)
    op->pos[op->order[k]] = k;
  /* Distinct holders (and owners in our view) bound what can be in flight. */
  GHashTable *distinct = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < n; i++)
    {
      const char *cand[96];
      guint nc = chunk_candidates (op, i, cand, G_N_ELEMENTS (cand));
      for (guint h = 0; h < nc; h++)
        if (!mbi_rp_is_self (rp, cand[h]))
          g_hash_table_add (distinct, (gpointer) cand[h]);
    }
  op->capacity = MAX (1, g_hash_table_size (distinct)) * rp->cfg.per_holder;
  g_hash_table_unref (distinct);
  fetch_pump (op);
}

static guint
holder_load (Op *op, const char *holder)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (op->load, holder));
}

static void
holder_load_add (Op *op, const char *holder, gint delta)
{
  guint l = holder_load (op, holder);
  l = (guint) ((gint) l + delta);
  g_hash_table_replace (op->load, g_strdup (holder), GUINT_TO_POINTER (l));
  op->inflight = (guint) ((gint) op->inflight + delta);
}

/* Candidates for chunk i: the manifest's holders (hints), then the chunk's
 * owners in our view (where the ring says it lives now). */
static guint
chunk_candidates (Op *op, guint i, const char **out, guint max)
{
  MbRingPeer *rp = op->rp;
  guint n = 0;
  for (guint h = 0; h < mb_manifest_n_holders (op->manifest, i) && n < max; h++)
    out[n++] = mb_manifest_holder (op->manifest, i, h);
  const char *owners[64];
  guint no = mbi_rp_owners (rp->view, mb_manifest_chunk_id (op->manifest, i),
                           rp->cfg.replication, owners);
  for (guint k = 0; k < no && n < max; k++)
    if (!mbi_rp_in_list (out, n, owners[k]))
      out[n++] = owners[k];
  return n;
}

static gboolean
was_tried (Op *op, guint i, const char *member)
{
  GPtrArray *t = op->tried[i];
  for (guint k = 0; t && k < t->len; k++)
    if (strcmp (t->pdata[k], member) == 0)
      return TRUE;
  return FALSE;
}

static void
mark_tried (Op *op, guint i, const char *member)
{
  if (!op->tried[i])
    op->tried[i] = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (op->tried[i], g_strdup (member));
}

/* Sends chunk requests while holders have room (per_holder each), rarest
 * chunk first.  A chunk whose candidates were all tried has failed. */
static void
fetch_pump (Op *op)
{
  MbRingPeer *rp = op->rp;
  guint n = mb_manifest_n_chunks (op->manifest);
  gboolean settled = TRUE; /* every chunk before k is not waiting */
  for (guint k = op->scan_from; k < n && op->inflight < op->capacity; k++)
    {
      guint i = op->order[k];
      if (op->state[i] != CH_NEED)
        {
          if (settled)
            op->scan_from = k + 1;
          continue;
        }
      settled = FALSE;
      const char *cand[96];
      guint nc = chunk_candidates (op, i, cand, G_N_ELEMENTS (cand));
      const char *best = NULL;
      guint best_load = G_MAXUINT;
      gboolean untried = FALSE;
      for (guint h = 0; h < nc; h++)
        {
          if (mbi_rp_is_self (rp, cand[h]) || was_tried (op, i, cand[h]))
            continue;
          untried = TRUE;
          guint l = holder_load (op, cand[h]);
          if (l < rp->cfg.per_holder && l < best_load)
            {
              best = cand[h];
              best_load = l;
            }
        }
      if (!untried)
        {
          op->state[i] = CH_FAILED;
          op->result.chunks_failed++;
          op_fail (op, "no holder of chunk %u of %s could give it", i, op->name);
          continue;
        }
      if (!best)
        continue; /* every untried holder is busy: later */
      mark_tried (op, i, best);
      op->state[i] = CH_INFLIGHT;
      holder_load_add (op, best, +1);
      MbMessage *m = mb_message_new (MB_MSG_GET_CHUNK);
      m->chunk_id = g_strdup (mb_manifest_chunk_id (op->manifest, i));
      mbi_rp_send (rp, op, RPC_GET_CHUNK, best, m, i, 0);
    }
}

static gboolean
chunk_verifies (MbRingPeer *rp, const MbManifest *m, guint i, const MbMessage *msg)
{
  guint32 len = msg->data ? (guint32) g_bytes_get_size (msg->data) : msg->length;
  if (len != mbi_rp_chunk_len (m, i) || g_strcmp0 (msg->chunk_id, mb_manifest_chunk_id (m, i)) != 0)
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

static void
fetch_on_chunk (Op *op, Rpc *r, const MbMessage *msg)
{
  MbRingPeer *rp = op->rp;
  guint i = r->index;
  holder_load_add (op, r->target, -1);
  if (msg && msg->type == MB_MSG_CHUNK && chunk_verifies (rp, op->manifest, i, msg)
      && mb_store_put_fetched (rp->store, op->manifest, i,
                               rp->cfg.virtual_content ? NULL : msg->data, NULL))
    {
      op->state[i] = CH_DONE;
      op->result.bytes += mbi_rp_chunk_len (op->manifest, i);
      if (!g_hash_table_contains (op->sources, r->target))
        {
          g_hash_table_add (op->sources, g_strdup (r->target));
          op->result.sources++;
        }
      return;
    }
  if (msg && msg->type == MB_MSG_CHUNK)
    rp->stats.refused_chunks++;
  op->state[i] = CH_NEED; /* another holder */
  op->scan_from = MIN (op->scan_from, op->pos[i]);
}

static void
fetch_update_owners (Op *op)
{
  MbRingPeer *rp = op->rp;
  op->manifest_phase = TRUE;
  const char *owners[64];
  guint n = mbi_rp_owners (rp->view, op->name, rp->cfg.replication, owners);
  for (guint k = 0; k < n; k++)
    {
      if (mbi_rp_is_self (rp, owners[k]))
        {
          g_autoptr (MbManifest) mine = mb_store_get_manifest (rp->store, op->name);
          if (mine)
            {
              g_autoptr (MbManifest) upd = mb_manifest_copy (mine);
              for (guint i = 0; i < mb_manifest_n_chunks (upd); i++)
                mb_manifest_add_holder (upd, i, rp->addr);
              mb_store_put_manifest (rp->store, upd, NULL);
            }
          continue;
        }
      MbMessage *m = mb_message_new (MB_MSG_UPDATE_MANIFEST);
      m->file = g_strdup (op->name);
      m->addr = g_strdup (rp->addr);
      mbi_rp_send (rp, op, RPC_UPDATE_MANIFEST, owners[k], m, 0, 0);
    }
}

static GBytes *
assemble (MbRingPeer *rp, const MbManifest *m)
{
  GByteArray *all = g_byte_array_sized_new ((guint) mb_manifest_size (m));
  for (guint i = 0; i < mb_manifest_n_chunks (m); i++)
    {
      GBytes *b = NULL;
      guint32 len;
      if (!mb_store_get_chunk (rp->store, mb_manifest_chunk_id (m, i), &b, &len, NULL) || !b)
        {
          g_byte_array_unref (all);
          return NULL;
        }
      gsize n;
      const guint8 *d = g_bytes_get_data (b, &n);
      g_byte_array_append (all, d, (guint) n);
      g_bytes_unref (b);
    }
  return g_byte_array_free_to_bytes (all);
}

void
mb_ringpeer_fetch_file (MbRingPeer *rp, const char *name, guint64 now, MbRingDoneFn done,
                        gpointer data)
{
  rp->now = now;
  Op *op = mbi_op_new (rp, OP_FETCH, name);
  op->done = done;
  op->data = data;
  g_autoptr (MbManifest) local = mb_store_get_manifest (rp->store, name);
  if (local)
    {
      fetch_start_chunks (op, local);
      mbi_op_maybe_finish (op);
      return;
    }
  op->owners = g_ptr_array_new_with_free_func (g_free);
  /* The owners first; then a few more members, which (their views being
   * fresher, perhaps) redirect us to the owner when ours are gone. */
  const char *owners[64];
  guint n = mbi_rp_owners (rp->view, name, rp->cfg.replication + 3, owners);
  for (guint k = 0; k < n; k++)
    g_ptr_array_add (op->owners, g_strdup (owners[k]));
  fetch_next_owner (op);
  mbi_op_maybe_finish (op);
}

static void
fetch_on_manifest (Op *op, Rpc *r, const MbMessage *msg)
{
  MbRingPeer *rp = op->rp;
  if (msg && msg->type == MB_MSG_MANIFEST && msg->manifest
      && g_strcmp0 (mb_manifest_name (msg->manifest), op->name) == 0
      && mb_manifest_validate (msg->manifest, NULL))
    {
      fetch_start_chunks (op, msg->manifest);
      return;
    }
  if (msg && msg->type == MB_MSG_MANIFEST)
    rp->stats.refused_manifests++;
  if (msg && msg->type == MB_MSG_REDIRECT && msg->addr && op->hops < rp->cfg.max_hops
      && !mbi_rp_is_self (rp, msg->addr))
    {
      op->hops++;
      op->result.redirects++;
      fetch_ask_manifest (op, msg->addr);
      return;
    }
  fetch_next_owner (op);
}

/* ---- shutdown ---- */

/* Members that become owners of key when this peer leaves. */
static guint
gained_owners (MbRingPeer *rp, const MbRing *without, const char *key, const char **out)
{
  const char *before[64], *after[64];
  guint nb = mbi_rp_owners (rp->view, key, rp->cfg.replication, before);
  if (!mbi_rp_in_list (before, nb, rp->addr))
    return 0; /* not our key: the owners have it */
  guint na = mbi_rp_owners (without, key, rp->cfg.replication, after);
  guint k = 0;
  for (guint i = 0; i < na; i++)
    if (!mbi_rp_in_list (before, nb, after[i]))
      out[k++] = after[i];
  return k;
}

void
mb_ringpeer_shutdown (MbRingPeer *rp, guint64 now, MbShutdownDoneFn done, gpointer data)
{
  rp->now = now;
  Op *op = mbi_op_new (rp, OP_SHUTDOWN, "");
  op->shutdown_done = done;
  op->data = data;
  op->moved_chunks = g_ptr_array_new_with_free_func (g_free);
  op->moved_manifests = g_ptr_array_new_with_free_func (g_free);
  rp->leaving = TRUE;
  g_autoptr (MbRing) without = mb_ring_without_member (rp->view, rp->addr);
  /* 1. scan; 2. new owners; 3. transfer. */
  g_autoptr (GPtrArray) ids = mb_store_list_chunks (rp->store);
  for (guint c = 0; c < ids->len; c++)
    {
      const char *id = ids->pdata[c];
      const char *targets[64];
      guint nt = gained_owners (rp, without, id, targets);
      if (nt == 0)
        continue;
      GBytes *bytes = NULL;
      guint32 len = 0;
      if (!mb_store_get_chunk (rp->store, id, &bytes, &len, NULL))
        continue;
      for (guint t = 0; t < nt; t++)
        {
          MbMessage *m = mb_message_new (MB_MSG_STORE_CHUNK);
          m->chunk_id = g_strdup (id);
          m->data = bytes ? g_bytes_ref (bytes) : NULL;
          m->length = len;
          Rpc *r = mbi_rp_send (rp, op, RPC_STORE_CHUNK, targets[t], m, 0, len);
          r->key = g_strdup (id);
        }
      g_ptr_array_add (op->moved_chunks, g_strdup (id));
      if (bytes)
        g_bytes_unref (bytes);
    }
  g_autoptr (GPtrArray) names = mb_store_list_manifests (rp->store);
  for (guint k = 0; k < names->len; k++)
    {
      const char *name = names->pdata[k];
      const char *targets[64];
      guint nt = gained_owners (rp, without, name, targets);
      g_autoptr (MbManifest) m = mb_store_get_manifest (rp->store, name);
      if (!m || nt == 0)
        continue;
      /* The manifest as it will be: this peer's chunks are with their new owners. */
      g_autoptr (MbManifest) upd = mb_manifest_copy (m);
      for (guint i = 0; i < mb_manifest_n_chunks (upd); i++)
        if (mb_manifest_remove_holder (upd, i, rp->addr))
          {
            const char *ct[64];
            guint nc = gained_owners (rp, without, mb_manifest_chunk_id (upd, i), ct);
            for (guint j = 0; j < nc; j++)
              mb_manifest_add_holder (upd, i, ct[j]);
          }
      for (guint t = 0; t < nt; t++)
        send_manifest_copy (op, targets[t], upd)->key = g_strdup (name);
      g_ptr_array_add (op->moved_manifests, g_strdup (name));
    }
  mbi_op_maybe_finish (op);
}

/* The new owner refused the key (it is leaving too), is gone, or did not
 * answer: hand the key to the next member in ring order that did not own it
 * before (the (retries+1)-th after the first choice).  FALSE if none. */
static gboolean
shutdown_retarget (Op *op, Rpc *r)
{
  MbRingPeer *rp = op->rp;
  if (!r->key || r->retries >= 8)
    return FALSE;
  const char *before[64], *cand[64];
  guint nb = mbi_rp_owners (rp->view, r->key, rp->cfg.replication, before);
  guint nc = mbi_rp_owners (rp->view, r->key, MIN (rp->cfg.replication + r->retries + 2, 64), cand);
  const char *next = NULL;
  guint seen = 0;
  for (guint k = 0; k < nc && !next; k++)
    {
      if (mbi_rp_in_list (before, nb, cand[k]) || mbi_rp_is_self (rp, cand[k]))
        continue;
      if (seen++ == r->retries + 1)
        next = cand[k];
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
      MbMessage *m = mb_message_new (MB_MSG_STORE_CHUNK);
      m->chunk_id = g_strdup (r->key);
      m->data = bytes;
      m->length = len;
      again = mbi_rp_send (rp, op, RPC_STORE_CHUNK, next, m, 0, len);
    }
  else
    {
      g_autoptr (MbManifest) m = mb_store_get_manifest (rp->store, r->key);
      if (!m)
        return FALSE;
      MbMessage *msg = mb_message_new (MB_MSG_STORE_MANIFEST);
      msg->manifest = mb_manifest_copy (m);
      again = mbi_rp_send (rp, op, RPC_STORE_MANIFEST, next, msg, 0, mb_manifest_encoded_size (m));
    }
  again->key = g_strdup (r->key);
  again->retries = r->retries + 1;
  return TRUE;
}

static void
shutdown_finish (Op *op)
{
  MbRingPeer *rp = op->rp;
  /* 4. drop what was transferred; 5. report.  Keys that could not be
   * handed over stay (and leave with the peer). */
  if (op->report.chunks_failed == 0)
    for (guint i = 0; i < op->moved_chunks->len; i++)
      mb_store_drop_chunk (rp->store, op->moved_chunks->pdata[i]);
  if (op->report.manifests_failed == 0)
    for (guint i = 0; i < op->moved_manifests->len; i++)
      mb_store_drop_manifest (rp->store, op->moved_manifests->pdata[i]);
  op_report (op);
}

/* ---- repair ---- */

/* A repair copy of chunk i to `target`: kept here when we are the target
 * (a host need not deliver to itself), else sent. */
static void
repair_copy (Op *op, guint i, const char *target, GBytes *bytes)
{
  MbRingPeer *rp = op->rp;
  if (!mbi_rp_is_self (rp, target))
    {
      send_chunk_copy (op, i, target, bytes, RPC_STORE_CHUNK);
      return;
    }
  if (put_local_chunk (rp, op->manifest, i, bytes))
    {
      mb_manifest_add_holder (op->manifest, i, rp->addr);
      op->chunks_changed = TRUE;
      rp->stats.repairs_started++;
      rp->stats.repair_bytes += mbi_rp_chunk_len (op->manifest, i);
    }
}

/* Chunk i of op's manifest: forget dead holders; copy it to owners that
 * lack it — enough to restore R after a crash, and every owner it gained
 * from a join (keys move to new members as consistent hashing says). */
static void
repair_chunk (Op *op, guint i, const MbRing *old_view)
{
  MbRingPeer *rp = op->rp;
  MbManifest *m = op->manifest;
  const char *id = mb_manifest_chunk_id (m, i);
  /* Forget holders that are gone; count the live ones. */
  for (guint h = mb_manifest_n_holders (m, i); h-- > 0;)
    {
      const char *holder = mb_manifest_holder (m, i, h);
      if (!mb_ring_contains (rp->view, holder))
        mb_manifest_remove_holder (m, i, holder);
    }
  guint live = mb_manifest_n_holders (m, i);
  if (live == 0)
    return; /* lost: no copy left to repair from */
  GPtrArray *targets = g_ptr_array_new_with_free_func (g_free);
  const char *now_owners[64], *old_owners[64];
  guint nn = mbi_rp_owners (rp->view, id, rp->cfg.replication, now_owners);
  guint no = mbi_rp_owners (old_view, id, rp->cfg.replication, old_owners);
  for (guint k = 0; k < nn; k++)
    if (!mbi_rp_in_list (old_owners, no, now_owners[k]) && !mb_manifest_has_holder (m, i, now_owners[k]))
      g_ptr_array_add (targets, g_strdup (now_owners[k]));
  const char *cand[64];
  guint nc = mbi_rp_owners (rp->view, id, MIN (rp->cfg.replication + live, 64), cand);
  for (guint k = 0; k < nc && live + targets->len < rp->cfg.replication; k++)
    if (!mb_manifest_has_holder (m, i, cand[k])
        && !mbi_rp_in_list ((const char *const *) targets->pdata, targets->len, cand[k]))
      g_ptr_array_add (targets, g_strdup (cand[k]));
  if (targets->len == 0)
    {
      g_ptr_array_unref (targets);
      return;
    }
  GBytes *bytes = NULL;
  guint32 len = 0;
  if (mbi_rp_local_chunk (rp, id, &bytes, &len))
    {
      for (guint t = 0; t < targets->len; t++)
        repair_copy (op, i, targets->pdata[t], bytes);
      if (bytes)
        g_bytes_unref (bytes);
      g_ptr_array_unref (targets);
      return;
    }
  /* Fetch it from a surviving copy, then pass it on. */
  g_ptr_array_index (op->repair_targets, i) = targets;
  MbMessage *msg = mb_message_new (MB_MSG_GET_CHUNK);
  msg->chunk_id = g_strdup (id);
  mbi_rp_send (rp, op, RPC_GET_CHUNK, mb_manifest_holder (m, i, 0), msg, i, 0);
}

static void
unref_if_set (gpointer p)
{
  if (p)
    g_ptr_array_unref (p);
}

void
mbi_rp_repair (MbRingPeer *rp, MbRing *old_view, guint64 now)
{
  g_autoptr (GPtrArray) names = mb_store_list_manifests (rp->store);
  for (guint k = 0; k < names->len; k++)
    {
      const char *name = names->pdata[k];
      const char *old_owners[64];
      guint no = mbi_rp_owners (old_view, name, rp->cfg.replication, old_owners);
      const char *repairer = NULL;
      for (guint j = 0; j < no && !repairer; j++)
        if (mb_ring_contains (rp->view, old_owners[j]))
          repairer = old_owners[j];
      if (!repairer || !mbi_rp_is_self (rp, repairer))
        continue;
      MbManifest *m = mb_store_get_manifest (rp->store, name);
      if (!m)
        continue;
      Op *op = mbi_op_new (rp, OP_REPAIR, name);
      op->manifest = mb_manifest_copy (m);
      mb_manifest_unref (m);
      op->gained = g_ptr_array_new_with_free_func (g_free);
      const char *new_owners[64];
      guint nn = mbi_rp_owners (rp->view, name, rp->cfg.replication, new_owners);
      for (guint j = 0; j < nn; j++)
        if (!mbi_rp_in_list (old_owners, no, new_owners[j]))
          g_ptr_array_add (op->gained, g_strdup (new_owners[j]));
      guint n = mb_manifest_n_chunks (op->manifest);
      op->repair_targets = g_ptr_array_new_full (n, unref_if_set);
      g_ptr_array_set_size (op->repair_targets, (gint) n);
      for (guint i = 0; i < n; i++)
        repair_chunk (op, i, old_view);
      mbi_op_maybe_finish (op);
    }
}

static void
repair_on_reply (Op *op, Rpc *r, const MbMessage *msg)
{
  MbRingPeer *rp = op->rp;
  if (r->kind == RPC_GET_CHUNK)
    {
      GPtrArray *targets = g_ptr_array_index (op->repair_targets, r->index);
      if (msg && msg->type == MB_MSG_CHUNK && chunk_verifies (rp, op->manifest, r->index, msg))
        for (guint t = 0; targets && t < targets->len; t++)
          repair_copy (op, r->index, targets->pdata[t], msg->data);
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
repair_send_manifest (Op *op)
{
  MbRingPeer *rp = op->rp;
  op->manifest_phase = TRUE;
  const char *owners[64];
  guint n = mbi_rp_owners (rp->view, op->name, rp->cfg.replication, owners);
  for (guint k = 0; k < n; k++)
    {
      if (mbi_rp_is_self (rp, owners[k]))
        {
          g_autoptr (MbManifest) mine = mb_store_get_manifest (rp->store, op->name);
          if (mine)
            mb_manifest_merge (op->manifest, mine, NULL);
          mbi_rp_prune_gone (rp, op->manifest);
          mb_store_put_manifest (rp->store, op->manifest, NULL);
        }
      else if (op->chunks_changed
               || mbi_rp_in_list ((const char *const *) op->gained->pdata, op->gained->len, owners[k]))
        send_manifest_copy (op, owners[k], op->manifest); /* new holders, or a new owner */
    }
}

/* ---- replies and completion ---- */

void
mbi_op_on_reply (Op *op, Rpc *r, const MbMessage *msg)
{
  gboolean ok = msg && msg->type == MB_MSG_OK;
  switch (op->kind)
    {
    case OP_STORE:
      if (r->kind == RPC_STORE_CHUNK && ok)
        {
          mb_manifest_add_holder (op->manifest, r->index, r->target);
          op->result.chunks_placed++;
          op->result.bytes += r->bytes;
        }
      else if (r->kind == RPC_STORE_CHUNK)
        op->result.chunks_failed++;
      else if (r->kind == RPC_STORE_MANIFEST && ok)
        op->result.manifest_owners++;
      break;
    case OP_FETCH:
      if (r->kind == RPC_GET_MANIFEST)
        fetch_on_manifest (op, r, msg);
      else if (r->kind == RPC_GET_CHUNK)
        fetch_on_chunk (op, r, msg);
      break;
    case OP_SHUTDOWN:
      /* Refused (that peer is leaving too), gone, or silent: the next member. */
      if (!ok && shutdown_retarget (op, r))
        break;
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
      break;
    case OP_REPAIR:
      repair_on_reply (op, r, msg);
      break;
    }
}

static gboolean
fetch_chunks_settled (const Op *op)
{
  for (guint i = 0; i < mb_manifest_n_chunks (op->manifest); i++)
    if (op->state[i] == CH_NEED || op->state[i] == CH_INFLIGHT)
      return FALSE;
  return TRUE;
}

void
mbi_op_maybe_finish (Op *op)
{
  if (op->reported)
    return;
  MbRingPeer *rp = op->rp;
  switch (op->kind)
    {
    case OP_STORE:
      if (op->pending > 0)
        return;
      if (!op->manifest_phase)
        {
          guint n = mb_manifest_n_chunks (op->manifest);
          for (guint i = 0; i < n; i++)
            if (mb_manifest_n_holders (op->manifest, i) == 0)
              op_fail (op, "chunk %u of %s was stored nowhere", i, op->name);
          if (!op->error)
            store_send_manifest (op);
          if (op->pending > 0)
            return;
        }
      if (!op->error && op->result.manifest_owners == 0)
        op_fail (op, "the manifest of %s was stored nowhere", op->name);
      op_report (op);
      return;
    case OP_FETCH:
      if (op->lookup_done && !op->manifest_phase)
        fetch_pump (op);
      if (op->pending > 0)
        return;
      if (!op->lookup_done || op->error)
        {
          op_report (op);
          return;
        }
      if (!fetch_chunks_settled (op))
        return;
      if (!op->manifest_phase)
        {
          fetch_update_owners (op);
          if (op->pending > 0)
            return;
        }
      if (!rp->cfg.virtual_content && !rp->cfg.leave_in_store)
        op->result.content = assemble (rp, op->manifest);
      op_report (op);
      return;
    case OP_SHUTDOWN:
      if (op->pending == 0)
        shutdown_finish (op);
      return;
    case OP_REPAIR:
      if (op->pending > 0)
        return;
      if (!op->manifest_phase)
        {
          repair_send_manifest (op);
          if (op->pending > 0)
            return;
        }
      op_report (op);
      return;
    }
}
