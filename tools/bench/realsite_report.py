#!/usr/bin/env python3
"""realsite_report.py: the tables of the real-site benchmark.

  realsite_report.py RUN_DIR [--label TEXT]
  realsite_report.py --selftest

RUN_DIR holds what tools/bench/realsite.sh wrote for one run:
  manifest.tsv   one navigation a line: seq phase group arm page client
                 kind status file (file: chromium_visit.py's JSON, or -)
  access.log     herald's access log
Prints the tables on stdout and writes RUN_DIR/summary.tsv (key, value).

What is measured, per Chromium visit of the "measure" phase (hints on):
  hinted     the URLs of the 103's rel=preload Link entries, as Chromium
             received them (CDP Network.responseReceivedEarlyHints)
  loaded     the page's Resource Timing entries, same origin (the
             browser's own /favicon.ico request is not the page's)
  depth      1 when the page itself asked (its initiator is the page), 2
             when a stylesheet did (a font or image from url(...)). A
             hinted URL that was not loaded takes the depth of a loaded
             URL with the same path, else 2 for as=font, else 1
  precision  |hinted and loaded| / |hinted|, summed over visits
  recall     |hinted and loaded| / |loaded|, summed over visits
  wrong query  hinted, not loaded, but its path was loaded with another
             query (a preload of a URL the page never asks for)
  missed     loaded, not named by the 103 the visit got (listed per URL;
             a visit without a 103 is listed apart)
  styles first  the 103 names at least one stylesheet and nothing else
             before the last one
  used       loaded with initiatorType "early-hints": Chromium took the
             hinted copy (a hinted URL loaded otherwise was fetched twice)
Page loads ("load" phase): medians per page group and arm of loadEventEnd,
Largest Contentful Paint and the final response's headers
(finalResponseHeadersStart, else responseStart), ms from navigation start,
and the element Chromium reported as the LCP most often (tag, and the
image's path or the text's font).
"""
import json
import os
import statistics
import sys
import urllib.parse


def path_of(url):
    return urllib.parse.urlsplit(url).path


def origin_of(url):
    u = urllib.parse.urlsplit(url)
    return (u.scheme, u.netloc)


def analyse_visit(v):
    """Per-visit figures from chromium_visit.py's JSON."""
    page = v["url"].split("#")[0]
    org = origin_of(page)
    loaded = []
    for r in v.get("resources", []):
        u = r["name"].split("#")[0]
        if origin_of(u) != org:
            continue
        if r["initiatorType"] == "other" and path_of(u) == "/favicon.ico":
            continue
        loaded.append((u, r["initiatorType"]))
    reqs = {}
    for q in v.get("requests", []):
        reqs.setdefault(q["url"].split("#")[0], q)
    styles = {q["url"] for q in v.get("requests", [])
              if q.get("type") == "Stylesheet"}
    depth = {}
    for u, ini in loaded:
        q = reqs.get(u)
        if q is not None:
            depth[u] = 2 if q.get("initiator_url") in styles else 1
        else:
            depth[u] = 2 if ini == "css" else 1
    used = {u for u, ini in loaded if ini == "early-hints"}
    hints = [h for h in v.get("early_hints", [])
             if "preload" in h["rel"].split()]
    hinted = []
    for h in hints:
        u = h["url"].split("#")[0]
        if u not in hinted:
            hinted.append(u)
    by_path = {}
    for u, _ in loaded:
        by_path.setdefault(path_of(u), u)
    out = {"hinted": len(hinted), "hits": 0, "hits_d": [0, 0, 0],
           "hinted_d": [0, 0, 0], "loaded_d": [0, 0, 0],
           "loaded": len(loaded), "used": len(used & set(hinted)),
           "wrong_query": [], "unrequested": [], "got_103": bool(hints),
           "missed": [u for u, _ in loaded if u not in hinted]}
    for u, _ in loaded:
        out["loaded_d"][depth[u]] += 1
    as_of = {h["url"].split("#")[0]: h["as"] for h in hints}
    for u in hinted:
        if u in depth:
            d = depth[u]
            out["hits"] += 1
            out["hits_d"][d] += 1
        else:
            twin = by_path.get(path_of(u))
            d = depth[twin] if twin else (2 if as_of.get(u) == "font" else 1)
            (out["wrong_query"] if twin else out["unrequested"]).append(u)
        out["hinted_d"][d] += 1
    kinds = [h["as"] for h in hints]
    last_style = max((i for i, k in enumerate(kinds) if k == "style"),
                     default=-1)
    out["styles_first"] = (last_style >= 0 and
                           all(k == "style" for k in kinds[:last_style + 1]))
    nav = v.get("nav") or {}
    out["load"] = nav.get("loadEventEnd", 0)
    out["lcp"] = v.get("lcp", 0)
    out["final"] = nav.get("finalResponseHeadersStart") or \
        nav.get("responseStart", 0)
    out["interim"] = nav.get("firstInterimResponseStart", 0)
    e = v.get("lcp_element") or {}
    out["lcp_what"] = ("%s %s" % (e.get("tag", ""), e.get("url") and
                                  path_of(e["url"]) or
                                  "(%s)" % e.get("font", ""))).strip()
    return out


def ratio(a, b):
    return a / b if b else float("nan")


def fmt(x, digits=2):
    if x is None or x != x:
        return "-"
    return "%.*f" % (digits, x)


def quality(visits):
    """Sums over the analysed visits of one group."""
    s = {"visits": len(visits), "with_103": 0, "hinted": 0, "hits": 0,
         "loaded": 0, "used": 0, "styles_first": 0, "wrong_query": 0,
         "unrequested": 0}
    hd, ld, kd = [0, 0, 0], [0, 0, 0], [0, 0, 0]
    wrong, unreq, missed = {}, {}, {}
    for a in visits:
        s["with_103"] += a["got_103"]
        s["styles_first"] += a["styles_first"]
        for k in ("hinted", "hits", "loaded", "used"):
            s[k] += a[k]
        for d in (1, 2):
            hd[d] += a["hinted_d"][d]
            ld[d] += a["loaded_d"][d]
            kd[d] += a["hits_d"][d]
        for u in a["wrong_query"]:
            wrong[u] = wrong.get(u, 0) + 1
        for u in a["unrequested"]:
            unreq[u] = unreq.get(u, 0) + 1
        if a["got_103"]:
            for u in a["missed"]:
                missed[u] = missed.get(u, 0) + 1
    s["wrong_query"] = sum(wrong.values())
    s["unrequested"] = sum(unreq.values())
    s["precision"] = ratio(s["hits"], s["hinted"])
    s["recall"] = ratio(s["hits"], s["loaded"])
    for d in (1, 2):
        s["precision_d%d" % d] = ratio(kd[d], hd[d])
        s["recall_d%d" % d] = ratio(kd[d], ld[d])
    s["styles_first_ratio"] = ratio(s["styles_first"], s["visits"])
    s["used_ratio"] = ratio(s["used"], s["hits"])
    s["wrong_urls"], s["unrequested_urls"] = wrong, unreq
    s["missed_urls"] = missed
    return s


def median(xs):
    xs = [x for x in xs if x]
    return statistics.median(xs) if xs else float("nan")


def read_manifest(run):
    rows = []
    with open(os.path.join(run, "manifest.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            c = line.rstrip("\n").split("\t")
            rows.append(dict(zip(("seq", "phase", "group", "arm", "page",
                                  "client", "kind", "status", "file"), c)))
    return rows


def load_visit(run, row):
    if row["file"] in ("", "-"):
        return None
    try:
        with open(os.path.join(run, row["file"])) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def report(run, label):
    rows = read_manifest(run)
    summary = {}
    p = print
    p("== %s" % label)
    # ---- traffic --------------------------------------------------------
    learn = [r for r in rows if r["phase"] == "learn"]
    kinds = {}
    for r in learn:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    html_only = sum(n for k, n in kinds.items() if k != "chromium")
    chrom = [r for r in rows if r["kind"] == "chromium"]
    failed = [r for r in chrom if r["status"] != "ok"]
    bad_html = [r for r in rows if r["kind"] != "chromium" and
                r["status"] != "200"]
    pages = sorted({r["page"] for r in learn})
    per_page = max([sum(1 for r in learn if r["page"] == pg)
                    for pg in pages] or [0])
    clients = {r["client"] for r in rows}
    nets = {c.rsplit(".", 1)[0] for c in clients}
    p("traffic: %d navigations to %d pages while learning (at most %d a "
      "page), %d from HTML-only clients (%.0f%%): %s" %
      (len(learn), len(pages), per_page, html_only,
       100 * ratio(html_only, len(learn)),
       ", ".join("%s %d" % kv for kv in sorted(kinds.items()))))
    seen = set()
    try:
        with open(os.path.join(run, "access.log")) as f:
            for line in f:
                c = line.split()
                if len(c) >= 6 and c[3] == "GET":
                    seen.add(c[1].rsplit(":", 1)[0] if c[1].count(":") == 1
                             else c[1])
    except OSError:
        pass
    seen_nets = {a.rsplit(".", 1)[0] for a in seen}
    p("clients: %d addresses in %d /24s sent; herald saw %d addresses in "
      "%d /24s" % (len(clients), len(nets), len(seen), len(seen_nets)))
    p("chromium visits: %d, %d failed%s; HTML-only answers not 200: %d" %
      (len(chrom), len(failed),
       (" (" + "; ".join("%s %s" % (r["page"], r["status"])
                         for r in failed[:3]) + ")") if failed else "",
       len(bad_html)))
    summary.update({"learn_navigations": len(learn),
                    "learn_html_only": html_only,
                    "learn_max_per_page": per_page,
                    "chromium_visits": len(chrom),
                    "chromium_failed": len(failed),
                    "html_only_not_200": len(bad_html),
                    "client_addresses_seen": len(seen),
                    "client_nets_seen": len(seen_nets)})
    # ---- hint quality ---------------------------------------------------
    p("")
    p("hint quality (hints on, Chromium visits after learning; micro-averaged"
      " over visits)")
    hdr = ("%-10s %6s %5s %7s %6s %6s %6s %6s %6s %6s %6s %6s %7s" %
           ("pages", "visits", "103", "hinted", "prec", "recall", "P d1",
            "R d1", "P d2", "R d2", "wrongQ", "unreq", "css1st"))
    p(hdr)
    p("-" * len(hdr))
    per_page_lines = []
    for group in ("visited", "unvisited"):
        ms = [r for r in rows if r["phase"] == "measure" and
              r["group"] == group and r["status"] == "ok"]
        an = []
        for r in ms:
            v = load_visit(run, r)
            if v is not None:
                a = analyse_visit(v)
                a["page"] = r["page"]
                an.append(a)
        q = quality(an)
        p("%-10s %6d %5d %7.1f %6s %6s %6s %6s %6s %6s %6d %6d %7s" %
          (group, q["visits"], q["with_103"],
           ratio(q["hinted"], q["visits"]) if q["visits"] else 0,
           fmt(q["precision"]), fmt(q["recall"]), fmt(q["precision_d1"]),
           fmt(q["recall_d1"]), fmt(q["precision_d2"]), fmt(q["recall_d2"]),
           q["wrong_query"], q["unrequested"],
           "%d/%d" % (q["styles_first"], q["visits"])))
        for k in ("visits", "with_103", "hinted", "hits", "loaded", "used",
                  "precision", "recall", "precision_d1", "recall_d1",
                  "precision_d2", "recall_d2", "wrong_query", "unrequested",
                  "styles_first", "styles_first_ratio", "used_ratio"):
            summary["%s.%s" % (group, k)] = q[k]
        for u, n in sorted(q["wrong_urls"].items(), key=lambda x: -x[1])[:5]:
            per_page_lines.append("  %s: wrong query in %d visits: %s" %
                                  (group, n, path_of(u) + (
                                      "?" + urllib.parse.urlsplit(u).query
                                      if urllib.parse.urlsplit(u).query
                                      else "")))
        for u, n in sorted(q["unrequested_urls"].items(),
                           key=lambda x: -x[1])[:5]:
            per_page_lines.append("  %s: hinted, never requested, in %d "
                                  "visits: %s" % (group, n, path_of(u)))
        for u, n in sorted(q["missed_urls"].items(),
                           key=lambda x: -x[1])[:5]:
            per_page_lines.append("  %s: loaded, not in the 103 it got, in "
                                  "%d visits: %s" % (group, n, path_of(u)))
        nohint = [a["page"] for a in an if not a["got_103"]]
        if nohint:
            per_page_lines.append("  %s: no 103 in %d visits: %s" % (
                group, len(nohint), " ".join(sorted(set(nohint)))))
        if an:
            per_page_lines.append("  %s: per visit, loaded %.1f (depth 1 "
                                  "%.1f, depth 2 %.1f), hinted %.1f, used "
                                  "from the 103 %.1f" % (
                                      group, ratio(q["loaded"], len(an)),
                                      ratio(sum(a["loaded_d"][1] for a in an),
                                            len(an)),
                                      ratio(sum(a["loaded_d"][2] for a in an),
                                            len(an)),
                                      ratio(q["hinted"], len(an)),
                                      ratio(q["used"], len(an))))
    for line in per_page_lines:
        p(line)
    # ---- page loads -----------------------------------------------------
    loads = [r for r in rows if r["phase"] == "load" and r["status"] == "ok"]
    if loads:
        p("")
        p("page loads (cold profile each, arms interleaved; medians, ms from"
          " navigation start)")
        hdr = ("%-10s %-6s %5s %5s %6s %8s %8s %8s" %
               ("pages", "arm", "loads", "103", "used", "response", "load",
                "LCP"))
        p(hdr)
        p("-" * len(hdr))
        lcp_lines = []
        for group in ("visited", "unvisited"):
            med = {}
            for arm in ("off", "hints"):
                an = []
                for r in loads:
                    if r["group"] != group or r["arm"] != arm:
                        continue
                    v = load_visit(run, r)
                    if v is not None:
                        an.append(analyse_visit(v))
                if not an:
                    continue
                m = {"response": median([a["final"] for a in an]),
                     "load": median([a["load"] for a in an]),
                     "lcp": median([a["lcp"] for a in an])}
                med[arm] = m
                p("%-10s %-6s %5d %5d %6.1f %8s %8s %8s" %
                  (group, arm, len(an), sum(a["got_103"] for a in an),
                   ratio(sum(a["used"] for a in an), len(an)),
                   fmt(m["response"], 0), fmt(m["load"], 0),
                   fmt(m["lcp"], 0)))
                whats = {}
                for a in an:
                    whats[a["lcp_what"]] = whats.get(a["lcp_what"], 0) + 1
                w, c = max(whats.items(), key=lambda x: x[1])
                lcp_lines.append("  %s %s: LCP element %s in %d of %d" %
                                 (group, arm, w or "?", c, len(an)))
                for k, x in m.items():
                    summary["load.%s.%s.%s" % (group, arm, k)] = x
                summary["load.%s.%s.n" % (group, arm)] = len(an)
                summary["load.%s.%s.with_103" % (group, arm)] = \
                    sum(a["got_103"] for a in an)
            if "off" in med and "hints" in med:
                r = {k: ratio(med["hints"][k], med["off"][k])
                     for k in ("response", "load", "lcp")}
                p("%-10s %-6s %5s %5s %6s %8s %8s %8s" %
                  (group, "ratio", "", "", "", fmt(r["response"]),
                   fmt(r["load"]), fmt(r["lcp"])))
                for k, x in r.items():
                    summary["load.%s.ratio.%s" % (group, k)] = x
        for line in lcp_lines:
            p(line)
    with open(os.path.join(run, "summary.tsv"), "w") as f:
        for k, x in summary.items():
            if isinstance(x, float):
                x = "nan" if x != x else "%.4f" % x
            f.write("%s\t%s\n" % (k, x))


def selftest():
    """The analysis on a made-up visit whose answers are known."""
    o = "https://docs.test:1"
    v = {"url": o + "/p.html",
         "early_hints": [
             {"url": o + "/a.css", "rel": "preload", "as": "style"},
             {"url": o + "/f.woff2", "rel": "preload", "as": "font"},
             {"url": o + "/j.js", "rel": "preload", "as": "script"},
             {"url": o + "/b.css", "rel": "preload", "as": "style"},
             {"url": o + "/gone.js", "rel": "preload", "as": "script"}],
         "resources": [
             {"name": o + "/a.css", "initiatorType": "early-hints"},
             {"name": o + "/b.css", "initiatorType": "link"},
             {"name": o + "/j.js", "initiatorType": "early-hints"},
             {"name": o + "/k.js", "initiatorType": "script"},
             {"name": o + "/f.woff2?v=1", "initiatorType": "css"},
             {"name": o + "/g.woff2", "initiatorType": "early-hints"},
             {"name": o + "/favicon.ico", "initiatorType": "other"},
             {"name": "https://other.test/x.js", "initiatorType": "script"}],
         "requests": [
             {"url": o + "/a.css", "type": "Stylesheet",
              "initiator_url": o + "/p.html"},
             {"url": o + "/b.css", "type": "Stylesheet",
              "initiator_url": o + "/p.html"},
             {"url": o + "/f.woff2?v=1", "type": "Font",
              "initiator_url": o + "/a.css"},
             {"url": o + "/g.woff2", "type": "Font",
              "initiator_url": o + "/b.css"}],
         "nav": {"loadEventEnd": 900, "responseStart": 200,
                 "finalResponseHeadersStart": 500,
                 "firstInterimResponseStart": 200}, "lcp": 700}
    a = analyse_visit(v)
    checks = [
        ("loaded: 6 same-origin, favicon left out", a["loaded"], 6),
        ("depth 1 loaded: a b j k", a["loaded_d"][1], 4),
        ("depth 2 loaded: f?v=1 g", a["loaded_d"][2], 2),
        ("hinted", a["hinted"], 5),
        ("hits: a j b", a["hits"], 3),
        ("depth 2 hinted: f (its path loads from a.css)", a["hinted_d"][2], 1),
        ("wrong query: /f.woff2", a["wrong_query"], [o + "/f.woff2"]),
        ("unrequested: /gone.js", a["unrequested"], [o + "/gone.js"]),
        ("used: a j", a["used"], 2),
        ("missed: loaded, not hinted", a["missed"],
         [o + "/k.js", o + "/f.woff2?v=1", o + "/g.woff2"]),
        ("styles first: no (b.css after j.js)", a["styles_first"], False),
        ("final response 500", a["final"], 500)]
    q = quality([a])
    checks += [("precision 3/5", q["precision"], 0.6),
               ("recall 3/6", q["recall"], 0.5),
               ("recall depth 2: 0/2", q["recall_d2"], 0.0),
               ("precision depth 1: 3/4", q["precision_d1"], 0.75)]
    v["early_hints"] = v["early_hints"][:1] + v["early_hints"][3:4] + \
        v["early_hints"][1:3]
    checks.append(("styles first: yes once both lead",
                   analyse_visit(v)["styles_first"], True))
    bad = 0
    for name, got, want in checks:
        good = got == want
        bad += not good
        print("%s - %s%s" % ("ok  " if good else "FAIL", name,
                             "" if good else ": got %r" % (got,)))
    return 1 if bad else 0


def main():
    if sys.argv[1:] == ["--selftest"]:
        return selftest()
    if len(sys.argv) not in (2, 4) or (len(sys.argv) == 4 and
                                       sys.argv[2] != "--label"):
        print(__doc__.split("\n\n")[0], file=sys.stderr)
        return 2
    report(sys.argv[1], sys.argv[3] if len(sys.argv) == 4 else sys.argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
