// RAII for the generated skeleton and the other handles libbpf gives out.
#pragma once

#include <bpf/libbpf.h>
#include <unistd.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "scanwatch_bpf.skel.h"

namespace scanwatch {

struct SkelDeleter {
    void operator()(scanwatch_bpf* s) const noexcept { scanwatch_bpf__destroy(s); }
};
using SkelPtr = std::unique_ptr<scanwatch_bpf, SkelDeleter>;

struct RingBufferDeleter {
    void operator()(ring_buffer* r) const noexcept { ring_buffer__free(r); }
};
using RingBufferPtr = std::unique_ptr<ring_buffer, RingBufferDeleter>;

// A file descriptor that closes itself (BPF links, maps opened by path, sockets).
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept {
        if (this != &o)
            reset(o.release());
        return *this;
    }
    ~UniqueFd() { reset(); }
    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    int release() noexcept {
        int f = fd_;
        fd_ = -1;
        return f;
    }
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

// A libbpf failure with context: "loading the XDP program: Permission denied".
class BpfError : public std::runtime_error {
public:
    BpfError(const std::string& what, int err);
    int err() const { return err_; }

private:
    int err_;
};

}  // namespace scanwatch
