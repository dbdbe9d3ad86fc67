/* peer-superseed.c — super-seeding (BEP 16): a seed that shows each peer one
 * piece at a time, so that what it uploads is spread, not repeated.
 *
 * Active in a swarm whose file we hold when cfg.super_seeding is set.  A
 * connection is sent an empty bitfield and, once its own bitfield has come
 * (so we know what it lacks), a HAVE for one piece: the one
 * with the fewest known copies (availability) plus times already shown
 * (ss_shown), among those it lacks, ties broken from a random place.  When
 * that piece's size has been handed to it and another peer is known to hold
 * it (BEP 16: "until it sees the piece announced by another peer": the
 * peer passed it on, or someone else had it), or it says it is no longer
 * interested (it got the piece elsewhere), it is shown the next.  Without
 * that wait the peers that take a piece fastest were shown the next one at
 * once and ended with several of the last pieces each, all behind one
 * uplink (a Kumar-Ross seed-limited swarm waited 2.6 s for the second copy
 * of its last piece).  What it
 * was shown stays shown (ss_seen): a piece it did not get whole from us
 * (a choke cut it off partway, or it went) can still be asked for, but no
 * longer counts as shown (ss_shown), so that the next peer may be shown
 * it; choked before any of it went out, it keeps it shown (see on_cut).  No piece is
 * shown a second time while a piece shown once is still partly unsent to
 * an unchoked peer: the conn waits (ss_piece -1) and is shown one when such
 * a piece completes.
 *
 * Invariants:
 *  - a conn's ss_piece is -1 or the last piece it was shown; ss_sent counts
 *    bytes of that piece handed to it; ss_seen holds every piece shown to
 *    it, and no piece is shown to a conn twice;
 *  - the remote bitfield is only what the remote told us (a peer sends no
 *    HAVE for a piece it believes we have, so it may lag).
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

/* Whether a piece shown once, to a conn other than c that is unchoked, is
 * still partly unsent: while one is, no piece is shown a second time (the
 * uplink's time goes to what no one has yet; BEP 16's seed likewise shows
 * a piece again only once it has been seen elsewhere). */
static gboolean
first_round_in_flight (const Swarm *sw, const Conn *c)
{
  for (guint i = 0; i < sw->n_conns; i++)
    {
      const Conn *o = sw->conns[i];
      if (o != c && o->ss_piece >= 0 && !o->am_choking && sw->ss_shown[o->ss_piece] == 1
          && o->ss_sent < mbi_swarm_piece_len (sw, (guint32) o->ss_piece))
        return TRUE;
    }
  return FALSE;
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
  if (!c->ss_seen)
    c->ss_seen = mb_bitfield_new (sw->n_pieces);
  guint start = (guint) g_rand_int_range (sw->peer->rand, 0, (gint32) sw->n_pieces);
  gint best = -1;
  guint64 best_v = 0;
  for (guint k = 0; k < sw->n_pieces; k++)
    {
      guint i = (start + k) % sw->n_pieces;
      if ((c->remote && mb_bitfield_test (c->remote, i)) || mb_bitfield_test (c->ss_seen, i))
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
  if (best_v > 0 && first_round_in_flight (sw, c))
    return; /* waits: the uplink finishes the pieces no one has first */
  c->ss_piece = best;
  sw->ss_shown[best]++;
  mb_bitfield_set (c->ss_seen, (guint) best);
  MbMessage *m = mbi_swarm_msg (sw, MB_MSG_HAVE);
  m->piece = (guint32) best;
  mbi_peer_send (sw->peer, c->node, m);
}

/* Whether a conn other than c is known to hold c's shown piece. */
static gboolean
seen_elsewhere (const Swarm *sw, const Conn *c)
{
  if (!sw->peer->cfg.super_seeding_spread)
    return TRUE;
  for (guint i = 0; i < sw->n_conns; i++)
    {
      const Conn *o = sw->conns[i];
      if (o != c && o->remote && mb_bitfield_test (o->remote, (guint) c->ss_piece))
        return TRUE;
    }
  return FALSE;
}

/* c has been handed its whole shown piece. */
static gboolean
sent_whole (const Swarm *sw, const Conn *c)
{
  return c->ss_piece >= 0 && c->ss_sent >= mbi_swarm_piece_len (sw, (guint32) c->ss_piece);
}

void
mbi_superseed_on_have (Swarm *sw, Conn *from, guint32 piece)
{
  for (guint i = 0; i < sw->n_conns; i++)
    {
      Conn *o = sw->conns[i];
      if (o != from && o->ss_piece == (gint) piece && sent_whole (sw, o))
        mbi_superseed_reveal (sw, o);
    }
}

void
mbi_superseed_on_sent (Swarm *sw, Conn *c, guint32 piece, guint32 len)
{
  if (c->ss_piece != (gint) piece)
    return;
  c->ss_sent += len;
  if (c->ss_sent < mbi_swarm_piece_len (sw, piece))
    return;
  if (seen_elsewhere (sw, c))
    mbi_superseed_reveal (sw, c);
  /* conns that waited for the first round may be shown one now */
  for (guint i = 0; i < sw->n_conns; i++)
    {
      Conn *o = sw->conns[i];
      if (o != c && o->ss_piece < 0 && o->established && o->got_bitfield && o->remote
          && !mb_bitfield_is_complete (o->remote))
        mbi_superseed_reveal (sw, o);
    }
}

void
mbi_superseed_on_not_interested (Swarm *sw, Conn *c)
{
  /* It wants nothing of what it was shown: it got the piece elsewhere (the
   * peer sends no HAVE for a piece it believes we have), or it was cut off
   * and has since had it. */
  mbi_superseed_reveal (sw, c);
}

void
mbi_superseed_on_cut (Swarm *sw, Conn *c, gboolean gone)
{
  /* Gone, or choked partway through the piece shown to it: the piece no
   * longer counts as shown, so that the next peer shown one gets it rather
   * than it waiting for this one's return (it may still ask for it then:
   * it stays in its ss_seen).  Choked before a byte of it went out, it
   * keeps the piece: it will ask for it at its next unchoke (we announced
   * it), and a piece shown again to another meanwhile went out twice (the
   * Kumar-Ross seed-limited swarm: 5-7 pieces of 320, the seed's upload
   * 1.012-1.022 x the file before every piece was out; kept: 1.000-1.008,
   * bound_ratio 1.054 -> 1.046 over seeds 1-5). */
  if (!gone && c->ss_sent == 0)
    return;
  if (c->ss_piece < 0 || !sw->ss_shown || sw->ss_shown[c->ss_piece] == 0
      || c->ss_sent >= mbi_swarm_piece_len (sw, (guint32) c->ss_piece))
    return;
  sw->ss_shown[c->ss_piece]--;
  c->ss_piece = -1; /* counted once; shown again when it wants more */
  c->ss_sent = 0;
}

void
mbi_superseed_on_rechoke (Swarm *sw)
{
  for (guint i = 0; i < sw->n_conns; i++)
    {
      Conn *c = sw->conns[i];
      if (c->established && c->got_bitfield && !mb_bitfield_is_complete (c->remote)
          && (!c->peer_interested || (sent_whole (sw, c) && seen_elsewhere (sw, c))))
        mbi_superseed_reveal (sw, c);
    }
}
