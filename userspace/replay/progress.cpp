#include "replay/progress.hpp"

#include <unistd.h>

#include <algorithm>

namespace scanwatch {

namespace {

// 1234567 -> "1,234,567"
std::string grouped(uint64_t v) {
    std::string digits = std::to_string(v), out;
    for (size_t i = 0; i < digits.size(); i++) {
        if (i && (digits.size() - i) % 3 == 0)
            out.push_back(',');
        out.push_back(digits[i]);
    }
    return out;
}

constexpr double kQuietFor = 1.0;   // no line for replays shorter than this
constexpr double kEvery = 0.2;      // at most five redraws a second

}  // namespace

ReplayProgress::ReplayProgress(std::FILE* out, uint64_t file_bytes, double start_s)
    : out_(out), size_(file_bytes), start_s_(start_s) {}

std::FILE* ReplayProgress::terminal(bool quiet) { return !quiet && isatty(STDERR_FILENO) ? stderr : nullptr; }

std::string ReplayProgress::line(uint64_t packets, uint64_t position, uint64_t file_bytes, double elapsed_s) {
    std::string s = "scanwatch: replay: " + grouped(packets) + " packets";
    if (file_bytes > 0) {
        // 100% only at the very end: a read-ahead position rounds down.
        uint64_t pct = std::min<uint64_t>(position, file_bytes) * 100 / file_bytes;
        s += ", " + std::to_string(pct) + "% of the file";
    }
    if (elapsed_s > 0)
        s += ", " + grouped(static_cast<uint64_t>(static_cast<double>(packets) / elapsed_s)) + " packets/s";
    return s;
}

void ReplayProgress::update(uint64_t packets, uint64_t position, double now_s) {
    if (!out_ || done_)
        return;
    const double elapsed = now_s - start_s_;
    if (elapsed < kQuietFor || (shown_ && now_s - last_s_ < kEvery))
        return;
    last_s_ = now_s;
    drawn_ = shown_ = true;
    // \r and "erase to the end of the line": the line is rewritten in place.
    std::fprintf(out_, "\r%s\033[K", line(packets, position, size_, elapsed).c_str());
    std::fflush(out_);
}

void ReplayProgress::erase() {
    if (!out_ || !shown_)
        return;
    shown_ = false;
    std::fputs("\r\033[K", out_);
    std::fflush(out_);
}

void ReplayProgress::done() {
    erase();
    done_ = true;
}

}  // namespace scanwatch
