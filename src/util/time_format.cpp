// ISO 8601 and HTTP-date formatting and parsing, without locale or timezone state.
#include "util/time_format.hpp"

#include <cstdio>
#include <cstring>
#include <ctime>

#include "util/strings.hpp"

namespace ec {

namespace {
const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Days from 1970-01-01 to y-m-d (proleptic Gregorian), Howard Hinnant's algorithm.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

int month_index(std::string_view m) {
    for (int i = 0; i < 12; ++i)
        if (iequals(m, kMonths[i])) return i;
    return -1;
}

bool parse_num(std::string_view s, int* out) {
    auto v = parse_u64(s);
    if (!v || *v > 100000) return false;
    *out = static_cast<int>(*v);
    return true;
}

bool parse_hms(std::string_view s, int* h, int* mi, int* se) {
    if (s.size() != 8 || s[2] != ':' || s[5] != ':') return false;
    return parse_num(s.substr(0, 2), h) && parse_num(s.substr(3, 2), mi) &&
           parse_num(s.substr(6, 2), se) && *h < 24 && *mi < 60 && *se <= 60;
}

std::optional<int64_t> to_unix(int y, int mon, int d, int h, int mi, int se) {
    if (mon < 0 || mon > 11 || d < 1 || d > 31) return std::nullopt;
    return days_from_civil(y, static_cast<unsigned>(mon + 1), static_cast<unsigned>(d)) * 86400 +
           h * 3600 + mi * 60 + se;
}

int current_year() {
    time_t now = std::time(nullptr);
    tm t;
    gmtime_r(&now, &t);
    return t.tm_year + 1900;
}
} // namespace

int rfc850_full_year(int yy, int current_year) {
    int y = current_year - current_year % 100 + yy;
    if (y > current_year + 50) return y - 100;
    return y <= current_year - 50 ? y + 100 : y;
}

std::string iso8601_ms(int64_t unix_ms) {
    time_t s = static_cast<time_t>(unix_ms / 1000);
    tm t;
    gmtime_r(&s, &t);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900,
                  t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                  static_cast<int>(unix_ms % 1000));
    return buf;
}

void append_http_date(std::string& out, int64_t unix_s) {
    time_t s = static_cast<time_t>(unix_s);
    tm t;
    gmtime_r(&s, &t);
    char buf[96];
    int n = std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[t.tm_wday],
                          t.tm_mday, kMonths[t.tm_mon], t.tm_year + 1900, t.tm_hour, t.tm_min,
                          t.tm_sec);
    out.append(buf, static_cast<size_t>(n));
}

std::optional<int64_t> parse_http_date(std::string_view s) {
    s = trim_ows(s);
    int d, y, h, mi, se;
    size_t comma = s.find(',');
    if (comma != std::string_view::npos) {
        std::string_view rest = trim_ows(s.substr(comma + 1));
        if (rest.size() == 24 && rest[2] == ' ' && rest[6] == ' ' && rest[11] == ' ' &&
            rest[20] == ' ' && rest.substr(21) == "GMT") {
            // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
            int mon = month_index(rest.substr(3, 3));
            if (!parse_num(rest.substr(0, 2), &d) || !parse_num(rest.substr(7, 4), &y) ||
                !parse_hms(rest.substr(12, 8), &h, &mi, &se))
                return std::nullopt;
            return to_unix(y, mon, d, h, mi, se);
        }
        if (rest.size() == 22 && rest[2] == '-' && rest[6] == '-' && rest[9] == ' ' &&
            rest[18] == ' ' && rest.substr(19) == "GMT") {
            // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"; two-digit years per RFC 9110 §5.6.7.
            int mon = month_index(rest.substr(3, 3));
            if (!parse_num(rest.substr(0, 2), &d) || !parse_num(rest.substr(7, 2), &y) ||
                !parse_hms(rest.substr(10, 8), &h, &mi, &se))
                return std::nullopt;
            y = rfc850_full_year(y, current_year());
            return to_unix(y, mon, d, h, mi, se);
        }
        return std::nullopt;
    }
    // asctime: "Sun Nov  6 08:49:37 1994"
    if (s.size() == 24 && s[3] == ' ' && s[7] == ' ' && s[10] == ' ' && s[19] == ' ') {
        int mon = month_index(s.substr(4, 3));
        std::string_view day = trim_ows(s.substr(8, 2));
        if (!parse_num(day, &d) || !parse_hms(s.substr(11, 8), &h, &mi, &se) ||
            !parse_num(s.substr(20, 4), &y))
            return std::nullopt;
        return to_unix(y, mon, d, h, mi, se);
    }
    return std::nullopt;
}

} // namespace ec
