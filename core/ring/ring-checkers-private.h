/* ring-checkers-private.h — what the ring's whole-ring checkers share
 * (ring-copies.c defines it): mb_ring_check_copies and
 * mb_ring_check_holders.  Not installed. */
#pragma once

#include <glib.h>

#include "content/store.h"

#define WHY_MAX 8   /* shortfalls named in `why`; the rest are counted */

/* Appends one shortfall to why (may be NULL), "; " between, the first
 * WHY_MAX only; *said counts them all. */
void mbi_checker_say (GString *why, guint *said, const char *fmt, ...) G_GNUC_PRINTF (3, 4);
/* "; and N more" when more than WHY_MAX were said. */
void mbi_checker_said_more (GString *why, guint said);
/* Every name a store holds a manifest of, sorted, once each. */
GPtrArray *mbi_checker_all_names (MbStore *const *stores, guint n);
/* Each store's manifest of name (have[s], a reference or NULL; have has n
 * entries) and the newest of them (borrowed from have; NULL if none). */
MbManifest *mbi_checker_manifests (MbStore *const *stores, guint n, const char *name,
                                   MbManifest **have);
/* Unrefs what mbi_checker_manifests put in have. */
void mbi_checker_manifests_clear (MbManifest **have, guint n);
