/* cluster-secret.h — where the cluster secret comes from, for both
 * binaries: --cluster-secret-file PATH (wins), else the environment
 * variable MINIBIT_CLUSTER_SECRET.
 *
 * The file is opened once and checked on its descriptor: a regular file,
 * not readable or writable by its group or others (mode 0600 or stricter,
 * as ssh requires of private keys), at most 4 KiB; trailing white space
 * (a final newline) is not part of the secret.  Either way the secret must
 * be at least MB_CLUSTER_SECRET_MIN bytes (e.g. `openssl rand -hex 32`).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MB_CLUSTER_SECRET_MIN 16
#define MB_CLUSTER_SECRET_ENV "MINIBIT_CLUSTER_SECRET"

#define MB_SECRET_ERROR (mb_secret_error_quark ())
GQuark mb_secret_error_quark (void);

typedef enum {
  MB_SECRET_ERROR_FILE,         /* cannot open or read it, or not a regular file */
  MB_SECRET_ERROR_PERMISSIONS,  /* group or others may read or write it */
  MB_SECRET_ERROR_SIZE,         /* too short or too long */
} MbSecretError;

/* The secret from path (if not NULL) or the environment; NULL with *error
 * unset when neither gives one, NULL with *error set (naming the file or
 * variable and why) when the one given is refused. */
GBytes *mb_cluster_secret_load (const char *path, GError **error);

G_END_DECLS
