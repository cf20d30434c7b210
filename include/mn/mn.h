/* mn/mn.h: the whole public API of libmn, for trainers of their own (docs/api.md).
 *
 *   world.h     init and finish, rank and device, the agreed stop, plain collectives
 *   params.h    named parameter tensors and their gradients
 *   exchange.h  the bucketed, overlapped gradient allreduce of a step
 *   optim.h     SGD or AdamW, LR schedules, clipping
 *   state.h     atomic background snapshots and resume
 *   data.h      HDF5 samples or token streams, sharded, read ahead, resumable
 *   metrics.h   the progress line, JSON-lines and TensorBoard records
 *   status.h    the status every call returns, and the exit codes
 *   version.h   the API's version */
#ifndef MN_PUBLIC_MN_H
#define MN_PUBLIC_MN_H

#include <mn/data.h>
#include <mn/exchange.h>
#include <mn/log.h>
#include <mn/metrics.h>
#include <mn/net.h>
#include <mn/optim.h>
#include <mn/params.h>
#include <mn/state.h>
#include <mn/status.h>
#include <mn/version.h>
#include <mn/world.h>

#endif /* MN_PUBLIC_MN_H */
