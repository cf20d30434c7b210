/* trainstate.c: the snapshot view of a training run (mn_trainstate.h): tensor names over
 * the model's flat buffers, the metadata, and a model's parameters read back from a
 * snapshot or a safetensors file. No MPI. */
#include "mn_trainstate.h"

#include "mn_llmc.h"
#include "mn_log.h"
#include "mn_safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Format 1's name of registry tensor name: "<2l>.weight" -> W<l>, "<2l>.bias" -> b<l> (the
 * MLP's linear layers). 0 when the model is not one format 1 could hold. */
static int format1_name(const char *name, char *out, size_t len) {
  int layer, used = 0;
  char what[8];
  if (sscanf(name, "%d.%7[a-z]%n", &layer, what, &used) != 2 || name[used] || layer % 2 ||
      (strcmp(what, "weight") && strcmp(what, "bias")))
    return 0;
  snprintf(out, len, "%c%d", what[0] == 'w' ? 'W' : 'b', layer / 2);
  return 1;
}

static int is_mlp(const mn_model_t *m) { return !strcmp(m->spec.type, "mlp"); }

mn_status_t mn_trainstate_check_format(const mn_model_t *m, const mn_optim_kind_t *kind,
                                       int format) {
  char old[32];
  if (format != 1) return MN_OK;
  if (!is_mlp(m) || strcmp(kind->name, "sgd"))
    return mn_error(MN_ERR_DATA,
                    "a format-1 snapshot holds an MLP trained with SGD, and this run trains a "
                    "%s with %s",
                    m->spec.type, kind->name);
  for (int i = 0; i < m->tensors.n; i++)
    if (!format1_name(m->tensors.t[i].name, old, sizeof old))
      return mn_error(MN_ERR_DATA, "tensor %s has no name in a format-1 snapshot",
                      m->tensors.t[i].name);
  return MN_OK;
}

/* The snapshot names of registry r's tensors over bufs, as format `format` names them
 * (checked by the caller). */
static mn_status_t name_tensors(const mn_tensors_t *r, const mn_optim_kind_t *kind, int format,
                                float *const *bufs, mn_snapshot_tensor_t **out, int *n) {
  int nbuf = 1 + kind->nstates;
  mn_snapshot_tensor_t *t = calloc((size_t)(r->n * nbuf + 1), sizeof *t);
  if (!t) return mn_error(MN_ERR_NOMEM, "out of memory naming the snapshot's tensors");
  int k = 0;
  for (int b = 0; b < nbuf; b++)
    for (int i = 0; i < r->n; i++, k++) {
      const mn_tensor_t *x = &r->t[i];
      char old[32];
      t[k].ndims = x->ndims;
      memcpy(t[k].dims, x->dims, sizeof x->dims);
      t[k].data = bufs[b] + x->offset;
      if (format == 1 && format1_name(x->name, old, sizeof old))
        snprintf(t[k].name, sizeof t[k].name, "%s/%s", b == 0 ? "params" : "optim/velocity", old);
      else if (b == 0)
        snprintf(t[k].name, sizeof t[k].name, "params/%s", x->name);
      else
        snprintf(t[k].name, sizeof t[k].name, "optim/%s/%s/%s", kind->name, kind->states[b - 1],
                 x->name);
    }
  *out = t;
  *n = k;
  return MN_OK;
}

mn_status_t mn_trainstate_tensors(const mn_model_t *m, const mn_optim_kind_t *kind, int format,
                                  float *const *bufs, mn_snapshot_tensor_t **out, int *n) {
  mn_status_t st = mn_trainstate_check_format(m, kind, format);
  if (st != MN_OK) return st;
  return name_tensors(&m->tensors, kind, format, bufs, out, n);
}

mn_status_t mn_trainstate_registry_tensors(const mn_tensors_t *r, const mn_optim_kind_t *kind,
                                           float *const *bufs, mn_snapshot_tensor_t **out, int *n) {
  return name_tensors(r, kind, MN_SNAPSHOT_FORMAT, bufs, out, n);
}

mn_status_t mn_trainstate_torch_tensors(const mn_model_t *m, float *params,
                                        mn_snapshot_tensor_t **out, int *n) {
  const mn_tensors_t *r = &m->tensors;
  mn_snapshot_tensor_t *t = calloc((size_t)r->n + 1, sizeof *t);
  if (!t) return mn_error(MN_ERR_NOMEM, "out of memory naming the tensors");
  for (int i = 0; i < r->n; i++) {
    snprintf(t[i].name, sizeof t[i].name, "%s", r->t[i].name);
    t[i].ndims = r->t[i].ndims;
    memcpy(t[i].dims, r->t[i].dims, sizeof r->t[i].dims);
    t[i].data = params + r->t[i].offset;
  }
  *out = t;
  *n = r->n;
  return MN_OK;
}

static int is_safetensors(const char *file) {
  size_t n = strlen(file), k = strlen(".safetensors");
  return n > k && !strcmp(file + n - k, ".safetensors");
}

/* The optimizer kind whose state a snapshot holds (its config's optimizer.kind; sgd before
 * the key existed). */
const mn_optim_kind_t *mn_trainstate_kind(const mn_snapshot_meta_t *meta) {
  char name[32];
  const mn_optim_kind_t *kind = NULL;
  if (meta->config && mn_config_text_value(meta->config, "optimizer", "kind", name, sizeof name))
    kind = mn_optim_kind_named(name);
  return kind ? kind : &mn_optim_sgd;
}

/* Every tensor of snapshot path into params (host, laid out as m->params), its optimizer's
 * states into scratch that is dropped. */
static mn_status_t read_snapshot_params(const char *path, const mn_model_t *m, float *params) {
  mn_snapshot_meta_t meta;
  mn_status_t st = mn_snapshot_read_meta(path, &meta);
  if (st != MN_OK) return st;
  const mn_optim_kind_t *kind = mn_trainstate_kind(&meta);
  float *bufs[MN_TRAINSTATE_BUFS] = {params};
  size_t nbytes = (size_t)(m->nparams > 0 ? m->nparams : 1) * sizeof(float);
  for (int s = 0; st == MN_OK && s < kind->nstates; s++)
    if (!(bufs[1 + s] = malloc(nbytes))) st = mn_error(MN_ERR_NOMEM, "out of memory");
  mn_snapshot_tensor_t *t = NULL;
  int nt = 0;
  if (st == MN_OK) {
    st = mn_trainstate_tensors(m, kind, meta.format, bufs, &t, &nt);
    if (st == MN_ERR_DATA) st = mn_error(st, "%s: %s", path, mn_error_message());
  }
  if (st == MN_OK) st = mn_snapshot_read_tensors(path, t, nt);
  free(t);
  for (int s = 0; s < kind->nstates; s++) free(bufs[1 + s]);
  mn_snapshot_meta_free(&meta);
  return st;
}

mn_status_t mn_trainstate_read_params(const char *file, const mn_model_t *m, float *params) {
  /* the padding between tensors is never a file's: 0, as mn_model_init leaves it */
  memset(params, 0, (size_t)m->nparams * sizeof *params);
  if (mn_llmc_detect(file)) return mn_llmc_read(file, m, params); /* by its magic */
  if (!is_safetensors(file)) return read_snapshot_params(file, m, params);
  mn_snapshot_tensor_t *t = NULL;
  int nt = 0;
  mn_status_t st = mn_trainstate_torch_tensors(m, params, &t, &nt);
  if (st == MN_OK) st = mn_safetensors_read(file, t, nt);
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
  /* the model's own context, with the workspace its ops need */
  mn_model_spec_t *spec = malloc(sizeof *spec);
  if (!spec) return mn_error(MN_ERR_NOMEM, "out of memory");
  st = mn_model_spec_config(cfg, spec);
  if (st == MN_OK)
    st = mn_model_init(m, mn_kernels_cpu(), NULL, spec, max_batch, cfg->model.seed, NULL);
  free(spec);
  if (st != MN_OK) return st;
  st = mn_trainstate_read_params(path, m, m->params); /* a CPU model: host memory */
  if (st != MN_OK) mn_model_free(m);
  return st;
}
