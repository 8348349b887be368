// sw_replay_bench: where `scanwatch replay`'s time goes, per packet, on one capture.
//
// Stages, each timed on its own over the same packets (wall clock, several
// trials, min and median reported):
//   read        CaptureReader alone: libpcap (+ zlib for .gz) and framing
//   empty       one BPF_PROG_TEST_RUN per packet of an empty XDP program on the
//               capture's frames, held in memory: the syscall floor
//   empty-2t    the same from two threads pinned to CPUs 0 and 1 (each half of
//               the packets): the floor when both cores run packets
//   scanwatch   the scanwatch XDP program (replay clock) on the same frames,
//               one thread, no analyzer
// The end-to-end figure comes from `scanwatch replay` itself (bench/replay.sh).
//
// Usage: sw_replay_bench FILE [--trials N]
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bpf/prog_runner.hpp"
#include "replay/capture.hpp"
#include "sw_bench_empty.skel.h"

using namespace scanwatch;

namespace {

double now_s() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Packet {
    size_t off, len;
    uint64_t ts;
};

struct EmptyDeleter {
    void operator()(sw_bench_empty* s) const noexcept { sw_bench_empty__destroy(s); }
};

void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

void run_range(int fd, const std::vector<uint8_t>& arena, const std::vector<Packet>& pk, size_t from,
               size_t step) {
    for (size_t i = from; i < pk.size(); i += step) {
        LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = arena.data() + pk[i].off,
                    .data_size_in = static_cast<uint32_t>(pk[i].len), .repeat = 1);
        bpf_prog_test_run_opts(fd, &opts);  // runts fail with EINVAL, as in replay
    }
}

void report(const char* name, std::vector<double> secs, size_t n) {
    std::sort(secs.begin(), secs.end());
    double best = secs.front(), med = secs[secs.size() / 2];
    std::printf("%-10s %9.0f %9.0f pkt/s   %6.3f %6.3f us/pkt (best, median of %zu)\n", name,
                static_cast<double>(n) / best, static_cast<double>(n) / med, best * 1e6 / static_cast<double>(n),
                med * 1e6 / static_cast<double>(n), secs.size());
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: sw_replay_bench FILE [--trials N]\n");
        return 2;
    }
    std::string file = argv[1];
    int trials = 5;
    for (int i = 2; i + 1 < argc; i += 2)
        if (std::strcmp(argv[i], "--trials") == 0)
            trials = std::max(1, std::atoi(argv[i + 1]));
    try {
        std::vector<uint8_t> arena;
        std::vector<Packet> pk;
        std::vector<double> t_read, t_empty, t_empty2, t_sw;
        for (int t = 0; t < trials; t++) {
            CaptureReader cap(file);
            std::span<const uint8_t> f;
            uint64_t ts = 0;
            size_t n = 0;
            double t0 = now_s();
            while (cap.next(f, ts)) {
                if (t == 0) {
                    pk.push_back({arena.size(), f.size(), ts});
                    arena.insert(arena.end(), f.begin(), f.end());
                }
                n++;
            }
            // the first trial also copies into memory: leave it out when there are others
            if (t > 0 || trials == 1)
                t_read.push_back(now_s() - t0);
        }
        std::unique_ptr<sw_bench_empty, EmptyDeleter> empty(sw_bench_empty__open_and_load());
        if (!empty)
            throw std::runtime_error("loading the empty XDP program");
        int efd = bpf_program__fd(empty->progs.bench_empty_xdp);
        unsigned ncpu = std::thread::hardware_concurrency();
        for (int t = 0; t < trials; t++) {
            double t0 = now_s();
            run_range(efd, arena, pk, 0, 1);
            t_empty.push_back(now_s() - t0);
            if (ncpu >= 2) {
                t0 = now_s();
                std::thread other([&] {
                    pin(1);
                    run_range(efd, arena, pk, 1, 2);
                });
                pin(0);
                run_range(efd, arena, pk, 0, 2);
                other.join();
                t_empty2.push_back(now_s() - t0);
                cpu_set_t all;
                CPU_ZERO(&all);
                for (unsigned c = 0; c < ncpu; c++)
                    CPU_SET(c, &all);
                pthread_setaffinity_np(pthread_self(), sizeof all, &all);
            }
            ProgRunner runner;  // fresh maps for every trial
            t0 = now_s();
            for (const auto& p : pk) {
                try {
                    runner.run_xdp({arena.data() + p.off, p.len}, p.ts);
                } catch (const std::exception&) {
                }
                if ((&p - pk.data()) % 64 == 0)
                    runner.drain_events();
            }
            t_sw.push_back(now_s() - t0);
        }
        std::printf("%s: %zu packets, %u CPUs\n", file.c_str(), pk.size(), ncpu);
        report("read", t_read, pk.size());
        report("empty", t_empty, pk.size());
        if (!t_empty2.empty())
            report("empty-2t", t_empty2, pk.size());
        report("scanwatch", t_sw, pk.size());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sw_replay_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
