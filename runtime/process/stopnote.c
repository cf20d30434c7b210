/* stopnote.c: mnrun's note of the signal behind a forwarded stop (mn_stopnote.h).
 *
 * One small file per forwarded signal, written whole and renamed into place, so that a rank
 * reads the number of the last stop or none, never a torn one. Nothing here sends a
 * signal. */
#include "mn_stopnote.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

mn_status_t mn_stopnote_write(const char *dir, int forwarded, int received) {
  if (!dir || !dir[0]) return MN_OK;
  char tmp[4200], path[4200];
  snprintf(tmp, sizeof tmp, "%s/.stop-%d.tmp", dir, forwarded);
  snprintf(path, sizeof path, "%s/stop-%d", dir, forwarded);
  FILE *f = fopen(tmp, "w");
  if (!f) return mn_error(MN_ERR_IO, "%s: %s", tmp, strerror(errno));
  fprintf(f, "%d\n", received);
  int bad = ferror(f);
  if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return mn_error(MN_ERR_IO, "%s: cannot write: %s", path, strerror(e));
  }
  return MN_OK;
}

int mn_stopnote_read(const char *dir, int forwarded) {
  if (!dir || !dir[0]) return 0;
  char path[4200];
  snprintf(path, sizeof path, "%s/stop-%d", dir, forwarded);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int sig = 0;
  if (fscanf(f, "%d", &sig) != 1 || sig < 1 || sig > 64) sig = 0;
  fclose(f);
  return sig;
}
