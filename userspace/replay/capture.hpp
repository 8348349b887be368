// Reads pcap and pcapng files (also gzip-compressed) with libpcap and hands
// out each packet as an Ethernet frame, whatever the link type: Ethernet,
// Linux cooked (SLL, SLL2), raw IP, BSD loopback.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

struct pcap;

namespace scanwatch {

class CaptureReader {
public:
    // Throws std::runtime_error("'F' is not a pcap or pcapng capture ...") etc.
    explicit CaptureReader(const std::string& path);
    ~CaptureReader();
    CaptureReader(const CaptureReader&) = delete;
    CaptureReader& operator=(const CaptureReader&) = delete;

    // The next packet as an Ethernet frame; false at the end. A damaged or
    // cut-off file ends the stream with warning() set.
    bool next(std::span<const uint8_t>& frame, uint64_t& ts_ns);

    const std::string& warning() const { return warning_; }
    const std::string& link_name() const { return link_name_; }
    uint64_t skipped() const { return skipped_; }  // packets of link types or protocols we cannot frame

private:
    pcap* p_ = nullptr;
    std::FILE* gz_ = nullptr;
    int dlt_ = 0;
    std::string path_, link_name_, warning_;
    std::vector<uint8_t> buf_;
    uint64_t skipped_ = 0;
};

}  // namespace scanwatch
