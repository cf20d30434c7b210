/* data.c: mn/data.h: a trainer's dataset, over the runtime's own (mn_data.h: the HDF5
 * readers and the prefetching loader; mn_shard.h: the shard plan), the same that mntrain
 * reads through.
 *
 * The loader starts at the first mn_data_next, from the position a seek or a restore left,
 * and is stopped and started again by a later seek: it owns a plan of its own, made
 * afresh each time (cheap). The handle keeps the plan's sizes (rule) to say where the next
 * batch starts, so that a position never depends on how far the reader has read ahead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mn_api.h"
#include "mn_data.h"
#include "mn_shard.h"

struct mn_data {
  mn_world_t *w;
  mn_dataset_t *ds;
  mn_shard_opts_t opts;
  int batch, depth;
  int classes; /* the labels' range (samples), or the vocabulary (tokens): its identity's */
  mn_shard_plan_t rule; /* sizes only (no tables): for mn_shard_steps_from */
  mn_loader_t *loader;  /* NULL until the first mn_data_next after an open or a seek */
  mn_batch_t held;      /* the batch handed out last (held.x NULL: none) */
  int64_t epoch, pos;   /* where the next batch starts */
};

static mn_status_t check_opts(const char *fn, const mn_data_opts_t *o) {
  if (!o) return mn_error(MN_ERR_USAGE, "%s: opts is NULL (the batch is required)", fn);
  if (o->batch < 0) return mn_error(MN_ERR_USAGE, "%s: batch %d < 0", fn, o->batch);
  if (o->block_size < 0 || o->shuffle_blocks < 0 || o->prefetch < 0)
    return mn_error(MN_ERR_USAGE,
                    "%s: block_size, shuffle_blocks and prefetch are >= 0 (0: "
                    "the default)",
                    fn);
  if (o->prefetch > 256) return mn_error(MN_ERR_USAGE, "%s: prefetch %d > 256", fn, o->prefetch);
  return MN_OK;
}

/* This rank's half of an open: the plan over an open dataset. */
static mn_status_t plan(mn_data_t *d) {
  const mn_comm_t *c = &d->w->comm;
  if (d->batch == 0) return MN_OK; /* read with mn_data_read only: no plan */
  mn_status_t st =
      mn_shard_plan_init(mn_dataset_size(d->ds), c->world, c->rank, d->batch, &d->opts, &d->rule);
  if (st != MN_OK) return mn_error(st, "%s: %s", mn_dataset_path(d->ds, 0), mn_error_message());
  mn_shard_plan_free(&d->rule); /* the sizes stay */
  return MN_OK;
}

/* Collective: what both opens share, once ds_st says whether this rank opened ds. */
static mn_status_t finish_open(const char *fn, mn_world_t *w, const mn_data_opts_t *o, int classes,
                               mn_dataset_t *ds, mn_status_t st, mn_data_t **out) {
  mn_data_t *d = NULL;
  if (st == MN_OK && !(d = calloc(1, sizeof *d)))
    st = mn_error(MN_ERR_NOMEM, "%s: out of memory", fn);
  if (st == MN_OK) {
    d->w = w;
    d->ds = ds;
    d->batch = o->batch;
    d->classes = classes;
    d->depth = o->prefetch ? o->prefetch : 4;
    mn_shard_opts_t so = {o->block_size ? o->block_size : 256,
                          o->shuffle_blocks ? o->shuffle_blocks : 16, !o->in_order, o->pad != 0,
                          o->seed};
    d->opts = so;
    st = plan(d);
  }
  st = mn_agree(w, st, NULL);
  if (st != MN_OK) {
    if (d) d->ds = NULL;
    mn_data_close(d);
    mn_dataset_close(ds);
    return st;
  }
  *out = d;
  return MN_OK;
}

static mn_status_t check_world(const char *fn, mn_world_t *w, mn_data_t **d) {
  if (!d) return mn_error(MN_ERR_USAGE, "%s: d is NULL", fn);
  *d = NULL;
  if (!w || !w->k) return mn_error(MN_ERR_USAGE, "%s: no world (call mn_init first)", fn);
  return MN_OK;
}

mn_status_t mn_data_open_samples(mn_world_t *w, const char *spec, int dim, int classes,
                                 const mn_data_opts_t *o, mn_data_t **d) {
  const char *fn = "mn_data_open_samples";
  mn_status_t st = check_world(fn, w, d);
  if (st != MN_OK) return st; /* no world to agree in */
  st = check_opts(fn, o);
  if (st == MN_OK && (!spec || !spec[0])) st = mn_error(MN_ERR_USAGE, "%s: no path", fn);
  if (st == MN_OK && (dim < 0 || classes < 0))
    st = mn_error(MN_ERR_USAGE, "%s: dim %d and classes %d must be >= 0", fn, dim, classes);
  mn_dataset_t *ds = NULL;
  if (st == MN_OK) st = mn_dataset_open(spec, dim, classes, &ds);
  return finish_open(fn, w, o, classes, ds, st, d);
}

mn_status_t mn_data_open_tokens(mn_world_t *w, const char *spec, int context, int vocab,
                                const mn_data_opts_t *o, mn_data_t **d) {
  const char *fn = "mn_data_open_tokens";
  mn_status_t st = check_world(fn, w, d);
  if (st != MN_OK) return st;
  st = check_opts(fn, o);
  if (st == MN_OK && (!spec || !spec[0])) st = mn_error(MN_ERR_USAGE, "%s: no path", fn);
  if (st == MN_OK && (context < 1 || vocab < 0))
    st = mn_error(MN_ERR_USAGE, "%s: context %d < 1 or vocab %d < 0", fn, context, vocab);
  mn_dataset_t *ds = NULL;
  if (st == MN_OK) st = mn_dataset_open_tokens(spec, context, vocab, &ds);
  return finish_open(fn, w, o, vocab, ds, st, d);
}

static void stop_loader(mn_data_t *d) {
  if (!d->loader) return;
  if (d->held.x) mn_loader_release(d->loader, &d->held);
  memset(&d->held, 0, sizeof d->held);
  mn_loader_stop(d->loader);
  d->loader = NULL;
}

void mn_data_close(mn_data_t *d) {
  if (!d) return;
  stop_loader(d);
  mn_dataset_close(d->ds);
  free(d);
}

int mn_api_data_tokens(const mn_data_t *d) { return d ? mn_dataset_is_tokens(d->ds) : 0; }

mn_status_t mn_api_data_identity(const mn_data_t *d, mn_snapshot_meta_t *m) {
  mn_dataset_t *ds = d->ds;
  m->data_n = mn_dataset_size(ds);
  m->data_dim = mn_dataset_dim(ds);
  m->data_classes = d->classes;
  m->data_label_crc = mn_dataset_label_crc(ds);
  mn_status_t st = mn_dataset_feature_crc(ds, &m->data_feature_crc);
  if (st != MN_OK) return st;
  m->data_feature_crc_set = 1;
  /* the files, one "path\trows\n" line each */
  size_t len = 1;
  for (int i = 0; i < mn_dataset_nfiles(ds); i++) len += strlen(mn_dataset_path(ds, i)) + 24;
  char *files = malloc(len);
  if (!files) return mn_error(MN_ERR_NOMEM, "out of memory describing the dataset");
  size_t at = 0;
  files[0] = '\0';
  for (int i = 0; i < mn_dataset_nfiles(ds); i++)
    at += (size_t)snprintf(files + at, len - at, "%s\t%lld\n", mn_dataset_path(ds, i),
                           (long long)mn_dataset_file_rows(ds, i));
  free(m->data_files);
  m->data_files = files;
  return MN_OK;
}

int64_t mn_data_rows(const mn_data_t *d) { return d ? mn_dataset_size(d->ds) : 0; }
int mn_data_x_width(const mn_data_t *d) { return d ? mn_dataset_dim(d->ds) : 0; }
int mn_data_y_width(const mn_data_t *d) { return d ? mn_dataset_label_width(d->ds) : 0; }
int mn_data_is_tokens(const mn_data_t *d) { return d ? mn_dataset_is_tokens(d->ds) : 0; }
int64_t mn_data_steps_per_epoch(const mn_data_t *d) { return d ? d->rule.steps_per_epoch : 0; }

static int64_t global_batch(const mn_data_t *d) { return (int64_t)d->rule.world * d->batch; }

mn_status_t mn_data_next(mn_data_t *d, mn_data_batch_t *b) {
  if (!d || !b) return mn_error(MN_ERR_USAGE, "mn_data_next: d or b is NULL");
  memset(b, 0, sizeof *b);
  if (d->batch == 0)
    return mn_error(MN_ERR_USAGE, "mn_data_next: %s was opened with batch 0: read it with "
                    "mn_data_read", mn_dataset_path(d->ds, 0));
  mn_status_t st = MN_OK;
  if (!d->loader) {
    mn_shard_plan_t p;
    memset(&p, 0, sizeof p); /* left as it was by a failed init */
    st = mn_shard_plan_init(mn_dataset_size(d->ds), d->rule.world, d->rule.rank, d->batch, &d->opts,
                            &p);
    if (st == MN_OK)
      st = mn_loader_start(d->ds, &p, d->epoch, d->pos, d->depth, &d->w->dev, &d->loader);
    if (st != MN_OK) {
      mn_shard_plan_free(&p);
      return st;
    }
  } else if (d->held.x) {
    mn_loader_release(d->loader, &d->held);
    memset(&d->held, 0, sizeof d->held);
  }
  mn_batch_t got;
  st = mn_loader_next(d->loader, &got, &b->wait_s);
  if (st != MN_OK) return st;
  if (got.epoch != d->epoch || got.pos != d->pos) { /* a bug of ours, not the user's */
    mn_loader_release(d->loader, &got);
    return mn_error(MN_ERR_INTERNAL,
                    "mn_data_next: the reader is at epoch %lld position %lld, "
                    "not %lld %lld",
                    (long long)got.epoch, (long long)got.pos, (long long)d->epoch,
                    (long long)d->pos);
  }
  d->held = got;
  int64_t G = global_batch(d);
  b->x = got.x;
  b->y = got.y;
  b->count = got.count;
  b->epoch = got.epoch;
  b->step = got.pos / G;
  d->pos += G;
  b->last = mn_shard_steps_from(&d->rule, d->pos) == 0;
  if (b->last) {
    d->epoch++;
    d->pos = 0;
  }
  return MN_OK;
}

void mn_data_position(const mn_data_t *d, int64_t *epoch, int64_t *pos) {
  if (epoch) *epoch = d ? d->epoch : 0;
  if (pos) *pos = d ? d->pos : 0;
}

mn_status_t mn_data_seek(mn_data_t *d, int64_t epoch, int64_t pos) {
  if (!d) return mn_error(MN_ERR_USAGE, "mn_data_seek: d is NULL");
  if (d->batch == 0)
    return mn_error(MN_ERR_USAGE, "mn_data_seek: %s was opened with batch 0: no batches",
                    mn_dataset_path(d->ds, 0));
  int64_t n = mn_dataset_size(d->ds);
  if (epoch < 0 || pos < 0 || pos >= n)
    return mn_error(MN_ERR_USAGE,
                    "mn_data_seek: epoch %lld, position %lld: outside epoch >= 0, "
                    "0 <= position < %lld rows",
                    (long long)epoch, (long long)pos, (long long)n);
  stop_loader(d);
  if (mn_shard_steps_from(&d->rule, pos) == 0) { /* nothing whole left of that epoch */
    epoch++;
    pos = 0;
  }
  d->epoch = epoch;
  d->pos = pos;
  return MN_OK;
}

mn_status_t mn_data_read(mn_data_t *d, int64_t first, int64_t count, void *x, int32_t *y) {
  if (!d || !x || !y) return mn_error(MN_ERR_USAGE, "mn_data_read: d, x or y is NULL");
  int64_t n = mn_dataset_size(d->ds);
  if (first < 0 || count < 0 || first > n - count)
    return mn_error(MN_ERR_USAGE, "mn_data_read: rows [%lld, %lld) outside [0, %lld)",
                    (long long)first, (long long)(first + count), (long long)n);
  return count ? mn_dataset_read_range(d->ds, first, count, x, y) : MN_OK;
}

/* ---- resume --------------------------------------------------------------------------- */

/* The attributes of a position: "<key>.<what>". */
enum { ATTR_EPOCH, ATTR_POS, ATTR_ROWS, ATTR_SEED, ATTR_CRC, NATTR };
static const char *const attr_names[NATTR] = {"epoch", "pos", "rows", "seed", "label_crc"};

static mn_status_t attr_name(const char *fn, const char *key, int a, char *out, size_t len) {
  if (!key || !key[0]) return mn_error(MN_ERR_USAGE, "%s: key is empty", fn);
  if ((size_t)snprintf(out, len, "%s.%s", key, attr_names[a]) >= len)
    return mn_error(MN_ERR_USAGE, "%s: key \"%s\" is too long", fn, key);
  return MN_OK;
}

/* What identifies the dataset and its order: rows, seed (as stored: int64 bits), labels. */
static void identity(const mn_data_t *d, int64_t v[NATTR]) {
  v[ATTR_ROWS] = mn_dataset_size(d->ds);
  v[ATTR_SEED] = (int64_t)d->opts.seed;
  v[ATTR_CRC] = (int64_t)mn_dataset_label_crc(d->ds);
}

mn_status_t mn_data_save(const mn_data_t *d, mn_state_t *s, const char *key) {
  if (!d || !s) return mn_error(MN_ERR_USAGE, "mn_data_save: d or s is NULL");
  int64_t v[NATTR];
  identity(d, v);
  v[ATTR_EPOCH] = d->epoch;
  v[ATTR_POS] = d->pos;
  char name[MN_STATE_KEY_MAX];
  mn_status_t st = MN_OK;
  for (int a = 0; st == MN_OK && a < NATTR; a++) {
    st = attr_name("mn_data_save", key, a, name, sizeof name);
    if (st == MN_OK) st = mn_state_set_int(s, name, v[a]);
  }
  return st;
}

mn_status_t mn_data_restore(mn_data_t *d, const mn_state_t *s, const char *key, int *found) {
  const char *fn = "mn_data_restore";
  if (found) *found = 0;
  if (!d || !s) return mn_error(MN_ERR_USAGE, "%s: d or s is NULL", fn);
  int64_t was[NATTR], now[NATTR];
  identity(d, now);
  char name[MN_STATE_KEY_MAX];
  for (int a = 0; a < NATTR; a++) {
    mn_status_t st = attr_name(fn, key, a, name, sizeof name);
    if (st == MN_OK) st = mn_state_get_int(s, name, &was[a]);
    if (st == MN_ERR_NOINPUT && a == ATTR_EPOCH) return MN_OK; /* not kept: a fresh run */
    if (st != MN_OK)
      return mn_error(st == MN_ERR_NOINPUT ? MN_ERR_DATA : st, "%s: %s", fn, mn_error_message());
  }
  static const char *const what[NATTR] = {"", "", "rows", "seed", "CRC of its labels"};
  for (int a = ATTR_ROWS; a < NATTR; a++)
    if (was[a] != now[a])
      return mn_error(MN_ERR_DATA,
                      "%s: the snapshot's \"%s\" position is of another dataset or "
                      "order: its %s %lld, this one's %lld (%s)",
                      fn, key, what[a], (long long)was[a], (long long)now[a],
                      mn_dataset_path(d->ds, 0));
  mn_status_t st = mn_data_seek(d, was[ATTR_EPOCH], was[ATTR_POS]);
  if (st != MN_OK) return mn_error(MN_ERR_DATA, "%s: %s", fn, mn_error_message());
  if (found) *found = 1;
  return MN_OK;
}
