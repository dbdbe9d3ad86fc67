/* scenario-fixture.h — what the scenario parser's test programs share
 * (test_scenario.c, test_scenario_input.c, test_scenario_ring.c): time units,
 * the full and minimal example files, a loader that must succeed, an [expect]
 * comparison and the row type of the bad --set tables. */
#pragma once

#include "scenario.h"

#define SEC G_GUINT64_CONSTANT (1000000)
#define MINUTE (60 * SEC)

#define BASE "[file]\nsize = 10MiB\n"
#define FAST "[peers.fast]\ncount = 10\nupload = 10Mbit\ndownload = 50Mbit\n"

/* A full swarm scenario using every group, and the smallest valid one. */
extern const char full_ini[];
extern const char minimal_ini[];

/* Parses and validates text, asserting both succeed. */
MbScenario *load_ok (const char *text, const char *path);

void check_expect (const MbExpect *e, const char *metric, MbCmp op, gboolean all, double value,
                   const char *text);

/* One bad --set assignment and the error it must give (exact substring). */
typedef struct {
  const char *assignment;
  MbScenarioError code;
  const char *error;
} BadSet;
