/* mn_tokens.h: token streams as the dataset layer reads them (private to runtime/data; the
 * public face is mn_dataset_open_tokens in mn_data.h, docs/data.md "Token datasets").
 *
 * The files, each holding /tokens uint16 or int32 [n_i] with the attribute vocab_size, are
 * one stream, concatenated in the order given. A model of context T trains on windows:
 * window w is the tokens [w*T, w*T + T + 1) of the stream, its inputs the first T and its
 * targets the last T (consecutive windows share one boundary token; a window may cross a
 * file boundary). There are (ntokens - 1) / T of them. */
#ifndef MN_TOKENS_H
#define MN_TOKENS_H

#include <stdint.h>

#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_tokens mn_tokens_t;

/* Open paths[0..nfiles) (which must outlive the handle) as one stream for windows of
 * `context` tokens; vocab > 0: every file's vocab_size must be <= vocab. Checks at open the
 * files, types, ranks, attributes, storage and the stream's length (at least context + 1),
 * and reads the MN_DATA_FEATURE_ROWS fixed windows for the identity CRCs: O(files + those
 * windows), never a scan of the stream. out: *tk. */
mn_status_t mn_tokens_open(const char *const *paths, int nfiles, int context, int vocab,
                           mn_tokens_t **tk);
void mn_tokens_close(mn_tokens_t *tk);
int64_t mn_tokens_windows(const mn_tokens_t *tk);
int64_t mn_tokens_file_tokens(const mn_tokens_t *tk, int file);
/* CRC-32 of the fixed windows' inputs (int32, window after window) and of their targets. */
uint32_t mn_tokens_input_crc(const mn_tokens_t *tk);
uint32_t mn_tokens_target_crc(const mn_tokens_t *tk);

/* Windows idx[0..count) (each in [0, windows), repeats allowed), in that order. out:
 * x[count, context] inputs, y[count, context] targets. Every token read is checked in
 * [0, vocab_size of its file): MN_ERR_DATA naming the file and the position in it. Not
 * thread-safe: the caller serialises (data.c holds the dataset's lock). */
mn_status_t mn_tokens_read(mn_tokens_t *tk, const int64_t *idx, int count, int32_t *x, int32_t *y);
/* Windows [start, start + count), inside [0, windows). out: x, y as mn_tokens_read. */
mn_status_t mn_tokens_read_range(mn_tokens_t *tk, int64_t start, int64_t count, int32_t *x,
                                 int32_t *y);

#ifdef __cplusplus
}
#endif
#endif /* MN_TOKENS_H */
