/* mn_json.h: writing JSON text (the metrics file, mninfo --json, mnbench's records). */
#ifndef MN_JSON_H
#define MN_JSON_H

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A JSON string, quoted, with quotes, backslashes and control characters escaped (NULL is
 * ""), written to f. */
void mn_json_string(FILE *f, const char *s);

#ifdef __cplusplus
}
#endif
#endif /* MN_JSON_H */
