/* ringpeer-uplink.c — chunk copies held back while the host's uplink is
 * full.
 *
 * A request's deadline starts when it is handed to the host (ringpeer.c),
 * but the host sends it only after every byte queued before it on the
 * uplink.  Without a limit a store hands over a window (16 copies) per
 * target at once: R = 3 copies of 256 KiB chunks are 12 MiB, six seconds
 * of a 16 Mbit/s link, and at real mode's per-connection queues a copy,
 * or a ping, or the answer to another peer's request, queued behind its
 * connection's share waited longer than the 10 s RPC timeout or the
 * failure detector's 3 s: copies timed out before they had left, members
 * were taken for crashed, copies were handed off for nothing.
 *
 * So, when the host has flow control (MbHost.uplink_backlog, core/host.h),
 * a chunk copy (a STORE_CHUNK carrying a chunk: of a store, its hand-offs,
 * a repair or a graceful leave) that has its place in its target's window
 * goes on the wire only while the host's uplink backlog is at most
 * cfg.uplink_low;
 * otherwise it waits in rp->uplink, oldest first, unsent and without a
 * deadline.  It is let go when an answer arrives (mb_ringpeer_receive), when
 * another request is admitted, or at rp->uplink_wake: the time the backlog
 * will have drained to uplink_low at the uplink's rate when the host tells
 * it (the simulator), else cfg.uplink_poll_us later (real mode: the swarm
 * owns the host's one drain notification).  The deadline of a copy thus
 * starts with at most uplink_low bytes and one chunk of ours ahead of it.
 *
 * Bounded: the held requests fail as timed out (and are handed off as any
 * timeout is) if the uplink lets none go for RPC_PATIENCE x rpc_timeout, a
 * host whose uplink never drains; a disconnect fails the held requests to
 * that node at once.
 *
 * Invariants (checked by ring-check.c): every held request is unsent (in
 * neither rpcs nor timeouts), unfinished, keeps its message, belongs to a
 * live op and counts in its target's window and its op's pending;
 * uplink_wake is MB_TIME_NEVER exactly when none is held.
 */
#define MB_RING_PEER_INTERNAL
#include "ring/ringpeer-private.h"

static gboolean
has_flow_control (const MbRingPeer *rp)
{
  return rp->host->uplink_backlog != NULL && rp->cfg.uplink_low != G_MAXUINT64;
}

gboolean
mbi_uplink_holds (const MbRingPeer *rp, const Rpc *r)
{
  return has_flow_control (rp) && r->kind == RPC_STORE_CHUNK && r->bytes > 0
         && r->to != MB_NODE_NONE;
}

static guint64
backlog (const MbRingPeer *rp)
{
  return rp->host->uplink_backlog (rp->host->ctx, rp->self);
}

/* When to look again with `bytes` of backlog over uplink_low. */
static guint64
wake_after (const MbRingPeer *rp, guint64 over)
{
  guint64 rate = rp->host->uplink_rate ? rp->host->uplink_rate (rp->host->ctx, rp->self) : 0;
  if (rate == 0)
    return MAX (rp->cfg.uplink_poll_us, 1);
  /* at least 100 us, so that rounding cannot make a run of tiny steps */
  return MAX ((over * MB_USEC_PER_SEC + rate - 1) / rate, 100);
}

/* When the held requests fail if none has gone by then. */
static guint64
patience_ends (const MbRingPeer *rp)
{
  return rp->uplink_moved_at + RPC_PATIENCE * rp->cfg.rpc_timeout_us;
}

void
mbi_uplink_pump (MbRingPeer *rp, guint64 now)
{
  if (g_queue_is_empty (&rp->uplink))
    {
      rp->uplink_wake = MB_TIME_NEVER;
      return;
    }
  guint64 b;
  while ((b = backlog (rp)) <= rp->cfg.uplink_low && !g_queue_is_empty (&rp->uplink))
    {
      Rpc *r = g_queue_pop_head (&rp->uplink);
      rp->uplink_moved_at = now;
      mbi_rp_launch (rp, r, r->msg, now);
    }
  if (g_queue_is_empty (&rp->uplink))
    rp->uplink_wake = MB_TIME_NEVER;
  else
    rp->uplink_wake = MIN (now + wake_after (rp, b - rp->cfg.uplink_low), patience_ends (rp));
}

void
mbi_uplink_hold (MbRingPeer *rp, Rpc *r, MbMessage *msg, guint64 now)
{
  r->msg = msg;
  r->held_at = now;
  if (g_queue_is_empty (&rp->uplink))
    rp->uplink_moved_at = now;   /* the patience runs from the first held */
  g_queue_push_tail (&rp->uplink, r);
  mbi_uplink_pump (rp, now);
  if (r->msg != NULL)            /* still held */
    rp->stats.uplink_held++;
}

guint64
mbi_uplink_next_expiry (const MbRingPeer *rp)
{
  return rp->uplink_wake;
}

void
mbi_uplink_handle_expiry (MbRingPeer *rp, guint64 now)
{
  mbi_uplink_pump (rp, now);
  if (g_queue_is_empty (&rp->uplink) || now < patience_ends (rp))
    return;
  /* Nothing left for that long: every one held now fails (those an op sends
   * in answer are held anew, with the patience starting again). */
  g_autoptr (GPtrArray) failed = g_ptr_array_new ();
  while (!g_queue_is_empty (&rp->uplink))
    g_ptr_array_add (failed, g_queue_pop_head (&rp->uplink));
  rp->uplink_moved_at = now;
  for (guint i = 0; i < failed->len; i++)
    {
      rp->stats.rpc_timeouts++;
      mbi_rp_fail_unsent (rp, failed->pdata[i], now);
    }
  mbi_uplink_pump (rp, now);
}

void
mbi_uplink_fail_to (MbRingPeer *rp, MbNodeId node, guint64 now)
{
  g_autoptr (GPtrArray) failed = g_ptr_array_new ();
  for (GList *l = rp->uplink.head; l; l = l->next)
    if (((Rpc *) l->data)->to == node)
      g_ptr_array_add (failed, l->data);
  for (guint i = 0; i < failed->len; i++)
    g_queue_remove (&rp->uplink, failed->pdata[i]);
  for (guint i = 0; i < failed->len; i++)
    mbi_rp_fail_unsent (rp, failed->pdata[i], now);
  mbi_uplink_pump (rp, now);
}

void
mbi_uplink_clear (MbRingPeer *rp)
{
  g_queue_clear_full (&rp->uplink, (GDestroyNotify) mbi_rp_rpc_free);
  rp->uplink_wake = MB_TIME_NEVER;
}
