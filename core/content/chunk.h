/* chunk.h — content ids: SHA-256 (hex) and crc32 of a chunk's bytes, and the
 * simulator's generated content for (file, chunk). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Writes 64 lowercase hex digits and a NUL into out[65]. */
void mb_chunk_id_compute (const guint8 *data, gsize len, char out[65]);
guint32 mb_chunk_crc_compute (const guint8 *data, gsize len);

/* Incremental SHA-256 (same backend as mb_chunk_id_compute), for a whole
 * file streamed piece by piece.  finish writes 64 hex digits and a NUL and
 * frees the hasher. */
typedef struct _MbSha256 MbSha256;
MbSha256 *mb_sha256_new (void);
void mb_sha256_update (MbSha256 *h, const guint8 *data, gsize len);
void mb_sha256_finish (MbSha256 *h, char out[65]);
/* Fills out[len] with deterministic bytes for (file, chunk index). */
void mb_chunk_generate (const char *file, guint index, guint8 *out, gsize len);

G_END_DECLS
