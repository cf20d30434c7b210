/* mngen: text from a trained GPT (docs/generate.md).
 *
 *   mngen SNAPSHOT.h5|DIR [--prompt TEXT] [--tokens N] [--temperature T] [--top-k K]
 *         [--seed S] [--vocab FILE] [--ids]
 *
 * It rebuilds the model a snapshot was trained with (a gpt; the config the snapshot
 * carries), on the CPU in one process, and continues the prompt one token at a time: the
 * logits of the last position of the window of the last `context` tokens, divided by the
 * temperature, cut to the top K, softmax, one draw from the random stream of the seed
 * (temperature 0: the most likely token). The same snapshot, prompt and seed give the same
 * text.
 *
 * Tokens and text. A byte-level model (vocabulary 256, mnprep text's) reads the prompt's
 * bytes and prints bytes: text. Any other vocabulary (GPT-2's BPE) reads the prompt as token
 * ids ("15496 11 995", commas or spaces) and prints ids, or text with --vocab FILE, llm.c's
 * tokenizer file (gpt2_tokenizer.bin: magic 20240328, each token's bytes), whose
 * end-of-text token also starts an empty prompt. The program writes nothing but standard
 * output. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mn_config.h"
#include "mn_log.h"
#include "mn_model.h"
#include "mn_rng.h"
#include "mn_snapshot.h"
#include "mn_status.h"
#include "mn_suggest.h"
#include "mn_trainstate.h"

#define LLMC_TOKENIZER_MAGIC 20240328
#define BYTE_VOCAB 256

static const char usage_text[] =
    "usage: mngen [--prompt TEXT] [--tokens N] [--temperature T] [--top-k K] [--seed S]\n"
    "             [--vocab FILE] [--ids] SNAPSHOT.h5|DIR\n"
    "\n"
    "Continue a prompt with the GPT of an mn snapshot (docs/generate.md), on the CPU. DIR\n"
    "means its newest valid snapshot.\n"
    "  --prompt TEXT      the start: text for a byte-level model (vocabulary 256), token\n"
    "                     ids (\"15496 11 995\") for any other; default: empty (a byte\n"
    "                     model starts from a newline, a BPE model from --vocab's end of\n"
    "                     text)\n"
    "  --tokens N         tokens to generate (default 256)\n"
    "  --temperature T    divides the logits (default 1.0); 0: always the most likely\n"
    "  --top-k K          draw among the K most likely only (default 0: all)\n"
    "  --seed S           the random stream of the draws (default 1)\n"
    "  --vocab FILE       llm.c's tokenizer file (gpt2_tokenizer.bin): print text, not ids\n"
    "  --ids              print token ids even for a byte-level model\n"
    "  -V, --version      print \"mngen VERSION\" and exit\n"
    "  -h, --help         this text\n"
    "\n"
    "Exit codes: 0 done, 64 usage, 65 not a gpt snapshot or a bad vocabulary file, 66 missing\n"
    "file or no snapshot.\n";

typedef struct opts {
  const char *snapshot, *prompt, *vocab;
  int ntokens, top_k, ids;
  double temperature;
  uint64_t seed;
} opts_t;

/* llm.c's tokenizer: each token's bytes. */
typedef struct vocab {
  int n, eot; /* eot -1: none */
  char **text;
  unsigned char *len;
} vocab_t;

static void vocab_free(vocab_t *v) {
  for (int i = 0; v->text && i < v->n; i++) free(v->text[i]);
  free(v->text);
  free(v->len);
  memset(v, 0, sizeof *v);
}

static mn_status_t vocab_read(const char *path, int model_vocab, vocab_t *v) {
  memset(v, 0, sizeof *v);
  v->eot = -1;
  FILE *f = fopen(path, "rb");
  if (!f) return mn_error(errno == ENOENT ? MN_ERR_NOINPUT : MN_ERR_IO, "%s: %s", path,
                          strerror(errno));
  uint32_t h[256];
  mn_status_t st = MN_OK;
  if (fread(h, sizeof h, 1, f) != 1 || h[0] != LLMC_TOKENIZER_MAGIC)
    st = mn_error(MN_ERR_DATA, "%s: not an llm.c tokenizer file (magic %u, expected %d)", path,
                  h[0], LLMC_TOKENIZER_MAGIC);
  else if (h[1] != 1 && h[1] != 2)
    st = mn_error(MN_ERR_DATA, "%s: tokenizer version %u, expected 1 or 2", path, h[1]);
  else if ((int64_t)h[2] != model_vocab)
    st = mn_error(MN_ERR_DATA, "%s: %u tokens, the model has a vocabulary of %d", path, h[2],
                  model_vocab);
  if (st == MN_OK) {
    v->n = (int)h[2];
    v->eot = h[1] == 2 ? (int)h[3] : -1;
    v->text = calloc((size_t)v->n, sizeof *v->text);
    v->len = calloc((size_t)v->n, 1);
    if (!v->text || !v->len) st = mn_error(MN_ERR_NOMEM, "out of memory");
  }
  for (int i = 0; st == MN_OK && i < v->n; i++) {
    int c = fgetc(f);
    v->len[i] = (unsigned char)c;
    if (c == EOF || !(v->text[i] = malloc((size_t)c + 1)) ||
        fread(v->text[i], 1, (size_t)c, f) != (size_t)c)
      st = mn_error(MN_ERR_DATA, "%s: ends inside token %d of %d", path, i, v->n);
  }
  fclose(f);
  if (st != MN_OK) vocab_free(v);
  return st;
}

/* The prompt's tokens: bytes, or ids in [0, vocab). out: *tok (malloc'd), *n. */
static mn_status_t prompt_tokens(const opts_t *o, int vocab, const vocab_t *v, int32_t **tok,
                                 int *n) {
  size_t len = strlen(o->prompt);
  *tok = malloc(sizeof **tok * (len + 1));
  *n = 0;
  if (!*tok) return mn_error(MN_ERR_NOMEM, "out of memory");
  if (vocab == BYTE_VOCAB) {
    for (size_t i = 0; i < len; i++) (*tok)[(*n)++] = (unsigned char)o->prompt[i];
    if (*n == 0) (*tok)[(*n)++] = '\n';
    return MN_OK;
  }
  for (const char *p = o->prompt; *p;) {
    while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n') p++;
    if (!*p) break;
    char *end;
    errno = 0;
    long id = strtol(p, &end, 10);
    if (end == p || errno || id < 0 || id >= vocab)
      return mn_error(MN_ERR_USAGE,
                      "--prompt: '%.20s' is not a token id in [0, %d) (a model of vocabulary %d "
                      "reads ids, not text)",
                      p, vocab, vocab);
    (*tok)[(*n)++] = (int32_t)id;
    p = end;
  }
  if (*n == 0) {
    if (!v->text || v->eot < 0)
      return mn_error(MN_ERR_USAGE, "an empty --prompt needs --vocab with an end-of-text token "
                                    "(llm.c's tokenizer version 2), or give token ids");
    (*tok)[(*n)++] = v->eot;
  }
  return MN_OK;
}

static void print_token(const opts_t *o, int vocab, const vocab_t *v, int32_t t, int first) {
  if (vocab == BYTE_VOCAB && !o->ids)
    putchar(t);
  else if (v->text && !o->ids)
    fwrite(v->text[t], 1, v->len[t], stdout);
  else
    printf("%s%d", first ? "" : " ", t);
  fflush(stdout);
}

/* One draw from logits[0, V) (the order fixed: ties to the lower id). work: [V] doubles
 * and [V] ints of scratch. */
static int32_t sample(const float *logits, int V, const opts_t *o, mn_rng_t *rng, double *p,
                      int *idx) {
  int best = 0;
  for (int i = 1; i < V; i++)
    if (logits[i] > logits[best]) best = i;
  if (o->temperature <= 0) return best;
  int k = o->top_k > 0 && o->top_k < V ? o->top_k : V;
  for (int i = 0; i < V; i++) idx[i] = i;
  /* the k largest first (partial selection; k is small or V) */
  for (int i = 0; i < k && k < V; i++) {
    int m = i;
    for (int j = i + 1; j < V; j++)
      if (logits[idx[j]] > logits[idx[m]]) m = j;
    int t = idx[i];
    idx[i] = idx[m];
    idx[m] = t;
  }
  double sum = 0, top = logits[best];
  for (int i = 0; i < k; i++) sum += p[i] = exp(((double)logits[idx[i]] - top) / o->temperature);
  double u = mn_rng_uniform(rng) * sum;
  for (int i = 0; i < k; i++) {
    if (u < p[i]) return idx[i];
    u -= p[i];
  }
  return idx[k - 1];
}

static mn_status_t generate(const opts_t *o) {
  char path[4096];
  mn_snapshot_meta_t meta;
  memset(&meta, 0, sizeof meta);
  mn_config_t *cfg = calloc(1, sizeof *cfg);
  mn_model_t m;
  memset(&m, 0, sizeof m);
  vocab_t v = {0};
  int32_t *tok = NULL, *win = NULL;
  double *p = NULL;
  int *idx = NULL, n = 0;
  mn_status_t st = cfg ? MN_OK : mn_error(MN_ERR_NOMEM, "out of memory");
  if (st == MN_OK) st = mn_snapshot_find(o->snapshot, path, sizeof path);
  if (st == MN_OK) st = mn_snapshot_read_meta(path, &meta);
  if (st == MN_OK) st = mn_trainstate_load_model(path, &meta, NULL, 0, 1, cfg, &m);
  if (st == MN_OK && !m.spec.tokens) {
    st = mn_error(MN_ERR_DATA, "%s: a model of type %s; mngen continues a gpt's text", path,
                  m.spec.type);
  }
  int V = m.classes, T = m.spec.seq;
  if (st == MN_OK && o->vocab) st = vocab_read(o->vocab, V, &v);
  if (st == MN_OK) st = prompt_tokens(o, V, &v, &tok, &n);
  if (st == MN_OK) {
    int32_t *grown = realloc(tok, sizeof *tok * ((size_t)n + (size_t)o->ntokens));
    win = calloc((size_t)T, sizeof *win);
    p = malloc(sizeof *p * (size_t)V);
    idx = malloc(sizeof *idx * (size_t)V);
    if (grown) tok = grown;
    if (!grown || !win || !p || !idx) st = mn_error(MN_ERR_NOMEM, "out of memory");
  }
  if (st == MN_OK) {
    mn_rng_t rng;
    mn_rng_seed(&rng, o->seed, 0, 0);
    for (int i = 0; i < n; i++) print_token(o, V, &v, tok[i], i == 0);
    for (int g = 0; g < o->ntokens; g++) {
      /* the window of the last T tokens; positions after it are causally invisible */
      int start = n > T ? n - T : 0, len = n - start;
      memcpy(win, tok + start, sizeof *win * (size_t)len);
      mn_model_forward(&m, win, 1);
      const float *logits = mn_model_logits(&m) + (size_t)(len - 1) * (size_t)m.width;
      tok[n] = sample(logits, V, o, &rng, p, idx);
      print_token(o, V, &v, tok[n], 0);
      n++;
    }
    putchar('\n');
  }
  free(tok);
  free(win);
  free(p);
  free(idx);
  vocab_free(&v);
  if (m.k) mn_model_free(&m);
  free(cfg);
  mn_snapshot_meta_free(&meta);
  return st;
}

static int parse_number(const char *name, const char *text, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double x = strtod(text, &end);
  if (end == text || *end || errno || !(x >= lo && x <= hi)) {
    mn_log_error("%s: '%s' is not a number in [%g, %g] (see --help)", name, text, lo, hi);
    return -1;
  }
  *out = x;
  return 0;
}

/* An integer option: decimal digits only (no sign, fraction or exponent), in [lo, hi]. A
 * count or a seed read as a double would take "2.5" as 2 and "1e3" as 1000 for the range
 * and then 1 (strtoull stops at the "e"). */
static int parse_integer(const char *name, const char *text, uint64_t lo, uint64_t hi,
                         uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long x = strtoull(text, &end, 10);
  if (!isdigit((unsigned char)text[0]) || *end || errno || x < lo || x > hi) {
    mn_log_error("%s: '%s' is not an integer in [%" PRIu64 ", %" PRIu64 "] (see --help)", name,
                 text, lo, hi);
    return -1;
  }
  *out = (uint64_t)x;
  return 0;
}

int main(int argc, char **argv) {
  static const struct option options[] = {
      {"prompt", required_argument, NULL, 'p'},
      {"tokens", required_argument, NULL, 'n'},
      {"temperature", required_argument, NULL, 't'},
      {"top-k", required_argument, NULL, 'k'},
      {"seed", required_argument, NULL, 's'},
      {"vocab", required_argument, NULL, 'v'},
      {"ids", no_argument, NULL, 'i'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0},
  };
  opts_t o = {NULL, "", NULL, 256, 0, 0, 1.0, 1};
  mn_log_init("mngen", -1, NULL);
  opterr = 0;
  int c;
  uint64_t x;
  while ((c = getopt_long(argc, argv, "hV", options, NULL)) != -1) {
    switch (c) {
    case 'p': o.prompt = optarg; break;
    case 'n':
      if (parse_integer("--tokens", optarg, 0, 1000000000, &x)) return MN_EXIT_USAGE;
      o.ntokens = (int)x;
      break;
    case 't':
      if (parse_number("--temperature", optarg, 0, 1e6, &o.temperature)) return MN_EXIT_USAGE;
      break;
    case 'k':
      if (parse_integer("--top-k", optarg, 0, 1000000000, &x)) return MN_EXIT_USAGE;
      o.top_k = (int)x;
      break;
    case 's':
      if (parse_integer("--seed", optarg, 0, UINT64_MAX, &o.seed)) return MN_EXIT_USAGE;
      break;
    case 'v': o.vocab = optarg; break;
    case 'i': o.ids = 1; break;
    case 'h': fputs(usage_text, stdout); return MN_EXIT_OK;
    case 'V': printf("mngen %s\n", MN_VERSION); return MN_EXIT_OK;
    default: {
      char msg[256];
      mn_log_error("%s (see --help)",
                   mn_suggest_unknown_option(argv[optind - 1], options, msg, sizeof msg));
      return MN_EXIT_USAGE;
    }
    }
  }
  if (argc - optind != 1) {
    mn_log_error("give one snapshot file or directory (see --help)");
    return MN_EXIT_USAGE;
  }
  o.snapshot = argv[optind];
  mn_status_t st = generate(&o);
  if (st != MN_OK) mn_log_error("%s", mn_error_message());
  return mn_status_exit_code(st);
}
