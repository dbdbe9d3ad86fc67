/* op-quorum.c — reading a name's manifest from a quorum of members, for the
 * operations that need the newest copy (fetch: to read it; store: to know
 * the version it must exceed).  See MbiRead in ringpeer-private.h.
 *
 * The candidates are the first members of the name's preference list in our
 * view (its owners, then the members after them, which hold copies a store
 * handed over when an owner failed).  `need` threads run at once; a thread
 * ends with an answer (a manifest; without `follow` also "not here") or a
 * failure (no answer, an error, too many redirects), and a failed one is
 * replaced by the next candidate not asked yet; a request that failed
 * before its deadline (the connection dropped: a swarm on it ended) is
 * sent to the same member again, at most MAX_REASKS times.  Members that
 * said they are leaving are asked last, if at all.
 *
 * Read repair (mbi_read_repair): a member that gave an older copy than the
 * newest read is sent the newest, which it takes by the holders' rule.
 *
 * Invariants: running = GET_MANIFEST requests of this reader in flight;
 * each member is asked at most once (`asked`); got[] has one manifest per
 * member that gave one; the reader is done when nothing runs and either
 * `need` answered or no candidate is left.
 */
#define MB_RING_PEER_INTERNAL
#include "ring/ringpeer-private.h"

#include <string.h>

#define MAX_REASKS 2   /* times a member is asked again after a dropped connection */

static gboolean
was_asked (const MbiRead *rd, const char *member)
{
  return mbi_rp_in_list ((const char *const *) rd->asked->pdata, rd->asked->len, member);
}

/* Sends the GET_MANIFEST (again, for `retries` > 0: the member is in
 * `asked` already). */
static void
send_get (RingOp *op, MbiRead *rd, const char *target, guint hops, guint retries, guint64 now)
{
  MbMessage *m = mb_message_new (MB_MSG_GET_MANIFEST);
  m->file = g_strdup (op->name);
  Rpc *r = mbi_rp_send (op->rp, op, RPC_GET_MANIFEST, target, m, 0, 0, now);
  r->hops = hops;
  r->retries = retries;
  rd->running++;
}

static void
ask (RingOp *op, MbiRead *rd, const char *target, guint hops, guint64 now)
{
  g_ptr_array_add (rd->asked, g_strdup (target));
  send_get (op, rd, target, hops, 0, now);
}

/* Starts threads while fewer than `need` answered or run. */
static void
pump (RingOp *op, MbiRead *rd, guint64 now)
{
  MbRingPeer *rp = op->rp;
  while (rd->answers + rd->running < rd->need && rd->cursor < rd->cands->len)
    {
      const char *c = rd->cands->pdata[rd->cursor++];
      if (mbi_rp_is_self (rp, c) || was_asked (rd, c))
        continue;
      ask (op, rd, c, 0, now);
    }
}

static void
take (MbiRead *rd, const char *member, const MbManifest *m)
{
  g_ptr_array_add (rd->got, mb_manifest_copy (m));
  g_ptr_array_add (rd->from, g_strdup (member));
  rd->answers++;
}

void
mbi_read_start (RingOp *op, MbiRead *rd, gboolean follow, guint need, guint ncand, guint64 now)
{
  MbRingPeer *rp = op->rp;
  memset (rd, 0, sizeof *rd);
  rd->follow = follow;
  rd->need = MAX (need, 1);
  rd->cands = g_ptr_array_new_with_free_func (g_free);
  rd->asked = g_ptr_array_new_with_free_func (g_free);
  rd->got = g_ptr_array_new_with_free_func ((GDestroyNotify) mb_manifest_unref);
  rd->from = g_ptr_array_new_with_free_func (g_free);
  rd->started = TRUE;
  g_auto (MbiOwners) pref = { 0 };
  mbi_owners_init (&pref, rp->view, op->name, ncand);
  /* leavers last: they hold copies until they have handed them over */
  for (guint pass = 0; pass < 2; pass++)
    for (guint k = 0; k < pref.n; k++)
      if (mbi_rp_is_leaver (rp, pref.names[k]) == (pass == 1))
        g_ptr_array_add (rd->cands, g_strdup (pref.names[k]));
  /* Our own copy answers at once; without `follow`, so does its absence
   * when we are one of the owners. */
  g_autoptr (MbManifest) mine = mb_store_get_manifest (rp->store, op->name);
  g_auto (MbiOwners) owners = { 0 };
  mbi_owners_init (&owners, rp->view, op->name, rp->cfg.replication);
  if (mine)
    take (rd, rp->addr, mine);
  else if (!follow && mbi_owners_has (&owners, rp->addr))
    rd->answers++;
  if (mine || (!follow && mbi_owners_has (&owners, rp->addr)))
    g_ptr_array_add (rd->asked, g_strdup (rp->addr));
  pump (op, rd, now);
}

void
mbi_read_on_reply (RingOp *op, MbiRead *rd, Rpc *r, const MbMessage *msg, guint64 now)
{
  MbRingPeer *rp = op->rp;
  rd->running--;
  if (msg && msg->type == MB_MSG_MANIFEST && msg->manifest
      && g_strcmp0 (mb_manifest_name (msg->manifest), op->name) == 0
      && mb_manifest_validate (msg->manifest, NULL))
    take (rd, r->target, msg->manifest);
  else if (msg && msg->type == MB_MSG_MANIFEST)
    rp->stats.refused_manifests++;
  else if (msg && msg->type == MB_MSG_REDIRECT && rd->follow && msg->addr
           && r->hops < rp->cfg.max_hops && !mbi_rp_is_self (rp, msg->addr)
           && !was_asked (rd, msg->addr))
    {
      rd->redirects++;
      ask (op, rd, msg->addr, r->hops + 1, now);
    }
  else if (!rd->follow && msg
           && (msg->type == MB_MSG_REDIRECT
               || (msg->type == MB_MSG_ERROR && msg->code == MB_ERR_NOT_FOUND)))
    rd->answers++;   /* "not here" */
  else if (!msg && (r->deadline == 0 || now < r->deadline) && r->retries < MAX_REASKS)
    {
      /* Failed before its time: the connection dropped (one connection
       * carries a pair's swarm and ring messages, and a swarm that ends
       * closes it), not the member.  Asked again on a new one. */
      send_get (op, rd, r->target, r->hops, r->retries + 1, now);
      return;
    }
  pump (op, rd, now);
}

gboolean
mbi_read_done (const MbiRead *rd)
{
  return rd->started && rd->running == 0
         && (rd->answers >= rd->need || rd->cursor >= rd->cands->len);
}

const MbManifest *
mbi_read_newest (const MbiRead *rd)
{
  const MbManifest *best = NULL;
  for (guint i = 0; rd->got && i < rd->got->len; i++)
    if (!best || mb_manifest_cmp_newer (rd->got->pdata[i], best) > 0)
      best = rd->got->pdata[i];
  return best;
}

guint
mbi_read_repair (RingOp *op, MbiRead *rd, guint64 now)
{
  MbRingPeer *rp = op->rp;
  const MbManifest *newest = mbi_read_newest (rd);
  guint n = 0;
  for (guint i = 0; newest && i < rd->got->len; i++)
    {
      if (mb_manifest_cmp_newer (rd->got->pdata[i], newest) >= 0)
        continue;
      const char *member = rd->from->pdata[i];
      n++;
      rp->stats.read_repairs++;
      if (mbi_rp_is_self (rp, member))
        mbi_rp_accept_manifest (rp, newest, NULL);
      else
        mbi_op_send_manifest (op, member, newest, now);
    }
  return n;
}

void
mbi_read_clear (MbiRead *rd)
{
  if (rd->cands)
    g_ptr_array_unref (rd->cands);
  if (rd->asked)
    g_ptr_array_unref (rd->asked);
  if (rd->got)
    g_ptr_array_unref (rd->got);
  if (rd->from)
    g_ptr_array_unref (rd->from);
  memset (rd, 0, sizeof *rd);
}

gboolean
mbi_read_check (const MbiRead *rd, const RingOp *op, GString *why)
{
  if (!rd->started)
    return TRUE;
  guint inflight = 0;
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, op->rp->rpcs);
  while (g_hash_table_iter_next (&it, &key, &value))
    {
      const Rpc *r = value;
      inflight += r->op == op && r->kind == RPC_GET_MANIFEST;
    }
  g_hash_table_iter_init (&it, op->rp->windows);
  while (g_hash_table_iter_next (&it, &key, &value))
    for (GList *l = ((MbiWindow *) value)->waiting.head; l; l = l->next)
      {
        const Rpc *r = l->data;
        inflight += r->op == op && r->kind == RPC_GET_MANIFEST;
      }
  if (inflight != rd->running)
    {
      g_string_append_printf (why, "%s %s: manifest read counts %u running, %u requests are",
                              op->vt->name, op->name, rd->running, inflight);
      return FALSE;
    }
  if (rd->got->len > rd->answers || rd->answers > rd->asked->len)
    {
      g_string_append_printf (why, "%s %s: manifest read has %u manifests, %u answers, %u "
                              "members asked", op->vt->name, op->name, rd->got->len,
                              rd->answers, rd->asked->len);
      return FALSE;
    }
  return TRUE;
}
