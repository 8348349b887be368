#include "block/blocker.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bpf/skel.hpp"

namespace scanwatch {

sw_lpm_key lpm_key(const Cidr& c) {
    sw_lpm_key k{};
    k.prefixlen = c.prefix;
    std::memcpy(k.addr, c.addr.b.data(), 16);
    return k;
}

static Cidr key_cidr(const sw_lpm_key& k) {
    Cidr c;
    c.addr = Addr::from_bytes(k.addr);
    c.prefix = k.prefixlen;
    return c;
}

static bool same(const Cidr& a, const Cidr& b) { return a.prefix == b.prefix && a.addr == b.addr; }

// Does the network a overlap the network b (one contains the other)?
static bool overlaps(const Cidr& a, const Cidr& b) {
    return a.prefix <= b.prefix ? a.contains(b.addr) : b.contains(a.addr);
}

Blocker::Blocker(BlockMaps maps, BlockPolicy policy, std::string state_path, Clock clock)
    : maps_(maps), policy_(std::move(policy)), state_path_(std::move(state_path)), clock_(clock) {}

void Blocker::set_protected(const std::vector<Cidr>& extra) {
    protected_ = extra;
    for (const auto& c : policy_.allow)
        protected_.push_back(c);
    // Rewrite the allow map from scratch.
    sw_lpm_key k{}, next{};
    std::vector<sw_lpm_key> old;
    void* prev = nullptr;
    while (bpf_map_get_next_key(maps_.allow_fd, prev, &next) == 0) {
        old.push_back(next);
        k = next;
        prev = &k;
    }
    for (auto& o : old)
        bpf_map_delete_elem(maps_.allow_fd, &o);
    for (const auto& c : protected_) {
        sw_lpm_key key = lpm_key(c);
        uint32_t one = 1;
        if (bpf_map_update_elem(maps_.allow_fd, &key, &one, BPF_ANY) != 0)
            throw BpfError("writing the allow map", errno);
    }
    sync_config();
}

void Blocker::set_policy(const BlockPolicy& p, const std::vector<Cidr>& extra) {
    policy_ = p;
    set_protected(extra);  // rewrites the allow map and the config flags
}

bool Blocker::is_protected(const Addr& a) const {
    return std::any_of(protected_.begin(), protected_.end(), [&](const Cidr& c) { return c.contains(a); });
}

void Blocker::write_kernel(const BlockEntry& e) {
    sw_lpm_key key = lpm_key(e.target);
    sw_block v{};
    v.expires_ns = e.expires_ns;
    v.created_ns = e.created_ns;
    v.reason = e.reason_code;
    if (bpf_map_update_elem(maps_.blocks_fd, &key, &v, BPF_ANY) != 0)
        throw BpfError("writing the block map", errno);
}

void Blocker::sync_config() {
    sw_config c{};
    uint32_t zero = 0;
    bpf_map_lookup_elem(maps_.config_fd, &zero, &c);
    c.n_blocks = static_cast<uint32_t>(entries_.size());
    c.n_allow = static_cast<uint32_t>(protected_.size());
    c.flags |= SW_CFG_BLOCKING;  // manual blocks work whether or not --block is on
    c.flags &= ~(SW_CFG_FAST_BLOCK | SW_CFG_BLOCK_UNVERIFIED | SW_CFG_SHIELD);
    if (policy_.auto_block && policy_.fast_path)
        c.flags |= SW_CFG_FAST_BLOCK;
    if (policy_.auto_block && maps_.shield_fd >= 0)
        c.flags |= SW_CFG_SHIELD;
    // The kernel's budget: the fast path blocks while what it spent stays
    // below what we have seen plus the room under the cap, and at most
    // max_new_per_sec in any second.
    uint64_t room = entries_.size() < policy_.max_blocks ? policy_.max_blocks - entries_.size() : 0;
    c.fast_block_allowed = fast_seen_ + room;
    c.fast_block_per_sec = policy_.max_new_per_sec;
    c.shield_ttl_ns = policy_.ttl_ns;
    if (policy_.block_unverified)
        c.flags |= SW_CFG_BLOCK_UNVERIFIED;
    c.fast_block_half_open = policy_.fast_half_open;
    c.fast_block_ports = policy_.fast_ports;
    c.fast_block_ttl_ns = policy_.ttl_ns;
    if (bpf_map_update_elem(maps_.config_fd, &zero, &c, BPF_ANY) != 0)
        throw BpfError("writing the config map", errno);
}

std::optional<std::string> Blocker::add(const Cidr& target, uint64_t ttl_ns, uint32_t reason_code,
                                        const std::string& reason, uint64_t now_ns) {
    for (const auto& p : protected_) {
        if (overlaps(target, p))
            return "refusing to block " + target.str() + ": it covers protected address " + p.str() +
                   " (our own, a gateway, loopback or allow-listed)";
    }
    auto it = std::find_if(entries_.begin(), entries_.end(), [&](const BlockEntry& e) { return same(e.target, target); });
    if (it == entries_.end()) {
        if (entries_.size() >= policy_.max_blocks) {
            refused_cap_++;
            return "block cap reached (" + std::to_string(policy_.max_blocks) + " active blocks)";
        }
        if (reason_code != SW_BR_MANUAL) {
            if (now_ns - window_start_ns_ >= 1'000'000'000ULL) {
                window_start_ns_ = now_ns;
                window_count_ = 0;
            }
            if (window_count_ >= policy_.max_new_per_sec) {
                refused_cap_++;
                return "new-block rate cap reached (" + std::to_string(policy_.max_new_per_sec) + "/s)";
            }
            window_count_++;
        }
        entries_.push_back(BlockEntry{target, 0, now_ns, reason_code, reason});
        it = entries_.end() - 1;
        created_++;
    }
    it->expires_ns = ttl_ns ? now_ns + ttl_ns : 0;
    it->reason_code = reason_code;
    it->reason = reason;
    write_kernel(*it);
    sync_config();
    save();
    return std::nullopt;
}

bool Blocker::remove(const Cidr& target) {
    auto it = std::find_if(entries_.begin(), entries_.end(), [&](const BlockEntry& e) { return same(e.target, target); });
    sw_lpm_key key = lpm_key(target);
    sw_block v{};
    bool fast_unseen = it == entries_.end() && bpf_map_lookup_elem(maps_.blocks_fd, &key, &v) == 0 &&
                       v.reason == SW_BR_FAST_PATH;
    bool in_kernel = bpf_map_delete_elem(maps_.blocks_fd, &key) == 0;
    if (it == entries_.end()) {
        if (in_kernel && fast_unseen) {
            fast_seen_++;  // spent from the kernel budget, never adopted
            sync_config();
        }
        return in_kernel;
    }
    entries_.erase(it);
    sync_config();
    save();
    return true;
}

std::vector<BlockEntry> Blocker::list() const { return entries_; }

const BlockEntry* Blocker::find(const Addr& a) const {
    const BlockEntry* best = nullptr;
    for (const auto& e : entries_)
        if (e.target.contains(a) && (!best || e.target.prefix > best->target.prefix))
            best = &e;
    return best;
}

std::vector<BlockEntry> Blocker::expire(uint64_t now_ns) {
    std::vector<BlockEntry> gone;
    for (auto it = entries_.begin(); it != entries_.end();) {
        if (it->expires_ns && it->expires_ns <= now_ns) {
            sw_lpm_key key = lpm_key(it->target);
            bpf_map_delete_elem(maps_.blocks_fd, &key);
            gone.push_back(*it);
            it = entries_.erase(it);
        } else {
            ++it;
        }
    }
    if (!gone.empty()) {
        sync_config();
        save();
    }
    return gone;
}

static uint64_t budget_spent(int fd) {
    sw_budget b{};
    uint32_t zero = 0;
    if (fd < 0 || bpf_map_lookup_elem(fd, &zero, &b) != 0)
        return 0;
    return b.spent;
}

bool Blocker::shielded(const Addr& a) const {
    sw_shield v{};
    return maps_.shield_fd >= 0 && bpf_map_lookup_elem(maps_.shield_fd, a.b.data(), &v) == 0;
}

bool Blocker::shield(const Addr& a, uint64_t now_ns) {
    if (!policy_.auto_block || maps_.shield_fd < 0 || is_protected(a))
        return false;
    sw_shield v{};
    v.created_ns = now_ns;
    v.expires_ns = policy_.ttl_ns ? now_ns + policy_.ttl_ns : 0;
    v.reason = SW_BR_DETECTOR;
    if (bpf_map_update_elem(maps_.shield_fd, a.b.data(), &v, BPF_NOEXIST) != 0)
        return false;
    shields_++;
    return true;
}

std::vector<BlockEntry> Blocker::adopt_kernel_blocks(uint64_t now_ns, std::vector<BlockEntry>* refused) {
    std::vector<BlockEntry> adopted;
    sw_lpm_key k{}, next{};
    void* prev = nullptr;
    std::vector<std::pair<sw_lpm_key, sw_block>> seen;
    bool changed = false;
    while (bpf_map_get_next_key(maps_.blocks_fd, prev, &next) == 0) {
        sw_block v{};
        if (bpf_map_lookup_elem(maps_.blocks_fd, &next, &v) == 0)
            seen.emplace_back(next, v);
        k = next;
        prev = &k;
    }
    for (const auto& [key, v] : seen) {
        Cidr c = key_cidr(key);
        if (std::any_of(entries_.begin(), entries_.end(), [&](const BlockEntry& e) { return same(e.target, c); }))
            continue;
        if (v.expires_ns && v.expires_ns <= now_ns) {
            bpf_map_delete_elem(maps_.blocks_fd, &key);
            continue;
        }
        BlockEntry e{c, v.expires_ns, v.created_ns, v.reason,
                     v.reason == SW_BR_FAST_PATH ? "fast-path: handshakes on many ports" : "found in the kernel map"};
        if (v.reason == SW_BR_FAST_PATH)
            fast_seen_++;
        // the same cap as add(): a map filled while no agent ran (or by a
        // budget set for a larger cap) does not grow the list past it
        if (entries_.size() >= policy_.max_blocks || is_protected(c.addr)) {
            bpf_map_delete_elem(maps_.blocks_fd, &key);
            refused_cap_++;
            changed = true;
            if (refused) {
                e.reason = is_protected(c.addr) ? "protected address" : "block cap reached (" + std::to_string(policy_.max_blocks) + " active blocks)";
                refused->push_back(e);
            }
            continue;
        }
        entries_.push_back(e);
        adopted.push_back(e);
        created_++;
    }
    if (!adopted.empty() || changed) {
        sync_config();
        save();
    }
    return adopted;
}

std::optional<std::string> Blocker::refuse(const ScanReport& r, const sw_source& rec) const {
    if (!policy_.auto_block)
        return "automatic blocking is off";
    if (r.score < policy_.block_score)
        return "score below the block score";
    if (is_protected(r.src))
        return "protected address";
    if (!policy_.block_unverified) {
        // only handshakes prove an address (a RST, a SYN, anything else can
        // be forged in a bystander's name), and a scan needs them on several ports
        if (static_cast<uint32_t>(std::popcount(rec.proven)) < std::max<uint32_t>(policy_.fast_ports, 1))
            return "unproven source: it completed handshakes on " + std::to_string(std::popcount(rec.proven)) +
                   " ports, blocking needs " + std::to_string(policy_.fast_ports) + " (forged in its name?)";
    }
    if (r.evidence.count("decoy"))
        return "decoy";
    return std::nullopt;
}

void Blocker::save() {
    if (state_path_.empty())
        return;
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (const auto& e : entries_) {
        nlohmann::ordered_json j;
        j["target"] = e.target.str();
        j["expires_wall_ns"] = e.expires_ns ? clock_.wall(e.expires_ns) : 0;
        j["created_wall_ns"] = clock_.wall(e.created_ns);
        j["reason_code"] = e.reason_code;
        j["reason"] = e.reason;
        arr.push_back(j);
    }
    // The kernel map holds the blocks whatever happens here; a failure only
    // costs them across a restart, so it is reported once, not thrown.
    auto failed = [&](const std::string& what) {
        std::string msg = "cannot save blocks to '" + state_path_ + "' (" + what + ": " + std::strerror(errno) +
                          "); they will not survive a restart";
        if (msg != save_error_) {
            save_error_ = msg;
            save_error_new_ = true;
        }
    };
    std::string tmp = state_path_ + ".tmp";
    {
        std::ofstream f(tmp, std::ios::trunc);
        if (!f)
            return failed("open " + tmp);
        f << arr.dump(1) << "\n";
        f.flush();
        if (!f)
            return failed("write " + tmp);
    }
    if (std::rename(tmp.c_str(), state_path_.c_str()) != 0)
        return failed("rename");
    save_error_.clear();
}

std::optional<std::string> Blocker::take_save_error() {
    if (!save_error_new_)
        return std::nullopt;
    save_error_new_ = false;
    return save_error_;
}

void Blocker::restore(uint64_t now_ns) {
    entries_.clear();
    if (!state_path_.empty()) {
        std::ifstream f(state_path_);
        if (f) {
            nlohmann::json arr;
            try {
                f >> arr;
            } catch (const std::exception& e) {
                throw std::runtime_error("state file '" + state_path_ + "' is damaged: " + e.what());
            }
            if (!arr.is_array())
                throw std::runtime_error("state file '" + state_path_ + "' is damaged: not a list");
            for (const auto& j : arr) {
                try {
                    BlockEntry e;
                    e.target = Cidr::parse(j.at("target").get<std::string>());
                    uint64_t exp_wall = j.at("expires_wall_ns").get<uint64_t>();
                    e.expires_ns = exp_wall ? exp_wall - static_cast<uint64_t>(clock_.offset_ns) : 0;
                    e.created_ns = j.at("created_wall_ns").get<uint64_t>() - static_cast<uint64_t>(clock_.offset_ns);
                    e.reason_code = j.at("reason_code").get<uint32_t>();
                    e.reason = j.at("reason").get<std::string>();
                    if (e.expires_ns && e.expires_ns <= now_ns)
                        continue;
                    entries_.push_back(e);
                    write_kernel(e);
                } catch (const std::exception& e) {
                    throw std::runtime_error("state file '" + state_path_ + "' has a bad entry: " + e.what());
                }
            }
        }
    }
    adopt_kernel_blocks(now_ns);
    // what the kernel spent before us is in entries_ now, or gone: the budget
    // starts from here
    fast_seen_ = budget_spent(maps_.budget_fd);
    expire(now_ns);
    sync_config();
    save();
}

static void add_host(std::vector<Cidr>& out, const Addr& a) { out.push_back(Cidr{a, 128}); }

std::vector<Cidr> local_protected_addresses() {
    std::vector<Cidr> out;
    out.push_back(Cidr::parse("127.0.0.0/8"));
    out.push_back(Cidr::parse("::1"));
    ifaddrs* ifa = nullptr;
    if (getifaddrs(&ifa) == 0) {
        for (auto* p = ifa; p; p = p->ifa_next) {
            if (!p->ifa_addr)
                continue;
            if (p->ifa_addr->sa_family == AF_INET) {
                auto* sin = reinterpret_cast<sockaddr_in*>(p->ifa_addr);
                add_host(out, Addr::v4(ntohl(sin->sin_addr.s_addr)));
            } else if (p->ifa_addr->sa_family == AF_INET6) {
                auto* sin6 = reinterpret_cast<sockaddr_in6*>(p->ifa_addr);
                add_host(out, Addr::from_bytes(sin6->sin6_addr.s6_addr));
            }
        }
        freeifaddrs(ifa);
    }
    // Default gateways: IPv4 from /proc/net/route, IPv6 from /proc/net/ipv6_route.
    std::ifstream r4("/proc/net/route");
    std::string line;
    std::getline(r4, line);  // header
    while (std::getline(r4, line)) {
        std::istringstream s(line);
        std::string ifname, dest, gw;
        s >> ifname >> dest >> gw;
        if (dest == "00000000" && gw != "00000000") {
            uint32_t g = static_cast<uint32_t>(std::stoul(gw, nullptr, 16));  // little-endian bytes
            add_host(out, Addr::v4(ntohl(g)));
        }
    }
    std::ifstream r6("/proc/net/ipv6_route");
    while (std::getline(r6, line)) {
        std::istringstream s(line);
        std::string dest, dlen, src, slen, nh;
        s >> dest >> dlen >> src >> slen >> nh;
        if (dest == std::string(32, '0') && dlen == "00" && nh != std::string(32, '0') && nh.size() == 32) {
            Addr a;
            for (int i = 0; i < 16; i++)
                a.b[static_cast<size_t>(i)] = static_cast<uint8_t>(std::stoul(nh.substr(static_cast<size_t>(i) * 2, 2), nullptr, 16));
            add_host(out, a);
        }
    }
    return out;
}

}  // namespace scanwatch
