"""OM(m) simulated in one process on the eig.h layout (tests/test_eig.c, `simulate`) against the
sequential reference written from the paper (byz_reference.py): every lieutenant's decision, for
every n from 3 to 9, every m the tree allows up to 4, seeded sets of traitors and strategies."""
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import byz_reference as ref  # noqa: E402

STRATEGIES = ("flip", "split", "silent")


def simulate(binary, n, m, commander, order, traitors):
    args = [binary, "simulate", str(n), str(m), str(commander), str(order)]
    args += [f"{r}:{s}" for r, s in sorted(traitors.items())]
    out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout
    return [int(x) for x in out.split()]


def main():
    binary = sys.argv[1]
    rng = random.Random(262)
    cases = 0
    for n in range(3, 10):
        for m in range(0, min(4, n - 1) + 1):
            if ref.closed_form(n, m) > 20000:
                continue
            for _ in range(6):
                commander = rng.randrange(n)
                order = rng.randrange(2)
                count = rng.randrange(0, min(n, m + 2) + 1)
                traitors = {r: rng.choice(STRATEGIES) for r in rng.sample(range(n), count)}
                want = ref.decisions(n, m, commander, order, traitors)
                got = simulate(binary, n, m, commander, order, traitors)
                if got != want:
                    sys.exit(f"n={n} m={m} commander={commander} order={order} traitors={traitors}: "
                             f"EIG simulation {got}, reference {want}")
                cases += 1
    print(f"test_eig_reference: {cases} configurations agree with the reference")


if __name__ == "__main__":
    main()
