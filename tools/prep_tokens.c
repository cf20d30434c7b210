/* prep_tokens.c: `mnprep tokens`: llm.c token shards (.bin) to a token dataset (docs/data.md).
 *
 * An llm.c shard (dev/data/data_common.py) is a header of 256 little-endian int32 (magic
 * 20240520, version 1, the number of tokens n, the rest unused) followed by n little-endian
 * uint16 GPT-2 BPE tokens. Every shard named (paths or globs, in the order given; a glob
 * sorted) is checked whole (magic, version, the file's length against n, every token below
 * --vocab) and appended to one output, /tokens uint16 with vocab_size = --vocab and
 * tokenizer "gpt2"; an error names the file and the token's position (and byte offset).
 * Nothing is written under the output's name unless every shard converts (prep_out.c). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "prep.h"

#define LLMC_MAGIC 20240520
#define LLMC_VERSION 1
#define LLMC_HEADER_BYTES (256 * 4)
#define GPT2_VOCAB 50257
#define TOKENS_BLOCK (1 << 20) /* tokens read at a time */

static int32_t le32(const unsigned char *b) {
  return (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                   (uint32_t)b[3] << 24);
}

/* One shard appended to o. out: *ntokens. */
static mn_status_t bin_file(const char *path, int vocab, out_file_t *o, unsigned char *buf,
                            int32_t *toks, int64_t *ntokens) {
  FILE *f = fopen(path, "rb");
  if (!f) return mn_error(MN_ERR_NOINPUT, "%s: %s", path, strerror(errno));
  mn_status_t st = MN_OK;
  struct stat sb;
  unsigned char h[LLMC_HEADER_BYTES];
  if (fstat(fileno(f), &sb) != 0) {
    st = mn_error(MN_ERR_NOINPUT, "%s: %s", path, strerror(errno));
    goto done;
  }
  if (fread(h, 1, sizeof h, f) != sizeof h) {
    st = mn_error(MN_ERR_DATA,
                  "%s: %lld bytes, shorter than the %d-byte header of an llm.c token "
                  "file",
                  path, (long long)sb.st_size, LLMC_HEADER_BYTES);
    goto done;
  }
  if (le32(h) != LLMC_MAGIC) {
    st = mn_error(MN_ERR_DATA, "%s: not an llm.c token file: magic %d, expected %d", path,
                  (int)le32(h), LLMC_MAGIC);
    goto done;
  }
  if (le32(h + 4) != LLMC_VERSION) {
    st = mn_error(MN_ERR_DATA, "%s: unknown llm.c token file version %d (mnprep reads version %d)",
                  path, (int)le32(h + 4), LLMC_VERSION);
    goto done;
  }
  int64_t n = le32(h + 8), want = LLMC_HEADER_BYTES + 2 * n;
  if (n < 0) {
    st = mn_error(MN_ERR_DATA, "%s: header: %lld tokens", path, (long long)n);
    goto done;
  }
  if ((int64_t)sb.st_size != want) {
    st = mn_error(MN_ERR_DATA,
                  "%s: %s than its header says: %lld tokens need %lld bytes, the file "
                  "has %lld",
                  path, (int64_t)sb.st_size < want ? "shorter" : "longer", (long long)n,
                  (long long)want, (long long)sb.st_size);
    goto done;
  }
  for (int64_t pos = 0; pos < n && st == MN_OK;) {
    size_t k = n - pos < TOKENS_BLOCK ? (size_t)(n - pos) : TOKENS_BLOCK;
    if (fread(buf, 2, k, f) != k) {
      st = mn_error(MN_ERR_DATA, "%s: cannot read token %lld: %s", path, (long long)pos,
                    ferror(f) ? strerror(errno) : "the file ended (changed while read?)");
      break;
    }
    for (size_t i = 0; i < k && st == MN_OK; i++) {
      toks[i] = (int32_t)(buf[2 * i] | buf[2 * i + 1] << 8);
      if (toks[i] >= vocab)
        st = mn_error(MN_ERR_DATA,
                      "%s: token %lld (byte offset %lld) = %d is outside [0, %d) "
                      "(--vocab)",
                      path, (long long)(pos + (int64_t)i),
                      (long long)(LLMC_HEADER_BYTES + 2 * (pos + (int64_t)i)), (int)toks[i], vocab);
    }
    if (st == MN_OK) st = out_append_tokens(o, toks, (int64_t)k);
    pos += (int64_t)k;
  }
  *ntokens = n;
done:
  fclose(f);
  return st;
}

mn_status_t tokens_main(int argc, char **argv) {
  static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                       {"vocab", required_argument, NULL, 'v'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *out = NULL;
  int vocab = GPT2_VOCAB, c;
  mn_status_t st = MN_OK;
  while (st == MN_OK && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'o': out = optarg; break;
    case 'v': st = parse_int("vocab", optarg, 1, 65536, &vocab); break;
    case 'h': fputs(prep_usage_text, stdout); exit(0);
    default: return prep_bad_option(argv[optind - 1], opts);
    }
  }
  if (st != MN_OK) return st;
  if (!out) return mn_error(MN_ERR_USAGE, "tokens: --out FILE.h5 is required");
  inputs_t in;
  st = inputs_expand(argv + optind, argc - optind, &in);
  if (st != MN_OK) return st;
  out_file_t o;
  out_init(&o);
  unsigned char *buf = malloc(2 * (size_t)TOKENS_BLOCK);
  int32_t *toks = malloc(TOKENS_BLOCK * sizeof *toks);
  st = buf && toks ? out_open_tokens(&o, out, vocab) : mn_error(MN_ERR_NOMEM, "out of memory");
  if (st == MN_OK) st = out_tokenizer(&o, "gpt2");
  int64_t n = 0;
  for (int i = 0; i < in.n && st == MN_OK; i++)
    st = bin_file(in.paths[i], vocab, &o, buf, toks, &n);
  if (st == MN_OK) st = outs_commit(&o, 1);
  if (st == MN_OK)
    printf("wrote %s (%lld tokens) from %d llm.c file%s, tokenizer gpt2 (vocab_size %d)\n", o.path,
           (long long)o.rows, in.n, in.n == 1 ? "" : "s", vocab);
  out_abort(&o);
  free(buf);
  free(toks);
  inputs_free(&in);
  return st;
}
