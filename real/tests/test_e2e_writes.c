/* test_e2e_writes.c — end to end, honest writes and versions (issue 12,
 * findings 8 and 9): a tracker and five peers (e2e-fixture.h) on loopback,
 * R = 3, a fresh cluster for each test.
 *
 *  /e2e/restore-changed-file  a file stored at peer1 and fetched at peer2;
 *                             then changed (other bytes, other size) and
 *                             stored again under its name: version 2, on
 *                             the name's three owners and nowhere version 1;
 *                             a fetch at peer2 (which had version 1), peer3
 *                             and peer5 gets the new bytes.
 *  /e2e/disk-full-peer        peer5's DATA_DIR is a 4 MiB tmpfs mounted here
 *                             (root only, else skipped), filled up; a 3 MiB
 *                             file stored at peer1 answers success only with
 *                             every chunk on 3 peers, counted by GET
 *                             /get_chunk at each (none on peer5), and fetches
 *                             whole at peer4.  The peers are killed, then
 *                             the tmpfs is unmounted, whatever happened.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "e2e-fixture.h"
#include "test-util.h"

/* ---- helpers ---- */

/* POST /store_file at peer `at`: the reply (never NULL). */
static Reply *
store_reply (Cluster *c, guint at, const char *name)
{
  g_autofree gchar *body = g_strdup_printf ("{\"filename\": \"%s\"}", name);
  gint64 t0 = g_get_monotonic_time ();
  Reply *r = mb_peer_http (c, at, TRUE, "POST", "/store_file", body);
  g_autofree gchar *text = mb_body_text (r);
  g_test_message ("store_file %s at %s: %.2f s, %s", name, c->peers[at].id, mb_secs_since (t0),
                  text);
  return r;
}

/* How many running peers hold chunk k of m (GET /get_chunk, right length);
 * *at_peer set if peer `which` does. */
static guint
copies_of (Cluster *c, const MbManifest *m, guint k, guint which, gboolean *at_peer)
{
  g_autofree gchar *path = g_strconcat ("/get_chunk/", mb_manifest_chunk_id (m, k), NULL);
  guint copies = 0;
  *at_peer = FALSE;
  for (guint i = 0; i < N_PEERS; i++)
    if (mb_alive (c, i))
      {
        g_autoptr (Reply) r = mb_peer_http (c, i, FALSE, "GET", path, NULL);
        gboolean has = r->status == 200 && r->body
                       && g_bytes_get_size (r->body) == mb_manifest_chunk_len (m, k);
        copies += has;
        if (has && i == which)
          *at_peer = TRUE;
      }
  return copies;
}

/* The newest manifest of name any running peer holds (GET /get_manifest at
 * each: a copy may sit on a member after the owners, handed over when an
 * owner failed, which redirects do not always lead to). */
static gboolean
newest_manifest (Cluster *c, const char *name, MbManifest **out)
{
  g_autofree gchar *path = g_strconcat ("/get_manifest/", name, NULL);
  *out = NULL;
  for (guint i = 0; i < N_PEERS; i++)
    {
      if (!mb_alive (c, i))
        continue;
      g_autoptr (Reply) r = mb_peer_http (c, i, FALSE, "GET", path, NULL);
      if (r->status != 200)
        continue;
      gsize n;
      const char *d = g_bytes_get_data (r->body, &n);
      MbManifest *m = mb_manifest_from_json (d, (gssize) n, NULL);
      CHECKF (m != NULL, "%s's manifest of %s does not parse", c->peers[i].id, name);
      if (*out == NULL || mb_manifest_cmp_newer (m, *out) > 0)
        {
          if (*out)
            mb_manifest_unref (*out);
          *out = m;
        }
      else
        mb_manifest_unref (m);
    }
  CHECKF (*out != NULL, "no running peer holds the manifest of %s", name);
  return TRUE;
}

/* ---- /e2e/restore-changed-file ---- */

#define NOTES "notes.bin"

static gboolean
run_restore (Cluster *c)
{
  g_autofree gchar *sha1 = mb_random_file (c->peers[0].dir, NOTES, (1 << 20) + 123, 81);
  CHECK (sha1 != NULL);
  if (!mb_store (c, 0, NOTES, NULL) || !mb_fetch (c, 1, NOTES, sha1, NULL))
    return FALSE;
  /* Changed: other bytes, another size. */
  g_autofree gchar *sha2 = mb_random_file (c->peers[0].dir, NOTES, (700 << 10) + 5, 82);
  CHECK (sha2 != NULL);
  g_autoptr (Reply) r = store_reply (c, 0, NOTES);
  CHECK_REPLY (r, 200, "success");
  g_autofree gchar *text = mb_body_text (r);
  CHECKF (mb_int (r, "version") == 2 && mb_int (r, "chunks_short") == 0
            && mb_int (r, "manifest_owners") >= mb_int (r, "write_quorum"), "%s", text);
  /* Version 2 on the owners, version 1 nowhere. */
  guint v2 = 0;
  g_autofree gchar *mpath = g_strconcat ("/get_manifest/", NOTES, NULL);
  for (guint i = 0; i < N_PEERS; i++)
    {
      g_autoptr (Reply) g = mb_peer_http (c, i, FALSE, "GET", mpath, NULL);
      if (g->status != 200)
        continue;
      gsize n;
      const char *d = g_bytes_get_data (g->body, &n);
      g_autoptr (MbManifest) m = mb_manifest_from_json (d, (gssize) n, NULL);
      CHECKF (m != NULL, "%s's manifest does not parse", c->peers[i].id);
      CHECKF (mb_manifest_version (m) == 2, "%s holds version %" G_GUINT64_FORMAT,
              c->peers[i].id, mb_manifest_version (m));
      v2++;
    }
  g_test_message ("%u peers hold the manifest of %s, all at version 2", v2, NOTES);
  CHECKF (v2 >= 3, "version 2 is on %u peers", v2);
  /* Every fetch gets the new bytes, also where version 1 was fetched. */
  const guint at[] = { 1, 2, 4 };
  for (guint k = 0; k < G_N_ELEMENTS (at); k++)
    if (!mb_fetch (c, at[k], NOTES, sha2, NULL))
      return FALSE;
  return TRUE;
}

static void
test_restore_changed_file (void)
{
  Cluster *c = mb_cluster_start (3);
  if (c == NULL)
    return;
  gboolean ok = run_restore (c);
  mb_cluster_free (c, !ok || g_test_failed ());
}

/* ---- /e2e/disk-full-peer ---- */

#define BIG "full-3mib.bin"
#define FULL_PEER 4   /* peer5 */

static gboolean
run_full (Cluster *c, const char *mnt)
{
  g_autofree gchar *filler = g_build_filename (mnt, "filler", NULL);
  CHECKF (mb_test_fill_disk (filler, 64), "cannot fill the tmpfs at %s", mnt);
  g_autofree gchar *sha = mb_random_file (c->peers[0].dir, BIG, 3 << 20, 91);
  CHECK (sha != NULL);
  g_autoptr (Reply) r = store_reply (c, 0, BIG);
  g_autofree gchar *text = mb_body_text (r);
  /* Four peers have room for three copies: the store must succeed, with
   * peer5's copies handed to the next members. */
  CHECK_REPLY (r, 200, "success");
  CHECKF (mb_int (r, "chunks_short") == 0 && mb_int (r, "handoffs") >= 1
            && mb_int (r, "chunks_placed") >= 3 * mb_int (r, "chunks"), "%s", text);
  g_autoptr (MbManifest) m = NULL;
  if (!newest_manifest (c, BIG, &m))
    return FALSE;
  guint min_copies = G_MAXUINT;
  for (guint k = 0; k < mb_manifest_n_chunks (m); k++)
    {
      gboolean on_full = FALSE;
      guint n = copies_of (c, m, k, FULL_PEER, &on_full);
      CHECKF (!on_full, "chunk %u is on the full peer", k);
      CHECKF (n >= 3, "chunk %u (%.12s...) has %u copies", k, mb_manifest_chunk_id (m, k), n);
      min_copies = MIN (min_copies, n);
    }
  g_test_message ("every chunk of %s on >= %u peers, none on %s (disk full)", BIG, min_copies,
                  c->peers[FULL_PEER].id);
  return mb_fetch (c, 3, BIG, sha, NULL);
}

static void
test_disk_full_peer (void)
{
  if (geteuid () != 0)
    {
      g_test_skip ("mounting a tmpfs needs root");
      return;
    }
  g_autoptr (GError) err = NULL;
  g_autofree gchar *tmp = g_dir_make_tmp ("minibit-e2e-full-XXXXXX", &err);
  if (tmp == NULL)
    {
      g_test_fail_printf ("cannot make a temporary directory: %s", err->message);
      return;
    }
  g_autofree gchar *mnt = g_build_filename (tmp, "peer5", NULL);
  g_mkdir (mnt, 0700);
  if (mount ("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0700") != 0)
    {
      g_test_skip_printf ("cannot mount a tmpfs at %s: %s", mnt, g_strerror (errno));
      mb_rm_rf (tmp);
      return;
    }
  const char *dirs[N_PEERS] = { NULL };
  dirs[FULL_PEER] = mnt;
  Cluster *c = mb_cluster_start_dirs (3, dirs);
  gboolean ok = c != NULL && run_full (c, mnt);
  /* The peers first (one holds files there), then the mount, then the rest. */
  mb_cluster_free (c, !ok || g_test_failed ());
  if (umount2 (mnt, MNT_DETACH) != 0)
    g_test_fail_printf ("cannot unmount %s: %s", mnt, g_strerror (errno));
  else
    mb_rm_rf (tmp);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/e2e/restore-changed-file", test_restore_changed_file);
  g_test_add_func ("/e2e/disk-full-peer", test_disk_full_peer);
  return g_test_run ();
}
