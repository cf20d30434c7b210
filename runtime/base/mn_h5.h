/* mn_h5.h: the HDF5 boundary helpers shared by datasets, mnprep (and snapshots): silence
 * HDF5's own error printing, and word its error stack for mn's messages. */
#ifndef MN_H5_H
#define MN_H5_H

#ifdef __cplusplus
extern "C" {
#endif

/* HDF5 keeps its error stack and auto-print setting per thread (threadsafe build): every
 * entry point that calls HDF5 silences it for the calling thread. */
void mn_h5_quiet(void);

/* The innermost message of this thread's HDF5 error stack ("" when empty), which is then
 * cleared; a failed system call keeps only its reason ("file write failed: No space left
 * on device"). Call it right after the failing call: every HDF5 API call clears the stack
 * on entry, a close in a clean-up too. out: buf[256]; returns buf. */
const char *mn_h5_reason(char buf[256]);

/* The same, with strerror(saved_errno) added when saved_errno is not 0 and the message
 * does not already say it (errno saved right after the failing call, set to 0 before). */
const char *mn_h5_reason_errno(char buf[256], int saved_errno);

#ifdef __cplusplus
}
#endif
#endif /* MN_H5_H */
