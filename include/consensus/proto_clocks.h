/* `consensus clocks`: the scale-model logical-clock experiment as a protocol on the node runtime. */
#ifndef CONSENSUS_PROTO_CLOCKS_H
#define CONSENSUS_PROTO_CLOCKS_H

#include "consensus/cli.h"
#include "consensus/run.h"

/* What an idle tick does; the numbers are the course's draw k (anything above 3 is internal). */
typedef enum clocks_step {
  CLOCKS_INTERNAL = 0, /* an internal event */
  CLOCKS_NEXT = 1,     /* k=1: send to (i+1) mod n */
  CLOCKS_SECOND = 2,   /* k=2: send to (i+2) mod n; with n = 2 that is i itself, so (i+1) mod n */
  CLOCKS_ALL = 3,      /* k=3: one send event to every other rank */
  CLOCKS_STEP_COUNT
} clocks_step;

/* At most this many drift samples per rank, whatever the duration: memory stays bounded. */
#define CLOCKS_MAX_SAMPLES 65536

/* The idle step for a uniform draw u in [0, 1): u < p_internal → internal; else the three send
 * kinds share [p_internal, 1) in equal thirds, in the order NEXT, SECOND, ALL. With
 * p_internal = 0.7 this is exactly the course's "draw 1..10". Pure. */
clocks_step clocks_choose(double u, double p_internal);

/* Fills dsts with the destinations of a send step of `rank` among n (n >= 2) and returns how
 * many (1, or n-1 for CLOCKS_ALL; 0 for CLOCKS_INTERNAL). Pure. */
int clocks_targets(clocks_step step, int rank, int n, int *dsts);

/* The model-time spacing of the drift samples: max(duration / (CLOCKS_MAX_SAMPLES - 1), 1 / max_rate),
 * so the fastest rank ticks about once per sample and no run keeps more than CLOCKS_MAX_SAMPLES. Pure. */
double clocks_sample_interval(double duration_s, double max_rate);

/* `consensus clocks` for run_execute: the experiment, the summary on rank 0, /clocks in
 * the run file; exit status 1 if a message was neither delivered nor reported. */
run_subcommand clocks_subcommand(void);

#endif
