#include "control/control.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

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

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
    auto d = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return d > 0 ? static_cast<int>(d) : 0;
}

// connect() on a non-blocking unix socket: EAGAIN while the listener's backlog
// is full (a stuck agent). Retries until the deadline. Returns 0 or an errno;
// ETIMEDOUT when the deadline passed.
int connect_by(int fd, const sockaddr_un& a, Clock::time_point deadline) {
    for (;;) {
        if (connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0)
            return 0;
        int err = errno;
        if (err == EINPROGRESS) {
            pollfd p{fd, POLLOUT, 0};
            if (poll(&p, 1, ms_left(deadline)) <= 0)
                return ETIMEDOUT;
            socklen_t len = sizeof err;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            return err;
        }
        if (err != EAGAIN && err != EINTR)
            return err;
        if (ms_left(deadline) == 0)
            return ETIMEDOUT;
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(20, ms_left(deadline))));
    }
}

bool agent_answers(const std::string& path) {
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_un a = make_addr(path);
    int err = connect_by(fd.get(), a, Clock::now() + std::chrono::milliseconds(1000));
    // a full backlog means someone listens there, stuck or not
    return err == 0 || err == ETIMEDOUT;
}

std::string parent_of(const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos)
        return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

// The socket's directory: created private when missing; refused when someone
// other than root or us could replace what is in it.
void check_directory(const std::string& dir, long gid) {
    struct stat st{};
    if (lstat(dir.c_str(), &st) != 0) {
        if (errno != ENOENT)
            throw std::runtime_error("control socket directory " + dir + ": " + std::strerror(errno));
        if (mkdir(dir.c_str(), gid >= 0 ? 0750 : 0700) != 0 && errno != EEXIST)
            throw std::runtime_error("cannot create the control socket directory " + dir + ": " +
                                     std::strerror(errno));
        if (gid >= 0 && lchown(dir.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(gid)) != 0)
            throw std::runtime_error("cannot give the control socket directory " + dir + " to its group: " +
                                     std::strerror(errno));
        if (lstat(dir.c_str(), &st) != 0)
            throw std::runtime_error("control socket directory " + dir + ": " + std::strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        throw std::runtime_error("the control socket directory " + dir + " is not a directory");
    if (st.st_uid != 0 && st.st_uid != geteuid())
        throw std::runtime_error("the control socket directory " + dir + " belongs to uid " +
                                 std::to_string(st.st_uid) + ": use a directory of root's (--socket)");
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        throw std::runtime_error("the control socket directory " + dir +
                                 " is writable by others: use a private directory (--socket)");
}

// Root, the agent's own user, or a member (primary or supplementary) of gid.
bool peer_allowed(int fd, long gid) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return false;
    if (cred.uid == 0 || cred.uid == geteuid())
        return true;
    if (gid < 0)
        return false;
    if (cred.gid == static_cast<gid_t>(gid))
        return true;
    gid_t groups[256];
    len = sizeof groups;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0)
        return false;
    for (size_t i = 0; i < len / sizeof(gid_t); i++)
        if (groups[i] == static_cast<gid_t>(gid))
            return true;
    return false;
}

std::string seconds_text(int ms) {
    char b[32];
    std::snprintf(b, sizeof b, "%g s", ms / 1000.0);
    return b;
}

}  // namespace

ControlServer::ControlServer(std::string path, Handler handler, const std::string& group)
    : path_(std::move(path)), handler_(std::move(handler)) {
    sockaddr_un a = make_addr(path_);
    if (!group.empty()) {
        std::vector<char> buf(16384);
        struct group g{};
        struct group* found = nullptr;
        if (getgrnam_r(group.c_str(), &g, buf.data(), buf.size(), &found) != 0 || !found)
            throw std::runtime_error("control socket group '" + group + "' does not exist");
        gid_ = found->gr_gid;
    }
    check_directory(parent_of(path_), gid_);
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
    // The mode comes from the umask at bind: no chmod after the fact, which
    // would follow a symlink planted in between.
    mode_t old = umask(gid_ >= 0 ? 0117 : 0177);
    int rc = bind(listen_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
    int err = errno;
    umask(old);
    if (rc != 0)
        throw std::runtime_error("cannot bind control socket " + path_ + ": " + std::strerror(err));
    if (gid_ >= 0 && lchown(path_.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(gid_)) != 0)
        throw std::runtime_error("cannot give the control socket " + path_ + " to its group: " +
                                 std::strerror(errno));
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
        if (!peer_allowed(fd, gid_)) {
            refused_++;
            reply(fd, {{"ok", false}, {"error", "permission denied: the control socket is for root" +
                                                    std::string(gid_ >= 0 ? " and its group" : "")}});
            ::close(fd);
            continue;
        }
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
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    auto too_slow = [&] {
        return std::runtime_error("the agent on " + path + " did not answer within " +
                                  seconds_text(timeout_ms) + " (is it stuck?)");
    };
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd)
        throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_un a = make_addr(path);
    if (int err = connect_by(fd.get(), a, deadline)) {
        if (err == ETIMEDOUT)
            throw too_slow();
        if (err == EACCES || err == EPERM)
            throw std::runtime_error("no permission to use the control socket " + path + " (root only)");
        throw std::runtime_error("no scanwatch agent is listening on " + path + " (" + std::strerror(err) +
                                 "; is `scanwatch run` running? use --socket)");
    }
    std::string out = request.dump() + "\n";
    size_t off = 0;
    while (off < out.size()) {
        ssize_t n = ::send(fd.get(), out.data() + off, out.size() - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            pollfd p{fd.get(), POLLOUT, 0};
            if (poll(&p, 1, ms_left(deadline)) <= 0)
                throw too_slow();
            continue;
        }
        // The agent may have answered and closed already (a refusal): read it.
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
            break;
        throw std::runtime_error("sending to the agent failed: " + std::string(std::strerror(errno)));
    }
    std::string in;
    char buf[65536];
    for (;;) {
        pollfd p{fd.get(), POLLIN, 0};
        int r = poll(&p, 1, ms_left(deadline));
        if (r == 0)
            throw too_slow();
        if (r < 0 && errno != EINTR)
            throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
        ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
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
