/* mn_runlog.h: what a run tells its user: the progress line on rank 0 and JSON lines.
 *
 * The progress line (epoch, step, loss, samples/s, ETA) redraws in place on a terminal and
 * prints plain lines otherwise (mn_console.h keeps log lines off it). --metrics FILE gets
 * one JSON object per line: a "start" record, a "step" record per log interval, an "epoch"
 * record per epoch (with validation), "snapshot" records and a final "summary", each with
 * its wall-clock "time". log.tensorboard DIR gets the same scalars as a TensorBoard event
 * file (mn_tbevents.h). Counts as people count: epochs from 1, and global_step is the number
 * of optimizer steps completed when the record is written (docs/metrics.md). Only rank 0
 * writes; the functions do nothing on other ranks. */
#ifndef MN_METRICS_H
#define MN_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include <mn/metrics.h>

#include "mn_config.h"
#include "mn_status.h"
#include "mn_tbevents.h"

#ifdef __cplusplus
extern "C" {
#endif

/* mn_timing_t, mn_summary_t, mn_snapshot_record_t, mn_step_record_t, mn_epoch_record_t:
 * <mn/metrics.h>, whose records these are. */

typedef struct mn_runlog {
  int active;         /* rank 0 */
  int tty;            /* redraw in place */
  int show;           /* progress shown at all */
  FILE *json;         /* NULL: no metrics file, or no more (write_errno) */
  const char *path;   /* of the metrics file (the caller's string) */
  int64_t good_bytes; /* the file's size after its last complete record */
  int write_errno;    /* the first failed write to it (0: none) */
  int world;
  int64_t total_steps;
  double t_start;
  mn_tb_t *tb; /* log.tensorboard's event file (NULL: none, or no more after a failure) */
  int lm;      /* a language model (set by the caller after open): the progress shows
                  tokens/s, MFU and perplexity, and the records carry them */
} mn_runlog_t;

/* The first record: what this run is. */
typedef struct mn_start_record {
  const mn_config_t *cfg;   /* the effective config, or NULL: */
  const char *const *pairs; /* a NULL-ended list of "section.key=value" (NULL: none) */
  int world;                /* ranks */
  const char *const *hosts; /* hosts[world]: each rank's host */
  int64_t global_step;      /* steps completed before this run (0, or the snapshot's) */
  int64_t epoch;            /* the epoch this run starts in, from 1 */
  double elapsed_s;         /* training time before this run (0, or the snapshot's) */
  const char *resumed_from; /* snapshot path, or NULL */
} mn_start_record_t;

/* rank: this rank; metrics_path "" for none (append: add to it, as a resumed run does);
 * tensorboard: a directory for an event file, "" for none; progress from the config (auto:
 * redraw when the environment variable MN_TTY is 1, or, without it, when stdout is a
 * terminal: mnrun sets MN_TTY from its own stdout, which the ranks do not see). */
mn_status_t mn_runlog_open(mn_runlog_t *m, int rank, int world, const char *metrics_path,
                           int append, const char *tensorboard, mn_progress_t progress,
                           int64_t total_steps);
void mn_runlog_start(mn_runlog_t *m, const mn_start_record_t *r);
void mn_runlog_step(mn_runlog_t *m, const mn_step_record_t *r);
void mn_runlog_epoch(mn_runlog_t *m, const mn_epoch_record_t *r);
void mn_runlog_snapshot(mn_runlog_t *m, const mn_snapshot_record_t *r);
void mn_runlog_summary(mn_runlog_t *m, const mn_summary_t *s);
/* Flush and fsync the metrics file: MN_ERR_IO when that or any write to it during the run
 * failed (each failure was warned about when it happened); MN_OK otherwise and on other
 * ranks. */
mn_status_t mn_runlog_sync(mn_runlog_t *m);
/* Close the metrics file (a failure is warned about, as a failed write). */
void mn_runlog_close(mn_runlog_t *m);

#ifdef __cplusplus
}
#endif
#endif /* MN_METRICS_H */
