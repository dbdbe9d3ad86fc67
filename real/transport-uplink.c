/* transport-uplink.c — flow control for the core (core/host.h): the
 * transport's uplink backlog and the callback once it has drained.
 *
 * The backlog is t->unsent_bytes: the bytes of the frames that entered the
 * open connections' queues and are not yet written to the kernel (still
 * queued, or the part of the write in flight the kernel has not taken: it
 * shrinks write by write), summed over every connection of the
 * transport (one uplink per transport, whatever `self` the host is asked
 * about), less up to 1 MiB of each stuck connection's (writing, and no
 * progress for cfg.uplink_stuck_ms, 100 ms): a connection whose peer does not read, or whose TCP
 * waits out a retransmission timeout (seconds, backing off, where a token
 * bucket drops a third of the packets), holds no part of the link, and
 * counting its bytes held every other connection's back: an emulated seed
 * sent nothing for 5 s with 340 blocks queued (README "Emulation").  Each connection keeps its own share in conn->unsent;
 * mbi_transport_uplink_count is the one place that moves the total, called
 * by whoever changes a connection's queue or write (transport-conn.c,
 * transport-dial.c), so a closed connection's dropped frames leave the
 * count at once and the total never goes below 0.  A connection whose
 * peer stops reading is dropped after write_stall_ms without progress
 * (transport-conn.c), so its bytes cannot hold the backlog up for ever.
 *
 * uplink_notify (low) remembers `low` and arms a one-shot wish (a later
 * call replaces it).  Whenever the backlog is at most `low` while armed —
 * already at the call, or after a (partial) write or a connection closes —
 * an idle source (G_PRIORITY_DEFAULT, so busy sockets do not starve it) is
 * scheduled; it checks again, disarms and calls the uplink handler.  The
 * handler thus never runs inside a host call (a send can close a connection
 * that is too slow, and notify itself can find the backlog low).
 */
#define G_LOG_DOMAIN "minibit"

#include "transport.h"
#define MB_REAL_TRANSPORT_INTERNAL
#include "transport-private.h"

/* A stuck connection's unsent bytes leave the backlog up to this much: the
 * core may queue about that much more for it (four 256 KiB pieces) while
 * the others go on; beyond it its bytes count again, so a peer that stopped
 * reading cannot draw the core's whole upload queue into ours. */
#define MB_UPLINK_STUCK_ALLOW ((gsize) 1 << 20)

/* The backlog the core is told: the unsent bytes, less up to
 * MB_UPLINK_STUCK_ALLOW of each stuck connection's (writing, no progress
 * for cfg.uplink_stuck_ms: a flow sharing the link with a few others makes
 * progress every few ms; TCP's shortest retransmission timeout is 200 ms). */
static gsize
mb_uplink_backlog_now (MbTransport *t)
{
  if (t->unsent_bytes == 0 || t->cfg.uplink_stuck_ms == 0)
    return t->unsent_bytes;
  gint64 old = g_get_monotonic_time () - (gint64) t->cfg.uplink_stuck_ms * 1000;
  gsize stuck = 0;
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, t->conns);
  while (g_hash_table_iter_next (&it, &key, NULL))
    {
      MbConn *c = key;
      if (c->unsent > 0 && c->writing && c->progress_at < old)
        {
          stuck += MIN (c->unsent, MB_UPLINK_STUCK_ALLOW);
          if (c->stuck_counted != c->progress_at)
            {
              c->stuck_counted = c->progress_at;
              t->stats.uplink_stuck++;
            }
        }
    }
  g_assert (stuck <= t->unsent_bytes);
  return t->unsent_bytes - stuck;
}

static gboolean
mb_uplink_on_idle (gpointer data)
{
  MbTransport *t = data;
  g_clear_pointer (&t->uplink_idle, g_source_unref);  /* removed on return */
  if (!t->uplink_armed || mb_uplink_backlog_now (t) > t->uplink_low)
    return G_SOURCE_REMOVE;  /* filled again since: the next drain calls */
  t->uplink_armed = FALSE;
  mbi_transport_source_clear (&t->uplink_recheck);
  if (t->uplink_ready != NULL)
    t->uplink_ready (t->user);
  return G_SOURCE_REMOVE;
}

/* The ready callback is due: runs it from the main loop. */
static void
mb_uplink_schedule (MbTransport *t)
{
  if (t->uplink_idle != NULL)
    return;
  t->uplink_idle = g_idle_source_new ();
  g_source_set_priority (t->uplink_idle, G_PRIORITY_DEFAULT);
  g_source_set_callback (t->uplink_idle, mb_uplink_on_idle, t, NULL);
  g_source_attach (t->uplink_idle, t->context);
}

void
mbi_transport_uplink_count (MbConn *c)
{
  MbTransport *t = c->t;
  if (t == NULL)
    return;
  gsize now = c->queued_bytes + c->batch_queued;
  gsize was = c->unsent;
  g_assert (t->unsent_bytes >= was);
  t->unsent_bytes = t->unsent_bytes - was + now;
  c->unsent = now;
  if (now < was && t->uplink_armed && mb_uplink_backlog_now (t) <= t->uplink_low)
    mb_uplink_schedule (t);
}

/* While armed above low: a connection may have got stuck since (no event
 * tells), and then the backlog is lower. */
static gboolean
mb_uplink_on_recheck (gpointer data)
{
  MbTransport *t = data;
  if (!t->uplink_armed)
    {
      g_clear_pointer (&t->uplink_recheck, g_source_unref);
      return G_SOURCE_REMOVE;
    }
  if (mb_uplink_backlog_now (t) <= t->uplink_low)
    mb_uplink_schedule (t);
  return G_SOURCE_CONTINUE;
}

void
mbi_transport_uplink_clear (MbTransport *t)
{
  mbi_transport_source_clear (&t->uplink_idle);
  mbi_transport_source_clear (&t->uplink_recheck);
  t->uplink_armed = FALSE;
}

guint64
mb_transport_uplink_backlog (MbTransport *t)
{
  g_return_val_if_fail (t != NULL, 0);
  return mb_uplink_backlog_now (t);
}

void
mb_transport_set_uplink_handler (MbTransport *t, MbUplinkReadyFn ready)
{
  g_return_if_fail (t != NULL);
  t->uplink_ready = ready;
}

/* ---- the host ---------------------------------------------------------- */

static guint64
mb_transport_host_uplink_backlog (gpointer ctx, MbNodeId self)
{
  return mb_transport_uplink_backlog (ctx);
}

static void
mb_transport_host_uplink_notify (gpointer ctx, MbNodeId self, guint64 low)
{
  MbTransport *t = ctx;
  if (t->uplink_ready == NULL && !t->uplink_warned)
    {
      t->uplink_warned = TRUE;
      g_warning ("transport %s: the core waits for its uplink to drain, but no uplink "
                 "handler is set (mb_transport_set_uplink_handler): it will not be told",
                 t->name);
    }
  t->uplink_low = low;
  t->uplink_armed = TRUE;
  if (mb_uplink_backlog_now (t) <= low)
    mb_uplink_schedule (t);  /* never from inside the call */
  else if (t->uplink_recheck == NULL && t->cfg.uplink_stuck_ms > 0)
    t->uplink_recheck = mbi_transport_timer (t, MAX (t->cfg.uplink_stuck_ms / 2, 1u),
                                             mb_uplink_on_recheck, t, NULL);
}

void
mbi_transport_uplink_install (MbTransport *t)
{
  t->host.uplink_backlog = mb_transport_host_uplink_backlog;
  t->host.uplink_notify = mb_transport_host_uplink_notify;
  t->host.uplink_rate = NULL;  /* unknown: the core measures what it hands over */
}
