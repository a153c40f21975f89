// try_write: a socket write without a libuv write request, for the bytes the socket takes now.
#pragma once

#include <uv.h>

namespace ec::loop {

// Writes what `s` accepts at once from bufs[0..n) and advances past it: returns the index of
// the first buffer with bytes left (n when everything went; that buffer's base and len are moved
// past its written part), or a negative libuv error. Nothing accepted (UV_EAGAIN) returns 0.
// Why not uv_write: a write request arms POLLOUT, and disarming it when the request completes
// costs an epoll_ctl per write; most responses and origin requests fit in the socket buffer.
int try_write(uv_stream_t* s, uv_buf_t* bufs, unsigned n);

} // namespace ec::loop
