/* tracker-members.h — the ring's membership, kept by minibit-tracker from
 * the peers' registrations over the wire, and pushed to them.
 *
 * A member is a peer that sent REGISTER {file "", name = its id, addr = its
 * wire address} on an authenticated wire connection (the cluster secret, or
 * loopback without one) whose address the transport proved by dial-back (or
 * that we dialled): the REGISTER's addr must be that proven address, and
 * the name must not be another live member's.  Members are keyed by address
 * (their ring name).
 *
 * Pushes (frames from the tracker, which the peers trust as they trust any
 * holder of the secret):
 *  - to a registrant, after every REGISTER (the first and every
 *    re-announce): PEER_LIST {req 0, file "", every member};
 *  - to every member when one joins (a new address): the same full list;
 *  - to every remaining member when one leaves gracefully (its own LEAVE,
 *    from its own connection: a LEAVE naming a member from any other node is
 *    ignored): LEAVE_NOTICE {name = its address}.
 * A member not heard from for `timeout_us` (no REGISTER) expires: it is
 * dropped silently (no push: a crash is the failure detectors' to find, and
 * they find it sooner) and the expired callback runs (the tracker drops its
 * registrations).  Members are kept in registration order, so pushes list
 * them the same way every time.
 */
#pragma once

#include "transport.h"

G_BEGIN_DECLS

typedef struct _MbMembers MbMembers;

typedef void (*MbMembersExpiredFn) (gpointer user, MbNodeId node, const char *name);

/* Checks for expiries every sweep_ms (the transport outlives it). */
MbMembers *mb_members_new (MbTransport *transport, guint64 timeout_us, guint sweep_ms,
                           MbMembersExpiredFn expired, gpointer user);
void mb_members_free (MbMembers *m);

/* NULL if the REGISTER from `from` may make (or refresh) a membership, else
 * why not. */
const char *mb_members_check (MbMembers *m, MbNodeId from, const MbMessage *reg);
/* Adds or refreshes the member (after mb_members_check said yes), pushing
 * as above. */
void mb_members_register (MbMembers *m, MbNodeId from, const MbMessage *reg);
/* The graceful leave of the member called `name`, if `from` is its node:
 * removed, the others told.  TRUE if it was removed. */
gboolean mb_members_leave (MbMembers *m, MbNodeId from, const char *name);
/* TRUE if `name` is a live member's id. */
gboolean mb_members_has_name (MbMembers *m, const char *name);
/* The node of the live member called `name`, or MB_NODE_NONE. */
MbNodeId mb_members_node_of (MbMembers *m, const char *name);
guint mb_members_count (MbMembers *m);
/* Sends `to` PEER_LIST {req, file "", every member}: the answer to a wire
 * GET_PEERS {file ""} (a ring client's, minibit-peer --client). */
void mb_members_send_list (MbMembers *m, MbNodeId to, guint32 req);

G_END_DECLS
