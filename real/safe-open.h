/* safe-open.h — a file named by an HTTP request, opened once, beneath the
 * folders it may come from, following no symbolic link, and read without
 * mmap (see safe-open.c).  For store_file.
 */
#pragma once

#include <sys/stat.h>

#include <glib.h>

G_BEGIN_DECLS

#define MB_SAFE_OPEN_ERROR (mb_safe_open_error_quark ())
GQuark mb_safe_open_error_quark (void);

typedef enum {
  MB_SAFE_OPEN_ERROR_OUTSIDE,      /* not beneath any allowed folder (HTTP 403) */
  MB_SAFE_OPEN_ERROR_NOT_FOUND,    /* nothing there (404) */
  MB_SAFE_OPEN_ERROR_DENIED,       /* the system refuses (EACCES, EPERM: 403) */
  MB_SAFE_OPEN_ERROR_SYMLINK,      /* a component is a symbolic link (400) */
  MB_SAFE_OPEN_ERROR_NOT_REGULAR,  /* a FIFO, a device, a folder, a socket (400) */
  MB_SAFE_OPEN_ERROR_CHANGED,      /* the file changed while it was read (409) */
  MB_SAFE_OPEN_ERROR_NO_MEMORY,    /* too large to hold in memory (500) */
  MB_SAFE_OPEN_ERROR_IO,           /* anything else (500) */
} MbSafeOpenError;

typedef enum {
  MB_SAFE_OPEN_AUTO,   /* openat2 (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) when the
                        * kernel has it, else the walk */
  MB_SAFE_OPEN_WALK,   /* one openat (O_NOFOLLOW) per component (tests force it) */
} MbSafeOpenMode;

/* Opens `path` (absolute, or relative to roots[0]) for reading if, taken
 * lexically ("." and ".." folded), it lies beneath one of `roots` (folders,
 * NULL-terminated; a root's own path may hold symbolic links, nothing
 * beneath it may) and is a regular file: its descriptor (O_CLOEXEC), *st
 * its fstat, *opened (may be NULL) its absolute path.  Else -1 and an
 * MB_SAFE_OPEN_ERROR naming the path and what it is.  A FIFO or a device is
 * never opened for long: the last component is opened O_NONBLOCK and
 * checked on the descriptor. */
int mb_safe_open_beneath (const char *const *roots, const char *path, MbSafeOpenMode mode,
                          struct stat *st, gchar **opened, GError **error);

/* The whole regular file fd (st from mb_safe_open_beneath) read with pread:
 * its bytes, or NULL and an MB_SAFE_OPEN_ERROR (CHANGED if it shrank, grew
 * or was written to while it was read; `name` names it). */
GBytes *mb_safe_read_all (int fd, const struct stat *st, const char *name, GError **error);

G_END_DECLS
