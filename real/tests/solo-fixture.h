/* solo-fixture.h — one build/real/minibit-peer process, alone on its ring,
 * for the tests of its HTTP API and its file handling (test_http_limits.c,
 * test_store_file.c).  Built on the end-to-end fixture's processes and
 * HTTP replies (e2e-fixture.h).
 *
 * mb_solo_new makes a temporary directory with DATA_DIR (ROOT/data) in it,
 * so a test can put files there before the peer starts; mb_solo_start
 * starts the peer on free ports of `host` and waits (bounded) until it
 * answers GET /ping.  mb_solo_free SIGKILLs it, shows its log if asked
 * (a failed test), and removes the directory: teardown always runs,
 * whatever state the test left.
 */
#pragma once

#include "e2e-fixture.h"

typedef struct {
  gchar *root;        /* temporary directory, removed by mb_solo_free */
  gchar *data_dir;    /* the peer's DATA_DIR (ROOT/data unless given) */
  gchar *host;        /* where it listens */
  guint16 http_port, wire_port;
  gchar *url;         /* http://HOST:PORT */
  gchar *log;
  Proc *proc;
  SoupSession *http;  /* 20 s I/O timeout */
} Solo;

/* The directory and DATA_DIR (made); NULL and the test failed if not. */
Solo *mb_solo_new (void);
/* Starts the peer: data_dir (NULL: s->data_dir), host (NULL: 127.0.0.1),
 * env NAME, VALUE pairs (may be NULL), extra argv (may be NULL).  FALSE
 * (test failed, log shown) if it does not answer /ping within 15 s. */
gboolean mb_solo_start (Solo *s, const char *data_dir, const char *host,
                        const char *const *env, const char *const *args);
/* Kills the peer, shows its log when dump, removes the directory. */
void mb_solo_free (Solo *s, gboolean dump);
/* method path with body (len < 0: a C string; NULL: none) and, if token is
 * not NULL, "Authorization: Bearer token". */
Reply *mb_solo_http (Solo *s, const char *method, const char *path, const char *body,
                     gssize len, const char *token);
gboolean mb_solo_alive (Solo *s);
/* The peer's peak resident set (VmHWM, KiB), -1 if unknown. */
gint64 mb_solo_peak_rss_kib (Solo *s);
/* Writes `size` bytes of a seeded pseudo-random stream to path: TRUE. */
gboolean mb_solo_write_file (const char *path, gsize size, guint32 seed);
