/* train.c: one data-parallel training run (mn_train.h), a trainer of the public API
 * (include/mn/) alone: mntrain's config is its own (mn_config.h), and of the runtime it
 * uses nothing else (MPI_Wtime is its clock).
 *
 * Set-up (the net and the data, the registry committed, the optimizer; the snapshots'
 * directory and the resume from a snapshot; the records), the epoch loop with its one-page
 * training step, validation at each epoch end, snapshots, and the summary. Every phase that
 * can fail on one rank alone ends in an agreement among the ranks, so that no rank is left
 * waiting in a collective: set-up through mn_agree() (mn/world.h), and each step through the
 * flags that ride in the first bucket of the step's own exchange (mn/exchange.h): "a rank
 * failed to produce its batch" (mn_grads_fail), "a rank was asked to stop" and "a rank's loss
 * is not finite" (mn_grads_nonfinite_loss). So a signal that reaches one rank only stops
 * every rank after the same step, and a NaN or an Inf stops every rank at the step where it
 * appears, before any rank updates its weights (check_step). No snapshot of non-finite
 * parameters is ever written (mn_state_save checks). Logging and bookkeeping stay out of the
 * step.
 *
 * The device is the CPU or this rank's GPU; the step is the same code on both. On a GPU the
 * batch is copied on its own stream (mn_net_input), and every tensor's gradient is handed to
 * the allreduce as soon as backward has finished it (mn_net_backward with send); the
 * optimizer updates the weights once every bucket is reduced and found finite.
 *
 * Gradient accumulation (optimizer.accum_steps = K): the loader hands each rank K x
 * batch_size rows per optimizer step (the shard plan's batch), and the step runs forward
 * and backward over K micro-batches of batch_size rows, adding into the gradients, each
 * loss scaled by 1/(rows x world) so that the sum over the ranks (mn_grads_set_op MN_SUM) is
 * the mean over the whole step's batch: K micro-batches of b give the update of one batch
 * of K x b. Only the last micro-batch's backward hands tensors to the exchange (as DDP's
 * no_sync), and the flags are agreed once per optimizer step, so a stop lands on a step
 * boundary and a resume is exact. Clipping (optimizer.clip_norm) scales the summed gradient
 * inside the update, from the norm the finite check computes in the same pass.
 *
 * A sequence model (a gpt) is the same loop over other rows: a sample is a window of
 * context + 1 tokens of a token dataset (its inputs int32 [context], its targets
 * [context]), the loss is the mean over every position of the step's windows (each
 * predicts the next token), and the records add tokens/s, MFU and perplexity. */
#include "mn_train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mn/mn.h>
#include <mn/mpi.h>

/* Where a run stands: the next step to run. */
typedef struct position {
  int64_t epoch, epoch_pos, step, samples;
} position_t;

typedef struct run {
  const mn_config_t *cfg;
  mn_world_t *w;           /* its ranks and device */
  mn_params_t *p;          /* mn/params.h: the net's tensors, their gradients and exchange */
  mn_net_t *net;           /* mn/net.h: the model */
  mn_optimizer_t *opt;     /* mn/optim.h */
  struct input {           /* a step's batch, taken from the data and sent to the device */
    int fetched;           /* taken from the data (and, when rd == MN_OK, held) */
    mn_status_t rd;        /* the data's answer */
    mn_data_batch_t batch; /* host; held until the next mn_data_next */
    const void *x;         /* the device's copy (the host buffer itself on the CPU) */
    const int32_t *y;
  } next;                 /* the next step's, when fetched ahead */
  mn_data_t *train, *val; /* mn/data.h: the shard plan and the reader; val: read only */
  int last_in_epoch;      /* the step under way is its epoch's last (its batch says) */
  int64_t steps_per_epoch, global_batch;
  mn_metrics_t *metrics; /* mn/metrics.h: the progress line and the records */
  int64_t total_steps;
  position_t pos;    /* the next step */
  char *config;      /* the effective config as text (mn_config_text): the snapshots' */
  mn_state_t *state; /* mn/state.h: snapshots in snapshot.dir (NULL: disabled) */
  int resumed;       /* from a snapshot */
  mn_timing_t t;
  int skips_in_row;   /* optimizer.nonfinite = skip: non-finite steps skipped in a row */
  int64_t skipped;    /* and in all */
  int64_t start_step; /* this run's first step */
  double grad_norm;   /* the last step's, before clipping (NaN: none yet) */
  double lr;          /* the last step's learning rate */
  /* what the training has reached, for the records and the snapshots (rank 0's are the
   * ones written): training time before this run and when this run began; the last
   * interval's loss; the last epoch's train and validation loss and accuracy (NaN: none) */
  double elapsed0, t_start;
  double loss, train_loss, val_loss, val_accuracy;
} run_t;

/* Rows per rank per optimizer step: accum_steps micro-batches of batch_size. */
static int step_rows(const mn_config_t *cfg) {
  return cfg->data.batch_size * cfg->optimizer.accum_steps;
}

/* A sample's input: x_width 4-byte elements (float features, or a sequence's int32 tokens)
 * and y_width labels (1, or one per position). */
static int x_width(const run_t *r) { return mn_net_input_width(r->net); }
static int y_width(const run_t *r) { return mn_net_label_width(r->net); }
static int tokens(const run_t *r) { return mn_net_input_tokens(r->net); }

/* Collective: a sample dataset for the MLP, a token dataset read in windows of context + 1
 * for a gpt (mn/data.h); batch 0: read only (validation). */
static mn_status_t open_set(run_t *r, const char *spec, int batch, mn_data_t **d) {
  const mn_config_t *cfg = r->cfg;
  mn_data_opts_t o = {.batch = batch,
                      .seed = cfg->data.seed,
                      .in_order = !cfg->data.shuffle,
                      .block_size = cfg->data.block_size,
                      .shuffle_blocks = cfg->data.shuffle_blocks,
                      .pad = cfg->data.remainder == MN_REMAINDER_PAD,
                      .prefetch = cfg->data.prefetch};
  if (tokens(r))
    return mn_data_open_tokens(r->w, spec, cfg->model.context, cfg->model.vocab, &o, d);
  return mn_data_open_samples(r->w, spec, cfg->model.layers[0],
                              cfg->model.layers[cfg->model.nlayers - 1], &o, d);
}

/* This rank's part: the net of [model] (its tensors in a registry of its own); the data's
 * shape is the net's. */
static mn_status_t create_net(run_t *r) {
  const mn_config_t *cfg = r->cfg;
  mn_net_desc_t d = {.kind = cfg->model.type == MN_MODEL_GPT ? MN_NET_GPT : MN_NET_MLP,
                     .vocab = cfg->model.vocab,
                     .context = cfg->model.context,
                     .layers = cfg->model.layers[0],
                     .heads = cfg->model.heads,
                     .width = cfg->model.width,
                     .max_batch = cfg->data.batch_size,
                     .input_batch = step_rows(cfg),
                     .seed = cfg->model.seed};
  if (d.kind == MN_NET_MLP) {
    d.nwidths = cfg->model.nlayers;
    for (int i = 0; i < d.nwidths && i < MN_NET_MAX_WIDTHS; i++) d.widths[i] = cfg->model.layers[i];
  }
  mn_status_t st = mn_params_create(r->w, &r->p);
  if (st == MN_OK) st = mn_net_create(r->p, &d, &r->net);
  if (st == MN_ERR_CONFIG && d.kind == MN_NET_MLP)
    return mn_error(st, "[model] layers: %s", mn_error_message());
  return st;
}

/* Collective: the net (what the data must fit), then the data. */
static mn_status_t open_data(run_t *r) {
  const mn_config_t *cfg = r->cfg;
  mn_status_t st = mn_agree(r->w, create_net(r), NULL);
  if (st == MN_OK) st = open_set(r, cfg->data.train, step_rows(cfg), &r->train);
  if (st == MN_OK && cfg->data.val[0]) st = open_set(r, cfg->data.val, 0, &r->val);
  return st;
}

/* [optimizer] and [schedule] as mn/optim.h's options. */
static mn_optim_opts_t optim_opts(const run_t *r) {
  const mn_config_t *cfg = r->cfg;
  mn_optim_opts_t o = mn_optim_defaults();
  int adamw = cfg->optimizer.kind == MN_OPTIM_ADAMW;
  o.kind = adamw ? MN_ADAMW : MN_SGD;
  o.lr = cfg->optimizer.lr;
  o.momentum = cfg->optimizer.momentum;
  o.nesterov = !adamw && cfg->optimizer.nesterov;
  o.beta1 = cfg->optimizer.beta1;
  o.beta2 = cfg->optimizer.beta2;
  o.eps = cfg->optimizer.eps;
  o.weight_decay = cfg->optimizer.weight_decay;
  o.no_decay = cfg->optimizer.no_decay_mask; /* (bits of the same roles) */
  o.schedule = cfg->schedule.lr_schedule == MN_LR_COSINE ? MN_SCHEDULE_COSINE
               : cfg->schedule.lr_schedule == MN_LR_STEP ? MN_SCHEDULE_STEP
                                                         : MN_SCHEDULE_CONSTANT;
  o.warmup_steps = cfg->schedule.warmup_steps;
  o.total_steps = r->total_steps;
  o.min_lr = cfg->schedule.min_lr;
  o.step_size = (int64_t)cfg->schedule.step_epochs * r->steps_per_epoch;
  o.gamma = cfg->schedule.step_gamma;
  o.clip_norm = cfg->optimizer.clip_norm;
  return o;
}

/* Collective: the sizes; the net built over its committed registry, the gradients summed
 * (each rank's loss is divided by the world size: forward_backward); the optimizer. */
static mn_status_t setup_model(run_t *r) {
  const mn_config_t *cfg = r->cfg;
  int64_t spe = r->steps_per_epoch = mn_data_steps_per_epoch(r->train);
  r->global_batch = (int64_t)mn_world_size(r->w) * step_rows(cfg);
  r->total_steps = (int64_t)cfg->schedule.epochs * spe;
  if (cfg->schedule.max_steps > 0 && cfg->schedule.max_steps < r->total_steps)
    r->total_steps = cfg->schedule.max_steps;
  mn_status_t st = mn_params_commit(r->p);
  if (st != MN_OK) return st;
  if (mn_world_rank(r->w) == 0)
    mn_log_info("computing on %s%s; gradients through %s", mn_world_device(r->w),
                mn_world_size(r->w) > 1 ? " (rank 0)" : "", mn_grads_path(r->p));
  st = mn_grads_set_op(r->p, MN_SUM);
  mn_optim_opts_t o = optim_opts(r);
  if (st == MN_OK) st = mn_optimizer_create(r->p, &o, &r->opt);
  return mn_agree(r->w, st, NULL);
}

/* What the snapshots record of the run now (mn/state.h): its config and data, its position,
 * what it has reached; and, for mntrain's tools, its config's shape hash and seeds. */
static mn_status_t describe(run_t *r) {
  const mn_config_t *cfg = r->cfg;
  mn_state_run_t d = {.config = r->config,
                      .data = r->train,
                      .epoch = r->pos.epoch,
                      .epoch_pos = r->pos.epoch_pos,
                      .samples = r->pos.samples,
                      .batch = step_rows(cfg),
                      .model_seed = cfg->model.seed,
                      .data_seed = cfg->data.seed,
                      .run_hash = mn_config_shape_hash(cfg),
                      .loss = r->loss,
                      .train_loss = r->train_loss,
                      .val_loss = r->val_loss,
                      .val_accuracy = r->val_accuracy};
  return r->state ? mn_state_set_run(r->state, &d) : MN_OK;
}

/* Collective: rank 0 takes snapshot.dir for this run (a second job on it is refused:
 * MN_ERR_LOCKED; one that cannot be written is MN_ERR_IO now, not when training ends), and
 * every snapshot's outcome becomes a record. */
static mn_status_t open_state(run_t *r) {
  const mn_config_t *cfg = r->cfg;
  if (!(r->config = mn_config_text(cfg)))
    return mn_error(MN_ERR_NOMEM, "out of memory listing the config");
  if (!cfg->snapshot.enabled) return MN_OK;
  mn_status_t st = mn_state_open(r->p, r->opt, cfg->snapshot.dir, cfg->snapshot.keep, &r->state);
  if (st == MN_OK) st = mn_state_set_fits(r->state, mn_train_fits, r->config);
  return st;
}

/* Collective: continue from the snapshot snapshot.resume chooses, if any (mn/state.h, with
 * mn_train_fits), and set r->pos. A snapshot of another global batch (world x batch) keeps
 * its epoch and its place in the epoch's sample order; the step count is then that of this
 * global batch. */
static mn_status_t setup_resume(run_t *r) {
  const mn_config_t *cfg = r->cfg;
  r->loss = r->train_loss = r->val_loss = r->val_accuracy = NAN;
  if (!r->state) return MN_OK;
  mn_state_resume_mode_t mode = cfg->snapshot.resume == MN_RESUME_NEVER ? MN_STATE_RESUME_NEVER
                                : cfg->snapshot.resume == MN_RESUME_REQUIRE
                                    ? MN_STATE_RESUME_REQUIRE
                                    : MN_STATE_RESUME_AUTO;
  mn_state_run_t got;
  mn_status_t st = describe(r); /* (its config and data: what a snapshot must fit) */
  if (st == MN_OK) st = mn_state_resume_mode(r->state, mode, &r->resumed);
  if (st == MN_ERR_DATA && mode == MN_STATE_RESUME_AUTO)
    st = mn_error(st,
                  "%s; to start afresh use --resume never (they are moved to a "
                  "subdirectory), or set snapshot.dir elsewhere",
                  mn_error_message());
  if (st != MN_OK || !r->resumed) return st;
  mn_state_get_run(r->state, &got);
  if (mn_world_rank(r->w) == 0) mn_train_log_changes(r->config, got.config);
  r->elapsed0 = got.elapsed_s;
  r->loss = got.loss;
  r->train_loss = got.train_loss;
  r->val_loss = got.val_loss;
  r->val_accuracy = got.val_accuracy;
  position_t p = {got.epoch, got.epoch_pos, mn_optimizer_steps(r->opt), got.samples};
  /* the data continue there (the next epoch's start when nothing whole is left of it) */
  st = mn_data_seek(r->train, p.epoch, p.epoch_pos);
  if (st != MN_OK) return mn_error(MN_ERR_INTERNAL, "resume: %s", mn_error_message());
  mn_data_position(r->train, &p.epoch, &p.epoch_pos);
  int64_t G = r->global_batch, was = (int64_t)got.world * got.batch;
  if (was != G) {
    p.step = p.epoch * r->steps_per_epoch + p.epoch_pos / G;
    if (mn_world_rank(r->w) == 0)
      mn_log_warn("the snapshot's run had a global batch of %lld (%d x %d), this one %lld (%d x "
                  "%d): continuing at sample %lld of epoch %lld, as step %lld of this run",
                  (long long)was, got.world, got.batch, (long long)G, mn_world_size(r->w),
                  step_rows(cfg), (long long)p.epoch_pos, (long long)p.epoch, (long long)p.step);
  }
  r->pos = p;
  return mn_optimizer_set_steps(r->opt, p.step); /* the schedule's and AdamW's step count */
}

/* Collective: a fresh run's weights from model.init_from (rank 0 reads the file, every rank
 * receives them). A resumed run keeps its snapshot's weights. */
static mn_status_t init_weights(run_t *r) {
  const char *file = r->cfg->model.init_from;
  if (!file[0]) return MN_OK;
  if (r->resumed) {
    if (mn_world_rank(r->w) == 0)
      mn_log_info("model.init_from %s: not used, the run resumed", file);
    return MN_OK;
  }
  mn_status_t st = mn_net_load(r->net, file);
  if (st != MN_OK) return mn_error(st, "[model] init_from: %s", mn_error_message());
  if (mn_world_rank(r->w) == 0) mn_log_info("initial weights from %s", file);
  return MN_OK;
}

static int finished(const run_t *r) {
  return r->pos.step >= r->total_steps || r->pos.epoch >= r->cfg->schedule.epochs;
}

/* The config as "section.key=value" pairs, for the start record. */
typedef struct pairs {
  char **v;
  int n, cap;
  int failed;
} pairs_t;

static void add_pair(const char *section, const char *key, const char *value, void *user) {
  pairs_t *p = user;
  if (p->failed) return;
  if (p->n + 2 > p->cap) {
    int cap = p->cap ? 2 * p->cap : 64;
    char **v = realloc(p->v, (size_t)cap * sizeof *v);
    if (!v) {
      p->failed = 1;
      return;
    }
    p->v = v;
    p->cap = cap;
  }
  size_t len = strlen(section) + strlen(key) + strlen(value) + 3;
  if (!(p->v[p->n] = malloc(len))) {
    p->failed = 1;
    return;
  }
  snprintf(p->v[p->n++], len, "%s.%s=%s", section, key, value);
  p->v[p->n] = NULL;
}

/* Collective: what the training had reached before this run, and the records' start
 * (mn_metrics_open: every rank's host, the effective config). */
static mn_status_t start_record(run_t *r) {
  const mn_config_t *cfg = r->cfg;
  pairs_t config = {0};
  mn_config_each_value(cfg, add_pair, &config);
  mn_status_t st =
      config.failed ? mn_error(MN_ERR_NOMEM, "out of memory listing the config") : MN_OK;
  st = mn_agree(r->w, st, NULL);
  mn_metrics_opts_t o = {.path = cfg->log.metrics,
                         .tensorboard = cfg->log.tensorboard,
                         .progress = cfg->log.progress,
                         .total_steps = r->total_steps,
                         .steps_per_epoch = r->steps_per_epoch,
                         .samples_per_step = r->global_batch,
                         .tokens_per_sample = tokens(r) ? y_width(r) : 0,
                         .start_step = r->pos.step,
                         .start_epoch = r->pos.epoch,
                         .elapsed_s = isfinite(r->elapsed0) ? r->elapsed0 : 0,
                         .resumed_from = mn_state_resumed_from(r->state),
                         .config = (const char *const *)config.v};
  if (st == MN_OK) st = mn_metrics_open(r->w, &o, &r->metrics);
  if (st == MN_OK && r->state) st = mn_state_set_metrics(r->state, r->metrics);
  for (int i = 0; i < config.n; i++) free(config.v[i]);
  free(config.v);
  return st;
}

static mn_status_t setup(run_t *r) {
  mn_status_t st = open_data(r);
  if (st == MN_OK) st = setup_model(r);
  if (st == MN_OK) st = mn_agree(r->w, open_state(r), NULL);
  if (st == MN_OK) st = setup_resume(r);
  if (st == MN_OK) st = init_weights(r);
  if (st == MN_OK) st = start_record(r);
  return st;
}

static void teardown(run_t *r) {
  /* NCCL first (finalized within comm.timeout_s, else aborted): a collective a dead peer
   * left unfinished would otherwise hold every wait on the device and every free below */
  mn_grads_shutdown(r->p);
  if (r->next.fetched) mn_net_input_done(r->net); /* no copy in flight from a freed buffer */
  mn_state_close(r->state); /* the write in flight, if any; before the data it names */
  free(r->config);
  mn_data_close(r->train);
  mn_data_close(r->val);
  mn_optimizer_free(r->opt);
  mn_net_free(r->net);
  mn_params_free(r->p); /* the device stays the world's */
}

/* The next batch from the loader, its copy to the device started (it overlaps whatever the
 * device still has queued: the end of the step before). */
static void fetch(run_t *r, struct input *in) {
  in->rd = mn_data_next(r->train, &in->batch);
  r->t.io_wait_s += in->batch.wait_s;
  in->fetched = 1;
  if (in->rd == MN_OK)
    in->rd = mn_net_input(r->net, in->batch.x, in->batch.y, in->batch.count, &in->x, &in->y);
}

static void give_back(run_t *r, struct input *in) {
  in->fetched = 0; /* (the data take the batch back at their next call) */
}

/* Whether step `step` (stopped by a signal or not) gets a step record in the metrics: the
 * first of this run, every log.interval-th, the last of the training, and a stopped one. */
static int record_due(const run_t *r, int64_t step, int stop) {
  if (step == r->start_step || (step + 1) % r->cfg->log.interval == 0 || stop ||
      step + 1 >= r->total_steps)
    return 1;
  return r->last_in_epoch && r->pos.epoch + 1 >= r->cfg->schedule.epochs;
}

/* Whether the step may update the weights, from the flags its exchange agreed on every rank
 * (mn/exchange.h): no rank's loss was NaN or Inf (nonfinite_loss_ranks raised it), and the
 * summed gradient holds none (a NaN or an Inf in any rank's gradient makes the sum
 * non-finite whatever the order of the additions, and every rank holds the same sum). The
 * gradient is checked whole, after its last bucket is reduced and before the first is
 * applied: no rank writes a non-finite update. (It gives up overlapping the updates with the
 * last buckets' allreduces on a GPU; the update is a small part of a step.) */
static mn_status_t check_step(run_t *r, int64_t step, const mn_step_flags_t *f) {
  r->grad_norm = f->grad_norm;
  if (f->nonfinite_loss_ranks > 0)
    return mn_error(MN_ERR_NONFINITE, "step %lld: the loss is NaN or infinite on %d of %d ranks",
                    (long long)step, f->nonfinite_loss_ranks, mn_world_size(r->w));
  if (f->nonfinite)
    return mn_error(MN_ERR_NONFINITE,
                    "step %lld: the summed gradient holds %lld NaN or infinite values of %lld",
                    (long long)step, (long long)f->nonfinite_values,
                    (long long)mn_params_values(r->p));
  return MN_OK;
}

/* Forward, loss and backward of the step's batch in micro-batches of batch_size rows (the
 * file's paragraph), the last one handing its buckets to the exchange. out: *loss_sum. */
static mn_status_t forward_backward(run_t *r, const struct input *in, double *loss_sum) {
  int count = in->batch.count, b = r->cfg->data.batch_size, xw = x_width(r), yw = y_width(r);
  int nmicro = (count + b - 1) / b;
  /* 1/(labels x world): the allreduce sums, so that the ranks' sum is the mean gradient
   * (over the samples, or the tokens of a sequence model) */
  float scale = 1.0f / ((float)count * (float)yw * (float)mn_world_size(r->w));
  mn_status_t st = MN_OK;
  *loss_sum = 0;
  for (int i = 0; st == MN_OK && i < nmicro; i++) {
    int rows = count - i * b < b ? count - i * b : b;
    const void *x = (const char *)in->x + (size_t)i * b * xw * 4; /* 4-byte elements */
    double loss;
    st = mn_net_forward(r->net, x, rows);
    if (st == MN_OK)
      st = mn_net_loss(r->net, in->y + (int64_t)i * b * yw, rows, scale, &loss, NULL);
    if (st != MN_OK) break;
    *loss_sum += loss;
    if (!isfinite(loss)) /* before backward fills (and sends) the flags' bucket */
      st = mn_grads_nonfinite_loss(r->p);
    if (st == MN_OK) st = mn_net_backward(r->net, x, rows, i > 0, i == nmicro - 1);
  }
  return st;
}

/* The training step: forward, loss, backward (its buckets allreduced as they fill), the
 * control slots, the finite check, update. in NULL: this rank has no batch (its reader
 * failed) and only joins the allreduce with a raised failure slot (its stale gradients are
 * never used: no rank steps). Returns MN_ERR_PEER when any rank raised it, MN_ERR_NONFINITE
 * when a loss or the gradient is not finite (no rank steps); out: *stop, whether any rank
 * was asked to stop. */
static mn_status_t train_step(run_t *r, const struct input *in, int64_t step, double *loss_sum,
                              int *stop) {
  double t0 = MPI_Wtime();
  r->lr = mn_optimizer_lr(r->opt);
  r->grad_norm = NAN;
  /* (the step before's buckets first, with the deadline: the upload below waits behind them) */
  mn_status_t st = mn_grads_begin(r->p);
  if (st != MN_OK) return st;
  st = in ? forward_backward(r, in, loss_sum) : mn_grads_fail(r->p);
  double t1 = MPI_Wtime();
  mn_step_flags_t f;
  mn_status_t end = mn_grads_end(r->p, &f); /* (it ends the step's exchange whatever st is) */
  double t2 = MPI_Wtime();
  if (st == MN_OK) st = end;
  if (st != MN_OK) return st;
  if (f.failed) return MN_ERR_PEER;
  *stop = f.stop;
  st = check_step(r, step, &f);
  if (st != MN_OK) return st;
  /* the whole reduced (and checked) gradient, clipped to optimizer.clip_norm in the update */
  st = mn_optimizer_step(r->opt, &f);
  double t3 = MPI_Wtime();
  r->t.compute_s += (t1 - t0) + (t3 - t2);
  r->t.comm_s += t2 - t1;
  return st;
}

/* A step that no rank updated from, its loss or gradient not finite (mn_error_message() says
 * which): with optimizer.nonfinite = skip and fewer than nonfinite_max_skips skipped in a row,
 * 1: skipped (warned); else 0, and the run's error is recorded. Every rank decides the same. */
static int nonfinite_step(run_t *r, int64_t step) {
  const mn_config_t *cfg = r->cfg;
  int skip = cfg->optimizer.nonfinite == MN_NONFINITE_SKIP;
  int max = cfg->optimizer.nonfinite_max_skips;
  char what[512];
  snprintf(what, sizeof what, "%s", mn_error_message());
  if (skip && r->skips_in_row < max) {
    mn_optimizer_skip(r->opt); /* the schedule counts it */
    r->skips_in_row++;
    r->skipped++;
    if (mn_world_rank(r->w) == 0)
      mn_log_warn("%s: its update is skipped on every rank (%d in a row, at most %d)", what,
                  r->skips_in_row, max);
    return 1;
  }
  char more[128] = "";
  if (skip) snprintf(more, sizeof more, ", after %d skipped in a row", max);
  mn_error(MN_ERR_NONFINITE,
           "%s: stopped before the update%s (the weights are those before step %lld; lower "
           "optimizer.lr, or check the data)",
           what, more, (long long)(step - r->skips_in_row));
  return 0;
}

/* snapshot.on_error = stop: once an epoch or interval snapshot has failed, rank 0's
 * MN_ERR_IO, which the next step raises as a failed rank does a failed batch (no rank
 * takes that step; all exit 74; the older snapshots are left as they are). */
static mn_status_t snapshot_failed(run_t *r) {
  if (!r->state || r->cfg->snapshot.on_error != MN_ON_ERROR_STOP) return MN_OK;
  mn_status_t st = mn_state_poll(r->state);
  if (st == MN_OK) return MN_OK;
  return mn_error(st, "%s; stopping (snapshot.on_error = stop)", mn_error_message());
}

/* A snapshot of r->pos (mn/state.h). Rank 0 hands the state to its writer and goes on; with
 * wait (a stop, the end) it waits for the file to be durable, and all ranks agree on the
 * outcome. Without wait, a failure is logged when it is known, and snapshot.on_error decides
 * whether training goes on (snapshot_failed, or this save, which reports the write before).
 * A non-finite state is never handed over: every rank finds it, and the run stops. */
static mn_status_t snapshot(run_t *r, const char *reason, int wait) {
  if (!r->state) { /* (the last step's buckets all the same: the stop's agreement waits) */
    mn_status_t st = mn_grads_drain(r->p);
    return wait ? mn_agree(r->w, st, NULL) : MN_OK;
  }
  int go_on = r->cfg->snapshot.on_error == MN_ON_ERROR_CONTINUE;
  int warned = go_on && mn_state_poll(r->state) != MN_OK; /* (this save reports that write) */
  const char *on = "snapshot.on_error = continue: training goes on without that snapshot";
  if (warned) mn_log_warn("%s", on);
  mn_status_t st = describe(r);
  if (st == MN_OK) st = mn_state_save(r->state, reason, wait);
  if (st == MN_ERR_NONFINITE)
    return mn_error(st, "%s; lower optimizer.lr, or check the data", mn_error_message());
  if (st == MN_ERR_IO && !wait) { /* the write before this one failed (the state logged it) */
    if (!go_on) return mn_error(st, "%s; stopping (snapshot.on_error = stop)", mn_error_message());
    if (!warned) mn_log_warn("%s", on);
    st = MN_OK;
  }
  return st;
}

/* Loss and accuracy over the validation set, each rank taking a contiguous share. */
static mn_status_t validate(run_t *r, double *loss, double *accuracy) {
  int64_t n = mn_data_rows(r->val), w = mn_world_size(r->w), me = mn_world_rank(r->w);
  int64_t lo = n * me / w, hi = n * (me + 1) / w;
  int bs = r->cfg->data.batch_size, xw = x_width(r), yw = y_width(r);
  void *x = malloc((size_t)bs * (size_t)xw * 4);
  int32_t *y = malloc((size_t)bs * (size_t)yw * sizeof *y);
  double sums[3] = {0, 0, (double)(hi - lo) * yw}; /* loss, correct, labels */
  mn_status_t st = x && y ? MN_OK : mn_error(MN_ERR_NOMEM, "validation: out of memory");
  if (st == MN_OK) st = mn_grads_drain(r->p); /* its loss reads wait behind the step */
  for (int64_t i = lo; st == MN_OK && i < hi; i += bs) {
    int cnt = (int)(hi - i < bs ? hi - i : bs);
    st = mn_data_read(r->val, i, cnt, x, y);
    if (st != MN_OK) break;
    double ls;
    int64_t correct;
    const void *xd;
    const int32_t *yd;
    st = mn_net_input(r->net, x, y, cnt, &xd, &yd);
    if (st == MN_OK) st = mn_net_forward(r->net, xd, cnt);
    if (st == MN_OK) st = mn_net_loss(r->net, yd, cnt, 0.0f, &ls, &correct);
    mn_net_input_done(r->net);
    if (st != MN_OK) break;
    sums[0] += ls;
    sums[1] += (double)correct;
  }
  free(x);
  free(y);
  st = mn_agree(r->w, st, NULL);
  if (st != MN_OK) return st;
  st = mn_allreduce(r->w, sums, 3, MN_FLOAT64, MN_SUM);
  if (st != MN_OK) return st;
  *loss = sums[0] / sums[2];
  *accuracy = sums[1] / sums[2];
  return MN_OK;
}

/* Mean of (sum, count) pairs over all ranks. */
static double global_mean(run_t *r, double sum, double count) {
  double v[2] = {sum, count};
  if (mn_allreduce(r->w, v, 2, MN_FLOAT64, MN_SUM) != MN_OK || v[1] == 0) return NAN;
  return v[0] / v[1];
}

/* Model FLOPs utilisation at a rate of samples per second over all ranks: the net's
 * training FLOPs over the peak of world devices (compute.peak_tflops, or the GPU's known
 * peak); NaN when no peak is known. */
static double mfu(const run_t *r, double samples_per_s) {
  double peak = r->cfg->compute.peak_tflops > 0 ? 1e12 * r->cfg->compute.peak_tflops
                                                : mn_world_peak_flops(r->w);
  if (peak <= 0) return NAN;
  return samples_per_s * mn_net_flops_per_sample(r->net) / (peak * mn_world_size(r->w));
}

/* Why a snapshot is due after the step that brought the run to r->pos (NULL: none). */
static const char *snapshot_reason(const run_t *r, int epoch_end, int stop) {
  if (finished(r)) return "final";
  if (stop) return "stop";
  if (epoch_end) return "epoch";
  int64_t every = r->cfg->snapshot.every_steps;
  if (every > 0 && r->pos.step % every == 0) return "interval";
  return NULL;
}

static mn_status_t loop(run_t *r, mn_summary_t *sum) {
  const mn_config_t *cfg = r->cfg;
  position_t *p = &r->pos;
  int64_t spe = r->steps_per_epoch, G = r->global_batch, start = p->step, start_epoch = p->epoch;
  r->start_step = start;
  double ival_loss = 0, epoch_loss = 0, val_s = 0;
  int64_t ival_steps = 0, epoch_steps = 0;
  double t_start = r->t_start = MPI_Wtime();
  mn_status_t st = MN_OK;
  int stop = 0;
  while (!finished(r) && !stop) {
    int64_t step = p->step, epoch = p->epoch;
    mn_test_signal_at(r->w, step);
    struct input in;
    double loss = 0;
    if (r->next.fetched) /* during the step before */
      in = r->next;
    else
      fetch(r, &in);
    r->next.fetched = 0;
    mn_status_t rd = in.rd == MN_OK ? snapshot_failed(r) : in.rd;
    if (rd == MN_OK && (in.batch.epoch != epoch || in.batch.step != p->epoch_pos / G))
      rd = mn_error(MN_ERR_INTERNAL, "data out of step: epoch %lld step %lld, expected %lld %lld",
                    (long long)in.batch.epoch, (long long)in.batch.step, (long long)epoch,
                    (long long)(p->epoch_pos / G));
    r->last_in_epoch = rd == MN_OK && in.batch.last;
    st = train_step(r, rd == MN_OK ? &in : NULL, step, &loss, &stop);
    int record = record_due(r, step, stop); /* before the position moves on */
    if (in.rd == MN_OK) mn_net_input_done(r->net); /* (long done: the step read its batch) */
    give_back(r, &in);
    int skipped = st == MN_ERR_NONFINITE && nonfinite_step(r, step);
    if (skipped) st = MN_OK;
    if (st == MN_OK && !skipped) r->skips_in_row = 0;
    if (st != MN_OK) {
      st = mn_agree(r->w, rd != MN_OK ? rd : st, NULL);
      break;
    }
    if (stop && mn_world_rank(r->w) == 0)
      mn_log_info("stop requested by a signal: all ranks stop after step %lld", (long long)step);
    int64_t in_epoch = p->epoch_pos / G;
    p->step++;
    p->samples += G;
    p->epoch_pos += G;
    int epoch_end = r->last_in_epoch; /* (the data are at the next epoch's start too) */
    if (epoch_end) {
      p->epoch++;
      p->epoch_pos = 0;
    }
    /* the next batch now, so that its copy overlaps the device's work still queued; not
     * across an epoch end (validation uses the input slots) nor past the last step */
    if (!epoch_end && !finished(r) && !stop) fetch(r, &r->next);
    if (!skipped) {           /* a skipped step's loss is not finite somewhere: not in the means */
      loss /= (double)step_rows(cfg) * y_width(r); /* the step's mean loss on this rank */
      ival_loss += loss;
      epoch_loss += loss;
      ival_steps++;
      epoch_steps++;
    }
    int last = finished(r);
    if (record) {
      /* counted as people count: epoch from 1, steps completed (docs/metrics.md) */
      mn_step_record_t rec = {epoch + 1, in_epoch + 1, spe, step + 1, 0, 0, 0, 0, 0, 0, 0};
      rec.loss = global_mean(r, ival_loss, (double)ival_steps);
      rec.lr = r->lr;
      rec.grad_norm = r->grad_norm;
      double run_s = MPI_Wtime() - t_start;
      rec.elapsed_s = r->elapsed0 + run_s;
      rec.samples_per_s = (double)((step + 1 - start) * G) / (run_s - val_s);
      rec.tokens_per_s = rec.samples_per_s * y_width(r);
      rec.mfu = mfu(r, rec.samples_per_s);
      if (step == start) sum->first_loss = rec.loss;
      sum->final_loss = r->loss = rec.loss;
      mn_metrics_step(r->metrics, &rec);
      ival_loss = 0;
      ival_steps = 0;
    }
    if (epoch_end) {
      double tv = MPI_Wtime();
      mn_epoch_record_t rec = {epoch + 1, step + 1, 0, -1, -1, 0};
      rec.train_loss = r->train_loss = global_mean(r, epoch_loss, (double)epoch_steps);
      if (r->val) {
        st = validate(r, &rec.val_loss, &rec.val_accuracy);
        if (st != MN_OK) break;
        sum->val_accuracy = r->val_accuracy = rec.val_accuracy;
        r->val_loss = rec.val_loss;
      }
      val_s += MPI_Wtime() - tv;
      rec.elapsed_s = r->elapsed0 + (MPI_Wtime() - t_start);
      mn_metrics_epoch(r->metrics, &rec);
      epoch_loss = 0;
      epoch_steps = 0;
      /* a signal that came during validation stops the run here, not a step later */
      stop = stop || mn_stop_requested(r->w);
      st = mn_allreduce(r->w, &stop, 1, MN_INT32, MN_MAX);
      if (st != MN_OK) break;
    }
    const char *reason = snapshot_reason(r, epoch_end, stop);
    if (reason) st = snapshot(r, reason, stop || last);
    if (st != MN_OK) break;
    if (stop && !last)
      st = mn_error(MN_ERR_PREEMPTED, "stopped by a signal after step %lld%s", (long long)step,
                    cfg->snapshot.enabled ? ", with a snapshot" : " (snapshots are disabled)");
  }
  double train_s = MPI_Wtime() - t_start - val_s;
  int64_t done = p->step - start;
  sum->world = mn_world_size(r->w);
  sum->start_step = start;
  sum->end_step = p->step;
  sum->steps = done;
  sum->epochs = p->epoch - start_epoch + (p->epoch_pos > 0);
  sum->samples = done * G;
  sum->skipped_steps = r->skipped;
  sum->samples_per_s = train_s > 0 ? (double)sum->samples / train_s : 0;
  sum->tokens_per_s = sum->samples_per_s * y_width(r);
  sum->mfu = mfu(r, sum->samples_per_s);
  sum->run_s = MPI_Wtime() - t_start;
  sum->elapsed_s = r->elapsed0 + sum->run_s;
  sum->end_epoch = p->epoch;
  sum->train_loss = r->train_loss;
  sum->val_loss = r->val ? r->val_loss : -1;
  if (done == 0) { /* a finished run resumed: what it had reached */
    sum->elapsed_s = r->elapsed0;
    sum->final_loss = r->loss;
    if (r->val) sum->val_accuracy = r->val_accuracy;
  }
  sum->t = r->t;
  return st;
}

mn_init_opts_t mn_train_init_opts(const mn_config_t *cfg) {
  mn_compute_t c = cfg->compute.device == MN_DEVICE_CPU   ? MN_COMPUTE_CPU
                   : cfg->compute.device == MN_DEVICE_GPU ? MN_COMPUTE_CUDA
                                                          : MN_COMPUTE_AUTO;
  mn_init_opts_t o = {.device = c,
                      .bucket_mb = cfg->comm.bucket_mb,
                      .timeout_s = cfg->comm.timeout_s,
                      .tf32 = cfg->compute.tf32 != 0,
                      .deterministic = cfg->compute.deterministic != 0,
                      .collectives = cfg->comm.backend == MN_BACKEND_MPI    ? MN_COLL_MPI
                                     : cfg->comm.backend == MN_BACKEND_NCCL ? MN_COLL_NCCL
                                                                            : MN_COLL_AUTO};
  return o;
}

mn_status_t mn_train_run(const mn_config_t *cfg, MPI_Comm comm, int want_params,
                         mn_train_result_t *res) {
  memset(res, 0, sizeof *res);
  res->failed_rank = -1;
  mn_init_opts_t o = mn_train_init_opts(cfg);
  mn_world_t *w = NULL;
  mn_status_t st = mn_init_comm(comm, &o, &w);
  if (st == MN_OK) st = mn_train_world(cfg, w, want_params, res);
  mn_world_close(w);
  return st;
}

mn_status_t mn_train_world(const mn_config_t *cfg, mn_world_t *w, int want_params,
                           mn_train_result_t *res) {
  run_t r;
  memset(&r, 0, sizeof r);
  r.cfg = cfg;
  r.w = w;
  r.grad_norm = NAN;
  memset(res, 0, sizeof *res);
  int rank = mn_world_rank(w);
  mn_test_signal_at(w, -1); /* "during set-up" */
  mn_status_t st = setup(&r);
  mn_summary_t sum;
  memset(&sum, 0, sizeof sum);
  sum.val_accuracy = -1;
  sum.first_loss = sum.final_loss = NAN; /* null in the metrics when no step ran */
  sum.resumed_from = rank == 0 ? mn_state_resumed_from(r.state) : NULL;
  if (st == MN_OK && finished(&r) && rank == 0)
    mn_log_info("training had already finished at step %lld, %lld epochs done (%s): nothing to do",
                (long long)r.pos.step, (long long)r.pos.epoch, mn_state_resumed_from(r.state));
  if (st == MN_OK) st = loop(&r, &sum);
  sum.status = st == MN_OK ? "done" : st == MN_ERR_PREEMPTED ? "preempted" : mn_status_string(st);
  /* the summary, of a run that is done or took a step; a metrics file that could not be
   * written ends a run that is otherwise done with 74 (the ranks all got here with MN_OK, so
   * they agree on it); a failed or stopped run keeps its own code: 75 must still mean
   * "requeue me" */
  if (r.state) mn_state_set_metrics(r.state, NULL); /* (the state outlives the records) */
  st = mn_metrics_finish(r.metrics, st == MN_OK || sum.steps > 0 ? &sum : NULL, st);
  r.metrics = NULL;
  if (mn_stop_requested(w))
    mn_log_info("signal %d: %s %.2f s after it arrived", mn_stop_requested(w),
                st == MN_ERR_PREEMPTED ? "stopped with a snapshot" : "finishing",
                mn_stop_since_s(w));
  res->summary = sum;
  res->failed_rank = mn_world_failed_rank(w); /* (mn_finish's report names it) */
  if (st == MN_OK && want_params) {
    res->nparams = mn_params_values(r.p);
    res->params = malloc((size_t)res->nparams * sizeof *res->params);
    if (!res->params) st = mn_error(MN_ERR_NOMEM, "out of memory copying parameters");
    for (int i = 0, at = 0; st == MN_OK && i < mn_params_count(r.p); i++) {
      st = mn_params_get(r.p, i, res->params + at, mn_params_numel(r.p, i));
      at += (int)mn_params_numel(r.p, i);
    }
  }
  teardown(&r);
  return st;
}
