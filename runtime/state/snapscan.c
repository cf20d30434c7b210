/* snapscan.c: the snapshots of a directory (mn_snapshot.h): listing them newest first,
 * finding the newest valid one, the one a command line names, pruning old ones, setting
 * all aside. Reading a file is snapshot.c's work and naming one snapdir.c's; this file only
 * orders and moves whole files, and logs (mn_log_warn) only the files mn_snapshot_latest
 * skips. */
#include "mn_log.h"
#include "mn_snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* The snapshot file names of dir (regular files only). A missing dir gives none. */
static mn_status_t list_snapshots(const char *dir, char ***names, int *n) {
  *names = NULL;
  *n = 0;
  DIR *d = opendir(dir);
  if (!d) {
    if (errno == ENOENT) return MN_OK;
    return mn_error(MN_ERR_IO, "%s: cannot read directory: %s", dir, strerror(errno));
  }
  mn_status_t st = MN_OK;
  char **list = NULL;
  int count = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    char path[4096 + 256];
    struct stat sb;
    if (!mn_snapshot_name_step(e->d_name, NULL)) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
    if (count == cap) {
      cap = cap ? 2 * cap : 16;
      char **grown = realloc(list, (size_t)cap * sizeof *grown);
      if (!grown) {
        st = mn_error(MN_ERR_NOMEM, "%s: out of memory listing snapshots", dir);
        break;
      }
      list = grown;
    }
    if (!(list[count] = strdup(e->d_name))) {
      st = mn_error(MN_ERR_NOMEM, "%s: out of memory listing snapshots", dir);
      break;
    }
    count++;
  }
  closedir(d);
  if (st != MN_OK) {
    for (int i = 0; i < count; i++) free(list[i]);
    free(list);
    return st;
  }
  *names = list;
  *n = count;
  return MN_OK;
}

static void names_free(char **names, int n) {
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
}

/* ---- scan ------------------------------------------------------------------------------ */

/* Descending by the step in the name, then by the name. */
static int name_cmp_desc(const char *a, const char *b) {
  int64_t sa = 0, sb = 0;
  mn_snapshot_name_step(a, &sa);
  mn_snapshot_name_step(b, &sb);
  if (sa != sb) return sa > sb ? -1 : 1;
  return -strcmp(a, b);
}

static int entry_cmp(const void *pa, const void *pb) {
  const mn_snapshot_entry_t *a = pa, *b = pb;
  int ra = a->status == MN_OK, rb = b->status == MN_OK;
  if (ra != rb) return ra ? -1 : 1;
  if (ra && a->meta.samples != b->meta.samples) return a->meta.samples > b->meta.samples ? -1 : 1;
  if (ra && a->meta.step != b->meta.step) return a->meta.step > b->meta.step ? -1 : 1;
  return name_cmp_desc(base_name(a->path), base_name(b->path));
}

mn_status_t mn_snapshot_scan(const char *dir, mn_snapshot_entry_t **entries, int *n) {
  char **names;
  int count;
  mn_status_t st = list_snapshots(dir, &names, &count);
  if (st != MN_OK) return st;
  mn_snapshot_entry_t *list = calloc(count > 0 ? (size_t)count : 1, sizeof *list);
  if (!list) {
    names_free(names, count);
    return mn_error(MN_ERR_NOMEM, "%s: out of memory scanning snapshots", dir);
  }
  for (int i = 0; i < count; i++) {
    mn_snapshot_entry_t *e = &list[i];
    snprintf(e->path, sizeof e->path, "%s/%s", dir, names[i]);
    e->status = mn_snapshot_read_meta(e->path, &e->meta);
    if (e->status != MN_OK) snprintf(e->reason, sizeof e->reason, "%s", mn_error_message());
  }
  names_free(names, count);
  qsort(list, (size_t)count, sizeof *list, entry_cmp);
  *entries = list;
  *n = count;
  return MN_OK;
}

void mn_snapshot_entries_free(mn_snapshot_entry_t *entries, int n) {
  if (!entries) return;
  for (int i = 0; i < n; i++) mn_snapshot_meta_free(&entries[i].meta);
  free(entries);
}

/* ---- latest, prune, set aside ------------------------------------------------------------ */

mn_status_t mn_snapshot_latest(const char *dir, char *path, size_t pathlen) {
  mn_snapshot_entry_t *entries;
  int n;
  mn_status_t st = mn_snapshot_scan(dir, &entries, &n);
  if (st != MN_OK) return st;
  int found = -1, skipped = 0;
  for (int i = 0; i < n && found < 0; i++) {
    if (entries[i].status != MN_OK) break; /* unreadable ones come last: reported below */
    if (mn_snapshot_verify(entries[i].path) == MN_OK) {
      found = i;
    } else {
      mn_log_warn("skipping snapshot: %s", mn_error_message());
      skipped++;
    }
  }
  /* Unreadable files that look newer (by the step in their name) than the one found. */
  int64_t found_step = found >= 0 ? entries[found].meta.step : -1;
  for (int i = 0; i < n; i++) {
    int64_t step = 0;
    if (entries[i].status == MN_OK) continue;
    mn_snapshot_name_step(base_name(entries[i].path), &step);
    if (step >= found_step) {
      mn_log_warn("skipping snapshot: %s", entries[i].reason);
      skipped++;
    }
  }
  if (found < 0)
    st = skipped ? mn_error(MN_ERR_NOINPUT, "%s: no valid snapshot (%d damaged ones skipped)", dir,
                            skipped)
                 : mn_error(MN_ERR_NOINPUT, "%s: no snapshot", dir);
  else if (strlen(entries[found].path) >= pathlen)
    st = mn_error(MN_ERR_INTERNAL, "%s: path buffer too small", entries[found].path);
  else
    snprintf(path, pathlen, "%s", entries[found].path);
  mn_snapshot_entries_free(entries, n);
  return st;
}

mn_status_t mn_snapshot_find(const char *file_or_dir, char *path, size_t pathlen) {
  struct stat sb;
  if (stat(file_or_dir, &sb) == 0 && S_ISDIR(sb.st_mode))
    return mn_snapshot_latest(file_or_dir, path, pathlen);
  mn_status_t st = mn_snapshot_verify(file_or_dir);
  if (st == MN_OK) snprintf(path, pathlen, "%s", file_or_dir);
  return st;
}

mn_status_t mn_snapshot_prune(const char *dir, int keep, const char *newest) {
  if (keep <= 0) return MN_OK;
  mn_snapshot_entry_t *entries;
  int n;
  mn_status_t st = mn_snapshot_scan(dir, &entries, &n);
  if (st != MN_OK) return st;
  const mn_snapshot_meta_t *run = NULL; /* the newest file's: only its run's files count */
  for (int i = 0; i < n && newest; i++)
    if (entries[i].status == MN_OK && !strcmp(base_name(newest), base_name(entries[i].path)))
      run = &entries[i].meta;
  int kept = 0, removed = 0;
  for (int i = 0; i < n; i++) {
    mn_snapshot_entry_t *e = &entries[i];
    if (e->status != MN_OK) continue; /* never remove what cannot be read: evidence */
    if (run && (e->meta.shape_hash != run->shape_hash || e->meta.data_n != run->data_n ||
                e->meta.data_label_crc != run->data_label_crc))
      continue; /* another run's snapshot: not ours to remove */
    int is_newest = newest && strcmp(base_name(newest), base_name(e->path)) == 0;
    if (kept < keep || is_newest) {
      kept += kept < keep;
      continue;
    }
    if (unlink(e->path) != 0 && errno != ENOENT && st == MN_OK)
      st = mn_error(MN_ERR_IO, "%s: cannot remove old snapshot: %s", e->path, strerror(errno));
    removed++;
  }
  mn_snapshot_entries_free(entries, n);
  if (removed > 0) {
    mn_status_t synced = mn_snapshot_dir_sync(dir);
    if (st == MN_OK) st = synced;
  }
  return st;
}

/* Create dir/replaced-<stamp>[-N], the first that does not exist yet. */
static mn_status_t make_aside_dir(const char *dir, char *sub, size_t sublen) {
  char stamp[32];
  time_t now = time(NULL);
  struct tm tm;
  localtime_r(&now, &tm);
  strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  for (int i = 0; i < 1000; i++) {
    int len = i == 0 ? snprintf(sub, sublen, "%s/replaced-%s", dir, stamp)
                     : snprintf(sub, sublen, "%s/replaced-%s-%d", dir, stamp, i);
    if (len < 0 || (size_t)len >= sublen)
      return mn_error(MN_ERR_IO, "%s: directory name too long", dir);
    if (mkdir(sub, 0755) == 0) return MN_OK;
    if (errno != EEXIST)
      return mn_error(MN_ERR_IO, "%s: cannot create directory: %s", sub, strerror(errno));
  }
  return mn_error(MN_ERR_IO, "%s: too many replaced-%s directories", dir, stamp);
}

mn_status_t mn_snapshot_set_aside(const char *dir, int *moved, char *subdir, size_t subdirlen) {
  char **names;
  int n;
  mn_status_t st = list_snapshots(dir, &names, &n);
  if (st != MN_OK) return st;
  char sub[4096];
  int count = 0;
  if (n > 0) st = make_aside_dir(dir, sub, sizeof sub);
  for (int i = 0; i < n && st == MN_OK; i++) {
    char from[4096 + 256], to[8192];
    snprintf(from, sizeof from, "%s/%s", dir, names[i]);
    snprintf(to, sizeof to, "%s/%s", sub, names[i]);
    if (rename(from, to) != 0)
      st = mn_error(MN_ERR_IO, "%s: cannot move to %s: %s", from, sub, strerror(errno));
    else
      count++;
  }
  names_free(names, n);
  if (count > 0) {
    mn_status_t synced = mn_snapshot_dir_sync(sub);
    if (synced == MN_OK) synced = mn_snapshot_dir_sync(dir);
    if (st == MN_OK) st = synced;
  }
  if (st != MN_OK) return st;
  *moved = count;
  snprintf(subdir, subdirlen, "%s", count > 0 ? sub : "");
  return MN_OK;
}
