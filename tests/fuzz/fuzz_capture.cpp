// The capture path of `scanwatch replay`: pcap, pcapng, gzip, and the
// link-type decoding that turns every packet into an Ethernet frame. The
// input is written to a memfd and opened by path, as a file would be.
// Invariants: only std::runtime_error escapes (a file that is not a capture
// we can read); frames are bounded; non-Ethernet frames get a 14-byte header
// with an IPv4 or IPv6 ethertype (Linux cooked: its own non-zero protocol);
// the reader ends (no hang); every byte of each frame is readable (ASan).
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "check.hpp"
#include "replay/capture.hpp"

using namespace scanwatch;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    int fd = memfd_create("capture", MFD_CLOEXEC);
    CHECK(fd >= 0);
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(fd, data + off, size - off);
        CHECK(n > 0);
        off += static_cast<size_t>(n);
    }
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    try {
        CaptureReader cap(path);
        std::span<const uint8_t> frame;
        uint64_t ts = 0;
        uint64_t frames = 0;
        const bool ethernet = cap.link_name() == "EN10MB";
        const bool cooked = cap.link_name().rfind("LINUX_SLL", 0) == 0;  // SLL, SLL2: their own protocol field
        while (cap.next(frame, ts)) {
            frames++;
            // A packet record is at least 16 bytes; gzip shrinks at most ~1032:1.
            CHECK(frames <= 100 * size);
            CHECK(frame.size() <= 14 + 262144);
            if (!ethernet) {
                CHECK(frame.size() >= 14);
                uint16_t etype = static_cast<uint16_t>(frame[12] << 8 | frame[13]);
                CHECK(cooked ? etype != 0 : etype == 0x0800 || etype == 0x86DD);
            }
            unsigned sum = 0;
            for (uint8_t b : frame)
                sum += b;
            asm volatile("" : : "r"(sum));
        }
        CHECK(!cap.link_name().empty());
    } catch (const std::runtime_error& e) {
        CHECK(e.what()[0] != '\0');
    }
    close(fd);
    return 0;
}
