/* fs.c: small file-system steps shared by the runtime (mn_fs.h). */
#include "mn_fs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

mn_status_t mn_fs_mkdirs(const char *dir) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
    return mn_error(MN_ERR_IO, "%s: directory name too long", dir);
  for (char *p = buf + 1;; p++) {
    if (*p != '/' && *p != '\0') continue;
    char c = *p;
    *p = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
      return mn_error(MN_ERR_IO, "%s: cannot create directory %s: %s", dir, buf, strerror(errno));
    if (!c) break;
    *p = c;
  }
  struct stat sb;
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return mn_error(MN_ERR_IO, "%s: not a directory", dir);
  return MN_OK;
}
