// `scanwatch replay` on a terminal: one line of progress on stderr (packets,
// how far into the file, packets per second), rewritten in place at most five
// times a second once the replay has run a second (a short one shows none),
// and erased at the end so the summary line stands alone. Off when stderr is
// not a terminal or with --quiet: logs and pipes see only the summary.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace scanwatch {

class ReplayProgress {
public:
    // out: where to draw (nullptr: off); file_bytes: the capture's size on disk.
    ReplayProgress(std::FILE* out, uint64_t file_bytes, double start_s);
    ~ReplayProgress() { done(); }
    ReplayProgress(const ReplayProgress&) = delete;
    ReplayProgress& operator=(const ReplayProgress&) = delete;

    // stderr when it is a terminal and not quiet, else nullptr.
    static std::FILE* terminal(bool quiet);

    // packets run so far, the reader's position in the file (bytes), the
    // monotonic clock in seconds.
    void update(uint64_t packets, uint64_t position, double now_s);
    // Takes the line off the screen before another line is printed on
    // stderr; the next update() draws it again.
    void erase();
    // Erases the line (if one was drawn); later updates draw nothing.
    void done();
    bool drawn() const { return drawn_; }

    // "scanwatch: replay: 1,234,567 packets, 42% of the file, 812,345 packets/s"
    static std::string line(uint64_t packets, uint64_t position, uint64_t file_bytes, double elapsed_s);

private:
    std::FILE* out_;
    uint64_t size_;
    double start_s_, last_s_ = 0;
    bool drawn_ = false, shown_ = false, done_ = false;
};

}  // namespace scanwatch
