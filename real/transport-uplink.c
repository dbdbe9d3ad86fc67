/* transport-uplink.c — flow control for the core (core/host.h): the
 * transport's uplink backlog and the callback once it has drained; and the
 * rule that drops a connection whose big queue drains too slowly.
 *
 * Unsent bytes.  Each open connection's `unsent` is the bytes of the frames
 * that entered its queue and are not yet written to the kernel (still
 * queued, or the part of the write in flight the kernel has not taken: it
 * shrinks write by write); t->unsent_bytes is their sum.
 * mbi_transport_uplink_count is the one place that moves it, called by
 * whoever changes a connection's queue or write (transport-conn.c,
 * transport-dial.c), so a closed connection's dropped frames leave it at
 * once and it never goes below 0.
 *
 * The backlog (t->backlog_bytes; less stuck connections' bytes, below, it is what
 * host->uplink_backlog reports) counts
 * only the unsent bytes that compete for the uplink now.  Each connection
 * is a socket of its own: the kernel serves the others while one peer takes
 * nothing, so bytes queued for a peer that does not read (or reads a
 * trickle) never wait on the physical link, and counting them made one
 * stranger able to hold every chunk copy of the member back (the ring holds
 * copies while the backlog is over 512 KiB, ringpeer-uplink.c, and fails
 * them after 60 s): it asked for 32 MiB with GET_CHUNK and read nothing, or
 * 64 KiB every 4 s so that the write-stall timer never fired.  So a
 * connection counts (conn->counted)
 *  - all its unsent bytes during the first drain_window_ms of a run of
 *    writing (from when it had none): how fast it drains is not known yet,
 *    and a store that starts must not hand everything over at once;
 *  - after that, at most what the kernel took from it in the last one to
 *    two drain windows (drain_prev + drain_cur: two buckets, rolled by a
 *    tick every drain_window_ms while anything is unsent).
 * On a saturated link every connection drains at its share of the link, so
 * the counted total is at least min (unsent, link rate x drain window): with
 * the 1 s default over 512 KiB on links of 4 Mbit/s and more, where the
 * ring holds copies exactly as before (e2e-slow-store: 16 Mbit/s).  A
 * connection that takes nothing counts 0 within two windows of its last
 * progress, one that trickles r bytes/s about r x (1 to 2) s.  The total is
 * the sum of the counted shares, each at most its unsent bytes: bounded by
 * t->unsent_bytes, never negative.  drain_window_ms = 0 counts every unsent
 * byte (the rule before).
 *
 * Stuck connections.  Faster than the drain windows: a connection writing
 * with no progress for cfg.uplink_stuck_ms (100 ms; 0: never) leaves up to
 * MB_UPLINK_STUCK_ALLOW (1 MiB) of its counted bytes out of what the core
 * is told (mb_uplink_backlog_now).  A flow sharing the link makes progress
 * every few ms; one waiting out a TCP retransmission timeout (seconds,
 * backing off, where a token bucket drops a third of the packets) holds no
 * part of the link, and counting it held every other connection's data
 * back: an emulated seed sent nothing for 5 s with 340 blocks queued
 * (README "Emulation").  No event says a connection got stuck, so while
 * the core waits above its low mark, t->uplink_recheck looks again every
 * uplink_stuck_ms / 2.
 *
 * Slow readers.  Not counting a trickle reader's queue does not free it:
 * up to max_queue_bytes per connection stays in memory while a peer reads
 * just often enough for the write-stall timer.  So a connection with more
 * than min_drain_queue bytes unsent must have had at least min_drain_rate
 * bytes/s taken from it, on average over each write_stall_ms it stays that
 * full, or it is dropped as too slow (warning, connections_dropped and
 * slow_drains).  Queues that big come only from a peer that asked for much
 * (the ring holds copies to 512 KiB of backlog, the swarm blocks to its
 * send limit): at 32 KiB/s the 4 MiB it asked for takes two minutes, far
 * past any of its requests' timeouts.
 *
 * uplink_notify (low) remembers `low` and arms a one-shot wish (a later
 * call replaces it).  Whenever the backlog is at most `low` while armed —
 * already at the call, or after a (partial) write, a connection's close or
 * the drain tick lowered it — an idle source (G_PRIORITY_DEFAULT, so busy
 * sockets do not starve it) is scheduled; it checks again, disarms and
 * calls the uplink handler.  The handler thus never runs inside a host
 * call (a send can close a connection that is too slow, and notify itself
 * can find the backlog low).
 */
#define G_LOG_DOMAIN "minibit"

#include "transport.h"
#define MB_REAL_TRANSPORT_INTERNAL
#include "transport-private.h"

#define MB_UPLINK_STUCK_ALLOW ((gsize) 1 << 20)

/* The backlog the core is told: the counted shares (t->backlog_bytes), less
 * up to MB_UPLINK_STUCK_ALLOW of each stuck connection's share. */
static gsize
mb_uplink_backlog_now (MbTransport *t)
{
  if (t->backlog_bytes == 0 || t->cfg.uplink_stuck_ms == 0)
    return t->backlog_bytes;
  gint64 old = g_get_monotonic_time () - (gint64) t->cfg.uplink_stuck_ms * 1000;
  gsize stuck = 0;
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, t->conns);
  while (g_hash_table_iter_next (&it, &key, NULL))
    {
      MbConn *c = key;
      if (c->counted > 0 && c->writing && c->progress_at < old)
        {
          stuck += MIN (c->counted, MB_UPLINK_STUCK_ALLOW);
          if (c->stuck_counted != c->progress_at)
            {
              c->stuck_counted = c->progress_at;
              t->stats.uplink_stuck++;
            }
        }
    }
  g_assert (stuck <= t->backlog_bytes);
  return t->backlog_bytes - stuck;
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

/* What c counts in the backlog at `now` (see above). */
static gsize
mb_uplink_share (const MbConn *c, gint64 now)
{
  guint window = c->t->cfg.drain_window_ms;
  if (window == 0 || c->unsent == 0 || now - c->busy_since < (gint64) window * 1000)
    return c->unsent;
  return MIN (c->unsent, c->drain_prev + c->drain_cur);
}

static void mb_uplink_tick_start (MbTransport *t);

/* Recounts c's share into the backlog, at `now`. */
static void
mb_uplink_recount (MbConn *c, gint64 now)
{
  MbTransport *t = c->t;
  gsize was = c->counted, share = mb_uplink_share (c, now);
  g_assert (t->backlog_bytes >= was);
  t->backlog_bytes = t->backlog_bytes - was + share;
  c->counted = share;
  if (share < was && t->uplink_armed && mb_uplink_backlog_now (t) <= t->uplink_low)
    mb_uplink_schedule (t);
}

void
mbi_transport_uplink_count (MbConn *c)
{
  MbTransport *t = c->t;
  if (t == NULL)
    return;
  gint64 now = g_get_monotonic_time ();
  gsize unsent = c->queued_bytes + c->batch_queued;
  if (c->unsent == 0 && unsent > 0)
    c->busy_since = now;  /* a run of writing starts */
  g_assert (t->unsent_bytes >= c->unsent);
  t->unsent_bytes = t->unsent_bytes - c->unsent + unsent;
  c->unsent = unsent;
  mb_uplink_recount (c, now);
  if (t->unsent_bytes > 0)
    mb_uplink_tick_start (t);
}

void
mbi_transport_uplink_drained (MbConn *c, gsize bytes)
{
  c->drain_cur += bytes;
  c->drained += bytes;
}

/* The minimum drain rate: FALSE if c was dropped as too slow. */
static gboolean
mb_uplink_check_rate (MbConn *c, gint64 now)
{
  MbTransport *t = c->t;
  guint period_ms = t->cfg.write_stall_ms;
  if (t->cfg.min_drain_rate == 0 || period_ms == 0 || c->unsent <= t->cfg.min_drain_queue)
    {
      c->slow_since = 0;
      return TRUE;
    }
  if (c->slow_since == 0)
    {
      c->slow_since = now;
      c->slow_mark = c->drained;
      return TRUE;
    }
  gint64 us = now - c->slow_since;
  if (us < (gint64) period_ms * 1000)
    return TRUE;
  guint64 got = c->drained - c->slow_mark;
  guint64 need = (guint64) t->cfg.min_drain_rate * (guint64) us / G_USEC_PER_SEC;
  if (got >= need)
    {
      c->slow_since = now;  /* judged again over the next period */
      c->slow_mark = c->drained;
      return TRUE;
    }
  gchar *why = g_strdup_printf ("too slow: %" G_GUINT64_FORMAT " bytes taken in %"
                                G_GINT64_FORMAT " ms with over %" G_GSIZE_FORMAT
                                " queued (at least %u bytes/s wanted); %" G_GSIZE_FORMAT
                                " bytes unsent", got, us / 1000, t->cfg.min_drain_queue,
                                t->cfg.min_drain_rate, c->unsent);
  t->stats.slow_drains++;
  mbi_transport_conn_drop (c, TRUE, FALSE, why);
  g_free (why);
  return FALSE;
}

/* Every drain window while anything is unsent: rolls each connection's
 * drain buckets, drops the connections too slow, recounts the rest. */
static gboolean
mb_uplink_on_tick (gpointer data)
{
  MbTransport *t = data;
  gint64 now = g_get_monotonic_time ();
  g_autoptr (GPtrArray) conns = g_ptr_array_new_with_free_func (mbi_transport_conn_unref);
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, t->conns);
  while (g_hash_table_iter_next (&it, &key, NULL))
    g_ptr_array_add (conns, mbi_transport_conn_ref (key));
  for (guint i = 0; i < conns->len; i++)
    {
      MbConn *c = conns->pdata[i];
      if (c->t == NULL)
        continue;  /* dropped by an earlier one's callback */
      c->drain_prev = c->drain_cur;
      c->drain_cur = 0;
      if (mb_uplink_check_rate (c, now))
        mb_uplink_recount (c, now);
    }
  if (t->unsent_bytes > 0)
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&t->drain_tick, g_source_unref);  /* removed on return */
  return G_SOURCE_REMOVE;
}

/* Starts the tick if it does not run; the buckets start empty (what was
 * taken before an idle spell says nothing of now). */
static void
mb_uplink_tick_start (MbTransport *t)
{
  if (t->drain_tick != NULL || t->cfg.drain_window_ms == 0)
    return;
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, t->conns);
  while (g_hash_table_iter_next (&it, &key, NULL))
    {
      MbConn *c = key;
      c->drain_prev = c->drain_cur = 0;
    }
  t->drain_tick = mbi_transport_timer (t, t->cfg.drain_window_ms, mb_uplink_on_tick, t, NULL);
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
  mbi_transport_source_clear (&t->drain_tick);
  mbi_transport_source_clear (&t->uplink_recheck);
  t->uplink_armed = FALSE;
}

guint64
mb_transport_uplink_backlog (MbTransport *t)
{
  g_return_val_if_fail (t != NULL, 0);
  return mb_uplink_backlog_now (t);
}

guint64
mb_transport_unsent_bytes (MbTransport *t)
{
  g_return_val_if_fail (t != NULL, 0);
  return t->unsent_bytes;
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
