/* llmc.c: GPT-2 parameters in llm.c's checkpoint format (mn_llmc.h).
 *
 * Both directions walk one plan: the file's parameters as a list of spans in file order,
 * each `count` floats of the file of which the first `copy` are an mn tensor's (the rest,
 * wte's padded rows or wpe's rows past the context, are skipped when reading and written 0).
 * The plan gives the expected file size too, so the size is checked before a byte of
 * parameters is read. The floats are read and written as they lie in memory: llm.c's
 * files are little-endian, as every machine mn builds for (checked at compile time). */
#include "mn_llmc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mn_log.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "llmc.c reads llm.c's little-endian files as they lie in memory"
#endif

#define HEADER_NBYTES ((int64_t)MN_LLMC_HEADER_INTS * (int64_t)sizeof(int32_t))

/* llm.c's parameter tensors in file order, by mn's name (a per-block one: "%d" the
 * block; its slices are stacked over the blocks in the file). */
static const struct {
  const char *llmc, *mn;
  int per_block;
} file_tensors[] = {
    {"wte", "wte.weight", 0},
    {"wpe", "wpe.weight", 0},
    {"ln1w", "h.%d.ln_1.weight", 1},
    {"ln1b", "h.%d.ln_1.bias", 1},
    {"qkvw", "h.%d.attn.c_attn.weight", 1},
    {"qkvb", "h.%d.attn.c_attn.bias", 1},
    {"attprojw", "h.%d.attn.c_proj.weight", 1},
    {"attprojb", "h.%d.attn.c_proj.bias", 1},
    {"ln2w", "h.%d.ln_2.weight", 1},
    {"ln2b", "h.%d.ln_2.bias", 1},
    {"fcw", "h.%d.mlp.c_fc.weight", 1},
    {"fcb", "h.%d.mlp.c_fc.bias", 1},
    {"fcprojw", "h.%d.mlp.c_proj.weight", 1},
    {"fcprojb", "h.%d.mlp.c_proj.bias", 1},
    {"lnfw", "ln_f.weight", 0},
    {"lnfb", "ln_f.bias", 0},
};
#define NFILE_TENSORS ((int)(sizeof file_tensors / sizeof file_tensors[0]))

/* The header's int32 slots. */
enum { H_MAGIC, H_VERSION, H_MAXT, H_VOCAB, H_LAYERS, H_HEADS, H_WIDTH, H_PADDED_VOCAB };

/* count floats of the file, the first `copy` of them at data (an mn tensor's). */
typedef struct span {
  float *data;
  int64_t copy, count;
} span_t;

/* ---- the model's shape and the plan ---------------------------------------------------- */

/* The GPT-2 shape of a built model: vocab and context from its spec, width from wte,
 * blocks and heads from its attention layers. */
static mn_status_t model_shape(const char *path, const mn_model_t *m, mn_gpt_shape_t *g) {
  if (strcmp(m->spec.type, "gpt"))
    return mn_error(MN_ERR_DATA,
                    "%s: an llm.c checkpoint holds a GPT-2, and this model is of type %s "
                    "(model.type = gpt reads it)",
                    path, m->spec.type);
  memset(g, 0, sizeof *g);
  g->vocab = m->spec.classes;
  g->context = m->spec.seq;
  for (int i = 0; i < m->spec.nlayers; i++)
    if (m->spec.layers[i].kind == &mn_layer_attention) {
      g->layers++;
      g->heads = (int)m->spec.layers[i].arg[0];
    }
  int wte = mn_tensors_find(&m->tensors, "wte.weight");
  if (wte < 0 || m->tensors.t[wte].ndims != 2)
    return mn_error(MN_ERR_INTERNAL, "%s: the gpt has no wte.weight [Vp, C]", path);
  g->width = (int)m->tensors.t[wte].dims[1];
  return MN_OK;
}

/* The spans of a file of file_vp rows of wte and file_maxt rows of wpe for model m of
 * shape g over params. out: spans[0, *n) (heap; the caller frees), *nbytes (the whole
 * file's size, header included). */
static mn_status_t plan(const char *path, const mn_model_t *m, const mn_gpt_shape_t *g,
                        int64_t file_vp, int64_t file_maxt, float *params, span_t **spans, int *n,
                        int64_t *nbytes) {
  int cap = NFILE_TENSORS * (g->layers > 1 ? g->layers : 1);
  span_t *s = calloc((size_t)cap, sizeof *s);
  if (!s) return mn_error(MN_ERR_NOMEM, "%s: out of memory", path);
  int k = 0;
  int64_t floats = 0, C = g->width;
  for (int f = 0; f < NFILE_TENSORS; f++)
    for (int b = 0; b < (file_tensors[f].per_block ? g->layers : 1); b++) {
      char name[MN_TENSOR_NAME_MAX];
      snprintf(name, sizeof name, file_tensors[f].mn, b);
      int i = mn_tensors_find(&m->tensors, name);
      if (i < 0) {
        free(s);
        return mn_error(MN_ERR_INTERNAL, "%s: the gpt has no tensor %s (llm.c's %s)", path, name,
                        file_tensors[f].llmc);
      }
      const mn_tensor_t *t = &m->tensors.t[i];
      s[k].data = params + t->offset;
      s[k].copy = s[k].count = t->count;
      if (f == 0) { /* wte: V rows of mn's, the file's padded to file_vp */
        s[k].copy = (int64_t)g->vocab * C;
        s[k].count = file_vp * C;
      } else if (f == 1) { /* wpe: the context's rows, the file's maxT */
        s[k].count = file_maxt * C;
      }
      floats += s[k++].count;
    }
  *spans = s;
  *n = k;
  *nbytes = HEADER_NBYTES + floats * (int64_t)sizeof(float);
  return MN_OK;
}

/* ---- reading --------------------------------------------------------------------------- */

int mn_llmc_detect(const char *path) {
  int32_t magic = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  int ok = fread(&magic, sizeof magic, 1, f) == 1 && magic == MN_LLMC_MAGIC;
  fclose(f);
  return ok;
}

/* One header value against the model's: MN_ERR_DATA naming the [model] key and both. */
static mn_status_t check_value(const char *path, const char *key, int32_t file, int model) {
  if (file == model) return MN_OK;
  return mn_error(MN_ERR_DATA,
                  "%s: the llm.c checkpoint has %s = %" PRId32 ", [model] %s = %d here", path, key,
                  file, key, model);
}

/* The header's checks against model shape g (the file's size, st_size, is checked after). */
static mn_status_t check_header(const char *path, const int32_t *h, const mn_gpt_shape_t *g) {
  if (h[H_MAGIC] != MN_LLMC_MAGIC)
    return mn_error(MN_ERR_DATA, "%s: not an llm.c checkpoint (magic %" PRId32 ", llm.c's is %d)",
                    path, h[H_MAGIC], MN_LLMC_MAGIC);
  if (h[H_VERSION] == MN_LLMC_VERSION_BF16)
    return mn_error(MN_ERR_DATA,
                    "%s: llm.c checkpoint version %d holds bfloat16 parameters; mn reads version "
                    "%d (float32): take the float32 file llm.c writes beside it "
                    "(gpt2_124M.bin, not gpt2_124M_bf16.bin)",
                    path, MN_LLMC_VERSION_BF16, MN_LLMC_VERSION_F32);
  if (h[H_VERSION] != MN_LLMC_VERSION_F32)
    return mn_error(MN_ERR_DATA, "%s: llm.c checkpoint version %" PRId32 "; mn reads version %d",
                    path, h[H_VERSION], MN_LLMC_VERSION_F32);
  mn_status_t st = check_value(path, "vocab", h[H_VOCAB], g->vocab);
  if (st == MN_OK) st = check_value(path, "layers", h[H_LAYERS], g->layers);
  if (st == MN_OK) st = check_value(path, "heads", h[H_HEADS], g->heads);
  if (st == MN_OK) st = check_value(path, "width", h[H_WIDTH], g->width);
  if (st != MN_OK) return st;
  if (h[H_MAXT] < g->context)
    return mn_error(MN_ERR_DATA,
                    "%s: the llm.c checkpoint has a context (maxT) of %" PRId32
                    " positions, [model] context = %d here: its wpe has too few rows",
                    path, h[H_MAXT], g->context);
  if (h[H_PADDED_VOCAB] < h[H_VOCAB])
    return mn_error(MN_ERR_DATA,
                    "%s: not a valid llm.c checkpoint: padded vocab %" PRId32 " < vocab %" PRId32,
                    path, h[H_PADDED_VOCAB], h[H_VOCAB]);
  return MN_OK;
}

/* Each span's floats from f, in order. */
static mn_status_t read_spans(const char *path, FILE *f, const span_t *s, int n) {
  for (int i = 0; i < n; i++) {
    if (fread(s[i].data, sizeof(float), (size_t)s[i].copy, f) != (size_t)s[i].copy ||
        fseeko(f, (off_t)((s[i].count - s[i].copy) * (int64_t)sizeof(float)), SEEK_CUR) != 0)
      return mn_error(MN_ERR_DATA, "%s: cannot read its parameters: %s", path,
                      ferror(f) ? strerror(errno) : "the file ends early");
  }
  return MN_OK;
}

mn_status_t mn_llmc_read(const char *path, const mn_model_t *m, float *params) {
  mn_gpt_shape_t g;
  mn_status_t st = model_shape(path, m, &g);
  if (st != MN_OK) return st;
  FILE *f = fopen(path, "rb");
  if (!f)
    return mn_error(errno == ENOENT ? MN_ERR_NOINPUT : MN_ERR_DATA, "%s: cannot open: %s", path,
                    strerror(errno));
  int32_t h[MN_LLMC_HEADER_INTS] = {0};
  struct stat sb;
  span_t *spans = NULL;
  int nspans = 0;
  int64_t expected = 0;
  if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    st = mn_error(MN_ERR_DATA, "%s: not a regular file", path);
    goto close_file;
  }
  size_t got = fread(h, sizeof *h, MN_LLMC_HEADER_INTS, f);
  if (got >= 1 && h[H_MAGIC] == MN_LLMC_MAGIC && got < MN_LLMC_HEADER_INTS) {
    st = mn_error(MN_ERR_DATA,
                  "%s: a truncated llm.c checkpoint: %lld bytes, shorter than its %" PRId64
                  "-byte header",
                  path, (long long)sb.st_size, HEADER_NBYTES);
    goto close_file;
  }
  if ((st = check_header(path, h, &g)) != MN_OK) goto close_file;
  st = plan(path, m, &g, h[H_PADDED_VOCAB], h[H_MAXT], params, &spans, &nspans, &expected);
  if (st != MN_OK) goto close_file;
  if ((int64_t)sb.st_size != expected) {
    st = mn_error(MN_ERR_DATA,
                  "%s: %s llm.c checkpoint: %lld bytes, expected %" PRId64 " (a %" PRId64
                  "-byte header and the float32 parameters of its shape)",
                  path, (int64_t)sb.st_size < expected ? "a truncated" : "an overlong",
                  (long long)sb.st_size, expected, HEADER_NBYTES);
    goto free_spans;
  }
  if (h[H_MAXT] > g.context)
    mn_log_info("%s: llm.c checkpoint of context %" PRId32 ": wpe's first %d rows taken "
                "([model] context = %d)",
                path, h[H_MAXT], g.context, g.context);
  memset(params, 0, (size_t)m->nparams * sizeof *params); /* padding, wte's rows past V */
  st = read_spans(path, f, spans, nspans);
free_spans:
  free(spans);
close_file:
  fclose(f);
  return st;
}

/* ---- writing --------------------------------------------------------------------------- */

/* Each span's floats, then its zeros, to f. 0 on a write error (errno set). */
static int write_spans(FILE *f, const span_t *s, int n) {
  static const float zeros[4096];
  for (int i = 0; i < n; i++) {
    if (fwrite(s[i].data, sizeof(float), (size_t)s[i].copy, f) != (size_t)s[i].copy) return 0;
    for (int64_t left = s[i].count - s[i].copy; left > 0;) {
      size_t k = left < 4096 ? (size_t)left : 4096;
      if (fwrite(zeros, sizeof(float), k, f) != k) return 0;
      left -= (int64_t)k;
    }
  }
  return 1;
}

mn_status_t mn_llmc_write(const char *path, const mn_model_t *m, const float *params) {
  mn_gpt_shape_t g;
  mn_status_t st = model_shape(path, m, &g);
  if (st != MN_OK) return st;
  int64_t vp =
      ((int64_t)g.vocab + MN_LLMC_VOCAB_ALIGN - 1) / MN_LLMC_VOCAB_ALIGN * MN_LLMC_VOCAB_ALIGN;
  int32_t h[MN_LLMC_HEADER_INTS] = {0};
  h[H_MAGIC] = MN_LLMC_MAGIC;
  h[H_VERSION] = MN_LLMC_VERSION_F32;
  h[H_MAXT] = g.context;
  h[H_VOCAB] = g.vocab;
  h[H_LAYERS] = g.layers;
  h[H_HEADS] = g.heads;
  h[H_WIDTH] = g.width;
  h[H_PADDED_VOCAB] = (int32_t)vp;
  span_t *spans = NULL;
  int nspans = 0;
  int64_t nbytes = 0;
  /* the spans only read params: plan's pointer is not const for the reader's sake */
  st = plan(path, m, &g, vp, g.context, (float *)params, &spans, &nspans, &nbytes);
  if (st != MN_OK) return st;
  char tmp[4200];
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= sizeof tmp) {
    st = mn_error(MN_ERR_IO, "%s: path is too long", path);
    goto free_spans;
  }
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    st = mn_error(MN_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    goto free_spans;
  }
  int ok = fwrite(h, sizeof *h, MN_LLMC_HEADER_INTS, f) == MN_LLMC_HEADER_INTS &&
           write_spans(f, spans, nspans) && fflush(f) == 0 && fsync(fileno(f)) == 0;
  int e = errno;
  if (fclose(f) != 0 && ok) {
    ok = 0;
    e = errno;
  }
  if (!ok) {
    st = mn_error(MN_ERR_IO, "%s: cannot write: %s", tmp, strerror(e));
    goto remove_tmp;
  }
  if (rename(tmp, path) != 0) {
    st = mn_error(MN_ERR_IO, "%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
    goto remove_tmp;
  }
  goto free_spans;
remove_tmp:
  remove(tmp);
free_spans:
  free(spans);
  return st;
}
