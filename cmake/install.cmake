# cmake/install.cmake: what `cmake --install build --prefix P` puts under P (docs/install.md).
#
#   bin/                      the programs (RUNPATH $ORIGIN/../lib: they find libmn there)
#   lib/libmn.so.MAJOR, .a    libmn, shared (SONAME by major version) and static
#   lib/libmn_cuda.so         the CUDA back end, which libmn opens when a GPU is asked for
#   include/mn/*.h            the public headers, every one of include/mn/
#   lib/cmake/mn/             find_package(mn): mn::mn (shared), mn::mn_static
#   lib/pkgconfig/mn.pc       pkg-config --cflags --libs mn (--static for libmn.a)
#   share/doc/mn/             README.md and docs/*.md
#   share/mn/                 examples/ and slurm/ (the batch scripts)
#
# Everything is relative to P (the CMake package and mn.pc find P from where they are, the
# programs find libmn through $ORIGIN): an installed tree can be moved or copied whole.
include(CMakePackageConfigHelpers)
set(MN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/mn)

install(TARGETS mnrun mnrank mntrain mnprep mninfo mneval mngen mnbench
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS mn mn_static EXPORT mnTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
if(MN_HAVE_CUDA) # (a module for dlopen, not for linking: no target of the package)
  install(TARGETS mn_cuda LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()
# the public API: whatever include/mn/ holds (the rest of the headers stay private)
install(DIRECTORY include/mn DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING
        PATTERN "*.h")

# the CMake package
install(EXPORT mnTargets NAMESPACE mn:: DESTINATION ${MN_CMAKE_DIR})
configure_package_config_file(cmake/mnConfig.cmake.in ${CMAKE_BINARY_DIR}/mnConfig.cmake
                              INSTALL_DESTINATION ${MN_CMAKE_DIR})
# version.h's rule: a program built against MAJOR.MINOR runs with MAJOR.(MINOR or later)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/mnConfigVersion.cmake
                                 COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/mnConfig.cmake ${CMAKE_BINARY_DIR}/mnConfigVersion.cmake
        DESTINATION ${MN_CMAKE_DIR})

# mn.pc. Requires.private: the dependencies mn's build found through pkg-config; the others
# (found by CMake's modules) as flags in Libs.private, from the libraries found, -L only
# outside the linker's own directories. Both matter only to a static link (--static). No
# CUDA library: libmn opens libmn_cuda, which links them.
set(mn_pc_flags "")
function(mn_pc_add)
  foreach(item ${ARGN})
    if(item MATCHES "^-")
      list(APPEND mn_pc_flags ${item})
    elseif(IS_ABSOLUTE "${item}")
      get_filename_component(dir "${item}" DIRECTORY)
      get_filename_component(name "${item}" NAME)
      string(REGEX REPLACE "^lib|\\.(so|a)(\\.[0-9.]*)?$" "" name "${name}")
      list(FIND CMAKE_C_IMPLICIT_LINK_DIRECTORIES "${dir}" implicit)
      if(implicit LESS 0)
        list(APPEND mn_pc_flags "-L${dir}")
      endif()
      list(APPEND mn_pc_flags "-l${name}")
    elseif(NOT item MATCHES "::")
      list(APPEND mn_pc_flags "-l${item}")
    endif()
  endforeach()
  set(mn_pc_flags ${mn_pc_flags} PARENT_SCOPE)
endfunction()
mn_pc_add(${MPI_C_LINK_FLAGS} ${MPI_C_LIBRARIES} ${HDF5_C_LIBRARIES} ${ZLIB_LIBRARIES})
if(MN_HAVE_LIBMVEC)
  mn_pc_add(mvec)
endif()
mn_pc_add(${OpenMP_C_FLAGS} ${CMAKE_THREAD_LIBS_INIT} ${CMAKE_DL_LIBS} m)
list(REMOVE_DUPLICATES mn_pc_flags)
set(MN_PC_LIBS "")
if(MN_SANITIZE) # (as the CMake targets: an instrumented libmn needs the run-time)
  set(MN_PC_LIBS " -fsanitize=address,undefined")
endif()
list(JOIN mn_pc_flags " " MN_PC_LIBS_PRIVATE)
set(MN_PC_REQUIRES_PRIVATE "openblas inih libcjson")
# mn/mpi.h includes <mpi.h>: MPI's include directories (the site's MPI, as found) go with
# mn's own, so that every public header compiles with mn.pc's flags alone
set(MN_PC_CFLAGS "")
foreach(dir ${MPI_C_INCLUDE_DIRS})
  string(APPEND MN_PC_CFLAGS " -I${dir}")
endforeach()
file(RELATIVE_PATH mn_pc_to_prefix /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
string(REGEX REPLACE "/$" "" mn_pc_to_prefix "${mn_pc_to_prefix}")
configure_file(cmake/mn.pc.in ${CMAKE_BINARY_DIR}/mn.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/mn.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# docs, examples and the batch scripts
file(GLOB mn_docs CONFIGURE_DEPENDS docs/*.md)
install(FILES README.md ${mn_docs} DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY examples/ DESTINATION ${CMAKE_INSTALL_DATADIR}/mn/examples)
file(GLOB mn_slurm_scripts CONFIGURE_DEPENDS slurm/*.sbatch)
install(PROGRAMS ${mn_slurm_scripts} DESTINATION ${CMAKE_INSTALL_DATADIR}/mn/slurm)
install(FILES slurm/README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/mn/slurm)
