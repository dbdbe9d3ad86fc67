/* host.h — the seam between the sans-I/O core and a driver.
 *
 * The core never does I/O and never reads a clock.  A driver (the simulator
 * or the real GLib/TCP host) implements MbHost and:
 *  - passes `now` (microseconds, guint64) into every core entry point that
 *    can act;
 *  - asks each core object for its next expiry (`*_next_expiry`, G_MAXUINT64
 *    when nothing is due) after every call into it, and calls
 *    `*_handle_expiry (obj, now)` when that time comes (ngtcp2's pattern);
 *  - delivers messages the core sends via MbHost.send, and calls the core's
 *    `*_receive (obj, from, msg, now)` with decoded messages;
 *  - gives each node its own GRand, seeded from (scenario seed, node);
 *  - optionally, flow control: tells the core how many bytes it holds for a
 *    node's uplink that have not left yet, and calls the core back
 *    (`*_on_uplink_ready`) once that backlog has fallen as low as asked, so
 *    the core hands over bulk data (swarm blocks) only as the link can take
 *    it and can still drop what a CHOKE or CANCEL makes useless.
 * Nodes are addressed by MbNodeId; the driver maps "host:port" addresses to
 * ids with MbHost.resolve.
 */
#pragma once

#include <glib.h>

#include "wire/message.h"

G_BEGIN_DECLS

typedef guint32 MbNodeId;
#define MB_NODE_NONE G_MAXUINT32
#define MB_TIME_NEVER G_MAXUINT64
#define MB_USEC_PER_SEC G_GUINT64_CONSTANT (1000000)

typedef struct {
  gpointer ctx;
  /* Sends msg from node `from` to node `to`; the host takes ownership of msg.
   * Delivery is not guaranteed (loss, crash, disconnect). */
  void (*send) (gpointer ctx, MbNodeId from, MbNodeId to, MbMessage *msg);
  /* Maps an address to a node id (MB_NODE_NONE if it cannot be reached). */
  MbNodeId (*resolve) (gpointer ctx, MbNodeId self, const char *addr);
  /* The core gives up on a connection (bad input from `peer`, or leaving):
   * it has already forgotten the peer; the host drops the connection and
   * does not call back for it.  The remote side learns of it from its own
   * host (on_disconnect).  May be NULL. */
  void (*disconnect) (gpointer ctx, MbNodeId self, MbNodeId peer);
  /* Flow control; both NULL or both set.  NULL: the uplink takes anything
   * at once (the core hands every block over as soon as it may).
   * uplink_backlog: bytes the host holds for `self` that have not left yet
   * (sim: the uplink queue; real: the transport's write queues, not yet
   * written to the sockets: real/transport.h).
   * uplink_notify: the core wants its on_uplink_ready called once that
   * backlog is at most `low` bytes (once; a later call replaces it). */
  guint64 (*uplink_backlog) (gpointer ctx, MbNodeId self);
  void (*uplink_notify) (gpointer ctx, MbNodeId self, guint64 low);
  /* The uplink's capacity in bytes per second, 0 if unknown (sim: the
   * node's upload rate; real: unknown).  May be NULL (unknown): the core
   * then sizes its send limit from the rate it measures. */
  guint64 (*uplink_rate) (gpointer ctx, MbNodeId self);
  /* A hint, for speed only: `self` is about to send to `to` (the simulator
   * starts loading the receiver's downlink from memory).  May be NULL. */
  void (*prefetch_send) (gpointer ctx, MbNodeId self, MbNodeId to);
} MbHost;

static inline void
mb_host_send (const MbHost *host, MbNodeId from, MbNodeId to, MbMessage *msg)
{
  host->send (host->ctx, from, to, msg);
}

G_END_DECLS
