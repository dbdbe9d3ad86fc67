/* message.c — the message set: schema table, type names, and the life of an
 * MbMessage (new, free, copy, equality).
 *
 * Invariants:
 *  - the schema of a type never changes; fields a type does not use stay
 *    zero/NULL in messages built here, and equality ignores them;
 *  - a message owns everything it points at.  Its manifest is a reference
 *    that it unrefs on free; mb_message_copy takes a deep copy of the
 *    manifest (mb_manifest_copy), not a new reference, so sender and
 *    receiver never see each other's changes to holders;
 *  - for types whose schema has DATA but not LENGTH, `length` is the data
 *    size; with data == NULL ("virtual" content) it is the size charged.
 *
 * Schema (fields in wire order; see message.h for what each field means):
 *
 *   register         REQ COUNT FILE NAME ADDR  count = the file's blocks (for initial blocks)
 *   get_peers        REQ FILE NAME
 *   peer_list        REQ CODE COUNT FILE PEERS code = status, count = initial blocks
 *   leave            FILE NAME                 file "" = every swarm and the ring
 *   handshake        CODE FILE NAME ADDR MANIFEST  code 0 hello, 1 accept, 2 refuse, 3 goodbye;
 *                                          manifest: a ring fetcher's hello (peer-ring.c), else none
 *   bitfield         SWARM DATA
 *   have             PIECE SWARM
 *   interested, not_interested, choke, unchoke   SWARM
 *   request          PIECE OFFSET LENGTH SWARM
 *   piece            PIECE OFFSET SWARM DATA   length = data size
 *   cancel           PIECE OFFSET LENGTH SWARM
 *   store_chunk      REQ CHUNK_ID DATA          no data (length 0): a probe, "do you hold it?"
 *   store_manifest   REQ MANIFEST
 *   update_manifest  REQ FILE ADDR INDICES     addr = new holder, no indices = all chunks
 *   get_chunk        REQ CHUNK_ID
 *   get_manifest     REQ FILE
 *   ping             REQ
 *   leave_notice     NAME
 *   ok               REQ COUNT
 *   chunk            REQ CHUNK_ID DATA
 *   manifest         REQ MANIFEST
 *   pong             REQ NAME
 *   redirect         REQ ADDR
 *   error            REQ CODE TEXT
 *   hello            NAME ADDR                 transport: first frame on a connection
 *   pex              SWARM PEERS INDICES       swarm: peers the sender is connected to, and
 *                                              per peer its flags (1: a seed), as BEP 11's added.f
 *
 * register and get_peers carry REQ (not in message.h's comment) because
 * their reply, peer_list, echoes it.
 */
#include "wire/message.h"

#include <string.h>

#include "memsize.h"

typedef struct {
  const char *name;
  MbMsgFamily family;
  guint32 fields;
} TypeInfo;

static const TypeInfo types[MB_MSG_N_TYPES] = {
  [MB_MSG_NONE]            = { "none", MB_FAMILY_NONE, 0 },
  [MB_MSG_REGISTER]        = { "register", MB_FAMILY_TRACKER, MB_F_REQ | MB_F_COUNT | MB_F_FILE | MB_F_NAME | MB_F_ADDR },
  [MB_MSG_GET_PEERS]       = { "get_peers", MB_FAMILY_TRACKER, MB_F_REQ | MB_F_FILE | MB_F_NAME },
  [MB_MSG_PEER_LIST]       = { "peer_list", MB_FAMILY_TRACKER, MB_F_REQ | MB_F_CODE | MB_F_COUNT | MB_F_FILE | MB_F_PEERS },
  [MB_MSG_LEAVE]           = { "leave", MB_FAMILY_TRACKER, MB_F_FILE | MB_F_NAME },
  [MB_MSG_HANDSHAKE]       = { "handshake", MB_FAMILY_SWARM, MB_F_CODE | MB_F_FILE | MB_F_NAME | MB_F_ADDR | MB_F_MANIFEST },
  [MB_MSG_BITFIELD]        = { "bitfield", MB_FAMILY_SWARM, MB_F_SWARM | MB_F_DATA },
  [MB_MSG_HAVE]            = { "have", MB_FAMILY_SWARM, MB_F_PIECE | MB_F_SWARM },
  [MB_MSG_INTERESTED]      = { "interested", MB_FAMILY_SWARM, MB_F_SWARM },
  [MB_MSG_NOT_INTERESTED]  = { "not_interested", MB_FAMILY_SWARM, MB_F_SWARM },
  [MB_MSG_CHOKE]           = { "choke", MB_FAMILY_SWARM, MB_F_SWARM },
  [MB_MSG_UNCHOKE]         = { "unchoke", MB_FAMILY_SWARM, MB_F_SWARM },
  [MB_MSG_REQUEST]         = { "request", MB_FAMILY_SWARM, MB_F_PIECE | MB_F_OFFSET | MB_F_LENGTH | MB_F_SWARM },
  [MB_MSG_PIECE]           = { "piece", MB_FAMILY_SWARM, MB_F_PIECE | MB_F_OFFSET | MB_F_SWARM | MB_F_DATA },
  [MB_MSG_CANCEL]          = { "cancel", MB_FAMILY_SWARM, MB_F_PIECE | MB_F_OFFSET | MB_F_LENGTH | MB_F_SWARM },
  [MB_MSG_PEX]             = { "pex", MB_FAMILY_SWARM, MB_F_SWARM | MB_F_PEERS | MB_F_INDICES },
  [MB_MSG_STORE_CHUNK]     = { "store_chunk", MB_FAMILY_RING, MB_F_REQ | MB_F_CHUNK_ID | MB_F_DATA },
  [MB_MSG_STORE_MANIFEST]  = { "store_manifest", MB_FAMILY_RING, MB_F_REQ | MB_F_MANIFEST },
  [MB_MSG_UPDATE_MANIFEST] = { "update_manifest", MB_FAMILY_RING, MB_F_REQ | MB_F_FILE | MB_F_ADDR | MB_F_INDICES },
  [MB_MSG_GET_CHUNK]       = { "get_chunk", MB_FAMILY_RING, MB_F_REQ | MB_F_CHUNK_ID },
  [MB_MSG_GET_MANIFEST]    = { "get_manifest", MB_FAMILY_RING, MB_F_REQ | MB_F_FILE },
  [MB_MSG_PING]            = { "ping", MB_FAMILY_RING, MB_F_REQ },
  [MB_MSG_LEAVE_NOTICE]    = { "leave_notice", MB_FAMILY_RING, MB_F_NAME },
  [MB_MSG_OK]              = { "ok", MB_FAMILY_RING, MB_F_REQ | MB_F_COUNT },
  [MB_MSG_CHUNK]           = { "chunk", MB_FAMILY_RING, MB_F_REQ | MB_F_CHUNK_ID | MB_F_DATA },
  [MB_MSG_MANIFEST]        = { "manifest", MB_FAMILY_RING, MB_F_REQ | MB_F_MANIFEST },
  [MB_MSG_PONG]            = { "pong", MB_FAMILY_RING, MB_F_REQ | MB_F_NAME },
  [MB_MSG_REDIRECT]        = { "redirect", MB_FAMILY_RING, MB_F_REQ | MB_F_ADDR },
  [MB_MSG_ERROR]           = { "error", MB_FAMILY_RING, MB_F_REQ | MB_F_CODE | MB_F_TEXT },
  [MB_MSG_HELLO]           = { "hello", MB_FAMILY_TRANSPORT, MB_F_NAME | MB_F_ADDR },
  [MB_MSG_CHALLENGE]       = { "challenge", MB_FAMILY_TRANSPORT, MB_F_CODE | MB_F_DATA },
  [MB_MSG_PROOF]           = { "proof", MB_FAMILY_TRANSPORT, MB_F_DATA },
  [MB_MSG_DIALBACK]        = { "dialback", MB_FAMILY_TRANSPORT, MB_F_CODE | MB_F_DATA },
};

static const char *const err_names[MB_ERR_N_CODES] = {
  [MB_ERR_NONE]        = "none",
  [MB_ERR_NOT_FOUND]   = "not_found",
  [MB_ERR_BAD_REQUEST] = "bad_request",
  [MB_ERR_CHOKED]      = "choked",
  [MB_ERR_NOT_OWNER]   = "not_owner",
  [MB_ERR_VERIFY]      = "verify",
  [MB_ERR_LEAVING]     = "leaving",
  [MB_ERR_INTERNAL]    = "internal",
  [MB_ERR_NO_SPACE]    = "no_space",
  [MB_ERR_STALE]       = "stale",
};

/* ---- schema and names ---- */

gboolean
mb_message_type_valid (guint type)
{
  return type > MB_MSG_NONE && type < MB_MSG_N_TYPES;
}

guint32
mb_message_fields (MbMsgType type)
{
  return mb_message_type_valid (type) ? types[type].fields : 0;
}

MbMsgFamily
mb_message_family (MbMsgType type)
{
  return mb_message_type_valid (type) ? types[type].family : MB_FAMILY_NONE;
}

const char *
mb_message_type_name (MbMsgType type)
{
  return (guint) type < MB_MSG_N_TYPES ? types[type].name : "unknown";
}

const char *
mb_err_code_name (MbErrCode code)
{
  return (guint) code < MB_ERR_N_CODES ? err_names[code] : "unknown";
}

/* ---- life ---- */

/* Freed message records are kept, per thread, for the next ones (at most
 * CACHE_MAX; beyond that they go back to malloc): the simulator makes and
 * frees one per message sent, and with several ranks a message is made on
 * the sender's thread and freed on the receiver's, so glibc's own per-thread
 * cache (7 blocks of a size) keeps overflowing into the arena, under its
 * lock (minibit-sim runs every thread on one arena: sim/cli.c).  Here a
 * thread reuses what it freed, whoever made it.  A thread's cache is freed
 * when the thread exits (GPrivate's notify).  Off under AddressSanitizer,
 * which then sees every message's own life. */
#if defined(__SANITIZE_ADDRESS__)
#define CACHE_MAX 0u
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CACHE_MAX 0u
#endif
#endif
#ifndef CACHE_MAX
#define CACHE_MAX 4096u
#endif

typedef struct {
  gpointer head;  /* a freed record's first word links the next */
  guint n;
  gboolean registered;
} MsgCache;

static _Thread_local MsgCache msg_cache;

static void
msg_cache_drain (gpointer data)
{
  MsgCache *c = data;
  while (c->head != NULL)
    {
      gpointer next;
      memcpy (&next, c->head, sizeof next);
      g_free (c->head);
      c->head = next;
    }
  c->n = 0;
  c->registered = FALSE;
}

static GPrivate msg_cache_key = G_PRIVATE_INIT (msg_cache_drain);

G_STATIC_ASSERT (sizeof (MbMessage) >= sizeof (gpointer));

static MbMessage *
msg_alloc (void)
{
  MsgCache *c = &msg_cache;
  if (c->head == NULL)
    return g_new0 (MbMessage, 1);
  MbMessage *msg = c->head;
  memcpy (&c->head, msg, sizeof c->head);
  c->n--;
  memset (msg, 0, sizeof *msg);
  return msg;
}

static void
msg_release (MbMessage *msg)
{
  MsgCache *c = &msg_cache;
  if (c->n >= CACHE_MAX)
    {
      g_free (msg);
      return;
    }
  if (!c->registered)
    {
      g_private_set (&msg_cache_key, c);
      c->registered = TRUE;
    }
  memcpy (msg, &c->head, sizeof c->head);
  c->head = msg;
  c->n++;
}

MbMessage *
mb_message_new (MbMsgType type)
{
  g_return_val_if_fail ((guint) type < MB_MSG_N_TYPES, NULL);
  MbMessage *msg = msg_alloc ();
  msg->type = type;
  return msg;
}

static void
peers_free (MbPeerInfo *peers, guint n)
{
  for (guint k = 0; k < n; k++)
    {
      g_free (peers[k].name);
      g_free (peers[k].addr);
    }
  g_free (peers);
}

void
mb_message_free (MbMessage *msg)
{
  if (msg == NULL)
    return;
  /* Most messages (have, request, piece) own none of these: test before
   * calling out. */
  if (msg->file || msg->name || msg->addr || msg->chunk_id || msg->text)
    {
      g_free (msg->file);
      g_free (msg->name);
      g_free (msg->addr);
      g_free (msg->chunk_id);
      g_free (msg->text);
    }
  if (msg->data)
    g_bytes_unref (msg->data);
  if (msg->manifest)
    mb_manifest_unref (msg->manifest);
  if (msg->peers)
    peers_free (msg->peers, msg->n_peers);
  if (msg->indices)
    g_free (msg->indices);
  msg_release (msg);
}

static gsize
str_heap_bytes (const char *s)
{
  return s ? mb_memsize (s, strlen (s) + 1) : 0;
}

gsize
mb_message_heap_bytes (const MbMessage *msg)
{
  if (msg == NULL)
    return 0;
  gsize bytes = mb_memsize (msg, sizeof *msg) + str_heap_bytes (msg->file)
                + str_heap_bytes (msg->name) + str_heap_bytes (msg->addr)
                + str_heap_bytes (msg->chunk_id) + str_heap_bytes (msg->text)
                + mb_memsize_bytes (msg->data) + mb_manifest_memory (msg->manifest)
                + mb_memsize (msg->peers, msg->n_peers * sizeof (MbPeerInfo))
                + mb_memsize (msg->indices, msg->n_indices * sizeof (guint32));
  for (guint k = 0; k < msg->n_peers; k++)
    bytes += str_heap_bytes (msg->peers[k].name) + str_heap_bytes (msg->peers[k].addr);
  return bytes;
}

void
mb_message_set_peers (MbMessage *msg, const MbPeerInfo *peers, guint n)
{
  g_return_if_fail (msg != NULL && (peers != NULL || n == 0));
  MbPeerInfo *copy = n ? g_new0 (MbPeerInfo, n) : NULL;
  for (guint k = 0; k < n; k++)
    {
      copy[k].name = g_strdup (peers[k].name);
      copy[k].addr = g_strdup (peers[k].addr);
    }
  peers_free (msg->peers, msg->n_peers);
  msg->peers = copy;
  msg->n_peers = n;
}

void
mb_message_set_indices (MbMessage *msg, const guint32 *indices, guint n)
{
  g_return_if_fail (msg != NULL && (indices != NULL || n == 0));
  guint32 *copy = n ? g_new (guint32, n) : NULL;
  if (n)
    memcpy (copy, indices, n * sizeof (guint32));
  g_free (msg->indices);
  msg->indices = copy;
  msg->n_indices = n;
}

MbMessage *
mb_message_copy (const MbMessage *msg)
{
  g_return_val_if_fail (msg != NULL, NULL);
  MbMessage *c = msg_alloc ();
  *c = *msg;
  c->file = g_strdup (msg->file);
  c->name = g_strdup (msg->name);
  c->addr = g_strdup (msg->addr);
  c->chunk_id = g_strdup (msg->chunk_id);
  c->text = g_strdup (msg->text);
  c->data = msg->data ? g_bytes_ref (msg->data) : NULL;  /* immutable: share */
  c->manifest = msg->manifest ? mb_manifest_copy (msg->manifest) : NULL;
  c->peers = NULL;
  c->n_peers = 0;
  c->indices = NULL;
  c->n_indices = 0;
  mb_message_set_peers (c, msg->peers, msg->n_peers);
  mb_message_set_indices (c, msg->indices, msg->n_indices);
  return c;
}

/* ---- equality ---- */

/* NULL and "" are the same string (the wire does not tell them apart). */
static gboolean
str_eq (const char *a, const char *b)
{
  return g_strcmp0 (a ? a : "", b ? b : "") == 0;
}

static gsize
data_len (const MbMessage *m)
{
  return m->data ? g_bytes_get_size (m->data) : m->length;
}

/* Real data equal byte for byte; virtual data (NULL) equals only virtual data
 * of the same length; empty equals empty whatever its kind. */
static gboolean
data_eq (const MbMessage *a, const MbMessage *b)
{
  if (data_len (a) != data_len (b))
    return FALSE;
  if (data_len (a) == 0)
    return TRUE;
  if (a->data == NULL || b->data == NULL)
    return a->data == b->data;
  return g_bytes_equal (a->data, b->data);
}

static gboolean
peers_eq (const MbMessage *a, const MbMessage *b)
{
  if (a->n_peers != b->n_peers)
    return FALSE;
  for (guint k = 0; k < a->n_peers; k++)
    if (!str_eq (a->peers[k].name, b->peers[k].name)
        || !str_eq (a->peers[k].addr, b->peers[k].addr))
      return FALSE;
  return TRUE;
}

static gboolean
indices_eq (const MbMessage *a, const MbMessage *b)
{
  return a->n_indices == b->n_indices
         && (a->n_indices == 0
             || memcmp (a->indices, b->indices, a->n_indices * sizeof (guint32)) == 0);
}

static gboolean
ints_eq (guint32 f, const MbMessage *a, const MbMessage *b)
{
  return (!(f & MB_F_REQ) || a->req == b->req)
         && (!(f & MB_F_CODE) || a->code == b->code)
         && (!(f & MB_F_PIECE) || a->piece == b->piece)
         && (!(f & MB_F_OFFSET) || a->offset == b->offset)
         && (!(f & MB_F_LENGTH) || a->length == b->length)
         && (!(f & MB_F_COUNT) || a->count == b->count)
         && (!(f & MB_F_SWARM) || a->swarm == b->swarm);
}

static gboolean
strings_eq (guint32 f, const MbMessage *a, const MbMessage *b)
{
  return (!(f & MB_F_FILE) || str_eq (a->file, b->file))
         && (!(f & MB_F_NAME) || str_eq (a->name, b->name))
         && (!(f & MB_F_ADDR) || str_eq (a->addr, b->addr))
         && (!(f & MB_F_CHUNK_ID) || str_eq (a->chunk_id, b->chunk_id))
         && (!(f & MB_F_TEXT) || str_eq (a->text, b->text));
}

gboolean
mb_message_equal (const MbMessage *a, const MbMessage *b)
{
  if (a == b)
    return TRUE;
  if (a == NULL || b == NULL || a->type != b->type)
    return FALSE;
  guint32 f = mb_message_fields (a->type);
  return ints_eq (f, a, b) && strings_eq (f, a, b)
         && (!(f & MB_F_DATA) || data_eq (a, b))
         && (!(f & MB_F_MANIFEST) || mb_manifest_equal (a->manifest, b->manifest))
         && (!(f & MB_F_PEERS) || peers_eq (a, b))
         && (!(f & MB_F_INDICES) || indices_eq (a, b));
}
