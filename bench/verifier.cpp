// sw_verifier: how hard the scanwatch programs are on the verifier, and that
// they load and attach in native and generic XDP mode.
//
// For each program (XDP, TC egress) it loads the skeleton with only that
// program enabled, with the verifier's statistics log (BPF_LOG_STATS), and
// reports: the verifier's "processed N insns" (the count the 1,000,000-
// instruction limit applies to), bpf_prog_info.verified_insns, the xlated and
// jited sizes, the kernel's own verification time and the wall time of the
// whole load. Then, in a private network namespace (unshare, nothing outside
// is touched), it attaches the XDP program to a veth in native mode and in
// generic mode, checks with bpf_xdp_query() that the kernel reports that mode,
// and detaches it. Exit 1 when anything fails to load or attach.
//
// Both builds are measured: the live clock (what the agent loads) and the
// replay clock (scanwatch replay, tests/bpf). Load times are medians of
// --trials loads.
//
// Usage: sw_verifier [--trials N] [--json PATH]
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bpf/skeleton.hpp"

using namespace scanwatch;

namespace {

[[noreturn]] void die(const std::string& m) {
    std::fprintf(stderr, "sw_verifier: %s\n", m.c_str());
    std::exit(1);
}

struct LoadFigures {
    std::string prog;
    long processed = -1;       // "processed N insns" from the verifier log
    uint32_t verified = 0;     // bpf_prog_info.verified_insns
    uint32_t xlated = 0, jited = 0;
    long verify_us = -1;       // "verification time N usec"
    double load_ms = 0;        // wall time of the skeleton load (both maps and the program)
    long peak_states = -1;
};

long log_number(const std::string& log, const char* key) {
    auto at = log.rfind(key);
    if (at == std::string::npos)
        return -1;
    return std::strtol(log.c_str() + at + std::strlen(key), nullptr, 10);
}

// Loads only program `which` (0 XDP, 1 TC); keeps the skeleton when keep != null.
LoadFigures load_one(int which, bool live, SkelPtr* keep = nullptr) {
    static std::vector<char> logbuf(4 << 20);
    logbuf[0] = 0;
    const char* names[2] = {"scanwatch_xdp", "scanwatch_tc_egress"};
    SkelOptions so;
    so.replay_clock = !live;
    so.only_prog = names[which];
    so.log_buf = logbuf.data();
    so.log_size = logbuf.size();
    so.log_level = 4;  // BPF_LOG_STATS: the summary lines only
    SkelPtr s;
    auto t0 = std::chrono::steady_clock::now();
    try {
        s = open_skeleton(so);
    } catch (const BpfError& e) {
        die(std::string(e.what()) + "\n" + logbuf.data());
    }
    auto t1 = std::chrono::steady_clock::now();
    bpf_program* progs[2] = {s->progs.scanwatch_xdp, s->progs.scanwatch_tc_egress};
    LoadFigures f;
    f.prog = which == 0 ? "xdp" : "tc";
    std::string log(logbuf.data());
    f.processed = log_number(log, "processed ");
    f.verify_us = log_number(log, "verification time ");
    f.peak_states = log_number(log, "peak_states ");
    f.load_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(bpf_program__fd(progs[which]), &info, &len))
        die("bpf_obj_get_info_by_fd: " + std::string(std::strerror(errno)));
    f.verified = info.verified_insns;
    f.xlated = info.xlated_prog_len;
    f.jited = info.jited_prog_len;
    if (keep)
        *keep = std::move(s);
    return f;
}

void sh(const std::string& cmd) {
    if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0)
        die("command failed: " + cmd);
}

// Attaches the XDP program in `mode` to sv0 and checks the kernel's report.
std::string attach_check(int prog_fd, const char* mode, double* ms) {
    int ifindex = static_cast<int>(if_nametoindex("sv0"));
    uint32_t flag = std::strcmp(mode, "native") == 0 ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
    auto t0 = std::chrono::steady_clock::now();
    LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = flag);
    int link = bpf_link_create(prog_fd, ifindex, BPF_XDP, &lo);
    *ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (link < 0)
        return std::string("attach failed: ") + std::strerror(errno);
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    std::string out;
    if (bpf_xdp_query(ifindex, 0, &q))
        out = std::string("query failed: ") + std::strerror(errno);
    else if (q.attach_mode != (flag == XDP_FLAGS_DRV_MODE ? XDP_ATTACHED_DRV : XDP_ATTACHED_SKB))
        out = "attached in mode " + std::to_string(q.attach_mode);
    close(link);  // detaches
    LIBBPF_OPTS(bpf_xdp_query_opts, q2);
    if (out.empty() && bpf_xdp_query(ifindex, 0, &q2) == 0 && q2.attach_mode != XDP_ATTACHED_NONE)
        out = "still attached after closing the link";
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    int trials = 5;
    std::string json;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--trials" && i + 1 < argc)
            trials = std::max(1, std::atoi(argv[++i]));
        else if (a == "--json" && i + 1 < argc)
            json = argv[++i];
        else
            die("usage: sw_verifier [--trials N] [--json PATH]");
    }
    libbpf_set_print([](libbpf_print_level, const char*, va_list) { return 0; });

    std::printf("%-4s %-6s %10s %10s %8s %8s %8s %12s %12s\n", "prog", "clock", "processed", "verified",
                "xlated", "jited", "peak_st", "verify_us", "load_ms");
    std::string js = "{\"programs\":[";
    bool first = true;
    for (int which : {0, 1}) {
        for (bool live : {true, false}) {
            std::vector<LoadFigures> runs;
            for (int t = 0; t < trials; t++)
                runs.push_back(load_one(which, live));
            auto med = [&](auto get) {
                std::vector<double> v;
                for (auto& r : runs)
                    v.push_back(static_cast<double>(get(r)));
                std::sort(v.begin(), v.end());
                return v[v.size() / 2];
            };
            const LoadFigures& r = runs[0];
            double vus = med([](auto& x) { return x.verify_us; });
            double lms = med([](auto& x) { return x.load_ms; });
            std::printf("%-4s %-6s %10ld %10u %8u %8u %8ld %12.0f %12.1f\n", r.prog.c_str(),
                        live ? "live" : "replay", r.processed, r.verified, r.xlated, r.jited, r.peak_states, vus, lms);
            char b[512];
            std::snprintf(b, sizeof b,
                          "%s{\"prog\":\"%s\",\"clock\":\"%s\",\"processed_insns\":%ld,\"verified_insns\":%u,"
                          "\"xlated_bytes\":%u,\"jited_bytes\":%u,\"peak_states\":%ld,\"verify_us_median\":%.0f,"
                          "\"load_ms_median\":%.1f,\"limit\":1000000}",
                          first ? "" : ",", r.prog.c_str(), live ? "live" : "replay", r.processed, r.verified,
                          r.xlated, r.jited, r.peak_states, vus, lms);
            js += b;
            first = false;
        }
    }
    js += "],\"attach\":[";

    // Native and generic attach on a veth in a namespace of our own.
    if (unshare(CLONE_NEWNET) != 0)
        die(std::string("unshare(net): ") + std::strerror(errno));
    sh("ip link set lo up && ip link add sv0 type veth peer name sv1 && ip link set sv0 up && ip link set sv1 up");
    SkelPtr live;
    load_one(0, true, &live);
    int fd = bpf_program__fd(live->progs.scanwatch_xdp);
    int bad = 0;
    first = true;
    for (const char* mode : {"native", "generic"}) {
        double ms = 0;
        std::string err = attach_check(fd, mode, &ms);
        std::printf("attach xdp %-7s on veth: %s (%.1f ms)\n", mode, err.empty() ? "ok" : err.c_str(), ms);
        bad += !err.empty();
        char b[256];
        std::snprintf(b, sizeof b, "%s{\"mode\":\"%s\",\"ok\":%s,\"attach_ms\":%.1f}", first ? "" : ",", mode,
                      err.empty() ? "true" : "false", ms);
        js += b;
        first = false;
    }
    js += "]}\n";
    if (!json.empty())
        std::ofstream(json) << js;
    return bad ? 1 : 0;
}
