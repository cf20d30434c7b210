/* mn_trainstate.h: what a snapshot holds of a training run (mn_snapshot.h is the file).
 *
 * The tensors, format 2: every tensor of the model's registry (mn_tensors.h) by its name,
 * params/<name>, and every state of the optimizer, optim/<kind>/<state>/<name> (SGD's
 * optim/sgd/velocity/0.weight; AdamW's optim/adamw/m/... and optim/adamw/v/...). Format 1
 * (mn 0.2, MLPs with SGD) named them params/W<l>, params/b<l>, optim/velocity/W<l>,
 * optim/velocity/b<l> for linear layer l: read, never written. The registry's names and
 * shapes are the model's identity: a snapshot that lacks one, or holds it in another
 * shape, is refused naming it. The metadata is the run's position (the next step: epoch,
 * position in the epoch's order, global step, samples), the effective config, and the
 * training dataset's identity. Nothing else is needed to continue exactly: the sample order
 * and the initialisation are counter-based functions of the seeds. */
#ifndef MN_TRAINSTATE_H
#define MN_TRAINSTATE_H

#include <stdint.h>

#include "mn_config.h"
#include "mn_data.h"
#include "mn_model.h"
#include "mn_optim.h"
#include "mn_snapshot.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The flat buffers of a run's state: the parameters, then each of the optimizer's states. */
#define MN_TRAINSTATE_BUFS (1 + MN_OPTIM_MAX_STATES)

/* The snapshot tensors of model m and optimizer kind over the host flat buffers bufs
 * (bufs[0] the parameters, bufs[1 + s] state s; each laid out as m->params), named as
 * snapshot format `format` gives them (MN_SNAPSHOT_FORMAT, or 1 to read an old file).
 * out: *t (malloc'd; the caller frees), *n. Errors: MN_ERR_DATA when format 1 cannot hold
 * this model or kind (it has MLPs trained with SGD only), saying so; MN_ERR_NOMEM. */
mn_status_t mn_trainstate_tensors(const mn_model_t *m, const mn_optim_kind_t *kind, int format,
                                  float *const *bufs, mn_snapshot_tensor_t **t, int *n);
/* The same in the format this build writes, for any registry (the public API's parameters,
 * which are no mn_model_t): bufs laid out as r. out: *t (malloc'd; the caller frees), *n.
 * MN_ERR_NOMEM. */
mn_status_t mn_trainstate_registry_tensors(const mn_tensors_t *r, const mn_optim_kind_t *kind,
                                           float *const *bufs, mn_snapshot_tensor_t **t, int *n);
/* Whether snapshot format `format` can hold model m's tensors and kind's states: MN_OK, or
 * MN_ERR_DATA saying why not (format 1 holds MLPs trained with SGD only). */
mn_status_t mn_trainstate_check_format(const mn_model_t *m, const mn_optim_kind_t *kind,
                                       int format);

/* The parameters of model m under their registry names, which are PyTorch's for the same
 * network (the MLP's are nn.Sequential's: "0.weight", "0.bias", "2.weight", ...;
 * docs/export.md), over the flat buffer params (laid out as m->params). out: *t (malloc'd;
 * the caller frees), *n. */
mn_status_t mn_trainstate_torch_tensors(const mn_model_t *m, float *params,
                                        mn_snapshot_tensor_t **t, int *n);

/* The optimizer kind whose state snapshot meta holds: its config's optimizer.kind (sgd
 * when it has none: format 1, or a file written before the key). */
const mn_optim_kind_t *mn_trainstate_kind(const mn_snapshot_meta_t *meta);

/* Read model m's parameters from file into params (host, m->nparams floats, laid out as
 * m->params; the padding between tensors 0): an llm.c checkpoint of a gpt (known by its
 * magic, whatever its name; mn_llmc.h), a safetensors file (a name ending in
 * .safetensors; names as above) or an mn snapshot of format 1 or 2 (its parameters; the
 * optimizer's state is read, checked and dropped). model.init_from reads through here.
 * Errors: MN_ERR_NOINPUT when the file is missing; MN_ERR_DATA naming the tensor that is
 * missing, of another shape or damaged, or the llm.c header value that differs from the
 * model; MN_ERR_NOMEM. */
mn_status_t mn_trainstate_read_params(const char *file, const mn_model_t *m, float *params);

/* The model a snapshot was trained with, for inference on the CPU (forward and loss: its
 * kernel context has no workspace, which a gpt's backward would need): its config (the
 * snapshot's own config text, then the overrides sets[0, nsets), "section.key=value", all
 * checked as a train.conf is) and a model for batches of up to max_batch rows holding the
 * snapshot's parameters (every tensor's shape and CRC checked). in: path, meta (read from
 * path). out: cfg, m (free with mn_model_free). Errors: MN_ERR_CONFIG for an override that
 * does not apply; MN_ERR_DATA naming the tensor that does not fit or is damaged. */
mn_status_t mn_trainstate_load_model(const char *path, const mn_snapshot_meta_t *meta,
                                     const char *const *sets, int nsets, int max_batch,
                                     mn_config_t *cfg, mn_model_t *m);

#ifdef __cplusplus
}
#endif
#endif /* MN_TRAINSTATE_H */
