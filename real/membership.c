/* membership.c — who is on the ring, for a real peer.
 *
 * The view starts as this peer plus KNOWN_PEERS (as in the seed).  A peer we
 * did not know that talks to us joins the view (that is how later peers get
 * known); the transport gives us only peers that did the handshake (with the
 * cluster secret, if there is one) and, for connections they opened, proved
 * by dial-back the address they are known by.  Every ping_interval each
 * member is pinged; a member that misses ping_misses answers in a row is
 * taken as crashed by our own failure detector and removed with repair (the
 * survivors restore R copies).  A late answer is no miss when bytes came
 * from the member since the ping went out, on its authenticated connection
 * (any frame, or part of one: on a saturated link a 256 KiB frame and the
 * pong behind it can take longer than a ping period).  A dead host sends
 * nothing; a stopped or hung process only what its kernel had queued (at
 * most about notsent_lowat, 128 KiB, plus what was in flight), so its
 * verdict comes that much later.  A partial frame's bytes count before its
 * MAC is checked: a forger on the path can delay a verdict by at most the
 * transport's frame timeout (30 s), when the frame is dropped.
 *
 * A member taken for crashed may be alive behind a partition, taking us
 * for crashed too: then neither side would ever speak to the other again.
 * So it stays on the lost list, and every PROBE_ROUNDS ping rounds it gets
 * a PING on a fresh connection (the one open when it went silent is
 * dropped at once: TCP would hold new frames behind its retransmissions,
 * for minutes, or give up on it).  Its answer, or any frame from it,
 * brings it back into the view (a join: keys move back, with repair), and
 * our probe brings us back into its.  A member leaves the list when it is
 * back or announces its leave.
 *
 * Leaves cannot be forged: a LEAVE_NOTICE is taken only from the leaver
 * itself, naming itself, on its own authenticated connection; any other is
 * ignored with a log line naming both.  It removes the leaver without repair
 * (it handed its keys over) and puts it on the departed list, so that the
 * leaver's last frames do not add it back; an entry expires after
 * DEPARTED_PINGS ping intervals, or at once when that member opens a fresh
 * authenticated session (a restart).  A leaver stops pinging once it has
 * sent its notices.  The tracker's wire address is never a member.
 *
 * With a tracker set (TRACKER_HOST or TRACKER_PORT, or their options), the
 * tracker's registrations are the membership (tracker-members.h): we send
 * REGISTER {file "", name = SELF_ID, addr = our ring name} at start and
 * every announce_ms (the tracker proves the address by dial-back and drops
 * a member silent for its --member-timeout), and LEAVE after our leave
 * notices.  The tracker answers every registration with the full list of
 * members and pushes it to all of them when one joins: every listed member
 * joins our view at once, except one our failure detector took for crashed
 * (lost: only a frame from itself brings it back) or that left (departed).
 * A LEAVE_NOTICE from the tracker (a member's goodbye there) removes that
 * member as its own notice does.  The lists only add: a member leaves our
 * view by its (or the tracker's) notice, or by our failure detector, so a
 * tracker that restarts empty never empties the ring.  Without a tracker,
 * KNOWN_PEERS and hellos are the bootstrap, as before.
 *
 * A ring client (--client, needs a tracker) is never a member: its
 * challenges say so (MB_CHALLENGE_CLIENT), so no peer adds it to its view
 * for its frames; it sends no REGISTER but GET_PEERS {file ""} every
 * announce_ms, which the tracker answers with every member; its view is
 * those members (never itself); it pings them like a member does, and has
 * no leave notices to send.
 */
#define MB_REAL_PEER_INTERNAL
#include "peer-private.h"

#include <string.h>

/* A departed member may rejoin after this many ping intervals. */
#define DEPARTED_PINGS 10
/* A member taken for crashed is probed every this many ping rounds. */
#define PROBE_ROUNDS 3

static gchar *
tracker_wire_addr (MbPeerApp *app)
{
  return mb_transport_addr_join (app->cfg.tracker_host, (guint16) (app->cfg.tracker_port + 1));
}

static MbNodeId
tracker_node (MbPeerApp *app)
{
  if (!app->cfg.tracker_set)
    return MB_NODE_NONE;
  g_autofree gchar *tracker = tracker_wire_addr (app);
  return mb_transport_node (app->transport, tracker);
}

static void
set_view (MbPeerApp *app, MbRing *view, gboolean repair)
{
  mb_ringpeer_set_view (app->rp, view, repair, mb_clock_now ());
  mbi_peer_rearm (app);
}

/* TRUE while addr is on the departed list (dropping the entry once it
 * expired). */
static gboolean
departed (MbPeerApp *app, const char *addr)
{
  gint64 *until = g_hash_table_lookup (app->departed, addr);
  if (until == NULL)
    return FALSE;
  if (g_get_monotonic_time () < *until)
    return TRUE;
  g_hash_table_remove (app->departed, addr);
  return FALSE;
}

static void
add_member (MbPeerApp *app, const char *addr)
{
  MbRing *view = mb_ringpeer_view (app->rp);
  if (!addr || mb_ring_contains (view, addr) || departed (app, addr))
    return;
  g_autofree gchar *tracker = tracker_wire_addr (app);
  if (g_strcmp0 (addr, tracker) == 0)
    return;
  g_autoptr (MbRing) v = mb_ring_with_member (view, addr);
  gboolean back = g_hash_table_remove (app->lost, addr);
  g_info ("ring: %s %s (%u members)", addr, back ? "is back (taken for crashed before)" : "joins",
          mb_ring_n_members (v));
  set_view (app, v, FALSE);
}

/* From an idle (not inside a transport callback): drops the connections
 * to members taken for crashed that are still not back.  The transport
 * runs no disconnect callback for a drop we ask for, so the ring peer and
 * the swarm are told here, as for one the transport saw: requests out on
 * the dropped connection get no answer (the remote's end sees our close
 * and forgets us), and a swarm left to think it still connected waited
 * out its request timeout, 20 s, for blocks a busy seed (taken for crashed
 * while TCP backed off behind its queue) would never send (README
 * "Emulation"). */
static gboolean
drop_lost_connections (gpointer data)
{
  MbPeerApp *app = data;
  app->drop_idle = 0;
  const MbHost *th = mb_transport_host (app->transport);
  for (guint i = 0; i < app->to_drop->len; i++)
    {
      const char *addr = app->to_drop->pdata[i];
      if (g_hash_table_contains (app->lost, addr)
          && !mb_ring_contains (mb_ringpeer_view (app->rp), addr))
        {
          MbNodeId node = mb_transport_node (app->transport, addr);
          th->disconnect (th->ctx, mb_transport_self (app->transport), node);
          mb_ringpeer_on_disconnect (app->rp, node, mb_clock_now ());
          mbi_peer_swarm_on_gone (app, node);
        }
    }
  g_ptr_array_set_size (app->to_drop, 0);
  mbi_peer_rearm (app);
  return G_SOURCE_REMOVE;
}

static void
remove_member (MbPeerApp *app, const char *addr, gboolean repair)
{
  MbRing *view = mb_ringpeer_view (app->rp);
  if (!mb_ring_contains (view, addr) || g_strcmp0 (addr, app->addr) == 0)
    return;
  g_autoptr (MbRing) v = mb_ring_without_member (view, addr);
  g_info ("ring: %s %s (%u members)", addr, repair ? "crashed: repairing" : "left gracefully",
          mb_ring_n_members (v));
  g_hash_table_remove (app->misses, addr);
  if (repair)
    {
      g_hash_table_add (app->lost, g_strdup (addr));
      g_ptr_array_add (app->to_drop, g_strdup (addr));
      if (app->drop_idle == 0)
        app->drop_idle = g_idle_add (drop_lost_connections, app);
    }
  else
    g_hash_table_remove (app->lost, addr);
  set_view (app, v, repair);
}

static void
missed (MbPeerApp *app, const char *member)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (app->misses, member)) + 1;
  if (n >= app->cfg.ping_misses)
    {
      g_autofree gchar *m = g_strdup (member);
      remove_member (app, m, TRUE);
      return;
    }
  g_hash_table_insert (app->misses, g_strdup (member), GUINT_TO_POINTER (n));
}

/* g_ptr_array_sort passes pointers to the elements. */
static gint
cmp_members (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static gboolean
ping_round (gpointer data)
{
  MbPeerApp *app = data;
  if (app->left)
    return G_SOURCE_CONTINUE;  /* our notices are out: we are no member any more */
  /* Pings still unanswered from the last round are misses. */
  GHashTableIter it;
  gpointer key, value;
  g_autoptr (GPtrArray) late = g_ptr_array_new_with_free_func (g_free);
  g_hash_table_iter_init (&it, app->pings);
  while (g_hash_table_iter_next (&it, &key, &value))
    g_ptr_array_add (late, g_strdup (value));
  g_hash_table_remove_all (app->pings);
  g_ptr_array_sort (late, cmp_members);
  for (guint i = 0; i < late->len; i++)
    {
      /* Bytes came from it since those pings went out (a frame that is
       * slow to come whole on a busy link, the pong behind it): alive. */
      MbNodeId node = mb_transport_node (app->transport, late->pdata[i]);
      if (app->round_at > 0 && mb_transport_node_heard_at (app->transport, node) > app->round_at)
        g_hash_table_remove (app->misses, late->pdata[i]);
      else
        missed (app, late->pdata[i]);
    }
  app->round_at = g_get_monotonic_time ();
  MbRing *view = mb_ringpeer_view (app->rp);
  const MbHost *th = mb_transport_host (app->transport);
  for (guint i = 0; i < mb_ring_n_members (view); i++)
    {
      const char *m = mb_ring_member (view, i);
      if (g_strcmp0 (m, app->addr) == 0)
        continue;
      MbMessage *ping = mb_message_new (MB_MSG_PING);
      ping->req = 0x80000000u | (app->ping_req++ & 0x7fffffffu);
      g_hash_table_insert (app->pings, GUINT_TO_POINTER (ping->req), g_strdup (m));
      MbNodeId node = mb_transport_node (app->transport, m);
      th->send (th->ctx, mb_transport_self (app->transport), node, ping);
    }
  /* Probes: a PING to each member taken for crashed (not awaited: its
   * answer, like any frame from it, brings it back). */
  if (app->rounds++ % PROBE_ROUNDS == 0 && !app->shutting_down)
    {
      g_autoptr (GPtrArray) probe = g_ptr_array_new_with_free_func (g_free);
      g_hash_table_iter_init (&it, app->lost);
      while (g_hash_table_iter_next (&it, &key, NULL))
        if (!mb_ring_contains (view, key) && !departed (app, key))
          g_ptr_array_add (probe, g_strdup (key));
      g_ptr_array_sort (probe, cmp_members);
      for (guint i = 0; i < probe->len; i++)
        {
          MbMessage *ping = mb_message_new (MB_MSG_PING);
          ping->req = 0x80000000u | (app->ping_req++ & 0x7fffffffu);
          th->send (th->ctx, mb_transport_self (app->transport),
                    mb_transport_node (app->transport, probe->pdata[i]), ping);
        }
    }
  return G_SOURCE_CONTINUE;
}

/* REGISTER with the tracker (a re-announce after the first). */
static gboolean
announce (gpointer data)
{
  MbPeerApp *app = data;
  MbNodeId tracker = tracker_node (app);
  if (app->left || tracker == MB_NODE_NONE)
    return G_SOURCE_CONTINUE;
  const MbHost *th = mb_transport_host (app->transport);
  if (app->cfg.client)
    {
      /* A client is no member: it only asks for the list. */
      MbMessage *ask = mb_message_new (MB_MSG_GET_PEERS);
      ask->req = 0x40000000u | (app->announce_req++ & 0x3fffffffu);
      ask->file = g_strdup ("");
      ask->name = g_strdup (app->cfg.self_id);
      th->send (th->ctx, mb_transport_self (app->transport), tracker, ask);
      return G_SOURCE_CONTINUE;
    }
  MbMessage *reg = mb_message_new (MB_MSG_REGISTER);
  reg->req = 0x40000000u | (app->announce_req++ & 0x3fffffffu);
  reg->file = g_strdup ("");
  reg->name = g_strdup (app->cfg.self_id);
  reg->addr = g_strdup (app->addr);
  th->send (th->ctx, mb_transport_self (app->transport), tracker, reg);
  return G_SOURCE_CONTINUE;
}

void
mbi_peer_membership_tracker_goodbye (MbPeerApp *app)
{
  MbNodeId tracker = tracker_node (app);
  if (tracker == MB_NODE_NONE)
    return;
  MbMessage *leave = mb_message_new (MB_MSG_LEAVE);
  leave->name = g_strdup (app->cfg.self_id);
  leave->file = g_strdup ("");
  const MbHost *th = mb_transport_host (app->transport);
  th->send (th->ctx, mb_transport_self (app->transport), tracker, leave);
}

/* A frame from the tracker: the members it lists join our view (not one
 * lost or departed); its LEAVE_NOTICE removes a member that said goodbye
 * there.  Always consumed. */
static void
from_tracker (MbPeerApp *app, const MbMessage *msg)
{
  if (msg->type == MB_MSG_PEER_LIST && msg->file != NULL && msg->file[0] == '\0')
    {
      if (app->shutting_down || app->left)
        return;
      /* The membership's lists: its pushes (req 0) to a member, its answer
       * to a client's GET_PEERS.  A member's REGISTER also gets the
       * tracker core's swarm answer (req = ours): a random few of every
       * registered peer, clients and swarm-only peers among them, which is
       * no membership. */
      if (!app->cfg.client && msg->req != 0)
        return;
      for (guint i = 0; i < msg->n_peers; i++)
        {
          const char *a = msg->peers[i].addr;
          if (a == NULL || g_hash_table_contains (app->lost, a))
            continue;  /* taken for crashed: only a frame from itself brings it back */
          add_member (app, a);
        }
    }
  else if (msg->type == MB_MSG_LEAVE_NOTICE && msg->name != NULL)
    {
      if (g_strcmp0 (msg->name, app->addr) == 0)
        return;
      gint64 *until = g_new (gint64, 1);
      *until = g_get_monotonic_time ()
               + (gint64) DEPARTED_PINGS * app->cfg.ping_interval_ms * 1000;
      g_hash_table_insert (app->departed, g_strdup (msg->name), until);
      g_hash_table_remove (app->lost, msg->name);
      g_info ("ring: the tracker says %s left", msg->name);
      remove_member (app, msg->name, FALSE);
    }
  else if (msg->type == MB_MSG_ERROR)
    g_warning ("ring: the tracker refused our registration: %s",
               msg->text != NULL ? msg->text : "(no reason given)");
}

void
mbi_peer_membership_start (MbPeerApp *app)
{
  app->misses = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  app->departed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  app->pings = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
  app->lost = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  app->to_drop = g_ptr_array_new_with_free_func (g_free);
  app->ping_source = g_timeout_add (app->cfg.ping_interval_ms, ping_round, app);
  /* Say hello to everyone we were told of, so they add us. */
  ping_round (app);
  if (app->cfg.tracker_set)
    {
      announce (app);
      app->announce_source = g_timeout_add (app->cfg.announce_ms, announce, app);
    }
}

void
mbi_peer_membership_stop (MbPeerApp *app)
{
  if (app->ping_source)
    g_source_remove (app->ping_source);
  app->ping_source = 0;
  if (app->announce_source)
    g_source_remove (app->announce_source);
  app->announce_source = 0;
  if (app->drop_idle)
    g_source_remove (app->drop_idle);
  app->drop_idle = 0;
  g_clear_pointer (&app->to_drop, g_ptr_array_unref);
  g_clear_pointer (&app->lost, g_hash_table_unref);
  g_clear_pointer (&app->misses, g_hash_table_unref);
  g_clear_pointer (&app->departed, g_hash_table_unref);
  g_clear_pointer (&app->pings, g_hash_table_unref);
}

gboolean
mbi_peer_membership_on_message (MbPeerApp *app, MbNodeId from, const MbMessage *msg)
{
  const char *addr = mb_transport_node_addr (app->transport, from);
  if (app->cfg.tracker_set && from == tracker_node (app))
    {
      /* A swarm's peer list is the swarm peer's, not the ring's; the
       * tracker's refusal of a swarm registration is only logged. */
      if (msg->type == MB_MSG_PEER_LIST && msg->file != NULL && msg->file[0] != '\0')
        return FALSE;
      if (msg->type == MB_MSG_ERROR && !(msg->req & 0x40000000u))
        {
          g_message ("swarm: the tracker refused a registration: %s",
                     msg->text != NULL ? msg->text : "(no reason given)");
          return TRUE;
        }
      from_tracker (app, msg);
      return TRUE;
    }
  if (msg->type == MB_MSG_LEAVE_NOTICE)
    {
      if (addr == NULL || g_strcmp0 (msg->name, addr) != 0)
        {
          g_message ("ring: ignoring a leave notice for %s from %s: a member announces only "
                     "its own leave", msg->name ? msg->name : "(none)", addr ? addr : "(unknown)");
          return TRUE;
        }
      gint64 *until = g_new (gint64, 1);
      *until = g_get_monotonic_time ()
               + (gint64) DEPARTED_PINGS * app->cfg.ping_interval_ms * 1000;
      g_hash_table_insert (app->departed, g_strdup (addr), until);
      g_hash_table_remove (app->lost, addr);
      remove_member (app, addr, FALSE);
      return TRUE;
    }
  if (addr)
    {
      g_hash_table_remove (app->misses, addr);
      /* A ring client (it said so in its challenge) is never a member. */
      if (!app->shutting_down && !mb_transport_node_is_client (app->transport, from))
        {
          add_member (app, addr);
        }
    }
  if (msg->type == MB_MSG_PONG && (msg->req & 0x80000000u))
    {
      g_hash_table_remove (app->pings, GUINT_TO_POINTER (msg->req));
      return TRUE;
    }
  return FALSE;
}

void
mbi_peer_membership_on_session (MbPeerApp *app, MbNodeId node)
{
  /* A fresh authenticated session: a member that left and came back. */
  const char *addr = mb_transport_node_addr (app->transport, node);
  if (app->departed != NULL && addr != NULL && g_hash_table_remove (app->departed, addr))
    g_info ("ring: %s is back (a fresh session after its leave)", addr);
}

void
mbi_peer_membership_on_disconnect (MbPeerApp *app, MbNodeId node)
{
  /* The transport gave up on it (refused, reset): a miss now rather than at
   * the next round. */
  const char *addr = mb_transport_node_addr (app->transport, node);
  if (addr && mb_ring_contains (mb_ringpeer_view (app->rp), addr))
    missed (app, addr);
}

void
mbi_peer_membership_leave_notice (MbPeerApp *app)
{
  if (app->cfg.client)
    {
      app->left = TRUE; /* no member to tell: it never was one */
      return;
    }
  MbRing *view = mb_ringpeer_view (app->rp);
  const MbHost *th = mb_transport_host (app->transport);
  for (guint i = 0; i < mb_ring_n_members (view); i++)
    {
      const char *m = mb_ring_member (view, i);
      if (g_strcmp0 (m, app->addr) == 0)
        continue;
      MbMessage *bye = mb_message_new (MB_MSG_LEAVE_NOTICE);
      bye->name = g_strdup (app->addr);
      th->send (th->ctx, mb_transport_self (app->transport), mb_transport_node (app->transport, m),
                bye);
    }
  app->left = TRUE;
}
