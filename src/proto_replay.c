/* Replays a script of sends on the node runtime, in script order, and prints every event's vector clock. */
#include "consensus/proto_replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/cs_error.h"
#include "consensus/node.h"
#include "consensus/run.h"

/* ---- the protocol --------------------------------------------------------------------------------- */

typedef struct replay_state {
  const replay_script *script;
  const fault_plan *faults; /* NULL: none */
  int rank;
  int next; /* index of the next step this rank takes part in (n_steps: done) */
  int **step_of_link; /* faults: [src][k] = the step of the k-th message from src to this rank */
  int *links;         /* faults: messages from each src to this rank in the script */
  uint8_t *lost;      /* faults: per step, this rank's copy of its message was lost on the way */
} replay_state;

static int involves(const replay_step *st, int rank) {
  if (st->src == rank) return 1;
  for (int k = 0; k < st->n_dsts; k++)
    if (st->dsts[k] == rank) return 1;
  return 0;
}

/* Moves to the next step this rank takes part in. */
static void advance(replay_state *s) {
  s->next++;
  while (s->next < s->script->n_steps && !involves(&s->script->steps[s->next], s->rank)) s->next++;
}

/* Only the message of the current step, from its sender, may be taken: script order. A second
 * copy (--duplicate) is taken whenever it is there: its own receive event, no step. */
static int replay_accepts(void *state, const node *nd, const node_message *msg) {
  (void)nd;
  replay_state *s = state;
  if (msg->fate == FATE_DUPLICATE) return 1;
  if (s->next >= s->script->n_steps) return 0;
  const replay_step *st = &s->script->steps[s->next];
  return st->kind == REPLAY_SEND && st->src != s->rank && msg->src == st->src;
}

static int replay_on_receive(void *state, node *nd, const node_message *msg) {
  (void)nd;
  if (msg->fate != FATE_DUPLICATE) advance(state);
  return 0;
}

/* The fault layer's clock in replay: the script's step. A message's step is known from its link
 * number (the k-th message from src to this rank is the k-th such send of the script). */
static double replay_fault_time(void *state, const node *nd, const node_message *msg) {
  (void)nd;
  const replay_state *s = state;
  if (!msg) return s->next;
  if (msg->link_seq < 0 || msg->link_seq >= s->links[msg->src]) return s->next;
  return s->step_of_link[msg->src][msg->link_seq];
}

static int replay_on_lost(void *state, node *nd, const node_message *msg, int fate) {
  (void)nd;
  (void)fate;
  replay_state *s = state;
  if (msg->link_seq >= 0 && msg->link_seq < s->links[msg->src]) s->lost[s->step_of_link[msg->src][msg->link_seq]] = 1;
  return 0;
}

/* Our step: send (one event, even to several) or internal. Someone else's: wait for it, unless
 * it cannot come (faults): our copy was lost, or its sender had crashed by then; a crashed rank
 * passes over every step (its runtime makes no event). */
static int replay_on_idle(void *state, node *nd) {
  replay_state *s = state;
  while (s->faults && s->next < s->script->n_steps) { /* pass over the steps that cannot come */
    const replay_step *st = &s->script->steps[s->next];
    if (st->src == s->rank || !(s->lost[s->next] || fault_crashed(s->faults, st->src, s->next) || node_crashed(nd)))
      break;
    advance(s);
  }
  if (s->next >= s->script->n_steps) return 0;
  const replay_step *st = &s->script->steps[s->next];
  if (st->src != s->rank) return 0;
  int rc;
  if (st->kind == REPLAY_INTERNAL) rc = node_internal(nd);
  else rc = node_multicast(nd, st->dsts, st->n_dsts, NULL, 0);
  if (!rc) advance(s);
  return rc;
}

static int replay_is_finished(void *state, const node *nd) {
  (void)nd;
  const replay_state *s = state;
  return s->next >= s->script->n_steps;
}

/* Prints every event in script order (each rank's events are in script order, so one cursor
 * per rank finds them), then every rank's final clock. */
static void print_replay(const replay_script *sc, const node_gathered *g, int n, const char *path) {
  int64_t *next_of = calloc((size_t)n, sizeof *next_of), *start = calloc((size_t)n, sizeof *start);
  char name[32], vc[1024], step_text[256];
  if (!next_of || !start) {
    free(next_of);
    free(start);
    return;
  }
  for (int r = 1; r < n; r++) start[r] = start[r - 1] + g->count[r - 1];
  int sends = 0;
  for (int k = 0; k < sc->n_steps; k++) sends += sc->steps[k].kind == REPLAY_SEND;
  printf("replay %s: %d ranks, %d steps (%d sends)\n", path, n, sc->n_steps, sends);
  for (int k = 0; k < sc->n_steps; k++) {
    const replay_step *st = &sc->steps[k];
    size_t used = 0;
    replay_rank_name(sc, st->src, name, sizeof name);
    used += (size_t)snprintf(step_text + used, sizeof step_text - used, "%s%s", name,
                             st->kind == REPLAY_INTERNAL ? ":internal" : "->");
    for (int d = 0; d < st->n_dsts && used < sizeof step_text; d++) {
      replay_rank_name(sc, st->dsts[d], name, sizeof name);
      used += (size_t)snprintf(step_text + used, sizeof step_text - used, "%s%s", d ? "," : "", name);
    }
    for (int j = -1; j < st->n_dsts; j++) {
      int r = j < 0 ? st->src : st->dsts[j];
      int64_t row = start[r] + next_of[r]++;
      replay_rank_name(sc, r, name, sizeof name);
      const char *what = g->kind[row] == 0 ? "internal" : g->kind[row] == 1 ? "send" : "recv";
      vclock_format(g->vc + row * n, (size_t)n, vc, sizeof vc);
      if (j < 0) printf("line %3d  %-12s %-3s %-8s L=%-4lld %s\n", st->line, step_text, name, what,
                        (long long)g->lamport[row], vc);
      else printf("          %-12s %-3s %-8s L=%-4lld %s\n", "", name, what, (long long)g->lamport[row], vc);
    }
  }
  printf("final clocks:\n");
  for (int r = 0; r < n; r++) {
    replay_rank_name(sc, r, name, sizeof name);
    if (g->count[r] == 0) {
      printf("  %-3s L=%-4d %s\n", name, 0, "(no events)");
      continue;
    }
    int64_t last = start[r] + g->count[r] - 1;
    vclock_format(g->vc + last * n, (size_t)n, vc, sizeof vc);
    printf("  %-3s L=%-4lld %s\n", name, (long long)g->lamport[last], vc);
  }
  free(next_of);
  free(start);
}

/* With faults the script order no longer names every event (a lost message has no receive, a
 * duplicate one more): every rank's events in its own order, then its final clock. */
static void print_by_rank(const replay_script *sc, const node_gathered *g, int n, const char *path) {
  char name[32], peer[32], vc[1024];
  printf("replay %s: %d ranks, %d steps; with faults, each rank's events in its own order:\n", path, n, sc->n_steps);
  int64_t row = 0;
  for (int r = 0; r < n; r++) {
    replay_rank_name(sc, r, name, sizeof name);
    printf("%s:%s\n", name, g->count[r] ? "" : " (no events)");
    for (int64_t k = 0; k < g->count[r]; k++, row++) {
      const char *what = g->kind[row] == 0 ? "internal" : g->kind[row] == 1 ? "send" : "recv";
      if (g->peer[row] >= 0) replay_rank_name(sc, g->peer[row], peer, sizeof peer);
      else snprintf(peer, sizeof peer, "%s", g->kind[row] == 1 ? "several" : "");
      vclock_format(g->vc + row * n, (size_t)n, vc, sizeof vc);
      printf("  %-8s %-8s L=%-4lld %s\n", what, peer, (long long)g->lamport[row], vc);
    }
  }
}

/* The fault layer's bookkeeping (faults only): for each sender, the steps of its messages to this
 * rank in script order; and a lost flag per step. */
static int map_links(replay_state *s, int n) {
  const replay_script *sc = s->script;
  s->links = calloc((size_t)n, sizeof *s->links);
  s->step_of_link = calloc((size_t)n, sizeof *s->step_of_link);
  s->lost = calloc((size_t)(sc->n_steps ? sc->n_steps : 1), 1);
  if (!s->links || !s->step_of_link || !s->lost) return CS_ENOMEM;
  for (int pass = 0; pass < 2; pass++) {
    for (int src = 0; src < n; src++) {
      if (pass == 1 && !(s->step_of_link[src] = malloc((size_t)(s->links[src] ? s->links[src] : 1) * sizeof(int))))
        return CS_ENOMEM;
      s->links[src] = pass == 1 ? 0 : s->links[src];
    }
    for (int k = 0; k < sc->n_steps; k++) {
      const replay_step *st = &sc->steps[k];
      if (st->kind != REPLAY_SEND || st->src == s->rank || !involves(st, s->rank)) continue;
      if (pass == 1) s->step_of_link[st->src][s->links[st->src]] = k;
      s->links[st->src]++;
    }
  }
  return 0;
}

static void free_links(replay_state *s, int n) {
  for (int src = 0; s->step_of_link && src < n; src++) free(s->step_of_link[src]);
  free(s->step_of_link);
  free(s->links);
  free(s->lost);
}

/* ---- the subcommand -------------------------------------------------------------------------------- */

typedef struct replay_run {
  replay_script script;
  replay_state st;
  int n;
} replay_run;

/* Step 1: read and check the script before anything runs (every rank parses the same bytes). */
static int replay_prepare(cs_run *run, run_request *req, void **state) {
  const cs_config *cfg = run_config(run);
  char err[1024] = "", line[1200];
  char *text = NULL;
  size_t text_len = 0;
  replay_run *r = calloc(1, sizeof *r);
  if (!r) cs_fatal("parsing the script", CS_ENOMEM);
  *state = r;
  int rc = run_read_shared_file(run, cfg->script_path, REPLAY_MAX_SCRIPT_BYTES, &text, &text_len, err, sizeof err);
  if (!rc) {
    rc = replay_parse(text, text_len, cfg->n_ranks, &r->script, err, sizeof err);
    if (rc == CS_ENOMEM) cs_fatal("parsing the script", rc);
  }
  free(text);
  if (rc) {
    snprintf(line, sizeof line, "consensus replay: %s: %s", cfg->script_path, err);
    run_usage_error(run_rank(run), line);
    return CS_EXIT_USAGE;
  }
  r->st = (replay_state){.script = &r->script, .rank = run_rank(run), .next = -1};
  r->n = cfg->n_ranks;
  if (fault_any(&cfg->faults)) {
    r->st.faults = &cfg->faults;
    if (map_links(&r->st, cfg->n_ranks)) cs_fatal("mapping the script's messages", CS_ENOMEM);
    req->fault_time_unit = "script steps";
  }
  advance(&r->st);
  return 0;
}

/* Step 2: every rank walks the script, taking part where it is named; then rank 0 prints every
 * event's clocks (when traced and not stopped). */
static int replay_execute(cs_run *run, void *state) {
  replay_run *r = state;
  const cs_config *cfg = run_config(run);
  node *nd = run_node(run);
  int rc;
  node_protocol proto = {.state = &r->st, .accepts = replay_accepts, .on_receive = replay_on_receive,
                         .on_idle = replay_on_idle, .is_finished = replay_is_finished,
                         .fault_time = r->st.faults ? replay_fault_time : NULL,
                         .on_lost = r->st.faults ? replay_on_lost : NULL};
  if ((rc = node_run(nd, &proto))) cs_fatal("replaying the script", rc);
  node_stats stats;
  node_get_stats(nd, &stats);
  if (cfg->trace && !stats.stopped) {
    node_gathered g;
    if ((rc = node_gather_trace(nd, &g))) cs_fatal("gathering the trace", rc);
    if (run_rank(run) == 0 && !cfg->quiet) {
      if (r->st.faults) print_by_rank(&r->script, &g, cfg->n_ranks, cfg->script_path);
      else print_replay(&r->script, &g, cfg->n_ranks, cfg->script_path);
    }
    node_gathered_free(&g);
  }
  return CS_EXIT_OK;
}

static void replay_release(void *state) {
  replay_run *r = state;
  if (!r) return;
  if (r->st.faults) free_links(&r->st, r->n);
  replay_free(&r->script);
  free(r);
}

run_subcommand replay_subcommand(void) {
  return (run_subcommand){.prepare = replay_prepare, .execute = replay_execute, .release = replay_release};
}
