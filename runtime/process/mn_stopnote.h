/* mn_stopnote.h: which signal mnrun was sent, for a rank that receives it as another.
 *
 * mpirun and srun cannot pass SIGINT or SIGTERM on to the ranks without killing them soon
 * after, so mnrun forwards a stop request to them as SIGUSR1 (launcher/launch_mpirun.c).
 * mntrain takes any of the four stop signals alike; a program started through mnrank (the
 * per-rank shim of `mnrun -- PROGRAM`) should get the signal the user sent. So before it
 * forwards a stop, mnrun writes "<dir>/stop-<forwarded>" holding the number of the signal it
 * received, and mnrank, receiving <forwarded>, reads it and sends that one to its program.
 * A signal with no note was not forwarded by mnrun (the engine ending the gang after another
 * rank failed, or someone signalling the rank directly). dir is MN_REPORT_DIR; ranks that do
 * not see it (other hosts, without --shared-tmpdir) find no note and pass the signal on as it
 * came. */
#ifndef MN_STOPNOTE_H
#define MN_STOPNOTE_H

#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* mnrun's side: note that signal received goes out as forwarded (the same or another), in a
 * whole file (written, then renamed into place). dir NULL or "": nothing. */
mn_status_t mn_stopnote_write(const char *dir, int forwarded, int received);
/* The rank's side: the signal that mnrun received and forwarded as forwarded, or 0 when it
 * left no note (dir NULL or "", or no file). */
int mn_stopnote_read(const char *dir, int forwarded);

#ifdef __cplusplus
}
#endif
#endif /* MN_STOPNOTE_H */
