#include "ui/model.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <set>

#include "scanwatch/counters.hpp"
#include "scanwatch/detector.hpp"

namespace scanwatch::ui {

namespace {

std::string printf_str(const char* fmt, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, fmt, v);
    return buf;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
    std::string out;
    for (const auto& s : v)
        out += (out.empty() ? "" : sep) + s;
    return out;
}

uint64_t get_u64(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number())
        return 0;
    if (it->is_number_unsigned() || it->is_number_integer())
        return it->get<int64_t>() < 0 ? 0 : it->get<uint64_t>();
    double d = it->get<double>();
    return d > 0 ? static_cast<uint64_t>(d) : 0;
}

double get_double(const nlohmann::json& j, const char* key, double dflt) {
    auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<double>() : dflt;
}

std::string get_str(const nlohmann::json& j, const char* key, const std::string& dflt = "") {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : dflt;
}

std::vector<std::string> get_strings(const nlohmann::json& j, const char* key) {
    std::vector<std::string> out;
    auto it = j.find(key);
    if (it != j.end() && it->is_array())
        for (const auto& v : *it)
            if (v.is_string())
                out.push_back(v.get<std::string>());
    return out;
}

int state_rank(const SourceRow& r) {
    if (r.block)
        return 2;
    return r.scanner ? 1 : 0;
}

double failed_fraction(const SourceRow& r) {
    uint64_t total = r.failed + r.answered;
    return total ? static_cast<double>(r.failed) / static_cast<double>(total) : -1.0;
}

// ages: unknown (negative) sorts as the oldest
double age_key(double age) { return age < 0 || !std::isfinite(age) ? 1e300 : age; }

template <typename T>
int cmp(const T& a, const T& b) {
    return a < b ? -1 : (b < a ? 1 : 0);
}

const char* rpc_name(uint32_t prog) {
    switch (prog) {
    case 100000: return "portmapper";
    case 100001: return "rstatd";
    case 100002: return "rusersd";
    case 100003: return "nfs";
    case 100004: return "ypserv";
    case 100005: return "mountd";
    case 100007: return "ypbind";
    case 100011: return "rquotad";
    case 100021: return "nlockmgr";
    case 100024: return "status";
    case 100227: return "nfs_acl";
    default: return nullptr;
    }
}

}  // namespace

// ---- formatting ----------------------------------------------------------

std::string format_age(double s) {
    if (!std::isfinite(s) || s < 0)
        return "-";
    if (s < 60)
        return printf_str("%.0fs", std::floor(s));
    if (s < 3600)
        return printf_str("%.0fm", std::floor(s / 60));
    if (s < 86400)
        return printf_str("%.0fh", std::floor(s / 3600));
    return printf_str("%.0fd", std::floor(s / 86400));
}

std::string format_duration(double s) {
    if (!std::isfinite(s) || s < 0)
        return "-";
    auto t = static_cast<uint64_t>(s);
    if (t >= 60 && t < 3600 && t % 60 == 0)
        return std::to_string(t / 60) + "m";
    if (t >= 3600 && t < 86400 && t % 3600 == 0)
        return std::to_string(t / 3600) + "h";
    if (t >= 86400 && t % 86400 == 0)
        return std::to_string(t / 86400) + "d";
    char buf[64];
    if (t < 60)
        std::snprintf(buf, sizeof buf, "%llus", static_cast<unsigned long long>(t));
    else if (t < 3600)
        std::snprintf(buf, sizeof buf, "%llum%02llus", static_cast<unsigned long long>(t / 60),
                      static_cast<unsigned long long>(t % 60));
    else if (t < 86400)
        std::snprintf(buf, sizeof buf, "%lluh%02llum", static_cast<unsigned long long>(t / 3600),
                      static_cast<unsigned long long>(t % 3600 / 60));
    else
        std::snprintf(buf, sizeof buf, "%llud%02lluh", static_cast<unsigned long long>(t / 86400),
                      static_cast<unsigned long long>(t % 86400 / 3600));
    return buf;
}

std::string format_time_left(double s) {
    if (!std::isfinite(s) || s < 0)
        return "-";
    double unit = s < 60 ? 1 : s < 3600 ? 60 : s < 86400 ? 3600 : 86400;
    return format_age(std::round(s / unit) * unit);
}

std::string format_percent(uint64_t failed, uint64_t answered) {
    uint64_t total = failed + answered;
    if (total == 0)
        return "-";
    uint64_t pct = failed * 100 / total;  // floored: 999 of 1000 is 99%
    return std::to_string(pct) + "%";
}

std::string format_rate(std::optional<double> v) {
    if (!v || !std::isfinite(*v) || *v < 0)
        return "-";
    double r = *v;
    if (r == 0)
        return "0";
    if (r < 9.95)
        return printf_str("%.1f", r);
    if (r < 99999.5)
        return printf_str("%.0f", r);
    if (r < 999950)
        return printf_str("%.1fk", r / 1e3);
    return printf_str("%.1fM", r / 1e6);
}

std::string format_count(uint64_t n) {
    if (n < 100000)
        return std::to_string(n);
    if (n < 1000000)
        return std::to_string(n / 1000) + "k";
    if (n < 1000000000ULL)
        return printf_str("%.1fM", std::floor(static_cast<double>(n) / 1e5) / 10);
    return printf_str("%.1fG", std::floor(static_cast<double>(n) / 1e8) / 10);
}

std::string fit(std::string_view text, size_t width, bool right_align) {
    if (text.size() > width) {
        if (width == 0)
            return "";
        return std::string(text.substr(0, width - 1)) + "~";
    }
    std::string pad(width - text.size(), ' ');
    return right_align ? pad + std::string(text) : std::string(text) + pad;
}

std::string fit_kinds(const std::vector<std::string>& kinds, size_t width) {
    if (kinds.empty())
        return "-";
    std::string all = join(kinds, ",");
    if (all.size() <= width)
        return all;
    // as many whole kinds as fit with ",+N" for the rest
    std::string out;
    size_t n = 0;
    for (size_t i = 0; i < kinds.size(); i++) {
        std::string next = out + (out.empty() ? "" : ",") + kinds[i];
        size_t rest = kinds.size() - i - 1;
        std::string suffix = rest ? ",+" + std::to_string(rest) : "";
        if (next.size() + suffix.size() > width)
            break;
        out = std::move(next);
        n = i + 1;
    }
    std::string res = (n ? out + "," : "") + "+" + std::to_string(kinds.size() - n);
    return res.size() <= width ? res : fit(all, width);
}

std::optional<double> parse_rfc3339(std::string_view text) {
    std::string s(text);
    int Y, M, D, h, m;
    double sec;
    char z = 0;
    if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%lf%c", &Y, &M, &D, &h, &m, &sec, &z) != 7 || z != 'Z')
        return std::nullopt;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec < 0 || sec >= 61)
        return std::nullopt;
    tm t{};
    t.tm_year = Y - 1900;
    t.tm_mon = M - 1;
    t.tm_mday = D;
    t.tm_hour = h;
    t.tm_min = m;
    t.tm_sec = 0;
    return static_cast<double>(timegm(&t)) + sec;
}

std::string sparkline(const std::vector<std::optional<double>>& values, bool unicode) {
    static const char* const kBlocks[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                          "\u2585", "\u2586", "\u2587", "\u2588"};
    static const char kAscii[] = ".:-=+*#@";
    double max = 0;
    for (const auto& v : values)
        if (v && std::isfinite(*v))
            max = std::max(max, *v);
    std::string out;
    for (const auto& v : values) {
        if (!v || !std::isfinite(*v) || *v <= 0 || max <= 0) {
            out += ' ';
            continue;
        }
        int level = static_cast<int>(std::ceil(*v / max * 8));
        level = std::clamp(level, 1, 8);
        if (unicode)
            out += kBlocks[level - 1];
        else
            out += kAscii[level - 1];
    }
    return out;
}

// ---- rows ----------------------------------------------------------------

SourceRow row_from_json(const nlohmann::json& j) {
    SourceRow r;
    r.src = get_str(j, "src");
    if (auto a = Addr::parse(r.src))
        r.addr = *a;
    r.kinds = get_strings(j, "kinds");
    r.tool = get_str(j, "tool", "unknown");
    r.ports = get_u64(j, "ports");
    r.hosts = get_u64(j, "hosts");
    r.probes = get_u64(j, "probes");
    r.answered = get_u64(j, "answered");
    r.failed = get_u64(j, "failed");
    r.score = get_double(j, "score", 0);
    r.scanner = j.value("scanner", false);
    r.why_not = get_strings(j, "why_not");
    r.state = get_str(j, "state", "watching");
    auto b = j.find("block");
    if (b != j.end() && b->is_object()) {
        BlockState bs;
        bs.target = get_str(*b, "target", r.src);
        bs.reason = get_str(*b, "reason");
        bs.manual = b->value("manual", false);
        auto t = b->find("ttl_left_s");
        if (t != b->end() && t->is_number())
            bs.ttl_left_s = t->get<double>();
        r.block = bs;
        r.state = "blocked";
    } else if (r.state == "blocked") {
        r.block = BlockState{r.src, "", false, std::nullopt};
    }
    double idle = get_double(j, "idle_s", -1);
    r.last_age_s = idle;
    auto first = parse_rfc3339(get_str(j, "first_seen"));
    auto last = parse_rfc3339(get_str(j, "last_seen"));
    if (first && last && idle >= 0)
        r.first_age_s = std::max(0.0, *last - *first) + idle;
    auto ev = j.find("evidence");
    if (ev != j.end() && ev->is_object())
        for (auto it = ev->begin(); it != ev->end(); ++it)
            if (it->is_number())
                r.evidence[it.key()] = it->get<uint64_t>();
    auto rpc = j.find("rpc_programs");
    if (rpc != j.end() && rpc->is_array())
        for (const auto& p : *rpc)
            if (p.is_number())
                r.rpc_programs.push_back(p.get<uint32_t>());
    return r;
}

const char* column_name(Column c) {
    switch (c) {
    case Column::Source: return "SOURCE";
    case Column::Kinds: return "KINDS";
    case Column::Tool: return "TOOL";
    case Column::Ports: return "PORTS";
    case Column::Hosts: return "HOSTS";
    case Column::ProbeRate: return "PROBES/s";
    case Column::Failed: return "FAILED%";
    case Column::First: return "FIRST";
    case Column::Last: return "LAST";
    case Column::State: return "STATE";
    case Column::Score: return "SCORE";
    }
    return "?";
}

std::optional<Column> column_from_name(std::string_view name) {
    std::string n = lower(name);
    for (Column c : kAllColumns)
        if (lower(column_name(c)) == n)
            return c;
    if (n == "probes" || n == "rate")
        return Column::ProbeRate;
    if (n == "failed")
        return Column::Failed;
    return std::nullopt;
}

// ---- sorting and filtering ----------------------------------------------

bool row_before(const SourceRow& a, const SourceRow& b, Column key, bool inverted) {
    int c = 0;  // < 0: a first in the column's natural order
    switch (key) {
    case Column::Source: c = cmp(a.addr, b.addr); break;
    case Column::Kinds: {
        // sources without kinds last
        if (a.kinds.empty() != b.kinds.empty())
            c = a.kinds.empty() ? 1 : -1;
        else
            c = cmp(join(a.kinds, ","), join(b.kinds, ","));
        break;
    }
    case Column::Tool: {
        bool ua = a.tool == "unknown", ub = b.tool == "unknown";
        c = ua != ub ? (ua ? 1 : -1) : cmp(a.tool, b.tool);
        break;
    }
    case Column::Ports: c = cmp(b.ports, a.ports); break;
    case Column::Hosts: c = cmp(b.hosts, a.hosts); break;
    case Column::ProbeRate: c = cmp(b.probe_rate.value_or(-1.0), a.probe_rate.value_or(-1.0)); break;
    case Column::Failed: c = cmp(failed_fraction(b), failed_fraction(a)); break;
    case Column::First: c = cmp(age_key(a.first_age_s), age_key(b.first_age_s)); break;
    case Column::Last: c = cmp(age_key(a.last_age_s), age_key(b.last_age_s)); break;
    case Column::State: c = cmp(state_rank(b), state_rank(a)); break;
    case Column::Score: c = cmp(b.score, a.score); break;
    }
    if (c != 0)
        return inverted ? c > 0 : c < 0;
    // ties: by address, whatever the direction, so rows keep their places
    if (int t = cmp(a.addr, b.addr))
        return t < 0;
    return a.src < b.src;
}

void sort_rows(std::vector<const SourceRow*>& rows, Column key, bool inverted) {
    std::stable_sort(rows.begin(), rows.end(),
                     [&](const SourceRow* a, const SourceRow* b) { return row_before(*a, *b, key, inverted); });
}

bool matches(const SourceRow& r, std::string_view filter) {
    std::string f = lower(filter);
    while (!f.empty() && f.back() == ' ')
        f.pop_back();
    while (!f.empty() && f.front() == ' ')
        f.erase(f.begin());
    if (f.empty())
        return true;
    if (lower(r.src).find(f) != std::string::npos)
        return true;
    for (const auto& k : r.kinds)
        if (lower(k).find(f) != std::string::npos)
            return true;
    return lower(r.tool).find(f) != std::string::npos || lower(r.state).find(f) != std::string::npos;
}

std::optional<double> rate_from_delta(std::optional<uint64_t> before, uint64_t now, double dt_s) {
    if (!before || !(dt_s > 0) || now < *before)
        return std::nullopt;
    return static_cast<double>(now - *before) / dt_s;
}

// ---- the model -----------------------------------------------------------

void TopModel::ingest(double now_s, const nlohmann::json& sources, const nlohmann::json& status,
                      const nlohmann::json& blocks) {
    const bool have_prev = samples_ > 0;
    const double dt = now_s - prev_t_;
    rows_.clear();
    auto arr = sources.is_object() ? sources.find("sources") : sources.end();
    if (sources.is_object() && arr != sources.end() && arr->is_array())
        for (const auto& j : *arr)
            if (j.is_object())
                rows_.push_back(row_from_json(j));
    auto barr = blocks.is_object() ? blocks.find("blocks") : blocks.end();
    if (blocks.is_object() && barr != blocks.end() && barr->is_array()) {
        std::set<std::string> covered;
        for (const auto& r : rows_)
            if (r.block)
                covered.insert(r.block->target);
        for (const auto& b : *barr) {
            if (!b.is_object())
                continue;
            std::string target = get_str(b, "target");
            if (target.empty() || covered.count(target))
                continue;
            SourceRow r;
            r.block_only = true;
            r.src = target;
            try {
                Cidr c = Cidr::parse(target);
                r.addr = c.addr;
                if (c.prefix == 128)  // a host (IPv4 /32 is /128 over the mapped form)
                    r.src = c.addr.str();
            } catch (const std::exception&) {
            }
            if (find(r.src))
                continue;  // its source row lists another block: that one shows
            r.tool = "-";
            r.state = "blocked";
            BlockState bs;
            bs.target = target;
            bs.reason = get_str(b, "reason");
            bs.manual = b.value("manual", false);
            auto t = b.find("ttl_left_s");
            if (t != b.end() && t->is_number())
                bs.ttl_left_s = t->get<double>();
            r.block = bs;
            rows_.push_back(std::move(r));
        }
    }

    std::unordered_map<std::string, uint64_t> probes;
    for (auto& r : rows_) {
        if (r.block_only)
            continue;
        if (have_prev) {
            auto it = prev_probes_.find(r.src);
            r.probe_rate = rate_from_delta(it == prev_probes_.end() ? std::nullopt : std::optional<uint64_t>(it->second),
                                           r.probes, dt);
            if (r.probe_rate)
                history_[r.src].emplace_back(now_s, *r.probe_rate);
        }
        probes[r.src] = r.probes;
    }
    prev_probes_ = std::move(probes);

    Totals t;
    if (sources.is_object()) {
        t.packets = get_u64(sources, "packets");
        t.dropped = get_u64(sources, "dropped");
        t.blocks = get_u64(sources, "blocks");
        t.xdp_mode = get_str(sources, "xdp_mode", "?");
        t.ifaces = get_strings(sources, "ifaces");
    }
    t.packets_per_s = have_prev ? rate_from_delta(prev_packets_, t.packets, dt) : std::nullopt;
    prev_packets_ = t.packets;
    t.tracked = static_cast<uint64_t>(std::count_if(rows_.begin(), rows_.end(), [](const SourceRow& r) { return !r.block_only; }));
    for (const auto& r : rows_)
        t.scanners_now += r.scanner ? 1 : 0;
    if (status.is_object()) {
        t.tracked = std::max<uint64_t>(get_u64(status, "sources"), t.tracked);
        t.scanners_seen = get_u64(status, "scanners");
        t.uptime_s = get_double(status, "uptime_s", -1);
        t.block_enabled = status.value("block_enabled", false);
        t.events_lost = get_u64(status, "events_lost");
        if (t.ifaces.empty())
            t.ifaces = get_strings(status, "ifaces");
    }
    totals_ = std::move(t);

    // keep a minute (and a little) of rate history; forget sources gone that long
    const double horizon = now_s - history_s_ - 2;
    for (auto it = history_.begin(); it != history_.end();) {
        auto& d = it->second;
        while (!d.empty() && d.front().first < horizon)
            d.pop_front();
        it = d.empty() ? history_.erase(it) : std::next(it);
    }
    prev_t_ = now_s;
    now_s_ = now_s;
    samples_++;
}

const SourceRow* TopModel::find(std::string_view src) const {
    for (const auto& r : rows_)
        if (r.src == src)
            return &r;
    return nullptr;
}

std::vector<const SourceRow*> TopModel::view() const {
    std::vector<const SourceRow*> v;
    v.reserve(rows_.size());
    for (const auto& r : rows_)
        if (matches(r, filter))
            v.push_back(&r);
    sort_rows(v, sort_key, inverted);
    return v;
}

std::vector<std::optional<double>> TopModel::rate_series(std::string_view src, size_t cells, double window_s) const {
    std::vector<std::optional<double>> out(cells);
    if (cells == 0 || !(window_s > 0))
        return out;
    auto it = history_.find(std::string(src));
    if (it == history_.end())
        return out;
    const double start = now_s_ - window_s;
    const double w = window_s / static_cast<double>(cells);
    for (const auto& [t, rate] : it->second) {
        if (t <= start)
            continue;
        // a rate covers the interval that ends at its sample: (t - delay, t]
        double cell = std::ceil((t - start) / w) - 1;
        auto i = static_cast<size_t>(std::clamp(cell, 0.0, static_cast<double>(cells - 1)));
        out[i] = std::max(out[i].value_or(0.0), rate);
    }
    return out;
}

// ---- cursor ----------------------------------------------------------------

namespace {
void keep_visible(Cursor& c, size_t n, size_t visible) {
    if (visible == 0)
        visible = 1;
    if (c.index < c.top)
        c.top = c.index;
    if (c.index >= c.top + visible)
        c.top = c.index + 1 - visible;
    // no empty space below the last row when rows went away
    if (c.top + visible > n)
        c.top = n > visible ? n - visible : 0;
}
}  // namespace

void Cursor::sync(const std::vector<const SourceRow*>& view, size_t visible) {
    if (view.empty()) {
        index = top = 0;
        return;  // keep src: it may come back (a filter edit)
    }
    bool found = false;
    if (follow && !src.empty())
        for (size_t i = 0; i < view.size(); i++)
            if (view[i]->src == src) {
                index = i;
                found = true;
                break;
            }
    if (!found)
        index = std::min(index, view.size() - 1);
    src = view[index]->src;
    keep_visible(*this, view.size(), visible);
}

void Cursor::move(const std::vector<const SourceRow*>& view, long delta, size_t visible) {
    if (view.empty())
        return;
    long i = static_cast<long>(index) + delta;
    i = std::clamp(i, 0L, static_cast<long>(view.size()) - 1);
    index = static_cast<size_t>(i);
    src = view[index]->src;
    follow = true;
    keep_visible(*this, view.size(), visible);
}

// ---- layout ----------------------------------------------------------------

namespace {
struct ColumnSpec {
    Column id;
    size_t width;
    bool right;
};
constexpr size_t kKindsMin = 8;
constexpr size_t kKindsWide = 16;
}  // namespace

std::vector<LaidColumn> layout_columns(size_t width, const std::vector<const SourceRow*>& rows) {
    size_t src_w = 11;
    for (const auto* r : rows)
        src_w = std::max(src_w, r->src.size());
    src_w = std::min<size_t>(src_w, 39);
    std::vector<ColumnSpec> cols = {
        {Column::Source, src_w, false}, {Column::Kinds, 0, false},    {Column::Tool, 7, false},
        {Column::Ports, 5, true},       {Column::Hosts, 5, true},     {Column::ProbeRate, 8, true},
        {Column::Failed, 7, true},      {Column::First, 5, true},     {Column::Last, 4, true},
        {Column::State, 13, false},     {Column::Score, 5, true},  // "blocked never"
    };
    auto used = [&] {
        size_t u = 0;
        for (const auto& c : cols)
            u += c.width;
        return u + (cols.size() - 1);  // one space between columns
    };
    // SCORE is the default sort key: it goes last (issue 17: at 80 columns it went first)
    const Column drop_order[] = {Column::First, Column::Hosts, Column::Tool, Column::Failed, Column::ProbeRate,
                                 Column::Score};
    for (Column d : drop_order) {
        if (used() + kKindsMin <= width)
            break;
        cols.erase(std::remove_if(cols.begin(), cols.end(), [&](const ColumnSpec& c) { return c.id == d; }),
                   cols.end());
    }
    if (used() + kKindsMin > width && src_w > 15)
        cols[0].width = std::max<size_t>(15, src_w - (used() + kKindsMin - width));
    // KINDS: as wide as the longest list (at least kKindsWide), at most the rest
    size_t kinds_w = kKindsWide;
    for (const auto* r : rows) {
        size_t n = 0;
        for (const auto& k : r->kinds)
            n += k.size() + (n ? 1 : 0);
        kinds_w = std::max(kinds_w, n);
    }
    size_t u = used();
    std::vector<LaidColumn> out;
    for (auto& c : cols) {
        if (c.id == Column::Kinds)
            c.width = width > u ? std::min(kinds_w, width - u) : 5;
        out.push_back({c.id, c.width, c.right});
    }
    return out;
}

std::string format_cell(const SourceRow& r, Column c, size_t w) {
    if (r.block_only && c != Column::Source && c != Column::State)
        return fit("-", w, c != Column::Kinds && c != Column::Tool);  // no record: nothing to count
    switch (c) {
    case Column::Source: return fit(r.src, w);
    case Column::Kinds: return fit(fit_kinds(r.kinds, w), w);
    case Column::Tool: return fit(r.tool, w);
    case Column::Ports: return fit(format_count(r.ports), w, true);
    case Column::Hosts: return fit(format_count(r.hosts), w, true);
    case Column::ProbeRate: return fit(format_rate(r.probe_rate), w, true);
    case Column::Failed: return fit(format_percent(r.failed, r.answered), w, true);
    case Column::First: return fit(format_age(r.first_age_s), w, true);
    case Column::Last: return fit(format_age(r.last_age_s), w, true);
    case Column::State: {
        std::string s = r.state;
        if (r.block) {
            s = "blocked";
            // the same words as `scanwatch blocks`: "56m", or "never" (no blank)
            s += " " + (r.block->ttl_left_s ? format_time_left(*r.block->ttl_left_s) : std::string("never"));
        }
        return fit(s, w);
    }
    case Column::Score: return fit(format_score(r.score), w, true);
    }
    return fit("", w);
}

std::string format_row(const SourceRow* r, const std::vector<LaidColumn>& cols) {
    std::string line;
    for (size_t i = 0; i < cols.size(); i++) {
        if (i)
            line += ' ';
        line += r ? format_cell(*r, cols[i].id, cols[i].width) : fit(column_name(cols[i].id), cols[i].width, cols[i].right);
    }
    return line;
}

std::vector<std::string> header_lines(const TopModel& m, const HeaderInfo& h, size_t width) {
    const Totals& t = m.totals();
    std::vector<std::string> out;
    std::string l0 = "scanwatch top - agent " + h.socket;
    if (t.uptime_s >= 0)
        l0 += " - up " + format_duration(t.uptime_s);
    l0 += " - every " + printf_str("%g", h.delay_s) + "s";
    if (h.paused)
        l0 += " - PAUSED";
    if (!h.error.empty())
        l0 += " - NOT ANSWERING, retrying";
    out.push_back(l0);

    std::string ifaces = t.ifaces.empty() ? "?" : join(t.ifaces, ",");
    std::string l1 = "packets/s " + format_rate(t.packets_per_s) + "  packets " + format_count(t.packets) +
                     "  drops " + format_count(t.dropped) + "  XDP " + t.xdp_mode + " on " + ifaces;
    if (t.events_lost)
        l1 += "  events lost " + format_count(t.events_lost);
    out.push_back(l1);

    std::string l2 = "sources " + format_count(t.tracked) + "  scanners now " + format_count(t.scanners_now);
    if (t.scanners_seen)
        l2 += " (" + format_count(t.scanners_seen) + " seen)";
    l2 += "  blocks " + format_count(t.blocks) + (t.block_enabled ? " (auto-block on)" : "");
    l2 += "  sort " + std::string(column_name(m.sort_key)) + (m.inverted ? " (inverted)" : "");
    if (!m.filter.empty())
        l2 += "  filter '" + m.filter + "'";
    out.push_back(l2);
    for (auto& l : out)
        if (l.size() > width)
            l = fit(l, width);
    return out;
}

std::vector<std::string> evidence_for_kind(std::string_view kind) {
    std::vector<std::string> out;
    for (unsigned c = 0; c < SW_C_MAX; c++)
        if (counter_backs_kind(c, kind))
            out.emplace_back(kCounters[c].name);
    return out;
}

std::vector<std::string> detail_lines(const TopModel& m, const SourceRow& r, size_t width, bool unicode) {
    std::vector<std::string> out;
    auto add = [&](const std::string& s) { out.push_back(fit(s, width)); };
    // head + text over as many lines as it takes, broken after a comma
    // when possible (else at a space), continuation lines indented
    auto add_wrapped = [&](const std::string& head, std::string rest) {
        const std::string indent(std::min<size_t>(head.size(), width / 2), ' ');
        std::string cur = head;
        for (;;) {
            size_t room = width > cur.size() ? width - cur.size() : 0;
            if (rest.size() <= room || room < 8) {
                add(cur + rest);
                return;
            }
            // after a comma unless that wastes half the line, else at a space
            size_t brk = std::string::npos;
            size_t p = rest.rfind(", ", room - 1);
            if (p != std::string::npos && p > 0 && p + 1 >= room / 2)
                brk = p + 1;  // the comma stays on this line
            else if (p = rest.rfind(' ', room); p != std::string::npos && p > 0)
                brk = p;
            if (brk == std::string::npos) {
                add(cur + rest);  // one long word: cut
                return;
            }
            add(cur + rest.substr(0, brk));
            rest.erase(0, rest.find_first_not_of(' ', brk));
            cur = indent;
        }
    };
    auto add_list = [&](const std::string& head, const std::vector<std::string>& items) {
        add_wrapped(head, join(items, ", "));
    };

    add_wrapped("", r.src + "  tool " + r.tool + "  score " + format_score(r.score) + "  " +
                        (r.scanner ? "judged a scanner" : "not judged a scanner"));
    if (!r.scanner && !r.why_not.empty())
        add_list("why not: ", r.why_not);
    if (r.block) {
        std::string s = "block: " + std::string(r.block->manual ? "manual" : "automatic") + " on " + r.block->target;
        s += r.block->ttl_left_s ? ", " + format_duration(*r.block->ttl_left_s) + " left" : ", never expires";
        if (!r.block->reason.empty() && r.block->reason != "manual")
            s += " (" + r.block->reason + ")";
        add_wrapped("block: ", s.substr(7));
    } else {
        add("block: not blocked (b blocks it)");
    }
    if (r.block_only) {
        add("no traffic from it is on record (blocked before the kernel kept any, or a CIDR)");
        add("u unblocks it");
        return out;
    }
    add_list("seen: ", {"first " + format_age(r.first_age_s) + " ago", "last " + format_age(r.last_age_s) + " ago",
                        "probes " + std::to_string(r.probes), "answered " + std::to_string(r.answered),
                        "failed " + std::to_string(r.failed) + " (" + format_percent(r.failed, r.answered) + ")"});
    add_wrapped("ports: ", "~" + std::to_string(r.ports) + ", hosts ~" + std::to_string(r.hosts) +
                               " (estimates from a sketch; the port list is not kept)");

    std::set<std::string> shown;
    if (r.kinds.empty()) {
        add("kinds: none yet");
    } else {
        add("kinds and the evidence behind them:");
        for (const auto& k : r.kinds) {
            std::vector<std::string> ev;
            for (const auto& name : evidence_for_kind(k)) {
                auto it = r.evidence.find(name);
                if (it == r.evidence.end())
                    continue;
                ev.push_back(name + " " + std::to_string(it->second));
                shown.insert(name);
            }
            if (k == "sweep")
                ev = {"hosts ~" + std::to_string(r.hosts), "ports ~" + std::to_string(r.ports)};
            if ((k == "service-detect" || k == "rpc") && !r.rpc_programs.empty())
                ev.push_back(std::to_string(r.rpc_programs.size()) + " rpc programs");
            if (ev.empty())
                ev.push_back("-");
            add_list("  " + fit(k, 15), ev);
        }
    }
    std::vector<std::string> other;
    for (const auto& [name, v] : r.evidence)
        if (!shown.count(name))
            other.push_back(name + " " + std::to_string(v));
    if (other.empty())
        other.push_back("none");
    add_list("other evidence: ", other);

    std::string rpc;
    for (uint32_t p : r.rpc_programs) {
        rpc += (rpc.empty() ? "" : ", ") + std::to_string(p);
        if (const char* n = rpc_name(p))
            rpc += std::string(" (") + n + ")";
    }
    add_wrapped("rpc programs: ", rpc.empty() ? std::string("none") : rpc);

    // the sparkline: its cells are not cut by fit() (multibyte when unicode)
    auto series = m.rate_series(r.src, 60);
    double peak = 0;
    for (const auto& v : series)
        if (v)
            peak = std::max(peak, *v);
    const std::string label = "probes/s, last 60s: ";
    const std::string tail = "  now " + format_rate(r.probe_rate) + ", peak " + format_rate(peak) + "/s";
    size_t cells = width > label.size() + tail.size() + 2 ? std::min<size_t>(60, width - label.size() - tail.size() - 2) : 0;
    if (cells < series.size() && cells > 0)
        series = m.rate_series(r.src, cells);
    if (cells == 0)
        add(label + tail);
    else
        out.push_back(label + "[" + sparkline(series, unicode) + "]" + tail);
    return out;
}

std::vector<std::pair<std::string, std::string>> legend(size_t width, bool /*unicode*/) {
    struct Item {
        const char* key;
        const char* label;
        const char* shorter;
    };
    static const Item kItems[] = {
        {"q", "quit", "quit"},      {"j/k", "move", "move"},     {"Enter", "details", "info"},
        {"s", "sort", "sort"},      {"I", "invert", "inv"},      {"/", "filter", "filter"},
        {"p", "pause", "pause"},    {"b", "block", "block"},     {"u", "unblock", "unblk"},
        {"h", "help", "help"},
    };
    auto len = [&](bool shorter, size_t sep) {
        size_t n = 0;
        for (const auto& i : kItems)
            n += std::string_view(i.key).size() + 1 + std::string_view(shorter ? i.shorter : i.label).size() + sep;
        return n - sep;
    };
    std::vector<std::pair<std::string, std::string>> out;
    bool shorter = len(false, 1) > width;
    bool no_labels = shorter && len(true, 1) > width;
    for (const auto& i : kItems)
        out.emplace_back(i.key, no_labels ? "" : (shorter ? i.shorter : i.label));
    return out;
}

std::vector<std::string> help_lines() {
    return {
        "scanwatch top: who is scanning, sampled from the agent's control socket",
        "",
        "  q, Ctrl-C      quit",
        "  Up/Down, j/k   move the selection (PgUp/PgDn, Home/End)",
        "  Enter          show or hide the details of the selected source (Esc hides)",
        "  s              choose the sort column        I   invert the sort order",
        "  /              filter by address, kind, tool or state (Esc clears)",
        "  p              pause or resume sampling",
        "  b              block the selected source (asks for a TTL, then y to confirm)",
        "  u              unblock the selected source (y to confirm)",
        "  h, ?           this help",
        "",
        "Columns:",
        "  SOURCE    the sending address        KINDS   scan kinds named so far",
        "  TOOL      nmap, masscan, zmap or unknown",
        "  PORTS     distinct ports probed      HOSTS   distinct hosts probed (both estimates)",
        "  PROBES/s  probes between the last two samples",
        "  FAILED%   failed / (failed + answered) attempts",
        "  FIRST     first seen (ago)           LAST    last seen (ago)",
        "  STATE     watching, scanner, or blocked with the time left",
        "  SCORE     how sure the detector is (0-1), the default sort",
        "",
        "Rows with equal keys stay in address order. Press any key to go back.",
    };
}

std::string snapshot_text(const TopModel& m, const HeaderInfo& h, size_t width) {
    auto rtrim = [](std::string s) {
        while (!s.empty() && s.back() == ' ')
            s.pop_back();
        return s;
    };
    std::string out;
    for (const auto& l : header_lines(m, h, width))
        out += rtrim(l) + "\n";
    auto view = m.view();
    auto cols = layout_columns(width, view);
    out += "\n" + rtrim(format_row(nullptr, cols)) + "\n";
    for (const auto* r : view)
        out += rtrim(format_row(r, cols)) + "\n";
    if (view.empty())
        out += "(no sources" + std::string(m.filter.empty() ? "" : " match the filter") + ")\n";
    return out;
}

nlohmann::json snapshot_json(const TopModel& m, const nlohmann::json& sources_reply) {
    nlohmann::json j = sources_reply.is_object() ? sources_reply : nlohmann::json::object();
    j.erase("ok");
    if (!j.contains("sources"))
        j["sources"] = nlohmann::json::array();
    const Totals& t = m.totals();
    j["totals"] = {{"packets", t.packets},
                   {"dropped", t.dropped},
                   {"sources", t.tracked},
                   {"scanners_now", t.scanners_now},
                   {"scanners_seen", t.scanners_seen},
                   {"blocks", t.blocks},
                   {"xdp_mode", t.xdp_mode},
                   {"ifaces", t.ifaces},
                   {"uptime_s", t.uptime_s >= 0 ? nlohmann::json(t.uptime_s) : nlohmann::json()},
                   {"block_enabled", t.block_enabled},
                   {"events_lost", t.events_lost}};
    return j;
}

}  // namespace scanwatch::ui
