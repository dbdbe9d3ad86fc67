/* manifest-private.h — helpers shared by manifest.c (the type, the binary
 * form) and manifest-json.c (the JSON form).  Not installed. */
#pragma once

#ifndef MB_CONTENT_MANIFEST_INTERNAL
#error "manifest-private.h is private to core/content/manifest*.c: no other file may include it"
#endif

#include "content/manifest.h"

/* Why a holder name is unacceptable, or NULL if it is fine. */
const char *mbi_manifest_holder_problem (const char *holder);
/* Sets a BAD_HOLDER error naming the manifest, chunk and holder; FALSE. */
gboolean mbi_manifest_holder_fail (const MbManifest *m, guint i, const char *holder,
                                  const char *why, GError **error);
/* ceil(size / chunk_size). */
guint64 mbi_manifest_count_chunks (guint64 size, guint32 chunk_size);
