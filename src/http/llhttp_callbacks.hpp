// llhttp_callbacks: llhttp's C callbacks routed to a C++ object's member functions, written once.
#pragma once

#include <cstddef>

#include <llhttp.h>

namespace ec::http {

// The object a parser belongs to is in parser->data. For a member function `M` of that object,
// llhttp_event<M> (for `int M()`) and llhttp_data<M> (for `int M(const char* at, size_t len)`)
// are the captureless noexcept functions llhttp calls, e.g.
//     settings.on_body = llhttp_data<&Connection::on_body>;
// Members may be private: naming them happens where the settings are filled in. The member
// must not throw (no exception crosses llhttp) and returns what the callback returns: 0 to go
// on, -1 (or an HPE_* code) to stop, HPE_PAUSED to pause.
namespace detail {
template <class> struct LlhttpOwner;
template <class T, class... Args> struct LlhttpOwner<int (T::*)(Args...)> { using type = T; };
template <auto M> using LlhttpOwnerOf = typename LlhttpOwner<decltype(M)>::type;
} // namespace detail

template <auto M> int llhttp_event(llhttp_t* p) noexcept {
    return (static_cast<detail::LlhttpOwnerOf<M>*>(p->data)->*M)();
}

template <auto M> int llhttp_data(llhttp_t* p, const char* at, size_t len) noexcept {
    return (static_cast<detail::LlhttpOwnerOf<M>*>(p->data)->*M)(at, len);
}

} // namespace ec::http
