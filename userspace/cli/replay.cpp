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

// Threads: as asked, at most one per CPU we may use; 0 = one per CPU (up to 8).
// Evidence that compares a probe with the source's previous probe (same_seq,
// same_sport) depends on the order threads interleave; everything else is
// counted atomically and is the same as with one thread.
std::vector<unsigned> replay_cpus(const ReplayOptions& o) {
    std::vector<unsigned> cpus = allowed_cpus();
    size_t want = o.threads ? o.threads : std::min<size_t>(cpus.size(), 8);
    size_t nthreads = std::max<size_t>(1, std::min(want, cpus.size()));
    cpus.resize(std::min(cpus.size(), nthreads));
    return cpus;
}

// One replay: the capture, the program, the analysis, and how far it got.
class Replay {
public:
    explicit Replay(const ReplayOptions& o)
        : o_(o),
          cap_(o.file),
          out_(o.json),
          an_(o.det, out_, Clock::identity(), !o.quiet),
          cpus_(replay_cpus(o)),
          nthreads_(std::max<size_t>(1, cpus_.size())),  // one when the CPUs are unknown
          sweep_ns_(static_cast<uint64_t>(o.sweep_ms * 1e6)),
          t0_(cpu_now()),
          progress_(ReplayProgress::terminal(o.quiet), cap_.file_size(), t0_) {
        an_.wide = [this](const Addr& a) { return runner_.wide(a); };
        scan_ = [this](const SourceVisitor& v) {
            auto all = runner_.sources();
            for (const auto& [a, rec] : all)
                v(a, rec);
            return all.size();
        };
        // A verdict's line on stderr must not land after the progress line.
        an_.on_report = [this](const ScanReport&, const sw_source&) {
            progress_.erase();
            return std::string("alert");
        };
    }

    // Every packet of the capture, then the sweeps after its end.
    void run() {
        {
            // Blocks small enough that events are judged soon after they happen
            // (threads meet at every block end), large enough that meeting is rare.
            BlockReader reader(cap_, nthreads_ > 1 ? 1024 : 256);
            if (nthreads_ == 1)
                run_one_thread(reader);
            else
                run_threads(reader);
        }
        drain(now_);
        an_.sweep(scan_, now_);
        // Then the wire stays quiet after the capture ends: probes that were
        // never answered time out, as they would have live.
        uint64_t after = now_ + o_.det.probe_timeout_ns + 1;
        an_.sweep(scan_, after);
        secs_ = cpu_now() - t0_;
        progress_.done();
    }

    // The replay_done event and the summary line on stderr.
    void summarise() {
        if (!cap_.warning().empty())
            std::fprintf(stderr, "scanwatch: warning: %s\n", cap_.warning().c_str());
        nlohmann::ordered_json summary;
        summary["event"] = "replay_done";
        summary["file"] = o_.file;
        summary["link_type"] = cap_.link_name();
        summary["packets"] = packets_;
        summary["skipped"] = cap_.skipped() + runts_;
        summary["sources"] = an_.detector().tracked();
        summary["scanners"] = an_.detector().scanners_reported();
        summary["capture_seconds"] = packets_ ? static_cast<double>(now_ - first_ts_) / 1e9 : 0.0;
        summary["seconds"] = std::round(secs_ * 1e6) / 1e6;  // microseconds, not 0.0011061490000656704
        summary["packets_per_second"] =
            secs_ > 0 ? static_cast<uint64_t>(static_cast<double>(packets_) / secs_) : 0;
        summary["threads"] = nthreads_;
        summary["truncated"] = !cap_.warning().empty();
        out_.write(summary);
        std::fprintf(stderr,
                     "scanwatch: replayed %llu packets (%s) in %.3f s, %.0f packets/s (%zu thread%s): %zu sources, "
                     "%llu scanners\n",
                     static_cast<unsigned long long>(packets_), cap_.link_name().c_str(), secs_,
                     secs_ > 0 ? static_cast<double>(packets_) / secs_ : 0.0, nthreads_, nthreads_ == 1 ? "" : "s",
                     an_.detector().tracked(), static_cast<unsigned long long>(an_.detector().scanners_reported()));
    }

private:
    void drain(uint64_t now) {
        auto evs = runner_.drain_events();
        if (evs.empty())
            return;
        for (const auto& e : evs)
            an_.on_event(e);
        an_.flush([this](const Addr& a) { return runner_.source(a); }, now);
    }

    // One thread: the packet-by-packet loop, events read every 64 packets.
    void run_one_thread(BlockReader& reader) {
        PacketBlock b;
        while (reader.next(b)) {
            for (const auto& it : b.items) {
                if (packets_ == 0) {
                    first_ts_ = it.ts_ns;
                    next_sweep_ = it.ts_ns + sweep_ns_;
                }
                now_ = std::max(now_, it.ts_ns);  // the program's clock never runs backwards
                packets_++;
                if (!run_one(runner_, -1, b.frame(it), now_)) {
                    runts_++;  // shorter than an Ethernet header: the kernel will not run it
                    continue;
                }
                if ((packets_ & 63) == 0)
                    drain(now_);
                if (now_ >= next_sweep_) {
                    drain(now_);
                    an_.sweep(scan_, now_);
                    next_sweep_ = now_ + sweep_ns_;
                }
            }
            progress_.update(packets_, cap_.position(), cpu_now());
        }
    }

    // Several threads: each block in ranges that end at the block's end or at
    // the packet that reaches the next sweep, whichever comes first.
    void run_threads(BlockReader& reader) {
        ReplayThreads threads(runner_, cpus_);
        PacketBlock b;
        while (reader.next(b)) {
            size_t i = 0, n = b.items.size();
            if (packets_ == 0) {
                first_ts_ = b.items[0].ts_ns;
                next_sweep_ = first_ts_ + sweep_ns_;
            }
            while (i < n) {
                size_t j = i;
                uint64_t t = now_;
                bool sweep = false;
                while (j < n) {
                    t = std::max(t, b.items[j].ts_ns);
                    j++;
                    if (t >= next_sweep_) {
                        sweep = true;
                        break;
                    }
                }
                uint64_t ran = threads.run(b, i, j, now_);
                now_ = std::max(ran, t);
                packets_ += j - i;
                drain(now_);
                if (sweep) {
                    an_.sweep(scan_, now_);
                    next_sweep_ = now_ + sweep_ns_;
                }
                i = j;
            }
            progress_.update(packets_, cap_.position(), cpu_now());
        }
        runts_ = threads.runts();
    }

    const ReplayOptions& o_;
    CaptureReader cap_;
    ProgRunner runner_;
    EventWriter out_;
    Analyzer an_;
    SourceScan scan_;
    std::vector<unsigned> cpus_;
    size_t nthreads_;
    uint64_t sweep_ns_;
    uint64_t packets_ = 0, runts_ = 0, now_ = 0, first_ts_ = 0, next_sweep_ = 0;
    double t0_, secs_ = 0;
    ReplayProgress progress_;  // last: made once t0_ is known, gone first
};

}  // namespace

int replay_command(const ReplayOptions& o) {
    Replay r(o);
    r.run();
    r.summarise();
    return 0;
}

}  // namespace scanwatch
