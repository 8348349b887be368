// scanwatch: command-line entry. Parses arguments and maps failures to exit
// codes: 0 success, 1 runtime failure, 2 usage error; one line on stderr.
#include <CLI/CLI.hpp>
#include <bpf/libbpf.h>

#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>

#include "common/version.hpp"
#include "cli/commands.hpp"
#include "config/config.hpp"
#include "scanwatch/parse.hpp"

using namespace scanwatch;

namespace {

// The flags of `run` that the user gave, remembered so they can be laid over
// the config file again at every SIGHUP (flags override the file).
class Overrides {
public:
    using Copy = std::function<void(RunOptions& dst, const RunOptions& flags)>;
    CLI::Option* track(CLI::Option* opt, Copy copy) {
        entries_.push_back({opt, std::move(copy)});
        return opt;
    }
    void apply(RunOptions& dst, const RunOptions& flags) const {
        for (const auto& e : entries_)
            if (e.opt->count() > 0)
                e.copy(dst, flags);
    }

private:
    struct Entry {
        CLI::Option* opt;
        Copy copy;
    };
    std::vector<Entry> entries_;
};

#define SW_COPY(member) [](RunOptions& d, const RunOptions& s) { d.member = s.member; }

// Number checks that speak scanwatch's words (CLI11's own say "Value abc not
// in range 1 to 65536"). They see the text before CLI11 converts it, so a word
// where a number belongs is caught here too.
CLI::Validator whole(unsigned long long lo, unsigned long long hi) {
    return CLI::Validator(
        [lo, hi](std::string& v) -> std::string {
            std::string range = "(" + std::to_string(lo) + "-" + std::to_string(hi) + ")";
            if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 12)
                return "'" + v + "' is not a whole number " + range;
            unsigned long long n = std::stoull(v);
            if (n < lo || n > hi)
                return "'" + v + "' is out of range " + range;
            return {};
        },
        "");
}

std::string number_text(double d) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", d);
    return b;
}

CLI::Validator real(double lo, double hi) {
    return CLI::Validator(
        [lo, hi](std::string& v) -> std::string {
            std::string range = "(" + number_text(lo) + " to " + number_text(hi) + ")";
            char* end = nullptr;
            double d = std::strtod(v.c_str(), &end);
            if (v.empty() || *end || !std::isfinite(d))
                return "'" + v + "' is not a number " + range;
            if (d < lo || d > hi)
                return "'" + v + "' is out of range " + range;
            return {};
        },
        "");
}

void add_detector_flags(CLI::App* c, DetectorConfig& d, Overrides* ov = nullptr) {
    auto track = [&](CLI::Option* opt, Overrides::Copy copy) {
        if (ov)
            ov->track(opt, std::move(copy));
    };
    track(c->add_option("--min-ports", d.min_ports, "distinct ports that make a port scan")
              ->check(whole(1, 65536))
              ->default_val(d.min_ports),
          SW_COPY(det.min_ports));
    track(c->add_option("--min-hosts", d.min_hosts, "distinct hosts that make a sweep")
              ->check(whole(1, 1u << 24))
              ->default_val(d.min_hosts),
          SW_COPY(det.min_hosts));
    track(c->add_option("--alert-score", d.alert_score, "score (0-1) needed to call a source a scanner")
              ->check(real(0.5, 1.0))
              ->default_val(d.alert_score),
          SW_COPY(det.alert_score));
}

uint64_t duration_flag(const char* flag, const std::string& text) {
    try {
        return parse_duration_ns(text);
    } catch (const std::invalid_argument& e) {
        throw UsageError(std::string(flag) + ": " + e.what());
    }
}

// WORD,WORD,... given once or more: the words, each checked (an empty one too).
std::vector<std::string> list_flag(const char* flag, const std::vector<std::string>& given) {
    std::vector<std::string> out;
    for (const auto& text : given) {
        size_t at = 0;
        for (;;) {
            size_t comma = text.find(',', at);
            std::string w = text.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
            try {
                check_list_word(w);
            } catch (const std::invalid_argument& e) {
                throw UsageError(std::string(flag) + ": " + e.what());
            }
            out.push_back(std::move(w));
            if (comma == std::string::npos)
                break;
            at = comma + 1;
        }
    }
    return out;
}

int libbpf_quiet(enum libbpf_print_level level, const char* fmt, va_list args) {
    if (level == LIBBPF_WARN && std::getenv("SCANWATCH_DEBUG"))
        return std::vfprintf(stderr, fmt, args);
    if (level == LIBBPF_DEBUG || !std::getenv("SCANWATCH_DEBUG"))
        return 0;
    return std::vfprintf(stderr, fmt, args);
}

// What `run` fills: the flags as given, plus the texts parsed after CLI11 is done.
struct RunFlags {
    RunOptions run;  // the flags as given; resolve_run() lays them over the config file
    Overrides ov;
    std::string config_path, duration_text, probe_timeout, block_ttl, cs_pull;
    bool no_fast_block = false;  // a plain flag: "!--no-fast-block" showed as --no-fast-block{false}
    // LAPI 1.4.6's stream filters: comma-separated or repeated (split and
    // checked after parsing: CLI11's delimiter drops empty words silently).
    std::vector<std::string> cs_origins, cs_with, cs_without;
};

// What block, unblock, blocks and status fill (they share them).
struct ClientFlags {
    ClientOptions cli;
    std::string target, ttl;
};

// Every subcommand, and the flags it fills.
struct Commands {
    RunFlags run;
    ReplayOptions rep;
    ClientFlags client;
    TopOptions top;
    CLI::App *rc = nullptr, *pc = nullptr, *bc = nullptr, *uc = nullptr, *lc = nullptr, *sc = nullptr,
             *tc = nullptr;
};

CLI::Validator positive_duration() {
    return CLI::Validator(
        [](std::string& v) -> std::string {
            try {
                if (parse_duration_ns(v) == 0)
                    return "'" + v + "' is not a positive duration";
            } catch (const std::invalid_argument& e) {
                return e.what();
            }
            return {};
        },
        "");
}

void add_run_blocking(CLI::App* rc, RunFlags& f) {
    RunOptions& run = f.run;
    Overrides& ov = f.ov;
    ov.track(rc->add_flag("--block", run.block, "block sources judged scanners (XDP drops their packets)"), SW_COPY(block));
    ov.track(rc->add_option("--block-ttl", f.block_ttl, "how long a block lasts (default 1h; e.g. 30m, 2h, 1d)"),
             SW_COPY(block_ttl_ns));
    ov.track(rc->add_flag("--block-unverified", run.block_unverified,
                          "also block sources that never proved they receive our packets (spoofable)"),
             SW_COPY(block_unverified));
    ov.track(rc->add_option("--block-score", run.block_score, "score (0-1) needed to block")
                 ->check(real(0.5, 1.0))
                 ->default_val(run.block_score),
             SW_COPY(block_score));
    ov.track(rc->add_option("--max-blocks", run.max_blocks, "cap on active blocks")
                 ->check(whole(1, 1000000))
                 ->default_val(run.max_blocks),
             SW_COPY(max_blocks));
    ov.track(rc->add_option("--max-new-blocks", run.max_new_blocks_per_sec, "cap on new automatic blocks per second")
                 ->check(whole(1, 100000))
                 ->default_val(run.max_new_blocks_per_sec),
             SW_COPY(max_new_blocks_per_sec));
    ov.track(rc->add_flag("--no-fast-block", f.no_fast_block, "leave every block to the agent (no XDP fast path)"),
             SW_COPY(fast_block));
    ov.track(rc->add_option("--state-file", run.state_file, "where blocks are kept across restarts")
                 ->default_val(run.state_file),
             SW_COPY(state_file));
}

void add_run_crowdsec(CLI::App* rc, RunFlags& f) {
    RunOptions& run = f.run;
    Overrides& ov = f.ov;
    ov.track(rc->add_option("--crowdsec-url", run.crowdsec_url, "CrowdSec Local API (e.g. http://127.0.0.1:8080/)"),
             SW_COPY(crowdsec_url));
    ov.track(rc->add_option("--crowdsec-machine", run.crowdsec_machine, "push alerts as this CrowdSec machine"),
             SW_COPY(crowdsec_machine));
    ov.track(rc->add_option("--crowdsec-password-file", run.crowdsec_password_file,
                            "the machine's password, in a file only its owner can read"),
             SW_COPY(crowdsec_password_file));
    ov.track(rc->add_option("--crowdsec-key-file", run.crowdsec_key_file,
                            "pull ban decisions with this bouncer key (a file only its owner can read)"),
             SW_COPY(crowdsec_key_file));
    ov.track(rc->add_option("--crowdsec-pull-interval", f.cs_pull, "how often to pull decisions (default 10s)"),
             SW_COPY(crowdsec_pull_interval_ns));
    ov.track(rc->add_option("--crowdsec-origins", f.cs_origins,
                            "pull only decisions of these origins (e.g. cscli,crowdsec,CAPI)"),
             SW_COPY(crowdsec_origins));
    ov.track(rc->add_option("--crowdsec-scenarios-containing", f.cs_with,
                            "pull only decisions whose scenario contains one of these words"),
             SW_COPY(crowdsec_scenarios_containing));
    ov.track(rc->add_option("--crowdsec-scenarios-not-containing", f.cs_without,
                            "pull no decision whose scenario contains one of these words"),
             SW_COPY(crowdsec_scenarios_not_containing));
}

// `run`'s flags, in the order `run --help` lists them within each group.
CLI::App* add_run(CLI::App& app, RunFlags& f) {
    RunOptions& run = f.run;
    Overrides& ov = f.ov;
    auto* rc = app.add_subcommand("run", "attach to interfaces and watch for scans");
    rc->add_option("--config", f.config_path,
                   std::string("TOML config file (default ") + kDefaultConfigPath + " if it exists)")
        ->type_name("PATH")
        ->group("General");
    ov.track(rc->add_option("-i,--iface", run.ifaces, "interface to watch (repeat for gateway mode)")
                 ->type_name("IFACE")
                 ->group("Capture"), SW_COPY(ifaces));
    ov.track(rc->add_option("--json", run.json, "write JSON events to PATH, or - for stdout")
                 ->type_name("PATH")
                 ->group("Outputs"), SW_COPY(json));
    ov.track(rc->add_option("--duration", f.duration_text, "stop after this long (e.g. 90, 30s, 10m, 1h)")
                 ->type_name("DURATION")
                 ->check(positive_duration()),
             SW_COPY(duration_s));
    ov.track(rc->add_option("--xdp-mode", run.xdp_mode, "auto, native or generic")->default_val("auto"),
             SW_COPY(xdp_mode));
    ov.track(rc->add_option("--socket", run.socket, "control socket path")->default_val(run.socket), SW_COPY(socket));
    ov.track(rc->add_option("--socket-group", run.socket_group,
                            "a group whose members may also use the control socket (mode 0660)"),
             SW_COPY(socket_group));
    ov.track(rc->add_option("--pin-dir", run.pin_dir, "bpffs directory for the pinned maps")->default_val(run.pin_dir),
             SW_COPY(pin_dir));
    ov.track(rc->add_option("--sweep-ms", run.sweep_ms, "interval between full map sweeps")
                 ->check(real(10, 10000))
                 ->default_val(run.sweep_ms),
             SW_COPY(sweep_ms));
    ov.track(rc->add_option("--probe-timeout", f.probe_timeout, "an unanswered probe counts as failed after this (e.g. 3s)"),
             SW_COPY(det.probe_timeout_ns));
    ov.track(rc->add_option("--allow", run.allow, "never block these addresses or CIDRs (repeatable)"), SW_COPY(allow));
    ov.track(rc->add_flag("-q,--quiet", run.quiet, "no human lines on stderr"), SW_COPY(quiet));
    add_run_blocking(rc, f);
    ov.track(rc->add_option("--max-sources", run.max_sources, "size of the per-source map (default 65536)")
                 ->check(whole(1024, 1u << 24)),
             SW_COPY(max_sources));
    ov.track(rc->add_option("--metrics-listen", run.metrics_listen,
                            "serve Prometheus metrics at http://ADDR:PORT/metrics (IPv4 or [IPv6]:PORT)"),
             SW_COPY(metrics_listen));
    ov.track(rc->add_flag("--syslog", run.syslog, "one line per detection and block/unblock to syslog (daemon facility)"),
             SW_COPY(syslog));
    add_run_crowdsec(rc, f);
    add_detector_flags(rc, run.det, &ov);
    return rc;
}

CLI::App* add_replay(CLI::App& app, ReplayOptions& rep) {
    auto* pc = app.add_subcommand("replay", "analyse a pcap/pcapng capture through the real XDP program");
    pc->add_option("file", rep.file, "capture file (pcap, pcapng, optionally gzip-compressed)")->required();
    pc->add_option("--json", rep.json, "write JSON events to PATH, or - for stdout");
    pc->add_flag("-q,--quiet", rep.quiet, "no human lines on stderr (the summary line stays)");
    pc->add_option("--threads", rep.threads,
                   "packet threads, each pinned to a CPU, split by conversation (0: one per CPU); 1 gives exact, "
                   "order-dependent evidence (same_seq, same_sport) and reads events every 64 packets")
        ->default_val(rep.threads)
        ->check(whole(0, 256));
    add_detector_flags(pc, rep.det);
    return pc;
}

void add_client_socket(CLI::App* c, ClientOptions& cli) {
    c->add_option("--socket", cli.socket, "control socket of the agent")->default_val(cli.socket);
}

CLI::App* add_block(CLI::App& app, ClientFlags& f) {
    auto* bc = app.add_subcommand("block", "block an address or CIDR now");
    bc->add_option("target", f.target, "ADDR or CIDR")->required();
    bc->add_option("--ttl", f.ttl, "how long (e.g. 10m, 1h; 0 = never expires)");
    add_client_socket(bc, f.cli);
    return bc;
}

CLI::App* add_unblock(CLI::App& app, ClientFlags& f) {
    auto* uc = app.add_subcommand("unblock", "remove a block");
    uc->add_option("target", f.target, "ADDR or CIDR")->required();
    add_client_socket(uc, f.cli);
    return uc;
}

CLI::App* add_blocks(CLI::App& app, ClientFlags& f) {
    auto* lc = app.add_subcommand("blocks", "list active blocks");
    lc->add_flag("--json", f.cli.json, "as JSON");
    add_client_socket(lc, f.cli);
    return lc;
}

CLI::App* add_status(CLI::App& app, ClientFlags& f) {
    auto* sc = app.add_subcommand("status", "show the agent's state");
    sc->add_flag("--json", f.cli.json, "as JSON");
    add_client_socket(sc, f.cli);
    return sc;
}

CLI::App* add_top(CLI::App& app, TopOptions& top) {
    auto* tc = app.add_subcommand("top", "live view of who is scanning (q quits, h helps)");
    tc->add_option("--socket", top.socket, "control socket of the agent")->default_val(top.socket);
    tc->add_option("-d,--delay", top.delay_s, "seconds between samples")
        ->check(real(0.1, 3600))
        ->default_val(top.delay_s);
    tc->add_flag("--once", top.once, "print one snapshot and exit (also when stdout is not a terminal)");
    tc->add_flag("--json", top.json, "print the snapshot as JSON (implies --once)");
    tc->add_option("--sort", top.sort, "sort column (score, source, kinds, ports, probes/s, failed%, last, ...)");
    tc->add_flag("-I,--invert", top.invert, "invert the sort order");
    tc->add_option("--filter", top.filter, "show only sources whose address or kind contains TEXT");
    return tc;
}

// Value types people read (not TEXT, FLOAT:SECONDS) and `run --help` in groups.
void name_types_and_groups(CLI::App& app, const CLI::App* rc) {
    struct Shown {
        const char* name;
        const char* type;
        const char* group;  // for run
    };
    static const Shown shown[] = {
        {"--config", "PATH", "General"},           {"--quiet", nullptr, "Outputs"},
        {"--iface", "IFACE", "Capture"},           {"--xdp-mode", "MODE", "Capture"},
        {"--pin-dir", "PATH", "Capture"},          {"--sweep-ms", "MS", "Capture"},
        {"--max-sources", "N", "Capture"},         {"--duration", "DURATION", "General"},
        {"--min-ports", "N", "Detection"},         {"--min-hosts", "N", "Detection"},
        {"--alert-score", "SCORE", "Detection"},   {"--probe-timeout", "DURATION", "Detection"},
        {"--block", nullptr, "Blocking"},          {"--block-ttl", "DURATION", "Blocking"},
        {"--block-score", "SCORE", "Blocking"},    {"--block-unverified", nullptr, "Blocking"},
        {"--no-fast-block", nullptr, "Blocking"},  {"--max-blocks", "N", "Blocking"},
        {"--max-new-blocks", "N", "Blocking"},     {"--allow", "CIDR", "Blocking"},
        {"--state-file", "PATH", "Blocking"},      {"--json", "PATH", "Outputs"},
        {"--syslog", nullptr, "Outputs"},          {"--metrics-listen", "ADDR:PORT", "Outputs"},
        {"--socket", "PATH", "Control socket"},    {"--socket-group", "GROUP", "Control socket"},
        {"--crowdsec-url", "URL", "CrowdSec"},     {"--crowdsec-machine", "NAME", "CrowdSec"},
        {"--crowdsec-password-file", "PATH", "CrowdSec"}, {"--crowdsec-key-file", "PATH", "CrowdSec"},
        {"--crowdsec-pull-interval", "DURATION", "CrowdSec"},
        {"--crowdsec-origins", "LIST", "CrowdSec"},
        {"--crowdsec-scenarios-containing", "LIST", "CrowdSec"},
        {"--crowdsec-scenarios-not-containing", "LIST", "CrowdSec"},
        {"--ttl", "DURATION", nullptr},            {"--threads", "N", nullptr},
        {"--delay", "SECONDS", nullptr},           {"--sort", "COLUMN", nullptr},
        {"--filter", "TEXT", nullptr},             {"target", "ADDR|CIDR", nullptr},
        {"file", "PATH", nullptr},
    };
    for (auto* sub : app.get_subcommands({})) {
        for (auto* opt : sub->get_options()) {
            for (const auto& sh : shown) {
                std::string n = sh.name;
                bool match = n.rfind("--", 0) == 0 ? opt->check_lname(n.substr(2)) : opt->get_name() == n;
                if (!match)
                    continue;
                if (sh.type && opt->get_type_size() != 0)
                    opt->type_name(sh.type);
                if (sh.group && sub == rc)
                    opt->group(sh.group);
            }
        }
    }
}

// A first word that is no command: say so (CLI11 would only say a subcommand is required).
bool known_command(CLI::App& app, int argc, char** argv) {
    if (argc > 1 && argv[1][0] != '-') {
        bool known = false;
        std::string names;
        for (const auto* sub : app.get_subcommands({})) {
            known |= sub->get_name() == argv[1];
            names += (names.empty() ? "" : ", ") + sub->get_name();
        }
        if (!known) {
            std::fprintf(stderr, "scanwatch: unknown command '%s' (commands: %s)\n", argv[1], names.c_str());
            return false;
        }
    }
    return true;
}

// Parses the command line; -1 to go on, else the exit code (help, version, usage error).
int parse_command_line(CLI::App& app, int argc, char** argv) {
    if (!known_command(app, argc, argv))
        return 2;
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "scanwatch: %s\n", e.what());
        return 2;
    }
    return -1;
}

// `run`: the texts CLI11 left to us parsed, then the options resolved and run.
int start_run(RunFlags& f) {
    RunOptions& run = f.run;
    if (f.no_fast_block)
        run.fast_block = false;
    if (!f.duration_text.empty())
        run.duration_s = static_cast<double>(duration_flag("--duration", f.duration_text)) / 1e9;
    if (!f.probe_timeout.empty())
        run.det.probe_timeout_ns = duration_flag("--probe-timeout", f.probe_timeout);
    if (!f.block_ttl.empty())
        run.block_ttl_ns = duration_flag("--block-ttl", f.block_ttl);
    run.crowdsec_origins = list_flag("--crowdsec-origins", f.cs_origins);
    run.crowdsec_scenarios_containing = list_flag("--crowdsec-scenarios-containing", f.cs_with);
    run.crowdsec_scenarios_not_containing = list_flag("--crowdsec-scenarios-not-containing", f.cs_without);
    if (!f.cs_pull.empty())
        run.crowdsec_pull_interval_ns = duration_flag("--crowdsec-pull-interval", f.cs_pull);
    // Defaults, then the config file, then the flags given; again at SIGHUP.
    const bool explicit_config = !f.config_path.empty();
    const std::string path = explicit_config ? f.config_path : kDefaultConfigPath;
    auto resolve_run = [&]() {
        RunOptions o;
        std::error_code ec;
        if (explicit_config || std::filesystem::exists(path, ec))
            apply_config_file(path, o);
        f.ov.apply(o, run);
        return o;
    };
    return run_command(resolve_run(), resolve_run);
}

// Runs the subcommand given; failures become one line on stderr and exit 2 or 1.
int dispatch(Commands& c) {
    try {
        if (*c.rc)
            return start_run(c.run);
        if (*c.pc)
            return replay_command(c.rep);
        if (*c.bc)
            return block_command(c.client.cli, c.client.target, c.client.ttl);
        if (*c.uc)
            return unblock_command(c.client.cli, c.client.target);
        if (*c.lc)
            return blocks_command(c.client.cli);
        if (*c.sc)
            return status_command(c.client.cli);
        if (*c.tc)
            return top_command(c.top);
    } catch (const UsageError& e) {
        std::fprintf(stderr, "scanwatch: %s\n", e.what());
        return 2;
    } catch (const ConfigError& e) {
        std::fprintf(stderr, "scanwatch: %s\n", e.what());
        return 2;
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "scanwatch: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "scanwatch: %s\n", e.what());
        return 1;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"scanwatch: detect and block nmap port scans with XDP"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("scanwatch ") + kVersion);

    Commands c;  // the subcommands in the order `scanwatch --help` lists them
    c.rc = add_run(app, c.run);
    c.pc = add_replay(app, c.rep);
    c.bc = add_block(app, c.client);
    c.uc = add_unblock(app, c.client);
    c.lc = add_blocks(app, c.client);
    c.sc = add_status(app, c.client);
    c.tc = add_top(app, c.top);
    name_types_and_groups(app, c.rc);

    if (int code = parse_command_line(app, argc, argv); code >= 0)
        return code;
    libbpf_set_print(libbpf_quiet);
    return dispatch(c);
}
