/* mn_selfpipe.h: signals turned into bytes on a pipe (the self-pipe trick), for a process
 * that waits in poll() on its children and its signals alike: mnrun's supervision
 * (launcher/supervise.c) and mnrank (launcher/mnrank.c). A handler writes the signal's
 * number, one byte, to the pipe's write end; the loop reads them from the read end. */
#ifndef MN_SELFPIPE_H
#define MN_SELFPIPE_H

#include <signal.h>

#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A pipe whose ends are close-on-exec (no child inherits them) and non-blocking (a full
 * pipe drops a byte rather than block a handler; it already holds a wake-up). out: fds. */
mn_status_t mn_selfpipe_open(int fds[2]);

/* From a signal handler: sig as one byte on fd (async-signal-safe; errno kept). */
void mn_selfpipe_write(int fd, int sig);

/* handler for sigs[0, n), with SA_RESTART | SA_NOCLDSTOP and nothing masked; old: the
 * actions found, n of them (NULL: not kept). */
void mn_selfpipe_catch(const int *sigs, int n, void (*handler)(int), struct sigaction *old);

#ifdef __cplusplus
}
#endif
#endif /* MN_SELFPIPE_H */
