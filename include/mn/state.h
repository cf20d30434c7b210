/* mn/state.h: snapshots of a training run, and resuming from them.
 *
 * A snapshot holds the parameters by name, the optimizer's states and step count, and what
 * the trainer adds: named numbers (its epoch, its place in its data, a loss) and named
 * byte blobs (an RNG's state, a sampler's). mn_state_save hands a copy to a background
 * writer on rank 0 and returns: the file is written under a temporary name, fsync'd and
 * renamed (atomic and durable; every tensor carries a CRC), so that a kill at any instant
 * leaves the snapshots before it intact. mn_state_resume loads the newest valid snapshot of
 * the directory that fits (the same tensor names and shapes, the same optimizer kind),
 * skipping damaged ones with a warning, on every rank. The format is mntrain's
 * (docs/snapshot-format.md): mninfo reads these files.
 *
 * The directory is the run's alone: rank 0 locks it for the life of the state
 * (MN_ERR_LOCKED for a second job on it). Parameters are the same on every rank, so rank 0
 * writes them, and rank 0's attributes; a resume gives every rank rank 0's. */
#ifndef MN_PUBLIC_STATE_H
#define MN_PUBLIC_STATE_H

#include <stddef.h>
#include <stdint.h>

#include <mn/metrics.h>
#include <mn/optim.h>
#include <mn/params.h>
#include <mn/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_state mn_state_t;
typedef struct mn_data mn_data_t; /* mn/data.h */

#define MN_STATE_KEY_MAX 48 /* bytes of an attribute's or blob's name, the 0 included */

/* Collective. in: p and o (their snapshot; both must outlive the state), dir (created if
 * missing), keep (newest snapshots kept; 0: all); out: *s. MN_ERR_LOCKED, MN_ERR_IO when
 * dir cannot be written (now, not at the first save). */
mn_status_t mn_state_open(mn_params_t *p, mn_optimizer_t *o, const char *dir, int keep,
                          mn_state_t **s);
/* Wait for the write in flight (a failure is logged: save the last snapshot with wait 1 to
 * learn it), release the directory, free (NULL: nothing). Before mn_finish. */
void mn_state_close(mn_state_t *s);

/* The trainer's attributes, saved with the next snapshot and restored by a resume: a
 * number (an int64 and a double are kept exactly) or a blob of up to 1 MiB (copied; kept
 * bytewise). One name holds one of them: a set replaces what the name held. Names: letters,
 * digits, '_' and '.', not beginning with '.', shorter than MN_STATE_KEY_MAX. MN_ERR_USAGE
 * for a bad name or size, or a NULL state. */
mn_status_t mn_state_set_int(mn_state_t *s, const char *name, int64_t value);
mn_status_t mn_state_set_real(mn_state_t *s, const char *name, double value);
mn_status_t mn_state_set_blob(mn_state_t *s, const char *name, const void *data, size_t nbytes);
/* After a resume (or a set): MN_ERR_NOINPUT when the snapshot has no such name, leaving
 * *value as it was (so a default stays); MN_ERR_USAGE when the name holds another kind (an
 * int is not read as a real). get_blob copies at most cap bytes (data may be NULL when cap is
 * 0) and says the blob's size in *nbytes (may be NULL). */
mn_status_t mn_state_get_int(const mn_state_t *s, const char *name, int64_t *value);
mn_status_t mn_state_get_real(const mn_state_t *s, const char *name, double *value);
mn_status_t mn_state_get_blob(const mn_state_t *s, const char *name, void *data, size_t cap,
                              size_t *nbytes);

/* Collective: continue from the newest valid snapshot of the directory that fits (written
 * through this API, with the same tensor names and shapes and the same optimizer kind; for
 * a trainer that describes its run, mn_state_set_run below, one of a run that fits it),
 * skipping damaged and unfitting ones with a warning. out: *resumed (1: the parameters, the
 * optimizer's states and step count, and the attributes are the snapshot's, in place of
 * any set before; 0: no snapshot there, nothing changed). MN_ERR_DATA when the directory
 * holds snapshots and none fits, naming why for the newest (a tensor missing or of another
 * shape, another optimizer), nothing changed. Between steps, not inside one. */
mn_status_t mn_state_resume(mn_state_t *s, int *resumed);

/* Collective: a snapshot of the state now (parameters, optimizer, attributes), called
 * between steps (MN_ERR_USAGE inside one). reason: "interval", "epoch", "stop" or "final"
 * (final marks the training done). wait 0: rank 0 copies the state and returns while a
 * thread writes; a failure of that write is logged when it is known, returned by
 * mn_state_poll from then on, and by the next wait-0 save (which still writes its own).
 * wait 1: returns once the file is durable, with its write's status (use it for a stop and
 * at the end). Every rank returns the same status. MN_ERR_NONFINITE when a parameter or
 * optimizer state is NaN or infinite (no snapshot of it is written; the last good one
 * stays); MN_ERR_IO when the write failed. */
mn_status_t mn_state_save(mn_state_t *s, const char *reason, int wait);

/* Collective: mn_state_resume with a policy, as mntrain's snapshot.resume: AUTO is
 * mn_state_resume; REQUIRE fails with MN_ERR_NOINPUT when the directory holds no snapshot,
 * and with MN_ERR_DATA at the newest snapshot that the trainer's fits function refuses
 * (MN_STATE_REFUSE), or of another optimizer, instead of skipping it; NEVER continues from
 * nothing, and first moves the directory's snapshots into a subdirectory of it (logged), so
 * that two runs never mix in one directory. */
typedef enum {
  MN_STATE_RESUME_AUTO = 0,
  MN_STATE_RESUME_REQUIRE = 1,
  MN_STATE_RESUME_NEVER = 2,
} mn_state_resume_mode_t;
mn_status_t mn_state_resume_mode(mn_state_t *s, mn_state_resume_mode_t mode, int *resumed);

/* ---- a trainer's description of its run ------------------------------------------------ */

/* What a snapshot records of the run besides its state (docs/snapshot-format.md; mninfo
 * prints it). A trainer that describes nothing writes snapshots that hold its step count;
 * one with a config file and mn's data (mntrain) describes its run, and its snapshots are
 * then mntrain's: mneval, mngen and the exports rebuild the model from the config. */
typedef struct mn_state_run {
  const char *config;    /* the effective config, "section.key = value" lines; NULL: none */
  const mn_data_t *data; /* the training data, whose identity (rows, width, classes, the CRCs
                            of its labels and of fixed rows of its features, its files) is
                            recorded and checked at a resume; NULL: none */
  int64_t epoch;         /* the next step's epoch, from 0 */
  int64_t epoch_pos;     /* the position in that epoch's sample order where it starts */
  int64_t samples;       /* samples taken by all ranks so far */
  int batch;             /* samples per rank per step */
  uint64_t model_seed, data_seed;
  uint64_t run_hash; /* the run's identity: pruning (keep) leaves the directory's snapshots of
                        another hash alone; 0: a hash of the tensors' names and shapes */
  double loss;       /* the last interval's training loss (NaN: none) */
  double train_loss; /* the last epoch's training loss (NaN: none) */
  double val_loss, val_accuracy; /* after it (NaN: none) */
  int world;                     /* out (mn_state_get_run): the ranks of the run that wrote it */
  double elapsed_s;              /* out (mn_state_get_run): the training time it records */
} mn_state_run_t;

/* What the next snapshots record (copied, config included; run->data must outlive the
 * state). Not collective: rank 0's is the one written; set it on every rank alike. NULL:
 * none again. MN_ERR_USAGE for a NULL state or a negative position; a save of a position
 * the steps taken cannot reach (steps < epoch + (epoch_pos > 0), or samples < steps) is
 * MN_ERR_USAGE too: mn's reader would refuse the file. */
mn_status_t mn_state_set_run(mn_state_t *s, const mn_state_run_t *run);
/* After a resume that continued: the snapshot's description, the same on every rank (config
 * points into the state until its next resume or close; data NULL). MN_ERR_NOINPUT when no
 * snapshot was resumed. */
mn_status_t mn_state_get_run(const mn_state_t *s, mn_state_run_t *run);

/* Whether a snapshot can continue this run, asked of a trainer that describes its run: for
 * each candidate, newest first, once it has a config and, when the run names its data, was
 * taken over the same data. in: its path and its description; out: why not (a line, into
 * why[0, len)). */
typedef enum { MN_STATE_FITS = 0, MN_STATE_SKIP = 1, MN_STATE_REFUSE = 2 } mn_state_fit_t;
typedef mn_state_fit_t (*mn_state_fits_fn)(void *arg, const char *path, const mn_state_run_t *run,
                                           char *why, size_t len);
/* Rank 0 asks fits (NULL: every snapshot of the same tensors fits) from now on; REFUSE
 * skips as SKIP does, but fails a resume under MN_STATE_RESUME_REQUIRE. */
mn_status_t mn_state_set_fits(mn_state_t *s, mn_state_fits_fn fits, void *arg);

/* A failed background write, as soon as it is known (rank 0 knows it: the other ranks get
 * MN_OK): MN_ERR_IO naming the snapshot and why, from the moment the write failed. Not
 * collective: a trainer that stops at a failed snapshot raises it in its next step
 * (mn_grads_fail), so that every rank stops there. */
mn_status_t mn_state_poll(mn_state_t *s);

/* Every snapshot's outcome from now on (its step, reason and path, written or failed and
 * why, the write's time and the pause of training for it) also becomes a "snapshot" record
 * of m (mn/metrics.h), as in mntrain's records; m NULL: no more. m must stay open while s
 * saves: close the state before the metrics. MN_ERR_USAGE for a NULL state. */
mn_status_t mn_state_set_metrics(mn_state_t *s, mn_metrics_t *m);

/* The snapshot file the last mn_state_resume continued from, the same on every rank (NULL:
 * none, a fresh run): for mn_metrics_opts_t.resumed_from, or a message. */
const char *mn_state_resumed_from(const mn_state_t *s);

/* Training time in seconds, across resumes: the resumed snapshot's (0 for a fresh run) plus
 * the time since mn_state_open or the resume. Snapshots record it. */
double mn_state_elapsed_s(const mn_state_t *s);

#ifdef __cplusplus
}
#endif
#endif /* MN_PUBLIC_STATE_H */
