/* test_audit.c: the operator changes the learner logs (learner/audit.h):
 * nothing at the first reading, then one line per row that appeared,
 * changed or went away, with old and new value and scope. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"
#include "learner/audit.h"

static char path[64];

/* logged returns what the log file holds since the last call. */
static char *logged(void) {
  static long seen;
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long end = ftell(f);
  char *buf = calloc(1, (size_t)(end - seen) + 1);
  fseek(f, seen, SEEK_SET);
  size_t n = fread(buf, 1, (size_t)(end - seen), f);
  buf[n] = '\0';
  seen = end;
  fclose(f);
  return buf;
}

static int setup(void **state) {
  (void)state;
  snprintf(path, sizeof path, "/tmp/test_audit.%d.log", (int)getpid());
  assert_int_equal(log_error_open(path), 0);
  log_level = LOG_LEVEL_INFO;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  unlink(path);
  return 0;
}

/* value: what is in force without the row ("before"/"after" NAME). */
static void value(void *ud, const char *scope, const char *name, int after,
                  char *out, size_t cap) {
  (void)ud, (void)scope;
  snprintf(out, cap, "%s-%s", after ? "after" : "before", name);
}

static void test_changes(void **state) {
  (void)state;
  struct audit *a = audit_new();
  audit_setting(a, "global", "hint_threshold", "0.9");
  audit_setting(a, "route:shop", "push_budget", "1000");
  audit_override(a, "https://a/", "https://a/x.js", "pin");
  audit_override(a, "https://a/**", "https://a/y.js", "block");
  assert_int_equal(audit_commit(a, value, NULL), 0);
  char *out = logged();
  assert_string_equal(out, ""); /* the baseline logs nothing */
  free(out);

  /* The same rows in another order: no change. */
  audit_override(a, "https://a/**", "https://a/y.js", "block");
  audit_setting(a, "route:shop", "push_budget", "1000");
  audit_override(a, "https://a/", "https://a/x.js", "pin");
  audit_setting(a, "global", "hint_threshold", "0.9");
  assert_int_equal(audit_commit(a, value, NULL), 0);
  out = logged();
  assert_string_equal(out, "");
  free(out);

  audit_setting(a, "global", "hint_threshold", "0.95");     /* changed */
  audit_setting(a, "global", "mode", "push");               /* new */
  audit_override(a, "https://a/", "https://a/x.js", "block"); /* pin->block */
  audit_setting(a, "heraldctl", "learn", "9 rules at T");   /* an event */
  /* gone: route:shop push_budget, the block of y.js */
  assert_int_equal(audit_commit(a, value, NULL), 6);
  out = logged();
  assert_non_null(strstr(out, "[info] operator change: hint_threshold 0.9 -> "
                              "0.95 (global)\n"));
  assert_non_null(
      strstr(out, "operator change: mode before-mode -> push (global)\n"));
  assert_non_null(strstr(out, "operator change: push_budget 1000 -> "
                              "after-push_budget (route:shop, unset)\n"));
  assert_non_null(strstr(out, "operator change: block https://a/x.js on "
                              "https://a/ (was pin)\n"));
  assert_non_null(strstr(out, "operator change: unblock https://a/y.js on "
                              "https://a/** (was block)\n"));
  assert_non_null(
      strstr(out, "operator change: heraldctl learn: 9 rules at T\n"));
  free(out);

  /* A reading that failed halfway is dropped: the next compares with the
   * last complete one. */
  audit_setting(a, "global", "hint_threshold", "0.95");
  audit_discard(a);
  audit_setting(a, "global", "hint_threshold", "0.95");
  audit_setting(a, "global", "mode", "push");
  audit_override(a, "https://a/", "https://a/x.js", "block");
  audit_setting(a, "heraldctl", "learn", "9 rules at T");
  assert_int_equal(audit_commit(a, value, NULL), 0);
  /* An event row that goes away says nothing; a new run says itself. */
  audit_setting(a, "global", "hint_threshold", "0.95");
  audit_setting(a, "global", "mode", "push");
  audit_override(a, "https://a/", "https://a/x.js", "block");
  assert_int_equal(audit_commit(a, value, NULL), 0);
  out = logged();
  assert_string_equal(out, "");
  free(out);
  audit_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
