/* trainstate.c: the snapshot view of a training run (mn_trainstate.h): tensor names over
 * the model's flat buffers, the metadata, and a model's parameters read back from a
 * snapshot or a safetensors file. No MPI. */
#include "mn_trainstate.h"

#include "mn_log.h"
#include "mn_safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void tensor(mn_snapshot_tensor_t *t, const char *prefix, char kind, int l, float *data,
                   int64_t d0, int64_t d1) {
  snprintf(t->name, sizeof t->name, "%s/%c%d", prefix, kind, l);
  t->ndims = d1 > 0 ? 2 : 1;
  t->dims[0] = d0;
  t->dims[1] = d1 > 0 ? d1 : 0;
  t->data = data;
}

int mn_trainstate_tensors(const mn_model_t *m, float *params, float *velocity,
                          mn_snapshot_tensor_t *t) {
  int n = 0;
  for (int pass = 0; pass < 2; pass++) {
    float *base = pass == 0 ? params : velocity;
    const char *prefix = pass == 0 ? "params" : "optim/velocity";
    for (int l = 0; l < m->nlinear; l++) {
      int64_t in = m->dims[l], out = m->dims[l + 1];
      tensor(&t[n++], prefix, 'W', l, base + m->w_off[l], out, in);
      tensor(&t[n++], prefix, 'b', l, base + m->b_off[l], out, 0);
    }
  }
  return n;
}

/* A growing heap string. */
typedef struct text {
  char *s;
  size_t len, cap;
  int failed;
} text_t;

static void text_add(text_t *t, const char *a, const char *b, const char *c, const char *d) {
  const char *parts[] = {a, b, c, d};
  for (int i = 0; i < 4; i++) {
    size_t n = strlen(parts[i]);
    if (t->len + n + 1 > t->cap) {
      size_t cap = (t->cap ? t->cap * 2 : 1024) + n;
      char *s = realloc(t->s, cap);
      if (!s) {
        t->failed = 1;
        return;
      }
      t->s = s;
      t->cap = cap;
    }
    memcpy(t->s + t->len, parts[i], n + 1);
    t->len += n;
  }
}

static void add_value(const char *section, const char *key, const char *value, void *user) {
  text_t *t = user;
  text_add(t, section, ".", key, " = ");
  text_add(t, value, "\n", "", "");
}

mn_status_t mn_trainstate_meta(const mn_config_t *cfg, int world, mn_dataset_t *train,
                               const mn_position_t *pos, int finished, const char *reason,
                               mn_snapshot_meta_t *meta) {
  memset(meta, 0, sizeof *meta);
  meta->epoch = pos->epoch;
  meta->epoch_pos = pos->epoch_pos;
  meta->step = pos->step;
  meta->samples = pos->samples;
  meta->finished = finished;
  snprintf(meta->reason, sizeof meta->reason, "%s", reason);
  meta->world = world;
  meta->batch = cfg->data.batch_size;
  meta->shape_hash = mn_config_shape_hash(cfg);
  meta->model_seed = cfg->model.seed;
  meta->data_seed = cfg->data.seed;
  meta->data_n = mn_dataset_size(train);
  meta->data_dim = mn_dataset_dim(train);
  meta->data_classes = cfg->model.layers[cfg->model.nlayers - 1];
  meta->data_label_crc = mn_dataset_label_crc(train);
  mn_status_t st = mn_dataset_feature_crc(train, &meta->data_feature_crc);
  if (st != MN_OK) return st;
  meta->data_feature_crc_set = 1;
  text_t config = {0}, files = {0};
  mn_config_each_value(cfg, add_value, &config);
  for (int i = 0; i < mn_dataset_nfiles(train); i++) {
    char rows[32];
    snprintf(rows, sizeof rows, "%lld", (long long)mn_dataset_file_rows(train, i));
    text_add(&files, mn_dataset_path(train, i), "\t", rows, "\n");
  }
  meta->config = config.s;
  meta->data_files = files.s;
  if (config.failed || files.failed || !config.s || !files.s) {
    mn_snapshot_meta_free(meta);
    return mn_error(MN_ERR_NOMEM, "out of memory describing the snapshot");
  }
  return MN_OK;
}

int mn_trainstate_config_value(const char *config, const char *section, const char *key,
                               char *value, size_t len) {
  char want[160];
  int n = snprintf(want, sizeof want, "%s.%s = ", section, key);
  for (const char *line = config; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t linelen = end ? (size_t)(end - line) : strlen(line);
    if (linelen >= (size_t)n && !strncmp(line, want, (size_t)n)) {
      size_t vlen = linelen - (size_t)n;
      if (vlen >= len) vlen = len - 1;
      memcpy(value, line + n, vlen);
      value[vlen] = '\0';
      return 1;
    }
    line = end ? end + 1 : NULL;
  }
  return 0;
}

int mn_trainstate_torch_tensors(const mn_model_t *m, float *params, mn_snapshot_tensor_t *t) {
  for (int l = 0; l < m->nlinear; l++) {
    mn_snapshot_tensor_t *w = &t[2 * l], *b = &t[2 * l + 1];
    *w = (mn_snapshot_tensor_t){
        .ndims = 2, .dims = {m->dims[l + 1], m->dims[l]}, .data = params + m->w_off[l]};
    *b = (mn_snapshot_tensor_t){.ndims = 1, .dims = {m->dims[l + 1]}, .data = params + m->b_off[l]};
    snprintf(w->name, sizeof w->name, "%d.weight", 2 * l);
    snprintf(b->name, sizeof b->name, "%d.bias", 2 * l);
  }
  return 2 * m->nlinear;
}

static int is_safetensors(const char *file) {
  size_t n = strlen(file), k = strlen(".safetensors");
  return n > k && !strcmp(file + n - k, ".safetensors");
}

mn_status_t mn_trainstate_read_params(const char *file, const mn_model_t *m, float *params) {
  mn_snapshot_tensor_t *t = malloc(sizeof *t * MN_TRAINSTATE_MAX_TENSORS);
  float *state = is_safetensors(file) ? NULL : malloc((size_t)m->nparams * sizeof *state);
  mn_status_t st =
      t && (state || is_safetensors(file)) ? MN_OK : mn_error(MN_ERR_NOMEM, "out of memory");
  if (st == MN_OK && is_safetensors(file))
    st = mn_safetensors_read(file, t, mn_trainstate_torch_tensors(m, params, t));
  else if (st == MN_OK) /* every tensor of a snapshot is read, or the file is refused */
    st = mn_snapshot_read_tensors(file, t, mn_trainstate_tensors(m, params, state, t));
  free(state);
  free(t);
  return st;
}

/* The snapshot's config lines as --set overrides, then the caller's. */
static mn_status_t snapshot_config(const mn_snapshot_meta_t *meta, const char *const *sets,
                                   int nsets, mn_config_t *cfg) {
  char *text = strdup(meta->config ? meta->config : "");
  int cap = nsets + 1;
  for (const char *p = text; p && *p; p++) cap += *p == '\n';
  const char **all = malloc(sizeof *all * (size_t)cap);
  mn_status_t st = text && all ? MN_OK : mn_error(MN_ERR_NOMEM, "out of memory");
  int n = 0;
  for (char *save = NULL, *line = st == MN_OK ? strtok_r(text, "\n", &save) : NULL; line;
       line = strtok_r(NULL, "\n", &save))
    all[n++] = line;
  for (int i = 0; st == MN_OK && i < nsets; i++) all[n++] = sets[i];
  char err[1024];
  if (st == MN_OK && mn_config_load(NULL, all, n, cfg, err, sizeof err) != MN_OK)
    st = mn_error(MN_ERR_CONFIG, "the snapshot's config: %s", err);
  free(all);
  free(text);
  return st;
}

mn_status_t mn_trainstate_load_model(const char *path, const mn_snapshot_meta_t *meta,
                                     const char *const *sets, int nsets, int max_batch,
                                     mn_config_t *cfg, mn_model_t *m) {
  mn_status_t st = snapshot_config(meta, sets, nsets, cfg);
  if (st != MN_OK) return st;
  /* the default context: the CPU ops need no workspace */
  st = mn_model_init(m, mn_kernels_cpu(), mn_kctx_default(), cfg->model.layers, cfg->model.nlayers,
                     max_batch, cfg->model.seed);
  if (st != MN_OK) return st;
  MN_ASSERT(mn_model_workspace_nbytes(m) == 0);
  st = mn_trainstate_read_params(path, m, m->params); /* a CPU model: host memory */
  if (st != MN_OK) mn_model_free(m);
  return st;
}
