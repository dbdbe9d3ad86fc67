/* scenario.c — load, override and validate scenario files (see scenario.h).
 *
 * The file is a GKeyFile; what may appear in it is the table of groups and
 * keys in scenario-keys.c, whose values are parsed by scenario-values.c and
 * whose [expect] group is scenario-expect.c's.  Here: the error domain and
 * messages, the whole file (validate), creating, overriding and freeing.
 *
 * Invariants: the key file is the only source of truth (overrides write into
 * it), and validation rebuilds every typed field from it, so validate may
 * run again; every message is "<file>: [group] key: what; accepted form";
 * arrays keep file order, and nothing depends on hash-table order.
 */
#include "scenario.h"
#define MB_SIM_SCENARIO_INTERNAL
#include "scenario-private.h"

#include <string.h>

G_DEFINE_QUARK (mb-scenario-error-quark, mb_scenario_error)

/* ---- errors --------------------------------------------------------------- */

gboolean
mbi_scenario_fail (GError **error, gint code, const char *where, const char *group,
                  const char *key, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree gchar *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (group == NULL)
    g_set_error (error, MB_SCENARIO_ERROR, code, "%s: %s", where, msg);
  else if (key == NULL)
    g_set_error (error, MB_SCENARIO_ERROR, code, "%s: [%s]: %s", where, group, msg);
  else
    g_set_error (error, MB_SCENARIO_ERROR, code, "%s: [%s] %s: %s", where, group, key, msg);
  return FALSE;
}

/* Re-raises a value error with its place in front. */
gboolean
mbi_scenario_fail_wrap (GError **error, GError *inner, const char *where, const char *group,
                       const char *key)
{
  mbi_scenario_fail (error, MB_SCENARIO_ERROR_INVALID, where, group, key, "%s", inner->message);
  g_error_free (inner);
  return FALSE;
}

/* ---- the whole file ------------------------------------------------------- */

static void
mb_class_clear (gpointer p)
{
  MbPeerClass *c = p;
  g_clear_pointer (&c->name, g_free);
  g_clear_pointer (&c->region_name, g_free);
}

static void
mb_event_clear (gpointer p)
{
  MbScenarioEvent *e = p;
  g_clear_pointer (&e->name, g_free);
  g_clear_pointer (&e->class_name, g_free);
}

static void
mb_publish_clear (gpointer p)
{
  MbPublish *pu = p;
  g_clear_pointer (&pu->name, g_free);
  g_clear_pointer (&pu->class_name, g_free);
}

static void
mb_fetch_clear (gpointer p)
{
  MbFetch *f = p;
  g_clear_pointer (&f->name, g_free);
  g_clear_pointer (&f->class_name, g_free);
  g_clear_pointer (&f->publish_name, g_free);
}

static void
mb_expect_clear_func (gpointer p)
{
  mbi_scenario_expect_clear (p);
}

/* Frees every typed field; keeps path and key file. */
static void
mb_scenario_clear_typed (MbScenario *sc)
{
  g_clear_pointer (&sc->name, g_free);
  g_clear_pointer (&sc->network.regions, g_strfreev);
  g_clear_pointer (&sc->network.latency_matrix, g_free);
  for (guint i = 0; i < sc->n_classes; i++)
    mb_class_clear (&sc->classes[i]);
  for (guint i = 0; i < sc->n_events; i++)
    mb_event_clear (&sc->events[i]);
  for (guint i = 0; i < sc->n_publishes; i++)
    mb_publish_clear (&sc->publishes[i]);
  for (guint i = 0; i < sc->n_fetches; i++)
    mb_fetch_clear (&sc->fetches[i]);
  for (guint i = 0; i < sc->n_expects; i++)
    mbi_scenario_expect_clear (&sc->expects[i]);
  g_free (sc->classes);
  g_free (sc->events);
  g_free (sc->publishes);
  g_free (sc->fetches);
  g_free (sc->expects);
  gchar *path = sc->path;
  GKeyFile *kf = sc->keyfile;
  memset (sc, 0, sizeof *sc);
  sc->path = path;
  sc->keyfile = kf;
}

static void
mb_load_commit (MbLoad *ld)
{
  gsize n;
  MbScenario *sc = ld->sc;
  sc->classes = g_array_steal (ld->classes, &n);
  sc->n_classes = (guint) n;
  sc->events = g_array_steal (ld->events, &n);
  sc->n_events = (guint) n;
  sc->publishes = g_array_steal (ld->publishes, &n);
  sc->n_publishes = (guint) n;
  sc->fetches = g_array_steal (ld->fetches, &n);
  sc->n_fetches = (guint) n;
  sc->expects = g_array_steal (ld->expects, &n);
  sc->n_expects = (guint) n;
}

gboolean
mb_scenario_validate (MbScenario *sc, GError **error)
{
  mb_scenario_clear_typed (sc);
  MbLoad ld = { sc, sc->keyfile, sc->path, FALSE, NULL, NULL, NULL, NULL, NULL, NULL };
  ld.classes = g_array_new (FALSE, TRUE, sizeof (MbPeerClass));
  ld.events = g_array_new (FALSE, TRUE, sizeof (MbScenarioEvent));
  ld.publishes = g_array_new (FALSE, TRUE, sizeof (MbPublish));
  ld.fetches = g_array_new (FALSE, TRUE, sizeof (MbFetch));
  ld.expects = g_array_new (FALSE, TRUE, sizeof (MbExpect));
  g_array_set_clear_func (ld.classes, mb_class_clear);
  g_array_set_clear_func (ld.events, mb_event_clear);
  g_array_set_clear_func (ld.publishes, mb_publish_clear);
  g_array_set_clear_func (ld.fetches, mb_fetch_clear);
  g_array_set_clear_func (ld.expects, mb_expect_clear_func);
  gboolean ok = mbi_scenario_check_groups (&ld, error) && mbi_scenario_load_groups (&ld, error);
  if (ok)
    mb_load_commit (&ld);
  else
    mb_scenario_clear_typed (sc);
  g_array_unref (ld.classes);
  g_array_unref (ld.events);
  g_array_unref (ld.publishes);
  g_array_unref (ld.fetches);
  g_array_unref (ld.expects);
  g_free (ld.pair_given);
  sc->validated = ok;
  return ok;
}

/* ---- creating, overriding, freeing ---------------------------------------- */

MbScenario *
mb_scenario_new_from_data (const char *data, gssize len, const char *path, GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  GError *inner = NULL;
  if (!g_key_file_load_from_data (kf, data, len < 0 ? (gsize) -1 : (gsize) len, G_KEY_FILE_NONE,
                                  &inner))
    {
      gboolean cmp = strchr (inner->message, '<') || strchr (inner->message, '>');
      g_set_error (error, MB_SCENARIO_ERROR, MB_SCENARIO_ERROR_FILE, "%s: %s%s", path,
                   inner->message,
                   cmp ? " (in [expect], write a strict comparison as e.g. "
                         "bound_ratio = < 1.5)" : "");
      g_error_free (inner);
      return NULL;
    }
  MbScenario *sc = g_new0 (MbScenario, 1);
  sc->path = g_strdup (path);
  sc->keyfile = g_steal_pointer (&kf);
  return sc;
}

MbScenario *
mb_scenario_new_from_file (const char *path, GError **error)
{
  g_autofree gchar *data = NULL;
  gsize len = 0;
  GError *inner = NULL;
  if (!g_file_get_contents (path, &data, &len, &inner))
    {
      g_set_error (error, MB_SCENARIO_ERROR, MB_SCENARIO_ERROR_FILE, "%s: cannot read: %s",
                   path, inner->message);
      g_error_free (inner);
      return NULL;
    }
  return mb_scenario_new_from_data (data, (gssize) len, path, error);
}

gboolean
mb_scenario_set (MbScenario *sc, const char *assignment, GError **error)
{
  g_autofree gchar *where = g_strdup_printf ("--set %s", assignment);
  const char *eq = strchr (assignment, '=');
  g_autofree gchar *lhs = eq ? g_strstrip (g_strndup (assignment, eq - assignment)) : NULL;
  g_autofree gchar *value = eq ? g_strstrip (g_strdup (eq + 1)) : NULL;
  g_autofree gchar *group = NULL, *key = NULL;
  if (lhs == NULL || !mbi_scenario_split_override (lhs, &group, &key))
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_OVERRIDE, where, NULL, NULL,
                             "write group.key=value, e.g. peers.fast.upload=20Mbit or "
                             "network.loss=1%%");
  if (!mbi_scenario_check_override (where, group, key, value, error))
    return FALSE;
  g_key_file_set_value (sc->keyfile, group, key, value);
  sc->validated = FALSE;
  return TRUE;
}

MbScenario *
mb_scenario_load (const char *path, const char *const *overrides, GError **error)
{
  g_autoptr (MbScenario) sc = mb_scenario_new_from_file (path, error);
  if (sc == NULL)
    return NULL;
  for (guint i = 0; overrides != NULL && overrides[i] != NULL; i++)
    if (!mb_scenario_set (sc, overrides[i], error))
      return NULL;
  if (!mb_scenario_validate (sc, error))
    return NULL;
  return g_steal_pointer (&sc);
}

void
mb_scenario_free (MbScenario *sc)
{
  if (sc == NULL)
    return;
  mb_scenario_clear_typed (sc);
  g_key_file_free (sc->keyfile);
  g_free (sc->path);
  g_free (sc);
}

gchar *
mb_scenario_to_data (const MbScenario *sc, gsize *len)
{
  return g_key_file_to_data (sc->keyfile, len, NULL);
}

gint
mb_scenario_find_class (const MbScenario *sc, const char *name)
{
  for (guint i = 0; i < sc->n_classes; i++)
    if (strcmp (sc->classes[i].name, name) == 0)
      return (gint) i;
  return -1;
}

guint
mb_scenario_total_peers (const MbScenario *sc)
{
  guint n = 0;
  for (guint i = 0; i < sc->n_classes; i++)
    n += sc->classes[i].count;
  for (guint i = 0; i < sc->n_events; i++)
    if (sc->events[i].action == MB_ACTION_ADD)
      n += sc->events[i].count;
  return n;
}

guint
mb_scenario_total_fetches (const MbScenario *sc)
{
  guint n = 0;
  for (guint i = 0; i < sc->n_fetches; i++)
    n += sc->fetches[i].count;
  return n;
}

guint
mb_scenario_total_files (const MbScenario *sc)
{
  guint n = 0;
  for (guint i = 0; i < sc->n_publishes; i++)
    n += sc->publishes[i].count;
  return n;
}

