/* scenario.c — load, override and validate scenario files (see scenario.h).
 *
 * The file is a GKeyFile.  What may appear in it is one table, `groups`:
 * each group names its keys, and each key its kind (size, rate, ...), the
 * field it fills (an offset into the group's struct), whether it is required
 * and an example for messages.  Free-form groups ([latency], [expect]) check
 * their keys with a function instead.  Validation walks that table in its
 * own order (so [network] is known before [latency] and [peers.*], classes
 * before [event.*], [ring] and [publish.*] before [fetch.*]), then each
 * group's `finish` does cross-key checks.
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

G_STATIC_ASSERT (sizeof (MbScenarioStrategy) == sizeof (gint));
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
  MB_KIND_DURATION_OR_LATENCY, /* MB_RING_VIEW_DELAY_LATENCY for "latency" */
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

/* ---- the table of groups and keys ----------------------------------------- */

typedef struct _MbLoad MbLoad;

typedef struct {
  const char *name;       /* "file"; for multi groups the prefix, "peers" */
  gboolean multi;         /* [name.<id>], zero or more, in file order */
  gboolean required;      /* a single group checked even when absent */
  const MbKeySpec *keys;  /* NULL: free-form keys, checked by free_key */
  /* Sets defaults; returns the struct that keys' offsets point into. */
  gpointer (*open) (MbLoad *ld, const char *id);
  /* ld is NULL when checking an override: syntax only. */
  gboolean (*free_key) (MbLoad *ld, const char *where, const char *group, const char *key,
                        const char *value, GError **error);
  /* Cross-key checks after all keys are read (runs for absent groups too). */
  gboolean (*finish) (MbLoad *ld, const char *group, gpointer target, GError **error);
  const char *display;    /* "[peers.<class>]" */
} MbGroupSpec;

struct _MbLoad {
  MbScenario *sc;
  GKeyFile *kf;
  const char *where;
  gboolean present;       /* the current group is in the file */
  GArray *classes;        /* MbPeerClass */
  GArray *events;         /* MbScenarioEvent */
  GArray *publishes;      /* MbPublish */
  GArray *fetches;        /* MbFetch */
  GArray *expects;        /* MbExpect */
  guint8 *pair_given;     /* [latency]: which region pairs were written */
};

static const char *const stop_choices[] = { "all-complete", "duration", NULL };
static const char *const strategy_choices[] = { "tft", "freerider", "altruist", NULL };
static const char *const action_choices[] = { "shutdown", "crash", "add", "partition", NULL };

#define SC(f) offsetof (MbScenario, f)
static const MbKeySpec scenario_keys[] = {
  { "name", MB_KIND_STRING, SC (name), FALSE, "flash-crowd", NULL },
  { "seed", MB_KIND_U64, SC (seed), FALSE, "1", NULL },
  { "duration", MB_KIND_DURATION, SC (duration), FALSE, "24h", NULL },
  { "stop", MB_KIND_ENUM, SC (stop), FALSE, "all-complete", stop_choices },
  { "sample_interval", MB_KIND_DURATION, SC (sample_interval), FALSE, "10s", NULL },
  { NULL, 0, 0, FALSE, NULL, NULL },
};

#define FI(f) offsetof (MbFileConfig, f)
static const MbKeySpec file_keys[] = {
  { "size", MB_KIND_SIZE, FI (size), FALSE, "100MiB", NULL }, /* see mb_finish_file */
  { "piece_size", MB_KIND_SIZE, FI (piece_size), FALSE, "256KiB", NULL },
  { "block_size", MB_KIND_SIZE, FI (block_size), FALSE, "16KiB", NULL },
  { NULL, 0, 0, FALSE, NULL, NULL },
};

#define TR(f) offsetof (MbScenarioTracker, f)
static const MbKeySpec tracker_keys[] = {
  { "peer_list_size", MB_KIND_COUNT, TR (peer_list_size), FALSE, "5", NULL },
  { "announce_interval", MB_KIND_DURATION, TR (announce_interval), FALSE, "5min", NULL },
  { "peer_timeout", MB_KIND_DURATION, TR (peer_timeout), FALSE, "30min", NULL },
  { "initial_share", MB_KIND_PROBABILITY, TR (initial_share), FALSE, "0.1", NULL },
  { NULL, 0, 0, FALSE, NULL, NULL },
};

#define NW(f) offsetof (MbNetworkConfig, f)
static const MbKeySpec network_keys[] = {
  { "latency", MB_KIND_RANGE, NW (latency), FALSE, "50ms", NULL },
  { "loss", MB_KIND_PROBABILITY, NW (loss), FALSE, "0.01", NULL },
  { "regions", MB_KIND_NAME_LIST, NW (regions), FALSE, "eu, us, asia", NULL },
  { "jitter", MB_KIND_DURATION, NW (jitter), FALSE, "5ms", NULL },
  { NULL, 0, 0, FALSE, NULL, NULL },
};

#define CH(f) offsetof (MbChurnConfig, f)
static const MbKeySpec churn_keys[] = {
  { "session", MB_KIND_DIST, CH (session), TRUE, "exponential 30min", NULL },
  { "leave_graceful", MB_KIND_PROBABILITY, CH (leave_graceful), FALSE, "0.9", NULL },
  { NULL, 0, 0, FALSE, NULL, NULL },
};

#define PC(f) offsetof (MbPeerClass, f)
static const MbKeySpec peer_keys[] = {
  { "count", MB_KIND_COUNT, PC (count), TRUE, "100", NULL },
  { "upload", MB_KIND_RATE, PC (upload), TRUE, "10Mbit", NULL },
  { "download", MB_KIND_RATE, PC (download), TRUE, "50Mbit", NULL },
  { "strategy", MB_KIND_ENUM, PC (strategy), FALSE, "tft", strategy_choices },
  { "initial_share", MB_KIND_PROBABILITY, PC (initial_share), FALSE, "1", NULL },
  { "arrival", MB_KIND_ARRIVAL, PC (arrival), FALSE, "poisson", NULL },
  { "arrival_rate", MB_KIND_PER_SECOND, PC (arrival.rate), FALSE, "2/s", NULL },
  { "arrival_start", MB_KIND_DURATION, PC (arrival.start), FALSE, "10min", NULL },
  { "region", MB_KIND_NAME, PC (region_name), FALSE, "eu", NULL },
  { "seed_time", MB_KIND_DURATION_OR_FOREVER, PC (seed_time), FALSE, "30min", NULL },
  { "churn", MB_KIND_BOOL, PC (churn), FALSE, "yes", NULL },
  { NULL, 0, 0, FALSE, NULL, NULL },
};

#define EV(f) offsetof (MbScenarioEvent, f)
static const MbKeySpec event_keys[] = {
  { "at", MB_KIND_DURATION, EV (at), TRUE, "10min", NULL },
  { "action", MB_KIND_ENUM, EV (action), TRUE, "crash", action_choices },
  { "count", MB_KIND_COUNT, EV (count), FALSE, "10", NULL },
  { "class", MB_KIND_NAME, EV (class_name), FALSE, "fast", NULL },
  { "interval", MB_KIND_DURATION, EV (interval), FALSE, "10s", NULL },
  { "repeat", MB_KIND_COUNT, EV (repeat), FALSE, "5", NULL },
  { "every", MB_KIND_DURATION, EV (every), FALSE, "2min", NULL },
  { "groups", MB_KIND_COUNT, EV (groups), FALSE, "2", NULL },
  { "until", MB_KIND_DURATION, EV (until), FALSE, "20min", NULL },
  { NULL, 0, 0, FALSE, NULL, NULL },
};

#define RI(f) offsetof (MbRingConfig, f)
static const MbKeySpec ring_keys[] = {
  { "replication", MB_KIND_COUNT, RI (replication), FALSE, "3", NULL },
  { "vnodes", MB_KIND_COUNT, RI (vnodes), FALSE, "128", NULL },
  { "chunk_size", MB_KIND_SIZE, RI (chunk_size), FALSE, "256KiB", NULL },
  { "rpc_timeout", MB_KIND_DURATION, RI (rpc_timeout), FALSE, "10s", NULL },
  { "view_delay", MB_KIND_DURATION_OR_LATENCY, RI (view_delay), FALSE, "latency", NULL },
  { NULL, 0, 0, FALSE, NULL, NULL },
};

#define PU(f) offsetof (MbPublish, f)
static const MbKeySpec publish_keys[] = {
  { "at", MB_KIND_DURATION, PU (at), FALSE, "10min", NULL },
  { "count", MB_KIND_COUNT, PU (count), TRUE, "10", NULL },
  { "size", MB_KIND_SIZE, PU (size), TRUE, "1MiB", NULL },
  { "interval", MB_KIND_DURATION, PU (interval), FALSE, "10s", NULL },
  { "from", MB_KIND_NAME, PU (class_name), FALSE, "fast", NULL },
  { NULL, 0, 0, FALSE, NULL, NULL },
};

#define FE(f) offsetof (MbFetch, f)
static const MbKeySpec fetch_keys[] = {
  { "at", MB_KIND_DURATION, FE (at), FALSE, "10min", NULL },
  { "count", MB_KIND_COUNT, FE (count), TRUE, "100", NULL },
  { "rate", MB_KIND_PER_SECOND, FE (rate), FALSE, "5/s", NULL },
  { "from", MB_KIND_NAME, FE (class_name), FALSE, "fast", NULL },
  { "files", MB_KIND_NAME, FE (publish_name), FALSE, "any", NULL },
  { NULL, 0, 0, FALSE, NULL, NULL },
};

static gpointer mb_open_scenario (MbLoad *ld, const char *id);
static gpointer mb_open_file (MbLoad *ld, const char *id);
static gpointer mb_open_tracker (MbLoad *ld, const char *id);
static gpointer mb_open_network (MbLoad *ld, const char *id);
static gpointer mb_open_none (MbLoad *ld, const char *id);
static gpointer mb_open_churn (MbLoad *ld, const char *id);
static gpointer mb_open_class (MbLoad *ld, const char *id);
static gpointer mb_open_event (MbLoad *ld, const char *id);
static gpointer mb_open_ring (MbLoad *ld, const char *id);
static gpointer mb_open_publish (MbLoad *ld, const char *id);
static gpointer mb_open_fetch (MbLoad *ld, const char *id);
static gboolean mb_finish_scenario (MbLoad *ld, const char *group, gpointer t, GError **error);
static gboolean mb_finish_file (MbLoad *ld, const char *group, gpointer t, GError **error);
static gboolean mb_finish_tracker (MbLoad *ld, const char *group, gpointer t, GError **error);
static gboolean mb_finish_network (MbLoad *ld, const char *group, gpointer t, GError **error);
static gboolean mb_finish_latency (MbLoad *ld, const char *group, gpointer t, GError **error);
static gboolean mb_finish_class (MbLoad *ld, const char *group, gpointer t, GError **error);
static gboolean mb_finish_event (MbLoad *ld, const char *group, gpointer t, GError **error);
static gboolean mb_finish_ring (MbLoad *ld, const char *group, gpointer t, GError **error);
static gboolean mb_finish_publish (MbLoad *ld, const char *group, gpointer t, GError **error);
static gboolean mb_finish_fetch (MbLoad *ld, const char *group, gpointer t, GError **error);
static gboolean mb_latency_key (MbLoad *ld, const char *where, const char *group,
                                const char *key, const char *value, GError **error);
static gboolean mb_expect_key (MbLoad *ld, const char *where, const char *group,
                               const char *key, const char *value, GError **error);

/* Validation runs in this order.  A new group is one row here plus its
 * struct (or, with multi = TRUE, an array) in MbScenario.  [file] is not
 * `required` here as [ring] makes it optional: mb_finish_file checks. */
static const MbGroupSpec groups[] = {
  { "scenario", FALSE, FALSE, scenario_keys, mb_open_scenario, NULL, mb_finish_scenario,
    "[scenario]" },
  { "file", FALSE, FALSE, file_keys, mb_open_file, NULL, mb_finish_file, "[file]" },
  { "tracker", FALSE, FALSE, tracker_keys, mb_open_tracker, NULL, mb_finish_tracker,
    "[tracker]" },
  { "network", FALSE, FALSE, network_keys, mb_open_network, NULL, mb_finish_network,
    "[network]" },
  { "latency", FALSE, FALSE, NULL, mb_open_none, mb_latency_key, mb_finish_latency,
    "[latency]" },
  { "churn", FALSE, FALSE, churn_keys, mb_open_churn, NULL, NULL, "[churn]" },
  { "ring", FALSE, FALSE, ring_keys, mb_open_ring, NULL, mb_finish_ring, "[ring]" },
  { "peers", TRUE, FALSE, peer_keys, mb_open_class, NULL, mb_finish_class, "[peers.<class>]" },
  { "event", TRUE, FALSE, event_keys, mb_open_event, NULL, mb_finish_event, "[event.<name>]" },
  { "publish", TRUE, FALSE, publish_keys, mb_open_publish, NULL, mb_finish_publish,
    "[publish.<name>]" },
  { "fetch", TRUE, FALSE, fetch_keys, mb_open_fetch, NULL, mb_finish_fetch, "[fetch.<name>]" },
  { "expect", FALSE, FALSE, NULL, mb_open_none, mb_expect_key, NULL, "[expect]" },
};

/* The spec for a group name; *id gets the part after "peers." (multi). */
static const MbGroupSpec *
mb_group_find (const char *group, const char **id)
{
  for (guint i = 0; i < G_N_ELEMENTS (groups); i++)
    {
      const MbGroupSpec *gs = &groups[i];
      gsize n = strlen (gs->name);
      if (!gs->multi && strcmp (group, gs->name) == 0)
        return gs;
      if (gs->multi && strncmp (group, gs->name, n) == 0 && group[n] == '.')
        {
          *id = group + n + 1;
          return gs;
        }
    }
  return NULL;
}

static const MbKeySpec *
mb_key_find (const MbGroupSpec *gs, const char *key)
{
  for (const MbKeySpec *k = gs->keys; k->key != NULL; k++)
    if (strcmp (k->key, key) == 0)
      return k;
  return NULL;
}

/* Checks that a group exists in the table (and a multi group's id). */
static const MbGroupSpec *
mb_group_check (const char *where, const char *group, GError **error)
{
  const char *id = NULL;
  const MbGroupSpec *gs = mb_group_find (group, &id);
  if (gs == NULL)
    {
      GString *known = g_string_new (NULL);
      for (guint i = 0; i < G_N_ELEMENTS (groups); i++)
        g_string_append_printf (known, "%s%s", i ? ", " : "", groups[i].display);
      mb_fail (error, MB_SCENARIO_ERROR_UNKNOWN_GROUP, where, group, NULL,
               "unknown group; known groups: %s", known->str);
      g_string_free (known, TRUE);
      return NULL;
    }
  if (gs->multi && !mb_scenario_is_name (id))
    {
      mb_fail (error, MB_SCENARIO_ERROR_INVALID, where, group, NULL,
               "\"%s\" is not a name for %s; " NAME_FORM ", e.g. [%s.fast]", id, gs->display,
               gs->name);
      return NULL;
    }
  return gs;
}

static gboolean
mb_fail_unknown_key (GError **error, const char *where, const MbGroupSpec *gs,
                     const char *group, const char *key)
{
  GString *known = g_string_new (NULL);
  for (const MbKeySpec *k = gs->keys; k->key != NULL; k++)
    g_string_append_printf (known, "%s%s", k == gs->keys ? "" : ", ", k->key);
  mb_fail (error, MB_SCENARIO_ERROR_UNKNOWN_KEY, where, group, key, "unknown key; known keys: %s",
           known->str);
  g_string_free (known, TRUE);
  return FALSE;
}

/* ---- loading one group ---------------------------------------------------- */

static gboolean
mb_load_has (const MbLoad *ld, const char *group, const char *key)
{
  return ld->present && g_key_file_has_key (ld->kf, group, key, NULL);
}

static gboolean
mb_load_key (MbLoad *ld, const MbGroupSpec *gs, const char *group, gpointer target,
             const char *key, const char *value, GError **error)
{
  if (gs->keys == NULL)
    return gs->free_key (ld, ld->where, group, key, value, error);
  const MbKeySpec *spec = mb_key_find (gs, key);
  if (spec == NULL)
    return mb_fail_unknown_key (error, ld->where, gs, group, key);
  GError *inner = NULL;
  if (!mb_value_parse (spec, value, (guint8 *) target + spec->offset, &inner))
    return mb_fail_wrap (error, inner, ld->where, group, key);
  return TRUE;
}

static gboolean
mb_load_keys (MbLoad *ld, const MbGroupSpec *gs, const char *group, gpointer target,
              GError **error)
{
  gsize n = 0;
  g_auto (GStrv) keys = ld->present ? g_key_file_get_keys (ld->kf, group, &n, NULL) : NULL;
  for (gsize i = 0; i < n; i++)
    {
      g_autofree gchar *value = g_key_file_get_value (ld->kf, group, keys[i], NULL);
      if (!mb_load_key (ld, gs, group, target, keys[i], g_strstrip (value), error))
        return FALSE;
    }
  for (const MbKeySpec *k = gs->keys; k != NULL && k->key != NULL; k++)
    if (k->required && !mb_load_has (ld, group, k->key))
      return mb_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, group, k->key,
                      "required key is missing; write e.g. %s = %s", k->key, k->example);
  return TRUE;
}

static gboolean
mb_load_group (MbLoad *ld, const MbGroupSpec *gs, const char *group, const char *id,
               GError **error)
{
  ld->present = g_key_file_has_group (ld->kf, group);
  gpointer target = gs->open (ld, id);
  if ((ld->present || gs->required) && !mb_load_keys (ld, gs, group, target, error))
    return FALSE;
  return gs->finish == NULL || gs->finish (ld, group, target, error);
}

/* ---- opening groups: defaults --------------------------------------------- */

static gpointer
mb_open_scenario (MbLoad *ld, const char *id G_GNUC_UNUSED)
{
  MbScenario *sc = ld->sc;
  sc->seed = 1;
  sc->duration = G_GUINT64_CONSTANT (24) * 3600 * G_USEC_PER_SEC;
  sc->stop = MB_STOP_ALL_COMPLETE;
  sc->sample_interval = 10 * G_USEC_PER_SEC;
  return sc;
}

static gpointer
mb_open_file (MbLoad *ld, const char *id G_GNUC_UNUSED)
{
  MbFileConfig *f = &ld->sc->file;
  f->piece_size = 256 * 1024;
  f->block_size = 16 * 1024;
  return f;
}

static gpointer
mb_open_tracker (MbLoad *ld, const char *id G_GNUC_UNUSED)
{
  MbScenarioTracker *t = &ld->sc->tracker;
  t->peer_list_size = 5;
  t->announce_interval = 5 * 60 * G_USEC_PER_SEC;
  t->peer_timeout = 30 * 60 * G_USEC_PER_SEC;
  t->initial_share = 0;
  return t;
}

static gpointer
mb_open_network (MbLoad *ld, const char *id G_GNUC_UNUSED)
{
  MbNetworkConfig *n = &ld->sc->network;
  n->latency.lo = n->latency.hi = 50 * 1000;
  return n;
}

static gpointer
mb_open_none (MbLoad *ld G_GNUC_UNUSED, const char *id G_GNUC_UNUSED)
{
  return NULL;
}

static gpointer
mb_open_churn (MbLoad *ld, const char *id G_GNUC_UNUSED)
{
  MbChurnConfig *c = &ld->sc->churn;
  c->enabled = ld->present;
  c->leave_graceful = 1.0;
  return c;
}

static gpointer
mb_open_class (MbLoad *ld, const char *id)
{
  MbPeerClass c = { 0 };
  c.name = g_strdup (id);
  c.strategy = MB_SCENARIO_STRATEGY_TFT;
  c.arrival.kind = MB_ARRIVAL_AT;
  c.seed_time = MB_SCENARIO_FOREVER;
  g_array_append_val (ld->classes, c);
  return &g_array_index (ld->classes, MbPeerClass, ld->classes->len - 1);
}

static gpointer
mb_open_event (MbLoad *ld, const char *id)
{
  MbScenarioEvent e = { 0 };
  e.name = g_strdup (id);
  e.class_index = -1;
  e.repeat = 1;
  e.groups = 2;
  g_array_append_val (ld->events, e);
  return &g_array_index (ld->events, MbScenarioEvent, ld->events->len - 1);
}

static gpointer
mb_open_ring (MbLoad *ld, const char *id G_GNUC_UNUSED)
{
  MbRingConfig *r = &ld->sc->ring;
  r->enabled = ld->present;
  r->replication = 3;
  r->vnodes = 128;
  r->chunk_size = 256 * 1024;
  r->rpc_timeout = 10 * G_USEC_PER_SEC;
  r->view_delay = MB_RING_VIEW_DELAY_LATENCY;
  return r;
}

static gpointer
mb_open_publish (MbLoad *ld, const char *id)
{
  MbPublish p = { 0 };
  p.name = g_strdup (id);
  p.class_index = -1;
  g_array_append_val (ld->publishes, p);
  return &g_array_index (ld->publishes, MbPublish, ld->publishes->len - 1);
}

static gpointer
mb_open_fetch (MbLoad *ld, const char *id)
{
  MbFetch f = { 0 };
  f.name = g_strdup (id);
  f.class_index = -1;
  f.publish_index = -1;
  g_array_append_val (ld->fetches, f);
  return &g_array_index (ld->fetches, MbFetch, ld->fetches->len - 1);
}

/* ---- finishing groups: cross-key checks ----------------------------------- */

static gboolean
mb_finish_scenario (MbLoad *ld, const char *group, gpointer t G_GNUC_UNUSED, GError **error)
{
  MbScenario *sc = ld->sc;
  if (sc->name == NULL)
    {
      gchar *base = g_path_get_basename (sc->path);
      if (g_str_has_suffix (base, ".ini") && strlen (base) > 4)
        base[strlen (base) - 4] = '\0';
      sc->name = base;
    }
  if (sc->duration == 0)
    return mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "duration",
                    "must be above 0; write e.g. duration = 24h");
  if (sc->sample_interval == 0)
    return mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "sample_interval",
                    "must be above 0; write e.g. sample_interval = 10s");
  return TRUE;
}

static gboolean
mb_finish_file (MbLoad *ld, const char *group, gpointer t, GError **error)
{
  MbFileConfig *f = t;
  if (!mb_load_has (ld, group, "size"))
    {
      if (!ld->present && g_key_file_has_group (ld->kf, "ring"))
        return TRUE; /* no swarm file: size and n_pieces stay 0 */
      return mb_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, group, "size",
                      "required key is missing; write e.g. size = 100MiB%s",
                      ld->present ? "" : " ([file] is required unless [ring] is present)");
    }
  if (f->size == 0)
    return mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "size",
                    "the file must not be empty; write e.g. size = 100MiB");
  if (f->piece_size == 0 || f->piece_size > G_MAXUINT32)
    return mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "piece_size",
                    "must be from 1B to 4GiB; write e.g. piece_size = 256KiB");
  if (f->block_size == 0 || f->piece_size % f->block_size != 0)
    {
      g_autofree gchar *b = mb_units_format_size (f->block_size);
      g_autofree gchar *p = mb_units_format_size (f->piece_size);
      return mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "block_size",
                      "%s does not divide piece_size %s; write e.g. block_size = 16KiB", b, p);
    }
  guint64 n = f->size / f->piece_size + (f->size % f->piece_size != 0);
  if (n > G_MAXUINT32)
    return mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "piece_size",
                    "too small for the file (more than 2^32 pieces)");
  f->n_pieces = (guint) n;
  return TRUE;
}

static gboolean
mb_finish_tracker (MbLoad *ld, const char *group, gpointer t, GError **error)
{
  MbScenarioTracker *tr = t;
  if (tr->peer_list_size == 0)
    return mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "peer_list_size",
                    "must be at least 1; write e.g. peer_list_size = 5");
  return TRUE;
}

static gboolean
mb_finish_network (MbLoad *ld, const char *group, gpointer t, GError **error)
{
  MbNetworkConfig *n = t;
  n->n_regions = n->regions ? g_strv_length (n->regions) : 0;
  if (n->n_regions == 0)
    {
      if (mb_load_has (ld, group, "jitter"))
        return mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "jitter",
                        "applies only with regions; without them write a range, "
                        "e.g. latency = 20ms..120ms");
      n->latency_model = n->latency.lo == n->latency.hi ? MB_LATENCY_CONSTANT
                                                        : MB_LATENCY_UNIFORM;
      return TRUE;
    }
  if (mb_load_has (ld, group, "latency"))
    return mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "latency",
                    "with regions, give latencies in [latency] instead, e.g. eu.us = 80ms");
  n->latency_model = MB_LATENCY_REGIONS;
  n->latency_matrix = g_new0 (guint64, n->n_regions * n->n_regions);
  ld->pair_given = g_new0 (guint8, n->n_regions * n->n_regions);
  return TRUE;
}

static gint
mb_region_index (const MbNetworkConfig *n, const char *name)
{
  for (guint i = 0; i < n->n_regions; i++)
    if (strcmp (n->regions[i], name) == 0)
      return (gint) i;
  return -1;
}

static gboolean
mb_fail_no_region (GError **error, const char *where, const char *group, const char *key,
                   const MbNetworkConfig *n, const char *name)
{
  g_autofree gchar *list = g_strjoinv (", ", n->regions);
  return mb_fail (error, MB_SCENARIO_ERROR_INVALID, where, group, key,
                  "\"%s\" is not a region; regions are: %s", name, list);
}

static gboolean
mb_latency_key (MbLoad *ld, const char *where, const char *group, const char *key,
                const char *value, GError **error)
{
  g_auto (GStrv) pair = g_strsplit (key, ".", -1);
  if (g_strv_length (pair) != 2 || !mb_scenario_is_name (pair[0])
      || !mb_scenario_is_name (pair[1]))
    return mb_fail (error, MB_SCENARIO_ERROR_INVALID, where, group, key,
                    "not a pair of regions; write e.g. eu.us = 80ms");
  guint64 v = 0;
  GError *inner = NULL;
  if (!mb_units_parse_duration (value, &v, &inner))
    return mb_fail_wrap (error, inner, where, group, key);
  const MbNetworkConfig *n = ld ? &ld->sc->network : NULL;
  if (n == NULL || n->n_regions == 0)
    return TRUE; /* an override, or no regions: mb_finish_latency reports it */
  gint from = mb_region_index (n, pair[0]), to = mb_region_index (n, pair[1]);
  if (from < 0 || to < 0)
    return mb_fail_no_region (error, where, group, key, n, from < 0 ? pair[0] : pair[1]);
  n->latency_matrix[from * n->n_regions + to] = v;
  ld->pair_given[from * n->n_regions + to] = 1;
  return TRUE;
}

static gboolean
mb_finish_latency (MbLoad *ld, const char *group, gpointer t G_GNUC_UNUSED, GError **error)
{
  MbNetworkConfig *n = &ld->sc->network;
  if (n->n_regions == 0)
    return !ld->present
           || mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, NULL,
                       "region latencies need regions in [network], e.g. regions = eu, us");
  guint r = n->n_regions;
  for (guint i = 0; i < r; i++)
    for (guint j = i; j < r; j++)
      {
        gboolean ij = ld->pair_given[i * r + j], ji = ld->pair_given[j * r + i];
        if (!ij && !ji)
          {
            g_autofree gchar *key = g_strdup_printf ("%s.%s", n->regions[i], n->regions[j]);
            return mb_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, group, key,
                            "missing; every pair of regions needs a latency (one direction "
                            "serves both), e.g. %s = 80ms", key);
          }
        if (!ij)
          n->latency_matrix[i * r + j] = n->latency_matrix[j * r + i];
        if (!ji)
          n->latency_matrix[j * r + i] = n->latency_matrix[i * r + j];
      }
  return TRUE;
}

static gboolean
mb_finish_class_arrival (MbLoad *ld, const char *group, MbPeerClass *c, GError **error)
{
  if (c->arrival.kind == MB_ARRIVAL_POISSON)
    {
      if (!mb_load_has (ld, group, "arrival_rate"))
        return mb_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, group, "arrival_rate",
                        "arrival = poisson needs a rate; write e.g. arrival_rate = 2/s");
      return TRUE;
    }
  static const char *const poisson_only[] = { "arrival_rate", "arrival_start" };
  for (guint i = 0; i < G_N_ELEMENTS (poisson_only); i++)
    if (mb_load_has (ld, group, poisson_only[i]))
      return mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, poisson_only[i],
                      "applies only with arrival = poisson");
  return TRUE;
}

static gboolean
mb_finish_class_region (MbLoad *ld, const char *group, MbPeerClass *c, GError **error)
{
  const MbNetworkConfig *n = &ld->sc->network;
  if (n->n_regions == 0)
    return c->region_name == NULL
           || mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "region",
                       "no regions are set; add e.g. regions = eu, us to [network]");
  if (c->region_name == NULL)
    return mb_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, group, "region",
                    "required when [network] has regions; write e.g. region = %s",
                    n->regions[0]);
  gint r = mb_region_index (n, c->region_name);
  if (r < 0)
    return mb_fail_no_region (error, ld->where, group, "region", n, c->region_name);
  c->region = (guint) r;
  return TRUE;
}

static gboolean
mb_finish_class (MbLoad *ld, const char *group, gpointer t, GError **error)
{
  MbPeerClass *c = t;
  if (!mb_finish_class_arrival (ld, group, c, error)
      || !mb_finish_class_region (ld, group, c, error))
    return FALSE;
  if (c->churn && !ld->sc->churn.enabled)
    return mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "churn",
                    "churn = yes needs a [churn] group, e.g. session = exponential 30min");
  return TRUE;
}

static gint
mb_load_class_index (const MbLoad *ld, const char *name)
{
  for (guint i = 0; i < ld->classes->len; i++)
    if (strcmp (g_array_index (ld->classes, MbPeerClass, i).name, name) == 0)
      return (gint) i;
  return -1;
}

static gboolean
mb_fail_no_class (GError **error, const MbLoad *ld, const char *group, const char *key,
                  const char *name)
{
  GString *list = g_string_new (NULL);
  for (guint i = 0; i < ld->classes->len; i++)
    g_string_append_printf (list, "%s%s", i ? ", " : "",
                            g_array_index (ld->classes, MbPeerClass, i).name);
  mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, key,
           "\"%s\" is not a class; classes are: %s", name, list->str);
  g_string_free (list, TRUE);
  return FALSE;
}

/* Keys that must not appear with this action. */
static gboolean
mb_finish_event_forbid (MbLoad *ld, const char *group, const char *const *keys,
                        const char *applies, GError **error)
{
  for (guint i = 0; keys[i] != NULL; i++)
    if (mb_load_has (ld, group, keys[i]))
      return mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, keys[i],
                      "applies only to action = %s", applies);
  return TRUE;
}

static gboolean
mb_finish_partition (MbLoad *ld, const char *group, MbScenarioEvent *e, GError **error)
{
  static const char *const peer_keys_only[] = { "count", "class", "interval", NULL };
  static const char *const crash_only[] = { "repeat", "every", NULL };
  if (!mb_finish_event_forbid (ld, group, peer_keys_only, "shutdown, crash or add", error)
      || !mb_finish_event_forbid (ld, group, crash_only, "crash", error))
    return FALSE;
  if (!mb_load_has (ld, group, "until"))
    return mb_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, group, "until",
                    "action = partition needs an end; write e.g. until = 20min");
  if (e->until <= e->at)
    return mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "until",
                    "must be after at");
  if (e->groups < 2)
    return mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "groups",
                    "must be at least 2; write e.g. groups = 2");
  return TRUE;
}

/* repeat and every (crash): each repetition is a whole round of `count`
 * peers, so rounds must not overlap. */
static gboolean
mb_finish_event_repeat (MbLoad *ld, const char *group, MbScenarioEvent *e, GError **error)
{
  if (e->repeat == 0)
    return mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "repeat",
                    "must be at least 1; write e.g. repeat = 5");
  if (e->repeat == 1)
    return TRUE; /* every, if given, has nothing to space */
  if (!mb_load_has (ld, group, "every"))
    return mb_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, group, "every",
                    "repeat = %u needs the time between rounds; write e.g. every = 2min",
                    e->repeat);
  guint64 round = 0, twice = 0;
  if (!g_uint64_checked_mul (&round, e->count - 1, e->interval))
    round = G_MAXUINT64;
  if (e->every > round)
    return TRUE;
  g_autofree gchar *r = mb_units_format_duration (round);
  g_autofree gchar *eg = round > 0 && g_uint64_checked_mul (&twice, round, 2)
                           ? mb_units_format_duration (twice) : g_strdup ("2min");
  return mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "every",
                  "must be longer than one round, (count - 1) * interval = %s; "
                  "write e.g. every = %s", r, eg);
}

static gboolean
mb_finish_event (MbLoad *ld, const char *group, gpointer t, GError **error)
{
  MbScenarioEvent *e = t;
  if (e->action == MB_ACTION_PARTITION)
    return mb_finish_partition (ld, group, e, error);
  static const char *const partition_only[] = { "groups", "until", NULL };
  static const char *const crash_only[] = { "repeat", "every", NULL };
  if (!mb_finish_event_forbid (ld, group, partition_only, "partition", error)
      || (e->action != MB_ACTION_CRASH
          && !mb_finish_event_forbid (ld, group, crash_only, "crash", error)))
    return FALSE;
  if (!mb_load_has (ld, group, "count") || e->count == 0)
    return mb_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, group, "count",
                    "%s; write e.g. count = 10",
                    mb_load_has (ld, group, "count") ? "must be at least 1"
                                                     : "required key is missing");
  if (e->action == MB_ACTION_ADD && e->class_name == NULL)
    return mb_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, group, "class",
                    "action = add needs a class; write e.g. class = %s",
                    ld->classes->len ? g_array_index (ld->classes, MbPeerClass, 0).name
                                     : "fast");
  if (e->class_name != NULL && (e->class_index = mb_load_class_index (ld, e->class_name)) < 0)
    return mb_fail_no_class (error, ld, group, "class", e->class_name);
  return e->action != MB_ACTION_CRASH || mb_finish_event_repeat (ld, group, e, error);
}

static gboolean
mb_finish_ring (MbLoad *ld, const char *group, gpointer t, GError **error)
{
  MbRingConfig *r = t;
  if (r->replication == 0)
    return mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "replication",
                    "must be at least 1; write e.g. replication = 3");
  if (r->vnodes == 0)
    return mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "vnodes",
                    "must be at least 1; write e.g. vnodes = 128");
  if (r->chunk_size == 0 || r->chunk_size > G_MAXUINT32)
    return mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "chunk_size",
                    "must be from 1B to 4GiB; write e.g. chunk_size = 256KiB");
  if (r->rpc_timeout == 0)
    return mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "rpc_timeout",
                    "must be above 0; write e.g. rpc_timeout = 10s");
  return TRUE;
}

/* [publish.*] and [fetch.*]: the ring must be on, `count` at least 1 and
 * `from` (if given) a class. */
static gboolean
mb_finish_ring_traffic (MbLoad *ld, const char *group, guint count, const char *class_name,
                        gint *class_index, GError **error)
{
  if (!ld->sc->ring.enabled)
    return mb_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, group, NULL,
                    "needs a [ring] group; add one, e.g. [ring] with replication = 3");
  if (count == 0)
    return mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "count",
                    "must be at least 1; write e.g. count = 10");
  if (class_name != NULL && (*class_index = mb_load_class_index (ld, class_name)) < 0)
    return mb_fail_no_class (error, ld, group, "from", class_name);
  return TRUE;
}

static gboolean
mb_finish_publish (MbLoad *ld, const char *group, gpointer t, GError **error)
{
  MbPublish *p = t;
  if (!mb_finish_ring_traffic (ld, group, p->count, p->class_name, &p->class_index, error))
    return FALSE;
  if (strcmp (p->name, "any") == 0)
    return mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, NULL,
                    "\"any\" is reserved (files = any in [fetch.<name>]); "
                    "choose another name, e.g. [publish.docs]");
  if (p->size == 0)
    return mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "size",
                    "a file must not be empty; write e.g. size = 1MiB");
  return TRUE;
}

static gboolean
mb_fail_no_publish (GError **error, const MbLoad *ld, const char *group, const char *name)
{
  GString *list = g_string_new (NULL);
  for (guint i = 0; i < ld->publishes->len; i++)
    g_string_append_printf (list, "%s%s", i ? ", " : "",
                            g_array_index (ld->publishes, MbPublish, i).name);
  mb_fail (error, MB_SCENARIO_ERROR_INVALID, ld->where, group, "files",
           "\"%s\" is not a [publish.<name>] group; write any or %s%s", name,
           ld->publishes->len > 1 ? "one of: " : "", list->str);
  g_string_free (list, TRUE);
  return FALSE;
}

static gboolean
mb_finish_fetch (MbLoad *ld, const char *group, gpointer t, GError **error)
{
  MbFetch *f = t;
  if (!mb_finish_ring_traffic (ld, group, f->count, f->class_name, &f->class_index, error))
    return FALSE;
  if (ld->publishes->len == 0)
    return mb_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, group, NULL,
                    "nothing to fetch: no [publish.<name>] group; add one, e.g. "
                    "[publish.docs] with count and size");
  if (f->publish_name == NULL || strcmp (f->publish_name, "any") == 0)
    {
      g_clear_pointer (&f->publish_name, g_free);
      return TRUE;
    }
  for (guint i = 0; i < ld->publishes->len; i++)
    if (strcmp (g_array_index (ld->publishes, MbPublish, i).name, f->publish_name) == 0)
      {
        f->publish_index = (gint) i;
        return TRUE;
      }
  return mb_fail_no_publish (error, ld, group, f->publish_name);
}

static gboolean
mb_expect_key (MbLoad *ld, const char *where, const char *group, const char *key,
               const char *value, GError **error)
{
  MbExpect e;
  GError *inner = NULL;
  if (!mb_expect_parse (key, value, &e, &inner))
    return mb_fail_wrap (error, inner, where, group, key);
  if (ld != NULL)
    g_array_append_val (ld->expects, e);
  else
    mb_expect_clear (&e);
  return TRUE;
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
  mb_expect_clear (p);
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
    mb_expect_clear (&sc->expects[i]);
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

static gboolean
mb_load_check_groups (MbLoad *ld, GError **error)
{
  g_auto (GStrv) names = g_key_file_get_groups (ld->kf, NULL);
  for (guint i = 0; names[i] != NULL; i++)
    if (mb_group_check (ld->where, names[i], error) == NULL)
      return FALSE;
  return TRUE;
}

static gboolean
mb_load_all_groups (MbLoad *ld, GError **error)
{
  g_auto (GStrv) names = g_key_file_get_groups (ld->kf, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (groups); i++)
    {
      const MbGroupSpec *gs = &groups[i];
      if (!gs->multi)
        {
          if (!mb_load_group (ld, gs, gs->name, NULL, error))
            return FALSE;
          continue;
        }
      for (guint j = 0; names[j] != NULL; j++)
        {
          const char *id = NULL;
          if (mb_group_find (names[j], &id) == gs && !mb_load_group (ld, gs, names[j], id, error))
            return FALSE;
        }
    }
  if (ld->classes->len == 0)
    return mb_fail (error, MB_SCENARIO_ERROR_MISSING, ld->where, NULL, NULL,
                    "no [peers.<class>] group; add one, e.g. [peers.leechers] with count, "
                    "upload and download");
  return TRUE;
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
  gboolean ok = mb_load_check_groups (&ld, error) && mb_load_all_groups (&ld, error);
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

/* "peers.fast.upload" -> group "peers.fast", key "upload"; "latency.eu.us" ->
 * "latency", "eu.us".  Unknown first words split at the last dot. */
static gboolean
mb_override_split (const char *lhs, gchar **group, gchar **key)
{
  const char *dot = strchr (lhs, '.');
  if (dot == NULL)
    return FALSE;
  g_autofree gchar *first = g_strndup (lhs, dot - lhs);
  const char *id = NULL;
  g_autofree gchar *probe = g_strconcat (first, ".x", NULL);
  const MbGroupSpec *gs = mb_group_find (first, &id);
  const char *end = dot;
  if (gs == NULL && mb_group_find (probe, &id) != NULL)
    end = strchr (dot + 1, '.');       /* a multi group: two words */
  else if (gs == NULL)
    end = strrchr (lhs, '.');
  if (end == NULL || end[1] == '\0' || end == lhs)
    return FALSE;
  *group = g_strndup (lhs, end - lhs);
  *key = g_strdup (end + 1);
  return TRUE;
}

static gboolean
mb_override_check (const char *where, const char *group, const char *key, const char *value,
                   GError **error)
{
  const MbGroupSpec *gs = mb_group_check (where, group, error);
  if (gs == NULL)
    return FALSE;
  if (gs->keys == NULL)
    return gs->free_key (NULL, where, group, key, value, error);
  const MbKeySpec *spec = mb_key_find (gs, key);
  if (spec == NULL)
    return mb_fail_unknown_key (error, where, gs, group, key);
  MbValue scratch;
  memset (&scratch, 0, sizeof scratch);
  GError *inner = NULL;
  gboolean ok = mb_value_parse (spec, value, &scratch, &inner);
  mb_value_clear (spec, &scratch);
  return ok || mb_fail_wrap (error, inner, where, group, key);
}

gboolean
mb_scenario_set (MbScenario *sc, const char *assignment, GError **error)
{
  g_autofree gchar *where = g_strdup_printf ("--set %s", assignment);
  const char *eq = strchr (assignment, '=');
  g_autofree gchar *lhs = eq ? g_strstrip (g_strndup (assignment, eq - assignment)) : NULL;
  g_autofree gchar *value = eq ? g_strstrip (g_strdup (eq + 1)) : NULL;
  g_autofree gchar *group = NULL, *key = NULL;
  if (lhs == NULL || !mb_override_split (lhs, &group, &key))
    return mb_fail (error, MB_SCENARIO_ERROR_OVERRIDE, where, NULL, NULL,
                    "write group.key=value, e.g. peers.fast.upload=20Mbit or network.loss=1%%");
  if (!mb_override_check (where, group, key, value, error))
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
    return mb_fail (error, MB_SCENARIO_ERROR_UNKNOWN_METRIC, "expect", NULL, NULL,
                    "%s: no such metric", e->metric);
  if (got != NULL)
    *got = v;
  if (e->all && !metric (data, "peers", &want))
    return mb_fail (error, MB_SCENARIO_ERROR_UNKNOWN_METRIC, "expect", NULL, NULL,
                    "%s: \"all\" needs the metric peers", e->text);
  if (mb_cmp_holds (e->op, v, want))
    return TRUE;
  if (e->all)
    return mb_fail (error, MB_SCENARIO_ERROR_EXPECT_FAILED, "expect", NULL, NULL,
                    "%s (%g): got %g", e->text, want, v);
  return mb_fail (error, MB_SCENARIO_ERROR_EXPECT_FAILED, "expect", NULL, NULL, "%s: got %g",
                  e->text, v);
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
      return mb_fail (error, MB_SCENARIO_ERROR_UNKNOWN_METRIC, sc->path, "expect", e->metric,
                      "\"%s\" is not a metric; known metrics: %s", missing, list);
    }
  return TRUE;
}

/* ---- distributions -------------------------------------------------------- */

guint64
mb_dist_sample (const MbDist *dist, GRand *rng)
{
  if (dist->kind == MB_DIST_NONE)
    return MB_SCENARIO_FOREVER;
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
