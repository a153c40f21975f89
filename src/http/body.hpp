// Body: response bytes and who keeps them alive until the socket write completes.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace ec::http {

// Small bodies are copied into the connection's write buffer (one iovec with the head); larger
// ones are written from where they live: an owned string moved in, a refcounted buffer (the hot
// tier's entries), or static bytes. Nothing is copied for those.
class Body {
public:
    Body() = default;
    // Bytes that outlive every write (string literals, static tables).
    static Body static_bytes(std::string_view s) {
        Body b;
        b.view_ = s;
        return b;
    }
    // Bytes valid only during the call that passes them in: always copied.
    static Body copy(std::string_view s) {
        Body b;
        b.view_ = s;
        b.must_copy_ = true;
        return b;
    }
    static Body owned(std::string s) {
        Body b;
        b.owned_ = std::make_unique<std::string>(std::move(s));
        b.view_ = *b.owned_;
        return b;
    }
    // A slice of a shared immutable buffer; the buffer stays alive until the write completes.
    static Body shared(std::shared_ptr<const std::string> buf, std::string_view slice) {
        Body b;
        b.shared_ = std::move(buf);
        b.view_ = slice;
        return b;
    }
    static Body shared(std::shared_ptr<const std::string> buf) {
        std::string_view all = *buf;
        return shared(std::move(buf), all);
    }

    size_t size() const { return view_.size(); }
    bool empty() const { return view_.empty(); }
    std::string_view view() const { return view_; }
    bool must_copy() const { return must_copy_; }

    std::unique_ptr<std::string> take_owned() { return std::move(owned_); }
    std::shared_ptr<const std::string> take_shared() { return std::move(shared_); }

private:
    std::string_view view_;
    std::unique_ptr<std::string> owned_; // heap-held so view_ survives moves of the Body
    std::shared_ptr<const std::string> shared_;
    bool must_copy_ = false;
};

} // namespace ec::http
