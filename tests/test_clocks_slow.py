"""The longer clocks runs (7 ranks, repeated runs, a slow rank, trace blocks): label slow."""
import harness
import test_clocks

if __name__ == "__main__":
    harness.main(test_clocks.SLOW)
