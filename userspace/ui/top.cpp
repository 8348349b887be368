// `scanwatch top`: the live view. Samples the agent's control socket every
// --delay seconds and draws the model (ui/model.hpp) with ncurses. The
// terminal is restored on every way out: q, Ctrl-C/SIGTERM/SIGHUP, and
// exceptions (the Terminal guard ends curses while the stack unwinds).
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#include <curses.h>
#include <term.h>  // setupterm(), tigetstr(); defines lower-case macros (lines, columns)

#include <langinfo.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <clocale>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/errors.hpp"
#include "ui/top.hpp"
#include "control/control.hpp"
#include "scanwatch/parse.hpp"
#include "ui/model.hpp"

namespace scanwatch {

namespace {

using ui::Column;
using ui::SourceRow;

volatile sig_atomic_t g_stop = 0;
void on_stop_signal(int) { g_stop = 1; }

double mono_s() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// A hung agent stalls the view for at most this long per request.
constexpr int kRequestTimeoutMs = 2000;

nlohmann::json ask(const std::string& socket, const nlohmann::json& req) {
    auto r = control_request(socket, req, kRequestTimeoutMs);
    if (!r.is_object() || !r.value("ok", false))
        throw std::runtime_error(r.is_object() && r.contains("error") && r["error"].is_string()
                                     ? r["error"].get<std::string>()
                                     : "the agent refused the request");
    return r;
}

struct Fetched {
    nlohmann::json sources, status, blocks;
};

Fetched fetch(const std::string& socket) {
    Fetched f;
    f.sources = ask(socket, {{"cmd", "sources"}});
    f.status = ask(socket, {{"cmd", "status"}});
    f.blocks = ask(socket, {{"cmd", "blocks"}});
    return f;
}

size_t terminal_width(size_t dflt) {
    winsize ws{};
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    if (const char* c = std::getenv("COLUMNS"))
        if (int n = std::atoi(c); n > 20)
            return static_cast<size_t>(n);
    return dflt;
}

// A terminal that can place the cursor (TERM=dumb cannot): else a snapshot.
bool terminal_can_draw() {
    int err = 0;
    if (setupterm(nullptr, STDOUT_FILENO, &err) != OK)
        return true;  // unknown TERM: newterm() says so in one line
    const char* cup = tigetstr(const_cast<char*>("cup"));
    bool ok = cup != nullptr && cup != reinterpret_cast<const char*>(-1);
    del_curterm(cur_term);
    return ok;
}

// --- one snapshot ------------------------------------------------------------

int print_once(const TopOptions& o, ui::TopModel& model, const ui::HeaderInfo& hi) {
    Fetched f = fetch(o.socket);
    model.ingest(mono_s(), f.sources, f.status, f.blocks);
    if (o.json) {
        auto j = ui::snapshot_json(model, f.sources);
        if (!model.filter.empty() || model.sort_key != Column::Score || model.inverted) {
            // the sources in the view's order (and only those matching)
            std::unordered_map<std::string, nlohmann::json> by_src;
            for (const auto& s : j["sources"])
                if (s.is_object() && s.contains("src") && s["src"].is_string())
                    by_src[s["src"].get<std::string>()] = s;
            nlohmann::json arr = nlohmann::json::array();
            for (const auto* r : model.view())
                if (auto it = by_src.find(r->src); it != by_src.end())
                    arr.push_back(it->second);
            j["sources"] = arr;
        }
        std::printf("%s\n", j.dump().c_str());
    } else {
        std::fputs(ui::snapshot_text(model, hi, terminal_width(160)).c_str(), stdout);
    }
    std::fflush(stdout);
    return 0;
}

// --- the terminal --------------------------------------------------------------

enum Pair : short { kScanner = 1, kBlocked, kTableHead, kKey, kTitle, kError, kSpark, kPaneHead };

class Terminal {
public:
    Terminal() {
        struct sigaction sa{};
        sa.sa_handler = on_stop_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;  // no SA_RESTART: getch() returns at once
        for (int i = 0; i < 3; i++)
            sigaction(kSignals[i], &sa, &old_[i]);
        const char* term = std::getenv("TERM");
        screen_ = newterm(term, stdout, stdin);
        if (!screen_) {
            restore_signals();
            throw std::runtime_error(std::string("cannot drive this terminal (TERM=") + (term ? term : "unset") +
                                     "); try --once");
        }
        set_term(screen_);
        cbreak();
        noecho();
        nonl();
        keypad(stdscr, TRUE);
        set_escdelay(25);
        curs_set(0);
        if (has_colors()) {
            start_color();
            short bg = use_default_colors() == OK ? -1 : COLOR_BLACK;
            init_pair(kScanner, COLOR_RED, bg);
            init_pair(kBlocked, COLOR_YELLOW, bg);
            init_pair(kTableHead, COLOR_BLACK, COLOR_GREEN);
            init_pair(kKey, COLOR_BLACK, COLOR_CYAN);
            init_pair(kTitle, COLOR_CYAN, bg);
            init_pair(kError, COLOR_WHITE, COLOR_RED);
            init_pair(kSpark, COLOR_GREEN, bg);
            init_pair(kPaneHead, COLOR_BLACK, COLOR_CYAN);
            colors_ = true;
        }
    }
    ~Terminal() {
        curs_set(1);
        endwin();
        delscreen(screen_);
        restore_signals();
    }
    Terminal(const Terminal&) = delete;
    Terminal& operator=(const Terminal&) = delete;

    bool colors() const { return colors_; }
    attr_t attr(Pair p, attr_t mono) const { return colors_ ? COLOR_PAIR(p) : mono; }

private:
    void restore_signals() {
        for (int i = 0; i < 3; i++)
            sigaction(kSignals[i], &old_[i], nullptr);
    }
    static constexpr int kSignals[3] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction old_[3]{};
    SCREEN* screen_ = nullptr;
    bool colors_ = false;
};

// Puts text at (y, x), cut at the right edge (never into the last cell of
// the last line, which would scroll some terminals).
void put(int y, int x, const std::string& text, attr_t a = A_NORMAL) {
    if (y < 0 || y >= LINES || x >= COLS)
        return;
    int room = COLS - x - (y == LINES - 1 ? 1 : 0);
    if (room <= 0)
        return;
    // cut after room cells; each UTF-8 sequence (sparkline blocks) is one cell
    size_t bytes = 0, cells = 0;
    while (bytes < text.size() && cells < static_cast<size_t>(room)) {
        unsigned char c = static_cast<unsigned char>(text[bytes]);
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
        bytes = std::min(text.size(), bytes + n);
        cells++;
    }
    attrset(a);
    mvaddnstr(y, x, text.c_str(), static_cast<int>(bytes));
    attrset(A_NORMAL);
}

// Fills a line with spaces in attribute a.
void bar(int y, attr_t a) {
    if (y < 0 || y >= LINES)
        return;
    attrset(a);
    mvhline(y, 0, ' ', COLS);
    attrset(A_NORMAL);
}

enum class Mode { Normal, Help, Sort, Filter, Ttl, ConfirmBlock, ConfirmUnblock };

class TopView {
public:
    TopView(const TopOptions& o, ui::TopModel& model, ui::HeaderInfo& hi) : o_(o), m_(model), hi_(hi) {
        const char* cs = nl_langinfo(CODESET);
        unicode_ = cs && (std::strcmp(cs, "UTF-8") == 0 || std::strcmp(cs, "utf8") == 0);
    }

    int run() {
        Terminal term;
        t_ = &term;
        next_sample_ = mono_s() + o_.delay_s;
        bool dirty = true;
        while (!g_stop && !quit_) {
            if (dirty)
                draw();
            dirty = false;
            double now = mono_s();
            int wait_ms = paused_ ? 250 : static_cast<int>(std::clamp((next_sample_ - now) * 1000, 10.0, 250.0));
            timeout(wait_ms);
            int ch = getch();
            now = mono_s();
            if (ch != ERR) {
                on_key(ch);
                dirty = true;
            }
            if (!paused_ && now >= next_sample_) {
                sample();
                dirty = true;
            }
            if (!message_.empty() && now >= message_until_) {
                message_.clear();
                dirty = true;
            }
        }
        return 0;
    }

private:
    void sample() {
        try {
            Fetched f = fetch(o_.socket);
            m_.ingest(mono_s(), f.sources, f.status, f.blocks);
            hi_.error.clear();
        } catch (const std::exception& e) {
            hi_.error = e.what();
        }
        double now = mono_s();
        next_sample_ += o_.delay_s;
        if (next_sample_ <= now)  // fell behind (slow agent, suspended terminal)
            next_sample_ = now + o_.delay_s;
    }

    void say(const std::string& msg, bool error = false) {
        message_ = msg;
        message_error_ = error;
        message_until_ = mono_s() + (error ? 8 : 4);
    }

    // --- drawing -------------------------------------------------------------

    void draw() {
        if (repaint_) {
            // An overlay (the sort menu, help) just closed: repaint every cell
            // rather than only those ncurses believes changed. Its diff is
            // only as good as its picture of the terminal; where that picture
            // is off (a terminal that drops a sequence its terminfo entry
            // claims, a glyph it draws wider than wcwidth() says), cells the
            // menu covered and the table leaves blank are never rewritten,
            // and the menu's pieces stay on the table.
            clearok(curscr, TRUE);
            repaint_ = false;
        }
        erase();
        if (LINES < 8 || COLS < 40) {
            put(0, 0, "scanwatch top: the terminal is too small (need 40x8); q quits");
            refresh();
            return;
        }
        if (mode_ == Mode::Help) {
            draw_help();
            refresh();
            return;
        }
        const size_t W = static_cast<size_t>(COLS);
        auto head = ui::header_lines(m_, hi_, W);
        for (size_t i = 0; i < head.size(); i++)
            put(static_cast<int>(i), 0, head[i], i == 0 ? (t_->attr(kTitle, A_NORMAL) | A_BOLD) : A_NORMAL);
        if (!hi_.error.empty()) {
            size_t at = head[0].find(" - NOT ANSWERING");
            if (at != std::string::npos && at + 3 < W)
                put(0, static_cast<int>(at + 3), head[0].substr(at + 3), t_->attr(kError, A_REVERSE) | A_BOLD);
        }
        const int table_y = static_cast<int>(head.size());
        const int msg_y = LINES - 2;
        const int legend_y = LINES - 1;

        view_ = m_.view();
        // the details pane takes the lower part of the table's space
        int pane_top = msg_y;
        std::vector<std::string> pane;
        ui::Cursor probe = cursor_;  // which row is selected (the window is placed below)
        probe.sync(view_, visible_);
        const SourceRow* sel = probe.selected(view_);
        if (details_ && sel) {
            pane = ui::detail_lines(m_, *sel, W - 1, unicode_);
            int room = msg_y - table_y - 4;  // table head + at least 3 rows
            int h = std::min<int>(static_cast<int>(pane.size()) + 1, std::max(room, 0));
            pane_top = msg_y - h;
        }
        const int rows_y = table_y + 1;
        visible_ = static_cast<size_t>(std::max(1, pane_top - rows_y));
        cursor_.sync(view_, visible_);
        sel = cursor_.selected(view_);

        auto cols = ui::layout_columns(W, view_);
        bar(table_y, t_->attr(kTableHead, A_REVERSE));
        std::string th = ui::format_row(nullptr, cols);
        put(table_y, 0, th, t_->attr(kTableHead, A_REVERSE));
        // mark the sort column
        size_t x = 0;
        for (const auto& c : cols) {
            if (c.id == m_.sort_key)
                put(table_y, static_cast<int>(x), ui::fit(ui::column_name(c.id), c.width, c.right),
                    t_->attr(kTableHead, A_REVERSE) | A_BOLD | A_UNDERLINE);
            x += c.width + 1;
        }

        for (size_t i = 0; i < visible_ && cursor_.top + i < view_.size(); i++) {
            const SourceRow* r = view_[cursor_.top + i];
            int y = rows_y + static_cast<int>(i);
            attr_t a = A_NORMAL;
            if (r->block)
                a = t_->attr(kBlocked, A_DIM);
            else if (r->scanner)
                a = t_->attr(kScanner, A_BOLD) | A_BOLD;
            if (r == sel) {
                a |= A_REVERSE;
                bar(y, a);
            }
            put(y, 0, ui::format_row(r, cols), a);
        }
        if (view_.empty())
            put(rows_y, 1,
                m_.samples() == 0 ? "waiting for the agent..."
                : m_.filter.empty() ? "no sources yet: nothing has sent a probe-like packet"
                                    : "no source matches the filter '" + m_.filter + "' (/ then Esc clears it)");

        if (!pane.empty() && pane_top < msg_y) {
            bar(pane_top, t_->attr(kPaneHead, A_REVERSE));
            put(pane_top, 0, " details: " + sel->src + "  (Enter or Esc closes)", t_->attr(kPaneHead, A_REVERSE));
            for (int i = 0; i + 1 < msg_y - pane_top && i < static_cast<int>(pane.size()); i++) {
                const std::string& l = pane[static_cast<size_t>(i)];
                bool spark = l.rfind("probes/s, last 60s", 0) == 0;
                put(pane_top + 1 + i, 1, l, spark ? t_->attr(kSpark, A_NORMAL) : A_NORMAL);
            }
        }

        if (mode_ == Mode::Sort)
            draw_sort_menu(rows_y);
        draw_message(msg_y);
        draw_legend(legend_y);
        refresh();
    }

    void draw_sort_menu(int y0) {
        put(y0, 0, " sort by:           ", A_REVERSE | A_BOLD);
        int i = 0;
        for (Column c : ui::kAllColumns) {
            int y = y0 + 1 + i;
            if (y >= LINES - 2)
                break;
            std::string l = std::string(i == sort_choice_ ? " > " : "   ") + ui::fit(ui::column_name(c), 16);
            put(y, 0, l + (c == m_.sort_key ? "*" : " "), i == sort_choice_ ? A_REVERSE : A_BOLD);
            put(y, 20, "|");
            i++;
        }
    }

    void draw_message(int y) {
        std::string prompt;
        switch (mode_) {
        case Mode::Filter: prompt = "filter (address or kind): " + input_ + "_   Enter keeps it, Esc clears"; break;
        case Mode::Ttl:
            prompt = "block " + target_ + " for how long? (e.g. 30m, 2h, 1d; 0 = never; Enter = agent default): " +
                     input_ + "_";
            break;
        case Mode::ConfirmBlock: prompt = "block " + target_ + " " + ttl_text_ + "? (y/n)"; break;
        case Mode::ConfirmUnblock: prompt = "unblock " + target_ + "? (y/n)"; break;
        case Mode::Sort: prompt = "choose the sort column: up/down, Enter; Esc cancels"; break;
        default: break;
        }
        if (!prompt.empty())
            put(y, 0, prompt, A_BOLD);
        else if (!message_.empty())
            put(y, 0, message_, message_error_ ? (t_->attr(kError, A_REVERSE) | A_BOLD) : A_BOLD);
        else if (!hi_.error.empty())
            put(y, 0, hi_.error, t_->attr(kError, A_REVERSE) | A_BOLD);
    }

    void draw_legend(int y) {
        int x = 0;
        for (const auto& [key, label] : ui::legend(static_cast<size_t>(COLS), unicode_)) {
            if (x >= COLS - 1)
                break;
            put(y, x, key, t_->attr(kKey, A_REVERSE));
            x += static_cast<int>(key.size());
            if (!label.empty()) {
                put(y, x, " " + label);
                x += static_cast<int>(label.size()) + 1;
            }
            x += 1;
        }
    }

    void draw_help() {
        auto text = ui::help_lines();
        for (size_t i = 0; i < text.size() && static_cast<int>(i) < LINES - 1; i++)
            put(static_cast<int>(i), 0, text[i], i == 0 ? A_BOLD : A_NORMAL);
        put(LINES - 1, 0, "press any key to go back", t_->attr(kKey, A_REVERSE));
    }

    // --- keys --------------------------------------------------------------------

    void on_key(int ch) {
        if (ch == KEY_RESIZE)
            return;  // the next draw uses the new LINES/COLS
        switch (mode_) {
        case Mode::Help:
            mode_ = Mode::Normal;
            repaint_ = true;
            return;
        case Mode::Sort: return on_sort_key(ch);
        case Mode::Filter: return on_filter_key(ch);
        case Mode::Ttl: return on_ttl_key(ch);
        case Mode::ConfirmBlock:
        case Mode::ConfirmUnblock: return on_confirm_key(ch);
        case Mode::Normal: break;
        }
        view_ = m_.view();
        const SourceRow* sel = cursor_.selected(view_);
        const long page = static_cast<long>(std::max<size_t>(visible_, 1));
        switch (ch) {
        case 'q':
        case 'Q': quit_ = true; break;
        case KEY_UP:
        case 'k': cursor_.move(view_, -1, visible_); break;
        case KEY_DOWN:
        case 'j': cursor_.move(view_, 1, visible_); break;
        case KEY_PPAGE: cursor_.move(view_, -page, visible_); break;
        case KEY_NPAGE:
        case ' ': cursor_.move(view_, page, visible_); break;
        case KEY_HOME:
        case 'g': cursor_.move(view_, -static_cast<long>(view_.size()), visible_); break;
        case KEY_END:
        case 'G': cursor_.move(view_, static_cast<long>(view_.size()), visible_); break;
        case '\n':
        case '\r':
        case KEY_ENTER: details_ = !details_; break;
        case 27: details_ = false; message_.clear(); break;
        case 's':
        case KEY_F(6): {
            mode_ = Mode::Sort;
            sort_choice_ = 0;
            for (int i = 0; i < static_cast<int>(std::size(ui::kAllColumns)); i++)
                if (ui::kAllColumns[i] == m_.sort_key)
                    sort_choice_ = i;
            break;
        }
        case '<':
        case '>': {
            int n = static_cast<int>(std::size(ui::kAllColumns));
            int i = 0;
            while (i < n && ui::kAllColumns[i] != m_.sort_key)
                i++;
            i = (i + (ch == '>' ? 1 : n - 1)) % n;
            m_.sort_key = ui::kAllColumns[i];
            break;
        }
        case 'I': m_.inverted = !m_.inverted; break;
        case '/':
            mode_ = Mode::Filter;
            input_ = m_.filter;
            break;
        case 'p':
        case 'P':
            paused_ = !paused_;
            hi_.paused = paused_;
            if (!paused_) {
                next_sample_ = mono_s();  // sample at once
            }
            say(paused_ ? "paused: p resumes" : "resumed");
            break;
        case 'b':
            if (!sel) {
                say("no source selected", true);
            } else if (sel->block) {
                say(sel->src + " is already blocked (" + sel->block->target + "); u unblocks it", true);
            } else {
                target_ = sel->src;
                input_.clear();
                mode_ = Mode::Ttl;
            }
            break;
        case 'u':
            if (!sel) {
                say("no source selected", true);
            } else if (!sel->block) {
                say(sel->src + " is not blocked", true);
            } else {
                target_ = sel->block->target.empty() ? sel->src : sel->block->target;
                mode_ = Mode::ConfirmUnblock;
            }
            break;
        case 'h':
        case '?':
        case KEY_F(1): mode_ = Mode::Help; break;
        case 12:  // Ctrl-L
            clearok(curscr, TRUE);
            break;
        default: break;
        }
    }

    void on_sort_key(int ch) {
        on_sort_choice(ch);
        if (mode_ != Mode::Sort)
            repaint_ = true;  // the menu is gone: every cell it covered is drawn anew
    }

    void on_sort_choice(int ch) {
        int n = static_cast<int>(std::size(ui::kAllColumns));
        switch (ch) {
        case KEY_UP:
        case 'k': sort_choice_ = (sort_choice_ + n - 1) % n; break;
        case KEY_DOWN:
        case 'j': sort_choice_ = (sort_choice_ + 1) % n; break;
        case '\n':
        case '\r':
        case KEY_ENTER:
            m_.sort_key = ui::kAllColumns[sort_choice_];
            mode_ = Mode::Normal;
            say(std::string("sorted by ") + ui::column_name(m_.sort_key) + "; I inverts");
            break;
        case 27:
        case 'q':
        case 's': mode_ = Mode::Normal; break;
        default: break;
        }
    }

    static bool is_backspace(int ch) { return ch == KEY_BACKSPACE || ch == 127 || ch == 8; }

    void on_filter_key(int ch) {
        if (ch == 27) {
            input_.clear();
            m_.filter.clear();
            mode_ = Mode::Normal;
        } else if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
            mode_ = Mode::Normal;
        } else if (is_backspace(ch)) {
            if (!input_.empty())
                input_.pop_back();
            m_.filter = input_;
        } else if (ch >= 32 && ch < 127 && input_.size() < 64) {
            input_ += static_cast<char>(ch);
            m_.filter = input_;
        }
    }

    void on_ttl_key(int ch) {
        if (ch == 27) {
            mode_ = Mode::Normal;
            say("block cancelled");
        } else if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
            ttl_s_.reset();
            ttl_text_ = "for the agent's default time";
            if (input_ == "0" || input_ == "never") {
                ttl_s_ = 0;
                ttl_text_ = "for good (no expiry)";
            } else if (!input_.empty()) {
                try {
                    ttl_s_ = static_cast<double>(parse_duration_ns(input_)) / 1e9;
                    ttl_text_ = "for " + ui::format_duration(*ttl_s_);
                } catch (const std::invalid_argument& e) {
                    mode_ = Mode::Normal;
                    say(std::string("not blocked: ") + e.what(), true);
                    return;
                }
            }
            mode_ = Mode::ConfirmBlock;
        } else if (is_backspace(ch)) {
            if (!input_.empty())
                input_.pop_back();
        } else if (ch >= 32 && ch < 127 && input_.size() < 32) {
            input_ += static_cast<char>(ch);
        }
    }

    void on_confirm_key(int ch) {
        const bool block = mode_ == Mode::ConfirmBlock;
        mode_ = Mode::Normal;
        if (ch != 'y' && ch != 'Y') {
            say(block ? "block cancelled" : "unblock cancelled");
            return;
        }
        try {
            if (block) {
                nlohmann::json req{{"cmd", "block"}, {"target", target_}};
                if (ttl_s_)
                    req["ttl_s"] = *ttl_s_;
                ask(o_.socket, req);
                say("blocked " + target_ + " " + ttl_text_);
            } else {
                ask(o_.socket, {{"cmd", "unblock"}, {"target", target_}});
                say("unblocked " + target_);
            }
        } catch (const std::exception& e) {
            say(std::string(block ? "block failed: " : "unblock failed: ") + e.what(), true);
        }
        next_sample_ = mono_s();  // show the new state now
        sample();
    }

    const TopOptions& o_;
    ui::TopModel& m_;
    ui::HeaderInfo& hi_;
    Terminal* t_ = nullptr;
    bool unicode_ = false;
    bool repaint_ = false;  // the next draw repaints the whole terminal
    Mode mode_ = Mode::Normal;
    ui::Cursor cursor_;
    std::vector<const SourceRow*> view_;
    size_t visible_ = 1;
    bool details_ = false;
    bool paused_ = false;
    bool quit_ = false;
    double next_sample_ = 0;
    int sort_choice_ = 0;
    std::string input_;
    std::string target_;
    std::optional<double> ttl_s_;
    std::string ttl_text_;
    std::string message_;
    bool message_error_ = false;
    double message_until_ = 0;
};

}  // namespace

int top_command(const TopOptions& o) {
    if (!(o.delay_s >= 0.1) || !std::isfinite(o.delay_s) || o.delay_s > 3600)
        throw UsageError("--delay must be between 0.1 and 3600 seconds");
    ui::TopModel model;
    if (!o.sort.empty()) {
        auto c = ui::column_from_name(o.sort);
        if (!c)
            throw UsageError("--sort: unknown column '" + o.sort +
                             "' (source, kinds, tool, ports, hosts, probes/s, failed%, first, last, state, score)");
        model.sort_key = *c;
    }
    model.inverted = o.invert;
    model.filter = o.filter;
    ui::HeaderInfo hi;
    hi.socket = o.socket;
    hi.delay_s = o.delay_s;

    const bool tty = isatty(STDOUT_FILENO) && isatty(STDIN_FILENO) && terminal_can_draw();
    if (o.once || o.json || !tty)
        return print_once(o, model, hi);

    // The first sample before the screen changes: no agent, one clear line.
    Fetched f = fetch(o.socket);
    model.ingest(mono_s(), f.sources, f.status, f.blocks);
    std::setlocale(LC_ALL, "");
    g_stop = 0;
    TopView view(o, model, hi);
    return view.run();
}

}  // namespace scanwatch
