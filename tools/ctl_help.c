/* ctl_help.c: what `heraldctl --help` and `heraldctl COMMAND --help` (or
 * `heraldctl help COMMAND`) print. The global text lists the commands in
 * one line each; a command's own text has its usage, what it does, the
 * options it takes and an example. heraldctl(8) is the long form. */
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "tools/ctl.h"

struct help {
  const char *name, *usage, *what, *options, *example;
};

#define DB_OPTS                                                                \
  "  --db PATH           the database file\n"                                  \
  "  -c, --config FILE   herald's configuration: its [store] db, [learn]\n"    \
  "                      values, [deliver] mode and routes\n"
#define SETTING_OPTS                                                           \
  "  --route R           the setting of route R (of -c CONFIG), not the\n"     \
  "                      global one\n"                                         \
  "  --json              JSON instead of a table\n"
#define TABLE_OPTS                                                             \
  "  --wide              every column, nothing shortened\n"                    \
  "  -o COL,COL,...      exactly these columns, in this order\n"               \
  "  --json              JSON instead of a table\n"

static const struct help helps[] = {
    {"pages", "pages [--class desktop|mobile]",
     "Every page and template key with retained visits or rules, one row\n"
     "per class: template or not, visits, rules (push or hint), last seen.\n",
     "  --class CLASS       desktop or mobile only\n" TABLE_OPTS,
     "heraldctl -c /etc/herald/herald.ini pages"},
    {"rules", "rules [PAGE] [--class C] [--wide | -o COLS] [--live ADMIN]",
     "The rules of every page, or of PAGE (a key or a bare path), in the\n"
     "order herald sends them. On a terminal each page is a heading and the\n"
     "rows answer what goes out (resource, type, channel), in what order\n"
     "(ord) and how sure (wilson, n, clients); --wide adds the rest: rank,\n"
     "level, confidence, k, bytes, delay and the push and hint outcomes.\n"
     "Piped, every column is printed on every row (see heraldctl(8)).\n"
     "--live ADMIN asks a running herald's admin listener what it serves\n"
     "(GET /rules) and says where that differs from the database.\n",
     "  --class CLASS       desktop or mobile only\n"
     "  --live ADMIN        host:port (or port) of herald's [admin] "
     "listen\n" TABLE_OPTS,
     "heraldctl -c herald.ini rules /product/:id -o ord,resource,wilson"},
    {"explain", "explain PAGE RESOURCE [--class C]",
     "The numbers behind the learner's decision for one resource of one\n"
     "page, level by level (page, template, section, site), the checks it\n"
     "passed or failed and, for a near miss, what keeps it out.\n",
     "  --class CLASS       desktop or mobile only\n"
     "  --json              JSON instead of tables\n",
     "heraldctl -c herald.ini explain / /static/app.js"},
    {"simulate", "simulate [--threshold A..B] [--step S] [--min-visits N]",
     "Replays the retained visits in order, learning only from earlier\n"
     "ones, and prints per threshold precision, recall, bytes per visit and\n"
     "pages covered.\n",
     "  --threshold A..B    thresholds to try (default 0.5..0.95)\n"
     "  --step S            their step (default 0.05)\n"
     "  --min-visits N      min_visits (default: the one in force)\n"
     "  --json              JSON instead of tables\n",
     "heraldctl -c herald.ini simulate --threshold 0.8..0.99 --step 0.01"},
    {"stats", "stats [--since T] [--page PAGE]",
     "Did delivery help: visits, load times (median, mean and its 95% CI)\n"
     "and bytes per arm (push, hints, treated, holdout, none), treated -\n"
     "holdout with its CI and a verdict; push and hint outcome totals and\n"
     "the most wasted resources.\n",
     "  --since T           from T on: 90s, 30m, 1h, 7d, 2w, Unix ms or a\n"
     "                      UTC date (2026-11-26[T10:00:00])\n"
     "  --page PAGE         one page (key or bare path)\n"
     "  --json              JSON instead of tables\n",
     "heraldctl -c herald.ini stats --since 7d"},
    {"threshold",
     "threshold get|set|unset [VALUE] [--channel push|hint]\n"
     "                 [--route R]",
     "The Wilson lower bound a resource needs to be hinted (hint) or pushed\n"
     "(push), 0 to 1. set and unset need --channel. A running herald\n"
     "applies a change within one learner interval and logs it.\n",
     "  --channel C         push or hint\n" SETTING_OPTS,
     "heraldctl -c herald.ini threshold set --channel push 0.95"},
    {"min-visits", "min-visits get|set|unset [N] [--route R]",
     "The decayed visits a page needs before any of its resources gets a\n"
     "rule.\n",
     SETTING_OPTS, "heraldctl -c herald.ini min-visits set 50"},
    {"budget",
     "budget get|set|unset [BYTES] [--channel push|hint]\n"
     "                 [--route R]",
     "Bytes named in one page's 103 (hint) or pushed with it (push); BYTES\n"
     "takes k, M and G (1024-based: 100k, 1.5M). Without --channel, both.\n",
     "  --channel C         push or hint\n" SETTING_OPTS,
     "heraldctl -c herald.ini budget set --channel push 100k"},
    {"max-resources",
     "max-resources get|set|unset [N] [--channel push|hint]\n"
     "                 [--route R]",
     "Resources named in one page's 103 (hint) or pushed with it (push).\n"
     "Without --channel, both.\n",
     "  --channel C         push or hint\n" SETTING_OPTS,
     "heraldctl -c herald.ini max-resources set --channel hint 8"},
    {"mode", "mode get|set|unset [off|hints|shadow|push|both] [--route R]",
     "What herald delivers: nothing, 103 Early Hints, nothing but counted\n"
     "(shadow), pushes, or pushes to clients that take them and 103 to the\n"
     "others (both, the default). get says where the value comes from:\n"
     "route:R, global, config or default.\n",
     SETTING_OPTS, "heraldctl -c herald.ini mode set --route api off"},
    {"pin", "pin SCOPE RESOURCE",
     "Always serve RESOURCE on the pages of SCOPE: a page (key or bare\n"
     "path), site:HOST, route:NAME, or a path pattern ('/docs/**',\n"
     "'/product/*', or with scheme://host).\n",
     "  --json              JSON instead of a sentence\n",
     "heraldctl -c herald.ini pin /checkout /static/pay.js"},
    {"block", "block SCOPE RESOURCE",
     "Never serve RESOURCE on the pages of SCOPE (as for pin).\n",
     "  --json              JSON instead of a sentence\n",
     "heraldctl -c herald.ini block site:shop.example /static/huge.js"},
    {"unpin", "unpin SCOPE RESOURCE", "Remove a pin or a block.\n",
     "  --json              JSON instead of a sentence\n",
     "heraldctl -c herald.ini unpin /checkout /static/pay.js"},
    {"learn", "learn [DB]",
     "Replay the retained visits into a fresh learner and replace every\n"
     "rule (parameters: defaults, [learn] of -c CONFIG, then the settings).\n"
     "A running herald keeps the rules it serves until its own next\n"
     "recompute; it logs the run.\n",
     "  --json              JSON instead of a sentence\n",
     "heraldctl learn /var/lib/herald/herald.db"},
    {"export", "export",
     "Rules, overrides and settings as one JSON document on stdout.\n", "",
     "heraldctl --db old.db export > seed.json"},
    {"import", "import [FILE|-]",
     "Read what export wrote (stdin without FILE or with -) into this\n"
     "database, in one transaction; a bad document changes nothing.\n",
     "  --json              JSON instead of a sentence\n",
     "heraldctl --db new.db import seed.json"},
};

static const struct help *find(const char *name) {
  for (size_t i = 0; i < ARRAY_SIZE(helps); i++)
    if (strcmp(helps[i].name, name) == 0)
      return &helps[i];
  return NULL;
}

int ctl_help_command(const char *name) {
  const struct help *h = find(name);
  if (h == NULL)
    return -1;
  printf("usage: heraldctl %s\n\n%s\nOptions:\n%s%s"
         "  -h, --help          this text\n\nExample:\n  %s\n\n"
         "See heraldctl(8) for more.\n",
         h->usage, h->what, DB_OPTS, h->options, h->example);
  return 0;
}

void ctl_help(FILE *f) {
  fputs("usage: heraldctl [--db PATH | -c CONFIG] [OPTIONS] COMMAND [ARGS]\n"
        "\n"
        "Reads and tunes herald's rule database, also while herald runs.\n"
        "PAGE is a page key as stored (http://127.0.0.1:8080/product/:id) or\n"
        "a bare path (/product/:id, any host); RESOURCE a key or a path on\n"
        "the page's origin.\n"
        "\n"
        "Showing:\n"
        "  pages               pages and templates: visits, rules, last seen\n"
        "  rules [PAGE]        what each page gets, in order, how sure\n"
        "  explain PAGE RESOURCE  why a resource is (not) served\n"
        "  simulate            precision and recall per threshold\n"
        "  stats               did delivery help (holdout against treated)\n"
        "Tuning (a running herald applies and logs a change within one\n"
        "learner interval):\n"
        "  threshold, min-visits, budget, max-resources, mode\n"
        "                      get|set|unset a setting\n"
        "  pin, block, unpin SCOPE RESOURCE\n"
        "                      always, never, or again serve a resource\n"
        "  learn [DB]          recompute every rule offline\n"
        "Moving:\n"
        "  export, import      rules, overrides and settings as JSON\n"
        "\n"
        "Options (before or after the command):\n" DB_OPTS
        "  --json              JSON instead of a table (every command)\n"
        "  -h, --help          this text; COMMAND --help: that command's\n"
        "  -V, --version       print the version\n"
        "\n"
        "heraldctl COMMAND --help shows a command's options and an example;\n"
        "heraldctl(8) is the reference.\n"
        "\n"
        "Exit status: 0 ok; 1 not found (page, resource, route, override);\n"
        "2 bad usage, a bad value, no or a bad database, or another error.\n",
        f);
}
