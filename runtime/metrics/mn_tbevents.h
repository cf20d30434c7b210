/* mn_tbevents.h: TensorBoard event files of scalars, written by hand (docs/metrics.md).
 *
 * A file events.out.tfevents.<unix time>.<host>.<pid>.mn in a directory: TFRecord framing
 * (uint64 length, masked CRC-32C of the length, the data, masked CRC-32C of the data; all
 * little-endian) around Event protocol buffers: wall_time (field 1, double), step (field
 * 2, int64), file_version "brain.Event:2" (field 3) in the first, and a summary (field 5)
 * of one Summary.Value {tag (1), simple_value (2, float)} in the others. Only those few
 * fields are ever written, so the encoder is a page here rather than a protobuf library.
 * No MPI; rank 0 alone writes (mn_runlog.h). */
#ifndef MN_TBEVENTS_H
#define MN_TBEVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_tb mn_tb_t;

/* Create dir (with its parents) and a new event file in it holding the file_version event.
 * out: *tb. Errors: MN_ERR_IO naming the directory or the file. */
mn_status_t mn_tb_open(const char *dir, mn_tb_t **tb);
/* One scalar event (tag, e.g. "train/loss"; step; wall_time in Unix seconds). A failed write
 * is remembered: MN_ERR_IO from then on, and nothing more is written. */
mn_status_t mn_tb_scalar(mn_tb_t *tb, const char *tag, int64_t step, double wall_time, float value);
/* Flush what was written (MN_ERR_IO when that or an earlier write failed). */
mn_status_t mn_tb_flush(mn_tb_t *tb);
/* The event file's path. */
const char *mn_tb_path(const mn_tb_t *tb);
/* Close (safe on NULL). */
void mn_tb_close(mn_tb_t *tb);

/* CRC-32C (Castagnoli) of data[n], as TFRecord uses it; crc is 0 for a fresh one. */
uint32_t mn_crc32c(uint32_t crc, const void *data, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* MN_TBEVENTS_H */
