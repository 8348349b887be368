#include "metrics/server.hpp"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace scanwatch {

MetricsServer::MetricsServer(const ListenAddress& at) : srv_(std::make_unique<httplib::Server>()) {
    srv_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        MetricsSnapshot copy;
        {
            std::lock_guard<std::mutex> lock(mu_);
            copy = latest_;
        }
        res.set_content(render_prometheus(copy), "text/plain; version=0.0.4; charset=utf-8");
    });
    srv_->Get("/", [](const httplib::Request&, httplib::Response& res) {
        res.set_content("scanwatch: metrics at /metrics\n", "text/plain");
    });
    srv_->set_keep_alive_max_count(10);
    std::string shown = at.ipv6 ? "[" + at.host + "]:" + std::to_string(at.port) : at.host + ":" + std::to_string(at.port);
    errno = 0;
    if (!srv_->bind_to_port(at.host, at.port)) {
        int err = errno;
        throw std::runtime_error("cannot listen on " + shown + " for --metrics-listen" +
                                 (err ? std::string(": ") + std::strerror(err) : std::string()));
    }
    port_ = at.port;
    thread_ = std::thread([this] {
        // Signals are the main loop's (signalfd): this thread and the worker
        // threads it starts must never take SIGINT/SIGTERM/SIGHUP.
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, nullptr);
        srv_->listen_after_bind();
    });
}

MetricsServer::~MetricsServer() {
    srv_->stop();
    if (thread_.joinable())
        thread_.join();
}

void MetricsServer::publish(MetricsSnapshot s) {
    std::lock_guard<std::mutex> lock(mu_);
    latest_ = std::move(s);
}

}  // namespace scanwatch
