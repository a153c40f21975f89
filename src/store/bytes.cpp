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

bool random_bytes(void* buf, size_t n) {
    auto* p = static_cast<unsigned char*>(buf);
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r > 0) {
            got += static_cast<size_t>(r);
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else {
            break;
        }
    }
    if (got == n) return true;
    int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    while (got < n) {
        ssize_t r = ::read(fd, p + got, n - got);
        if (r > 0) {
            got += static_cast<size_t>(r);
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else {
            break;
        }
    }
    ::close(fd);
    return got == n;
}

} // namespace ec::store::detail
