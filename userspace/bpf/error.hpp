// A libbpf or bpf(2) failure with context: "loading the XDP program:
// Permission denied". No libbpf include, so callers that only catch it do not
// depend on the BPF build.
#pragma once

#include <stdexcept>
#include <string>

namespace scanwatch {

class BpfError : public std::runtime_error {
public:
    BpfError(const std::string& what, int err);
    int err() const { return err_; }

private:
    int err_;
};

}  // namespace scanwatch
