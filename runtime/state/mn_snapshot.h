/* mn_snapshot.h: snapshot files (HDF5) and snapshot directories.
 *
 * A snapshot is a set of named float32 tensors (and, from a trainer of the public API, byte
 * blobs) plus the metadata needed to continue a run exactly (mn_snapshot_meta_t). This
 * module knows nothing of models, optimizers or MPI: the trainer fills the metadata and
 * names the tensors ("params/0.weight", "optim/sgd/velocity/0.weight", ...; a '/' in a name
 * makes HDF5 groups). docs/snapshot-format.md documents the layout.
 *
 * Guarantees:
 * - Writing is atomic and durable: the file is written under a temporary name in the
 *   same directory, flushed and fsync'd, renamed to step-NNNNNNNNN.h5, and the directory
 *   is fsync'd. A kill at any instant leaves the old snapshots intact and, at most, one
 *   complete new one (plus a temporary file that scans ignore and a later write removes
 *   once its writer is provably gone). A failed write (a full disk) leaves no file and no
 *   HDF5 identifier open, and says why.
 * - Every tensor carries a CRC-32 of its bytes, and HDF5 metadata is checksummed (file
 *   format of HDF5 1.8 or later), so that a damaged file is detected when it is read,
 *   never loaded. A file is valid when its metadata reads, its format version is known,
 *   and every tensor's CRC matches. */
#ifndef MN_SNAPSHOT_H
#define MN_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "mn_snapdir.h"
#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MN_SNAPSHOT_FORMAT 2 /* the format version this build writes */
#define MN_SNAPSHOT_FORMAT_MIN 1 /* the oldest it reads */
#define MN_SNAPSHOT_MAX_DIMS 4
#define MN_SNAPSHOT_NAME_MAX 160

typedef struct mn_snapshot_meta {
  /* where the run stands: the next step to run */
  int64_t epoch;     /* epoch of the next step */
  int64_t epoch_pos; /* position in that epoch's sample order where the next step starts */
  int64_t step;      /* optimizer steps taken so far */
  int64_t samples;   /* samples consumed so far, all ranks together */
  int finished;      /* 1: no step was left (training had ended) */
  char reason[16];   /* why it was written: "epoch", "interval", "stop", "final" */
  /* the run that wrote it */
  int world, batch;    /* ranks, and samples per rank per step */
  uint64_t shape_hash; /* mn_config_shape_hash() */
  uint64_t model_seed, data_seed;
  char *config; /* the effective config, one "section.key = value\n" line per key (heap) */
  /* the training dataset's identity */
  int64_t data_n;
  int data_dim, data_classes;
  uint32_t data_label_crc;   /* CRC-32 of all labels (int32, in dataset order) */
  uint32_t data_feature_crc; /* CRC-32 of a fixed sample of feature rows (mn_trainstate.h) */
  int data_feature_crc_set;  /* 0: no data_feature_crc (a file written before the check) */
  char *data_files;          /* one "path\trows\n" line per file (heap) */
  /* what the run had reached (optional attributes: files written before them read back
   * elapsed_s 0 and the others NaN) */
  double elapsed_s;              /* training time so far, all runs of the training together */
  double loss;                   /* mean training loss of the last log interval */
  double train_loss;             /* the last completed epoch's mean training loss */
  double val_loss, val_accuracy; /* after that epoch (NaN: no validation set) */
  /* set by mn_snapshot_write, read back by the readers */
  int format;          /* MN_SNAPSHOT_FORMAT */
  char mn_version[32]; /* MN_VERSION of the writer */
  double created;      /* Unix time of the write */
} mn_snapshot_meta_t;

/* A tensor's element type: float32 (every tensor of mntrain), or bytes (a trainer's blob
 * under the public API, mn/state.h: "user/<name>"). A zeroed tensor is float32. */
typedef enum { MN_SNAPSHOT_F32 = 0, MN_SNAPSHOT_U8 = 1 } mn_snapshot_dtype_t;

typedef struct mn_snapshot_tensor {
  char name[MN_SNAPSHOT_NAME_MAX];
  int ndims;
  int64_t dims[MN_SNAPSHOT_MAX_DIMS];
  mn_snapshot_dtype_t dtype;
  union {
    float *data;          /* MN_SNAPSHOT_F32: prod(dims) floats */
    unsigned char *bytes; /* MN_SNAPSHOT_U8: prod(dims) bytes */
  };
} mn_snapshot_tensor_t;

/* Free the heap strings of a meta (safe on a zeroed or already freed meta). */
void mn_snapshot_meta_free(mn_snapshot_meta_t *meta);

/* Write a snapshot of meta and the tensors into dir (created if missing, with parents)
 * as step-<meta->step, 9 digits>.h5, atomically and durably (see above); an existing file
 * of that name is replaced atomically. Leftover temporary files of writers that are gone
 * are removed first (mn_snapshot_dir_prepare). The file's space is reserved before HDF5
 * writes it (fallocate, where the file system has it), so that a full disk is met before
 * HDF5's metadata flush. Fills meta->format, mn_version and created in the file (meta
 * itself is not changed). out: path (the final file name), when path is not NULL.
 * Errors: MN_ERR_IO naming the path, the failing call and the reason ("No space left on
 * device"); nothing is left, and every HDF5 identifier is closed. */
mn_status_t mn_snapshot_write(const char *dir, const mn_snapshot_meta_t *meta,
                              const mn_snapshot_tensor_t *tensors, int ntensors, char *path,
                              size_t pathlen);

/* The metadata of a snapshot file (cheap: no tensor data is read), validated: every reader
 * (scan, latest, verify, resume, mninfo) goes through the same checks. Structure: every
 * attribute present with its type, and "ntensors" equal to the number of datasets in the
 * file. Meaning: counters not negative, world, batch, data_n, data_dim, data_classes at
 * least 1, finished 0 or 1 and 1 exactly when reason is "final", reason one of epoch,
 * interval, stop, final, epoch_pos before the end of the epoch (< data_n), step at least
 * the steps that epoch and epoch_pos imply and at most samples. out: meta (caller frees
 * with mn_snapshot_meta_free; zeroed on failure). Errors: MN_ERR_NOINPUT when the file
 * does not exist; MN_ERR_DATA when it is not a valid snapshot, with the reason. */
mn_status_t mn_snapshot_read_meta(const char *path, mn_snapshot_meta_t *meta);

/* Read the named tensors into the caller's buffers (tensors[i].name, ndims, dims, dtype and
 * data are set by the caller), checking each one's shape, type and CRC, after the validation of
 * mn_snapshot_read_meta (in the same open). Errors: MN_ERR_DATA naming the path and the
 * reason: invalid metadata; a tensor missing, of another shape ("params/W0 is 512x784 in
 * the snapshot, 1024x784 here"), or damaged (CRC mismatch or unreadable); a tensor in the
 * file that was not asked for. On failure the buffers may hold partial data. */
mn_status_t mn_snapshot_read_tensors(const char *path, mn_snapshot_tensor_t *tensors, int ntensors);

/* Full validation: the metadata reads and every tensor in the file reads and matches its
 * CRC. MN_OK, or MN_ERR_NOINPUT / MN_ERR_DATA with the reason in mn_error_message(). */
mn_status_t mn_snapshot_verify(const char *path);

/* A summary of one tensor of a file, for mninfo. */
typedef struct mn_snapshot_tensor_info {
  char name[MN_SNAPSHOT_NAME_MAX];
  int ndims;
  int64_t dims[MN_SNAPSHOT_MAX_DIMS];
  mn_snapshot_dtype_t dtype;
  uint32_t crc_stored, crc_computed; /* ok when equal */
  double norm;                       /* L2 norm of the values (of the bytes' values 0-255 for
                                        MN_SNAPSHOT_U8; NaN if unreadable) */
  int readable;                      /* 0: the data could not be read */
} mn_snapshot_tensor_info_t;

/* Call fn (may be NULL) once per tensor of the file, in name order. Returns MN_ERR_NOINPUT
 * when the file does not exist; MN_ERR_DATA when it cannot be opened, a tensor is damaged
 * (after visiting all that can be visited), or the file holds another number of tensors
 * than its writer wrote. */
mn_status_t mn_snapshot_each_tensor(const char *path,
                                    void (*fn)(const mn_snapshot_tensor_info_t *info, void *user),
                                    void *user);

/* ---- directories ---- */

typedef struct mn_snapshot_entry {
  char path[4096];
  mn_status_t status;      /* MN_OK: the metadata reads (the tensors are not checked) */
  char reason[512];        /* why not, when status != MN_OK */
  mn_snapshot_meta_t meta; /* when status == MN_OK */
} mn_snapshot_entry_t;

/* The snapshot files (step-*.h5) in dir, newest first: readable ones ordered by samples,
 * then step, then file name, descending; unreadable ones after them, by name (the step
 * number in the name, then the name), descending too. A missing dir gives 0 entries and
 * MN_OK. out: entries (free with mn_snapshot_entries_free), n. reason, like every message
 * of this module, begins with the file's path ("dir/step-000000100.h5: ..."). */
mn_status_t mn_snapshot_scan(const char *dir, mn_snapshot_entry_t **entries, int *n);
void mn_snapshot_entries_free(mn_snapshot_entry_t *entries, int n);

/* The newest snapshot in dir that passes mn_snapshot_verify(). Each newer file that fails
 * is reported with mn_log_warn (its path and reason) and skipped. out: path.
 * MN_ERR_NOINPUT when there is none. */
mn_status_t mn_snapshot_latest(const char *dir, char *path, size_t pathlen);

/* The snapshot a command line names: a directory's newest valid one (mn_snapshot_latest),
 * or a file that passes mn_snapshot_verify(). out: path. Errors: those two functions'. */
mn_status_t mn_snapshot_find(const char *file_or_dir, char *path, size_t pathlen);

/* Keep the `keep` newest readable snapshots in dir (scan order) and remove the older
 * readable ones; the file `newest` (just written) is always kept. Unreadable files, and
 * files of another run (shape_hash, data_n or data_label_crc not those of `newest`), are
 * left alone. keep <= 0 removes nothing. The directory is fsync'd after removals. */
mn_status_t mn_snapshot_prune(const char *dir, int keep, const char *newest);

/* Move every snapshot file of dir (readable or not) into a new subdirectory
 * dir/replaced-YYYYmmdd-HHMMSS[-N], for a run that starts afresh over old snapshots.
 * out: moved (how many), subdir (its path; "" when nothing was moved). */
mn_status_t mn_snapshot_set_aside(const char *dir, int *moved, char *subdir, size_t subdirlen);

#ifdef __cplusplus
}
#endif
#endif /* MN_SNAPSHOT_H */
