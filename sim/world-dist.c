/* world-dist.c — one rank per process (world.h's dist; the MPI backend in
 * sim/mpi/ moves the bytes).
 *
 * Every process builds the whole world from the scenario and the seed and
 * runs the global events (arrivals, scenario events, samples) alike; a
 * peer's own state (its core peer, store, net node figures, timers) lives
 * on its rank's process only.  What crosses between processes:
 *  - after each window, to each process: the messages and events (crash
 *    notices) for its nodes, serialised (messages with the core's codec,
 *    events as a number naming the function); and to all: this process's
 *    coverage log, its peers' departures (status, crash record), the
 *    fetch_bytes_up it owes others' peers, and the changes of the online,
 *    incomplete and completed counts (summed on arrival, settle);
 *  - in a global event, around a join or a leave (op_begin / op_end): the
 *    peer's process tells the others how many numbers of the global
 *    events' sequence (scheduler.h's event order) the call used, so every
 *    process numbers the next ones alike, and whether the peer completed;
 *    the coverage log's entries of global events carry the op's index, so
 *    they are counted in the order one process makes them;
 *  - for the CSVs (gather_nodes, at each sample and the end): every peer's
 *    figures to rank 0's records of it.
 * Invariant: between windows, every process has the same global events,
 * the same records' status (online, leave, left) for all peers, the same
 * counts and the same coverage state.
 */
#define MB_SIM_WORLD_INTERNAL
#include "world-private.h"

#include <string.h>

#include "distbuf.h"
#include "wire/codec.h"

/* Posted events by number (the only one another rank's node is sent). */
#define MB_POST_NOTIFY_CRASH 0u

/* A message's first byte: what follows. */
enum {
  MB_DIST_MSG_NONE = 0,   /* a disconnect (MB_MSG_NONE): nothing */
  MB_DIST_MSG_FRAME = 1,  /* a codec frame */
  MB_DIST_MSG_VIRTUAL = 2 /* u32 length of its virtual data, then a frame without it */
};

void
mb_world_set_dist (MbWorld *w, const MbWorldDist *d)
{
  g_return_if_fail (w->nodes->len == 0 && d->size == w->n_ranks && d->rank < d->size);
  w->dist = g_memdup2 (d, sizeof *d);
  mb_world_check_ranks (w, FALSE);
  mb_world_set_rank (w, (gint) d->rank); /* for good: posts to others go out */
  w->dist_base[0] = w->n_online;
  w->dist_base[1] = w->n_incomplete;
  w->dist_base[2] = w->n_completed;
}

const MbWorldDist *
mb_world_dist (const MbWorld *w)
{
  return w->dist;
}

gboolean
mb_world_is_local (const MbWorld *w, MbNodeId node)
{
  return mbi_world_local (w, node);
}

/* ---- global ops ---- */

static gboolean
in_global_op (const MbWorld *w)
{
  return w->dist != NULL && mb_sched_current_node () == MB_SCHED_GLOBAL;
}

guint64
mbi_world_op_begin (MbWorld *w)
{
  if (!in_global_op (w))
    return 0;
  w->op_counts[0] = w->n_online;
  w->op_counts[1] = w->n_incomplete;
  w->op_counts[2] = w->n_completed;
  return mb_sched_seq_peek (w->gsched, MB_SCHED_GLOBAL);
}

void
mbi_world_op_end (MbWorld *w, MbSimNode *n, guint64 begun)
{
  if (!in_global_op (w))
    return;
  guint owner = mbi_world_rank_of (w, n->id);
  /* numbers used, completed_us, and the changes of the three counts */
  gint64 m[5] = { 0, 0, 0, 0, 0 };
  gint *counts[3] = { &w->n_online, &w->n_incomplete, &w->n_completed };
  if (owner == w->dist->rank)
    {
      m[0] = (gint64) (mb_sched_seq_peek (w->gsched, MB_SCHED_GLOBAL) - begun);
      m[1] = (gint64) n->completed_us;
      for (guint k = 0; k < 3; k++)
        m[2 + k] = *counts[k] - w->op_counts[k];
    }
  w->dist->bcast (w->dist->ctx, owner, m, sizeof m);
  if (owner != w->dist->rank)
    {
      mb_sched_seq_skip (w->gsched, MB_SCHED_GLOBAL, (guint64) m[0]);
      n->completed_us = (guint64) m[1];
      for (guint k = 0; k < 3; k++)
        *counts[k] += (gint) m[2 + k];
    }
  /* every process has the op's changes now: none of them goes in a pack */
  for (guint k = 0; k < 3; k++)
    w->dist_base[k] += (gint) m[2 + k];
  w->gop++;
}

void
mbi_world_dist_depart (MbWorld *w, MbSimNode *n, MbLeaveKind kind)
{
  MbDepart d = { n->id, kind, n->left_us,
                 kind == MB_LEAVE_CRASH ? mb_net_crash_rec (w->net, n->id) : 0 };
  g_array_append_val (w->ranks[w->dist->rank].departs, d);
}

/* ---- messages ---- */

static void
pack_message (gpointer ctx, gpointer payload, GByteArray *out)
{
  MbMessage *msg = payload;
  g_autoptr (GError) err = NULL;
  if (msg->type == MB_MSG_NONE)
    g_byte_array_append (out, (const guint8[]) { MB_DIST_MSG_NONE }, 1);
  else if ((mb_message_fields (msg->type) & MB_F_DATA) && msg->data == NULL)
    {
      /* virtual content: its length, and the rest through the codec */
      g_byte_array_append (out, (const guint8[]) { MB_DIST_MSG_VIRTUAL }, 1);
      mb_distbuf_u32 (out, msg->length);
      MbMessage bare = *msg;
      bare.length = 0;
      if (!mb_codec_encode (&bare, out, &err))
        g_error ("a %s to another process cannot be encoded: %s",
                 mb_message_type_name (msg->type), err->message);
    }
  else
    {
      g_byte_array_append (out, (const guint8[]) { MB_DIST_MSG_FRAME }, 1);
      if (!mb_codec_encode (msg, out, &err))
        g_error ("a %s to another process cannot be encoded: %s",
                 mb_message_type_name (msg->type), err->message);
    }
  mb_message_free (msg);
}

static gpointer
unpack_message (gpointer ctx, const guint8 *buf, gsize len, GError **error)
{
  MbDistReader r = { buf, len, FALSE };
  guint8 kind = 0xff;
  mb_distbuf_read (&r, &kind, 1);
  if (kind == MB_DIST_MSG_NONE && r.left == 0)
    return mb_message_new (MB_MSG_NONE);
  guint32 vlen = kind == MB_DIST_MSG_VIRTUAL ? mb_distbuf_get_u32 (&r) : 0;
  if (r.bad || (kind != MB_DIST_MSG_FRAME && kind != MB_DIST_MSG_VIRTUAL))
    {
      g_set_error (error, MB_DIST_ERROR, 0, "not a message (kind %u, %" G_GSIZE_FORMAT
                   " bytes)", kind, len);
      return NULL;
    }
  MbMessage *msg = mb_codec_decode (r.p, r.left, G_MAXUINT32, error);
  if (msg && kind == MB_DIST_MSG_VIRTUAL)
    {
      if (!(mb_message_fields (msg->type) & MB_F_DATA) || msg->length != 0)
        {
          g_set_error (error, MB_DIST_ERROR, 0, "a %s cannot carry virtual data",
                       mb_message_type_name (msg->type));
          mb_message_free (msg);
          return NULL;
        }
      g_clear_pointer (&msg->data, g_bytes_unref);
      msg->length = vlen;
    }
  return msg;
}

/* ---- after each window ---- */

static guint
pack_direct (MbWorld *w, guint dest, GByteArray *out)
{
  guint me = w->dist->rank;
  guint n = mb_net_dist_pack (w->net, me, dest, out, pack_message, w);
  MbWorldRank *rk = &w->ranks[me];
  n += rk->outbox[0][dest]->len + rk->outbox[1][dest]->len;
  mb_distbuf_u32 (out, rk->outbox[0][dest]->len + rk->outbox[1][dest]->len);
  for (guint par = 0; par < 2; par++)
    {
      GArray *box = rk->outbox[par][dest];
      for (guint i = 0; i < box->len; i++)
        {
          const MbPosted *p = &g_array_index (box, MbPosted, i);
          if (p->fn != mbi_world_notify_crash || p->a != w)
            g_error ("an event for node %u on another process is not one that can be sent",
                     (guint) (p->key.who >> 32) - 1);
          mb_distbuf_u64 (out, p->key.time);
          mb_distbuf_u64 (out, p->key.who);
          mb_distbuf_u64 (out, p->key.seq);
          mb_distbuf_u64 (out, p->b);
          mb_distbuf_u32 (out, MB_POST_NOTIFY_CRASH);
        }
      g_array_set_size (box, 0);
      rk->out_min[par][dest] = G_MAXUINT64;
    }
  return n;
}

static void
pack_shared (MbWorld *w, GByteArray *out)
{
  MbWorldRank *rk = &w->ranks[w->dist->rank];
  /* the coverage log stays here too: it is counted with the others' */
  mb_distbuf_u32 (out, rk->cover_log->len);
  for (guint i = 0; i < rk->cover_log->len; i++)
    {
      const MbCoverEntry *e = &g_array_index (rk->cover_log, MbCoverEntry, i);
      mb_distbuf_u64 (out, e->time);
      mb_distbuf_u32 (out, e->key);
      mb_distbuf_u32 (out, e->piece);
      mb_distbuf_u32 (out, (guint32) e->delta);
      mb_distbuf_u32 (out, e->node);
      mb_distbuf_u32 (out, e->gop);
    }
  mb_distbuf_u32 (out, rk->departs->len);
  for (guint i = 0; i < rk->departs->len; i++)
    {
      const MbDepart *d = &g_array_index (rk->departs, MbDepart, i);
      mb_distbuf_u32 (out, d->node);
      mb_distbuf_u32 (out, d->kind);
      mb_distbuf_u64 (out, d->time);
      mb_distbuf_u64 (out, d->crash_rec);
    }
  mb_distbuf_u32 (out, rk->credits->len);
  for (guint i = 0; i < rk->credits->len; i++)
    {
      const MbCredit *c = &g_array_index (rk->credits, MbCredit, i);
      mb_distbuf_u32 (out, c->node);
      mb_distbuf_u64 (out, c->bytes);
    }
  gint now[3] = { w->n_online, w->n_incomplete, w->n_completed };
  for (guint k = 0; k < 3; k++)
    mb_distbuf_u64 (out, (guint64) (gint64) (now[k] - w->dist_base[k]));
}

guint64
mb_world_dist_pack (MbWorld *w, GByteArray **outs)
{
  guint64 n = 0;
  g_autoptr (GByteArray) shared = g_byte_array_new ();
  pack_shared (w, shared);
  MbWorldRank *rk = &w->ranks[w->dist->rank];
  g_array_set_size (rk->departs, 0);
  g_array_set_size (rk->credits, 0);
  for (guint d = 0; d < w->dist->size; d++)
    {
      g_byte_array_set_size (outs[d], 0);
      if (d != w->dist->rank)
        n += pack_direct (w, d, outs[d]);
      g_byte_array_append (outs[d], shared->data, shared->len);
    }
  return n;
}

static gboolean
bad (GError **error, guint src, const char *what)
{
  g_set_error (error, MB_DIST_ERROR, 0, "the pack from process %u: %s", src, what);
  return FALSE;
}

static gboolean
unpack_events (MbWorld *w, guint src, MbDistReader *r, GError **error)
{
  guint me = w->dist->rank;
  MbSched *s = w->scheds[me];
  guint32 n = mb_distbuf_get_u32 (r);
  for (guint32 i = 0; i < n && !r->bad; i++)
    {
      MbSchedKey key;
      key.time = mb_distbuf_get_u64 (r);
      key.who = mb_distbuf_get_u64 (r);
      key.seq = mb_distbuf_get_u64 (r);
      guint64 b = mb_distbuf_get_u64 (r);
      guint32 fn = mb_distbuf_get_u32 (r);
      guint64 node = (key.who >> 32) - 1;
      if (r->bad)
        break;
      if (fn != MB_POST_NOTIFY_CRASH || node == 0 || node > w->nodes->len
          || !mbi_world_local (w, (MbNodeId) node) || key.time < mb_sched_now (s)
          || (guint32) b != node)
        return bad (error, src, "an event that is not a crash notice due to a peer here");
      mb_sched_at_key (s, &key, mbi_world_notify_crash, w, b);
    }
  return !r->bad || bad (error, src, "its events are cut short");
}

static gboolean
unpack_shared (MbWorld *w, guint src, MbDistReader *r, GError **error)
{
  guint32 n = mb_distbuf_get_u32 (r);
  GArray *log = w->ranks[src].cover_log;
  for (guint32 i = 0; i < n && !r->bad; i++)
    {
      MbCoverEntry e;
      e.time = mb_distbuf_get_u64 (r);
      e.key = mb_distbuf_get_u32 (r);
      e.piece = mb_distbuf_get_u32 (r);
      e.delta = (gint32) mb_distbuf_get_u32 (r);
      e.node = mb_distbuf_get_u32 (r);
      e.gop = mb_distbuf_get_u32 (r);
      if (w->file && e.piece >= mb_manifest_n_chunks (w->file))
        return bad (error, src, "a coverage entry names no piece of the file");
      if (src != w->dist->rank)
        g_array_append_val (log, e);
    }
  n = mb_distbuf_get_u32 (r);
  for (guint32 i = 0; i < n && !r->bad; i++)
    {
      MbDepart d;
      d.node = mb_distbuf_get_u32 (r);
      d.kind = mb_distbuf_get_u32 (r);
      d.time = mb_distbuf_get_u64 (r);
      d.crash_rec = mb_distbuf_get_u64 (r);
      if (r->bad || src == w->dist->rank)
        continue; /* (its own: already gone here) */
      if (d.node == 0 || d.node > w->nodes->len || mbi_world_local (w, d.node)
          || (d.kind != MB_LEAVE_GRACEFUL && d.kind != MB_LEAVE_CRASH))
        return bad (error, src, "a departure of no peer of that process");
      MbSimNode *nd = w->nodes->pdata[d.node - 1];
      nd->online = FALSE;
      nd->leave = (MbLeaveKind) d.kind;
      nd->left_us = d.time;
      if (d.kind == MB_LEAVE_CRASH)
        mb_net_dist_set_crash_rec (w->net, d.node, d.crash_rec);
    }
  n = mb_distbuf_get_u32 (r);
  for (guint32 i = 0; i < n && !r->bad; i++)
    {
      guint32 node = mb_distbuf_get_u32 (r);
      guint64 bytes = mb_distbuf_get_u64 (r);
      if (r->bad)
        break;
      if (node == 0 || node > w->nodes->len)
        return bad (error, src, "a credit for no peer");
      if (mbi_world_local (w, node))
        ((MbSimNode *) w->nodes->pdata[node - 1])->fetch_bytes_up += bytes;
    }
  for (guint k = 0; k < 3; k++)
    w->dist_sum[k] += (gint64) mb_distbuf_get_u64 (r);
  if (r->bad)
    return bad (error, src, "its coverage log, departures, credits or counts are cut short");
  if (r->left != 0)
    return bad (error, src, "bytes after its counts");
  return TRUE;
}

gboolean
mb_world_dist_unpack (MbWorld *w, guint src, const guint8 *buf, gsize len, GError **error)
{
  MbDistReader r = { buf, len, FALSE };
  if (src != w->dist->rank)
    {
      gsize used = 0;
      if (!mb_net_dist_unpack (w->net, w->dist->rank, buf, len, unpack_message, w, &used, error))
        {
          g_prefix_error (error, "the pack from process %u: ", src);
          return FALSE;
        }
      mb_distbuf_take (&r, used);
      if (!unpack_events (w, src, &r, error))
        return FALSE;
    }
  return unpack_shared (w, src, &r, error);
}

void
mb_world_dist_settle (MbWorld *w)
{
  gint *now[3] = { &w->n_online, &w->n_incomplete, &w->n_completed };
  for (guint k = 0; k < 3; k++)
    {
      w->dist_base[k] += (gint) w->dist_sum[k];
      *now[k] = w->dist_base[k];
      w->dist_sum[k] = 0;
    }
}

guint64
mb_world_dist_out_min (const MbWorld *w)
{
  guint me = w->dist->rank;
  guint64 t = mb_net_dist_out_min (w->net, me);
  for (guint par = 0; par < 2; par++)
    for (guint d = 0; d < w->n_ranks; d++)
      t = MIN (t, w->ranks[me].out_min[par][d]);
  return t;
}

/* ---- rank 0's copy of every peer ---- */

typedef struct {
  guint32 id, online, leave, tag;
  guint32 chunks, manifests;
  guint64 completed_us, left_us, busy_up_done, fetch_up, fetch_down;
  MbPeerStats ps;
  MbNetNodeStats ns;
} MbNodeFigures;

void
mb_world_dist_gather_nodes (MbWorld *w, guint8 *tags, guint n_tags)
{
  const MbWorldDist *d = w->dist;
  g_autoptr (GByteArray) mine = g_byte_array_new ();
  for (guint i = 0; i < w->nodes->len; i++)
    {
      MbSimNode *n = w->nodes->pdata[i];
      if (!mbi_world_local (w, n->id))
        continue;
      MbNodeFigures f;
      memset (&f, 0, sizeof f);
      f.id = n->id;
      f.online = n->online;
      f.leave = n->leave;
      f.tag = i < n_tags ? tags[i] : 0;
      mb_world_node_held (w, n, &f.chunks, &f.manifests);
      f.completed_us = n->completed_us;
      f.left_us = n->left_us;
      f.busy_up_done = n->busy_up_done;
      f.fetch_up = n->fetch_bytes_up;
      f.fetch_down = n->fetch_bytes_down;
      mb_world_node_stats (w, n, &f.ps);
      mb_net_get_node_stats (w->net, n->id, &f.ns);
      g_byte_array_append (mine, (const guint8 *) &f, sizeof f);
    }
  g_autoptr (GByteArray) all = g_byte_array_new ();
  gsize *lens = g_new0 (gsize, d->size);
  d->gather (d->ctx, mine->data, mine->len, all, lens);
  g_free (lens);
  if (d->rank != 0)
    return;
  if (w->n_held < w->nodes->len)
    {
      w->held = g_renew (guint32, w->held, 2 * (gsize) w->nodes->len);
      memset (w->held + 2 * (gsize) w->n_held, 0,
              2 * sizeof (guint32) * (w->nodes->len - w->n_held));
      w->n_held = w->nodes->len;
    }
  if (all->len % sizeof (MbNodeFigures) != 0)
    g_error ("the peers' figures gathered from the processes are %u bytes, not a whole number "
             "of %" G_GSIZE_FORMAT "-byte records", all->len, sizeof (MbNodeFigures));
  for (gsize off = 0; off < all->len; off += sizeof (MbNodeFigures))
    {
      MbNodeFigures f;
      memcpy (&f, all->data + off, sizeof f);
      if (f.id < 1 || f.id > w->nodes->len || f.leave > MB_LEAVE_CRASH)
        g_error ("a peer's figures from another process name peer %u (of %u) and leave %u",
                 f.id, w->nodes->len, f.leave);
      MbSimNode *n = w->nodes->pdata[f.id - 1];
      if (mbi_world_local (w, n->id))
        continue;
      n->online = f.online;
      n->leave = (MbLeaveKind) f.leave;
      if (f.id - 1 < n_tags)
        tags[f.id - 1] = (guint8) f.tag;
      w->held[2 * (f.id - 1)] = f.chunks;
      w->held[2 * (f.id - 1) + 1] = f.manifests;
      n->completed_us = f.completed_us;
      n->left_us = f.left_us;
      n->busy_up_done = f.busy_up_done;
      n->fetch_bytes_up = f.fetch_up;
      n->fetch_bytes_down = f.fetch_down;
      n->final = f.ps;
      mb_net_dist_set_node_stats (w->net, n->id, &f.ns);
    }
}
