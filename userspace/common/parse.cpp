#include "scanwatch/parse.hpp"

#include <cctype>
#include <stdexcept>
#include <string>

namespace scanwatch {

std::string quote_input(std::string_view text) {
    constexpr size_t kMax = 80;
    std::string out = "'";
    for (size_t i = 0; i < text.size() && i < kMax; i++) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
            out.push_back(static_cast<char>(c));
        } else {
            static const char hex[] = "0123456789abcdef";
            out += "\\x";
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    if (text.size() > kMax)
        out += "...";
    out += "'";
    return out;
}

void check_list_word(std::string_view w) {
    if (w.empty())
        throw std::invalid_argument("an empty word (a list is WORD,WORD,...)");
    for (char ch : w) {
        auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c >= 0x7f)
            throw std::invalid_argument(quote_input(w) + " holds a byte that is not printable ASCII");
        if (c == ',')
            throw std::invalid_argument(quote_input(w) + ": a word cannot hold a comma");
    }
    if (w.front() == ' ' || w.back() == ' ')
        throw std::invalid_argument(quote_input(w) + " starts or ends with a space");
}

uint64_t parse_duration_ns(std::string_view text) {
    auto bad = [&](const char* why) {
        return std::invalid_argument(quote_input(text) + " is not a duration (" + why +
                                     "; e.g. 90, 30s, 10m, 1h30m, 2d)");
    };
    if (text.empty())
        throw bad("empty");
    long double total = 0;
    size_t i = 0;
    bool any = false;
    while (i < text.size()) {
        size_t start = i;
        bool dot = false;
        while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || (text[i] == '.' && !dot))) {
            dot |= text[i] == '.';
            i++;
        }
        if (i == start || (i == start + 1 && text[start] == '.'))
            throw bad("expected a number");
        long double v;
        try {
            v = std::stold(std::string(text.substr(start, i - start)));
        } catch (const std::out_of_range&) {
            throw bad("too long");
        }
        long double unit = 1e9L;  // bare number: seconds
        if (i < text.size()) {
            std::string u;
            while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i])))
                u.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(text[i++]))));
            if (u == "ms")
                unit = 1e6L;
            else if (u == "s")
                unit = 1e9L;
            else if (u == "m")
                unit = 60e9L;
            else if (u == "h")
                unit = 3600e9L;
            else if (u == "d")
                unit = 86400e9L;
            else if (!u.empty() || i < text.size())
                throw bad("unknown unit");
        } else if (any) {
            throw bad("a unit is needed after the first part");
        }
        total += v * unit;
        any = true;
    }
    if (total <= 0)
        throw bad("must be positive");
    if (total > 3.2e18L)
        throw bad("too long");
    auto ns = static_cast<uint64_t>(total);
    if (ns == 0)  // "0.0000000001": positive, but 0 ns would mean "never expires" as a TTL
        throw bad("shorter than 1 ns");
    return ns;
}

}  // namespace scanwatch
