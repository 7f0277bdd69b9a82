#!/usr/bin/env python3
"""Checks the Grafana dashboards in grafana/dashboards/ without a Grafana server.

  check_dashboards.py PROM_URL [--cluster C] [--host H]
      Runs every panel, annotation and template-variable query, with the template variables
      substituted as Grafana would, against a real Prometheus (HTTP API) and fails listing each
      query that returns zero series. An unknown metric name is a *successful* query with zero
      series, so this is what catches a dashboard written against a name the daemons do not
      export (or a label they do not set). Without --cluster/--host the first value of each
      template variable's own query is used, as Grafana does; --host '.*' is "All".

  check_dashboards.py --offline [--promtool PATH]
      No server: wraps every query as a recording rule in a temporary rules file and runs
      `promtool check rules` on it (PromQL syntax), after the structural checks below.

Both modes first check each dashboard's structure: a uid (unique across files) and a title,
unique panel ids, a refId and an expr on every target, only known variables, and that every
vector selector in a panel or annotation query filters by cluster="$cluster".

Exit status: 0 all good, 1 a check failed (each one listed), 2 usage or environment error
(no promtool, Prometheus unreachable).

Only the Python standard library is used.
"""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_DASHBOARDS = os.path.join(REPO, "grafana", "dashboards")

# Grafana's global variables, as the dashboards use them with a Prometheus data source.
def builtin_values(args):
    range_s = parse_duration_s(args.range)
    interval_s = parse_duration_s(args.interval)
    return {
        "__rate_interval": args.rate_interval,
        "__interval": args.interval,
        "__interval_ms": str(int(interval_s * 1000)),
        "__range": args.range,
        "__range_s": str(int(range_s)),
        "__range_ms": str(int(range_s * 1000)),
    }


def parse_duration_s(text):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    total, pos = 0.0, 0
    for m in re.finditer(r"(\d+)(ms|s|m|h|d|w|y)", text):
        if m.start() != pos:
            break
        total += int(m.group(1)) * units[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise argparse.ArgumentTypeError(f"not a Prometheus duration: {text!r}")
    return total


VAR_RE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)\]\]|\$(\w+)")
CLUSTER_MATCHER_RE = re.compile(r'\bcluster\s*=\s*"\$(\{cluster\}|cluster)"')
# Vector selectors of our metrics (and up): name, then an optional {matchers}. A heuristic,
# enough for the dashboards' PromQL: Ballast metric names never collide with functions,
# keywords or label names.
SELECTOR_RE = re.compile(r"(?<![\w:])(ballast_[a-zA-Z0-9_:]*|up)(?![\w:])\s*(\{[^}]*\})?")
LABEL_VALUES_RE = re.compile(r"^\s*label_values\(\s*(.*?)\s*,\s*(\w+)\s*\)\s*$", re.S)
QUERY_RESULT_RE = re.compile(r"^\s*query_result\(\s*(.*)\s*\)\s*$", re.S)


class Query:
    """One query found in a dashboard: where it is, its text, and what kind it is."""

    def __init__(self, where, expr, kind, var=None, label=None):
        self.where, self.expr, self.kind, self.var, self.label = where, expr, kind, var, label


class Dashboard:
    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)
        with open(path, encoding="utf-8") as f:
            self.data = json.load(f)
        self.variables = {}  # name -> templating entry
        for v in self.data.get("templating", {}).get("list", []):
            if isinstance(v, dict) and v.get("name"):
                self.variables[v["name"]] = v

    def panels(self):
        def walk(panels):
            for p in panels or []:
                yield p
                yield from walk(p.get("panels"))
        yield from walk(self.data.get("panels"))

    def queries(self):
        """Template-variable queries first (in order), then panels, then annotations."""
        out = []
        for v in self.data.get("templating", {}).get("list", []):
            if v.get("type") != "query":
                continue
            q = v.get("query")
            text = q.get("query", "") if isinstance(q, dict) else (q or "")
            where = f"{self.name}: variable ${v.get('name')}"
            m = LABEL_VALUES_RE.match(text)
            if m:
                out.append(Query(where, m.group(1), "label_values", v.get("name"), m.group(2)))
                continue
            m = QUERY_RESULT_RE.match(text)
            if m:
                out.append(Query(where, m.group(1), "query_result", v.get("name")))
                continue
            out.append(Query(where, text, "unsupported", v.get("name")))
        for p in self.panels():
            if p.get("type") == "row":
                continue
            for t in p.get("targets") or []:
                where = (f"{self.name}: panel {p.get('id')} \"{p.get('title', '')}\" "
                         f"target {t.get('refId', '?')}")
                out.append(Query(where, t.get("expr"), "panel"))
        for a in self.data.get("annotations", {}).get("list", []):
            if a.get("builtIn"):
                continue
            expr = a.get("expr")
            if expr is None and isinstance(a.get("target"), dict):
                expr = a["target"].get("expr")
            out.append(Query(f"{self.name}: annotation \"{a.get('name', '')}\"", expr, "annotation"))
        return out


def structural_problems(dashboards):
    problems = []
    uids = {}
    for d in dashboards:
        data = d.data
        for key in ("uid", "title"):
            if not isinstance(data.get(key), str) or not data.get(key):
                problems.append(f"{d.name}: no \"{key}\"")
        uid = data.get("uid")
        if uid in uids:
            problems.append(f"{d.name}: uid {uid!r} also used by {uids[uid]}")
        uids[uid] = d.name
        if not isinstance(data.get("schemaVersion"), int):
            problems.append(f"{d.name}: no integer schemaVersion")
        ids = {}
        for p in d.panels():
            pid = p.get("id")
            if pid in ids:
                problems.append(f"{d.name}: panel id {pid} used by \"{ids[pid]}\" and \"{p.get('title')}\"")
            ids[pid] = p.get("title")
            if "gridPos" not in p:
                problems.append(f"{d.name}: panel {pid} \"{p.get('title')}\" has no gridPos")
            if p.get("type") == "row":
                continue
            if not p.get("targets"):
                problems.append(f"{d.name}: panel {pid} \"{p.get('title')}\" has no targets")
            refids = set()
            for t in p.get("targets") or []:
                ref = t.get("refId")
                if not ref or ref in refids:
                    problems.append(f"{d.name}: panel {pid} \"{p.get('title')}\": missing or duplicate refId {ref!r}")
                refids.add(ref)
        for q in d.queries():
            if not isinstance(q.expr, str) or not q.expr.strip():
                problems.append(f"{q.where}: no expr")
                continue
            if q.kind == "unsupported":
                problems.append(f"{q.where}: query {q.expr!r} is neither label_values(...) nor query_result(...)")
                continue
            for m in VAR_RE.finditer(q.expr):
                name = m.group(1) or m.group(3) or m.group(4)
                if not name.startswith("__") and name not in d.variables:
                    problems.append(f"{q.where}: unknown variable ${name} in {q.expr!r}")
            if q.kind in ("panel", "annotation"):
                for sel in SELECTOR_RE.finditer(q.expr):
                    matchers = sel.group(2) or ""
                    if not CLUSTER_MATCHER_RE.search(matchers):
                        problems.append(f"{q.where}: selector {sel.group(0).strip()!r} does not filter "
                                        f"by cluster=\"$cluster\" in {q.expr!r}")
    return problems


def regex_escape_for_promql(value):
    # What Grafana's Prometheus data source does with a value of a multi-value or "include
    # All" variable: escape regex metacharacters, with the backslash doubled for the PromQL
    # string literal.
    return re.sub(r"([\\^$*+?.()|{}\[\]])", r"\\\\\1", value)


def substitute(expr, dashboard, values, builtins):
    def repl(m):
        name = m.group(1) or m.group(3) or m.group(4)
        if name in builtins:
            return builtins[name]
        if name not in values:
            raise KeyError(name)
        value = values[name]
        var = dashboard.variables.get(name, {})
        if value == var.get("allValue") and var.get("includeAll"):
            return value
        if var.get("multi") or var.get("includeAll"):
            return regex_escape_for_promql(value)
        return value.replace("\\", "\\\\").replace('"', '\\"')
    return VAR_RE.sub(repl, expr)


# --- offline ----------------------------------------------------------------------------------

def offline(dashboards, args):
    promtool = args.promtool or shutil.which("promtool")
    if not promtool:
        print("check_dashboards: promtool not found (Debian package prometheus)", file=sys.stderr)
        return 2
    builtins = builtin_values(args)
    groups, seen = [], set()
    for d in dashboards:
        # Any syntactically plain value will do for a syntax check.
        values = {name: "x" for name in d.variables}
        for i, q in enumerate(d.queries()):
            if not isinstance(q.expr, str) or q.kind == "unsupported":
                continue
            expr = substitute(q.expr, d, values, builtins)
            name = q.where
            while name in seen:  # group names must be unique
                name += " (again)"
            seen.add(name)
            record = "dashboard:" + re.sub(r"[^a-zA-Z0-9_]", "_", d.data.get("uid") or d.name) + f":q{i}"
            groups.append({"name": name, "rules": [{"record": record, "expr": expr}]})
    # JSON is YAML: no quoting surprises, no PyYAML needed.
    with tempfile.NamedTemporaryFile("w", suffix=".rules.yml", prefix="ballast-dashboards-",
                                     delete=False) as f:
        json.dump({"groups": groups}, f, indent=1)
        rules_file = f.name
    try:
        proc = subprocess.run([promtool, "check", "rules", rules_file], capture_output=True, text=True)
    finally:
        os.unlink(rules_file)
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr, end="")
        print(f"FAIL: promtool check rules rejected dashboard queries (above)")
        return 1
    print(f"OK: promtool check rules parsed all {len(groups)} dashboard queries "
          f"({len(dashboards)} dashboards)")
    return 0


# --- against a Prometheus ---------------------------------------------------------------------

class PromError(Exception):
    pass


def api_get(base, path, params):
    url = base.rstrip("/") + path + "?" + urllib.parse.urlencode(params, doseq=True)
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            body = json.load(resp)
    except urllib.error.HTTPError as e:  # 400/422: bad query, body says why
        try:
            body = json.load(e)
        except ValueError:
            raise PromError(f"HTTP {e.code} from {url}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise ConnectionError(f"{url}: {e}") from None
    if body.get("status") != "success":
        raise PromError(f"{body.get('errorType', 'error')}: {body.get('error', body)}")
    return body["data"]


def online(dashboards, args):
    builtins = builtin_values(args)
    failures, checked, nan_only, not_run = [], 0, [], 0
    base_params = {} if args.time is None else {"time": args.time}
    try:
        api_get(args.prom_url, "/api/v1/query", {"query": "1"})
    except (ConnectionError, PromError) as e:
        print(f"check_dashboards: cannot query Prometheus at {args.prom_url}: {e}", file=sys.stderr)
        return 2
    wanted = {"cluster": args.cluster, "host": args.host}
    for d in dashboards:
        values = {}
        for q in d.queries():
            checked += 1
            try:
                expr = substitute(q.expr, d, values, builtins)
            except KeyError:
                not_run += 1  # a variable it uses has no value: that failure is listed already
                continue
            try:
                if q.kind == "label_values":
                    found = api_get(args.prom_url, f"/api/v1/label/{q.label}/values", {"match[]": expr})
                    if not found:
                        failures.append(f"{q.where}: label_values({expr}, {q.label}) found no values")
                        continue
                    var = d.variables[q.var]
                    choice = wanted.get(q.var)
                    if choice is None:
                        choice = sorted(found)[0]
                    elif not (choice == var.get("allValue") and var.get("includeAll")) and choice not in found:
                        failures.append(f"{q.where}: {choice!r} is not among label_values({expr}, "
                                        f"{q.label}) = {sorted(found)}")
                        continue
                    values[q.var] = choice
                    if args.verbose:
                        print(f"  {q.where}: {len(found)} values, using {choice!r}")
                    continue
                data = api_get(args.prom_url, "/api/v1/query", dict(base_params, query=expr))
            except PromError as e:
                failures.append(f"{q.where}: query error {e}\n      {expr}")
                continue
            except ConnectionError as e:
                print(f"check_dashboards: lost Prometheus: {e}", file=sys.stderr)
                return 2
            if data["resultType"] in ("vector", "matrix"):
                series = data["result"]
                if not series:
                    failures.append(f"{q.where}: 0 series\n      {expr}")
                    continue
                sample_values = [s["value"][1] for s in series if "value" in s]
                if sample_values and all(v in ("NaN", "+Inf", "-Inf") for v in sample_values):
                    nan_only.append(f"{q.where}: {len(series)} series, all NaN/Inf (no events in the window?)")
                if q.kind == "query_result":
                    values[q.var] = wanted.get(q.var) or ""
            if args.verbose:
                print(f"  ok {q.where}: {len(data['result']) if isinstance(data['result'], list) else 1} series")
    for note in nan_only:
        print(f"note: {note}")
    if failures:
        for f in failures:
            print(f"FAIL: {f}")
        skipped = f"; {not_run} not run for want of a variable value" if not_run else ""
        print(f"FAIL: {len(failures)} of {checked} dashboard queries returned nothing or failed"
              f"{skipped} (cluster={args.cluster or 'first'}, host={args.host or 'first'})")
        return 1
    print(f"OK: all {checked} dashboard queries of {len(dashboards)} dashboards returned series")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("prom_url", nargs="?", help="Prometheus base URL, e.g. http://127.0.0.1:9090")
    ap.add_argument("--offline", action="store_true", help="syntax check with promtool, no server")
    ap.add_argument("--cluster", help="value of $cluster (default: first value its query finds)")
    ap.add_argument("--host", help="value of $host (default: first value its query finds; '.*' = All)")
    ap.add_argument("--dashboards", default=DEFAULT_DASHBOARDS, help="directory of *.json dashboards")
    ap.add_argument("--promtool", help="promtool binary (default: from PATH)")
    ap.add_argument("--rate-interval", default="1m", type=str, help="$__rate_interval (default 1m)")
    ap.add_argument("--interval", default="15s", help="$__interval (default 15s)")
    ap.add_argument("--range", default="1h", help="$__range (default 1h)")
    ap.add_argument("--time", help="evaluation time (RFC 3339 or Unix seconds; default: now)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    for name in ("rate_interval", "interval", "range"):
        try:
            parse_duration_s(getattr(args, name))
        except argparse.ArgumentTypeError as e:
            ap.error(str(e))
    if not args.offline and not args.prom_url:
        ap.error("PROM_URL is required unless --offline")

    paths = sorted(glob.glob(os.path.join(args.dashboards, "*.json")))
    if not paths:
        print(f"check_dashboards: no dashboards in {args.dashboards}", file=sys.stderr)
        return 2
    dashboards, problems = [], []
    for p in paths:
        try:
            dashboards.append(Dashboard(p))
        except (OSError, ValueError) as e:
            problems.append(f"{os.path.basename(p)}: not valid JSON: {e}")
    problems += structural_problems(dashboards)
    if problems:
        for p in problems:
            print(f"FAIL: {p}")
        return 1
    return offline(dashboards, args) if args.offline else online(dashboards, args)


if __name__ == "__main__":
    sys.exit(main())
