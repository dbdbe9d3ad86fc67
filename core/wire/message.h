/* message.h — the one message set of minibit: tracker, swarm and ring.
 *
 * A message is a flat struct: a type plus the fields that type uses. Which
 * fields a type uses is fixed by a schema (mb_message_fields), and the codec
 * encodes exactly those fields, in a fixed order. Fields a type does not use
 * are zero/NULL.
 *
 * Ownership: an MbMessage owns its strings, data, manifest and arrays;
 * mb_message_free releases them all.  Messages are heap objects so the
 * simulator can pass them by reference from sender to receiver.
 *
 * PIECE and CHUNK data may be NULL in the simulator ("virtual" content,
 * generated from (file, chunk, offset) and never held); then `length` gives
 * the size that the codec charges.  A message with virtual data cannot be
 * encoded to bytes, only sized.
 */
#pragma once

#include <glib.h>

#include "content/manifest.h"

G_BEGIN_DECLS

typedef enum {
  MB_MSG_NONE = 0,
  /* tracker */
  MB_MSG_REGISTER = 1,   /* req file name=peer_id addr=listen count=file's blocks -> PEER_LIST */
  MB_MSG_GET_PEERS,      /* req file name=peer_id                                -> PEER_LIST */
  MB_MSG_PEER_LIST,      /* req file code=status count=initial_blocks peers      */
  MB_MSG_LEAVE,          /* name=peer_id file (empty: every swarm and the ring)   */
  /* swarm (BEP 3); every one but HANDSHAKE also carries `swarm` */
  MB_MSG_HANDSHAKE,      /* file name=peer_id addr code=0 hello / 1 accept / 2 refuse,
                            manifest (a ring fetcher's hello; else none) */
  MB_MSG_BITFIELD,       /* swarm data = bitfield wire bytes                     */
  MB_MSG_HAVE,           /* swarm piece                                          */
  MB_MSG_INTERESTED,     /* swarm                                                */
  MB_MSG_NOT_INTERESTED, /* swarm                                                */
  MB_MSG_CHOKE,          /* swarm                                                */
  MB_MSG_UNCHOKE,        /* swarm                                                */
  MB_MSG_REQUEST,        /* swarm piece offset length                            */
  MB_MSG_PIECE,          /* swarm piece offset data (length = data size)         */
  MB_MSG_CANCEL,         /* swarm piece offset length                            */
  /* ring */
  MB_MSG_STORE_CHUNK,    /* req chunk_id data                        -> OK/ERROR  */
  MB_MSG_STORE_MANIFEST, /* req manifest                             -> OK/ERROR  */
  MB_MSG_UPDATE_MANIFEST,/* req file addr=holder indices (empty: all) -> OK/ERROR */
  MB_MSG_GET_CHUNK,      /* req chunk_id                        -> CHUNK/ERROR    */
  MB_MSG_GET_MANIFEST,   /* req file                            -> MANIFEST/ERROR */
  MB_MSG_PING,           /* req                                 -> PONG          */
  MB_MSG_LEAVE_NOTICE,   /* name=member leaving the ring                         */
  /* replies */
  MB_MSG_OK,             /* req count (e.g. items accepted)                      */
  MB_MSG_CHUNK,          /* req chunk_id data                                    */
  MB_MSG_MANIFEST,       /* req manifest                                         */
  MB_MSG_PONG,           /* req name=member                                      */
  MB_MSG_REDIRECT,       /* req addr=owner in the sender's view                  */
  MB_MSG_ERROR,          /* req code text                                        */
  /* transport */
  MB_MSG_HELLO,          /* name addr=listen: first frame on every TCP connection,
                            so both ends map it to one node; never reaches the core */
  /* later additions (types are never renumbered) */
  MB_MSG_PEX,            /* swarm peers indices: some peers the sender is connected to, and
                            per peer its flags (MB_PEX_SEED), as BEP 11's added.f */
  /* transport: the handshake after HELLO (real/transport-auth.c); never reach the core */
  MB_MSG_CHALLENGE,      /* code=MB_CHALLENGE_* flags data=the sender's fresh nonce (32 bytes) */
  MB_MSG_PROOF,          /* data=HMAC-SHA-256 over both nonces, the sender's address and
                            role, keyed by the cluster secret (empty without one) */
  MB_MSG_DIALBACK,       /* code=MB_DIALBACK_* data=dialler nonce || acceptor nonce of the
                            connection asked about (64 bytes) */
  MB_MSG_N_TYPES
} MbMsgType;

/* Which part of the system a message belongs to: the table in message.c
 * says it for every type, and drivers dispatch on it.  The replies (ok,
 * chunk, manifest, pong, redirect, error) are the ring's; the tracker's
 * error replies reuse MB_MSG_ERROR. */
typedef enum {
  MB_FAMILY_NONE = 0,
  MB_FAMILY_TRACKER,
  MB_FAMILY_SWARM,
  MB_FAMILY_RING,
  MB_FAMILY_TRANSPORT,   /* hello, challenge, proof, dialback: never reach the core */
} MbMsgFamily;

/* CHALLENGE flags. */
#define MB_CHALLENGE_PROBE 1u   /* a dial-back connection: it only asks DIALBACK questions */
#define MB_CHALLENGE_SECRET 2u  /* the sender holds a cluster secret */
#define MB_CHALLENGE_CLIENT 4u  /* the sender is a ring client (minibit-peer --client):
                                   never to be taken for a ring member */

/* DIALBACK codes. */
#define MB_DIALBACK_ASK 0u      /* did you dial me, with these nonces? */
#define MB_DIALBACK_YES 1u
#define MB_DIALBACK_NO 2u

/* HANDSHAKE codes. */
#define MB_HANDSHAKE_HELLO 0u
#define MB_HANDSHAKE_ACCEPT 1u
#define MB_HANDSHAKE_REFUSE 2u
#define MB_HANDSHAKE_GOODBYE 3u  /* the sender closed our connection in that swarm
                                    (a host whose connections carry more than the swarm) */

/* PEX flags, one per listed peer (in `indices`). */
#define MB_PEX_SEED 1u   /* it holds the whole file */

/* Error codes carried by MB_MSG_ERROR (and MB_MSG_PEER_LIST's status). */
typedef enum {
  MB_ERR_NONE = 0,
  MB_ERR_NOT_FOUND,
  MB_ERR_BAD_REQUEST,
  MB_ERR_CHOKED,
  MB_ERR_NOT_OWNER,
  MB_ERR_VERIFY,       /* content does not match its id */
  MB_ERR_LEAVING,
  MB_ERR_INTERNAL,
  MB_ERR_NO_SPACE,     /* the store is out of disk space (appended: codes are never renumbered) */
  MB_ERR_STALE,        /* a manifest older than the one held, or the losing side of
                          two equal versions (appended) */
  MB_ERR_N_CODES
} MbErrCode;

/* Fields, as bits of a schema.  The codec writes present fields in this order. */
typedef enum {
  MB_F_REQ      = 1u << 0,  /* u32 */
  MB_F_CODE     = 1u << 1,  /* u32 */
  MB_F_PIECE    = 1u << 2,  /* u32 */
  MB_F_OFFSET   = 1u << 3,  /* u32 */
  MB_F_LENGTH   = 1u << 4,  /* u32 */
  MB_F_COUNT    = 1u << 5,  /* u32 */
  MB_F_FILE     = 1u << 6,  /* string: swarm / file name */
  MB_F_NAME     = 1u << 7,  /* string: peer id / member name */
  MB_F_ADDR     = 1u << 8,  /* string: host:port */
  MB_F_CHUNK_ID = 1u << 9,  /* string: 64 lowercase hex digits */
  MB_F_TEXT     = 1u << 10, /* string: human-readable */
  MB_F_DATA     = 1u << 11, /* bytes */
  MB_F_MANIFEST = 1u << 12, /* manifest, binary form */
  MB_F_PEERS    = 1u << 13, /* list of (name, addr) */
  MB_F_INDICES  = 1u << 14, /* list of u32 */
  MB_F_SWARM    = 1u << 15, /* u32: swarm id = low 32 bits of mb_ring_hash (file name);
                               carried by every swarm message after HANDSHAKE */
} MbField;

typedef struct {
  gchar *name;  /* peer id */
  gchar *addr;  /* host:port */
} MbPeerInfo;

typedef struct {
  MbMsgType type;
  guint32 req;
  guint32 code;
  guint32 piece;
  guint32 offset;
  guint32 length;
  guint32 count;
  guint32 swarm;
  gchar *file;
  gchar *name;
  gchar *addr;
  gchar *chunk_id;
  gchar *text;
  GBytes *data;          /* may be NULL (virtual) for PIECE and CHUNK */
  MbManifest *manifest;  /* a reference */
  MbPeerInfo *peers;
  guint n_peers;
  guint32 *indices;
  guint n_indices;
} MbMessage;

MbMessage *mb_message_new (MbMsgType type);
void mb_message_free (MbMessage *msg);
MbMessage *mb_message_copy (const MbMessage *msg);
/* The heap bytes msg holds (memsize.h: its record, strings, lists, data; a
 * manifest it refers to, its share): memory reports. */
gsize mb_message_heap_bytes (const MbMessage *msg);
/* Deep equality of the fields the type uses (tests). */
gboolean mb_message_equal (const MbMessage *a, const MbMessage *b);

guint32 mb_message_fields (MbMsgType type);     /* schema; 0 for unknown types */
const char *mb_message_type_name (MbMsgType type); /* "piece", "store_chunk", ... */
MbMsgFamily mb_message_family (MbMsgType type);   /* MB_FAMILY_NONE for unknown types */
gboolean mb_message_type_valid (guint type);
const char *mb_err_code_name (MbErrCode code);

/* Helpers that set owned fields (take a copy of the string). */
void mb_message_set_peers (MbMessage *msg, const MbPeerInfo *peers, guint n);
void mb_message_set_indices (MbMessage *msg, const guint32 *indices, guint n);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MbMessage, mb_message_free)

G_END_DECLS
