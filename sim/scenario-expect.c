/* scenario-expect.c — the [expect] group: parsing expectations ("metric
 * <op> value" or "metric = all"; GKeyFile leaves "<", ">" or "!" of "<=",
 * ">=", "!=" at the key's end) and checking them against a run's metrics.
 */
#include "scenario.h"
#define MB_SIM_SCENARIO_INTERNAL
#include "scenario-private.h"

#include <math.h>
#include <string.h>

#define EXPECT_FORM "write e.g. <= 1.5, >= 0.8, = 0 or all"

/* ---- expectations: parsing ------------------------------------------------ */

static const char *const cmp_names[] = { "=", "!=", "<", "<=", ">", ">=" };

const char *
mb_cmp_name (MbCmp op)
{
  return op <= MB_CMP_GE ? cmp_names[op] : "?";
}

static gboolean
mb_expect_is_metric (const char *s)
{
  if (!g_ascii_islower (*s))
    return FALSE;
  for (; *s; s++)
    if (!(g_ascii_islower (*s) || g_ascii_isdigit (*s) || *s == '_' || *s == '.'))
      return FALSE;
  return TRUE;
}

/* Reads a leading operator ("<=", ">=", "==", "!=", "<", ">", "="). */
static gboolean
mb_expect_read_op (const char **p, MbCmp *op)
{
  static const struct {
    const char *text;
    MbCmp op;
  } ops[] = { { "<=", MB_CMP_LE }, { ">=", MB_CMP_GE }, { "==", MB_CMP_EQ }, { "!=", MB_CMP_NE },
              { "<", MB_CMP_LT },  { ">", MB_CMP_GT },  { "=", MB_CMP_EQ } };
  for (guint i = 0; i < G_N_ELEMENTS (ops); i++)
    if (g_str_has_prefix (*p, ops[i].text))
      {
        *p += strlen (ops[i].text);
        *op = ops[i].op;
        return TRUE;
      }
  return FALSE;
}

/* The metric from a key, and the operator GKeyFile left at its end when the
 * line was written "metric <= 1.5" (key "metric <", value "1.5"). */
static gboolean
mb_expect_parse_key (const char *key, gchar **metric, gboolean *has_op, MbCmp *op,
                     GError **error)
{
  g_autofree gchar *k = g_strstrip (g_strdup (key));
  gsize n = strlen (k);
  *has_op = n > 0 && strchr ("<>!", k[n - 1]) != NULL;
  if (*has_op)
    {
      *op = k[n - 1] == '<' ? MB_CMP_LE : k[n - 1] == '>' ? MB_CMP_GE : MB_CMP_NE;
      k[n - 1] = '\0';
      g_strchomp (k);
    }
  if (!mb_expect_is_metric (k))
    {
      g_set_error (error, MB_SCENARIO_ERROR, MB_SCENARIO_ERROR_INVALID,
                   "\"%s\" is not a metric name; write e.g. bound_ratio = <= 1.5", key);
      return FALSE;
    }
  *metric = g_steal_pointer (&k);
  return TRUE;
}

static gboolean
mb_expect_parse_value (const char *value, gboolean key_op, MbExpect *e, GError **error)
{
  const char *p = value;
  MbCmp op = MB_CMP_EQ;
  gboolean has_op = mb_expect_read_op (&p, &op);
  while (*p == ' ' || *p == '\t')
    p++;
  char *end = NULL;
  double v = 0;
  gboolean all = strcmp (p, "all") == 0;
  if (!all && *p != '\0')
    v = g_ascii_strtod (p, &end);
  gboolean number = !all && *p != '\0' && end != NULL && *end == '\0' && isfinite (v);
  if ((has_op && key_op) || (!all && !number))
    {
      g_set_error (error, MB_SCENARIO_ERROR, MB_SCENARIO_ERROR_INVALID,
                   "\"%s\" is not a comparison; " EXPECT_FORM, value);
      return FALSE;
    }
  if (!key_op)
    e->op = op;
  e->all = all;
  e->value = v;
  return TRUE;
}

void
mbi_scenario_expect_clear (MbExpect *e)
{
  g_clear_pointer (&e->metric, g_free);
  g_clear_pointer (&e->text, g_free);
}

static gboolean
mb_expect_parse (const char *key, const char *value, MbExpect *e, GError **error)
{
  gboolean key_op = FALSE;
  memset (e, 0, sizeof *e);
  if (!mb_expect_parse_key (key, &e->metric, &key_op, &e->op, error)
      || !mb_expect_parse_value (value, key_op, e, error))
    {
      mbi_scenario_expect_clear (e);
      return FALSE;
    }
  const char *p = value;
  MbCmp ignored;
  mb_expect_read_op (&p, &ignored);
  while (*p == ' ' || *p == '\t')
    p++;
  e->text = g_strdup_printf ("%s %s %s", e->metric, mb_cmp_name (e->op), p);
  return TRUE;
}

gboolean
mbi_scenario_expect_key (MbLoad *ld, const char *where, const char *group, const char *key,
                        const char *value, GError **error)
{
  MbExpect e;
  GError *inner = NULL;
  if (!mb_expect_parse (key, value, &e, &inner))
    return mbi_scenario_fail_wrap (error, inner, where, group, key);
  if (ld != NULL)
    g_array_append_val (ld->expects, e);
  else
    mbi_scenario_expect_clear (&e);
  return TRUE;
}

/* ---- expectations: checking ----------------------------------------------- */

static gboolean
mb_cmp_holds (MbCmp op, double got, double want)
{
  double tol = 1e-9 * MAX (1.0, MAX (fabs (got), fabs (want)));
  gboolean eq = fabs (got - want) <= tol;
  switch (op)
    {
    case MB_CMP_EQ: return eq;
    case MB_CMP_NE: return !eq;
    case MB_CMP_LT: return got < want && !eq;
    case MB_CMP_LE: return got <= want || eq;
    case MB_CMP_GT: return got > want && !eq;
    case MB_CMP_GE: return got >= want || eq;
    default: return FALSE;
    }
}

gboolean
mb_expect_check (const MbExpect *e, MbMetricFn metric, gpointer data, double *got,
                 GError **error)
{
  double v = 0, want = e->value;
  if (!metric (data, e->metric, &v))
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_UNKNOWN_METRIC, "expect", NULL, NULL,
                             "%s: no such metric", e->metric);
  if (got != NULL)
    *got = v;
  if (e->all && !metric (data, "peers", &want))
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_UNKNOWN_METRIC, "expect", NULL, NULL,
                             "%s: \"all\" needs the metric peers", e->text);
  if (mb_cmp_holds (e->op, v, want))
    return TRUE;
  /* an undefined metric (NaN: nothing to measure it on) reads n/a, not nan */
  char got_text[G_ASCII_DTOSTR_BUF_SIZE] = "n/a";
  if (!isnan (v))
    g_snprintf (got_text, sizeof got_text, "%g", v);
  if (e->all)
    return mbi_scenario_fail (error, MB_SCENARIO_ERROR_EXPECT_FAILED, "expect", NULL, NULL,
                             "%s (%g): got %s", e->text, want, got_text);
  return mbi_scenario_fail (error, MB_SCENARIO_ERROR_EXPECT_FAILED, "expect", NULL, NULL,
                           "%s: got %s", e->text, got_text);
}

guint
mb_scenario_check_expectations (const MbScenario *sc, MbMetricFn metric, gpointer data,
                                GPtrArray *failures)
{
  guint failed = 0;
  for (guint i = 0; i < sc->n_expects; i++)
    {
      g_autoptr (GError) err = NULL;
      if (mb_expect_check (&sc->expects[i], metric, data, NULL, &err))
        continue;
      failed++;
      if (failures != NULL)
        g_ptr_array_add (failures, g_strdup (err->message));
    }
  return failed;
}

gboolean
mb_scenario_check_metric_names (const MbScenario *sc, const char *const *known, GError **error)
{
  for (guint i = 0; i < sc->n_expects; i++)
    {
      const MbExpect *e = &sc->expects[i];
      const char *missing = !g_strv_contains (known, e->metric) ? e->metric
                            : e->all && !g_strv_contains (known, "peers") ? "peers"
                                                                           : NULL;
      if (missing == NULL)
        continue;
      g_autofree gchar *list = g_strjoinv (", ", (gchar **) known);
      return mbi_scenario_fail (error, MB_SCENARIO_ERROR_UNKNOWN_METRIC, sc->path, "expect",
                               e->metric, "\"%s\" is not a metric; known metrics: %s", missing,
                               list);
    }
  return TRUE;
}
