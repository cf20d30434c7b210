/* mn/metrics.h: what a training run tells its user: the progress line and the records.
 *
 * Rank 0 prints the progress line (epoch, step, loss, lr, rate, ETA: redrawn in place on a
 * terminal, mnrun's under mnrun, and plain lines otherwise) and an epoch line, and, when
 * asked, writes JSON lines in mntrain's format (docs/metrics.md): a "start" record at
 * mn_metrics_open, a "step" record per mn_metrics_step, an "epoch" record per
 * mn_metrics_epoch and a "summary" at mn_metrics_close, each with its wall-clock "time";
 * and the same scalars to a TensorBoard event file. Counts as people count: epochs from 1,
 * global_step the optimizer steps completed. Records are written on rank 0 alone, from rank
 * 0's numbers: a loss is to be the mean over the ranks (mn_allreduce with MN_AVERAGE)
 * before it is recorded. Every record is flushed; a file that cannot be written is warned
 * about, cut back to its last whole record and written no more, training goes on, and
 * mn_metrics_close then answers MN_ERR_IO (exit 74), as mntrain does. */
#ifndef MN_PUBLIC_METRICS_H
#define MN_PUBLIC_METRICS_H

#include <stdint.h>

#include <mn/status.h>
#include <mn/world.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_metrics mn_metrics_t;

/* How the progress line is drawn (mntrain's log.progress). */
typedef enum {
  MN_PROGRESS_AUTO = 0,  /* redrawn in place on a terminal, plain lines otherwise */
  MN_PROGRESS_TTY = 1,   /* always redrawn in place */
  MN_PROGRESS_PLAIN = 2, /* always a line per record */
  MN_PROGRESS_OFF = 3,
} mn_progress_t;

typedef struct mn_metrics_opts {
  const char *path;          /* JSON lines (NULL or "": none) */
  const char *tensorboard;   /* a directory for a TensorBoard event file (NULL or "": none) */
  mn_progress_t progress;    /* default MN_PROGRESS_AUTO */
  int64_t total_steps;       /* of the whole training, for the ETA (0: unknown) */
  int64_t steps_per_epoch;   /* for a step record that leaves it 0 */
  int64_t samples_per_step;  /* the global batch: samples/s for a record that leaves it 0 */
  int tokens_per_sample;     /* > 0: a language model's records (tokens/s, perplexity) */
  int64_t start_step;        /* steps completed before this run (a resumed run's) */
  int64_t start_epoch;       /* the epoch this run starts in, from 0 */
  double elapsed_s;          /* training time before this run (a resumed run's) */
  const char *resumed_from;  /* the snapshot this run resumed from (NULL: a fresh run); a
                                resumed run adds to path rather than replacing it */
  const char *const *config; /* NULL, or a NULL-ended list of "section.key=value" (or
                                "key=value") for the start record's "config" */
} mn_metrics_opts_t;

/* A step record: mn_metrics_step fills in what is left 0. */
typedef struct mn_step_record {
  int64_t epoch;           /* the epoch of the step, from 1 */
  int64_t step_in_epoch;   /* steps completed in that epoch (this one the last) */
  int64_t steps_per_epoch; /* 0: opts.steps_per_epoch */
  int64_t global_step;     /* steps completed, all runs of the training together (>= 1) */
  double loss, lr;
  double samples_per_s; /* 0: opts.samples_per_step over the wall time since the last record */
  double grad_norm;     /* the gradient's L2 norm (mn_step_flags_t.grad_norm), or NaN */
  double elapsed_s;     /* 0: opts.elapsed_s plus the time since mn_metrics_open */
  double tokens_per_s;  /* 0: samples_per_s x opts.tokens_per_sample */
  double mfu;           /* model FLOPs utilisation; 0: none known (null in the record) */
} mn_step_record_t;

/* An epoch record. */
typedef struct mn_epoch_record {
  int64_t epoch, global_step;                /* the epoch that ended (from 1); steps completed */
  double train_loss, val_loss, val_accuracy; /* val_* < 0: no validation */
  double elapsed_s;                          /* 0: as in a step record */
} mn_epoch_record_t;

/* A snapshot's outcome (mn_state_set_metrics records them on its own). */
typedef struct mn_snapshot_record {
  int64_t step; /* the global step it holds */
  const char *reason, *path;
  int ok;            /* 1: written */
  const char *error; /* why not, when !ok */
  double write_s;    /* the write's time */
  double stall_s;    /* the pause of training for it (the copy) */
} mn_snapshot_record_t;

/* Where a run's step time went (< 0 or NaN: not timed; null in the record). */
typedef struct mn_timing {
  double compute_s; /* forward, backward, optimizer */
  double comm_s;    /* gradient allreduce */
  double io_wait_s; /* waiting for the data */
} mn_timing_t;

/* The "summary" record, for a trainer that counts it itself (mn_metrics_finish). */
typedef struct mn_summary {
  int world;
  int64_t steps, epochs, samples; /* done by this run (after a resume: since it) */
  int64_t start_step, end_step;   /* global steps: where this run began and ended */
  int64_t end_epoch;              /* epochs completed at the end, all runs together */
  int64_t skipped_steps;          /* updates skipped as non-finite */
  double samples_per_s, final_loss, first_loss, val_accuracy; /* val_accuracy < 0: none */
  double tokens_per_s, mfu;    /* a language model's; mfu NaN: no peak known */
  double train_loss, val_loss; /* the last epoch's (NaN, val_loss < 0: none) */
  double elapsed_s;            /* training time, across resumes */
  double run_s;                /* this run's */
  mn_timing_t t;
  const char *status;       /* "done", "preempted", ... */
  const char *resumed_from; /* snapshot path, or NULL */
} mn_summary_t;

/* Collective: open the records of a run and write its "start" record (every rank's host,
 * opts.config). in: o (NULL: the progress line only). out: *m. Every rank returns the same
 * status: MN_ERR_IO when rank 0 cannot create path or tensorboard (naming it), MN_ERR_USAGE
 * for a bad option or a call before mn_init. */
mn_status_t mn_metrics_open(mn_world_t *w, const mn_metrics_opts_t *o, mn_metrics_t **m);

/* Rank 0: the progress line, a "step" record and its scalars; other ranks: nothing. Call it
 * every log interval, with the interval's mean loss. MN_ERR_USAGE for a NULL m or r. */
mn_status_t mn_metrics_step(mn_metrics_t *m, const mn_step_record_t *r);

/* Rank 0: the epoch line, an "epoch" record and its scalars; other ranks: nothing. */
mn_status_t mn_metrics_epoch(mn_metrics_t *m, const mn_epoch_record_t *r);

/* Rank 0: a "snapshot" record; other ranks: nothing. */
mn_status_t mn_metrics_snapshot(mn_metrics_t *m, const mn_snapshot_record_t *r);

/* The end of the records: rank 0 writes the "summary" (the steps and samples of this run,
 * its rate; from the records, the first and last loss and the last validation accuracy;
 * status "done" for MN_OK, "preempted" for MN_ERR_PREEMPTED, else the status's name),
 * flushes and syncs the file, and frees m (NULL: nothing). in: global_step, the steps
 * completed at the end, all runs together (< 0: the last step record's; a run stopped
 * between records ends after it); run, the status the run ends with. When run is MN_OK,
 * collective, and every rank returns MN_ERR_IO if rank 0's file could not be written,
 * else MN_OK; otherwise not collective (a failed run's ranks may not all be here), and
 * it returns run. */
mn_status_t mn_metrics_close(mn_metrics_t *m, int64_t global_step, mn_status_t run);

/* mn_metrics_close with the trainer's own summary s (its timing, skipped steps, a rate of
 * its own), or none (NULL: a run that failed before its first step), in place of the one
 * counted from the records. The same statuses. */
mn_status_t mn_metrics_finish(mn_metrics_t *m, const mn_summary_t *s, mn_status_t run);

#ifdef __cplusplus
}
#endif
#endif /* MN_PUBLIC_METRICS_H */
