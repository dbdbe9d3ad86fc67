/* ring-check.c — mb_ringpeer_check: verifies the ring peer's invariants
 * (listed in ringpeer-private.h) and says which one is broken; and a hook
 * that breaks one on purpose, for the checker's own tests.  A debugging
 * aid: it reads the whole state (O(requests + ops)), so drivers run it only
 * when asked (minibit-sim --check, MINIBIT_CHECK=1).  It changes nothing.
 */
#define MB_RING_PEER_INTERNAL
#include "ring/ringpeer-private.h"

static gboolean
fail (GString *why, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static gboolean
fail (GString *why, const char *fmt, ...)
{
  if (why)
    {
      va_list ap;
      va_start (ap, fmt);
      g_string_append_vprintf (why, fmt, ap);
      va_end (ap);
    }
  return FALSE;
}

static void
count (GHashTable *counts, gconstpointer key)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (counts, key));
  g_hash_table_insert (counts, (gpointer) key, GUINT_TO_POINTER (n + 1));
}

/* The live ops: in creation order, not reported, ours; each into `ops`. */
static gboolean
check_op_list (const MbRingPeer *rp, GHashTable *ops, GString *why)
{
  for (guint i = 0; i < rp->ops->len; i++)
    {
      const RingOp *op = rp->ops->pdata[i];
      if (op->rp != rp)
        return fail (why, "op %u (%s %s) belongs to another peer", i, op->vt->name, op->name);
      if (op->reported)
        return fail (why, "op %u (%s %s) has reported but is still live", i, op->vt->name, op->name);
      if (i > 0 && ((const RingOp *) rp->ops->pdata[i - 1])->serial >= op->serial)
        return fail (why, "ops out of creation order: op %u (%s %s, serial %" G_GUINT64_FORMAT
                     ") after serial %" G_GUINT64_FORMAT, i, op->vt->name, op->name, op->serial,
                     ((const RingOp *) rp->ops->pdata[i - 1])->serial);
      g_hash_table_add (ops, (gpointer) op);
    }
  return TRUE;
}

/* Sent requests: unfinished, sent (no message kept), of a live op, in
 * `timeouts`, and counted per target and per op. */
static gboolean
check_sent (const MbRingPeer *rp, GHashTable *ops, GHashTable *per_op, GHashTable *per_target,
            GString *why)
{
  g_autoptr (GHashTable) queued = g_hash_table_new (g_direct_hash, g_direct_equal);
  guint64 last = 0;
  for (GList *l = rp->timeouts.head; l; l = l->next)
    {
      const Rpc *r = l->data;
      if (r->deadline < last)
        return fail (why, "timeouts out of deadline order: request %u (to %s) due at %"
                     G_GUINT64_FORMAT " after one due at %" G_GUINT64_FORMAT,
                     r->req, r->target, r->deadline, last);
      last = r->deadline;
      gboolean tracked = g_hash_table_lookup (rp->rpcs, GUINT_TO_POINTER (r->req)) == r;
      if (!r->done && !tracked)
        return fail (why, "request %u (to %s) is unfinished in timeouts but not in rpcs",
                     r->req, r->target);
      if (r->done && tracked)
        return fail (why, "request %u (to %s) is finished but still in rpcs", r->req, r->target);
      g_hash_table_add (queued, (gpointer) r);
    }
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, rp->rpcs);
  while (g_hash_table_iter_next (&it, &key, &value))
    {
      const Rpc *r = value;
      if (GPOINTER_TO_UINT (key) != r->req)
        return fail (why, "request %u is filed in rpcs under %u", r->req, GPOINTER_TO_UINT (key));
      if (r->done)
        return fail (why, "request %u (to %s) is finished but in rpcs", r->req, r->target);
      if (r->msg)
        return fail (why, "request %u (to %s) is in flight but still holds its message",
                     r->req, r->target);
      if (!g_hash_table_contains (queued, r))
        return fail (why, "request %u (to %s) was sent but is not in timeouts", r->req, r->target);
      if (!g_hash_table_contains (ops, r->op))
        return fail (why, "request %u (to %s) belongs to no live op", r->req, r->target);
      count (per_op, r->op);
      count (per_target, r->target);
    }
  return TRUE;
}

/* Windows: at most cfg.window in flight (exactly the requests to that
 * target sent or held for the uplink); requests wait only while the window
 * is full, unsent. */
static gboolean
check_windows (const MbRingPeer *rp, GHashTable *ops, GHashTable *per_op,
               GHashTable *per_target, GString *why)
{
  GHashTableIter it;
  gpointer key, value;
  guint total = 0;
  g_hash_table_iter_init (&it, rp->windows);
  while (g_hash_table_iter_next (&it, &key, &value))
    {
      const char *target = key;
      const MbiWindow *w = value;
      total += w->inflight;
      if (w->inflight > rp->cfg.window)
        return fail (why, "%u requests in flight to %s, window %u", w->inflight, target,
                     rp->cfg.window);
      guint sent = GPOINTER_TO_UINT (g_hash_table_lookup (per_target, target));
      if (sent != w->inflight)
        return fail (why, "window of %s counts %u in flight, but %u requests to it are sent "
                     "or held for the uplink",
                     target, w->inflight, sent);
      if (w->waiting.length > 0 && w->inflight < rp->cfg.window)
        return fail (why, "%u requests wait for %s while its window has room (%u of %u)",
                     w->waiting.length, target, w->inflight, rp->cfg.window);
      for (GList *l = w->waiting.head; l; l = l->next)
        {
          const Rpc *r = l->data;
          if (r->done || !r->msg || g_strcmp0 (r->target, target) != 0)
            return fail (why, "request %u waiting for %s is finished, has no message or "
                         "is for %s", r->req, target, r->target);
          if (g_hash_table_lookup (rp->rpcs, GUINT_TO_POINTER (r->req)) == r)
            return fail (why, "request %u waits for %s but is also in rpcs", r->req, target);
          if (!g_hash_table_contains (ops, r->op))
            return fail (why, "request %u waiting for %s belongs to no live op", r->req, target);
          count (per_op, r->op);
        }
    }
  if (total != g_hash_table_size (rp->rpcs) + rp->uplink.length)
    return fail (why, "windows count %u requests in flight, rpcs holds %u and the uplink %u",
                 total, g_hash_table_size (rp->rpcs), rp->uplink.length);
  return TRUE;
}

/* Held for the uplink: unsent, unfinished, with their message, bulk, of a
 * live op; counted per target (their window places) and per op. */
static gboolean
check_uplink (const MbRingPeer *rp, GHashTable *ops, GHashTable *per_op,
              GHashTable *per_target, GString *why)
{
  if ((rp->uplink.length == 0) != (rp->uplink_wake == MB_TIME_NEVER))
    return fail (why, "%u requests held for the uplink, next look at %" G_GUINT64_FORMAT,
                 rp->uplink.length, rp->uplink_wake);
  for (GList *l = rp->uplink.head; l; l = l->next)
    {
      const Rpc *r = l->data;
      if (!g_hash_table_contains (ops, r->op))
        return fail (why, "request %u held for the uplink belongs to no live op", r->req);
      if (r->done || !r->msg || r->kind != RPC_STORE_CHUNK || r->bytes == 0)
        return fail (why, "request %u held for the uplink (to %s) is finished, has no message "
                     "or is no chunk copy", r->req, r->target);
      if (g_hash_table_lookup (rp->rpcs, GUINT_TO_POINTER (r->req)) == r)
        return fail (why, "request %u is held for the uplink but also in rpcs", r->req);
      count (per_op, r->op);
      count (per_target, r->target);
    }
  return TRUE;
}

gboolean
mb_ringpeer_check (const MbRingPeer *rp, GString *why)
{
  g_autoptr (GHashTable) ops = g_hash_table_new (g_direct_hash, g_direct_equal);
  g_autoptr (GHashTable) per_op = g_hash_table_new (g_direct_hash, g_direct_equal);
  g_autoptr (GHashTable) per_target = g_hash_table_new (g_str_hash, g_str_equal);
  if (!check_op_list (rp, ops, why) || !check_sent (rp, ops, per_op, per_target, why)
      || !check_uplink (rp, ops, per_op, per_target, why)
      || !check_windows (rp, ops, per_op, per_target, why))
    return FALSE;
  for (guint i = 0; i < rp->ops->len; i++)
    {
      const RingOp *op = rp->ops->pdata[i];
      guint live = GPOINTER_TO_UINT (g_hash_table_lookup (per_op, op));
      if (op->pending != live)
        return fail (why, "op %s %s: pending = %u, but %u of its requests are unfinished",
                     op->vt->name, op->name, op->pending, live);
      if (op->vt->check && !op->vt->check (op, why))
        return FALSE;
    }
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, rp->suspects);
  while (g_hash_table_iter_next (&it, &key, NULL))
    if (mb_ring_contains (rp->view, key))
      return fail (why, "%s is a member of the view and a suspect (taken for crashed)",
                   (const char *) key);
  return TRUE;
}

gboolean
mb_ringpeer_debug_corrupt (MbRingPeer *rp, MbRingCorruption what)
{
  switch (what)
    {
    case MB_RING_CORRUPT_WINDOW:
      {
        GHashTableIter it;
        gpointer key, value;
        g_hash_table_iter_init (&it, rp->windows);
        if (!g_hash_table_iter_next (&it, &key, &value))
          return FALSE;
        ((MbiWindow *) value)->inflight = rp->cfg.window + 1;
        return TRUE;
      }
    case MB_RING_CORRUPT_PENDING:
      if (rp->ops->len == 0)
        return FALSE;
      ((RingOp *) rp->ops->pdata[0])->pending++;
      return TRUE;
    case MB_RING_CORRUPT_DEADLINES:
      {
        Rpc *head = g_queue_peek_head (&rp->timeouts);
        if (rp->timeouts.length < 2)
          return FALSE;
        head->deadline = MB_TIME_NEVER - 1;
        return TRUE;
      }
    case MB_RING_CORRUPT_UNTRACKED:
      {
        /* Forgotten by rpcs while unfinished in timeouts (which still owns it). */
        Rpc *r = g_queue_peek_tail (&rp->timeouts);
        if (!r || r->done)
          return FALSE;
        g_hash_table_remove (rp->rpcs, GUINT_TO_POINTER (r->req));
        return TRUE;
      }
    case MB_RING_CORRUPT_OP_ORDER:
      {
        if (rp->ops->len < 2)
          return FALSE;
        gpointer first = rp->ops->pdata[0];
        rp->ops->pdata[0] = rp->ops->pdata[1];
        rp->ops->pdata[1] = first;
        return TRUE;
      }
    }
  return FALSE;
}
