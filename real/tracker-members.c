/* tracker-members.c — the ring's membership at the tracker (tracker-members.h).
 *
 * State: an array of members in registration order (a removal keeps the
 * order), plus name -> member for the check that a name is not taken.
 * Invariants: addresses and names are unique among members; every member's
 * node is the transport node of its address.
 */
#define G_LOG_DOMAIN "minibit"

#include "tracker-members.h"

#include <string.h>

typedef struct {
  gchar *name;
  gchar *addr;
  MbNodeId node;
  gint64 last_seen;  /* monotonic, us */
} Member;

struct _MbMembers {
  MbTransport *transport;
  GPtrArray *members;    /* Member *, owned, registration order */
  GHashTable *by_name;   /* name -> Member *, borrowed */
  guint64 timeout_us;
  guint sweep;
  MbMembersExpiredFn expired;
  gpointer user;
};

static void
member_free (gpointer p)
{
  Member *e = p;
  g_free (e->name);
  g_free (e->addr);
  g_free (e);
}

static Member *
by_addr (MbMembers *m, const char *addr)
{
  for (guint i = 0; i < m->members->len; i++)
    {
      Member *e = m->members->pdata[i];
      if (strcmp (e->addr, addr) == 0)
        return e;
    }
  return NULL;
}

static void
send_to (MbMembers *m, MbNodeId to, MbMessage *msg)
{
  const MbHost *h = mb_transport_host (m->transport);
  h->send (h->ctx, mb_transport_self (m->transport), to, msg);
}

static MbMessage *
full_list (MbMembers *m)
{
  MbMessage *l = mb_message_new (MB_MSG_PEER_LIST);
  l->code = MB_ERR_NONE;
  l->file = g_strdup ("");
  guint n = m->members->len;
  MbPeerInfo *peers = g_new0 (MbPeerInfo, MAX (n, 1u));
  for (guint i = 0; i < n; i++)
    {
      Member *e = m->members->pdata[i];
      peers[i].name = e->name;
      peers[i].addr = e->addr;
    }
  mb_message_set_peers (l, peers, n);  /* copies the strings */
  g_free (peers);
  return l;
}

void
mb_members_send_list (MbMembers *m, MbNodeId to, guint32 req)
{
  MbMessage *l = full_list (m);
  l->req = req;
  const MbHost *h = mb_transport_host (m->transport);
  h->send (h->ctx, mb_transport_self (m->transport), to, l);
}

static void
remove_member (MbMembers *m, Member *e)
{
  g_hash_table_remove (m->by_name, e->name);
  g_ptr_array_remove (m->members, e);  /* frees e; keeps the order */
}

static gboolean
sweep (gpointer data)
{
  MbMembers *m = data;
  gint64 now = g_get_monotonic_time ();
  guint i = 0;
  while (i < m->members->len)
    {
      Member *e = m->members->pdata[i];
      if (now - e->last_seen >= (gint64) m->timeout_us)
        {
          g_message ("members: %s (%s) expired: no re-announce for %.1f s (%u members)",
                     e->addr, e->name, (double) (now - e->last_seen) / G_USEC_PER_SEC,
                     m->members->len - 1);
          MbNodeId node = e->node;
          gchar *name = g_strdup (e->name);
          remove_member (m, e);
          if (m->expired != NULL)
            m->expired (m->user, node, name);
          g_free (name);
        }
      else
        i++;
    }
  return G_SOURCE_CONTINUE;
}

MbMembers *
mb_members_new (MbTransport *transport, guint64 timeout_us, guint sweep_ms,
                MbMembersExpiredFn expired, gpointer user)
{
  MbMembers *m = g_new0 (MbMembers, 1);
  m->transport = transport;
  m->members = g_ptr_array_new_with_free_func (member_free);
  m->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  m->timeout_us = timeout_us;
  m->expired = expired;
  m->user = user;
  if (timeout_us > 0)
    m->sweep = g_timeout_add (MAX (sweep_ms, 10u), sweep, m);
  return m;
}

void
mb_members_free (MbMembers *m)
{
  if (m == NULL)
    return;
  if (m->sweep)
    g_source_remove (m->sweep);
  g_hash_table_destroy (m->by_name);
  g_ptr_array_unref (m->members);
  g_free (m);
}

const char *
mb_members_check (MbMembers *m, MbNodeId from, const MbMessage *reg)
{
  const char *proven = mb_transport_node_addr (m->transport, from);
  if (reg->name == NULL || reg->name[0] == '\0' || reg->addr == NULL)
    return "a member registers with its id and its wire address";
  if (proven == NULL || strcmp (proven, reg->addr) != 0)
    return "the address registered is not the one the connection proved (dial-back)";
  Member *holder = g_hash_table_lookup (m->by_name, reg->name);
  if (holder != NULL && strcmp (holder->addr, reg->addr) != 0)
    return "that peer id is registered by another live member";
  return NULL;
}

void
mb_members_register (MbMembers *m, MbNodeId from, const MbMessage *reg)
{
  Member *e = by_addr (m, reg->addr);
  gboolean joined = e == NULL;
  if (e == NULL)
    {
      e = g_new0 (Member, 1);
      e->addr = g_strdup (reg->addr);
      g_ptr_array_add (m->members, e);
    }
  else if (strcmp (e->name, reg->name) != 0)
    {
      g_hash_table_remove (m->by_name, e->name);
      joined = TRUE;  /* a new id at that address: tell everyone */
    }
  if (e->name == NULL || strcmp (e->name, reg->name) != 0)
    {
      g_free (e->name);
      e->name = g_strdup (reg->name);
      g_hash_table_insert (m->by_name, e->name, e);
    }
  e->node = from;
  e->last_seen = g_get_monotonic_time ();
  if (joined)
    {
      g_message ("members: %s (%s) joins (%u members)", e->addr, e->name, m->members->len);
      for (guint i = 0; i < m->members->len; i++)
        send_to (m, ((Member *) m->members->pdata[i])->node, full_list (m));
    }
  else
    send_to (m, from, full_list (m));
}

gboolean
mb_members_leave (MbMembers *m, MbNodeId from, const char *name)
{
  Member *e = name != NULL ? g_hash_table_lookup (m->by_name, name) : NULL;
  if (e == NULL || e->node != from)
    return FALSE;
  gchar *addr = g_strdup (e->addr);
  remove_member (m, e);
  g_message ("members: %s (%s) left (%u members)", addr, name, m->members->len);
  for (guint i = 0; i < m->members->len; i++)
    {
      MbMessage *bye = mb_message_new (MB_MSG_LEAVE_NOTICE);
      bye->name = g_strdup (addr);
      send_to (m, ((Member *) m->members->pdata[i])->node, bye);
    }
  g_free (addr);
  return TRUE;
}

gboolean
mb_members_has_name (MbMembers *m, const char *name)
{
  return name != NULL && g_hash_table_contains (m->by_name, name);
}

MbNodeId
mb_members_node_of (MbMembers *m, const char *name)
{
  Member *e = name != NULL ? g_hash_table_lookup (m->by_name, name) : NULL;
  return e != NULL ? e->node : MB_NODE_NONE;
}

guint
mb_members_count (MbMembers *m)
{
  return m->members->len;
}
