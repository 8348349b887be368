// The TOML config of `scanwatch run`, as an operator might mistype it.
// Invariants: only ConfigError escapes, its message is one line starting with
// the file name; a refused file leaves the options exactly as they were; an
// accepted file is accepted again on top of its own result with no change
// (applying a config is idempotent).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "check.hpp"
#include "config/config.hpp"

using namespace scanwatch;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    RunOptions before;
    before.ifaces = {"eth0"};
    RunOptions o = before;
    try {
        apply_config(text, "fuzz.toml", o);
    } catch (const ConfigError& e) {
        std::string_view why(e.what());
        CHECK(why.rfind("fuzz.toml:", 0) == 0);
        CHECK(why.find('\n') == std::string_view::npos);
        ConfigDiff d = config_diff(before, o);
        CHECK(d.reloaded.empty() && d.restart.empty());
        return 0;
    }
    RunOptions again = o;
    apply_config(text, "fuzz.toml", again);
    ConfigDiff d = config_diff(o, again);
    CHECK(d.reloaded.empty() && d.restart.empty());
    return 0;
}
