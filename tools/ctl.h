/* ctl.h: what heraldctl's files share. heraldctl.c parses the command line,
 * opens the store and runs `learn`; ctl_show.c prints pages and rules. */
#ifndef TOOLS_CTL_H
#define TOOLS_CTL_H

struct store;

/* Exit statuses. */
enum {
  CTL_OK = 0,
  CTL_NOT_FOUND = 1, /* no such page, no database file */
  CTL_ERROR = 2,     /* bad usage, unreadable file, SQLite error */
};

struct ctl {
  struct store *s;
  int json;         /* --json */
  int mobile;       /* --class: -1 both, 0 desktop, 1 mobile */
  const char *page; /* rules PAGE, or NULL */
};

/* ctl_pages and ctl_rules print to stdout and return an exit status; an
 * error has been reported on stderr. */
int ctl_pages(const struct ctl *c);
int ctl_rules(const struct ctl *c);

/* ctl_page_matches says whether the stored |key| is what the operator
 * named: the same key, or (|want| starting with '/') a key whose path is
 * |want| on any scheme and authority. */
int ctl_page_matches(const char *key, const char *want);

#endif
