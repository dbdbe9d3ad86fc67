/* distbuf.h — the byte layout of what the processes of one MPI run send
 * each other between windows (sim/mpi/): fixed-width integers in the
 * host's byte order (every process runs the same binary on the same kind
 * of machine), appended to a GByteArray and read back by a reader that
 * refuses to run past the end.  Not installed. */
#pragma once

#include <string.h>

#include <glib.h>

/* Bad bytes from another process (code 0). */
#define MB_DIST_ERROR (g_quark_from_static_string ("mb-dist-error"))

typedef struct {
  const guint8 *p;
  gsize left;
  gboolean bad;  /* a read ran past the end: every later read fails too */
} MbDistReader;

static inline void
mb_distbuf_u32 (GByteArray *out, guint32 v)
{
  g_byte_array_append (out, (const guint8 *) &v, sizeof v);
}

static inline void
mb_distbuf_u64 (GByteArray *out, guint64 v)
{
  g_byte_array_append (out, (const guint8 *) &v, sizeof v);
}

static inline gboolean
mb_distbuf_read (MbDistReader *r, gpointer dst, gsize n)
{
  if (r->bad || r->left < n)
    {
      r->bad = TRUE;
      return FALSE;
    }
  memcpy (dst, r->p, n);
  r->p += n;
  r->left -= n;
  return TRUE;
}

static inline guint32
mb_distbuf_get_u32 (MbDistReader *r)
{
  guint32 v = 0;
  mb_distbuf_read (r, &v, sizeof v);
  return v;
}

static inline guint64
mb_distbuf_get_u64 (MbDistReader *r)
{
  guint64 v = 0;
  mb_distbuf_read (r, &v, sizeof v);
  return v;
}

/* n bytes in place (NULL, and the reader bad, if fewer are left). */
static inline const guint8 *
mb_distbuf_take (MbDistReader *r, gsize n)
{
  if (r->bad || r->left < n)
    {
      r->bad = TRUE;
      return NULL;
    }
  const guint8 *p = r->p;
  r->p += n;
  r->left -= n;
  return p;
}
