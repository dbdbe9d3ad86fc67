/* outdir.h — the folder a run writes its CSVs to, checked before the run
 * starts, so a run is never lost to a folder it cannot write.
 *
 *   mb_outdir_prepare (dir, TRUE, &err)    create it if need be; FALSE and
 *                                          err when it is a file, cannot be
 *                                          created or cannot be written in
 *   mb_outdir_prepare (dir, FALSE, &err)   the same checks, creating nothing
 *                                          (minibit-sim --dry-run)
 *
 * Writability is tried, not guessed from permission bits (root passes those):
 * a temporary file is made in the folder (or, without create, in its nearest
 * existing parent) and removed.  Files already in the folder are left alone;
 * the run's CSVs replace those of the same name.  Errors are G_FILE_ERROR and
 * read "output folder DIR: what is wrong".
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean mb_outdir_prepare (const char *dir, gboolean create, GError **error);

G_END_DECLS
