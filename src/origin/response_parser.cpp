// ResponseParser: llhttp response-mode callbacks, header validation, body spans, EOF handling.
#include "origin/response_parser.hpp"

#include <algorithm>

#include "http/llhttp_callbacks.hpp"
#include "util/strings.hpp"

namespace ec::origin {

namespace {
constexpr int kMaxInterim = 8;
constexpr size_t kHeaderOverhead = 4; // ": " and CRLF, so many empty headers still count
} // namespace

ResponseParser::ResponseParser(size_t max_head_bytes) : max_head_(max_head_bytes) {
    llhttp_init(&parser_, HTTP_RESPONSE, &settings());
    parser_.data = this;
}

const llhttp_settings_t& ResponseParser::settings() {
    static const llhttp_settings_t s = [] {
        using http::llhttp_data;
        using http::llhttp_event;
        llhttp_settings_t st;
        llhttp_settings_init(&st);
        st.on_message_begin = llhttp_event<&ResponseParser::on_message_begin>;
        st.on_status = llhttp_data<&ResponseParser::on_status>;
        st.on_header_field = llhttp_data<&ResponseParser::on_header_field>;
        st.on_header_value = llhttp_data<&ResponseParser::on_header_value>;
        st.on_header_value_complete = llhttp_event<&ResponseParser::on_header_value_complete>;
        st.on_headers_complete = llhttp_event<&ResponseParser::on_headers_complete>;
        st.on_body = llhttp_data<&ResponseParser::on_body>;
        st.on_message_complete = llhttp_event<&ResponseParser::on_message_complete>;
        st.on_chunk_header = llhttp_event<&ResponseParser::on_chunk_header>;
        st.on_chunk_complete = llhttp_event<&ResponseParser::on_chunk_complete>;
        return st;
    }();
    return s;
}

void ResponseParser::reset(bool head_request) {
    llhttp_reset(&parser_);
    head_request_ = head_request;
    base_pos_ = 0;
    cur_ = nullptr;
    bytes_seen_ = in_trailers_ = head_done_ = head_taken_ = complete_ = false;
    keep_alive_ = skipped_body_ = false;
    interim_ = 0;
    head_bytes_ = 0;
    part_ = Part::none;
    value_started_ = false;
    value_end_ = 0;
    field_end_ = 0;
    awaiting_value_ = gap_lf_ = false;
    head_ = ResponseHead{};
    interim_heads_.clear();
    body_.clear();
    fail_ = Fail::none;
    message_.clear();
    framing_.reset();
}

size_t ResponseParser::feed(const char* data, size_t len) {
    if (fail_ != Fail::none || complete_ || len == 0) return 0;
    bytes_seen_ = true;
    cur_ = data;
    framing_.buffer(data, len);
    llhttp_errno_t err = llhttp_execute(&parser_, data, len);
    size_t used = len;
    if (err == HPE_PAUSED) {
        // Paused by on_message_complete: the response ended inside this buffer.
        used = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data);
        framing_.consumed(data, used);
        if (!framing_.message_end()) {
            complete_ = false;
            fail(Fail::malformed, framing_.problem());
        }
    } else if (err != HPE_OK) {
        if (fail_ == Fail::none) {
            const char* why = llhttp_get_error_reason(&parser_);
            fail(Fail::malformed, why ? why : llhttp_errno_name(err));
        }
        const char* at = llhttp_get_error_pos(&parser_);
        used = at ? static_cast<size_t>(at - data) : 0;
    }
    if (awaiting_value_ && fail_ == Fail::none) gap_lf_ = gap_lf_ || gap_has_lf(base_pos_ + used);
    if (err != HPE_PAUSED) framing_.consumed(data, used);
    base_pos_ += used;
    cur_ = nullptr;
    return used;
}

void ResponseParser::finish() {
    if (complete_ || fail_ != Fail::none) return;
    if (!bytes_seen_) {
        fail(Fail::closed_early, "connection closed before any response byte");
        return;
    }
    llhttp_errno_t err = llhttp_finish(&parser_); // completes a close-delimited body
    if (complete_) return;
    if (head_done_)
        fail(Fail::truncated, "connection closed before the end of the body");
    else
        fail(Fail::closed_early, err == HPE_OK ? "connection closed after an interim response"
                                               : "connection closed inside the response head");
}

ResponseHead ResponseParser::take_head() {
    head_taken_ = true;
    return std::move(head_);
}

// True when the bytes of the current buffer from the end of the field name up to `until` (a
// stream position) hold a line feed.
bool ResponseParser::gap_has_lf(uint64_t until) const {
    uint64_t from = std::max(field_end_, base_pos_);
    for (uint64_t p = from; p < until; ++p)
        if (cur_[p - base_pos_] == '\n') return true;
    return false;
}

int ResponseParser::fail(Fail f, const char* message) {
    if (fail_ == Fail::none) {
        fail_ = f;
        message_ = message;
    }
    return -1;
}

bool ResponseParser::count_head(size_t n) {
    head_bytes_ += n;
    return head_bytes_ <= max_head_;
}

int ResponseParser::on_message_begin() {
    // A new message: the first one, or the final response after an interim 1xx.
    head_.headers.clear();
    head_.transfer_coding.clear();
    part_ = Part::none;
    value_started_ = false;
    in_trailers_ = false;
    return 0;
}

int ResponseParser::on_status(const char*, size_t len) {
    if (!count_head(len)) return fail(Fail::too_large, "response header section is too large");
    return 0;
}

int ResponseParser::on_header_field(const char* at, size_t len) {
    if (!count_head(len))
        return fail(Fail::too_large, in_trailers_ ? "response trailer section is too large"
                                                  : "response header section is too large");
    if (in_trailers_) { // trailers are counted, not kept
        framing_.trailer_field();
        return 0;
    }
    if (part_ != Part::field) {
        head_.headers.emplace_back();
        part_ = Part::field;
        value_started_ = false;
    }
    head_.headers.back().name.append(at, len);
    field_end_ = pos(at) + len;
    awaiting_value_ = true;
    gap_lf_ = false;
    return 0;
}

int ResponseParser::on_header_value(const char* at, size_t len) {
    if (!count_head(len))
        return fail(Fail::too_large, in_trailers_ ? "response trailer section is too large"
                                                  : "response header section is too large");
    if (in_trailers_) {
        if (len && !framing_.trailer_value(at, len))
            return fail(Fail::malformed, framing_.problem());
        return 0;
    }
    part_ = Part::value;
    uint64_t p = pos(at);
    if (awaiting_value_ && len > 0) {
        // (llhttp reports a legitimately empty value as a zero-length piece at the start of the
        // next line, so only pieces with content are checked.)
        awaiting_value_ = false;
        if (gap_lf_ || gap_has_lf(p))
            return fail(Fail::malformed, "obsolete line folding in a response header");
    }
    if (value_started_ && p != value_end_)
        return fail(Fail::malformed, "obsolete line folding in a response header");
    value_started_ = true;
    value_end_ = p + len;
    head_.headers.back().value.append(at, len);
    return 0;
}

int ResponseParser::on_header_value_complete() {
    if (!count_head(kHeaderOverhead))
        return fail(Fail::too_large, "response header section is too large");
    if (!in_trailers_ && !head_.headers.empty()) {
        std::string& v = head_.headers.back().value;
        std::string_view t = trim_ows(v);
        if (t.size() != v.size()) v = std::string(t);
    }
    part_ = Part::none;
    value_started_ = false;
    awaiting_value_ = false;
    return 0;
}

int ResponseParser::on_headers_complete() {
    if (llhttp_get_http_major(&parser_) != 1 || llhttp_get_http_minor(&parser_) > 1)
        return fail(Fail::malformed, "response is not HTTP/1.0 or HTTP/1.1");
    int status = llhttp_get_status_code(&parser_);
    if (status < 100 || status > 599) return fail(Fail::malformed, "invalid response status code");
    if (status == 101) return fail(Fail::malformed, "unexpected 101 Switching Protocols");
    int content_lengths = 0, transfer_encodings = 0;
    for (const Header& h : head_.headers) {
        if (!is_token(h.name)) return fail(Fail::malformed, "invalid response header name");
        if (iequals(h.name, "content-length")) {
            ++content_lengths;
        } else if (iequals(h.name, "transfer-encoding")) {
            ++transfer_encodings;
            if (!read_transfer_codings(h.value))
                return fail(Fail::malformed, "invalid Transfer-Encoding in response");
        }
    }
    if (content_lengths > 1) return fail(Fail::malformed, "more than one Content-Length");
    if (transfer_encodings > 1) return fail(Fail::malformed, "more than one Transfer-Encoding");
    if (content_lengths && transfer_encodings)
        return fail(Fail::malformed, "Content-Length with Transfer-Encoding");

    if (status < 200) {
        // Interim response (100 Continue, 103 Early Hints): kept for the caller to relay; it
        // has no body whatever it claims.
        if (++interim_ > kMaxInterim) return fail(Fail::malformed, "too many interim responses");
        interim_heads_.push_back(InterimHead{status, std::move(head_.headers)});
        head_.headers.clear();
        head_bytes_ = 0;
        return 1;
    }
    head_done_ = true;
    in_trailers_ = true; // header callbacks from here on are chunked trailers
    head_bytes_ = 0;     // trailers get a budget of their own
    head_.status = status;
    head_.version_minor = llhttp_get_http_minor(&parser_);
    head_.chunked = (parser_.flags & F_CHUNKED) != 0;
    if (parser_.flags & F_CONTENT_LENGTH) head_.content_length = parser_.content_length;
    if (head_request_ || status == 204 || status == 304) {
        head_.transfer_coding.clear(); // no body for a coding to be on
        // No body whatever the headers say (RFC 9112 §6.3); llhttp would otherwise wait for it.
        skipped_body_ = head_.chunked || (head_.content_length && *head_.content_length > 0);
        return 1;
    }
    return 0;
}

// RFC 9112 §6.1, §6.3: the codings are applied in the order listed; a final `chunked` is the
// framing (llhttp removes it), any other final coding means the body runs to the connection's
// close (llhttp reads it so). What is left besides `identity` stays on the body.
bool ResponseParser::read_transfer_codings(std::string_view value) {
    head_.transfer_coding.clear();
    std::vector<std::string_view> codings;
    bool valid = true;
    for_each_list_item(value, [&](std::string_view item) {
        std::string_view coding = trim_ows(item.substr(0, item.find(';')));
        if (!is_token(coding)) valid = false;
        codings.push_back(coding);
    });
    if (!valid || codings.empty()) return false;
    if (iequals(codings.back(), "chunked")) codings.pop_back();
    for (std::string_view c : codings) {
        if (iequals(c, "chunked")) return false; // chunked twice, or not last (RFC 9112 §6.1)
        if (iequals(c, "identity")) continue;
        if (!head_.transfer_coding.empty()) head_.transfer_coding += ", ";
        head_.transfer_coding += c;
    }
    return true;
}

int ResponseParser::on_body(const char* at, size_t len) {
    if ((parser_.flags & F_CHUNKED) && !framing_.body(parser_, at, len))
        return fail(Fail::malformed, framing_.problem());
    if (len) body_.push_back(Span{at, len});
    return 0;
}

int ResponseParser::on_chunk_header() {
    framing_.chunk_header();
    return 0;
}

int ResponseParser::on_chunk_complete() {
    if (framing_.chunk_complete()) return 0;
    return fail(Fail::malformed, framing_.problem());
}

int ResponseParser::on_message_complete() {
    if (!head_done_) return 0; // end of an interim response: parse on to the final one
    complete_ = true;
    keep_alive_ = llhttp_should_keep_alive(&parser_) != 0;
    return HPE_PAUSED; // stop here: anything after the response is not part of it
}

} // namespace ec::origin
