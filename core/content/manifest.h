/* manifest.h — a file's manifest: name, version, size, chunk size, each
 * chunk's id (SHA-256, lowercase hex), crc32 (zlib) and the members that
 * hold it.  Its content hash (SHA-256 of the size and the ordered chunk ids)
 * tells two contents apart; versions order them (manifest-version.c).
 *
 * Invariants kept by every constructor and parser:
 *  - the name is safe (no '/', no "..", no NUL, not empty, at most 255 bytes);
 *  - n_chunks == ceil(size / chunk_size) (0 for an empty file), chunk_size > 0;
 *  - a chunk's holders are distinct and kept sorted (so output is deterministic);
 *  - the version is >= 1; a manifest made by mb_manifest_new, or read from a
 *    form that carries none (binary form 1, JSON without "version"), is 1.
 * A manifest is refcounted; it is mutable (holders) so a copy is taken
 * (mb_manifest_copy) wherever two owners must not see each other's changes,
 * e.g. when a manifest is put into a message.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MB_MANIFEST_ERROR (mb_manifest_error_quark ())
GQuark mb_manifest_error_quark (void);

typedef enum {
  MB_MANIFEST_ERROR_BAD_NAME,
  MB_MANIFEST_ERROR_BAD_SIZE,     /* size, chunk size and chunk count disagree */
  MB_MANIFEST_ERROR_BAD_ID,       /* a chunk id that is not 64 lowercase hex digits */
  MB_MANIFEST_ERROR_BAD_HOLDER,
  MB_MANIFEST_ERROR_PARSE,        /* malformed binary or JSON */
} MbManifestError;

#define MB_MANIFEST_NAME_MAX 255
#define MB_CHUNK_ID_LEN 64        /* hex digits of a SHA-256 */
#define MB_MANIFEST_MAX_CHUNKS (1u << 24)
#define MB_MANIFEST_MAX_HOLDERS 1024 /* per chunk */

typedef struct _MbManifest MbManifest;

/* A new manifest with n_chunks = ceil(size/chunk_size) chunks whose ids are
 * still unset (""), no holders.  NULL and an error if name or sizes are bad. */
MbManifest *mb_manifest_new (const char *name, guint64 size, guint32 chunk_size,
                             GError **error);
/* The same with every chunk's id and CRC computed from content (the whole
 * file).  Pure and thread-safe (manifest-hash.c). */
MbManifest *mb_manifest_new_hashed (const char *name, GBytes *content, guint32 chunk_size,
                                    GError **error);
MbManifest *mb_manifest_ref (MbManifest *m);
void mb_manifest_unref (MbManifest *m);
MbManifest *mb_manifest_copy (const MbManifest *m);
/* Makes m read-only for good: set_chunk, add_holder, remove_holder,
 * set_version and merge into it refuse it (g_return_if_fail).  A frozen
 * manifest can be shared where a copy was taken so that its owner could
 * not change it under the holder (mb_manifest_share). */
void mb_manifest_freeze (MbManifest *m);
gboolean mb_manifest_is_frozen (const MbManifest *m);
/* For a holder that never changes it: a new reference when m is frozen,
 * else a copy (mb_manifest_copy).  The simulator's peers share its file's
 * manifest this way (35 KiB each for 400 chunks otherwise). */
MbManifest *mb_manifest_share (const MbManifest *m);
/* The heap bytes m holds (memsize.h), divided by its references: summed
 * over every holder of a shared manifest, its size once. */
gsize mb_manifest_memory (const MbManifest *m);

const char *mb_manifest_name (const MbManifest *m);
guint64 mb_manifest_size (const MbManifest *m);
guint32 mb_manifest_chunk_size (const MbManifest *m);
guint mb_manifest_n_chunks (const MbManifest *m);
/* Length of chunk i in bytes (the last one may be short). */
guint32 mb_manifest_chunk_len (const MbManifest *m, guint i);
const char *mb_manifest_chunk_id (const MbManifest *m, guint i);
guint32 mb_manifest_chunk_crc (const MbManifest *m, guint i);
gboolean mb_manifest_set_chunk (MbManifest *m, guint i, const char *id_hex,
                                guint32 crc, GError **error);

guint mb_manifest_n_holders (const MbManifest *m, guint i);
const char *mb_manifest_holder (const MbManifest *m, guint i, guint k);
gboolean mb_manifest_has_holder (const MbManifest *m, guint i, const char *holder);
/* TRUE if it was not there yet. */
gboolean mb_manifest_add_holder (MbManifest *m, guint i, const char *holder);
gboolean mb_manifest_remove_holder (MbManifest *m, guint i, const char *holder);
/* Adds every holder of src to dst (same name, size and ids required; dst
 * keeps its version: callers decide by mb_manifest_order first).
 * Returns the number of holders added, or -1 with an error if they differ. */
gint mb_manifest_merge (MbManifest *dst, const MbManifest *src, GError **error);

/* ---- versions (manifest-version.c) ---- */

/* Versions run from 1 to MB_MANIFEST_VERSION_MAX (what JSON's integers hold). */
#define MB_MANIFEST_VERSION_MAX ((guint64) G_MAXINT64)
guint64 mb_manifest_version (const MbManifest *m);
/* 1 <= version <= MB_MANIFEST_VERSION_MAX */
void mb_manifest_set_version (MbManifest *m, guint64 version);
/* The content hash: SHA-256 over the size (8 bytes, big-endian) and then
 * each chunk id in order (32 raw bytes each); 64 hex digits and a NUL. */
void mb_manifest_content_hash (const MbManifest *m, char out[65]);
/* Same size, chunk size and chunk ids (holders and version aside). */
gboolean mb_manifest_same_content (const MbManifest *a, const MbManifest *b);

/* What a holder of `have` does with `incoming` (same name): */
typedef enum {
  MB_MANIFEST_SAME,           /* same version and content: merge the holders */
  MB_MANIFEST_NEWER,          /* a higher version: it replaces `have` */
  MB_MANIFEST_OLDER,          /* a lower version: refused */
  MB_MANIFEST_CONFLICT_WINS,  /* same version, other content, higher content
                               * hash: it replaces `have` (every holder picks
                               * the same winner, whatever the arrival order) */
  MB_MANIFEST_CONFLICT_LOSES, /* same version, other content, lower hash: refused */
} MbManifestOrder;

MbManifestOrder mb_manifest_order (const MbManifest *have, const MbManifest *incoming);
/* Which is newer: the version, then (a conflict) the content hash; < 0 if
 * a is older than b, 0 if they are the same version and content, > 0 if a
 * is newer. */
gint mb_manifest_cmp_newer (const MbManifest *a, const MbManifest *b);
const char *mb_manifest_order_name (MbManifestOrder o);

/* Every id set and well formed; the invariants above hold. */
gboolean mb_manifest_validate (const MbManifest *m, GError **error);
gboolean mb_manifest_name_is_safe (const char *name, GError **error);
gboolean mb_chunk_id_is_valid (const char *id);

/* Binary form (used inside frames): see manifest-binary.c for the layout. */
GBytes *mb_manifest_to_bytes (const MbManifest *m);
gsize mb_manifest_encoded_size (const MbManifest *m);
MbManifest *mb_manifest_from_bytes (const guint8 *data, gsize len, GError **error);

/* JSON form (HTTP API): {"filename","version","content_hash","size",
 * "chunk_size","chunks":[{"index","hash","crc32","size","holders":[...]}]};
 * "version" (default 1) and "content_hash" (checked when given) may be
 * left out. */
gchar *mb_manifest_to_json (const MbManifest *m);
MbManifest *mb_manifest_from_json (const char *json, gssize len, GError **error);

gboolean mb_manifest_equal (const MbManifest *a, const MbManifest *b);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MbManifest, mb_manifest_unref)

G_END_DECLS
