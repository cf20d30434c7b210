/* snapdir.c: the snapshot directory itself (mn_snapdir.h): which file names are snapshots
 * and temporary files, the lock that keeps a directory to one run, and the directory chores
 * of the writer (creating the directory, checking that it can be written, removing the
 * temporary files of writers that are gone, fsync of the directory).
 *
 * A snapshot file is named exactly "step-" digits ".h5"; the writer's temporary files are
 * ".step-NNNNNNNNN.h5.tmp.<host>.<pid>". This file reads no snapshot: it sits below
 * snapshot.c (which writes through it) and snapscan.c (which lists, chooses and prunes
 * snapshots by reading them). */
#define _GNU_SOURCE /* F_OFD_SETLK */
#include "mn_fs.h"
#include "mn_log.h"
#include "mn_snapdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TEMP_PREFIX ".step-"
#define TEMP_MARK ".h5.tmp."
#define PROBE_PREFIX ".probe."
#define LOCK_NAME ".mn-lock"

/* ---- names ------------------------------------------------------------------------------ */

int mn_snapshot_name_step(const char *name, int64_t *step) {
  if (strncmp(name, "step-", 5) != 0) return 0;
  const char *p = name + 5;
  size_t digits = strspn(p, "0123456789");
  if (digits == 0 || digits > 18 || strcmp(p + digits, ".h5") != 0) return 0;
  if (step) *step = strtoll(p, NULL, 10);
  return 1;
}

/* This host's name, made safe for a file name (letters, digits, '-', '_'; '.' ends it). */
static void host_name(char *buf, size_t len) {
  char host[256] = "";
  if (gethostname(host, sizeof host - 1) != 0 || !host[0]) snprintf(host, sizeof host, "unknown");
  size_t n = 0;
  for (const char *p = host; *p && *p != '.' && n + 1 < len; p++)
    buf[n++] = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                       *p == '-' || *p == '_'
                   ? *p
                   : '_';
  buf[n] = '\0';
}

void mn_snapshot_temp_name(int64_t step, char *name, size_t len) {
  char host[128];
  host_name(host, sizeof host);
  snprintf(name, len, TEMP_PREFIX "%09lld" TEMP_MARK "%s.%ld", (long long)step, host,
           (long)getpid());
}

/* A writer's leftover: a temporary file or a probe file. out: its host ("" when the name
 * has none: files of mn before the host was in the name) and pid. */
static int is_temp_name(const char *name, char *host, size_t hostlen, long *pid) {
  const char *tail;
  if (strncmp(name, TEMP_PREFIX, strlen(TEMP_PREFIX)) == 0 && (tail = strstr(name, TEMP_MARK)))
    tail += strlen(TEMP_MARK);
  else if (strncmp(name, PROBE_PREFIX, strlen(PROBE_PREFIX)) == 0)
    tail = name + strlen(PROBE_PREFIX);
  else
    return 0;
  const char *dot = strrchr(tail, '.');
  size_t hlen = dot ? (size_t)(dot - tail) : 0;
  snprintf(host, hostlen, "%.*s", (int)hlen, tail);
  *pid = strtol(dot ? dot + 1 : tail, NULL, 10);
  return 1;
}

/* ---- directory chores -------------------------------------------------------------------- */

mn_status_t mn_snapshot_dir_sync(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return mn_error(MN_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
  int rc = fsync(fd), e = errno;
  close(fd);
  if (rc != 0 && e != EINVAL && e != EROFS) /* some file systems cannot fsync a directory */
    return mn_error(MN_ERR_IO, "%s: fsync of the directory: %s", dir, strerror(e));
  return MN_OK;
}

/* ---- the lock ------------------------------------------------------------------------------ */

struct mn_snapshot_lock {
  int fd;
  dev_t dev; /* of the directory */
  ino_t ino;
};

/* The directory this process holds locked (one at a time), for dir_prepare. Set before a
 * writer thread starts and cleared after it stops; the mutex is for other users of libmn. */
static pthread_mutex_t g_held_mu = PTHREAD_MUTEX_INITIALIZER;
static const mn_snapshot_lock_t *g_held;

static int holds_lock(const char *dir) {
  struct stat sb;
  if (stat(dir, &sb) != 0) return 0;
  pthread_mutex_lock(&g_held_mu);
  int held = g_held && g_held->dev == sb.st_dev && g_held->ino == sb.st_ino;
  pthread_mutex_unlock(&g_held_mu);
  return held;
}

/* fcntl lock of the whole file: an open-file-description lock (its own per open, so that
 * two opens in one process conflict too, and not dropped by closing another descriptor of
 * the file), or a classic process lock where the kernel has no OFD locks (before 3.15). */
static int lock_file(int fd) {
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
#ifdef F_OFD_SETLK
  if (fcntl(fd, F_OFD_SETLK, &fl) == 0) return 0;
  if (errno != EINVAL) return -1;
#endif
  return fcntl(fd, F_SETLK, &fl);
}

mn_status_t mn_snapshot_lock(const char *dir, mn_snapshot_lock_t **out) {
  char path[4096 + 64], host[128], since[64];
  mn_status_t st = mn_fs_mkdirs(dir);
  if (st != MN_OK) return st;
  snprintf(path, sizeof path, "%s/" LOCK_NAME, dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return mn_error(MN_ERR_IO, "%s: cannot open the lock file: %s", path, strerror(errno));
  if (lock_file(fd) != 0) {
    int e = errno;
    char holder[256] = "";
    ssize_t n = e == EAGAIN || e == EACCES ? pread(fd, holder, sizeof holder - 1, 0) : -1;
    close(fd);
    if (n < 0) return mn_error(MN_ERR_IO, "%s: cannot lock: %s", path, strerror(e));
    holder[n] = '\0';
    holder[strcspn(holder, "\n")] = '\0';
    return mn_error(MN_ERR_LOCKED,
                    "%s: snapshot directory in use by another run: %s (lock file %s); let it "
                    "finish, or give this run another snapshot.dir",
                    dir, holder[0] ? holder : "holder not written yet", path);
  }
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(since, sizeof since, "%Y-%m-%d %H:%M:%S UTC", &tm);
  if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "?");
  host[sizeof host - 1] = '\0';
  char record[256];
  int len = snprintf(record, sizeof record, "host %.100s, pid %ld, since %s\n", host,
                     (long)getpid(), since);
  struct stat sb;
  mn_snapshot_lock_t *lock = calloc(1, sizeof *lock);
  if (!lock)
    st = mn_error(MN_ERR_NOMEM, "%s: out of memory", path);
  else if (ftruncate(fd, 0) != 0 || pwrite(fd, record, (size_t)len, 0) != len || fsync(fd) != 0 ||
           stat(dir, &sb) != 0)
    st = mn_error(MN_ERR_IO, "%s: cannot write the lock file: %s", path, strerror(errno));
  if (st != MN_OK) {
    free(lock);
    close(fd);
    return st;
  }
  lock->fd = fd;
  lock->dev = sb.st_dev;
  lock->ino = sb.st_ino;
  pthread_mutex_lock(&g_held_mu);
  g_held = lock;
  pthread_mutex_unlock(&g_held_mu);
  *out = lock;
  return MN_OK;
}

void mn_snapshot_unlock(mn_snapshot_lock_t *lock) {
  if (!lock) return;
  pthread_mutex_lock(&g_held_mu);
  if (g_held == lock) g_held = NULL;
  pthread_mutex_unlock(&g_held_mu);
  if (ftruncate(lock->fd, 0) != 0) { /* the holder's record is gone with the lock */
  }
  close(lock->fd); /* releases the lock; the file stays: removing it would race a new taker */
  free(lock);
}

mn_status_t mn_snapshot_dir_probe(const char *dir) {
  char path[4096 + 256], host[128];
  host_name(host, sizeof host);
  snprintf(path, sizeof path, "%s/" PROBE_PREFIX "%s.%ld", dir, host, (long)getpid());
  const char *call = "create";
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), rc = fd >= 0 ? 0 : -1;
  char block[4096];
  memset(block, 0, sizeof block);
  if (rc == 0 && (call = "write", write(fd, block, sizeof block) != (ssize_t)sizeof block)) rc = -1;
  if (rc == 0 && (call = "fsync", fsync(fd) != 0)) rc = -1;
  int e = errno;
  if (fd >= 0) close(fd);
  if (fd >= 0 && unlink(path) != 0 && rc == 0) {
    e = errno;
    call = "remove";
    rc = -1;
  }
  if (rc != 0)
    return mn_error(MN_ERR_IO, "%s: snapshot directory cannot be written: %s %s: %s", dir, call,
                    path, e == 0 ? "short write" : strerror(e));
  return mn_snapshot_dir_sync(dir);
}

/* ---- stale temporary files ------------------------------------------------------------------ */

/* Whether the writer of a leftover named (host, pid) is provably gone (see
 * mn_snapshot_dir_prepare). */
static int writer_gone(const char *host, long pid, int locked) {
  char me[128];
  host_name(me, sizeof me);
  int here = host[0] && strcmp(host, me) == 0;
  if (here && pid == (long)getpid()) return 1;
  int dead = pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
  if (here) return dead;
  return locked; /* another host's, or a name without one: only the lock tells */
}

mn_status_t mn_snapshot_dir_prepare(const char *dir) {
  mn_status_t st = mn_fs_mkdirs(dir);
  if (st != MN_OK) return st;
  int locked = holds_lock(dir);
  DIR *d = opendir(dir);
  if (!d) return mn_error(MN_ERR_IO, "%s: cannot read directory: %s", dir, strerror(errno));
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    char host[256];
    long pid;
    if (!is_temp_name(e->d_name, host, sizeof host, &pid) || !writer_gone(host, pid, locked))
      continue;
    char path[4096 + 256];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (unlink(path) != 0 && errno != ENOENT) {
      st = mn_error(MN_ERR_IO, "%s: cannot remove stale temporary file: %s", path, strerror(errno));
      break;
    }
  }
  closedir(d);
  return st;
}
