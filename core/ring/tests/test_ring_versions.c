/* test_ring_versions.c — versions of a name (issue 12, findings 4 and 8):
 * re-storing a changed file makes version 2 on every owner and every peer
 * then fetches the new bytes; re-storing the same file keeps its version; an
 * older manifest is refused and an equal version of another content is
 * settled the same way on every owner; a fetch reads a quorum of copies and
 * takes the newest, so an owner that missed version 2 does not serve
 * version 1, and the read gives it version 2; a squatter's manifest does not survive the real store.
 */
#include <string.h>

#include "content/chunk.h"
#include "ring-fixture.h"

#define CHUNK (64 * 1024)

static guint
owner (RFx *fx, const char *key, guint k)
{
  guint idx[3];
  g_assert_cmpuint (mb_ring_preference_list (fx->ring, key, 3, idx), >, k);
  return rfx_node (mb_ring_member (fx->ring, idx[k]));
}

static void
assert_version_at_owners (RFx *fx, const char *name, guint64 version, GBytes *content)
{
  for (guint k = 0; k < 3; k++)
    {
      guint o = owner (fx, name, k);
      if (fx->down[o])
        continue;
      g_autoptr (MbManifest) m = mb_store_get_manifest (fx->store[o], name);
      g_assert_nonnull (m);
      g_assert_cmpuint (mb_manifest_version (m), ==, version);
      g_assert_cmpuint (mb_manifest_size (m), ==, g_bytes_get_size (content));
    }
}

static void
assert_fetch_everywhere (RFx *fx, const char *name, GBytes *content)
{
  for (guint at = 0; at < fx->n; at++)
    {
      if (fx->down[at])
        continue;
      Done d = { 0 };
      fetch_file (fx, at, name, &d);
      if (!d.r.ok || !g_bytes_equal (d.content, content))
        g_error ("fetch of %s at peer %u: ok %d, %" G_GSIZE_FORMAT " bytes (want %"
                 G_GSIZE_FORMAT "), version %" G_GUINT64_FORMAT ": %s", name, at, d.r.ok,
                 d.content ? g_bytes_get_size (d.content) : 0, g_bytes_get_size (content),
                 d.r.version, d.error);
      done_clear (&d);
    }
}

/* Finding 8: a changed file stored again under its name. */
static void
test_restore_of_a_changed_file_is_version_2_everywhere (void)
{
  RFx *fx = rfx_new (8, 3);
  g_autoptr (GBytes) a = random_content (3 * CHUNK + 100, 60);
  g_autoptr (GBytes) b = random_content (2 * CHUNK + 7, 61);
  Done d = { 0 };
  store_file (fx, 0, "doc.txt", a, &d);
  g_assert_true (d.r.ok);
  g_assert_cmpuint (d.r.version, ==, 1);
  done_clear (&d);
  assert_fetch_everywhere (fx, "doc.txt", a);
  store_file (fx, 5, "doc.txt", b, &d);
  g_test_message ("re-store of a changed doc.txt: ok %d, version %" G_GUINT64_FORMAT ": %s",
                  d.r.ok, d.r.version, d.error);
  g_assert_true (d.r.ok);
  g_assert_cmpuint (d.r.version, ==, 2);
  done_clear (&d);
  assert_version_at_owners (fx, "doc.txt", 2, b);
  assert_fetch_everywhere (fx, "doc.txt", b);
  rfx_free (fx);
}

static void
test_restore_of_the_same_file_keeps_its_version (void)
{
  RFx *fx = rfx_new (6, 3);
  g_autoptr (GBytes) a = random_content (2 * CHUNK, 62);
  Done d = { 0 };
  store_file (fx, 0, "same.txt", a, &d);
  g_assert_true (d.r.ok);
  done_clear (&d);
  store_file (fx, 4, "same.txt", a, &d);
  g_assert_true (d.r.ok);
  g_assert_cmpuint (d.r.version, ==, 1);
  done_clear (&d);
  assert_version_at_owners (fx, "same.txt", 1, a);
  rfx_free (fx);
}

/* The manifest of `content` under `name` (its holders: none). */
static MbManifest *
manifest_of (const char *name, GBytes *content, guint64 version)
{
  gsize n;
  const guint8 *p = g_bytes_get_data (content, &n);
  MbManifest *m = mb_manifest_new (name, n, CHUNK, NULL);
  for (guint i = 0; i < mb_manifest_n_chunks (m); i++)
    {
      gsize len = mb_manifest_chunk_len (m, i);
      char id[65];
      mb_chunk_id_compute (p + (gsize) i * CHUNK, len, id);
      mb_manifest_set_chunk (m, i, id, mb_chunk_crc_compute (p + (gsize) i * CHUNK, len), NULL);
    }
  mb_manifest_set_version (m, version);
  return m;
}

static const MbMessage *
send_manifest (RFx *fx, guint to, const MbManifest *m)
{
  MbMessage *msg = mb_message_new (MB_MSG_STORE_MANIFEST);
  msg->manifest = mb_manifest_copy (m);
  return rfx_ask (fx, to, msg);
}

/* An older version is refused; of two equal versions of different
 * contents every owner keeps the same one, whatever came first. */
static void
test_stale_version_is_refused (void)
{
  RFx *fx = rfx_new (8, 3);
  g_autoptr (GBytes) a = random_content (2 * CHUNK, 63);
  g_autoptr (GBytes) b = random_content (2 * CHUNK, 64);
  Done d = { 0 };
  store_file (fx, 0, "rep.txt", a, &d);
  done_clear (&d);
  store_file (fx, 0, "rep.txt", b, &d);
  g_assert_true (d.r.ok);
  g_assert_cmpuint (d.r.version, ==, 2);
  done_clear (&d);
  guint o0 = owner (fx, "rep.txt", 0), o1 = owner (fx, "rep.txt", 1);
  g_autoptr (MbManifest) old = manifest_of ("rep.txt", a, 1);
  const MbMessage *r = send_manifest (fx, o0, old);
  g_assert_nonnull (r);
  g_assert_cmpint (r->type, ==, MB_MSG_ERROR);
  g_assert_cmpuint (r->code, ==, MB_ERR_STALE);
  g_test_message ("version 1 sent to an owner of version 2: %s", r->text);
  g_assert_nonnull (strstr (r->text, "version 1"));
  g_assert_nonnull (strstr (r->text, "version 2"));
  g_autoptr (MbManifest) kept = mb_store_get_manifest (fx->store[o0], "rep.txt");
  g_assert_cmpuint (mb_manifest_version (kept), ==, 2);
  g_assert_cmpuint (mb_manifest_size (kept), ==, g_bytes_get_size (b));
  MbRingPeerStats st;
  mb_ringpeer_stats (fx->rp[o0], &st);
  g_assert_cmpuint (st.stale_refused, ==, 1);
  /* Version 2 of another content: o0 gets it after b's, o1 before. */
  g_autoptr (GBytes) c = random_content (CHUNK + 9, 65);
  g_autoptr (MbManifest) mc = manifest_of ("rep.txt", c, 2);
  g_autoptr (MbManifest) mb = rfx_newest_manifest (fx, "rep.txt");
  g_assert_true (mb_store_drop_manifest (fx->store[o1], "rep.txt"));
  const MbMessage *r0 = send_manifest (fx, o0, mc);
  const MbMessage *r1 = send_manifest (fx, o1, mc);
  const MbMessage *r2 = send_manifest (fx, o1, mb);
  g_assert_nonnull (r0);
  g_assert_nonnull (r1);
  g_assert_nonnull (r2);
  g_autoptr (MbManifest) at0 = mb_store_get_manifest (fx->store[o0], "rep.txt");
  g_autoptr (MbManifest) at1 = mb_store_get_manifest (fx->store[o1], "rep.txt");
  g_assert_true (mb_manifest_same_content (at0, at1));
  gboolean c_wins = mb_manifest_cmp_newer (mc, mb) > 0;
  g_assert_true (mb_manifest_same_content (at0, c_wins ? mc : mb));
  /* The loser was told so, the winner accepted. */
  g_assert_cmpint (r0->type, ==, c_wins ? MB_MSG_OK : MB_MSG_ERROR);
  g_assert_cmpint (r2->type, ==, c_wins ? MB_MSG_ERROR : MB_MSG_OK);
  mb_ringpeer_stats (fx->rp[o0], &st);
  g_assert_cmpuint (st.conflicts, ==, 1);
  rfx_free (fx);
}

/* One owner is down while version 2 is stored and comes back holding
 * version 1: every fetch, its own too, reads a quorum and gets version 2. */
static void
test_fetch_takes_the_newest_of_a_read_quorum (void)
{
  RFx *fx = rfx_new (8, 3);
  g_autoptr (GBytes) a = random_content (3 * CHUNK, 66);
  g_autoptr (GBytes) b = random_content (3 * CHUNK + 1, 67);
  Done d = { 0 };
  store_file (fx, 0, "news.txt", a, &d);
  g_assert_true (d.r.ok);
  done_clear (&d);
  guint stale = owner (fx, "news.txt", 2);
  guint storer = 0;
  while (storer == stale)
    storer++;
  fx->down[stale] = TRUE;
  store_file (fx, storer, "news.txt", b, &d);
  g_test_message ("store of version 2 with owner %u down: ok %d, owners %u: %s", stale,
                  d.r.ok, d.r.manifest_owners, d.error);
  g_assert_true (d.r.ok);
  g_assert_cmpuint (d.r.version, ==, 2);
  done_clear (&d);
  fx->down[stale] = FALSE;
  g_autoptr (MbManifest) old = mb_store_get_manifest (fx->store[stale], "news.txt");
  g_assert_cmpuint (mb_manifest_version (old), ==, 1);
  assert_fetch_everywhere (fx, "news.txt", b);
  /* The reads that met its version 1 replaced it (read repair). */
  g_autoptr (MbManifest) now = mb_store_get_manifest (fx->store[stale], "news.txt");
  g_assert_cmpuint (mb_manifest_version (now), ==, 2);
  MbRingPeerStats st;
  guint64 repairs = 0;
  for (guint i = 0; i < fx->n; i++)
    {
      mb_ringpeer_stats (fx->rp[i], &st);
      repairs += st.read_repairs;
    }
  g_assert_cmpuint (repairs, >=, 1);
  rfx_free (fx);
}

/* Finding 4: a stranger's manifest under the name before the real store;
 * the real store makes the next version and every fetch gets its bytes. */
static void
test_squatter_manifest_is_replaced_by_the_real_store (void)
{
  RFx *fx = rfx_new (8, 3);
  const char *junk = "39 bytes that are not the real report.";
  g_autoptr (GBytes) fake = g_bytes_new (junk, strlen (junk));
  g_autoptr (MbManifest) squat = manifest_of ("report.pdf", fake, 1);
  for (guint k = 0; k < 3; k++)
    {
      const MbMessage *r = send_manifest (fx, owner (fx, "report.pdf", k), squat);
      g_assert_nonnull (r);
      g_assert_cmpint (r->type, ==, MB_MSG_OK);
    }
  g_autoptr (GBytes) real = random_content (4 * CHUNK + 3, 68);
  Done d = { 0 };
  store_file (fx, 1, "report.pdf", real, &d);
  g_test_message ("real store over a squatter: ok %d, version %" G_GUINT64_FORMAT
                  ", owners %u: %s", d.r.ok, d.r.version, d.r.manifest_owners, d.error);
  g_assert_true (d.r.ok);
  g_assert_cmpuint (d.r.version, ==, 2);
  g_assert_cmpuint (d.r.manifest_owners, ==, 3);
  done_clear (&d);
  assert_fetch_everywhere (fx, "report.pdf", real);
  rfx_free (fx);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ring-versions/restore-of-a-changed-file-is-version-2-everywhere",
                   test_restore_of_a_changed_file_is_version_2_everywhere);
  g_test_add_func ("/ring-versions/restore-of-the-same-file-keeps-its-version",
                   test_restore_of_the_same_file_keeps_its_version);
  g_test_add_func ("/ring-versions/stale-version-is-refused", test_stale_version_is_refused);
  g_test_add_func ("/ring-versions/fetch-takes-the-newest-of-a-read-quorum",
                   test_fetch_takes_the_newest_of_a_read_quorum);
  g_test_add_func ("/ring-versions/squatter-manifest-is-replaced-by-the-real-store",
                   test_squatter_manifest_is_replaced_by_the_real_store);
  return g_test_run ();
}
