// Config file loading and the built-in defaults, both through the table-driven parser.
#include "config/loader.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/json_syntax.hpp"
#include "config/options.hpp"
#include "config/parse.hpp"

namespace ec::config {

using detail::Ctx;
using detail::error_at;

namespace {

template <class T> T build_defaults(std::span<const Option<T>> table) {
    T out{};
    for (const auto& o : table)
        detail::apply_default(o, out);
    return out;
}

} // namespace

const Config& defaults() {
    static const Config c = build_defaults(config_options());
    return c;
}

const OriginSpec& origin_defaults() {
    static const OriginSpec o = build_defaults(origin_options());
    return o;
}

const FleetSpec& fleet_defaults() {
    static const FleetSpec f = build_defaults(fleet_options());
    return f;
}

const RouteSpec& route_defaults() {
    static const RouteSpec r = build_defaults(route_options());
    return r;
}

const OriginTls& origin_tls_defaults() {
    static const OriginTls t = build_defaults(tls_origin_options());
    return t;
}

const ListenTls& listen_tls_defaults() {
    static const ListenTls t = build_defaults(tls_listen_options());
    return t;
}

Result<Config> load_json(std::string_view json, std::string_view source, Config base) {
    Ctx ctx{std::string(source)};
    simdjson::dom::parser parser;
    // Comments are allowed (the installed example is commented): blanked out, so positions in
    // errors stay those of the file.
    const std::string text = strip_json_comments(json);
    simdjson::padded_string padded(text);
    simdjson::dom::element root;
    if (auto err = parser.parse(padded).get(root)) {
        // simdjson says what kind of error, not where: find the spot to show the operator.
        auto at = find_json_syntax_error(text);
        if (!at)
            return error_at(ctx, "", std::string("invalid JSON: ") + simdjson::error_message(err));
        std::string where = std::string(source) + (source.empty() ? "" : ":") +
                            std::to_string(at->line) + ":" + std::to_string(at->column);
        return make_error(
            0, "config",
            where + ": invalid JSON: " + at->what +
                (at->found.empty() ? ", at the end of the file" : ", at: " + at->found));
    }
    if (!root.is_object())
        return error_at(ctx, "",
                        "expected a JSON object at the top level, got " + detail::describe(root));
    Status st = detail::parse_object(config_options(), root, base, ctx, "");
    if (!st) return st.error();
    st = detail::finish_config(base, ctx);
    if (!st) return st.error();
    return base;
}

Result<std::string> read_config_file(const std::string& path) {
    auto fail = [&](int err) {
        return make_error(0, "config", "cannot read " + path + ": " + std::strerror(err));
    };
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(errno);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
        int err = errno;
        ::close(fd);
        return fail(err);
    }
    if (S_ISDIR(st.st_mode)) {
        ::close(fd);
        return fail(EISDIR);
    }
    constexpr size_t limit = 16u << 20;
    std::string text;
    char buf[65536];
    while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            ::close(fd);
            return fail(err);
        }
        if (n == 0) break;
        text.append(buf, static_cast<size_t>(n));
        if (text.size() > limit) {
            ::close(fd);
            return make_error(0, "config", path + ": the file is larger than 16 MiB");
        }
    }
    ::close(fd);
    return text;
}

} // namespace ec::config
