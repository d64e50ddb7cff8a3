"""Fail when a built page of the docs overflows horizontally at 1280 or 400 px, or shrinks a figure.

Usage: ``python docs/check_overflow.py docs/_build/html`` (``tox -e docs-browser``
builds the pages first). Every ``*.html`` page of the build is loaded in
headless Chromium, in a frame 1280 px wide and in one 400 px wide (a phone).
A page fails when the document is wider than the frame
(``scrollingElement.scrollWidth > clientWidth``), or when an element's right
edge passes the frame's edge outside a scroll container: content that a reader
would have to scroll the whole page sideways to see, or could not see at all.
A wide table or diagram that scrolls inside its own box passes; at 1280 px, a
code block whose lines do not fit it fails (the generated reports included:
their lines wrap), and so does an image shown below
60 % of its natural width (its text shrinks with it).

Chromium is found as ``$CHROMIUM`` or ``chromium`` on ``PATH`` (Debian:
``apt-get install chromium``). The check runs one browser for every page: a
wrapper page loads each built page into an iframe of each width and writes
what it measured into its own DOM, which ``--dump-dom`` prints.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

WIDTHS = (1280, 400)
MIN_IMAGE_SCALE = 0.6  # at 1280 px, an image shown narrower than this share of its natural width fails

# Runs in the wrapper page; JOBS is a list of [url, width].
MEASURE = r"""
function describe(el) {
  let name = el.tagName.toLowerCase();
  if (el.id) name += "#" + el.id;
  if (el.classList.length) name += "." + [...el.classList].slice(0, 3).join(".");
  const text = (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 60);
  return name + (text ? ' "' + text + '"' : "");
}
function contained(el, win) {
  // Inside a box that scrolls or clips sideways, or an off-canvas drawer.
  for (let a = el.parentElement; a && a.tagName !== "BODY"; a = a.parentElement) {
    const style = win.getComputedStyle(a);
    if (["auto", "scroll", "hidden", "clip"].includes(style.overflowX) || style.position === "fixed") {
      return true;
    }
  }
  return false;
}
function measure(frame, url, width) {
  const doc = frame.contentDocument, win = frame.contentWindow;
  const edge = doc.documentElement.clientWidth;
  const problems = [];
  const scrollWidth = doc.scrollingElement.scrollWidth;
  if (scrollWidth > edge) problems.push("the page is " + scrollWidth + " px wide");
  const reported = new Set();
  for (const el of doc.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || box.right <= edge + 1) continue;
    const style = win.getComputedStyle(el);
    if (style.position === "fixed" || style.visibility === "hidden") continue;
    if (contained(el, win)) continue;
    let parent = el.parentElement, nested = false;
    for (; parent; parent = parent.parentElement) if (reported.has(parent)) nested = true;
    reported.add(el);
    if (!nested) problems.push(describe(el) + " ends at " + Math.round(box.right) + " px");
  }
  // On a desktop, code must fit its block: a snippet is read, not scrolled.
  if (width >= DESKTOP) {
    for (const pre of doc.body.querySelectorAll("pre")) {
      if (pre.scrollWidth > pre.clientWidth + 1) {
        problems.push(describe(pre) + " needs " + pre.scrollWidth + " px, has " + pre.clientWidth);
      }
    }
  }
  // On a desktop, a figure is read at the size it was drawn for: an image
  // shrunk below MIN_IMAGE_SCALE of its natural width has text too small to read.
  if (width >= DESKTOP) {
    for (const img of doc.body.querySelectorAll("img")) {
      const shown = img.getBoundingClientRect().width;
      if (img.naturalWidth && shown && shown < MIN_IMAGE_SCALE * img.naturalWidth) {
        problems.push(describe(img) + " " + (img.getAttribute("src") || "") + " is shown " +
          Math.round(shown) + " px wide, " + Math.round(100 * shown / img.naturalWidth) +
          " % of its natural " + img.naturalWidth + " px");
      }
    }
  }
  return {url: url, width: width, problems: problems};
}
(async () => {
  const results = [];
  for (const [url, width] of JOBS) {
    const frame = document.createElement("iframe");
    frame.style.cssText = "border:0;height:900px;width:" + width + "px";
    const loaded = new Promise((resolve) => { frame.onload = resolve; });
    frame.src = url;
    document.body.appendChild(frame);
    await loaded;
    try {
      results.push(measure(frame, url, width));
    } catch (error) {
      results.push({url: url, width: width, problems: ["cannot measure: " + error]});
    }
    frame.remove();
  }
  document.getElementById("results").textContent = JSON.stringify(results);
})();
"""

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--allow-file-access-from-files",  # the wrapper reads its frames' documents
    "--virtual-time-budget=600000",  # --dump-dom waits for the frames to load
]


def chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        sys.exit("check_overflow: Chromium is missing: apt-get install chromium (or set CHROMIUM)")
    return found


def pages(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.html") if not p.relative_to(root).parts[0].startswith("_"))


def measure(root: Path) -> list[dict[str, object]]:
    jobs = [[page.resolve().as_uri(), width] for page in pages(root) for width in WIDTHS]
    with tempfile.TemporaryDirectory() as tmp:
        wrapper = Path(tmp) / "wrapper.html"
        wrapper.write_text(
            '<!doctype html><html><body><pre id="results"></pre><script>'
            f"const JOBS = {json.dumps(jobs)}, DESKTOP = {max(WIDTHS)}, "
            f"MIN_IMAGE_SCALE = {MIN_IMAGE_SCALE};\n{MEASURE}</script></body></html>",
            encoding="utf-8",
        )
        done = subprocess.run(
            [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile", "--dump-dom", wrapper.as_uri()],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    found = re.search(r'<pre id="results">(.*?)</pre>', done.stdout, re.S)
    if done.returncode or not found or not found.group(1):
        tail = done.stderr[-2000:]
        sys.exit(f"check_overflow: Chromium measured nothing (exit {done.returncode}):\n{tail}")
    results: list[dict[str, object]] = json.loads(html.unescape(found.group(1)))
    if len(results) != len(jobs):
        sys.exit(f"check_overflow: {len(results)} of {len(jobs)} page loads measured")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("html", type=Path, help="the html build directory, e.g. docs/_build/html")
    root = parser.parse_args().html
    if not pages(root):
        sys.exit(f"check_overflow: no built page under {root}: build the docs first")
    results = measure(root)
    failed = [r for r in results if r["problems"]]
    for result in failed:
        page = Path(str(result["url"]).removeprefix("file://")).relative_to(root.resolve())
        print(f"{page} at {result['width']} px:")
        for problem in result["problems"]:  # type: ignore[attr-defined]
            print(f"    {problem}")
    pages_loaded = len(results) // len(WIDTHS)
    print(f"check_overflow: {len(results)} page loads ({pages_loaded} pages), {len(failed)} with a problem")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
