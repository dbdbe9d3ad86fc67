/* units.c — exact parsing and friendly formatting of sizes, durations,
 * rates, probabilities and counts (see units.h for the accepted forms).
 *
 * Invariants: parsing never uses floating point for sizes, durations and
 * rates (a decimal fraction is reduced to lowest terms and must scale to a
 * whole number of the base unit); results never silently overflow; every
 * error message quotes the input and shows an accepted form.
 */
#include "units.h"

#include <string.h>

G_DEFINE_QUARK (mb-units-error-quark, mb_units_error)

typedef struct {
  const char *name;
  guint64 mult;
} MbUnit;

typedef enum {
  MB_NUM_OK,
  MB_NUM_SYNTAX,
  MB_NUM_NOT_WHOLE,
  MB_NUM_OVERFLOW,
} MbNumStatus;

/* A decimal number split into its integer part and reduced fraction. */
typedef struct {
  guint64 ipart;
  guint64 fnum;   /* fraction = fnum / fden, in lowest terms */
  guint64 fden;
  gboolean has_fraction;
  gboolean truncated; /* nonzero digits beyond 19 decimals were ignored */
  const char *unit; /* the rest, leading spaces skipped */
} MbDecimal;

#define KIB G_GUINT64_CONSTANT (1024)
#define E3 G_GUINT64_CONSTANT (1000)

static const MbUnit size_units[] = {
  { "B", 1 },
  { "KiB", KIB }, { "MiB", KIB * KIB }, { "GiB", KIB * KIB * KIB },
  { "TiB", KIB * KIB * KIB * KIB },
  { "KB", E3 }, { "kB", E3 }, { "MB", E3 * E3 }, { "GB", E3 * E3 * E3 },
  { "TB", E3 * E3 * E3 * E3 },
  { NULL, 0 },
};

static const MbUnit duration_units[] = {
  { "us", 1 }, { "ms", E3 }, { "s", E3 * E3 }, { "min", 60 * E3 * E3 },
  { "h", 3600 * E3 * E3 }, { "d", 86400 * E3 * E3 },
  { NULL, 0 },
};

static const MbUnit rate_units[] = {
  { "bit", 1 }, { "kbit", E3 }, { "Kbit", E3 }, { "Mbit", E3 * E3 },
  { "Gbit", E3 * E3 * E3 },
  { "bit/s", 1 }, { "kbit/s", E3 }, { "Kbit/s", E3 }, { "Mbit/s", E3 * E3 },
  { "Gbit/s", E3 * E3 * E3 },
  { "B/s", 8 }, { "KiB/s", 8 * KIB }, { "MiB/s", 8 * KIB * KIB },
  { "GiB/s", 8 * KIB * KIB * KIB },
  { "KB/s", 8 * E3 }, { "kB/s", 8 * E3 }, { "MB/s", 8 * E3 * E3 },
  { "GB/s", 8 * E3 * E3 * E3 },
  { NULL, 0 },
};

static const MbUnit per_time_units[] = {
  { "/s", 1 }, { "/min", 60 }, { "/h", 3600 },
  { NULL, 0 },
};

#define SIZE_FORM "write e.g. 256KiB, 10MB or 1000 (bytes)"
#define DURATION_FORM "write e.g. 100ms, 1.5s, 30min or 2h (a bare number is seconds)"
#define RATE_FORM "write e.g. 10Mbit, 512kbit, 2MiB/s or unlimited"
#define PROB_FORM "write a number from 0 to 1 or a percentage, e.g. 0.05 or 5%"
#define COUNT_FORM "write a whole number, e.g. 100"
#define NUMBER_FORM "write a number, e.g. 2.5"
#define PER_TIME_FORM "write e.g. 2/s, 30/min or 100/h"

static guint64
mb_units_gcd (guint64 a, guint64 b)
{
  while (b != 0)
    {
      guint64 t = a % b;
      a = b;
      b = t;
    }
  return a;
}

/* Accumulates digits into *value; FALSE on overflow. */
static gboolean
mb_units_digit (guint64 *value, char c)
{
  return g_uint64_checked_mul (value, *value, 10)
         && g_uint64_checked_add (value, *value, (guint64) (c - '0'));
}

static MbNumStatus
mb_units_split_fraction (const char **p, MbDecimal *d)
{
  guint64 num = 0, den = 1;
  const char *s = *p;
  if (!g_ascii_isdigit (*s))
    return MB_NUM_SYNTAX;
  for (; g_ascii_isdigit (*s); s++)
    {
      if (den > G_MAXUINT64 / 10)
        {
          d->truncated |= *s != '0'; /* beyond 19 digits: more than any unit needs */
          continue;
        }
      num = num * 10 + (guint64) (*s - '0'); /* num < den: cannot overflow */
      den *= 10;
    }
  *p = s;
  guint64 g = num ? mb_units_gcd (num, den) : den;
  d->fnum = num / g;
  d->fden = den / g;
  d->has_fraction = TRUE;
  return MB_NUM_OK;
}

/* Splits "12.5 KiB" (already stripped) into a decimal and a unit. */
static MbNumStatus
mb_units_split (const char *text, MbDecimal *d)
{
  memset (d, 0, sizeof *d);
  d->fden = 1;
  const char *p = text;
  if (!g_ascii_isdigit (*p))
    return MB_NUM_SYNTAX;
  for (; g_ascii_isdigit (*p); p++)
    if (!mb_units_digit (&d->ipart, *p))
      return MB_NUM_OVERFLOW;
  if (*p == '.')
    {
      p++;
      MbNumStatus st = mb_units_split_fraction (&p, d);
      if (st != MB_NUM_OK)
        return st;
    }
  while (*p == ' ' || *p == '\t')
    p++;
  d->unit = p;
  return MB_NUM_OK;
}

static const MbUnit *
mb_units_find (const MbUnit *units, const char *name)
{
  for (const MbUnit *u = units; u->name != NULL; u++)
    if (strcmp (u->name, name) == 0)
      return u;
  return NULL;
}

/* ipart.fraction * mult, exactly. */
static MbNumStatus
mb_units_scale (const MbDecimal *d, guint64 mult, guint64 *out)
{
  guint64 whole, frac = 0;
  if (d->truncated)
    return MB_NUM_NOT_WHOLE;
  if (d->fnum != 0)
    {
      if (mult % d->fden != 0)
        return MB_NUM_NOT_WHOLE;
      if (!g_uint64_checked_mul (&frac, d->fnum, mult / d->fden))
        return MB_NUM_OVERFLOW;
    }
  if (!g_uint64_checked_mul (&whole, d->ipart, mult)
      || !g_uint64_checked_add (out, whole, frac))
    return MB_NUM_OVERFLOW;
  return MB_NUM_OK;
}

/* Parses "<decimal> <unit>" against a unit table; bare_mult applies when
 * there is no unit (0: a unit is required). */
static MbNumStatus
mb_units_parse_scaled (const char *text, const MbUnit *units, guint64 bare_mult, guint64 *out)
{
  g_autofree gchar *s = g_strstrip (g_strdup (text));
  MbDecimal d;
  MbNumStatus st = mb_units_split (s, &d);
  if (st != MB_NUM_OK)
    return st;
  guint64 mult = bare_mult;
  if (*d.unit != '\0')
    {
      const MbUnit *u = mb_units_find (units, d.unit);
      if (u == NULL)
        return MB_NUM_SYNTAX;
      mult = u->mult;
    }
  if (mult == 0)
    return MB_NUM_SYNTAX;
  return mb_units_scale (&d, mult, out);
}

static gboolean
mb_units_fail (GError **error, MbNumStatus st, const char *text, const char *what,
               const char *whole_what, const char *form)
{
  switch (st)
    {
    case MB_NUM_NOT_WHOLE:
      g_set_error (error, MB_UNITS_ERROR, MB_UNITS_ERROR_RANGE,
                   "\"%s\" is not a whole number of %s; %s", text, whole_what, form);
      break;
    case MB_NUM_OVERFLOW:
      g_set_error (error, MB_UNITS_ERROR, MB_UNITS_ERROR_RANGE,
                   "\"%s\" is too large for a %s; %s", text, what, form);
      break;
    case MB_NUM_SYNTAX:
    case MB_NUM_OK:
    default:
      g_set_error (error, MB_UNITS_ERROR, MB_UNITS_ERROR_SYNTAX,
                   "\"%s\" is not a %s; %s", text, what, form);
      break;
    }
  return FALSE;
}

gboolean
mb_units_parse_size (const char *text, guint64 *bytes, GError **error)
{
  MbNumStatus st = mb_units_parse_scaled (text, size_units, 1, bytes);
  return st == MB_NUM_OK || mb_units_fail (error, st, text, "size", "bytes", SIZE_FORM);
}

gboolean
mb_units_parse_duration (const char *text, guint64 *usec, GError **error)
{
  MbNumStatus st = mb_units_parse_scaled (text, duration_units, E3 * E3, usec);
  return st == MB_NUM_OK
         || mb_units_fail (error, st, text, "duration", "microseconds", DURATION_FORM);
}

gboolean
mb_units_parse_rate (const char *text, guint64 *bps, GError **error)
{
  g_autofree gchar *s = g_strstrip (g_strdup (text));
  if (g_ascii_strcasecmp (s, "unlimited") == 0)
    {
      *bps = 0;
      return TRUE;
    }
  guint64 v = 0;
  MbNumStatus st = mb_units_parse_scaled (text, rate_units, 0, &v);
  if (st != MB_NUM_OK)
    return mb_units_fail (error, st, text, "rate", "bits per second", RATE_FORM);
  if (v == 0)
    {
      g_set_error (error, MB_UNITS_ERROR, MB_UNITS_ERROR_RANGE,
                   "\"%s\" is not a usable rate: it must be above zero; "
                   "write unlimited for no limit", text);
      return FALSE;
    }
  *bps = v;
  return TRUE;
}

/* A unitless or single-suffix decimal as a double. */
static MbNumStatus
mb_units_parse_decimal (const char *text, const char *suffix, double *out, gboolean *had_suffix)
{
  g_autofree gchar *s = g_strstrip (g_strdup (text));
  MbDecimal d;
  MbNumStatus st = mb_units_split (s, &d);
  if (st != MB_NUM_OK)
    return st;
  *had_suffix = suffix != NULL && strcmp (d.unit, suffix) == 0;
  if (*d.unit != '\0' && !*had_suffix)
    return MB_NUM_SYNTAX;
  *out = (double) d.ipart + (double) d.fnum / (double) d.fden;
  return MB_NUM_OK;
}

gboolean
mb_units_parse_probability (const char *text, double *p, GError **error)
{
  double v = 0;
  gboolean percent = FALSE;
  if (mb_units_parse_decimal (text, "%", &v, &percent) != MB_NUM_OK)
    return mb_units_fail (error, MB_NUM_SYNTAX, text, "probability", NULL, PROB_FORM);
  if (percent)
    v /= 100.0;
  if (v > 1.0)
    {
      g_set_error (error, MB_UNITS_ERROR, MB_UNITS_ERROR_RANGE,
                   "\"%s\" is not a probability: it is above %s; %s", text,
                   percent ? "100%" : "1", PROB_FORM);
      return FALSE;
    }
  *p = v;
  return TRUE;
}

gboolean
mb_units_parse_count (const char *text, guint *count, GError **error)
{
  g_autofree gchar *s = g_strstrip (g_strdup (text));
  MbDecimal d;
  MbNumStatus st = mb_units_split (s, &d);
  if (st == MB_NUM_OK && (*d.unit != '\0' || d.has_fraction))
    st = MB_NUM_SYNTAX;
  if (st == MB_NUM_OK && d.ipart > G_MAXUINT)
    st = MB_NUM_OVERFLOW;
  if (st != MB_NUM_OK)
    return mb_units_fail (error, st, text, "count", NULL, COUNT_FORM);
  *count = (guint) d.ipart;
  return TRUE;
}

gboolean
mb_units_parse_number (const char *text, double *value, GError **error)
{
  gboolean unused;
  MbNumStatus st = mb_units_parse_decimal (text, NULL, value, &unused);
  return st == MB_NUM_OK || mb_units_fail (error, st, text, "number", NULL, NUMBER_FORM);
}

gboolean
mb_units_parse_per_second (const char *text, double *per_second, GError **error)
{
  g_autofree gchar *s = g_strstrip (g_strdup (text));
  MbDecimal d;
  const MbUnit *u = NULL;
  MbNumStatus st = mb_units_split (s, &d);
  if (st == MB_NUM_OK && (u = mb_units_find (per_time_units, d.unit)) == NULL)
    st = MB_NUM_SYNTAX;
  if (st != MB_NUM_OK)
    return mb_units_fail (error, st, text, "rate of events", NULL, PER_TIME_FORM);
  double v = ((double) d.ipart + (double) d.fnum / (double) d.fden) / (double) u->mult;
  if (v <= 0.0)
    {
      g_set_error (error, MB_UNITS_ERROR, MB_UNITS_ERROR_RANGE,
                   "\"%s\" is not a usable rate of events: it must be above zero; %s", text,
                   PER_TIME_FORM);
      return FALSE;
    }
  *per_second = v;
  return TRUE;
}

/* ---- formatting ----------------------------------------------------------- */

/* value / mult if that has at most 3 decimals ("1.5MiB"), else NULL. */
static gchar *
mb_units_format_exact (guint64 value, const MbUnit *u)
{
  guint64 whole = value / u->mult, rem = value % u->mult;
  if (rem == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT "%s", whole, u->name);
  if (u->mult > G_MAXUINT64 / 1000 || (rem * 1000) % u->mult != 0)
    return NULL;
  gchar frac[8];
  g_snprintf (frac, sizeof frac, "%03" G_GUINT64_FORMAT, rem * 1000 / u->mult);
  for (gsize n = strlen (frac); n > 0 && frac[n - 1] == '0'; n--)
    frac[n - 1] = '\0';
  return g_strdup_printf ("%" G_GUINT64_FORMAT ".%s%s", whole, frac, u->name);
}

/* The largest unit not above value in which value is exact to 3 decimals;
 * units are in descending order and the last has mult 1. */
static gchar *
mb_units_format_with (guint64 value, const MbUnit *units)
{
  for (const MbUnit *u = units;; u++)
    {
      gchar *s = (value >= u->mult || u->mult == 1) ? mb_units_format_exact (value, u) : NULL;
      if (s != NULL)
        return s;
    }
}

gchar *
mb_units_format_size (guint64 bytes)
{
  static const MbUnit units[] = {
    { "TiB", KIB * KIB * KIB * KIB }, { "TB", E3 * E3 * E3 * E3 },
    { "GiB", KIB * KIB * KIB },       { "GB", E3 * E3 * E3 },
    { "MiB", KIB * KIB },             { "MB", E3 * E3 },
    { "KiB", KIB },                   { "KB", E3 },
    { "B", 1 },
  };
  return mb_units_format_with (bytes, units);
}

gchar *
mb_units_format_duration (guint64 usec)
{
  static const MbUnit units[] = {
    { "d", 86400 * E3 * E3 }, { "h", 3600 * E3 * E3 }, { "min", 60 * E3 * E3 },
    { "s", E3 * E3 },         { "ms", E3 },            { "us", 1 },
  };
  if (usec == 0)
    return g_strdup ("0s");
  return mb_units_format_with (usec, units);
}

gchar *
mb_units_format_rate (guint64 bps)
{
  static const MbUnit units[] = {
    { "Gbit", E3 * E3 * E3 }, { "Mbit", E3 * E3 }, { "kbit", E3 }, { "bit", 1 },
  };
  if (bps == 0)
    return g_strdup ("unlimited");
  return mb_units_format_with (bps, units);
}

gchar *
mb_units_format_probability (double p)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd (buf, sizeof buf, "%.4g", p * 100.0);
  return g_strdup_printf ("%s%%", buf);
}
