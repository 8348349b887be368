// The TOML config of `scanwatch run`: every key lands in its option, every
// kind of mistake is one message naming file, line and key, and a bad file
// changes nothing.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "config/config.hpp"

using namespace scanwatch;

namespace {

RunOptions load(const std::string& text) {
    RunOptions o;
    apply_config(text, "test.toml", o);
    return o;
}

// The message of the ConfigError the text raises ("" when it loads).
std::string error_of(const std::string& text) {
    try {
        load(text);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(Config, EveryKeySetsItsOption) {
    RunOptions o = load(R"(
[agent]
interfaces = ["eth0", "eth1"]
xdp_mode = "generic"
socket = "/run/sw.sock"
socket_group = "scanwatch"
pin_dir = "/sys/fs/bpf/sw"
sweep_ms = 100
max_sources = 4096
duration = 30.5

[detect]
min_ports = 12
min_hosts = 9
alert_score = 0.95
probe_timeout = "2s"

[block]
enabled = true
ttl = "30m"
score = 0.999
unverified = true
fast_path = false
max_blocks = 100
max_new_per_sec = 7
state_file = "/tmp/blocks.json"
allow = ["192.0.2.0/24", "2001:db8::1"]

[output]
json = "-"
syslog = true
metrics_listen = "127.0.0.1:9469"
quiet = true

[crowdsec]
lapi_url = "http://198.18.0.10:8080/"
machine_id = "gw-a"
machine_password_file = "/etc/scanwatch/m.secret"
machine_password = "inline"
bouncer_key_file = "/etc/scanwatch/b.key"
bouncer_key = "k"
pull_interval = "5s"
origins = ["cscli", "crowdsec"]
scenarios_containing = ["ssh", "scan"]
scenarios_not_containing = ["test"]
)");
    EXPECT_EQ(o.ifaces, (std::vector<std::string>{"eth0", "eth1"}));
    EXPECT_EQ(o.xdp_mode, "generic");
    EXPECT_EQ(o.socket, "/run/sw.sock");
    EXPECT_EQ(o.socket_group, "scanwatch");
    EXPECT_EQ(o.pin_dir, "/sys/fs/bpf/sw");
    EXPECT_EQ(o.sweep_ms, 100);
    EXPECT_EQ(o.max_sources, 4096u);
    EXPECT_EQ(o.duration_s, 30.5);
    EXPECT_EQ(o.det.min_ports, 12u);
    EXPECT_EQ(o.det.min_hosts, 9u);
    EXPECT_EQ(o.det.alert_score, 0.95);
    EXPECT_EQ(o.det.probe_timeout_ns, 2'000'000'000ULL);
    EXPECT_TRUE(o.block);
    EXPECT_EQ(o.block_ttl_ns, 1800'000'000'000ULL);
    EXPECT_EQ(o.block_score, 0.999);
    EXPECT_TRUE(o.block_unverified);
    EXPECT_FALSE(o.fast_block);
    EXPECT_EQ(o.max_blocks, 100u);
    EXPECT_EQ(o.max_new_blocks_per_sec, 7u);
    EXPECT_EQ(o.state_file, "/tmp/blocks.json");
    EXPECT_EQ(o.allow, (std::vector<std::string>{"192.0.2.0/24", "2001:db8::1"}));
    EXPECT_EQ(o.json, "-");
    EXPECT_TRUE(o.syslog);
    EXPECT_EQ(o.metrics_listen, "127.0.0.1:9469");
    EXPECT_TRUE(o.quiet);
    EXPECT_EQ(o.crowdsec_url, "http://198.18.0.10:8080/");
    EXPECT_EQ(o.crowdsec_machine, "gw-a");
    EXPECT_EQ(o.crowdsec_password_file, "/etc/scanwatch/m.secret");
    EXPECT_EQ(o.crowdsec_password, "inline");
    EXPECT_EQ(o.crowdsec_key_file, "/etc/scanwatch/b.key");
    EXPECT_EQ(o.crowdsec_key, "k");
    EXPECT_EQ(o.crowdsec_pull_interval_ns, 5'000'000'000ULL);
    EXPECT_EQ(o.crowdsec_origins, (std::vector<std::string>{"cscli", "crowdsec"}));
    EXPECT_EQ(o.crowdsec_scenarios_containing, (std::vector<std::string>{"ssh", "scan"}));
    EXPECT_EQ(o.crowdsec_scenarios_not_containing, (std::vector<std::string>{"test"}));
}

TEST(Config, EveryKeyIsCoveredByTheTestAbove) {
    // A new key must be added to EveryKeySetsItsOption too.
    const std::vector<std::string> keys = config_keys();
    EXPECT_EQ(keys.size(), 35u);
    EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), keys.size());
}

TEST(Config, KeysAbsentFromTheFileKeepTheirValue) {
    RunOptions o;
    o.det.min_ports = 42;
    o.ifaces = {"veth0"};
    apply_config("[block]\nenabled = true\n", "t.toml", o);
    EXPECT_EQ(o.det.min_ports, 42u);
    EXPECT_EQ(o.ifaces, std::vector<std::string>{"veth0"});
    EXPECT_TRUE(o.block);
    RunOptions empty;
    apply_config("# nothing but a comment\n", "t.toml", empty);
    EXPECT_EQ(empty.socket, RunOptions{}.socket);
}

TEST(Config, DurationKeysTakeSecondsOrUnits) {
    EXPECT_EQ(load("[block]\nttl = 3600\n").block_ttl_ns, 3600'000'000'000ULL);
    EXPECT_EQ(load("[detect]\nprobe_timeout = 2.5\n").det.probe_timeout_ns, 2'500'000'000ULL);
    EXPECT_EQ(load("[agent]\nduration = \"2m\"\n").duration_s, 120.0);
    EXPECT_EQ(load("[agent]\nduration = 90\n").duration_s, 90.0);
}

TEST(Config, FloatKeysTakeIntegers) {
    EXPECT_EQ(load("[detect]\nalert_score = 1\n").det.alert_score, 1.0);
    EXPECT_EQ(load("[agent]\nsweep_ms = 250.5\n").sweep_ms, 250.5);
}

struct BadCase {
    const char* text;
    const char* message;  // the whole expected message
};

class ConfigErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigErrors, NameFileLineAndKey) { EXPECT_EQ(error_of(GetParam().text), GetParam().message); }

INSTANTIATE_TEST_SUITE_P(
    Table, ConfigErrors,
    ::testing::Values(
        BadCase{"[detect]\nmin_port = 3\n", "test.toml:2: detect.min_port: unknown key; did you mean detect.min_ports?"},
        BadCase{"[detect]\nwhatever = 3\n", "test.toml:2: detect.whatever: unknown key"},
        BadCase{"[block]\nmin_ports = 3\n", "test.toml:2: block.min_ports: unknown key; did you mean detect.min_ports?"},
        BadCase{"\n\ninterfaces = [\"eth0\"]\n",
                "test.toml:3: interfaces: unknown key at the top level; did you mean agent.interfaces (in [agent])?"},
        BadCase{"colour = 1\n",
                "test.toml:1: colour: unknown key (keys live in [agent], [detect], [block], [output] and [crowdsec])"},
        BadCase{"[agents]\nx = 1\n", "test.toml:1: unknown section [agents] (sections: agent, detect, block, output, crowdsec)"},
        BadCase{"[detect]\nmin_ports = \"5\"\n", "test.toml:2: detect.min_ports: expected an integer, got a string"},
        BadCase{"[detect]\nmin_ports = 5.5\n", "test.toml:2: detect.min_ports: expected an integer, got a float"},
        BadCase{"[detect]\nmin_ports = 0\n", "test.toml:2: detect.min_ports: must be between 1 and 65536, not 0"},
        BadCase{"[detect]\nalert_score = 0.2\n",
                "test.toml:2: detect.alert_score: must be between 0.5 and 1, not 0.2"},
        BadCase{"[detect]\nalert_score = nan\n",
                "test.toml:2: detect.alert_score: must be between 0.5 and 1, not nan"},
        BadCase{"[detect]\nalert_score = true\n", "test.toml:2: detect.alert_score: expected a number, got a boolean"},
        BadCase{"[detect]\nprobe_timeout = -3\n",
                "test.toml:2: detect.probe_timeout: expected a duration: seconds from 0, or a string such as "
                "\"30s\", \"10m\", \"1h\", got an integer"},
        BadCase{"[detect]\nprobe_timeout = true\n",
                "test.toml:2: detect.probe_timeout: expected a duration: a number of seconds, or a string such as "
                "\"30s\", \"10m\", \"1h\", got a boolean"},
        BadCase{"[block]\nttl = \"soon\"\n",
                "test.toml:2: block.ttl: 'soon' is not a duration (expected a number; e.g. 90, 30s, 10m, 1h30m, 2d)"},
        BadCase{"[block]\nenabled = \"yes\"\n", "test.toml:2: block.enabled: expected true or false, got a string"},
        BadCase{"[block]\nallow = \"10.0.0.0/8\"\n", "test.toml:2: block.allow: expected an array of strings, got a string"},
        BadCase{"[block]\nallow = [\n  \"10.0.0.0/8\",\n  \"10.0.0.0/40\",\n]\n",
                "test.toml:4: block.allow: '10.0.0.0/40' has a bad prefix length (0-32)"},
        BadCase{"[block]\nallow = [\"10.0.0.0/8\", 7]\n", "test.toml:2: block.allow: expected a string, got an integer"},
        BadCase{"[block]\nallow = [\"example.com\"]\n", "test.toml:2: block.allow: 'example.com' is not an IPv4 or IPv6 address or CIDR"},
        BadCase{"[crowdsec]\norigins = \"cscli\"\n",
                "test.toml:2: crowdsec.origins: expected an array of strings, got a string"},
        BadCase{"[crowdsec]\norigins = [\"cscli,crowdsec\"]\n",
                "test.toml:2: crowdsec.origins: 'cscli,crowdsec': a word cannot hold a comma"},
        BadCase{"[crowdsec]\nscenarios_containing = [\"\"]\n",
                "test.toml:2: crowdsec.scenarios_containing: an empty word (a list is WORD,WORD,...)"},
        BadCase{"[crowdsec]\nscenarios_not_containing = [\"a\\tb\"]\n",
                "test.toml:2: crowdsec.scenarios_not_containing: 'a\\x09b' holds a byte that is not printable ASCII"},
        BadCase{"[agent]\ninterfaces = []\n", "test.toml:2: agent.interfaces: must not be empty"},
        BadCase{"[agent]\ninterfaces = [\"a/b\"]\n", "test.toml:2: agent.interfaces: 'a/b' is not an interface name"},
        BadCase{"[agent]\nxdp_mode = \"fast\"\n",
                "test.toml:2: agent.xdp_mode: must be \"auto\", \"native\" or \"generic\", not 'fast'"},
        BadCase{"[agent]\nxdp_mode = \"a\\nb\"\n",
                "test.toml:2: agent.xdp_mode: must be \"auto\", \"native\" or \"generic\", not 'a\\x0ab'"},
        BadCase{"[detect]\n\"a\\nb\" = 1\n", "test.toml:2: detect.a\\x0ab: unknown key"},
        BadCase{"[block]\nenabled = tr\n",
                "test.toml:2:13: Error while parsing boolean: expected 'true', saw 'tr\\x0a'"},
        BadCase{"[agent]\nmax_sources = 10\n", "test.toml:2: agent.max_sources: must be between 1024 and 16777216, not 10"},
        BadCase{"[agent]\nsocket = \"\"\n", "test.toml:2: agent.socket: must not be empty"},
        BadCase{"[block\nttl = \"1h\"\n", "test.toml:1:7: Error while parsing table header: expected ']', saw '\\n'"},
        BadCase{"[block]\nttl = \"1h\"\nttl = \"2h\"\n",
                "test.toml:3:7: Error while parsing key-value pair: cannot redefine existing string 'ttl'"},
        BadCase{"[output]\njson = /var/log/x\n",
                "test.toml:2:8: Error while parsing value: could not determine value type"}));

TEST(Config, ABadFileChangesNothing) {
    RunOptions o;
    o.det.min_ports = 42;
    EXPECT_THROW(apply_config("[detect]\nmin_ports = 7\nmin_hosts = 0\n", "t.toml", o), ConfigError);
    EXPECT_EQ(o.det.min_ports, 42u);
    EXPECT_EQ(o.det.min_hosts, RunOptions{}.det.min_hosts);
}

TEST(Config, FileErrors) {
    RunOptions o;
    try {
        apply_config_file("/nonexistent/scanwatch.toml", o);
        FAIL() << "no error";
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()), "/nonexistent/scanwatch.toml: cannot read the config file: No such file or directory");
    }
    auto dir = std::filesystem::temp_directory_path() / ("sw-config-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    EXPECT_THROW(apply_config_file(dir.string(), o), ConfigError);  // a directory is not a config
    auto path = dir / "a.toml";
    std::ofstream(path) << "[detect]\nmin_hosts = 11\n";
    apply_config_file(path.string(), o);
    EXPECT_EQ(o.det.min_hosts, 11u);
    std::ofstream(path, std::ios::trunc) << std::string("[detect]\nmin_hosts = \"\xff\"\n");
    try {
        apply_config_file(path.string(), o);
        FAIL() << "no error";
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()).rfind(path.string() + ":2:", 0), 0u) << e.what();
    }
    std::filesystem::remove_all(dir);
}

TEST(Config, DiffSeparatesReloadableKeys) {
    RunOptions a = load("[agent]\ninterfaces = [\"eth0\"]\n");
    RunOptions b = load("[agent]\ninterfaces = [\"eth1\"]\n[detect]\nmin_ports = 9\n[block]\nttl = \"5m\"\n"
                        "state_file = \"/tmp/x\"\n[output]\nmetrics_listen = \"127.0.0.1:1\"\njson = \"-\"\n");
    ConfigDiff d = config_diff(a, b);
    EXPECT_EQ(d.reloaded, (std::vector<std::string>{"detect.min_ports", "block.ttl", "output.json"}));
    EXPECT_EQ(d.restart, (std::vector<std::string>{"agent.interfaces", "block.state_file", "output.metrics_listen"}));
    keep_restart_keys(a, b);
    EXPECT_EQ(b.ifaces, std::vector<std::string>{"eth0"});
    EXPECT_EQ(b.state_file, a.state_file);
    EXPECT_EQ(b.metrics_listen, "");
    EXPECT_EQ(b.det.min_ports, 9u);  // reloadable keys keep the new value
    EXPECT_TRUE(config_diff(a, a).reloaded.empty());
    EXPECT_TRUE(config_diff(a, a).restart.empty());
}

TEST(Config, TheShippedExampleLoadsAndStatesTheDefaults) {
    RunOptions o;
    apply_config_file(SW_SOURCE_DIR "/packaging/scanwatch.toml", o);
    RunOptions defaults;
    defaults.ifaces = {"eth0"};
    defaults.max_sources = 65536;  // 0 in RunOptions means the same default map size
    ConfigDiff d = config_diff(defaults, o);
    EXPECT_TRUE(d.reloaded.empty()) << d.reloaded.front();
    EXPECT_TRUE(d.restart.empty()) << d.restart.front();
}
