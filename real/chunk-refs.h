/* chunk-refs.h — chunks the disk store keeps inside fetched files instead of
 * as files of their own: id -> (file, offset, length), one index per file
 * under DATA_DIR/refs/.  See chunk-refs.c.
 */
#pragma once

#include <glib.h>

#include "content/store.h"

G_BEGIN_DECLS

typedef struct _MbChunkRefs MbChunkRefs;
typedef struct _MbRefFile MbRefFile;

/* Loads the indexes in index_dir (made if missing), counting their chunks
 * into s; an id for which has_file says a chunk file exists is skipped (the
 * file wins), as are indexes whose file is gone (they are removed). */
MbChunkRefs *mb_chunk_refs_new (MbStore *s, const char *index_dir,
                                gboolean (*has_file) (MbStore *s, const char *id));
void mb_chunk_refs_free (MbChunkRefs *r);

/* A file being written (a download) whose chunks can be referred to. */
MbRefFile *mb_chunk_refs_file_new (MbChunkRefs *r, const char *path);
/* Chunk id lives at [off, off + len) of f: counted in the store now.  FALSE
 * (and nothing changes) if the id is already referred to, or a chunk file
 * of that id exists. */
gboolean mb_chunk_refs_add (MbChunkRefs *r, MbRefFile *f, const char *id, guint64 off,
                            guint32 len);
/* f is whole and now at final_path (renamed there): its index is written.
 * Chunks that referred to an older file at that path are forgotten first. */
void mb_chunk_refs_file_commit (MbChunkRefs *r, MbRefFile *f, const char *final_path);
/* f will not be whole: its chunks are forgotten (uncounted) and f freed. */
void mb_chunk_refs_file_abandon (MbChunkRefs *r, MbRefFile *f);

/* The committed entry for an existing file at path (a file store_file
 * shares from), made if there is none: chunks added to it are kept there
 * until they are dropped or the file changes.  Write its index with
 * mb_chunk_refs_file_save once the additions are done. */
MbRefFile *mb_chunk_refs_source (MbChunkRefs *r, const char *path);
void mb_chunk_refs_file_save (MbChunkRefs *r, MbRefFile *f);

/* Where chunk id lives, if it is referred to (path valid until the next
 * change to r). */
gboolean mb_chunk_refs_find (MbChunkRefs *r, const char *id, const char **path, guint64 *off,
                             guint32 *len);
/* Forgets chunk id (uncounted; its file's index rewritten).  FALSE if it
 * was not referred to. */
gboolean mb_chunk_refs_forget (MbChunkRefs *r, const char *id);
/* The committed file at path is gone: forgets every chunk kept in it. */
void mb_chunk_refs_forget_path (MbChunkRefs *r, const char *path);
/* Appends the ids referred to (copies) to ids. */
void mb_chunk_refs_list (MbChunkRefs *r, GPtrArray *ids);

G_END_DECLS
