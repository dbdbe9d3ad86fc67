/* peer-pieces.c — pieces in progress, the request pipeline, endgame and
 * completion.
 *
 * A piece is started when its first block is requested: a Partial tracks per
 * block whether it arrived and how many connections it is requested from.
 * The pipeline keeps up to cfg.pipeline requests outstanding per unchoked
 * connection, choosing pieces with the picker.  In endgame (every missing
 * block requested) an idle connection may ask for a block already requested
 * elsewhere (the one with the fewest requests); when it arrives the other
 * requests for it are cancelled.  A finished piece is
 * verified against its chunk id (real content) before it is stored, had and
 * announced; a piece that fails is discarded and requested again.
 *
 * This file owns the per-piece counters of peer-private.h (unrequested,
 * missing, total_unrequested, n_started, req_count): only partial_start,
 * partial_drop, block_requested, block_unrequested and block_received
 * write them.
 */
#define MB_SWARM_PEER_INTERNAL
#include "swarm/peer-private.h"

#include "content/chunk.h"

#include <string.h>

#define CANCELLED_KEEP 64
/* In endgame a block is asked of at most this many connections at once. */
#define ENDGAME_MAX_REQUESTS 2
/* ... and only once at most this many blocks are missing (until then the
 * requests already out are on their way). */
#define ENDGAME_BLOCKS 8

guint32
mbi_swarm_piece_len (const Swarm *sw, guint32 piece)
{
  return mb_manifest_chunk_len (sw->manifest, piece);
}

static guint16
blocks_in_piece (const Swarm *sw, guint32 piece)
{
  guint32 bs = sw->peer->cfg.block_size;
  return (guint16) ((mbi_swarm_piece_len (sw, piece) + bs - 1) / bs);
}

guint32
mbi_swarm_block_len (const Swarm *sw, guint32 piece, guint32 block)
{
  guint32 bs = sw->peer->cfg.block_size;
  guint32 plen = mbi_swarm_piece_len (sw, piece);
  guint32 off = block * bs;
  return off >= plen ? 0 : MIN (bs, plen - off);
}

static Partial *
partial_start (Swarm *sw, guint32 piece)
{
  guint16 n_blocks = blocks_in_piece (sw, piece);
  Partial *pp = g_malloc0 (sizeof (Partial) + 2 * (gsize) n_blocks);
  pp->n_blocks = n_blocks;
  pp->received = pp->storage;
  pp->req_count = pp->storage + n_blocks;
  if (!sw->peer->cfg.virtual_content)
    {
      if (!sw->pool)
        sw->pool = mb_buffer_pool_new (MAX (sw->piece_size, 1u), MB_SWARM_POOL_KEEP (sw->piece_size));
      pp->data = mb_buffer_pool_take (sw->pool);
    }
  sw->partials[piece] = pp;
  mb_bitfield_set (sw->started, piece);
  sw->unrequested[piece] = pp->n_blocks;
  sw->missing[piece] = pp->n_blocks;
  sw->total_unrequested += pp->n_blocks;
  sw->n_started++;
  return pp;
}

static void
partial_drop (Swarm *sw, guint32 piece)
{
  Partial *pp = sw->partials[piece];
  sw->total_unrequested -= sw->unrequested[piece];
  sw->unrequested[piece] = 0;
  sw->missing[piece] = 0;
  mb_bitfield_clear (sw->started, piece);
  sw->n_started--;
  if (pp->data)
    mb_buffer_pool_give (sw->pool, pp->data);
  g_free (pp);
  sw->partials[piece] = NULL;
}

void
mbi_swarm_partials_free (Swarm *sw)
{
  for (guint i = 0; i < sw->n_pieces; i++)
    if (sw->partials[i])
      partial_drop (sw, i);
}

/* ---- block state: the only writers of unrequested, missing,
 * total_unrequested, n_started and req_count (with partial_start/_drop) ---- */

static void
block_requested (Swarm *sw, Partial *pp, guint32 piece, guint32 block)
{
  MB_SWARM_ASSERT (pp->req_count[block] < G_MAXUINT8);
  if (pp->req_count[block]++ == 0 && !pp->received[block])
    {
      MB_SWARM_ASSERT (sw->unrequested[piece] > 0 && sw->total_unrequested > 0);
      sw->unrequested[piece]--;
      sw->total_unrequested--;
    }
}

static void
block_unrequested (Swarm *sw, Partial *pp, guint32 piece, guint32 block)
{
  if (pp->req_count[block] == 0)
    return;
  if (--pp->req_count[block] == 0 && !pp->received[block])
    {
      sw->unrequested[piece]++;
      sw->total_unrequested++;
    }
}

static void
block_received (Swarm *sw, Partial *pp, guint32 piece, guint32 block)
{
  MB_SWARM_ASSERT (!pp->received[block] && sw->missing[piece] > 0);
  if (pp->req_count[block] == 0)
    {
      /* It was counted as unrequested (e.g. a late block after a choke). */
      MB_SWARM_ASSERT (sw->unrequested[piece] > 0 && sw->total_unrequested > 0);
      sw->unrequested[piece]--;
      sw->total_unrequested--;
    }
  pp->received[block] = 1;
  sw->missing[piece]--;
}

/* ---- request lists ---- */

void
mbi_block_refs_append (BlockRefs *a, BlockRef r)
{
  if (a->len == a->cap)
    {
      a->cap = a->cap ? 2 * a->cap : 8;
      a->v = g_renew (BlockRef, a->v, a->cap);
    }
  a->v[a->len++] = r;
}

void
mbi_block_refs_remove_index (BlockRefs *a, guint i)
{
  memmove (a->v + i, a->v + i + 1, (a->len - i - 1) * sizeof (BlockRef));
  a->len--;
}

void
mbi_block_refs_clear (BlockRefs *a)
{
  g_free (a->v);
  a->v = NULL;
  a->len = a->cap = 0;
}

static gboolean
conn_has_request (const Conn *c, guint32 piece, guint32 block)
{
  for (guint i = 0; i < c->out_reqs.len; i++)
    {
      const BlockRef *r = &c->out_reqs.v[i];
      if (r->piece == piece && r->block == block)
        return TRUE;
    }
  return FALSE;
}

static void
remember_cancelled (Conn *c, BlockRef ref)
{
  if (c->cancelled.len >= CANCELLED_KEEP)
    mbi_block_refs_remove_index (&c->cancelled, 0);
  mbi_block_refs_append (&c->cancelled, ref);
}

static gboolean
take_cancelled (Conn *c, guint32 piece, guint32 block)
{
  for (guint i = 0; i < c->cancelled.len; i++)
    {
      const BlockRef *r = &c->cancelled.v[i];
      if (r->piece == piece && r->block == block)
        {
          mbi_block_refs_remove_index (&c->cancelled, i);
          return TRUE;
        }
    }
  return FALSE;
}

void
mbi_swarm_release_requests (Swarm *sw, Conn *c, gboolean keep_as_cancelled)
{
  for (guint i = 0; i < c->out_reqs.len; i++)
    {
      BlockRef r = c->out_reqs.v[i];
      Partial *pp = sw->partials[r.piece];
      if (pp)
        block_unrequested (sw, pp, r.piece, r.block);
      if (keep_as_cancelled)
        remember_cancelled (c, r);
    }
  c->out_reqs.len = 0;
}

/* A REQUEST or CANCEL of (piece, block). */
static MbMessage *
block_msg (Swarm *sw, MbMsgType type, guint32 piece, guint32 block)
{
  MbMessage *m = mbi_swarm_msg (sw, type);
  m->piece = piece;
  m->offset = block * sw->peer->cfg.block_size;
  m->length = mbi_swarm_block_len (sw, piece, block);
  return m;
}

static void
send_request (Swarm *sw, Conn *c, guint32 piece, guint32 block)
{
  mbi_peer_send (sw->peer, c->node, block_msg (sw, MB_MSG_REQUEST, piece, block));
  if (c->out_reqs.len == 0)
    c->req_wait_at = sw->peer->now; /* its request timeout counts from here */
  BlockRef r = { piece, block };
  mbi_block_refs_append (&c->out_reqs, r);
  block_requested (sw, sw->partials[piece], piece, block);
  sw->stats.requests_sent++;
}

static MbPickInput
pick_input (const Swarm *sw, const Conn *c)
{
  MbPickInput in = {
    .have = sw->have,
    .remote = c->remote,
    .availability = sw->availability,
    .unrequested = sw->unrequested,
    .missing = sw->missing,
    .started = sw->started,
    .random_first = sw->peer->cfg.random_first,
  };
  return in;
}

static gboolean
in_endgame (const Swarm *sw)
{
  return sw->n_started > 0 && sw->total_unrequested == 0
         && mb_bitfield_count (sw->have) + sw->n_started == sw->n_pieces;
}

/* Blocks still missing in the started pieces (in endgame: all that is left). */
static guint
endgame_missing (const Swarm *sw)
{
  guint n = 0;
  for (guint i = 0; i < sw->n_pieces; i++)
    if (sw->partials[i])
      n += sw->missing[i];
  return n;
}

/* One more request to c; FALSE when there is nothing it can give us. */
static gboolean
request_one (Swarm *sw, Conn *c)
{
  MbPickInput in = pick_input (sw, c);
  if (!in_endgame (sw))
    {
      gint piece = mb_picker_pick (&in, sw->peer->rand);
      if (piece < 0)
        return FALSE;
      Partial *pp = sw->partials[piece];
      if (!pp)
        pp = partial_start (sw, (guint32) piece);
      for (guint32 b = 0; b < pp->n_blocks; b++)
        if (!pp->received[b] && pp->req_count[b] == 0)
          {
            send_request (sw, c, (guint32) piece, b);
            return TRUE;
          }
      return FALSE; /* cannot happen: the picker said it had unrequested blocks */
    }
  /* Strict endgame (libtorrent's): a connection asks for a block already
   * requested elsewhere only when it has nothing else outstanding, takes the
   * one with the fewest requests, and no block is asked of more than
   * ENDGAME_MAX_REQUESTS connections, so duplicates stay few. */
  if (!sw->peer->cfg.endgame || c->out_reqs.len > 0 || endgame_missing (sw) > ENDGAME_BLOCKS)
    return FALSE;
  gint piece = mb_picker_pick_endgame (&in, sw->peer->rand);
  if (piece < 0)
    return FALSE;
  Partial *pp = sw->partials[piece];
  gint best = -1;
  for (guint32 b = 0; b < pp->n_blocks; b++)
    if (!pp->received[b] && pp->req_count[b] < ENDGAME_MAX_REQUESTS
        && !conn_has_request (c, (guint32) piece, b)
        && (best < 0 || pp->req_count[b] < pp->req_count[best]))
      best = (gint) b;
  if (best < 0)
    return FALSE;
  send_request (sw, c, (guint32) piece, (guint32) best);
  return TRUE;
}

/* How many requests to keep outstanding on c: enough to cover
 * request_queue_us at the rate c has been giving us (as libtorrent sizes its
 * request queue), at least cfg.pipeline and at most cfg.pipeline_max.  The
 * rate is the larger of the last rechoke rounds' and the one since c last
 * unchoked us (the rounds' average counts the time it choked us).  In the
 * first second after an unchoke, before a rate can be measured, the queue
 * grows by one request per block received (libtorrent's slow start: it
 * doubles every round trip), so that a long, fast link is not held to
 * cfg.pipeline blocks per round trip. */
static guint
pipeline_depth (const Swarm *sw, const Conn *c, guint64 now)
{
  const MbPeerConfig *cfg = &sw->peer->cfg;
  guint cap = MAX (cfg->pipeline, cfg->pipeline_max);
  guint64 since = sw->peer->next_rechoke - MIN (sw->peer->next_rechoke,
                                                2 * cfg->rechoke_interval_us);
  since = MAX (since, c->connected_at);
  guint64 rate = 0;
  if (now > since + MB_USEC_PER_SEC)
    rate = (c->down_prev + c->down_cur) * MB_USEC_PER_SEC / (now - since);
  guint64 slow = 0;
  if (now > c->unchoked_us_at + MB_USEC_PER_SEC)
    rate = MAX (rate, c->down_since_unchoked * MB_USEC_PER_SEC / (now - c->unchoked_us_at));
  else
    slow = cfg->pipeline + c->down_since_unchoked / cfg->block_size;
  guint64 depth = rate * (cfg->request_queue_us / 1000) / 1000 / cfg->block_size;
  depth = MAX (depth, slow);
  return (guint) CLAMP (depth, cfg->pipeline, cap);
}

void
mbi_swarm_fill_requests (Swarm *sw, Conn *c, guint64 now)
{
  if (!c->established || c->peer_choking || !c->am_interested || !c->remote || c->stalled)
    return;
  guint depth = pipeline_depth (sw, c, MAX (now, sw->peer->now));
  while (c->out_reqs.len < depth)
    if (!request_one (sw, c))
      break;
}

static void
send_cancel (Swarm *sw, Conn *c, guint32 piece, guint32 block)
{
  mbi_peer_send (sw->peer, c->node, block_msg (sw, MB_MSG_CANCEL, piece, block));
  sw->stats.cancels_sent++;
}

guint
mbi_swarm_time_out_requests (Swarm *sw, Conn *c)
{
  /* Every block it owes us is remembered (the oldest remembered before
   * make room down to CANCELLED_KEEP), so that a remote that was only slow
   * sends them late without a violation. */
  guint n = c->out_reqs.len;
  if (c->cancelled.len > CANCELLED_KEEP)
    {
      guint drop = c->cancelled.len - CANCELLED_KEEP;
      memmove (c->cancelled.v, c->cancelled.v + drop, CANCELLED_KEEP * sizeof (BlockRef));
      c->cancelled.len = CANCELLED_KEEP;
    }
  for (guint i = 0; i < n; i++)
    {
      BlockRef r = c->out_reqs.v[i];
      Partial *pp = sw->partials[r.piece];
      if (pp)
        block_unrequested (sw, pp, r.piece, r.block);
      mbi_block_refs_append (&c->cancelled, r);
      send_cancel (sw, c, r.piece, r.block);
    }
  c->out_reqs.len = 0;
  return n;
}

static void
cancel_duplicates (Swarm *sw, Conn *except, guint32 piece, guint32 block)
{
  mbi_swarm_prefetch_conns (sw);
  for (guint i = 0; i < sw->n_conns; i++)
    {
      Conn *o = sw->conns[i];
      if (o == except)
        continue;
      for (guint k = 0; k < o->out_reqs.len; k++)
        {
          BlockRef r = o->out_reqs.v[k];
          if (r.piece != piece || r.block != block)
            continue;
          mbi_block_refs_remove_index (&o->out_reqs, k);
          block_unrequested (sw, sw->partials[piece], piece, block);
          remember_cancelled (o, r);
          send_cancel (sw, o, piece, block);
          break;
        }
    }
}

/* A verified piece into the store: a ring file's swarm puts it as a fetch
 * does (a store writing the fetched file streams it there). */
static gboolean
store_piece (Swarm *sw, guint32 piece, GBytes *bytes, GError **error)
{
  MbPeer *p = sw->peer;
  if (sw->ring)
    return mb_store_put_fetched (p->store, sw->manifest, piece, bytes, error);
  return mb_store_put_chunk (p->store, mb_manifest_chunk_id (sw->manifest, piece), bytes,
                             mbi_swarm_piece_len (sw, piece), error);
}

/* A put refused for a reason of our own (disk full, I/O error), not for
 * the bytes (MB_STORE_ERROR_INVALID: they do not hash to the id). */
static gboolean
local_store_failure (const GError *e)
{
  return e != NULL && !g_error_matches (e, MB_STORE_ERROR, MB_STORE_ERROR_INVALID);
}

/* Our store cannot keep what we fetch: asking again would fetch the same
 * piece for ever (a fetch on a full disk never ended, and each try was
 * counted as the sender's bad piece).  The swarm stops asking; its owner
 * (the ring's fetch) sees why in mb_peer_swarm_store_error. */
static void
store_failed (Swarm *sw, guint32 piece, const GError *e)
{
  if (sw->store_error)
    return;
  sw->store_error = g_strdup_printf ("piece %u of %s: our store cannot keep it: %s", piece,
                                     sw->file, e->message);
  g_debug ("peer %s: swarm %s: %s; asking for nothing more", sw->peer->name, sw->file,
           sw->store_error);
  for (guint i = 0; i < sw->n_conns; i++)
    mbi_wire_update_interest (sw, sw->conns[i]);
}

const char *
mb_peer_swarm_store_error (const MbPeer *p, const char *key)
{
  Swarm *sw = mbi_peer_swarm_by_file (p, key);
  return sw ? sw->store_error : NULL;
}

static gboolean
verify_and_store (Swarm *sw, guint32 piece, Partial *pp, GError **error)
{
  MbPeer *p = sw->peer;
  const char *id = mb_manifest_chunk_id (sw->manifest, piece);
  guint32 len = mbi_swarm_piece_len (sw, piece);
  if (p->cfg.virtual_content)
    return store_piece (sw, piece, NULL, error);
  /* A store that verifies its puts hashes the piece there, once: a second
   * SHA-256 pass here would cost as much again (issue 15's cold fetch). */
  char got[65];
  if (!p->store->verifies_puts)
    {
      mb_chunk_id_compute (pp->data, len, got);
      if (strcmp (got, id) != 0)
        return FALSE;
    }
  GBytes *bytes = mb_buffer_pool_bytes (sw->pool, pp->data, len);
  pp->data = NULL;
  gboolean ok = store_piece (sw, piece, bytes, error);
  g_bytes_unref (bytes);
  return ok;
}

void
mbi_swarm_piece_lost (Swarm *sw, guint32 piece)
{
  if (!mb_bitfield_test (sw->have, piece))
    return;
  mb_bitfield_clear (sw->have, piece);
  sw->peer->have_stamp++;
  sw->stats.pieces = mb_bitfield_count (sw->have);
  if (!sw->lost)
    sw->lost = mb_bitfield_new (sw->n_pieces);
  mb_bitfield_set (sw->lost, piece);
  if (sw->stats.completed_at != MB_TIME_NEVER)
    {
      sw->stats.completed_at = MB_TIME_NEVER;
      sw->peer->n_completed--;
    }
  for (guint i = 0; i < sw->n_conns; i++)
    mbi_wire_update_interest (sw, sw->conns[i]);
  mbi_unchokes_update_all (sw, sw->peer->now); /* no longer a seed's unchokes */
}

void
mbi_swarm_piece_arrived (Swarm *sw, guint32 piece, guint64 now)
{
  Partial *pp = sw->partials[piece];
  if (pp)
    {
      for (guint b = 0; b < pp->n_blocks; b++)
        if (pp->req_count[b] > 0)
          cancel_duplicates (sw, NULL, piece, b);
      partial_drop (sw, piece);
    }
  mbi_swarm_piece_done (sw, piece, now);
}

void
mbi_swarm_piece_done (Swarm *sw, guint32 piece, guint64 now)
{
  if (!mb_bitfield_set (sw->have, piece))
    return;
  sw->peer->have_stamp++;
  sw->stats.pieces = mb_bitfield_count (sw->have);
  /* The loop below reads every conn and its bitfield: start all those
   * cache misses at once rather than one after another. */
  mbi_swarm_prefetch_conns (sw);
  const MbHost *host = sw->peer->host;
  for (guint i = 0; i < sw->n_conns; i++)
    {
      const Conn *c = sw->conns[i];
      if (c->remote)
        MB_PREFETCH (c->remote);
      if (host->prefetch_send != NULL && c->established)
        host->prefetch_send (host->ctx, sw->peer->self, c->node); /* the HAVEs below */
    }
  for (guint i = 0; i < sw->n_conns; i++)
    {
      Conn *c = sw->conns[i];
      if (!c->established)
        continue;
      /* Have suppression: a peer that has the piece learns nothing. */
      if (!c->remote || !mb_bitfield_test (c->remote, piece))
        {
          MbMessage *m = mbi_swarm_msg (sw, MB_MSG_HAVE);
          m->piece = piece;
          mbi_peer_send (sw->peer, c->node, m);
        }
      if (c->am_interested)
        mbi_wire_update_interest (sw, c);
    }
  if (mb_bitfield_is_complete (sw->have))
    {
      mbi_swarm_mark_complete (sw, now);
      /* Now a seed: connections to other seeds are useless (here: they
       * may trade in another swarm). */
      for (guint i = sw->n_conns; i-- > 0;)
        {
          Conn *c = sw->conns[i];
          if (c->established && c->remote && mb_bitfield_is_complete (c->remote))
            mbi_swarm_close_conn (sw, c);
        }
    }
}

gboolean
mbi_swarm_acquire_generated (Swarm *sw, guint32 piece, guint64 now)
{
  MbPeer *p = sw->peer;
  const char *id = mb_manifest_chunk_id (sw->manifest, piece);
  guint32 len = mbi_swarm_piece_len (sw, piece);
  gboolean ok;
  if (p->cfg.virtual_content)
    ok = mb_store_put_chunk (p->store, id, NULL, len, NULL);
  else
    {
      guint8 *buf = g_malloc (len);
      mb_chunk_generate (sw->file, piece, buf, len);
      char got[65];
      mb_chunk_id_compute (buf, len, got);
      GBytes *bytes = g_bytes_new_take (buf, len);
      ok = strcmp (got, id) == 0 && mb_store_put_chunk (p->store, id, bytes, len, NULL);
      g_bytes_unref (bytes);
    }
  if (ok)
    {
      if (sw->partials[piece])
        partial_drop (sw, piece);
      mbi_swarm_piece_done (sw, piece, now);
    }
  return ok;
}

static void
piece_complete (Swarm *sw, guint32 piece, MbNodeId from, guint64 now)
{
  Partial *pp = sw->partials[piece];
  g_autoptr (GError) error = NULL;
  gboolean ok = verify_and_store (sw, piece, pp, &error);
  if (!ok && local_store_failure (error))
    {
      /* not the sender's fault: no bad piece */
      partial_drop (sw, piece);
      store_failed (sw, piece, error);
      return;
    }
  if (!ok)
    {
      /* Discard and ask again; requests for it were all answered. */
      sw->stats.bad_pieces++;
      sw->peer->totals.bad_pieces++;
      partial_drop (sw, piece);
      return;
    }
  partial_drop (sw, piece);
  mbi_swarm_piece_done (sw, piece, now);
  MbPeer *p = sw->peer;
  p->totals.pieces_stored++;
  if (p->observer)
    p->observer (p->observer_data, sw->file, piece, from, now);
}

gboolean
mbi_swarm_on_block (Swarm *sw, Conn *c, guint32 piece, guint32 offset, GBytes *data,
                   guint32 len, guint64 now)
{
  guint32 block = offset / sw->peer->cfg.block_size;
  gboolean requested = FALSE;
  for (guint i = 0; i < c->out_reqs.len; i++)
    {
      BlockRef r = c->out_reqs.v[i];
      if (r.piece == piece && r.block == block)
        {
          mbi_block_refs_remove_index (&c->out_reqs, i);
          requested = TRUE;
          break;
        }
    }
  if (!requested && !take_cancelled (c, piece, block))
    return FALSE;
  sw->stats.bytes_down += len;
  sw->peer->totals.bytes_down += len;
  c->down_cur += len;
  c->down_since_unchoked += len;
  c->last_block_at = now;
  if (G_UNLIKELY (c->stalled))
    mbi_stall_clear (sw, c);
  Partial *pp = sw->partials[piece];
  if (!pp || pp->received[block] || mb_bitfield_test (sw->have, piece))
    sw->stats.bytes_dup += len;
  if (requested && pp)
    block_unrequested (sw, pp, piece, block);
  if (pp && !pp->received[block] && !mb_bitfield_test (sw->have, piece))
    {
      block_received (sw, pp, piece, block);
      if (pp->data && data)
        memcpy (pp->data + offset, g_bytes_get_data (data, NULL), len);
      if (pp->req_count[block] > 0)
        cancel_duplicates (sw, c, piece, block);
      if (sw->missing[piece] == 0)
        {
          MbNodeId node = c->node;
          piece_complete (sw, piece, node, now);
          /* Completing the file drops connections to other seeds, perhaps
           * this one: look it up again. */
          c = mbi_swarm_conn (sw, node);
          if (!c)
            return TRUE;
        }
    }
  /* Refill every unchoked connection: a completed piece or a freed block
   * may open new work for the others too. */
  mbi_swarm_fill_requests (sw, c, now);
  if (in_endgame (sw))
    {
      mbi_swarm_prefetch_conns (sw);
      for (guint i = 0; i < sw->n_conns; i++)
        mbi_swarm_fill_requests (sw, sw->conns[i], now);
    }
  return TRUE;
}
