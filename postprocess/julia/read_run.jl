# Reads a consensus run file (format "consensus-run", format_version 1) with HDF5.jl and prints
# a short summary: the ranks, each event with its vector clock, and the messages.
#
#   julia> using Pkg; Pkg.add("HDF5")
#   $ julia postprocess/julia/read_run.jl results/replay-….h5
#
# NOT RUN HERE: Julia could not be installed on the machine this was written on, so this file
# follows HDF5.jl's documented API (h5open, attributes, read) but has never been executed.
# The Python reader postprocess/consensus_h5.py is the tested one.
#
# Two things to know about the file in Julia:
#  * HDF5.jl reverses the dimensions of multi-dimensional datasets (Julia is column-major):
#    /events/vc is [E, n_ranks] in C, Python and h5dump, and (n_ranks, E) in Julia, so the
#    vector clock of event i (1-based) is vc[:, i].
#  * Event indices stored in /messages (send_event, recv_event) are 0-based rows of /events:
#    add 1 in Julia. recv_event = -1 means the message was not delivered.
using HDF5

function read_run(path)
    h5open(path, "r") do f
        a = attributes(f)
        fmt = read(a["format"])
        ver = read(a["format_version"])
        (fmt == "consensus-run" && ver == 1) ||
            error("$path: format '$fmt' version $ver is not a consensus-run format_version 1 file")
        n = read(a["n_ranks"])
        println("$(read(a["subcommand"])) run, $n ranks, complete=$(read(a["complete"]))")
        rates = read(f["ranks/tick_rate"])
        for r in 1:n
            println("  rank $(r - 1): tick rate $(rates[r])/s, $(read(f["ranks/n_events"])[r]) events")
        end
        rank = read(f["events/rank"]); seq = read(f["events/seq"]); kind = read(f["events/kind"])
        lamport = read(f["events/lamport"]); vc = read(f["events/vc"])   # vc: (n_ranks, E)
        names = ("internal", "send", "recv")
        for i in eachindex(rank)
            println("  event rank=$(rank[i]) seq=$(seq[i]) $(names[kind[i] + 1]) L=$(lamport[i]) V=$(vc[:, i])")
        end
        src = read(f["messages/src"]); dst = read(f["messages/dst"])
        s_ev = read(f["messages/send_event"]); r_ev = read(f["messages/recv_event"])
        for k in eachindex(src)
            recv = r_ev[k] < 0 ? "undelivered" : string(vc[:, r_ev[k] + 1])
            println("  message $(src[k]) -> $(dst[k]): $(vc[:, s_ev[k] + 1]) -> $recv")
        end
        if haskey(f, "byz")
            decision = read(f["byz/decision"])   # (n, T): decision[:, t] is trial t's row
            println("  byz: m=$(read(attributes(f["byz"])["m"])), $(size(decision, 2)) trials, ",
                    "IC1=$(read(f["byz/ic1"])), IC2=$(read(f["byz/ic2"]))")
        end
    end
end

length(ARGS) == 1 || (println(stderr, "usage: julia read_run.jl RUN.h5"); exit(2))
read_run(ARGS[1])
