/* units.h — parse and format the quantities of scenario files.
 *
 *   size:        B, KiB, MiB, GiB, TiB (powers of 1024); KB/kB, MB, GB, TB
 *                (powers of 1000); a bare number is bytes.       -> bytes
 *   duration:    us, ms, s, min, h, d; a bare number is seconds. -> microseconds
 *   rate:        bit, kbit, Mbit, Gbit (powers of 1000, "/s" optional);
 *                B/s, KiB/s, MiB/s, GiB/s, KB/s, MB/s, GB/s (bytes, x8);
 *                "unlimited" (-> 0).  A bare number is refused.  -> bits/s
 *   probability: 0..1, or a percentage "10%".                    -> double
 *   count:       a whole number.                                  -> guint
 *   per-second:  N/s, N/min, N/h (events).                       -> double /s
 *
 * Numbers are decimal with an optional fraction ("1.5s"), no sign or
 * exponent; a space may separate number and unit.  Results are exact: a
 * value that is not a whole number of the base unit ("0.5B") is refused.
 * Error messages say what was wrong and the accepted form, e.g.
 *   "10 Mbps" is not a rate; write e.g. 10Mbit, 512kbit, 2MiB/s or unlimited
 * and never name a file: callers prefix where the text came from.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MB_UNITS_ERROR (mb_units_error_quark ())
GQuark mb_units_error_quark (void);

typedef enum {
  MB_UNITS_ERROR_SYNTAX, /* not of the expected form */
  MB_UNITS_ERROR_RANGE,  /* well-formed but out of range or not whole */
} MbUnitsError;

gboolean mb_units_parse_size (const char *text, guint64 *bytes, GError **error);
gboolean mb_units_parse_duration (const char *text, guint64 *usec, GError **error);
gboolean mb_units_parse_rate (const char *text, guint64 *bps, GError **error);
gboolean mb_units_parse_probability (const char *text, double *p, GError **error);
gboolean mb_units_parse_count (const char *text, guint *count, GError **error);
/* A finite, non-negative decimal number (e.g. a distribution's shape). */
gboolean mb_units_parse_number (const char *text, double *value, GError **error);
gboolean mb_units_parse_per_second (const char *text, double *per_second, GError **error);

/* Exact human-readable forms that parse back to the same value: the largest
 * unit in which the value has at most 3 decimals ("256KiB", "1.5MB", "5KB",
 * "1.5s", "12345.678ms", "10Mbit", "unlimited"); probability as "5%".
 * Free with g_free. */
gchar *mb_units_format_size (guint64 bytes);
gchar *mb_units_format_duration (guint64 usec);
gchar *mb_units_format_rate (guint64 bps);
gchar *mb_units_format_probability (double p);

G_END_DECLS
