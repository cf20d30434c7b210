/* model.c: the network of mn_model.h: wiring the layers of a spec, the registry and the
 * buffers, initialisation, and the passes, every op through the kernel table m->k in the
 * context m->ctx.
 *
 * Wiring (wire): each layer in order gets its input widths from the activations it reads,
 * builds (declares its tensors, sets its output width), and its output becomes the next
 * activation. Then the registry lays the tensors out.
 *
 * Backward bookkeeping, fixed at init: the layers run in reverse; an activation's gradient
 * is overwritten by the first layer that writes it in that order and added into by the
 * later ones (din_add); a tensor's gradient likewise (grad_add), unless the backward
 * accumulates a later micro-batch, where every write adds. ready[i] is how much of the
 * gradient buffer is final once layer i's backward is done: every tensor first declared by
 * a layer at or after i (the layout puts them first). An element-wise layer that is its
 * input's only consumer shares its gradient buffer (grad_in_place).
 *
 * Scratch: one buffer per activation and one per activation gradient (or shared, above),
 * each [max_batch x seq, width]; each layer's saved floats. No allocation after init; the
 * kernels' scratch is the context's workspace, which the caller sizes by
 * mn_model_workspace_nbytes(). The weights are drawn on the host and uploaded, so that they
 * are the same bits on every back end. */
#include "mn_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mn_log.h"

struct mn_model_act {
  int width;
  int producer; /* the layer that writes it */
  int consumers;
  float *x, *dx; /* dx may be another activation's (shared) */
  int dx_owned;
};

/* How layer i's backward writes (the file's paragraph), when it does not accumulate. */
struct mn_model_bwd {
  char din_add[MN_LAYER_MAX_IN];
  char grad_add[MN_LAYER_MAX_PARAMS];
};

mn_status_t mn_layer_declare(mn_layer_t *l, mn_tensors_t *r, const char *suffix, int ndims,
                             const int64_t *dims, mn_role_t role) {
  char name[MN_TENSOR_NAME_MAX];
  if (l->nparam >= MN_LAYER_MAX_PARAMS ||
      snprintf(name, sizeof name, "%s%s%s", l->name, l->name[0] ? "." : "", suffix) >=
          (int)sizeof name)
    return mn_error(MN_ERR_INTERNAL, "model: layer %s: too many tensors or too long a name",
                    l->name);
  int i = mn_tensors_declare(r, name, ndims, dims, role);
  if (i < 0) return (mn_status_t)i;
  l->param[l->nparam++] = i;
  return MN_OK;
}

/* Build every layer of spec in order into r (mn_model_declare). */
mn_status_t mn_model_declare(mn_model_spec_t *spec, mn_tensors_t *r) {
  if (spec->nlayers < 1 || spec->nlayers > MN_MODEL_MAX_LAYERS || spec->in_width < 1 ||
      spec->seq < 1)
    return mn_error(MN_ERR_CONFIG, "model: %d layers, input width %d, %d rows per sample",
                    spec->nlayers, spec->in_width, spec->seq);
  for (int i = 0; i < spec->nlayers; i++) {
    mn_layer_t *l = &spec->layers[i];
    l->out = i;
    l->nparam = 0;
    if (!l->kind || l->nin < 1 || l->nin > MN_LAYER_MAX_IN)
      return mn_error(MN_ERR_INTERNAL, "model: layer %d (%s) is not set up", i, l->name);
    for (int j = 0; j < l->nin; j++) {
      if (l->in[j] < -1 || l->in[j] >= i)
        return mn_error(MN_ERR_INTERNAL, "model: layer %s reads activation %d", l->name, l->in[j]);
      l->in_width[j] = l->in[j] < 0 ? spec->in_width : spec->layers[l->in[j]].out_width;
    }
    mn_status_t st = l->kind->build(l, r);
    if (st != MN_OK) return st;
  }
  return MN_OK;
}

/* Build every layer of spec in order into r, and lay r out. */
static mn_status_t wire(mn_model_spec_t *spec, mn_tensors_t *r) {
  mn_status_t st = mn_model_declare(spec, r);
  if (st == MN_OK) mn_tensors_layout(r);
  return st;
}

mn_status_t mn_model_size(const mn_model_spec_t *spec, int64_t *nparams, int64_t *values) {
  mn_model_spec_t *s = malloc(sizeof *s);
  mn_tensors_t r = {0};
  if (!s) return mn_error(MN_ERR_NOMEM, "model: out of memory");
  *s = *spec;
  mn_status_t st = wire(s, &r);
  if (st == MN_OK && nparams) *nparams = r.size;
  if (st == MN_OK && values) *values = r.values;
  mn_tensors_free(&r);
  free(s);
  return st;
}

void mn_model_free(mn_model_t *m) {
  const mn_kernels_t *k = m->k;
  if (k) {
    for (int i = 0; m->acts && i < m->nacts; i++) {
      k->release(m->acts[i].x);
      if (m->acts[i].dx_owned) k->release(m->acts[i].dx);
    }
    for (int i = 0; m->saved && i < m->spec.nlayers; i++) k->release(m->saved[i]);
    if (m->own_grads) k->release(m->grads);
    if (!m->shared) k->release(m->params);
    k->release(m->own_ctx.workspace);
  }
  free(m->acts);
  free(m->saved);
  free(m->ready);
  free(m->bwd);
  if (!m->shared) mn_tensors_free(&m->tensors);
  memset(m, 0, sizeof *m);
}

/* Consumers of each activation, who produces it, and which share their gradient. */
static void plan_acts(mn_model_t *m) {
  const mn_model_spec_t *s = &m->spec;
  for (int i = 0; i < s->nlayers; i++) {
    m->acts[i].width = s->layers[i].out_width;
    m->acts[i].producer = i;
    for (int j = 0; j < s->layers[i].nin; j++)
      if (s->layers[i].in[j] >= 0) m->acts[s->layers[i].in[j]].consumers++;
  }
}

static mn_status_t alloc_buffers(mn_model_t *m, float *grads) {
  const mn_kernels_t *k = m->k;
  const mn_model_spec_t *s = &m->spec;
  int64_t rows = (int64_t)m->max_batch * s->seq;
  if (!m->shared) m->params = k->alloc((size_t)(m->nparams > 0 ? m->nparams : 1) * sizeof(float));
  m->own_grads = grads == NULL;
  m->grads = grads ? grads : k->alloc((size_t)(m->nparams > 0 ? m->nparams : 1) * sizeof(float));
  if (!m->params || !m->grads) return MN_ERR_NOMEM;
  /* forward: every activation; backward: gradients in reverse, sharing where allowed */
  for (int i = 0; i < m->nacts; i++)
    if (!(m->acts[i].x = k->alloc((size_t)(rows * m->acts[i].width) * sizeof(float))))
      return MN_ERR_NOMEM;
  for (int i = m->nacts - 1; i >= 0; i--) {
    const mn_layer_t *l = &s->layers[i];
    mn_model_act_t *a = &m->acts[i];
    if (!a->dx) {
      a->dx = k->alloc((size_t)(rows * a->width) * sizeof(float));
      a->dx_owned = 1;
      if (!a->dx) return MN_ERR_NOMEM;
    }
    int in = l->in[0];
    if (l->kind->grad_in_place && l->nin == 1 && in >= 0 && m->acts[in].consumers == 1 &&
        m->acts[in].width == a->width)
      m->acts[in].dx = a->dx;
  }
  for (int i = 0; i < s->nlayers; i++) {
    const mn_layer_t *l = &s->layers[i];
    int64_t n = l->kind->saved_floats ? l->kind->saved_floats(l, m->max_batch, s->seq) : 0;
    if (n > 0 && !(m->saved[i] = k->alloc((size_t)n * sizeof(float)))) return MN_ERR_NOMEM;
  }
  return MN_OK;
}

/* ready[i] and the overwrite-or-add plan of each layer's backward (the file's paragraph). */
static mn_status_t plan_backward(mn_model_t *m) {
  const mn_model_spec_t *s = &m->spec;
  int nt = m->tensors.n > 0 ? m->tensors.n : 1;
  int *first = malloc(sizeof *first * (size_t)nt);
  char *t_written = calloc((size_t)nt, 1), *a_written = calloc((size_t)m->nacts, 1);
  mn_status_t st = first && t_written && a_written ? MN_OK : MN_ERR_NOMEM;
  for (int t = 0; st == MN_OK && t < m->tensors.n; t++) first[t] = -1;
  for (int i = 0; st == MN_OK && i < s->nlayers; i++)
    for (int j = 0; j < s->layers[i].nparam; j++)
      if (first[s->layers[i].param[j]] < 0) first[s->layers[i].param[j]] = i;
  for (int i = s->nlayers - 1; st == MN_OK && i >= 0; i--) {
    const mn_layer_t *l = &s->layers[i];
    int64_t ready = m->nparams;
    for (int t = 0; t < m->tensors.n; t++)
      if (first[t] < i && m->tensors.t[t].offset < ready) ready = m->tensors.t[t].offset;
    m->ready[i] = ready;
    for (int j = 0; j < l->nin; j++)
      if (l->in[j] >= 0) {
        m->bwd[i].din_add[j] = a_written[l->in[j]];
        a_written[l->in[j]] = 1;
      }
    for (int j = 0; j < l->nparam; j++) {
      m->bwd[i].grad_add[j] = t_written[l->param[j]];
      t_written[l->param[j]] = 1;
    }
  }
  free(first);
  free(t_written);
  free(a_written);
  return st;
}

static mn_status_t init_params(mn_model_t *m, uint64_t seed) {
  float *host = calloc((size_t)(m->nparams > 0 ? m->nparams : 1), sizeof *host);
  if (!host) return MN_ERR_NOMEM;
  /* a shared buffer keeps the values of the tensors that are not the model's */
  if (m->shared) m->k->download(m->ctx, host, m->params, (size_t)m->nparams * sizeof *host);
  /* last layer first, so that a tied tensor keeps the values of its first user (the one
   * that declared it: GPT-2's token embedding, not the head that reuses it) */
  for (int i = m->spec.nlayers - 1; i >= 0; i--) {
    const mn_layer_t *l = &m->spec.layers[i];
    if (l->kind->init) l->kind->init(l, &m->tensors, seed, host);
  }
  m->k->upload(m->ctx, m->params, host, (size_t)m->nparams * sizeof *host);
  free(host);
  return MN_OK;
}

/* The model of spec (wired into t->tensors already, laid out) on its buffers: the part of
 * mn_model_init and mn_model_init_shared after the wiring. t: k, ctx, spec, max_batch,
 * tensors and (shared) params set. */
static mn_status_t build(mn_model_t *m, mn_model_t *t, const mn_kctx_t *ctx, uint64_t seed,
                         float *grads) {
  const mn_kernels_t *k = t->k;
  t->nparams = t->tensors.size;
  t->nacts = t->spec.nlayers;
  t->width = t->spec.layers[t->nacts - 1].out_width;
  t->classes = t->spec.classes > 0 ? t->spec.classes : t->width;
  if (t->classes > t->width) {
    if (!t->shared) mn_tensors_free(&t->tensors);
    return mn_error(MN_ERR_INTERNAL, "model: %d classes of %d logits", t->classes, t->width);
  }
  /* its own parameters: the tensors its layers use (a shared registry holds others too) */
  unsigned char *mine = calloc((size_t)(t->tensors.n > 0 ? t->tensors.n : 1), 1);
  t->acts = calloc((size_t)t->nacts, sizeof *t->acts);
  t->saved = calloc((size_t)t->nacts, sizeof *t->saved);
  t->ready = calloc((size_t)t->nacts, sizeof *t->ready);
  t->bwd = calloc((size_t)t->nacts, sizeof *t->bwd);
  mn_status_t st = mine && t->acts && t->saved && t->ready && t->bwd ? MN_OK : MN_ERR_NOMEM;
  for (int i = 0; st == MN_OK && i < t->nacts; i++)
    for (int j = 0; j < t->spec.layers[i].nparam; j++) mine[t->spec.layers[i].param[j]] = 1;
  for (int i = 0; st == MN_OK && i < t->tensors.n; i++)
    if (mine[i]) t->values += t->tensors.t[i].count;
  free(mine);
  if (st == MN_OK) {
    plan_acts(t);
    st = plan_backward(t);
  }
  if (st == MN_OK) st = alloc_buffers(t, grads);
  if (st == MN_OK && !ctx) {
    t->own_ctx = *mn_kctx_default();
    t->own_ctx.workspace_nbytes = mn_model_workspace_nbytes(t);
    t->own_ctx.workspace = k->alloc(t->own_ctx.workspace_nbytes ? t->own_ctx.workspace_nbytes : 1);
    if (!t->own_ctx.workspace) st = MN_ERR_NOMEM;
  }
  if (st == MN_OK) st = init_params(t, seed); /* (t->ctx: start's) */
  if (st != MN_OK) {
    st = mn_error(MN_ERR_NOMEM,
                  "model: cannot allocate %lld parameters and the activations for batch %d",
                  (long long)t->values, t->max_batch);
    t->own_grads = grads == NULL && t->grads != NULL;
    mn_model_free(t);
    return st;
  }
  *m = *t;
  if (!ctx) m->ctx = &m->own_ctx;
  return MN_OK;
}

/* The checks and fields common to both inits. */
static mn_status_t start(mn_model_t *t, const mn_kernels_t *k, const mn_kctx_t *ctx,
                         const mn_model_spec_t *spec, int max_batch) {
  memset(t, 0, sizeof *t);
  if (!k) return mn_error(MN_ERR_INTERNAL, "model: no kernel table");
  if (max_batch < 1)
    return mn_error(MN_ERR_CONFIG, "model: batch size %d, must be >= 1", max_batch);
  t->k = k;
  t->ctx = ctx ? ctx : &t->own_ctx; /* (set again once t is copied to m) */
  t->spec = *spec;
  t->max_batch = max_batch;
  return MN_OK;
}

mn_status_t mn_model_init(mn_model_t *m, const mn_kernels_t *k, const mn_kctx_t *ctx,
                          const mn_model_spec_t *spec, int max_batch, uint64_t seed, float *grads) {
  mn_model_t t;
  mn_status_t st = start(&t, k, ctx, spec, max_batch);
  if (st != MN_OK) return st;
  st = wire(&t.spec, &t.tensors);
  if (st != MN_OK) {
    mn_tensors_free(&t.tensors);
    return st;
  }
  return build(m, &t, ctx, seed, grads);
}

mn_status_t mn_model_init_shared(mn_model_t *m, const mn_kernels_t *k, const mn_kctx_t *ctx,
                                 const mn_model_spec_t *spec, const mn_tensors_t *r, float *params,
                                 float *grads, int max_batch, uint64_t seed) {
  mn_model_t t;
  mn_status_t st = start(&t, k, ctx, spec, max_batch);
  if (st != MN_OK) return st;
  if (!r->laid_out || !params || !grads)
    return mn_error(MN_ERR_INTERNAL, "model: a shared registry laid out, and its buffers");
  t.shared = 1;
  t.tensors = *r;
  t.params = params;
  return build(m, &t, ctx, seed, grads);
}

double mn_model_flops_per_row(const mn_model_t *m) {
  double flops = 6.0 * (double)m->values;
  for (int i = 0; i < m->spec.nlayers; i++)
    if (m->spec.layers[i].kind == &mn_layer_attention)
      flops += 6.0 * m->spec.layers[i].out_width * m->spec.seq;
  return flops;
}

size_t mn_model_workspace_nbytes(const mn_model_t *m) {
  int rows = m->max_batch * m->spec.seq;
  size_t need = m->k->classifier_xent_workspace(rows, m->width);
  for (int i = 0; i < m->spec.nlayers; i++) {
    const mn_layer_t *l = &m->spec.layers[i];
    size_t n = l->kind->workspace ? l->kind->workspace(l, m->k, m->max_batch, m->spec.seq) : 0;
    if (n > need) need = n;
  }
  return need;
}

/* ---- forward, loss, backward -------------------------------------------------------- */

static void pass_of(const mn_model_t *m, int i, const void *x, int batch, mn_pass_t *p) {
  const mn_layer_t *l = &m->spec.layers[i];
  memset(p, 0, sizeof *p);
  p->k = m->k;
  p->ctx = m->ctx;
  p->batch = batch;
  p->seq = m->spec.seq;
  p->params = m->params;
  p->grads = m->grads;
  p->tensors = &m->tensors;
  p->saved = m->saved[i];
  p->out = m->acts[i].x;
  p->dout = m->acts[i].dx;
  for (int j = 0; j < l->nin; j++) {
    int a = l->in[j];
    p->in[j] = a < 0 ? (const float *)x : m->acts[a].x;
    p->din[j] = a < 0 ? NULL : m->acts[a].dx;
  }
}

void mn_model_forward(mn_model_t *m, const void *x, int batch) {
  MN_ASSERT(batch >= 1 && batch <= m->max_batch);
  for (int i = 0; i < m->spec.nlayers; i++) {
    mn_pass_t p;
    pass_of(m, i, x, batch, &p);
    m->spec.layers[i].kind->forward(&m->spec.layers[i], &p);
  }
}

const float *mn_model_logits(const mn_model_t *m) { return m->acts[m->nacts - 1].x; }

void mn_model_loss(mn_model_t *m, const int32_t *y, int batch, float grad_scale, double *loss_sum,
                   int64_t *correct) {
  MN_ASSERT(batch >= 1 && batch <= m->max_batch);
  float *dlogits = grad_scale != 0.0f ? m->acts[m->nacts - 1].dx : NULL;
  m->k->classifier_xent(m->ctx, mn_model_logits(m), y, batch * m->spec.seq, m->classes, m->width,
                        grad_scale, dlogits, loss_sum, correct);
}

void mn_model_backward(mn_model_t *m, const void *x, int batch, int accumulate) {
  MN_ASSERT(batch >= 1 && batch <= m->max_batch);
  const mn_model_spec_t *s = &m->spec;
  int64_t sent = 0;
  for (int i = s->nlayers - 1; i >= 0; i--) {
    const mn_layer_t *l = &s->layers[i];
    mn_pass_t p;
    pass_of(m, i, x, batch, &p);
    for (int j = 0; j < l->nin; j++) p.din_add[j] = m->bwd[i].din_add[j];
    for (int j = 0; j < l->nparam; j++) p.grad_add[j] = accumulate || m->bwd[i].grad_add[j];
    l->kind->backward(l, &p);
    if (m->on_grads && m->ready[i] > sent) m->on_grads(m->on_grads_arg, sent = m->ready[i]);
  }
}
