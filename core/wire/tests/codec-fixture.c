/* codec-fixture.c — see codec-fixture.h. */
#include "codec-fixture.h"

#include <zlib.h>

/* ---- building messages ---- */

MbManifest *
small_manifest (guint seed)
{
  MbManifest *m = mb_manifest_new ("f.bin", 10 + seed, 4, NULL);
  for (guint i = 0; i < mb_manifest_n_chunks (m); i++)
    {
      guint8 b[2] = { (guint8) i, (guint8) seed };
      g_autofree gchar *id = g_compute_checksum_for_data (G_CHECKSUM_SHA256, b, 2);
      mb_manifest_set_chunk (m, i, id, (guint32) crc32 (0, b, 2), NULL);
    }
  mb_manifest_add_holder (m, 0, "peer2:5000");
  mb_manifest_add_holder (m, 0, "peer1:5000");
  mb_manifest_add_holder (m, 2, "ünïcode:1");
  return m;
}

/* A message of type t with a value in every field of its schema; seed 1
 * gives extreme values (all-ones integers, long strings, no items). */
MbMessage *
full_message (MbMsgType t, guint seed)
{
  MbMessage *m = mb_message_new (t);
  guint32 f = mb_message_fields (t);
  guint32 big = seed == 1 ? G_MAXUINT32 : 0;
  if (f & MB_F_REQ) m->req = big ? big : 1000 + seed;
  if (f & MB_F_CODE) m->code = big ? big : MB_ERR_NOT_OWNER;
  if (f & MB_F_PIECE) m->piece = big ? big : 7 + seed;
  if (f & MB_F_OFFSET) m->offset = big ? big : 16384;
  if (f & MB_F_LENGTH) m->length = big ? big : 16384;
  if (f & MB_F_COUNT) m->count = big ? big : 42;
  if (f & MB_F_SWARM) m->swarm = big ? big : 0x5eed0000u + seed;
  if (f & MB_F_FILE) m->file = g_strdup (seed == 1 ? "" : "test_file_large.txt");
  if (f & MB_F_NAME) m->name = g_strdup_printf ("peer%u", seed);
  if (f & MB_F_ADDR) m->addr = g_strdup ("127.0.0.1:5001");
  if (f & MB_F_CHUNK_ID)
    m->chunk_id = seed == 1 ? g_strdup ("")
                            : g_compute_checksum_for_string (G_CHECKSUM_SHA256, "x", 1);
  if (f & MB_F_TEXT)
    m->text = seed == 1 ? g_strnfill (G_MAXUINT16, 'e') : g_strdup ("not the owner — ask peer2");
  if (f & MB_F_DATA)
    {
      gsize n = seed == 1 ? 0 : 100 + seed;
      guint8 *d = g_malloc (MAX (n, 1));
      for (gsize k = 0; k < n; k++)
        d[k] = (guint8) (k * 31 + seed);
      m->data = g_bytes_new_take (d, n);
      m->length = (guint32) n;
    }
  if (f & MB_F_MANIFEST) m->manifest = small_manifest (seed);
  if ((f & MB_F_PEERS) && seed != 1)
    {
      const MbPeerInfo peers[] = { { "p1", "10.0.0.1:1" }, { "p2", "10.0.0.2:2" },
                                   { "", "" } };
      mb_message_set_peers (m, peers, G_N_ELEMENTS (peers));
    }
  if ((f & MB_F_INDICES) && seed != 1)
    {
      const guint32 idx[] = { 0, 3, 9, G_MAXUINT32 };
      mb_message_set_indices (m, idx, G_N_ELEMENTS (idx));
    }
  return m;
}

/* ---- building frames ---- */

void
put_u32 (GByteArray *a, guint32 v)
{
  guint8 b[4] = { v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff };
  g_byte_array_append (a, b, 4);
}

void
put_u16 (GByteArray *a, guint16 v)
{
  guint8 b[2] = { v >> 8, v & 0xff };
  g_byte_array_append (a, b, 2);
}

void
put_str (GByteArray *a, const char *s, gsize len)
{
  put_u16 (a, (guint16) len);
  g_byte_array_append (a, (const guint8 *) s, (guint) len);
}

/* A frame with a correct length and crc around any payload. */
void
raw_frame (GByteArray *out, guint type, const GByteArray *payload)
{
  guint plen = payload ? payload->len : 0;
  guint start = out->len;
  put_u32 (out, 1 + plen + 4);
  guint8 t = (guint8) type;
  g_byte_array_append (out, &t, 1);
  if (plen)
    g_byte_array_append (out, payload->data, plen);
  put_u32 (out, (guint32) crc32 (0, out->data + start + 4, 1 + plen));
}

void
valid_frame (GByteArray *out, MbMsgType t)
{
  g_autoptr (MbMessage) m = full_message (t, 0);
  g_assert_true (mb_codec_encode (m, out, NULL));
}
