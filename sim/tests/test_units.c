/* test_units.c — table-driven parsing of sizes, durations, rates,
 * probabilities, counts and event rates, good and bad; formatting. */
#include "units.h"

#include <string.h>

typedef gboolean (*ParseU64) (const char *, guint64 *, GError **);

typedef struct {
  const char *text;
  guint64 want;
} GoodU64;

typedef struct {
  const char *text;
  const char *error; /* expected substring */
} Bad;

static void
check_good_u64 (ParseU64 parse, const GoodU64 *cases, gsize n)
{
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GError) err = NULL;
      guint64 v = 12345;
      g_test_message ("parsing \"%s\"", cases[i].text);
      g_assert_true (parse (cases[i].text, &v, &err));
      g_assert_no_error (err);
      g_assert_cmpuint (v, ==, cases[i].want);
    }
}

static void
check_bad_u64 (ParseU64 parse, const Bad *cases, gsize n)
{
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GError) err = NULL;
      guint64 v = 12345;
      g_test_message ("parsing \"%s\"", cases[i].text);
      g_assert_false (parse (cases[i].text, &v, &err));
      g_assert_nonnull (err);
      g_assert_true (err->domain == MB_UNITS_ERROR);
      g_assert_cmpstr (strstr (err->message, cases[i].error), !=, NULL);
      g_assert_cmpuint (v, ==, 12345); /* untouched on error */
    }
}

static void
test_units_size_accepts_binary_decimal_and_bare_bytes (void)
{
  static const GoodU64 cases[] = {
    { "0", 0 },
    { "1000", 1000 },
    { "10B", 10 },
    { "256KiB", 262144 },
    { "16 KiB", 16384 },
    { "  1MiB ", 1048576 },
    { "1.5MiB", 1572864 },
    { "2GiB", G_GUINT64_CONSTANT (2147483648) },
    { "1TiB", G_GUINT64_CONSTANT (1099511627776) },
    { "1KB", 1000 },
    { "1kB", 1000 },
    { "100MB", 100000000 },
    { "1.25GB", 1250000000 },
    { "0.5KiB", 512 },
    { "3.000MiB", 3145728 },
  };
  check_good_u64 (mb_units_parse_size, cases, G_N_ELEMENTS (cases));
}

static void
test_units_size_refuses_bad_input (void)
{
  static const Bad cases[] = {
    { "", "\"\" is not a size; write e.g. 256KiB" },
    { "ten", "\"ten\" is not a size; write e.g. 256KiB, 10MB or 1000 (bytes)" },
    { "10 parsecs", "\"10 parsecs\" is not a size" },
    { "10kb", "\"10kb\" is not a size" },
    { "10Kib", "\"10Kib\" is not a size" },
    { "-1MiB", "\"-1MiB\" is not a size" },
    { "1e6", "\"1e6\" is not a size" },
    { "1.MiB", "\"1.MiB\" is not a size" },
    { ".5MiB", "\".5MiB\" is not a size" },
    { "0.5B", "\"0.5B\" is not a whole number of bytes" },
    { "1.0001KiB", "is not a whole number of bytes" },
    { "99999999999999999999", "is too large for a size" },
    { "20000000TiB", "is too large for a size" },
    { "10MB extra", "is not a size" },
  };
  check_bad_u64 (mb_units_parse_size, cases, G_N_ELEMENTS (cases));
}

static void
test_units_duration_accepts_units_fractions_and_bare_seconds (void)
{
  static const GoodU64 cases[] = {
    { "0", 0 },
    { "5", 5000000 },
    { "1.5", 1500000 },
    { "1.5s", 1500000 },
    { "250us", 250 },
    { "100ms", 100000 },
    { "0.1s", 100000 },
    { "2.5ms", 2500 },
    { "30min", G_GUINT64_CONSTANT (1800000000) },
    { "5 min", G_GUINT64_CONSTANT (300000000) },
    { "24h", G_GUINT64_CONSTANT (86400000000) },
    { "0.25h", G_GUINT64_CONSTANT (900000000) },
    { "1d", G_GUINT64_CONSTANT (86400000000) },
    { "0.000001", 1 },
  };
  check_good_u64 (mb_units_parse_duration, cases, G_N_ELEMENTS (cases));
}

static void
test_units_duration_refuses_bad_input (void)
{
  static const Bad cases[] = {
    { "soon", "\"soon\" is not a duration; write e.g. 100ms, 1.5s, 30min or 2h" },
    { "5 mins", "\"5 mins\" is not a duration" },
    { "5m", "\"5m\" is not a duration" },
    { "5sec", "\"5sec\" is not a duration" },
    { "-5s", "\"-5s\" is not a duration" },
    { "1.0000005s", "\"1.0000005s\" is not a whole number of microseconds" },
    { "0.5us", "is not a whole number of microseconds" },
    { "10000000000000d", "is too large for a duration" },
  };
  check_bad_u64 (mb_units_parse_duration, cases, G_N_ELEMENTS (cases));
}

static void
test_units_rate_accepts_bits_bytes_and_unlimited (void)
{
  static const GoodU64 cases[] = {
    { "unlimited", 0 },
    { "Unlimited", 0 },
    { "100bit", 100 },
    { "64kbit", 64000 },
    { "64Kbit", 64000 },
    { "10Mbit", 10000000 },
    { "10 Mbit", 10000000 },
    { "1.5Mbit", 1500000 },
    { "1Gbit", 1000000000 },
    { "10Mbit/s", 10000000 },
    { "1B/s", 8 },
    { "1KiB/s", 8192 },
    { "2MiB/s", 16777216 },
    { "1GiB/s", G_GUINT64_CONSTANT (8589934592) },
    { "1MB/s", 8000000 },
    { "1kB/s", 8000 },
  };
  check_good_u64 (mb_units_parse_rate, cases, G_N_ELEMENTS (cases));
}

static void
test_units_rate_refuses_bad_input (void)
{
  static const Bad cases[] = {
    { "10 Mbps", "\"10 Mbps\" is not a rate; write e.g. 10Mbit" },
    { "10Mb", "\"10Mb\" is not a rate; write e.g. 10Mbit, 512kbit, 2MiB/s or unlimited" },
    { "1000", "\"1000\" is not a rate" },
    { "10MiB", "\"10MiB\" is not a rate" },
    { "fast", "\"fast\" is not a rate" },
    { "0Mbit", "it must be above zero; write unlimited for no limit" },
    { "0.5bit", "is not a whole number of bits per second" },
    { "0.0000001Mbit", "is not a whole number of bits per second" },
  };
  check_bad_u64 (mb_units_parse_rate, cases, G_N_ELEMENTS (cases));
}

static void
test_units_probability_accepts_fractions_and_percentages (void)
{
  static const struct {
    const char *text;
    double want;
  } cases[] = {
    { "0", 0.0 }, { "1", 1.0 }, { "0.05", 0.05 }, { "5%", 0.05 },
    { "10 %", 0.1 }, { "100%", 1.0 }, { "0.5%", 0.005 }, { " 0.25 ", 0.25 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) err = NULL;
      double p = -1;
      g_assert_true (mb_units_parse_probability (cases[i].text, &p, &err));
      g_assert_no_error (err);
      g_assert_cmpfloat_with_epsilon (p, cases[i].want, 1e-12);
    }
}

static void
test_units_probability_refuses_bad_input (void)
{
  static const Bad cases[] = {
    { "1.5", "\"1.5\" is not a probability: it is above 1; write a number from 0 to 1" },
    { "150%", "\"150%\" is not a probability: it is above 100%" },
    { "-0.1", "\"-0.1\" is not a probability; write a number from 0 to 1 or a percentage" },
    { "half", "\"half\" is not a probability" },
    { "5 percent", "\"5 percent\" is not a probability" },
    { "", "\"\" is not a probability" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) err = NULL;
      double p = -1;
      g_assert_false (mb_units_parse_probability (cases[i].text, &p, &err));
      g_assert_cmpstr (strstr (err->message, cases[i].error), !=, NULL);
      g_assert_cmpfloat (p, ==, -1);
    }
}

static void
test_units_count_number_and_event_rate (void)
{
  g_autoptr (GError) err = NULL;
  guint c = 0;
  double d = 0;
  g_assert_true (mb_units_parse_count ("100", &c, &err));
  g_assert_cmpuint (c, ==, 100);
  g_assert_true (mb_units_parse_count (" 0 ", &c, &err));
  g_assert_cmpuint (c, ==, 0);
  g_assert_true (mb_units_parse_number ("2.5", &d, &err));
  g_assert_cmpfloat (d, ==, 2.5);
  g_assert_true (mb_units_parse_per_second ("2/s", &d, &err));
  g_assert_cmpfloat (d, ==, 2.0);
  g_assert_true (mb_units_parse_per_second ("30/min", &d, &err));
  g_assert_cmpfloat (d, ==, 0.5);
  g_assert_true (mb_units_parse_per_second ("36 /h", &d, &err));
  g_assert_cmpfloat_with_epsilon (d, 0.01, 1e-12);
  g_assert_no_error (err);

  static const struct {
    int kind; /* 0 count, 1 number, 2 per-second */
    const char *text;
    const char *error;
  } bad[] = {
    { 0, "ten", "\"ten\" is not a count; write a whole number, e.g. 100" },
    { 0, "1.5", "\"1.5\" is not a count" },
    { 0, "-3", "\"-3\" is not a count" },
    { 0, "99999999999", "is too large for a count" },
    { 0, "10 peers", "\"10 peers\" is not a count" },
    { 1, "two", "\"two\" is not a number; write a number, e.g. 2.5" },
    { 1, "2x", "\"2x\" is not a number" },
    { 2, "5", "\"5\" is not a rate of events; write e.g. 2/s, 30/min or 100/h" },
    { 2, "5 per s", "\"5 per s\" is not a rate of events" },
    { 2, "0/s", "must be above zero" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) e = NULL;
      gboolean ok = bad[i].kind == 0   ? mb_units_parse_count (bad[i].text, &c, &e)
                    : bad[i].kind == 1 ? mb_units_parse_number (bad[i].text, &d, &e)
                                       : mb_units_parse_per_second (bad[i].text, &d, &e);
      g_assert_false (ok);
      g_assert_cmpstr (strstr (e->message, bad[i].error), !=, NULL);
    }
}

static void
test_units_format_is_readable_and_parses_back (void)
{
  static const struct {
    int kind; /* 0 size, 1 duration, 2 rate */
    guint64 value;
    const char *want;
  } cases[] = {
    { 0, 0, "0B" },
    { 0, 1000, "1KB" },
    { 0, 262144, "256KiB" },
    { 0, 1572864, "1.5MiB" },
    { 0, 100000000, "100MB" },
    { 0, 5000, "5KB" },
    { 0, 1500000, "1.5MB" },
    { 0, 1000001, "1000.001KB" },
    { 0, 999, "999B" },
    { 1, 12345678, "12345.678ms" },
    { 1, 90000000, "1.5min" },
    { 1, 1, "1us" },
    { 2, 1234, "1.234kbit" },
    { 2, 999, "999bit" },
    { 1, 0, "0s" },
    { 1, 250, "250us" },
    { 1, 1500000, "1.5s" },
    { 1, 100000, "100ms" },
    { 1, G_GUINT64_CONSTANT (5400000000), "1.5h" },
    { 1, G_GUINT64_CONSTANT (1800000000), "30min" },
    { 2, 0, "unlimited" },
    { 2, 10000000, "10Mbit" },
    { 2, 1500000, "1.5Mbit" },
    { 2, 512000, "512kbit" },
  };
  ParseU64 parse[] = { mb_units_parse_size, mb_units_parse_duration, mb_units_parse_rate };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree gchar *s = cases[i].kind == 0   ? mb_units_format_size (cases[i].value)
                            : cases[i].kind == 1 ? mb_units_format_duration (cases[i].value)
                                                 : mb_units_format_rate (cases[i].value);
      g_assert_cmpstr (s, ==, cases[i].want);
      guint64 back = 1;
      g_assert_true (parse[cases[i].kind](s, &back, NULL));
      g_assert_cmpuint (back, ==, cases[i].value);
    }
  g_autofree gchar *p = mb_units_format_probability (0.05);
  g_assert_cmpstr (p, ==, "5%");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/units/size-accepts-binary-decimal-and-bare-bytes",
                   test_units_size_accepts_binary_decimal_and_bare_bytes);
  g_test_add_func ("/units/size-refuses-bad-input", test_units_size_refuses_bad_input);
  g_test_add_func ("/units/duration-accepts-units-fractions-and-bare-seconds",
                   test_units_duration_accepts_units_fractions_and_bare_seconds);
  g_test_add_func ("/units/duration-refuses-bad-input", test_units_duration_refuses_bad_input);
  g_test_add_func ("/units/rate-accepts-bits-bytes-and-unlimited",
                   test_units_rate_accepts_bits_bytes_and_unlimited);
  g_test_add_func ("/units/rate-refuses-bad-input", test_units_rate_refuses_bad_input);
  g_test_add_func ("/units/probability-accepts-fractions-and-percentages",
                   test_units_probability_accepts_fractions_and_percentages);
  g_test_add_func ("/units/probability-refuses-bad-input",
                   test_units_probability_refuses_bad_input);
  g_test_add_func ("/units/count-number-and-event-rate", test_units_count_number_and_event_rate);
  g_test_add_func ("/units/format-is-readable-and-parses-back",
                   test_units_format_is_readable_and_parses_back);
  return g_test_run ();
}
