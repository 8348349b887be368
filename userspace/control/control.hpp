// The control socket: a unix stream socket where `scanwatch top`, `block`,
// `unblock`, `blocks` and `status` talk to the running agent. One JSON request
// per line, one JSON reply per line. Requests are size-limited and read
// without blocking, so a slow or hostile client cannot stall the agent.
//
// Who may talk to it (issue 18): the socket is created with its mode already
// set (0600, or 0660 and the group when a group is configured: umask at bind,
// lchown, nothing that follows a symlink), in a directory only root (or the
// agent's user) can write, and every accepted client's credentials
// (SO_PEERCRED, SO_PEERGROUPS) are checked: root, the agent's own user, or a
// member of the configured group.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "common/fd.hpp"
#include "control/request.hpp"

namespace scanwatch {

constexpr size_t kMaxClients = 32;  // open at once; the longest-connected one makes room

class ControlServer {
public:
    using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;

    // Binds path (mode 0600; 0660 owned by group `group` when not empty).
    // Refuses when another agent answers there, or when the directory is
    // writable by others; creates a missing directory (0700 / 0750); replaces
    // a stale socket file left by a killed agent.
    ControlServer(std::string path, Handler handler, const std::string& group = "");
    ~ControlServer();  // closes clients and removes the socket file

    int listen_fd() const { return listen_.get(); }
    // Registers fds with the caller's epoll (tag = tag_base + fd).
    void on_listen_ready();
    bool owns(int fd) const { return clients_.count(fd) != 0; }
    void on_client_ready(int fd);
    void set_epoll(int ep, uint64_t tag_base) {
        ep_ = ep;
        tag_base_ = tag_base;
    }

private:
    void close_client(int fd);
    void reply(int fd, const nlohmann::json& j);

    std::string path_;
    Handler handler_;
    UniqueFd listen_;
    struct Client {
        RequestFramer buf;   // bytes received so far
        uint64_t since = 0;  // accept order
    };
    std::map<int, Client> clients_;
    uint64_t accepted_ = 0;
    long gid_ = -1;  // the group allowed besides root; -1: none

public:
    uint64_t refused() const { return refused_; }

private:
    uint64_t refused_ = 0;  // clients turned away for their credentials
    int ep_ = -1;
    uint64_t tag_base_ = 0;
};

// Sends one request to the agent at path and returns its reply. Connecting,
// sending and reading share one deadline of timeout_ms (a stuck agent whose
// backlog is full must not hang the client). Throws std::runtime_error("no
// scanwatch agent is listening on PATH ...") etc.
nlohmann::json control_request(const std::string& path, const nlohmann::json& request,
                               int timeout_ms = 3000);

}  // namespace scanwatch
