// GET /metrics over HTTP/1.1 in its own thread: a small poll() server, not a
// general web server. The agent's loop publishes a snapshot after each sweep;
// requests render the latest one.
//
// Local hardening (issue 18): the address is bound exclusively (no
// SO_REUSEPORT: a second agent on the same address fails at start instead of
// sharing the scrapes), at most kMaxConnections are open at once (when full,
// the connection that has waited longest for its request is closed to make
// room), and each connection has kRequestDeadlineMs from accept to the end of
// its reply, however slowly it trickles bytes. One request per connection.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

#include "metrics/metrics.hpp"

namespace scanwatch {

class MetricsServer {
public:
    static constexpr int kMaxConnections = 64;
    static constexpr int kRequestDeadlineMs = 3000;
    static constexpr size_t kMaxRequestBytes = 8192;

    // Binds at once: throws std::runtime_error naming the address when it cannot.
    explicit MetricsServer(const ListenAddress& at);
    ~MetricsServer();  // stops the server and joins its thread
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    void publish(MetricsSnapshot s);
    int port() const { return port_; }

private:
    void serve();
    std::string respond(const std::string& request);

    int listen_fd_ = -1;
    int stop_fd_ = -1;  // eventfd: the destructor wakes the thread
    std::thread thread_;
    std::mutex mu_;
    MetricsSnapshot latest_;
    int port_ = 0;
};

}  // namespace scanwatch
