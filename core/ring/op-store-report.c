/* op-store-report.c — what a store_file that could not place everything
 * says: which chunks lack how many copies, how many owners acknowledged the
 * manifest against the write quorum, a newer version held somewhere, and
 * why members failed ("10.0.0.3:7000: no_space (...)", "...: no answer").
 * The texts are capped (8 chunks, 6 members named; the rest counted), so a
 * large file's error stays readable.
 *
 * Invariant: result.chunks_short and result.copies_missing are the counts
 * over every chunk, whatever the text shows.
 */
#define MB_RING_PEER_INTERNAL
#include "ring/op-store-private.h"

#include <string.h>

#define CHUNKS_SHOWN 8
#define FAILURES_SHOWN 6

void
mbi_store_note_failure (OpStore *op, const char *member, const MbMessage *msg, const char *local)
{
  gsize len = strlen (member);
  for (guint k = 0; k < op->failures->len; k++)
    {
      const char *f = op->failures->pdata[k];
      if (strncmp (f, member, len) == 0 && f[len] == ':')
        return;   /* its first failure says enough */
    }
  gchar *why;
  if (local)
    why = g_strdup_printf ("%s: %s", member, local);
  else if (!msg)
    why = g_strdup_printf ("%s: no answer", member);
  else if (msg->type == MB_MSG_ERROR)
    why = g_strdup_printf ("%s: %s (%s)", member, mb_err_code_name (msg->code),
                           msg->text ? msg->text : "");
  else
    why = g_strdup_printf ("%s: answered %s", member, mb_message_type_name (msg->type));
  g_ptr_array_add (op->failures, why);
}

static void
append_failures (OpStore *op, GString *s)
{
  if (op->failures->len == 0)
    return;
  g_string_append (s, "; failed: ");
  for (guint k = 0; k < op->failures->len && k < FAILURES_SHOWN; k++)
    g_string_append_printf (s, "%s%s", k ? ", " : "", (const char *) op->failures->pdata[k]);
  if (op->failures->len > FAILURES_SHOWN)
    g_string_append_printf (s, " and %u more members", op->failures->len - FAILURES_SHOWN);
}

gboolean
mbi_store_fail_short_chunks (OpStore *op)
{
  RingOp *base = &op->base;
  guint r = op->q.r, n = mb_manifest_n_chunks (op->manifest);
  guint shown = 0;
  g_autoptr (GString) s = g_string_new (NULL);
  for (guint i = 0; i < n; i++)
    {
      guint have = mb_manifest_n_holders (op->manifest, i);
      if (have >= r)
        continue;
      base->result.chunks_short++;
      base->result.copies_missing += r - have;
      if (shown++ < CHUNKS_SHOWN)
        g_string_append_printf (s, "%schunk %u has %u of %u copies", shown > 1 ? ", " : "", i,
                                have, r);
    }
  if (base->result.chunks_short == 0)
    return FALSE;
  if (shown > CHUNKS_SHOWN)
    g_string_append_printf (s, " and %u more chunks", shown - CHUNKS_SHOWN);
  g_string_append_printf (s, " (%u of %u chunks short of %u copies, %u copies missing; "
                          "nothing was recorded under the name)", base->result.chunks_short,
                          n, r, base->result.copies_missing);
  append_failures (op, s);
  mbi_op_fail (base, "store_file %s: not stored: %s", base->name, s->str);
  return TRUE;
}

void
mbi_store_fail_manifest (OpStore *op, guint owners)
{
  RingOp *base = &op->base;
  if (op->stale)
    {
      base->result.stale = TRUE;
      mbi_op_fail (base, "store_file %s: version %" G_GUINT64_FORMAT " refused, a newer one is "
                   "kept: %s", base->name, mb_manifest_version (op->manifest), op->stale);
      return;
    }
  if (base->result.manifest_owners >= op->q.w)
    return;
  g_autoptr (GString) s = g_string_new (NULL);
  append_failures (op, s);
  mbi_op_fail (base, "store_file %s: manifest owners acknowledged %u of %u (write quorum %u), "
               "%u copies in all%s", base->name, base->result.manifest_owners, owners,
               op->q.w, base->result.manifest_copies, s->str);
}
