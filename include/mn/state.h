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
 * through this API, with the same tensor names and shapes and the same optimizer kind),
 * skipping damaged and unfitting ones with a warning. out: *resumed (1: the parameters, the
 * optimizer's states and step count, and the attributes are the snapshot's, in place of
 * any set before; 0: no snapshot there, nothing changed). MN_ERR_DATA when the directory
 * holds snapshots and none fits, naming why for the newest (a tensor missing or of another
 * shape, another optimizer), nothing changed. Between steps, not inside one. */
mn_status_t mn_state_resume(mn_state_t *s, int *resumed);

/* Collective: a snapshot of the state now (parameters, optimizer, attributes), called
 * between steps (MN_ERR_USAGE inside one). reason: "interval", "epoch", "stop" or "final"
 * (final marks the training done). wait 0: rank 0 copies the state and returns while a
 * thread writes (a failure is reported by the next call, which still writes its own); wait
 * 1: returns once the file is durable (use it for a stop and at the end). Every rank
 * returns the same status. MN_ERR_NONFINITE when a parameter or optimizer state is NaN or
 * infinite (no snapshot of it is written; the last good one stays); MN_ERR_IO when the
 * write failed. */
mn_status_t mn_state_save(mn_state_t *s, const char *reason, int wait);

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
