/* mn/version.h: the version of mn's public API (include/mn/), and of the library that a
 * program runs with.
 *
 * The macros are the headers' version, fixed when the program is compiled; mn_version()
 * is the library's, found when it runs. Semantic versioning: a program built against
 * MAJOR.MINOR runs with any library of the same MAJOR and a MINOR as high or higher.
 * CMake reads the project's version from this file. */
#ifndef MN_PUBLIC_VERSION_H
#define MN_PUBLIC_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

#define MN_VERSION_MAJOR 0
#define MN_VERSION_MINOR 3
#define MN_VERSION_PATCH 0
/* one number that grows with every release: 10000 major + 100 minor + patch */
#define MN_VERSION_NUMBER (MN_VERSION_MAJOR * 10000 + MN_VERSION_MINOR * 100 + MN_VERSION_PATCH)

/* The library's version as "MAJOR.MINOR.PATCH" (static storage; never NULL); with its
 * parts in *major, *minor and *patch when they are not NULL. Callable before mn_init. */
const char *mn_version(int *major, int *minor, int *patch);

#ifdef __cplusplus
}
#endif
#endif /* MN_PUBLIC_VERSION_H */
