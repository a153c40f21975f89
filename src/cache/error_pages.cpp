// ErrorPages: loading the per-status page files of the error_pages directory.
#include "cache/error_pages.hpp"

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace ec::cache {

namespace {

constexpr size_t kMaxPage = 1 << 20;

// "text/html; charset=utf-8" for "502.html"; "" when the name is not <3 digits>.<known ext>.
std::string page_type(std::string_view name) {
    if (name.size() < 5 || name[3] != '.') return "";
    for (size_t i = 0; i < 3; ++i)
        if (name[i] < '0' || name[i] > '9') return "";
    std::string_view ext = name.substr(4);
    if (ext == "html") return "text/html; charset=utf-8";
    if (ext == "json") return "application/json";
    if (ext == "txt") return "text/plain; charset=utf-8";
    return "";
}

Error page_error(const std::string& what) {
    return make_error(0, "error_pages", "error_pages: " + what);
}

// The whole file at `path`: a regular file of at most kMaxPage bytes.
Result<std::string> read_page(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return page_error("cannot read " + path + ": " + std::strerror(errno));
    struct stat st;
    std::string body;
    std::string why;
    if (::fstat(fd, &st) != 0)
        why = std::strerror(errno);
    else if (!S_ISREG(st.st_mode))
        why = "not a regular file";
    else if (static_cast<uint64_t>(st.st_size) > kMaxPage)
        why = "larger than 1 MiB";
    char buf[16384];
    while (why.empty()) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) why = std::strerror(errno);
        if (n <= 0) break;
        body.append(buf, static_cast<size_t>(n));
        if (body.size() > kMaxPage) why = "larger than 1 MiB";
    }
    ::close(fd);
    if (!why.empty()) return page_error("cannot read " + path + ": " + why);
    return body;
}

} // namespace

Result<ErrorPages> load_error_pages(const std::string& dir) {
    ErrorPages pages;
    if (dir.empty()) return pages;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return page_error("cannot read " + dir + ": " + std::strerror(errno));
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d))
        names.emplace_back(e->d_name);
    ::closedir(d);
    for (const std::string& name : names) {
        std::string type = page_type(name);
        if (type.empty()) continue;
        int status = std::stoi(name.substr(0, 3));
        std::string path = dir + "/" + name;
        if (status != 502 && status != 503 && status != 504)
            return page_error(path + ": only 502, 503 and 504 pages are used");
        if (pages.count(status))
            return page_error(path + ": a second page for " + std::to_string(status));
        auto body = read_page(path);
        if (!body) return body.error();
        pages[status] = ErrorPage{type, std::make_shared<const std::string>(std::move(*body))};
    }
    return pages;
}

} // namespace ec::cache
