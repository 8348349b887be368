// GET /metrics over HTTP (cpp-httplib), in its own thread. The agent's loop
// publishes a snapshot after each sweep; requests render the latest one.
#pragma once

#include <memory>
#include <mutex>
#include <thread>

#include "metrics/metrics.hpp"

namespace httplib {
class Server;
}

namespace scanwatch {

class MetricsServer {
public:
    // Binds at once: throws std::runtime_error naming the address when it cannot.
    explicit MetricsServer(const ListenAddress& at);
    ~MetricsServer();  // stops the server and joins its thread
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    void publish(MetricsSnapshot s);
    int port() const { return port_; }

private:
    std::unique_ptr<httplib::Server> srv_;
    std::thread thread_;
    std::mutex mu_;
    MetricsSnapshot latest_;
    int port_ = 0;
};

}  // namespace scanwatch
