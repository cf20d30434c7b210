/* prep_text.c: `mnprep text`: text files to a byte-level token dataset (docs/data.md).
 *
 * The tokenizer is the identity on bytes (vocabulary 256, token = byte value, tokenizer
 * "byte"): self-contained, any encoding, nothing to download. The files (paths or globs,
 * expanded and sorted by inputs_expand) are read in order, each streamed in blocks; the
 * last round(n * F) bytes of each file (n its size) go to PREFIX-val.h5 and the rest to
 * PREFIX-train.h5, each output the concatenation of its parts in file order. Holding out the
 * end of every file keeps each file's text on both sides (a set of license texts validates
 * on every license, not on the few that sort last) without splitting text mid-sentence more
 * than once per file. No randomness: the same inputs give the same bytes out. Both outputs
 * are atomic (prep_out.c). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "prep.h"

#define TEXT_BLOCK (1 << 20) /* bytes read (and tokens appended) at a time */

/* Stream file path into train (its first ntrain bytes) and val (the rest). out: *nbytes. */
static mn_status_t text_file(const char *path, double frac, out_file_t *train, out_file_t *val,
                             unsigned char *buf, int32_t *toks, int64_t *nbytes) {
  FILE *f = fopen(path, "rb");
  if (!f) return mn_error(MN_ERR_NOINPUT, "%s: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0) {
    fclose(f);
    return mn_error(MN_ERR_NOINPUT, "%s: %s", path, strerror(errno));
  }
  int64_t n = (int64_t)sb.st_size, nval = (int64_t)llround((double)n * frac);
  int64_t ntrain = n - nval, done = 0;
  mn_status_t st = MN_OK;
  size_t got;
  while (st == MN_OK && (got = fread(buf, 1, TEXT_BLOCK, f)) > 0) {
    for (size_t i = 0; i < got; i++) toks[i] = buf[i];
    int64_t to_train = ntrain - done;
    if (to_train < 0) to_train = 0;
    if (to_train > (int64_t)got) to_train = (int64_t)got;
    st = out_append_tokens(train, toks, to_train);
    if (st == MN_OK && val) st = out_append_tokens(val, toks + to_train, (int64_t)got - to_train);
    done += (int64_t)got;
  }
  if (st == MN_OK && ferror(f))
    st = mn_error(MN_ERR_DATA, "%s: cannot read: %s", path, strerror(errno));
  if (st == MN_OK && done != n)
    st = mn_error(MN_ERR_DATA, "%s: changed while read (%lld bytes, %lld expected)", path,
                  (long long)done, (long long)n);
  fclose(f);
  *nbytes = done;
  return st;
}

mn_status_t text_main(int argc, char **argv) {
  static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                       {"val-fraction", required_argument, NULL, 'f'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *prefix = NULL;
  double frac = 0.1;
  char *end;
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'o': prefix = optarg; break;
    case 'f':
      frac = strtod(optarg, &end);
      if (end == optarg || *end || !(frac >= 0 && frac < 1))
        return mn_error(MN_ERR_USAGE, "--val-fraction: '%s' is not a number in [0, 1)", optarg);
      break;
    case 'h': fputs(prep_usage_text, stdout); exit(0);
    default: return prep_bad_option(argv[optind - 1], opts);
    }
  }
  if (!prefix) return mn_error(MN_ERR_USAGE, "text: --out PREFIX is required");
  inputs_t in;
  mn_status_t st = inputs_expand(argv + optind, argc - optind, &in);
  if (st != MN_OK) return st;
  out_file_t outs[2];
  out_init(&outs[0]);
  out_init(&outs[1]);
  int nout = frac > 0 ? 2 : 1;
  char path[PATH_MAX];
  unsigned char *buf = malloc(TEXT_BLOCK);
  int32_t *toks = malloc(TEXT_BLOCK * sizeof *toks);
  if (!buf || !toks) st = mn_error(MN_ERR_NOMEM, "out of memory");
  const char *names[2] = {"train", "val"};
  for (int i = 0; i < nout && st == MN_OK; i++) {
    snprintf(path, sizeof path, "%s-%s.h5", prefix, names[i]);
    st = out_open_tokens(&outs[i], path, 256);
    if (st == MN_OK) st = out_tokenizer(&outs[i], "byte");
  }
  int64_t total = 0, nbytes = 0;
  for (int i = 0; i < in.n && st == MN_OK; i++) {
    st = text_file(in.paths[i], frac, &outs[0], nout > 1 ? &outs[1] : NULL, buf, toks, &nbytes);
    total += nbytes;
  }
  if (st == MN_OK && outs[0].rows < 2)
    st = mn_error(MN_ERR_DATA, "%s: %lld training tokens: too little text to train on", in.paths[0],
                  (long long)outs[0].rows);
  if (st == MN_OK) st = outs_commit(outs, nout);
  if (st == MN_OK) {
    printf("wrote %s (%lld tokens)", outs[0].path, (long long)outs[0].rows);
    if (nout > 1) printf(" and %s (%lld tokens)", outs[1].path, (long long)outs[1].rows);
    printf(" from %d file%s, %lld bytes, byte-level tokenizer (vocab_size 256)\n", in.n,
           in.n == 1 ? "" : "s", (long long)total);
  }
  for (int i = 0; i < 2; i++) out_abort(&outs[i]);
  free(buf);
  free(toks);
  inputs_free(&in);
  return st;
}
