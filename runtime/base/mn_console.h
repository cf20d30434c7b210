/* mn_console.h: the terminal that the progress line (stdout) and the log (stderr) share.
 *
 * A progress line redrawn in place on a terminal stays open (no newline) between redraws.
 * A log line written then would be glued onto it, so every write to the console goes
 * through here: an open progress line is cleared ("\r" ESC[K) before the text and redrawn
 * after it, on stderr itself when stderr is the terminal too (console.c says why).
 * Whether the progress line redraws is the caller's decision (the metrics, from
 * log.progress and whether stdout is a terminal); a plain progress line never leaves
 * anything open. One lock, since the loader and the snapshot writer threads log too.
 * Nothing here decides what is printed. */
#ifndef MN_CONSOLE_H
#define MN_CONSOLE_H

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Show a progress line (without newline). redraw: in place, kept open until the next one
 * or mn_console_progress_end(); otherwise a plain line with its newline. */
void mn_console_progress(const char *line, int redraw);
/* End an open progress line with a newline (it stays on screen); nothing when none. */
void mn_console_progress_end(void);
/* Write text (whole lines) to f, an open progress line cleared before and redrawn after. */
void mn_console_write(FILE *f, const char *text);

#ifdef __cplusplus
}
#endif
#endif /* MN_CONSOLE_H */
