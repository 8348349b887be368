#include "replay/capture.hpp"

#include "replay/partition.hpp"

#include <pcap/pcap.h>
#include <zlib.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace scanwatch {

namespace {

// Linktype numbers that are not in every libpcap's headers.
constexpr int kLinuxSll2 = 276;
constexpr int kRawIpv4 = 228;
constexpr int kRawIpv6 = 229;

// A FILE* that reads through zlib, so libpcap can read a .gz capture as it is.
std::FILE* open_gz(const std::string& path, gzFile* out) {
    gzFile gz = gzopen(path.c_str(), "rb");
    if (!gz)
        return nullptr;
    *out = gz;
    // Big buffers on both sides: libpcap reads each packet with two small
    // fread()s, and small gzread()s cost more than inflating (replay speed).
    gzbuffer(gz, 256 * 1024);
    cookie_io_functions_t io{};
    io.read = [](void* c, char* buf, size_t n) -> ssize_t {
        int r = gzread(static_cast<gzFile>(c), buf, static_cast<unsigned>(n));
        return r < 0 ? -1 : r;
    };
    io.close = [](void* c) -> int { return gzclose(static_cast<gzFile>(c)) == Z_OK ? 0 : -1; };
    std::FILE* f = fopencookie(gz, "rb", io);
    if (!f) {
        gzclose(gz);
        return nullptr;
    }
    setvbuf(f, nullptr, _IOFBF, 256 * 1024);
    return f;
}

bool is_gzip(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f)
        return false;
    unsigned char m[2] = {};
    size_t n = std::fread(m, 1, 2, f);
    std::fclose(f);
    return n == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

}  // namespace

CaptureReader::CaptureReader(const std::string& path) : path_(path) {
    char err[PCAP_ERRBUF_SIZE] = {};
    std::FILE* probe = std::fopen(path.c_str(), "rb");
    if (!probe)
        throw std::runtime_error("cannot open '" + path + "': " + std::strerror(errno));
    struct stat st{};
    if (fstat(fileno(probe), &st) == 0)
        size_ = static_cast<uint64_t>(st.st_size);
    std::fclose(probe);
    if (is_gzip(path)) {
        gzFile gz = nullptr;
        gz_ = open_gz(path, &gz);
        gzh_ = gz;
        if (!gz_)
            throw std::runtime_error("cannot open '" + path + "' as gzip");
        p_ = pcap_fopen_offline_with_tstamp_precision(gz_, PCAP_TSTAMP_PRECISION_NANO, err);
        if (!p_)
            std::fclose(gz_);
        gz_ = nullptr;  // libpcap owns it now (or it is closed)
    } else {
        p_ = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
    }
    if (!p_)
        throw std::runtime_error("'" + path + "' is not a pcap or pcapng capture (" + err + ")");
    dlt_ = pcap_datalink(p_);
    const char* name = pcap_datalink_val_to_name(dlt_);
    link_name_ = name ? name : std::to_string(dlt_);
    switch (dlt_) {
    case DLT_EN10MB:
    case DLT_LINUX_SLL:
    case kLinuxSll2:
    case DLT_RAW:
    case 101:  // LINKTYPE_RAW
    case kRawIpv4:
    case kRawIpv6:
    case DLT_NULL:
    case DLT_LOOP:
        break;
    default:
        pcap_close(p_);
        p_ = nullptr;
        throw std::runtime_error("'" + path + "' has link type " + link_name_ +
                                 ", which replay cannot read (Ethernet, Linux cooked, raw IP, loopback)");
    }
    buf_.resize(14 + 262144);
}

CaptureReader::~CaptureReader() {
    if (p_)
        pcap_close(p_);
}

void CaptureReader::note_position() {
    long at = -1;
    if (gzh_)
        at = static_cast<long>(gzoffset(static_cast<gzFile>(gzh_)));  // compressed bytes read
    else if (std::FILE* f = pcap_file(p_))
        at = std::ftell(f);
    if (at >= 0)
        pos_.store(static_cast<uint64_t>(at), std::memory_order_relaxed);
}

bool CaptureReader::next(std::span<const uint8_t>& frame, uint64_t& ts_ns) {
    if ((++reads_ & 255) == 0)
        note_position();
    for (;;) {
        pcap_pkthdr* h = nullptr;
        const u_char* d = nullptr;
        int rc = pcap_next_ex(p_, &h, &d);
        if (rc == PCAP_ERROR_BREAK) {
            pos_.store(size_, std::memory_order_relaxed);
            return false;
        }
        if (rc == PCAP_ERROR) {
            warning_ = std::string("capture damaged or cut off: ") + pcap_geterr(p_) + "; read up to the damage";
            return false;
        }
        if (rc != 1)
            continue;
        ts_ns = static_cast<uint64_t>(h->ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(h->ts.tv_usec);
        size_t len = h->caplen;
        if (dlt_ == DLT_EN10MB) {
            frame = {d, len};
            return true;
        }
        // Everything else becomes Ethernet: zero MACs and the right ethertype.
        uint16_t etype = 0;
        const u_char* l3 = d;
        size_t l3len = len;
        auto by_version = [&](const u_char* p, size_t n) -> uint16_t {
            if (n < 1)
                return 0;
            return (p[0] >> 4) == 4 ? 0x0800 : (p[0] >> 4) == 6 ? 0x86DD : 0;
        };
        switch (dlt_) {
        case DLT_LINUX_SLL:
            if (len < 16)
                break;
            etype = static_cast<uint16_t>(d[14] << 8 | d[15]);
            l3 = d + 16;
            l3len = len - 16;
            break;
        case kLinuxSll2:
            if (len < 20)
                break;
            etype = static_cast<uint16_t>(d[0] << 8 | d[1]);
            l3 = d + 20;
            l3len = len - 20;
            break;
        case DLT_NULL:
        case DLT_LOOP:
            if (len < 4)
                break;
            l3 = d + 4;
            l3len = len - 4;
            etype = by_version(l3, l3len);
            break;
        default:  // raw IP
            etype = by_version(l3, l3len);
            break;
        }
        if (etype == 0 || l3len + 14 > buf_.size()) {
            skipped_++;
            continue;
        }
        std::memset(buf_.data(), 0, 12);
        buf_[12] = static_cast<uint8_t>(etype >> 8);
        buf_[13] = static_cast<uint8_t>(etype);
        std::memcpy(buf_.data() + 14, l3, l3len);
        frame = {buf_.data(), 14 + l3len};
        return true;
    }
}

BlockReader::BlockReader(CaptureReader& cap, size_t block_packets)
    : cap_(cap), block_packets_(block_packets), th_([this] { loop(); }) {}

BlockReader::~BlockReader() {
    {
        std::lock_guard lk(m_);
        stop_ = true;
    }
    cv_.notify_all();
    th_.join();
}

void BlockReader::loop() noexcept {
    constexpr size_t kQueued = 8;  // blocks read ahead
    try {
        for (;;) {
            PacketBlock b;
            {
                std::unique_lock lk(m_);
                cv_.wait(lk, [&] { return stop_ || full_.size() < kQueued; });
                if (stop_)
                    return;
                if (!spare_.empty()) {
                    b = std::move(spare_.back());
                    spare_.pop_back();
                }
            }
            b.bytes.clear();
            b.items.clear();
            std::span<const uint8_t> f;
            uint64_t ts = 0;
            bool more = true;
            while (b.items.size() < block_packets_ && (more = cap_.next(f, ts))) {
                b.items.push_back({static_cast<uint32_t>(b.bytes.size()), static_cast<uint32_t>(f.size()),
                                   conversation_hash(f), ts});
                b.bytes.insert(b.bytes.end(), f.begin(), f.end());
            }
            std::lock_guard lk(m_);
            if (!b.items.empty())
                full_.push_back(std::move(b));
            if (!more) {
                done_ = true;
                cv_.notify_all();
                return;
            }
            cv_.notify_all();
        }
    } catch (...) {
        std::lock_guard lk(m_);
        err_ = std::current_exception();
        done_ = true;
        cv_.notify_all();
    }
}

bool BlockReader::next(PacketBlock& out) {
    std::unique_lock lk(m_);
    cv_.wait(lk, [&] { return done_ || !full_.empty(); });
    if (full_.empty()) {
        if (err_)
            std::rethrow_exception(err_);
        return false;
    }
    if (!out.bytes.empty() || out.bytes.capacity())
        spare_.push_back(std::move(out));
    out = std::move(full_.front());
    full_.pop_front();
    cv_.notify_all();
    return true;
}

}  // namespace scanwatch
