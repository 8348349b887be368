#include "config/config.hpp"

#include <toml++/toml.h>

#include <cerrno>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <type_traits>

#include "metrics/metrics.hpp"
#include "scanwatch/addr.hpp"
#include "scanwatch/parse.hpp"

namespace scanwatch {

namespace {

std::string kind_of(const toml::node& n) {
    switch (n.type()) {
    case toml::node_type::string:
        return "a string";
    case toml::node_type::integer:
        return "an integer";
    case toml::node_type::floating_point:
        return "a float";
    case toml::node_type::boolean:
        return "a boolean";
    case toml::node_type::array:
        return "an array";
    case toml::node_type::table:
        return "a table";
    default:
        return "a date/time";
    }
}

// A value that does not fit its key; the caller adds file, line and key.
struct BadValue : std::invalid_argument {
    BadValue(const std::string& m, const toml::node& at) : std::invalid_argument(m), line(at.source().begin.line) {}
    uint32_t line;
};

[[noreturn]] void expected(const std::string& what, const toml::node& n) {
    throw BadValue("expected " + what + ", got " + kind_of(n), n);
}

// Value parsers: node -> C++ value, or BadValue.
auto boolean() {
    return [](const toml::node& n) {
        if (!n.is_boolean())
            expected("true or false", n);
        return *n.value<bool>();
    };
}

auto integer(int64_t lo, int64_t hi) {
    return [lo, hi](const toml::node& n) {
        if (!n.is_integer())
            expected("an integer", n);
        int64_t v = *n.value<int64_t>();
        if (v < lo || v > hi)
            throw BadValue("must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", not " +
                               std::to_string(v),
                           n);
        return v;
    };
}

auto number(double lo, double hi) {
    return [lo, hi](const toml::node& n) {
        if (!n.is_number())
            expected("a number", n);
        double v = *n.value<double>();
        if (!std::isfinite(v) || v < lo || v > hi) {
            std::ostringstream m;
            m << "must be between " << lo << " and " << hi << ", not " << v;
            throw BadValue(m.str(), n);
        }
        return v;
    };
}

using StringCheck = std::function<void(const std::string&)>;  // throws std::invalid_argument

auto string(StringCheck check = {}) {
    return [check](const toml::node& n) {
        if (!n.is_string())
            expected("a string", n);
        std::string s = *n.value<std::string>();
        if (check) {
            try {
                check(s);
            } catch (const std::invalid_argument& e) {
                throw BadValue(e.what(), n);
            }
        }
        return s;
    };
}

auto strings(StringCheck check, bool non_empty) {
    return [check, non_empty](const toml::node& n) {
        const toml::array* arr = n.as_array();
        if (!arr)
            expected("an array of strings", n);
        if (non_empty && arr->empty())
            throw BadValue("must not be empty", n);
        std::vector<std::string> out;
        auto one = string(check);
        for (const toml::node& el : *arr)
            out.push_back(one(el));
        return out;
    };
}

auto duration() {
    return [](const toml::node& n) -> uint64_t {
        // a number is seconds (ttl = 3600), a string may carry units ("1h")
        if (n.is_integer() || n.is_floating_point()) {
            double v = n.is_integer() ? static_cast<double>(*n.value<int64_t>()) : *n.value<double>();
            if (!std::isfinite(v) || v < 0 || v > 1e9)
                expected("a duration: seconds from 0, or a string such as \"30s\", \"10m\", \"1h\"", n);
            return static_cast<uint64_t>(v * 1e9 + 0.5);
        }
        if (!n.is_string())
            expected("a duration: a number of seconds, or a string such as \"30s\", \"10m\", \"1h\"", n);
        try {
            return parse_duration_ns(*n.value<std::string>());
        } catch (const std::invalid_argument& e) {
            throw BadValue(e.what(), n);
        }
    };
}

// agent.duration: a duration like the others, kept in seconds
auto duration_seconds() {
    return [](const toml::node& n) { return static_cast<double>(duration()(n)) / 1e9; };
}

void check_mode(const std::string& m) {
    if (m != "auto" && m != "native" && m != "generic")
        throw std::invalid_argument("must be \"auto\", \"native\" or \"generic\", not " + quote_input(m));
}

void check_cidr(const std::string& s) { Cidr::parse(s); }

void check_iface(const std::string& s) {
    if (s.empty() || s.size() >= 16 || s.find_first_of("/ \t") != std::string::npos)
        throw std::invalid_argument(quote_input(s) + " is not an interface name");
}

void check_listen(const std::string& s) {
    if (!s.empty())
        parse_listen_address(s);
}

void check_word(const std::string& s) { check_list_word(s); }

void check_not_empty(const std::string& s) {
    if (s.empty())
        throw std::invalid_argument("must not be empty");
}

struct Key {
    std::string_view section, name;
    bool reloadable;
    std::function<void(RunOptions&, const toml::node&)> set;
    std::function<bool(const RunOptions&, const RunOptions&)> same;
    std::function<void(RunOptions&, const RunOptions&)> copy;
    std::string full() const { return std::string(section) + "." + std::string(name); }
};

// `field` maps options to the member the key sets (works on const and
// non-const options); `parse` turns the TOML node into its value.
template <class Field, class Parse>
Key key(std::string_view section, std::string_view name, bool reloadable, Field field, Parse parse) {
    Key k{section, name, reloadable, {}, {}, {}};
    k.set = [field, parse](RunOptions& o, const toml::node& n) {
        auto& dst = field(o);
        dst = static_cast<std::remove_reference_t<decltype(dst)>>(parse(n));
    };
    k.same = [field](const RunOptions& a, const RunOptions& b) { return field(a) == field(b); };
    k.copy = [field](RunOptions& dst, const RunOptions& src) { field(dst) = field(src); };
    return k;
}

#define SW_FIELD(member) [](auto& o) -> auto& { return o.member; }

const std::vector<Key>& keys() {
    static const std::vector<Key> table = {
        // [agent]: where and how to attach; a change needs a restart.
        key("agent", "interfaces", false, SW_FIELD(ifaces), strings(check_iface, true)),
        key("agent", "xdp_mode", false, SW_FIELD(xdp_mode), string(check_mode)),
        key("agent", "socket", false, SW_FIELD(socket), string(check_not_empty)),
        key("agent", "socket_group", false, SW_FIELD(socket_group), string()),
        key("agent", "pin_dir", false, SW_FIELD(pin_dir), string(check_not_empty)),
        key("agent", "sweep_ms", false, SW_FIELD(sweep_ms), number(10, 10000)),
        key("agent", "max_sources", false, SW_FIELD(max_sources), integer(1024, 1 << 24)),
        key("agent", "duration", false, SW_FIELD(duration_s), duration_seconds()),
        // [detect]: thresholds of the detector.
        key("detect", "min_ports", true, SW_FIELD(det.min_ports), integer(1, 65536)),
        key("detect", "min_hosts", true, SW_FIELD(det.min_hosts), integer(1, 1 << 24)),
        key("detect", "alert_score", true, SW_FIELD(det.alert_score), number(0.5, 1.0)),
        key("detect", "probe_timeout", true, SW_FIELD(det.probe_timeout_ns), duration()),
        // [block]: the blocking policy.
        key("block", "enabled", true, SW_FIELD(block), boolean()),
        key("block", "ttl", true, SW_FIELD(block_ttl_ns), duration()),
        key("block", "score", true, SW_FIELD(block_score), number(0.5, 1.0)),
        key("block", "unverified", true, SW_FIELD(block_unverified), boolean()),
        key("block", "fast_path", true, SW_FIELD(fast_block), boolean()),
        key("block", "max_blocks", true, SW_FIELD(max_blocks), integer(1, 1000000)),
        key("block", "max_new_per_sec", true, SW_FIELD(max_new_blocks_per_sec), integer(1, 100000)),
        key("block", "state_file", false, SW_FIELD(state_file), string()),
        key("block", "allow", true, SW_FIELD(allow), strings(check_cidr, false)),
        // [output]: where events go.
        key("output", "json", true, SW_FIELD(json), string()),
        key("output", "syslog", true, SW_FIELD(syslog), boolean()),
        key("output", "metrics_listen", false, SW_FIELD(metrics_listen), string(check_listen)),
        key("output", "quiet", true, SW_FIELD(quiet), boolean()),
        // [crowdsec]: the Local API shared by several gateways; read at start.
        key("crowdsec", "lapi_url", false, SW_FIELD(crowdsec_url), string()),
        key("crowdsec", "machine_id", false, SW_FIELD(crowdsec_machine), string()),
        key("crowdsec", "machine_password_file", false, SW_FIELD(crowdsec_password_file), string()),
        key("crowdsec", "machine_password", false, SW_FIELD(crowdsec_password), string()),
        key("crowdsec", "bouncer_key_file", false, SW_FIELD(crowdsec_key_file), string()),
        key("crowdsec", "bouncer_key", false, SW_FIELD(crowdsec_key), string()),
        key("crowdsec", "pull_interval", false, SW_FIELD(crowdsec_pull_interval_ns), duration()),
        key("crowdsec", "origins", false, SW_FIELD(crowdsec_origins), strings(check_word, false)),
        key("crowdsec", "scenarios_containing", false, SW_FIELD(crowdsec_scenarios_containing),
            strings(check_word, false)),
        key("crowdsec", "scenarios_not_containing", false, SW_FIELD(crowdsec_scenarios_not_containing),
            strings(check_word, false)),
    };
    return table;
}

#undef SW_FIELD

const Key* find_key(std::string_view section, std::string_view name) {
    for (const auto& k : keys())
        if (k.section == section && k.name == name)
            return &k;
    return nullptr;
}

bool known_section(std::string_view s) {
    for (const auto& k : keys())
        if (k.section == s)
            return true;
    return false;
}

// "agent.interfaces" when `name` is a key of another section, for the hint.
std::string elsewhere(std::string_view name) {
    for (const auto& k : keys())
        if (k.name == name)
            return k.full();
    return {};
}

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); j++)
        row[j] = j;
    for (size_t i = 1; i <= a.size(); i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); j++) {
            size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
            diag = up;
        }
    }
    return row[b.size()];
}

// The hint for an unknown key: the same name in another section, or a key of
// this section that is one or two typos away.
std::string suggestion(std::string_view section, std::string_view name) {
    if (std::string other = elsewhere(name); !other.empty())
        return other;
    for (const auto& k : keys())
        if (k.section == section && edit_distance(k.name, name) <= 2)
            return k.full();
    return {};
}

// toml++ quotes the offending input as it is, line breaks included: keep the
// message one line by escaping control characters.
std::string one_line(std::string_view text) {
    std::string out;
    for (char ch : text) {
        auto c = static_cast<unsigned char>(ch);
        if (c >= 0x20 && c != 0x7f) {
            out.push_back(ch);
        } else {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\x%02x", c);
            out += esc;
        }
    }
    return out;
}

}  // namespace

void apply_config(std::string_view text, const std::string& name, RunOptions& o) {
    auto fail = [&](uint32_t line, const std::string& key, const std::string& msg) {
        throw ConfigError(one_line(name + ":" + std::to_string(line) + ": " + (key.empty() ? "" : key + ": ") + msg));
    };
    toml::table doc;
    try {
        doc = toml::parse(text, name);
    } catch (const toml::parse_error& e) {
        throw ConfigError(name + ":" + std::to_string(e.source().begin.line) + ":" +
                          std::to_string(e.source().begin.column) + ": " + one_line(e.description()));
    }
    // Check everything before changing anything: a bad file leaves `o` alone.
    RunOptions next = o;
    for (auto&& [sec_key, sec_node] : doc) {
        const std::string sec(sec_key.str());
        const uint32_t sec_line = sec_key.source().begin.line;
        const toml::table* sec_tbl = sec_node.as_table();
        if (!sec_tbl) {
            std::string hint = elsewhere(sec);
            fail(sec_line, sec, hint.empty() ? "unknown key (keys live in [agent], [detect], [block], [output] and [crowdsec])"
                                             : "unknown key at the top level; did you mean " + hint + " (in [" +
                                                   hint.substr(0, hint.find('.')) + "])?");
        }
        if (!known_section(sec))
            fail(sec_line, "", "unknown section [" + sec + "] (sections: agent, detect, block, output, crowdsec)");
        for (auto&& [k, v] : *sec_tbl) {
            const std::string kname(k.str());
            const std::string full = sec + "." + kname;
            const Key* key = find_key(sec, kname);
            if (!key) {
                std::string hint = suggestion(sec, kname);
                fail(k.source().begin.line, full, hint.empty() ? "unknown key" : "unknown key; did you mean " + hint + "?");
            }
            try {
                key->set(next, v);
            } catch (const BadValue& e) {
                fail(e.line ? e.line : k.source().begin.line, full, e.what());
            }
        }
    }
    o = std::move(next);
}

void apply_config_file(const std::string& path, RunOptions& o) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw ConfigError(path + ": cannot read the config file: it is a directory");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw ConfigError(path + ": cannot read the config file: " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad())
        throw ConfigError(path + ": cannot read the config file: " + std::strerror(errno));
    apply_config(text.str(), path, o);
}

ConfigDiff config_diff(const RunOptions& running, const RunOptions& next) {
    ConfigDiff d;
    for (const auto& k : keys())
        if (!k.same(running, next))
            (k.reloadable ? d.reloaded : d.restart).push_back(k.full());
    return d;
}

void keep_restart_keys(const RunOptions& running, RunOptions& next) {
    for (const auto& k : keys())
        if (!k.reloadable)
            k.copy(next, running);
}

std::vector<std::string> config_keys() {
    std::vector<std::string> out;
    for (const auto& k : keys())
        out.push_back(k.full());
    return out;
}

}  // namespace scanwatch
