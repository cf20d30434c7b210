/* runlog.c: the progress line, the JSON-lines metrics file and the TensorBoard event file
 * of rank 0 (mn_runlog.h).
 *
 * Formatting only: the numbers come from the training loop. The progress line and the
 * epoch and summary lines go through the console (mn_console.h), which keeps log lines from
 * being glued onto a redrawn line. JSON is written by hand since
 * every record is a flat object of numbers and short strings; non-finite numbers become
 * null so that the file always parses. Every record is flushed and checked: the first
 * failed write (a full disk) is warned about at once, the file is cut back to its last
 * complete record and written no more, training goes on, and mn_runlog_sync() answers
 * MN_ERR_IO so that the run ends with exit 74 (docs/metrics.md). A TensorBoard file that cannot
 * be written is warned about once and dropped; it does not change the exit code. */
#include "mn_runlog.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "mn_clock.h"
#include "mn_console.h"
#include "mn_json.h"
#include "mn_log.h"

#ifndef MN_VERSION
#define MN_VERSION "unknown"
#endif

static int want_tty(mn_progress_t progress) {
  if (progress == MN_PROGRESS_TTY) return 1;
  if (progress != MN_PROGRESS_AUTO) return 0;
  const char *env = getenv("MN_TTY"); /* set by mnrun, whose terminal the ranks do not see */
  if (env && *env) return strcmp(env, "1") == 0;
  return isatty(STDOUT_FILENO);
}

mn_status_t mn_runlog_open(mn_runlog_t *m, int rank, int world, const char *metrics_path,
                           int append, const char *tensorboard, mn_progress_t progress,
                           int64_t total_steps) {
  memset(m, 0, sizeof *m);
  m->active = rank == 0;
  m->world = world;
  m->total_steps = total_steps;
  m->t_start = mn_now_s();
  if (!m->active) return MN_OK;
  m->show = progress != MN_PROGRESS_OFF;
  m->tty = m->show && want_tty(progress);
  if (metrics_path && *metrics_path) {
    m->path = metrics_path;
    m->json = fopen(metrics_path, append ? "a" : "w");
    if (!m->json)
      return mn_error(MN_ERR_IO, "%s: cannot write the metrics file: %s", metrics_path,
                      strerror(errno));
    off_t end = fseeko(m->json, 0, SEEK_END) == 0 ? ftello(m->json) : -1;
    m->good_bytes = end > 0 ? (int64_t)end : 0;
  }
  if (tensorboard && *tensorboard) {
    mn_status_t st = mn_tb_open(tensorboard, &m->tb);
    if (st != MN_OK) return mn_error(st, "[log] tensorboard: %s", mn_error_message());
    mn_log_info("TensorBoard events in %s", mn_tb_path(m->tb));
  }
  return MN_OK;
}

/* The first failed TensorBoard write (mn_error_message() says which): warned about once,
 * and the file gets nothing more. */
static void tb_failed(mn_runlog_t *m) {
  mn_log_warn("%s; no more TensorBoard events are written, training goes on", mn_error_message());
  mn_tb_close(m->tb);
  m->tb = NULL;
}

static void tb_scalar(mn_runlog_t *m, const char *tag, int64_t step, double t, double v) {
  if (m->tb && mn_tb_scalar(m->tb, tag, step, t, (float)v) != MN_OK) tb_failed(m);
}

static void tb_flush(mn_runlog_t *m) {
  if (m->tb && mn_tb_flush(m->tb) != MN_OK) tb_failed(m);
}
/* The first failed write: say it now, cut the file back to its last complete record (best
 * effort: a full disk can still shrink a file), and write no more. */
static void json_failed(mn_runlog_t *m, int err) {
  m->write_errno = err ? err : EIO;
  mn_log_warn("%s: cannot write the metrics file: %s; it keeps its complete records and gets "
              "no more, training goes on, and the run will end with exit 74",
              m->path, strerror(m->write_errno));
  if (m->json) fclose(m->json); /* its error is the one above */
  m->json = NULL;
  if (truncate(m->path, (off_t)m->good_bytes) != 0) { /* not a regular file: nothing to cut */
  }
}

/* A record is written: flush it and check every write of it. */
static void json_done(mn_runlog_t *m) {
  int rc = fflush(m->json), err = errno;
  if (rc != 0 || ferror(m->json)) {
    json_failed(m, err);
    return;
  }
  off_t at = ftello(m->json);
  if (at >= 0) m->good_bytes = (int64_t)at;
}

/* A JSON number, or null when it is not finite. */
static void json_num(FILE *f, const char *key, double v) {
  if (isfinite(v))
    fprintf(f, ",\"%s\":%.9g", key, v);
  else
    fprintf(f, ",\"%s\":null", key);
}

/* ,"key":"value" */
static void json_str(FILE *f, const char *key, const char *v) {
  fprintf(f, ",\"%s\":", key);
  mn_json_string(f, v);
}

/* The effective config as {"section":{"key":"value",...},...}: the values as strings, as
 * train.conf spells them (mn_config_each_value gives each section's keys together). */
struct config_json {
  FILE *f;
  char section[64]; /* the open one ("" before the first) */
};

static void config_value(const char *section, const char *key, const char *value, void *user) {
  struct config_json *cj = user;
  if (strcmp(cj->section, section) != 0) {
    if (cj->section[0]) fputs("},", cj->f);
    mn_json_string(cj->f, section);
    fputs(":{", cj->f);
    snprintf(cj->section, sizeof cj->section, "%s", section);
  } else {
    fputc(',', cj->f);
  }
  mn_json_string(cj->f, key);
  fputc(':', cj->f);
  mn_json_string(cj->f, value);
}

/* "section.key=value" (or "key=value": section "user"): its section, key and value; -1
 * without '=' or with a section or key too long for the buffers. */
typedef struct pair {
  char sec[64], key[128];
  const char *val; /* inside the pair */
} pair_t;

static int pair_split(const char *text, pair_t *p) {
  const char *eq = strchr(text, '=');
  if (!eq) return -1;
  const char *dot = memchr(text, '.', (size_t)(eq - text));
  const char *k = dot ? dot + 1 : text;
  int sl = dot ? (int)(dot - text) : 4, kl = (int)(eq - k);
  if (sl >= (int)sizeof p->sec || kl >= (int)sizeof p->key) return -1;
  snprintf(p->sec, sizeof p->sec, "%.*s", sl, dot ? text : "user");
  snprintf(p->key, sizeof p->key, "%.*s", kl, k);
  p->val = eq + 1;
  return 0;
}

/* A trainer's "section.key=value" pairs, as mn_config_each_value gives a config's: each
 * section's keys together, the sections in order of first appearance (a pair that does not
 * split is skipped). */
static void each_pair(const char *const *pairs,
                      void (*fn)(const char *, const char *, const char *, void *), void *user) {
  for (int i = 0; pairs[i]; i++) {
    pair_t p, q;
    if (pair_split(pairs[i], &p) != 0) continue;
    int first = 1; /* the section's first pair emits all of the section's pairs */
    for (int j = 0; j < i && first; j++)
      first = pair_split(pairs[j], &q) != 0 || strcmp(q.sec, p.sec) != 0;
    for (int j = i; first && pairs[j]; j++)
      if (pair_split(pairs[j], &q) == 0 && !strcmp(q.sec, p.sec)) fn(q.sec, q.key, q.val, user);
  }
}

static void fmt_duration(char *buf, size_t len, double s) {
  if (!isfinite(s) || s < 0)
    snprintf(buf, len, "?");
  else if (s < 60)
    snprintf(buf, len, "%.0fs", s);
  else if (s < 3600)
    snprintf(buf, len, "%dm%02ds", (int)s / 60, (int)s % 60);
  else
    snprintf(buf, len, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

/* A line on stdout, after any open progress line (which it ends). */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  mn_console_progress_end();
  mn_console_write(stdout, text);
}

/* {"event":"<event>","time":<unix seconds> */
static void json_begin(FILE *f, const char *event, double t) {
  fprintf(f, "{\"event\":\"%s\",\"time\":%.3f", event, t);
}

void mn_runlog_start(mn_runlog_t *m, const mn_start_record_t *r) {
  if (!m->active || !m->json) return;
  json_begin(m->json, "start", mn_unix_time_s());
  json_str(m->json, "mn_version", MN_VERSION);
  fprintf(m->json, ",\"world\":%d,\"hosts\":[", r->world);
  for (int i = 0; i < r->world; i++) {
    if (i) fputc(',', m->json);
    mn_json_string(m->json, r->hosts ? r->hosts[i] : "");
  }
  fprintf(m->json, "],\"global_step\":%lld,\"epoch\":%lld", (long long)r->global_step,
          (long long)r->epoch);
  json_num(m->json, "elapsed_s", r->elapsed_s);
  if (r->resumed_from)
    json_str(m->json, "resumed_from", r->resumed_from);
  else
    fputs(",\"resumed_from\":null", m->json);
  fputs(",\"config\":{", m->json);
  struct config_json cj = {m->json, ""};
  if (r->cfg)
    mn_config_each_value(r->cfg, config_value, &cj);
  else if (r->pairs)
    each_pair(r->pairs, config_value, &cj);
  fputs(cj.section[0] ? "}}}\n" : "}}\n", m->json);
  json_done(m);
}

void mn_runlog_step(mn_runlog_t *m, const mn_step_record_t *r) {
  if (!m->active) return;
  double now = mn_unix_time_s();
  if (m->show) {
    char eta[32], line[256];
    double left = (double)(m->total_steps - r->global_step);
    double per_step = r->elapsed_s / (double)(r->global_step > 0 ? r->global_step : 1);
    fmt_duration(eta, sizeof eta, left * per_step);
    char rate[64];
    if (!m->lm)
      snprintf(rate, sizeof rate, "%.0f samples/s", r->samples_per_s);
    else if (isfinite(r->mfu))
      snprintf(rate, sizeof rate, "%.0f tok/s  MFU %.1f%%", r->tokens_per_s, 100.0 * r->mfu);
    else
      snprintf(rate, sizeof rate, "%.0f tok/s", r->tokens_per_s);
    snprintf(line, sizeof line, "epoch %lld step %lld/%lld  loss %.4f  lr %.4g  %s  ETA %s",
             (long long)r->epoch, (long long)r->step_in_epoch, (long long)r->steps_per_epoch,
             r->loss, r->lr, rate, eta);
    mn_console_progress(line, m->tty);
  }
  tb_scalar(m, "train/loss", r->global_step, now, r->loss);
  tb_scalar(m, "train/lr", r->global_step, now, r->lr);
  tb_scalar(m, "train/samples_per_s", r->global_step, now, r->samples_per_s);
  tb_scalar(m, "train/grad_norm", r->global_step, now, r->grad_norm);
  if (m->lm) {
    tb_scalar(m, "train/tokens_per_s", r->global_step, now, r->tokens_per_s);
    if (isfinite(r->mfu)) tb_scalar(m, "train/mfu", r->global_step, now, r->mfu);
  }
  tb_flush(m);
  if (m->json) {
    json_begin(m->json, "step", now);
    fprintf(m->json, ",\"epoch\":%lld,\"step\":%lld,\"global_step\":%lld", (long long)r->epoch,
            (long long)r->step_in_epoch, (long long)r->global_step);
    json_num(m->json, "loss", r->loss);
    json_num(m->json, "lr", r->lr);
    json_num(m->json, "samples_per_s", r->samples_per_s);
    json_num(m->json, "grad_norm", r->grad_norm);
    json_num(m->json, "elapsed_s", r->elapsed_s);
    if (m->lm) {
      json_num(m->json, "tokens_per_s", r->tokens_per_s);
      json_num(m->json, "mfu", r->mfu);
    }
    fputs("}\n", m->json);
    json_done(m);
  }
}

void mn_runlog_epoch(mn_runlog_t *m, const mn_epoch_record_t *r) {
  if (!m->active) return;
  double now = mn_unix_time_s();
  if (m->show) {
    if (r->val_accuracy >= 0 && m->lm)
      say("epoch %lld done: train loss %.4f  val loss %.4f  val perplexity %.2f  val token "
          "accuracy %.2f%%  (%.1f s)\n",
          (long long)r->epoch, r->train_loss, r->val_loss, exp(r->val_loss),
          100.0 * r->val_accuracy, r->elapsed_s);
    else if (r->val_accuracy >= 0)
      say("epoch %lld done: train loss %.4f  val loss %.4f  val accuracy %.2f%%  (%.1f s)\n",
          (long long)r->epoch, r->train_loss, r->val_loss, 100.0 * r->val_accuracy, r->elapsed_s);
    else
      say("epoch %lld done: train loss %.4f  (%.1f s)\n", (long long)r->epoch, r->train_loss,
          r->elapsed_s);
  }
  tb_scalar(m, "train/epoch_loss", r->global_step, now, r->train_loss);
  if (r->val_accuracy >= 0) {
    tb_scalar(m, "val/loss", r->global_step, now, r->val_loss);
    tb_scalar(m, "val/accuracy", r->global_step, now, r->val_accuracy);
    if (m->lm) tb_scalar(m, "val/perplexity", r->global_step, now, exp(r->val_loss));
  }
  tb_flush(m);
  if (m->json) {
    json_begin(m->json, "epoch", now);
    fprintf(m->json, ",\"epoch\":%lld,\"global_step\":%lld", (long long)r->epoch,
            (long long)r->global_step);
    json_num(m->json, "train_loss", r->train_loss);
    json_num(m->json, "val_loss", r->val_accuracy >= 0 ? r->val_loss : NAN);
    json_num(m->json, "val_accuracy", r->val_accuracy >= 0 ? r->val_accuracy : NAN);
    if (m->lm) {
      json_num(m->json, "train_perplexity", exp(r->train_loss));
      json_num(m->json, "val_perplexity", r->val_accuracy >= 0 ? exp(r->val_loss) : NAN);
    }
    json_num(m->json, "elapsed_s", r->elapsed_s);
    fputs("}\n", m->json);
    json_done(m);
  }
}

void mn_runlog_snapshot(mn_runlog_t *m, const mn_snapshot_record_t *r) {
  if (!m->active || !m->json) return;
  json_begin(m->json, "snapshot", mn_unix_time_s());
  fprintf(m->json, ",\"global_step\":%lld", (long long)r->step);
  json_str(m->json, "reason", r->reason);
  json_str(m->json, "path", r->path);
  json_str(m->json, "status", r->ok ? "ok" : "failed");
  if (!r->ok) json_str(m->json, "error", r->error);
  json_num(m->json, "write_s", r->write_s);
  json_num(m->json, "stall_s", r->stall_s);
  fputs("}\n", m->json);
  json_done(m);
}

void mn_runlog_summary(mn_runlog_t *m, const mn_summary_t *s) {
  if (!m->active) return;
  if (m->show && s->steps == 0 && s->resumed_from) {
    char loss[64] = "", train[64] = "", val[96] = ""; /* what the snapshot knows */
    if (isfinite(s->final_loss)) snprintf(loss, sizeof loss, "; its last loss %.4f", s->final_loss);
    if (isfinite(s->train_loss)) snprintf(train, sizeof train, ", train loss %.4f", s->train_loss);
    if (s->val_loss >= 0)
      snprintf(val, sizeof val, ", val loss %.4f, val accuracy %.2f%%", s->val_loss,
               100.0 * s->val_accuracy);
    char took[64] = ""; /* 0: a snapshot written before elapsed_s was kept */
    if (s->elapsed_s > 0) snprintf(took, sizeof took, " (%.1f s of training)", s->elapsed_s);
    say("nothing to do: the run had finished at step %lld, %lld epochs done%s%s%s%s\n",
        (long long)s->end_step, (long long)s->end_epoch, loss, train, val, took);
  } else if (m->show) {
    char line[512], more[160] = "", rate[64];
    if (!m->lm)
      snprintf(rate, sizeof rate, "%.0f samples/s", s->samples_per_s);
    else if (isfinite(s->mfu))
      snprintf(rate, sizeof rate, "%.0f tokens/s, MFU %.1f%%", s->tokens_per_s, 100.0 * s->mfu);
    else
      snprintf(rate, sizeof rate, "%.0f tokens/s", s->tokens_per_s);
    int n =
        snprintf(line, sizeof line, "%s: %lld steps, %lld epochs, world %d, %s; loss %.4f -> %.4f",
                 s->status, (long long)s->steps, (long long)s->epochs, s->world, rate,
                 s->first_loss, s->final_loss);
    if (s->val_accuracy >= 0 && n < (int)sizeof line)
      n += snprintf(line + n, sizeof line - (size_t)n, ", val accuracy %.2f%%",
                    100.0 * s->val_accuracy);
    if (s->skipped_steps > 0)
      snprintf(more, sizeof more, "; %lld non-finite steps skipped", (long long)s->skipped_steps);
    if (s->t.compute_s + s->t.comm_s + s->t.io_wait_s > 0)
      say("%s%s\n  time: compute %.2f s, comm %.2f s, io wait %.2f s, total %.2f s\n", line, more,
          s->t.compute_s, s->t.comm_s, s->t.io_wait_s, s->run_s);
    else /* a trainer of its own (mn/metrics.h) times nothing but the whole */
      say("%s%s\n  time: %.2f s\n", line, more, s->run_s);
  }
  tb_flush(m);
  if (m->json) {
    json_begin(m->json, "summary", mn_unix_time_s());
    fprintf(m->json,
            ",\"status\":\"%s\",\"world\":%d,\"steps\":%lld,\"epochs\":%lld,\"samples\":%lld",
            s->status, s->world, (long long)s->steps, (long long)s->epochs, (long long)s->samples);
    fprintf(m->json,
            ",\"start_step\":%lld,\"end_step\":%lld,\"global_step\":%lld,\"epoch\":%lld,"
            "\"skipped_steps\":%lld",
            (long long)s->start_step, (long long)s->end_step, (long long)s->end_step,
            (long long)s->end_epoch, (long long)s->skipped_steps);
    if (s->resumed_from) json_str(m->json, "resumed_from", s->resumed_from);
    json_num(m->json, "samples_per_s", s->samples_per_s);
    if (m->lm) {
      json_num(m->json, "tokens_per_s", s->tokens_per_s);
      json_num(m->json, "mfu", s->mfu);
    }
    json_num(m->json, "first_loss", s->first_loss);
    json_num(m->json, "final_loss", s->final_loss);
    json_num(m->json, "val_accuracy", s->val_accuracy >= 0 ? s->val_accuracy : NAN);
    json_num(m->json, "compute_s", s->t.compute_s);
    json_num(m->json, "comm_s", s->t.comm_s);
    json_num(m->json, "io_wait_s", s->t.io_wait_s);
    json_num(m->json, "elapsed_s", s->elapsed_s);
    json_num(m->json, "run_s", s->run_s);
    fputs("}\n", m->json);
    json_done(m);
  }
}

mn_status_t mn_runlog_sync(mn_runlog_t *m) {
  if (m->json) { /* fsync may not apply (a pipe, /dev/null): EINVAL, EROFS */
    int rc = fflush(m->json), err = errno;
    if (rc == 0 && fsync(fileno(m->json)) != 0 && errno != EINVAL && errno != EROFS) {
      rc = -1;
      err = errno;
    }
    if (rc != 0 || ferror(m->json)) json_failed(m, err);
  }
  if (!m->write_errno) return MN_OK;
  return mn_error(MN_ERR_IO,
                  "%s: the metrics file could not be written (%s): it lacks the records "
                  "from then on, the summary among them",
                  m->path, strerror(m->write_errno));
}

void mn_runlog_close(mn_runlog_t *m) {
  if (m->active) mn_console_progress_end();
  mn_tb_close(m->tb);
  m->tb = NULL;
  if (m->json && fclose(m->json) != 0) {
    int err = errno;
    m->json = NULL;
    json_failed(m, err);
  }
  m->json = NULL;
}
