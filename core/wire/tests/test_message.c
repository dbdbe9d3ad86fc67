/* test_message.c — the message set: schema table, type and error names,
 * copy, equality (field by field), and the owned-array setters. */
#include <string.h>

#include "wire/message.h"

static MbManifest *
small_manifest (void)
{
  MbManifest *m = mb_manifest_new ("f.bin", 10, 4, NULL);
  for (guint i = 0; i < 3; i++)
    {
      guint8 b = (guint8) i;
      g_autofree gchar *id = g_compute_checksum_for_data (G_CHECKSUM_SHA256, &b, 1);
      mb_manifest_set_chunk (m, i, id, i * 7u, NULL);
    }
  mb_manifest_add_holder (m, 1, "peer1:5000");
  return m;
}

/* A message of type t with a value in every field of its schema. */
static MbMessage *
full_message (MbMsgType t)
{
  MbMessage *m = mb_message_new (t);
  guint32 f = mb_message_fields (t);
  if (f & MB_F_REQ) m->req = 77;
  if (f & MB_F_CODE) m->code = MB_ERR_NOT_OWNER;
  if (f & MB_F_PIECE) m->piece = 5;
  if (f & MB_F_OFFSET) m->offset = 16384;
  if (f & MB_F_LENGTH) m->length = 16384;
  if (f & MB_F_COUNT) m->count = 42;
  if (f & MB_F_FILE) m->file = g_strdup ("test_file_large.txt");
  if (f & MB_F_NAME) m->name = g_strdup ("peer1");
  if (f & MB_F_ADDR) m->addr = g_strdup ("127.0.0.1:5001");
  if (f & MB_F_CHUNK_ID) m->chunk_id = g_compute_checksum_for_string (G_CHECKSUM_SHA256, "x", 1);
  if (f & MB_F_TEXT) m->text = g_strdup ("not the owner");
  if (f & MB_F_DATA)
    {
      m->data = g_bytes_new_static ("some bytes", 10);
      m->length = 10;
    }
  if (f & MB_F_MANIFEST) m->manifest = small_manifest ();
  if (f & MB_F_PEERS)
    {
      const MbPeerInfo peers[] = { { "p1", "10.0.0.1:1" }, { "p2", "10.0.0.2:2" } };
      mb_message_set_peers (m, peers, G_N_ELEMENTS (peers));
    }
  if (f & MB_F_INDICES)
    {
      const guint32 idx[] = { 0, 3, 9 };
      mb_message_set_indices (m, idx, G_N_ELEMENTS (idx));
    }
  return m;
}

/* Changes the field `bit` of m so that it differs from before. */
static void
mutate (MbMessage *m, guint32 bit)
{
  switch (bit)
    {
    case MB_F_REQ: m->req++; break;
    case MB_F_CODE: m->code++; break;
    case MB_F_PIECE: m->piece++; break;
    case MB_F_OFFSET: m->offset++; break;
    case MB_F_LENGTH: m->length++; break;
    case MB_F_COUNT: m->count++; break;
    case MB_F_FILE: g_free (m->file); m->file = g_strdup ("other"); break;
    case MB_F_NAME: g_free (m->name); m->name = g_strdup ("other"); break;
    case MB_F_ADDR: g_free (m->addr); m->addr = g_strdup ("other"); break;
    case MB_F_CHUNK_ID: m->chunk_id[0] = m->chunk_id[0] == 'a' ? 'b' : 'a'; break;
    case MB_F_TEXT: g_free (m->text); m->text = g_strdup ("other"); break;
    case MB_F_DATA:
      g_bytes_unref (m->data);
      m->data = g_bytes_new_static ("some bytez", 10);
      break;
    case MB_F_MANIFEST: mb_manifest_add_holder (m->manifest, 0, "new:1"); break;
    case MB_F_PEERS:
      g_free (m->peers[1].addr);
      m->peers[1].addr = g_strdup ("10.0.0.9:9");
      break;
    case MB_F_INDICES: m->indices[2]++; break;
    default: g_assert_not_reached ();
    }
}

/* ---- schema and names ---- */

static void
test_schema_table (void)
{
  const struct { MbMsgType t; guint32 f; } want[] = {
    { MB_MSG_REGISTER, MB_F_REQ | MB_F_COUNT | MB_F_FILE | MB_F_NAME | MB_F_ADDR },
    { MB_MSG_GET_PEERS, MB_F_REQ | MB_F_FILE | MB_F_NAME },
    { MB_MSG_PEER_LIST, MB_F_REQ | MB_F_CODE | MB_F_COUNT | MB_F_FILE | MB_F_PEERS },
    { MB_MSG_LEAVE, MB_F_FILE | MB_F_NAME },
    { MB_MSG_HANDSHAKE, MB_F_CODE | MB_F_FILE | MB_F_NAME | MB_F_ADDR | MB_F_MANIFEST },
    { MB_MSG_BITFIELD, MB_F_SWARM | MB_F_DATA },
    { MB_MSG_HAVE, MB_F_PIECE | MB_F_SWARM },
    { MB_MSG_INTERESTED, MB_F_SWARM },
    { MB_MSG_NOT_INTERESTED, MB_F_SWARM },
    { MB_MSG_CHOKE, MB_F_SWARM },
    { MB_MSG_UNCHOKE, MB_F_SWARM },
    { MB_MSG_REQUEST, MB_F_PIECE | MB_F_OFFSET | MB_F_LENGTH | MB_F_SWARM },
    { MB_MSG_PIECE, MB_F_PIECE | MB_F_OFFSET | MB_F_SWARM | MB_F_DATA },
    { MB_MSG_CANCEL, MB_F_PIECE | MB_F_OFFSET | MB_F_LENGTH | MB_F_SWARM },
    { MB_MSG_PEX, MB_F_SWARM | MB_F_PEERS | MB_F_INDICES },
    { MB_MSG_STORE_CHUNK, MB_F_REQ | MB_F_CHUNK_ID | MB_F_DATA },
    { MB_MSG_STORE_MANIFEST, MB_F_REQ | MB_F_MANIFEST },
    { MB_MSG_UPDATE_MANIFEST, MB_F_REQ | MB_F_FILE | MB_F_ADDR | MB_F_INDICES },
    { MB_MSG_GET_CHUNK, MB_F_REQ | MB_F_CHUNK_ID },
    { MB_MSG_GET_MANIFEST, MB_F_REQ | MB_F_FILE },
    { MB_MSG_PING, MB_F_REQ },
    { MB_MSG_LEAVE_NOTICE, MB_F_NAME },
    { MB_MSG_OK, MB_F_REQ | MB_F_COUNT },
    { MB_MSG_CHUNK, MB_F_REQ | MB_F_CHUNK_ID | MB_F_DATA },
    { MB_MSG_MANIFEST, MB_F_REQ | MB_F_MANIFEST },
    { MB_MSG_PONG, MB_F_REQ | MB_F_NAME },
    { MB_MSG_REDIRECT, MB_F_REQ | MB_F_ADDR },
    { MB_MSG_ERROR, MB_F_REQ | MB_F_CODE | MB_F_TEXT },
    { MB_MSG_HELLO, MB_F_NAME | MB_F_ADDR },
    { MB_MSG_CHALLENGE, MB_F_CODE | MB_F_DATA },
    { MB_MSG_PROOF, MB_F_DATA },
    { MB_MSG_DIALBACK, MB_F_CODE | MB_F_DATA },
  };
  g_assert_cmpuint (G_N_ELEMENTS (want), ==, MB_MSG_N_TYPES - 1);
  for (guint k = 0; k < G_N_ELEMENTS (want); k++)
    {
      g_test_message ("%s", mb_message_type_name (want[k].t));
      g_assert_cmphex (mb_message_fields (want[k].t), ==, want[k].f);
    }
  g_assert_cmphex (mb_message_fields (MB_MSG_NONE), ==, 0);
  g_assert_cmphex (mb_message_fields (MB_MSG_N_TYPES), ==, 0);
  g_assert_cmphex (mb_message_fields ((MbMsgType) 200), ==, 0);
  /* no schema uses a bit beyond MB_F_INDICES */
  for (guint t = 1; t < MB_MSG_N_TYPES; t++)
    g_assert_cmphex (mb_message_fields (t) & ~0xffffu, ==, 0);
}

/* Every type belongs to exactly one family (types are never renumbered, so
 * later additions of a family come after the first blocks). */
static void
test_families (void)
{
  static const struct { MbMsgType first, last; MbMsgFamily f; } want[] = {
    { MB_MSG_REGISTER, MB_MSG_LEAVE, MB_FAMILY_TRACKER },
    { MB_MSG_HANDSHAKE, MB_MSG_CANCEL, MB_FAMILY_SWARM },
    { MB_MSG_STORE_CHUNK, MB_MSG_ERROR, MB_FAMILY_RING },
    { MB_MSG_HELLO, MB_MSG_HELLO, MB_FAMILY_TRANSPORT },
    { MB_MSG_PEX, MB_MSG_PEX, MB_FAMILY_SWARM },
    { MB_MSG_CHALLENGE, MB_MSG_DIALBACK, MB_FAMILY_TRANSPORT },
  };
  guint covered = 0;
  for (guint k = 0; k < G_N_ELEMENTS (want); k++)
    for (guint t = want[k].first; t <= want[k].last; t++, covered++)
      {
        g_test_message ("%s", mb_message_type_name (t));
        g_assert_cmpint (mb_message_family (t), ==, want[k].f);
      }
  g_assert_cmpuint (covered, ==, MB_MSG_N_TYPES - 1);
  g_assert_cmpint (mb_message_family (MB_MSG_NONE), ==, MB_FAMILY_NONE);
  g_assert_cmpint (mb_message_family ((MbMsgType) 200), ==, MB_FAMILY_NONE);
  /* the swarm id is carried by every swarm message but the handshake */
  for (guint t = 1; t < MB_MSG_N_TYPES; t++)
    g_assert_cmpint (!!(mb_message_fields (t) & MB_F_SWARM), ==,
                     mb_message_family (t) == MB_FAMILY_SWARM && t != MB_MSG_HANDSHAKE);
}

static void
test_type_names (void)
{
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint t = 1; t < MB_MSG_N_TYPES; t++)
    {
      const char *n = mb_message_type_name (t);
      g_assert_nonnull (n);
      g_assert_cmpuint (strlen (n), >, 0);
      for (const char *p = n; *p; p++)
        g_assert_true (g_ascii_islower (*p) || *p == '_');
      g_assert_false (g_hash_table_contains (seen, n));
      g_hash_table_add (seen, (gpointer) n);
    }
  /* the seed systems' endpoints */
  const struct { MbMsgType t; const char *n; } seed[] = {
    { MB_MSG_REGISTER, "register" }, { MB_MSG_GET_PEERS, "get_peers" },
    { MB_MSG_STORE_CHUNK, "store_chunk" }, { MB_MSG_STORE_MANIFEST, "store_manifest" },
    { MB_MSG_UPDATE_MANIFEST, "update_manifest" }, { MB_MSG_GET_CHUNK, "get_chunk" },
    { MB_MSG_GET_MANIFEST, "get_manifest" }, { MB_MSG_PING, "ping" },
    { MB_MSG_HAVE, "have" }, { MB_MSG_REQUEST, "request" }, { MB_MSG_PIECE, "piece" },
    { MB_MSG_NOT_INTERESTED, "not_interested" }, { MB_MSG_PEER_LIST, "peer_list" },
  };
  for (guint k = 0; k < G_N_ELEMENTS (seed); k++)
    g_assert_cmpstr (mb_message_type_name (seed[k].t), ==, seed[k].n);
  g_assert_cmpstr (mb_message_type_name (MB_MSG_NONE), ==, "none");
  g_assert_cmpstr (mb_message_type_name ((MbMsgType) 200), ==, "unknown");
}

static void
test_type_valid (void)
{
  g_assert_false (mb_message_type_valid (0));
  for (guint t = 1; t < MB_MSG_N_TYPES; t++)
    g_assert_true (mb_message_type_valid (t));
  g_assert_false (mb_message_type_valid (MB_MSG_N_TYPES));
  g_assert_false (mb_message_type_valid (255));
  g_assert_false (mb_message_type_valid (G_MAXUINT));
}

static void
test_err_names (void)
{
  g_assert_cmpstr (mb_err_code_name (MB_ERR_NONE), ==, "none");
  g_assert_cmpstr (mb_err_code_name (MB_ERR_NOT_FOUND), ==, "not_found");
  g_assert_cmpstr (mb_err_code_name (MB_ERR_NOT_OWNER), ==, "not_owner");
  g_assert_cmpstr (mb_err_code_name (MB_ERR_INTERNAL), ==, "internal");
  for (guint c = 0; c < MB_ERR_N_CODES; c++)
    g_assert_nonnull (mb_err_code_name (c));
  g_assert_cmpstr (mb_err_code_name (MB_ERR_N_CODES), ==, "unknown");
}

/* ---- copy and equality ---- */

static void
test_copy_equal_all_types (void)
{
  for (guint t = 1; t < MB_MSG_N_TYPES; t++)
    {
      g_autoptr (MbMessage) a = full_message (t);
      g_autoptr (MbMessage) b = mb_message_copy (a);
      g_assert_true (mb_message_equal (a, b));
      g_assert_true (mb_message_equal (b, a));
      guint32 f = mb_message_fields (t);
      for (guint32 bit = 1; bit <= MB_F_INDICES; bit <<= 1)
        {
          if (!(f & bit))
            continue;
          g_autoptr (MbMessage) c = mb_message_copy (a);
          mutate (c, bit);
          g_test_message ("%s: field bit %x", mb_message_type_name (t), bit);
          g_assert_false (mb_message_equal (a, c));
        }
    }
}

static void
test_copy_owns (void)
{
  g_autoptr (MbMessage) a = full_message (MB_MSG_UPDATE_MANIFEST);
  g_autoptr (MbMessage) b = mb_message_copy (a);
  g_assert_true (a->file != b->file && a->addr != b->addr && a->indices != b->indices);
  g_autoptr (MbMessage) m = full_message (MB_MSG_STORE_MANIFEST);
  g_autoptr (MbMessage) mc = mb_message_copy (m);
  g_assert_true (mc->manifest != m->manifest);     /* a copy, not a reference */
  mb_manifest_add_holder (mc->manifest, 2, "peer7:1");
  g_assert_false (mb_manifest_has_holder (m->manifest, 2, "peer7:1"));
  g_autoptr (MbMessage) p = full_message (MB_MSG_PEER_LIST);
  g_autoptr (MbMessage) pc = mb_message_copy (p);
  g_assert_true (pc->peers != p->peers && pc->peers[0].name != p->peers[0].name);
}

static void
test_equal_ignores_unused (void)
{
  g_autoptr (MbMessage) a = full_message (MB_MSG_HAVE);
  g_autoptr (MbMessage) b = full_message (MB_MSG_HAVE);
  b->req = 99;
  b->text = g_strdup ("ignored");
  b->offset = 3;
  g_assert_true (mb_message_equal (a, b));
  g_autoptr (MbMessage) c = full_message (MB_MSG_PING);
  c->req = a->req;
  g_assert_false (mb_message_equal (a, c));   /* type differs */
  g_assert_false (mb_message_equal (a, NULL));
  g_assert_true (mb_message_equal (NULL, NULL));
}

static void
test_equal_null_is_empty (void)
{
  g_autoptr (MbMessage) a = mb_message_new (MB_MSG_HANDSHAKE);
  g_autoptr (MbMessage) b = mb_message_new (MB_MSG_HANDSHAKE);
  b->file = g_strdup ("");
  b->name = g_strdup ("");
  g_assert_true (mb_message_equal (a, b));
  g_autoptr (MbMessage) c = mb_message_new (MB_MSG_BITFIELD);
  g_autoptr (MbMessage) d = mb_message_new (MB_MSG_BITFIELD);
  d->data = g_bytes_new (NULL, 0);
  g_assert_true (mb_message_equal (c, d));
}

static void
test_equal_virtual_data (void)
{
  g_autoptr (MbMessage) a = mb_message_new (MB_MSG_PIECE);
  g_autoptr (MbMessage) b = mb_message_new (MB_MSG_PIECE);
  a->length = b->length = 16384;                 /* virtual, same size */
  g_assert_true (mb_message_equal (a, b));
  b->length = 100;
  g_assert_false (mb_message_equal (a, b));
  g_autoptr (MbMessage) c = mb_message_new (MB_MSG_PIECE);
  c->data = g_bytes_new_take (g_malloc0 (16384), 16384);
  c->length = 16384;
  g_assert_false (mb_message_equal (a, c));      /* virtual is not real content */
}

/* ---- setters ---- */

static void
test_set_peers (void)
{
  g_autoptr (MbMessage) m = mb_message_new (MB_MSG_PEER_LIST);
  gchar *name = g_strdup ("p1"), *addr = g_strdup ("h:1");
  MbPeerInfo in[] = { { name, addr }, { "p2", NULL } };
  mb_message_set_peers (m, in, 2);
  g_free (name);
  g_free (addr);
  g_assert_cmpuint (m->n_peers, ==, 2);
  g_assert_cmpstr (m->peers[0].name, ==, "p1");
  g_assert_cmpstr (m->peers[0].addr, ==, "h:1");
  g_assert_null (m->peers[1].addr);
  MbPeerInfo one[] = { { "q", "r:2" } };
  mb_message_set_peers (m, one, 1);             /* replaces, frees the old */
  g_assert_cmpuint (m->n_peers, ==, 1);
  g_assert_cmpstr (m->peers[0].name, ==, "q");
  mb_message_set_peers (m, NULL, 0);
  g_assert_null (m->peers);
  g_assert_cmpuint (m->n_peers, ==, 0);
}

static void
test_set_indices (void)
{
  g_autoptr (MbMessage) m = mb_message_new (MB_MSG_UPDATE_MANIFEST);
  guint32 in[] = { 4, 8, 15 };
  mb_message_set_indices (m, in, 3);
  in[0] = 99;
  g_assert_cmpuint (m->n_indices, ==, 3);
  g_assert_cmpuint (m->indices[0], ==, 4);
  g_assert_cmpuint (m->indices[2], ==, 15);
  mb_message_set_indices (m, in, 1);
  g_assert_cmpuint (m->n_indices, ==, 1);
  g_assert_cmpuint (m->indices[0], ==, 99);
  mb_message_set_indices (m, NULL, 0);
  g_assert_null (m->indices);
}

static void
test_new_free (void)
{
  mb_message_free (NULL);
  for (guint t = 0; t < MB_MSG_N_TYPES; t++)
    {
      MbMessage *m = mb_message_new (t);
      g_assert_cmpint (m->type, ==, t);
      g_assert_null (m->data);
      g_assert_null (m->manifest);
      mb_message_free (m);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/message/schema/table", test_schema_table);
  g_test_add_func ("/message/schema/type-names", test_type_names);
  g_test_add_func ("/message/schema/families", test_families);
  g_test_add_func ("/message/schema/type-valid", test_type_valid);
  g_test_add_func ("/message/schema/err-code-names", test_err_names);
  g_test_add_func ("/message/new-free", test_new_free);
  g_test_add_func ("/message/copy/equal-all-types", test_copy_equal_all_types);
  g_test_add_func ("/message/copy/owns-everything", test_copy_owns);
  g_test_add_func ("/message/equal/ignores-unused-fields", test_equal_ignores_unused);
  g_test_add_func ("/message/equal/null-is-empty", test_equal_null_is_empty);
  g_test_add_func ("/message/equal/virtual-data", test_equal_virtual_data);
  g_test_add_func ("/message/set-peers", test_set_peers);
  g_test_add_func ("/message/set-indices", test_set_indices);
  return g_test_run ();
}
