/* The fault layer's plan: message loss, duplication, delay, partitions and crash-stop, parsed from the command line and decided per message by pure functions. */
#ifndef CONSENSUS_FAULT_H
#define CONSENSUS_FAULT_H

#include <stddef.h>
#include <stdint.h>

/* What became of a message (/messages/fate). */
typedef enum fault_fate {
  FATE_DELIVERED = 0,   /* taken by its receiver: a receive event */
  FATE_UNDELIVERED = 1, /* still queued (or held) when the run ended */
  FATE_DROPPED = 2,     /* lost by --drop */
  FATE_PARTITION = 3,   /* cut by a --partition */
  FATE_CRASHED = 4,     /* reached a rank that had crashed (--crash) */
  FATE_DUPLICATE = 5,   /* the second copy --duplicate delivered: its own receive event (-1 if never taken) */
  FATE_COUNT
} fault_fate;

enum { FAULT_MAX_PARTITIONS = 64 };

/* One partition: during [from, to) ranks of different groups cannot reach each other. group[r]
 * is rank r's group; ranks the spec does not list form one more group together. */
typedef struct fault_partition {
  double from, to;
  int *group;
} fault_partition;

/* Times are model seconds, or for byz round numbers within a trial (round 0: the order). */
typedef struct fault_plan {
  int n;                 /* ranks */
  uint64_t seed;
  double drop, duplicate; /* probabilities per data message */
  double delay_mean;     /* model seconds; 0: none */
  int n_partitions;
  fault_partition partitions[FAULT_MAX_PARTITIONS];
  double *crash_at;      /* n entries: when rank r crash-stops; -1: never (NULL until --crash) */
  char partition_text[1024], crash_text[512]; /* the specs as given, for /faults */
} fault_plan;

/* Parses one --partition G|G[|G…]@FROM-TO (G: comma-separated ranks) or one --crash R@T[,R@T…]
 * for n ranks into plan. Returns 0, or CS_EUSAGE with one line in err. */
int fault_parse_partition(fault_plan *plan, int n, const char *text, char *err, size_t cap);
int fault_parse_crash(fault_plan *plan, int n, const char *text, char *err, size_t cap);
void fault_plan_free(fault_plan *plan);

/* 1 if the plan makes any fault at all. */
int fault_any(const fault_plan *plan);

/* Rank r has crashed by time t. */
int fault_crashed(const fault_plan *plan, int r, double t);

/* A message from src to dst at time t is cut by a partition. */
int fault_cut(const fault_plan *plan, int src, int dst, double t);

/* The decisions that depend on chance, each a pure function of (seed, src, dst, link_seq): the
 * link_seq-th data message from src to dst (0, 1, …) is dropped; is delivered twice; is held
 * this many model seconds (exponential with mean delay_mean). */
int fault_drops(const fault_plan *plan, int src, int dst, int64_t link_seq);
int fault_duplicates(const fault_plan *plan, int src, int dst, int64_t link_seq);
double fault_delay(const fault_plan *plan, int src, int dst, int64_t link_seq);

/* The fate's name ("delivered", "dropped", …). */
const char *fault_fate_name(int fate);

#endif
