"""Every postprocess script writes exactly where -o says: with one run `-o x.png` is that file (no
directory named x.png), several runs need a directory, an unknown extension is refused, and no
script replaces a file that -o did not name (hbgraph renders only with --render) without --force."""
import hashlib
import os

import harness
import pp_common as pp
import synth_runs

DATA = os.path.join(harness.HERE, "data")


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def listing(d):
    return sorted(os.listdir(d))


def one_line_error(name, args, needle):
    _, err = pp.script(name, args, expect_rc=2)
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith(name + ": ") and needle in lines[0], lines
    return lines[0]


def test_one_run_one_file(runs, d):
    """-o FILE with one run writes that file and nothing else beside it."""
    cases = [("spacetime.py", runs["replay"], "st.svg"), ("hbgraph.py", runs["replay"], "hb.gv"),
             ("shiviz.py", runs["replay"], "sv.log"), ("clocks_plot.py", runs["clocks"], "c3.png"),
             ("clocks_plot.py", runs["clocks"], "c3.PDF"), ("clocks_plot.py", runs["clocks"], "c3.csv"),
             ("byz_table.py", runs["byz"], "agree.png"), ("byz_table.py", runs["byz"], "trials.csv"),
             ("viewer.py", runs["replay"], "view.html")]
    for name, run, out in cases:
        sub = os.path.join(d, "one-" + name.replace(".py", "") + "-" + out.replace(".", "_"))
        os.makedirs(sub)
        path = os.path.join(sub, out)
        pp.script(name, [run, "-o", path])
        assert os.path.isfile(path), f"{name} -o {out}: {path} is not a file"
        assert listing(sub) == [out], f"{name} -o {out} wrote {listing(sub)}"
        # the named file itself may be written again (the user named it)
        pp.script(name, [run, "-o", path])
    print(f"ok {len(cases)} single-file outputs are exactly the file -o names")


def test_refusals(runs, d):
    sub = os.path.join(d, "refuse")
    os.makedirs(sub)
    two = [runs["replay"], runs["replay4"]]
    for name, ext in [("spacetime.py", ".png"), ("hbgraph.py", ".dot"), ("shiviz.py", ".log"),
                      ("clocks_plot.py", ".svg"), ("viewer.py", ".html")]:
        files = [runs["clocks"], runs["clocks2"]] if name == "clocks_plot.py" else two
        one_line_error(name, files + ["-o", os.path.join(sub, "x" + ext)], "2 runs need a directory")
        one_line_error(name, files[:1] + ["-o", os.path.join(sub, "x.jpg")], "'.jpg' is not an output type here")
    assert listing(sub) == [], f"a refused -o left {listing(sub)}"
    print("ok several runs into one file, and unknown extensions, are refused and create nothing")


def test_no_silent_overwrite(runs, d):
    """The bug of issue 16: hbgraph -o r.dot rendered r.png over the space-time diagram."""
    sub = os.path.join(d, "spacetime-first")
    os.makedirs(sub)
    png, dot = os.path.join(sub, "r.png"), os.path.join(sub, "r.dot")
    pp.script("spacetime.py", [runs["replay"], "-o", png])
    before = digest(png)
    out, _ = pp.script("hbgraph.py", [runs["replay"], "-o", dot])
    assert out == f"wrote {dot}\n" and digest(png) == before and listing(sub) == ["r.dot", "r.png"]
    one_line_error("hbgraph.py", [runs["replay"], "-o", dot, "--render", "png,pdf"],
                   f"{png}: exists and was not named by -o; --force replaces it")
    assert digest(png) == before and listing(sub) == ["r.dot", "r.png"], "a refused render wrote something"
    pp.script("hbgraph.py", [runs["replay"], "-o", dot, "--render", "png,pdf", "--force"])
    assert digest(png) != before and listing(sub) == ["r.dot", "r.pdf", "r.png"]
    # files in a directory: a second run of each script refuses, changes nothing, and --force replaces
    for name, files in [("spacetime.py", [runs["replay"], runs["replay4"]]),
                        ("hbgraph.py", [runs["replay"], runs["replay4"]]),
                        ("shiviz.py", [runs["replay"], runs["replay4"]]),
                        ("clocks_plot.py", [runs["clocks"], runs["clocks2"]]),
                        ("byz_table.py", [runs["byz"]]),
                        ("viewer.py", [runs["replay"], runs["replay4"]])]:
        out = os.path.join(d, "dir-" + name.replace(".py", ""))
        pp.script(name, files + ["-o", out])
        made = {f: digest(os.path.join(out, f)) for f in listing(out)}
        assert made, f"{name} wrote nothing into {out}"
        one_line_error(name, files + ["-o", out], "exists and was not named by -o; --force replaces it")
        assert {f: digest(os.path.join(out, f)) for f in listing(out)} == made
        pp.script(name, files + ["-o", out, "--force"])
        assert listing(out) == sorted(made)
    # never anything but a regular file, even with --force
    link = os.path.join(d, "link.log")
    os.symlink(os.path.join(d, "elsewhere.log"), link)
    one_line_error("shiviz.py", [runs["replay"], "-o", link, "--force"], "exists and is not a regular file")
    assert not os.path.exists(os.path.join(d, "elsewhere.log"))
    print("ok no script replaces a file -o did not name without --force; hbgraph renders only on --render")


def main():
    d = harness.tmpdir()
    runs = {"replay": os.path.join(d, "replay.h5"), "replay4": os.path.join(d, "replay4.h5"),
            "clocks": os.path.join(d, "clocks-a.h5"), "clocks2": os.path.join(d, "clocks-b.h5"),
            "byz": os.path.join(d, "byz-four.h5")}
    harness.run(3, ["replay", os.path.join(DATA, "three_process.txt"), "-o", runs["replay"], "-q"])
    harness.run(4, ["replay", os.path.join(DATA, "four_process_numbers.txt"), "-o", runs["replay4"], "-q"])
    synth_runs.write_clocks(runs["clocks"])
    synth_runs.write_clocks(runs["clocks2"])
    synth_runs.write_byz_four(runs["byz"])
    test_one_run_one_file(runs, d)
    test_refusals(runs, d)
    test_no_silent_overwrite(runs, d)


if __name__ == "__main__":
    main()
