/* mn_llmc.h: GPT-2 weights in llm.c's checkpoint format (karpathy/llm.c, train_gpt2.c's
 * gpt2_build_from_checkpoint), read into an mn gpt and written from one.
 *
 * The file: a header of 256 int32 (little-endian, as every machine mn builds for):
 * [0] magic 20240326, [1] version (3: float32 parameters; 5: bfloat16, which mn does not
 * read), [2] maxT (wpe's rows), [3] V (vocabulary), [4] L (blocks), [5] NH (heads),
 * [6] C (width), [7] Vp (wte's rows: V padded, to a multiple of 128 by llm.c's exporter),
 * the rest 0. Then the parameters as float32, 16 tensors one after the other, the
 * per-block ones stacked over the L blocks:
 *   wte [Vp, C], wpe [maxT, C], ln1w, ln1b [L, C], qkvw [L, 3C, C], qkvb [L, 3C],
 *   attprojw [L, C, C], attprojb [L, C], ln2w, ln2b [L, C], fcw [L, 4C, C], fcb [L, 4C],
 *   fcprojw [L, C, 4C], fcprojb [L, C], lnfw, lnfb [C],
 * every matrix [out, in] as mn (and nn.Linear) stores it, so each block's slice is mn's
 * tensor as it is: qkvw's slice i is h.<i>.attn.c_attn.weight, and so on (mn_model.h names
 * them all). Nothing but the parameters: no optimizer state, no tokenizer.
 *
 * Padding: wte's rows V..Vp of the file are not read (llm.c never uses them); mn's own
 * padded rows (V rounded up to a multiple of 64) are 0. This module knows nothing of
 * configs or snapshots: it reads and writes the parameters of a built model. */
#ifndef MN_LLMC_H
#define MN_LLMC_H

#include <stdint.h>

#include "mn_model.h"
#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MN_LLMC_MAGIC 20240326
#define MN_LLMC_VERSION_F32 3  /* float32 parameters: the one mn reads and writes */
#define MN_LLMC_VERSION_BF16 5 /* bfloat16 parameters (llm.c's *_bf16.bin): refused */
#define MN_LLMC_HEADER_INTS 256
#define MN_LLMC_VOCAB_ALIGN 128 /* Vp of the files mn writes, as llm.c's exporter pads */

/* Whether the file at path begins with llm.c's magic (whatever its name). 0 when it does
 * not, or cannot be read (the caller's next reader says why). */
int mn_llmc_detect(const char *path);

/* Read the llm.c checkpoint at path into params (host, m->nparams floats, laid out as
 * m->params; every element written: the padding and wte's rows past V are 0). m must be a
 * gpt (mn_model_spec_gpt) whose vocab, blocks, heads and width are the checkpoint's V, L,
 * NH and C, and whose context is at most maxT (when shorter, wpe's first `context` rows are
 * taken, and a log line says so). The file's size must be the header and its parameters
 * exactly. Errors, each naming the path: MN_ERR_NOINPUT when it is missing; MN_ERR_DATA
 * for another magic, a version other than 3 (5: bfloat16, said so), a header value that
 * differs from the model (naming the [model] key and both values), a maxT shorter than
 * the context, a size other than the expected one (both byte counts), a model that is not
 * a gpt; MN_ERR_NOMEM. */
mn_status_t mn_llmc_read(const char *path, const mn_model_t *m, float *params);

/* Write model m's parameters params (host, laid out as m->params) to path as an llm.c
 * checkpoint of version 3: maxT = m's context, Vp = V rounded up to MN_LLMC_VOCAB_ALIGN
 * (rows V..Vp written 0). Atomically: under a temporary name beside path, fsync'd, renamed.
 * Errors: MN_ERR_DATA when m is not a gpt; MN_ERR_IO naming the path and the reason (nothing
 * left behind). */
mn_status_t mn_llmc_write(const char *path, const mn_model_t *m, const float *params);

#ifdef __cplusplus
}
#endif
#endif /* MN_LLMC_H */
