// sw_mapstat: looks at a running agent's sources map from outside. Finds the
// map among the agent's file descriptors (/proc/PID/fdinfo map_id, name
// "sw_sources"), so it works whatever mount namespace the agent pinned in;
// counts the entries and times full sweeps with the same batch read the agent
// uses (Kernel::for_each_source: bpf_map_lookup_batch, 1024 records a call).
//
//   sw_mapstat --pid PID [--sweeps 3] [--addr 198.18.0.2 ...]
//
// Prints one JSON line: entries, max_entries, sweep_ms (median), and for each
// --addr whether it has a record and the record's probe count / first-seen age.
#include "bpf/loader.hpp"
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "scanwatch/abi.h"

namespace {

[[noreturn]] void die(const std::string& m) {
    std::fprintf(stderr, "sw_mapstat: %s\n", m.c_str());
    std::exit(1);
}

double now_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

int find_sources_map(int pid) {
    std::string dir = "/proc/" + std::to_string(pid) + "/fdinfo";
    DIR* d = opendir(dir.c_str());
    if (!d)
        die("cannot read " + dir + ": " + std::strerror(errno));
    int found = -1;
    while (dirent* e = readdir(d)) {
        std::ifstream in(dir + "/" + e->d_name);
        std::string line;
        while (std::getline(in, line)) {
            if (line.rfind("map_id:", 0) != 0)
                continue;
            uint32_t id = static_cast<uint32_t>(std::strtoul(line.c_str() + 7, nullptr, 10));
            int fd = bpf_map_get_fd_by_id(id);
            if (fd < 0)
                continue;
            bpf_map_info info{};
            uint32_t len = sizeof info;
            if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && std::strcmp(info.name, "sw_sources") == 0 &&
                info.key_size == 16 && info.value_size == sizeof(sw_source)) {
                found = fd;
                break;
            }
            close(fd);
        }
        if (found >= 0)
            break;
    }
    closedir(d);
    if (found < 0)
        die("no sw_sources map among the file descriptors of pid " + std::to_string(pid));
    return found;
}

// The agent's sweep, minus the detector: the same batch reader it uses.
size_t sweep(int fd, uint64_t* probes_sum) {
    try {
        return scanwatch::for_each_source_in(
            fd, [&](const scanwatch::Addr&, const sw_source& s) { *probes_sum += s.cnt[SW_C_PROBES]; });
    } catch (const std::exception& e) {
        die(e.what());
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    int pid = 0, sweeps = 3;
    std::vector<std::string> addrs;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (i + 1 >= argc)
            die("missing value after " + a);
        if (a == "--pid")
            pid = std::atoi(argv[++i]);
        else if (a == "--sweeps")
            sweeps = std::max(1, std::atoi(argv[++i]));
        else if (a == "--addr")
            addrs.push_back(argv[++i]);
        else
            die("unknown argument '" + a + "' (--pid PID [--sweeps N] [--addr A ...])");
    }
    if (pid <= 0)
        die("--pid PID of a running scanwatch agent is required");
    libbpf_set_print([](enum libbpf_print_level, const char*, va_list) { return 0; });
    int fd = find_sources_map(pid);
    bpf_map_info info{};
    uint32_t len = sizeof info;
    bpf_obj_get_info_by_fd(fd, &info, &len);

    std::vector<double> ms;
    size_t entries = 0;
    uint64_t probes = 0;
    for (int s = 0; s < sweeps; s++) {
        double t0 = now_ms();
        probes = 0;
        entries = sweep(fd, &probes);
        ms.push_back(now_ms() - t0);
    }
    std::sort(ms.begin(), ms.end());
    std::printf("{\"entries\":%zu,\"max_entries\":%u,\"sweep_ms\":%.1f,\"sweep_ms_min\":%.1f,\"probes_total\":%llu",
                entries, info.max_entries, ms[ms.size() / 2], ms.front(), static_cast<unsigned long long>(probes));
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
    std::printf(",\"addrs\":{");
    for (size_t i = 0; i < addrs.size(); i++) {
        uint8_t key[16] = {};
        if (inet_pton(AF_INET, addrs[i].c_str(), key + 12) == 1)
            key[10] = key[11] = 0xff;
        else if (inet_pton(AF_INET6, addrs[i].c_str(), key) != 1)
            die("bad address '" + addrs[i] + "'");
        sw_source s{};
        std::printf("%s\"%s\":", i ? "," : "", addrs[i].c_str());
        if (bpf_map_lookup_elem(fd, key, &s) != 0)
            std::printf("null");
        else
            std::printf("{\"probes\":%u,\"syn\":%u,\"ports\":%u,\"age_s\":%.2f,\"idle_s\":%.2f}", s.cnt[SW_C_PROBES],
                        s.cnt[SW_C_SYN], s.ports_new, (now - s.first_ns) / 1e9,
                        now > s.last_ns ? (now - s.last_ns) / 1e9 : 0.0);
    }
    std::printf("}}\n");
    return 0;
}
