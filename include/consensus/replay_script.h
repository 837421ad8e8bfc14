/* Replay scripts: the pure parser of "C->B" / "A->B,C" / "B:internal" lines, free of MPI. */
#ifndef CONSENSUS_REPLAY_SCRIPT_H
#define CONSENSUS_REPLAY_SCRIPT_H

#include <stddef.h>

#define REPLAY_MAX_SCRIPT_BYTES (16u * 1024u * 1024u)

typedef enum replay_step_kind { REPLAY_SEND = 0, REPLAY_INTERNAL = 1 } replay_step_kind;

typedef struct replay_step {
  int line;       /* 1-based line number in the script */
  replay_step_kind kind;
  int src;        /* the acting rank */
  int n_dsts;     /* REPLAY_SEND: 1 (a send) or more (one multicast event) */
  int *dsts;
} replay_step;

typedef struct replay_script {
  replay_step *steps;
  int n_steps;
  int n_ranks_named;  /* highest rank named + 1 */
  int uses_letters;   /* print ranks as A, B, … (else as numbers) */
} replay_script;

/* Parses a script of `len` bytes (text need not be NUL-terminated): lines like "C->B", "A->B,C",
 * "B:internal", "# comment", with ranks named A..Z (a..z) or 0, 1, 2, …. The bytes must be text
 * (valid UTF-8 and no NUL byte anywhere); then checks syntax, self-sends, repeated destinations
 * and ranks >= n_ranks. Returns 0, or CS_ESCRIPT with "line N: …" in err. Pure: every rank gets
 * the same verdict. */
int replay_parse(const char *text, size_t len, int n_ranks, replay_script *out, char *err, size_t errcap);

/* Releases a parsed script's steps; safe on a zeroed script. */
void replay_free(replay_script *s);

/* Writes a rank's name ("A" or "3") into buf. */
void replay_rank_name(const replay_script *s, int rank, char *buf, size_t cap);

#endif
