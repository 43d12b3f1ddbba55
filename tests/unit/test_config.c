/* test_config.c: the INI loader, the flags and config_validate. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "config/config.h"

#define ERRLEN 1024
#define MAX_TMP 256

/* Every temp file made, so the group teardown can remove them even when
 * an assertion jumped out of a test half way. */
static char tmp_paths[MAX_TMP][32];
static int ntmp;
static char cert_path[32], key_path[32];

static const char *write_tmp(const char *text) {
  char *p;
  int fd;
  size_t len = strlen(text);
  assert_true(ntmp < MAX_TMP);
  p = tmp_paths[ntmp++];
  strcpy(p, "/tmp/herald-test-XXXXXX");
  fd = mkstemp(p);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, len), (ssize_t)len);
  close(fd);
  return p;
}

/* write_tmpf formats into a temp file; big enough for the long-line test. */
static const char *write_tmpf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static const char *write_tmpf(const char *fmt, ...) {
  static char buf[16384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return write_tmp(buf);
}

static int group_setup(void **state) {
  (void)state;
  strcpy(cert_path, write_tmp("not really a cert\n"));
  strcpy(key_path, write_tmp("not really a key\n"));
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  for (int i = 0; i < ntmp; i++)
    unlink(tmp_paths[i]);
  return 0;
}

/* struct config is a few hundred KB: keep it off the stack. */
static int setup(void **state) {
  struct config *c = calloc(1, sizeof *c);
  if (c == NULL)
    return -1;
  config_defaults(c);
  *state = c;
  return 0;
}

static int teardown(void **state) {
  free(*state);
  return 0;
}

static int load_text(struct config *c, const char *text, char *err) {
  config_defaults(c);
  return config_load(c, write_tmp(text), err, ERRLEN);
}

static int argc_of(char **argv) {
  int n = 0;
  while (argv[n] != NULL)
    n++;
  return n;
}

#define ARGV(...) ((char *[]){"herald", __VA_ARGS__, NULL})

static int from_args(struct config *c, char **argv, char *err) {
  return config_from_args(c, argc_of(argv), argv, NULL, NULL, NULL, NULL,
                          err, ERRLEN);
}

/* assert_err_has checks |err| mentions |want|, printing it if not. */
#define assert_err_has(err, want)                                   \
  do {                                                              \
    if (strstr((err), (want)) == NULL)                              \
      fail_msg("error '%s' lacks '%s'", (err), (want));             \
  } while (0)

static const char minimal[] =
    "[listener:a]\nlisten = 127.0.0.1:8080\n"
    "[backend:b]\nserver = 127.0.0.1:9000\n";

static void test_defaults(void **state) {
  struct config *c = *state;
  assert_int_equal(c->nlisteners, 0);
  assert_int_equal(c->nbackends, 0);
  assert_int_equal(c->nroutes, 0);
  assert_string_equal(c->source, "");
  assert_int_equal(c->log_level, LOG_LEVEL_INFO);
  assert_string_equal(c->access_log, "");
  assert_int_equal(c->max_connections, 10000);
  assert_int_equal(c->max_connections_per_client, 256);
  assert_int_equal(c->max_concurrent_streams, 100);
  assert_int_equal(c->max_header_list_size, 65536);
  assert_int_equal(c->max_header_fields, 100);
  assert_true(c->max_request_body == 104857600LL);
  assert_int_equal(c->max_requests_per_conn, 10000);
  assert_int_equal(c->backend_keepalive, 1024);
  assert_int_equal(c->backend_max_connections, 1024);
  assert_int_equal(c->backend_queue, 4096);
  assert_int_equal(c->backend_queue_timeout, 5000);
  assert_int_equal(c->write_buffer, 262144);
  assert_int_equal(c->idle_timeout, 60000);
  assert_int_equal(c->header_timeout, 10000);
  assert_int_equal(c->tls_handshake_timeout, 10000);
  assert_int_equal(c->write_timeout, 30000);
  assert_int_equal(c->backend_connect_timeout, 5000);
  assert_int_equal(c->backend_read_timeout, 30000);
  assert_int_equal(c->backend_idle_timeout, 60000);
  assert_int_equal(c->shutdown_timeout, 10000);
  assert_int_equal(c->backend_retry_backoff, 1000);
  assert_string_equal(c->db, "");
  assert_string_equal(c->admin_host, "");
  assert_int_equal(c->admin_port, 0);
}

static void test_full_file(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  const char *path = write_tmpf(
      "; herald test\n"
      "[log]\n"
      "level = debug\n"
      "access_log = \"\"  ; off\n"
      "\n"
      "[route:static]\n" /* before its backend: resolved in validate */
      "host = WWW.Example.com\n"
      "prefix = /static/\n"
      "backend = assets\n"
      "\n"
      "[listener:public]\n"
      "listen = [::1]:8443\n"
      "tls = yes\n"
      "cert = %s\n"
      "key = %s\n"
      "[listener:plain]\n"
      "  listen = 127.0.0.1:8080\n" /* indented: a key, not a continuation */
      "  tls = off\n"
      "[backend:app]\n"
      "server = 127.0.0.1:8081\n"
      "server = app.internal:8082\n"
      "server = [::1]:8083\n"
      "[backend:assets]\n"
      "server = 10.0.0.7:80\n"
      "[route:any]\n"
      "backend = app\n"
      "[limits]\n"
      "max_connections = 500\n"
      "max_connections_per_client = 20\n"
      "max_concurrent_streams = 50\n"
      "max_header_list_size = 32768\n"
      "max_header_fields = 64\n"
      "max_request_body = 5000000000\n"
      "max_requests_per_conn = 1000\n"
      "backend_keepalive = 8\n"
      "backend_max_connections = 9\n"
      "backend_queue = 10\n"
      "write_buffer = 65536\n"
      "[timeouts]\n"
      "idle = 1001\n"
      "header = 1002\n"
      "tls_handshake = 1003\n"
      "write = 1004\n"
      "backend_connect = 1005\n"
      "backend_read = 1006\n"
      "backend_idle = 1007\n"
      "backend_queue = 1010\n"
      "shutdown = 1008\n"
      "backend_retry_backoff = 1009\n"
      "[store]\n"
      "db = /var/lib/herald/herald.db\n"
      "[admin]\n"
      "listen = 127.0.0.1:9901\n",
      cert_path, key_path);

  assert_int_equal(config_load(c, path, err, sizeof err), 0);
  assert_int_equal(config_validate(c, err, sizeof err), 0);
  assert_string_equal(c->source, path);
  assert_int_equal(c->log_level, LOG_LEVEL_DEBUG);
  assert_string_equal(c->access_log, "");

  assert_int_equal(c->nlisteners, 2);
  assert_string_equal(c->listeners[0].name, "public");
  assert_string_equal(c->listeners[0].host, "::1");
  assert_int_equal(c->listeners[0].port, 8443);
  assert_int_equal(c->listeners[0].tls, 1);
  assert_string_equal(c->listeners[0].cert, cert_path);
  assert_string_equal(c->listeners[0].key, key_path);
  assert_string_equal(c->listeners[1].name, "plain");
  assert_string_equal(c->listeners[1].host, "127.0.0.1");
  assert_int_equal(c->listeners[1].port, 8080);
  assert_int_equal(c->listeners[1].tls, 0);

  assert_int_equal(c->nbackends, 2);
  assert_string_equal(c->backends[0].name, "app");
  assert_int_equal(c->backends[0].nservers, 3);
  assert_string_equal(c->backends[0].servers[1].host, "app.internal");
  assert_int_equal(c->backends[0].servers[1].port, 8082);
  assert_string_equal(c->backends[0].servers[2].host, "::1");
  assert_string_equal(c->backends[1].name, "assets");

  assert_int_equal(c->nroutes, 2);
  assert_string_equal(c->routes[0].name, "static");
  assert_string_equal(c->routes[0].host, "www.example.com");
  assert_string_equal(c->routes[0].prefix, "/static/");
  assert_int_equal(c->routes[0].backend, 1);
  assert_string_equal(c->routes[1].host, "");
  assert_string_equal(c->routes[1].prefix, "/");
  assert_int_equal(c->routes[1].backend, 0);

  assert_int_equal(c->max_connections, 500);
  assert_int_equal(c->max_connections_per_client, 20);
  assert_int_equal(c->max_concurrent_streams, 50);
  assert_int_equal(c->max_header_list_size, 32768);
  assert_int_equal(c->max_header_fields, 64);
  assert_true(c->max_request_body == 5000000000LL);
  assert_int_equal(c->max_requests_per_conn, 1000);
  assert_int_equal(c->backend_keepalive, 8);
  assert_int_equal(c->backend_max_connections, 9);
  assert_int_equal(c->backend_queue, 10);
  assert_int_equal(c->backend_queue_timeout, 1010);
  assert_int_equal(c->write_buffer, 65536);
  assert_int_equal(c->idle_timeout, 1001);
  assert_int_equal(c->header_timeout, 1002);
  assert_int_equal(c->tls_handshake_timeout, 1003);
  assert_int_equal(c->write_timeout, 1004);
  assert_int_equal(c->backend_connect_timeout, 1005);
  assert_int_equal(c->backend_read_timeout, 1006);
  assert_int_equal(c->backend_idle_timeout, 1007);
  assert_int_equal(c->shutdown_timeout, 1008);
  assert_int_equal(c->backend_retry_backoff, 1009);
  assert_string_equal(c->db, "/var/lib/herald/herald.db");
  assert_string_equal(c->admin_host, "127.0.0.1");
  assert_int_equal(c->admin_port, 9901);
}

static void test_example_file(void **state) {
  /* The shipped example must stay loadable (cert paths aside). */
  struct config *c = *state;
  char err[ERRLEN] = "";
  const char *path = "config/herald.ini.example";
  if (access(path, R_OK) < 0)
    path = "../../config/herald.ini.example";
  if (access(path, R_OK) < 0)
    skip();
  assert_int_equal(config_load(c, path, err, sizeof err), 0);
  assert_true(c->nlisteners >= 2);
  assert_true(c->nbackends >= 2);
  assert_true(c->nroutes >= 1);
}

static void test_unknown_key(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  assert_int_equal(load_text(c, "[limits]\nmax_connections = 5\n\n"
                                "max_conections = 6\n", err), -1);
  assert_err_has(err, ":4: key 'limits.max_conections': unknown key");
  assert_int_equal(load_text(c, "[listener:a]\nlisten = 127.0.0.1:1\n"
                                "certificate = x\n", err), -1);
  assert_err_has(err, ":3: key 'listener:a.certificate': unknown key");
}

static void test_unknown_section(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  assert_int_equal(load_text(c, "[log]\nlevel = info\n[limit]\n"
                                "max_connections = 5\n", err), -1);
  /* Reported at the header, where the typo is. */
  assert_err_has(err, ":3: section [limit]: unknown section");
  assert_int_equal(load_text(c, "level = info\n", err), -1);
  assert_err_has(err, ":1: key 'level': outside any [section]");
  assert_int_equal(load_text(c, "[listener:]\nlisten = 1.2.3.4:5\n", err),
                   -1);
  assert_err_has(err, ":1: section [listener:]: missing NAME");
}

static void test_bad_integer(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  static const char *bad[] = {"abc", "10k", "-5", "+5", "0x10", "1e3",
                              "1 000", "\"\""};
  char text[128];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(text, sizeof text, "[log]\nlevel = warn\n[limits]\n"
             "max_connections = %s\n", bad[i]);
    assert_int_equal(load_text(c, text, err), -1);
    assert_err_has(err, ":4: key 'limits.max_connections': '");
    assert_err_has(err, "is not an integer");
  }
  assert_int_equal(load_text(c, "[limits]\nmax_connections = abc\n", err),
                   -1);
  assert_err_has(err, ":2: key 'limits.max_connections': 'abc' is not an "
                      "integer");
}

static void test_integer_range(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  assert_int_equal(load_text(c, "[timeouts]\nidle = 0\n", err), -1);
  assert_err_has(err, ":2: key 'timeouts.idle': '0' is out of range");
  assert_int_equal(load_text(c, "[limits]\nmax_connections = "
                                "99999999999999999999999\n", err), -1);
  assert_err_has(err, "out of range");
  assert_int_equal(load_text(c, "[limits]\nwrite_buffer = 100\n", err), -1);
  assert_err_has(err, "key 'limits.write_buffer'");
  assert_int_equal(load_text(c, "[limits]\nmax_request_body = "
                                "1099511627776\n", err), 0);
  assert_true(c->max_request_body == 1099511627776LL);
}

/* Byte counts take k, m and g, as nginx reads them. */
static void test_sizes(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  assert_int_equal(load_text(c, "[learn]\nhint_budget = 512k\n"
                                "push_budget = 100K\nbudget = 1m\n"
                                "[limits]\nmax_request_body = 1g\n"
                                "write_buffer = 64k\n", err), 0);
  assert_int_equal(c->learn_hint_budget, 524288);
  assert_int_equal(c->learn_push_budget, 102400);
  assert_int_equal(c->learn_budget, 1048576);
  assert_true(c->max_request_body == 1073741824LL);
  assert_int_equal(c->write_buffer, 65536);
  assert_int_equal(load_text(c, "[learn]\nhint_budget = 2000\n", err), 0);
  assert_int_equal(c->learn_hint_budget, 2000);
  static const char *bad[] = {"1.5m", "k", "10x", "-1k", "1 k", "10kb"};
  char text[128];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(text, sizeof text, "[learn]\npush_budget = %s\n", bad[i]);
    assert_int_equal(load_text(c, text, err), -1);
    assert_err_has(err, ":2: key 'learn.push_budget': '");
    assert_err_has(err, "is not a size (bytes, or with k, m or g)");
  }
  assert_int_equal(load_text(c, "[learn]\npush_budget = 2g\n", err), -1);
  assert_err_has(err, "'2g' is out of range (0..1000000000)");
  assert_int_equal(load_text(c, "[limits]\nwrite_buffer = 1k\n", err), -1);
  assert_err_has(err, "'1k' is out of range (4096..");
}

static void test_bad_values(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  assert_int_equal(load_text(c, "[log]\nlevel = loud\n", err), -1);
  assert_err_has(err, ":2: key 'log.level': 'loud' is not a level");
  assert_int_equal(load_text(c, "[log]\nlevel = WARN\n", err), 0);
  assert_int_equal(c->log_level, LOG_LEVEL_WARN);
  assert_int_equal(load_text(c, "[listener:a]\nlisten = 1.2.3.4:5\n"
                                "tls = maybe\n", err), -1);
  assert_err_has(err, ":3: key 'listener:a.tls': 'maybe' is not a boolean");
  assert_int_equal(load_text(c, "[route:r]\nprefix = static/\n", err), -1);
  assert_err_has(err, ":2: key 'route:r.prefix'");
  assert_int_equal(load_text(c, "[route:r]\nhost = example.com:8080\n",
                             err), -1);
  assert_err_has(err, ":2: key 'route:r.host'");
}

static void test_booleans(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  static const char *on[] = {"on", "yes", "true", "1", "ON", "Yes", "TRUE"};
  static const char *off[] = {"off", "no", "false", "0", "OFF", "No"};
  char text[128];
  for (size_t i = 0; i < sizeof on / sizeof on[0]; i++) {
    snprintf(text, sizeof text, "[listener:a]\ntls = %s\n", on[i]);
    assert_int_equal(load_text(c, text, err), 0);
    assert_int_equal(c->listeners[0].tls, 1);
  }
  for (size_t i = 0; i < sizeof off / sizeof off[0]; i++) {
    snprintf(text, sizeof text, "[listener:a]\ntls = %s\n", off[i]);
    assert_int_equal(load_text(c, text, err), 0);
    assert_int_equal(c->listeners[0].tls, 0);
  }
}

static void test_bad_address(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  static const char *bad[] = {
      "127.0.0.1",       /* no port */
      "127.0.0.1:0",     /* port 0 */
      "127.0.0.1:65536", /* port too big */
      "127.0.0.1: 80",   /* spaced port */
      "127.0.0.1:+80",   /* signed port */
      "1.2.3:80",        /* not an IPv4 address */
      "app.internal:80", /* listeners bind: numeric or localhost */
      "0",               /* a bare port 0 */
      "123456",          /* not a port */
      "::1:80",          /* IPv6 needs brackets */
      "[::1]",           /* no port */
      "[nope]:80",       /* not IPv6 */
      ":80",
  };
  char text[128];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(text, sizeof text, "[listener:a]\nlisten = %s\n", bad[i]);
    if (load_text(c, text, err) != -1)
      fail_msg("listen = %s was accepted", bad[i]);
    assert_err_has(err, ":2: key 'listener:a.listen': '");
  }
  /* Backends may name a host, but not a URL. */
  assert_int_equal(load_text(c, "[backend:b]\nserver = app.internal:80\n",
                             err), 0);
  assert_int_equal(load_text(c, "[backend:b]\nserver = "
                                "http://app.internal:80\n", err), -1);
  assert_err_has(err, ":2: key 'backend:b.server'");
  assert_int_equal(load_text(c, "[admin]\nlisten = nope\n", err), -1);
  assert_err_has(err, ":2: key 'admin.listen'");
}

/* A listener written as a bare port or as localhost binds loopback, in the
 * file and on the command line, as admin.listen always has. */
static void test_listen_forms(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  assert_int_equal(load_text(c, "[listener:a]\nlisten = 8080\n"
                                "[listener:b]\nlisten = localhost:8081\n"
                                "[listener:c]\nlisten = LocalHost:8082\n"
                                "[admin]\nlisten = localhost:9090\n", err),
                   0);
  assert_int_equal(c->nlisteners, 3);
  for (int i = 0; i < 3; i++) {
    assert_string_equal(c->listeners[i].host, "127.0.0.1");
    assert_int_equal(c->listeners[i].port, 8080 + i);
  }
  assert_string_equal(c->admin_host, "127.0.0.1");
  assert_int_equal(c->admin_port, 9090);

  assert_int_equal(from_args(c, ARGV("--listen", "8080", "--listen",
                                     "localhost:8081", "--listen-tls", "8443",
                                     "--cert", cert_path, "--key", key_path,
                                     "--backend", "127.0.0.1:9000"),
                             err), 0);
  assert_int_equal(c->nlisteners, 3);
  assert_string_equal(c->listeners[0].host, "127.0.0.1");
  assert_int_equal(c->listeners[0].port, 8080);
  assert_string_equal(c->listeners[1].host, "127.0.0.1");
  assert_int_equal(c->listeners[1].port, 8081);
  assert_string_equal(c->listeners[2].host, "127.0.0.1");
  assert_int_equal(c->listeners[2].port, 8443);
  assert_int_equal(c->listeners[2].tls, 1);

  /* The same address twice is an overlap, however it is written. */
  assert_int_equal(from_args(c, ARGV("--listen", "8080", "--listen",
                                     "localhost:8080", "--backend",
                                     "127.0.0.1:9000"), err), -1);
  assert_err_has(err, "port 8080 overlaps");
  /* Messages quote what was written. */
  assert_int_equal(from_args(c, ARGV("--listen", "70000", "--backend",
                                     "127.0.0.1:9000"), err), -1);
  assert_err_has(err, "--listen: '70000' is not ADDR:PORT or a bare PORT");
  /* A backend keeps localhost as a name for the resolver. */
  assert_int_equal(from_args(c, ARGV("--listen", "8080", "--backend",
                                     "localhost:9000"), err), 0);
  assert_string_equal(c->backends[0].servers[0].host, "localhost");
}

static void test_missing_file(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  assert_int_equal(config_load(c, "/nonexistent/herald.ini", err,
                               sizeof err), -1);
  assert_string_equal(err, "/nonexistent/herald.ini: cannot open: No such "
                           "file or directory");
  /* A directory opens but cannot be read. */
  assert_int_equal(config_load(c, "/tmp", err, sizeof err), -1);
  assert_err_has(err, "/tmp: cannot read: ");
}

static void test_syntax_error(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  assert_int_equal(load_text(c, "[log]\nlevel = info\nthis is not ini\n"
                                "level = debug\n", err), -1);
  assert_err_has(err, ":3: syntax error");
  assert_int_equal(load_text(c, "[log\nlevel = info\n", err), -1);
  assert_err_has(err, ":1: syntax error");
}

static void test_long_line(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  char value[CONFIG_LINE_MAX + 16];
  /* inih's default 200-byte line would have cut this path short. */
  memset(value, 'p', 900);
  value[0] = '/';
  value[900] = '\0';
  const char *path = write_tmpf("[log]\naccess_log = %s\n[limits]\n"
                                "max_connections = 7\n", value);
  assert_int_equal(config_load(c, path, err, sizeof err), 0);
  assert_int_equal((int)strlen(c->access_log), 900);
  assert_int_equal(c->max_connections, 7);

  /* Past CONFIG_LINE_MAX it is an error at that line, not a split line. */
  memset(value, 'p', CONFIG_LINE_MAX);
  value[CONFIG_LINE_MAX] = '\0';
  path = write_tmpf("[log]\nlevel = info\naccess_log = %s\n[limits]\n",
                    value);
  config_defaults(c);
  assert_int_equal(config_load(c, path, err, sizeof err), -1);
  assert_err_has(err, ":3: line is longer than");

  /* A value longer than any field fits the line but not the struct. */
  memset(value, 'p', 2000);
  value[2000] = '\0';
  path = write_tmpf("[log]\naccess_log = %s\n", value);
  config_defaults(c);
  assert_int_equal(config_load(c, path, err, sizeof err), -1);
  assert_err_has(err, ":2: key 'log.access_log': value is too long");
}

static void test_duplicates(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  assert_int_equal(load_text(c, "[listener:a]\nlisten = 1.2.3.4:1\n"
                                "[backend:b]\nserver = 1.2.3.4:2\n"
                                "[listener:a]\nlisten = 1.2.3.4:3\n", err),
                   -1);
  assert_err_has(err, ":5: section [listener:a]: duplicate name 'a'");
  assert_int_equal(load_text(c, "[backend:b]\nserver = 1.2.3.4:2\n"
                                "[backend:b]\nserver = 1.2.3.4:3\n", err),
                   -1);
  assert_err_has(err, ":3: section [backend:b]: duplicate name 'b'");
  /* A header repeated back to back is still a second section. */
  assert_int_equal(load_text(c, "[route:r]\nbackend = b\n[route:r]\n"
                                "prefix = /x\n", err), -1);
  assert_err_has(err, ":3: section [route:r]: duplicate name 'r'");
  assert_int_equal(load_text(c, "[listener:a]\nlisten = 1.2.3.4:1\n"
                                "listen = 1.2.3.4:2\n", err), -1);
  assert_err_has(err, ":3: key 'listener:a.listen': set twice");
  assert_int_equal(load_text(c, "[limits]\nmax_connections = 1\n[log]\n"
                                "[limits]\nmax_connections = 2\n", err), -1);
  assert_err_has(err, ":5: key 'limits.max_connections': set twice");
  /* Repeating a global section is fine when keys do not repeat. */
  assert_int_equal(load_text(c, "[limits]\nmax_connections = 1\n[log]\n"
                                "level = warn\n[limits]\n"
                                "max_header_fields = 2\n", err), 0);
}

static void test_capacity(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  static char text[16384];
  size_t n = 0;
  for (int i = 0; i <= CONFIG_MAX_LISTENERS; i++)
    n += (size_t)snprintf(text + n, sizeof text - n,
                          "[listener:l%d]\nlisten = 127.0.0.1:%d\n", i,
                          1000 + i);
  assert_int_equal(load_text(c, text, err), -1);
  assert_err_has(err, "too many listeners (max 16)");

  n = (size_t)snprintf(text, sizeof text, "[backend:b]\n");
  for (int i = 0; i <= CONFIG_MAX_SERVERS; i++)
    n += (size_t)snprintf(text + n, sizeof text - n,
                          "server = 127.0.0.1:%d\n", 1000 + i);
  assert_int_equal(load_text(c, text, err), -1);
  assert_err_has(err, ":18: key 'backend:b.server': too many servers");

  n = 0;
  for (int i = 0; i <= CONFIG_MAX_BACKENDS; i++)
    n += (size_t)snprintf(text + n, sizeof text - n,
                          "[backend:b%d]\nserver = 127.0.0.1:80\n", i);
  assert_int_equal(load_text(c, text, err), -1);
  assert_err_has(err, "too many backends");

  n = 0;
  for (int i = 0; i <= CONFIG_MAX_ROUTES; i++)
    n += (size_t)snprintf(text + n, sizeof text - n,
                          "[route:r%d]\nbackend = b\n", i);
  assert_int_equal(load_text(c, text, err), -1);
  assert_err_has(err, "too many routes (max 64)");
}

static void test_long_section(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  /* inih would silently cut this to 49 bytes. */
  assert_int_equal(load_text(c, "[listener:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                "aaaaaaaaaaaaaaaaaaa]\nlisten = 1.2.3.4:5\n",
                             err), -1);
  assert_err_has(err, ":1: section [listener:aaa");
  assert_err_has(err, "too long");
  /* Blanks around names are not part of them. */
  assert_int_equal(load_text(c, "[ listener: web ]\nlisten = 1.2.3.4:5\n",
                             err), 0);
  assert_string_equal(c->listeners[0].name, "web");
}

static void test_tls_without_cert(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  assert_int_equal(load_text(c, "[listener:secure]\nlisten = 127.0.0.1:443\n"
                                "tls = on\n[backend:b]\n"
                                "server = 127.0.0.1:80\n", err), 0);
  assert_int_equal(config_validate(c, err, sizeof err), -1);
  assert_err_has(err, "listener 'secure': tls is on but no cert");

  const char *path = write_tmpf("[listener:secure]\nlisten = 127.0.0.1:443\n"
                                "tls = on\ncert = %s\n[backend:b]\n"
                                "server = 127.0.0.1:80\n", cert_path);
  config_defaults(c);
  assert_int_equal(config_load(c, path, err, sizeof err), 0);
  assert_int_equal(config_validate(c, err, sizeof err), -1);
  assert_err_has(err, "listener 'secure': tls is on but no key");

  path = write_tmpf("[listener:secure]\nlisten = 127.0.0.1:443\n"
                    "tls = on\ncert = /nonexistent/cert.pem\nkey = %s\n"
                    "[backend:b]\nserver = 127.0.0.1:80\n", key_path);
  config_defaults(c);
  assert_int_equal(config_load(c, path, err, sizeof err), 0);
  assert_int_equal(config_validate(c, err, sizeof err), -1);
  assert_err_has(err, "listener 'secure': cert '/nonexistent/cert.pem': "
                      "No such file");
}

static void test_route_unknown_backend(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  char text[512];
  snprintf(text, sizeof text, "%s[route:api]\nprefix = /api/\n"
           "backend = missing\n", minimal);
  assert_int_equal(load_text(c, text, err), 0);
  assert_int_equal(config_validate(c, err, sizeof err), -1);
  assert_string_equal(err, "route 'api': unknown backend 'missing'");

  snprintf(text, sizeof text, "%s[route:api]\nprefix = /api/\n", minimal);
  assert_int_equal(load_text(c, text, err), 0);
  assert_int_equal(config_validate(c, err, sizeof err), -1);
  assert_err_has(err, "route 'api': missing backend");

  snprintf(text, sizeof text, "%s[route:x]\nbackend = b\n"
           "[route:y]\nbackend = b\nprefix = /\n", minimal);
  assert_int_equal(load_text(c, text, err), 0);
  assert_int_equal(config_validate(c, err, sizeof err), -1);
  assert_err_has(err, "route 'y': same host and prefix as route 'x'");
}

static void test_validate_rules(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  assert_int_equal(config_validate(c, err, sizeof err), -1);
  assert_err_has(err, "no listeners");

  assert_int_equal(load_text(c, "[listener:a]\nlisten = 127.0.0.1:80\n",
                             err), 0);
  assert_int_equal(config_validate(c, err, sizeof err), -1);
  assert_err_has(err, "no backends");

  assert_int_equal(load_text(c, "[listener:a]\ntls = off\n"
                                "[backend:b]\nserver = 127.0.0.1:80\n",
                             err), 0);
  assert_int_equal(config_validate(c, err, sizeof err), -1);
  assert_err_has(err, "listener 'a': missing listen");

  assert_int_equal(load_text(c, minimal, err), 0);
  assert_int_equal(config_validate(c, err, sizeof err), 0);
}

static void test_duplicate_listen(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  static const char *clash[][2] = {
      {"127.0.0.1:80", "127.0.0.1:80"},
      {"0.0.0.0:80", "127.0.0.1:80"},
      {"[::1]:80", "[0:0::1]:80"},
      {"[::]:80", "[::1]:80"},
  };
  char text[256];
  for (size_t i = 0; i < sizeof clash / sizeof clash[0]; i++) {
    snprintf(text, sizeof text, "[listener:one]\nlisten = %s\n"
             "[listener:two]\nlisten = %s\n[backend:b]\n"
             "server = 127.0.0.1:9\n", clash[i][0], clash[i][1]);
    assert_int_equal(load_text(c, text, err), 0);
    if (config_validate(c, err, sizeof err) != -1)
      fail_msg("%s and %s both accepted", clash[i][0], clash[i][1]);
    assert_err_has(err, "listener 'two': address");
    assert_err_has(err, "overlaps listener 'one'");
  }
  assert_int_equal(load_text(c, "[listener:one]\nlisten = 127.0.0.1:80\n"
                                "[listener:two]\nlisten = 127.0.0.2:80\n"
                                "[listener:three]\nlisten = [::]:80\n"
                                "[backend:b]\nserver = 127.0.0.1:9\n", err),
                   0);
  assert_int_equal(config_validate(c, err, sizeof err), 0);

  assert_int_equal(load_text(c, "[listener:one]\nlisten = 127.0.0.1:80\n"
                                "[admin]\nlisten = 127.0.0.1:80\n"
                                "[backend:b]\nserver = 127.0.0.1:9\n", err),
                   0);
  assert_int_equal(config_validate(c, err, sizeof err), -1);
  assert_err_has(err, "overlaps admin.listen");
}

static void test_flags_override_file(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  const char *path = write_tmp("[log]\nlevel = warn\naccess_log = /x.log\n"
                               "[listener:a]\nlisten = 127.0.0.1:8080\n"
                               "[listener:s]\nlisten = 127.0.0.1:8443\n"
                               "tls = on\n"
                               "[backend:b]\nserver = 127.0.0.1:9000\n"
                               "[limits]\nmax_connections = 100\n");
  const char *cfg_path = NULL;
  int test_only = 0, help = 0, version = 0;
  char **argv = ARGV("--log-level", "debug", "--access-log=-", "-c",
                     (char *)path, "--listen", "127.0.0.1:8081",
                     "--cert", cert_path, "--listen-tls", "[::1]:8443",
                     "--key", key_path, "-t", "--db", "/tmp/h.db",
                     "--admin", "127.0.0.1:9901");
  assert_int_equal(config_from_args(c, argc_of(argv), argv, &cfg_path,
                                    &test_only, &help, &version, err,
                                    sizeof err), 0);
  assert_string_equal(cfg_path, path);
  assert_int_equal(test_only, 1);
  assert_int_equal(help, 0);
  assert_int_equal(version, 0);
  assert_int_equal(c->log_level, LOG_LEVEL_DEBUG);
  assert_string_equal(c->access_log, "-");
  assert_int_equal(c->max_connections, 100); /* from the file */
  assert_string_equal(c->db, "/tmp/h.db");
  assert_int_equal(c->admin_port, 9901);

  assert_int_equal(c->nlisteners, 4);
  assert_int_equal(c->listeners[2].port, 8081);
  assert_int_equal(c->listeners[2].tls, 0);
  assert_string_equal(c->listeners[3].host, "::1");
  assert_int_equal(c->listeners[3].tls, 1);
  /* --cert/--key reach the flag listener and the file's TLS listener,
   * whichever side of --listen-tls they were given on. */
  assert_string_equal(c->listeners[3].cert, cert_path);
  assert_string_equal(c->listeners[3].key, key_path);
  assert_string_equal(c->listeners[1].cert, cert_path);
  assert_string_equal(c->listeners[1].key, key_path);
  assert_string_equal(c->listeners[0].cert, "");
}

static void test_cert_flag_keeps_file_cert(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  const char *path = write_tmpf("[listener:s]\nlisten = 127.0.0.1:8443\n"
                                "tls = on\ncert = %s\n"
                                "[backend:b]\nserver = 127.0.0.1:9000\n",
                                cert_path);
  assert_int_equal(from_args(c, ARGV("--cert", "/other/cert.pem", "--key",
                                     key_path, "-c", (char *)path), err), 0);
  assert_string_equal(c->listeners[0].cert, cert_path);
  assert_string_equal(c->listeners[0].key, key_path);
}

static void test_backend_flag_replaces(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  const char *path = write_tmp("[listener:a]\nlisten = 127.0.0.1:8080\n"
                               "[backend:app]\nserver = 10.0.0.1:80\n"
                               "server = 10.0.0.2:80\n"
                               "[backend:other]\nserver = 10.0.0.3:80\n");
  assert_int_equal(from_args(c, ARGV("--backend", "127.0.0.1:9001", "-c",
                                     (char *)path, "--backend",
                                     "app2.internal:9002"), err), 0);
  assert_int_equal(c->nbackends, 2);
  assert_string_equal(c->backends[0].name, "app");
  assert_int_equal(c->backends[0].nservers, 2);
  assert_string_equal(c->backends[0].servers[0].host, "127.0.0.1");
  assert_int_equal(c->backends[0].servers[0].port, 9001);
  assert_string_equal(c->backends[0].servers[1].host, "app2.internal");
  assert_int_equal(c->backends[1].nservers, 1);
  assert_string_equal(c->backends[1].servers[0].host, "10.0.0.3");

  /* With no file, flags alone make a working config. */
  assert_int_equal(from_args(c, ARGV("--listen", "127.0.0.1:8080",
                                     "--backend", "127.0.0.1:9000"), err),
                   0);
  assert_string_equal(c->source, "");
  assert_int_equal(c->nbackends, 1);
  assert_string_equal(c->backends[0].name, "default");
  assert_int_equal(c->backends[0].nservers, 1);
  assert_int_equal(c->nlisteners, 1);

  assert_int_equal(from_args(c, ARGV("--listen", "127.0.0.1:8080",
                                     "--backend", "nope"), err), -1);
  assert_err_has(err, "--backend: 'nope' is not HOST:PORT");
}

static void test_set_flag(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  assert_int_equal(from_args(c, ARGV("--listen", "127.0.0.1:8080",
                                     "--backend", "127.0.0.1:9000", "-o",
                                     "limits.max_connections=5", "--set",
                                     "timeouts.idle=250", "-o",
                                     "log.level=error", "-o",
                                     "log.access_log="), err), 0);
  assert_int_equal(c->max_connections, 5);
  assert_int_equal(c->idle_timeout, 250);
  assert_int_equal(c->log_level, LOG_LEVEL_ERROR);
  assert_string_equal(c->access_log, "");

  /* The same validation as the file, naming the key. */
  assert_int_equal(from_args(c, ARGV("-o", "limits.max_connections=abc"),
                             err), -1);
  assert_err_has(err, "key 'limits.max_connections': 'abc' is not an "
                      "integer");
  assert_int_equal(from_args(c, ARGV("--log-level", "loud"), err), -1);
  assert_err_has(err, "--log-level: key 'log.level': 'loud' is not a level");
}

static void test_set_flag_unknown_key(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  assert_int_equal(from_args(c, ARGV("-o", "limits.max_conns=5"), err), -1);
  assert_err_has(err, "key 'limits.max_conns': unknown key");
  assert_int_equal(from_args(c, ARGV("-o", "nosuch.key=5"), err), -1);
  assert_err_has(err, "key 'nosuch.key'");
  assert_int_equal(from_args(c, ARGV("-o", "listener:a.listen=1.2.3.4:5"),
                             err), -1);
  assert_err_has(err, "only [log], [limits]");
  assert_int_equal(from_args(c, ARGV("-o", "max_connections=5"), err), -1);
  assert_err_has(err, "expected SECTION.KEY=VALUE");
  assert_int_equal(from_args(c, ARGV("--set", "limits.max_connections"),
                             err), -1);
  assert_err_has(err, "expected SECTION.KEY=VALUE");
}

static void test_bad_flags(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  assert_int_equal(from_args(c, ARGV("--bogus"), err), -1);
  assert_string_equal(err, "unknown or ambiguous option '--bogus'");
  assert_int_equal(from_args(c, ARGV("--lis", "127.0.0.1:1"), err), -1);
  assert_string_equal(err, "unknown or ambiguous option '--lis'");
  assert_int_equal(from_args(c, ARGV("-x"), err), -1);
  assert_string_equal(err, "unknown option '-x'");
  assert_int_equal(from_args(c, ARGV("-c"), err), -1);
  assert_string_equal(err, "option '-c' needs an argument");
  assert_int_equal(from_args(c, ARGV("--listen"), err), -1);
  assert_string_equal(err, "option '--listen' needs an argument");
  assert_int_equal(from_args(c, ARGV("--test=1"), err), -1);
  assert_string_equal(err, "option '--test=1' takes no argument");
  assert_int_equal(from_args(c, ARGV("-t", "stray"), err), -1);
  assert_string_equal(err, "unexpected argument 'stray'");
  assert_int_equal(from_args(c, ARGV("--listen", "app.internal:80"), err),
                   -1);
  assert_err_has(err, "--listen: 'app.internal:80' is not a numeric");
  assert_int_equal(from_args(c, ARGV("-c", "/nonexistent.ini"), err), -1);
  assert_err_has(err, "/nonexistent.ini: cannot open");
  /* The loaded file's errors come through unchanged. */
  const char *path = write_tmp("[limits]\nmax_connections = abc\n");
  assert_int_equal(from_args(c, ARGV("--config", (char *)path), err), -1);
  assert_err_has(err, ":2: key 'limits.max_connections'");
}

static void test_first_pass(void **state) {
  char err[ERRLEN] = "";
  const char *path = NULL;
  int t = 0, h = 0, v = 0;
  char **argv = ARGV("--listen", "127.0.0.1:1", "-o", "x.y=z", "-tc",
                     "/etc/herald.ini", "-V");
  (void)state;
  /* With no struct, flag values are not looked at, only skipped. */
  assert_int_equal(config_parse_args(NULL, argc_of(argv), argv, &path, &t,
                                     &h, &v, err, sizeof err), 0);
  assert_string_equal(path, "/etc/herald.ini");
  assert_int_equal(t, 1);
  assert_int_equal(h, 0);
  assert_int_equal(v, 1);
  /* Running again starts from the first argument. */
  path = NULL;
  assert_int_equal(config_parse_args(NULL, argc_of(argv), argv, &path, NULL,
                                     NULL, NULL, err, sizeof err), 0);
  assert_string_equal(path, "/etc/herald.ini");
}

static void test_help_stops_early(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  int help = 0, version = 0;
  char **argv = ARGV("--listen", "nonsense", "-c", "/nonexistent", "-h");
  assert_int_equal(config_from_args(c, argc_of(argv), argv, NULL, NULL,
                                    &help, &version, err, sizeof err), 0);
  assert_int_equal(help, 1);
  assert_int_equal(version, 0);
  assert_int_equal(c->nlisteners, 0);
  argv = ARGV("--version");
  assert_int_equal(config_from_args(c, argc_of(argv), argv, NULL, NULL,
                                    &help, &version, err, sizeof err), 0);
  assert_int_equal(help, 0);
  assert_int_equal(version, 1);
}

static void test_quotes_and_comments(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  assert_int_equal(load_text(c, "# hash comment\n; semicolon comment\n"
                                "[log]\naccess_log = \"/a b.log\" ; why\n"
                                "[timeouts]\nidle = 5 ; ms\n"
                                "header=6\n[route:r]\nhost = \"\"\n", err),
                   0);
  assert_string_equal(c->access_log, "/a b.log");
  assert_int_equal(c->idle_timeout, 5);
  assert_int_equal(c->header_timeout, 6);
  assert_string_equal(c->routes[0].host, "");
  /* A UTF-8 BOM before the first header is fine. */
  assert_int_equal(load_text(c, "\xEF\xBB\xBF[log]\nlevel = debug\n", err),
                   0);
  assert_int_equal(c->log_level, LOG_LEVEL_DEBUG);
}

/* Without -c the installed file is read, unless the flags are a one-liner;
 * with neither, the error says what to do. (A machine with herald
 * installed has the file: then only the one-liner half can be checked
 * here; test_service.sh runs both against a private /etc.) */
static void test_default_file(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  const char *path = "unset";
  assert_int_equal(config_from_args(c, 5, ARGV("--listen", "8080",
                                               "--backend", "127.0.0.1:1"),
                                    &path, NULL, NULL, NULL, err, ERRLEN),
                   0);
  assert_null(path);
  if (access(CONFIG_DEFAULT_PATH, F_OK) == 0)
    return;
  assert_int_equal(config_from_args(c, 3, ARGV("-o", "log.level=debug"),
                                    &path, NULL, NULL, NULL, err, ERRLEN),
                   -1);
  assert_err_has(err, "no configuration: " CONFIG_DEFAULT_PATH
                      " does not exist; give -c FILE, or --listen");
  /* -h and -V need no configuration at all. */
  int help = 0;
  assert_int_equal(config_from_args(c, 2, ARGV("-h"), &path, NULL, &help,
                                    NULL, err, ERRLEN), 0);
  assert_int_equal(help, 1);
}

/* [log] error_log and access_format: the format is checked when read, so
 * a typo names the file, line and key instead of a silent "-". */
static void test_log_keys(void **state) {
  struct config *c = *state;
  char err[ERRLEN] = "";
  assert_string_equal(c->access_format, ACCESS_FORMAT_DEFAULT);
  assert_string_equal(c->error_log, "");
  assert_int_equal(load_text(c, "[log]\nerror_log = /var/log/h/error.log\n"
                                "access_format = \"\"$request\" $status\"\"\n",
                             err), 0);
  assert_string_equal(c->error_log, "/var/log/h/error.log");
  assert_string_equal(c->access_format, "\"$request\" $status\"");
  assert_int_equal(load_text(c, "[log]\n\naccess_format = $status $nope\n",
                             err), -1);
  assert_err_has(err, ":3: key 'log.access_format': unknown variable "
                      "'$nope'");
  assert_int_equal(from_args(c, ARGV("--listen", "8080", "--backend",
                                     "127.0.0.1:1", "-o",
                                     "log.access_format=$msec $pushed"),
                             err), 0);
  assert_string_equal(c->access_format, "$msec $pushed");
}

static void test_usage(void **state) {
  (void)state;
  /* Only that it does not crash; stdout goes to the test log. */
  config_usage("herald");
}

/* A bare admin port means loopback; the delivery keys of issue 5 parse
 * and validate: holdout range, digest, a route's own mode. */
static void test_admin_port_and_delivery(void **state) {
  struct config *c = *state;
  char err[ERRLEN];
  assert_int_equal(load_text(c,
                             "[admin]\nlisten = 9902\n"
                             "[deliver]\nholdout = 0.25\ndigest = off\n"
                             "[backend:app]\nserver = 127.0.0.1:8081\n"
                             "[route:static]\nprefix = /static/\n"
                             "backend = app\ndeliver = push\n",
                             err),
                   0);
  assert_string_equal(c->admin_host, "127.0.0.1");
  assert_int_equal(c->admin_port, 9902);
  assert_true(c->deliver_holdout > 0.249 && c->deliver_holdout < 0.251);
  assert_int_equal(c->deliver_digest, 0);
  assert_int_equal(c->routes[0].deliver, CONFIG_DELIVER_PUSH);
  assert_int_equal(load_text(c, "[deliver]\nholdout = 1.5\n", err), -1);
  assert_err_has(err, "deliver.holdout");
  assert_int_equal(load_text(c,
                             "[backend:app]\nserver = 127.0.0.1:8081\n"
                             "[route:r]\nbackend = app\ndeliver = always\n",
                             err),
                   -1);
  assert_err_has(err, "route:r.deliver");
  config_defaults(c);
  assert_int_equal(c->deliver_holdout > 0.049 && c->deliver_holdout < 0.051, 1);
  assert_int_equal(c->deliver_digest, 1);
}

/* The keys of issue 10: who is left out of recording, sections, the
 * verification share, and budgets per channel (budget and max_resources
 * set both; a channel's own key wins, in whatever order). */
/* ignored asks config_ignored about a navigation by |ua| from the client
 * address |addr| (text, or NULL), as the recorder does. */
static int ignored(const struct config *c, const char *ua, const char *addr) {
  uint8_t client[16];
  if (addr != NULL)
    assert_int_equal(client_parse(addr, strlen(addr), 0, client), 0);
  return config_ignored(c, ua, ua != NULL ? strlen(ua) : 0,
                        addr != NULL ? client : NULL);
}

static void test_learner_keys(void **state) {
  struct config *c = *state;
  char err[ERRLEN];
  long long hb, pb;
  int hm, pm;
  config_budgets(c, &hb, &hm, &pb, &pm);
  assert_int_equal(hb, CONFIG_DEFAULT_HINT_BUDGET);
  assert_int_equal(hm, CONFIG_DEFAULT_HINT_MAX);
  assert_int_equal(pb, CONFIG_DEFAULT_PUSH_BUDGET);
  assert_int_equal(pm, CONFIG_DEFAULT_PUSH_MAX);
  assert_int_equal(c->record_sections, 1);
  assert_true(c->deliver_verify > 0.049 && c->deliver_verify < 0.051);
  /* The defaults leave out well-known crawlers and tools, never a
   * browser. */
  static const char *const bots[] = {
      "Mozilla/5.0 (compatible; Googlebot/2.1;"
      " +http://www.google.com/bot.html)",
      "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
      "curl/7.88.1", "nghttp2/1.52.0", "Wget/1.21.3",
      "python-requests/2.28.1", "Go-http-client/1.1",
      "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
      "facebookexternalhit/1.1", "Mozilla/5.0 (compatible; AhrefsBot/7.0)"};
  for (size_t i = 0; i < sizeof(bots) / sizeof(bots[0]); i++)
    assert_int_equal(ignored(c, bots[i], "10.0.0.1"), 1);
  static const char *const browsers[] = {
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
      " Chrome/156.0.0.0 Safari/537.36",
      "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101"
      " Firefox/128.0",
      "Mozilla/5.0 (Linux; Android 9; CUBOT P30) AppleWebKit/537.36 (KHTML,"
      " like Gecko) Chrome/120.0 Mobile Safari/537.36",
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
      " HeadlessChrome/156.0.0.0 Safari/537.36"};
  for (size_t i = 0; i < sizeof(browsers) / sizeof(browsers[0]); i++)
    assert_int_equal(ignored(c, browsers[i], "10.0.0.1"), 0);
  assert_int_equal(ignored(c, NULL, NULL), 0);
  assert_int_equal(load_text(c,
                             "[record]\nignore_agents = \"MyMonitor, probe\"\n"
                             "ignore_clients = 10.1.0.0/16, 192.0.2.7, "
                             "2001:db8::/32\nsections = 2\n"
                             "[deliver]\nverify = 0.1\n"
                             "[learn]\nhint_budget = 600000\nbudget = 50000\n"
                             "max_resources = 7\npush_max_resources = 3\n",
                             err),
                   0);
  assert_int_equal(ignored(c, "curl/8", "10.0.0.1"), 0);
  assert_int_equal(ignored(c, "x mymonitor/1", "10.0.0.1"), 1);
  assert_int_equal(ignored(c, "Browser", "10.1.200.3"), 1);
  assert_int_equal(ignored(c, "Browser", "10.2.0.1"), 0);
  assert_int_equal(ignored(c, "Browser", "192.0.2.7"), 1);
  assert_int_equal(ignored(c, "Browser", "192.0.2.8"), 0);
  assert_int_equal(ignored(c, "Browser", "2001:db8::1"), 1);
  assert_int_equal(ignored(c, "Browser", "2001:db9::1"), 0);
  assert_int_equal(c->record_sections, 2);
  assert_true(c->deliver_verify > 0.099 && c->deliver_verify < 0.101);
  config_budgets(c, &hb, &hm, &pb, &pm);
  assert_int_equal(hb, 600000);
  assert_int_equal(pb, 50000);
  assert_int_equal(hm, 7);
  assert_int_equal(pm, 3);
  /* An empty list ignores no one. */
  assert_int_equal(load_text(c, "[record]\nignore_agents = \"\"\n", err), 0);
  assert_int_equal(ignored(c, "curl/8", NULL), 0);
  assert_int_equal(load_text(c, "[record]\nignore_clients = 10.0.0.0/33\n",
                             err),
                   -1);
  assert_err_has(err, "record.ignore_clients");
  assert_int_equal(load_text(c, "[record]\nignore_clients = example.com\n",
                             err),
                   -1);
  assert_err_has(err, "record.ignore_clients");
  assert_int_equal(load_text(c, "[deliver]\nverify = 2\n", err), -1);
  assert_err_has(err, "deliver.verify");
  assert_int_equal(load_text(c, "[record]\nsections = 17\n", err), -1);
  assert_err_has(err, "record.sections");
}

/* [clients] and a listener's proxy_protocol: who a request is from. */
static void test_client_identity_keys(void **state) {
  struct config *c = *state;
  char err[ERRLEN];
  assert_int_equal(c->ntrusted_proxies, 0);
  assert_int_equal(c->client_ipv4_prefix, 24);
  assert_int_equal(c->client_ipv6_prefix, 48);
  assert_int_equal(load_text(c,
                             "[listener:lb]\nlisten = 127.0.0.1:8080\n"
                             "proxy_protocol = on\n"
                             "[listener:direct]\nlisten = 127.0.0.1:8081\n"
                             "[clients]\n"
                             "trusted_proxies = 10.0.0.0/8, 192.0.2.7 "
                             "2001:db8::/32\n"
                             "ipv4_prefix = 16\nipv6_prefix = 64\n"
                             "[backend:b]\nserver = 127.0.0.1:9000\n",
                             err),
                   0);
  assert_int_equal(c->listeners[0].proxy_protocol, 1);
  assert_int_equal(c->listeners[1].proxy_protocol, 0);
  assert_int_equal(c->ntrusted_proxies, 3);
  assert_int_equal(c->trusted_proxies[0].bits, 96 + 8);
  assert_int_equal(c->trusted_proxies[1].bits, 128);
  assert_int_equal(c->trusted_proxies[2].bits, 32);
  assert_int_equal(c->client_ipv4_prefix, 16);
  assert_int_equal(c->client_ipv6_prefix, 64);

  /* Errors name the file, line and key. */
  assert_int_equal(load_text(c, "[clients]\n\ntrusted_proxies = "
                                "10.0.0.1/8\n", err), -1);
  assert_err_has(err, ":3: key 'clients.trusted_proxies': '10.0.0.1/8' has "
                      "bits set past /8 (the network is 10.0.0.0/8)");
  assert_int_equal(load_text(c, "[clients]\ntrusted_proxies = lb.internal\n",
                             err), -1);
  assert_err_has(err, ":2: key 'clients.trusted_proxies': 'lb.internal' is "
                      "not a numeric IPv4 or IPv6 address");
  assert_int_equal(load_text(c, "[clients]\nipv4_prefix = 33\n", err), -1);
  assert_err_has(err, ":2: key 'clients.ipv4_prefix': '33' is out of range");
  assert_int_equal(load_text(c, "[listener:a]\nlisten = 127.0.0.1:1\n"
                                "proxy_protocol = v2\n", err), -1);
  assert_err_has(err, ":3: key 'listener:a.proxy_protocol': 'v2' is not a "
                      "boolean");

  /* -o sets them too; a bad list is refused whole. */
  assert_int_equal(from_args(c, ARGV("--listen", "127.0.0.1:8080",
                                     "--backend", "127.0.0.1:9000", "-o",
                                     "clients.trusted_proxies=127.0.0.1,::1"),
                             err),
                   0);
  assert_int_equal(c->ntrusted_proxies, 2);
  assert_int_equal(from_args(c, ARGV("-o", "clients.trusted_proxies=1.2.3.4/"),
                             err),
                   -1);
  assert_err_has(err, "key 'clients.trusted_proxies'");
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
      T(test_defaults),
      T(test_learner_keys),
      T(test_admin_port_and_delivery),
      T(test_client_identity_keys),
      T(test_full_file),
      T(test_example_file),
      T(test_unknown_key),
      T(test_unknown_section),
      T(test_bad_integer),
      T(test_integer_range),
      T(test_sizes),
      T(test_bad_values),
      T(test_booleans),
      T(test_bad_address),
      T(test_listen_forms),
      T(test_missing_file),
      T(test_syntax_error),
      T(test_long_line),
      T(test_duplicates),
      T(test_capacity),
      T(test_long_section),
      T(test_tls_without_cert),
      T(test_route_unknown_backend),
      T(test_validate_rules),
      T(test_duplicate_listen),
      T(test_flags_override_file),
      T(test_cert_flag_keeps_file_cert),
      T(test_backend_flag_replaces),
      T(test_set_flag),
      T(test_set_flag_unknown_key),
      T(test_bad_flags),
      T(test_first_pass),
      T(test_help_stops_early),
      T(test_quotes_and_comments),
      T(test_usage),
      T(test_log_keys),
      T(test_default_file),
#undef T
  };
  return cmocka_run_group_tests_name("config", tests, group_setup,
                                     group_teardown);
}
