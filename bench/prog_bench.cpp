// sw_prog_bench: per-packet cost of the scanwatch XDP program, measured by the
// kernel with BPF_PROG_TEST_RUN, next to an empty XDP program (the floor) and
// to Debian's xdp-filter (a plain XDP filter).
//
// scanwatch is loaded from its skeleton with the live clock (replay_mode 0) and
// is not attached. xdp-filter is loaded the way a user would (`xdp-filter load
// -f tcp,ipv4 xf0; xdp-filter port 80`) on a veth pair inside a private network
// and mount namespace that this process makes for itself (unshare), so nothing
// outside it is touched and everything vanishes when the process exits; its
// program is then run through BPF_PROG_TEST_RUN via bpf_prog_get_fd_by_id().
//
// Method: for each packet and program, `repeat` runs in one test-run call; the
// kernel reports the mean ns per run (opts.duration). Trials are interleaved
// across programs and the median is reported. "SYN, new source" cannot use
// repeat (only the first run would create the record), so it loops over N
// distinct source addresses with repeat = 1 and averages the kernel-reported
// durations; the empty program and xdp-filter are measured the same way on
// the same frames, so the per-call timer overhead cancels out of the ratios.
// Each of scanwatch's trials of a new-source row finds its sources new: the
// first packets the trial before held are cleared from sw_admit first, and
// the row fails if any of its probes went to a record.
//
// Usage: sw_prog_bench [--repeat N] [--new N] [--trials N] [--json PATH]
//                      [--only ROW[,ROW...]]
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "bpf/block_map.hpp"
#include "bpf/block_bits.hpp"
#include "bpf/skeleton.hpp"
#include "bpf/stats.hpp"
#include "packet.hpp"
#include "scanwatch/abi.h"
#include "sw_bench_empty.skel.h"

using namespace swtest;

namespace {

struct Options {
    uint32_t repeat = 1'000'000;
    uint32_t n_new = 50'000;
    int trials = 5;
    std::string json;
    std::string only;  // run these rows only, comma-separated (profiling)
};

struct EmptyDeleter {
    void operator()(sw_bench_empty* s) const noexcept { sw_bench_empty__destroy(s); }
};

[[noreturn]] void die(const std::string& m) {
    std::fprintf(stderr, "sw_prog_bench: %s\n", m.c_str());
    std::exit(1);
}

// Mean ns per run as the kernel measured it.
double test_run(int prog_fd, const Bytes& frame, uint32_t repeat, int* retval = nullptr) {
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                .data_size_in = static_cast<uint32_t>(frame.size()), .repeat = static_cast<int>(repeat));
    if (bpf_prog_test_run_opts(prog_fd, &opts) != 0)
        die(std::string("BPF_PROG_TEST_RUN: ") + std::strerror(errno));
    if (retval)
        *retval = static_cast<int>(opts.retval);
    return opts.duration;
}

int run_cmd(const std::string& cmd) {
    int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// xdp-filter on a veth pair in a private netns + mount namespace. Returns the
// program fds by column name; empty (with a reason on stderr) when unavailable.
std::vector<std::pair<std::string, int>> load_xdp_filter() {
    std::vector<std::pair<std::string, int>> out;
    if (run_cmd("command -v xdp-filter") != 0) {
        std::fprintf(stderr, "sw_prog_bench: xdp-filter not installed (apt-get install xdp-tools): "
                             "skipping the xdp-filter column\n");
        return out;
    }
    if (unshare(CLONE_NEWNET | CLONE_NEWNS) != 0)
        die(std::string("unshare(net, mount): ") + std::strerror(errno));
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        die(std::string("making mounts private: ") + std::strerror(errno));
    umount2("/sys", MNT_DETACH);
    if (mount("sysfs", "/sys", "sysfs", 0, nullptr) != 0)
        die(std::string("mounting sysfs: ") + std::strerror(errno));
    if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") != 0)
        die(std::string("mounting bpffs: ") + std::strerror(errno));
    // The one rule set the issue names: tcp,ipv4 features and one port rule.
    // A source rule makes the "blocked source" row a drop for xdp-filter too.
    const char* setup =
        "ip link set lo up && ip link add xf0 type veth peer name xf1 && ip link set xf0 up && "
        "ip link set xf1 up && xdp-filter load -f tcp,ipv4 xf0 && xdp-filter port 80 && "
        "xdp-filter ip 198.18.9.9 -m src";
    if (run_cmd(setup) != 0) {
        std::fprintf(stderr, "sw_prog_bench: 'xdp-filter load -f tcp,ipv4' failed: skipping the xdp-filter column\n");
        return out;
    }
    uint32_t id = 0;
    int ifindex = static_cast<int>(if_nametoindex("xf0"));
    if (ifindex == 0 || bpf_xdp_query_id(ifindex, 0, &id) != 0 || id == 0) {
        std::fprintf(stderr, "sw_prog_bench: no XDP program on xf0 after xdp-filter load: skipping\n");
        return out;
    }
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0)
        die(std::string("bpf_prog_get_fd_by_id: ") + std::strerror(errno));
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    bpf_obj_get_info_by_fd(fd, &info, &len);
    std::fprintf(stderr, "sw_prog_bench: xdp-filter -f tcp,ipv4 loaded prog id %u '%s'\n", id, info.name);
    out.emplace_back("xdp-filter", fd);
    return out;
}

std::string v4(uint32_t host_order) {
    in_addr a{htonl(host_order)};
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, buf, sizeof buf);
    return buf;
}

struct Row {
    Row(std::string n, std::string w, Bytes f = {}) : name(std::move(n)), what(std::move(w)), frame(std::move(f)) {}
    std::string name;
    std::string what;
    Bytes frame;                // repeat rows
    std::vector<Bytes> frames;  // new-source rows (repeat = 1 each)
    bool blocked = false;
    bool big_list = false;  // measured with 100,000 active blocks (and xdp-filter's list filled alike)
    bool shield = false;    // measured with --block's flags (the shield reads sw_pending for every ACK)
};

// The block list of the "100k blocks" rows, the size and shape of a real
// CrowdSec list: 80,000 single addresses (40,000 IPv4 from 198.18.64.0,
// 40,000 IPv6 from 2001:2:0:200::/64) and 20,000 ranges (4,000 IPv4 /28 in
// 198.19.0.0/16, 16,000 IPv6 /64 in 2001:2:0:4000::/50). None of them is the
// source of another row's packets. Keys as the agent writes them (abi.h).
struct BigList {
    std::vector<sw_lpm_key> singles, ranges;
};

BigList big_list() {
    BigList l;
    for (uint32_t i = 0; i < 40000; i++) {
        sw_lpm_key k{};
        k.prefixlen = 128;
        k.addr[10] = k.addr[11] = 0xff;
        uint32_t a = htonl(0xC6124000u + i);  // 198.18.64.0 + i
        std::memcpy(k.addr + 12, &a, 4);
        l.singles.push_back(k);
        sw_lpm_key k6{};
        k6.prefixlen = 128;
        inet_pton(AF_INET6, "2001:2:0:200::", k6.addr);
        k6.addr[12] = uint8_t(i >> 24), k6.addr[13] = uint8_t(i >> 16), k6.addr[14] = uint8_t(i >> 8), k6.addr[15] = uint8_t(i);
        k6.addr[8] = 0x10;  // 2001:2:0:200:1000::i
        l.singles.push_back(k6);
    }
    for (uint32_t i = 0; i < 4000; i++) {
        sw_lpm_key k{};
        k.prefixlen = 96 + 28;
        k.addr[10] = k.addr[11] = 0xff;
        uint32_t a = htonl(0xC6130000u + i * 16);  // 198.19.0.0 + 16 i, /28
        std::memcpy(k.addr + 12, &a, 4);
        l.ranges.push_back(k);
    }
    for (uint32_t i = 0; i < 16000; i++) {
        sw_lpm_key k{};
        k.prefixlen = 64;
        inet_pton(AF_INET6, "2001:2:0:4000::", k.addr);
        k.addr[6] = uint8_t(0x40 | (i >> 8)), k.addr[7] = uint8_t(i);  // 2001:2:0:4000+i::/64
        l.ranges.push_back(k);
    }
    return l;
}

// Puts the single IPv4/IPv6 addresses of the list on xdp-filter's own source
// lists (its filter_ipv4 / filter_ipv6 hash maps), with the value its CLI gave
// 198.18.9.9 (`xdp-filter ip 198.18.9.9 -m src`). Returns how many it holds.
size_t fill_xdp_filter(int prog_fd, const BigList& l) {
    bpf_prog_info info{};
    uint32_t ids[16];
    info.nr_map_ids = 16;
    info.map_ids = reinterpret_cast<uint64_t>(ids);
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
        return 0;
    int v4 = -1, v6 = -1;
    for (uint32_t i = 0; i < std::min<uint32_t>(info.nr_map_ids, 16); i++) {
        int fd = bpf_map_get_fd_by_id(ids[i]);
        bpf_map_info mi{};
        uint32_t ml = sizeof mi;
        if (fd < 0 || bpf_obj_get_info_by_fd(fd, &mi, &ml))
            continue;
        if (std::string(mi.name) == "filter_ipv4")
            v4 = fd;
        else if (std::string(mi.name) == "filter_ipv6")
            v6 = fd;
    }
    if (v4 < 0)
        return 0;
    uint8_t tmpl[64]{};
    uint32_t key9;
    inet_pton(AF_INET, "198.18.9.9", &key9);
    if (bpf_map_lookup_elem(v4, &key9, tmpl))
        return 0;
    size_t n = 1;
    for (auto& k : l.singles) {
        bool is4 = k.addr[10] == 0xff && k.addr[11] == 0xff && k.addr[0] == 0;
        if (is4 ? bpf_map_update_elem(v4, k.addr + 12, tmpl, BPF_ANY) == 0
                : (v6 >= 0 && bpf_map_update_elem(v6, k.addr, tmpl, BPF_ANY) == 0))
            n++;
    }
    return n;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc)
                die("missing value after " + a);
            return argv[++i];
        };
        if (a == "--repeat")
            o.repeat = static_cast<uint32_t>(std::stoul(next()));
        else if (a == "--new")
            o.n_new = static_cast<uint32_t>(std::stoul(next()));
        else if (a == "--trials")
            o.trials = std::stoi(next());
        else if (a == "--json")
            o.json = next();
        else if (a == "--only")
            o.only = next();
        else
            die("unknown argument '" + a + "' (--repeat N --new N --trials N --json PATH --only ROW[,ROW...])");
    }
    if (o.repeat < 1 || o.n_new < 1 || o.trials < 1)
        die("--repeat, --new and --trials must be positive");
    if (o.n_new > 60000)
        die("--new is at most 60000 (the addresses come from 198.18.0.0/15)");
    libbpf_set_print([](enum libbpf_print_level, const char*, va_list) { return 0; });

    // scanwatch: the skeleton as the agent loads it (live clock), not attached.
    scanwatch::SkelPtr sw;
    try {
        scanwatch::SkelOptions so;
        so.max_blocks = 262144;  // room for the 100k-blocks rows
        sw = scanwatch::open_skeleton(so);
    } catch (const std::exception& e) {
        die(e.what());
    }
    std::unique_ptr<sw_bench_empty, EmptyDeleter> empty(sw_bench_empty__open_and_load());
    if (!empty)
        die("loading the empty XDP program");
    // Drain the ring buffer as the agent would, so new-source events are not all "lost".
    scanwatch::RingBufferPtr rb(ring_buffer__new(
        bpf_map__fd(sw->maps.sw_events), [](void*, void*, size_t) { return 0; }, nullptr, nullptr));

    const int cfg_fd = bpf_map__fd(sw->maps.sw_cfg);
    // The blocks' presence bits as the agent keeps them: opened (untrusted),
    // rebuilt from the (empty) maps at start, then set before each block.
    std::unique_ptr<scanwatch::BlockBits> block_bits;
    try {
        block_bits = scanwatch::BlockBits::open(bpf_map__fd(sw->maps.sw_block_bits));
        block_bits->begin_rebuild();
        block_bits->finish_rebuild();
    } catch (const std::exception& e) {
        die(e.what());
    }
    const scanwatch::BlockMapFds block_fds{bpf_map__fd(sw->maps.sw_blocks), bpf_map__fd(sw->maps.sw_block_addrs),
                                           block_bits.get()};
    auto set_cfg = [&](uint32_t addresses, uint32_t ranges = 0, uint32_t flags = 0) {
        sw_config c{};
        c.flags = SW_CFG_BLOCKING | flags;  // what the agent sets without --block (flags: with it)
        c.ev_per_sec = 16;
        scanwatch::describe_kernel_blocks(c, addresses, ranges);
        uint32_t zero = 0;
        if (bpf_map_update_elem(cfg_fd, &zero, &c, BPF_ANY))
            die("writing sw_cfg");
    };
    set_cfg(0);

    std::vector<std::pair<std::string, int>> progs = {
        {"scanwatch", bpf_program__fd(sw->progs.scanwatch_xdp)},
        {"empty", bpf_program__fd(empty->progs.bench_empty_xdp)},
    };
    for (auto& p : load_xdp_filter())
        progs.push_back(p);

    const char* T = "198.18.0.1";
    const char* S = "198.18.1.10";
    Bytes data(100, 'x');
    std::vector<Row> rows;
    rows.push_back(Row{"tcp_established", "IPv4 TCP ACK+PSH, 100 B payload",
                    Packet::tcp4(S, T, 40000, 443).ack(777).psh().seq(1000).payload(data).build()});
    rows.push_back(Row{"tcp_ack", "IPv4 pure ACK", Packet::tcp4(S, T, 40000, 443).ack(777).seq(1100).build()});
    Row ack_shield{"tcp_ack_shield", "IPv4 pure ACK, --block on (shield: one sw_pending read)",
                   Packet::tcp4(S, T, 40000, 443).ack(777).seq(1100).build()};
    ack_shield.shield = true;
    rows.push_back(ack_shield);
    rows.push_back(Row{"syn_known_source", "Linux connect() SYN, record exists (repeat)",
                    nmap::os_syn(S, T, 40001, 443).build()});
    Row nw{"syn_new_source", "Linux connect() SYN, a new source each run (repeat=1 loop)"};
    Row known1{"syn_known_source_r1", "same SYN, record exists, repeat=1 loop (method check)"};
    Row evict{"syn_new_source_lru_full", "new source each run while the map is full (LRU evicts)"};
    for (uint32_t i = 0; i < o.n_new; i++) {
        nw.frames.push_back(nmap::os_syn(v4(0xC6120000u + 0x1000 + i), T, 40001, 443).build());
        evict.frames.push_back(nmap::os_syn(v4(0xC6130000u + i), T, 40001, 443).build());
        known1.frames.push_back(nmap::os_syn(S, T, 40001, 443).build());
    }
    rows.push_back(known1);
    rows.push_back(nw);
    rows.push_back(Row{"rst", "IPv4 bare RST, no tracked flow", Packet::tcp4(S, T, 40000, 443).rst().seq(5000).build()});
    rows.push_back(Row{"udp_to_service", "IPv4 UDP to port 53, 32 B (accounted as a probe)",
                    Packet::udp4(S, T, 40000, 53).payload(32, 'q').build()});
    rows.push_back(Row{"udp_reply", "IPv4 UDP from port 53 to a client port, 64 B",
                    Packet::udp4(S, T, 53, 40000).payload(64, 'r').build()});
    rows.push_back(Row{"tcp6_established", "IPv6 TCP ACK+PSH, 100 B payload",
                    Packet::tcp6("2001:2::10", "2001:2::1", 40000, 443).ack(777).psh().seq(1000).payload(data).build()});
    Row blk{"blocked_source", "IPv4 TCP from a blocked source (XDP_DROP)",
            Packet::tcp4("198.18.9.9", T, 40000, 443).ack(777).psh().seq(1000).payload(data).build()};
    blk.blocked = true;
    rows.push_back(blk);
    rows.push_back(evict);
    Row big_est{"tcp_established_100k_blocks", "IPv4 TCP ACK+PSH, 100 B, 100,000 active blocks (80k addresses, 20k ranges)",
                Packet::tcp4(S, T, 40000, 443).ack(777).psh().seq(1000).payload(data).build()};
    big_est.big_list = true;
    rows.push_back(big_est);
    Row big_blk{"blocked_source_100k_blocks", "IPv4 TCP from one of 100,000 blocked (XDP_DROP; xdp-filter: on its list)",
                Packet::tcp4("198.18.100.5", T, 40000, 443).ack(777).psh().seq(1000).payload(data).build()};
    big_blk.big_list = true;
    big_blk.blocked = true;
    rows.push_back(big_blk);
    // The established row's source (198.18.1.10) shares its /15 with the
    // ranges but no /24 with any: its presence bit is clear, as for most
    // sources against a real list. This one shares its /48 with all 16,000
    // blocked IPv6 /64s: its bit is set, so it pays the trie walk.
    Row big_est6{"tcp6_established_100k_blocks", "IPv6 TCP ACK+PSH, 100 B, 100,000 blocks, the /48 of 16,000 blocked /64s",
                 Packet::tcp6("2001:2::10", "2001:2::1", 40000, 443).ack(777).psh().seq(1000).payload(data).build()};
    big_est6.big_list = true;
    rows.push_back(big_est6);
    Row big_rng{"blocked_range_100k_blocks", "IPv4 TCP from inside a blocked /28 of 100,000 blocks (XDP_DROP; xdp-filter: not on its list)",
                Packet::tcp4("198.19.0.5", T, 40000, 443).ack(777).psh().seq(1000).payload(data).build()};
    big_rng.big_list = true;
    big_rng.blocked = true;
    rows.push_back(big_rng);
    if (!o.only.empty()) {
        std::set<std::string> want;
        for (size_t at = 0; at <= o.only.size();) {
            size_t comma = std::min(o.only.find(',', at), o.only.size());
            want.insert(o.only.substr(at, comma - at));
            at = comma + 1;
        }
        for (auto& w : want)
            if (std::none_of(rows.begin(), rows.end(), [&](const Row& r) { return r.name == w; }))
                die("no row named '" + w + "'");
        std::erase_if(rows, [&](const Row& r) { return !want.count(r.name); });
    }

    // Warm-up: creates the known source's record and flow, faults in everything.
    for (auto& [name, fd] : progs)
        for (auto& r : rows)
            if (!r.frame.empty())
                test_run(fd, r.frame, 1000);

    auto clear_admission = [&] {
        const int fd = bpf_map__fd(sw->maps.sw_admit);
        const std::vector<unsigned char> zero(bpf_map__value_size(sw->maps.sw_admit));
        for (uint32_t i = 0; i < bpf_map__max_entries(sw->maps.sw_admit); i++)
            if (bpf_map_update_elem(fd, &i, zero.data(), BPF_ANY))
                die("clearing sw_admit");
    };
    std::map<std::string, std::map<std::string, double>> result;  // row -> prog -> ns
    std::map<std::string, int> action;
    bool big_loaded = false;
    uint32_t big_addrs = 0, big_ranges = 0;
    for (auto& r : rows) {
        if (r.big_list && !big_loaded) {
            // From here on, 100,000 blocks stay in the map (these rows come last).
            BigList l = big_list();
            size_t n = 0;
            for (auto* v : {&l.singles, &l.ranges})
                for (auto& k : *v) {
                    sw_block b{};
                    b.reason = SW_BR_MANUAL;
                    try {
                        scanwatch::put_kernel_block(block_fds, k, b);  // as the agent writes them
                    } catch (const std::exception& e) {
                        die("inserting block " + std::to_string(n) + ": " + e.what());
                    }
                    n++;
                }
            big_addrs = static_cast<uint32_t>(l.singles.size()) + 1;  // and 198.18.9.9 below
            big_ranges = static_cast<uint32_t>(l.ranges.size());
            big_loaded = true;
            for (auto& [name, fd] : progs)
                if (name == "xdp-filter")
                    std::fprintf(stderr, "sw_prog_bench: %zu blocks in scanwatch, %zu addresses on xdp-filter's lists\n",
                                 n, fill_xdp_filter(fd, l));
            set_cfg(big_addrs, big_ranges);
            for (auto& [name, fd] : progs)  // warm the new rows' frames
                test_run(fd, r.frame, 1000);
        }
        if (r.blocked && !r.big_list) {
            sw_lpm_key k{};
            k.prefixlen = 128;
            k.addr[10] = k.addr[11] = 0xff;
            inet_pton(AF_INET, "198.18.9.9", k.addr + 12);
            sw_block b{};
            b.reason = SW_BR_MANUAL;
            try {
                scanwatch::put_kernel_block(block_fds, k, b);
            } catch (const std::exception& e) {
                die(std::string("inserting the block: ") + e.what());
            }
            set_cfg(big_addrs ? big_addrs : 1, big_ranges);
        }
        if (r.shield)
            set_cfg(big_addrs, big_ranges, SW_CFG_FAST_BLOCK | SW_CFG_SHIELD);  // as --block sets them
        if (r.name == "syn_new_source_lru_full") {
            // fill the sources map to its capacity first, from a third range;
            // two probes each: admission gives a source a record on its second
            uint32_t cap = bpf_map__max_entries(sw->maps.sw_sources);
            for (uint32_t i = 0; i < cap; i++) {
                char a6[64];
                std::snprintf(a6, sizeof a6, "2001:2:0:1::%x:%x", i >> 16, i & 0xffff);
                test_run(progs[0].second, nmap::os_syn(a6, "2001:2::1", 40001, 443).build(), 1);
                test_run(progs[0].second, nmap::os_syn(a6, "2001:2::1", 40001, 444).build(), 1);
                if ((i & 1023) == 0)
                    ring_buffer__consume(rb.get());
            }
            uint32_t n = 0;
            unsigned char key[16], next[16];
            for (const void* prev = nullptr; !bpf_map_get_next_key(bpf_map__fd(sw->maps.sw_sources), prev, next); n++) {
                std::memcpy(key, next, sizeof key);
                prev = key;
            }
            std::fprintf(stderr, "sw_prog_bench: sources map: %u records of %u\n", n, cap);
        }
        // probes accounted to a record: none from a new-source row, or its
        // sources were not new (a trial promoted the packets of the one before)
        const bool new_sources = !r.frames.empty() && r.name != "syn_known_source_r1";
        auto probes = [&] { return scanwatch::stat_total(scanwatch::read_stat_rows(bpf_map__fd(sw->maps.sw_stats)), SW_S_PROBES); };
        const uint64_t probes_before = new_sources ? probes() : 0;
        std::map<std::string, std::vector<double>> samples;
        for (int t = 0; t < o.trials; t++) {
            for (auto& [name, fd] : progs) {
                if (!r.frame.empty()) {
                    int ret = 0;
                    samples[name].push_back(test_run(fd, r.frame, o.repeat, &ret));
                    if (name == "scanwatch")
                        action[r.name] = ret;
                    continue;
                }
                // new-source rows: every trial of scanwatch's must find its
                // sources new, so the packets the trial before held go first
                // (sw_admit; no source of these rows got a record or a mark)
                if (t > 0 && name == "scanwatch" && new_sources)
                    clear_admission();
                double sum = 0;
                for (size_t i = 0; i < r.frames.size(); i++) {
                    sum += test_run(fd, r.frames[i], 1);
                    if (name == "scanwatch" && (i & 1023) == 1023)
                        ring_buffer__consume(rb.get());
                }
                samples[name].push_back(sum / static_cast<double>(r.frames.size()));
            }
        }
        if (new_sources && probes() != probes_before)
            die(r.name + ": " + std::to_string(probes() - probes_before) + " probes went to records: its sources were not new");
        for (auto& [name, v] : samples)
            result[r.name][name] = median(v);
        if (r.blocked && !r.big_list)
            set_cfg(big_addrs ? big_addrs - 1 : 0, big_ranges);
        if (r.shield)
            set_cfg(big_addrs, big_ranges);
        ring_buffer__consume(rb.get());
    }

    // Report.
    std::printf("%-26s", "packet");
    for (auto& [name, fd] : progs)
        std::printf(" %12s", (name + " ns").c_str());
    bool have_xf = progs.size() > 2;
    std::printf(" %10s %10s\n", "sw/empty", have_xf ? "sw/xdpf" : "sw/xdpf(-)");
    for (auto& r : rows) {
        auto& m = result[r.name];
        std::printf("%-26s", r.name.c_str());
        for (auto& [name, fd] : progs)
            std::printf(" %12.1f", m[name]);
        std::printf(" %10.2f", m["scanwatch"] / std::max(m["empty"], 0.1));
        if (have_xf)
            std::printf(" %10.2f\n", m["scanwatch"] / std::max(m["xdp-filter"], 0.1));
        else
            std::printf(" %10s\n", "n/a");
    }
    if (!have_xf)
        std::printf("(xdp-filter column skipped: xdp-tools missing or failed to load)\n");
    std::printf("repeat=%u trials=%d new-source runs=%u (median of trials; kernel-reported mean ns per run)\n",
                o.repeat, o.trials, o.n_new);
    if (!o.json.empty()) {
        std::ofstream js(o.json);
        js << "{\"repeat\":" << o.repeat << ",\"trials\":" << o.trials << ",\"new\":" << o.n_new << ",\"rows\":[";
        bool first = true;
        for (auto& r : rows) {
            js << (first ? "" : ",") << "{\"packet\":\"" << r.name << "\",\"what\":\"" << r.what << "\"";
            for (auto& [name, v] : result[r.name])
                js << ",\"" << name << "\":" << v;
            js << "}";
            first = false;
        }
        js << "]}\n";
    }
    // A smoke check that the programs did what the rows claim.
    if ((action.count("blocked_source") && action["blocked_source"] != XDP_DROP) ||
        (action.count("tcp_established") && action["tcp_established"] != XDP_PASS) ||
        (action.count("blocked_source_100k_blocks") && action["blocked_source_100k_blocks"] != XDP_DROP) ||
        (action.count("tcp_established_100k_blocks") && action["tcp_established_100k_blocks"] != XDP_PASS) ||
        (action.count("tcp6_established_100k_blocks") && action["tcp6_established_100k_blocks"] != XDP_PASS) ||
        (action.count("blocked_range_100k_blocks") && action["blocked_range_100k_blocks"] != XDP_DROP))
        die("unexpected XDP action (blocked row must drop, others pass)");
    return 0;
}
