/* test_tracker.c — peer lists (all others / random 5, never the asker),
 * swarms per file, LEAVE, silence timeouts, initial blocks, bad input and
 * determinism, through an in-test host that queues what the tracker sends. */
#include "swarm/tracker.h"

#include <string.h>

#define TRACKER_NODE 1000

typedef struct {
  MbNodeId to;
  MbMessage *msg;
} Sent;

typedef struct {
  MbHost host;
  GPtrArray *sent;  /* Sent *, in send order */
  MbTracker *t;
} TrackFix;

static void
sent_free (gpointer p)
{
  Sent *s = p;
  mb_message_free (s->msg);
  g_free (s);
}

static void
fix_send (gpointer ctx, MbNodeId from, MbNodeId to, MbMessage *msg)
{
  TrackFix *f = ctx;
  g_assert_cmpuint (from, ==, TRACKER_NODE);
  Sent *s = g_new0 (Sent, 1);
  s->to = to;
  s->msg = msg;
  g_ptr_array_add (f->sent, s);
}

static MbNodeId
fix_resolve (gpointer ctx, MbNodeId self, const char *addr)
{
  return MB_NODE_NONE;
}

static TrackFix *
track_fix_new (const MbTrackerConfig *cfg, guint32 seed)
{
  TrackFix *f = g_new0 (TrackFix, 1);
  f->host.ctx = f;
  f->host.send = fix_send;
  f->host.resolve = fix_resolve;
  f->sent = g_ptr_array_new_with_free_func (sent_free);
  MbTrackerConfig def;
  mb_tracker_config_init (&def);
  f->t = mb_tracker_new (&f->host, TRACKER_NODE, cfg != NULL ? cfg : &def,
                         g_rand_new_with_seed (seed));
  return f;
}

static void
track_fix_free (TrackFix *f)
{
  mb_tracker_free (f->t);
  g_ptr_array_unref (f->sent);
  g_free (f);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TrackFix, track_fix_free)

/* Sends a request as peer number `node` (name "peerN", addr "10.0.0.N:6881")
 * and returns the one reply, or NULL if there was none.  The reply stays
 * owned by the fixture. */
static const MbMessage *
track_send (TrackFix *f, MbMsgType type, guint node, const char *file,
            guint32 count, guint64 now)
{
  g_autoptr (MbMessage) m = mb_message_new (type);
  m->req = 100 + node;
  m->file = g_strdup (file);
  m->name = g_strdup_printf ("peer%u", node);
  if (type == MB_MSG_REGISTER)
    m->addr = g_strdup_printf ("10.0.0.%u:6881", node);
  m->count = count;
  guint before = f->sent->len;
  mb_tracker_receive (f->t, node, m, now);
  g_assert_cmpuint (f->sent->len, <=, before + 1);
  if (f->sent->len == before)
    return NULL;
  Sent *s = g_ptr_array_index (f->sent, before);
  g_assert_cmpuint (s->to, ==, node);
  return s->msg;
}

static const MbMessage *
track_register (TrackFix *f, guint node, const char *file, guint64 now)
{
  const MbMessage *r = track_send (f, MB_MSG_REGISTER, node, file, 0, now);
  g_assert_nonnull (r);
  g_assert_cmpint (r->type, ==, MB_MSG_PEER_LIST);
  g_assert_cmpuint (r->code, ==, MB_ERR_NONE);
  g_assert_cmpuint (r->req, ==, 100 + node);
  g_assert_cmpstr (r->file, ==, file);
  return r;
}

static const MbMessage *
track_get_peers (TrackFix *f, guint node, const char *file, guint64 now)
{
  const MbMessage *r = track_send (f, MB_MSG_GET_PEERS, node, file, 0, now);
  g_assert_nonnull (r);
  g_assert_cmpint (r->type, ==, MB_MSG_PEER_LIST);
  g_assert_cmpuint (r->code, ==, MB_ERR_NONE);
  g_assert_cmpuint (r->req, ==, 100 + node);
  return r;
}

/* The node number of peer info "peerN", checking its address matches. */
static guint
peer_node (const MbPeerInfo *p)
{
  guint n = 0;
  g_assert_true (g_str_has_prefix (p->name, "peer"));
  n = (guint) g_ascii_strtoull (p->name + 4, NULL, 10);
  g_autofree gchar *addr = g_strdup_printf ("10.0.0.%u:6881", n);
  g_assert_cmpstr (p->addr, ==, addr);
  return n;
}

static void
assert_distinct_not_asker (const MbMessage *r, guint asker)
{
  for (guint i = 0; i < r->n_peers; i++)
    {
      guint a = peer_node (&r->peers[i]);
      g_assert_cmpuint (a, !=, asker);
      for (guint j = i + 1; j < r->n_peers; j++)
        g_assert_cmpstr (r->peers[i].name, !=, r->peers[j].name);
    }
}

static void
test_tracker_few_peers_get_all_others (void)
{
  g_autoptr (TrackFix) f = track_fix_new (NULL, 1);
  const MbMessage *r = track_register (f, 1, "movie", 0);
  g_assert_cmpuint (r->n_peers, ==, 0);
  for (guint n = 2; n <= 5; n++)
    {
      r = track_register (f, n, "movie", n);
      g_assert_cmpuint (r->n_peers, ==, n - 1);
      assert_distinct_not_asker (r, n);
    }
  /* five peers: each asker gets the four others */
  for (guint n = 1; n <= 5; n++)
    {
      r = track_get_peers (f, n, "movie", 10);
      g_assert_cmpuint (r->n_peers, ==, 4);
      assert_distinct_not_asker (r, n);
    }
  /* six peers: exactly five others, i.e. all of them */
  r = track_register (f, 6, "movie", 11);
  g_assert_cmpuint (r->n_peers, ==, 5);
  assert_distinct_not_asker (r, 6);
}

static void
test_tracker_many_peers_get_random_five_covering_all (void)
{
  g_autoptr (TrackFix) f = track_fix_new (NULL, 2);
  for (guint n = 1; n <= 30; n++)
    track_register (f, n, "movie", n);
  gboolean seen[31] = { FALSE };
  for (guint k = 0; k < 300; k++)
    {
      const MbMessage *r = track_get_peers (f, 7, "movie", 100 + k);
      g_assert_cmpuint (r->n_peers, ==, 5);
      assert_distinct_not_asker (r, 7);
      for (guint i = 0; i < r->n_peers; i++)
        seen[peer_node (&r->peers[i])] = TRUE;
    }
  for (guint n = 1; n <= 30; n++)
    g_assert_true (seen[n] == (n != 7));

  /* an unregistered asker gets five of the swarm too */
  const MbMessage *r = track_get_peers (f, 99, "movie", 1000);
  g_assert_cmpuint (r->n_peers, ==, 5);
  assert_distinct_not_asker (r, 99);
}

static void
test_tracker_two_files_are_separate_swarms (void)
{
  g_autoptr (TrackFix) f = track_fix_new (NULL, 3);
  track_register (f, 1, "a.iso", 0);
  track_register (f, 2, "a.iso", 0);
  track_register (f, 3, "b.iso", 0);
  const MbMessage *r = track_register (f, 4, "b.iso", 0);
  g_assert_cmpuint (r->n_peers, ==, 1);
  g_assert_cmpstr (r->peers[0].name, ==, "peer3");
  r = track_get_peers (f, 1, "a.iso", 1);
  g_assert_cmpuint (r->n_peers, ==, 1);
  g_assert_cmpstr (r->peers[0].name, ==, "peer2");

  g_assert_cmpuint (mb_tracker_n_swarms (f->t), ==, 3);  /* a, b and the ring */
  g_assert_cmpuint (mb_tracker_swarm_size (f->t, "a.iso"), ==, 2);
  g_assert_cmpuint (mb_tracker_swarm_size (f->t, "b.iso"), ==, 2);
  g_assert_cmpuint (mb_tracker_swarm_size (f->t, ""), ==, 4);
  g_assert_true (mb_tracker_has_peer (f->t, "a.iso", "peer1"));
  g_assert_false (mb_tracker_has_peer (f->t, "b.iso", "peer1"));
  g_assert_true (mb_tracker_has_peer (f->t, "", "peer1"));
  g_assert_cmpuint (mb_tracker_swarm_size (f->t, "c.iso"), ==, 0);

  /* an unknown swarm answers an empty list and is not created */
  r = track_get_peers (f, 1, "c.iso", 2);
  g_assert_cmpuint (r->n_peers, ==, 0);
  g_assert_cmpuint (mb_tracker_n_swarms (f->t), ==, 3);

  /* re-registering does not duplicate */
  track_register (f, 1, "a.iso", 3);
  g_assert_cmpuint (mb_tracker_swarm_size (f->t, "a.iso"), ==, 2);
  g_assert_cmpuint (mb_tracker_swarm_size (f->t, ""), ==, 4);
}

/* mb_tracker_peer_node: the node of the peer's last registration (any
 * swarm), MB_NODE_NONE once it left or when never registered. */
static void
test_tracker_peer_node (void)
{
  g_autoptr (TrackFix) f = track_fix_new (NULL, 4);
  g_assert_cmpuint (mb_tracker_peer_node (f->t, "peer1"), ==, MB_NODE_NONE);
  track_register (f, 1, "a.iso", 0);
  track_register (f, 2, "", 0);
  g_assert_cmpuint (mb_tracker_peer_node (f->t, "peer1"), ==, 1);
  g_assert_cmpuint (mb_tracker_peer_node (f->t, "peer2"), ==, 2);
  g_assert_cmpuint (mb_tracker_peer_node (f->t, "peer3"), ==, MB_NODE_NONE);
  g_assert_cmpuint (mb_tracker_peer_node (f->t, NULL), ==, MB_NODE_NONE);
  g_assert_null (track_send (f, MB_MSG_LEAVE, 1, "", 0, 5));
  g_assert_cmpuint (mb_tracker_peer_node (f->t, "peer1"), ==, MB_NODE_NONE);
}

static void
test_tracker_leave_removes_at_once (void)
{
  g_autoptr (TrackFix) f = track_fix_new (NULL, 4);
  for (guint n = 1; n <= 4; n++)
    {
      track_register (f, n, "a.iso", 0);
      track_register (f, n, "b.iso", 0);
    }
  /* LEAVE one file: gone from it, still elsewhere; no reply */
  g_assert_null (track_send (f, MB_MSG_LEAVE, 2, "a.iso", 0, 5));
  g_assert_false (mb_tracker_has_peer (f->t, "a.iso", "peer2"));
  g_assert_true (mb_tracker_has_peer (f->t, "b.iso", "peer2"));
  g_assert_true (mb_tracker_has_peer (f->t, "", "peer2"));
  const MbMessage *r = track_get_peers (f, 1, "a.iso", 6);
  g_assert_cmpuint (r->n_peers, ==, 2);
  assert_distinct_not_asker (r, 1);
  for (guint i = 0; i < r->n_peers; i++)
    g_assert_cmpstr (r->peers[i].name, !=, "peer2");

  /* LEAVE "" (and NULL): gone from every swarm */
  g_assert_null (track_send (f, MB_MSG_LEAVE, 3, "", 0, 7));
  g_assert_null (track_send (f, MB_MSG_LEAVE, 4, NULL, 0, 7));
  for (guint n = 3; n <= 4; n++)
    {
      g_autofree gchar *name = g_strdup_printf ("peer%u", n);
      g_assert_false (mb_tracker_has_peer (f->t, "a.iso", name));
      g_assert_false (mb_tracker_has_peer (f->t, "b.iso", name));
      g_assert_false (mb_tracker_has_peer (f->t, "", name));
    }
  g_assert_cmpuint (mb_tracker_swarm_size (f->t, ""), ==, 2);
  g_assert_cmpuint (mb_tracker_swarm_size (f->t, "b.iso"), ==, 2);

  /* leaving an unknown peer is harmless */
  g_assert_null (track_send (f, MB_MSG_LEAVE, 77, "", 0, 8));
  g_assert_cmpuint (mb_tracker_swarm_size (f->t, ""), ==, 2);
  g_assert_cmpuint (mb_tracker_dropped (f->t), ==, 0);
}

static void
test_tracker_silent_peer_dropped_at_sweep (void)
{
  MbTrackerConfig cfg;
  mb_tracker_config_init (&cfg);
  cfg.peer_timeout_us = 100 * MB_USEC_PER_SEC;
  cfg.sweep_interval_us = 10 * MB_USEC_PER_SEC;
  g_autoptr (TrackFix) f = track_fix_new (&cfg, 5);
  g_assert_cmpuint (mb_tracker_next_expiry (f->t), ==, MB_TIME_NEVER);

  guint64 s = MB_USEC_PER_SEC;
  track_register (f, 1, "movie", 5 * s);   /* silent afterwards */
  track_register (f, 2, "movie", 5 * s);   /* re-announces */
  track_register (f, 3, "movie", 5 * s);   /* asks for peers */
  g_assert_cmpuint (mb_tracker_next_expiry (f->t), ==, 15 * s);

  gboolean reannounced = FALSE;
  guint64 now = 0;
  while ((now = mb_tracker_next_expiry (f->t)) <= 200 * s)
    {
      if (!reannounced && now >= 60 * s)
        {
          track_register (f, 2, "movie", 60 * s);
          track_get_peers (f, 3, "movie", 60 * s);
          reannounced = TRUE;
        }
      mb_tracker_handle_expiry (f->t, now);
      g_assert_cmpuint (mb_tracker_next_expiry (f->t), >, now);
      if (now < 105 * s)
        g_assert_true (mb_tracker_has_peer (f->t, "movie", "peer1"));
      else if (now < 160 * s)
        {
          g_assert_false (mb_tracker_has_peer (f->t, "movie", "peer1"));
          g_assert_false (mb_tracker_has_peer (f->t, "", "peer1"));
          g_assert_true (mb_tracker_has_peer (f->t, "movie", "peer2"));
          g_assert_true (mb_tracker_has_peer (f->t, "movie", "peer3"));
          g_assert_cmpuint (mb_tracker_dropped (f->t), ==, 1);
        }
      if (mb_tracker_next_expiry (f->t) == MB_TIME_NEVER)
        break;
    }
  /* everyone silent since 60 s is gone by 160 s; nothing left to sweep */
  g_assert_cmpuint (mb_tracker_swarm_size (f->t, "movie"), ==, 0);
  g_assert_cmpuint (mb_tracker_swarm_size (f->t, ""), ==, 0);
  g_assert_cmpuint (mb_tracker_dropped (f->t), ==, 3);
  g_assert_cmpuint (mb_tracker_next_expiry (f->t), ==, MB_TIME_NEVER);

  /* a new registration arms the sweep again */
  track_register (f, 4, "movie", 500 * s);
  g_assert_cmpuint (mb_tracker_next_expiry (f->t), ==, 510 * s);
}

static void
test_tracker_timeout_zero_never_sweeps (void)
{
  MbTrackerConfig cfg;
  mb_tracker_config_init (&cfg);
  cfg.peer_timeout_us = 0;
  g_autoptr (TrackFix) f = track_fix_new (&cfg, 6);
  track_register (f, 1, "movie", 0);
  g_assert_cmpuint (mb_tracker_next_expiry (f->t), ==, MB_TIME_NEVER);
  mb_tracker_handle_expiry (f->t, G_MAXUINT64 - 1);
  g_assert_true (mb_tracker_has_peer (f->t, "movie", "peer1"));
}

static void
test_tracker_default_config (void)
{
  MbTrackerConfig cfg;
  mb_tracker_config_init (&cfg);
  g_assert_cmpuint (cfg.peer_list_size, ==, 5);
  g_assert_cmpuint (cfg.peer_timeout_us, ==, 1800 * MB_USEC_PER_SEC);
  g_assert_cmpuint (cfg.sweep_interval_us, ==, 60 * MB_USEC_PER_SEC);
  g_assert_cmpfloat (cfg.initial_share, ==, 0.0);
}

static void
test_tracker_initial_blocks_within_share (void)
{
  MbTrackerConfig cfg;
  mb_tracker_config_init (&cfg);
  cfg.initial_share = 0.5;
  g_autoptr (TrackFix) f = track_fix_new (&cfg, 7);
  guint hits[51] = { 0 };
  for (guint n = 1; n <= 2000; n++)
    {
      const MbMessage *r = track_send (f, MB_MSG_REGISTER, n, "movie", 100, 0);
      g_assert_cmpint (r->type, ==, MB_MSG_PEER_LIST);
      g_assert_cmpuint (r->count, <=, 50);
      hits[r->count]++;
    }
  g_assert_cmpuint (hits[0], >, 0);
  g_assert_cmpuint (hits[50], >, 0);

  /* count 0 in the request: no initial blocks */
  const MbMessage *r = track_send (f, MB_MSG_REGISTER, 5000, "movie", 0, 0);
  g_assert_cmpuint (r->count, ==, 0);

  /* share 0: no initial blocks */
  g_autoptr (TrackFix) g = track_fix_new (NULL, 7);
  for (guint n = 1; n <= 50; n++)
    g_assert_cmpuint (track_send (g, MB_MSG_REGISTER, n, "movie", 100, 0)->count, ==, 0);
}

typedef struct {
  const char *what;
  MbMsgType type;
  const char *file;
  const char *name;
  const char *addr;
} BadCase;

static void
test_tracker_bad_input_gets_error_and_changes_nothing (void)
{
  static const BadCase cases[] = {
    { "register without name", MB_MSG_REGISTER, "movie", NULL, "10.0.0.9:1" },
    { "register with empty name", MB_MSG_REGISTER, "movie", "", "10.0.0.9:1" },
    { "register without file", MB_MSG_REGISTER, NULL, "peer9", "10.0.0.9:1" },
    { "register without addr", MB_MSG_REGISTER, "movie", "peer9", NULL },
    { "get_peers without name", MB_MSG_GET_PEERS, "movie", NULL, NULL },
    { "get_peers with empty name", MB_MSG_GET_PEERS, "movie", "", NULL },
    { "get_peers without file", MB_MSG_GET_PEERS, NULL, "peer1", NULL },
    { "leave without name", MB_MSG_LEAVE, "movie", NULL, NULL },
    { "leave with empty name", MB_MSG_LEAVE, "", "", NULL },
    { "a swarm message", MB_MSG_HAVE, "movie", "peer1", NULL },
    { "a reply", MB_MSG_PEER_LIST, "movie", "peer1", NULL },
    { "a ring message", MB_MSG_GET_CHUNK, "movie", "peer1", NULL },
  };
  g_autoptr (TrackFix) f = track_fix_new (NULL, 8);
  g_autoptr (TrackFix) ref = track_fix_new (NULL, 8);
  for (guint n = 1; n <= 8; n++)
    {
      track_register (f, n, "movie", 0);
      track_register (ref, n, "movie", 0);
    }
  guint64 next = mb_tracker_next_expiry (f->t);

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      const BadCase *bc = &cases[c];
      g_test_message ("case: %s", bc->what);
      g_autoptr (MbMessage) m = mb_message_new (bc->type);
      m->req = 500 + c;
      m->file = g_strdup (bc->file);
      m->name = g_strdup (bc->name);
      m->addr = g_strdup (bc->addr);
      guint before = f->sent->len;
      mb_tracker_receive (f->t, 42, m, 1000);
      g_assert_cmpuint (f->sent->len, ==, before + 1);
      Sent *s = g_ptr_array_index (f->sent, before);
      g_assert_cmpuint (s->to, ==, 42);
      g_assert_cmpint (s->msg->type, ==, MB_MSG_ERROR);
      g_assert_cmpuint (s->msg->code, ==, MB_ERR_BAD_REQUEST);
      g_assert_cmpuint (s->msg->req, ==, 500 + c);
      g_assert_nonnull (s->msg->text);
      g_assert_cmpuint (strlen (s->msg->text), >, 0);
    }

  /* nothing changed: sizes, expiry, and even the random stream */
  g_assert_cmpuint (mb_tracker_n_swarms (f->t), ==, 2);
  g_assert_cmpuint (mb_tracker_swarm_size (f->t, "movie"), ==, 8);
  g_assert_cmpuint (mb_tracker_swarm_size (f->t, ""), ==, 8);
  g_assert_false (mb_tracker_has_peer (f->t, "movie", "peer9"));
  g_assert_cmpuint (mb_tracker_next_expiry (f->t), ==, next);
  for (guint k = 0; k < 20; k++)
    {
      const MbMessage *a = track_get_peers (f, 1, "movie", 2000);
      const MbMessage *b = track_get_peers (ref, 1, "movie", 2000);
      g_assert_true (mb_message_equal (a, b));
    }
}

/* The peer-list names of a fixed request sequence, joined. */
static gchar *
run_sequence (guint32 seed)
{
  g_autoptr (TrackFix) f = track_fix_new (NULL, seed);
  GString *out = g_string_new (NULL);
  for (guint n = 1; n <= 25; n++)
    track_register (f, n, (n % 3) ? "a" : "b", n);
  track_send (f, MB_MSG_LEAVE, 4, "", 0, 30);
  track_send (f, MB_MSG_LEAVE, 10, "a", 0, 31);
  for (guint k = 0; k < 40; k++)
    {
      const MbMessage *r = track_get_peers (f, 1 + k % 25, (k % 2) ? "a" : "", 40 + k);
      for (guint i = 0; i < r->n_peers; i++)
        g_string_append_printf (out, "%s,", r->peers[i].name);
      g_string_append_c (out, ';');
    }
  return g_string_free (out, FALSE);
}

static void
test_tracker_same_seed_same_lists (void)
{
  g_autofree gchar *a = run_sequence (1234);
  g_autofree gchar *b = run_sequence (1234);
  g_autofree gchar *c = run_sequence (4321);
  g_assert_cmpstr (a, ==, b);
  g_assert_cmpstr (a, !=, c);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tracker/peer-list/few-peers-get-all-others",
                   test_tracker_few_peers_get_all_others);
  g_test_add_func ("/tracker/peer-list/many-peers-get-random-five-covering-all",
                   test_tracker_many_peers_get_random_five_covering_all);
  g_test_add_func ("/tracker/swarms/two-files-are-separate",
                   test_tracker_two_files_are_separate_swarms);
  g_test_add_func ("/tracker/leave/removes-at-once", test_tracker_leave_removes_at_once);
  g_test_add_func ("/tracker/peer-node/last-registration", test_tracker_peer_node);
  g_test_add_func ("/tracker/timeout/silent-peer-dropped-at-sweep",
                   test_tracker_silent_peer_dropped_at_sweep);
  g_test_add_func ("/tracker/timeout/zero-never-sweeps",
                   test_tracker_timeout_zero_never_sweeps);
  g_test_add_func ("/tracker/config/defaults", test_tracker_default_config);
  g_test_add_func ("/tracker/register/initial-blocks-within-share",
                   test_tracker_initial_blocks_within_share);
  g_test_add_func ("/tracker/bad-input/error-reply-and-nothing-changed",
                   test_tracker_bad_input_gets_error_and_changes_nothing);
  g_test_add_func ("/tracker/same-seed-same-lists", test_tracker_same_seed_same_lists);
  return g_test_run ();
}
