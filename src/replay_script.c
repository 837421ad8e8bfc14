/* Parses replay scripts ("C->B", "A->B,C", "B:internal") into steps; pure, so fuzzers and every rank can call it. */
#include "consensus/replay_script.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/cs_error.h"

typedef struct cursor {
  const char *p;
  const char *end;
} cursor;

static void skip_space(cursor *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r')) c->p++;
}

/* A rank name: one letter (A..Z, case-insensitive) or a decimal number. Returns -1 if none,
 * -2 for a number too large. Sets *letter when a letter was used. */
static int parse_rank(cursor *c, int *letter, int *digits) {
  skip_space(c);
  if (c->p < c->end && isalpha((unsigned char)*c->p)) {
    int r = toupper((unsigned char)*c->p) - 'A';
    c->p++;
    if (c->p < c->end && isalnum((unsigned char)*c->p)) return -1; /* "AB" or "internal" */
    *letter = 1;
    return r;
  }
  if (c->p < c->end && isdigit((unsigned char)*c->p)) {
    long v = 0;
    while (c->p < c->end && isdigit((unsigned char)*c->p)) {
      v = v * 10 + (*c->p - '0');
      if (v > 1000000) return -2;
      c->p++;
    }
    *digits = 1;
    return (int)v;
  }
  return -1;
}

static int script_error(char *err, size_t cap, int line, const char *fmt, const char *detail) {
  char msg[256];
  snprintf(msg, sizeof msg, fmt, detail);
  snprintf(err, cap, "line %d: %s", line, msg);
  return CS_ESCRIPT;
}

static int add_step(replay_script *s, const replay_step *step) {
  replay_step *a = realloc(s->steps, (size_t)(s->n_steps + 1) * sizeof *a);
  if (!a) return CS_ENOMEM;
  s->steps = a;
  s->steps[s->n_steps++] = *step;
  return 0;
}

void replay_rank_name(const replay_script *s, int rank, char *buf, size_t cap) {
  if (s->uses_letters && rank < 26) snprintf(buf, cap, "%c", 'A' + rank);
  else snprintf(buf, cap, "%d", rank);
}

/* "unknown rank X: the run has N ranks (up to Y)" for line `line`. */
static int unknown_rank(char *err, size_t cap, int line, int letters, int rank, int n_ranks) {
  replay_script style = {.uses_letters = letters};
  char name[32], last[32], detail[160];
  replay_rank_name(&style, rank, name, sizeof name);
  replay_rank_name(&style, n_ranks - 1, last, sizeof last);
  snprintf(detail, sizeof detail, "unknown rank %s: the run has %d ranks (up to %s)", name, n_ranks, last);
  return script_error(err, cap, line, "%s", detail);
}

/* One line, in steps: 1. cut the comment; 2. blank → nothing; 3. SRC; 4. ":internal" or
 * "->" DST {"," DST}; 5. nothing may follow; 6. ranks exist, no self-send, no repeats, one
 * naming style (letters or numbers). *style is 1 for letters, 2 for numbers, 0 for a blank line. */
static int parse_line(replay_script *s, int line, cursor c, int n_ranks, int *style, char *err, size_t cap) {
  const char *hash = memchr(c.p, '#', (size_t)(c.end - c.p));
  if (hash) c.end = hash;
  *style = 0;
  skip_space(&c);
  if (c.p == c.end) return 0;
  int letter = 0, digits = 0;
  replay_step step = {.line = line};
  int src = parse_rank(&c, &letter, &digits);
  if (src < 0) return script_error(err, cap, line, "expected a rank (A, B, … or 0, 1, …) at the start%s", "");
  if (src >= n_ranks) return unknown_rank(err, cap, line, letter, src, n_ranks);
  step.src = src;
  skip_space(&c);
  if (c.p < c.end && *c.p == ':') {
    c.p++;
    skip_space(&c);
    const char *word = c.p;
    while (c.p < c.end && isalpha((unsigned char)*c.p)) c.p++;
    if ((size_t)(c.p - word) != 8 || strncmp(word, "internal", 8) != 0)
      return script_error(err, cap, line, "expected 'internal' after ':'%s", "");
    step.kind = REPLAY_INTERNAL;
  } else if (c.end - c.p >= 2 && c.p[0] == '-' && c.p[1] == '>') {
    c.p += 2;
    step.kind = REPLAY_SEND;
    if (!(step.dsts = malloc((size_t)n_ranks * sizeof *step.dsts))) return CS_ENOMEM;
    for (;;) {
      int rc = 0, d = parse_rank(&c, &letter, &digits);
      replay_script named = {.uses_letters = letter};
      char name[32];
      replay_rank_name(&named, d, name, sizeof name);
      if (d < 0) rc = script_error(err, cap, line, "expected a destination rank after '->' or ','%s", "");
      else if (d >= n_ranks) rc = unknown_rank(err, cap, line, letter, d, n_ranks);
      else if (d == src) rc = script_error(err, cap, line, "%s sends to itself", name);
      for (int k = 0; !rc && k < step.n_dsts; k++)
        if (step.dsts[k] == d) rc = script_error(err, cap, line, "%s is named twice as a destination", name);
      if (rc) {
        free(step.dsts);
        return rc;
      }
      step.dsts[step.n_dsts++] = d;
      skip_space(&c);
      if (c.p < c.end && *c.p == ',') {
        c.p++;
        continue;
      }
      break;
    }
  } else {
    return script_error(err, cap, line, "expected '->' or ':internal' after the first rank%s", "");
  }
  skip_space(&c);
  int rc = 0;
  if (c.p != c.end) {
    /* quote at most 40 bytes of this line only, control bytes shown as '?', so the message
     * stays one line whatever the script holds */
    char rest[41];
    size_t k = 0;
    for (; k < sizeof rest - 1 && c.p + k < c.end; k++)
      rest[k] = isprint((unsigned char)c.p[k]) ? c.p[k] : '?';
    rest[k] = '\0';
    rc = script_error(err, cap, line, "unexpected text after the step: '%s'", rest);
  } else if (letter && digits) rc = script_error(err, cap, line, "mixes letters and numbers as rank names%s", "");
  if (!rc) {
    *style = letter ? 1 : 2;
    for (int k = 0; k < step.n_dsts; k++)
      if (step.dsts[k] + 1 > s->n_ranks_named) s->n_ranks_named = step.dsts[k] + 1;
    if (src + 1 > s->n_ranks_named) s->n_ranks_named = src + 1;
    rc = add_step(s, &step);
  }
  if (rc) free(step.dsts);
  return rc;
}

/* The length of the UTF-8 sequence at p (at most `left` bytes), or 0 if it is not valid UTF-8
 * (a stray continuation byte, a sequence cut short, an overlong form, a surrogate, or a code
 * point above U+10FFFF). */
static size_t utf8_sequence(const unsigned char *p, size_t left) {
  unsigned c = p[0];
  size_t len;
  unsigned min, cp;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) len = 2, min = 0x80, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) len = 3, min = 0x800, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4) len = 4, min = 0x10000, cp = c & 0x07;
  else return 0;
  if (len > left) return 0;
  for (size_t k = 1; k < len; k++) {
    if ((p[k] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[k] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

/* A script is text: no NUL byte (which used to end the script silently where it stood, so
 * "A->B<NUL>junk" ran one step and said complete) and valid UTF-8 throughout, comments included.
 * Returns 0, or CS_ESCRIPT with "line N: ..." in err. */
static int check_text(const char *text, size_t len, char *err, size_t cap) {
  const unsigned char *p = (const unsigned char *)text;
  int line = 1;
  for (size_t k = 0; k < len;) {
    if (p[k] == '\0') {
      snprintf(err, cap, "line %d: a NUL byte (at byte %zu): a replay script must be text", line, k + 1);
      return CS_ESCRIPT;
    }
    size_t n = utf8_sequence(p + k, len - k);
    if (n == 0) {
      snprintf(err, cap, "line %d: byte %zu (0x%02X) is not valid UTF-8 text", line, k + 1, p[k]);
      return CS_ESCRIPT;
    }
    if (p[k] == '\n') line++;
    k += n;
  }
  return 0;
}

int replay_parse(const char *text, size_t len, int n_ranks, replay_script *out, char *err, size_t errcap) {
  memset(out, 0, sizeof *out);
  int line = 1, rc = 0, first_style = 0;
  if ((rc = check_text(text, len, err, errcap))) return rc;
  const char *end = text + len;
  for (const char *p = text;; line++) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    cursor c = {p, nl ? nl : end};
    int style = 0;
    if ((rc = parse_line(out, line, c, n_ranks, &style, err, errcap))) break;
    if (style && !first_style) first_style = style;
    if (style && style != first_style) {
      rc = script_error(err, errcap, line, "names ranks differently from the lines before (letters vs numbers)%s", "");
      break;
    }
    if (!nl) break;
    p = nl + 1;
  }
  out->uses_letters = first_style == 1;
  if (!rc && out->n_steps == 0) {
    snprintf(err, errcap, "the script has no steps (lines like C->B, A->B,C or B:internal)");
    rc = CS_ESCRIPT;
  }
  if (!rc && out->n_ranks_named != n_ranks) {
    char last[32];
    replay_rank_name(out, out->n_ranks_named - 1, last, sizeof last);
    snprintf(err, errcap, "the script names %d ranks (up to %s) but the run has %d: use mpirun -np %d",
             out->n_ranks_named, last, n_ranks, out->n_ranks_named);
    rc = CS_ESCRIPT;
  }
  if (rc) replay_free(out);
  return rc;
}

void replay_free(replay_script *s) {
  for (int k = 0; k < s->n_steps; k++) free(s->steps[k].dsts);
  free(s->steps);
  memset(s, 0, sizeof *s);
}
