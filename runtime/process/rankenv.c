/* rankenv.c: a rank applies the placement mnrun chose for it (mn_rankenv.h). */
#define _GNU_SOURCE /* sched_setaffinity, CPU_* */
#include "mn_rankenv.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse a cpu list "0-3,8,10-11" into set. Returns 0 on a malformed list. */
static int parse_cpus(const char *list, cpu_set_t *set) {
  CPU_ZERO(set);
  for (const char *p = list; *p;) {
    char *end;
    long a = strtol(p, &end, 10), b = a;
    if (end == p || a < 0) return 0;
    if (*end == '-') {
      p = end + 1;
      b = strtol(p, &end, 10);
      if (end == p || b < a) return 0;
    }
    if (b >= CPU_SETSIZE) return 0;
    for (long c = a; c <= b; c++) CPU_SET((int)c, set);
    p = end;
    if (*p == ',')
      p++;
    else if (*p)
      return 0;
  }
  return 1;
}

mn_status_t mn_rankenv_apply(const char *dir, int rank) {
  if (!dir || !dir[0]) return MN_OK;
  char path[4200];
  snprintf(path, sizeof path, "%s/placement", dir);
  FILE *f = fopen(path, "r");
  if (!f) return MN_OK;
  int r, gpu, found = 0, fields = 0;
  char line[512], hca[64], cpus[256], busid[64] = "-";
  while (!found && fgets(line, sizeof line, f)) {
    fields = sscanf(line, "%d %d %63s %255s %63s", &r, &gpu, hca, cpus, busid);
    found = fields >= 4 && r == rank;
  }
  fclose(f);
  if (!found) return mn_error(MN_ERR_INTERNAL, "%s: no line for rank %d", path, rank);
  char value[32];
  snprintf(value, sizeof value, "%d", gpu);
  setenv("MN_GPU", value, 1); /* -1: the launcher gave this rank no GPU (a CPU job) */
  if (fields == 5 && strcmp(busid, "-") != 0)
    setenv("MN_GPU_PCI", busid, 1);
  else
    unsetenv("MN_GPU_PCI");
  if (strcmp(hca, "-") != 0) setenv("NCCL_IB_HCA", hca, 0); /* the user's choice wins */
  if (strcmp(cpus, "-") == 0) return MN_OK;
  cpu_set_t want, have;
  if (!parse_cpus(cpus, &want))
    return mn_error(MN_ERR_INTERNAL, "%s: rank %d: bad cpu list '%s'", path, rank, cpus);
  if (sched_getaffinity(0, sizeof have, &have) == 0 && CPU_COUNT(&have) > CPU_COUNT(&want) &&
      sched_setaffinity(0, sizeof want, &want) != 0)
    return mn_error(MN_ERR_INTERNAL, "rank %d: cannot bind to cpus %s: %s", rank, cpus,
                    strerror(errno));
  return MN_OK;
}
