/* tracker.c — swarms of peers per file, peer lists, and silence timeouts.
 *
 * State: an array of swarms in creation order, each an array of entries
 * {name, addr, node, last_seen}.  Hash tables (file -> swarm, name -> entry)
 * are used for lookups only; nothing is ever decided or emitted by iterating
 * one, so the same messages, times and seed give the same replies.
 * Invariants:
 *  - entry->index is the entry's position in its swarm's array; removal
 *    swaps the last entry into the hole (O(1)), so the order is registration
 *    order up to those swaps — a function of the inputs alone;
 *  - every peer in a named swarm is also in the ring swarm "", and its ring
 *    entry's last_seen is at least that of any of its other entries (every
 *    refresh also refreshes the ring), so the ring outlives the others;
 *  - `dropped` counts peers the tracker forgot for silence, i.e. ring
 *    entries dropped by a sweep (a peer in three swarms counts once);
 *  - next_sweep is MB_TIME_NEVER exactly when no sweep is pending: no peers
 *    are known or peer_timeout_us is 0.
 */
#include "swarm/tracker.h"

#include <string.h>

#define MB_TRACKER_RING ""

typedef struct {
  gchar *name;
  gchar *addr;
  MbNodeId node;
  guint64 last_seen;
  guint index;   /* position in the swarm's entries */
} MbTrackerEntry;

typedef struct {
  gchar *file;
  GPtrArray *entries;   /* MbTrackerEntry *, owned */
  GHashTable *by_name;  /* entry->name -> entry, borrowed */
} MbTrackerSwarm;

struct _MbTracker {
  MbHost host;
  MbNodeId self;
  MbTrackerConfig cfg;
  GRand *rand;
  GPtrArray *swarms;    /* MbTrackerSwarm *, owned, creation order */
  GHashTable *by_file;  /* swarm->file -> swarm, borrowed */
  guint64 next_sweep;
  guint64 dropped;
};

void
mb_tracker_config_init (MbTrackerConfig *cfg)
{
  g_return_if_fail (cfg != NULL);
  cfg->peer_list_size = 5;
  cfg->peer_timeout_us = 1800 * MB_USEC_PER_SEC;
  cfg->sweep_interval_us = 60 * MB_USEC_PER_SEC;
  cfg->initial_share = 0.0;
}

/* ---- entries and swarms ------------------------------------------------ */

static void
mb_tracker_entry_free (gpointer p)
{
  MbTrackerEntry *e = p;
  g_free (e->name);
  g_free (e->addr);
  g_free (e);
}

static MbTrackerSwarm *
mb_tracker_swarm_new (const char *file)
{
  MbTrackerSwarm *s = g_new0 (MbTrackerSwarm, 1);
  s->file = g_strdup (file);
  s->entries = g_ptr_array_new_with_free_func (mb_tracker_entry_free);
  s->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  return s;
}

static void
mb_tracker_swarm_free (gpointer p)
{
  MbTrackerSwarm *s = p;
  g_hash_table_destroy (s->by_name);
  g_ptr_array_unref (s->entries);
  g_free (s->file);
  g_free (s);
}

static MbTrackerEntry *
mb_tracker_swarm_lookup (const MbTrackerSwarm *s, const char *name)
{
  return s != NULL ? g_hash_table_lookup (s->by_name, name) : NULL;
}

/* Adds a peer, or refreshes it (new addr and node) if already present. */
static void
mb_tracker_swarm_upsert (MbTrackerSwarm *s, const char *name, const char *addr,
                         MbNodeId node, guint64 now)
{
  MbTrackerEntry *e = mb_tracker_swarm_lookup (s, name);
  if (e == NULL)
    {
      e = g_new0 (MbTrackerEntry, 1);
      e->name = g_strdup (name);
      e->index = s->entries->len;
      g_ptr_array_add (s->entries, e);
      g_hash_table_insert (s->by_name, e->name, e);
    }
  if (g_strcmp0 (e->addr, addr) != 0)
    {
      g_free (e->addr);
      e->addr = g_strdup (addr);
    }
  e->node = node;
  e->last_seen = now;
}

/* Removes the entry at `index`, moving the last entry into its place. */
static void
mb_tracker_swarm_remove_at (MbTrackerSwarm *s, guint index)
{
  MbTrackerEntry *e = g_ptr_array_index (s->entries, index);
  g_hash_table_remove (s->by_name, e->name);
  g_ptr_array_remove_index_fast (s->entries, index);
  if (index < s->entries->len)
    ((MbTrackerEntry *) g_ptr_array_index (s->entries, index))->index = index;
}

static gboolean
mb_tracker_swarm_remove (MbTrackerSwarm *s, const char *name)
{
  MbTrackerEntry *e = mb_tracker_swarm_lookup (s, name);
  if (e == NULL)
    return FALSE;
  mb_tracker_swarm_remove_at (s, e->index);
  return TRUE;
}

/* Drops entries silent for peer_timeout_us; returns how many. */
static guint
mb_tracker_swarm_sweep (MbTrackerSwarm *s, guint64 timeout, guint64 now)
{
  guint n = 0;
  guint i = 0;
  while (i < s->entries->len)
    {
      MbTrackerEntry *e = g_ptr_array_index (s->entries, i);
      if (e->last_seen <= now && now - e->last_seen >= timeout)
        {
          mb_tracker_swarm_remove_at (s, i);  /* the last entry moves to i */
          n++;
        }
      else
        i++;
    }
  return n;
}

static MbTrackerSwarm *
mb_tracker_find_swarm (const MbTracker *t, const char *file)
{
  return g_hash_table_lookup (t->by_file, file);
}

static MbTrackerSwarm *
mb_tracker_ensure_swarm (MbTracker *t, const char *file)
{
  MbTrackerSwarm *s = mb_tracker_find_swarm (t, file);
  if (s == NULL)
    {
      s = mb_tracker_swarm_new (file);
      g_ptr_array_add (t->swarms, s);
      g_hash_table_insert (t->by_file, s->file, s);
    }
  return s;
}

static guint
mb_tracker_ring_size (const MbTracker *t)
{
  MbTrackerSwarm *ring = mb_tracker_find_swarm (t, MB_TRACKER_RING);
  return ring != NULL ? ring->entries->len : 0;
}

/* ---- life cycle -------------------------------------------------------- */

MbTracker *
mb_tracker_new (const MbHost *host, MbNodeId self, const MbTrackerConfig *cfg,
                GRand *rand)
{
  g_return_val_if_fail (host != NULL && host->send != NULL, NULL);
  g_return_val_if_fail (rand != NULL, NULL);
  MbTracker *t = g_new0 (MbTracker, 1);
  t->host = *host;
  t->self = self;
  if (cfg != NULL)
    t->cfg = *cfg;
  else
    mb_tracker_config_init (&t->cfg);
  t->rand = rand;
  t->swarms = g_ptr_array_new_with_free_func (mb_tracker_swarm_free);
  t->by_file = g_hash_table_new (g_str_hash, g_str_equal);
  t->next_sweep = MB_TIME_NEVER;
  return t;
}

void
mb_tracker_free (MbTracker *t)
{
  if (t == NULL)
    return;
  g_hash_table_destroy (t->by_file);
  g_ptr_array_unref (t->swarms);
  g_rand_free (t->rand);
  g_free (t);
}

/* ---- timers ------------------------------------------------------------ */

static guint64
mb_tracker_sweep_interval (const MbTracker *t)
{
  /* A zero interval would ask to be woken again at the same instant. */
  return t->cfg.sweep_interval_us != 0 ? t->cfg.sweep_interval_us
                                       : t->cfg.peer_timeout_us;
}

/* Arms the sweep if peers are known and none is pending; disarms it when
 * nothing is left to time out. */
static void
mb_tracker_arm_sweep (MbTracker *t, guint64 now)
{
  if (t->cfg.peer_timeout_us == 0 || mb_tracker_ring_size (t) == 0)
    {
      t->next_sweep = MB_TIME_NEVER;
      return;
    }
  if (t->next_sweep == MB_TIME_NEVER)
    {
      guint64 iv = mb_tracker_sweep_interval (t);
      t->next_sweep = now > MB_TIME_NEVER - iv ? MB_TIME_NEVER - 1 : now + iv;
    }
}

guint64
mb_tracker_next_expiry (const MbTracker *t)
{
  g_return_val_if_fail (t != NULL, MB_TIME_NEVER);
  return t->next_sweep;
}

void
mb_tracker_handle_expiry (MbTracker *t, guint64 now)
{
  g_return_if_fail (t != NULL);
  if (t->next_sweep == MB_TIME_NEVER || now < t->next_sweep)
    return;
  for (guint i = 0; i < t->swarms->len; i++)
    {
      MbTrackerSwarm *s = g_ptr_array_index (t->swarms, i);
      guint n = mb_tracker_swarm_sweep (s, t->cfg.peer_timeout_us, now);
      if (strcmp (s->file, MB_TRACKER_RING) == 0)
        t->dropped += n;
    }
  t->next_sweep = MB_TIME_NEVER;
  mb_tracker_arm_sweep (t, now);
}

/* ---- replies ----------------------------------------------------------- */

static void
mb_tracker_reply_error (MbTracker *t, MbNodeId to, const MbMessage *req,
                        const char *what)
{
  MbMessage *m = mb_message_new (MB_MSG_ERROR);
  m->req = req->req;
  m->code = MB_ERR_BAD_REQUEST;
  if (mb_message_type_valid (req->type))
    m->text = g_strdup_printf ("tracker: %s: %s",
                               mb_message_type_name (req->type), what);
  else
    m->text = g_strdup_printf ("tracker: message type %u: %s",
                               (guint) req->type, what);
  mb_host_send (&t->host, t->self, to, m);
}

/* Partial Fisher–Yates over the virtual array 0..m-1 (identity except for
 * the few positions already swapped, kept in `pos`/`val`): k draws, O(k^2)
 * and independent of m. */
static guint
mb_tracker_fy_get (const guint *pos, const guint *val, guint n_swapped, guint p)
{
  for (guint i = 0; i < n_swapped; i++)
    if (pos[i] == p)
      return val[i];
  return p;
}

static void
mb_tracker_fy_set (guint *pos, guint *val, guint *n_swapped, guint p, guint v)
{
  for (guint i = 0; i < *n_swapped; i++)
    if (pos[i] == p)
      {
        val[i] = v;
        return;
      }
  pos[*n_swapped] = p;
  val[*n_swapped] = v;
  (*n_swapped)++;
}

static void
mb_tracker_sample (GRand *rand, guint m, guint k, guint *out)
{
  guint *pos = g_new (guint, k);
  guint *val = g_new (guint, k);
  guint n_swapped = 0;
  for (guint i = 0; i < k; i++)
    {
      guint j = (guint) g_rand_int_range (rand, (gint32) i, (gint32) m);
      guint vj = mb_tracker_fy_get (pos, val, n_swapped, j);
      guint vi = mb_tracker_fy_get (pos, val, n_swapped, i);
      /* Position i is never read again (later draws are > i). */
      mb_tracker_fy_set (pos, val, &n_swapped, j, vi);
      out[i] = vj;
    }
  g_free (pos);
  g_free (val);
}

static void
mb_tracker_fill_peer (MbPeerInfo *p, const MbTrackerSwarm *s, guint index)
{
  const MbTrackerEntry *e = g_ptr_array_index (s->entries, index);
  p->name = e->name;
  p->addr = e->addr;
}

/* The swarm's peers other than `asker`: all of them (in array order) when
 * fewer than peer_list_size, else peer_list_size distinct ones at random. */
static void
mb_tracker_set_peer_list (MbTracker *t, MbMessage *m, const MbTrackerSwarm *s,
                          const char *asker)
{
  if (s == NULL || s->entries->len == 0)
    return;
  const MbTrackerEntry *self = mb_tracker_swarm_lookup (s, asker);
  guint skip = self != NULL ? self->index : G_MAXUINT;
  guint others = s->entries->len - (self != NULL ? 1 : 0);
  guint k = MIN (others, t->cfg.peer_list_size);
  if (k == 0)
    return;

  guint *idx = g_new (guint, k);
  if (others <= t->cfg.peer_list_size)
    for (guint i = 0; i < k; i++)
      idx[i] = i;
  else
    mb_tracker_sample (t->rand, others, k, idx);

  MbPeerInfo *peers = g_new (MbPeerInfo, k);
  for (guint i = 0; i < k; i++)
    mb_tracker_fill_peer (&peers[i], s, idx[i] >= skip ? idx[i] + 1 : idx[i]);
  mb_message_set_peers (m, peers, k);  /* copies the strings */
  g_free (peers);
  g_free (idx);
}

static guint32
mb_tracker_initial_blocks (MbTracker *t, const MbMessage *req)
{
  if (t->cfg.initial_share <= 0.0 || req->count == 0)
    return 0;
  gdouble max = t->cfg.initial_share * (gdouble) req->count;
  if (max >= (gdouble) (G_MAXINT32 - 1))
    max = (gdouble) (G_MAXINT32 - 1);
  return (guint32) g_rand_int_range (t->rand, 0, (gint32) max + 1);
}

static void
mb_tracker_reply_peers (MbTracker *t, MbNodeId to, const MbMessage *req,
                        guint32 initial_blocks)
{
  MbMessage *m = mb_message_new (MB_MSG_PEER_LIST);
  m->req = req->req;
  m->code = MB_ERR_NONE;
  m->count = initial_blocks;
  m->file = g_strdup (req->file);
  mb_tracker_set_peer_list (t, m, mb_tracker_find_swarm (t, req->file), req->name);
  mb_host_send (&t->host, t->self, to, m);
}

/* ---- requests ---------------------------------------------------------- */

static gboolean
mb_tracker_has_text (const char *s)
{
  return s != NULL && s[0] != '\0';
}

/* NULL when the request is well formed, else what is wrong with it. */
static const char *
mb_tracker_check (const MbMessage *msg)
{
  switch (msg->type)
    {
    case MB_MSG_REGISTER:
      if (!mb_tracker_has_text (msg->name))
        return "missing or empty peer name";
      if (msg->file == NULL)
        return "missing file";
      if (!mb_tracker_has_text (msg->addr))
        return "missing or empty address";
      return NULL;
    case MB_MSG_GET_PEERS:
      if (!mb_tracker_has_text (msg->name))
        return "missing or empty peer name";
      if (msg->file == NULL)
        return "missing file";
      return NULL;
    case MB_MSG_LEAVE:
      if (!mb_tracker_has_text (msg->name))
        return "missing or empty peer name";
      return NULL;
    default:
      return "message type not handled by the tracker";
    }
}

/* Marks the peer alive in `file` (if it is there) and in the ring. */
static void
mb_tracker_touch (MbTracker *t, const char *file, const char *name, guint64 now)
{
  MbTrackerEntry *e = mb_tracker_swarm_lookup (mb_tracker_find_swarm (t, file), name);
  if (e != NULL)
    e->last_seen = now;
  e = mb_tracker_swarm_lookup (mb_tracker_find_swarm (t, MB_TRACKER_RING), name);
  if (e != NULL)
    e->last_seen = now;
}

static void
mb_tracker_on_register (MbTracker *t, MbNodeId from, const MbMessage *msg,
                        guint64 now)
{
  mb_tracker_swarm_upsert (mb_tracker_ensure_swarm (t, msg->file), msg->name,
                           msg->addr, from, now);
  if (strcmp (msg->file, MB_TRACKER_RING) != 0)
    mb_tracker_swarm_upsert (mb_tracker_ensure_swarm (t, MB_TRACKER_RING),
                             msg->name, msg->addr, from, now);
  mb_tracker_arm_sweep (t, now);
  guint32 initial = mb_tracker_initial_blocks (t, msg);
  mb_tracker_reply_peers (t, from, msg, initial);
}

static void
mb_tracker_on_get_peers (MbTracker *t, MbNodeId from, const MbMessage *msg,
                         guint64 now)
{
  mb_tracker_touch (t, msg->file, msg->name, now);
  mb_tracker_reply_peers (t, from, msg, 0);
}

static void
mb_tracker_on_leave (MbTracker *t, const MbMessage *msg, guint64 now)
{
  if (msg->file == NULL || strcmp (msg->file, MB_TRACKER_RING) == 0)
    {
      for (guint i = 0; i < t->swarms->len; i++)
        mb_tracker_swarm_remove (g_ptr_array_index (t->swarms, i), msg->name);
    }
  else
    mb_tracker_swarm_remove (mb_tracker_find_swarm (t, msg->file), msg->name);
  mb_tracker_arm_sweep (t, now);
}

void
mb_tracker_receive (MbTracker *t, MbNodeId from, const MbMessage *msg, guint64 now)
{
  g_return_if_fail (t != NULL && msg != NULL);
  const char *bad = mb_tracker_check (msg);
  if (bad != NULL)
    {
      mb_tracker_reply_error (t, from, msg, bad);
      return;
    }
  switch (msg->type)
    {
    case MB_MSG_REGISTER:
      mb_tracker_on_register (t, from, msg, now);
      break;
    case MB_MSG_GET_PEERS:
      mb_tracker_on_get_peers (t, from, msg, now);
      break;
    case MB_MSG_LEAVE:
      mb_tracker_on_leave (t, msg, now);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* ---- introspection ----------------------------------------------------- */

guint
mb_tracker_n_swarms (const MbTracker *t)
{
  g_return_val_if_fail (t != NULL, 0);
  return t->swarms->len;
}

guint
mb_tracker_swarm_size (const MbTracker *t, const char *file)
{
  g_return_val_if_fail (t != NULL, 0);
  MbTrackerSwarm *s = mb_tracker_find_swarm (t, file != NULL ? file : MB_TRACKER_RING);
  return s != NULL ? s->entries->len : 0;
}

gboolean
mb_tracker_has_peer (const MbTracker *t, const char *file, const char *name)
{
  g_return_val_if_fail (t != NULL && name != NULL, FALSE);
  MbTrackerSwarm *s = mb_tracker_find_swarm (t, file != NULL ? file : MB_TRACKER_RING);
  return mb_tracker_swarm_lookup (s, name) != NULL;
}

guint64
mb_tracker_dropped (const MbTracker *t)
{
  g_return_val_if_fail (t != NULL, 0);
  return t->dropped;
}

MbNodeId
mb_tracker_peer_node (const MbTracker *t, const char *name)
{
  g_return_val_if_fail (t != NULL, MB_NODE_NONE);
  if (name == NULL)
    return MB_NODE_NONE;
  const MbTrackerEntry *e
    = mb_tracker_swarm_lookup (mb_tracker_find_swarm (t, MB_TRACKER_RING), name);
  return e != NULL ? e->node : MB_NODE_NONE;
}
