#include "metrics/server.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace scanwatch {

namespace {

uint64_t now_ms() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
}

std::string http_reply(int code, const char* reason, const std::string& type, const std::string& body,
                       bool head) {
    std::string r = "HTTP/1.1 " + std::to_string(code) + " " + reason + "\r\nContent-Type: " + type +
                    "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    if (!head)
        r += body;
    return r;
}

struct Conn {
    int fd = -1;
    uint64_t deadline = 0;  // ms, steady clock: the request and the reply must be done by then
    uint64_t accepted = 0;
    std::string in;
    std::string out;  // the reply once the request is complete
    size_t sent = 0;
};

}  // namespace

MetricsServer::MetricsServer(const ListenAddress& at) {
    std::string shown = at.ipv6 ? "[" + at.host + "]:" + std::to_string(at.port) : at.host + ":" + std::to_string(at.port);
    auto fail = [&](int err) {
        if (listen_fd_ >= 0)
            ::close(listen_fd_);
        listen_fd_ = -1;
        throw std::runtime_error("cannot listen on " + shown + " for --metrics-listen" +
                                 (err ? std::string(": ") + std::strerror(err) : std::string()));
    };
    addrinfo hints{};
    hints.ai_family = at.ipv6 ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    std::string port = std::to_string(at.port);
    int gai = getaddrinfo(at.host.c_str(), port.c_str(), &hints, &res);
    if (gai != 0 || !res)
        throw std::runtime_error("cannot listen on " + shown + " for --metrics-listen: " + gai_strerror(gai));
    listen_fd_ = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listen_fd_ < 0) {
        int err = errno;
        freeaddrinfo(res);
        fail(err);
    }
    // SO_REUSEADDR only: it lets a restart bind while old connections sit in
    // TIME_WAIT, but never while another socket listens there. Not
    // SO_REUSEPORT: that would let a second agent share the address.
    int yes = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (res->ai_family == AF_INET6)
        setsockopt(listen_fd_, IPPROTO_IPV6, IPV6_V6ONLY, &yes, sizeof yes);
    int rc = bind(listen_fd_, res->ai_addr, res->ai_addrlen);
    int err = errno;
    freeaddrinfo(res);
    if (rc != 0)
        fail(err);
    if (listen(listen_fd_, 64) != 0)
        fail(errno);
    port_ = at.port;
    stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd_ < 0)
        fail(errno);
    thread_ = std::thread([this] {
        // Signals are the main loop's (signalfd): this thread must never take
        // SIGINT/SIGTERM/SIGHUP.
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, nullptr);
        serve();
    });
}

MetricsServer::~MetricsServer() {
    if (stop_fd_ >= 0) {
        uint64_t one = 1;
        [[maybe_unused]] ssize_t n = ::write(stop_fd_, &one, sizeof one);
    }
    if (thread_.joinable())
        thread_.join();
    if (listen_fd_ >= 0)
        ::close(listen_fd_);
    if (stop_fd_ >= 0)
        ::close(stop_fd_);
}

void MetricsServer::publish(MetricsSnapshot s) {
    std::lock_guard<std::mutex> lock(mu_);
    latest_ = std::move(s);
}

std::string MetricsServer::respond(const std::string& req) {
    // "GET /metrics HTTP/1.1": the method, the path (a query string ignored)
    size_t sp1 = req.find(' ');
    size_t sp2 = sp1 == std::string::npos ? sp1 : req.find(' ', sp1 + 1);
    size_t eol = req.find("\r\n");
    if (sp1 == std::string::npos || sp2 == std::string::npos || sp2 > eol)
        return http_reply(400, "Bad Request", "text/plain", "bad request\n", false);
    std::string method = req.substr(0, sp1);
    std::string path = req.substr(sp1 + 1, sp2 - sp1 - 1);
    path = path.substr(0, path.find('?'));
    bool head = method == "HEAD";
    if (method != "GET" && !head)
        return http_reply(405, "Method Not Allowed", "text/plain", "GET only\n", false);
    if (path == "/metrics") {
        MetricsSnapshot copy;
        {
            std::lock_guard<std::mutex> lock(mu_);
            copy = latest_;
        }
        return http_reply(200, "OK", "text/plain; version=0.0.4; charset=utf-8", render_prometheus(copy), head);
    }
    if (path == "/")
        return http_reply(200, "OK", "text/plain", "scanwatch: metrics at /metrics\n", head);
    return http_reply(404, "Not Found", "text/plain", "not found: the metrics are at /metrics\n", head);
}

void MetricsServer::serve() {
    std::vector<Conn> conns;
    uint64_t accepted = 0;
    std::vector<pollfd> pfds;
    for (;;) {
        uint64_t now = now_ms();
        // deadlines: a connection that has not finished by its deadline is closed
        for (size_t i = 0; i < conns.size();) {
            if (now >= conns[i].deadline) {
                ::close(conns[i].fd);
                conns[i] = std::move(conns.back());
                conns.pop_back();
            } else {
                i++;
            }
        }
        int timeout = -1;
        for (const Conn& c : conns)
            timeout = timeout < 0 ? static_cast<int>(c.deadline - now)
                                  : std::min(timeout, static_cast<int>(c.deadline - now));
        pfds.clear();
        pfds.push_back({stop_fd_, POLLIN, 0});
        pfds.push_back({listen_fd_, POLLIN, 0});
        for (const Conn& c : conns)
            pfds.push_back({c.fd, static_cast<short>(c.out.empty() ? POLLIN : POLLOUT), 0});
        int n = poll(pfds.data(), pfds.size(), timeout);
        if (n < 0 && errno != EINTR)
            break;
        if (pfds[0].revents)
            break;  // stopping
        now = now_ms();
        // connections first (their indexes match pfds[2..]), then new ones
        std::vector<bool> done(conns.size(), false);
        for (size_t i = 0; i < conns.size(); i++) {
            short re = pfds[i + 2].revents;
            if (!re)
                continue;
            Conn& c = conns[i];
            if (c.out.empty()) {
                char buf[4096];
                ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
                if (r <= 0) {
                    if (r < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                    done[i] = true;
                    continue;
                }
                c.in.append(buf, static_cast<size_t>(r));
                if (c.in.find("\r\n\r\n") != std::string::npos || c.in.find("\n\n") != std::string::npos)
                    c.out = respond(c.in);
                else if (c.in.size() > kMaxRequestBytes)
                    c.out = http_reply(431, "Request Header Fields Too Large", "text/plain", "request too large\n",
                                       false);
                else
                    continue;
            }
            ssize_t w = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0)
                c.sent += static_cast<size_t>(w);
            else if (!(w < 0 && (errno == EAGAIN || errno == EINTR)))
                done[i] = true;
            if (c.sent == c.out.size()) {
                shutdown(c.fd, SHUT_WR);
                done[i] = true;
            }
        }
        for (size_t i = conns.size(); i-- > 0;) {
            if (done[i]) {
                ::close(conns[i].fd);
                conns[i] = std::move(conns.back());
                conns.pop_back();
            }
        }
        if (pfds[1].revents & POLLIN) {
            for (;;) {
                int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0)
                    break;
                if (conns.size() >= static_cast<size_t>(kMaxConnections)) {
                    // Full: the connection that has waited longest without
                    // completing its request makes room (a client that holds
                    // connections open cannot lock out the scraper).
                    size_t oldest = 0;
                    for (size_t i = 1; i < conns.size(); i++)
                        if (conns[i].accepted < conns[oldest].accepted)
                            oldest = i;
                    ::close(conns[oldest].fd);
                    conns[oldest] = std::move(conns.back());
                    conns.pop_back();
                }
                Conn c;
                c.fd = fd;
                c.accepted = ++accepted;
                c.deadline = now + kRequestDeadlineMs;
                conns.push_back(std::move(c));
            }
        }
    }
    for (Conn& c : conns)
        ::close(c.fd);
}

}  // namespace scanwatch
