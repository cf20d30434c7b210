/* prep.h: the parts of mnprep (tools/), shared by its files and by nothing else.
 *
 *   mnprep.c        command line, usage, main
 *   prep_out.c      atomic HDF5 outputs (samples, tokens), command-line numbers, input lists
 *   prep_teacher.c  the synthetic teacher set
 *   prep_csv.c      CSV input (plain or gzip, any delimiter, RFC 4180 quoting)
 *   prep_npy.c      NumPy .npy / .npz input
 *   prep_h5.c       HDF5 input with any dataset names
 *   prep_text.c     text files to byte-level tokens (mnprep text)
 *   prep_tokens.c   llm.c .bin token shards imported (mnprep tokens)
 *   prep_write.c    the rows of an input, read once into a spool, split (exact, optionally
 *                   stratified), standardized and written to shards and a validation file
 *
 * A reader checks every value of its input and hands rows, in input order, to a spool
 * (spool_push); the writer does the rest. */
#ifndef MN_PREP_H
#define MN_PREP_H

#include <hdf5.h>
#include <limits.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FORMAT_NAME "mn-dataset-1"
#define MN_PREP_MAX_CLASSES (1 << 20) /* the most classes a dataset may have */

/* Random streams, named (seed, purpose, row) so that a row is the same whatever the
 * shard count. */
enum {
  STREAM_W1 = 101,
  STREAM_B1 = 102,
  STREAM_W2 = 103,
  STREAM_CALIB = 104,
  STREAM_TRAIN = 105,
  STREAM_VAL = 106,
  STREAM_CSV_SPLIT = 107,
  STREAM_MIX = 108,
};

extern const char prep_usage_text[];

/* ---- the command line (prep_out.c) ---------------------------------------------------- */

mn_status_t parse_i64(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out);
mn_status_t parse_int(const char *opt, const char *s, int lo, int hi, int *out);
/* MN_ERR_USAGE for the unknown command-line word arg, with the closest long option of opts
 * ("unknown option '--standardise' (did you mean --standardize?)"). */
mn_status_t prep_bad_option(const char *arg, const struct option *opts);

/* ---- atomic HDF5 outputs (prep_out.c) ------------------------------------------------- */

typedef struct out_file {
  char path[PATH_MAX];
  char tmp[PATH_MAX + 32];
  hid_t file, x, y;
  int dim;
  int64_t rows;  /* written so far */
  int64_t total; /* rows it will hold; -1: unknown */
  int32_t *hist; /* [classes] label histogram, may be NULL */
} out_file_t;

void out_init(out_file_t *o);
mn_status_t out_open(out_file_t *o, const char *path, int dim, int64_t total, int64_t chunk,
                     int classes);
mn_status_t out_append(out_file_t *o, const float *x, const int32_t *y, int64_t n, int classes);
mn_status_t attr_write(hid_t loc, const char *name, hid_t type, const void *value);
/* format, classes, and (seed, hidden) when hidden > 0. */
mn_status_t out_attrs(out_file_t *o, int classes, uint64_t seed, int hidden);
/* The standardization of /x: attributes mean, std (float64 [dim]) and standardized = 1. */
mn_status_t out_standardized(out_file_t *o, const double *mean, const double *std);
void out_abort(out_file_t *o);
mn_status_t outs_commit(out_file_t *outs, int n);
mn_status_t make_parents(const char *path);
void print_written(const out_file_t *o, int classes);
void check_balance(const out_file_t *o, int classes);

/* ---- token outputs (prep_out.c) -------------------------------------------------------- */

/* An atomic token file: /tokens [0], extendible, uint16 when vocab <= 65536, else int32,
 * with the attribute vocab_size, and format = "mn-tokens-1" on the root group; o->rows counts
 * the tokens. Finished by outs_commit, undone by out_abort, as the sample outputs. */
mn_status_t out_open_tokens(out_file_t *o, const char *path, int vocab);
/* The attribute tokenizer of /tokens ("byte", "gpt2"). */
mn_status_t out_tokenizer(out_file_t *o, const char *tokenizer);
/* Append v[0..n) (each in [0, vocab): the caller checks). */
mn_status_t out_append_tokens(out_file_t *o, const int32_t *v, int64_t n);

/* ---- input lists (prep_out.c) ----------------------------------------------------------- */

typedef struct inputs {
  char **paths;
  int n, cap;
} inputs_t;

/* Paths and globs (expanded here, sorted, so that quoted patterns work) to readable regular
 * files, symlinks followed. A named path that is missing, a directory or unreadable is an
 * error (MN_ERR_NOINPUT); such a match of a pattern is skipped with a note on stderr; a
 * pattern with no readable match is an error. out: in (inputs_free). */
mn_status_t inputs_expand(char *const *args, int nargs, inputs_t *in);
void inputs_free(inputs_t *in);

/* ---- text and tokens (prep_text.c, prep_tokens.c) --------------------------------------- */

mn_status_t text_main(int argc, char **argv);
mn_status_t tokens_main(int argc, char **argv);

/* ---- teacher (prep_teacher.c) --------------------------------------------------------- */

mn_status_t teacher_main(int argc, char **argv);

/* ---- conversion of an input (prep_write.c) -------------------------------------------- */

enum { INDEX_AUTO, INDEX_SKIP, INDEX_KEEP };
enum { HEADER_AUTO, HEADER_YES, HEADER_NO };

typedef struct prep_opts {
  const char *in;    /* csv, h5, npz: the input; "-": standard input (csv) */
  const char *x, *y; /* h5: dataset names; npy: .npy files, or npz array names */
  const char *out, *val_out, *split_out;
  int label_last, classes, shards;
  int delimiter;     /* csv: 0 auto, or ',', '\t', ';' */
  int header, index; /* csv: HEADER_*, INDEX_* */
  int stratify, standardize;
  double val_fraction;
  int64_t chunk;
  uint64_t seed;
} prep_opts_t;

/* The rows of an input as its reader delivers them: features to an unlinked temp file,
 * labels in memory (4 bytes a row, needed whole for the split). */
typedef struct spool {
  FILE *f;
  int dim;    /* 0 until the first row */
  int64_t n;  /* rows so far */
  int32_t *y; /* [n] labels */
  int64_t cap;
  int32_t maxlabel;
  int64_t counting; /* rows whose label equals their row number (a leaked index) */
} spool_t;

/* A spool of rows of dim features, its temp file in $TMPDIR or else beside out. */
mn_status_t spool_start(spool_t *sp, const char *out, int dim);
mn_status_t spool_push(spool_t *sp, const float *x, int32_t y);

/* Readers: every row of the input into sp, each value checked (finite features, labels in
 * [0, MN_PREP_MAX_CLASSES) and below o->classes when given); errors name the input and the
 * line, row or element. */
mn_status_t csv_read(const prep_opts_t *o, spool_t *sp);
mn_status_t npy_read(const prep_opts_t *o, spool_t *sp);
mn_status_t h5in_read(const prep_opts_t *o, spool_t *sp);

/* Check a label read from `where` (a message prefix such as "a.csv:3"). */
mn_status_t label_check(const prep_opts_t *o, const char *where, int64_t v);

/* Split, standardize and write the spooled rows of input `what` (its name in messages);
 * hint: what to try when the labels look wrong (may be ""). */
mn_status_t prep_write(const prep_opts_t *o, spool_t *sp, const char *what, const char *hint);
void spool_free(spool_t *sp);

#ifdef __cplusplus
}
#endif
#endif /* MN_PREP_H */
