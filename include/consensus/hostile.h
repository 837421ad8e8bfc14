/* Hostile messages: malformed frames of every kind the runtime's decoder must refuse, for tests of Byzantine input. */
#ifndef CONSENSUS_HOSTILE_H
#define CONSENSUS_HOSTILE_H

#include <stdint.h>

#include "consensus/node.h"

typedef enum hostile_kind {
  HOSTILE_RANDOM_BYTES = 0, /* random bytes, never starting with the magic */
  HOSTILE_HUGE_LENGTH,      /* a header that claims a payload of almost 4 GiB */
  HOSTILE_TRUNCATED,        /* a valid data frame cut in the middle of its clock */
  HOSTILE_FOREIGN_TAG,      /* a message on an MPI tag the runtime does not use */
  HOSTILE_BAD_ROUND,        /* a round marker out of sequence */
  HOSTILE_BAD_CLOCK,        /* a data frame whose sender entry of the clock is 0 */
  HOSTILE_KIND_COUNT
} hostile_kind;

/* Sends `to` one malformed message of kind h % HOSTILE_KIND_COUNT, its bytes drawn from h.
 * None is a valid event: the receiver's runtime rejects and counts every one. No event here.
 * Returns 0 or an error from node_send_raw. */
int hostile_send(node *nd, int to, uint64_t h);

/* The kind's name ("random-bytes", …). */
const char *hostile_kind_name(hostile_kind k);

#endif
