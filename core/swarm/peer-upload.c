/* peer-upload.c — the upload queue: blocks the remotes asked for, handed to
 * the host only as fast as its uplink takes them.
 *
 * A request that passes the checks (peer-wire.c) is queued on its
 * connection.  mbi_upload_pump hands blocks over, a piece's worth per
 * connection in round-robin order (connections of one swarm, then the next
 * swarm; see serve_one), while the host's uplink backlog is below the send
 * limit; if blocks are still queued it asks the host to call
 * mb_peer_on_uplink_ready once the backlog has fallen to a quarter of the
 * limit, and does not pump again before that call (the uplink is full until
 * then).  A CHOKE (we stop serving) or a CANCEL drops queued blocks, so
 * nothing the remote no longer wants is sent beyond the limit (BEP 3's
 * cancel).
 *
 * The send limit follows the uplink's rate, as libtorrent's send buffer
 * watermark does (send_buffer_watermark_factor): cfg.send_buffer_us of the
 * uplink's capacity where the host knows it (the simulator does), else of
 * the rate handed over in the last rechoke round; at least
 * cfg.send_watermark_low, at most cfg.send_watermark (send_buffer_us = 0:
 * always send_watermark).  Everything a peer sends (handshakes, HAVEs,
 * UNCHOKEs, its own REQUESTs) waits behind that backlog on the uplink: a
 * fixed 128 KiB on a 335 kbit/s uplink held every message 0.8-3 s, so a
 * newcomer's requests and its neighbours' unchokes crawled and the
 * Qiu-Srikant seed-limited swarm lost 6% of its leechers' upload to it.
 *
 * Weighted service (bittyrant and propshare leechers, sw->up_weighted):
 * the choker gives each unchoked conn a weight (st->up_weight), and within
 * the swarm the conns are served in proportion to it by start-time fair
 * queueing over bytes (Goyal, Vin and Cheng 1996): each conn carries a
 * virtual start tag; the conn with the least tag is served (ties: the one
 * that became active first) and its tag grows by bytes x 2^20 / weight; a
 * conn that becomes active starts at the virtual time (the tag of the conn
 * last picked), so an idle conn banks no credit.  Pieces still go a whole
 * piece at a time (the conn partway through a piece, up_stick, is served
 * next), charged block by block, so shares hold over a few pieces.  The
 * scheduler is work-conserving: a conn with nothing queued leaves its
 * share to the others.  tft, altruist and freerider never set weights and
 * keep the plain round robin (same output as before weights existed).
 *
 * Invariants:
 *  - p->n_upq == the sum over every conn of every swarm of its queue length;
 *    only the functions here change a queue or n_upq;
 *  - a queued block is in range, was had when queued, and its conn was
 *    unchoked when queued and has been since (a choke clears the queue);
 *  - payload is counted (bytes_up, up_cur) when handed over, not when queued;
 *  - up_stick is NULL or in up_active, and NULL unless up_weighted.
 */
#define MB_SWARM_PEER_INTERNAL
#include "swarm/peer-private.h"

#include <string.h>

/* Weighted service: a conn's tag grows by bytes x this / its weight. */
#define MBI_UP_TAG_SCALE (G_GUINT64_CONSTANT (1) << 20)

static guint
upq_n (const UpReqs *q)
{
  return q->len - q->head;
}

/* up_active: the conns with something queued, so that handing over never
 * scans (and never pulls into cache) the idle ones. */
static void
active_add (Swarm *sw, Conn *c)
{
  if (sw->n_up_active == sw->cap_up_active)
    {
      sw->cap_up_active = sw->cap_up_active ? 2 * sw->cap_up_active : 8;
      sw->up_active = g_renew (Conn *, sw->up_active, sw->cap_up_active);
    }
  sw->up_active[sw->n_up_active++] = c;
  if (c->st && c->st->up_vtag < sw->up_vtime)
    c->st->up_vtag = sw->up_vtime;
}

static void
active_remove (Swarm *sw, Conn *c)
{
  guint i = 0;
  while (i < sw->n_up_active && sw->up_active[i] != c)
    i++;
  g_assert (i < sw->n_up_active);
  sw->n_up_active--;
  memmove (sw->up_active + i, sw->up_active + i + 1,
           (sw->n_up_active - i) * sizeof (Conn *));
  if (i < sw->up_cursor)
    sw->up_cursor--;
  if (sw->up_stick == c)
    sw->up_stick = NULL;
}

void
mbi_upload_set_weighted (Swarm *sw, gboolean weighted)
{
  sw->up_weighted = weighted;
  sw->up_stick = NULL;
}

gboolean
mbi_upload_queue (Swarm *sw, Conn *c, guint32 piece, guint32 offset, guint32 length)
{
  MbPeer *p = sw->peer;
  UpReqs *q = &c->upq;
  if (upq_n (q) >= p->cfg.max_queued_requests)
    return FALSE;
  if (q->len == q->cap)
    {
      if (q->head > 0)
        {
          /* slide the live part down before growing */
          memmove (q->v, q->v + q->head, upq_n (q) * sizeof (UpReq));
          q->len -= q->head;
          q->head = 0;
        }
      if (q->len == q->cap)
        {
          q->cap = q->cap ? 2 * q->cap : 8;
          q->v = g_renew (UpReq, q->v, q->cap);
        }
    }
  if (upq_n (q) == 0)
    active_add (sw, c);
  q->v[q->len++] = (UpReq) { piece, offset, length };
  p->n_upq++;
  return TRUE;
}

gboolean
mbi_upload_cancel (Swarm *sw, Conn *c, guint32 piece, guint32 offset, guint32 length)
{
  UpReqs *q = &c->upq;
  for (guint i = q->head; i < q->len; i++)
    {
      const UpReq *r = &q->v[i];
      if (r->piece == piece && r->offset == offset && r->length == length)
        {
          memmove (q->v + i, q->v + i + 1, (q->len - i - 1) * sizeof (UpReq));
          q->len--;
          sw->peer->n_upq--;
          if (upq_n (q) == 0)
            {
              q->head = q->len = 0;
              active_remove (sw, c);
            }
          sw->stats.cancels_honoured++;
          return TRUE;
        }
    }
  return FALSE;
}

void
mbi_upload_clear (Swarm *sw, Conn *c)
{
  UpReqs *q = &c->upq;
  g_assert (sw->peer->n_upq >= upq_n (q));
  if (upq_n (q) > 0)
    active_remove (sw, c);
  sw->peer->n_upq -= upq_n (q);
  g_free (q->v);
  memset (q, 0, sizeof *q);
}

/* Takes c's oldest queued request. */
static UpReq
upq_pop (Swarm *sw, Conn *c)
{
  UpReqs *q = &c->upq;
  UpReq r = q->v[q->head++];
  if (q->head == q->len)
    {
      q->head = q->len = 0;
      active_remove (sw, c);
    }
  sw->peer->n_upq--;
  return r;
}

/* The chunk of an upload: from the peer's few most recent (a chunk is
 * served block by block, to several remotes in turn: without them the
 * store would read the whole chunk once per block), else from the store. */
static gboolean
chunk_for_upload (MbPeer *p, const char *id, GBytes **out)
{
  for (guint k = 0; k < MBI_UPCACHE; k++)
    if (p->upcache[k].bytes && strcmp (p->upcache[k].id, id) == 0)
      {
        *out = g_bytes_ref (p->upcache[k].bytes);
        p->upcache[k].used = ++p->upcache_clock;
        return TRUE;
      }
  guint32 len = 0;
  if (!mb_store_get_chunk (p->store, id, out, &len, NULL) || !*out)
    return FALSE;
  guint victim = 0;
  for (guint k = 1; k < MBI_UPCACHE; k++)
    if (p->upcache[k].used < p->upcache[victim].used)
      victim = k;
  if (p->upcache[victim].bytes)
    g_bytes_unref (p->upcache[victim].bytes);
  g_strlcpy (p->upcache[victim].id, id, sizeof p->upcache[victim].id);
  p->upcache[victim].bytes = g_bytes_ref (*out);
  p->upcache[victim].used = ++p->upcache_clock;
  return TRUE;
}

void
mbi_upload_cache_clear (MbPeer *p)
{
  for (guint k = 0; k < MBI_UPCACHE; k++)
    g_clear_pointer (&p->upcache[k].bytes, g_bytes_unref);
}

/* Hands one block to the host; returns the bytes it puts on the uplink
 * (0 if the store no longer has the piece). */
static guint64
hand_over (Swarm *sw, Conn *c, UpReq r)
{
  MbPeer *p = sw->peer;
  MbMessage *m = mbi_swarm_msg (sw, MB_MSG_PIECE);
  m->piece = r.piece;
  m->offset = r.offset;
  m->length = r.length;
  if (!p->cfg.virtual_content)
    {
      g_autoptr (GBytes) chunk = NULL;
      const char *id = mb_manifest_chunk_id (sw->manifest, r.piece);
      if (!chunk_for_upload (p, id, &chunk)
          || g_bytes_get_size (chunk) < (gsize) r.offset + r.length)
        {
          /* The store lost it: stop claiming it (requests for it that
           * were sent before they could know are refused, not a violation). */
          mb_message_free (m);
          mbi_swarm_piece_lost (sw, r.piece);
          sw->stats.refused_requests++;
          return 0;
        }
      m->data = g_bytes_new_from_bytes (chunk, r.offset, r.length);
    }
  sw->stats.bytes_up += r.length;
  p->totals.bytes_up += r.length;
  c->up_cur += r.length;
  p->up_handed += r.length;
  c->up_since_unchoke += r.length;
  mbi_unchokes_on_sent (c, r.length);
  mbi_peer_send (p, c->node, m);
  if (c->ss_piece >= 0)
    mbi_superseed_on_sent (sw, c, r.piece, r.length);
  return r.length;
}

/* Weighted: the conn partway through a piece, else the one with the least
 * start tag (the first in up_active order among equals). */
static Conn *
next_weighted (Swarm *sw)
{
  if (sw->up_stick)
    return sw->up_stick;
  Conn *best = NULL;
  guint64 best_tag = 0;
  for (guint k = 0; k < sw->n_up_active; k++)
    {
      Conn *c = sw->up_active[k];
      guint64 tag = c->st ? c->st->up_vtag : sw->up_vtime;
      if (!best || tag < best_tag)
        {
          best = c;
          best_tag = tag;
        }
    }
  sw->up_vtime = MAX (sw->up_vtime, best_tag);
  return best;
}

/* The connection to serve next, round robin (or weighted); NULL if none.
 * The cursor stays on it (serve_one moves it on). */
static Conn *
next_conn (MbPeer *p, Swarm **sw_out)
{
  guint ns = p->swarms->len;
  for (guint k = 0; k < ns; k++)
    {
      guint s = (p->up_swarm_cursor + k) % ns;
      Swarm *sw = p->swarms->pdata[s];
      if (sw->n_up_active == 0)
        continue;
      if (sw->up_weighted)
        {
          p->up_swarm_cursor = s;
          *sw_out = sw;
          return next_weighted (sw);
        }
      if (sw->up_cursor >= sw->n_up_active)
        sw->up_cursor = 0;
      p->up_swarm_cursor = s;
      *sw_out = sw;
      return sw->up_active[sw->up_cursor];
    }
  return NULL;
}

/* Hands over c's oldest queued block.  Connections take turns a piece at a
 * time, not a block at a time: the cursor stays on c while its next block
 * belongs to the same piece.  Each remote then holds (and can verify and
 * forward) a whole piece after 1/k of the time k interleaved pieces would
 * take, which is what makes a piece spread at the uplink's speed. */
static guint64
serve_one (Swarm *sw, Conn *c)
{
  UpReq r = upq_pop (sw, c);
  if (sw->up_weighted)
    {
      guint64 w = c->st && c->st->up_weight ? c->st->up_weight : 1;
      if (c->st)
        c->st->up_vtag += MAX ((guint64) r.length * MBI_UP_TAG_SCALE / w, 1);
      sw->up_stick = upq_n (&c->upq) > 0 && c->upq.v[c->upq.head].piece == r.piece ? c : NULL;
      return hand_over (sw, c, r);
    }
  /* (an emptied queue left the active list: the cursor is on the next) */
  if (upq_n (&c->upq) > 0 && c->upq.v[c->upq.head].piece != r.piece)
    sw->up_cursor++;
  return hand_over (sw, c, r);
}

/* Hands blocks over; `woken`: called because the host said the uplink
 * drained to the low mark while blocks were queued here. */
static void
upload_pump (MbPeer *p, gboolean woken)
{
  if (p->n_upq == 0 || p->left || p->up_waiting)
    return;
  const MbHost *h = p->host;
  gboolean flow = h->uplink_backlog != NULL && h->uplink_notify != NULL;
  guint64 backlog = flow ? h->uplink_backlog (h->ctx, p->self) : 0;
  guint64 high = MAX (p->send_limit, 1);
  /* A link that drained completely with nothing queued here was idle for
   * want of requests: count it, so the rechoke can serve more peers.  Not
   * when the host wakes us with blocks queued: the link had work waiting,
   * and more peers would not have given it more.  The simulator's uplink
   * wakes us at the low mark, never at 0; a real host's kernel takes its
   * user-space queue in gulps and often wakes us at 0 while its own
   * buffers still hold data (counted as dry, that opened every extra slot
   * of a real seed that always had requests queued: README "Emulation"). */
  if (flow && backlog == 0 && p->up_started && !woken)
    p->up_dry++;
  p->up_started = TRUE;
  while (p->n_upq > 0 && (!flow || backlog < high))
    {
      Swarm *sw = NULL;
      Conn *c = next_conn (p, &sw);
      g_assert (c != NULL);
      if (serve_one (sw, c) && flow)
        backlog = h->uplink_backlog (h->ctx, p->self);
    }
  if (p->n_upq > 0)
    {
      p->up_waiting = TRUE;
      h->uplink_notify (h->ctx, p->self, high / 4);
    }
}

void
mbi_upload_pump (MbPeer *p)
{
  upload_pump (p, FALSE);
}

void
mbi_upload_set_limit (MbPeer *p, guint64 interval_us)
{
  guint64 high = p->cfg.send_watermark;
  guint64 low = MIN (p->cfg.send_watermark_low, high);
  guint64 sent = p->up_handed - p->up_handed_mark;
  p->up_handed_mark = p->up_handed;
  /* the uplink's capacity where the host knows it, else the rate measured
   * over the last round (none before the first rechoke: low) */
  const MbHost *h = p->host;
  guint64 rate = h->uplink_rate ? h->uplink_rate (h->ctx, p->self) : 0;
  if (rate == 0 && interval_us >= 1000)
    rate = sent * 1000 / (interval_us / 1000);
  /* bittyrant's capacity: the host's rate, else the most measured yet */
  p->up_capacity = MAX (MAX (p->up_capacity, rate), low);
  if (p->cfg.send_buffer_us == 0)
    {
      p->send_limit = high;
      return;
    }
  guint64 want = rate * (p->cfg.send_buffer_us / 1000) / 1000;
  p->send_limit = CLAMP (want, low, high);
}

guint64
mbi_upload_capacity_share (const MbPeer *p, guint percent)
{
  guint64 round_ms = p->cfg.rechoke_interval_us / 1000;
  return p->up_capacity * round_ms / 1000 * percent / 100;
}

void
mb_peer_on_uplink_ready (MbPeer *p, guint64 now)
{
  if (p->left)
    return;
  p->now = now;
  p->up_waiting = FALSE;
  upload_pump (p, TRUE);
}

guint
mb_peer_upload_queued (const MbPeer *p)
{
  return p->n_upq;
}

void
mb_peer_prefetch_uplink (const MbPeer *p, guint depth)
{
  const Swarm *sw = p->swarm0;
  if (sw == NULL || p->left)
    return;
  guint n = MIN (sw->n_up_active, 8);
  switch (depth)
    {
    case 0:
      MB_PREFETCH (sw);
      MB_PREFETCH ((const char *) sw + 64);
      MB_PREFETCH ((const char *) sw + 128);
      return;
    case 1:
      MB_PREFETCH (sw->up_active);
      return;
    case 2:
      for (guint k = 0; k < n; k++)
        {
          MB_PREFETCH (sw->up_active[k]);
          MB_PREFETCH ((const char *) sw->up_active[k] + 64);
        }
      return;
    default:
      for (guint k = 0; k < n; k++)
        MB_PREFETCH (sw->up_active[k]->upq.v + sw->up_active[k]->upq.head);
      return;
    }
}
