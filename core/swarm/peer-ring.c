/* peer-ring.c — swarms of ring files (peer.h): a ring fetch joins the
 * swarm of the file's content, and the holders of its chunks serve it.
 *
 * Invariants: n_serving == the swarms with serve_only set (its one writer
 * is this file, and mbi_peer_swarm_remove); a ring swarm's `hellos` holds
 * every node that said hello to it while we were in it, but those whose
 * connection in it closed since (a refused hello stays: that node is in the
 * swarm, with others), each as accepted, refused or told (a node whose
 * GET_CHUNK was refused as choked once, until it says hello again); a serve_only swarm is never
 * interested in anyone and never asks the tracker (use_tracker unset); a
 * swarm is joined to serve only from a manifest that validates, whose key
 * is the one asked for, and of which the store holds a chunk.
 */
#define MB_SWARM_PEER_INTERNAL
#include "swarm/peer-private.h"

#include <string.h>

#define KEY_HASH_DIGITS 16
/* A swarm joined on a remote's hello holds ~100 bytes per piece: at most
 * this many (16 GiB in 256 KiB chunks), so max_served_swarms strangers'
 * manifests cannot make a peer hold more than a few hundred MB. */
#define SERVE_MAX_PIECES (1u << 16)

gchar *
mb_peer_swarm_key (const MbManifest *m)
{
  char hash[65];
  mb_manifest_content_hash (m, hash);
  return g_strdup_printf ("%s#%.*s", mb_manifest_name (m), KEY_HASH_DIGITS, hash);
}

/* The manifest as a hello carries it: no holders (they can be many, and a
 * remote serving from it needs only the chunks). */
static MbManifest *
bare_manifest (const MbManifest *m)
{
  MbManifest *b = mb_manifest_copy (m);
  for (guint i = 0; i < mb_manifest_n_chunks (b); i++)
    while (mb_manifest_n_holders (b, i) > 0)
      mb_manifest_remove_holder (b, i, mb_manifest_holder (b, i, 0));
  return b;
}

static void
send_hello_with_manifest (Swarm *sw, MbNodeId to, const MbManifest *bare)
{
  MbPeer *p = sw->peer;
  MbMessage *m = mb_message_new (MB_MSG_HANDSHAKE);
  m->file = g_strdup (sw->file);
  m->name = g_strdup (p->name);
  m->addr = g_strdup (p->addr);
  m->code = 0;
  m->manifest = mb_manifest_ref ((MbManifest *) bare);
  mbi_peer_send (p, to, m);
}

/* The store is the truth: a piece we had and it no longer holds (a
 * download removed, a chunk dropped) is not had any more. */
static void
swarm_recheck_store (Swarm *sw)
{
  MbPeer *p = sw->peer;
  for (guint i = 0; i < sw->n_pieces; i++)
    if (mb_bitfield_test (sw->have, i)
        && !mb_store_has_chunk (p->store, mb_manifest_chunk_id (sw->manifest, i)))
      mbi_swarm_piece_lost (sw, i);
}

gboolean
mb_peer_join_swarm (MbPeer *p, const MbManifest *m, const char *key,
                    const char *const *sources, guint n_sources, guint64 now)
{
  if (p->left)
    return FALSE;
  p->now = now;
  Swarm *sw = mbi_peer_swarm_by_file (p, key);
  if (sw && sw->serve_only)
    {
      /* We served it; now we fetch it too. */
      sw->serve_only = FALSE;
      p->n_serving--;
      sw->use_tracker = p->tracker != MB_NODE_NONE;
      for (guint i = 0; i < sw->n_conns; i++)
        mbi_wire_update_interest (sw, sw->conns[i]);
      mbi_unchokes_update_all (sw, now); /* no longer a seed's unchokes */
    }
  if (!sw)
    sw = mbi_peer_swarm_create (p, m, key, now);
  else
    swarm_recheck_store (sw);
  sw->ring = TRUE;
  if (!sw->registered)
    mbi_swarm_register (sw, now);
  g_autoptr (MbManifest) bare = bare_manifest (m);
  for (guint i = 0; i < n_sources; i++)
    {
      if (!sources[i] || g_strcmp0 (sources[i], p->addr) == 0)
        continue;
      MbNodeId node = p->host->resolve (p->host->ctx, p->self, sources[i]);
      if (node == MB_NODE_NONE || node == p->self || mbi_swarm_conn (sw, node))
        continue;
      if (sw->n_conns >= p->cfg.target_conns && !mbi_swarm_make_room (sw))
        break;
      Conn *c = mbi_swarm_conn_add (sw, node, NULL, TRUE, now);
      c->addr = g_strdup (sources[i]);
      send_hello_with_manifest (sw, node, bare);
    }
  return TRUE;
}

Swarm *
mbi_ring_join_to_serve (MbPeer *p, const char *key, const MbManifest *m, guint64 now)
{
  if (p->n_serving >= p->cfg.max_served_swarms || mb_manifest_n_chunks (m) > SERVE_MAX_PIECES
      || !mb_manifest_validate (m, NULL))
    return NULL;
  g_autofree gchar *want = mb_peer_swarm_key (m);
  if (strcmp (want, key) != 0)
    return NULL;
  gboolean holds = FALSE;
  for (guint i = 0; i < mb_manifest_n_chunks (m) && !holds; i++)
    holds = mb_store_has_chunk (p->store, mb_manifest_chunk_id (m, i));
  if (!holds)
    return NULL;
  Swarm *sw = mbi_peer_swarm_create (p, m, key, now);
  sw->ring = TRUE;
  sw->serve_only = TRUE;
  sw->use_tracker = FALSE;
  p->n_serving++;
  return sw;
}

void
mb_peer_leave_swarm (MbPeer *p, const char *key, guint64 now)
{
  Swarm *sw = mbi_peer_swarm_by_file (p, key);
  if (!sw)
    return;
  p->now = now;
  if (sw->registered && sw->use_tracker)
    {
      MbMessage *m = mb_message_new (MB_MSG_LEAVE);
      m->name = g_strdup (p->name);
      m->file = g_strdup (sw->file);
      mbi_peer_send (p, p->tracker, m);
    }
  mbi_swarm_send_goodbye_pex (sw);
  mbi_peer_swarm_remove (p, sw);
  if (p->swarms->len == 0)
    p->next_rechoke = MB_TIME_NEVER;
}

void
mbi_ring_sweep (MbPeer *p, guint64 now)
{
  for (guint i = p->swarms->len; i-- > 0;)
    {
      Swarm *sw = p->swarms->pdata[i];
      if (!sw->ring)
        continue;
      if (sw->n_conns > 0)
        {
          sw->idle_since = MB_TIME_NEVER;
          continue;
        }
      if (sw->idle_since == MB_TIME_NEVER)
        sw->idle_since = now;
      else if (now - sw->idle_since >= p->cfg.swarm_idle_us && mbi_swarm_seeding (sw))
        mb_peer_leave_swarm (p, sw->file, now);
    }
}

void
mb_peer_piece_stored (MbPeer *p, const char *key, guint piece, guint64 now)
{
  Swarm *sw = mbi_peer_swarm_by_file (p, key);
  if (!sw || piece >= sw->n_pieces || mb_bitfield_test (sw->have, piece))
    return;
  p->now = now;
  mbi_swarm_piece_arrived (sw, piece, now);
}

guint
mb_peer_availability (const MbPeer *p, const char *key, guint piece)
{
  Swarm *sw = mbi_peer_swarm_by_file (p, key);
  if (!sw || piece >= sw->n_pieces)
    return 0;
  guint n = sw->availability[piece];
  /* a stalled connection's pieces are nowhere until it sends again */
  for (guint i = 0; i < sw->n_conns && sw->n_stalled > 0; i++)
    {
      const Conn *c = sw->conns[i];
      if (c->stalled && c->remote && c->got_bitfield && mb_bitfield_test (c->remote, piece))
        n--;
    }
  return n;
}

void
mb_peer_set_piece_observer (MbPeer *p, MbPeerPieceFn fn, gpointer data)
{
  p->observer = fn;
  p->observer_data = data;
}

gboolean
mb_peer_swarm_serving_only (const MbPeer *p, const char *key)
{
  Swarm *sw = mbi_peer_swarm_by_file (p, key);
  return sw && sw->serve_only;
}

static void
note (Swarm *sw, MbNodeId from, MbiHello what)
{
  if (!sw->hellos)
    sw->hellos = g_hash_table_new (g_direct_hash, g_direct_equal);
  g_hash_table_insert (sw->hellos, GUINT_TO_POINTER (from), GUINT_TO_POINTER (what));
}

static MbiHello
hello_of (const Swarm *sw, MbNodeId from)
{
  return sw->hellos ? GPOINTER_TO_UINT (g_hash_table_lookup (sw->hellos,
                                                             GUINT_TO_POINTER (from)))
                    : 0;
}

void
mbi_ring_note_hello (Swarm *sw, MbNodeId from)
{
  note (sw, from, MBI_HELLO_ACCEPTED);
}

void
mbi_ring_note_refused (Swarm *sw, MbNodeId from)
{
  /* Told once already: refusing it again does not start that over (a
   * fetcher that dials us again and again would be refused, and choked,
   * for good). */
  if (hello_of (sw, from) != MBI_HELLO_TOLD)
    note (sw, from, MBI_HELLO_REFUSED);
}

void
mbi_ring_forget_hello (Swarm *sw, MbNodeId from)
{
  if (sw->hellos)
    g_hash_table_remove (sw->hellos, GUINT_TO_POINTER (from));
}

gboolean
mb_peer_ring_serving_chunk (MbPeer *p, const char *chunk_id, MbNodeId from)
{
  for (guint k = 0; k < p->swarms->len; k++)
    {
      Swarm *sw = p->swarms->pdata[k];
      MbiHello h = sw->ring && sw->n_conns > 0 ? hello_of (sw, from) : 0;
      if (h != MBI_HELLO_ACCEPTED && h != MBI_HELLO_REFUSED)
        continue;
      for (guint i = 0; i < sw->n_pieces; i++)
        if (mb_bitfield_test (sw->have, i)
            && strcmp (mb_manifest_chunk_id (sw->manifest, i), chunk_id) == 0)
          {
            /* Sent to the swarm once; it asks again only after its swarm
             * stalled once more, and then we give it.  A refused node has
             * no connection with us (it may get the piece from the others
             * we serve); an accepted one may have lost its side of our
             * connection without our seeing it (its host dropped the link
             * to a member it took for crashed, and a new one took the old
             * one's place here): its swarm then waits on nothing of ours,
             * and refusing it for good left its fetch waiting for ever
             * (before, a refused node was sent there for good too). */
            note (sw, from, MBI_HELLO_TOLD);
            return TRUE;
          }
    }
  return FALSE;
}
