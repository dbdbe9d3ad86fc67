/* peer-memory.c — the heap a peer holds, by structure (mb_peer_memory):
 * every block it owns, counted with mb_memsize (memsize.h), so the figures
 * are the allocator's, header and rounding included.  Read-only; it walks
 * every connection, so it is for reports (minibit-sim --memory-report),
 * not for the hot path. */
#define MB_SWARM_PEER_INTERNAL
#include "swarm/peer-private.h"

#include <string.h>

#include "memsize.h"

static gsize
str_bytes (const char *s)
{
  return s ? mb_memsize (s, strlen (s) + 1) : 0;
}

static gsize
bitfield_bytes (const MbBitfield *bf)
{
  return bf ? mb_memsize (bf, 8 + mb_bitfield_wire_len (mb_bitfield_size (bf))) : 0;
}

static void
conn_memory (const Conn *c, MbPeerMemory *acc)
{
  acc->conns += mb_memsize (c, sizeof *c) + str_bytes (c->name) + str_bytes (c->addr)
                + mb_memsize (c->st, sizeof *c->st) + mb_memsize (c->tally, sizeof *c->tally);
  acc->bitfields += bitfield_bytes (c->remote) + bitfield_bytes (c->ss_seen);
  acc->requests += mb_memsize (c->out_reqs.v, c->out_reqs.cap * sizeof (BlockRef))
                   + mb_memsize (c->cancelled.v, c->cancelled.cap * sizeof (BlockRef))
                   + mb_memsize (c->upq.v, c->upq.cap * sizeof (UpReq));
}

static void
swarm_memory (const Swarm *sw, MbPeerMemory *acc)
{
  acc->peer += mb_memsize (sw, sizeof *sw) + str_bytes (sw->file)
               + mb_memsize_hash_table (sw->hellos);
  acc->conns += mb_memsize (sw->conns, sw->cap_conns * sizeof (Conn *))
                + mb_memsize (sw->conn_nodes, sw->cap_conns * sizeof (MbNodeId))
                + mb_memsize (sw->up_active, sw->cap_up_active * sizeof (Conn *));
  for (guint i = 0; i < sw->n_conns; i++)
    conn_memory (sw->conns[i], acc);
  acc->bitfields += bitfield_bytes (sw->have) + bitfield_bytes (sw->started)
                    + bitfield_bytes (sw->lost);
  gsize per_piece = sw->n_pieces * sizeof (guint16);
  acc->pieces += mb_memsize (sw->availability, per_piece) + mb_memsize (sw->unrequested, per_piece)
                 + mb_memsize (sw->missing, per_piece)
                 + mb_memsize (sw->partials, sw->n_pieces * sizeof (Partial *))
                 + mb_memsize (sw->ss_shown, sw->n_pieces * sizeof (guint32));
  for (guint i = 0; i < sw->n_pieces; i++)
    {
      const Partial *pp = sw->partials[i];
      if (pp)
        acc->pieces += mb_memsize (pp, sizeof *pp + 2 * (gsize) pp->n_blocks)
                       + mb_memsize (pp->data, mbi_swarm_piece_len (sw, i));
    }
  acc->manifests += mb_manifest_memory (sw->manifest);
}

void
mb_peer_memory (const MbPeer *p, MbPeerMemory *acc)
{
  g_return_if_fail (p != NULL && acc != NULL);
  acc->peer += mb_memsize (p, sizeof *p) + str_bytes (p->name) + str_bytes (p->addr)
               + mb_memsize (p->rand, 2500) + sizeof (GPtrArray) + 8 /* its slice */
               + mb_memsize (p->swarms->pdata, p->swarms->len * sizeof (gpointer));
  for (guint k = 0; k < MBI_UPCACHE; k++)
    acc->peer += mb_memsize_bytes (p->upcache[k].bytes);
  for (guint i = 0; i < p->swarms->len; i++)
    swarm_memory (p->swarms->pdata[i], acc);
}
