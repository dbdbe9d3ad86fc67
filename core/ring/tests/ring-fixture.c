/* ring-fixture.c — the ring tests' world; see ring-fixture.h.
 *
 * Invariants: a message is delivered in send order, 5 ms after it was sent,
 * unless its target is down (dropped at delivery) or it is an OK from a
 * peer whose OK replies are lost (dropped at sending); a full store changes
 * nothing on a put and keeps the counters of the memory store it wraps.
 */
#include "ring-fixture.h"

#include "wire/codec.h"

#include <stdio.h>
#include <string.h>

typedef struct {
  guint64 at;
  MbNodeId from, to;
  MbMessage *msg;
} Item;

/* ---- a store that can be full ---- */

typedef struct {
  MbStore base;
  MbStore *inner;
  const gboolean *full;
} FullStore;

static void
sync_counts (FullStore *f)
{
  f->base.chunk_bytes = f->inner->chunk_bytes;
  f->base.n_chunks = f->inner->n_chunks;
  f->base.n_manifests = f->inner->n_manifests;
}

static gboolean
no_space (const char *what, const char *key, GError **error)
{
  g_set_error (error, MB_STORE_ERROR, MB_STORE_ERROR_NO_SPACE,
               "No space left on device (test store full: %s %.12s)", what, key);
  return FALSE;
}

static gboolean
fs_put_chunk (MbStore *s, const char *id, GBytes *data, guint32 len, GError **error)
{
  FullStore *f = (FullStore *) s;
  if (*f->full)
    return no_space ("chunk", id, error);
  gboolean ok = mb_store_put_chunk (f->inner, id, data, len, error);
  sync_counts (f);
  return ok;
}

static gboolean
fs_get_chunk (MbStore *s, const char *id, GBytes **data, guint32 *len, GError **error)
{
  return mb_store_get_chunk (((FullStore *) s)->inner, id, data, len, error);
}

static gboolean
fs_has_chunk (MbStore *s, const char *id)
{
  return mb_store_has_chunk (((FullStore *) s)->inner, id);
}

static gboolean
fs_drop_chunk (MbStore *s, const char *id)
{
  FullStore *f = (FullStore *) s;
  gboolean ok = mb_store_drop_chunk (f->inner, id);
  sync_counts (f);
  return ok;
}

static GPtrArray *
fs_list_chunks (MbStore *s)
{
  return mb_store_list_chunks (((FullStore *) s)->inner);
}

static gboolean
fs_put_manifest (MbStore *s, const MbManifest *m, GError **error)
{
  FullStore *f = (FullStore *) s;
  if (*f->full)
    return no_space ("manifest", mb_manifest_name (m), error);
  gboolean ok = mb_store_put_manifest (f->inner, m, error);
  sync_counts (f);
  return ok;
}

static MbManifest *
fs_get_manifest (MbStore *s, const char *name)
{
  return mb_store_get_manifest (((FullStore *) s)->inner, name);
}

static gboolean
fs_drop_manifest (MbStore *s, const char *name)
{
  FullStore *f = (FullStore *) s;
  gboolean ok = mb_store_drop_manifest (f->inner, name);
  sync_counts (f);
  return ok;
}

static GPtrArray *
fs_list_manifests (MbStore *s)
{
  return mb_store_list_manifests (((FullStore *) s)->inner);
}

static void
fs_free (MbStore *s)
{
  mb_store_free (((FullStore *) s)->inner);
  g_free (s);
}

static const MbStoreOps full_ops = {
  .put_chunk = fs_put_chunk,
  .get_chunk = fs_get_chunk,
  .has_chunk = fs_has_chunk,
  .drop_chunk = fs_drop_chunk,
  .list_chunks = fs_list_chunks,
  .put_manifest = fs_put_manifest,
  .get_manifest = fs_get_manifest,
  .drop_manifest = fs_drop_manifest,
  .list_manifests = fs_list_manifests,
  .free = fs_free,
};

static MbStore *
full_store_new (const gboolean *full)
{
  FullStore *f = g_new0 (FullStore, 1);
  f->base.ops = &full_ops;
  f->inner = mb_store_memory_new ();
  f->full = full;
  return &f->base;
}

/* ---- the world ---- */

void
rfx_send (gpointer ctx, MbNodeId from, MbNodeId to, MbMessage *msg)
{
  RFx *fx = ctx;
  /* A real host does not deliver to itself: the core must never ask it to. */
  g_assert_cmpuint (from, !=, to);
  fx->messages++;
  if ((msg->type == MB_MSG_OK && from < fx->n && fx->drop_ok[from])
      || (msg->type == MB_MSG_PIECE && from < fx->n && fx->drop_pieces[from]))
    {
      mb_message_free (msg);
      return;
    }
  Item *it = g_new0 (Item, 1);
  it->at = fx->now + 5000;
  if (from < MAXN && fx->uplink_Bps)
    {
      guint64 start = MAX (fx->now, fx->busy_until[from]);
      guint64 size = mb_codec_size (msg);
      fx->busy_until[from] = start + size * SEC / fx->uplink_Bps;
      it->at = fx->busy_until[from] + 5000;
    }
  if (from < MAXN && msg->type == MB_MSG_PIECE)
    fx->bytes_from[from] += msg->data ? g_bytes_get_size (msg->data) : msg->length;
  it->from = from;
  it->to = to;
  it->msg = msg;
  /* Delivery order is time order (senders' uplinks make it differ from the
   * sending order), then sending order among equal times. */
  GList *l = fx->queue.tail;
  while (l && ((Item *) l->data)->at > it->at)
    l = l->prev;
  if (l)
    g_queue_insert_after (&fx->queue, l, it);
  else
    g_queue_push_head (&fx->queue, it);
}

MbNodeId
rfx_resolve (gpointer ctx, MbNodeId self, const char *addr)
{
  unsigned a, b, c, d, port;
  if (sscanf (addr, "%u.%u.%u.%u:%u", &a, &b, &c, &d, &port) != 5)
    return MB_NODE_NONE;
  return (MbNodeId) d;
}

guint
rfx_node (const char *member)
{
  return (guint) rfx_resolve (NULL, 0, member);
}

RFx *
rfx_new_cfg (guint n, const MbRingPeerConfig *cfg)
{
  g_assert_cmpuint (n, <=, MAXN);
  RFx *fx = g_new0 (RFx, 1);
  fx->host.ctx = fx;
  fx->host.send = rfx_send;
  fx->host.resolve = rfx_resolve;
  g_queue_init (&fx->queue);
  fx->inbox = g_ptr_array_new_with_free_func ((GDestroyNotify) mb_message_free);
  fx->n = n;
  for (guint i = 0; i < n; i++)
    fx->addr[i] = g_strdup_printf ("10.0.1.%u:7000", i);
  fx->ring = mb_ring_new ((const char *const *) fx->addr, n, 64);
  for (guint i = 0; i < n; i++)
    {
      fx->store[i] = full_store_new (&fx->full[i]);
      fx->rp[i] = mb_ringpeer_new (&fx->host, i, fx->addr[i], cfg, fx->store[i], fx->ring,
                                   g_rand_new_with_seed (i + 1));
    }
  return fx;
}

RFx *
rfx_new (guint n, guint replication)
{
  MbRingPeerConfig cfg;
  mb_ringpeer_config_init (&cfg);
  cfg.replication = replication;
  cfg.chunk_size = 64 * 1024;
  return rfx_new_cfg (n, &cfg);
}

static void
item_free (gpointer p)
{
  Item *it = p;
  mb_message_free (it->msg);
  g_free (it);
}

void
rfx_enable_swarm (RFx *fx, const MbPeerConfig *cfg, guint64 uplink_Bps)
{
  MbPeerConfig def;
  if (!cfg)
    {
      mb_peer_config_init (&def);
      cfg = &def;
    }
  MbTrackerConfig tcfg;
  mb_tracker_config_init (&tcfg);
  fx->tracker = mb_tracker_new (&fx->host, RFX_TRACKER_NODE, &tcfg, g_rand_new_with_seed (7));
  fx->uplink_Bps = uplink_Bps;
  for (guint i = 0; i < fx->n; i++)
    {
      g_autofree gchar *name = g_strdup_printf ("p%u", i);
      fx->sp[i] = mb_peer_new (&fx->host, i, name, fx->addr[i], RFX_TRACKER_NODE, cfg,
                               fx->store[i], g_rand_new_with_seed (100 + i));
      mb_ringpeer_set_swarm (fx->rp[i], fx->sp[i]);
    }
}

static guint64
fc_backlog (gpointer ctx, MbNodeId self)
{
  RFx *fx = ctx;
  g_assert_cmpuint (self, <, MAXN);
  guint64 left = fx->busy_until[self] > fx->now ? fx->busy_until[self] - fx->now : 0;
  return (left * fx->uplink_Bps + SEC - 1) / SEC + fx->stuck[self];
}

static guint64
fc_rate (gpointer ctx, MbNodeId self)
{
  return ((RFx *) ctx)->uplink_Bps;
}

static void
fc_notify (gpointer ctx, MbNodeId self, guint64 low)
{
  g_error ("node %u asked for a drain notification: the ring fixture has none", self);
}

void
rfx_enable_flow_control (RFx *fx, guint64 uplink_Bps)
{
  g_assert_cmpuint (uplink_Bps, >, 0);
  g_assert_null (fx->tracker);
  fx->uplink_Bps = uplink_Bps;
  fx->host.uplink_backlog = fc_backlog;
  fx->host.uplink_notify = fc_notify;
  fx->host.uplink_rate = fc_rate;
}

void
rfx_free (RFx *fx)
{
  for (guint i = 0; i < fx->n; i++)
    {
      mb_ringpeer_free (fx->rp[i]);
      mb_peer_free (fx->sp[i]);
      mb_store_free (fx->store[i]);
      g_free (fx->addr[i]);
    }
  mb_ring_unref (fx->ring);
  g_queue_clear_full (&fx->queue, item_free);
  g_ptr_array_unref (fx->inbox);
  if (fx->tracker)
    mb_tracker_free (fx->tracker);
  g_free (fx);
}

void
rfx_check (RFx *fx)
{
  g_autoptr (GString) why = g_string_new (NULL);
  for (guint i = 0; i < fx->n; i++)
    {
      if (!mb_ringpeer_check (fx->rp[i], why))
        g_error ("peer %u: %s", i, why->str);
      if (fx->sp[i] && !mb_peer_check (fx->sp[i], why))
        g_error ("swarm peer %u: %s", i, why->str);
    }
}

void
rfx_run (RFx *fx, guint64 until)
{
  for (guint64 events = 0;; events++)
    {
      g_assert_cmpuint (events, <, 10000000);   /* bounded */
      rfx_check (fx);
      Item *head = g_queue_peek_head (&fx->queue);
      guint64 te = MB_TIME_NEVER;
      gint who = -1;
      gboolean swarm_due = FALSE;
      for (guint i = 0; i < fx->n; i++)
        if (!fx->down[i])
          {
            guint64 e = mb_ringpeer_next_expiry (fx->rp[i]);
            if (e < te)
              {
                te = e;
                who = (gint) i;
                swarm_due = FALSE;
              }
            e = fx->sp[i] ? mb_peer_next_expiry (fx->sp[i]) : MB_TIME_NEVER;
            if (e < te)
              {
                te = e;
                who = (gint) i;
                swarm_due = TRUE;
              }
          }
      if (fx->tracker && mb_tracker_next_expiry (fx->tracker) < te)
        {
          te = mb_tracker_next_expiry (fx->tracker);
          who = RFX_TRACKER_NODE;
        }
      guint64 tm = head ? head->at : MB_TIME_NEVER;
      guint64 t = MIN (te, tm);
      if (t == MB_TIME_NEVER || t > until)
        break;
      fx->now = MAX (fx->now, t);
      if (tm <= te)
        {
          Item *it = g_queue_pop_head (&fx->queue);
          if (it->to < fx->n && !fx->down[it->to]
              && !mb_ringpeer_receive (fx->rp[it->to], it->from, it->msg, fx->now)
              && fx->sp[it->to])
            mb_peer_receive (fx->sp[it->to], it->from, it->msg, fx->now);
          if (it->to == RFX_TRACKER_NODE && fx->tracker)
            mb_tracker_receive (fx->tracker, it->from, it->msg, fx->now);
          if (it->to >= fx->n && !(it->to == RFX_TRACKER_NODE && fx->tracker))
            g_ptr_array_add (fx->inbox, g_steal_pointer (&it->msg));
          else
            mb_message_free (it->msg);
          g_free (it);
        }
      else if (who == RFX_TRACKER_NODE)
        mb_tracker_handle_expiry (fx->tracker, fx->now);
      else if (swarm_due)
        mb_peer_handle_expiry (fx->sp[who], fx->now);
      else
        mb_ringpeer_handle_expiry (fx->rp[who], fx->now);
    }
  rfx_check (fx);
}

const MbMessage *
rfx_ask (RFx *fx, guint to, MbMessage *msg)
{
  static guint32 next_req = 0x40000000u;
  msg->req = next_req++;
  guint32 req = msg->req;
  rfx_send (fx, RFX_TEST_NODE, to, msg);
  rfx_run (fx, fx->now + 5 * SEC);
  for (guint i = fx->inbox->len; i-- > 0;)
    if (((const MbMessage *) fx->inbox->pdata[i])->req == req)
      return fx->inbox->pdata[i];
  return NULL;
}

void
rfx_set_views (RFx *fx, MbRing *view)
{
  for (guint i = 0; i < fx->n; i++)
    if (!fx->down[i])
      mb_ringpeer_set_view (fx->rp[i], view, FALSE, fx->now);
}

void
on_done (MbRingPeer *rp, const MbRingResult *r, gpointer data)
{
  Done *d = data;
  d->called = TRUE;
  d->r = *r;
  d->r.manifest = NULL;
  d->r.error = NULL;
  d->content = r->content ? g_bytes_ref (r->content) : NULL;
  d->error = g_strdup (r->error);
}

void
done_clear (Done *d)
{
  if (d->content)
    g_bytes_unref (d->content);
  g_free (d->error);
  memset (d, 0, sizeof *d);
}

GBytes *
random_content (gsize len, guint32 seed)
{
  GRand *r = g_rand_new_with_seed (seed);
  guint8 *buf = g_malloc (len);
  for (gsize i = 0; i < len; i++)
    buf[i] = (guint8) g_rand_int (r);
  g_rand_free (r);
  return g_bytes_new_take (buf, len);
}

void
store_file (RFx *fx, guint at, const char *name, GBytes *content, Done *d)
{
  mb_ringpeer_store_file (fx->rp[at], name, content, 0, fx->now, on_done, d);
  rfx_run (fx, fx->now + 60 * SEC);
  g_assert_true (d->called);
}

void
fetch_file (RFx *fx, guint at, const char *name, Done *d)
{
  mb_ringpeer_fetch_file (fx->rp[at], name, fx->now, on_done, d);
  rfx_run (fx, fx->now + 120 * SEC);
  g_assert_true (d->called);
}

gboolean
holds_chunk (RFx *fx, guint i, const char *id)
{
  return mb_store_has_chunk (fx->store[i], id);
}

void
on_shutdown (MbRingPeer *rp, const MbShutdownReport *r, gpointer data)
{
  ShutDone *s = data;
  s->called = TRUE;
  s->r = *r;
}

static gboolean
in_list (const guint *list, guint i)
{
  for (guint k = 0; list && list[k] != G_MAXUINT; k++)
    if (list[k] == i)
      return TRUE;
  return FALSE;
}

GPtrArray *
rfx_live_stores (RFx *fx, const guint *gone)
{
  GPtrArray *a = g_ptr_array_new ();
  for (guint i = 0; i < fx->n; i++)
    if (!fx->down[i] && !in_list (gone, i))
      g_ptr_array_add (a, fx->store[i]);
  return a;
}

MbManifest *
rfx_newest_manifest (RFx *fx, const char *name)
{
  MbManifest *best = NULL;
  for (guint i = 0; i < fx->n; i++)
    {
      MbManifest *m = mb_store_get_manifest (fx->store[i], name);
      if (m && (!best || mb_manifest_cmp_newer (m, best) > 0))
        {
          if (best)
            mb_manifest_unref (best);
          best = m;
        }
      else if (m)
        mb_manifest_unref (m);
    }
  return best;
}
