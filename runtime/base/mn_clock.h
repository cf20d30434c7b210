/* mn_clock.h: the clocks of mn: a monotonic one for durations, the wall clock for records. */
#ifndef MN_CLOCK_H
#define MN_CLOCK_H

#ifdef __cplusplus
extern "C" {
#endif

/* Monotonic seconds (CLOCK_MONOTONIC): durations. */
double mn_now_s(void);
/* Unix time in seconds (CLOCK_REALTIME): the records' "time". */
double mn_unix_time_s(void);

#ifdef __cplusplus
}
#endif
#endif /* MN_CLOCK_H */
