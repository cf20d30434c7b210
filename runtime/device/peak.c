/* peak.c: the peak dense FLOP/s of the GPUs mn knows by name, for MFU (mn_device.h). The
 * vendor's figures for the SXM parts (dense, no sparsity); a PCIe or NVL part of the same
 * name is slower, which compute.peak_tflops overrides. */
#include <string.h>

#include "mn_device.h"

typedef struct peak {
  const char *name; /* a substring of the device name */
  double fp32, tf32; /* TFLOP/s */
} peak_t;

static const peak_t g_peaks[] = {
    {"H200", 67.0, 494.7},
    {"H100", 67.0, 494.7},
    {"A100", 19.5, 156.0},
};

double mn_device_peak_flops(const char *name, int tf32) {
  for (size_t i = 0; i < sizeof g_peaks / sizeof g_peaks[0]; i++)
    if (strstr(name, g_peaks[i].name)) return 1e12 * (tf32 ? g_peaks[i].tf32 : g_peaks[i].fp32);
  return 0;
}
