/* scenario.c — load, override and validate scenario files (see scenario.h).
 *
 * The file is a GKeyFile.  What may appear in it is one table, `groups`:
 * each group names its keys, and each key its kind (size, rate, ...), the
 * field it fills (an offset into the group's struct), whether it is required
 * and an example for messages.  Free-form groups ([latency], [expect]) check
 * their keys with a function instead.  Validation walks that table in its
 * own order (so [network] is known before [latency] and [peers.*], classes
 * before [event.*]), then each group's `finish` does cross-key checks.
 *
 * Invariants: the key file is the only source of truth (overrides write into
 * it), and validation rebuilds every typed field from it, so validate may
 * run again; every message is "<file>: [group] key: what; accepted form";
 * arrays keep file order, and nothing depends on hash-table order.
 */
#include "scenario.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "units.h"

G_DEFINE_QUARK (mb-scenario-error-quark, mb_scenario_error)

G_STATIC_ASSERT (sizeof (MbStrategy) == sizeof (gint));
G_STATIC_ASSERT (sizeof (MbStopRule) == sizeof (gint));
G_STATIC_ASSERT (sizeof (MbAction) == sizeof (gint));

#define NAME_FORM "write lowercase letters, digits, '_' or '-'"
#define EXPECT_FORM "write e.g. <= 1.5, >= 0.8, = 0 or all"
#define DIST_FORM "write e.g. exponential 30min, pareto 2.0 10min or weibull 1.5 30min"

/* ---- value kinds ---------------------------------------------------------- */

typedef enum {
  MB_KIND_STRING,
  MB_KIND_NAME,       /* [a-z0-9_-]+ */
  MB_KIND_U64,
  MB_KIND_COUNT,
  MB_KIND_SIZE,
  MB_KIND_DURATION,
  MB_KIND_DURATION_OR_FOREVER,
  MB_KIND_RATE,
  MB_KIND_PROBABILITY,
  MB_KIND_PER_SECOND,
  MB_KIND_BOOL,
  MB_KIND_ENUM,       /* gint, index into choices */
  MB_KIND_RANGE,      /* MbRange: "50ms" or "20ms..120ms" */
  MB_KIND_ARRIVAL,    /* MbArrival kind and at */
  MB_KIND_DIST,       /* MbDist */
  MB_KIND_NAME_LIST,  /* gchar **: "eu, us, asia" */
} MbKind;

typedef struct {
  const char *key;
  MbKind kind;
  gsize offset;
  gboolean required;
  const char *example;         /* a value, for "write e.g. key = example" */
  const char *const *choices;  /* MB_KIND_ENUM, in enum order */
} MbKeySpec;

/* Scratch storage big enough for any kind (checking overrides). */
typedef union {
  gchar *s;
  gchar **strv;
  guint64 u64;
  guint count;
  double d;
  gint e;
  gboolean b;
  MbRange range;
  MbArrival arrival;
  MbDist dist;
} MbValue;

static gboolean
mb_scenario_is_name (const char *s)
{
  if (s == NULL || *s == '\0')
    return FALSE;
  for (; *s; s++)
    if (!(g_ascii_islower (*s) || g_ascii_isdigit (*s) || *s == '_' || *s == '-'))
      return FALSE;
  return TRUE;
}

static gboolean
mb_value_name (const char *text, gchar **out, GError **error)
{
  if (!mb_scenario_is_name (text))
    {
      g_set_error (error, MB_SCENARIO_ERROR, MB_SCENARIO_ERROR_INVALID,
                   "\"%s\" is not a name; " NAME_FORM ", e.g. fast", text);
      return FALSE;
    }
  g_free (*out);
  *out = g_strdup (text);
  return TRUE;
}

static gboolean
mb_value_u64 (const char *text, guint64 *out, GError **error)
{
  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64, out, NULL))
    {
      g_set_error (error, MB_SCENARIO_ERROR, MB_SCENARIO_ERROR_INVALID,
                   "\"%s\" is not a whole number; write e.g. 42", text);
      return FALSE;
    }
  return TRUE;
}

static gboolean
mb_value_bool (const char *text, gboolean *out, GError **error)
{
  if (g_strcmp0 (text, "yes") == 0 || g_strcmp0 (text, "true") == 0)
    *out = TRUE;
  else if (g_strcmp0 (text, "no") == 0 || g_strcmp0 (text, "false") == 0)
    *out = FALSE;
  else
    {
      g_set_error (error, MB_SCENARIO_ERROR, MB_SCENARIO_ERROR_INVALID,
                   "\"%s\" is not yes or no; write yes or no", text);
      return FALSE;
    }
  return TRUE;
}

static gboolean
mb_value_enum (const MbKeySpec *spec, const char *text, gint *out, GError **error)
{
  for (gint i = 0; spec->choices[i] != NULL; i++)
    if (strcmp (spec->choices[i], text) == 0)
      {
        *out = i;
        return TRUE;
      }
  g_autofree gchar *list = g_strjoinv (", ", (gchar **) spec->choices);
  g_set_error (error, MB_SCENARIO_ERROR, MB_SCENARIO_ERROR_INVALID,
               "\"%s\" is not a known %s; write one of: %s", text, spec->key, list);
  return FALSE;
}

static gboolean
mb_value_forever (const char *text, guint64 *out, GError **error)
{
  if (strcmp (text, "forever") == 0)
    {
      *out = MB_SCENARIO_FOREVER;
      return TRUE;
    }
  if (mb_units_parse_duration (text, out, NULL))
    return TRUE;
  g_set_error (error, MB_SCENARIO_ERROR, MB_SCENARIO_ERROR_INVALID,
               "\"%s\" is not a duration or forever; write e.g. 30min or forever", text);
  return FALSE;
}

static gboolean
mb_value_range (const char *text, MbRange *out, GError **error)
{
  const char *dots = strstr (text, "..");
  if (dots == NULL)
    {
      if (!mb_units_parse_duration (text, &out->lo, error))
        return FALSE;
      out->hi = out->lo;
      return TRUE;
    }
  g_autofree gchar *lo = g_strndup (text, dots - text);
  MbRange r;
  if (!mb_units_parse_duration (lo, &r.lo, NULL) || !mb_units_parse_duration (dots + 2, &r.hi, NULL))
    {
      g_set_error (error, MB_SCENARIO_ERROR, MB_SCENARIO_ERROR_INVALID,
                   "\"%s\" is not a duration or a range; write e.g. 50ms or 20ms..120ms", text);
      return FALSE;
    }
  if (r.lo > r.hi)
    {
      g_set_error (error, MB_SCENARIO_ERROR, MB_SCENARIO_ERROR_INVALID,
                   "\"%s\" is not a range: the low end is above the high end; "
                   "write e.g. 20ms..120ms", text);
      return FALSE;
    }
  *out = r;
  return TRUE;
}

static gboolean
mb_value_arrival (const char *text, MbArrival *out, GError **error)
{
  if (strcmp (text, "poisson") == 0)
    {
      out->kind = MB_ARRIVAL_POISSON;
      out->at = 0;
      return TRUE;
    }
  if (mb_units_parse_duration (text, &out->at, NULL))
    {
      out->kind = MB_ARRIVAL_AT;
      return TRUE;
    }
  g_set_error (error, MB_SCENARIO_ERROR, MB_SCENARIO_ERROR_INVALID,
               "\"%s\" is not an arrival; write 0 (all at the start), a time such as "
               "10min (all then), or poisson (with arrival_rate)", text);
  return FALSE;
}

static gboolean
mb_value_dist_fail (const char *text, const char *why, GError **error)
{
  g_set_error (error, MB_SCENARIO_ERROR, MB_SCENARIO_ERROR_INVALID,
               "\"%s\" is not a distribution%s; " DIST_FORM, text, why);
  return FALSE;
}

static gboolean
mb_value_dist (const char *text, MbDist *out, GError **error)
{
  g_auto (GStrv) tok = g_strsplit_set (text, " \t", -1);
  GPtrArray *words = g_ptr_array_new ();
  for (guint i = 0; tok[i] != NULL; i++)
    if (*tok[i] != '\0')
      g_ptr_array_add (words, tok[i]);
  guint n = words->len;
  const char *w0 = n > 0 ? words->pdata[0] : "";
  const char *w1 = n > 1 ? words->pdata[1] : "";
  const char *w2 = n > 2 ? words->pdata[2] : "";
  g_ptr_array_unref (words);
  MbDist d = { MB_DIST_NONE, 0, 0 };
  if (strcmp (w0, "exponential") == 0 && n == 2)
    d.kind = MB_DIST_EXPONENTIAL;
  else if ((strcmp (w0, "pareto") == 0 || strcmp (w0, "weibull") == 0) && n == 3)
    d.kind = w0[0] == 'p' ? MB_DIST_PARETO : MB_DIST_WEIBULL;
  else
    return mb_value_dist_fail (text, "", error);
  const char *scale = d.kind == MB_DIST_EXPONENTIAL ? w1 : w2;
  if (d.kind != MB_DIST_EXPONENTIAL && (!mb_units_parse_number (w1, &d.shape, NULL) || d.shape <= 0))
    return mb_value_dist_fail (text, ": the shape must be a number above 0", error);
  if (!mb_units_parse_duration (scale, &d.scale, NULL) || d.scale == 0)
    return mb_value_dist_fail (text, ": the scale must be a duration above 0", error);
  *out = d;
  return TRUE;
}

static gboolean
mb_value_name_list (const char *text, gchar ***out, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      g_strstrip (parts[i]);
      gboolean dup = FALSE;
      for (guint j = 0; j < i; j++)
        dup |= strcmp (parts[i], parts[j]) == 0;
      if (!mb_scenario_is_name (parts[i]) || dup)
        {
          g_set_error (error, MB_SCENARIO_ERROR, MB_SCENARIO_ERROR_INVALID,
                       "\"%s\" is not a list of distinct names; write e.g. eu, us, asia "
                       "(" NAME_FORM ")", text);
          return FALSE;
        }
    }
  g_strfreev (*out);
  *out = g_steal_pointer (&parts);
  return TRUE;
}

static gboolean
mb_value_string (const MbKeySpec *spec, const char *text, gchar **out, GError **error)
{
  if (*text == '\0')
    {
      g_set_error (error, MB_SCENARIO_ERROR, MB_SCENARIO_ERROR_INVALID,
                   "the value is empty; write e.g. %s", spec->example);
      return FALSE;
    }
  g_free (*out);
  *out = g_strdup (text);
  return TRUE;
}

/* Parses text as spec's kind into field (which points into a struct). */
static gboolean
mb_value_parse (const MbKeySpec *spec, const char *text, gpointer field, GError **error)
{
  switch (spec->kind)
    {
    case MB_KIND_STRING: return mb_value_string (spec, text, field, error);
    case MB_KIND_NAME: return mb_value_name (text, field, error);
    case MB_KIND_U64: return mb_value_u64 (text, field, error);
    case MB_KIND_COUNT: return mb_units_parse_count (text, field, error);
    case MB_KIND_SIZE: return mb_units_parse_size (text, field, error);
    case MB_KIND_DURATION: return mb_units_parse_duration (text, field, error);
    case MB_KIND_DURATION_OR_FOREVER: return mb_value_forever (text, field, error);
    case MB_KIND_RATE: return mb_units_parse_rate (text, field, error);
    case MB_KIND_PROBABILITY: return mb_units_parse_probability (text, field, error);
    case MB_KIND_PER_SECOND: return mb_units_parse_per_second (text, field, error);
    case MB_KIND_BOOL: return mb_value_bool (text, field, error);
    case MB_KIND_ENUM: return mb_value_enum (spec, text, field, error);
    case MB_KIND_RANGE: return mb_value_range (text, field, error);
    case MB_KIND_ARRIVAL: return mb_value_arrival (text, field, error);
    case MB_KIND_DIST: return mb_value_dist (text, field, error);
    case MB_KIND_NAME_LIST: return mb_value_name_list (text, field, error);
    default: g_assert_not_reached ();
    }
}

static void
mb_value_clear (const MbKeySpec *spec, MbValue *v)
{
  if (spec->kind == MB_KIND_STRING || spec->kind == MB_KIND_NAME)
    g_clear_pointer (&v->s, g_free);
  else if (spec->kind == MB_KIND_NAME_LIST)
    g_clear_pointer (&v->strv, g_strfreev);
}

/* ---- errors --------------------------------------------------------------- */

static gboolean G_GNUC_PRINTF (6, 7)
mb_fail (GError **error, gint code, const char *where, const char *group, const char *key,
         const char *fmt, ...)
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
static gboolean
mb_fail_wrap (GError **error, GError *inner, const char *where, const char *group,
              const char *key)
{
  mb_fail (error, MB_SCENARIO_ERROR_INVALID, where, group, key, "%s", inner->message);
  g_error_free (inner);
  return FALSE;
}

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

static void
mb_expect_clear (MbExpect *e)
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
      mb_expect_clear (e);
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
