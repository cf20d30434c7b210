/* mn_fs.h: small file-system steps that more than one part of the runtime takes. */
#ifndef MN_FS_H
#define MN_FS_H

#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* mkdir -p dir (mode 0755 for what it creates), then dir must be a directory. Errors:
 * MN_ERR_IO naming dir, the part that could not be made and errno's reason. */
mn_status_t mn_fs_mkdirs(const char *dir);

#ifdef __cplusplus
}
#endif
#endif /* MN_FS_H */
