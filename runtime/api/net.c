/* net.c: mn/net.h: the runtime's models (mn_model.h) over a trainer's registry.
 *
 * mn_net_create declares the spec's tensors into the registry (mn_model_declare) after a
 * dry run into a registry of its own, which finds the names the trainer holds already.
 * The registry's commit calls mn_api_net_build for each of its nets, which builds the model
 * over the registry's flat buffers (mn_model_init_shared) in the world's kernel context,
 * reserves the workspace its ops need and sizes the device's input slots.
 *
 * Backward with send: the model says how much of the gradient buffer is final after each
 * layer (model->on_grads: grads[0, done)); every tensor of the net that starts below done
 * lies wholly below it, and is handed to the exchange then (mn_grads_ready), in buffer
 * order. */
#include <stdlib.h>
#include <string.h>

#include "mn_api.h"
#include "mn_trainstate.h"

/* desc into the runtime's spec. */
static mn_status_t spec_of(const mn_net_desc_t *d, mn_model_spec_t *spec) {
  if (d->kind == MN_NET_GPT) {
    mn_gpt_shape_t g = {d->vocab, d->context, d->layers, d->heads, d->width};
    return mn_model_spec_gpt(&g, spec);
  }
  if (d->kind != MN_NET_MLP)
    return MN_API_USAGE("mn_net_create", "kind %d is neither MN_NET_MLP nor MN_NET_GPT",
                        (int)d->kind);
  if (d->nwidths < 2 || d->nwidths > MN_NET_MAX_WIDTHS)
    return mn_error(MN_ERR_CONFIG, "mn_net_create: an MLP of %d widths (2 to %d)", d->nwidths,
                    MN_NET_MAX_WIDTHS);
  return mn_model_spec_mlp(d->widths, d->nwidths, spec);
}

/* Whether a tensor name of spec is one p holds: a dry run into a registry of its own. */
static mn_status_t check_names(const mn_params_t *p, const mn_model_spec_t *spec) {
  mn_model_spec_t *dry = malloc(sizeof *dry);
  mn_tensors_t r = {0};
  if (!dry) return mn_error(MN_ERR_NOMEM, "mn_net_create: out of memory");
  *dry = *spec;
  mn_status_t st = mn_model_declare(dry, &r);
  for (int i = 0; st == MN_OK && i < r.n; i++)
    if (mn_tensors_find(&p->tensors, r.t[i].name) >= 0)
      st = MN_API_USAGE("mn_net_create", "the registry holds \"%s\" already", r.t[i].name);
  mn_tensors_free(&r);
  free(dry);
  return st;
}

mn_status_t mn_net_create(mn_params_t *p, const mn_net_desc_t *d, mn_net_t **out) {
  if (!p || !d || !out) return MN_API_USAGE("mn_net_create", "p, desc or net is NULL");
  *out = NULL;
  if (p->committed) return MN_API_USAGE("mn_net_create", "after mn_params_commit");
  if (d->max_batch < 1) return MN_API_USAGE("mn_net_create", "max_batch %d < 1", d->max_batch);
  if (d->input_batch < 0)
    return MN_API_USAGE("mn_net_create", "input_batch %d < 0", d->input_batch);
  mn_net_t *n = calloc(1, sizeof *n);
  mn_model_spec_t *spec = malloc(sizeof *spec);
  mn_status_t st = n && spec ? MN_OK : mn_error(MN_ERR_NOMEM, "mn_net_create: out of memory");
  if (st == MN_OK) st = spec_of(d, spec);
  if (st == MN_OK) st = check_names(p, spec);
  if (st == MN_OK) st = mn_model_declare(spec, &p->tensors);
  if (st != MN_OK) {
    free(spec);
    free(n);
    return st;
  }
  n->p = p;
  n->spec = spec;
  n->max_batch = d->max_batch;
  n->input_batch = d->input_batch > 0 ? d->input_batch : d->max_batch;
  n->seed = d->seed;
  n->next = p->nets;
  p->nets = n;
  *out = n;
  return MN_OK;
}

void mn_net_free(mn_net_t *n) {
  if (!n) return;
  if (n->p) /* unlink */
    for (mn_net_t **q = &n->p->nets; *q; q = &(*q)->next)
      if (*q == n) {
        *q = n->next;
        break;
      }
  if (n->built) mn_model_free(&n->model);
  free(n->spec);
  free(n->mine);
  free(n->sent);
  free(n);
}

static void on_grads(void *arg, int64_t done);

mn_status_t mn_api_net_build(mn_net_t *n) {
  mn_params_t *p = n->p;
  mn_world_t *w = p->w;
  mn_device_t *dev = &w->dev;
  n->mine = calloc((size_t)p->tensors.n, 1);
  n->sent = calloc((size_t)p->tensors.n, 1);
  if (!n->mine || !n->sent) return mn_error(MN_ERR_NOMEM, "mn_params_commit: out of memory");
  mn_status_t st = mn_model_init_shared(&n->model, w->k, &dev->ctx, n->spec, &p->tensors, p->params,
                                        p->grads, n->max_batch, n->seed);
  if (st != MN_OK) return st;
  n->built = 1;
  for (int i = 0; i < n->spec->nlayers; i++)
    for (int j = 0; j < n->model.spec.layers[i].nparam; j++)
      n->mine[n->model.spec.layers[i].param[j]] = 1;
  n->model.on_grads = on_grads;
  n->model.on_grads_arg = n;
  st = mn_device_workspace_reserve(dev, mn_model_workspace_nbytes(&n->model));
  if (st != MN_OK) return st;
  int xw = mn_net_input_width(n), yw = mn_net_label_width(n);
  if (dev->slot_batch == 0) return mn_device_input_init(dev, n->input_batch, xw, yw);
  if (dev->slot_batch < n->input_batch || dev->slot_dim != xw || dev->slot_label_width != yw)
    return MN_API_USAGE("mn_params_commit", "a second net of another input: one input per world");
  return MN_OK;
}

int mn_net_input_width(const mn_net_t *n) {
  return !n ? 0 : n->spec->tokens ? n->spec->seq : n->spec->in_width;
}
int mn_net_input_tokens(const mn_net_t *n) { return n ? n->spec->tokens : 0; }
int mn_net_label_width(const mn_net_t *n) { return n ? n->spec->seq : 0; }
int mn_net_classes(const mn_net_t *n) {
  if (!n) return 0;
  if (n->spec->classes > 0) return n->spec->classes;
  return n->built ? n->model.width : 0;
}
int64_t mn_net_values(const mn_net_t *n) { return n && n->built ? n->model.values : 0; }
double mn_net_flops_per_sample(const mn_net_t *n) {
  return n && n->built ? mn_model_flops_per_row(&n->model) * n->spec->seq : 0;
}

/* The net after its commit, or a usage error of fn. */
static mn_status_t ready(const char *fn, const mn_net_t *n) {
  if (!n) return mn_error(MN_ERR_USAGE, "%s: net is NULL", fn);
  if (!n->p) return mn_error(MN_ERR_USAGE, "%s: its parameters were freed", fn);
  if (!n->built) return mn_error(MN_ERR_USAGE, "%s: before mn_params_commit", fn);
  return MN_OK;
}

static mn_status_t check_batch(const char *fn, int batch, int max) {
  if (batch < 1 || batch > max)
    return mn_error(MN_ERR_USAGE, "%s: a batch of %d samples (1 to %d)", fn, batch, max);
  return MN_OK;
}

mn_status_t mn_net_input(mn_net_t *n, const void *x, const int32_t *y, int count,
                         const void **x_dev, const int32_t **y_dev) {
  mn_status_t st = ready("mn_net_input", n);
  if (st == MN_OK) st = check_batch("mn_net_input", count, n->input_batch);
  if (st == MN_OK && (!x || !y || !x_dev || !y_dev))
    st = MN_API_USAGE("mn_net_input", "x, y, x_dev or y_dev is NULL");
  if (st != MN_OK) return st;
  mn_device_input_put(&n->p->w->dev, x, y, count, x_dev, y_dev);
  return MN_OK;
}

void mn_net_input_done(mn_net_t *n) {
  if (ready("mn_net_input_done", n) == MN_OK) mn_device_input_done(&n->p->w->dev);
}

mn_status_t mn_net_forward(mn_net_t *n, const void *x, int batch) {
  mn_status_t st = ready("mn_net_forward", n);
  if (st == MN_OK) st = check_batch("mn_net_forward", batch, n->max_batch);
  if (st == MN_OK && !x) st = MN_API_USAGE("mn_net_forward", "x is NULL");
  if (st != MN_OK) return st;
  mn_model_forward(&n->model, x, batch);
  n->last_batch = batch;
  return MN_OK;
}

/* The last forward's batch, or a usage error of fn. */
static mn_status_t after_forward(const char *fn, const mn_net_t *n, int batch) {
  mn_status_t st = ready(fn, n);
  if (st == MN_OK && batch != n->last_batch)
    st = n->last_batch ? mn_error(MN_ERR_USAGE, "%s: a batch of %d, the forward's was %d", fn,
                                  batch, n->last_batch)
                       : mn_error(MN_ERR_USAGE, "%s: before mn_net_forward", fn);
  return st;
}

mn_status_t mn_net_loss(mn_net_t *n, const int32_t *y, int batch, float grad_scale,
                        double *loss_sum, int64_t *correct) {
  mn_status_t st = after_forward("mn_net_loss", n, batch);
  if (st == MN_OK && !y) st = MN_API_USAGE("mn_net_loss", "y is NULL");
  if (st != MN_OK) return st;
  double loss;
  int64_t right;
  mn_model_loss(&n->model, y, batch, grad_scale, &loss, &right);
  if (loss_sum) *loss_sum = loss;
  if (correct) *correct = right;
  return MN_OK;
}

/* model->on_grads: grads[0, done) are final; hand the net's tensors below done over. */
static void on_grads(void *arg, int64_t done) {
  mn_net_t *n = arg;
  const mn_tensors_t *r = &n->p->tensors;
  for (int i = r->n - 1; i >= 0; i--) /* buffer order: the last added first */
    if (n->mine[i] && !n->sent[i] && r->t[i].offset < done) {
      n->sent[i] = 1;
      if (n->send_status == MN_OK) n->send_status = mn_grads_ready(n->p, i);
    }
}

mn_status_t mn_net_backward(mn_net_t *n, const void *x, int batch, int accumulate, int send) {
  mn_status_t st = after_forward("mn_net_backward", n, batch);
  if (st == MN_OK && !x) st = MN_API_USAGE("mn_net_backward", "x is NULL");
  if (st == MN_OK && send && !n->p->open)
    st = MN_API_USAGE("mn_net_backward", "send outside mn_grads_begin/end");
  if (st != MN_OK) return st;
  memset(n->sent, 0, (size_t)n->p->tensors.n);
  n->send_status = MN_OK;
  n->model.on_grads = send ? on_grads : NULL;
  mn_model_backward(&n->model, x, batch, accumulate != 0);
  n->model.on_grads = on_grads;
  return n->send_status;
}

const float *mn_net_logits(const mn_net_t *n) {
  return n && n->built && n->last_batch ? mn_model_logits(&n->model) : NULL;
}
int mn_net_logits_width(const mn_net_t *n) { return n && n->built ? n->model.width : 0; }

mn_status_t mn_net_load(mn_net_t *n, const char *file) {
  mn_status_t st = ready("mn_net_load", n);
  if (st == MN_OK && !file) st = MN_API_USAGE("mn_net_load", "file is NULL");
  if (st == MN_OK && n->model.values != n->p->tensors.values)
    st = MN_API_USAGE("mn_net_load", "the registry holds tensors of another's: a net's weights "
                                     "are loaded into a registry of its own");
  if (st != MN_OK) return st;
  mn_world_t *w = n->p->w;
  size_t nbytes = (size_t)n->model.nparams * sizeof(float);
  float *host = malloc(nbytes);
  st = host ? MN_OK : mn_error(MN_ERR_NOMEM, "mn_net_load: out of memory");
  if (st == MN_OK && mn_world_rank(w) == 0) st = mn_trainstate_read_params(file, &n->model, host);
  st = mn_agree(w, st, NULL);
  if (st == MN_OK) st = mn_broadcast(w, host, n->model.nparams, MN_FLOAT32, 0);
  if (st == MN_OK) w->k->upload(&w->dev.ctx, n->model.params, host, nbytes);
  free(host);
  return st;
}
