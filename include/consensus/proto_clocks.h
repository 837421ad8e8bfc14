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
 * so the fastest rank ticks about once per sample and no run keeps more than CLOCKS_MAX_SAMPLES.
 * Rounded to a double: for the file and the summary; the sampling itself is exact (below). Pure. */
double clocks_sample_interval(double duration_s, double max_rate);

/* The drift samples of a run, exactly: sample j is at model time j*delta with
 * delta = max(D / (CLOCKS_MAX_SAMPLES - 1), 1 / R) for the doubles D (duration) and R (fastest
 * rate) taken as the exact rationals they are, never rounded. Floating point compared
 * 50*(1/6) < 50/6.0 and put a tick of the always-fastest rank after the sample it lands on
 * (drift 1 instead of 0, issue 12.7). */
typedef struct clocks_sampling {
  double duration_s, max_rate;
  int by_count;      /* 1: delta = D / (CLOCKS_MAX_SAMPLES - 1); 0: delta = 1 / R */
  int64_t n_samples; /* J = min(floor(D / delta) + 1, CLOCKS_MAX_SAMPLES), exact */
  double delta;      /* delta rounded (clocks_sample_interval) */
} clocks_sampling;

/* The sampling of a run of duration_s model seconds whose fastest rank ticks at max_rate (> 0). Pure. */
clocks_sampling clocks_sampling_of(double duration_s, double max_rate);

/* 1 if tick k of a rank ticking at `rate` (model time k / rate) is at or before sample j (model
 * time j * delta), else 0; in exact integer arithmetic on the doubles' mantissas. Pure. */
int clocks_tick_not_after(const clocks_sampling *sp, int64_t k, double rate, int64_t j);

/* `consensus clocks` for run_execute: the experiment, the summary on rank 0, /clocks in
 * the run file; exit status 1 if a message was neither delivered nor reported. */
run_subcommand clocks_subcommand(void);

#endif
