// Status and Result<T>: the error values the request path returns instead of throwing.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace ec {

// An error with a short machine-readable code ("key_too_long") and a sentence for humans.
// `http` is the status a client sees when the error reaches the API layer (0 = not an API error).
struct Error {
    int http = 500;
    std::string code;
    std::string message;
};

class [[nodiscard]] Status {
public:
    Status() = default;
    Status(Error e) : err_(std::move(e)), ok_(false) {}
    static Status ok() { return {}; }

    bool is_ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const { return err_; }

private:
    Error err_;
    bool ok_ = true;
};

template <class T> class [[nodiscard]] Result {
public:
    Result(T v) : v_(std::move(v)) {}
    Result(Error e) : v_(std::move(e)) {}

    bool is_ok() const { return v_.index() == 0; }
    explicit operator bool() const { return is_ok(); }
    T& value() { return std::get<0>(v_); }
    const T& value() const { return std::get<0>(v_); }
    T& operator*() { return value(); }
    T* operator->() { return &value(); }
    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

inline Error make_error(int http, std::string code, std::string message) {
    return Error{http, std::move(code), std::move(message)};
}

} // namespace ec
