"""postprocess/viewer.py in a real browser: headless Chromium (Debian's package) loads each page
without a console message or error, and a click on every event (a real MouseEvent at the event's
place on the canvas) highlights exactly the causal past and future that consensus_h5.hb_matrix
computes from the file. Also: the page is self-contained, byz oral messages are labelled, fates
are carried, a partition and a crash are drawn on both axes, --limit shows a consistent cut and
says so, and a screenshot is made (README).

Skipped (exit 77) only when no chromium is installed. CONSENSUS_VIEWER_SCREENSHOT=PATH copies the
screenshot there (docs/viewer.png was made so).
"""
import html
import json
import os
import re
import shutil
import subprocess
import sys

import h5py
import numpy as np

import harness
import pp_common as pp

DATA = os.path.join(harness.HERE, "data")
SKIP = 77


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def browser(exe, profile, args, url):
    """Runs headless Chromium once; returns (stdout, the console lines of its log)."""
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={profile}",
           "--virtual-time-budget=10000", "--enable-logging=stderr", "--v=0"] + args + [url]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=harness.timeout(120), stdin=subprocess.DEVNULL)
    assert p.returncode == 0, f"{' '.join(cmd)}: exit {p.returncode}\n{p.stderr[-3000:]}"
    console = [l for l in p.stderr.splitlines() if ":CONSOLE" in l]
    return p.stdout, console


def page_data(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r'<script id="run-data" type="application/json">(.*?)</script>', text, re.S)
    return text, json.loads(m.group(1).replace("<\\/", "</"))


def click_all(exe, profile, page):
    """Loads the page with #test=click:all; returns the page's test result (JSON)."""
    dom, console = browser(exe, profile, ["--dump-dom"], "file://" + page + "#test=click:all")
    assert not console, f"{page}: console messages {console}"
    m = re.search(r'<pre id="test-result"[^>]*>(.*?)</pre>', dom, re.S)
    assert m, f"{page}: no test result in the page (did the script run?)\n{dom[-2000:]}"
    return json.loads(html.unescape(m.group(1))), dom


def check_page(exe, profile, run_path, page, limit=None):
    import consensus_h5 as ch
    args = [run_path, "-o", page] + (["--limit", str(limit)] if limit else [])
    pp.script("viewer.py", args)
    text, data = page_data(page)
    # self-contained: nothing fetched from anywhere
    assert not re.search(r"<script[^>]+src=|<link|https?://|url\(", text), f"{page} refers to something outside"
    run = ch.open_run(run_path, need=("events", "messages"))
    hb = ch.hb_matrix(run.vc)
    shown = data["ev"]["row"]
    result, dom = click_all(exe, profile, page)
    assert result["errors"] == [] and result["events"] == len(shown), result.get("errors")
    assert len(result["clicked"]) == len(shown)
    on_page = set(shown)
    for c in result["clicked"]:
        row = c["row"]
        assert c["selected"] == row, f"{page}: clicking row {row} selected {c['selected']}"
        past = set(np.flatnonzero(hb[:, row]).tolist())
        future = set(np.flatnonzero(hb[row, :]).tolist()) & on_page
        assert past <= on_page, f"{page}: the page is not a consistent cut at row {row}"
        assert set(c["past"]) == past, f"{page} row {row}: past {sorted(c['past'])} != {sorted(past)}"
        assert set(c["future"]) == future, f"{page} row {row}: future {sorted(c['future'])} != {sorted(future)}"
        vec = ",".join(str(v) for v in run.vc[row])
        assert f"Lamport {int(run.events['lamport'][row])}\n" in c["tip"] and f"vector [{vec}]" in c["tip"], c["tip"]
        assert f"{len(past)} events in its causal past, {len(future)} in its future" in c["status"]
    return run, data, dom


def main():
    exe = chromium()
    if not exe:
        print("SKIP test_viewer: no chromium installed (apt-get install chromium; setup.sh and .ci/run install it)")
        return SKIP
    d = harness.tmpdir()
    profile = os.path.join(d, "profile")
    runs = {}
    for name, np_, args in [("replay", 3, ["replay", os.path.join(DATA, "three_process.txt")]),
                            ("byz", 4, ["byz", "-m", "1", "--traitors", "3", "--strategy", "flip", "--wire", "message",
                                        "--trials", "2"]),
                            ("clocks", 3, ["clocks", "--rates", "3,5,7", "--duration", "3", "--speedup", "3"])]:
        runs[name] = os.path.join(d, name + ".h5")
        harness.run(np_, args + ["-o", runs[name], "-q"])
    # every event of every page clicked; the highlight is happens-before exactly
    for name, path in runs.items():
        run, data, _ = check_page(exe, profile, path, os.path.join(d, name + ".html"))
        print(f"ok {name}: {len(data['ev']['row'])} events clicked in Chromium, each highlight = happens-before")
    # byz: every oral message labelled with its value and path; traitors and decisions in the data
    _, data = page_data(os.path.join(d, "byz.html"))
    with h5py.File(runs["byz"], "r") as f:
        oral = len(f["byz_oral/src"])
    labels = [l for l in data["msg"]["label"] if l]
    assert len(labels) == oral and all(re.fullmatch(r"[AR] 0(>\d)*", l) for l in labels), labels[:5]
    assert data["byz"]["trials"][0]["traitor"] == [0, 0, 0, 1] and data["byz"]["trials"][0]["decision"][0] == -1
    print(f"ok byz: {oral} oral messages labelled with value and path")
    # a fate column (faults): dropped messages are carried to the page and the page still loads
    faulty = os.path.join(d, "faulty.h5")
    shutil.copy(runs["replay"], faulty)
    with h5py.File(faulty, "r+") as f:
        recv = f["messages/recv_event"][...]
        recv[[2, 5]] = -1
        f["messages/recv_event"][...] = recv
        f["messages/fate"][...] = np.where(recv >= 0, 0, 2).astype(np.int8)  # every run file has the column
    page = os.path.join(d, "faulty.html")
    pp.script("viewer.py", [faulty, "-o", page])
    _, data = page_data(page)
    assert sorted(np.flatnonzero(np.array(data["msg"]["fate"]) == 2).tolist()) == [2, 5]
    assert [data["msg"]["recv"][k] for k in (2, 5)] == [-1, -1]
    result, _ = click_all(exe, profile, page)
    assert result["errors"] == []
    print("ok a fate column: dropped messages on the page, no error")
    # faults of a real clocks run: its partition (model seconds) shaded and its crash marked, on the
    # Lamport axis and on the time axis; every highlight still exact around the lost messages
    faults = os.path.join(d, "faults.h5")
    harness.run(3, ["clocks", "--rates", "3,5,7", "--duration", "3", "--speedup", "3", "--partition", "0|1,2@1-2",
                    "--crash", "2@2.5", "-o", faults, "-q"])
    run, data, dom = check_page(exe, profile, faults, os.path.join(d, "faults.html"))
    assert data["faults"]["unit"] == "model seconds"
    assert data["faults"]["partitions"] == [{"groups": [[0], [1, 2]], "from": 1.0, "to": 2.0}], data["faults"]
    assert data["faults"]["crash"] == [-1.0, -1.0, 2.5], data["faults"]
    result, _ = click_all(exe, profile, os.path.join(d, "faults.html"))
    for axis in ("lamport", "time"):
        assert result["faults"][axis] == {"partitions": 1, "crashes": 1}, (axis, result["faults"])
    fate = np.array(data["msg"]["fate"])
    assert np.any(fate == 3), "the run lost no message to its partition"
    # and a run without faults draws none
    assert click_all(exe, profile, os.path.join(d, "replay.html"))[0]["faults"]["time"] == {"partitions": 0, "crashes": 0}
    print("ok faults: a partition shaded and a crash marked on both axes, every highlight exact")
    # --limit: the first events by Lamport clock, a consistent cut, and the page says so
    run, data, dom = check_page(exe, profile, runs["clocks"], os.path.join(d, "limited.html"), limit=20)
    assert len(data["ev"]["row"]) == 20 and data["total_events"] == len(run.events)
    assert f"showing the first 20 of {len(run.events)} events" in dom or data["total_events"] == 20
    # the note is written by the script: the DOM dump shows it
    assert re.search(r'<span id="note">showing the first 20 of \d+ events', dom), "no 'showing the first N' note"
    print("ok --limit 20: a consistent cut, every highlight exact, the page says what it shows")
    # a screenshot of the byz page with a receive selected (README)
    with h5py.File(runs["byz"], "r") as f:
        kind, rank = f["events/kind"][...], f["events/rank"][...]
    row = int(np.flatnonzero((kind == 2) & (rank == 2))[1])
    shot = os.path.join(d, "viewer.png")
    browser(exe, profile, [f"--screenshot={shot}", "--window-size=1000,330", "--hide-scrollbars"],
            "file://" + os.path.join(d, "byz.html") + f"#test=click:{row}")
    pp.check_png(shot, min_bytes=5000)
    if os.environ.get("CONSENSUS_VIEWER_SCREENSHOT"):
        shutil.copy(shot, os.environ["CONSENSUS_VIEWER_SCREENSHOT"])
    print(f"ok screenshot {shot}")
    shutil.rmtree(d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
