/* test_peer_disk.c — the peer's disk at its limits, one peer alone on its
 * ring (solo-fixture.h), a fresh one per test:
 *
 *  /peer-disk/stale-temp  a fetch's temporary file left in downloads/ by a
 *                         kill -9 is gone once the peer has started; the
 *                         user's files there stay.
 *  /peer-disk/full        DATA_DIR on a 4 MiB tmpfs mounted here (root
 *                         only; skipped otherwise), filled up: store_chunk,
 *                         store_manifest, update_manifest and fetch_file
 *                         answer 507 saying the disk is full; what was
 *                         stored before is all still there; with room again
 *                         the fetch works.  The tmpfs is unmounted whatever
 *                         happens (the peer is killed first).
 */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "content/chunk.h"
#include "solo-fixture.h"
#include "test-util.h"

static gboolean
alive (Solo *s)
{
  g_autoptr (Reply) r = mb_solo_http (s, "GET", "/ping", NULL, 0, NULL);
  CHECKF (mb_solo_alive (s) && r->status == 200, "the peer no longer answers /ping (%s)",
          r->error ? r->error : "exited");
  return TRUE;
}

/* ---- /peer-disk/stale-temp ---- */

static gboolean
run_stale_temp (Solo *s)
{
  g_autofree gchar *dl = g_build_filename (s->data_dir, "downloads", NULL);
  g_mkdir_with_parents (dl, 0700);
  const char *stale[] = { ".tmp-Ab12Cd", ".tmp-zz9ZZ9" };
  const char *kept[] = { "keep.bin", ".tmp-notours.txt", ".hidden" };
  for (guint i = 0; i < G_N_ELEMENTS (stale); i++)
    {
      g_autofree gchar *p = g_build_filename (dl, stale[i], NULL);
      CHECK (mb_solo_write_file (p, 100000, i));
    }
  for (guint i = 0; i < G_N_ELEMENTS (kept); i++)
    {
      g_autofree gchar *p = g_build_filename (dl, kept[i], NULL);
      CHECK (mb_solo_write_file (p, 1000, i));
    }
  if (!mb_solo_start (s, NULL, NULL, NULL, NULL))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (stale); i++)
    {
      g_autofree gchar *p = g_build_filename (dl, stale[i], NULL);
      CHECKF (!g_file_test (p, G_FILE_TEST_EXISTS), "%s is still there after the start", p);
    }
  for (guint i = 0; i < G_N_ELEMENTS (kept); i++)
    {
      g_autofree gchar *p = g_build_filename (dl, kept[i], NULL);
      CHECKF (g_file_test (p, G_FILE_TEST_IS_REGULAR), "%s was removed", p);
    }
  return alive (s);
}

static void
test_stale_temp (void)
{
  Solo *s = mb_solo_new ();
  if (s == NULL)
    return;
  gboolean ok = run_stale_temp (s);
  mb_solo_free (s, !ok || g_test_failed ());
}

/* ---- /peer-disk/full ---- */

static gboolean
expect_507 (Solo *s, const char *path, const char *body)
{
  g_autoptr (Reply) r = mb_solo_http (s, "POST", path, body, -1, NULL);
  g_autofree gchar *text = mb_body_text (r);
  g_test_message ("disk full, POST %s: %s", path, text);
  CHECKF (r->status == 507 && g_strcmp0 (mb_str (r, "status"), "error") == 0,
          "POST %s with the disk full: wanted 507, got %s", path, text);
  CHECKF (strstr (mb_str (r, "error"), "No space left on device") != NULL,
          "POST %s: the reason does not say the disk is full: %s", path, text);
  return TRUE;
}

static gboolean
manifest_holders (Solo *s, const char *name, const char *holder, gboolean *has, guint *chunks)
{
  g_autofree gchar *path = g_strconcat ("/get_manifest/", name, NULL);
  g_autoptr (Reply) r = mb_solo_http (s, "GET", path, NULL, 0, NULL);
  CHECKF (r->status == 200, "GET %s: %u (what was stored is gone)", path, r->status);
  gsize n;
  const char *d = g_bytes_get_data (r->body, &n);
  g_autoptr (MbManifest) m = mb_manifest_from_json (d, (gssize) n, NULL);
  CHECK (m != NULL);
  *has = FALSE;
  *chunks = mb_manifest_n_chunks (m);
  for (guint i = 0; i < mb_manifest_n_chunks (m); i++)
    {
      for (guint h = 0; h < mb_manifest_n_holders (m, i); h++)
        *has = *has || strcmp (mb_manifest_holder (m, i, h), holder) == 0;
      g_autofree gchar *cp = g_strconcat ("/get_chunk/", mb_manifest_chunk_id (m, i), NULL);
      g_autoptr (Reply) c = mb_solo_http (s, "GET", cp, NULL, 0, NULL);
      CHECKF (c->status == 200, "chunk %u of %s is gone: %u", i, name, c->status);
    }
  return TRUE;
}

static gboolean
run_full (Solo *s, const char *mnt)
{
  g_autofree gchar *share = g_build_filename (s->root, "share", NULL);
  g_autofree gchar *src = g_build_filename (share, "f.bin", NULL);
  g_autofree gchar *filler = g_build_filename (mnt, "filler", NULL);
  g_mkdir (share, 0700);
  CHECK (mb_solo_write_file (src, 3 << 20, 21));
  const char *env[] = { "MINIBIT_SHARE_DIRS", share, NULL };
  if (!mb_solo_start (s, mnt, NULL, env, NULL))
    return FALSE;
  /* Stored while there is room: its chunks stay inside f.bin (outside the
   * tmpfs), its manifest goes onto the tmpfs. */
  g_autofree gchar *body = g_strdup_printf ("{\"filename\": \"%s\"}", src);
  g_autoptr (Reply) st = mb_solo_http (s, "POST", "/store_file", body, -1, NULL);
  g_autofree gchar *st_text = mb_body_text (st);
  CHECKF (st->status == 200, "store_file before the disk is full: %s", st_text);
  CHECKF (mb_test_fill_disk (filler, 64), "cannot fill the tmpfs at %s", mnt);
  /* A new chunk, a new manifest, a holder added: no room for any. */
  const char *data = "a chunk that finds no room";
  char id[65];
  mb_chunk_id_compute ((const guint8 *) data, strlen (data), id);
  g_autofree gchar *b64 = g_base64_encode ((const guchar *) data, strlen (data));
  g_autofree gchar *chunk = g_strdup_printf ("{\"hash\": \"%s\", \"data\": \"%s\"}", id, b64);
  g_autoptr (MbManifest) m = mb_manifest_new ("other.txt", strlen (data), 256 * 1024, NULL);
  mb_manifest_set_chunk (m, 0, id, mb_chunk_crc_compute ((const guint8 *) data, strlen (data)),
                         NULL);
  mb_manifest_add_holder (m, 0, "127.0.0.1:1");
  g_autofree gchar *manifest = mb_manifest_to_json (m);
  if (!expect_507 (s, "/store_chunk", chunk) || !expect_507 (s, "/store_manifest", manifest)
      || !expect_507 (s, "/update_manifest",
                      "{\"filename\": \"f.bin\", \"peer\": \"127.0.0.1:9\"}")
      || !expect_507 (s, "/fetch_file", "{\"filename\": \"f.bin\"}"))
    return FALSE;
  /* Nothing stored was lost, nothing refused was half done. */
  gboolean has = TRUE;
  guint chunks = 0;
  if (!manifest_holders (s, "f.bin", "127.0.0.1:9", &has, &chunks))
    return FALSE;
  CHECKF (!has, "a refused update_manifest added its holder");
  CHECKF (chunks == 12, "f.bin has %u chunks", chunks);
  g_autofree gchar *dl = g_build_filename (mnt, "downloads", "f.bin", NULL);
  CHECKF (!g_file_test (dl, G_FILE_TEST_EXISTS), "a refused fetch left %s", dl);
  /* Room again: the fetch works. */
  CHECK (g_unlink (filler) == 0);
  g_autoptr (Reply) f = mb_solo_http (s, "POST", "/fetch_file", "{\"filename\": \"f.bin\"}", -1,
                                      NULL);
  g_autofree gchar *f_text = mb_body_text (f);
  CHECKF (f->status == 200 && mb_int (f, "size") == 3 << 20, "fetch_file with room: %s", f_text);
  return alive (s);
}

static void
test_full (void)
{
  if (geteuid () != 0)
    {
      g_test_skip ("mounting a tmpfs needs root");
      return;
    }
  Solo *s = mb_solo_new ();
  if (s == NULL)
    return;
  g_autofree gchar *mnt = g_build_filename (s->root, "small", NULL);
  g_mkdir (mnt, 0700);
  if (mount ("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0700") != 0)
    {
      g_test_skip_printf ("cannot mount a tmpfs at %s: %s", mnt, g_strerror (errno));
      mb_solo_free (s, FALSE);
      return;
    }
  gboolean ok = run_full (s, mnt);
  /* The peer first (it holds files there), then the mount, then the rest. */
  gboolean dump = !ok || g_test_failed ();
  if (dump)
    mb_log_tail ("peer", s->log);
  mb_proc_kill (g_steal_pointer (&s->proc));
  if (umount2 (mnt, MNT_DETACH) != 0)
    g_test_fail_printf ("cannot unmount %s: %s", mnt, g_strerror (errno));
  mb_solo_free (s, FALSE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/peer-disk/stale-temp", test_stale_temp);
  g_test_add_func ("/peer-disk/full", test_full);
  return g_test_run ();
}
