// Certificate/key file reading with $CREDENTIALS_DIRECTORY lookup (start-up and reload only).
#include "tls/credentials.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

namespace ec::tls {

namespace {
constexpr size_t max_credential_bytes = 1 << 20;
}

std::string resolve_credential(std::string_view configured) {
    std::string path(configured);
    if (path.empty() || path[0] == '/') return path;
    const char* dir = std::getenv("CREDENTIALS_DIRECTORY");
    if (dir && *dir) {
        std::string candidate = std::string(dir) + "/" + path;
        if (::access(candidate.c_str(), F_OK) == 0) return candidate;
    }
    return path;
}

Result<std::string> read_credential(std::string_view configured, const char* what) {
    std::string path = resolve_credential(configured);
    auto fail = [&](const std::string& why) {
        return make_error(0, "tls_file", std::string(what) + " file \"" + path + "\": " + why);
    };
    if (path.empty()) return fail("no file name given");
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return fail("not a regular file");
    }
    if (static_cast<size_t>(st.st_size) > max_credential_bytes) {
        ::close(fd);
        return fail("larger than 1 MiB");
    }
    std::string out(static_cast<size_t>(st.st_size), '\0');
    size_t got = 0;
    while (got < out.size()) {
        ssize_t n = ::read(fd, out.data() + got, out.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int err = n < 0 ? errno : 0;
            OPENSSL_cleanse(out.data(), out.size());
            ::close(fd);
            return fail(err ? std::strerror(err) : "file shrank while being read");
        }
        got += static_cast<size_t>(n);
    }
    ::close(fd);
    if (out.empty()) return fail("empty file");
    return out;
}

SecretBytes::~SecretBytes() {
    if (!s_.empty()) OPENSSL_cleanse(s_.data(), s_.size());
}

} // namespace ec::tls
