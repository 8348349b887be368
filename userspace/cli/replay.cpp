// `scanwatch replay FILE`: the live analysis on a capture. Every packet goes
// through the real XDP program (BPF_PROG_TEST_RUN) with the capture's clock,
// both directions alike (as on a gateway), and the same Analyzer and Detector
// as `run` judge the resulting maps and events.
//
// Speed: one BPF_PROG_TEST_RUN per packet is a syscall (~1.85 us here), so a
// thread of its own reads the capture ahead (BlockReader), and with
// --threads N several threads, each pinned to its own CPU with its own clock
// slot, run packets at once. Packets are split by conversation
// (conversation_hash), so both directions of a connection stay in one thread
// and in order. Threads meet at every block end and at every sweep boundary:
// there events are read and judged, and sweeps see exactly the packets up to
// the same capture time as a single thread does.
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "agent/analyzer.hpp"
#include "bpf/prog_runner.hpp"
#include "cli/commands.hpp"
#include "replay/capture.hpp"
#include "replay/progress.hpp"
#include "scanwatch/output.hpp"

namespace scanwatch {

namespace {

double cpu_now() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Runs one packet; false for a runt the kernel refuses (shorter than Ethernet).
bool run_one(ProgRunner& r, int cpu, std::span<const uint8_t> frame, uint64_t now) {
    try {
        if (cpu < 0)
            r.run_xdp(frame, now);
        else
            r.run_xdp_on(static_cast<unsigned>(cpu), frame, now);
    } catch (const BpfError& e) {
        if (e.err() != EINVAL)
            throw;
        return false;
    }
    return true;
}

// The CPUs this process may run on, lowest first.
std::vector<unsigned> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<unsigned> out;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return out;
    for (unsigned c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            out.push_back(c);
    return out;
}

bool pin_self(unsigned cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

// N threads (the caller is thread 0) that run one range of a block at a time,
// each the packets of its conversations, each pinned to its CPU.
class ReplayThreads {
public:
    ReplayThreads(ProgRunner& r, std::vector<unsigned> cpus) : r_(r), cpus_(std::move(cpus)), w_(cpus_.size()) {
        for (size_t i = 1; i < cpus_.size(); i++)
            th_.emplace_back([this, i] { worker(i); });
        CPU_ZERO(&saved_);
        pthread_getaffinity_np(pthread_self(), sizeof saved_, &saved_);
        if (!pin_self(cpus_[0]))
            throw std::runtime_error("cannot pin the replay thread to CPU " + std::to_string(cpus_[0]));
    }
    ~ReplayThreads() {
        {
            std::lock_guard lk(m_);
            stop_ = true;
        }
        cv_.notify_all();
        for (auto& t : th_)
            t.join();
        pthread_setaffinity_np(pthread_self(), sizeof saved_, &saved_);
    }

    // Runs items [begin, end) of b, the clock never below floor; returns the
    // latest clock any thread ran at. Throws what a thread threw.
    uint64_t run(const PacketBlock& b, size_t begin, size_t end, uint64_t floor) {
        {
            std::lock_guard lk(m_);
            blk_ = &b;
            begin_ = begin;
            end_ = end;
            floor_ = floor;
            pending_ = th_.size();
            gen_++;
        }
        cv_.notify_all();
        run_part(0);
        std::unique_lock lk(m_);
        done_cv_.wait(lk, [&] { return pending_ == 0; });
        uint64_t now = floor;
        for (auto& w : w_) {
            if (w.err)
                std::rethrow_exception(std::exchange(w.err, nullptr));
            now = std::max(now, w.now);
        }
        return now;
    }
    uint64_t runts() const {
        uint64_t n = 0;
        for (const auto& w : w_)
            n += w.runts;
        return n;
    }

private:
    struct Worker {
        uint64_t now = 0, runts = 0;
        std::exception_ptr err;
    };

    void run_part(size_t i) {
        Worker& w = w_[i];
        const size_t n = w_.size();
        w.now = floor_;
        try {
            for (size_t k = begin_; k < end_; k++) {
                const auto& it = blk_->items[k];
                if (it.conv % n != i)
                    continue;
                w.now = std::max(w.now, it.ts_ns);  // this thread's clock never runs backwards
                if (!run_one(r_, static_cast<int>(cpus_[i]), blk_->frame(it), w.now))
                    w.runts++;
            }
        } catch (...) {
            w.err = std::current_exception();
        }
    }

    void worker(size_t i) {
        if (!pin_self(cpus_[i])) {
            w_[i].err = std::make_exception_ptr(
                std::runtime_error("cannot pin a replay thread to CPU " + std::to_string(cpus_[i])));
        }
        uint64_t seen = 0;
        for (;;) {
            {
                std::unique_lock lk(m_);
                cv_.wait(lk, [&] { return stop_ || gen_ != seen; });
                if (stop_)
                    return;
                seen = gen_;
            }
            if (!w_[i].err)
                run_part(i);
            std::lock_guard lk(m_);
            if (--pending_ == 0)
                done_cv_.notify_one();
        }
    }

    ProgRunner& r_;
    std::vector<unsigned> cpus_;
    std::vector<Worker> w_;
    std::mutex m_;
    std::condition_variable cv_, done_cv_;
    const PacketBlock* blk_ = nullptr;
    size_t begin_ = 0, end_ = 0, pending_ = 0;
    uint64_t floor_ = 0, gen_ = 0;
    bool stop_ = false;
    cpu_set_t saved_;              // the caller's CPUs, given back at the end
    std::vector<std::thread> th_;  // last: the workers start once the rest exists
};

}  // namespace

int replay_command(const ReplayOptions& o) {
    CaptureReader cap(o.file);
    ProgRunner runner;
    EventWriter out(o.json);
    Analyzer an(o.det, out, Clock::identity(), !o.quiet);

    auto lookup = [&](const Addr& a) { return runner.source(a); };
    an.wide = [&](const Addr& a) { return runner.wide(a); };
    auto scan = [&](const SourceVisitor& v) {
        auto all = runner.sources();
        for (const auto& [a, rec] : all)
            v(a, rec);
        return all.size();
    };
    auto drain = [&](uint64_t now) {
        auto evs = runner.drain_events();
        if (evs.empty())
            return;
        for (const auto& e : evs)
            an.on_event(e);
        an.flush(lookup, now);
    };

    // Threads: as asked, at most one per CPU we may use; 0 = one per CPU (up to 8).
    // Evidence that compares a probe with the source's previous probe (same_seq,
    // same_sport) depends on the order threads interleave; everything else is
    // counted atomically and is the same as with one thread.
    std::vector<unsigned> cpus = allowed_cpus();
    size_t want = o.threads ? o.threads : std::min<size_t>(cpus.size(), 8);
    size_t nthreads = std::max<size_t>(1, std::min(want, cpus.size()));
    cpus.resize(std::min(cpus.size(), nthreads));

    const uint64_t sweep_ns = static_cast<uint64_t>(o.sweep_ms * 1e6);
    uint64_t packets = 0, runts = 0, now = 0, first_ts = 0, next_sweep = 0;
    double t0 = cpu_now();
    ReplayProgress progress(ReplayProgress::terminal(o.quiet), cap.file_size(), t0);
    // A verdict's line on stderr must not land after the progress line.
    an.on_report = [&](const ScanReport&, const sw_source&) {
        progress.erase();
        return std::string("alert");
    };
    {
        // Blocks small enough that events are judged soon after they happen
        // (threads meet at every block end), large enough that meeting is rare.
        BlockReader reader(cap, nthreads > 1 ? 1024 : 256);
        PacketBlock b;
        if (nthreads == 1) {
            // One thread: the packet-by-packet loop, events read every 64 packets.
            while (reader.next(b)) {
                for (const auto& it : b.items) {
                    if (packets == 0) {
                        first_ts = it.ts_ns;
                        next_sweep = it.ts_ns + sweep_ns;
                    }
                    now = std::max(now, it.ts_ns);  // the program's clock never runs backwards
                    packets++;
                    if (!run_one(runner, -1, b.frame(it), now)) {
                        runts++;  // shorter than an Ethernet header: the kernel will not run it
                        continue;
                    }
                    if ((packets & 63) == 0)
                        drain(now);
                    if (now >= next_sweep) {
                        drain(now);
                        an.sweep(scan, now);
                        next_sweep = now + sweep_ns;
                    }
                }
                progress.update(packets, cap.position(), cpu_now());
            }
        } else {
            ReplayThreads threads(runner, cpus);
            while (reader.next(b)) {
                size_t i = 0, n = b.items.size();
                if (packets == 0) {
                    first_ts = b.items[0].ts_ns;
                    next_sweep = first_ts + sweep_ns;
                }
                while (i < n) {
                    // The range ends at the block's end or at the packet that
                    // reaches the next sweep, whichever comes first.
                    size_t j = i;
                    uint64_t t = now;
                    bool sweep = false;
                    while (j < n) {
                        t = std::max(t, b.items[j].ts_ns);
                        j++;
                        if (t >= next_sweep) {
                            sweep = true;
                            break;
                        }
                    }
                    uint64_t ran = threads.run(b, i, j, now);
                    now = std::max(ran, t);
                    packets += j - i;
                    drain(now);
                    if (sweep) {
                        an.sweep(scan, now);
                        next_sweep = now + sweep_ns;
                    }
                    i = j;
                }
                progress.update(packets, cap.position(), cpu_now());
            }
            runts = threads.runts();
        }
    }
    drain(now);
    an.sweep(scan, now);
    // Then the wire stays quiet after the capture ends: probes that were
    // never answered time out, as they would have live.
    uint64_t after = now + o.det.probe_timeout_ns + 1;
    an.sweep(scan, after);
    double secs = cpu_now() - t0;
    progress.done();

    if (!cap.warning().empty())
        std::fprintf(stderr, "scanwatch: warning: %s\n", cap.warning().c_str());
    nlohmann::ordered_json summary;
    summary["event"] = "replay_done";
    summary["file"] = o.file;
    summary["link_type"] = cap.link_name();
    summary["packets"] = packets;
    summary["skipped"] = cap.skipped() + runts;
    summary["sources"] = an.detector().tracked();
    summary["scanners"] = an.detector().scanners_reported();
    summary["capture_seconds"] = packets ? static_cast<double>(now - first_ts) / 1e9 : 0.0;
    summary["seconds"] = std::round(secs * 1e6) / 1e6;  // microseconds, not 0.0011061490000656704
    summary["packets_per_second"] = secs > 0 ? static_cast<uint64_t>(static_cast<double>(packets) / secs) : 0;
    summary["threads"] = nthreads;
    summary["truncated"] = !cap.warning().empty();
    out.write(summary);
    std::fprintf(stderr,
                 "scanwatch: replayed %llu packets (%s) in %.3f s, %.0f packets/s (%zu thread%s): %zu sources, "
                 "%llu scanners\n",
                 static_cast<unsigned long long>(packets), cap.link_name().c_str(), secs,
                 secs > 0 ? static_cast<double>(packets) / secs : 0.0, nthreads, nthreads == 1 ? "" : "s",
                 an.detector().tracked(), static_cast<unsigned long long>(an.detector().scanners_reported()));
    return 0;
}

}  // namespace scanwatch
