// JsonWriter: appends compact JSON to a caller-owned std::string (simdjson parses; we write).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ec {

// Usage: JsonWriter w(out); w.begin_object(); w.key("a"); w.value(1); w.end_object();
// Commas are inserted automatically. Strings are escaped per RFC 8259; bytes that are not
// valid UTF-8 are written as U+FFFD so the output is always valid JSON.
class JsonWriter {
public:
    explicit JsonWriter(std::string& out) : out_(out) {}

    JsonWriter& begin_object();
    JsonWriter& end_object();
    JsonWriter& begin_array();
    JsonWriter& end_array();
    JsonWriter& key(std::string_view k);
    JsonWriter& value(std::string_view s);
    JsonWriter& value(const char* s) { return value(std::string_view(s)); }
    JsonWriter& value(bool b);
    JsonWriter& value(int64_t n);
    JsonWriter& value(uint64_t n);
    JsonWriter& value(int n) { return value(static_cast<int64_t>(n)); }
    JsonWriter& value(unsigned n) { return value(static_cast<uint64_t>(n)); }
    JsonWriter& value(long long n) { return value(static_cast<int64_t>(n)); }
    JsonWriter& value(unsigned long long n) { return value(static_cast<uint64_t>(n)); }
    JsonWriter& value(double d);
    JsonWriter& null();
    // Inserts already-serialised JSON (e.g. stored metadata) as one value.
    JsonWriter& raw(std::string_view json);

    // key(k).value(v) in one call.
    template <class T> JsonWriter& field(std::string_view k, T&& v) {
        key(k);
        return value(std::forward<T>(v));
    }

    std::string& out() { return out_; }

private:
    void sep();

    std::string& out_;
    bool need_comma_ = false;
};

// Appends `s` to `out` as a quoted, escaped JSON string.
void json_escape(std::string& out, std::string_view s);

} // namespace ec
