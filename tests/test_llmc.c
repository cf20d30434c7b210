/* test_llmc.c: a gpt's weights in and out: llm.c checkpoints (runtime/state/llmc.c) and
 * safetensors, through mn_trainstate_read_params (what model.init_from calls) and mninfo.
 *
 * Mapping: a small checkpoint written here from llm.c's documented layout (V 50 padded to
 * 128 in the file, mn's 64; maxT 16; 2 blocks, 2 heads, width 8), every float a distinct
 * value f(llm.c tensor, element), read into an mn gpt: every element of every mn tensor is
 * checked by name against the llm.c tensor and block it must come from, wte's rows past V
 * and the padding 0; a model of context 8 takes wpe's first 8 rows. Refusals, each
 * MN_ERR_DATA (exit 65) naming the file: another magic, version 5 (bfloat16) and 1, a
 * truncated and an overlong file and one shorter than its header (both byte counts), V, L,
 * NH, C different from the model (both values), maxT shorter than the context, Vp < V, a
 * model that is not a gpt. Round trips, bit for bit: a gpt's parameters to safetensors and
 * to llm.c's format and back; a gpt snapshot through `mninfo --export` (its metadata, no
 * lm_head) and `mninfo --export-llmc`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mn_llmc.h"
#include "mn_model.h"
#include "mn_safetensors.h"
#include "mn_test.h"
#include "mn_test_model.h"
#include "mn_trainstate.h"

static char g_dir[256];

static void path_of(char *buf, size_t n, const char *name) {
  snprintf(buf, n, "%s/%s", g_dir, name);
}

static int message_has(const char *part) { return strstr(mn_error_message(), part) != NULL; }

/* ---- an llm.c checkpoint, written from the format's description ------------------------ */

/* The header's shape: magic, version, maxT, V, L, NH, C, Vp. */
typedef struct hdr {
  int32_t magic, version, maxT, V, L, NH, C, Vp;
} hdr_t;

static const hdr_t base = {20240326, 3, 16, 50, 2, 2, 8, 128};

/* Float k-th tensor of llm.c's order, element j (of the whole stacked tensor): distinct,
 * exact in float32, never 0. */
static float value(int k, int64_t j) { return (float)(k * 8192 + j + 1); }

/* The 16 tensors' float counts for header h, in file order. */
static void file_counts(const hdr_t *h, int64_t n[16]) {
  int64_t C = h->C, L = h->L;
  const int64_t c[16] = {h->Vp * C,     h->maxT * C, L * C, L * C, L * 3 * C * C, L * 3 * C,
                         L * C * C,     L * C,       L * C, L * C, L * 4 * C * C, L * 4 * C,
                         L * C * 4 * C, L * C,       C,     C};
  memcpy(n, c, sizeof c);
}

static int64_t file_nbytes(const hdr_t *h) {
  int64_t n[16], total = 1024;
  file_counts(h, n);
  for (int k = 0; k < 16; k++) total += 4 * n[k];
  return total;
}

/* A checkpoint of header h and its parameters value(k, j), less its last `cut` bytes
 * (cut < 0: -cut bytes more). */
static void write_checkpoint(const char *path, const hdr_t *h, int64_t cut) {
  int32_t header[256] = {h->magic, h->version, h->maxT, h->V, h->L, h->NH, h->C, h->Vp};
  int64_t n[16];
  file_counts(h, n);
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (!f) return;
  fwrite(header, sizeof header, 1, f);
  for (int k = 0; k < 16; k++)
    for (int64_t j = 0; j < n[k]; j++) {
      float v = value(k, j);
      fwrite(&v, sizeof v, 1, f);
    }
  for (int64_t i = 0; i < -cut; i++) fputc(0, f);
  fclose(f);
  if (cut > 0) CHECK(truncate(path, file_nbytes(h) - cut) == 0);
}

/* ---- models ---------------------------------------------------------------------------- */

/* The config of a gpt of vocab 50, context `context`, 2 blocks, 2 heads, width 8, the keys
 * the loader requires given dummy values. */
static mn_config_t *gpt_config(int context) {
  char ctx[32];
  snprintf(ctx, sizeof ctx, "model.context=%d", context);
  const char *sets[] = {
      "model.type=gpt",   "model.layers=2", "model.vocab=50", ctx,
      "model.heads=2",    "model.width=8",  "model.seed=7",   "data.train=unused.h5",
      "schedule.epochs=1"};
  mn_config_t *cfg = calloc(1, sizeof *cfg);
  char err[512] = "";
  mn_status_t st = mn_config_load(NULL, sets, 9, cfg, err, sizeof err);
  CHECK_MSG(st == MN_OK, "config: %s", err);
  return cfg;
}

/* The CPU model of cfg (weights from model.seed). */
static int model_of(const mn_config_t *cfg, mn_model_t *m) {
  mn_model_spec_t *spec = malloc(sizeof *spec);
  mn_status_t st = mn_model_spec_config(cfg, spec);
  if (st == MN_OK)
    st = mn_model_init(m, mn_kernels_cpu(), mn_kctx_default(), spec, 1, cfg->model.seed, NULL);
  free(spec);
  CHECK_MSG(st == MN_OK, "model: %s", mn_error_message());
  return st == MN_OK;
}

static int gpt_model(int context, mn_model_t *m) {
  mn_config_t *cfg = gpt_config(context);
  int ok = model_of(cfg, m);
  free(cfg);
  return ok;
}

/* params' floats of tensor name (NULL when the model has none). */
static const float *tensor(const mn_model_t *m, const float *params, const char *name,
                           int64_t *count) {
  int i = mn_tensors_find(&m->tensors, name);
  CHECK_MSG(i >= 0, "no tensor %s", name);
  if (i < 0) return NULL;
  *count = m->tensors.t[i].count;
  return params + m->tensors.t[i].offset;
}

/* ---- mapping --------------------------------------------------------------------------- */

/* llm.c's tensor k, block b's slice: mn's name and shape (mn_model.h's list). */
static const struct {
  const char *name;
  int ndims;
  int64_t d0, d1; /* in units of C (d0 < 0: from the header, below) */
} per_block[12] = {
    {"h.%d.ln_1.weight", 1, 1, 0},        {"h.%d.ln_1.bias", 1, 1, 0},
    {"h.%d.attn.c_attn.weight", 2, 3, 1}, {"h.%d.attn.c_attn.bias", 1, 3, 0},
    {"h.%d.attn.c_proj.weight", 2, 1, 1}, {"h.%d.attn.c_proj.bias", 1, 1, 0},
    {"h.%d.ln_2.weight", 1, 1, 0},        {"h.%d.ln_2.bias", 1, 1, 0},
    {"h.%d.mlp.c_fc.weight", 2, 4, 1},    {"h.%d.mlp.c_fc.bias", 1, 4, 0},
    {"h.%d.mlp.c_proj.weight", 2, 1, 4},  {"h.%d.mlp.c_proj.bias", 1, 1, 0},
};

/* Elements of tensor name that differ from want(k, offset + e) (e < ncopy) or from 0 (after
 * ncopy); also checks its shape. */
static int64_t tensor_wrong(const mn_model_t *m, const float *params, const char *name, int ndims,
                            int64_t d0, int64_t d1, int k, int64_t offset, int64_t ncopy) {
  int i = mn_tensors_find(&m->tensors, name);
  CHECK_MSG(i >= 0, "no tensor %s", name);
  if (i < 0) return 1;
  const mn_tensor_t *t = &m->tensors.t[i];
  CHECK_MSG(t->ndims == ndims && t->dims[0] == d0 && (ndims == 1 || t->dims[1] == d1),
            "%s: %d dims %lld x %lld", name, t->ndims, (long long)t->dims[0],
            (long long)t->dims[1]);
  int64_t wrong = 0;
  for (int64_t e = 0; e < t->count; e++) {
    float want = e < ncopy ? value(k, offset + e) : 0.0f;
    if (params[t->offset + e] != want) {
      if (!wrong)
        fprintf(stderr, "%s[%lld] = %g, expected %g\n", name, (long long)e, params[t->offset + e],
                want);
      wrong++;
    }
  }
  return wrong;
}

/* Every mn tensor of m (context T) against the checkpoint of header h read into params. */
static void check_mapping(const mn_model_t *m, const float *params, const hdr_t *h, int T) {
  const int64_t C = h->C, V = h->V, Vp = mn_gpt_padded_vocab(h->V);
  int checked = 0;
  CHECK(Vp == 64 && h->Vp == 128); /* the paddings differ: rows 50..63 must stay 0 */
  CHECK(tensor_wrong(m, params, "wte.weight", 2, Vp, C, 0, 0, V * C) == 0);
  CHECK(tensor_wrong(m, params, "wpe.weight", 2, T, C, 1, 0, T * C) == 0);
  checked += 2;
  for (int k = 0; k < 12; k++)
    for (int b = 0; b < h->L; b++) {
      char name[64];
      snprintf(name, sizeof name, per_block[k].name, b);
      int64_t d0 = per_block[k].d0 * C, d1 = per_block[k].d1 * C;
      int64_t n = per_block[k].ndims == 2 ? d0 * d1 : d0;
      CHECK(tensor_wrong(m, params, name, per_block[k].ndims, d0, d1, 2 + k, b * n, n) == 0);
      checked++;
    }
  CHECK(tensor_wrong(m, params, "ln_f.weight", 1, C, 0, 14, 0, C) == 0);
  CHECK(tensor_wrong(m, params, "ln_f.bias", 1, C, 0, 15, 0, C) == 0);
  checked += 2;
  CHECK_MSG(checked == m->tensors.n, "%d tensors checked of the model's %d", checked, m->tensors.n);
  CHECK(mn_test_padding_nonzero(&m->tensors, params) == 0);
}

static void test_mapping(void) {
  char path[512];
  path_of(path, sizeof path, "tiny.ckpt"); /* not .bin: the magic decides */
  write_checkpoint(path, &base, 0);
  CHECK(mn_llmc_detect(path));

  mn_model_t m;
  if (!gpt_model(16, &m)) return;
  float *params = malloc((size_t)m.nparams * sizeof *params);
  /* NaNs first: every float must be written, by the reader itself and by init_from's path */
  memset(params, 0xff, (size_t)m.nparams * sizeof *params);
  mn_status_t st = mn_llmc_read(path, &m, params);
  CHECK_MSG(st == MN_OK, "%s", mn_error_message());
  if (st == MN_OK) check_mapping(&m, params, &base, 16);
  memset(params, 0xff, (size_t)m.nparams * sizeof *params);
  st = mn_trainstate_read_params(path, &m, params);
  CHECK_MSG(st == MN_OK, "%s", mn_error_message());
  if (st == MN_OK) check_mapping(&m, params, &base, 16);
  free(params);
  mn_model_free(&m);

  /* a context shorter than maxT: wpe's first rows */
  if (!gpt_model(8, &m)) return;
  params = malloc((size_t)m.nparams * sizeof *params);
  st = mn_trainstate_read_params(path, &m, params);
  CHECK_MSG(st == MN_OK, "%s", mn_error_message());
  if (st == MN_OK) check_mapping(&m, params, &base, 8);
  free(params);
  mn_model_free(&m);
}

/* ---- refusals -------------------------------------------------------------------------- */

/* Reading a checkpoint of header h (less `cut` bytes) into a gpt of context T fails with
 * st, exit 65 or 66, a message naming the file and holding each of parts. */
static void refused(const char *what, const hdr_t *h, int64_t cut, int T, mn_status_t want,
                    const char *part1, const char *part2) {
  char path[512];
  path_of(path, sizeof path, what);
  write_checkpoint(path, h, cut);
  mn_model_t m;
  if (!gpt_model(T, &m)) return;
  float *params = malloc((size_t)m.nparams * sizeof *params);
  mn_status_t st = mn_llmc_read(path, &m, params);
  CHECK_MSG(st == want, "%s: status %d: %s", what, st, mn_error_message());
  CHECK_MSG(mn_status_exit_code(st) == 65, "%s: exit %d", what, mn_status_exit_code(st));
  CHECK_MSG(message_has(path) && message_has(part1) && (!part2 || message_has(part2)),
            "%s: message \"%s\" (wanted %s, %s)", what, mn_error_message(), part1,
            part2 ? part2 : "");
  /* through init_from's path: the same refusal, or (another magic) the snapshot reader's */
  st = mn_trainstate_read_params(path, &m, params);
  CHECK_MSG(st == MN_ERR_DATA && message_has(path), "%s: init_from: %d: %s", what, st,
            mn_error_message());
  free(params);
  mn_model_free(&m);
}

static void test_refused(void) {
  hdr_t h = base;
  char want[64], have[64];
  h.magic = 20240325;
  refused("magic.bin", &h, 0, 16, MN_ERR_DATA, "not an llm.c checkpoint", "magic 20240325");
  h = base, h.version = 5;
  refused("bf16.bin", &h, 0, 16, MN_ERR_DATA, "version 5 holds bfloat16", "gpt2_124M.bin");
  h = base, h.version = 1;
  refused("v1.bin", &h, 0, 16, MN_ERR_DATA, "version 1", "reads version 3");

  snprintf(want, sizeof want, "expected %lld", (long long)file_nbytes(&base));
  snprintf(have, sizeof have, "%lld bytes", (long long)file_nbytes(&base) - 4);
  refused("truncated.bin", &base, 4, 16, MN_ERR_DATA, want, have);
  snprintf(have, sizeof have, "%lld bytes", (long long)file_nbytes(&base) + 3);
  refused("overlong.bin", &base, -3, 16, MN_ERR_DATA, want, have);
  refused("header.bin", &base, file_nbytes(&base) - 100, 16, MN_ERR_DATA, "100 bytes",
          "1024-byte header");

  h = base, h.L = 3;
  refused("layers.bin", &h, 0, 16, MN_ERR_DATA, "layers = 3", "[model] layers = 2");
  h = base, h.C = 16;
  refused("width.bin", &h, 0, 16, MN_ERR_DATA, "width = 16", "[model] width = 8");
  h = base, h.NH = 4;
  refused("heads.bin", &h, 0, 16, MN_ERR_DATA, "heads = 4", "[model] heads = 2");
  h = base, h.V = 51;
  refused("vocab.bin", &h, 0, 16, MN_ERR_DATA, "vocab = 51", "[model] vocab = 50");
  h = base, h.maxT = 8;
  refused("maxt.bin", &h, 0, 16, MN_ERR_DATA, "context (maxT) of 8", "[model] context = 16");
  h = base, h.Vp = 32;
  refused("vp.bin", &h, 0, 16, MN_ERR_DATA, "padded vocab 32 < vocab 50", NULL);

  /* a missing file; an MLP */
  char path[512];
  path_of(path, sizeof path, "absent.bin");
  mn_model_t m;
  if (!gpt_model(16, &m)) return;
  float *params = malloc((size_t)m.nparams * sizeof *params);
  CHECK(!mn_llmc_detect(path));
  CHECK(mn_llmc_read(path, &m, params) == MN_ERR_NOINPUT && message_has(path));
  CHECK(mn_trainstate_read_params(path, &m, params) == MN_ERR_NOINPUT);
  free(params);
  mn_model_free(&m);

  mn_config_t *cfg = gpt_config(16);
  cfg->model.type = MN_MODEL_MLP;
  cfg->model.nlayers = 2;
  cfg->model.layers[0] = 4;
  cfg->model.layers[1] = 3;
  if (model_of(cfg, &m)) {
    path_of(path, sizeof path, "tiny.ckpt");
    params = malloc((size_t)m.nparams * sizeof *params);
    mn_status_t st = mn_trainstate_read_params(path, &m, params);
    CHECK_MSG(st == MN_ERR_DATA && message_has("model is of type mlp") && message_has(path),
              "mlp: %d: %s", st, mn_error_message());
    path_of(path, sizeof path, "mlp.bin");
    CHECK(mn_llmc_write(path, &m, params) == MN_ERR_DATA);
    free(params);
    mn_model_free(&m);
  }
  free(cfg);
}

/* ---- round trips ----------------------------------------------------------------------- */

/* Read file into a fresh buffer for m and compare it with m's own parameters, bit for bit
 * (the padding included). */
static void check_reads_back(const mn_model_t *m, const char *file) {
  float *back = malloc((size_t)m->nparams * sizeof *back);
  memset(back, 0xff, (size_t)m->nparams * sizeof *back);
  mn_status_t st = mn_trainstate_read_params(file, m, back);
  CHECK_MSG(st == MN_OK, "%s", mn_error_message());
  CHECK_MSG(st != MN_OK || !memcmp(back, m->params, (size_t)m->nparams * sizeof *back),
            "%s does not read back bit for bit", file);
  free(back);
}

static void test_round_trip(void) {
  mn_model_t m;
  if (!gpt_model(16, &m)) return;
  char path[512];

  /* safetensors, as mninfo --export writes it */
  path_of(path, sizeof path, "gpt.safetensors");
  mn_snapshot_tensor_t *t = NULL;
  int nt = 0;
  CHECK(mn_trainstate_torch_tensors(&m, m.params, &t, &nt) == MN_OK);
  CHECK(nt == m.tensors.n && nt == 4 + 12 * 2); /* the tied head: wte.weight once */
  CHECK(mn_safetensors_write(path, t, nt, NULL, 0) == MN_OK);
  free(t);
  check_reads_back(&m, path);

  /* llm.c's format: Vp 128, maxT the context, rows 50..127 of wte 0 */
  path_of(path, sizeof path, "gpt.bin");
  CHECK(mn_llmc_write(path, &m, m.params) == MN_OK);
  CHECK(mn_llmc_detect(path));
  hdr_t h = base;
  struct stat sb;
  CHECK(stat(path, &sb) == 0 && (int64_t)sb.st_size == file_nbytes(&h));
  FILE *f = fopen(path, "rb");
  int32_t header[256];
  float wte[128 * 8];
  CHECK(f && fread(header, sizeof header, 1, f) == 1 && fread(wte, sizeof wte, 1, f) == 1);
  if (f) fclose(f);
  CHECK(header[0] == 20240326 && header[1] == 3 && header[2] == 16 && header[3] == 50 &&
        header[4] == 2 && header[5] == 2 && header[6] == 8 && header[7] == 128);
  int64_t count = 0;
  const float *w = tensor(&m, m.params, "wte.weight", &count);
  CHECK(w && !memcmp(wte, w, 50 * 8 * sizeof *wte));
  int zeros = 1;
  for (int i = 50 * 8; i < 128 * 8; i++) zeros = zeros && wte[i] == 0.0f;
  CHECK(zeros);
  check_reads_back(&m, path);
  mn_model_free(&m);
}

/* ---- mninfo over a gpt snapshot --------------------------------------------------------- */

typedef struct text {
  char buf[16384];
  size_t len;
} text_t;

static void add_value(const char *section, const char *key, const char *value, void *user) {
  text_t *t = user;
  t->len += (size_t)snprintf(t->buf + t->len, sizeof t->buf - t->len, "%s.%s = %s\n", section, key,
                             value);
}

/* A snapshot of a gpt of cfg (its parameters m->params, its optimizer's states 0) in dir.
 * out: path. */
static int write_snapshot(const mn_config_t *cfg, const mn_model_t *m, const char *dir, char *path,
                          size_t len) {
  static text_t config;
  config.len = 0;
  mn_config_each_value(cfg, add_value, &config);
  mn_snapshot_meta_t meta;
  memset(&meta, 0, sizeof meta);
  snprintf(meta.reason, sizeof meta.reason, "interval");
  meta.world = meta.batch = 1;
  meta.shape_hash = mn_config_shape_hash(cfg);
  meta.model_seed = cfg->model.seed;
  meta.data_n = 100;
  meta.data_dim = 16;
  meta.data_classes = 50;
  meta.config = config.buf;
  static char files[] = "unused.h5\t100\n";
  meta.data_files = files;
  const mn_optim_kind_t *kind = mn_trainstate_kind(&meta);
  float *bufs[MN_TRAINSTATE_BUFS] = {m->params};
  for (int s = 0; s < kind->nstates; s++) bufs[1 + s] = calloc((size_t)m->nparams, sizeof(float));
  mn_snapshot_tensor_t *t = NULL;
  int nt = 0;
  mn_status_t st = mn_trainstate_tensors(m, kind, MN_SNAPSHOT_FORMAT, bufs, &t, &nt);
  if (st == MN_OK) st = mn_snapshot_write(dir, &meta, t, nt, path, len);
  CHECK_MSG(st == MN_OK, "snapshot: %s", mn_error_message());
  free(t);
  for (int s = 0; s < kind->nstates; s++) free(bufs[1 + s]);
  return st == MN_OK;
}

/* `mninfo ARGS`'s exit code. */
static int mninfo(const char *args) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "'%s/mninfo' %s", getenv("MN_BIN"), args);
  int rc = system(cmd);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void check_metadata(const char *path, const char *key, const char *want) {
  char value[256] = "";
  CHECK(mn_safetensors_metadata(path, key, value, sizeof value) == MN_OK);
  CHECK_MSG(!strcmp(value, want), "%s: %s = \"%s\", expected \"%s\"", path, key, value, want);
}

static void test_mninfo(void) {
  if (!getenv("MN_BIN")) {
    fprintf(stderr, "test_llmc: MN_BIN unset (run by ctest): mninfo not checked\n");
    return;
  }
  mn_config_t *cfg = gpt_config(16);
  mn_model_t m;
  char dir[512], snap[4096], out[512], args[6000];
  path_of(dir, sizeof dir, "snapshots");
  if (!model_of(cfg, &m) || !write_snapshot(cfg, &m, dir, snap, sizeof snap)) {
    free(cfg);
    return;
  }
  path_of(out, sizeof out, "exported.safetensors");
  snprintf(args, sizeof args, "--export '%s' '%s'", out, dir);
  CHECK(mninfo(args) == 0);
  check_reads_back(&m, out);
  check_metadata(out, "mn_model", "gpt");
  check_metadata(out, "mn_vocab", "50");
  check_metadata(out, "mn_context", "16");
  check_metadata(out, "mn_layers", "2");
  check_metadata(out, "mn_heads", "2");
  check_metadata(out, "mn_width", "8");
  float dummy[64 * 8];
  mn_snapshot_tensor_t head = {
      .name = "lm_head.weight", .ndims = 2, .dims = {64, 8}, .data = dummy};
  CHECK(mn_safetensors_read(out, &head, 1) == MN_ERR_DATA && message_has("no tensor"));

  path_of(out, sizeof out, "exported.bin");
  snprintf(args, sizeof args, "--export-llmc '%s' '%s'", out, snap);
  CHECK(mninfo(args) == 0);
  check_reads_back(&m, out);
  snprintf(args, sizeof args, "--export-llmc '%s/absent/x.bin' '%s' 2>/dev/null", g_dir, snap);
  CHECK(mninfo(args) == 74);
  mn_model_free(&m);
  free(cfg);
}

int main(void) {
  snprintf(g_dir, sizeof g_dir, "%s/mn-test-llmc.XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(g_dir)) return 1;
  test_mapping();
  test_refused();
  test_round_trip();
  test_mninfo();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", g_dir);
  return mn_test_result("test_llmc");
}
