// LMDB error mapping and kernel randomness for the store.
#include "store/bytes.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

namespace ec::store::detail {

Error lmdb_error(int rc, std::string_view what) {
    if (rc == MDB_MAP_FULL) {
        return make_error(507, "storage_full",
                          "storage is full (map_size reached) while trying to " +
                              std::string(what));
    }
    if (rc == ENOSPC || rc == EDQUOT || rc == EIO) {
        // The disk under the data dir is full (LMDB reports a short write as EIO) or failing.
        return make_error(507, "storage_full",
                          "cannot store: " + std::string(what) + ": " + mdb_strerror(rc));
    }
    return make_error(500, "storage_error", std::string(what) + ": " + mdb_strerror(rc));
}

namespace {

// Reads into buf[got, n) with read_some(p, len) until it is full, at an end, or at an error
// other than EINTR; returns how many bytes buf then holds.
template <class ReadSome>
size_t read_fully(unsigned char* buf, size_t n, size_t got, ReadSome read_some) {
    while (got < n) {
        ssize_t r = read_some(buf + got, n - got);
        if (r > 0) {
            got += static_cast<size_t>(r);
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else {
            break;
        }
    }
    return got;
}

} // namespace

bool random_bytes(void* buf, size_t n) {
    auto* p = static_cast<unsigned char*>(buf);
    size_t got =
        read_fully(p, n, 0, [](unsigned char* at, size_t len) { return getrandom(at, len, 0); });
    if (got == n) return true;
    int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    got =
        read_fully(p, n, got, [fd](unsigned char* at, size_t len) { return ::read(fd, at, len); });
    ::close(fd);
    return got == n;
}

} // namespace ec::store::detail
