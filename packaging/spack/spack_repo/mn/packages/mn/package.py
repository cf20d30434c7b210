# packaging/spack/spack_repo/mn/packages/mn/package.py: mn for Spack 1.0 or later
# (docs/install.md, "Spack"). Add the repository, then install:
#
#   spack repo add packaging/spack/spack_repo/mn
#   spack install mn ^openmpi                  # CPU only
#   spack install mn +cuda cuda_arch=90        # with the CUDA back end, for H100
#
# or build a checkout of one's own: `spack develop --path . mn@=main; spack install mn`.
#
# Every library mn's CMakeLists.txt finds is a dependency here (tests/test_packaging.sh
# checks that); Spack puts them on CMAKE_PREFIX_PATH and PKG_CONFIG_PATH, and cmake_args
# names MPI, HDF5, CUDA and NCCL as docs/install.md's site build does. Not run yet: no Spack
# on the machines this was written on (docs/install.md says what was checked).
from spack_repo.builtin.build_systems.cmake import CMakePackage
from spack_repo.builtin.build_systems.cuda import CudaPackage

from spack.package import *


class Mn(CMakePackage, CudaPackage):
    """mn: an HPC data-parallel training runtime (libmn) and launcher (mnrun): gang launch
    through mpirun or srun, fused bucketed gradient allreduce (MPI, or NCCL on GPUs),
    sharded HDF5 datasets, atomic snapshots and a preemption-safe stop and resume."""

    homepage = "https://example.org/mn"  # no public home yet: set your site's
    git = "https://example.org/mn.git"  # a clone of the repository: set your site's

    version("main", branch="main")

    depends_on("c", type="build")
    depends_on("cxx", type="build", when="+cuda")  # nvcc's host compiler
    depends_on("cmake@3.20:", type="build")
    depends_on("pkgconfig", type="build")

    depends_on("mpi")
    depends_on("hdf5")
    # the CPU GEMMs run on OpenBLAS's own threads (mn sets their count per rank)
    depends_on("openblas threads=pthreads")
    depends_on("libinih")
    depends_on("cjson")
    depends_on("zlib-api")
    depends_on("libcsv")  # packages/libcsv here: not in Spack's builtin repository
    depends_on("libzip")
    depends_on("hwloc")
    depends_on("rdma-core")  # libibverbs: the launcher's network-card discovery

    # NCCL 2.14 or later for the GPU gradient path (docs/gpu.md), built for the same GPUs
    depends_on("nccl@2.14:", when="+cuda")
    for arch in CudaPackage.cuda_arch_values:
        depends_on(f"nccl cuda_arch={arch}", when=f"+cuda cuda_arch={arch}")

    def cmake_args(self):
        spec = self.spec
        args = [
            self.define_from_variant("MN_CUDA", "cuda"),
            self.define("MPI_HOME", spec["mpi"].prefix),
            self.define("HDF5_ROOT", spec["hdf5"].prefix),
        ]
        if spec.satisfies("+cuda"):
            args.append(self.define("CUDAToolkit_ROOT", spec["cuda"].prefix))
            args.append(self.define("NCCL_ROOT", spec["nccl"].prefix))
            archs = [a for a in spec.variants["cuda_arch"].value if a != "none"]
            if archs:
                args.append(self.define("CMAKE_CUDA_ARCHITECTURES", ";".join(archs)))
        return args
