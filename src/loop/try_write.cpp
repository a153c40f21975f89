// try_write: uv_try_write, then which buffers are left.
#include "loop/try_write.hpp"

#include <cstddef>

namespace ec::loop {

int try_write(uv_stream_t* s, uv_buf_t* bufs, unsigned n) {
    int rc = uv_try_write(s, bufs, n);
    if (rc == UV_EAGAIN || rc == UV_ENOSYS) return 0;
    if (rc < 0) return rc;
    auto written = static_cast<size_t>(rc);
    unsigned first = 0;
    while (first < n && written >= bufs[first].len)
        written -= bufs[first++].len;
    if (first < n) {
        bufs[first].base += written;
        bufs[first].len -= written;
    }
    return static_cast<int>(first);
}

} // namespace ec::loop
