/* scenario-values.c — the value kinds of scenario keys (see the table in
 * scenario-keys.c): parsing a key's text as a name, number, yes/no, choice,
 * duration or "latency", latency range, arrival, distribution or
 * list of names (quantities through units.h) into its field; and sampling
 * the distributions (mb_dist_sample).  Messages say what the text is not and
 * the accepted form; the place is put in front by the caller.
 */
#include "scenario.h"
#define MB_SIM_SCENARIO_INTERNAL
#include "scenario-private.h"

#include <math.h>
#include <string.h>

#include "units.h"

#define DIST_FORM \
  "write a duration (30min), forever, exponential MEAN (exponential 30min), " \
  "pareto SHAPE SCALE (pareto 2.0 10min) or weibull SHAPE SCALE (weibull 1.5 30min)"

/* ---- value kinds ---------------------------------------------------------- */

gboolean
mbi_scenario_is_name (const char *s)
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
  if (!mbi_scenario_is_name (text))
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
mb_value_latency (const char *text, guint64 *out, GError **error)
{
  if (strcmp (text, "latency") == 0)
    {
      *out = MB_RING_VIEW_DELAY_LATENCY;
      return TRUE;
    }
  if (mb_units_parse_duration (text, out, NULL))
    return TRUE;
  g_set_error (error, MB_SCENARIO_ERROR, MB_SCENARIO_ERROR_INVALID,
               "\"%s\" is not a duration or latency; write e.g. 200ms or latency "
               "(the one-way latency from the tracker)", text);
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
               "\"%s\" is not a duration or distribution%s; " DIST_FORM, text, why);
  return FALSE;
}

/* One form for every length of time drawn per peer ([churn] session,
 * [peers.*] seed_time and abort): a fixed duration, forever (or never), or
 * a distribution. */
static gboolean
mb_value_dist (const char *text, MbDist *out, GError **error)
{
  MbDist fixed = { MB_DIST_FIXED, 0, 0 };
  if (strcmp (text, "forever") == 0 || strcmp (text, "never") == 0)
    {
      *out = (MbDist) { MB_DIST_NONE, 0, 0 };
      return TRUE;
    }
  if (mb_units_parse_duration (text, &fixed.scale, NULL))
    {
      *out = fixed;
      return TRUE;
    }
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
      if (!mbi_scenario_is_name (parts[i]) || dup)
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
gboolean
mbi_scenario_value_parse (const MbKeySpec *spec, const char *text, gpointer field, GError **error)
{
  switch (spec->kind)
    {
    case MB_KIND_STRING: return mb_value_string (spec, text, field, error);
    case MB_KIND_NAME: return mb_value_name (text, field, error);
    case MB_KIND_U64: return mb_value_u64 (text, field, error);
    case MB_KIND_COUNT: return mb_units_parse_count (text, field, error);
    case MB_KIND_SIZE: return mb_units_parse_size (text, field, error);
    case MB_KIND_DURATION: return mb_units_parse_duration (text, field, error);
    case MB_KIND_DURATION_OR_LATENCY: return mb_value_latency (text, field, error);
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

void
mbi_scenario_value_clear (const MbKeySpec *spec, MbValue *v)
{
  if (spec->kind == MB_KIND_STRING || spec->kind == MB_KIND_NAME)
    g_clear_pointer (&v->s, g_free);
  else if (spec->kind == MB_KIND_NAME_LIST)
    g_clear_pointer (&v->strv, g_strfreev);
}

/* ---- distributions -------------------------------------------------------- */

guint64
mb_dist_sample (const MbDist *dist, GRand *rng)
{
  if (dist->kind == MB_DIST_NONE)
    return MB_SCENARIO_FOREVER;
  if (dist->kind == MB_DIST_FIXED)
    return dist->scale;
  double tail = -log1p (-g_rand_double (rng)); /* Exp(1); u < 1 keeps it finite */
  double scale = (double) dist->scale, x;
  if (dist->kind == MB_DIST_EXPONENTIAL)
    x = scale * tail;
  else if (dist->kind == MB_DIST_PARETO)
    x = scale * exp (tail / dist->shape);      /* scale * (1-u)^(-1/shape) */
  else
    x = scale * pow (tail, 1.0 / dist->shape); /* Weibull by inversion */
  if (!(x >= 1.0))
    return 1;
  if (x >= 9.0e18)
    return G_GUINT64_CONSTANT (9000000000000000000);
  return (guint64) (x + 0.5);
}
