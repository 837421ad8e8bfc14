/* Replays corpus files through a fuzz target without libFuzzer, so the corpus is a regression test under gcc or ASan. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feeds one file to the target; returns 1 if it was read, 0 if not. */
static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cannot read %s\n", path);
    return 0;
  }
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      cap = cap ? 2 * cap : 4096;
      uint8_t *b = realloc(buf, cap);
      if (!b) abort();
      buf = b;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) break;
  }
  fclose(f);
  /* an exact-size copy, so ASan sees any read past the end */
  uint8_t *exact = malloc(len ? len : 1);
  if (!exact) abort();
  if (len) memcpy(exact, buf, len);
  free(buf);
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  return 1;
}

/* Usage: driver DIR_OR_FILE...; every regular file in a directory is one input. Exits 1 if an
 * argument cannot be read or a directory holds no input; the target aborts on a broken invariant. */
int main(int argc, char **argv) {
  long inputs = 0;
  for (int k = 1; k < argc; k++) {
    struct stat st;
    if (stat(argv[k], &st) != 0) {
      fprintf(stderr, "cannot read %s\n", argv[k]);
      return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
      if (!run_file(argv[k])) return 1;
      inputs++;
      continue;
    }
    DIR *d = opendir(argv[k]);
    if (!d) return 1;
    for (struct dirent *e; (e = readdir(d));) {
      char path[4096];
      if (e->d_name[0] == '.') continue;
      snprintf(path, sizeof path, "%s/%s", argv[k], e->d_name);
      if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
      if (!run_file(path)) return 1;
      inputs++;
    }
    closedir(d);
  }
  printf("%ld inputs passed\n", inputs);
  return inputs > 0 ? 0 : 1;
}
