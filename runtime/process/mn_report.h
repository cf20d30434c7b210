/* mn_report.h: the per-rank exit report, both sides of it.
 *
 * mnrun makes a private directory and passes it to every rank as MN_REPORT_DIR. Just before
 * it exits, a rank writes "<dir>/rank-<r>" (atomically: a temporary file, then rename):
 *
 *   exit=65 host=node07
 *   /data/train.h5: dataset /x: expected 2 dimensions
 *
 * After the job, mnrun reads the reports and says which rank failed, where and why; a rank
 * with no report was killed or lost with its node. The format is documented in
 * docs/launcher.md. */
#ifndef MN_REPORT_H
#define MN_REPORT_H

#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MN_REPORT_HOST_MAX 256
#define MN_REPORT_MESSAGE_MAX 1024

typedef struct mn_report {
  int rank;
  int exit_code;
  char host[MN_REPORT_HOST_MAX];       /* "?" when the rank did not say */
  char message[MN_REPORT_MESSAGE_MAX]; /* one line, "" when none */
} mn_report_t;

/* ---- the rank's side ---- */

/* The message of a rank that failed only because the ranks agreed to stop after another
 * rank's failure: "stopped with the others: rank N failed". mnrun shows the ranks that
 * failed of their own first and only counts these. */
#define MN_REPORT_FOLLOWER "stopped with the others"

/* Write this rank's report. in: dir (MN_REPORT_DIR; NULL or "" = do nothing and return
 * MN_OK), rank, host (NULL = "?"), exit_code, message (NULL = "", newlines become spaces).
 * Returns MN_ERR_IO when the file cannot be written. */
mn_status_t mn_report_write(const char *dir, int rank, const char *host, int exit_code,
                            const char *message);

/* ---- the launcher's side ---- */

/* Read "<dir>/rank-<rank>". out: report (written only on success).
 * Returns MN_ERR_NOINPUT when the rank wrote none, MN_ERR_DATA when it is malformed. */
mn_status_t mn_report_read(const char *dir, int rank, mn_report_t *report);

/* A short name for an exit code of the sysexits contract ("bad data" for 65), or NULL for
 * a code outside it. */
const char *mn_report_exit_name(int exit_code);

#ifdef __cplusplus
}
#endif
#endif /* MN_REPORT_H */
