"""Hostile ranks (issue 8.2): one rank sends every peer malformed messages of every kind during a
byz run and a clocks run; the loyal ranks finish, decide as the theory says, and count what they
rejected."""
import os

import h5py
import numpy as np

import byz_reference as ref
import clocks_check
import harness


def test_clocks_with_a_hostile_rank():
    for np_, hostile in [(4, 2), (3, 0)]:
        d = harness.tmpdir()
        path = os.path.join(d, "clocks.h5")
        out, _ = harness.run(np_, ["clocks", "--hostile", hostile, "--duration", 3, "--speedup", 3, "--rates", 20,
                                   "-o", path])
        assert "malformed messages from the hostile rank" in out
        clocks_check.check_run(path)  # every invariant of the trace still holds
        with h5py.File(path, "r") as f:
            rejected = f["ranks/rejected"][...].tolist()
        for r in range(np_):
            if r == hostile:
                assert rejected[r] == 0
            else:  # one malformed message per idle step of the hostile rank, all refused
                assert rejected[r] > 10, rejected


def test_byz_with_a_hostile_rank():
    for wire in ["round", "message"]:
        d = harness.tmpdir()
        path = os.path.join(d, "byz.h5")
        harness.run(7, ["byz", "--hostile", 3, "--traitors", 5, "--strategy", "5:flip", "--wire", wire,
                        "--trials", 4, "--expect-agreement", "-q", "-o", path])
        harness.check_schema(path)
        with h5py.File(path, "r") as f:
            decision = f["byz/decision"][...]
            rejected = f["byz/rejected"][...]
            per_rank = f["ranks/rejected"][...]
            traitor = f["byz/traitor"][...]
        want = ref.decisions(7, 2, 0, ref.ATTACK, {3: "garbage", 5: "flip"})
        assert all(row.tolist() == want for row in decision), (decision, want)
        assert traitor[:, 3].all() and traitor[:, 5].all()
        assert np.all(rejected > 0)
        assert per_rank[3] == 0 and all(per_rank[r] > 0 for r in [1, 2, 4, 5, 6])


def test_hostile_bad_input():
    harness.usage_error(4, ["byz", "--hostile", 4], "--hostile: rank 4 does not exist")
    harness.usage_error(4, ["byz", "--hostile", 1, "--strategy", "1:flip"], "--hostile 1 contradicts --strategy 1:flip")
    harness.usage_error(3, ["replay", "x.txt", "--hostile", 1], "does not apply to replay")


if __name__ == "__main__":
    harness.main([test_hostile_bad_input, test_byz_with_a_hostile_rank, test_clocks_with_a_hostile_rank])
