#include "crowdsec/lapi.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <stdexcept>

#include "scanwatch/output.hpp"
#include "scanwatch/parse.hpp"

namespace scanwatch::crowdsec {

std::string LapiUrl::origin() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return scheme + "://" + h + ":" + std::to_string(port);
}

LapiUrl parse_lapi_url(const std::string& text) {
    auto bad = [&](const std::string& why) {
        return std::invalid_argument(quote_input(text) + " is not a Local API URL (" + why +
                                     "; e.g. http://127.0.0.1:8080/)");
    };
    LapiUrl u;
    auto sep = text.find("://");
    if (sep == std::string::npos)
        throw bad("no http:// or https://");
    u.scheme = text.substr(0, sep);
    if (u.scheme != "http" && u.scheme != "https")
        throw bad("the scheme must be http or https");
    std::string rest = text.substr(sep + 3);
    auto slash = rest.find('/');
    std::string hostport = rest.substr(0, slash);
    std::string path = slash == std::string::npos ? "" : rest.substr(slash);
    if (path.find_first_of("?# \t") != std::string::npos)
        throw bad("no query, fragment or spaces");
    while (!path.empty() && path.back() == '/')
        path.pop_back();
    u.base = path;
    std::string portstr;
    if (!hostport.empty() && hostport[0] == '[') {
        auto close = hostport.find(']');
        if (close == std::string::npos)
            throw bad("unclosed [");
        u.host = hostport.substr(1, close - 1);
        if (!Addr::parse(u.host) || u.host.find(':') == std::string::npos)
            throw bad("bad IPv6 address in brackets");
        std::string after = hostport.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':')
                throw bad("junk after ]");
            portstr = after.substr(1);
            if (portstr.empty())
                throw bad("empty port");
        }
    } else {
        auto colon = hostport.find(':');
        u.host = hostport.substr(0, colon);
        if (colon != std::string::npos) {
            portstr = hostport.substr(colon + 1);
            if (portstr.empty())
                throw bad("empty port");
        }
        if (u.host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") !=
            std::string::npos)
            throw bad("bad host name");
    }
    if (u.host.empty())
        throw bad("no host");
    if (portstr.empty()) {
        u.port = u.scheme == "https" ? 443 : 80;
    } else {
        int p = 0;
        auto [ptr, ec] = std::from_chars(portstr.data(), portstr.data() + portstr.size(), p);
        if (ec != std::errc() || ptr != portstr.data() + portstr.size() || p < 1 || p > 65535)
            throw bad("the port must be 1-65535");
        u.port = p;
    }
    return u;
}

int64_t parse_go_duration_ns(const std::string& text) {
    auto bad = [&] { return std::invalid_argument(quote_input(text) + " is not a duration"); };
    std::string_view s = text;
    bool neg = false;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        s.remove_prefix(1);
    }
    if (s == "0")
        return 0;
    if (s.empty())
        throw bad();
    double total = 0;
    while (!s.empty()) {
        size_t i = 0;
        while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.'))
            i++;
        if (i == 0)
            throw bad();
        double v = 0;
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + i, v);
        if (ec != std::errc() || ptr != s.data() + i)
            throw bad();
        s.remove_prefix(i);
        size_t j = 0;
        while (j < s.size() && !std::isdigit(static_cast<unsigned char>(s[j])) && s[j] != '.')
            j++;
        std::string_view unit = s.substr(0, j);
        s.remove_prefix(j);
        double mul;
        if (unit == "h")
            mul = 3600e9;
        else if (unit == "m")
            mul = 60e9;
        else if (unit == "s")
            mul = 1e9;
        else if (unit == "ms")
            mul = 1e6;
        else if (unit == "us" || unit == "\xc2\xb5s" || unit == "\xce\xbcs")
            mul = 1e3;
        else if (unit == "ns")
            mul = 1;
        else
            throw bad();
        total += v * mul;
    }
    if (total > 9.2e18)
        throw bad();
    auto ns = static_cast<int64_t>(std::llround(total));
    return neg ? -ns : ns;
}

StreamBatch parse_stream(const nlohmann::json& body, size_t* bad) {
    StreamBatch b;
    size_t skipped = 0;
    if (!body.is_object())
        throw std::invalid_argument("the decisions stream is not a JSON object");
    auto read = [&](const char* field, std::vector<Decision>& out) {
        auto it = body.find(field);
        if (it == body.end() || it->is_null())
            return;
        if (!it->is_array())
            throw std::invalid_argument(std::string("the decisions stream's '") + field + "' is not a list");
        out.reserve(it->size());
        for (const auto& j : *it) {
            try {
                Decision d;
                d.id = j.at("id").get<int64_t>();
                d.origin = j.value("origin", "");
                d.type = j.value("type", "");
                d.scope = j.value("scope", "");
                d.value = j.value("value", "");
                d.scenario = j.value("scenario", "");
                d.duration_ns = parse_go_duration_ns(j.value("duration", "0s"));
                out.push_back(std::move(d));
            } catch (const std::exception&) {
                skipped++;
            }
        }
    };
    read("new", b.added);
    read("deleted", b.deleted);
    if (bad)
        *bad = skipped;
    return b;
}

std::string scenario_of(const ScanReport& r) {
    std::string kind = r.kinds.empty() ? "port" : r.kinds.front();
    return "scanwatch/" + kind + "-scan";
}

static std::string iso(uint64_t wall_ns) { return rfc3339(wall_ns); }

nlohmann::json alert_json(const ScanReport& r, const std::string& message, uint64_t start_wall_ns,
                          uint64_t stop_wall_ns, std::optional<uint64_t> ban_ttl_s) {
    const std::string src = r.src.str();
    const std::string scenario = scenario_of(r);
    std::string kinds;
    for (const auto& k : r.kinds)
        kinds += (kinds.empty() ? "" : ",") + k;
    char score[32];
    std::snprintf(score, sizeof score, "%.3f", r.score);
    nlohmann::json meta = nlohmann::json::array({
        {{"key", "source_ip"}, {"value", src}},
        {{"key", "kinds"}, {"value", kinds}},
        {{"key", "tool"}, {"value", r.tool}},
        {{"key", "ports"}, {"value", std::to_string(r.ports)}},
        {{"key", "hosts"}, {"value", std::to_string(r.hosts)}},
        {{"key", "score"}, {"value", score}},
    });
    nlohmann::json a;
    a["scenario"] = scenario;
    a["scenario_hash"] = "";
    a["scenario_version"] = "0.1.0";
    a["message"] = message;
    a["events_count"] = static_cast<int32_t>(std::min<uint64_t>(r.probes, INT32_MAX));
    a["start_at"] = iso(start_wall_ns);
    a["stop_at"] = iso(stop_wall_ns);
    a["capacity"] = 0;
    a["leakspeed"] = "0s";
    a["simulated"] = false;
    // Without a decision of ours the LAPI's profiles must not ban on their
    // own: scanwatch's safety rules decided against it.
    a["remediation"] = ban_ttl_s.has_value();
    a["events"] = nlohmann::json::array({{{"timestamp", iso(stop_wall_ns)}, {"meta", meta}}});
    a["source"] = {{"scope", "Ip"}, {"value", src}, {"ip", src}};
    a["meta"] = meta;
    a["labels"] = nlohmann::json::array({"scanwatch"});
    a["decisions"] = nlohmann::json::array();
    if (ban_ttl_s) {
        uint64_t s = *ban_ttl_s ? *ban_ttl_s : 87600ULL * 3600;
        a["decisions"].push_back({{"origin", "scanwatch"},
                                  {"type", "ban"},
                                  {"scope", "Ip"},
                                  {"value", src},
                                  {"duration", std::to_string(s) + "s"},
                                  {"scenario", scenario}});
    }
    return a;
}

static bool iequals(const std::string& a, const char* b) {
    size_t n = std::char_traits<char>::length(b);
    if (a.size() != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (std::tolower(static_cast<unsigned char>(a[i])) != b[i])
            return false;
    return true;
}

void DecisionTable::drop(int64_t id, std::set<Cidr, CidrLess>& touched) {
    auto it = by_id_.find(id);
    if (it == by_id_.end())
        return;
    auto t = by_target_.find(it->second.target);
    if (t != by_target_.end()) {
        t->second.erase(id);
        touched.insert(it->second.target);
        if (t->second.empty())
            by_target_.erase(t);
    }
    by_id_.erase(it);
}

namespace {

std::string lower(std::string s) {
    for (char& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// RFC 3986 unreserved characters stay, everything else is %XX.
std::string percent_encode(const std::string& s) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

std::string joined(const std::vector<std::string>& words, bool encode) {
    std::string out;
    for (const auto& w : words)
        out += (out.empty() ? "" : ",") + (encode ? percent_encode(w) : w);
    return out;
}

}  // namespace

std::string DecisionFilter::query() const {
    std::string q;
    auto add = [&](const char* name, const std::vector<std::string>& words) {
        if (!words.empty())
            q += (q.empty() ? "" : "&") + std::string(name) + "=" + joined(words, true);
    };
    add("origins", origins);
    add("scenarios_containing", scenarios_containing);
    add("scenarios_not_containing", scenarios_not_containing);
    return q;
}

bool DecisionFilter::admits(const std::string& origin, const std::string& scenario) const {
    if (!origins.empty() && std::find(origins.begin(), origins.end(), origin) == origins.end())
        return false;
    const std::string sc = lower(scenario);
    auto holds = [&](const std::string& w) { return sc.find(lower(w)) != std::string::npos; };
    if (!scenarios_containing.empty() && std::none_of(scenarios_containing.begin(), scenarios_containing.end(), holds))
        return false;
    return std::none_of(scenarios_not_containing.begin(), scenarios_not_containing.end(), holds);
}

std::string DecisionFilter::describe() const {
    std::string s;
    auto add = [&](const std::string& what, const std::vector<std::string>& words) {
        if (!words.empty())
            s += (s.empty() ? "" : "; ") + what + " " + joined(words, false);
    };
    add("origins", origins);
    add("scenarios with", scenarios_containing);
    add("scenarios without", scenarios_not_containing);
    return s;
}

void check_filter(const DecisionFilter& f) {
    auto each = [](const char* flag, const std::vector<std::string>& words) {
        for (const auto& w : words) {
            try {
                check_list_word(w);
            } catch (const std::invalid_argument& e) {
                throw std::invalid_argument(std::string(flag) + ": " + e.what());
            }
        }
    };
    each("--crowdsec-origins (crowdsec.origins)", f.origins);
    each("--crowdsec-scenarios-containing (crowdsec.scenarios_containing)", f.scenarios_containing);
    each("--crowdsec-scenarios-not-containing (crowdsec.scenarios_not_containing)", f.scenarios_not_containing);
    for (const auto& w : f.scenarios_containing)
        for (const auto& n : f.scenarios_not_containing)
            if (lower(w).find(lower(n)) != std::string::npos)
                throw std::invalid_argument("--crowdsec-scenarios-not-containing " + quote_input(n) +
                                            " excludes every scenario --crowdsec-scenarios-containing " +
                                            quote_input(w) + " lets in");
}

std::vector<DecisionTable::Op> DecisionTable::apply(const StreamBatch& b, uint64_t now_ns) {
    std::set<Cidr, CidrLess> touched;
    if (b.startup) {
        for (const auto& [t, ids] : by_target_)
            touched.insert(t);
        by_id_.clear();
        by_target_.clear();
    }
    for (const auto& d : b.deleted)
        drop(d.id, touched);
    for (const auto& d : b.added) {
        drop(d.id, touched);  // a decision sent again replaces itself
        if (!filter_.admits(d.origin, d.scenario)) {
            filtered_++;
            continue;
        }
        if (!iequals(d.type, "ban") || !(iequals(d.scope, "ip") || iequals(d.scope, "range"))) {
            ignored_++;
            continue;
        }
        Cidr c;
        try {
            c = Cidr::parse(d.value);
        } catch (const std::invalid_argument&) {
            ignored_++;
            continue;
        }
        if (d.duration_ns <= 0)
            continue;
        by_id_[d.id] = Held{c, now_ns + static_cast<uint64_t>(d.duration_ns), d.origin, d.scenario};
        by_target_[c].insert(d.id);
        touched.insert(c);
    }
    std::vector<Op> ops;
    ops.reserve(touched.size());
    for (const auto& t : touched) {
        auto it = by_target_.find(t);
        if (it == by_target_.end()) {
            ops.push_back(Op{Op::Lift, t, 0, {}, {}});
            continue;
        }
        const Held* last = nullptr;
        for (int64_t id : it->second) {
            const Held& h = by_id_.at(id);
            if (!last || h.expires_ns > last->expires_ns)
                last = &h;
        }
        ops.push_back(Op{Op::Put, t, last->expires_ns, "crowdsec: " + last->origin + "/" + last->scenario, {}, b.startup});
    }
    return ops;
}

void DecisionTable::forget(const Cidr& target) {
    auto it = by_target_.find(target);
    if (it == by_target_.end())
        return;
    for (int64_t id : it->second)
        by_id_.erase(id);
    by_target_.erase(it);
}

std::map<std::string, uint64_t> DecisionTable::by_origin() const {
    std::map<std::string, uint64_t> m;
    for (const auto& [id, h] : by_id_)
        m[h.origin]++;
    return m;
}

}  // namespace scanwatch::crowdsec
