/* config_flags.c: the command line (see config.h): getopt_long over the
 * flags, which override the file (config_parse_args), building a whole
 * configuration the way herald starts and reloads (config_from_args),
 * and --help (config_usage). A -o SECTION.KEY=VALUE flag sets a global
 * key through the same setter as the file. */
#include <getopt.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/http.h"
#include "base/log.h"
#include "base/util.h"
#include "config/config_int.h"

/* ---- flags ---- */

enum {
  OPT_LISTEN = 256,
  OPT_LISTEN_TLS,
  OPT_CERT,
  OPT_KEY,
  OPT_BACKEND,
  OPT_ACCESS_LOG,
  OPT_LOG_LEVEL,
  OPT_DB,
  OPT_ADMIN,
  OPT_WORKERS,
};

static const struct option long_opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"test", no_argument, NULL, 't'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"set", required_argument, NULL, 'o'},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"listen-tls", required_argument, NULL, OPT_LISTEN_TLS},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"access-log", required_argument, NULL, OPT_ACCESS_LOG},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"db", required_argument, NULL, OPT_DB},
    {"admin", required_argument, NULL, OPT_ADMIN},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {NULL, 0, NULL, 0},
};

/* '+' stops at the first non-option instead of permuting argv, so the
 * second pass sees the same argv as the first; ':' reports a missing
 * argument apart from an unknown option. */
static const char short_opts[] = "+:c:thVo:";

/* flag_name names a flag for messages. argv cannot tell: after
 * "--listen ADDR" argv[optind - 1] is ADDR, not the flag. */
static const char *flag_name(int opt, char *buf, size_t cap) {
  for (size_t i = 0; long_opts[i].name != NULL; i++) {
    if (long_opts[i].val == opt) {
      snprintf(buf, cap, "--%s", long_opts[i].name);
      return buf;
    }
  }
  return "?";
}

static int set_named(struct config *c, const char *flag, const char *section,
                     const char *name, const char *v, char *err,
                     size_t errlen) {
  char why[REASON_MAX];
  const struct key_def *k = config_find_key(section, name);
  if (k == NULL) {
    if (config_global_section(section))
      snprintf(err, errlen, "%s: key '%s.%s': unknown key", flag, section,
               name);
    else
      snprintf(err, errlen, "%s: key '%s.%s': only [log], [limits], "
               "[timeouts], [store], [record], [learn], [deliver], [admin], "
               "[clients] and [server] "
               "keys can be set this way",
               flag, section, name);
    return -1;
  }
  if (config_set_key(c, k, v, why, sizeof why) < 0) {
    snprintf(err, errlen, "%s: key '%s.%s': %s", flag, section, name, why);
    return -1;
  }
  return 0;
}

/* set_dotted applies "SECTION.KEY=VALUE". */
static int set_dotted(struct config *c, const char *arg, char *err,
                      size_t errlen) {
  char section[CONFIG_NAME_MAX], name[CONFIG_NAME_MAX];
  char flag[96];
  const char *dot = strchr(arg, '.');
  const char *eq = strchr(arg, '=');
  size_t slen, nlen;

  snprintf(flag, sizeof flag, "--set '%.80s'", arg);
  if (dot == NULL || eq == NULL || dot > eq)
    goto bad;
  slen = (size_t)(dot - arg);
  nlen = (size_t)(eq - dot - 1);
  if (slen == 0 || nlen == 0 || slen >= sizeof section ||
      nlen >= sizeof name)
    goto bad;
  memcpy(section, arg, slen);
  section[slen] = '\0';
  memcpy(name, dot + 1, nlen);
  name[nlen] = '\0';
  return set_named(c, flag, section, name, eq + 1, err, errlen);
bad:
  snprintf(err, errlen, "%s: expected SECTION.KEY=VALUE", flag);
  return -1;
}

static int add_flag_listener(struct config *c, const char *flag,
                             const char *v, int tls, char *err,
                             size_t errlen) {
  char why[REASON_MAX];
  struct config_listener *l;
  if (c->nlisteners == CONFIG_MAX_LISTENERS) {
    snprintf(err, errlen, "%s %s: too many listeners (max %d)", flag, v,
             CONFIG_MAX_LISTENERS);
    return -1;
  }
  l = &c->listeners[c->nlisteners];
  memset(l, 0, sizeof *l);
  if (config_parse_addr(v, 1, l->host, sizeof l->host, &l->port, why,
                 sizeof why) < 0) {
    snprintf(err, errlen, "%s: %s", flag, why);
    return -1;
  }
  l->tls = tls;
  snprintf(l->name, sizeof l->name, "flag%d", c->nlisteners + 1);
  c->nlisteners++;
  return 0;
}

/* parse_args is config_parse_args; its first pass (|c| NULL) also sets
 * |*oneliner| when a flag names a listener or a backend. */
static int parse_args(struct config *c, int argc, char **argv,
                      const char **config_path, int *test_only, int *help,
                      int *version, int *oneliner, char *err,
                      size_t errlen) {
  char why[REASON_MAX];
  struct config_server servers[CONFIG_MAX_SERVERS];
  int nservers = 0;
  const char *cert = NULL, *key = NULL;
  int opt;

  /* 0, not 1: glibc then reinitialises fully, since this runs twice per
   * start and again on every reload. */
  optind = 0;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, short_opts, long_opts, NULL)) !=
         -1) {
    /* getopt always steps past the flag or the word it failed on. */
    const char *word = argv[optind - 1];
    char namebuf[32];
    const char *flag = flag_name(opt, namebuf, sizeof namebuf);
    switch (opt) {
    case 'c':
      if (config_path != NULL)
        *config_path = optarg;
      continue;
    case 't':
      if (test_only != NULL)
        *test_only = 1;
      continue;
    case 'h':
      if (help != NULL)
        *help = 1;
      continue;
    case 'V':
      if (version != NULL)
        *version = 1;
      continue;
    case ':':
      snprintf(err, errlen, "option '%s' needs an argument", word);
      return -1;
    case '?':
      /* optopt is 0 for an unknown long option; for "--test=1" it is the
       * option's value; otherwise it is the unknown short letter, which
       * may sit inside a cluster like "-tx". */
      if (optopt == 0)
        snprintf(err, errlen, "unknown or ambiguous option '%s'", word);
      else if (strncmp(word, "--", 2) == 0 && strchr(word, '=') != NULL)
        snprintf(err, errlen, "option '%s' takes no argument", word);
      else
        snprintf(err, errlen, "unknown option '-%c'", optopt);
      return -1;
    default:
      break;
    }
    if (c == NULL) {
      /* first pass: only -c -t -h -V and what makes a one-liner matter */
      if (oneliner != NULL && (opt == OPT_LISTEN || opt == OPT_LISTEN_TLS ||
                               opt == OPT_BACKEND))
        *oneliner = 1;
      continue;
    }

    switch (opt) {
    case 'o':
      if (set_dotted(c, optarg, err, errlen) < 0)
        return -1;
      break;
    case OPT_LISTEN:
    case OPT_LISTEN_TLS:
      if (add_flag_listener(c, flag, optarg, opt == OPT_LISTEN_TLS, err,
                            errlen) < 0)
        return -1;
      break;
    case OPT_CERT:
    case OPT_KEY:
      if (strlen(optarg) >= CONFIG_PATH_MAX) {
        snprintf(err, errlen, "%s: path is too long (max %d bytes)", flag,
                 CONFIG_PATH_MAX - 1);
        return -1;
      }
      if (opt == OPT_CERT)
        cert = optarg;
      else
        key = optarg;
      break;
    case OPT_BACKEND: {
      struct config_server *s = &servers[nservers];
      if (nservers == CONFIG_MAX_SERVERS) {
        snprintf(err, errlen, "%s: too many servers (max %d)", flag,
                 CONFIG_MAX_SERVERS);
        return -1;
      }
      if (config_parse_addr(optarg, 0, s->host, sizeof s->host, &s->port, why,
                     sizeof why) < 0) {
        snprintf(err, errlen, "%s: %s", flag, why);
        return -1;
      }
      nservers++;
      break;
    }
    case OPT_ACCESS_LOG:
      if (set_named(c, flag, "log", "access_log", optarg, err, errlen) < 0)
        return -1;
      break;
    case OPT_LOG_LEVEL:
      if (set_named(c, flag, "log", "level", optarg, err, errlen) < 0)
        return -1;
      break;
    case OPT_DB:
      if (set_named(c, flag, "store", "db", optarg, err, errlen) < 0)
        return -1;
      break;
    case OPT_ADMIN:
      if (set_named(c, flag, "admin", "listen", optarg, err, errlen) < 0)
        return -1;
      break;
    case OPT_WORKERS:
      if (set_named(c, flag, "server", "workers", optarg, err, errlen) < 0)
        return -1;
      break;
    }
  }
  if (optind < argc) {
    snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
    return -1;
  }
  if (c == NULL)
    return 0;

  /* Applied last so "--cert X --listen-tls A" works as well as the other
   * order, and so file listeners lacking a cert get it too. */
  for (int i = 0; i < c->nlisteners; i++) {
    struct config_listener *l = &c->listeners[i];
    if (!l->tls)
      continue;
    if (cert != NULL && l->cert[0] == '\0')
      strcpy(l->cert, cert);
    if (key != NULL && l->key[0] == '\0')
      strcpy(l->key, key);
  }
  /* --backend flags together replace backend 0's servers: the common case
   * is "herald --backend X" standing in for the file's one backend. */
  if (nservers > 0) {
    if (c->nbackends == 0) {
      memset(&c->backends[0], 0, sizeof c->backends[0]);
      strcpy(c->backends[0].name, "default");
      c->nbackends = 1;
    }
    memcpy(c->backends[0].servers, servers, sizeof servers[0] * nservers);
    c->backends[0].nservers = nservers;
  }
  return 0;
}

int config_parse_args(struct config *c, int argc, char **argv,
                      const char **config_path, int *test_only, int *help,
                      int *version, char *err, size_t errlen) {
  return parse_args(c, argc, argv, config_path, test_only, help, version,
                    NULL, err, errlen);
}

int config_from_args(struct config *c, int argc, char **argv,
                     const char **config_path, int *test_only, int *help,
                     int *version, char *err, size_t errlen) {
  const char *path = NULL;
  int h = 0, v = 0, t = 0, oneliner = 0;

  config_defaults(c);
  if (parse_args(NULL, argc, argv, &path, &t, &h, &v, &oneliner, err,
                 errlen) < 0)
    return -1;
  /* No -c: the installed file, unless the flags are a whole one-liner
   * (its listeners would otherwise bind next to the file's). */
  if (path == NULL && !oneliner && !h && !v) {
    if (access(CONFIG_DEFAULT_PATH, F_OK) != 0) {
      /* A bad flag is the first thing to fix: report it first. */
      if (parse_args(c, argc, argv, NULL, NULL, NULL, NULL, NULL, err,
                     errlen) < 0)
        return -1;
      snprintf(err, errlen, "no configuration: %s does not exist; give -c "
               "FILE, or --listen ADDR:PORT --backend HOST:PORT (herald "
               "--help)", CONFIG_DEFAULT_PATH);
      return -1;
    }
    path = CONFIG_DEFAULT_PATH;
  }
  if (config_path != NULL)
    *config_path = path;
  if (test_only != NULL)
    *test_only = t;
  if (help != NULL)
    *help = h;
  if (version != NULL)
    *version = v;
  if (h || v)
    return 0;
  if (path != NULL && config_load(c, path, err, errlen) < 0)
    return -1;
  if (config_parse_args(c, argc, argv, NULL, NULL, NULL, NULL, err,
                        errlen) < 0)
    return -1;
  return config_validate(c, err, errlen);
}

void config_usage(const char *argv0) {
  /* Kept under 80 columns; defaults are those of config_defaults. */
  printf(
      "usage: %s [-c FILE] [flags]\n"
      "\n"
      "Flags override the file. herald(8) and herald.ini(5) are the manual.\n"
      "  -c, --config FILE         INI file to read (default: "
      CONFIG_DEFAULT_PATH ",\n"
      "                            unless --listen or --backend is given)\n"
      "  -t, --test                check the configuration and exit\n"
      "  -h, --help                print this help and exit\n"
      "  -V, --version             print the version and exit\n"
      "      --listen ADDR:PORT    add a cleartext listener, repeatable\n"
      "                            (default: none)\n"
      "      --listen-tls ADDR:PORT\n"
      "                            add a TLS listener, repeatable\n"
      "                            (default: none)\n"
      "      --cert FILE           PEM chain for TLS listeners lacking one\n"
      "                            (default: none)\n"
      "      --key FILE            PEM key for TLS listeners lacking one\n"
      "                            (default: none)\n"
      "      --backend HOST:PORT   repeatable; together they replace the\n"
      "                            first backend's servers (creating\n"
      "                            backend 'default' if there is none)\n"
      "      --access-log PATH     \"\" = off, \"-\" = stdout (default: off)\n"
      "      --log-level LEVEL     error|warn|info|debug (default: info)\n"
      "      --db PATH             SQLite database; recording is on when\n"
      "                            set (default: none)\n"
      "      --admin [ADDR:]PORT   admin endpoint: /metrics, /healthz, /rules\n"
      "                            (a bare port is 127.0.0.1:PORT)\n"
      "                            (default: off)\n"
      "      --workers N|auto      event-loop threads (default: auto, one\n"
      "                            per CPU herald may run on)\n"
      "  -o, --set SECTION.KEY=VALUE\n"
      "                            set a [log], [limits], [timeouts],\n"
      "                            [store], [record], [learn], [deliver],\n"
      "                            [admin], [clients] or [server] key,\n"
      "                            e.g.\n"
      "                            -o limits.max_connections=5000\n",
      argv0);
}
