/* peer-stall.c — request timeouts (cfg.request_timeout_us, libtorrent's
 * piece_timeout): a remote we have requests out to that sends no block for
 * that long (its host crashed or vanished without a FIN, its process is
 * stopped, its link is silently down: nothing tells the host) is stalled.
 * Its requests go back to the picker at once, a CANCEL each (a remote that
 * was only slow drops them; those already on their way are still taken),
 * so the other connections fetch those blocks; it gets no new requests,
 * and its pieces count as nowhere for mb_peer_availability (a ring fetch
 * then asks their holders by GET_CHUNK).  A block from it lifts the stall.
 * Once stalled for request_timeout_us again, a remote heard from since
 * (any swarm message) is given requests again; one silent all along is
 * closed in the swarm (libtorrent's inactivity close): its pieces leave
 * the availability and its slot is free.
 *
 * When: every rechoke, and at the earliest deadline found then that falls
 * before the next rechoke (p->next_stall_check), so a peer with nothing
 * overdue adds no timer event (the simulator's event count stays).  A wait
 * starts at the last block from the remote or at a request sent onto an
 * empty pipeline, so its deadline only moves later; with request_timeout_us
 * at least rechoke_interval_us every deadline is met on time, with a
 * shorter one it may be seen up to a rechoke late.  Deterministic: no
 * random draws here but the picker's, when the freed blocks are asked of
 * the others. */
#define MB_SWARM_PEER_INTERNAL
#include "swarm/peer-private.h"

static void
stall (Swarm *sw, Conn *c, guint64 now)
{
  MbPeer *p = sw->peer;
  guint n = mbi_swarm_time_out_requests (sw, c);
  c->stalled = 1;
  c->stalled_at = now;
  sw->n_stalled++;
  sw->stats.requests_timed_out += n;
  sw->stats.stalls++;
  p->totals.requests_timed_out += n;
  p->totals.stalls++;
  g_debug ("peer %s: swarm %s: %s sent no block for %" G_GUINT64_FORMAT
           " ms: %u requests given back", p->name, sw->file, c->name,
           (now - MAX (c->last_block_at, c->req_wait_at)) / 1000, n);
}

void
mbi_stall_clear (Swarm *sw, Conn *c)
{
  mbi_stall_forget (sw, c);
}

/* Stalls and closes in one swarm; returns its earliest deadline ahead. */
static guint64
swarm_check (Swarm *sw, guint64 now)
{
  MbPeer *p = sw->peer;
  guint64 timeout = p->cfg.request_timeout_us;
  guint64 next = MB_TIME_NEVER;
  gboolean freed = FALSE;
  for (guint i = sw->n_conns; i-- > 0;)
    {
      Conn *c = sw->conns[i];
      if (!c->established)
        continue;
      if (!c->stalled && c->out_reqs.len > 0)
        {
          guint64 due = MAX (c->last_block_at, c->req_wait_at) + timeout;
          if (now < due)
            {
              next = MIN (next, due);
              continue;
            }
          stall (sw, c, now);
          freed = TRUE;
        }
      if (!c->stalled)
        continue;
      guint64 due = c->stalled_at + timeout;
      if (now < due)
        {
          next = MIN (next, due);
          continue;
        }
      if (c->last_heard_at > c->stalled_at)
        {
          mbi_stall_forget (sw, c); /* alive: it may serve us again */
          freed = TRUE;
          continue;
        }
      sw->stats.silent_closes++;
      p->totals.silent_closes++;
      g_debug ("peer %s: swarm %s: closing %s, silent since it stalled", p->name, sw->file,
               c->name);
      mbi_swarm_close_conn (sw, c);
      freed = TRUE;
    }
  if (freed)
    {
      mbi_swarm_prefetch_conns (sw);
      for (guint k = 0; k < sw->n_conns; k++)
        mbi_swarm_fill_requests (sw, sw->conns[k], now);
    }
  return next;
}

void
mbi_stall_check (MbPeer *p, guint64 now)
{
  guint64 next = MB_TIME_NEVER;
  if (p->cfg.request_timeout_us > 0)
    for (guint i = 0; i < p->swarms->len; i++)
      next = MIN (next, swarm_check (p->swarms->pdata[i], now));
  p->next_stall_check = next < p->next_rechoke ? next : MB_TIME_NEVER;
}
