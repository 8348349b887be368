// The network side of CrowdSec: a machine that pushes alerts (its own
// thread, a bounded queue, JWT login renewed before it expires) and a bouncer
// that pulls the decisions stream (its own thread; startup=true first, then
// incremental). Neither ever blocks the agent's loop: decisions are handed
// over through a queue and an eventfd, and an unreachable Local API only
// costs a warning (said once per outage) and exponential back-off.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "crowdsec/lapi.hpp"

namespace scanwatch::crowdsec {

struct ClientOptions {
    LapiUrl url;
    std::string machine_id;   // empty: no push
    std::string password;
    std::string bouncer_key;  // empty: no pull
    uint64_t pull_interval_ns = 10'000'000'000ULL;
    size_t queue_max = 10000;  // alerts waiting for the LAPI
    DecisionFilter filter;     // which decisions to pull
};

struct ClientStats {
    bool reachable = false;    // the last request got an HTTP answer
    uint64_t pushed = 0, failed = 0, dropped = 0, queued = 0;
    double last_pull_s = 0;    // Unix time of the last good pull (0: none yet)
    uint64_t pulls = 0;
};

class Client {
public:
    // `warn` gets one line at a time, from the client's threads.
    Client(ClientOptions o, std::function<void(const std::string&)> warn);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    bool pushing() const { return !o_.machine_id.empty(); }
    bool pulling() const { return !o_.bouncer_key.empty(); }
    // Readable when decisions wait for take().
    int event_fd() const { return efd_; }
    // Queues one alert (an element of POST /v1/alerts); a full queue drops it.
    void push(nlohmann::json alert);
    // The batches pulled so far, oldest first.
    std::deque<StreamBatch> take();
    ClientStats stats() const;

private:
    void pull_loop();
    void push_loop();
    // Waits up to ns or until stop; true when stopping.
    bool sleep_for(uint64_t ns);
    void set_reachable(bool up, const std::string& what);

    ClientOptions o_;
    std::function<void(const std::string&)> warn_;
    int efd_ = -1;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::deque<nlohmann::json> alerts_;
    std::deque<StreamBatch> batches_;
    ClientStats stats_;
    bool down_said_ = false;
    std::thread puller_, pusher_;
};

}  // namespace scanwatch::crowdsec
