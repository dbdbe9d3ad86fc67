/* test_e2e_nemesis.c — a fault-injection suite (suite 'slow'): a tracker
 * and five peers with a cluster secret, R = 3 (e2e-fixture.h): as root, in
 * network namespaces of their own (e2e-net.h: a hub with a bridge and the
 * tracker, one namespace per peer at 10.213.1.2-6, the test reaching each
 * peer by a link of its own beside the bridge, HTTP with a token);
 * otherwise on loopback, and the partition is skipped with the reason.
 *
 * A workload thread stores files of varied sizes (random bytes written in
 * the storing peer's DATA_DIR) and fetches acknowledged ones at random
 * peers, while a nemesis in the main thread, driven by a seeded GRand
 * (MINIBIT_NEMESIS_SEED overrides the seed; it is printed), injects in a
 * shuffled order, each bounded:
 *
 *   kill9       SIGKILL of a peer, restarted on the same DATA_DIR
 *   leave       SIGTERM (the graceful leave) of a peer, restarted
 *   leave2      two graceful leaves at once, both restarted
 *   stranger    a wire client without the secret (wire-fake.h): HELLO and
 *               challenge, then STORE_CHUNK, STORE_MANIFEST squatting an
 *               acknowledged name, LEAVE_NOTICE naming another member
 *   thief       a wire client with the secret claiming another member's
 *               address (its dial-back fails), sending the same and a
 *               LEAVE_NOTICE for the member whose address it claims
 *   diskfull    (root only, skipped with a message otherwise) a peer is
 *               SIGKILLed, its DATA_DIR copied onto a tmpfs mounted here
 *               (symbolic links are not copied), restarted there, and the
 *               tmpfs filled until the end of the nemesis
 *   partition   (root only, skipped with a message otherwise; one early in
 *               the first round) a peer's port on the hub's bridge is
 *               blocked for 5-15 s (the GRand's draw): it and the others
 *               (and the tracker) see only silence, its process runs on
 *               and keeps its state; meanwhile a store and a fetch at it and
 *               a store at another peer (acknowledged ones are checked like
 *               the workload's); then the port forwards again and every
 *               peer must see 5 members within 30 s.  The summary gives
 *               each cut's length, the time until the members were whole,
 *               and the operations at both sides while cut.
 *
 * until MINIBIT_NEMESIS_SECS (default 60) have passed.  Then every peer is
 * running again, the disk has room, the cluster gets a bounded time to
 * repair, and the checker:
 *   - counts the copies of every chunk of every acknowledged store on the
 *     live peers (GET /get_chunk, bytes checked against the chunk id) and
 *     reports the chunks below R (not a failure: reported);
 *   - fetches every acknowledged store (200 and "status": "success") at a
 *     peer other than the one that stored it and compares the SHA-256.
 * A store answered with an error is fine (counted).  The test fails if an
 * acknowledged store cannot be fetched or comes back with other bytes
 * (lost), if any fetch during the run answered success with wrong bytes,
 * or if a request got no answer at all for UNANSWERED_S (a peer that freezes
 * on a request: a fetch on the full disk did, once asking for its chunks
 * for ever).
 * Every loss fails it, with the log lines naming the file.  (A store may
 * be acknowledged with a write quorum of manifest owners, W of R, or with
 * copies handed off past an owner that failed: counted, as "acknowledged
 * through quorum or hand-off", and held to the same rule.)
 *
 * Safety: traffic only to loopback or to 10.213.0.0/16 inside the
 * namespaces made here (e2e-net.h: only when that range is unused; all of
 * it routed into them, never to the default route); every wait is bounded;
 * the children get SIGKILL if this process dies; the tmpfs is unmounted at
 * the end whatever happens (also from a SIGTERM/SIGINT handler, with
 * MNT_DETACH); the namespaces have no names (fds of this process): once it
 * is gone, whatever ends it, they and their links vanish with its
 * children, and at the end the links made here are deleted and checked
 * gone; the temporary directory is removed without following symbolic
 * links.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "content/chunk.h"
#include "e2e-fixture.h"
#include "e2e-net.h"
#include "test-util.h"
#include "wire-fake.h"

#define R 3
#define DEFAULT_SECS 45
/* The workload's HTTP timeout is 30 s: a request unanswered this long was
 * not answered at all (no operation here takes more than a few seconds). */
#define UNANSWERED_S 29.0
#define MAX_OPS 5000
#define RESTART_MS 20000
#define LEAVE_MS 30000
#define MEMBERS_MS 30000
#define REPAIR_MS 20000
#define TMPFS_ROOM ((guint64) 32 << 20)
#define CUT_MIN_MS 5000
#define CUT_MAX_MS 15000
#define REJOIN_MS 30000

typedef enum { F_KILL9, F_LEAVE, F_LEAVE2, F_STRANGER, F_THIEF, F_DISKFULL, F_PARTITION,
               F_N } Fault;
static const char *const fault_name[F_N] = { "kill9", "leave", "leave2", "stranger", "thief",
                                             "diskfull", "partition" };

typedef struct {
  gchar *name, *sha;
  guint at;
  gsize size;
  gint64 chunks, placed, failed, owners;
} Stored;

static void
stored_free (gpointer p)
{
  Stored *s = p;
  g_free (s->name);
  g_free (s->sha);
  g_free (s);
}

typedef struct {
  Cluster *c;
  guint32 seed;
  gint stop;                 /* atomic */
  GMutex lock;               /* dirs, stored, counters below */
  gchar *dirs[N_PEERS];      /* where the workload writes a peer's sources */
  GPtrArray *stored;         /* Stored, acknowledged */
  guint ops, stores, acked, store_errors, skipped;
  guint fetches, fetch_ok, fetch_errors, fetch_wrong;
  guint unanswered;           /* requests a running peer left without an answer
                               * until the client's timeout (UNANSWERED_S) */
  guint faults[F_N];
  gboolean diskfull_skipped;
  gchar *diskfull_why;
  gint disk_peer;            /* -1: none on a tmpfs */
  gchar *mnt, *filler;
  gboolean mounted;
  MbNet net;
  gint cut_peer;             /* atomic: the peer cut off now, -1: none */
  GArray *cut_secs;          /* double: each partition's length */
  GArray *rejoin_secs;       /* double: until every peer saw N_PEERS members again, -1: never */
  guint cut_stores, cut_acked, cut_fetches, cut_fetch_ok;  /* at the cut-off peer, cut off */
  guint maj_stores, maj_acked;                             /* at the others meanwhile */
} Nemesis;

/* ---- the tmpfs, unmounted whatever happens ------------------------------------ */

static char mnt_for_signal[4096];
static volatile sig_atomic_t mnt_mounted;

/* The tmpfs is unmounted here; the namespaces need nothing: re-raised, the
 * signal ends this process, its fds close, its children get SIGKILL, and
 * the namespaces and their links go with them. */
static void
on_fatal_signal (int sig)
{
  if (mnt_mounted)
    umount2 (mnt_for_signal, MNT_DETACH);
  signal (sig, SIG_DFL);
  raise (sig);
}

static void
nemesis_unmount (Nemesis *n)
{
  if (!n->mounted)
    return;
  /* the peer holds files there: it goes first */
  if (n->disk_peer >= 0)
    mb_proc_kill (g_steal_pointer (&n->c->peers[n->disk_peer].proc));
  if (umount2 (n->mnt, MNT_DETACH) != 0)
    g_test_fail_printf ("cannot unmount the tmpfs at %s: %s", n->mnt, g_strerror (errno));
  n->mounted = FALSE;
  mnt_mounted = 0;
}

/* ---- the workload (its own thread, its own HTTP session) ------------------------ */

static void
wlog (const char *fmt, ...) G_GNUC_PRINTF (1, 2);

static void
wlog (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree gchar *s = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_printerr ("# workload: %s\n", s);
}

static gsize
pick_size (GRand *r)
{
  switch (g_rand_int_range (r, 0, 6))
    {
    case 0: return (gsize) g_rand_int_range (r, 1, 4096);
    case 1: return 256 * 1024;
    case 2: return 256 * 1024 + 1;
    case 3: return (gsize) g_rand_int_range (r, 100 * 1024, 1 << 20);
    default: return (gsize) g_rand_int_range (r, 1 << 20, 3 << 20);
    }
}

static gchar *
file_sha (const char *path)
{
  gchar *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &data, &len, NULL))
    return NULL;
  gchar *sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) data, len);
  g_free (data);
  return sha;
}

static void
work_store (Nemesis *n, SoupSession *s, GRand *r, guint at, guint k)
{
  Cluster *c = n->c;
  g_autofree gchar *name = g_strdup_printf ("w%04u.bin", k);
  gsize size = pick_size (r);
  g_mutex_lock (&n->lock);
  g_autofree gchar *dir = g_strdup (n->dirs[at]);
  g_mutex_unlock (&n->lock);
  g_autofree gchar *sha = mb_random_file (dir, name, size, g_rand_int (r));
  if (sha == NULL)
    {
      /* the source cannot be written (the peer's disk is full): no operation */
      g_mutex_lock (&n->lock);
      n->skipped++;
      g_mutex_unlock (&n->lock);
      return;
    }
  g_autofree gchar *url = g_strconcat (c->peers[at].url, "/store_file", NULL);
  g_autofree gchar *body = g_strdup_printf ("{\"filename\": \"%s\"}", name);
  gint64 t0 = g_get_monotonic_time ();
  gint cut = g_atomic_int_get (&n->cut_peer);
  g_autoptr (Reply) rep = mb_http_bearer (s, "POST", url, body, -1, c->token);
  g_autofree gchar *text = mb_body_text (rep);
  gboolean ok = rep->status == 200 && g_strcmp0 (mb_str (rep, "status"), "success") == 0;
  double took = mb_secs_since (t0);
  gboolean mute = rep->status == 0 && took >= UNANSWERED_S;
  wlog ("store %s (%" G_GSIZE_FORMAT " bytes) at %s%s: %.2f s, %s%s", name, size, c->peers[at].id,
        cut < 0 ? "" : cut == (gint) at ? " (cut off)" : " (a partition elsewhere)",
        took, text, mute ? " -- NO ANSWER" : "");
  g_mutex_lock (&n->lock);
  n->unanswered += mute;
  n->ops++;
  n->stores++;
  if (cut >= 0)
    {
      n->cut_stores += cut == (gint) at;
      n->cut_acked += cut == (gint) at && ok;
      n->maj_stores += cut != (gint) at;
      n->maj_acked += cut != (gint) at && ok;
    }
  if (ok)
    {
      Stored *st = g_new0 (Stored, 1);
      st->name = g_strdup (name);
      st->sha = g_strdup (sha);
      st->at = at;
      st->size = size;
      st->chunks = mb_int (rep, "chunks");
      st->placed = mb_int (rep, "chunks_placed");
      st->failed = mb_int (rep, "chunks_failed");
      st->owners = mb_int (rep, "manifest_owners");
      g_ptr_array_add (n->stored, st);
      n->acked++;
    }
  else
    n->store_errors++;
  g_mutex_unlock (&n->lock);
}

static void
work_fetch (Nemesis *n, SoupSession *s, GRand *r, guint at)
{
  Cluster *c = n->c;
  g_mutex_lock (&n->lock);
  Stored *st = n->stored->pdata[g_rand_int_range (r, 0, (gint32) n->stored->len)];
  g_autofree gchar *name = g_strdup (st->name);
  g_autofree gchar *sha = g_strdup (st->sha);
  g_mutex_unlock (&n->lock);
  g_autofree gchar *url = g_strconcat (c->peers[at].url, "/fetch_file", NULL);
  g_autofree gchar *body = g_strdup_printf ("{\"filename\": \"%s\"}", name);
  gint64 t0 = g_get_monotonic_time ();
  gint cut = g_atomic_int_get (&n->cut_peer);
  g_autoptr (Reply) rep = mb_http_bearer (s, "POST", url, body, -1, c->token);
  g_autofree gchar *text = mb_body_text (rep);
  gboolean ok = rep->status == 200 && g_strcmp0 (mb_str (rep, "status"), "success") == 0;
  g_autofree gchar *got = ok && mb_str (rep, "path") ? file_sha (mb_str (rep, "path")) : NULL;
  gboolean wrong = ok && g_strcmp0 (got, sha) != 0;
  double took = mb_secs_since (t0);
  gboolean mute = rep->status == 0 && took >= UNANSWERED_S;
  wlog ("fetch %s at %s%s: %.2f s, %s%s%s", name, c->peers[at].id,
        cut == (gint) at ? " (cut off)" : "", took, text,
        wrong ? " -- WRONG BYTES" : "", mute ? " -- NO ANSWER" : "");
  g_mutex_lock (&n->lock);
  n->unanswered += mute;
  n->ops++;
  n->fetches++;
  n->cut_fetches += cut == (gint) at;
  n->cut_fetch_ok += cut == (gint) at && ok && !wrong;
  if (wrong)
    n->fetch_wrong++;
  else if (ok)
    n->fetch_ok++;
  else
    n->fetch_errors++;
  g_mutex_unlock (&n->lock);
}

static gpointer
workload (gpointer data)
{
  Nemesis *n = data;
  g_autoptr (GRand) r = g_rand_new_with_seed (n->seed ^ 0x9e3779b9u);
  g_autoptr (SoupSession) s = soup_session_new_with_options ("timeout", 30, "idle-timeout", 30,
                                                             NULL);
  for (guint k = 0; k < MAX_OPS && !g_atomic_int_get (&n->stop); k++)
    {
      guint at = (guint) g_rand_int_range (r, 0, N_PEERS);
      g_mutex_lock (&n->lock);
      gboolean any = n->stored->len > 0;
      g_mutex_unlock (&n->lock);
      if (!any || g_rand_boolean (r))
        work_store (n, s, r, at, k);
      else
        work_fetch (n, s, r, at);
      g_usleep (50000);
    }
  return NULL;
}

/* ---- the nemesis ------------------------------------------------------------------ */

/* Pumps the main context (child watches) for a random time in [lo, hi] ms. */
static void
pause_ms (GRand *r, guint lo, guint hi)
{
  mb_pump ((guint) g_rand_int_range (r, (gint32) lo, (gint32) hi + 1));
}

static gboolean
restart (Nemesis *n, guint i)
{
  Cluster *c = n->c;
  for (guint attempt = 1; attempt <= 3; attempt++)
    {
      g_autoptr (GError) err = NULL;
      gint64 t0 = g_get_monotonic_time ();
      if (mb_peer_restart (c, i, RESTART_MS, &err))
        {
          g_test_message ("nemesis: %s restarted on %s in %.2f s", c->peers[i].id,
                          c->peers[i].dir, mb_secs_since (t0));
          return TRUE;
        }
      g_test_message ("nemesis: restart of %s failed (attempt %u): %s", c->peers[i].id,
                      attempt, err->message);
      mb_pump (1000);
    }
  mb_fail (__FILE__, __LINE__, "restart", "%s cannot be restarted", c->peers[i].id);
  return FALSE;
}

/* A running peer, none of not1..not3 (-1: none), at random; -1 if none. */
static gint
pick_alive3 (Cluster *c, GRand *r, gint not1, gint not2, gint not3)
{
  guint cand[N_PEERS], k = 0;
  for (guint i = 0; i < N_PEERS; i++)
    if (mb_alive (c, i) && (gint) i != not1 && (gint) i != not2 && (gint) i != not3)
      cand[k++] = i;
  return k == 0 ? -1 : (gint) cand[g_rand_int_range (r, 0, (gint32) k)];
}

static gint
pick_alive (Cluster *c, GRand *r, gint not)
{
  return pick_alive3 (c, r, not, -1, -1);
}

static gboolean
fault_kill9 (Nemesis *n, GRand *r)
{
  Cluster *c = n->c;
  gint v = pick_alive (c, r, -1);
  CHECK (v >= 0);
  g_test_message ("nemesis: kill -9 %s", c->peers[v].id);
  g_subprocess_send_signal (c->peers[v].proc->proc, SIGKILL);
  CHECKF (mb_wait_exit (c->peers[v].proc, 5000), "%s survives SIGKILL", c->peers[v].id);
  pause_ms (r, 500, 4000);   /* the failure detector may or may not see it */
  return restart (n, (guint) v);
}

/* SIGTERM to the peers in v at once; each must exit within LEAVE_MS. */
static gboolean
graceful_leaves (Nemesis *n, const gint *v, guint k)
{
  Cluster *c = n->c;
  for (guint j = 0; j < k; j++)
    {
      g_test_message ("nemesis: graceful leave (SIGTERM) of %s", c->peers[v[j]].id);
      g_subprocess_send_signal (c->peers[v[j]].proc->proc, SIGTERM);
    }
  gint64 t0 = g_get_monotonic_time ();
  for (guint j = 0; j < k; j++)
    {
      gint64 left = LEAVE_MS - (g_get_monotonic_time () - t0) / 1000;
      if (!mb_wait_exit (c->peers[v[j]].proc, (guint) MAX (left, 0)))
        {
          mb_fail (__FILE__, __LINE__, "exited", "%s still runs %u ms after SIGTERM",
                   c->peers[v[j]].id, LEAVE_MS);
          g_subprocess_force_exit (c->peers[v[j]].proc->proc);
          mb_wait_exit (c->peers[v[j]].proc, 5000);
        }
      else
        g_test_message ("nemesis: %s left in %.2f s", c->peers[v[j]].id, mb_secs_since (t0));
    }
  return TRUE;
}

static gboolean
fault_leave (Nemesis *n, GRand *r, guint k)
{
  gint v[2];
  v[0] = pick_alive (n->c, r, -1);
  v[1] = pick_alive (n->c, r, v[0]);
  CHECK (v[0] >= 0 && (k < 2 || v[1] >= 0));
  graceful_leaves (n, v, k);
  pause_ms (r, 500, 3000);
  gboolean ok = TRUE;
  for (guint j = 0; j < k; j++)
    ok = restart (n, (guint) v[j]) && ok;
  return ok;
}

#define SQUAT_DATA "39 bytes a squatter wants on the ring.."


/* An acknowledged name to squat (or a fresh one). */
static gchar *
squat_name (Nemesis *n, GRand *r)
{
  g_mutex_lock (&n->lock);
  gchar *name = n->stored->len > 0
    ? g_strdup (((Stored *) n->stored->pdata[g_rand_int_range (r, 0, (gint32) n->stored->len)])->name)
    : g_strdup ("squatted.bin");
  g_mutex_unlock (&n->lock);
  return name;
}

static gboolean
fault_fake (Nemesis *n, GRand *r, gboolean thief)
{
  Cluster *c = n->c;
  gint at = pick_alive (c, r, -1);
  gint other = pick_alive (c, r, at);
  CHECK (at >= 0 && other >= 0);
  g_autofree gchar *name = squat_name (n, r);
  g_autoptr (GError) err = NULL;
  MbFake *f = mb_fake_connect (c->peers[at].wire, &err);
  CHECKF (f != NULL, "connect to %s: %s", c->peers[at].wire, err ? err->message : "?");
  gboolean in;
  MbFakeHome *home = NULL;
  if (thief)
    {
      /* with the secret, claiming `other`'s address, announcing its leave */
      g_autoptr (GBytes) secret = g_bytes_new_static (E2E_SECRET, strlen (E2E_SECRET));
      in = mb_fake_handshake (f, "thief", c->peers[other].wire, secret, NULL, &err);
    }
  else
    {
      home = mb_fake_home_new (NULL);
      in = mb_fake_handshake (f, "stranger", mb_fake_home_addr (home), NULL, home, &err);
    }
  gboolean sent = in && mb_fake_send_attack (f, name, SQUAT_DATA, c->peers[other].wire);
  gboolean closed = mb_fake_wait_closed (f, 3000);
  g_test_message ("nemesis: %s at %s (claims %s, squats %s, evicts %s): handshake %s, frames %s, %s",
                  thief ? "thief with the secret" : "stranger without the secret",
                  c->peers[at].id, thief ? c->peers[other].id : "an address of its own", name,
                  c->peers[other].id, in ? "done" : (err ? err->message : "failed"),
                  sent ? "all sent" : "not all sent",
                  closed ? "disconnected" : "STILL CONNECTED");
  mb_fake_free (f);
  mb_fake_home_free (home);
  CHECKF (closed, "%s kept the connection of a %s", c->peers[at].id, thief ? "thief" : "stranger");
  return TRUE;
}

/* Bytes of regular files under path (no symbolic links followed). */
static guint64
tree_size (const char *path, guint depth)
{
  GStatBuf st;
  if (depth > 8 || g_lstat (path, &st) != 0)
    return 0;
  if (S_ISREG (st.st_mode))
    return (guint64) st.st_size;
  if (!S_ISDIR (st.st_mode))
    return 0;
  guint64 sum = 4096;
  GDir *d = g_dir_open (path, 0, NULL);
  const char *e;
  while (d != NULL && (e = g_dir_read_name (d)) != NULL)
    {
      g_autofree gchar *child = g_build_filename (path, e, NULL);
      sum += tree_size (child, depth + 1) + 4096;
    }
  if (d != NULL)
    g_dir_close (d);
  return sum;
}

/* Copies folders and regular files from src into dst (made); symbolic
 * links and anything else are left out.  FALSE on an error. */
static gboolean
copy_tree (const char *src, const char *dst, guint depth)
{
  GStatBuf st;
  if (depth > 8 || g_lstat (src, &st) != 0)
    return FALSE;
  if (S_ISREG (st.st_mode))
    {
      gchar *data = NULL;
      gsize len = 0;
      gboolean ok = g_file_get_contents (src, &data, &len, NULL)
                    && g_file_set_contents_full (dst, data, (gssize) len,
                                                 G_FILE_SET_CONTENTS_NONE, 0600, NULL);
      g_free (data);
      return ok;
    }
  if (!S_ISDIR (st.st_mode))
    return TRUE;
  if (g_mkdir (dst, 0700) != 0 && errno != EEXIST)
    return FALSE;
  GDir *d = g_dir_open (src, 0, NULL);
  gboolean ok = d != NULL;
  const char *e;
  while (ok && (e = g_dir_read_name (d)) != NULL)
    {
      g_autofree gchar *a = g_build_filename (src, e, NULL);
      g_autofree gchar *b = g_build_filename (dst, e, NULL);
      ok = copy_tree (a, b, depth + 1);
    }
  if (d != NULL)
    g_dir_close (d);
  return ok;
}

static gboolean
fault_diskfull (Nemesis *n, GRand *r)
{
  Cluster *c = n->c;
  if (geteuid () != 0)
    {
      n->diskfull_skipped = TRUE;
      n->diskfull_why = g_strdup ("mounting a tmpfs needs root");
      g_test_message ("nemesis: diskfull skipped: %s", n->diskfull_why);
      return TRUE;
    }
  gint v = pick_alive (c, r, -1);
  CHECK (v >= 0);
  Peer *p = &c->peers[v];
  n->mnt = g_build_filename (c->root, "small-disk", NULL);
  CHECK (g_mkdir (n->mnt, 0700) == 0);
  g_test_message ("nemesis: diskfull: kill -9 %s, its DATA_DIR onto a tmpfs, filled", p->id);
  g_subprocess_send_signal (p->proc->proc, SIGKILL);
  CHECKF (mb_wait_exit (p->proc, 5000), "%s survives SIGKILL", p->id);
  guint64 used = tree_size (p->dir, 0);
  guint64 size = ((used + TMPFS_ROOM) + (1 << 20) - 1) & ~(guint64) ((1 << 20) - 1);
  g_autofree gchar *opts = g_strdup_printf ("size=%" G_GUINT64_FORMAT ",mode=0700", size);
  g_strlcpy (mnt_for_signal, n->mnt, sizeof mnt_for_signal);
  if (mount ("tmpfs", n->mnt, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0)
    {
      n->diskfull_skipped = TRUE;
      n->diskfull_why = g_strdup_printf ("cannot mount a tmpfs at %s: %s", n->mnt,
                                         g_strerror (errno));
      g_test_message ("nemesis: diskfull skipped: %s", n->diskfull_why);
      return restart (n, (guint) v);
    }
  n->mounted = TRUE;
  mnt_mounted = 1;
  n->disk_peer = v;
  g_autofree gchar *data = g_build_filename (n->mnt, "data", NULL);
  CHECKF (copy_tree (p->dir, data, 0), "cannot copy %s to %s", p->dir, data);
  g_test_message ("nemesis: %s's DATA_DIR (%" G_GUINT64_FORMAT " bytes) copied to a %"
                  G_GUINT64_FORMAT "-byte tmpfs", p->id, used, size);
  g_free (p->dir);
  p->dir = g_strdup (data);
  g_mutex_lock (&n->lock);
  g_free (n->dirs[v]);
  n->dirs[v] = g_strdup (data);
  g_mutex_unlock (&n->lock);
  if (!restart (n, (guint) v))
    return FALSE;
  n->filler = g_build_filename (n->mnt, "filler", NULL);
  CHECKF (mb_test_fill_disk (n->filler, 256), "cannot fill the tmpfs at %s", n->mnt);
  g_test_message ("nemesis: %s's disk is full", p->id);
  return TRUE;
}

/* Peer v cut off from the other peers and the tracker for 5-15 s (its
 * process running, its HTTP still reached by the workload), then the
 * partition heals; every peer must see N_PEERS members again within
 * REJOIN_MS. */
static gboolean
fault_partition (Nemesis *n, GRand *r)
{
  Cluster *c = n->c;
  if (!n->net.up)
    {
      g_test_message ("nemesis: partition skipped: %s", n->net.why);
      return TRUE;
    }
  gint v = pick_alive (c, r, -1);
  CHECK (v >= 0);
  guint ms = (guint) g_rand_int_range (r, CUT_MIN_MS, CUT_MAX_MS + 1);
  g_autoptr (GError) err = NULL;
  g_test_message ("nemesis: partition: %s (%s) cut off from the other peers and the tracker "
                  "for %.1f s (its bridge port blocked), its process running", c->peers[v].id,
                  c->peers[v].wire, ms / 1000.0);
  gint64 t0 = g_get_monotonic_time ();
  if (!mb_net_cut (&n->net, (guint) v, TRUE, &err))
    {
      mb_fail (__FILE__, __LINE__, "cut", "cannot cut %s off: %s", c->peers[v].id, err->message);
      mb_net_cut (&n->net, (guint) v, FALSE, NULL);
      return FALSE;
    }
  g_atomic_int_set (&n->cut_peer, v);
  /* Once both sides can have noticed (the failure detector: 3 pings of
   * 300 ms), a store and a fetch at the cut-off peer and a store at another
   * (the workload's single thread may be waiting on v meanwhile): each
   * acknowledged store joins the checked ones. */
  mb_pump (MIN (ms, 2500u));
  {
    g_autoptr (SoupSession) s = soup_session_new_with_options ("timeout", 30, "idle-timeout", 30,
                                                               NULL);
    guint k = 10000 + 10 * n->cut_secs->len;
    gint other = pick_alive (c, r, v);
    work_store (n, s, r, (guint) v, k);
    g_mutex_lock (&n->lock);
    gboolean any = n->stored->len > 0;
    g_mutex_unlock (&n->lock);
    if (any)
      work_fetch (n, s, r, (guint) v);
    if (other >= 0)
      work_store (n, s, r, (guint) other, k + 1);
  }
  gint64 left = (gint64) ms - (g_get_monotonic_time () - t0) / 1000;
  if (left > 0)
    mb_pump ((guint) left);
  gboolean alive = mb_alive (c, (guint) v);
  g_clear_error (&err);
  gboolean healed = mb_net_cut (&n->net, (guint) v, FALSE, &err);
  g_atomic_int_set (&n->cut_peer, -1);
  double cut_s = mb_secs_since (t0);
  g_test_message ("nemesis: partition of %s healed after %.2f s%s", c->peers[v].id, cut_s,
                  alive ? "" : " (its process EXITED meanwhile)");
  CHECKF (healed, "cannot heal the partition of %s: %s", c->peers[v].id, err->message);
  CHECKF (alive, "%s exited while it was cut off", c->peers[v].id);
  gint64 t1 = g_get_monotonic_time ();
  gboolean whole = mb_wait_members (c, N_PEERS, REJOIN_MS, NULL);
  double rejoin_s = whole ? mb_secs_since (t1) : -1;
  g_mutex_lock (&n->lock);
  g_array_append_val (n->cut_secs, cut_s);
  g_array_append_val (n->rejoin_secs, rejoin_s);
  g_mutex_unlock (&n->lock);
  if (whole)
    g_test_message ("nemesis: every peer sees %d members again %.2f s after the heal",
                    N_PEERS, rejoin_s);
  CHECKF (whole, "the peers do not all see %d members %u ms after %s's partition healed",
          N_PEERS, REJOIN_MS, c->peers[v].id);
  return TRUE;
}

static gboolean
run_fault (Nemesis *n, GRand *r, Fault f)
{
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok;
  switch (f)
    {
    case F_KILL9: ok = fault_kill9 (n, r); break;
    case F_LEAVE: ok = fault_leave (n, r, 1); break;
    case F_LEAVE2: ok = fault_leave (n, r, 2); break;
    case F_STRANGER: ok = fault_fake (n, r, FALSE); break;
    case F_THIEF: ok = fault_fake (n, r, TRUE); break;
    case F_DISKFULL: ok = fault_diskfull (n, r); break;
    default: ok = fault_partition (n, r); break;
    }
  if (!(f == F_DISKFULL && n->diskfull_skipped) && !(f == F_PARTITION && !n->net.up))
    n->faults[f]++;
  g_test_message ("nemesis: %s done in %.2f s", fault_name[f], mb_secs_since (t0));
  return ok;
}

static void
shuffle (GRand *r, Fault *v, guint k)
{
  for (guint i = k; i > 1; i--)
    {
      guint j = (guint) g_rand_int_range (r, 0, (gint32) i);
      Fault t = v[i - 1];
      v[i - 1] = v[j];
      v[j] = t;
    }
}

static gboolean
nemesis (Nemesis *n, guint secs)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (n->seed);
  gint64 end = g_get_monotonic_time () + (gint64) secs * G_USEC_PER_SEC;
  for (guint round = 0; round < 10 && g_get_monotonic_time () < end; round++)
    {
      Fault order[F_N] = { F_KILL9, F_LEAVE, F_LEAVE2, F_STRANGER, F_THIEF, F_PARTITION,
                           F_DISKFULL };
      guint k = round == 0 ? F_N : F_N - 1;   /* one disk-full, in the first round */
      shuffle (r, order, k);
      /* a partition early in the first round, so that a short run has one */
      for (guint j = 3; round == 0 && j < k; j++)
        if (order[j] == F_PARTITION)
          {
            guint to = (guint) g_rand_int_range (r, 0, 3);
            order[j] = order[to];
            order[to] = F_PARTITION;
          }
      for (guint j = 0; j < k && g_get_monotonic_time () < end; j++)
        {
          pause_ms (r, 1500, 4000);
          if (!run_fault (n, r, order[j]))
            return FALSE;
        }
    }
  return TRUE;
}

/* ---- the checker ------------------------------------------------------------------- */

/* The manifest of name from any live peer (following an owner redirect). */
static MbManifest *
find_manifest (Cluster *c, const char *name)
{
  g_autofree gchar *esc = g_uri_escape_string (name, NULL, TRUE);
  g_autofree gchar *path = g_strconcat ("/get_manifest/", esc, NULL);
  for (guint i = 0; i < N_PEERS; i++)
    {
      if (!mb_alive (c, i))
        continue;
      g_autoptr (Reply) rep = mb_peer_http (c, i, FALSE, "GET", path, NULL);
      if (rep->status == 404 && mb_str (rep, "owner") != NULL)
        {
          gint o = mb_peer_by_wire (c, mb_str (rep, "owner"));
          if (o < 0 || !mb_alive (c, (guint) o))
            continue;
          mb_reply_free (g_steal_pointer (&rep));
          rep = mb_peer_http (c, (guint) o, FALSE, "GET", path, NULL);
        }
      if (rep->status != 200)
        continue;
      gsize len = 0;
      const char *d = g_bytes_get_data (rep->body, &len);
      MbManifest *m = mb_manifest_from_json (d, (gssize) len, NULL);
      if (m != NULL)
        return m;
    }
  return NULL;
}

/* Copies of every chunk of every acknowledged store on the live peers:
 * *under gets the chunks below R, *total the chunks, *fewest the least
 * copies; with `show`, each chunk below R is logged. */
static void
count_copies (Nemesis *n, gboolean show, guint *under, guint *total, guint *fewest,
              guint *no_manifest)
{
  Cluster *c = n->c;
  *under = *total = *no_manifest = 0;
  *fewest = G_MAXUINT;
  for (guint s = 0; s < n->stored->len; s++)
    {
      Stored *st = n->stored->pdata[s];
      g_autoptr (MbManifest) m = find_manifest (c, st->name);
      if (m == NULL)
        {
          (*no_manifest)++;
          if (show)
            g_test_message ("copies: no live peer gives the manifest of %s", st->name);
          continue;
        }
      for (guint k = 0; k < mb_manifest_n_chunks (m); k++)
        {
          const char *id = mb_manifest_chunk_id (m, k);
          g_autofree gchar *path = g_strconcat ("/get_chunk/", id, NULL);
          guint copies = 0;
          GString *on = g_string_new (NULL);
          for (guint i = 0; i < N_PEERS; i++)
            {
              if (!mb_alive (c, i))
                continue;
              g_autoptr (Reply) rep = mb_peer_http (c, i, FALSE, "GET", path, NULL);
              if (rep->status != 200)
                continue;
              gsize len = 0;
              const guint8 *d = g_bytes_get_data (rep->body, &len);
              char got[65];
              mb_chunk_id_compute (d, len, got);
              if (strcmp (got, id) == 0)
                {
                  copies++;
                  g_string_append_printf (on, " %s", c->peers[i].id);
                }
            }
          (*total)++;
          *fewest = MIN (*fewest, copies);
          if (copies < R)
            {
              (*under)++;
              if (show)
                g_test_message ("copies: %s chunk %u (%.12s...): %u copies, on%s", st->name, k,
                                id, copies, on->str);
            }
          g_string_free (on, TRUE);
        }
    }
  if (*fewest == G_MAXUINT)
    *fewest = 0;
}

/* Fetches name at peer `at`: TRUE with *sha set on a success; the reply
 * as text in *text. */
static gboolean
check_fetch (Cluster *c, guint at, const char *name, gchar **sha, gchar **text)
{
  g_autofree gchar *body = g_strdup_printf ("{\"filename\": \"%s\"}", name);
  g_autoptr (Reply) rep = mb_peer_http (c, at, TRUE, "POST", "/fetch_file", body);
  *text = mb_body_text (rep);
  if (rep->status != 200 || g_strcmp0 (mb_str (rep, "status"), "success") != 0)
    return FALSE;
  *sha = mb_str (rep, "path") ? file_sha (mb_str (rep, "path")) : NULL;
  return TRUE;
}

/* Lines of every peer's logs (this run's and the earlier ones) naming
 * `what`, at most `max`. */
static void
show_log_lines (Cluster *c, const char *what, guint max)
{
  guint shown = 0;
  for (guint i = 0; i < N_PEERS && shown < max; i++)
    for (guint gen = 0; gen < 50 && shown < max; gen++)
      {
        g_autofree gchar *path = gen == 0 ? g_strdup (c->peers[i].log)
                                          : g_strdup_printf ("%s.%u", c->peers[i].log, gen);
        g_autofree gchar *text = NULL;
        if (!g_file_get_contents (path, &text, NULL, NULL))
          {
            if (gen > 0)
              break;
            continue;
          }
        g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
        for (guint k = 0; lines[k] != NULL && shown < max; k++)
          if (strstr (lines[k], what) != NULL && strstr (lines[k], "GLib-GIO-DEBUG") == NULL)
            {
              g_test_message ("  %s%s%.0u| %s", c->peers[i].id, gen ? "." : "", gen, lines[k]);
              shown++;
            }
      }
}

/* For a lost store: each chunk's live holders (GET /get_chunk), and the
 * holders each live peer's stored manifest lists (an owner's copy). */
static void
show_lost_detail (Cluster *c, const char *name)
{
  g_autofree gchar *esc = g_uri_escape_string (name, NULL, TRUE);
  g_autofree gchar *mpath = g_strconcat ("/get_manifest/", esc, NULL);
  for (guint i = 0; i < N_PEERS; i++)
    {
      if (!mb_alive (c, i))
        continue;
      g_autoptr (Reply) rep = mb_peer_http (c, i, FALSE, "GET", mpath, NULL);
      gsize len = 0;
      const char *d = rep->status == 200 ? g_bytes_get_data (rep->body, &len) : NULL;
      g_autoptr (MbManifest) m = d ? mb_manifest_from_json (d, (gssize) len, NULL) : NULL;
      if (m == NULL)
        continue;
      GString *s = g_string_new (NULL);
      for (guint k = 0; k < mb_manifest_n_chunks (m); k++)
        {
          g_string_append_printf (s, "; chunk %u listed on", k);
          for (guint h = 0; h < mb_manifest_n_holders (m, k); h++)
            {
              gint p = mb_peer_by_wire (c, mb_manifest_holder (m, k, h));
              g_string_append_printf (s, " %s", p >= 0 ? c->peers[p].id : mb_manifest_holder (m, k, h));
            }
          g_string_append (s, ", held by");
          g_autofree gchar *cpath = g_strconcat ("/get_chunk/", mb_manifest_chunk_id (m, k), NULL);
          for (guint j = 0; j < N_PEERS; j++)
            if (mb_alive (c, j))
              {
                g_autoptr (Reply) cr = mb_peer_http (c, j, FALSE, "GET", cpath, NULL);
                if (cr->status == 200)
                  g_string_append_printf (s, " %s", c->peers[j].id);
              }
        }
      g_test_message ("  the manifest %s keeps%s", c->peers[i].id, s->str);
      g_string_free (s, TRUE);
    }
}

/* An acknowledged store whose reply says some copy attempt failed (and
 * was handed off) or that fewer than R manifest owners (but a write quorum)
 * acknowledged. */
static gboolean
short_ack (const Stored *st)
{
  return st->failed > 0 || st->placed < st->chunks * R || st->owners < R;
}

static gboolean
run_nemesis (Nemesis *n)
{
  Cluster *c = n->c;
  const char *secs_env = g_getenv ("MINIBIT_NEMESIS_SECS");
  guint secs = secs_env ? (guint) CLAMP (g_ascii_strtoull (secs_env, NULL, 10), 5, 300)
                        : DEFAULT_SECS;
  g_test_message ("nemesis: seed %u (MINIBIT_NEMESIS_SEED=%u to run it again), %u s of faults",
                  n->seed, n->seed, secs);
  for (guint i = 0; i < N_PEERS; i++)
    n->dirs[i] = g_strdup (c->peers[i].dir);
  GThread *w = g_thread_new ("workload", workload, n);
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok = nemesis (n, secs);
  g_atomic_int_set (&n->stop, 1);
  g_thread_join (w);
  g_test_message ("nemesis: stopped after %.2f s (workload joined)", mb_secs_since (t0));

  /* The cluster whole again: room on the disk, every peer running. */
  if (n->filler != NULL)
    g_unlink (n->filler);
  for (guint i = 0; i < N_PEERS; i++)
    if (!mb_alive (c, i))
      ok = restart (n, i) && ok;
  gint64 t1 = g_get_monotonic_time ();
  gboolean whole = mb_wait_members (c, N_PEERS, MEMBERS_MS, NULL);
  g_test_message ("members == %d everywhere: %s after %.2f s", N_PEERS, whole ? "yes" : "NO",
                  mb_secs_since (t1));
  if (!whole)
    mb_fail (__FILE__, __LINE__, "whole", "the peers do not all see %d members %u ms after "
             "the nemesis", N_PEERS, MEMBERS_MS);

  /* Repair, bounded: chunk copies counted until none is below R. */
  guint under = 0, total = 0, fewest = 0, no_manifest = 0;
  gint64 end = g_get_monotonic_time () + (gint64) REPAIR_MS * 1000;
  mb_pump (3000);
  for (guint pass = 0; pass < 10; pass++)
    {
      count_copies (n, FALSE, &under, &total, &fewest, &no_manifest);
      g_test_message ("repair, %.2f s after the nemesis: %u chunks, %u below %d copies, fewest "
                      "%u, %u stores without a manifest", mb_secs_since (t1), total, under, R,
                      fewest, no_manifest);
      if ((under == 0 && no_manifest == 0) || g_get_monotonic_time () >= end)
        break;
      mb_pump (5000);
    }
  if (under > 0 || no_manifest > 0)
    count_copies (n, TRUE, &under, &total, &fewest, &no_manifest);
  mb_log_chunks (c, "after repair");

  /* Every acknowledged store, fetched elsewhere, with its exact bytes. */
  g_autoptr (GRand) r = g_rand_new_with_seed (n->seed + 1);
  guint lost = 0, lost_short = 0, retried = 0;
  g_autoptr (GPtrArray) lost_names = g_ptr_array_new ();
  for (guint s = 0; s < n->stored->len; s++)
    {
      Stored *st = n->stored->pdata[s];
      /* not at the peer on the small disk: the checker's own downloads
       * (every fetched file is kept) would fill it */
      gint at = pick_alive3 (c, r, (gint) st->at, n->disk_peer, -1);
      gboolean good = FALSE, wrong = FALSE;
      for (guint attempt = 0; attempt < 2 && at >= 0 && !good && !wrong; attempt++)
        {
          g_autofree gchar *sha = NULL, *text = NULL;
          gboolean answered = check_fetch (c, (guint) at, st->name, &sha, &text);
          good = answered && g_strcmp0 (sha, st->sha) == 0;
          wrong = answered && !good;
          if (!good)
            g_test_message ("check: fetch %s (stored at %s, %" G_GSIZE_FORMAT " bytes) at %s: "
                            "%s%s", st->name, c->peers[st->at].id, st->size, c->peers[at].id,
                            text, wrong ? " -- WRONG BYTES" : "");
          if (!good && !wrong && attempt == 0)
            {
              retried++;
              mb_pump (1000);
              gint again = pick_alive3 (c, r, (gint) st->at, n->disk_peer, at);
              at = again >= 0 ? again : at;
            }
        }
      if (!good)
        {
          lost++;
          lost_short += short_ack (st);
          g_ptr_array_add (lost_names, st);
        }
    }

  g_mutex_lock (&n->lock);
  GString *fk = g_string_new (NULL);
  for (guint f = 0; f < F_N; f++)
    g_string_append_printf (fk, "%s%s=%u", f ? " " : "", fault_name[f], n->faults[f]);
  guint short_acks = 0;
  for (guint s = 0; s < n->stored->len; s++)
    short_acks += short_ack (n->stored->pdata[s]);
  g_autofree gchar *summary = g_strdup_printf (
    "nemesis summary: seed %u; operations %u (stores %u: acknowledged %u, errors %u; fetches %u: "
    "ok %u, errors %u, wrong bytes %u; %u sources not written, disk full; unanswered %u); "
    "faults %s%s%s; "
    "acknowledged through quorum or hand-off %u; lost %u (of them acknowledged "
    "so %u; fetch retried %u); chunks %u, under-replicated %u (fewest copies %u), stores "
    "without a manifest %u",
    n->seed, n->ops, n->stores, n->acked, n->store_errors, n->fetches, n->fetch_ok,
    n->fetch_errors, n->fetch_wrong, n->skipped, n->unanswered, fk->str,
    n->diskfull_skipped ? " (diskfull skipped: " : "",
    n->diskfull_skipped ? n->diskfull_why : "", short_acks, lost, lost_short, retried, total,
    under, fewest, no_manifest);
  g_string_free (fk, TRUE);
  if (n->diskfull_skipped)
    {
      gchar *fixed = g_strconcat (summary, ")", NULL);
      g_free (summary);
      summary = fixed;
    }
  /* the partitions: how long each cut lasted, how long until the members were whole */
  GString *ps = g_string_new (NULL);
  if (!n->net.up)
    g_string_append_printf (ps, "; partition skipped: %s", n->net.why);
  else if (n->cut_secs->len == 0)
    g_string_append (ps, "; partitions 0");
  else
    {
      g_string_append_printf (ps, "; partitions %u, cut for", n->cut_secs->len);
      for (guint k = 0; k < n->cut_secs->len; k++)
        g_string_append_printf (ps, "%s %.1f", k ? "," : "", g_array_index (n->cut_secs, double, k));
      g_string_append (ps, " s, members whole again after");
      for (guint k = 0; k < n->rejoin_secs->len; k++)
        {
          double t = g_array_index (n->rejoin_secs, double, k);
          if (t < 0)
            g_string_append_printf (ps, "%s NEVER", k ? "," : "");
          else
            g_string_append_printf (ps, "%s %.1f", k ? "," : "", t);
        }
      g_string_append_printf (ps, " s; at the cut-off peer while cut: stores %u (acknowledged "
                              "%u), fetches %u (ok %u); at the others meanwhile: stores %u "
                              "(acknowledged %u)", n->cut_stores, n->cut_acked, n->cut_fetches,
                              n->cut_fetch_ok, n->maj_stores, n->maj_acked);
    }
  g_mutex_unlock (&n->lock);
  {
    gchar *fixed = g_strconcat (summary, ps->str, NULL);
    g_free (summary);
    summary = fixed;
    g_string_free (ps, TRUE);
  }
  g_test_message ("%s", summary);
  g_printerr ("# %s\n", summary);

  for (guint k = 0; k < lost_names->len; k++)
    {
      Stored *st = lost_names->pdata[k];
      g_test_message ("LOST %s (%" G_GSIZE_FORMAT " bytes, stored at %s: chunks %" G_GINT64_FORMAT
                      ", placed %" G_GINT64_FORMAT ", failed %" G_GINT64_FORMAT
                      ", manifest owners %" G_GINT64_FORMAT "); its log lines:",
                      st->name, st->size, c->peers[st->at].id, st->chunks, st->placed, st->failed,
                      st->owners);
      show_lost_detail (c, st->name);
      show_log_lines (c, st->name, 30);
    }
  if (n->fetch_wrong > 0)
    mb_fail (__FILE__, __LINE__, "fetch_wrong == 0",
             "%u fetches during the run answered success with wrong bytes", n->fetch_wrong);
  if (n->unanswered > 0)
    mb_fail (__FILE__, __LINE__, "unanswered == 0",
             "%u requests got no answer within %.0f s (see NO ANSWER above)", n->unanswered,
             UNANSWERED_S);
  if (lost > 0)
    mb_fail (__FILE__, __LINE__, "lost == 0", "%u acknowledged stores lost (%u of them "
             "acknowledged through quorum or hand-off)", lost, lost_short);
  return ok && lost == 0 && n->fetch_wrong == 0 && n->unanswered == 0;
}

static void
test_nemesis (void)
{
  const char *env = g_getenv ("MINIBIT_NEMESIS_SEED");
  Nemesis *n = g_new0 (Nemesis, 1);
  n->seed = env ? (guint32) g_ascii_strtoull (env, NULL, 10) : g_random_int ();
  n->disk_peer = -1;
  n->cut_peer = -1;
  g_mutex_init (&n->lock);
  n->stored = g_ptr_array_new_with_free_func (stored_free);
  n->cut_secs = g_array_new (FALSE, FALSE, sizeof (double));
  n->rejoin_secs = g_array_new (FALSE, FALSE, sizeof (double));
  g_printerr ("# nemesis seed %u\n", n->seed);
  gint64 t0 = g_get_monotonic_time ();
  mb_net_start (&n->net);
  if (n->net.up)
    n->c = mb_net_cluster_start (&n->net, R);
  else
    {
      g_test_message ("nemesis: the partition fault is skipped: %s; the cluster runs on "
                      "loopback", n->net.why);
      n->c = mb_cluster_start (R);
    }
  if (n->c != NULL)
    {
      struct sigaction sa = { 0 };
      sa.sa_handler = on_fatal_signal;
      sigaction (SIGTERM, &sa, NULL);
      sigaction (SIGINT, &sa, NULL);
      gboolean ok = run_nemesis (n);
      gboolean dump = !ok || g_test_failed ();
      nemesis_unmount (n);
      mb_cluster_free (n->c, dump);
      signal (SIGTERM, SIG_DFL);
      signal (SIGINT, SIG_DFL);
    }
  /* after the processes: a namespace goes once nothing runs in it */
  if (!mb_net_free (&n->net))
    g_test_fail_printf ("links of the test's network are left (see above)");
  for (guint i = 0; i < N_PEERS; i++)
    g_free (n->dirs[i]);
  g_ptr_array_unref (n->stored);
  g_array_unref (n->cut_secs);
  g_array_unref (n->rejoin_secs);
  g_mutex_clear (&n->lock);
  g_free (n->diskfull_why);
  g_free (n->mnt);
  g_free (n->filler);
  g_free (n);
  g_test_message ("nemesis: %.2f s in all", mb_secs_since (t0));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/e2e/nemesis", test_nemesis);
  return g_test_run ();
}
