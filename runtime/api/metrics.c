/* metrics.c: mn/metrics.h: a trainer's progress line and records, through mntrain's own
 * writer (mn_runlog.h), so that a trainer of one's own writes the same records.
 *
 * The handle fills in what a record leaves 0 (the rates from the wall time between
 * records, the elapsed time from the open), and gathers what the summary says from the
 * records it was given. The open is collective: the start record lists every rank's host,
 * and a file that rank 0 cannot open is every rank's MN_ERR_IO. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mn_api.h"
#include "mn_clock.h"
#include "mn_runlog.h"

struct mn_metrics {
  mn_world_t *w;
  mn_runlog_t log;
  mn_metrics_opts_t o;
  char *path, *resumed_from; /* copies of the caller's */
  double t_open, t_last;     /* the open, and the last step record */
  int64_t last_step;         /* global step of the last step record (start_step before one) */
  int64_t end_epoch;         /* epochs completed, by the records (from start_epoch) */
  double first_loss, final_loss, train_loss, val_loss, val_accuracy;
};

static char *dup_or_null(const char *s) { return s && s[0] ? strdup(s) : NULL; }

static void free_metrics(mn_metrics_t *m) {
  mn_runlog_close(&m->log);
  free(m->path);
  free(m->resumed_from);
  free(m);
}

static mn_status_t check_opts(const mn_metrics_opts_t *o) {
  if (o->progress < MN_PROGRESS_AUTO || o->progress > MN_PROGRESS_OFF)
    return MN_API_USAGE("mn_metrics_open", "progress %d is none of MN_PROGRESS_*",
                        (int)o->progress);
  if (o->total_steps < 0 || o->steps_per_epoch < 0 || o->samples_per_step < 0 ||
      o->tokens_per_sample < 0 || o->start_step < 0 || o->start_epoch < 0 || !(o->elapsed_s >= 0))
    return MN_API_USAGE("mn_metrics_open", "a count or a time of the options is negative");
  return MN_OK;
}

/* Collective: every rank's host name, to rank 0 (hosts[world] into all), and the start
 * record written there. */
static mn_status_t start_record(mn_metrics_t *m) {
  mn_comm_t *c = &m->w->comm;
  size_t hostlen = sizeof c->host;
  char *all = calloc((size_t)c->world, hostlen);
  const char **hosts = calloc((size_t)c->world, sizeof *hosts);
  mn_status_t st = all && hosts ? MN_OK : mn_error(MN_ERR_NOMEM, "mn_metrics_open: out of memory");
  st = mn_agree(m->w, st, NULL);
  if (st == MN_OK) st = mn_comm_gather_hosts(c, all);
  if (st == MN_OK && c->rank == 0) {
    for (int i = 0; i < c->world; i++) {
      all[(size_t)(i + 1) * hostlen - 1] = '\0';
      hosts[i] = all + (size_t)i * hostlen;
    }
    mn_start_record_t rec = {.pairs = m->o.config,
                             .world = c->world,
                             .hosts = hosts,
                             .global_step = m->o.start_step,
                             .epoch = m->o.start_epoch + 1,
                             .elapsed_s = m->o.elapsed_s,
                             .resumed_from = m->resumed_from};
    mn_runlog_start(&m->log, &rec);
  }
  free(hosts);
  free(all);
  return st;
}

mn_status_t mn_metrics_open(mn_world_t *w, const mn_metrics_opts_t *o, mn_metrics_t **out) {
  if (!out) return MN_API_USAGE("mn_metrics_open", "m is NULL");
  *out = NULL;
  if (!w || !w->k) return MN_API_USAGE("mn_metrics_open", "no world (call mn_init first)");
  mn_metrics_opts_t none;
  memset(&none, 0, sizeof none);
  mn_status_t st = check_opts(o ? o : &none);
  mn_metrics_t *m = st == MN_OK ? calloc(1, sizeof *m) : NULL;
  if (st == MN_OK && !m) st = mn_error(MN_ERR_NOMEM, "mn_metrics_open: out of memory");
  if (st == MN_OK) {
    m->w = w;
    m->o = o ? *o : none;
    m->path = dup_or_null(m->o.path);
    m->resumed_from = dup_or_null(m->o.resumed_from);
    m->o.path = m->path;
    m->o.resumed_from = m->resumed_from;
    m->t_open = m->t_last = mn_now_s();
    m->last_step = m->o.start_step;
    m->end_epoch = m->o.start_epoch;
    m->first_loss = m->final_loss = m->train_loss = NAN;
    m->val_loss = m->val_accuracy = -1;
    st = mn_runlog_open(&m->log, w->comm.rank, w->comm.world, m->path ? m->path : "",
                        m->resumed_from != NULL, m->o.tensorboard, m->o.progress, m->o.total_steps);
    m->log.lm = m->o.tokens_per_sample > 0;
  }
  st = mn_agree(w, st, NULL);
  if (st == MN_OK) st = start_record(m); /* a failed write of it: warned, and the close says */
  if (st != MN_OK) {
    if (m) free_metrics(m);
    return st;
  }
  m->o.config = NULL; /* the caller's, used up */
  *out = m;
  return MN_OK;
}

/* A record's elapsed time: its own, or since the open on top of the runs before. */
static double elapsed(const mn_metrics_t *m, double given) {
  return given > 0 ? given : m->o.elapsed_s + (mn_now_s() - m->t_open);
}

mn_status_t mn_metrics_step(mn_metrics_t *m, const mn_step_record_t *r) {
  if (!m || !r) return MN_API_USAGE("mn_metrics_step", "m or r is NULL");
  mn_step_record_t rec = *r;
  double now = mn_now_s();
  if (!rec.steps_per_epoch) rec.steps_per_epoch = m->o.steps_per_epoch;
  if (!rec.samples_per_s && m->o.samples_per_step > 0 && now > m->t_last)
    rec.samples_per_s =
        (double)((rec.global_step - m->last_step) * m->o.samples_per_step) / (now - m->t_last);
  if (!rec.tokens_per_s) rec.tokens_per_s = rec.samples_per_s * m->o.tokens_per_sample;
  if (!rec.mfu) rec.mfu = NAN;
  rec.elapsed_s = elapsed(m, rec.elapsed_s);
  if (isnan(m->first_loss)) m->first_loss = rec.loss;
  m->final_loss = rec.loss;
  m->last_step = rec.global_step;
  m->t_last = now;
  int64_t done =
      rec.epoch - 1 + (rec.steps_per_epoch > 0 && rec.step_in_epoch >= rec.steps_per_epoch);
  if (done > m->end_epoch) m->end_epoch = done; /* a trainer may record no epochs */
  mn_runlog_step(&m->log, &rec);
  return MN_OK;
}

mn_status_t mn_metrics_epoch(mn_metrics_t *m, const mn_epoch_record_t *r) {
  if (!m || !r) return MN_API_USAGE("mn_metrics_epoch", "m or r is NULL");
  mn_epoch_record_t rec = *r;
  rec.elapsed_s = elapsed(m, rec.elapsed_s);
  if (rec.epoch > m->end_epoch) m->end_epoch = rec.epoch;
  m->train_loss = rec.train_loss;
  if (rec.val_accuracy >= 0) {
    m->val_loss = rec.val_loss;
    m->val_accuracy = rec.val_accuracy;
  }
  mn_runlog_epoch(&m->log, &rec);
  return MN_OK;
}

mn_status_t mn_metrics_snapshot(mn_metrics_t *m, const mn_snapshot_record_t *r) {
  if (!m || !r) return MN_API_USAGE("mn_metrics_snapshot", "m or r is NULL");
  mn_runlog_snapshot(&m->log, r);
  return MN_OK;
}

mn_status_t mn_metrics_finish(mn_metrics_t *m, const mn_summary_t *s, mn_status_t run) {
  if (!m) return run;
  if (s) mn_runlog_summary(&m->log, s);
  mn_status_t st = run;
  if (run == MN_OK) st = mn_agree(m->w, mn_runlog_sync(&m->log), NULL);
  free_metrics(m);
  return st;
}

mn_status_t mn_metrics_close(mn_metrics_t *m, int64_t global_step, mn_status_t run) {
  if (!m) return run;
  if (global_step >= 0) m->last_step = global_step;
  mn_summary_t s;
  memset(&s, 0, sizeof s);
  double run_s = mn_now_s() - m->t_open;
  s.world = m->w->comm.world;
  s.start_step = m->o.start_step;
  s.end_step = m->last_step;
  s.steps = m->last_step - m->o.start_step;
  s.epochs = m->end_epoch - m->o.start_epoch;
  s.samples = s.steps * m->o.samples_per_step;
  s.end_epoch = m->end_epoch;
  s.samples_per_s = run_s > 0 ? (double)s.samples / run_s : 0;
  s.tokens_per_s = s.samples_per_s * m->o.tokens_per_sample;
  s.mfu = NAN;
  s.first_loss = m->first_loss;
  s.final_loss = m->final_loss;
  s.train_loss = m->train_loss;
  s.val_loss = m->val_loss;
  s.val_accuracy = m->val_accuracy;
  s.run_s = run_s;
  s.elapsed_s = m->o.elapsed_s + run_s;
  s.t.compute_s = s.t.comm_s = s.t.io_wait_s = NAN; /* not timed apart: null in the record */
  s.status = run == MN_OK ? "done" : run == MN_ERR_PREEMPTED ? "preempted" : mn_status_string(run);
  s.resumed_from = m->resumed_from;
  return mn_metrics_finish(m, &s, run);
}
