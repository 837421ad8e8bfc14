"""Writes the seed corpus of the fuzz targets (run once; the seeds are checked in).

wire:   byte 0 -> n_ranks = 1 + b0 % 8, byte 1 -> source = b1 % 10 - 1, then a message laid out as
        in include/consensus/wire.h (valid ones of every kind, and a few classic malformed ones).
replay: byte 0 -> n_ranks = b0 % 30, then the script text.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def msg(kind, sender, n_clock, payload=b"", seq=0, lamport=0, vc=None, magic=0x5343, version=1, plen=None):
    vc = vc if vc is not None else [0] * n_clock
    plen = len(payload) if plen is None else plen
    head = struct.pack("<HBBIIIQq", magic, version, kind, sender, n_clock, plen, seq, lamport)
    return head + b"".join(struct.pack("<q", v) for v in vc) + payload


def wire_seeds():
    n, src = 3, 1
    pre = bytes([n - 1, src + 1])
    yield "data_ok", pre + msg(1, src, n, b"", seq=4, lamport=5, vc=[0, 2, 1])
    yield "data_payload", pre + msg(1, src, n, b"\x01\x00attack", seq=1, lamport=2, vc=[1, 1, 0])
    yield "round_end", pre + msg(2, src, 0, seq=7)
    yield "done", pre + msg(3, src, 0)
    yield "stop", pre + msg(4, src, 0)
    yield "large_announcement", pre + msg(5, src, 0)
    yield "data_last", pre + msg(6, src, n, b"\x01\x00attack", seq=3, lamport=4, vc=[1, 3, 0])
    yield "one_rank", bytes([0, 1]) + msg(1, 0, 1, b"x", seq=0, lamport=1, vc=[1])
    yield "eight_ranks", bytes([7, 8]) + msg(1, 7, 8, b"", seq=9, lamport=9, vc=[0, 0, 0, 0, 0, 0, 0, 3])
    yield "huge_payload_len", pre + msg(1, src, n, b"", lamport=1, vc=[0, 1, 0], plen=0xFFFFFFFF)
    yield "huge_n_clock", pre + msg(1, src, 0x40000000, b"", lamport=1, vc=[])
    yield "truncated", (pre + msg(1, src, n, b"abc", lamport=1, vc=[0, 1, 0]))[:-5]
    yield "wrong_sender", pre + msg(1, 2, n, b"", lamport=1, vc=[0, 0, 1])
    yield "negative_clock", pre + msg(1, src, n, b"", lamport=1, vc=[-1, 1, 0])
    yield "bad_magic", pre + msg(3, src, 0, magic=0x4353)
    yield "header_only_short", pre + msg(3, src, 0)[:31]
    yield "control_with_payload", pre + msg(2, src, 0, b"zz")


def replay_seeds():
    data = os.path.join(HERE, "..", "data")
    for name, n in [("three_process.txt", 3), ("four_process_numbers.txt", 4)]:
        with open(os.path.join(data, name), "rb") as f:
            yield name.replace(".txt", ""), bytes([n]) + f.read()
    yield "multicast", bytes([4]) + b"A->B,C,D\nD:internal # note\nb -> a\n"
    yield "self_send", bytes([3]) + b"A->B\nC->C\n"
    yield "mixed_names", bytes([3]) + b"A->B\n1->2\n"
    yield "unknown_rank", bytes([2]) + b"A->Z\n"
    yield "numbers", bytes([12]) + b"0->11\n11->1,2,3,4,5,6,7,8,9,10\n"
    yield "no_steps", bytes([3]) + b"# only a comment\n\n   \n"
    yield "bad_internal", bytes([2]) + b"A:intern\nB:internal x\n"
    yield "big_number", bytes([3]) + b"99999999999->1\n"
    yield "zero_ranks", bytes([0]) + b"A->B\n"
    yield "nul_byte", bytes([3]) + b"A->B\0junk\nB->C\n"  # issue 12.4: a NUL ended the script silently
    yield "bad_utf8", bytes([3]) + b"A->B\nB->C # caf\xc3\n"
    yield "utf8_comment", bytes([3]) + "# café → ok\nA->B\nB->C\n".encode()


M64 = (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def rng_hash(seed, *keys):
    """src/rng.c's rng_hash, written again."""
    _, h = splitmix64(seed)
    for k in keys:
        _, h = splitmix64(h ^ k)
    return h


def sm_seeds():
    """Chains signed as src/sm_chain.c signs them, written again over libsodium (ctypes) with the
    fuzz target's keys (seed 7): the target checks that its own signing gives the same bytes."""
    import ctypes
    import ctypes.util
    na = ctypes.CDLL(ctypes.util.find_library("sodium"))
    assert na.sodium_init() >= 0
    RNG_KEYS, n = 7, 5
    keys = []
    for r in range(n):
        seed = b"".join(rng_hash(7, RNG_KEYS, r, w, 0).to_bytes(8, "little") for w in range(4))
        pk, sk = ctypes.create_string_buffer(32), ctypes.create_string_buffer(64)
        assert na.crypto_sign_seed_keypair(pk, sk, seed) == 0
        keys.append(sk)

    def sign(sk, data):
        sig = ctypes.create_string_buffer(64)
        assert na.crypto_sign_detached(sig, None, data, ctypes.c_ulonglong(len(data)), sk) == 0
        return sig.raw

    def chain(trial, value, signers):
        links = b""
        for s in signers:
            tbs = b"consensus SM(m) v1" + struct.pack("<IB", trial, value) + links + struct.pack("<H", s)
            links += struct.pack("<H", s) + sign(keys[s], tbs)
        return struct.pack("<IBBBB", trial, 3, len(signers) - 1, value, len(signers)) + links

    yield "order", chain(0, 1, [0])
    yield "relay", chain(3, 0, [0, 2])
    yield "full", chain(1, 1, [0, 1, 2, 3])
    bad = bytearray(chain(1, 1, [0, 4, 3]))
    bad[6] ^= 1
    yield "forged_value", bytes(bad)
    yield "truncated", chain(2, 1, [0, 1])[:-5]
    yield "repeated", chain(0, 1, [0, 1, 1])
    yield "key", struct.pack("<IBBBB", 0, 4, 0, 0, 0) + bytes(32)


def main():
    for sub, seeds in [("wire", wire_seeds()), ("replay", replay_seeds()), ("sm", sm_seeds())]:
        d = os.path.join(HERE, "corpus", sub)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds:
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
