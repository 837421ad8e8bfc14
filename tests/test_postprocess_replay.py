"""postprocess/ on real replay runs: the reader, the space-time diagram, the happens-before
graph (exact transitive reduction of tests/data/three_process.txt), the ShiViz export, and
bad input for every script."""
import json
import os
import re
import shutil
import subprocess

import numpy as np

import harness
import pp_common as pp

DATA = os.path.join(harness.HERE, "data")

# The happens-before graph of three_process.txt, worked out by hand. Events are named by
# rank and 1-based local index (three_process.expected lists them in order):
#   A: A1 recv<-B  A2 send->C  A3 send->B,C  A4 recv<-C  A5 send->B
#   B: B1 recv<-C  B2 send->A  B3 internal   B4 recv<-A  B5 send->C  B6 recv<-A
#   C: C1 send->B  C2 recv<-A  C3 recv<-A    C4 send->A  C5 recv<-B
# Direct edges: 4+5+4 program-order edges and 8 message edges = 21. Two are implied by
# longer paths and drop out of the transitive reduction:
#   A3 -> A4: A3 -> C3 -> C4 -> A4 (A's multicast reaches C, whose reply A4 receives)
#   C1 -> C2: C1 -> B1 -> B2 -> A1 -> A2 -> C2 (C's first send comes back round via B and A)
# No other receive has a second predecessor that happened after the first (B4: B3 [0,3,1]
# and A3 [3,2,1] are concurrent; likewise B6, C3, C5).
PROGRAM = {("A1", "A2"), ("A2", "A3"), ("A4", "A5"),
           ("B1", "B2"), ("B2", "B3"), ("B3", "B4"), ("B4", "B5"), ("B5", "B6"),
           ("C2", "C3"), ("C3", "C4"), ("C4", "C5")}
MESSAGES = {("C1", "B1"), ("B2", "A1"), ("A2", "C2"), ("A3", "B4"), ("A3", "C3"),
            ("C4", "A4"), ("B5", "C5"), ("A5", "B6")}
REDUCED = PROGRAM | MESSAGES
IMPLIED = {("A3", "A4"), ("C1", "C2")}


def replay(d, name="three_process.txt", np_=3):
    path = os.path.join(d, os.path.splitext(name)[0] + ".h5")
    harness.run(np_, ["replay", os.path.join(DATA, name), "-o", path, "-q"])
    return path


def dot_edges(text):
    """The edges of DOT text, names quoted or not (python3-graphviz quotes only when it must)."""
    return set(re.findall(r'^\s*"?([^"\s]+)"? -> "?([^"\s]+?)"?(?: \[|$)', text, re.M))


def nx_reduction(run):
    """networkx's transitive reduction of the direct edges (program order and messages), by row."""
    import networkx as nx
    import consensus_h5 as ch
    g = nx.DiGraph()
    g.add_nodes_from(range(len(run.events)))
    g.add_edges_from((u, v) for u, v, _ in ch.hb_edges(run, reduce=False))
    return set(nx.transitive_reduction(g).edges())


def test_reader():
    import consensus_h5 as ch
    d = harness.tmpdir()
    run = ch.open_run(replay(d), need=("events", "messages"))
    assert run.n_ranks == 3 and run.subcommand == "replay" and run.complete
    assert list(run.events.columns[:7]) == ch.EVENT_COLUMNS and "model_time" in run.events
    assert run.vc.shape == (16, 3) and len(run.messages) == 8
    assert run.event_ids()[:6] == ["A1", "A2", "A3", "A4", "A5", "B1"]
    ids = run.event_ids()
    at = {e: i for i, e in enumerate(ids)}
    vc = run.vc
    assert ch.happens_before(vc[at["C1"]], vc[at["A5"]])
    assert not ch.happens_before(vc[at["A5"]], vc[at["C1"]])
    assert ch.concurrent(vc[at["B3"]], vc[at["A3"]]) and not ch.concurrent(vc[at["A3"]], vc[at["B4"]])
    # the vector-clock relation equals reachability over the direct edges (independent check)
    reach = np.zeros((16, 16), bool)
    for u, v in REDUCED | IMPLIED:
        reach[at[u], at[v]] = True
    for k in range(16):
        reach |= reach[:, [k]] & reach[[k], :]
    assert np.array_equal(ch.hb_matrix(vc), reach)
    pairs = ch.concurrent_pairs(vc)
    assert len(pairs) == int(np.sum(~reach & ~reach.T)) // 2 - 8  # minus the diagonal (16 / 2)
    named = {(ids[i], ids[j]) for i, j in pairs}
    assert ("A3", "B3") in named and ("A3", "B4") not in named and ("B3", "A3") not in named
    series = ch.rank_series(run, "lamport")
    assert series[1]["lamport"].tolist() == [2, 3, 4, 7, 8, 11]


def test_hbgraph_exact_reduction():
    d = harness.tmpdir()
    run = replay(d)
    out = os.path.join(d, "hb.dot")
    stdout, _ = pp.script("hbgraph.py", [run, "-o", out, "--vc", "--render", "png"])
    with open(out) as f:
        text = f.read()
    assert text.startswith('digraph three_process {')
    edges = dot_edges(text)
    assert edges == REDUCED, f"extra {edges - REDUCED}, missing {REDUCED - edges}"
    assert len(edges) == 19
    assert 'A4 [label="A4\\n[4,2,4]"' in text  # vector-clock labels
    full = os.path.join(d, "full.dot")
    pp.script("hbgraph.py", [run, "-o", full, "--full", "--render", "pdf"])
    with open(full) as f:
        assert dot_edges(f.read()) == REDUCED | IMPLIED
    assert f"wrote {os.path.join(d, 'hb.png')}" in stdout
    pp.check_png(os.path.join(d, "hb.png"))
    with open(os.path.join(d, "full.pdf"), "rb") as f:
        assert f.read(5) == b"%PDF-"
    # dot itself accepts the file and sees 16 nodes and 19 edges
    p = subprocess.run(["dot", "-Tplain", out], capture_output=True, text=True, check=True)
    plain = p.stdout.splitlines()
    assert sum(l.startswith("node ") for l in plain) == 16
    assert sum(l.startswith("edge ") for l in plain) == 19
    # the reduction is networkx's too
    import consensus_h5 as ch
    r = ch.open_run(run)
    ids = r.event_ids()
    assert {(ids[u], ids[v]) for u, v in nx_reduction(r)} == REDUCED


def test_reduction_matches_networkx():
    """The reduction read off the vector clocks equals networkx.transitive_reduction of the direct
    edges, on real runs of every shape: replay scripts, byz message mode, clocks."""
    import consensus_h5 as ch
    d = harness.tmpdir()
    files = [replay(d), replay(d, "four_process_numbers.txt", 4)]
    for name, np_, args in [("byz", 5, ["byz", "-m", "1", "--traitors", "2", "--strategy", "split", "--wire",
                                        "message", "--trials", "2"]),
                            ("clocks", 4, ["clocks", "--rates", "5,7,9,11", "--duration", "3", "--speedup", "3"])]:
        path = os.path.join(d, name + ".h5")
        harness.run(np_, args + ["-o", path, "-q"])
        files.append(path)
    for path in files:
        run = ch.open_run(path, need=("events", "messages"))
        ours = {(u, v) for u, v, _ in ch.hb_edges(run, reduce=True)}
        theirs = nx_reduction(run)
        assert ours == theirs, f"{path}: extra {ours - theirs}, missing {theirs - ours}"
        print(f"ok reduction of {os.path.basename(path)}: {len(ours)} edges, as networkx")


def check_shiviz(path, run):
    """The ShiViz rules: regex header line, empty delimiter line, then per event a
    `host {json clock}` line and an event line; each host's own entry starts at 1 and rises by
    exactly one per event; every host is in its own clock; the header regex parses the log."""
    with open(path) as f:
        text = f.read()
    lines = text.split("\n")
    assert lines[0] == r"(?<host>\S*) (?<clock>{.*})\n(?<event>.*)" and lines[1] == ""
    body = lines[2:]
    assert body[-1] == "" and len(body[:-1]) % 2 == 0
    body = body[:-1]
    own = {}
    seen = []
    for k in range(0, len(body), 2):
        m = re.fullmatch(r"(\S+) (\{.*\})", body[k])
        assert m, f"bad host line {body[k]!r}"
        host, clock = m.group(1), json.loads(m.group(2))
        assert host in clock, f"{host} not in its own clock {clock}"
        assert clock[host] == own.get(host, 0) + 1, f"{host}: {clock[host]} after {own.get(host, 0)}"
        own[host] = clock[host]
        assert all(v >= 1 for v in clock.values())
        assert body[k + 1] and not body[k + 1].startswith("{")
        seen.append((host, clock))
    # ShiViz's JavaScript regex, in Python syntax, parses the same log into the same events
    pyre = re.compile(lines[0].replace("(?<", "(?P<").replace(r"\n", "\n"))
    parsed = [(m.group("host"), json.loads(m.group("clock"))) for m in pyre.finditer("\n".join(body))]
    assert parsed == seen
    # the clocks are the file's vector clocks, one line per event
    names = run.rank_names()
    want = sorted((names[r], tuple(v)) for r, v in zip(run.events["rank"], run.vc.tolist()))
    got = sorted((h, tuple(c.get(nm, 0) for nm in names)) for h, c in seen)
    assert got == want
    return seen


def test_shiviz():
    import consensus_h5 as ch
    d = harness.tmpdir()
    path = replay(d)
    out = os.path.join(d, "run.log")
    stdout, _ = pp.script("shiviz.py", [path, "-o", out])
    assert stdout == f"wrote {out} (16 events)\n"
    seen = check_shiviz(out, ch.open_run(path))
    assert seen[0] == ("C", {"C": 1}) and seen[1] == ("B", {"B": 1, "C": 1})
    assert {h for h, _ in seen} == {"A", "B", "C"}
    # several runs into a directory; the 4-rank script too
    p4 = replay(d, "four_process_numbers.txt", 4)
    outdir = os.path.join(d, "logs")
    pp.script("shiviz.py", [path, p4, "-o", outdir])
    check_shiviz(os.path.join(outdir, "four_process_numbers.log"), ch.open_run(p4))
    # a trace that breaks ShiViz's own-entry rule is refused with one line
    import h5py
    broken = os.path.join(d, "broken.h5")
    shutil.copy(path, broken)
    with h5py.File(broken, "r+") as f:
        f["events/vc"][0, 0] = 7
    _, err = pp.script("shiviz.py", [broken, "-o", os.path.join(d, "b.log")], expect_rc=2)
    assert "own clock entry 7, expected 1" in err and len(err.strip().splitlines()) == 1


def test_spacetime():
    d = harness.tmpdir()
    path = replay(d)
    out = os.path.join(d, "st.png")
    stdout, _ = pp.script("spacetime.py", [path, "-o", out, "--vc"])
    assert stdout == f"wrote {out} (16 events, 8 messages, 0 undelivered)\n"
    h, w = pp.check_png(out)
    assert w > h
    # SVG keeps the text: the rank names and every vector clock label are in the picture
    svg = os.path.join(d, "st.svg")
    pp.script("spacetime.py", [path, "-o", svg, "--vc"])
    with open(svg) as f:
        text = f.read()
    for label in ["[0,0,1]", "[3,2,3]", "[5,6,4]", "Lamport clock", ">A<", ">B<", ">C<"]:
        assert label in text, label
    # an undelivered message is drawn as such, not as an arrow
    import h5py
    lost = os.path.join(d, "lost.h5")
    shutil.copy(path, lost)
    with h5py.File(lost, "r+") as f:
        f["messages/recv_event"][7] = -1
    stdout, _ = pp.script("spacetime.py", [lost, "-o", os.path.join(d, "lost.png")])
    assert stdout.endswith("(16 events, 7 messages, 1 undelivered)\n")
    pp.script("spacetime.py", [path, "-o", os.path.join(d, "st.pdf"), "--x", "time"])
    with open(os.path.join(d, "st.pdf"), "rb") as f:
        assert f.read(5) == b"%PDF-"
    outdir = os.path.join(d, "many")
    pp.script("spacetime.py", [path, replay(d, "four_process_numbers.txt", 4), "-o", outdir])
    assert sorted(os.listdir(outdir)) == ["four_process_numbers.png", "three_process.png"]
    pp.check_png(os.path.join(outdir, "four_process_numbers.png"))


def test_help_and_bad_input():
    d = harness.tmpdir()
    path = replay(d)
    for name, needle in [("spacetime.py", "space-time"), ("hbgraph.py", "transitive reduction"),
                         ("shiviz.py", "ShiViz"), ("clocks_plot.py", "drift"), ("byz_table.py", "agreement"),
                         ("viewer.py", "self-contained HTML"), ("collect.py", "sweep")]:
        pp.check_help(name, needle)
        if name == "byz_table.py":
            pp.check_bad_inputs(name, wrong_group_file=path, group="byz")
        elif name == "collect.py":
            continue  # its own refusals are in test_collect.py
        else:
            pp.check_bad_inputs(name)
    # an output directory that does not exist is one clear line too
    _, err = pp.script("shiviz.py", [path, "-o", os.path.join(d, "no", "dir", "x.log")], expect_rc=2)
    assert err.strip() == f"shiviz.py: {os.path.join(d, 'no', 'dir', 'x.log')}: directory {os.path.join(d, 'no', 'dir')} does not exist"


if __name__ == "__main__":
    harness.main([test_reader, test_hbgraph_exact_reduction, test_reduction_matches_networkx, test_shiviz, test_spacetime, test_help_and_bad_input])
