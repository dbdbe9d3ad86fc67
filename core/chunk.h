/* chunk.h — content ids: SHA-256 (hex) and crc32 of a chunk's bytes, and the
 * simulator's generated content for (file, chunk). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Writes 64 lowercase hex digits and a NUL into out[65]. */
void mb_chunk_id_compute (const guint8 *data, gsize len, char out[65]);
guint32 mb_chunk_crc_compute (const guint8 *data, gsize len);
/* Fills out[len] with deterministic bytes for (file, chunk index). */
void mb_chunk_generate (const char *file, guint index, guint8 *out, gsize len);

G_END_DECLS
