// Reads pcap and pcapng files (also gzip-compressed) with libpcap and hands
// out each packet as an Ethernet frame, whatever the link type: Ethernet,
// Linux cooked (SLL, SLL2), raw IP, BSD loopback.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <exception>
#include <mutex>
#include <span>
#include <string>
#include <thread>
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
    // How far into the file reading has come, and the file's size, in bytes
    // of the file as it is on disk (compressed for a .gz), for progress.
    // position() may be read from any thread; it moves every few packets.
    uint64_t position() const { return pos_.load(std::memory_order_relaxed); }
    uint64_t file_size() const { return size_; }

private:
    void note_position();
    pcap* p_ = nullptr;
    std::FILE* gz_ = nullptr;
    void* gzh_ = nullptr;  // the gzFile under gz_ (libpcap owns and closes it)
    uint64_t size_ = 0, reads_ = 0;
    std::atomic<uint64_t> pos_{0};
    int dlt_ = 0;
    std::string path_, link_name_, warning_;
    std::vector<uint8_t> buf_;
    uint64_t skipped_ = 0;
};

// Packets read ahead, a block at a time, with their conversation_hash().
struct PacketBlock {
    struct Item {
        uint32_t off, len;  // the frame: bytes[off, off + len)
        uint32_t conv;      // conversation_hash() of the frame
        uint64_t ts_ns;
    };
    std::vector<uint8_t> bytes;
    std::vector<Item> items;
    std::span<const uint8_t> frame(const Item& i) const { return {bytes.data() + i.off, i.len}; }
};

// Reads a capture on a thread of its own, so that reading (and inflating a
// .gz) overlaps with running packets. Order is kept. The reader's
// warning()/skipped() are final once next() has returned false.
class BlockReader {
public:
    BlockReader(CaptureReader& cap, size_t block_packets);
    ~BlockReader();
    BlockReader(const BlockReader&) = delete;
    BlockReader& operator=(const BlockReader&) = delete;

    // The next block (its previous contents are recycled); false at the end.
    // Rethrows what the reading thread threw.
    bool next(PacketBlock& out);

private:
    void loop() noexcept;

    CaptureReader& cap_;
    size_t block_packets_;
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<PacketBlock> full_;
    std::vector<PacketBlock> spare_;
    bool done_ = false, stop_ = false;
    std::exception_ptr err_;
    std::thread th_;  // last: starts after everything above exists
};

}  // namespace scanwatch
