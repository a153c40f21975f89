// Entry: the cache's record payload codec.
#include "cache/entry.hpp"

#include <cstring>

#include "cache/tags.hpp"

namespace ec::cache {

namespace {

constexpr uint8_t kVersion = 1;

enum Flag : uint8_t {
    kShareable = 1,
    kStorable = 2,
    kRevalidateEachUse = 4,
    kStaleForbidden = 8,
    kImmutable = 16,
    kHasValidator = 32,
};

void put16(std::string& o, uint16_t v) {
    o.push_back(static_cast<char>(v & 0xff));
    o.push_back(static_cast<char>(v >> 8));
}
void put32(std::string& o, uint32_t v) {
    for (int i = 0; i < 4; ++i)
        o.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put64(std::string& o, int64_t v) {
    auto u = static_cast<uint64_t>(v);
    for (int i = 0; i < 8; ++i)
        o.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
}

// A bounds-checked reader over a payload.
struct Reader {
    std::string_view s;
    bool ok = true;
    uint64_t get(size_t n) {
        if (s.size() < n) {
            ok = false;
            return 0;
        }
        uint64_t v = 0;
        for (size_t i = 0; i < n; ++i)
            v |= static_cast<uint64_t>(static_cast<unsigned char>(s[i])) << (8 * i);
        s.remove_prefix(n);
        return v;
    }
    std::string_view bytes(size_t n) {
        if (s.size() < n) {
            ok = false;
            return {};
        }
        std::string_view v = s.substr(0, n);
        s.remove_prefix(n);
        return v;
    }
};

bool skip_field(std::string_view name) {
    return is_unstorable(name) || iequals(name, "content-length") || iequals(name, "age") ||
           is_tag_field(name);
}

// The part 'R' and 'P' payloads share: kind, version, status, freshness, tags, header block.
void encode_head(std::string& o, Entry::Kind kind, int status, const Freshness& f,
                 std::span<const std::string> tags, std::string_view header_block) {
    o.push_back(static_cast<char>(kind));
    o.push_back(static_cast<char>(kVersion));
    put16(o, static_cast<uint16_t>(status));
    uint8_t flags = (f.shareable ? kShareable : 0) | (f.storable ? kStorable : 0) |
                    (f.revalidate_each_use ? kRevalidateEachUse : 0) |
                    (f.stale_forbidden ? kStaleForbidden : 0) | (f.immutable ? kImmutable : 0) |
                    (f.has_validator ? kHasValidator : 0);
    o.push_back(static_cast<char>(flags));
    o.push_back(static_cast<char>(f.source));
    for (int64_t v : {f.lifetime, f.swr, f.sie, f.keep, f.request_time, f.response_time,
                      f.corrected_initial_age})
        put64(o, v);
    put16(o, static_cast<uint16_t>(std::min<size_t>(tags.size(), 0xffff)));
    for (size_t i = 0; i < tags.size() && i < 0xffff; ++i) {
        put16(o, static_cast<uint16_t>(std::min<size_t>(tags[i].size(), 0xffff)));
        o.append(tags[i].substr(0, 0xffff));
    }
    put32(o, static_cast<uint32_t>(header_block.size()));
    o.append(header_block);
}

} // namespace

std::string Entry::encode_response(int status, const Freshness& f,
                                   std::span<const std::string> tags, std::string_view header_block,
                                   std::string_view body) {
    std::string o;
    o.reserve(80 + header_block.size() + body.size());
    encode_head(o, Kind::response, status, f, tags, header_block);
    o.append(body);
    return o;
}

std::string Entry::encode_partial(const Freshness& f, std::span<const std::string> tags,
                                  std::string_view header_block, uint64_t length,
                                  std::span<const ByteSpan> spans, std::string_view body) {
    std::string o;
    o.reserve(92 + header_block.size() + 16 * spans.size() + body.size());
    encode_head(o, Kind::partial, 206, f, tags, header_block);
    put64(o, static_cast<int64_t>(length));
    put32(o, static_cast<uint32_t>(spans.size()));
    for (const ByteSpan& s : spans) {
        put64(o, static_cast<int64_t>(s.first));
        put64(o, static_cast<int64_t>(s.size));
    }
    o.append(body);
    return o;
}

std::string Entry::encode_vary(std::span<const std::string> names) {
    std::string o;
    o.push_back(static_cast<char>(Kind::vary));
    o.push_back(static_cast<char>(kVersion));
    put16(o, static_cast<uint16_t>(names.size()));
    for (const std::string& n : names) {
        put16(o, static_cast<uint16_t>(n.size()));
        o.append(n);
    }
    return o;
}

std::string Entry::header_block(const FieldList& fields, std::span<const std::string> leave_out) {
    std::string block;
    for (const Field& f : fields) {
        if (skip_field(f.name)) continue;
        bool left_out = false;
        for (const std::string& name : leave_out)
            left_out = left_out || iequals(f.name, name);
        if (left_out) continue;
        block.append(f.name);
        block.append(": ");
        block.append(f.value);
        block.append("\r\n");
    }
    return block;
}

namespace {

// A part set's length and spans, checked: sorted, disjoint, not adjacent, non-empty, inside
// the length, and summing to the bytes that follow.
bool decode_spans(Reader& r, uint64_t& length, std::vector<ByteSpan>& spans) {
    length = r.get(8);
    size_t n = r.get(4);
    if (!r.ok || n == 0 || n > r.s.size() / 16) return false;
    uint64_t held = 0, next_first = 0;
    for (size_t i = 0; i < n; ++i) {
        ByteSpan s{r.get(8), r.get(8)};
        if (s.size == 0 || s.first < next_first || s.size > length || s.first > length - s.size)
            return false;
        spans.push_back(s);
        held += s.size;
        next_first = s.end() + 1; // the next span starts past a gap
    }
    return r.ok && held == r.s.size();
}

} // namespace

std::shared_ptr<const Entry> Entry::decode(std::string payload) {
    auto e = std::make_shared<Entry>();
    e->blob_ = std::make_shared<const std::string>(std::move(payload));
    Reader r{*e->blob_};
    auto kind = static_cast<uint8_t>(r.get(1));
    if (r.get(1) != kVersion) return nullptr;
    if (kind == static_cast<uint8_t>(Kind::vary)) {
        e->kind_ = Kind::vary;
        size_t n = r.get(2);
        for (size_t i = 0; i < n && r.ok; ++i)
            e->vary_.push_back(r.bytes(r.get(2)));
        return r.ok ? e : nullptr;
    }
    if (kind == static_cast<uint8_t>(Kind::partial))
        e->kind_ = Kind::partial;
    else if (kind != static_cast<uint8_t>(Kind::response))
        return nullptr;
    e->status_ = static_cast<int>(r.get(2));
    auto flags = static_cast<uint8_t>(r.get(1));
    Freshness& f = e->fresh_;
    f.shareable = flags & kShareable;
    f.storable = flags & kStorable;
    f.revalidate_each_use = flags & kRevalidateEachUse;
    f.stale_forbidden = flags & kStaleForbidden;
    f.immutable = flags & kImmutable;
    f.has_validator = flags & kHasValidator;
    f.source = static_cast<LifetimeSource>(r.get(1));
    for (int64_t* v : {&f.lifetime, &f.swr, &f.sie, &f.keep, &f.request_time, &f.response_time,
                       &f.corrected_initial_age})
        *v = static_cast<int64_t>(r.get(8));
    size_t ntags = r.get(2);
    for (size_t i = 0; i < ntags && r.ok; ++i)
        e->tags_.push_back(r.bytes(r.get(2)));
    e->headers_ = r.bytes(r.get(4));
    if (e->is_partial() && !decode_spans(r, e->length_, e->spans_)) return nullptr;
    e->body_ = r.s;
    return r.ok ? e : nullptr;
}

std::optional<std::string_view> Entry::header(std::string_view name) const {
    std::optional<std::string_view> found;
    for_each_block_field(headers_, [&](std::string_view n, std::string_view v) {
        if (!found && iequals(n, name)) found = v;
    });
    return found;
}

FieldList Entry::fields() const {
    FieldList out;
    for_each_block_field(headers_, [&](std::string_view n, std::string_view v) {
        out.push_back(Field{std::string(n), std::string(v)});
    });
    return out;
}

size_t Entry::charge() const {
    return sizeof(Entry) + blob_->capacity() + 32 +
           (tags_.capacity() + vary_.capacity()) * sizeof(std::string_view) +
           spans_.capacity() * sizeof(ByteSpan);
}

} // namespace ec::cache
