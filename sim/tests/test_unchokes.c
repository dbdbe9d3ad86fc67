/* test_unchokes.c — unchokes.csv and unchokes-peers.csv hold their
 * definitions: the payload each class handed over under its unchokes is its
 * bytes_up of classes.csv, the peer pairs add up to the class pairs, the
 * shares of each class add up to 1, the population share is the count the
 * README defines, the indices are their ratios; freeriders unchoke no one;
 * an unknown --trace is refused. */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "experiment.h"

/* A CSV as rows of fields, the header first. */
typedef struct {
  GPtrArray *rows; /* GStrv */
} Csv;

static Csv
csv_read (const char *dir, const char *name)
{
  g_autofree gchar *path = g_build_filename (dir, name, NULL);
  g_autofree gchar *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  Csv c = { g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev) };
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] && *lines[i]; i++)
    g_ptr_array_add (c.rows, g_strsplit (lines[i], ",", -1));
  return c;
}

static gint
col (const Csv *c, const char *name)
{
  gchar **h = c->rows->pdata[0];
  for (guint i = 0; h[i]; i++)
    if (strcmp (h[i], name) == 0)
      return (gint) i;
  g_error ("no column %s", name);
  return -1;
}

static const char *
cell (const Csv *c, guint row, const char *name)
{
  return ((gchar **) c->rows->pdata[row])[col (c, name)];
}

static double
num (const Csv *c, guint row, const char *name)
{
  const char *s = cell (c, row, name);
  return *s ? g_ascii_strtod (s, NULL) : NAN;
}

/* Runs scenarios/small/NAME.ini (with the unchokes trace) into a temporary
 * folder; returns the folder. */
static gchar *
run (const char *name, const char *const *extra)
{
  g_autofree gchar *path = g_strdup_printf ("%s/scenarios/small/%s.ini",
                                            g_getenv ("MINIBIT_SOURCE_ROOT"), name);
  g_autoptr (GError) err = NULL;
  g_autoptr (MbScenario) sc = mb_scenario_load (path, extra, &err);
  g_assert_no_error (err);
  MbExperiment *x = mb_experiment_new (sc, &err);
  g_assert_no_error (err);
  g_assert_true (mb_experiment_trace (x, "unchokes", &err));
  mb_experiment_run (x, NULL, NULL);
  gchar *dir = g_dir_make_tmp ("minibit-unchokes-XXXXXX", NULL);
  g_assert_true (mb_experiment_write (x, dir, &err));
  g_assert_no_error (err);
  mb_experiment_free (x);
  return dir;
}

static void
remove_dir (gchar *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *f;
  while (d && (f = g_dir_read_name (d)))
    {
      g_autofree gchar *p = g_build_filename (dir, f, NULL);
      g_unlink (p);
    }
  g_rmdir (dir);
  g_free (dir);
}

static void
test_unchokes_add_up (void)
{
  gchar *dir = run ("mixed-bandwidth", NULL);
  Csv u = csv_read (dir, "unchokes.csv");
  Csv cl = csv_read (dir, "classes.csv");
  Csv pp = csv_read (dir, "unchokes-peers.csv");
  Csv peers = csv_read (dir, "peers.csv");
  guint nc = cl.rows->len - 1;
  g_assert_cmpuint (u.rows->len - 1, ==, nc * nc);
  /* per class: peers that joined, and those that came to download */
  guint joined[8] = { 0 }, leechers[8] = { 0 }, all_leechers = 0;
  g_assert_cmpuint (nc, <=, 8);
  for (guint i = 1; i < peers.rows->len; i++)
    for (guint c = 0; c < nc; c++)
      if (strcmp (cell (&peers, i, "class"), cell (&cl, c + 1, "class")) == 0)
        {
          joined[c]++;
          /* an initial seed held the file when it joined */
          gboolean seed = g_strcmp0 (cell (&peers, i, "completed_s"),
                                     cell (&peers, i, "joined_s")) == 0;
          leechers[c] += !seed;
          all_leechers += !seed;
        }
  for (guint f = 0; f < nc; f++)
    {
      const char *from = cell (&cl, f + 1, "class");
      guint64 bytes = 0;
      double reg_share = 0, int_share = 0, pop_share = 0, reg = 0;
      for (guint t = 0; t < nc; t++)
        {
          guint r = 1 + f * nc + t;
          const char *to = cell (&cl, t + 1, "class");
          g_assert_cmpstr (cell (&u, r, "from_class"), ==, from);
          g_assert_cmpstr (cell (&u, r, "to_class"), ==, to);
          bytes += g_ascii_strtoull (cell (&u, r, "regular_bytes"), NULL, 10)
                   + g_ascii_strtoull (cell (&u, r, "optimistic_bytes"), NULL, 10)
                   + g_ascii_strtoull (cell (&u, r, "seed_bytes"), NULL, 10);
          reg += num (&u, r, "regular_s");
          if (!isnan (num (&u, r, "regular_share")))
            reg_share += num (&u, r, "regular_share");
          int_share += num (&u, r, "interested_share");
          pop_share += num (&u, r, "population_share");
          /* the population share is the README's count */
          double want = (double) (joined[f] * leechers[t] - (f == t ? leechers[f] : 0))
                        / (double) (joined[f] * all_leechers - leechers[f]);
          g_assert_cmpfloat_with_epsilon (num (&u, r, "population_share"), want, 6e-5);
          double ci = num (&u, r, "clustering_index"), ii = num (&u, r, "interest_index");
          if (f != t)
            g_assert_true (isnan (ci) && isnan (ii));
          else if (!isnan (num (&u, r, "regular_share")))
            {
              g_assert_cmpfloat_with_epsilon (
                ci, num (&u, r, "regular_share") / num (&u, r, "population_share"), 1e-3);
              g_assert_cmpfloat_with_epsilon (
                ii, num (&u, r, "regular_share") / num (&u, r, "interested_share"), 1e-3);
            }
          /* the peer pairs of these classes add up to the class pair */
          double pair_s[2] = { 0, 0 };
          guint64 pair_bytes = 0;
          guint n_pairs = 0;
          for (guint i = 1; i < pp.rows->len; i++)
            if (strcmp (cell (&pp, i, "from_class"), from) == 0
                && strcmp (cell (&pp, i, "to_class"), to) == 0)
              {
                pair_s[0] += num (&pp, i, "regular_s");
                pair_s[1] += num (&pp, i, "optimistic_s");
                pair_bytes += g_ascii_strtoull (cell (&pp, i, "seed_bytes"), NULL, 10);
                n_pairs++;
              }
          g_assert_cmpfloat_with_epsilon (pair_s[0], num (&u, r, "regular_s"),
                                          0.001 * (n_pairs + 1));
          g_assert_cmpfloat_with_epsilon (pair_s[1], num (&u, r, "optimistic_s"),
                                          0.001 * (n_pairs + 1));
          g_assert_cmpuint (pair_bytes, ==, g_ascii_strtoull (cell (&u, r, "seed_bytes"), NULL, 10));
        }
      g_test_message ("%s: %.0f s of regular unchokes", from, reg);
      /* every byte a class uploaded went out under one of its unchokes */
      g_assert_cmpuint (bytes, ==, g_ascii_strtoull (cell (&cl, f + 1, "bytes_up"), NULL, 10));
      if (reg > 0)
        g_assert_cmpfloat_with_epsilon (reg_share, 1.0, 5e-4 * nc);
      g_assert_cmpfloat_with_epsilon (int_share, 1.0, 5e-4 * nc);
      g_assert_cmpfloat_with_epsilon (pop_share, 1.0, 5e-4 * nc);
    }
  /* the leechers' classes traded by tit-for-tat; the seed only as a seed */
  g_assert_cmpfloat (num (&u, 1 + nc + 1, "regular_s"), >, 0);
  g_assert_cmpfloat (num (&u, 1, "regular_s") + num (&u, 2, "regular_s"), ==, 0);
  g_assert_cmpfloat (num (&u, 2, "seed_s"), >, 0);
  g_ptr_array_unref (u.rows);
  g_ptr_array_unref (cl.rows);
  g_ptr_array_unref (pp.rows);
  g_ptr_array_unref (peers.rows);
  remove_dir (dir);
}

static void
test_unchokes_freeriders_unchoke_no_one (void)
{
  const char *const extra[] = { "file.size=4MiB", NULL };
  gchar *dir = run ("freeriders", extra);
  Csv u = csv_read (dir, "unchokes.csv");
  guint rows = 0;
  double fed = 0;
  for (guint r = 1; r < u.rows->len; r++)
    {
      if (strcmp (cell (&u, r, "from_class"), "freeriders") == 0)
        {
          rows++;
          g_assert_cmpfloat (num (&u, r, "regular_s") + num (&u, r, "optimistic_s")
                             + num (&u, r, "seed_s"), ==, 0);
          g_assert_cmpstr (cell (&u, r, "regular_bytes"), ==, "0");
          g_assert_cmpstr (cell (&u, r, "clustering_index"), ==, "");
        }
      if (strcmp (cell (&u, r, "to_class"), "freeriders") == 0)
        fed += num (&u, r, "optimistic_s") + num (&u, r, "seed_s");
    }
  g_assert_cmpuint (rows, ==, 3);
  g_assert_cmpfloat (fed, >, 0); /* the optimistic unchoke and the seed feed them */
  g_ptr_array_unref (u.rows);
  remove_dir (dir);
}

static void
test_unchokes_unknown_trace_refused (void)
{
  g_autofree gchar *path = g_strdup_printf ("%s/scenarios/small/flash-crowd.ini",
                                            g_getenv ("MINIBIT_SOURCE_ROOT"));
  g_autoptr (GError) err = NULL;
  g_autoptr (MbScenario) sc = mb_scenario_load (path, NULL, &err);
  g_assert_no_error (err);
  MbExperiment *x = mb_experiment_new (sc, &err);
  g_assert_no_error (err);
  g_assert_false (mb_experiment_trace (x, "unchokes,chokes", &err));
  g_assert_nonnull (err);
  g_assert_nonnull (strstr (err->message, "\"chokes\""));
  g_assert_nonnull (strstr (err->message, "unchokes"));
  mb_experiment_free (x);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/unchokes/add-up", test_unchokes_add_up);
  g_test_add_func ("/unchokes/freeriders-unchoke-no-one", test_unchokes_freeriders_unchoke_no_one);
  g_test_add_func ("/unchokes/unknown-trace-refused", test_unchokes_unknown_trace_refused);
  return g_test_run ();
}
