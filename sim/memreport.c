/* memreport.c — see memreport.h. */
#include "memreport.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "memsize.h"
#include "memory.h"

static gsize
payload_bytes (gconstpointer payload)
{
  return mb_message_heap_bytes (payload);
}

static gsize
heap_in_use (void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
  struct mallinfo2 mi = mallinfo2 ();
  return mi.uordblks + mi.hblkhd;
#else
  return 0;
#endif
}

static gsize
rss_now (void)
{
  FILE *f = fopen ("/proc/self/statm", "r");
  if (!f)
    return 0;
  unsigned long size = 0, resident = 0;
  int got = fscanf (f, "%lu %lu", &size, &resident);
  fclose (f);
  return got == 2 ? (gsize) resident * (gsize) sysconf (_SC_PAGESIZE) : 0;
}

void
mb_memreport_sample (MbMemReport *r, MbWorld *w, MbSched *s, double t_s)
{
  MbMemSample m = { .t_s = t_s, .peers = mb_world_n_nodes (w) };
  for (guint i = 0; i < m.peers; i++)
    {
      MbSimNode *n = mb_world_node (w, i);
      m.nodes += mb_memsize (n, sizeof *n) + mb_memsize (n->addr, strlen (n->addr) + 1);
      if (n->peer)
        mb_peer_memory (n->peer, &m.peer);
      if (n->store)
        m.stores += mb_store_heap_bytes (n->store);
    }
  if (mb_world_file (w))
    m.peer.manifests += mb_manifest_memory (mb_world_file (w)); /* the world's share */
  mb_net_heap_bytes (mb_world_net (w), payload_bytes, &m.net, &m.messages);
  m.scheduler = mb_sched_heap_bytes (s);
  /* with several ranks s holds the global events; each rank has its own
   * (rank r's is node r's: node ids go to ranks by id mod K) */
  guint k = mb_world_n_ranks (w);
  for (guint rank = 0; k > 1 && rank < k; rank++)
    m.scheduler += mb_sched_heap_bytes (mb_world_sched_of (w, rank));
  const MbPeerMemory *p = &m.peer;
  m.walked = p->conns + p->bitfields + p->requests + p->pieces + p->manifests + p->peer
             + m.stores + m.nodes + m.net + m.messages + m.scheduler;
  m.heap_in_use = heap_in_use ();
  m.rss = rss_now ();
  r->n_samples++;
  r->peers = m.peers;
  gsize key = m.heap_in_use ? m.heap_in_use : m.walked;
  gsize best = r->peak.heap_in_use ? r->peak.heap_in_use : r->peak.walked;
  if (r->n_samples == 1 || key > best)
    r->peak = m;
}

static void
row (GString *o, const char *what, gsize bytes, double peers, gsize total)
{
  g_autofree gchar *b = mb_memory_format (bytes);
  g_string_append_printf (o, "  %-40s %11s %10.0f %6.1f%%\n", what, b,
                          peers > 0 ? (double) bytes / peers : 0,
                          total > 0 ? 100.0 * (double) bytes / (double) total : 0);
}

gchar *
mb_memreport_format (const MbMemReport *r, guint64 peak_rss)
{
  GString *o = g_string_new (NULL);
  if (r->n_samples == 0)
    {
      g_string_append (o, "memory report: no sample was taken\n");
      return g_string_free (o, FALSE);
    }
  const MbMemSample *m = &r->peak;
  double n = m->peers;
  gsize total = m->heap_in_use > m->walked ? m->heap_in_use : m->walked;
  g_string_append_printf (o, "memory by structure at t = %.1f s (of %u samples, the one with the "
                             "most heap in use), %u peers:\n", m->t_s, r->n_samples, m->peers);
  g_string_append_printf (o, "  %-40s %11s %10s %7s\n", "structure", "bytes", "per_peer", "share");
  const MbPeerMemory *p = &m->peer;
  row (o, "connections", p->conns, n, total);
  row (o, "bitfields", p->bitfields, n, total);
  row (o, "request lists and upload queues", p->requests, n, total);
  row (o, "picker and piece state", p->pieces, n, total);
  row (o, "manifests", p->manifests, n, total);
  row (o, "peer and swarm records, RNG", p->peer, n, total);
  row (o, "stores", m->stores, n, total);
  row (o, "sim nodes", m->nodes, n, total);
  row (o, "net: node and flight records", m->net, n, total);
  row (o, "messages in flight", m->messages, n, total);
  row (o, "scheduler", m->scheduler, n, total);
  row (o, "walked, total", m->walked, n, total);
  if (m->heap_in_use)
    {
      row (o, "heap in use (mallinfo2)", m->heap_in_use, n, total);
      row (o, "other heap (tracker, metrics, GLib...)",
           m->heap_in_use > m->walked ? m->heap_in_use - m->walked : 0, n, total);
    }
  else
    g_string_append (o, "  heap in use (mallinfo2): unknown, the allocator is not glibc's "
                        "(e.g. AddressSanitizer's)\n");
  if (m->rss)
    row (o, "RSS at the sample", m->rss, n, total);
  g_autofree gchar *rss = mb_memory_format (peak_rss);
  g_string_append_printf (o, "  peak RSS %s: %.0f bytes per peer (%u peers)\n", rss,
                          r->peers ? (double) peak_rss / r->peers : 0, r->peers);
  return g_string_free (o, FALSE);
}
