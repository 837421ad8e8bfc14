/* `consensus byz`: Lamport–Shostak–Pease OM(m) oral-messages Byzantine agreement across the ranks. */
#ifndef CONSENSUS_PROTO_BYZ_H
#define CONSENSUS_PROTO_BYZ_H

#include <mpi.h>
#include <stdint.h>

#include "consensus/cli.h"

/* Values of the EIG tree besides BYZ_RETREAT and BYZ_ATTACK: nothing (or garbage) arrived. */
#define BYZ_ABSENT 0xFF

/* Oral messages OM(m) sends among n generals when every general sends what it should:
 * Σ_{k=1}^{m+1} Π_{j=1}^{k} (n − j). Saturates at INT64_MAX. */
int64_t byz_closed_form(int n, int m);

/* Values in one level of a lieutenant's EIG tree: paths of k lieutenants (after the commander)
 * drawn from the n − 2 others, i.e. (n−2)!/(n−2−k)!. Saturates at INT64_MAX. */
int64_t byz_level_size(int n, int k);

/* Fills traitor[0..n) (1 = traitor) for one trial: the --traitors list, or -t K ranks drawn from
 * (seed, trial). Pure: every rank computes the same set. */
void byz_traitors_of_trial(const cs_config *cfg, int64_t trial, uint8_t *traitor);

/* Runs `consensus byz`. Collective. Returns the exit status. */
int byz_main(MPI_Comm comm, const cs_config *cfg);

#endif
