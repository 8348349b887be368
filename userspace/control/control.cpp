#include "control/control.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace scanwatch {

namespace {

sockaddr_un make_addr(const std::string& path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof a.sun_path)
        throw std::invalid_argument("socket path '" + path + "' is empty or too long");
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    return a;
}

bool agent_answers(const std::string& path) {
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un a = make_addr(path);
    return connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

}  // namespace

ControlServer::ControlServer(std::string path, Handler handler) : path_(std::move(path)), handler_(std::move(handler)) {
    sockaddr_un a = make_addr(path_);
    struct stat st{};
    if (lstat(path_.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            throw std::runtime_error("'" + path_ + "' exists and is not a socket");
        if (agent_answers(path_))
            throw std::runtime_error("another scanwatch agent is listening on " + path_ + " (use --socket)");
        ::unlink(path_.c_str());  // stale, from an agent that was killed
    }
    listen_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!listen_)
        throw std::runtime_error(std::string("control socket: ") + std::strerror(errno));
    mode_t old = umask(0177);
    int rc = bind(listen_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
    int err = errno;
    umask(old);
    if (rc != 0)
        throw std::runtime_error("cannot bind control socket " + path_ + ": " + std::strerror(err));
    chmod(path_.c_str(), 0600);
    if (listen(listen_.get(), 16) != 0)
        throw std::runtime_error(std::string("listen on control socket: ") + std::strerror(errno));
}

ControlServer::~ControlServer() {
    for (auto& [fd, buf] : clients_)
        ::close(fd);
    clients_.clear();
    ::unlink(path_.c_str());
}

void ControlServer::on_listen_ready() {
    for (;;) {
        int fd = accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;
        if (clients_.size() >= kMaxClients) {
            // Clients that connect and stall (half a line, or nothing) must not
            // lock everyone else out: the one idle longest makes room.
            auto oldest = std::min_element(clients_.begin(), clients_.end(), [](const auto& a, const auto& b) {
                return a.second.since < b.second.since;
            });
            close_client(oldest->first);
        }
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u64 = tag_base_ + static_cast<uint64_t>(fd);
        if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) {
            ::close(fd);
            continue;
        }
        clients_[fd].since = ++accepted_;
    }
}

void ControlServer::close_client(int fd) {
    epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    clients_.erase(fd);
}

void ControlServer::reply(int fd, const nlohmann::json& j) {
    std::string s = j.dump() + "\n";
    // Most replies are small, but `blocks` with 100,000 rows is ~15 MB: keep
    // sending while the client reads; a client that stops reading for half a
    // second loses the rest (the agent's loop waits no longer for it).
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            pollfd p{fd, POLLOUT, 0};
            if (poll(&p, 1, 500) <= 0)
                break;
            continue;
        }
        break;
    }
}

void ControlServer::on_client_ready(int fd) {
    auto it = clients_.find(fd);
    if (it == clients_.end())
        return;
    char buf[8192];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            if (!it->second.buf.feed({buf, static_cast<size_t>(n)})) {
                reply(fd, {{"ok", false}, {"error", "request too large (limit 64 KiB)"}});
                close_client(fd);
                return;
            }
            continue;
        }
        if (n < 0 && errno == EAGAIN)
            break;
        close_client(fd);  // EOF or error before a full line
        return;
    }
    auto line = it->second.buf.line();
    if (!line)
        return;  // wait for the rest
    nlohmann::json resp = answer_request_line(*line, handler_);
    reply(fd, resp);
    close_client(fd);
}

nlohmann::json control_request(const std::string& path, const nlohmann::json& request, int timeout_ms) {
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd)
        throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_un a = make_addr(path);
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        int err = errno;
        if (err == EACCES || err == EPERM)
            throw std::runtime_error("no permission to use the control socket " + path + " (root only)");
        throw std::runtime_error("no scanwatch agent is listening on " + path + " (" + std::strerror(err) +
                                 "; is `scanwatch run` running? use --socket)");
    }
    std::string out = request.dump() + "\n";
    if (::send(fd.get(), out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size()))
        throw std::runtime_error("sending to the agent failed: " + std::string(std::strerror(errno)));
    std::string in;
    char buf[65536];
    for (;;) {
        pollfd p{fd.get(), POLLIN, 0};
        int r = poll(&p, 1, timeout_ms);
        if (r == 0)
            throw std::runtime_error("the agent on " + path + " did not answer within " +
                                     std::to_string(timeout_ms) + " ms");
        if (r < 0)
            throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
        ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n <= 0)
            break;
        in.append(buf, static_cast<size_t>(n));
        if (in.find('\n') != std::string::npos)
            break;
    }
    try {
        return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception&) {
        throw std::runtime_error("the agent on " + path + " sent a reply that is not JSON");
    }
}

}  // namespace scanwatch
