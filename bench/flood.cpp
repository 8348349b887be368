// sw_flood: a fast traffic generator for the benchmarks. Crafts Ethernet frames
// with the test packet builder (sw_test_support) and sends them with a raw
// AF_PACKET socket (PACKET_QDISC_BYPASS, sendmmsg batches) out of one
// interface - in the benchmarks, the scanner-side veth of a namespace lab.
//
//   sw_flood --iface sc0 --dst-mac 02:.. --sources 1000000          # many sources, one SYN each
//   sw_flood --iface sc0 --dst-mac 02:.. --kind established --sources 4 --pps 100000 --seconds 15
//   sw_flood --iface sc0 --dst-mac 02:.. --sources 100000 --ports 4  # SYNs to ports 9..12 each: hot sources
//
// Sources: IPv4 from 198.18.1.0 upwards (198.18.0.0/24 is the lab's own
// subnet), at most 130,000 of them, the rest IPv6 from 2001:2:0:100::/56;
// --v6-share sets the IPv6 fraction (default: all beyond the IPv4 budget).
// Prints one JSON line: packets sent, seconds, packets per second.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <numeric>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "packet.hpp"

using namespace swtest;

namespace {

[[noreturn]] void die(const std::string& m) {
    std::fprintf(stderr, "sw_flood: %s\n", m.c_str());
    std::exit(1);
}

double now_s() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

bool parse_mac(const std::string& s, uint8_t out[6]) {
    unsigned v[6];
    if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
        return false;
    for (int i = 0; i < 6; i++)
        out[i] = static_cast<uint8_t>(v[i]);
    return true;
}

constexpr uint32_t kV4Base = 0xC6120100u;  // 198.18.1.0
constexpr uint32_t kV4Max = 130000;          // stays inside 198.18.0.0/15

std::string src_addr(uint64_t i, uint64_t n_v4) {
    char buf[64];
    if (i < n_v4) {
        in_addr a{htonl(kV4Base + static_cast<uint32_t>(i))};
        inet_ntop(AF_INET, &a, buf, sizeof buf);
    } else {
        uint64_t j = i - n_v4;
        std::snprintf(buf, sizeof buf, "2001:2:0:1%02x::%x:%x", static_cast<unsigned>((j >> 32) & 0xff),
                      static_cast<unsigned>((j >> 16) & 0xffff), static_cast<unsigned>(j & 0xffff));
    }
    return buf;
}

}  // namespace

int main(int argc, char** argv) {
    std::string iface, kind = "syn", dst4 = "198.18.0.1", dst6 = "2001:2::1";
    uint8_t dmac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    uint64_t sources = 1000, packets = 0, nports = 1;
    double pps = 0, seconds = 0, v6_share = -1;
    unsigned batch = 256;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc)
                die("missing value after " + a);
            return argv[++i];
        };
        if (a == "--iface")
            iface = next();
        else if (a == "--dst-mac") {
            if (!parse_mac(next(), dmac))
                die("--dst-mac wants aa:bb:cc:dd:ee:ff");
        } else if (a == "--kind")
            kind = next();
        else if (a == "--ports")
            nports = std::stoull(next());
        else if (a == "--sources")
            sources = std::stoull(next());
        else if (a == "--packets")
            packets = std::stoull(next());
        else if (a == "--pps")
            pps = std::stod(next());
        else if (a == "--seconds")
            seconds = std::stod(next());
        else if (a == "--v6-share")
            v6_share = std::stod(next());
        else if (a == "--batch")
            batch = static_cast<unsigned>(std::stoul(next()));
        else if (a == "--dst4")
            dst4 = next();
        else if (a == "--dst6")
            dst6 = next();
        else
            die("unknown argument '" + a + "'");
    }
    if (iface.empty())
        die("--iface is required");
    if (kind != "syn" && kind != "established")
        die("--kind is syn or established");
    if (sources == 0 || sources > (1ull << 24) || batch == 0 || batch > 1024)
        die("--sources 1..16M, --batch 1..1024");
    uint64_t n_v4 = v6_share < 0 ? std::min<uint64_t>(sources, kV4Max)
                                 : std::min<uint64_t>(kV4Max, static_cast<uint64_t>(std::llround(
                                                                  static_cast<double>(sources) * (1 - v6_share))));
    if (nports == 0 || nports > 64 || sources * nports > (1ull << 24))
        die("--ports 1..64, and --sources x --ports at most 16M");
    if (packets == 0)
        packets = seconds > 0 ? UINT64_MAX : sources * nports;

    // Frames: one per source; IPv4 and IPv6 interleaved so both families flow
    // all along (a stride walk over the index space).
    std::vector<Bytes> frames;
    frames.reserve(sources * nports);
    const uint64_t stride = 7919;  // prime: visits every index once when gcd(stride, sources) == 1
    uint64_t step = std::gcd(stride, sources) == 1 ? stride : 1;
    // --ports N: every source's SYN to port 9, then every source's to port 10, ...
    for (uint64_t k = 0; k < sources * nports; k++) {
        uint64_t i = (k * step) % sources;
        const uint16_t dport = static_cast<uint16_t>(9 + k / sources);
        std::string s = src_addr(i, n_v4);
        bool v6 = i >= n_v4;
        const std::string& d = v6 ? dst6 : dst4;
        uint16_t sport = static_cast<uint16_t>(32768 + (i % 28000));
        Packet p = kind == "syn" ? Packet::tcp(s, d, sport, dport).syn().win(64240).mss(1460).seq(static_cast<uint32_t>(i * 2654435761u))
                                 : Packet::tcp(s, d, sport, 443).ack(1000).psh().seq(5000).payload(100, 'x');
        Bytes f = p.build();
        std::memcpy(f.data(), dmac, 6);
        f[6] = 0x02, f[7] = 0x00, f[8] = 0x53, f[9] = 0x57, f[10] = 0x00, f[11] = 0x01;
        frames.push_back(std::move(f));
    }

    int fd = socket(AF_PACKET, SOCK_RAW, 0);  // protocol 0: send only, never receive
    if (fd < 0)
        die(std::string("socket(AF_PACKET): ") + std::strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
    int sndbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = static_cast<int>(if_nametoindex(iface.c_str()));
    if (sll.sll_ifindex == 0)
        die("interface '" + iface + "' does not exist");
    if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0)
        die(std::string("bind: ") + std::strerror(errno));

    std::vector<mmsghdr> msgs(batch);
    std::vector<iovec> iov(batch);
    uint64_t sent = 0, retries = 0, pos = 0;
    const double t0 = now_s();
    while (sent < packets) {
        double el = now_s() - t0;
        if (seconds > 0 && el >= seconds)
            break;
        unsigned n = static_cast<unsigned>(std::min<uint64_t>(batch, packets - sent));
        if (pps > 0) {
            double due = t0 + static_cast<double>(sent) / pps;  // pace: sleep until this batch is due
            double wait = due - now_s();
            if (wait > 0) {
                timespec ts{static_cast<time_t>(wait), static_cast<long>((wait - std::floor(wait)) * 1e9)};
                nanosleep(&ts, nullptr);
            }
            n = std::min<unsigned>(n, static_cast<unsigned>(std::max(1.0, pps / 1000)));
        }
        for (unsigned k = 0; k < n; k++) {
            Bytes& f = frames[(pos + k) % frames.size()];
            iov[k] = {f.data(), f.size()};
            msgs[k] = {};
            msgs[k].msg_hdr.msg_iov = &iov[k];
            msgs[k].msg_hdr.msg_iovlen = 1;
        }
        int r = sendmmsg(fd, msgs.data(), n, 0);
        if (r < 0) {
            if (errno == ENOBUFS || errno == EAGAIN || errno == EBUSY || errno == EINTR) {
                retries++;  // the peer's queue is full: back off a little and resend
                usleep(20);
                continue;
            }
            die(std::string("sendmmsg: ") + std::strerror(errno));
        }
        sent += static_cast<uint64_t>(r);
        pos += static_cast<uint64_t>(r);
    }
    double secs = now_s() - t0;
    close(fd);
    std::printf("{\"sent\":%llu,\"sources\":%llu,\"ipv4_sources\":%llu,\"seconds\":%.3f,\"pps\":%.0f,\"retries\":%llu}\n",
                static_cast<unsigned long long>(sent), static_cast<unsigned long long>(sources),
                static_cast<unsigned long long>(n_v4), secs, secs > 0 ? static_cast<double>(sent) / secs : 0.0,
                static_cast<unsigned long long>(retries));
    return 0;
}
