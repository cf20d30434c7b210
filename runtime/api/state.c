/* state.c: snapshots of a trainer of the public API, and resuming from them (mn/state.h).
 *
 * The runtime's snapshot machinery does the work: rank 0 locks the directory
 * (mn_snapdir.h), its background writer copies the state and writes the file atomically
 * (mn_snapwriter.h, mn_snapshot.h), and a resume reads the newest valid file through the
 * same validation mninfo uses. What this file adds is the API's view of a snapshot:
 *
 *   params/<name>, optim/<kind>/<state>/<name>   the registry and the optimizer's states,
 *                                               named as mntrain names them (mn_trainstate.h)
 *   user/<name>                                 each blob, a uint8 tensor with its CRC
 *   step                                        the optimizer's step count
 *   config                                      "api.version = 1", the optimizer's kind and
 *                                               settings, and one line per attribute:
 *                                               user.int.<name> = 42, user.real.<name> =
 *                                               0.25 (%.17g: exact), user.blob.<name> = <bytes>
 *
 * A trainer has no dataset mn knows of, so the metadata's data identity holds the smallest
 * values its validation takes (docs/snapshot-format.md: data_n 1, batch 1, epoch and epoch_pos
 * 0, samples = step) and shape_hash is a hash of the tensors' names and shapes and the
 * optimizer's kind. Every collective runs on the world's communicator and ends in
 * mn_comm_settle, so that every rank returns the same status. */
#include "mn_api.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mn_clock.h"
#include "mn_log.h"
#include "mn_snapshot.h"
#include "mn_snapwriter.h"
#include "mn_trainstate.h"

#define API_VERSION 1
#define BLOB_MAX ((size_t)1 << 20) /* bytes of one blob */

typedef enum { ATTR_INT = 0, ATTR_REAL = 1, ATTR_BLOB = 2 } attr_kind_t;
static const char *const g_kind_names[] = {"int", "real", "blob"};

typedef struct attr {
  char name[MN_STATE_KEY_MAX];
  attr_kind_t kind;
  int64_t i;
  double r;
  unsigned char *blob; /* ATTR_BLOB: [nbytes] (malloc'd, at least 1 byte) */
  size_t nbytes;
} attr_t;

typedef struct attrs {
  attr_t *a;
  int n, cap;
} attrs_t;

struct mn_state {
  mn_params_t *p;
  mn_optimizer_t *o;
  mn_world_t *w;
  char dir[4096];
  int keep;
  mn_snapshot_lock_t *lock; /* rank 0 */
  mn_snapwriter_t *writer;  /* rank 0 */
  attrs_t attrs;
  double elapsed0, t_open; /* training time before this run (a resume's), and its start */
  char from[4096];         /* the snapshot resumed from ("": none) */
  mn_metrics_t *metrics;   /* each write's outcome recorded there too (NULL: none) */
  /* the trainer's description of its run (mn_state_set_run), and its fits function */
  int described;
  mn_state_run_t run; /* run.config: run_config */
  char *run_config;
  mn_state_fits_fn fits;
  void *fits_arg;
  /* the resumed snapshot's description (mn_state_get_run; got.config: got_config) */
  int got;
  mn_state_run_t got_run;
  char *got_config;
};

/* ---- the attributes ------------------------------------------------------------------ */

static void attrs_free(attrs_t *t) {
  for (int i = 0; i < t->n; i++) free(t->a[i].blob);
  free(t->a);
  memset(t, 0, sizeof *t);
}

static attr_t *attrs_find(const attrs_t *t, const char *name) {
  for (int i = 0; i < t->n; i++)
    if (!strcmp(t->a[i].name, name)) return &t->a[i];
  return NULL;
}

/* The attribute called name, added (zeroed, but for its name) when there is none. NULL: out
 * of memory. */
static attr_t *attrs_get(attrs_t *t, const char *name) {
  attr_t *a = attrs_find(t, name);
  if (a) return a;
  if (t->n == t->cap) {
    int cap = t->cap ? 2 * t->cap : 8;
    attr_t *grown = realloc(t->a, (size_t)cap * sizeof *grown);
    if (!grown) return NULL;
    t->a = grown;
    t->cap = cap;
  }
  a = &t->a[t->n++];
  memset(a, 0, sizeof *a);
  snprintf(a->name, sizeof a->name, "%s", name);
  return a;
}

/* Whether name is one the API takes ("" when it is; else what is wrong with it, for the
 * message "attribute name ..."). */
static const char *name_problem(const char *name, char *why, size_t len) {
  if (!name) return "is NULL";
  size_t n = strnlen(name, MN_STATE_KEY_MAX);
  if (n == 0) return "is empty";
  if (n == MN_STATE_KEY_MAX) {
    snprintf(why, len, "'%.20s...' is too long (%d bytes at most)", name, MN_STATE_KEY_MAX - 1);
    return why;
  }
  if (name[0] == '.') {
    snprintf(why, len, "'%s' begins with '.'", name);
    return why;
  }
  for (const char *c = name; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
          *c == '_' || *c == '.')) {
      snprintf(why, len, "'%s' holds '%c' (letters, digits, '_' and '.' only)", name, *c);
      return why;
    }
  return "";
}

#define CHECK_NAME(fn, name)                                                                       \
  do {                                                                                             \
    char why_[128];                                                                                \
    const char *problem_ = name_problem((name), why_, sizeof why_);                                \
    if (problem_[0]) return MN_API_USAGE(fn, "attribute name %s", problem_);                       \
  } while (0)

mn_status_t mn_state_set_int(mn_state_t *s, const char *name, int64_t value) {
  if (!s) return MN_API_USAGE("mn_state_set_int", "NULL state");
  CHECK_NAME("mn_state_set_int", name);
  attr_t *a = attrs_get(&s->attrs, name);
  if (!a) return mn_error(MN_ERR_NOMEM, "mn_state_set_int: out of memory");
  free(a->blob);
  a->blob = NULL;
  a->kind = ATTR_INT;
  a->i = value;
  return MN_OK;
}

mn_status_t mn_state_set_real(mn_state_t *s, const char *name, double value) {
  if (!s) return MN_API_USAGE("mn_state_set_real", "NULL state");
  CHECK_NAME("mn_state_set_real", name);
  attr_t *a = attrs_get(&s->attrs, name);
  if (!a) return mn_error(MN_ERR_NOMEM, "mn_state_set_real: out of memory");
  free(a->blob);
  a->blob = NULL;
  a->kind = ATTR_REAL;
  a->r = value;
  return MN_OK;
}

mn_status_t mn_state_set_blob(mn_state_t *s, const char *name, const void *data, size_t nbytes) {
  if (!s) return MN_API_USAGE("mn_state_set_blob", "NULL state");
  CHECK_NAME("mn_state_set_blob", name);
  if (nbytes > BLOB_MAX)
    return MN_API_USAGE("mn_state_set_blob",
                        "blob %s of %zu bytes is too large (%zu bytes, 1 MiB, at most)", name,
                        nbytes, BLOB_MAX);
  if (!data && nbytes > 0) return MN_API_USAGE("mn_state_set_blob", "blob %s: NULL data", name);
  unsigned char *copy = malloc(nbytes ? nbytes : 1);
  if (!copy) return mn_error(MN_ERR_NOMEM, "mn_state_set_blob: out of memory");
  attr_t *a = attrs_get(&s->attrs, name);
  if (!a) {
    free(copy);
    return mn_error(MN_ERR_NOMEM, "mn_state_set_blob: out of memory");
  }
  if (nbytes) memcpy(copy, data, nbytes);
  free(a->blob);
  a->kind = ATTR_BLOB;
  a->blob = copy;
  a->nbytes = nbytes;
  return MN_OK;
}

/* The attribute name of kind, for a get. */
static mn_status_t lookup(const mn_state_t *s, const char *fn, const char *name, attr_kind_t kind,
                          const attr_t **out) {
  const attr_t *a = attrs_find(&s->attrs, name);
  if (!a) return mn_error(MN_ERR_NOINPUT, "%s: no attribute %s", fn, name);
  if (a->kind != kind)
    return mn_error(MN_ERR_USAGE, "%s: attribute %s is a%s %s, not a%s %s", fn, name,
                    a->kind == ATTR_INT ? "n" : "", g_kind_names[a->kind],
                    kind == ATTR_INT ? "n" : "", g_kind_names[kind]);
  *out = a;
  return MN_OK;
}

mn_status_t mn_state_get_int(const mn_state_t *s, const char *name, int64_t *value) {
  if (!s || !value) return MN_API_USAGE("mn_state_get_int", "NULL %s", s ? "value" : "state");
  CHECK_NAME("mn_state_get_int", name);
  const attr_t *a;
  mn_status_t st = lookup(s, "mn_state_get_int", name, ATTR_INT, &a);
  if (st == MN_OK) *value = a->i;
  return st;
}

mn_status_t mn_state_get_real(const mn_state_t *s, const char *name, double *value) {
  if (!s || !value) return MN_API_USAGE("mn_state_get_real", "NULL %s", s ? "value" : "state");
  CHECK_NAME("mn_state_get_real", name);
  const attr_t *a;
  mn_status_t st = lookup(s, "mn_state_get_real", name, ATTR_REAL, &a);
  if (st == MN_OK) *value = a->r;
  return st;
}

mn_status_t mn_state_get_blob(const mn_state_t *s, const char *name, void *data, size_t cap,
                              size_t *nbytes) {
  if (!s) return MN_API_USAGE("mn_state_get_blob", "NULL state");
  CHECK_NAME("mn_state_get_blob", name);
  if (!data && cap > 0) return MN_API_USAGE("mn_state_get_blob", "NULL data with cap %zu", cap);
  const attr_t *a;
  mn_status_t st = lookup(s, "mn_state_get_blob", name, ATTR_BLOB, &a);
  if (st != MN_OK) return st;
  if (cap > 0) memcpy(data, a->blob, a->nbytes < cap ? a->nbytes : cap);
  if (nbytes) *nbytes = a->nbytes;
  return MN_OK;
}

/* ---- the snapshot's metadata ----------------------------------------------------------- */

/* A growing heap string. */
typedef struct text {
  char *s;
  size_t len, cap;
  int failed;
} text_t;

static void text_printf(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_printf(text_t *t, const char *fmt, ...) {
  va_list ap;
  for (int pass = 0; pass < 2 && !t->failed; pass++) {
    va_start(ap, fmt);
    int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
      t->failed = 1;
    } else if (t->s && t->len + (size_t)n < t->cap) {
      t->len += (size_t)n;
      return;
    } else {
      size_t cap = 2 * (t->len + (size_t)n) + 256;
      char *s = realloc(t->s, cap);
      if (!s) t->failed = 1;
      t->s = s ? s : t->s;
      t->cap = s ? cap : t->cap;
    }
  }
}

/* FNV-1a over the registry's names and shapes and the optimizer's kind: the run's identity,
 * by which pruning leaves another run's snapshots alone. */
static uint64_t shape_hash(const mn_params_t *p, const mn_optim_kind_t *kind) {
  uint64_t h = 1469598103934665603ULL;
  char buf[256];
  for (int i = 0; i <= p->tensors.n; i++) {
    const mn_tensor_t *t = i < p->tensors.n ? &p->tensors.t[i] : NULL;
    int n = t ? snprintf(buf, sizeof buf, "%s:%d:%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ";",
                         t->name, t->ndims, t->dims[0], t->dims[1], t->dims[2], t->dims[3])
              : snprintf(buf, sizeof buf, "optim:%s", kind->name);
    for (int k = 0; k < n && k < (int)sizeof buf; k++)
      h = (h ^ (unsigned char)buf[k]) * 1099511628211ULL;
  }
  return h;
}

/* The metadata of a snapshot of s now (the file's comment says what each field holds). */
static mn_status_t make_meta(const mn_state_t *s, const char *reason, mn_snapshot_meta_t *m) {
  const mn_optim_t *o = &s->o->optim;
  memset(m, 0, sizeof *m);
  m->step = m->samples = s->o->steps;
  m->finished = !strcmp(reason, "final");
  snprintf(m->reason, sizeof m->reason, "%s", reason);
  m->world = s->w->comm.world;
  m->batch = 1;
  m->shape_hash = shape_hash(s->p, o->kind);
  m->data_n = 1;
  m->data_dim = 1;
  m->data_classes = 1;
  m->elapsed_s = s->elapsed0 + (mn_now_s() - s->t_open);
  m->loss = m->train_loss = m->val_loss = m->val_accuracy = NAN;
  text_t c = {0};
  if (s->described) { /* the trainer's account of its run, and its config in place of ours */
    const mn_state_run_t *r = &s->run;
    /* (what mn's reader checks of every file: a position the steps taken can reach) */
    if (m->step < r->epoch + (r->epoch_pos > 0) || r->samples < m->step)
      return MN_API_USAGE("mn_state_save",
                          "the run's position (epoch %lld, epoch_pos %lld, samples %lld) is "
                          "past its %lld steps, or short of them",
                          (long long)r->epoch, (long long)r->epoch_pos, (long long)r->samples,
                          (long long)m->step);
    m->epoch = r->epoch;
    m->epoch_pos = r->epoch_pos;
    m->samples = r->samples;
    m->batch = r->batch;
    m->model_seed = r->model_seed;
    m->data_seed = r->data_seed;
    if (r->run_hash) m->shape_hash = r->run_hash;
    m->loss = r->loss;
    m->train_loss = r->train_loss;
    m->val_loss = r->val_loss;
    m->val_accuracy = r->val_accuracy;
    if (r->data) {
      mn_status_t st = mn_api_data_identity(r->data, m);
      if (st != MN_OK) return st;
    }
    text_printf(&c, "%s", s->run_config ? s->run_config : "");
  } else {
    text_printf(&c, "api.version = %d\noptimizer.kind = %s\noptimizer.lr = %.17g\n", API_VERSION,
                o->kind->name, o->lr);
    if (o->kind == &mn_optim_adamw)
      text_printf(&c, "optimizer.beta1 = %.17g\noptimizer.beta2 = %.17g\noptimizer.eps = %.17g\n",
                  o->beta1, o->beta2, o->eps);
    else
      text_printf(&c, "optimizer.momentum = %.17g\noptimizer.nesterov = %d\n", o->momentum,
                  o->nesterov);
    text_printf(&c, "optimizer.weight_decay = %.17g\n", o->weight_decay);
  }
  for (int i = 0; i < s->attrs.n; i++) {
    const attr_t *a = &s->attrs.a[i];
    if (a->kind == ATTR_INT)
      text_printf(&c, "user.int.%s = %" PRId64 "\n", a->name, a->i);
    else if (a->kind == ATTR_REAL)
      text_printf(&c, "user.real.%s = %.17g\n", a->name, a->r);
    else
      text_printf(&c, "user.blob.%s = %zu\n", a->name, a->nbytes);
  }
  if (c.failed || !c.s) {
    free(c.s);
    mn_snapshot_meta_free(m);
    return mn_error(MN_ERR_NOMEM, "mn_state_save: out of memory describing the snapshot");
  }
  m->config = c.s;
  return MN_OK;
}

/* The blobs as snapshot tensors user/<name> over the attributes' bytes, into t (room for
 * attrs->n). Returns how many. */
static int put_blobs(const attrs_t *attrs, mn_snapshot_tensor_t *t) {
  int k = 0;
  for (int i = 0; i < attrs->n; i++) {
    const attr_t *a = &attrs->a[i];
    if (a->kind != ATTR_BLOB) continue;
    memset(&t[k], 0, sizeof t[k]);
    snprintf(t[k].name, sizeof t[k].name, "user/%s", a->name);
    t[k].ndims = 1;
    t[k].dims[0] = (int64_t)a->nbytes;
    t[k].dtype = MN_SNAPSHOT_U8;
    t[k].bytes = a->blob;
    k++;
  }
  return k;
}

/* The blobs as snapshot tensors (put_blobs). out: *t (malloc'd), *n. */
static mn_status_t blob_tensors(const attrs_t *attrs, mn_snapshot_tensor_t **out, int *n) {
  mn_snapshot_tensor_t *t = calloc((size_t)attrs->n + 1, sizeof *t);
  if (!t) return mn_error(MN_ERR_NOMEM, "mn_state_save: out of memory");
  *n = put_blobs(attrs, t);
  *out = t;
  return MN_OK;
}

/* ---- open and close -------------------------------------------------------------------- */

/* Rank 0's hold on the directory, the check that it can be written, and its writer. */
static mn_status_t open_dir(mn_state_t *s) {
  if (s->w->comm.rank != 0) return MN_OK;
  mn_status_t st = mn_snapshot_lock(s->dir, &s->lock);
  if (st == MN_OK) st = mn_snapshot_dir_probe(s->dir);
  if (st == MN_OK)
    st = mn_snapwriter_start(s->dir, s->keep, &s->p->tensors, s->p->params, &s->o->optim,
                             &s->w->dev, &s->writer);
  return st;
}

mn_status_t mn_state_open(mn_params_t *p, mn_optimizer_t *o, const char *dir, int keep,
                          mn_state_t **out) {
  if (!p || !o || !dir || !out)
    return MN_API_USAGE("mn_state_open", "NULL %s",
                        !p     ? "parameters"
                        : !o   ? "optimizer"
                        : !dir ? "directory"
                               : "state");
  if (!dir[0]) return MN_API_USAGE("mn_state_open", "empty directory name");
  if (strlen(dir) >= sizeof((mn_state_t *)0)->dir - 64)
    return MN_API_USAGE("mn_state_open", "directory name of %zu bytes is too long", strlen(dir));
  if (!p->committed)
    return MN_API_USAGE("mn_state_open", "the parameters are not committed (mn_params_commit)");
  if (o->p != p) return MN_API_USAGE("mn_state_open", "the optimizer is not over these parameters");
  if (keep < 0)
    return MN_API_USAGE("mn_state_open", "keep is %d (0: all, or the newest kept)", keep);
  mn_state_t *s = calloc(1, sizeof *s);
  mn_status_t st = s ? MN_OK : mn_error(MN_ERR_NOMEM, "mn_state_open: out of memory");
  if (s) {
    s->p = p;
    s->o = o;
    s->w = p->w;
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    s->keep = keep;
    s->t_open = mn_now_s();
    /* the finite check's scratch (count_nonfinite over the flat buffers) */
    st = mn_device_workspace_reserve(&s->w->dev,
                                     s->w->k->count_nonfinite_workspace(p->tensors.size));
    if (st == MN_OK) st = open_dir(s);
  }
  /* a NULL s (no memory) on one rank: the others learn it here too */
  int first;
  st = mn_comm_settle(&p->w->comm, st, &first);
  if (st != MN_OK) {
    mn_state_close(s);
    return st;
  }
  *out = s;
  return MN_OK;
}

/* A finished snapshot write (rank 0; status -1: there was none): logged, and recorded in m
 * when m is not NULL. */
static void snapshot_outcome(mn_metrics_t *m, const mn_snapwrite_result_t *r) {
  if ((int)r->status == -1) return;
  if (r->status == MN_OK)
    mn_log_info("snapshot %s (%s) written in %.3f s; training paused %.4f s for it", r->path,
                r->reason, r->write_s, r->stall_s);
  else
    mn_log_error("snapshot of step %lld (%s) failed: %s", (long long)r->step, r->reason,
                 r->message);
  mn_snapshot_record_t rec = {r->step,    r->reason,  r->path,   r->status == MN_OK,
                              r->message, r->write_s, r->stall_s};
  if (m) mn_metrics_snapshot(m, &rec);
}

void mn_state_close(mn_state_t *s) {
  if (!s) return;
  if (s->writer) {
    mn_snapwrite_result_t r;
    mn_snapwriter_wait(s->writer, &r); /* a failure no later call will report */
    snapshot_outcome(s->metrics, &r);
    mn_snapwriter_stop(s->writer);
  }
  mn_snapshot_unlock(s->lock);
  attrs_free(&s->attrs);
  free(s->run_config);
  free(s->got_config);
  free(s);
}

mn_status_t mn_state_set_run(mn_state_t *s, const mn_state_run_t *run) {
  if (!s) return MN_API_USAGE("mn_state_set_run", "NULL state");
  if (run && (run->epoch < 0 || run->epoch_pos < 0 || run->samples < 0 || run->batch < 0))
    return MN_API_USAGE("mn_state_set_run",
                        "a negative position (epoch %lld, epoch_pos %lld, "
                        "samples %lld, batch %d)",
                        (long long)run->epoch, (long long)run->epoch_pos, (long long)run->samples,
                        run->batch);
  char *config = NULL;
  if (run && run->config && !(config = strdup(run->config)))
    return mn_error(MN_ERR_NOMEM, "mn_state_set_run: out of memory");
  free(s->run_config);
  s->run_config = config;
  s->described = run != NULL;
  if (run) s->run = *run;
  s->run.config = config;
  return MN_OK;
}

mn_status_t mn_state_get_run(const mn_state_t *s, mn_state_run_t *run) {
  if (!s || !run) return MN_API_USAGE("mn_state_get_run", "NULL %s", s ? "run" : "state");
  if (!s->got) return mn_error(MN_ERR_NOINPUT, "mn_state_get_run: no snapshot was resumed");
  *run = s->got_run;
  run->config = s->got_config;
  return MN_OK;
}

mn_status_t mn_state_set_fits(mn_state_t *s, mn_state_fits_fn fits, void *arg) {
  if (!s) return MN_API_USAGE("mn_state_set_fits", "NULL state");
  s->fits = fits;
  s->fits_arg = arg;
  return MN_OK;
}

mn_status_t mn_state_poll(mn_state_t *s) {
  if (!s) return MN_API_USAGE("mn_state_poll", "NULL state");
  mn_snapwrite_result_t w;
  if (!s->writer || !mn_snapwriter_failed(s->writer, &w)) return MN_OK;
  return mn_error(MN_ERR_IO, "snapshot of step %lld (%s) failed: %s", (long long)w.step, w.reason,
                  w.message);
}

/* ---- save ------------------------------------------------------------------------------ */

/* The state's buffers: the parameters, then the optimizer's states (device memory). */
static int state_bufs(const mn_state_t *s, float **bufs) {
  const mn_optim_t *o = &s->o->optim;
  bufs[0] = s->p->params;
  for (int i = 0; i < o->kind->nstates; i++) bufs[1 + i] = o->state[i];
  return 1 + o->kind->nstates;
}

/* train.c's check_state_finite: a snapshot of NaN weights would be resumed, and would let
 * pruning remove the good ones before it. Every rank holds the same state and finds the
 * same. */
static mn_status_t check_finite(const mn_state_t *s, const char *reason) {
  float *bufs[MN_TRAINSTATE_BUFS];
  int nbuf = state_bufs(s, bufs);
  const mn_kernels_t *k = s->w->k;
  int64_t bad[MN_TRAINSTATE_BUFS] = {0}, any = 0;
  for (int b = 0; b < nbuf; b++)
    any += bad[b] = k->count_nonfinite(&s->w->dev.ctx, bufs[b], s->p->tensors.size, NULL);
  if (any == 0) return MN_OK;
  char states[256] = "";
  for (int b = 1, used = 0; b < nbuf && used < (int)sizeof states; b++)
    used += snprintf(states + used, sizeof states - (size_t)used, ", %lld of the optimizer's %s",
                     (long long)bad[b], s->o->optim.kind->states[b - 1]);
  return mn_error(MN_ERR_NONFINITE,
                  "mn_state_save: after %lld steps, %lld parameters%s are NaN or infinite: no "
                  "%s snapshot written (the last good one stays)",
                  (long long)s->o->steps, (long long)bad[0], states, reason);
}

/* Rank 0: hand the state to the writer; with wait, until the file is durable. The previous
 * write (of a save without wait) is reported here if it failed. */
static mn_status_t submit(mn_state_t *s, const char *reason, int wait) {
  mn_snapshot_meta_t meta;
  mn_snapshot_tensor_t *blobs = NULL;
  int nblobs = 0;
  mn_snapwrite_result_t prev, cur;
  mn_status_t st = make_meta(s, reason, &meta);
  if (st == MN_OK) st = blob_tensors(&s->attrs, &blobs, &nblobs);
  if (st == MN_OK) st = mn_snapwriter_submit(s->writer, &meta, blobs, nblobs, &prev);
  free(blobs);
  mn_snapshot_meta_free(&meta);
  if (st != MN_OK) return st;
  snapshot_outcome(s->metrics, &prev);
  if (wait) {
    mn_snapwriter_wait(s->writer, &cur);
    snapshot_outcome(s->metrics, &cur);
    if (cur.status != MN_OK)
      return mn_error(cur.status, "mn_state_save: snapshot of step %lld (%s) failed: %s",
                      (long long)cur.step, cur.reason, cur.message);
  }
  if (!wait && (int)prev.status != -1 && prev.status != MN_OK)
    return mn_error(prev.status,
                    "mn_state_save: the snapshot before, of step %lld (%s), failed: %s (this "
                    "one, of step %lld, is being written)",
                    (long long)prev.step, prev.reason, prev.message, (long long)s->o->steps);
  return MN_OK;
}

static int reason_known(const char *reason) {
  static const char *const known[] = {"interval", "epoch", "stop", "final"};
  for (size_t i = 0; reason && i < sizeof known / sizeof *known; i++)
    if (!strcmp(reason, known[i])) return 1;
  return 0;
}

mn_status_t mn_state_save(mn_state_t *s, const char *reason, int wait) {
  if (!s) return MN_API_USAGE("mn_state_save", "NULL state");
  if (!reason_known(reason))
    return MN_API_USAGE("mn_state_save", "reason \"%s\" (interval, epoch, stop or final)",
                        reason ? reason : "(NULL)");
  if (s->p->open)
    return MN_API_USAGE("mn_state_save", "called inside a step (between mn_grads_begin and "
                                         "mn_grads_end)");
  mn_comm_t *c = &s->w->comm;
  int first;
  /* the last step's buckets first (bounded): the checks and copies below wait behind them */
  mn_status_t st = mn_comm_grads_drain(&s->p->comm);
  if (st == MN_OK) st = check_finite(s, reason);
  st = mn_comm_settle(c, st, &first);
  if (st != MN_OK) return st;
  if (c->rank == 0) st = submit(s, reason, wait);
  return mn_comm_settle(c, st, &first);
}

/* ---- resume ------------------------------------------------------------------------------ */

/* What rank 0 found: the state's host buffers, the step count, the attributes and the
 * snapshot's description of its run. */
typedef struct found {
  float *host[MN_TRAINSTATE_BUFS];
  int nbuf;
  int resumed;
  int64_t steps;
  double elapsed_s;
  char path[4096]; /* of the snapshot */
  attrs_t attrs;
  mn_state_run_t run; /* run.config: config */
  char *config;
} found_t;

/* A snapshot's metadata as a description of its run (config points into meta). */
static mn_state_run_t run_of(const mn_snapshot_meta_t *m) {
  mn_state_run_t r = {.config = m->config,
                      .epoch = m->epoch,
                      .epoch_pos = m->epoch_pos,
                      .samples = m->samples,
                      .batch = m->batch,
                      .model_seed = m->model_seed,
                      .data_seed = m->data_seed,
                      .run_hash = m->shape_hash,
                      .loss = m->loss,
                      .train_loss = m->train_loss,
                      .val_loss = m->val_loss,
                      .val_accuracy = m->val_accuracy,
                      .world = m->world,
                      .elapsed_s = m->elapsed_s};
  return r;
}

/* The attributes a snapshot's config names (user.int/real/blob lines), the blobs sized but
 * not read. NULL when they parse; the reason otherwise. */
static const char *parse_attrs(const char *config, attrs_t *t, char *why, size_t len) {
  for (const char *line = config; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t n = end ? (size_t)(end - line) : strlen(line);
    char text[256], kind[8], name[MN_STATE_KEY_MAX + 16], value[128];
    if (n >= sizeof text) n = sizeof text - 1;
    memcpy(text, line, n);
    text[n] = '\0';
    line = end ? end + 1 : NULL;
    if (strncmp(text, "user.", 5)) continue;
    if (sscanf(text, "user.%7[a-z].%63s = %127s", kind, name, value) != 3) {
      snprintf(why, len, "config line \"%s\" is not an attribute", text);
      return why;
    }
    char w2[128];
    const char *problem = name_problem(name, w2, sizeof w2);
    if (problem[0]) {
      snprintf(why, len, "attribute name %s", problem);
      return why;
    }
    attr_t *a = attrs_get(t, name);
    if (!a) return "out of memory";
    char *rest = NULL;
    if (!strcmp(kind, "int")) {
      a->kind = ATTR_INT;
      a->i = strtoll(value, &rest, 10);
    } else if (!strcmp(kind, "real")) {
      a->kind = ATTR_REAL;
      a->r = strtod(value, &rest);
    } else if (!strcmp(kind, "blob")) {
      long long nb = strtoll(value, &rest, 10);
      a->kind = ATTR_BLOB;
      a->nbytes = nb >= 0 && (size_t)nb <= BLOB_MAX ? (size_t)nb : BLOB_MAX + 1;
      if (a->nbytes <= BLOB_MAX) a->blob = calloc(a->nbytes ? a->nbytes : 1, 1);
      if (a->nbytes <= BLOB_MAX && !a->blob) return "out of memory";
    } else {
      rest = value; /* an unknown kind */
    }
    if (!rest || *rest || rest == value || a->nbytes > BLOB_MAX) {
      snprintf(why, len, "config line \"%s\" is not an attribute", text);
      return why;
    }
  }
  return NULL;
}

/* The net that spans the registry alone (mntrain's), whose model names the tensors of a
 * snapshot of format 1; NULL when there is none. */
static const mn_model_t *sole_model(const mn_state_t *s) {
  const mn_net_t *n = s->p->nets;
  return n && !n->next && n->built && n->model.values == s->p->tensors.values ? &n->model : NULL;
}

/* Whether snapshot m was taken over the run's data (the trainer named it): NULL, or why not. */
static const char *other_data(const mn_state_t *s, const mn_snapshot_meta_t *m, char *why,
                              size_t len) {
  mn_snapshot_meta_t here;
  memset(&here, 0, sizeof here);
  if (mn_api_data_identity(s->run.data, &here) != MN_OK) {
    snprintf(why, len, "this run's data: %s", mn_error_message());
    mn_snapshot_meta_free(&here);
    return why;
  }
  const char *bad = NULL;
  if (m->data_n != here.data_n || m->data_dim != here.data_dim ||
      m->data_classes != here.data_classes) {
    snprintf(why, len,
             mn_api_data_tokens(s->run.data)
                 ? "another training set: %lld windows of %d tokens, vocabulary %d in the "
                   "snapshot, %lld x %d and %d here"
                 : "another training set: %lld samples of %d features and %d classes in the "
                   "snapshot, %lld x %d and %d here",
             (long long)m->data_n, m->data_dim, m->data_classes, (long long)here.data_n,
             here.data_dim, here.data_classes);
    bad = why;
  } else if (m->data_label_crc != here.data_label_crc) {
    snprintf(why, len,
             "another training set: the labels differ (CRC %08x in the snapshot, %08x here)",
             (unsigned)m->data_label_crc, (unsigned)here.data_label_crc);
    bad = why;
  } else if (m->data_feature_crc_set && m->data_feature_crc != here.data_feature_crc) {
    snprintf(why, len,
             "another training set: the features differ (CRC of %d fixed rows %08x in the "
             "snapshot, %08x here: regenerated or renormalised?)",
             MN_DATA_FEATURE_ROWS, (unsigned)m->data_feature_crc, (unsigned)here.data_feature_crc);
    bad = why;
  }
  mn_snapshot_meta_free(&here);
  return bad;
}

/* Whether snapshot e can continue this trainer (before its tensors are read): MN_STATE_FITS,
 * or SKIP or REFUSE (refused under MN_STATE_RESUME_REQUIRE) with why. A trainer that
 * describes its run judges by its description (its fits function, its data); one that does
 * not takes the API's snapshots only. Both need the same optimizer kind, and a format that
 * names their tensors. */
static mn_state_fit_t misfit(const mn_state_t *s, const mn_snapshot_entry_t *e, char *why,
                             size_t len) {
  const mn_snapshot_meta_t *m = &e->meta;
  char v[32];
  if (!s->described) {
    if (!mn_config_text_value(m->config, "api", "version", v, sizeof v))
      return snprintf(why, len, "it was not written through mn's API (mntrain's?)"), MN_STATE_SKIP;
    if (atoi(v) != API_VERSION)
      return snprintf(why, len, "api.version %s, and this mn reads %d", v, API_VERSION),
             MN_STATE_SKIP;
  } else {
    if (s->run_config && (!m->config || !m->config[0]))
      return snprintf(why, len, "it records no config"), MN_STATE_SKIP;
    mn_state_run_t r = run_of(m);
    mn_state_fit_t fit = s->fits ? s->fits(s->fits_arg, e->path, &r, why, len) : MN_STATE_FITS;
    if (fit != MN_STATE_FITS) return fit;
    if (s->run.data && other_data(s, m, why, len)) return MN_STATE_SKIP;
  }
  const mn_optim_kind_t *theirs = mn_trainstate_kind(m), *ours = s->o->optim.kind;
  if (theirs != ours)
    return snprintf(why, len, "it holds the state of optimizer %s, and this trainer uses %s",
                    theirs->name, ours->name),
           MN_STATE_REFUSE;
  if (m->format != MN_SNAPSHOT_FORMAT) {
    const mn_model_t *model = sole_model(s);
    if (!model)
      return snprintf(why, len, "format %d, whose tensors name mntrain's MLPs only", m->format),
             MN_STATE_REFUSE;
    if (mn_trainstate_check_format(model, ours, m->format) != MN_OK)
      return snprintf(why, len, "%s", mn_error_message()), MN_STATE_REFUSE;
  }
  return MN_STATE_FITS;
}

/* Read snapshot e's tensors into f (its buffers allocated) and its attributes. MN_OK, or
 * the reason it cannot be used in mn_error_message(). */
static mn_status_t load_one(const mn_state_t *s, const mn_snapshot_entry_t *e, found_t *f) {
  char why[512];
  attrs_free(&f->attrs);
  const char *bad = parse_attrs(e->meta.config, &f->attrs, why, sizeof why);
  if (bad) return mn_error(MN_ERR_DATA, "%s: %s", e->path, bad);
  mn_snapshot_tensor_t *t = NULL;
  int nt = 0;
  const mn_model_t *model = sole_model(s);
  mn_status_t st =
      e->meta.format != MN_SNAPSHOT_FORMAT && model
          ? mn_trainstate_tensors(model, s->o->optim.kind, e->meta.format, f->host, &t, &nt)
          : mn_trainstate_registry_tensors(&s->p->tensors, s->o->optim.kind, f->host, &t, &nt);
  if (st != MN_OK) return st;
  mn_snapshot_tensor_t *all = realloc(t, (size_t)(nt + f->attrs.n + 1) * sizeof *all);
  if (!all) {
    free(t);
    return mn_error(MN_ERR_NOMEM, "mn_state_resume: out of memory");
  }
  t = all;
  st = mn_snapshot_read_tensors(e->path, t, nt + put_blobs(&f->attrs, t + nt));
  free(t);
  if (st != MN_OK) return st;
  free(f->config);
  f->config = strdup(e->meta.config ? e->meta.config : "");
  if (!f->config) return mn_error(MN_ERR_NOMEM, "mn_state_resume: out of memory");
  f->resumed = 1;
  f->steps = e->meta.step;
  f->elapsed_s = e->meta.elapsed_s;
  f->run = run_of(&e->meta);
  snprintf(f->path, sizeof f->path, "%s", e->path);
  return MN_OK;
}

/* The line that says where the run continues from. */
static void log_resume(const mn_state_t *s, const mn_snapshot_entry_t *e) {
  const mn_snapshot_meta_t *m = &e->meta;
  if (!s->described) {
    mn_log_info("resuming from %s: %lld steps done (written by mn %s on %d ranks)", e->path,
                (long long)m->step, m->mn_version, m->world);
    return;
  }
  mn_log_info("resuming from %s: %lld steps and %lld samples done, in epoch %lld (written by "
              "mn %s on %d ranks)",
              e->path, (long long)m->step, (long long)m->samples, (long long)m->epoch + 1,
              m->mn_version, m->world);
  if (s->run.data && !m->data_feature_crc_set)
    mn_log_info("%s predates the check of the features (no data_feature_crc): only N, D, "
                "classes and the labels were compared",
                e->path);
}

/* Rank 0: the newest snapshot of the directory that is valid and fits, into f (with mode
 * NEVER: none, the directory's set aside). */
static mn_status_t choose(const mn_state_t *s, mn_state_resume_mode_t mode, found_t *f) {
  mn_snapshot_entry_t *e = NULL;
  int n = 0, skipped = 0;
  char first[6144] = "";
  mn_status_t st = mn_snapshot_scan(s->dir, &e, &n);
  if (st != MN_OK) return st;
  if (mode == MN_STATE_RESUME_NEVER) {
    int moved = 0;
    char sub[4096] = "";
    if (n > 0) st = mn_snapshot_set_aside(s->dir, &moved, sub, sizeof sub);
    if (moved > 0) mn_log_info("resume never: moved %d old snapshot(s) to %s", moved, sub);
    mn_snapshot_entries_free(e, n);
    return st;
  }
  for (int i = 0; i < n; i++) { /* unreadable files come last in the scan: told first */
    if (e[i].status == MN_OK) continue;
    mn_log_warn("skipping snapshot %s", e[i].reason); /* (it begins with the path) */
    if (skipped++ == 0) snprintf(first, sizeof first, "%s", e[i].reason);
  }
  for (int i = 0; i < n && !f->resumed; i++) {
    char why[1024], said[6144];
    if (e[i].status != MN_OK) continue;
    mn_state_fit_t fit = misfit(s, &e[i], why, sizeof why);
    if (fit == MN_STATE_REFUSE && mode == MN_STATE_RESUME_REQUIRE) {
      st = mn_error(MN_ERR_DATA, "%s: %s", e[i].path, why);
      break;
    }
    if (fit == MN_STATE_FITS) {
      st = load_one(s, &e[i], f);
      if (st == MN_ERR_NOMEM) break;
      if (st == MN_OK) {
        log_resume(s, &e[i]);
        break;
      }
      snprintf(said, sizeof said, "%s", mn_error_message()); /* begins with the path */
      st = MN_OK;
    } else {
      snprintf(said, sizeof said, "%s: %s", e[i].path, why);
    }
    mn_log_warn("skipping snapshot %s", said);
    if (skipped++ == 0) snprintf(first, sizeof first, "%s", said);
  }
  if (st == MN_OK && !f->resumed && n == 0 && mode == MN_STATE_RESUME_REQUIRE)
    st = mn_error(MN_ERR_NOINPUT, "%s: no snapshot to resume from (the resume requires one)",
                  s->dir);
  else if (st == MN_OK && !f->resumed && n > 0)
    st = mn_error(MN_ERR_DATA,
                  "%s holds %d snapshot file(s) and none can be resumed: none fits this "
                  "trainer; the newest: %s",
                  s->dir, n, first);
  mn_snapshot_entries_free(e, n);
  return st;
}

/* The attributes as bytes, and back: rank 0's to every rank. Each: its name
 * (MN_STATE_KEY_MAX bytes), kind, value and byte count (8 bytes each), then its bytes. */
enum { RECORD_HEAD = MN_STATE_KEY_MAX + 4 * 8 };

static size_t attrs_packed_size(const attrs_t *t) {
  size_t n = 0;
  for (int i = 0; i < t->n; i++)
    n += RECORD_HEAD + (t->a[i].kind == ATTR_BLOB ? t->a[i].nbytes : 0);
  return n;
}

static void attrs_pack(const attrs_t *t, unsigned char *out) {
  for (int i = 0; i < t->n; i++) {
    const attr_t *a = &t->a[i];
    int64_t head[4] = {a->kind, a->i, 0, (int64_t)a->nbytes};
    memcpy(&head[2], &a->r, sizeof a->r);
    memcpy(out, a->name, MN_STATE_KEY_MAX);
    memcpy(out + MN_STATE_KEY_MAX, head, sizeof head);
    out += RECORD_HEAD;
    if (a->kind == ATTR_BLOB && a->nbytes) memcpy(out, a->blob, a->nbytes);
    if (a->kind == ATTR_BLOB) out += a->nbytes;
  }
}

static mn_status_t attrs_unpack(const unsigned char *in, size_t len, attrs_t *t) {
  for (size_t at = 0; at + RECORD_HEAD <= len;) {
    char name[MN_STATE_KEY_MAX];
    int64_t head[4];
    memcpy(name, in + at, MN_STATE_KEY_MAX);
    name[MN_STATE_KEY_MAX - 1] = '\0';
    memcpy(head, in + at + MN_STATE_KEY_MAX, sizeof head);
    at += RECORD_HEAD;
    attr_t *a = attrs_get(t, name);
    if (!a) return mn_error(MN_ERR_NOMEM, "mn_state_resume: out of memory");
    a->kind = (attr_kind_t)head[0];
    a->i = head[1];
    memcpy(&a->r, &head[2], sizeof a->r);
    a->nbytes = (size_t)head[3];
    if (a->kind == ATTR_BLOB) {
      if (!(a->blob = malloc(a->nbytes ? a->nbytes : 1)))
        return mn_error(MN_ERR_NOMEM, "mn_state_resume: out of memory");
      if (a->nbytes) memcpy(a->blob, in + at, a->nbytes);
      at += a->nbytes;
    }
  }
  return MN_OK;
}

/* Collective: rank 0's description of the snapshot's run to every rank. */
static mn_status_t share_run(mn_state_t *s, found_t *f) {
  mn_state_run_t *r = &f->run;
  int64_t v[9] = {r->epoch,
                  r->epoch_pos,
                  r->samples,
                  r->batch,
                  r->world,
                  (int64_t)r->model_seed,
                  (int64_t)r->data_seed,
                  (int64_t)r->run_hash,
                  f->config ? (int64_t)strlen(f->config) : 0};
  double d[5] = {r->loss, r->train_loss, r->val_loss, r->val_accuracy, r->elapsed_s};
  mn_status_t st = mn_broadcast(s->w, v, 9, MN_INT64, 0);
  if (st == MN_OK) st = mn_broadcast(s->w, d, 5, MN_FLOAT64, 0);
  if (st != MN_OK) return st;
  if (s->w->comm.rank != 0) {
    free(f->config);
    f->config = calloc((size_t)v[8] + 1, 1);
  }
  int first;
  st = mn_comm_settle(&s->w->comm,
                      f->config ? MN_OK : mn_error(MN_ERR_NOMEM, "mn_state_resume: out of memory"),
                      &first);
  if (st == MN_OK && v[8] > 0) st = mn_broadcast(s->w, f->config, v[8], MN_BYTE, 0);
  *r = (mn_state_run_t){.epoch = v[0],
                        .epoch_pos = v[1],
                        .samples = v[2],
                        .batch = (int)v[3],
                        .world = (int)v[4],
                        .model_seed = (uint64_t)v[5],
                        .data_seed = (uint64_t)v[6],
                        .run_hash = (uint64_t)v[7],
                        .loss = d[0],
                        .train_loss = d[1],
                        .val_loss = d[2],
                        .val_accuracy = d[3],
                        .elapsed_s = d[4]};
  return st;
}

/* Collective: rank 0's find to every rank. */
static mn_status_t share(mn_state_t *s, found_t *f) {
  mn_comm_t *c = &s->w->comm;
  unsigned char *packed = NULL;
  int64_t head[4] = {f->resumed, f->steps, 0, (int64_t)attrs_packed_size(&f->attrs)};
  memcpy(&head[2], &f->elapsed_s, sizeof f->elapsed_s);
  mn_status_t st = mn_comm_bcast_i64(c, head, 4);
  if (st != MN_OK || !head[0]) return st;
  f->resumed = 1;
  f->steps = head[1];
  memcpy(&f->elapsed_s, &head[2], sizeof f->elapsed_s);
  for (int b = 0; st == MN_OK && b < f->nbuf; b++)
    st = mn_comm_bcast_f32(c, f->host[b], s->p->tensors.size);
  if (st == MN_OK) st = mn_broadcast(s->w, f->path, sizeof f->path, MN_BYTE, 0);
  if (st == MN_OK) st = share_run(s, f);
  size_t len = (size_t)head[3];
  if (len > 0) { /* every rank knows len: all settle */
    int first;
    packed = st == MN_OK ? malloc(len) : NULL;
    if (st == MN_OK && !packed) st = mn_error(MN_ERR_NOMEM, "mn_state_resume: out of memory");
    st = mn_comm_settle(c, st, &first);
    if (st == MN_OK && c->rank == 0) attrs_pack(&f->attrs, packed);
    if (st == MN_OK) st = mn_broadcast(s->w, packed, (int64_t)len, MN_BYTE, 0);
    if (st == MN_OK && c->rank != 0) {
      attrs_free(&f->attrs);
      st = attrs_unpack(packed, len, &f->attrs);
    }
  }
  free(packed);
  return st;
}

mn_status_t mn_state_resume(mn_state_t *s, int *resumed) {
  return mn_state_resume_mode(s, MN_STATE_RESUME_AUTO, resumed);
}

mn_status_t mn_state_resume_mode(mn_state_t *s, mn_state_resume_mode_t mode, int *resumed) {
  if (!s || !resumed) return MN_API_USAGE("mn_state_resume", "NULL %s", s ? "resumed" : "state");
  if (mode < MN_STATE_RESUME_AUTO || mode > MN_STATE_RESUME_NEVER)
    return MN_API_USAGE("mn_state_resume_mode",
                        "mode %d is none of MN_STATE_RESUME_AUTO, "
                        "_REQUIRE, _NEVER",
                        (int)mode);
  if (s->p->open)
    return MN_API_USAGE("mn_state_resume", "called inside a step (between mn_grads_begin and "
                                           "mn_grads_end)");
  mn_comm_t *c = &s->w->comm;
  found_t f;
  memset(&f, 0, sizeof f);
  float *dev[MN_TRAINSTATE_BUFS];
  f.nbuf = state_bufs(s, dev);
  size_t nbytes = (size_t)s->p->tensors.size * sizeof(float);
  mn_status_t st = MN_OK;
  for (int b = 0; b < f.nbuf && st == MN_OK; b++) /* the padding between tensors stays 0 */
    if (!(f.host[b] = calloc(1, nbytes + sizeof(float))))
      st = mn_error(MN_ERR_NOMEM, "mn_state_resume: out of memory");
  if (st == MN_OK && c->rank == 0) st = choose(s, mode, &f);
  int first;
  st = mn_comm_settle(c, st, &first);
  if (st == MN_OK) st = mn_comm_settle(c, share(s, &f), &first);
  if (st == MN_OK && f.resumed) {
    for (int b = 0; b < f.nbuf; b++) s->w->k->upload(&s->w->dev.ctx, dev[b], f.host[b], nbytes);
    s->o->steps = f.steps;
    s->elapsed0 = f.elapsed_s;
    s->t_open = mn_now_s();
    f.path[sizeof f.path - 1] = '\0';
    snprintf(s->from, sizeof s->from, "%s", f.path);
    attrs_free(&s->attrs);
    s->attrs = f.attrs; /* the snapshot's, in place of any set before */
    memset(&f.attrs, 0, sizeof f.attrs);
    free(s->got_config);
    s->got_config = f.config;
    f.config = NULL;
    s->got_run = f.run;
    s->got = 1;
  }
  for (int b = 0; b < f.nbuf; b++) free(f.host[b]);
  attrs_free(&f.attrs);
  free(f.config);
  if (st == MN_OK) *resumed = f.resumed;
  return st;
}

const char *mn_state_resumed_from(const mn_state_t *s) { return s && s->from[0] ? s->from : NULL; }

double mn_state_elapsed_s(const mn_state_t *s) {
  return s ? s->elapsed0 + (mn_now_s() - s->t_open) : 0;
}

mn_status_t mn_state_set_metrics(mn_state_t *s, mn_metrics_t *m) {
  if (!s) return MN_API_USAGE("mn_state_set_metrics", "NULL state");
  s->metrics = m;
  return MN_OK;
}
