/* mn_snapdir.h: the snapshot directory itself, below the snapshot files (mn_snapshot.h):
 * the names of snapshot and temporary files, the lock that keeps a directory to one run, and
 * the writer's directory chores. Nothing here reads a snapshot. */
#ifndef MN_SNAPDIR_H
#define MN_SNAPDIR_H

#include <stddef.h>
#include <stdint.h>

#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the directory of one run at a time ---- */

typedef struct mn_snapshot_lock mn_snapshot_lock_t;

/* Take dir (created with its parents where missing) for this process: an advisory lock on
 * the file dir/.mn-lock (fcntl open-file-description lock, F_OFD_SETLK; a process lock
 * where the kernel has none), with the holder written into it ("host H pid P since T").
 * Held until mn_snapshot_unlock() or the process's end (the kernel drops it even on
 * SIGKILL); the file itself stays. It binds only the processes that take it: every
 * trainer does, before it reads the directory. Errors: MN_ERR_LOCKED when another holds
 * it, naming the holder from the file ("dir: snapshot directory in use by another run:
 * host H, pid P, since T"); MN_ERR_IO when dir or the lock file cannot be made. out: lock. */
mn_status_t mn_snapshot_lock(const char *dir, mn_snapshot_lock_t **lock);
void mn_snapshot_unlock(mn_snapshot_lock_t *lock); /* NULL: nothing */

/* Check that dir can be written, now: create a probe file (.probe.<host>.<pid>), write and
 * fsync it, remove it and fsync dir. Errors: MN_ERR_IO naming the call and errno's text. */
mn_status_t mn_snapshot_dir_probe(const char *dir);

/* ---- file names and directory helpers (shared by the writer and the functions above) ---- */

/* 1 when name (a file name without directory) is a snapshot's: "step-" digits ".h5";
 * out: step (its number; may be NULL). Temporary files (".step-*.h5.tmp.<host>.<pid>")
 * are not. */
int mn_snapshot_name_step(const char *name, int64_t *step);

/* The name the writer gives its temporary file for step: ".step-NNNNNNNNN.h5.tmp.<host>.
 * <pid>", host and pid of this process. out: name[len]. */
void mn_snapshot_temp_name(int64_t step, char *name, size_t len);

/* Create dir with its parents where missing, and remove the temporary files (and probe
 * files) that writers now gone left in it. A file is removed only when its writer is
 * provably gone: it names this host and a process that no longer exists (or this one),
 * or this process holds dir's lock (mn_snapshot_lock: no other trainer writes there) and
 * it names no live process of this host. Files of a live writer are never removed. */
mn_status_t mn_snapshot_dir_prepare(const char *dir);

/* fsync dir, so that the renames and removals in it are durable. */
mn_status_t mn_snapshot_dir_sync(const char *dir);

#ifdef __cplusplus
}
#endif
#endif /* MN_SNAPDIR_H */
