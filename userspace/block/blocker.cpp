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
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bpf/block_map.hpp"
#include "bpf/map_walk.hpp"
#include "bpf/skel.hpp"
#include "bpf/stats.hpp"

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

// Does the network a overlap the network b (one contains the other)?
static bool overlaps(const Cidr& a, const Cidr& b) {
    return a.prefix <= b.prefix ? a.contains(b.addr) : b.contains(a.addr);
}

static Addr masked(Addr a, unsigned prefix) {
    for (unsigned i = prefix; i < 128; i++)
        a.b[i / 8] &= static_cast<uint8_t>(~(0x80u >> (i % 8)));
    return a;
}

static constexpr uint64_t kSecond = 1'000'000'000ULL;

Blocker::Key Blocker::key_of(const Cidr& c) {
    unsigned p = std::min(c.prefix, 128u);
    return Key{masked(c.addr, p), static_cast<uint8_t>(p)};
}

Blocker::Blocker(BlockMaps maps, BlockPolicy policy, std::string state_path, Clock clock)
    : maps_(maps), policy_(std::move(policy)), state_path_(std::move(state_path)), clock_(clock) {
    if (maps_.blocks_fd >= 0 && maps_.block_bits_fd >= 0)
        block_bits_ = BlockBits::open(maps_.block_bits_fd);  // untrusted (SW_BB_BUILT clear) until restore()
}

void Blocker::set_protected(const std::vector<Cidr>& extra) {
    protected_ = extra;
    for (const auto& c : policy_.allow)
        protected_.push_back(c);
    if (maps_.allow_fd >= 0) {
        // Rewrite the allow map from scratch.
        for (auto& o : map_keys<sw_lpm_key>(maps_.allow_fd))
            bpf_map_delete_elem(maps_.allow_fd, &o);
        for (const auto& c : protected_) {
            sw_lpm_key key = lpm_key(c);
            uint32_t one = 1;
            if (bpf_map_update_elem(maps_.allow_fd, &key, &one, BPF_ANY) != 0)
                throw BpfError("writing the allow map", errno);
        }
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

std::optional<Cidr> Blocker::protected_overlap(const Cidr& target) const {
    std::optional<Cidr> other_family;
    for (const auto& p : protected_) {
        if (!overlaps(target, p))
            continue;
        if (p.addr.is_v4() == target.addr.is_v4())
            return p;
        if (!other_family)
            other_family = p;
    }
    return other_family;
}

// ---- the kernel side: every write to the block map goes through here -------

void Blocker::kernel_put(const BlockEntry& e) {
    kernel_writes_++;
    if (maps_.blocks_fd < 0)
        return;
    sw_lpm_key key = lpm_key(e.target);
    sw_block v{};
    v.expires_ns = e.expires_ns;
    v.created_ns = e.created_ns;
    v.reason = e.reason_code;
    put_kernel_block(kernel_maps(), key, v);  // an address to the exact hash, a range to the trie
}

BlockMapFds Blocker::kernel_maps() const { return BlockMapFds{maps_.blocks_fd, maps_.addrs_fd, block_bits_.get()}; }

void Blocker::kernel_delete(const Cidr& target) {
    if (maps_.blocks_fd < 0)
        return;
    erase_kernel_block(kernel_maps(), lpm_key(target));
}

std::vector<std::pair<Cidr, sw_block>> Blocker::kernel_read() const {
    std::vector<std::pair<Cidr, sw_block>> seen;
    if (maps_.blocks_fd < 0)
        return seen;
    for_each_kernel_block(kernel_maps(),
                          [&](const sw_lpm_key& k, const sw_block& v) { seen.emplace_back(key_cidr(k), v); });
    return seen;
}

// ---- the index ---------------------------------------------------------------

void Blocker::index(const Key& k, const BlockEntry& e) {
    per_prefix_[k.prefix]++;
    if (e.expires_ns)
        by_expiry_.emplace(e.expires_ns, k);
}

void Blocker::unindex(const Key& k, const BlockEntry& e) {
    per_prefix_[k.prefix]--;
    if (e.expires_ns)
        by_expiry_.erase({e.expires_ns, k});
}

void Blocker::erase(std::unordered_map<Key, BlockEntry, KeyHash>::iterator it) {
    if (it->second.reason_code == SW_BR_FAST_PATH)
        fast_gone_++;  // its kernel bit stays until refresh_bits()
    unindex(it->first, it->second);
    if (it->second.persist)
        dirty_ = true;
    entries_.erase(it);
}

void Blocker::hold_config(bool on) {
    hold_config_ = on;
    if (!on && config_due_)
        sync_config();
}

void Blocker::sync_config() {
    if (maps_.config_fd < 0)
        return;
    if (hold_config_) {
        config_due_ = true;
        return;
    }
    config_due_ = false;
    sw_config c{};
    uint32_t zero = 0;
    bpf_map_lookup_elem(maps_.config_fd, &zero, &c);
    // the programs look the exact hash up while it holds addresses, the trie while ranges exist
    describe_kernel_blocks(c, per_prefix_[128], entries_.size() - per_prefix_[128]);
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

BlockOutcome Blocker::put(const Cidr& target, uint64_t ttl_ns, uint32_t reason_code, const std::string& reason,
                          uint64_t now_ns) {
    if (auto p = protected_overlap(target))
        return {BlockOutcome::Refused, "refusing to block " + target.str() + ": it covers protected address " +
                                           p->str() + " (our own, a gateway, loopback or allow-listed)"};
    const Key k = key_of(target);
    const uint64_t expires = ttl_ns ? now_ns + ttl_ns : 0;
    const bool persist = reason_code != SW_BR_CROWDSEC;
    auto it = entries_.find(k);
    if (it == entries_.end()) {
        if (entries_.size() >= policy_.max_blocks) {
            refused_cap_++;
            return {BlockOutcome::Refused, "block cap reached (" + std::to_string(policy_.max_blocks) + " active blocks)"};
        }
        if (reason_code == SW_BR_DETECTOR || reason_code == SW_BR_FAST_PATH) {
            if (now_ns - window_start_ns_ >= kSecond) {
                window_start_ns_ = now_ns;
                window_count_ = 0;
            }
            if (window_count_ >= policy_.max_new_per_sec) {
                refused_cap_++;
                return {BlockOutcome::Refused,
                        "new-block rate cap reached (" + std::to_string(policy_.max_new_per_sec) + "/s)"};
            }
            window_count_++;
        }
        BlockEntry e{Cidr{k.addr, k.prefix}, expires, now_ns, reason_code, reason, persist};
        it = entries_.emplace(k, std::move(e)).first;
        index(k, it->second);
        created_++;
        kernel_put(it->second);
        sync_config();
        if (persist)
            dirty_ = true;
        return {BlockOutcome::Created, {}};
    }
    BlockEntry& e = it->second;
    // The kernel is written only when what it enforces changes. A CrowdSec
    // decision sent again (a restart's startup list, a second decision on the
    // target) arrives as a remaining duration: within a second is the same.
    uint64_t new_expiry = expires;
    if (reason_code == SW_BR_CROWDSEC && e.reason_code == SW_BR_CROWDSEC && e.expires_ns && expires &&
        (e.expires_ns > expires ? e.expires_ns - expires : expires - e.expires_ns) < kSecond)
        new_expiry = e.expires_ns;
    bool kernel_changed = e.expires_ns != new_expiry || e.reason_code != reason_code;
    if (e.persist || persist)
        dirty_ = true;
    unindex(k, e);
    e.expires_ns = new_expiry;
    e.reason_code = reason_code;
    e.reason = reason;
    e.persist = persist;
    index(k, e);
    if (kernel_changed)
        kernel_put(e);
    return {BlockOutcome::Updated, {}};
}

std::optional<std::string> Blocker::add(const Cidr& target, uint64_t ttl_ns, uint32_t reason_code,
                                        const std::string& reason, uint64_t now_ns) {
    BlockOutcome r = put(target, ttl_ns, reason_code, reason, now_ns);
    if (!r)
        return r.error;
    return std::nullopt;
}

bool Blocker::remove(const Cidr& target) {
    const Key k = key_of(target);
    auto it = entries_.find(k);
    bool in_kernel = false, fast_unseen = false;
    if (maps_.blocks_fd >= 0) {
        sw_lpm_key key = lpm_key(Cidr{k.addr, k.prefix});
        sw_block v{};
        const bool addr = key.prefixlen >= 128;  // an address lives in the exact hash (bpf/block_map.hpp)
        fast_unseen = it == entries_.end() &&
                      bpf_map_lookup_elem(addr ? maps_.addrs_fd : maps_.blocks_fd,
                                          addr ? static_cast<const void*>(key.addr) : &key, &v) == 0 &&
                      v.reason == SW_BR_FAST_PATH;
        in_kernel = erase_kernel_block(kernel_maps(), key);
    }
    if (it == entries_.end()) {
        if (in_kernel && fast_unseen) {
            fast_seen_++;  // spent from the kernel budget, never adopted
            sync_config();
        }
        return in_kernel;
    }
    erase(it);
    sync_config();
    return true;
}

std::vector<const BlockEntry*> Blocker::oldest_first() const {
    std::vector<const BlockEntry*> ptrs;
    ptrs.reserve(entries_.size());
    for (const auto& [k, e] : entries_)
        ptrs.push_back(&e);
    std::sort(ptrs.begin(), ptrs.end(), [](const BlockEntry* a, const BlockEntry* b) {
        if (a->created_ns != b->created_ns)
            return a->created_ns < b->created_ns;
        return std::tie(a->target.prefix, a->target.addr) < std::tie(b->target.prefix, b->target.addr);
    });
    return ptrs;
}

std::vector<BlockEntry> Blocker::list() const {
    std::vector<BlockEntry> out;
    out.reserve(entries_.size());
    for (const auto* p : oldest_first())
        out.push_back(*p);
    return out;
}

const BlockEntry* Blocker::get(const Cidr& target) const {
    auto it = entries_.find(key_of(target));
    return it == entries_.end() ? nullptr : &it->second;
}

const BlockEntry* Blocker::find(const Addr& a) const {
    if (entries_.empty())
        return nullptr;
    for (int p = 128; p >= 0; p--) {
        if (!per_prefix_[static_cast<size_t>(p)])
            continue;
        auto it = entries_.find(Key{masked(a, static_cast<unsigned>(p)), static_cast<uint8_t>(p)});
        if (it != entries_.end())
            return &it->second;
    }
    return nullptr;
}

std::vector<BlockEntry> Blocker::expire(uint64_t now_ns) {
    std::vector<BlockEntry> gone;
    while (!by_expiry_.empty() && by_expiry_.begin()->first <= now_ns) {
        Key k = by_expiry_.begin()->second;
        auto it = entries_.find(k);
        if (it == entries_.end()) {  // cannot happen; keep the index honest anyway
            by_expiry_.erase(by_expiry_.begin());
            continue;
        }
        kernel_delete(it->second.target);
        gone.push_back(it->second);
        erase(it);
    }
    if (!gone.empty())
        sync_config();
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

Blocker::ShieldCount Blocker::shields_active(uint64_t now_ns) const {
    ShieldCount n;
    if (maps_.shield_fd < 0)
        return n;
    constexpr uint32_t kBatch = 1024;
    std::vector<uint8_t> keys(kBatch * 16);
    std::vector<sw_shield> values(kBatch);
    uint8_t token[16] = {};
    bool first = true;
    for (;;) {
        uint32_t count = kBatch;
        LIBBPF_OPTS(bpf_map_batch_opts, bo);
        int err = bpf_map_lookup_batch(maps_.shield_fd, first ? nullptr : token, token, keys.data(), values.data(),
                                       &count, &bo);
        int saved = errno;
        for (uint32_t i = 0; i < count; i++) {
            const sw_shield& v = values[i];
            if (v.expires_ns && v.expires_ns <= now_ns)
                continue;  // expired: XDP deletes it at its next SYN
            (v.reason == SW_BR_FAST_PATH ? n.fast_path : n.agent)++;
        }
        first = false;
        if (err != 0) {
            if (saved != ENOENT)  // ENOENT: the end of the map
                throw BpfError("reading the shield map", saved);
            break;
        }
    }
    return n;
}

std::vector<BlockEntry> Blocker::adopt_kernel_blocks(uint64_t now_ns, bool force, std::vector<BlockEntry>* refused) {
    std::vector<BlockEntry> adopted;
    if (maps_.blocks_fd < 0)
        return adopted;
    // The fast path spends from the kernel budget for every block it makes:
    // nothing spent since our last look, nothing new to read.
    if (!force && maps_.budget_fd >= 0 && budget_spent(maps_.budget_fd) == fast_seen_)
        return adopted;
    std::vector<Cidr> stale;
    for (const auto& [c, v] : kernel_read()) {
        if (entries_.count(key_of(c)))
            continue;
        if (v.expires_ns && v.expires_ns <= now_ns) {
            stale.push_back(c);
            continue;
        }
        const bool crowdsec = v.reason == SW_BR_CROWDSEC;
        BlockEntry e{c, v.expires_ns, v.created_ns, v.reason,
                     v.reason == SW_BR_FAST_PATH ? "fast-path: handshakes on many ports"
                     : crowdsec                 ? "crowdsec: from the pinned map (until the first pull)"
                                                : "found in the kernel map",
                     !crowdsec};
        if (v.reason == SW_BR_FAST_PATH)
            fast_seen_++;
        // the same caps as add(): a map filled while no agent ran (or by a
        // budget set for a larger cap) does not grow the list past them
        auto prot = protected_overlap(c);
        if (prot || entries_.size() >= policy_.max_blocks) {
            stale.push_back(c);
            refused_cap_++;
            if (refused) {
                e.reason = prot ? "covers protected address " + prot->str()
                                : "block cap reached (" + std::to_string(policy_.max_blocks) + " active blocks)";
                refused->push_back(e);
            }
            continue;
        }
        if (block_bits_)
            block_bits_->add(lpm_key(c));  // the fast path set its own bit; this one goes when we delete it
        Key k = key_of(c);
        auto it = entries_.emplace(k, e).first;
        index(k, it->second);
        if (e.persist)
            dirty_ = true;
        adopted.push_back(e);
        created_++;
    }
    for (const auto& c : stale)
        kernel_delete(c);
    fast_gone_ += stale.size();  // made by the fast path or not: a rebuild costs the same
    if (!adopted.empty() || !stale.empty())
        sync_config();
    return adopted;
}

bool Blocker::refresh_bits(uint64_t now_ns, bool force) {
    if (!block_bits_ || (!force && (fast_gone_ == 0 || now_ns - bits_built_ns_ < kBitsRebuildNs)))
        return false;
    rebuild_bits(now_ns);
    return true;
}

// Zeroes the bits (SW_BB_BUILT cleared first: meanwhile the program looks
// every source up), counts every block the maps hold, read after the
// zeroing, then trusts them again. A fast-path block made meanwhile is read
// or sets its bit after the zeroing (block.bpf.h sets it again after its
// insert); a block this agent adds or removes meanwhile cannot be: the agent
// is one thread.
void Blocker::rebuild_bits(uint64_t now_ns) {
    block_bits_->begin_rebuild();
    for (const auto& [c, v] : kernel_read())
        block_bits_->add(lpm_key(c));
    block_bits_->finish_rebuild();
    fast_gone_ = 0;
    bits_built_ns_ = now_ns;
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

// ---- the state file --------------------------------------------------------

namespace {

// s as a JSON string: plain printable ASCII as it is, anything else through
// nlohmann (escapes; bytes that are not UTF-8 replaced, never thrown).
void append_json_string(std::string& out, const std::string& s) {
    bool plain = std::all_of(s.begin(), s.end(), [](char ch) {
        auto c = static_cast<unsigned char>(ch);
        return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
    });
    if (plain) {
        out += '"';
        out += s;
        out += '"';
        return;
    }
    out += nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

void Blocker::save_if_due(uint64_t now_ns) {
    if (dirty_ && (saves_ == 0 || now_ns - last_save_ns_ >= kSecond)) {
        save();
        last_save_ns_ = now_ns;
    }
}

void Blocker::flush() {
    if (dirty_)
        save();
}

// Writes the whole file through a fresh temporary name in the same directory
// (mkstemp: O_CREAT|O_EXCL, so a planted name or symlink is never followed),
// fsyncs it and renames it over the old one, then fsyncs the directory: a crash
// leaves the old file or the new one, never half of one.
void Blocker::save() {
    if (state_path_.empty()) {
        dirty_ = false;
        return;
    }
    // Written by hand, one block a line, in no particular order (restore()
    // reads created_wall_ns): through a JSON tree (five keyed values per
    // block, allocated, dumped and freed) after a sort, a save of 100,000
    // blocks took 0.5-0.6 s on a loaded machine, half of every second the
    // agent spent adding blocks (bench/README.md section 7).
    std::string text = "[\n";
    text.reserve(entries_.size() * 128 + 4);
    bool first = true;
    for (const auto& [k, entry] : entries_) {
        const BlockEntry* e = &entry;
        if (!e->persist)
            continue;
        char nums[128];
        std::snprintf(nums, sizeof nums, "\",\"expires_wall_ns\":%llu,\"created_wall_ns\":%llu,\"reason_code\":%u,\"reason\":",
                      static_cast<unsigned long long>(e->expires_ns ? clock_.wall(e->expires_ns) : 0),
                      static_cast<unsigned long long>(clock_.wall(e->created_ns)), e->reason_code);
        text += first ? "{\"target\":\"" : ",\n{\"target\":\"";
        first = false;
        text += e->target.str();
        text += nums;
        append_json_string(text, e->reason);
        text += '}';
    }
    text += "\n]\n";
    saves_++;
    // The kernel map holds the blocks whatever happens here; a failure only
    // costs them across a restart, so it is reported once, not thrown.
    auto failed = [&](const std::string& what, int err) {
        std::string msg = "cannot save blocks to '" + state_path_ + "' (" + what + ": " + std::strerror(err) +
                          "); they will not survive a restart";
        if (msg != save_error_) {
            save_error_ = msg;
            save_error_new_ = true;
        }
    };
    std::string tmp = state_path_ + ".XXXXXX";
    int fd = mkostemp(tmp.data(), O_CLOEXEC);
    if (fd < 0)
        return failed("create " + state_path_ + ".XXXXXX", errno);
    auto give_up = [&](const std::string& what) {
        int err = errno;
        close(fd);
        unlink(tmp.c_str());
        failed(what, err);
    };
    if (fchmod(fd, 0600) != 0)
        return give_up("chmod " + tmp);
    for (size_t off = 0; off < text.size();) {
        ssize_t n = write(fd, text.data() + off, text.size() - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return give_up("write " + tmp);
        off += static_cast<size_t>(n);
    }
    if (fsync(fd) != 0)
        return give_up("fsync " + tmp);
    close(fd);
    if (std::rename(tmp.c_str(), state_path_.c_str()) != 0) {
        int err = errno;
        unlink(tmp.c_str());
        return failed("rename", err);
    }
    std::string dir = std::filesystem::path(state_path_).parent_path().string();
    int dfd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    dirty_ = false;
    save_error_.clear();
}

std::optional<std::string> Blocker::take_save_error() {
    if (!save_error_new_)
        return std::nullopt;
    save_error_new_ = false;
    return save_error_;
}

// A state directory others can write lets them plant or swap the file the root
// agent reads and replaces: refused, like sshd refuses a group-writable home.
static void check_state_dir(const std::string& path) {
    std::string dir = std::filesystem::path(path).parent_path().string();
    if (dir.empty())
        dir = ".";
    struct stat st{};
    if (stat(dir.c_str(), &st) != 0)
        return;  // no directory: the first save reports it
    if (st.st_mode & S_IWOTH)
        throw std::runtime_error("state directory '" + dir +
                                 "' is writable by others; refusing to keep blocks there (chmod o-w, or another --state-file)");
    if (st.st_uid != 0 && st.st_uid != geteuid())
        throw std::runtime_error("state directory '" + dir + "' belongs to uid " + std::to_string(st.st_uid) +
                                 ", not to us or root; refusing to keep blocks there");
}

static std::string stamp_now() {
    time_t t = time(nullptr);
    struct tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}

std::vector<std::string> Blocker::restore(uint64_t now_ns) {
    std::vector<std::string> notes;
    if (block_bits_) {
        // from the maps as they are (pinned, maybe written by a build without
        // the bits); what restore() changes below keeps them up to date
        rebuild_bits(now_ns);
    }
    entries_.clear();
    by_expiry_.clear();
    per_prefix_.fill(0);
    std::vector<BlockEntry> from_file;
    if (!state_path_.empty()) {
        check_state_dir(state_path_);
        int fd = open(state_path_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ELOOP)
            throw std::runtime_error("state file '" + state_path_ + "' is a symbolic link; refusing to follow it");
        if (fd < 0 && errno != ENOENT)
            throw std::runtime_error("cannot read state file '" + state_path_ + "': " + std::strerror(errno));
        if (fd >= 0) {
            std::string text;
            char buf[65536];
            ssize_t n;
            while ((n = read(fd, buf, sizeof buf)) > 0)
                text.append(buf, static_cast<size_t>(n));
            close(fd);
            nlohmann::json arr;
            std::string damage;
            try {
                arr = nlohmann::json::parse(text);
                if (!arr.is_array())
                    damage = "not a list";
            } catch (const std::exception&) {
                damage = "not JSON";
            }
            if (!damage.empty()) {
                std::string aside = state_path_ + ".corrupt-" + stamp_now();
                if (std::rename(state_path_.c_str(), aside.c_str()) == 0)
                    notes.push_back("state file '" + state_path_ + "' is damaged (" + damage + "): moved to '" + aside +
                                    "'; starting with the blocks in the kernel map");
                else
                    notes.push_back("state file '" + state_path_ + "' is damaged (" + damage +
                                    ") and cannot be moved aside (" + std::strerror(errno) +
                                    "); starting with the blocks in the kernel map");
                arr = nlohmann::json::array();
                dirty_ = true;  // write a fresh file
            }
            size_t bad = 0, refused = 0;
            std::string first_bad;
            for (const auto& j : arr) {
                try {
                    BlockEntry e;
                    e.target = Cidr::parse(j.at("target").get<std::string>());
                    uint64_t exp_wall = j.at("expires_wall_ns").get<uint64_t>();
                    e.expires_ns = exp_wall ? exp_wall - static_cast<uint64_t>(clock_.offset_ns) : 0;
                    e.created_ns = j.at("created_wall_ns").get<uint64_t>() - static_cast<uint64_t>(clock_.offset_ns);
                    e.reason_code = j.at("reason_code").get<uint32_t>();
                    e.reason = j.at("reason").get<std::string>();
                    if (e.reason_code < SW_BR_MANUAL || e.reason_code > SW_BR_FAST_PATH)
                        throw std::invalid_argument("unknown reason_code " + std::to_string(e.reason_code));
                    if (auto p = protected_overlap(e.target)) {
                        refused++;
                        if (first_bad.empty())
                            first_bad = e.target.str() + " covers protected address " + p->str();
                        continue;
                    }
                    if (e.expires_ns && e.expires_ns <= now_ns)
                        continue;
                    from_file.push_back(std::move(e));
                } catch (const std::exception& ex) {
                    bad++;
                    if (first_bad.empty())
                        first_bad = ex.what();
                }
            }
            if (bad || refused) {
                notes.push_back("state file '" + state_path_ + "': skipped " + std::to_string(bad + refused) +
                                " entr" + (bad + refused == 1 ? "y" : "ies") + " (" + first_bad + ")");
                dirty_ = true;
            }
        }
    }
    // Reconcile with the kernel map: what it holds and the file agrees with is
    // kept as it is (not written again); what the file has and the kernel lost
    // (a reboot) is written back; the rest of the kernel is adopted below.
    std::unordered_map<Key, sw_block, KeyHash> in_kernel;
    for (const auto& [c, v] : kernel_read())
        in_kernel.emplace(key_of(c), v);
    for (auto& e : from_file) {
        Key k = key_of(e.target);
        if (entries_.count(k))
            continue;
        if (entries_.size() >= policy_.max_blocks) {
            notes.push_back("state file '" + state_path_ + "': more blocks than --max-blocks " +
                            std::to_string(policy_.max_blocks) + "; the rest are not restored");
            dirty_ = true;
            break;
        }
        e.target = Cidr{k.addr, k.prefix};
        // The wall-clock round trip moves an expiry by a few nanoseconds: the
        // kernel's value stands when it is that close.
        auto kv = in_kernel.find(k);
        bool same = kv != in_kernel.end() && kv->second.reason == e.reason_code &&
                    (kv->second.expires_ns == 0) == (e.expires_ns == 0) &&
                    (kv->second.expires_ns > e.expires_ns ? kv->second.expires_ns - e.expires_ns
                                                          : e.expires_ns - kv->second.expires_ns) < 2 * kSecond;
        if (same)
            e.expires_ns = kv->second.expires_ns;
        auto it = entries_.emplace(k, e).first;
        index(k, it->second);
        if (!same)
            kernel_put(it->second);
    }
    adopt_kernel_blocks(now_ns, true);
    // what the kernel spent before us is in entries_ now, or gone: the budget
    // starts from here
    fast_seen_ = budget_spent(maps_.budget_fd);
    expire(now_ns);
    sync_config();
    flush();
    return notes;
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
