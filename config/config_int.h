/* config_int.h: what the configuration's parts share (config_keys.c
 * defines it; config_file.c and config_flags.c use it). Not for use
 * outside config/.
 *
 * A key of a global section ([log], [limits], ...) is one row of a table:
 * its section and name, its type and where it lands in struct config. The
 * file and the -o/--set flag both set keys through config_set_key, so a
 * value means the same wherever it is written. */
#ifndef CONFIG_CONFIG_INT_H
#define CONFIG_CONFIG_INT_H

#include <stddef.h>

#include "config/config.h"

#define REASON_MAX 512
#define CONFIG_KEYS_MAX 128 /* rows of the key table, at most */

enum key_type {
  KEY_INT, KEY_LLONG, KEY_LEVEL, KEY_PATH, KEY_ADDR, KEY_BOOL, KEY_CLASSES,
  KEY_PATTERNS, KEY_DOUBLE, KEY_DELIVER, KEY_CIDRS, KEY_AGENTS,
  KEY_WORKERS,
  KEY_ACCESS_FORMAT, KEY_NAME,
  KEY_SIZE, KEY_LSIZE, /* bytes in an int, a long long: 512k, 1g */
};

struct key_def {
  const char *section;
  const char *name;
  enum key_type type;
  size_t off;          /* the field in struct config */
  size_t port_off;     /* KEY_ADDR: the port field; KEY_CIDRS: the count */
  long long min, max;  /* KEY_INT, KEY_LLONG, KEY_SIZE, KEY_LSIZE;
                          KEY_CIDRS: max entries */
};

/* config_find_key returns the row of [section] name, or NULL;
 * config_global_section says whether |section| has rows at all;
 * config_key_index numbers a row (0 .. CONFIG_KEYS_MAX - 1). */
const struct key_def *config_find_key(const char *section, const char *name);
int config_global_section(const char *section);
int config_key_index(const struct key_def *k);

/* config_set_key parses |v| as |k| says into |c|. Returns 0, or -1 with
 * the reason in |why|. */
int config_set_key(struct config *c, const struct key_def *k, const char *v,
                   char *why, size_t whylen);

/* Value parsers (0, or -1 with the reason in |why|). config_parse_addr
 * reads ADDR:PORT (|numeric|: the address must be numeric), bracketed
 * for IPv6; config_copy_str refuses a value longer than |cap| - 1. */
int config_parse_bool(const char *v, int *out, char *why, size_t whylen);
int config_copy_str(char *dst, size_t cap, const char *v, char *why,
                    size_t whylen);
int config_parse_addr(const char *v, int numeric, char *host, size_t hostcap,
                      int *port, char *why, size_t whylen);
int config_parse_deliver(const char *v, int *out, char *why, size_t whylen);

#endif
