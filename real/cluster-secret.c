/* cluster-secret.c — the cluster secret from a private file or the
 * environment (cluster-secret.h).  The file is checked on the descriptor it
 * is read from, so what is checked is what is read.
 */
#define G_LOG_DOMAIN "minibit"

#include "cluster-secret.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MB_CLUSTER_SECRET_MAX 4096

G_DEFINE_QUARK (mb-secret-error-quark, mb_secret_error)

/* Trailing white space is not part of the secret. */
static gsize
mb_secret_trim (const guint8 *s, gsize len)
{
  while (len > 0 && g_ascii_isspace (s[len - 1]))
    len--;
  return len;
}

/* Takes data (len bytes, wiped and freed if refused). */
static GBytes *
mb_secret_checked (guint8 *data, gsize len, const char *where, GError **error)
{
  gsize used = mb_secret_trim (data, len);
  if (used < MB_CLUSTER_SECRET_MIN)
    {
      g_set_error (error, MB_SECRET_ERROR, MB_SECRET_ERROR_SIZE,
                   "%s: the cluster secret is %" G_GSIZE_FORMAT " bytes; it needs at least %d "
                   "(make one with: openssl rand -hex 32)", where, used, MB_CLUSTER_SECRET_MIN);
      memset (data, 0, len);
      g_free (data);
      return NULL;
    }
  return g_bytes_new_take (data, used);
}

static GBytes *
mb_secret_from_file (const char *path, GError **error)
{
  /* O_NONBLOCK: a FIFO must not block the open; it is refused below. */
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, MB_SECRET_ERROR, MB_SECRET_ERROR_FILE,
                   "cluster secret file %s: %s", path, g_strerror (e));
      return NULL;
    }
  struct stat st;
  GBytes *secret = NULL;
  if (fstat (fd, &st) != 0)
    {
      int e = errno;
      g_set_error (error, MB_SECRET_ERROR, MB_SECRET_ERROR_FILE,
                   "cluster secret file %s: %s", path, g_strerror (e));
    }
  else if (!S_ISREG (st.st_mode))
    g_set_error (error, MB_SECRET_ERROR, MB_SECRET_ERROR_FILE,
                 "cluster secret file %s is not a regular file", path);
  else if ((st.st_mode & 077) != 0)
    g_set_error (error, MB_SECRET_ERROR, MB_SECRET_ERROR_PERMISSIONS,
                 "cluster secret file %s has mode %04o: its group or others may read or "
                 "write it; like an ssh private key it must be private to its owner "
                 "(chmod 600 %s)", path, (unsigned) (st.st_mode & 07777), path);
  else if (st.st_size > MB_CLUSTER_SECRET_MAX)
    g_set_error (error, MB_SECRET_ERROR, MB_SECRET_ERROR_SIZE,
                 "cluster secret file %s is %lld bytes; at most %d are read", path,
                 (long long) st.st_size, MB_CLUSTER_SECRET_MAX);
  else
    {
      guint8 *buf = g_malloc (MB_CLUSTER_SECRET_MAX + 1);
      gsize got = 0;
      int e = 0;
      while (got <= MB_CLUSTER_SECRET_MAX)
        {
          ssize_t n = read (fd, buf + got, MB_CLUSTER_SECRET_MAX + 1 - got);
          if (n < 0 && errno == EINTR)
            continue;
          if (n < 0)
            e = errno;
          if (n <= 0)
            break;
          got += (gsize) n;
        }
      if (e != 0 || got > MB_CLUSTER_SECRET_MAX)
        {
          g_set_error (error, MB_SECRET_ERROR, e != 0 ? MB_SECRET_ERROR_FILE : MB_SECRET_ERROR_SIZE,
                       "cluster secret file %s: %s", path,
                       e != 0 ? g_strerror (e) : "it grew past 4096 bytes while read");
          memset (buf, 0, MB_CLUSTER_SECRET_MAX + 1);
          g_free (buf);
        }
      else
        {
          g_autofree gchar *where = g_strdup_printf ("cluster secret file %s", path);
          secret = mb_secret_checked (buf, got, where, error);
        }
    }
  close (fd);
  return secret;
}

GBytes *
mb_cluster_secret_load (const char *path, GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  if (path != NULL)
    return mb_secret_from_file (path, error);
  const char *env = g_getenv (MB_CLUSTER_SECRET_ENV);
  if (env == NULL || *env == '\0')
    return NULL;
  gsize len = strlen (env);
  return mb_secret_checked (g_memdup2 (env, len), len, MB_CLUSTER_SECRET_ENV, error);
}
