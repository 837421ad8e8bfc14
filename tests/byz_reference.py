"""A sequential reference of OM(m), written from the paper's recursive definition (not from the
EIG code it checks): predicts the decision of every lieutenant for the deterministic strategies.

Lamport, Shostak, Pease (1982), algorithm OM(m):
  OM(0): the commander sends its value to every lieutenant; each uses the value it receives,
         or RETREAT if it receives none.
  OM(m), m > 0: (1) the commander sends its value to every lieutenant; (2) each lieutenant i
         acts as the commander in OM(m-1), sending the value v_i it received (RETREAT if none)
         to the other n-2 lieutenants; (3) each lieutenant i takes majority(v_i, v_j for j != i)
         where v_j is what it used for lieutenant j in step (2) — strict majority, else RETREAT.
Strategies (docs/design.md): flip sends the opposite of what a loyal general would; split sends
ATTACK to even-ranked and RETREAT to odd-ranked recipients; silent and garbage deliver nothing.
"""
RETREAT, ATTACK = 0, 1


def says(sender, recipient, loyal_value, traitors):
    """What `sender` delivers to `recipient` when a loyal general would send loyal_value; None = nothing."""
    if sender not in traitors:
        return loyal_value
    s = traitors[sender]
    if s == "flip":
        return 1 - loyal_value
    if s == "split":
        return ATTACK if recipient % 2 == 0 else RETREAT
    if s in ("silent", "garbage"):
        return None
    raise ValueError(f"the reference does not predict strategy {s}")


def majority(values):
    return ATTACK if 2 * sum(values) > len(values) else RETREAT


def om(m, commander, lieutenants, value, traitors):
    """Returns {lieutenant: value it uses for the commander's order} for one OM(m) instance."""
    got = {}
    for i in lieutenants:
        v = says(commander, i, value, traitors)
        got[i] = RETREAT if v is None else v
    if m == 0:
        return got
    relayed = {j: om(m - 1, j, [x for x in lieutenants if x != j], got[j], traitors) for j in lieutenants}
    return {i: majority([got[i]] + [relayed[j][i] for j in lieutenants if j != i]) for i in lieutenants}


def decisions(n, m, commander, order, traitors):
    """Decision of every general: -1 for the commander, else the lieutenant's OM(m) result."""
    lts = [r for r in range(n) if r != commander]
    d = om(m, commander, lts, order, traitors)
    return [-1 if r == commander else d[r] for r in range(n)]


def closed_form(n, m):
    """Oral messages of OM(m) among n generals: sum_{k=1}^{m+1} prod_{j=1}^{k} (n-j)."""
    total, prod = 0, 1
    for k in range(1, m + 2):
        prod *= n - k
        total += prod
    return total


def mpi_closed_form(n, m, wire):
    """MPI messages of one OM(m) trial among n generals when every general sends (m <= n - 2):
    the data (one per oral message, or one batch per peer and round: the commander's n - 1, then
    n - 1 lieutenants to n - 2 each in rounds 1..m) and the round markers the data did not carry:
    every lieutenant to every peer in round 0, then each round the commander to every lieutenant
    and every lieutenant to the commander (the end rides on the last message to each other peer)."""
    data = closed_form(n, m) if wire == "message" else (n - 1) + m * (n - 1) * (n - 2)
    return data + (n - 1) ** 2 + 2 * m * (n - 1)


if __name__ == "__main__":
    # the paper's small cases, worked by hand
    assert decisions(3, 1, 0, ATTACK, {2: "flip"}) == [-1, RETREAT, ATTACK]   # L1 cannot obey: 1 vs 1
    assert decisions(4, 1, 0, ATTACK, {3: "flip"})[1:3] == [ATTACK, ATTACK]  # loyal ones obey
    assert decisions(4, 1, 0, ATTACK, {0: "split"}) == [-1, RETREAT, RETREAT, RETREAT]  # they agree
    assert closed_form(7, 2) == 6 + 30 + 120 and closed_form(4, 1) == 9
    print("byz_reference: self-checks passed")
