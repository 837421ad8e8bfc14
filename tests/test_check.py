"""postprocess/check.py: real run files of every subcommand are valid (exit 0); copies corrupted
in many ways are each refused (exit 1) with the property and the rows that break it; files that
are no run files are unreadable (exit 2)."""
import os
import shutil
import signal
import subprocess
import time

import h5py
import numpy as np

import harness
import pp_common as pp

DATA = os.path.join(harness.HERE, "data")
CHECK = os.path.join(pp.PP, "check.py")


def check_in_process(path, expect_rc):
    """check.check_run on one file, in this process (the corruption cases are many)."""
    import check as checker
    status, lines = checker.check_run(path)
    out = "\n".join(lines) + "\n"
    assert status == expect_rc, f"check_run {path}: status {status}, expected {expect_rc}\n{out}"
    return out


def check(paths, expect_rc):
    """Runs check.py on paths; asserts the exit status; returns stdout + stderr."""
    p = subprocess.run([pp.PYTHON, CHECK] + list(paths), capture_output=True, text=True,
                       timeout=harness.timeout(300))
    assert p.returncode == expect_rc, f"check.py {paths}: exit {p.returncode}, expected {expect_rc}\n" \
                                      f"{p.stdout}{p.stderr}"
    return p.stdout + p.stderr


def make_runs(d):
    """One real file per kind of run the binary writes."""
    runs = {}

    def run(name, np_, args):
        path = os.path.join(d, name + ".h5")
        harness.run(np_, args + ["-o", path, "-q"])
        runs[name] = path

    run("replay", 3, ["replay", os.path.join(DATA, "three_process.txt")])
    run("byz_message", 4, ["byz", "-m", "1", "--traitors", "2", "--strategy", "flip", "--wire", "message",
                           "--trials", "3"])
    run("byz_silent", 4, ["byz", "-m", "1", "--traitors", "1,2", "--strategy", "1:silent,2:split",
                          "--wire", "message", "--trials", "2"])
    run("byz_round", 7, ["byz", "-t", "2", "--strategy", "random", "--trials", "5"])
    run("byz_fail", 3, ["byz", "-m", "1", "--traitors", "2", "--strategy", "split"])
    # several trace blocks, undelivered messages at the end
    run("clocks", 3, ["clocks", "--rates", "40,80,120", "--duration", "4", "--speedup", "2", "--flush-every", "0.2"])
    run("clocks2", 2, ["clocks", "--duration", "3", "--speedup", "3"])
    run("untraced", 3, ["clocks", "--duration", "2", "--speedup", "4", "--no-trace"])
    runs["stopped"] = stopped_run(d)
    return runs


def stopped_run(d):
    """A clocks run stopped by SIGTERM to its ranks after 3 s (complete = 0): still valid."""
    path = os.path.join(d, "stopped.h5")
    cmd = [harness.MPIEXEC, harness.NP_FLAG, "3"] + harness.PREFLAGS + [
        harness.BIN, "clocks", "--rates", "50", "--duration", "600", "-o", path, "-q"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=harness.mpi_env())
    deadline = time.monotonic() + harness.timeout(60)
    while not os.path.exists(path + ".partial") and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2)
    ranks = []  # mpirun's children: the ranks this test started
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == p.pid:
                    ranks.append(int(pid))
        except OSError:
            pass
    for pid in ranks:
        os.kill(pid, signal.SIGTERM)
    _, err = p.communicate(timeout=harness.timeout(120))
    with h5py.File(path, "r") as f:
        assert int(f.attrs["complete"]) == 0 and int(f.attrs["stopped_by_signal"]) == 1, err
    return path


def put_fate(f, values):
    """Sets /messages/fate (every file of the runtime has it since the fault layer)."""
    if "fate" in f["messages"]:
        f["messages/fate"][...] = values
    else:
        f["messages"].create_dataset("fate", data=values)


def corrupt(src, d, name, change):
    """A copy of src with change(f) applied through h5py."""
    path = os.path.join(d, name + ".h5")
    shutil.copy(src, path)
    with h5py.File(path, "r+") as f:
        change(f)
    return path


def set_at(dataset, index, value):
    a = dataset[...]
    a[index] = value
    dataset[...] = a


def replace(group, name, values):
    """Replaces a dataset by one of another shape or dtype."""
    del group[name]
    group[name] = values


def rows_where(f, group, col, value):
    return np.flatnonzero(f[group][col][...] == value)


def test_real_runs_valid(runs):
    for name, path in runs.items():
        out = check([path], 0)
        assert f"{path}: valid: every property holds" in out, out
    out = check([runs["untraced"]], 0)
    assert "not checked: the trace (run with --no-trace), /clocks against the trace (no trace)" in out, out
    # several files: one verdict each
    out = check(list(runs.values()), 0)
    assert out.count(": valid: ") == len(runs)
    print(f"ok {len(runs)} real runs are valid")


def test_corruptions(runs, d):
    rp, bm, bs, ck = runs["replay"], runs["byz_message"], runs["byz_silent"], runs["clocks"]
    with h5py.File(rp, "r") as f:
        kind = f["events/kind"][...]
        send_row = int(np.flatnonzero(kind == 1)[0])
        recv_row = int(np.flatnonzero(kind == 2)[0])
        recv_rank = int(f["events/rank"][recv_row])
        other = int(np.flatnonzero((kind == 1) & (f["events/rank"][...] != f["messages/src"][0]))[0])
    # (name, file, change, property, text expected in that property's line)
    cases = [
        ("seq", rp, lambda f: set_at(f["events/seq"], 1, 7), "seq", "(/events row 1)"),
        ("seq_dup", rp, lambda f: set_at(f["events/seq"], 2, 1), "seq", "or repeated (/events row 2)"),
        ("lamport_send", rp, lambda f: set_at(f["events/lamport"], send_row, f["events/lamport"][send_row] + 1),
         "lamport", f"rows {send_row}, {send_row + 1}"),
        ("lamport_recv", rp, lambda f: set_at(f["events/lamport"], recv_row, f["events/lamport"][recv_row] + 5),
         "lamport", str(recv_row)),
        ("vc_other_entry", rp, lambda f: set_at(f["events/vc"], (recv_row, (recv_rank + 1) % 3),
                                                f["events/vc"][recv_row, (recv_rank + 1) % 3] + 1),
         "vector-clock", f"rows {recv_row}"),
        ("vc_own_entry", rp, lambda f: set_at(f["events/vc"], (0, 0), 5), "vector-clock", "rows 0"),
        ("kind", rp, lambda f: set_at(f["events/kind"], 3, 7), "values", "kind is not 0, 1 or 2 (/events row 3)"),
        ("rank", rp, lambda f: set_at(f["events/rank"], 3, 9), "values", "rank outside 0..2"),
        ("time_back", rp, lambda f: set_at(f["events/time"], 1, -1.0), "time", "/events row 1"),
        ("n_events", rp, lambda f: set_at(f["ranks/n_events"], 2, 99), "ranks", "n_events differs"),
        ("final_lamport", rp, lambda f: set_at(f["ranks/final_lamport"], 0, 1), "ranks", "final_lamport differs"),
        ("recv_is_send", rp, lambda f: set_at(f["messages/recv_event"], 0, send_row), "message-ends",
         "recv_event is not a receive of rank dst (/messages row 0)"),
        ("send_wrong_rank", rp, lambda f: set_at(f["messages/send_event"], 0, other), "message-ends",
         "send_event is not a send of rank src"),
        ("send_out_of_range", rp, lambda f: set_at(f["messages/send_event"], 1, 1000), "message-ends",
         "outside the events (/messages row 1)"),
        ("dst", rp, lambda f: set_at(f["messages/dst"], 0, f["messages/src"][0]), "message-ends", "src = dst"),
        ("receive_lost", rp, lambda f: set_at(f["messages/recv_event"], 2, -1), "receive-once",
         "receive event of no message or of several"),
        ("receive_twice", rp, lambda f: set_at(f["messages/recv_event"], 3, f["messages/recv_event"][2]),
         "receive-once", "receive event of no message or of several"),
        ("send_without_message", rp, lambda f: set_at(f["messages/send_event"], 0, f["messages/send_event"][1]),
         "send-messages", "send event without a message"),
        ("arrive_early", rp, lambda f: set_at(f["messages/arrive_time"], 4, -1.0), "arrival",
         "arrive_time before the send event's time (/messages row 4)"),
        ("arrive_late", rp, lambda f: set_at(f["messages/arrive_time"], 4, 1e9), "arrival",
         "arrive_time after the receive event's time (/messages row 4)"),
        ("recv_below", rp, lambda f: set_at(f["messages/recv_event"], 0, -3), "conservation", "recv_event below -1"),
        ("fate_delivered_undelivered", rp,
         lambda f: (set_at(f["messages/recv_event"], 0, -1), put_fate(f, np.zeros(8, np.int8))),
         "conservation", "fate 0 (delivered) but recv_event = -1 (/messages row 0)"),
        ("fate_unknown", rp, lambda f: put_fate(f, np.array([0] * 7 + [9], np.int8)),
         "conservation", "fate is not one of 0..5 (0 delivered, 1 undelivered, 2 dropped, 3 partition, 4 crashed, "
                         "5 duplicate) (/messages row 7)"),
        ("fate_orphan_copy", rp, lambda f: put_fate(f, np.array([5, 0, 0, 0, 0, 0, 0, 0], np.int8)),
         "message-ends", "a duplicate copy of a send no first copy has (/messages row 0)"),
        ("fate_lost_but_received", rp,
         lambda f: put_fate(f, np.array([0, 2, 0, 0, 0, 0, 0, 0], np.int8)),
         "conservation", "fate says lost or undelivered but recv_event names a receive (/messages row 1)"),
        ("vc_shape", rp, lambda f: replace(f["events"], "vc", np.zeros((16, 2), np.int64)), "schema",
         "/events/vc has shape (16, 2), expected (16, 3)"),
        ("column_length", rp, lambda f: replace(f["messages"], "bytes", np.zeros(3, np.int32)), "schema",
         "/messages columns differ in length"),
        ("byz_shape", bm, lambda f: replace(f["byz"], "decision", np.zeros((3, 3), np.int8)), "schema",
         "/byz decision: not one row per trial (3 trials of 4 ranks)"),
        # byz
        ("ic1", bm, lambda f: set_at(f["byz/ic1"], 1, 0), "byz", "ic1 differs from the decisions (/byz row 1)"),
        ("ic2", bm, lambda f: set_at(f["byz/ic2"], 2, 0), "byz", "ic2 differs"),
        ("decision", bm, lambda f: set_at(f["byz/decision"], (0, 1), 0), "byz", "ic1 differs from the decisions"),
        ("decision_value", bm, lambda f: set_at(f["byz/decision"], (0, 3), 4), "byz", "decision is not 0/1"),
        ("commander_decides", bm, lambda f: set_at(f["byz/decision"], (1, 0), 1), "byz",
         "the commander's decision is not -1 (/byz row 1)"),
        ("traitor_hidden", bm, lambda f: set_at(f["byz/traitor"], (0, 2), 0), "byz", "a strategy on a loyal general"),
        ("oral_count", bm, lambda f: set_at(f["byz/oral_messages"], 0, 8), "byz",
         "oral_messages differs from the closed form 9"),
        ("oral_above", bs, lambda f: set_at(f["byz/oral_messages"], 0, 10), "byz",
         "oral_messages above the closed form 9"),
        ("closed_form", bm, lambda f: f["byz"].attrs.modify("closed_form", 10), "byz",
         "closed_form is 10, OM(1) among 4 sends 9"),
        ("oral_rows", bs, lambda f: set_at(f["byz/oral_messages"], 1, 6), "byz", "rows per trial differ from "
                                                                                "oral_messages (/byz row 1)"),
        ("oral_send_seq", bm, lambda f: set_at(f["byz_oral/send_seq"], 4, 1000), "byz",
         "no send event of src with send_seq that sent a message to dst (/byz_oral row 4)"),
        ("oral_path", bm, lambda f: set_at(f["byz_oral/path"], (5, 0), 3), "byz", "path does not run from the "
                                                                                  "commander"),
    ]
    # clocks: every column of /clocks recomputed
    for col, delta in [("ticks", 1), ("internal", 1), ("send_next", 1), ("send_second", -1), ("send_all", 1),
                       ("send_events", 1), ("recv_events", -1), ("final_lamport", 1), ("max_jump", 1),
                       ("drift", 1), ("messages_sent", 1), ("messages_received", 1), ("undelivered", 1),
                       ("max_lateness", 1e-3), ("p99_lateness", 1e-3)]:
        cases.append((f"clocks_{col}", ck, lambda f, col=col, delta=delta: set_at(f[f"clocks/{col}"], 1,
                                                                                   f[f"clocks/{col}"][1] + delta),
                      "clocks", f"{col} differs from /events"))
    cases += [
        ("clocks_drift_at", ck, lambda f: set_at(f["clocks/drift_at"], 0, f["clocks/drift_at"][0] + 0.5), "clocks",
         "drift_at differs from /events (/clocks row 0)"),
        ("clocks_rank", ck, lambda f: set_at(f["clocks/rank"], 2, 0), "clocks", "rank is not 0..n-1"),
        ("clocks_rate", ck, lambda f: set_at(f["clocks/tick_rate"], 2, 7.0), "clocks", "tick_rate differs from /ranks"),
        ("clocks_ticks_all", ck, lambda f: f["clocks"].attrs.modify("duration", 5.0), "clocks",
         "ticks is not ceil(duration x tick_rate) in a finished run (/clocks rows 0, 1, 2)"),
        ("ranks_traitor", bm, lambda f: set_at(f["ranks/traitor"], 1, 1), "byz", "traitor differs from the ranks "
                                                                               "that were traitors in some trial "
                                                                               "(/ranks row 1)"),
        ("clocks_max_queue", ck, lambda f: set_at(f["clocks/max_queue"], 0, -1), "clocks", "max_queue below"),
        ("clocks_interval", ck, lambda f: f["clocks"].attrs.modify("sample_interval", 0.5), "clocks",
         "sample_interval 0.5 is not max(duration/65535, 1/fastest rate)"),
    ]
    for name, src, change, prop, needle in cases:
        path = corrupt(src, d, name, change)
        out = check_in_process(path, 1)
        lines = [l for l in out.splitlines() if l.startswith(f"{path}: {prop}: ")]
        assert lines, f"{name}: no '{prop}' line\n{out}"
        assert any(needle in l for l in lines), f"{name}: {needle!r} not in {lines}"
        verdict = out.strip().splitlines()[-1]
        assert verdict.startswith(f"{path}: INVALID: ") and prop in verdict, verdict
        assert "Traceback" not in out
    # a fate column that agrees with the trace is accepted (faults may add it)
    for name, src in (("fate_ok_replay", rp), ("fate_ok_clocks", ck)):
        path = corrupt(src, d, name, lambda f: put_fate(
            f, np.where(f["messages/recv_event"][...] >= 0, 0, 1).astype(np.int8)))
        check_in_process(path, 0)
    # one bad file among good ones: exit 1, each file its verdict
    out = check([rp, os.path.join(d, "ic1.h5"), bm], 1)
    assert out.count(": valid: ") == 2 and out.count(": INVALID: ") == 1
    print(f"ok {len(cases)} corruptions each refused with their property and rows")


def test_unreadable(runs, d):
    text = os.path.join(d, "notes.txt")
    with open(text, "w") as f:
        f.write("not a run\n")
    other = os.path.join(d, "other.h5")
    with h5py.File(other, "w") as f:
        f.attrs["format"] = np.bytes_("someone-else")
    v2 = corrupt(runs["replay"], d, "v2", lambda f: f.attrs.modify("format_version", 2))
    no_events = corrupt(runs["replay"], d, "no_events", lambda f: f.__delitem__("events"))
    no_lamport = corrupt(runs["replay"], d, "no_lamport", lambda f: f["events"].__delitem__("lamport"))
    for path, needle in [(os.path.join(d, "missing.h5"), "no such file"), (text, "not an HDF5 file"),
                         (other, "HDF5 file with format 'someone-else', not a consensus-run file"),
                         (v2, "format_version 2 is not supported"), (no_events, "the run has no /events group"),
                         (no_lamport, "/events lacks lamport"), (d, "is a directory")]:
        out = check([path], 2)
        assert len(out.strip().splitlines()) == 1 and out.startswith(f"{path}: unreadable: {needle}"), out
    # unreadable outranks violated
    check([runs["replay"], os.path.join(d, "ic1.h5"), text], 2)
    print("ok unreadable files: exit 2, one line each")


def main():
    d = harness.tmpdir()
    runs = make_runs(d)
    test_real_runs_valid(runs)
    test_corruptions(runs, d)
    test_unreadable(runs, d)
    out, _ = pp.script("check.py", ["--help"])
    assert "exit 0 valid, 1 violated, 2 unreadable" in out
    shutil.rmtree(d)


if __name__ == "__main__":
    main()
