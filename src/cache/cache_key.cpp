// Cache keys: query normalisation and the key layout.
#include "cache/cache_key.hpp"

#include <algorithm>

#include "util/percent.hpp"
#include "util/strings.hpp"

namespace ec::cache {

namespace {
bool ignored(std::string_view name, const std::vector<std::string>& ignore) {
    for (const std::string& pat : ignore) {
        if (!pat.empty() && pat.back() == '*') {
            std::string_view stem(pat.data(), pat.size() - 1);
            if (name.substr(0, stem.size()) == stem) return true;
        } else if (name == pat) {
            return true;
        }
    }
    return false;
}
} // namespace

std::string normalize_query(std::string_view query, const std::vector<std::string>& ignore) {
    struct Param {
        std::string_view name, pair;
    };
    std::vector<Param> params;
    for (size_t start = 0; start <= query.size();) {
        size_t amp = query.find('&', start);
        if (amp == std::string_view::npos) amp = query.size();
        std::string_view pair = query.substr(start, amp - start);
        start = amp + 1;
        if (pair.empty()) continue;
        std::string_view name = pair.substr(0, pair.find('='));
        if (!ignored(name, ignore)) params.push_back(Param{name, pair});
    }
    std::stable_sort(params.begin(), params.end(),
                     [](const Param& a, const Param& b) { return a.name < b.name; });
    std::string out;
    out.reserve(query.size());
    for (const Param& p : params) {
        if (!out.empty()) out.push_back('&');
        out.append(p.pair);
    }
    return out;
}

std::string normalize_host(std::string_view host) {
    std::string h = to_lower(host);
    if (h.size() > 3 && h.compare(h.size() - 3, 3, ":80") == 0) h.resize(h.size() - 3);
    return h;
}

std::string base_key(std::string_view path, std::string_view normalized_query,
                     std::string_view host) {
    std::string k;
    k.reserve(1 + path.size() + 1 + normalized_query.size() + host.size() + 2);
    k.push_back(kCachePrefix);
    k.append(path);
    if (!normalized_query.empty()) {
        k.push_back('?');
        k.append(normalized_query);
    }
    k.push_back('\0');
    k.append(host);
    k.push_back('\0');
    return k;
}

std::string request_key(std::string_view host, std::string_view path, std::string_view query,
                        const std::vector<std::string>& ignore_query_params) {
    return base_key(path, normalize_query(query, ignore_query_params), normalize_host(host));
}

std::string request_url(std::string_view path, std::string_view query,
                        const std::vector<std::string>& ignore_query_params) {
    std::string url(path);
    std::string q = normalize_query(query, ignore_query_params);
    if (!q.empty()) url.append("?").append(q);
    return url;
}

std::pair<std::string_view, std::string_view> split_target(std::string_view target) {
    size_t q = target.find('?');
    if (q == std::string_view::npos) return {target, {}};
    return {target.substr(0, q), target.substr(q + 1)};
}

std::string url_range(std::string_view path_and_query) {
    std::string k(1, kCachePrefix);
    k.append(path_and_query);
    k.push_back('\0');
    return k;
}

std::string prefix_range(std::string_view path_prefix) {
    std::string k(1, kCachePrefix);
    k.append(path_prefix);
    return k;
}

std::string_view key_url(std::string_view key) {
    if (key.empty() || key[0] != kCachePrefix) return {};
    key.remove_prefix(1);
    return key.substr(0, key.find('\0'));
}

std::string_view key_host(std::string_view key) {
    size_t a = key.find('\0');
    if (a == std::string_view::npos) return {};
    size_t b = key.find('\0', a + 1);
    return key.substr(a + 1, b == std::string_view::npos ? std::string_view::npos : b - a - 1);
}

std::string_view key_base(std::string_view key) {
    size_t a = key.find('\0');
    if (a == std::string_view::npos) return key;
    size_t b = key.find('\0', a + 1);
    return b == std::string_view::npos ? key : key.substr(0, b + 1);
}

} // namespace ec::cache
