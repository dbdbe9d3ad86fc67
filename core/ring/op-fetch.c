/* op-fetch.c — fetch_file: the manifest read from a read quorum of copies
 * (op-quorum.c: the owners first, following redirects, at most max_hops per
 * thread, failing over to the next owner, then to a few more members whose
 * fresher views may redirect us), the newest of them taken (versions:
 * mb_manifest_cmp_newer); fewer copies than the quorum is an error, as the
 * one found could be a version a later store replaced; a member that gave
 * an older copy is sent the newest (read repair); then the chunks, rarest first, from several holders at once (at most
 * per_holder requests each), failing over between holders, each verified
 * before it is stored; then update_manifest at the owners, adding this peer
 * as a holder of every chunk.
 *
 * Invariants: a chunk is CH_INFLIGHT exactly while one GET_CHUNK for it is
 * pending, and `inflight` counts them (the sum of `load`), never above
 * `capacity`; order[0 .. scan_from) holds no chunk still waiting (CH_NEED);
 * a holder is asked for a chunk at most once (`tried`; with the swarm, once
 * per round of the fallback), a holder outside our view only once no
 * member holding it is left untried; the owners are told only when every
 * chunk is settled (done or failed).
 *
 * With a swarm peer (mb_ringpeer_set_swarm) the chunks come through the
 * file's swarm (`key` set): a piece the swarm stores is CH_DONE at once
 * (mbi_rp_on_swarm_piece); GET_CHUNK is sent only from `check_at` on,
 * once the swarm brought nothing for swarm_stall_us, and only for chunks
 * no connected remote of the swarm has.  "Nothing" is no piece, no payload
 * and no new copy among our connections of a chunk we still need: in a
 * flash crowd a fetcher waits seconds for its neighbours' first pieces, and
 * that swarm is growing, not stalled (when a crowd's fetchers all fell back
 * at once, the holders' uplinks queued hours of GET_CHUNK replies, which
 * timed out, starved the swarm and failed the fetches).  The fallback keeps
 * one GET_CHUNK in flight, and asks for chunks of equal rarity in an order
 * of its own, so stalled fetchers ask for different chunks.  A holder
 * that serves the chunk through the swarm refuses it as choked
 * (ringpeer-serve.c): the chunk waits on the swarm, and the fallback a whole
 * stall.  A chunk whose holders all failed fails the fetch only if the swarm
 * has brought nothing since the last look; else it waits on the swarm again.
 * After 3 x swarm_stall_us without any of that, GET_CHUNK goes out for
 * every chunk left, claimed or not (remotes that claim them do not give
 * them: a stale connection).
 */
#define MB_RING_PEER_INTERNAL
#include "ring/ringpeer-private.h"

#include <string.h>

/* Fetch state per chunk. */
enum { CH_NEED = 0, CH_INFLIGHT, CH_DONE, CH_FAILED };

typedef struct {
  RingOp base;
  MbManifest *manifest;
  gboolean manifest_phase;  /* the owners are being told */
  /* the lookup */
  MbiRead read;
  guint quorum;             /* copies of the manifest to read */
  gboolean lookup_done;
  /* the chunks */
  guint8 *state;            /* per chunk: CH_* */
  GPtrArray **tried;        /* per chunk: members already asked for it (gchar*) */
  GHashTable *load;         /* member -> chunk requests in flight to it */
  guint inflight;           /* chunk requests in flight, all members */
  guint capacity;           /* per_holder x distinct holders (1 with the swarm):
                             * more cannot be in flight */
  guint scan_from;          /* order[0 .. scan_from) are not waiting (CH_NEED) */
  guint *pos;               /* chunk index -> its position in order */
  guint *order;             /* chunk indices, rarest first */
  GHashTable *sources;      /* member -> 1 (lookup only) */
  GPtrArray *cand;          /* scratch: one chunk's candidates (borrowed) */
  /* the swarm (NULL key: none) */
  gchar *key;               /* the swarm's key (mb_peer_swarm_key) */
  guint64 last_progress;    /* when the swarm last brought a chunk (or joined) */
  guint64 check_at;         /* next look at a stalled swarm; MB_TIME_NEVER when settled */
  gboolean ring_open;       /* GET_CHUNK may go out (swarm stalled once) */
  gboolean ring_all;        /* ... for every chunk left, not only those no remote
                             * claims (stalled 3 x swarm_stall_us) */
  GHashTable *swarm_from;   /* nodes the swarm's pieces came from (a set) */
  guint64 seen_bytes;       /* the swarm's payload received, at the last look */
  guint64 seen_avail;       /* copies among our connections of the chunks we
                             * still need, at the last look */
  guint rotate;             /* the fallback asks a chunk's candidates from this
                             * one on (mod their number); 0 without the swarm */
  guint done_inflight;      /* chunks the swarm brought while a GET_CHUNK for them
                             * was pending: inflight counts those too */
} OpFetch;

static void
fetch_free (RingOp *base)
{
  OpFetch *op = (OpFetch *) base;
  guint n = op->manifest ? mb_manifest_n_chunks (op->manifest) : 0;
  for (guint i = 0; op->tried && i < n; i++)
    if (op->tried[i])
      g_ptr_array_unref (op->tried[i]);
  g_free (op->tried);
  if (op->manifest)
    mb_manifest_unref (op->manifest);
  g_free (op->state);
  if (op->load)
    g_hash_table_unref (op->load);
  g_free (op->order);
  g_free (op->pos);
  if (op->sources)
    g_hash_table_unref (op->sources);
  mbi_read_clear (&op->read);
  if (op->cand)
    g_ptr_array_unref (op->cand);
  if (op->swarm_from)
    g_hash_table_unref (op->swarm_from);
  g_free (op->key);
}

/* ---- the chunks ---- */

static gint
cmp_rarity (gconstpointer a, gconstpointer b, gpointer data)
{
  const MbManifest *m = data;
  guint x = *(const guint *) a, y = *(const guint *) b;
  guint hx = mb_manifest_n_holders (m, x), hy = mb_manifest_n_holders (m, y);
  if (hx != hy)
    return hx < hy ? -1 : 1;
  return x < y ? -1 : (x > y);
}

/* Candidates for chunk i into op->cand: the manifest's holders (hints),
 * then the chunk's owners in our view (where the ring says it lives now). */
static GPtrArray *
chunk_candidates (OpFetch *op, guint i)
{
  MbRingPeer *rp = op->base.rp;
  GPtrArray *out = op->cand;
  g_ptr_array_set_size (out, 0);
  for (guint h = 0; h < mb_manifest_n_holders (op->manifest, i); h++)
    g_ptr_array_add (out, (gpointer) mb_manifest_holder (op->manifest, i, h));
  g_auto (MbiOwners) owners = { 0 };
  mbi_owners_init (&owners, rp->view, mb_manifest_chunk_id (op->manifest, i), rp->cfg.replication);
  for (guint k = 0; k < owners.n; k++)
    if (!mbi_rp_in_list ((const char *const *) out->pdata, out->len, owners.names[k]))
      g_ptr_array_add (out, (gpointer) owners.names[k]);
  return out;
}

static void fetch_pump (OpFetch *op, guint64 now);
static gboolean fetch_chunks_settled (const OpFetch *op);

typedef struct {
  const char *member;
  guint chunks;
} Source;

static gint
cmp_source (gconstpointer a, gconstpointer b)
{
  const Source *x = a, *y = b;
  if (x->chunks != y->chunks)
    return x->chunks > y->chunks ? -1 : 1;
  return strcmp (x->member, y->member);
}

/* Whether the swarm brought news since the last look: payload received,
 * or more copies among our connections of the chunks we still need (a
 * remote announced one, or one with it connected).  With `remember` (the
 * stall check, the join) what it saw becomes the last look; the pump only
 * asks. */
static gboolean
swarm_news (OpFetch *op, gboolean remember)
{
  MbRingPeer *rp = op->base.rp;
  MbPeerStats st;
  guint64 bytes = mb_peer_stats (rp->swarm, op->key, &st) ? st.bytes_down : 0;
  guint64 avail = 0;
  for (guint i = 0; i < mb_manifest_n_chunks (op->manifest); i++)
    if (op->state[i] == CH_NEED || op->state[i] == CH_INFLIGHT)
      avail += mb_peer_availability (rp->swarm, op->key, i);
  gboolean news = bytes > op->seen_bytes || avail > op->seen_avail;
  if (remember)
    {
      op->seen_bytes = bytes;
      op->seen_avail = avail;
    }
  return news;
}

/* Joins the file's swarm; its sources are the chunks' candidates (the
 * manifest's holders, the owners in our view), those with most chunks
 * first, then by name (deterministic). */
static void
fetch_join_swarm (OpFetch *op, guint64 now)
{
  MbRingPeer *rp = op->base.rp;
  guint n = mb_manifest_n_chunks (op->manifest);
  GHashTable *count = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < n; i++)
    {
      GPtrArray *cand = chunk_candidates (op, i);
      for (guint h = 0; h < cand->len; h++)
        if (!mbi_rp_is_self (rp, cand->pdata[h]))
          {
            guint c = GPOINTER_TO_UINT (g_hash_table_lookup (count, cand->pdata[h]));
            g_hash_table_insert (count, cand->pdata[h], GUINT_TO_POINTER (c + 1));
          }
    }
  GArray *srcs = g_array_new (FALSE, FALSE, sizeof (Source));
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, count);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      Source s = { k, GPOINTER_TO_UINT (v) };
      g_array_append_val (srcs, s);
    }
  g_array_sort (srcs, cmp_source);
  const char **names = g_new (const char *, MAX (srcs->len, 1));
  for (guint i = 0; i < srcs->len; i++)
    names[i] = g_array_index (srcs, Source, i).member;
  g_autofree gchar *key = mb_peer_swarm_key (op->manifest);
  if (mb_peer_join_swarm (rp->swarm, op->manifest, key, names, srcs->len, now))
    {
      op->key = g_steal_pointer (&key);
      op->last_progress = now;
      op->check_at = now + rp->cfg.swarm_stall_us;
      op->swarm_from = g_hash_table_new (g_direct_hash, g_direct_equal);
      swarm_news (op, TRUE);
      /* The fallback: one GET_CHUNK in flight, and chunks of equal rarity
       * (and their holders) in an order of this fetch's own. */
      op->capacity = 1;
      op->rotate = (guint) g_rand_int_range (rp->rand, 0, G_MAXINT32);
      for (guint a = 0; a < n;)
        {
          guint b = a + 1;
          guint h = mb_manifest_n_holders (op->manifest, op->order[a]);
          while (b < n && mb_manifest_n_holders (op->manifest, op->order[b]) == h)
            b++;
          for (guint q = a; q + 1 < b; q++)
            {
              guint j = q + (guint) g_rand_int_range (rp->rand, 0, (gint32) (b - q));
              guint t = op->order[q];
              op->order[q] = op->order[j];
              op->order[j] = t;
            }
          a = b;
        }
      for (guint q = 0; q < n; q++)
        op->pos[op->order[q]] = q;
    }
  g_free (names);
  g_array_unref (srcs);
  g_hash_table_unref (count);
}

void
mbi_rp_on_swarm_piece (gpointer data, const char *key, guint piece, MbNodeId from,
                       guint64 now)
{
  MbRingPeer *rp = data;
  for (guint k = 0; k < rp->ops->len; k++)
    {
      RingOp *base = rp->ops->pdata[k];
      OpFetch *op = (OpFetch *) base;
      if (base->kind != OP_FETCH || !op->key || strcmp (op->key, key) != 0
          || piece >= mb_manifest_n_chunks (op->manifest) || op->state[piece] == CH_DONE)
        continue;
      /* An in-flight GET_CHUNK for it stays counted until it answers. */
      if (op->state[piece] == CH_INFLIGHT)
        op->done_inflight++;
      op->state[piece] = CH_DONE;
      base->result.bytes += mb_manifest_chunk_len (op->manifest, piece);
      base->result.chunks_swarm++;
      op->last_progress = now;
      if (from != MB_NODE_NONE && !g_hash_table_contains (op->swarm_from, GUINT_TO_POINTER (from)))
        {
          g_hash_table_add (op->swarm_from, GUINT_TO_POINTER (from));
          base->result.sources++;
        }
      /* Never a failure report from here (the swarm is on our stack). */
      if (!base->error && fetch_chunks_settled (op))
        base->vt->maybe_finish (base, now);
      return;
    }
}

static guint64
fetch_next_expiry (const RingOp *base)
{
  const OpFetch *op = (const OpFetch *) base;
  return op->key && !op->manifest_phase && !base->reported ? op->check_at : MB_TIME_NEVER;
}

/* The swarm's stall check: once it has brought no news for swarm_stall_us,
 * the chunks no connected remote has go to their holders; after three
 * times that, every chunk left. */
static void
fetch_on_expiry (RingOp *base, guint64 now)
{
  OpFetch *op = (OpFetch *) base;
  MbRingPeer *rp = base->rp;
  const char *why = mb_peer_swarm_store_error (rp->swarm, op->key);
  if (why && !base->error)
    mbi_op_fail (base, "%s: %s", base->name, why); /* the swarm asks for nothing more */
  if (swarm_news (op, TRUE))
    op->last_progress = now;
  if (now >= op->last_progress + 3 * rp->cfg.swarm_stall_us)
    op->ring_all = TRUE; /* long stalled: remotes that claim the rest do not give it */
  if (now >= op->last_progress + rp->cfg.swarm_stall_us)
    {
      op->ring_open = TRUE;
      op->scan_from = 0;
      op->check_at = now + rp->cfg.swarm_stall_us;
    }
  else
    {
      op->ring_open = FALSE;
      op->check_at = op->last_progress + rp->cfg.swarm_stall_us;
    }
  base->vt->maybe_finish (base, now);
}


static void
fetch_start_chunks (OpFetch *op, const MbManifest *m, guint64 now)
{
  MbRingPeer *rp = op->base.rp;
  op->manifest = mb_manifest_copy (m);
  op->lookup_done = TRUE;
  guint n = mb_manifest_n_chunks (m);
  op->state = g_new0 (guint8, MAX (n, 1));
  op->tried = g_new0 (GPtrArray *, MAX (n, 1));
  op->load = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  op->order = g_new (guint, MAX (n, 1));
  op->sources = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  op->cand = g_ptr_array_new ();
  for (guint i = 0; i < n; i++)
    {
      op->order[i] = i;
      if (mb_store_has_chunk (rp->store, mb_manifest_chunk_id (m, i)))
        op->state[i] = CH_DONE;
    }
  if (!rp->cfg.virtual_content)
    mb_store_fetch_begin (rp->store, op->manifest);
  /* Rarest first (fewest holders), then by index: stable and deterministic. */
  g_qsort_with_data (op->order, (gint) n, sizeof (guint), cmp_rarity, op->manifest);
  op->pos = g_new (guint, MAX (n, 1));
  for (guint k = 0; k < n; k++)
    op->pos[op->order[k]] = k;
  /* Distinct holders (and owners in our view) bound what can be in flight. */
  GHashTable *distinct = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < n; i++)
    {
      GPtrArray *cand = chunk_candidates (op, i);
      for (guint h = 0; h < cand->len; h++)
        if (!mbi_rp_is_self (rp, cand->pdata[h]))
          g_hash_table_add (distinct, cand->pdata[h]);
    }
  op->capacity = MAX (1, g_hash_table_size (distinct)) * rp->cfg.per_holder;
  g_hash_table_unref (distinct);
  if (rp->swarm && !fetch_chunks_settled (op))
    fetch_join_swarm (op, now);
  fetch_pump (op, now);
}

static guint
holder_load (OpFetch *op, const char *holder)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (op->load, holder));
}

static void
holder_load_add (OpFetch *op, const char *holder, gint delta)
{
  guint l = holder_load (op, holder);
  l = (guint) ((gint) l + delta);
  g_hash_table_replace (op->load, g_strdup (holder), GUINT_TO_POINTER (l));
  op->inflight = (guint) ((gint) op->inflight + delta);
}

static gboolean
was_tried (OpFetch *op, guint i, const char *member)
{
  GPtrArray *t = op->tried[i];
  for (guint k = 0; t && k < t->len; k++)
    if (strcmp (t->pdata[k], member) == 0)
      return TRUE;
  return FALSE;
}

static void
mark_tried (OpFetch *op, guint i, const char *member)
{
  if (!op->tried[i])
    op->tried[i] = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (op->tried[i], g_strdup (member));
}

/* Sends chunk requests while holders have room (per_holder each), rarest
 * chunk first.  A chunk whose candidates were all tried has failed. */
static void
fetch_pump (OpFetch *op, guint64 now)
{
  MbRingPeer *rp = op->base.rp;
  if (op->base.error)
    return; /* failed: it ends once the requests out are answered */
  guint n = mb_manifest_n_chunks (op->manifest);
  gboolean settled = TRUE; /* every chunk before k is not waiting */
  for (guint k = op->scan_from; k < n && op->inflight < op->capacity; k++)
    {
      guint i = op->order[k];
      if (op->state[i] != CH_NEED)
        {
          if (settled)
            op->scan_from = k + 1;
          continue;
        }
      settled = FALSE;
      if (op->key && (!op->ring_open
                      || (!op->ring_all && mb_peer_availability (rp->swarm, op->key, i) > 0)))
        continue; /* the swarm will bring it */
      GPtrArray *cand = chunk_candidates (op, i);
      /* Members of our view first: a holder outside it (a ring client that
       * told the owners it holds the file, a member gone) may be stopped or
       * unreachable, and with the swarm only one GET_CHUNK is in flight, so
       * each such try would hold the fallback up for an RPC timeout.  It is
       * asked only once no member is left untried for the chunk. */
      const char *best = NULL, *best_other = NULL;
      guint best_load = G_MAXUINT, other_load = G_MAXUINT;
      gboolean untried = FALSE, member_untried = FALSE;
      for (guint k2 = 0; k2 < cand->len; k2++)
        {
          /* with the swarm, each fetch starts at a holder of its own */
          const char *c = cand->pdata[(k2 + op->rotate) % cand->len];
          if (mbi_rp_is_self (rp, c) || was_tried (op, i, c))
            continue;
          untried = TRUE;
          gboolean member = mb_ring_contains (rp->view, c);
          member_untried = member_untried || member;
          guint l = holder_load (op, c);
          if (l >= (op->key ? 1 : rp->cfg.per_holder))
            continue;
          if (member && l < best_load)
            {
              best = c;
              best_load = l;
            }
          else if (!member && l < other_load)
            {
              best_other = c;
              other_load = l;
            }
        }
      if (!best && !member_untried)
        best = best_other;
      if (!untried && op->key && swarm_news (op, FALSE))
        {
          /* Its holders could not give it, but the swarm is not stalled
           * (any more): it waits on the swarm, and its holders may be
           * asked again after the next stall. */
          if (op->tried[i])
            g_ptr_array_set_size (op->tried[i], 0);
          op->last_progress = now;
          op->ring_open = FALSE;
          op->check_at = now + rp->cfg.swarm_stall_us;
          continue;
        }
      if (!untried)
        {
          op->state[i] = CH_FAILED;
          op->base.result.chunks_failed++;
          mbi_op_fail (&op->base, "no holder of chunk %u of %s could give it", i, op->base.name);
          continue;
        }
      if (!best)
        continue; /* every untried holder is busy: later */
      mark_tried (op, i, best);
      op->state[i] = CH_INFLIGHT;
      holder_load_add (op, best, +1);
      MbMessage *m = mb_message_new (MB_MSG_GET_CHUNK);
      m->chunk_id = g_strdup (mb_manifest_chunk_id (op->manifest, i));
      mbi_rp_send (rp, &op->base, RPC_GET_CHUNK, best, m, i, 0, now);
    }
}

static void
fetch_on_chunk (OpFetch *op, Rpc *r, const MbMessage *msg, guint64 now)
{
  MbRingPeer *rp = op->base.rp;
  guint i = r->index;
  holder_load_add (op, r->target, -1);
  if (op->state[i] == CH_DONE)
    {
      op->done_inflight--; /* the swarm brought it meanwhile */
      return;
    }
  g_autoptr (GError) error = NULL;
  gboolean verified = msg && msg->type == MB_MSG_CHUNK
                      && mbi_rp_chunk_verifies (rp, op->manifest, i, msg);
  if (verified
      && mb_store_put_fetched (rp->store, op->manifest, i,
                               rp->cfg.virtual_content ? NULL : msg->data, &error))
    {
      op->state[i] = CH_DONE;
      op->base.result.bytes += mb_manifest_chunk_len (op->manifest, i);
      if (op->key)
        mb_peer_piece_stored (rp->swarm, op->key, i, now);
      if (!g_hash_table_contains (op->sources, r->target))
        {
          g_hash_table_add (op->sources, g_strdup (r->target));
          op->base.result.sources++;
        }
      return;
    }
  if (verified && !g_error_matches (error, MB_STORE_ERROR, MB_STORE_ERROR_INVALID))
    {
      /* Good bytes our own store cannot keep (disk full, I/O error): no
       * other holder would do better, and asking them all again and again
       * kept the fetch running for ever (nemesis, a peer on a full disk). */
      op->state[i] = CH_FAILED;
      op->base.result.chunks_failed++;
      mbi_op_fail (&op->base, "cannot keep chunk %u of %s here: %s", i, op->base.name,
                   error ? error->message : "the store refused it");
      return;
    }
  if (msg && msg->type == MB_MSG_CHUNK)
    rp->stats.refused_chunks++;
  op->state[i] = CH_NEED; /* another holder */
  op->scan_from = MIN (op->scan_from, op->pos[i]);
  if (op->key && msg && msg->type == MB_MSG_ERROR && msg->code == MB_ERR_CHOKED)
    {
      /* The holder serves it through the swarm: it comes from there; the
       * fallback waits a whole stall before it asks anyone again. */
      g_ptr_array_set_size (op->tried[i], 0);
      op->last_progress = now;
      op->ring_open = FALSE;
      op->check_at = now + rp->cfg.swarm_stall_us;
    }
}

static gboolean
fetch_chunks_settled (const OpFetch *op)
{
  for (guint i = 0; i < mb_manifest_n_chunks (op->manifest); i++)
    if (op->state[i] == CH_NEED || op->state[i] == CH_INFLIGHT)
      return FALSE;
  return TRUE;
}

/* ---- telling the owners ---- */

static void
holder_keep (RingOp *base, gpointer data, guint64 now)
{
  MbRingPeer *rp = base->rp;
  g_autoptr (MbManifest) mine = mb_store_get_manifest (rp->store, base->name);
  if (mine)
    {
      g_autoptr (MbManifest) upd = mb_manifest_copy (mine);
      for (guint i = 0; i < mb_manifest_n_chunks (upd); i++)
        mb_manifest_add_holder (upd, i, rp->addr);
      mb_store_put_manifest (rp->store, upd, NULL);
    }
}

static void
holder_send (RingOp *base, const char *target, gpointer data, guint64 now)
{
  MbRingPeer *rp = base->rp;
  MbMessage *m = mb_message_new (MB_MSG_UPDATE_MANIFEST);
  m->file = g_strdup (base->name);
  m->addr = g_strdup (rp->addr);
  mbi_rp_send (rp, base, RPC_UPDATE_MANIFEST, target, m, 0, 0, now);
}

static const MbiPlacement holder_placement = { holder_keep, holder_send };

static GBytes *
assemble (MbRingPeer *rp, const MbManifest *m)
{
  GByteArray *all = g_byte_array_sized_new ((guint) mb_manifest_size (m));
  for (guint i = 0; i < mb_manifest_n_chunks (m); i++)
    {
      GBytes *b = NULL;
      guint32 len;
      if (!mb_store_get_chunk (rp->store, mb_manifest_chunk_id (m, i), &b, &len, NULL) || !b)
        {
          g_byte_array_unref (all);
          return NULL;
        }
      gsize n;
      const guint8 *d = g_bytes_get_data (b, &n);
      g_byte_array_append (all, d, (guint) n);
      g_bytes_unref (b);
    }
  return g_byte_array_free_to_bytes (all);
}

/* ---- the op ---- */

/* The read is over: the newest copy if a quorum answered, else why not. */
static void
fetch_lookup_done (OpFetch *op, guint64 now)
{
  RingOp *base = &op->base;
  const MbManifest *newest = mbi_read_newest (&op->read);
  base->result.redirects = op->read.redirects;
  base->result.manifests_read = op->read.answers;
  if (!newest)
    {
      base->result.lookups_failed = 1;
      mbi_op_fail (base, "no owner of %s answered with its manifest", base->name);
      return;
    }
  if (op->read.answers < op->quorum)
    {
      base->result.lookups_failed = 1;
      mbi_op_fail (base, "%s: only %u of the %u copies of its manifest a read needs answered "
                   "(a newer version may exist)", base->name, op->read.answers, op->quorum);
      return;
    }
  base->result.version = mb_manifest_version (newest);
  mbi_read_repair (base, &op->read, now);
  fetch_start_chunks (op, newest, now);
}

static void
fetch_on_reply (RingOp *base, Rpc *r, const MbMessage *msg, guint64 now)
{
  OpFetch *op = (OpFetch *) base;
  if (r->kind == RPC_GET_MANIFEST)
    mbi_read_on_reply (base, &op->read, r, msg, now);
  else if (r->kind == RPC_GET_CHUNK)
    fetch_on_chunk (op, r, msg, now);
}

static void
fetch_maybe_finish (RingOp *base, guint64 now)
{
  OpFetch *op = (OpFetch *) base;
  MbRingPeer *rp = base->rp;
  if (base->reported)
    return;
  if (!op->lookup_done && !base->error && mbi_read_done (&op->read))
    fetch_lookup_done (op, now);
  if (op->lookup_done && !op->manifest_phase)
    fetch_pump (op, now);
  if (base->pending > 0)
    return;
  if (!op->lookup_done || base->error)
    {
      if (op->key)
        mb_peer_leave_swarm (rp->swarm, op->key, now);
      mbi_op_report (base, op->manifest);
      return;
    }
  if (!fetch_chunks_settled (op))
    return;
  if (!op->manifest_phase)
    {
      op->manifest_phase = TRUE;
      mbi_op_place_at_owners (base, base->name, &holder_placement, NULL, now);
      if (base->pending > 0)
        return;
    }
  if (!rp->cfg.virtual_content && !rp->cfg.leave_in_store)
    base->result.content = assemble (rp, op->manifest);
  mbi_op_report (base, op->manifest);
}

static gboolean
fetch_check (const RingOp *base, GString *why)
{
  const OpFetch *op = (const OpFetch *) base;
  if (!mbi_read_check (&op->read, base, why))
    return FALSE;
  if (!op->lookup_done)
    return TRUE;
  guint n = mb_manifest_n_chunks (op->manifest), inflight = 0;
  for (guint i = 0; i < n; i++)
    inflight += op->state[i] == CH_INFLIGHT;
  if (inflight + op->done_inflight != op->inflight)
    {
      g_string_append_printf (why, "fetch %s: %u chunks in flight (and %u the swarm brought "
                              "meanwhile), but inflight = %u", base->name, inflight,
                              op->done_inflight, op->inflight);
      return FALSE;
    }
  if (op->inflight > op->capacity)
    {
      g_string_append_printf (why, "fetch %s: %u chunk requests in flight, capacity %u",
                              base->name, op->inflight, op->capacity);
      return FALSE;
    }
  for (guint k = 0; k < op->scan_from && k < n; k++)
    if (op->state[op->order[k]] == CH_NEED)
      {
        g_string_append_printf (why, "fetch %s: chunk %u waits before scan_from %u",
                                base->name, op->order[k], op->scan_from);
        return FALSE;
      }
  return TRUE;
}

static void
fetch_progress (const RingOp *base, MbRingOpProgress *out)
{
  const OpFetch *op = (const OpFetch *) base;
  if (!op->manifest || !op->state)
    return;
  guint n = mb_manifest_n_chunks (op->manifest);
  out->chunks_total = n;
  for (guint i = 0; i < n; i++)
    if (op->state[i] == CH_DONE)
      {
        out->chunks_done++;
        out->bytes += mb_manifest_chunk_len (op->manifest, i);
      }
  out->bytes_total = mb_manifest_size (op->manifest);
}

static const RingOpVtable fetch_vtable = {
  "fetch", fetch_on_reply, fetch_maybe_finish, fetch_free, fetch_check, fetch_progress,
  fetch_next_expiry, fetch_on_expiry,
};

void
mb_ringpeer_fetch_file (MbRingPeer *rp, const char *name, guint64 now, MbRingDoneFn done,
                        gpointer data)
{
  OpFetch *op = mbi_op_new (rp, &fetch_vtable, OP_FETCH, sizeof (OpFetch), name);
  op->base.done = done;
  op->base.data = data;
  op->quorum = mbi_rp_quorums (rp).q;
  /* The owners first; then a few more members, which (their views being
   * fresher, perhaps) redirect us to the owner when ours are gone. */
  mbi_read_start (&op->base, &op->read, TRUE, op->quorum, rp->cfg.replication + 3, now);
  fetch_maybe_finish (&op->base, now);
}
