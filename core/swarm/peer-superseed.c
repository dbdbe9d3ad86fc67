/* peer-superseed.c — super-seeding (BEP 16): a seed that shows each peer one
 * piece at a time, so that what it uploads is spread, not repeated.
 *
 * Active in a swarm whose file we hold when cfg.super_seeding is set.  A
 * connection is sent an empty bitfield, then a HAVE for one piece: the one
 * with the fewest known copies (availability) plus times already shown
 * (ss_shown), among those it lacks, ties broken from a random place.  When
 * that whole piece has been handed to it (or it says it is no longer
 * interested: it got the piece elsewhere), it is shown the next.
 *
 * Invariants:
 *  - a conn's ss_piece is -1 or a piece it was shown and had not yet
 *    received from us; ss_sent counts that piece's bytes handed to it;
 *  - a piece handed over whole is set in the conn's remote bitfield with
 *    its availability count (the peer will have it; it sends us no HAVE for
 *    a piece it believes we have).
 */
#define MB_SWARM_PEER_INTERNAL
#include "swarm/peer-private.h"

gboolean
mbi_superseed_active (const Swarm *sw)
{
  return sw->peer->cfg.super_seeding && mb_bitfield_is_complete (sw->have);
}

GBytes *
mbi_superseed_bitfield (const Swarm *sw)
{
  g_autoptr (MbBitfield) none = mb_bitfield_new (sw->n_pieces);
  return mb_bitfield_to_bytes (none);
}

void
mbi_superseed_reveal (Swarm *sw, Conn *c)
{
  c->ss_piece = -1;
  c->ss_sent = 0;
  if (sw->n_pieces == 0 || !c->established)
    return;
  if (!sw->ss_shown)
    sw->ss_shown = g_new0 (guint32, sw->n_pieces);
  guint start = (guint) g_rand_int_range (sw->peer->rand, 0, (gint32) sw->n_pieces);
  gint best = -1;
  guint64 best_v = 0;
  for (guint k = 0; k < sw->n_pieces; k++)
    {
      guint i = (start + k) % sw->n_pieces;
      if (c->remote && mb_bitfield_test (c->remote, i))
        continue;
      guint64 v = (guint64) sw->availability[i] + sw->ss_shown[i];
      if (best < 0 || v < best_v)
        {
          best = (gint) i;
          best_v = v;
        }
    }
  if (best < 0)
    return;
  c->ss_piece = best;
  sw->ss_shown[best]++;
  MbMessage *m = mbi_swarm_msg (sw, MB_MSG_HAVE);
  m->piece = (guint32) best;
  mbi_peer_send (sw->peer, c->node, m);
}

void
mbi_superseed_on_sent (Swarm *sw, Conn *c, guint32 piece, guint32 len)
{
  if (c->ss_piece != (gint) piece)
    return;
  c->ss_sent += len;
  if (c->ss_sent < mbi_swarm_piece_len (sw, piece))
    return;
  if (!c->remote)
    {
      c->remote = mb_bitfield_new (sw->n_pieces);
      c->got_bitfield = TRUE;
    }
  if (mb_bitfield_set (c->remote, piece))
    mbi_swarm_avail_add_piece (sw, piece);
  mbi_superseed_reveal (sw, c);
}

void
mbi_superseed_on_not_interested (Swarm *sw, Conn *c)
{
  if (c->ss_piece >= 0 && c->ss_sent == 0)
    mbi_superseed_reveal (sw, c);
}
