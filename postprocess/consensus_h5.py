"""Reads a consensus run file (HDF5, format "consensus-run", format_version 1) into pandas and numpy.

The writer is src/h5out.c; the schema is docs/design.md ("HDF5 file"). Everything here only
reads. Typical use:

    import consensus_h5 as ch
    run = ch.open_run("results/replay.h5", need=("events", "messages"))
    run.events            # DataFrame: rank seq kind time lamport peer queue_len model_time
    run.vc                # int64 array [E, n_ranks], row i = vector clock of event i
    run.messages          # DataFrame: src dst send_event recv_event arrive_time bytes (+ fate if present)
    run.faults            # /faults attributes (the fault spec) or None; fates: FATE_NAMES
    run.ranks             # DataFrame: rank hostname tick_rate traitor n_events (+ extras)
    run.byz               # ByzTrials or None (trials DataFrame + traitor/decision matrices)
    ch.happens_before(run.vc[i], run.vc[j])
    ch.concurrent_pairs(run.vc)
    ch.rank_series(run, "lamport")   # {rank: DataFrame(model_time, lamport)}

Bad input (a missing file, a non-HDF5 file, another format, a missing group) raises
RunFileError with one line that says what is wrong; `cli_main` turns it into that line on
stderr and exit status 2, without a traceback.
"""
import argparse
import os
import sys

import h5py
import numpy as np
import pandas as pd

FORMAT = "consensus-run"
FORMAT_VERSION = 1

KIND_NAMES = {0: "internal", 1: "send", 2: "recv"}
INTERNAL, SEND, RECV = 0, 1, 2
ORDER_NAMES = {0: "retreat", 1: "attack"}
FATE_NAMES = {0: "delivered", 1: "undelivered", 2: "dropped", 3: "partition", 4: "crashed", 5: "duplicate"}


def partitions(faults):
    """The --partition specs of /faults as (groups, from, to): groups a list of rank lists."""
    out = []
    for spec in (faults or {}).get("partition", "").split():
        groups, window = spec.split("@")
        lo, hi = window.split("-")
        out.append(([[int(r) for r in g.split(",")] for g in groups.split("|")], float(lo), float(hi)))
    return out
STRATEGY_NAMES = {0: "flip", 1: "split", 2: "random", 3: "silent", 4: "garbage", 5: "forge"}

EVENT_COLUMNS = ["rank", "seq", "kind", "time", "lamport", "peer", "queue_len"]
MESSAGE_COLUMNS = ["src", "dst", "send_event", "recv_event", "arrive_time", "bytes"]
BYZ_TRIAL_COLUMNS = ["commander", "order", "ic1", "ic2", "oral_messages", "mpi_messages", "bytes", "seconds"]


class RunFileError(Exception):
    """A run file that cannot be used, with a one-line reason that names the file."""


def _text(v):
    """An HDF5 attribute as a Python value: bytes → str, numpy scalars → int/float."""
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.size == 1 and v.dtype.kind != "S":
        v = v.reshape(())[()]  # a scalar written as a one-element array
    elif isinstance(v, np.ndarray) and v.shape == ():
        v = v[()]
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.dtype.kind == "S":
        return [x.decode("utf-8", "replace") for x in v.tolist()]
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


class ByzTrials:
    """The /byz group: one row per trial.

    trials: DataFrame with trial, commander, order, ic1, ic2, oral_messages, mpi_messages,
    bytes, seconds (the columns the file has). traitor: uint8 [T, n]; decision: int8 [T, n]
    (-1 for the commander); strategy: int8 [T, n] codes (STRATEGY_NAMES, -1 loyal) or None
    when the file names no strategy; attrs: m, wire, default_value (and any others).
    """

    def __init__(self, trials, traitor, decision, strategy, attrs):
        self.trials = trials
        self.traitor = traitor
        self.decision = decision
        self.strategy = strategy
        self.attrs = attrs

    def strategy_text(self, t):
        """The strategies of trial t's traitors: 'flip', or '2:flip,5:silent' when they differ, or '-'."""
        traitors = np.flatnonzero(self.traitor[t])
        if len(traitors) == 0:
            return "-"
        if self.strategy is None:
            return "?"
        names = [STRATEGY_NAMES.get(int(self.strategy[t, r]), str(int(self.strategy[t, r]))) for r in traitors]
        if len(set(names)) == 1:
            return names[0]
        return ",".join(f"{r}:{s}" for r, s in zip(traitors, names))


class Run:
    """One run file, read completely. See the module docstring for the fields."""

    def __init__(self, path):
        self.path = path
        self.attrs = {}
        self.n_ranks = 0
        self.ranks = None
        self.events = None
        self.vc = None
        self.messages = None
        self.byz = None
        self.groups = {}  # other groups (e.g. /clocks): name -> DataFrame of its 1-D columns
        self.faults = None  # /faults attributes (drop, duplicate, delay_mean, partition, crash, time_unit) or None

    @property
    def subcommand(self):
        return str(self.attrs.get("subcommand", ""))

    @property
    def speedup(self):
        return float(self.attrs.get("speedup", 1.0))

    @property
    def complete(self):
        return int(self.attrs.get("complete", 0)) == 1

    @property
    def name(self):
        """The file name without directory and extension, for output names and titles."""
        base = os.path.basename(self.path)
        for ext in (".partial", ".h5", ".hdf5"):
            if base.endswith(ext):
                base = base[: -len(ext)]
        return base

    def rank_names(self):
        """Display names: A, B, C, … for replay runs (the script's names), P0, P1, … otherwise."""
        if self.subcommand == "replay" and self.n_ranks <= 26:
            return [chr(ord("A") + r) for r in range(self.n_ranks)]
        return [f"P{r}" for r in range(self.n_ranks)]

    def event_ids(self):
        """A short unique id per event row: A1, A2, … (replay) or P0_1, P0_2, …; 1-based local index."""
        names = self.rank_names()
        sep = "" if self.subcommand == "replay" and self.n_ranks <= 26 else "_"
        r = self.events["rank"].to_numpy()
        s = self.events["seq"].to_numpy()
        return [f"{names[a]}{sep}{b + 1}" for a, b in zip(r, s)]


def _columns(f, path, group, names, required):
    """Reads the 1-D columns of a group into a dict; a missing required column is a RunFileError."""
    g = f[group]
    out = {}
    for c in names:
        if c in g:
            out[c] = g[c][...]
        elif required:
            raise RunFileError(f"{path}: /{group}/{c} is missing (not a format_version {FORMAT_VERSION} run file?)")
    return out


def open_run(path, need=()):
    """Opens and reads a run file; need names groups that must be present ('events', 'messages',
    'byz', 'ranks'). Raises RunFileError for a missing or unreadable file, another format or
    version, or a missing group. A run that did not finish cleanly (complete=0) is read with a
    warning on stderr."""
    if not os.path.exists(path):
        raise RunFileError(f"{path}: no such file")
    if os.path.isdir(path):
        raise RunFileError(f"{path}: is a directory, not a run file")
    try:
        if not h5py.is_hdf5(path):
            raise RunFileError(f"{path}: not an HDF5 file (expected a consensus run file)")
        f = h5py.File(path, "r")
    except RunFileError:
        raise
    except OSError as e:
        raise RunFileError(f"{path}: cannot open: {e}") from None
    with f:
        attrs = {k: _text(v) for k, v in f.attrs.items()}
        fmt = attrs.get("format")
        if fmt != FORMAT:
            what = f"format '{fmt}'" if fmt is not None else "no 'format' attribute"
            raise RunFileError(f"{path}: HDF5 file with {what}, not a {FORMAT} file")
        version = attrs.get("format_version")
        if version != FORMAT_VERSION:
            raise RunFileError(f"{path}: format_version {version} is not supported (this reader reads {FORMAT_VERSION})")
        for g in need:
            if g not in f or not isinstance(f[g], h5py.Group):
                raise RunFileError(f"{path}: the run has no /{g} group (subcommand "
                                   f"'{attrs.get('subcommand', '?')}'); this analysis needs it")
        run = Run(path)
        run.attrs = attrs
        run.n_ranks = int(attrs.get("n_ranks", 0))
        if "ranks" in f:
            cols = {c: f["ranks"][c][...] for c in f["ranks"] if f["ranks"][c].ndim == 1}
            if "hostname" in cols:
                cols["hostname"] = [_text(h) for h in cols["hostname"]]
            run.ranks = pd.DataFrame(cols)
            if not run.n_ranks:
                run.n_ranks = len(run.ranks)
        if "events" in f:
            ev = _columns(f, path, "events", EVENT_COLUMNS, True)
            if "vc" not in f["events"]:
                raise RunFileError(f"{path}: /events/vc is missing")
            run.vc = f["events"]["vc"][...].astype(np.int64)
            E = len(ev["rank"])
            if run.vc.shape != (E, run.n_ranks) and E > 0:
                raise RunFileError(f"{path}: /events/vc has shape {run.vc.shape}, expected ({E}, {run.n_ranks})")
            run.vc = run.vc.reshape(E, run.n_ranks)
            run.events = pd.DataFrame(ev)
            run.events["model_time"] = run.events["time"] * run.speedup
        if "messages" in f:
            # fate (faults: 0 delivered, 1 undelivered, 2 dropped, 3 partition, 4 crashed, 5 duplicate)
            # is read when the file has it; no file needs it
            run.messages = pd.DataFrame(_columns(f, path, "messages", MESSAGE_COLUMNS + ["fate"], False))
            missing = [c for c in MESSAGE_COLUMNS if c not in run.messages]
            if missing:
                raise RunFileError(f"{path}: /messages/{missing[0]} is missing (not a format_version "
                                   f"{FORMAT_VERSION} run file?)")
        if "byz" in f:
            run.byz = _read_byz(f, path, run.n_ranks)
        if "faults" in f:
            run.faults = {k: _text(v) if isinstance(v, (bytes, str)) else v for k, v in f["faults"].attrs.items()}
        for name in f:
            if name not in ("ranks", "events", "messages", "byz") and isinstance(f[name], h5py.Group):
                cols = {c: f[name][c][...] for c in f[name]
                        if isinstance(f[name][c], h5py.Dataset) and f[name][c].ndim == 1}
                lens = {len(v) for v in cols.values()}
                if cols and len(lens) == 1:
                    run.groups[name] = pd.DataFrame(cols)
    if run.events is not None and len(run.events) == 0 and "events" in need:
        print(f"note: {path} has no events (run with --no-trace?): the output will be empty", file=sys.stderr)
    if not run.complete:
        print(f"warning: {path}: complete=0 (the run was stopped or crashed); reading what it holds",
              file=sys.stderr)
    return run


def _read_byz(f, path, n):
    g = f["byz"]
    attrs = {k: _text(v) for k, v in g.attrs.items()}
    cols = _columns(f, path, "byz", ["commander", "order", "ic1", "ic2"], True)
    cols.update(_columns(f, path, "byz", ["oral_messages", "mpi_messages", "bytes", "seconds"], False))
    T = len(cols["commander"])
    for c in ("traitor", "decision"):
        if c not in g:
            raise RunFileError(f"{path}: /byz/{c} is missing")
    traitor = g["traitor"][...].astype(np.uint8).reshape(T, n)
    decision = g["decision"][...].astype(np.int8).reshape(T, n)
    # the writer's strategy matrix: int8 [T, n], -1 for a loyal general (absent in older files)
    strategy = g["strategy"][...].astype(np.int8).reshape(T, n) if "strategy" in g else None
    trials = pd.DataFrame({"trial": np.arange(T), **cols})
    return ByzTrials(trials, traitor, decision, strategy, attrs)


# --- happens-before from vector clocks ------------------------------------------------------

def happens_before(va, vb):
    """True when the event with vector clock va happened before the one with vb (va ≤ vb, va ≠ vb)."""
    va, vb = np.asarray(va), np.asarray(vb)
    return bool(np.all(va <= vb) and np.any(va < vb))


def concurrent(va, vb):
    """True when neither event happened before the other and they are different events."""
    return not happens_before(va, vb) and not happens_before(vb, va) and not np.array_equal(va, vb)


def hb_matrix(vc):
    """hb[i, j] = event i happened before event j, for all pairs (E×E booleans; for small traces)."""
    vc = np.asarray(vc)
    le = np.all(vc[:, None, :] <= vc[None, :, :], axis=2)
    lt = np.any(vc[:, None, :] < vc[None, :, :], axis=2)
    return le & lt


def concurrent_pairs(vc):
    """Index pairs (i, j), i < j, of concurrent events, as an int array [K, 2] (all-pairs: O(E²))."""
    hb = hb_matrix(vc)
    conc = ~hb & ~hb.T
    np.fill_diagonal(conc, False)
    i, j = np.nonzero(np.triu(conc, 1))
    return np.stack([i, j], axis=1)


def hb_edges(run, reduce=True):
    """The happens-before graph as a list of (from_row, to_row, kind) with kind 'program' or
    'message'. With reduce=True only the edges of the transitive reduction are kept.

    1. Direct edges: consecutive events of one rank (program order) and send → receive of
       every delivered message. Every happens-before pair is a path of direct edges, so the
       reduction is a subset of them.
    2. An edge u → v is implied by others exactly when another direct predecessor p of v has
       u ≤ p (u is p or happened before it): then u → … → p → v is a longer path.
    3. u ≤ p is read from the vector clocks: u ≤ p iff V(u)[rank u] ≤ V(p)[rank u].
    """
    ev = run.events
    rank = ev["rank"].to_numpy()
    vc = run.vc
    preds = {}  # event row -> list of (pred row, kind)
    # 1. program order, in each rank's local order
    order = np.lexsort((ev["seq"].to_numpy(), rank))
    for a, b in zip(order[:-1], order[1:]):
        if rank[a] == rank[b]:
            preds.setdefault(int(b), []).append((int(a), "program"))
    msg = run.messages
    for s, r in zip(msg["send_event"].to_numpy(), msg["recv_event"].to_numpy()):
        if r >= 0:
            preds.setdefault(int(r), []).append((int(s), "message"))
    edges = []
    for v in sorted(preds):
        for u, kind in preds[v]:
            # 2.-3. drop u -> v when u <= p for another predecessor p of v
            implied = reduce and any(p != u and vc[u, rank[u]] <= vc[p, rank[u]] for p, _ in preds[v])
            if not implied:
                edges.append((u, v, kind))
    return edges


# --- per-rank series ------------------------------------------------------------------------

def rank_series(run, column, x="model_time"):
    """{rank: DataFrame with columns x and column}, each in the rank's local order (every rank of
    the run, empty for a rank without events)."""
    ev = run.events.sort_values(["rank", "seq"])
    out = {r: g[[x, column]].reset_index(drop=True) for r, g in ev.groupby("rank")}
    empty = pd.DataFrame({x: pd.Series(dtype=float), column: pd.Series(dtype=ev[column].dtype)})
    return {r: out.get(r, empty) for r in range(run.n_ranks)}


# --- command-line helpers shared by the scripts ---------------------------------------------

def output_is_file(out, ext, n_runs):
    """Whether -o OUT names the output file itself (True) or a directory that gets one file per
    run (False). OUT is the file when one run is given and OUT ends in one of ext (case-insensitive)
    and is not an existing directory. Any other OUT with an extension is refused rather than made
    into a directory of that name (clocks_plot.py run.h5 -o c3.png once made a directory c3.png):
    with several runs it must be a directory, and an unknown extension is a mistake."""
    if os.path.isdir(out):
        return False
    suffix = os.path.splitext(out.rstrip("/"))[1].lower()
    if out.endswith("/") or not suffix:
        return False
    if suffix in ext:
        if n_runs != 1:
            raise RunFileError(f"-o {out}: {n_runs} runs need a directory (one file per run), not a {suffix} file")
        d = os.path.dirname(out)
        if d and not os.path.isdir(d):
            raise RunFileError(f"{out}: directory {d} does not exist")
        return True
    raise RunFileError(f"-o {out}: '{suffix}' is not an output type here ({', '.join(ext)}, or a directory: "
                       f"end it with / to make one of that name)")


def output_for(out, run, ext, n_runs):
    """Where one run's output goes: OUT itself when output_is_file, else OUT/<run name><ext[0]>
    (the directory is made if missing)."""
    if output_is_file(out, ext, n_runs):
        return out
    os.makedirs(out, exist_ok=True)
    return os.path.join(out, run.name + ext[0])


def claim_outputs(paths, force, named=()):
    """Checks, before anything is written, that every output may be written: a path the user named
    with -o (in named) may be replaced when it is a regular file; any other existing path (a file
    per run in a directory, a rendered image, a summary) only with --force, and only a regular
    file. Two outputs with one name are refused. Raises RunFileError with one line."""
    seen = set()
    for p in paths:
        real = os.path.realpath(p)
        if real in seen:
            raise RunFileError(f"{p}: two outputs would have this name (runs with the same file name?)")
        seen.add(real)
        if not os.path.lexists(p):
            continue
        if os.path.islink(p) or not os.path.isfile(p):
            raise RunFileError(f"{p}: exists and is not a regular file; not replaced")
        if p not in named and not force:
            raise RunFileError(f"{p}: exists and was not named by -o; --force replaces it")


def cli_main(main):
    """Runs main(); a RunFileError or an unwritable output is one line on stderr and exit 2."""
    prog = os.path.basename(sys.argv[0])
    try:
        rc = main()
    except RunFileError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        sys.exit(2)
    except OSError as e:
        print(f"{prog}: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(rc or 0)


def script_parser(doc, runs_help, output_help, output_metavar="OUT"):
    """The command line every postprocess script shares: its docstring as --help (first paragraph
    as the description, the rest as the epilog), one or more RUN.h5 files and -o OUT."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n\n".join(doc.split("\n\n")[1:]))
    ap.add_argument("runs", nargs="+", metavar="RUN.h5", help=runs_help)
    ap.add_argument("-o", "--output", required=True, metavar=output_metavar, help=output_help)
    ap.add_argument("--force", action="store_true",
                    help="replace existing files that -o did not name itself (files in a directory, renders)")
    return ap
