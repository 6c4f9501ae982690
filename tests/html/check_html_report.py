#!/usr/bin/env python3
"""The HTML report (`oomtrace report --format html`) end to end, in a real
browser.

For the scenario of each verdict it runs the scenario program under
`oomtrace run --simulate-gpu`, writes the HTML report of its trace, checks
the page as text (self-contained, escaped, small), then opens it in headless
Chromium and checks what the page's own script says it rendered: no script
error, one timeline mark per failure, one bar per segment and a request bar
in each segment map, histogram bars, the verdict. A screenshot of each page
is left in the work folder.

Without a chromium binary, or in a sanitized build, the browser part is
skipped (exit 77) after the pages were generated and checked as text.
"""
import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
MAX_PAGE_BYTES = 2 * 1024 * 1024


class Failed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failed(message)


def scenarios(args):
    """(name, command, --simulate-gpu spec, extra environment, verdicts expected)."""
    runtime, fragmentation, libtorch = args.runtime, args.fragmentation, args.libtorch
    return [
        ("exceeds_capacity", [runtime, "exceeds_capacity"], "8GiB", {}, {"exceeds_capacity"}),
        ("exhausted", [runtime, "exhausted"], "8GiB", {}, {"exhausted"}),
        ("other_processes", [runtime, "exhausted"], "8GiB,others=6GiB", {}, {"other_processes"}),
        ("fragmentation", [fragmentation, "pool_api"], "2304MiB", {}, {"fragmentation"}),
        # PyTorch's policy in the program's own allocator: a replay finding,
        # so the page has a what-if table.
        ("whatif", [fragmentation, "growing_sequence"], "3GiB", {"PYTORCH_CUDA_ALLOC_CONF": "backend:native"},
         {"fragmentation"}),
        ("limit", [libtorch, "fraction_limit"], "16GiB", {}, {"limit"}),
    ]


def run_scenario(args, name, command, spec, extra_env):
    folder = os.path.join(args.work, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    env = dict(os.environ, **extra_env)
    subprocess.run([args.cli, "run", "--simulate-gpu", spec, "--dir", folder, "--"] + command, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    traces = [f for f in os.listdir(folder) if f.endswith(".trace")]
    check(len(traces) == 1, f"{name}: expected one trace in {folder}, found {traces}")
    return folder, os.path.join(folder, traces[0])


def write_report(args, source, page, fmt="html"):
    result = subprocess.run([args.cli, "report", "--format", fmt, source, "-o", page], capture_output=True,
                            text=True, timeout=120)
    check(result.returncode == 0, f"oomtrace report --format {fmt} {source} failed: {result.stderr.strip()}")


def json_report(args, trace):
    result = subprocess.run([args.cli, "report", "--format", "json", trace], capture_output=True, text=True,
                            timeout=120)
    check(result.returncode == 0, f"oomtrace report --format json {trace}: {result.stderr.strip()}")
    return json.loads(result.stdout)


def check_page_text(name, page, report, verdicts):
    """What can be told without a browser."""
    size = os.path.getsize(page)
    check(size < MAX_PAGE_BYTES, f"{name}: the page is {size} bytes, over {MAX_PAGE_BYTES}")
    with open(page, encoding="utf-8") as f:
        text = f.read()
    check(text.startswith("<!DOCTYPE html>"), f"{name}: not an HTML page")
    # Self-contained: no script, style, image or frame fetched from anywhere.
    external = re.findall(r'(?:src|href)\s*=\s*"(?!#)[^"]*"', text)
    check(not external, f"{name}: the page refers to outside resources: {external[:3]}")
    check("http://" not in text.replace("http://www.w3.org", "") and "https://" not in text,
          f"{name}: the page names a network address")
    failures = report.get("failures", [])
    marks = text.count('class="failure-mark')
    check(marks == len(failures), f"{name}: {marks} timeline marks for {len(failures)} failures")
    for verdict in verdicts:
        check(f"Verdict: <span>{verdict}</span>" in text, f"{name}: verdict {verdict} not on the page")
    # Every string from the trace is escaped: the executable's path shows
    # escaped exactly as html.escape would write it.
    executable = report.get("process", {}).get("executable", "")
    if executable:
        check(html.escape(executable, quote=True).replace("&#x27;", "&#39;") in text,
              f"{name}: the executable's path is not on the page as escaped text")
    return text


def chromium_dom(args, page):
    result = subprocess.run([args.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                             "--virtual-time-budget=3000", "file://" + os.path.abspath(page)],
                            capture_output=True, text=True, timeout=120)
    check(result.returncode == 0, f"chromium --dump-dom {page} exited {result.returncode}: {result.stderr[-400:]}")
    return result.stdout


def screenshot(args, page, png):
    if os.path.exists(png):
        os.remove(png)
    subprocess.run([args.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--screenshot=" + png, "--window-size=1400,2400", "file://" + os.path.abspath(page)],
                   capture_output=True, timeout=120)
    check(os.path.exists(png) and os.path.getsize(png) > 0, f"no screenshot written to {png}")


def rendered_summary(name, dom):
    errors = re.search(r'data-script-errors="([^"]*)"', dom)
    check(errors is not None, f"{name}: the page's script did not run (no data-script-errors)")
    check(html.unescape(errors.group(1)) == "[]", f"{name}: script errors: {html.unescape(errors.group(1))}")
    summary = re.search(r'<pre id="render-summary">([^<]*)</pre>', dom)
    check(summary is not None and summary.group(1), f"{name}: the page's script wrote no summary")
    return json.loads(html.unescape(summary.group(1)))


def check_rendered(name, summary, report, verdicts, expect_whatif):
    failures = report.get("failures", [])
    check(summary["errors"] == [], f"{name}: script errors {summary['errors']}")
    check(summary["timelines"] >= 1 or not failures, f"{name}: no timeline")
    check(summary["failure_marks"] == len(failures),
          f"{name}: {summary['failure_marks']} failure marks for {len(failures)} failures")
    check(summary["segment_maps"], f"{name}: no segment map")
    for segment_map in summary["segment_maps"]:
        check(segment_map["segments"] == segment_map["declared"] and segment_map["segments"] > 0,
              f"{name}: segment map {segment_map}: one bar per segment expected")
        check(segment_map["requests"] == 1, f"{name}: segment map {segment_map}: one request bar expected")
    check(set(verdicts) <= set(summary["verdicts"]), f"{name}: verdicts {summary['verdicts']}, want {verdicts}")
    if expect_whatif:
        check(summary["whatif_rows"] > 1, f"{name}: the what-if table has {summary['whatif_rows']} rows")


def check_histogram(name, summary, report):
    """A failure whose blocks are known has free blocks to count."""
    blocks_known = any(f.get("largest_free_block_bytes") for f in report.get("failures", []))
    if blocks_known:
        check(summary["histogram_bars"] > 0, f"{name}: the free-block histogram has no bars")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    parser.add_argument("--runtime", required=True)
    parser.add_argument("--fragmentation", required=True)
    parser.add_argument("--libtorch", required=True)
    parser.add_argument("--snapshot", help="a PyTorch snapshot pickle to report on its own")
    parser.add_argument("--work", required=True, help="folder for traces, pages and screenshots")
    parser.add_argument("--sanitized", default="", help="OOMTRACE_SANITIZE of the build")
    parser.add_argument("--docs-image", help="also copy the fragmentation screenshot here")
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)

    browser = bool(args.chromium) and not args.sanitized
    pages = []
    try:
        for name, command, spec, extra_env, verdicts in scenarios(args):
            folder, trace = run_scenario(args, name, command, spec, extra_env)
            page = os.path.join(args.work, f"report-{name}.html")
            write_report(args, trace, page)
            report = json_report(args, trace)
            got = {f.get("verdict") for f in report["failures"]}
            check(verdicts <= got, f"{name}: the scenario's verdicts are {got}, want {verdicts}")
            check_page_text(name, page, report, verdicts)
            expect_whatif = any(f.get("replay") for f in report["failures"])
            pages.append((name, page, report, verdicts, expect_whatif))
        if args.snapshot:
            page = os.path.join(args.work, "report-pytorch-snapshot.html")
            write_report(args, args.snapshot, page)
            check_page_text("pytorch-snapshot", page, {}, set())
            pages.append(("pytorch-snapshot", page, {}, set(), False))
        print(f"{len(pages)} HTML reports written and checked as text in {args.work}")
        if not browser:
            why = f"the build is sanitized ({args.sanitized})" if args.sanitized else "no chromium binary was found"
            print(f"SKIP: the browser checks did not run: {why}")
            return SKIP
        for name, page, report, verdicts, expect_whatif in pages:
            summary = rendered_summary(name, chromium_dom(args, page))
            if report:
                check_rendered(name, summary, report, verdicts, expect_whatif)
                check_histogram(name, summary, report)
            else:
                check(summary["segment_maps"], f"{name}: no segment map for the snapshot")
                for segment_map in summary["segment_maps"]:
                    check(segment_map["segments"] == segment_map["declared"] > 0, f"{name}: {segment_map}")
                check(summary["histogram_bars"] > 0, f"{name}: the free-block histogram has no bars")
            png = os.path.join(args.work, f"report-{name}.png")
            screenshot(args, page, png)
            if name == "fragmentation" and args.docs_image:
                shutil.copyfile(png, args.docs_image)
            print(f"{name}: rendered {json.dumps(summary)}; screenshot {png}")
    except Failed as failure:
        print(f"FAILED: {failure}")
        return 1
    print(f"{len(pages)} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
