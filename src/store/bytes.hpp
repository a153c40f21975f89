// Byte-level helpers shared by the store: integer codecs, MDB_val views, cursors, LMDB errors.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <lmdb.h>

#include "util/status.hpp"

namespace ec::store::detail {

inline void put_be32(std::string& out, uint32_t v) {
    char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                 static_cast<char>(v)};
    out.append(b, 4);
}

inline void put_be64(std::string& out, uint64_t v) {
    put_be32(out, static_cast<uint32_t>(v >> 32));
    put_be32(out, static_cast<uint32_t>(v));
}

inline uint64_t get_be64(const char* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
        v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

inline void put_le32(char* p, uint32_t v) {
    for (int i = 0; i < 4; ++i)
        p[i] = static_cast<char>(v >> (8 * i));
}
inline void put_le64(char* p, uint64_t v) {
    for (int i = 0; i < 8; ++i)
        p[i] = static_cast<char>(v >> (8 * i));
}
inline void put_le32(std::string& out, uint32_t v) {
    char b[4];
    put_le32(b, v);
    out.append(b, 4);
}

inline uint32_t get_le32(const char* p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i)
        v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}
inline uint64_t get_le64(const char* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
        v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
}

// An MDB_val viewing s; LMDB never writes through key/data pointers passed to it.
inline MDB_val mval(std::string_view s) {
    return MDB_val{s.size(), const_cast<char*>(s.data())};
}
inline std::string_view sv(const MDB_val& v) {
    return {static_cast<const char*>(v.mv_data), v.mv_size};
}

// Closes an opened LMDB cursor when a scan's scope ends, whichever return it takes.
class CursorCloser {
public:
    explicit CursorCloser(MDB_cursor* cursor) : cursor_(cursor) {}
    CursorCloser(const CursorCloser&) = delete;
    CursorCloser& operator=(const CursorCloser&) = delete;
    ~CursorCloser() { mdb_cursor_close(cursor_); }

private:
    MDB_cursor* cursor_;
};

// The 8-byte expiry-index key: big-endian so LMDB's byte order is time order.
inline std::string expiry_key(int64_t expires_at) {
    std::string k;
    put_be64(k, static_cast<uint64_t>(expires_at));
    return k;
}

// Maps an LMDB return code to an API error: MDB_MAP_FULL, ENOSPC, EDQUOT and EIO → 507
// storage_full, anything else → 500 storage_error with mdb_strerror's text. `what` names the
// operation ("put record").
Error lmdb_error(int rc, std::string_view what);

// Fills buf with n bytes from the kernel CSPRNG (getrandom, else /dev/urandom). False on failure.
bool random_bytes(void* buf, size_t n);

} // namespace ec::store::detail
