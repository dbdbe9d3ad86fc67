/* ringpeer-serve.c — the ring peer's server side: what it does with a
 * request from another peer (store_chunk, store_manifest, update_manifest,
 * get_chunk, get_manifest, ping, leave_notice).  Answers go straight back
 * (no window, no timeout: only requests we send have those).
 *
 * Server rules:
 *  - a chunk is stored only if its content matches its id (real content);
 *  - a manifest is stored only if it validates; one that arrives for a name
 *    already held follows mb_manifest_order: the same version and content is
 *    merged (holders united, so concurrent updates keep every new holder), a
 *    newer version replaces, an older one is refused (MB_ERR_STALE, saying
 *    both versions), and of two equal versions of different contents the
 *    higher content hash is kept on every holder, the other refused;
 *  - a STORE_CHUNK without data (length 0; no chunk is empty) is a probe:
 *    OK if the chunk is here, NOT_FOUND if not, LEAVING from a leaver (a
 *    graceful leave asks the owners that stay this way, data only to those
 *    that lack it);
 *  - a manifest asked of a peer that neither holds it nor owns it in its
 *    own view gets REDIRECT to the owner in that view;
 *  - a leaving peer takes nothing new (its hand-off has scanned its store);
 *  - a chunk we serve through its swarm to the asker (mb_peer_ring_serving_chunk:
 *    a ring swarm with connections holds it, and the asker has a connection
 *    in it, or its hello was refused and it was not told so yet) is refused
 *    as choked: the uplink goes to the swarm first, and the asker gets it
 *    there (a repair's or a plain fetch's GET_CHUNK is served, and so is a
 *    refused asker's once it was told).
 * Refused input is counted in the stats and leaves the store unchanged.
 */
#define MB_RING_PEER_INTERNAL
#include "ring/ringpeer-private.h"

#include <string.h>

#include "content/chunk.h"

static void
reply (MbRingPeer *rp, MbNodeId to, MbMessage *m)
{
  mb_host_send (rp->host, rp->self, to, m);
}

static void
reply_error (MbRingPeer *rp, MbNodeId to, guint32 req, MbErrCode code, const char *text)
{
  MbMessage *m = mb_message_new (MB_MSG_ERROR);
  m->req = req;
  m->code = code;
  m->text = g_strdup (text);
  reply (rp, to, m);
}

/* The reply code for a store that failed to keep something. */
static MbErrCode
store_failure_code (const GError *err)
{
  return g_error_matches (err, MB_STORE_ERROR, MB_STORE_ERROR_NO_SPACE) ? MB_ERR_NO_SPACE
                                                                        : MB_ERR_INTERNAL;
}

static void
reply_ok (MbRingPeer *rp, MbNodeId to, guint32 req, guint32 count)
{
  MbMessage *m = mb_message_new (MB_MSG_OK);
  m->req = req;
  m->count = count;
  reply (rp, to, m);
}

static void
on_store_chunk (MbRingPeer *rp, MbNodeId from, const MbMessage *msg)
{
  if (rp->leaving)
    {
      /* Our own hand-off has scanned the store already: take nothing new. */
      reply_error (rp, from, msg->req, MB_ERR_LEAVING, "leaving the ring");
      return;
    }
  guint32 len = msg->data ? (guint32) g_bytes_get_size (msg->data) : msg->length;
  if (!msg->chunk_id || !mb_chunk_id_is_valid (msg->chunk_id))
    {
      rp->stats.refused_chunks++;
      reply_error (rp, from, msg->req, MB_ERR_BAD_REQUEST, "store_chunk: malformed chunk id");
      return;
    }
  if (len == 0)
    {
      /* A probe: do we hold it? */
      if (mb_store_has_chunk (rp->store, msg->chunk_id))
        reply_ok (rp, from, msg->req, 1);
      else
        reply_error (rp, from, msg->req, MB_ERR_NOT_FOUND, "store_chunk probe: not here");
      return;
    }
  if (msg->data && !rp->cfg.virtual_content && !rp->store->verifies_puts)
    {
      char got[65];
      gsize n;
      const guint8 *bytes = g_bytes_get_data (msg->data, &n);
      mb_chunk_id_compute (bytes, n, got);
      if (strcmp (got, msg->chunk_id) != 0)
        {
          rp->stats.refused_chunks++;
          reply_error (rp, from, msg->req, MB_ERR_VERIFY,
                       "store_chunk: content does not match its id");
          return;
        }
    }
  else if (!msg->data && !rp->cfg.virtual_content)
    {
      rp->stats.refused_chunks++;
      reply_error (rp, from, msg->req, MB_ERR_BAD_REQUEST, "store_chunk: no content");
      return;
    }
  g_autoptr (GError) err = NULL;
  if (!mb_store_put_chunk (rp->store, msg->chunk_id, rp->cfg.virtual_content ? NULL : msg->data,
                           len, &err))
    {
      gboolean bad = g_error_matches (err, MB_STORE_ERROR, MB_STORE_ERROR_INVALID);
      if (bad)
        rp->stats.refused_chunks++;
      reply_error (rp, from, msg->req, bad ? MB_ERR_VERIFY : store_failure_code (err),
                   bad ? "store_chunk: content does not match its id" : err->message);
      return;
    }
  rp->stats.requests_served++;
  reply_ok (rp, from, msg->req, 1);
}

static gchar *
short_hash (const MbManifest *m)
{
  char h[65];
  mb_manifest_content_hash (m, h);
  return g_strndup (h, 12);
}

MbErrCode
mbi_rp_accept_manifest (MbRingPeer *rp, const MbManifest *m, gchar **why)
{
  g_autoptr (GError) err = NULL;
  if (!mb_manifest_validate (m, &err))
    {
      rp->stats.refused_manifests++;
      if (why)
        *why = g_strdup (err->message);
      return MB_ERR_BAD_REQUEST;
    }
  const char *name = mb_manifest_name (m);
  g_autoptr (MbManifest) have = mb_store_get_manifest (rp->store, name);
  MbManifestOrder o = have ? mb_manifest_order (have, m) : MB_MANIFEST_NEWER;
  if (o == MB_MANIFEST_CONFLICT_WINS || o == MB_MANIFEST_CONFLICT_LOSES)
    rp->stats.conflicts++;
  if (o == MB_MANIFEST_OLDER || o == MB_MANIFEST_CONFLICT_LOSES)
    {
      rp->stats.stale_refused++;
      if (why)
        {
          g_autofree gchar *hm = short_hash (m), *hh = short_hash (have);
          *why = o == MB_MANIFEST_OLDER
            ? g_strdup_printf ("stale: %s version %" G_GUINT64_FORMAT " is older than the "
                               "version %" G_GUINT64_FORMAT " held here", name,
                               mb_manifest_version (m), mb_manifest_version (have))
            : g_strdup_printf ("conflict: %s version %" G_GUINT64_FORMAT " (content %s...) "
                               "loses to the version %" G_GUINT64_FORMAT " held here (content "
                               "%s...): of equal versions the higher content hash is kept",
                               name, mb_manifest_version (m), hm, mb_manifest_version (have), hh);
        }
      return MB_ERR_STALE;
    }
  g_autoptr (MbManifest) kept = mb_manifest_copy (o == MB_MANIFEST_SAME ? have : m);
  if (o == MB_MANIFEST_SAME && mb_manifest_merge (kept, m, &err) < 0)
    {
      rp->stats.refused_manifests++;
      if (why)
        *why = g_strdup (err->message);
      return MB_ERR_BAD_REQUEST;
    }
  if (have)
    mbi_rp_prune_gone (rp, kept);
  if (!mb_store_put_manifest (rp->store, kept, &err))
    {
      if (why)
        *why = g_strdup (err->message);
      return store_failure_code (err);
    }
  return MB_ERR_NONE;
}

static void
on_store_manifest (MbRingPeer *rp, MbNodeId from, const MbMessage *msg)
{
  if (rp->leaving)
    {
      reply_error (rp, from, msg->req, MB_ERR_LEAVING, "leaving the ring");
      return;
    }
  if (!msg->manifest)
    {
      rp->stats.refused_manifests++;
      reply_error (rp, from, msg->req, MB_ERR_BAD_REQUEST, "store_manifest: no manifest");
      return;
    }
  g_autofree gchar *why = NULL;
  MbErrCode code = mbi_rp_accept_manifest (rp, msg->manifest, &why);
  if (code != MB_ERR_NONE)
    {
      reply_error (rp, from, msg->req, code, why);
      return;
    }
  rp->stats.requests_served++;
  reply_ok (rp, from, msg->req, 1);
}

static gboolean
owns (MbRingPeer *rp, const char *key)
{
  g_auto (MbiOwners) owners = { 0 };
  mbi_owners_init (&owners, rp->view, key, rp->cfg.replication);
  return mbi_owners_has (&owners, rp->addr);
}

/* Points the asker at the owner in our view; if we are that owner and lack
 * the key (we have just joined), at the next member, which had it before. */
static void
redirect (MbRingPeer *rp, MbNodeId from, guint32 req, const char *key)
{
  g_auto (MbiOwners) owners = { 0 };
  mbi_owners_init (&owners, rp->view, key, rp->cfg.replication + 1);
  const char *to = NULL;
  for (guint k = 0; k < owners.n && !to; k++)
    if (!mbi_rp_is_self (rp, owners.names[k]))
      to = owners.names[k];
  if (!to)
    {
      reply_error (rp, from, req, MB_ERR_NOT_FOUND, "no other member in view");
      return;
    }
  rp->stats.redirects_sent++;
  MbMessage *m = mb_message_new (MB_MSG_REDIRECT);
  m->req = req;
  m->addr = g_strdup (to);
  reply (rp, from, m);
}

static void
on_update_manifest (MbRingPeer *rp, MbNodeId from, const MbMessage *msg)
{
  g_autoptr (MbManifest) m = msg->file ? mb_store_get_manifest (rp->store, msg->file) : NULL;
  if (!m)
    {
      if (msg->file && !owns (rp, msg->file))
        redirect (rp, from, msg->req, msg->file);
      else
        reply_error (rp, from, msg->req, MB_ERR_NOT_FOUND, "update_manifest: no such manifest");
      return;
    }
  if (!msg->addr || !*msg->addr)
    {
      reply_error (rp, from, msg->req, MB_ERR_BAD_REQUEST, "update_manifest: no holder");
      return;
    }
  for (guint k = 0; k < msg->n_indices; k++)
    if (msg->indices[k] >= mb_manifest_n_chunks (m))
      {
        rp->stats.refused_manifests++;
        reply_error (rp, from, msg->req, MB_ERR_BAD_REQUEST, "update_manifest: chunk index out of range");
        return;
      }
  g_autoptr (MbManifest) updated = mb_manifest_copy (m);
  guint added = 0;
  if (msg->n_indices == 0)
    for (guint i = 0; i < mb_manifest_n_chunks (updated); i++)
      added += mb_manifest_add_holder (updated, i, msg->addr);
  else
    for (guint k = 0; k < msg->n_indices; k++)
      added += mb_manifest_add_holder (updated, msg->indices[k], msg->addr);
  g_autoptr (GError) err = NULL;
  if (added > 0 && !mb_store_put_manifest (rp->store, updated, &err))
    {
      /* the stored manifest is unchanged: say so rather than "added" */
      reply_error (rp, from, msg->req, store_failure_code (err), err->message);
      return;
    }
  rp->stats.requests_served++;
  reply_ok (rp, from, msg->req, added);
}

static void
on_get_chunk (MbRingPeer *rp, MbNodeId from, const MbMessage *msg)
{
  GBytes *data = NULL;
  guint32 len = 0;
  if (!msg->chunk_id || !mb_store_get_chunk (rp->store, msg->chunk_id, &data, &len, NULL))
    {
      reply_error (rp, from, msg->req, MB_ERR_NOT_FOUND, "get_chunk: not here");
      return;
    }
  if (rp->swarm && mb_peer_ring_serving_chunk (rp->swarm, msg->chunk_id, from))
    {
      /* One system: our uplink goes to the chunk's swarm first, where each
       * piece we send is passed on; the asker gets it there (op-fetch.c). */
      if (data)
        g_bytes_unref (data);
      reply_error (rp, from, msg->req, MB_ERR_CHOKED, "get_chunk: served through its swarm");
      return;
    }
  MbMessage *m = mb_message_new (MB_MSG_CHUNK);
  m->req = msg->req;
  m->chunk_id = g_strdup (msg->chunk_id);
  m->data = data;
  m->length = len;
  rp->stats.requests_served++;
  reply (rp, from, m);
}

static void
on_get_manifest (MbRingPeer *rp, MbNodeId from, const MbMessage *msg)
{
  MbManifest *m = msg->file ? mb_store_get_manifest (rp->store, msg->file) : NULL;
  if (!m)
    {
      if (msg->file)
        redirect (rp, from, msg->req, msg->file);
      else
        reply_error (rp, from, msg->req, MB_ERR_BAD_REQUEST, "get_manifest: no name");
      return;
    }
  MbMessage *r = mb_message_new (MB_MSG_MANIFEST);
  r->req = msg->req;
  r->manifest = m; /* our reference moves into the message */
  rp->stats.requests_served++;
  reply (rp, from, r);
}

gboolean
mbi_rp_serve (MbRingPeer *rp, MbNodeId from, const MbMessage *msg, guint64 now)
{
  switch (msg->type)
    {
    case MB_MSG_STORE_CHUNK: on_store_chunk (rp, from, msg); return TRUE;
    case MB_MSG_STORE_MANIFEST: on_store_manifest (rp, from, msg); return TRUE;
    case MB_MSG_UPDATE_MANIFEST: on_update_manifest (rp, from, msg); return TRUE;
    case MB_MSG_GET_CHUNK: on_get_chunk (rp, from, msg); return TRUE;
    case MB_MSG_GET_MANIFEST: on_get_manifest (rp, from, msg); return TRUE;
    case MB_MSG_PING:
      {
        MbMessage *m = mb_message_new (MB_MSG_PONG);
        m->req = msg->req;
        m->name = g_strdup (rp->addr);
        reply (rp, from, m);
        return TRUE;
      }
    case MB_MSG_LEAVE_NOTICE:
      if (msg->name && mb_ring_contains (rp->view, msg->name) && !mbi_rp_is_self (rp, msg->name))
        {
          /* A graceful leave: it handed its keys over; nothing to repair. */
          g_autoptr (MbRing) v = mb_ring_without_member (rp->view, msg->name);
          mb_ringpeer_set_view (rp, v, FALSE, now);
        }
      return TRUE;
    default:
      return FALSE; /* a reply */
    }
}
