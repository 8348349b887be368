#include "crowdsec/client.hpp"

#include <httplib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>

namespace scanwatch::crowdsec {

namespace {

constexpr uint64_t kSec = 1'000'000'000ULL;
constexpr uint64_t kMaxPushBackoff = 30 * kSec;

double unix_now() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

std::unique_ptr<httplib::Client> http(const LapiUrl& u, time_t read_timeout_s) {
    auto c = std::make_unique<httplib::Client>(u.origin());
    c->set_connection_timeout(3, 0);
    c->set_read_timeout(read_timeout_s, 0);
    c->set_write_timeout(10, 0);
    c->set_keep_alive(true);
    return c;
}

std::string describe(const httplib::Result& r) {
    if (!r)
        return httplib::to_string(r.error());
    std::string msg;
    try {
        auto j = nlohmann::json::parse(r->body);
        if (j.is_object() && j.contains("message") && j["message"].is_string())
            msg = j["message"].get<std::string>();
    } catch (...) {
    }
    return "HTTP " + std::to_string(r->status) + (msg.empty() ? "" : " " + msg);
}

}  // namespace

Client::Client(ClientOptions o, std::function<void(const std::string&)> warn) : o_(std::move(o)), warn_(std::move(warn)) {
    efd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd_ < 0)
        throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
    if (pulling())
        puller_ = std::thread([this] { pull_loop(); });
    if (pushing())
        pusher_ = std::thread([this] { push_loop(); });
}

Client::~Client() {
    {
        std::lock_guard<std::mutex> l(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (puller_.joinable())
        puller_.join();
    if (pusher_.joinable())
        pusher_.join();
    close(efd_);
}

bool Client::sleep_for(uint64_t ns) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, std::chrono::nanoseconds(ns), [this] { return stop_; });
    return stop_;
}

void Client::set_reachable(bool up, const std::string& what) {
    bool say_down = false, say_up = false;
    {
        std::lock_guard<std::mutex> l(mu_);
        stats_.reachable = up;
        if (!up && !down_said_)
            say_down = down_said_ = true;
        else if (up && down_said_) {
            down_said_ = false;
            say_up = true;
        }
    }
    if (say_down)
        warn_("crowdsec: cannot reach the Local API at " + o_.url.origin() + " (" + what +
              "); detecting and blocking locally, retrying with back-off");
    if (say_up)
        warn_("crowdsec: the Local API at " + o_.url.origin() + " answers again");
}

void Client::push(nlohmann::json alert) {
    {
        std::lock_guard<std::mutex> l(mu_);
        if (alerts_.size() >= o_.queue_max) {
            stats_.dropped++;
            return;
        }
        alerts_.push_back(std::move(alert));
        stats_.queued = alerts_.size();
    }
    cv_.notify_all();
}

std::deque<StreamBatch> Client::take() {
    uint64_t v;
    while (read(efd_, &v, sizeof v) == sizeof v) {
    }
    std::lock_guard<std::mutex> l(mu_);
    std::deque<StreamBatch> out;
    out.swap(batches_);
    return out;
}

ClientStats Client::stats() const {
    std::lock_guard<std::mutex> l(mu_);
    return stats_;
}

void Client::pull_loop() {
    // A startup list of 100,000 decisions is about 15 MB: give it time.
    auto c = http(o_.url, 60);
    httplib::Headers h{{"X-Api-Key", o_.bouncer_key}, {"User-Agent", "scanwatch-bouncer/0.1.0"}};
    // The full list again (startup=true) every 10 minutes and after an
    // outage: LAPI 1.4.6's incremental stream can miss decisions committed
    // while a pull runs (seen with `cscli decisions import`: 150 of 100,000),
    // and the resync lifts and adds what the increments missed.
    constexpr uint64_t kResync = 600 * kSec;
    bool startup = true;
    uint64_t last_full_ns = 0;
    const std::string filter_query = o_.filter.query();
    auto mono = [] {
        timespec ts{};
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return static_cast<uint64_t>(ts.tv_sec) * kSec + static_cast<uint64_t>(ts.tv_nsec);
    };
    uint64_t backoff = o_.pull_interval_ns;
    bool key_said = false;
    for (;;) {
        if (!startup && mono() - last_full_ns >= kResync)
            startup = true;
        std::string query = startup ? "startup=true" : "";
        if (!filter_query.empty())
            query += (query.empty() ? "" : "&") + filter_query;
        std::string path = o_.url.base + "/v1/decisions/stream" + (query.empty() ? "" : "?" + query);
        uint64_t t0 = mono();
        auto r = c->Get(path, h);
        uint64_t t_got = mono();
        uint64_t wait = o_.pull_interval_ns;
        if (r && r->status == 200) {
            set_reachable(true, "");
            try {
                StreamBatch b = parse_stream(nlohmann::json::parse(r->body));
                b.startup = startup;
                b.fetch_ns = t_got - t0;
                b.parse_ns = mono() - t_got;
                if (startup)
                    last_full_ns = mono();
                startup = false;
                {
                    std::lock_guard<std::mutex> l(mu_);
                    batches_.push_back(std::move(b));
                    stats_.last_pull_s = unix_now();
                    stats_.pulls++;
                }
                uint64_t one = 1;
                (void)!write(efd_, &one, sizeof one);
                backoff = o_.pull_interval_ns;
                key_said = false;
            } catch (const std::exception& e) {
                warn_(std::string("crowdsec: the decisions stream could not be read: ") + e.what());
            }
        } else {
            if (r && (r->status == 401 || r->status == 403)) {
                set_reachable(true, "");
                if (!key_said)
                    warn_("crowdsec: the Local API refused the bouncer key (" + describe(r) +
                          "); not pulling decisions until it is accepted (cscli bouncers add)");
                key_said = true;
            } else {
                set_reachable(r, describe(r));
                startup = true;  // resync when it answers again
            }
            // Doubling up to 8 pull intervals (10 s to 5 min).
            backoff = std::min(backoff * 2, std::clamp<uint64_t>(8 * o_.pull_interval_ns, 10 * kSec, 300 * kSec));
            wait = backoff;
        }
        if (sleep_for(wait))
            return;
    }
}

void Client::push_loop() {
    auto c = http(o_.url, 15);
    std::string token;
    uint64_t token_until_ns = 0;  // CLOCK_MONOTONIC
    uint64_t backoff = kSec;
    bool login_said = false;
    auto mono = [] {
        timespec ts{};
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return static_cast<uint64_t>(ts.tv_sec) * kSec + static_cast<uint64_t>(ts.tv_nsec);
    };
    bool first = true;  // log in at start, so bad credentials are said at once
    for (;;) {
        {
            std::unique_lock<std::mutex> l(mu_);
            cv_.wait(l, [&] { return stop_ || !alerts_.empty() || first; });
            if (stop_)
                return;
        }
        bool ok = false;
        // Log in (again) when there is no token or it ends within a minute.
        if (token.empty() || mono() + 60 * kSec >= token_until_ns) {
            nlohmann::json body{{"machine_id", o_.machine_id}, {"password", o_.password}};
            auto r = c->Post(o_.url.base + "/v1/watchers/login", body.dump(), "application/json");
            if (r && r->status == 200) {
                set_reachable(true, "");
                try {
                    auto j = nlohmann::json::parse(r->body);
                    token = j.at("token").get<std::string>();
                    // "expire" is RFC 3339 UTC; the LAPI gives an hour.
                    std::tm tm{};
                    std::string exp = j.value("expire", "");
                    uint64_t life = 3600 * kSec;
                    if (strptime(exp.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) {
                        double left = static_cast<double>(timegm(&tm)) - unix_now();
                        if (left > 0)
                            life = static_cast<uint64_t>(left * 1e9);
                    }
                    token_until_ns = mono() + life;
                    login_said = false;
                } catch (const std::exception&) {
                    token.clear();
                }
            } else if (r && (r->status == 401 || r->status == 403)) {
                set_reachable(true, "");
                if (!login_said)
                    warn_("crowdsec: the Local API refused machine '" + o_.machine_id + "' (" + describe(r) +
                          "); alerts wait in the queue (cscli machines add)");
                login_said = true;
                token.clear();
            } else {
                set_reachable(false, describe(r));
                token.clear();
            }
        }
        if (first && !token.empty()) {
            first = false;
            std::lock_guard<std::mutex> l(mu_);
            if (alerts_.empty())
                continue;
        }
        if (!token.empty()) {
            nlohmann::json batch = nlohmann::json::array();
            {
                std::lock_guard<std::mutex> l(mu_);
                for (size_t i = 0; i < alerts_.size() && i < 100; i++)
                    batch.push_back(alerts_[i]);
            }
            httplib::Headers h{{"Authorization", "Bearer " + token}, {"User-Agent", "scanwatch/0.1.0"}};
            auto r = c->Post(o_.url.base + "/v1/alerts", h, batch.dump(), "application/json");
            if (r && r->status >= 200 && r->status < 300) {
                set_reachable(true, "");
                std::lock_guard<std::mutex> l(mu_);
                for (size_t i = 0; i < batch.size() && !alerts_.empty(); i++)
                    alerts_.pop_front();
                stats_.pushed += batch.size();
                stats_.queued = alerts_.size();
                ok = true;
            } else {
                if (r && r->status == 401)
                    token.clear();  // expired or revoked: log in again
                else if (r)
                    warn_("crowdsec: the Local API refused " + std::to_string(batch.size()) + " alerts (" + describe(r) + ")");
                else
                    set_reachable(false, describe(r));
                std::lock_guard<std::mutex> l(mu_);
                stats_.failed++;
                // An alert the LAPI rejects as malformed would block the queue forever.
                if (r && r->status >= 400 && r->status < 500 && r->status != 401 && r->status != 403)
                    for (size_t i = 0; i < batch.size() && !alerts_.empty(); i++)
                        alerts_.pop_front();
                stats_.queued = alerts_.size();
            }
        }
        if (ok) {
            backoff = kSec;
            continue;
        }
        if (sleep_for(backoff))
            return;
        backoff = std::min(backoff * 2, kMaxPushBackoff);
    }
}

}  // namespace scanwatch::crowdsec
