/* op-store-private.h — store_file's state, shared by op-store.c (the
 * operation) and op-store-report.c (what its error says).  Private to
 * core/ring/ like ringpeer-private.h. */
#pragma once

#ifndef MB_RING_PEER_INTERNAL
#error "op-store-private.h is private to core/ring/"
#endif

#include "ring/ringpeer-private.h"

typedef struct {
  RingOp base;
  MbManifest *manifest;     /* holders: the copies acknowledged */
  GBytes **chunk_bytes;     /* per chunk (real content), else NULL */
  MbiQuorums q;             /* R', W', Q' when the store began */
  MbiRead read;             /* the name's manifest now: the version to exceed */
  gboolean manifest_phase;
  guint *tries;             /* per chunk: hand-offs after the owners */
  GPtrArray **tried;        /* per chunk: members a copy went to (gchar*) */
  GPtrArray *m_tried;       /* members the manifest went to (gchar*) */
  guint m_tries;            /* the manifest's hand-offs after its owners */
  gchar *stale;             /* a holder keeps a newer version: why */
  GPtrArray *failures;      /* "member: why", the first failure of each member */
} OpStore;

/* op-store-report.c */
/* Remembers why `member` failed a copy: msg (an ERROR, or NULL: no answer)
 * or `local` (our own store's error). */
void mbi_store_note_failure (OpStore *op, const char *member, const MbMessage *msg,
                             const char *local);
/* Sets chunks_short and copies_missing; if a chunk has fewer than R' copies,
 * fails op with a text naming them (and the failures) and returns TRUE. */
gboolean mbi_store_fail_short_chunks (OpStore *op);
/* Fails op if a holder keeps a newer version or fewer than W' owners
 * acknowledged the manifest. */
void mbi_store_fail_manifest (OpStore *op, guint owners);
