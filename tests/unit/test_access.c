/* test_access.c: the access log format: parsing, every variable, escaping,
 * and the default staying the line herald always wrote. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "base/access_format.h"
#include "base/http.h"

/* 2024-01-02T03:04:05.678Z */
#define NOW_US (1704164645ull * 1000000 + 678000)

static struct http_fields fields;

static int setup(void **state) {
  (void)state;
  http_fields_init(&fields, 65536, 100);
  static const char *kv[][2] = {
      {"User-Agent", "Mozilla/5.0 \"quoted\"\\x"},
      {"referer", "https://example.com/a b"},
      {"x-request-id", "abc"},
      {"x-request-id", "second"},
  };
  for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
    assert_int_equal(http_fields_name(&fields, kv[i][0], strlen(kv[i][0])),
                     0);
    assert_int_equal(http_fields_name_end(&fields), 0);
    assert_int_equal(http_fields_value(&fields, kv[i][1], strlen(kv[i][1]),
                                       NULL), 0);
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  http_fields_cleanup(&fields);
  return 0;
}

static const uint8_t client_v4[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                      0, 0, 0xff, 0xff, 198, 51, 100, 7};

static struct access_entry entry(void) {
  return (struct access_entry){
      .client = client_v4,
      .proto = "h2",
      .method = "GET",
      .authority = "example.com",
      .path = "/p?q=1",
      .status = 200,
      .bytes = 1234,
      .ms = 2345,
      .backend = "127.0.0.1:8081",
      .fields = &fields,
      .hints = 3,
      .pushed = 0,
  };
}

static const char *line(const char *fmt, const struct access_entry *e) {
  static struct access_format f;
  static char out[4096];
  char why[256] = "";
  if (access_format_parse(fmt, &f, why, sizeof why) != 0)
    fail_msg("format '%s' refused: %s", fmt, why);
  access_format_line(&f, e, "10.0.0.1", NOW_US, out, sizeof out);
  return out;
}

/* The default is exactly the line herald wrote before formats existed:
 * TIME CLIENT PROTO METHOD AUTHORITY PATH STATUS BYTES MS BACKEND. */
static void test_default_is_the_old_line(void **state) {
  (void)state;
  struct access_entry e = entry();
  assert_string_equal(line(ACCESS_FORMAT_DEFAULT, &e),
                      "2024-01-02T03:04:05.678Z 198.51.100.7 h2 GET "
                      "example.com /p?q=1 200 1234 2345 127.0.0.1:8081");
  /* Empty and absent values are "-", the connection's address stands in
   * for an unknown client; a reset stream logs status 0. */
  e.client = NULL;
  e.method = "";
  e.authority = NULL;
  e.backend = NULL;
  e.status = 0;
  e.proto = "http/1.1";
  assert_string_equal(line(ACCESS_FORMAT_DEFAULT, &e),
                      "2024-01-02T03:04:05.678Z 10.0.0.1 http/1.1 - - "
                      "/p?q=1 0 1234 2345 -");
}

static void test_nginx_variables(void **state) {
  (void)state;
  struct access_entry e = entry();
  assert_string_equal(
      line("$remote_addr - - [$time_local] \"$request\" $status "
           "$body_bytes_sent \"$http_referer\" \"$http_user_agent\"", &e),
      "198.51.100.7 - - [02/Jan/2024:03:04:05 +0000] \"GET /p?q=1 "
      "HTTP/2.0\" 200 1234 \"https://example.com/a b\" \"Mozilla/5.0 "
      "\\x22quoted\\x22\\x5Cx\"");
  assert_string_equal(line("$time_iso8601 $msec $request_time $request_ms",
                           &e),
                      "2024-01-02T03:04:05+00:00 1704164645.678 2.345 2345");
  assert_string_equal(line("$host $request_method $request_uri "
                           "$server_protocol $proto $upstream_addr", &e),
                      "example.com GET /p?q=1 HTTP/2.0 h2 127.0.0.1:8081");
  e.proto = "http/1.0";
  assert_string_equal(line("$server_protocol", &e), "HTTP/1.0");
  e.proto = "http/1.1";
  assert_string_equal(line("$server_protocol", &e), "HTTP/1.1");
}

/* $http_NAME: any request field, '_' for '-', any case, the first of
 * several; an absent one is "-". */
static void test_header_variables(void **state) {
  (void)state;
  struct access_entry e = entry();
  assert_string_equal(line("$http_x_request_id|$http_X_Request_Id|"
                           "$http_accept|${http_referer}x", &e),
                      "abc|abc|-|https://example.com/a bx");
  e.fields = NULL;
  assert_string_equal(line("$http_user_agent", &e), "-");
}

static void test_herald_variables(void **state) {
  (void)state;
  struct access_entry e = entry();
  assert_string_equal(line("hints=$hints pushed=$pushed", &e),
                      "hints=3 pushed=0");
  e.hints = 0;
  e.pushed = 1;
  assert_string_equal(line("hints=$hints pushed=$pushed", &e),
                      "hints=0 pushed=1");
}

/* Request-controlled bytes cannot end a line or forge a field. */
static void test_escaping(void **state) {
  (void)state;
  struct access_entry e = entry();
  e.path = "/a\"b\\c\x01\n\x7f\xc3\xa9";
  e.method = "G\tT";
  assert_string_equal(line("$request_method $request_uri", &e),
                      "G\\x09T /a\\x22b\\x5Cc\\x01\\x0A\\x7F\\xC3\\xA9");
}

static void test_literals(void **state) {
  (void)state;
  struct access_entry e = entry();
  /* A '$' not followed by a name is literal; ${..} ends a name early. */
  assert_string_equal(line("$ 5$ $status${status}0 $$status", &e),
                      "$ 5$ 2002000 $200");
  assert_string_equal(line("", &e), "");
  assert_string_equal(line("no variables", &e), "no variables");
}

static void test_parse_errors(void **state) {
  (void)state;
  struct access_format f;
  char why[256];
  assert_int_equal(access_format_parse("$remote_addr $nope", &f, why,
                                       sizeof why), -1);
  assert_non_null(strstr(why, "unknown variable '$nope'"));
  assert_int_equal(access_format_parse("$http_", &f, why, sizeof why), -1);
  assert_non_null(strstr(why, "unknown variable '$http_'"));
  assert_int_equal(access_format_parse("${status", &f, why, sizeof why), -1);
  assert_non_null(strstr(why, "no closing '}'"));
  char many[1024] = "";
  for (int i = 0; i < 70; i++)
    strcat(many, "$status ");
  assert_int_equal(access_format_parse(many, &f, why, sizeof why), -1);
  assert_non_null(strstr(why, "more than 64"));
}

/* A line longer than the buffer is cut, never overrun. */
static void test_truncation(void **state) {
  (void)state;
  struct access_format f;
  char why[64], out[16];
  struct access_entry e = entry();
  assert_int_equal(access_format_parse("$http_user_agent $request", &f, why,
                                       sizeof why), 0);
  size_t n = access_format_line(&f, &e, "-", NOW_US, out, sizeof out);
  assert_int_equal(n, sizeof out - 1);
  assert_int_equal(strlen(out), sizeof out - 1);
  assert_string_equal(out, "Mozilla/5.0 \\x2");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_is_the_old_line),
      cmocka_unit_test(test_nginx_variables),
      cmocka_unit_test(test_header_variables),
      cmocka_unit_test(test_herald_variables),
      cmocka_unit_test(test_escaping),
      cmocka_unit_test(test_literals),
      cmocka_unit_test(test_parse_errors),
      cmocka_unit_test(test_truncation),
  };
  return cmocka_run_group_tests_name("access", tests, setup, teardown);
}
