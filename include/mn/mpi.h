/* mn/mpi.h: a world on a communicator of the program's own, for a program that runs MPI
 * itself and gives mn a part of its ranks (Horovod's hvd.init(comm), a process set): each
 * part trains on its own, its collectives and gradient exchange among its ranks alone.
 * Apart from mn/mn.h, since it needs MPI's header. */
#ifndef MN_PUBLIC_MPI_H
#define MN_PUBLIC_MPI_H

#include <mpi.h>

#include <mn/world.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Collective over comm (MPI initialised by the program, with at least
 * MPI_THREAD_FUNNELED): a world of comm's ranks, its device opened as mn_init opens it
 * (opts: as mn_init's; NULL, every default). Without mn_init's process set-up, which stays
 * the program's: no stop-signal handler, placement, heartbeat or exit report. out: *world,
 * freed with mn_world_close (not mn_finish). Every rank of comm returns the same status:
 * MN_ERR_USAGE for a bad option or MPI not initialised, MN_ERR_UNAVAILABLE when the device
 * asked for is not there. */
mn_status_t mn_init_comm(MPI_Comm comm, const mn_init_opts_t *opts, mn_world_t **world);
/* Free a world of mn_init_comm (NULL: nothing); comm stays the program's. */
void mn_world_close(mn_world_t *world);

#ifdef __cplusplus
}
#endif
#endif /* MN_PUBLIC_MPI_H */
